"""Consistency across languages: does a reviewer give the same verdict to the same content in each
language? Over parallel groups (items sharing a `parallel_id`): the share judged identically, each
language pair's disagreement with an exact McNemar test (Holm over the pairs), Cochran's Q across
all languages, and the groups that split."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from statsmodels.stats.contingency_tables import cochrans_q, mcnemar
from statsmodels.stats.multitest import multipletests

from harness.metrics.languages import ALPHA, language_column
from harness.metrics.rates import finite_or_none, wilson
from harness.record.consistency import CochranQ, Consistency, LanguagePair, SplitGroup
from harness.verdicts import ABSTAINED, ACTIONED

PARALLEL_ID = "parallel_id"
ORIGIN, MACHINE_TRANSLATED = "origin", "machine_translated"
SPLIT_CAP = 50
ITEMS_PER_SPLIT = 12
TEST = ("exact McNemar test per language pair over the groups judged in both, Holm-adjusted across pairs; "
        "Cochran's Q over the groups judged in every language")
_MIXED = 0.5  # a cell whose own items disagree; any value strictly between 0 and 1 would do


def consistency(frame: pd.DataFrame, slices: list[str], alpha: float = ALPHA) -> Consistency | None:
    """None unless the items carry parallel ids and a language slice, and some group was decided in two
    or more languages. `frame` holds one decided row per item (abstentions are left out here)."""
    column = language_column(slices)
    if column is None or PARALLEL_ID not in frame or column not in frame:
        return None
    rows = frame.loc[(frame[PARALLEL_ID].astype(str) != "") & (frame["decision"] != ABSTAINED),
                     [PARALLEL_ID, column, "decision", "item_id", "gold"]].astype({PARALLEL_ID: str, column: str})
    rows = rows.assign(actioned=(rows["decision"] == ACTIONED).astype(float))
    # One cell per group and language: 1 actioned, 0 allowed, _MIXED when that language's items disagree.
    cells = rows.groupby([PARALLEL_ID, column], sort=True)["actioned"].mean().unstack(column)
    cells = cells.where(cells.isna() | (cells == 0.0) | (cells == 1.0), _MIXED)
    cells = cells[cells.notna().sum(axis=1) >= 2]
    if cells.empty:
        return None
    values = cells.to_numpy(dtype=float)
    judged = ~np.isnan(values)
    all_actioned = np.where(judged, values == 1.0, True).all(axis=1)
    all_allowed = np.where(judged, values == 0.0, True).all(axis=1)
    identical = np.asarray(all_actioned | all_allowed, dtype=bool)
    languages = [str(c) for c in cells.columns]
    split_ids = [str(g) for g, same in zip(cells.index, identical, strict=True) if not same]
    origins = _origins(frame, column)
    machine_only = None if origins is None else sorted(
        lang for lang, counts in origins.items() if set(counts) == {MACHINE_TRANSLATED})
    return Consistency(column=column, test=TEST, alpha=alpha, groups=len(cells), origins=origins,
                       machine_only=machine_only,
                       identical=wilson(int(identical.sum()), len(cells)),
                       mixed_cells=int((values == _MIXED).sum()),
                       pairs=_pairs(values, languages, alpha), cochran_q=_cochran(values, languages),
                       split_total=len(split_ids), split=_split_groups(rows, cells, split_ids[:SPLIT_CAP], column))


def _origins(frame: pd.DataFrame, column: str) -> dict[str, dict[str, int]] | None:
    if ORIGIN not in frame:
        return None
    table = pd.crosstab(frame[column].astype(str), frame[ORIGIN].astype(str))
    return {str(language): {str(origin): int(n) for origin, n in row.items() if n}
            for language, row in table.iterrows()}


def _pairs(values: np.ndarray, languages: list[str], alpha: float) -> list[LanguagePair]:
    pairs: list[LanguagePair] = []
    for a, b in itertools.combinations(range(len(languages)), 2):
        x, y = values[:, a], values[:, b]
        both = np.isin(x, (0.0, 1.0)) & np.isin(y, (0.0, 1.0))
        x, y = x[both], y[both]
        first_only, second_only = int(((x == 1) & (y == 0)).sum()), int(((x == 0) & (y == 1)).sum())
        table = [[int(((x == 1) & (y == 1)).sum()), first_only], [second_only, int(((x == 0) & (y == 0)).sum())]]
        p = finite_or_none(mcnemar(table, exact=True).pvalue) if both.any() else None
        pairs.append(LanguagePair(first=languages[a], second=languages[b],
                                  disagreement=wilson(first_only + second_only, int(both.sum())),
                                  first_only=first_only, second_only=second_only, p=p, p_holm=None, flag=False))
    tested = [pair for pair in pairs if pair.p is not None]
    if tested:
        _, adjusted, _, _ = multipletests([pair.p for pair in tested], alpha=alpha, method="holm")
        for pair, p_holm in zip(tested, adjusted, strict=True):
            pair.p_holm = float(p_holm)
            pair.flag = pair.p_holm < alpha
    pairs.sort(key=lambda pair: (not pair.flag, -(pair.disagreement.rate or 0.0), pair.first, pair.second))
    return pairs


def _cochran(values: np.ndarray, languages: list[str]) -> CochranQ | None:
    """Over the groups with one decision in every language; needs three or more languages (with two,
    Q is McNemar's chi-square, and the pair's exact test is given instead)."""
    if len(languages) < 3:
        return None
    complete = np.isin(values, (0.0, 1.0)).all(axis=1)
    if not complete.any():
        return CochranQ(languages=languages, groups=0, statistic=None, df=len(languages) - 1, p=None)
    x = values[complete].astype(int)
    with np.errstate(invalid="ignore", divide="ignore"):
        # every group judged alike in every language: Q is 0/0; no evidence of a difference (p = 1)
        if (x.min(axis=1) == x.max(axis=1)).all():
            statistic, p = 0.0, 1.0
        else:
            result = cochrans_q(x)
            statistic, p = float(result.statistic), float(result.pvalue)
    return CochranQ(languages=languages, groups=int(complete.sum()), statistic=finite_or_none(statistic),
                    df=len(languages) - 1, p=finite_or_none(p))


def _split_groups(rows: pd.DataFrame, cells: pd.DataFrame, split_ids: list[str], column: str) -> list[SplitGroup]:
    names = {1.0: "actioned", 0.0: "allowed", _MIXED: "mixed"}
    members = rows[rows[PARALLEL_ID].isin(split_ids)]
    by_group = {str(g): part for g, part in members.groupby(PARALLEL_ID, sort=False)}
    out = []
    for group in split_ids:
        part = by_group[group]
        row = cells.loc[group].to_numpy(dtype=float)
        decisions = {str(lang): names[float(v)] for lang, v in zip(cells.columns, row, strict=True) if not np.isnan(v)}
        out.append(SplitGroup(parallel_id=group, gold=str(part["gold"].iloc[0]), decisions=decisions,
                              item_ids=[str(i) for i in part["item_id"].head(ITEMS_PER_SPLIT)]))
    return out
