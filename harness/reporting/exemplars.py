"""Error exemplars: the most instructive false positives and false negatives of each reviewer."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import zip_longest

import pandas as pd

from harness.labels import BENIGN
from harness.reporting.fmt import Clipped, clip, number, short
from harness.verdicts import ACTIONED, ALLOWED, as_list

TOTAL_LIMIT = 40
PER_VALUE = 3
FALSE_POSITIVE, FALSE_NEGATIVE = "false positive", "false negative"


@dataclass(frozen=True)
class Exemplar:
    item_id: str
    text: Clipped
    gold: str
    decision: str
    score: str
    rationale: Clipped
    rules: list[tuple[str, str]]
    slices: list[tuple[str, str]]
    contested: bool
    reasoning: Clipped = Clipped("", "")  # a reasoning model's reasoning before its answer


@dataclass(frozen=True)
class ExemplarGroup:
    reviewer: str
    kind: str
    title: str
    items: list[Exemplar]
    total: int


def exemplar_groups(per_item: pd.DataFrame, reviewers: list[str], slices: list[str],
                    rules: dict[str, str]) -> list[ExemplarGroup]:
    """`per_item`: one candidate-policy row per item x reviewer (majority over samples)."""
    if per_item.empty or not reviewers:
        return []
    budget = max(2, TOTAL_LIMIT // (2 * len(reviewers)))
    groups = []
    for reviewer in reviewers:
        frame = per_item[per_item["reviewer"] == reviewer]
        benign = frame["gold"] == BENIGN
        for kind, mask, title in (
            (FALSE_POSITIVE, benign & (frame["decision"] == ACTIONED), "benign items actioned"),
            (FALSE_NEGATIVE, ~benign & (frame["decision"] == ALLOWED), "violating items allowed"),
        ):
            errors = frame[mask]
            chosen = _pick(errors, kind, slices, budget)
            groups.append(ExemplarGroup(reviewer, kind, f"{reviewer}: {kind}s ({title})",
                                        [exemplar(row, slices, rules) for _, row in chosen.iterrows()], len(errors)))
    return groups


def _pick(errors: pd.DataFrame, kind: str, slices: list[str], budget: int) -> pd.DataFrame:
    """The most confident mistakes first (they teach most), spread over the values of the first slice."""
    if errors.empty:
        return errors
    score, confidence = _numeric(errors, "score"), _numeric(errors, "confidence")
    wrongness = (score if kind == FALSE_POSITIVE else 1 - score).fillna(confidence).fillna(0.0)
    ranked = errors.assign(_wrong=wrongness.to_numpy()).sort_values(["_wrong", "item_id"], ascending=[False, True])
    if not slices:
        return ranked.head(budget)
    groups = [g.head(PER_VALUE) for _, g in ranked.groupby(slices[0], sort=True, dropna=False)]
    # Round-robin over slice values so one large slice does not crowd out the rest; leftover
    # budget goes to the next most confident mistakes, whatever their slice.
    order = [row for batch in zip_longest(*(list(g.index) for g in groups)) for row in batch if row is not None]
    order = order[:budget]
    order += [row for row in ranked.index if row not in set(order)][: budget - len(order)]
    return ranked.loc[order]


def _numeric(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame:
        return pd.Series(float("nan"), index=frame.index)
    return pd.to_numeric(frame[column], errors="coerce")


def exemplar(row: pd.Series, slices: list[str], rules: dict[str, str]) -> Exemplar:
    cited = as_list(row.get("rule_ids"))
    score = number(row.get("score"))
    return Exemplar(
        item_id=short(row.get("item_id"), 60), text=clip(row.get("text")), gold=short(row.get("gold"), 40),
        decision=str(row.get("decision")), score="" if score is None else f"{score:.2f}",
        rationale=clip(row.get("rationale")),
        rules=[(short(r, 40), rules.get(r, "(not a rule of the candidate policy)")) for r in cited],
        slices=[(short(c, 40), short(row.get(c), 60)) for c in slices if c in row.index],
        contested=bool(row.get("contested")) if pd.notna(row.get("contested")) else False,
        reasoning=clip(row.get("reasoning")),
    )
