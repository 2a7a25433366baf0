//! The churn model: skill where there is signal, none where there is not, an artifact that
//! reproduces its scores exactly and refuses to load when changed.

mod common;

use chrono::NaiveDate;
use common::*;
use polars::prelude::*;
use rand::{Rng, SeedableRng};
use retain::ExitCode;
use retain::config::{Config, FeatureOptions};
use retain::model::artifact::ChurnModel;
use retain::model::fit::{self, Scaler};
use retain::model::inputs::{self, Input};
use retain::model::metrics;
use retain::model::train;

fn sample() -> retain::clean::Transactions {
    load(
        &repo().join("data/sample/transactions.csv"),
        &Config::default(),
    )
}

fn cutoff() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 10, 2).unwrap()
}

fn params() -> retain::model::fit::CheckedParams {
    retain::model::ChurnParams::default().check().unwrap()
}

#[test]
fn planted_signal_is_found_out_of_time() {
    // The generator's customers stop for good with a personal probability after each order, so
    // churn is predictable from recency and rhythm: the backtest must show clear skill.
    let tx = sample();
    let report =
        retain::model::backtest::backtest(&tx, cutoff(), 90, &params(), &FeatureOptions::default())
            .unwrap();
    assert!(report.churn.auc > 0.8, "AUC {}", report.churn.auc);
    assert!(report.churn.brier < 0.2, "Brier {}", report.churn.brier);
    assert!(report.churn.lift_top_decile > 1.2);
    assert_eq!(
        report.test_customers,
        report
            .calibration
            .iter()
            .map(|b| b.customers)
            .sum::<usize>()
    );
}

#[test]
fn labels_independent_of_the_features_give_no_skill() {
    // Same customers, labels from a coin with P(churn) = 0.3 that never looks at them.
    let tx = sample();
    let options = FeatureOptions::default();
    let at = |d| train::snapshot(&tx, d, 90, 20.0, &options).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let mut coin = |n: usize| (0..n).map(|_| rng.gen_bool(0.3)).collect::<Vec<bool>>();
    let train_set = at(NaiveDate::from_ymd_opt(2024, 7, 4).unwrap());
    let test_set = at(cutoff());
    let (y_train, y_test) = (coin(train_set.rows.len()), coin(test_set.rows.len()));
    let x = inputs::design_matrix(&train_set.rows, &Input::ALL, 90);
    let scaler = Scaler::fit(&x);
    let model = fit::fit_logistic(&scaler.transform(&x), &y_train, 10.0, &params()).unwrap();
    let p =
        model.predict(&scaler.transform(&inputs::design_matrix(&test_set.rows, &Input::ALL, 90)));
    let auc = metrics::roc_auc(&y_test, &p);
    assert!((auc - 0.5).abs() < 0.05, "AUC {auc}");
    let base = y_train.iter().filter(|&&y| y).count() as f64 / y_train.len() as f64;
    let mean = p.iter().sum::<f64>() / p.len() as f64;
    assert!(
        (mean - base).abs() < 0.03,
        "mean p {mean} vs base rate {base}"
    );
    let std = (p.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / p.len() as f64).sqrt();
    assert!(
        std < 0.05,
        "probabilities stay near the base rate: standard deviation {std}"
    );
}

