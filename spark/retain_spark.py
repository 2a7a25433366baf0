"""retain on Apache Spark: the output directory of `retain run`, byte for byte, from a cluster.

Spark moves and groups the data; retain's own code does every piece of work, as the steps of
`retain shard` (see `retain shard --help` and src/commands/shard.rs):

    plan    (driver)                 open the input's files, check their columns, fix the shard count
    route   (one Spark task a file)  read the file with retain's rules, rows by customer shard
    finish  (driver)                 check the whole input's evidence (date formats, unreadable values)
    clean   (one Spark task a shard) groupBy(shard).applyInArrow: clean the shard, its partials
    run     (driver)                 merge the partials, train, score, write the output directory

Between the steps, retain's files travel as rows of (shard, name, chunk, data): Arrow IPC files
and JSON cut into chunks of 8 MiB. A step that fails fails the Spark job with retain's message
and exit code; nothing is written at --out unless the last step succeeds (retain stages the
directory and puts it in place).

Command line (the flags after the known ones go to retain as they are):

    spark-submit spark/retain_spark.py --input PATH --out DIR --shards N [--retain BIN] [retain flags]

From Python:

    import retain_spark
    retain_spark.run(spark, input="orders/", out="out", shards=64, as_of="2011-12-01")
    retain_spark.run(spark, df, out="out", shards=64, customer_id="CustomerID", ...)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from typing import Iterator, Optional, Sequence

__version__ = "0.4.0"

CHUNK_BYTES = 8 << 20
ENVELOPE = "shard int, name string, chunk int, data binary"
EXIT_MARK = "retain-exit-code="


class RetainFailed(RuntimeError):
    """A retain step exited non-zero: its exit code and what it said."""

    def __init__(self, step: str, code: int, message: str):
        self.step = step
        self.code = code
        self.message = message
        super().__init__(f"retain shard {step} failed ({EXIT_MARK}{code}):\n{message}")


def _call(binary: str, step: Sequence[str], flags: Sequence[str], cwd: Optional[str] = None,
          echo: bool = False) -> None:
    """Runs `retain shard STEP... FLAGS...`; raises RetainFailed with its stderr on failure.
    With `echo`, what it says goes to this process's stderr as it comes."""
    command = [binary, "shard", *step, *flags]
    if cwd is not None and not os.path.isdir(cwd):
        cwd = None
    if echo:
        said = []
        with subprocess.Popen(command, stderr=subprocess.PIPE, text=True, cwd=cwd) as proc:
            assert proc.stderr is not None
            for line in proc.stderr:
                sys.stderr.write(line)
                said.append(line)
        code = proc.returncode
        stderr = "".join(said)
    else:
        done = subprocess.run(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              text=True, cwd=cwd)
        code, stderr = done.returncode, done.stderr
    if code != 0:
        errors = [line for line in stderr.splitlines()
                  if line.startswith(("error:", "  caused by:"))]
        message = "\n".join(errors) if errors else stderr.strip()[-4000:]
        raise RetainFailed(step[0], code, message)


def _flags(settings: dict) -> list:
    """`as_of="2011-12-01", dry_run=True` -> `--as-of 2011-12-01 --dry-run`."""
    flags = []
    for key, value in settings.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            flags.append(flag)
        elif isinstance(value, (list, tuple)):
            flags += [flag, ",".join(str(v) for v in value)]
        else:
            flags += [flag, str(value)]
    return flags


def _files_of(directory: str) -> list:
    """Every file under `directory`, as paths relative to it, sorted."""
    found = []
    for root, _, names in os.walk(directory):
        for name in names:
            found.append(os.path.relpath(os.path.join(root, name), directory))
    return sorted(found)


def _envelopes(directory: str, shard_of) -> Iterator:
    """The files under `directory` as record batches of (shard, name, chunk, data)."""
    import pyarrow as pa

    schema = pa.schema([("shard", pa.int32()), ("name", pa.string()), ("chunk", pa.int32()),
                        ("data", pa.binary())])
    for name in _files_of(directory):
        shard = shard_of(name)
        with open(os.path.join(directory, name), "rb") as f:
            chunk = 0
            while True:
                data = f.read(CHUNK_BYTES)
                if not data and chunk > 0:
                    break
                yield pa.RecordBatch.from_arrays(
                    [pa.array([shard], pa.int32()), pa.array([name]),
                     pa.array([chunk], pa.int32()), pa.array([data], pa.binary())],
                    schema=schema)
                chunk += 1
                if len(data) < CHUNK_BYTES:
                    break


def _write_chunk(directory: str, name: str, chunk: int, data: bytes) -> None:
    """Puts one chunk of a file where it belongs: chunks may come in any order."""
    path = os.path.join(directory, name)
    if os.path.dirname(name):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "r+b" if os.path.exists(path) else "wb") as f:
        f.seek(chunk * CHUNK_BYTES)
        f.write(data)


