"""The `reviewers:` section: classifier and LLM reviewer settings, and model prices."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, JsonValue, PrivateAttr, field_validator, model_validator

from harness.config.base import StrictModel
from harness.config.evalset import EvalSetConfig
from harness.config.provider_params import check_params


class ClassifierReviewerConfig(StrictModel):
    type: Literal["classifier"]
    name: str
    train: EvalSetConfig | None = None
    model_uri: str | None = None
    folds: int = Field(default=5, ge=2, le=20)
    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    max_features: int = Field(default=50_000, ge=100)
    seed: int = 0

    @model_validator(mode="after")
    def _one_source(self) -> ClassifierReviewerConfig:
        if self.train is not None and self.model_uri is not None:
            raise ValueError("give either 'train' or 'model_uri', not both")
        return self


class Price(StrictModel):
    """A model's price in USD per million tokens; overrides litellm's price table."""

    input_per_million: float = Field(ge=0)
    output_per_million: float = Field(ge=0)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input_per_million + completion_tokens * self.output_per_million) / 1e6


BatchProvider = Literal["openai", "azure", "vertex_ai", "bedrock"]
# A model named `<prefix>/...` goes to that provider's batch API.
_BATCH_PREFIXES: dict[str, BatchProvider] = {"azure": "azure", "vertex_ai": "vertex_ai", "bedrock": "bedrock"}

REASONING_MAX_TOKENS = 8192  # the default max_tokens of a reviewer with a reasoning_effort


class CachedCalls(StrictModel):
    """Settings of a model whose answers go to the judgement cache."""

    # The experiment's `cache:` file (resolved), set when the experiment is read; never a key of this section.
    _cache_file: Path | None = PrivateAttr(default=None)

    @property
    def cache_file(self) -> Path | None:
        """The judgement cache this model's answers go to; None: the default (`harness._util.cache_dir`)."""
        return self._cache_file

    def use_cache(self, path: Path | None) -> None:
        self._cache_file = path


class LLMReviewerConfig(CachedCalls):
    type: Literal["llm"]
    name: str
    model: str
    api_base: str | None = None
    api_key_env: str | None = None
    prompt: str | None = None  # a template file; None = the built-in reviewer_v1 template
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(default=256, ge=1)
    concurrency: int = Field(default=8, ge=1, le=1024)
    timeout_s: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=4, ge=0, le=20)
    samples: int = Field(default=1, ge=1, le=50)
    max_cost_usd: float | None = Field(default=None, ge=0)
    price: Price | None = None
    response_format: Literal["auto", "json_schema", "json_object", "none"] = "auto"
    limit: int | None = Field(default=None, ge=1)
    seed: int | None = None
    # How long a reasoning model thinks before it answers; sent as litellm's reasoning_effort.
    reasoning_effort: Literal["low", "medium", "high"] | None = None
    # Provider settings passed through to the call as they are (top_p, extra_body, extra_headers).
    params: dict[str, JsonValue] = Field(default_factory=dict)
    # Provider batch API (docs/batch.md): uncached judgements go out as JSONL files of requests.
    batch: bool = False
    batch_window: str = "24h"
    poll_s: float = Field(default=30.0, gt=0)
    batch_max_lines: int = Field(default=50_000, ge=1)
    batch_max_bytes: int = Field(default=200_000_000, ge=1024)
    batch_provider: BatchProvider | None = None  # litellm's custom_llm_provider
    batch_discount: float = Field(default=0.5, gt=0.0, le=1.0)  # batch price = online price x this
    # A score per verdict, P(violation) (docs/scores.md): read from the answer's token log-probabilities,
    # or the model's stated confidence; None: log-probabilities where the provider returns them, else
    # confidence. A local model with a score decides from its first answer token (one forward pass).
    scores: Literal["logprobs", "confidence", "none"] | None = None
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)  # set: actioned when score >= threshold

    @field_validator("params")
    @classmethod
    def _plain_settings(cls, params: dict[str, JsonValue]) -> dict[str, JsonValue]:
        check_params(params)
        return params

    @field_validator("batch_window")
    @classmethod
    def _window_in_hours(cls, window: str) -> str:
        if not re.fullmatch(r"[1-9][0-9]*h", window):
            raise ValueError(f"'batch_window' must be a whole number of hours such as '24h' (OpenAI accepts only "
                             f"'24h'); got {window!r}")
        return window

    @model_validator(mode="after")
    def _batch_provider(self) -> LLMReviewerConfig:
        if self.batch and self.model.startswith("local/"):
            raise ValueError(f"reviewer '{self.name}' sets batch: true but the local model server has no batch "
                             "API; remove 'batch' or use a provider model")
        if not self.batch or self.batch_provider is not None:
            return self
        prefix = self.model.split("/", 1)[0] if "/" in self.model else ""
        if prefix == "openai" or self.api_base:
            self.batch_provider = "openai"
        elif prefix in _BATCH_PREFIXES:
            self.batch_provider = _BATCH_PREFIXES[prefix]
        else:
            raise ValueError(f"reviewer '{self.name}' sets batch: true but no batch API is known for model "
                             f"'{self.model}'; set 'batch_provider' to one of openai, azure, vertex_ai, bedrock")
        return self

    @model_validator(mode="after")
    def _threshold_needs_score(self) -> LLMReviewerConfig:
        if self.threshold is not None and self.scores == "none":
            raise ValueError(f"reviewer '{self.name}' sets a 'threshold' but 'scores: none'; a threshold is "
                             "applied to the score: remove one of them")
        return self

    @property
    def score_mode(self) -> Literal["logprobs", "confidence", "none"]:
        """The `scores` setting with its default applied."""
        return self.scores or "logprobs"

    @model_validator(mode="after")
    def _room_to_reason(self) -> LLMReviewerConfig:
        # The reasoning comes before the answer: 256 tokens would cut most answers off.
        if self.reasoning_effort is not None and "max_tokens" not in self.model_fields_set:
            self.max_tokens = REASONING_MAX_TOKENS
        return self


ReviewerConfig = Annotated[
    ClassifierReviewerConfig | LLMReviewerConfig, Field(discriminator="type")
]
