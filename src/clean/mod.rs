//! Cleaning rules and row accounting: every input row is kept or rejected with exactly one reason.
//!
//! Reasons are checked in the order of [`Reason::ALL`]; a row gets the first one that applies.
//! Some rejected rows still carry meaning and stay in the line table with their [`LineKind`]:
//! cancellations and returns lower a customer's monetary value, and non-product lines (postage,
//! fees) show that the customer placed an order (DESIGN.md counts them as valid purchases).

pub mod encode;
pub mod parse;

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::BuildHasherDefault;

use polars::prelude::*;
use rayon::prelude::*;
use serde::Serialize;

use crate::config::{CleaningRules, InputOptions};
use crate::error::{Error, Location, Position, Result, Unparseable};
use crate::io::read::{Format, InputFile, RawInput};
use crate::schema::{input, line};

/// Why a row is not a purchase line. `Kept` is the absence of a reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Kept = 0,
    /// A date, quantity or price that cannot be read (or a blank quantity or price).
    Unparseable = 1,
    MissingOrderDate = 2,
    MissingCustomerId = 3,
    /// The order id carries the cancellation prefix.
    Cancellation = 4,
    /// Negative quantity on an ordinary order.
    Return = 5,
    ZeroQuantity = 6,
    /// Postage, fees, manual adjustments, vouchers: not products.
    NonProduct = 7,
    NonPositivePrice = 8,
    /// Every input column equal to an earlier row.
    Duplicate = 9,
}

impl Reason {
    /// In order of precedence.
    pub const ALL: [Reason; 10] = [
        Reason::Kept,
        Reason::Unparseable,
        Reason::MissingOrderDate,
        Reason::MissingCustomerId,
        Reason::Cancellation,
        Reason::Return,
        Reason::ZeroQuantity,
        Reason::NonProduct,
        Reason::NonPositivePrice,
        Reason::Duplicate,
    ];

    pub fn code(self) -> i32 {
        self as i32
    }

    pub fn from_code(code: i32) -> Option<Reason> {
        Reason::ALL.get(usize::try_from(code).ok()?).copied()
    }

    pub fn name(self) -> &'static str {
        match self {
            Reason::Kept => "kept",
            Reason::Unparseable => "unparseable_value",
            Reason::MissingOrderDate => "missing_order_date",
            Reason::MissingCustomerId => "missing_customer_id",
            Reason::Cancellation => "cancellation",
            Reason::Return => "return",
            Reason::ZeroQuantity => "zero_quantity",
            Reason::NonProduct => "non_product_code",
            Reason::NonPositivePrice => "non_positive_price",
            Reason::Duplicate => "duplicate",
        }
    }

    /// What happens to a row with this reason, for reports.
    pub fn effect(self) -> &'static str {
        match self {
            Reason::Kept => "purchase line",
            Reason::Cancellation | Reason::Return => {
                "not a purchase; its value lowers monetary value"
            }
            Reason::NonProduct => {
                "not a product; counts as order activity when quantity and price are positive"
            }
            _ => "dropped",
        }
    }
}

/// What a row in the line table is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// Rejected and unused (only in the quarantine file).
    Ignored = 0,
    Purchase = 1,
    /// Valid purchase of something that is not a product: order activity, no monetary value.
    NonProduct = 2,
    /// Cancellation or return: negative value, not a purchase.
    Return = 3,
}

impl LineKind {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// Rows read, kept and rejected per reason; `rows_kept + Σ rejected == rows_read` always holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Accounting {
    pub rows_read: u64,
    pub rows_kept: u64,
    pub rows_rejected: u64,
    /// Reason name → rows; every reason is listed, zero counts included.
    pub rejected: BTreeMap<&'static str, u64>,
}

impl Accounting {
    fn from_counts(counts: &[u64; 10], rows_read: u64) -> Result<Accounting> {
        let rows_kept = counts[0];
        let rejected: BTreeMap<_, _> = Reason::ALL[1..]
            .iter()
            .map(|r| (r.name(), counts[r.code() as usize]))
            .collect();
        let rows_rejected: u64 = rejected.values().sum();
        if rows_kept + rows_rejected != rows_read {
            return Err(Error::Internal(format!(
                "row accounting does not add up: {rows_kept} kept + {rows_rejected} rejected != {rows_read} read"
            )));
        }
        Ok(Accounting {
            rows_read,
            rows_kept,
            rows_rejected,
            rejected,
        })
    }

