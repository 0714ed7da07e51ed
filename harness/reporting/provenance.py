"""Where the numbers came from: policies, eval set, reviewers, usage and cost, MLflow runs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from harness.record import EvalSetSummary, MlflowIds, PolicySummary, RunRecord, Usage
from harness.reporting.fmt import number, short

UNKNOWN = "unknown"


@dataclass(frozen=True)
class PolicyRow:
    role: str
    label: str
    id: str
    version: str
    title: str
    sha256: str
    path: str


@dataclass(frozen=True)
class UsageRow:
    reviewer: str
    calls: str
    cached: str
    prompt_tokens: str
    completion_tokens: str
    cost: str
    retries: str
    abstained: str


@dataclass(frozen=True)
class Provenance:
    created_at: str
    description: str
    policies: list[PolicyRow]
    evalset: list[tuple[str, str]]
    reviewers: list[tuple[str, list[tuple[str, str]]]]
    usage: list[UsageRow]
    mlflow: list[tuple[str, str]]


def provenance(record: RunRecord) -> Provenance:
    return Provenance(
        created_at=str(record.created_at),
        description=short((record.experiment or {}).get("description") or "", 400),
        policies=[policy_row(record, label, p) for label, p in record.policies.items()],
        evalset=evalset_rows(record.evalset),
        reviewers=[(name, [(short(k, 40), short(_text(v), 200)) for k, v in params.values().items()
                           if k != "reads_policy"]
                    + ([] if params.reads_policy else [("reads the policy text", "no")]))
                   for name, params in record.reviewers.items()],
        usage=[usage_row(name, u) for name, u in record.usage.items()],
        mlflow=mlflow_rows(record.mlflow),
    )


def policy_row(record: RunRecord, label: str, p: PolicySummary) -> PolicyRow:
    role = "candidate" if label == record.candidate else "baseline" if label == record.baseline else ""
    return PolicyRow(role=role, label=short(label, 60), id=short(p.id, 60), version=str(p.version),
                     title=short(p.title, 80), sha256=p.sha256, path=short(p.path, 120))


def evalset_rows(evalset: EvalSetSummary) -> list[tuple[str, str]]:
    counts = evalset.label_counts
    return [
        ("name", short(evalset.name, 80)),
        ("items", f"{evalset.items:,}"),
        ("gold labels", ", ".join(f"{short(k, 30)}: {v:,}" for k, v in counts.items()) or UNKNOWN),
        ("slice columns", ", ".join(short(s, 40) for s in evalset.slices) or "none"),
        ("sha256", evalset.sha256),
        ("source", short(evalset.source or UNKNOWN, 200)),
        ("license / attribution", short(evalset.license or "not stated", 200)),
    ]


def usage_row(reviewer: str, usage: Usage) -> UsageRow:
    return UsageRow(reviewer=reviewer, calls=_count(usage.calls), cached=_count(usage.cached),
                    prompt_tokens=_count(usage.prompt_tokens), completion_tokens=_count(usage.completion_tokens),
                    cost=cost(usage), retries=_count(usage.retries), abstained=_count(usage.abstained))


def cost(usage: Usage) -> str:
    """Dollars, or "unknown" when the provider gave no price; a partial price says so."""
    value = number(usage.cost_usd)
    if value is None:
        return UNKNOWN
    unknown_calls = usage.cost_unknown_calls
    text = f"${value:,.4f}"
    return f"{text} + {unknown_calls:,} calls of unknown cost" if unknown_calls else text


def mlflow_rows(mlflow: MlflowIds) -> list[tuple[str, str]]:
    if mlflow == MlflowIds():  # never tracked
        return []
    rows = [("tracking URI", short(mlflow.tracking_uri or UNKNOWN, 200)),
            ("experiment id", mlflow.experiment_id or UNKNOWN),
            ("parent run id", mlflow.parent_run_id or UNKNOWN)]
    rows += [(f"run {short(key.replace('|', ' · '), 80)}", run_id) for key, run_id in mlflow.runs.items()]
    return rows


def _count(value: Any) -> str:
    value = number(value)
    return UNKNOWN if value is None else f"{value:,.0f}"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
