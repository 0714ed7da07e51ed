"""The `annotators` block: judgements per item, Krippendorff's alpha and leave-one-out grading agree
with a direct computation on a table built here; the block reaches metrics.json through a real run."""

from __future__ import annotations

import json
from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd
import pytest
from support.models import plain

from harness.config import EvalSetConfig, Experiment, parse_experiment
from harness.evalset import load_evalset
from harness.metrics import compute_metrics
from harness.metrics.annotators import annotator_metrics
from harness.pipeline.rescore import rescore
from harness.pipeline.run import run
from harness.verdicts import ACTIONED, ALLOWED, Verdict, verdict_table

REPO_ROOT = Path(__file__).resolve().parents[2]
ANNOTATORS = ["ann", "bob", "cy", "dee"]
# item -> one raw label per annotator ("" = that annotator did not judge the item)
JUDGED = {
    "t1": ["hate", "hate", "hate", ""],
    "t2": ["hate", "none", "none", "none"],
    "t3": ["none", "none", "", "hate"],
    "t4": ["hate", "hate", "none", "none"],
    "t5": ["none", "", "", ""],
    "t6": ["slur", "hate", "hate", "none"],
    "t7": ["none", "none", "none", "none"],
    "t8": ["hate", "", "none", "slur"],
}
LABELS = {"hate": "HS", "slur": "SL", "none": "benign"}


def write_wide(path: Path) -> Path:
    rows = ["id,text," + ",".join(ANNOTATORS)]
    rows += [f"{item},post {item}," + ",".join(labels) for item, labels in JUDGED.items()]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def loaded(tmp_path: Path, tie: str = "violating"):
    return load_evalset(EvalSetConfig(path=str(write_wide(tmp_path / "wide.csv")), labels=LABELS, tie=tie,
                                      columns={"id": "id", "annotators": ANNOTATORS}))


def by_hand_majority(labels: list[str], tie: str) -> str | None:
    """'v' violating, 'b' benign, None not graded."""
    v = sum(label != "none" for label in labels)
    b = len(labels) - v
    if not labels or (v == b and tie == "unknown"):
        return None
    return "v" if v > b or (v == b and tie == "violating") else "b"


