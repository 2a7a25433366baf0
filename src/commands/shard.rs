//! `retain shard ...`: the steps of `retain run` as separate processes, for an engine that moves
//! the data between them (Apache Spark: `spark/retain_spark.py`). Each step reads and writes
//! files; the engine carries them between machines and runs the steps side by side:
//!
//! 1. `plan` (once): opens the input's files and checks their columns as `run` does, and fixes
//!    what every later step must agree on: the files, the columns some file has, the sample of
//!    order dates formats are judged on, the batch size and the shard count.
//! 2. `route` (once per input file): reads the file in batches with `run`'s rules and writes each
//!    batch's rows by customer shard (`rows-SHARD-FILE-BATCH.arrow`, rows numbered within the
//!    file), and what a check of whole columns needs (`evidence-FILE.json`).
//! 3. `finish` (once): adds up every file's evidence in input order and runs `run`'s checks on
//!    it (dates that read two ways, too many unreadable values: the same errors, naming the file
//!    and line); writes the shape: rows per file, columns, notes, date readings to flip.
//! 4. `clean` (once per shard): the shard's rows from every file, in input order, cleaned as
//!    `run` cleans a shard; writes its lines and partials (`shard-SHARD/`).
//! 5. `run` (once): merges the shards' partials as `run` does after cleaning, then trains,
//!    scores and writes the output directory with `run`'s own code (staged, then put in place).
//!
//! The files `run` writes do not depend on the shard count, the order of rows or how the input
//! is split, so this gives the same bytes as `retain run`; the manifest adds `engine`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::clean::{self, Cleaned, Reading, Shape, ShardSummary, reading::Evidence};
use crate::cli::{
    ShardCleanArgs, ShardFinishArgs, ShardPlanArgs, ShardRouteArgs, ShardRunArgs, ShardStep,
};
use crate::config::Config;
use crate::engine::{self, Lines, Stored, budget, ingest};
use crate::error::{Error, Result};
use crate::io::batches::{self, Scanned};
use crate::io::inputs::Inputs;
use crate::schema::{input, line};
use crate::settings;

const PLAN_VERSION: u32 = 1;

/// What every step agrees on; written by `plan`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    /// `--input` as given.
    pub input: PathBuf,
    pub files: Vec<PlanFile>,
    /// Canonical columns some file has.
    pub exists: Vec<String>,
    /// The first 1,000 order dates of the first batch with text dates, as a whole-input reading
    /// judges every batch's formats on them.
    pub date_sample: Option<Vec<String>>,
    pub batch_bytes: usize,
    pub shards: usize,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct PlanFile {
    pub path: PathBuf,
}

/// What `route` learnt of one file.
#[derive(Debug, Serialize, Deserialize)]
struct FileEvidence {
    file: usize,
    rows: u64,
    existing: Vec<String>,
    holding: Vec<String>,
    reading: Evidence,
    sha256: String,
    bytes: u64,
}

/// What `finish` found of the whole input; read by `clean` and `run`.
#[derive(Debug, Serialize, Deserialize)]
struct ShapeFile {
    rows: Vec<u64>,
    present: Vec<String>,
    empty: Vec<String>,
    notes: Vec<String>,
    date_flips: Vec<(u64, u64)>,
    checksums: Vec<(String, u64)>,
}

pub fn run(step: &ShardStep) -> Result<()> {
    match step {
        ShardStep::Plan(args) => plan(args),
        ShardStep::Route(args) => route(args),
        ShardStep::Finish(args) => finish(args),
        ShardStep::Clean(args) => clean_one(args),
        ShardStep::Run(args) => run_cleaned(args),
    }
}

/// Sentinel of the plan's scan: the date sample is found, stop reading.
const SAMPLE_FOUND: &str = "shard plan: date sample found";

