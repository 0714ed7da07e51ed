"""Localization view: per-language over-enforcement and leakage side by side, each language
tested against all the others pooled, so a policy that only works in English shows up."""

from __future__ import annotations

import contextlib
import gc
import re
from collections.abc import Iterator

import numpy as np
import pandas as pd
from scipy.stats import fisher_exact
from statsmodels.stats.multitest import multipletests

from harness.metrics.confusion import gold_status
from harness.metrics.counts import Labels, multiplicity, tally
from harness.metrics.rates import finite_or_none, wilson
from harness.record.metrics import FlaggedLanguage, LanguageRow, Languages, Rate, VsRest
from harness.verdicts import ABSTAINED, ACTIONED, ALLOWED

ALPHA = 0.05
_LANGUAGE_SLICE = re.compile(r"^(lang|language|locale)s?$|^(lang|language|locale)_|_(lang|language|locale)$",
                             re.IGNORECASE)
TEST = ("two-sided Fisher exact test of each language against all other languages pooled, "
        "Holm-adjusted across languages per metric")


def language_column(slices: list[str]) -> str | None:
    """The first slice that names a language or locale (language, lang, locale, text_language, ...)."""
    return next((s for s in slices if _LANGUAGE_SLICE.search(s)), None)


def language_rates(frame: pd.DataFrame, slices: list[str], alpha: float = ALPHA) -> Languages | None:
    """None unless a language slice has two or more values. Items with unknown gold are left out."""
    column = language_column(slices)
    if column is None or column not in frame or frame[column].nunique() < 2:
        return None
    benign, violating, _ = gold_status(frame)
    decision = frame["decision"].to_numpy()
    decided = decision != ABSTAINED
    language = Labels(frame[column].astype(str), na="nan")
    count = multiplicity(frame)
    # metric -> (numerator mask, denominator mask)
    masks = {"over_enforcement": (decided & benign & (decision == ACTIONED), decided & benign),
             "leakage": (decided & violating & (decision == ALLOWED), decided & violating)}
    codes = {v: i for i, v in enumerate(language.values[:-1])}
    if (language.codes < 0).any():
        codes["nan"] = len(language.values) - 1
    values = sorted(codes)
    rows_of = {v: language.codes % len(language.values) == codes[v] for v in values}
    rates: dict[str, dict[str, Rate]] = {metric: {} for metric in masks}
    tests: dict[str, dict[str, VsRest]] = {metric: {} for metric in masks}
    flagged: list[FlaggedLanguage] = []
    for metric, (hit, base) in masks.items():
        k_all, n_all = tally(hit, count), tally(base, count)
        for value in values:
            here = rows_of[value]
            k, n = tally(hit & here, count), tally(base & here, count)
            rates[metric][value] = wilson(k, n)
            rest = wilson(k_all - k, n_all - n)
            test = VsRest(rest=rest, odds_ratio=None, p=None, p_holm=None, flag=None)
            if n and rest.n:
                odds, p = fisher_exact(np.array([[k, n - k], [rest.k, rest.n - rest.k]]), alternative="two-sided")
                test.odds_ratio, test.p = finite_or_none(odds), finite_or_none(p)
            tests[metric][value] = test
        tested = [v for v in values if tests[metric][v].p is not None]
        if tested:
            with _heap_frozen():
                _, adjusted, _, _ = multipletests([tests[metric][v].p for v in tested], alpha=alpha, method="holm")
            for value, p_holm in zip(tested, adjusted):
                test, rate, holm = tests[metric][value], rates[metric][value], float(p_holm)
                test.p_holm = holm
                if holm < alpha and rate.rate is not None and test.rest.rate is not None:
                    test.flag = "higher" if rate.rate > test.rest.rate else "lower"
                    flagged.append(FlaggedLanguage(language=value, metric=metric, direction=test.flag, rate=rate.rate,
                                                   rest_rate=test.rest.rate, p_holm=holm))
    flagged.sort(key=lambda f: (f.metric != "over_enforcement", f.direction != "higher", f.p_holm))
    rows = {value: LanguageRow(items=tally(rows_of[value], count), over_enforcement=rates["over_enforcement"][value],
                               leakage=rates["leakage"][value],
                               over_enforcement_vs_rest=tests["over_enforcement"][value],
                               leakage_vs_rest=tests["leakage"][value])
            for value in values}
    return Languages(column=column, test=TEST, alpha=alpha, by_language=rows, flagged=flagged)


@contextlib.contextmanager
def _heap_frozen() -> Iterator[None]:
    """statsmodels' Holm step calls gc.collect(), which walks every object of the process: 0.13 s a
    call once pandas, scipy and MLflow are loaded. Frozen objects are skipped by the collector, so
    the call costs what it computes. A heap someone else froze stays frozen."""
    frozen_before = gc.get_freeze_count()
    gc.freeze()
    try:
        yield
    finally:
        if not frozen_before:
            gc.unfreeze()
