//! The out-of-time backtest of DESIGN.md: train with features at `cutoff − H` and labels from
//! `[cutoff − H, cutoff)`, evaluate with features at `cutoff` and labels from `[cutoff, cutoff + H)`.

use chrono::{Duration, NaiveDate};
use serde::Serialize;

use super::artifact::WindowMetrics;
use super::fit::CheckedParams;
use super::metrics::{self, CalibrationBin, ChurnMetrics, Decile};
use super::train;
use crate::clean::Transactions;
use crate::config::FeatureOptions;
use crate::error::Result;
use crate::features;

/// The backtest's JSON (DESIGN.md keys first; the rest are additions).
#[derive(Debug, Clone, Serialize)]
pub struct BacktestReport {
    pub cutoff: String,
    pub horizon_days: u32,
    pub train_customers: usize,
    pub test_customers: usize,
    pub test_churn_rate: f64,
    pub churn: ChurnMetrics,
    pub train_churn_rate: f64,
    pub baselines: Baselines,
    pub model: ModelSummary,
    pub calibration: Vec<CalibrationBin>,
    pub deciles: Vec<Decile>,
    /// Absent when the input has no product ids.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recommendations: Option<crate::recommend::evaluate::RecommendationReport>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Baselines {
    /// ROC AUC of recency alone (longer since the last purchase = more likely to churn).
    pub recency_auc: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelSummary {
    pub model_version: String,
    pub penalty_alpha: f64,
    pub penalty_chosen_by: String,
    pub calibrated: bool,
    pub validation: Option<WindowMetrics>,
}

pub fn backtest(
    tx: &Transactions,
    cutoff: NaiveDate,
    horizon_days: u32,
    params: &CheckedParams,
    options: &FeatureOptions,
) -> Result<BacktestReport> {
    let mut warnings = Vec::new();
    let end = features::data_end(tx)?;
    let last_day = if end.isolated() {
        warnings.push(format!(
            "{}: a mistyped date? The data is taken to end on {}",
            end.describe(Some(tx)),
            end.bulk_end
        ));
        end.bulk_end
    } else {
        end.last_day
    };
    let window_end = cutoff + Duration::days(i64::from(horizon_days));
    if last_day < window_end - Duration::days(1) {
        warnings.push(format!(
            "the data ends on {last_day}, before the test window [{cutoff}, {window_end}) does: churn is overstated"
        ));
    }
    let (model, trained_on) = train::train(tx, cutoff, horizon_days, params, options)?;
    let test = train::snapshot(tx, cutoff, horizon_days, params.propensity_shrink, options)?;
    let p = model.predict(&test.rows);
    let recency: Vec<f64> = test.rows.iter().map(|r| r.recency_days).collect();
    Ok(BacktestReport {
        cutoff: cutoff.to_string(),
        horizon_days,
        train_customers: trained_on.labels.len(),
        test_customers: test.labels.len(),
        test_churn_rate: test.churn_rate(),
        churn: ChurnMetrics::compute(&test.labels, &p),
        train_churn_rate: trained_on.churn_rate(),
        baselines: Baselines {
            recency_auc: metrics::roc_auc(&test.labels, &recency),
        },
        model: ModelSummary {
            model_version: model.model_version.clone(),
            penalty_alpha: model.penalty.alpha,
            penalty_chosen_by: model.penalty.chosen_by.clone(),
            calibrated: model.calibration.is_some(),
            validation: model.metrics.validation.clone(),
        },
        calibration: metrics::calibration_table(&test.labels, &p, 10),
        deciles: metrics::decile_table(&test.labels, &p),
        recommendations: None,
        warnings,
    })
}

/// The report as text: metrics, the calibration table and the decile lift table.
pub fn render(r: &BacktestReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let m = &r.churn;
    let _ = writeln!(
        s,
        "backtest  cutoff {}  horizon {} days",
        r.cutoff, r.horizon_days
    );
    let _ = writeln!(
        s,
        "train     {} customers, churn rate {:.3} (features at cutoff − {} days)",
        r.train_customers, r.train_churn_rate, r.horizon_days
    );
    let _ = writeln!(
        s,
        "test      {} customers, churn rate {:.3}",
        r.test_customers, r.test_churn_rate
    );
    let _ = writeln!(
        s,
        "model     {}  alpha {}  {}",
        r.model.model_version,
        r.model.penalty_alpha,
        if r.model.calibrated {
            "Platt-calibrated"
        } else {
            "uncalibrated (held-out ECE within bounds)"
        }
    );
    let _ = writeln!(
        s,
        "\nROC AUC {:.4}  PR AUC {:.4}  Brier {:.4}  log loss {:.4}  lift@10% {:.3}  ECE {:.4}",
        m.auc, m.pr_auc, m.brier, m.log_loss, m.lift_top_decile, m.ece
    );
    if let (Some(se), Some((low, high))) = (m.auc_standard_error, m.auc_interval()) {
        let _ = writeln!(
            s,
            "ROC AUC standard error {se:.4} (DeLong): 95 % interval {low:.4}-{high:.4} on this sample"
        );
    }
    let _ = writeln!(s, "recency alone: ROC AUC {:.4}", r.baselines.recency_auc);
    let _ = writeln!(s, "\ncalibration   customers  mean p  churned");
    for b in &r.calibration {
        if b.customers > 0 {
            let _ = writeln!(
                s,
                "  {:.1}-{:.1}   {:>9}  {:>6.3}  {:>7.3}",
                b.low, b.high, b.customers, b.mean_probability, b.churn_rate
            );
        }
    }
    let _ = writeln!(s, "\ndecile  customers  mean p  churned  lift");
    for d in &r.deciles {
        let _ = writeln!(
            s,
            "  {:>4}  {:>9}  {:>6.3}  {:>7.3}  {:>4.2}",
            d.decile, d.customers, d.mean_probability, d.churn_rate, d.lift
        );
    }
    if let Some(rec) = &r.recommendations {
        let _ = writeln!(
            s,
            "\nrecommendations (k = {})  hit rate  recall   users",
            rec.k
        );
        for (name, m) in [
            ("all", &rec.all),
            ("new (cross-sell)", &rec.new),
            ("popularity, all", &rec.popularity_baseline.all),
            ("popularity, new", &rec.popularity_baseline.new),
        ] {
            let _ = writeln!(
                s,
                "  {name:<22} {:>8.3}  {:>6.3}  {:>6}",
                m.hit_rate, m.recall, m.users
            );
        }
    }
    for w in &r.warnings {
        let _ = writeln!(s, "warning: {w}");
    }
    s
}
