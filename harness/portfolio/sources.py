"""Where the portfolio's figures come from: run directories (`--from`) or the configured MLflow store.

Both are read into the same typed observations: one per policy version x reviewer of a run in which
that version was the candidate, with the reviewer's full `ReviewerMetrics` (gates and languages are
only in metrics.json, so from MLflow the child run's metrics.json artifact is downloaded)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from harness.errors import HarnessError
from harness.portfolio.models import RunRef
from harness.record import METRICS, RECORD, REPORT, ReviewerMetrics, read_record
from harness.training.models import PROFICIENCY_JSON, Proficiency

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Observation:
    policy_id: str
    version: int
    reviewer: str
    run: RunRef
    created: dt.datetime
    incomplete: bool
    metrics: ReviewerMetrics
    approved: bool  # the policy text carries `approved_by` (written by `promote`), or its registry version is approved


@dataclasses.dataclass(frozen=True)
class Grading:
    policy_id: str
    version: int
    created: dt.datetime
    graded: int
    certified: list[str]
    source: str


@dataclasses.dataclass
class Sources:
    observations: list[Observation] = dataclasses.field(default_factory=list)
    gradings: list[Grading] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)


def parse_time(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def approved_in_text(text: str) -> bool:
    """Whether a policy file's front matter names an approver (what `promote` adds)."""
    if not text.startswith("---"):
        return False
    parts = text.split("\n---", 1)
    try:
        front = yaml.safe_load(parts[0].removeprefix("---"))
    except yaml.YAMLError:
        return False
    return isinstance(front, dict) and bool(front.get("approved_by"))


# --- run directories ----------------------------------------------------------------------------

def from_directories(paths: Iterable[Path]) -> Sources:
    """Run directories and proficiency output folders; a folder that is neither is searched below."""
    out = Sources()
    for path in paths:
        if not path.is_dir():
            raise HarnessError("is not a directory; give run directories written by 'policy-harness run' "
                               "or folders that hold them.", path=path)
        found = _run_folders(path)
        if not found:
            raise HarnessError(f"holds no run ({RECORD}) and no grading ({PROFICIENCY_JSON}); give run "
                               "directories written by 'policy-harness run' or 'proficiency'.", path=path)
        for folder in found:
            if (folder / RECORD).is_file():
                out.observations.extend(_observations_of_dir(folder))
            if (folder / PROFICIENCY_JSON).is_file():
                out.gradings.append(_grading_of_dir(folder))
    return out


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
                        approved=approved_in_text(policy.text))
            for reviewer, metrics in record.metrics.reviewers.items()]


def _grading_of_dir(folder: Path) -> Grading:
    path = folder / PROFICIENCY_JSON
    try:
        data = Proficiency.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValidationError) as err:
        raise HarnessError(f"cannot be read as a grading ({str(err).splitlines()[0]}); grade the answers again "
                           "with 'policy-harness proficiency'.", path=path) from None
    return _grading(data, str(folder))


def _grading(data: Proficiency, source: str) -> Grading:
    return Grading(policy_id=data.quiz.policy_id, version=data.quiz.policy_version, created=parse_time(data.created_at),
                   graded=len(data.reviewers), source=source,
                   certified=sorted(g.reviewer for g in data.reviewers if g.certification.status == "certified"))


# --- MLflow -------------------------------------------------------------------------------------

def from_mlflow() -> Sources:
    """Every candidate policy-reviewer run and proficiency run in the configured store."""
    from harness.tracking import client, safe_uri

    out = Sources()
    try:
        with client() as c, tempfile.TemporaryDirectory() as tmp:
            ids = [e.experiment_id for e in _pages(lambda token: c.search_experiments(page_token=token))]
            if not ids:
                return out
            query = "tags.`policy_harness.kind` = 'policy_reviewer' and tags.role = 'candidate'"
            for run in _pages(lambda token: c.search_runs(ids, query, page_token=token)):
                observation = _observation_of_run(c, run, Path(tmp))
                if observation is None:
                    out.notes.append(f"MLflow run {run.info.run_id} has no readable {METRICS}; it is left out.")
                else:
                    out.observations.append(observation)
            for run in _pages(lambda token: c.search_runs(ids, "tags.`policy_harness.kind` = 'proficiency'",
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
    created = dt.datetime.fromtimestamp(run.info.start_time / 1000, tz=dt.timezone.utc)
    return Observation(
        policy_id=tags.get("policy_id", ""), version=version, reviewer=tags.get("reviewer", ""),
        run=RunRef(name=run.info.run_name or run.info.run_id, created_at=created.isoformat(timespec="seconds"),
                   source=f"mlflow:{run.info.run_id}", report=_local_report(run.info.artifact_uri)),
        created=created, incomplete=tags.get("incomplete") == "true", metrics=metrics,
        approved=_approved_in_registry(c, tags.get("policy_prompt_uri")))


def _local_report(artifact_uri: str | None) -> str | None:
    """The launch report logged with the run, when the artifact store is a local folder."""
    if not artifact_uri or not artifact_uri.startswith("file:"):
        return None
    from urllib.parse import unquote, urlparse

    path = Path(unquote(urlparse(artifact_uri).path)) / REPORT
    return str(path) if path.is_file() else None


def _approved_in_registry(c: Any, uri: str | None) -> bool:
    if not uri or not uri.startswith("prompts:/"):
        return False
    try:
        name, version = uri.removeprefix("prompts:/").rsplit("/", 1)
        found = c.get_prompt_version(name, int(version))
    except Exception:  # a registry without that version: not approved as far as the portfolio can tell
        return False
    if found is None:
        return False
    tags = getattr(found, "tags", None) or {}
    return tags.get("status") == "approved" or approved_in_text(str(getattr(found, "template", "") or ""))


def _grading_of_run(c: Any, run: Any, tmp: Path) -> Grading | None:
    path = _download(c, run.info.run_id, PROFICIENCY_JSON, tmp)
    if path is not None:
        try:
            return _grading(Proficiency.model_validate_json(path.read_text(encoding="utf-8")),
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
                   created=dt.datetime.fromtimestamp(run.info.start_time / 1000, tz=dt.timezone.utc),
                   graded=len(reviewers), certified=sorted(r for r in reviewers if values[f"certified/{r}"] == 1.0),
                   source=f"mlflow:{run.info.run_id}")
