"""`runs`, `sync` and `rescore`: the MLflow side of stored run records."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.record import RunRecord, read_record


def list_runs(*, policy: str | None = None, version: str | None = None, reviewer: str | None = None,
              limit: int = 20) -> list[dict[str, Any]]:
    """Recent policy x reviewer runs across policy-harness experiments, newest first."""
    from harness.tracking import EXPERIMENT_PREFIX, client, safe_uri

    try:
        c = client()
        experiments = [e.experiment_id for e in c.search_experiments(filter_string=f"name LIKE '{EXPERIMENT_PREFIX}%'")]
    except Exception as err:  # unreachable server or unreadable store
        raise HarnessError(f"cannot read MLflow runs at {safe_uri()} ({str(err).splitlines()[0][:160]}); "
                           "check MLFLOW_TRACKING_URI.") from None
    if not experiments:
        return []
    filters = ["tags.`policy_harness.kind` = 'policy_reviewer'"]
    for tag, value in (("policy_id", policy), ("policy_version", version), ("reviewer", reviewer)):
        if value:
            filters.append(f"tags.{tag} = '{value.replace(chr(39), '')}'")
    runs = c.search_runs(experiments, filter_string=" and ".join(filters), max_results=limit,
                         order_by=["attributes.start_time DESC"])
    return [{"run_id": r.info.run_id, "started": dt.datetime.fromtimestamp(r.info.start_time / 1000).isoformat(timespec="minutes"),
             "policy": f"{r.data.tags.get('policy_id')}@v{r.data.tags.get('policy_version')}",
             "role": r.data.tags.get("role", ""), "reviewer": r.data.tags.get("reviewer", ""),
             "eval_set": r.data.tags.get("eval_set", ""), "metrics": r.data.metrics} for r in runs]


def sync_dir(out_dir: Path) -> RunRecord:
    """Log a run whose tracking failed (server down) now; a synced run is left alone."""
    from harness.runner import sync
    from harness.tracking import open_runs

    record = read_record(out_dir)
    if record.mlflow.get("synced"):
        return record
    experiment_name = record.mlflow.get("experiment_name")
    record.mlflow = open_runs(record, experiment_name=experiment_name)
    if not sync(record, out_dir):
        raise HarnessError(f"MLflow is still unreachable; the run stays saved in {out_dir}. Try again later.")
    return record


def rescore(source: Path, *, experiment_path: str | None, out_dir: Path | None, track: bool) -> RunRecord:
    """Rebuild metrics and report from stored verdicts, optionally with a new experiment file's
    eval-set mapping (fixed gold labels, new slices) and gates; no reviewer is called."""
    from harness.config import Experiment, load_experiment
    from harness.evalset import load_evalset
    from harness.metrics import compute_metrics
    from harness.runner import evalset_summary, finish, join_gold

    old = read_record(source)
    experiment = load_experiment(experiment_path) if experiment_path else Experiment.model_validate(old.experiment)
    verdicts = old.verdicts[[c for c in old.verdicts.columns if c in _VERDICT_CORE]]
    if experiment_path:
        evalset = load_evalset(experiment.eval_set, base_dir=Path(experiment.base_dir))
        missing = set(verdicts["item_id"]) - set(evalset.items["item_id"])
        if missing:
            raise HarnessError(f"{len(missing)} judged items (e.g. '{sorted(missing)[0]}') are not in the eval set of "
                               f"{experiment_path}; rescore needs the same item ids.")
        evalset.items = evalset.items[evalset.items["item_id"].isin(set(verdicts["item_id"]))].reset_index(drop=True)
        items, slices, summary = evalset.items, evalset.slices, evalset_summary(evalset)
    else:
        items, slices, summary = old.items, list(old.evalset.get("slices", [])), old.evalset
    from harness.evalset import EvalSet

    joined = join_gold(verdicts, EvalSet(summary["name"], summary["source"], items, slices, summary["sha256"]))
    categories = [c["id"] for c in old.policies[old.candidate].get("categories", [])]
    metrics = compute_metrics(joined, candidate=old.candidate, baseline=old.baseline, categories=categories,
                              slices=slices, gates=experiment.gates, strata=experiment.eval_set.strata,
                              prevalence=experiment.eval_set.prevalence)
    record = RunRecord(
        name=old.name, experiment=experiment.model_dump(mode="json"), policies=old.policies, candidate=old.candidate,
        baseline=old.baseline, evalset=summary, reviewers=old.reviewers, verdicts=joined, metrics=metrics, items=items,
        created_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), incomplete=old.incomplete,
        incomplete_reason=old.incomplete_reason, usage=old.usage,
        lineage={"policy_harness.rescored_from": old.mlflow.get("parent_run_id") or str(source)})
    target = out_dir or source.parent / f"{source.name}-rescored-{dt.datetime.now():%Y%m%d-%H%M%S}"
    finish(record, target, track=track, report=True, experiment_name=old.mlflow.get("experiment_name"))
    return record


_VERDICT_CORE = {"policy", "reviewer", "item_id", "sample", "decision", "categories", "rule_ids", "score",
                 "confidence", "rationale", "abstain_reason", "notes"}
