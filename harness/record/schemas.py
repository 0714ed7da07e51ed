"""Every JSON file the harness writes, with its model and schema version: the one list
`policy-harness schema` prints from, so a new file is published by adding it here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from harness.errors import HarnessError
from harness.record.comparison import COMPARE_JSON, COMPARE_SCHEMA_VERSION, ComparisonResult
from harness.record.diagnosis import DIAGNOSIS, DIAGNOSIS_SCHEMA_VERSION, Diagnosis
from harness.record.dsa import DSA_JSON, DSA_SCHEMA_VERSION, DsaExport
from harness.record.explanations import EXPLANATIONS_JSON, EXPLANATIONS_SCHEMA_VERSION, Explanations
from harness.record.files import METRICS, RECORD, SCHEMA_VERSION
from harness.record.header import RecordHeader
from harness.record.impact import IMPACT_JSON, IMPACT_SCHEMA_VERSION, ImpactResult
from harness.record.metrics import MetricsFile
from harness.record.perturb import PERTURB_JSON, PERTURB_SCHEMA_VERSION, PerturbResult
from harness.record.portfolio import PORTFOLIO_JSON, Portfolio
from harness.record.portfolio import SCHEMA_VERSION as PORTFOLIO_SCHEMA_VERSION
from harness.record.proficiency import PROFICIENCY_JSON, PROFICIENCY_SCHEMA_VERSION, QUIZ_JSON, Proficiency, QuizInfo
from harness.record.revision import REVISE_JSON, REVISE_SCHEMA_VERSION, ReviseResult
from harness.record.traces import TRACES_JSON, TRACES_SCHEMA_VERSION, TracesLog


@dataclass(frozen=True)
class Schema:
    """One written JSON file: its name for `policy-harness schema NAME`, the file, what it holds."""

    name: str
    file: str
    model: type[BaseModel]
    version: int
    description: str


SCHEMAS: dict[str, Schema] = {s.name: s for s in (
    Schema("metrics", METRICS, MetricsFile, SCHEMA_VERSION, "what a run measured, per reviewer and policy version"),
    Schema("record", RECORD, RecordHeader, SCHEMA_VERSION,
           "a run's header: policies, eval set, reviewers, tracking, and the sha256 of its other files"),
    Schema("compare", COMPARE_JSON, ComparisonResult, COMPARE_SCHEMA_VERSION,
           "two stored runs compared item by item (policy-harness compare)"),
    Schema("diagnosis", DIAGNOSIS, Diagnosis, DIAGNOSIS_SCHEMA_VERSION,
           "a run's errors as failure clusters (policy-harness diagnose)"),
    Schema("revise", REVISE_JSON, ReviseResult, REVISE_SCHEMA_VERSION,
           "policy revisions tried, judged on held-out items, and accepted (policy-harness revise)"),
    Schema("quiz", QUIZ_JSON, QuizInfo, PROFICIENCY_SCHEMA_VERSION,
           "how a certification quiz was drawn (policy-harness quiz)"),
    Schema("proficiency", PROFICIENCY_JSON, Proficiency, PROFICIENCY_SCHEMA_VERSION,
           "a cohort's quiz answers graded (policy-harness proficiency)"),
    Schema("portfolio", PORTFOLIO_JSON, Portfolio, PORTFOLIO_SCHEMA_VERSION,
           "every policy version's latest verdict, trends and training coverage (policy-harness portfolio)"),
    Schema("dsa", DSA_JSON, DsaExport, DSA_SCHEMA_VERSION,
           "accuracy and error indicators per category and language for a DSA transparency report (export dsa)"),
    Schema("perturb", PERTURB_JSON, PerturbResult, PERTURB_SCHEMA_VERSION,
           "rates under meaning-preserving variants of the policy, paired with the original (policy-harness perturb)"),
    Schema("impact", IMPACT_JSON, ImpactResult, IMPACT_SCHEMA_VERSION,
           "a run's error rates as actions, review hours and appeals per day, with intervals (policy-harness impact)"),
    Schema("traces", TRACES_JSON, TracesLog, TRACES_SCHEMA_VERSION,
           "which reviewer runs have their MLflow traces written (the background trace writer, sync)"),
    Schema("explanations", EXPLANATIONS_JSON, Explanations, EXPLANATIONS_SCHEMA_VERSION,
           "rationales generated on demand for the verdicts a person opens (policy-harness explain)"),
)}


def schema_of(name: str) -> Schema:
    """The entry of one schema name; another name is an error listing the names there are."""
    if name not in SCHEMAS:
        raise HarnessError(f"there is no schema named {name!r}; choose one of {', '.join(SCHEMAS)} "
                           "('policy-harness schema' lists them with their files).")
    return SCHEMAS[name]


def json_schema(name: str) -> dict[str, Any]:
    """The published JSON Schema of one written file, by its schema name (see `SCHEMAS`)."""
    entry = schema_of(name)
    schema: dict[str, Any] = entry.model.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$comment"] = f"policy-harness {entry.file}, schema_version {entry.version}"
    return schema


def schema_listing() -> str:
    """One line per schema: its name, the file it describes, and what that file holds."""
    width = max(len(name) for name in SCHEMAS)
    files = max(len(s.file) for s in SCHEMAS.values())
    return "\n".join(f"{s.name:<{width}}  {s.file:<{files}}  v{s.version}  {s.description}" for s in SCHEMAS.values())
