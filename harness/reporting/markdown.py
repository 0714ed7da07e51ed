"""Markdown report, for pull requests and chat."""

from __future__ import annotations

from typing import Any

from harness.record import RunRecord


def pct(rate: dict[str, Any] | None) -> str:
    if not rate or rate.get("rate") is None:
        return "n/a"
    return f"{rate['rate']:.1%} [{rate['ci_low']:.1%}, {rate['ci_high']:.1%}] ({rate['k']}/{rate['n']})"


def render_markdown(record: RunRecord) -> str:
    m = record.metrics
    lines = [f"# Policy test: {record.name}", "",
             f"Policy **{record.candidate}**" + (f" vs baseline **{record.baseline}**" if record.baseline else ""),
             f" on eval set **{record.evalset['name']}** ({record.evalset['items']} items).", ""]
    if record.incomplete:
        lines += [f"> **Incomplete run:** {record.incomplete_reason}", ""]
    lines += ["| policy | reviewer | over-enforcement | leakage | false-action share | abstained |",
              "|---|---|---|---|---|---|"]
    sections = [(record.candidate, m["reviewers"])]
    if m.get("baseline"):
        sections.append((m["baseline"]["policy"], m["baseline"]["reviewers"]))
    for policy, reviewers in sections:
        for name, r in reviewers.items():
            lines.append(f"| {policy} | {name} | {pct(r['over_enforcement'])} | {pct(r['leakage'])} | "
                         f"{pct(r['false_action_share'])} | {r['abstained']} |")
    gates = [(name, g) for name, r in m["reviewers"].items() for g in r.get("gates", [])]
    if gates:
        lines += ["", "## Launch gates", "", "| reviewer | gate | scope | target | value | status |", "|---|---|---|---|---|---|"]
        for name, g in gates:
            target = f"≤ {g['max']:.1%}" if g["max"] is not None else f"≥ {g['min']:.1%}"
            lines.append(f"| {name} | {g['metric']} | {g['scope']} | {target} | {pct(g['value'])} | **{g['status']}** |")
    for name, comp in m.get("comparison", {}).items():
        oe, lk = comp["over_enforcement_change"], comp["leakage_change"]
        lines += ["", f"## {record.baseline} → {record.candidate} ({name})", "",
                  f"- over-enforcement change: {_change(oe)}", f"- leakage change: {_change(lk)}",
                  f"- fixed: {sum(comp['fixed'].values())}, broken: {sum(comp['broken'].values())}, "
                  f"McNemar p = {comp['accuracy_mcnemar_p']:.3g}"]
    lines.append("")
    return "\n".join(lines)


def _change(change: dict[str, Any]) -> str:
    if change.get("change") is None:
        return "n/a"
    return (f"{change['before']:.1%} → {change['after']:.1%} ({change['change']:+.1%}, 95% CI "
            f"[{change['ci_low']:+.1%}, {change['ci_high']:+.1%}], p = {change['p_value']:.3g})")
