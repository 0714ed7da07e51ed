"""Which reviewer class serves which `type:` of the experiment's `reviewers:` list.

Adding a reviewer kind is its config class (harness/config, in the `ReviewerConfig` union) and one
entry here; `build_reviewer` and every capability check (`Estimating`, `Injectable`) follow."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Protocol

from harness.config import ReviewerConfig
from harness.reviewers.base import Reviewer

# type: -> "module:Class". Imported when first built, so a classifier-only run never imports the
# LLM client (litellm: seconds) and an LLM-only run never imports scikit-learn.
REVIEWERS: dict[str, str] = {
    "classifier": "harness.reviewers.classifier:ClassifierReviewer",
    "llm": "harness.reviewers.llm:LLMReviewer",
}


class ReviewerClass(Protocol):
    def __call__(self, config: ReviewerConfig, *, base_dir: Path) -> Reviewer: ...


def _load(kind: str) -> Any:
    module, name = REVIEWERS[kind].split(":")
    return getattr(importlib.import_module(module), name)


def reviewer_class(kind: str) -> type:
    """The class that implements reviewers of `type: kind`."""
    cls: type = _load(kind)
    return cls


def build_reviewer(config: ReviewerConfig, *, base_dir: Path) -> Reviewer:
    """The reviewer an experiment's `reviewers:` entry describes (relative paths from `base_dir`)."""
    factory: ReviewerClass = _load(config.type)
    return factory(config, base_dir=base_dir)


def has_capability(config: ReviewerConfig, capability: type) -> bool:
    """Whether reviewers of this config's type have a capability (`Estimating`, `Injectable`), known
    before one is built (building an LLM reviewer checks its API key; a check of the experiment
    must not need one)."""
    return issubclass(reviewer_class(config.type), capability)
