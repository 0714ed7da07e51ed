"""Experiment YAML -> typed, strict configuration (unknown keys are rejected).

The names live in modules named for what they hold; this face re-exports the public ones."""

from __future__ import annotations

from harness.config.base import StrictModel, read_yaml, resolve_path
from harness.config.evalset import AnnotationsConfig, ColumnMap, EvalSetConfig, StrataSpec
from harness.config.experiment import (
    GATE_METRICS,
    AuthorConfig,
    Experiment,
    GateSpec,
    InjectionConfig,
    TrackingConfig,
    load_experiment,
    parse_experiment,
    resolve_local_model,
)
from harness.config.reviewers import (
    REASONING_MAX_TOKENS,
    ClassifierReviewerConfig,
    LLMReviewerConfig,
    Price,
    ReviewerConfig,
)
from harness.config.validation import describe_validation_error

__all__ = [
    "GATE_METRICS", "REASONING_MAX_TOKENS", "AnnotationsConfig", "AuthorConfig", "ClassifierReviewerConfig",
    "ColumnMap", "EvalSetConfig", "Experiment", "GateSpec", "InjectionConfig", "LLMReviewerConfig", "Price",
    "ReviewerConfig", "StrataSpec", "StrictModel", "TrackingConfig", "describe_validation_error",
    "load_experiment", "parse_experiment", "read_yaml", "resolve_local_model", "resolve_path",
]
