"""Markdown report for pull requests: verdict, gates, headline, comparison, categories, worst slices,
the sections of markdown_sections, provenance."""

from __future__ import annotations

import re

from harness.record import RunRecord
from harness.reporting.consistency import consistency_markdown
from harness.reporting.diagnosis import diagnosis_markdown
from harness.reporting.explanations import explanations_markdown
from harness.reporting.fmt import counted, pct
from harness.reporting.localized_policy import localized_markdown
from harness.reporting.markdown_sections import (
    agreement,
    annotators,
    gold,
    injection,
    languages,
    population,
    thresholds,
)
from harness.reporting.mdcells import cell, header, per10k, rate, row, significance, strong
from harness.reporting.scores import markdown_lines as score_lines
from harness.reporting.stability_md import stability_markdown
from harness.reporting.views import ReportView, build_view

__all__ = ["pct", "render_markdown", "markdown_from_view", "cell"]

SLICE_ROWS = 8


def render_markdown(record: RunRecord) -> str:
    return markdown_from_view(build_view(record, with_charts=False))


def markdown_from_view(v: ReportView) -> str:
    lines = [f"# {cell(v.title)}", ""]
    against = f" vs baseline **{cell(v.baseline)}**" if v.baseline else ""
    lines += [f"Policy **{cell(v.candidate)}**{against} on eval set **{cell(v.evalset_name)}** "
              f"({v.items:,} items), run {cell(v.created_at)}.", ""]
    if v.incomplete:
        lines += [f"> **Incomplete run:** {cell(v.incomplete_reason)}. Rates cover only the items judged.", ""]
    lines += (_verdicts(v) + _headline(v) + population(v) + _comparisons(v) + _categories(v) + _worst(v)
              + languages(v) + consistency_markdown(v.consistency)
              + localized_markdown(v.localized) + gold(v) + annotators(v) + agreement(v) + thresholds(v)
              + score_lines(v.scores) + injection(v) + stability_markdown(v) + diagnosis_markdown(v.diagnosis)
              + explanations_markdown(v.explanations) + _provenance(v))
    return "\n".join(lines).rstrip() + "\n"


def _verdicts(v: ReportView) -> list[str]:
    if not v.verdicts:
        return ["## Launch verdict", "", "No reviewer produced results for the candidate policy.", ""]
    lines = ["## Launch verdict", "", *header("reviewer", "verdict", "why")]
    lines += [row(x.reviewer, strong(x.verdict.upper()), x.reason + (f"; {x.note}" if x.note else ""))
              for x in v.verdicts]
    gates = [(x.reviewer, g) for x in v.verdicts for g in x.gates]
    if gates:
        lines += ["", *header("reviewer", "gate", "scope", "target", "value", "95% interval", "n", "status")]
        lines += [row(name, g.metric, g.scope, g.target, g.value.text, g.value.interval or "–", g.value.counts,
                      strong(g.status)) for name, g in gates]
    return lines + [""]


def _headline(v: ReportView) -> list[str]:
    lines = ["## Headline", "",
             "Intervals are 95% Wilson intervals. Per 10,000: of every 10,000 benign items, how many are "
             "actioned; of every 10,000 violating items, how many are allowed.", "",
             *header("policy", "reviewer", "over-enforcement", "per 10,000 benign", "leakage",
                     "per 10,000 violating", "false-action share", "abstained")]
    for h in v.headline:
        lines.append(row(f"{h.policy} ({h.role})", h.reviewer + (f" ({h.note})" if h.note else ""), rate(h.over_enforcement), per10k(h.over_enforcement),
                         rate(h.leakage), per10k(h.leakage), rate(h.false_action_share),
                         f"{h.abstained} ({h.abstention_rate.text})"))
    warnings = [(h.reviewer, w) for h in v.headline if h.role == "candidate" for w in h.warnings]
    if warnings:
        lines += ["", *[f"- ⚠ {cell(name)}: {cell(w)}" for name, w in warnings]]
    return lines + [""]


