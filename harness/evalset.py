"""Load and validate labelled eval sets (CSV, TSV, JSONL, Parquet, hf:) into one canonical table."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from harness.config import BENIGN, UNKNOWN, EvalSetConfig, resolve_path
from harness.errors import HarnessError
from harness.hashing import sha256_text

# Canonical columns of every loaded set; slice columns sit beside them under their own names.
ID, TEXT, GOLD, WEIGHT, CONTESTED = "item_id", "text", "gold", "weight", "contested"
# Multi-label gold: `gold` is the ';'-joined violating categories, "benign" (every category known 0)
# or "unknown" (no known violation but some label missing); `gold_unknown` lists the categories
# whose label is missing ("" when all are known), so per-category rates can leave them out.
GOLD_UNKNOWN = "gold_unknown"
CORE_COLUMNS = (ID, TEXT, GOLD, WEIGHT, CONTESTED, GOLD_UNKNOWN)
MISSING_SLICE = "(missing)"
_FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl",
            ".json": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
_BOM = b"\xef\xbb\xbf"


@dataclass
class EvalSet:
    name: str
    source: str
    items: pd.DataFrame
    slices: list[str]
    sha256: str
    license: str | None = None
    label_counts: dict[str, int] = field(default_factory=dict)
    label_categories: tuple[str, ...] = ()  # category ids of per-category label columns (multi-label sets)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def has_weights(self) -> bool:
        return bool((self.items[WEIGHT] != 1.0).any())

    def check_labels(self, category_ids: list[str], *, policy_path: str) -> None:
        """Every gold label must be a category of the policy or benign."""
        allowed = set(category_ids) | {BENIGN, UNKNOWN}
        undeclared = [c for c in self.label_categories if c not in category_ids]
        if undeclared:
            raise HarnessError(
                f"eval set '{self.name}' has a label column for category '{undeclared[0]}', which is not a "
                f"category of policy {policy_path} ({', '.join(category_ids)}); fix eval_set.columns.categories.",
                path=self.source)
        unknown = sorted({part for gold in set(self.items[GOLD]) for part in str(gold).split(";")} - allowed)
        if unknown:
            raise HarnessError(
                f"eval set '{self.name}' has gold label '{unknown[0]}', which is not a category of "
                f"policy {policy_path} ({', '.join(category_ids)}) nor '{BENIGN}'; map it in the "
                "experiment's eval_set.labels.",
                path=self.source,
            )

    def sample(self, n: int, seed: int) -> "EvalSet":
        """A seeded random sample of n items, stratified by gold label."""
        if n >= len(self.items):
            return self
        picked = stratified_sample(self.items, n, seed)
        return EvalSet(self.name, self.source, picked, self.slices, table_sha256(picked, self.slices),
                       self.license, picked[GOLD].value_counts().to_dict(), self.label_categories)


def stratified_sample(items: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    counts = items[GOLD].value_counts().sort_index()
    quotas = _allocate(counts, n)
    parts = [items[items[GOLD] == label].sample(k, random_state=seed) for label, k in quotas.items() if k]
    return pd.concat(parts).sort_index()


def _allocate(counts: pd.Series, n: int) -> dict[str, int]:
    """Largest-remainder proportional allocation, at least one item per label when n allows."""
    exact = counts / counts.sum() * n
    quotas = {label: min(int(counts[label]), max(1 if n >= len(counts) else 0, math.floor(v)))
              for label, v in exact.items()}
    order = sorted(exact.index, key=lambda label: exact[label] - math.floor(exact[label]), reverse=True)
    while sum(quotas.values()) < n:
        grew = False
        for label in order:
            if sum(quotas.values()) < n and quotas[label] < counts[label]:
                quotas[label] += 1
                grew = True
        if not grew:
            break
    while sum(quotas.values()) > n:
        label = max(quotas, key=lambda lab: quotas[lab])
        quotas[label] -= 1
    return quotas


def load_evalset(config: EvalSetConfig, *, base_dir: Path = Path(".")) -> EvalSet:
    paths = [config.path] if isinstance(config.path, str) else list(config.path)
    if not paths:
        raise HarnessError("eval_set.path is empty; give a file, a list of files, or hf:<name>.")
    frames = []
    for raw in paths:
        frame = _read_source(raw, config, base_dir)
        if config.source_column:
            frame[config.source_column] = _source_value(raw, config.source_pattern)
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    source = paths[0] if len(paths) == 1 else f"{paths[0]} (+{len(paths) - 1} more)"
    first = Path(paths[0])
    name = config.name or (paths[0][3:] if paths[0].startswith("hf:") else (first.parent.name or first.stem)
                           if first.stem in {"items", "data", "train", "test"} else first.stem)
    items, slices = canonicalise(table, config, source)
    return EvalSet(name=name, source=source, items=items, slices=slices,
                   sha256=table_sha256(items, slices), license=config.license,
                   label_counts=items[GOLD].value_counts().to_dict(),
                   label_categories=tuple(config.columns.categories or ()))


def _source_value(raw: str, pattern: str | None) -> str:
    """The source slice value of one file: its stem, or what `source_pattern` extracts from it."""
    stem = Path(raw).stem if not raw.startswith("hf:") else raw
    if pattern is None:
        return stem
    found = re.search(pattern, stem)
    if not found:
        raise HarnessError(f"file name '{stem}' does not match eval_set.source_pattern '{pattern}'; "
                           "fix the pattern or the path.", path=raw)
    return (found.group(1) if found.re.groups else found.group(0)) or stem


def canonicalise(table: pd.DataFrame, config: EvalSetConfig, source: str) -> tuple[pd.DataFrame, list[str]]:
    """Map a raw table to the canonical columns, validating as it goes."""
    cols = config.columns
    slices = list(cols.slices) + ([config.source_column] if config.source_column and config.source_column not in cols.slices else [])
    if config.strata and config.strata.column not in slices:
        slices.append(config.strata.column)  # strata travel with the verdicts as a slice
    gold_columns = list(cols.categories.values()) if cols.categories else [cols.label]
    wanted = [c for c in [cols.text, *gold_columns, cols.id, cols.weight, cols.contested, *slices] if c]
    missing = [c for c in wanted if c not in table.columns]
    if missing:
        raise HarnessError(
            f"column '{missing[0]}' is not in the eval set (columns: {', '.join(map(str, table.columns[:20]))}); "
            "fix eval_set.columns in the experiment.", path=source)
    clash = [s for s in slices if s in CORE_COLUMNS]
    if clash:
        raise HarnessError(f"slice column '{clash[0]}' clashes with a reserved column name; rename it.", path=source)
    if table.empty:
        raise HarnessError("the eval set has no items; point eval_set.path at a file with rows.", path=source)
    out = pd.DataFrame(index=pd.RangeIndex(len(table)))
    out[ID] = _ids(table, cols.id, source)
    out[TEXT] = _texts(table[cols.text], out[ID], source)
    if cols.categories:
        out[GOLD], out[GOLD_UNKNOWN] = _multilabel_gold(table, cols.categories, out[ID], source)
    else:
        out[GOLD] = _labels(table[cols.label], config.labels, out[ID], source)
        out[GOLD_UNKNOWN] = ""
    out[WEIGHT] = _weights(table[cols.weight], out[ID], source) if cols.weight else 1.0
    out[CONTESTED] = table[cols.contested].map(_flag_or_false).to_numpy(dtype=bool) if cols.contested else False
    names = config.slice_labels or {}
    for column in slices:
        values = table[column].map(_slice_value).astype(str)
        out[column] = values.map(lambda v, m=names.get(column, {}): m.get(v, v)).to_numpy()
    if config.strata:
        _check_strata(out[config.strata.column], config.strata.sizes, config.strata.column, source)
    return out, slices


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


def label_key(value: object) -> str | None:
    """A label as text, as the label mapping's keys are (1.0 -> '1', True -> 'true'); None if blank."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip() or None


