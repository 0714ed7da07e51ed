"""dsa_export.json: accuracy and error indicators of automated moderation in the layout of the DSA
transparency-report template's section on automated means (Commission Implementing Regulation (EU)
2024/2835, Annex I, quantitative template section 1.6; docs/dsa.md maps every field)."""

from __future__ import annotations

from typing import Literal

from harness.record.usage import Model

DSA_JSON = "dsa_export.json"
DSA_CSV = "dsa_export.csv"
DSA_SCHEMA_VERSION = 1
TEMPLATE = ("Commission Implementing Regulation (EU) 2024/2835, Annex I, Part II, 1. Quantitative template, "
            "1.6 Article 15(1)(b)(c)(e) and Article 42(2)(c): use of automated means for content moderation "
            "and indicators of accuracy")
Breakdown = Literal["overall", "category", "language"]
Indicator = Literal["accuracy", "error_rate", "false_positive_rate", "false_negative_rate"]
INDICATORS: tuple[Indicator, ...] = ("accuracy", "error_rate", "false_positive_rate", "false_negative_rate")


class DsaFigure(Model):
    """One indicator with its sample: value = numerator / sample_size, a 95% interval beside it."""

    value: float | None
    ci_low: float | None
    ci_high: float | None
    numerator: int
    sample_size: int
    below_minimum_sample: bool  # shown all the same: flagged, not hidden


class DsaRow(Model):
    """One automated means (a reviewer) under one policy version, over one breakdown value."""

    run: str
    automated_means: str
    policy_version: str
    breakdown: Breakdown
    scope: str  # "all" / the category's name / the language
    accuracy: DsaFigure
    error_rate: DsaFigure
    false_positive_rate: DsaFigure
    false_negative_rate: DsaFigure


class PolicyVersion(Model):
    label: str
    title: str
    sha256: str


class DsaExport(Model):
    schema_version: int = DSA_SCHEMA_VERSION
    template: str = TEMPLATE
    period_start: str
    period_end: str
    policy_versions: list[PolicyVersion]
    runs: list[str]
    minimum_sample: int
    interval: str
    rows: list[DsaRow]
