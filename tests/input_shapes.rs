//! Input files in the shapes real exports come in: other encodings (windows-1252, UTF-16 with and
//! without a byte-order mark), classic Mac and CRLF line ends, compressed text, nested Parquet
//! columns, headers that are not headers, gzip bombs, and mappings that give two roles one
//! column. Each is read exactly as its UTF-8 twin, or refused with the documented exit code and
//! a message naming the file, line and column.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use common::*;
use polars::prelude::*;
use retain::config::{Config, TextEncoding};

/// `fixtures/small.csv` with a product name that needs more than ASCII: "Red mug" (lines 2 and 4)
/// becomes "Müller-Becher €".
fn small_text() -> String {
    std::fs::read_to_string(fixture("small.csv"))
        .unwrap()
        .replace("Red mug", "Müller-Becher €")
}

const MUG: &str = "Müller-Becher €";

fn utf16(text: &str, little_endian: bool, bom: bool) -> Vec<u8> {
    let mut bytes = Vec::new();
    if bom {
        bytes.extend(if little_endian {
            [0xff, 0xfe]
        } else {
            [0xfe, 0xff]
        });
    }
    for unit in text.encode_utf16() {
        bytes.extend(if little_endian {
            unit.to_le_bytes()
        } else {
            unit.to_be_bytes()
        });
    }
    bytes
}

/// windows-1252 for the characters the fixture holds: ASCII, ü and €.
fn windows_1252(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            '€' => 0x80,
            'ü' => 0xfc,
            c if c.is_ascii() => c as u8,
            c => panic!("{c} is not in the test's windows-1252 table"),
        })
        .collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn put(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn config_for(encoding: TextEncoding) -> Config {
    let mut config = Config::default();
    // One unparseable quantity in 16 rows: allowed here (the binary tests refuse it by default).
    config.input.max_unparseable_share = 0.5;
    config.input.encoding = encoding;
    config
}

/// Reads `path` as the library does and checks that rows, reasons, products and features are
/// those of the same content in UTF-8 with LF line ends, and that the product name is exact.
fn assert_same_as_utf8(path: &Path, encoding: TextEncoding) {
    let dir = tempfile::tempdir().unwrap();
    let plain = put(dir.path(), "plain.csv", small_text().as_bytes());
    let expected = load(&plain, &config_for(TextEncoding::Utf8));
    let got = load(path, &config_for(encoding));
    assert_eq!(got.accounting, expected.accounting);
    assert_eq!(got.accounting.rows_read, 16);
    assert_eq!(got.accounting.rows_kept, 8);
    assert!(got.products.equals_missing(&expected.products));
    let names: Vec<String> = (0..got.products.height())
        .filter_map(|i| str_at(&got.products, "product_name", i))
        .collect();
    assert!(names.iter().any(|n| n == MUG), "{names:?}");
    let as_of = chrono::NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
    let options = retain::config::FeatureOptions {
        min_customers: 1,
        min_history_days: 0,
    };
    let features = |tx| {
        retain::features::compute(tx, as_of, &options)
            .unwrap()
            .table
    };
    assert!(features(&got).equals_missing(&features(&expected)));
    // The rows of the quarantine list are found again at the lines of the file.
    let quarantine = |tx: &retain::clean::Transactions| {
        tx.inputs
            .locate_all(&[0, 5, 15])
            .iter()
            .map(|at| at.position)
            .collect::<Vec<_>>()
    };
    assert_eq!(quarantine(&got), quarantine(&expected));
}

#[test]
fn utf16_le_with_bom_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = put(dir.path(), "le.csv", &utf16(&small_text(), true, true));
    // The byte-order mark wins over the setting (here the default, UTF-8).
    assert_same_as_utf8(&path, TextEncoding::Utf8);
}

#[test]
fn utf16_be_with_bom_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = put(dir.path(), "be.csv", &utf16(&small_text(), false, true));
    assert_same_as_utf8(&path, TextEncoding::Windows1252);
}

