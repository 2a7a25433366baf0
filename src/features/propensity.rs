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
///
/// Shard by shard in two passes: the counts of buyers and returners per product (whole numbers,
/// which add up across shards), then each customer's mean over the products' scores.
pub fn product_propensity(
    tx: &Transactions,
    t: NaiveDate,
    horizon_days: u32,
    shrink: f64,
) -> Result<DataFrame> {
    let t_days = epoch_days(t);
    let s_days = t_days - horizon_days as i32;
    // Per shard: (product, customers who bought it before s, of them came back in [s, t)) and
    // (customers with a product before s, of them came back).
    let partials = tx.lines.map("propensity: buyers per product", |lines| {
        let earlier = earlier_buyers(lines.clone().lazy(), s_days, t_days).collect()?;
        let per_product = earlier
            .clone()
            .lazy()
            .group_by([col(line::PRODUCT_IX)])
            .agg([
                len().cast(DataType::UInt64).alias("buyers"),
                col("came_back")
                    .sum()
                    .cast(DataType::UInt64)
                    .alias("returners"),
            ])
            .collect()?;
        let customers = earlier
            .lazy()
            .group_by([cix()])
            .agg([col("came_back").first()])
            .select([
                len().cast(DataType::UInt64).alias("customers"),
                col("came_back")
                    .sum()
                    .cast(DataType::UInt64)
                    .alias("returners"),
            ])
            .collect()?;
        let get =
            |name: &str| -> Result<u64> { Ok(customers.column(name)?.u64()?.get(0).unwrap_or(0)) };
        Ok((per_product, get("customers")?, get("returners")?))
    })?;
    let customers: u64 = partials.iter().map(|p| p.1).sum();
    let returners: u64 = partials.iter().map(|p| p.2).sum();
    let per_product = crate::engine::stack(partials.into_iter().map(|p| p.0).collect())?
        .lazy()
        .group_by([col(line::PRODUCT_IX)])
        .agg([col("buyers").sum(), col("returners").sum()])
        .sort([line::PRODUCT_IX], SortMultipleOptions::default())
        .collect()?;
    let overall = (customers > 0).then(|| returners as f64 / customers as f64);
    let rates = match overall.filter(|p| *p > 0.0 && *p < 1.0) {
        None => None,
        Some(overall) => {
            let base = logit(overall);
            let buyers = per_product.column("buyers")?.u64()?;
            let back = per_product.column("returners")?.u64()?;
            let score: Float64Chunked = buyers
                .into_no_null_iter()
                .zip(back.into_no_null_iter())
                .map(|(n, r)| {
                    let share = (r as f64 + shrink * overall) / (n as f64 + shrink);
                    Some(logit(share) - base)
                })
                .collect();
            Some(DataFrame::new(
                per_product.height(),
                vec![
                    per_product.column(line::PRODUCT_IX)?.clone(),
                    score.with_name("score".into()).into_column(),
                ],
            )?)
        }
    };
    let parts = tx.lines.map("propensity: per customer", |lines| {
        let current = bought(lines.clone().lazy(), t_days);
        let scored = match &rates {
            None => current
                .select([cix()])
                .unique(None, UniqueKeepStrategy::Any)
                .with_column(lit(0.0).alias(PRODUCT_PROPENSITY)),
            Some(rates) => current
                .left_join(
                    rates.clone().lazy(),
                    col(line::PRODUCT_IX),
                    col(line::PRODUCT_IX),
                )
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
                .alias(PRODUCT_PROPENSITY)]),
        };
        Ok(scored
            .left_join(tx.customers.clone().lazy(), cix(), cix())
            .select([col(line::CUSTOMER_ID), col(PRODUCT_PROPENSITY)])
            .collect()?)
    })?;
    Ok(crate::engine::stack(parts)?
        .lazy()
        .sort([line::CUSTOMER_ID], SortMultipleOptions::default())
        .collect()?)
}

fn cix() -> Expr {
    col(line::CUSTOMER_IX)
}

/// Distinct (customer, product) of purchases before `before`.
fn bought(lines: LazyFrame, before: i32) -> LazyFrame {
    lines
        .filter(
            col(line::KIND)
                .eq(lit(LineKind::Purchase.code()))
                .and(day().lt(lit(before)))
                .and(col(line::PRODUCT_IX).is_not_null()),
        )
        .select([cix(), col(line::PRODUCT_IX)])
        .unique(None, UniqueKeepStrategy::Any)
}

/// Customer, product and `came_back` (1.0 or 0.0) for products bought before `s_days`.
fn earlier_buyers(lines: LazyFrame, s_days: i32, t_days: i32) -> LazyFrame {
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
    bought(lines, s_days)
        .left_join(returned, cix(), cix())
        .with_column(col("came_back").fill_null(lit(0.0)))
}
