"""`quiz`: stratified by gold and slices, seeded, no repeats, says when N is too small."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from harness._cli.main import main
from harness.config import load_experiment
from harness.errors import HarnessError
from harness.testing.cohort import Simulation, write_eval_set
from harness.training import build_quiz, read_key


@pytest.fixture()
def experiment(tmp_path: Path) -> Path:
    return write_eval_set(tmp_path / "set", Simulation(items=200))


def test_quiz_covers_every_slice_value_without_repeats(experiment: Path) -> None:
    quiz = build_quiz(load_experiment(experiment), 40, min_per_slice=4)
    key = quiz.key
    assert len(key) == 40 and key["id"].is_unique
    assert (key["gold"].value_counts() >= 4).all()
    assert (key["tactic"].value_counts() >= 4).all() and set(key["tactic"]) == {"explicit", "coded", "question", "quote"}
    rules = key["rule_ids"].value_counts()
    assert set(rules.index) == {"HS1", "HS2", "HS3", "HS-E1", "HS-E2"} and (rules >= 4).all()
    assert "gold" not in quiz.questions.columns and list(quiz.questions.columns) == ["id", "text"]
    assert quiz.info.rule_source == "column:rule"


def test_quiz_is_seeded_and_balanced_by_gold(experiment: Path) -> None:
    config = load_experiment(experiment)
    first, again, other = (build_quiz(config, 60, seed=s) for s in (3, 3, 4))
    assert first.key.equals(again.key)
    assert set(first.key["id"]) != set(other.key["id"])
    assert first.key["gold"].value_counts().to_dict() == {"HS": 30, "benign": 30}  # the set is half benign


def test_quiz_says_when_items_are_too_few(experiment: Path) -> None:
    with pytest.raises(HarnessError, match=r"cannot cover .* raise --items to \d+"):
        build_quiz(load_experiment(experiment), 8, min_per_slice=3)
    with pytest.raises(HarnessError, match="--items must be between 1 and 200"):
        build_quiz(load_experiment(experiment), 201)


def test_short_slice_values_are_taken_whole_and_warned(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rare = [{"id": f"rare{i}", "text": f"rare item {i}", "label": "HS", "tactic": "emoji", "rule": "HS1"} for i in range(2)]
    path = write_eval_set(tmp_path / "set", Simulation(items=100), extra=rare)
    quiz = build_quiz(load_experiment(path), 30, min_per_slice=3)
    assert (quiz.key["tactic"] == "emoji").sum() == 2
    assert "tactic=emoji has only 2 items" in caplog.text


def test_cli_writes_the_three_files(experiment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "quiz"
    assert main(["quiz", str(experiment), "--items", "30", "--out", str(out), "--show", "tactic"]) == 0
    info = json.loads((out / "quiz.json").read_text())
    assert info["policy_id"] == "demo_hate" and info["policy_version"] == 1 and len(info["policy_sha256"]) == 64
    assert list(pd.read_csv(out / "questions.csv").columns) == ["id", "text", "tactic"]
    loaded_info, key = read_key(out / "answer_key.csv")
    assert loaded_info.items == len(key) == 30 and {"id", "gold", "categories", "rule_ids", "tactic"} <= set(key.columns)
    assert main(["quiz", str(experiment), "--items", "3", "--out", str(out)]) == 2
    assert "cannot cover" in capsys.readouterr().err


def test_from_run_weights_towards_hard_items(experiment: Path, tmp_path: Path) -> None:
    from harness.pipeline.score import score_file
    from harness.record import write_record

    items = pd.read_csv(experiment.parent / "items.csv")
    hard = set(items["id"][:20])
    # A run whose reviewer gets exactly the first 20 items wrong.
    items["pred"] = [("benign" if g == "HS" else "HS") if i in hard else g for i, g in zip(items["id"], items["label"])]
    items.to_csv(tmp_path / "preds.csv", index=False)
    record = score_file(str(tmp_path / "preds.csv"), gold="label", preds=["pred"], id_column="id", text_column="text")
    write_record(record, tmp_path / "run")
    plain = build_quiz(load_experiment(experiment), 30, min_per_slice=0, seed=1)
    weighted = build_quiz(load_experiment(experiment), 30, min_per_slice=0, seed=1, from_run=tmp_path / "run")
    assert weighted.info.hard_items == len(set(weighted.key["id"]) & hard)
    assert len(set(weighted.key["id"]) & hard) > len(set(plain.key["id"]) & hard)
