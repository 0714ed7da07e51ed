"""`traces.json`: which reviewer runs of a run have their MLflow traces written (`docs/mlflow.md`).

Traces are written after the run by a background process; this file is its progress, so `sync`
writes what is missing when that process was stopped or the server was down."""

from __future__ import annotations

from pydantic import BaseModel, Field

TRACES_JSON = "traces.json"
TRACES_SCHEMA_VERSION = 1


class TracesLog(BaseModel):
    """Traces written per reviewer run (key `policy|reviewer`, as record.json's `mlflow.runs`)."""

    schema_version: int = TRACES_SCHEMA_VERSION
    experiment_id: str
    mlflow_run_ids: dict[str, str] = Field(default_factory=dict)  # the runs the traces were written into
    written: dict[str, int] = Field(default_factory=dict)  # traces written, per run key
    complete: bool = False
    error: str | None = None  # the first line of the failure that stopped the writer, if one did
