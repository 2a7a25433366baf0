//! Same bytes for the same lines: the Online Retail run directory does not depend on the order of
//! the input's rows or on the thread count. Only the manifest's `input.path`, `input.sha256` and
//! `input.bytes` name the file and may differ (README, "For schedulers").

mod common;

use std::io::Read;

use common::*;
use rand::SeedableRng;
use rand::seq::SliceRandom;

/// The manifest without the fields that name the input file.
fn manifest_without_file(bytes: &[u8]) -> serde_json::Value {
    let mut manifest: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    let input = manifest["input"].as_object_mut().unwrap();
    for field in ["path", "sha256", "bytes"] {
        assert!(
            input.remove(field).is_some(),
            "manifest input lacks {field}"
        );
    }
    manifest
}

#[test]
fn online_retail_run_is_byte_identical_for_shuffled_rows_and_one_thread() {
    let tmp = tempfile::tempdir().unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(
        std::fs::File::open(online_retail("transactions.csv.gz")).unwrap(),
    )
    .read_to_string(&mut text)
    .unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let header = lines.remove(0);
    lines.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(11));
    let shuffled = tmp.path().join("shuffled.csv");
    std::fs::write(&shuffled, format!("{header}\n{}\n", lines.join("\n"))).unwrap();

    let as_is = tmp.path().join("as-is");
    let other = tmp.path().join("shuffled");
    for (input, out, threads) in [
        (online_retail("transactions.csv.gz"), &as_is, "2"),
        (shuffled, &other, "1"),
    ] {
        let done = retain_bin()
            .env("RAYON_NUM_THREADS", threads)
            .args(["run", "--input"])
            .arg(&input)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap();
        assert_exit(&done, 0, &[]);
    }
    let (a, b) = (files(&as_is), files(&other));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, bytes) in &a {
        if name == "manifest.json" {
            assert_eq!(
                manifest_without_file(bytes),
                manifest_without_file(&b[name]),
                "the manifests differ beyond the input file"
            );
        } else {
            assert!(bytes == &b[name], "{name} differs for shuffled rows");
        }
    }
}
