//! Reads the input as a stream of bounded batches, file after file in path order: a CSV file in
//! stretches of text cut at record ends (quotes honoured as polars honours them), each parsed by
//! polars from memory with the header in front; a Parquet file in slices of whole row groups (see
//! `parquet_batches`). Memory holds a few batches at a time, whatever the size of the input.
//!
//! Before any row is read, every file's header (or schema) is read and checked, so that a missing
//! column in the last file is an error before minutes of work, and every batch knows which
//! columns the input has anywhere.

use std::io::Read;
use std::path::Path;

use polars::prelude::*;

use crate::config::Config;
use crate::error::{Error, Position, Result};
use crate::io::header;
use crate::io::inputs::{self, Inputs, Source};
use crate::io::read::{REQUIRED, check_plain, csv_failure, holds_nothing, read_error, sniff};
use crate::io::source::{Format, InputFile};
use crate::io::text;
use crate::schema::input;

/// One file, its header read and its columns chosen.
pub struct Opened {
    pub file: InputFile,
    /// Canonical column → how it is selected from the file (a column, or a hive partition value).
    columns: Vec<(&'static str, Expr)>,
    /// Rows of a Parquet file, from its footer.
    parquet_rows: Option<u64>,
    /// Rows of each of a Parquet file's row groups, in file order.
    row_groups: Vec<u64>,
    /// The file's size on disk.
    pub bytes: u64,
    /// The header's names (CSV), for messages.
    names: Vec<String>,
    /// The header line (CSV), put in front of every batch.
    header: Vec<u8>,
}

impl Opened {
    /// Rows of a Parquet file (from its footer); unknown for CSV before it is read.
    pub fn rows(&self) -> Option<u64> {
        self.parquet_rows
    }

    /// Canonical columns this file has (a column or a partition value).
    pub fn exists(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.columns.iter().map(|(c, _)| *c)
    }
}

/// Rows of one file, in the order of the input.
pub struct Batch {
    /// Index of the file in the input.
    pub file: usize,
    /// The input row (0-based, over all files) of the batch's first row.
    pub first_row: u64,
    /// Canonical columns, values as the file holds them (CSV: text).
    pub table: DataFrame,
    /// Bytes of a CSV file read (compressed, as on disk) up to the end of this batch.
    pub consumed: Option<u64>,
}

/// What a whole scan found: the files with their rows, and which columns hold values.
pub struct Scanned {
    pub inputs: Inputs,
    /// Canonical columns that exist in some file and hold at least one value (required ones
    /// always).
    pub present: Vec<&'static str>,
    /// Canonical columns that exist in some file but are empty in every row.
    pub empty: Vec<&'static str>,
    /// Canonical columns some file has, and those holding a value in some row: what
    /// [`Scanned::merge`] needs of scans of single files.
    pub existing: Vec<&'static str>,
    pub holding: Vec<&'static str>,
}

impl Scanned {
    /// The scan of a whole input from those of its files, each scanned alone (in input order).
    pub fn merge(given: &Path, files: Vec<Scanned>) -> Scanned {
        let mut existing = Vec::new();
        let mut holding = Vec::new();
        let mut all = Vec::new();
        for scanned in files {
            for (list, names) in [
                (&mut existing, &scanned.existing),
                (&mut holding, &scanned.holding),
            ] {
                for name in names {
                    if !list.contains(name) {
                        list.push(*name);
                    }
                }
            }
            all.extend(scanned.inputs.files.into_iter().zip(scanned.inputs.rows));
        }
        columns_held(Inputs::new(given.to_path_buf(), all), existing, holding)
    }
}

/// The scan's result from what it saw: see [`scan`].
fn columns_held(
    inputs: Inputs,
    existing: Vec<&'static str>,
    holding: Vec<&'static str>,
) -> Scanned {
    let rows: u64 = inputs.rows.iter().sum();
    // A column that exists but holds nothing counts as missing (DESIGN.md, "Input"). Nothing is
    // a missing value or blank text: a CSV writer that quotes every field writes `""`, which
    // polars reads as empty text, not as missing. Without rows, every column is as good as any.
    let present: Vec<&'static str> = input::ALL
        .into_iter()
        .filter(|c| {
            existing.contains(c) && (rows == 0 || holding.contains(c) || REQUIRED.contains(c))
        })
        .collect();
    let empty: Vec<&'static str> = input::ALL
        .into_iter()
        .filter(|c| existing.contains(c) && !present.contains(c))
        .collect();
    Scanned {
        inputs,
        present,
        empty,
        existing,
        holding,
    }
}

/// Opens every file `given` names (see [`crate::io::inputs`]) and checks its columns.
pub fn open(given: &Path, config: &Config) -> Result<Vec<Opened>> {
    inputs::expand(given)?
        .iter()
        .map(|source| open_source(source, config))
        .collect()
}

/// Canonical columns some of the `opened` files have (a column or a partition value).
pub fn columns_of(opened: &[Opened]) -> Vec<&'static str> {
    let mut exists: Vec<&'static str> = Vec::new();
    for file in opened {
        for canonical in file.exists() {
            if !exists.contains(&canonical) {
                exists.push(canonical);
            }
        }
    }
    exists
}

