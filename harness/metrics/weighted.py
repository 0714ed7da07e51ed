"""Population estimates from a weighted or stratified eval set (what users in production would see).

Each rate is a ratio of weighted totals, R = sum(w*y) / sum(w*x). Its standard error is the
Taylor-linearised, with-replacement estimator, stratified (Sarndal, Swensson & Wretman, Model
Assisted Survey Sampling, 1992, result 5.6.1; Wolter, Introduction to Variance Estimation, 2nd
ed., 2007, section 6.11); it gives `se` and the effective size `n_eff`, not the interval.

The interval is the stratified Jeffreys posterior of harness.metrics.posterior, over the strata of
harness.metrics.stratified: the declared ones (a strata column, gold classes from a prevalence)
split by the weight classes the items reveal, so a weight column alone (N_h / n_h per stratum)
gets the same interval as its strata would. It stays honest when a heavy stratum holds few or no
items of a rate (docs/statistics.md has the coverage study and the methods it was chosen over,
among them Korn & Graubard's Clopper-Pearson on the effective size, Survey Methodology
24:193-201, 1998, kept here as `interval="korn-graubard"` for that comparison).

Either way the bounds are exactly 0 when no weighted item is in the numerator and exactly 1 when
every one is, so a zero-tolerance gate is inconclusive, not failed, when no error was seen.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.stats import t as student_t
from statsmodels.stats.proportion import proportion_confint

from harness.config import StrataSpec
from harness.labels import BENIGN, UNKNOWN
from harness.metrics.confusion import gold_status, listed_in, unknown_for
from harness.metrics.counts import Labels, multiplicity, tally
from harness.metrics.posterior import DRAWS, Fixed, posterior_interval
from harness.metrics.rates import SMALL_SAMPLE
from harness.metrics.stratified import reveal_strata, stratum_cells
from harness.record.metrics import Per10k, Scaled, Weighted, WeightedCategory, WeightedRate
from harness.verdicts import ABSTAINED, ACTIONED, ALLOWED

METHOD = "ratio estimator with Taylor-linearised (with-replacement{strata}) standard error"
POSTERIOR_METHOD = "stratified Jeffreys posterior of each stratum's share and rate (Monte Carlo)"
KORN_GRAUBARD_METHOD = "Korn-Graubard Clopper-Pearson on the effective size, Satterthwaite df"
PER = 10_000
UNSEEN_SHARE = 0.10


def ratio_interval(numerator: np.ndarray, denominator: np.ndarray, weights: np.ndarray,
                   strata: np.ndarray | None = None, alpha: float = 0.05, *, fixed: Fixed = None,
                   draws: int = DRAWS, count: np.ndarray | None = None,
                   interval: Literal["posterior", "korn-graubard"] = "posterior") -> dict[str, Any]:
    """Vectorised over leading axes: arrays of shape (..., items); `strata` holds one label per item
    (declared strata; weight classes split them, harness.metrics.stratified); `fixed` as in
    harness.metrics.posterior (strata that are gold classes); `count` how many identical items each
    position stands for (a collapsed prediction log; default 1 each). `interval="korn-graubard"`
    is the former weight-column interval, kept for the coverage study's comparison.

    Returns estimate, se, n_eff, ci_low, ci_high as arrays (NaN where the denominator total is 0),
    `method`, the interval used, `strata`, the posterior strata's names, and `unseen_share`
    (..., strata): for a stratum of production weight that holds none of the denominator's items,
    the upper bound of its share of the population denominator (else 0); `production_share` each
    stratum's share of the population.
    """
    x = np.asarray(denominator, dtype=bool)
    lead, items = x.shape[:-1], x.shape[-1]
    rows = int(np.prod(lead, dtype=int))
    num = np.broadcast_to(np.asarray(numerator, dtype=bool), x.shape).reshape(rows, items)
    x = x.reshape(rows, items)
    given = np.asarray(weights, dtype=float)
    w = np.broadcast_to(given.reshape((1, items)) if given.ndim <= 1 else given.reshape(-1, items), (rows, items))
    c = np.ones(items) if count is None else np.asarray(count, dtype=float)
    # The former interval had the declared strata only: the comparison keeps it as it was.
    found = reveal_strata(w if given.ndim > 1 else w[:1], strata, c, split=interval == "posterior")
    codes = np.broadcast_to(found.codes, (rows, items))
    size = len(found.names)
    y = num & x
    flat = (np.arange(rows)[:, None] * size + codes).ravel()

    def per_stratum(values: np.ndarray) -> np.ndarray:
        return np.bincount(flat, weights=np.broadcast_to(values, (rows, items)).ravel(),
                           minlength=rows * size).reshape(rows, size)

    total_x = (c * w * x).sum(axis=-1)
    total_y = (c * w * y).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        estimate = total_y / total_x
        z = np.nan_to_num(w * (y - estimate[:, None] * x) / total_x[:, None])
    items_h = per_stratum(c)
    mean = per_stratum(c * z) / np.maximum(items_h, 1)
    # A stratum of one item adds no estimable variance.
    part = np.where(items_h > 1, items_h / np.maximum(items_h - 1, 1) * (per_stratum(c * z ** 2) - items_h * mean ** 2),
                    0.0)
    part = np.maximum(part, 0.0)
    variance = part.sum(axis=-1)
    in_domain = per_stratum(c * x * (w > 0))
    satterthwaite = (part ** 2 / np.maximum(in_domain - 1, 1)).sum(axis=-1)
    kish, design = _effective_sizes(estimate, variance, w * x, c)
    cells = stratum_cells(num, x, w, codes, c, size)
    shown = np.zeros((rows, size))
    if interval == "posterior":
        method = POSTERIOR_METHOD
        low, high, share_high = posterior_interval(cells, fixed=fixed, alpha=alpha, draws=draws)
        unseen = (cells.size > 0) & (in_domain == 0)
        shown = np.where(unseen, share_high, 0.0)
    else:
        method = KORN_GRAUBARD_METHOD
        n_items = round(float(c.sum()))
        with np.errstate(invalid="ignore", divide="ignore"):
            df = np.clip(variance ** 2 / satterthwaite, 1.0, max(n_items - size, 1))
        low, high = _korn_graubard(estimate, np.where(np.isfinite(design) & (design > 0), design, kish),
                                   np.where(np.isfinite(df), df, 1.0), n_items, alpha)
    undefined = ~(total_x > 0)
    # With no error seen (or all errors), the posterior's bound is too short (Brown, Cai & DasGupta
    # 2001): use at least the Clopper-Pearson one-sided bound on Kish's size there.
    edge = 1 - (alpha / 2) ** (1 / np.where(kish > 0, kish, 1.0))
    low = np.where(total_y > 0, np.minimum(np.nan_to_num(low), np.nan_to_num(estimate)), 0.0)
    low = np.where((total_y >= total_x) & (total_y > 0), np.minimum(low, 1 - edge), low)
    high = np.where(total_y < total_x, np.maximum(np.nan_to_num(high, nan=1.0), np.nan_to_num(estimate)), 1.0)
    high = np.where(total_y <= 0, np.maximum(high, edge), high)
    nan = np.full(estimate.shape, np.nan)
    n_eff = np.where(np.isfinite(design) & (design > 0), np.minimum(np.nan_to_num(design), kish), kish)

    def shaped(a: np.ndarray) -> np.ndarray:
        return a.reshape(lead)

    return {"estimate": shaped(estimate), "se": shaped(np.where(undefined, nan, np.sqrt(variance))),
            "n_eff": shaped(np.where(undefined, nan, n_eff)),
            "ci_low": shaped(np.where(undefined, nan, np.clip(low, 0.0, 1.0))),
            "ci_high": shaped(np.where(undefined, nan, np.clip(high, 0.0, 1.0))), "method": method,
            "strata": found.names, "unseen_share": shown.reshape(lead + (size,)),
            "production_share": (cells.size / np.maximum(cells.size.sum(axis=-1, keepdims=True), 1e-300)
                                 ).reshape(lead + (size,))}


def _effective_sizes(estimate: np.ndarray, variance: np.ndarray, wx: np.ndarray,
                     count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kish's (sum w)^2 / sum w^2 of the denominator's weights, and the design's R(1-R)/var.
    n_eff reported is the smaller: with a few heavy items the linearised variance is itself noisy
    and too small, and then Kish's figure is the honest one to warn on."""
    with np.errstate(invalid="ignore", divide="ignore"):
        kish = np.nan_to_num((count * wx).sum(axis=-1) ** 2 / (count * wx ** 2).sum(axis=-1))
        design = estimate * (1 - estimate) / variance
    return np.asarray(kish, dtype=float), np.asarray(design, dtype=float)


