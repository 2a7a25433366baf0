//! The offer choice: expected net benefit = uplift × churn probability × expected value − cost;
//! the best eligible offer, or no action where none is positive. Then suppression, the budget
//! (highest benefit first) and a deterministic control group.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::catalog::{Catalog, Offer};

/// What the choice needs to know about one scored customer.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate<'a> {
    pub customer_id: &'a str,
    pub churn_probability: f64,
    pub risk_tier: &'a str,
    pub segment: &'a str,
    /// Expected spend over the horizon if the customer stays.
    pub expected_value: f64,
    pub avg_order_value: f64,
    pub orders: f64,
    /// The customer has product suggestions (for offers that need them).
    pub has_suggestions: bool,
}

/// Optional limits for one campaign.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Budget {
    pub max_total_cost: Option<f64>,
    pub max_contacts: Option<usize>,
}

/// What happens to one customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Gets the offer.
    Contact,
    /// Would get the offer; held out to measure the campaign's lift.
    Control,
    /// No offer pays for itself.
    NoAction,
    /// An offer would pay, but the budget was spent on customers with a higher benefit.
    OverBudget,
    /// On the suppression list (opted out).
    Suppressed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Contact => "contact",
            Outcome::Control => "control",
            Outcome::NoAction => "no_action",
            Outcome::OverBudget => "over_budget",
            Outcome::Suppressed => "suppressed",
        }
    }

    /// Selected for the campaign file: contacted or held out as control.
    pub fn selected(self) -> bool {
        matches!(self, Outcome::Contact | Outcome::Control)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision<'a> {
    pub customer_id: &'a str,
    /// The best offer that pays for itself (also for control and over-budget customers, who do
    /// not get it); `None` where none does or the customer is suppressed.
    pub offer: Option<&'a str>,
    /// Expected net benefit of `offer` (0 without one).
    pub net_benefit: f64,
    /// Cost of `offer` (0 without one).
    pub cost: f64,
    pub outcome: Outcome,
}

impl<'a> Decision<'a> {
    /// Highest expected net benefit first, ties by customer id: the order budgets are filled in
    /// and the CRM file is sorted by.
    pub fn priority(&self, other: &Decision) -> std::cmp::Ordering {
        other
            .net_benefit
            .total_cmp(&self.net_benefit)
            .then_with(|| self.customer_id.cmp(other.customer_id))
    }

    /// The offer to send: only contacted customers get one.
    pub fn offer_to_send(&self) -> Option<&'a str> {
        (self.outcome == Outcome::Contact)
            .then_some(self.offer)
            .flatten()
    }
}

fn eligible(o: &Offer, c: &Candidate<'_>) -> bool {
    (o.segments.is_empty() || o.segments.iter().any(|s| s == c.segment))
        && (o.risk_tiers.is_empty() || o.risk_tiers.iter().any(|t| t == c.risk_tier))
        && c.expected_value >= o.min_expected_value
        && c.orders >= o.min_orders
        && (c.has_suggestions || !o.requires_suggestions)
}

pub fn cost(o: &Offer, c: &Candidate<'_>) -> f64 {
    o.cost_fixed + o.cost_share_of_order * c.avg_order_value
}

pub fn net_benefit(o: &Offer, c: &Candidate<'_>) -> f64 {
    o.uplift * c.churn_probability * c.expected_value - cost(o, c)
}

