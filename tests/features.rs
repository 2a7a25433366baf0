//! Features computed by hand on `fixtures/small.csv` (as-of 2024-03-01, a leap year), asserted exactly.

mod common;

use chrono::NaiveDate;
use common::*;
use retain::clean::Reason;
use retain::config::{Config, FeatureOptions};
use retain::schema::feature as f;

fn small() -> retain::clean::Transactions {
    let mut config = Config::default();
    // One unparseable quantity in 16 rows is 6 %: allowed here, refused by default (see cli tests).
    config.input.max_unparseable_share = 0.5;
    load(&fixture("small.csv"), &config)
}

fn any_size() -> FeatureOptions {
    FeatureOptions {
        min_customers: 1,
        min_history_days: 0,
    }
}

#[test]
fn every_row_of_the_fixture_is_accounted_for_with_its_reason() {
    let tx = small();
    let a = &tx.accounting;
    assert_eq!(a.rows_read, 16);
    assert_eq!(a.rows_kept, 8);
    for reason in [
        Reason::Cancellation,
        Reason::Duplicate,
        Reason::NonProduct,
        Reason::NonPositivePrice,
        Reason::Return,
        Reason::MissingCustomerId,
        Reason::ZeroQuantity,
        Reason::Unparseable,
    ] {
        assert_eq!(a.count(reason), 1, "{reason:?}");
    }
    assert_eq!(a.count(Reason::MissingOrderDate), 0);
    assert_eq!(a.rows_kept + a.rows_rejected, a.rows_read);
}

#[test]
fn default_as_of_is_the_day_after_the_last_purchase() {
    let tx = small();
    assert_eq!(
        retain::features::default_as_of(&tx).unwrap(),
        NaiveDate::from_ymd_opt(2024, 3, 2).unwrap()
    );
}

