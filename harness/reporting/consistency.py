"""Consistency view: the same content judged alike in every language? Beside the language matrix."""

from __future__ import annotations

from dataclasses import dataclass

from harness.record.consistency import Consistency, LanguagePair
from harness.record.metrics import ReviewerMetrics
from harness.reporting.fmt import RateCell, p_text, rate_cell, short
from harness.reporting.mdcells import cell, header, rate, row

PAIR_CAP = 45  # every pair of ten languages
SPLIT_ROWS = 20


@dataclass(frozen=True)
class PairRow:
    first: str
    second: str
    disagreement: RateCell
    first_only: int
    second_only: int
    p_holm: str
    flag: bool


@dataclass(frozen=True)
class SplitRow:
    group: str
    gold: str
    decisions: str
    items: str


@dataclass
class ConsistencyView:
    reviewer: str
    column: str
    groups: int
    identical: RateCell
    mixed_cells: int
    cochran: str
    test: str
    pairs: list[PairRow]
    flagged: list[str]
    split: list[SplitRow]
    split_total: int
    hidden_pairs: int = 0
    evidence: str = ""  # "Only machine-translated items in: de, fr." when the items carry an origin


def consistency_views(reviewers: dict[str, ReviewerMetrics]) -> list[ConsistencyView]:
    """One view per reviewer whose items came in parallel groups across languages."""
    return [consistency_view(name, m.consistency) for name, m in reviewers.items() if m.consistency]


def consistency_view(reviewer: str, c: Consistency) -> ConsistencyView:
    q = c.cochran_q
    cochran = ("" if q is None else
               f"Cochran's Q across {len(q.languages)} languages over {q.groups} groups judged in all of them: "
               + ("no group was judged in every language" if q.statistic is None and q.groups == 0 else
                  f"Q = {q.statistic:.2f} (df {q.df}), {p_text(q.p)}" if q.statistic is not None else "not defined"))
    pairs = [_pair(p) for p in c.pairs]
    return ConsistencyView(
        reviewer=reviewer, column=short(c.column, 40), groups=c.groups, identical=rate_cell(c.identical),
        mixed_cells=c.mixed_cells, cochran=cochran, test=c.test, pairs=pairs[:PAIR_CAP],
        flagged=[_flag_text(p) for p in c.pairs if p.flag],
        split=[SplitRow(group=short(s.parallel_id, 60), gold=short(s.gold, 40),
                        decisions=", ".join(f"{short(lang, 20)}: {d}" for lang, d in s.decisions.items()),
                        items=short(", ".join(s.item_ids), 120)) for s in c.split[:SPLIT_ROWS]],
        split_total=c.split_total, hidden_pairs=max(0, len(pairs) - PAIR_CAP), evidence=_evidence(c))


def consistency_markdown(views: list[ConsistencyView]) -> list[str]:
    """The Markdown section; no lines when no reviewer judged parallel items."""
    if not views:
        return []
    lines = ["## Consistency across languages", "",
             "Items sharing a parallel id are the same content in different languages; a consistent reviewer "
             "judges them alike.", ""]
    for v in views:
        lines += [f"**{cell(v.reviewer)}**: {rate(v.identical)} of {v.groups} groups judged identically "
                  f"in every {cell(v.column)}.", ""]
        lines += [f"- {cell(f)}" for f in v.flagged]
        if v.evidence:
            lines += [f"- {cell(v.evidence)}"]
        if v.cochran:
            lines += [f"- {cell(v.cochran)}"]
        lines += ["", *header("languages", "disagree", "first only", "second only", "Holm p")]
        lines += [row(f"{p.first} / {p.second}", rate(p.disagreement), p.first_only, p.second_only,
                      p.p_holm + (" ▲" if p.flag else "")) for p in v.pairs]
        if v.split:
            lines += ["", f"Groups that split ({v.split_total}):", "", *header("group", "gold", "decisions", "items")]
            lines += [row(s.group, s.gold, s.decisions, s.items) for s in v.split]
        lines.append("")
    return lines


def _evidence(c: Consistency) -> str:
    if c.origins is None:
        return ""
    if not c.machine_only:
        return "Every language has native or reviewed items (see the origin slice)."
    return (f"Only machine-translated items in: {', '.join(short(lang, 20) for lang in c.machine_only)}; their "
            "figures rest on unreviewed translations.")


def _pair(p: LanguagePair) -> PairRow:
    return PairRow(first=short(p.first, 20), second=short(p.second, 20), disagreement=rate_cell(p.disagreement),
                   first_only=p.first_only, second_only=p.second_only,
                   p_holm="" if p.p_holm is None else p_text(p.p_holm), flag=p.flag)


def _flag_text(p: LanguagePair) -> str:
    more, less = (p.first, p.second) if p.first_only > p.second_only else (p.second, p.first)
    return (f"{short(more, 20)} actions content that {short(less, 20)} allows more often than the reverse "
            f"({max(p.first_only, p.second_only)} vs {min(p.first_only, p.second_only)} groups; "
            f"Holm-adjusted {p_text(p.p_holm)})")
