"""retain on Spark (local[2]) writes the bytes of `retain run`, and fails as it fails.

Run by .ci/run: RETAIN_BIN=target/debug/retain python spark/test_spark.py (in a virtual
environment with spark/requirements.txt). Every output file's sha256 is compared with that of
`retain run` on the same input; the manifest may differ only in `engine` (and, for a DataFrame,
in the fields that name the input files, as between any two splits of the same rows).
"""

import gzip
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import retain_spark  # noqa: E402

RETAIN = os.path.abspath(os.environ.get("RETAIN_BIN", os.path.join(REPO, "target/debug/retain")))
SAMPLE = "data/sample/transactions.csv"
ONLINE_RETAIL = os.path.join(REPO, "data/online_retail/transactions.csv.gz")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, content):
    with open(path, "wb" if isinstance(content, bytes) else "w") as f:
        f.write(content)


def sha256s(directory):
    return {name: hashlib.sha256(read(os.path.join(directory, name))).hexdigest()
            for name in sorted(os.listdir(directory))}


def manifest(directory, drop_input_files=False, staged_as_parquet=False):
    with open(os.path.join(directory, "manifest.json")) as f:
        m = json.load(f)
    m.pop("engine", None)
    if drop_input_files:
        for field in ["path", "sha256", "bytes", "files"]:
            m["input"].pop(field, None)
    if staged_as_parquet:  # validation.json says "format": "parquet" (compared apart)
        m["files"] = [f for f in m["files"] if f["name"] != "validation.json"]
    return m


def retain_run(input_path, out, *flags):
    done = subprocess.run([RETAIN, "run", "--input", input_path, "--out", out, *flags],
                          cwd=REPO, stderr=subprocess.PIPE, text=True)
    assert done.returncode == 0, done.stderr
    return done


def error_line(stderr):
    return next((line for line in stderr.splitlines() if line.startswith("error:")), "")


def spark_submit(*args):
    """spark-submit spark/retain_spark.py ARGS in local[2], from the repository."""
    submit = shutil.which("spark-submit")
    assert submit, "spark-submit is not on PATH (pip install -r spark/requirements.txt)"
    # spark-submit passes on what the driver's Python prints to stderr on its stdout.
    return subprocess.run([submit, "--master", "local[2]", os.path.join(HERE, "retain_spark.py"),
                           "--retain", RETAIN, *args], cwd=REPO, stderr=subprocess.STDOUT,
                          stdout=subprocess.PIPE, text=True)


