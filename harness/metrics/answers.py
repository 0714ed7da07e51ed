"""Parse rate: of the answers a reviewer returned, how many parsed as a verdict; abstentions by kind.

Counted over every judgement (each sample), so two hostings of the same model compare on it."""

from __future__ import annotations

import pandas as pd

from harness.metrics.counts import multiplicity, tally
from harness.metrics.rates import wilson
from harness.record.metrics import Answers
from harness.verdicts import ABSTAINED, AbstainKind


def answer_breakdown(verdicts: pd.DataFrame) -> Answers:
    """`verdicts`: one reviewer's rows under one policy (all samples), with decision and abstain_kind.
    `abstentions` counts them by AbstainKind code."""
    abstained = verdicts["decision"].to_numpy() == ABSTAINED
    # A verdict table built by hand (imported decisions, tests) may carry no kinds at all: no answer.
    raw = verdicts["abstain_kind"] if "abstain_kind" in verdicts else pd.Series("", index=verdicts.index)
    kinds = raw.fillna("").astype(str).replace("", AbstainKind.PROVIDER_ERROR.value).to_numpy()[abstained]
    count = multiplicity(verdicts)
    by_kind = {str(kind): int(n) for kind, n in
               pd.Series(count[abstained]).groupby(pd.Series(kinds, dtype=object)).sum().items()}
    parsed = tally(~abstained, count)
    answered = {k.value for k in AbstainKind if k.answered}
    returned = parsed + sum(n for kind, n in by_kind.items() if kind in answered)
    return Answers(judgements=int(count.sum()), returned=returned, parsed=parsed, parse_rate=wilson(parsed, returned),
                   abstentions=by_kind)
