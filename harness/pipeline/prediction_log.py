"""A prediction log (id, gold, decision columns, slices) read in batches and collapsed as it streams.

Ten million rows hold few distinct combinations of (gold, each decision, slice values, stratum,
weight): each batch is reduced to counts over those combinations, so memory grows with the
combinations, not the rows. Beside the counts the first EXEMPLARS ids (and texts) of every
combination are kept in file order, so the item lists of the metrics (first 200 relabel
candidates, disagreements) name the same items as one row per item would. The collapsed table
has one row per kept item (count 1) and one remainder row per combination standing for the rest.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from harness.errors import HarnessError
from harness.labels import BENIGN, label_key
from harness.metrics.counts import COUNT
from harness.verdicts import ABSTAINED, ACTIONED, ALLOWED

BATCH_ROWS = 1 << 18  # rows a batch; with ~40-byte ids and the codes, under 100 MB decoded
EXEMPLARS = 200  # = the longest item list a metric shows (relabel candidates, disagreements)
MAX_EXEMPLARS = 200_000  # kept ids in all; past it a combination keeps no more
MAX_COMBINATIONS = 1_000_000
NO_GOLD = ""
ROW = "_row"
_STREAMED = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".jsonl": "jsonl"}


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


def read_collapsed(path: str, columns: LogColumns, benign: set[str], exemplars: int | None = EXEMPLARS) -> Collapsed:
    """`exemplars=None` keeps every row as its own item (a small log: the record lists every item)."""
    batches = _batches(Path(path), columns)
    books = {name: _Codebook() for name in columns.keyed()}
    weights = _Codebook()
    combos: dict[tuple[int, ...], int] = {}
    totals: list[int] = []
    kept: list[pd.DataFrame] = []
    kept_n: list[int] = []
    stored = 0
    hashes: list[np.ndarray] = []
    listable = _Listable(books, columns)
    start = 0
    for batch in batches:
        n = batch.num_rows
        codes = [books[name].encode(batch.column(name), _kind(name, columns), benign) for name in columns.keyed()]
        if columns.weight:
            codes.append(weights.encode_weights(batch.column(columns.weight), path, start))
        ids = _text(batch.column(columns.id)) if columns.id else None
        if ids is not None:
            hashes.append(pd.util.hash_array(ids))
        inverse, uniques, counts = _combine(codes, n)
        order = np.argsort(inverse, kind="stable")
        ends = np.cumsum(counts)
        take: list[np.ndarray] = []
        global_index = np.empty(len(counts), dtype=np.int64)
        for u, key in enumerate(map(tuple, uniques.tolist())):
            index = combos.get(key)
            if index is None:
                index = combos[key] = len(totals)
                totals.append(0)
                kept_n.append(0)
                if len(combos) > MAX_COMBINATIONS:
                    raise HarnessError(
                        f"has more than {MAX_COMBINATIONS:,} distinct combinations of gold, decisions, slices, strata "
                        "and weight, too many to collapse (a weight or slice that differs on every row does that); "
                        "round the weights or drop the finest slice.", path=path)
            global_index[u] = index
            totals[index] += int(counts[u])
            room = int(counts[u]) if exemplars is None else min(exemplars - kept_n[index], int(counts[u]),
                                                                 MAX_EXEMPLARS - stored) * listable(key)
            if room > 0:
                take.append(order[ends[u] - counts[u]:ends[u] - counts[u] + room])
                kept_n[index] += room
                stored += room
        if take:
            rows = np.sort(np.concatenate(take))
            kept.append(pd.DataFrame({ROW: rows + start, "item_id": ids[rows] if ids is not None else (rows + start).astype(str),
                                      "text": _text(batch.column(columns.text))[rows] if columns.text else "",
                                      "_combo": global_index[inverse[rows]]}))
        start += n
    if columns.id:
        _check_unique(np.concatenate(hashes) if hashes else np.empty(0, dtype=np.uint64), path, columns)
    del hashes
    pa.default_memory_pool().release_unused()  # the decoded batches' buffers, kept for reuse otherwise
    return Collapsed(_table(combos, totals, kept_n, kept, books, weights, columns), start, len(combos))


def log_rows(path: str) -> int | None:
    """Rows of a Parquet file from its footer; for a text file, its line count (one cheap pass,
    an upper bound when values hold line breaks) less the header; None when unknown."""
    file = Path(path)
    fmt = _STREAMED.get(file.suffix.lower())
    if not file.is_file() or fmt is None:
        return None
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(file).metadata.num_rows)
    lines = 0
    with file.open("rb") as handle:
        while chunk := handle.read(1 << 24):
            lines += chunk.count(b"\n")
    return max(lines - (fmt != "jsonl"), 0)


class _Listable:
    """Whether a combination's items can appear in a metric's item list: gold known, and some
    decision against gold or two decisions apart (relabel candidates, disagreements). Items all
    reviewers got right are only counted, so they keep no ids."""

    def __init__(self, books: dict[str, _Codebook], columns: LogColumns) -> None:
        self.gold, self.preds = books[columns.gold], [books[p] for p in columns.preds]
        self.at = [columns.keyed().index(p) for p in columns.preds]
        self.gold_at = columns.keyed().index(columns.gold)
        self.known: dict[tuple[int, ...], bool] = {}

    def __call__(self, key: tuple[int, ...]) -> bool:
        found = self.known.get(key)
        if found is None:
            gold = self.gold.values[key[self.gold_at]]
            decided = {book.values[key[i]] for book, i in zip(self.preds, self.at)} - {ABSTAINED}
            wrong = any((d == ACTIONED) == (gold == BENIGN) for d in decided)
            found = self.known[key] = gold != NO_GOLD and (wrong or len(decided) > 1)
        return found


def _kind(name: str, columns: LogColumns) -> str:
    return "gold" if name == columns.gold else "decision" if name in columns.preds else "text"


class _Codebook:
    """Global codes of one column's distinct values, as text (gold and decisions already mapped)."""

    def __init__(self) -> None:
        self.codes: dict[object, int] = {}
        self.values: list[object] = []

    def _code(self, value: object) -> int:
        code = self.codes.get(value)
        if code is None:
            code = self.codes[value] = len(self.values)
            self.values.append(value)
        return code

    def encode(self, column: pa.Array | pa.ChunkedArray, kind: str, benign: set[str]) -> np.ndarray:
        encoded = pc.dictionary_encode(column.cast(pa.string()) if column.type != pa.string() else column)
        if isinstance(encoded, pa.ChunkedArray):
            encoded = encoded.combine_chunks()
        mapped = [self._code(_mapped(v, kind, benign)) for v in encoded.dictionary.to_pylist()]
        null = self._code(_mapped(None, kind, benign))
        lookup = np.array([*mapped, null], dtype=np.int64)
        indices = encoded.indices.fill_null(len(mapped)).to_numpy(zero_copy_only=False)
        codes: np.ndarray = lookup[indices]
        return codes

    def encode_weights(self, column: pa.Array | pa.ChunkedArray, path: str, start: int) -> np.ndarray:
        raw = column.to_pandas()
        weights = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
        bad = np.isnan(weights) | ~(weights >= 0) | np.isinf(weights)
        if bad.any():
            row = int(bad.nonzero()[0][0])
            raise HarnessError(f"row {start + row + 1} has weight '{raw.iloc[row]}'; weights must be numbers >= 0.", path=path)
        uniques, inverse = np.unique(weights, return_inverse=True)
        return np.array([self._code(float(v)) for v in uniques], dtype=np.int64)[inverse]


