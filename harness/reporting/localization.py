"""Localization view: per-language over-enforcement and leakage, with the languages that stand out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


def language_views(reviewers: dict[str, Any]) -> list[LanguageView]:
    return [language_view(name, m["languages"]) for name, m in reviewers.items() if m.get("languages")]


def language_view(reviewer: str, languages: dict[str, Any]) -> LanguageView:
    rows = [language_row(str(lang), m) for lang, m in (languages.get("by_language") or {}).items()]
    rows.sort(key=lambda r: (not r.flagged, r.label))
    return LanguageView(reviewer=reviewer, column=short(languages.get("column") or "language", 40),
                        test=str(languages.get("test") or ""), rows=rows[:LANGUAGE_CAP],
                        flagged=[flag_text(f) for f in languages.get("flagged") or []],
                        hidden=max(0, len(rows) - LANGUAGE_CAP))


def language_row(language: str, m: dict[str, Any]) -> LanguageRow:
    oe, leak = m.get("over_enforcement_vs_rest") or {}, m.get("leakage_vs_rest") or {}
    return LanguageRow(label=short(language, 40), items=int(m.get("items") or 0),
                       over_enforcement=rate_cell(m.get("over_enforcement")), leakage=rate_cell(m.get("leakage")),
                       over_enforcement_flag=str(oe.get("flag") or ""), leakage_flag=str(leak.get("flag") or ""),
                       over_enforcement_p=_holm(oe), leakage_p=_holm(leak))


def flag_text(flag: dict[str, Any]) -> str:
    return (f"{short(flag.get('language'), 40)}: {metric_label(str(flag.get('metric')))} "
            f"{flag.get('direction')} than in the other languages combined ({percent(flag.get('rate'))} vs "
            f"{percent(flag.get('rest_rate'))}; Holm-adjusted {p_text(flag.get('p_holm'))})")


def _holm(test: dict[str, Any]) -> str:
    return "" if test.get("p_holm") is None else p_text(test.get("p_holm"))
