"""The base of the record's strict models, and a reviewer's usage (here so that both metrics.json
and diagnosis.json can carry it without importing each other)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Usage(Model):
    """Model calls, tokens and spend of one reviewer (`cost_usd` null when the price is unknown)."""

    calls: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = 0.0
    cost_unknown_calls: int = 0
    retries: int = 0
    abstained: int = 0
    reasoning_tokens: int = 0  # part of completion_tokens
    reasoning_cost_usd: float | None = 0.0  # part of cost_usd
    batches: int = 0  # provider batches submitted (batch: true)
