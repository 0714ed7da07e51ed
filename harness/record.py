"""RunRecord: the single source of truth of a run, on disk in a versioned format."""

from __future__ import annotations

import json
import math
import os
import tempfile
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
    """Write every file atomically, so an interrupted write never leaves a file a later run trusts."""
    out_dir.mkdir(parents=True, exist_ok=True)
    record.out_dir = str(out_dir)
    _atomic_parquet(record.verdicts, out_dir / VERDICTS)
    _atomic_parquet(record.items, out_dir / ITEMS)
    write_json(out_dir / METRICS, {"name": record.name, "incomplete": record.incomplete, **record.metrics,
                                   "usage": record.usage})
    write_json(out_dir / RECORD, record.header())


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
    atomic_write_text(path, json.dumps(_finite(value), indent=2, ensure_ascii=False, default=str) + "\n")


def atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes files private; reports are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _atomic_parquet(frame: pd.DataFrame, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        frame.to_parquet(tmp, index=False)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
