"""The one small protocol every reviewer kind implements."""

from __future__ import annotations

import asyncio
from typing import Protocol

import pandas as pd

from harness.policy import Policy
from harness.record.metrics import Usage
from harness.verdicts import Verdict


class Reviewer(Protocol):
    """Judges eval items under a policy; a failure on one item is an abstention, not a crash."""

    name: str
    kind: str
    # False for a reviewer whose verdicts do not depend on the policy text (a classifier trained on
    # gold labels): it is judged once when the versions share their categories.
    reads_policy: bool

    def review(self, items: pd.DataFrame, policy: Policy) -> list[Verdict]:
        """One verdict per item (and per sample); items carry the canonical eval-set columns."""
        ...

    def params(self) -> dict[str, object]:
        """Parameters that identify this reviewer in run records and MLflow (no secrets)."""
        ...

    def usage(self) -> Usage | None:
        """Tokens, cost, calls and retries so far (None for reviewers that call no model)."""
        ...

    def close(self) -> None:
        """Release what the reviewer started (a local model server, connections)."""
        ...


async def review_async(reviewer: Reviewer, items: pd.DataFrame, policy: Policy) -> list[Verdict]:
    """`review` without blocking the event loop: the reviewer's own async path (model calls),
    else its sync `review` on a worker thread (a classifier's fitting is CPU work)."""
    native = getattr(reviewer, "review_async", None)
    if native is not None:
        verdicts: list[Verdict] = await native(items, policy)
        return verdicts
    return await asyncio.to_thread(reviewer.review, items, policy)
