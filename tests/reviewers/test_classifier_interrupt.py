"""Ctrl-C while a classifier is cross-fitting 8,000 items stops the run within seconds (exit 130,
no traceback), not when the whole cross-fit has ended. Reads Davidson et al. from ../shared/data."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ITEMS = 8_000
PROMPT_S = 10.0  # the contract: an interrupted run ends within 10 s of Ctrl-C
BOUND_S = 20.0  # what the test asserts: the contract with room for a machine shared with other work


def experiment(tmp_path: Path, repo_root: Path, shared_data: Path) -> Path:
    data = shared_data / "davidson_hate_offensive" / "labeled_data.csv"
    path = tmp_path / "exp.yaml"
    path.write_text(f"""name: interrupt
policy: {repo_root / "prompts" / "policies" / "hate_speech" / "v2.md"}
limit: {ITEMS}
eval_set:
  path: {data}
  columns: {{text: tweet, label: class}}
  labels: {{0: HS, 1: benign, 2: benign}}
reviewers:
  - {{name: tfidf-lr, type: classifier}}
tracking: {{enabled: false}}
""", encoding="utf-8")
    return path


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="watches the run's progress in /proc (Linux)")
def test_ctrl_c_during_the_cross_fit_stops_the_run_within_seconds(tmp_path: Path, repo_root: Path,
                                                                   shared_data: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(repo_root), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    process = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", str(experiment(tmp_path, repo_root, shared_data)),
         "--timings", "--no-track", "--out", str(tmp_path / "out")],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    loaded = threading.Event()

    def read_stderr() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if "timing: load" in line:  # the load stage has ended: judging (the cross-fit) begins
                loaded.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        assert loaded.wait(120), "the run never finished loading:\n" + "".join(lines)
        maps = Path(f"/proc/{process.pid}/maps")
        deadline = time.monotonic() + 120
        while "_liblinear" not in maps.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)  # the reviewer is built (scikit-learn imported): judging starts next
        time.sleep(3.0)  # well into the first fold
        assert process.poll() is None, "the run ended before it could be interrupted:\n" + "".join(lines)
        process.send_signal(signal.SIGINT)
        signalled = time.monotonic()
        code = process.wait(timeout=120)
        took = time.monotonic() - signalled
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    reader.join(10)
    stderr = "".join(lines)
    print(f"interrupted run ended {took:.1f} s after SIGINT (contract: {PROMPT_S:.0f} s)")
    assert code == 130, stderr
    assert "Traceback" not in stderr, stderr
    assert "interrupted" in stderr
    assert took < BOUND_S, f"ended {took:.1f} s after Ctrl-C\n{stderr}"
    assert not (tmp_path / "out" / "record.json").exists()  # nothing half-scored is written as a run