fn plan(args: &ShardPlanArgs) -> Result<()> {
    let config = settings::resolve(&args.run.settings)?;
    let shards = config
        .engine
        .shards
        .ok_or_else(|| Error::Usage("retain shard plan needs --shards K".into()))?
        .clamp(1, budget::MAX_SHARDS);
    let limit = config.engine.memory_limit_bytes().map_err(Error::Usage)?;
    let opened = batches::open(&args.run.input, &config)?;
    let exists = batches::columns_of(&opened);
    let batch_bytes = ingest::batch_bytes(&opened, limit);
    let files = opened
        .iter()
        .map(|o| PlanFile {
            path: o.file.path.clone(),
        })
        .collect();
    // The sample comes from the first batch holding text dates, in input order; a file whose
    // first batch has typed dates (Parquet) has no text dates at all, so only its first batch
    // is read.
    let mut reading = Reading::new(&config.columns, &config.input, exists.clone(), false)?;
    let mut sample = None;
    for file in opened {
        let mut first = true;
        let scanned = batches::scan(&args.run.input, vec![file], batch_bytes, |batch, file| {
            let text = batch
                .table
                .column(input::ORDER_DATE)
                .is_ok_and(|c| c.dtype() == &polars::prelude::DataType::String);
            if !first && !text {
                return Err(Error::Internal(SAMPLE_FOUND.into()));
            }
            first = false;
            reading.read(&batch, file.file.format)?;
            sample = reading.date_sample()?;
            if sample.is_some() || !text {
                return Err(Error::Internal(SAMPLE_FOUND.into()));
            }
            Ok(())
        });
        match scanned {
            Ok(_) => {}
            Err(Error::Internal(m)) if m == SAMPLE_FOUND => {}
            Err(e) => return Err(e),
        }
        if sample.is_some() {
            break;
        }
    }
    let plan = Plan {
        format_version: PLAN_VERSION,
        input: args.run.input.clone(),
        files,
        exists: exists.iter().map(|c| c.to_string()).collect(),
        date_sample: sample,
        batch_bytes,
        shards,
    };
    write_json(&args.plan, &plan)
}

fn route(args: &ShardRouteArgs) -> Result<()> {
    let plan = read_plan(&args.plan)?;
    let config = settings::resolve(&args.run.settings)?;
    let planned = plan.files.get(args.file).ok_or_else(|| {
        Error::Usage(format!(
            "the plan has {} files: there is no file {}",
            plan.files.len(),
            args.file
        ))
    })?;
    let opened = batches::open_one(&plan.input, args.file, &config)?;
    if opened.file.path != planned.path {
        return Err(Error::Usage(format!(
            "{} changed since the plan: its file {} is {}, the plan's is {}",
            plan.input.display(),
            args.file,
            opened.file.path.display(),
            planned.path.display()
        )));
    }
    let exists = canonical_names(&plan.exists)?;
    let mut reading = Reading::new(&config.columns, &config.input, exists, false)?
        .with_date_sample(plan.date_sample.clone());
    std::fs::create_dir_all(&args.into).map_err(|e| engine::work_error(&args.into, &e))?;
    let k = plan.shards;
    let index = args.file;
    let mut batch_number = 0usize;
    let scanned = batches::scan(
        &plan.input,
        vec![opened],
        plan.batch_bytes,
        |batch, file| {
            let work = reading.read(&batch, file.file.format)?;
            let (grouped, starts) = ingest::group_by_shard(work, k)?;
            for s in 0..k {
                let len = starts[s + 1] - starts[s];
                if len == 0 {
                    continue;
                }
                let mut part = grouped.slice(starts[s] as i64, len);
                let name = format!("rows-{s:04}-{index:06}-{batch_number:06}.arrow");
                engine::spill(&mut part, &args.into.join(name))?;
            }
            batch_number += 1;
            Ok(())
        },
    )?;
    let (sha256, bytes) = scanned
        .inputs
        .checksums()?
        .pop()
        .ok_or_else(|| Error::Internal("no checksum".into()))?;
    let evidence = FileEvidence {
        file: index,
        rows: scanned.inputs.rows.iter().sum(),
        existing: scanned.existing.iter().map(|c| c.to_string()).collect(),
        holding: scanned.holding.iter().map(|c| c.to_string()).collect(),
        reading: reading.evidence(),
        sha256,
        bytes,
    };
    write_json(
        &args.into.join(format!("evidence-{index:06}.json")),
        &evidence,
    )
}

