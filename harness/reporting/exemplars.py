"""Error exemplars: the most instructive false positives and false negatives of each reviewer, as the\nmetrics stage picked them (`metrics.errors`)."""

from __future__ import annotations

from dataclasses import dataclass

from harness.record.errors import CandidateErrors, ErrorExemplar
from harness.reporting.fmt import Clipped, clip, short

TITLES = {"false positive": "benign items actioned", "false negative": "violating items allowed"}


@dataclass(frozen=True)
class Exemplar:
    item_id: str
    text: Clipped
    gold: str
    decision: str
    score: str
    rationale: Clipped
    rules: list[tuple[str, str]]
    slices: list[tuple[str, str]]
    contested: bool
    reasoning: Clipped = Clipped("", "")  # a reasoning model's reasoning before its answer


@dataclass(frozen=True)
class ExemplarGroup:
    reviewer: str
    kind: str
    title: str
    items: list[Exemplar]
    total: int


def exemplar_groups(errors: CandidateErrors, rules: dict[str, str]) -> list[ExemplarGroup]:
    """The exemplars the metrics stage picked, per reviewer and kind, formatted for the page."""
    return [ExemplarGroup(reviewer, chosen.kind, f"{reviewer}: {chosen.kind}s ({TITLES[chosen.kind]})",
                          [exemplar(e, rules) for e in chosen.items], chosen.total)
            for reviewer, found in errors.reviewers.items() for chosen in found.exemplars]


def exemplar(e: ErrorExemplar, rules: dict[str, str]) -> Exemplar:
    return Exemplar(
        item_id=short(e.item_id, 60), text=clip(e.text), gold=short(e.gold, 40), decision=e.decision,
        score="" if e.score is None else f"{e.score:.2f}", rationale=clip(e.rationale),
        rules=[(short(r, 40), rules.get(r, "(not a rule of the candidate policy)")) for r in e.rule_ids],
        slices=[(short(c, 40), short(v, 60)) for c, v in e.slices.items()],
        contested=e.contested, reasoning=clip(e.reasoning),
    )
