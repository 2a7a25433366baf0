//! `--input` as a directory, a hive-partitioned directory or a glob: the files read as the one
//! file they were split from, columns from `key=value` directories, rows counted per file, and
//! every message and quarantine row naming its file.

mod common;

use std::path::{Path, PathBuf};

use common::*;

/// The sample's header and data lines.
fn sample_lines() -> (String, Vec<String>) {
    let text = std::fs::read_to_string(repo().join("data/sample/transactions.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let header = lines.remove(0);
    (header, lines)
}

fn write_lines(path: &Path, header: &str, lines: &[String]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, format!("{header}\n{}\n", lines.join("\n"))).unwrap();
}

/// `retain features` on `input`, as bytes.
fn features_of(input: &Path, out: &Path) -> Vec<u8> {
    let done = retain_bin()
        .args(["features", "--as-of", "2024-12-01", "--input"])
        .arg(input)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert_exit(&done, 0, &[]);
    std::fs::read(out).unwrap()
}

fn validate_json(input: &str) -> serde_json::Value {
    let done = run(&["validate", "--json", "--input", input]);
    assert_exit(&done, 0, &[]);
    serde_json::from_slice(&done.stdout).unwrap()
}

#[test]
fn a_directory_and_a_glob_of_split_files_read_as_the_whole_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (header, lines) = sample_lines();
    let third = lines.len() / 3;
    let dir = tmp.path().join("orders");
    write_lines(&dir.join("2023-a.csv"), &header, &lines[..third]);
    write_lines(&dir.join("2023-b.csv"), &header, &lines[third..2 * third]);
    write_lines(&dir.join("2024/c.csv"), &header, &lines[2 * third..]);
    std::fs::write(dir.join("_SUCCESS"), "").unwrap();
    std::fs::write(dir.join(".2023-a.csv.crc"), "not a csv").unwrap();

    let whole = features_of(
        &repo().join("data/sample/transactions.csv"),
        &tmp.path().join("whole.csv"),
    );
    assert_eq!(features_of(&dir, &tmp.path().join("dir.csv")), whole);

    let report = validate_json(dir.to_str().unwrap());
    let whole_report = validate_json(
        repo()
            .join("data/sample/transactions.csv")
            .to_str()
            .unwrap(),
    );
    for key in ["rows_read", "rows_kept", "rejected", "customers", "orders"] {
        assert_eq!(report[key], whole_report[key], "{key}");
    }
    let files = report["files"].as_array().unwrap();
    let names: Vec<&str> = files.iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names[0].ends_with("2023-a.csv") && names[2].ends_with("2024/c.csv"));
    let rows: Vec<u64> = files
        .iter()
        .map(|f| f["rows_read"].as_u64().unwrap())
        .collect();
    assert_eq!(
        rows,
        [third as u64, third as u64, (lines.len() - 2 * third) as u64]
    );
    let kept: u64 = files.iter().map(|f| f["rows_kept"].as_u64().unwrap()).sum();
    assert_eq!(kept, whole_report["rows_kept"].as_u64().unwrap());

    // A glob names the first two files only.
    let pattern = dir.join("2023-*.csv");
    let globbed = validate_json(pattern.to_str().unwrap());
    assert_eq!(globbed["files"].as_array().unwrap().len(), 2);
    assert_eq!(globbed["rows_read"].as_u64().unwrap(), 2 * third as u64);
}

#[test]
fn hive_directories_supply_the_column_their_files_lack() {
    let tmp = tempfile::tempdir().unwrap();
    let (header, lines) = sample_lines();
    let names: Vec<&str> = header.split(',').collect();
    let country = names.iter().position(|&n| n == "country").unwrap();
    assert_eq!(country, names.len() - 1, "country is the last column");
    let without = names[..country].join(",");
    let mut by_country = std::collections::BTreeMap::<String, Vec<String>>::new();
    for line in &lines {
        let (rest, value) = line.rsplit_once(',').unwrap();
        by_country
            .entry(value.to_string())
            .or_default()
            .push(rest.to_string());
    }
    assert!(by_country.len() > 2);
    let dir = tmp.path().join("hive");
    for (value, rows) in &by_country {
        let value = value.replace(' ', "%20");
        write_lines(
            &dir.join(format!("country={value}/part-0.csv")),
            &without,
            rows,
        );
    }
    let whole = features_of(
        &repo().join("data/sample/transactions.csv"),
        &tmp.path().join("whole.csv"),
    );
    assert_eq!(features_of(&dir, &tmp.path().join("hive.csv")), whole);
    let report = validate_json(dir.to_str().unwrap());
    assert!(
        report["columns_present"]
            .as_array()
            .unwrap()
            .contains(&"country".into())
    );
}

