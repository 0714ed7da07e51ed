"""The direct path's prices come from litellm's own table, read as a file: the same prices litellm
gives, and no litellm import (seconds of CPU) on the way to a self-hosted endpoint."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from harness.providers.price_table import token_price

MODELS = ["openai/gpt-4o-mini", "gpt-4o", "openai/o1-pro", "openai/gpt-4o-mini-2024-07-18"]


@pytest.mark.parametrize("model", MODELS)
def test_table_price_equals_litellms(model: str) -> None:
    import litellm

    price = token_price(model)
    assert price is not None
    for prompt, completion, cached in [(1000, 200, 0), (5000, 10, 4000), (1, 0, 0)]:
        theirs = litellm.cost_per_token(model=model, prompt_tokens=prompt, completion_tokens=completion,
                                        cache_read_input_tokens=cached)
        assert price.cost(prompt, completion, cached) == pytest.approx(sum(theirs), rel=1e-9)


def test_a_model_missing_from_the_table_has_no_price() -> None:
    assert token_price("openai/my-self-hosted-llama") is None
    assert token_price("hosted_vllm/whatever") is None


def test_the_direct_path_never_imports_litellm() -> None:
    script = textwrap.dedent("""
        import sys
        from harness.providers.client import Endpoint, LLMClient
        client = LLMClient(Endpoint(model="openai/gpt-4o-mini", api_base="http://127.0.0.1:9/v1"),
                           timeout_s=1, max_retries=0, temperature=0, max_tokens=10)
        data = {"choices": [{"message": {"content": "{}"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1000, "completion_tokens": 100}}
        completion = client.parse_chat_completion(data)
        print(round(completion.cost_usd * 1e6), "litellm" in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=dict(os.environ),
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["210", "False"]  # 1000 x $0.15/M + 100 x $0.60/M, in micro-dollars
