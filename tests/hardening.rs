//! Defects a hostile user or a broken schedule found (issue [hardening]), each pinned by a test
//! named after it: formulas in CSV cells, opt-out lists in other shapes, commands that would
//! overwrite their inputs or models, numbers too large to sum, a model set left mixed, and two
//! runs on one output directory.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use common::*;
use polars::prelude::SerReader;

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Formula-like text put into the sample: a product name that links out, a DDE command, an `@`
/// function, a leading tab, and customer ids starting with `=`, `-` (not a number) and `@`.
const HOSTILE_NAMES: [&str; 4] = [
    "=HYPERLINK(\"http://evil.example/\",\"Click\")",
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "\tTAB LEADING",
];

/// The sample with hostile text: the ten most frequent products get the names above (in turn),
/// and three customers get ids that start with `=`, `-` and `@` (`-1+000002`: not a number). Returns the file and the map of
/// hostile customer ids.
struct Hostile {
    _dir: tempfile::TempDir,
    input: PathBuf,
    /// Models and the output of `retain run` on the hostile input (crm profile).
    models: PathBuf,
    run_out: PathBuf,
    /// Customer ids of the sample that the CRM file of `run_out` contacts.
    contacted: Vec<String>,
    hostile_ids: Vec<String>,
}

fn hostile() -> &'static Hostile {
    static HOSTILE: OnceLock<Hostile> = OnceLock::new();
    HOSTILE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let mut reader =
            csv::Reader::from_path(repo().join("data/sample/transactions.csv")).unwrap();
        let header = reader.headers().unwrap().clone();
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
        let mut counts: HashMap<String, usize> = HashMap::new();
        for row in &rows {
            *counts.entry(row[3].to_string()).or_default() += 1;
        }
        let mut popular: Vec<(String, usize)> = counts.into_iter().collect();
        popular.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let renamed: HashMap<String, &str> = popular
            .iter()
            .take(10)
            .enumerate()
            .map(|(i, (id, _))| (id.clone(), HOSTILE_NAMES[i % HOSTILE_NAMES.len()]))
            .collect();
        let mut ids: Vec<String> = rows
            .iter()
            .map(|r| r[0].to_string())
            .filter(|id| !id.is_empty())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        ids.truncate(3);
        let hostile_ids: HashMap<String, String> = ids
            .iter()
            .zip(["=1+", "-1+", "@"])
            .map(|(id, prefix)| (id.clone(), format!("{prefix}{id}")))
            .collect();
        let input = dir.path().join("hostile.csv");
        let mut writer = csv::Writer::from_path(&input).unwrap();
        writer.write_record(&header).unwrap();
        for row in &rows {
            let mut fields: Vec<String> = row.iter().map(str::to_string).collect();
            if let Some(id) = hostile_ids.get(&fields[0]) {
                fields[0] = id.clone();
            }
            if let Some(name) = renamed.get(&fields[3]) {
                fields[4] = name.to_string();
            }
            writer.write_record(&fields).unwrap();
        }
        writer.flush().unwrap();
        let models = dir.path().join("models");
        let run_out = dir.path().join("out");
        let out = run(&[
            "run",
            "--input",
            s(&input),
            "--out",
            s(&run_out),
            "--model-dir",
            s(&models),
            "--campaign",
            "=CAMPAIGN()",
        ]);
        assert_exit(&out, 0, &[]);
        let mut crm = csv::Reader::from_path(run_out.join("at_risk_customers.csv")).unwrap();
        let contacted = crm
            .records()
            .map(|r| r.unwrap())
            .filter(|r| r[0].chars().all(|c| c.is_ascii_digit()))
            .map(|r| r[0].to_string())
            .take(40)
            .collect();
        Hostile {
            input,
            models,
            run_out,
            contacted,
            hostile_ids: hostile_ids.into_values().collect(),
            _dir: dir,
        }
    })
}

/// `retain score` on the hostile input with the models in `models`.
fn score_with(models: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "score",
        "--input",
        s(&hostile().input),
        "--model-dir",
        s(models),
        "--out",
        s(out),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

/// `retain score` on the hostile input with the models `retain run` trained on it.
fn score(out: &Path, extra: &[&str]) -> Output {
    score_with(&hostile().models, out, extra)
}

/// Every text cell of a CSV file (header excluded), in `profile`'s dialect.
fn cells(path: &Path, separator: u8) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let text = text.trim_start_matches('\u{feff}');
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(separator)
        .from_reader(text.as_bytes());
    reader
        .records()
        .flat_map(|r| r.unwrap().iter().map(str::to_string).collect::<Vec<_>>())
        .collect()
}

