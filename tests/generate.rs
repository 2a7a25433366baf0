//! `retain generate`: deterministic per seed, dirty like a real export, and read back the same
//! way from CSV, gzip CSV and Parquet (whose columns are typed, not text).

mod common;

use common::*;
use polars::prelude::*;
use retain::clean::Reason;
use retain::config::Config;

fn generate(dir: &tempfile::TempDir, name: &str, seed: &str) -> std::path::PathBuf {
    let path = dir.path().join(name);
    let out = retain_bin()
        .args(["generate", "--customers", "400", "--seed", seed, "--out"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

#[test]
fn same_seed_same_bytes_other_seed_other_data() {
    let dir = tempfile::tempdir().unwrap();
    let a = std::fs::read(generate(&dir, "a.csv", "7")).unwrap();
    let b = std::fs::read(generate(&dir, "b.csv", "7")).unwrap();
    let c = std::fs::read(generate(&dir, "c.csv", "8")).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn generated_data_is_dirty_like_a_real_export() {
    let dir = tempfile::tempdir().unwrap();
    let tx = load(&generate(&dir, "g.csv", "1"), &Config::default());
    let a = &tx.accounting;
    assert!(
        a.rows_read > 4_000,
        "about 20 rows per customer: {}",
        a.rows_read
    );
    for reason in [
        Reason::MissingCustomerId,
        Reason::Cancellation,
        Reason::Return,
        Reason::NonProduct,
        Reason::NonPositivePrice,
        Reason::Duplicate,
    ] {
        assert!(a.count(reason) > 0, "no {reason:?} rows");
    }
    assert!(a.rows_kept as f64 > 0.85 * a.rows_read as f64);
    // Ids keep their leading zeros.
    assert_eq!(
        str_at(&tx.customers, "customer_id", 0).map(|s| s.len()),
        Some(6),
        "ids are six digits, zero-padded"
    );
}

#[test]
fn csv_gzip_csv_and_parquet_give_identical_features() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::default();
    let tables: Vec<_> = ["g.csv", "g.csv.gz", "g.parquet"]
        .iter()
        .map(|name| {
            let tx = load(&generate(&dir, name, "3"), &config);
            let as_of = retain::features::default_as_of(&tx).unwrap();
            (
                tx.accounting.clone(),
                retain::features::compute(&tx, as_of, &Default::default())
                    .unwrap()
                    .table,
            )
        })
        .collect();
    assert!(tables[0].1.height() > 300);
    for (accounting, table) in &tables[1..] {
        assert_eq!(accounting, &tables[0].0);
        assert!(table.equals_missing(&tables[0].1));
    }

    // Warehouse exports write money as DECIMAL: the same file with unit prices as Decimal(18, 2)
    // gives the same features (a decimal column made polars panic before dtype-decimal).
    let parquet = dir.path().join("g.parquet");
    let mut frame = ParquetReader::new(std::fs::File::open(&parquet).unwrap())
        .finish()
        .unwrap();
    let price = frame.column("unit_price").unwrap().clone();
    assert_eq!(
        price.dtype(),
        &DataType::Float64,
        "the generator writes floats"
    );
    frame
        .with_column(price.cast(&DataType::Decimal(18, 2)).unwrap())
        .unwrap();
    let decimal = dir.path().join("decimal.parquet");
    ParquetWriter::new(std::fs::File::create(&decimal).unwrap())
        .finish(&mut frame)
        .unwrap();
    let tx = load(&decimal, &config);
    let as_of = retain::features::default_as_of(&tx).unwrap();
    let table = retain::features::compute(&tx, as_of, &Default::default())
        .unwrap()
        .table;
    assert_eq!(tx.accounting, tables[0].0);
    assert!(table.equals_missing(&tables[0].1));
}
