//! The data quality report of `retain validate`: what was read, what was kept, and what to worry about.

use std::collections::BTreeMap;

use polars::prelude::*;
use serde::Serialize;

use crate::clean::{LineKind, Reason, Transactions};
use crate::error::Result;
use crate::features;
use crate::schema::{input, line};

#[derive(Debug, Clone, Serialize)]
pub struct QualityReport {
    /// The input file; left out of `run`'s `validation.json`, whose bytes must not depend on file
    /// names (its manifest names the input).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// `csv` or `parquet`; `mixed` for an input of files of both.
    pub format: &'static str,
    /// Rows per file, for an input of several files named in the report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<FileRows>>,
    pub rows_read: u64,
    pub rows_kept: u64,
    pub rows_rejected: u64,
    /// Rejection reason → rows.
    pub rejected: BTreeMap<&'static str, u64>,
    pub columns_present: Vec<&'static str>,
    pub columns_missing: Vec<&'static str>,
    /// Customers with at least one valid purchase.
    pub customers: u64,
    /// Distinct orders with at least one valid purchase.
    pub orders: u64,
    /// Distinct products on kept purchase lines; absent without a product column.
    pub products: Option<u64>,
    pub first_purchase: Option<String>,
    pub last_purchase: Option<String>,
    /// The as-of date commands use when none is given: the day after the last valid purchase.
    pub default_as_of: Option<String>,
    pub warnings: Vec<String>,
}

/// One file of an input of several.
#[derive(Debug, Clone, Serialize)]
pub struct FileRows {
    pub path: String,
    pub rows_read: u64,
    /// Rows that are purchase lines.
    pub rows_kept: u64,
    pub rows_rejected: u64,
}

/// The format name of the input's files.
fn format_name(tx: &Transactions) -> &'static str {
    use crate::io::read::Format;
    let files = &tx.inputs.files;
    if files.iter().all(|f| f.format == Format::Csv) {
        "csv"
    } else if files.iter().all(|f| f.format == Format::Parquet) {
        "parquet"
    } else {
        "mixed"
    }
}

