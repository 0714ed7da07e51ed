"""Localized-policy view: for each translated language, judging its items with the translation
against the original policy, as a paired change with its interval."""

from __future__ import annotations

from dataclasses import dataclass

from harness.record.metrics import Localized, PairedChange
from harness.reporting.fmt import NO_DATA, p_text, short
from harness.reporting.mdcells import cell


@dataclass(frozen=True)
class LocalizedLine:
    reviewer: str
    language: str
    translation: str
    text: str  # "judging de items with the de policy: leakage -4.1 points [-7.0, -1.3], ..."
    items: int


@dataclass
class LocalizedView:
    original: str
    localized: str
    translations: list[str]
    lines: list[LocalizedLine]


def localized_view(block: Localized | None) -> LocalizedView | None:
    """None for a run without `localized: true`."""
    if block is None:
        return None
    lines = [LocalizedLine(reviewer=short(name, 60), language=short(row.language, 20),
                           translation=short(row.translation, 60), items=row.leakage_change.n + row.over_enforcement_change.n,
                           text=(f"judging {short(row.language, 20)} items with the {short(row.language, 20)} policy: "
                                 f"leakage {_points(row.leakage_change)}, "
                                 f"over-enforcement {_points(row.over_enforcement_change)}"))
             for name, rows in block.reviewers.items() for row in rows]
    return LocalizedView(original=short(block.original, 80), localized=short(block.localized, 80),
                         translations=[f"{short(tag, 20)}: {short(f, 60)}" for tag, f in block.translations.items()],
                         lines=lines)


def localized_markdown(view: LocalizedView | None) -> list[str]:
    """The Markdown section; no lines for a run without translations."""
    if view is None:
        return []
    lines = ["## Localized policy", "",
             f"Each item judged with the original **{cell(view.original)}** and with the translation in its "
             f"language (**{cell(view.localized)}**); translations: {cell(', '.join(view.translations))}.", ""]
    lines += [f"- **{cell(x.reviewer)}**: {cell(x.text)}" for x in view.lines]
    return [*lines, ""]


def _points(change: PairedChange) -> str:
    """'-4.1 points [-7.0, -1.3]' (p = ...): the change of a rate, in percentage points."""
    if change.change is None:
        return NO_DATA
    interval = (f" [{change.ci_low * 100:+.1f}, {change.ci_high * 100:+.1f}]"
                if change.ci_low is not None and change.ci_high is not None else "")
    p = f" ({p_text(change.p_value)})" if change.p_value is not None else ""
    return f"{change.change * 100:+.1f} points{interval}{p}"