    pub fn count(&self, reason: Reason) -> u64 {
        match reason {
            Reason::Kept => self.rows_kept,
            r => self.rejected.get(r.name()).copied().unwrap_or(0),
        }
    }
}

/// Cleaned purchase data: the line table every later stage reads, and how it was obtained.
#[derive(Debug, Clone)]
pub struct Transactions {
    /// The file read, to find a row in it again.
    pub file: InputFile,
    /// Canonical columns the input has (and that are not empty).
    pub present: Vec<&'static str>,
    /// Canonical columns that exist in the input but are empty in every row.
    pub empty: Vec<&'static str>,
    /// Purchase, non-product and return lines (columns in [`crate::schema::line`]).
    pub lines: DataFrame,
    /// `customer_ix` → `customer_id` for every customer in `lines`.
    pub customers: DataFrame,
    /// `product_ix` → `product_id`, `product_name` for every product in `lines`.
    pub products: DataFrame,
    pub accounting: Accounting,
    /// What the user should know about how values were read (e.g. dates with a UTC offset).
    pub notes: Vec<String>,
}

impl Transactions {
    pub fn has(&self, canonical: &str) -> bool {
        self.present.contains(&canonical)
    }
}

/// The result of cleaning: transactions plus, when asked for, every rejected row with its reason.
pub struct Cleaned {
    pub transactions: Transactions,
    /// Columns: `line` (or `row` for Parquet), `reason`, then the canonical input columns as read.
    pub rejected: Option<DataFrame>,
}

const DATE_FAILED: &str = "__date_failed";
const QTY_FAILED: &str = "__quantity_failed";
const PRICE_FAILED: &str = "__price_failed";
const NON_PRODUCT: &str = "__non_product";
const DUPLICATE: &str = "__duplicate";

/// A note when CSV values hold line breaks. Quoted values may, but a stray quote makes the lines
/// up to the next quote one value, and a reader cannot tell: the user should look at the line.
fn multiline_values(raw: &RawInput, columns: &crate::config::ColumnMap) -> Result<Option<String>> {
    if raw.file.format != Format::Csv {
        return Ok(None);
    }
    let suspects: Vec<(&str, &StringChunked)> = input::ALL
        .par_iter()
        .filter_map(|&canonical| {
            let text = raw.table.column(canonical).ok()?.str().ok()?;
            may_hold_line_break(text).then_some((canonical, text))
        })
        .collect();
    let (mut count, mut first) = (0u64, None::<(usize, &str)>);
    for (canonical, text) in suspects {
        let breaks = text.contains_literal("\n")?;
        let n = u64::from(breaks.sum().unwrap_or(0));
        if n == 0 {
            continue;
        }
        count += n;
        let row = breaks.iter().position(|b| b == Some(true)).unwrap_or(0);
        if first.is_none_or(|(r, _)| row < r) {
            first = Some((row, canonical));
        }
    }
    Ok(first.map(|(row, canonical)| {
        format!(
            "{} a line break (the first in column '{}', {}): a quoted value may, but if its opening quote is a stray one, the lines up to the next quote were read as that one value, not as rows",
            if count == 1 { "1 value holds".to_string() } else { format!("{count} values hold") },
            columns.source_name(canonical),
            raw.file.position(row as u64)
        )
    }))
}

/// False when no value of `text` holds a line break; a quick look at the raw bytes (a memchr over
/// the string buffers and the short values kept inside their views): 0.24 s on 12 M rows of 8
/// columns where testing value by value took 1-1.8 s. True may be wrong (a buffer can hold bytes
/// no value uses), so a column it flags is then tested value by value.
fn may_hold_line_break(text: &StringChunked) -> bool {
    text.downcast_iter().any(|array| {
        array
            .data_buffers()
            .iter()
            .any(|buffer| buffer.contains(&b'\n'))
            || array.views().iter().any(|view| {
                view.get_inlined_slice()
                    .is_some_and(|bytes| bytes.contains(&b'\n'))
            })
    })
}

