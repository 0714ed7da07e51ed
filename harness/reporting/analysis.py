"""Confusion counts as the report shows them (the metrics stage counted them: `metrics.errors`)."""

from __future__ import annotations

from dataclasses import dataclass

from harness.record.errors import CandidateErrors
from harness.verdicts import DECISIONS


@dataclass(frozen=True)
class Confusion:
    reviewer: str
    # rows: gold benign, gold violating; columns: actioned, allowed, abstained
    counts: list[list[int]]


def confusions(errors: CandidateErrors, reviewers: list[str]) -> list[Confusion]:
    out = []
    for reviewer in reviewers:
        found = errors.reviewers.get(reviewer)
        rows = (found.confusion.benign, found.confusion.violating) if found else ()
        counts = [[int(getattr(row, d)) for d in DECISIONS] for row in rows] or [[0] * len(DECISIONS)] * 2
        out.append(Confusion(reviewer, counts))
    return out