/// What a spreadsheet runs as a formula: a leading `=`, `+`, `-`, `@`, tab or CR, unless the
/// cell is a number (with a decimal point or comma).
fn runs_as_formula(cell: &str) -> bool {
    let number = cell.replace(',', ".").parse::<f64>().is_ok();
    cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && !number
}

#[test]
fn hostile_text_cells_are_neutralised_in_every_csv_in_both_profiles() {
    let h = hostile();
    let root = tempfile::tempdir().unwrap();
    let excel = root.path().join("excel");
    assert_exit(
        &score(&excel, &["--profile", "excel-de", "--campaign", "@camp"]),
        0,
        &[],
    );
    for (dir, separator, campaign) in [(&h.run_out, b',', "'=CAMPAIGN()"), (&excel, b';', "'@camp")]
    {
        let mut quoted = BTreeSet::new();
        for file in ["at_risk_customers.csv", "scores.csv", "recommendations.csv"] {
            let all = cells(&dir.join(file), separator);
            assert!(!all.is_empty(), "{file}");
            for cell in &all {
                assert!(!runs_as_formula(cell), "{file} holds {cell:?}");
                if cell.starts_with('\'') {
                    quoted.insert(cell.clone());
                }
            }
        }
        // The hostile text did reach the files, neutralised: names, ids and the campaign id.
        assert!(quoted.contains(campaign), "{quoted:?}");
        for name in HOSTILE_NAMES {
            assert!(
                quoted.contains(&format!("'{name}")),
                "{name:?} not in {quoted:?}"
            );
        }
        for id in &h.hostile_ids {
            assert!(
                quoted.contains(&format!("'{id}")),
                "{id:?} not in {quoted:?}"
            );
        }
    }
    // Parquet keeps the text as read, and negative numbers stay numbers in CSV.
    let parquet = std::fs::read(h.run_out.join("scores.parquet")).unwrap();
    let table = polars::prelude::ParquetReader::new(std::io::Cursor::new(parquet))
        .finish()
        .unwrap();
    let ids = table.column("customer_id").unwrap().str().unwrap().clone();
    for id in &h.hostile_ids {
        assert!(ids.iter().any(|v| v == Some(id.as_str())), "{id}");
    }
}

#[test]
fn hostile_text_is_neutralised_in_gzip_csv_of_features_and_recommend() {
    let h = hostile();
    let root = tempfile::tempdir().unwrap();
    let features = root.path().join("features.csv.gz");
    let suggestions = root.path().join("suggestions.csv.gz");
    assert_exit(
        &run(&["features", "--input", s(&h.input), "--out", s(&features)]),
        0,
        &[],
    );
    assert_exit(
        &run(&[
            "recommend",
            "--input",
            s(&h.input),
            "--model-dir",
            s(&h.models),
            "--out",
            s(&suggestions),
        ]),
        0,
        &[],
    );
    for (path, needle) in [
        (&features, format!("'{}", h.hostile_ids[0])),
        (&suggestions, format!("'{}", HOSTILE_NAMES[0])),
    ] {
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap()),
            &mut text,
        )
        .unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let all: Vec<String> = reader
            .records()
            .flat_map(|r| r.unwrap().iter().map(str::to_string).collect::<Vec<_>>())
            .collect();
        assert!(
            !all.iter().any(|c| runs_as_formula(c)),
            "{}",
            path.display()
        );
        assert!(all.contains(&needle), "{} lacks {needle:?}", path.display());
    }
}

fn list_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The decisions of `scores.csv` per customer id.
fn decisions(out: &Path) -> HashMap<String, String> {
    let mut reader = csv::Reader::from_path(out.join("scores.csv")).unwrap();
    let header = reader.headers().unwrap().clone();
    let d = header.iter().position(|h| h == "decision").unwrap();
    reader
        .records()
        .map(|r| r.unwrap())
        .map(|r| (r[0].to_string(), r[d].to_string()))
        .collect()
}

fn manifest(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap()
}