#[test]
fn hand_computed_features() {
    let tx = small();
    let as_of = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
    let t = retain::features::compute(&tx, as_of, &any_size())
        .unwrap()
        .table;
    // Sorted by id: "007" (leading zeros kept), "17850" (from "17850.0" and "17850"), "C3".
    let ids: Vec<_> = (0..t.height())
        .map(|i| str_at(&t, f::CUSTOMER_ID, i).unwrap())
        .collect();
    assert_eq!(ids, ["007", "17850", "C3"]);

    // 007: orders O1 (10.00 + 3.50), O2 (5.00), O3 (9.00); O5 is on the as-of day and excluded;
    // cancellation C4 returns 2 × 2.25 = 4.50. Purchase days 01-01, 01-11, 02-10: gaps 10 and 30.
    let expect_007: [(&str, Option<f64>); 18] = [
        (f::RECENCY_DAYS, Some(20.0)), // 02-10 → 03-01 in 2024
        (f::FREQUENCY, Some(3.0)),
        (f::MONETARY_TOTAL, Some(23.0)), // 27.50 − 4.50
        (f::TENURE_DAYS, Some(60.0)),    // 01-01 → 03-01
        (f::AVG_ORDER_VALUE, Some(23.0 / 3.0)),
        (f::ORDERS_30D, Some(1.0)), // from 01-31: O3 only
        (f::ORDERS_90D, Some(3.0)),
        (f::ORDERS_180D, Some(3.0)),
        (f::PURCHASE_DAYS, Some(3.0)),
        (f::GAP_MEAN_DAYS, Some(20.0)),
        (f::GAP_STD_DAYS, Some(10.0)), // population std of [10, 30]
        (f::OVERDUE_RATIO, Some(1.0)), // 20 / 20
        (f::DISTINCT_PRODUCTS, Some(3.0)),
        (f::RETURN_RATE, Some(4.5 / 27.5)),
        (f::LINES_180D, Some(4.0)),
        (f::MEDIAN_UNIT_PRICE, Some(4.25)), // median of 5.00, 3.50, 5.00, 2.25
        (f::LAST_ORDER_UNITS, Some(4.0)),   // O3; the cancellation C4 after it is no order
        (f::R_SCORE, Some(2.0)),
    ];
    // 17850: O6 (3 × 3.50; its duplicate line is dropped; POST counts as activity, not money)
    // and O8 (2 × 1.25); O7 has a zero price.
    let expect_17850: [(&str, Option<f64>); 18] = [
        (f::RECENCY_DAYS, Some(2.0)), // 02-28 → 03-01 in a leap year
        (f::FREQUENCY, Some(2.0)),
        (f::MONETARY_TOTAL, Some(13.0)),
        (f::TENURE_DAYS, Some(10.0)),
        (f::AVG_ORDER_VALUE, Some(6.5)),
        (f::ORDERS_30D, Some(2.0)),
        (f::ORDERS_90D, Some(2.0)),
        (f::ORDERS_180D, Some(2.0)),
        (f::PURCHASE_DAYS, Some(2.0)),
        (f::GAP_MEAN_DAYS, Some(8.0)),
        (f::GAP_STD_DAYS, Some(0.0)),
        (f::OVERDUE_RATIO, Some(0.25)),
        (f::DISTINCT_PRODUCTS, Some(2.0)),
        (f::RETURN_RATE, Some(0.0)),
        (f::R_SCORE, Some(4.0)),
        (f::LINES_180D, Some(2.0)),
        (f::MEDIAN_UNIT_PRICE, Some(2.375)), // median of 3.50, 1.25 (POST is not a product)
        (f::LAST_ORDER_UNITS, Some(2.0)),    // O8
    ];
    // C3: one order of 10 × 1.00 on 2023-11-15; return R10 of 3 × 1.00 (no C prefix).
    let expect_c3: [(&str, Option<f64>); 18] = [
        (f::RECENCY_DAYS, Some(107.0)),
        (f::FREQUENCY, Some(1.0)),
        (f::MONETARY_TOTAL, Some(7.0)),
        (f::TENURE_DAYS, Some(107.0)),
        (f::AVG_ORDER_VALUE, Some(7.0)),
        (f::ORDERS_30D, Some(0.0)),
        (f::ORDERS_90D, Some(0.0)), // from 2023-12-02
        (f::ORDERS_180D, Some(1.0)),
        (f::PURCHASE_DAYS, Some(1.0)),
        (f::GAP_MEAN_DAYS, None), // undefined with one purchase day
        (f::GAP_STD_DAYS, None),
        (f::OVERDUE_RATIO, None),
        (f::DISTINCT_PRODUCTS, Some(1.0)),
        (f::RETURN_RATE, Some(0.3)),
        (f::LINES_180D, Some(1.0)), // from 2023-09-03
        (f::MEDIAN_UNIT_PRICE, Some(1.0)),
        (f::LAST_ORDER_UNITS, Some(10.0)), // O9; the return R10 is no order
        (f::R_SCORE, Some(1.0)),
    ];
    for (row, expected) in [expect_007, expect_17850, expect_c3].iter().enumerate() {
        for (column, value) in expected {
            let got = f64_at(&t, column, row);
            match (got, value) {
                (Some(g), Some(v)) => {
                    assert!(
                        (g - v).abs() < 1e-12,
                        "{} {column}: got {g}, expected {v}",
                        ids[row]
                    )
                }
                (g, v) => assert_eq!(g, *v, "{} {column}", ids[row]),
            }
        }
    }
    assert_eq!(
        str_at(&t, f::FIRST_PURCHASE, 0).as_deref(),
        Some("2024-01-01")
    );
    assert_eq!(
        str_at(&t, f::LAST_PURCHASE, 0).as_deref(),
        Some("2024-02-10")
    );
    // Scores by rank among 3: frequency 1,2,3 → F 1,2,4; money 7,13,23 → M 1,2,4.
    // 007: R2, FM (4+4+1)/2 = 4 → At risk; 17850: R4, FM 2 → Potential loyalist; C3: R1, FM 1 → Lost.
    let segments: Vec<_> = (0..3)
        .map(|i| str_at(&t, f::RFM_SEGMENT, i).unwrap())
        .collect();
    assert_eq!(segments, ["At risk", "Potential loyalist", "Lost"]);
}

