//! Reads CSV, gzip CSV and Parquet transaction files into a table with canonical column names.
//!
//! Text stays text: CSV columns are read as strings and parsed by [`crate::clean`], so that a bad
//! value becomes a counted, reported rejection instead of a failed read or a silent null.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::config::Config;
use crate::error::{Error, Position, Result};
use crate::schema::input;

/// The physical format of an input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Plain or compressed (gzip, zlib, zstd) delimited text with a header line.
    Csv,
    Parquet,
}

/// An input file and how it is read: enough to find a row in it again for a message.
#[derive(Debug, Clone)]
pub struct InputFile {
    pub path: PathBuf,
    pub format: Format,
    /// The CSV field separator (unused for Parquet).
    pub separator: u8,
}

impl InputFile {
    /// Where data rows (0-based, ascending) are in the file: their lines in a CSV file, found by
    /// record so that quoted line breaks before them count (one more pass over the file, made only
    /// for messages and the quarantine list), or their rows in a Parquet file.
    pub fn positions(&self, rows: &[u64]) -> Vec<Position> {
        match self.format {
            Format::Csv => record_lines(&self.path, self.separator, rows)
                .unwrap_or_else(|| rows.iter().map(|row| row + 2).collect())
                .into_iter()
                .map(Position::Line)
                .collect(),
            Format::Parquet => rows.iter().map(|row| Position::Row(row + 1)).collect(),
        }
    }

    /// Where one data row is in the file; see [`InputFile::positions`].
    pub fn position(&self, row: u64) -> Position {
        self.positions(&[row])
            .pop()
            .unwrap_or(Position::Row(row + 1))
    }
}

/// The input as read: canonical column names, values as the file holds them.
#[derive(Debug, Clone)]
pub struct RawInput {
    pub file: InputFile,
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

const REQUIRED: [&str; 2] = [input::CUSTOMER_ID, input::ORDER_DATE];

/// Detects the format from the first bytes (Parquet files start with `PAR1`).
fn sniff(path: &Path) -> Result<Format> {
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

/// Turns a polars read failure into an input error that names the file and says what it expected.
fn read_error(path: &Path, format: Format, e: PolarsError) -> Error {
    let full = e.to_string();
    // polars' messages can quote whole stretches of the file and suggest Python arguments: keep
    // the first line.
    let text: String = full
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect();
    let message = if full.contains("empty CSV") || full.contains("empty data") {
        "no header line: the file (after decompression) is empty".to_string()
    } else if full.contains("gzip")
        || full.contains("deflate")
        || full.contains("corrupt")
        || full.contains("decompress")
    {
        format!("cannot decompress (truncated or corrupt archive?): {text}")
    } else if full.contains("utf-8") || full.contains("utf8") {
        format!("not valid UTF-8 text: {text}")
    } else {
        match format {
            Format::Csv => format!("cannot read as CSV: {text}"),
            Format::Parquet => format!("cannot read as Parquet: {text}"),
        }
    };
    Error::input(path, message)
}

/// Opens a CSV file, decompressing gzip, zlib and zstd (by their first bytes) as polars does, so
/// that lines are counted in the text polars read.
fn open_text(path: &Path) -> std::io::Result<Box<dyn Read>> {
    let mut file = File::open(path)?;
    let mut magic = [0u8; 4];
    let n = file.read(&mut magic)?;
    let file = File::open(path)?;
    Ok(match (n, magic) {
        (2.., [0x1f, 0x8b, ..]) => Box::new(flate2::read::MultiGzDecoder::new(file)),
        (2.., [0x78, 0x01 | 0x5e | 0x9c | 0xda, ..]) => {
            Box::new(flate2::read::ZlibDecoder::new(file))
        }
        (4, [0x28, 0xb5, 0x2f, 0xfd]) => Box::new(zstd::stream::read::Decoder::new(file)?),
        _ => Box::new(file),
    })
}

/// A record whose number of fields differs from the header's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OddRecord {
    /// 1-based line of the file where the record starts.
    pub line: u64,
    /// 0-based data record (row) number, header excluded.
    pub row: u64,
    /// Its fields (0 for a blank line) and the header's.
    pub fields: usize,
    pub header: usize,
}

/// The first record with more fields than the header. Quotes are honoured (RFC 4180), so quoted
/// separators and line breaks do not count. `None` if there is none or the file cannot be read
/// again.
pub fn first_ragged_line(path: &Path, separator: u8) -> Option<OddRecord> {
    first_record_where(path, separator, |r, header| r.fields > header).map(|(r, _)| r)
}

/// The first record with fewer fields than the header, as [`first_ragged_line`] finds it; a
/// blank line (which polars reads as a row of missing values) has 0 fields.
pub fn first_short_line(path: &Path, separator: u8) -> Option<OddRecord> {
    first_record_where(path, separator, |r, header| r.fields < header).map(|(r, _)| r)
}

/// A quote that opens a value running over line breaks, where that breaks the file: it opens in
/// the middle of a value (CSV readers disagree on those), the record it starts ends with a
/// different number of fields than the header, or the quote never closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenQuote {
    /// 1-based line where the quote opens.
    pub line: u64,
    /// The line where it closes; `None` when it runs to the end of the file.
    pub closes: Option<u64>,
}

