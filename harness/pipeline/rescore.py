"""`rescore`: new metrics and report from a stored run's verdicts, without calling any reviewer."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from harness.errors import HarnessError
from harness.record import MlflowIds, RunRecord, read_record, replace
from harness.verdicts import VERDICT_COLUMNS


def rescore(source: Path, *, experiment_path: str | None, out_dir: Path | None, track: bool) -> RunRecord:
    """Rebuild metrics and report from stored verdicts, optionally with a new experiment file's
    eval-set mapping (fixed gold labels, new slices) and gates; no reviewer is called. Without an
    experiment file the `annotators` block is carried over: the record does not keep the raw
    annotator judgements, and the block depends on neither verdicts nor gates. Which translations judged
which languages is carried over, and a side-by-side run's localized block is rebuilt."""
    from harness.config import Experiment, load_experiment
    from harness.evalset import load_evalset
    from harness.metrics import compute_metrics
    from harness.pipeline.finish import evalset_summary, finish, join_gold, stored_rationale_inputs

    old = read_record(source)
    if experiment_path is None and "score" in old.experiment:
        return _rescore_scored(old, source, out_dir, track)
    experiment = load_experiment(experiment_path) if experiment_path else Experiment.model_validate(old.experiment)
    verdicts = old.verdicts[[c for c in old.verdicts.columns if c in VERDICT_COLUMNS]]
    if experiment_path:
        evalset = load_evalset(experiment.eval_set, base_dir=Path(experiment.base_dir))
        missing = set(verdicts["item_id"]) - set(evalset.items["item_id"])
        if missing:
            raise HarnessError(f"{len(missing)} judged items (e.g. '{sorted(missing)[0]}') are not in the eval set of "
                               f"{experiment_path}; rescore needs the same item ids.")
        evalset.items = evalset.items[evalset.items["item_id"].isin(set(verdicts["item_id"]))].reset_index(drop=True)
        items, slices, summary = evalset.items, evalset.slices, evalset_summary(evalset)
        annotations = evalset.annotations
    else:
        items, slices, summary = old.items, list(old.evalset.slices), old.evalset
        annotations = None
    from harness.evalset import EvalSet

    joined = join_gold(verdicts, EvalSet(summary.name, summary.source, items, slices, summary.sha256))
    categories = [c.id for c in old.policies[old.candidate].categories]
    metrics = compute_metrics(joined, candidate=old.candidate, baseline=old.baseline, categories=categories,
                              slices=slices, gates=experiment.gates, strata=experiment.eval_set.strata,
                              prevalence=experiment.eval_set.prevalence, annotations=annotations, name=old.name,
                              rationale=stored_rationale_inputs(old))
    if experiment_path is None:
        metrics.annotators = old.metrics.annotators
    # What the translations judged is a fact of the judging; a side-by-side run's paired change per
    # language is recomputed from the new comparison.
    metrics.translations_used = old.metrics.translations_used
    if old.metrics.localized is not None:
        from harness.pipeline.localized import localized_block

        metrics.localized = localized_block(metrics, old.metrics.localized.column, old.metrics.localized.translations)
    record = RunRecord(
        name=old.name, experiment=experiment.model_dump(mode="json"), policies=old.policies, candidate=old.candidate,
        baseline=old.baseline, evalset=summary, reviewers=old.reviewers, verdicts=joined, metrics=metrics, items=items,
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), incomplete=old.incomplete,
        incomplete_reason=old.incomplete_reason, usage=old.usage,
        lineage={"policy_harness.rescored_from": old.mlflow.parent_run_id or str(source)})
    target = out_dir or source.parent / f"{source.name}-rescored-{dt.datetime.now():%Y%m%d-%H%M%S}"
    finish(record, target, track=track, report=True, experiment_name=old.mlflow.experiment_name)
    return record


def _rescore_scored(old: RunRecord, source: Path, out_dir: Path | None, track: bool) -> RunRecord:
    """A `score` record has no experiment: the metrics are rebuilt from its verdicts and items (one
    row per item, or the collapsed table), and its prediction-powered block, which reads rows
    without gold that the record does not keep, is carried over."""
    from harness.evalset import EvalSet
    from harness.metrics import compute_metrics
    from harness.pipeline.finish import finish, join_gold

    summary = old.evalset
    verdicts = old.verdicts[[c for c in old.verdicts.columns if c in VERDICT_COLUMNS]]
    joined = join_gold(verdicts, EvalSet(summary.name, summary.source, old.items, list(summary.slices), summary.sha256))
    metrics = compute_metrics(joined, candidate=old.candidate, baseline=old.baseline,
                              categories=[c.id for c in old.policies[old.candidate].categories],
                              slices=list(summary.slices), gates={})
    metrics.prediction_powered = old.metrics.prediction_powered
    record = replace(old, verdicts=joined, metrics=metrics, mlflow=MlflowIds(), out_dir="",
                     created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                     lineage={"policy_harness.rescored_from": old.mlflow.parent_run_id or str(source)})
    target = out_dir or source.parent / f"{source.name}-rescored-{dt.datetime.now():%Y%m%d-%H%M%S}"
    finish(record, target, track=track, report=True, experiment_name=old.mlflow.experiment_name)
    return record

