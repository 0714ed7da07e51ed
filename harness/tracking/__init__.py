"""MLflow adapter: a projection of the run record. A tracking failure warns; results stay on disk.

Two phases, so the report can carry run ids: `open_runs` creates the parent run and one child
per policy version x reviewer; `log_runs` fills them with params, metrics, inputs and artifacts.
A run whose tracking failed keeps `mlflow.synced = false` in record.json; `sync` logs it later.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness._util.safe_names import child_path
from harness.record import ITEMS, METRICS, RECORD, REPORT, VERDICTS, Injection, MlflowIds, RunRecord
from harness.record.metrics import RATE_NAMES, Rate, Rates, ReviewerMetrics, Weighted
from harness.tracking.tags import KIND_TAG, Kind, metric_key
from harness.verdicts import write_verdicts

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
EXPERIMENT_PREFIX = "policy-harness/"
log = logging.getLogger(__name__)


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def mlflow_experiment_name(run_name: str, experiment_name: str | None = None) -> str:
    """The MLflow experiment of a run: the one the experiment file names, else one per experiment."""
    return experiment_name or f"{EXPERIMENT_PREFIX}{run_name}"


def safe_uri() -> str:
    return re.sub(r"//[^/@]*@", "//***@", tracking_uri())


# A dead or slow server must cost seconds, not MLflow's default minutes of retries. Set only while
# the harness talks to MLflow, and only where the user has not set them: the process's own MLflow
# use (a notebook's mlflow.log_metric) keeps its environment. MLflow's download bars are off too: the
# portfolio downloads one metrics.json per run, and eight bars said nothing a user needed.
_BOUNDED_ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
                "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}


@contextlib.contextmanager
def client() -> Iterator[Any]:
    """An MlflowClient for the configured store, with bounded retries and MLflow's chatter muted."""
    from mlflow.tracking import MlflowClient

    added = {k: v for k, v in _BOUNDED_ENV.items() if k not in os.environ}
    if "MLFLOW_TRACKING_URI" not in os.environ:
        # MLflow's registry links a prompt to a run through the process's default store, not the client's;
        # MLflow 3.4's default is ./mlruns, where the harness's ./mlflow.db run is "not found".
        added["MLFLOW_TRACKING_URI"] = DEFAULT_TRACKING_URI
    mlflow_logger = logging.getLogger("mlflow")
    level = mlflow_logger.level
    os.environ.update(added)
    mlflow_logger.setLevel(logging.ERROR)
    try:
        yield MlflowClient(tracking_uri=tracking_uri())
    finally:
        for key in added:
            os.environ.pop(key, None)
        mlflow_logger.setLevel(level)


def warn_unsynced(out_dir: Path, err: BaseException) -> None:
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    log.warning("MLflow tracking at %s failed (%s); results are saved in %s. Log them later with: "
                "policy-harness sync %s", safe_uri(), first[:200], out_dir, out_dir)


def open_runs(record: RunRecord, *, experiment_name: str | None = None) -> MlflowIds:
    """Create the parent and child runs; the caller warns when tracking fails."""
    with client() as c:
        return _open_runs(c, record, experiment_name)


