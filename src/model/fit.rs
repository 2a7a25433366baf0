//! Fitting: standardisation, L2-penalised logistic regression (linfa-logistic), the penalty chosen
//! by a time-based validation inside the training window, and a calibration check.

use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2, Axis, ShapeBuilder};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Training parameters, checked once by [`ChurnParams::check`] before any heavy work.
#[derive(Debug, Clone, PartialEq)]
pub struct ChurnParams {
    /// L2 penalties tried (linfa's alpha = 1 / C of scikit-learn), on standardised inputs.
    pub alphas: Vec<f64>,
    /// Penalty used when the history is too short for a validation window.
    pub default_alpha: f64,
    pub max_iterations: u64,
    /// Gradient tolerance per training row (linfa's tolerance applies to the summed gradient).
    pub tolerance_per_row: f64,
    /// Pseudo-buyers that shrink a product's return share toward the overall share.
    pub propensity_shrink: f64,
    /// Above this ECE on the held-out quarter of the training window, probabilities are
    /// recalibrated by Platt scaling fitted on that quarter.
    pub max_holdout_ece: f64,
    /// Fits use at most this many customers: a seeded sample stratified by label. A model with a
    /// few dozen parameters gains nothing from more, and linfa's fit is single-threaded.
    pub max_fit_rows: usize,
    pub sample_seed: u64,
}

impl Default for ChurnParams {
    fn default() -> Self {
        ChurnParams {
            alphas: vec![1.0, 3.0, 10.0, 30.0, 100.0, 300.0],
            default_alpha: 10.0,
            max_iterations: 1000,
            tolerance_per_row: 1e-5,
            propensity_shrink: 20.0,
            max_holdout_ece: 0.05,
            max_fit_rows: 250_000,
            sample_seed: 42,
        }
    }
}

/// Parameters that passed [`ChurnParams::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedParams(ChurnParams);

impl std::ops::Deref for CheckedParams {
    type Target = ChurnParams;
    fn deref(&self) -> &ChurnParams {
        &self.0
    }
}

impl ChurnParams {
    pub fn check(self) -> Result<CheckedParams> {
        let bad = |what: String| Err(Error::Usage(format!("invalid model parameter: {what}")));
        if self.alphas.is_empty() || self.alphas.iter().any(|a| !(a.is_finite() && *a > 0.0)) {
            return bad(format!(
                "alphas must be positive numbers, got {:?}",
                self.alphas
            ));
        }
        if !(self.default_alpha.is_finite() && self.default_alpha > 0.0) {
            return bad(format!(
                "default_alpha must be positive, got {}",
                self.default_alpha
            ));
        }
        if self.max_fit_rows < 100 {
            return bad(format!(
                "max_fit_rows must be at least 100, got {}",
                self.max_fit_rows
            ));
        }
        if self.max_iterations == 0 {
            return bad("max_iterations must be at least 1".into());
        }
        if self.tolerance_per_row.is_nan() || self.tolerance_per_row <= 0.0 {
            return bad(format!(
                "tolerance_per_row must be positive, got {}",
                self.tolerance_per_row
            ));
        }
        if self.propensity_shrink.is_nan() || self.propensity_shrink < 0.0 {
            return bad(format!(
                "propensity_shrink must be ≥ 0, got {}",
                self.propensity_shrink
            ));
        }
        Ok(CheckedParams(self))
    }
}

/// The sampling key of each customer: a seeded 64-bit hash of the id. A sample takes the rows
/// with the smallest keys, so whether a customer is in it depends on their id and the seed only,
/// not on where their row is: the same customers for any row order, file split or shard count,
/// and a shard can pick its candidates alone (its smallest keys per class).
pub fn sample_keys<'a>(ids: impl IntoIterator<Item = &'a str>, seed: u64) -> Vec<u64> {
    ids.into_iter()
        .map(|id| xxhash_rust::xxh3::xxh3_64_with_seed(id.as_bytes(), seed))
        .collect()
}

/// Row indices of a sample of at most `max_rows` with the same share of each label as the whole:
/// per label, the rows with the smallest `keys` (ties by row). Sorted, so the sample keeps the
/// rows' order; `None` when all rows fit.
pub fn stratified_sample(keys: &[u64], labels: &[bool], max_rows: usize) -> Option<Vec<usize>> {
    if labels.len() <= max_rows {
        return None;
    }
    let positives = labels.iter().filter(|&&l| l).count();
    let take_positive = (positives as f64 * max_rows as f64 / labels.len() as f64).round() as usize;
    let mut picked = Vec::with_capacity(max_rows);
    for (class, take) in [(true, take_positive), (false, max_rows - take_positive)] {
        let mut members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        let take = take.min(members.len());
        if take < members.len() {
            members.select_nth_unstable_by_key(take, |&i| (keys[i], i));
        }
        picked.extend_from_slice(&members[..take]);
    }
    picked.sort_unstable();
    Some(picked)
}