fn finish(args: &ShardFinishArgs) -> Result<()> {
    let plan = read_plan(&args.plan)?;
    let config = settings::resolve(&args.run.settings)?;
    let opened = open_planned(&plan, &config)?;
    let mut reading = Reading::new(
        &config.columns,
        &config.input,
        canonical_names(&plan.exists)?,
        false,
    )?;
    let mut files = Vec::with_capacity(opened.len());
    let mut checksums = Vec::with_capacity(opened.len());
    let mut offset = 0u64;
    for (i, file) in opened.into_iter().enumerate() {
        let path = args.evidence.join(format!("evidence-{i:06}.json"));
        let evidence: FileEvidence = read_json(&path)?;
        if evidence.file != i {
            return Err(Error::input(
                &path,
                format!("holds the evidence of file {}", evidence.file),
            ));
        }
        reading.absorb(evidence.reading, offset)?;
        offset += evidence.rows;
        files.push(Scanned {
            inputs: Inputs::single(file.file.clone(), evidence.rows),
            present: Vec::new(),
            empty: Vec::new(),
            existing: canonical_names(&evidence.existing)?,
            holding: canonical_names(&evidence.holding)?,
        });
        checksums.push((evidence.sha256, evidence.bytes));
    }
    let scanned = Scanned::merge(&plan.input, files);
    let (notes, date_flips) = reading.finish(&scanned.inputs, &scanned.present)?;
    let shape = ShapeFile {
        rows: scanned.inputs.rows.clone(),
        present: scanned.present.iter().map(|c| c.to_string()).collect(),
        empty: scanned.empty.iter().map(|c| c.to_string()).collect(),
        notes,
        date_flips,
        checksums,
    };
    write_json(&args.shape, &shape)
}

fn clean_one(args: &ShardCleanArgs) -> Result<()> {
    use polars::prelude::*;
    let plan = read_plan(&args.plan)?;
    let shape: ShapeFile = read_json(&args.shape)?;
    let config = settings::resolve(&args.run.settings)?;
    let mut starts = Vec::with_capacity(shape.rows.len());
    let mut next = 0u64;
    for rows in &shape.rows {
        starts.push(next);
        next += rows;
    }
    if plan.shards <= args.shard {
        return Err(Error::Usage(format!(
            "the plan has {} shards: there is no shard {}",
            plan.shards, args.shard
        )));
    }
    let prefix = format!("rows-{:04}-", args.shard);
    let mut names: Vec<String> = std::fs::read_dir(&args.rows)
        .map_err(|e| Error::input(&args.rows, e.to_string()))?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(&prefix) && name.ends_with(".arrow"))
        .collect();
    // File, then batch: the input's order.
    names.sort();
    let mut parts = Vec::with_capacity(names.len());
    for name in &names {
        let path = args.rows.join(name);
        let file: usize = name[prefix.len()..]
            .split('-')
            .next()
            .and_then(|f| f.parse().ok())
            .filter(|f| *f < starts.len())
            .ok_or_else(|| Error::input(&path, "not a file of `retain shard route`"))?;
        let mut part = engine::read_back(&path)?;
        // Rows were numbered within their file: number them within the input.
        let offset = starts[file] as IdxSize;
        let rows: IdxCa = part
            .column(line::ROW)?
            .idx()?
            .apply_values(|row| row + offset);
        part.with_column(rows.with_name(line::ROW.into()).into_column())?;
        parts.push(part);
    }
    let work = clean::stack_parsed(parts)?;
    let present = canonical_names(&shape.present)?;
    let empty = canonical_names(&shape.empty)?;
    let cleaned = clean::clean_shard(
        work,
        &Shape {
            present: &present,
            empty: &empty,
            rules: &config.cleaning,
            keep_rejected: false,
            date_flips: &shape.date_flips,
        },
    )?;
    let dir = args.into.join(format!("shard-{:04}", args.shard));
    std::fs::create_dir_all(&dir).map_err(|e| engine::work_error(&dir, &e))?;
    let mut lines = cleaned.lines;
    engine::spill(&mut lines, &dir.join("lines.arrow"))?;
    write_json(&dir.join("lines.json"), &lines.height())?;
    cleaned.summary.save(&dir)
}

