//! The binary's behaviour on malformed input: a message naming file, line and column, and the
//! documented exit code (2 usage, 3 input data, 4 insufficient data). Never a panic.

mod common;

use std::io::Write;

use common::*;

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn unparseable_quantity_above_the_threshold_names_line_column_and_value() {
    let input = fixture("small.csv");
    let out = run(&["validate", "--input", input.to_str().unwrap()]);
    assert_exit(
        &out,
        3,
        &["small.csv, line 17, column 'quantity'", "'two'", "a number"],
    );
    // The same file passes when the share is allowed, and reports the row as rejected.
    let out = run(&[
        "validate",
        "--input",
        input.to_str().unwrap(),
        "--max-unparseable-share",
        "0.1",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["rows_read"], 16);
    assert_eq!(report["rows_kept"], 8);
    assert_eq!(report["rejected"]["unparseable_value"], 1);
}

#[test]
fn unparseable_date_names_line_column_value_and_formats() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "dates.csv",
        "customer_id,order_date\n1,2024-01-02\n2,31/12/2023\n3,31/12/2023\n",
    );
    let out = run(&["validate", "--input", &path]);
    assert_exit(
        &out,
        3,
        &[
            "dates.csv, line 3, column 'order_date'",
            "'31/12/2023'",
            "%Y-%m-%d",
        ],
    );
    // With the user's format the file reads.
    let out = run(&[
        "validate",
        "--input",
        &path,
        "--date-format",
        "%d/%m/%Y",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["rows_kept"], 3);
    assert_eq!(report["last_purchase"], "2024-01-02T00:00:00");
    assert!(!stderr(&out).contains("did not read"), "{}", stderr(&out));
    // A format that fits no date is said to have been passed over, not silently ignored.
    let iso = write(
        &dir,
        "iso.csv",
        "customer_id,order_date\n1,2024-01-02\n2,2024-01-03\n",
    );
    let out = run(&["validate", "--input", &iso, "--date-format", "%d.%m.%Y"]);
    assert_exit(
        &out,
        0,
        &[
            "the date format \"%d.%m.%Y\" (--date-format or input.date_format) did not read all of the first 1,000 order dates; \"%Y-%m-%d\" did, and was used",
        ],
    );
}

#[test]
fn missing_required_column_lists_the_columns_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "nocustomer.csv", "client,order_date\n1,2024-01-02\n");
    let out = run(&["validate", "--input", &path]);
    assert_exit(
        &out,
        3,
        &[
            "nocustomer.csv, line 1, column 'customer_id'",
            "[client, order_date]",
            "--col-customer-id",
        ],
    );
    // 'client' is not customer_id written another way: no guess.
    assert!(!stderr(&out).contains("probably"), "{}", stderr(&out));
    // Mapping the column fixes it.
    let out = run(&["validate", "--input", &path, "--col-customer-id", "client"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The same name written another way is pointed out.
    let path = write(
        &dir,
        "export.csv",
        "Customer ID,order_date
1,2024-01-02
",
    );
    let out = run(&["validate", "--input", &path]);
    assert_exit(
        &out,
        3,
        &["(here probably --col-customer-id \"Customer ID\")"],
    );
}

#[test]
fn empty_file_and_header_only_file() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write(&dir, "empty.csv", "");
    assert_exit(
        &run(&["validate", "--input", &empty]),
        3,
        &["empty.csv", "file is empty"],
    );
    let header = write(&dir, "header.csv", "customer_id,order_date\n");
    let out = run(&["validate", "--input", &header, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run(&[
        "features",
        "--input",
        &header,
        "--out",
        &format!("{}/f.csv", dir.path().display()),
    ]);
    assert_exit(&out, 4, &["no valid purchase"]);
}

#[test]
fn empty_directory_and_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_string_lossy().into_owned();
    assert_exit(
        &run(&["validate", "--input", &d]),
        3,
        &["holds no input file"],
    );
    let missing = format!("{d}/nope.csv");
    assert_exit(
        &run(&["validate", "--input", &missing]),
        3,
        &["nope.csv", "no such file"],
    );
}

#[test]
fn truncated_gzip_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let body = std::fs::read(fixture("small.csv")).unwrap();
    for _ in 0..200 {
        gz.write_all(&body).unwrap();
    }
    let bytes = gz.finish().unwrap();
    let path = dir.path().join("cut.csv.gz");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let out = run(&["validate", "--input", path.to_str().unwrap()]);
    assert_exit(&out, 3, &["cut.csv.gz"]);
}

