"""The policy loop in MLflow: a `revise` run whose accepted candidates become prompt versions tagged
status=candidate, and the version `promote` tags status=approved. Failures warn: revise.json and the
promoted file on disk are the source of truth."""

from __future__ import annotations

import logging
from pathlib import Path

from harness._util.hashing import sha256_text
from harness.record.revision import REVISE_JSON, CandidateResult, ReviseResult
from harness.tracking import artifact_location, client, safe_uri
from harness.tracking.aliases import set_production
from harness.tracking.registry import link_policy, register_policy
from harness.tracking.tags import KIND_TAG, Kind

log = logging.getLogger(__name__)


def log_revise(result: ReviseResult, out: Path, *, policy_id: str, policy_label: str, experiment_name: str) -> None:
    """Log the revise run; sets `result.mlflow_run_id` and each accepted candidate's `registry_uri`."""
    try:
        with client() as c:
            found = c.get_experiment_by_name(experiment_name)
            experiment_id = found.experiment_id if found else c.create_experiment(
                experiment_name, artifact_location=artifact_location(experiment_name))
            run = c.create_run(experiment_id, run_name=f"revise {result.created_at}",
                               tags={KIND_TAG: Kind.REVISE, "policy": policy_label})
            run_id = run.info.run_id
            result.mlflow_run_id = run_id
            c.log_metric(run_id, "candidates", len(result.candidates))
            c.log_metric(run_id, "accepted", len(result.accepted))
            for candidate in result.accepted:
                text = (out / candidate.file).read_text(encoding="utf-8")
                uri = register_policy(c, {"id": policy_id, "version": candidate.version, "text": text,
                                          "sha256": candidate.sha256})
                if uri is None:
                    continue
                prompt, version = uri.removeprefix("prompts:/").rsplit("/", 1)
                c.set_prompt_version_tag(prompt, version, "status", "candidate")
                c.set_prompt_version_tag(prompt, version, "revise_run", run_id)
                link_policy(c, run_id, uri)
                candidate.registry_uri = uri
            c.log_artifact(run_id, str(out / REVISE_JSON))
            c.set_terminated(run_id)
    except Exception as err:  # tracking must never cost the results
        log.warning("MLflow tracking at %s failed (%s); the revise results are saved in %s", safe_uri(),
                    (str(err).strip().splitlines() or [type(err).__name__])[0][:200], out)


def tag_approved(entry: CandidateResult, policy_id: str, text: str, by: str, at: str, *,
                 version: int) -> str | None:
    """Tag the candidate's registry version (registered now if revise could not) status=approved; a
    renumbered candidate's promoted text is registered as its own version, linked to the candidate's."""
    try:
        with client() as c:
            if version == entry.version:
                uri = entry.registry_uri or register_policy(
                    c, {"id": policy_id, "version": version, "text": text, "sha256": entry.sha256})
            else:
                uri = register_policy(c, {"id": policy_id, "version": version, "text": text,
                                          "sha256": sha256_text(text)})
            if uri is None:
                return None
            prompt, number = uri.removeprefix("prompts:/").rsplit("/", 1)
            c.set_prompt_version_tag(prompt, number, "status", "approved")
            c.set_prompt_version_tag(prompt, number, "approved_by", by)
            c.set_prompt_version_tag(prompt, number, "approved_at", at)
            set_production(c, uri, at)
            if version != entry.version and entry.registry_uri:
                c.set_prompt_version_tag(prompt, number, "promoted_from", entry.registry_uri)
                old_prompt, old_number = entry.registry_uri.removeprefix("prompts:/").rsplit("/", 1)
                c.set_prompt_version_tag(old_prompt, old_number, "promoted_as", uri)
            return uri
    except Exception as err:  # the promoted file is written; the registry can be tagged by hand
        log.warning("MLflow tracking at %s failed (%s); the promoted file is written, but its registry version "
                    "is not tagged status=approved", safe_uri(), (str(err).strip().splitlines() or [""])[0][:200])
        return None