fn run_cleaned(args: &ShardRunArgs) -> Result<()> {
    let plan = read_plan(&args.plan)?;
    let shape: ShapeFile = read_json(&args.shape)?;
    if args.run.input != plan.input {
        return Err(Error::Usage(format!(
            "--input {} is not the plan's input {}",
            args.run.input.display(),
            plan.input.display()
        )));
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&args.cleaned)
        .map_err(|e| Error::input(&args.cleaned, e.to_string()))?
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("shard-"))
        .map(|entry| entry.path())
        .collect();
    // Shards without rows have no directory; the output does not depend on the shard count.
    dirs.sort();
    let shards = plan.shards;
    let checksums = shape.checksums.clone();
    let load = move |config: &Config| -> Result<Cleaned> {
        let started = std::time::Instant::now();
        let opened = open_planned(&plan, config)?;
        let files = opened
            .into_iter()
            .zip(&shape.rows)
            .map(|(o, rows)| (o.file, *rows))
            .collect();
        let inputs = Inputs::new(plan.input.clone(), files);
        // Lines that fit the budget are held in memory, as `retain run` holds an input that
        // fits; larger ones are read back shard by shard from the cleaned files.
        let limit = config.engine.memory_limit_bytes().map_err(Error::Usage)?;
        let files: Vec<PathBuf> = dirs.iter().map(|d| d.join("lines.arrow")).collect();
        let bytes: u64 = files
            .iter()
            .map(|f| {
                std::fs::metadata(f)
                    .map(|m| m.len())
                    .unwrap_or(u64::MAX / 64)
            })
            .sum();
        let in_memory = bytes.saturating_mul(ingest::INGEST_FACTOR) <= limit;
        let mut summaries = Vec::with_capacity(dirs.len());
        let mut stored = Vec::with_capacity(dirs.len());
        for (dir, file) in dirs.iter().zip(files) {
            summaries.push((ShardSummary::load(dir)?, None));
            let height: usize = read_json(&dir.join("lines.json"))?;
            stored.push(if in_memory {
                Stored::Memory(engine::read_back(&file)?)
            } else {
                Stored::Spilled(file, height)
            });
        }
        let present = canonical_names(&shape.present)?;
        let empty = canonical_names(&shape.empty)?;
        let shape_of = Shape {
            present: &present,
            empty: &empty,
            rules: &config.cleaning,
            keep_rejected: false,
            date_flips: &shape.date_flips,
        };
        let (tx, recodes, _) = clean::assemble(inputs, &shape_of, shape.notes.clone(), summaries)?;
        let lines = Lines::from_stored(stored, recodes, None)?;
        let a = &tx.accounting;
        super::progress(format!(
            "merged {} cleaned shards ({}) of {} rows from {}: {} kept, {} rejected ({:.2} s)",
            dirs.len(),
            if in_memory {
                "in memory"
            } else {
                "read back from disk"
            },
            a.rows_read,
            plan.input.display(),
            a.rows_kept,
            a.rows_rejected,
            started.elapsed().as_secs_f64()
        ));
        for note in &tx.notes {
            super::progress(format!("note: {note}"));
        }
        Ok(Cleaned {
            transactions: tx.with_lines(lines),
            rejected: None,
        })
    };
    super::run::run_from(
        &args.run,
        super::run::Source::Cleaned(
            Box::new(load),
            checksums,
            crate::output::EngineInfo {
                name: args.engine.clone(),
                shards,
            },
        ),
    )
}

/// The input's files, opened and checked against the plan's.
fn open_planned(plan: &Plan, config: &Config) -> Result<Vec<batches::Opened>> {
    let opened = batches::open(&plan.input, config)?;
    let same = opened.len() == plan.files.len()
        && opened
            .iter()
            .zip(&plan.files)
            .all(|(o, p)| o.file.path == p.path);
    if !same {
        return Err(Error::Usage(format!(
            "{} changed since the plan (its files are not the plan's)",
            plan.input.display()
        )));
    }
    Ok(opened)
}

fn canonical_names(names: &[String]) -> Result<Vec<&'static str>> {
    names
        .iter()
        .map(|name| {
            input::ALL.into_iter().find(|c| c == name).ok_or_else(|| {
                Error::Usage(format!("a shard file names an unknown column '{name}'"))
            })
        })
        .collect()
}

fn read_plan(path: &Path) -> Result<Plan> {
    let plan: Plan = read_json(path)?;
    if plan.format_version != PLAN_VERSION {
        return Err(Error::input(
            path,
            format!(
                "a plan of format {}; this retain reads format {PLAN_VERSION} (make the plan with this retain)",
                plan.format_version
            ),
        ));
    }
    Ok(plan)
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read(path).map_err(|e| Error::input(path, e.to_string()))?;
    serde_json::from_slice(&text)
        .map_err(|e| Error::input(path, format!("not a shard file of this retain: {e}")))
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut text = serde_json::to_vec_pretty(value).map_err(|e| Error::Internal(e.to_string()))?;
    text.push(b'\n');
    crate::io::write::write_atomic(path, |out| crate::io::write::write_bytes(out, &text, path))
}
