//! The reasons behind a churn score, in plain words, from the model's own contributions
//! (coefficient × standardised value): the inputs that push this customer's score up the most.

use super::inputs::{Input, Raw};

/// "every day", "every 30 days".
fn every(gap_days: f64) -> String {
    match gap_days.round() as i64 {
        1 => "every day".to_string(),
        n => format!("every {n} days"),
    }
}

fn days(x: f64) -> String {
    match x.round() as i64 {
        1 => "1 day".to_string(),
        n => format!("{n} days"),
    }
}

/// What an input says about one customer, as a phrase a retention team reads.
pub fn phrase(input: Input, raw: &Raw, horizon_days: u32) -> String {
    let orders = |n: f64| {
        let n = n.round() as i64;
        if n == 1 {
            "1 order".to_string()
        } else {
            format!("{n} orders")
        }
    };
    match input {
        Input::LogRecency => format!("no purchase for {}", days(raw.recency_days)),
        Input::LogOverdue => match raw.gap_mean_days {
            Some(gap) => format!(
                "no purchase for {}; usually buys {}",
                days(raw.recency_days),
                every(gap)
            ),
            None => format!("no purchase for {}", days(raw.recency_days)),
        },
        Input::LogFrequency => format!("{} in all", orders(raw.frequency)),
        Input::LogPurchaseDays | Input::SinglePurchaseDay => {
            if raw.purchase_days < 2.0 {
                "bought only once".to_string()
            } else {
                format!(
                    "bought on {} different days",
                    raw.purchase_days.round() as i64
                )
            }
        }
        // Without prices (no item price for anyone), money is counted in purchase lines.
        Input::LogMonetary if raw.median_unit_price.is_none() => {
            format!(
                "{} purchase lines in all",
                raw.monetary_total.round() as i64
            )
        }
        Input::LogAvgOrderValue if raw.median_unit_price.is_none() => {
            format!("{:.1} lines per order", raw.avg_order_value)
        }
        Input::LogMonetary => format!("spent {:.2} in all", raw.monetary_total),
        Input::LogAvgOrderValue => format!("average order {:.2}", raw.avg_order_value),
        Input::LogTenure => format!("customer for {}", days(raw.tenure_days)),
        Input::LogOrders30d => format!("{} in the last 30 days", orders(raw.orders_30d)),
        Input::LogOrders90d => format!("{} in the last 90 days", orders(raw.orders_90d)),
        Input::LogOrders180d => format!("{} in the last 180 days", orders(raw.orders_180d)),
        Input::LogGapMean => format!("usually buys {}", every(raw.usual_gap_days())),
        Input::GapCv => "irregular buying rhythm".to_string(),
        Input::LogDistinctProducts => match raw.distinct_products.unwrap_or(0.0).round() as i64 {
            1 => "bought 1 product".to_string(),
            n => format!("bought {n} different products"),
        },
        Input::LogPurchaseRate | Input::PurchaseInHorizon => format!(
            "about {:.1} purchase days per {horizon_days} days",
            raw.purchase_rate() * f64::from(horizon_days)
        ),
        Input::LogMedianPrice => match raw.median_unit_price {
            Some(p) => format!("typical item price {p:.2}"),
            None => "no item prices".to_string(),
        },
        Input::LogLines180d => match raw.lines_180d.round() as i64 {
            1 => "1 item bought in the last 180 days".to_string(),
            n => format!("{n} items bought in the last 180 days"),
        },
        Input::ProductPropensity => "buys products whose buyers seldom come back".to_string(),
        Input::LogLastOrderUnits => {
            let units = raw.last_order_units;
            if units == 1.0 {
                "last order: 1 unit".to_string()
            } else if units == units.round() {
                format!("last order: {} units", units as i64)
            } else {
                format!("last order: {units:.2} units")
            }
        }
    }
}

