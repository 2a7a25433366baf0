//! The saved churn model (`models/churn-model.json`): everything needed to score, and to know what
//! was scored with. Loading checks the format version, the inputs and a checksum, scoring checks
//! that the input has the columns the model was trained with, and both refuse a mismatch with
//! [`Error::ModelMismatch`] (exit code 5).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::fit::{Logistic, Platt, Scaler, sigmoid};
use super::inputs::{self, Input, Raw};
use super::metrics::ChurnMetrics;
use crate::error::{Error, Result};
use crate::schema::input;

/// The optional input columns that decide what the model's inputs mean, with what they feed.
/// Without one, retain still computes every input, differently: one order per customer and day
/// without `order_id`, every line one unit without `quantity`, lines for money without
/// `unit_price`. A model fitted on one kind of input gives wrong scores on the other.
pub const MODEL_COLUMNS: [(&str, &str); 4] = [
    (input::ORDER_ID, "orders and cancellations"),
    (input::PRODUCT_ID, "products and product propensity"),
    (input::QUANTITY, "units, returns and spend"),
    (input::UNIT_PRICE, "spend and item prices"),
];

/// Which of [`MODEL_COLUMNS`] an input has (with a value in some row), in that order.
pub fn model_columns(present: &[&str]) -> Vec<String> {
    MODEL_COLUMNS
        .iter()
        .filter(|(name, _)| present.contains(name))
        .map(|(name, _)| name.to_string())
        .collect()
}

/// Bumped whenever a field changes meaning or is added; other versions are refused, except those
/// in [`READS`]. Version 2 (retain 0.3.1) added `input_columns`; version 3 (retain 0.4.0) names
/// its training data by the lines' fingerprint instead of the file's path and checksum.
pub const FORMAT_VERSION: u32 = 3;
/// Versions this retain reads. Version 1 has no `input_columns`: its columns are not checked.
const READS: [u32; 3] = [1, 2, 3];
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

/// The input of a run, for its manifest: the files (paths, checksums, sizes), which may differ
/// between runs on the same lines, and the lines' fingerprint, which does not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputFingerprint {
    /// `--input` as given: a file, a directory or a glob pattern.
    pub path: String,
    /// The file's sha256; for several files, the sha256 of their sha256s (hex, in the order of
    /// `files`), so that it changes with any file's bytes.
    pub sha256: String,
    /// Bytes of all files.
    pub bytes: u64,
    pub rows_read: u64,
    /// [`crate::clean::encode::content_fingerprint`]: the same for the same lines in any order.
    pub lines_fingerprint: String,
    /// Each file read, in the order their rows were read.
    #[serde(default)]
    pub files: Vec<FileFingerprint>,
}

/// One input file in a manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileFingerprint {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
    pub rows_read: u64,
}

impl InputFingerprint {
    /// The fingerprint of `tx`'s input, whose files have `checksums` (sha256 in hex and size,
    /// per file; [`crate::io::inputs::Inputs::checksums`]).
    pub fn of_input(
        tx: &crate::clean::Transactions,
        checksums: Vec<(String, u64)>,
    ) -> InputFingerprint {
        let inputs = &tx.inputs;
        let files: Vec<FileFingerprint> = inputs
            .files
            .iter()
            .zip(&inputs.rows)
            .zip(checksums)
            .map(|((file, &rows_read), (sha256, bytes))| FileFingerprint {
                path: file.path.display().to_string(),
                sha256,
                bytes,
                rows_read,
            })
            .collect();
        let sha256 = match files.as_slice() {
            [one] => one.sha256.clone(),
            many => {
                let mut hasher = Sha256::new();
                for file in many {
                    hasher.update(file.sha256.as_bytes());
                }
                format!("{:x}", hasher.finalize())
            }
        };
        InputFingerprint {
            path: inputs.given.display().to_string(),
            sha256,
            bytes: files.iter().map(|f| f.bytes).sum(),
            rows_read: tx.accounting.rows_read,
            lines_fingerprint: tx.lines_fingerprint.clone(),
            files,
        }
    }
}

