"""Shared fixtures: the repository root and the read-only real data sets in ../shared/data."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.records import NOT_A_RECORD

REPO_ROOT = Path(__file__).resolve().parents[1]
# The shared fixtures (a fake OpenAI-compatible server, a judgement cache per test, headless Chromium).
pytest_plugins = ["support.llm", "support.browser"]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
POLICIES = REPO_ROOT / "prompts" / "policies" / "hate_speech"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real labelled data sets (never copied into the repo); skip when they are absent."""
    if not (SHARED_DATA / "hatecheck" / "test_suite_cases.csv").is_file():
        pytest.skip(f"shared data sets not found at {SHARED_DATA} (expected ../shared/data beside the repo)")
    return SHARED_DATA




@pytest.fixture(scope="session", autouse=True)
def user_cache_of_the_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test (nor a command it runs as a subprocess) reads or fills the real user's judgement cache; and
    tracked runs write no MLflow traces in the background unless a test asks (tests/tracking/test_tracking_traces.py):
    a detached writer per tracked run would outlive its test's temporary folder."""
    saved = {name: os.environ.get(name) for name in ("XDG_CACHE_HOME", "POLICY_HARNESS_CACHE", "POLICY_HARNESS_TRACES")}
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("user-cache"))
    os.environ.pop("POLICY_HARNESS_CACHE", None)
    os.environ["POLICY_HARNESS_TRACES"] = "none"
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(autouse=True)
def mlflow_tracking_uri_of_the_test() -> Iterator[None]:
    """`mlflow.set_tracking_uri` in a test sets MLflow's process-wide URI and MLFLOW_TRACKING_URI with it:
    both go back after the test, so a later test's runs do not go to a server that has stopped."""
    saved = os.environ.get("MLFLOW_TRACKING_URI")
    yield
    if "mlflow" in sys.modules:
        import mlflow

        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]  # None: no URI set (MLflow's own default)
    if saved is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = saved


@pytest.fixture(scope="session", autouse=True)
def written_records_match_the_published_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every JSON file the harness writes (each file `policy-harness schema` lists) that any test wrote
    validates against its published schema."""
    yield
    import jsonschema

    from harness.record import SCHEMAS, json_schema

    problems = []
    for name, entry in SCHEMAS.items():
        validator = jsonschema.Draft202012Validator(json_schema(name))
        for path in sorted(tmp_path_factory.getbasetemp().rglob(entry.file)):
            # An MLflow child run's metrics.json artifact is one reviewer's block, not a run's file:
            # a run's metrics.json sits beside its record.json.
            if entry.file == "metrics.json" and not (path.parent / "record.json").exists():
                continue
            if any((p / NOT_A_RECORD).exists() for p in path.parents):
                continue
            try:
                document = json.loads(path.read_text(encoding="utf-8"))
            except ValueError as err:
                problems.append(f"{path}: not JSON ({err})")
                continue
            problems += [f"{path}: {'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
                         for e in validator.iter_errors(document)][:3]
    assert not problems, "files that do not match the published schema:\n" + "\n".join(problems[:20])
