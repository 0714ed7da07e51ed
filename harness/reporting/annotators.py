"""The annotators of an annotated eval set as metrics.json records them: judgements per item, how gold
was decided, Krippendorff's alpha, and each annotator against the majority of the others."""

from __future__ import annotations

from dataclasses import dataclass

from harness.record.metrics import Annotators, Metrics
from harness.reporting.fmt import RateCell, number, rate_cell, short

# Krippendorff (2004), Content Analysis, 2nd ed., p. 241: rely on alpha >= 0.800; draw only tentative
# conclusions from 0.667 to 0.800 (docs/statistics.md).
RELIABLE, TENTATIVE = 0.800, 0.667
# Crowd-sourced sets have hundreds of annotators: the most prolific are shown, the rest stay in metrics.json.
ROWS_SHOWN = 50
GOLD_RULES = {"majority": "the majority of the annotators of each item",
              "any": "violating when any annotator said violating",
              "all": "violating only when every annotator said violating"}
ALPHA_GUIDE = ("Alpha is 1 when annotators always agree and 0 when they agree no more than chance would (below 0: "
               "they disagree systematically). Krippendorff's convention: rely on labels with alpha of at least "
               "0.800, and draw only tentative conclusions from 0.667 to 0.800.")
GRADING = ("Each annotator is compared with the majority of the other annotators of the same item, never with a "
           "gold label they helped make. Over-enforcement: of the items the others call benign, the share this "
           "annotator called violating. Leakage: of the items the others call violating, the share this annotator "
           "called benign. An item no other annotator judged (or, with ties unknown, whose others tie) is not "
           "graded.")
TIES = {"violating": "counts as violating", "benign": "counts as benign",
        "unknown": "is unknown (not graded, and left out of the rates)"}


@dataclass(frozen=True)
class AnnotatorRow:
    name: str
    items: int
    ungraded: int
    over_enforcement: RateCell
    leakage: RateCell


@dataclass(frozen=True)
class AnnotatorsView:
    count: int
    items: int
    judgements: int
    per_item_mean: str
    # how many items had how many judgements, fewest judgements first: "1 item with 1 judgement, 59 items with 3"
    per_item: str
    # how gold was decided and how a tie between violating and benign judgements was settled, as a sentence
    gold: str
    contested: int
    alpha: str
    alpha_reading: str
    alpha_violating: str
    alpha_violating_reading: str
    rows: list[AnnotatorRow]
    hidden: int
    alpha_guide: str = ALPHA_GUIDE
    grading: str = GRADING


def annotators_view(metrics: Metrics) -> AnnotatorsView | None:
    """None when the eval set carried no raw annotator judgements (or the record predates the block)."""
    block = metrics.annotators
    if block is None:
        return None
    mean = number(block.per_item.mean)
    rows = [AnnotatorRow(short(name, 40), grade.items, grade.ungraded, rate_cell(grade.over_enforcement),
                         rate_cell(grade.leakage))
            for name, grade in sorted(block.by_annotator.items(), key=lambda x: -x[1].items)[:ROWS_SHOWN]]
    return AnnotatorsView(
        count=block.count, items=block.items, judgements=block.judgements,
        per_item_mean="no data" if mean is None else f"{mean:.2f}", per_item=_per_item(block),
        gold=_gold(block), contested=block.contested,
        alpha=alpha_text(block.alpha), alpha_reading=alpha_reading(block.alpha),
        alpha_violating=alpha_text(block.alpha_violating),
        alpha_violating_reading=alpha_reading(block.alpha_violating),
        rows=rows, hidden=max(0, len(block.by_annotator) - ROWS_SHOWN))


def _gold(block: Annotators) -> str:
    rule = GOLD_RULES.get(block.gold_rule, short(block.gold_rule, 40))
    where = ("in gold and in the comparison with the others" if block.gold_rule == "majority"
             else "in the comparison with the others")
    return f"Gold is {rule}; a tie {TIES.get(block.tie, short(block.tie, 40))} ({where})."


def _per_item(block: Annotators) -> str:
    counts = sorted((int(n), k) for n, k in block.per_item.counts.items() if n.isdigit() and k)
    parts = [f"{k:,} {_plural(k, 'item')} with {n}" for n, k in counts]
    if counts:  # the unit once, on the first: "1 item with 1 judgement, 59 items with 3"
        parts[0] += f" {_plural(counts[0][0], 'judgement')}"
    return ", ".join(parts)


def _plural(count: int, noun: str) -> str:
    return noun if count == 1 else f"{noun}s"


def alpha_text(value: float | None) -> str:
    value = number(value)
    return "undefined" if value is None else f"{value:.3f}"


def alpha_reading(value: float | None) -> str:
    value = number(value)
    if value is None:
        return "one label throughout, or no item judged twice"
    if value >= RELIABLE:
        return "reliable (at least 0.800)"
    if value >= TENTATIVE:
        return "tentative (0.667 to 0.800)"
    return "below 0.667: the labels are not reliable"