/// What an unreadable date looks like, when it looks like something known that is not a date.
fn date_hint(bad: &str) -> String {
    let digits = bad.bytes().all(|b| b.is_ascii_digit());
    let time_only = bad.len() >= 5
        && bad.as_bytes()[2] == b':'
        && bad
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b':' || b == b'.');
    if digits && (9..=10).contains(&bad.len()) {
        format!(
            "; '{bad}' looks like a Unix timestamp in seconds: --date-format %s reads those (as UTC times)"
        )
    } else if digits && bad.len() == 13 {
        format!(
            "; '{bad}' looks like a Unix timestamp in milliseconds: export the dates as dates, or convert the column first"
        )
    } else if time_only {
        "; this column holds times of day without a date: map the column with the order date (--col-order-date)".to_string()
    } else {
        String::new()
    }
}

/// The input's value in one row, as text for a message.
fn value_text(raw: &RawInput, canonical: &str, row: usize) -> Result<String> {
    Ok(match raw.table.column(canonical)?.get(row)? {
        AnyValue::Null => String::new(),
        AnyValue::String(s) => s.to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        other => other.to_string(),
    })
}

/// Refuses a column where too many values fail to parse, naming the first bad one.
fn check_failures(
    raw: &RawInput,
    canonical: &str,
    user_name: &str,
    failed: &Column,
    max_share: f64,
    expected: impl FnOnce(&str) -> String,
) -> Result<()> {
    let mask = failed.bool()?;
    let count = mask.sum().unwrap_or(0) as u64;
    let rows = raw.table.height().max(1) as f64;
    let share = count as f64 / rows;
    if count == 0 || share <= max_share {
        return Ok(());
    }
    let first = mask.iter().position(|v| v == Some(true)).unwrap_or(0);
    let value = value_text(raw, canonical, first)?;
    if value.is_empty()
        && raw.file.format == Format::Csv
        && let Some(odd) = crate::io::read::first_short_line(&raw.file.path, raw.file.separator)
        && odd.row == first as u64
    {
        return Err(Error::input_at(
            &raw.file.path,
            Position::Line(odd.line),
            None,
            if odd.fields == 0 {
                format!("the line is blank, so '{user_name}' has no value")
            } else {
                format!(
                    "{} fields, but the header has {} (separator '{}'): the line is cut short, so '{user_name}' has no value",
                    odd.fields, odd.header, raw.file.separator as char
                )
            },
        ));
    }
    Err(Error::Unparseable(Box::new(Unparseable {
        location: Location {
            path: raw.file.path.clone(),
            position: Some(raw.file.position(first as u64)),
            column: Some(user_name.to_string()),
        },
        expected: expected(&value),
        value,
        count,
        share_pct: share * 100.0,
    })))
}

