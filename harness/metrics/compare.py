"""Paired comparison of two policy versions judged by the same reviewer on the same items."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm
from statsmodels.stats.contingency_tables import mcnemar

from harness.config import BENIGN
from harness.verdicts import ABSTAINED, ACTIONED, ALLOWED


def paired_comparison(before: pd.DataFrame, after: pd.DataFrame, slices: list[str]) -> dict[str, Any]:
    """`before`/`after`: one row per item with item_id, gold, decision (+ slices, text, rationale)."""
    joined = before.merge(after[["item_id", "decision", "rationale", "rule_ids"]], on="item_id",
                          suffixes=("_before", "_after"), validate="one_to_one")
    out = _paired(joined)
    out["only_in_before"] = int(len(before) - len(joined))
    out["only_in_after"] = int(len(after) - len(joined))
    out["slices"] = {
        column: {str(value): _paired(group) for value, group in joined.groupby(column, sort=True)}
        for column in slices
    }
    flips = joined[joined["decision_before"] != joined["decision_after"]]
    keep = ["item_id", "text", "gold", "decision_before", "decision_after", "rationale_before",
            "rationale_after", *slices]
    out["flips"] = flips[[c for c in keep if c in flips.columns]].to_dict(orient="records")
    return out


def _paired(joined: pd.DataFrame) -> dict[str, Any]:
    benign = joined["gold"].to_numpy() == BENIGN
    b, a = joined["decision_before"].to_numpy(), joined["decision_after"].to_numpy()
    decided = (b != ABSTAINED) & (a != ABSTAINED)
    right_b = decided & ((b == ACTIONED) != benign)
    right_a = decided & ((a == ACTIONED) != benign)
    fixed = decided & ~right_b & right_a
    broken = decided & right_b & ~right_a
    newly_actioned = (b != ACTIONED) & (a == ACTIONED)
    newly_allowed = (b != ALLOWED) & (a == ALLOWED)
    return {
        "items": int(len(joined)),
        "paired_decided": int(decided.sum()),
        "newly_actioned": {"benign": int((newly_actioned & benign).sum()), "violating": int((newly_actioned & ~benign).sum())},
        "newly_allowed": {"benign": int((newly_allowed & benign).sum()), "violating": int((newly_allowed & ~benign).sum())},
        "fixed": {"benign": int((fixed & benign).sum()), "violating": int((fixed & ~benign).sum())},
        "broken": {"benign": int((broken & benign).sum()), "violating": int((broken & ~benign).sum())},
        "accuracy_mcnemar_p": _mcnemar_p(int(fixed.sum()), int(broken.sum())),
        "over_enforcement_change": _paired_change(b == ACTIONED, a == ACTIONED, decided & benign),
        "leakage_change": _paired_change(b == ALLOWED, a == ALLOWED, decided & ~benign),
    }


def _mcnemar_p(fixed: int, broken: int) -> float:
    """Exact McNemar p-value on the discordant pairs (1.0 when there are none)."""
    if fixed + broken == 0:
        return 1.0
    return float(mcnemar(np.array([[0, fixed], [broken, 0]]), exact=True).pvalue)


def _paired_change(before: np.ndarray, after: np.ndarray, mask: np.ndarray) -> dict[str, Any]:
    """Change in a rate between paired versions, with McNemar's exact p-value.

    The interval is the paired Wald interval for a difference of dependent proportions
    (Agresti, Categorical Data Analysis, 10.1); statsmodels has no paired-difference interval.
    """
    n = int(mask.sum())
    if n == 0:
        return {"before": None, "after": None, "change": None, "ci_low": None, "ci_high": None,
                "p_value": None, "n": 0, "up": 0, "down": 0}
    up = int((~before & after & mask).sum())
    down = int((before & ~after & mask).sum())
    p_before, p_after = float(before[mask].mean()), float(after[mask].mean())
    diff = (up - down) / n
    variance = max((up + down) / n - diff**2, 0.0) / n
    half = float(norm.ppf(0.975)) * math.sqrt(variance)
    return {"before": p_before, "after": p_after, "change": diff,
            "ci_low": max(-1.0, diff - half), "ci_high": min(1.0, diff + half),
            "p_value": _mcnemar_p(up, down), "n": n, "up": up, "down": down}