@pytest.mark.parametrize("tie", ["violating", "benign", "unknown"])
def test_figures_agree_with_a_direct_computation(tmp_path: Path, tie: str) -> None:
    evalset = loaded(tmp_path, tie)
    assert evalset.annotations is not None
    out = plain(annotator_metrics(evalset.annotations))

    codes = {"hate": 0.0, "slur": 1.0, "none": 2.0}
    matrix = np.array([[codes[JUDGED[item][a]] if JUDGED[item][a] else np.nan for item in JUDGED]
                       for a in range(len(ANNOTATORS))])
    assert out["alpha"] == pytest.approx(krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"))
    binary = np.where(np.isnan(matrix), np.nan, (matrix != 2.0).astype(float))
    assert out["alpha_violating"] == pytest.approx(
        krippendorff.alpha(reliability_data=binary, level_of_measurement="nominal"))

    per_item = [sum(bool(label) for label in labels) for labels in JUDGED.values()]
    assert out["items"] == 8 and out["judgements"] == sum(per_item) and out["count"] == 4
    assert out["per_item"]["counts"] == {"1": 1, "3": 3, "4": 4}
    assert out["per_item"]["mean"] == pytest.approx(np.mean(per_item))
    assert out["contested"] == sum(len({label for label in labels if label}) > 1 for labels in JUDGED.values())

    for a, name in enumerate(ANNOTATORS):
        fp = benign = fn = violating = ungraded = judged = 0
        for labels in JUDGED.values():
            if not labels[a]:
                continue
            judged += 1
            others = [label for b, label in enumerate(labels) if b != a and label]
            reference = by_hand_majority(others, tie)
            own_violates = labels[a] != "none"
            if reference is None:
                ungraded += 1
            elif reference == "b":
                benign, fp = benign + 1, fp + own_violates
            else:
                violating, fn = violating + 1, fn + (not own_violates)
        graded = out["by_annotator"][name]
        assert (graded["items"], graded["ungraded"]) == (judged, ungraded)
        assert (graded["over_enforcement"]["k"], graded["over_enforcement"]["n"]) == (fp, benign)
        assert (graded["leakage"]["k"], graded["leakage"]["n"]) == (fn, violating)


def test_leave_one_out_by_hand_for_one_annotator(tmp_path: Path) -> None:
    """dee, worked out on paper (ties count as violating): t2 others hate,none,none -> benign, dee none;
    t3 none,none -> benign, dee hate (over-enforced); t4 hate,hate,none -> violating, dee none (leaked);
    t6 slur,hate,hate -> violating, dee none (leaked); t7 benign, dee none; t8 hate,none tie -> violating,
    dee slur. So over-enforcement 1/3 and leakage 2/3."""
    graded = plain(annotator_metrics(loaded(tmp_path).annotations))["by_annotator"]["dee"]
    assert (graded["over_enforcement"]["k"], graded["over_enforcement"]["n"]) == (1, 3)
    assert (graded["leakage"]["k"], graded["leakage"]["n"]) == (2, 3)


def test_gold_of_the_annotated_set(tmp_path: Path) -> None:
    items = loaded(tmp_path).items.set_index("item_id")
    # t6: three violating votes (SL once, HS twice) -> the most frequent category; t8: tie -> violating, HS vs SL
    # once each -> the alphabetically first.
    assert items["gold"].to_dict() == {"t1": "HS", "t2": "benign", "t3": "benign", "t4": "HS", "t5": "benign",
                                       "t6": "HS", "t7": "benign", "t8": "HS"}
    assert items["contested"].to_dict() == {"t1": False, "t2": True, "t3": True, "t4": True, "t5": False,
                                            "t6": True, "t7": False, "t8": True}


def test_compute_metrics_includes_annotators_for_the_judged_items(tmp_path: Path) -> None:
    evalset = loaded(tmp_path)
    judged = evalset.items[evalset.items["item_id"] != "t5"]
    table = verdict_table([Verdict(i, ACTIONED if n % 2 else ALLOWED) for n, i in enumerate(judged["item_id"])],
                          policy="p@v1", reviewer="r").merge(judged, on="item_id", how="left")
    out = compute_metrics(table, candidate="p@v1", baseline=None, categories=["HS", "SL"], slices=[], gates={},
                          annotations=evalset.annotations)
    assert out.annotators is not None and out.annotators.items == 7
    assert out.annotators.by_annotator["ann"].items == 7  # t5 was not judged by the reviewer, so it is left out
    assert compute_metrics(table, candidate="p@v1", baseline=None, categories=["HS", "SL"], slices=[],
                           gates={}).annotators is None


def test_one_value_everywhere_has_no_alpha(tmp_path: Path) -> None:
    path = tmp_path / "same.csv"
    path.write_text("text,a,b\nx,none,none\ny,none,\n", encoding="utf-8")
    evalset = load_evalset(EvalSetConfig(path=str(path), labels=LABELS, columns={"annotators": ["a", "b"]}))
    out = plain(annotator_metrics(evalset.annotations))
    assert out["alpha"] is None and out["by_annotator"]["b"]["ungraded"] == 0
    assert out["by_annotator"]["a"]["ungraded"] == 1  # y: nobody else judged it


def annotated_experiment(tmp_path: Path) -> Experiment:
    """40 items, three annotators; the third disagrees with the other two on every 5th item."""
    rows = ["id,text,a1,a2,a3"]
    for i in range(40):
        hateful = i % 2 == 0
        labels = ["hate" if hateful else "none"] * 3
        if i % 5 == 0:
            labels[2] = "none" if hateful else "hate"
        rows.append(f"r{i},{'vermin parasites invade' if hateful else 'lovely sunny garden'} number {i},"
                    + ",".join(labels))
    (tmp_path / "annotated.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return parse_experiment({
        "name": "annotated", "policy": str(REPO_ROOT / "prompts" / "policies" / "hate_speech" / "v2.md"),
        "eval_set": {"path": "annotated.csv", "labels": {"hate": "HS", "none": "benign"},
                     "columns": {"id": "id", "annotators": ["a1", "a2", "a3"]}},
        "reviewers": [{"name": "tfidf", "type": "classifier", "folds": 2}],
        "tracking": {"enabled": False}}, path=tmp_path / "exp.yaml")


def test_a_run_writes_the_annotators_block(tmp_path: Path) -> None:
    record = run(annotated_experiment(tmp_path), out_dir=tmp_path / "out", track=False, report=False)
    written = json.loads((tmp_path / "out" / "metrics.json").read_text(encoding="utf-8"))
    assert record.metrics.annotators is not None
    assert written["annotators"] == record.metrics.annotators.model_dump(mode="json")
    assert written["annotators"]["contested"] == 8 and written["annotators"]["items"] == 40
    assert "a1" not in pd.read_parquet(tmp_path / "out" / "verdicts.parquet").columns


def test_rescore_without_the_experiment_keeps_the_annotators_block(tmp_path: Path) -> None:
    """The record keeps no raw judgements, so rescore carries the block over (and its report shows it)."""
    first = run(annotated_experiment(tmp_path), out_dir=tmp_path / "out", track=False, report=False)
    again = rescore(tmp_path / "out", experiment_path=None, out_dir=tmp_path / "rescored", track=False)
    assert first.metrics.annotators is not None
    assert again.metrics.annotators == first.metrics.annotators
    written = json.loads((tmp_path / "rescored" / "metrics.json").read_text(encoding="utf-8"))
    assert written["annotators"] == first.metrics.annotators.model_dump(mode="json")
    report = (tmp_path / "rescored" / "report.md").read_text(encoding="utf-8")
    assert "## Annotators" in report and "| a3 | 40 | 0 |" in report