/// The first quote that swallows line breaks and breaks its record (see [`OpenQuote`]): what a
/// stray `"` in an unquoted value does to a CSV reader. A quoted value that legitimately holds a
/// line break is not reported unless `any_spanning`, for when the reader has already failed on
/// quoting.
pub fn first_open_quote(path: &Path, separator: u8, any_spanning: bool) -> Option<OpenQuote> {
    first_record_where(path, separator, |r, header| {
        r.spanning_quote.is_some()
            && (any_spanning || r.spanning_mid_value || r.fields != header || r.unclosed)
    })
    .and_then(|(_, r)| {
        r.spanning_quote.map(|(line, closes)| OpenQuote {
            line,
            closes: (!r.unclosed).then_some(closes),
        })
    })
}

/// The 1-based line on which each of `rows` (0-based data rows, ascending) starts: row + 2 unless
/// quoted values before it hold line breaks. `None` if the file cannot be read again or has
/// fewer rows.
pub fn record_lines(path: &Path, separator: u8, rows: &[u64]) -> Option<Vec<u64>> {
    let mut lines = Vec::with_capacity(rows.len());
    let mut wanted = rows.iter().copied().peekable();
    if wanted.peek().is_none() {
        return Some(lines);
    }
    walk_records(path, separator, |record, _| {
        while wanted.next_if_eq(&record.row).is_some() {
            lines.push(record.line);
        }
        wanted.peek().is_none()
    })?;
    (lines.len() == rows.len()).then_some(lines)
}

/// One record as the scanner sees it.
#[derive(Debug, Clone, Copy, Default)]
struct Record {
    line: u64,
    row: u64,
    fields: usize,
    /// The first quote in the record that ran over a line break: where it opened and closed.
    spanning_quote: Option<(u64, u64)>,
    /// That quote opened in the middle of a value rather than at its start.
    spanning_mid_value: bool,
    /// The file ended inside a quote.
    unclosed: bool,
}

/// The first record after the header for which `wrong(record, header fields)` holds.
fn first_record_where(
    path: &Path,
    separator: u8,
    wrong: impl Fn(&Record, usize) -> bool,
) -> Option<(OddRecord, Record)> {
    let mut hit = None;
    walk_records(path, separator, |record, header| {
        if wrong(record, header) {
            hit = Some((
                OddRecord {
                    line: record.line,
                    row: record.row,
                    fields: record.fields,
                    header,
                },
                *record,
            ));
        }
        hit.is_some()
    })?;
    hit
}