/// A split of the rows by their `keys`, stratified by label: (the rest, the held-out `share`).
pub fn holdout_split(keys: &[u64], labels: &[bool], share: f64) -> (Vec<usize>, Vec<usize>) {
    let held = ((labels.len() as f64) * share).round() as usize;
    let held = stratified_sample(keys, labels, held.max(1)).unwrap_or_default();
    let mut is_held = vec![false; labels.len()];
    for &i in &held {
        is_held[i] = true;
    }
    ((0..labels.len()).filter(|&i| !is_held[i]).collect(), held)
}

/// The rows of `x` and `labels` at `rows`.
pub fn take_rows(x: &Array2<f64>, labels: &[bool], rows: &[usize]) -> (Array2<f64>, Vec<bool>) {
    (
        x.select(Axis(0), rows),
        rows.iter().map(|&i| labels[i]).collect(),
    )
}

/// Fits the scaler and the model on all rows, or on a stratified sample of at most
/// `params.max_fit_rows` (by the rows' [`sample_keys`]); returns the sample size.
pub fn fit_scaled(
    x: &Array2<f64>,
    labels: &[bool],
    keys: &[u64],
    alpha: f64,
    params: &CheckedParams,
) -> Result<(Scaler, Logistic, usize)> {
    let sample = stratified_sample(keys, labels, params.max_fit_rows);
    let (x, labels) = match &sample {
        Some(rows) => take_rows(x, labels, rows),
        None => (x.clone(), labels.to_vec()),
    };
    let scaler = Scaler::fit(&x);
    let model = fit_logistic(&scaler.transform(&x), &labels, alpha, params)?;
    Ok((scaler, model, labels.len()))
}

/// Mean and standard deviation per input, from the training rows only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    pub mean: Vec<f64>,
    /// 1 where the training column was constant, so that it standardises to 0.
    pub std: Vec<f64>,
}

impl Scaler {
    pub fn fit(x: &Array2<f64>) -> Scaler {
        let n = x.nrows().max(1) as f64;
        let mean: Vec<f64> = x
            .mean_axis(Axis(0))
            .map_or(vec![0.0; x.ncols()], |m| m.to_vec());
        let std = (0..x.ncols())
            .map(|j| {
                let var = x
                    .column(j)
                    .iter()
                    .map(|v| (v - mean[j]).powi(2))
                    .sum::<f64>()
                    / n;
                if var > 1e-24 { var.sqrt() } else { 1.0 }
            })
            .collect();
        Scaler { mean, std }
    }

    pub fn transform(&self, x: &Array2<f64>) -> Array2<f64> {
        let mut z = x.clone();
        for (j, mut column) in z.columns_mut().into_iter().enumerate() {
            column.mapv_inplace(|v| (v - self.mean[j]) / self.std[j]);
        }
        z
    }
}

/// A logistic model on standardised inputs: P(churn) = σ(intercept + Σ coefficient · z).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Logistic {
    pub coefficients: Vec<f64>,
    pub intercept: f64,
}

pub fn sigmoid(t: f64) -> f64 {
    1.0 / (1.0 + (-t).exp())
}

impl Logistic {
    pub fn linear(&self, z: &Array2<f64>) -> Array1<f64> {
        z.dot(&Array1::from(self.coefficients.clone())) + self.intercept
    }

    pub fn predict(&self, z: &Array2<f64>) -> Vec<f64> {
        self.linear(z).iter().map(|&t| sigmoid(t)).collect()
    }
}

