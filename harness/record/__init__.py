"""The run record: typed models of metrics.json and record.json (with their JSON Schema) and the
atomic set of files a run writes; compare.json, the comparison of two runs, is typed here too."""

from __future__ import annotations

from typing import Any

from harness.record.comparison import ComparedRun, ComparisonResult, Coverage, ReviewerComparison
from harness.record.files import (FORMAT_VERSION, ITEMS, METRICS, RECORD, REPORT, SCHEMA_VERSION, VERDICTS,
                                  atomic_write_text, finite, metrics_file, read_model, read_record, record_header,
                                  write_json, write_record)
from harness.record.header import (ClassifierParams, EvalSetSummary, ExternalParams, LLMParams, MlflowIds,
                                   PolicyCategory, PolicyRule, PolicySummary, RecordHeader, ReviewerParams)
from harness.record.metrics import (Agreement, Baseline, CategoryRates, GateResult, Injection, Metrics,
                                    MetricsFile, PairedChange, PairedComparison, Rate, Rates, ReviewerMetrics,
                                    Usage, Weighted, WeightedRate)
from harness.record.run import RunRecord, replace

SCHEMAS = {"metrics": MetricsFile, "record": RecordHeader, "compare": ComparisonResult}


def json_schema(name: str) -> dict[str, Any]:
    """The published JSON Schema of metrics.json ('metrics'), record.json ('record') or compare.json ('compare')."""
    schema: dict[str, Any] = SCHEMAS[name].model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$comment"] = f"policy-harness {name}.json, schema_version {SCHEMA_VERSION}"
    return schema


__all__ = ["FORMAT_VERSION", "ITEMS", "METRICS", "RECORD", "REPORT", "SCHEMA_VERSION", "SCHEMAS", "VERDICTS",
           "Agreement", "Baseline", "CategoryRates", "ClassifierParams", "ComparedRun", "ComparisonResult", "Coverage",
           "EvalSetSummary", "ExternalParams", "GateResult", "Injection", "LLMParams", "Metrics", "MetricsFile",
           "MlflowIds", "PairedChange", "PairedComparison", "PolicyCategory", "PolicyRule", "PolicySummary", "Rate",
           "Rates", "RecordHeader", "ReviewerComparison", "ReviewerMetrics", "ReviewerParams", "RunRecord", "Usage",
           "Weighted", "WeightedRate", "atomic_write_text", "finite", "json_schema", "metrics_file", "read_model",
           "read_record", "record_header", "replace", "write_json", "write_record"]