#[test]
fn artifact_round_trip_reproduces_scores_exactly_and_refuses_changes() {
    let tx = sample();
    let (model, trained_on) =
        train::train(&tx, cutoff(), 90, &params(), &FeatureOptions::default()).unwrap();
    let p = model.predict(&trained_on.rows);
    assert!(p.iter().all(|v| (0.0..=1.0).contains(v)));
    let bytes = model.to_json().unwrap();
    let loaded = ChurnModel::from_json(&bytes, "test").unwrap();
    assert_eq!(loaded.predict(&trained_on.rows), p);
    assert_eq!(loaded.model_version, model.model_version);

    let text = String::from_utf8(bytes).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["logistic"]["intercept"] = serde_json::json!(1.5);
    let err = ChurnModel::from_json(value.to_string().as_bytes(), "tampered").unwrap_err();
    assert_eq!(err.exit_code(), ExitCode::ModelMismatch);
    assert!(err.to_string().contains("checksum"), "{err}");

    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["format_version"] = serde_json::json!(99);
    let err = ChurnModel::from_json(value.to_string().as_bytes(), "future").unwrap_err();
    assert!(err.to_string().contains("format version 99"), "{err}");

    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["inputs"][0] = serde_json::json!("shoe_size");
    let err = ChurnModel::from_json(value.to_string().as_bytes(), "other").unwrap_err();
    assert!(
        err.to_string().contains("\"shoe_size\" is unknown"),
        "{err}"
    );
    // A newer retain's model names the version to score it with.
    value["retain_version"] = serde_json::json!("9.9.9");
    let err = ChurnModel::from_json(value.to_string().as_bytes(), "newer").unwrap_err();
    assert_eq!(err.exit_code(), ExitCode::ModelMismatch);
    assert!(err.to_string().contains("written by retain 9.9.9"), "{err}");

    // A model saved before an input was added (it lists fewer inputs) still loads, and scores
    // with the inputs it lists: the same probabilities as the coefficients applied by hand.
    let mut older = model.clone();
    let dropped = older
        .inputs
        .iter()
        .position(|&i| i == Input::LogLastOrderUnits);
    let dropped = dropped.expect("the default model uses the last order's units");
    older.inputs.remove(dropped);
    older.logistic.coefficients.remove(dropped);
    older.scaler.mean.remove(dropped);
    older.scaler.std.remove(dropped);
    older.calibration = None;
    older.seal().unwrap();
    let loaded = ChurnModel::from_json(&older.to_json().unwrap(), "older").unwrap();
    let p = loaded.predict(&trained_on.rows);
    for (row, p) in trained_on.rows.iter().zip(&p) {
        let mut t = older.logistic.intercept;
        for (j, &input) in older.inputs.iter().enumerate() {
            let z = (row.value(input, 90) - older.scaler.mean[j]) / older.scaler.std[j];
            t += older.logistic.coefficients[j] * z;
        }
        assert!((p - 1.0 / (1.0 + (-t).exp())).abs() < 1e-12);
    }
}

#[test]
fn cli_backtest_json_has_every_design_key_and_score_refuses_a_tampered_model() {
    let dir = tempfile::tempdir().unwrap();
    let sample = repo().join("data/sample/transactions.csv");
    let out = retain_bin()
        .args([
            "backtest",
            "--cutoff",
            "2024-10-02",
            "--horizon-days",
            "90",
            "--json",
            "--input",
        ])
        .arg(&sample)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "cutoff",
        "horizon_days",
        "train_customers",
        "test_customers",
        "test_churn_rate",
    ] {
        assert!(report.get(key).is_some(), "missing {key}");
    }
    for key in [
        "auc",
        "pr_auc",
        "brier",
        "log_loss",
        "lift_top_decile",
        "ece",
    ] {
        assert!(report["churn"][key].is_f64(), "missing churn.{key}");
    }
    assert_eq!(report["cutoff"], "2024-10-02");

    let models = dir.path().join("models");
    let train = retain_bin()
        .args(["train", "--as-of", "2024-12-31", "--model-dir"])
        .arg(&models)
        .arg("--input")
        .arg(&sample)
        .output()
        .unwrap();
    assert_eq!(
        train.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&train.stderr)
    );
    let path = models.join("churn-model.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replacen("\"horizon_days\": 90", "\"horizon_days\": 91", 1),
    )
    .unwrap();
    let score = retain_bin()
        .args(["score", "--model-dir"])
        .arg(&models)
        .arg("--out")
        .arg(dir.path().join("scores"))
        .arg("--input")
        .arg(&sample)
        .output()
        .unwrap();
    assert_eq!(
        score.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&score.stderr)
    );
    assert!(!dir.path().join("scores").exists());
}

#[test]
fn retraining_on_the_same_input_gives_the_same_bytes() {
    // Float sums inside parallel group-bys depend on partitioning; every aggregation that feeds the
    // model is done in integers. A regression here changes the model version between reruns.
    let tx = sample();
    let train = || {
        let (model, _) =
            train::train(&tx, cutoff(), 90, &params(), &FeatureOptions::default()).unwrap();
        model.to_json().unwrap()
    };
    let first = train();
    for _ in 0..3 {
        assert_eq!(train(), first);
    }
}

/// The sample as read (every value text), changed by `edit`, written as CSV to `dir/name`.
fn sample_edited(
    dir: &std::path::Path,
    name: &str,
    edit: impl FnOnce(DataFrame) -> DataFrame,
) -> std::path::PathBuf {
    let raw = retain::io::read::load(
        &repo().join("data/sample/transactions.csv"),
        &Config::default(),
    )
    .unwrap();
    let mut table = edit(raw.table);
    let path = dir.join(name);
    retain::io::write::write_table(&mut table, &path).unwrap();
    path
}

