"""Batch mode survives kill -9 while waiting: the re-run polls the recorded batches, never resubmits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml
from support.llm import LABELS, REPO_ROOT, V2, write_items

from harness.testing.batch_server import FakeBatchServer

N = 7


def test_a_run_killed_while_waiting_resumes_and_never_submits_twice(tmp_path: Path) -> None:
    rows = [(f"i{i}", f"text {i}" + (" VIOLATE" if i % 2 else ""), "hateful" if i % 2 else "non-hateful")
            for i in range(N)]
    items = write_items(tmp_path / "items.csv", rows)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "POLICY_HARNESS_CACHE": str(tmp_path / "cache.sqlite"),
           "PYTHONIOENCODING": "utf-8"}
    with FakeBatchServer(in_progress_s=3600) as srv:  # held in_progress until released below
        data = {"name": "resume", "policy": str(V2),
                "eval_set": {"path": str(items), "columns": {"id": "id", "text": "text", "label": "label"},
                             "labels": LABELS},
                "reviewers": [{"name": "fake", "type": "llm", "model": "openai/fake-model", "api_base": srv.base_url,
                               "batch": True, "poll_s": 0.05, "batch_max_lines": 3}]}
        path = tmp_path / "resume.yaml"
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        command = [sys.executable, "-m", "harness", "run", str(path), "--no-track"]
        proc = subprocess.Popen([*command, "--out", str(tmp_path / "killed")], cwd=tmp_path, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.monotonic() + 120
            # Every batch created and polled at least once: the run is waiting.
            while time.monotonic() < deadline and proc.poll() is None and not (
                    len(statuses := srv.batch_stats["statuses"]) == 3
                    and set(statuses.values()) == {"in_progress"}):
                time.sleep(0.05)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        assert srv.batch_stats["lines_per_batch"] == [3, 3, 1]

        srv.in_progress_s = 0.0  # the provider finishes the batches
        result = subprocess.run([*command, "--out", str(tmp_path / "resumed")], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode in (0, 1), result.stderr  # 1: a gate failed; the run itself finished
        stats = srv.batch_stats
        assert stats["batches_created"] == 3 and stats["files_created"] == 3 + 3  # inputs + outputs, none again
        assert stats["max_submissions_per_line"] == 1
        assert set(stats["statuses"].values()) == {"completed"}
    import pandas as pd

    verdicts = pd.read_parquet(tmp_path / "resumed" / "verdicts.parquet")
    assert sorted(verdicts["item_id"]) == sorted(r[0] for r in rows)
    assert not (verdicts["decision"] == "abstained").any()
    expected = {r[0]: "actioned" if "VIOLATE" in r[1] else "allowed" for r in rows}
    assert dict(zip(verdicts["item_id"], verdicts["decision"])) == expected