/// A number in [0, 1) from the campaign id and the customer id: the same customer is always in
/// or out of the control group of one campaign, whatever else is in the file.
pub fn control_draw(campaign: &str, customer_id: &str) -> f64 {
    let digest = Sha256::digest(format!("{campaign}\u{1f}{customer_id}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) >> 11) as f64 / (1u64 << 53) as f64
}

/// One decision per candidate, in the input order.
///
/// The best eligible offer with a positive net benefit (ties: the earlier catalog entry), else no
/// action. Then, highest benefit first (ties by id), each customer with an offer is drawn into the
/// control group (`control_share`, by [`control_draw`]) or contacted while the budget lasts;
/// control customers cost nothing and do not use up the contact budget.
pub fn choose<'a>(
    catalog: &'a Catalog,
    candidates: &[Candidate<'a>],
    suppressed: &std::collections::HashSet<String>,
    budget: Budget,
    control_share: f64,
    campaign: &str,
) -> Vec<Decision<'a>> {
    let mut decisions: Vec<Decision<'a>> = candidates
        .iter()
        .map(|c| {
            let mut decision = Decision {
                customer_id: c.customer_id,
                offer: None,
                net_benefit: 0.0,
                cost: 0.0,
                outcome: Outcome::NoAction,
            };
            if suppressed.contains(c.customer_id) {
                decision.outcome = Outcome::Suppressed;
                return decision;
            }
            let mut best: Option<(&Offer, f64)> = None;
            for o in catalog.actions().filter(|o| eligible(o, c)) {
                let net = net_benefit(o, c);
                if net > 0.0 && best.is_none_or(|(_, b)| net > b) {
                    best = Some((o, net));
                }
            }
            if let Some((o, net)) = best {
                decision.offer = Some(o.code.as_str());
                decision.net_benefit = net;
                decision.cost = cost(o, c);
                decision.outcome = Outcome::Contact;
            }
            decision
        })
        .collect();

    let mut order: Vec<usize> = (0..decisions.len())
        .filter(|&i| decisions[i].outcome == Outcome::Contact)
        .collect();
    order.sort_by(|&a, &b| decisions[a].priority(&decisions[b]));
    let (mut spent, mut contacts) = (0.0, 0usize);
    for i in order {
        let d = &mut decisions[i];
        if control_draw(campaign, d.customer_id) < control_share {
            d.outcome = Outcome::Control;
            continue;
        }
        let over_cost = budget
            .max_total_cost
            .is_some_and(|max| spent + d.cost > max);
        let over_contacts = budget.max_contacts.is_some_and(|max| contacts >= max);
        if over_cost || over_contacts {
            d.outcome = Outcome::OverBudget;
            continue;
        }
        spent += d.cost;
        contacts += 1;
    }
    decisions
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn offer(code: &str, fixed: f64, uplift: f64) -> Offer {
        Offer::plain(code, fixed, uplift)
    }

    fn customer(id: &str, p: f64, value: f64) -> Candidate<'_> {
        Candidate {
            customer_id: id,
            churn_probability: p,
            risk_tier: "high",
            segment: "At risk",
            expected_value: value,
            avg_order_value: 50.0,
            orders: 3.0,
            has_suggestions: true,
        }
    }

    #[test]
    fn best_offer_wins_and_no_action_when_cost_exceeds_benefit() {
        let catalog = Catalog {
            offers: vec![offer("CHEAP", 1.0, 0.05), offer("CALL", 10.0, 0.20)],
        };
        // p 0.8, value 200: CHEAP 0.05·0.8·200 − 1 = 7; CALL 0.2·0.8·200 − 10 = 22 → CALL.
        // value 20: CHEAP 0.8 − 1 < 0, CALL 3.2 − 10 < 0 → no action.
        let d = choose(
            &catalog,
            &[customer("a", 0.8, 200.0), customer("b", 0.8, 20.0)],
            &HashSet::new(),
            Budget::default(),
            0.0,
            "c1",
        );
        assert_eq!(d[0].offer, Some("CALL"));
        assert!((d[0].net_benefit - 22.0).abs() < 1e-9);
        assert_eq!(d[1].offer, None);
        assert_eq!(d[1].outcome, Outcome::NoAction);
    }

    #[test]
    fn eligibility_is_respected() {
        let mut call = offer("CALL", 10.0, 0.20);
        call.segments = vec!["Champions".into()];
        let mut vip = offer("VIP", 1.0, 0.10);
        vip.min_orders = 5.0;
        let catalog = Catalog {
            offers: vec![call, vip, offer("MAIL", 1.0, 0.01)],
        };
        let d = choose(
            &catalog,
            &[customer("a", 0.8, 200.0)],
            &HashSet::new(),
            Budget::default(),
            0.0,
            "c1",
        );
        assert_eq!(
            d[0].offer,
            Some("MAIL"),
            "At risk with 3 orders: neither CALL nor VIP"
        );
    }

    #[test]
    fn budget_goes_to_the_highest_benefit_and_suppression_removes() {
        let catalog = Catalog {
            offers: vec![offer("MAIL", 5.0, 0.1)],
        };
        let people = [
            customer("a", 0.9, 1000.0),
            customer("b", 0.5, 1000.0),
            customer("c", 0.9, 500.0),
            customer("d", 0.9, 2000.0),
        ];
        let suppressed: HashSet<String> = ["d".to_string()].into();
        let budget = Budget {
            max_total_cost: Some(10.0),
            max_contacts: None,
        };
        let d = choose(&catalog, &people, &suppressed, budget, 0.0, "c1");
        assert_eq!(
            d[3].outcome,
            Outcome::Suppressed,
            "d is the most valuable but opted out"
        );
        assert_eq!(d[3].offer, None);
        // Benefits: a 85, b 45, c 40 → the 10.0 budget pays for a and b.
        let chosen: Vec<_> = d
            .iter()
            .filter(|x| x.offer_to_send().is_some())
            .map(|x| x.customer_id)
            .collect();
        assert_eq!(chosen, ["a", "b"]);
        assert_eq!(d[2].outcome, Outcome::OverBudget);
        assert_eq!(d[2].offer_to_send(), None);
        let capped = choose(
            &catalog,
            &people,
            &suppressed,
            Budget {
                max_total_cost: None,
                max_contacts: Some(1),
            },
            0.0,
            "c1",
        );
        let sent: Vec<_> = capped.iter().filter_map(|x| x.offer_to_send()).collect();
        assert_eq!(sent, ["MAIL"]);
        assert_eq!(
            capped[0].outcome,
            Outcome::Contact,
            "the highest benefit goes first"
        );
    }

    #[test]
    fn offers_needing_suggestions_skip_customers_without_them() {
        let mut picks = offer("PICKS", 0.05, 0.02);
        picks.requires_suggestions = true;
        let catalog = Catalog {
            offers: vec![picks, offer("MAIL", 1.0, 0.01)],
        };
        let mut without = customer("a", 0.8, 200.0);
        without.has_suggestions = false;
        // PICKS 0.02·160 − 0.05 = 3.15 beats MAIL 1.6 − 1 = 0.6, but needs suggestions.
        let d = choose(
            &catalog,
            &[customer("b", 0.8, 200.0), without],
            &HashSet::new(),
            Budget::default(),
            0.0,
            "c1",
        );
        assert_eq!(d[0].offer, Some("PICKS"));
        assert_eq!(d[1].offer, Some("MAIL"));
    }

    #[test]
    fn control_customers_get_no_offer_and_the_share_holds_among_the_selected() {
        let catalog = Catalog {
            offers: vec![offer("MAIL", 1.0, 0.1)],
        };
        let ids: Vec<String> = (0..20_000).map(|i| format!("c{i}")).collect();
        let people: Vec<Candidate> = ids.iter().map(|id| customer(id, 0.9, 100.0)).collect();
        let run = || {
            choose(
                &catalog,
                &people,
                &HashSet::new(),
                Budget::default(),
                0.2,
                "spring",
            )
        };
        let d = run();
        let control = d.iter().filter(|x| x.outcome == Outcome::Control).count();
        assert!((control as f64 / 20_000.0 - 0.2).abs() < 0.01, "{control}");
        assert!(
            d.iter()
                .filter(|x| x.outcome == Outcome::Control)
                .all(|x| x.offer_to_send().is_none() && x.offer.is_some())
        );
        assert_eq!(run(), d, "the same campaign draws the same group");
    }

    #[test]
    fn control_share_is_within_one_point_and_stable() {
        let ids: Vec<String> = (0..100_000).map(|i| format!("{i:06}")).collect();
        let share = ids
            .iter()
            .filter(|id| control_draw("spring", id) < 0.1)
            .count() as f64
            / ids.len() as f64;
        assert!((share - 0.1).abs() < 0.01, "{share}");
        assert_eq!(
            control_draw("spring", "000042"),
            control_draw("spring", "000042")
        );
        let other = ids
            .iter()
            .filter(|id| (control_draw("spring", id) < 0.1) != (control_draw("autumn", id) < 0.1))
            .count();
        assert!(other > 10_000, "another campaign draws another group");
    }
}
