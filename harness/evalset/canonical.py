"""A raw table -> the canonical item table (ids, text, gold, weight, contested, slices), validated."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from harness._util.hashing import sha256_text
from harness.config import EvalSetConfig
from harness.errors import HarnessError, did_you_mean
from harness.evalset.annotations import ITEM, Annotations, from_long, from_wide, gold_and_contested, unmapped_label
from harness.evalset.columns import (
    CONTESTED,
    CORE_COLUMNS,
    GOLD,
    GOLD_UNKNOWN,
    ID,
    MISSING_SLICE,
    PARALLEL_ID,
    TEXT,
    WEIGHT,
)
from harness.evalset.parallel import check_parallel_gold, parallel_ids
from harness.labels import BENIGN, UNKNOWN, label_key


def used_columns(config: EvalSetConfig) -> frozenset[str]:
    """Every column the experiment reads from the files (a name repeated in a header matters only then)."""
    cols = config.columns
    gold = [] if config.annotations else (list((cols.categories or {}).values()) or cols.annotators or [cols.label])
    roles = [cols.text, *gold, cols.id, cols.weight, cols.contested, *cols.parallel_columns, *cols.slices,
             config.strata.column if config.strata else None]
    return frozenset(c for c in roles if c) - set(config.from_path or {})


def column_key(config: EvalSetConfig, column: str) -> str:
    """The experiment key that names `column`, for errors ('columns.text', 'strata.column')."""
    cols = config.columns
    roles = {"columns.text": cols.text, "columns.label": cols.label, "columns.id": cols.id,
             "columns.weight": cols.weight, "columns.contested": cols.contested,
             **({"columns.parallel_id": cols.parallel_id} if isinstance(cols.parallel_id, str) else
                {f"columns.parallel_id[{i}]": c for i, c in enumerate(cols.parallel_columns)}),
             **{f"columns.categories.{cid}": c for cid, c in (cols.categories or {}).items()},
             **{f"columns.slices[{i}]": c for i, c in enumerate(cols.slices)},
             "strata.column": config.strata.column if config.strata else None}
    return next((key for key, named in roles.items() if named == column), "columns")


def path_slices(config: EvalSetConfig) -> list[str]:
    """`from_path` columns that play no other role are slices (a language, a target group)."""
    cols = config.columns
    roles = {cols.text, cols.label if not (cols.categories or cols.annotators or config.annotations) else None,
             cols.id, cols.weight, cols.contested}
    return [c for c in (config.from_path or {}) if c not in roles and c not in cols.slices]


def canonicalise(table: pd.DataFrame, config: EvalSetConfig, source: str, *, default_ids: list[str] | None = None,
                 judgements: pd.DataFrame | None = None) -> tuple[pd.DataFrame, list[str], Annotations | None]:
    """Map a raw table to the canonical columns, validating as it goes. `judgements` is the raw long
    annotation file (eval_set.annotations); `default_ids` the ids of items read one per line."""
    cols = config.columns
    slices = list(cols.slices) + path_slices(config)
    if config.strata and config.strata.column not in slices:
        slices.append(config.strata.column)  # strata travel with the verdicts as a slice
    raw_annotations = judgements is not None or cols.annotators is not None
    gold_columns = [] if raw_annotations else list(cols.categories.values()) if cols.categories else [cols.label]
    wanted = [c for c in [cols.text, *gold_columns, cols.id, cols.weight, cols.contested, *cols.parallel_columns,
                          *slices] if c]
    missing = [c for c in wanted if c not in table.columns]
    if missing:
        present = [str(c) for c in table.columns]
        raise HarnessError(
            f"column '{missing[0]}' (eval_set.{column_key(config, missing[0])} in the experiment) is not in the eval set."
            f"{did_you_mean(str(missing[0]), present)} Columns: {', '.join(present[:20])}"
            f"{f' (+{len(present) - 20} more)' if len(present) > 20 else ''}.", path=source)
    clash = [s for s in slices if s in CORE_COLUMNS]
    if clash:
        raise HarnessError(f"slice column '{clash[0]}' clashes with a reserved column name; rename it.", path=source)
    if table.empty:
        raise HarnessError("the eval set has no items; point eval_set.path at a file with rows.", path=source)
    out = pd.DataFrame(index=pd.RangeIndex(len(table)))
    out[ID] = _ids(table, cols.id, source) if cols.id or default_ids is None else np.array(default_ids, dtype=object)
    out[TEXT] = _texts(table[cols.text], out[ID], source)
    annotations = None
    if raw_annotations:
        annotations = _annotations(table, config, out[ID].to_numpy(), judgements, source)
        out[GOLD], annotated_contested = gold_and_contested(annotations.table, out[ID].to_numpy(),
                                                            config.gold_rule, config.tie)
        out[GOLD_UNKNOWN] = ""
    elif cols.categories:
        out[GOLD], out[GOLD_UNKNOWN] = _multilabel_gold(table, cols.categories, out[ID], source)
    else:
        out[GOLD] = _labels(table[cols.label], config.labels, out[ID], source)
        out[GOLD_UNKNOWN] = ""
    out[WEIGHT] = _weights(table[cols.weight], out[ID], source) if cols.weight else 1.0
    out[CONTESTED] = table[cols.contested].map(_flag_or_false).to_numpy(dtype=bool) if cols.contested else False
    if annotations is not None:
        out[CONTESTED] = out[CONTESTED].to_numpy(dtype=bool) | annotated_contested
    names = config.slice_labels or {}
    for column in slices:
        values = table[column].map(_slice_value).astype(str)
        out[column] = values.map(lambda v, m=names.get(column, {}): m.get(v, v)).to_numpy()
    if config.strata:
        _check_strata(out[config.strata.column], config.strata.sizes, config.strata.column, source)
    if cols.parallel_columns:
        out[PARALLEL_ID] = parallel_ids(table, cols.parallel_columns)
        check_parallel_gold(out, source)
    return out, slices, annotations


def _annotations(table: pd.DataFrame, config: EvalSetConfig, ids: np.ndarray, judgements: pd.DataFrame | None,
                 source: str) -> Annotations:
    if judgements is not None and config.annotations is not None:
        long = from_long(judgements, config.annotations, config.labels, ids, source)
    else:
        long = from_wide(table, list(config.columns.annotators or []), config.labels, ids, source)
    left = [i for i, item_id in enumerate(ids) if item_id not in set(long[ITEM])]
    if left:
        raise HarnessError(f"item '{ids[left[0]]}' (row {left[0] + 1}) has only judgements mapped to "
                           f"'{UNKNOWN}'; give it a judgement or drop the item.", path=source)
    return Annotations(long, config.gold_rule, config.tie)


def _check_strata(values: pd.Series, sizes: dict[str, float], column: str, source: str) -> None:
    unsized = sorted(set(values) - set(sizes))
    if unsized:
        raise HarnessError(f"stratum '{unsized[0]}' of column '{column}' has no production size; add it to "
                           f"eval_set.strata.sizes (sized: {', '.join(sorted(sizes)[:10])}).", path=source)


_TRUE, _FALSE = {"1", "true", "yes", "y", "t"}, {"0", "false", "no", "n", "f"}


def _flag(value: object) -> bool | None:
    """1/0, true/false, yes/no as a flag; missing as None; anything else raises ValueError."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)) and float(value) in (0.0, 1.0):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    if text in ("", "nan", "none", "null"):
        return None
    raise ValueError(value)


