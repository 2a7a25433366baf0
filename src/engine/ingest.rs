//! Reading and cleaning the input into customer shards with memory bounded by the budget.
//!
//! 1. The input streams in batches ([`crate::io::batches`]); each batch is parsed
//!    ([`Reading::read`]) and its rows go to the shard of their customer: a spilled file per batch
//!    and shard in the work directory (Arrow IPC, grouped by a second thread while the next batch
//!    is parsed, and written on both cores), or kept in memory when one shard is enough. Rows without a customer are never
//!    purchase lines: they are spread over the shards by row.
//! 2. The checks on whole columns run on the evidence the batches gathered ([`Reading::finish`]).
//! 3. Each shard is cleaned, [`super::concurrency`] at a time ([`clean::clean_shard`]): duplicates (equal rows share their
//!    customer, so they meet in one shard), reasons, kinds, the line table and its codes, and the
//!    partials every command needs (counts by reason, activity by day). Its lines are spilled
//!    again, coded by the shard's dictionaries, or handed to a [`Visit`] (`retain features` at a
//!    given as-of date aggregates them there and keeps nothing).
//! 4. The shards' dictionaries merge into the whole input's ([`clean::assemble`]); each spilled
//!    shard is recoded to them as it is read back.
//!
//! The shard count is fixed by the first batch: the input's rows (exact for Parquet, estimated
//! from the first batch's share of the file for CSV) times what a parsed row weighs.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use polars::prelude::*;

use super::{Stored, budget, shard_of};
use crate::clean::{self, Cleaned, Reading, Shape};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::io::batches;
use crate::schema::{input, line};

/// Where the rows of one shard are while the input streams in.
enum Pending {
    Memory(Vec<DataFrame>),
    /// Files of the shard's rows, one per batch, in input order.
    Spilled(Vec<PathBuf>),
}

/// Splits parsed batches into shards.
struct Router {
    shards: usize,
    pending: Vec<Pending>,
    work: Option<tempfile::TempDir>,
    batches: usize,
    bytes_per_row: u64,
}

impl Router {
    fn new(shards: usize, work_in: &Path, bytes_per_row: u64) -> Result<Router> {
        let work = if shards > 1 {
            super::remove_stale(work_in);
            Some(
                tempfile::Builder::new()
                    .prefix(&format!("{}{}-", super::WORK_PREFIX, std::process::id()))
                    .tempdir_in(work_in)
                    .map_err(|e| super::work_error(work_in, &e))?,
            )
        } else {
            None
        };
        let pending = (0..shards)
            .map(|_| {
                if shards > 1 {
                    Pending::Spilled(Vec::new())
                } else {
                    Pending::Memory(Vec::new())
                }
            })
            .collect();
        Ok(Router {
            shards,
            pending,
            work,
            batches: 0,
            bytes_per_row,
        })
    }

    fn route(&mut self, work: DataFrame) -> Result<()> {
        let batch = self.batches;
        self.batches += 1;
        if self.shards == 1 {
            if let Pending::Memory(parts) = &mut self.pending[0] {
                parts.push(work);
            }
            return Ok(());
        }
        let k = self.shards;
        let (grouped, starts) = group_by_shard(work, k)?;
        let dir = self.work.as_ref().map(|w| w.path().to_path_buf());
        let dir = dir.ok_or_else(|| Error::Internal("no work directory".into()))?;
        // The shards' files are written on both cores: copying into the page cache was a third
        // of this thread's time, and it kept the reading waiting.
        let written = super::in_parallel(k, super::concurrency(), |s| {
            let len = starts[s + 1] - starts[s];
            if len == 0 {
                return Ok(None);
            }
            let mut part = grouped.slice(starts[s] as i64, len);
            let path = dir.join(format!("rows-{s:04}-{batch:06}.arrow"));
            super::spill(&mut part, &path)?;
            Ok(Some(path))
        })?;
        for (s, path) in written.into_iter().enumerate() {
            if let (Some(path), Pending::Spilled(files)) = (path, &mut self.pending[s]) {
                files.push(path);
            }
        }
        Ok(())
    }
}

