"""The portfolio's view of MLflow: every candidate policy-reviewer run and proficiency run in the store."""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness.errors import HarnessError
from harness.policy.approval import approved_in_text
from harness.record import METRICS, REPORT, ReviewerMetrics
from harness.record.impact import IMPACT_JSON, ImpactResult
from harness.record.portfolio import Grading, Observation, RunRef, Sources, grading_of
from harness.record.proficiency import PROFICIENCY_JSON, Proficiency
from harness.tracking import client, safe_uri
from harness.tracking.aliases import history
from harness.tracking.tags import Kind, kind_filter


def from_mlflow() -> Sources:
    """Every candidate policy-reviewer run and proficiency run in the configured store."""
    from harness.tracking.queries import require_store

    require_store(also=", or build the portfolio from run directories with --from")
    out = Sources()
    try:
        with client() as c, tempfile.TemporaryDirectory() as tmp:
            ids = [e.experiment_id for e in _pages(lambda token: c.search_experiments(page_token=token))]
            if not ids:
                return out
            forecasts = _forecasts(c, ids, Path(tmp))
            query = f"{kind_filter(Kind.POLICY_REVIEWER)} and tags.role = 'candidate'"
            for run in _pages(lambda token: c.search_runs(ids, query, page_token=token)):
                observation = _observation_of_run(c, run, Path(tmp))
                if observation is None:
                    out.notes.append(f"MLflow run {run.info.run_id} has no readable {METRICS}; it is left out.")
                else:
                    found = forecasts.get((run.data.tags.get("mlflow.parentRunId", ""), observation.reviewer))
                    out.observations.append(dataclasses.replace(observation, forecast=found) if found else observation)
            for run in _pages(lambda token: c.search_runs(ids, kind_filter(Kind.PROFICIENCY),
                                                          page_token=token)):
                grading = _grading_of_run(c, run, Path(tmp))
                if grading is not None:
                    out.gradings.append(grading)
    except HarnessError:
        raise
    except Exception as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise HarnessError(f"cannot be read ({first}); check MLFLOW_TRACKING_URI, or build the portfolio from run "
                           "directories with --from.", path=safe_uri()) from None
    return out


def _forecasts(c: Any, ids: list[str], tmp: Path) -> dict[tuple[str, str], ImpactResult]:
    """The newest `impact` forecast per (parent run, reviewer): what each candidate run's row shows."""
    out: dict[tuple[str, str], ImpactResult] = {}
    for run in _pages(lambda token: c.search_runs(ids, kind_filter(Kind.IMPACT), page_token=token)):
        path = _download(c, run.info.run_id, IMPACT_JSON, tmp)
        try:
            result = ImpactResult.model_validate_json(path.read_text(encoding="utf-8")) if path else None
        except ValidationError:
            result = None
        key = (run.data.tags.get("mlflow.parentRunId", ""), run.data.tags.get("reviewer", ""))
        if result is not None and (key not in out or out[key].created_at < result.created_at):
            out[key] = result
    return out


def _pages(search: Callable[[str | None], Any]) -> Iterator[Any]:
    token: str | None = None
    while True:
        page = search(token)
        yield from page
        token = getattr(page, "token", None)
        if not token:
            return


def _download(c: Any, run_id: str, name: str, tmp: Path) -> Path | None:
    try:
        return Path(c.download_artifacts(run_id, name, tempfile.mkdtemp(dir=tmp)))
    except Exception:  # an artifact that is absent (an unsynced run) is a note, not a failure
        return None


def _observation_of_run(c: Any, run: Any, tmp: Path) -> Observation | None:
    tags = run.data.tags
    path = _download(c, run.info.run_id, METRICS, tmp)
    if path is None:
        return None
    try:
        metrics = ReviewerMetrics.model_validate_json(path.read_text(encoding="utf-8"))
        version = int(tags.get("policy_version", ""))
    except (ValidationError, ValueError):
        return None
    created = dt.datetime.fromtimestamp(run.info.start_time / 1000, tz=dt.UTC)
    found = _prompt_version(c, tags.get("policy_prompt_uri"))
    return Observation(
        policy_id=tags.get("policy_id", ""), version=version, reviewer=tags.get("reviewer", ""),
        run=RunRef(name=run.info.run_name or run.info.run_id, created_at=created.isoformat(timespec="seconds"),
                   source=f"mlflow:{run.info.run_id}", report=_local_report(run.info.artifact_uri)),
        created=created, incomplete=tags.get("incomplete") == "true", metrics=metrics,
        approved=_approved_in_registry(found), sample=tags.get("sample") or None,
        aliases=history(found) if found is not None else None)


def _local_report(artifact_uri: str | None) -> str | None:
    """The launch report logged with the run, when the artifact store is a local folder."""
    if not artifact_uri or not artifact_uri.startswith("file:"):
        return None
    from urllib.parse import unquote, urlparse

    path = Path(unquote(urlparse(artifact_uri).path)) / REPORT
    return str(path) if path.is_file() else None


def _prompt_version(c: Any, uri: str | None) -> Any:
    """The registry version a run tested (its tags and aliases), or None when it cannot be read."""
    if not uri or not uri.startswith("prompts:/"):
        return None
    try:
        name, version = uri.removeprefix("prompts:/").rsplit("/", 1)
        return c.get_prompt_version(name, int(version))
    except Exception:  # a registry without that version: no approval, no alias history
        return None


def _approved_in_registry(found: Any) -> bool:
    if found is None:
        return False
    tags = getattr(found, "tags", None) or {}
    return tags.get("status") == "approved" or approved_in_text(str(getattr(found, "template", "") or ""))


def _grading_of_run(c: Any, run: Any, tmp: Path) -> Grading | None:
    path = _download(c, run.info.run_id, PROFICIENCY_JSON, tmp)
    if path is not None:
        try:
            return grading_of(Proficiency.model_validate_json(path.read_text(encoding="utf-8")),
                            f"mlflow:{run.info.run_id}")
        except ValidationError:
            pass
    tags, values = run.data.tags, run.data.metrics
    reviewers = [key.removeprefix("certified/") for key in values if key.startswith("certified/")]
    try:
        version = int(tags.get("policy_version", ""))
    except ValueError:
        return None
    return Grading(policy_id=tags.get("policy_id", ""), version=version,
                   created=dt.datetime.fromtimestamp(run.info.start_time / 1000, tz=dt.UTC),
                   graded=len(reviewers), certified=sorted(r for r in reviewers if values[f"certified/{r}"] == 1.0),
                   source=f"mlflow:{run.info.run_id}")
