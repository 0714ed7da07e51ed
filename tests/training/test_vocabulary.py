"""A team's own answer words: mapped with --labels or the quiz's labels, an unknown word is an error
(never graded as an action), graded.csv says which answers were correct."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from harness._cli.main import main
from harness.testing.cohort import Simulation, simulate_answers, write_eval_set
from harness.training import read_key

TEAM = {"violating": "Remove", "benign": " keep "}  # case and spaces as people type them


@pytest.fixture(scope="module")
def experiment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_eval_set(tmp_path_factory.mktemp("vocab") / "set", Simulation(items=300))


@pytest.fixture(scope="module")
def quiz_dir(experiment: Path) -> Path:
    out = experiment.parent.parent / "quiz"
    assert main(["quiz", str(experiment), "--items", "120", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def answers(quiz_dir: Path) -> tuple[Path, Path]:
    """The simulated cohort's answers in the built-in words, and the same answers in the team's words."""
    _, key = read_key(quiz_dir / "answer_key.csv")
    plain = simulate_answers(key)
    assert (plain["decision"] == "").any()  # dee skips: blanks must stay skips
    team = plain.assign(decision=plain["decision"].map(lambda d: TEAM.get(d, d)))
    paths = quiz_dir.parent / "plain.csv", quiz_dir.parent / "team.csv"
    plain.to_csv(paths[0], index=False)
    team.to_csv(paths[1], index=False)
    return paths


def _grades(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "grades.csv").set_index("reviewer")


def _proficiency(answers: Path, key: Path, out: Path, *extra: str) -> int:
    return main(["proficiency", str(answers), "--key", str(key), "--out", str(out), "--no-track", *extra])


def test_team_words_grade_like_the_built_in_ones_with_labels(quiz_dir: Path, answers: tuple[Path, Path],
                                                            tmp_path: Path) -> None:
    key = quiz_dir / "answer_key.csv"
    assert _proficiency(answers[0], key, tmp_path / "plain") == 0
    assert _proficiency(answers[1], key, tmp_path / "team", "--labels", "keep=benign,remove=violating") == 0
    plain, team = _grades(tmp_path / "plain"), _grades(tmp_path / "team")
    pd.testing.assert_frame_equal(plain, team)
    assert team.loc["ada", "status"] == "certified" and team.loc["ada", "accuracy"] > 0.9
    assert team.loc["dee", "skipped"] > 0  # blank answers are still skips, not unknown words


def test_the_quiz_labels_map_team_words_and_the_cli_option_wins(experiment: Path, quiz_dir: Path,
                                                                answers: tuple[Path, Path], tmp_path: Path) -> None:
    assert _proficiency(answers[0], quiz_dir / "answer_key.csv", tmp_path / "plain") == 0
    # The same quiz (same seed), its team words recorded in quiz.json by `quiz --labels`.
    labelled = tmp_path / "quiz"
    assert main(["quiz", str(experiment), "--items", "120", "--out", str(labelled),
                 "--labels", "keep=benign", "--labels", "remove=violating"]) == 0
    info = json.loads((labelled / "quiz.json").read_text())
    assert info["labels"] == {"keep": "benign", "remove": "violating"}
    assert _proficiency(answers[1], labelled / "answer_key.csv", tmp_path / "team") == 0
    pd.testing.assert_frame_equal(_grades(tmp_path / "plain"), _grades(tmp_path / "team"))
    # A wrong mapping in the quiz is overridden word by word by --labels.
    info["labels"] = {"keep": "violating", "remove": "violating"}
    (labelled / "quiz.json").write_text(json.dumps(info))
    assert _proficiency(answers[1], labelled / "answer_key.csv", tmp_path / "wrong") == 0
    assert _grades(tmp_path / "wrong").loc["ada", "status"] == "not certified"
    assert _proficiency(answers[1], labelled / "answer_key.csv", tmp_path / "fixed", "--labels", "KEEP=benign") == 0
    pd.testing.assert_frame_equal(_grades(tmp_path / "plain"), _grades(tmp_path / "fixed"))


def test_an_unknown_word_is_one_line_and_nothing_is_graded(quiz_dir: Path, answers: tuple[Path, Path],
                                                           tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "grades"
    assert _proficiency(answers[1], quiz_dir / "answer_key.csv", out) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith(f"error: {answers[1]}: ")
    assert "'remove'" in err and "'keep'" in err and "row 2, reviewer 'ada'" in err
    assert "benign: benign, allow" in err and "violating: HS, violating" in err and "--labels" in err
    assert not out.exists()
    # Only one word mapped: the other is still refused, and named alone.
    assert _proficiency(answers[1], quiz_dir / "answer_key.csv", out, "--labels", "keep=benign") == 2
    err = capsys.readouterr().err
    assert "'remove'" in err and "'keep'" not in err and not out.exists()


def test_a_mapping_to_a_word_that_means_nothing_is_refused(quiz_dir: Path, answers: tuple[Path, Path],
                                                           tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _proficiency(answers[1], quiz_dir / "answer_key.csv", tmp_path / "g", "--labels", "keep=bening") == 2
    err = capsys.readouterr().err
    assert "'keep' to 'bening', which is not an answer word" in err and "Traceback" not in err
    assert _proficiency(answers[1], quiz_dir / "answer_key.csv", tmp_path / "g", "--labels", "keep") == 2
    assert "'keep' is not WORD=LABEL" in capsys.readouterr().err


def test_graded_csv_says_which_answers_were_correct(quiz_dir: Path, answers: tuple[Path, Path],
                                                    tmp_path: Path) -> None:
    assert _proficiency(answers[0], quiz_dir / "answer_key.csv", tmp_path) == 0
    graded = pd.read_csv(tmp_path / "graded.csv", dtype=str, keep_default_na=False)
    assert set(graded["correct"]) == {"True", "False", ""}
    skipped = graded["decision"] == "abstained"
    assert (graded["correct"][skipped] == "").all() and skipped.any()
    answered = graded[~skipped]
    right = (answered["decision"] == "actioned") == (answered["gold"] != "benign")
    assert (answered["correct"] == right.map(str)).all()
    grades = _grades(tmp_path)
    per_reviewer = answered.assign(ok=answered["correct"] == "True").groupby("reviewer")["ok"].sum()
    assert (per_reviewer == grades["accuracy_k"]).all()


def test_quiz_says_when_no_rule_id_was_found(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.pipeline.score import score_file
    from harness.record import write_record

    experiment = write_eval_set(tmp_path / "set", Simulation(items=100))
    items = pd.read_csv(experiment.parent / "items.csv").drop(columns=["rule"])
    items.to_csv(experiment.parent / "items.csv", index=False)
    experiment.write_text(experiment.read_text().replace("slices: [tactic, rule]", "slices: [tactic]"))
    assert main(["quiz", str(experiment), "--items", "20", "--out", str(tmp_path / "q1")]) == 0
    assert "rule ids: none (no eval-set column of the policy's rule ids)" in capsys.readouterr().out
    # A scored log's verdicts cite no rule: the quiz says so instead of naming the run as the source.
    items.assign(pred=items["label"]).to_csv(tmp_path / "preds.csv", index=False)
    write_record(score_file(str(tmp_path / "preds.csv"), gold="label", preds=["pred"], id_column="id"), tmp_path / "run")
    assert main(["quiz", str(experiment), "--items", "20", "--out", str(tmp_path / "q2"),
                 "--from", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "rule ids: none cited in the run" in out and "run:" not in out
    assert json.loads((tmp_path / "q2" / "quiz.json").read_text())["rule_source"] == "none"