/// A batch's rows grouped by shard (of `k`), in input order within each (a counting sort),
/// taken once, and where each shard's rows start (`k + 1` offsets): shard `s` is the slice
/// `starts[s]..starts[s + 1]`. Rows without a customer are never purchase lines: they are spread
/// over the shards by row.
pub(crate) fn group_by_shard(work: DataFrame, k: usize) -> Result<(DataFrame, Vec<usize>)> {
    let ids = work.column(input::CUSTOMER_ID)?.str()?;
    let rows = work.column(line::ROW)?.idx()?;
    let shard: Vec<u32> = ids
        .iter()
        .zip(rows.iter())
        .map(|(id, row)| match id {
            Some(id) => shard_of(id, k) as u32,
            None => (row.unwrap_or(0) as usize % k) as u32,
        })
        .collect();
    let mut starts = vec![0usize; k + 1];
    for &s in &shard {
        starts[s as usize + 1] += 1;
    }
    for s in 0..k {
        starts[s + 1] += starts[s];
    }
    let mut at = starts.clone();
    let mut order = vec![0 as IdxSize; shard.len()];
    for (i, &s) in shard.iter().enumerate() {
        order[at[s as usize]] = i as IdxSize;
        at[s as usize] += 1;
    }
    drop(shard);
    let grouped = work.take(&IdxCa::from_vec(PlSmallStr::EMPTY, order))?;
    Ok((grouped, starts))
}

/// Bytes of text per batch: an input that surely fits the budget `limit` is read a file at a
/// time (no slicing, no copies); a larger one in batches of at most 64 MiB of text.
pub(crate) fn batch_bytes(opened: &[batches::Opened], limit: u64) -> usize {
    let (known_rows, csv_bytes) = sizes(opened);
    let compressed = opened.iter().any(|f| {
        f.rows().is_none() && f.file.text.compression != crate::io::text::Compression::None
    });
    let guess = known_rows * PARSED_ROW_BYTES
        + csv_bytes * if compressed { GZIP_TEXT_RATIO } else { 1 } * PARSED_ROW_BYTES
            / CSV_ROW_BYTES;
    if guess.saturating_mul(2) < limit {
        usize::MAX / 4
    } else {
        (limit / 16).clamp(8 << 20, 64 << 20) as usize
    }
}

/// Rows of the Parquet files (from their footers) and bytes of the CSV files.
fn sizes(opened: &[batches::Opened]) -> (u64, u64) {
    let known_rows = opened.iter().filter_map(|f| f.rows()).sum();
    let csv_bytes = opened
        .iter()
        .filter(|f| f.rows().is_none())
        .map(|f| f.bytes)
        .sum();
    (known_rows, csv_bytes)
}

/// What the reading thread hands the routing thread.
enum Route {
    Start(Router),
    Batch(DataFrame),
}

/// The parsed rows of one shard, in input order (its spilled files are removed).
fn gather(pending: Pending) -> Result<DataFrame> {
    match pending {
        Pending::Memory(parts) => clean::stack_parsed(parts),
        Pending::Spilled(files) => {
            let mut parts = Vec::with_capacity(files.len());
            for path in &files {
                parts.push(super::read_back(path)?);
            }
            for path in &files {
                let _ = std::fs::remove_file(path);
            }
            clean::stack_parsed(parts)
        }
    }
}

/// Bytes of working memory per byte of a shard's parsed rows while it is cleaned, and per byte
/// of its lines while the stages run, with room (see [`budget::WORK_FACTOR`]) for the freed pages
/// the allocator keeps while shards are cleaned ([`crate::memory::hold_freed_pages`]).
pub(crate) const INGEST_FACTOR: u64 = 6;

/// Rough sizes for the first guess, before any row is read: bytes of a parsed row in memory,
/// of a CSV row as text, and how much gzip shrinks CSV text.
const PARSED_ROW_BYTES: u64 = 160;
const CSV_ROW_BYTES: u64 = 80;
const GZIP_TEXT_RATIO: u64 = 8;

/// Fewest rows a shard is given: a budget too small for the input makes many shards, not a
/// file per row.
const MIN_SHARD_ROWS: u64 = 10_000;

/// Work done on each shard's cleaned lines while they are in memory, in place of keeping them:
/// called with the lines (coded by the shard's own dictionaries), the shard's customer
/// dictionary (`customer_ix`, `customer_id`) and the canonical columns present in the input.
pub type Visit<'a> =
    &'a (dyn Fn(&DataFrame, &DataFrame, &[&'static str]) -> Result<DataFrame> + Sync);

