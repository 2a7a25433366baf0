//! Reads CSV, gzip CSV and Parquet transaction files into a table with canonical column names.
//!
//! Text stays text: CSV columns are read as strings and parsed by [`crate::clean`], so that a bad
//! value becomes a counted, reported rejection instead of a failed read or a silent null. A CSV
//! file that is not UTF-8 with LF or CRLF line ends is first copied as such into a temporary
//! directory ([`crate::io::text`]); messages always name the user's file.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use polars::prelude::*;

use crate::config::Config;
use crate::error::{Error, Location, Position, Result};
use crate::io::header;
use crate::io::inputs::Inputs;
pub use crate::io::source::{Format, InputFile};
use crate::io::source::{first_malformed, first_open_quote, first_ragged_line};
use crate::io::text;
use crate::schema::input;

/// The input as read: canonical column names, values as the files hold them, the rows of each
/// file after those of the files before it (in the order of their paths).
#[derive(Debug, Clone)]
pub struct RawInput {
    pub inputs: Inputs,
    /// Canonical columns that the file has and that hold at least one value.
    pub present: Vec<&'static str>,
    /// Canonical columns that exist in the file but are empty in every row (treated as missing).
    pub empty: Vec<&'static str>,
    pub table: DataFrame,
}

impl RawInput {
    pub fn has(&self, canonical: &str) -> bool {
        self.present.contains(&canonical)
    }
}

pub(crate) const REQUIRED: [&str; 2] = [input::CUSTOMER_ID, input::ORDER_DATE];

/// Detects the format from the first bytes (Parquet files start with `PAR1`).
pub(crate) fn sniff(path: &Path) -> Result<Format> {
    let meta = std::fs::metadata(path).map_err(|e| Error::input(path, describe_io(&e)))?;
    if meta.is_dir() {
        return Err(Error::input(
            path,
            "is a directory; expected a CSV, gzip CSV or Parquet file",
        ));
    }
    if meta.len() == 0 {
        return Err(Error::input(
            path,
            "file is empty; expected a header line and purchase rows",
        ));
    }
    let mut magic = [0u8; 4];
    let mut file = File::open(path).map_err(|e| Error::input(path, describe_io(&e)))?;
    let n = file
        .read(&mut magic)
        .map_err(|e| Error::input(path, describe_io(&e)))?;
    Ok(if n == 4 && &magic == b"PAR1" {
        Format::Parquet
    } else {
        Format::Csv
    })
}

