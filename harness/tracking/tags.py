"""The MLflow vocabulary of the harness: the run kinds it tags, and the one rule for metric-key parts."""

from __future__ import annotations

import re
from enum import StrEnum

KIND_TAG = "policy_harness.kind"


class Kind(StrEnum):
    """`policy_harness.kind`: what an MLflow run of the harness holds."""

    EXPERIMENT = "experiment"  # the parent run of `run`
    POLICY_REVIEWER = "policy_reviewer"  # one policy version x reviewer
    COMPARISON = "comparison"  # `compare A B`
    PROFICIENCY = "proficiency"  # `proficiency`: a cohort's grading
    REVISE = "revise"  # `revise`: candidates and their registry versions
    IMPACT = "impact"  # `impact`: a run's forecast of actions, review hours and appeals per day


def kind_filter(kind: Kind) -> str:
    """The search filter for runs of one kind."""
    return f"tags.`{KIND_TAG}` = '{kind.value}'"


def metric_key(value: object) -> str:
    """One part of a metric name (a category, slice value or reviewer name), made safe for MLflow.

    MLflow names allow letters, digits, _ - . / and space; '/' is replaced too because MLflow treats a
    name as a path and refuses one that normalises to another (a slice value '../x' or 'a//b')."""
    return re.sub(r"[^A-Za-z0-9_\-. ]", "_", str(value))[:100] or "_"
