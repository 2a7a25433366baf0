//! Atomic file output: bytes go to a temporary file beside the target, which is renamed into place.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::error::{Error, Result};

/// Table file formats retain writes, chosen by the file name's ending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    Csv,
    /// gzip-compressed CSV.
    CsvGz,
    Parquet,
}

impl TableFormat {
    pub fn from_path(path: &Path) -> Result<TableFormat> {
        let name = path.to_string_lossy().to_ascii_lowercase();
        if name.ends_with(".parquet") || name.ends_with(".pq") {
            Ok(TableFormat::Parquet)
        } else if name.ends_with(".csv") {
            Ok(TableFormat::Csv)
        } else if name.ends_with(".csv.gz") {
            Ok(TableFormat::CsvGz)
        } else {
            Err(Error::Usage(format!(
                "cannot tell the format of '{}': use a name ending in .csv, .csv.gz or .parquet",
                path.display()
            )))
        }
    }
}

pub(crate) fn temp_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    target.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Maps an I/O error on `path` to [`Error::Output`] (exit 6).
pub(crate) fn output_error(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Output {
        path: path.to_path_buf(),
        source,
    }
}

/// The operating system's error inside a polars error (a full disk, a closed pipe), if it is one.
fn io_error_in(e: &PolarsError) -> Option<std::io::Error> {
    match e {
        PolarsError::IO { error, .. } => Some(std::io::Error::new(error.kind(), error.to_string())),
        PolarsError::Context { error, .. } => io_error_in(error),
        _ => None,
    }
}

/// A failure to write `path`: an I/O error met by polars' writers (a full disk) is an output
/// error naming the file (exit 6), like one met by retain's own writer.
pub(crate) fn as_output_error(path: &Path, e: Error) -> Error {
    match e {
        Error::Polars(ref p) => match io_error_in(p) {
            Some(source) => Error::Output {
                path: path.to_path_buf(),
                source,
            },
            None => e,
        },
        other => other,
    }
}

