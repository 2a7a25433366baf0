//! How the line table is held while the stages run: as one table in memory, or split by a stable
//! hash of the customer id into shards, spilled to a work directory and read back one at a time.
//!
//! Every stage that reads lines works shard by shard and returns per-customer rows or partials
//! that merge in any order (counts, exact sums, minima, disjoint per-customer entries), so the
//! files a run writes are the same for any shard count. A customer's lines are all in one shard.
//! Customer, order and product codes are those of the whole input (see [`crate::clean::encode`]):
//! a shard's lines index the same dictionaries.

pub mod budget;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use polars::prelude::*;

use crate::error::{Error, Result};
use crate::schema::line;

/// Spark's `xxhash64` seed: `pmod(xxhash64(customer_id), K)` in Spark SQL is this shard.
const SPARK_XXHASH64_SEED: u64 = 42;

/// The shard (of `shards`) that holds the customer `id`: XXH64 with seed 42 of the id's UTF-8
/// bytes, read as a signed 64-bit number, modulo `shards` (non-negative), as Spark SQL computes
/// `pmod(xxhash64(customer_id), shards)`.
pub fn shard_of(id: &str, shards: usize) -> usize {
    let hash = xxhash_rust::xxh64::xxh64(id.as_bytes(), SPARK_XXHASH64_SEED) as i64;
    hash.rem_euclid(shards.max(1) as i64) as usize
}

#[derive(Debug)]
enum Shard {
    Memory(DataFrame),
    /// A Parquet file in the work directory, with its line count.
    Spilled(PathBuf, usize),
}

/// The line table (columns in [`crate::schema::line`]), whole or in shards.
#[derive(Debug, Clone)]
pub struct Lines {
    shards: Arc<Vec<Shard>>,
    /// The work directory holding spilled shards: removed when the last clone is dropped, on
    /// every way out of a command.
    _work: Option<Arc<tempfile::TempDir>>,
}

impl Lines {
    /// The whole table as one shard in memory.
    pub fn one(table: DataFrame) -> Lines {
        Lines {
            shards: Arc::new(vec![Shard::Memory(table)]),
            _work: None,
        }
    }

    /// The lines in `k` shards by the shard of each line's customer (`customer_ids`, by
    /// customer code), spilled into a new work directory in `work_in` when `k > 1`. Each shard
    /// keeps the lines in table order.
    pub fn reshard(self, customer_ids: &StringChunked, k: usize, work_in: &Path) -> Result<Lines> {
        if k <= 1 && self.shard_count() == 1 {
            return Ok(self);
        }
        let table = match Arc::try_unwrap(self.shards) {
            Ok(mut shards) if shards.len() == 1 => match shards.pop() {
                Some(Shard::Memory(table)) => table,
                _ => unreachable!("one shard"),
            },
            Ok(shards) => Lines {
                shards: Arc::new(shards),
                _work: self._work,
            }
            .whole()?,
            Err(shards) => Lines {
                shards,
                _work: self._work,
            }
            .whole()?,
        };
        Lines::split(table, customer_ids, k, work_in)
    }

    /// Splits `table` as [`Lines::reshard`] does.
    pub fn split(
        table: DataFrame,
        customer_ids: &StringChunked,
        k: usize,
        work_in: &Path,
    ) -> Result<Lines> {
        if k <= 1 {
            return Ok(Lines::one(table));
        }
        remove_stale(work_in);
        let work = tempfile::Builder::new()
            .prefix(&format!("{WORK_PREFIX}{}-", std::process::id()))
            .tempdir_in(work_in)
            .map_err(|e| work_error(work_in, &e))?;
        let of_customer: Vec<u32> = customer_ids
            .iter()
            .map(|id| shard_of(id.unwrap_or_default(), k) as u32)
            .collect();
        let shard: UInt32Chunked = table
            .column(line::CUSTOMER_IX)?
            .u32()?
            .iter()
            .map(|c| c.map(|c| of_customer[c as usize]))
            .collect();
        let mut shards = Vec::with_capacity(k);
        for s in 0..k as u32 {
            let mask = shard.equal(s);
            let mut part = table.filter(&mask)?;
            let path = work.path().join(format!("shard-{s:04}.parquet"));
            let height = part.height();
            spill(&mut part, &path)?;
            shards.push(Shard::Spilled(path, height));
        }
        drop(table);
        crate::memory::release();
        Ok(Lines {
            shards: Arc::new(shards),
            _work: Some(Arc::new(work)),
        })
    }

    /// Number of shards.
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// Lines in all shards.
    pub fn height(&self) -> usize {
        self.shards
            .iter()
            .map(|s| match s {
                Shard::Memory(t) => t.height(),
                Shard::Spilled(_, h) => *h,
            })
            .sum()
    }

