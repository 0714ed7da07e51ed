"""run(experiment) -> RunRecord: the whole pipeline in one readable function (run_async)."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from harness.config import Experiment
from harness.errors import BudgetExceeded
from harness.evalset import EvalSet, load_evalset
from harness.event_loop import run_sync
from harness.policy import Policy, load_policy
from harness.record import MlflowIds, RunRecord, write_record
from harness.references import check_references
from harness.reviewers import Reviewer, build_reviewer, review_async
from harness.timings import stage
from harness.tracking import mlflow_experiment_name
from harness.tracking.prepare import StorePreparation
from harness.verdicts import verdict_table

if TYPE_CHECKING:
    from harness.finisher import Finisher

DEFAULT_REPORTS = Path("reports")


def load_inputs(experiment: Experiment) -> tuple[Policy, Policy | None, EvalSet]:
    """Policies and eval set, validated against each other; no reviewer is called."""
    candidate = load_policy(experiment.resolve(experiment.policy))
    baseline = load_policy(experiment.resolve(experiment.baseline)) if experiment.baseline else None
    evalset = load_evalset(experiment.eval_set, base_dir=Path(experiment.base_dir))
    check_references(experiment, candidate, baseline, evalset)
    for policy in filter(None, (candidate, baseline)):
        evalset.check_labels(policy.category_ids, policy_path=policy.path)
    return candidate, baseline, evalset


def run(experiment: Experiment, *, out_dir: str | Path | None = None, limit: int | None = None,
        track: bool = True, report: bool = True, finisher: Finisher | None = None) -> RunRecord:
    """Judge the eval set under the policy (and baseline) with every reviewer; score; record.

    Also callable from a running event loop (a notebook cell): the run then has a worker thread
    and a loop of its own, and this call blocks until it ends. Async code can `await run_async`."""
    return run_sync(run_async(experiment, out_dir=out_dir, limit=limit, track=track, report=report,
                              finisher=finisher))


async def run_async(experiment: Experiment, *, out_dir: str | Path | None = None, limit: int | None = None,
                    track: bool = True, report: bool = True, finisher: Finisher | None = None) -> RunRecord:
    """The pipeline. Model calls are awaited on the caller's loop; the stages that read files,
    fit classifiers, compute intervals or talk to MLflow run on worker threads, so the loop stays
    responsive (an async web app keeps serving while a run is under way). With a `finisher` (the
    command line passes one), the stages after the model calls run in its warm process instead."""
    started = dt.datetime.now(dt.timezone.utc)
    track = track and experiment.tracking.enabled
    finisher = finisher if finisher and finisher.alive else None
    with stage("load"):
        candidate, baseline, evalset = await asyncio.to_thread(load_inputs, experiment)
    limit = limit or experiment.limit
    if limit:
        evalset = evalset.sample(limit, experiment.seed)
    reviewers = [build_reviewer(c, base_dir=Path(experiment.base_dir)) for c in experiment.reviewers]
    policies = [p for p in (candidate, baseline) if p is not None]
    # Started only now, so that a run whose inputs do not load never touches MLflow.
    mlflow_experiment = mlflow_experiment_name(experiment.name, experiment.tracking.experiment_name)
    store = None
    if finisher:
        finisher.prepare(mlflow_experiment if track else None, report=report)
    elif track:
        store = StorePreparation.start(mlflow_experiment)

    injection: dict[str, object] = {}
    try:
        with stage("judge"):
            tables, incomplete_reason = await judge(reviewers, policies, evalset)
        if experiment.injection.enabled and not incomplete_reason:
            with stage("injection"):
                injection = await asyncio.to_thread(judge_injections, reviewers, candidate, evalset, tables,
                                                    experiment)
    finally:
        for reviewer in reviewers:
            reviewer.close()
    judged = Judged(
        experiment=experiment, candidate=candidate, baseline=baseline, evalset=evalset,
        verdicts=join_gold(pd.concat(tables, ignore_index=True), evalset), injection=injection,
        reviewers={r.name: {**r.params(), "reads_policy": r.reads_policy} for r in reviewers},
        usage={r.name: usage for r in reviewers if (usage := r.usage())},
        started=started, incomplete_reason=incomplete_reason)
    out = default_out_dir(experiment.name, started) if out_dir is None else Path(out_dir)
    if finisher:
        return await asyncio.to_thread(finisher.finish, judged, out, track=track, report=report)
    if store:
        with stage("mlflow-wait"):
            await asyncio.to_thread(store.wait)
    return await asyncio.to_thread(score_and_finish, judged, out, track=track, report=report)


@dataclass
class Judged:
    """What the model calls produced, with everything the later stages need to score and record it."""
    experiment: Experiment
    candidate: Policy
    baseline: Policy | None
    evalset: EvalSet
    verdicts: pd.DataFrame  # with gold and slices joined (join_gold)
    injection: dict[str, object]
    reviewers: dict[str, dict[str, object]]
    usage: dict[str, dict[str, object]]
    started: dt.datetime
    incomplete_reason: str


def score_and_finish(judged: Judged, out_dir: Path, *, track: bool, report: bool) -> RunRecord:
    """Metrics of the judged verdicts, then the run record, its outputs, its report and its MLflow runs."""
    experiment, candidate, baseline, evalset = judged.experiment, judged.candidate, judged.baseline, judged.evalset
    with stage("metrics"):
        from harness.metrics import compute_metrics  # here, so `validate` does not pay for scipy and sklearn

        metrics = compute_metrics(
            judged.verdicts, candidate=candidate.label, baseline=baseline.label if baseline else None,
            categories=candidate.category_ids, slices=evalset.slices, gates=experiment.gates,
            strata=experiment.eval_set.strata, prevalence=experiment.eval_set.prevalence,
            annotations=evalset.annotations)
    if judged.injection:
        metrics.injection = judged.injection
    record = RunRecord(
        name=experiment.name,
        experiment=experiment.model_dump(mode="json"),
        policies={p.label: policy_summary(p) for p in filter(None, (candidate, baseline))},
        candidate=candidate.label,
        baseline=baseline.label if baseline else None,
        evalset=evalset_summary(evalset),
        reviewers=judged.reviewers,
        verdicts=judged.verdicts,
        metrics=metrics,
        items=evalset.items,
        created_at=judged.started.isoformat(timespec="seconds"),
        incomplete=bool(judged.incomplete_reason),
        incomplete_reason=judged.incomplete_reason,
        usage=judged.usage,
    )
    finish(record, out_dir, track=track, report=report, experiment_name=experiment.tracking.experiment_name)
    return record


async def judge(reviewers: list[Reviewer], policies: list[Policy], evalset: EvalSet) -> tuple[list[pd.DataFrame], str]:
    """Every reviewer x policy version; a spent budget stops cleanly and keeps what was judged."""
    tables = []
    for reviewer in reviewers:
        for policy in versions_to_judge(reviewer, policies):
            try:
                verdicts = await review_async(reviewer, evalset.items, policy)
            except BudgetExceeded as stop:
                tables.append(verdict_table(getattr(stop, "verdicts", []), policy=policy.label, reviewer=reviewer.name))
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
                     experiment: Experiment) -> dict[str, object]:
    """The built-in prompt-injection slice, for every LLM reviewer under the candidate policy."""
    from harness.injection import injection_metrics
    from harness.metrics.samples import majority

    out: dict[str, object] = {}
    for reviewer in reviewers:
        if reviewer.kind != "llm":
            continue
        clean = [t for t in tables if len(t) and t["reviewer"].iloc[0] == reviewer.name and t["policy"].iloc[0] == policy.label]
        if not clean:
            continue
        per_item = majority(join_gold(clean[0], evalset))
        items = evalset.items[evalset.items["item_id"].isin(set(per_item["item_id"]))]
        out[reviewer.name] = injection_metrics(reviewer, policy, items, per_item,
                                               max_items=experiment.injection.max_items, seed=experiment.seed)
    return out


def finish(record: RunRecord, out_dir: Path, *, track: bool, report: bool,
           experiment_name: str | None = None) -> None:
    """Write outputs first (nothing is lost), then open MLflow runs so the report can link them,
    render, and log. A tracking failure warns and leaves the record marked for `sync`."""
    with stage("record"):
        write_record(record, out_dir)
    if track:
        from harness.tracking import open_runs, warn_unsynced

        try:
            with stage("mlflow-open"):
                record.mlflow = open_runs(record, experiment_name=experiment_name)
        except Exception as err:  # tracking must never cost the results
            warn_unsynced(out_dir, err)
            record.mlflow = MlflowIds(synced=False, experiment_name=experiment_name)
    if report:
        from harness.reporting import write_reports

        with stage("report"):
            write_reports(record, out_dir)
    write_record(record, out_dir)
    if track and record.mlflow.parent_run_id:
        with stage("mlflow-log"):
            sync(record, out_dir)


def sync(record: RunRecord, out_dir: Path) -> bool:
    """Log an opened run record to MLflow; on failure warn and keep it marked unsynced."""
    from harness.tracking import log_runs, warn_unsynced

    try:
        log_runs(record, out_dir)
    except Exception as err:  # as above: the record on disk stays the source of truth
        warn_unsynced(out_dir, err)
        return False
    write_record(record, out_dir)
    return True


def join_gold(verdicts: pd.DataFrame, evalset: EvalSet) -> pd.DataFrame:
    """Verdicts with gold, text and slices beside each decision (what verdicts.parquet holds)."""
    columns = ["item_id", "gold", "text", "weight", "contested", *evalset.slices]
    if "gold_unknown" in evalset.items:  # multi-label sets: categories whose gold label is missing
        columns.insert(2, "gold_unknown")
    if "_count" in evalset.items:  # a collapsed prediction log (score): how many items each row stands for
        columns.append("_count")
    return verdicts.merge(evalset.items[columns], on="item_id", how="left", validate="many_to_one")


def policy_summary(policy: Policy) -> dict[str, object]:
    return {"id": policy.id, "version": policy.version, "title": policy.title, "sha256": policy.sha256,
            "path": policy.path, "categories": [{"id": c.id, "name": c.name} for c in policy.categories],
            "rules": [{"id": r.id, "text": r.text, "exception": r.is_exception} for r in policy.rules],
            "text": policy.text}


def evalset_summary(evalset: EvalSet) -> dict[str, object]:
    return {"name": evalset.name, "source": evalset.source, "sha256": evalset.sha256, "items": len(evalset),
            "slices": evalset.slices, "license": evalset.license, "label_counts": evalset.label_counts}


def default_out_dir(name: str, started: dt.datetime) -> Path:
    from harness.safe_names import child_path  # the experiment name comes from a file

    return child_path(DEFAULT_REPORTS, name, suffix=f"-{started.strftime('%Y%m%d-%H%M%S')}")
