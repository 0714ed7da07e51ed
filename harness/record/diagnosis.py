"""`diagnosis.json`: a run's errors as failure clusters, per reviewer and policy version
(`policy-harness diagnose`; the run's report shows the same clusters from `record.json`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from harness.record.usage import Usage

ErrorKind = Literal["over_enforcement", "leakage"]
Grouping = Literal["rule", "slice", "text"]
DIAGNOSIS = "diagnosis.json"
DIAGNOSIS_SCHEMA_VERSION = 1  # diagnosis.json's own: bumped on a change its readers would notice


class AuthorUsage(Usage):
    """The author model's calls, counted like a reviewer's, plus the calls a spent budget skipped."""

    skipped_for_budget: int = 0


class OverRepresented(BaseModel):
    """A slice value ("functionality=counter_quote") or rule id more common in a cluster than in
    all decided items of the error kind's gold group."""

    kind: Literal["slice", "rule"]
    value: str
    in_cluster: int
    cluster_share: float
    reference_share: float
    lift: float
    p_value: float


class Cluster(BaseModel):
    by: Grouping
    key: str
    size: int
    share: float  # of this error kind's errors for the reviewer x policy
    rate: float | None = None  # slice clusters: errors / decided items of the gold group in that slice
    top_terms: list[str] = []
    over_represented: list[OverRepresented] = []
    exemplars: list[str] = []
    description: str | None = None  # the author model's one sentence, when an author is configured
    description_error: str | None = None  # why a cluster asked for a description has none


class ErrorKindDiagnosis(BaseModel):
    kind: ErrorKind
    errors: int
    decided: int  # the rate's denominator: decided benign (over-enforcement) or violating (leakage) items
    by_rule: list[Cluster]
    by_slice: list[Cluster]
    by_text: list[Cluster]


class ReviewerDiagnosis(BaseModel):
    reviewer: str
    policy: str
    kinds: list[ErrorKindDiagnosis]


class Diagnosis(BaseModel):
    schema_version: int = DIAGNOSIS_SCHEMA_VERSION  # absent from files written before it was versioned
    run: str
    run_dir: str
    candidate: str
    baseline: str | None
    slices: list[str]
    groups: list[ReviewerDiagnosis]
    author_model: str | None = None  # set when clusters were described
    author_usage: AuthorUsage | None = None
