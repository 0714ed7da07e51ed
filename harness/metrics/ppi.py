"""Prediction-powered prevalence: many items judged by a reviewer, few with gold.

PPI++ (Angelopoulos, Duchi & Zrnic, "PPI++: Efficient Prediction-Powered Inference", 2023,
arXiv:2311.01453), computed as the `ppi-python` package does but from the counts of the 2x2 table
(see `_Cells`): the reviewer's verdicts on every item, corrected
by its errors on the gold-labelled ones, with the power-tuning weight lambda chosen from the data
(lambda = 0 is the gold-only estimate, so it is never worse than gold alone in large samples).
The stratified variant runs PPI++ in each stratum and adds the strata by their share of the items
(Fisch et al., "Stratified Prediction-Powered Inference for Hybrid Language Model Evaluation",
NeurIPS 2024). The gold-labelled rows must be a random sample of the rows (within each stratum).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from harness.metrics.rates import wilson
from harness.record.metrics import Estimate, PpiPrevalence, PredictionPowered, StratifiedEstimate, StratumEstimate

FEW_GOLD = 10
ALPHA = 0.05  # ppi-python defaults to 90%; the harness reports 95% everywhere
METHOD = "PPI++ (Angelopoulos, Duchi & Zrnic 2023; ppi-python), 95%, power-tuned"
NOT_APPLICABLE = {
    "over_enforcement": "a rate among gold-benign items: on unlabelled items the reviewer's own verdict predicts "
                        "no error at all, so the unlabelled rows carry no information and PPI++ gives back the "
                        "gold-only rate (reported above)",
    "leakage": "a rate among gold-violating items: on unlabelled items the reviewer's own verdict predicts no "
               "error at all, so the unlabelled rows carry no information and PPI++ gives back the gold-only "
               "rate (reported above)",
}


def prediction_powered(violating: np.ndarray, labelled: np.ndarray, predicted: np.ndarray,
                       strata: np.ndarray | None = None, alpha: float = ALPHA,
                       strata_names: list[str] | None = None, count: np.ndarray | None = None) -> PredictionPowered:
    """`violating`: gold (1/0) where `labelled`, anything elsewhere; `predicted`: the reviewer
    actioned (1/0) on every row, abstentions already removed. `strata` may be integer codes into
    `strata_names`; `count`: how many identical rows each position stands for (a collapsed log)."""
    violating, labelled, predicted = (np.asarray(a, dtype=bool) for a in (violating, labelled, predicted))
    count = np.ones(len(labelled), dtype=np.int64) if count is None else np.asarray(count, dtype=np.int64)
    cells = _Cells.of(violating, labelled, predicted, count)
    warnings: list[str] = []

    def block(prevalence: PpiPrevalence | None) -> PredictionPowered:
        return PredictionPowered(method=METHOD, labelled=cells.n, unlabelled=cells.big_n, prevalence=prevalence,
                                 not_applicable=dict(NOT_APPLICABLE), warnings=warnings)

    if cells.n < 2 or cells.big_n == 0:
        warnings.append("prediction-powered prevalence needs two or more gold rows and one without gold")
        return block(None)
    positives = cells.y1
    gold_only = wilson(positives, cells.n, alpha)
    if min(positives, cells.n - positives) < FEW_GOLD:
        warnings.append(f"only {min(positives, cells.n - positives)} gold rows on the rarer side: the "
                               "prediction-powered (normal) interval under-covers here (87% in the coverage study "
                               "at 1% prevalence with 300 gold rows); rely on the gold-only interval")
    estimate, low, high = cells.ppi(alpha)
    _, c_low, c_high = cells.classical(alpha)
    gain = ((c_high - c_low) / (high - low)) ** 2 if high > low else None
    stratified = (_stratified(violating, labelled, predicted, count, np.asarray(strata), alpha, warnings, strata_names)
                  if strata is not None else None)
    return block(PpiPrevalence(
        gold_only=gold_only,
        prediction_powered=Estimate(rate=estimate, ci_low=max(low, 0.0), ci_high=min(high, 1.0)),
        effective_gain=gain,
        gold_labels_for_same_width=None if gain is None else int(round(gain * cells.n)),
        stratified=stratified,
    ))


@dataclass(frozen=True)
class _Cells:
    """The 2x2 counts of (gold, verdict) on the labelled rows and the verdict counts on the rest:
    for 0/1 outcomes all that PPI++'s mean estimate and interval depend on.

    ppi-python takes one value per row (its weights are importance weights, rescaled to the row
    count), about 100 bytes a row inside it: 1 GB at ten million rows. Its `ppi_mean_ci` (lambda
    from `_calc_lam_glm`, clipped to [0, 1]; normal interval) written out on the counts gives the
    same numbers (tests/metrics/test_ppi.py checks both against ppi-python)."""

    c11: int
    c10: int
    c01: int
    c00: int
    u1: int
    u0: int

    @classmethod
    def of(cls, y: np.ndarray, labelled: np.ndarray, yhat: np.ndarray, count: np.ndarray) -> _Cells:
        def n(mask: np.ndarray) -> int:
            return int(count[mask].sum())
        return cls(n(labelled & y & yhat), n(labelled & y & ~yhat), n(labelled & ~y & yhat), n(labelled & ~y & ~yhat),
                   n(~labelled & yhat), n(~labelled & ~yhat))

    @property
    def n(self) -> int:
        return self.c11 + self.c10 + self.c01 + self.c00

    @property
    def big_n(self) -> int:
        return self.u1 + self.u0

    @property
    def y1(self) -> int:
        return self.c11 + self.c10

    def classical(self, alpha: float) -> tuple[float, float, float]:
        """ppi-python's classical_mean_ci: the gold mean with a normal interval."""
        mean = self.y1 / self.n
        half = norm.ppf(1 - alpha / 2) * math.sqrt(mean * (1 - mean) / self.n)
        return mean, mean - half, mean + half

    def ppi(self, alpha: float) -> tuple[float, float, float]:
        """Point estimate and interval, unclipped (the stratified sum adds them before clipping)."""
        n, big_n = self.n, self.big_n
        m_y, m_hat, m_rest = self.y1 / n, (self.c11 + self.c01) / n, self.u1 / big_n
        pooled = (self.c11 + self.c01 + self.u1) / (n + big_n)
        var_hat = (n + big_n) / (n + big_n - 1) * pooled * (1 - pooled)
        if var_hat == 0:
            # A constant reviewer predicts nothing; ppi-python's lambda would divide by zero.
            return self.classical(alpha)
        lam = min(max((self.c11 / n - m_y * m_hat) / ((1 + n / big_n) * var_hat), 0.0), 1.0)
        estimate = lam * m_rest + m_y - lam * m_hat
        rectified = m_y - lam * m_hat
        square = (self.c11 * (1 - lam) ** 2 + self.c10 + self.c01 * lam ** 2) / n
        se = math.sqrt(lam ** 2 * m_rest * (1 - m_rest) / big_n + max(square - rectified ** 2, 0.0) / n)
        half = norm.ppf(1 - alpha / 2) * se
        return estimate, estimate - half, estimate + half


def _stratified(y: np.ndarray, labelled: np.ndarray, yhat: np.ndarray, count: np.ndarray, strata: np.ndarray,
                alpha: float, warnings: list[str], names: list[str] | None = None) -> StratifiedEstimate | None:
    z = norm.ppf(1 - alpha / 2)
    total, variance, parts = 0.0, 0.0, dict[str, StratumEstimate]()
    rows = int(count.sum())
    for code in np.unique(strata):
        members = strata == code
        value = names[code] if names is not None else code
        cells = _Cells.of(y & members, labelled & members, yhat & members, count * members)
        share = (cells.n + cells.big_n) / rows
        if cells.n < 2:
            warnings.append(f"stratum '{value}' has fewer than two gold rows: no stratified estimate")
            return None
        estimate, low, high = cells.classical(alpha) if cells.big_n == 0 else cells.ppi(alpha)
        se = (high - low) / (2 * z)
        total += share * estimate
        variance += share ** 2 * se ** 2
        parts[str(value)] = StratumEstimate(share=float(share), rate=estimate, gold=cells.n)
    half = z * float(np.sqrt(variance))
    return StratifiedEstimate(rate=total, ci_low=max(total - half, 0.0), ci_high=min(total + half, 1.0), strata=parts)
