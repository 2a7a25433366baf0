//! `retain shard plan | route | finish | clean | run`, the steps an engine such as Spark runs on
//! its machines (spark/retain_spark.py), give the output directory of `retain run`: the same
//! bytes, the manifest adding only `engine`; and the same errors for bad input.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};

use common::*;

/// The manifest without `engine`.
fn manifest_without_engine(bytes: &[u8]) -> serde_json::Value {
    let mut manifest: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    manifest.as_object_mut().unwrap().remove("engine");
    manifest
}

/// Runs every step by hand, as an engine would: the files routed in reverse order, the shards
/// cleaned in reverse order; returns the last step's output.
fn run_in_steps(
    work: &Path,
    input: &Path,
    out: &Path,
    shards: usize,
    flags: &[&str],
) -> std::process::Output {
    let plan = work.join("plan.json");
    let routed = work.join("routed");
    let cleaned = work.join("cleaned");
    let shape = work.join("shape.json");
    let (plan_s, routed_s, cleaned_s, shape_s, out_s) = (
        plan.display().to_string(),
        routed.display().to_string(),
        cleaned.display().to_string(),
        shape.display().to_string(),
        out.display().to_string(),
    );
    let step = |args: &[&str]| {
        retain_bin()
            .arg("shard")
            .args(args)
            .arg("--input")
            .arg(input)
            .args(flags)
            .output()
            .unwrap()
    };
    let shards_s = shards.to_string();
    let done = step(&["plan", "--plan", &plan_s, "--shards", &shards_s]);
    if !done.status.success() {
        return done;
    }
    let plan_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&plan).unwrap()).unwrap();
    let files = plan_json["files"].as_array().unwrap().len();
    for file in (0..files).rev() {
        let file = file.to_string();
        let done = step(&[
            "route", "--plan", &plan_s, "--file", &file, "--into", &routed_s,
        ]);
        if !done.status.success() {
            return done;
        }
    }
    let done = step(&[
        "finish",
        "--plan",
        &plan_s,
        "--evidence",
        &routed_s,
        "--shape",
        &shape_s,
    ]);
    if !done.status.success() {
        return done;
    }
    for shard in (0..shards).rev() {
        let shard = shard.to_string();
        let done = step(&[
            "clean", "--plan", &plan_s, "--shape", &shape_s, "--shard", &shard, "--rows",
            &routed_s, "--into", &cleaned_s,
        ]);
        if !done.status.success() {
            return done;
        }
    }
    step(&[
        "run",
        "--plan",
        &plan_s,
        "--shape",
        &shape_s,
        "--cleaned",
        &cleaned_s,
        "--out",
        &out_s,
    ])
}

/// The raw UCI export of Online Retail with its dates written as day/month/year (01/12/2010
/// 08:26), split into three files (one gzip): the first holds only days that read as
/// month/day/year too, so the whole input's evidence must decide how that file's dates read.
fn uci_in_three_files(dir: &Path) -> PathBuf {
    let mut text = String::new();
    flate2::read::GzDecoder::new(
        std::fs::File::open(online_retail("raw_uci_export.csv.gz")).unwrap(),
    )
    .read_to_string(&mut text)
    .unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rewritten: Vec<String> = lines
        .map(|line| {
            // YYYY-MM-DD HH:MM:SS → DD/MM/YYYY HH:MM, wherever the one ISO date of the row is.
            let at = line
                .match_indices(' ')
                .find_map(|(i, _)| {
                    let start = i.checked_sub(10)?;
                    let d = line.get(start..i)?;
                    let b = d.as_bytes();
                    (b.len() == 10 && b[4] == b'-' && b[7] == b'-' && d[..4].parse::<u32>().is_ok())
                        .then_some(start)
                })
                .unwrap();
            let (y, m, d) = (
                &line[at..at + 4],
                &line[at + 5..at + 7],
                &line[at + 8..at + 10],
            );
            let time = &line[at + 11..at + 16];
            format!("{}{d}/{m}/{y} {time}{}", &line[..at], &line[at + 19..])
        })
        .collect();
    let parts = dir.join("parts");
    std::fs::create_dir(&parts).unwrap();
    let (first, rest) = rewritten.split_at(2_000);
    let (second, third) = rest.split_at(200_000);
    assert!(first.iter().all(|l| l.contains("01/12/2010")));
    write_three_files(&parts, header, [first, second, third]);
    parts
}