class SameBytes(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        from pyspark.sql import SparkSession

        cls.tmp = tempfile.mkdtemp(prefix="retain-spark-test-")
        cls.spark = (SparkSession.builder.master("local[2]").appName("retain-test")
                     .config("spark.ui.enabled", "false").getOrCreate())

    @classmethod
    def tearDownClass(cls):
        cls.spark.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def assert_same_outputs(self, reference, made, shards, drop_input_files=False,
                            staged_as_parquet=False):
        a, b = sha256s(reference), sha256s(made)
        self.assertEqual(sorted(a), sorted(b))
        for name in a:
            if name == "validation.json" and staged_as_parquet:
                # The quality report says what format the input had: Parquet, as staged.
                va, vb = (json.loads(read(os.path.join(d, name))) for d in (reference, made))
                self.assertEqual((va.pop("format"), vb.pop("format")), ("csv", "parquet"))
                self.assertEqual(va, vb)
            elif name != "manifest.json":
                self.assertEqual(a[name], b[name], f"{name} differs from retain run's")
        self.assertEqual(manifest(reference, drop_input_files, staged_as_parquet),
                         manifest(made, drop_input_files, staged_as_parquet))
        with open(os.path.join(made, "manifest.json")) as f:
            self.assertEqual(json.load(f)["engine"], {"name": "spark", "shards": shards})

    def test_spark_submit_on_the_sample_writes_the_bytes_of_retain_run(self):
        reference = os.path.join(self.tmp, "sample-run")
        made = os.path.join(self.tmp, "sample-spark")
        retain_run(SAMPLE, reference)
        done = spark_submit("--input", SAMPLE, "--out", made, "--shards", "3")
        self.assertEqual(done.returncode, 0, done.stdout[-3000:])
        self.assert_same_outputs(reference, made, 3)

    def test_online_retail_shuffled_into_three_files_writes_the_bytes_of_retain_run(self):
        with gzip.open(ONLINE_RETAIL, "rt", encoding="utf-8", newline="") as f:
            header, *lines = f.read().splitlines()
        random.Random(7).shuffle(lines)
        parts = os.path.join(self.tmp, "online-retail-parts")
        os.makedirs(parts)
        cut = [0, len(lines) // 5, len(lines) // 2, len(lines)]
        for i, name in enumerate(["a.csv", "b.csv.gz", "c.csv"]):
            text = header + "\n" + "\n".join(lines[cut[i]:cut[i + 1]]) + "\n"
            opener = gzip.open if name.endswith(".gz") else open
            with opener(os.path.join(parts, name), "wt", encoding="utf-8", newline="") as out:
                out.write(text)
        reference = os.path.join(self.tmp, "online-retail-run")
        made = os.path.join(self.tmp, "online-retail-spark")
        retain_run(ONLINE_RETAIL, reference)
        retain_spark.run(self.spark, input=parts, out=made, shards=7, retain=RETAIN)
        # The same rows, split and shuffled: only the fields naming the input files differ.
        self.assert_same_outputs(reference, made, 7, drop_input_files=True)

    def test_a_spark_dataframe_gives_the_bytes_of_retain_run_on_its_rows(self):
        df = self.spark.read.csv(os.path.join(REPO, SAMPLE), header=True)
        reference = os.path.join(self.tmp, "df-run")
        made = os.path.join(self.tmp, "df-spark")
        retain_run(SAMPLE, reference)
        retain_spark.run(self.spark, df, out=made, shards=4, retain=RETAIN)
        self.assert_same_outputs(reference, made, 4, drop_input_files=True,
                                 staged_as_parquet=True)


class Faults(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="retain-spark-faults-")
        header = "customer_id,order_id,order_date,product_id,quantity,unit_price\n"
        good = "".join(f"c{i % 40},o{i},2024-01-{1 + i % 28:02},p{i % 9},1,2.5\n"
                       for i in range(200))
        bad = "".join(f"d{i % 40},q{i},2024-02-{1 + i % 28:02},p{i % 9},"
                      f"{'lots' if i % 20 == 7 else '2'},1.5\n" for i in range(200))
        cls.unreadable = os.path.join(cls.tmp, "unreadable")
        os.makedirs(cls.unreadable)
        write(os.path.join(cls.unreadable, "a.csv"), header + good)
        write(os.path.join(cls.unreadable, "b.csv"), header + bad)
        cls.damaged = os.path.join(cls.tmp, "damaged")
        os.makedirs(cls.damaged)
        write(os.path.join(cls.damaged, "a.csv"), header + good)
        packed = gzip.compress((header + good * 50).encode())
        write(os.path.join(cls.damaged, "b.csv.gz"), packed[: len(packed) // 2])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def assert_fails_as_retain_run(self, input_path, where):
        run = subprocess.run([RETAIN, "run", "--input", input_path, "--out",
                              os.path.join(self.tmp, "run-out")], stderr=subprocess.PIPE, text=True)
        self.assertEqual(run.returncode, 3, run.stderr)
        out = os.path.join(self.tmp, "spark-out-" + where)
        done = spark_submit("--input", input_path, "--out", out, "--shards", "3")
        self.assertEqual(done.returncode, run.returncode, done.stdout[-3000:])
        self.assertIn(error_line(run.stderr), done.stdout)
        self.assertFalse(os.path.exists(out), "no output for a failed run")

    def test_unreadable_quantities_in_a_later_file_fail_with_runs_message_and_exit_code(self):
        # Found by `finish` on the driver from the evidence of every file.
        self.assert_fails_as_retain_run(self.unreadable, "driver")

    def test_a_damaged_gzip_file_fails_the_spark_job_with_runs_message_and_exit_code(self):
        # Found by `route` in a Spark task: the job fails, the driver names retain's error.
        self.assert_fails_as_retain_run(self.damaged, "task")


if __name__ == "__main__":
    unittest.main(verbosity=2)
