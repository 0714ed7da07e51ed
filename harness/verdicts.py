"""Verdicts: one row per item x reviewer x policy version (x sample)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

ACTIONED, ALLOWED, ABSTAINED = "actioned", "allowed", "abstained"
DECISIONS = (ACTIONED, ALLOWED, ABSTAINED)

VERDICT_COLUMNS = [
    "policy", "reviewer", "item_id", "sample", "decision", "categories", "rule_ids",
    "score", "confidence", "rationale", "abstain_reason", "notes", "reasoning",
]


@dataclass
class Verdict:
    item_id: str
    decision: str
    categories: list[str] = field(default_factory=list)
    rule_ids: list[str] = field(default_factory=list)
    score: float | None = None
    confidence: float | None = None
    rationale: str = ""
    abstain_reason: str = ""
    notes: str = ""
    sample: int = 0
    reasoning: str = ""  # a reasoning model's reasoning before its answer, clipped (llm_verdict.REASONING_MAX_CHARS)

    @classmethod
    def abstain(cls, item_id: str, reason: str, sample: int = 0, reasoning: str = "") -> "Verdict":
        return cls(item_id=item_id, decision=ABSTAINED, abstain_reason=reason, sample=sample, reasoning=reasoning)


def verdict_table(verdicts: list[Verdict], *, policy: str, reviewer: str) -> pd.DataFrame:
    """Verdicts as the canonical table; list fields are ';'-joined so the table stays flat."""
    rows = [
        {
            "policy": policy,
            "reviewer": reviewer,
            "item_id": v.item_id,
            "sample": v.sample,
            "decision": v.decision,
            "categories": ";".join(v.categories),
            "rule_ids": ";".join(v.rule_ids),
            "score": v.score,
            "confidence": v.confidence,
            "rationale": _storable(v.rationale),
            "abstain_reason": _storable(v.abstain_reason),
            "notes": _storable(v.notes),
            "reasoning": _storable(v.reasoning),
        }
        for v in verdicts
    ]
    table = pd.DataFrame(rows, columns=VERDICT_COLUMNS)
    return table.astype({"score": float, "confidence": float, "sample": int})


def _storable(text: str) -> str:
    """Model text can hold lone surrogates (from JSON escapes such as \\ud800), which Parquet refuses."""
    return text.encode("utf-8", "replace").decode("utf-8")


# How an LLM answer that came back failed to become a verdict, by the reason's opening words (the
# parser in reviewers/llm_verdict.py writes them); any other abstention is an answer that never came.
ABSTENTION_KINDS = (("answer cut off", "cut off at the token limit"), ("empty answer", "empty answer"),
                    ("refusal", "refusal"), ("unparseable answer", "unparseable answer"),
                    ("answer has no true/false", "no verdict in the answer"))
NO_ANSWER = "no answer (provider error, timeout or budget)"


def abstention_kind(reason: str) -> str:
    """The kind of one abstention: a returned answer that did not parse, or no answer at all."""
    return next((kind for prefix, kind in ABSTENTION_KINDS if reason.startswith(prefix)), NO_ANSWER)


def split_list(value: str) -> list[str]:
    return [part for part in str(value).split(";") if part] if value else []
