"""The portfolio's runs are built once per session: real classifier runs and a real grading."""

from __future__ import annotations

import pytest
from support.portfolio_runs import Built, build_runs


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_runs(tmp_path_factory.mktemp("portfolio"))
