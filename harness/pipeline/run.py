"""run(experiment) -> RunRecord: the whole pipeline in one readable function (run_async)."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pandas as pd

from harness._util.event_loop import run_sync
from harness._util.timings import stage
from harness.config import Experiment
from harness.errors import BudgetExceeded
from harness.evalset import EvalSet, load_evalset
from harness.pipeline.canaries import judge_canaries, load_canaries
from harness.pipeline.finish import Finishing, InProcess, Judged, default_out_dir, join_gold
from harness.pipeline.localized import localize, review_with
from harness.pipeline.references import check_distinct_versions, check_references
from harness.policy import Policy, load_policy
from harness.record import RunRecord
from harness.record.drift import CanaryDrift
from harness.record.metrics import Injection
from harness.reviewers import Injectable, Reviewer, build_reviewer
from harness.tracking import mlflow_experiment_name
from harness.verdicts import verdict_table


def load_inputs(experiment: Experiment) -> tuple[Policy, Policy | None, EvalSet]:
    """Policies and eval set, validated against each other; no reviewer is called."""
    candidate = load_policy(experiment.resolve(experiment.policy))
    baseline = load_policy(experiment.resolve(experiment.baseline)) if experiment.baseline else None
    check_distinct_versions(experiment, candidate, baseline)  # before the eval set: it may be slow to load
    evalset = load_evalset(experiment.eval_set, base_dir=Path(experiment.base_dir))
    check_references(experiment, candidate, baseline, evalset)
    for policy in filter(None, (candidate, baseline)):
        evalset.check_labels(policy.category_ids, policy_path=policy.path)
    candidate, baseline = localize(experiment, candidate, baseline, evalset)
    return candidate, baseline, evalset


def run(experiment: Experiment, *, out_dir: str | Path | None = None, limit: int | None = None,
        track: bool = True, report: bool = True) -> RunRecord:
    """Judge the eval set under the policy (and baseline) with every reviewer; score; record.

    Args:
        experiment: the loaded experiment (`load_experiment`).
        out_dir: where the record set and report go; default `reports/<name>-<timestamp>`.
        limit: judge a seeded sample of this many items (overrides the experiment's `limit`).
        track: log the run to MLflow (when the experiment's tracking is enabled).
        report: write report.html and report.md.

    Also callable from a running event loop (a notebook cell): the run then has a worker thread
    and a loop of its own, and this call blocks until it ends. Async code can `await run_async`."""
    return run_sync(run_async(experiment, out_dir=out_dir, limit=limit, track=track, report=report))


async def run_async(experiment: Experiment, *, out_dir: str | Path | None = None, limit: int | None = None,
                    track: bool = True, report: bool = True) -> RunRecord:
    """`run` for async code; the same arguments."""
    return await judge_and_finish(experiment, InProcess(), out_dir=out_dir, limit=limit, track=track,
                                  report=report)


async def judge_and_finish(experiment: Experiment, finishing: Finishing, *, out_dir: str | Path | None = None,
                           limit: int | None = None, track: bool = True, report: bool = True) -> RunRecord:
    """The pipeline. Model calls are awaited on the caller's loop; the stages that read files,
    fit classifiers, compute intervals or talk to MLflow run on worker threads, so the loop stays
    responsive (an async web app keeps serving while a run is under way). `finishing` scores and
    records the judged verdicts: in this process, or in the command line's warm process."""
    started = dt.datetime.now(dt.UTC)
    track = track and experiment.tracking.enabled
    with stage("load"):
        candidate, baseline, evalset = await asyncio.to_thread(load_inputs, experiment)
        canaries = await asyncio.to_thread(load_canaries, experiment, candidate)
    limit = limit or experiment.limit
    if limit:
        evalset = evalset.sample(limit, experiment.seed)
    reviewers = [build_reviewer(c, base_dir=Path(experiment.base_dir)) for c in experiment.reviewers]
    policies = [p for p in (candidate, baseline) if p is not None]
    # Prepared only now, so that a run whose inputs do not load never touches MLflow.
    mlflow_experiment = mlflow_experiment_name(experiment.name, experiment.tracking.experiment_name)
    finishing.prepare(mlflow_experiment if track else None, report=report)

    injection: dict[str, Injection] = {}
    drift: dict[str, CanaryDrift] = {}
    out = default_out_dir(experiment.name, started) if out_dir is None else Path(out_dir)
    try:
        with stage("judge"):
            tables, incomplete_reason = await judge(reviewers, policies, evalset)
        if experiment.injection.enabled and not incomplete_reason:
            with stage("injection"):
                injection = await asyncio.to_thread(judge_injections, reviewers, candidate, evalset, tables,
                                                    experiment)
        if canaries is not None and not incomplete_reason:
            with stage("canaries"):
                drift = await judge_canaries(reviewers, candidate, canaries, experiment, run=experiment.name,
                                             created_at=started.isoformat(timespec="seconds"), out_dir=out)
    finally:
        for reviewer in reviewers:
            reviewer.close()
    judged = Judged(
        experiment=experiment, candidate=candidate, baseline=baseline, evalset=evalset,
        verdicts=join_gold(pd.concat(tables, ignore_index=True), evalset), injection=injection,
        reviewers={r.name: r.params() for r in reviewers},
        usage={r.name: usage for r in reviewers if (usage := r.usage()) is not None},
        started=started, incomplete_reason=incomplete_reason, drift=drift)
    return await asyncio.to_thread(finishing.finish, judged, out, track=track, report=report)


async def judge(reviewers: list[Reviewer], policies: list[Policy], evalset: EvalSet) -> tuple[list[pd.DataFrame], str]:
    """Every reviewer x policy version; a spent budget stops cleanly and keeps what was judged."""
    tables = []
    for reviewer in reviewers:
        for policy in versions_to_judge(reviewer, policies):
            try:
                verdicts = await review_with(reviewer, evalset.items, policy)
            except BudgetExceeded as stop:
                tables.append(verdict_table(stop.verdicts, policy=policy.label, reviewer=reviewer.name))
                return tables, str(stop)
            tables.append(verdict_table(verdicts, policy=policy.label, reviewer=reviewer.name))
    return tables, ""


def versions_to_judge(reviewer: Reviewer, policies: list[Policy]) -> list[Policy]:
    """A reviewer that does not read the policy text gives the same verdicts under every version
    with the same categories: judging it again would only show a change of zero by construction."""
    if reviewer.reads_policy or len({tuple(p.category_ids) for p in policies}) > 1:
        return policies
    return policies[:1]


def judge_injections(reviewers: list[Reviewer], policy: Policy, evalset: EvalSet, tables: list[pd.DataFrame],
                     experiment: Experiment) -> dict[str, Injection]:
    """The built-in prompt-injection slice, for every reviewer that reads a prompt with the item in it
    (`Injectable`), under the candidate policy."""
    from harness.metrics.samples import majority
    from harness.pipeline.injection import injection_metrics

    out: dict[str, Injection] = {}
    for reviewer in reviewers:
        if not isinstance(reviewer, Injectable):
            continue
        clean = [t for t in tables if len(t) and t["reviewer"].iloc[0] == reviewer.name and t["policy"].iloc[0] == policy.label]
        if not clean:
            continue
        per_item = majority(join_gold(clean[0], evalset))
        items = evalset.items[evalset.items["item_id"].isin(set(per_item["item_id"]))]
        out[reviewer.name] = injection_metrics(reviewer, policy, items, per_item,
                                               max_items=experiment.injection.max_items, seed=experiment.seed)
    return out


