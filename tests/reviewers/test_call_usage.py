"""Each LLM verdict carries its provider call's usage and latency (what the trace's child span shows), and a
verdict read from the judgement cache carries those of the call that paid for it, not zeros."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.llm import experiment, write_items

import harness
from harness.testing.openai_server import FakeOpenAIServer, approx_tokens, message_text

pytestmark = pytest.mark.usefixtures("cache_path")

ROWS = [(f"u{i}", f"usage item {i}" + (" VIOLATE" if i % 2 else ""), "hateful" if i % 2 else "non-hateful")
        for i in range(4)]
USAGE = ["item_id", "prompt_tokens", "completion_tokens", "latency_ms"]


def test_a_cached_verdict_keeps_the_usage_and_latency_of_the_call_that_paid(tmp_path: Path) -> None:
    items = write_items(tmp_path / "items.csv", ROWS)
    with FakeOpenAIServer(latency_ms=60) as server:
        first = harness.run(experiment(items, server.base_url), out_dir=tmp_path / "out1", track=False)
        sent = {r.body["messages"][-1]["content"]: r for r in server.requests_log}
        server.reset_stats()
        second = harness.run(experiment(items, server.base_url), out_dir=tmp_path / "out2", track=False)
        assert server.stats["requests"] == 0  # every verdict came from the cache
    paid = first.verdicts[USAGE].set_index("item_id")
    assert (paid["latency_ms"] >= 60).all()  # the server's own delay is inside the call's latency
    assert (paid["prompt_tokens"] > 0).all() and (paid["completion_tokens"] > 0).all()
    assert sum(paid["prompt_tokens"]) == sum(approx_tokens("".join(message_text(m) for m in r.body["messages"]))
                                             for r in sent.values())
    assert second.verdicts[USAGE].set_index("item_id").equals(paid)