#[test]
fn too_little_data_is_exit_4() {
    let input = fixture("small.csv");
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("f.parquet");
    let out = run(&[
        "features",
        "--input",
        input.to_str().unwrap(),
        "--max-unparseable-share",
        "0.1",
        "--out",
        out_path.to_str().unwrap(),
    ]);
    assert_exit(&out, 4, &["insufficient data", "at least 50"]);
    assert!(!out_path.exists(), "no output after a failure");
}

#[test]
fn usage_errors_are_exit_2() {
    assert_exit(&run(&["features", "--input", "x.csv"]), 2, &["--out"]);
    let input = fixture("small.csv");
    let out = run(&[
        "features",
        "-i",
        input.to_str().unwrap(),
        "--as-of",
        "2024-13-01",
        "-o",
        "f.csv",
    ]);
    assert_exit(&out, 2, &["--as-of '2024-13-01' is not a date"]);
    let dir = tempfile::tempdir().unwrap();
    let config = write(&dir, "bad.toml", "[columns]\ncustomerid = \"x\"\n");
    let out = run(&[
        "validate",
        "-i",
        input.to_str().unwrap(),
        "--config",
        &config,
    ]);
    assert_exit(&out, 2, &["bad.toml", "customerid"]);
}

#[test]
fn dates_with_a_utc_offset_are_read_as_written_or_converted_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        &dir,
        "zoned.csv",
        "customer_id,order_date,quantity,unit_price\n\
         1,2011-12-09T12:50:00+01:00,1,2\n\
         2,2011-12-10T03:00:00Z,1,2\n",
    );
    let report = |extra: &[&str]| {
        let out = run(&[&["validate", "-i", &input, "--json"], extra].concat());
        assert_exit(&out, 0, &["2 order dates carry a UTC offset"]);
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let stamp = |key: &str| json[key].as_str().unwrap().to_string();
        (stamp("first_purchase"), stamp("last_purchase"))
    };
    assert_eq!(
        report(&[]),
        ("2011-12-09T12:50:00".into(), "2011-12-10T03:00:00".into())
    );
    // 11:50 and 03:00 UTC are 06:50 and (the day before) 22:00 in New York in December.
    assert_eq!(
        report(&["--time-zone", "America/New_York"]),
        ("2011-12-09T06:50:00".into(), "2011-12-09T22:00:00".into())
    );
    let out = run(&["validate", "-i", &input, "--time-zone", "Mars/Olympus"]);
    assert_exit(&out, 2, &["'Mars/Olympus' is not a time zone"]);
}

#[test]
fn export_dates_are_read_day_or_month_first_as_the_column_shows_or_refused_as_ambiguous() {
    let dir = tempfile::tempdir().unwrap();
    let us = write(
        &dir,
        "us.csv",
        "customer_id,order_date\n1,12/1/2010 8:26\n2,12/13/2010 9:00\n",
    );
    let out = run(&["validate", "-i", &us, "--json"]);
    assert_exit(
        &out,
        0,
        &["order dates read as month/day/year (%m/%d/%Y %H:%M)"],
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["first_purchase"], "2010-12-01T08:26:00");
    assert_eq!(json["last_purchase"], "2010-12-13T09:00:00");

    let unclear = write(
        &dir,
        "unclear.csv",
        "customer_id,order_date\n1,01/01/2011\n2,03/04/2011\n",
    );
    let out = run(&["validate", "-i", &unclear]);
    assert_exit(
        &out,
        3,
        &[
            "unclear.csv, line 3, column 'order_date'",
            "'03/04/2011' reads as month/day/year and as day/month/year",
            "--date-format \"%m/%d/%Y\" or \"%d/%m/%Y\"",
        ],
    );
    let out = run(&["validate", "-i", &unclear, "--date-format", "%d/%m/%Y"]);
    assert_exit(&out, 0, &[]);
}