/// Which data a model was trained on, in terms that do not depend on file names, row order or
/// how the lines were split: the rows read and the fingerprint of the lines
/// ([`crate::clean::encode::content_fingerprint`]). Models of format 1 and 2 named the file
/// instead (`path`, `sha256`, `bytes`); those fields are read and kept, never written anew.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    pub rows_read: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines_fingerprint: Option<String>,
}

impl TrainingData {
    pub fn of(tx: &crate::clean::Transactions) -> TrainingData {
        TrainingData {
            path: None,
            sha256: None,
            bytes: None,
            rows_read: tx.accounting.rows_read,
            lines_fingerprint: Some(tx.lines_fingerprint.clone()),
        }
    }

    /// How messages name it.
    pub fn describe(&self) -> String {
        match (&self.path, &self.lines_fingerprint) {
            (Some(path), _) => path.clone(),
            (None, Some(f)) => format!("{} rows, lines {}", self.rows_read, &f[..f.len().min(12)]),
            (None, None) => format!("{} rows", self.rows_read),
        }
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
    pub training_input: TrainingData,
    /// Which of [`MODEL_COLUMNS`] the training input had; the input scored must have the same.
    /// Absent in format 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_columns: Option<Vec<String>>,
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
        training_input: TrainingData,
        input_columns: Vec<String>,
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
            input_columns: Some(input_columns),
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
        if !version.is_some_and(|v| READS.iter().any(|&r| u64::from(r) == v)) {
            return Err(mismatch(format!(
                "format version {} but this retain {} reads versions {}; retrain with `retain train`",
                version.map_or("missing".to_string(), |v| v.to_string()),
                env!("CARGO_PKG_VERSION"),
                READS.map(|r| r.to_string()).join(" and ")
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
        // The version is the checksum's first digits: an edited version would name another model
        // in the CRM file and the manifest.
        let sealed_version = format!("churn-{}", digest.get(..12).unwrap_or_default());
        if model.model_version != sealed_version {
            return Err(mismatch(format!(
                "model_version '{}' does not match the checksum (it is {sealed_version}): the file was changed after training",
                model.model_version
            )));
        }
        Ok(model)
    }

    /// Refuses an input whose [`MODEL_COLUMNS`] differ from the training input's, naming what
    /// differs and what it feeds. `model` and `input` name the files in the message. A format 1
    /// model, which does not record its columns, passes with a warning (returned).
    pub fn check_columns(
        &self,
        present: &[&str],
        model: &str,
        input: &str,
    ) -> Result<Option<String>> {
        let Some(trained) = &self.input_columns else {
            return Ok(Some(format!(
                "{model} was written by retain {} and does not record the input columns it was trained with, so they are not checked against {input}; retrain to have them checked",
                self.retain_version
            )));
        };
        // Each column in the training input or in this one but not in both, with what it feeds.
        let (mut missing, mut extra) = (Vec::new(), Vec::new());
        for (name, feeds) in MODEL_COLUMNS {
            let trained_with = trained.iter().any(|t| t == name);
            if trained_with != present.contains(&name) {
                let side = if trained_with {
                    &mut missing
                } else {
                    &mut extra
                };
                side.push(format!("{name} ({feeds})"));
            }
        }
        let mut differences = Vec::new();
        if !missing.is_empty() {
            differences.push(format!(
                "{input} has no {}, which the model was trained with (or every value is empty)",
                missing.join(", ")
            ));
        }
        if !extra.is_empty() {
            differences.push(format!(
                "{input} has {}, which the model's training input ({}) did not",
                extra.join(", "),
                self.training_input.describe()
            ));
        }
        if differences.is_empty() {
            return Ok(None);
        }
        Err(Error::ModelMismatch(format!(
            "{model}: {}; the model's inputs would mean something else than in training and its scores would be wrong. Map the columns (--col-... or [columns] in the config), or retrain on input like this one (retain train)",
            differences.join("; ")
        )))
    }
}
