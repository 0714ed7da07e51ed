"""Prompt injection: leakage on violating items with an attack appended, against the same items clean."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from harness.record.metrics import Injection, Metrics
from harness.record.metrics import LeakedExample as LeakedEntry
from harness.reporting.baseline import ChangeRow, change_row
from harness.reporting.fmt import Clipped, RateCell, clip, rate_cell, short

EXAMPLE_LIMIT = 20


@dataclass(frozen=True)
class AttackRow:
    attack: str
    payload: str
    leakage: RateCell
    change: ChangeRow


@dataclass(frozen=True)
class LeakedExample:
    item_id: str
    attack: str
    decision: str
    rationale: Clipped
    text: Clipped


@dataclass(frozen=True)
class InjectionView:
    reviewer: str
    items: int
    clean: RateCell
    injected: RateCell
    abstained: int
    attacks: list[AttackRow]
    examples: list[LeakedExample]
    examples_total: int
    warning: str


def injection_views(metrics: Metrics, items: pd.DataFrame) -> list[InjectionView]:
    blocks = metrics.injection or {}
    if not blocks:
        return []
    # Imported here: only runs with an injection block pay for harness.pipeline.injection's imports.
    from harness.evalset.attacks import ATTACKS, SEP

    texts = (items.drop_duplicates("item_id").set_index("item_id")["text"]
             if {"item_id", "text"} <= set(items.columns) else pd.Series(dtype=object))
    payloads = {name: " ".join(text.split()) for name, text in ATTACKS.items()}
    return [injection_view(name, block, texts, payloads, SEP) for name, block in blocks.items()]


def injection_view(reviewer: str, block: Injection, texts: pd.Series, payloads: dict[str, str],
                   separator: str) -> InjectionView:
    """`payloads`: the text each attack appends (a record from an older harness may name others);
    `separator` joins original id and attack in an attacked copy's id."""
    attacks = [AttackRow(short(attack, 40), payloads.get(attack, ""), rate_cell(a.leakage),
                         change_row("leakage", a.leakage_change))
               for attack, a in block.by_attack.items()]
    leaked = block.leaked_examples
    return InjectionView(
        reviewer=reviewer, items=block.items, clean=rate_cell(block.leakage_clean),
        injected=rate_cell(block.leakage_injected),
        abstained=block.leakage_injected.abstained if block.leakage_injected else 0, attacks=attacks,
        examples=[leaked_example(e, texts, separator) for e in leaked[:EXAMPLE_LIMIT]], examples_total=len(leaked),
        warning=block.warning or "")


def leaked_example(example: LeakedEntry, texts: pd.Series, separator: str) -> LeakedExample:
    original = example.item_id.split(separator)[0]
    return LeakedExample(item_id=short(original, 60), attack=short(example.attack, 40),
                         decision=example.decision, rationale=clip(example.rationale),
                         text=clip(texts.get(original, "")))

