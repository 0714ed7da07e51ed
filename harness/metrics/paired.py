"""Paired statistics: two policy versions judged by the same reviewer on the same items (McNemar, Newcombe)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from pydantic import TypeAdapter
from scipy.stats import binom
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from harness.labels import BENIGN
from harness.metrics.counts import COUNT, ITEM_KEY, Groups, Labels, multiplicity, records, tally, with_item_keys
from harness.metrics.rates import wilson_bounds
from harness.record.metrics import ByGold, Flip, PairedChange, PairedComparison, PairedCounts, SliceAdjustment
from harness.verdicts import ABSTAINED, ACTIONED, ALLOWED

# The flips (a record per changed item, 100,000 at scale) are validated as one list in pydantic-core:
# 0.9 s for 100,000, where `Flip.model_construct` row by row took 1.7 s.
_FLIPS = TypeAdapter(list[Flip])


def paired_comparison(before: pd.DataFrame, after: pd.DataFrame, slices: list[str],
                      adjust: str = "holm") -> PairedComparison:
    """`before`/`after`: one row per item with item_id, gold, decision (+ slices, text, rationale).

    Per-slice p-values are also given adjusted for the number of slices tested (`adjust`:
    'holm' or 'fdr_bh'), since some slice will look changed by chance when there are many."""
    before, after = with_item_keys(before, after)
    joined = before.merge(after[[ITEM_KEY, "decision", "rationale", "rule_ids"]], on=ITEM_KEY,
                          suffixes=("_before", "_after"), validate="one_to_one")
    masks = _paired_masks(joined) if slices else []
    count = multiplicity(joined) if COUNT in joined else None
    by_slice: dict[str, dict[str, PairedCounts]] = {}
    for column in slices:
        groups = Groups(joined[column])
        counts = groups.sums(masks, count)
        by_slice[column] = {key: _paired_from_counts(counts[i]) for i, key in enumerate(groups.keys)}
    adjustment = adjust_slice_p_values(by_slice, adjust)
    flips = joined[joined["decision_before"] != joined["decision_after"]]
    keep = ["item_id", "text", "gold", "decision_before", "decision_after", "rationale_before",
            "rationale_after", *slices]
    return PairedComparison(**dict(_paired(joined)),
                            only_in_before=int(multiplicity(before).sum() - multiplicity(joined).sum()),
                            only_in_after=int(multiplicity(after).sum() - multiplicity(joined).sum()),
                            slices=by_slice, slice_adjustment=adjustment,
                            flips=_FLIPS.validate_python(records(flips[[c for c in keep if c in flips.columns]])))


def _paired(joined: pd.DataFrame) -> PairedCounts:
    count = multiplicity(joined)
    return _paired_from_counts([tally(m, count) for m in _paired_masks(joined)])


def _paired_masks(joined: pd.DataFrame) -> list[np.ndarray]:
    """The row masks whose counts make `_paired`, in the order `_paired_from_counts` reads them."""
    benign = Labels(joined["gold"], na="nan").equals(BENIGN)
    before, after = Labels(joined["decision_before"], na="nan"), Labels(joined["decision_after"], na="nan")
    decided = ~before.equals(ABSTAINED) & ~after.equals(ABSTAINED)
    actioned_b, actioned_a = before.equals(ACTIONED), after.equals(ACTIONED)
    allowed_b, allowed_a = before.equals(ALLOWED), after.equals(ALLOWED)
    right_b = decided & (actioned_b != benign)
    right_a = decided & (actioned_a != benign)
    fixed = decided & ~right_b & right_a
    broken = decided & right_b & ~right_a
    newly_actioned = ~actioned_b & actioned_a
    newly_allowed = ~allowed_b & allowed_a
    masks = [np.ones(len(joined), dtype=bool), decided]
    for mask in (newly_actioned, newly_allowed, fixed, broken):
        masks += [mask & benign, mask & ~benign]
    for b, a, among in ((actioned_b, actioned_a, decided & benign), (allowed_b, allowed_a, decided & ~benign)):
        masks += [b & a & among, b & ~a & among, ~b & a & among, among]
    return masks


def _paired_from_counts(counts: Sequence[int]) -> PairedCounts:
    (items, decided, na_benign, na_violating, nl_benign, nl_violating, fixed_benign, fixed_violating,
     broken_benign, broken_violating, *changes) = (int(c) for c in counts)
    return PairedCounts(
        items=items,
        paired_decided=decided,
        newly_actioned=ByGold(benign=na_benign, violating=na_violating),
        newly_allowed=ByGold(benign=nl_benign, violating=nl_violating),
        fixed=ByGold(benign=fixed_benign, violating=fixed_violating),
        broken=ByGold(benign=broken_benign, violating=broken_violating),
        accuracy_mcnemar_p=_mcnemar_p(fixed_benign + fixed_violating, broken_benign + broken_violating),
        over_enforcement_change=_change_from_counts(changes[0:4]),
        leakage_change=_change_from_counts(changes[4:8]),
    )


def _change_from_counts(counts: Sequence[int]) -> PairedChange:
    """(both, down, up, all) among the items of one rate -> `paired_change`."""
    both, down, up, total = counts
    return paired_change(both, down, up, total - both - down - up)


def _mcnemar_p(fixed: int, broken: int) -> float:
    """Exact McNemar p-value on the discordant pairs (1.0 when there are none)."""
    if fixed + broken == 0:
        return 1.0
    return float(mcnemar(np.array([[0, fixed], [broken, 0]]), exact=True).pvalue)


def paired_change(both: int, down: int, up: int, neither: int, alpha: float = 0.05) -> PairedChange:
    """From the paired 2x2 counts: positive in both versions, only before (down), only after (up), neither.

    The interval is Newcombe's square-and-add (hybrid score) interval for a difference of paired
    proportions, which keeps its coverage with small counts where the Wald interval does not; the
    exact McNemar p-value is the headline test, the mid-p beside it is the less conservative one
    recommended by Fagerland, Lydersen & Laake (BMC Med Res Methodol 13:91, 2013).
    """
    n = both + down + up + neither
    if n == 0:
        return PairedChange(before=None, after=None, change=None, ci_low=None, ci_high=None, p_value=None,
                            p_value_mid=None, n=0, up=0, down=0, ci_method=CI_METHOD)
    low, high = newcombe_paired_interval(both, down, up, neither, alpha)
    return PairedChange(before=(both + down) / n, after=(both + up) / n, change=(up - down) / n, ci_low=low,
                        ci_high=high, p_value=_mcnemar_p(up, down), p_value_mid=_mcnemar_mid_p(up, down), n=n, up=up,
                        down=down, ci_method=CI_METHOD)


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


def adjust_slice_p_values(slices: dict[str, dict[str, PairedCounts]], method: str = "holm") -> SliceAdjustment:
    """Adjust every per-slice change p-value of one comparison as one family (statsmodels
    multipletests: 'holm' controls the family-wise error, 'fdr_bh' the false discovery rate)."""
    # A slice with no discordant pair is not a test (its p is 1 by construction), so it does not
    # count in the family: counting it would make Holm stricter for no reason.
    changes = [change for by_value in slices.values() for group in by_value.values()
               for change in (group.over_enforcement_change, group.leakage_change)
               if change.p_value is not None and change.up + change.down > 0]
    if changes:
        adjusted = multipletests([c.p_value for c in changes], alpha=0.05, method=method)[1]
        for change, value in zip(changes, adjusted):
            change.p_adjusted = float(value)
    return SliceAdjustment(method=method, tests=len(changes))