#[test]
fn utf16_without_bom_is_read_with_the_flag_and_refused_naming_it_without() {
    let dir = tempfile::tempdir().unwrap();
    let path = put(dir.path(), "le.csv", &utf16(&small_text(), true, false));
    assert_same_as_utf8(&path, TextEncoding::Utf16Le);
    let out = run(&["validate", "-i", path.to_str().unwrap()]);
    assert_exit(
        &out,
        3,
        &[
            "le.csv, line 1: holds binary data (a NUL byte) at byte 1; expected CSV text",
            "UTF-16 text without a byte-order mark: pass --encoding utf-16le",
        ],
    );
    let path = put(dir.path(), "be.csv", &utf16(&small_text(), false, false));
    assert_same_as_utf8(&path, TextEncoding::Utf16Be);
}

#[test]
fn windows_1252_is_read_with_its_umlaut_and_euro_sign() {
    let dir = tempfile::tempdir().unwrap();
    let path = put(dir.path(), "de.csv", &windows_1252(&small_text()));
    assert_same_as_utf8(&path, TextEncoding::Windows1252);
    // iso-8859-1 is read as windows-1252, its superset, so € (0x80) survives.
    assert_same_as_utf8(&path, TextEncoding::Latin1);
}

#[test]
fn windows_1252_gzip_and_zstd_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let text = windows_1252(&small_text());
    let path = put(dir.path(), "de.csv.gz", &gzip(&text));
    assert_same_as_utf8(&path, TextEncoding::Windows1252);
    let path = put(
        dir.path(),
        "de.csv.zst",
        &zstd::stream::encode_all(text.as_slice(), 3).unwrap(),
    );
    assert_same_as_utf8(&path, TextEncoding::Windows1252);
    let path = put(
        dir.path(),
        "le.csv.gz",
        &gzip(&utf16(&small_text(), true, true)),
    );
    assert_same_as_utf8(&path, TextEncoding::Utf8);
}

#[test]
fn classic_mac_line_ends_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = put(
        dir.path(),
        "mac.csv",
        small_text().replace('\n', "\r").as_bytes(),
    );
    assert_same_as_utf8(&path, TextEncoding::Utf8);
    let path = put(
        dir.path(),
        "mac-de.csv.gz",
        &gzip(&windows_1252(&small_text().replace('\n', "\r"))),
    );
    assert_same_as_utf8(&path, TextEncoding::Windows1252);
    let path = put(
        dir.path(),
        "mac-le.csv",
        &utf16(&small_text().replace('\n', "\r"), true, true),
    );
    assert_same_as_utf8(&path, TextEncoding::Utf8);
}

#[test]
fn crlf_line_ends_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = put(
        dir.path(),
        "dos.csv",
        small_text().replace('\n', "\r\n").as_bytes(),
    );
    assert_same_as_utf8(&path, TextEncoding::Utf8);
    let path = put(
        dir.path(),
        "dos-de.csv",
        &windows_1252(&small_text().replace('\n', "\r\n")),
    );
    assert_same_as_utf8(&path, TextEncoding::Windows1252);
}

