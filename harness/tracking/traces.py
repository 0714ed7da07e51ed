"""One MLflow trace per judged item, with its gold and verdict as assessments (`docs/mlflow.md`).

Written from the finished run's verdicts, inside the reviewer's MLflow run, a chunk of items at a time
(`trace_rows.py`: memory does not grow with the run): the trace infos with their assessments attached,
a few requests at a time (one request per trace: MLflow 3.18 has no batch endpoint for them, and the
spans alone cannot carry a trace's metadata, client request id or assessments), then the chunk's spans
in a few requests (`log_spans`). Spans are built from the verdict, not recorded live, so judging pays
nothing. The item id is the trace's client request id and its `mlflow.eval.requestId`, so MLflow pairs
items across policy versions by id. A trace holds the item, the verdict and the provider call's model
and token counts only: never a reviewer's parameters, an API key or a header.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from harness.tracking.assessments import Provenance, item_assessments
from harness.tracking.provider_span import TOKEN_USAGE, provider_call
from harness.tracking.trace_rows import CHUNK_ITEMS, TraceChoice, chunks, reviewer_rows
from harness.verdicts import ABSTAINED

if TYPE_CHECKING:
    from pathlib import Path

    from mlflow.entities import Span, TraceInfo

    from harness.record import ReviewerParams, RunRecord

TRACE_NAME = "judge"
EVAL_REQUEST_ID = "mlflow.eval.requestId"  # mlflow.tracing.constant.TraceTagKey.EVAL_REQUEST_ID
SPANS_PER_REQUEST = 250
log = logging.getLogger(__name__)
_warned: set[str] = set()
WRITERS = 8
TEXT_MAX_CHARS = 20_000  # a trace is for reading; verdicts.parquet keeps the full text


@dataclass(frozen=True)
class RunTarget:
    """The reviewer's MLflow run the traces belong to."""

    experiment_id: str
    run_id: str
    request_time_ms: int


def log_traces(tracing: Any, target: RunTarget, frames: Iterable[pd.DataFrame], provenance: Provenance,
               slices: Sequence[str], on_chunk: Callable[[int], None] | None = None) -> int:
    """Write one trace per row of `frames` (chunks of one reviewer under one policy, one row per item), a
    chunk at a time, calling `on_chunk` with the running count after each; the number written."""
    written, spans_logged = 0, True
    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        for frame in frames:
            built = [build_trace(row, target, provenance, slices) for row in _rows(frame)]
            # The trace infos first: a store that already holds a trace (created by its spans) takes its info
            # through a conflict path (roll back, lock, re-read, merge), several times the cost of an insert.
            infos = list(pool.map(lambda pair: tracing.start_trace(pair[0]), built))
            spans_logged = spans_logged and _log_spans(tracing, target, built)
            if not spans_logged:  # a store before log_spans: spans go to artifacts, per trace
                list(pool.map(lambda pair: _upload(tracing, pair[0], pair[1][1]), zip(infos, built, strict=True)))
            written += len(built)
            if on_chunk is not None:
                on_chunk(written)
    return written


def _warn_once(kind: str, message: str) -> None:
    if kind not in _warned:
        _warned.add(kind)
        log.warning("%s", message)


def _log_spans(tracing: Any, target: RunTarget, built: list[tuple[TraceInfo, list[Span]]]) -> bool:
    """The spans of many traces per request; False when the store does not take spans this way."""
    for start in range(0, len(built), SPANS_PER_REQUEST):
        try:
            tracing.log_spans(target.experiment_id,
                              [span for _, spans in built[start:start + SPANS_PER_REQUEST] for span in spans])
        except NotImplementedError:
            return False
        except Exception as err:
            if "same trace" not in str(err):
                raise
            # MLflow 3.4 takes one trace per log_spans, and its own client reads spans from the trace artifact
            _warn_once("spans", "this MLflow (3.4) keeps each trace's spans as an artifact, uploaded one trace at a "
                                "time; the traces are written, more slowly")
            return False
    return True


def _upload(tracing: Any, info: TraceInfo, spans: list[Span]) -> None:
    from mlflow.entities import TraceData

    tracing._upload_trace_data(info, TraceData(spans=spans))


def _rows(frame: pd.DataFrame) -> Iterator[dict[str, Any]]:
    for row in frame.to_dict(orient="records"):
        yield {str(k): v for k, v in row.items()}


def build_trace(row: dict[str, Any], target: RunTarget, provenance: Provenance,
                slices: Sequence[str]) -> tuple[TraceInfo, list[Span]]:
    """The trace of one item: its info (tags, request id, assessments) and its root span."""
    from mlflow.entities import TraceInfo, TraceLocation, TraceState

    item_id = str(row["item_id"])
    digest = hashlib.sha256(f"{target.run_id}\0{item_id}".encode()).hexdigest()
    trace_id = f"tr-{digest[:32]}"
    inputs = trace_inputs(row, slices)
    slice_values: dict[str, Any] = inputs["slices"]
    outputs = verdict_outputs(row)
    gold = plain(row.get("gold"))
    state = TraceState.ERROR if row["decision"] == ABSTAINED.value else TraceState.OK
    call = provider_call(row, provenance)
    usage = call.token_usage() if call is not None else None
    info = TraceInfo(
        trace_id=trace_id, trace_location=TraceLocation.from_experiment_id(target.experiment_id),
        request_time=target.request_time_ms, execution_duration=call.duration_ms if call is not None else 0,
        state=state,
        request_preview=json.dumps(inputs, ensure_ascii=False)[:1000],
        response_preview=json.dumps(outputs, ensure_ascii=False)[:1000],
        client_request_id=item_id,
        trace_metadata={"mlflow.sourceRun": target.run_id, "mlflow.trace_schema.version": "3",
                        "policy_harness.gold": str(gold or ""), "policy_harness.decision": str(row["decision"]),
                        **({TOKEN_USAGE: json.dumps(usage)} if usage else {}),
                        **{f"policy_harness.slice.{name}": str(value) for name, value in slice_values.items()}},
        tags={"mlflow.traceName": TRACE_NAME, EVAL_REQUEST_ID: item_id},
        assessments=item_assessments(trace_id, row, provenance, target.run_id),
    )
    root = _root_span(trace_id, digest, target, inputs, outputs, state == TraceState.ERROR,
                      end_ms=call.duration_ms if call is not None else 0)
    return info, [root] if call is None else [root, call.span(trace_id, digest, target.request_time_ms)]


