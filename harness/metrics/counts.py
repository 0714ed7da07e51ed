"""Counting over a million verdicts without a Python loop per row.

Label columns hold few distinct values ('benign', 'HS;HR', a slice value), so per-value Python
runs once per distinct value and is spread back over the rows by code; per-group counts are one
`bincount` per mask instead of a copied sub-frame per group."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from harness.verdicts import as_list

ITEM_KEY = "item_key"
COUNT = "_count"


def multiplicity(frame: pd.DataFrame) -> np.ndarray:
    """How many items each row stands for: the COUNT column of a collapsed prediction log
    (harness.pipeline.prediction_log), else 1 a row."""
    if COUNT in frame:
        return frame[COUNT].to_numpy(dtype=np.int64)
    return np.ones(len(frame), dtype=np.int64)


def tally(mask: np.ndarray, count: np.ndarray) -> int:
    """Items under `mask`, each row counting `count` items."""
    return int(count[np.asarray(mask, dtype=bool)].sum())


def with_item_keys(*frames: pd.DataFrame) -> list[pd.DataFrame]:
    """The frames with integer codes of item_id (one factorisation over all of them) in ITEM_KEY,
    so joins, pivots and groupings run on integers, not on strings. Frames that carry the column
    already (compute_metrics adds it once for the whole verdict table) are returned as they are."""
    if all(ITEM_KEY in frame for frame in frames):
        return list(frames)
    codes = pd.factorize(pd.concat([frame["item_id"] for frame in frames], ignore_index=True))[0]
    out, start = [], 0
    for frame in frames:
        out.append(frame.assign(**{ITEM_KEY: codes[start:start + len(frame)]}))
        start += len(frame)
    return out


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
        mask: np.ndarray = hits[self.codes]
        return mask

    def equals(self, value: str) -> np.ndarray:
        return self.where(lambda v: v == value)


class Cited:
    """A list column (categories, rule_ids) as codes into its distinct lists; a missing cell (a row a
    merge added) is the empty list."""

    def __init__(self, values: pd.Series) -> None:
        cells = values.to_numpy()
        if any(isinstance(v, str) for v in cells):  # tuple() would split it into characters
            raise TypeError(f"column {values.name!r} holds text; list columns hold lists of ids "
                            "(harness.verdicts.upgrade_verdicts converts a table of ';'-joined text)")
        try:
            keys = np.fromiter(map(tuple, cells), dtype=object, count=len(cells))
        except TypeError:  # a missing cell: NaN or None
            keys = np.fromiter((tuple(as_list(v)) for v in cells), dtype=object, count=len(cells))
        codes, uniques = pd.factorize(keys)
        self.codes: np.ndarray = codes
        self.values: list[tuple[str, ...]] = list(uniques)

    def where(self, test: Callable[[tuple[str, ...]], bool]) -> np.ndarray:
        """Row mask of `test` applied to each distinct list once."""
        hits = np.fromiter((bool(test(v)) for v in self.values), dtype=bool, count=len(self.values))
        return hits[self.codes] if len(self.values) else np.zeros(len(self.codes), dtype=bool)


class Groups:
    """The groups of `frame.groupby(column, sort=True)` (missing values dropped) as codes."""

    def __init__(self, values: pd.Series) -> None:
        codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=True)
        self.keep = codes >= 0
        self.codes: np.ndarray = codes[self.keep]
        self.keys: list[str] = [str(u) for u in uniques]

    def sums(self, masks: Sequence[np.ndarray], count: np.ndarray | None = None) -> np.ndarray:
        """Counts of True per group (each row counting `count` items): one row per group, one column per mask."""
        size = len(self.keys)
        each = None if count is None else count[self.keep]
        return np.stack([np.bincount(self.codes, weights=m[self.keep] if each is None else m[self.keep] * each,
                                     minlength=size) for m in masks],
                        axis=1).round().astype(np.int64) if masks else np.zeros((size, 0), dtype=np.int64)


def records(frame: pd.DataFrame) -> list[dict[str, object]]:
    """`frame.to_dict(orient="records")` without its per-cell boxing (columns become lists once),
    NaN and infinities as None as in metrics.json."""
    columns = list(frame.columns)
    return [dict(zip(columns, row)) for row in zip(*(_finite_list(frame[c].tolist()) for c in frame.columns))]


def _finite_list(values: list[object]) -> list[object]:
    return [None if isinstance(v, float) and not math.isfinite(v) else v for v in values]