/// Classifies every row of `raw` and builds the line table.
pub fn clean(
    mut raw: RawInput,
    columns: &crate::config::ColumnMap,
    rules: &CleaningRules,
    options: &InputOptions,
    keep_rejected: bool,
) -> Result<Cleaned> {
    let height = raw.table.height();
    let table = &raw.table;
    let present = raw.present.clone();
    let has = |c: &str| present.contains(&c);

    let date_format = options.date_format_used();
    let time_zone = options.zone().map_err(Error::Usage)?;
    let date = parse::parse_datetime(
        table.column(input::ORDER_DATE)?,
        date_format.as_deref(),
        time_zone.as_ref(),
    )?;
    let date_column = columns.source_name(input::ORDER_DATE);
    if let Some((row, [(a, format_a), (b, format_b)])) = date.dates.ambiguous {
        return Err(Error::input_at(
            &raw.file.path,
            raw.file.position(row as u64),
            Some(date_column),
            format!(
                "'{}' reads as {a} and as {b}, and every date in the column fits both; \
                 say which with --date-format \"{format_a}\" or \"{format_b}\" (or input.date_format)",
                value_text(&raw, input::ORDER_DATE, row)?
            ),
        ));
    }
    let expected = match date.dates.detected {
        Some((name, format)) => format!(
            "a date as {name} ({format}), the format of this column's first values (set input.date_format or --date-format)"
        ),
        None => {
            let formats: Vec<&str> = date_format
                .iter()
                .map(String::as_str)
                .chain(parse::DATE_FORMATS)
                .collect();
            format!(
                "a date in one of the formats {formats:?}, optionally with a UTC offset, or a common export format such as 09/12/2011 or 09.12.2011 (set input.date_format or --date-format)"
            )
        }
    };
    check_failures(
        &raw,
        input::ORDER_DATE,
        date_column,
        &date.failed,
        options.max_unparseable_share,
        |bad| expected + &date_hint(bad),
    )?;

    let mut notes = Vec::new();
    if let Some(note) = multiline_values(&raw, columns)? {
        notes.push(note);
    }
    if let (Some(used), Some(given)) = (date.dates.instead_of_user_format, &date_format) {
        notes.push(format!(
            "the date format \"{given}\" (--date-format or input.date_format) did not read all of the first 1,000 order dates; \"{used}\" did, and was used"
        ));
    }
    if let Some((name, format)) = date.dates.detected {
        notes.push(format!(
            "order dates read as {name} ({format}): no ISO 8601 format fits them; --date-format overrides"
        ));
    }
    if date.dates.zoned > 0 {
        let n = date.dates.zoned;
        notes.push(match &options.time_zone {
            Some(tz) => format!(
                "{n} order dates carry a UTC offset or time zone: converted to {tz} local time"
            ),
            None => format!(
                "{n} order dates carry a UTC offset or time zone: their local time as written is used (--time-zone converts them to one zone)"
            ),
        });
    }
    let mut work = vec![
        date.values.with_name(line::ORDER_TS.into()),
        date.failed.with_name(DATE_FAILED.into()),
    ];
    for (canonical, flag) in [
        (input::QUANTITY, QTY_FAILED),
        (input::UNIT_PRICE, PRICE_FAILED),
    ] {
        if has(canonical) {
            let parsed = parse::parse_number(table.column(canonical)?, options.decimal_comma)?;
            let expected = |bad: &str| {
                if options.decimal_comma {
                    "a number with a decimal comma such as 12 or 2,55 (--decimal-comma is set)"
                } else if bad.contains(',') && parse::decimal_comma_number(bad).is_some() {
                    "a number such as 12 or 2.55; values like this one use a decimal comma: pass --decimal-comma (input.decimal_comma = true)"
                } else {
                    "a number such as 12 or 2.55"
                }
                .to_string()
            };
            check_failures(
                &raw,
                canonical,
                columns.source_name(canonical),
                &parsed.failed,
                options.max_unparseable_share,
                expected,
            )?;
            work.push(parsed.values.with_name(canonical.into()));
            work.push(parsed.failed.with_name(flag.into()));
        } else {
            let default = if canonical == input::QUANTITY {
                Some(1.0)
            } else {
                None
            };
            work.push(Column::new_scalar(
                canonical.into(),
                Scalar::new(
                    DataType::Float64,
                    default.map_or(AnyValue::Null, AnyValue::Float64),
                ),
                height,
            ));
            work.push(Column::new_scalar(flag.into(), Scalar::from(false), height));
        }
    }
    for canonical in [
        input::CUSTOMER_ID,
        input::ORDER_ID,
        input::PRODUCT_ID,
        input::PRODUCT_NAME,
        input::COUNTRY,
    ] {
        let column = if has(canonical) {
            match canonical {
                input::CUSTOMER_ID => parse::normalise_id(table.column(canonical)?, true)?,
                input::ORDER_ID | input::PRODUCT_ID => {
                    parse::normalise_id(table.column(canonical)?, false)?
                }
                _ => table.column(canonical)?.cast(&DataType::String)?,
            }
        } else {
            Column::full_null(canonical.into(), height, &DataType::String)
        };
        work.push(column);
    }
    let mut work = DataFrame::new(height, work)?;
    if !keep_rejected {
        // Every value is parsed and checked: the text as read is needed again only for the
        // quarantine list. Columns the work table shares (text kept as it was) stay alive.
        raw.table = DataFrame::empty();
        crate::memory::release();
    }
    let non_product_codes: HashSet<&str> =
        rules.non_product_codes.iter().map(String::as_str).collect();
    let non_product: BooleanChunked = work
        .column(input::PRODUCT_ID)?
        .str()?
        .iter()
        .map(|v| {
            Some(v.is_some_and(|code| {
                non_product_codes.contains(code)
                    || rules
                        .non_product_prefixes
                        .iter()
                        .any(|p| code.starts_with(p.as_str()))
            }))
        })
        .collect();
    work.with_column(non_product.with_name(NON_PRODUCT.into()).into_column())?;

    let duplicate = if rules.drop_duplicates {
        duplicate_mask(&work)?
    } else {
        BooleanChunked::full(DUPLICATE.into(), false, height)
    };
    work.with_column(duplicate.with_name(DUPLICATE.into()).into_column())?;
    let needs_day_key = work.column(input::ORDER_ID)?.null_count() > 0;
    let lazy = work.lazy().with_row_index(line::ROW, None);

    let cancelled = if rules.cancellation_prefix.is_empty() {
        lit(false)
    } else {
        col(input::ORDER_ID)
            .str()
            .starts_with(lit(rules.cancellation_prefix.clone()))
            .fill_null(lit(false))
    };
    let code = |r: Reason| lit(r.code());
    let reason = when(col(DATE_FAILED).or(col(QTY_FAILED)).or(col(PRICE_FAILED)))
        .then(code(Reason::Unparseable))
        .when(col(line::ORDER_TS).is_null())
        .then(code(Reason::MissingOrderDate))
        .when(col(input::CUSTOMER_ID).is_null())
        .then(code(Reason::MissingCustomerId))
        .when(cancelled)
        .then(code(Reason::Cancellation))
        .when(col(input::QUANTITY).lt(lit(0.0)))
        .then(code(Reason::Return))
        .when(col(input::QUANTITY).eq(lit(0.0)))
        .then(code(Reason::ZeroQuantity))
        .when(col(NON_PRODUCT))
        .then(code(Reason::NonProduct))
        .when(col(input::UNIT_PRICE).lt_eq(lit(0.0)))
        .then(code(Reason::NonPositivePrice))
        .when(col(DUPLICATE))
        .then(code(Reason::Duplicate))
        .otherwise(code(Reason::Kept));

    let priced = col(input::UNIT_PRICE)
        .gt(lit(0.0))
        .or(col(input::UNIT_PRICE).is_null());
    let is = |r: Reason| col(line::REASON).eq(code(r));
    let kind_code = |k: LineKind| lit(k.code());
    let kind = when(col(DUPLICATE))
        .then(kind_code(LineKind::Ignored))
        .when(is(Reason::Kept))
        .then(kind_code(LineKind::Purchase))
        .when(
            is(Reason::NonProduct)
                .and(col(input::QUANTITY).gt(lit(0.0)))
                .and(priced.clone()),
        )
        .then(kind_code(LineKind::NonProduct))
        .when(is(Reason::Cancellation).or(is(Reason::Return)).and(priced))
        .then(kind_code(LineKind::Return))
        .otherwise(kind_code(LineKind::Ignored));

    let value = if has(input::UNIT_PRICE) {
        col(input::QUANTITY) * col(input::UNIT_PRICE)
    } else {
        lit(1.0)
    };
    let line_value = when(col(line::KIND).eq(kind_code(LineKind::Return)))
        .then(-value.clone().abs())
        .otherwise(value);
    let day_text = col(line::ORDER_TS)
        .cast(DataType::Date)
        .cast(DataType::String);
    // Only built when some order id is missing: a string per row is not free on 10 M rows.
    let order_key = if needs_day_key {
        when(col(input::ORDER_ID).is_null())
            .then(col(input::CUSTOMER_ID) + lit("|") + day_text)
            .otherwise(col(input::ORDER_ID))
    } else {
        col(input::ORDER_ID)
    };

    let classified = lazy
        .with_column(reason.alias(line::REASON))
        .with_column(kind.alias(line::KIND))
        .collect()?;

    let mut counts = [0u64; 10];
    for code in classified.column(line::REASON)?.i32()?.no_null_iter() {
        counts[code as usize] += 1;
    }
    let accounting = Accounting::from_counts(&counts, height as u64)?;
    let rejected = if keep_rejected {
        Some(rejected_rows(&raw, &classified)?)
    } else {
        None
    };

    // The classified table goes into the line table's query, so its columns are freed before
    // the codes are assigned.
    let mut lines = classified
        .lazy()
        .filter(col(line::KIND).neq(kind_code(LineKind::Ignored)))
        .with_columns([
            line_value.alias(line::LINE_VALUE),
            col(line::ORDER_TS)
                .cast(DataType::Date)
                .alias(line::ORDER_DAY),
            order_key.alias(line::ORDER_KEY),
        ])
        .select([
            col(line::ROW),
            col(input::CUSTOMER_ID).alias(line::CUSTOMER_ID),
            col(line::ORDER_KEY),
            col(line::ORDER_TS),
            col(line::ORDER_DAY),
            col(input::PRODUCT_ID).alias(line::PRODUCT_ID),
            col(input::PRODUCT_NAME).alias(line::PRODUCT_NAME),
            col(input::QUANTITY).alias(line::QUANTITY),
            col(input::UNIT_PRICE).alias(line::UNIT_PRICE),
            col(line::LINE_VALUE),
            col(line::KIND),
        ])
        .collect()?;

    let dictionaries = encode::encode(&mut lines)?;
    Ok(Cleaned {
        transactions: Transactions {
            file: raw.file.clone(),
            present: raw.present.clone(),
            empty: raw.empty.clone(),
            lines,
            customers: dictionaries.customers,
            products: dictionaries.products,
            accounting,
            notes,
        },
        rejected,
    })
}

