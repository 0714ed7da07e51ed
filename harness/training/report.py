"""The trainers' page of a grading: one self-contained HTML file, content escaped, no scripts."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.record.proficiency import Proficiency, RateCI, ReviewerGrade
from harness.reporting.pages import CSP, render

STATUS_CSS = {"certified": "pass", "not certified": "fail", "needs more items": "inconclusive"}
TEXT_LIMIT = 2000


@dataclass
class Cell:
    text: str
    interval: str
    counts: str


@dataclass
class HeatRow:
    reviewer: str
    cells: list[tuple[str, str]]  # (shown text, inline style with only numbers in it)


@dataclass
class ProficiencyView:
    title: str
    subtitle: str
    csp: str
    data: Proficiency
    rows: list[tuple[ReviewerGrade, dict[str, Cell]]]
    status_css: dict[str, str]
    heat_rules: list[str]
    heat_rows: list[HeatRow]
    texts: dict[str, str] = field(default_factory=dict)


def cell(rate: RateCI) -> Cell:
    if rate.rate is None:
        return Cell("no data", "", f"0/{rate.n}")
    return Cell(f"{rate.rate:.1%}", f"95% CI {rate.ci_low:.1%}–{rate.ci_high:.1%}", f"{rate.k}/{rate.n}")


def build_view(data: Proficiency) -> ProficiencyView:
    info = data.quiz
    rows = [(g, {name: cell(getattr(g, name)) for name in ("accuracy", "over_enforcement", "leakage")})
            for g in data.reviewers]
    lookup = {(c.reviewer, c.rule_id): c for c in data.cohort.heat_map}
    heat_rows = []
    for g in data.reviewers:
        cells = []
        for rule in data.cohort.rule_ids:
            c = lookup.get((g.reviewer, rule))
            if c is None or c.error_rate is None:
                cells.append(("–", ""))
            else:
                # Only a number reaches the style attribute: the shade of red is the error rate.
                cells.append((f"{c.error_rate:.0%} ({c.wrong}/{c.answered})",
                              f"background:rgba(180,35,24,{min(1.0, c.error_rate * 1.5):.2f})"))
        heat_rows.append(HeatRow(g.reviewer, cells))
    texts = {h.item_id: h.text[:TEXT_LIMIT] for h in data.cohort.hard_items}
    return ProficiencyView(
        title=f"Reviewer proficiency: {info.policy_id} v{info.policy_version}",
        subtitle=(f"{len(data.reviewers)} reviewers graded on a {info.items}-item quiz from {info.evalset} "
                  f"(seed {info.seed}) · pass mark {data.pass_mark:.0%} accuracy · {data.created_at}"),
        csp=CSP, data=data, rows=rows, status_css=STATUS_CSS, heat_rules=data.cohort.rule_ids,
        heat_rows=heat_rows, texts=texts)


def render_proficiency_html(data: Proficiency) -> str:
    return render("proficiency.html.j2", v=build_view(data))
