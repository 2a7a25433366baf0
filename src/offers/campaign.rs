//! One campaign and its decisions: the offer choice applied to every scored customer, the order
//! of the CRM file, and what the campaign does in counts and money (the manifest's summary).

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use super::suppression::SuppressionList;
use super::{Budget, Candidate, Catalog, Decision, Outcome, choose};
use crate::model::score::Prediction;

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

/// The offer choice's view of every customer of `predictions`;
/// `has_suggestions(i)` tells whether the `i`-th has product suggestions.
pub fn candidates<'a>(
    predictions: &[Prediction<'a>],
    has_suggestions: impl Fn(usize) -> bool,
) -> Vec<Candidate<'a>> {
    predictions
        .iter()
        .enumerate()
        .map(|(i, p)| Candidate {
            customer_id: p.customer_id,
            churn_probability: p.churn_probability,
            risk_tier: p.risk_tier,
            segment: p.segment,
            expected_value: p.expected_value,
            avg_order_value: p.avg_order_value,
            orders: p.orders,
            has_suggestions: has_suggestions(i),
        })
        .collect()
}

/// Chooses an offer per candidate (in their order) and counts what the campaign does; the
/// summary's reasons are added by [`crate::output::crm::tally_reasons`] as the score files are written.
pub fn decide<'a>(
    candidates: &[Candidate<'a>],
    campaign: &'a Campaign,
) -> (Vec<Decision<'a>>, Summary) {
    let none = HashSet::new();
    let decisions = choose(
        &campaign.catalog,
        candidates,
        campaign.suppressed.as_ref().map_or(&none, |list| &list.ids),
        campaign.budget,
        campaign.control_share,
        &campaign.id,
    );
    let summary = summarise(candidates, &decisions, campaign);
    (decisions, summary)
}

/// The customers selected for the CRM file (contact or control), in its order: highest expected
/// net benefit first, ties by id.
pub fn crm_order(decisions: &[Decision<'_>]) -> Vec<usize> {
    let mut rows: Vec<usize> = (0..decisions.len())
        .filter(|&i| decisions[i].outcome.selected())
        .collect();
    rows.sort_by(|&a, &b| decisions[a].priority(&decisions[b]));
    rows
}

fn summarise(
    candidates: &[Candidate<'_>],
    decisions: &[Decision<'_>],
    campaign: &Campaign,
) -> Summary {
    let mut summary = Summary {
        customers_scored: candidates.len(),
        suppression_list_ids: campaign.suppressed.as_ref().map_or(0, |l| l.entries.len()),
        ..Summary::default()
    };
    for c in candidates {
        *summary
            .risk_tiers
            .entry(c.risk_tier.to_string())
            .or_default() += 1;
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
