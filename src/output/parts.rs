//! A table file written part by part, so that a table of millions of customers never has to be
//! held whole: each part (a table of the same columns) is appended as it is made, and the file is
//! put in place when the last one is in.
//!
//! The bytes do not depend on how the rows were cut into parts: CSV rows are written one after
//! another (the header before the first part), and Parquet row groups are always
//! [`ROW_GROUP_ROWS`] rows (the last one fewer), as polars' own writer cuts a whole table.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use polars::io::parquet::write::BatchedWriter;
use polars::prelude::*;

use super::csv::{self, Profile};
use crate::error::{Error, Result};
use crate::io::write::{Blocks, TableFormat, as_output_error, output_error, temp_path};

/// Rows per Parquet row group: polars' default for a table written whole.
pub const ROW_GROUP_ROWS: usize = 512 * 512;

/// The file under a Parquet writer, shared so that it can be flushed and synced once the
/// writer is done, and keeping the first I/O error met: polars' Parquet writer reports a full
/// disk as a format error without the cause, and the cause is what the user needs.
struct Shared {
    out: BufWriter<File>,
    error: Option<std::io::Error>,
}

#[derive(Clone)]
struct Kept(Arc<Mutex<Shared>>);

impl Kept {
    fn with<T>(
        &self,
        f: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<T>,
    ) -> std::io::Result<T> {
        let mut shared = self
            .0
            .lock()
            .map_err(|_| std::io::Error::other("the Parquet writer's file was poisoned"))?;
        let result = f(&mut shared.out);
        if let Err(e) = &result
            && shared.error.is_none()
        {
            shared.error = Some(std::io::Error::new(e.kind(), e.to_string()));
        }
        result
    }

    /// The I/O error met, if any.
    fn error(&self) -> Option<std::io::Error> {
        self.0.lock().ok().and_then(|mut s| s.error.take())
    }
}

impl Write for Kept {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.with(|out| out.write(buf))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.with(|out| out.flush())
    }
}

// One per file being written: its size does not matter.
#[allow(clippy::large_enum_variant)]
enum Sink {
    /// CSV in the output profile: rounded, formula-safe.
    Csv(BufWriter<File>, Profile),
    /// gzip CSV: formula-safe, full precision.
    CsvGz(Blocks<flate2::write::GzEncoder<BufWriter<File>>>),
    /// Parquet: the writer is made with the first part's schema; rows wait in `pending` until a
    /// row group is full.
    Parquet {
        file: Kept,
        writer: Option<BatchedWriter<Kept>>,
        pending: Option<DataFrame>,
    },
}

/// A table file being written part by part into a temporary file beside its target; see the
/// module documentation. Dropped before [`TableFile::finish`], the temporary file is removed.
pub struct TableFile {
    target: PathBuf,
    temp: PathBuf,
    /// `None` when only counting rows (a dry run).
    sink: Option<Sink>,
    rows: usize,
    parts: usize,
}

impl TableFile {
    /// Starts writing `target` (the format follows its name; CSV in `profile`).
    pub fn create(target: &Path, profile: Profile) -> Result<TableFile> {
        let format = TableFormat::from_path(target)?;
        if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(output_error(dir))?;
        }
        let temp = temp_path(target);
        let file = BufWriter::new(File::create(&temp).map_err(output_error(&temp))?);
        let sink = match format {
            TableFormat::Csv => Sink::Csv(file, profile),
            TableFormat::CsvGz => Sink::CsvGz(Blocks::new(flate2::write::GzEncoder::new(
                file,
                flate2::Compression::default(),
            ))),
            TableFormat::Parquet => Sink::Parquet {
                file: Kept(Arc::new(Mutex::new(Shared {
                    out: file,
                    error: None,
                }))),
                writer: None,
                pending: None,
            },
        };
        Ok(TableFile {
            target: target.to_path_buf(),
            temp,
            sink: Some(sink),
            rows: 0,
            parts: 0,
        })
    }

    /// A file that is only counted, not written (a dry run).
    pub fn counting(target: &Path) -> Result<TableFile> {
        TableFormat::from_path(target)?;
        Ok(TableFile {
            target: target.to_path_buf(),
            temp: PathBuf::new(),
            sink: None,
            rows: 0,
            parts: 0,
        })
    }

    /// Rows appended so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Appends the rows of `part` (the same columns as every other part).
    pub fn append(&mut self, part: &DataFrame) -> Result<()> {
        let first = self.parts == 0;
        self.parts += 1;
        self.rows += part.height();
        let target = self.target.clone();
        let written = match &mut self.sink {
            None => Ok(()),
            Some(Sink::Csv(out, profile)) => {
                let mut part = csv::formula_safe(&csv::rounded(part)?)?;
                csv::part_to_writer(&mut part, out, *profile, first)
            }
            Some(Sink::CsvGz(out)) => {
                let mut part = csv::formula_safe(part)?;
                crate::io::write::csv_part_bytes(&mut part, out, first)
            }
            Some(Sink::Parquet {
                file,
                writer,
                pending,
            }) => {
                let pending_rows = match pending.as_mut() {
                    Some(rows) => {
                        rows.vstack_mut(part)?;
                        rows
                    }
                    None => pending.insert(part.clone()),
                };
                let result = (|| {
                    if writer.is_none() {
                        *writer = Some(
                            ParquetWriter::new(file.clone())
                                .with_compression(ParquetCompression::Zstd(None))
                                .batched(part.schema())?,
                        );
                    }
                    while pending_rows.height() >= ROW_GROUP_ROWS {
                        let rest = pending_rows.slice(
                            ROW_GROUP_ROWS as i64,
                            pending_rows.height() - ROW_GROUP_ROWS,
                        );
                        let mut group = pending_rows.slice(0, ROW_GROUP_ROWS);
                        group.rechunk_mut_par();
                        if let Some(w) = writer.as_mut() {
                            w.write_batch(&group)?;
                        }
                        *pending_rows = rest;
                    }
                    Ok(())
                })();
                result.map_err(|e| parquet_error(&target, file, e))
            }
        };
        written.map_err(|e| as_output_error(&self.target, e))
    }

    /// Writes what is left, and puts the file in place (synced). Returns its rows.
    pub fn finish(mut self) -> Result<usize> {
        let target = self.target.clone();
        let mut out = match self.sink.take() {
            None => return Ok(self.rows),
            Some(Sink::Csv(out, _)) => out,
            Some(Sink::CsvGz(gz)) => gz
                .finish()
                .and_then(flate2::write::GzEncoder::finish)
                .map_err(output_error(&target))?,
            Some(Sink::Parquet {
                file,
                writer,
                pending,
            }) => {
                let result = (|| -> Result<()> {
                    let Some(mut w) = writer else {
                        return Ok(());
                    };
                    if let Some(mut rest) = pending.filter(|p| p.height() > 0) {
                        rest.rechunk_mut_par();
                        w.write_batch(&rest)?;
                    }
                    w.finish()?;
                    Ok(())
                })();
                result.map_err(|e| parquet_error(&target, &file, e))?;
                let shared = Arc::try_unwrap(file.0)
                    .map_err(|_| Error::Internal("the Parquet writer kept its file".into()))?;
                shared
                    .into_inner()
                    .map_err(|_| Error::Internal("the Parquet writer's file was poisoned".into()))?
                    .out
            }
        };
        out.flush().map_err(output_error(&self.temp))?;
        let file = out
            .into_inner()
            .map_err(|e| output_error(&self.temp)(e.into_error()))?;
        file.sync_all().map_err(output_error(&self.temp))?;
        std::fs::rename(&self.temp, &self.target).map_err(output_error(&self.target))?;
        self.temp = PathBuf::new();
        Ok(self.rows)
    }
}

