"""Figure 9: the whole run. `python -m harness run --timings` as a user runs it, on a 2,000-item eval
set against the fake provider (100 ms per call, concurrency 64), from a temporary directory with the
default MLflow store (sqlite:///mlflow.db) there, and the report: with a configured `price:`, and
without one (the usual self-hosted endpoint, whose price is looked up in litellm's table).

Wall time is from process start to exit, measured here; the stages come from the run's own
`timing:` lines. Target: the whole run takes at most 1.5 x its LLM phase. The first run meets a new
store (MLflow migrates its tables); the second reuses it, with a fresh judgement cache.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import PY, QUICKSTART_ITEMS, REPO, V2, bench_items, fake_provider, report

TARGET_RATIO = 1.5
API_KEY_ENV = "WHOLE_RUN_BENCH_KEY"
TIMING = re.compile(r"^timing: (\S+) ([\d.]+) s \(([-\d.]+)-([\d.]+) s after the process started\)$")
# The run's stage names, grouped as the figure reports them.
GROUPS = {"imports": ("start-up",), "load": ("experiment", "load"), "llm_phase": ("judge", "injection"),
          "metrics": ("metrics",), "record_write": ("record",), "mlflow": ("mlflow-wait", "mlflow-open", "mlflow-log"),
          "report": ("report",)}


def write_inputs(folder: Path, n: int, base_url: str, concurrency: int, priced: bool = True) -> Path:
    """items.csv (quick-start texts numbered, gold and slices from the quick-start row) and exp.yaml."""
    with QUICKSTART_ITEMS.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    with (folder / "items.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "label", "tactic", "target", "language"])
        for i, text in enumerate(bench_items(n)):
            row = rows[i % len(rows)]
            writer.writerow([f"i{i}", text, "hateful" if "VIOLATE" in text else "non-hateful", row["tactic"],
                             row["target"], row["language"]])
    experiment = folder / ("whole_run.yaml" if priced else "whole_run_unpriced.yaml")
    price = "\n    price: {input_per_million: 0.15, output_per_million: 0.6}" if priced else ""
    experiment.write_text(f"""name: whole-run
policy: {V2}
eval_set:
  path: items.csv
  name: whole-run
  columns: {{id: id, text: text, label: label, slices: [tactic, target, language]}}
  labels: {{hateful: HS, non-hateful: benign}}
reviewers:
  - name: fake
    type: llm
    model: openai/fake-model
    api_base: {base_url}
    api_key_env: {API_KEY_ENV}
    concurrency: {concurrency}{price}
gates:
  over_enforcement: {{max: 0.05}}
  leakage: {{max: 0.10}}
""", encoding="utf-8")
    return experiment


def run_once(folder: Path, experiment: Path, out: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update({"PYTHONPATH": str(REPO), API_KEY_ENV: "sk-bench", "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                "POLICY_HARNESS_CACHE": str(folder / f"cache-{out}.sqlite")})
    started = time.perf_counter()
    done = subprocess.run([PY, "-m", "harness", "run", str(experiment), "--out", out, "--timings"], cwd=folder,
                          env=env, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"policy-harness run exited with {done.returncode}:\n{done.stderr[-3000:]}")
    stages: dict[str, dict[str, float]] = {}
    for line in done.stderr.splitlines():
        if match := TIMING.match(line.strip()):
            name, seconds, start, end = match.groups()
            stages[name] = {"seconds": float(seconds), "start_s": float(start), "end_s": float(end)}
    llm = sum(stages[s]["seconds"] for s in GROUPS["llm_phase"] if s in stages)
    last_end = max(s["end_s"] for s in stages.values())
    groups = {group: round(sum(stages[s]["seconds"] for s in names if s in stages), 3)
              for group, names in GROUPS.items()}
    groups["exit"] = round(max(0.0, wall - last_end), 3)  # after the last stage: interpreter exit
    groups["other"] = round(wall - sum(groups.values()), 3)  # between stages (reviewer set-up, ...)
    return {"wall_s": wall, "llm_phase_s": llm, "ratio": wall / llm, "meets_target": wall / llm <= TARGET_RATIO,
            "breakdown_s": groups, "stages": stages,
            "mlflow_synced": "not synced" not in done.stdout and "mlflow:" in done.stdout}


def measure(n: int, concurrency: int, latency_ms: float) -> dict[str, Any]:
    with fake_provider(latency_ms) as base, tempfile.TemporaryDirectory(prefix="whole-run-") as tmp:
        folder = Path(tmp)
        experiment = write_inputs(folder, n, base, concurrency)
        new_store = run_once(folder, experiment, "first")
        existing_store = run_once(folder, experiment, "second")
        without_price = run_once(folder, write_inputs(folder, n, base, concurrency, priced=False), "unpriced")
    return {"items": n, "concurrency": concurrency, "latency_ms": latency_ms,
            "ideal_llm_phase_s": n * latency_ms / 1000 / concurrency, "target_ratio": TARGET_RATIO,
            "new_store": new_store, "existing_store": existing_store, "without_price": without_price}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    args = parser.parse_args()
    result = measure(args.items, args.concurrency, args.latency_ms)
    for row in table_rows(result):
        print("  ".join(row), file=sys.stderr)
    report(result)



def figure(size: dict[str, Any], tmp: Path, profile: bool) -> dict[str, Any]:
    """The step `python -m benchmarks` runs: 2,000 items (the quick sizes' 400 with --quick)."""
    from benchmarks.common import child

    r = child("benchmarks.whole_run", "--items", min(2000, size["n"]), timeout_s=900)
    r.pop("process")
    return {"whole_run": r}


def table_rows(result: dict[str, Any] | None) -> list[tuple[str, str, str]]:
    if not result:
        return []
    rows = []
    for key, label in (("new_store", "new MLflow store"), ("existing_store", "existing store"),
                       ("without_price", "existing store, no price")):
        if key not in result:  # results written before the no-price run existed
            continue
        r = result[key]
        parts = ", ".join(f"{name} {seconds:.2f}" for name, seconds in r["breakdown_s"].items())
        rows.append((f"9 whole run {result['items']:,} items ({label})",
                     f"{r['wall_s']:.2f} s = {r['ratio']:.2f} x LLM phase {r['llm_phase_s']:.2f} s "
                     f"(ideal {result['ideal_llm_phase_s']:.2f} s)",
                     f"{'ok' if r['meets_target'] else 'ABOVE'} <= {result['target_ratio']} x; s: {parts}"))
    return rows


if __name__ == "__main__":
    main()
