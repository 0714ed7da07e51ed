"""JSON Lines files (and a .json file holding one array of records) read into a raw table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

import pandas as pd

from harness.errors import HarnessError


def read_jsonl(path: Path) -> pd.DataFrame:
    """One JSON object per line (blank lines skipped), or a JSON array of objects or of strings (`text`)."""
    with path.open("rb") as handle:
        if handle.read(64).removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"["):
            return _read_array(path)
    import pyarrow as pa
    import pyarrow.json as pj

    try:
        # pyarrow has no type information; Table.to_pandas returns a DataFrame.
        return cast(pd.DataFrame, pj.read_json(str(path)).to_pandas())
    except pa.ArrowException:  # a bad line, types that change between rows, a lone surrogate: read line by line
        return _read_lines(path)


def _read_lines(path: Path) -> pd.DataFrame:
    rows: list[dict[str, object]] = []
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                rows.append(_json_row(line, number, path))
    return pd.DataFrame(rows)


def _json_row(line: str, number: int, path: Path) -> dict[str, object]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as err:
        raise HarnessError(f"line {number} is not valid JSON ({err.msg}); fix or remove that line.", path=path) from None
    if not isinstance(row, dict):
        raise HarnessError(f"line {number} is not a JSON object; each line must be one {{...}} record.", path=path)
    if not _encodable(row):
        raise HarnessError(f"line {number} has an escape such as \\ud800 that is not a character (a lone "
                           "surrogate); fix or remove that line.", path=path)
    return row


def _read_array(path: Path) -> pd.DataFrame:
    try:
        records = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as err:
        raise HarnessError(f"line {err.lineno} is not valid JSON ({err.msg}); fix the file.", path=path) from None
    if records and all(isinstance(record, str) for record in records):
        records = [{"text": record} for record in records]
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise HarnessError(f"item {number} of the JSON array is not an object; make the file a list of "
                               "{...} records or one record per line (JSONL).", path=path)
        if not _encodable(record):
            raise HarnessError(f"item {number} of the JSON array has an escape such as \\ud800 that is not a "
                               "character (a lone surrogate); fix or remove that item.", path=path)
    return pd.DataFrame(records)


def _encodable(record: dict[str, object]) -> bool:
    try:
        json.dumps(record, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
