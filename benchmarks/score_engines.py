"""Figure: `policy-harness score` through DuckDB on 100,000,000 rows of Parquet, beside a bare DuckDB GROUP BY
of the same columns over the same file; and the same log at 10,000,000 rows through Spark local mode.

    python -m benchmarks.score_engines generate DIR --rows 100000000   # Parquet in 1M-row chunks: bounded memory
    python -m benchmarks.score_engines measure DIR [--spark]            # one child process per measurement

The log is benchmarks/score_stream.py's (id, gold with 5% blank, two decisions, two slices, a stratum and its
weight). `generate` also writes the first 100,000 rows as small.parquet: `score` on it is the command's fixed
start-up (imports, engine start, metrics and report on the same 8,640 combinations), which the figure takes
off the big run's time before comparing it with the bare GROUP BY (the limit of the collapse). Peak RSS is
each child's own (os.wait4)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import PY, REPO, report
from benchmarks.score_stream import CHUNK, _chunk

SMALL_ROWS = 100_000
TARGET_PEAK_RSS_MB = 1536.0
TARGET_RATIO = 2.0
KEYS = ["gold", "model_a", "model_b", "tactic", "language", "stratum", "weight"]
BARE = """
import sys, time, duckdb
started = time.perf_counter()
con = duckdb.connect()
con.execute("SET memory_limit = '1GB'")
con.execute("SET enable_progress_bar = false")
rows = con.execute("SELECT {keys}, count(*) FROM read_parquet('" + sys.argv[1] + "') GROUP BY ALL").fetchall()
print(len(rows), time.perf_counter() - started)
"""


def generate(out: Path, rows: int) -> dict[str, Any]:
    """`rows` rows in 1M-row chunks (one chunk in memory at a time), and their first SMALL_ROWS as small.parquet."""
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(16)
    started = time.perf_counter()
    writer = None
    try:
        for start in range(0, rows, CHUNK):
            table: Any = _chunk(start, min(CHUNK, rows - start), rng)
            if writer is None:
                writer = pq.ParquetWriter(out / "log.parquet", table.schema)
                pq.write_table(table.slice(0, SMALL_ROWS), out / "small.parquet")
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    return {"rows": rows, "seconds": time.perf_counter() - started, "bytes": (out / "log.parquet").stat().st_size}


def measured(command: list[str]) -> dict[str, Any]:
    """Run one child; its wall seconds, peak RSS (its own, from wait4) and last stdout line."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    out, err = proc.stdout.read() if proc.stdout else "", proc.stderr.read() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{command[:4]} failed ({proc.returncode}):\n{err[-3000:]}")
    return {"wall_s": wall, "peak_rss_mb": usage.ru_maxrss / 1024, "cpu_s": usage.ru_utime + usage.ru_stime,
            "last_line": (out.strip().splitlines() or [""])[-1]}


def score(path: Path, out: Path, *extra: str) -> dict[str, Any]:
    # No --id: the ids are row numbers (an id column would add a GROUP BY over every id to check they are unique).
    return measured([PY, "-m", "harness", "score", str(path), "--gold", "gold", "--pred", "model_a", "--pred",
                     "model_b", "--slices", "tactic", "language", "--strata", "stratum", "--weight", "weight",
                     "--benign", "benign", "--benign", "allow", "--no-track", "--out", str(out), *extra])


def bare(path: Path) -> dict[str, Any]:
    r = measured([PY, "-c", BARE.replace("{keys}", ", ".join(KEYS)), str(path)])
    groups, seconds = r.pop("last_line").split()[-2:]
    return {**r, "groups": int(groups), "query_s": float(seconds)}


def measure(data: Path, spark: bool, duckdb: bool = True) -> dict[str, Any]:
    import pyarrow.parquet as pq

    big, small = data / "log.parquet", data / "small.parquet"
    rows = pq.ParquetFile(big).metadata.num_rows
    out: dict[str, Any] = {"rows": rows, "file_mb": big.stat().st_size / 1e6, "cpus": len(os.sched_getaffinity(0)),
                           "load_average_before": os.getloadavg()}
    if duckdb:
        out.update(_duckdb_figures(data, big, small))
    if spark:
        out["spark_startup"] = score(small, data / "out-spark-small", "--engine", "spark", "--id", "id")
        out["spark"] = score(big, data / "out-spark", "--engine", "spark", "--id", "id")
        out["spark_startup_share"] = out["spark_startup"]["wall_s"] / out["spark"]["wall_s"]
    out["load_average_after"] = os.getloadavg()
    return out


def _duckdb_figures(data: Path, big: Path, small: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, step in (("startup", lambda: score(small, data / "out-small")),
                       ("duckdb", lambda: score(big, data / "out-big")),
                       ("bare_small", lambda: bare(small)), ("bare", lambda: bare(big))):
        out[name] = step()
        print(f"step {name}: {out[name]}", file=sys.stderr, flush=True)  # kept if a later step fails
    beyond = out["duckdb"]["wall_s"] - out["startup"]["wall_s"]
    limit = out["bare"]["wall_s"] - out["bare_small"]["wall_s"]
    out["beyond_startup_s"] = beyond
    out["bare_beyond_startup_s"] = limit
    out["ratio_to_bare"] = beyond / limit if limit > 0 else None
    out["meets_targets"] = {"peak_rss": out["duckdb"]["peak_rss_mb"] <= TARGET_PEAK_RSS_MB,
                            "ratio": out["ratio_to_bare"] is not None and out["ratio_to_bare"] <= TARGET_RATIO}
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate")
    g.add_argument("dir", type=Path)
    g.add_argument("--rows", type=int, default=100_000_000)
    m = sub.add_parser("measure")
    m.add_argument("dir", type=Path)
    m.add_argument("--spark", action="store_true", help="also score through Spark local mode (with --id)")
    m.add_argument("--no-duckdb", action="store_true", help="only the Spark figures")
    args = parser.parse_args()
    report(generate(args.dir, args.rows) if args.command == "generate"
           else measure(args.dir, args.spark, duckdb=not args.no_duckdb))


if __name__ == "__main__":
    sys.exit(main())
