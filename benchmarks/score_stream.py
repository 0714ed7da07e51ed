"""Figure: `policy-harness score` on a 10,000,000-row prediction log, CSV and Parquet.

    python -m benchmarks.score_stream generate DIR --rows 10000000   # written in chunks: bounded memory
    python -m benchmarks.score_stream measure DIR                    # one `score` child per format

The log has an id, gold (5% blank: unlabelled rows feed the prediction-powered prevalence), two
decision columns, two slices, a stratum and a sampling weight that is constant within a stratum.
Each `score` runs in its own child process; its peak RSS comes from the kernel's accounting of
that child (resource.getrusage(RUSAGE_CHILDREN) after it exits)."""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import PY, REPO, report

TARGET_PEAK_RSS_MB = 1536.0  # issue 16: at most 1.5 GB
CHUNK = 1_000_000
TACTICS = ["slur", "counter_speech", "threat_as_question", "news", "fiction", "negation", "reclaimed", "profanity",
           "coded", "positive_statement"]
LANGUAGES = ["en", "de", "fr", "es", "pt", "it", "nl", "pl"]
STRATA = {"feed": 1.0, "comments": 4.0, "reports": 0.25}
FILES = {"csv": "log.csv", "parquet": "log.parquet"}


def _chunk(start: int, n: int, rng: np.random.Generator) -> object:
    import pyarrow as pa

    gold = np.array(["benign", "HS", "VS"], dtype=object)[rng.choice(3, n, p=[0.6, 0.3, 0.1])]
    violating = gold != "benign"
    columns: dict[str, object] = {"id": pa.array(np.char.add("r", np.arange(start, start + n).astype(str)))}
    columns["gold"] = pa.array(np.where(rng.random(n) < 0.05, None, gold))
    for name, error in (("model_a", 0.10), ("model_b", 0.07)):
        actioned = violating != (rng.random(n) < error)
        decision = np.where(actioned, np.where(gold == "benign", "HS", gold), "allow").astype(object)
        columns[name] = pa.array(np.where(rng.random(n) < 0.01, None, decision))
    columns["tactic"] = pa.array(np.array(TACTICS, dtype=object)[rng.integers(0, len(TACTICS), n)])
    columns["language"] = pa.array(np.array(LANGUAGES, dtype=object)[rng.integers(0, len(LANGUAGES), n)])
    stratum = rng.integers(0, len(STRATA), n)
    columns["stratum"] = pa.array(np.array(list(STRATA), dtype=object)[stratum])
    columns["weight"] = pa.array(np.array(list(STRATA.values()))[stratum])
    return pa.table(columns)


def generate(out: Path, rows: int) -> dict[str, object]:
    import pyarrow.csv as pv
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(16)
    csv_writer = parquet_writer = None
    started = time.perf_counter()
    try:
        for start in range(0, rows, CHUNK):
            table = _chunk(start, min(CHUNK, rows - start), rng)
            if csv_writer is None:
                csv_writer = pv.CSVWriter(out / FILES["csv"], table.schema)
                parquet_writer = pq.ParquetWriter(out / FILES["parquet"], table.schema)
            csv_writer.write_table(table)
            assert parquet_writer is not None
            parquet_writer.write_table(table)
    finally:
        for writer in (csv_writer, parquet_writer):
            if writer is not None:
                writer.close()
    return {"rows": rows, "seconds": time.perf_counter() - started,
            "bytes": {name: (out / name).stat().st_size for name in FILES.values()}}


def score_child(path: Path, out: Path) -> dict[str, float]:
    """`policy-harness score` on one file in a child process: wall seconds and that child's peak RSS."""
    command = [PY, "-m", "harness", "score", str(path), "--gold", "gold", "--pred", "model_a", "--pred", "model_b",
               "--id", "id", "--slices", "tactic", "language", "--strata", "stratum", "--weight", "weight",
               "--benign", "benign", "--benign", "allow", "--no-track", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"score failed ({done.returncode}):\n{done.stderr[-3000:]}")
    # The largest child so far: `measure` starts exactly one, so this is the score's own peak.
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"wall_s": wall, "peak_rss_mb": peak / 1024}


def figure(size: dict[str, Any], tmp: Path, profile: bool) -> dict[str, Any]:
    """The step `python -m benchmarks` runs: 10,000,000 rows (50,000 with --quick)."""
    from benchmarks.common import child

    rows = 50_000 if size["stats_items"] < 500_000 else 10_000_000
    data = tmp / "score-log"
    made = child("benchmarks.score_stream", "generate", data, "--rows", rows, timeout_s=1800)
    out: dict[str, Any] = {"rows": rows, "generate_s": made["seconds"], "generate_peak_rss_mb": made["process"]["peak_rss_mb"],
                           "target_peak_rss_mb": TARGET_PEAK_RSS_MB}
    for fmt in FILES:
        r = child("benchmarks.score_stream", "measure", data, "--format", fmt, timeout_s=1800)
        r.pop("process")
        out[fmt] = r
    return {"score_stream": out}


def table_rows(result: dict[str, Any] | None) -> list[tuple[str, str, str]]:
    if not result:
        return []
    return [(f"10 score {result['rows']:,}-row {fmt}",
             f"{r['wall_s']:.1f} s ({r['rows_per_s']:,.0f} rows/s), {r['file_mb']:,.0f} MB file",
             f"peak RSS {r['peak_rss_mb']:,.0f} MB; target <= {r['target_peak_rss_mb']:,.0f} MB: "
             f"{'ok' if r['meets_target'] else 'MISSED'}") for fmt, r in result.items() if fmt in FILES]


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate")
    g.add_argument("dir", type=Path)
    g.add_argument("--rows", type=int, default=10_000_000)
    m = sub.add_parser("measure")
    m.add_argument("dir", type=Path)
    m.add_argument("--format", choices=list(FILES), required=True)
    args = parser.parse_args()
    if args.command == "generate":
        report(generate(args.dir, args.rows))
        return
    import pyarrow.parquet as pq

    rows = pq.ParquetFile(args.dir / FILES["parquet"]).metadata.num_rows
    path = args.dir / FILES[args.format]
    r = score_child(path, args.dir / f"out-{args.format}")
    report({"format": args.format, "rows": rows, "file_mb": path.stat().st_size / 1e6, **r,
            "rows_per_s": rows / r["wall_s"], "target_peak_rss_mb": TARGET_PEAK_RSS_MB,
            "meets_target": r["peak_rss_mb"] <= TARGET_PEAK_RSS_MB})


if __name__ == "__main__":
    sys.exit(main())
