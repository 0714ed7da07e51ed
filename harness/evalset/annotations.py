"""Raw annotations (one column per annotator, or one row per judgement) -> gold, contested, a long table."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness.config import AnnotationsConfig
from harness.errors import HarnessError, did_you_mean
from harness.labels import BENIGN, UNKNOWN, label_key

# Columns of the long annotation table every annotated eval set carries: one row per judgement.
ITEM, ANNOTATOR, LABEL = "item_id", "annotator", "label"


@dataclass
class Annotations:
    """Every judgement of an annotated set, labels mapped (a category id or benign), and how gold was decided."""
    table: pd.DataFrame  # columns item_id, annotator, label
    gold_rule: str
    tie: str

    def for_items(self, ids: Iterable[str]) -> Annotations:
        keep = self.table[ITEM].isin(set(ids))
        return Annotations(self.table[keep].reset_index(drop=True), self.gold_rule, self.tie)


def decide(labels: Sequence[str], rule: str, tie: str) -> str:
    """Gold of one item from its judgements: benign, unknown (a majority tie with `tie: unknown`) or the
    most frequent violating label (alphabetically first on a tie between categories)."""
    violating = [label for label in labels if label != BENIGN]
    if rule == "any":
        acts = bool(violating)
    elif rule == "all":
        acts = bool(labels) and len(violating) == len(labels)
    elif 2 * len(violating) == len(labels):
        if tie == "unknown":
            return UNKNOWN
        acts = tie == "violating"
    else:
        acts = 2 * len(violating) > len(labels)
    if not acts:
        return BENIGN
    counts = Counter(violating)
    return min(label for label, n in counts.items() if n == max(counts.values()))


def gold_and_contested(judgements: pd.DataFrame, ids: np.ndarray, rule: str,
                       tie: str) -> tuple[np.ndarray, np.ndarray]:
    """Per item (in `ids` order): gold by the rule, and whether its annotators disagree."""
    by_item = judgements.groupby(ITEM, sort=False)[LABEL].agg(list)
    labels = [by_item[item_id] for item_id in ids]
    gold = np.array([decide(item, rule, tie) for item in labels], dtype=object)
    contested = np.array([len(set(item)) > 1 for item in labels], dtype=bool)
    return gold, contested


def from_wide(table: pd.DataFrame, columns: list[str], mapping: dict[str, str] | None, ids: np.ndarray,
              source: str) -> pd.DataFrame:
    """One column per annotator (the column name is the annotator) -> the long table."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise HarnessError(f"annotator column '{missing[0]}' (eval_set.columns.annotators) is not in the eval set."
                           f"{did_you_mean(str(missing[0]), map(str, table.columns))} Columns: "
                           f"{', '.join(map(str, table.columns[:20]))}.", path=source)
    frames = []
    for column in columns:
        keys = table[column].map(label_key).to_numpy(dtype=object)
        frames.append(pd.DataFrame({ITEM: ids, ANNOTATOR: column, LABEL: keys, "_row": np.arange(len(ids))}))
    long = pd.concat(frames, ignore_index=True)
    judged = long[long[LABEL].notna()]
    blank = sorted(set(range(len(ids))) - set(judged["_row"]))
    if blank:
        raise HarnessError(f"item '{ids[blank[0]]}' (row {blank[0] + 1}) has no annotation in any of the columns "
                           f"{', '.join(columns)}; add a judgement or drop the row.", path=source)
    judged = judged.sort_values(["_row", ANNOTATOR], kind="stable")
    return _mapped(judged.drop(columns="_row"), mapping, source, where="annotator column")