def _labels(raw: pd.Series, mapping: dict[str, str] | None, ids: pd.Series, source: str) -> np.ndarray:
    keys = raw.map(label_key)
    if keys.isna().any():
        row = int(np.flatnonzero(keys.isna().to_numpy())[0])
        raise HarnessError(f"item '{ids.iloc[row]}' (row {row + 1}) has no label; label it or drop the row.", path=source)
    if mapping is None:
        return keys.to_numpy(dtype=object)
    unmapped = sorted(set(keys) - set(mapping))
    if unmapped:
        shown = ", ".join(f"'{u}'" for u in unmapped[:5])
        raise HarnessError(
            f"label {shown} is not in eval_set.labels (mapped: {', '.join(sorted(mapping))}); "
            "add it to the label mapping.", path=source)
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
    canonical = items[[ID, TEXT, GOLD, *extra, WEIGHT, *slices]].to_csv(index=False)
    return sha256_text(canonical)


def _read_source(raw: str, config: EvalSetConfig, base_dir: Path) -> pd.DataFrame:
    return read_table(raw, fmt=config.format, base_dir=base_dir)


def read_table(raw: str, *, fmt: str | None = None, base_dir: Path = Path(".")) -> pd.DataFrame:
    """A raw table from a local file (CSV, TSV, JSONL, Parquet) or hf:<name>[:split]."""
    if raw.startswith("hf:"):
        return _read_hub(raw)
    path = resolve_path(raw, base_dir)
    if not path.exists():
        raise HarnessError("file not found; check the path (read relative to the working directory).", path=raw)
    if path.is_dir():
        raise HarnessError("is a directory; point eval_set.path at a file (CSV, TSV, JSONL or Parquet).", path=raw)
    fmt = fmt or _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise HarnessError(
            f"cannot tell the format of '{path.suffix}' files; set eval_set.format to csv, tsv, jsonl or parquet.",
            path=path)
    try:
        if fmt != "parquet":
            _check_utf8(path)
        return _read_local(path, fmt)
    except OSError as err:  # permissions, a vanished file: the user's to fix, not a traceback
        raise HarnessError(f"could not be read ({(err.strerror or str(err)).lower()}); check that the file "
                           "exists and is readable.", path=path) from None


