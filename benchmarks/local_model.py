"""Figure 7: the managed local model (local/smollm2 through llama.cpp's server) on this machine's CPU,
judging the same N quick-start items two ways in one run: generating the answer (`scores: none`,
max_tokens 80, the quick-start settings before first-token scoring) and scoring the first answer token
(max_tokens 1 with log-probabilities, the policy prefix reused in llama.cpp's cache). Server start-up
and the first item (which evaluates the policy prefix once) are timed apart from judging the rest;
each mode gets a cold judgement cache and its own server."""

from __future__ import annotations

import argparse
import asyncio
import csv
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import QUICKSTART_ITEMS, REPO, V2, report


def measure(n: int, scores: str) -> dict[str, Any]:
    import pandas as pd

    from harness.config import LLMReviewerConfig
    from harness.policy import load_policy
    from harness.reviewers.cache import JudgementCache
    from harness.reviewers.llm import LLMReviewer

    with QUICKSTART_ITEMS.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))[:n + 1]
    frame = pd.DataFrame({"item_id": [r["id"] for r in rows], "text": [r["text"] for r in rows]})
    first, items = frame.iloc[:1], frame.iloc[1:]
    config = LLMReviewerConfig(type="llm", name="smollm2", model="local/smollm2", max_tokens=80, concurrency=1,
                               timeout_s=120, scores=scores)
    with tempfile.TemporaryDirectory() as tmp:
        reviewer = LLMReviewer(config, base_dir=REPO, cache=JudgementCache(Path(tmp) / "cache.sqlite"))
        try:
            started = time.perf_counter()
            reviewer._ensure_client()  # starts llama.cpp's server and waits until it answers
            startup_s = time.perf_counter() - started
            policy = load_policy(V2)
            started = time.perf_counter()
            asyncio.run(reviewer.review(first, policy))  # evaluates the policy prefix once
            first_item_s = time.perf_counter() - started
            started = time.perf_counter()
            verdicts = asyncio.run(reviewer.review(items, policy))
            seconds = time.perf_counter() - started
            usage = reviewer.usage()
        finally:
            reviewer.close()
    return {"items": len(verdicts), "startup_s": startup_s, "first_item_s": first_item_s, "seconds": seconds,
            "items_per_s": len(verdicts) / seconds, "abstained": usage.abstained,
            "completion_tokens": usage.completion_tokens, "prompt_tokens": usage.prompt_tokens,
            "scored": sum(v.score is not None for v in verdicts),
            "abstain_reasons": sorted({v.abstain_reason[:120] for v in verdicts if v.abstain_reason})}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=10)
    args = parser.parse_args()
    generation = measure(args.items, "none")
    first_token = measure(args.items, "logprobs")
    report({**first_token, "generation": generation,
            "speedup": first_token["items_per_s"] / generation["items_per_s"]})


if __name__ == "__main__":
    main()
