"""Drift canaries: the `drift` block of metrics.json and the canary history a run appends to.

The history (`canaries.jsonl`, beside the judgement cache) holds one `CanaryRun` per run x LLM
reviewer: the canary decisions of that run, so the next run can be paired with it (docs/stability.md)."""

from __future__ import annotations

from typing import Literal

from harness.record.usage import Model

CANARY_HISTORY = "canaries.jsonl"
CANARY_SCHEMA_VERSION = 1
DriftStatus = Literal["none", "drift", "no_previous", "no_data"]


class CanaryDrift(Model):
    """One reviewer's canary verdicts against its previous run on the same canaries and policy version.

    `status`: `drift` when the verdicts changed beyond chance (exact McNemar p below `alpha`),
    `none` when they did not, `no_previous` when there is no earlier run to pair with, `no_data` when
    no canary was decided in both runs (every answer of this run an abstention, say)."""

    status: DriftStatus
    canaries: int  # canary items this run decided
    previous_run: str | None = None  # the earlier run's name and time
    previous_created_at: str | None = None
    paired: int = 0  # canaries decided in both runs
    newly_actioned: int = 0
    newly_allowed: int = 0
    agreement: float | None = None  # share of paired canaries with the same decision
    p_value: float | None = None  # exact McNemar on the paired decisions
    alpha: float = 0.05
    flipped_item_ids: list[str] = []
    accuracy: float | None = None  # this run's decisions against the canaries' gold
    warning: str | None = None  # the line summary, report and portfolio show when status is `drift`


class CanaryRun(Model):
    """One line of the canary history: a reviewer's canary decisions in one run."""

    schema_version: int = CANARY_SCHEMA_VERSION
    run: str
    created_at: str
    out_dir: str
    reviewer: str
    model: str
    policy: str  # label, id@vN
    policy_sha256: str
    canaries_sha256: str
    decisions: dict[str, str]  # item id -> actioned | allowed | abstained (the majority of its samples)
    drift: CanaryDrift
