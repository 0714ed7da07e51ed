"""Figures computed from verdicts for the report: confusion counts, threshold curves, agreement."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.config import BENIGN
from harness.reporting.fmt import number
from harness.verdicts import ABSTAINED, ACTIONED, ALLOWED, DECISIONS

GOLD = "gold"


@dataclass(frozen=True)
class Confusion:
    reviewer: str
    # rows: gold benign, gold violating; columns: actioned, allowed, abstained
    counts: list[list[int]]


@dataclass(frozen=True)
class Curve:
    reviewer: str
    over_enforcement: list[float]
    leakage: list[float]
    thresholds: list[float]
    items: int


@dataclass(frozen=True)
class Agreement:
    names: list[str]
    # kappa[i][j]; None when undefined (no shared decided items, or one side constant)
    kappa: list[list[float | None]]
    shared: list[list[int]]


def confusions(per_item: pd.DataFrame, reviewers: list[str]) -> list[Confusion]:
    out = []
    for reviewer in reviewers:
        frame = per_item[per_item["reviewer"] == reviewer]
        benign = (frame["gold"] == BENIGN).to_numpy()
        decision = frame["decision"].to_numpy()
        counts = [[int(((decision == d) & row).sum()) for d in DECISIONS] for row in (benign, ~benign)]
        out.append(Confusion(reviewer, counts))
    return out


def curves(per_item: pd.DataFrame, reviewers: list[str]) -> list[Curve]:
    """Over-enforcement vs leakage over every score threshold (score = belief the item violates)."""
    from sklearn.metrics import roc_curve

    out = []
    for reviewer in reviewers:
        frame = per_item[(per_item["reviewer"] == reviewer) & (per_item["decision"] != ABSTAINED)]
        score = pd.to_numeric(frame["score"], errors="coerce") if "score" in frame else pd.Series(dtype=float)
        keep = np.isfinite(score.to_numpy(dtype=float)) if len(score) else np.array([], dtype=bool)
        if not keep.any():
            continue
        violating = (frame["gold"] != BENIGN).to_numpy()[keep]
        if violating.all() or not violating.any():
            continue
        fpr, tpr, thresholds = roc_curve(violating.astype(int), score.to_numpy(dtype=float)[keep])
        finite = np.isfinite(thresholds)
        out.append(Curve(reviewer, [float(x) for x in fpr], [float(1 - x) for x in tpr],
                         [float(t) if ok else 1.0 for t, ok in zip(thresholds, finite)], int(keep.sum())))
    return out


def agreement(per_item: pd.DataFrame, reviewers: list[str]) -> Agreement | None:
    """Cohen's kappa between reviewers and with gold, on items both sides decided (2+ reviewers)."""
    if len(reviewers) < 2 or per_item.empty:
        return None
    from sklearn.metrics import cohen_kappa_score

    wide = per_item.pivot_table(index="item_id", columns="reviewer", values="decision", aggfunc="first")
    gold = per_item.drop_duplicates("item_id").set_index("item_id")["gold"]
    labels = {name: wide[name].map({ACTIONED: 1, ALLOWED: 0}) if name in wide else pd.Series(dtype=float)
              for name in reviewers}
    labels[GOLD] = (gold != BENIGN).astype(int)
    names = [*reviewers, GOLD]
    kappa: list[list[float | None]] = []
    shared: list[list[int]] = []
    for a in names:
        kappa.append([])
        shared.append([])
        for b in names:
            both = pd.concat([labels[a], labels[b]], axis=1, join="inner").dropna()
            shared[-1].append(int(len(both)))
            kappa[-1].append(_kappa(cohen_kappa_score, both) if len(both) else None)
    return Agreement(names, kappa, shared)


def _kappa(score: Callable[..., float], both: pd.DataFrame) -> float | None:
    left, right = both.iloc[:, 0].astype(int), both.iloc[:, 1].astype(int)
    if left.nunique() < 2 and right.nunique() < 2:
        # Both constant: kappa is undefined (0/0), whether or not they agree.
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return number(score(left, right))
