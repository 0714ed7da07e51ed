"""The whole run with and without MLflow traces, side by side in one run (docs/mlflow.md).

`python -m harness run` on the whole-run benchmark's 2,000-item set (fake provider, default SQLite store
in a temporary folder), once with `tracking: {traces: none}` and once with the default (`all`). Target:
the run with traces takes at most 1.25 x the run without; the traces are written after the command
returns, by a background process whose time is reported beside (`trace_writer_s`, not on the run's path).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import fake_provider, report
from benchmarks.whole_run import run_once, write_inputs

TARGET_RATIO = 1.25


def measure(n: int, concurrency: int, latency_ms: float) -> dict[str, Any]:
    from harness.record.traces import TRACES_JSON, TracesLog

    with fake_provider(latency_ms) as base, tempfile.TemporaryDirectory(prefix="traces-bench-") as tmp:
        folder = Path(tmp)
        experiment = write_inputs(folder, n, base, concurrency)
        untraced = experiment.with_name("untraced.yaml")
        untraced.write_text(experiment.read_text(encoding="utf-8") + "tracking: {traces: none}\n", encoding="utf-8")
        run_once(folder, untraced, "warm-store")  # the store's migrations are not what is compared
        without = run_once(folder, untraced, "without")
        with_traces = run_once(folder, experiment, "with")
        started, progress = time.perf_counter(), None
        while time.perf_counter() - started < 1800:
            path = folder / "with" / TRACES_JSON
            progress = TracesLog.model_validate_json(path.read_text(encoding="utf-8")) if path.exists() else None
            if progress is not None and (progress.complete or progress.error):
                break
            time.sleep(0.5)
        writer_s = time.perf_counter() - started
    ratio = with_traces["wall_s"] / without["wall_s"]
    return {"items": n, "without_traces_s": without["wall_s"], "with_traces_s": with_traces["wall_s"],
            "ratio": ratio, "target_ratio": TARGET_RATIO, "meets_target": ratio <= TARGET_RATIO,
            "trace_writer_after_exit_s": writer_s,
            "traces_written": sum(progress.written.values()) if progress else 0}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    args = parser.parse_args()
    result = measure(args.items, args.concurrency, args.latency_ms)
    print(f"traces {result['items']:,} items: with {result['with_traces_s']:.2f} s, without "
          f"{result['without_traces_s']:.2f} s = {result['ratio']:.2f} x (target <= {TARGET_RATIO}); "
          f"{result['traces_written']} traces written in the background in "
          f"{result['trace_writer_after_exit_s']:.1f} s after the run returned", file=sys.stderr)
    report(result)


if __name__ == "__main__":
    main()
