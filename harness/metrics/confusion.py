"""Over-enforcement, leakage and false-action share from verdicts joined with gold labels."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from harness.config import BENIGN
from harness.metrics.rates import SMALL_SAMPLE, wilson
from harness.verdicts import ABSTAINED, ACTIONED, ALLOWED


def rates(frame: pd.DataFrame) -> dict[str, Any]:
    """Headline rates for one reviewer x policy; `frame` has columns gold and decision."""
    benign = frame["gold"].to_numpy() == BENIGN
    decision = frame["decision"].to_numpy()
    actioned, allowed, abstained = decision == ACTIONED, decision == ALLOWED, decision == ABSTAINED
    decided = ~abstained
    out: dict[str, Any] = {
        "items": int(len(frame)),
        "benign": int(benign.sum()),
        "violating": int((~benign).sum()),
        "over_enforcement": wilson(int((actioned & benign).sum()), int((decided & benign).sum())),
        "leakage": wilson(int((allowed & ~benign).sum()), int((decided & ~benign).sum())),
        "false_action_share": wilson(int((actioned & benign).sum()), int(actioned.sum())),
        "abstained": int(abstained.sum()),
        "abstention_rate": wilson(int(abstained.sum()), int(len(frame))),
    }
    warnings = []
    for name in ("over_enforcement", "leakage"):
        n = out[name]["n"]
        if n == 0:
            warnings.append(f"{name}: no decided {'benign' if name == 'over_enforcement' else 'violating'} items")
        elif n < SMALL_SAMPLE:
            warnings.append(f"{name}: only {n} items, interval is wide")
    out["warnings"] = warnings
    return out


def category_rates(frame: pd.DataFrame, category_ids: list[str]) -> dict[str, Any]:
    """Per violating category: leakage among items of that gold category, over-enforcement as
    benign items actioned under that category, and right-to-action-wrong-category counts."""
    gold = frame["gold"].to_numpy()
    decision = frame["decision"].to_numpy()
    predicted = frame["categories"].fillna("").astype(str).to_numpy()
    benign = gold == BENIGN
    decided = decision != ABSTAINED
    out: dict[str, Any] = {}
    for cid in category_ids:
        has_cat = np.array([cid in p.split(";") for p in predicted])
        of_cat = gold == cid
        actioned = decision == ACTIONED
        out[cid] = {
            "items": int(of_cat.sum()),
            "leakage": wilson(int((of_cat & (decision == ALLOWED)).sum()), int((of_cat & decided).sum())),
            "over_enforcement": wilson(int((benign & actioned & has_cat).sum()), int((benign & decided).sum())),
            "wrong_category": int((of_cat & actioned & ~has_cat & (predicted != "")).sum()),
        }
    return out


def slice_rates(frame: pd.DataFrame, slices: list[str]) -> dict[str, dict[str, Any]]:
    """Rates for every value of every slice column."""
    out: dict[str, dict[str, Any]] = {}
    for column in slices:
        out[column] = {str(value): rates(group) for value, group in frame.groupby(column, sort=True)}
    return out