/// Shows `visit` each record after the header with the header's number of fields, until it
/// returns true. Quotes are honoured as polars' reader counts them. `None` if the file cannot be
/// read again.
fn walk_records(
    path: &Path,
    separator: u8,
    mut visit: impl FnMut(&Record, usize) -> bool,
) -> Option<()> {
    let mut reader = open_text(path).ok()?;
    let mut buffer = vec![0u8; 1 << 16];
    let (mut line, mut quote_opened, mut opened_mid_value) = (1u64, 1u64, false);
    // The previous byte ended a field or a quote: a quote after it is not in the middle of a value.
    let mut after_boundary = true;
    let mut record = Record {
        line: 1,
        fields: 1,
        ..Record::default()
    };
    let (mut quoted, mut header, mut at_start) = (false, None::<usize>, true);
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        };
        for &b in &buffer[..n] {
            if quoted {
                if b == b'"' {
                    quoted = false;
                    after_boundary = true;
                    if quote_opened != line && record.spanning_quote.is_none() {
                        record.spanning_quote = Some((quote_opened, line));
                        record.spanning_mid_value = opened_mid_value;
                    }
                } else if b == b'\n' {
                    line += 1;
                }
                continue;
            }
            match b {
                b'"' => {
                    quoted = true;
                    quote_opened = line;
                    opened_mid_value = !after_boundary;
                }
                b'\n' => {
                    if at_start {
                        record.fields = 0;
                    }
                    let was_data = header.is_some();
                    match header {
                        None => header = Some(record.fields),
                        Some(h) => {
                            if visit(&record, h) {
                                return Some(());
                            }
                        }
                    }
                    line += 1;
                    record = Record {
                        line,
                        row: record.row + u64::from(was_data),
                        fields: 1,
                        ..Record::default()
                    };
                    at_start = true;
                    after_boundary = true;
                    continue;
                }
                b'\r' => continue,
                _ if b == separator => {
                    record.fields += 1;
                    at_start = false;
                    after_boundary = true;
                    continue;
                }
                _ => {}
            }
            at_start = false;
            after_boundary = false;
        }
    }
    if quoted {
        record.unclosed = true;
        if record.spanning_quote.is_none() {
            record.spanning_quote = Some((quote_opened, line));
            record.spanning_mid_value = opened_mid_value;
        }
    }
    if let Some(h) = header
        && (!at_start || quoted)
    {
        visit(&record, h);
    }
    Some(())
}

/// A column whose name is `wanted` written another way (`CustomerID`, `Customer ID` for
/// `customer_id`): equal in letters and digits, ignoring case.
fn same_name<'a>(wanted: &str, names: &[&'a str]) -> Option<&'a str> {
    let key = |name: &str| -> String {
        name.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    let wanted = key(wanted);
    names.iter().copied().find(|name| key(name) == wanted)
}

/// The separator a CSV file seems to use when its header was read as one column: `;`, tab or `|`
/// inside that column's name.
fn other_separator(format: Format, names: &[&str], config: &Config) -> Option<char> {
    match (format, names) {
        (Format::Csv, [only]) => [';', '\t', '|', ',']
            .into_iter()
            .filter(|c| config.input.separator != c.to_string())
            .find(|c| only.contains(*c)),
        _ => None,
    }
}

/// Names the line behind a failed CSV read when it can be found: a stray quote that swallows
/// line breaks, or a line with more fields than the header (whichever comes first).
fn csv_failure(path: &Path, format: Format, separator: u8, e: PolarsError) -> Error {
    if format != Format::Csv {
        return read_error(path, format, e);
    }
    let at =
        |line: u64, message: String| Error::input_at(path, Position::Line(line), None, message);
    let text = e.to_string();
    let ragged = text
        .contains("more fields than")
        .then(|| first_ragged_line(path, separator))
        .flatten();
    // polars says this when a quoted value is followed by more text: a stray quote at the start
    // of a value whose record still ends with the right number of fields.
    let quote = first_open_quote(path, separator, false).or_else(|| {
        text.contains("not properly escaped")
            .then(|| first_open_quote(path, separator, true))
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
                odd.fields, odd.header, separator as char
            ),
        ),
        _ => read_error(path, format, e),
    }
}

