//! From scored customers to decisions: the offer choice applied to the score table, the columns it
//! adds, the CRM file (customers selected for contact or control) and the campaign's counts.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;
use polars::prelude::*;
use serde::Serialize;

use crate::error::Result;
use crate::offers::suppression::SuppressionList;
use crate::offers::{self, Budget, Candidate, Catalog, Decision, NO_ACTION, Outcome};
use crate::schema::{crm as c, feature as f, offer as o, score as s};

/// One campaign: the catalog and the rules of the choice.
#[derive(Debug, Clone)]
pub struct Campaign {
    pub id: String,
    pub catalog: Catalog,
    /// The suppression list, if one was given.
    pub suppressed: Option<SuppressionList>,
    /// Accept a list most of whose entries match no customer.
    pub allow_unmatched_suppressions: bool,
    pub budget: Budget,
    pub control_share: f64,
}

/// Up to three suggested products (id, name) per customer id.
pub type Picks = HashMap<String, Vec<(String, String)>>;

/// The first `n` products of the cross-sell list per customer, from the long suggestion table of
/// [`crate::recommend::output::table`] (sorted by customer, list, rank).
pub fn top_products(suggestions: &DataFrame, n: usize) -> Result<Picks> {
    let ids = suggestions.column("customer_id")?.str()?;
    let list = suggestions.column("list")?.str()?;
    let product = suggestions.column("product_id")?.str()?;
    let name = suggestions.column("product_name")?.str()?;
    let mut picks: Picks = HashMap::new();
    for i in 0..suggestions.height() {
        if list.get(i) != Some("cross_sell") {
            continue;
        }
        let (Some(id), Some(p)) = (ids.get(i), product.get(i)) else {
            continue;
        };
        let entry = picks.entry(id.to_string()).or_default();
        if entry.len() < n {
            entry.push((p.to_string(), name.get(i).unwrap_or_default().to_string()));
        }
    }
    Ok(picks)
}

/// What the campaign did, in counts and money (the manifest's summary).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub customers_scored: usize,
    pub risk_tiers: BTreeMap<String, usize>,
    pub decisions: BTreeMap<String, usize>,
    /// Ids on the suppression list (also those not in this input).
    pub suppression_list_ids: usize,
    /// Per offer sent: contacts, total cost and total expected net benefit.
    pub offers: BTreeMap<String, OfferTotals>,
    pub total_cost: f64,
    pub total_expected_net_benefit: f64,
    /// Per risk tier, per reason code: the customers among whose reasons it is.
    pub reasons: BTreeMap<String, BTreeMap<String, usize>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct OfferTotals {
    pub contacts: usize,
    pub cost: f64,
    pub expected_net_benefit: f64,
}

fn cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The score table with the decision columns, the CRM table and the summary.
#[derive(Debug, Clone)]
pub struct Decided {
    pub scores: DataFrame,
    pub crm: DataFrame,
    pub summary: Summary,
}

fn floats(table: &DataFrame, name: &str) -> Result<Vec<f64>> {
    Ok(table
        .column(name)?
        .cast(&DataType::Float64)?
        .f64()?
        .iter()
        .map(|v| v.unwrap_or(0.0))
        .collect())
}

fn texts(table: &DataFrame, name: &str) -> Result<Vec<String>> {
    Ok(table
        .column(name)?
        .cast(&DataType::String)?
        .str()?
        .iter()
        .map(|v| v.unwrap_or_default().to_string())
        .collect())
}

/// The offer choice's view of every scored customer.
pub fn candidates(scores: &DataFrame, picks: &Picks) -> Result<Vec<Candidate>> {
    let ids = texts(scores, f::CUSTOMER_ID)?;
    let p = floats(scores, s::CHURN_PROBABILITY)?;
    let tier = texts(scores, s::RISK_TIER)?;
    let segment = texts(scores, f::RFM_SEGMENT)?;
    let value = floats(scores, s::EXPECTED_VALUE)?;
    let aov = floats(scores, f::AVG_ORDER_VALUE)?;
    let orders = floats(scores, f::FREQUENCY)?;
    Ok((0..scores.height())
        .map(|i| Candidate {
            has_suggestions: picks.get(&ids[i]).is_some_and(|p| !p.is_empty()),
            customer_id: ids[i].clone(),
            churn_probability: p[i],
            risk_tier: tier[i].clone(),
            segment: segment[i].clone(),
            expected_value: value[i],
            avg_order_value: aov[i],
            orders: orders[i],
        })
        .collect())
}

