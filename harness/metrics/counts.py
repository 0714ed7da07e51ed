"""Counting over a million verdicts without a Python loop per row.

Label columns hold few distinct values ('benign', 'HS;HR', a slice value), so per-value Python
runs once per distinct value and is spread back over the rows by code; per-group counts are one
`bincount` per mask instead of a copied sub-frame per group."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd


class Labels:
    """A column as codes into its distinct values as strings; missing values read as `na`."""

    def __init__(self, values: pd.Series | np.ndarray, na: str) -> None:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        # Code -1 (missing) indexes the last entry, so `na` sits at the end.
        self.codes: np.ndarray = codes
        self.values: list[str] = [str(u) for u in uniques] + [na]

    def where(self, test: Callable[[str], bool]) -> np.ndarray:
        """Row mask of `test` applied to each distinct value once."""
        hits = np.fromiter((bool(test(v)) for v in self.values), dtype=bool, count=len(self.values))
        return hits[self.codes]

    def equals(self, value: str) -> np.ndarray:
        return self.where(lambda v: v == value)


class Groups:
    """The groups of `frame.groupby(column, sort=True)` (missing values dropped) as codes."""

    def __init__(self, values: pd.Series) -> None:
        codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=True)
        self.keep = codes >= 0
        self.codes: np.ndarray = codes[self.keep]
        self.keys: list[str] = [str(u) for u in uniques]

    def sums(self, masks: Sequence[np.ndarray]) -> np.ndarray:
        """Counts of True per group: one row per group, one column per mask."""
        size = len(self.keys)
        return np.stack([np.bincount(self.codes, weights=m[self.keep], minlength=size) for m in masks],
                        axis=1).round().astype(np.int64) if masks else np.zeros((size, 0), dtype=np.int64)


def records(frame: pd.DataFrame) -> list[dict[str, object]]:
    """`frame.to_dict(orient="records")` without its per-cell boxing (columns become lists once),
    NaN and infinities as None as in metrics.json."""
    columns = list(frame.columns)
    return [dict(zip(columns, row)) for row in zip(*(_finite_list(frame[c].tolist()) for c in frame.columns))]


def _finite_list(values: list[object]) -> list[object]:
    return [None if isinstance(v, float) and not math.isfinite(v) else v for v in values]
