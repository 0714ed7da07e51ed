"""Typed model of metrics.json's `errors` block: the candidate's mistakes item by item, so the
report renders them without computing."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from harness.record.diagnosis import Diagnosis
from harness.record.usage import Model


class DecisionCounts(Model):
    actioned: int
    allowed: int
    abstained: int


class Confusion(Model):
    """Decisions against gold of one reviewer (items of unknown gold left out)."""

    benign: DecisionCounts
    violating: DecisionCounts


class ErrorExemplar(Model):
    """One candidate-policy mistake, as the report shows it (the majority over samples)."""

    item_id: str
    text: str | None = None
    gold: str
    decision: str
    score: float | None = None
    rationale: str | None = None
    reasoning: str | None = None  # a reasoning model's reasoning before its answer
    rule_ids: list[str] = []
    slices: dict[str, str] = Field(default_factory=dict)  # slice column -> value, in the eval set's order
    contested: bool = False


class ExemplarSet(Model):
    kind: Literal["false positive", "false negative"]
    total: int  # all mistakes of this kind; `items` holds the most instructive of them
    items: list[ErrorExemplar]


class ReviewerErrors(Model):
    confusion: Confusion
    exemplars: list[ExemplarSet]


class CandidateErrors(Model):
    """The candidate's mistakes item by item, counted once when the run is scored so the report
    only renders: confusion counts, exemplars and failure clusters (None when the run is too large
    to cluster in the metrics stage; `policy-harness diagnose` clusters any run)."""

    reviewers: dict[str, ReviewerErrors]
    diagnosis: Diagnosis | None = None
