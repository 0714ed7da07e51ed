"""A comparison of two runs as its own MLflow run."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from harness.record import ComparisonResult
from harness.tracking import EXPERIMENT_PREFIX, client, safe_uri
from harness.tracking.tags import KIND_TAG, Kind

log = logging.getLogger(__name__)


def log_comparison(result: ComparisonResult, out_dir: Path) -> str | None:
    """Log a comparison as its own MLflow run (changes as metrics, both files as artifacts)."""
    try:
        with client() as c:
            return _log(c, result, out_dir)
    except Exception as err:  # the comparison is on disk; tracking is a copy
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        log.warning("could not log the comparison to MLflow at %s (%s); it is saved in %s.",
                    safe_uri(), first[:200], out_dir)
        return None


def _log(c: Any, result: ComparisonResult, out_dir: Path) -> str:
    from mlflow.entities import Metric, Param

    name = f"{EXPERIMENT_PREFIX}compare"
    experiment = c.get_experiment_by_name(name)
    experiment_id = experiment.experiment_id if experiment else c.create_experiment(name)
    run = c.create_run(experiment_id, run_name=f"{result.a.label} -> {result.b.label}",
                       tags={KIND_TAG: Kind.COMPARISON})
    now = int(time.time() * 1000)
    metrics = []
    for reviewer, r in result.reviewers.items():
        for key, change in (("over_enforcement_change", r.over_enforcement_change),
                            ("leakage_change", r.leakage_change)):
            values = {"change": change.change, "ci_low": change.ci_low, "ci_high": change.ci_high,
                      "p_value": change.p_value}
            for field, value in values.items():
                if value is not None:
                    metrics.append(Metric(f"{reviewer}.{key}.{field}"[:250], float(value), now, 0))
    c.log_batch(run.info.run_id, metrics=metrics,
                params=[Param("a", result.a.source[:500]), Param("b", result.b.source[:500])])
    for file in ("compare.json", "compare.html"):
        c.log_artifact(run.info.run_id, str(out_dir / file))
    c.set_terminated(run.info.run_id, "FINISHED")
    return str(run.info.run_id)