#[test]
fn a_last_purchase_far_after_all_others_refuses_the_default_as_of_date() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        &dir,
        "typo.csv",
        "customer_id,order_date\n1,2011-01-01\n2,2011-01-02\n3,2013-01-02\n",
    );
    let out_file = dir.path().join("f.csv");
    let out_file = out_file.to_str().unwrap();
    let out = run(&["features", "-i", &input, "-o", out_file]);
    assert_exit(
        &out,
        3,
        &[
            "typo.csv, line 4",
            "the last purchase, on 2013-01-02, is 731 days after 99.9 % of all purchases",
            "--as-of",
        ],
    );
    // A chosen date is taken as it is; the later line is reported as unused.
    let out = run(&[
        "features",
        "-i",
        &input,
        "-o",
        out_file,
        "--as-of",
        "2011-02-01",
    ]);
    assert_exit(
        &out,
        4,
        &["1 purchase line is dated on or after the as-of date 2011-02-01"],
    );
    let out = run(&["validate", "-i", &input]);
    assert_exit(&out, 0, &[]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("a mistyped date?"));
    // The mirror image only warns: 2001-01-01 to 2011-01-02 is 10 years and 3 days (2004, 2008).
    let early = write(
        &dir,
        "early.csv",
        "customer_id,order_date\n1,2001-01-01\n2,2011-01-02\n3,2011-01-03\n",
    );
    let out = run(&["validate", "-i", &early]);
    assert_exit(&out, 0, &[]);
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("the first purchase, on 2001-01-01 (line 2), is 3653 days before")
    );
}

#[test]
fn a_german_export_reads_with_decimal_comma_and_the_error_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        &dir,
        "de.csv",
        "customer_id;order_date;quantity;unit_price\n1;01.02.2011 10:00;1;2,50\n2;03.02.2011;2;1.234,50\n",
    );
    let out = run(&["validate", "-i", &input, "--separator", ";"]);
    assert_exit(
        &out,
        3,
        &[
            "de.csv, line 2, column 'unit_price': cannot parse value '2,50'",
            "pass --decimal-comma",
        ],
    );
    let features = dir.path().join("f.csv");
    let features = features.to_str().unwrap();
    let args = [
        "features",
        "-i",
        &input,
        "--separator",
        ";",
        "--decimal-comma",
        "--min-customers",
        "1",
        "--min-history-days",
        "0",
        "-o",
        features,
    ];
    assert_exit(&run(&args), 0, &["order dates read as day.month.year"]);
    let table = std::fs::read_to_string(features).unwrap();
    // Monetary value: 1 × 2.50, and 2 × 1,234.50.
    let monetary: Vec<&str> = table
        .lines()
        .skip(1)
        .map(|line| line.split(',').nth(5).unwrap())
        .collect();
    assert_eq!(monetary, ["2.5", "2469"]);
}

