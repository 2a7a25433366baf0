//! Customer features at an as-of date: recency, frequency, monetary value and purchase rhythm.
//!
//! Only lines strictly before the as-of date count. Order activity is every valid purchase
//! (product lines and non-product lines such as postage); money comes from product lines, less
//! cancellations and returns.

pub mod labels;
pub mod propensity;
pub mod rfm;

use chrono::NaiveDate;
use polars::prelude::*;

use crate::clean::{LineKind, Transactions};
use crate::config::FeatureOptions;
use crate::error::{Error, Result};
use crate::schema::{feature as f, input, line};

/// The feature table (columns in [`crate::schema::feature`], one row per customer, sorted by id).
#[derive(Debug, Clone)]
pub struct CustomerFeatures {
    pub as_of: NaiveDate,
    pub table: DataFrame,
}

pub(crate) const EPOCH: NaiveDate = match NaiveDate::from_ymd_opt(1970, 1, 1) {
    Some(d) => d,
    None => panic!("1970-01-01 is a date"),
};

/// Days since 1970-01-01, polars' physical Date.
pub fn epoch_days(date: NaiveDate) -> i32 {
    (date - EPOCH).num_days() as i32
}

pub fn from_epoch_days(days: i32) -> NaiveDate {
    EPOCH + chrono::Duration::days(i64::from(days))
}

/// Money is summed as whole millionths (exact integer addition), so that totals do not depend on
/// the order in which rows arrive or are partitioned: the same purchases give the same bytes.
fn money_micros(value: Expr) -> Expr {
    (value * lit(1e6))
        .round(0, RoundMode::HalfAwayFromZero)
        .cast(DataType::Int64)
}

fn from_micros(micros: Expr) -> Expr {
    micros.cast(DataType::Float64) / lit(1e6)
}

pub(crate) fn day() -> Expr {
    col(line::ORDER_DAY).cast(DataType::Int32)
}

pub(crate) fn activity(kind: Expr) -> Expr {
    kind.clone()
        .eq(lit(LineKind::Purchase.code()))
        .or(kind.eq(lit(LineKind::NonProduct.code())))
}

/// A last purchase more than this many days after 99.9 % of all purchase lines is taken for a
/// mistyped date: the default as-of date refuses it.
pub const ISOLATED_DAYS: i64 = 90;

/// Where the purchase history ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataEnd {
    /// The last day with a valid purchase.
    pub last_day: NaiveDate,
    /// The day by which 99.9 % of valid purchase lines had happened.
    pub bulk_end: NaiveDate,
    /// Input row (0-based) of a line on the last day.
    pub last_row: u64,
}

impl DataEnd {
    /// True when the last purchase lies far after nearly all others (a likely typo).
    pub fn isolated(&self) -> bool {
        (self.last_day - self.bulk_end).num_days() > ISOLATED_DAYS
    }

    /// How the isolated tail is described to the user; `tx` adds where the line is.
    pub fn describe(&self, tx: Option<&Transactions>) -> String {
        let at = tx.map_or(String::new(), |tx| {
            format!(" ({})", tx.inputs.locate(self.last_row))
        });
        format!(
            "the last purchase, on {}{at}, is {} days after 99.9 % of all purchases had happened (by {})",
            self.last_day,
            (self.last_day - self.bulk_end).num_days(),
            self.bulk_end
        )
    }
}

/// One shard's partial of `Transactions::activity_by_day`: its activity lines per day (`day`,
/// `n`) with the first row of each (`row`). Made while the shard is cleaned, so that the edges of
/// the history and the lines after an as-of date need no pass over the shards.
pub(crate) fn activity_partial(lines: LazyFrame) -> LazyFrame {
    lines
        .filter(activity(col(line::KIND)))
        .group_by([day().alias("day")])
        .agg([
            len().cast(DataType::UInt64).alias("n"),
            col(line::ROW).min().cast(DataType::UInt64).alias("row"),
        ])
}

