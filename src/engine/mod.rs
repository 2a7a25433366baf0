//! How the line table is held while the stages run: as one table in memory, or split by a stable
//! hash of the customer id into shards, spilled to a work directory and read back a few at a time.
//!
//! Every stage that reads lines works shard by shard and returns per-customer rows or partials
//! that merge in any order (counts, exact sums, minima, disjoint per-customer entries), so the
//! files a run writes are the same for any shard count. A customer's lines are all in one shard.
//! Customer, order and product codes are those of the whole input (see [`crate::clean::encode`]):
//! a shard's lines index the same dictionaries.

pub mod budget;
pub mod ingest;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use polars::prelude::*;

use crate::clean::encode::Recode;
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
    /// An Arrow IPC file in the work directory, with its line count and the recoding of its
    /// shard's codes to the whole input's.
    Spilled(PathBuf, usize, Arc<Recode>),
}

/// The line table (columns in [`crate::schema::line`]), whole or in shards.
#[derive(Debug, Clone)]
pub struct Lines {
    shards: Arc<Vec<Shard>>,
    /// The work directory holding spilled shards: removed when the last clone is dropped, on
    /// every way out of a command.
    _work: Option<Arc<tempfile::TempDir>>,
}

/// A shard's lines as the cleaning left them: in memory, coded as the whole input, or spilled
/// with the shard's own codes and their recoding.
pub enum Stored {
    Memory(DataFrame),
    Spilled(PathBuf, usize),
}

impl Lines {
    /// The whole table as one shard in memory.
    pub fn one(table: DataFrame) -> Lines {
        Lines {
            shards: Arc::new(vec![Shard::Memory(table)]),
            _work: None,
        }
    }

    /// Shards cleaned one by one ([`ingest`]), with the recoding of each and the work directory
    /// holding the spilled ones.
    pub fn from_stored(
        stored: Vec<Stored>,
        recodes: Vec<Recode>,
        work: Option<tempfile::TempDir>,
    ) -> Result<Lines> {
        let mut shards = Vec::with_capacity(stored.len());
        for (shard, recode) in stored.into_iter().zip(recodes) {
            shards.push(match shard {
                Stored::Memory(mut table) => {
                    recode.apply(&mut table)?;
                    Shard::Memory(table)
                }
                Stored::Spilled(path, height) => Shard::Spilled(path, height, Arc::new(recode)),
            });
        }
        Ok(Lines {
            shards: Arc::new(shards),
            _work: work.map(Arc::new),
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
                Shard::Spilled(_, h, _) => *h,
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
                Shard::Spilled(path, height, recode) => {
                    let mut table = read_back(path)?;
                    recode.apply(&mut table)?;
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

    /// `f` on each shard, [`concurrency`] shards at a time, the results in shard order; for the
    /// passes that only read the lines (no state shared between shards).
    pub fn map<T: Send>(
        &self,
        pass: &'static str,
        f: impl Fn(&DataFrame) -> Result<T> + Sync,
    ) -> Result<Vec<T>> {
        let progress = Mutex::new(crate::progress::Pass::start(
            pass,
            self.shards.len(),
            self.height(),
        ));
        in_parallel(self.shards.len(), concurrency(), |i| {
            let (out, height) = match &self.shards[i] {
                Shard::Memory(table) => (f(table)?, table.height()),
                Shard::Spilled(path, height, recode) => {
                    let mut table = read_back(path)?;
                    recode.apply(&mut table)?;
                    let out = f(&table)?;
                    drop(table);
                    crate::memory::release();
                    (out, *height)
                }
            };
            if let Some(p) = progress.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
                p.shard_done(i, height);
            }
            Ok(out)
        })
    }

    /// `f` on each shard's lines as a lazy query, its results stacked in one table.
    pub fn stacked(
        &self,
        pass: &'static str,
        f: impl Fn(LazyFrame) -> LazyFrame + Sync,
    ) -> Result<DataFrame> {
        let parts = self.map(pass, |table| Ok(f(table.clone().lazy()).collect()?))?;
        stack(parts)
    }

    /// The whole table (all shards stacked): for small inputs and tests.
    pub fn whole(&self) -> Result<DataFrame> {
        self.stacked("whole table", |lines| lines)
    }
}

/// How many shards are worked on at once: two when there are two threads or more. A shard's
/// passes are partly serial (the loops over codes, hashing, the encoding of spilled files), so
/// one shard at a time kept about 1.3 of two cores busy; the shard count is chosen so that this
/// many shards fit the memory budget together. Results never depend on it: each shard's work is
/// the same, and the results are put back in shard order.
pub fn concurrency() -> usize {
    rayon::current_num_threads().clamp(1, 2)
}

/// `f(i)` for each `i` in `0..n` on up to `workers` threads, the results in index order. After a
/// failure no further index is started; the error returned is that of the lowest failed index.
pub fn in_parallel<T: Send>(
    n: usize,
    workers: usize,
    f: impl Fn(usize) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    if workers <= 1 || n <= 1 {
        return (0..n).map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Result<T>>>> = (0..n).map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers.min(n) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= n {
                        break;
                    }
                    let result = f(i);
                    let failed = result.is_err();
                    *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
                    if failed {
                        next.store(n, Ordering::SeqCst);
                    }
                }
            });
        }
    });
    let mut out = Vec::with_capacity(n);
    for slot in slots {
        match slot.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(result) => out.push(result?),
            None => return Err(Error::Internal("a shard was not worked on".into())),
        }
    }
    Ok(out)
}