/// The quantity `two` is on line 17 of the fixture: every form of the file says so, names the
/// user's file and never the UTF-8 copy, and leaves no copy behind.
#[test]
fn messages_name_the_users_file_and_its_own_line_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let temp = tempfile::tempdir().unwrap();
    let text = small_text();
    let files = [
        ("utf8.csv", text.as_bytes().to_vec(), None),
        ("mac.csv", text.replace('\n', "\r").into_bytes(), None),
        ("dos.csv", text.replace('\n', "\r\n").into_bytes(), None),
        ("le.csv", utf16(&text, true, true), None),
        ("be.csv.gz", gzip(&utf16(&text, false, true)), None),
        ("de.csv", windows_1252(&text), Some("cp1252")),
        (
            "mac-de.csv",
            windows_1252(&text.replace('\n', "\r")),
            Some("latin1"),
        ),
    ];
    for (name, bytes, encoding) in files {
        let path = put(dir.path(), name, &bytes);
        let quarantine = dir.path().join(format!("{name}.rejected.csv"));
        let mut args = vec![
            "validate",
            "-i",
            path.to_str().unwrap(),
            "--quarantine",
            quarantine.to_str().unwrap(),
        ];
        if let Some(encoding) = encoding {
            args.extend(["--encoding", encoding]);
        }
        let out = retain_bin()
            .args(&args)
            .env("TMPDIR", temp.path())
            .output()
            .unwrap();
        assert_exit(
            &out,
            3,
            &[&format!(
                "{}, line 17, column 'quantity': cannot parse value 'two'",
                path.display()
            )],
        );
        let err = stderr(&out);
        assert!(
            !err.contains("input.csv") && !err.contains("retain-input"),
            "{err}"
        );
        assert_eq!(
            std::fs::read_dir(temp.path()).unwrap().count(),
            0,
            "{name}: the UTF-8 copy is left behind"
        );
    }
    // Allowed, the rejected rows are listed with the same lines and values for every form.
    let mut lists = Vec::new();
    for (name, bytes, encoding) in [
        ("utf8.csv", text.as_bytes().to_vec(), "utf-8"),
        (
            "mac-le.csv",
            utf16(&text.replace('\n', "\r"), true, true),
            "utf-8",
        ),
        ("de.csv.gz", gzip(&windows_1252(&text)), "windows-1252"),
    ] {
        let path = put(dir.path(), name, &bytes);
        let quarantine = dir.path().join(format!("{name}.rejected.csv"));
        let out = run(&[
            "validate",
            "-i",
            path.to_str().unwrap(),
            "--max-unparseable-share",
            "0.5",
            "--encoding",
            encoding,
            "--quarantine",
            quarantine.to_str().unwrap(),
        ]);
        assert_exit(&out, 0, &[]);
        lists.push(std::fs::read_to_string(&quarantine).unwrap());
    }
    assert!(lists[0].contains("17,unparseable_value"), "{}", lists[0]);
    assert_eq!(lists[1], lists[0]);
    assert_eq!(lists[2], lists[0]);
}

#[test]
fn windows_1252_set_in_the_config_file_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = put(dir.path(), "de.csv", &windows_1252(&small_text()));
    let config = put(
        dir.path(),
        "shop.toml",
        b"[input]\nencoding = \"Windows-1252\"\nmax_unparseable_share = 0.5\n",
    );
    let out = run(&[
        "validate",
        "-i",
        path.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--json",
    ]);
    assert_exit(&out, 0, &[]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["rows_read"], 16, "{json}");
    assert_eq!(json["rows_kept"], 8, "{json}");
}

#[test]
fn unknown_encoding_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = put(dir.path(), "a.csv", small_text().as_bytes());
    let out = run(&[
        "validate",
        "-i",
        path.to_str().unwrap(),
        "--encoding",
        "ebcdic",
    ]);
    assert_exit(&out, 2, &["unknown encoding 'ebcdic'", "windows-1252"]);
    let config = put(dir.path(), "shop.toml", b"[input]\nencoding = \"ebcdic\"\n");
    let out = run(&[
        "validate",
        "-i",
        path.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_exit(&out, 2, &["shop.toml", "unknown encoding 'ebcdic'"]);
}

/// 48,888 rows in UTF-8 but for one Latin-1 `ü` in the product name of row 40,000 (line 40,002).
#[test]
fn latin1_byte_in_utf8_input_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = b"customer_id,order_date,product_name,quantity\n".to_vec();
    let mut offset = None;
    for row in 0..48_888u32 {
        let line = format!("{},2024-01-{:02},", row % 900, row % 28 + 1);
        bytes.extend_from_slice(line.as_bytes());
        if row == 40_000 {
            bytes.extend_from_slice(b"M");
            offset = Some(bytes.len());
            bytes.extend_from_slice(b"\xfcller,2\n");
        } else {
            bytes.extend_from_slice(b"Mug,1\n");
        }
    }
    let offset = offset.unwrap();
    for (name, data) in [("big.csv", bytes.clone()), ("big.csv.gz", gzip(&bytes))] {
        let path = put(dir.path(), name, &data);
        let out = run(&["validate", "-i", path.to_str().unwrap()]);
        assert_exit(
            &out,
            3,
            &[
                &format!(
                    "{name}, line 40002, column 'product_name': byte 0xfc at byte offset {offset} of "
                ),
                "is not valid UTF-8, after 'M'",
                "--encoding windows-1252",
            ],
        );
    }
    // The same bytes read as windows-1252 give Müller.
    let path = put(dir.path(), "big.csv", &bytes);
    let mut config = Config::default();
    config.input.encoding = TextEncoding::Windows1252;
    let raw = retain::io::read::load(&path, &config).unwrap();
    assert_eq!(raw.table.height(), 48_888);
    assert_eq!(
        str_at(&raw.table, "product_name", 40_000).unwrap(),
        "Müller"
    );
}

