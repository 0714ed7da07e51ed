"""Typed data of the portfolio: portfolio.json is written from these models and the page renders them."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from harness.record.impact import ImpactResult
from harness.record.metrics import GateResult as Gate  # one gate model: the run's own
from harness.record.metrics import Rate, ReviewerMetrics
from harness.record.proficiency import Proficiency

PORTFOLIO_JSON, PORTFOLIO_HTML = "portfolio.json", "portfolio.html"
SCHEMA_VERSION = 1

# ready: every gate passed; blocked: a gate failed; undecided: none failed but some are inconclusive or
# have no data; no gates: the experiment set none; incomplete: the latest run did not judge every item.
Verdict = Literal["ready", "blocked", "undecided", "no gates", "incomplete"]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunRef(Model):
    """Where one run lives: a run directory, or an MLflow run (child run id beside its parent)."""

    name: str
    created_at: str
    source: str  # run directory, or "mlflow:<run id>"
    report: str | None = None  # path or file: URI of the run's launch report, when it is on disk


class GateCounts(Model):
    passed: int = 0
    failed: int = 0
    inconclusive: int = 0
    no_data: int = 0


class TimeToDeploy(Model):
    """From the version's first `candidate` alias to its first `production` alias, as the prompt registry's
    alias history records them (docs/portfolio.md); the first runs are context, not the clock."""

    first_run: str
    first_passing_run: str | None
    hours: float | None
    text: str  # "2 d 3 h", "not yet", or "unknown" (no alias history for the version)
    candidate_at: str | None = None  # when the version first became `candidate`
    production_at: str | None = None  # when it first became `production`


class VersionRow(Model):
    """One policy version under one reviewer, as its latest run as the candidate left it."""

    policy_id: str
    version: int
    reviewer: str
    runs: int
    latest: RunRef
    items: int
    over_enforcement: Rate
    leakage: Rate
    gates: list[Gate]
    counts: GateCounts
    verdict: Verdict
    blocking: list[str]  # the failing gates, as "<gate> (<scope>)"
    time_to_deploy: TimeToDeploy
    sample: str | None = None  # "a seeded sample of 40 of 302 items (...)": the reviewer did not judge every item
    drift: str | None = None  # the latest run's drift-canary warning (docs/stability.md), when its verdicts drifted
    forecast: str | None = None  # the headline of the newest `impact` forecast of the latest run, when one was found


class TrendPoint(Model):
    version: int
    reviewer: str
    run: RunRef
    over_enforcement: Rate
    leakage: Rate
    verdict: Verdict
    sample: str | None = None


class PolicyTrend(Model):
    policy_id: str
    points: list[TrendPoint]  # oldest first


class LanguageCell(Model):
    """One language of one policy version's latest run (per reviewer)."""

    policy_id: str
    version: int
    reviewer: str
    language: str
    items: int
    over_enforcement: Rate
    leakage: Rate
    gates: list[Gate]
    flagged: list[str]  # "over_enforcement higher than the other languages", ...
    under_tested: bool
    items_to_decide: int | None = None  # further items in the gate's denominator the planner says would decide it
    note: str = ""


class LanguageMatrix(Model):
    languages: list[str]
    policies: list[str]  # "<policy id> v<version> · <reviewer>", the matrix's columns
    cells: list[LanguageCell]


class Certified(Model):
    policy_id: str
    version: int
    graded: int
    certified: int
    certified_reviewers: list[str]
    created_at: str
    source: str


class PolicyTraining(Model):
    policy_id: str
    promoted_version: int | None  # newest version approved with `promote`, when the runs show one
    certified_on_promoted: int | None
    graded_on_promoted: int | None
    note: str


class Training(Model):
    gradings: list[Certified]  # newest grading per policy version
    policies: list[PolicyTraining]


class Portfolio(Model):
    schema_version: int = SCHEMA_VERSION
    generated_at: str
    source: str  # the tracking URI (credentials masked), or "run directories"
    summary: list[str]
    rows: list[VersionRow]
    trends: list[PolicyTrend]
    languages: LanguageMatrix
    training: Training
    notes: list[str] = Field(default_factory=list)


# --- what the portfolio is built from: runs and gradings, from directories or MLflow ---------------

@dataclasses.dataclass(frozen=True)
class AliasHistory:
    """When the prompt registry's aliases reached a policy version (tags harness.tracking.aliases writes)."""
    candidate_at: dt.datetime | None
    production_at: dt.datetime | None
    promoted: bool  # production now or before, whether or not its time was recorded


@dataclasses.dataclass(frozen=True)
class Observation:
    policy_id: str
    version: int
    reviewer: str
    run: RunRef
    created: dt.datetime
    incomplete: bool
    metrics: ReviewerMetrics
    approved: bool  # the policy text carries `approved_by` (written by `promote`), or its registry version is approved
    sample: str | None = None  # how the reviewer sampled the eval set, when it did not judge every item
    drift: str | None = None  # the run's drift-canary warning for this reviewer (run directories only)
    forecast: ImpactResult | None = None  # the newest `impact` forecast of this run and reviewer
    aliases: AliasHistory | None = None  # the version's alias history in the prompt registry, when one was read


@dataclasses.dataclass(frozen=True)
class Grading:
    policy_id: str
    version: int
    created: dt.datetime
    graded: int
    certified: list[str]
    source: str


@dataclasses.dataclass
class Sources:
    observations: list[Observation] = dataclasses.field(default_factory=list)
    gradings: list[Grading] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)


def parse_time(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def grading_of(data: Proficiency, source: str) -> Grading:
    """A proficiency grading (proficiency.json) as one point of the portfolio's training coverage."""
    return Grading(policy_id=data.quiz.policy_id, version=data.quiz.policy_version, created=parse_time(data.created_at),
                   graded=len(data.reviewers), source=source,
                   certified=sorted(g.reviewer for g in data.reviewers if g.certification.status == "certified"))
