"""RunRecord: the single source of truth of a run, on disk in a versioned format."""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from harness.errors import HarnessError

FORMAT_VERSION = 1
RECORD, METRICS, VERDICTS, ITEMS, REPORT = "record.json", "metrics.json", "verdicts.parquet", "items.parquet", "report.html"


@dataclass
class RunRecord:
    """What a run produced. `verdicts` is a DataFrame (one row per item x reviewer x policy
    version x sample, with gold, text and slices); `metrics` is plain JSON-ready data."""

    name: str
    experiment: dict[str, Any]
    policies: dict[str, dict[str, Any]]
    candidate: str
    baseline: str | None
    evalset: dict[str, Any]
    reviewers: dict[str, dict[str, Any]]
    verdicts: pd.DataFrame
    metrics: dict[str, Any]
    items: pd.DataFrame
    created_at: str
    incomplete: bool = False
    incomplete_reason: str = ""
    usage: dict[str, Any] = field(default_factory=dict)
    mlflow: dict[str, Any] = field(default_factory=dict)
    lineage: dict[str, str] = field(default_factory=dict)
    out_dir: str = ""

    def header(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION, "name": self.name, "created_at": self.created_at,
            "candidate": self.candidate, "baseline": self.baseline, "policies": self.policies,
            "evalset": self.evalset, "reviewers": self.reviewers, "experiment": self.experiment,
            "incomplete": self.incomplete, "incomplete_reason": self.incomplete_reason,
            "usage": self.usage, "mlflow": self.mlflow, "lineage": self.lineage,
        }


def write_record(record: RunRecord, out_dir: Path) -> None:
    """Write the run's files as one set, so an interrupted write never leaves files a later run trusts.

    Every file is staged to a temporary file first and renamed over its previous version only once all
    are staged: a failed write (disk full) leaves the previous complete set untouched and no temporary
    files. record.json goes last and lists the sha256 of the others, so `read_record` refuses a set torn
    by a crash between the renames."""
    out_dir.mkdir(parents=True, exist_ok=True)
    record.out_dir = str(out_dir)
    metrics = {"name": record.name, "incomplete": record.incomplete, **record.metrics, "usage": record.usage}
    staged: list[tuple[Path, Path]] = []
    try:
        for name, write in ((VERDICTS, lambda tmp: record.verdicts.to_parquet(tmp, index=False)),
                            (ITEMS, lambda tmp: record.items.to_parquet(tmp, index=False)),
                            (METRICS, lambda tmp: tmp.write_text(_json_text(metrics), encoding="utf-8"))):
            staged.append((_stage(out_dir / name, write), out_dir / name))
        files = {target.name: _sha256_file(tmp) for tmp, target in staged}
        header = _json_text({**record.header(), "files": files})
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
    header = json.loads(path.read_text(encoding="utf-8"))
    if header.get("format_version") != FORMAT_VERSION:
        raise HarnessError(f"was written in run format {header.get('format_version')}; this version reads "
                           f"format {FORMAT_VERSION}. Re-run the experiment.", path=path)
    for name, digest in (header.get("files") or {}).items():
        if not (out_dir / name).is_file() or _sha256_file(out_dir / name) != digest:
            raise HarnessError(f"{name} is missing or does not match {RECORD}: writing this run was interrupted. "
                               "Re-run the experiment (cached judgements are kept).", path=out_dir)
    metrics = json.loads((out_dir / METRICS).read_text(encoding="utf-8"))
    for key in ("name", "incomplete", "usage"):
        metrics.pop(key, None)
    return RunRecord(
        name=header["name"], experiment=header["experiment"], policies=header["policies"],
        candidate=header["candidate"], baseline=header["baseline"], evalset=header["evalset"],
        reviewers=header["reviewers"], verdicts=pd.read_parquet(out_dir / VERDICTS), metrics=metrics,
        items=pd.read_parquet(out_dir / ITEMS), created_at=header["created_at"],
        incomplete=header.get("incomplete", False), incomplete_reason=header.get("incomplete_reason", ""),
        usage=header.get("usage", {}), mlflow=header.get("mlflow", {}), lineage=header.get("lineage", {}),
        out_dir=str(out_dir),
    )


def write_json(path: Path, value: Any) -> None:
    atomic_write_text(path, _json_text(value))


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
    """NaN and infinities become null: the report and JSON readers never see NaN."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return _finite(value.item())
    return value