/// Writes `path` atomically: `fill` writes into a temporary file in the same directory, which is
/// flushed, synced and renamed over `path`. On any failure the temporary file is removed and
/// `path` is left as it was; an I/O failure is an [`Error::Output`] naming `path`.
pub fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> Result<()>,
) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(output_error(dir))?;
    }
    let temp = temp_path(path);
    let result = (|| {
        let file = File::create(&temp).map_err(output_error(&temp))?;
        let mut writer = BufWriter::new(file);
        fill(&mut writer).map_err(|e| as_output_error(path, e))?;
        writer.flush().map_err(output_error(&temp))?;
        let file = writer
            .into_inner()
            .map_err(|e| output_error(&temp)(e.into_error()))?;
        file.sync_all().map_err(output_error(&temp))?;
        std::fs::rename(&temp, path).map_err(output_error(path))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// Bytes handed to a gzip encoder at a time by [`Blocks`].
const BLOCK_BYTES: usize = 1 << 20;

/// Hands `inner` its bytes in blocks of exactly [`BLOCK_BYTES`] (the last one fewer), and
/// ignores `flush`: the gzip encoder's output depends on how its input was cut into writes and on
/// flushes (polars' CSV writer flushes after every table), and a file must have the same bytes
/// however its rows were cut into parts.
pub(crate) struct Blocks<W: Write> {
    inner: W,
    buffer: Vec<u8>,
}

impl<W: Write> Blocks<W> {
    pub(crate) fn new(inner: W) -> Blocks<W> {
        Blocks {
            inner,
            buffer: Vec::with_capacity(BLOCK_BYTES),
        }
    }

    /// Hands over the last block; returns the writer.
    pub(crate) fn finish(mut self) -> std::io::Result<W> {
        self.inner.write_all(&self.buffer)?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for Blocks<W> {
    fn write(&mut self, mut data: &[u8]) -> std::io::Result<usize> {
        let n = data.len();
        while !data.is_empty() {
            let take = (BLOCK_BYTES - self.buffer.len()).min(data.len());
            self.buffer.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buffer.len() == BLOCK_BYTES {
                self.inner.write_all(&self.buffer)?;
                self.buffer.clear();
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes raw bytes (JSON, text) into an atomic writer.
pub fn write_bytes<W: Write>(out: &mut W, bytes: &[u8], path: &Path) -> Result<()> {
    out.write_all(bytes).map_err(output_error(path))
}

/// Serialises a table as CSV: RFC 4180 quoting, ISO 8601 dates, `.` decimals.
pub fn csv_bytes<W: Write>(table: &mut DataFrame, out: &mut W) -> Result<()> {
    csv_part_bytes(table, out, true)
}

/// [`csv_bytes`] for one part of a table written in parts: the header only before the first.
pub fn csv_part_bytes<W: Write>(table: &mut DataFrame, out: &mut W, first: bool) -> Result<()> {
    CsvWriter::new(out)
        .include_header(first)
        .with_date_format(Some("%Y-%m-%d".into()))
        .with_datetime_format(Some("%Y-%m-%dT%H:%M:%S".into()))
        .finish(table)?;
    Ok(())
}

/// A table as Parquet bytes (zstd). Serialised in memory and written by retain's own writer: the
/// Parquet writer reports a full disk as a format error, without the file or the cause.
pub fn parquet_bytes(table: &mut DataFrame) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    ParquetWriter::new(&mut bytes)
        .with_compression(ParquetCompression::Zstd(None))
        .finish(table)?;
    Ok(bytes)
}

/// Writes a table to `path` as CSV, gzip CSV or Parquet (by its ending), atomically.
pub fn write_table(table: &mut DataFrame, path: &Path) -> Result<()> {
    let format = TableFormat::from_path(path)?;
    write_atomic(path, |out| {
        match format {
            TableFormat::Csv => csv_bytes(table, out)?,
            TableFormat::CsvGz => {
                let mut gz = Blocks::new(flate2::write::GzEncoder::new(
                    out,
                    flate2::Compression::default(),
                ));
                csv_bytes(table, &mut gz)?;
                gz.finish()
                    .and_then(flate2::write::GzEncoder::finish)
                    .map_err(output_error(path))?;
            }
            TableFormat::Parquet => write_bytes(out, &parquet_bytes(table)?, path)?,
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_write_leaves_previous_file_and_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv");
        std::fs::write(&path, "old").unwrap();
        let err = write_atomic(&path, |out| {
            out.write_all(b"partial").unwrap();
            Err(Error::Internal("simulated failure".into()))
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// A full disk met by polars' CSV writer, or by the bytes of a Parquet file: exit 6 naming the
    /// file, not "internal error in the table engine" (exit 1). `/dev/full` answers every write
    /// with ENOSPC.
    #[cfg(target_os = "linux")]
    #[test]
    fn full_disk_is_an_output_error_naming_the_file() {
        let path = Path::new("out/scores.csv");
        let mut table = df!("customer_id" => ["a"; 20_000], "p" => [0.5; 20_000]).unwrap();
        let parquet = parquet_bytes(&mut table).unwrap();
        for as_parquet in [false, true] {
            let full = File::options().write(true).open("/dev/full").unwrap();
            let mut writer = BufWriter::with_capacity(0, full);
            let failed = if as_parquet {
                write_bytes(&mut writer, &parquet, path)
            } else {
                csv_bytes(&mut table, &mut writer)
            };
            let err = as_output_error(path, failed.unwrap_err());
            assert_eq!(err.exit_code(), crate::error::ExitCode::Output, "{err}");
            let text = err.to_string();
            assert!(text.contains("out/scores.csv"), "{text}");
            assert!(text.contains("No space left on device"), "{text}");
        }
    }

    #[test]
    fn format_follows_the_file_name() {
        assert_eq!(
            TableFormat::from_path(Path::new("x/f.PARQUET")).unwrap(),
            TableFormat::Parquet
        );
        assert_eq!(
            TableFormat::from_path(Path::new("f.csv")).unwrap(),
            TableFormat::Csv
        );
        assert!(TableFormat::from_path(Path::new("f.xlsx")).is_err());
    }
}
