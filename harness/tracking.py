"""MLflow adapter: a projection of the run record. A tracking failure warns; results stay on disk."""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness.record import REPORT, RunRecord

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
RATE_NAMES = ("over_enforcement", "leakage", "false_action_share", "abstention_rate")


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def log_record(record: RunRecord, out_dir: Path, *, experiment_name: str | None = None) -> dict[str, Any]:
    """Log a parent run for the invocation and one child per policy version x reviewer."""
    try:
        return _log(record, out_dir, experiment_name or f"policy-harness/{record.name}")
    except Exception as err:  # any tracking failure: keep the results, tell the user how to sync later
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"warning: MLflow tracking at {_safe_uri()} failed ({first[:200]}); results are saved in "
              f"{out_dir}. Log them later with: policy-harness sync {out_dir}", file=sys.stderr)
        return {}


def artifact_location(experiment_name: str) -> str | None:
    """Beside a SQLite store (not wherever the command runs), as `mlflow server` would do."""
    uri = tracking_uri()
    if not uri.startswith("sqlite:///"):
        return None
    root = Path(uri.removeprefix("sqlite:///")).expanduser().resolve().parent / "mlartifacts"
    return (root / re.sub(r"[^A-Za-z0-9_.-]", "_", experiment_name)).as_uri()


def _safe_uri() -> str:
    return re.sub(r"//[^/@]*@", "//***@", tracking_uri())


def _log(record: RunRecord, out_dir: Path, experiment_name: str) -> dict[str, Any]:
    import logging

    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    client = MlflowClient(tracking_uri=tracking_uri())
    experiment = client.get_experiment_by_name(experiment_name)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(
        experiment_name, artifact_location=artifact_location(experiment_name))
    now = int(time.time() * 1000)
    evalset = record.evalset
    common = {"eval_set": str(evalset["name"]), "eval_set_sha256": str(evalset["sha256"]),
              "policy_harness.record": str(Path(out_dir).resolve())}
    parent = client.create_run(experiment_id, run_name=f"{record.name} {record.created_at}",
                               tags={**common, "policy_harness.kind": "experiment"})
    pid = parent.info.run_id
    client.log_batch(pid, params=[Param(k, _param(v)) for k, v in {
        "experiment": record.name, "candidate_policy": record.candidate, "baseline_policy": record.baseline or "",
        "eval_set_items": evalset["items"], "eval_set_sha256": evalset["sha256"]}.items()])
    for name in ("metrics.json", "record.json", REPORT, "report.md"):
        if (Path(out_dir) / name).exists():
            client.log_artifact(pid, str(Path(out_dir) / name))
    from harness.registry import link_policy, log_evalset_input, register_policy

    prompts = {label: register_policy(client, policy) for label, policy in record.policies.items() if policy.get("text")}
    log_evalset_input(client, pid, evalset, record.items)
    children: dict[str, str] = {}
    for label, policy in record.policies.items():
        section = record.metrics["reviewers"] if label == record.candidate else (record.metrics.get("baseline") or {}).get("reviewers", {})
        for reviewer, metrics in section.items():
            run = client.create_run(experiment_id, run_name=f"{label} · {reviewer}", tags={
                **common, "mlflow.parentRunId": pid, "policy_harness.kind": "policy_reviewer",
                "policy_id": policy["id"], "policy_version": str(policy["version"]), "reviewer": reviewer,
                "role": "candidate" if label == record.candidate else "baseline",
                "model": str(record.reviewers.get(reviewer, {}).get("model", record.reviewers.get(reviewer, {}).get("type", ""))),
            })
            rid = run.info.run_id
            params = {"policy_id": policy["id"], "policy_version": policy["version"], "policy_sha256": policy["sha256"],
                      "eval_set": evalset["name"], "eval_set_sha256": evalset["sha256"], "reviewer": reviewer}
            params.update({f"reviewer.{k}": v for k, v in record.reviewers.get(reviewer, {}).items()})
            metric_values = flat_metrics(metrics)
            usage = record.usage.get(reviewer, {})
            metric_values.update({f"usage.{k}": float(v) for k, v in usage.items() if isinstance(v, (int, float))})
            client.log_batch(rid, params=[Param(k[:250], _param(v)) for k, v in params.items()],
                             metrics=[Metric(k, v, now, 0) for k, v in metric_values.items()],
                             tags=[RunTag("incomplete", str(record.incomplete).lower())])
            _log_child_artifacts(client, rid, record, label, reviewer, metrics, policy, out_dir)
            log_evalset_input(client, rid, evalset, record.items)
            if prompts.get(label):
                link_policy(client, rid, prompts[label])
                client.set_tag(rid, "policy_prompt_uri", prompts[label])
            client.set_terminated(rid, "FINISHED")
            children[f"{label}|{reviewer}"] = rid
    client.set_terminated(pid, "FINISHED")
    return {"tracking_uri": _safe_uri(), "experiment_id": experiment_id, "parent_run_id": pid, "runs": children,
            "policy_prompts": prompts}


def _log_child_artifacts(client: Any, run_id: str, record: RunRecord, label: str, reviewer: str,
                         metrics: dict[str, Any], policy: dict[str, Any], out_dir: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        subset = record.verdicts[(record.verdicts["policy"] == label) & (record.verdicts["reviewer"] == reviewer)]
        subset.to_parquet(folder / "verdicts.parquet", index=False)
        (folder / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str), encoding="utf-8")
        (folder / f"policy-{policy['id']}-v{policy['version']}.md").write_text(policy["text"], encoding="utf-8")
        client.log_artifacts(run_id, str(folder))
    if (Path(out_dir) / REPORT).exists():
        client.log_artifact(run_id, str(Path(out_dir) / REPORT))


def flat_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """Rates and interval bounds under stable names, overall, per category and per slice."""
    out: dict[str, float] = {"abstained": float(metrics.get("abstained", 0)), "items": float(metrics.get("items", 0))}
    _add_rates(out, "", metrics)
    for cid, cat in metrics.get("categories", {}).items():
        _add_rates(out, f"category.{_key(cid)}.", cat)
    for column, values in metrics.get("slices", {}).items():
        for value, sub in values.items():
            _add_rates(out, f"slice.{_key(column)}.{_key(value)}.", sub)
    return out


def _add_rates(out: dict[str, float], prefix: str, metrics: dict[str, Any]) -> None:
    for name in RATE_NAMES:
        rate = metrics.get(name)
        if isinstance(rate, dict) and rate.get("rate") is not None:
            out[f"{prefix}{name}"] = float(rate["rate"])
            out[f"{prefix}{name}_ci_low"] = float(rate["ci_low"])
            out[f"{prefix}{name}_ci_high"] = float(rate["ci_high"])


def _key(value: str) -> str:
    """MLflow names allow letters, digits, _ - . / and space."""
    return re.sub(r"[^A-Za-z0-9_\-./ ]", "_", str(value))[:100] or "_"


def _param(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:6000]
