//! Cleaning rules and row accounting: every input row is kept or rejected with exactly one reason.
//!
//! Reasons are checked in the order of [`Reason::ALL`]; a row gets the first one that applies.
//! Some rejected rows still carry meaning and stay in the line table with their [`LineKind`]:
//! cancellations and returns lower a customer's monetary value, and non-product lines (postage,
//! fees) show that the customer placed an order (DESIGN.md counts them as valid purchases).

mod checks;
mod duplicates;
pub mod encode;
pub mod parse;

use std::collections::{BTreeMap, HashSet};

use polars::prelude::*;
use serde::Serialize;

use crate::config::{CleaningRules, ColumnMap, InputOptions};
use crate::error::{Error, Position, Result};
use crate::io::inputs::Inputs;
use crate::io::read::{Format, RawInput};
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
    /// A quantity, unit price or line value (quantity × price) beyond [`MAX_QUANTITY`],
    /// [`MAX_UNIT_PRICE`] or [`MAX_LINE_VALUE`]: money is summed in whole millionths, which such
    /// a number would overflow. Checked right after [`Reason::Unparseable`].
    OutOfRange = 10,
}

/// Largest quantity (in magnitude) a purchase line may have.
pub const MAX_QUANTITY: f64 = 1e9;
/// Largest unit price (in magnitude) a purchase line may have.
pub const MAX_UNIT_PRICE: f64 = 1e9;
/// Largest value, quantity × unit price (in magnitude), of one line: 10^16 millionths, so that
/// more than 900 such lines of one customer still sum exactly in 64 bits.
pub const MAX_LINE_VALUE: f64 = 1e10;

