"""The run's files as one atomic set: metrics.json and record.json from the typed models, the tables as parquet."""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
from pydantic import BaseModel, ValidationError

from harness.errors import HarnessError
from harness.record.explanations import read_explanations
from harness.record.header import RecordHeader
from harness.record.metrics import Metrics, MetricsFile
from harness.record.run import RunRecord
from harness.verdicts import read_verdicts, write_verdicts

# Bumped on any change a reader of metrics.json or record.json would notice (a field renamed,
# removed, or given another meaning); `policy-harness schema` prints the schema of this version.
SCHEMA_VERSION = 2
FORMAT_VERSION = SCHEMA_VERSION
RECORD, METRICS, VERDICTS, ITEMS, REPORT = "record.json", "metrics.json", "verdicts.parquet", "items.parquet", "report.html"
_Model = TypeVar("_Model", bound=BaseModel)


def metrics_file(record: RunRecord) -> MetricsFile:
    return MetricsFile(schema_version=SCHEMA_VERSION, name=record.name, incomplete=record.incomplete,
                       usage=record.usage, **dict(record.metrics))


def record_header(record: RunRecord, files: dict[str, str]) -> RecordHeader:
    return RecordHeader(
        schema_version=SCHEMA_VERSION, name=record.name, created_at=record.created_at, candidate=record.candidate,
        baseline=record.baseline, policies=record.policies, evalset=record.evalset, reviewers=record.reviewers,
        experiment=_finite(record.experiment), incomplete=record.incomplete,
        incomplete_reason=record.incomplete_reason, usage=record.usage, mlflow=record.mlflow,
        lineage=record.lineage, files=files)


def write_record(record: RunRecord, out_dir: Path) -> None:
    """Write the run's files as one set, so an interrupted write never leaves files a later run trusts.

    Every file is staged to a temporary file first and renamed over its previous version only once all
    are staged: a failed write (disk full) leaves the previous complete set untouched and no temporary
    files. record.json goes last and lists the sha256 of the others, so `read_record` refuses a set torn
    by a crash between the renames."""
    out_dir.mkdir(parents=True, exist_ok=True)
    record.out_dir = str(out_dir)
    metrics = model_text(metrics_file(record))
    staged: list[tuple[Path, Path]] = []
    try:
        for name, write in ((VERDICTS, lambda tmp: write_verdicts(record.verdicts, tmp)),
                            (ITEMS, lambda tmp: record.items.to_parquet(tmp, index=False)),
                            (METRICS, lambda tmp: tmp.write_text(metrics, encoding="utf-8"))):
            staged.append((_stage(out_dir / name, write), out_dir / name))
        files = {target.name: _sha256_file(tmp) for tmp, target in staged}
        header = model_text(record_header(record, files))
        record_tmp = _stage(out_dir / RECORD, lambda tmp: tmp.write_text(header, encoding="utf-8"))
        staged.append((record_tmp, out_dir / RECORD))
        for tmp, target in staged:
            os.replace(tmp, target)
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise


def read_record(out_dir: str | Path) -> RunRecord:
    out_dir = Path(out_dir)
    path = out_dir / RECORD
    if not path.exists():
        raise HarnessError(f"is not a run directory (no {RECORD}); give a directory written by "
                           "'policy-harness run' or 'score'.", path=out_dir)
    header = read_model(path, RecordHeader)
    for name, digest in header.files.items():
        if name in ("", ".", "..") or Path(name).name != name or "\\" in name:  # a name from the file: stay inside
            raise HarnessError(f"{RECORD} lists file {name!r}, which is not a file of this run directory; the record "
                               "is damaged or was edited, so re-run the experiment.", path=out_dir)
        if not (out_dir / name).is_file() or _sha256_file(out_dir / name) != digest:
            raise HarnessError(f"{name} is missing or does not match {RECORD}: writing this run was interrupted. "
                               "Re-run the experiment (cached judgements are kept).", path=out_dir)
    stored = read_model(out_dir / METRICS, MetricsFile)
    metrics = Metrics.model_validate(stored.model_dump(exclude={"schema_version", "name", "incomplete", "usage"}))
    return RunRecord(
        name=header.name, experiment=header.experiment, policies=header.policies, candidate=header.candidate,
        baseline=header.baseline, evalset=header.evalset, reviewers=header.reviewers,
        verdicts=read_verdicts(out_dir / VERDICTS), metrics=metrics, items=pd.read_parquet(out_dir / ITEMS),
        created_at=header.created_at, incomplete=header.incomplete, incomplete_reason=header.incomplete_reason,
        usage=header.usage, mlflow=header.mlflow, lineage=header.lineage, out_dir=str(out_dir),
        explanations=read_explanations(out_dir, run=header.name, created_at=header.created_at))


def read_model(path: Path, model: type[_Model]) -> _Model:
    """One JSON file of the record into its model; another schema version, or a file that does not
    validate, is one plain error naming the file and the fix."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise HarnessError(f"cannot be read as JSON ({err}); re-run the experiment to write it again.", path=path) from None
    version = raw.get("schema_version", raw.get("format_version")) if isinstance(raw, dict) else None
    if version != SCHEMA_VERSION:
        raise HarnessError(f"was written with record schema version {version}; this policy-harness reads version "
                           f"{SCHEMA_VERSION}. Re-run the experiment with this version (cached judgements are kept).", path=path)
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise HarnessError(f"does not match the record schema at {where} ({first['msg']}); re-run the experiment, "
                           "or check the file with 'policy-harness schema'.", path=path) from None


def model_text(model: BaseModel) -> str:
    return _json_text(model.model_dump(mode="json"))


def write_json(path: Path, value: Any) -> None:
    atomic_write_text(path, model_text(value) if isinstance(value, BaseModel) else _json_text(value))


def atomic_write_text(path: Path, text: str) -> None:
    os.replace(_stage(path, lambda tmp: tmp.write_text(text, encoding="utf-8")), path)


def _json_text(value: Any) -> str:
    return json.dumps(_finite(value), indent=2, ensure_ascii=False, default=str) + "\n"


def _stage(target: Path, write: Callable[[Path], object]) -> Path:
    """Write a temporary file beside `target` (flushed to disk) and return it; on failure remove it and
    let the error name `target` (a failed write names no file, or the temporary one)."""
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        with tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes files private; reports are meant to be shared
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError) and err.filename in (None, name, tmp):
            err.filename = str(target)
        raise
    return tmp


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _finite(value: Any) -> Any:
    """NaN and infinities become null, numpy scalars plain numbers: JSON readers never see NaN."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return _finite(value.item())
    return value


finite = _finite
