"""OPS.yaml of `policy-harness impact`: how enforcement runs on the platform, as a strict typed model.

The keys are the contract of issue 28: review routing, handling time per language, the reviewer
day, appeal and overturn rates, and (optionally) costs. An unknown key is an error with a
'did you mean'."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from harness.config.base import StrictModel, read_yaml
from harness.config.validation import describe_validation_error
from harness.errors import HarnessError

DEFAULT = "default"


class SampleRoute(StrictModel):
    share: float = Field(ge=0, le=1)


class BandRoute(StrictModel):
    reviewer: str
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> BandRoute:
        if not self.low < self.high:
            raise ValueError(f"the band's 'low' must be below its 'high' (got low {self.low}, high {self.high})")
        return self


class Review(StrictModel):
    """Which items go to human review: every actioned item, all items, a random share, or the items
    whose score (of reviewer `band.reviewer`) lies in [low, high)."""

    route: Literal["actions", "all", "sample", "band"]
    sample: SampleRoute | None = None
    band: BandRoute | None = None

    @model_validator(mode="after")
    def _route_has_its_section(self) -> Review:
        if self.route == "sample" and self.sample is None:
            raise ValueError("route 'sample' needs 'sample: {share: ...}' beside it")
        if self.route == "band" and self.band is None:
            raise ValueError("route 'band' needs 'band: {reviewer: NAME, low: ..., high: ...}' beside it")
        return self


class AppealRate(StrictModel):
    wrongful: float = Field(ge=0, le=1)  # appeals per wrongful action
    correct: float = Field(ge=0, le=1)  # appeals per correct action


class Cost(StrictModel):
    reviewer_hour_usd: float = Field(default=0.0, ge=0)
    per_1k_model_calls_usd: float = Field(default=0.0, ge=0)


class Ops(StrictModel):
    """OPS.yaml: `handling_seconds` maps values of the run's language slice (and `default`) to
    seconds per reviewed item."""

    review: Review
    handling_seconds: dict[str, float]
    hours_per_reviewer_day: float = Field(gt=0)
    appeal_rate: AppealRate
    overturn_rate: float = Field(ge=0, le=1)
    cost: Cost | None = None

    @field_validator("handling_seconds")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        for key, seconds in value.items():
            if not seconds > 0:
                raise ValueError(f"handling time of '{key}' must be a positive number of seconds (got {seconds})")
        return value

    def seconds_for(self, language: str | None) -> float | None:
        """Seconds per reviewed item in `language` (its own entry, else `default`); None if neither."""
        if language is not None and language in self.handling_seconds:
            return self.handling_seconds[language]
        return self.handling_seconds.get(DEFAULT)


def load_ops(path: Path) -> Ops:
    """Read and check OPS.yaml; any problem is one HarnessError naming the file."""
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise HarnessError("must be a YAML mapping with the keys review, handling_seconds, hours_per_reviewer_day, "
                           "appeal_rate and overturn_rate.", path=path)
    try:
        return Ops.model_validate(data)
    except ValidationError as err:
        raise HarnessError(describe_validation_error(err, Ops), path=path) from None