/// Shards' [`activity_partial`]s merged (counts added, first rows the least), sorted by day.
pub(crate) fn merge_activity(parts: Vec<DataFrame>) -> Result<DataFrame> {
    Ok(crate::engine::stack(parts)?
        .lazy()
        .group_by([col("day")])
        .agg([col("n").sum(), col("row").min()])
        .sort(["day"], SortMultipleOptions::default())
        .collect()?)
}

/// One edge of the valid purchases: the last day (or the first), the day by which 99.9 % of
/// purchase lines had happened (or from which they happen), and the input row of a line on that
/// last (first) day, as epoch days and a row. `None` without a valid purchase.
pub(crate) fn history_edge(tx: &Transactions, last: bool) -> Result<Option<(i32, i32, u64)>> {
    let merged = &tx.activity_by_day;
    if merged.height() == 0 {
        return Ok(None);
    }
    let days: Vec<i32> = merged.column("day")?.i32()?.into_no_null_iter().collect();
    let counts: Vec<u64> = merged.column("n")?.u64()?.into_no_null_iter().collect();
    let rows: Vec<u64> = merged.column("row")?.u64()?.into_no_null_iter().collect();
    let total: u64 = counts.iter().sum();
    // polars' quantile of the sorted days: index ⌊(n − 1)·q⌋ (lower) or ⌈(n − 1)·q⌉ (higher).
    let (share, edge) = if last {
        (0.999, days.len() - 1)
    } else {
        (0.001, 0)
    };
    let float_index = (total as f64 - 1.0) * share;
    let index = if last {
        float_index as u64
    } else {
        float_index.ceil() as u64
    };
    let mut seen = 0u64;
    let mut bulk = days[edge];
    for (&d, &n) in days.iter().zip(&counts) {
        seen += n;
        if seen > index {
            bulk = d;
            break;
        }
    }
    Ok(Some((days[edge], bulk, rows[edge])))
}

/// The end of the purchase history; [`Error::InsufficientData`] if there is no valid purchase.
pub fn data_end(tx: &Transactions) -> Result<DataEnd> {
    match history_edge(tx, true)? {
        Some((last, bulk, row)) => Ok(DataEnd {
            last_day: from_epoch_days(last),
            bulk_end: from_epoch_days(bulk),
            last_row: row,
        }),
        None => Err(Error::InsufficientData(format!(
            "{} has no valid purchase (rows read: {}, kept: {})",
            tx.inputs.given.display(),
            tx.accounting.rows_read,
            tx.accounting.rows_kept
        ))),
    }
}

/// The day after the last valid purchase in the input: the default as-of date (never the clock).
/// Refused (exit 3) when that purchase lies far after nearly all others ([`DataEnd::isolated`]):
/// one mistyped year would otherwise make every customer look lapsed.
pub fn default_as_of(tx: &Transactions) -> Result<NaiveDate> {
    let end = data_end(tx)?;
    if end.isolated() {
        return Err(tx.inputs.error_at(
            end.last_row,
            None,
            format!(
                "{}: a mistyped date would make every customer look lapsed at the default as-of date {}. Fix the date, or choose the date with --as-of",
                end.describe(None),
                end.last_day + chrono::Duration::days(1)
            ),
        ));
    }
    Ok(end.last_day + chrono::Duration::days(1))
}

/// Valid purchase lines dated on or after `as_of`: features at `as_of` do not see them.
pub fn lines_from(tx: &Transactions, as_of: NaiveDate) -> Result<u64> {
    let merged = &tx.activity_by_day;
    let from = epoch_days(as_of);
    let days = merged.column("day")?.i32()?;
    let counts = merged.column("n")?.u64()?;
    Ok(days
        .into_no_null_iter()
        .zip(counts.into_no_null_iter())
        .filter(|&(d, _)| d >= from)
        .map(|(_, n)| n)
        .sum())
}

/// Builds the feature table at `as_of` and refuses too little data with [`Error::InsufficientData`].
pub fn compute(
    tx: &Transactions,
    as_of: NaiveDate,
    options: &FeatureOptions,
) -> Result<CustomerFeatures> {
    compute_from_table(aggregate(tx, as_of)?, as_of, options)
}