/// Tables of the same columns one after the other.
pub fn stack(parts: Vec<DataFrame>) -> Result<DataFrame> {
    let mut all = stack_chunks(parts)?;
    all.rechunk_mut_par();
    Ok(all)
}

/// [`stack`] without the rechunk: each part stays a chunk of its own.
pub fn stack_chunks(parts: Vec<DataFrame>) -> Result<DataFrame> {
    let mut parts = parts.into_iter();
    let Some(mut all) = parts.next() else {
        return Ok(DataFrame::empty());
    };
    for part in parts {
        all.vstack_mut_owned(part)?;
    }
    Ok(all)
}

/// Work directories are named so, then the process id: one left by a killed run (its process
/// gone) is removed by the next run that spills into the same directory.
pub const WORK_PREFIX: &str = ".retain-work-";

pub(crate) fn work_error(path: &Path, e: &std::io::Error) -> Error {
    Error::Output {
        path: path.to_path_buf(),
        source: std::io::Error::new(
            e.kind(),
            format!("cannot write shards to the work directory (--work-dir chooses it): {e}"),
        ),
    }
}

/// Writes a shard's lines to the work directory as an Arrow IPC file, uncompressed: spilled
/// tables are read back whole, often, and by this process only, so the format that is a copy of
/// the columns' buffers beats Parquet's encodings (dictionary pages, RLE) on both sides. A text
/// column gathered from a batch shares the batch's buffers; polars' IPC writer copies out the
/// bytes it uses when the rest is waste, so a shard's file holds only its own text.
pub(crate) fn spill(part: &mut DataFrame, path: &Path) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| work_error(path, &e))?;
    let mut writer = std::io::BufWriter::with_capacity(1 << 20, file);
    IpcWriter::new(&mut writer)
        .with_compat_level(CompatLevel::newest())
        .finish(part)
        .map_err(|e| match e {
            PolarsError::IO { error, .. } => work_error(path, &error),
            other => work_error(path, &std::io::Error::other(other.to_string())),
        })?;
    writer
        .into_inner()
        .map_err(|e| work_error(path, e.error()))?;
    Ok(())
}

pub(crate) fn read_back(path: &Path) -> Result<DataFrame> {
    let file = std::fs::File::open(path).map_err(|e| work_error(path, &e))?;
    Ok(IpcReader::new(file).finish()?)
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
    fn in_parallel_keeps_index_order_and_reports_the_lowest_failure() {
        let squares = in_parallel(50, 2, |i| Ok(i * i)).unwrap();
        assert_eq!(squares, (0..50).map(|i| i * i).collect::<Vec<_>>());
        let failed = in_parallel(50, 2, |i| {
            if i == 7 || i == 30 {
                Err(Error::Internal(format!("shard {i}")))
            } else {
                Ok(i)
            }
        });
        assert!(failed.unwrap_err().to_string().contains("shard 7"));
    }

    #[test]
    fn spilled_slice_of_text_holds_only_its_own_bytes() {
        // Long names (not inlined in the views): a tenth of the rows, spilled, must not carry the
        // other nine tenths' text (their buffers are shared until written), and must read back
        // equal.
        let names: Vec<String> = (0..20_000)
            .map(|i| format!("a product name long enough to be stored out of line {i:06}"))
            .collect();
        let table =
            DataFrame::new(names.len(), vec![Column::new("product_name".into(), names)]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let whole = dir.path().join("whole.arrow");
        let part = dir.path().join("part.arrow");
        spill(&mut table.clone(), &whole).unwrap();
        // Every tenth row, gathered (as the router groups a batch by shard) and sliced.
        let every_tenth: Vec<IdxSize> = (0..2_000).map(|i| i * 10).collect();
        let gathered = table
            .take(&IdxCa::from_vec("ix".into(), every_tenth))
            .unwrap();
        let mut slice = gathered.slice(0, 2_000);
        spill(&mut slice, &part).unwrap();
        let whole_bytes = std::fs::metadata(&whole).unwrap().len();
        let part_bytes = std::fs::metadata(&part).unwrap().len();
        assert!(
            part_bytes * 5 < whole_bytes,
            "slice file {part_bytes} bytes, whole {whole_bytes}"
        );
        assert!(read_back(&part).unwrap().equals(&slice));
    }

    #[test]
    fn shards_follow_sparks_xxhash64() {
        let a = shard_of("17850", 7);
        assert!(a < 7);
        assert_eq!(a, shard_of("17850", 7));
        assert_eq!(shard_of("anything", 1), 0);
    }
}
