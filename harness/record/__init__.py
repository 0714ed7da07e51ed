"""The run record: typed models of every file the harness writes (metrics.json, record.json, compare.json,
diagnosis.json, revise.json, quiz.json, proficiency.json, portfolio.json; `SCHEMAS` lists them with their
JSON Schema) and the atomic set of files a run writes."""

from __future__ import annotations

from harness.record.comparison import ComparedRun, ComparisonResult, Coverage, ReviewerComparison
from harness.record.files import (
                                  FORMAT_VERSION,
                                  ITEMS,
                                  METRICS,
                                  RECORD,
                                  REPORT,
                                  SCHEMA_VERSION,
                                  VERDICTS,
                                  atomic_write_text,
                                  finite,
                                  metrics_file,
                                  read_model,
                                  read_record,
                                  record_header,
                                  write_json,
                                  write_record,
)
from harness.record.header import (
                                  ClassifierParams,
                                  EvalSetSummary,
                                  ExternalParams,
                                  LLMParams,
                                  MlflowIds,
                                  PolicyCategory,
                                  PolicyRule,
                                  PolicySummary,
                                  RecordHeader,
                                  ReviewerParams,
)
from harness.record.metrics import (
                                  Agreement,
                                  Baseline,
                                  CategoryRates,
                                  GateResult,
                                  Injection,
                                  Metrics,
                                  MetricsFile,
                                  PairedChange,
                                  PairedComparison,
                                  Rate,
                                  Rates,
                                  ReviewerMetrics,
                                  Usage,
                                  Weighted,
                                  WeightedRate,
)
from harness.record.run import RunRecord, replace
from harness.record.schemas import SCHEMAS, Schema, json_schema, schema_listing

__all__ = ["FORMAT_VERSION", "ITEMS", "METRICS", "RECORD", "REPORT", "SCHEMA_VERSION", "SCHEMAS", "VERDICTS",
           "Agreement", "Baseline", "CategoryRates", "ClassifierParams", "ComparedRun", "ComparisonResult", "Coverage",
           "EvalSetSummary", "ExternalParams", "GateResult", "Injection", "LLMParams", "Metrics", "MetricsFile",
           "MlflowIds", "PairedChange", "PairedComparison", "PolicyCategory", "PolicyRule", "PolicySummary", "Rate",
           "Rates", "RecordHeader", "ReviewerComparison", "ReviewerMetrics", "ReviewerParams", "RunRecord", "Schema",
           "Usage", "Weighted", "WeightedRate", "atomic_write_text", "finite", "json_schema", "metrics_file",
           "read_model", "read_record", "record_header", "replace", "schema_listing", "write_json", "write_record"]