def _executor_binary(shipped: str, on_executors: Optional[str]) -> str:
    if on_executors:
        return on_executors
    from pyspark import SparkFiles

    path = SparkFiles.get(shipped)
    if not os.access(path, os.X_OK):
        os.chmod(path, 0o755)
    return path


def _route_shard(name: str) -> int:
    # rows-SHARD-FILE-BATCH.arrow go to their shard; evidence-FILE.json to the driver (-1).
    return int(name[5:9]) if name.startswith("rows-") else -1


def _route_task(shipped, on_executors, plan_text, flags, cwd):
    def route(batches):
        binary = _executor_binary(shipped, on_executors)
        for batch in batches:
            for index in batch.column(0).to_pylist():
                with tempfile.TemporaryDirectory(prefix="retain-route-") as tmp:
                    plan = os.path.join(tmp, "plan.json")
                    with open(plan, "w") as f:
                        f.write(plan_text)
                    into = os.path.join(tmp, "routed")
                    _call(binary, ["route", "--plan", plan, "--file", str(index), "--into", into],
                          flags, cwd)
                    yield from _envelopes(into, _route_shard)
    return route


def _clean_task(shipped, on_executors, plan_text, shape_text, flags, cwd):
    def clean(table):
        import pyarrow as pa

        binary = _executor_binary(shipped, on_executors)
        shard = table.column("shard")[0].as_py()
        with tempfile.TemporaryDirectory(prefix="retain-clean-") as tmp:
            plan, shape = os.path.join(tmp, "plan.json"), os.path.join(tmp, "shape.json")
            for path, text in [(plan, plan_text), (shape, shape_text)]:
                with open(path, "w") as f:
                    f.write(text)
            rows = os.path.join(tmp, "rows")
            os.makedirs(rows)
            for name, chunk, data in zip(table.column("name").to_pylist(),
                                         table.column("chunk").to_pylist(),
                                         table.column("data").to_pylist()):
                _write_chunk(rows, name, chunk, data)
            into = os.path.join(tmp, "cleaned")
            _call(binary, ["clean", "--plan", plan, "--shape", shape, "--shard", str(shard),
                           "--rows", rows, "--into", into], flags, cwd)
            batches = list(_envelopes(into, lambda _: shard))
            return pa.Table.from_batches(batches)
    return clean


def run_path(spark, input: str, out: str, shards: int, flags: Sequence[str] = (),
             retain: str = "retain", retain_on_executors: Optional[str] = None) -> None:
    """`retain run --input INPUT --out OUT FLAGS` on Spark, with `shards` customer shards.
    INPUT must be readable at the same path by the driver and the executors (a local path in
    local mode, a shared mount such as /dbfs/ or an NFS path on a cluster)."""
    from pyspark import StorageLevel

    binary = shutil.which(retain) or retain
    binary = os.path.abspath(binary)
    if not os.access(binary, os.X_OK):
        raise RetainFailed("plan", 2, f"error: no retain binary at {retain} (--retain BIN)")
    # Set for this run: few rows of up to 8 MiB in each Arrow batch between the JVM and Python;
    # a shuffle partition for each shard, not coalesced by adaptive execution, so that the driver
    # fetches one shard's cleaned files at a time (toLocalIterator holds a partition in memory).
    settings = {
        "spark.sql.execution.arrow.maxRecordsPerBatch": "4",
        "spark.sql.shuffle.partitions": str(shards),
        "spark.sql.adaptive.coalescePartitions.enabled": "false",
    }
    before = {key: spark.conf.get(key, None) for key in settings}
    for key, value in settings.items():
        spark.conf.set(key, value)
    cwd = os.getcwd()
    common = ["--input", input, *flags]
    shipped = os.path.basename(binary)
    if not retain_on_executors:
        spark.sparkContext.addFile(binary)
    # The tasks' functions live in this module: the executors' Python imports it from here.
    spark.sparkContext.addPyFile(os.path.abspath(__file__))
    try:
        _steps(spark, binary, shipped, retain_on_executors, input, out, shards, common, cwd)
    except RetainFailed:
        raise
    except Exception as error:  # a Spark job that failed in a retain step on an executor
        found = _exit_code_of(error)
        if found is None:
            raise
        raise RetainFailed(found[0], found[1], found[2]) from error
    finally:
        for key, value in before.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


