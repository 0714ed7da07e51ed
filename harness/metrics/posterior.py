"""Interval for a population ratio from a stratified sample with equal weights inside each stratum.

Within stratum h every item falls in one of three cells: outside the rate's denominator, in it
but not in the numerator, in both. The cell shares get a Jeffreys Dirichlet(1/2, 1/2, 1/2)
posterior (the stratified multinomial model of Ericson, JRSS B 31:195-233, 1969, with the Jeffreys
prior of Brown, Cai & DasGupta, Stat Sci 16:101-133, 2001); the population ratio
sum_h N_h p_h2 / sum_h N_h (p_h1 + p_h2) is drawn by Monte Carlo and its 2.5% and 97.5% quantiles
are the interval. Unlike a linearised variance, it stays wide when a stratum that carries much of
the population holds few or no items of the denominator: that stratum's rate is then unknown,
and the interval says so (docs/statistics.md, coverage study).
"""

from __future__ import annotations

import warnings

import numpy as np

PRIOR = 0.5
DRAWS = 20_000
SEED = 20_130  # fixed: the same data always give the same interval
CHUNK = 4_000_000  # draws x strata per block, to bound memory


def constant_within_strata(weights: np.ndarray, codes: np.ndarray) -> bool:
    """True when every stratum's weighted items carry one weight (strata sizes or prevalence
    calibration); items of weight 0 are not in the sample."""
    w = np.asarray(weights, dtype=float)
    for code in np.unique(codes):
        members = w[..., codes == code]
        heaviest = members.max(axis=-1, keepdims=True)
        if not np.all((members == 0) | np.isclose(members, heaviest, rtol=1e-9, atol=0.0)):
            return False
    return True


def stratified_posterior_interval(numerator: np.ndarray, denominator: np.ndarray, weights: np.ndarray,
                                  codes: np.ndarray, *, fixed: str | None = None, alpha: float = 0.05,
                                  draws: int = DRAWS, count: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Arrays of shape (..., items); `codes` one stratum code per item. Returns (low, high).

    `fixed` names the indicator that the stratum determines (strata that are gold classes, from a
    prevalence): 'denominator' for over-enforcement and leakage, 'numerator' for the false-action
    share and prevalence. A cell that indicator makes impossible gets no prior mass, so a benign
    stratum does not lend leakage an imaginary violating item.
    """
    w = np.broadcast_to(np.asarray(weights, dtype=float), np.shape(denominator))
    num = np.asarray(numerator, dtype=bool)
    den = np.asarray(denominator, dtype=bool) & (w > 0)
    lead = den.shape[:-1]
    c = np.ones(den.shape[-1], dtype=np.int64) if count is None else np.asarray(count, dtype=np.int64)
    cells, priors, sizes = [], [], []
    for code in np.unique(codes):
        members = codes == code
        each = c[members]
        both = (each * (num & den)[..., members]).sum(axis=-1)
        only = (each * (den & ~num)[..., members]).sum(axis=-1)
        cells.append(np.stack([(each * (w[..., members] > 0)).sum(axis=-1) - both - only, only, both], axis=-1))
        prior = np.full(both.shape + (3,), PRIOR)
        if fixed == "denominator":
            prior[..., 1:] = np.where(((both + only) == 0)[..., None], 0.0, PRIOR)
        elif fixed == "numerator":
            prior[..., 1] = np.where((both > 0) & (only == 0), 0.0, PRIOR)
            prior[..., 2] = np.where((only > 0) & (both == 0), 0.0, PRIOR)
        priors.append(prior)
        sizes.append((each * w[..., members]).sum(axis=-1))
    shape = (int(np.prod(lead, dtype=int)), len(cells), 3)
    counts = (np.stack(cells, axis=-2) + np.stack(priors, axis=-2)).reshape(shape)
    size = np.stack(sizes, axis=-1).reshape(shape[:2])
    rng = np.random.default_rng(SEED)
    low, high = np.empty(shape[0]), np.empty(shape[0])
    step = max(1, CHUNK // (draws * shape[1]))
    for start in range(0, shape[0], step):
        block = slice(start, start + step)
        g = rng.gamma(counts[block, None], size=(counts[block].shape[0], draws) + shape[1:])
        share = g / g.sum(axis=-1, keepdims=True)
        top = (size[block, None] * share[..., 2]).sum(axis=-1)
        bottom = (size[block, None] * (share[..., 1] + share[..., 2])).sum(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(bottom > 0, top / bottom, np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an empty denominator: the caller reports it
            low[block] = np.nanquantile(ratio, alpha / 2, axis=-1)
            high[block] = np.nanquantile(ratio, 1 - alpha / 2, axis=-1)
    return low.reshape(lead), high.reshape(lead)
