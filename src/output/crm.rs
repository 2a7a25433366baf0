//! From decisions to files: the decision and product columns added to the scored customers, the
//! CRM file (customers selected for contact or control) and the reasons counted for the summary.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use polars::prelude::*;

use crate::error::Result;
use crate::offers::{Campaign, Catalog, Decision, NO_ACTION, Outcome};
use crate::schema::{crm as c, feature as f, offer as o, score as s};

pub use crate::recommend::output::{PICKS, Picks};

/// Adds, per risk tier, each reason code of the scored customers in `part` to `into`.
pub fn tally_reasons(
    part: &DataFrame,
    into: &mut BTreeMap<String, BTreeMap<String, usize>>,
) -> Result<()> {
    let tiers = part.column(s::RISK_TIER)?.str()?;
    let codes = part.column(s::REASON_CODES)?.str()?;
    for (tier, codes) in tiers.iter().zip(codes.iter()) {
        let counts = into
            .entry(tier.unwrap_or_default().to_string())
            .or_default();
        for code in codes
            .unwrap_or_default()
            .split(crate::model::score::REASON_CODE_SEPARATOR)
            .filter(|c| !c.is_empty())
        {
            match counts.get_mut(code) {
                Some(n) => *n += 1,
                None => {
                    counts.insert(code.to_string(), 1);
                }
            }
        }
    }
    Ok(())
}

/// The scored customers of `scores` with their decisions and picks (`decisions` and `customers`
/// aligned with its rows): the decision and product columns placed after the score columns and
/// before the features.
pub fn with_decisions(
    scores: &DataFrame,
    decisions: &[&Decision<'_>],
    customers: &[u32],
    catalog: &Catalog,
    picks: &Picks<'_>,
) -> Result<DataFrame> {
    let sent = |d: &Decision| d.offer_to_send().and_then(|code| catalog.get(code));
    let n = decisions.len();
    fn held_back<'d>(d: &Decision<'d>) -> &'d str {
        match d.outcome {
            Outcome::Control | Outcome::OverBudget => d.offer.unwrap_or_default(),
            _ => "",
        }
    }
    let mut added = vec![
        Column::new(
            o::DECISION.into(),
            decisions
                .iter()
                .map(|d| d.outcome.as_str())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            o::OFFER_CODE.into(),
            decisions
                .iter()
                .map(|d| d.offer_to_send().unwrap_or(NO_ACTION))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            o::OFFER_NAME.into(),
            decisions
                .iter()
                .map(|d| sent(d).map_or(catalog.no_action_name(), |o| o.name.as_str()))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            o::OFFER_CHANNEL.into(),
            decisions
                .iter()
                .map(|d| sent(d).map_or("none", |o| o.channel.as_str()))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            o::OFFER_COST.into(),
            decisions
                .iter()
                .map(|d| {
                    if d.offer_to_send().is_some() {
                        d.cost
                    } else {
                        0.0
                    }
                })
                .collect::<Vec<_>>(),
        ),
        Column::new(
            o::EXPECTED_NET_BENEFIT.into(),
            decisions.iter().map(|d| d.net_benefit).collect::<Vec<_>>(),
        ),
        Column::new(
            o::CONTROL_GROUP.into(),
            decisions
                .iter()
                .map(|d| d.outcome == Outcome::Control)
                .collect::<Vec<_>>(),
        ),
        Column::new(
            o::HELD_BACK_OFFER_CODE.into(),
            decisions.iter().map(|d| held_back(d)).collect::<Vec<_>>(),
        ),
    ];
    for k in 0..PICKS {
        let pick = |name: bool| -> Vec<&str> {
            customers
                .iter()
                .map(|&c| {
                    picks
                        .get(c, k)
                        .map(|(id, n)| if name { n } else { id })
                        .unwrap_or_default()
                })
                .collect()
        };
        added.push(Column::new(c::PRODUCT_ID[k].into(), pick(false)));
        added.push(Column::new(c::PRODUCT_NAME[k].into(), pick(true)));
    }
    let after = scores
        .get_column_names()
        .iter()
        .position(|name| name.as_str() == s::VALUE_AT_RISK)
        .map_or(scores.width(), |i| i + 1);
    let mut columns: Vec<Column> = scores.columns()[..after].to_vec();
    columns.extend(added);
    columns.extend(scores.columns()[after..].iter().cloned());
    Ok(DataFrame::new(n, columns)?)
}