/// Fits P(label = true) with linfa-logistic. linfa's positive class is the more frequent label,
/// not `true`: the coefficients are oriented here so that they always describe P(true).
pub fn fit_logistic(
    z: &Array2<f64>,
    labels: &[bool],
    alpha: f64,
    params: &CheckedParams,
) -> Result<Logistic> {
    let positives = labels.iter().filter(|&&l| l).count();
    if positives == 0 || positives == labels.len() {
        return Err(Error::InsufficientData(format!(
            "every one of the {} training customers has the same churn label; the model needs both churners and buyers",
            labels.len()
        )));
    }
    // Stored by column: linfa's gradient multiplies by xᵀ, which ndarray (without BLAS) computes
    // row by row of xᵀ; by column, each such row is contiguous and its dot product is unrolled
    // instead of strided (a quarter of `train`'s time went to the strided one).
    let mut x = Array2::zeros(z.raw_dim().f());
    x.assign(z);
    let dataset = Dataset::new(x, Array1::from(labels.to_vec()));
    let fitted = LogisticRegression::default()
        .alpha(alpha)
        .max_iterations(params.max_iterations)
        .gradient_tolerance(params.tolerance_per_row * labels.len() as f64)
        .fit(&dataset)
        .map_err(|e| Error::Internal(format!("logistic regression fit failed: {e}")))?;
    let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
    Ok(Logistic {
        coefficients: fitted.params().iter().map(|w| sign * w).collect(),
        intercept: sign * fitted.intercept(),
    })
}

/// Platt scaling: P = σ(a · logit(p) + b), fitted on validation predictions.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stratified_sample_keeps_the_label_share_and_is_seeded() {
        let labels: Vec<bool> = (0..1000).map(|i| i % 4 == 0).collect();
        let ids: Vec<String> = (0..1000).map(|i| format!("C{i}")).collect();
        let keys = |seed| sample_keys(ids.iter().map(String::as_str), seed);
        let a = stratified_sample(&keys(7), &labels, 200).unwrap();
        assert_eq!(a.len(), 200);
        assert_eq!(a.iter().filter(|&&i| labels[i]).count(), 50);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(stratified_sample(&keys(7), &labels, 200).unwrap(), a);
        assert_ne!(stratified_sample(&keys(8), &labels, 200).unwrap(), a);
        assert!(stratified_sample(&keys(7), &labels, 1000).is_none());
    }

    #[test]
    fn a_sample_picks_the_same_customers_whatever_their_rows_order() {
        let ids: Vec<String> = (0..500).map(|i| format!("C{i}")).collect();
        let labels: Vec<bool> = (0..500).map(|i| i % 3 == 0).collect();
        let picked = |order: &[usize]| -> std::collections::BTreeSet<String> {
            let ids: Vec<&str> = order.iter().map(|&i| ids[i].as_str()).collect();
            let labels: Vec<bool> = order.iter().map(|&i| labels[i]).collect();
            let keys = sample_keys(ids.iter().copied(), 5);
            let rows = stratified_sample(&keys, &labels, 120).unwrap();
            rows.into_iter().map(|r| ids[r].to_string()).collect()
        };
        let forward: Vec<usize> = (0..500).collect();
        let backward: Vec<usize> = (0..500).rev().collect();
        assert_eq!(picked(&forward), picked(&backward));
    }

    #[test]
    fn coefficients_describe_churn_whichever_class_is_larger() {
        // One input; churn when x > 0. With churners the minority and then the majority, the
        // coefficient must be positive both times (linfa's positive class is the larger one).
        for share in [0.2, 0.8] {
            let n = 400;
            let x = Array2::from_shape_fn((n, 1), |(i, _)| {
                20.0 * ((i as f64 / n as f64) - (1.0 - share))
            });
            let y: Vec<bool> = (0..n).map(|i| x[[i, 0]] > 0.0).collect();
            let params = ChurnParams::default().check().unwrap();
            let m = fit_logistic(&x, &y, 1.0, &params).unwrap();
            assert!(
                m.coefficients[0] > 0.0,
                "share {share}: {:?}",
                m.coefficients
            );
            let p = m.predict(&x);
            assert!(p[n - 1] > 0.9 && p[0] < 0.1);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Platt {
    pub a: f64,
    pub b: f64,
}

pub fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-9, 1.0 - 1e-9);
    (p / (1.0 - p)).ln()
}

impl Platt {
    pub fn fit(probabilities: &[f64], labels: &[bool], params: &CheckedParams) -> Result<Platt> {
        let x = Array2::from_shape_fn((probabilities.len(), 1), |(i, _)| logit(probabilities[i]));
        let model = fit_logistic(&x, labels, 1e-6, params)?;
        Ok(Platt {
            a: model.coefficients[0],
            b: model.intercept,
        })
    }

    pub fn apply(&self, p: f64) -> f64 {
        sigmoid(self.a * logit(p) + self.b)
    }
}
