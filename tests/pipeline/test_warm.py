"""The warm process that scores, records, reports and tracks a run after its model calls: it does the
work, its errors reach the user as the command's own, and a run whose warm process is gone still
finishes in full."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.tracking import REPO_ROOT, experiment_file

from harness._util.event_loop import run_sync
from harness.config import load_experiment
from harness.pipeline.run import judge_and_finish
from harness.pipeline.warm import Finisher
from harness.record import read_record


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


def finished_runs(uri: str, record_dir: Path) -> list[str]:
    from mlflow.tracking import MlflowClient

    ids = read_record(record_dir).mlflow
    client = MlflowClient(tracking_uri=uri)
    return [client.get_run(rid).info.status for rid in [ids.parent_run_id, *ids.runs.values()]]


def test_the_warm_process_finishes_the_run_and_hands_back_its_record(
        tmp_path: Path, store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def not_here(*_: object, **__: object) -> None:
        raise AssertionError("the run was finished in the parent, not in the warm process")

    monkeypatch.setattr("harness.pipeline.finish.score_and_finish", not_here)
    with Finisher.start() as finisher:
        record = run_sync(judge_and_finish(load_experiment(experiment_file(tmp_path, name="warm")), finisher, out_dir=tmp_path / "out"))
    on_disk = read_record(tmp_path / "out")
    assert record.metrics.model_dump() == on_disk.metrics.model_dump()
    assert record.mlflow.synced and record.mlflow == on_disk.mlflow
    assert len(record.verdicts) == len(on_disk.verdicts) > 0
    assert (tmp_path / "out" / "report.html").exists()
    assert finished_runs(store, tmp_path / "out") == ["FINISHED", "FINISHED"]  # the parent and tfidf-lr's


def test_a_run_whose_warm_process_died_finishes_in_the_parent(tmp_path: Path, store: str) -> None:
    finisher = Finisher.start()
    assert finisher.process is not None
    finisher.process.kill()
    finisher.process.wait()
    with finisher:
        record = run_sync(judge_and_finish(load_experiment(experiment_file(tmp_path, name="orphaned")), finisher, out_dir=tmp_path / "out"))
    assert record.mlflow.synced and (tmp_path / "out" / "report.html").exists()
    assert finished_runs(store, tmp_path / "out") == ["FINISHED", "FINISHED"]


def command(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "MLFLOW_TRACKING_URI": f"sqlite:///{cwd / 'mlflow.db'}"}
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def test_an_output_the_warm_process_cannot_write_is_one_error_line(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file where the outputs should go", encoding="utf-8")
    done = command("run", str(experiment_file(tmp_path, name="blocked")), "--out", "taken/run", "--quiet",
                   cwd=tmp_path)
    assert done.returncode != 0
    assert done.stderr.startswith("error: could not write"), done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_run_the_user_interrupts_leaves_no_process_behind(tmp_path: Path) -> None:
    from support.llm import V2, write_items

    from harness.testing.openai_server import FakeOpenAIServer

    items = write_items(tmp_path / "items.csv", [(f"i{n}", f"text {n}", "non-hateful") for n in range(40)])
    exp = tmp_path / "slow.yaml"
    with FakeOpenAIServer(latency_ms=30_000) as server:
        exp.write_text(json.dumps({
            "name": "slow", "policy": str(V2),
            "eval_set": {"path": str(items), "columns": {"id": "id"}, "labels": {"hateful": "HS", "non-hateful": "benign"}},
            "reviewers": [{"name": "fake", "type": "llm", "model": "openai/fake-model", "api_base": server.base_url,
                           "timeout_s": 60, "price": {"input_per_million": 0.1, "output_per_million": 0.1}}]}),
            encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
               "POLICY_HARNESS_CACHE": str(tmp_path / "cache.sqlite"), "OPENAI_API_KEY": "sk-test"}
        proc = subprocess.Popen([sys.executable, "-m", "harness", "run", str(exp), "--out", "out"], cwd=tmp_path,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
        deadline = time.monotonic() + 120
        while not server.stats["requests"] and time.monotonic() < deadline:  # the model calls are under way
            time.sleep(0.1)
        warm = [int(pid) for pid in children.read_text().split()] if children.exists() else []
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert "interrupted" in err and warm  # the warm process was there, and is gone
    for pid in warm:
        assert process_gone(pid)


def process_gone(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return True