def _comparisons(v: ReportView) -> list[str]:
    if not v.comparisons:
        return []
    method = f" Interval method: {cell(v.comparison_method)}." if v.comparison_method else ""
    lines = [f"## Change from baseline ({cell(v.baseline)} → {cell(v.candidate)})", "",
             f"Paired over the same items: 95% interval for the change, exact McNemar p.{method}"
             + (" Per slice, “significant” uses the p adjusted for the number of slice tests."
                if any(c.adjusted for c in v.comparisons) else ""), ""]
    for c in v.comparisons:
        lines += [f"### {cell(c.reviewer)}", "",
                  *header("metric", "baseline", "candidate", "change", "95% interval (paired)", "p", "")]
        lines += [row(x.metric, x.before, x.after, x.change, x.interval or "–", x.p,
                      significance(x.significant, x.direction)) for x in c.changes]
        if c.slice_changes:
            adjusted = f" (p adjusted: {cell(c.adjustment)})" if c.adjustment else ""
            lines += ["", f"By slice{adjusted}:", "",
                      *header("slice", "metric", "baseline", "candidate", "change", "95% interval", "p",
                              *(["adjusted p"] if c.adjusted else []), "")]
            lines += [row(f"{s.column} = {s.value}", x.metric, x.before, x.after, x.change, x.interval or "–", x.p,
                          *([x.p_adjusted or "–"] if c.adjusted else []), significance(x.significant, x.direction))
                      for s in c.slice_changes[:SLICE_ROWS] for x in (s.change,)]
            more = len(c.slice_changes) - SLICE_ROWS + c.slice_hidden
            if more > 0:
                where = "metrics.json" if c.slice_hidden else "report.html"
                lines += ["", f"{more} more slice changes are in {where}."]
        counts = "; ".join(f"{label} {b + vi} (benign {b}, violating {vi})" for label, b, vi in c.counts)
        lines += ["", f"{counts}. McNemar {c.accuracy_p} for accuracy over {counted(c.paired, 'paired decided item')}; "
                      f"{counted(c.flips_total, 'flipped verdict')}."]
        if c.unpaired:
            lines.append(f"Note: {cell(c.unpaired)}.")
        lines.append("")
    if v.unified_diff:
        fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", v.unified_diff)), default=0))
        lines += ["<details><summary>Policy text diff</summary>", "", f"{fence}diff", v.unified_diff, fence, "",
                  "</details>", ""]
    return lines


def _categories(v: ReportView) -> list[str]:
    rows = [(t.reviewer, r) for t in v.categories for r in t.rows]
    unknown = any(r.unknown for _, r in rows)
    # One category and no unknown gold: the headline already says it all.
    if not rows or not unknown and all(len(t.rows) < 2 for t in v.categories):
        return []
    one_vs_rest = any(r.category_false_positive for _, r in rows)
    names = ["reviewer", "category", "violating items", *(["gold unknown"] if unknown else []), "leakage",
             "over-enforcement (benign actioned under it)",
             *(["false positives (items outside it actioned under it)"] if one_vs_rest else []),
             "right action, wrong category"]
    lines = ["## Categories", "", *header(*names)]
    for name, r in rows:
        fp = [rate(r.category_false_positive) if r.category_false_positive else "–"] if one_vs_rest else []
        lines.append(row(name, r.label, r.items, *([r.unknown if r.unknown is not None else "–"] if unknown else []),
                         rate(r.leakage), rate(r.over_enforcement), *fp, r.extra))
    if unknown:
        lines += ["", "Gold unknown: items whose label for that category is missing; left out of its rates."]
    return lines + [""]


def _worst(v: ReportView) -> list[str]:
    rows = [(name, column, r) for name, worst in v.worst.items() for column, r in worst]
    if not rows:
        return []
    lines = ["## Worst slices", "", "Highest over-enforcement or leakage first; ⚠ marks fewer than 30 items.", "",
             *header("reviewer", "slice", "value", "items", "over-enforcement", "leakage")]
    lines += [row(name, column, r.label, r.items, rate(r.over_enforcement), rate(r.leakage)) for name, column, r in rows]
    return lines + [""]


def _provenance(v: ReportView) -> list[str]:
    p = v.provenance
    lines = ["## Provenance", "", *header("role", "policy", "id", "version", "sha256")]
    lines += [row(x.role, x.label, x.id, x.version, x.sha256) for x in p.policies]
    lines += ["", *header("eval set", ""), *[row(k, val) for k, val in p.evalset]]
    for name, params in p.reviewers:
        lines += ["", f"Reviewer **{cell(name)}**: " + ", ".join(f"{cell(k)} = {cell(val)}" for k, val in params)]
    if p.usage:
        lines += ["", *header("reviewer", "sent", "from cache", "prompt tokens", "completion tokens", "cost", "retries")]
        lines += [row(u.reviewer, u.calls, u.cached, u.prompt_tokens, u.completion_tokens, u.cost, u.retries)
                  for u in p.usage]
    if p.mlflow:
        lines += ["", *header("MLflow", ""), *[row(k, val) for k, val in p.mlflow]]
    lines += ["", f"Run date: {cell(p.created_at)}.", ""]
    return lines
