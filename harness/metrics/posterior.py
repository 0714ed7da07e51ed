"""Posterior of a population rate from a stratified sample: each stratum's share and rate drawn apart.

Within stratum h (N_h production items) an item is in the rate's denominator with probability
p_h (its share: violating items for leakage, benign for over-enforcement, actioned for the
false-action share) and, in the denominator, in the numerator with probability r_h (the
stratum's own rate). Each gets the Jeffreys Beta(1/2, 1/2) prior, so with d_h of n_h sampled items
in the denominator and k_h of those in the numerator

    p_h ~ Beta(d_h + 1/2, n_h - d_h + 1/2),    r_h ~ Beta(k_h + 1/2, d_h - k_h + 1/2),

independent across strata and of each other, and the population rate is
R = sum_h N_h p_h r_h / sum_h N_h p_h. R is drawn by Monte Carlo; its 2.5% and 97.5% quantiles are
the interval. This is the Bayesian finite-population treatment of a stratified sample (Gelman,
Carlin, Stern, Dunson, Vehtari & Rubin, *Bayesian Data Analysis*, 3rd ed., 2013, section 8.3,
"stratified sampling"; Ericson, JRSS B 31:195-233, 1969) with the Jeffreys prior, whose intervals
cover well for small counts (Brown, Cai & DasGupta, Stat Sci 16:101-133, 2001). A stratum that is
much of production but shows few or no denominator items keeps both its share and its rate
uncertain, so the interval widens to what the data allow instead of conditioning on the
observed counts (docs/statistics.md, coverage study).

The counts may be effective (non-integer) counts: harness.metrics.stratified scales the weighted
cell totals of a stratum whose weights vary to Kish's effective size.

`population_draws` is the reusable part: an impact forecast (items leaked per 10,000 seen) is
10,000 * numerator / sum_h N_h over the same draws.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np

PRIOR = 0.5
DRAWS = 20_000
SEED = 20_130  # fixed: the same data always give the same interval

Fixed = Literal["denominator", "numerator"] | None


class StratumCells(NamedTuple):
    """Per row (leading axis) and stratum (last axis): production size N_h, and the sampled items
    outside the rate's denominator, in it but not in the numerator, and in both."""

    size: np.ndarray
    outside: np.ndarray
    only: np.ndarray
    both: np.ndarray


class PopulationDraws(NamedTuple):
    """Posterior draws, shape (rows, draws): sum_h N_h p_h r_h and sum_h N_h p_h; and
    `denominator_share`, shape (rows, draws, strata), each stratum's part of the latter."""

    numerator: np.ndarray
    denominator: np.ndarray
    denominator_share: np.ndarray


class PosteriorInterval(NamedTuple):
    """Bounds of shape (rows,) (NaN where no draw has a denominator), and per stratum, shape
    (rows, strata), the upper `1 - alpha/2` quantile of its share of the population denominator."""

    low: np.ndarray
    high: np.ndarray
    share_high: np.ndarray


def _priors(cells: StratumCells, fixed: Fixed) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Prior pseudo-counts of (in denominator, outside; in numerator, not). `fixed` names the
    indicator the stratum determines (strata that are gold classes, from a prevalence):
    'denominator' for over-enforcement and leakage, 'numerator' for the false-action share and
    prevalence. A share that indicator makes impossible gets no prior mass, so a benign stratum
    does not lend leakage an imaginary violating item."""
    inside = cells.only + cells.both
    a_in, a_out, a_both, a_only = (np.full(cells.size.shape, PRIOR) for _ in range(4))
    if fixed == "denominator":
        a_in = np.where(inside == 0, 0.0, PRIOR)
        a_out = np.where(cells.outside == 0, 0.0, PRIOR)
    elif fixed == "numerator":
        a_both = np.where((cells.both == 0) & (cells.only > 0), 0.0, PRIOR)
        a_only = np.where((cells.only == 0) & (cells.both > 0), 0.0, PRIOR)
    return a_in, a_out, a_both, a_only


def _share(rng: np.random.Generator, yes: np.ndarray, no: np.ndarray, draws: int) -> np.ndarray:
    """Beta(yes, no) draws of shape (rows, draws, strata) by two gammas; a parameter of 0 (no prior
    mass and no items) makes the share exactly 0 or 1."""
    g_yes = rng.gamma(yes[:, None, :], size=(yes.shape[0], draws, yes.shape[1]))
    g_no = rng.gamma(no[:, None, :], size=g_yes.shape)
    total = g_yes + g_no
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, g_yes / total, 0.0)


def population_draws(cells: StratumCells, *, fixed: Fixed = None, draws: int = DRAWS,
                     rng: np.random.Generator | None = None) -> PopulationDraws:
    """Draws of the population totals behind a rate; `cells` arrays of shape (rows, strata)."""
    rng = np.random.default_rng(SEED) if rng is None else rng
    a_in, a_out, a_both, a_only = _priors(cells, fixed)
    share = _share(rng, cells.only + cells.both + a_in, cells.outside + a_out, draws)
    rate = _share(rng, cells.both + a_both, cells.only + a_only, draws)
    inside = cells.size[:, None, :] * share
    return PopulationDraws((inside * rate).sum(axis=-1), inside.sum(axis=-1), inside)


def posterior_interval(cells: StratumCells, *, fixed: Fixed = None, alpha: float = 0.05,
                       draws: int = DRAWS) -> PosteriorInterval:
    """Equal-tailed interval of sum_h N_h p_h r_h / sum_h N_h p_h for each row. Every row draws from
    its own generator of the fixed seed: the same data give the same interval, alone or in a batch."""
    rows, strata = cells.size.shape
    low, high = np.empty(rows), np.empty(rows)
    share_high = np.empty((rows, strata))
    for row in range(rows):
        out = population_draws(StratumCells(*(a[row:row + 1] for a in cells)), fixed=fixed, draws=draws,
                               rng=np.random.default_rng(SEED))
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(out.denominator > 0, out.numerator / out.denominator, np.nan)[0]
            part = (out.denominator_share / out.denominator[..., None])[0]
        if np.isnan(ratio).all():  # an empty denominator: the caller reports it
            low[row] = high[row] = np.nan
            share_high[row] = np.nan
            continue
        finite = ratio[np.isfinite(ratio)]
        low[row], high[row] = np.quantile(finite, [alpha / 2, 1 - alpha / 2])
        share_high[row] = np.quantile(part[np.isfinite(ratio)], 1 - alpha / 2, axis=0)
    return PosteriorInterval(low, high, share_high)


def impact_interval(cells: StratumCells, *, per: float = 10_000, fixed: Fixed = None, alpha: float = 0.05,
                    draws: int = DRAWS) -> tuple[np.ndarray, np.ndarray]:
    """Interval of per * sum_h N_h p_h r_h / sum_h N_h for each row: with the cells of leakage, the
    violating items that get through per `per` items seen, prevalence and error rate uncertain
    together (the launch-impact forecast); with over-enforcement's, benign items wrongly actioned."""
    rows = cells.size.shape[0]
    low, high = np.empty(rows), np.empty(rows)
    for row in range(rows):
        one = StratumCells(*(a[row:row + 1] for a in cells))
        out = population_draws(one, fixed=fixed, draws=draws, rng=np.random.default_rng(SEED))
        total = one.size.sum()
        impact = per * out.numerator[0] / total if total > 0 else np.full(draws, np.nan)
        low[row], high[row] = np.quantile(impact, [alpha / 2, 1 - alpha / 2]) if total > 0 else (np.nan, np.nan)
    return low, high
