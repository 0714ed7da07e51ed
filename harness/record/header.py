"""Typed models of record.json: what was judged, by whom, under which policies, and where it is tracked."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, SerializerFunctionWrapHandler, model_serializer

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


class _Params(BaseModel):
    """What identifies a reviewer (no secrets): `type` and the parameters of its kind."""

    # A record written by an earlier version may hold a parameter since renamed or removed: it is
    # kept as it was (rescore copies the reviewers' parameters into the new record), not refused.
    model_config = ConfigDict(extra="allow")

    @model_serializer(mode="wrap")
    def _only_set_options(self, handler: SerializerFunctionWrapHandler) -> dict[str, JsonValue]:
        # An option that is unset (None by default) is left out, as the reviewers always wrote it,
        # so records keep their keys: a seed appears only when one was given.
        data: dict[str, JsonValue] = handler(self)
        fields = type(self).model_fields
        return {k: v for k, v in data.items()
                if not (v is None and k in fields and fields[k].default is None)}

    def values(self) -> dict[str, JsonValue]:
        """The parameters as record.json holds them."""
        out: dict[str, JsonValue] = self.model_dump(mode="json")
        return out

    def get(self, name: str) -> JsonValue:
        """A parameter of this reviewer's kind, None when it has none of that name."""
        return self.values().get(name)


class LLMParams(_Params):
    """An LLM reviewer: the model and how it is called (the prompt by its label and sha256).

    Only `model` is required: a record written by an earlier version may lack a parameter added
    since, and must still be read (and re-rendered, rescored)."""

    type: Literal["llm"] = "llm"
    model: str
    temperature: float | None = None
    max_tokens: int | None = None
    samples: int | None = None
    prompt: str | None = None
    prompt_sha256: str | None = None
    response_format: str | None = None
    concurrency: int | None = None
    timeout_s: float | None = None
    max_retries: int | None = None
    api_base: str | None = None  # a provider endpoint's; never a local model server's
    seed: int | None = None
    batch: bool | None = None  # set when the judgements went through the provider's batch API
    batch_provider: str | None = None
    batch_discount: float | None = None
    reasoning_effort: str | None = None
    params: dict[str, JsonValue] | None = None
    prompt_layout: str | None = None  # only when not the default layout
    limit: int | None = None  # the reviewer judged a seeded, label-stratified sample of this many items
    reads_policy: bool = True
    scores: str | None = None  # where each verdict's score came from: logprobs (default), confidence, none
    threshold: float | None = None  # set: actioned when score >= threshold
    decide: str | None = None  # "first_token": the embedded model decided by its first answer token


class ClassifierParams(_Params):
    """A text classifier: where its model came from and how it decides (optional, as for `LLMParams`)."""

    type: Literal["classifier"] = "classifier"
    mode: str | None = None  # cross_fitted, trained or model_uri
    source: str | None = None
    folds: int | None = None
    threshold: float | None = None
    max_features: int | None = None
    seed: int | None = None
    estimator: str | None = None
    skipped_categories: list[str] | None = None  # multi-label gold: categories too rare to learn
    reads_policy: bool = False


class ExternalParams(_Params):
    """Decisions scored from a file (`score`): the column they were read from."""

    type: Literal["external"] = "external"
    column: str
    reads_policy: bool = False


# False `reads_policy`: a classifier or imported predictions, whose verdicts do not depend on the policy text.
ReviewerParams = Annotated[LLMParams | ClassifierParams | ExternalParams, Field(discriminator="type")]


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
