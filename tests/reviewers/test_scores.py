"""P(violation) read from token log-probabilities at the decision token of each answer layout, and the
LLM reviewer's scores over real loopback HTTP: planted log-probabilities, a provider that sends none,
the threshold, and batch lines."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import pytest
from support.llm import experiment, write_items

import harness
from harness.errors import HarnessError
from harness.reviewers.scores import TokenLogprob, chat_logprobs, violation_probability
from harness.testing.batch_server import FakeBatchServer
from harness.testing.openai_server import FakeOpenAIServer, Reply, item_section, last_user_text, planted_logprobs

pytestmark = pytest.mark.usefixtures("cache_path")


def tokens(content: str, p: float, other: tuple[str, float] | None = ('"', 0.05)) -> list[TokenLogprob] | None:
    return chat_logprobs({"content": planted_logprobs(content, p, other=other)})


JSON_ANSWER = '{"violation": true, "categories": ["HS"], "rule_ids": [], "confidence": 0.9, "rationale": "x"}'


@pytest.mark.parametrize("content", [JSON_ANSWER, JSON_ANSWER.replace("true", "false"),
                                     "unsafe\nS10", "safe", "Yes", "No, it does not violate"])
@pytest.mark.parametrize("p", [0.03, 0.37, 0.81])
def test_probability_is_read_at_the_decision_token_of_each_layout(content: str, p: float) -> None:
    # The unrelated alternative (a quote, 5%) is left out: the two outcomes are renormalised.
    assert violation_probability(tokens(content, p)) == pytest.approx(p)


def test_the_rationale_cannot_move_the_score() -> None:
    # "true" also appears later in the answer: only the value of the violation key counts.
    content = '{"violation": false, "rationale": "it is true that it is not hate", "confidence": 0.6}'
    assert violation_probability(tokens(content, 0.2)) == pytest.approx(0.2)


def test_the_last_verdict_key_counts_as_in_parsing() -> None:
    content = 'The item says {"violation": true}. My verdict: {"violation": false, "confidence": 0.7}'
    planted = planted_logprobs(content, 0.9)  # planted at the quoted key, not at the verdict's own
    p = violation_probability(chat_logprobs({"content": planted}))
    assert p is not None and p < 0.05  # read at the last key's "false" (no alternatives listed there)


def test_a_forced_prefix_puts_the_decision_on_the_first_token() -> None:
    read = [TokenLogprob(" true", math.log(0.3), ((" true", math.log(0.3)), (" false", math.log(0.6))))]
    assert violation_probability(read, prefix='{"violation":') == pytest.approx(1 / 3)


def test_an_outcome_missing_from_the_alternatives_gets_at_most_the_smallest_listed() -> None:
    read = [TokenLogprob("true", math.log(0.9), (("true", math.log(0.9)), ("tr", math.log(0.04)),
                                                  ("\n", math.log(0.01))))]
    p = violation_probability(read, prefix='{"violation": ')
    assert p is not None and 0.98 < p < 1.0  # not snapped to 1: still ordered against other items


def test_legacy_completion_logprobs_are_read() -> None:
    raw = {"tokens": [" false"], "token_logprobs": [math.log(0.7)],
           "top_logprobs": [{" false": math.log(0.7), " true": math.log(0.3)}]}
    assert violation_probability(chat_logprobs(raw), prefix='{"violation":') == pytest.approx(0.3)


def test_no_logprobs_or_no_decision_token_is_no_score() -> None:
    assert chat_logprobs(None) is None and chat_logprobs({"content": None}) is None
    assert violation_probability(None) is None
    assert violation_probability(tokens("I cannot help with that.", 0.5)) is None


# --- over loopback HTTP -------------------------------------------------------------------------------

ROWS = [("v1", "they are VIOLATE vermin", "hateful"), ("v2", "VIOLATE again", "hateful"),
        ("b1", "a sunny day", "non-hateful"), ("b2", "nice coffee", "non-hateful")]
PLANTED = {"they are VIOLATE vermin": 0.92, "VIOLATE again": 0.55, "a sunny day": 0.08, "nice coffee": 0.45}


def planted_responder(request: dict[str, Any]) -> Reply:
    text = item_section(last_user_text(request)).rsplit("<<<END ITEM>>>", 1)[0].strip()
    p = PLANTED[text]
    content = json.dumps({"violation": p >= 0.5, "categories": ["HS"] if p >= 0.5 else [], "rule_ids": [],
                          "confidence": 0.99, "rationale": "planted"})
    return Reply(content, logprobs=planted_logprobs(content, p))


def run(tmp_path: Path, server: FakeOpenAIServer, **overrides: Any) -> harness.RunRecord:
    items = write_items(tmp_path / "items.csv", ROWS)
    return harness.run(experiment(items, server.base_url, **overrides), out_dir=tmp_path / "out", track=False)


def test_scores_come_from_the_planted_logprobs_and_are_asked_for(tmp_path: Path) -> None:
    with FakeOpenAIServer(responder=planted_responder) as server:
        record = run(tmp_path, server)
        body = server.requests_log[0].body
    assert body["logprobs"] is True and body["top_logprobs"] >= 2
    v = {row.item_id: row for row in record.verdicts.itertuples()}
    assert {k: round(v[k].score, 6) for k in v} == {"v1": 0.92, "v2": 0.55, "b1": 0.08, "b2": 0.45}
    assert {v[k].score_source for k in v} == {"logprobs"}
    assert v["v2"].decision == "actioned" and v["b2"].decision == "allowed"  # no threshold: the answer decides
    assert record.metrics.reviewers["fake"].thresholds is not None
    assert record.metrics.reviewers["fake"].thresholds.auc == 1.0


def test_a_threshold_decides_by_the_score(tmp_path: Path) -> None:
    with FakeOpenAIServer(responder=planted_responder) as server:
        record = run(tmp_path, server, threshold=0.6)
    v = {row.item_id: row for row in record.verdicts.itertuples()}
    assert {k: v[k].decision for k in v} == {"v1": "actioned", "v2": "allowed", "b1": "allowed", "b2": "allowed"}
    assert list(v["v2"].categories) == []


def test_a_provider_without_logprobs_falls_back_to_confidence_with_one_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="harness.reviewers.llm"), FakeOpenAIServer(logprobs=False) as server:
        record = run(tmp_path, server)
    warned = [r for r in caplog.records if "no token log-probabilities" in r.getMessage()]
    assert len(warned) == 1 and "fake" in warned[0].getMessage()
    v = {row.item_id: row for row in record.verdicts.itertuples()}
    # the default responder states confidence 0.9 in its answer
    assert {k: round(v[k].score, 6) for k in v} == {"v1": 0.9, "v2": 0.9, "b1": 0.1, "b2": 0.1}
    assert {v[k].score_source for k in v} == {"confidence"}


def test_scores_none_asks_for_nothing_and_scores_nothing(tmp_path: Path) -> None:
    with FakeOpenAIServer(responder=planted_responder) as server:
        record = run(tmp_path, server, scores="none")
        body = server.requests_log[0].body
    assert "logprobs" not in body
    assert record.verdicts["score"].isna().all() and set(record.verdicts["score_source"]) == {""}
    assert record.metrics.reviewers["fake"].thresholds is None


def test_a_threshold_without_a_score_is_refused(tmp_path: Path, server: FakeOpenAIServer) -> None:
    with pytest.raises(HarnessError, match="threshold.*scores: none"):
        run(tmp_path, server, scores="none", threshold=0.5)


def test_batch_lines_carry_the_same_scores(tmp_path: Path) -> None:
    with FakeBatchServer(responder=planted_responder, in_progress_polls=1) as server:
        items = write_items(tmp_path / "items.csv", ROWS)
        record = harness.run(experiment(items, server.base_url, batch=True, poll_s=0.02), out_dir=tmp_path / "out",
                             track=False)
        assert server.requests_log == []  # every judgement went through the batch
        assert all(line["body"]["logprobs"] is True for line in server.batch_lines())
    v = {row.item_id: row for row in record.verdicts.itertuples()}
    assert {k: round(v[k].score, 6) for k in v} == {"v1": 0.92, "v2": 0.55, "b1": 0.08, "b2": 0.45}
    assert {v[k].score_source for k in v} == {"logprobs"}
