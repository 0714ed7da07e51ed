"""Reviewers: one file per kind behind the small async `Reviewer` protocol; which class serves
which `type:` is registry.py's one mapping."""

from __future__ import annotations

from harness.reviewers.base import CostEstimate, Estimating, Injectable, Reviewer, review_sync
from harness.reviewers.registry import build_reviewer, has_capability

__all__ = ["CostEstimate", "Estimating", "Injectable", "Reviewer", "build_reviewer", "has_capability",
           "review_sync"]
