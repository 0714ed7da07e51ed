"""Judged verdicts -> metrics -> run record -> report -> MLflow: the stages after the model calls.

`run` hands its `Judged` verdicts to a `Finishing`: `InProcess` (the notebook default) runs
`score_and_finish` here; the command line's warm process (`pipeline.warm`) runs the same function
in a process that imported these stages while the model calls ran. `warm_up` is what that process
pays for in advance.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

import pandas as pd

from harness._util.timings import stage
from harness.config import Experiment
from harness.evalset import EvalSet
from harness.policy import Policy, parse_policy
from harness.policy.structure import PolicyStructure, policy_structure
from harness.record import (
    EvalSetSummary,
    Injection,
    MlflowIds,
    PolicySummary,
    ReviewerParams,
    RunRecord,
    Usage,
    write_record,
)
from harness.record.drift import CanaryDrift
from harness.record.header import LLMParams, PolicyCategory, PolicyRule

if TYPE_CHECKING:
    from harness.tracking.prepare import StorePreparation

DEFAULT_REPORTS = Path("reports")


class Finishing(Protocol):
    """Who finishes a run: told what to ready once the inputs have loaded, then handed the verdicts."""

    def prepare(self, mlflow_experiment: str | None, *, report: bool) -> None: ...

    def finish(self, judged: Judged, out_dir: Path, *, track: bool, report: bool) -> RunRecord: ...


class InProcess:
    """Finish in this process; a new SQLite store is created (its migrations run) by a child process
    while the model calls run (`tracking.prepare`)."""

    def __init__(self) -> None:
        self._store: StorePreparation | None = None

    def prepare(self, mlflow_experiment: str | None, *, report: bool) -> None:
        if mlflow_experiment is not None:
            from harness.tracking.prepare import StorePreparation

            self._store = StorePreparation.start(mlflow_experiment)

    def finish(self, judged: Judged, out_dir: Path, *, track: bool, report: bool) -> RunRecord:
        if self._store is not None:
            with stage("mlflow-wait"):
                self._store.wait()
        return score_and_finish(judged, out_dir, track=track, report=report)


def stages_loaded() -> bool:
    """True in a process that has imported the finishing stages already (a notebook after a run, a
    test session): finishing there is faster than waiting for a new process to import them again."""
    return all(name in sys.modules for name in ("harness.metrics", "harness.reporting.html",
                                                "harness.reporting.markdown"))


def import_stages() -> None:
    """Import the scientific stack and the report modules `score_and_finish` will need."""
    # The imports are the point: paid for before the verdicts arrive.
    import harness.metrics
    import harness.reporting.html
    import harness.reporting.markdown  # noqa: F401


def warm_up(mlflow_experiment: str | None, *, report: bool) -> None:
    """Open, ahead of time, what `score_and_finish` will need: templates compiled, the MLflow store."""
    if report:
        from harness.reporting.html import compile_templates

        compile_templates()
    if mlflow_experiment is not None:
        from harness.tracking.prepare import warm_store

        warm_store(mlflow_experiment)
    import sklearn.metrics  # noqa: F401  last: only threshold analysis (scored verdicts) needs it


@dataclass
class Judged:
    """What the model calls produced, with everything the later stages need to score and record it."""
    experiment: Experiment
    candidate: Policy
    baseline: Policy | None
    evalset: EvalSet
    verdicts: pd.DataFrame  # with gold and slices joined (join_gold)
    injection: dict[str, Injection]
    reviewers: dict[str, ReviewerParams]
    usage: dict[str, Usage]
    started: dt.datetime
    incomplete_reason: str
    drift: dict[str, CanaryDrift] = field(default_factory=dict)  # per LLM reviewer (pipeline/canaries.py)


def score_and_finish(judged: Judged, out_dir: Path, *, track: bool, report: bool) -> RunRecord:
    """Metrics of the judged verdicts, then the run record, its outputs, its report and its MLflow runs."""
    experiment, candidate, baseline, evalset = judged.experiment, judged.candidate, judged.baseline, judged.evalset
    with stage("metrics"):
        from harness.metrics import compute_metrics  # here, so `validate` does not pay for scipy and sklearn

        metrics = compute_metrics(
            judged.verdicts, candidate=candidate.label, baseline=baseline.label if baseline else None,
            categories=candidate.category_ids, slices=evalset.slices, gates=experiment.gates,
            strata=experiment.eval_set.strata, prevalence=experiment.eval_set.prevalence,
            annotations=evalset.annotations, name=experiment.name,
            rationale=rationale_inputs(judged))
    if judged.injection:
        metrics.injection = judged.injection
    if experiment.localized != "off":
        from harness.pipeline.localized import localized_metrics

        localized_metrics(metrics, candidate, baseline, evalset.items)
    if judged.drift:
        metrics.drift = judged.drift
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


def finish(record: RunRecord, out_dir: Path, *, track: bool, report: bool,
           experiment_name: str | None = None) -> None:
    """Write the record set, open the MLflow runs (ids only, so the report can link them), render
    the report, log the runs, and write the record again.

    The record set is written twice on purpose: first before MLflow is touched, so a dead or hanging
    server, a crash or Ctrl-C never costs the results ("outputs first, nothing is lost"); then once
    more at the end, because only then does it hold the run ids and whether they were logged. A
    tracking failure warns and leaves the record marked for `sync`."""
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
    if track and record.mlflow.parent_run_id:
        from harness.tracking.runs import sync

        with stage("mlflow-log"):
            sync(record, out_dir)
    write_record(record, out_dir)


def rationale_inputs(judged: Judged) -> dict[str, tuple[PolicyStructure, frozenset[str]]]:
    """Each policy's structure and the reviewers whose rationales are checked against it."""
    asked = rationale_reviewers(judged.reviewers)
    return {p.label: (policy_structure(p), asked) for p in filter(None, (judged.candidate, judged.baseline))}


