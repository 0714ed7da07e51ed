"""`per: COLUMN` expands one gate into a slice gate per value of that column."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import harness
from harness._cli.main import main

REPO_ROOT = Path(__file__).resolve().parents[2]


def _experiment(tmp_path: Path, gates: dict[str, object]) -> Path:
    path = tmp_path / "per.yaml"
    path.write_text(yaml.safe_dump({
        "name": "per-value",
        "policy": str(REPO_ROOT / "prompts/policies/hate_speech/v2.md"),
        "eval_set": {"path": str(REPO_ROOT / "eval_sets/quickstart/items.csv"),
                     "columns": {"id": "id", "slices": ["tactic", "language"]},
                     "labels": {"hateful": "HS", "non-hateful": "benign"}},
        "reviewers": [{"name": "tfidf-lr", "type": "classifier", "max_features": 2000, "folds": 2}],
        "gates": gates, "tracking": {"enabled": False}}), encoding="utf-8")
    return path


def test_per_tactic_gate_becomes_one_slice_gate_per_value(tmp_path: Path) -> None:
    path = _experiment(tmp_path, {"leakage": {"max": 0.5, "per": "tactic"}})
    record = harness.run(harness.load_experiment(path), out_dir=tmp_path / "out", track=False, report=False)
    m = record.metrics.reviewers["tfidf-lr"]
    tactics = sorted(m.slices["tactic"])
    assert [g.scope for g in m.gates] == [f"tactic = {t}" for t in tactics]
    for gate in m.gates:
        tactic = gate.scope.removeprefix("tactic = ")
        assert gate.gate == f"leakage [tactic = {tactic}]" and gate.max == 0.5
        assert gate.value == m.slices["tactic"][tactic].leakage


def test_per_names_a_slice_column_or_validate_says_which(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _experiment(tmp_path, {"leakage": {"max": 0.5, "per": "tactics"}})
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "gates.leakage.per" in err[0] and "Did you mean 'tactic'?" in err[0]