/// Opens file `index` (in input order) of those `given` names, alone (`retain shard route`).
pub fn open_one(given: &Path, index: usize, config: &Config) -> Result<Opened> {
    let sources = inputs::expand(given)?;
    let source = sources.get(index).ok_or_else(|| {
        Error::Usage(format!(
            "{} names {} files: there is no file {index}",
            given.display(),
            sources.len()
        ))
    })?;
    open_source(source, config)
}

fn open_source(source: &Source, config: &Config) -> Result<Opened> {
    let path = source.path.as_path();
    let format = sniff(path)?;
    catch_damage(path, format, || open_file(source, format, config))
}

/// polars' readers panic on some damaged files (a Parquet footer with a bad byte): that is the
/// file's fault, reported as such.
fn catch_damage<T>(path: &Path, format: Format, f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let kind = match format {
            Format::Csv => "CSV",
            Format::Parquet => "Parquet",
        };
        Err(Error::input(
            path,
            format!(
                "cannot read as {kind}: the file is damaged (the reader stopped with \"{}\")",
                crate::error::panic_message(payload.as_ref())
            ),
        ))
    })
}

/// Largest header line read: far more than any export's.
const MAX_HEADER_BYTES: usize = 16 << 20;

fn open_file(source: &Source, format: Format, config: &Config) -> Result<Opened> {
    let path = source.path.as_path();
    let separator = config.input.separator.as_bytes()[0];
    let text = match format {
        Format::Csv => text::probe(path, config.input.encoding)?,
        Format::Parquet => text::TextForm::default(),
    };
    let file = InputFile {
        path: path.into(),
        format,
        separator,
        text,
    };
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let mut header = Vec::new();
    let mut row_groups = Vec::new();
    let (schema, parquet_rows) = match format {
        Format::Csv => {
            header = read_header(&file)?;
            let frame = csv_table(header.clone(), separator)
                .map_err(|e| read_error(&file, path, &[], e))?;
            (frame.schema().clone(), None)
        }
        Format::Parquet => {
            let pl_path = PlRefPath::new(path.to_string_lossy().as_ref());
            let args = ScanArgsParquet {
                glob: false,
                ..Default::default()
            };
            let mut frame = LazyFrame::scan_parquet(pl_path, args)
                .map_err(|e| read_error(&file, path, &[], e))?;
            let schema = frame
                .collect_schema()
                .map_err(|e| read_error(&file, path, &[], e))?;
            let handle =
                std::fs::File::open(path).map_err(|e| Error::input(path, e.to_string()))?;
            let mut reader = ParquetReader::new(handle);
            let metadata = reader
                .get_metadata()
                .map_err(|e| read_error(&file, path, &[], e))?;
            row_groups = metadata
                .row_groups
                .iter()
                .map(|g| g.num_rows() as u64)
                .collect();
            (schema, Some(metadata.num_rows as u64))
        }
    };
    let names: Vec<&str> = schema.iter_names().map(|n| n.as_str()).collect();
    let header_names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut columns = Vec::new();
    for (canonical, user) in config.columns.pairs() {
        // polars renames a repeated header name to NAME_duplicated_0: which of the two columns
        // holds the values is then a guess, so it is refused.
        let again = format!("{user}_duplicated_0");
        if format == Format::Csv && schema.contains(user) && schema.contains(&again) {
            let at = |name: &str| schema.index_of(name).map_or(0, |i| i + 1);
            return Err(Error::input_at(
                path,
                Position::Line(1),
                Some(user),
                format!(
                    "the header names '{user}' twice (columns {} and {}), so which one holds {canonical} is a guess; rename one of them",
                    at(user),
                    at(&again)
                ),
            ));
        }
        if let Some(dtype) = schema.get(user) {
            check_plain(path, canonical, user, dtype)?;
            columns.push((canonical, col(user).alias(canonical)));
        } else if let Some(value) = source.partition(user) {
            // A hive directory above the file names the column.
            let value = match value {
                Some(text) => lit(text.to_string()),
                None => lit(NULL).cast(DataType::String),
            };
            columns.push((canonical, value.alias(canonical)));
        } else if REQUIRED.contains(&canonical) || user != canonical {
            // A required column, or one the user mapped explicitly, must exist.
            return Err(Error::input_at(
                path,
                Position::Line(1),
                Some(user),
                header::missing_column(format, &names, canonical, user, &config.input.separator),
            ));
        }
    }
    Ok(Opened {
        file,
        columns,
        parquet_rows,
        row_groups,
        bytes,
        names: header_names,
        header,
    })
}

