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

/// Reads and cleans one input file, reporting what happened on stderr.
pub(crate) fn load(path: &Path, config: &Config, keep_rejected: bool) -> Result<Cleaned> {
    let started = Instant::now();
    let raw = read::load(path, config)?;
    let cleaned = clean::clean(
        raw,
        &config.columns,
        &config.cleaning,
        &config.input,
        keep_rejected,
    )?;
    crate::memory::release();
    let a = &cleaned.transactions.accounting;
    progress(format!(
        "read {} rows from {}: {} kept, {} rejected ({:.2} s)",
        a.rows_read,
        path.display(),
        a.rows_kept,
        a.rows_rejected,
        started.elapsed().as_secs_f64()
    ));
    for note in &cleaned.transactions.notes {
        progress(format!("note: {note}"));
    }
    Ok(cleaned)
}