def stored_rationale_inputs(record: RunRecord) -> dict[str, tuple[PolicyStructure, frozenset[str]]]:
    """`rationale_inputs` of a stored run: its policies' texts as it recorded them."""
    asked = rationale_reviewers(record.reviewers)
    return {label: (policy_structure(parse_policy(summary.text, path=summary.path or label)), asked)
            for label, summary in record.policies.items() if summary.text}


def rationale_reviewers(reviewers: Mapping[str, ReviewerParams]) -> frozenset[str]:
    """The LLM reviewers asked for a rationale: not one deciding from its first answer token, which
    writes none (docs/scores.md)."""
    return frozenset(name for name, params in reviewers.items()
                     if isinstance(params, LLMParams) and params.decide != "first_token")


def join_gold(verdicts: pd.DataFrame, evalset: EvalSet) -> pd.DataFrame:
    """Verdicts with gold, text and slices beside each decision (what verdicts.parquet holds)."""
    columns = ["item_id", "gold", "text", "weight", "contested", *evalset.slices]
    if "gold_unknown" in evalset.items:  # multi-label sets: categories whose gold label is missing
        columns.insert(2, "gold_unknown")
    if "parallel_id" in evalset.items:  # translations of one item share it (consistency across languages)
        columns.append("parallel_id")
    if "_count" in evalset.items:  # a collapsed prediction log (score): how many items each row stands for
        columns.append("_count")
    return verdicts.merge(evalset.items[columns], on="item_id", how="left", validate="many_to_one")


def policy_summary(policy: Policy) -> PolicySummary:
    return PolicySummary(
        id=policy.id, version=policy.version, title=policy.title, sha256=policy.sha256, path=policy.path,
        categories=[PolicyCategory(id=c.id, name=c.name) for c in policy.categories],
        rules=[PolicyRule(id=r.id, text=r.text, exception=r.is_exception) for r in policy.rules], text=policy.text)


def evalset_summary(evalset: EvalSet) -> EvalSetSummary:
    """The eval set as the run saw it: name, source, hash, size, slices, label counts."""
    return EvalSetSummary(name=evalset.name, source=evalset.source, sha256=evalset.sha256, items=len(evalset),
                          slices=evalset.slices, license=evalset.license, label_counts=evalset.label_counts)


# Where each command writes when it is not given --out, below DEFAULT_REPORTS (a timestamp follows).
_DEFAULT_DIRS = {"run": "{name}", "revise": "{name}-revise", "score": "score-{name}", "compare": "compare"}
OutputOf = Literal["run", "revise", "score", "compare"]


def default_out_dir(name: str = "", started: dt.datetime | None = None, *, command: OutputOf = "run",
                    out: str | Path | None = None) -> Path:
    """The directory a command writes to: `out` when given (its --out), else reports/<name>-<time>
    for run, reports/<name>-revise-<time> for revise, reports/score-<name>-<time> for score and
    reports/compare-<time> for compare; `started` defaults to now (local time)."""
    if out:
        return Path(out)
    from harness._util.safe_names import child_path  # the name comes from a file

    started = started or dt.datetime.now()
    stem = _DEFAULT_DIRS[command].format(name=name)
    return child_path(DEFAULT_REPORTS, stem, suffix=f"-{started.strftime('%Y%m%d-%H%M%S')}")
