"""Confusion counts from verdicts (metrics.json holds rates, not the full decision x gold table)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from harness.labels import BENIGN
from harness.metrics.counts import multiplicity, tally
from harness.verdicts import DECISIONS


@dataclass(frozen=True)
class Confusion:
    reviewer: str
    # rows: gold benign, gold violating; columns: actioned, allowed, abstained
    counts: list[list[int]]


def confusions(per_item: pd.DataFrame, reviewers: list[str]) -> list[Confusion]:
    out = []
    for reviewer in reviewers:
        frame = per_item[per_item["reviewer"] == reviewer]
        benign = (frame["gold"] == BENIGN).to_numpy()
        decision = frame["decision"].to_numpy()
        count = multiplicity(frame)  # a collapsed prediction log's rows stand for several items
        counts = [[tally((decision == d) & row, count) for d in DECISIONS] for row in (benign, ~benign)]
        out.append(Confusion(reviewer, counts))
    return out
