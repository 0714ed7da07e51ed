"""`runs` and `sync`: reading MLflow runs back, and logging a run whose tracking failed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.record import RunRecord, read_record, write_record
from harness.tracking.tags import Kind, kind_filter, metric_key


def list_runs(*, policy: str | None = None, version: str | None = None, reviewer: str | None = None,
              limit: int = 20) -> list[dict[str, Any]]:
    """Recent policy x reviewer runs across policy-harness experiments, newest first."""
    from harness.tracking import EXPERIMENT_PREFIX, client, safe_uri
    from harness.tracking.queries import first_line, require_store

    require_store()
    try:
        with client() as c:
            experiments = [e.experiment_id for e in c.search_experiments(filter_string=f"name LIKE '{EXPERIMENT_PREFIX}%'")]
    except Exception as err:  # unreachable server or unreadable store
        raise HarnessError(f"cannot read MLflow runs at {safe_uri()} ({first_line(err)}); "
                           "check MLFLOW_TRACKING_URI.") from None
    if not experiments:
        return []
    filters = [kind_filter(Kind.POLICY_REVIEWER)]
    for tag, value in (("policy_id", policy), ("policy_version", version), ("reviewer", reviewer)):
        if value:
            filters.append(f"tags.{tag} = '{value.replace(chr(39), '')}'")
    with client() as c:
        runs = c.search_runs(experiments, filter_string=" and ".join(filters), max_results=limit,
                             order_by=["attributes.start_time DESC"])
        rescored = _rescored_from(c, {r.data.tags.get("mlflow.parentRunId", "") for r in runs} - {""})
    return [{"run_id": r.info.run_id, "started": dt.datetime.fromtimestamp(r.info.start_time / 1000).isoformat(timespec="minutes"),
             "policy": f"{r.data.tags.get('policy_id')}@v{r.data.tags.get('policy_version')}",
             "role": r.data.tags.get("role", ""), "reviewer": r.data.tags.get("reviewer", ""),
             "eval_set": r.data.tags.get("eval_set", ""), "metrics": r.data.metrics,
             "rescored_from": rescored.get(r.data.tags.get("mlflow.parentRunId", "")),
             "sample": r.data.tags.get("sample")} for r in runs]


RESCORED_FROM = "policy_harness.rescored_from"


def _rescored_from(c: Any, parents: set[str]) -> dict[str, str]:
    """The run each `rescore` was made from (its lineage tag sits on the parent run), by parent run id."""
    out: dict[str, str] = {}
    for pid in sorted(parents):
        try:
            source = c.get_run(pid).data.tags.get(RESCORED_FROM)
        except Exception:  # a parent deleted since: the child is listed as a run
            continue
        if source:
            out[pid] = str(source)
    return out


@dataclass(frozen=True)
class GradingRow:
    """One reviewer in one proficiency grading (`policy-harness proficiency`), for a trend across versions."""

    run_id: str
    started: str
    policy: str
    reviewer: str
    accuracy: float | None
    accuracy_ci_low: float | None
    accuracy_ci_high: float | None
    status: str


def list_gradings(*, policy: str | None = None, version: str | None = None, reviewer: str | None = None,
                  limit: int = 20) -> list[GradingRow]:
    """Recent proficiency gradings, one row per graded reviewer, newest first."""
    from harness.tracking import EXPERIMENT_PREFIX, client, safe_uri
    from harness.tracking.queries import first_line, require_store

    require_store()
    filters = [kind_filter(Kind.PROFICIENCY)]
    for tag, value in (("policy_id", policy), ("policy_version", version)):
        if value:
            filters.append(f"tags.{tag} = '{value.replace(chr(39), '')}'")
    try:
        with client() as c:
            experiments = [e.experiment_id for e in c.search_experiments(filter_string=f"name LIKE '{EXPERIMENT_PREFIX}%'")]
            runs = c.search_runs(experiments, filter_string=" and ".join(filters), max_results=limit,
                                 order_by=["attributes.start_time DESC"]) if experiments else []
    except Exception as err:  # unreachable server or unreadable store
        raise HarnessError(f"cannot read MLflow runs at {safe_uri()} ({first_line(err)}); "
                           "check MLFLOW_TRACKING_URI.") from None
    rows = []
    for r in runs:
        names = [n for n in r.data.tags.get("reviewers", "").split(",") if n and (reviewer is None or n == reviewer)]
        for name in names:
            key, m = metric_key(name), r.data.metrics
            rows.append(GradingRow(
                run_id=r.info.run_id,
                started=dt.datetime.fromtimestamp(r.info.start_time / 1000).isoformat(timespec="minutes"),
                policy=f"{r.data.tags.get('policy_id')}@v{r.data.tags.get('policy_version')}", reviewer=name,
                accuracy=m.get(f"accuracy/{key}"), accuracy_ci_low=m.get(f"accuracy_ci_low/{key}"),
                accuracy_ci_high=m.get(f"accuracy_ci_high/{key}"), status=r.data.tags.get(f"status/{key}", "")))
    return rows


def sync_dir(out_dir: Path) -> RunRecord:
    """Log a run whose tracking failed (server down) now; a synced run is left alone."""
    from harness.tracking import open_runs

    record = read_record(out_dir)
    if not record.mlflow.synced:
        experiment_name = record.mlflow.experiment_name
        record.mlflow = open_runs(record, experiment_name=experiment_name)
        synced = sync(record, out_dir, traces=False)
        write_record(record, out_dir)  # the runs' ids first: traces that fail now are written into them later
        if not synced:
            raise HarnessError(f"MLflow is still unreachable; the run stays saved in {out_dir}. Try again later.")
        _write_traces(record, out_dir)
        return record
    _write_traces(record, out_dir)  # logged before, but its traces may not all be written
    return record


def sync(record: RunRecord, out_dir: Path, *, background_traces: bool = True, traces: bool = True) -> bool:
    """Log an opened run record to MLflow, then (unless `traces` is False: the caller writes them) its traces,
    by default in a background process, which the run does not wait for; on failure warn and keep it marked
    unsynced (the caller writes the record, which stays the source of truth)."""
    from harness.tracking import log_runs, warn_unsynced
    from harness.tracking.trace_writer import start_writer

    try:
        log_runs(record, out_dir)
    except Exception as err:  # tracking must never cost the results
        warn_unsynced(out_dir, err)
        return False
    if not traces:
        return True
    if background_traces:
        start_writer(record, out_dir)
    else:
        _write_traces(record, out_dir)
    return True


def _write_traces(record: RunRecord, out_dir: Path) -> None:
    from harness.tracking import safe_uri
    from harness.tracking.queries import first_line
    from harness.tracking.trace_writer import write_traces

    try:
        write_traces(out_dir, record)
    except Exception as err:  # the run is logged; its traces wait for the next sync
        raise HarnessError(f"the MLflow traces of {out_dir} could not be written to {safe_uri()} "
                           f"({first_line(err)}); the run is saved. Try 'policy-harness sync {out_dir}' again later.",
                           path=out_dir) from None
