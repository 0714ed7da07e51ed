"""Parse rate: of the answers a reviewer returned, how many parsed as a verdict; abstentions by kind.

Counted over every judgement (each sample), so two hostings of the same model compare on it."""

from __future__ import annotations

from typing import Any

import pandas as pd

from harness.metrics.counts import multiplicity, tally
from harness.metrics.rates import wilson
from harness.verdicts import ABSTAINED, NO_ANSWER, abstention_kind


def answer_breakdown(verdicts: pd.DataFrame) -> dict[str, Any]:
    """`verdicts`: one reviewer's rows under one policy (all samples), with decision and abstain_reason."""
    abstained = verdicts["decision"].to_numpy() == ABSTAINED
    # A verdict table built by hand (imported decisions, tests) may carry no reasons at all.
    raw = verdicts["abstain_reason"] if "abstain_reason" in verdicts else pd.Series("", index=verdicts.index)
    reasons = raw.fillna("").astype(str).to_numpy()[abstained]
    count = multiplicity(verdicts)
    by_kind: dict[str, int] = {}
    # each distinct reason once
    for reason, n in pd.Series(count[abstained]).groupby(pd.Series(reasons, dtype=object)).sum().items():
        kind = abstention_kind(str(reason))
        by_kind[kind] = by_kind.get(kind, 0) + int(n)
    parsed = tally(~abstained, count)
    returned = parsed + sum(n for kind, n in by_kind.items() if kind != NO_ANSWER)
    return {"judgements": int(count.sum()), "returned": returned, "parsed": parsed,
            "parse_rate": wilson(parsed, returned), "abstentions": by_kind}
