//! The reasons behind a churn score, in plain words, from the model's own contributions
//! (coefficient × standardised value).
//!
//! Inputs that describe the same fact about a customer form one [`Theme`], and a theme's
//! contribution is the sum of its inputs'. Inputs that move together (log frequency, purchase
//! days and purchase rate; for a one-time buyer recency, tenure and usual gap are one number) get
//! coefficients that pull against each other, so one of them alone can point the wrong way
//! ("bought on 16 different days" as a reason to leave); their sum is what the model says about
//! the fact. A theme is named when it pushes the score up and the customer is on its risky side
//! (a long lapse, few purchases, low spend...): a positive sum on the other side comes from
//! that pulling-against and would read backwards. The themes that push most are named, each once.

use super::inputs::{Input, Raw};

/// One fact about a customer that one or more inputs measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Theme {
    /// Time since the last purchase, against the usual gap.
    Lapse,
    /// How often and how much the customer buys: orders, purchase days, rate, usual gap, tenure,
    /// different products.
    Frequency,
    /// Orders and items in the last 30 / 90 / 180 days.
    RecentActivity,
    /// Money spent in all and per order.
    Spend,
    ItemPrice,
    LastOrder,
    /// Whether buyers of these products come back.
    ProductPropensity,
    /// How regular the gaps between purchases are.
    Rhythm,
}

/// Which side of the average reads as a risk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Risky {
    Above,
    Below,
    /// Either side can (the phrase says which).
    Either,
}

impl Theme {
    pub fn of(input: Input) -> Theme {
        match input {
            Input::LogRecency | Input::LogOverdue => Theme::Lapse,
            Input::LogFrequency
            | Input::LogPurchaseDays
            | Input::SinglePurchaseDay
            | Input::LogPurchaseRate
            | Input::PurchaseInHorizon
            | Input::LogGapMean
            | Input::LogTenure
            | Input::LogDistinctProducts => Theme::Frequency,
            Input::LogOrders30d
            | Input::LogOrders90d
            | Input::LogOrders180d
            | Input::LogLines180d => Theme::RecentActivity,
            Input::LogMonetary | Input::LogAvgOrderValue => Theme::Spend,
            Input::LogMedianPrice => Theme::ItemPrice,
            Input::LogLastOrderUnits => Theme::LastOrder,
            Input::ProductPropensity => Theme::ProductPropensity,
            Input::GapCv => Theme::Rhythm,
        }
    }

