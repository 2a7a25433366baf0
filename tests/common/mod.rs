//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use polars::prelude::*;
use retain::clean::Transactions;
use retain::config::Config;

/// The repository root. `cargo test` sets `CARGO_MANIFEST_DIR` when it runs a test, too; that
/// value wins over the one compiled in, which is stale when a shared `CARGO_TARGET_DIR` holds a
/// build of a clone at another path (cargo keys a workspace member's build by relative path).
pub fn repo() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

pub fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures").join(name)
}

/// The real UCI Online Retail data shipped in the repository (`data/online_retail/`, CC BY 4.0),
/// so that a fresh clone runs the real-data tests alone.
pub fn online_retail(name: &str) -> PathBuf {
    repo().join("data/online_retail").join(name)
}

pub fn load(path: &Path, config: &Config) -> Transactions {
    let raw = retain::io::read::load(path, config).expect("readable input");
    retain::clean::clean(raw, &config.columns, &config.cleaning, &config.input, false)
        .expect("cleanable input")
        .transactions
}

pub fn f64_at(df: &DataFrame, column: &str, row: usize) -> Option<f64> {
    df.column(column)
        .unwrap()
        .cast(&DataType::Float64)
        .unwrap()
        .f64()
        .unwrap()
        .get(row)
}

pub fn str_at(df: &DataFrame, column: &str, row: usize) -> Option<String> {
    df.column(column)
        .unwrap()
        .cast(&DataType::String)
        .unwrap()
        .str()
        .unwrap()
        .get(row)
        .map(str::to_string)
}

/// The binary, with the environment a scheduler gives it: RUST_BACKTRACE (which makes retain
/// print the panics it catches) is not passed on from the developer's shell.
pub fn retain_bin() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_retain"));
    command.env_remove("RUST_BACKTRACE");
    command
}

/// Runs the binary with `args`.
pub fn run(args: &[&str]) -> std::process::Output {
    retain_bin().args(args).output().expect("the binary runs")
}

/// What the process wrote to stderr.
pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The process exited with `code`, did not panic, and said each of `needles` on stderr.
pub fn assert_exit(out: &std::process::Output, code: i32, needles: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    for needle in needles {
        assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
    }
}

/// Every file of `dir` by name, with its bytes.
pub fn files(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// Writes `chunks` of CSV lines under `header` into `dir` as `a.csv`, `b.csv.gz` (gzip) and
/// `c.csv`: one input in three files, one of them compressed.
pub fn write_three_files<S: AsRef<str>>(dir: &Path, header: &str, chunks: [&[S]; 3]) {
    for (name, chunk) in ["a.csv", "b.csv.gz", "c.csv"].into_iter().zip(chunks) {
        let lines: Vec<&str> = chunk.iter().map(AsRef::as_ref).collect();
        let text = format!("{header}\n{}\n", lines.join("\n"));
        let bytes = if name.ends_with(".gz") {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut gz, text.as_bytes()).unwrap();
            gz.finish().unwrap()
        } else {
            text.into_bytes()
        };
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}