/// Rows read, kept and rejected in each of the input's files.
pub fn file_rows(tx: &Transactions) -> Result<Vec<FileRows>> {
    let mut kept = vec![0u64; tx.inputs.files.len()];
    tx.lines.each("rows per file", |lines| {
        let kind = lines.column(line::KIND)?.i32()?;
        let row = lines.column(line::ROW)?.idx()?;
        for (kind, row) in kind.no_null_iter().zip(row.no_null_iter()) {
            if kind == LineKind::Purchase.code() {
                kept[tx.inputs.file_of(row as u64).0] += 1;
            }
        }
        Ok(())
    })?;
    Ok(tx
        .inputs
        .files
        .iter()
        .zip(&tx.inputs.rows)
        .zip(kept)
        .map(|((file, &rows_read), rows_kept)| FileRows {
            path: file.path.display().to_string(),
            rows_read,
            rows_kept,
            rows_rejected: rows_read - rows_kept,
        })
        .collect())
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

/// Summarises cleaned transactions.
pub fn report(tx: &Transactions) -> Result<QualityReport> {
    let kind = col(line::KIND);
    // Orders and customers counted on their integer codes (an order code stands for one customer
    // and order key): no group-by over text. Shard by shard: a customer, and so each of their
    // orders, is in one shard, so the counts add up; products are collected and counted once.
    let parts = tx.lines.map("customers and orders", |lines| {
        let acts = lines
            .clone()
            .lazy()
            .filter(
                kind.clone()
                    .eq(lit(LineKind::Purchase.code()))
                    .or(kind.clone().eq(lit(LineKind::NonProduct.code()))),
            )
            .select([
                col(line::CUSTOMER_IX)
                    .n_unique()
                    .cast(DataType::UInt64)
                    .alias("customers"),
                col(line::ORDER_IX)
                    .n_unique()
                    .cast(DataType::UInt64)
                    .alias("orders"),
                col(line::ORDER_TS).min().alias("first"),
                col(line::ORDER_TS).max().alias("last"),
            ])
            .collect()?;
        let products = lines
            .clone()
            .lazy()
            .filter(kind.clone().eq(lit(LineKind::Purchase.code())))
            .select([col(line::PRODUCT_IX).drop_nulls().unique()])
            .collect()?;
        Ok((acts, products))
    })?;
    let (acts, products): (Vec<DataFrame>, Vec<DataFrame>) = parts.into_iter().unzip();
    let acts = crate::engine::stack(acts)?
        .lazy()
        .select([
            col("customers").sum(),
            col("orders").sum(),
            col("first")
                .min()
                .dt()
                .strftime("%Y-%m-%dT%H:%M:%S")
                .alias("first"),
            col("last")
                .max()
                .dt()
                .strftime("%Y-%m-%dT%H:%M:%S")
                .alias("last"),
        ])
        .collect()?;
    let products = crate::engine::stack(products)?
        .lazy()
        .select([col(line::PRODUCT_IX).n_unique().cast(DataType::UInt64)])
        .collect()?;
    let get_u64 = |df: &DataFrame, name: &str| -> Result<u64> {
        Ok(df.column(name)?.u64()?.get(0).unwrap_or(0))
    };
    let stamp = |name: &str| -> Result<Option<String>> {
        Ok(acts.column(name)?.str()?.get(0).map(str::to_string))
    };
    let customers = get_u64(&acts, "customers")?;
    let a = &tx.accounting;
    let columns_missing: Vec<&'static str> =
        input::ALL.into_iter().filter(|c| !tx.has(c)).collect();
    let end = if customers > 0 {
        Some(features::data_end(tx)?)
    } else {
        None
    };
    let default_as_of = end
        .as_ref()
        .filter(|e| !e.isolated())
        .map(|e| (e.last_day + chrono::Duration::days(1)).to_string());
    let mut report = QualityReport {
        input: Some(tx.inputs.given.display().to_string()),
        format: format_name(tx),
        files: if tx.inputs.many() {
            Some(file_rows(tx)?)
        } else {
            None
        },
        rows_read: a.rows_read,
        rows_kept: a.rows_kept,
        rows_rejected: a.rows_rejected,
        rejected: a.rejected.clone(),
        columns_present: tx.present.clone(),
        columns_missing,
        customers,
        orders: get_u64(&acts, "orders")?,
        products: tx.has(input::PRODUCT_ID).then(|| {
            products.columns()[0]
                .u64()
                .ok()
                .and_then(|c| c.get(0))
                .unwrap_or(0)
        }),
        first_purchase: stamp("first")?,
        last_purchase: stamp("last")?,
        default_as_of,
        warnings: Vec::new(),
    };
    report.warnings = warnings(tx, &report);
    if customers > 0
        && let Some(start) = isolated_start(tx)?
    {
        report.warnings.insert(0, start);
    }
    if let Some(end) = end.filter(features::DataEnd::isolated) {
        report.warnings.insert(
            0,
            format!(
                "{}: a mistyped date? Commands refuse the default as-of date ({}) for this input; fix the date or pass --as-of",
                end.describe(Some(tx)),
                end.last_day + chrono::Duration::days(1)
            ),
        );
    }
    Ok(report)
}

/// A first purchase far before 99.9 % of all purchase lines (a mistyped year, the mirror of
/// [`features::DataEnd::isolated`]): only a warning, since it lengthens one customer's history and
/// the data's span but moves no date the pipeline works at.
fn isolated_start(tx: &Transactions) -> Result<Option<String>> {
    let Some((first, bulk, row)) = features::history_edge(tx, false)? else {
        return Ok(None);
    };
    let gap = i64::from(bulk - first);
    Ok((gap > features::ISOLATED_DAYS).then(|| {
        format!(
            "the first purchase, on {} ({}), is {gap} days before 99.9 % of all purchases (from {}): a mistyped date? It lengthens that customer's history",
            features::from_epoch_days(first),
            tx.inputs.locate(row),
            features::from_epoch_days(bulk)
        )
    }))
}

fn warnings(tx: &Transactions, r: &QualityReport) -> Vec<String> {
    let mut out = tx.notes.clone();
    let a = &tx.accounting;
    let share = |reason: Reason| (a.count(reason), pct(a.count(reason), a.rows_read));
    let (n, p) = share(Reason::MissingCustomerId);
    if p >= 1.0 {
        out.push(format!(
            "{p:.1}% of rows ({n}) have no customer id: they cannot be attributed to a customer and are left out"
        ));
    }
    let (n, p) = share(Reason::Unparseable);
    if n > 0 {
        out.push(format!(
            "{n} rows ({p:.2}%) hold a date, quantity or price that cannot be read; --quarantine FILE lists them"
        ));
    }
    let (n, p) = share(Reason::OutOfRange);
    if n > 0 {
        out.push(format!(
            "{n} rows ({p:.2}%) hold a quantity, unit price or line value too large to be a purchase (beyond {:e}, {:e} or {:e}); they are rejected, and --quarantine FILE lists them",
            crate::clean::MAX_QUANTITY,
            crate::clean::MAX_UNIT_PRICE,
            crate::clean::MAX_LINE_VALUE
        ));
    }
    let (n, p) = share(Reason::Duplicate);
    if p >= 0.5 {
        out.push(format!(
            "{p:.1}% of rows ({n}) are exact duplicates of an earlier row and are counted once"
        ));
    }
    let cancel = a.count(Reason::Cancellation) + a.count(Reason::Return);
    if pct(cancel, a.rows_read) >= 1.0 {
        out.push(format!(
            "{:.1}% of rows ({cancel}) are cancellations or returns: they lower monetary value and are not purchases",
            pct(cancel, a.rows_read)
        ));
    }
    let (n, _) = share(Reason::NonPositivePrice);
    if n > 0 {
        out.push(format!(
            "{n} rows have a zero or negative unit price and are left out"
        ));
    }
    for canonical in &tx.empty {
        out.push(format!(
            "column {canonical} exists but is empty in every row: treated as missing"
        ));
    }
    for missing in &r.columns_missing {
        let consequence = match *missing {
            input::ORDER_ID => "one order per customer and day is assumed",
            input::PRODUCT_ID => "no product suggestions can be made",
            input::QUANTITY => "every line counts as quantity 1",
            input::UNIT_PRICE => "monetary value counts lines instead of money",
            _ => "not carried into outputs",
        };
        out.push(format!("no {missing} column: {consequence}"));
    }
    if r.customers < 50 {
        out.push(format!(
            "only {} customers with a valid purchase: too few to build features and train a model",
            r.customers
        ));
    }
    out
}

/// The report as aligned text for a terminal.
pub fn render(r: &QualityReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "input      {} ({})",
        r.input.as_deref().unwrap_or("-"),
        r.format
    );
    for file in r.files.iter().flatten() {
        let _ = writeln!(
            s,
            "  {:>12} rows, {:>12} kept  {}",
            file.rows_read, file.rows_kept, file.path
        );
    }
    let _ = writeln!(s, "rows read  {:>12}", r.rows_read);
    let _ = writeln!(
        s,
        "kept       {:>12}  ({:.1}%)",
        r.rows_kept,
        pct(r.rows_kept, r.rows_read)
    );
    let _ = writeln!(
        s,
        "rejected   {:>12}  ({:.1}%)",
        r.rows_rejected,
        pct(r.rows_rejected, r.rows_read)
    );
    for reason in &Reason::ALL[1..] {
        let n = r.rejected.get(reason.name()).copied().unwrap_or(0);
        if n > 0 {
            let _ = writeln!(s, "  {:<22}{:>10}  {}", reason.name(), n, reason.effect());
        }
    }
    let _ = writeln!(s, "customers  {:>12}", r.customers);
    let _ = writeln!(s, "orders     {:>12}", r.orders);
    if let Some(p) = r.products {
        let _ = writeln!(s, "products   {p:>12}");
    }
    if let (Some(first), Some(last)) = (&r.first_purchase, &r.last_purchase) {
        let _ = writeln!(s, "purchases  {first} .. {last}");
    }
    if let Some(as_of) = &r.default_as_of {
        let _ = writeln!(
            s,
            "as-of      {as_of} (default: the day after the last purchase)"
        );
    }
    if !r.warnings.is_empty() {
        let _ = writeln!(s, "warnings");
        for w in &r.warnings {
            let _ = writeln!(s, "  - {w}");
        }
    }
    s
}