#[test]
fn opt_out_lists_in_export_shapes_suppress_their_customers() {
    let h = hostile();
    let root = tempfile::tempdir().unwrap();
    let [a, b, c] = [&h.contacted[0], &h.contacted[1], &h.contacted[2]];
    let shapes = [
        (
            "export.csv",
            format!("customer_id,email\n{a},a@x.de\n{b},b@x.de\n{c},\"c,d@x.de\"\n"),
        ),
        ("semicolon.txt", format!("{a};x\n{b};y\n{c};z\n")),
        (
            "comments.txt",
            format!("# opt-outs\n{a} # old\n{b}\t# moved\n{c}\n"),
        ),
        (
            "tabs.tsv",
            format!("email\tCustomerID\na@x\t{a}\nb@x\t{b}\nc@x\t{c}\n"),
        ),
    ];
    for (name, text) in shapes {
        let list = list_file(root.path(), name, &text);
        let out = root.path().join(format!("out-{name}"));
        let done = score(&out, &["--suppress", s(&list)]);
        assert_exit(&done, 0, &["3 entries, 3 match a customer"]);
        let d = decisions(&out);
        for id in [a, b, c] {
            assert_eq!(d[id.as_str()], "suppressed", "{name}: {id}");
        }
        let crm = cells(&out.join("at_risk_customers.csv"), b',');
        assert!(!crm.iter().any(|cell| [a, b, c].contains(&cell)), "{name}");
        let suppression = &manifest(&out)["campaign"]["suppression"];
        assert_eq!(suppression["matched"], 3, "{name}");
        assert_eq!(suppression["unmatched"], 0, "{name}");
        let sha = format!(
            "{:x}",
            <sha2::Sha256 as sha2::Digest>::digest(text.as_bytes())
        );
        assert_eq!(suppression["sha256"], sha.as_str(), "{name}");
    }
}

#[test]
fn opt_out_list_mostly_matching_nobody_is_refused_with_examples() {
    let h = hostile();
    let root = tempfile::tempdir().unwrap();
    let a = &h.contacted[0];
    // Emails where ids were expected: one entry matches, four do not.
    let list = list_file(
        root.path(),
        "emails.txt",
        &format!("{a}\nx@y.de\nz@y.de\nq@y.de\nr@y.de\n"),
    );
    let out = root.path().join("out");
    let done = score(&out, &["--suppress", s(&list)]);
    assert_exit(
        &done,
        3,
        &[
            "4 of its 5 entries",
            "'x@y.de'",
            "--allow-unmatched-suppressions",
        ],
    );
    assert!(!out.exists(), "nothing may be written");
    let done = score(
        &out,
        &["--suppress", s(&list), "--allow-unmatched-suppressions"],
    );
    assert_exit(
        &done,
        0,
        &["5 entries, 1 match a customer of this input, 4 match none"],
    );
    let suppression = &manifest(&out)["campaign"]["suppression"];
    assert_eq!(suppression["unmatched"], 4);
    assert_eq!(suppression["unmatched_examples"][0], "x@y.de");
    assert_eq!(decisions(&out)[a.as_str()], "suppressed");
}

/// A copy of the run's output directory (models included) to be a victim.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn model_dir_inside_out_through_dot_dot_or_a_symlink_is_refused_and_kept() {
    let h = hostile();
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("out");
    copy_dir(&h.run_out, &out);
    let before = snapshot(&out);
    let dotdot = root.path().join("out/../out");
    let link = root.path().join("link");
    std::os::unix::fs::symlink(&out, &link).unwrap();
    for model_dir in [dotdot.as_path(), link.as_path()] {
        let done = score_with(model_dir, &out, &[]);
        assert_exit(&done, 2, &["--model-dir", "is inside --out"]);
        assert_eq!(snapshot(&out), before, "the models must be untouched");
    }
}

#[test]
fn quarantine_or_features_output_naming_the_input_is_refused_and_the_input_kept() {
    let root = tempfile::tempdir().unwrap();
    let input = root.path().join("t.csv");
    std::fs::copy(repo().join("tests/fixtures/small.csv"), &input).unwrap();
    let before = std::fs::read(&input).unwrap();
    let link = root.path().join("link.csv");
    std::os::unix::fs::symlink(&input, &link).unwrap();
    let hard = root.path().join("hard.csv");
    std::fs::hard_link(&input, &hard).unwrap();
    let dotted = root.path().join("sub/../t.csv");
    for target in [&input, &link, &hard, &dotted] {
        let done = run(&["validate", "--input", s(&input), "--quarantine", s(target)]);
        assert_exit(&done, 2, &["--input", "--quarantine"]);
        let done = run(&["features", "--input", s(&input), "--out", s(target)]);
        assert_exit(&done, 2, &["--input", "--out"]);
        assert_eq!(std::fs::read(&input).unwrap(), before);
    }
}

