//! The churn model's inputs: transforms of customer features, and the one place where a polars
//! table becomes an ndarray matrix (polars and linfa use different ndarray versions).

use ndarray::Array2;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::features::propensity::PRODUCT_PROPENSITY;
use crate::schema::feature as f;

/// One model input. The serialised name is part of the artifact format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Input {
    LogRecency,
    LogFrequency,
    LogMonetary,
    LogTenure,
    LogAvgOrderValue,
    LogOrders30d,
    LogOrders90d,
    LogOrders180d,
    LogPurchaseDays,
    SinglePurchaseDay,
    LogGapMean,
    LogOverdue,
    GapCv,
    LogDistinctProducts,
    LogPurchaseRate,
    PurchaseInHorizon,
    LogMedianPrice,
    LogLines180d,
    ProductPropensity,
    LogLastOrderUnits,
}

impl Input {
    /// The default model's inputs, in order.
    pub const ALL: [Input; 20] = [
        Input::LogRecency,
        Input::LogFrequency,
        Input::LogMonetary,
        Input::LogTenure,
        Input::LogAvgOrderValue,
        Input::LogOrders30d,
        Input::LogOrders90d,
        Input::LogOrders180d,
        Input::LogPurchaseDays,
        Input::SinglePurchaseDay,
        Input::LogGapMean,
        Input::LogOverdue,
        Input::GapCv,
        Input::LogDistinctProducts,
        Input::LogPurchaseRate,
        Input::PurchaseInHorizon,
        Input::LogMedianPrice,
        Input::LogLines180d,
        Input::ProductPropensity,
        Input::LogLastOrderUnits,
    ];

    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

/// Shortest history, in days, over which a purchase rate is measured: a customer seen for a week
/// is not assumed to buy weekly.
pub const MIN_RATE_WINDOW_DAYS: f64 = 30.0;

/// The raw feature values of one customer that the inputs and the reasons are computed from.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Raw {
    pub recency_days: f64,
    pub frequency: f64,
    pub monetary_total: f64,
    pub tenure_days: f64,
    pub avg_order_value: f64,
    pub orders_30d: f64,
    pub orders_90d: f64,
    pub orders_180d: f64,
    pub purchase_days: f64,
    pub gap_mean_days: Option<f64>,
    pub gap_std_days: Option<f64>,
    pub distinct_products: Option<f64>,
    pub median_unit_price: Option<f64>,
    pub lines_180d: f64,
    pub last_order_units: f64,
    pub product_propensity: f64,
}

impl Raw {
    /// Orders per day over the customer's history (at least [`MIN_RATE_WINDOW_DAYS`]).
    pub fn purchase_rate(&self) -> f64 {
        self.purchase_days / self.tenure_days.max(MIN_RATE_WINDOW_DAYS)
    }

    /// Whether the customer has bought on one day only (purchase days are whole; below 2 leaves
    /// room for a float).
    pub fn single_purchase_day(&self) -> bool {
        self.purchase_days < 2.0
    }

    /// The usual gap between purchase days; with one purchase day, the time since it.
    pub fn usual_gap_days(&self) -> f64 {
        self.gap_mean_days.unwrap_or(self.tenure_days).max(1.0)
    }

    pub fn value(&self, input: Input, horizon_days: u32) -> f64 {
        let ln1p = |x: f64| x.max(0.0).ln_1p();
        match input {
            Input::LogRecency => ln1p(self.recency_days),
            Input::LogFrequency => ln1p(self.frequency),
            Input::LogMonetary => ln1p(self.monetary_total),
            Input::LogTenure => ln1p(self.tenure_days),
            Input::LogAvgOrderValue => ln1p(self.avg_order_value),
            Input::LogOrders30d => ln1p(self.orders_30d),
            Input::LogOrders90d => ln1p(self.orders_90d),
            Input::LogOrders180d => ln1p(self.orders_180d),
            Input::LogPurchaseDays => ln1p(self.purchase_days),
            Input::SinglePurchaseDay => f64::from(u8::from(self.single_purchase_day())),
            Input::LogGapMean => ln1p(self.usual_gap_days()),
            Input::LogOverdue => ln1p(self.recency_days / self.usual_gap_days()),
            Input::GapCv => match (self.gap_std_days, self.gap_mean_days) {
                (Some(std), Some(mean)) if mean > 0.0 => std / mean,
                _ => 0.0,
            },
            Input::LogDistinctProducts => ln1p(self.distinct_products.unwrap_or(0.0)),
            Input::LogPurchaseRate => self.purchase_rate().max(1e-6).ln(),
            Input::PurchaseInHorizon => {
                1.0 - (-self.purchase_rate() * f64::from(horizon_days)).exp()
            }
            Input::LogMedianPrice => ln1p(self.median_unit_price.unwrap_or(0.0)),
            Input::LogLines180d => ln1p(self.lines_180d),
            Input::ProductPropensity => self.product_propensity,
            Input::LogLastOrderUnits => ln1p(self.last_order_units),
        }
    }
}