impl Reason {
    /// In order of precedence.
    pub const ALL: [Reason; 11] = [
        Reason::Kept,
        Reason::Unparseable,
        Reason::OutOfRange,
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
        Reason::ALL.into_iter().find(|r| r.code() == code)
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
            Reason::OutOfRange => "number_out_of_range",
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
    fn from_counts(counts: &[u64; 11], rows_read: u64) -> Result<Accounting> {
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
    /// The files read, to find a row in them again.
    pub inputs: Inputs,
    /// Canonical columns the input has (and that are not empty).
    pub present: Vec<&'static str>,
    /// Canonical columns that exist in the input but are empty in every row.
    pub empty: Vec<&'static str>,
    /// Purchase, non-product and return lines (columns in [`crate::schema::line`]), whole or in
    /// customer shards.
    pub lines: crate::engine::Lines,
    /// `customer_ix` → `customer_id` for every customer in `lines`.
    pub customers: DataFrame,
    /// `product_ix` → `product_id`, `product_name` for every product in `lines`.
    pub products: DataFrame,
    pub accounting: Accounting,
    /// [`encode::content_fingerprint`] of the lines, in hex: the same for the same lines in any
    /// order or split.
    pub lines_fingerprint: String,
    /// What the user should know about how values were read (e.g. dates with a UTC offset).
    pub notes: Vec<String>,
    /// Activity lines per day with the first row of each (see `features::history_edge`), made
    /// once: several checks ask for the edges of the history, and each would be a pass over
    /// every shard.
    pub(crate) activity_by_day: std::sync::OnceLock<DataFrame>,
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

/// Classifies every row of `raw` and builds the line table: dates, numbers and ids are parsed
/// (a column with too many unreadable values is refused), each row gets its reason and kind, the
/// rows are counted by reason, and the kept, non-product and return lines get integer codes.
pub fn clean(
    mut raw: RawInput,
    columns: &ColumnMap,
    rules: &CleaningRules,
    options: &InputOptions,
    keep_rejected: bool,
) -> Result<Cleaned> {
    let height = raw.table.height();
    let (mut work, date_notes) = read_dates(&raw, columns, options)?;
    let mut notes: Vec<String> = checks::multiline_values(&raw, columns)?
        .into_iter()
        .collect();
    notes.extend(date_notes);
    work.extend(read_numbers(&raw, columns, options)?);
    work.extend(read_text(&raw)?);
    let mut work = DataFrame::new(height, work)?;
    if !keep_rejected {
        // Every value is parsed and checked: the text as read is needed again only for the
        // quarantine list. Columns the work table shares (text kept as it was) stay alive.
        raw.table = DataFrame::empty();
        crate::memory::release();
    }
    let non_product = non_products(&work, rules)?;
    work.with_column(non_product.with_name(NON_PRODUCT.into()).into_column())?;
    let duplicate = if rules.drop_duplicates {
        duplicates::duplicate_mask(&work)?
    } else {
        BooleanChunked::full(DUPLICATE.into(), false, height)
    };
    work.with_column(duplicate.with_name(DUPLICATE.into()).into_column())?;

    let needs_day_key = work.column(input::ORDER_ID)?.null_count() > 0;
    let classified = classify(work, rules)?;
    let mut counts = [0u64; 11];
    for code in classified.column(line::REASON)?.i32()?.no_null_iter() {
        counts[code as usize] += 1;
    }
    let accounting = Accounting::from_counts(&counts, height as u64)?;
    let rejected = if keep_rejected {
        Some(rejected_rows(&raw, &classified)?)
    } else {
        None
    };
    let mut lines = line_table(classified, raw.has(input::UNIT_PRICE), needs_day_key)?;
    let fingerprint = encode::content_fingerprint(&lines)?;
    let dictionaries = encode::encode(&mut lines)?;
    Ok(Cleaned {
        transactions: Transactions {
            inputs: raw.inputs.clone(),
            present: raw.present.clone(),
            empty: raw.empty.clone(),
            lines: crate::engine::Lines::one(lines),
            customers: dictionaries.customers,
            products: dictionaries.products,
            lines_fingerprint: format!("{fingerprint:032x}"),
            accounting,
            notes,
            activity_by_day: Default::default(),
        },
        rejected,
    })
}

/// The order dates as timestamps and a failure mask, and the notes on how they were read.
/// Refuses a column that reads two ways or has too many unreadable dates.
fn read_dates(
    raw: &RawInput,
    columns: &ColumnMap,
    options: &InputOptions,
) -> Result<(Vec<Column>, Vec<String>)> {
    let date_format = options.date_format_used();
    let time_zone = options.zone().map_err(Error::Usage)?;
    let date = parse::parse_datetime(
        raw.table.column(input::ORDER_DATE)?,
        date_format.as_deref(),
        time_zone.as_ref(),
    )?;
    let date_column = columns.source_name(input::ORDER_DATE);
    if let Some((row, [(a, format_a), (b, format_b)])) = date.dates.ambiguous {
        return Err(raw.inputs.error_at(
            row as u64,
            Some(date_column),
            format!(
                "'{}' reads as {a} and as {b}, and every date in the column fits both; \
                 say which with --date-format \"{format_a}\" or \"{format_b}\" (or input.date_format)",
                checks::value_text(raw, input::ORDER_DATE, row)?
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
    checks::check_failures(
        raw,
        input::ORDER_DATE,
        date_column,
        &date.failed,
        options.max_unparseable_share,
        |bad| expected + &checks::date_hint(bad),
    )?;

    let mut notes = Vec::new();
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
    let work = vec![
        date.values.with_name(line::ORDER_TS.into()),
        date.failed.with_name(DATE_FAILED.into()),
    ];
    Ok((work, notes))
}

/// Quantity and unit price as numbers with their failure masks. Without a quantity column every
/// line is one unit; without prices the price is missing. Refuses a column with too many
/// unreadable values.
fn read_numbers(
    raw: &RawInput,
    columns: &ColumnMap,
    options: &InputOptions,
) -> Result<Vec<Column>> {
    let height = raw.table.height();
    let mut work = Vec::with_capacity(4);
    for (canonical, flag) in [
        (input::QUANTITY, QTY_FAILED),
        (input::UNIT_PRICE, PRICE_FAILED),
    ] {
        if raw.has(canonical) {
            let parsed = parse::parse_number(raw.table.column(canonical)?, options.decimal_comma)?;
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
            checks::check_failures(
                raw,
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
    Ok(work)
}

/// The text columns: ids trimmed, empty ids missing, float-style customer ids (`17850.0`) read as
/// `17850`; a column the input lacks is all missing.
fn read_text(raw: &RawInput) -> Result<Vec<Column>> {
    let table = &raw.table;
    [
        input::CUSTOMER_ID,
        input::ORDER_ID,
        input::PRODUCT_ID,
        input::PRODUCT_NAME,
        input::COUNTRY,
    ]
    .into_iter()
    .map(|canonical| {
        Ok(if raw.has(canonical) {
            match canonical {
                input::CUSTOMER_ID => parse::normalise_id(table.column(canonical)?, true)?,
                input::ORDER_ID | input::PRODUCT_ID => {
                    parse::normalise_id(table.column(canonical)?, false)?
                }
                _ => table.column(canonical)?.cast(&DataType::String)?,
            }
        } else {
            Column::full_null(canonical.into(), table.height(), &DataType::String)
        })
    })
    .collect()
}

/// True where the product code is in the non-product list or starts with one of its prefixes.
fn non_products(work: &DataFrame, rules: &CleaningRules) -> Result<BooleanChunked> {
    let codes: HashSet<&str> = rules.non_product_codes.iter().map(String::as_str).collect();
    Ok(work
        .column(input::PRODUCT_ID)?
        .str()?
        .iter()
        .map(|v| {
            Some(v.is_some_and(|code| {
                codes.contains(code)
                    || rules
                        .non_product_prefixes
                        .iter()
                        .any(|p| code.starts_with(p.as_str()))
            }))
        })
        .collect())
}

fn reason_code(r: Reason) -> Expr {
    lit(r.code())
}

fn kind_code(k: LineKind) -> Expr {
    lit(k.code())
}

/// A price above 0, or no price at all (the input has none).
fn priced() -> Expr {
    col(input::UNIT_PRICE)
        .gt(lit(0.0))
        .or(col(input::UNIT_PRICE).is_null())
}

/// Adds the row number, each row's [`Reason`] (the first rule that applies, in the order of
/// [`Reason::ALL`]) and its [`LineKind`].
/// A quantity, price or line value too large to be summed exactly (see [`Reason::OutOfRange`]).
fn out_of_range() -> Expr {
    let q = col(input::QUANTITY).abs();
    let p = col(input::UNIT_PRICE).abs();
    q.clone()
        .gt(lit(MAX_QUANTITY))
        .fill_null(lit(false))
        .or(p.clone().gt(lit(MAX_UNIT_PRICE)).fill_null(lit(false)))
        .or((q * p).gt(lit(MAX_LINE_VALUE)).fill_null(lit(false)))
}

fn classify(work: DataFrame, rules: &CleaningRules) -> Result<DataFrame> {
    let cancelled = if rules.cancellation_prefix.is_empty() {
        lit(false)
    } else {
        col(input::ORDER_ID)
            .str()
            .starts_with(lit(rules.cancellation_prefix.clone()))
            .fill_null(lit(false))
    };
    let reason = when(col(DATE_FAILED).or(col(QTY_FAILED)).or(col(PRICE_FAILED)))
        .then(reason_code(Reason::Unparseable))
        .when(out_of_range())
        .then(reason_code(Reason::OutOfRange))
        .when(col(line::ORDER_TS).is_null())
        .then(reason_code(Reason::MissingOrderDate))
        .when(col(input::CUSTOMER_ID).is_null())
        .then(reason_code(Reason::MissingCustomerId))
        .when(cancelled)
        .then(reason_code(Reason::Cancellation))
        .when(col(input::QUANTITY).lt(lit(0.0)))
        .then(reason_code(Reason::Return))
        .when(col(input::QUANTITY).eq(lit(0.0)))
        .then(reason_code(Reason::ZeroQuantity))
        .when(col(NON_PRODUCT))
        .then(reason_code(Reason::NonProduct))
        .when(col(input::UNIT_PRICE).lt_eq(lit(0.0)))
        .then(reason_code(Reason::NonPositivePrice))
        .when(col(DUPLICATE))
        .then(reason_code(Reason::Duplicate))
        .otherwise(reason_code(Reason::Kept));
    let is = |r: Reason| col(line::REASON).eq(reason_code(r));
    let kind = when(col(DUPLICATE))
        .then(kind_code(LineKind::Ignored))
        .when(is(Reason::Kept))
        .then(kind_code(LineKind::Purchase))
        .when(
            is(Reason::NonProduct)
                .and(col(input::QUANTITY).gt(lit(0.0)))
                .and(priced()),
        )
        .then(kind_code(LineKind::NonProduct))
        .when(
            is(Reason::Cancellation)
                .or(is(Reason::Return))
                .and(priced()),
        )
        .then(kind_code(LineKind::Return))
        .otherwise(kind_code(LineKind::Ignored));
    Ok(work
        .lazy()
        .with_row_index(line::ROW, None)
        .with_column(reason.alias(line::REASON))
        .with_column(kind.alias(line::KIND))
        .collect()?)
}

/// The line table (columns in [`crate::schema::line`], text not yet coded): purchase,
/// non-product and return lines with their value (quantity × price, 1 without prices; negative
/// for returns) and order key (the order id, or customer and day where it is missing).
fn line_table(classified: DataFrame, priced_input: bool, needs_day_key: bool) -> Result<DataFrame> {
    let value = if priced_input {
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
    // The classified table goes into this query, so its columns are freed before the codes
    // are assigned.
    Ok(classified
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
        .collect()?)
}

/// Every rejected row as read, with its position and reason; from an input of several files, the
/// file first.
fn rejected_rows(raw: &RawInput, classified: &DataFrame) -> Result<DataFrame> {
    let reasons = classified.column(line::REASON)?.i32()?;
    let mask: BooleanChunked = reasons.no_null_iter().map(|c| Some(c != 0)).collect();
    let mut picked = raw.table.filter(&mask)?;
    let rows = classified.column(line::ROW)?.filter(&mask)?;
    let files = &raw.inputs.files;
    let name = if files.iter().all(|f| f.format == Format::Csv) {
        "line"
    } else if files.iter().all(|f| f.format == Format::Parquet) {
        "row"
    } else {
        "line_or_row"
    };
    let rows: Vec<u64> = rows.idx()?.no_null_iter().map(|r| r as u64).collect();
    let located = raw.inputs.locate_all(&rows);
    let positions: UInt64Chunked = located
        .iter()
        .map(|at| match at.position {
            Position::Line(n) | Position::Row(n) => Some(n),
        })
        .collect();
    let file_names: Option<StringChunked> = raw.inputs.many().then(|| {
        located
            .iter()
            .map(|at| Some(at.file.path.display().to_string()))
            .collect()
    });
    let reason_names: StringChunked = reasons
        .filter(&mask)?
        .no_null_iter()
        .map(|c| Some(Reason::from_code(c).map_or("unknown", Reason::name)))
        .collect();
    let mut out: Vec<Column> = file_names
        .map(|names| names.with_name("file".into()).into_column())
        .into_iter()
        .collect();
    out.push(positions.with_name(name.into()).into_column());
    out.push(reason_names.with_name("reason".into()).into_column());
    for canonical in input::ALL {
        if let Ok(column) = picked.column(canonical) {
            out.push(column.cast(&DataType::String)?);
        }
    }
    picked = DataFrame::new(mask.sum().unwrap_or(0) as usize, out)?;
    Ok(picked)
}
