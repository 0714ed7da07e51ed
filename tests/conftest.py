"""Shared fixtures: the repository root and the read-only real data sets in ../shared/data."""

from __future__ import annotations

import json
import os
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
    """No test (nor a command it runs as a subprocess) reads or fills the real user's judgement cache."""
    saved = {name: os.environ.get(name) for name in ("XDG_CACHE_HOME", "POLICY_HARNESS_CACHE")}
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("user-cache"))
    os.environ.pop("POLICY_HARNESS_CACHE", None)
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session", autouse=True)
def written_records_match_the_published_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every metrics.json, record.json and compare.json any test wrote validates against `policy-harness schema`."""
    yield
    import jsonschema

    from harness.record import json_schema

    validators = {f"{name}.json": jsonschema.Draft202012Validator(json_schema(name))
                  for name in ("metrics", "record", "compare")}
    problems = []
    for name, validator in validators.items():
        for path in sorted(tmp_path_factory.getbasetemp().rglob(name)):
            # A run directory holds both record files; an MLflow child run's metrics.json artifact is one
            # reviewer's block. compare.json stands alone.
            whole = name == "compare.json" or (path.parent / "record.json").exists()
            if not whole or any((p / NOT_A_RECORD).exists() for p in path.parents):
                continue
            try:
                document = json.loads(path.read_text(encoding="utf-8"))
            except ValueError as err:
                problems.append(f"{path}: not JSON ({err})")
                continue
            problems += [f"{path}: {'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
                         for e in validator.iter_errors(document)][:3]
    assert not problems, "files that do not match the published record schema:\n" + "\n".join(problems[:20])