def _korn_graubard(estimate: np.ndarray, n_eff: np.ndarray, df: np.ndarray, items: int,
                   alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Clopper-Pearson (statsmodels 'beta') on n* = n_eff (t_{n-1} / t_df)^2, x* = R n*."""
    ratio = student_t.ppf(1 - alpha / 2, max(items - 1, 1)) / student_t.ppf(1 - alpha / 2, df)
    size = np.where(n_eff > 0, n_eff * ratio ** 2, 1.0)
    count = np.clip(np.nan_to_num(estimate) * size, 0.0, size)
    with np.errstate(invalid="ignore", divide="ignore"):
        low, high = proportion_confint(count, size, alpha=alpha, method="beta")
    return np.asarray(low, dtype=float), np.asarray(high, dtype=float)


def weighted_rate(numerator: np.ndarray, denominator: np.ndarray, weights: np.ndarray,
                  strata: np.ndarray | None = None, alpha: float = 0.05, *, fixed: Fixed = None,
                  count: np.ndarray | None = None, draws: int = DRAWS) -> WeightedRate:
    """One population rate with counts beside it; an empty (or zero-weight) denominator gives nulls.
    `warning` is set when the rate rests on an effective sample under 30 items, and names each
    stratum that holds none of the rate's items yet could hold a tenth or more of them in production."""
    numerator, denominator = np.asarray(numerator, dtype=bool), np.asarray(denominator, dtype=bool)
    weights = np.asarray(weights, dtype=float)
    count = np.ones(len(weights), dtype=np.int64) if count is None else count
    out = ratio_interval(numerator, denominator, weights, strata, alpha, fixed=fixed, count=count, draws=draws)
    defined = bool(np.isfinite(out["estimate"]))

    def value(key: str) -> float | None:
        number = float(out[key]) if defined else math.nan
        return number if math.isfinite(number) else None

    n_eff = value("n_eff")
    notes = []
    if n_eff is not None and n_eff < SMALL_SAMPLE:
        notes.append(f"rests on an effective sample of {n_eff:.1f} items (under {SMALL_SAMPLE}): "
                     "read the interval, not the point estimate")
    if defined:
        notes.extend(_unseen_strata(out["strata"], np.asarray(out["unseen_share"]),
                                    np.asarray(out["production_share"]), alpha))
    return WeightedRate(rate=value("estimate"), ci_low=value("ci_low"), ci_high=value("ci_high"), se=value("se"),
                        n_eff=n_eff, k=tally(numerator & denominator, count), n=tally(denominator, count),
                        population_k=float((count * weights * (numerator & denominator)).sum()),
                        population_n=float((count * weights * denominator).sum()),
                        interval_method=str(out["method"]), warning="; ".join(notes) or None)


def _unseen_strata(names: list[str], share_high: np.ndarray, production: np.ndarray, alpha: float) -> list[str]:
    """A stratum that holds none of the rate's items, yet may hold many of them in production: the
    rate there is unseen, and the interval spans what that allows."""
    return [f"stratum {name} ({100 * part:.0f}% of production) holds none of this rate's items, yet could hold "
            f"up to {100 * share:.0f}% of them ({100 * (1 - alpha / 2):g}% bound): the rate there is unseen, and "
            "the interval spans what that allows"
            for name, share, part in zip(names, share_high, production) if share >= UNSEEN_SHARE]


def population_weights(frame: pd.DataFrame, strata: StrataSpec | None,
                       prevalence: float | dict[str, float] | None) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """Weights that make the judged items stand for production, the strata for the variance, warnings.

    Strata sizes calibrate weights so each stratum h sums to N_h (unit weights give N_h / n_h);
    a prevalence then post-stratifies on gold so violating items carry that share of production.
    """
    warnings: list[str] = []
    raw = pd.to_numeric(frame["weight"], errors="coerce") if "weight" in frame else pd.Series(1.0, index=frame.index)
    weights = np.nan_to_num(raw.to_numpy(dtype=float), nan=0.0)
    count = multiplicity(frame)
    codes: np.ndarray | None = None
    zero = tally(weights == 0, count)
    if zero:
        warnings.append(f"{zero} items carry weight 0 and do not count in population estimates")
    if strata is not None and strata.column not in frame:
        warnings.append(f"strata column '{strata.column}' is not beside the verdicts; strata ignored")
    elif strata is not None:
        values = frame[strata.column].astype(str).to_numpy()
        codes = values
        for value in np.unique(values):
            members = values == value
            total = (count * weights)[members].sum()
            size = strata.sizes.get(value)
            if size is None or total <= 0:
                warnings.append(f"stratum '{value}' has " + ("no production size" if size is None else
                                "no weight") + "; its items do not count")
                weights[members] = 0.0
            else:
                weights[members] *= size / total
    if prevalence is not None:
        classes = _gold_classes(frame["gold"].astype(str).to_numpy(), prevalence, warnings)
        grand = (count * weights).sum()
        for label, share in _class_shares(prevalence).items():
            members = classes == label
            total = (count * weights)[members].sum()
            if total > 0:
                weights[members] *= share * grand / total
            elif share > 0:
                warnings.append(f"no weighted '{label}' items: its prevalence share cannot be represented")
        # Post-strata on gold (crossed with the strata, when both are given) keep one weight per
        # cell, which the stratified posterior interval needs (Holt & Smith, JRSS A 142:33-46, 1979).
        codes = classes.astype(str) if codes is None else np.char.add(codes.astype(str), " / " + classes.astype(str))
    return weights, codes, warnings


def _gold_classes(gold: np.ndarray, prevalence: float | dict[str, float], warnings: list[str]) -> np.ndarray:
    """The post-stratum of each item; unknown gold weighs nothing. An item with several gold
    categories ('HS;VS') stands in the first one that has a prevalence."""
    if not isinstance(prevalence, dict):
        return np.where(gold == BENIGN, BENIGN, np.where(gold == UNKNOWN, UNKNOWN, "violating"))
    classes = [g if g in (BENIGN, UNKNOWN) else next((c for c in g.split(";") if c in prevalence), "(no prevalence)")
               for g in gold]
    unlisted = sorted({c for g in gold if g not in (BENIGN, UNKNOWN) for c in g.split(";")} - set(prevalence))
    if unlisted:
        warnings.append(f"categories without a prevalence ({', '.join(unlisted)}) do not count in "
                        "population estimates unless the item also has a category that has one")
    return np.array(classes, dtype=object)


def _class_shares(prevalence: float | dict[str, float]) -> dict[str, float]:
    if isinstance(prevalence, dict):
        return {BENIGN: 1.0 - sum(prevalence.values()), **prevalence, "(no prevalence)": 0.0, UNKNOWN: 0.0}
    return {BENIGN: 1.0 - prevalence, "violating": prevalence, UNKNOWN: 0.0}


def weighted_metrics(frame: pd.DataFrame, *, categories: list[str], strata: StrataSpec | None = None,
                     prevalence: float | dict[str, float] | None = None, draws: int = DRAWS) -> Weighted:
    """Population over-enforcement, leakage and false-action share of one reviewer x policy.
    `draws`: Monte Carlo draws per interval (the coverage study uses fewer)."""
    weights, codes, warnings = population_weights(frame, strata, prevalence)
    count = multiplicity(frame)
    rate = functools.partial(weighted_rate, weights=weights, strata=codes, count=count, draws=draws)
    by_gold = prevalence is not None  # the strata are then gold classes: see stratified_posterior_interval
    benign, violating, unknown = gold_status(frame)
    gold = Labels(frame["gold"].astype(str), na="nan")
    decision = frame["decision"].to_numpy()
    actioned, allowed, decided = decision == ACTIONED, decision == ALLOWED, decision != ABSTAINED
    rates = {"over_enforcement": rate(actioned, decided & benign, fixed="denominator" if by_gold else None),
             "leakage": rate(allowed, decided & violating, fixed="denominator" if by_gold else None),
             "false_action_share": rate(benign, actioned & ~unknown, fixed="numerator" if by_gold else None),
             "prevalence": rate(violating, ~unknown, fixed="numerator" if by_gold else None)}
    by_category = {cid: WeightedCategory(leakage=rate(
        allowed, decided & gold.where(listed_in(cid)) & ~unknown_for(frame, cid),
        fixed="denominator" if by_gold else None)) for cid in categories}
    if unknown.any():
        n_unknown = tally(unknown, count)
        warnings.append(f"{n_unknown} item{'s' if n_unknown != 1 else ''} with unknown gold "
                        f"{'are' if n_unknown != 1 else 'is'} left out of population estimates")
    for name, what in (("over_enforcement", "benign"), ("leakage", "violating"), ("false_action_share", "actioned")):
        if rates[name].rate is None:
            warnings.append(f"{name}: no decided {what} items with weight > 0; no population estimate")
    return Weighted(
        method=METHOD.format(strata=", stratified" if codes is not None else ""),
        weights_from=[name for name, used in (("weight column", _has_weights(frame)), ("strata sizes", strata is not None),
                                              ("prevalence", prevalence is not None)) if used],
        **rates, categories=by_category,
        per_10k=per_10k(prevalence, rates["over_enforcement"], rates["leakage"], by_category)
        if prevalence is not None else None,
        warnings=warnings)


def is_weighted(frame: pd.DataFrame, strata: StrataSpec | None, prevalence: float | dict[str, float] | None) -> bool:
    """Population estimates differ from the plain rates only with weights, strata or a prevalence."""
    return strata is not None or prevalence is not None or _has_weights(frame)


def _has_weights(frame: pd.DataFrame) -> bool:
    return "weight" in frame and bool((pd.to_numeric(frame["weight"], errors="coerce") != 1.0).any())


def per_10k(prevalence: float | dict[str, float], over_enforcement: WeightedRate, leakage: WeightedRate,
            categories: dict[str, WeightedCategory]) -> Per10k:
    """Expected wrongly-actioned and leaked items per 10,000 production items."""
    total = sum(prevalence.values()) if isinstance(prevalence, dict) else prevalence
    by_category = None
    if isinstance(prevalence, dict):
        by_category = {cid: _scaled(category.leakage if (category := categories.get(cid)) else None, PER * share)
                       for cid, share in prevalence.items()}
    return Per10k(prevalence=prevalence, wrongly_actioned=_scaled(over_enforcement, PER * (1.0 - total)),
                  leaked=_scaled(leakage, PER * total),
                  note="prevalence taken as known: the intervals carry the eval set's uncertainty only",
                  leaked_by_category=by_category)


def _scaled(rate: WeightedRate | None, factor: float) -> Scaled:
    if rate is None or rate.rate is None:
        return Scaled(value=None, ci_low=None, ci_high=None)
    low, high = rate.ci_low, rate.ci_high
    return Scaled(value=rate.rate * factor, ci_low=None if low is None else low * factor,
                  ci_high=None if high is None else high * factor)