/// Chooses an offer per customer and builds the output tables.
pub fn decide(
    scores: &DataFrame,
    picks: &Picks,
    campaign: &Campaign,
    as_of: NaiveDate,
    model_version: &str,
) -> Result<Decided> {
    let candidates = candidates(scores, picks)?;
    let none = HashSet::new();
    let decisions = offers::choose(
        &campaign.catalog,
        &candidates,
        campaign.suppressed.as_ref().map_or(&none, |list| &list.ids),
        campaign.budget,
        campaign.control_share,
        &campaign.id,
    );
    let scores = with_decisions(scores, &decisions, &campaign.catalog, picks)?;
    let crm = crm_table(&scores, &decisions, campaign, as_of, model_version)?;
    let mut summary = summarise(&candidates, &decisions, campaign);
    summary.reasons = reasons_by_tier(&scores)?;
    Ok(Decided {
        scores,
        crm,
        summary,
    })
}

fn summarise(candidates: &[Candidate], decisions: &[Decision], campaign: &Campaign) -> Summary {
    let mut summary = Summary {
        customers_scored: candidates.len(),
        suppression_list_ids: campaign.suppressed.as_ref().map_or(0, |l| l.entries.len()),
        ..Summary::default()
    };
    for c in candidates {
        *summary.risk_tiers.entry(c.risk_tier.clone()).or_default() += 1;
    }
    for outcome in [
        Outcome::Contact,
        Outcome::Control,
        Outcome::NoAction,
        Outcome::OverBudget,
        Outcome::Suppressed,
    ] {
        summary.decisions.insert(outcome.as_str().to_string(), 0);
    }
    for d in decisions {
        *summary
            .decisions
            .entry(d.outcome.as_str().to_string())
            .or_default() += 1;
        if let Some(code) = d.offer_to_send() {
            let t = summary.offers.entry(code.to_string()).or_default();
            t.contacts += 1;
            t.cost += d.cost;
            t.expected_net_benefit += d.net_benefit;
            summary.total_cost += d.cost;
            summary.total_expected_net_benefit += d.net_benefit;
        }
    }
    for t in summary.offers.values_mut() {
        t.cost = cents(t.cost);
        t.expected_net_benefit = cents(t.expected_net_benefit);
    }
    summary.total_cost = cents(summary.total_cost);
    summary.total_expected_net_benefit = cents(summary.total_expected_net_benefit);
    summary
}

fn reasons_by_tier(scores: &DataFrame) -> Result<BTreeMap<String, BTreeMap<String, usize>>> {
    let tiers = texts(scores, s::RISK_TIER)?;
    let codes = texts(scores, s::REASON_CODES)?;
    let mut out: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for (tier, codes) in tiers.into_iter().zip(&codes) {
        let counts = out.entry(tier).or_default();
        for code in codes
            .split(crate::model::score::REASON_CODE_SEPARATOR)
            .filter(|c| !c.is_empty())
        {
            *counts.entry(code.to_string()).or_default() += 1;
        }
    }
    Ok(out)
}

