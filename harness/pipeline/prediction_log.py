"""A prediction log (id, gold, decision columns, slices) collapsed to counts where it lives.

Billions of rows hold few distinct combinations of (gold, each decision, slice values, stratum,
weight). The collapse is one GROUP BY over those combinations, written once as an Ibis expression
and run by the engine that holds the log (DuckDB on files, Spark, PostgreSQL, a warehouse: see
harness.pipeline.engines), so only the counts leave it. Beside the counts the engine chooses the
ids (and texts) a metric can show, with window functions over the rows of the combinations a
metric can list: the first EXEMPLARS of each item list (split and all-wrong disagreements, relabel
candidates) in log order (or by id where the source has no row order), and the first TOTAL_LIMIT
of each reviewer's false positives and false negatives (and of each value of the first slice) in
id order, the error exemplars' order; so every list names the items one row per item would. The
collapsed table has one row per kept item (count 1) and one remainder row per combination standing
for the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from harness.errors import HarnessError
from harness.labels import BENIGN, label_key
from harness.metrics.counts import COUNT
from harness.metrics.errors import DIGITS, TOTAL_LIMIT
from harness.pipeline.engines import ROW, Opened
from harness.verdicts import ABSTAINED, ACTIONED, ALLOWED

if TYPE_CHECKING:
    import ibis.expr.types as ir

EXEMPLARS = 200  # = the longest item list a metric shows (relabel candidates, disagreements)
MAX_COMBINATIONS = 1_000_000
NO_GOLD = ""
_ORDER, _WEIGHT, _ID, _TEXT, _LIST = "__order", "__weight", "__item_id", "__text", "__list"
# Leads a remainder row's item_id so it sorts after the ids of real items: lists in id order (error exemplars)
# show the kept items first, as one row per item would.
REST = "\u2026"
BLANK = "\u2400(blank)"  # a null key value (U+2400): GROUP BY keeps nulls apart, but a join never matches them


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
    own item (a small log: the record lists every item).

    The GROUP BY runs on the raw values (as text), as cheap as a bare GROUP BY; their few distinct values are
    mapped to gold labels and decisions here, and raw combinations with the same mapping are one combination.
    The ids are chosen by a second query over the rows of the combinations a metric can list (IN tests on the
    raw values that map to each gold kind and decision), numbered by two row_number() windows (_ranks)."""
    if not log.ordered and not columns.id:
        raise HarnessError("this source has no row order (a table, or files read by Spark); give --id ID so items "
                           "are numbered and listed by their id.", path=source)
    rows = _derived(log, columns)
    raw = [f"r{i}" for i in range(len(columns.keyed()))] + [_WEIGHT]
    bare = _derived(log, columns, blank=None)  # no per-row COALESCE: the GROUP BY costs what a bare one does
    groups = _execute(bare.group_by(raw).aggregate(n=bare.count(), first=bare[_ORDER].min()), source)
    for name in raw[:-1]:
        groups[name] = groups[name].astype(object).where(groups[name].notna(), BLANK)
    if len(groups) > MAX_COMBINATIONS:
        raise HarnessError(
            f"has more than {MAX_COMBINATIONS:,} distinct combinations of gold, decisions, slices, strata "
            "and weight, too many to collapse (a weight or slice that differs on every row does that); "
            "round the weights or drop the finest slice.", path=source)
    mapped = _map_groups(groups, columns, benign)
    bad = mapped[_WEIGHT].isna()
    if bad.any():
        _bad_weight(log, rows, groups.loc[bad, _WEIGHT].tolist(), source)
    if columns.id:
        _check_unique(log, rows, source)
    keys = [f"k{i}" for i in range(len(columns.keyed()))] + [_WEIGHT]
    combos = (mapped.groupby(keys, sort=False, dropna=False).agg(n=("n", "sum"), first=("first", "min"))
              .reset_index().sort_values("first", kind="stable").reset_index(drop=True))
    total = int(combos["n"].sum())
    wanted = [_ORDER, _ID, _TEXT, *raw]
    if keep_items is None or total <= keep_items:
        kept = _execute(rows.select(wanted).order_by(_ORDER), source)
    elif _listable(mapped, columns).any():
        kept = _chosen(log, rows, groups, mapped, columns, total, source)[wanted]
    else:
        kept = pd.DataFrame(columns=wanted)
    kept = _mapped_rows(kept, groups, mapped, raw, keys)
    return Collapsed(_table(combos, kept, keys, columns), total, len(combos))


