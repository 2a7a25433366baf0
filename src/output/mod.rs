//! The output directory of `score` and `run`: files written into a staging directory, a manifest
//! with their checksums, `_SUCCESS`, then one rename into place; `--dry-run` lists the same files
//! without writing anything.

pub mod crm;
pub mod csv;
pub mod dir;
pub mod parts;
pub mod report;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::Serialize;

use crate::clean::Accounting;
use crate::error::{Error, Result};
use crate::io::write::{self, TableFormat};
use crate::model::artifact::InputFingerprint;

pub use csv::Profile;
pub use dir::{FileRecord, MANIFEST, SUCCESS, Staging};

/// Bumped when a manifest key changes meaning or disappears.
pub const MANIFEST_FORMAT_VERSION: u32 = 1;

/// Everything the manifest says besides the file list.
#[derive(Debug, Clone, Serialize)]
pub struct ManifestHead {
    pub command: &'static str,
    pub as_of: String,
    pub horizon_days: u32,
    pub model_version: String,
    pub profile: &'static str,
    pub input: InputFingerprint,
    pub rows: Accounting,
    /// The engine that moved the data between retain's steps, when not retain alone (`spark`
    /// with its shard count); the only field in which such a run's manifest differs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine: Option<EngineInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign: Option<CampaignInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<crate::offers::Summary>,
    /// What the user should know about this run's results (also on stderr and in the report).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// The engine of a run made of `retain shard` steps.
#[derive(Debug, Clone, Serialize)]
pub struct EngineInfo {
    pub name: String,
    pub shards: usize,
}

/// The campaign settings, so that a run can be explained from its manifest alone.
#[derive(Debug, Clone, Serialize)]
pub struct CampaignInfo {
    pub id: String,
    pub offers_catalog: String,
    pub offers_catalog_sha256: String,
    pub control_share: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_total_cost: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_contacts: Option<usize>,
    /// The suppression list and what it matched in this input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppression: Option<crate::offers::suppression::SuppressionReport>,
}

#[derive(Serialize)]
struct Manifest<'a> {
    format_version: u32,
    retain_version: &'static str,
    #[serde(flatten)]
    head: &'a ManifestHead,
    files: &'a [FileRecord],
    /// Seconds per stage; only with `--timings` (they differ from run to run).
    #[serde(skip_serializing_if = "Option::is_none")]
    timings_s: Option<BTreeMap<String, f64>>,
}

/// Writes a table to `path` atomically: CSV in `profile` (rounded, text quoted, formula-safe),
/// gzip CSV formula-safe at full precision, Parquet as it is.
pub fn write_table(table: &DataFrame, path: &Path, profile: Profile) -> Result<()> {
    match TableFormat::from_path(path)? {
        TableFormat::Csv => csv::write(table, path, profile),
        TableFormat::CsvGz => write::write_table(&mut csv::formula_safe(table)?, path),
        TableFormat::Parquet => write::write_table(&mut table.clone(), path),
    }
}

/// The output directory being made, or (dry run) the list of what would be made.
#[derive(Debug)]
pub struct Output {
    target: PathBuf,
    profile: Profile,
    staging: Option<Staging>,
    planned: Vec<(String, Option<usize>)>,
}

impl Output {
    /// Starts an output directory at `target`; a dry run only checks that it may be replaced.
    pub fn begin(target: &Path, profile: Profile, dry_run: bool) -> Result<Output> {
        let staging = if dry_run {
            dir::check_target(target)?;
            None
        } else {
            Some(Staging::begin(target)?)
        };
        Ok(Output {
            target: target.to_path_buf(),
            profile,
            staging,
            planned: Vec::new(),
        })
    }

    pub fn is_dry_run(&self) -> bool {
        self.staging.is_none()
    }

    /// The directory files are being written into (`None` in a dry run).
    pub fn dir(&self) -> Option<PathBuf> {
        self.staging.as_ref().map(|s| s.path(""))
    }

    /// Records a file that another writer put into [`Output::dir`].
    pub fn record(&mut self, name: &str, rows: Option<usize>) {
        if let Some(staging) = &mut self.staging {
            staging.add(name, rows);
        }
        self.planned.push((name.to_string(), rows));
    }

    /// Writes a table; the format follows the name (CSV files in the output profile).
    pub fn table(&mut self, name: &str, table: &DataFrame) -> Result<()> {
        TableFormat::from_path(Path::new(name))?;
        if let Some(staging) = &self.staging {
            write_table(table, &staging.path(name), self.profile)?;
        }
        self.record(name, Some(table.height()));
        Ok(())
    }

    /// Starts a table file written part by part ([`parts::TableFile`]); [`Output::close`]
    /// records it.
    pub fn open(&self, name: &str) -> Result<parts::TableFile> {
        match &self.staging {
            Some(staging) => parts::TableFile::create(&staging.path(name), self.profile),
            None => parts::TableFile::counting(Path::new(name)),
        }
    }

    /// Finishes a table file begun with [`Output::open`] and records it.
    pub fn close(&mut self, name: &str, file: parts::TableFile) -> Result<()> {
        let rows = file.finish()?;
        self.record(name, Some(rows));
        Ok(())
    }

    /// Writes raw bytes (JSON, text).
    pub fn bytes(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        if let Some(staging) = &self.staging {
            let path = staging.path(name);
            write::write_atomic(&path, |out| write::write_bytes(out, bytes, &path))?;
        }
        self.record(name, None);
        Ok(())
    }

    /// Writes the manifest and `_SUCCESS` and puts the directory in place. A dry run instead
    /// returns the plan as text.
    pub fn finish(
        self,
        head: &ManifestHead,
        timings: Option<BTreeMap<String, f64>>,
    ) -> Result<Option<String>> {
        let Some(staging) = self.staging else {
            let mut plan = format!(
                "dry run: would {} {} with:\n",
                if self.target.exists() {
                    "replace"
                } else {
                    "create"
                },
                self.target.display()
            );
            for (name, rows) in &self.planned {
                match rows {
                    Some(n) => plan.push_str(&format!("  {name:<28} {n:>9} rows\n")),
                    None => plan.push_str(&format!("  {name}\n")),
                }
            }
            plan.push_str(&format!("  {MANIFEST}\n  {SUCCESS}\n"));
            return Ok(Some(plan));
        };
        let files = staging.records()?;
        let manifest = Manifest {
            format_version: MANIFEST_FORMAT_VERSION,
            retain_version: env!("CARGO_PKG_VERSION"),
            head,
            files: &files,
            timings_s: timings,
        };
        let mut bytes =
            serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Internal(e.to_string()))?;
        bytes.push(b'\n');
        staging.commit(&bytes)?;
        Ok(None)
    }
}
