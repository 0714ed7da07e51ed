"""Typed data of a quiz and of a cohort's grades; the JSON outputs are written from these models."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

QUIZ_JSON, QUESTIONS, ANSWER_KEY = "quiz.json", "questions.csv", "answer_key.csv"
PROFICIENCY_JSON, GRADES_CSV, GRADED_CSV, REPORT_HTML = "proficiency.json", "grades.csv", "graded.csv", "report.html"

# quiz.json's and proficiency.json's own: bumped on a change their readers would notice.
PROFICIENCY_SCHEMA_VERSION = 1

Status = Literal["certified", "not certified", "needs more items"]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StratumCover(Model):
    """How many quiz items carry one gold label or one slice value, against how many were wanted."""
    column: str  # "gold" or a slice column
    value: str
    available: int
    wanted: int
    picked: int


class QuizInfo(Model):
    schema_version: int = PROFICIENCY_SCHEMA_VERSION  # absent from files written before it was versioned
    experiment: str
    experiment_path: str
    policy_id: str
    policy_version: int
    policy_sha256: str
    evalset: str
    evalset_sha256: str
    seed: int
    items: int
    min_per_slice: int
    slices: list[str]
    shown_columns: list[str]
    # Where the answer key's rule ids come from: "column:<name>", "run:<dir>" or "none".
    rule_source: str
    from_run: str | None = None
    hard_items: int = 0  # quiz items that reviewers in --from decided against gold or disagreed on
    labels: dict[str, str] = Field(default_factory=dict)  # the experiment's raw label -> category/benign map
    categories: list[str] = Field(default_factory=list)
    cover: list[StratumCover] = Field(default_factory=list)
    created_at: str


class RateCI(Model):
    rate: float | None
    ci_low: float | None
    ci_high: float | None
    k: int
    n: int


class Certification(Model):
    status: Status
    pass_mark: float
    more_items: int | None = None  # further answered items that would decide it, when undecided
    note: str = ""


class WrongItem(Model):
    item_id: str
    gold: str
    decision: str
    rule_ids: str


class Weakness(Model):
    kind: Literal["slice", "rule"]
    column: str  # slice column, or "rule_ids"
    value: str
    items: int  # paired items: answered by the reviewer and decided by the rest of the cohort's majority
    error_rate: RateCI
    cohort_error_rate: RateCI
    test: str
    p_value: float
    p_holm: float
    wrong: list[WrongItem]


class ReviewerGrade(Model):
    reviewer: str
    answered: int
    skipped: int
    skip_rate: float
    skip_flag: bool
    accuracy: RateCI
    over_enforcement: RateCI
    leakage: RateCI
    false_action_share: RateCI
    certification: Certification
    weaknesses: list[Weakness] = Field(default_factory=list)
    tests: int = 0  # weakness tests run (Holm corrects across these)


class HardItem(Model):
    item_id: str
    gold: str
    rule_ids: str
    wrong: int
    answered: int
    all_wrong: bool  # every reviewer who answered decided against gold: look at the gold label or the policy
    text: str = ""


class HeatCell(Model):
    reviewer: str
    rule_id: str
    wrong: int
    answered: int
    error_rate: float | None


class Cohort(Model):
    reviewers: int
    krippendorff_alpha: float | None
    fleiss_kappa: float | None
    fleiss_items: int  # items every reviewer answered (Fleiss' kappa needs complete rows)
    hard_items: list[HardItem]
    coverage: RateCI  # certified / graded
    rule_ids: list[str]
    heat_map: list[HeatCell]
    notes: list[str] = Field(default_factory=list)


class Proficiency(Model):
    schema_version: int = PROFICIENCY_SCHEMA_VERSION  # absent from files written before it was versioned
    quiz: QuizInfo
    answers: str
    key: str
    pass_mark: float
    max_skip: float
    created_at: str
    reviewers: list[ReviewerGrade]
    cohort: Cohort
    mlflow_run_id: str | None = None
