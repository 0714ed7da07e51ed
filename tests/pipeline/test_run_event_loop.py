"""Notebooks and async apps: `harness.run` called while an event loop is running (as in a Jupyter
cell), and `await harness.run_async`, with an LLM reviewer over loopback HTTP."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pandas as pd
import pytest
from support.llm import V2, experiment, write_items

import harness
from harness.policy import load_policy
from harness.reviewers import review_sync
from harness.reviewers.llm import LLMReviewer
from harness.testing.openai_server import FakeOpenAIServer

pytestmark = pytest.mark.usefixtures("cache_path")

ROWS = [("v1", "they are VIOLATE vermin", "hateful"), ("v2", "VIOLATE again", "hateful"),
        ("b1", "a sunny day", "non-hateful"), ("b2", "nice coffee", "non-hateful"),
        ("l1", "coded hate the model misses", "hateful")]
EXPECTED = {"v1": "actioned", "v2": "actioned", "b1": "allowed", "b2": "allowed", "l1": "allowed"}


def decisions(record: harness.RunRecord) -> dict[str, str]:
    return dict(zip(record.verdicts["item_id"], record.verdicts["decision"]))


def test_sync_run_inside_a_running_loop(tmp_path: Path, server: FakeOpenAIServer) -> None:
    exp = experiment(write_items(tmp_path / "items.csv", ROWS), server.base_url, concurrency=4)

    async def cell() -> harness.RunRecord:
        asyncio.get_running_loop()  # what Jupyter has while a cell runs
        return harness.run(exp, out_dir=tmp_path / "out", track=False)

    record = asyncio.run(cell())
    assert decisions(record) == EXPECTED and not record.incomplete
    assert server.stats["requests"] == len(ROWS)
    assert record.metrics.reviewers["fake"].leakage.k == 1
    assert (tmp_path / "out" / "metrics.json").exists()


def test_run_async_runs_side_by_side_on_one_loop(tmp_path: Path, server: FakeOpenAIServer) -> None:
    """An async web app serving two runs at once, then a third from the cache, on its own loop."""
    exp = experiment(write_items(tmp_path / "items.csv", ROWS), server.base_url, concurrency=4)
    other_rows = [("x1", "VIOLATE here", "hateful"), ("x2", "a quiet walk", "non-hateful")]
    other = experiment(write_items(tmp_path / "other.csv", other_rows), server.base_url, name="other")

    async def app() -> list[harness.RunRecord]:
        both = await asyncio.gather(harness.run_async(exp, out_dir=tmp_path / "a", track=False),
                                    harness.run_async(other, out_dir=tmp_path / "b", track=False))
        again = await harness.run_async(exp, out_dir=tmp_path / "c", track=False)
        return [*both, again]

    first, second, again = asyncio.run(app())
    assert decisions(first) == EXPECTED == decisions(again)
    assert decisions(second) == {"x1": "actioned", "x2": "allowed"}
    assert server.stats["requests"] == len(ROWS) + len(other_rows)  # the third run is answered from the cache
    assert all((tmp_path / d / "metrics.json").exists() for d in "abc")


def test_llm_reviewer_review_inside_a_running_loop(tmp_path: Path, server: FakeOpenAIServer) -> None:
    """`review_sync` (what the injection slice calls) also works from inside a loop."""
    exp = experiment(write_items(tmp_path / "items.csv", ROWS), server.base_url)
    reviewer = LLMReviewer(exp.reviewers[0])  # type: ignore[arg-type]
    items = pd.DataFrame({"item_id": [r[0] for r in ROWS], "text": [r[1] for r in ROWS]})

    async def cell() -> list[str]:
        return [v.decision for v in review_sync(reviewer, items, load_policy(V2))]

    try:
        assert asyncio.run(cell()) == [EXPECTED[r[0]] for r in ROWS]
    finally:
        reviewer.close()