/// The per-customer aggregation, without RFM scores and without the sufficiency check: shard by
/// shard (a customer's rows come from its own lines only), sorted by customer id.
pub fn aggregate(tx: &Transactions, as_of: NaiveDate) -> Result<DataFrame> {
    let _held = crate::memory::hold_freed_pages();
    let has_products = tx.has(input::PRODUCT_ID);
    let parts = tx.lines.map("features", |lines| {
        aggregate_shard(lines, &tx.customers, has_products, as_of)
    })?;
    merge_shards(parts)
}

/// The feature table at `as_of` from the per-customer rows of each shard ([`aggregate_shard`],
/// as the cleaning of each shard made them): sorted by customer id, checked and scored as
/// [`compute`] does.
pub fn compute_from_shards(
    parts: Vec<DataFrame>,
    as_of: NaiveDate,
    options: &FeatureOptions,
) -> Result<CustomerFeatures> {
    compute_from_table(merge_shards(parts)?, as_of, options)
}

/// The aggregated table (sorted by customer id), checked and scored.
fn compute_from_table(
    table: DataFrame,
    as_of: NaiveDate,
    options: &FeatureOptions,
) -> Result<CustomerFeatures> {
    check_sufficient(&table, as_of, options)?;
    Ok(CustomerFeatures {
        as_of,
        table: with_rfm(table)?,
    })
}

fn merge_shards(parts: Vec<DataFrame>) -> Result<DataFrame> {
    Ok(crate::engine::stack(parts)?
        .lazy()
        .sort([f::CUSTOMER_ID], SortMultipleOptions::default())
        .collect()?)
}