/// The decision and product columns, placed after the score columns and before the features.
fn with_decisions(
    scores: &DataFrame,
    decisions: &[Decision],
    catalog: &Catalog,
    picks: &Picks,
) -> Result<DataFrame> {
    let sent = |d: &Decision| d.offer_to_send().and_then(|code| catalog.get(code));
    let n = decisions.len();
    let held_back = |d: &Decision| match d.outcome {
        Outcome::Control | Outcome::OverBudget => d.offer.clone().unwrap_or_default(),
        _ => String::new(),
    };
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
                .map(|d| d.offer_to_send().unwrap_or(NO_ACTION).to_string())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            o::OFFER_NAME.into(),
            decisions
                .iter()
                .map(|d| {
                    sent(d)
                        .map_or(catalog.no_action_name(), |o| o.name.as_str())
                        .to_string()
                })
                .collect::<Vec<_>>(),
        ),
        Column::new(
            o::OFFER_CHANNEL.into(),
            decisions
                .iter()
                .map(|d| sent(d).map_or("none", |o| o.channel.as_str()).to_string())
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
            decisions.iter().map(held_back).collect::<Vec<_>>(),
        ),
    ];
    for k in 0..3 {
        let pick = |field: fn(&(String, String)) -> &String| -> Vec<String> {
            decisions
                .iter()
                .map(|d| {
                    picks
                        .get(&d.customer_id)
                        .and_then(|p| p.get(k))
                        .map(|x| field(x).clone())
                        .unwrap_or_default()
                })
                .collect()
        };
        added.push(Column::new(c::PRODUCT_ID[k].into(), pick(|x| &x.0)));
        added.push(Column::new(c::PRODUCT_NAME[k].into(), pick(|x| &x.1)));
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

/// The CRM file: customers selected for contact or control, highest expected net benefit first
/// (ties by id).
fn crm_table(
    scores: &DataFrame,
    decisions: &[Decision],
    campaign: &Campaign,
    as_of: NaiveDate,
    model_version: &str,
) -> Result<DataFrame> {
    let mut rows: Vec<usize> = (0..decisions.len())
        .filter(|&i| decisions[i].outcome.selected())
        .collect();
    rows.sort_by(|&a, &b| decisions[a].priority(&decisions[b]));
    let idx = IdxCa::from_vec("rows".into(), rows.iter().map(|&i| i as IdxSize).collect());
    let selected = scores.take(&idx)?;
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
    let products = (0..3).flat_map(|k| [c::PRODUCT_ID[k], c::PRODUCT_NAME[k]]);
    let mut columns: Vec<Column> = keep
        .into_iter()
        .chain(products)
        .map(|name| selected.column(name).cloned())
        .collect::<PolarsResult<_>>()?;
    let n = rows.len();
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
    use crate::offers::Offer;

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

    #[test]
    fn crm_file_holds_the_selected_customers_with_offer_products_and_run_facts() {
        let picks: Picks = [(
            "a".to_string(),
            vec![
                ("P1".to_string(), "Mug".to_string()),
                ("P2".to_string(), "Jug".to_string()),
            ],
        )]
        .into();
        let as_of: NaiveDate = "2024-12-31".parse().unwrap();
        let d = decide(&scores(), &picks, &campaign(0.0), as_of, "churn-x").unwrap();
        // MAIL net benefit: a 0.05·0.9·1000 − 2 = 43, b 0.05·0.8·500 − 2 = 18; c is low risk
        // (not eligible); d is suppressed.
        assert_eq!(col(&d.crm, f::CUSTOMER_ID), ["a", "b"]);
        assert_eq!(col(&d.crm, o::OFFER_CODE), ["MAIL", "MAIL"]);
        let benefit = d
            .crm
            .column(o::EXPECTED_NET_BENEFIT)
            .unwrap()
            .f64()
            .unwrap()
            .to_vec();
        assert!(
            (benefit[0].unwrap() - 43.0).abs() < 1e-9 && (benefit[1].unwrap() - 18.0).abs() < 1e-9
        );
        assert_eq!(col(&d.crm, c::PRODUCT_ID[0]), ["P1", ""]);
        assert_eq!(col(&d.crm, c::PRODUCT_NAME[1]), ["Jug", ""]);
        assert_eq!(col(&d.crm, c::AS_OF), ["2024-12-31", "2024-12-31"]);
        assert_eq!(col(&d.crm, c::MODEL_VERSION), ["churn-x", "churn-x"]);
        assert_eq!(d.crm.get_column_names()[0].as_str(), f::CUSTOMER_ID);
        // Added after the first release: last, so that imports mapped by position still work.
        assert_eq!(
            d.crm.get_column_names().last().unwrap().as_str(),
            s::REASON_CODES
        );
        assert_eq!(col(&d.crm, s::REASON_CODES), ["lapse;low_spend", "lapse"]);
        // Per tier, each code once per customer who has it (a, b, d high; c low).
        let high: Vec<(&str, usize)> = d.summary.reasons["high"]
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        assert_eq!(high, [("lapse", 3), ("low_spend", 1)]);
        assert_eq!(d.summary.reasons["low"]["no_single_reason"], 1);
        // The score table keeps everyone, with the decision.
        assert_eq!(
            col(&d.scores, o::DECISION),
            ["contact", "contact", "no_action", "suppressed"]
        );
        assert_eq!(
            col(&d.scores, o::OFFER_CODE),
            ["MAIL", "MAIL", "NONE", "NONE"]
        );
        assert_eq!(d.summary.decisions["suppressed"], 1);
        assert_eq!(d.summary.offers["MAIL"].contacts, 2);
        assert_eq!(d.summary.total_cost, 4.0);
        assert_eq!(d.summary.total_expected_net_benefit, 61.0);
    }

    #[test]
    fn control_customers_are_in_the_crm_file_flagged_and_without_an_offer() {
        let as_of: NaiveDate = "2024-12-31".parse().unwrap();
        let d = decide(&scores(), &Picks::new(), &campaign(1.0), as_of, "churn-x").unwrap();
        assert_eq!(col(&d.crm, f::CUSTOMER_ID), ["a", "b"]);
        assert_eq!(col(&d.crm, o::CONTROL_GROUP), ["true", "true"]);
        assert_eq!(col(&d.crm, o::OFFER_CODE), ["NONE", "NONE"]);
        assert_eq!(col(&d.crm, o::HELD_BACK_OFFER_CODE), ["MAIL", "MAIL"]);
        assert_eq!(col(&d.crm, o::OFFER_COST), ["0.0", "0.0"]);
        assert_eq!(d.summary.total_cost, 0.0);
    }
}
