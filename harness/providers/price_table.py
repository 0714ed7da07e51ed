"""Model prices read straight from the table litellm ships, without importing litellm.

Importing litellm costs 2-4 s of CPU; a self-hosted OpenAI-compatible endpoint (vLLM, llama.cpp,
a gateway) is called with the openai SDK and only needs litellm for its price, so the direct path
reads the same table (`model_prices_and_context_window_backup.json`, the file litellm itself uses
with LITELLM_LOCAL_MODEL_COST_MAP=True) and gets litellm's per-token prices for the models it lists.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

TABLE_FILE = "model_prices_and_context_window_backup.json"


@dataclass(frozen=True)
class TokenPrice:
    """USD per token: input, output, and input read from the provider's prompt cache."""

    input: float
    output: float
    cache_read: float

    def cost(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> float:
        """What a call costs; `cached_tokens` are part of `prompt_tokens`, billed at the cache-read price."""
        cached = min(cached_tokens, prompt_tokens)
        return (prompt_tokens - cached) * self.input + cached * self.cache_read + completion_tokens * self.output


@cache
def _table() -> dict[str, dict[str, object]]:
    spec = importlib.util.find_spec("litellm")
    if spec is None or spec.origin is None:
        return {}
    path = Path(spec.origin).parent / TABLE_FILE
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _number(entry: dict[str, object], key: str) -> float | None:
    value = entry.get(key)
    return float(value) if isinstance(value, int | float) else None


@cache
def token_price(model: str) -> TokenPrice | None:
    """The table's price of `model` (`openai/gpt-4o-mini` is looked up as itself, then as
    `gpt-4o-mini`); None when the table has no per-token price for it."""
    candidates = [model]
    if "/" in model:
        candidates.append(model.split("/", 1)[1])
    for name in candidates:
        entry = _table().get(name)
        if not isinstance(entry, dict):
            continue
        prompt, completion = _number(entry, "input_cost_per_token"), _number(entry, "output_cost_per_token")
        if prompt is None or completion is None:
            continue
        cache_read = _number(entry, "cache_read_input_token_cost")
        return TokenPrice(prompt, completion, prompt if cache_read is None else cache_read)
    return None
