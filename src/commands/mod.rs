//! Orchestration of each subcommand: resolve settings, call the stages, write files. Only this
//! layer opens and writes files.

pub mod backtest;
pub mod features;
pub mod generate;
pub mod recommend;
pub mod run;
pub mod score;
pub(crate) mod stages;
pub mod train;
pub mod validate;

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::clean::{self, Cleaned};
use crate::config::Config;
use crate::error::Result;
use crate::io::read;
use crate::schema::line;

/// Splits the lines into as many shards as the budget needs (see [`crate::engine::budget`]).
fn shard(tx: &mut clean::Transactions, config: &Config, out: Option<&Path>) -> Result<()> {
    let engine = &config.engine;
    let limit = engine
        .memory_limit_bytes()
        .map_err(crate::error::Error::Usage)?;
    // Sizes only: no copy of the table.
    let mut per_customer = vec![0u64; tx.customers.height()];
    let (mut lines, mut bytes) = (0u64, 0u64);
    tx.lines.each("line counts", |table| {
        crate::engine::count_lines_per_customer(table, &mut per_customer)?;
        lines += table.height() as u64;
        bytes += table.estimated_size() as u64;
        Ok(())
    })?;
    if lines == 0 {
        return Ok(());
    }
    let (largest, largest_lines) = per_customer
        .iter()
        .enumerate()
        .max_by_key(|&(i, n)| (*n, std::cmp::Reverse(i)))
        .map_or((0, 0), |(i, n)| (i, *n));
    let ids = tx.customers.column(line::CUSTOMER_ID)?.str()?.clone();
    let load = crate::engine::budget::Load {
        bytes,
        lines,
        largest_customer_lines: largest_lines,
    };
    let k = crate::engine::budget::shard_count(
        load,
        limit,
        engine.shards,
        ids.iter().nth(largest).flatten().unwrap_or_default(),
    )?;
    if k <= 1 {
        return Ok(());
    }
    let work_in = match (&engine.work_dir, out) {
        (Some(dir), _) => dir.clone(),
        (None, Some(out)) => crate::output::dir::parent_of(out),
        (None, None) => std::env::temp_dir(),
    };
    std::fs::create_dir_all(&work_in).map_err(crate::io::write::output_error(&work_in))?;
    let started = Instant::now();
    let lines = std::mem::replace(&mut tx.lines, crate::engine::Lines::one(Default::default()));
    tx.lines = lines.reshard(&ids, k, &work_in)?;
    progress(format!(
        "split {} lines ({} MiB) into {k} customer shards in {} (memory budget {}{}) ({:.2} s)",
        load.lines,
        load.bytes >> 20,
        work_in.display(),
        engine.memory_limit,
        if engine.shards.is_some() {
            ", --shards given"
        } else {
            ""
        },
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// Progress and timings go to stderr; results go to files or stdout.
pub(crate) fn progress(message: impl AsRef<str>) {
    stages::line(&format!("retain: {}", message.as_ref()));
}

/// Writes a report to stdout. A closed pipe (`retain validate ... | head`) is not an error.
pub(crate) fn print_stdout(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(crate::error::Error::Output {
            path: "<stdout>".into(),
            source: e,
        }),
        _ => Ok(()),
    }
}

/// The files a saved model set may hold in `dir` (every name [`train::save`] can write).
pub(crate) fn model_files_in(dir: &Path) -> Vec<PathBuf> {
    [
        crate::model::artifact::FILE_NAME,
        crate::recommend::artifact::META_FILE,
        crate::recommend::artifact::PAIRS_FILE,
        crate::io::store::SET_FILE,
    ]
    .into_iter()
    .map(|name| dir.join(name))
    .collect()
}

/// The files every reading command takes besides its input: the config file, if any.
pub(crate) fn settings_reads(args: &crate::cli::SettingsArgs) -> Vec<(&'static str, &Path)> {
    args.config
        .as_deref()
        .map(|path| ("--config", path))
        .into_iter()
        .collect()
}

/// Reads and cleans the input (a file, directory or glob), reporting what happened on stderr, and
/// splits its lines into customer shards when they need more than the memory budget (or when
/// `--shards` says so). Shards are spilled to `--work-dir`, or beside `out` (the file or
/// directory the command writes), or into the system's temp directory.
pub(crate) fn load(
    path: &Path,
    config: &Config,
    keep_rejected: bool,
    out: Option<&Path>,
) -> Result<Cleaned> {
    let started = Instant::now();
    let raw = read::load(path, config)?;
    let mut cleaned = clean::clean(
        raw,
        &config.columns,
        &config.cleaning,
        &config.input,
        keep_rejected,
    )?;
    crate::memory::release();
    let a = &cleaned.transactions.accounting;
    let files = cleaned.transactions.inputs.files.len();
    progress(format!(
        "read {} rows from {}{}: {} kept, {} rejected ({:.2} s)",
        a.rows_read,
        path.display(),
        if files > 1 {
            format!(" ({files} files)")
        } else {
            String::new()
        },
        a.rows_kept,
        a.rows_rejected,
        started.elapsed().as_secs_f64()
    ));
    for note in &cleaned.transactions.notes {
        progress(format!("note: {note}"));
    }
    shard(&mut cleaned.transactions, config, out)?;
    Ok(cleaned)
}
