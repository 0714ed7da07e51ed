"""Parse rate: of the answers an LLM reviewer returned, how many parsed; abstentions by kind."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from support.llm import experiment, fast_backoff, write_items

import harness
from harness.reporting import render_html
from harness.testing.openai_server import FakeOpenAIServer
from harness.verdicts import AbstainKind, read_verdicts

pytestmark = pytest.mark.usefixtures("cache_path")


def test_parse_rate_counts_returned_answers_and_names_each_abstention(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    fast_backoff(monkeypatch)
    rows = [("ok1", "a sunny day", "non-hateful"), ("ok2", "VIOLATE", "hateful"), ("ok3", "tea time", "non-hateful"),
            ("g", "FAULT:garbage", "non-hateful"), ("r", "FAULT:refusal VIOLATE", "hateful"),
            ("e", "FAULT:500", "non-hateful")]
    items = write_items(tmp_path / "items.csv", rows)
    with FakeOpenAIServer() as srv:
        record = harness.run(experiment(items, srv.base_url), out_dir=tmp_path / "out", track=False)
    answers = record.metrics.reviewers["fake"].answers
    assert answers is not None
    assert (answers.judgements, answers.returned, answers.parsed) == (6, 5, 3)  # the 500 returned no answer
    assert answers.parse_rate.k == 3 and answers.parse_rate.n == 5
    assert answers.abstentions == {AbstainKind.UNPARSEABLE: 1, AbstainKind.REFUSAL: 1, AbstainKind.PROVIDER_ERROR: 1}
    page = render_html(record)
    assert "Answers of fake: 60.0%" in page
    assert all(f"1 {AbstainKind(kind).label}" in page for kind in answers.abstentions)


def test_abstention_kinds_read_from_an_old_run_are_those_of_its_reasons(tmp_path: Path) -> None:
    """A verdicts.parquet written before abstain_kind had its column: the kind comes from the reason."""
    old = pd.DataFrame({"item_id": ["a", "b", "c", "d"], "decision": ["abstained", "abstained", "allowed", "abstained"],
                        "abstain_reason": ["refusal: I can't", "timeout after 2 retries: x", "",
                                           "answer cut off at the token limit"]})
    old.to_parquet(tmp_path / "v.parquet")
    assert read_verdicts(tmp_path / "v.parquet")["abstain_kind"].tolist() == ["refusal", "provider_error", "", "cut_off"]
