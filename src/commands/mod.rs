//! Orchestration of each subcommand: resolve settings, call the stages, write files. Only this
//! layer opens and writes files.

pub mod backtest;
pub mod features;
pub mod generate;
pub mod recommend;
pub mod run;
pub mod score;
pub mod shard;
pub(crate) mod stages;
pub mod train;
pub mod validate;

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::clean::Cleaned;
use crate::config::Config;
use crate::error::Result;

/// Progress and timings go to stderr; results go to files or stdout.
pub(crate) fn progress(message: impl AsRef<str>) {
    stages::line(&format!("retain: {}", message.as_ref()));
}

/// Reads the co-purchase model saved in `dir` onto the products of `history`.
pub(crate) fn read_copurchase(
    dir: &std::path::Path,
    history: &crate::recommend::History,
) -> Result<(
    crate::recommend::CoPurchaseModel,
    crate::recommend::artifact::CoPurchaseMeta,
)> {
    use crate::recommend::artifact::{META_FILE, PAIRS_FILE, from_bytes};
    let (meta, meta_path) = crate::io::store::read(dir, META_FILE)?;
    let (pairs, pairs_path) = crate::io::store::read(dir, PAIRS_FILE)?;
    from_bytes((&meta, &meta_path), (&pairs, &pairs_path), history)
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

/// Reads and cleans the input (a file, directory or glob) as a stream into customer shards (see
/// [`crate::engine::ingest`]), reporting what happened on stderr: one shard in memory when the
/// input fits the memory budget, else as many as it needs (or as `--shards` says), spilled to
/// `--work-dir`, or beside `out` (the file or directory the command writes), or into the
/// system's temp directory.
pub(crate) fn load(
    path: &Path,
    config: &Config,
    keep_rejected: bool,
    out: Option<&Path>,
) -> Result<Cleaned> {
    Ok(load_visiting(path, config, keep_rejected, out, None)?.0)
}

/// [`load`], with each shard's cleaned lines handed to `visit` in place of keeping them (see
/// [`crate::engine::ingest::load`]).
pub(crate) fn load_visiting(
    path: &Path,
    config: &Config,
    keep_rejected: bool,
    out: Option<&Path>,
    visit: Option<crate::engine::ingest::Visit>,
) -> Result<(Cleaned, Vec<polars::prelude::DataFrame>)> {
    let started = Instant::now();
    let work_in = match (&config.engine.work_dir, out) {
        (Some(dir), _) => dir.clone(),
        (None, Some(out)) => crate::output::dir::parent_of(out),
        (None, None) => std::env::temp_dir(),
    };
    let held = crate::memory::hold_freed_pages();
    let (cleaned, visits) =
        crate::engine::ingest::load(path, config, keep_rejected, &work_in, visit)?;
    drop(held);
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
    Ok((cleaned, visits))
}