    /// The inputs whose standardised values tell on which side of the average the customer is,
    /// each with the side the theme's phrase describes; the customer is on the risky side when
    /// any of them is. Later than usual (the overdue ratio) is a lapse even when the time since
    /// is shorter than most customers wait.
    fn keys(self) -> &'static [(Input, Risky)] {
        match self {
            Theme::Lapse => &[
                (Input::LogRecency, Risky::Above),
                (Input::LogOverdue, Risky::Above),
            ],
            Theme::Frequency => &[(Input::LogPurchaseDays, Risky::Below)],
            Theme::RecentActivity => &[(Input::LogOrders90d, Risky::Below)],
            Theme::Spend => &[(Input::LogMonetary, Risky::Below)],
            Theme::ItemPrice => &[(Input::LogMedianPrice, Risky::Either)],
            Theme::LastOrder => &[(Input::LogLastOrderUnits, Risky::Below)],
            Theme::ProductPropensity => &[(Input::ProductPropensity, Risky::Below)],
            Theme::Rhythm => &[(Input::GapCv, Risky::Above)],
        }
    }

    /// A stable code for what [`Theme::phrase`] says, for segmenting in a CRM: the theme on
    /// its risky side, `single_purchase` for the one-time buyer's phrase (which two themes
    /// give), and the item price's side.
    pub fn code(self, raw: &Raw, above: bool) -> &'static str {
        match self {
            Theme::Lapse | Theme::Frequency if raw.single_purchase_day() => "single_purchase",
            Theme::Lapse => "lapse",
            Theme::Frequency => "low_frequency",
            Theme::RecentActivity => "low_recent_activity",
            Theme::Spend => "low_spend",
            Theme::ItemPrice => match raw.median_unit_price {
                Some(_) if above => "high_item_price",
                Some(_) => "low_item_price",
                None => "no_item_prices",
            },
            Theme::LastOrder => "small_last_order",
            Theme::ProductPropensity => "products_seldom_rebought",
            Theme::Rhythm => "irregular_rhythm",
        }
    }

    /// What this theme says about one customer, as a phrase a retention team reads. `above`:
    /// the customer's value of a key input is above the average (only the item price is named on
    /// either side).
    pub fn phrase(self, raw: &Raw, above: bool) -> String {
        match self {
            // For a one-time buyer recency, tenure and usual gap are one number, and the two
            // themes one fact: one phrase (named once).
            Theme::Lapse | Theme::Frequency if raw.single_purchase_day() => {
                format!("bought only once, {} ago", days(raw.recency_days))
            }
            // One gap is not a habit.
            Theme::Lapse if raw.purchase_days < 3.0 => format!(
                "no purchase for {}; bought on 2 days, {} apart",
                days(raw.recency_days),
                days(raw.usual_gap_days())
            ),
            Theme::Lapse => format!(
                "no purchase for {}; usually buys {}",
                days(raw.recency_days),
                every(raw.usual_gap_days())
            ),
            Theme::Frequency => format!(
                "bought on {} days in {}",
                raw.purchase_days.round() as i64,
                days(raw.tenure_days)
            ),
            Theme::RecentActivity => {
                if raw.orders_180d < 1.0 {
                    "no order in the last 180 days".to_string()
                } else if raw.orders_90d < 1.0 {
                    "no order in the last 90 days".to_string()
                } else {
                    format!("only {} in the last 90 days", orders(raw.orders_90d))
                }
            }
            Theme::Spend => {
                // Without prices (no item price for anyone), money is counted in purchase lines.
                let (total, per_order) = match raw.median_unit_price {
                    None => (
                        format!("{} purchase lines", raw.monetary_total.round() as i64),
                        format!("{:.1}", raw.avg_order_value),
                    ),
                    Some(_) => (
                        format!("{:.2}", raw.monetary_total),
                        format!("{:.2}", raw.avg_order_value),
                    ),
                };
                if raw.frequency < 2.0 {
                    format!("low spend: {total} in one order")
                } else {
                    format!("low spend: {total} in all, {per_order} per order")
                }
            }
            Theme::ItemPrice => match raw.median_unit_price {
                Some(p) if above => format!("high typical item price: {p:.2}"),
                Some(p) => format!("low typical item price: {p:.2}"),
                None => "no item prices".to_string(),
            },
            Theme::LastOrder => {
                let units = raw.last_order_units;
                if units == 1.0 {
                    "small last order: 1 unit".to_string()
                } else if units == units.round() {
                    format!("small last order: {} units", units as i64)
                } else {
                    format!("small last order: {units:.2} units")
                }
            }
            Theme::ProductPropensity => "buys products whose buyers seldom come back".to_string(),
            Theme::Rhythm => "irregular buying rhythm".to_string(),
        }
    }
}

/// One reason for a score: a stable code and the words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub code: &'static str,
    pub text: String,
}

/// Every code a reason can have with what it means, in theme order, [`NEAR_AVERAGE`] last (the
/// order of the report's table).
pub const CODES: [(&str, &str); 12] = [
    (
        "lapse",
        "no purchase for longer than most, or than usual for them",
    ),
    ("single_purchase", "bought only once, a while ago"),
    (
        "low_frequency",
        "few purchase days for their time as a customer",
    ),
    (
        "low_recent_activity",
        "few or no orders in the last 90 / 180 days",
    ),
    ("low_spend", "low spend in all and per order"),
    ("high_item_price", "high typical item price"),
    ("low_item_price", "low typical item price"),
    ("no_item_prices", "no item prices in the input"),
    ("small_last_order", "few units in the last order"),
    (
        "products_seldom_rebought",
        "buys products whose buyers seldom come back",
    ),
    ("irregular_rhythm", "irregular gaps between purchases"),
    (
        NEAR_AVERAGE,
        "no single reason: about as likely to leave as the average customer",
    ),
];

/// The code of [`near_average`]'s reason.
pub const NEAR_AVERAGE: &str = "no_single_reason";

/// The reason given when no theme is strong enough: the customer's score is about the average
/// customer's (`baseline`, the probability at average inputs).
pub fn near_average(baseline: f64) -> Reason {
    Reason {
        code: NEAR_AVERAGE,
        text: format!(
            "no single reason: the average customer is {:.0} % likely to stop buying",
            baseline * 100.0
        ),
    }
}

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

fn orders(n: f64) -> String {
    match n.round() as i64 {
        1 => "1 order".to_string(),
        n => format!("{n} orders"),
    }
}

