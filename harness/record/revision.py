"""`revise.json`: what `policy-harness revise` tried, judged on held-out items, and accepted."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from harness.record.diagnosis import AuthorUsage
from harness.record.metrics import PairedChange

REVISE_JSON = "revise.json"
REVISE_SCHEMA_VERSION = 1  # revise.json's own: bumped on a change its readers would notice
Target = Literal["over_enforcement", "leakage", "errors"]


class RateCheck(PairedChange):
    """One paired comparison on the held-out part: current policy (before) vs candidate (after);
    `p_adjusted` is Holm's, across the regression checks of one candidate x reviewer."""

    name: str  # "over_enforcement", "leakage", "errors", "leakage@HS", "over_enforcement@tactic=counter"
    worse: bool = False


class Flip(BaseModel):
    item_id: str
    gold: str
    before: str
    after: str
    text: str


class GateChange(BaseModel):
    gate: str
    before: str
    after: str


class ReviewerJudgement(BaseModel):
    reviewer: str
    target: RateCheck
    improved: bool
    checks: list[RateCheck]
    regressions: list[str]
    gates: list[GateChange]
    gates_broken: list[str]
    flips: list[Flip]


class CandidateResult(BaseModel):
    index: int
    file: str  # relative to the revise output directory
    sha256: str
    valid: bool
    reason: str
    version: int | None
    tokens: int | None
    lint: str
    judgements: list[ReviewerJudgement] = []
    accepted: bool = False
    why: str
    registry_uri: str | None = None


class SplitRecord(BaseModel):
    seed: int
    holdout_share: float
    strata: list[str]
    dev: list[str]
    holdout: list[str]


class CurrentRates(BaseModel):
    reviewer: str
    part: Literal["dev", "holdout"]
    over_enforcement: float | None
    leakage: float | None
    errors: float | None


class ReviseResult(BaseModel):
    schema_version: int = REVISE_SCHEMA_VERSION  # absent from files written before it was versioned
    experiment: str
    created_at: str
    out_dir: str
    policy_path: str
    policy: str  # label of the current policy (id@vN)
    policy_sha256: str
    target: Target
    author_model: str
    reviewers: list[str]
    split: SplitRecord
    current: list[CurrentRates]
    candidates: list[CandidateResult]
    author_usage: AuthorUsage
    mlflow_run_id: str | None = None

    @property
    def accepted(self) -> list[CandidateResult]:
        return [c for c in self.candidates if c.accepted]
