"""Agreement between reviewers, and with gold: Cohen's kappa per pair, Krippendorff's alpha over all
reviewers, and the items they disagree on (where a policy is ambiguous or gold may be wrong)."""

from __future__ import annotations

import itertools
import warnings as python_warnings
from typing import NamedTuple

import numpy as np
import pandas as pd
from statsmodels.stats.inter_rater import cohens_kappa

from harness.metrics.confusion import gold_status
from harness.metrics.counts import COUNT, ITEM_KEY, multiplicity, tally, with_item_keys
from harness.metrics.rates import finite_or_none
from harness.record.metrics import Agreement, Alpha, Kappa, KappaPair, Listed, ListedItem
from harness.verdicts import ACTIONED, ALLOWED

MAX_LISTED = 200
TEXT_CHARS = 300


def agreement(per_item: pd.DataFrame) -> Agreement:
    """`per_item`: one decided-or-abstained row per item x reviewer of one policy version, with gold.

    Decisions are compared as actioned / allowed; an abstention is a missing rating (left out of a
    kappa pair, and handled as missing by Krippendorff's alpha), never a third answer.
    """
    [per_item] = with_item_keys(per_item)
    table = per_item.pivot_table(index=ITEM_KEY, columns="reviewer", values="decision", aggfunc="first")
    reviewers = [str(r) for r in table.columns]
    decisions = table.to_numpy()
    ratings = pd.DataFrame(np.where(decisions == ACTIONED, 1.0, np.where(decisions == ALLOWED, 0.0, np.nan)),
                           index=table.index, columns=table.columns)
    columns = [c for c in ("item_id", "gold", "text", COUNT) if c in per_item]
    items = per_item[[ITEM_KEY, *columns]].drop_duplicates(ITEM_KEY).set_index(ITEM_KEY).reindex(table.index)
    _, violating, unknown = gold_status(items)
    gold = np.where(unknown, np.nan, violating.astype(float))  # unknown gold is no rating
    count = multiplicity(items)
    notes: list[str] = []
    with_gold = {r: _kappa(gold, ratings[r].to_numpy(), count, f"{r} vs gold", notes) for r in reviewers}
    pairs = [KappaPair(a=a, b=b, **dict(_kappa(ratings[a].to_numpy(), ratings[b].to_numpy(), count, f"{a} vs {b}",
                                               notes)))
             for a, b in itertools.combinations(reviewers, 2)]
    alpha = _alpha(ratings.to_numpy().T, count, notes) if len(reviewers) >= 2 else None
    absent = None
    if len(reviewers) < 2:
        absent = f"Krippendorff's alpha needs two or more reviewers; only {len(reviewers)} judged these items"
        notes.append(absent)
    found = _disagreements(ratings, gold, items, table, count)
    return Agreement(scale="actioned vs allowed; abstentions are missing ratings", reviewers=reviewers,
                     with_gold=with_gold, pairs=pairs, krippendorff_alpha=alpha, krippendorff_alpha_absent=absent,
                     split=found.split, all_wrong=found.all_wrong, all_wrong_abstained=found.all_wrong_abstained,
                     all_wrong_unjudged=found.all_wrong_unjudged, warnings=notes)


def _kappa(x: np.ndarray, y: np.ndarray, count: np.ndarray, label: str, notes: list[str]) -> Kappa:
    """Each item counts `count` times: statsmodels' kappa of the 2x2 table of counted agreements."""
    both = ~np.isnan(x) & ~np.isnan(y)
    n = tally(both, count)
    if n == 0:
        notes.append(f"{label}: no item rated by both; no kappa")
        return Kappa(kappa=None, agreement=None, n=0)
    a, b, w = x[both].astype(int), y[both].astype(int), count[both]
    observed = tally(a == b, w) / n
    if len(set(a) | set(b)) < 2:
        # Both raters gave one and the same answer throughout: chance agreement is 1, kappa is 0/0.
        notes.append(f"{label}: every rating is the same answer; kappa is undefined")
        return Kappa(kappa=None, agreement=observed, n=n)
    table = np.zeros((2, 2))
    np.add.at(table, (a, b), w)
    with python_warnings.catch_warnings():
        python_warnings.simplefilter("ignore", RuntimeWarning)
        kappa = float(cohens_kappa(table, return_results=False))
    return Kappa(kappa=finite_or_none(kappa), agreement=observed, n=n)


