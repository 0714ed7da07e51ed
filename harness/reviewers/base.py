"""The one small async protocol every reviewer kind implements, and the optional capabilities
callers ask for by `isinstance` (a reviewer has them or not; no `kind` strings to compare)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import pandas as pd

from harness._util.event_loop import run_sync
from harness.config import ReviewerConfig
from harness.policy import Policy
from harness.record import ReviewerParams
from harness.record.metrics import Usage
from harness.verdicts import Verdict


@runtime_checkable
class Reviewer(Protocol):
    """Judges eval items under a policy; a failure on one item is an abstention, not a crash."""

    name: str
    # False for a reviewer whose verdicts do not depend on the policy text (a classifier trained on
    # gold labels): it is judged once when the versions share their categories.
    reads_policy: bool

    async def review(self, items: pd.DataFrame, policy: Policy) -> list[Verdict]:
        """One verdict per item (and per sample); items carry the canonical eval-set columns.
        Never blocks the event loop; cancelling it stops the work within seconds."""
        ...

    def params(self) -> ReviewerParams:
        """Parameters that identify this reviewer in run records and MLflow (no secrets)."""
        ...

    def usage(self) -> Usage | None:
        """Tokens, cost, calls and retries so far (None for reviewers that call no model)."""
        ...

    def close(self) -> None:
        """Release what the reviewer started (a local model server, connections)."""
        ...


@dataclass(frozen=True)
class CostEstimate:
    """What judging some items would cost, before anything is sent; cached judgements cost nothing."""

    judgements: int  # items x samples
    cached: int
    to_send: int
    prompt_tokens: int
    max_completion_tokens: int
    max_cost_usd: float | None  # None: no price is known for the model
    max_cost_usd_batch: float | None  # the same requests through the provider's batch API

    def __add__(self, other: CostEstimate) -> CostEstimate:
        def cost(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else a + b

        return CostEstimate(self.judgements + other.judgements, self.cached + other.cached,
                            self.to_send + other.to_send, self.prompt_tokens + other.prompt_tokens,
                            self.max_completion_tokens + other.max_completion_tokens,
                            cost(self.max_cost_usd, other.max_cost_usd),
                            cost(self.max_cost_usd_batch, other.max_cost_usd_batch))


@runtime_checkable
class Estimating(Protocol):
    """A reviewer whose cost can be forecast before anything is sent (`estimate`)."""

    def estimate(self, items: pd.DataFrame, policy: Policy) -> CostEstimate:
        """Tokens and cost of judging these items under this policy."""
        ...


@runtime_checkable
class Injectable(Protocol):
    """A reviewer that reads a prompt with the item's text in it, and so faces prompt injection:
    the injection slice attacks its prompts."""

    def prompt_label(self) -> str:
        """The prompt the item's text is put into (a template's label)."""
        ...


@runtime_checkable
class ConfigChecking(Protocol):
    """A reviewer kind whose configuration can be checked before a run, without building a reviewer
    (no API key needed): `validate` calls it for every reviewer of that kind."""

    @classmethod
    def check_config(cls, config: ReviewerConfig, base_dir: Path) -> None:
        """Raise a HarnessError naming what in `config` cannot work (a missing prompt file, a budget
        without a price)."""
        ...


def review_sync(reviewer: Reviewer, items: pd.DataFrame, policy: Policy) -> list[Verdict]:
    """`reviewer.review` from sync code (a script, a test); inside a running event loop (a notebook)
    it runs on a worker thread with a loop of its own."""
    return run_sync(reviewer.review(items, policy))
