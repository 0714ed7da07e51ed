"""Whether a reviewer's score reads as a probability: the Brier score, the expected calibration error
(ECE) with a bootstrap interval, and the reliability diagram's bins (docs/scores.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.metrics.confusion import gold_status
from harness.metrics.rates import finite_or_none
from harness.record.metrics import Calibration, ReliabilityBin

BINS = 10
RESAMPLES = 1000
TRUSTED_ECE = 0.05  # the interval's upper end at most this: the score can be read as a probability
MIN_ITEMS = 20
SOURCES = {"logprobs": "P(violation) from token log-probabilities", "confidence": "stated confidence",
           "score": "score"}


def calibration(frame: pd.DataFrame, *, seed: int = 0) -> Calibration | None:
    """`frame`: one row per item with gold, `score` (P(violation)) and, for an LLM, `score_source`;
    None without scores on at least MIN_ITEMS items of known gold."""
    if "score" not in frame:
        return None
    score = pd.to_numeric(frame["score"], errors="coerce").to_numpy(dtype=float)
    _, violating, unknown = gold_status(frame)
    keep = np.isfinite(score) & ~unknown
    if keep.sum() < MIN_ITEMS:
        return None
    p, y = np.clip(score[keep], 0.0, 1.0), violating[keep].astype(float)
    sources = {str(s) for s in frame.loc[keep, "score_source"]} - {""} if "score_source" in frame else set()
    source = sources.pop() if len(sources) == 1 else "score"
    from scipy.stats import bootstrap
    from sklearn.metrics import brier_score_loss

    ece = expected_calibration_error(p, y)
    interval = bootstrap((p, y), expected_calibration_error, paired=True, vectorized=False, n_resamples=RESAMPLES,
                         confidence_level=0.95, method="percentile", random_state=np.random.default_rng(seed))
    low, high = finite_or_none(interval.confidence_interval.low), finite_or_none(interval.confidence_interval.high)
    trusted = high is not None and high <= TRUSTED_ECE
    return Calibration(source=source, items=int(keep.sum()), brier=float(brier_score_loss(y, p)), ece=ece,
                       ece_ci_low=low, ece_ci_high=high, bins=reliability_bins(p, y), trusted=trusted,
                       summary=_summary(source, ece, low, high, trusted))


def expected_calibration_error(p: np.ndarray, y: np.ndarray) -> float:
    """Σ over BINS equal-width bins of (share of items in the bin) x |mean score − share violating|
    (Naeini, Cooper and Hauskrecht 2015; Guo et al. 2017)."""
    index = np.minimum((p * BINS).astype(int), BINS - 1)
    counts = np.bincount(index, minlength=BINS)
    gap = np.abs(np.bincount(index, weights=p, minlength=BINS) - np.bincount(index, weights=y, minlength=BINS))
    return float(gap.sum() / max(1, counts.sum()))


def reliability_bins(p: np.ndarray, y: np.ndarray) -> list[ReliabilityBin]:
    """The non-empty bins of the reliability diagram: mean score against observed share violating."""
    index = np.minimum((p * BINS).astype(int), BINS - 1)
    out = []
    for b in range(BINS):
        inside = index == b
        if inside.any():
            out.append(ReliabilityBin(low=b / BINS, high=(b + 1) / BINS, items=int(inside.sum()),
                                      mean_score=float(p[inside].mean()), observed=float(y[inside].mean())))
    return out


def _summary(source: str, ece: float, low: float | None, high: float | None, trusted: bool) -> str:
    what = SOURCES.get(source, "score")
    interval = f" (95% interval {low:.3f}–{high:.3f})" if low is not None and high is not None else ""
    if trusted:
        return (f"The reviewer's {what} can be trusted as a probability: it is off by {ece:.3f} on average"
                f"{interval}, within {TRUSTED_ECE:g}.")
    if ece <= TRUSTED_ECE:
        return (f"The reviewer's {what} cannot yet be trusted as a probability: it is off by {ece:.3f} on average, "
                f"but its interval{interval} reaches past {TRUSTED_ECE:g}; judge more items to tell.")
    return (f"The reviewer's {what} cannot be trusted as a probability: it is off by {ece:.3f} on average"
            f"{interval}, more than {TRUSTED_ECE:g}; rank by it, do not read it as a chance.")