#[test]
fn a_parquet_datetime_with_a_time_zone_gives_its_local_time() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zoned.parquet");
    // 2011-12-09T17:50:00Z and 2011-07-09T12:50:00Z, stored as Berlin times.
    let berlin = TimeZone::opt_try_new(Some("Europe/Berlin")).unwrap();
    let dates = Int64Chunked::from_slice(
        "order_date".into(),
        &[1_323_453_000_000_000, 1_310_215_800_000_000],
    )
    .into_datetime(TimeUnit::Microseconds, berlin)
    .into_column();
    let ids = Column::new("customer_id".into(), ["1", "2"]);
    let mut table = DataFrame::new(2, vec![ids, dates]).unwrap();
    ParquetWriter::new(std::fs::File::create(&path).unwrap())
        .finish(&mut table)
        .unwrap();
    let out = run(&["validate", "-i", path.to_str().unwrap(), "--json"]);
    assert_exit(&out, 0, &["2 order dates carry a UTC offset or time zone"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Berlin is UTC+2 in July (14:50) and UTC+1 in December (18:50).
    assert_eq!(json["first_purchase"], "2011-07-09T14:50:00");
    assert_eq!(json["last_purchase"], "2011-12-09T18:50:00");
}

#[test]
fn quarantine_file_lists_every_rejected_row_with_line_and_reason() {
    let input = fixture("small.csv");
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("rejected.csv");
    let out = run(&[
        "validate",
        "-i",
        input.to_str().unwrap(),
        "--max-unparseable-share",
        "0.5",
        "--quarantine",
        q.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = std::fs::read_to_string(&q).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "line,reason,customer_id,order_id,order_date,product_id,product_name,quantity,unit_price,country"
    );
    assert_eq!(lines.len(), 9, "{text}");
    assert!(
        lines.contains(
            &"6,cancellation,007,C4,2024-02-12T08:00:00,P3,Cake stand,-2,2.25,United Kingdom"
        ),
        "{text}"
    );
    assert!(
        lines.contains(
            &"9,duplicate,17850.0,O6,2024-02-20 15:30:00,P2,\"Tea towel, blue\",3,3.50,France"
        ),
        "{text}"
    );
    assert!(lines.contains(&"17,unparseable_value,007,O13,2024-01-21T10:00:00,P2,\"Tea towel, blue\",two,3.50,United Kingdom"), "{text}");
}

#[test]
fn line_numbers_count_quoted_line_breaks() {
    // Line 3 starts a record whose product name spans lines 3-5; the bad quantity of the next
    // record is on line 6 (row + 2 would say 4), and the same line is listed in the quarantine.
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "multiline.csv",
        "customer_id,order_date,product_name,quantity\n\
         1,2024-01-01,Mug,1\n\
         2,2024-01-02,\"Jug\nwith\r\nlid\",2\n\
         3,2024-01-03,Plate,two\n\
         4,2024-01-04,Bowl,1\n",
    );
    let out = run(&["validate", "--input", &path]);
    assert_exit(
        &out,
        3,
        &["multiline.csv, line 6, column 'quantity'", "'two'"],
    );
    // Compressed, the lines are counted in the text polars read.
    let text = std::fs::read(&path).unwrap();
    let zstd_path = dir.path().join("multiline.csv.zst");
    std::fs::write(&zstd_path, zstd::encode_all(&text[..], 3).unwrap()).unwrap();
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gzip, &text).unwrap();
    let gzip_path = dir.path().join("multiline.csv.gz");
    std::fs::write(&gzip_path, gzip.finish().unwrap()).unwrap();
    for (compressed, name) in [
        (&zstd_path, "multiline.csv.zst"),
        (&gzip_path, "multiline.csv.gz"),
    ] {
        let out = run(&["validate", "--input", compressed.to_str().unwrap()]);
        assert_exit(&out, 3, &[&format!("{name}, line 6, column 'quantity'")]);
    }

    let q = dir.path().join("rejected.csv");
    let out = run(&[
        "validate",
        "--input",
        &path,
        "--max-unparseable-share",
        "0.5",
        "--quarantine",
        q.to_str().unwrap(),
    ]);
    assert_exit(&out, 0, &[]);
    let text = std::fs::read_to_string(&q).unwrap();
    assert!(
        text.lines()
            .nth(1)
            .unwrap()
            .starts_with("6,unparseable_value,3,"),
        "{text}"
    );
}

#[test]
fn closed_stdout_pipe_is_not_an_error() {
    // `retain validate ... | head -1`: the reader goes away before the report is written.
    let input = fixture("small.csv");
    let mut child = retain_bin()
        .args(["validate", "--max-unparseable-share", "0.5", "--input"])
        .arg(&input)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_exit(&out, 0, &[]);
}

#[test]
fn a_line_with_too_many_fields_is_named_by_its_line() {
    let dir = tempfile::tempdir().unwrap();
    // Quoted separators and a quoted line break do not count; the record on line 5 has 4 fields.
    let path = write(
        &dir,
        "ragged.csv",
        "customer_id,order_date,product_name\n1,2024-01-01,\"Mug, blue\"\n2,2024-01-02,\"two\nlines\"\n3,2024-01-03,Jug,extra\n",
    );
    let out = run(&["validate", "--input", &path]);
    assert_exit(
        &out,
        3,
        &["ragged.csv, line 5", "4 fields, but the header has 3"],
    );
    assert!(!stderr(&out).contains("truncate_ragged_lines"));
}

