"""Writing a finished run's traces: in a background process after a run (off its critical path), in the
foreground from `sync`. Progress is kept in traces.json, so a stopped writer or an unreachable server
loses nothing: `policy-harness sync RUN_DIR` writes the traces still missing."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from harness._util.processes import harness_child
from harness.record import ITEMS, METRICS, RECORD, VERDICTS, Metrics, MetricsFile, RecordHeader, RunRecord
from harness.record.files import read_model
from harness.record.traces import TRACES_JSON, TracesLog
from harness.tracking.trace_rows import CHUNK_ITEMS, TraceChoice

WRITER_LOG = "traces.log"
CHUNK_ENV = "POLICY_HARNESS_TRACE_CHUNK"
log = logging.getLogger(__name__)


def traces_wanted(record: RunRecord) -> bool:
    """Whether the experiment asks for traces (`tracking.traces` is not 'none')."""
    return TraceChoice.of((record.experiment.get("tracking") or {}).get("traces", "all")).traces != "none"


def read_traces_log(out_dir: Path) -> TracesLog | None:
    """traces.json of a run directory, or None when no writer has started there."""
    path = out_dir / TRACES_JSON
    if not path.exists():
        return None
    return TracesLog.model_validate_json(path.read_text(encoding="utf-8"))


def _save(out_dir: Path, progress: TracesLog) -> None:
    tmp = out_dir / f".{TRACES_JSON}.tmp"
    tmp.write_text(progress.model_dump_json(indent=2), encoding="utf-8")
    os.replace(tmp, out_dir / TRACES_JSON)


def pending(record: RunRecord, out_dir: Path) -> TracesLog | None:
    """What remains to write for a logged run: None when its traces are complete or not wanted."""
    if not traces_wanted(record) or not record.mlflow.runs or record.mlflow.experiment_id is None:
        return None
    progress = read_traces_log(out_dir)
    if progress is None or progress.mlflow_run_ids != record.mlflow.runs:  # runs opened anew (sync): start over
        progress = TracesLog(experiment_id=record.mlflow.experiment_id, mlflow_run_ids=dict(record.mlflow.runs))
    return None if progress.complete else progress


def start_writer(record: RunRecord, out_dir: Path) -> subprocess.Popen[bytes] | None:
    """Write the traces of a logged run in a detached process; the run's command returns meanwhile."""
    progress = pending(record, out_dir)
    if progress is None:
        return None
    _save(out_dir, progress)  # before the process starts: it reads the run ids from here, not from record.json
    with (out_dir / WRITER_LOG).open("ab") as sink:
        return subprocess.Popen(
            harness_child("from harness.tracking.trace_writer import main; main()", str(out_dir)),
            stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)


def write_traces(out_dir: Path, record: RunRecord | None = None, *, chunk: int | None = None) -> TracesLog | None:
    """Write the traces still missing for the run in `out_dir`, reviewer run by reviewer run, `chunk` items
    at a time (default: POLICY_HARNESS_TRACE_CHUNK, else CHUNK_ITEMS) read from its verdicts.parquet (memory
    does not grow with the run); None when nothing was to be written. A failure is kept in traces.json and raised."""
    from harness.tracking import client
    from harness.tracking.criteria import log_quality_criteria
    from harness.tracking.datasets import log_evalset_dataset
    from harness.tracking.traces import log_reviewer_traces

    record = record or _read(out_dir)
    progress = pending(record, out_dir)
    if progress is None:
        return None
    try:
        with client() as c:  # bounded retries and MLflow's chatter muted, as for the runs
            for key, run_id in progress.mlflow_run_ids.items():
                label, reviewer = key.split("|", 1)

                def saved(count: int, key: str = key) -> None:
                    progress.written[key] = count
                    _save(out_dir, progress)

                # `written` counts what is in MLflow, chunk by chunk: a writer that starts over goes on from there
                saved(log_reviewer_traces(record, label, reviewer, run_id, out_dir / VERDICTS,
                                          experiment_id=progress.experiment_id, done=progress.written.get(key, 0),
                                          chunk=chunk or _chunk(), on_chunk=saved))
            # after the traces (what a user opens first); an upsert, so a writer that starts over adds nothing twice
            log_evalset_dataset(c, record, progress.mlflow_run_ids.values(), progress.experiment_id,
                                items=out_dir / ITEMS)
            log_quality_criteria(c, record, progress.mlflow_run_ids)
    except Exception as err:
        progress.error = (str(err).strip().splitlines() or [type(err).__name__])[0][:300]
        _save(out_dir, progress)
        raise
    progress.complete, progress.error = True, None
    _save(out_dir, progress)
    return progress


def _read(out_dir: Path) -> RunRecord:
    # record.json may be in the middle of its second write (the run adds its MLflow ids): try again.
    for attempt in range(20):
        try:
            return read_header(out_dir)
        except Exception:
            if attempt == 19:
                raise
            time.sleep(0.25)
    raise AssertionError("unreachable")


def read_header(out_dir: Path) -> RunRecord:
    """The run record without its tables (record.json and metrics.json only): the writer streams the tables."""
    header = read_model(out_dir / RECORD, RecordHeader)
    stored = read_model(out_dir / METRICS, MetricsFile)
    metrics = Metrics.model_validate(stored.model_dump(exclude={"schema_version", "name", "incomplete", "usage"}))
    return RunRecord(
        name=header.name, experiment=header.experiment, policies=header.policies, candidate=header.candidate,
        baseline=header.baseline, evalset=header.evalset, reviewers=header.reviewers, verdicts=pd.DataFrame(),
        metrics=metrics, items=pd.DataFrame(), created_at=header.created_at, incomplete=header.incomplete,
        incomplete_reason=header.incomplete_reason, usage=header.usage, mlflow=header.mlflow, lineage=header.lineage,
        out_dir=str(out_dir))


def wait_for_traces(out_dir: Path, timeout_s: float = 600.0) -> TracesLog | None:
    """Block until the background writer of `out_dir` has finished (complete or failed); None if none started."""
    deadline = time.monotonic() + timeout_s
    while True:
        progress = read_traces_log(out_dir)
        if progress is None or progress.complete or progress.error or time.monotonic() > deadline:
            return progress
        time.sleep(0.2)


def _chunk() -> int:
    """Items per chunk: POLICY_HARNESS_TRACE_CHUNK (a benchmark's or a small machine's), else CHUNK_ITEMS."""
    value = os.environ.get(CHUNK_ENV, "")
    return int(value) if value.isdigit() and int(value) > 0 else CHUNK_ITEMS


def main() -> None:
    """The background writer: `python -c ... OUT_DIR`; a failure says how to finish later."""
    out_dir = Path(sys.argv[1])
    with contextlib.suppress(OSError):  # second in line for the CPU: the run that started it may still be finishing
        os.nice(10)
    try:
        write_traces(out_dir)
    except Exception as err:  # the run is saved; only its traces wait for `sync`
        print(f"MLflow traces of {out_dir} were not all written ({err}); write them with: "
              f"policy-harness sync {out_dir}", file=sys.stderr)
        sys.exit(1)