def _flag_or_false(value: object) -> bool:
    # "False" read as text must not become True (bool("False") is True).
    try:
        return bool(_flag(value))
    except ValueError:
        return bool(value)


def _multilabel_gold(table: pd.DataFrame, categories: dict[str, str], ids: pd.Series,
                     source: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-category 1/0/missing columns -> (gold, gold_unknown); a missing label is unknown, not 0."""
    flags: dict[str, list[bool | None]] = {}
    for cid, column in categories.items():
        values = []
        for row, value in enumerate(table[column]):
            try:
                values.append(_flag(value))
            except ValueError:
                raise HarnessError(
                    f"item '{ids.iloc[row]}' (row {row + 1}) has '{value}' in category column '{column}'; "
                    "use 1 (violates), 0 (does not) or leave it empty (unknown).", path=source) from None
        flags[cid] = values
    gold, unknown = [], []
    for row in range(len(table)):
        positive = [c for c in categories if flags[c][row] is True]
        missing = [c for c in categories if flags[c][row] is None]
        gold.append(";".join(positive) if positive else UNKNOWN if missing else BENIGN)
        unknown.append(";".join(missing))
    return np.array(gold, dtype=object), np.array(unknown, dtype=object)


def _slice_value(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING_SLICE
    text = str(value).strip()
    return text or MISSING_SLICE


def _ids(table: pd.DataFrame, column: str | None, source: str) -> np.ndarray:
    if column is None:
        return np.array([str(i) for i in range(len(table))], dtype=object)
    ids = table[column]
    if ids.isna().any():
        row = int(np.flatnonzero(ids.isna().to_numpy())[0])
        raise HarnessError(f"row {row + 1} has no id in column '{column}'; give every row an id.", path=source)
    values = ids.map(lambda v: str(int(v)) if isinstance(v, float) and v.is_integer() else str(v))
    dupes = values[values.duplicated()]
    if len(dupes):
        raise HarnessError(f"id '{dupes.iloc[0]}' appears more than once in column '{column}'; ids must be unique.", path=source)
    return values.to_numpy(dtype=object)


def _texts(texts: pd.Series, ids: pd.Series, source: str) -> np.ndarray:
    as_text = texts.map(lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
    empty = as_text.str.strip() == ""
    if empty.any():
        row = int(np.flatnonzero(empty.to_numpy())[0])
        raise HarnessError(f"item '{ids.iloc[row]}' (row {row + 1}) has empty text; remove it or fill it in.", path=source)
    return as_text.to_numpy(dtype=object)


def _labels(raw: pd.Series, mapping: dict[str, str] | None, ids: pd.Series, source: str) -> np.ndarray:
    keys = raw.map(label_key)
    if keys.isna().any():
        row = int(np.flatnonzero(keys.isna().to_numpy())[0])
        raise HarnessError(f"item '{ids.iloc[row]}' (row {row + 1}) has no label; label it or drop the row.", path=source)
    if mapping is None:
        return keys.to_numpy(dtype=object)
    unmapped = sorted(set(keys) - set(mapping))
    if unmapped:
        raise HarnessError(unmapped_label(unmapped, keys, ids, mapping), path=source)
    return keys.map(mapping).to_numpy(dtype=object)


def _weights(raw: pd.Series, ids: pd.Series, source: str) -> np.ndarray:
    weights = pd.to_numeric(raw, errors="coerce")
    bad = weights.isna() | (weights < 0) | ~np.isfinite(weights.fillna(0))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise HarnessError(
            f"item '{ids.iloc[row]}' (row {row + 1}) has weight '{raw.iloc[row]}'; weights must be numbers >= 0.",
            path=source)
    return weights.astype(float).to_numpy()


def table_sha256(items: pd.DataFrame, slices: list[str]) -> str:
    # gold_unknown joins the hash only when used, so single-label sets keep their hashes.
    extra = [GOLD_UNKNOWN] if GOLD_UNKNOWN in items and (items[GOLD_UNKNOWN] != "").any() else []
    extra += [PARALLEL_ID] if PARALLEL_ID in items else []
    canonical = items[[ID, TEXT, GOLD, *extra, WEIGHT, *slices]].to_csv(index=False)
    return sha256_text(canonical)