def _open_runs(c: Any, record: RunRecord, experiment_name: str | None) -> MlflowIds:
    name = mlflow_experiment_name(record.name, experiment_name)
    experiment = c.get_experiment_by_name(name)
    experiment_id = experiment.experiment_id if experiment else c.create_experiment(
        name, artifact_location=artifact_location(name))
    common = {"eval_set": record.evalset.name, "eval_set_sha256": record.evalset.sha256}
    parent = c.create_run(experiment_id, run_name=f"{record.name} {record.created_at}",
                          tags={**common, KIND_TAG: Kind.EXPERIMENT})
    pid = parent.info.run_id
    children: dict[str, str] = {}
    for label, policy in record.policies.items():
        for reviewer in _section(record, label):
            params = record.reviewers.get(reviewer)
            model = (params.get("model") or params.type) if params else ""
            run = c.create_run(experiment_id, run_name=f"{label} · {reviewer}", tags={
                **common, "mlflow.parentRunId": pid, KIND_TAG: Kind.POLICY_REVIEWER,
                "policy_id": policy.id, "policy_version": str(policy.version), "reviewer": reviewer,
                "role": "candidate" if label == record.candidate else "baseline",
                "model": str(model),
                # a reviewer that judged a seeded sample says so wherever the run is listed
                **({"sample": sample.label} if (sample := record.sample(reviewer)) else {}),
            })
            children[f"{label}|{reviewer}"] = run.info.run_id
    return MlflowIds(tracking_uri=safe_uri(), experiment_id=experiment_id, experiment_name=experiment_name,
                     parent_run_id=pid, runs=children, synced=False)


def log_runs(record: RunRecord, out_dir: Path) -> None:
    """Params, metrics, dataset inputs, registered policy versions and artifacts of opened runs."""
    with client() as c:
        _log_runs(c, record, out_dir)


def _log_runs(c: Any, record: RunRecord, out_dir: Path) -> None:
    from mlflow.entities import Metric, Param, RunTag

    from harness.tracking.aliases import set_candidate
    from harness.tracking.registry import evalset_input, link_policy, register_policy

    ids = record.mlflow
    pid, now = ids.parent_run_id, int(time.time() * 1000)
    evalset = record.evalset
    prompts = {label: register_policy(c, p.model_dump()) for label, p in record.policies.items() if p.text}
    c.log_batch(pid, params=[Param(k, _param(v)) for k, v in {
        "experiment": record.name, "candidate_policy": record.candidate, "baseline_policy": record.baseline or "",
        "eval_set_items": evalset.items, "eval_set_sha256": evalset.sha256}.items()],
        tags=[RunTag("incomplete", str(record.incomplete).lower())]
        + [RunTag(k, str(v)) for k, v in record.lineage.items()])
    dataset = evalset_input(evalset, record.items)
    c.log_inputs(pid, datasets=[dataset])
    for name in (METRICS, RECORD, VERDICTS, ITEMS, REPORT, "report.md"):
        if (out_dir / name).exists():
            c.log_artifact(pid, str(out_dir / name))
    for key, rid in ids.runs.items():
        label, reviewer = key.split("|", 1)
        policy = record.policies[label]
        metrics = _section(record, label)[reviewer]
        params: dict[str, object] = {"policy_id": policy.id, "policy_version": policy.version,
                                     "policy_sha256": policy.sha256, "eval_set": evalset.name,
                                     "eval_set_sha256": evalset.sha256, "reviewer": reviewer}
        if reviewer in record.reviewers:
            params.update({f"reviewer.{k}": v for k, v in record.reviewers[reviewer].values().items()})
        values = flat_metrics(metrics)
        injection = (record.metrics.injection or {}).get(reviewer)
        if label == record.candidate and injection is not None:
            values.update(injection_metrics(injection))
        drift = (record.metrics.drift or {}).get(reviewer)
        if label == record.candidate and drift is not None:
            values.update({f"drift.{k}": float(v) for k, v in (("p_value", drift.p_value), ("agreement", drift.agreement),
                                                                ("flipped", len(drift.flipped_item_ids))) if v is not None})
        if (usage := record.usage.get(reviewer)) is not None:
            values.update({f"usage.{k}": float(v) for k, v in usage.model_dump().items() if isinstance(v, (int, float))})
        c.log_batch(rid, params=[Param(k[:250], _param(v)) for k, v in params.items()],
                    metrics=[Metric(k, v, now, 0) for k, v in values.items()],
                    tags=[RunTag("incomplete", str(record.incomplete).lower())])
        subset = record.verdicts[(record.verdicts["policy"] == label) & (record.verdicts["reviewer"] == reviewer)]
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            write_verdicts(subset, folder / VERDICTS)
            (folder / METRICS).write_text(metrics.model_dump_json(indent=2), encoding="utf-8")
            child_path(folder, f"policy-{policy.id}-v{policy.version}", suffix=".md").write_text(policy.text, encoding="utf-8")
            c.log_artifacts(rid, str(folder))
        c.log_table(rid, data=subset.drop(columns=["text"], errors="ignore").head(50_000), artifact_file="verdicts_table.json")
        if (out_dir / REPORT).exists():
            c.log_artifact(rid, str(out_dir / REPORT))
        c.log_inputs(rid, datasets=[dataset])
        prompt_uri = prompts.get(label)
        if prompt_uri:
            link_policy(c, rid, prompt_uri)
            c.set_tag(rid, "policy_prompt_uri", prompt_uri)
            if label == record.candidate:
                set_candidate(c, prompt_uri, record.created_at)
        c.set_terminated(rid, "FINISHED")
    c.set_terminated(pid, "FINISHED")
    record.mlflow = record.mlflow.model_copy(update={"policy_prompts": prompts, "synced": True})