/// Reads `path` and selects the mapped columns under their canonical names.
pub fn load(path: &Path, config: &Config) -> Result<RawInput> {
    let format = sniff(path)?;
    // polars' readers panic on some damaged files (a Parquet footer with a bad byte): that is the
    // file's fault, reported as such.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read(path, format, config)))
        .unwrap_or_else(|payload| {
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

/// Whether every value of `column` is missing or blank text. Stops at the first value.
fn holds_nothing(column: &Column) -> bool {
    if column.null_count() == column.len() {
        return true;
    }
    match column.str() {
        Ok(text) => text.iter().all(|v| v.is_none_or(|s| s.trim().is_empty())),
        Err(_) => false,
    }
}

fn read(path: &Path, format: Format, config: &Config) -> Result<RawInput> {
    let pl_path = PlRefPath::new(path.to_string_lossy().as_ref());
    let separator = config.input.separator.as_bytes()[0];
    let mut frame = match format {
        Format::Csv => LazyCsvReader::new(pl_path)
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .with_separator(separator)
            .with_glob(false)
            .finish(),
        Format::Parquet => {
            let args = ScanArgsParquet {
                glob: false,
                ..Default::default()
            };
            LazyFrame::scan_parquet(pl_path, args)
        }
    }
    .map_err(|e| read_error(path, format, e))?;
    let schema = frame
        .collect_schema()
        .map_err(|e| read_error(path, format, e))?;

    let mut selected = Vec::new();
    let mut present = Vec::new();
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
        if schema.contains(user) {
            selected.push(col(user).alias(canonical));
            present.push(canonical);
        } else if REQUIRED.contains(&canonical) || user != canonical {
            // A required column, or one the user mapped explicitly, must exist.
            let found: Vec<&str> = schema.iter_names().map(|n| n.as_str()).collect();
            return Err(Error::input_at(
                path,
                Position::Line(1),
                Some(user),
                match other_separator(format, &found, config) {
                    // One column whose name holds another separator: the file is not split at all.
                    Some(other) => format!(
                        "no column '{user}' for {canonical}; the file's header is one column, '{}', which looks separated by '{}': pass --separator '{}' (input.separator)",
                        found[0],
                        other.escape_default(),
                        other.escape_default(),
                    ),
                    None => format!(
                        "no column '{user}' for {canonical}; the file has columns [{}]; map yours with --col-{} NAME or [columns] {canonical} = \"NAME\" in the config{}",
                        found.join(", "),
                        canonical.replace('_', "-"),
                        same_name(user, &found).map_or(String::new(), |name| format!(
                            " (here probably --col-{} \"{name}\")",
                            canonical.replace('_', "-")
                        )),
                    ),
                },
            ));
        }
    }
    let table = frame
        .select(selected)
        .collect()
        .map_err(|e| csv_failure(path, format, separator, e))?;

    // A column that exists but holds nothing counts as missing (DESIGN.md, "Input"). Nothing is
    // a missing value or blank text: a CSV writer that quotes every field writes `""`, which
    // polars reads as empty text, not as missing.
    let mut empty = Vec::new();
    present.retain(|canonical| {
        let all_null = table
            .column(canonical)
            .map(|c| table.height() > 0 && holds_nothing(c))
            .unwrap_or(true);
        if all_null && !REQUIRED.contains(canonical) {
            empty.push(*canonical);
            false
        } else {
            true
        }
    });
    Ok(RawInput {
        file: InputFile {
            path: path.into(),
            format,
            separator,
        },
        present,
        empty,
        table,
    })
}