fn describe_io(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Turns a polars read failure into an input error that names the file and says what it
/// expected. `read` is the file polars read (a UTF-8 copy of `file`'s path, or that path), and
/// `names` the header's names when they were read.
pub(crate) fn read_error(file: &InputFile, read: &Path, names: &[&str], e: PolarsError) -> Error {
    // A message about the copy is about the user's file.
    let full = e.to_string().replace(
        read.to_string_lossy().as_ref(),
        file.path.to_string_lossy().as_ref(),
    );
    // polars' messages can quote whole stretches of the file and suggest Python arguments: keep
    // the first line.
    let text: String = full
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect();
    let text = header::escape(&text);
    let message = if full.contains("empty CSV") || full.contains("empty data") {
        "no header line: the file (after decompression) is empty".to_string()
    } else if full.contains("gzip")
        || full.contains("deflate")
        || full.contains("corrupt")
        || full.contains("decompress")
    {
        format!("cannot decompress (truncated or corrupt archive?): {text}")
    } else if full.contains("utf-8") || full.contains("utf8") || full.contains("UTF-8") {
        return not_utf8(file, names, &text);
    } else {
        match file.format {
            Format::Csv => format!("cannot read as CSV: {text}"),
            Format::Parquet => format!("cannot read as Parquet: {text}"),
        }
    };
    Error::input(&file.path, message)
}

/// What to do about a file read as UTF-8 that is not: a byte-order mark-less export from
/// Windows, usually. Names the first bad byte, its line and column.
fn not_utf8(file: &InputFile, names: &[&str], polars_text: &str) -> Error {
    const ADVICE: &str = "the file is in another encoding (exports from Windows systems are \
        often windows-1252): pass --encoding windows-1252 (input.encoding) or the file's \
        encoding, or convert the file to UTF-8";
    let Some(bad) = first_malformed(file) else {
        return Error::input(
            &file.path,
            format!("not valid UTF-8 text ({polars_text}); {ADVICE}"),
        );
    };
    let column = (!bad.in_header)
        .then(|| names.get(bad.field))
        .flatten()
        .map(|name| header::quote_name(name, 80));
    Error::input_at(
        &file.path,
        Position::Line(bad.malformed.line),
        column.as_deref(),
        format!(
            "{} at byte offset {} of {} is not valid UTF-8{}{}; {ADVICE}",
            text::hex_bytes(&bad.malformed.bytes),
            bad.malformed.offset,
            file.text.bytes_name(),
            match (bad.in_header, &column) {
                (true, _) => " (in the header)".to_string(),
                (false, None) => format!(" (field {})", bad.field + 1),
                (false, Some(_)) => String::new(),
            },
            if bad.before.is_empty() {
                String::new()
            } else {
                format!(", after '{}'", header::escape(&bad.before))
            },
        ),
    )
}

/// Names the line behind a failed CSV read when it can be found: a stray quote that swallows
/// line breaks, or a line with more fields than the header (whichever comes first).
pub(crate) fn csv_failure(file: &InputFile, read: &Path, names: &[&str], e: PolarsError) -> Error {
    if file.format != Format::Csv {
        return read_error(file, read, names, e);
    }
    let at = |line: u64, message: String| {
        Error::input_at(&file.path, Position::Line(line), None, message)
    };
    let text = e.to_string();
    let ragged = text
        .contains("more fields than")
        .then(|| first_ragged_line(file))
        .flatten();
    // polars says this when a quoted value is followed by more text: a stray quote at the start
    // of a value whose record still ends with the right number of fields.
    let quote = first_open_quote(file, false).or_else(|| {
        text.contains("not properly escaped")
            .then(|| first_open_quote(file, true))
            .flatten()
    });
    match (quote, ragged) {
        (Some(quote), ragged) if ragged.is_none_or(|r| quote.line <= r.line) => at(
            quote.line,
            format!(
                "a quote (\") opens a value here that {}; a quote inside a value must be doubled \
                 and the whole value quoted, as in \"12\"\" RULER\"",
                match quote.closes {
                    Some(end) => format!("runs on over line breaks to line {end}"),
                    None => "is never closed: the rest of the file would be one value".into(),
                }
            ),
        ),
        (_, Some(odd)) => at(
            odd.line,
            format!(
                "{} fields, but the header has {} (separator '{}'); \
                 a separator inside a value needs quotes around the value",
                odd.fields, odd.header, file.separator as char
            ),
        ),
        _ => read_error(file, read, names, e),
    }
}

/// Reads the file, directory or glob `given` names, whole, and selects the mapped columns under
/// their canonical names; see [`crate::io::inputs`]. The pipeline reads in batches
/// ([`crate::io::batches`]); this is the same read kept in one table, for tests and notebooks.
pub fn load(given: &Path, config: &Config) -> Result<RawInput> {
    let opened = crate::io::batches::open(given, config)?;
    let count = opened.len();
    let mut tables: Vec<Vec<DataFrame>> = vec![Vec::new(); count];
    let scanned = crate::io::batches::scan(given, opened, usize::MAX / 4, |batch, _| {
        tables[batch.file].push(batch.table);
        Ok(())
    })?;
    let mut parts = Vec::with_capacity(count);
    for (index, file_tables) in tables.into_iter().enumerate() {
        let table = crate::engine::stack(file_tables)?;
        let file = scanned.inputs.files[index].clone();
        let rows = scanned.inputs.rows[index];
        parts.push(RawInput {
            inputs: Inputs::single(file, rows),
            present: scanned.present.clone(),
            empty: scanned.empty.clone(),
            table,
        });
    }
    if parts.len() == 1 {
        return Ok(parts.pop().expect("one part"));
    }
    combine(given, parts)
}

/// The files' tables one after the other: a column some files lack is missing in their rows, and
/// a column read with different types in different files is read as text in all.
fn combine(given: &Path, parts: Vec<RawInput>) -> Result<RawInput> {
    let in_any = |pick: fn(&RawInput) -> &Vec<&'static str>, canonical: &str| {
        parts.iter().any(|p| pick(p).contains(&canonical))
    };
    let present: Vec<&'static str> = input::ALL
        .into_iter()
        .filter(|c| in_any(|p| &p.present, c))
        .collect();
    let empty: Vec<&'static str> = input::ALL
        .into_iter()
        .filter(|c| !present.contains(c) && in_any(|p| &p.empty, c))
        .collect();
    let columns: Vec<&'static str> = input::ALL
        .into_iter()
        .filter(|c| present.contains(c) || empty.contains(c))
        .collect();
    let mut types = Vec::with_capacity(columns.len());
    for canonical in &columns {
        let mut seen = parts
            .iter()
            .filter_map(|p| p.table.column(canonical).ok().map(|c| c.dtype().clone()));
        let first = seen.next().unwrap_or(DataType::String);
        let same = seen.all(|d| d == first);
        types.push(if same { first } else { DataType::String });
    }
    let mut frames = Vec::with_capacity(parts.len());
    let mut files = Vec::with_capacity(parts.len());
    for part in parts {
        let height = part.table.height();
        let mut out = Vec::with_capacity(columns.len());
        for (canonical, dtype) in columns.iter().zip(&types) {
            out.push(match part.table.column(canonical) {
                Ok(column) if column.dtype() == dtype => column.clone(),
                Ok(column) => column.cast(dtype)?,
                Err(_) => Column::full_null((*canonical).into(), height, dtype),
            });
        }
        frames.push(DataFrame::new(height, out)?);
        let mut file_inputs = part.inputs;
        files.push((file_inputs.files.remove(0), height as u64));
    }
    let table = crate::engine::stack(frames)?;
    Ok(RawInput {
        inputs: Inputs::new(given.to_path_buf(), files),
        present,
        empty,
        table,
    })
}