def _execute(expr: ir.Table, source: str) -> pd.DataFrame:
    """The query's result; an engine's error (a value it cannot convert, a dropped connection) is one line."""
    try:
        frame: pd.DataFrame = expr.to_pandas()
        return frame
    except Exception as err:
        text = str(err).strip().splitlines()
        raise HarnessError(f"the engine failed reading the log ({text[0][:300] if text else type(err).__name__}); "
                           "check the columns' values and that the engine is reachable.", path=source) from None


def _derived(log: Opened, columns: LogColumns, blank: str | None = BLANK, table: ir.Table | None = None) -> ir.Table:
    """One row per row of the log (or of `table`, a part of it): its order, id, text, the key columns r0.. as text
    (blank: `blank`, or null when None) and the weight."""
    import ibis

    t = log.table if table is None else table
    raw = {f"r{i}": _as_text(t[name]) if blank is None else _as_text(t[name]).fill_null(blank)
           for i, name in enumerate(columns.keyed())}
    order = t[ROW] if log.ordered else _as_text(t[columns.id] if columns.id else t[ROW])
    item_id = (_as_text(t[columns.id]).fill_null("") if columns.id else (t[ROW] - 1).cast("string"))
    text = _as_text(t[columns.text]).fill_null("") if columns.text else ibis.literal("")
    weight: ir.Value = ibis.literal(1.0, "float64")
    if columns.weight:
        weight = t[columns.weight].cast("float64") if t[columns.weight].type().is_numeric() else t[columns.weight]
    return t.select(**{_ORDER: order, _ID: item_id, _TEXT: text}, **raw, **{_WEIGHT: weight})


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


def _map_groups(groups: pd.DataFrame, columns: LogColumns, benign: set[str]) -> pd.DataFrame:
    """The raw combinations with k0.. (gold, decisions, slices, stratum as the metrics read them) and the
    weight as a number (NaN when it is not a number >= 0); each distinct value is mapped once."""
    kinds = {columns.gold: "gold", **{p: "decision" for p in columns.preds}}
    out = groups[["n", "first"]].copy()
    for i, name in enumerate(columns.keyed()):
        values = groups[f"r{i}"]
        lookup = {v: _mapped(None if v == BLANK else v, kinds.get(name, "text"), benign) for v in values.unique()}
        out[f"k{i}"] = values.map(lookup).astype(object)
    weights = pd.to_numeric(groups[_WEIGHT], errors="coerce").astype(float)
    out[_WEIGHT] = weights.where(np.isfinite(weights) & (weights >= 0))
    return out


def _mapped(value: object, kind: str, benign: set[str]) -> str:
    if kind == "text":
        return "nan" if value is None else str(value)
    text = label_key(value)
    if kind == "gold":
        return NO_GOLD if text is None else BENIGN if text.lower() in benign else text
    return ABSTAINED if text is None else ALLOWED if text.lower() in benign else ACTIONED


def _listable(mapped: pd.DataFrame, columns: LogColumns) -> np.ndarray:
    """Whether a combination's items can appear in a metric's item list: gold known and some decision against
    gold (relabel candidates; two decisions apart means one is wrong). Items all reviewers got right are only
    counted, so they keep no ids."""
    gold = mapped["k0"].to_numpy(dtype=object)
    wrong = np.zeros(len(mapped), dtype=bool)
    for pred in columns.preds:
        decision = mapped[f"k{columns.keyed().index(pred)}"].to_numpy(dtype=object)
        wrong |= ((decision == ACTIONED) & (gold == BENIGN)) | ((decision == ALLOWED) & (gold != BENIGN))
    listable: np.ndarray = (gold != NO_GOLD) & wrong
    return listable


