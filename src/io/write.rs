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

fn temp_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    target.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

fn output_error(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Output {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `path` atomically: `fill` writes into a temporary file in the same directory, which is
/// flushed, synced and renamed over `path`. On any failure the temporary file is removed and
/// `path` is left as it was.
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
        fill(&mut writer)?;
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

/// Writes raw bytes (JSON, text) into an atomic writer.
pub fn write_bytes<W: Write>(out: &mut W, bytes: &[u8], path: &Path) -> Result<()> {
    out.write_all(bytes).map_err(output_error(path))
}

/// Serialises a table as CSV: RFC 4180 quoting, ISO 8601 dates, `.` decimals.
pub fn csv_bytes<W: Write>(table: &mut DataFrame, out: &mut W) -> Result<()> {
    CsvWriter::new(out)
        .include_header(true)
        .with_date_format(Some("%Y-%m-%d".into()))
        .with_datetime_format(Some("%Y-%m-%dT%H:%M:%S".into()))
        .finish(table)?;
    Ok(())
}

/// Writes a table to `path` as CSV, gzip CSV or Parquet (by its ending), atomically.
pub fn write_table(table: &mut DataFrame, path: &Path) -> Result<()> {
    let format = TableFormat::from_path(path)?;
    write_atomic(path, |out| {
        match format {
            TableFormat::Csv => csv_bytes(table, out)?,
            TableFormat::CsvGz => {
                let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
                csv_bytes(table, &mut gz)?;
                gz.finish().map_err(output_error(path))?;
            }
            TableFormat::Parquet => {
                ParquetWriter::new(out)
                    .with_compression(ParquetCompression::Zstd(None))
                    .finish(table)?;
            }
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
