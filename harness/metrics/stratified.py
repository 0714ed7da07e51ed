"""From weighted items to the strata of the posterior (harness.metrics.posterior).

The strata are the declared ones (a strata column, gold classes from a prevalence), each split by
the weight classes its items reveal: a sample drawn by stratum carries one weight N_h / n_h per
stratum, so a weight column alone names its strata by its distinct values, and a declared stratum
holding a few weight values was sub-sampled at as many rates. A stratum whose weights take many
values (calibrated or size-proportional weights) stays one stratum; its weighted cell shares are
scaled to Kish's effective size, (sum w)^2 / sum w^2 (Kish, *Survey Sampling*, 1965, section 11.7),
the normalisation of the weighted pseudo-posterior (Savitsky & Toth, Electron J Stat 10:1677-1713,
2016) with the effective size for the nominal one, so its counts weigh what the weights let them.
With one weight per stratum the counts are the items themselves.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from harness.metrics.posterior import StratumCells

# Weight values count as classes (sub-strata) only when they are few and each is well filled;
# otherwise a class of a few items would get a prior as strong as a stratum of hundreds.
MAX_CLASSES = 10
MIN_CLASS = 10


class Strata(NamedTuple):
    """One code per item, shape (rows, items), and each code's name."""

    codes: np.ndarray
    names: list[str]


def _rounded(weights: np.ndarray) -> np.ndarray:
    """Weights to about 9 significant digits: N_h / n_h computed two ways is one class."""
    mantissa, exponent = np.frexp(weights)
    return np.asarray(np.ldexp(np.round(mantissa * 2.0 ** 30) / 2.0 ** 30, exponent), dtype=float)


def _classes(weights: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Class codes of one stratum's items and the class weights, or None when the weights do not
    form a few well-filled classes. Items of weight 0 are not in the sample and join class 0."""
    positive = weights > 0
    if not positive.any():
        return None
    values, codes = np.unique(_rounded(weights[positive]), return_inverse=True)
    if len(values) == 1 or len(values) > MAX_CLASSES:
        return None
    if np.bincount(codes, weights=count[positive], minlength=len(values)).min() < MIN_CLASS:
        return None
    out = np.zeros(len(weights), dtype=np.int64)
    out[positive] = codes
    return out, values


def reveal_strata(weights: np.ndarray, labels: np.ndarray | None, count: np.ndarray, *, split: bool = True) -> Strata:
    """Posterior strata for items of `weights` (rows, items) under declared `labels` (items,) or
    none: each declared stratum split by the weight classes of each row (unless `split` is False)."""
    rows, items = weights.shape
    if labels is None:
        declared, declared_names = np.zeros(items, dtype=np.int64), ["all items"]
    else:
        declared, uniques = pd.factorize(np.asarray(labels))
        declared_names = [f"'{u}'" for u in uniques]
    step = MAX_CLASSES + 1
    names: dict[int, str] = {d * step: name for d, name in enumerate(declared_names)}
    same = rows == 1 or bool(np.all(weights == weights[:1]))
    keys = np.empty((1 if same else rows, items), dtype=np.int64)
    for row in range(keys.shape[0]):
        key = declared * step
        for d, name in enumerate(declared_names):
            members = declared == d
            found = _classes(weights[row, members], count[members]) if split else None
            if found is not None:
                classes, values = found
                key[members] += classes + 1
                for j, value in enumerate(values):
                    shown = f"items of weight {value:.4g}"
                    names[d * step + j + 1] = shown if labels is None else f"{name} {shown}"
        keys[row] = key
    codes, uniques = pd.factorize(keys.ravel())
    return Strata(np.broadcast_to(codes.reshape(keys.shape), weights.shape), [names[int(u)] for u in uniques])


def stratum_cells(numerator: np.ndarray, denominator: np.ndarray, weights: np.ndarray, codes: np.ndarray,
                  count: np.ndarray, strata: int) -> StratumCells:
    """Cells per row and stratum from items of shape (rows, items); weight-0 items are not sampled.
    Counts are Kish-scaled weighted totals: the item counts themselves when weights are constant."""
    rows = numerator.shape[0]
    flat = (np.arange(rows)[:, None] * strata + codes).ravel()
    sampled = weights > 0
    cw = count * weights

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(flat, weights=values.ravel(), minlength=rows * strata).reshape(rows, strata)

    size = total(cw)
    square = total(count * weights ** 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(size > 0, size / square, 0.0)  # Kish's n_eff / sum w
    inside = denominator & sampled
    only = total(np.where(inside & ~numerator, cw, 0.0)) * scale
    both = total(np.where(inside & numerator, cw, 0.0)) * scale
    outside = np.maximum(size * scale - only - both, 0.0)
    return StratumCells(size, outside, only, both)


def item_cells(numerator: np.ndarray, denominator: np.ndarray, weights: np.ndarray,
               labels: np.ndarray | None = None, count: np.ndarray | None = None) -> tuple[StratumCells, list[str]]:
    """The posterior cells (one row) and strata names of one set of items, each of shape (items,):
    what harness.metrics.weighted does before its interval, for callers of the posterior that
    combine rates themselves (an impact forecast: harness.metrics.posterior.impact_interval)."""
    w = np.asarray(weights, dtype=float)[None, :]
    c = np.ones(w.shape[1]) if count is None else np.asarray(count, dtype=float)
    found = reveal_strata(w, labels, c)
    cells = stratum_cells(np.asarray(numerator, dtype=bool)[None, :], np.asarray(denominator, dtype=bool)[None, :],
                          w, found.codes, c, len(found.names))
    return cells, found.names