def _list_kinds(rows: ir.Table, groups: pd.DataFrame, mapped: pd.DataFrame,
                columns: LogColumns) -> tuple[ir.BooleanValue, ir.IntegerValue, list[ir.IntegerValue]]:
    """The rows of listable combinations, and which item list each row's combination feeds (LIST_KINDS), as IN
    tests on the few raw values that map to each gold kind and decision.

    Listable: gold benign and some decision actioned, or gold a violation and some decision allowed. The kinds
    are disjoint: two decisions apart (split disagreements), every reviewer decided and every one wrong (relabel
    candidates, and all-wrong disagreements), some abstained and every decided one wrong (all-wrong
    disagreements). Every list shows its first EXEMPLARS items in log order, which are among the first
    EXEMPLARS of their kind (all-wrong: of one of its two kinds)."""
    import ibis

    def raw_in(i: int, wanted: np.ndarray) -> ir.BooleanValue:
        values = sorted(set(groups.loc[wanted, f"r{i}"].tolist()))
        test: ir.BooleanValue = rows[f"r{i}"].isin(values or [BLANK + "none"])
        return test

    gold = mapped["k0"].to_numpy(dtype=object)
    benign, violating = raw_in(0, gold == BENIGN), raw_in(0, (gold != BENIGN) & (gold != NO_GOLD))
    actioned, allowed, wrong, decided, errors = [], [], [], [], []
    for pred in columns.preds:
        at = columns.keyed().index(pred)
        decision = mapped[f"k{at}"].to_numpy(dtype=object)
        actioned.append(raw_in(at, decision == ACTIONED))
        allowed.append(raw_in(at, decision == ALLOWED))
        wrong.append((benign & actioned[-1]) | (violating & allowed[-1]))
        decided.append(actioned[-1] | allowed[-1])
        errors.append(ibis.cases((benign & actioned[-1], 0), (violating & allowed[-1], 1), else_=2))
    listable: ir.BooleanValue = (benign & ibis.or_(*actioned)) | (violating & ibis.or_(*allowed))
    all_wrong = ibis.and_(*(w | ~d for w, d in zip(wrong, decided, strict=True)))
    kind: ir.IntegerValue = ibis.cases((ibis.or_(*actioned) & ibis.or_(*allowed), 0),
                                       (all_wrong & ibis.and_(*decided), 1), else_=2)
    return listable, kind, errors


def _mapped_rows(kept: pd.DataFrame, groups: pd.DataFrame, mapped: pd.DataFrame, raw: list[str],
                 keys: list[str]) -> pd.DataFrame:
    """The kept rows with their mapped keys."""
    at = pd.Series(np.arange(len(groups)), index=pd.MultiIndex.from_frame(groups[raw]))
    index = at.reindex(pd.MultiIndex.from_frame(kept[raw])).to_numpy() if len(kept) else np.empty(0, dtype=np.int64)
    out = kept[[_ORDER, _ID, _TEXT]].reset_index(drop=True)
    for key in keys:
        out[key] = mapped[key].to_numpy()[index.astype(np.int64)]
    return out