#[test]
fn too_few_customers_is_insufficient_data() {
    let tx = small();
    let as_of = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
    let err = retain::features::compute(&tx, as_of, &FeatureOptions::default()).unwrap_err();
    assert_eq!(err.exit_code(), retain::ExitCode::InsufficientData);
    assert!(err.to_string().contains("3 customers"), "{err}");
}

/// Two orders placed at the same last moment are one "last order" (which of them came last would
/// depend on the row order), and with dates only every order of the last day is; a postage-only
/// order after them is not the last order.
#[test]
fn last_order_units_counts_orders_of_the_same_last_moment_together() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("same_moment.csv");
    std::fs::write(
        &path,
        "customer_id,order_id,order_date,product_id,quantity,unit_price\n\
         A,1,2024-01-01T10:00:00,P1,5,1.00\n\
         A,2,2024-01-03T10:00:00,P1,2,1.00\n\
         A,3,2024-01-03T10:00:00,P2,1.5,1.00\n\
         A,3,2024-01-03T10:00:00,POST,1,4.00\n\
         A,7,2024-01-03T10:05:00,POST,1,4.00\n\
         B,4,2024-01-02,P1,7,1.00\n\
         B,5,2024-01-02,P2,3,1.00\n\
         B,6,2024-01-01,P2,100,1.00\n\
         C,8,2024-01-02,POST,1,4.00\n",
    )
    .unwrap();
    let tx = load(&path, &Config::default());
    let as_of = NaiveDate::from_ymd_opt(2024, 1, 10).unwrap();
    let t = retain::features::compute(&tx, as_of, &any_size())
        .unwrap()
        .table;
    // A: orders 2 and 3 at 2024-01-03 10:00, 2 + 1.5 units (postage is not a product); the
    // postage-only order 7 after them is no order with products.
    assert_eq!(f64_at(&t, f::LAST_ORDER_UNITS, 0), Some(3.5));
    // B: dates only, orders 4 and 5 on the last day; order 6 the day before does not count.
    assert_eq!(f64_at(&t, f::LAST_ORDER_UNITS, 1), Some(10.0));
    // C paid postage only: no order with products, 0 units (not missing).
    assert_eq!(f64_at(&t, f::LAST_ORDER_UNITS, 2), Some(0.0));
}

/// `features --as-of` aggregates each shard while it is cleaned (its lines are neither kept nor
/// spilled); without `--as-of` the lines are kept and aggregated in a pass after the default
/// as-of date is known. Both, in one shard and in seven, write the same bytes.
#[test]
fn features_aggregated_while_cleaning_match_the_pass_over_kept_lines_in_any_shard_count() {
    let tmp = tempfile::tempdir().unwrap();
    let input = online_retail("transactions.csv.gz");
    let mut written = Vec::new();
    for (as_of, shards) in [
        (None, None),
        (Some("2011-12-10"), None),
        (None, Some("7")),
        (Some("2011-12-10"), Some("7")),
    ] {
        let out = tmp
            .path()
            .join(format!("{}-{}.parquet", as_of.is_some(), shards.is_some()));
        let mut command = retain_bin();
        command
            .args(["features", "--input"])
            .arg(&input)
            .arg("--out")
            .arg(&out);
        if let Some(day) = as_of {
            command.args(["--as-of", day]);
        }
        if let Some(k) = shards {
            command.args(["--shards", k]);
        }
        let done = command.output().unwrap();
        // The default as-of date is the day after the last purchase (2011-12-09).
        assert_exit(
            &done,
            0,
            &["built features of 4338 customers at 2011-12-10"],
        );
        written.push((as_of, shards, std::fs::read(&out).unwrap()));
    }
    for (as_of, shards, bytes) in &written[1..] {
        assert!(
            bytes == &written[0].2,
            "features with --as-of {as_of:?} in {shards:?} shards differ from the pass over kept lines"
        );
    }
}
