"""Threshold analysis for reviewers that give a score (classifier probability, LLM confidence):
the over-enforcement vs leakage curve, and the threshold that meets a gate."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from harness.config import GateSpec
from harness.metrics.confusion import gold_status
from harness.metrics.gates import evaluate_gates
from harness.metrics.rates import wilson

MAX_POINTS = 101
DEFAULT_TARGETS = {"over_enforcement": 0.02}
NOTE = ("a threshold chosen on this eval set looks better here than it will on new items; "
        "confirm it on held-out items")


def threshold_analysis(frame: pd.DataFrame, gates: dict[str, GateSpec] | None = None) -> dict[str, Any] | None:
    """`frame`: one row per item with gold and score (higher = more likely violating); None when
    the reviewer gives no scores. Items whose score is missing are left out and counted."""
    score = pd.to_numeric(frame["score"], errors="coerce").to_numpy(dtype=float) if "score" in frame else None
    if score is None or not np.isfinite(score).any():
        return None
    _, violating, unknown = gold_status(frame)
    scored = np.isfinite(score) & ~unknown  # unknown gold cannot say which side a score is on
    unscored, unknown_gold = int((~np.isfinite(score)).sum()), int((np.isfinite(score) & unknown).sum())
    violating, score = violating[scored], score[scored]
    out: dict[str, Any] = {"items": int(scored.sum()), "unscored": unscored, "unknown_gold": unknown_gold,
                           "benign": int((~violating).sum()), "violating": int(violating.sum()),
                           "rule": "actioned when score >= threshold", "note": NOTE, "warnings": []}
    if violating.all() or not violating.any():
        out["warnings"].append("scores of only one gold class (benign or violating); no curve")
        out.update({"auc": None, "curve": None, "operating_points": []})
        return out
    from sklearn.metrics import roc_auc_score, roc_curve  # here: only scoring reviewers pay for its import

    fpr, tpr, cut = roc_curve(violating, score, drop_intermediate=False)
    out["auc"] = float(roc_auc_score(violating, score))
    out["curve"] = _compact(fpr, tpr, cut)
    out["operating_points"] = [_operating_point(metric, target, fpr, tpr, cut, score, violating)
                               for metric, target in _targets(gates).items()]
    return out


def _targets(gates: dict[str, GateSpec] | None) -> dict[str, float]:
    """Overall max gates on over-enforcement or leakage; else over-enforcement <= 2%."""
    found = {key.split("@", 1)[0]: gate.max for key, gate in (gates or {}).items()
             if gate.max is not None and not gate.category and not gate.slice
             and key.split("@", 1)[0] in ("over_enforcement", "leakage")}
    return found or dict(DEFAULT_TARGETS)


def _operating_point(metric: str, target: float, fpr: np.ndarray, tpr: np.ndarray, cut: np.ndarray,
                     score: np.ndarray, violating: np.ndarray) -> dict[str, Any]:
    """Lowest leakage with over-enforcement <= target, or lowest over-enforcement with leakage <= target."""
    if metric == "over_enforcement":
        index = int(np.flatnonzero(fpr <= target)[-1])  # fpr[0] == 0, so one always exists
        goal = f"lowest leakage with over-enforcement <= {target:g}"
    else:
        index = int(np.flatnonzero(1.0 - tpr <= target)[0])  # tpr[-1] == 1, so one always exists
        goal = f"lowest over-enforcement with leakage <= {target:g}"
    threshold = float(cut[index]) if np.isfinite(cut[index]) else None
    actioned = score >= cut[index]
    rates = {"over_enforcement": wilson(int((actioned & ~violating).sum()), int((~violating).sum())),
             "leakage": wilson(int((~actioned & violating).sum()), int(violating.sum()))}
    [gate] = evaluate_gates({metric: GateSpec(max=target)}, rates)
    return {"goal": goal, "threshold": threshold, **rates, "gate_status": gate["status"]}


def _compact(fpr: np.ndarray, tpr: np.ndarray, cut: np.ndarray) -> dict[str, list[float | None]]:
    """At most MAX_POINTS points, evenly spaced along the curve, ends kept."""
    keep = np.unique(np.round(np.linspace(0, len(cut) - 1, min(MAX_POINTS, len(cut)))).astype(int))
    return {"threshold": [float(c) if np.isfinite(c) else None for c in cut[keep]],
            "over_enforcement": [float(v) for v in fpr[keep]],
            "leakage": [float(1.0 - v) for v in tpr[keep]]}
