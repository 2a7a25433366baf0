//! The output directory of `retain run` on the shipped sample, as a scheduler and a CRM see it:
//! golden files, byte-identical reruns, the excel-de profile parsed back, dry runs, and a run
//! killed part-way leaving the previous output as it was.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;
use polars::prelude::*;
use sha2::{Digest, Sha256};

/// `retain run` on the sample from the repository root (so the manifest names the input
/// `data/sample/transactions.csv`, as in the golden file).
fn run(out: &Path, extra: &[&str]) -> Output {
    let output = retain_bin()
        .current_dir(repo())
        .args(["run", "--input", "data/sample/transactions.csv", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .expect("the binary runs");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `retain score` on the sample from the repository root with the models in `model_dir`; must
/// succeed.
fn score(model_dir: &Path, out: &Path, extra: &[&str]) -> Output {
    let output = retain_bin()
        .current_dir(repo())
        .args([
            "score",
            "--input",
            "data/sample/transactions.csv",
            "--model-dir",
        ])
        .arg(model_dir)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("the binary runs");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Compares `actual` with the golden file `name`; `RETAIN_BLESS=1` rewrites the golden file.
fn golden(name: &str, actual: &[u8]) {
    let path = repo().join("tests/golden/sample").join(name);
    if std::env::var_os("RETAIN_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read(&path).expect("golden file (RETAIN_BLESS=1 writes it)");
    assert!(
        expected == actual,
        "{} differs from the output:\n{}",
        path.display(),
        String::from_utf8_lossy(actual)
    );
}

fn read_csv(path: &Path, separator: u8, decimal_comma: bool) -> DataFrame {
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(None)
        .with_parse_options(
            CsvParseOptions::default()
                .with_separator(separator)
                .with_decimal_comma(decimal_comma),
        )
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .unwrap()
        .finish()
        .unwrap()
}

#[test]
fn reruns_are_byte_identical_match_the_golden_files_and_excel_de_parses_back() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, de) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("de"),
    );
    run(&a, &[]);
    run(&b, &[]);
    let (first, second) = (files(&a), files(&b));
    assert_eq!(
        first.keys().collect::<Vec<_>>(),
        [
            "_SUCCESS",
            "at_risk_customers.csv",
            "churn-model.json",
            "copurchase-pairs.parquet",
            "copurchase.json",
            "manifest.json",
            "model-set.json",
            "recommendations.csv",
            "report.md",
            "scores.csv",
            "scores.parquet",
            "validation.json",
        ]
    );
    for (name, bytes) in &first {
        assert!(&second[name] == bytes, "{name} differs between two runs");
    }
    assert!(first["_SUCCESS"].is_empty());
    assert_eq!(
        listing(tmp.path()),
        [".a.lock", ".b.lock", "a", "b"],
        "nothing left beside the outputs but their lock files"
    );

    // The manifest's checksums and row counts are those of the files.
    let manifest: serde_json::Value = serde_json::from_slice(&first["manifest.json"]).unwrap();
    let listed = manifest["files"].as_array().unwrap();
    assert_eq!(
        listed.len(),
        first.len() - 2,
        "every file but the manifest and _SUCCESS"
    );
    for entry in listed {
        let name = entry["name"].as_str().unwrap();
        let bytes = &first[name];
        assert_eq!(
            entry["sha256"],
            format!("{:x}", Sha256::digest(bytes)),
            "{name}"
        );
        assert_eq!(entry["bytes"], bytes.len(), "{name}");
        if name.ends_with(".csv") {
            let lines = bytes
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .count();
            assert_eq!(entry["rows"], lines - 1, "{name}");
        }
    }
    assert_eq!(manifest["as_of"], "2024-12-31");
    let decisions = &manifest["summary"]["decisions"];
    let crm_rows = decisions["contact"].as_u64().unwrap() + decisions["control"].as_u64().unwrap();
    let scores = read_csv(&a.join("scores.csv"), b',', false);
    assert_eq!(
        manifest["summary"]["customers_scored"].as_u64().unwrap() as usize,
        scores.height()
    );
    // Reasons: packed from the first column, distinct within a row, every customer at high risk
    // has one, and each says what the customer's features say.
    let text_at = |name: &str, i: usize| common::str_at(&scores, name, i).unwrap_or_default();
    let mut high = 0;
    for i in 0..scores.height() {
        let reasons: Vec<String> = ["reason_1", "reason_2", "reason_3"]
            .iter()
            .map(|c| text_at(c, i))
            .collect();
        let named: Vec<&String> = reasons.iter().take_while(|r| !r.is_empty()).collect();
        assert!(
            reasons[named.len()..].iter().all(|r| r.is_empty()),
            "{reasons:?}"
        );
        for (k, r) in named.iter().enumerate() {
            assert!(!named[..k].contains(r), "{reasons:?} repeats");
        }
        // One code per reason, in the same order, each naming what its words say.
        let codes = text_at("reason_codes", i);
        let codes: Vec<&str> = codes.split(';').collect();
        assert_eq!(codes.len(), named.len(), "{codes:?} for {reasons:?}");
        for (code, r) in codes.iter().zip(&named) {
            let start = match *code {
                "lapse" => "no purchase for ",
                "single_purchase" => "bought only once",
                "low_recent_activity" if r.starts_with("only ") => "only ",
                "low_recent_activity" => "no order in the last",
                "low_spend" => "low spend: ",
                "high_item_price" => "high typical item price",
                "small_last_order" => "small last order: ",
                "no_single_reason" => "no single reason: ",
                _ => "",
            };
            assert!(
                retain::model::reasons::CODES.iter().any(|(c, _)| c == code),
                "unknown code {code}"
            );
            assert!(r.starts_with(start), "{code}: {r}");
        }
        if text_at("risk_tier", i) == "high" {
            high += 1;
            assert!(
                !named.is_empty(),
                "customer {} at high risk without a reason",
                text_at("customer_id", i)
            );
        }
        let recency = text_at("recency_days", i);
        let days = text_at("purchase_days", i);
        for r in named {
            if r.starts_with("bought only once") {
                assert_eq!(days, "1", "{r}");
                assert!(
                    r.ends_with(&format!(", {recency} days ago")) || recency == "1",
                    "{r}"
                );
            }
            if let Some(rest) = r.strip_prefix("no purchase for ") {
                assert!(
                    rest.starts_with(&format!("{recency} day")),
                    "{r} vs recency {recency}"
                );
                assert_ne!(days, "1", "{r}");
            }
        }
    }
    assert!(high > 100, "{high} customers at high risk");

    // Golden files: the manifest (checksums of every file) and the head of the CRM file.
    golden("manifest.json", &first["manifest.json"]);
    let crm = &first["at_risk_customers.csv"];
    let head: Vec<u8> = crm
        .split_inclusive(|&b| b == b'\n')
        .take(12)
        .flatten()
        .copied()
        .collect();
    golden("at_risk_customers.head.csv", &head);

    // The CRM file: customer_id first and quoted, one row per selected customer, ids as text.
    let text = String::from_utf8(crm.clone()).unwrap();
    assert!(
        text.starts_with("\"customer_id\",\"churn_probability\",\"risk_tier\",\"rfm_segment\"")
    );
    assert!(
        text.lines().nth(1).unwrap().starts_with("\"0"),
        "leading zeros kept: {text:.300}"
    );
    let crm_table = read_csv(&a.join("at_risk_customers.csv"), b',', false);
    assert_eq!(crm_table.height() as u64, crm_rows);

    // Nightly scoring with the saved model writes the same customer files as the run.
    let nightly = tmp.path().join("nightly");
    score(&a, &nightly, &[]);
    for name in [
        "at_risk_customers.csv",
        "scores.parquet",
        "scores.csv",
        "recommendations.csv",
    ] {
        assert!(
            files(&nightly)[name] == first[name],
            "score's {name} differs from run's"
        );
    }

    // A model used before its training date (2024-12-31) or over a horizon after it is named in
    // the manifest's warnings; scoring goes on (a nightly job should not fail for it).
    for (as_of, expected) in [
        ("2024-12-01", "before the model's training date 2024-12-31"),
        (
            "2025-04-15",
            "trained at 2024-12-31, 105 days before 2025-04-15",
        ),
        ("2025-03-31", ""),
    ] {
        let dir = tmp.path().join(format!("aged-{as_of}"));
        score(&a, &dir, &["--as-of", as_of]);
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
        // No warnings, no key.
        let none = Vec::new();
        let warned: Vec<&str> = manifest["warnings"]
            .as_array()
            .unwrap_or(&none)
            .iter()
            .filter_map(|w| w.as_str())
            .filter(|w| w.contains("training date") || w.contains("retrain"))
            .collect();
        if expected.is_empty() {
            assert!(warned.is_empty(), "{as_of}: {warned:?}");
        } else {
            assert!(
                warned.len() == 1 && warned[0].contains(expected),
                "{as_of}: {warned:?}"
            );
        }
    }

    // excel-de: semicolons, decimal commas and a BOM; parsed back, the same values.
    run(&de, &["--profile", "excel-de"]);
    let de_bytes = std::fs::read(de.join("at_risk_customers.csv")).unwrap();
    assert!(de_bytes.starts_with("\u{feff}\"customer_id\";".as_bytes()));
    let de_table = read_csv(&de.join("at_risk_customers.csv"), b';', true);
    assert_eq!(de_table.get_column_names(), crm_table.get_column_names());
    assert!(
        de_table.equals_missing(&crm_table),
        "excel-de parsed back differs:\n{de_table}\n{crm_table}"
    );
    assert!(
        de_table
            .column("churn_probability")
            .unwrap()
            .dtype()
            .is_float(),
        "decimal commas parse back as numbers"
    );

    // The README's example rows are rows of these files, so they cannot go stale.
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let de_text = String::from_utf8(de_bytes).unwrap();
    let examples: Vec<&str> = readme
        .lines()
        .filter(|l| l.starts_with("\"001221\""))
        .collect();
    assert_eq!(
        examples.len(),
        2,
        "the README shows one crm and one excel-de row"
    );
    for (code, meaning) in retain::model::reasons::CODES {
        assert!(
            readme.contains(&format!("| `{code}` | {meaning} |")),
            "the README's table of reason codes lacks {code}"
        );
    }
    for example in examples {
        assert!(
            text.lines().any(|l| l == example) || de_text.lines().any(|l| l == example),
            "README example row is not in the sample's CRM files:\n{example}"
        );
    }
}

fn staging_dirs(parent: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .contains(".staging-")
        })
        .collect()
}

