"""Rationale consistency: LLM verdicts whose cited ids or rationale contradict the verdict or the policy."""

from __future__ import annotations

from dataclasses import dataclass

from harness.record.metrics import GateResult, ReviewerMetrics
from harness.reporting.fmt import RateCell, rate_cell, short


@dataclass(frozen=True)
class RationaleCheckRow:
    check: str
    description: str
    rate: RateCell
    item_ids: list[str]


@dataclass(frozen=True)
class RationaleView:
    reviewer: str
    judgements: int
    inconsistent: RateCell
    checks: list[RationaleCheckRow]
    gates: list[GateResult]


def rationale_views(reviewers: dict[str, ReviewerMetrics]) -> list[RationaleView]:
    """One view per reviewer whose rationales were checked (the LLM reviewers)."""
    out = []
    for name, m in reviewers.items():
        block = m.rationale
        if block is None:
            continue
        out.append(RationaleView(
            reviewer=short(name, 80), judgements=block.judgements, inconsistent=rate_cell(block.inconsistent),
            checks=[RationaleCheckRow(check=check, description=c.description, rate=rate_cell(c.rate),
                                      item_ids=[short(i, 40) for i in c.item_ids])
                    for check, c in block.checks.items()],
            gates=[g for g in m.gates if g.metric == "rationale_inconsistency"]))
    return out