def _chosen(log: Opened, rows: ir.Table, groups: pd.DataFrame, mapped: pd.DataFrame, columns: LogColumns,
            total: int, source: str) -> pd.DataFrame:
    """The rows a metric can show: the first EXEMPLARS of each item list and the first TOTAL_LIMIT of each error
    partition (_ranks), in log order.

    Where the log can be cut to its first rows cheaply (`log.head`: Parquet, whose reader skips row groups) and
    both rankings follow row order (no id column: items are named by row number, and row numbers sort as
    numbers), the windows run on a prefix of the log, grown until every partition holds in the prefix as many
    rows as it needs (its limit, or all it has in the whole log): the same rows as the whole log gives,
    without sorting its listable rows."""
    import ibis

    by_row = log.ordered and not columns.id
    head = log.head if by_row else None
    needs = _partition_needs(groups, mapped, columns) if head is not None else None
    length = PREFIX_ROWS
    while True:
        cut = head(length) if head is not None and length < total else None
        scoped = rows if cut is None else _derived(log, columns, table=cut)
        listable, kind, errors = _list_kinds(scoped, groups, mapped, columns)
        parts = {_LIST: kind, **{f"e{i}": e for i, e in enumerate(errors)}}
        chosen = scoped.filter(listable).select(*scoped.columns, **parts)
        ranked = chosen.mutate(**_ranks(chosen, columns, len(errors), by_row=by_row))
        keep = ibis.or_(*(ranked[name] < limit for name, limit in _RANK_LIMITS.items()))
        kept = _execute(ranked.filter(keep).order_by(_ORDER), source)
        if cut is None or needs is None or _enough(kept, needs, columns):
            return kept
        length *= PREFIX_GROWTH


PREFIX_ROWS = 1_000_000  # the first prefix; each next one PREFIX_GROWTH times longer, the last the whole log
PREFIX_GROWTH = 8


@dataclass(frozen=True)
class _Needs:
    """How many rows each partition needs: min(limit, its rows in the whole log), by list kind and by error
    partition (every reviewer's error kind and the first slice's raw value)."""

    lists: dict[int, int]
    errors: dict[tuple[object, ...], int]


def _error_keys(columns: LogColumns, reviewers: int) -> list[str]:
    slice0 = [f"r{columns.keyed().index(columns.slices[0])}"] if columns.slices else []
    return [*(f"e{i}" for i in range(reviewers)), *slice0]


def _partition_needs(groups: pd.DataFrame, mapped: pd.DataFrame, columns: LogColumns) -> _Needs:
    """The partitions' needs, from the whole log's raw combinations: the same list and error expressions the
    engine evaluates, evaluated here on the combinations (a small in-memory table)."""
    import ibis

    raw = [f"r{i}" for i in range(len(columns.keyed()))]
    table = ibis.memtable(groups[[*raw, "n"]].astype({name: str for name in raw}))
    listable, kind, errors = _list_kinds(table, groups, mapped, columns)
    keys = _error_keys(columns, len(errors))
    frame = table.filter(listable).select(*raw, "n", **{_LIST: kind}, **{f"e{i}": e for i, e in enumerate(errors)})
    parts = frame.to_pandas()
    lists = parts.groupby(_LIST)["n"].sum()
    error_sums = parts.groupby(keys)["n"].sum() if keys else pd.Series(dtype=np.int64)
    return _Needs(lists={int(k): min(int(v), EXEMPLARS) for k, v in lists.items()},
                  errors={(k if isinstance(k, tuple) else (k,)): min(int(v), TOTAL_LIMIT) for k, v in error_sums.items()})


def _enough(kept: pd.DataFrame, needs: _Needs, columns: LogColumns) -> bool:
    """Whether a prefix's kept rows give every partition what it needs."""
    lists = kept[kept["nl"] < EXEMPLARS].groupby(_LIST).size()
    if any(int(lists.get(k, 0)) < n for k, n in needs.lists.items()):
        return False
    keys = _error_keys(columns, len(columns.preds))
    got = kept[kept["ne"] < TOTAL_LIMIT].groupby(keys).size()
    have = {(k if isinstance(k, tuple) else (k,)): int(v) for k, v in got.items()}
    return all(have.get(k, 0) >= n for k, n in needs.errors.items())


