"""Threshold analysis for reviewers that give a score (classifier probability, an LLM's P(violation)
from log-probabilities or stated confidence): the over-enforcement vs leakage curve (the ROC curve
read as the two error rates), AUC with its DeLong interval, the precision-recall curve, the threshold
that meets a gate, and that threshold chosen on a dev split and confirmed on the held-out split."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from harness.config import GateSpec
from harness.metrics.confusion import gold_status
from harness.metrics.gates import gate_status
from harness.metrics.rates import finite_or_none, wilson
from harness.metrics.split import split_items
from harness.record.metrics import Curve, HeldOutPoint, OperatingPoint, PRCurve, Thresholds

MAX_POINTS = 101
DEFAULT_TARGETS = {"over_enforcement": 0.02}
HOLDOUT_SHARE, SPLIT_SEED = 0.5, 0
Z95 = 1.959963984540054


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
    from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve  # only scoring reviewers import it

    fpr, tpr, cut = roc_curve(violating, score, drop_intermediate=False)
    auc = finite_or_none(roc_auc_score(violating, score))
    low, high = delong_interval(violating, score)
    targets = _targets(gates)
    keys = frame.loc[scored, ["item_id", "gold"]] if {"item_id", "gold"} <= set(frame) else None
    held_out, split, warnings = _held_out(targets, keys, score, violating)
    return Thresholds(**counts._asdict(), rule=RULE, note=NOTE, warnings=warnings, auc=auc,
                      curve=_compact(fpr, tpr, cut),
                      operating_points=[_operating_point(metric, target, fpr, tpr, cut, score, violating)
                                        for metric, target in targets.items()],
                      auc_ci_low=low, auc_ci_high=high,
                      average_precision=finite_or_none(average_precision_score(violating, score)),
                      pr_curve=_pr_curve(violating, score), held_out=held_out, split=split)


def delong_interval(violating: np.ndarray, score: np.ndarray) -> tuple[float | None, float | None]:
    """95% interval of the AUC from DeLong's variance (DeLong et al. 1988; the fast form of Sun and Xu
    2014: midranks of each class), clipped to [0, 1]; None when a class has fewer than two items."""
    from scipy.stats import rankdata

    positives, negatives = score[violating], score[~violating]
    m, n = len(positives), len(negatives)
    if m < 2 or n < 2:
        return None, None
    all_ranks = rankdata(np.concatenate([positives, negatives]))
    pos_in, neg_in = rankdata(positives), rankdata(negatives)
    auc = (all_ranks[:m].sum() - m * (m + 1) / 2) / (m * n)
    v10 = (all_ranks[:m] - pos_in) / n  # each violating item: share of benign items it outranks
    v01 = 1.0 - (all_ranks[m:] - neg_in) / m  # each benign item: share of violating items above it
    se = float(np.sqrt(np.var(v10, ddof=1) / m + np.var(v01, ddof=1) / n))
    return max(0.0, float(auc - Z95 * se)), min(1.0, float(auc + Z95 * se))


def _held_out(targets: dict[str, float], keys: pd.DataFrame | None, score: np.ndarray,
              violating: np.ndarray) -> tuple[list[HeldOutPoint] | None, str | None, list[str]]:
    """Each goal's threshold chosen on a seeded dev half (stratified by gold, as `revise` splits) and
    its rates on the other half; None with a warning when either half lacks a gold class. `keys`: the
    scored items' ids and gold labels."""
    if keys is None or keys["item_id"].duplicated().any():
        return None, None, []
    ids = keys["item_id"].astype(str).to_numpy()
    split = split_items(keys.astype({"item_id": str}), holdout=HOLDOUT_SHARE, seed=SPLIT_SEED)
    held = np.isin(ids, split.holdout)
    dev = ~held
    if len({*violating[dev]}) < 2 or len({*violating[held]}) < 2:
        return None, None, ["too few items of one gold class to choose a threshold on dev and confirm it on held-out"]
    from sklearn.metrics import roc_curve

    fpr, tpr, cut = roc_curve(violating[dev], score[dev], drop_intermediate=False)
    points = []
    for metric, target in targets.items():
        chosen = _operating_point(metric, target, fpr, tpr, cut, score[dev], violating[dev])
        actioned = score[held] >= (chosen.threshold if chosen.threshold is not None else np.inf)
        oe = wilson(int((actioned & ~violating[held]).sum()), int((~violating[held]).sum()))
        leak = wilson(int((~actioned & violating[held]).sum()), int(violating[held].sum()))
        status = gate_status(GateSpec(max=target), oe if metric == "over_enforcement" else leak)
        points.append(HeldOutPoint(goal=chosen.goal, threshold=chosen.threshold, dev_items=int(dev.sum()),
                                   held_out_items=int(held.sum()), over_enforcement=oe, leakage=leak,
                                   gate_status=status))
    how = (f"seeded {1 - HOLDOUT_SHARE:.0%} dev / {HOLDOUT_SHARE:.0%} held-out split stratified by gold "
           f"(seed {SPLIT_SEED}, as `revise` splits)")
    return points, how, []


def _pr_curve(violating: np.ndarray, score: np.ndarray) -> PRCurve:
    from sklearn.metrics import precision_recall_curve

    precision, recall, _ = precision_recall_curve(violating, score)
    keep = np.unique(np.round(np.linspace(0, len(recall) - 1, min(MAX_POINTS, len(recall)))).astype(int))
    return PRCurve(recall=[float(v) for v in recall[keep]], precision=[float(v) for v in precision[keep]])


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
