"""Prediction-powered prevalence: many items judged by a reviewer, few with gold.

PPI++ (Angelopoulos, Duchi & Zrnic, "PPI++: Efficient Prediction-Powered Inference", 2023,
arXiv:2311.01453) through the `ppi-python` package: the reviewer's verdicts on every item, corrected
by its errors on the gold-labelled ones, with the power-tuning weight lambda chosen from the data
(lambda = 0 is the gold-only estimate, so it is never worse than gold alone in large samples).
The stratified variant runs PPI++ in each stratum and adds the strata by their share of the items
(Fisch et al., "Stratified Prediction-Powered Inference for Hybrid Language Model Evaluation",
NeurIPS 2024). The gold-labelled rows must be a random sample of the rows (within each stratum).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ppi_py import classical_mean_ci, ppi_mean_ci, ppi_mean_pointestimate
from scipy.stats import norm

from harness.metrics.rates import wilson

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
                       strata: np.ndarray | None = None, alpha: float = ALPHA) -> dict[str, Any]:
    """`violating`: gold (1/0) where `labelled`, anything elsewhere; `predicted`: the reviewer
    actioned (1/0) on every row, abstentions already removed."""
    y = np.asarray(violating, dtype=float)[labelled]
    yhat, yhat_rest = np.asarray(predicted, dtype=float)[labelled], np.asarray(predicted, dtype=float)[~labelled]
    out: dict[str, Any] = {"method": METHOD, "labelled": int(labelled.sum()), "unlabelled": int((~labelled).sum()),
                           "prevalence": None, "not_applicable": dict(NOT_APPLICABLE), "warnings": []}
    if y.size < 2 or yhat_rest.size == 0:
        out["warnings"].append("prediction-powered prevalence needs two or more gold rows and one without gold")
        return out
    gold_only = wilson(int(y.sum()), int(y.size), alpha)
    if min(y.sum(), y.size - y.sum()) < FEW_GOLD:
        out["warnings"].append(f"only {int(min(y.sum(), y.size - y.sum()))} gold rows on the rarer side: the "
                               "prediction-powered (normal) interval under-covers here (87% in the coverage study "
                               "at 1% prevalence with 300 gold rows); rely on the gold-only interval")
    estimate, low, high = _ppi(y, yhat, yhat_rest, alpha)
    c_low, c_high = (float(v) for v in np.ravel(classical_mean_ci(y, alpha=alpha)))
    gain = ((c_high - c_low) / (high - low)) ** 2 if high > low else None
    out["prevalence"] = {
        "gold_only": gold_only,
        "prediction_powered": {"rate": estimate, "ci_low": max(low, 0.0), "ci_high": min(high, 1.0)},
        "effective_gain": gain,
        "gold_labels_for_same_width": None if gain is None else int(round(gain * y.size)),
    }
    if strata is not None:
        out["prevalence"]["stratified"] = _stratified(np.asarray(violating, dtype=float), labelled,
                                                      np.asarray(predicted, dtype=float), np.asarray(strata), alpha,
                                                      out["warnings"])
    return out


def _ppi(y: np.ndarray, yhat: np.ndarray, yhat_rest: np.ndarray, alpha: float) -> tuple[float, float, float]:
    """Point estimate and interval, unclipped (the stratified sum adds them before clipping)."""
    if np.ptp(yhat) == 0 and np.ptp(yhat_rest) == 0:
        # A constant reviewer predicts nothing; ppi-python's lambda would divide by zero.
        low, high = (float(v) for v in np.ravel(classical_mean_ci(y, alpha=alpha)))
        return float(y.mean()), low, high
    estimate = float(np.ravel(ppi_mean_pointestimate(y, yhat, yhat_rest))[0])
    low, high = (float(v) for v in np.ravel(ppi_mean_ci(y, yhat, yhat_rest, alpha=alpha)))
    return estimate, low, high


def _stratified(y: np.ndarray, labelled: np.ndarray, yhat: np.ndarray, strata: np.ndarray, alpha: float,
                warnings: list[str]) -> dict[str, Any] | None:
    z = norm.ppf(1 - alpha / 2)
    total, variance, parts = 0.0, 0.0, {}
    for value in np.unique(strata):
        members = strata == value
        gold, rest = members & labelled, members & ~labelled
        share = members.mean()
        if gold.sum() < 2:
            warnings.append(f"stratum '{value}' has fewer than two gold rows: no stratified estimate")
            return None
        if rest.sum() == 0:
            low, high = (float(v) for v in np.ravel(classical_mean_ci(y[gold], alpha=alpha)))
            estimate = float(y[gold].mean())
        else:
            estimate, low, high = _ppi(y[gold], yhat[gold], yhat[rest], alpha)
        se = (high - low) / (2 * z)
        total += share * estimate
        variance += share ** 2 * se ** 2
        parts[str(value)] = {"share": float(share), "rate": estimate, "gold": int(gold.sum())}
    half = z * float(np.sqrt(variance))
    return {"rate": total, "ci_low": max(total - half, 0.0), "ci_high": min(total + half, 1.0), "strata": parts}