/// The CRM file's rows for `selected` (customers chosen for contact or control, in the file's
/// order, with their decisions: [`with_decisions`]).
pub fn crm_part(
    selected: &DataFrame,
    campaign: &Campaign,
    as_of: NaiveDate,
    model_version: &str,
) -> Result<DataFrame> {
    let keep = [
        f::CUSTOMER_ID,
        s::CHURN_PROBABILITY,
        s::RISK_TIER,
        f::RFM_SEGMENT,
        s::REASON_1,
        s::REASON_2,
        s::REASON_3,
        o::OFFER_CODE,
        o::OFFER_NAME,
        o::OFFER_CHANNEL,
        o::OFFER_COST,
        o::EXPECTED_NET_BENEFIT,
        o::CONTROL_GROUP,
        o::HELD_BACK_OFFER_CODE,
        s::VALUE_AT_RISK,
        s::EXPECTED_NEXT_ORDER,
    ];
    let products = (0..PICKS).flat_map(|k| [c::PRODUCT_ID[k], c::PRODUCT_NAME[k]]);
    let mut columns: Vec<Column> = keep
        .into_iter()
        .chain(products)
        .map(|name| selected.column(name).cloned())
        .collect::<PolarsResult<_>>()?;
    let n = selected.height();
    let days = crate::features::epoch_days(as_of);
    columns.push(
        Int32Chunked::from_vec(c::AS_OF.into(), vec![days; n])
            .into_date()
            .into_column(),
    );
    columns.push(Column::new(
        c::MODEL_VERSION.into(),
        vec![model_version.to_string(); n],
    ));
    columns.push(Column::new(
        c::CAMPAIGN.into(),
        vec![campaign.id.clone(); n],
    ));
    // Columns added after the first release go last, so that an import mapped by position
    // keeps working.
    columns.push(selected.column(s::REASON_CODES)?.clone());
    Ok(DataFrame::new(n, columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::score::Prediction;
    use crate::offers::{Budget, Offer, Summary, candidates, crm_order, decide};

    fn offer(code: &str, fixed: f64, uplift: f64) -> Offer {
        Offer {
            risk_tiers: vec!["high".into()],
            ..Offer::plain(code, fixed, uplift)
        }
    }

    /// Four customers: a (p 0.9, value 1000), b (0.8, 500), c (low risk), d (0.9, 2000, opted out).
    fn scores() -> DataFrame {
        let date = |d: &str| crate::features::epoch_days(d.parse().unwrap());
        df!(
            f::CUSTOMER_ID => ["a", "b", "c", "d"],
            s::CHURN_PROBABILITY => [0.9, 0.8, 0.1, 0.9],
            s::RISK_TIER => ["high", "high", "low", "high"],
            f::RFM_SEGMENT => ["At risk", "Lost", "Champions", "At risk"],
            s::REASON_1 => ["r1", "r1", "r1", "r1"],
            s::REASON_2 => ["r2", "r2", "r2", "r2"],
            s::REASON_3 => ["r3", "r3", "r3", "r3"],
            s::REASON_CODES => ["lapse;low_spend", "lapse", "no_single_reason", "lapse"],
            s::EXPECTED_NEXT_ORDER => Int32Chunked::from_vec("x".into(), vec![date("2024-01-01"); 4]).into_date().into_series(),
            s::EXPECTED_VALUE => [1000.0, 500.0, 3000.0, 2000.0],
            s::VALUE_AT_RISK => [900.0, 400.0, 300.0, 1800.0],
            f::FREQUENCY => [3i64, 2, 9, 4],
            f::AVG_ORDER_VALUE => [50.0, 40.0, 80.0, 60.0],
        )
        .unwrap()
    }

    fn campaign(control_share: f64) -> Campaign {
        Campaign {
            id: "test".into(),
            catalog: Catalog {
                offers: vec![offer("MAIL", 2.0, 0.05)],
            },
            suppressed: Some(
                crate::offers::suppression::parse(b"d\n", "optout.txt".as_ref(), "customer_id")
                    .unwrap(),
            ),
            allow_unmatched_suppressions: false,
            budget: Budget::default(),
            control_share,
        }
    }

    fn col(t: &DataFrame, name: &str) -> Vec<String> {
        t.column(name)
            .unwrap()
            .cast(&DataType::String)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|v| v.unwrap_or_default().to_string())
            .collect()
    }

    /// The whole flow on a small table: candidates, decisions, the score table with decisions
    /// and the CRM file (as `score` makes them a part at a time), the summary with its reasons.
    fn decide_all(
        scores: &DataFrame,
        picks: &Picks<'_>,
        campaign: &Campaign,
        as_of: NaiveDate,
        model_version: &str,
    ) -> (DataFrame, DataFrame, Summary) {
        let customers: Vec<u32> = (0..scores.height() as u32).collect();
        let text = |name: &str| -> Vec<&str> {
            let column = scores.column(name).unwrap().str().unwrap();
            column.iter().map(|v| v.unwrap()).collect()
        };
        let float = |name: &str| -> Vec<f64> {
            let column = scores
                .column(name)
                .unwrap()
                .cast(&DataType::Float64)
                .unwrap();
            column.f64().unwrap().iter().map(|v| v.unwrap()).collect()
        };
        let (ids, segments) = (text(f::CUSTOMER_ID), text(f::RFM_SEGMENT));
        let tiers: Vec<&'static str> = text(s::RISK_TIER)
            .into_iter()
            .map(|t| {
                ["high", "medium", "low"]
                    .into_iter()
                    .find(|x| *x == t)
                    .unwrap()
            })
            .collect();
        let (p, value) = (float(s::CHURN_PROBABILITY), float(s::EXPECTED_VALUE));
        let (aov, orders) = (float(f::AVG_ORDER_VALUE), float(f::FREQUENCY));
        let predictions: Vec<Prediction> = (0..scores.height())
            .map(|i| Prediction {
                customer_id: ids[i],
                churn_probability: p[i],
                risk_tier: tiers[i],
                segment: segments[i],
                expected_value: value[i],
                avg_order_value: aov[i],
                orders: orders[i],
            })
            .collect();
        let candidates = candidates(&predictions, |i| picks.has(customers[i]));
        let (decisions, mut summary) = decide(&candidates, campaign);
        let all: Vec<&Decision> = decisions.iter().collect();
        let with = with_decisions(scores, &all, &customers, &campaign.catalog, picks).unwrap();
        tally_reasons(&with, &mut summary.reasons).unwrap();
        let order = crm_order(&decisions);
        let idx = IdxCa::from_vec("rows".into(), order.iter().map(|&i| i as IdxSize).collect());
        let crm = crm_part(&with.take(&idx).unwrap(), campaign, as_of, model_version).unwrap();
        (with, crm, summary)
    }

    #[test]
    fn crm_file_holds_the_selected_customers_with_offer_products_and_run_facts() {
        let ids = ["P1".to_string(), "P2".to_string()];
        let names = ["Mug".to_string(), "Jug".to_string()];
        let mut picks = Picks::new(&ids, &names, 4);
        picks.set(0, [0, 1]);
        let as_of: NaiveDate = "2024-12-31".parse().unwrap();
        let campaign = campaign(0.0);
        let (scores, crm, summary) = decide_all(&scores(), &picks, &campaign, as_of, "churn-x");
        // MAIL net benefit: a 0.05·0.9·1000 − 2 = 43, b 0.05·0.8·500 − 2 = 18; c is low risk
        // (not eligible); d is suppressed.
        assert_eq!(col(&crm, f::CUSTOMER_ID), ["a", "b"]);
        assert_eq!(col(&crm, o::OFFER_CODE), ["MAIL", "MAIL"]);
        let benefit = crm
            .column(o::EXPECTED_NET_BENEFIT)
            .unwrap()
            .f64()
            .unwrap()
            .to_vec();
        assert!(
            (benefit[0].unwrap() - 43.0).abs() < 1e-9 && (benefit[1].unwrap() - 18.0).abs() < 1e-9
        );
        assert_eq!(col(&crm, c::PRODUCT_ID[0]), ["P1", ""]);
        assert_eq!(col(&crm, c::PRODUCT_NAME[1]), ["Jug", ""]);
        assert_eq!(col(&crm, c::AS_OF), ["2024-12-31", "2024-12-31"]);
        assert_eq!(col(&crm, c::MODEL_VERSION), ["churn-x", "churn-x"]);
        assert_eq!(crm.get_column_names()[0].as_str(), f::CUSTOMER_ID);
        // Added after the first release: last, so that imports mapped by position still work.
        assert_eq!(
            crm.get_column_names().last().unwrap().as_str(),
            s::REASON_CODES
        );
        assert_eq!(col(&crm, s::REASON_CODES), ["lapse;low_spend", "lapse"]);
        // Per tier, each code once per customer who has it (a, b, d high; c low).
        let high: Vec<(&str, usize)> = summary.reasons["high"]
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        assert_eq!(high, [("lapse", 3), ("low_spend", 1)]);
        assert_eq!(summary.reasons["low"]["no_single_reason"], 1);
        // The score table keeps everyone, with the decision.
        assert_eq!(
            col(&scores, o::DECISION),
            ["contact", "contact", "no_action", "suppressed"]
        );
        assert_eq!(
            col(&scores, o::OFFER_CODE),
            ["MAIL", "MAIL", "NONE", "NONE"]
        );
        assert_eq!(summary.decisions["suppressed"], 1);
        assert_eq!(summary.offers["MAIL"].contacts, 2);
        assert_eq!(summary.total_cost, 4.0);
        assert_eq!(summary.total_expected_net_benefit, 61.0);
    }

    #[test]
    fn control_customers_are_in_the_crm_file_flagged_and_without_an_offer() {
        let as_of: NaiveDate = "2024-12-31".parse().unwrap();
        let campaign = campaign(1.0);
        let (_, crm, summary) = decide_all(&scores(), &Picks::none(), &campaign, as_of, "churn-x");
        assert_eq!(col(&crm, f::CUSTOMER_ID), ["a", "b"]);
        assert_eq!(col(&crm, o::CONTROL_GROUP), ["true", "true"]);
        assert_eq!(col(&crm, o::OFFER_CODE), ["NONE", "NONE"]);
        assert_eq!(col(&crm, o::HELD_BACK_OFFER_CODE), ["MAIL", "MAIL"]);
        assert_eq!(col(&crm, o::OFFER_COST), ["0.0", "0.0"]);
        assert_eq!(summary.total_cost, 0.0);
    }
}
