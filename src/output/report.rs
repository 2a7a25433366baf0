//! `report.md`: the run in words and tables for the retention team: what was read, how good the
//! model is, who is at risk, what the campaign sends and what it is expected to bring.

use std::fmt::Write;

use super::ManifestHead;
use crate::model::artifact::WindowMetrics;
use crate::model::{ChurnModel, reasons};
use crate::offers::Catalog;

fn metrics_row(name: &str, w: &WindowMetrics) -> String {
    let m = &w.metrics;
    format!(
        "| {name} | {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.2} | {:.3} |\n",
        w.features_at,
        w.customers,
        w.churn_rate,
        m.auc,
        m.pr_auc,
        m.brier,
        m.log_loss,
        m.lift_top_decile,
        m.ece
    )
}

fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

/// The report of one `score` or `run`. Deterministic: nothing in it depends on the clock.
pub fn markdown(head: &ManifestHead, model: &ChurnModel, catalog: &Catalog) -> String {
    let mut r = String::new();
    let _ = writeln!(r, "# retain: {} at {}\n", head.command, head.as_of);

    let a = &head.rows;
    let _ = writeln!(
        r,
        "Input lines `{}` (the manifest names the file): {} rows read, {} kept, {} rejected.\n",
        &head.input.lines_fingerprint[..16.min(head.input.lines_fingerprint.len())],
        a.rows_read,
        a.rows_kept,
        a.rows_rejected
    );
    for warning in &head.warnings {
        let _ = writeln!(r, "- warning: {warning}");
    }
    if !head.warnings.is_empty() {
        r.push('\n');
    }
    let rejected: Vec<_> = a.rejected.iter().filter(|(_, n)| **n > 0).collect();
    if !rejected.is_empty() {
        r.push_str("| rejected because | rows |\n| --- | --- |\n");
        for (reason, n) in rejected {
            let _ = writeln!(r, "| {reason} | {n} |");
        }
        r.push('\n');
    }

    let _ = writeln!(r, "## Churn model `{}`\n", model.model_version);
    let w = &model.training_window;
    let _ = writeln!(
        r,
        "Churn = no purchase in the next {} days. Trained for {} on features at {} and purchases \
         in [{}, {}); L2 penalty alpha {}; calibration: {}.\n",
        model.horizon_days,
        model.as_of,
        w.features_at,
        w.labels_from,
        w.labels_until,
        model.penalty.alpha,
        model
            .calibration
            .as_ref()
            .map_or("none needed".to_string(), |c| format!(
                "{} ({})",
                c.method, c.reason
            )),
    );
    r.push_str(
        "| check | features at | customers | churn rate | ROC AUC | PR AUC | Brier | log loss | lift top 10 % | ECE |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    if let Some(v) = &model.metrics.validation {
        r.push_str(&metrics_row("validation (one horizon earlier)", v));
    }
    if let Some(h) = &model.metrics.holdout {
        r.push_str(&metrics_row("held-out quarter", h));
    }
    if let Some(t) = &model.metrics.training {
        r.push_str(&metrics_row("training (in sample)", t));
    }
    r.push_str("\n`retain backtest` gives the honest out-of-time figures.\n\n");

    let Some(s) = &head.summary else {
        return r;
    };
    let _ = writeln!(r, "## Customers at {}\n", head.as_of);
    r.push_str("| risk tier | customers | share |\n| --- | --- | --- |\n");
    for tier in ["high", "medium", "low"] {
        let n = s.risk_tiers.get(tier).copied().unwrap_or(0);
        let _ = writeln!(
            r,
            "| {tier} | {n} | {:.1} % |",
            share(n, s.customers_scored)
        );
    }
    let _ = writeln!(r, "| all | {} | |\n", s.customers_scored);

    let tiers = ["high", "medium"];
    let named = |tier: &str, code: &str| {
        s.reasons
            .get(tier)
            .and_then(|c| c.get(code))
            .copied()
            .unwrap_or(0)
    };
    let rows: Vec<_> = reasons::CODES
        .iter()
        .filter(|(code, _)| tiers.iter().any(|t| named(t, code) > 0))
        .collect();
    if !rows.is_empty() {
        r.push_str(
            "### Why they are at risk\n\nThe customers at high and medium risk whose reasons \
             (`reason_1` … `reason_3`, up to three each) name this; the codes are in \
             `reason_codes`.\n\n",
        );
        let _ = writeln!(r, "| reason | code | {} |", tiers.join(" | "));
        let _ = writeln!(r, "| --- | --- |{}", " --- |".repeat(tiers.len()));
        for (code, meaning) in rows {
            let cells = tiers.map(|tier| {
                let n = named(tier, code);
                let all = s.risk_tiers.get(tier).copied().unwrap_or(0);
                format!("{n} ({:.0} %)", share(n, all))
            });
            let _ = writeln!(r, "| {meaning} | `{code}` | {} |", cells.join(" | "));
        }
        r.push('\n');
    }

    if let Some(c) = &head.campaign {
        let _ = writeln!(r, "## Campaign `{}`\n", c.id);
        let budget = match (c.max_total_cost, c.max_contacts) {
            (None, None) => "no budget limit".to_string(),
            (cost, contacts) => [
                cost.map(|x| format!("at most {x:.2} in cost")),
                contacts.map(|n| format!("at most {n} contacts")),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", "),
        };
        let _ = writeln!(
            r,
            "Offer catalog: {}; control group {:.1} % of the selected customers; {budget}.\n",
            c.offers_catalog,
            100.0 * c.control_share
        );
    }
    r.push_str("| decision | customers |\n| --- | --- |\n");
    for (decision, what) in [
        ("contact", "contact with an offer"),
        ("control", "control group (selected, not contacted)"),
        ("over_budget", "an offer would pay, but over budget"),
        ("no_action", "no offer pays for itself"),
        ("suppressed", "on the suppression list"),
    ] {
        let n = s.decisions.get(decision).copied().unwrap_or(0);
        let _ = writeln!(r, "| {what} | {n} |");
    }
    r.push('\n');
    if !s.offers.is_empty() {
        r.push_str(
            "| offer | name | contacts | cost | expected net benefit |\n| --- | --- | --- | --- | --- |\n",
        );
        for (code, t) in &s.offers {
            let name = catalog.get(code).map_or("", |o| o.name.as_str());
            let _ = writeln!(
                r,
                "| {code} | {name} | {} | {:.2} | {:.2} |",
                t.contacts, t.cost, t.expected_net_benefit
            );
        }
        let _ = writeln!(
            r,
            "| all | | {} | {:.2} | {:.2} |\n",
            s.offers.values().map(|t| t.contacts).sum::<usize>(),
            s.total_cost,
            s.total_expected_net_benefit
        );
    }
    r.push_str(
        "Expected net benefit = uplift × churn probability × expected value over the horizon − cost. \
         The uplifts are the catalog's assumptions: after the horizon, compare the churn of the \
         control group with that of the contacted customers to measure them.\n",
    );
    r
}
