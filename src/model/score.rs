//! Scoring: churn probability, risk tier, reasons, expected next order, expected value over the
//! horizon and value at risk, for every customer of a scoring table.

use chrono::Duration;
use polars::prelude::*;

use super::artifact::ChurnModel;
use super::inputs::{self, Raw};
use super::reasons;
use crate::error::Result;
use crate::features::from_epoch_days;
use crate::schema::{feature as f, score as s};

/// Risk tiers by churn probability (config `[scoring]`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RiskTiers {
    /// At or above: "high".
    pub high: f64,
    /// At or above (and below `high`): "medium"; below: "low".
    pub medium: f64,
}

impl RiskTiers {
    pub fn tier(&self, p: f64) -> &'static str {
        if p >= self.high {
            "high"
        } else if p >= self.medium {
            "medium"
        } else {
            "low"
        }
    }
}

/// Expected spend over the horizon if the customer keeps their usual pace: purchase days per day
/// × horizon × average order value, the pace measured over at least one horizon, so that a
/// customer seen for a few days is not projected to buy every few days.
pub fn expected_value(raw: &Raw, horizon_days: u32) -> f64 {
    let horizon = f64::from(horizon_days);
    raw.purchase_days / raw.tenure_days.max(horizon) * horizon * raw.avg_order_value
}

/// Between the codes in [`s::REASON_CODES`]: CRMs import a `;`-separated text into a
/// multi-select field.
pub const REASON_CODE_SEPARATOR: &str = ";";

/// What the offer choice needs of one scored customer (see [`predict`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction<'a> {
    pub customer_id: &'a str,
    pub churn_probability: f64,
    pub risk_tier: &'static str,
    pub segment: &'a str,
    /// Expected spend over the horizon if the customer stays.
    pub expected_value: f64,
    pub avg_order_value: f64,
    /// Orders so far (the feature frequency).
    pub orders: f64,
}

/// What the offer choice needs of every customer of `table` (from
/// [`super::train::scoring_table`]), in its order, computed `part` customers at a time. Their
/// reasons are made by [`score`] as the files are written, a part at a time. A customer's
/// figures are those [`score`] gives: each is computed from the customer's row alone.
pub fn predict<'a>(
    model: &ChurnModel,
    table: &'a DataFrame,
    tiers: RiskTiers,
    part: usize,
) -> Result<Vec<Prediction<'a>>> {
    let ids = table.column(f::CUSTOMER_ID)?.str()?;
    let segments = table.column(f::RFM_SEGMENT)?.str()?;
    let mut out = Vec::with_capacity(table.height());
    for range in crate::output::parts::ranges(table.height(), part) {
        let rows = inputs::raw_rows(&table.slice(range.start as i64, range.len()))?;
        let p = model.predict(&rows);
        for ((i, raw), p) in range.zip(&rows).zip(p) {
            out.push(Prediction {
                customer_id: ids.get(i).unwrap_or_default(),
                churn_probability: p,
                risk_tier: tiers.tier(p),
                segment: segments.get(i).unwrap_or_default(),
                expected_value: expected_value(raw, model.horizon_days),
                avg_order_value: raw.avg_order_value,
                orders: raw.frequency,
            });
        }
    }
    Ok(out)
}

/// Adds the score columns in front of the features of `table` (from [`super::train::scoring_table`]).
pub fn score(model: &ChurnModel, table: &DataFrame, tiers: RiskTiers) -> Result<DataFrame> {
    let rows = inputs::raw_rows(table)?;
    let p = model.predict(&rows);
    let standardised = model.standardised(&rows);
    let horizon = model.horizon_days;
    let mut reason_columns: [Vec<String>; 3] = Default::default();
    let mut codes: Vec<String> = Vec::with_capacity(rows.len());
    let near_average = reasons::near_average(model.baseline());
    for (i, raw) in rows.iter().enumerate() {
        let z = standardised.row(i).to_vec();
        // Coefficient × standardised value: positive pushes toward churn.
        let contributions: Vec<f64> = z
            .iter()
            .zip(&model.logistic.coefficients)
            .map(|(z, w)| z * w)
            .collect();
        let mut named = reasons::top_reasons(&contributions, &z, &model.inputs, raw, 3);
        if named.is_empty() {
            named.push(near_average.clone());
        }
        codes.push(
            named
                .iter()
                .map(|r| r.code)
                .collect::<Vec<_>>()
                .join(REASON_CODE_SEPARATOR),
        );
        let mut top = named.into_iter().map(|r| r.text);
        for column in &mut reason_columns {
            column.push(top.next().unwrap_or_default());
        }
    }
    let last = table.column(f::LAST_PURCHASE)?.cast(&DataType::Int32)?;
    let next_order: Vec<Option<i32>> = last
        .i32()?
        .iter()
        .zip(&rows)
        .map(|(last, raw)| {
            let gap = raw.gap_mean_days?;
            let next = from_epoch_days(last?) + Duration::days(gap.round() as i64);
            Some(crate::features::epoch_days(next))
        })
        .collect();
    let value: Vec<f64> = rows.iter().map(|r| expected_value(r, horizon)).collect();
    let at_risk: Vec<f64> = value.iter().zip(&p).map(|(v, p)| v * p).collect();
    let tier: Vec<&str> = p.iter().map(|&x| tiers.tier(x)).collect();
    let [r1, r2, r3] = reason_columns;
    let mut out = DataFrame::new(
        table.height(),
        vec![
            table.column(f::CUSTOMER_ID)?.clone(),
            Column::new(s::CHURN_PROBABILITY.into(), p),
            Column::new(s::RISK_TIER.into(), tier),
            table.column(f::RFM_SEGMENT)?.clone(),
            Column::new(s::REASON_1.into(), r1),
            Column::new(s::REASON_2.into(), r2),
            Column::new(s::REASON_3.into(), r3),
            Column::new(s::REASON_CODES.into(), codes),
            Int32Chunked::from_iter_options(s::EXPECTED_NEXT_ORDER.into(), next_order.into_iter())
                .into_date()
                .into_column(),
            Column::new(s::EXPECTED_VALUE.into(), value),
            Column::new(s::VALUE_AT_RISK.into(), at_risk),
        ],
    )?;
    let taken: Vec<String> = out
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    for column in table.columns() {
        if !taken.iter().any(|t| t == column.name().as_str()) {
            out.with_column(column.clone())?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_value_measures_the_pace_over_at_least_one_horizon() {
        // Seen for 3 days, one purchase day: one order per 90 days, not one per 3 (or 30).
        let new = Raw {
            purchase_days: 1.0,
            tenure_days: 3.0,
            avg_order_value: 100.0,
            ..Raw::default()
        };
        assert!((expected_value(&new, 90) - 100.0).abs() < 1e-9);
        // 10 purchase days in 300 days at 50 an order: 10 / 300 · 90 · 50 = 150.
        let regular = Raw {
            purchase_days: 10.0,
            tenure_days: 300.0,
            avg_order_value: 50.0,
            ..Raw::default()
        };
        assert!((expected_value(&regular, 90) - 150.0).abs() < 1e-9);
    }
}
