"""An LLM reviewer's scores as a classifier's: AUC, its DeLong interval, the threshold curve and the
precision-recall curve equal scikit-learn's on planted scores; the operating point chosen on dev is
reported on held-out; calibration (Brier, ECE with its interval, reliability bins)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, precision_recall_curve, roc_auc_score, roc_curve

from harness.config import GateSpec
from harness.metrics.calibration import TRUSTED_ECE, calibration, expected_calibration_error
from harness.metrics.split import split_items
from harness.metrics.thresholds import HOLDOUT_SHARE, SPLIT_SEED, delong_interval, threshold_analysis


def planted(n: int = 400, separation: float = 1.0, seed: int = 1, source: str = "logprobs") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    violating = rng.random(n) < 0.4
    logit = rng.normal(size=n) + separation * np.where(violating, 1.0, -1.0)
    return pd.DataFrame({"item_id": [f"i{i}" for i in range(n)], "gold": np.where(violating, "HS", "benign"),
                         "score": np.round(1 / (1 + np.exp(-logit)), 2), "score_source": source})

def test_auc_and_curves_equal_scikit_learns() -> None:
    frame = planted()
    y, s = (frame["gold"] == "HS").to_numpy(), frame["score"].to_numpy()
    t = threshold_analysis(frame)
    assert t is not None and t.curve is not None and t.pr_curve is not None
    assert t.auc == pytest.approx(roc_auc_score(y, s))
    assert t.average_precision == pytest.approx(average_precision_score(y, s))
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    assert len(fpr) <= 101  # every point of scikit-learn's curve kept: the planted scores have 100 levels
    assert t.curve.over_enforcement == pytest.approx(list(fpr)) and t.curve.leakage == pytest.approx(list(1 - tpr))
    precision, recall, _ = precision_recall_curve(y, s)
    assert t.pr_curve.precision == pytest.approx(list(precision)) and t.pr_curve.recall == pytest.approx(list(recall))

def test_the_auc_interval_is_delongs() -> None:
    frame = planted(n=60, seed=3)
    y, s = (frame["gold"] == "HS").to_numpy(), frame["score"].to_numpy()
    # DeLong's structural components by their definition: every violating x benign pair compared.
    pos, neg = s[y], s[~y]
    psi = np.array([[1.0 if p > q else 0.5 if p == q else 0.0 for q in neg] for p in pos])
    auc = psi.mean()
    var = psi.mean(axis=1).var(ddof=1) / len(pos) + psi.mean(axis=0).var(ddof=1) / len(neg)
    low, high = delong_interval(y, s)
    assert (low, high) == pytest.approx((auc - 1.959964 * var ** 0.5, auc + 1.959964 * var ** 0.5))

def test_a_reviewer_that_cannot_separate_has_an_interval_around_one_half() -> None:
    t = threshold_analysis(planted(separation=0.0, seed=5))
    assert t is not None and t.auc_ci_low is not None and t.auc_ci_high is not None
    assert t.auc_ci_low < 0.5 < t.auc_ci_high

def test_the_operating_point_is_chosen_on_dev_and_reported_on_held_out() -> None:
    frame = planted(n=600)
    t = threshold_analysis(frame, {"over_enforcement": GateSpec(max=0.1)})
    assert t is not None and t.held_out is not None
    [point] = t.held_out
    split = split_items(frame, holdout=HOLDOUT_SHARE, seed=SPLIT_SEED)
    held = frame[frame["item_id"].isin(split.holdout)]
    dev = frame[~frame["item_id"].isin(split.holdout)]
    assert (point.dev_items, point.held_out_items) == (len(dev), len(held))
    # the threshold is the dev half's own operating point...
    dev_point = threshold_analysis(dev, {"over_enforcement": GateSpec(max=0.1)})
    assert dev_point is not None and point.threshold == dev_point.operating_points[0].threshold
    # ...and the rates are counted on the held-out half at that threshold
    benign = held[held["gold"] == "benign"]
    assert point.over_enforcement.n == len(benign)
    assert point.over_enforcement.k == int((benign["score"] >= point.threshold).sum())

def test_calibration_of_calibrated_and_overconfident_scores() -> None:
    rng = np.random.default_rng(0)
    p = rng.random(4000)
    y = rng.random(4000) < p  # calibrated by construction
    frame = pd.DataFrame({"gold": np.where(y, "HS", "benign"), "score": p, "score_source": "confidence"})
    good = calibration(frame)
    assert good is not None and good.brier == pytest.approx(brier_score_loss(y, p))
    assert good.trusted and good.ece_ci_high is not None and good.ece_ci_high <= TRUSTED_ECE
    assert "stated confidence can be trusted" in good.summary
    overconfident = frame.assign(score=np.where(p >= 0.5, 0.99, 0.01))
    bad = calibration(overconfident)
    assert bad is not None and not bad.trusted and bad.ece > 0.2
    assert bad.ece_ci_low is not None and bad.ece_ci_low <= bad.ece <= (bad.ece_ci_high or 0)
    assert "cannot be trusted" in bad.summary
    assert sum(b.items for b in bad.bins) == 4000 and {b.low for b in bad.bins} == {0.0, 0.9}

def test_ece_by_its_definition() -> None:
    p = np.array([0.05, 0.05, 0.95, 0.95, 0.55])
    y = np.array([0.0, 1.0, 1.0, 1.0, 0.0])
    # bins: [0,0.1): 2 items, |0.1 - 1| ; [0.9,1): 2 items, |1.9 - 2| ; [0.5,0.6): |0.55 - 0|
    expected = (abs(0.1 - 1) + abs(1.9 - 2) + abs(0.55 - 0)) / 5
    assert expected_calibration_error(p, y) == pytest.approx(expected)
