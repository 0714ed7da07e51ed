"""Rationale consistency: LLM verdicts whose cited ids or rationale contradict the verdict or the policy.

A right label with a confused reason (a violation that cites only an exception) is evidence of a
reviewer that does not follow the policy; counted here per reviewer, with Wilson intervals, and
bounded by the `rationale_inconsistency` gate (docs/stability.md)."""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

from harness.config import GateSpec
from harness.metrics.gates import RATIONALE_GATE, gate_status
from harness.metrics.rates import wilson
from harness.policy.structure import PolicyStructure
from harness.record.metrics import GateResult, RationaleCheck, RationaleConsistency
from harness.verdicts import ACTIONED, ALLOWED

LISTED_ITEMS = 20  # item ids kept per check: enough to open a few, not a second verdict table
CHECKS: dict[str, str] = {
    "unknown_ids": "cites a rule or category id the policy does not have",
    "violation_cites_only_exceptions": "answers violation but cites only exceptions",
    "allow_cites_only_rules": "answers allow but cites only violating rules",
    "category_contradicts_rules": "names categories that none of its cited violating rules belongs to",
    "empty_rationale": "gives no rationale although the prompt asks for one",
}
# llm_verdict drops ids the policy does not define from the verdict and names them in its notes.
_UNDEFINED = re.compile(r"undefined (?:rule ids|categories) cited: ([^;]+)")


def rationale_consistency(own: pd.DataFrame, structure: PolicyStructure) -> RationaleConsistency:
    """The checks over every decided judgement (each sample) of one LLM reviewer under one policy."""
    found: dict[str, list[str]] = {name: [] for name in CHECKS}
    inconsistent = judgements = 0
    for item_id, decision, categories, rule_ids, rationale, notes in _rows(own):
        if decision not in (ACTIONED.value, ALLOWED.value):
            continue
        judgements += 1
        failed = _failed_checks(decision == ACTIONED.value, categories, rule_ids, rationale, notes, structure)
        inconsistent += bool(failed)
        for name in failed:
            found[name].append(item_id)
    return RationaleConsistency(
        judgements=judgements, inconsistent=wilson(inconsistent, judgements),
        checks={name: RationaleCheck(description=CHECKS[name], rate=wilson(len(ids), judgements),
                                     item_ids=list(dict.fromkeys(ids))[:LISTED_ITEMS])
                for name, ids in found.items()})


def _failed_checks(actioned: bool, categories: list[str], rule_ids: list[str], rationale: str, notes: str,
                   structure: PolicyStructure) -> list[str]:
    failed: list[str] = []
    unknown = [i for i in rule_ids if i not in structure.ids] + [c for c in categories if c not in structure.categories]
    if unknown or _UNDEFINED.search(notes):
        failed.append("unknown_ids")
    known = [i for i in rule_ids if i in structure.ids]
    violating = [i for i in known if i in structure.rules]
    if actioned and known and not violating:
        failed.append("violation_cites_only_exceptions")
    if not actioned and known and len(violating) == len(known):
        failed.append("allow_cites_only_rules")
    if actioned and categories and violating:
        of_rules = set().union(*(structure.category_of.get(i, frozenset()) for i in violating))
        if of_rules and not of_rules & set(categories):
            failed.append("category_contradicts_rules")
    if not rationale.strip():
        failed.append("empty_rationale")
    return failed


def _rows(frame: pd.DataFrame) -> Iterable[tuple[str, str, list[str], list[str], str, str]]:
    n = len(frame)
    columns = [frame[c].tolist() if c in frame else [None] * n
               for c in ("item_id", "decision", "categories", "rule_ids", "rationale", "notes")]
    for item_id, decision, categories, rule_ids, rationale, notes in zip(*columns, strict=True):
        yield (str(item_id), str(decision), _ids(categories), _ids(rule_ids),
               rationale if isinstance(rationale, str) else "", notes if isinstance(notes, str) else "")


def _ids(value: object) -> list[str]:
    if isinstance(value, Iterable) and not isinstance(value, str):  # a list, or a numpy array from Parquet
        return [str(v) for v in value]
    return []


def rationale_gates(gates: dict[str, GateSpec], block: RationaleConsistency | None) -> list[GateResult]:
    """The `rationale_inconsistency` gates, on the reviewer's overall rate; none for a reviewer
    without the block (a classifier gives no rationale to check)."""
    if block is None:
        return []
    return [GateResult(gate=key, metric=RATIONALE_GATE, scope="overall", max=gate.max, min=gate.min,
                       value=block.inconsistent, status=gate_status(gate, block.inconsistent))
            for key, gate in gates.items() if key.split("@", 1)[0] == RATIONALE_GATE]