def _check_utf8(path: Path) -> None:
    offset = 0
    blank = True
    with path.open("rb") as handle:
        pending = b""
        while chunk := handle.read(1 << 22):
            blank = blank and not chunk.replace(_BOM, b"").strip()
            data = pending + chunk
            try:
                data.decode("utf-8")
                pending = b""
            except UnicodeDecodeError as err:
                if err.reason == "unexpected end of data" and err.start >= len(data) - 3:
                    pending = data[err.start:]
                    offset += err.start
                    continue
                line = _line_number(path, offset + err.start)
                raise HarnessError(f"line {line} has bytes that are not UTF-8; re-save the file as UTF-8.", path=path) from None
            offset += len(data)
        if pending:
            raise HarnessError("the file ends in the middle of a UTF-8 character; re-save it as UTF-8.", path=path)
    if blank:
        raise HarnessError("the file is empty; point eval_set.path at a file with a header and rows.", path=path)


def _line_number(path: Path, byte_offset: int) -> int:
    with path.open("rb") as handle:
        return handle.read(byte_offset).count(b"\n") + 1


def _read_local(path: Path, fmt: str) -> pd.DataFrame:
    import datasets

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity(datasets.logging.CRITICAL + 10)
    with path.open("rb") as handle:
        has_bom = fmt != "parquet" and handle.read(3) == _BOM
    kwargs: dict[str, object] = {}
    builder = {"csv": "csv", "tsv": "csv", "jsonl": "json", "parquet": "parquet"}[fmt]
    if fmt in ("csv", "tsv"):
        kwargs = {"sep": "\t" if fmt == "tsv" else ",", "encoding": "utf-8-sig", "keep_default_na": False,
                  "na_values": [""]}
        _check_header(path, str(kwargs["sep"]))
    elif has_bom:
        return _read_jsonl_plain(path)
    try:
        loaded = datasets.load_dataset(builder, data_files=str(path.resolve()), split="train", **kwargs)
    except Exception as err:  # datasets wraps parser errors in several exception types
        if "corresponds to no data" in str(err):
            what = "a header but no rows" if fmt in ("csv", "tsv") else "no rows"
            raise HarnessError(f"the eval set has no items ({what}); add rows.", path=path) from None
        if fmt == "jsonl":
            _raise_jsonl_error(path)
        raise HarnessError(f"could not be read as {fmt.upper()} ({_root_cause(err)}); fix the file or set eval_set.format.", path=path) from None
    frame = loaded.to_pandas()
    if fmt in ("csv", "tsv") and len(frame.columns) == 1 and len(frame):
        header = str(frame.columns[0])
        found = next((name for sep, name in ((";", "semicolon"), ("|", "pipe")) if sep in header), None)
        if found:
            raise HarnessError(f"only one column was found; the header looks {found}-separated. Re-save the file "
                               "with commas (CSV) or tabs (TSV, eval_set.format: tsv).", path=path)
        other = "tab" if fmt == "csv" else "comma"
        raise HarnessError(f"only one column was found; is the file {other}-separated? Set eval_set.format to "
                           f"{'tsv' if fmt == 'csv' else 'csv'} or fix the delimiter.", path=path)
    return frame


