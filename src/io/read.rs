//! Reads CSV, gzip CSV and Parquet transaction files into a table with canonical column names.
//!
//! Text stays text: CSV columns are read as strings and parsed by [`crate::clean`], so that a bad
//! value becomes a counted, reported rejection instead of a failed read or a silent null.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::schema::input;

/// The physical format of an input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Plain or compressed (gzip, zlib, zstd) delimited text with a header line.
    Csv,
    Parquet,
}

/// The input as read: canonical column names, values as the file holds them.
#[derive(Debug, Clone)]
pub struct RawInput {
    pub path: PathBuf,
    pub format: Format,
    /// Canonical columns that the file has and that hold at least one value.
    pub present: Vec<&'static str>,
    /// Canonical columns that exist in the file but are empty in every row (treated as missing).
    pub empty: Vec<&'static str>,
    pub table: DataFrame,
}

impl RawInput {
    pub fn has(&self, canonical: &str) -> bool {
        self.present.contains(&canonical)
    }
}

const REQUIRED: [&str; 2] = [input::CUSTOMER_ID, input::ORDER_DATE];

/// Detects the format from the first bytes (Parquet files start with `PAR1`).
fn sniff(path: &Path) -> Result<Format> {
    let meta = std::fs::metadata(path).map_err(|e| Error::input(path, describe_io(&e)))?;
    if meta.is_dir() {
        return Err(Error::input(
            path,
            "is a directory; expected a CSV, gzip CSV or Parquet file",
        ));
    }
    if meta.len() == 0 {
        return Err(Error::input(
            path,
            "file is empty; expected a header line and purchase rows",
        ));
    }
    let mut magic = [0u8; 4];
    let mut file = File::open(path).map_err(|e| Error::input(path, describe_io(&e)))?;
    let n = file
        .read(&mut magic)
        .map_err(|e| Error::input(path, describe_io(&e)))?;
    Ok(if n == 4 && &magic == b"PAR1" {
        Format::Parquet
    } else {
        Format::Csv
    })
}

fn describe_io(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Turns a polars read failure into an input error that names the file and says what it expected.
fn read_error(path: &Path, format: Format, e: PolarsError) -> Error {
    let text = e.to_string();
    let message = if text.contains("empty CSV") || text.contains("empty data") {
        "no header line: the file (after decompression) is empty".to_string()
    } else if text.contains("gzip")
        || text.contains("deflate")
        || text.contains("corrupt")
        || text.contains("decompress")
    {
        format!("cannot decompress (truncated or corrupt archive?): {text}")
    } else if text.contains("utf-8") || text.contains("utf8") {
        format!("not valid UTF-8 text: {text}")
    } else {
        match format {
            Format::Csv => format!("cannot read as CSV: {text}"),
            Format::Parquet => format!("cannot read as Parquet: {text}"),
        }
    };
    Error::input(path, message)
}

/// Reads `path` and selects the mapped columns under their canonical names.
pub fn load(path: &Path, config: &Config) -> Result<RawInput> {
    let format = sniff(path)?;
    let pl_path = PlRefPath::new(path.to_string_lossy().as_ref());
    let mut frame = match format {
        Format::Csv => {
            let separator = config.input.separator.as_bytes()[0];
            LazyCsvReader::new(pl_path)
                .with_has_header(true)
                .with_infer_schema_length(Some(0))
                .with_separator(separator)
                .with_glob(false)
                .finish()
        }
        Format::Parquet => {
            let args = ScanArgsParquet {
                glob: false,
                ..Default::default()
            };
            LazyFrame::scan_parquet(pl_path, args)
        }
    }
    .map_err(|e| read_error(path, format, e))?;
    let schema = frame
        .collect_schema()
        .map_err(|e| read_error(path, format, e))?;

    let mut selected = Vec::new();
    let mut present = Vec::new();
    for (canonical, user) in config.columns.pairs() {
        if schema.contains(user) {
            selected.push(col(user).alias(canonical));
            present.push(canonical);
        } else if REQUIRED.contains(&canonical) || user != canonical {
            // A required column, or one the user mapped explicitly, must exist.
            let found: Vec<&str> = schema.iter_names().map(|n| n.as_str()).collect();
            return Err(Error::InputData {
                location: crate::error::Location {
                    path: path.into(),
                    position: Some(crate::error::Position::Line(1)),
                    column: Some(user.to_string()),
                },
                message: format!(
                    "no column '{user}' for {canonical}; the file has columns [{}]; map yours with --col-{} NAME or [columns] {canonical} = \"NAME\" in the config",
                    found.join(", "),
                    canonical.replace('_', "-"),
                ),
            });
        }
    }
    let table = frame
        .select(selected)
        .collect()
        .map_err(|e| read_error(path, format, e))?;

    // A column that exists but holds nothing counts as missing (DESIGN.md, "Input").
    let mut empty = Vec::new();
    present.retain(|canonical| {
        let all_null = table
            .column(canonical)
            .map(|c| c.null_count() == table.height() && table.height() > 0)
            .unwrap_or(true);
        if all_null && !REQUIRED.contains(canonical) {
            empty.push(*canonical);
            false
        } else {
            true
        }
    });
    Ok(RawInput {
        path: path.into(),
        format,
        present,
        empty,
        table,
    })
}
