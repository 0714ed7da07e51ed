"""The team deployment: `mlflow server` on a real PostgreSQL backend store; run, compare and rescore through it.

The Makefile's test set-up installs Debian's `postgresql` package (as root) and the test extra the psycopg2
driver; without them the test skips with an install hint. PostgreSQL refuses to run as root, so as root its
commands run as the `postgres` user the package creates.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from support.postgres import PostgresServer
from support.tracking import MlflowServer, cli, experiment_file

pytestmark = pytest.mark.slow

@dataclass
class Deployment:
    postgres: PostgresServer
    mlflow: MlflowServer
    work: Path
    record: dict[str, object]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    pytest.importorskip("psycopg2", reason="the psycopg2 driver is missing: pip install 'policy-harness[test]'")
    postgres = PostgresServer.start()
    try:
        mlflow = MlflowServer(tmp_path_factory.mktemp("mlflow-pg"), backend_store_uri=postgres.uri).start()
        try:
            work = tmp_path_factory.mktemp("pg-work")
            exp = experiment_file(work, name="pg-team")
            result = cli("run", str(exp), "--out", str(work / "out"), uri=mlflow.uri, cwd=work)
            assert result.returncode == 0, result.stderr
            record = json.loads((work / "out" / "record.json").read_text())
            yield Deployment(postgres=postgres, mlflow=mlflow, work=work, record=record)
        finally:
            mlflow.stop()
    finally:
        postgres.stop()


def test_runs_land_in_the_postgres_store(deployment: Deployment) -> None:
    ids = deployment.record["mlflow"]
    # A classifier does not read the policy text: it is judged once, so one child run.
    assert isinstance(ids, dict) and ids["synced"] is True and list(ids["runs"]) == ["hate_speech@v2|tfidf-lr"]
    stored = {row[0] for row in deployment.postgres.query("SELECT run_uuid FROM runs")}
    assert {ids["parent_run_id"], *ids["runs"].values()} <= stored
    assert ("policy-harness/pg-team",) in deployment.postgres.query("SELECT name FROM experiments")
    metric_rows = deployment.postgres.query(
        f"SELECT value FROM latest_metrics WHERE key = 'over_enforcement' AND run_uuid = '{ids['runs']['hate_speech@v2|tfidf-lr']}'")
    metrics = json.loads((deployment.work / "out" / "metrics.json").read_text())
    assert metric_rows and metric_rows[0][0] == pytest.approx(metrics["reviewers"]["tfidf-lr"]["over_enforcement"]["rate"])
    client = MlflowClient(tracking_uri=deployment.mlflow.uri)
    parent = client.get_run(ids["parent_run_id"])
    assert parent.data.params["candidate_policy"] == "hate_speech@v2"
    assert {"metrics.json", "record.json", "verdicts.parquet", "report.html"} <= {
        a.path for a in client.list_artifacts(parent.info.run_id)}
    assert any((deployment.mlflow.root / "artifacts").rglob("verdicts.parquet"))


def test_compare_two_runs_by_mlflow_run_id(deployment: Deployment) -> None:
    first = deployment.record["mlflow"]["runs"]["hate_speech@v2|tfidf-lr"]  # type: ignore[index]
    smaller = experiment_file(deployment.work, name="pg-team-small", max_features=300)
    done = cli("run", str(smaller), "--out", str(deployment.work / "small"), uri=deployment.mlflow.uri,
               cwd=deployment.work)
    assert done.returncode == 0, done.stderr
    second = json.loads((deployment.work / "small" / "record.json").read_text())["mlflow"]["runs"]["hate_speech@v2|tfidf-lr"]
    out = deployment.work / "cmp"
    result = cli("compare", first, second, "--out", str(out), uri=deployment.mlflow.uri, cwd=deployment.work)
    assert result.returncode == 0, result.stderr
    logged = result.stdout.split("mlflow run:")[1].split()[0]
    assert (logged,) in deployment.postgres.query("SELECT run_uuid FROM runs")
    compare_run = MlflowClient(tracking_uri=deployment.mlflow.uri).get_run(logged)
    assert "tfidf-lr.over_enforcement_change.change" in compare_run.data.metrics
    compared = json.loads((out / "compare.json").read_text())
    assert compared["reviewers"]["tfidf-lr"]["coverage"]["common"] == 302


def test_rescore_logs_a_linked_run(deployment: Deployment) -> None:
    strict = experiment_file(deployment.work, name="pg-team-strict", gates="leakage: {max: 0.01}")
    out = deployment.work / "re"
    result = cli("rescore", str(deployment.work / "out"), "--experiment", str(strict), "--out", str(out),
                 uri=deployment.mlflow.uri, cwd=deployment.work)
    assert result.returncode == 0, result.stderr
    new = json.loads((out / "record.json").read_text())
    parent_id = new["mlflow"]["parent_run_id"]
    old_parent = deployment.record["mlflow"]["parent_run_id"]  # type: ignore[index]
    tags = dict(deployment.postgres.query(f"SELECT key, value FROM tags WHERE run_uuid = '{parent_id}'"))
    assert tags["policy_harness.rescored_from"] == old_parent
    metrics = json.loads((out / "metrics.json").read_text())
    assert [g["gate"] for g in metrics["reviewers"]["tfidf-lr"]["gates"]] == ["leakage"]