impl Drop for TableFile {
    fn drop(&mut self) {
        if !self.temp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// The I/O error the Parquet writer met, if it met one, naming the file; else `e` as it is.
fn parquet_error(path: &Path, file: &Kept, e: Error) -> Error {
    match file.error() {
        Some(source) => Error::Output {
            path: path.to_path_buf(),
            source,
        },
        None => e,
    }
}

/// Parts of `n` rows of at most `size` each, in order; one empty part when `n` is 0, so that a
/// file of no rows still gets its header.
pub fn ranges(n: usize, size: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    let size = size.max(1);
    let count = n.div_ceil(size).max(1);
    (0..count).map(move |i| (i * size).min(n)..((i + 1) * size).min(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(from: i64, n: usize) -> DataFrame {
        let ids: Vec<String> = (0..n as i64).map(|i| format!("={}", from + i)).collect();
        let x: Vec<f64> = (0..n as i64).map(|i| (from + i) as f64 / 3.0).collect();
        df!("customer_id" => ids, "x" => x).unwrap()
    }

    fn written(name: &str, cuts: &[usize], n: usize) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        let mut file = TableFile::create(&path, Profile::ExcelDe).unwrap();
        let mut start = 0;
        for &end in cuts.iter().chain([n].iter()) {
            file.append(&table(start as i64, end - start)).unwrap();
            start = end;
        }
        assert_eq!(file.finish().unwrap(), n);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        std::fs::read(&path).unwrap()
    }

    fn whole(name: &str, n: usize) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        crate::output::write_table(&table(0, n), &path, Profile::ExcelDe).unwrap();
        std::fs::read(&path).unwrap()
    }

    #[test]
    fn a_file_has_the_same_bytes_however_its_rows_are_cut_into_parts() {
        let n = ROW_GROUP_ROWS + 1000;
        for name in ["t.csv", "t.csv.gz", "t.parquet"] {
            let one = written(name, &[], n);
            assert!(
                written(name, &[0, 7, 65_536, ROW_GROUP_ROWS + 3], n) == one,
                "{name}: five parts"
            );
            assert!(
                written(name, &[ROW_GROUP_ROWS], n) == one,
                "{name}: two parts"
            );
        }
        // CSV files are also the table written whole.
        for name in ["t.csv", "t.csv.gz"] {
            assert!(written(name, &[], n) == whole(name, n), "{name}: whole");
        }
        // And a table of one row group is the one polars writes whole.
        for name in ["t.csv", "t.csv.gz", "t.parquet"] {
            assert!(
                written(name, &[10, 2000], 5000) == whole(name, 5000),
                "{name}"
            );
        }
    }

    #[test]
    fn an_unfinished_file_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        let mut file = TableFile::create(&path, Profile::Crm).unwrap();
        file.append(&table(0, 10)).unwrap();
        drop(file);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn ranges_cover_every_row_once_and_give_an_empty_table_one_part() {
        assert_eq!(ranges(0, 4).collect::<Vec<_>>(), vec![0..0]);
        assert_eq!(ranges(9, 4).collect::<Vec<_>>(), [0..4, 4..8, 8..9]);
        assert_eq!(ranges(8, 4).collect::<Vec<_>>(), [0..4, 4..8]);
    }
}
