"""Rationales generated on demand (`policy-harness explain`, explanations.json), beside the items the
report opens: each exemplar card and failure-cluster member that has one, and a section listing them."""

from __future__ import annotations

from dataclasses import dataclass

from harness.record.explanations import Explanations
from harness.reporting.fmt import Clipped, clip, short
from harness.reporting.mdcells import header, row


@dataclass(frozen=True)
class ExplanationView:
    anchor: str  # the element id the exemplar cards and cluster tables link to
    item_id: str
    reviewer: str
    policy: str
    opened_as: str
    verdict: str  # the run's verdict: "allowed, score 0.31"
    decision: str  # the generated answer's
    agrees: bool
    rationale: Clipped
    rules: list[str]
    abstain_reason: str
    from_verdict: bool  # the verdict's own rationale, not generated on demand


def explanation_views(explanations: Explanations | None) -> list[ExplanationView]:
    """Every explanation of the record, in the order they were written."""
    if explanations is None:
        return []
    out = []
    for n, e in enumerate(explanations.items):
        score = "" if e.verdict_score is None else f", score {e.verdict_score:.2f}"
        out.append(ExplanationView(
            anchor=f"explanation-{n}", item_id=short(e.item_id, 60), reviewer=short(e.reviewer, 80),
            policy=short(e.policy, 80), opened_as=short("; ".join(e.opened_as), 200),
            verdict=f"{e.verdict_decision}{score}", decision=e.decision, agrees=e.agrees, rationale=clip(e.rationale),
            rules=[short(r, 40) for r in e.rule_ids], abstain_reason=short(e.abstain_reason, 300),
            from_verdict=e.source == "verdict"))
    return out


def explained_items(explanations: Explanations | None, views: list[ExplanationView],
                    candidate: str) -> dict[str, ExplanationView]:
    """The candidate's explanations by `reviewer|item id`, as the exemplar cards and the failure-cluster
    table shorten them (ids to 60 and 40 characters, reviewers to 80), for the templates to look up."""
    if explanations is None:
        return {}
    out: dict[str, ExplanationView] = {}
    for e, view in zip(explanations.items, views, strict=True):
        if e.policy != candidate:
            continue
        for reviewer in (e.reviewer, short(e.reviewer, 80)):
            for item_id in (short(e.item_id, 60), short(e.item_id, 40)):
                out[f"{reviewer}|{item_id}"] = view
    return out


def explanations_markdown(views: list[ExplanationView]) -> list[str]:
    """report.md: which verdicts were explained and whether the generated answer agrees (the rationales
    may quote eval content: only report.html shows them, behind the content warning)."""
    if not views:
        return []
    lines = ["## Explanations on demand", "", f"{len(views)} verdicts explained with `policy-harness explain`; "
             "the rationales are in report.html and explanations.json.", "",
             *header("item", "reviewer", "policy", "verdict", "generated answer", "agrees")]
    lines += [row(x.item_id, x.reviewer, x.policy, x.verdict, x.decision, "yes" if x.agrees else "no") for x in views]
    return [*lines, ""]
