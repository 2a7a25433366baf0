//! The saved churn model (`models/churn-model.json`): everything needed to score, and to know what
//! was scored with. Loading checks the format version, the inputs and a checksum, and refuses a
//! mismatch with [`Error::ModelMismatch`] (exit code 5).

use std::path::Path;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::fit::{Logistic, Platt, Scaler, sigmoid};
use super::inputs::{self, Input, Raw};
use super::metrics::ChurnMetrics;
use crate::error::{Error, Result};

/// Bumped whenever a field changes meaning; older artifacts are refused.
pub const FORMAT_VERSION: u32 = 1;
pub const FILE_NAME: &str = "churn-model.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingWindow {
    pub features_at: String,
    pub labels_from: String,
    /// Exclusive.
    pub labels_until: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PenaltyTrial {
    pub alpha: f64,
    pub validation_log_loss: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Penalty {
    /// linfa's L2 alpha on standardised inputs (scikit-learn's C = 1 / alpha).
    pub alpha: f64,
    pub chosen_by: String,
    pub trials: Vec<PenaltyTrial>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub method: String,
    pub a: f64,
    pub b: f64,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowMetrics {
    pub features_at: String,
    pub customers: usize,
    pub churn_rate: f64,
    pub metrics: ChurnMetrics,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelMetrics {
    /// In-sample, on the training window.
    pub training: Option<WindowMetrics>,
    /// The penalty-selection model (fitted one horizon earlier) scored on the training window.
    pub validation: Option<WindowMetrics>,
    /// A model fitted on three quarters of the training window, scored on the other quarter:
    /// the calibration check.
    pub holdout: Option<WindowMetrics>,
}

/// Which data the model was trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputFingerprint {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
    pub rows_read: u64,
}

impl InputFingerprint {
    /// Hashes the input file's bytes.
    pub fn of_file(path: &Path, rows_read: u64) -> Result<InputFingerprint> {
        let mut file = std::fs::File::open(path).map_err(|e| Error::input(path, e.to_string()))?;
        let mut hasher = Sha256::new();
        let bytes =
            std::io::copy(&mut file, &mut hasher).map_err(|e| Error::input(path, e.to_string()))?;
        Ok(InputFingerprint {
            path: path.display().to_string(),
            sha256: format!("{:x}", hasher.finalize()),
            bytes,
            rows_read,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChurnModel {
    pub format_version: u32,
    pub retain_version: String,
    /// `churn-` and the first 12 hex digits of the checksum: names the model in outputs.
    pub model_version: String,
    pub horizon_days: u32,
    /// The date the model was trained for: labels end here, scoring happens at or after it.
    pub as_of: String,
    pub training_window: TrainingWindow,
    pub inputs: Vec<Input>,
    pub scaler: Scaler,
    pub logistic: Logistic,
    pub calibration: Option<Calibration>,
    pub penalty: Penalty,
    pub propensity_shrink: f64,
    /// Customers the final fit used (a stratified sample when the window had more).
    pub fit_rows: usize,
    pub metrics: ModelMetrics,
    pub training_input: InputFingerprint,
    /// sha256 of this JSON with `checksum` and `model_version` empty.
    pub checksum: String,
}

impl ChurnModel {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        inputs: Vec<Input>,
        scaler: Scaler,
        logistic: Logistic,
        calibration: Option<Calibration>,
        penalty: Penalty,
        horizon_days: u32,
        as_of: NaiveDate,
        training_window: TrainingWindow,
        propensity_shrink: f64,
        training_input: InputFingerprint,
    ) -> ChurnModel {
        ChurnModel {
            format_version: FORMAT_VERSION,
            retain_version: env!("CARGO_PKG_VERSION").to_string(),
            model_version: String::new(),
            horizon_days,
            as_of: as_of.to_string(),
            training_window,
            inputs,
            scaler,
            logistic,
            calibration,
            penalty,
            propensity_shrink,
            fit_rows: 0,
            metrics: ModelMetrics::default(),
            training_input,
            checksum: String::new(),
        }
    }

    fn digest(&self) -> Result<String> {
        let mut unsealed = self.clone();
        unsealed.checksum.clear();
        unsealed.model_version.clear();
        let bytes = serde_json::to_vec(&unsealed).map_err(|e| Error::Internal(e.to_string()))?;
        Ok(format!("{:x}", Sha256::digest(&bytes)))
    }

    /// Computes the checksum and the model version; call after the last change.
    pub fn seal(&mut self) -> Result<()> {
        self.checksum = self.digest()?;
        self.model_version = format!("churn-{}", &self.checksum[..12]);
        Ok(())
    }

    /// Per customer and input: the standardised value the coefficients apply to.
    pub fn standardised(&self, rows: &[Raw]) -> ndarray::Array2<f64> {
        self.scaler.transform(&inputs::design_matrix(
            rows,
            &self.inputs,
            self.horizon_days,
        ))
    }

    /// Churn probabilities, calibrated where the artifact says so.
    pub fn predict(&self, rows: &[Raw]) -> Vec<f64> {
        let p = self.logistic.linear(&self.standardised(rows));
        p.iter().map(|&t| self.probability(t)).collect()
    }

    fn probability(&self, linear: f64) -> f64 {
        let p = sigmoid(linear);
        match &self.calibration {
            Some(c) => Platt { a: c.a, b: c.b }.apply(p),
            None => p,
        }
    }

    /// The churn probability of a customer whose inputs are all at the training average.
    pub fn baseline(&self) -> f64 {
        self.probability(self.logistic.intercept)
    }

    pub fn to_json(&self) -> Result<Vec<u8>> {
        let mut bytes =
            serde_json::to_vec_pretty(self).map_err(|e| Error::Internal(e.to_string()))?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    /// Parses and checks an artifact: format version, known inputs, consistent sizes, checksum.
    pub fn from_json(bytes: &[u8], source: &str) -> Result<ChurnModel> {
        let mismatch = |what: String| Error::ModelMismatch(format!("{source}: {what}"));
        let value: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| mismatch(format!("not a retain model file ({e})")))?;
        let version = value
            .get("format_version")
            .and_then(serde_json::Value::as_u64);
        if version != Some(u64::from(FORMAT_VERSION)) {
            return Err(mismatch(format!(
                "format version {} but this retain {} reads version {FORMAT_VERSION}; retrain with `retain train`",
                version.map_or("missing".to_string(), |v| v.to_string()),
                env!("CARGO_PKG_VERSION")
            )));
        }
        if let Some(names) = value.get("inputs").and_then(serde_json::Value::as_array) {
            let written_by = value
                .get("retain_version")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("an unknown version");
            for name in names {
                if serde_json::from_value::<Input>(name.clone()).is_err() {
                    return Err(mismatch(format!(
                        "input {name} is unknown to retain {} (the model was written by retain {written_by}: score with that version, or retrain with this one); known inputs: {}",
                        env!("CARGO_PKG_VERSION"),
                        Input::ALL.map(Input::name).join(", ")
                    )));
                }
            }
        }
        let model: ChurnModel = serde_json::from_value(value)
            .map_err(|e| mismatch(format!("malformed model file: {e}")))?;
        let k = model.inputs.len();
        if model.logistic.coefficients.len() != k
            || model.scaler.mean.len() != k
            || model.scaler.std.len() != k
        {
            return Err(mismatch(format!(
                "{k} inputs but {} coefficients, {} means and {} deviations",
                model.logistic.coefficients.len(),
                model.scaler.mean.len(),
                model.scaler.std.len()
            )));
        }
        let digest = model.digest()?;
        if digest != model.checksum {
            return Err(mismatch(format!(
                "checksum {} does not match the content ({digest}): the file was changed after training",
                model.checksum
            )));
        }
        Ok(model)
    }

    pub fn load(dir: &Path) -> Result<ChurnModel> {
        let path = dir.join(FILE_NAME);
        let bytes = std::fs::read(&path).map_err(|e| {
            Error::ModelMismatch(format!(
                "cannot read {}: {e}; train one with `retain train --model-dir {}`",
                path.display(),
                dir.display()
            ))
        })?;
        ChurnModel::from_json(&bytes, &path.display().to_string())
    }
}