/// Rows equal in every canonical column to an earlier row. Rows are hashed (a fixed seed, so runs
/// agree) and a row whose hash was seen is compared value by value with the first row of that
/// hash: a hash collision can hide a duplicate (odds about n² / 2⁶⁵) but never invent one.
fn duplicate_mask(work: &DataFrame) -> Result<BooleanChunked> {
    use polars::polars_utils::aliases::PlSeedableRandomStateQuality;
    let keys: Vec<&Column> = [
        input::CUSTOMER_ID,
        input::ORDER_ID,
        line::ORDER_TS,
        input::PRODUCT_ID,
        input::PRODUCT_NAME,
        input::QUANTITY,
        input::UNIT_PRICE,
        input::COUNTRY,
    ]
    .into_iter()
    .map(|name| work.column(name))
    .collect::<PolarsResult<_>>()?;
    let state = PlSeedableRandomStateQuality::fixed();
    let mut hashes = Vec::with_capacity(work.height());
    keys[0]
        .as_materialized_series()
        .vec_hash(state.clone(), &mut hashes)?;
    for key in &keys[1..] {
        key.as_materialized_series()
            .vec_hash_combine(state.clone(), &mut hashes)?;
    }
    let mut first_row: HashMap<u64, usize, BuildHasherDefault<PrehashedHasher>> =
        HashMap::with_capacity_and_hasher(hashes.len(), Default::default());
    let mut duplicate = vec![false; hashes.len()];
    for (row, hash) in hashes.iter().enumerate() {
        match first_row.entry(*hash) {
            Entry::Vacant(slot) => {
                slot.insert(row);
            }
            Entry::Occupied(first) => {
                let first = *first.get();
                let mut equal = true;
                for key in &keys {
                    if key.get(row)? != key.get(first)? {
                        equal = false;
                        break;
                    }
                }
                duplicate[row] = equal;
            }
        }
    }
    Ok(BooleanChunked::from_slice(DUPLICATE.into(), &duplicate))
}

