"""Parallel items: translations or adaptations of one item share a `parallel_id`, and so must their gold."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from harness.errors import HarnessError
from harness.evalset.columns import GOLD, ID, PARALLEL_ID
from harness.labels import UNKNOWN

KEY_SEPARATOR = " | "


def parallel_ids(table: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """One group key per row: the columns' values joined by ' | '; a row with every part blank is in no group ("")."""
    parts = [table[column].map(_part) for column in columns]
    keys = parts[0] if len(parts) == 1 else pd.Series(
        [KEY_SEPARATOR.join(values) for values in zip(*parts, strict=True)], index=table.index)
    blank = np.logical_and.reduce([(p == "").to_numpy() for p in parts])
    return np.where(blank, "", keys.to_numpy(dtype=object)).astype(object)


def check_parallel_gold(items: pd.DataFrame, source: str) -> None:
    """Items of one parallel group are the same content in different languages: their known gold agrees."""
    grouped = items.loc[(items[PARALLEL_ID] != "") & (items[GOLD] != UNKNOWN), [PARALLEL_ID, GOLD, ID]]
    golds = grouped.groupby(PARALLEL_ID, sort=True)[GOLD].nunique()
    split = golds[golds > 1]
    if len(split):
        group = str(split.index[0])
        members = grouped[grouped[PARALLEL_ID] == group]
        shown = ", ".join(f"'{i}' {g}" for i, g in zip(members[ID].head(4), members[GOLD].head(4), strict=True))
        more = f" and {len(split) - 1} more group{'s' if len(split) > 2 else ''}" if len(split) > 1 else ""
        raise HarnessError(f"parallel group '{group}' has items with different gold ({shown}){more}; translations "
                           "of one item must share its gold label: fix the labels or the parallel_id column.",
                           path=source)


def _part(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
