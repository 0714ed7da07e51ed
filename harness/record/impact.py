"""`impact.json`: what `policy-harness impact` forecast for the platform, per language and overall."""

from __future__ import annotations

from pydantic import BaseModel

IMPACT_JSON = "impact.json"
IMPACT_HTML = "impact.html"
IMPACT_SCHEMA_VERSION = 1  # impact.json's own: bumped on a change its readers would notice


class Forecast(BaseModel):
    """A quantity per day: the plug-in forecast and its 95% posterior interval."""

    value: float
    ci_low: float
    ci_high: float


class Quantity(BaseModel):
    """One quantity for the candidate, the baseline (when the run has one) and candidate - baseline,
    whose interval comes from the paired item-level evidence."""

    candidate: Forecast
    baseline: Forecast | None = None
    change: Forecast | None = None


class GroupForecast(BaseModel):
    """Everything forecast for one group of volume rows (a language, or 'overall'), per day."""

    items_per_day: float
    actions: Quantity
    wrongful_actions: Quantity
    missed_violations: Quantity
    reviewed: Quantity
    reviewer_hours: Quantity
    reviewers_fte: Quantity  # full-time equivalents, not rounded
    appeals: Quantity
    overturns: Quantity
    review_cost_usd: Quantity
    model_cost_usd: Quantity


class Prevalence(BaseModel):
    source: str  # "volumes" (a prevalence column) or the --prevalence-from run directory
    uncertain: bool  # False: taken as exact (no sample size was given)
    note: str


class ImpactResult(BaseModel):
    schema_version: int = IMPACT_SCHEMA_VERSION
    created_at: str
    run: str  # the run directory forecast from
    run_name: str
    reviewer: str
    candidate: str
    baseline: str | None
    volumes: str
    ops: dict[str, object]  # OPS.yaml as read (harness.config.ops.Ops)
    language_column: str | None
    slice_columns: list[str]
    prevalence: Prevalence
    method: str
    draws: int
    seed: int
    overall: GroupForecast
    languages: dict[str, GroupForecast]
    warnings: list[str]
    mlflow_run_id: str | None = None