#[test]
fn run_with_its_input_inside_out_is_refused_and_the_input_kept() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("manifest.json"), "{}").unwrap();
    let input = out.join("t.csv");
    std::fs::copy(repo().join("tests/fixtures/small.csv"), &input).unwrap();
    let done = run(&["run", "--input", s(&input), "--out", s(&out)]);
    assert_exit(&done, 2, &["--input", "is inside --out"]);
    assert!(input.exists());
    let list = out.join("optout.txt");
    std::fs::write(&list, "1\n").unwrap();
    let done = score(&out, &["--suppress", s(&list)]);
    assert_exit(&done, 2, &["--suppress", "is inside --out"]);
    assert!(list.exists());
}

#[test]
fn numbers_too_large_to_sum_are_rejected_as_out_of_range_not_zeroed() {
    let root = tempfile::tempdir().unwrap();
    let input = root.path().join("big.csv");
    let mut text = String::from(
        "customer_id,order_id,order_date,product_id,product_name,quantity,unit_price,country\n",
    );
    for i in 0..20 {
        text.push_str(&format!("C{i},{i},2024-02-01T10:00:00,P1,x,2,1.5,DE\n"));
    }
    text.push_str("C1,9001,2024-03-01T10:00:00,P1,x,9999999999999999999,1.5,DE\n");
    text.push_str("C1,9002,2024-03-01T10:00:00,P1,x,1e308,1.5,DE\n");
    text.push_str("C1,9003,2024-03-01T10:00:00,P1,x,2,1e300,DE\n");
    text.push_str("C1,9004,2024-03-01T10:00:00,P1,x,200000,100000,DE\n");
    // At the limits: kept.
    text.push_str("C1,9005,2024-03-01T10:00:00,P1,x,100000,100000,DE\n");
    std::fs::write(&input, &text).unwrap();
    let quarantine = root.path().join("q.csv");
    let done = run(&[
        "validate",
        "--input",
        s(&input),
        "--json",
        "--quarantine",
        s(&quarantine),
    ]);
    assert_exit(&done, 0, &[]);
    let report: serde_json::Value = serde_json::from_slice(&done.stdout).unwrap();
    assert_eq!(report["rejected"]["number_out_of_range"], 4, "{report}");
    assert_eq!(report["rows_kept"], 21, "{report}");
    let q = std::fs::read_to_string(&quarantine).unwrap();
    for order in ["9001", "9002", "9003", "9004"] {
        let line = q.lines().find(|l| l.contains(order)).unwrap();
        assert!(line.contains("number_out_of_range"), "{line}");
    }
    assert!(!q.contains("9005"));
}

#[test]
fn edited_model_version_is_refused() {
    let h = hostile();
    let root = tempfile::tempdir().unwrap();
    let models = root.path().join("models");
    copy_dir(&h.models, &models);
    let path = models.join("churn-model.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let model: serde_json::Value = serde_json::from_str(&text).unwrap();
    let version = model["model_version"].as_str().unwrap();
    std::fs::write(&path, text.replace(version, "churn-000000000000")).unwrap();
    // The set file would catch the edit too; without it, the model's own checksum must.
    std::fs::remove_file(models.join("model-set.json")).unwrap();
    let out = root.path().join("out");
    let done = score_with(&models, &out, &[]);
    assert_exit(&done, 5, &["model_version", "churn-000000000000"]);
}

#[test]
fn mixed_model_set_after_an_interrupted_train_is_refused() {
    let h = hostile();
    let root = tempfile::tempdir().unwrap();
    let models = root.path().join("models");
    copy_dir(&h.models, &models);
    // What a train killed after renaming its churn model (another valid one) leaves behind.
    std::fs::copy(
        repo().join("tests/fixtures/churn-model-0.3.0.json"),
        models.join("churn-model.json"),
    )
    .unwrap();
    let out = root.path().join("out");
    let done = score_with(&models, &out, &[]);
    assert_exit(&done, 5, &["churn-model.json", "model-set.json", "mixed"]);
    assert!(!out.exists());
}

#[test]
fn second_run_on_a_locked_out_is_busy_exit_7_and_touches_nothing() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("out");
    let lock = std::fs::File::create(root.path().join(".out.lock")).unwrap();
    lock.lock().unwrap();
    let done = score(&out, &[]);
    assert_exit(&done, 7, &["busy", "is writing", "out"]);
    assert!(!out.exists());
    drop(lock);
    assert_exit(&score(&out, &[]), 0, &[]);
}
