"""RunRecord: the single source of truth of a run (tables, typed metrics and header)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd
from pydantic import ConfigDict, Field
from pydantic.dataclasses import dataclass

from harness.record.explanations import Explanations
from harness.record.header import EvalSetSummary, MlflowIds, PolicySummary, ReviewerParams
from harness.record.metrics import Metrics, Usage


@dataclass(config=ConfigDict(arbitrary_types_allowed=True, validate_assignment=True))
class RunRecord:
    """What a run produced. `verdicts` is a DataFrame (one row per item x reviewer x policy
    version x sample, with gold, text and slices); `metrics` is the typed `Metrics` model.
    Plain dicts given for the typed fields are validated into their models."""

    name: str
    experiment: dict[str, Any]
    policies: dict[str, PolicySummary]
    candidate: str
    baseline: str | None
    evalset: EvalSetSummary
    reviewers: dict[str, ReviewerParams]
    verdicts: pd.DataFrame
    metrics: Metrics
    items: pd.DataFrame
    created_at: str
    incomplete: bool = False
    incomplete_reason: str = ""
    usage: dict[str, Usage] = Field(default_factory=dict)
    mlflow: MlflowIds = Field(default_factory=MlflowIds)
    lineage: dict[str, str] = Field(default_factory=dict)
    out_dir: str = ""
    explanations: Explanations | None = None  # explanations.json: rationales generated on demand (explain)

    def judged_once(self, reviewer: str) -> bool:
        """True for a reviewer that does not read the policy text and was judged under the candidate
        only (the versions share their categories): its figures stand for both versions."""
        params = self.reviewers.get(reviewer)
        baseline = self.metrics.baseline
        return (params is not None and not params.reads_policy and baseline is not None
                and reviewer not in baseline.reviewers)

    def sample(self, reviewer: str) -> ReviewerSample | None:
        """How a reviewer with a `limit` below the eval set's size was sampled; None when it judged every item."""
        params = self.reviewers.get(reviewer)
        limit = params.get("limit") if params is not None else None
        if not isinstance(limit, int) or limit >= self.evalset.items:
            return None
        metrics = self.metrics.reviewers.get(reviewer)
        seed = params.get("seed") if params is not None else None
        return ReviewerSample(judged=metrics.items if metrics is not None else limit, of=self.evalset.items,
                              limit=limit, seed=seed if isinstance(seed, int) else 0)


@dataclasses.dataclass(frozen=True)
class ReviewerSample:
    """A reviewer that judged a seeded, label-stratified sample of the eval set, not all of it."""

    judged: int  # items with a verdict (fewer than `limit` when the run stopped early)
    of: int
    limit: int
    seed: int

    @property
    def label(self) -> str:
        """'a seeded sample of 40 of 302 items': what every page and line says about this reviewer."""
        return f"a seeded sample of {self.judged:,} of {self.of:,} items"

    @property
    def detail(self) -> str:
        """How the sample was drawn, for a reader who wants to draw it again."""
        return f"its limit is {self.limit:,}; label-stratified, seed {self.seed}"


def replace(record: RunRecord, **changes: Any) -> RunRecord:
    """A copy of `record` with some fields changed (validated like the constructor)."""
    return dataclasses.replace(record, **changes)
