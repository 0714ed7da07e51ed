"""`revise`: an author model proposes revised policies from the dev errors; only what the held-out
part proves is accepted.

The eval set is split (seeded, stratified) before the author sees anything. The current policy is
judged on both parts by the experiment's policy-reading reviewers; the author gets the dev errors
(clustered as `diagnose` does) and answers K times with a complete policy document. Each valid
candidate is judged on the held-out part only and compared with the current policy there, item by
item. A candidate is accepted when the target rate falls significantly (exact McNemar p < 0.05 and
the Newcombe interval below 0), no other headline rate, category rate or gate slice gets
significantly worse (Holm across those checks), and no gate that passed fails.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from harness._util.hashing import sha256_text
from harness.config import AuthorConfig, Experiment
from harness.errors import HarnessError
from harness.labels import BENIGN, UNKNOWN
from harness.loop.author import AuthorSession, revision_messages
from harness.loop.candidate import check_candidate, policy_document
from harness.loop.describe import describe_kinds
from harness.loop.split import Split, split_items
from harness.metrics.diagnosis import diagnose_kind, item_texts
from harness.policy import Policy
from harness.record.diagnosis import DIAGNOSIS, Diagnosis, ErrorKindDiagnosis, ReviewerDiagnosis
from harness.record.revision import (
    REVISE_JSON,
    CandidateResult,
    CurrentRates,
    Flip,
    GateChange,
    RateCheck,
    ReviewerJudgement,
    ReviseResult,
    SplitRecord,
    Target,
)
from harness.verdicts import ABSTAINED, ACTIONED, ALLOWED

if TYPE_CHECKING:
    from harness.evalset import EvalSet
    from harness.reviewers import Reviewer

log = logging.getLogger(__name__)

ALPHA = 0.05
CANDIDATES_DIR = "candidates"


@dataclass(frozen=True)
class ReviseParts:
    """What a revise run judges: the current policy, its policy-reading reviewers and the split."""

    current: Policy
    evalset: EvalSet
    reviewers: list[Reviewer]
    items: pd.DataFrame  # items of known gold
    split: Split
    dev_items: pd.DataFrame
    held_items: pd.DataFrame


def revise_parts(experiment: Experiment, author: AuthorConfig) -> ReviseParts:
    """Loads the inputs, builds the policy-reading reviewers and splits dev from held-out (seeded)."""
    from harness.pipeline.run import load_inputs
    from harness.reviewers import build_reviewer

    current, _, evalset = load_inputs(experiment)
    if experiment.limit:
        evalset = evalset.sample(experiment.limit, experiment.seed)
    reviewers = [build_reviewer(c, base_dir=Path(experiment.base_dir)) for c in experiment.reviewers]
    reviewers = [r for r in reviewers if r.reads_policy]
    if not reviewers:
        raise HarnessError("has no reviewer that reads the policy (type: llm); revise judges candidates with "
                           "one, so add an LLM reviewer.", path=experiment.source)
    items = evalset.items[evalset.items["gold"].astype(str) != UNKNOWN]
    split = split_items(items, holdout=author.holdout, seed=experiment.seed,
                        slice_column=evalset.slices[0] if evalset.slices else None)
    ids = items["item_id"].astype(str)
    return ReviseParts(current=current, evalset=evalset, reviewers=reviewers, items=items, split=split,
                       dev_items=items[ids.isin(set(split.dev))], held_items=items[ids.isin(set(split.holdout))])


def revise(experiment: Experiment, *, out_dir: str | Path | None = None, track: bool = True) -> ReviseResult:
    from harness._util.event_loop import run_sync

    return run_sync(revise_async(experiment, out_dir=out_dir, track=track))


Base = dict[str, tuple[pd.DataFrame, pd.DataFrame]]  # reviewer -> the current policy's (dev, held-out) verdicts


async def judged(reviewer: Reviewer, frame: pd.DataFrame, policy: Policy, label: str,
                 evalset: EvalSet) -> pd.DataFrame:
    """One row per item (the majority over samples) with gold and slices."""
    from harness.metrics.samples import majority
    from harness.pipeline.finish import join_gold
    from harness.verdicts import verdict_table

    verdicts = await reviewer.review(frame, policy)
    return majority(join_gold(verdict_table(verdicts, policy=label, reviewer=reviewer.name), evalset))


async def judge_current(parts: ReviseParts) -> Base:
    base: Base = {}
    for reviewer in parts.reviewers:
        both = await judged(reviewer, parts.items, parts.current, parts.current.label, parts.evalset)
        ids = both["item_id"].astype(str)
        base[reviewer.name] = (both[ids.isin(set(parts.split.dev))], both[ids.isin(set(parts.split.holdout))])
    return base


def dev_diagnoses(base: Base, slices: list[str]) -> dict[str, list[ErrorKindDiagnosis]]:
    """The dev errors of each reviewer, clustered as `diagnose` does: what the author is shown."""
    return {name: [diagnose_kind(dev.reset_index(drop=True), kind, slices) for kind in ("over_enforcement", "leakage")]
            for name, (dev, _) in base.items()}


async def revise_async(experiment: Experiment, *, out_dir: str | Path | None = None,
                       track: bool = True) -> ReviseResult:
    from harness.pipeline.finish import default_out_dir

    author = experiment.author
    if author is None:
        raise HarnessError("has no 'author' section; add one (model, candidates, holdout, target) to run revise.",
                           path=experiment.source)
    started = dt.datetime.now(dt.UTC)
    out = Path(out_dir) if out_dir is not None else default_out_dir(experiment.name, started, command="revise")
    parts = await asyncio.to_thread(revise_parts, experiment, author)
    current, evalset, reviewers, split = parts.current, parts.evalset, parts.reviewers, parts.split
    try:
        base = await judge_current(parts)
        currents = [CurrentRates(reviewer=name, part=part, **_rates(frame))
                    for name, (dev, held) in base.items() for part, frame in (("dev", dev), ("holdout", held))]
        texts = item_texts(parts.items)
        diagnoses = dev_diagnoses(base, evalset.slices)
        session = AuthorSession(author)
        try:
            if author.describe_clusters:
                for kinds in diagnoses.values():
                    await describe_kinds(kinds, current.label, texts, session, author.describe_clusters)
            messages = revision_messages(current, diagnoses, texts, author.target)
            answers = [await session.ask(messages, sample) for sample in range(author.candidates)]
        finally:
            await session.aclose()
        usage = session.usage
        _write_dev_diagnosis(out, experiment, current, evalset.slices, diagnoses, author)

        (out / CANDIDATES_DIR).mkdir(parents=True, exist_ok=True)
        candidates: list[CandidateResult] = []
        for index, (answer, why) in enumerate(answers, start=1):
            if answer is None:
                candidates.append(CandidateResult(index=index, file="", sha256="", valid=False,
                                                  reason=f"no answer ({why})", version=None, tokens=None, lint="",
                                                  why="not judged: no answer"))
                continue
            text = policy_document(answer)
            name = f"{CANDIDATES_DIR}/candidate-{index}.md"
            _write_text(out / name, text)
            check = check_candidate(text, current, max_policy_tokens=author.max_policy_tokens, path=name)
            candidate = CandidateResult(index=index, file=name, sha256=sha256_text(text), valid=check.valid,
                                        reason=check.reason, version=check.policy.version if check.policy else None,
                                        tokens=check.tokens, lint=check.lint, why="")
            if check.policy is None:
                candidate.why = f"invalid: {check.reason}"
                candidates.append(candidate)
                continue
            for reviewer in reviewers:
                after = await judged(reviewer, parts.held_items, check.policy, f"candidate-{index}", evalset)
                candidate.judgements.append(judge_candidate(reviewer.name, base[reviewer.name][1], after,
                                                            experiment, current, evalset.slices, author.target))
            candidate.accepted, candidate.why = verdict(candidate.judgements, author.target)
            candidates.append(candidate)
    finally:
        for reviewer in reviewers:
            reviewer.close()

    revised = ReviseResult(
        experiment=experiment.name, created_at=started.isoformat(timespec="seconds"), out_dir=str(out),
        policy_path=str(Path(current.path).absolute()), policy=current.label, policy_sha256=current.sha256,
        target=author.target, author_model=author.model, reviewers=[r.name for r in reviewers],
        split=SplitRecord(seed=split.seed, holdout_share=split.holdout_share, strata=split.strata,
                          dev=split.dev, holdout=split.holdout),
        current=currents, candidates=candidates, author_usage=usage)
    write_outputs(revised, out, current)
    if track and experiment.tracking.enabled:
        await asyncio.to_thread(track_revise, revised, out, current, experiment)
    return revised


def _write_text(path: Path, text: str) -> None:
    from harness.record import atomic_write_text

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)


def _write_dev_diagnosis(out: Path, experiment: Experiment, current: Policy, slices: list[str],
                         diagnoses: dict[str, list[ErrorKindDiagnosis]], author: AuthorConfig) -> None:
    """The dev errors the author was shown, as `diagnose` writes them (OUT/diagnosis.json)."""
    diagnosis = Diagnosis(run=f"{experiment.name} (revise dev part)", run_dir=str(out), candidate=current.label,
                          baseline=None, slices=slices,
                          groups=[ReviewerDiagnosis(reviewer=name, policy=current.label, kinds=kinds)
                                  for name, kinds in diagnoses.items()],
                          author_model=author.model if author.describe_clusters else None)
    _write_text(out / DIAGNOSIS, diagnosis.model_dump_json(indent=2) + "\n")


def write_outputs(result: ReviseResult, out: Path, current: Policy) -> None:
    from harness.reporting.revise import revise_page

    _write_text(out / REVISE_JSON, result.model_dump_json(indent=2) + "\n")
    _write_text(out / "revise.html", revise_page(result, current.text, out))


# --- judging a candidate on held-out ---------------------------------------------------------------

def _flags(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    gold = frame["gold"].astype(str)
    decision = frame["decision"].astype(str)
    benign = gold == BENIGN
    wrong = ((decision == ACTIONED) & benign) | ((decision == ALLOWED) & ~benign)
    return benign, decision, wrong


def _rates(frame: pd.DataFrame) -> dict[str, float | None]:
    benign, decision, wrong = _flags(frame)
    decided = decision != ABSTAINED

    def share(num: pd.Series, den: pd.Series) -> float | None:
        return float(num.sum() / den.sum()) if den.sum() else None

    return {"over_enforcement": share((decision == ACTIONED) & benign, decided & benign),
            "leakage": share((decision == ALLOWED) & ~benign, decided & ~benign),
            "errors": share(wrong & decided, decided)}


def paired_rate(name: str, before: pd.Series, after: pd.Series, among: pd.Series) -> RateCheck:
    """A paired change of a 0/1 outcome among some items (numpy-aligned boolean Series)."""
    from harness.metrics.paired import paired_change

    b, a = before[among], after[among]
    change = paired_change(int((b & a).sum()), int((b & ~a).sum()), int((~b & a).sum()), int((~b & ~a).sum()))
    return RateCheck(name=name, **dict(change))


def judge_candidate(reviewer: str, before: pd.DataFrame, after: pd.DataFrame, experiment: Experiment,
                    current: Policy, slices: list[str], target: Target) -> ReviewerJudgement:
    from statsmodels.stats.multitest import multipletests

    from harness.metrics import reviewer_metrics

    joined = before.merge(after[["item_id", "decision"]], on="item_id", suffixes=("", "_after"), validate="one_to_one")
    gold = joined["gold"].astype(str)
    benign = gold == BENIGN
    d_before, d_after = joined["decision"].astype(str), joined["decision_after"].astype(str)
    decided = (d_before != ABSTAINED) & (d_after != ABSTAINED)
    outcomes = {  # (before, after, among): the outcome whose rate should fall
        "over_enforcement": (d_before == ACTIONED, d_after == ACTIONED, decided & benign),
        "leakage": (d_before == ALLOWED, d_after == ALLOWED, decided & ~benign),
        "errors": ((d_before == ACTIONED) == benign, (d_after == ACTIONED) == benign, decided),
    }
    target_check = paired_rate(target, *outcomes[target])
    improved = bool(target_check.p_value is not None and target_check.p_value < ALPHA
                    and target_check.ci_high is not None and target_check.ci_high < 0)
    checks = [paired_rate(name, *outcomes[name]) for name in ("over_enforcement", "leakage") if name != target]
    for category in current.category_ids:
        of_cat = gold.map(lambda g, category=category: category in g.split(";"))
        b, a, among = outcomes["leakage"]
        checks.append(paired_rate(f"leakage@{category}", b, a, among & of_cat))
    gate_scopes: list[tuple[str, str]] = []
    for key, gate in experiment.gates.items():
        metric = key.split("@", 1)[0]
        if metric not in ("over_enforcement", "leakage"):
            continue
        if gate.slice:
            scopes = [next(iter(gate.slice.items()))]
        elif gate.per and gate.per in joined.columns:  # a gate per value: each value is a checked slice
            scopes = [(gate.per, value) for value in sorted(set(joined[gate.per].astype(str)))]
        else:
            scopes = []
        for column, value in scopes:
            if column in joined.columns and (metric, f"{column}={value}") not in gate_scopes:
                gate_scopes.append((metric, f"{column}={value}"))
                b, a, among = outcomes[metric]
                checks.append(paired_rate(f"{metric}@{column}={value}", b, a,
                                          among & (joined[column].astype(str) == str(value))))
    tested = [c for c in checks if c.up + c.down > 0]
    if tested:
        adjusted = multipletests([c.p_value or 1.0 for c in tested], alpha=ALPHA, method="holm")[1]
        for check, p in zip(tested, adjusted, strict=True):
            check.p_adjusted = float(p)
            check.worse = bool(p < ALPHA and (check.change or 0) > 0)
    regressions = [c.name for c in checks if c.worse]

    categories = current.category_ids
    metrics_before = reviewer_metrics(before, categories=categories, slices=slices, gates=experiment.gates)
    metrics_after = reviewer_metrics(after, categories=categories, slices=slices, gates=experiment.gates)
    gates = [GateChange(gate=b.gate, before=b.status, after=a.status)
             for b, a in zip(metrics_before.gates, metrics_after.gates, strict=True)]
    broken = [g.gate for g in gates if g.before == "pass" and g.after != "pass"]
    changed = joined[d_before != d_after]
    flips = [Flip(item_id=str(r["item_id"]), gold=str(r["gold"]), before=str(r["decision"]),
                  after=str(r["decision_after"]), text=str(r.get("text") or "")) for _, r in changed.iterrows()]
    return ReviewerJudgement(reviewer=reviewer, target=target_check, improved=improved, checks=checks,
                             regressions=regressions, gates=gates, gates_broken=broken, flips=flips)


def verdict(judgements: list[ReviewerJudgement], target: Target) -> tuple[bool, str]:
    """Accepted only when every policy-reading reviewer shows the improvement and no regression."""
    reasons: list[str] = []
    for j in judgements:
        t = j.target
        if not j.improved:
            shown = (f"{t.before:.1%} -> {t.after:.1%}, p={t.p_value:.3g}" if t.before is not None
                     and t.after is not None and t.p_value is not None else "no items")
            reasons.append(f"{j.reviewer}: {target} did not fall significantly on held-out ({shown})")
        for name in j.regressions:
            check = next(c for c in j.checks if c.name == name)
            reasons.append(f"{j.reviewer}: {name} got worse on held-out ({check.before:.1%} -> {check.after:.1%}, "
                           f"Holm p={check.p_adjusted:.3g})")
        for gate in j.gates_broken:
            after = next(g.after for g in j.gates if g.gate == gate)
            reasons.append(f"{j.reviewer}: gate {gate} passed and is now {after}")
    if reasons:
        return False, "rejected: " + "; ".join(reasons)
    parts = [f"{j.reviewer}: {target} {j.target.before:.1%} -> {j.target.after:.1%} "
             f"(change {j.target.change:+.1%}, 95% CI {j.target.ci_low:+.1%} to {j.target.ci_high:+.1%}, "
             f"p={j.target.p_value:.3g})" for j in judgements]
    return True, "accepted: " + "; ".join(parts) + "; no regression, no gate broken"


# --- MLflow: accepted candidates as prompt versions tagged status=candidate ----------------------

def track_revise(result: ReviseResult, out: Path, current: Policy, experiment: Experiment) -> None:
    """Accepted candidates become prompt versions tagged status=candidate; warns on failure:
    revise.json on disk is the source of truth."""
    from harness.tracking.revision import log_revise

    log_revise(result, out, policy_id=current.id, policy_label=current.label,
               experiment_name=experiment.tracking.experiment_name or f"policy-harness/{experiment.name}")
    write_outputs(result, out, current)
