//! Churn labels (DESIGN.md): for the population at `t` (customers with a valid purchase before
//! `t`), churned = no valid purchase in `[t, t + horizon)`.

use chrono::NaiveDate;
use polars::prelude::*;

use super::{activity, day, epoch_days};
use crate::clean::Transactions;
use crate::error::Result;
use crate::schema::line;

/// Column of the label table: true when the customer made no valid purchase in the window.
pub const CHURNED: &str = "churned";

/// One row per customer of the population at `t`, sorted by id: `customer_id`, `churned`.
pub fn churn_labels(tx: &Transactions, t: NaiveDate, horizon_days: u32) -> Result<DataFrame> {
    let start = epoch_days(t);
    let end = start + horizon_days as i32;
    let parts = tx.lines.map("churn labels", |lines| {
        labels_shard(tx, lines.clone().lazy(), start, end)
    })?;
    Ok(crate::engine::stack(parts)?
        .lazy()
        .sort([line::CUSTOMER_ID], SortMultipleOptions::default())
        .collect()?)
}

fn labels_shard(tx: &Transactions, lines: LazyFrame, start: i32, end: i32) -> Result<DataFrame> {
    let acts = lines.filter(activity(col(line::KIND)));
    let cix = || col(line::CUSTOMER_IX);
    let population = acts
        .clone()
        .filter(day().lt(lit(start)))
        .select([cix()])
        .unique(None, UniqueKeepStrategy::Any);
    let buyers = acts
        .filter(day().gt_eq(lit(start)).and(day().lt(lit(end))))
        .select([cix()])
        .unique(None, UniqueKeepStrategy::Any)
        .with_column(lit(false).alias(CHURNED));
    let labels = population
        .left_join(buyers, cix(), cix())
        .left_join(tx.customers.clone().lazy(), cix(), cix())
        .select([col(line::CUSTOMER_ID), col(CHURNED).fill_null(lit(true))])
        .sort([line::CUSTOMER_ID], SortMultipleOptions::default())
        .collect()?;
    Ok(labels)
}
