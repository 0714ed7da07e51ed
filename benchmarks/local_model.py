"""Figure 7: throughput of the managed local model (local/smollm2 through llama.cpp's server) on
this machine's CPU, judging N quick-start items with the quick-start settings (max_tokens 80,
concurrency 1). Server start-up is timed apart from judging."""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import QUICKSTART_ITEMS, REPO, V2, report


def measure(n: int) -> dict[str, Any]:
    import pandas as pd

    from harness.config import LLMReviewerConfig
    from harness.policy import load_policy
    from harness.reviewers.cache import JudgementCache
    from harness.reviewers.llm import LLMReviewer

    with QUICKSTART_ITEMS.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))[:n]
    items = pd.DataFrame({"item_id": [r["id"] for r in rows], "text": [r["text"] for r in rows]})
    config = LLMReviewerConfig(type="llm", name="smollm2", model="local/smollm2", max_tokens=80, concurrency=1,
                               timeout_s=120)
    with tempfile.TemporaryDirectory() as tmp:
        reviewer = LLMReviewer(config, base_dir=REPO, cache=JudgementCache(Path(tmp) / "cache.sqlite"))
        try:
            started = time.perf_counter()
            reviewer._ensure_client()  # starts llama.cpp's server and waits until it answers
            startup_s = time.perf_counter() - started
            started = time.perf_counter()
            verdicts = reviewer.review(items, load_policy(V2))
            seconds = time.perf_counter() - started
            usage = reviewer.usage()
        finally:
            reviewer.close()
    return {"items": len(verdicts), "startup_s": startup_s, "seconds": seconds,
            "items_per_s": len(verdicts) / seconds, "abstained": usage["abstained"],
            "completion_tokens": usage["completion_tokens"], "prompt_tokens": usage["prompt_tokens"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=10)
    args = parser.parse_args()
    report(measure(args.items))


if __name__ == "__main__":
    main()