#[test]
fn shard_steps_write_the_bytes_of_run_for_online_retail_in_three_files_with_dates_decided_by_all_files()
 {
    let tmp = tempfile::tempdir().unwrap();
    let parts = uci_in_three_files(tmp.path());
    let config = repo().join("data/online_retail.toml");
    let config = config.display().to_string();
    let flags = ["--config", config.as_str()];
    let reference = tmp.path().join("reference");
    let done = retain_bin()
        .args(["run", "--input"])
        .arg(&parts)
        .arg("--out")
        .arg(&reference)
        .args(flags)
        .output()
        .unwrap();
    assert_exit(&done, 0, &["order dates read as day/month/year"]);
    let stepped = tmp.path().join("stepped");
    let work = tmp.path().join("work");
    let done = run_in_steps(&work, &parts, &stepped, 5, &flags);
    assert_exit(
        &done,
        0,
        &[
            "merged 5 cleaned shards (in memory)",
            "order dates read as day/month/year",
        ],
    );
    // A budget the lines do not fit: the run reads the cleaned shards back from disk.
    let spilled = tmp.path().join("spilled");
    let small = [flags[0], flags[1], "--memory-limit", "64MiB"];
    let done = run_in_steps(&tmp.path().join("work-small"), &parts, &spilled, 5, &small);
    assert_exit(&done, 0, &["merged 5 cleaned shards (read back from disk)"]);
    assert_eq!(
        files(&spilled),
        files(&stepped),
        "the budget changes no byte"
    );
    let shape: serde_json::Value =
        serde_json::from_slice(&std::fs::read(work.join("shape.json")).unwrap()).unwrap();
    assert_eq!(
        shape["date_flips"][0],
        serde_json::json!([0, 2000]),
        "the first file's dates read both ways: the whole input says day/month/year"
    );
    let a = files(&reference);
    let b = files(&stepped);
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, bytes) in &a {
        if name == "manifest.json" {
            assert_eq!(
                manifest_without_engine(bytes),
                manifest_without_engine(&b[name]),
                "the manifests differ beyond engine"
            );
            let manifest: serde_json::Value = serde_json::from_slice(&b[name]).unwrap();
            assert_eq!(
                manifest["engine"],
                serde_json::json!({"name": "spark", "shards": 5})
            );
        } else {
            assert!(bytes == &b[name], "{name} differs");
        }
    }
}

#[test]
fn shard_steps_refuse_unreadable_quantities_in_a_later_file_with_runs_message_and_exit_code() {
    let tmp = tempfile::tempdir().unwrap();
    let parts = tmp.path().join("parts");
    std::fs::create_dir(&parts).unwrap();
    let header = "customer_id,order_id,order_date,product_id,quantity,unit_price\n";
    let good: String = (0..200)
        .map(|i| {
            format!(
                "c{},o{i},2024-01-{:02},p{},1,2.5\n",
                i % 40,
                1 + i % 28,
                i % 9
            )
        })
        .collect();
    // 5 % of the second file's quantities cannot be read: over the 1 % allowed, in all.
    let bad: String = (0..200)
        .map(|i| {
            let q = if i % 20 == 7 { "lots" } else { "2" };
            format!(
                "d{},q{i},2024-02-{:02},p{},{q},1.5\n",
                i % 40,
                1 + i % 28,
                i % 9
            )
        })
        .collect();
    std::fs::write(parts.join("a.csv"), format!("{header}{good}")).unwrap();
    std::fs::write(parts.join("b.csv"), format!("{header}{bad}")).unwrap();
    let done = retain_bin()
        .args(["run", "--input"])
        .arg(&parts)
        .arg("--out")
        .arg(tmp.path().join("reference"))
        .output()
        .unwrap();
    let message = |out: &std::process::Output| {
        stderr(out)
            .lines()
            .find(|l| l.starts_with("error:"))
            .unwrap_or_default()
            .to_string()
    };
    assert_exit(&done, 3, &["b.csv, line 9, column 'quantity'", "'lots'"]);
    let stepped = tmp.path().join("stepped");
    let stepped_done = run_in_steps(&tmp.path().join("work"), &parts, &stepped, 3, &[]);
    assert_eq!(
        stepped_done.status.code(),
        Some(3),
        "{}",
        stderr(&stepped_done)
    );
    assert_eq!(message(&stepped_done), message(&done));
    assert!(!stepped.exists(), "no output for a failed run");
}
