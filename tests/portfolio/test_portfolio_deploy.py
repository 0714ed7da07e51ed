"""Time to deploy from the prompt registry's alias history, in a real MLflow store: the runs that tested a
version stamp when it first became `candidate`, `promote` when it became `production`, and the portfolio
built from the store reads both. A copy of the session's store is promoted, so other tests keep theirs."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from support.portfolio_runs import Built

from harness.portfolio import Portfolio, collect
from harness.record import RunRecord
from harness.record.portfolio import parse_time
from harness.record.revision import CandidateResult
from harness.tracking.aliases import (
    CANDIDATE_AT,
    PREVIOUS,
    PREVIOUS_AT,
    PRODUCTION,
    PRODUCTION_AT,
    alias_version,
)
from harness.tracking.revision import tag_approved


def promote(record: RunRecord, at: dt.datetime) -> str:
    """What `policy-harness promote` does in the registry, for the policy version the run tested."""
    policy = record.policies[record.candidate]
    entry = CandidateResult(index=0, file="candidate.md", sha256=policy.sha256, valid=True, reason="",
                            version=policy.version, tokens=10, lint="", accepted=True, why="passes every gate",
                            registry_uri=record.mlflow.policy_prompts[record.candidate])
    uri = tag_approved(entry, policy.id, policy.text, "Lead", at.isoformat(timespec="seconds"),
                       version=policy.version)
    assert uri is not None
    return uri


def rows(p: Portfolio) -> dict[tuple[str, int], tuple[str, float | None, str | None, str | None]]:
    return {(r.policy_id, r.version): (r.time_to_deploy.text, r.time_to_deploy.hours, r.time_to_deploy.candidate_at,
                                       r.time_to_deploy.production_at) for r in p.rows}


def test_time_to_deploy_reads_the_alias_history_and_survives_a_second_promote(
        built: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.tracking import MlflowClient

    shutil.copy(built.root / "mlflow.db", tmp_path / "mlflow.db")  # artifacts stay where the runs logged them
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    client = MlflowClient(tracking_uri=uri)
    run1, run2 = built.runs["run1"], built.runs["run2"]
    v1_uri, v2_uri = (r.mlflow.policy_prompts[r.candidate] for r in (run1, run2))
    assert v1_uri and v2_uri
    v1_start, v2_start = parse_time(run1.created_at), parse_time(run2.created_at)

    # Runs only: every version has been the candidate (v2 first in run2, not again in run3), none is in production.
    before = rows(collect(None))
    assert before[("demo_hate", 1)] == ("not yet", None, v1_start.isoformat(), None)
    assert before[("demo_hate", 2)] == ("not yet", None, v2_start.isoformat(), None)
    assert before[("demo_spam", 1)][0] == "not yet"

    promote(run1, v1_start + dt.timedelta(hours=26))
    after_first = collect(None)
    assert rows(after_first)[("demo_hate", 1)] == ("1 d 2 h", 26.0, v1_start.isoformat(),
                                                   (v1_start + dt.timedelta(hours=26)).isoformat())
    assert rows(after_first)[("demo_hate", 2)][0] == "not yet"

    # The second promote moves production to v2 and v1 to previous; v1's history keeps its first promotion.
    promote(run2, v2_start + dt.timedelta(hours=50))
    name, v1_number = v1_uri.removeprefix("prompts:/").rsplit("/", 1)
    v2_number = v2_uri.rsplit("/", 1)[1]
    assert (alias_version(client, name, PRODUCTION), alias_version(client, name, PREVIOUS)) == (int(v2_number),
                                                                                               int(v1_number))
    portfolio = collect(None)
    after = rows(portfolio)
    assert after[("demo_hate", 1)] == rows(after_first)[("demo_hate", 1)]
    assert after[("demo_hate", 2)] == ("2 d 2 h", 50.0, v2_start.isoformat(),
                                       (v2_start + dt.timedelta(hours=50)).isoformat())
    assert after[("demo_spam", 1)][0] == "not yet"
    v1_tags = client.get_prompt_version(name, int(v1_number)).tags
    assert v1_tags[PREVIOUS_AT] == (v2_start + dt.timedelta(hours=50)).isoformat()
    assert v1_tags[CANDIDATE_AT] == v1_start.isoformat()
    assert any("median of 1 d 14 h from first becoming the candidate (2 versions); 1 is not in production yet"
               in line for line in portfolio.summary), portfolio.summary

    # A store from before the history was kept: a promoted version without its stamp is unknown, not "not yet".
    client.delete_prompt_version_tag(name, int(v1_number), PRODUCTION_AT)
    assert rows(collect(None))[("demo_hate", 1)][:2] == ("unknown", None)
    client.delete_prompt_version_tag(name, int(v1_number), CANDIDATE_AT)
    assert rows(collect(None))[("demo_hate", 1)][:2] == ("unknown", None)


def test_run_directories_have_no_alias_history_so_time_to_deploy_is_unknown(built: Built) -> None:
    portfolio = collect([built.root / "runs"])
    assert {r.time_to_deploy.text for r in portfolio.rows} == {"unknown"}
    assert all(r.time_to_deploy.hours is None for r in portfolio.rows)
    assert any(line.startswith("Time to deploy is unknown: no policy version has an alias history")
               for line in portfolio.summary)
