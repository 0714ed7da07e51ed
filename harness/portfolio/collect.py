"""The portfolio from observations: launch verdicts, time to deploy, the language matrix, training coverage."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from pathlib import Path

from harness.metrics.gates import FAIL, INCONCLUSIVE, NO_DATA, PASS
from harness.metrics.languages import language_column
from harness.metrics.planning import items_for_margin
from harness.portfolio.sources import from_directories, from_mlflow
from harness.record import GateResult, Rate, ReviewerMetrics
from harness.record.portfolio import (
    Certified,
    GateCounts,
    Grading,
    LanguageCell,
    LanguageMatrix,
    Observation,
    PolicyTraining,
    PolicyTrend,
    Portfolio,
    Sources,
    TimeToDeploy,
    Training,
    TrendPoint,
    Verdict,
    VersionRow,
)
from harness.reporting.impact import headline

NOT_YET = "not yet"
UNKNOWN = "unknown"


def collect(from_dirs: list[Path] | None = None) -> Portfolio:
    """The portfolio of the configured MLflow store, or of the given run directories."""
    if from_dirs:
        return build(from_directories(from_dirs), "run directories")
    from harness.tracking import safe_uri

    return build(from_mlflow(), safe_uri())


def build(sources: Sources, source: str) -> Portfolio:
    by_key: dict[tuple[str, int, str], list[Observation]] = defaultdict(list)
    for obs in sources.observations:
        by_key[(obs.policy_id, obs.version, obs.reviewer)].append(obs)
    rows = [_row(sorted(group, key=_order)) for _, group in sorted(by_key.items())]
    latest = {key: max(group, key=_order) for key, group in by_key.items()}
    languages = _matrix([latest[k] for k in sorted(latest)])
    training = _training(sources.gradings, sources.observations)
    portfolio = Portfolio(generated_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), source=source,
                          summary=[], rows=rows, trends=_trends(sources.observations), languages=languages,
                          training=training, notes=list(sources.notes))
    portfolio.summary = summary(portfolio)
    return portfolio


def _order(obs: Observation) -> tuple[dt.datetime, str]:
    return obs.created, obs.run.source


def gates_of(metrics: ReviewerMetrics) -> list[GateResult]:
    return list(metrics.gates)


def verdict(obs: Observation) -> Verdict:
    statuses = {g.status for g in obs.metrics.gates}
    if obs.incomplete:
        return "incomplete"
    if not statuses:
        return "no gates"
    if FAIL in statuses:
        return "blocked"
    if statuses != {PASS}:
        return "undecided"
    return "ready"


def _counts(gates: list[GateResult]) -> GateCounts:
    status = [g.status for g in gates]
    return GateCounts(passed=status.count(PASS), failed=status.count(FAIL), inconclusive=status.count(INCONCLUSIVE),
                      no_data=status.count(NO_DATA))


def gate_name(gate: GateResult) -> str:
    return f"{gate.gate} ({gate.scope})"


def _row(runs: list[Observation]) -> VersionRow:
    last = runs[-1]
    gates = gates_of(last.metrics)
    return VersionRow(policy_id=last.policy_id, version=last.version, reviewer=last.reviewer, runs=len(runs),
                      latest=last.run, items=last.metrics.items, over_enforcement=last.metrics.over_enforcement,
                      leakage=last.metrics.leakage, gates=gates, counts=_counts(gates), verdict=verdict(last),
                      blocking=[gate_name(g) for g in gates if g.status == FAIL],
                      time_to_deploy=time_to_deploy(runs), sample=last.sample, drift=last.drift,
                      forecast=headline(last.forecast) if last.forecast else None)


def time_to_deploy(runs: list[Observation]) -> TimeToDeploy:
    """From the version's first `candidate` alias to its first `production` alias, as the prompt registry's
    alias history records them (runs oldest first; the newest run's reading of the history counts).
    Without that history (run directories, a store or version from before it was kept) it is unknown."""
    passing = next((r for r in runs if verdict(r) == "ready"), None)
    found = next((r.aliases for r in reversed(runs) if r.aliases is not None), None)
    candidate_at = found.candidate_at if found else None
    production_at = found.production_at if found else None
    hours = (production_at - candidate_at).total_seconds() / 3600 if candidate_at and production_at else None
    if hours is not None and hours >= 0:
        text = duration_text(hours)
    elif found is not None and candidate_at is not None and production_at is None and not found.promoted:
        text = NOT_YET
    else:  # no history, a version promoted before its history was kept, or before any run tested it
        text, hours = UNKNOWN, None
    return TimeToDeploy(first_run=runs[0].run.created_at, first_passing_run=passing.run.created_at if passing else None,
                        hours=hours, text=text, candidate_at=_iso(candidate_at), production_at=_iso(production_at))


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def duration_text(hours: float) -> str:
    if hours < 1:
        return "under 1 h"
    days, rest = divmod(round(hours), 24)
    return f"{days} d {rest} h"


def _trends(observations: list[Observation]) -> list[PolicyTrend]:
    by_policy: dict[str, list[Observation]] = defaultdict(list)
    for obs in observations:
        by_policy[obs.policy_id].append(obs)
    return [PolicyTrend(policy_id=pid, points=[
        TrendPoint(version=o.version, reviewer=o.reviewer, run=o.run, over_enforcement=o.metrics.over_enforcement,
                   leakage=o.metrics.leakage, verdict=verdict(o), sample=o.sample)
        for o in sorted(group, key=_order)]) for pid, group in sorted(by_policy.items())]


# --- languages ----------------------------------------------------------------------------------

def column_label(obs: Observation) -> str:
    return f"{obs.policy_id} v{obs.version} · {obs.reviewer}"


def _matrix(latest: list[Observation]) -> LanguageMatrix:
    cells: list[LanguageCell] = []
    columns: list[str] = []
    for obs in latest:
        found = _cells(obs)
        if found:
            columns.append(column_label(obs))
            cells.extend(found)
    return LanguageMatrix(languages=sorted({c.language for c in cells}), policies=columns, cells=cells)


def _cells(obs: Observation) -> list[LanguageCell]:
    metrics = obs.metrics
    column = metrics.languages.column if metrics.languages else language_column(list(metrics.slices))
    if column is None or column not in metrics.slices:
        return []
    flagged: dict[str, list[str]] = defaultdict(list)
    for flag in metrics.languages.flagged if metrics.languages else []:
        flagged[flag.language].append(f"{flag.metric} {flag.direction} than the other languages")
    out = []
    for language, rates in sorted(metrics.slices[column].items()):
        gates = [g for g in gates_of(metrics) if g.scope == f"{column} = {language}"]
        undecided = [g for g in gates if g.status in (INCONCLUSIVE, NO_DATA)]
        more, note = (_items_to_decide(undecided[0], language) if undecided else (None, ""))
        out.append(LanguageCell(policy_id=obs.policy_id, version=obs.version, reviewer=obs.reviewer, language=language,
                                items=rates.items, over_enforcement=rates.over_enforcement, leakage=rates.leakage,
                                gates=gates, flagged=flagged.get(language, []), under_tested=bool(undecided),
                                items_to_decide=more, note=note))
    return out


def _items_to_decide(gate: GateResult, language: str) -> tuple[int | None, str]:
    """Further items in the gate's denominator for an interval that clears the target at the observed rate
    (the planner's Wilson sample size), as `certify` does for reviewers."""
    kind = "benign" if gate.metric == "over_enforcement" else "violating" if gate.metric == "leakage" else "decided"
    value = gate.value
    if value is None or value.rate is None:
        return None, f"no {kind} items in {language} were judged: the gate {gate.gate} has no data"
    target = gate.max if gate.max is not None else gate.min
    margin = abs(value.rate - target) if target is not None else 0.0
    if margin <= 0 or margin >= 1:
        return None, f"the rate sits on the target of {gate.gate}: no number of items at this rate decides it"
    more = max(1, items_for_margin(value.rate, margin) - value.n)
    return more, f"about {more:,} more {kind} item{'s' if more != 1 else ''} in {language} at {value.rate:.1%} would decide {gate.gate}"


# --- training -----------------------------------------------------------------------------------

def _training(gradings: list[Grading], observations: list[Observation]) -> Training:
    newest: dict[tuple[str, int], Grading] = {}
    for g in sorted(gradings, key=lambda g: (g.created, g.source)):
        newest[(g.policy_id, g.version)] = g
    rows = [Certified(policy_id=g.policy_id, version=g.version, graded=g.graded, certified=len(g.certified),
                      certified_reviewers=g.certified, created_at=g.created.isoformat(timespec="seconds"),
                      source=g.source) for _, g in sorted(newest.items())]
    policies = sorted({o.policy_id for o in observations} | {g.policy_id for g in gradings})
    out = []
    for pid in policies:
        approved = [o.version for o in observations if o.policy_id == pid and o.approved]
        if not approved:
            out.append(PolicyTraining(policy_id=pid, promoted_version=None, certified_on_promoted=None,
                                      graded_on_promoted=None,
                                      note="no promoted version in these runs (promote writes approved_by into "
                                           "the policy file); coverage is shown per graded version"))
            continue
        version = max(approved)
        grading = newest.get((pid, version))
        out.append(PolicyTraining(
            policy_id=pid, promoted_version=version,
            certified_on_promoted=len(grading.certified) if grading else 0,
            graded_on_promoted=grading.graded if grading else 0,
            note=(f"{len(grading.certified)} of {grading.graded} graded reviewers certified on v{version}" if grading
                  else f"no reviewer has been graded on v{version}: nobody is certified on the promoted version")))
    return Training(gradings=rows, policies=out)


# --- summary ------------------------------------------------------------------------------------

def _pct(rate: Rate) -> str:
    """'0.0% (0 of 3)': a rate in prose carries the counts it rests on."""
    return "no data" if rate.rate is None else f"{rate.rate:.1%} ({rate.k:,} of {rate.n:,})"


def summary(p: Portfolio) -> list[str]:
    """A few plain sentences for a reader who will not read the tables."""
    if not p.rows:
        return ["No policy runs were found, so nothing can be said about launch readiness yet."]
    lines = []
    verdicts = [r.verdict for r in p.rows]
    policies = len({r.policy_id for r in p.rows})
    lines.append(f"{len(p.rows)} policy version{'s' if len(p.rows) != 1 else ''} (per reviewer) across {policies} "
                 f"polic{'ies' if policies != 1 else 'y'}: {verdicts.count('ready')} ready to launch, "
                 f"{verdicts.count('blocked')} blocked, {verdicts.count('undecided')} not yet decided by the data"
                 + (f", {verdicts.count('incomplete')} with an incomplete latest run" if 'incomplete' in verdicts else "")
                 + (f", {verdicts.count('no gates')} without launch targets" if 'no gates' in verdicts else "") + ".")
    blocked = [r for r in p.rows if r.verdict == "blocked"]
    for r in blocked[:5]:
        lines.append(f"{r.policy_id} v{r.version} ({r.reviewer}) is blocked by {', '.join(r.blocking)}: "
                     f"it wrongly actions {_pct(r.over_enforcement)} of benign items and lets "
                     f"{_pct(r.leakage)} of violating items through"
                     + (f", judging {r.sample}." if r.sample else "."))
    if len(blocked) > 5:
        lines.append(f"{len(blocked) - 5} more blocked versions are listed in the table below.")
    lines.extend(f"Warning for {r.policy_id} v{r.version}: {r.drift}." for r in p.rows if r.drift)
    lines.append(_deploy_sentence(p))
    flagged = sorted({f"{c.language} ({c.policy_id} v{c.version})" for c in p.languages.cells
                      if any(" higher " in f for f in c.flagged)})
    if flagged:
        lines.append(f"Errors are significantly more frequent than in the other languages for {', '.join(flagged[:6])}"
                     f"{' and more' if len(flagged) > 6 else ''}; see the language matrix.")
    under = [c for c in p.languages.cells if c.under_tested]
    if under:
        more = sum(c.items_to_decide or 0 for c in under)
        lines.append(f"{len(under)} language result{'s are' if len(under) != 1 else ' is'} under-tested: the data cannot "
                     f"yet say whether the language meets its target" + (f" (about {more:,} more item{'s' if more != 1 else ''} would decide)"
                                                                          if more else "") + ".")
    for t in p.training.policies:
        if t.promoted_version is not None:
            lines.append(f"Training: {t.policy_id} v{t.promoted_version} is the newest promoted version; {t.note}.")
    if not p.training.gradings:
        lines.append("No reviewer gradings were found, so training coverage is unknown.")
    return lines


def _deploy_sentence(p: Portfolio) -> str:
    """Time to deploy per policy version (not per reviewer row): the alias history is the version's."""
    versions = {(r.policy_id, r.version): r.time_to_deploy for r in p.rows}
    reached = [t.hours for t in versions.values() if t.hours is not None]
    waiting = sum(t.text == NOT_YET for t in versions.values())
    unknown = sum(t.text == UNKNOWN for t in versions.values())
    rest = (f"{waiting} {'are' if waiting != 1 else 'is'} not in production yet"
            + (f", and {unknown} {'have' if unknown != 1 else 'has'} no alias history in the prompt registry "
               "(time to deploy unknown)" if unknown else ""))
    if reached:
        return (f"Versions promoted to production took a median of {duration_text(statistics.median(reached))} from "
                f"first becoming the candidate ({len(reached)} version{'s' if len(reached) != 1 else ''}); {rest}.")
    if unknown == len(versions):
        return ("Time to deploy is unknown: no policy version has an alias history in the prompt registry (it is "
                "kept from MLflow tracking of runs and promote on; run directories carry none).")
    return f"No version has been promoted to production since the alias history was kept; {rest}."
