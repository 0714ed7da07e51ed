"""Figure 8: start-up. Wall time of `policy-harness --help` and of `validate` on the quick-start
experiment (median of several runs, warm file cache), and which imports dominate `validate`
(`python -X importtime`, top-level packages by cumulative import time)."""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, report

QUICKSTART = "experiments/quickstart.yaml"
WATCHED = ("harness", "pandas", "numpy", "pyarrow", "datasets", "litellm", "openai", "mlflow", "sklearn",
           "scipy", "statsmodels", "pydantic", "yaml", "jinja2", "huggingface_hub")


def _cli() -> list[str]:
    script = Path(sys.executable).parent / "policy-harness"
    return [str(script)] if script.exists() else [sys.executable, "-m", "harness"]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def _time(command: list[str], runs: int) -> dict[str, Any]:
    subprocess.run(command, cwd=REPO, env=_env(), capture_output=True, check=True)  # warm the file cache
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, cwd=REPO, env=_env(), capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return {"median_s": statistics.median(times), "min_s": min(times), "runs": runs}


def import_times(command: list[str]) -> dict[str, float]:
    """Cumulative seconds of each watched top-level package, first import only."""
    done = subprocess.run([sys.executable, "-X", "importtime", *command], cwd=REPO, env=_env(),
                          capture_output=True, text=True, check=True)
    out: dict[str, float] = {}
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)([\w.]+)", line)
        if match and match.group(3) in WATCHED and match.group(3) not in out:
            out[match.group(3)] = int(match.group(1)) / 1e6
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def measure(runs: int) -> dict[str, Any]:
    validate = [*_cli(), "validate", QUICKSTART]
    return {"help": _time([*_cli(), "--help"], runs), "validate": _time(validate, runs),
            "validate_imports_s": import_times(["-m", "harness", "validate", QUICKSTART]),
            "import_datasets_s": _time([sys.executable, "-c", "import datasets"], runs)["median_s"],
            "import_litellm_s": _time([sys.executable, "-c", "import litellm"], max(1, runs // 2))["median_s"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    report(measure(args.runs))


if __name__ == "__main__":
    main()
