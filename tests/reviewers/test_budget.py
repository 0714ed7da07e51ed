"""Budgets that hold: a budget without a known price is refused before any call; with `price:` the
spend (as the provider bills it) never passes `max_cost_usd`, even with 16 calls in flight."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.llm import LABELS, V2, experiment, write_items

import harness
from harness.config import LLMReviewerConfig, Price
from harness.errors import HarnessError
from harness.reviewers.budget import check_budget
from harness.reviewers.cache import JudgementCache
from harness.testing.openai_server import FakeOpenAIServer, approx_tokens, default_responder, message_text

pytestmark = pytest.mark.usefixtures("cache_path")

PRICE = {"input_per_million": 1000.0, "output_per_million": 2000.0}  # ~$1 a call with the v2 policy
ROWS = [(f"i{i}", f"budget item {i}" + (" VIOLATE" if i % 3 == 0 else ""),
         "hateful" if i % 3 == 0 else "non-hateful") for i in range(40)]


def billed(server: FakeOpenAIServer) -> float:
    """What the provider would charge: the usage the test server reported for every request it answered."""
    prompt = completion = 0
    for logged in server.requests_log:
        prompt += approx_tokens("".join(message_text(m) for m in logged.body["messages"]))
        completion += approx_tokens(default_responder(logged.body))
    return Price(**PRICE).cost(prompt, completion)


def experiment_file(tmp_path: Path, api_base: str, **reviewer: Any) -> Path:
    items = write_items(tmp_path / "items.csv", ROWS[:6])
    data = {"name": "budget", "policy": str(V2),
            "eval_set": {"path": str(items), "columns": {"id": "id", "text": "text", "label": "label"},
                         "labels": LABELS},
            "reviewers": [{"name": "fake-llm", "type": "llm", "model": "openai/fake-model", "api_base": api_base,
                           **reviewer}]}
    path = tmp_path / "budget.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
           "POLICY_HARNESS_CACHE": str(tmp_path / "cli-cache.sqlite"), "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("command", ["validate", "run"])
def test_budget_on_a_model_without_a_price_is_refused_in_one_line(tmp_path: Path, server: FakeOpenAIServer,
                                                                   command: str) -> None:
    path = experiment_file(tmp_path, server.base_url, max_cost_usd=1.0)
    args = [command, str(path)] + (["--no-track", "--out", str(tmp_path / "out")] if command == "run" else [])
    result = cli(tmp_path, *args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith(f"error: {path}: reviewer 'fake-llm' sets max_cost_usd")
    assert "'openai/fake-model'" in lines[0] and "price: {input_per_million" in lines[0]
    assert server.stats["requests"] == 0 and not (tmp_path / "out").exists()


def test_a_price_makes_the_budget_valid(tmp_path: Path, server: FakeOpenAIServer) -> None:
    path = experiment_file(tmp_path, server.base_url, max_cost_usd=1.0, price=PRICE)
    result = cli(tmp_path, "validate", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok  experiment budget")


def test_which_budgets_can_be_enforced() -> None:
    def config(model: str, **extra: Any) -> LLMReviewerConfig:
        return LLMReviewerConfig(type="llm", name="r", model=model, max_cost_usd=1.0, **extra)

    check_budget(config("openai/gpt-4o-mini"))  # in litellm's price table
    check_budget(config("local/qwen2.5-0.5b-instruct"))  # the managed local model is free
    check_budget(config("openai/my-vllm-model", price=PRICE))
    with pytest.raises(HarnessError, match="reviewer 'r' sets max_cost_usd but litellm has no price"):
        check_budget(config("openai/my-vllm-model"))
    LLMReviewerConfig(type="llm", name="r", model="openai/my-vllm-model")  # no budget: nothing to enforce


def test_library_run_refuses_before_any_call(tmp_path: Path, server: FakeOpenAIServer) -> None:
    items = write_items(tmp_path / "items.csv", ROWS[:3])
    with pytest.raises(HarnessError, match="reviewer 'fake' sets max_cost_usd"):
        harness.run(experiment(items, server.base_url, max_cost_usd=1.0), out_dir=tmp_path / "out", track=False)
    assert server.stats["requests"] == 0


def test_spend_never_exceeds_the_budget_with_16_calls_in_flight(tmp_path: Path, cache_path: Path) -> None:
    budget = 5.0
    items = write_items(tmp_path / "items.csv", ROWS)
    with FakeOpenAIServer(latency_ms=50) as srv:  # answers slowly enough that 16 calls overlap
        record = harness.run(experiment(items, srv.base_url, concurrency=16, max_cost_usd=budget, price=PRICE),
                             out_dir=tmp_path / "out", track=False)
        sent, provider_bill = srv.stats["requests"], billed(srv)

    usage = record.usage["fake"]
    assert provider_bill <= budget
    assert usage.cost_usd == pytest.approx(provider_bill)  # the reviewer's price, not litellm's table
    assert usage.cost_usd == pytest.approx(Price(**PRICE).cost(usage.prompt_tokens, usage.completion_tokens))
    assert record.incomplete and "budget of $5.00" in record.incomplete_reason
    assert 0 < len(record.verdicts) < len(ROWS) and len(record.verdicts) == sent == usage.calls
    cache = JudgementCache(cache_path)
    try:
        assert len(cache) == sent  # every paid verdict is kept: a re-run with a larger budget resumes
    finally:
        cache.close()


def test_estimate_uses_the_reviewers_price(tmp_path: Path, server: FakeOpenAIServer) -> None:
    path = experiment_file(tmp_path, server.base_url, price=PRICE, max_tokens=100)
    result = cli(tmp_path, "estimate", str(path))
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if "fake-llm" in line)
    prompt_tokens = int(line.split(" prompt tokens")[0].rsplit(" ", 1)[1].replace(",", ""))
    expected = Price(**PRICE).cost(prompt_tokens, 6 * 100)
    assert f"at most ${expected:.4f}" in line
    assert server.stats["requests"] == 0
