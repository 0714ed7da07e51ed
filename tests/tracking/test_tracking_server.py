"""MLflow as the team's memory, against a real `mlflow server` on a loopback port."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from support.tracking import MlflowServer, cli, experiment_file

from harness.tracking.registry import prompt_versions


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    srv = MlflowServer(tmp_path_factory.mktemp("mlflow-server")).start()
    yield srv
    srv.stop()


def test_run_is_readable_back_from_the_server(server: MlflowServer, tmp_path: Path) -> None:
    exp = experiment_file(tmp_path, name="srv-readback")
    for attempt in range(2):
        result = cli("run", str(exp), "--out", str(tmp_path / f"out{attempt}"), uri=server.uri, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    record = json.loads((tmp_path / "out0" / "record.json").read_text())
    ids = record["mlflow"]
    # One child: the classifier does not read the policy text, so it is judged under the candidate only.
    assert ids["synced"] is True and list(ids["runs"]) == ["hate_speech@v2|tfidf-lr"]
    client = MlflowClient(tracking_uri=server.uri)
    parent = client.get_run(ids["parent_run_id"])
    assert parent.data.params["candidate_policy"] == "hate_speech@v2"
    assert {a.path for a in client.list_artifacts(parent.info.run_id)} >= {"metrics.json", "record.json", "verdicts.parquet", "report.html"}
    for key, run_id in ids["runs"].items():
        run = client.get_run(run_id)
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert 0.0 <= run.data.metrics["over_enforcement"] <= 1.0
        assert run.data.metrics["over_enforcement_ci_low"] <= run.data.metrics["over_enforcement"]
        assert any(k.startswith("slice.tactic.counter_speech.") for k in run.data.metrics)
        assert run.data.params["policy_sha256"] == record["policies"][key.split("|")[0]]["sha256"]
        assert run.inputs.dataset_inputs[0].dataset.digest == record["evalset"]["sha256"][:20]
        assert run.data.tags["policy_prompt_uri"].startswith("prompts:/policy-hate_speech/")
        assert {"verdicts.parquet", "metrics.json", "report.html"} <= {a.path for a in client.list_artifacts(run_id)}
    versions = prompt_versions(client, "policy-hate_speech")
    # Two runs of the same two texts register each text once.
    assert sorted(v.tags["policy_version"] for v in versions) == ["1", "2"]


def test_compare_two_mlflow_run_ids(server: MlflowServer, tmp_path: Path) -> None:
    runs: dict[str, str] = {}
    for version in ("v1", "v2"):
        exp = experiment_file(tmp_path, name=f"srv-compare-{version}", policy=version, baseline=None)
        out = tmp_path / f"out-{version}"
        assert cli("run", str(exp), "--out", str(out), uri=server.uri, cwd=tmp_path).returncode == 0
        runs.update(json.loads((out / "record.json").read_text())["mlflow"]["runs"])
    result = cli("compare", runs["hate_speech@v1|tfidf-lr"], runs["hate_speech@v2|tfidf-lr"], "--out",
                 str(tmp_path / "cmp"), uri=server.uri, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    logged = result.stdout.split("mlflow run:")[1].split()[0]
    compare_run = MlflowClient(tracking_uri=server.uri).get_run(logged)
    assert "tfidf-lr.over_enforcement_change.change" in compare_run.data.metrics
    compared = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert compared["reviewers"]["tfidf-lr"]["coverage"]["common"] == 302
    assert (tmp_path / "cmp" / "compare.html").exists()
    listing = cli("runs", "--policy", "hate_speech", "--version", "2", uri=server.uri, cwd=tmp_path)
    assert runs["hate_speech@v2|tfidf-lr"] in listing.stdout
    assert runs["hate_speech@v1|tfidf-lr"] not in listing.stdout


def test_server_down_keeps_results_and_sync_logs_them_later(tmp_path: Path) -> None:
    srv = MlflowServer(tmp_path / "srv")
    exp = experiment_file(tmp_path, name="srv-down")
    result = cli("run", str(exp), "--out", str(tmp_path / "out"), uri=srv.uri, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "policy-harness sync" in result.stderr and "Traceback" not in result.stderr
    record = json.loads((tmp_path / "out" / "record.json").read_text())
    assert record["mlflow"]["synced"] is False
    assert (tmp_path / "out" / "verdicts.parquet").exists() and (tmp_path / "out" / "report.html").exists()
    srv.start()
    try:
        synced = cli("sync", str(tmp_path / "out"), uri=srv.uri, cwd=tmp_path)
        assert synced.returncode == 0, synced.stderr
        record = json.loads((tmp_path / "out" / "record.json").read_text())
        assert record["mlflow"]["synced"] is True
        client = MlflowClient(tracking_uri=srv.uri)
        assert client.get_run(record["mlflow"]["parent_run_id"]).info.status == "FINISHED"
        for run_id in record["mlflow"]["runs"].values():
            assert "over_enforcement" in client.get_run(run_id).data.metrics
    finally:
        srv.stop()


def test_server_killed_mid_run_then_synced(tmp_path: Path) -> None:
    srv = MlflowServer(tmp_path / "srv").start()
    exp = experiment_file(tmp_path, name="srv-killed")
    import harness.tracking as tracking
    from harness.config import load_experiment
    from harness.pipeline.run import run
    from harness.record import read_record

    original = tracking.log_runs

    def kill_then_log(record, out_dir):  # type: ignore[no-untyped-def]
        srv.stop()  # the runs were opened; the server dies before they are filled
        return original(record, out_dir)

    os.environ["MLFLOW_TRACKING_URI"] = srv.uri
    try:
        tracking.log_runs = kill_then_log
        record = run(load_experiment(exp), out_dir=tmp_path / "out")
        tracking.log_runs = original
        assert record.mlflow.synced is False and (tmp_path / "out" / "report.html").exists()
        srv.start()
        result = cli("sync", str(tmp_path / "out"), uri=srv.uri, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert read_record(tmp_path / "out").mlflow.synced is True
    finally:
        tracking.log_runs = original
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        srv.stop()


def test_rescore_with_new_gates_logs_a_linked_run(server: MlflowServer, tmp_path: Path) -> None:
    exp = experiment_file(tmp_path, name="srv-rescore")
    assert cli("run", str(exp), "--out", str(tmp_path / "out"), uri=server.uri, cwd=tmp_path).returncode == 0
    strict = experiment_file(tmp_path, name="srv-rescore-strict", gates="leakage: {max: 0.01}")
    result = cli("rescore", str(tmp_path / "out"), "--experiment", str(strict), "--out", str(tmp_path / "re"),
                 uri=server.uri, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    old = json.loads((tmp_path / "out" / "record.json").read_text())
    new = json.loads((tmp_path / "re" / "record.json").read_text())
    metrics = json.loads((tmp_path / "re" / "metrics.json").read_text())
    assert [g["gate"] for g in metrics["reviewers"]["tfidf-lr"]["gates"]] == ["leakage"]
    old_oe = json.loads((tmp_path / "out" / "metrics.json").read_text())["reviewers"]["tfidf-lr"]["over_enforcement"]
    assert metrics["reviewers"]["tfidf-lr"]["over_enforcement"] == old_oe
    parent = MlflowClient(tracking_uri=server.uri).get_run(new["mlflow"]["parent_run_id"])
    assert parent.data.tags["policy_harness.rescored_from"] == old["mlflow"]["parent_run_id"]
    # `runs` has a header row and tells the rescore from a run, naming the run it rescored.
    listing = cli("runs", uri=server.uri, cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0].split()[:3] == ["run", "id", "started"] and "kind" in lines[0]
    rescored = [line for line in lines if new["mlflow"]["runs"]["hate_speech@v2|tfidf-lr"] in line]
    assert rescored and f"rescore of {old['mlflow']['parent_run_id']}" in rescored[0]
    original = [line for line in lines if old["mlflow"]["runs"]["hate_speech@v2|tfidf-lr"] in line]
    assert original and "rescore" not in original[0]