#[test]
fn a_stray_quote_is_named_by_its_line() {
    let dir = tempfile::tempdir().unwrap();
    // Rows 1..rows (row i on line i + 1), product "Plate" except where `names` says otherwise.
    let file = |name: &str, rows: usize, names: &[(usize, &str)]| {
        let mut text = "customer_id,order_date,product_name,quantity\n".to_string();
        for i in 1..rows {
            let product = names
                .iter()
                .find(|(row, _)| *row == i)
                .map_or("Plate", |n| n.1);
            text += &format!("{i},2024-01-{:02},{product},1\n", i % 28 + 1);
        }
        let path = write(&dir, name, &text);
        run(&["validate", "--input", &path])
    };
    // Lines 3-4 hold a quoted line break (legitimate, 4 fields); the quote opened on line 7 runs
    // to the end of the file.
    let out = file(
        "open.csv",
        40,
        &[(2, "\"Jug\nwith lid\""), (5, "\"Tea pot")],
    );
    assert_exit(
        &out,
        3,
        &["open.csv, line 7: a quote (\") opens a value here that is never closed"],
    );
    // polars' own message quotes the rest of the file and suggests Python arguments.
    let err = stderr(&out);
    assert!(
        !err.contains("Plate") && !err.contains("infer_schema_length"),
        "{err}"
    );

    // Two stray quotes in the middle of values: the first runs on to the second.
    let out = file("stray.csv", 40, &[(7, "Tea \"pot"), (20, "Big \"jug")]);
    assert_exit(
        &out,
        3,
        &["stray.csv, line 8", "runs on over line breaks to line 21"],
    );

    // Two stray quotes at the start of values: the record they make has the header's 4 fields,
    // but the reader fails on the text after the closing quote.
    let out = file("starts.csv", 40, &[(5, "\"Tea pot"), (9, "\"Big jug")]);
    assert_exit(
        &out,
        3,
        &["starts.csv, line 6", "runs on over line breaks to line 10"],
    );

    // A stray quote that opens a value and a stray quote that ends one four lines later: a valid
    // CSV record (lines 6-10 are one product name), so it is read, with a warning naming line 6.
    let out = file("merged.csv", 80, &[(5, "\"Tea pot"), (9, "Big jug\"")]);
    assert_exit(
        &out,
        0,
        &["1 value holds a line break (the first in column 'product_name', line 6)"],
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("rows read            75"));
}

#[test]
fn a_line_cut_short_is_named_by_its_line() {
    let dir = tempfile::tempdir().unwrap();
    // The record on line 5 lacks its quantity and price (a quoted line break comes before it).
    let path = write(
        &dir,
        "short.csv",
        "customer_id,order_date,quantity,unit_price\n1,2024-01-01,1,2\n\"x\ny\",2024-01-02,1,2\n2,2024-01-02\n3,2024-01-03,1,2\n",
    );
    let out = run(&["validate", "--input", &path]);
    assert_exit(
        &out,
        3,
        &[
            "short.csv, line 5",
            "2 fields, but the header has 4",
            "cut short",
        ],
    );
    // A blank line is read as a row of missing values.
    let path = write(
        &dir,
        "blank.csv",
        "customer_id,order_date,quantity,unit_price\n1,2024-01-01,1,2\n\n3,2024-01-03,1,2\n",
    );
    let out = run(&["validate", "--input", &path]);
    assert_exit(&out, 3, &["blank.csv, line 3", "the line is blank"]);
}

#[test]
fn a_damaged_parquet_file_is_an_input_error_not_a_panic() {
    // One byte of the footer changed: polars-parquet 0.55.2 panics on it ("thrift bool field",
    // found by flipping bytes of generated files); retain reports the file as damaged, exit 3.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.parquet");
    let out = run(&[
        "generate",
        "--customers",
        "300",
        "--out",
        path.to_str().unwrap(),
    ]);
    assert_exit(&out, 0, &[]);
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() - 1397;
    bytes[at] = 75;
    std::fs::write(&path, &bytes).unwrap();
    let out = run(&["validate", "--input", path.to_str().unwrap()]);
    assert_exit(
        &out,
        3,
        &["damaged.parquet: cannot read as Parquet: the file is damaged"],
    );
}

