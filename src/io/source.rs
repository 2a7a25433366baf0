//! An input file and how it is read, and the record scanner that finds a row's line in it again
//! (for messages and the quarantine list): quotes honoured as polars honours them, in the text
//! as polars read it (decompressed and decoded, see [`crate::io::text`]).

use std::io::Read;
use std::path::PathBuf;

use crate::error::Position;
use crate::io::decode::Malformed;
use crate::io::text::{self, TextForm};

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
    /// The file as the user named it: every message names this path.
    pub path: PathBuf,
    pub format: Format,
    /// The CSV field separator (unused for Parquet).
    pub separator: u8,
    /// How the CSV file's bytes become text (unused for Parquet).
    pub text: TextForm,
}

impl InputFile {
    /// Where data rows (0-based, ascending) are in the file: their lines in a CSV file, found by
    /// record so that quoted line breaks before them count (one more pass over the file, made only
    /// for messages and the quarantine list), or their rows in a Parquet file.
    pub fn positions(&self, rows: &[u64]) -> Vec<Position> {
        match self.format {
            Format::Csv => record_lines(self, rows)
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
pub fn first_ragged_line(file: &InputFile) -> Option<OddRecord> {
    first_record_where(file, |r, header| r.fields > header).map(|(r, _)| r)
}

/// The first record with fewer fields than the header, as [`first_ragged_line`] finds it; a
/// blank line (which polars reads as a row of missing values) has 0 fields.
pub fn first_short_line(file: &InputFile) -> Option<OddRecord> {
    first_record_where(file, |r, header| r.fields < header).map(|(r, _)| r)
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
pub fn first_open_quote(file: &InputFile, any_spanning: bool) -> Option<OpenQuote> {
    first_record_where(file, |r, header| {
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
pub fn record_lines(file: &InputFile, rows: &[u64]) -> Option<Vec<u64>> {
    let mut lines = Vec::with_capacity(rows.len());
    let mut wanted = rows.iter().copied().peekable();
    if wanted.peek().is_none() {
        return Some(lines);
    }
    walk_records(file, |record, _| {
        while wanted.next_if_eq(&record.row).is_some() {
            lines.push(record.line);
        }
        wanted.peek().is_none()
    })?;
    (lines.len() == rows.len()).then_some(lines)
}

/// The first byte of a file read as UTF-8 that is not UTF-8, and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadByte {
    pub malformed: Malformed,
    /// 0-based field of the record it is in.
    pub field: usize,
    /// It is in the header line.
    pub in_header: bool,
    /// The text before it in its value (at most 20 characters; a quoted separator counts as
    /// the value's start).
    pub before: String,
}

/// Finds the first byte that is not valid in the file's encoding (for UTF-8 input, which polars
/// checks, when polars has refused it). `None` if there is none or the file cannot be read.
pub fn first_malformed(file: &InputFile) -> Option<BadByte> {
    let mut reader = text::open_checked_text(&file.path, file.text).ok()?;
    let mut scanner = Scanner::new(file.separator);
    let mut buffer = vec![0u8; 1 << 16];
    // The last bytes before the bad one, for the text before it in its value.
    let mut tail: Vec<u8> = Vec::new();
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => return None,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let malformed = e.get_ref()?.downcast_ref::<Malformed>()?.clone();
                let value_start = tail
                    .iter()
                    .rposition(|&b| b == b'\n' || b == b'\r' || b == file.separator)
                    .map_or(0, |i| i + 1);
                let before = String::from_utf8_lossy(&tail[value_start..]);
                let skip = before.chars().count().saturating_sub(20);
                return Some(BadByte {
                    malformed,
                    field: scanner.record.fields.saturating_sub(1),
                    in_header: scanner.header.is_none(),
                    before: before.chars().skip(skip).collect(),
                });
            }
        };
        let chunk = &buffer[..n];
        scanner.feed(chunk, &mut |_, _| false);
        let keep = chunk.len().min(128);
        tail.extend_from_slice(&chunk[chunk.len() - keep..]);
        let excess = tail.len().saturating_sub(128);
        tail.drain(..excess);
    }
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
    file: &InputFile,
    wrong: impl Fn(&Record, usize) -> bool,
) -> Option<(OddRecord, Record)> {
    let mut hit = None;
    walk_records(file, |record, header| {
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
/// returns true. `None` if the file cannot be read again.
fn walk_records(file: &InputFile, mut visit: impl FnMut(&Record, usize) -> bool) -> Option<()> {
    let mut reader = text::open_text(&file.path, file.text).ok()?;
    let mut scanner = Scanner::new(file.separator);
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        };
        if scanner.feed(&buffer[..n], &mut visit) {
            return Some(());
        }
    }
    scanner.finish(&mut visit);
    Some(())
}

/// Splits text into records as polars' reader does: quotes are honoured, a CR before LF is
/// ignored.
struct Scanner {
    separator: u8,
    line: u64,
    quote_opened: u64,
    opened_mid_value: bool,
    /// The previous byte ended a field or a quote: a quote after it is not in the middle of a
    /// value.
    after_boundary: bool,
    record: Record,
    quoted: bool,
    /// The header's number of fields, once it is read.
    header: Option<usize>,
    at_start: bool,
}

impl Scanner {
    fn new(separator: u8) -> Scanner {
        Scanner {
            separator,
            line: 1,
            quote_opened: 1,
            opened_mid_value: false,
            after_boundary: true,
            record: Record {
                line: 1,
                fields: 1,
                ..Record::default()
            },
            quoted: false,
            header: None,
            at_start: true,
        }
    }

    /// Reads `bytes`, showing `visit` each record it completes after the header; true when
    /// `visit` returned true.
    fn feed(&mut self, bytes: &[u8], visit: &mut impl FnMut(&Record, usize) -> bool) -> bool {
        for &b in bytes {
            if self.quoted {
                if b == b'"' {
                    self.quoted = false;
                    self.after_boundary = true;
                    if self.quote_opened != self.line && self.record.spanning_quote.is_none() {
                        self.record.spanning_quote = Some((self.quote_opened, self.line));
                        self.record.spanning_mid_value = self.opened_mid_value;
                    }
                } else if b == b'\n' {
                    self.line += 1;
                }
                continue;
            }
            match b {
                b'"' => {
                    self.quoted = true;
                    self.quote_opened = self.line;
                    self.opened_mid_value = !self.after_boundary;
                }
                b'\n' => {
                    if self.at_start {
                        self.record.fields = 0;
                    }
                    let was_data = self.header.is_some();
                    match self.header {
                        None => self.header = Some(self.record.fields),
                        Some(h) => {
                            if visit(&self.record, h) {
                                return true;
                            }
                        }
                    }
                    self.line += 1;
                    self.record = Record {
                        line: self.line,
                        row: self.record.row + u64::from(was_data),
                        fields: 1,
                        ..Record::default()
                    };
                    self.at_start = true;
                    self.after_boundary = true;
                    continue;
                }
                b'\r' => continue,
                _ if b == self.separator => {
                    self.record.fields += 1;
                    self.at_start = false;
                    self.after_boundary = true;
                    continue;
                }
                _ => {}
            }
            self.at_start = false;
            self.after_boundary = false;
        }
        false
    }

    /// Ends the text: the last record, if it has no line end.
    fn finish(mut self, visit: &mut impl FnMut(&Record, usize) -> bool) {
        if self.quoted {
            self.record.unclosed = true;
            if self.record.spanning_quote.is_none() {
                self.record.spanning_quote = Some((self.quote_opened, self.line));
                self.record.spanning_mid_value = self.opened_mid_value;
            }
        }
        if let Some(h) = self.header
            && (!self.at_start || self.quoted)
        {
            visit(&self.record, h);
        }
    }
}