/// CSV text held in memory, read by polars' eager reader: every column as text. The lazy scan
/// runs polars' streaming CSV source, whose line counter (polars 0.55 without its nightly `simd`
/// feature) took more CPU than the fields' parse: 11 % of `retain features` on 96 M gzip CSV
/// rows, against 8 %. Read eagerly, that run's read phase fell from 72 to 59 s (README, "Scale").
fn csv_table(text: Vec<u8>, separator: u8) -> PolarsResult<DataFrame> {
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .map_parse_options(|o| o.with_separator(separator))
        .into_reader_with_file_handle(std::io::Cursor::new(text))
        .finish()
}

/// The header line of a CSV file (its first record, with its line end), a UTF-8 byte-order mark
/// removed.
fn read_header(file: &InputFile) -> Result<Vec<u8>> {
    let mut reader = text::open_text(&file.path, file.text)
        .map_err(|e| text::text_error(&file.path, file.text, e))?;
    let mut cutter = RecordCutter::default();
    let mut buffer = Vec::new();
    let mut block = vec![0u8; 1 << 16];
    loop {
        let n = read_some(&mut *reader, &mut block)
            .map_err(|e| text::text_error(&file.path, file.text, e))?;
        if n == 0 {
            break;
        }
        buffer.extend_from_slice(&block[..n]);
        if let Some(end) = cutter.first_end(&buffer) {
            buffer.truncate(end);
            break;
        }
        if buffer.len() > MAX_HEADER_BYTES {
            return Err(Error::input_at(
                &file.path,
                Position::Line(1),
                None,
                "the header line is longer than 16 MiB: is a quote (\") in it never closed?",
            ));
        }
    }
    if buffer.starts_with(b"\xef\xbb\xbf") {
        buffer.drain(..3);
    }
    if buffer.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Error::input(
            &file.path,
            "no header line: the file (after decompression) is empty",
        ));
    }
    if !buffer.ends_with(b"\n") {
        buffer.push(b'\n');
    }
    Ok(buffer)
}

