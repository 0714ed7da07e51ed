"""Figure 6: prompt-cache friendliness. For every shipped policy, the share of each request's input
tokens that is a prefix identical across items (what provider prompt caches can reuse), and the
input tokens per 1,000 items. Tokens are counted offline with litellm.token_counter.

Providers cache only long prefixes (OpenAI: 1,024 tokens and up), so the prefix length is
reported beside the share."""

from __future__ import annotations

import argparse
import csv
import os
from pathlib import Path
from typing import Any

from benchmarks.common import QUICKSTART_ITEMS, REPO, report

OPENAI_MIN_CACHED_PREFIX = 1024
TEMPLATE = REPO / "harness" / "prompt_templates" / "reviewer_v1.md"


def common_prefix(texts: list[str]) -> str:
    return os.path.commonprefix(texts)


def measure(model: str, n_items: int) -> dict[str, Any]:
    import litellm

    from harness.policy import load_policy
    from harness.prompts import PromptBuilder, load_template

    with QUICKSTART_ITEMS.open(encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    texts = [texts[i % len(texts)] for i in range(n_items)]
    template = load_template(TEMPLATE)
    out: dict[str, Any] = {}
    for path in sorted((REPO / "prompts" / "policies").rglob("*.md")):
        policy = load_policy(path)
        builder = PromptBuilder(template, policy)
        requests = [builder.messages(text) for text in texts]
        systems = {r[0]["content"] for r in requests}
        user_prefix = common_prefix([r[1]["content"] for r in requests])
        # Identical across items: the whole system message plus the user message up to the item.
        prefix_tokens = (litellm.token_counter(model=model, messages=[requests[0][0]], count_response_tokens=True)
                         + litellm.token_counter(model=model, text=user_prefix, count_response_tokens=True)
                         if len(systems) == 1 else 0)
        totals = [litellm.token_counter(model=model, messages=r) for r in requests]
        shares = [prefix_tokens / t for t in totals]
        out[str(path.relative_to(REPO))] = {
            "policy": policy.label, "prefix_tokens": prefix_tokens,
            "mean_input_tokens": sum(totals) / len(totals),
            "input_tokens_per_1000_items": round(sum(totals) / len(totals) * 1000),
            "prefix_share_mean": sum(shares) / len(shares), "prefix_share_min": min(shares),
            "cacheable_by_openai": prefix_tokens >= OPENAI_MIN_CACHED_PREFIX,
        }
    return {"model_for_tokens": model, "items": n_items, "template": str(TEMPLATE.relative_to(REPO)),
            "policies": out}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="openai/gpt-4o-mini")
    parser.add_argument("--items", type=int, default=1000)
    args = parser.parse_args()
    report(measure(args.model, args.items))


if __name__ == "__main__":
    main()