/// The sample with only `columns`, written as CSV to `dir/name`.
fn sample_with(columns: &[&str], dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    sample_edited(dir, name, |table| {
        table.select(columns.iter().copied()).unwrap()
    })
}

fn run_bin(args: &[&std::ffi::OsStr]) -> std::process::Output {
    retain_bin().args(args).output().expect("the binary runs")
}

fn succeeded(out: &std::process::Output) {
    exits_with(out, 0);
}

/// `retain backtest --json` at `cutoff`; must succeed.
fn backtest_json(input: &std::path::Path, cutoff: &str) -> serde_json::Value {
    let out = run_bin(&[
        "backtest".as_ref(),
        "--cutoff".as_ref(),
        cutoff.as_ref(),
        "--json".as_ref(),
        "--input".as_ref(),
        input.as_os_str(),
    ]);
    succeeded(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `retain score` of `input` with the models in `models`, into `out`.
fn score_bin(
    input: &std::path::Path,
    models: &std::path::Path,
    out: &std::path::Path,
) -> std::process::Output {
    run_bin(&[
        "score".as_ref(),
        "--input".as_ref(),
        input.as_os_str(),
        "--model-dir".as_ref(),
        models.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ])
}

/// Asserts the exit code; returns stderr.
fn exits_with(out: &std::process::Output, code: i32) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{err}");
    err
}

#[test]
fn backtest_run_and_score_work_without_order_ids_products_quantities_or_prices() {
    let dir = tempfile::tempdir().unwrap();
    let two = sample_with(&["customer_id", "order_date"], dir.path(), "two.csv");

    // With customer ids and dates only, every row with an id is a purchase: the populations
    // counted here from the file's text, not by retain.
    let text = std::fs::read_to_string(&two).unwrap();
    let rows: Vec<(&str, &str)> = text
        .lines()
        .skip(1)
        .map(|line| line.split_once(',').unwrap())
        .filter(|(id, _)| !id.is_empty())
        .collect();
    // Customers with a purchase day in [from, until); ISO dates compare as text.
    let active = |from: &str, until: &str| {
        rows.iter()
            .filter(|(_, date)| (from..until).contains(&&date[..10]))
            .map(|(id, _)| *id)
            .collect::<std::collections::BTreeSet<_>>()
    };
    let before = |day| active("", day);
    let (train_at, cutoff, end) = ("2024-07-04", "2024-10-02", "2024-12-31");
    let test = before(cutoff);
    let churned = test.difference(&active(cutoff, end)).count();

    let report = backtest_json(&two, cutoff);
    assert_eq!(report["train_customers"], before(train_at).len());
    assert_eq!(report["test_customers"], test.len());
    let rate = report["test_churn_rate"].as_f64().unwrap();
    assert!((rate - churned as f64 / test.len() as f64).abs() < 1e-12);
    assert!(report["churn"]["auc"].as_f64().unwrap() > 0.8, "{report}");
    assert!(report.get("recommendations").is_none());
    assert!(
        report["warnings"]
            .to_string()
            .contains("no product_id column"),
        "{report}"
    );

    // Products without quantities or prices, and quantities and prices without products.
    for (columns, suggests) in [
        (
            &["customer_id", "order_id", "order_date", "product_id"][..],
            true,
        ),
        (
            &[
                "customer_id",
                "order_id",
                "order_date",
                "quantity",
                "unit_price",
            ][..],
            false,
        ),
    ] {
        let path = sample_with(columns, dir.path(), "part.csv");
        let report = backtest_json(&path, cutoff);
        assert!(
            report["churn"]["auc"].as_f64().unwrap() > 0.8,
            "{columns:?}"
        );
        assert_eq!(
            report.get("recommendations").is_some(),
            suggests,
            "{columns:?}"
        );
    }

    // `run` on the two columns: no suggestions, and the warnings say what was counted instead.
    let two_models = dir.path().join("models-two");
    let run_out = dir.path().join("run");
    succeeded(&run_bin(&[
        "run".as_ref(),
        "--input".as_ref(),
        two.as_os_str(),
        "--model-dir".as_ref(),
        two_models.as_os_str(),
        "--out".as_ref(),
        run_out.as_os_str(),
    ]));
    assert!(!run_out.join("recommendations.csv").exists());
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_out.join("manifest.json")).unwrap()).unwrap();
    let warnings = manifest["warnings"].to_string();
    assert!(warnings.contains("no unit_price column"), "{warnings}");
    let crm = CsvReadOptions::default()
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(run_out.join("at_risk_customers.csv")))
        .unwrap()
        .finish()
        .unwrap();
    assert!(crm.height() > 0);
    for column in ["product_1_id", "product_2_id", "product_3_name"] {
        let values = crm.column(column).unwrap().str().unwrap();
        assert!(
            values.iter().all(|v| v.is_none_or(str::is_empty)),
            "{column}"
        );
    }

    // The saved model scores the same input as `run` did: the same scores, byte for byte.
    let scored = dir.path().join("scored");
    succeeded(&score_bin(&two, &two_models, &scored));
    assert_eq!(
        std::fs::read(scored.join("scores.csv")).unwrap(),
        std::fs::read(run_out.join("scores.csv")).unwrap()
    );
}