fn read_some(reader: &mut dyn Read, block: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match reader.read(block) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Finds record ends in CSV text read in pieces: a line feed outside quotes. A quote toggles
/// quoting, as polars reads it (a doubled quote inside a quoted value toggles twice).
#[derive(Default)]
struct RecordCutter {
    quoted: bool,
    /// Bytes of the buffer already looked at.
    scanned: usize,
    /// End (exclusive) of the last complete record in the buffer.
    last_end: usize,
}

impl RecordCutter {
    /// Looks at the buffer's new bytes; the end of its last complete record, if any.
    fn scan(&mut self, buffer: &[u8]) -> usize {
        for (i, &b) in buffer.iter().enumerate().skip(self.scanned) {
            match b {
                b'"' => self.quoted = !self.quoted,
                b'\n' if !self.quoted => self.last_end = i + 1,
                _ => {}
            }
        }
        self.scanned = buffer.len();
        self.last_end
    }

    /// The end of the buffer's first complete record.
    fn first_end(&mut self, buffer: &[u8]) -> Option<usize> {
        for (i, &b) in buffer.iter().enumerate().skip(self.scanned) {
            match b {
                b'"' => self.quoted = !self.quoted,
                b'\n' if !self.quoted => return Some(i + 1),
                _ => {}
            }
        }
        self.scanned = buffer.len();
        None
    }

    /// The buffer lost its first `n` bytes (a record end).
    fn drained(&mut self, n: usize) {
        self.scanned -= n;
        self.last_end -= n;
    }
}

/// Reads every file's rows in batches of about `batch_bytes` of text (CSV) or a matching number
/// of rows (Parquet), in path order, and hands each to `f`.
pub fn scan(
    given: &Path,
    opened: Vec<Opened>,
    batch_bytes: usize,
    mut f: impl FnMut(Batch, &Opened) -> Result<()>,
) -> Result<Scanned> {
    let mut files = Vec::with_capacity(opened.len());
    let mut first_row = 0u64;
    let mut holding: Vec<&'static str> = Vec::new();
    let mut existing: Vec<&'static str> = Vec::new();
    for (index, file) in opened.iter().enumerate() {
        existing.extend(file.exists());
        let format = file.file.format;
        let rows = catch_damage(&file.file.path, format, || {
            let mut rows = 0u64;
            let mut emit = |table: DataFrame, consumed: Option<u64>| -> Result<()> {
                for (canonical, _) in &file.columns {
                    if !holding.contains(canonical)
                        && table.height() > 0
                        && table.column(canonical).is_ok_and(|c| !holds_nothing(c))
                    {
                        holding.push(canonical);
                    }
                }
                let height = table.height() as u64;
                f(
                    Batch {
                        file: index,
                        first_row: first_row + rows,
                        table,
                        consumed,
                    },
                    file,
                )?;
                rows += height;
                Ok(())
            };
            match format {
                Format::Csv => csv_batches(file, batch_bytes, &mut emit)?,
                Format::Parquet => parquet_batches(file, batch_bytes, &mut emit)?,
            }
            Ok(rows)
        })?;
        first_row += rows;
        files.push((file.file.clone(), rows));
    }
    Ok(columns_held(
        Inputs::new(given.to_path_buf(), files),
        existing,
        holding,
    ))
}

fn select(file: &Opened, frame: LazyFrame) -> LazyFrame {
    frame.select(
        file.columns
            .iter()
            .map(|(_, e)| e.clone())
            .collect::<Vec<_>>(),
    )
}

/// A CSV file's records in stretches of about `batch_bytes`, each read with the header.
fn csv_batches(
    file: &Opened,
    batch_bytes: usize,
    emit: &mut impl FnMut(DataFrame, Option<u64>) -> Result<()>,
) -> Result<()> {
    let info = &file.file;
    let path = &info.path;
    let header = &file.header;
    let io_error = |e: std::io::Error| text::text_error(path, info.text, e);
    let (mut reader, consumed) = text::open_text_counted(path, info.text).map_err(io_error)?;
    // Skip the header: the first record, and a byte-order mark before it.
    let mut buffer: Vec<u8> = Vec::with_capacity(batch_bytes.min(64 << 20) + (1 << 16));
    let mut emitted = false;
    let mut block = vec![0u8; 1 << 20];
    let mut cutter = RecordCutter::default();
    let mut header_skipped = false;
    let mut eof = false;
    // The buffer holds no record end: read on whatever its size (one record longer than a batch).
    let mut need_more = false;
    let names: Vec<&str> = file.names.iter().map(String::as_str).collect();
    let parse = |text: Vec<u8>| {
        csv_table(text, info.separator)
            .map(|table| select(file, table.lazy()))
            .and_then(|frame| frame.collect())
            .map_err(|e| csv_failure(info, path, &names, e))
    };
    loop {
        while !eof && (buffer.len() < batch_bytes || !header_skipped || need_more) {
            let n = read_some(&mut *reader, &mut block).map_err(io_error)?;
            if n == 0 {
                eof = true;
                break;
            }
            buffer.extend_from_slice(&block[..n]);
            need_more = false;
            if !header_skipped && let Some(end) = RecordCutter::default().first_end(&buffer) {
                buffer.drain(..end);
                header_skipped = true;
            }
        }
        if !header_skipped {
            // The header is all there is.
            break;
        }
        let end = if eof {
            buffer.len()
        } else {
            match cutter.scan(&buffer) {
                0 => {
                    need_more = true;
                    continue;
                }
                end => end,
            }
        };
        if end == 0 {
            break;
        }
        let mut text = Vec::with_capacity(header.len() + end);
        text.extend_from_slice(header);
        text.extend_from_slice(&buffer[..end]);
        buffer.drain(..end);
        if !eof {
            cutter.drained(end);
        }
        let table = parse(text)?;
        emit(
            table,
            Some(consumed.load(std::sync::atomic::Ordering::Relaxed)),
        )?;
        emitted = true;
    }
    if !emitted {
        // No rows: the columns, for a table of none.
        emit(parse(header.clone())?, None)?;
    }
    Ok(())
}

/// A Parquet file's rows in slices of whole row groups where they fit: a slice that starts
/// inside a row group decodes it from its start, so 96 M rows in 20 groups took 8.7 s to read in
/// slices of 671,088 rows and 4.6 s in whole groups (5.1 s in halves). A group larger than a batch
/// is read in equal parts of at most [`PARQUET_BATCH_FACTOR`] batches.
fn parquet_batches(
    file: &Opened,
    batch_bytes: usize,
    emit: &mut impl FnMut(DataFrame, Option<u64>) -> Result<()>,
) -> Result<()> {
    let info = &file.file;
    // About 100 bytes of text per row as read.
    let step = (batch_bytes as u64 / 100).clamp(1 << 16, 1 << 30);
    let pl_path = PlRefPath::new(info.path.to_string_lossy().as_ref());
    let slices = row_group_slices(&file.row_groups, step, step * PARQUET_BATCH_FACTOR);
    for (offset, len) in slices {
        let args = ScanArgsParquet {
            glob: false,
            ..Default::default()
        };
        let table = LazyFrame::scan_parquet(pl_path.clone(), args)
            .map(|frame| select(file, frame).slice(offset as i64, len as IdxSize))
            .and_then(|frame| frame.collect())
            .map_err(|e| read_error(info, &info.path, &[], e))?;
        emit(table, None)?;
    }
    Ok(())
}

/// How many batches' worth of rows one slice of a large row group may hold.
const PARQUET_BATCH_FACTOR: u64 = 4;

/// `(offset, rows)` slices over row groups of `groups` rows: consecutive whole groups up to
/// `step` rows together, a group above `step` alone, in equal parts of at most `most` rows. A
/// file without rows gives one empty slice (its columns).
fn row_group_slices(groups: &[u64], step: u64, most: u64) -> Vec<(u64, u64)> {
    let mut slices = Vec::new();
    let mut offset = 0u64;
    let mut pending: Option<(u64, u64)> = None;
    for &rows in groups.iter().filter(|&&g| g > 0) {
        if rows > step {
            slices.extend(pending.take());
            let parts = rows.div_ceil(most.max(1));
            let part = rows.div_ceil(parts);
            let mut at = 0;
            while at < rows {
                let len = part.min(rows - at);
                slices.push((offset + at, len));
                at += len;
            }
        } else {
            pending = match pending {
                Some((start, len)) if len + rows <= step => Some((start, len + rows)),
                other => {
                    slices.extend(other);
                    Some((offset, rows))
                }
            };
        }
        offset += rows;
    }
    slices.extend(pending);
    if slices.is_empty() {
        slices.push((0, 0));
    }
    slices
}

#[cfg(test)]
mod tests {
    use super::row_group_slices;

    #[test]
    fn row_group_slices_keep_small_groups_whole_and_cut_large_ones_in_equal_parts() {
        // Three small groups merge up to the step; a group of 10 with at most 4 a part gives
        // three parts of 4, 4, 2; the last small group stands alone.
        assert_eq!(
            row_group_slices(&[2, 3, 1, 10, 0, 3], 6, 4),
            vec![(0, 6), (6, 4), (10, 4), (14, 2), (16, 3)]
        );
        assert_eq!(row_group_slices(&[2, 5], 6, 4), vec![(0, 2), (2, 5)]);
        assert_eq!(row_group_slices(&[], 6, 4), vec![(0, 0)]);
        // Every row in exactly one slice, in order.
        let groups = [7, 1, 1, 30, 2, 2, 2, 9];
        let slices = row_group_slices(&groups, 5, 8);
        let mut next = 0;
        for (offset, len) in &slices {
            assert_eq!(*offset, next);
            assert!(*len <= 8 && *len > 0);
            next += len;
        }
        assert_eq!(next, groups.iter().sum::<u64>());
    }
}