def _steps(spark, binary, shipped, retain_on_executors, input, out, shards, common, cwd):
    from pyspark import StorageLevel

    with tempfile.TemporaryDirectory(prefix="retain-spark-") as tmp:
        plan = os.path.join(tmp, "plan.json")
        _call(binary, ["plan", "--plan", plan, "--shards", str(shards)], common, cwd)
        with open(plan) as f:
            plan_text = f.read()
        files = len(json.loads(plan_text)["files"])
        file_list = spark.createDataFrame([(i,) for i in range(files)], "file int")
        file_list = file_list.repartition(max(1, files), "file")
        routed = file_list.mapInArrow(
            _route_task(shipped, retain_on_executors, plan_text, common, cwd), ENVELOPE)
        routed = routed.persist(StorageLevel.DISK_ONLY)
        try:
            evidence = os.path.join(tmp, "evidence")
            os.makedirs(evidence)
            for row in routed.where("shard < 0").collect():
                _write_chunk(evidence, row["name"], row["chunk"], bytes(row["data"]))
            shape = os.path.join(tmp, "shape.json")
            _call(binary, ["finish", "--plan", plan, "--evidence", evidence, "--shape", shape],
                  common, cwd)
            with open(shape) as f:
                shape_text = f.read()
            cleaned = os.path.join(tmp, "cleaned")
            os.makedirs(cleaned)
            by_shard = routed.where("shard >= 0").repartition(shards, "shard").groupBy(
                "shard").applyInArrow(
                _clean_task(shipped, retain_on_executors, plan_text, shape_text, common, cwd),
                ENVELOPE)
            for row in by_shard.toLocalIterator():
                _write_chunk(cleaned, row["name"], row["chunk"], bytes(row["data"]))
        finally:
            routed.unpersist()
        if not os.listdir(cleaned):
            # No row at all: the one empty shard `retain run` cleans, for its message.
            empty = os.path.join(tmp, "no-rows")
            os.makedirs(empty)
            _call(binary, ["clean", "--plan", plan, "--shape", shape, "--shard", "0",
                           "--rows", empty, "--into", cleaned], common, cwd)
        _call(binary, ["run", "--plan", plan, "--shape", shape, "--cleaned", cleaned,
                       "--engine", "spark", "--out", out], common, cwd, echo=True)


def run(spark, df=None, *, out: str, input: Optional[str] = None, shards: Optional[int] = None,
        retain: str = "retain", retain_on_executors: Optional[str] = None,
        staging: Optional[str] = None, **settings) -> None:
    """The output directory of `retain run`, made on Spark.

    Give `input` (a path both the driver and the executors read: a file, a directory, a glob) or
    `df`, a Spark DataFrame with the transactions' columns (name them with the settings, e.g.
    `customer_id="CustomerID"`): it is written as Parquet under `staging` (a directory the driver
    and the executors see; default: a temporary directory, enough in local mode) and read from
    there. `settings` are retain's flags (`as_of="2011-12-01"`, `campaign="spring"`, ...).
    Raises RetainFailed with retain's exit code and message.
    """
    if (df is None) == (input is None):
        raise ValueError("give either input= or a DataFrame")
    shards = shards or max(2, spark.sparkContext.defaultParallelism)
    flags = _flags(settings)
    if df is None:
        run_path(spark, input, out, shards, flags, retain, retain_on_executors)
        return
    made = staging is None
    staging = staging or tempfile.mkdtemp(prefix="retain-staging-")
    target = os.path.join(staging, "transactions")
    try:
        df.write.mode("overwrite").parquet(target)
        run_path(spark, target, out, shards, flags, retain, retain_on_executors)
    finally:
        if made:
            shutil.rmtree(staging, ignore_errors=True)


def _exit_code_of(error: BaseException) -> Optional[tuple]:
    """(step, exit code, message) of the retain step inside a Spark job's failure, if any."""
    found = re.search(r"retain shard (\w+) failed \(" + re.escape(EXIT_MARK)
                      + r"(\d+)\):\n(error:.*?)(?:\n(?!error:|  caused by)|\Z)", str(error), re.S)
    if not found:
        return None
    return found.group(1), int(found.group(2)), found.group(3).strip()


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="retain_spark.py",
        description="retain run on Apache Spark; flags not listed here go to retain.")
    parser.add_argument("--input", "-i", required=True, help="transactions, as for retain run")
    parser.add_argument("--out", "-o", required=True, help="output directory")
    parser.add_argument("--shards", type=int, required=True, help="customer shards")
    parser.add_argument("--retain", default=os.environ.get("RETAIN_BIN", "retain"),
                        help="the retain binary on the driver, shipped to the executors "
                             "(SparkContext.addFile) [default: $RETAIN_BIN or retain on PATH]")
    parser.add_argument("--retain-on-executors", default=None,
                        help="the binary's path on the executors' image instead of shipping it")
    args, flags = parser.parse_known_args(argv)
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName("retain").getOrCreate()
    try:
        run_path(spark, args.input, args.out, args.shards, flags, args.retain,
                 args.retain_on_executors)
    except RetainFailed as failed:
        if failed.step != "run":  # the run step has said it already
            print(failed.message, file=sys.stderr)
        return failed.code
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
