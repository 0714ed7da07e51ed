"""A prediction log (id, gold, decision columns, slices) collapsed to counts where it lives.

Billions of rows hold few distinct combinations of (gold, each decision, slice values, stratum,
weight). The collapse is one GROUP BY over those combinations, written once as an Ibis expression
and run by the engine that holds the log (DuckDB on files, Spark, PostgreSQL, a warehouse: see
harness.pipeline.engines), so only the counts leave it. Beside the counts the first EXEMPLARS ids
(and texts) of every combination whose items a metric can list are chosen by the engine too, with
a window function (row_number over the combination, ordered by the row's place in its files, or
by id where the source has no row order), so the item lists (first 200 relabel candidates,
disagreements) name the same items as one row per item would. The collapsed table has one row per
kept item (count 1) and one remainder row per combination standing for the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from harness.errors import HarnessError
from harness.labels import BENIGN
from harness.metrics.counts import COUNT
from harness.pipeline.engines import ROW, Opened, check_columns
from harness.verdicts import ABSTAINED, ACTIONED, ALLOWED

if TYPE_CHECKING:
    import ibis.expr.types as ir

EXEMPLARS = 200  # = the longest item list a metric shows (relabel candidates, disagreements)
MAX_EXEMPLARS = 200_000  # kept ids in all; past it the ids latest in the log are dropped
MAX_COMBINATIONS = 1_000_000
NO_GOLD = ""
_ORDER, _WEIGHT, _ID, _TEXT = "__order", "__weight", "__item_id", "__text"


@dataclass(frozen=True)
class LogColumns:
    """Which column of the log holds what; the output table names decisions by their column."""

    gold: str
    preds: list[str]
    slices: list[str] = field(default_factory=list)
    id: str | None = None
    text: str | None = None
    weight: str | None = None
    strata: str | None = None

    def needed(self) -> list[str]:
        return list(dict.fromkeys(c for c in [self.id, self.text, self.gold, *self.preds, *self.slices,
                                              self.weight, self.strata] if c))

    def keyed(self) -> list[str]:
        """The columns whose combinations are counted (all but id and text)."""
        return list(dict.fromkeys(c for c in [self.gold, *self.preds, *self.slices, self.strata] if c))


@dataclass
class Collapsed:
    """`table`: item_id, text, gold (NO_GOLD when blank), weight, one decision column per pred, the
    slice and strata columns as text, and COUNT, the rows of the log each row stands for."""

    table: pd.DataFrame
    rows: int
    combinations: int


def read_collapsed(log: Opened, columns: LogColumns, benign: set[str], *, source: str,
                   keep_items: int | None) -> Collapsed:
    """The log collapsed by its engine; a log of up to `keep_items` rows (None: any) keeps every row as its
    own item (a small log: the record lists every item)."""
    check_columns(log.table, columns.needed(), source)
    if not log.ordered and not columns.id:
        raise HarnessError("this source has no row order (a table, or files read by Spark); give --id ID so items "
                           "are numbered and listed by their id.", path=source)
    rows = _derived(log, columns, benign)
    keys = [f"k{i}" for i in range(len(columns.keyed()))] + [_WEIGHT]
    combos = _execute(rows.group_by(keys).aggregate(n=rows.count(), first=rows[_ORDER].min()), source)
    if len(combos) > MAX_COMBINATIONS:
        raise HarnessError(
            f"has more than {MAX_COMBINATIONS:,} distinct combinations of gold, decisions, slices, strata "
            "and weight, too many to collapse (a weight or slice that differs on every row does that); "
            "round the weights or drop the finest slice.", path=source)
    if combos[_WEIGHT].isna().any():
        _bad_weight(log, columns, rows, source)
    if columns.id:
        _check_unique(log, rows, source)
    total = int(combos["n"].sum())
    combos = combos.sort_values("first", kind="stable").reset_index(drop=True)
    wanted = [_ORDER, _ID, _TEXT, *keys]
    if keep_items is None or total <= keep_items:
        kept = _execute(rows.select(wanted).order_by(_ORDER), source)
    else:
        listable = rows.filter(_listable(rows, columns))
        ranked = listable.mutate(rank=_row_number(keys))
        kept = _execute(ranked.filter(ranked["rank"] < EXEMPLARS).select(wanted).order_by(_ORDER)
                        .limit(MAX_EXEMPLARS), source)
    return Collapsed(_table(combos, kept, keys, columns), total, len(combos))


def _row_number(keys: list[str]) -> ir.IntegerColumn:
    import ibis

    return ibis.row_number().over(group_by=keys, order_by=_ORDER)


def _execute(expr: ir.Table, source: str) -> pd.DataFrame:
    """The query's result; an engine's error (a value it cannot convert, a dropped connection) is one line."""
    try:
        frame: pd.DataFrame = expr.to_pandas()
        return frame
    except HarnessError:
        raise
    except Exception as err:
        text = str(err).strip().splitlines()
        raise HarnessError(f"the engine failed reading the log ({text[0][:300] if text else type(err).__name__}); "
                           "check the columns' values and that the engine is reachable.", path=source) from None


def _derived(log: Opened, columns: LogColumns, benign: set[str]) -> ir.Table:
    """One row per log row: its order, id, text, the mapped key columns k0.. (gold, decisions, slices,
    stratum, as text) and the weight (null when it is not a number >= 0)."""
    import ibis

    t = log.table
    kinds = {columns.gold: "gold", **{p: "decision" for p in columns.preds}}
    mapped = {f"k{i}": _mapped(t[name], kinds.get(name, "text"), benign) for i, name in enumerate(columns.keyed())}
    order = t[ROW] if log.ordered else _as_text(t[columns.id] if columns.id else t[ROW])
    item_id = (_as_text(t[columns.id]).fill_null("") if columns.id else (t[ROW] - 1).cast("string"))
    text = _as_text(t[columns.text]).fill_null("") if columns.text else ibis.literal("")
    return t.select(**{_ORDER: order, _ID: item_id, _TEXT: text}, **mapped, **{_WEIGHT: _weight(t, columns.weight)})


def _as_text(column: ir.Value) -> ir.StringValue:
    """A value as text the way pyarrow casts it (1.0 -> '1', True -> 'true'), null kept."""
    import ibis

    kind = column.type()
    if kind.is_string():
        return column
    if kind.is_floating():
        integral = (column == column.floor()) & (column.abs() < 2.0 ** 53)
        return ibis.cases((column.isnull(), ibis.null("string")),
                          (integral, column.cast("int64").cast("string")), else_=column.cast("string"))
    if kind.is_boolean():
        return ibis.cases((column.isnull(), ibis.null("string")), (column, "true"), else_="false")
    return column.cast("string")


def _mapped(column: ir.Value, kind: str, benign: set[str]) -> ir.StringValue:
    """Gold: NO_GOLD when blank, BENIGN when a benign value, else the label; a decision: abstained,
    allowed or actioned; any other key column: its text ('nan' when blank)."""
    import ibis

    text = _as_text(column)
    if kind == "text":
        return text.fill_null("nan")
    value = text.strip()
    blank = value.isnull() | (value == "")
    is_benign = value.lower().isin(sorted(benign))
    if kind == "gold":
        return ibis.cases((blank, NO_GOLD), (is_benign, BENIGN), else_=value)
    return ibis.cases((blank, ABSTAINED.value), (is_benign, ALLOWED.value), else_=ACTIONED.value)


def _weight(t: ir.Table, column: str | None) -> ir.FloatingValue:
    import ibis

    if column is None:
        return ibis.literal(1.0, "float64")
    raw = t[column]
    number = raw.cast("float64") if raw.type().is_numeric() else _as_text(raw).strip().try_cast("float64")
    good = number.notnull() & ~number.isnan() & ~number.isinf() & (number >= 0)
    return ibis.ifelse(good, number, ibis.null("float64"))


def _listable(rows: ir.Table, columns: LogColumns) -> ir.BooleanValue:
    """Whether a row's items can appear in a metric's item list: gold known and some decision against
    gold (relabel candidates; two decisions apart means one is wrong). Items all reviewers got right are
    only counted, so they keep no ids."""
    gold = rows["k0"]
    wrong = [((rows[f"k{columns.keyed().index(p)}"] == ACTIONED.value) & (gold == BENIGN))
             | ((rows[f"k{columns.keyed().index(p)}"] == ALLOWED.value) & (gold != BENIGN)) for p in columns.preds]
    any_wrong = wrong[0]
    for more in wrong[1:]:
        any_wrong = any_wrong | more
    return (gold != NO_GOLD) & any_wrong


def _bad_weight(log: Opened, columns: LogColumns, rows: ir.Table, source: str) -> None:
    assert columns.weight is not None
    t = log.table
    bad = t.filter(_weight(t, columns.weight).isnull())
    order = t[ROW] if log.ordered else _as_text(t[columns.id]) if columns.id else t[ROW]
    first = _execute(bad.select(order=order, raw=t[columns.weight].cast("string")).order_by("order").limit(1),
                     source)
    where = f"row {first['order'].iloc[0]}" if log.ordered else f"the row with id '{first['order'].iloc[0]}'"
    raw = first["raw"].iloc[0]
    raise HarnessError(f"{where} has weight '{'' if raw is None or raw is pd.NA else raw}'; weights must be "
                       "numbers >= 0.", path=source)


def _check_unique(log: Opened, rows: ir.Table, source: str) -> None:
    """An id on two rows is an error naming the id (and its first and last rows where the log has row order)."""
    grouped = rows.group_by(_ID).aggregate(n=rows.count(), a=rows[_ORDER].min(), b=rows[_ORDER].max())
    repeated = _execute(grouped.filter(grouped["n"] > 1).order_by("a").limit(1), source)
    if repeated.empty:
        return
    item, n, a, b = (repeated[c].iloc[0] for c in (_ID, "n", "a", "b"))
    times = "twice" if n == 2 else f"{n} times"
    where = f" (rows {a} and {b})" if n == 2 else f" (first at row {a}, last at row {b})"
    raise HarnessError(f"id '{item}' appears {times}{where if log.ordered else ''}; ids must be unique.", path=source)


def _table(combos: pd.DataFrame, kept: pd.DataFrame, keys: list[str], columns: LogColumns) -> pd.DataFrame:
    """The kept rows (count 1) in log order, then one remainder row per combination (in order of first
    appearance) standing for the rows not kept."""
    index = pd.Series(np.arange(len(combos)), index=pd.MultiIndex.from_frame(combos[keys]))
    kept_combo = (index.reindex(pd.MultiIndex.from_frame(kept[keys])).to_numpy(dtype=np.int64) if len(kept)
                  else np.empty(0, dtype=np.int64))
    rest = combos["n"].to_numpy(dtype=np.int64) - np.bincount(kept_combo, minlength=len(combos))
    left = np.flatnonzero(rest > 0)
    combo = np.concatenate([kept_combo, left])
    out = pd.DataFrame({
        "item_id": np.concatenate([kept[_ID].astype(str).to_numpy(dtype=object),
                                   np.array([f"(+{rest[i]:,} more items of combination {i + 1})" for i in left],
                                            dtype=object)]),
        "text": np.concatenate([kept[_TEXT].astype(str).to_numpy(dtype=object), np.full(len(left), "", dtype=object)]),
        "gold": combos["k0"].to_numpy(dtype=object)[combo],
        "weight": combos[_WEIGHT].to_numpy(dtype=float)[combo]})
    keyed = columns.keyed()
    for name in [*columns.preds, *columns.slices, *([columns.strata] if columns.strata else [])]:
        out[name] = combos[f"k{keyed.index(name)}"].to_numpy(dtype=object)[combo]
    out[COUNT] = np.concatenate([np.ones(len(kept_combo), dtype=np.int64), rest[left]])
    return out
