//! Same bytes for the same lines: the Online Retail run directory does not depend on the order of
//! the input's rows, how they are split over files, the shard count (given, or set by a memory
//! budget) or the thread count. Only the manifest's
//! `input.path`, `input.sha256`, `input.bytes` and `input.files` name the files and may differ
//! (README, "For schedulers").

mod common;

use std::io::Read;

use common::*;
use rand::SeedableRng;
use rand::seq::SliceRandom;

/// The manifest without the fields that name the input files.
fn manifest_without_file(bytes: &[u8]) -> serde_json::Value {
    let mut manifest: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    let input = manifest["input"].as_object_mut().unwrap();
    for field in ["path", "sha256", "bytes", "files"] {
        assert!(
            input.remove(field).is_some(),
            "manifest input lacks {field}"
        );
    }
    manifest
}

#[test]
fn online_retail_run_is_byte_identical_for_shuffled_rows_in_three_files_any_shard_count_and_one_thread()
 {
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
    // Three files of unequal size, one of them gzip, in a directory with a file Spark leaves.
    let parts = tmp.path().join("parts");
    std::fs::create_dir(&parts).unwrap();
    std::fs::write(parts.join("_SUCCESS"), "").unwrap();
    let (first, rest) = lines.split_at(lines.len() / 5);
    let (second, third) = rest.split_at(rest.len() / 2);
    write_three_files(&parts, header, [first, second, third]);
    let shuffled = parts;

    let as_is = tmp.path().join("as-is");
    let other = tmp.path().join("shuffled");
    let budget = tmp.path().join("budget");
    // Online Retail's parsed rows take about 40 MiB, 6 times that to clean: a 64 MiB budget needs
    // 4 shards, 8 when two threads clean two shards at once, and makes the customer files (scores, suggestions, CRM) in parts of 1,024 customers.
    for (input, out, threads, engine, says) in [
        (
            online_retail("transactions.csv.gz"),
            &as_is,
            "2",
            vec![],
            None,
        ),
        (
            shuffled,
            &other,
            "1",
            vec!["--shards", "7"],
            Some("into 7 customer shards"),
        ),
        (
            online_retail("transactions.csv.gz"),
            &budget,
            "2",
            vec!["--memory-limit", "64MiB"],
            Some("into 8 customer shards"),
        ),
    ] {
        let done = retain_bin()
            .env("RAYON_NUM_THREADS", threads)
            .args(["run", "--input"])
            .arg(&input)
            .arg("--out")
            .arg(out)
            .args(engine)
            .output()
            .unwrap();
        assert_exit(&done, 0, says.as_slice());
        if says.is_none() {
            assert!(
                !stderr(&done).contains("customer shards"),
                "one shard in memory"
            );
        }
    }
    let work_left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".retain-work-"))
        .collect();
    assert!(work_left.is_empty(), "work directories left: {work_left:?}");
    let a = files(&as_is);
    for (dir, what) in [
        (&other, "shuffled rows in 7 shards"),
        (&budget, "a 64 MiB budget"),
    ] {
        let b = files(dir);
        assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
        for (name, bytes) in &a {
            if name == "manifest.json" {
                assert_eq!(
                    manifest_without_file(bytes),
                    manifest_without_file(&b[name]),
                    "the manifests differ beyond the input file for {what}"
                );
            } else {
                assert!(bytes == &b[name], "{name} differs for {what}");
            }
        }
    }
}
