"""An impact forecast in MLflow: a child run of the forecast run's parent, holding impact.json and
impact.html and the overall forecasts as metrics. Failures warn: the files on disk are the results."""

from __future__ import annotations

import logging
from pathlib import Path

from harness.record import MlflowIds
from harness.record.impact import IMPACT_HTML, IMPACT_JSON, ImpactResult
from harness.tracking import client, safe_uri
from harness.tracking.tags import KIND_TAG, Kind, metric_key

log = logging.getLogger(__name__)


def log_impact(result: ImpactResult, out: Path, ids: MlflowIds) -> str | None:
    """Log the forecast beside its run (a child of the run's parent MLflow run); returns the new run's
    id, or None when the run was not tracked or tracking failed (with a warning)."""
    if not ids.parent_run_id:
        return None
    try:
        with client() as c:
            parent = c.get_run(ids.parent_run_id)
            run = c.create_run(parent.info.experiment_id, run_name=f"impact {result.created_at}",
                               tags={KIND_TAG: Kind.IMPACT, "mlflow.parentRunId": ids.parent_run_id,
                                     "reviewer": result.reviewer, "candidate": result.candidate,
                                     "baseline": result.baseline or "",
                                     "cascade_cheapest": (result.cascade.cheapest or "none meets the gates")
                                     if result.cascade else ""})
            run_id: str = run.info.run_id
            groups = {"overall": result.overall, **{f"language/{metric_key(k)}": v for k, v in result.languages.items()}}
            for group, forecast in groups.items():
                for name in ("actions", "wrongful_actions", "missed_violations", "reviewers_fte", "appeals"):
                    quantity = getattr(forecast, name)
                    for version in ("candidate", "baseline", "change"):
                        value = getattr(quantity, version)
                        if value is not None:
                            c.log_metric(run_id, f"impact/{group}/{name}/{version}", value.value)
            c.log_artifact(run_id, str(out / IMPACT_JSON))
            c.log_artifact(run_id, str(out / IMPACT_HTML))
            c.set_terminated(run_id)
            return run_id
    except Exception as err:  # tracking must never cost the results
        log.warning("MLflow tracking at %s failed (%s); the forecast is saved in %s", safe_uri(),
                    (str(err).strip().splitlines() or [type(err).__name__])[0][:200], out)
        return None
