//! Reads CSV, gzip CSV and Parquet transaction files into a table with canonical column names.
//!
//! Text stays text: CSV columns are read as strings and parsed by [`crate::clean`], so that a bad
//! value becomes a counted, reported rejection instead of a failed read or a silent null.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::schema::input;

/// The physical format of an input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Plain or compressed (gzip, zlib, zstd) delimited text with a header line.
    Csv,
    Parquet,
}

/// The input as read: canonical column names, values as the file holds them.
#[derive(Debug, Clone)]
pub struct RawInput {
    pub path: PathBuf,
    pub format: Format,
    /// Canonical columns that the file has and that hold at least one value.
    pub present: Vec<&'static str>,
    /// Canonical columns that exist in the file but are empty in every row (treated as missing).
    pub empty: Vec<&'static str>,
    /// The CSV field separator (unused for Parquet).
    pub separator: u8,
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
    let text = e.to_string();
    let message = if text.contains("empty CSV") || text.contains("empty data") {
        "no header line: the file (after decompression) is empty".to_string()
    } else if text.contains("gzip")
        || text.contains("deflate")
        || text.contains("corrupt")
        || text.contains("decompress")
    {
        format!("cannot decompress (truncated or corrupt archive?): {text}")
    } else if text.contains("utf-8") || text.contains("utf8") {
        format!("not valid UTF-8 text: {text}")
    } else {
        match format {
            Format::Csv => format!(
                "cannot read as CSV: {}",
                text.replace("\n\nConsider setting 'truncate_ragged_lines=true'.", "")
            ),
            Format::Parquet => format!("cannot read as Parquet: {text}"),
        }
    };
    Error::input(path, message)
}

/// Opens a CSV file, decompressing gzip and zlib (by their first bytes).
fn open_text(path: &Path) -> std::io::Result<Box<dyn Read>> {
    let mut file = File::open(path)?;
    let mut magic = [0u8; 2];
    let n = file.read(&mut magic)?;
    let file = File::open(path)?;
    Ok(match (n, magic) {
        (2, [0x1f, 0x8b]) => Box::new(flate2::read::MultiGzDecoder::new(file)),
        (2, [0x78, 0x01 | 0x5e | 0x9c | 0xda]) => Box::new(flate2::read::ZlibDecoder::new(file)),
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
    first_record_where(path, separator, |fields, header| fields > header)
}

/// The first record with fewer fields than the header, as [`first_ragged_line`] finds it; a
/// blank line (which polars reads as a row of missing values) has 0 fields.
pub fn first_short_line(path: &Path, separator: u8) -> Option<OddRecord> {
    first_record_where(path, separator, |fields, header| fields < header)
}

fn first_record_where(
    path: &Path,
    separator: u8,
    wrong: impl Fn(usize, usize) -> bool,
) -> Option<OddRecord> {
    let reader = std::io::BufReader::with_capacity(1 << 16, open_text(path).ok()?);
    let (mut line, mut record_line, mut fields, mut row) = (1u64, 1u64, 1usize, 0u64);
    let (mut quoted, mut header, mut at_start) = (false, None::<usize>, true);
    for byte in reader.bytes() {
        let b = byte.ok()?;
        if quoted {
            if b == b'"' {
                quoted = false;
            } else if b == b'\n' {
                line += 1;
            }
            continue;
        }
        match b {
            b'"' => quoted = true,
            b'\n' => {
                let found = if at_start { 0 } else { fields };
                match header {
                    None => header = Some(fields),
                    Some(h) if wrong(found, h) => {
                        return Some(OddRecord {
                            line: record_line,
                            row,
                            fields: found,
                            header: h,
                        });
                    }
                    Some(_) => row += 1,
                }
                line += 1;
                record_line = line;
                fields = 1;
                at_start = true;
                continue;
            }
            b'\r' => continue,
            _ if b == separator => fields += 1,
            _ => {}
        }
        at_start = false;
    }
    match header {
        Some(h) if wrong(fields, h) && !at_start => Some(OddRecord {
            line: record_line,
            row,
            fields,
            header: h,
        }),
        _ => None,
    }
}

/// Reads `path` and selects the mapped columns under their canonical names.
pub fn load(path: &Path, config: &Config) -> Result<RawInput> {
    let format = sniff(path)?;
    let pl_path = PlRefPath::new(path.to_string_lossy().as_ref());
    let mut frame = match format {
        Format::Csv => {
            let separator = config.input.separator.as_bytes()[0];
            LazyCsvReader::new(pl_path)
                .with_has_header(true)
                .with_infer_schema_length(Some(0))
                .with_separator(separator)
                .with_glob(false)
                .finish()
        }
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
        if schema.contains(user) {
            selected.push(col(user).alias(canonical));
            present.push(canonical);
        } else if REQUIRED.contains(&canonical) || user != canonical {
            // A required column, or one the user mapped explicitly, must exist.
            let found: Vec<&str> = schema.iter_names().map(|n| n.as_str()).collect();
            return Err(Error::InputData {
                location: crate::error::Location {
                    path: path.into(),
                    position: Some(crate::error::Position::Line(1)),
                    column: Some(user.to_string()),
                },
                message: format!(
                    "no column '{user}' for {canonical}; the file has columns [{}]; map yours with --col-{} NAME or [columns] {canonical} = \"NAME\" in the config",
                    found.join(", "),
                    canonical.replace('_', "-"),
                ),
            });
        }
    }
    let separator = config.input.separator.as_bytes()[0];
    let table = frame.select(selected).collect().map_err(|e| {
        let ragged = format == Format::Csv && e.to_string().contains("more fields than");
        match ragged.then(|| first_ragged_line(path, separator)).flatten() {
            Some(odd) => Error::InputData {
                location: crate::error::Location {
                    path: path.into(),
                    position: Some(crate::error::Position::Line(odd.line)),
                    column: None,
                },
                message: format!(
                    "{} fields, but the header has {} (separator '{}'); \
                     a separator inside a value needs quotes around the value",
                    odd.fields, odd.header, separator as char
                ),
            },
            None => read_error(path, format, e),
        }
    })?;

    // A column that exists but holds nothing counts as missing (DESIGN.md, "Input").
    let mut empty = Vec::new();
    present.retain(|canonical| {
        let all_null = table
            .column(canonical)
            .map(|c| c.null_count() == table.height() && table.height() > 0)
            .unwrap_or(true);
        if all_null && !REQUIRED.contains(canonical) {
            empty.push(*canonical);
            false
        } else {
            true
        }
    });
    Ok(RawInput {
        path: path.into(),
        format,
        present,
        empty,
        separator,
        table,
    })
}
