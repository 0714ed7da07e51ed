"""The assessments of one item's trace: gold as an expectation, the verdict and the error it made as feedback.

`over_enforcement` sits only on benign items and `leakage` only on violating ones, each true when the
item was over-enforced or leaked and stamped with the reviewer's run, so the mean MLflow takes over a
run's feedback of that name is our rate: actioned benign / benign decided, allowed violating /
violating decided. An abstention's feedback carries an error instead of a value, which MLflow leaves
out of its means as we leave it out of the denominators. Items of unknown gold get neither.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.labels import BENIGN, UNKNOWN
from harness.verdicts import ABSTAINED, ACTIONED, ALLOWED

if TYPE_CHECKING:
    from mlflow.entities import Assessment

GOLD = "gold"
VERDICT = "verdict"
OVER_ENFORCEMENT = "over_enforcement"
LEAKAGE = "leakage"
EVAL_SET_SOURCE_PREFIX = "eval_set:"
SOURCE_RUN_ID = "mlflow.assessment.sourceRunId"


@dataclass(frozen=True)
class Provenance:
    """Who said what: the eval set (gold) and the reviewer under one policy version (verdict)."""

    eval_set: str
    eval_set_version: str  # the eval set's sha256: its content is its version
    reviewer: str
    reviewer_type: str
    policy_id: str
    policy_version: str
    model: str = ""  # an LLM reviewer's model: its provider call's child span names it

    @property
    def gold_source_id(self) -> str:
        """The source id of gold expectations; a human expectation with any other source is a correction."""
        return f"{EVAL_SET_SOURCE_PREFIX}{self.eval_set}@{self.eval_set_version[:12]}"

    @property
    def judge_source_id(self) -> str:
        return f"{self.reviewer}@{self.policy_id}-v{self.policy_version}"


def item_assessments(trace_id: str, row: dict[str, Any], provenance: Provenance, run_id: str) -> list[Assessment]:
    """Gold, verdict and the class-conditional error feedback of one judged item."""
    from mlflow.entities import AssessmentError, AssessmentSource, AssessmentSourceType, Expectation, Feedback

    decision, gold = str(row["decision"]), row.get("gold")
    gold_text = None if gold is None or gold != gold else str(gold)  # NaN != NaN: no gold
    judge = AssessmentSource(
        source_type=AssessmentSourceType.CODE if provenance.reviewer_type == "classifier"
        else AssessmentSourceType.LLM_JUDGE, source_id=provenance.judge_source_id)
    meta = {"reviewer": provenance.reviewer, "policy_id": provenance.policy_id,
            "policy_version": provenance.policy_version}
    error = None
    if decision == ABSTAINED.value:
        error = AssessmentError(error_code=str(row.get("abstain_kind") or "abstained"),
                                error_message=str(row.get("abstain_reason") or "abstained")[:1000])
    out: list[Assessment] = []
    if gold_text is not None:
        out.append(Expectation(name=GOLD, value=gold_text, trace_id=trace_id, metadata={
            "eval_set": provenance.eval_set, "eval_set_version": provenance.eval_set_version},
            source=AssessmentSource(source_type=AssessmentSourceType.HUMAN, source_id=provenance.gold_source_id)))
    out.append(Feedback(name=VERDICT, value=None if error else decision, error=error, source=judge,
                        trace_id=trace_id, metadata=meta, rationale=str(row.get("rationale") or "") or None))
    if gold_text is not None and gold_text != UNKNOWN:
        name = OVER_ENFORCEMENT if gold_text == BENIGN else LEAKAGE
        wrong = ACTIONED.value if gold_text == BENIGN else ALLOWED.value
        out.append(Feedback(name=name, value=None if error else decision == wrong, error=error, source=judge,
                            trace_id=trace_id, metadata=meta))
    for assessment in out:  # MLflow reads an assessment's run from this metadata key (AssessmentMetadataKey)
        assessment.metadata = {**(assessment.metadata or {}), SOURCE_RUN_ID: run_id}
        assessment.run_id = run_id
        # Fixed per trace and name: the store merges assessments by id, so a writer that starts a chunk over
        # (stopped mid-way, `sync`) replaces them instead of adding a second gold or verdict.
        assessment.assessment_id = assessment_id(trace_id, assessment.name)
    return out


def assessment_id(trace_id: str, name: str) -> str:
    """The id of the `name` assessment the writer puts on a trace: `a-` and 32 hex digits, as MLflow's own."""
    return "a-" + hashlib.sha256(f"{trace_id}\0{name}".encode()).hexdigest()[:32]