#[test]
fn lone_surrogate_in_utf16_input_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = utf16(&small_text(), true, true);
    // Line 3 starts after the header and line 2; its first character becomes half a pair.
    let text = small_text();
    let line_3 = text.match_indices('\n').nth(1).unwrap().0 + 1;
    let at = 2 + 2 * text[..line_3].encode_utf16().count();
    bytes[at..at + 2].copy_from_slice(&0xd800u16.to_le_bytes());
    let path = put(dir.path(), "le.csv", &bytes);
    let out = run(&["validate", "-i", path.to_str().unwrap()]);
    assert_exit(
        &out,
        3,
        &[&format!(
            "le.csv, line 3: bytes 0x00 0xd8 at byte offset {at} of the file are not valid utf-16le"
        )],
    );
}

fn write_parquet(path: &Path, columns: Vec<Column>) {
    let height = columns[0].len();
    let mut table = DataFrame::new(height, columns).unwrap();
    ParquetWriter::new(std::fs::File::create(path).unwrap())
        .finish(&mut table)
        .unwrap();
}

#[test]
fn nested_parquet_column_is_refused_with_its_type() {
    let dir = tempfile::tempdir().unwrap();
    let dates = Column::new("order_date".into(), ["2024-01-01", "2024-01-02"]);
    let list_ids = Column::new(
        "customer_id".into(),
        [
            Series::new("".into(), ["000001"]),
            Series::new("".into(), ["000002", "000003"]),
        ],
    );
    let path = dir.path().join("list.parquet");
    write_parquet(&path, vec![list_ids, dates.clone()]);
    let out = run(&["validate", "-i", path.to_str().unwrap()]);
    assert_exit(
        &out,
        3,
        &[
            "list.parquet, column 'customer_id': the column is of the nested type list[str] (a list of values in each row)",
            "customer_id needs one id per row: text or integers",
        ],
    );

    let inner = Series::new("id".into(), ["000001", "000002"]);
    let structs = StructChunked::from_series("buyer".into(), 2, [inner].iter())
        .unwrap()
        .into_series()
        .into_column();
    let path = dir.path().join("struct.parquet");
    write_parquet(&path, vec![structs, dates]);
    let out = run(&[
        "validate",
        "-i",
        path.to_str().unwrap(),
        "--col-customer-id",
        "buyer",
    ]);
    assert_exit(
        &out,
        3,
        &[
            "struct.parquet, column 'buyer': the column is of the nested type struct[1] (a struct of fields in each row)",
            "--col-customer-id NAME",
        ],
    );
}

