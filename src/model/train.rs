//! Training: features at `as_of − horizon`, labels from `[as_of − horizon, as_of)`. The penalty is
//! chosen by a second, earlier window inside the training data (fit at `as_of − 2·horizon`, score
//! at `as_of − horizon`), never by anything at or after `as_of`.

use chrono::{Duration, NaiveDate};
use polars::prelude::*;
use rayon::prelude::*;

use super::artifact::{
    Calibration, ChurnModel, Penalty, PenaltyTrial, TrainingData, TrainingWindow, WindowMetrics,
};
use super::fit::{self, CheckedParams, Platt, Scaler};
use super::inputs::{self, Input, Raw};
use super::metrics::{self, ChurnMetrics};
use crate::clean::Transactions;
use crate::config::FeatureOptions;
use crate::error::{Error, Result};
use crate::features::{self, labels::CHURNED, propensity};
use crate::schema::feature as f;

/// Customers of one snapshot with their raw inputs and, where known, churn labels.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub at: NaiveDate,
    /// Features (and `product_propensity`) per customer, sorted by id.
    pub table: DataFrame,
    pub rows: Vec<Raw>,
    pub labels: Vec<bool>,
}

impl Snapshot {
    /// The rows' [`fit::sample_keys`].
    pub fn sample_keys(&self, seed: u64) -> Result<Vec<u64>> {
        let ids = self.table.column(f::CUSTOMER_ID)?.str()?;
        Ok(fit::sample_keys(
            ids.iter().map(Option::unwrap_or_default),
            seed,
        ))
    }

    pub fn churn_rate(&self) -> f64 {
        self.labels.iter().filter(|&&l| l).count() as f64 / self.labels.len().max(1) as f64
    }
}

/// Features (with RFM segments) and product propensity at `at`, one row per customer, by id.
pub fn scoring_table(
    tx: &Transactions,
    at: NaiveDate,
    horizon_days: u32,
    shrink: f64,
    options: &FeatureOptions,
) -> Result<DataFrame> {
    let features = features::compute(tx, at, options)?.table;
    let propensity = propensity::product_propensity(tx, at, horizon_days, shrink)?;
    let id = || col(f::CUSTOMER_ID);
    Ok(features
        .lazy()
        .left_join(propensity.lazy(), id(), id())
        .with_column(col(propensity::PRODUCT_PROPENSITY).fill_null(lit(0.0)))
        .sort([f::CUSTOMER_ID], SortMultipleOptions::default())
        .collect()?)
}

/// [`scoring_table`] at `at`, with churn labels from `[at, at + horizon)`.
pub fn snapshot(
    tx: &Transactions,
    at: NaiveDate,
    horizon_days: u32,
    shrink: f64,
    options: &FeatureOptions,
) -> Result<Snapshot> {
    let table = scoring_table(tx, at, horizon_days, shrink, options)?;
    let labels = features::labels::churn_labels(tx, at, horizon_days)?;
    let id = || col(f::CUSTOMER_ID);
    let table = table
        .lazy()
        .left_join(labels.lazy(), id(), id())
        .collect()?;
    let rows = inputs::raw_rows(&table)?;
    let labels = table
        .column(CHURNED)?
        .bool()?
        .iter()
        .map(|v| v.unwrap_or(true))
        .collect();
    Ok(Snapshot {
        at,
        table,
        rows,
        labels,
    })
}

fn has_both_classes(s: &Snapshot) -> bool {
    let churned = s.labels.iter().filter(|&&l| l).count();
    churned > 0 && churned < s.labels.len()
}

/// What a penalty search found.
struct Selection {
    alpha: f64,
    penalty: Penalty,
    validation: Option<WindowMetrics>,
}

fn select_penalty(
    tx: &Transactions,
    train: &Snapshot,
    as_of: NaiveDate,
    horizon_days: u32,
    params: &CheckedParams,
    options: &FeatureOptions,
) -> Result<Selection> {
    let horizon = Duration::days(i64::from(horizon_days));
    let earlier = snapshot(
        tx,
        as_of - horizon - horizon,
        horizon_days,
        params.propensity_shrink,
        options,
    );
    let earlier = match earlier {
        Ok(s) if has_both_classes(&s) => s,
        Ok(_) | Err(Error::InsufficientData(_)) => {
            return Ok(Selection {
                alpha: params.default_alpha,
                penalty: Penalty {
                    alpha: params.default_alpha,
                    chosen_by: format!(
                        "default: too little history before {} for a validation window",
                        as_of - horizon - horizon
                    ),
                    trials: Vec::new(),
                },
                validation: None,
            });
        }
        Err(e) => return Err(e),
    };
    let inputs = Input::ALL;
    let x_fit = inputs::design_matrix(&earlier.rows, &inputs, horizon_days);
    let (x_fit, y_fit) = match fit::stratified_sample(
        &earlier.sample_keys(params.sample_seed)?,
        &earlier.labels,
        params.max_fit_rows,
    ) {
        Some(rows) => fit::take_rows(&x_fit, &earlier.labels, &rows),
        None => (x_fit, earlier.labels.clone()),
    };
    let scaler = Scaler::fit(&x_fit);
    let z_fit = scaler.transform(&x_fit);
    let z_val = scaler.transform(&inputs::design_matrix(&train.rows, &inputs, horizon_days));
    // One fit per penalty, in parallel: they are independent.
    let fits: Vec<(f64, f64, Vec<f64>)> = params
        .alphas
        .par_iter()
        .map(|&alpha| {
            let model = fit::fit_logistic(&z_fit, &y_fit, alpha, params)?;
            let p = model.predict(&z_val);
            Ok((alpha, metrics::log_loss(&train.labels, &p), p))
        })
        .collect::<Result<_>>()?;
    let trials = fits
        .iter()
        .map(|(alpha, loss, _)| PenaltyTrial {
            alpha: *alpha,
            validation_log_loss: *loss,
        })
        .collect();
    // Lowest loss; on a tie the first in grid order (the weaker penalty).
    let best = fits
        .into_iter()
        .reduce(|best, next| if next.1 < best.1 { next } else { best });
    let (alpha, _, p) = best.ok_or_else(|| Error::Internal("empty penalty grid".into()))?;
    let measured = ChurnMetrics::compute(&train.labels, &p);
    Ok(Selection {
        alpha,
        penalty: Penalty {
            alpha,
            chosen_by: format!(
                "lowest log loss of a model fitted at {} and scored at {} (labels before {as_of})",
                earlier.at, train.at
            ),
            trials,
        },
        validation: Some(WindowMetrics {
            features_at: train.at.to_string(),
            customers: train.labels.len(),
            churn_rate: train.churn_rate(),
            metrics: measured,
        }),
    })
}

