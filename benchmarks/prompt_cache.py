"""Figure 6: prompt-cache friendliness. For every shipped policy, the share of each request's input
tokens that is a prefix identical across items (what provider prompt caches can reuse), and the
input tokens per 1,000 items, in both prompt layouts (`layout:` in a template's front matter:
policy_as_system and single_user). Tokens are counted offline with litellm.token_counter.

Providers cache only long prefixes (OpenAI: 1,024 tokens and up), so the prefix length is
reported beside the share."""

from __future__ import annotations

import argparse
import csv
import os
from dataclasses import replace
from typing import Any

from benchmarks.common import QUICKSTART_ITEMS, REPO, report

OPENAI_MIN_CACHED_PREFIX = 1024
TEMPLATE = REPO / "harness" / "reviewers" / "prompt_templates" / "reviewer_v1.md"


def common_prefix(texts: list[str]) -> str:
    return os.path.commonprefix(texts)


def measure(model: str, n_items: int) -> dict[str, Any]:
    from harness.policy import load_policy
    from harness.reviewers.prompts import LAYOUTS, load_template

    with QUICKSTART_ITEMS.open(encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    texts = [texts[i % len(texts)] for i in range(n_items)]
    template = load_template(TEMPLATE)
    layouts: dict[str, dict[str, Any]] = {}
    for layout in LAYOUTS:
        out: dict[str, Any] = {}
        for path in sorted((REPO / "prompts" / "policies").rglob("*.md")):
            policy = load_policy(path)
            out[str(path.relative_to(REPO))] = _policy_figures(model, replace(template, layout=layout), policy, texts)
        layouts[layout] = out
    return {"model_for_tokens": model, "items": n_items, "template": str(TEMPLATE.relative_to(REPO)),
            "layouts": layouts}


def _policy_figures(model: str, template: Any, policy: Any, texts: list[str]) -> dict[str, Any]:
    import litellm

    from harness.reviewers.prompts import PromptBuilder

    builder = PromptBuilder(template, policy)
    requests = [builder.messages(text) for text in texts]
    # Identical across items: every message before the last, plus the last one up to the item.
    head = requests[0][:-1]
    same_head = all(r[:-1] == head for r in requests)
    last_prefix = common_prefix([r[-1]["content"] for r in requests])
    prefix_tokens = ((litellm.token_counter(model=model, messages=head, count_response_tokens=True) if head else 0)
                     + litellm.token_counter(model=model, text=last_prefix, count_response_tokens=True)
                     if same_head else 0)
    totals = [litellm.token_counter(model=model, messages=r) for r in requests]
    shares = [prefix_tokens / t for t in totals]
    return {"policy": policy.label, "prefix_tokens": prefix_tokens, "mean_input_tokens": sum(totals) / len(totals),
            "input_tokens_per_1000_items": round(sum(totals) / len(totals) * 1000),
            "prefix_share_mean": sum(shares) / len(shares), "prefix_share_min": min(shares),
            "cacheable_by_openai": prefix_tokens >= OPENAI_MIN_CACHED_PREFIX}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="openai/gpt-4o-mini")
    parser.add_argument("--items", type=int, default=1000)
    args = parser.parse_args()
    report(measure(args.model, args.items))


if __name__ == "__main__":
    main()