/// The per-customer rows of one shard's lines at `as_of`, customer ids from `customers`
/// (`customer_ix` → `customer_id`, the codes the lines use: the whole input's, or the shard's
/// own while it is cleaned); without a product column, `distinct_products` is empty.
pub fn aggregate_shard(
    lines: &DataFrame,
    customers: &DataFrame,
    has_products: bool,
    as_of: NaiveDate,
) -> Result<DataFrame> {
    let as_of_days = epoch_days(as_of);
    let before = lines.clone().lazy().filter(day().lt(lit(as_of_days)));
    let kind = || col(line::KIND);
    let is_purchase = || kind().eq(lit(LineKind::Purchase.code()));
    let cix = || col(line::CUSTOMER_IX);

    let orders = before
        .clone()
        .filter(activity(kind()))
        // An order code belongs to one customer (codes are per customer and order key), so the
        // one integer key groups the orders.
        .group_by([col(line::ORDER_IX)])
        .agg([
            cix().first(),
            col(line::ORDER_TS).min().alias("ts"),
            when(is_purchase())
                .then(money_micros(col(line::LINE_VALUE)))
                .otherwise(lit(0i64))
                .sum()
                .alias("value"),
            // Whole millionths of a unit, like money: the sum does not depend on row order.
            when(is_purchase())
                .then(money_micros(col(line::QUANTITY)))
                .otherwise(lit(0i64))
                .sum()
                .alias("units"),
        ])
        // The order's day is the day of its first line (one aggregation fewer than a second min).
        .with_column(
            col("ts")
                .cast(DataType::Date)
                .cast(DataType::Int32)
                .alias("day"),
        )
        .collect()?;
    let within = |days: i32| {
        col("day")
            .gt_eq(lit(as_of_days - days))
            .cast(DataType::Int64)
            .sum()
    };
    let per_customer = orders.clone().lazy().group_by([cix()]).agg([
        col("day").min().alias("first_day"),
        col("day").max().alias("last_day"),
        len().cast(DataType::Int64).alias(f::FREQUENCY),
        col("value").sum().alias("gross"),
        within(30).alias(f::ORDERS_30D),
        within(90).alias(f::ORDERS_90D),
        within(180).alias(f::ORDERS_180D),
    ]);
    // Units of the last order with products: a postage-only invoice placed minutes after the
    // order it belongs to (Online Retail has many) is not the last order. Orders placed at the
    // same last moment (or, with dates only, on the last day) count together: which of them is
    // "last" would otherwise depend on the input's row order. A window and a second group-by
    // measured faster than filtering inside the aggregation above.
    let last_order = orders
        .clone()
        .lazy()
        .filter(col("units").gt(lit(0i64)))
        .filter(col("ts").eq(col("ts").max().over([cix()])?))
        .group_by([cix()])
        .agg([col("units").sum().alias("last_units")]);
    // Gaps between a customer's purchase days: one sort of all (customer, day) pairs, each day
    // minus the one before it of the same customer. Sorting and differencing inside each of
    // 500,000 groups took 2.5 times as long.
    let same_customer = cix().eq(cix().shift(lit(1)));
    let gaps = orders
        .lazy()
        .select([cix(), col("day")])
        .unique(None, UniqueKeepStrategy::Any)
        .sort_by_exprs([cix(), col("day")], SortMultipleOptions::default())
        .with_column(
            when(same_customer)
                .then((col("day") - col("day").shift(lit(1))).cast(DataType::Float64))
                .otherwise(lit(NULL).cast(DataType::Float64))
                .alias("gap"),
        )
        .group_by([cix()])
        .agg([
            len().cast(DataType::Int64).alias(f::PURCHASE_DAYS),
            col("gap").std(0).alias(f::GAP_STD_DAYS),
        ]);
    let product_lines = before.clone().filter(is_purchase()).group_by([cix()]).agg([
        col(line::PRODUCT_IX)
            .drop_nulls()
            .n_unique()
            .cast(DataType::Int64)
            .alias(f::DISTINCT_PRODUCTS),
        col(line::UNIT_PRICE).median().alias(f::MEDIAN_UNIT_PRICE),
        day()
            .gt_eq(lit(as_of_days - 180))
            .cast(DataType::Int64)
            .sum()
            .alias(f::LINES_180D),
    ]);
    let returns = before
        .filter(kind().eq(lit(LineKind::Return.code())))
        .group_by([cix()])
        .agg([money_micros(-col(line::LINE_VALUE)).sum().alias("returned")]);

    let zero_floor = |e: Expr| when(e.clone().lt(lit(0.0))).then(lit(0.0)).otherwise(e);
    let recency = (lit(as_of_days) - col("last_day")).cast(DataType::Int64);
    let tenure = (lit(as_of_days) - col("first_day")).cast(DataType::Int64);
    let several_days = || col(f::PURCHASE_DAYS).gt_eq(lit(2));
    let gap_mean = when(several_days())
        .then(
            (col("last_day") - col("first_day")).cast(DataType::Float64)
                / (col(f::PURCHASE_DAYS) - lit(1)).cast(DataType::Float64),
        )
        .otherwise(lit(NULL).cast(DataType::Float64));
    let returned_micros = || col("returned").fill_null(lit(0i64));
    let returned = from_micros(returned_micros());
    let gross = || from_micros(col("gross"));
    let distinct_products = if has_products {
        col(f::DISTINCT_PRODUCTS).fill_null(lit(0i64))
    } else {
        lit(NULL).cast(DataType::Int64)
    };
    let table = per_customer
        .left_join(last_order, cix(), cix())
        .left_join(gaps, cix(), cix())
        .left_join(product_lines, cix(), cix())
        .left_join(returns, cix(), cix())
        .left_join(customers.clone().lazy(), cix(), cix())
        .with_columns([
            recency.alias(f::RECENCY_DAYS),
            tenure.alias(f::TENURE_DAYS),
            zero_floor(from_micros(col("gross") - returned_micros())).alias(f::MONETARY_TOTAL),
            gap_mean.alias(f::GAP_MEAN_DAYS),
            when(several_days())
                .then(col(f::GAP_STD_DAYS))
                .otherwise(lit(NULL).cast(DataType::Float64))
                .alias(f::GAP_STD_DAYS),
            distinct_products.alias(f::DISTINCT_PRODUCTS),
            col(f::LINES_180D).fill_null(lit(0i64)),
            from_micros(col("last_units").fill_null(lit(0i64))).alias(f::LAST_ORDER_UNITS),
            when(gross().gt(lit(0.0)))
                .then(
                    when((returned.clone() / gross()).gt(lit(1.0)))
                        .then(lit(1.0))
                        .otherwise(zero_floor(returned / gross())),
                )
                .otherwise(lit(0.0))
                .alias(f::RETURN_RATE),
            col("first_day")
                .cast(DataType::Date)
                .alias(f::FIRST_PURCHASE),
            col("last_day").cast(DataType::Date).alias(f::LAST_PURCHASE),
        ])
        .with_columns([
            (col(f::MONETARY_TOTAL) / col(f::FREQUENCY).cast(DataType::Float64))
                .alias(f::AVG_ORDER_VALUE),
            (col(f::RECENCY_DAYS).cast(DataType::Float64) / col(f::GAP_MEAN_DAYS))
                .alias(f::OVERDUE_RATIO),
        ])
        .select([
            col(f::CUSTOMER_ID),
            col(f::FIRST_PURCHASE),
            col(f::LAST_PURCHASE),
            col(f::RECENCY_DAYS),
            col(f::FREQUENCY),
            col(f::MONETARY_TOTAL),
            col(f::TENURE_DAYS),
            col(f::AVG_ORDER_VALUE),
            col(f::ORDERS_30D),
            col(f::ORDERS_90D),
            col(f::ORDERS_180D),
            col(f::PURCHASE_DAYS),
            col(f::GAP_MEAN_DAYS),
            col(f::GAP_STD_DAYS),
            col(f::OVERDUE_RATIO),
            col(f::DISTINCT_PRODUCTS),
            col(f::LINES_180D),
            col(f::LAST_ORDER_UNITS),
            col(f::MEDIAN_UNIT_PRICE),
            col(f::RETURN_RATE),
        ])
        .sort([f::CUSTOMER_ID], SortMultipleOptions::default())
        .collect()?;
    Ok(table)
}