/// The keys are already hashes: pass them through.
#[derive(Default)]
struct PrehashedHasher(u64);

impl std::hash::Hasher for PrehashedHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Every rejected row as read, with its position and reason.
fn rejected_rows(raw: &RawInput, classified: &DataFrame) -> Result<DataFrame> {
    let reasons = classified.column(line::REASON)?.i32()?;
    let mask: BooleanChunked = reasons.no_null_iter().map(|c| Some(c != 0)).collect();
    let mut picked = raw.table.filter(&mask)?;
    let rows = classified.column(line::ROW)?.filter(&mask)?;
    let name = match raw.file.format {
        Format::Csv => "line",
        Format::Parquet => "row",
    };
    let rows: Vec<u64> = rows.idx()?.no_null_iter().map(|r| r as u64).collect();
    let positions: UInt64Chunked = raw
        .file
        .positions(&rows)
        .into_iter()
        .map(|p| match p {
            Position::Line(n) | Position::Row(n) => Some(n),
        })
        .collect();
    let reason_names: StringChunked = reasons
        .filter(&mask)?
        .no_null_iter()
        .map(|c| Some(Reason::from_code(c).map_or("unknown", Reason::name)))
        .collect();
    let mut out = vec![
        positions.with_name(name.into()).into_column(),
        reason_names.with_name("reason".into()).into_column(),
    ];
    for canonical in input::ALL {
        if let Ok(column) = picked.column(canonical) {
            out.push(column.cast(&DataType::String)?);
        }
    }
    picked = DataFrame::new(mask.sum().unwrap_or(0) as usize, out)?;
    Ok(picked)
}
