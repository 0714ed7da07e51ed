"""Threshold analysis for reviewers that give a score (classifier probability, LLM confidence):
the over-enforcement vs leakage curve, and the threshold that meets a gate."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from harness.config import GateSpec
from harness.metrics.confusion import gold_status
from harness.metrics.gates import gate_status
from harness.metrics.rates import finite_or_none, wilson
from harness.record.metrics import Curve, OperatingPoint, Thresholds

MAX_POINTS = 101
DEFAULT_TARGETS = {"over_enforcement": 0.02}
class Counts(NamedTuple):
    items: int
    unscored: int
    unknown_gold: int
    benign: int
    violating: int


RULE = "actioned when score >= threshold"
ONE_CLASS = "scores of only one gold class (benign or violating); no curve"
NOTE = ("a threshold chosen on this eval set looks better here than it will on new items; "
        "confirm it on held-out items")


def threshold_analysis(frame: pd.DataFrame, gates: dict[str, GateSpec] | None = None) -> Thresholds | None:
    """`frame`: one row per item with gold and score (higher = more likely violating); None when
    the reviewer gives no scores. Items whose score is missing are left out and counted."""
    score = pd.to_numeric(frame["score"], errors="coerce").to_numpy(dtype=float) if "score" in frame else None
    if score is None or not np.isfinite(score).any():
        return None
    _, violating, unknown = gold_status(frame)
    scored = np.isfinite(score) & ~unknown  # unknown gold cannot say which side a score is on
    unscored, unknown_gold = int((~np.isfinite(score)).sum()), int((np.isfinite(score) & unknown).sum())
    violating, score = violating[scored], score[scored]
    counts = Counts(items=int(scored.sum()), unscored=unscored, unknown_gold=unknown_gold,
                    benign=int((~violating).sum()), violating=int(violating.sum()))
    if violating.all() or not violating.any():
        return Thresholds(**counts._asdict(), rule=RULE, note=NOTE, warnings=[ONE_CLASS], auc=None, curve=None,
                          operating_points=[])
    from sklearn.metrics import roc_auc_score, roc_curve  # here: only scoring reviewers pay for its import

    fpr, tpr, cut = roc_curve(violating, score, drop_intermediate=False)
    return Thresholds(**counts._asdict(), rule=RULE, note=NOTE, warnings=[], auc=finite_or_none(roc_auc_score(violating, score)),
                      curve=_compact(fpr, tpr, cut),
                      operating_points=[_operating_point(metric, target, fpr, tpr, cut, score, violating)
                                        for metric, target in _targets(gates).items()])


def _targets(gates: dict[str, GateSpec] | None) -> dict[str, float]:
    """Overall max gates on over-enforcement or leakage; else over-enforcement <= 2%."""
    found = {key.split("@", 1)[0]: gate.max for key, gate in (gates or {}).items()
             if gate.max is not None and not gate.category and not gate.slice
             and key.split("@", 1)[0] in ("over_enforcement", "leakage")}
    return found or dict(DEFAULT_TARGETS)


def _operating_point(metric: str, target: float, fpr: np.ndarray, tpr: np.ndarray, cut: np.ndarray,
                     score: np.ndarray, violating: np.ndarray) -> OperatingPoint:
    """Lowest leakage with over-enforcement <= target, or lowest over-enforcement with leakage <= target."""
    if metric == "over_enforcement":
        index = int(np.flatnonzero(fpr <= target)[-1])  # fpr[0] == 0, so one always exists
        goal = f"lowest leakage with over-enforcement <= {target:g}"
    else:
        index = int(np.flatnonzero(1.0 - tpr <= target)[0])  # tpr[-1] == 1, so one always exists
        goal = f"lowest over-enforcement with leakage <= {target:g}"
    threshold = float(cut[index]) if np.isfinite(cut[index]) else None
    actioned = score >= cut[index]
    over_enforcement = wilson(int((actioned & ~violating).sum()), int((~violating).sum()))
    leakage = wilson(int((~actioned & violating).sum()), int(violating.sum()))
    status = gate_status(GateSpec(max=target), over_enforcement if metric == "over_enforcement" else leakage)
    return OperatingPoint(goal=goal, threshold=threshold, over_enforcement=over_enforcement, leakage=leakage,
                          gate_status=status)


def _compact(fpr: np.ndarray, tpr: np.ndarray, cut: np.ndarray) -> Curve:
    """At most MAX_POINTS points, evenly spaced along the curve, ends kept."""
    keep = np.unique(np.round(np.linspace(0, len(cut) - 1, min(MAX_POINTS, len(cut)))).astype(int))
    return Curve(threshold=[float(c) if np.isfinite(c) else None for c in cut[keep]],
                 over_enforcement=[float(v) for v in fpr[keep]], leakage=[float(1.0 - v) for v in tpr[keep]])