#[test]
fn two_roles_on_one_column_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = put(dir.path(), "a.csv", small_text().as_bytes());
    let out = run(&[
        "validate",
        "-i",
        path.to_str().unwrap(),
        "--col-customer-id",
        "order_id",
    ]);
    assert_exit(
        &out,
        2,
        &["customer_id and order_id are both mapped to the column 'order_id'"],
    );
    let config = put(
        dir.path(),
        "shop.toml",
        b"[columns]\nproduct_id = \"sku\"\nproduct_name = \"sku\"\n",
    );
    let out = run(&[
        "validate",
        "-i",
        path.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_exit(
        &out,
        2,
        &["product_id and product_name are both mapped to the column 'sku'"],
    );
    // A flag that maps one of them elsewhere settles it: flags win over the file.
    let out = run(&[
        "validate",
        "-i",
        path.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--col-product-id",
        "product_id",
        "--col-product-name",
        "product_name",
        "--max-unparseable-share",
        "0.5",
    ]);
    assert_exit(&out, 0, &[]);
}

#[test]
fn a_long_header_is_quoted_short_with_control_bytes_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..400).map(|i| format!("col\u{1}{i:03}")).collect();
    let header = names.join(",");
    let path = put(dir.path(), "wide.csv", format!("{header}\n").as_bytes());
    let out = run(&["validate", "-i", path.to_str().unwrap()]);
    assert_exit(
        &out,
        3,
        &[
            "no column 'customer_id' for customer_id; the file has columns [col\\u{1}000, col\\u{1}001, ",
            "more columns not shown, 400 in all)",
        ],
    );
    let err = stderr(&out);
    assert!(!err.contains('\u{1}'), "{err}");
    assert!(err.len() < 700, "{} bytes: {err}", err.len());

    // One column holding another separator: the separator hint quotes it cut short too.
    let header = format!("a\0b;{}", "x".repeat(20_000));
    let path = put(dir.path(), "one.csv", format!("{header}\n1\n").as_bytes());
    let out = run(&["validate", "-i", path.to_str().unwrap()]);
    assert_exit(&out, 3, &["holds binary data (a NUL byte) at byte 1"]);
    let header = format!("a\tb;{}", "x".repeat(20_000));
    let path = put(dir.path(), "one.csv", format!("{header}\n1\n").as_bytes());
    let out = run(&["validate", "-i", path.to_str().unwrap()]);
    assert_exit(
        &out,
        3,
        &[
            "the file's header is one column, 'a\\tb;xxx",
            "(20004 characters)",
            "--separator",
        ],
    );
    assert!(stderr(&out).len() < 700, "{}", stderr(&out));
}

/// 1 GiB of NUL bytes in 1,024 gzip members of 1 MiB each (a 1 MiB file): refused from its
/// first block instead of inflated to its end.
#[test]
fn gzip_of_nul_bytes_is_refused_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let member = gzip(&vec![0u8; 1 << 20]);
    let bomb: Vec<u8> = member.repeat(1024);
    let path = put(dir.path(), "bomb.csv.gz", &bomb);
    let out = run(&["validate", "-i", path.to_str().unwrap()]);
    assert_exit(
        &out,
        3,
        &[
            "bomb.csv.gz, line 1: decompresses to binary data (NUL bytes) at byte 0; expected CSV text",
        ],
    );
}

#[test]
fn nul_byte_in_plain_csv_is_refused_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = small_text().replacen("O2", "O\u{0}2", 1);
    let at = text.find('\0').unwrap();
    let path = put(dir.path(), "nul.csv", text.as_bytes());
    let out = run(&["validate", "-i", path.to_str().unwrap()]);
    assert_exit(
        &out,
        3,
        &[&format!(
            "nul.csv, line 4: holds binary data (a NUL byte) at byte {at}; expected CSV text"
        )],
    );
}

#[test]
fn a_first_line_without_end_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = put(dir.path(), "a.csv.gz", &gzip(&vec![b'a'; 1 << 20]));
    let out = run(&["validate", "-i", path.to_str().unwrap()]);
    assert_exit(
        &out,
        3,
        &["a.csv.gz, line 1: no line break in the first 64 KiB after decompression"],
    );
}