def from_long(raw: pd.DataFrame, config: AnnotationsConfig, mapping: dict[str, str] | None, ids: np.ndarray,
              source: str) -> pd.DataFrame:
    """One row per judgement from its own file, joined to the items by id -> the long table."""
    wanted = [config.item, config.annotator, config.label]
    missing = [c for c in wanted if c not in raw.columns]
    if missing:
        raise HarnessError(f"column '{missing[0]}' (eval_set.annotations) is not in the annotation file."
                           f"{did_you_mean(str(missing[0]), map(str, raw.columns))} Columns: "
                           f"{', '.join(map(str, raw.columns[:20]))}.", path=config.path)
    for column in (config.item, config.annotator):
        blank = raw[column].map(label_key).isna().to_numpy()
        if blank.any():
            row = int(np.flatnonzero(blank)[0])
            raise HarnessError(f"row {row + 1} has no value in column '{column}'; give every judgement an item "
                               "id and an annotator.", path=config.path)
    long = pd.DataFrame({ITEM: raw[config.item].map(_id_text).to_numpy(dtype=object),
                         ANNOTATOR: raw[config.annotator].map(label_key).to_numpy(dtype=object),
                         LABEL: raw[config.label].map(label_key).to_numpy(dtype=object)})
    known = set(ids)
    strangers = long[~long[ITEM].isin(known)]
    if len(strangers):
        row = int(strangers.index[0])
        raise HarnessError(f"item id '{strangers[ITEM].iloc[0]}' (row {row + 1}, column '{config.item}') is not an "
                           f"item of the eval set (ids such as {', '.join(map(str, ids[:3]))}); fix the annotation "
                           "file or eval_set.columns.id.", path=config.path)
    twice = long.duplicated([ITEM, ANNOTATOR], keep=False)
    if twice.any():
        rows = np.flatnonzero(twice.to_numpy())
        first = long.iloc[rows[0]]
        again = next(r for r in rows[1:] if (long.iloc[r][[ITEM, ANNOTATOR]] == first[[ITEM, ANNOTATOR]]).all())
        raise HarnessError(f"annotator '{first[ANNOTATOR]}' judged item '{first[ITEM]}' twice (rows {rows[0] + 1} "
                           f"and {again + 1}); keep one judgement per annotator and item.", path=config.path)
    judged = long[long[LABEL].notna()]
    unjudged = [i for i, item_id in enumerate(ids) if item_id not in set(judged[ITEM])]
    if unjudged:
        raise HarnessError(f"item '{ids[unjudged[0]]}' (row {unjudged[0] + 1}) has no annotation in "
                           f"{Path(config.path).name}; add its judgements or drop the item.", path=source)
    order = {item_id: i for i, item_id in enumerate(ids)}
    judged = judged.sort_values(ITEM, key=lambda s: s.map(order), kind="stable")
    return _mapped(judged, mapping, config.path, where="annotation")


def _mapped(long: pd.DataFrame, mapping: dict[str, str] | None, source: str, where: str) -> pd.DataFrame:
    if mapping is not None:
        unmapped = sorted(set(long[LABEL]) - set(mapping))
        if unmapped:
            raise HarnessError(unmapped_label(unmapped, long[LABEL], long[ITEM], mapping, where=f"{where} label",
                                              rows=False), path=source)
        long = long.assign(**{LABEL: long[LABEL].map(mapping)})
    # A judgement mapped to unknown says nothing about the item: it is no judgement.
    return long[long[LABEL] != UNKNOWN].reset_index(drop=True)


def unmapped_label(unmapped: list[str], keys: pd.Series, ids: pd.Series, mapping: dict[str, str], *,
                   where: str = "label", rows: bool = True) -> str:
    """The message for labels the mapping does not know: the first one's items, a near miss, the fix.

    A near miss ('Violating' for 'violating') is nearly always a typo in the data, so fixing the data
    comes first; extending the mapping is for a label that is meant."""
    first = unmapped[0]
    at = np.flatnonzero((keys == first).to_numpy())
    more = f" and {len(at) - 3} more" if len(at) > 3 else ""
    named = list(dict.fromkeys(_id_text(ids.iloc[r]) for r in at))
    items = ", ".join(f"'{i}'" for i in named[:3])
    place = (f"in row{'s' if len(at) > 1 else ''} {', '.join(str(r + 1) for r in at[:3])}{more} "
             f"(id{'s' if len(named) > 1 else ''} {items})" if rows else
             f"on item{'s' if len(named) > 1 else ''} {items}{' and more' if len(named) > 3 else ''}")
    others = f" (also unmapped: {', '.join(repr(u) for u in unmapped[1:4])})" if len(unmapped) > 1 else ""
    return (f"{where} '{first}' {place} is not in eval_set.labels (mapped: {', '.join(sorted(mapping))})"
            f"{others}.{did_you_mean(first, mapping)} Fix the data, or add '{first}' to eval_set.labels "
            "if it is a label you mean.")


def _id_text(value: object) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
