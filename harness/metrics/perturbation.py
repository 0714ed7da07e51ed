"""Prompt sensitivity: one reviewer's rates under each policy variant against the original, paired.

Each variant is compared with the original on the same items (harness/metrics/paired.py: Newcombe
interval of the change, exact McNemar); the McNemar p-values of one reviewer's variants are
Holm-adjusted (docs/stability.md)."""

from __future__ import annotations

import pandas as pd
from statsmodels.stats.multitest import multipletests

from harness.metrics.confusion import rates
from harness.metrics.paired import paired_comparison
from harness.metrics.rates import wilson
from harness.record.metrics import Rate
from harness.record.perturb import ReviewerPerturbation, SectionEffect, Spread, VariantResult

ORIGINAL = "original"


def reviewer_perturbation(reviewer: str, original: pd.DataFrame, variants: dict[str, pd.DataFrame],
                          sections: dict[str, str]) -> ReviewerPerturbation:
    """`original` and each of `variants` (by name): one row per item with item_id, gold, decision,
    rationale, rule_ids. `sections` names what each variant rewrote (a section, or the whole policy)."""
    base = rates(original)
    results: list[VariantResult] = []
    flipped_any: set[str] = set()
    for name, frame in variants.items():
        measured = rates(frame)
        paired = paired_comparison(original, frame, [])
        flipped = sorted(str(f.item_id) for f in paired.flips)
        flipped_any.update(flipped)
        results.append(VariantResult(
            variant=name, over_enforcement=measured.over_enforcement, leakage=measured.leakage,
            over_enforcement_change=paired.over_enforcement_change, leakage_change=paired.leakage_change,
            accuracy_mcnemar_p=paired.accuracy_mcnemar_p, p_holm=None, flipped=len(flipped),
            flipped_item_ids=flipped))
    if results:
        adjusted = multipletests([r.accuracy_mcnemar_p for r in results], method="holm")[1]
        results = [r.model_copy(update={"p_holm": float(p)}) for r, p in zip(results, adjusted, strict=True)]
    return ReviewerPerturbation(
        reviewer=reviewer, items=len(original), original_over_enforcement=base.over_enforcement,
        original_leakage=base.leakage, variants=results,
        over_enforcement_spread=_spread(base.over_enforcement, {r.variant: r.over_enforcement for r in results}),
        leakage_spread=_spread(base.leakage, {r.variant: r.leakage for r in results}),
        flip_share=wilson(len(flipped_any), len(original)), flipped_item_ids=sorted(flipped_any),
        sections=_sections(results, sections))


def _spread(original: Rate, by_variant: dict[str, Rate]) -> Spread:
    values = {name: rate.rate for name, rate in {ORIGINAL: original, **by_variant}.items() if rate.rate is not None}
    if not values:
        return Spread(min=None, max=None, range=None, lowest=None, highest=None)
    lowest, highest = min(values, key=lambda k: values[k]), max(values, key=lambda k: values[k])
    return Spread(min=values[lowest], max=values[highest], range=values[highest] - values[lowest],
                  lowest=lowest, highest=highest)


def _sections(results: list[VariantResult], sections: dict[str, str]) -> list[SectionEffect]:
    grouped: dict[str, list[VariantResult]] = {}
    for result in results:
        grouped.setdefault(sections.get(result.variant, result.variant), []).append(result)
    effects = [SectionEffect(section=section, variants=[r.variant for r in group],
                             flipped=len({i for r in group for i in r.flipped_item_ids}),
                             max_abs_change=max((abs(c.change) for r in group
                                                 for c in (r.over_enforcement_change, r.leakage_change)
                                                 if c.change is not None), default=0.0))
               for section, group in grouped.items()]
    return sorted(effects, key=lambda e: (-e.max_abs_change, -e.flipped, e.section))