/// A theme that moves the log-odds of churn by less than this is not named: 0.05 is about 1.2
/// points of probability around one half, too little to be why a customer is at risk.
pub const MIN_LOG_ODDS: f64 = 0.05;

/// One theme's share of a customer's score.
struct Pull {
    theme: Theme,
    /// The summed contributions of the theme's inputs.
    sum: f64,
    /// Whether a key input is on its risky side; `None` when the model has no key input.
    risky: Option<bool>,
    /// Whether a key input is above the average.
    above: bool,
}

/// Up to `n` reasons for the themes whose summed contributions push the score up most
/// (positive: toward churn, at least [`MIN_LOG_ODDS`]) and whose key inputs are on the risky
/// side, strongest first; ties in theme order. `contributions` and `standardised` are per input:
/// coefficient × standardised value, and the standardised value.
pub fn top_reasons(
    contributions: &[f64],
    standardised: &[f64],
    inputs: &[Input],
    raw: &Raw,
    n: usize,
) -> Vec<Reason> {
    let mut pulls: Vec<Pull> = Vec::new();
    for ((&input, &c), &z) in inputs.iter().zip(contributions).zip(standardised) {
        let theme = Theme::of(input);
        let risky =
            theme
                .keys()
                .iter()
                .find(|(key, _)| *key == input)
                .map(|(_, side)| match side {
                    Risky::Above => z > 0.0,
                    Risky::Below => z < 0.0,
                    Risky::Either => true,
                });
        let above = risky.is_some() && z > 0.0;
        match pulls.iter_mut().find(|p| p.theme == theme) {
            Some(p) => {
                p.sum += c;
                p.risky = match (p.risky, risky) {
                    (Some(a), Some(b)) => Some(a || b),
                    (a, b) => a.or(b),
                };
                p.above |= above;
            }
            None => pulls.push(Pull {
                theme,
                sum: c,
                risky,
                above,
            }),
        }
    }
    // A model without the key inputs (one saved with other inputs) names a theme as it pushes.
    pulls.retain(|p| p.sum >= MIN_LOG_ODDS && p.risky.unwrap_or(true));
    pulls.sort_by(|a, b| b.sum.total_cmp(&a.sum).then(a.theme.cmp(&b.theme)));
    let mut out: Vec<Reason> = Vec::with_capacity(n);
    for p in pulls {
        // Two themes can say one thing (the one-time buyer); it is named once.
        let code = p.theme.code(raw, p.above);
        if out.iter().all(|r| r.code != code) {
            out.push(Reason {
                code,
                text: p.theme.phrase(raw, p.above),
            });
        }
        if out.len() == n {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(reasons: Vec<Reason>) -> Vec<String> {
        reasons.into_iter().map(|r| r.text).collect()
    }

    fn codes(reasons: Vec<Reason>) -> Vec<&'static str> {
        reasons.into_iter().map(|r| r.code).collect()
    }

    #[test]
    fn strongest_themes_in_words_each_once() {
        let raw = Raw {
            recency_days: 142.0,
            tenure_days: 300.0,
            purchase_days: 4.0,
            gap_mean_days: Some(30.0),
            orders_180d: 1.0,
            ..Raw::default()
        };
        let inputs = [
            Input::LogRecency,
            Input::LogOverdue,
            Input::LogOrders90d,
            Input::LogMonetary,
            Input::LogOrders180d,
        ];
        // Lapse 0.5 + 0.9; recent activity 0.3 + 0.2; spend pulls the other way.
        let c = [0.5, 0.9, 0.3, -1.0, 0.2];
        let z = [1.0, 1.0, -1.0, 1.0, -1.0];
        assert_eq!(
            words(top_reasons(&c, &z, &inputs, &raw, 3)),
            [
                "no purchase for 142 days; usually buys every 30 days",
                "no order in the last 90 days",
            ]
        );
        assert_eq!(top_reasons(&c, &z, &inputs, &raw, 1).len(), 1);
    }

    #[test]
    fn inputs_of_one_theme_that_pull_against_each_other_give_no_reason() {
        let raw = Raw {
            purchase_days: 16.0,
            tenure_days: 300.0,
            distinct_products: Some(40.0),
            ..Raw::default()
        };
        let inputs = [
            Input::LogFrequency,
            Input::LogPurchaseDays,
            Input::LogPurchaseRate,
            Input::LogDistinctProducts,
            Input::GapCv,
        ];
        // Few purchase days (below average) with gaps more irregular than usual.
        let z = [-1.0, -1.0, -1.0, 1.0, 1.0];
        // Products alone would say "bought 40 products" pushes toward churn; the frequency
        // theme in all pulls away (0.4 + 0.3 − 0.9 + 0.1).
        let reasons = words(top_reasons(
            &[0.4, 0.3, -0.9, 0.1, 0.1],
            &z,
            &inputs,
            &raw,
            3,
        ));
        assert_eq!(reasons, ["irregular buying rhythm"]);
        let reasons = words(top_reasons(
            &[0.4, 0.3, -0.2, 0.1, 0.1],
            &z,
            &inputs,
            &raw,
            3,
        ));
        assert_eq!(
            reasons,
            ["bought on 16 days in 300 days", "irregular buying rhythm"]
        );
        // More purchase days than average: a positive sum would read "bought on 16 days" as a
        // reason to leave, so it is not named.
        let often = [1.0, 1.0, 1.0, 1.0, 1.0];
        let reasons = words(top_reasons(
            &[0.4, 0.3, -0.2, 0.1, 0.1],
            &often,
            &inputs,
            &raw,
            3,
        ));
        assert_eq!(reasons, ["irregular buying rhythm"]);
    }

    #[test]
    fn later_than_usual_is_a_lapse_even_when_sooner_than_most() {
        // 88 days since the last purchase is less than most customers' (recency below average),
        // but this customer usually buys every 8 days.
        let raw = Raw {
            recency_days: 88.0,
            tenure_days: 200.0,
            purchase_days: 13.0,
            gap_mean_days: Some(8.0),
            ..Raw::default()
        };
        let inputs = [Input::LogRecency, Input::LogOverdue];
        let reasons = words(top_reasons(&[-0.05, 0.9], &[-0.1, 1.5], &inputs, &raw, 3));
        assert_eq!(
            reasons,
            ["no purchase for 88 days; usually buys every 8 days"]
        );
        // On schedule and sooner than most: no lapse, whatever the sum.
        let reasons = words(top_reasons(&[-0.05, 0.9], &[-0.1, -0.2], &inputs, &raw, 3));
        assert!(reasons.is_empty(), "{reasons:?}");
    }

    #[test]
    fn a_one_time_buyer_is_named_as_one() {
        // One purchase 205 days ago: recency, tenure and usual gap are all 205.
        let raw = Raw {
            recency_days: 205.0,
            tenure_days: 205.0,
            purchase_days: 1.0,
            frequency: 1.0,
            ..Raw::default()
        };
        let inputs = [
            Input::LogGapMean,
            Input::SinglePurchaseDay,
            Input::LogFrequency,
            Input::LogPurchaseDays,
            Input::LogRecency,
        ];
        let z = [1.0, 1.0, -1.0, -1.5, 1.0];
        let c = [0.6, 0.3, 0.2, -0.1, 0.4];
        let reasons = words(top_reasons(&c, &z, &inputs, &raw, 3));
        assert_eq!(reasons, ["bought only once, 205 days ago"]);
        assert_eq!(
            codes(top_reasons(&c, &z, &inputs, &raw, 3)),
            ["single_purchase"]
        );
    }

    #[test]
    fn spend_item_price_and_last_order_are_named_on_their_risky_side() {
        let raw = Raw {
            frequency: 3.0,
            purchase_days: 3.0,
            monetary_total: 120.0,
            avg_order_value: 40.0,
            median_unit_price: Some(4.95),
            last_order_units: 6.0,
            ..Raw::default()
        };
        let inputs = [
            Input::LogMonetary,
            Input::LogAvgOrderValue,
            Input::LogMedianPrice,
            Input::LogLastOrderUnits,
        ];
        // Below-average spend and last order with negative coefficients, an above-average
        // price with a positive one: all three push toward churn.
        let c = [0.3, 0.1, 0.2, 0.25];
        assert_eq!(
            words(top_reasons(&c, &[-1.2, -0.4, 0.8, -1.0], &inputs, &raw, 3)),
            [
                "low spend: 120.00 in all, 40.00 per order",
                "small last order: 6 units",
                "high typical item price: 4.95",
            ]
        );
        assert_eq!(
            codes(top_reasons(&c, &[-1.2, -0.4, 0.8, -1.0], &inputs, &raw, 3)),
            ["low_spend", "small_last_order", "high_item_price"]
        );
        assert_eq!(
            codes(top_reasons(&c, &[1.2, 0.4, -0.8, 1.0], &inputs, &raw, 3)),
            ["low_item_price"]
        );
        // Above-average spend and last order that push toward churn are not named; a price
        // below average is, as low.
        assert_eq!(
            words(top_reasons(&c, &[1.2, 0.4, -0.8, 1.0], &inputs, &raw, 3)),
            ["low typical item price: 4.95"]
        );
        let one_order = Raw {
            frequency: 1.0,
            ..raw
        };
        assert_eq!(
            Theme::Spend.phrase(&one_order, false),
            "low spend: 120.00 in one order"
        );
    }

    #[test]
    fn a_model_without_a_key_input_names_the_theme_as_it_pushes() {
        let raw = Raw {
            frequency: 2.0,
            monetary_total: 50.0,
            avg_order_value: 25.0,
            median_unit_price: Some(1.0),
            ..Raw::default()
        };
        let reasons = words(top_reasons(
            &[0.2],
            &[1.0],
            &[Input::LogAvgOrderValue],
            &raw,
            3,
        ));
        assert_eq!(reasons, ["low spend: 50.00 in all, 25.00 per order"]);
    }

    #[test]
    fn counts_of_one_are_singular() {
        let raw = Raw {
            recency_days: 1.0,
            tenure_days: 30.0,
            purchase_days: 2.0,
            gap_mean_days: Some(1.0),
            orders_30d: 1.0,
            orders_90d: 1.0,
            orders_180d: 1.0,
            last_order_units: 1.0,
            ..Raw::default()
        };
        assert_eq!(
            Theme::Lapse.phrase(&raw, true),
            "no purchase for 1 day; bought on 2 days, 1 day apart"
        );
        let regular = Raw {
            purchase_days: 12.0,
            ..raw
        };
        assert_eq!(
            Theme::Lapse.phrase(&regular, true),
            "no purchase for 1 day; usually buys every day"
        );
        assert_eq!(
            Theme::RecentActivity.phrase(&raw, false),
            "only 1 order in the last 90 days"
        );
        assert_eq!(
            Theme::LastOrder.phrase(&raw, false),
            "small last order: 1 unit"
        );
        let more = Raw {
            last_order_units: 2.5,
            ..raw
        };
        assert_eq!(
            Theme::LastOrder.phrase(&more, false),
            "small last order: 2.50 units"
        );
    }

    #[test]
    fn every_code_is_listed_and_one_code_means_one_kind_of_phrase() {
        let themes = [
            Theme::Lapse,
            Theme::Frequency,
            Theme::RecentActivity,
            Theme::Spend,
            Theme::ItemPrice,
            Theme::LastOrder,
            Theme::ProductPropensity,
            Theme::Rhythm,
        ];
        let mut seen: Vec<(&str, Theme)> = Vec::new();
        for purchase_days in [1.0, 2.0, 5.0] {
            for price in [None, Some(2.5)] {
                let raw = Raw {
                    purchase_days,
                    median_unit_price: price,
                    ..Raw::default()
                };
                for theme in themes {
                    for above in [false, true] {
                        let code = theme.code(&raw, above);
                        assert!(
                            CODES.iter().any(|(c, _)| *c == code),
                            "{code} is not in CODES"
                        );
                        let phrase = theme.phrase(&raw, above);
                        if code == "single_purchase" {
                            assert!(phrase.starts_with("bought only once"), "{phrase}");
                        } else {
                            // Apart from the one-time buyer, a code belongs to one theme.
                            match seen.iter().find(|(c, _)| *c == code) {
                                Some((_, t)) => assert_eq!(*t, theme, "{code}"),
                                None => seen.push((code, theme)),
                            }
                        }
                    }
                }
            }
        }
        // Every listed code but the fallback's comes from a theme.
        assert_eq!(seen.len() + 2, CODES.len(), "{seen:?}");
        assert_eq!(near_average(0.75).code, NEAR_AVERAGE);
        assert_eq!(CODES.last().unwrap().0, NEAR_AVERAGE);
    }

    #[test]
    fn money_is_named_as_lines_without_prices() {
        let unpriced = Raw {
            frequency: 3.0,
            monetary_total: 101.0,
            avg_order_value: 33.5,
            median_unit_price: None,
            ..Raw::default()
        };
        assert_eq!(
            Theme::Spend.phrase(&unpriced, false),
            "low spend: 101 purchase lines in all, 33.5 per order"
        );
        assert_eq!(Theme::ItemPrice.phrase(&unpriced, false), "no item prices");
    }
}