def _section(record: RunRecord, label: str) -> dict[str, ReviewerMetrics]:
    return record.metrics.section(label)


def artifact_location(experiment_name: str) -> str | None:
    """Beside a SQLite store (not wherever the command runs), as `mlflow server` would do."""
    database = sqlite_path(tracking_uri())
    if database is None:
        return None
    return child_path(database.resolve().parent / "mlartifacts", experiment_name).as_uri()


def sqlite_path(uri: str) -> Path | None:
    """The database file of a `sqlite:///path` URI (a relative path is from the working directory)."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri.removeprefix("sqlite:///")).expanduser()


def flat_metrics(metrics: ReviewerMetrics) -> dict[str, float]:
    """Rates and interval bounds under stable names, overall, per category and per slice."""
    out: dict[str, float] = {"abstained": float(metrics.abstained), "items": float(metrics.items)}
    _add_rates(out, "", metrics)
    for cid, cat in metrics.categories.items():
        for name in ("over_enforcement", "leakage"):
            _add_rate(out, f"category.{metric_key(cid)}.{name}", cat.rate(name))
    for column, values in metrics.slices.items():
        for value, sub in values.items():
            _add_rates(out, f"slice.{metric_key(column)}.{metric_key(value)}.", sub)
    if metrics.weighted:
        _add_rates(out, "weighted.", metrics.weighted)
    if metrics.without_contested:
        _add_rates(out, "without_contested.", metrics.without_contested)
    if metrics.thresholds and metrics.thresholds.auc is not None:
        out["thresholds.auc"] = float(metrics.thresholds.auc)
    if metrics.rationale:
        _add_rate(out, "rationale_inconsistency", metrics.rationale.inconsistent)
    return out


def injection_metrics(injection: Injection) -> dict[str, float]:
    """Leakage of one reviewer on the prompt-injection slice, clean and attacked."""
    out: dict[str, float] = {}
    for name, rate in (("leakage_clean", injection.leakage_clean), ("leakage_injected", injection.leakage_injected)):
        if rate is not None and rate.rate is not None:
            out[f"injection.{name}"] = float(rate.rate)
    for attack, sub in injection.by_attack.items():
        if sub.leakage.rate is not None:
            out[f"injection.{metric_key(attack)}.leakage"] = float(sub.leakage.rate)
    return out


def _add_rates(out: dict[str, float], prefix: str, metrics: Rates | Weighted) -> None:
    for name in RATE_NAMES:
        _add_rate(out, f"{prefix}{name}", metrics.rate(name))


def _add_rate(out: dict[str, float], name: str, rate: Rate | None) -> None:
    if rate is not None and rate.rate is not None and rate.ci_low is not None and rate.ci_high is not None:
        out[name] = float(rate.rate)
        out[f"{name}_ci_low"] = float(rate.ci_low)
        out[f"{name}_ci_high"] = float(rate.ci_high)


def _param(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:6000]
