"""Localized-policy view: for each translated language, judging its items with the translation
against the original policy, as a paired change with its interval."""

from __future__ import annotations

from dataclasses import dataclass

from harness.record.metrics import Localized, PairedChange, TranslationUse
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
    original: str  # "" unless judged side by side
    localized: str
    translations: list[str]
    lines: list[LocalizedLine]
    used: list[str]  # "policy hate_speech@v2 judged de items with v2.de.md; en, fr with v2.md"


def translation_line(use: TranslationUse) -> str:
    """'policy hate_speech@v2 judged de, de-AT items with v2.de.md; en, fr with v2.md'."""
    files: dict[str, list[str]] = {}
    for language, file in use.languages.items():
        files.setdefault(short(file, 60), []).append(short(language, 20))
    used = "; ".join(f"{', '.join(values)} items with {file}" for file, values in files.items())
    rest = f"; {', '.join(short(v, 20) for v in use.untranslated)} with {short(use.original, 60)}" if use.untranslated else ""
    return f"policy {short(use.policy, 80)} judged {used or 'no item with a translation'}{rest}"


def localized_view(block: Localized | None, used: list[TranslationUse] | None = None) -> LocalizedView | None:
    """None for a run that judged with no translation."""
    lines_used = [translation_line(u) for u in used or []]
    if block is None:
        return LocalizedView(original="", localized="", translations=[], lines=[], used=lines_used) if used else None
    lines = [LocalizedLine(reviewer=short(name, 60), language=short(row.language, 20),
                           translation=short(row.translation, 60), items=row.leakage_change.n + row.over_enforcement_change.n,
                           text=(f"judging {short(row.language, 20)} items with the {short(row.language, 20)} policy: "
                                 f"leakage {_points(row.leakage_change)}, "
                                 f"over-enforcement {_points(row.over_enforcement_change)}"))
             for name, rows in block.reviewers.items() for row in rows]
    return LocalizedView(original=short(block.original, 80), localized=short(block.localized, 80),
                         translations=[f"{short(tag, 20)}: {short(f, 60)}" for tag, f in block.translations.items()],
                         lines=lines, used=lines_used)


def localized_markdown(view: LocalizedView | None) -> list[str]:
    """The Markdown section; no lines for a run without translations."""
    if view is None:
        return []
    lines = ["## Localized policy", ""]
    if view.original:
        lines += [f"Each item judged with the original **{cell(view.original)}** and with the translation in its "
                  f"language (**{cell(view.localized)}**); translations: {cell(', '.join(view.translations))}.", ""]
    for used in view.used:
        lines += [f"{cell(used[0].upper() + used[1:])}.", ""]
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
