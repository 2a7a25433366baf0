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
pub mod reading;

pub use reading::{DateFlips, Reading};

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
    /// Activity lines per day with the first row of each (see `features::history_edge`), merged
    /// from the shards' partials as they were cleaned: the edges of the history and the lines
    /// after an as-of date need no pass over the shards.
    pub(crate) activity_by_day: DataFrame,
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
/// Before a canonical name: the column's values as read, kept for the quarantine list.
const RAW_PREFIX: &str = "__raw_";
/// The order time and its failure as the second of two export format families read them, where
/// the two tie in a batch (see [`reading::DateFlips`]).
const ORDER_TS_ALT: &str = "__order_ts_alt";
const DATE_FAILED_ALT: &str = "__date_failed_alt";

/// Parsed batches one after the other, a second date reading added (empty) where some batches
/// have one and others not. The batches stay separate chunks (the cleaning reads them in turn)
/// rather than being copied into one buffer; at 96 M rows the difference was within noise.
pub fn stack_parsed(mut parts: Vec<DataFrame>) -> Result<DataFrame> {
    if parts.iter().any(|p| p.column(ORDER_TS_ALT).is_ok()) {
        for part in parts.iter_mut() {
            if part.column(ORDER_TS_ALT).is_err() {
                for column in reading::alternative_nulls(part.height()) {
                    part.with_column(column)?;
                }
            }
        }
    }
    crate::engine::stack_chunks(parts)
}

/// Classifies every row of `raw` and builds the line table: dates, numbers and ids are parsed
/// (a column with too many unreadable values is refused), each row gets its reason and kind, the
/// rows are counted by reason, and the kept, non-product and return lines get integer codes.
/// The whole input in one table: the pipeline reads and cleans in batches and shards
/// ([`Reading`], [`clean_shard`], [`assemble`]); this is the same cleaning at once.
pub fn clean(
    raw: RawInput,
    columns: &ColumnMap,
    rules: &CleaningRules,
    options: &InputOptions,
    keep_rejected: bool,
) -> Result<Cleaned> {
    let exists: Vec<&'static str> = raw.present.iter().chain(&raw.empty).copied().collect();
    let mut reading = Reading::new(columns, options, exists, keep_rejected)?;
    let mut work = Vec::new();
    let mut first_row = 0u64;
    for (index, (file, rows)) in raw.inputs.files.iter().zip(&raw.inputs.rows).enumerate() {
        let batch = crate::io::batches::Batch {
            file: index,
            first_row,
            table: raw.table.slice(first_row as i64, *rows as usize),
            consumed: None,
        };
        work.push(reading.read(&batch, file.format)?);
        first_row += rows;
    }
    let (notes, date_flips) = reading.finish(&raw.inputs, &raw.present)?;
    let shape = Shape {
        present: &raw.present,
        empty: &raw.empty,
        rules,
        keep_rejected,
        date_flips: &date_flips,
    };
    let shard = clean_shard(stack_parsed(work)?, &shape)?;
    let (tx, mut recodes, rejected) = assemble(
        raw.inputs.clone(),
        &shape,
        notes,
        vec![(shard.summary, shard.rejected)],
    )?;
    let mut lines = shard.lines;
    recodes.remove(0).apply(&mut lines)?;
    Ok(Cleaned {
        transactions: tx.with_lines(crate::engine::Lines::one(lines)),
        rejected,
    })
}

/// What the input is like, as every shard's cleaning needs to know it.
pub struct Shape<'a> {
    /// Canonical columns that hold values somewhere in the input.
    pub present: &'a [&'static str],
    /// Canonical columns that exist but hold nothing: read as if missing.
    pub empty: &'a [&'static str],
    pub rules: &'a CleaningRules,
    pub keep_rejected: bool,
    /// Input rows whose dates are read by the second family of their batch's tie.
    pub date_flips: &'a [(u64, u64)],
}

/// A shard's cleaned lines, coded by the shard's own dictionaries, and what [`assemble`] adds up.
pub struct ShardClean {
    pub lines: DataFrame,
    pub summary: ShardSummary,
    /// Rejected rows: input row, reason, values as read.
    pub rejected: Option<DataFrame>,
}

/// The partials of one shard.
pub struct ShardSummary {
    pub dictionaries: encode::Dictionaries,
    counts: [u64; 11],
    fingerprint: u128,
    /// The shard's [`crate::features::activity_partial`].
    activity: DataFrame,
    /// Lines of the shard's customer with the most (by the shard's code), and their number.
    pub largest_customer: (usize, u64),
}

/// The scalar parts of a [`ShardSummary`] as JSON (`retain shard clean` writes it beside the
/// tables).
#[derive(serde::Serialize, serde::Deserialize)]
struct SummaryFile {
    counts: [u64; 11],
    fingerprint: String,
    largest_customer: (usize, u64),
    orders_per_customer: Vec<u32>,
    name_counts: Vec<(u32, String, u64)>,
}

