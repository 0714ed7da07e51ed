"""Delimited files read row by row (headerless files, unquoted TSV) and files of one item per line."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from harness.errors import HarnessError

_SEP_NAMES = {"\t": "tab", ",": "comma"}


def read_rows(path: Path, *, sep: str, quoted: bool, names: list[str] | None,
              used: frozenset[str] | None) -> pd.DataFrame:
    """A delimited file as text columns; `names` for a file without a header row; blank cells are None."""
    records = list(_quoted_records(path, sep) if quoted else _plain_records(path, sep))
    header_line = None
    if names is None:
        if not records:
            raise HarnessError("the file is empty; point eval_set.path at a file with a header and rows.", path=path)
        header_line, header = records.pop(0)
        names = unique_header([name.strip() for name in header], used, path)
    if not records:
        raise HarnessError("the eval set has no items (a header but no rows); add rows.", path=path)
    if header_line is not None and len(names) == 1:
        other = "comma" if sep == "\t" else "tab"
        raise HarnessError(f"only one column was found; is the file {other}-separated? Set eval_set.format to "
                           f"{'csv' if sep == chr(9) else 'tsv'} or fix the delimiter.", path=path)
    where = "the header" if header_line is not None else "eval_set.names"
    for number, fields in records:
        if len(fields) != len(names):
            hint = (" (tab-separated files are read unquoted; set eval_set.quoting: csv if fields are quoted)"
                    if not quoted and any('"' in f for f in fields) else "")
            raise HarnessError(f"line {number} has {len(fields)} {_SEP_NAMES.get(sep, sep)}-separated fields but "
                               f"{where} names {len(names)} columns{hint}; fix that line.", path=path)
    rows = [[value if value != "" else None for value in fields] for _, fields in records]
    return pd.DataFrame(rows, columns=names, dtype=object)


def read_lines(path: Path) -> tuple[pd.DataFrame, list[int]]:
    """Each non-empty line is one item (column `text`); also the line number of each."""
    texts, numbers = [], []
    for number, line in _lines(path):
        if line.strip():
            texts.append(line)
            numbers.append(number)
    if not texts:
        raise HarnessError("the file has no non-empty lines; add one item per line.", path=path)
    return pd.DataFrame({"text": texts}, dtype=object), numbers


def unique_header(names: list[str], used: frozenset[str] | None, path: Path) -> list[str]:
    """A name given twice is an error only if the experiment uses it; else later copies become 'name.1'."""
    out: list[str] = []
    for i, name in enumerate(names):
        if name and name in names[:i]:
            if used is None or name in used:
                raise HarnessError(f"column '{name}' appears twice in the header; give every column its own name.",
                                   path=path)
            copy = 1
            while f"{name}.{copy}" in names or f"{name}.{copy}" in out:
                copy += 1
            name = f"{name}.{copy}"
        out.append(name)
    return out


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    # newline="\n": only a line feed ends a line, so \r, \x0b or U+2028 inside a post stay in it.
    with path.open(encoding="utf-8-sig", newline="\n") as handle:
        for number, line in enumerate(handle, start=1):
            yield number, line.removesuffix("\n").removesuffix("\r")


def _plain_records(path: Path, sep: str) -> Iterator[tuple[int, list[str]]]:
    for number, line in _lines(path):
        if line.strip():
            yield number, line.split(sep)


def _quoted_records(path: Path, sep: str) -> Iterator[tuple[int, list[str]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter=sep, strict=True)
        start = 1
        try:
            for fields in reader:
                if any(f.strip() for f in fields):
                    yield start, fields
                start = reader.line_num + 1
        except csv.Error as err:
            raise HarnessError(f"line {start} could not be read ({err}); fix the quoting there.", path=path) from None
