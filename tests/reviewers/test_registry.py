"""One registry entry per reviewer type; capabilities instead of kind strings; typed params keep the record's keys."""

from __future__ import annotations

import typing
from pathlib import Path

from pydantic import TypeAdapter

from harness.config import ClassifierReviewerConfig, LLMReviewerConfig, ReviewerConfig
from harness.record import ReviewerParams
from harness.reviewers import Estimating, Injectable, Reviewer, build_reviewer, has_capability
from harness.reviewers.registry import REVIEWERS


def test_every_reviewer_type_of_the_config_has_one_registry_entry() -> None:
    union = typing.get_args(typing.get_args(ReviewerConfig)[0])
    types = {typing.get_args(c.model_fields["type"].annotation)[0] for c in union}
    assert types == set(REVIEWERS)


def test_capabilities_replace_kind_checks(tmp_path: Path) -> None:
    classifier = build_reviewer(ClassifierReviewerConfig(type="classifier", name="c"), base_dir=tmp_path)
    assert isinstance(classifier, Reviewer)
    assert not isinstance(classifier, Estimating) and not isinstance(classifier, Injectable)
    llm = LLMReviewerConfig(type="llm", name="l", model="local/x.gguf")
    assert has_capability(llm, Estimating) and has_capability(llm, Injectable)
    assert not has_capability(ClassifierReviewerConfig(type="classifier", name="c"), Injectable)


def test_params_of_an_earlier_record_read_back_with_the_same_keys() -> None:
    written = {
        "llm": {"type": "llm", "model": "gpt-4o", "temperature": 0.0, "max_tokens": 256, "samples": 1,
                "prompt": "reviewer_v1", "prompt_sha256": "ab", "response_format": "auto", "concurrency": 8,
                "timeout_s": 60.0, "max_retries": 4, "seed": 7, "reads_policy": True},
        "clf": {"type": "classifier", "mode": "cross_fitted", "source": "out-of-fold on the eval set", "folds": 5,
                "threshold": 0.5, "max_features": 50000, "seed": 0, "estimator": "tfidf", "reads_policy": False,
                "retired_setting": 1},  # a parameter a later version dropped is kept, not refused
        "ext": {"type": "external", "column": "model", "reads_policy": False},
    }
    adapter = TypeAdapter(dict[str, ReviewerParams])
    params = adapter.validate_python(written)
    assert params["llm"].get("seed") == 7 and params["clf"].reads_policy is False
    assert adapter.dump_python(params, mode="json") == written
