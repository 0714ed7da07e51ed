"""`proficiency`: a simulated cohort with known error rates is graded back within its intervals."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from harness._cli.main import main
from harness.config import load_experiment
from harness.errors import HarnessError
from harness.record.proficiency import Proficiency
from harness.testing.cohort import COHORT, Simulation, simulate_answers, write_eval_set
from harness.training import build_quiz, certify, grade_files, read_key, write_quiz

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture(scope="module")
def quiz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("training")
    # A slice value of its own, so the cover puts the hostile item in the quiz (and in the report).
    hostile = [{"id": "hostile", "text": HOSTILE, "label": "benign", "tactic": "markup", "rule": "HS-E1"}]
    experiment = write_eval_set(root / "set", Simulation(items=800), extra=hostile)
    quiz = build_quiz(load_experiment(experiment), 400, seed=11)
    assert "hostile" in set(quiz.key["id"])
    return write_quiz(quiz, root / "quiz")


@pytest.fixture(scope="module")
def answers(quiz_dir: Path) -> Path:
    _, key = read_key(quiz_dir / "answer_key.csv")
    frame = simulate_answers(key)
    # Every reviewer gets the hostile item wrong, so it is an item "most got wrong" with its text.
    frame.loc[frame["id"] == "hostile", "decision"] = "violating"
    path = quiz_dir.parent / "answers.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def graded(quiz_dir: Path, answers: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Proficiency, Path]:
    out = tmp_path_factory.mktemp("grades")
    return grade_files(answers, quiz_dir / "answer_key.csv", out, track=False), out


def _true_rates(key: pd.DataFrame, name: str) -> tuple[float, float]:
    reviewer = next(r for r in COHORT if r.name == name)
    key = key[key["id"] != "hostile"]
    benign, violating = key[key["gold"] == "benign"], key[key["gold"] != "benign"]
    return (sum(reviewer.error("benign", r) for r in benign["rule_ids"]) / len(benign),
            sum(reviewer.error("HS", r) for r in violating["rule_ids"]) / len(violating))


def test_figures_recover_the_simulated_error_rates(graded: tuple[Proficiency, Path], quiz_dir: Path) -> None:
    data, _ = graded
    _, key = read_key(quiz_dir / "answer_key.csv")
    assert [g.reviewer for g in data.reviewers] == sorted(r.name for r in COHORT)
    for grade in data.reviewers:
        over, leak = _true_rates(key, grade.reviewer)
        assert grade.over_enforcement.ci_low <= over <= grade.over_enforcement.ci_high, grade.reviewer
        assert grade.leakage.ci_low <= leak <= grade.leakage.ci_high, grade.reviewer
        assert grade.accuracy.n == grade.answered == len(key) - grade.skipped


def test_certification_statuses(graded: tuple[Proficiency, Path]) -> None:
    status = {g.reviewer: g.certification for g in graded[0].reviewers}
    assert status["ada"].status == "certified"
    assert status["cy"].status == "not certified" and status["eve"].status == "not certified"
    assert status["ben"].status == "needs more items" and status["ben"].more_items > 0
    assert graded[0].cohort.coverage.k == 1 and graded[0].cohort.coverage.n == 5


def test_certify_thresholds_and_planner() -> None:
    assert certify(100, 100, 0.9).status == "certified"
    assert certify(50, 100, 0.9).status == "not certified"
    pending = certify(19, 20, 0.9)
    assert pending.status == "needs more items" and pending.more_items > 0
    # The planner's count decides it: that many more answered items at the same accuracy certify.
    total = 20 + pending.more_items
    assert certify(math.ceil(0.95 * total), total, 0.9).status == "certified"
    assert certify(57, 60, 0.9).status == "needs more items"  # 95% on 60 items: still undecided
    assert certify(0, 0, 0.9).status == "needs more items"


def test_skips_are_not_wrong_and_are_flagged(graded: tuple[Proficiency, Path]) -> None:
    dee = next(g for g in graded[0].reviewers if g.reviewer == "dee")
    assert dee.skipped > 0.15 * (dee.answered + dee.skipped) and dee.skip_flag
    assert dee.accuracy.n == dee.answered
    assert not next(g for g in graded[0].reviewers if g.reviewer == "ada").skip_flag


def test_weakness_names_the_misapplied_rule(graded: tuple[Proficiency, Path]) -> None:
    dee = next(g for g in graded[0].reviewers if g.reviewer == "dee")
    top = dee.weaknesses[0]
    assert (top.kind, top.value) == ("rule", "HS-E1") and top.p_holm < 0.05
    assert top.wrong and all("HS-E1" in w.rule_ids for w in top.wrong)
    ada = next(g for g in graded[0].reviewers if g.reviewer == "ada")
    assert not [w for w in ada.weaknesses if w.value == "HS-E1"]


def test_cohort_agreement_and_items_most_got_wrong(graded: tuple[Proficiency, Path]) -> None:
    cohort = graded[0].cohort
    assert 0.0 < cohort.krippendorff_alpha < 1.0 and 0.0 < cohort.fleiss_kappa < 1.0
    hostile = next(h for h in cohort.hard_items if h.item_id == "hostile")
    assert hostile.all_wrong and hostile.wrong == 5
    assert set(cohort.rule_ids) == {"HS1", "HS2", "HS3", "HS-E1", "HS-E2"}


def test_report_is_script_free_and_escapes_item_text(graded: tuple[Proficiency, Path]) -> None:
    page = (graded[1] / "report.html").read_text()
    assert "<script" not in page.lower() and "onerror=alert" not in page.replace("&lt;img src=x onerror=alert(1)&gt;", "")
    assert "&lt;script&gt;alert(" in page
    assert "Content warning: item texts" in page and "script-src &#39;none&#39;" in page
    assert "HS-E1" in page and "certified" in page


def test_wide_format_grades_the_same(graded: tuple[Proficiency, Path], quiz_dir: Path, answers: Path,
                                     tmp_path: Path) -> None:
    wide = pd.read_csv(answers, dtype=str, keep_default_na=False).pivot(index="id", columns="reviewer",
                                                                          values="decision").reset_index()
    wide.to_csv(tmp_path / "wide.csv", index=False)
    again = grade_files(tmp_path / "wide.csv", quiz_dir / "answer_key.csv", tmp_path / "out", wide=True, track=False)
    assert [g.accuracy for g in again.reviewers] == [g.accuracy for g in graded[0].reviewers]
    assert [g.skipped for g in again.reviewers] == [g.skipped for g in graded[0].reviewers]


def test_decisions_map_like_eval_set_labels(quiz_dir: Path, tmp_path: Path) -> None:
    _, key = read_key(quiz_dir / "answer_key.csv")
    ids = list(key["id"][:4])
    golds = list(key["gold"][:4])
    spelled = {"HS": "HS", "benign": "allow"}
    rows = [{"reviewer": "r", "id": i, "decision": spelled[g]} for i, g in zip(ids, golds)]
    rows.append({"reviewer": "r", "id": key["id"][4], "decision": "skip"})
    pd.DataFrame(rows).to_csv(tmp_path / "a.csv", index=False)
    data = grade_files(tmp_path / "a.csv", quiz_dir / "answer_key.csv", tmp_path / "out", track=False)
    grade = data.reviewers[0]
    assert grade.accuracy.k == grade.accuracy.n == 4 and grade.skipped == len(key) - 4
    assert any("one reviewer" in n for n in data.cohort.notes)


def test_answer_errors_are_one_sentence(quiz_dir: Path, tmp_path: Path) -> None:
    pd.DataFrame([{"reviewer": "r", "id": "nope", "decision": "HS"}]).to_csv(tmp_path / "a.csv", index=False)
    with pytest.raises(HarnessError, match="id 'nope' is not in the answer key"):
        grade_files(tmp_path / "a.csv", quiz_dir / "answer_key.csv", tmp_path / "out", track=False)
    pd.DataFrame([{"who": "r"}]).to_csv(tmp_path / "b.csv", index=False)
    assert main(["proficiency", str(tmp_path / "b.csv"), "--key", str(quiz_dir / "answer_key.csv"),
                 "--out", str(tmp_path / "out"), "--no-track"]) == 2
    (tmp_path / "lonely").mkdir()
    (tmp_path / "lonely" / "answer_key.csv").write_text("id,gold,categories,rule_ids\n")
    with pytest.raises(HarnessError, match="has no quiz.json beside it"):
        grade_files(tmp_path / "a.csv", tmp_path / "lonely" / "answer_key.csv", tmp_path / "out", track=False)


def test_mlflow_run_per_grading(quiz_dir: Path, answers: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    out = tmp_path / "grades"
    assert main(["proficiency", str(answers), "--key", str(quiz_dir / "answer_key.csv"), "--out", str(out)]) == 0
    run_id = json.loads((out / "proficiency.json").read_text())["mlflow_run_id"]
    assert run_id and f"mlflow run {run_id}" in capsys.readouterr().out
    from harness.tracking import EXPERIMENT_PREFIX, client

    with client() as c:
        run = c.get_run(run_id)
        experiment = c.get_experiment(run.info.experiment_id)
    assert experiment.name == f"{EXPERIMENT_PREFIX}proficiency/demo_hate"
    assert run.data.tags["policy_id"] == "demo_hate" and run.data.tags["policy_version"] == "1"
    assert run.data.metrics["certified/ada"] == 1.0 and 0.9 < run.data.metrics["accuracy/ada"] <= 1.0
    assert {"leakage/cy", "over_enforcement/eve", "skipped/dee"} <= set(run.data.metrics)
    # `runs --proficiency` shows each reviewer's grading, for a trend across policy versions.
    assert main(["runs", "--proficiency", "--policy", "demo_hate", "--reviewer", "ada"]) == 0
    listed = [line for line in capsys.readouterr().out.splitlines() if line.startswith(run_id)]
    assert len(listed) == 1 and "demo_hate@v1" in listed[0] and "ada" in listed[0] and listed[0].endswith("certified")


def test_a_run_reviewer_is_graded_as_one_more_member(quiz_dir: Path, answers: Path, tmp_path: Path) -> None:
    from harness.pipeline.score import score_file
    from harness.record import write_record

    _, key = read_key(quiz_dir / "answer_key.csv")
    # A stored run whose "model" reviewer is right on every quiz item but abstains on the first five.
    preds = key.assign(model=[("" if i < 5 else g) for i, g in enumerate(key["gold"])])
    preds.to_csv(tmp_path / "preds.csv", index=False)
    write_record(score_file(str(tmp_path / "preds.csv"), gold="gold", preds=["model"], id_column="id"), tmp_path / "run")
    data = grade_files(answers, quiz_dir / "answer_key.csv", tmp_path / "out", from_runs=[tmp_path / "run"], track=False)
    model = next(g for g in data.reviewers if g.reviewer == "model")
    assert model.skipped == 5 and model.accuracy.k == model.accuracy.n == len(key) - 5
    assert len(data.reviewers) == 6