#[test]
fn a_bad_value_in_the_second_file_names_that_file_and_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    let (header, lines) = sample_lines();
    let dir = tmp.path().join("parts");
    write_lines(&dir.join("a.csv"), &header, &lines[..100]);
    let mut second: Vec<String> = lines[100..200].to_vec();
    // Half the quantities unreadable: the column is refused at the first (line 4 of b.csv).
    for line in second.iter_mut().skip(2).step_by(2) {
        let mut fields: Vec<&str> = line.split(',').collect();
        fields[5] = "lots";
        *line = fields.join(",");
    }
    write_lines(&dir.join("b.csv"), &header, &second);
    let done = run(&["validate", "--input", dir.to_str().unwrap()]);
    let b = dir.join("b.csv");
    assert_exit(
        &done,
        3,
        &[&format!("{}, line 4", b.display()), "'lots'", "quantity"],
    );

    // Fewer bad values pass; the quarantine names each row's file and line.
    let mut few = lines[100..200].to_vec();
    let mut fields: Vec<&str> = few[9].split(',').collect();
    fields[5] = "lots";
    few[9] = fields.join(",");
    write_lines(&dir.join("b.csv"), &header, &few);
    let quarantine = tmp.path().join("q.csv");
    let done = run(&[
        "validate",
        "--input",
        dir.to_str().unwrap(),
        "--quarantine",
        quarantine.to_str().unwrap(),
    ]);
    assert_exit(&done, 0, &[]);
    let text = std::fs::read_to_string(&quarantine).unwrap();
    let mut rows = text.lines();
    assert!(
        rows.next().unwrap().starts_with("file,line,reason,"),
        "{text}"
    );
    let bad: Vec<&str> = rows.filter(|r| r.contains("lots")).collect();
    assert_eq!(bad.len(), 1, "{text}");
    assert!(
        bad[0].starts_with(&format!("{},11,unparseable_value,", b.display())),
        "{}",
        bad[0]
    );
}

#[test]
fn files_of_both_formats_read_as_their_csv_twins() {
    let tmp = tempfile::tempdir().unwrap();
    let gen_to = |name: &str, seed: &str| -> PathBuf {
        let path = tmp.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let done = run(&[
            "generate",
            "--customers",
            "150",
            "--seed",
            seed,
            "--out",
            path.to_str().unwrap(),
        ]);
        assert_exit(&done, 0, &[]);
        path
    };
    gen_to("csv/a.csv", "1");
    gen_to("csv/b.csv", "2");
    gen_to("mixed/a.parquet", "1");
    gen_to("mixed/b.csv", "2");
    let csv = features_of(&tmp.path().join("csv"), &tmp.path().join("csv.csv"));
    let mixed = features_of(&tmp.path().join("mixed"), &tmp.path().join("mixed.csv"));
    assert_eq!(csv, mixed);
    assert_eq!(
        validate_json(tmp.path().join("mixed").to_str().unwrap())["format"],
        "mixed"
    );
}

#[test]
fn an_output_inside_an_input_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (header, lines) = sample_lines();
    let dir = tmp.path().join("in");
    write_lines(&dir.join("a.csv"), &header, &lines[..500]);
    let out = dir.join("features.csv");
    let done = run(&[
        "features",
        "--input",
        dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_exit(&done, 2, &["is a directory holding", "--out"]);
    assert!(!out.exists());
}

#[test]
fn a_glob_that_matches_nothing_or_does_not_parse_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let nothing = tmp.path().join("*.parquet");
    assert_exit(
        &run(&["validate", "--input", nothing.to_str().unwrap()]),
        3,
        &["no file matches"],
    );
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert_exit(
        &run(&["validate", "--input", empty.to_str().unwrap()]),
        3,
        &["holds no input file"],
    );
    let broken = tmp.path().join("[a-.csv");
    assert_exit(
        &run(&["validate", "--input", broken.to_str().unwrap()]),
        2,
        &["not a valid glob pattern"],
    );
}

/// Purchase lines on day `day` of each month of 2011, written day first (`d/m/Y H:M`).
fn dated_lines(days: &[u32]) -> Vec<String> {
    let mut lines = Vec::new();
    for (i, day) in days.iter().enumerate() {
        for month in 1..=12u32 {
            lines.push(format!(
                "C{},O{i}-{month},P{},{:02}/{month:02}/2011 10:00,{},2.50",
                (i * 12 + month as usize) % 60,
                i % 5,
                day,
                1 + i % 3
            ));
        }
    }
    lines
}

#[test]
fn a_file_whose_dates_read_both_ways_is_read_as_the_later_files_tell() {
    // The first file's days are all 12 or less, so month-first and day-first read all of them
    // (differently); the second file's days go past 12, so only day-first reads the column.
    // Read at once, the column is day-first; read in two batches (one per file), the first
    // batch ties and must be read day-first too, as the whole column says.
    let tmp = tempfile::tempdir().unwrap();
    let header = "customer_id,order_id,product_id,order_date,quantity,unit_price";
    let first = dated_lines(&[1, 3, 5, 7, 9, 11]);
    let second = dated_lines(&[14, 17, 20, 23, 26, 28]);
    let dir = tmp.path().join("orders");
    write_lines(&dir.join("a.csv"), header, &first);
    write_lines(&dir.join("b.csv"), header, &second);
    let whole = tmp.path().join("whole.csv");
    let all: Vec<String> = first.iter().chain(&second).cloned().collect();
    write_lines(&whole, header, &all);

    let at_once = features_of(&whole, &tmp.path().join("once.csv"));
    assert_eq!(features_of(&dir, &tmp.path().join("split.csv")), at_once);
    // Day-first: the first purchase is on 1 January, the last on 28 December.
    let report = validate_json(dir.to_str().unwrap());
    let text = report.to_string();
    assert!(
        text.contains("2011-01-01T10:00:00") && text.contains("2011-12-28T10:00:00"),
        "{text}"
    );

    // Without the second file the column reads both ways: refused, as before.
    let done = run(&["validate", "--input", dir.join("a.csv").to_str().unwrap()]);
    assert_exit(&done, 3, &["reads as month/day/year and as day/month/year"]);
}