def trace_inputs(row: dict[str, Any], slices: Sequence[str]) -> dict[str, Any]:
    """An item as a trace's (and its evaluation dataset record's) inputs: id, text and slice values."""
    return {"item_id": str(row["item_id"]), "text": _text(row.get("text")),
            "slices": {name: plain(row.get(name)) for name in slices}}


def verdict_outputs(row: dict[str, Any]) -> dict[str, Any]:
    """What the reviewer answered, as the trace's outputs."""
    out: dict[str, Any] = {"decision": str(row["decision"]), "categories": _strings(row.get("categories")),
                           "rule_ids": _strings(row.get("rule_ids")), "rationale": str(row.get("rationale") or "")}
    if (score := _number(row.get("score"))) is not None:
        out["score"] = score
    if reasoning := str(row.get("reasoning") or ""):
        out["reasoning"] = reasoning
    if row["decision"] == ABSTAINED.value:
        out["abstain_kind"] = str(row.get("abstain_kind") or "")
        out["abstain_reason"] = str(row.get("abstain_reason") or "")
    return out


def _root_span(trace_id: str, digest: str, target: RunTarget, inputs: dict[str, Any], outputs: dict[str, Any],
               error: bool, end_ms: int = 0) -> Span:
    from mlflow.entities import Span
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode

    start_ns = target.request_time_ms * 1_000_000
    context = SpanContext(trace_id=int(digest[:32], 16), span_id=int(digest[32:48], 16) or 1, is_remote=False)
    otel = ReadableSpan(
        name=TRACE_NAME, context=context, parent=None, kind=SpanKind.INTERNAL, start_time=start_ns,
        end_time=start_ns + end_ms * 1_000_000, resource=Resource.get_empty(),
        status=Status(StatusCode.ERROR if error else StatusCode.OK),
        attributes={"mlflow.traceRequestId": json.dumps(trace_id), "mlflow.spanType": json.dumps("CHAIN"),
                    "mlflow.spanInputs": json.dumps(inputs, ensure_ascii=False),
                    "mlflow.spanOutputs": json.dumps(outputs, ensure_ascii=False)})
    return Span(otel)


def _text(value: object) -> str:
    text = "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
    return text if len(text) <= TEXT_MAX_CHARS else text[:TEXT_MAX_CHARS] + " [clipped]"


def plain(value: object) -> object:
    """A value as JSON keeps it: None for a missing one, a string for anything but bool/int/float/str."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _number(value: object) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _strings(value: object) -> list[str]:
    if value is None or isinstance(value, (str, float)):
        return [str(value)] if isinstance(value, str) and value else []
    return [str(v) for v in value]  # type: ignore[attr-defined]


def log_reviewer_traces(record: RunRecord, label: str, reviewer: str, run_id: str, verdicts: Path, *,
                        experiment_id: str, done: int = 0, chunk: int = CHUNK_ITEMS,
                        on_chunk: Callable[[int], None] | None = None) -> int:
    """The traces of one reviewer under one policy version, in that reviewer's run, as `tracking.traces`
    chooses, streamed from `verdicts` (the run's verdicts.parquet) `chunk` items at a time; the first `done`
    (written before) are skipped. The number of traces the run holds."""
    from mlflow.tracing.client import TracingClient

    from harness.tracking import tracking_uri

    choice = TraceChoice.of((record.experiment.get("tracking") or {}).get("traces", "all"))
    rows = reviewer_rows(verdicts, label, reviewer, choice)
    if done >= rows.total:
        return rows.total
    policy, params = record.policies[label], record.reviewers.get(reviewer)
    provenance = Provenance(eval_set=record.evalset.name, eval_set_version=record.evalset.sha256, reviewer=reviewer,
                            reviewer_type=params.type if params else "", policy_id=policy.id,
                            policy_version=str(policy.version), model=_model(params))
    target = RunTarget(experiment_id, run_id, _created_ms(record.created_at))
    report = None if on_chunk is None else (lambda n: on_chunk(done + n))
    return done + log_traces(TracingClient(tracking_uri()), target, chunks(rows, size=chunk, skip=done), provenance,
                             record.evalset.slices, report)


def _model(params: ReviewerParams | None) -> str:
    model = params.get("model") if params is not None else None
    return model if isinstance(model, str) else ""


def _created_ms(created_at: str) -> int:
    import datetime as dt

    try:
        return int(dt.datetime.fromisoformat(created_at).timestamp() * 1000)
    except ValueError:
        return 0
