"""Threshold analysis: the over-enforcement vs leakage curve and the threshold that meets a gate."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from support.models import plain

from harness.config import GateSpec
from harness.metrics.thresholds import MAX_POINTS, threshold_analysis


def scored(benign: list[float], violating: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"gold": ["benign"] * len(benign) + ["HS"] * len(violating), "score": benign + violating})


def test_operating_point_meets_the_over_enforcement_gate_with_lowest_leakage() -> None:
    # 10 benign scored 0.0..0.9, 10 violating scored 0.5..1.4 (only the order matters).
    benign = [i / 10 for i in range(10)]
    violating = [(5 + i) / 10 for i in range(10)]
    out = plain(threshold_analysis(scored(benign, violating), {"over_enforcement": GateSpec(max=0.1)}))
    [point] = out["operating_points"]
    # At most 1 of 10 benign actioned: the threshold is 0.9 (only the 0.9 benign item is actioned),
    # which actions violating scores >= 0.9: 6 of 10, so 4 leak.
    assert point["threshold"] == pytest.approx(0.9)
    assert (point["over_enforcement"]["k"], point["over_enforcement"]["n"]) == (1, 10)
    assert (point["leakage"]["k"], point["leakage"]["n"]) == (4, 10)
    assert point["gate_status"] == "inconclusive"  # 10% is at the target, but the interval reaches past it
    # Mann-Whitney by hand: violating item i beats 5 + i benign items and ties one (for i < 5), beats all 10 after.
    assert out["auc"] == pytest.approx((5.5 + 6.5 + 7.5 + 8.5 + 9.5 + 50) / 100)


def test_leakage_gate_gives_lowest_over_enforcement() -> None:
    out = plain(threshold_analysis(scored([0.1, 0.2, 0.3, 0.8], [0.4, 0.7, 0.9, 0.95]), {"leakage": GateSpec(max=0.25)}))
    [point] = out["operating_points"]
    assert point["threshold"] == pytest.approx(0.7)  # 3 of 4 violating actioned; no benign actioned
    assert point["leakage"]["k"] == 1 and point["over_enforcement"]["k"] == 1  # benign 0.8 >= 0.7


def test_default_gate_and_scoped_gates_ignored() -> None:
    gates = {"over_enforcement@counter": GateSpec(max=0.01, slice={"tactic": "counter"})}
    out = plain(threshold_analysis(scored([0.1, 0.2], [0.8, 0.9]), gates))
    assert [p["goal"] for p in out["operating_points"]] == ["lowest leakage with over-enforcement <= 0.02"]
    assert out["operating_points"][0]["leakage"]["k"] == 0


def test_curve_is_compact_and_json_clean() -> None:
    rng = np.random.default_rng(0)
    frame = scored(list(rng.random(2000)), list(rng.random(2000) * 0.5 + 0.5))
    out = plain(threshold_analysis(frame))
    curve = out["curve"]
    assert len(curve["threshold"]) <= MAX_POINTS
    assert len(curve["threshold"]) == len(curve["over_enforcement"]) == len(curve["leakage"])
    assert curve["over_enforcement"][0] == 0.0 and curve["leakage"][0] == 1.0  # action nothing
    assert curve["over_enforcement"][-1] == 1.0 and curve["leakage"][-1] == 0.0  # action everything
    assert curve["threshold"][0] is None
    assert all(a >= b for a, b in zip(curve["leakage"], curve["leakage"][1:]))
    json.dumps(out, allow_nan=False)


def test_no_scores_gives_none_and_missing_scores_are_counted() -> None:
    assert plain(threshold_analysis(pd.DataFrame({"gold": ["benign", "HS"], "score": [np.nan, np.nan]}))) is None
    frame = scored([0.1, np.nan], [0.9])
    out = plain(threshold_analysis(frame))
    assert out["items"] == 2 and out["unscored"] == 1


def test_one_gold_class_gives_no_curve_with_a_warning() -> None:
    out = plain(threshold_analysis(scored([0.1, 0.4], [])))
    assert out["curve"] is None and out["auc"] is None and out["warnings"]
    json.dumps(out, allow_nan=False)
