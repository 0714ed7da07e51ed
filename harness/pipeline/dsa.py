"""`export dsa`: stored runs -> the accuracy and error indicators of each automated means, overall, per
category and per language, as the DSA transparency-report template's section on automated means asks
(docs/dsa.md maps our fields to the template's). Every figure carries its sample size and interval;
a figure on fewer items than the minimum sample is flagged, never left out."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from harness.errors import HarnessError
from harness.metrics.languages import language_column
from harness.metrics.rates import wilson
from harness.record.dsa import DSA_CSV, DSA_JSON, INDICATORS, TEMPLATE, DsaExport, DsaFigure, DsaRow, PolicyVersion
from harness.record.files import METRICS, RECORD, atomic_write_text, model_text, read_model
from harness.record.header import RecordHeader
from harness.record.metrics import CategoryRates, MetricsFile, Rate, Rates

MINIMUM_SAMPLE = 30
INTERVAL = "Wilson score interval, 95% (statsmodels proportion_confint, method='wilson')"
CSV_COLUMNS = ("template_section", "period_start", "period_end", "run", "automated_means", "policy_version",
               "breakdown", "scope", "indicator", "value", "ci_low", "ci_high", "numerator", "sample_size",
               "below_minimum_sample")


def export_dsa(run_dirs: list[Path], out_dir: Path, *, minimum_sample: int = MINIMUM_SAMPLE,
               period_start: str | None = None, period_end: str | None = None) -> DsaExport:
    """Read the runs, build the export, write DIR/dsa_export.json and DIR/dsa_export.csv."""
    if minimum_sample < 1:
        raise HarnessError(f"--min-sample must be a whole number from 1 up; got {minimum_sample}.")
    export = build_export(run_dirs, minimum_sample=minimum_sample, period_start=period_start, period_end=period_end)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / DSA_JSON, model_text(export))
    atomic_write_text(out_dir / DSA_CSV, csv_text(export))
    return export


def build_export(run_dirs: list[Path], *, minimum_sample: int = MINIMUM_SAMPLE, period_start: str | None = None,
                 period_end: str | None = None) -> DsaExport:
    """The export of the candidate reviewers of each run (without writing it)."""
    if not run_dirs:
        raise HarnessError("give at least one run directory after --from.")
    rows: list[DsaRow] = []
    versions: dict[str, PolicyVersion] = {}
    dates: list[str] = []
    names: list[str] = []
    for run_dir in run_dirs:
        if not (run_dir / RECORD).is_file():
            raise HarnessError(f"is not a run directory (no {RECORD}); give directories written by "
                               "'policy-harness run' or 'score'.", path=run_dir)
        header = read_model(run_dir / RECORD, RecordHeader)
        metrics = read_model(run_dir / METRICS, MetricsFile)
        names.append(header.name)
        dates.append(header.created_at[:10])
        policy = header.policies.get(header.candidate)
        versions[header.candidate] = PolicyVersion(label=header.candidate, title=policy.title if policy else "",
                                                   sha256=policy.sha256 if policy else "")
        category_names = {c.id: c.name for c in policy.categories} if policy else {}
        for reviewer, m in metrics.reviewers.items():
            where = (header.name, reviewer, header.candidate)
            rows.append(_row(*where, "overall", "all", _headline(m), minimum_sample))
            rows += [_row(*where, "category", category_names.get(cid, cid), _category(c), minimum_sample)
                     for cid, c in m.categories.items()]
            column = m.languages.column if m.languages else language_column(list(m.slices))
            rows += [_row(*where, "language", language, _headline(rates), minimum_sample)
                     for language, rates in sorted((m.slices.get(column, {}) if column else {}).items())]
    return DsaExport(period_start=period_start or min(dates), period_end=period_end or max(dates),
                     policy_versions=list(versions.values()), runs=names, minimum_sample=minimum_sample,
                     interval=INTERVAL, rows=rows)


def csv_text(export: DsaExport) -> str:
    """One line per figure (row x indicator), its sample size and interval beside it."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in export.rows:
        for indicator in INDICATORS:
            figure: DsaFigure = getattr(row, indicator)
            writer.writerow(["1.6", export.period_start, export.period_end, row.run, row.automated_means,
                             row.policy_version, row.breakdown, row.scope, indicator, _number(figure.value),
                             _number(figure.ci_low), _number(figure.ci_high), figure.numerator, figure.sample_size,
                             str(figure.below_minimum_sample).lower()])
    return buffer.getvalue()


def _headline(rates: Rates) -> tuple[Rate, Rate]:
    return rates.over_enforcement, rates.leakage


def _category(rates: CategoryRates) -> tuple[Rate, Rate]:
    # One category against the rest: known-negative items actioned under it, its items let through.
    return rates.category_false_positive, rates.leakage


def _row(run: str, means: str, label: str, breakdown: str, scope: str, figures: tuple[Rate, Rate],
         minimum: int) -> DsaRow:
    false_positive, false_negative = figures
    errors, decided = false_positive.k + false_negative.k, false_positive.n + false_negative.n
    return DsaRow.model_validate({
        "run": run, "automated_means": means, "policy_version": label, "breakdown": breakdown, "scope": scope,
        "accuracy": _figure(wilson(decided - errors, decided), minimum),
        "error_rate": _figure(wilson(errors, decided), minimum),
        "false_positive_rate": _figure(false_positive, minimum),
        "false_negative_rate": _figure(false_negative, minimum)})


def _figure(rate: Rate, minimum: int) -> DsaFigure:
    return DsaFigure(value=rate.rate, ci_low=rate.ci_low, ci_high=rate.ci_high, numerator=rate.k,
                     sample_size=rate.n, below_minimum_sample=rate.n < minimum)


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


__all__ = ["CSV_COLUMNS", "INTERVAL", "MINIMUM_SAMPLE", "TEMPLATE", "build_export", "csv_text", "export_dsa"]
