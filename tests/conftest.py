"""Shared fixtures: the repository root and the read-only real data sets in ../shared/data."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
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
