//! Product return propensity: do buyers of the products this customer buys usually come back?
//!
//! For features at `t`, every product gets the share of its buyers (before `t − horizon`) who
//! bought again in `[t − horizon, t)`, shrunk toward the overall share with `shrink` pseudo-buyers.
//! A customer's value is the mean, over the distinct products they bought before `t`, of
//! `logit(product share) − logit(overall share)`: 0 is average, negative means buyers of those
//! products tend not to return. Only data before `t` is used, so it is honest at any as-of date.

use chrono::NaiveDate;
use polars::prelude::*;

use super::{activity, day, epoch_days};
use crate::clean::{LineKind, Transactions};
use crate::error::Result;
use crate::schema::line;

pub const PRODUCT_PROPENSITY: &str = "product_propensity";

fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-4, 1.0 - 1e-4);
    (p / (1.0 - p)).ln()
}

/// `customer_id`, `product_propensity` for every customer with a product purchase before `t`.
/// Without product ids, or without history before `t − horizon`, every value is 0.
pub fn product_propensity(
    tx: &Transactions,
    t: NaiveDate,
    horizon_days: u32,
    shrink: f64,
) -> Result<DataFrame> {
    let cix = || col(line::CUSTOMER_IX);
    let t_days = epoch_days(t);
    let s_days = t_days - horizon_days as i32;
    let lines = tx.lines.clone().lazy();
    let bought = |before: i32| {
        lines
            .clone()
            .filter(
                col(line::KIND)
                    .eq(lit(LineKind::Purchase.code()))
                    .and(day().lt(lit(before)))
                    .and(col(line::PRODUCT_IX).is_not_null()),
            )
            .select([cix(), col(line::PRODUCT_IX)])
            .unique(None, UniqueKeepStrategy::Any)
    };
    let returned = lines
        .clone()
        .filter(
            activity(col(line::KIND))
                .and(day().gt_eq(lit(s_days)))
                .and(day().lt(lit(t_days))),
        )
        .select([cix()])
        .unique(None, UniqueKeepStrategy::Any)
        .with_column(lit(1.0).alias("came_back"));
    let earlier = bought(s_days)
        .left_join(returned, cix(), cix())
        .with_column(col("came_back").fill_null(lit(0.0)))
        .collect()?;

    let current = bought(t_days);
    let overall = earlier
        .clone()
        .lazy()
        .group_by([cix()])
        .agg([col("came_back").first()])
        .select([col("came_back").mean()])
        .collect()?;
    let overall = overall.columns()[0].f64()?.get(0);
    let Some(overall) = overall.filter(|p| *p > 0.0 && *p < 1.0) else {
        return Ok(current
            .select([cix()])
            .unique(None, UniqueKeepStrategy::Any)
            .with_column(lit(0.0).alias(PRODUCT_PROPENSITY))
            .left_join(tx.customers.clone().lazy(), cix(), cix())
            .select([col(line::CUSTOMER_ID), col(PRODUCT_PROPENSITY)])
            .sort([line::CUSTOMER_ID], SortMultipleOptions::default())
            .collect()?);
    };
    let mut rates = earlier
        .lazy()
        .group_by([col(line::PRODUCT_IX)])
        .agg([((col("came_back").sum() + lit(shrink * overall))
            / (len().cast(DataType::Float64) + lit(shrink)))
        .alias("share")])
        .collect()?;
    let base = logit(overall);
    let score = rates
        .column("share")?
        .f64()?
        .apply_values(|share| logit(share) - base)
        .with_name("score".into())
        .into_column();
    rates.with_column(score)?;
    let table = current
        .left_join(rates.lazy(), col(line::PRODUCT_IX), col(line::PRODUCT_IX))
        .with_column(col("score").fill_null(lit(0.0)))
        .group_by([cix()])
        // Summed as whole billionths: integer addition does not depend on how rows are
        // partitioned, so reruns give the same bits.
        .agg([((col("score") * lit(1e9))
            .round(0, RoundMode::HalfAwayFromZero)
            .cast(DataType::Int64)
            .sum()
            .cast(DataType::Float64)
            / len().cast(DataType::Float64)
            / lit(1e9))
        .alias(PRODUCT_PROPENSITY)])
        .left_join(tx.customers.clone().lazy(), cix(), cix())
        .select([col(line::CUSTOMER_ID), col(PRODUCT_PROPENSITY)])
        .sort([line::CUSTOMER_ID], SortMultipleOptions::default())
        .collect()?;
    Ok(table)
}