fn check_sufficient(table: &DataFrame, as_of: NaiveDate, options: &FeatureOptions) -> Result<()> {
    let customers = table.height();
    if customers < options.min_customers {
        return Err(Error::InsufficientData(format!(
            "{customers} customers have a valid purchase before {as_of}; at least {} are needed (features.min_customers)",
            options.min_customers
        )));
    }
    let first = table.column(f::TENURE_DAYS)?.i64()?.max().unwrap_or(0);
    if first < options.min_history_days {
        return Err(Error::InsufficientData(format!(
            "the purchase history before {as_of} spans {first} days; at least {} are needed (features.min_history_days)",
            options.min_history_days
        )));
    }
    Ok(())
}

/// Adds R, F and M scores and the named segment.
fn with_rfm(mut table: DataFrame) -> Result<DataFrame> {
    let as_f64 = |name: &str| -> Result<Vec<f64>> {
        let column = table.column(name)?.cast(&DataType::Float64)?;
        Ok(column.f64()?.iter().map(|v| v.unwrap_or(0.0)).collect())
    };
    let r = rfm::quintile_scores(&as_f64(f::RECENCY_DAYS)?, false);
    let fq = rfm::quintile_scores(&as_f64(f::FREQUENCY)?, true);
    let m = rfm::quintile_scores(&as_f64(f::MONETARY_TOTAL)?, true);
    let segments: Vec<&str> = (0..r.len())
        .map(|i| rfm::Segment::from_scores(r[i], fq[i], m[i]).name())
        .collect();
    let to_i32 = |v: &[u8]| v.iter().map(|&s| i32::from(s)).collect::<Vec<i32>>();
    table.with_column(Column::new(f::R_SCORE.into(), to_i32(&r)))?;
    table.with_column(Column::new(f::F_SCORE.into(), to_i32(&fq)))?;
    table.with_column(Column::new(f::M_SCORE.into(), to_i32(&m)))?;
    table.with_column(Column::new(f::RFM_SEGMENT.into(), segments))?;
    Ok(table)
}