#[test]
fn a_killed_or_failed_run_leaves_the_previous_output_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("manifest.json"), "{\"previous\": true}\n").unwrap();
    std::fs::write(out.join("at_risk_customers.csv"), "customer_id\n\"old\"\n").unwrap();
    let before = files(&out);

    // Kill the run once it has written its first file into the staging directory.
    let mut child = retain_bin()
        .current_dir(repo())
        .args(["run", "--out"])
        .arg(&out)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    loop {
        let busy = staging_dirs(tmp.path())
            .iter()
            .any(|d| std::fs::read_dir(d).map(|e| e.count() > 0).unwrap_or(false));
        if busy {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
        assert!(
            started.elapsed().as_secs() < 120,
            "no staging directory appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        files(&out),
        before,
        "the killed run changed the previous output"
    );
    assert_eq!(
        staging_dirs(tmp.path()).len(),
        1,
        "the killed run's staging directory"
    );

    // A run that fails (here: a missing input) removes the stale staging directory, reports
    // the input error and leaves the previous output alone.
    let failed = retain_bin()
        .args(["run", "--input", "no-such-file.csv", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        failed.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&failed.stderr)
    );
    assert_eq!(files(&out), before);
    assert_eq!(listing(tmp.path()), [".out.lock", "out"]);
}

#[test]
fn dry_run_writes_nothing_and_flags_shape_the_campaign() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let suppress = tmp.path().join("opt-outs.txt");
    // Two customers of the sample (ids with leading zeros) and one not in it.
    std::fs::write(&suppress, "customer_id\n001221\n000325\nnot-a-customer\n").unwrap();
    let output = run(
        &out,
        &[
            "--dry-run",
            "--max-contacts",
            "100",
            "--suppress",
            suppress.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stdout.contains("would create"), "{stdout}");
    for name in [
        "at_risk_customers.csv",
        "scores.parquet",
        "manifest.json",
        "_SUCCESS",
    ] {
        assert!(stdout.contains(name), "{stdout}");
    }
    assert!(stderr.contains(" 100 to contact"), "{stderr}");
    assert!(stderr.contains(" 2 suppressed"), "{stderr}");
    assert!(!out.exists());
    assert_eq!(
        listing(tmp.path()),
        ["opt-outs.txt"],
        "a dry run writes nothing"
    );
}

#[test]
fn the_config_file_holds_the_campaign_and_flags_win() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    std::fs::write(tmp.path().join("opt-outs.txt"), "001221\n000325\n").unwrap();
    let config = tmp.path().join("shop.toml");
    // The suppression list is named relative to the config file, not to where retain runs.
    std::fs::write(
        &config,
        "[campaign]\nid = \"spring\"\nmax_contacts = 100\nsuppress = \"opt-outs.txt\"\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let from_file = run(&out, &["--config", config]);
    let stderr = String::from_utf8(from_file.stderr).unwrap();
    assert!(stderr.contains(" 100 to contact"), "{stderr}");
    assert!(stderr.contains(" 2 suppressed"), "{stderr}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["campaign"]["id"], "spring");
    assert_eq!(manifest["campaign"]["max_contacts"], 100);
    let flag_wins = run(
        &out,
        &["--dry-run", "--config", config, "--max-contacts", "50"],
    );
    let stderr = String::from_utf8(flag_wins.stderr).unwrap();
    assert!(stderr.contains(" 50 to contact"), "{stderr}");
    assert!(stderr.contains(" 2 suppressed"), "{stderr}");
}

#[test]
fn a_directory_retain_did_not_write_is_refused_before_any_work() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("thesis.tex"), "mine").unwrap();
    let output = retain_bin()
        .current_dir(repo())
        .args(["run", "--out"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("did not write"));
    assert_eq!(listing(tmp.path()), ["thesis.tex"]);
}

#[test]
fn invalid_offer_catalog_and_campaign_flags_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = tmp.path().join("offers.toml");
    std::fs::write(
        &catalog,
        "[[offer]]\ncode = \"CALL\"\nname = \"Call\"\nchannel = \"phone\"\nuplift = 0.2\ncost_fixed = -3\n",
    )
    .unwrap();
    for (args, needle) in [
        (
            vec!["--offers", catalog.to_str().unwrap()],
            "offer 1 ('CALL'): cost_fixed",
        ),
        (vec!["--control-share", "1.5"], "--control-share"),
        (vec!["--profile", "excel"], "excel-de"),
        (
            vec![
                "--model-dir",
                tmp.path().join("out/models").to_str().unwrap(),
            ],
            "inside --out",
        ),
    ] {
        let output = retain_bin()
            .current_dir(repo())
            .args(["run", "--out"])
            .arg(tmp.path().join("out"))
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    assert!(!tmp.path().join("out").exists());

    // A suppression list that cannot be read is bad input (exit 3), named by its path.
    let output = retain_bin()
        .current_dir(repo())
        .args(["run", "--suppress", "no-such-opt-outs.txt", "--out"])
        .arg(tmp.path().join("out"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("no-such-opt-outs.txt"), "{stderr}");
    assert!(!tmp.path().join("out").exists());
}

#[test]
fn purchases_after_a_chosen_as_of_date_are_a_manifest_warning() {
    // A nightly job that passes --as-of must see in the manifest, not only on stderr, that
    // later purchase lines were left out.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let output = run(&out, &["--as-of", "2024-12-01"]);
    let stderr = String::from_utf8(output.stderr).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let warnings = manifest["warnings"].as_array().expect("a warnings list");
    let unused = warnings
        .iter()
        .filter_map(|w| w.as_str())
        .find(|w| w.ends_with("dated on or after the as-of date 2024-12-01; they are not used"))
        .unwrap_or_else(|| panic!("{warnings:?}"));
    assert!(stderr.contains(unused), "{stderr}");
    // The sample's lines dated 2024-12-01 or later with a customer id, no C order, quantity and
    // price above 0, not a repeat of an earlier line: 2,433 (counted with Python's csv module).
    assert!(unused.starts_with("2433 purchase lines are"), "{unused}");
}