/// Whether every value of `column` is missing or blank text. Stops at the first value.
pub(crate) fn holds_nothing(column: &Column) -> bool {
    if column.null_count() == column.len() {
        return true;
    }
    match column.str() {
        Ok(text) => text.iter().all(|v| v.is_none_or(|s| s.trim().is_empty())),
        Err(_) => false,
    }
}

/// What a role's values must be, for the message on a column of the wrong type.
fn expected_values(canonical: &str) -> &'static str {
    match canonical {
        input::CUSTOMER_ID | input::ORDER_ID | input::PRODUCT_ID => {
            "one id per row: text or integers"
        }
        input::ORDER_DATE => "one date per row: a date, a datetime or text such as 2011-12-09",
        input::QUANTITY | input::UNIT_PRICE => {
            "one number per row: an integer, float or decimal column, or text"
        }
        _ => "one text value per row",
    }
}

/// Refuses a Parquet column of a nested type (list, array, struct; a Parquet map reads as a list
/// of structs) mapped to a role: it holds no single value per row to read.
pub(crate) fn check_plain(
    path: &Path,
    canonical: &str,
    user: &str,
    dtype: &DataType,
) -> Result<()> {
    if !dtype.is_nested() {
        return Ok(());
    }
    let kind = if dtype.is_list() {
        "a list of values in each row"
    } else if dtype.is_struct() {
        "a struct of fields in each row"
    } else {
        "several values in each row"
    };
    Err(Error::InputData {
        location: Location {
            path: path.into(),
            position: None,
            column: Some(user.to_string()),
        },
        message: format!(
            "the column is of the nested type {dtype} ({kind}); {canonical} needs {}: flatten it \
             when the file is written (one value per row), or map {canonical} to another column \
             with --col-{} NAME",
            expected_values(canonical),
            canonical.replace('_', "-")
        ),
    })
}
