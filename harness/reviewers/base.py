"""The one small protocol every reviewer kind implements."""

from __future__ import annotations

from typing import Protocol

import pandas as pd

from harness.policy import Policy
from harness.verdicts import Verdict


class Reviewer(Protocol):
    """Judges eval items under a policy; a failure on one item is an abstention, not a crash."""

    name: str
    kind: str

    def review(self, items: pd.DataFrame, policy: Policy) -> list[Verdict]:
        """One verdict per item (and per sample); items carry the canonical eval-set columns."""
        ...

    def params(self) -> dict[str, object]:
        """Parameters that identify this reviewer in run records and MLflow (no secrets)."""
        ...

    def usage(self) -> dict[str, object]:
        """Tokens, cost, calls and retries so far (empty for reviewers that call no model)."""
        ...

    def close(self) -> None:
        """Release what the reviewer started (a local model server, connections)."""
        ...
