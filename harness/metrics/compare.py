"""Paired comparison of two policy versions judged by the same reviewer on the same items."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binom
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from harness.labels import BENIGN
from harness.metrics.rates import wilson_bounds
from harness.verdicts import ABSTAINED, ACTIONED, ALLOWED


def paired_comparison(before: pd.DataFrame, after: pd.DataFrame, slices: list[str],
                      adjust: str = "holm") -> dict[str, Any]:
    """`before`/`after`: one row per item with item_id, gold, decision (+ slices, text, rationale).

    Per-slice p-values are also given adjusted for the number of slices tested (`adjust`:
    'holm' or 'fdr_bh'), since some slice will look changed by chance when there are many."""
    joined = before.merge(after[["item_id", "decision", "rationale", "rule_ids"]], on="item_id",
                          suffixes=("_before", "_after"), validate="one_to_one")
    out = _paired(joined)
    out["only_in_before"] = int(len(before) - len(joined))
    out["only_in_after"] = int(len(after) - len(joined))
    out["slices"] = {
        column: {str(value): _paired(group) for value, group in joined.groupby(column, sort=True)}
        for column in slices
    }
    out["slice_adjustment"] = adjust_slice_p_values(out["slices"], adjust)
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
    """Change in a rate between paired versions (after - before) among the items in `mask`."""
    both = int((before & after & mask).sum())
    down = int((before & ~after & mask).sum())
    up = int((~before & after & mask).sum())
    return paired_change(both, down, up, int(mask.sum()) - both - down - up)


def paired_change(both: int, down: int, up: int, neither: int, alpha: float = 0.05) -> dict[str, Any]:
    """From the paired 2x2 counts: positive in both versions, only before (down), only after (up), neither.

    The interval is Newcombe's square-and-add (hybrid score) interval for a difference of paired
    proportions, which keeps its coverage with small counts where the Wald interval does not; the
    exact McNemar p-value is the headline test, the mid-p beside it is the less conservative one
    recommended by Fagerland, Lydersen & Laake (BMC Med Res Methodol 13:91, 2013).
    """
    n = both + down + up + neither
    if n == 0:
        return {"before": None, "after": None, "change": None, "ci_low": None, "ci_high": None,
                "p_value": None, "p_value_mid": None, "n": 0, "up": 0, "down": 0, "ci_method": CI_METHOD}
    low, high = newcombe_paired_interval(both, down, up, neither, alpha)
    return {"before": (both + down) / n, "after": (both + up) / n, "change": (up - down) / n,
            "ci_low": low, "ci_high": high, "p_value": _mcnemar_p(up, down), "p_value_mid": _mcnemar_mid_p(up, down),
            "n": n, "up": up, "down": down, "ci_method": CI_METHOD}


CI_METHOD = "newcombe square-and-add (method 10)"


def newcombe_paired_interval(both: int, down: int, up: int, neither: int, alpha: float = 0.05) -> tuple[float, float]:
    """Interval for (after - before) from paired counts; statsmodels and scipy have no paired one.

    Newcombe, Stat Med 17:2635-2650 (1998), method 10: Wilson intervals of the two marginal rates
    combined with the phi correlation of the 2x2 table (phi shrunk by N/2 towards 0 when positive,
    as in Newcombe's paper and Fagerland, Lydersen & Laake, Statistical Analysis of Contingency
    Tables, 2017, section 8.5).
    """
    n = both + down + up + neither
    after, before = (both + up) / n, (both + down) / n
    l_after, u_after = (float(v) for v in wilson_bounds(np.asarray(both + up), np.asarray(n), alpha))
    l_before, u_before = (float(v) for v in wilson_bounds(np.asarray(both + down), np.asarray(n), alpha))
    margins = (both + up) * (down + neither) * (both + down) * (up + neither)
    cross = both * neither - up * down
    phi = 0.0
    if margins > 0:
        phi = (cross - n / 2) / math.sqrt(margins) if cross > n / 2 else min(cross, 0) / math.sqrt(margins)
    diff = after - before
    d_low = (after - l_after) ** 2 - 2 * phi * (after - l_after) * (u_before - before) + (u_before - before) ** 2
    d_high = (u_after - after) ** 2 - 2 * phi * (u_after - after) * (before - l_before) + (before - l_before) ** 2
    return max(-1.0, diff - math.sqrt(max(d_low, 0.0))), min(1.0, diff + math.sqrt(max(d_high, 0.0)))


def _mcnemar_mid_p(up: int, down: int) -> float:
    """Mid-p McNemar (Fagerland, Lydersen & Laake 2013): the probability of a more extreme table
    plus half that of the observed one. At a tie no table is less extreme, so it is 1 - pmf/2,
    not the doubled one-sided value (which would give 1.0)."""
    total = up + down
    if total == 0:
        return 1.0
    low = min(up, down)
    if up == down:
        return float(1.0 - binom.pmf(low, total, 0.5) / 2)
    return float(min(1.0, 2 * binom.cdf(low, total, 0.5) - binom.pmf(low, total, 0.5)))


def adjust_slice_p_values(slices: dict[str, dict[str, dict[str, Any]]], method: str = "holm") -> dict[str, Any]:
    """Adjust every per-slice change p-value of one comparison as one family (statsmodels
    multipletests: 'holm' controls the family-wise error, 'fdr_bh' the false discovery rate)."""
    # A slice with no discordant pair is not a test (its p is 1 by construction), so it does not
    # count in the family: counting it would make Holm stricter for no reason.
    changes = [group[name] for by_value in slices.values() for group in by_value.values()
               for name in ("over_enforcement_change", "leakage_change")
               if group[name]["p_value"] is not None and group[name]["up"] + group[name]["down"] > 0]
    if changes:
        adjusted = multipletests([c["p_value"] for c in changes], alpha=0.05, method=method)[1]
        for change, value in zip(changes, adjusted):
            change["p_adjusted"] = float(value)
    for by_value in slices.values():
        for group in by_value.values():
            for name in ("over_enforcement_change", "leakage_change"):
                group[name].setdefault("p_adjusted", None)
    return {"method": method, "tests": len(changes)}