def _ranks(chosen: ir.Table, columns: LogColumns, reviewers: int, *, by_row: bool) -> dict[str, ir.IntegerValue]:
    """Each chosen row's place (from 0) in the item lists' order: log order, per list kind; and in the error
    exemplars' order: natural id order (harness.metrics.errors.id_order_keys), per error kind of every reviewer and
    value of the first slice; row order where the ids are row numbers (`by_row`). The first TOTAL_LIMIT of a
    reviewer's error kind (and of one slice value) are among the first TOTAL_LIMIT of the finer partitions, so
    one window serves every reviewer."""
    import ibis

    item_id = chosen[_ID]
    digits = item_id.re_search(f"^{DIGITS}$")
    by_id = [~digits, ibis.cases((digits, item_id.length()), else_=0), item_id]
    return {"nl": ibis.row_number().over(group_by=_LIST, order_by=_ORDER),
            "ne": ibis.row_number().over(group_by=_error_keys(columns, reviewers),
                                         order_by=[chosen[_ORDER]] if by_row else by_id)}


# How many of each ranking a metric can show: EXEMPLARS per item list; the error exemplars' budget
# (harness.metrics.errors: at most TOTAL_LIMIT per reviewer and kind, PER_VALUE of each slice value first).
_RANK_LIMITS = {"nl": EXEMPLARS, "ne": TOTAL_LIMIT}


def _bad_weight(log: Opened, rows: ir.Table, values: list[object], source: str) -> None:
    """The first row whose weight is not a number >= 0, named."""
    known = [v for v in values if v is not None and not (isinstance(v, float) and np.isnan(v))]
    weight = rows[_WEIGHT]
    bad = weight.isnull() | weight.isin(known) if known else weight.isnull()
    first = _execute(rows.filter(bad).select(_ORDER, _WEIGHT).order_by(_ORDER).limit(1), source)
    order, raw = first[_ORDER].iloc[0], first[_WEIGHT].iloc[0]
    where = log.row_name(int(order)) if log.ordered else f"the row with id '{order}'"
    shown = "" if raw is None or raw is pd.NA or (isinstance(raw, float) and np.isnan(raw)) else raw
    if isinstance(shown, float) and shown.is_integer():
        shown = int(shown)
    raise HarnessError(f"{where} has weight '{shown}'; weights must be numbers >= 0.", path=source)


def _check_unique(log: Opened, rows: ir.Table, source: str) -> None:
    """An id on two rows is an error naming the id (and its first and last rows where the log has row order)."""
    grouped = rows.group_by(_ID).aggregate(n=rows.count(), a=rows[_ORDER].min(), b=rows[_ORDER].max())
    repeated = _execute(grouped.filter(grouped["n"] > 1).order_by("a").limit(1), source)
    if repeated.empty:
        return
    item, n, a, b = (repeated[c].iloc[0] for c in (_ID, "n", "a", "b"))
    if not log.ordered:
        where = ""
    elif n == 2 and len(log.files) <= 1:
        where = f" (rows {a} and {b})"
    else:
        where = f" (first at {log.row_name(int(a))}, last at {log.row_name(int(b))})"
    raise HarnessError(f"id '{item}' appears {'twice' if n == 2 else f'{n} times'}{where}; ids must be unique.",
                       path=source)


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
                                   np.array([f"{REST}(+{rest[i]:,} more items of combination {i + 1})" for i in left],
                                            dtype=object)]),
        "text": np.concatenate([kept[_TEXT].astype(str).to_numpy(dtype=object), np.full(len(left), "", dtype=object)]),
        "gold": combos["k0"].to_numpy(dtype=object)[combo],
        "weight": combos[_WEIGHT].to_numpy(dtype=float)[combo]})
    keyed = columns.keyed()
    for name in [*columns.preds, *columns.slices, *([columns.strata] if columns.strata else [])]:
        out[name] = combos[f"k{keyed.index(name)}"].to_numpy(dtype=object)[combo]
    out[COUNT] = np.concatenate([np.ones(len(kept_combo), dtype=np.int64), rest[left]])
    return out