def _alpha(reliability: np.ndarray, count: np.ndarray, notes: list[str]) -> Alpha:
    """Nominal Krippendorff's alpha over reviewers x items, each item counting `count` times.

    From the coincidence matrix (Krippendorff, "Computing Krippendorff's Alpha-Reliability", 2011):
    alpha = 1 - (n - 1) o_01 / (n_0 n_1). The `krippendorff` package takes no unit weights, which a
    collapsed prediction log needs; tests/metrics check this gives the package's value."""
    pairable = (~np.isnan(reliability)).sum(axis=0) >= 2
    rated = reliability[:, pairable]
    values = set(rated[~np.isnan(rated)].tolist())
    items = tally(pairable, count)
    if not pairable.any() or len(values) < 2:
        notes.append("Krippendorff's alpha: fewer than two items rated twice, or one answer throughout; undefined")
        return Alpha(alpha=None, raters=int(reliability.shape[0]), items=items)
    ones, zeros = (rated == 1).sum(axis=0), (rated == 0).sum(axis=0)
    w = count[pairable] / (ones + zeros - 1)
    o_01, o_00, o_11 = (w * ones * zeros).sum(), (w * zeros * (zeros - 1)).sum(), (w * ones * (ones - 1)).sum()
    n_0, n_1 = o_00 + o_01, o_11 + o_01
    value = float(1.0 - (n_0 + n_1 - 1) * o_01 / (n_0 * n_1))
    return Alpha(alpha=finite_or_none(value), raters=int(reliability.shape[0]), items=items)


class _Disagreements(NamedTuple):
    split: Listed
    all_wrong: Listed
    all_wrong_abstained: int  # wrong for every reviewer that decided, while another abstained
    all_wrong_unjudged: int  # ... while another never judged the item (outside its sample)


def _disagreements(ratings: pd.DataFrame, gold: np.ndarray, items: pd.DataFrame,
                   decisions: pd.DataFrame, count: np.ndarray) -> _Disagreements:
    """Items the reviewers split on, and items every deciding reviewer got wrong against gold."""
    values = ratings.to_numpy()
    decided = ~np.isnan(values)
    some = decided.any(axis=1)
    with np.errstate(invalid="ignore"):
        actioned = np.nansum(values, axis=1)
    split = some & (actioned > 0) & (actioned < decided.sum(axis=1))
    wrong = some & ~np.isnan(gold) & (np.where(decided, values != gold[:, None], True).all(axis=1))
    # Of the items not every reviewer decided: one abstained, or one never judged it (outside its sample).
    unjudged = decisions.isna().to_numpy()
    abstained = (~decided & ~unjudged).any(axis=1)
    partial = wrong & ~decided.all(axis=1)
    return _Disagreements(split=_listed(split, decisions, items, count), all_wrong=_listed(wrong, decisions, items, count),
                          all_wrong_abstained=tally(partial & abstained, count),
                          all_wrong_unjudged=tally(partial & ~abstained, count))


def _listed(mask: np.ndarray, decisions: pd.DataFrame, items: pd.DataFrame, count: np.ndarray) -> Listed:
    rows = []
    # `items` is aligned with `decisions`: rows are taken by position, not looked up by id.
    at = np.flatnonzero(mask)[:MAX_LISTED]
    reviewers = [str(r) for r in decisions.columns]
    texts = items["text"].to_numpy()[at] if "text" in items else [""] * len(at)
    for item_id, gold, text, row in zip(items["item_id"].to_numpy()[at], items["gold"].to_numpy()[at], texts,
                                        decisions.to_numpy()[at]):
        rows.append(ListedItem(item_id=str(item_id), gold=str(gold), text="" if pd.isna(text) else str(text)[:TEXT_CHARS],
                               decisions={r: ("not judged" if pd.isna(v) else str(v)) for r, v in zip(reviewers, row)}))
    return Listed(count=tally(mask, count), items=rows)
