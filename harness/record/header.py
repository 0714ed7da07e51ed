"""Typed models of record.json: what was judged, by whom, under which policies, and where it is tracked."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from harness.record.metrics import Usage


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PolicyCategory(Model):
    id: str
    name: str


class PolicyRule(Model):
    id: str
    text: str
    exception: bool


class PolicySummary(Model):
    """One policy version as the run saw it (its full text, so a report can diff it later)."""

    id: str
    version: int
    title: str
    sha256: str
    path: str
    categories: list[PolicyCategory]
    rules: list[PolicyRule]
    text: str


class EvalSetSummary(Model):
    name: str
    source: str
    sha256: str
    items: int
    slices: list[str]
    license: str | None
    label_counts: dict[str, int]


class ReviewerParams(BaseModel):
    """What identifies a reviewer (no secrets). Each kind adds its own parameters beside `type`
    (an LLM's model and temperature, a classifier's folds and threshold)."""

    model_config = ConfigDict(extra="allow")

    type: str
    # False for a classifier or imported predictions: its verdicts do not depend on the policy text.
    reads_policy: bool = True

    def values(self) -> dict[str, JsonValue]:
        return self.model_dump(mode="json")

    def get(self, name: str) -> JsonValue:
        """A parameter of this reviewer's kind, None when it has none of that name."""
        value: JsonValue = self.values().get(name)
        return value


class MlflowIds(Model):
    """Where the run is tracked; `synced` false until params, metrics and artifacts are logged."""

    tracking_uri: str | None = None
    experiment_id: str | None = None
    experiment_name: str | None = None
    parent_run_id: str | None = None
    runs: dict[str, str] = Field(default_factory=dict)
    policy_prompts: dict[str, str | None] = Field(default_factory=dict)
    synced: bool = False


class RecordHeader(Model):
    """record.json: everything about a run except its metrics and tables, and the sha256 of those files."""

    schema_version: int
    name: str
    created_at: str
    candidate: str
    baseline: str | None
    policies: dict[str, PolicySummary]
    evalset: EvalSetSummary
    reviewers: dict[str, ReviewerParams]
    experiment: dict[str, JsonValue]
    incomplete: bool
    incomplete_reason: str
    usage: dict[str, Usage]
    mlflow: MlflowIds
    lineage: dict[str, str]
    files: dict[str, str]
