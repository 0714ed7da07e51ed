"""Launch impact: error rates and production prevalence turned into items per day, review hours,
reviewers and appeals, with intervals by posterior simulation.

For one volume row (a slice combination with V items per day and violating share p), a version
that actions benign items at rate O (over-enforcement) and lets violating items through at rate L
(leakage) makes per day

    wrongful actions  W = V (1 - p) O            missed violations  M = V p L
    actions           A = V p (1 - L) + W        appeals  = W a_wrongful + (A - W) a_correct
    overturns         = overturn_rate x W a_wrongful
    reviewed          R = A (route actions), V (all), share x V (sample),
                          V ((1 - p) b_benign + p b_violating) (band: b_g the share of class g in the score band)
    reviewer hours    = R x seconds / 3600,   reviewers (FTE) = hours / hours_per_reviewer_day.

The point forecast is this formula at the rates' point estimates and the given prevalence. The
interval is the 2.5% and 97.5% quantiles of the same formula over posterior draws (Gelman et al.,
*Bayesian Data Analysis*, 3rd ed., 2013, section 1.9 and chapter 3: simulating a function of the
parameters from their joint posterior):

- Rates, per row and gold class: the items decided by every version in the run fall into joint
  cells (each version's actioned or not, in the score band or not); the cell shares get a
  Dirichlet posterior with prior 1 / (number of cells) per cell, so each binary margin (one
  version's rate) has exactly the Jeffreys posterior Beta(k + 1/2, n - k + 1/2) (Brown, Cai &
  DasGupta, Stat Sci 16:101-133, 2001), and the candidate's and baseline's rates are drawn
  together: their difference uses the paired item-level evidence, not two independent intervals.
- Prevalence, per row: Beta(p m + 1/2, (1 - p) m + 1/2) when it was estimated from m items (its
  effective sample size), fixed otherwise; or draws the caller gives (a prevalence interval).

Rows hold disjoint items, so their draws are independent; a group ("overall", a language) sums
the rows per draw before taking quantiles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

DRAWS = 10_000
SEED = 20_280  # fixed: the same inputs always give the same interval
ALPHA = 0.05
BENIGN, VIOLATING = 0, 1
QUANTITIES = ("actions", "wrongful_actions", "missed_violations", "reviewed", "reviewer_hours", "reviewers_fte",
              "appeals", "overturns", "review_cost_usd", "model_cost_usd")
Route = Literal["actions", "all", "sample", "band"]


@dataclass(frozen=True)
class Plan:
    """The ops numbers the formulas use (harness.config.ops.Ops, flattened)."""

    route: Route
    sample_share: float
    hours_per_reviewer_day: float
    appeal_wrongful: float
    appeal_correct: float
    overturn_rate: float
    reviewer_hour_usd: float = 0.0
    per_1k_model_calls_usd: float = 0.0


@dataclass(frozen=True)
class RowEvidence:
    """The eval-set items behind one volume row.

    `own`, shape (versions, 2 gold classes, 3): each version's (actioned, decided, in band) counts
    among its own decided items, for the point forecast. `cells`, shape (2, 4 ** versions): the
    items decided by every version, by joint cell; cell index bit 2v is version v's actioned, bit
    2v + 1 its score in the band."""

    own: np.ndarray
    cells: np.ndarray

    @property
    def versions(self) -> int:
        return int(self.own.shape[0])


def cell_index(actioned: np.ndarray, in_band: np.ndarray) -> np.ndarray:
    """Joint cell of each item from (versions, items) boolean arrays."""
    versions = actioned.shape[0]
    index = np.zeros(actioned.shape[1], dtype=np.int64)
    for v in range(versions):
        index += actioned[v].astype(np.int64) << (2 * v)
        index += in_band[v].astype(np.int64) << (2 * v + 1)
    return index


def row_evidence(violating: np.ndarray, actioned: np.ndarray, decided: np.ndarray, in_band: np.ndarray,
                 count: np.ndarray | None = None) -> RowEvidence:
    """The evidence of one row's items: `violating` of shape (items,) (gold; benign otherwise),
    `actioned`, `decided` and `in_band` of shape (versions, items); `count` items per row (1 each)."""
    versions = actioned.shape[0]
    count = np.ones(violating.shape[0]) if count is None else np.asarray(count, dtype=float)
    own = np.zeros((versions, 2, 3))
    cells = np.zeros((2, 4 ** versions))
    every = decided.all(axis=0)
    index = cell_index(actioned & decided, in_band & decided)
    for g, members in ((BENIGN, ~violating), (VIOLATING, violating)):
        for v in range(versions):
            mine = members & decided[v]
            own[v, g] = [count[mine & actioned[v]].sum(), count[mine].sum(), count[mine & in_band[v]].sum()]
        both = members & every
        cells[g] = np.bincount(index[both], weights=count[both], minlength=4 ** versions)
    return RowEvidence(own, cells)


def point_rates(evidence: RowEvidence) -> tuple[np.ndarray, np.ndarray]:
    """(actioned share, band share) per version and gold class, shape (versions, 2); NaN without items."""
    own = evidence.own.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return own[..., 0] / own[..., 1], own[..., 2] / own[..., 1]


def rate_draws(evidence: RowEvidence, draws: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Posterior draws of (actioned share, band share), shape (versions, 2, draws), from the joint cells."""
    versions = evidence.versions
    cells = evidence.cells.astype(float)
    prior = 1.0 / cells.shape[1]
    gammas = rng.gamma(cells[:, None, :] + prior, size=(2, draws, cells.shape[1]))
    total = gammas.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(total > 0, gammas / total, 1.0 / cells.shape[1])  # all gammas underflowed: uniform
    index = np.arange(cells.shape[1])
    act = np.empty((versions, 2, draws))
    band = np.empty((versions, 2, draws))
    for v in range(versions):
        act[v] = shares[..., (index >> (2 * v)) & 1 == 1].sum(axis=-1)
        band[v] = shares[..., (index >> (2 * v + 1)) & 1 == 1].sum(axis=-1)
    return act, band


