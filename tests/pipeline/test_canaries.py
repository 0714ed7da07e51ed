"""Drift canaries: a scripted judge changes its 'model version' between runs; the harness finds exactly that."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.llm import V2, write_items

import harness
from harness._cli.main import main
from harness.config import parse_experiment
from harness.portfolio.collect import collect
from harness.reporting.console import summary
from harness.testing.openai_server import FakeOpenAIServer, item_section, last_user_text

EDGE = [f"edge-{i}" for i in range(12)]  # violating canaries the new model version lets through


class Judge:
    """Flags VIOLATE items; from version 2 on it allows the ones marked EDGE (a silent model update)."""

    def __init__(self) -> None:
        self.version = 1
        self.seen: list[str] = []

    def __call__(self, request: dict[str, Any]) -> str:
        item = item_section(last_user_text(request)).rsplit("<<<END ITEM>>>", 1)[0].strip()
        self.seen.append(item)
        violation = "VIOLATE" in item and not (self.version >= 2 and "EDGE" in item)
        return json.dumps({"violation": violation, "categories": ["HS"] if violation else [],
                           "rule_ids": ["HS1"] if violation else [], "confidence": 0.9, "rationale": "r"})


def setup(tmp_path: Path, api_base: str) -> Any:
    items = write_items(tmp_path / "items.csv", [("a", "VIOLATE one", "hateful"), ("b", "a kind note", "non-hateful")])
    canaries = write_items(tmp_path / "canaries.csv",
                           [(i, f"VIOLATE EDGE canary {i}", "hateful") for i in EDGE]
                           + [(f"kind-{i}", f"kind canary {i}", "non-hateful") for i in range(8)])
    return parse_experiment({
        "name": "canary-test", "policy": str(V2), "canaries": str(canaries),
        "eval_set": {"path": str(items), "columns": {"id": "id"}, "labels": {"hateful": "HS", "non-hateful": "benign"}},
        "reviewers": [{"name": "fake", "type": "llm", "model": "openai/fake-model", "api_base": api_base}],
    })


def test_planted_model_update_is_found_and_a_stable_judge_is_not(
        tmp_path: Path, cache_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    judge = Judge()
    with FakeOpenAIServer(responder=judge) as server:
        experiment = setup(tmp_path, server.base_url)
        first = harness.run(experiment, out_dir=tmp_path / "r1", track=False, report=False)
        judge.seen.clear()
        second = harness.run(experiment, out_dir=tmp_path / "r2", track=False, report=False)
        # The eval items came from the cache; every canary went to the model again.
        assert sorted(judge.seen) == sorted(f"VIOLATE EDGE canary {i}" for i in EDGE) + [
            f"kind canary {i}" for i in range(8)]
        judge.version = 2
        third = harness.run(experiment, out_dir=tmp_path / "r3", track=False)

    assert first.metrics.drift is not None and first.metrics.drift["fake"].status == "no_previous"
    stable = second.metrics.drift["fake"] if second.metrics.drift else None
    assert stable is not None and stable.status == "none" and stable.agreement == 1.0 and not stable.flipped_item_ids
    assert "drift" not in summary(second).replace("no drift", "")
    drifted = third.metrics.drift["fake"] if third.metrics.drift else None
    assert drifted is not None and drifted.status == "drift"
    assert sorted(drifted.flipped_item_ids) == sorted(EDGE) and drifted.newly_allowed == 12
    assert drifted.p_value is not None and drifted.p_value < 0.001 and drifted.accuracy == 8 / 20
    assert any(line.startswith("  WARNING drift") for line in summary(third).splitlines())
    assert "drift:" in (tmp_path / "r3" / "report.html").read_text()
    assert "**WARNING** drift:" in (tmp_path / "r3" / "report.md").read_text()
    on_disk = json.loads((tmp_path / "r3" / "metrics.json").read_text())
    assert on_disk["drift"]["fake"]["status"] == "drift"
    portfolio = collect([tmp_path / "r3"])
    assert [line for line in portfolio.summary if "drift" in line] and portfolio.rows[0].drift

    experiment_file = tmp_path / "experiment.yaml"
    experiment_file.write_text(yaml.safe_dump({**experiment.model_dump(mode="json", exclude_defaults=True),
                                               "cache": str(cache_path)}))
    for extra in ([], ["--experiment", str(experiment_file)]):
        assert main(["runs", "--drift", "--reviewer", "fake", *extra]) == 0
        lines = capsys.readouterr().out.strip().splitlines()
        assert [line.split()[-1] for line in lines[1:]] == ["no_previous", "none", "drift"]


def test_a_changed_policy_is_not_compared_with_the_old_one(tmp_path: Path, cache_path: Path) -> None:
    judge = Judge()
    with FakeOpenAIServer(responder=judge) as server:
        experiment = setup(tmp_path, server.base_url)
        harness.run(experiment, out_dir=tmp_path / "r1", track=False, report=False)
        edited = tmp_path / "v2-edited.md"
        edited.write_text(V2.read_text() + "\n")
        judge.version = 2
        record = harness.run(experiment.model_copy(update={"policy": str(edited)}), out_dir=tmp_path / "r2",
                             track=False, report=False)
    assert record.metrics.drift is not None and record.metrics.drift["fake"].status == "no_previous"


def test_runs_drift_needs_a_reviewer(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "--drift"]) == 2
    assert "add --reviewer NAME" in capsys.readouterr().err


@pytest.mark.slow  # a real MLflow store: about 20 s
def test_drift_and_rationale_rates_are_tracked_in_mlflow(tmp_path: Path, cache_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    judge = Judge()
    with FakeOpenAIServer(responder=judge) as server:
        experiment = setup(tmp_path, server.base_url)
        harness.run(experiment, out_dir=tmp_path / "r1", track=False, report=False)
        judge.version = 2
        record = harness.run(experiment, out_dir=tmp_path / "r2", report=False)
    metrics = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db").get_run(
        record.mlflow.runs[f"{record.candidate}|fake"]).data.metrics
    assert metrics["drift.flipped"] == 12 and metrics["drift.agreement"] == 8 / 20
    assert metrics["rationale_inconsistency"] == 0.0
