"""Consistency across languages over parallel groups, checked against a direct computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest, chi2
from statsmodels.stats.proportion import proportion_confint

from harness.metrics.consistency import consistency

LANGS = ("en", "de", "fr")
DE_ALLOWS = {0, 2, 4, 6, 8, 10, 12, 14}  # violating groups German lets through (en and fr action them)
FR_ACTIONS = {1, 3}  # benign groups only French actions


def decision(group: int, lang: str) -> str:
    actioned = group % 2 == 0
    if lang == "de" and group in DE_ALLOWS:
        actioned = False
    if lang == "fr" and group in FR_ACTIONS:
        actioned = True
    return "actioned" if actioned else "allowed"


def frame() -> pd.DataFrame:
    rows = [(f"{lang}-{g}", f"g{g:02d}", lang, decision(g, lang), "HS" if g % 2 == 0 else "benign")
            for g in range(40) for lang in LANGS]
    rows += [("de-39b", "g39", "de", "actioned", "benign"),  # g39: German's two items disagree -> mixed cell
             ("en-solo", "solo", "en", "actioned", "HS"),  # a group in one language only: not counted
             ("fr-abst", "g40", "fr", "abstained", "HS"), ("en-40", "g40", "en", "actioned", "HS"),
             ("loose", "", "de", "allowed", "benign")]  # in no group
    return pd.DataFrame(rows, columns=["item_id", "parallel_id", "language", "decision", "gold"])


def test_share_identical_pairs_and_cochran_match_a_direct_computation() -> None:
    out = consistency(frame(), ["language"])
    assert out is not None and out.column == "language"
    # 40 groups in three languages; g40 has one decided language only (French abstained)
    assert out.groups == 40
    split = DE_ALLOWS | FR_ACTIONS | {39}
    assert (out.identical.k, out.identical.n) == (40 - len(split), 40)
    low, high = proportion_confint(40 - len(split), 40, method="wilson")
    assert (out.identical.ci_low, out.identical.ci_high) == (pytest.approx(low), pytest.approx(high))
    assert out.mixed_cells == 1 and out.split_total == len(split)
    assert [s.parallel_id for s in out.split] == sorted(f"g{g:02d}" for g in split)
    g00 = next(s for s in out.split if s.parallel_id == "g00")
    assert g00.decisions == {"de": "allowed", "en": "actioned", "fr": "actioned"} and g00.gold == "HS"
    assert next(s for s in out.split if s.parallel_id == "g39").decisions["de"] == "mixed"

    pairs = {(p.first, p.second): p for p in out.pairs}
    de_en = pairs[("de", "en")]  # g39's German cell is mixed: 39 groups in the pair
    assert (de_en.first_only, de_en.second_only, de_en.disagreement.k, de_en.disagreement.n) == (0, 8, 8, 39)
    de_fr = pairs[("de", "fr")]
    assert (de_fr.first_only, de_fr.second_only, de_fr.disagreement.n) == (0, 10, 39)
    en_fr = pairs[("en", "fr")]
    assert (en_fr.first_only, en_fr.second_only, en_fr.disagreement.n) == (0, 2, 40)
    raw = {key: binomtest(min(p.first_only, p.second_only), p.first_only + p.second_only).pvalue
           for key, p in pairs.items()}
    assert {key: p.p for key, p in pairs.items()} == pytest.approx(raw)
    ordered = sorted(raw, key=raw.__getitem__)  # Holm: the i-th smallest times (3 - i), kept monotone
    holm = np.maximum.accumulate([min(1.0, (3 - i) * raw[key]) for i, key in enumerate(ordered)])
    assert [pairs[key].p_holm for key in ordered] == pytest.approx(list(holm))
    assert [p.flag for p in out.pairs[:2]] == [True, True] and not pairs[("en", "fr")].flag

    # Cochran's Q over the 39 groups with one decision in every language (g39 is mixed in German)
    x = np.array([[decision(g, lang) == "actioned" for lang in ("de", "en", "fr")] for g in range(39)], dtype=float)
    k, cols, rows = 3, x.sum(axis=0), x.sum(axis=1)
    q = (k - 1) * (k * (cols ** 2).sum() - cols.sum() ** 2) / (k * rows.sum() - (rows ** 2).sum())
    assert out.cochran_q is not None and out.cochran_q.groups == 39
    assert out.cochran_q.statistic == pytest.approx(q) and out.cochran_q.p == pytest.approx(chi2.sf(q, 2))


def test_identical_judgements_everywhere_give_no_split_and_q_zero() -> None:
    same = frame().assign(decision=lambda f: np.where(f["gold"] == "HS", "actioned", "allowed"))
    out = consistency(same[same["item_id"] != "de-39b"], ["language"])
    assert out is not None and out.identical.rate == 1.0 and out.split == [] and out.split_total == 0
    assert all(p.p == 1.0 and not p.flag for p in out.pairs)
    assert out.cochran_q is not None and (out.cochran_q.statistic, out.cochran_q.p) == (0.0, 1.0)


def test_no_block_without_parallel_ids_or_a_language_slice() -> None:
    assert consistency(frame().drop(columns="parallel_id"), ["language"]) is None
    assert consistency(frame(), ["functionality"]) is None
    two = frame()[frame()["language"] != "fr"]
    out = consistency(two, ["language"])
    assert out is not None and out.cochran_q is None and len(out.pairs) == 1  # two languages: McNemar says it