impl ShardSummary {
    /// Writes the summary into the directory `dir`: `summary.json` and the tables as Arrow IPC
    /// files (`customers`, `products`, `activity`).
    pub fn save(mut self, dir: &std::path::Path) -> Result<()> {
        let d = &mut self.dictionaries;
        for (name, table) in [
            ("customers", &mut d.customers),
            ("products", &mut d.products),
            ("activity", &mut self.activity),
        ] {
            crate::engine::spill(table, &dir.join(format!("{name}.arrow")))?;
        }
        let file = SummaryFile {
            counts: self.counts,
            fingerprint: format!("{:032x}", self.fingerprint),
            largest_customer: self.largest_customer,
            orders_per_customer: std::mem::take(&mut d.orders_per_customer),
            name_counts: std::mem::take(&mut d.name_counts),
        };
        let json = serde_json::to_vec(&file).map_err(|e| Error::Internal(e.to_string()))?;
        let path = dir.join("summary.json");
        std::fs::write(&path, json).map_err(|e| crate::engine::work_error(&path, &e))
    }

    /// The summary [`ShardSummary::save`] wrote into `dir`.
    pub fn load(dir: &std::path::Path) -> Result<ShardSummary> {
        let path = dir.join("summary.json");
        let text = std::fs::read(&path).map_err(|e| Error::input(&path, e.to_string()))?;
        let file: SummaryFile = serde_json::from_slice(&text)
            .map_err(|e| Error::input(&path, format!("not a shard summary: {e}")))?;
        let fingerprint = u128::from_str_radix(&file.fingerprint, 16)
            .map_err(|e| Error::input(&path, format!("bad fingerprint: {e}")))?;
        let table = |name: &str| crate::engine::read_back(&dir.join(format!("{name}.arrow")));
        Ok(ShardSummary {
            dictionaries: encode::Dictionaries {
                customers: table("customers")?,
                products: table("products")?,
                orders_per_customer: file.orders_per_customer,
                name_counts: file.name_counts,
            },
            counts: file.counts,
            fingerprint,
            activity: table("activity")?,
            largest_customer: file.largest_customer,
        })
    }
}

/// Cleans the parsed rows of one shard ([`Reading::read`]'s tables of the shard's customers,
/// in input order): each row gets its reason and kind (exact duplicates found among the shard's
/// rows: equal rows have the same customer), the rows are counted by reason, and the purchase,
/// non-product and return lines get the shard's codes.
pub fn clean_shard(mut work: DataFrame, shape: &Shape) -> Result<ShardClean> {
    let height = work.height();
    if work.column(ORDER_TS_ALT).is_ok() {
        if !shape.date_flips.is_empty() {
            let flipped: BooleanChunked = work
                .column(line::ROW)?
                .idx()?
                .iter()
                .map(|row| {
                    let row = row.unwrap_or(0) as u64;
                    Some(shape.date_flips.iter().any(|&(a, b)| a <= row && row < b))
                })
                .collect();
            for (name, alternative) in [
                (line::ORDER_TS, ORDER_TS_ALT),
                (DATE_FAILED, DATE_FAILED_ALT),
            ] {
                let chosen = work
                    .column(alternative)?
                    .zip_with(&flipped, work.column(name)?)?
                    .with_name(name.into());
                work.with_column(chosen)?;
            }
        }
        work.drop_in_place(ORDER_TS_ALT)?;
        work.drop_in_place(DATE_FAILED_ALT)?;
    }
    for &canonical in shape.empty {
        match canonical {
            input::QUANTITY => {
                for c in reading::absent_number(canonical, QTY_FAILED, height) {
                    work.with_column(c)?;
                }
            }
            input::UNIT_PRICE => {
                for c in reading::absent_number(canonical, PRICE_FAILED, height) {
                    work.with_column(c)?;
                }
            }
            input::CUSTOMER_ID
            | input::ORDER_ID
            | input::PRODUCT_ID
            | input::PRODUCT_NAME
            | input::COUNTRY => {
                work.with_column(Column::full_null(
                    canonical.into(),
                    height,
                    &DataType::String,
                ))?;
            }
            _ => {}
        }
    }
    let rules = shape.rules;
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
    let rejected = if shape.keep_rejected {
        Some(rejected_rows(&classified)?)
    } else {
        None
    };
    let mut lines = line_table(
        classified,
        shape.present.contains(&input::UNIT_PRICE),
        needs_day_key,
    )?;
    let fingerprint = encode::content_fingerprint(&lines)?;
    let activity = crate::features::activity_partial(lines.clone().lazy()).collect()?;
    let dictionaries = encode::encode(&mut lines)?;
    let mut per_customer = vec![0u64; dictionaries.customers.height()];
    crate::engine::count_lines_per_customer(&lines, &mut per_customer)?;
    let largest_customer = per_customer
        .iter()
        .enumerate()
        .max_by_key(|&(i, n)| (*n, std::cmp::Reverse(i)))
        .map_or((0, 0), |(i, n)| (i, *n));
    Ok(ShardClean {
        lines,
        summary: ShardSummary {
            dictionaries,
            counts,
            fingerprint,
            activity,
            largest_customer,
        },
        rejected,
    })
}

