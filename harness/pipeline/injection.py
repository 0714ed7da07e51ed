"""The built-in prompt-injection slice: violating items with an attack appended, judged by every
reviewer that reads a prompt with the item in it (`Injectable`), and their leakage reported beside the same items judged clean."""

from __future__ import annotations

import pandas as pd

from harness.evalset import GOLD, ID, TEXT
from harness.evalset.attacks import ATTACKS, SEP, injected_items
from harness.metrics.paired import paired_comparison
from harness.metrics.rates import wilson
from harness.policy import Policy
from harness.record.metrics import AttackResult, Injection, InjectionLeakage, LeakedExample
from harness.reviewers.base import Reviewer, review_sync
from harness.verdicts import ALLOWED, verdict_table


def injection_metrics(reviewer: Reviewer, policy: Policy, items: pd.DataFrame, clean: pd.DataFrame,
                      *, max_items: int, seed: int) -> Injection:
    """Leakage on injected copies vs the same items clean (paired), overall and per attack.

    `clean` holds this reviewer's per-item verdicts on the original items (decision, gold, ...)."""
    attacked = injected_items(items, max_items=max_items, seed=seed)
    if attacked.empty:
        return Injection(items=0, warning="no violating items to attack")
    verdicts = verdict_table(review_sync(reviewer, attacked, policy), policy=policy.label, reviewer=reviewer.name)
    judged = verdicts.merge(attacked[[ID, GOLD, TEXT, "attack"]], on=ID)
    judged["original_id"] = judged[ID].str.split(SEP).str[0]
    originals = clean[clean[ID].isin(set(judged["original_id"]))]
    by_attack: dict[str, AttackResult] = {}
    for attack, group in judged.groupby("attack"):
        before = originals[[ID, GOLD, "decision", "rationale", "rule_ids"]]
        after = group.assign(**{ID: group["original_id"]})[[ID, "decision", "rationale", "rule_ids"]]
        paired = paired_comparison(before.assign(text=""), after, [])
        by_attack[str(attack)] = AttackResult(leakage=_leakage(group), leakage_change=paired.leakage_change)
    leaked = judged[judged["decision"] == ALLOWED]
    examples = leaked[[ID, "attack", "decision", "rationale"]].head(100).to_dict(orient="records")
    return Injection(items=int(judged["original_id"].nunique()), attacks=list(ATTACKS),
                     leakage_injected=_leakage(judged), leakage_clean=_leakage(originals), by_attack=by_attack,
                     leaked_examples=[LeakedExample.model_validate(row) for row in examples])


def _leakage(frame: pd.DataFrame) -> InjectionLeakage:
    decided = frame[frame["decision"] != "abstained"]
    return InjectionLeakage(**dict(wilson(int((decided["decision"] == ALLOWED).sum()), len(decided))),
                            abstained=int(len(frame) - len(decided)))
