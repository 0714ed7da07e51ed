"""`impact.json`: what `policy-harness impact` forecast for the platform, per language and overall."""

from __future__ import annotations

from pydantic import BaseModel

from harness.config.ops import Ops
from harness.record.metrics import Rate

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


class CascadeDesign(BaseModel):
    """One enforcement design on the held-out items, with the settings chosen on dev."""

    design: str
    settings: dict[str, float]  # threshold, or the band [low, high) of the classifier / llm_low, llm_high of the LLM
    over_enforcement: Rate
    leakage: Rate
    human_share: Forecast
    cost_per_1k_usd: Forecast
    meets_gates: bool  # the whole interval of each gated rate meets its target


class Cascade(BaseModel):
    classifier: str | None
    llm: str
    dev_items: int
    held_out_items: int
    split_seed: int
    gates: dict[str, float]  # the run's overall gates: max over-enforcement / leakage
    designs: list[CascadeDesign]
    not_evaluated: dict[str, str]  # design -> why it cannot be evaluated from this run
    cheapest: str | None  # the cheapest design meeting the gates; None: none does
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
    ops: Ops  # OPS.yaml as read
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
    cascade: Cascade | None = None
