//! The first half of cleaning, batch by batch as the input streams in: dates, numbers and ids are
//! parsed, and what a check on the whole column needs is gathered as evidence that adds up over
//! batches (failure counts with the first failing row, the date format each batch read, values
//! with line breaks). [`Reading::finish`] runs the checks on the whole input's evidence.

use polars::prelude::*;

use super::{
    DATE_FAILED, DATE_FAILED_ALT, ORDER_TS_ALT, PRICE_FAILED, QTY_FAILED, RAW_PREFIX, checks, parse,
};
use crate::config::{ColumnMap, InputOptions};
use crate::error::{Error, Result};
use crate::io::batches::Batch;
use crate::io::inputs::Inputs;
use crate::io::read::Format;
use crate::schema::{input, line};

/// Unreadable values of one column: how many, and the first (input row, text).
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct Failures {
    pub count: u64,
    pub first: Option<(u64, String)>,
}

impl Failures {
    fn add(&mut self, failed: &Column, raw: &Column, first_row: u64) -> Result<()> {
        let mask = failed.bool()?;
        let n = u64::from(mask.sum().unwrap_or(0));
        if n == 0 {
            return Ok(());
        }
        self.count += n;
        if self.first.is_none() {
            let at = mask.iter().position(|v| v == Some(true)).unwrap_or(0);
            self.first = Some((first_row + at as u64, checks::text_of(raw, at)?));
        }
        Ok(())
    }
}

/// A date format family's name and the format that read most of it.
type DateFamily = (&'static str, &'static str);

/// How one batch's dates were read.
#[derive(Debug, Clone)]
struct DateBatch {
    first_row: u64,
    rows: u64,
    detected: Option<DateFamily>,
    /// Values read by each export format family that fits the sample.
    family_reads: Vec<(&'static str, u64)>,
    /// Both of two families read every value of this batch, differently: the first such row
    /// (input row, value) and the two; the batch holds the second's values too.
    tie: Option<(u64, String, [DateFamily; 2])>,
}

/// What [`Reading`] gathered from some files, as JSON for [`Reading::absorb`] in another
/// process (`retain shard route` on one file, `retain shard finish` on the driver): rows are the
/// file's own (0-based), names of formats and columns are text.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct Evidence {
    rows: u64,
    date_failures: Failures,
    quantity_failures: Failures,
    price_failures: Failures,
    zoned: u64,
    instead_of_user_format: Option<String>,
    /// (first row, rows, detected (name, format), family reads, tie (row, value, two families)).
    date_batches: Vec<BatchEvidence>,
    multiline: (u64, Option<(u64, String)>),
    any_csv: bool,
}

type FamilyText = (String, String);

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct BatchEvidence {
    first_row: u64,
    rows: u64,
    detected: Option<FamilyText>,
    family_reads: Vec<(String, u64)>,
    tie: Option<(u64, String, [FamilyText; 2])>,
}

fn known(text: &str) -> Result<&'static str> {
    parse::known_format(text).ok_or_else(|| {
        Error::Usage(format!(
            "shard evidence names an unknown date format '{text}'"
        ))
    })
}

fn family_of(text: &FamilyText) -> Result<DateFamily> {
    Ok((known(&text.0)?, known(&text.1)?))
}

fn family_text(family: &DateFamily) -> FamilyText {
    (family.0.to_string(), family.1.to_string())
}

/// Input rows `[start, end)` whose dates are read by the second family of their batch's tie.
pub type DateFlips = Vec<(u64, u64)>;

