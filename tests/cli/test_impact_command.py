"""`policy-harness impact` as a user runs it: the forecast logged beside its MLflow run; bad input is
one line and exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from support.impact_runs import planted_run

REPO_ROOT = Path(__file__).resolve().parents[2]
OPS = """review: {route: sample, sample: {share: 0.1}}
handling_seconds: {default: 40, de: 55}
hours_per_reviewer_day: 6.5
appeal_rate: {wrongful: 0.25, correct: 0.04}
overturn_rate: 0.7
"""
VOLUMES = "language,items_per_day,prevalence\nde,40000,0.02\nen,100000,0.01\n"


def _cli(*args: str, uri: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([sys.executable, "-m", "harness", "impact", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_impact_is_logged_beside_the_run(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("planted", artifact_location=(tmp_path / "artifacts").as_uri())
    parent = client.create_run(experiment).info.run_id
    run = planted_run(tmp_path, mlflow={"tracking_uri": uri, "experiment_id": experiment, "parent_run_id": parent})
    (tmp_path / "v.csv").write_text(VOLUMES, encoding="utf-8")
    (tmp_path / "ops.yaml").write_text(OPS, encoding="utf-8")
    result = _cli(str(run), "--volumes", str(tmp_path / "v.csv"), "--ops", str(tmp_path / "ops.yaml"),
                  "--out", str(tmp_path / "out"), uri=uri)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("toy_hate@v2 actions ") and "items per day" in result.stdout
    written = json.loads((tmp_path / "out" / "impact.json").read_text(encoding="utf-8"))
    logged = client.get_run(written["mlflow_run_id"])
    assert logged.data.tags["mlflow.parentRunId"] == parent
    # route sample: a tenth of the volume is reviewed, whichever version runs
    assert written["overall"]["reviewed"]["candidate"]["value"] == pytest.approx(14_000)
    assert logged.data.metrics["impact/overall/actions/change"] == pytest.approx(
        written["overall"]["actions"]["change"]["value"])
    assert {a.path for a in client.list_artifacts(logged.info.run_id)} == {"impact.json", "impact.html"}


@pytest.mark.parametrize(("volumes", "ops", "words"), [
    ("language,items_per_day\nde,100\n", OPS, "without production prevalence"),
    (VOLUMES, OPS + "apeal_rate: 1\n", "unknown key 'apeal_rate'"),
    ("language,items_per_day,prevalence\nfr,100,0.01\n", OPS, "no items with language 'fr'"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, volumes: str, ops: str, words: str) -> None:
    run = planted_run(tmp_path)
    (tmp_path / "v.csv").write_text(volumes, encoding="utf-8")
    (tmp_path / "ops.yaml").write_text(ops, encoding="utf-8")
    result = _cli(str(run), "--volumes", str(tmp_path / "v.csv"), "--ops", str(tmp_path / "ops.yaml"),
                  "--out", str(tmp_path / "out"), "--no-track", uri=f"sqlite:///{tmp_path / 'm.db'}")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and words in lines[0], result.stderr
    assert not (tmp_path / "out").exists()