/// The transactions of the whole input from its shards' partials (the lines are added by
/// [`Transactions::with_lines`]), each shard's recoding to the whole input's codes, and the
/// rejected rows in input order with their positions.
pub fn assemble(
    inputs: Inputs,
    shape: &Shape,
    notes: Vec<String>,
    shards: Vec<(ShardSummary, Option<DataFrame>)>,
) -> Result<(Transactions, Vec<encode::Recode>, Option<DataFrame>)> {
    let mut counts = [0u64; 11];
    let mut fingerprint = 0u128;
    let mut dictionaries = Vec::with_capacity(shards.len());
    let mut rejected = Vec::new();
    let mut activity = Vec::with_capacity(shards.len());
    for (summary, shard_rejected) in shards {
        activity.push(summary.activity);
        for (total, n) in counts.iter_mut().zip(summary.counts) {
            *total += n;
        }
        fingerprint = fingerprint.wrapping_add(summary.fingerprint);
        dictionaries.push(summary.dictionaries);
        rejected.extend(shard_rejected);
    }
    let rows_read: u64 = inputs.rows.iter().sum();
    let accounting = Accounting::from_counts(&counts, rows_read)?;
    let (global, recodes) = encode::merge(&dictionaries)?;
    drop(dictionaries);
    let rejected = if shape.keep_rejected {
        let table = crate::engine::stack(rejected)?;
        Some(locate_rejected(&inputs, table)?)
    } else {
        None
    };
    let tx = Transactions {
        inputs,
        present: shape.present.to_vec(),
        empty: shape.empty.to_vec(),
        lines: crate::engine::Lines::one(DataFrame::empty()),
        customers: global.customers,
        products: global.products,
        lines_fingerprint: format!("{fingerprint:032x}"),
        accounting,
        notes,
        activity_by_day: crate::features::merge_activity(activity)?,
    };
    Ok((tx, recodes, rejected))
}

impl Transactions {
    /// These transactions with their line table.
    pub fn with_lines(mut self, lines: crate::engine::Lines) -> Transactions {
        self.lines = lines;
        self
    }
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

/// Every rejected row of a shard: its input row, reason and values as read.
fn rejected_rows(classified: &DataFrame) -> Result<DataFrame> {
    let reasons = classified.column(line::REASON)?.i32()?;
    let mask: BooleanChunked = reasons.no_null_iter().map(|c| Some(c != 0)).collect();
    let picked = classified.filter(&mask)?;
    let reason_names: StringChunked = picked
        .column(line::REASON)?
        .i32()?
        .no_null_iter()
        .map(|c| Some(Reason::from_code(c).map_or("unknown", Reason::name)))
        .collect();
    let mut out = vec![
        picked.column(line::ROW)?.clone(),
        reason_names.with_name("reason".into()).into_column(),
    ];
    for canonical in input::ALL {
        if let Ok(column) = picked.column(&format!("{RAW_PREFIX}{canonical}")) {
            out.push(column.clone().with_name(canonical.into()));
        }
    }
    Ok(DataFrame::new(picked.height(), out)?)
}

/// The rejected rows of every shard in input order, their input row replaced by the position
/// in their file (`line` for CSV, `row` for Parquet), and from an input of several files, the
/// file first.
fn locate_rejected(inputs: &Inputs, table: DataFrame) -> Result<DataFrame> {
    let name = if inputs.files.iter().all(|f| f.format == Format::Csv) {
        "line"
    } else if inputs.files.iter().all(|f| f.format == Format::Parquet) {
        "row"
    } else {
        "line_or_row"
    };
    if table.width() == 0 {
        let mut out = Vec::new();
        if inputs.many() {
            out.push(Column::new_empty("file".into(), &DataType::String));
        }
        out.push(Column::new_empty(name.into(), &DataType::UInt64));
        out.push(Column::new_empty("reason".into(), &DataType::String));
        return Ok(DataFrame::new(0, out)?);
    }
    let table = table.sort([line::ROW], SortMultipleOptions::default())?;
    let rows: Vec<u64> = table
        .column(line::ROW)?
        .idx()?
        .no_null_iter()
        .map(|r| r as u64)
        .collect();
    let located = inputs.locate_all(&rows);
    let positions: UInt64Chunked = located
        .iter()
        .map(|at| match at.position {
            Position::Line(n) | Position::Row(n) => Some(n),
        })
        .collect();
    let mut out: Vec<Column> = Vec::new();
    if inputs.many() {
        let names: StringChunked = located
            .iter()
            .map(|at| Some(at.file.path.display().to_string()))
            .collect();
        out.push(names.with_name("file".into()).into_column());
    }
    out.push(positions.with_name(name.into()).into_column());
    for column in table.columns().iter().skip(1) {
        out.push(column.clone());
    }
    Ok(DataFrame::new(table.height(), out)?)
}