#[test]
fn a_mapped_column_named_twice_in_the_header_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "twice.csv",
        "Kunde,order_date,Kunde,note,note\n1,2024-01-01,2,a,b\n",
    );
    let out = run(&["validate", "--input", &path, "--col-customer-id", "Kunde"]);
    assert_exit(
        &out,
        3,
        &["twice.csv, line 1, column 'Kunde': the header names 'Kunde' twice (columns 1 and 3)"],
    );
    // A repeated name among columns retain does not read is no matter.
    let path = write(
        &dir,
        "notes.csv",
        "customer_id,order_date,note,note\n1,2024-01-01,a,b\n",
    );
    assert_exit(&run(&["validate", "--input", &path]), 0, &[]);
}

#[test]
fn unix_timestamps_and_bare_times_as_order_dates_get_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let seconds = write(
        &dir,
        "epoch.csv",
        "customer_id,order_date\n1,1700000000\n2,1700003600\n",
    );
    let out = run(&["validate", "--input", &seconds]);
    assert_exit(
        &out,
        3,
        &["'1700000000' looks like a Unix timestamp in seconds: --date-format %s reads those"],
    );
    // And it does: 1,700,000,000 s after 1970-01-01 is 2023-11-14 22:13:20 UTC.
    let out = run(&[
        "validate",
        "--input",
        &seconds,
        "--date-format",
        "%s",
        "--json",
    ]);
    assert_exit(&out, 0, &[]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["first_purchase"], "2023-11-14T22:13:20");

    let millis = write(&dir, "ms.csv", "customer_id,order_date\n1,1700000000000\n");
    let out = run(&["validate", "--input", &millis]);
    assert_exit(&out, 3, &["looks like a Unix timestamp in milliseconds"]);
    let times = write(&dir, "times.csv", "customer_id,order_date\n1,12:30:00\n");
    let out = run(&["validate", "--input", &times]);
    assert_exit(&out, 3, &["this column holds times of day without a date"]);
}

#[test]
fn a_file_with_another_separator_is_told_which_to_pass() {
    let dir = tempfile::tempdir().unwrap();
    let semi = write(&dir, "semi.csv", "customer_id;order_date\n1;2024-01-01\n");
    let out = run(&["validate", "--input", &semi]);
    assert_exit(
        &out,
        3,
        &[
            "the file's header is one column, 'customer_id;order_date', which looks separated by ';': pass --separator ';'",
        ],
    );
    assert_exit(
        &run(&["validate", "--input", &semi, "--separator", ";"]),
        0,
        &[],
    );
    // A tab typed on a command line arrives as backslash and t; both spellings work.
    let tab = write(&dir, "tab.tsv", "customer_id\torder_date\n1\t2024-01-01\n");
    let out = run(&["validate", "--input", &tab]);
    assert_exit(
        &out,
        3,
        &["looks separated by '\\t': pass --separator '\\t'"],
    );
    for spelling in ["\\t", "tab"] {
        assert_exit(
            &run(&["validate", "--input", &tab, "--separator", spelling]),
            0,
            &[],
        );
    }
}

#[test]
fn a_column_empty_in_every_row_is_missing_whether_or_not_its_cells_are_quoted() {
    // A writer that quotes every field writes an empty cell as `""`, which the CSV reader gives
    // as empty text rather than as a missing value; both mean the column holds nothing.
    let dir = tempfile::tempdir().unwrap();
    let rows = "customer_id,order_date,unit_price\n1,2024-01-02,{a}\n2,2024-01-03,{b}\n";
    for (name, a, b) in [("bare.csv", "", " "), ("quoted.csv", "\"\"", "\" \"")] {
        let path = write(&dir, name, &rows.replace("{a}", a).replace("{b}", b));
        let out = run(&["validate", "--input", &path, "--json"]);
        assert_exit(&out, 0, &[]);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["rows_kept"], 2, "{name}: {report}");
        assert_eq!(
            report["columns_present"],
            serde_json::json!(["customer_id", "order_date"])
        );
        assert!(
            report["warnings"]
                .to_string()
                .contains("column unit_price exists but is empty in every row: treated as missing"),
            "{name}: {report}"
        );
    }
    // One value in the column makes it a column again, whose blank cells cannot be read.
    let path = write(
        &dir,
        "one.csv",
        &rows.replace("{a}", "2.50").replace("{b}", "\"\""),
    );
    assert_exit(
        &run(&["validate", "--input", &path]),
        3,
        &["one.csv, line 3, column 'unit_price'"],
    );
}
