"""A new SQLite tracking store is created by a child process while the model calls run, and a
whole `run --timings` on the default store says how long each stage took (the stages after the
model calls timed by the warm process that runs them, on the command's own clock)."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from harness.tracking.prepare import StorePreparation

REPO_ROOT = Path(__file__).resolve().parents[2]
TIMING = re.compile(r"^timing: (\S+) ([\d.]+) s \(([-\d.]+)-([\d.]+) s after the process started\)$")


def test_a_new_sqlite_store_is_created_with_mlflow_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    database = tmp_path / "new" / "mlflow.db"
    database.parent.mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{database}")
    preparation = StorePreparation.start("policy-harness/prepared")
    assert preparation is not None
    preparation.wait()
    assert preparation.process.returncode == 0
    with sqlite3.connect(database) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"experiments", "runs", "metrics", "alembic_version"} <= tables


def test_nothing_is_started_for_an_existing_store_or_a_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    existing = tmp_path / "mlflow.db"
    existing.write_bytes(b"")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{existing}")
    assert StorePreparation.start("policy-harness/x") is None
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    assert StorePreparation.start("policy-harness/x") is None


def test_run_on_the_default_store_is_tracked_and_prints_stage_timings(tmp_path: Path) -> None:
    experiment = tmp_path / "timed.yaml"
    experiment.write_text(f"""\
name: timed
policy: {REPO_ROOT / "prompts/policies/hate_speech/v2.md"}
eval_set:
  path: {REPO_ROOT / "eval_sets/quickstart/items.csv"}
  name: quickstart
  columns: {{id: id, text: text, label: label, slices: [tactic]}}
  labels: {{hateful: HS, non-hateful: benign}}
reviewers:
  - {{name: tfidf-lr, type: classifier}}
limit: 120
""", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}  # the default: ./mlflow.db
    env["PYTHONPATH"] = str(REPO_ROOT)
    done = subprocess.run([sys.executable, "-m", "harness", "run", str(experiment), "--out", "out", "--timings"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    stages = {}
    for line in done.stderr.splitlines():
        if match := TIMING.match(line):
            stages[match.group(1)] = (float(match.group(3)), float(match.group(4)))
    order = ["start-up", "experiment", "load", "judge", "metrics", "record", "mlflow-open", "report", "mlflow-log"]
    assert list(stages) == order, done.stderr
    ends = [stages[name][1] for name in order]
    assert ends == sorted(ends) and stages["start-up"][0] <= 0.05
    record = json.loads((tmp_path / "out" / "record.json").read_text(encoding="utf-8"))
    assert record["mlflow"]["synced"] is True
    assert (tmp_path / "mlflow.db").exists() and (tmp_path / "mlartifacts").is_dir()
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert client.get_run(record["mlflow"]["parent_run_id"]).info.status == "FINISHED"