fn floats(table: &DataFrame, name: &str) -> Result<Vec<Option<f64>>> {
    let column = table.column(name)?.cast(&DataType::Float64)?;
    Ok(column.f64()?.iter().collect())
}

/// Reads the raw values of every customer from a feature table (with `product_propensity`
/// joined in; missing values there count as 0).
pub fn raw_rows(table: &DataFrame) -> Result<Vec<Raw>> {
    let col = |name: &str| floats(table, name);
    let recency = col(f::RECENCY_DAYS)?;
    let frequency = col(f::FREQUENCY)?;
    let monetary = col(f::MONETARY_TOTAL)?;
    let tenure = col(f::TENURE_DAYS)?;
    let aov = col(f::AVG_ORDER_VALUE)?;
    let o30 = col(f::ORDERS_30D)?;
    let o90 = col(f::ORDERS_90D)?;
    let o180 = col(f::ORDERS_180D)?;
    let days = col(f::PURCHASE_DAYS)?;
    let gap_mean = col(f::GAP_MEAN_DAYS)?;
    let gap_std = col(f::GAP_STD_DAYS)?;
    let products = col(f::DISTINCT_PRODUCTS)?;
    let price = col(f::MEDIAN_UNIT_PRICE)?;
    let lines = col(f::LINES_180D)?;
    let last_units = col(f::LAST_ORDER_UNITS)?;
    let propensity = if table.schema().contains(PRODUCT_PROPENSITY) {
        col(PRODUCT_PROPENSITY)?
    } else {
        vec![None; table.height()]
    };
    Ok((0..table.height())
        .map(|i| Raw {
            recency_days: recency[i].unwrap_or(0.0),
            frequency: frequency[i].unwrap_or(0.0),
            monetary_total: monetary[i].unwrap_or(0.0),
            tenure_days: tenure[i].unwrap_or(0.0),
            avg_order_value: aov[i].unwrap_or(0.0),
            orders_30d: o30[i].unwrap_or(0.0),
            orders_90d: o90[i].unwrap_or(0.0),
            orders_180d: o180[i].unwrap_or(0.0),
            purchase_days: days[i].unwrap_or(0.0),
            gap_mean_days: gap_mean[i],
            gap_std_days: gap_std[i],
            distinct_products: products[i],
            median_unit_price: price[i],
            lines_180d: lines[i].unwrap_or(0.0),
            last_order_units: last_units[i].unwrap_or(0.0),
            product_propensity: propensity[i].unwrap_or(0.0),
        })
        .collect())
}

/// The input matrix (customers × inputs), row-major.
pub fn design_matrix(rows: &[Raw], inputs: &[Input], horizon_days: u32) -> Array2<f64> {
    let mut values = Vec::with_capacity(rows.len() * inputs.len());
    for row in rows {
        values.extend(inputs.iter().map(|&input| row.value(input, horizon_days)));
    }
    Array2::from_shape_vec((rows.len(), inputs.len()), values)
        .unwrap_or_else(|_| Array2::zeros((rows.len(), inputs.len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_values_by_hand() {
        let raw = Raw {
            recency_days: 20.0,
            frequency: 3.0,
            tenure_days: 60.0,
            purchase_days: 3.0,
            gap_mean_days: Some(20.0),
            gap_std_days: Some(10.0),
            ..Raw::default()
        };
        assert!((raw.value(Input::LogRecency, 90) - 21f64.ln()).abs() < 1e-12);
        assert_eq!(raw.value(Input::SinglePurchaseDay, 90), 0.0);
        assert!((raw.value(Input::LogOverdue, 90) - 2f64.ln()).abs() < 1e-12);
        assert!((raw.value(Input::GapCv, 90) - 0.5).abs() < 1e-12);
        // 3 purchase days over 60 days: rate 0.05 per day; P(≥1 in 90 days) = 1 − e^−4.5.
        assert!((raw.value(Input::PurchaseInHorizon, 90) - (1.0 - (-4.5f64).exp())).abs() < 1e-12);
        let once = Raw {
            recency_days: 10.0,
            tenure_days: 10.0,
            purchase_days: 1.0,
            ..Raw::default()
        };
        // A week-old single purchase is measured over 30 days, and its usual gap is its age.
        assert!((once.purchase_rate() - 1.0 / 30.0).abs() < 1e-12);
        assert!((once.value(Input::LogOverdue, 90) - 2f64.ln()).abs() < 1e-12);
        assert_eq!(once.value(Input::SinglePurchaseDay, 90), 1.0);
    }

    #[test]
    fn names_are_stable() {
        assert_eq!(Input::LogOrders90d.name(), "log_orders90d");
        assert_eq!(Input::ProductPropensity.name(), "product_propensity");
    }
}