    /// Runs `f` on each shard in turn (one spilled shard in memory at a time), in shard order;
    /// `pass` names the work in progress messages.
    pub fn each<T>(
        &self,
        pass: &'static str,
        mut f: impl FnMut(&DataFrame) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut progress = crate::progress::Pass::start(pass, self.shards.len(), self.height());
        let mut out = Vec::with_capacity(self.shards.len());
        for (i, shard) in self.shards.iter().enumerate() {
            let height = match shard {
                Shard::Memory(table) => {
                    out.push(f(table)?);
                    table.height()
                }
                Shard::Spilled(path, height) => {
                    let table = read_back(path)?;
                    out.push(f(&table)?);
                    drop(table);
                    crate::memory::release();
                    *height
                }
            };
            if let Some(p) = progress.as_mut() {
                p.shard_done(i, height);
            }
        }
        Ok(out)
    }

    /// `f` on each shard's lines as a lazy query, its results stacked in one table.
    pub fn stacked(
        &self,
        pass: &'static str,
        f: impl Fn(LazyFrame) -> LazyFrame,
    ) -> Result<DataFrame> {
        let parts = self.each(pass, |table| Ok(f(table.clone().lazy()).collect()?))?;
        stack(parts)
    }

    /// The whole table (all shards stacked): for small inputs and tests.
    pub fn whole(&self) -> Result<DataFrame> {
        self.stacked("whole table", |lines| lines)
    }
}

/// Tables of the same columns one after the other.
pub fn stack(parts: Vec<DataFrame>) -> Result<DataFrame> {
    let mut parts = parts.into_iter();
    let Some(mut all) = parts.next() else {
        return Ok(DataFrame::empty());
    };
    for part in parts {
        all.vstack_mut_owned(part)?;
    }
    all.rechunk_mut_par();
    Ok(all)
}

/// Work directories are named so, then the process id: one left by a killed run (its process
/// gone) is removed by the next run that spills into the same directory.
pub const WORK_PREFIX: &str = ".retain-work-";

fn work_error(path: &Path, e: &std::io::Error) -> Error {
    Error::Output {
        path: path.to_path_buf(),
        source: std::io::Error::new(
            e.kind(),
            format!("cannot write shards to the work directory (--work-dir chooses it): {e}"),
        ),
    }
}

fn spill(part: &mut DataFrame, path: &Path) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| work_error(path, &e))?;
    let mut writer = std::io::BufWriter::new(file);
    ParquetWriter::new(&mut writer)
        .with_compression(ParquetCompression::Uncompressed)
        .finish(part)
        .map_err(|e| match e {
            PolarsError::IO { error, .. } => work_error(path, &error),
            other => work_error(path, &std::io::Error::other(other.to_string())),
        })?;
    let file = writer
        .into_inner()
        .map_err(|e| work_error(path, e.error()))?;
    file.sync_data().map_err(|e| work_error(path, &e))?;
    Ok(())
}

fn read_back(path: &Path) -> Result<DataFrame> {
    let file = std::fs::File::open(path).map_err(|e| work_error(path, &e))?;
    Ok(ParquetReader::new(file).finish()?)
}

/// Removes the work directories in `dir` of runs that were killed (named [`WORK_PREFIX`], the
/// id of a process that is gone, a random part).
pub fn remove_stale(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name
            .strip_prefix(WORK_PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok());
        if let Some(pid) = pid
            && pid != std::process::id()
            && !crate::output::dir::process_alive(pid)
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Adds each customer code's lines in `table` to `counts` (indexed by code).
pub fn count_lines_per_customer(table: &DataFrame, counts: &mut [u64]) -> Result<()> {
    for c in table.column(line::CUSTOMER_IX)?.u32()?.into_no_null_iter() {
        counts[c as usize] += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_follow_sparks_xxhash64() {
        let a = shard_of("17850", 7);
        assert!(a < 7);
        assert_eq!(a, shard_of("17850", 7));
        assert_eq!(shard_of("anything", 1), 0);
    }

    #[test]
    fn split_shards_hold_every_line_once_with_one_customer_in_one_shard() {
        let ids = StringChunked::from_slice("id".into(), &["a", "b", "c", "d", "e"]);
        let cix: Vec<u32> = (0..50).map(|i| i % 5).collect();
        let table =
            df!(line::CUSTOMER_IX => cix, line::ROW => (0..50u32).collect::<Vec<_>>()).unwrap();
        let root = tempfile::tempdir().unwrap();
        let lines = Lines::split(table, &ids, 3, root.path()).unwrap();
        assert_eq!(lines.shard_count(), 3);
        assert_eq!(lines.height(), 50);
        let parts = lines
            .each("test", |t| {
                let c = t.column(line::CUSTOMER_IX)?.u32()?;
                Ok(c.into_no_null_iter().collect::<Vec<u32>>())
            })
            .unwrap();
        for (s, part) in parts.iter().enumerate() {
            for &c in part {
                assert_eq!(shard_of(["a", "b", "c", "d", "e"][c as usize], 3), s);
            }
        }
        let whole = lines.whole().unwrap();
        assert_eq!(whole.height(), 50);
        drop(lines);
        assert_eq!(
            std::fs::read_dir(root.path()).unwrap().count(),
            0,
            "work dir removed"
        );
    }
}