#[test]
fn score_refuses_input_whose_columns_differ_from_the_training_input() {
    let dir = tempfile::tempdir().unwrap();
    let sample = repo().join("data/sample/transactions.csv");
    let two = sample_with(&["customer_id", "order_date"], dir.path(), "two.csv");
    let train_on = |input: &std::path::Path, models: &str| {
        let models = dir.path().join(models);
        succeeded(&run_bin(&[
            "train".as_ref(),
            "--input".as_ref(),
            input.as_os_str(),
            "--model-dir".as_ref(),
            models.as_os_str(),
        ]));
        models
    };
    let full = train_on(&sample, "models-full");
    let narrow = train_on(&two, "models-two");
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(full.join("churn-model.json")).unwrap()).unwrap();
    assert_eq!(saved["format_version"], 3);
    // Format 3 names its data by the lines, not by the file (same bytes for any file split).
    assert!(saved["training_input"].get("path").is_none(), "{saved}");
    assert_eq!(
        saved["training_input"]["lines_fingerprint"]
            .as_str()
            .map(str::len),
        Some(32)
    );
    assert_eq!(
        saved["input_columns"],
        serde_json::json!(["order_id", "product_id", "quantity", "unit_price"])
    );

    let score = |input: &std::path::Path, models: &std::path::Path, out: &str| {
        let out = dir.path().join(out);
        (score_bin(input, models, &out), out)
    };
    // An export that lost its columns: the full model would read lines as money.
    let (result, out) = score(&two, &full, "lost");
    let err = exits_with(&result, 5);
    assert!(
        err.contains(
            "two.csv has no order_id (orders and cancellations), product_id (products and \
             product propensity), quantity (units, returns and spend), unit_price (spend and \
             item prices), which the model was trained with"
        ),
        "{err}"
    );
    assert!(err.contains("retrain"), "{err}");
    assert!(!out.exists());
    // And the other way: columns the model never saw.
    let (result, out) = score(&sample, &narrow, "gained");
    let err = exits_with(&result, 5);
    assert!(
        err.contains("transactions.csv has order_id (orders and cancellations), product_id"),
        "{err}"
    );
    // The model names its training data by rows and lines, not by a file name.
    assert!(
        err.contains("the model's training input (48888 rows, lines "),
        "{err}"
    );
    assert!(!out.exists());
    // A column in the header with no value in any row is no column either.
    let unpriced = sample_edited(dir.path(), "unpriced.csv", |mut table| {
        let blank = Series::new("unit_price".into(), vec![""; table.height()]);
        table.replace("unit_price", blank.into()).unwrap();
        table
    });
    let (result, out) = score(&unpriced, &full, "unpriced");
    let err = exits_with(&result, 5);
    assert!(
        err.contains("unpriced.csv has no unit_price (spend and item prices), which the model was trained with (or every value is empty)"),
        "{err}"
    );
    assert!(!out.exists());
    // The same columns pass.
    let (result, _) = score(&sample, &full, "same");
    succeeded(&result);
}

#[test]
fn a_model_saved_by_retain_0_3_0_still_scores_with_a_warning() {
    // tests/fixtures/churn-model-0.3.0.json: format 1, no record of its input columns.
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    std::fs::create_dir(&models).unwrap();
    std::fs::copy(
        fixture("churn-model-0.3.0.json"),
        models.join("churn-model.json"),
    )
    .unwrap();
    let old: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture("churn-model-0.3.0.json")).unwrap()).unwrap();
    assert_eq!(old["format_version"], 1);
    let out = dir.path().join("scored");
    succeeded(&score_bin(
        &repo().join("data/sample/transactions.csv"),
        &models,
        &out,
    ));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["model_version"], old["model_version"]);
    assert!(
        manifest["warnings"]
            .to_string()
            .contains("was written by retain 0.3.0 and does not record the input columns"),
        "{manifest}"
    );
}