/// Reads, checks and cleans the input in shards; see the module's description. `work_in` is
/// where shards are spilled. With a `visit`, each shard's cleaned lines go to it instead of
/// being kept: the transactions hold no lines, and the visit's results come back in shard order
/// (a command whose only pass over the lines is the visit saves writing and reading them back).
pub fn load(
    given: &Path,
    config: &Config,
    keep_rejected: bool,
    work_in: &Path,
    visit: Option<Visit>,
) -> Result<(Cleaned, Vec<DataFrame>)> {
    let engine = &config.engine;
    let limit = engine.memory_limit_bytes().map_err(Error::Usage)?;
    let opened = batches::open(given, config)?;
    let exists = batches::columns_of(&opened);
    let (known_rows, csv_bytes) = sizes(&opened);
    let mut reading = Reading::new(&config.columns, &config.input, exists, keep_rejected)?;
    let batch_bytes = batch_bytes(&opened, limit);
    let started = Instant::now();
    let mut stream: Option<crate::progress::Stream> = None;
    let mut rows_so_far = 0u64;
    // The batches are parsed on this thread and routed to their shards (sorted, written to the
    // work directory) on another, one batch in between: parsing and spilling overlap.
    let (to_router, batches_in) = std::sync::mpsc::sync_channel::<Route>(1);
    // More than one shard: freed pages are kept from the first batch to the last shard cleaned.
    let mut kept: Option<crate::memory::HeldPages> = None;
    let (scanned, router) = std::thread::scope(|scope| {
        let routing = scope.spawn(move || -> Result<Option<Router>> {
            let mut router: Option<Router> = None;
            for message in batches_in {
                match message {
                    Route::Start(r) => router = Some(r),
                    Route::Batch(work) => router
                        .as_mut()
                        .ok_or_else(|| Error::Internal("no router".into()))?
                        .route(work)?,
                }
            }
            Ok(router)
        });
        let mut started_router = false;
        let scanned = batches::scan(given, opened, batch_bytes, |batch, file| {
            let work = reading.read(&batch, file.file.format)?;
            rows_so_far += work.height() as u64;
            if let Some(s) = stream.as_mut() {
                s.at(rows_so_far);
            }
            if !started_router {
                started_router = true;
                let height = work.height().max(1) as u64;
                let bytes_per_row = (work.estimated_size() as u64).div_ceil(height).max(1);
                // Rows per byte of a CSV file, from this batch if it is one (gzip: about 25
                // bytes of file per row).
                let rows_per_byte = match batch.consumed {
                    Some(consumed) if consumed > 0 => height as f64 / consumed as f64,
                    _ => 1.0 / 25.0,
                };
                let rows = known_rows + (csv_bytes as f64 * rows_per_byte) as u64;
                stream = crate::progress::Stream::start("read", rows);
                let k = match engine.shards {
                    Some(k) => k.clamp(1, budget::MAX_SHARDS),
                    None => {
                        // An input that fits stays one shard in memory (no spill); a larger one
                        // gets room for the shards cleaned at once.
                        let need = rows.saturating_mul(bytes_per_row) * INGEST_FACTOR;
                        let need = if need <= limit {
                            need
                        } else {
                            need * super::concurrency() as u64
                        };
                        let most = (rows / MIN_SHARD_ROWS).max(1) as usize;
                        (need.div_ceil(limit.max(1)) as usize)
                            .clamp(1, most.min(budget::MAX_SHARDS))
                    }
                };
                if k > 1 {
                    kept = Some(crate::memory::keep_freed_pages());
                    std::fs::create_dir_all(work_in)
                        .map_err(crate::io::write::output_error(work_in))?;
                }
                let router = Router::new(k, work_in, bytes_per_row)?;
                if to_router.send(Route::Start(router)).is_err() {
                    return Err(Error::Internal("the shard router stopped".into()));
                }
            }
            to_router
                .send(Route::Batch(work))
                .map_err(|_| Error::Internal("the shard router stopped".into()))
        });
        drop(to_router);
        let routed = routing
            .join()
            .map_err(|_| Error::Internal("the shard router panicked".into()))?;
        // A routing failure (a full work directory) explains a stopped scan.
        let router = routed?;
        Ok::<_, Error>((scanned?, router))
    })?;
    let (notes, date_flips) = reading.finish(&scanned.inputs, &scanned.present)?;
    let mut router = match router {
        Some(router) => router,
        // No rows at all.
        None => Router::new(1, work_in, 1)?,
    };
    let k = router.shards;
    let read_secs = started.elapsed().as_secs_f64();
    let shape = Shape {
        present: &scanned.present,
        empty: &scanned.empty,
        rules: &config.cleaning,
        keep_rejected,
        date_flips: &date_flips,
    };
    let started = Instant::now();
    let rows_read: u64 = scanned.inputs.rows.iter().sum();
    let progress = Mutex::new(crate::progress::Pass::start("clean", k, rows_read as usize));
    let pending: Vec<Mutex<Pending>> = std::mem::take(&mut router.pending)
        .into_iter()
        .map(Mutex::new)
        .collect();
    let work_dir = router.work.as_ref().map(|w| w.path().to_path_buf());
    let cleaned = super::in_parallel(k, super::concurrency(), |s| {
        let taken = std::mem::replace(
            &mut *pending[s].lock().unwrap_or_else(|e| e.into_inner()),
            Pending::Memory(Vec::new()),
        );
        let work = gather(taken)?;
        let rows = work.height();
        let cleaned = clean::clean_shard(work, &shape)?;
        crate::memory::release();
        let mut table = cleaned.lines;
        let bytes = table.estimated_size() as u64;
        let height = table.height();
        let visited = match visit {
            Some(visit) => Some(visit(
                &table,
                &cleaned.summary.dictionaries.customers,
                shape.present,
            )?),
            None => None,
        };
        let stored = match (&work_dir, &visited) {
            (_, Some(_)) => Stored::Memory(table.clear()),
            (Some(dir), None) => {
                let path = dir.join(format!("shard-{s:04}.arrow"));
                super::spill(&mut table, &path)?;
                drop(table);
                crate::memory::release();
                Stored::Spilled(path, height)
            }
            (None, None) => Stored::Memory(table),
        };
        if let Some(p) = progress.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            p.shard_done(s, rows);
        }
        Ok((
            stored,
            cleaned.summary,
            cleaned.rejected,
            bytes,
            height,
            visited,
        ))
    })?;
    drop(progress);
    drop(kept);
    let mut summaries = Vec::with_capacity(k);
    let mut stored = Vec::with_capacity(k);
    let mut largest: Option<(u64, usize, usize)> = None;
    let mut line_bytes = 0u64;
    let mut line_count = 0u64;
    let mut visits = Vec::new();
    for (s, (shard, summary, rejected, bytes, height, visited)) in cleaned.into_iter().enumerate() {
        visits.extend(visited);
        let (customer, lines) = summary.largest_customer;
        if largest.is_none_or(|(n, _, _)| lines > n) {
            largest = Some((lines, s, customer));
        }
        line_bytes += bytes;
        line_count += height as u64;
        stored.push(shard);
        summaries.push((summary, rejected));
    }
    let largest_name = largest
        .filter(|(lines, _, _)| *lines > 0)
        .map(|(lines, s, customer)| {
            let ids = summaries[s]
                .0
                .dictionaries
                .customers
                .column(line::CUSTOMER_ID);
            let id = ids
                .ok()
                .and_then(|c| c.str().ok())
                .and_then(|ids| ids.iter().nth(customer).flatten().map(str::to_string))
                .unwrap_or_default();
            (lines, id)
        });
    let (tx, recodes, rejected) = clean::assemble(scanned.inputs, &shape, notes, summaries)?;
    if let Some((lines, id)) = largest_name
        && engine.shards.is_none()
    {
        let per_line = line_bytes.div_ceil(line_count.max(1));
        budget::check_largest(&id, lines, per_line, limit)?;
    }
    let lines = super::Lines::from_stored(stored, recodes, router.work.take())?;
    if k > 1 {
        crate::commands::progress(format!(
            "read into {k} customer shards (about {} MiB of parsed rows each) in {:.2} s, cleaned in {:.2} s (memory budget {}{})",
            (router.bytes_per_row * tx.accounting.rows_read / k as u64) >> 20,
            read_secs,
            started.elapsed().as_secs_f64(),
            engine.memory_limit,
            if engine.shards.is_some() {
                ", --shards given"
            } else {
                ""
            },
        ));
    }
    Ok((
        Cleaned {
            transactions: tx.with_lines(lines),
            rejected,
        },
        visits,
    ))
}
