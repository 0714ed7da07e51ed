"""Where the numbers came from: policies, eval set, reviewers, usage and cost, MLflow runs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from harness.record import RunRecord
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
        reviewers=[(name, [(short(k, 40), short(_text(v), 200)) for k, v in params.items()])
                   for name, params in record.reviewers.items()],
        usage=[usage_row(name, u) for name, u in record.usage.items()],
        mlflow=mlflow_rows(record.mlflow),
    )


def policy_row(record: RunRecord, label: str, p: dict[str, Any]) -> PolicyRow:
    role = "candidate" if label == record.candidate else "baseline" if label == record.baseline else ""
    return PolicyRow(role=role, label=short(label, 60), id=short(p.get("id", ""), 60),
                     version=str(p.get("version", "")), title=short(p.get("title") or "", 80),
                     sha256=str(p.get("sha256", "")), path=short(p.get("path") or "", 120))


def evalset_rows(evalset: dict[str, Any]) -> list[tuple[str, str]]:
    counts = evalset.get("label_counts") or {}
    return [
        ("name", short(evalset.get("name", ""), 80)),
        ("items", f"{int(evalset.get('items') or 0):,}"),
        ("gold labels", ", ".join(f"{short(k, 30)}: {v:,}" for k, v in counts.items()) or UNKNOWN),
        ("slice columns", ", ".join(short(s, 40) for s in evalset.get("slices") or []) or "none"),
        ("sha256", str(evalset.get("sha256", ""))),
        ("source", short(evalset.get("source") or UNKNOWN, 200)),
        ("license / attribution", short(evalset.get("license") or "not stated", 200)),
    ]


def usage_row(reviewer: str, usage: dict[str, Any]) -> UsageRow:
    return UsageRow(reviewer=reviewer, calls=_count(usage.get("calls")), cached=_count(usage.get("cached")),
                    prompt_tokens=_count(usage.get("prompt_tokens")),
                    completion_tokens=_count(usage.get("completion_tokens")), cost=cost(usage),
                    retries=_count(usage.get("retries")), abstained=_count(usage.get("abstained")))


def cost(usage: dict[str, Any]) -> str:
    """Dollars, or "unknown" when the provider gave no price; a partial price says so."""
    value = number(usage.get("cost_usd"))
    if value is None:
        return UNKNOWN
    unknown_calls = int(usage.get("cost_unknown_calls") or 0)
    text = f"${value:,.4f}"
    return f"{text} + {unknown_calls:,} calls of unknown cost" if unknown_calls else text


def mlflow_rows(mlflow: dict[str, Any]) -> list[tuple[str, str]]:
    if not mlflow:
        return []
    rows = [("tracking URI", short(mlflow.get("tracking_uri") or UNKNOWN, 200)),
            ("experiment id", str(mlflow.get("experiment_id") or UNKNOWN)),
            ("parent run id", str(mlflow.get("parent_run_id") or UNKNOWN))]
    rows += [(f"run {short(key.replace('|', ' · '), 80)}", str(run_id))
             for key, run_id in (mlflow.get("runs") or {}).items()]
    return rows


def _count(value: Any) -> str:
    value = number(value)
    return UNKNOWN if value is None else f"{value:,.0f}"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
