"""Where the portfolio's figures come from: run directories (`--from`) or the configured MLflow store.

Both are read into the same typed observations: one per policy version x reviewer of a run in which
that version was the candidate, with the reviewer's full `ReviewerMetrics` (gates and languages are
only in metrics.json, so from MLflow the child run's metrics.json artifact is downloaded)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from pathlib import Path

from pydantic import ValidationError

from harness.errors import HarnessError
from harness.policy.approval import approved_in_text
from harness.record import RECORD, REPORT, read_record
from harness.record.impact import IMPACT_JSON, ImpactResult
from harness.record.portfolio import Grading, Observation, RunRef, Sources, grading_of, parse_time
from harness.record.proficiency import PROFICIENCY_JSON, Proficiency
from harness.tracking.portfolio import from_mlflow

__all__ = ["from_directories", "from_mlflow"]

log = logging.getLogger(__name__)


# --- run directories ----------------------------------------------------------------------------

def from_directories(paths: Iterable[Path]) -> Sources:
    """Run directories and proficiency output folders; a folder that is neither is searched below."""
    out = Sources()
    forecasts: dict[tuple[Path, str], ImpactResult] = {}
    for path in paths:
        if not path.is_dir():
            raise HarnessError("is not a directory; give run directories written by 'policy-harness run' "
                               "or folders that hold them.", path=path)
        found = _run_folders(path)
        forecasts.update(_forecasts(path))
        if not found:
            raise HarnessError(f"holds no run ({RECORD}) and no grading ({PROFICIENCY_JSON}); give run "
                               "directories written by 'policy-harness run' or 'proficiency'.", path=path)
        for folder in found:
            if (folder / RECORD).is_file():
                out.observations.extend(_with_forecast(o, forecasts) for o in _observations_of_dir(folder))
            if (folder / PROFICIENCY_JSON).is_file():
                out.gradings.append(_grading_of_dir(folder))
    return out


def _forecasts(path: Path) -> dict[tuple[Path, str], ImpactResult]:
    """The newest impact.json below `path` per (run directory, reviewer); unreadable ones are skipped."""
    out: dict[tuple[Path, str], ImpactResult] = {}
    for file in sorted(path.rglob(IMPACT_JSON)):
        try:
            result = ImpactResult.model_validate_json(file.read_text(encoding="utf-8"))
        except (OSError, ValidationError):
            log.warning("%s is not a readable forecast; the portfolio leaves it out", file)
            continue
        key = (Path(result.run).resolve(), result.reviewer)
        if key not in out or out[key].created_at < result.created_at:
            out[key] = result
    return out


def _with_forecast(observation: Observation, forecasts: dict[tuple[Path, str], ImpactResult]) -> Observation:
    found = forecasts.get((Path(observation.run.source).resolve(), observation.reviewer))
    return dataclasses.replace(observation, forecast=found) if found else observation


def _run_folders(path: Path) -> list[Path]:
    if (path / RECORD).is_file() or (path / PROFICIENCY_JSON).is_file():
        return [path]
    found = {p.parent for name in (RECORD, PROFICIENCY_JSON) for p in path.rglob(name)}
    return sorted(found)


def _observations_of_dir(folder: Path) -> list[Observation]:
    record = read_record(folder)
    policy = record.policies[record.candidate]
    report = folder / REPORT
    run = RunRef(name=record.name, created_at=record.created_at, source=str(folder),
                 report=str(report) if report.is_file() else None)
    return [Observation(policy_id=policy.id, version=policy.version, reviewer=reviewer, run=run,
                        created=parse_time(record.created_at), incomplete=record.incomplete, metrics=metrics,
                        approved=approved_in_text(policy.text),
                        sample=sample.label if (sample := record.sample(reviewer)) else None,
                        drift=drift.warning if (drift := (record.metrics.drift or {}).get(reviewer)) else None)
            for reviewer, metrics in record.metrics.reviewers.items()]


def _grading_of_dir(folder: Path) -> Grading:
    path = folder / PROFICIENCY_JSON
    try:
        data = Proficiency.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValidationError) as err:
        raise HarnessError(f"cannot be read as a grading ({str(err).splitlines()[0]}); grade the answers again "
                           "with 'policy-harness proficiency'.", path=path) from None
    return grading_of(data, str(folder))


