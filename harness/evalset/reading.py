"""Reading raw tables: local CSV, TSV, JSONL and Parquet files (pandas, pyarrow) and hf:<name>[:split] (datasets)."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, TypeVar, cast

import pandas as pd

from harness.config import resolve_path
from harness.errors import HarnessError
from harness.evalset.delimited import read_lines, read_rows, unique_header
from harness.evalset.jsonl import read_jsonl

_T = TypeVar("_T")

_FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl",
            ".json": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Layout:
    """How a delimited file is laid out: header row or `names`, quoting, and the columns the experiment uses."""
    header: bool = True
    names: tuple[str, ...] | None = None
    quoting: str | None = None  # "csv" or "none"; None: CSV files quoted, TSV files not
    used: frozenset[str] | None = None  # None: every column counts as used (a repeated name is an error)


def read_table(raw: str, *, fmt: str | None = None, base_dir: Path = Path("."),
               layout: Layout = Layout()) -> pd.DataFrame:
    """A raw table from a local file (CSV, TSV, JSONL, Parquet) or hf:<name>[:split]."""
    if raw.startswith("hf:"):
        return _read_hub(raw)
    path, fmt = _local_file(raw, fmt, base_dir)
    if fmt == "lines":
        return read_item_lines(raw, base_dir=base_dir)[0]
    return _guarded(path, fmt, lambda: _read_local(path, fmt, layout))


def read_item_lines(raw: str, *, base_dir: Path = Path(".")) -> tuple[pd.DataFrame, list[int]]:
    """A file of one item per line: its non-empty lines (column `text`) and their line numbers."""
    path, _ = _local_file(raw, "lines", base_dir)
    return _guarded(path, "lines", lambda: read_lines(path))


def _local_file(raw: str, fmt: str | None, base_dir: Path) -> tuple[Path, str]:
    path = resolve_path(raw, base_dir)
    if not path.exists():
        raise HarnessError("file not found; check the path (a relative path is read from the experiment "
                           "file's folder).", path=path)
    if path.is_dir():
        raise HarnessError("is a directory; point eval_set.path at a file (CSV, TSV, JSONL or Parquet).", path=path)
    fmt = fmt or _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise HarnessError(
            f"cannot tell the format of '{path.suffix}' files; set eval_set.format to csv, tsv, jsonl, parquet "
            "or lines (one item per line).", path=path)
    return path, fmt


def _guarded(path: Path, fmt: str, read: Callable[[], _T]) -> _T:
    try:
        if fmt != "parquet":
            _check_utf8(path)
        return read()
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


def _read_local(path: Path, fmt: str, layout: Layout) -> pd.DataFrame:
    if fmt in ("csv", "tsv"):
        sep = "\t" if fmt == "tsv" else ","
        quoted = layout.quoting == "csv" if layout.quoting else fmt == "csv"
        if not layout.header or not quoted:
            return read_rows(path, sep=sep, quoted=quoted, used=layout.used,
                             names=list(layout.names) if layout.names is not None else None)
        _check_header(path, sep, layout.used)
        frame = _read_delimited(path, sep, fmt)
    elif fmt == "jsonl":
        frame = read_jsonl(path)
    else:
        frame = _read_parquet(path)
    if len(frame) == 0:
        what = "a header but no rows" if fmt in ("csv", "tsv") else "no rows"
        raise HarnessError(f"the eval set has no items ({what}); add rows.", path=path)
    if fmt in ("csv", "tsv") and len(frame.columns) == 1:
        _raise_one_column(path, str(frame.columns[0]), fmt)
    return frame


def _read_delimited(path: Path, sep: str, fmt: str) -> pd.DataFrame:
    # Only an empty cell is missing: "NA", "null" or "None" in a post is text. index_col=False: a first row
    # longer than the header must not become the index (every value would shift one column); pandas then
    # drops a trailing empty field and warns about any other extra field, and that warning is the error.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(path, sep=sep, encoding="utf-8-sig", keep_default_na=False, na_values=[""],
                               index_col=False)
    except pd.errors.ParserWarning:
        raise HarnessError("the first row has more fields than the header names columns; name every column in "
                           "the header or remove the extra fields.", path=path) from None
    except ValueError as err:  # pandas' parser errors (bad quoting, a row with too many fields) are ValueErrors
        raise HarnessError(f"could not be read as {fmt.upper()} ({_root_cause(err)}); fix the file or set "
                           "eval_set.format.", path=path) from None


def _raise_one_column(path: Path, header: str, fmt: str) -> NoReturn:
    found = next((name for sep, name in ((";", "semicolon"), ("|", "pipe")) if sep in header), None)
    if found:
        raise HarnessError(f"only one column was found; the header looks {found}-separated. Re-save the file "
                           "with commas (CSV) or tabs (TSV, eval_set.format: tsv).", path=path)
    other = "tab" if fmt == "csv" else "comma"
    raise HarnessError(f"only one column was found; is the file {other}-separated? Set eval_set.format to "
                       f"{'tsv' if fmt == 'csv' else 'csv'} or fix the delimiter.", path=path)


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(path).read()
    except (pa.ArrowException, OSError) as err:  # pyarrow reports some corrupt pages as OSError
        raise HarnessError(f"could not be read as PARQUET ({_root_cause(err)}); fix the file or set "
                           "eval_set.format.", path=path) from None
    # A pandas index saved with the file is not a column of the eval set; a named index is one.
    stored_index = [name for name in table.column_names if name.startswith("__index_level_")]
    # pyarrow has no type information; Table.to_pandas returns a DataFrame.
    return cast(pd.DataFrame, table.drop_columns(stored_index).to_pandas(ignore_metadata=True))


def _check_header(path: Path, sep: str, used: frozenset[str] | None) -> None:
    """Two columns with one name would silently become 'name' and 'name.1': an error if the name is used."""
    import csv

    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            names = [name.strip() for name in next(csv.reader(handle, delimiter=sep), [])]
    except csv.Error:
        return  # the table reader reports a malformed header with its line
    unique_header(names, used, path)


def _root_cause(err: BaseException) -> str:
    cause = err.__cause__ or err.__context__
    while cause is not None:
        err, cause = cause, cause.__cause__ or cause.__context__
    text = str(err).strip().splitlines()
    return text[-1] if text else type(err).__name__


def _read_hub(raw: str) -> pd.DataFrame:
    try:
        import datasets
        import huggingface_hub
    except ImportError:
        raise HarnessError("needs the Hugging Face 'datasets' package, which is not installed; install the hf "
                           "extra: pip install 'policy-harness[hf]'.", path=raw) from None

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity(datasets.logging.CRITICAL + 10)
    huggingface_hub.utils.logging.set_verbosity(logging.ERROR)  # its retry chatter would bury our one-line error
    name, _, split = raw[3:].partition(":")
    try:
        # datasets has no type information; Dataset.to_pandas returns a DataFrame.
        return cast(pd.DataFrame, datasets.load_dataset(name, split=split or "train").to_pandas())
    except Exception as err:  # offline, unknown name, gated set: all are the user's to fix
        raise HarnessError(f"could not load '{name}' from the Hugging Face hub ({_root_cause(err)}); "
                           "check the name and split, and that this machine is online.", path=raw) from None
