"""Typed model of compare.json: two stored runs compared item by item, per reviewer they share.

`compare` builds it, and the page, the MLflow run and the CLI summary read it, so a renamed
field is a type error."""

from __future__ import annotations

from harness.record.metrics import GateResult, Model, PairedComparison


class ComparedRun(Model):
    """One side of a comparison: what was given on the command line and how it is shown."""

    source: str  # a run directory or an MLflow run id
    label: str
    # Absent from files written before they were recorded:
    run_id: str | None = None  # the MLflow run: the given run id, or a tracked run directory's parent run
    policy: str | None = None  # the candidate policy version, "<id>@v<version>"
    created_at: str | None = None  # when the run was made (run directories only)


class Coverage(Model):
    """Which items both runs judged, and how many of those changed between them."""

    common: int
    only_in_a: int
    only_in_b: int
    text_changed: int
    gold_changed: int


class ReviewerComparison(PairedComparison):
    """The paired comparison of one reviewer on the items both runs judged."""

    coverage: Coverage
    # The reviewer's launch gates in each run (run directories only; None from an MLflow run id).
    gates_a: list[GateResult] | None = None
    gates_b: list[GateResult] | None = None
    # False for a reviewer that does not read the policy text (a classifier): a new policy version
    # cannot change its verdicts. None when the runs do not say.
    reads_policy: bool | None = None


COMPARE_JSON = "compare.json"
COMPARE_SCHEMA_VERSION = 1  # compare.json's own: bumped on a change its readers would notice


class ComparisonResult(Model):
    """compare.json."""

    schema_version: int = COMPARE_SCHEMA_VERSION  # absent from files written before it was versioned
    a: ComparedRun
    b: ComparedRun
    created_at: str  # ISO 8601, UTC, seconds
    reviewers: dict[str, ReviewerComparison]