def prevalence_draws(prevalence: float, sample_size: float | None, draws: int, rng: np.random.Generator) -> np.ndarray:
    """Draws of a row's prevalence: Jeffreys-Beta around a prevalence estimated from `sample_size`
    items, or the value itself when its sample size is not given."""
    if sample_size is None:
        return np.full(draws, prevalence)
    return rng.beta(prevalence * sample_size + 0.5, (1 - prevalence) * sample_size + 0.5, size=draws)


def beta_from_interval(value: float, low: float, high: float, alpha: float = ALPHA) -> float | None:
    """The effective sample size m of a Beta with mean `value` whose central interval is about
    [low, high] (moment matching on a normal width): m = p (1 - p) / sd^2 - 1; None if degenerate."""
    from scipy.stats import norm

    sd = (high - low) / (2 * float(norm.ppf(1 - alpha / 2)))
    if not sd > 0 or not 0 < value < 1:
        return None
    return max(value * (1 - value) / sd ** 2 - 1, 1.0)


def forecast(volume: float | np.ndarray, prevalence: float | np.ndarray, actioned: np.ndarray, band: np.ndarray,
             seconds: float | np.ndarray, plan: Plan) -> dict[str, np.ndarray]:
    """The formulas of the module docstring for one version; `actioned` and `band` have a leading
    gold-class axis (benign, violating) and broadcast with `volume` and `prevalence`."""
    volume = np.asarray(volume, dtype=float)
    prevalence = np.asarray(prevalence, dtype=float)
    violating, benign = volume * prevalence, volume * (1 - prevalence)
    wrongful = benign * actioned[BENIGN]
    correct = violating * actioned[VIOLATING]
    actions = wrongful + correct
    missed = violating * (1 - actioned[VIOLATING])
    if plan.route == "actions":
        reviewed = actions
    elif plan.route == "all":
        reviewed = volume + 0 * actions
    elif plan.route == "sample":
        reviewed = plan.sample_share * volume + 0 * actions
    else:
        reviewed = benign * band[BENIGN] + violating * band[VIOLATING]
    hours = reviewed * np.asarray(seconds, dtype=float) / 3600
    appeals_wrongful = wrongful * plan.appeal_wrongful
    return {
        "actions": actions, "wrongful_actions": wrongful, "missed_violations": missed, "reviewed": reviewed,
        "reviewer_hours": hours, "reviewers_fte": hours / plan.hours_per_reviewer_day,
        "appeals": appeals_wrongful + correct * plan.appeal_correct,
        "overturns": plan.overturn_rate * appeals_wrongful,
        "review_cost_usd": hours * plan.reviewer_hour_usd,
        "model_cost_usd": volume / 1000 * plan.per_1k_model_calls_usd + 0 * actions,
    }


@dataclass(frozen=True)
class Forecasts:
    """Per version (candidate, baseline; and 'change' when both) and quantity: the point forecast of
    each row, shape (rows,), and its draws, shape (rows, draws)."""

    point: dict[str, dict[str, np.ndarray]]
    draws: dict[str, dict[str, np.ndarray]]


def simulate(rows: Sequence[RowEvidence], volumes: np.ndarray, prevalence: np.ndarray,
             prevalence_samples: np.ndarray, seconds: np.ndarray, plan: Plan, *,
             names: Sequence[str] = ("candidate", "baseline"), draws: int = DRAWS,
             seed: int = SEED) -> Forecasts:
    """Point forecasts and posterior draws for every row and version. `prevalence_samples` has shape
    (rows, draws) (prevalence_draws); every row's rates come from the generator of `seed`, in order."""
    rng = np.random.default_rng(seed)
    versions = rows[0].versions if rows else len(names)
    point = {n: {q: np.empty(len(rows)) for q in QUANTITIES} for n in names[:versions]}
    drawn = {n: {q: np.empty((len(rows), draws)) for q in QUANTITIES} for n in names[:versions]}
    for r, evidence in enumerate(rows):
        act_point, band_point = point_rates(evidence)
        act, band = rate_draws(evidence, draws, rng)
        for v, name in enumerate(names[:versions]):
            plug = forecast(volumes[r], prevalence[r], act_point[v], band_point[v], seconds[r], plan)
            sim = forecast(volumes[r], prevalence_samples[r], act[v], band[v], seconds[r], plan)
            for q in QUANTITIES:
                point[name][q][r] = plug[q]
                drawn[name][q][r] = sim[q]
    if versions == 2:
        first, second = names[0], names[1]
        point["change"] = {q: point[first][q] - point[second][q] for q in QUANTITIES}
        drawn["change"] = {q: drawn[first][q] - drawn[second][q] for q in QUANTITIES}
    return Forecasts(point, drawn)


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float


def summarise(forecasts: Forecasts, members: np.ndarray, alpha: float = ALPHA) -> dict[str, dict[str, Estimate]]:
    """Per version and quantity, the forecast of the rows selected by boolean `members` summed:
    the plug-in sum and the quantiles of the summed draws."""
    out: dict[str, dict[str, Estimate]] = {}
    for version, quantities in forecasts.draws.items():
        out[version] = {}
        for q, values in quantities.items():
            total = values[members].sum(axis=0)
            low, high = np.quantile(total, [alpha / 2, 1 - alpha / 2])
            out[version][q] = Estimate(float(forecasts.point[version][q][members].sum()), float(low), float(high))
    return out
