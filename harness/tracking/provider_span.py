"""The provider call of an LLM verdict as a child span of its trace: the model, the tokens the provider
reported and the call's latency, where the verdict knows them (verdicts.parquet's `prompt_tokens`,
`completion_tokens` and `latency_ms`; a cached verdict keeps those of the call that paid for it).

The span is built from the verdict after the run, like the root span: nothing is recorded while
judging. It holds the model name and the counts only: never the prompt, a reviewer's parameters, an
API key or a header. A verdict without them (a classifier's, a run written before they were kept, a
provider error) gets no child span.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.verdicts import USAGE_COLUMNS

if TYPE_CHECKING:
    from mlflow.entities import Span

    from harness.tracking.assessments import Provenance

CALL_SPAN = "provider call"
TOKEN_USAGE = "mlflow.trace.tokenUsage"  # mlflow.tracing.constant.TraceMetadataKey.TOKEN_USAGE
CHAT_USAGE = "mlflow.chat.tokenUsage"  # SpanAttributeKey.CHAT_USAGE: what MLflow sums into the trace's tokens
MODEL = "mlflow.llm.model"  # SpanAttributeKey.MODEL
MODEL_PROVIDER = "mlflow.llm.provider"  # SpanAttributeKey.MODEL_PROVIDER


@dataclass(frozen=True)
class ProviderCall:
    """What one verdict's provider call is known to have cost."""

    model: str
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_ms: float | None

    @property
    def duration_ms(self) -> int:
        """The call's latency in whole milliseconds (0 when unknown): the span's and the trace's duration."""
        return 0 if self.latency_ms is None else round(self.latency_ms)

    def token_usage(self) -> dict[str, int] | None:
        """MLflow's token usage shape (input/output/total tokens); None when the provider reported none."""
        if self.prompt_tokens is None and self.completion_tokens is None:
            return None
        prompt, completion = self.prompt_tokens or 0, self.completion_tokens or 0
        return {"input_tokens": prompt, "output_tokens": completion, "total_tokens": prompt + completion}

    def span(self, trace_id: str, digest: str, start_ms: int) -> Span:
        """The child span of the trace's root (`digest` gives both spans' ids), starting with the root at `start_ms`."""
        from mlflow.entities import Span
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import ReadableSpan
        from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode

        start_ns = start_ms * 1_000_000
        trace_int = int(digest[:32], 16)
        parent = SpanContext(trace_id=trace_int, span_id=int(digest[32:48], 16) or 1, is_remote=False)
        context = SpanContext(trace_id=trace_int, span_id=int(digest[48:64], 16) or 2, is_remote=False)
        attributes: dict[str, Any] = {"mlflow.traceRequestId": json.dumps(trace_id),
                                      "mlflow.spanType": json.dumps("CHAT_MODEL"),
                                      "mlflow.spanInputs": json.dumps({"model": self.model}),
                                      MODEL: json.dumps(self.model)}
        if "/" in self.model:
            attributes[MODEL_PROVIDER] = json.dumps(self.model.split("/", 1)[0])
        if (usage := self.token_usage()) is not None:
            attributes[CHAT_USAGE] = json.dumps(usage)
            attributes["mlflow.spanOutputs"] = json.dumps({"usage": usage})
        if self.latency_ms is not None:
            attributes["latency_ms"] = json.dumps(self.latency_ms)
        otel = ReadableSpan(
            name=CALL_SPAN, context=context, parent=parent, kind=SpanKind.CLIENT, start_time=start_ns,
            end_time=start_ns + self.duration_ms * 1_000_000, resource=Resource.get_empty(),
            status=Status(StatusCode.OK), attributes=attributes)
        return Span(otel)


def provider_call(row: dict[str, Any], provenance: Provenance) -> ProviderCall | None:
    """The provider call of one verdict row, or None when the row knows nothing of it."""
    prompt, completion, latency = (_known(row.get(name)) for name in USAGE_COLUMNS)
    if prompt is None and completion is None and latency is None:
        return None
    return ProviderCall(model=provenance.model, prompt_tokens=None if prompt is None else int(prompt),
                        completion_tokens=None if completion is None else int(completion), latency_ms=latency)


def _known(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None