/// Up to `n` distinct phrases for the inputs with the largest positive contributions.
pub fn top_reasons(
    contributions: &[f64],
    inputs: &[Input],
    raw: &Raw,
    horizon_days: u32,
    n: usize,
) -> Vec<String> {
    let mut order: Vec<usize> = (0..inputs.len())
        .filter(|&j| contributions[j] > 0.0)
        .collect();
    order.sort_by(|&a, &b| {
        contributions[b]
            .total_cmp(&contributions[a])
            .then(a.cmp(&b))
    });
    let mut out: Vec<String> = Vec::with_capacity(n);
    for j in order {
        let text = phrase(inputs[j], raw, horizon_days);
        // "no purchase for 142 days; usually buys every 30" already says "no purchase for 142 days".
        if out
            .iter()
            .any(|r| r.starts_with(&text) || text.starts_with(r.as_str()))
        {
            continue;
        }
        out.push(text);
        if out.len() == n {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strongest_positive_contributions_in_words_without_repeats() {
        let raw = Raw {
            recency_days: 142.0,
            purchase_days: 4.0,
            gap_mean_days: Some(30.0),
            orders_90d: 0.0,
            ..Raw::default()
        };
        let inputs = [
            Input::LogRecency,
            Input::LogOverdue,
            Input::LogOrders90d,
            Input::LogMonetary,
        ];
        let reasons = top_reasons(&[0.5, 0.9, 0.3, -1.0], &inputs, &raw, 90, 3);
        assert_eq!(
            reasons,
            vec![
                "no purchase for 142 days; usually buys every 30 days".to_string(),
                "0 orders in the last 90 days".to_string(),
            ]
        );
    }

    #[test]
    fn last_order_units_in_words() {
        let units = |n: f64| {
            let raw = Raw {
                last_order_units: n,
                ..Raw::default()
            };
            phrase(Input::LogLastOrderUnits, &raw, 90)
        };
        assert_eq!(units(1.0), "last order: 1 unit");
        assert_eq!(units(12.0), "last order: 12 units");
        assert_eq!(units(2.5), "last order: 2.50 units");
    }

    #[test]
    fn counts_of_one_are_singular() {
        let products = |n: f64| {
            let raw = Raw {
                distinct_products: Some(n),
                ..Raw::default()
            };
            phrase(Input::LogDistinctProducts, &raw, 90)
        };
        assert_eq!(products(1.0), "bought 1 product");
        assert_eq!(products(7.0), "bought 7 different products");
        let once = Raw {
            recency_days: 1.0,
            tenure_days: 1.0,
            lines_180d: 1.0,
            ..Raw::default()
        };
        assert_eq!(
            phrase(Input::LogRecency, &once, 90),
            "no purchase for 1 day"
        );
        assert_eq!(phrase(Input::LogTenure, &once, 90), "customer for 1 day");
        let daily = Raw {
            recency_days: 150.0,
            gap_mean_days: Some(1.0),
            ..Raw::default()
        };
        assert_eq!(
            phrase(Input::LogOverdue, &daily, 90),
            "no purchase for 150 days; usually buys every day"
        );
        assert_eq!(
            phrase(Input::LogLines180d, &once, 90),
            "1 item bought in the last 180 days"
        );
    }

    #[test]
    fn money_is_named_as_lines_without_prices() {
        let priced = Raw {
            monetary_total: 101.0,
            avg_order_value: 33.5,
            median_unit_price: Some(2.5),
            ..Raw::default()
        };
        let unpriced = Raw {
            median_unit_price: None,
            ..priced
        };
        assert_eq!(
            phrase(Input::LogMonetary, &priced, 90),
            "spent 101.00 in all"
        );
        assert_eq!(
            phrase(Input::LogMonetary, &unpriced, 90),
            "101 purchase lines in all"
        );
        assert_eq!(
            phrase(Input::LogAvgOrderValue, &unpriced, 90),
            "33.5 lines per order"
        );
    }
}
