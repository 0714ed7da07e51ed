"""Prompt aliases follow the policy lifecycle in a real MLflow store: `promote` moves `production`, and the
production it replaces keeps `previous`; a run points `candidate` at the version it tested."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from harness._util.hashing import sha256_text
from harness.record.revision import CandidateResult
from harness.tracking.aliases import (
    CANDIDATE,
    PREVIOUS,
    PREVIOUS_AT,
    PRODUCTION,
    PRODUCTION_AT,
    alias_version,
    history,
    set_candidate,
)
from harness.tracking.revision import tag_approved


def candidate(version: int, text: str) -> CandidateResult:
    return CandidateResult(index=0, file=f"candidate-{version}.md", sha256=sha256_text(text), valid=True, reason="",
                           version=version, tokens=10, lint="", accepted=True, why="better on held-out items")


def test_promote_moves_production_and_keeps_previous(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    client = MlflowClient(tracking_uri=uri)
    first = tag_approved(candidate(2, "policy two"), "hs", "policy two", "ana", "2026-12-07T00:00:00+00:00",
                         version=2)
    assert first is not None
    assert alias_version(client, "policy-hs", PRODUCTION) == int(first.rsplit("/", 1)[1])
    assert alias_version(client, "policy-hs", PREVIOUS) is None
    second = tag_approved(candidate(3, "policy three"), "hs", "policy three", "ana", "2026-12-08T00:00:00+00:00",
                          version=3)
    assert second is not None and second != first
    assert alias_version(client, "policy-hs", PRODUCTION) == int(second.rsplit("/", 1)[1])
    assert alias_version(client, "policy-hs", PREVIOUS) == int(first.rsplit("/", 1)[1])
    # what an application loads
    import mlflow

    mlflow.set_tracking_uri(uri)
    assert mlflow.genai.load_prompt("prompts:/policy-hs@production").template == "policy three"

    set_candidate(client, second, "2026-12-06T12:00:00+00:00")
    assert alias_version(client, "policy-hs", CANDIDATE) == int(second.rsplit("/", 1)[1])

    # The alias history stays on the versions: a later run does not move the first candidate time.
    set_candidate(client, second, "2026-12-09T00:00:00+00:00")
    old, new = (client.get_prompt_version("policy-hs", int(uri.rsplit("/", 1)[1])) for uri in (first, second))
    assert (old.tags[PRODUCTION_AT], old.tags[PREVIOUS_AT]) == ("2026-12-07T00:00:00+00:00",
                                                                "2026-12-08T00:00:00+00:00")
    found = history(new)
    assert (found.candidate_at, found.production_at, found.promoted) == (
        dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC), dt.datetime(2026, 12, 8, tzinfo=dt.UTC), True)