/// Fits on three quarters of the training window and measures calibration on the held-out quarter
/// (same window, so a shift between seasons does not pass for a badly shaped fit). Above
/// `max_holdout_ece`, Platt scaling fitted on that quarter is returned for the final model.
fn check_calibration(
    x: &ndarray::Array2<f64>,
    train: &Snapshot,
    alpha: f64,
    params: &CheckedParams,
) -> Result<(Option<Calibration>, WindowMetrics)> {
    let keys = train.sample_keys(params.sample_seed)?;
    let (rest, held) = fit::holdout_split(&keys, &train.labels, 0.25);
    let (x_rest, y_rest) = fit::take_rows(x, &train.labels, &rest);
    let (x_held, y_held) = fit::take_rows(x, &train.labels, &held);
    let keys_rest: Vec<u64> = rest.iter().map(|&i| keys[i]).collect();
    let (scaler, model, _) = fit::fit_scaled(&x_rest, &y_rest, &keys_rest, alpha, params)?;
    let p = model.predict(&scaler.transform(&x_held));
    let measured = ChurnMetrics::compute(&y_held, &p);
    let calibration = if measured.ece > params.max_holdout_ece {
        let platt = Platt::fit(&p, &y_held, params)?;
        Some(Calibration {
            method: "platt".into(),
            a: platt.a,
            b: platt.b,
            reason: format!(
                "ECE {:.3} on a held-out quarter of the training window is above {:.3}",
                measured.ece, params.max_holdout_ece
            ),
        })
    } else {
        None
    };
    let holdout = WindowMetrics {
        features_at: train.at.to_string(),
        customers: held.len(),
        churn_rate: y_held.iter().filter(|&&y| y).count() as f64 / held.len().max(1) as f64,
        metrics: measured,
    };
    Ok((calibration, holdout))
}

/// Trains the churn model for scoring at or after `as_of`.
pub fn train(
    tx: &Transactions,
    as_of: NaiveDate,
    horizon_days: u32,
    params: &CheckedParams,
    options: &FeatureOptions,
) -> Result<(ChurnModel, Snapshot)> {
    let horizon = Duration::days(i64::from(horizon_days));
    let train = snapshot(
        tx,
        as_of - horizon,
        horizon_days,
        params.propensity_shrink,
        options,
    )?;
    if !has_both_classes(&train) {
        return Err(Error::InsufficientData(format!(
            "all {} customers at {} have the same churn label over the next {horizon_days} days",
            train.labels.len(),
            train.at
        )));
    }
    let selection = select_penalty(tx, &train, as_of, horizon_days, params, options)?;
    let inputs = Input::ALL.to_vec();
    let x = inputs::design_matrix(&train.rows, &inputs, horizon_days);
    let keys = train.sample_keys(params.sample_seed)?;
    let (checked, fitted) = rayon::join(
        || check_calibration(&x, &train, selection.alpha, params),
        || fit::fit_scaled(&x, &train.labels, &keys, selection.alpha, params),
    );
    let (calibration, holdout) = checked?;
    let (scaler, logistic, fit_rows) = fitted?;
    let mut model = ChurnModel::new(
        inputs,
        scaler,
        logistic,
        calibration,
        selection.penalty,
        horizon_days,
        as_of,
        TrainingWindow {
            features_at: train.at.to_string(),
            labels_from: train.at.to_string(),
            labels_until: as_of.to_string(),
        },
        params.propensity_shrink,
        TrainingData::of(tx),
        super::artifact::model_columns(&tx.present),
    );
    let p = model.predict(&train.rows);
    model.metrics.training = Some(WindowMetrics {
        features_at: train.at.to_string(),
        customers: train.labels.len(),
        churn_rate: train.churn_rate(),
        metrics: ChurnMetrics::compute(&train.labels, &p),
    });
    model.metrics.validation = selection.validation;
    model.metrics.holdout = Some(holdout);
    model.fit_rows = fit_rows;
    model.seal()?;
    Ok((model, train))
}
