//! Benchmarks, run on demand (they measure, they never fail on time): the churn model's fit, and
//! reading + cleaning and the feature aggregation repeated in one process.
//!
//!   cargo test --release --test bench -- --ignored --nocapture
//!
//! Features of 100,000 generated customers are computed once; 1 M and 10 M customer matrices are
//! drawn from them with replacement (generating 10 M customers' purchases would need ~240 M rows).

mod common;

use std::time::Instant;

use chrono::NaiveDate;
use ndarray::Axis;
use rand::{Rng, SeedableRng};
use retain::config::{Config, FeatureOptions};
use retain::generate::{GenerateParams, generate};
use retain::model::fit::{self, Scaler};
use retain::model::inputs::{self, Input};
use retain::model::train;

/// Two years of purchases of `customers` generated customers (seed 1), written as Parquet.
fn generated_parquet(dir: &tempfile::TempDir, customers: usize) -> std::path::PathBuf {
    let path = dir.path().join("g.parquet");
    let mut table = generate(&GenerateParams {
        customers,
        seed: 1,
        start: NaiveDate::from_ymd_opt(2023, 1, 1).unwrap(),
        days: 730,
    })
    .unwrap();
    retain::io::write::write_table(&mut table, &path).unwrap();
    path
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture in release"]
fn fit_time_by_customers() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let path = generated_parquet(&dir, 100_000);
    let tx = common::load(&path, &Config::default());
    println!(
        "generated and cleaned {} rows in {:.2} s",
        tx.accounting.rows_read,
        started.elapsed().as_secs_f64()
    );

    let params = retain::model::ChurnParams::default().check().unwrap();
    let as_of = NaiveDate::from_ymd_opt(2024, 12, 31).unwrap();
    let started = Instant::now();
    let (model, trained_on) =
        train::train(&tx, as_of, 90, &params, &FeatureOptions::default()).unwrap();
    println!(
        "| train (3 snapshots, penalty search, holdout check, final fit) | {} customers | {:.2} s |",
        trained_on.labels.len(),
        started.elapsed().as_secs_f64()
    );
    let _ = model;

    let x = inputs::design_matrix(&trained_on.rows, &Input::ALL, 90);
    let y = trained_on.labels.clone();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    println!("| fit | customers | wall |\n| --- | --- | --- |");
    for (n, capped) in [
        (100_000usize, false),
        (1_000_000, false),
        (1_000_000, true),
        (10_000_000, true),
    ] {
        let rows: Vec<usize> = (0..n).map(|_| rng.gen_range(0..y.len())).collect();
        let xs = x.select(Axis(0), &rows);
        let ys: Vec<bool> = rows.iter().map(|&i| y[i]).collect();
        let started = Instant::now();
        let label = if capped {
            let ids: Vec<String> = (0..n).map(|i| i.to_string()).collect();
            let keys = fit::sample_keys(ids.iter().map(String::as_str), 1);
            let (_, _, used) = fit::fit_scaled(&xs, &ys, &keys, 10.0, &params).unwrap();
            format!("stratified sample of {used}")
        } else {
            let scaler = Scaler::fit(&xs);
            fit::fit_logistic(&scaler.transform(&xs), &ys, 10.0, &params).unwrap();
            "all rows".to_string()
        };
        println!(
            "| linfa fit, {label} | {n} | {:.2} s |",
            started.elapsed().as_secs_f64()
        );
    }
}

/// Read + clean and the feature aggregation on generated Parquet, each run five times in one
/// process: the minimum and median say more on a shared 2-core machine than one timed command.
/// `BENCH_CUSTOMERS` sets the size (default 200,000 customers, about 4.8 M rows).
#[test]
#[ignore = "benchmark: run with --ignored --nocapture in release"]
fn read_and_feature_stages() {
    let customers: usize = std::env::var("BENCH_CUSTOMERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let dir = tempfile::tempdir().unwrap();
    let path = generated_parquet(&dir, customers);
    let config = Config::default();
    let as_of = NaiveDate::from_ymd_opt(2024, 12, 31).unwrap();
    let summary = |label: &str, mut secs: Vec<f64>| {
        secs.sort_by(f64::total_cmp);
        println!(
            "| {label} | min {:.2} s | median {:.2} s |",
            secs[0],
            secs[secs.len() / 2]
        );
    };
    let (mut read, mut features) = (Vec::new(), Vec::new());
    let mut rows = 0;
    for _ in 0..5 {
        let started = Instant::now();
        let tx = common::load(&path, &config);
        read.push(started.elapsed().as_secs_f64());
        rows = tx.accounting.rows_read;
        let started = Instant::now();
        retain::features::aggregate(&tx, as_of).unwrap();
        features.push(started.elapsed().as_secs_f64());
    }
    println!("{customers} customers, {rows} rows");
    summary("read and clean (Parquet)", read);
    summary("feature aggregation", features);
}
