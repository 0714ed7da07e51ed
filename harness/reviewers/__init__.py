"""Reviewers: one file per kind behind the small `Reviewer` protocol."""

from __future__ import annotations

from pathlib import Path

from harness.config import ClassifierReviewerConfig, LLMReviewerConfig
from harness.reviewers.base import Reviewer, review_async


def build_reviewer(config: ClassifierReviewerConfig | LLMReviewerConfig, *, base_dir: Path) -> Reviewer:
    if isinstance(config, ClassifierReviewerConfig):
        from harness.reviewers.classifier import ClassifierReviewer

        return ClassifierReviewer(config, base_dir=base_dir)
    from harness.reviewers.llm import LLMReviewer

    return LLMReviewer(config, base_dir=base_dir)


__all__ = ["Reviewer", "build_reviewer", "review_async"]
