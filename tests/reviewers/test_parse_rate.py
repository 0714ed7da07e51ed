"""Parse rate: of the answers an LLM reviewer returned, how many parsed; abstentions by kind."""

from __future__ import annotations

from pathlib import Path

import pytest

import harness
from harness.reporting import render_html
from harness.testing.openai_server import FakeOpenAIServer
from support.llm import experiment, fast_backoff, write_items

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
    assert answers.abstentions == {"unparseable answer": 1, "refusal": 1,
                                   "no answer (provider error, timeout or budget)": 1}
    assert "Answers of fake: 60.0%" in render_html(record)
