"""Parse rate: of the answers a reviewer returned, how many parsed as a verdict; abstentions by kind.

Counted over every judgement (each sample), so two hostings of the same model compare on it."""

from __future__ import annotations

from typing import Any

import pandas as pd

from harness.metrics.rates import wilson
from harness.verdicts import ABSTAINED, NO_ANSWER, abstention_kind


def answer_breakdown(verdicts: pd.DataFrame) -> dict[str, Any]:
    """`verdicts`: one reviewer's rows under one policy (all samples), with decision and abstain_reason."""
    abstained = verdicts["decision"].to_numpy() == ABSTAINED
    # A verdict table built by hand (imported decisions, tests) may carry no reasons at all.
    raw = verdicts["abstain_reason"] if "abstain_reason" in verdicts else pd.Series("", index=verdicts.index)
    reasons = raw.fillna("").astype(str).to_numpy()[abstained]
    by_kind: dict[str, int] = {}
    for reason, count in pd.Series(reasons, dtype=object).value_counts().items():  # each distinct reason once
        kind = abstention_kind(str(reason))
        by_kind[kind] = by_kind.get(kind, 0) + int(count)
    parsed = int((~abstained).sum())
    returned = parsed + sum(count for kind, count in by_kind.items() if kind != NO_ANSWER)
    return {"judgements": int(len(verdicts)), "returned": returned, "parsed": parsed,
            "parse_rate": wilson(parsed, returned), "abstentions": by_kind}
