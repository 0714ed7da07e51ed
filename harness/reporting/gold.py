"""Gold-label quality: rates without contested items, unknown gold, and items to send for relabelling."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from harness.record.metrics import Agreement, Metrics, RelabelCandidates
from harness.record.metrics import RelabelItem as RelabelEntry
from harness.reporting.fmt import Clipped, RateCell, clip, counted, number, rate_cell, short

RELABEL_SHOWN = 20
HEADLINE = (("over_enforcement", "over-enforcement"), ("leakage", "leakage"),
            ("false_action_share", "false-action share"))


@dataclass(frozen=True)
class ContestedRow:
    metric: str
    all_items: RateCell
    uncontested: RateCell


@dataclass(frozen=True)
class ContestedView:
    reviewer: str
    excluded: int
    rows: list[ContestedRow]


@dataclass(frozen=True)
class RelabelItem:
    item_id: str
    gold: str
    contested: bool
    decisions: list[tuple[str, str]]
    score: str
    text: Clipped
    slices: list[tuple[str, str]]


@dataclass(frozen=True)
class RelabelView:
    total: int
    reviewers: list[str]
    items: list[RelabelItem]
    # With one reviewer the list is that reviewer's errors, not a consensus against gold.
    consensus: bool
    # Items every deciding reviewer got wrong while another abstained (agreement.all_wrong beyond this list).
    with_abstentions: int
    # ... while another never judged them (it judged a sample); None for a record that did not tell the two
    # apart, whose `with_abstentions` then counts both.
    with_unjudged: int | None = None

    @property
    def partial_notes(self) -> list[str]:
        """The items beyond this list that every reviewer who decided got wrong, by why another did not decide."""
        if self.with_unjudged is None:
            return ([f"Every reviewer that decided got {counted(self.with_abstentions, 'more item')} wrong, while "
                     "another abstained or never judged them (outside its sample)."] if self.with_abstentions else [])
        out = []
        if self.with_abstentions:
            out.append(f"Every reviewer that decided got {counted(self.with_abstentions, 'more item')} wrong, "
                       "while another abstained.")
        if self.with_unjudged:
            out.append(f"Every reviewer that judged them got {counted(self.with_unjudged, 'more item')} wrong, but "
                       "another reviewer never judged them (outside its sample): no consensus against gold.")
        return out


@dataclass(frozen=True)
class GoldView:
    contested_items: int
    contested: list[ContestedView]
    unknown: list[tuple[str, int, int]]
    relabel: RelabelView | None

    @property
    def empty(self) -> bool:
        return not (self.contested_items or self.contested or self.unknown or self.relabel)


def gold_view(metrics: Metrics, candidate: str, items: pd.DataFrame, slices: list[str]) -> GoldView:
    reviewers = metrics.reviewers
    contested = [ContestedView(name, kept.excluded,
                               [ContestedRow(label, rate_cell(m.rate(key)), rate_cell(kept.rate(key)))
                                for key, label in HEADLINE])
                 for name, m in reviewers.items() if (kept := m.without_contested)]
    unknown = [(name, m.unknown, m.items) for name, m in reviewers.items() if m.unknown]
    flagged = int(items["contested"].fillna(False).astype(bool).sum()) if "contested" in items else 0
    block = metrics.agreement.get(candidate)
    return GoldView(flagged, contested, unknown,
                    relabel_view(metrics.relabel_candidates, block, items, slices))


def relabel_view(relabel: RelabelCandidates, block: Agreement | None, items: pd.DataFrame,
                 slices: list[str]) -> RelabelView | None:
    if not relabel.total:
        return None
    reviewers = list(relabel.reviewers)
    indexed = items.drop_duplicates("item_id").set_index("item_id") if "item_id" in items else pd.DataFrame()
    shown = [relabel_item(entry, indexed, slices) for entry in relabel.items[:RELABEL_SHOWN]]
    total = relabel.total
    if block is not None and block.all_wrong_abstained is not None and block.all_wrong_unjudged is not None:
        abstained, unjudged = block.all_wrong_abstained, block.all_wrong_unjudged
    else:
        abstained, unjudged = max(0, (block.all_wrong.count if block else 0) - total), None
    return RelabelView(total=total, reviewers=reviewers, items=shown, consensus=len(reviewers) > 1,
                       with_abstentions=abstained, with_unjudged=unjudged)


def relabel_item(entry: RelabelEntry, items: pd.DataFrame, slices: list[str]) -> RelabelItem:
    item_id = entry.item_id
    row = items.loc[item_id] if item_id in items.index else pd.Series(dtype=object)
    score = number(entry.mean_score)
    return RelabelItem(
        item_id=short(item_id, 60), gold=short(entry.gold, 40), contested=entry.contested,
        decisions=[(short(r, 40), str(d)) for r, d in entry.decisions.items()],
        score="" if score is None else f"{score:.2f}", text=clip(row.get("text")),
        slices=[(short(c, 40), short(row.get(c), 60)) for c in slices if c in row.index])
