"""Agreement between reviewers and with gold: kappa, Krippendorff's alpha, disagreement lists."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from support.models import plain

from harness.metrics.agreement import agreement

NAMES = {1: "actioned", 0: "allowed", None: "abstained"}


def table(ratings: dict[str, list[int | None]], gold: list[str] | None = None) -> pd.DataFrame:
    n = len(next(iter(ratings.values())))
    gold = gold or ["benign"] * n
    return pd.DataFrame([{"item_id": f"i{i}", "reviewer": r, "decision": NAMES[v], "gold": gold[i], "text": f"text {i}"}
                         for r, values in ratings.items() for i, v in enumerate(values)])


def test_cohen_kappa_textbook_example() -> None:
    # 50 items: both yes 20, A yes / B no 5, A no / B yes 10, both no 15. p_o = 0.7, p_e = 0.5, kappa = 0.4
    # (Cohen 1960's definition; the worked example on Wikipedia's "Cohen's kappa" page).
    a = [1] * 20 + [1] * 5 + [0] * 10 + [0] * 15
    b = [1] * 20 + [0] * 5 + [1] * 10 + [0] * 15
    out = plain(agreement(table({"A": a, "B": b})))
    [pair] = out["pairs"]
    assert (pair["a"], pair["b"], pair["n"]) == ("A", "B", 50)
    assert pair["kappa"] == pytest.approx(0.4)
    assert pair["agreement"] == pytest.approx(0.7)


def test_krippendorff_alpha_published_binary_example() -> None:
    # Krippendorff, "Computing Krippendorff's alpha-reliability" (2011), section A: two observers,
    # ten units, binary data; alpha = 0.095.
    out = plain(agreement(table({"A": [0, 1, 0, 0, 0, 0, 0, 0, 1, 0], "B": [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]})))
    assert out["krippendorff_alpha"]["alpha"] == pytest.approx(0.095, abs=5e-4)
    assert out["krippendorff_alpha"]["raters"] == 2 and out["krippendorff_alpha"]["items"] == 10


def test_kappa_with_gold_and_abstentions_as_missing() -> None:
    gold = ["HS", "HS", "benign", "benign", "HS", "benign"]
    out = plain(agreement(table({"llm": [1, 1, 0, 0, None, 1], "clf": [1, 0, 0, 0, 1, 0], "human": [1, 1, 0, 1, 1, 0]}, gold)))
    llm = out["with_gold"]["llm"]
    assert llm["n"] == 5  # the abstention is left out, not counted as allow
    assert llm["agreement"] == pytest.approx(4 / 5)
    assert out["krippendorff_alpha"]["raters"] == 3
    assert out["krippendorff_alpha"]["alpha"] is not None
    assert len(out["pairs"]) == 3


def test_disagreement_lists() -> None:
    gold = ["HS", "benign", "benign", "HS"]
    out = plain(agreement(table({"a": [1, 1, 0, 0], "b": [0, 1, 0, 0], "c": [1, 1, None, 0]}, gold)))
    assert out["split"]["count"] == 1 and out["split"]["items"][0]["item_id"] == "i0"
    wrong = {row["item_id"]: row for row in out["all_wrong"]["items"]}
    assert set(wrong) == {"i1", "i3"}  # every reviewer actioned the benign i1 and allowed the violating i3
    assert wrong["i1"]["decisions"] == {"a": "actioned", "b": "actioned", "c": "actioned"}
    assert wrong["i1"]["text"] == "text 1"


def test_reviewer_that_did_not_judge_an_item_is_marked_not_judged() -> None:
    frame = table({"a": [1, 0, 1], "b": [0, 0, 1]})
    frame = frame[~((frame["reviewer"] == "b") & (frame["item_id"] == "i2"))]
    out = plain(agreement(frame))
    assert out["pairs"][0]["n"] == 2
    listed = {row["item_id"]: row for row in out["all_wrong"]["items"]}
    assert listed["i2"]["decisions"]["b"] == "not judged"


def test_undefined_kappa_and_alpha_are_null_with_a_warning() -> None:
    out = plain(agreement(table({"a": [0, 0, 0], "b": [0, 0, 0]})))
    assert out["pairs"][0]["kappa"] is None and out["pairs"][0]["agreement"] == 1.0
    assert out["with_gold"]["a"]["kappa"] is None
    assert out["krippendorff_alpha"]["alpha"] is None
    assert out["warnings"]
    json.dumps(out, allow_nan=False)


def test_single_reviewer_and_all_abstained() -> None:
    out = plain(agreement(table({"only": [None, None]}, ["HS", "benign"])))
    assert out["pairs"] == [] and out["krippendorff_alpha"] is None
    assert out["with_gold"]["only"] == {"kappa": None, "agreement": None, "n": 0}
    assert out["split"]["count"] == 0 and out["all_wrong"]["count"] == 0
    json.dumps(out, allow_nan=False)


def test_one_item() -> None:
    out = plain(agreement(table({"a": [1], "b": [0]}, ["HS"])))
    assert out["pairs"][0] == {"a": "a", "b": "b", "kappa": 0.0, "agreement": 0.0, "n": 1}
    assert out["with_gold"]["a"]["kappa"] is None  # 'a' and gold both say violating: 0/0
    assert any("a vs gold" in w for w in out["warnings"])
    json.dumps(out, allow_nan=False)


def test_single_reviewer_says_why_alpha_is_absent() -> None:
    out = plain(agreement(table({"only": [1, 0, 1, 0]})))
    assert out["krippendorff_alpha"] is None
    assert "two or more reviewers" in out["krippendorff_alpha_absent"]
    assert out["krippendorff_alpha_absent"] in out["warnings"]
    assert plain(agreement(table({"A": [1, 0, 1], "B": [1, 1, 0]})))["krippendorff_alpha_absent"] is None