/// Parses the input batch by batch and gathers the evidence of [`Reading::finish`].
pub struct Reading<'a> {
    columns: &'a ColumnMap,
    options: &'a InputOptions,
    /// Canonical columns some file of the input has.
    exists: Vec<&'static str>,
    /// Keep the values as read (for the quarantine list), in columns named [`RAW_PREFIX`] + name.
    keep_raw: bool,
    date_format: Option<String>,
    time_zone: Option<TimeZone>,
    /// The first text batch's date sample: every batch judges formats on it.
    date_sample: Option<Column>,
    rows: u64,
    date_failures: Failures,
    quantity_failures: Failures,
    price_failures: Failures,
    zoned: u64,
    instead_of_user_format: Option<&'static str>,
    date_batches: Vec<DateBatch>,
    /// Values with a line break: how many, and the first (input row, canonical column).
    multiline: (u64, Option<(u64, &'static str)>),
    any_csv: bool,
}

impl<'a> Reading<'a> {
    pub fn new(
        columns: &'a ColumnMap,
        options: &'a InputOptions,
        exists: Vec<&'static str>,
        keep_raw: bool,
    ) -> Result<Reading<'a>> {
        Ok(Reading {
            columns,
            options,
            exists,
            keep_raw,
            date_format: options.date_format_used(),
            time_zone: options.zone().map_err(Error::Usage)?,
            date_sample: None,
            rows: 0,
            date_failures: Failures::default(),
            quantity_failures: Failures::default(),
            price_failures: Failures::default(),
            zoned: 0,
            instead_of_user_format: None,
            date_batches: Vec::new(),
            multiline: (0, None),
            any_csv: false,
        })
    }

    /// Judges every batch's date formats on `sample` (the first 1,000 dates of the whole
    /// input's first batch that holds text dates, [`Reading::date_sample`]), as a reading of the
    /// whole input would, when this one reads only a later file.
    pub fn with_date_sample(mut self, sample: Option<Vec<String>>) -> Reading<'a> {
        self.date_sample = sample.map(|values| Column::new(input::ORDER_DATE.into(), values));
        self
    }

    /// The sample dates are judged on, once a batch with text dates has been read.
    pub fn date_sample(&self) -> Result<Option<Vec<String>>> {
        match &self.date_sample {
            Some(sample) => Ok(Some(
                sample
                    .str()?
                    .iter()
                    .map(|v| v.unwrap_or_default().to_string())
                    .collect(),
            )),
            None => Ok(None),
        }
    }

    /// The evidence gathered so far, to be absorbed by another reading.
    pub fn evidence(&self) -> Evidence {
        Evidence {
            rows: self.rows,
            date_failures: self.date_failures.clone(),
            quantity_failures: self.quantity_failures.clone(),
            price_failures: self.price_failures.clone(),
            zoned: self.zoned,
            instead_of_user_format: self.instead_of_user_format.map(str::to_string),
            date_batches: self
                .date_batches
                .iter()
                .map(|b| BatchEvidence {
                    first_row: b.first_row,
                    rows: b.rows,
                    detected: b.detected.as_ref().map(family_text),
                    family_reads: b
                        .family_reads
                        .iter()
                        .map(|(name, n)| (name.to_string(), *n))
                        .collect(),
                    tie: b.tie.as_ref().map(|(row, value, [a, b])| {
                        (*row, value.clone(), [family_text(a), family_text(b)])
                    }),
                })
                .collect(),
            multiline: (
                self.multiline.0,
                self.multiline.1.map(|(row, c)| (row, c.to_string())),
            ),
            any_csv: self.any_csv,
        }
    }

    /// Adds the evidence of a file read elsewhere whose rows start at input row `offset`, as if
    /// its batches had been read here next: call it for the files in input order.
    pub fn absorb(&mut self, evidence: Evidence, offset: u64) -> Result<()> {
        self.rows += evidence.rows;
        for (mine, theirs) in [
            (&mut self.date_failures, evidence.date_failures),
            (&mut self.quantity_failures, evidence.quantity_failures),
            (&mut self.price_failures, evidence.price_failures),
        ] {
            mine.count += theirs.count;
            if mine.first.is_none() {
                mine.first = theirs.first.map(|(row, text)| (row + offset, text));
            }
        }
        self.zoned += evidence.zoned;
        if self.instead_of_user_format.is_none()
            && let Some(used) = evidence.instead_of_user_format
        {
            self.instead_of_user_format = Some(known(&used)?);
        }
        for b in evidence.date_batches {
            self.date_batches.push(DateBatch {
                first_row: b.first_row + offset,
                rows: b.rows,
                detected: b.detected.as_ref().map(family_of).transpose()?,
                family_reads: b
                    .family_reads
                    .iter()
                    .map(|(name, n)| Ok((known(name)?, *n)))
                    .collect::<Result<_>>()?,
                tie: match b.tie {
                    Some((row, value, [a, b])) => {
                        Some((row + offset, value, [family_of(&a)?, family_of(&b)?]))
                    }
                    None => None,
                },
            });
        }
        self.multiline.0 += evidence.multiline.0;
        if self.multiline.1.is_none()
            && let Some((row, column)) = evidence.multiline.1
        {
            let canonical = input::ALL
                .into_iter()
                .find(|c| *c == column)
                .ok_or_else(|| {
                    Error::Usage(format!("shard evidence names an unknown column '{column}'"))
                })?;
            self.multiline.1 = Some((row + offset, canonical));
        }
        self.any_csv |= evidence.any_csv;
        Ok(())
    }

    /// The batch's values parsed: the input row ([`line::ROW`]), order time and date failure,
    /// quantity and price with their failures, and the text columns (ids trimmed, empty ids
    /// missing, float-style customer ids read as integers). A column no file has is missing (a
    /// quantity of 1 where the input has none); a file without a column some other file has
    /// gives missing values.
    pub fn read(&mut self, batch: &Batch, format: Format) -> Result<DataFrame> {
        let table = &batch.table;
        let height = table.height();
        let first = batch.first_row;
        self.rows += height as u64;
        let mut out: Vec<Column> = Vec::with_capacity(16);
        let rows: Vec<IdxSize> = (0..height as u64).map(|r| (first + r) as IdxSize).collect();
        out.push(Column::new(line::ROW.into(), rows));
        if format == Format::Csv {
            self.any_csv = true;
            self.note_line_breaks(table, first)?;
        }
        // The text columns need nothing of the reading's state: they are read on the other core
        // while this one reads dates and numbers (the batch's values, not its order, decide).
        let (typed, text) = rayon::join(
            || -> Result<Vec<Column>> {
                let mut typed = self.read_dates(table, first)?;
                typed.extend(self.read_numbers(table, first)?);
                Ok(typed)
            },
            || -> Result<Vec<Column>> {
                use rayon::prelude::*;
                [
                    input::CUSTOMER_ID,
                    input::ORDER_ID,
                    input::PRODUCT_ID,
                    input::PRODUCT_NAME,
                    input::COUNTRY,
                ]
                .into_par_iter()
                .map(|canonical| {
                    Ok(match table.column(canonical) {
                        Ok(column) => match canonical {
                            input::CUSTOMER_ID => parse::normalise_id(column, true)?,
                            input::ORDER_ID | input::PRODUCT_ID => {
                                parse::normalise_id(column, false)?
                            }
                            _ => column.cast(&DataType::String)?,
                        },
                        Err(_) => Column::full_null(canonical.into(), height, &DataType::String),
                    })
                })
                .collect()
            },
        );
        out.extend(typed?);
        out.extend(text?);
        if self.keep_raw {
            for canonical in input::ALL {
                if self.exists.contains(&canonical) {
                    let name = format!("{RAW_PREFIX}{canonical}");
                    out.push(match table.column(canonical) {
                        Ok(column) => column.cast(&DataType::String)?.with_name(name.into()),
                        Err(_) => Column::full_null(name.into(), height, &DataType::String),
                    });
                }
            }
        }
        Ok(DataFrame::new(height, out)?)
    }

    fn note_line_breaks(&mut self, table: &DataFrame, first_row: u64) -> Result<()> {
        if let Some((n, at, canonical)) = checks::line_breaks(table)? {
            self.multiline.0 += n;
            if self.multiline.1.is_none() {
                self.multiline.1 = Some((first_row + at, canonical));
            }
        }
        Ok(())
    }

    fn read_dates(&mut self, table: &DataFrame, first_row: u64) -> Result<Vec<Column>> {
        let raw = table.column(input::ORDER_DATE)?;
        let text = matches!(raw.dtype(), DataType::String);
        if text && self.date_sample.is_none() && raw.len() > raw.null_count() {
            self.date_sample = Some(parse::date_sample(raw)?);
        }
        let date = parse::parse_datetime_sampled(
            raw,
            self.date_format.as_deref(),
            self.time_zone.as_ref(),
            if text {
                self.date_sample.as_ref()
            } else {
                None
            },
        )?;
        let tie = match date.dates.ambiguous {
            Some((row, readings)) => {
                Some((first_row + row as u64, checks::text_of(raw, row)?, readings))
            }
            None => None,
        };
        if text && raw.len() > raw.null_count() {
            self.date_batches.push(DateBatch {
                first_row,
                rows: raw.len() as u64,
                detected: date.dates.detected,
                family_reads: date.dates.family_reads.clone(),
                tie,
            });
        }
        self.zoned += date.dates.zoned;
        if self.instead_of_user_format.is_none() {
            self.instead_of_user_format = date.dates.instead_of_user_format;
        }
        self.date_failures.add(&date.failed, raw, first_row)?;
        let mut out = vec![
            date.values.with_name(line::ORDER_TS.into()),
            date.failed.with_name(DATE_FAILED.into()),
        ];
        if date.dates.detected.is_some() {
            // An export format: the other family's reading, where the two tie in this batch.
            let height = raw.len();
            out.extend(match date.dates.alternative {
                Some(other) => {
                    let failed = (raw.is_not_null() & other.is_null()).into_column();
                    [
                        other.with_name(ORDER_TS_ALT.into()),
                        failed.with_name(DATE_FAILED_ALT.into()),
                    ]
                }
                None => alternative_nulls(height),
            });
        }
        Ok(out)
    }

    fn read_numbers(&mut self, table: &DataFrame, first_row: u64) -> Result<Vec<Column>> {
        let height = table.height();
        let mut out = Vec::with_capacity(4);
        for (canonical, flag) in [
            (input::QUANTITY, QTY_FAILED),
            (input::UNIT_PRICE, PRICE_FAILED),
        ] {
            if !self.exists.contains(&canonical) {
                out.extend(absent_number(canonical, flag, height));
                continue;
            }
            let (values, failed) = match table.column(canonical) {
                Ok(raw) => {
                    let parsed = parse::parse_number(raw, self.options.decimal_comma)?;
                    let failures = if canonical == input::QUANTITY {
                        &mut self.quantity_failures
                    } else {
                        &mut self.price_failures
                    };
                    failures.add(&parsed.failed, raw, first_row)?;
                    (parsed.values, parsed.failed)
                }
                // Another file has the column; this one's rows have no value.
                Err(_) => (
                    Column::full_null(canonical.into(), height, &DataType::Float64),
                    Column::new_scalar(flag.into(), Scalar::from(false), height),
                ),
            };
            out.push(values.with_name(canonical.into()));
            out.push(failed.with_name(flag.into()));
        }
        Ok(out)
    }

    /// Checks the whole input's evidence: refuses a date column that reads two ways, and a
    /// column with too many unreadable values (`present`: columns holding values); returns the
    /// notes on how values were read.
    pub fn finish(
        self,
        inputs: &Inputs,
        present: &[&'static str],
    ) -> Result<(Vec<String>, DateFlips)> {
        let columns = self.columns;
        let options = self.options;
        let date_column = columns.source_name(input::ORDER_DATE);
        let (detected, flips) = self.date_family(inputs, date_column)?;
        let expected_date = match detected {
            Some((name, format)) => format!(
                "a date as {name} ({format}), the format of this column's first values (set input.date_format or --date-format)"
            ),
            None => {
                let formats: Vec<&str> = self
                    .date_format
                    .iter()
                    .map(String::as_str)
                    .chain(parse::DATE_FORMATS)
                    .collect();
                format!(
                    "a date in one of the formats {formats:?}, optionally with a UTC offset, or a common export format such as 09/12/2011 or 09.12.2011 (set input.date_format or --date-format)"
                )
            }
        };
        let max_share = options.max_unparseable_share;
        checks::check_failures(
            inputs,
            self.rows,
            date_column,
            &self.date_failures,
            max_share,
            |bad| expected_date + &checks::date_hint(bad),
        )?;
        for (canonical, failures) in [
            (input::QUANTITY, &self.quantity_failures),
            (input::UNIT_PRICE, &self.price_failures),
        ] {
            if !present.contains(&canonical) {
                continue;
            }
            let decimal_comma = options.decimal_comma;
            checks::check_failures(
                inputs,
                self.rows,
                columns.source_name(canonical),
                failures,
                max_share,
                |bad: &str| {
                    if decimal_comma {
                        "a number with a decimal comma such as 12 or 2,55 (--decimal-comma is set)"
                    } else if bad.contains(',') && parse::decimal_comma_number(bad).is_some() {
                        "a number such as 12 or 2.55; values like this one use a decimal comma: pass --decimal-comma (input.decimal_comma = true)"
                    } else {
                        "a number such as 12 or 2.55"
                    }
                    .to_string()
                },
            )?;
        }

        let mut notes = Vec::new();
        if self.any_csv
            && let (count, Some((row, canonical))) = self.multiline
        {
            notes.push(format!(
                "{} a line break (the first in column '{}', {}): a quoted value may, but if its opening quote is a stray one, the lines up to the next quote were read as that one value, not as rows",
                if count == 1 {
                    "1 value holds".to_string()
                } else {
                    format!("{count} values hold")
                },
                columns.source_name(canonical),
                inputs.locate(row)
            ));
        }
        if let (Some(used), Some(given)) = (self.instead_of_user_format, &self.date_format) {
            notes.push(format!(
                "the date format \"{given}\" (--date-format or input.date_format) did not read all of the first 1,000 order dates; \"{used}\" did, and was used"
            ));
        }
        if let Some((name, format)) = detected {
            notes.push(format!(
                "order dates read as {name} ({format}): no ISO 8601 format fits them; --date-format overrides"
            ));
        }
        if self.zoned > 0 {
            let n = self.zoned;
            notes.push(match &options.time_zone {
                Some(tz) => format!(
                    "{n} order dates carry a UTC offset or time zone: converted to {tz} local time"
                ),
                None => format!(
                    "{n} order dates carry a UTC offset or time zone: their local time as written is used (--time-zone converts them to one zone)"
                ),
            });
        }
        Ok((notes, flips))
    }

    /// The export format family of the whole date column (the one that reads most values over
    /// all batches, as if the column were read at once) and the batches that read it second in
    /// a tie. Refuses a column whose families read equally well but differently, and one whose
    /// batches read best in different families.
    fn date_family(
        &self,
        inputs: &Inputs,
        date_column: &str,
    ) -> Result<(Option<DateFamily>, DateFlips)> {
        let mut totals: Vec<(&'static str, u64)> = Vec::new();
        for batch in &self.date_batches {
            for (name, n) in &batch.family_reads {
                match totals.iter_mut().find(|(t, _)| t == name) {
                    Some((_, total)) => *total += n,
                    None => totals.push((name, *n)),
                }
            }
        }
        // Most values read first; among equals, the order of the export formats.
        totals.sort_by_key(|t| std::cmp::Reverse(t.1));
        let first_tie = self.date_batches.iter().find_map(|b| b.tie.as_ref());
        if let (Some((row, value, [(a, format_a), (b, format_b)])), [best, second, ..]) =
            (first_tie, totals.as_slice())
            && best.1 == second.1
        {
            return Err(inputs.error_at(
                *row,
                Some(date_column),
                format!(
                    "'{value}' reads as {a} and as {b}, and every date in the column fits both; \
                     say which with --date-format \"{format_a}\" or \"{format_b}\" (or input.date_format)"
                ),
            ));
        }
        let winner = totals.first().map(|t| t.0);
        let mut flips = Vec::new();
        let mut detected = None;
        for batch in &self.date_batches {
            let read_as = match (&batch.tie, batch.detected) {
                (Some((_, _, [_, second])), _) if Some(second.0) == winner => {
                    flips.push((batch.first_row, batch.first_row + batch.rows));
                    Some(*second)
                }
                (_, read) => read,
            };
            let first = self.date_batches.first();
            if read_as.map(|d| d.0) != winner.or(first.and_then(|b| b.detected.map(|d| d.0))) {
                let name =
                    |d: Option<&str>| d.map_or("an ISO 8601 format".to_string(), |n| n.to_string());
                return Err(inputs.error_at(
                    batch.first_row,
                    Some(date_column),
                    format!(
                        "the order dates from here on read best as {}, most others as {}; say \
                         which with --date-format (or input.date_format)",
                        name(read_as.map(|d| d.0)),
                        name(winner)
                    ),
                ));
            }
            if detected.is_none() {
                detected = read_as;
            }
        }
        Ok((detected, flips))
    }
}

/// The columns of a second date reading, empty: for batches without a tie.
pub(super) fn alternative_nulls(height: usize) -> [Column; 2] {
    [
        Column::full_null(
            ORDER_TS_ALT.into(),
            height,
            &DataType::Datetime(TimeUnit::Microseconds, None),
        ),
        Column::new_scalar(DATE_FAILED_ALT.into(), Scalar::from(false), height),
    ]
}

/// A number column the input lacks: quantity 1 (every line is one unit), price missing.
pub(super) fn absent_number(canonical: &str, flag: &str, height: usize) -> [Column; 2] {
    let default = if canonical == input::QUANTITY {
        Some(1.0)
    } else {
        None
    };
    [
        Column::new_scalar(
            canonical.into(),
            Scalar::new(
                DataType::Float64,
                default.map_or(AnyValue::Null, AnyValue::Float64),
            ),
            height,
        ),
        Column::new_scalar(flag.into(), Scalar::from(false), height),
    ]
}