def _mapped(value: object, kind: str, benign: set[str]) -> str:
    if kind == "text":
        return "nan" if value is None else str(value)
    text = label_key(value)
    if kind == "gold":
        return NO_GOLD if text is None else BENIGN if text.lower() in benign else text
    return ABSTAINED if text is None else ALLOWED if text.lower() in benign else ACTIONED


def _text(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    strings = column.cast(pa.string()) if column.type != pa.string() else column
    return np.asarray(strings.fill_null("").to_numpy(zero_copy_only=False), dtype=object)


def _combine(codes: list[np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row -> combination index, the combinations (one row of codes each) and their row counts."""
    if not codes:
        return np.zeros(n, dtype=np.int64), np.zeros((1, 0), dtype=np.int64), np.array([n])
    radix = [int(c.max()) + 1 if len(c) else 1 for c in codes]
    if float(np.prod(radix, dtype=float)) < 2.0 ** 62:
        key = np.zeros(n, dtype=np.int64)
        for c, r in zip(codes, radix):
            key = key * r + c
        unique_keys, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
        uniques = np.empty((len(unique_keys), len(codes)), dtype=np.int64)
        rest = unique_keys.copy()
        for i in range(len(codes) - 1, -1, -1):
            uniques[:, i] = rest % radix[i]
            rest //= radix[i]
        return inverse.ravel(), uniques, counts
    uniques, inverse, counts = np.unique(np.stack(codes, axis=1), axis=0, return_inverse=True, return_counts=True)
    return inverse.ravel(), uniques, counts


def _table(combos: dict[tuple[int, ...], int], totals: list[int], kept_n: list[int], kept: list[pd.DataFrame],
           books: dict[str, _Codebook], weights: _Codebook, columns: LogColumns) -> pd.DataFrame:
    keys = np.array(list(combos), dtype=np.int64).reshape(len(combos), -1)
    names = columns.keyed()
    values: dict[str, np.ndarray] = {name: np.array(books[name].values, dtype=object)[keys[:, i]]
                                     for i, name in enumerate(names)}
    weight = (np.array(weights.values, dtype=float)[keys[:, len(names)]] if columns.weight
              else np.ones(len(combos)))
    items = (pd.concat(kept, ignore_index=True) if kept else
             pd.DataFrame({ROW: np.empty(0, dtype=np.int64), "item_id": [], "text": [], "_combo": np.empty(0, dtype=np.int64)}))
    items = items.sort_values(ROW, kind="stable").assign(**{COUNT: 1})
    rest = np.asarray(totals, dtype=np.int64) - np.asarray(kept_n, dtype=np.int64)
    left = np.flatnonzero(rest > 0)
    remainder = pd.DataFrame({ROW: -1, "item_id": [f"(+{rest[i]:,} more items of combination {i + 1})" for i in left],
                              "text": "", "_combo": left, COUNT: rest[left]})
    table = pd.concat([items, remainder], ignore_index=True)
    combo = table["_combo"].to_numpy()
    out = pd.DataFrame({"item_id": table["item_id"].astype(str).to_numpy(), "text": table["text"].astype(str).to_numpy(),
                        "gold": values[columns.gold][combo], "weight": weight[combo]})
    for name in [*columns.preds, *columns.slices, *([columns.strata] if columns.strata else [])]:
        out[name] = values[name][combo]
    out[COUNT] = table[COUNT].to_numpy(dtype=np.int64)
    return out


def _batches(path: Path, columns: LogColumns) -> Iterator[pa.RecordBatch]:
    """The needed columns in batches; a file pyarrow cannot parse is one error naming it."""
    fmt = _STREAMED.get(path.suffix.lower())
    batches: Iterator[pa.RecordBatch] | None = None
    while True:
        try:
            batches = batches or _open(path, columns, fmt)
            batch = next(batches)
        except StopIteration:
            return
        except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError) as err:
            if "UTF8" in str(err) and fmt != "parquet":
                from harness.evalset.reading import _check_utf8

                _check_utf8(path)  # names the line, as reading an eval set does
            raise HarnessError(f"could not be read as {str(fmt).upper()} ({str(err).splitlines()[0]}); fix the file "
                               "(it must be UTF-8 with the same columns on every row).", path=path) from None
        yield batch


def _open(path: Path, columns: LogColumns, fmt: str | None) -> Iterator[pa.RecordBatch]:
    if not path.is_file():
        raise HarnessError("file not found; check the path.", path=path)
    if fmt is None:
        raise HarnessError(f"cannot stream '{path.suffix}' files; give a CSV, TSV, JSONL or Parquet file.", path=path)
    needed = columns.needed()
    if fmt == "parquet":
        import pyarrow.parquet as pq

        handle = pq.ParquetFile(path)
        _check_columns(handle.schema_arrow.names, needed, path)
        return iter(handle.iter_batches(batch_size=BATCH_ROWS, columns=needed))
    if fmt == "jsonl":
        import pyarrow.json as pj

        reader = pj.open_json(path)
        _check_columns(reader.schema.names, needed, path)
        return (batch.select(needed) for batch in reader)
    import pyarrow.csv as pv

    header = pv.open_csv(path, parse_options=pv.ParseOptions(delimiter="\t" if fmt == "tsv" else ","),
                         read_options=pv.ReadOptions(block_size=1 << 16)).schema.names
    _check_columns(header, needed, path)
    reader = pv.open_csv(
        path, read_options=pv.ReadOptions(block_size=16 << 20),
        parse_options=pv.ParseOptions(delimiter="\t" if fmt == "tsv" else ",", newlines_in_values=True),
        convert_options=pv.ConvertOptions(include_columns=needed, column_types={c: pa.string() for c in needed},
                                          strings_can_be_null=True, null_values=[""]))
    return iter(reader)


def _check_columns(names: list[str], needed: list[str], path: Path) -> None:
    missing = [c for c in needed if c not in names]
    if missing:
        raise HarnessError(f"column '{missing[0]}' is not in the file (columns: {', '.join(map(str, names[:20]))}); "
                           "fix --gold/--pred/--slices/--weight.", path=path)


def _check_unique(hashes: np.ndarray, path: str, columns: LogColumns) -> None:
    """64-bit hashes of every id (8 bytes a row), sorted; a repeated hash is confirmed on the ids themselves."""
    hashes.sort()
    repeated = hashes[1:][hashes[1:] == hashes[:-1]]
    if not len(repeated):
        return
    suspects = set(repeated[:100].tolist())
    seen: dict[str, int] = {}
    start = 0
    assert columns.id is not None
    for batch in _batches(Path(path), LogColumns(gold=columns.gold, preds=[], id=columns.id)):
        ids = _text(batch.column(columns.id))
        for row in np.flatnonzero(np.isin(pd.util.hash_array(ids), list(suspects))):
            item = str(ids[row])
            if item in seen:
                raise HarnessError(f"id '{item}' appears twice (rows {seen[item]} and {start + row + 1}); "
                                   "ids must be unique.", path=path)
            seen[item] = start + int(row) + 1
        start += batch.num_rows
