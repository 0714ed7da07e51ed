"""The experiment's gates as MLflow quality criteria on the reviewer runs (MLflow 3.18's evaluation runs view).

MLflow 3.18 keeps `mlflow.genai.evaluate(quality_criteria=...)` as a run tag, rules on the run's
`<scorer>/mean` metrics that its evaluation runs view shows as pass or fail. An overall
`over_enforcement` or `leakage` gate becomes such a rule on the mean of that feedback (which equals the
rate, see `docs/mlflow.md`), and the mean is logged under MLflow's name so the rule can be checked.
Gates on a category or slice have no MLflow counterpart and stay in our report only.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.record import RunRecord

QUALITY_CRITERIA_TAG = "mlflow.genaiEvaluate.qualityCriteria"  # mlflow.utils.mlflow_tags, 3.18
FEEDBACK = ("over_enforcement", "leakage")


def quality_criteria(gates: Mapping[str, Any]) -> str | None:
    """The tag value MLflow's UI reads for the overall feedback gates; None when there is none."""
    rules: list[dict[str, object]] = []
    for name in FEEDBACK:
        gate = gates.get(name)
        if not isinstance(gate, Mapping) or any(gate.get(k) for k in ("category", "slice", "per")):
            continue
        for bound, comparator in (("max", "LTE"), ("min", "GTE")):
            if gate.get(bound) is not None:
                rules.append({"metricKey": f"{name}/mean", "comparator": comparator, "threshold": float(gate[bound])})
    if not rules:
        return None
    return json.dumps({"schemaVersion": 1, "revision": str(uuid.uuid4()), "rules": rules}, separators=(",", ":"))


def log_quality_criteria(client: Any, record: RunRecord, run_ids: Mapping[str, str]) -> None:
    """Each reviewer run's feedback means as `<name>/mean` metrics, and the gates as its quality criteria."""
    from mlflow.entities import Metric, RunTag

    tag = quality_criteria(record.experiment.get("gates") or {})
    now = int(time.time() * 1000)
    for key, run_id in run_ids.items():
        label, reviewer = key.split("|", 1)
        rates = record.metrics.section(label).get(reviewer)
        metrics = [Metric(f"{name}/mean", float(rate.rate), now, 0) for name in FEEDBACK
                   if rates is not None and (rate := rates.rate(name)) is not None and rate.rate is not None]
        client.log_batch(run_id, metrics=metrics, tags=[RunTag(QUALITY_CRITERIA_TAG, tag)] if tag else [])