def _read_jsonl_plain(path: Path) -> pd.DataFrame:
    """JSONL with a byte-order mark, which the Arrow JSON reader rejects."""
    rows = []
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                rows.append(_json_row(line, number, path))
    return pd.DataFrame(rows)


def _raise_jsonl_error(path: Path) -> None:
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                _json_row(line, number, path)
    raise HarnessError("could not be read as JSONL (rows do not share one structure); make every line an object with the same fields.", path=path)


def _json_row(line: str, number: int, path: Path) -> dict[str, object]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as err:
        raise HarnessError(f"line {number} is not valid JSON ({err.msg}); fix or remove that line.", path=path) from None
    if not isinstance(row, dict):
        raise HarnessError(f"line {number} is not a JSON object; each line must be one {{...}} record.", path=path)
    try:
        json.dumps(row, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise HarnessError(f"line {number} has an escape such as \\ud800 that is not a character (a lone "
                           "surrogate); fix or remove that line.", path=path) from None
    return row


def _check_header(path: Path, sep: str) -> None:
    """Two columns with one name would silently become 'name' and 'name.1'."""
    import csv

    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            names = [name.strip() for name in next(csv.reader(handle, delimiter=sep), [])]
    except csv.Error:
        return  # the table reader reports a malformed header with its line
    dupes = [name for i, name in enumerate(names) if name and name in names[:i]]
    if dupes:
        raise HarnessError(f"column '{dupes[0]}' appears twice in the header; give every column its own name.",
                           path=path)


def _root_cause(err: BaseException) -> str:
    while err.__cause__ is not None or err.__context__ is not None:
        err = err.__cause__ or err.__context__  # type: ignore[assignment]
    text = str(err).strip().splitlines()
    return text[-1] if text else type(err).__name__


def _read_hub(raw: str) -> pd.DataFrame:
    import datasets
    import huggingface_hub

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity(datasets.logging.CRITICAL + 10)
    huggingface_hub.utils.logging.set_verbosity_error()  # its retry chatter would bury our one-line error
    name, _, split = raw[3:].partition(":")
    try:
        return datasets.load_dataset(name, split=split or "train").to_pandas()
    except Exception as err:  # offline, unknown name, gated set: all are the user's to fix
        raise HarnessError(f"could not load '{name}' from the Hugging Face hub ({_root_cause(err)}); "
                           "check the name and split, and that this machine is online.", path=raw) from None
