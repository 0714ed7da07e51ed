"""Localization view: per-language over-enforcement and leakage, with the languages that stand out."""

from __future__ import annotations

from dataclasses import dataclass

from harness.record.metrics import FlaggedLanguage, Languages, ReviewerMetrics, VsRest
from harness.record.metrics import LanguageRow as LanguageEntry
from harness.reporting.fmt import RateCell, metric_label, p_text, percent, rate_cell, short

LANGUAGE_CAP = 60


@dataclass(frozen=True)
class LanguageRow:
    label: str
    items: int
    over_enforcement: RateCell
    leakage: RateCell
    # "higher" / "lower" than the other languages pooled when the Holm-adjusted test flags it, else ""
    over_enforcement_flag: str
    leakage_flag: str
    over_enforcement_p: str
    leakage_p: str

    @property
    def flagged(self) -> bool:
        return bool(self.over_enforcement_flag or self.leakage_flag)

    @property
    def worse(self) -> bool:
        """Flagged for a higher rate: both rates are harms, so a lower one is good news."""
        return "higher" in (self.over_enforcement_flag, self.leakage_flag)


@dataclass
class LanguageView:
    reviewer: str
    column: str
    test: str
    rows: list[LanguageRow]
    flagged: list[str]
    hidden: int = 0
    chart: str | None = None
    chart_alt: str = ""


def language_views(reviewers: dict[str, ReviewerMetrics]) -> list[LanguageView]:
    return [language_view(name, m.languages) for name, m in reviewers.items() if m.languages]


def language_view(reviewer: str, languages: Languages) -> LanguageView:
    rows = [language_row(lang, m) for lang, m in languages.by_language.items()]
    rows.sort(key=lambda r: (not r.flagged, r.label))
    return LanguageView(reviewer=reviewer, column=short(languages.column or "language", 40),
                        test=languages.test, rows=rows[:LANGUAGE_CAP],
                        flagged=[flag_text(f) for f in languages.flagged],
                        hidden=max(0, len(rows) - LANGUAGE_CAP))


def language_row(language: str, m: LanguageEntry) -> LanguageRow:
    oe, leak = m.over_enforcement_vs_rest, m.leakage_vs_rest
    return LanguageRow(label=short(language, 40), items=m.items,
                       over_enforcement=rate_cell(m.over_enforcement), leakage=rate_cell(m.leakage),
                       over_enforcement_flag=oe.flag or "", leakage_flag=leak.flag or "",
                       over_enforcement_p=_holm(oe), leakage_p=_holm(leak))


def flag_text(flag: FlaggedLanguage) -> str:
    return (f"{short(flag.language, 40)}: {metric_label(flag.metric)} "
            f"{flag.direction} than in the other languages combined ({percent(flag.rate)} vs "
            f"{percent(flag.rest_rate)}; Holm-adjusted {p_text(flag.p_holm)})")


def _holm(test: VsRest) -> str:
    return "" if test.p_holm is None else p_text(test.p_holm)
