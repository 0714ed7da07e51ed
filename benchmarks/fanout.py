"""Figures 1-3: fan-out efficiency, per-call CPU overhead and the cached re-run of the LLM path.

Each measurement is one child process (`python -m benchmarks.fanout MODE ...`) talking to the fake
provider, which runs in another process so the two never share a GIL:

  harness  LLMReviewer.review() on N items: prompts, cache keys, calls, cache writes, parsing
  bare     a bare openai.AsyncOpenAI loop under the same semaphore, prompts built beforehand
  cached   LLMReviewer.review() again on a warm cache, with the provider stopped
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, V2, bench_items, report

MODEL = "openai/fake-model"


def _inputs(n: int) -> tuple[Any, Any]:
    import pandas as pd

    from harness.policy import load_policy

    texts = bench_items(n)
    items = pd.DataFrame({"item_id": [f"i{i}" for i in range(n)], "text": texts})
    return items, load_policy(V2)


def _reviewer(base: str, concurrency: int, cache_path: Path) -> Any:
    from harness.config import LLMReviewerConfig
    from harness.reviewers.cache import JudgementCache
    from harness.reviewers.llm import LLMReviewer

    config = LLMReviewerConfig(type="llm", name="bench", model=MODEL, api_base=base, concurrency=concurrency,
                               max_retries=2, timeout_s=60)
    return LLMReviewer(config, base_dir=REPO, cache=JudgementCache(cache_path))


def _import_libraries() -> None:
    """Library imports are start-up (figure 8), not fan-out: both sides import theirs untimed."""
    import litellm  # noqa: F401  (the harness looks prices up in litellm's table)
    import openai  # noqa: F401
    import tqdm  # noqa: F401


def run_harness(base: str, n: int, concurrency: int, cache_path: Path, profile: Path | None) -> dict[str, Any]:
    items, policy = _inputs(n)
    reviewer = _reviewer(base, concurrency, cache_path)
    _import_libraries()
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
    gc.collect()
    started, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    verdicts = reviewer.review(items, policy)
    if profiler:
        profiler.disable()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    usage = reviewer.usage()
    reviewer.close()
    if profiler and profile:
        profiler.dump_stats(str(profile))
    return {"n": n, "concurrency": concurrency, "wall_s": wall, "cpu_s": cpu, "verdicts": len(verdicts),
            "calls": usage["calls"], "cached": usage["cached"], "abstained": usage["abstained"],
            "retries": usage["retries"]}


def run_cached(base: str, n: int, cache_path: Path) -> dict[str, Any]:
    """The provider is stopped: a single request would fail the run ('cannot reach')."""
    items, policy = _inputs(n)
    reviewer = _reviewer(base, 64, cache_path)
    cache = reviewer.cache
    spent = [0.0]
    read = cache.get_many

    def timed_get_many(keys: list[str]) -> dict[str, Any]:
        t = time.perf_counter()
        try:
            return read(keys)
        finally:
            spent[0] += time.perf_counter() - t

    cache.get_many = timed_get_many  # type: ignore[method-assign]
    gc.collect()
    started, cpu = time.perf_counter(), time.process_time()
    verdicts = reviewer.review(items, policy)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    usage = reviewer.usage()
    reviewer.close()
    return {"n": n, "wall_s": wall, "cpu_s": cpu, "in_cache_s": spent[0], "verdicts": len(verdicts),
            "calls": usage["calls"], "cached": usage["cached"]}


def run_bare(base: str, n: int, concurrency: int) -> dict[str, Any]:
    import openai

    from harness.reviewers.llm_verdict import verdict_schema
    from harness.reviewers.prompts import PromptBuilder, load_template

    items, policy = _inputs(n)
    builder = PromptBuilder(load_template(REPO / "harness" / "reviewers" / "prompt_templates" / "reviewer_v1.md"), policy)
    prompts = [builder.messages(text) for text in items["text"]]
    response_format = {"type": "json_schema",
                       "json_schema": {"name": "verdict", "schema": verdict_schema(policy), "strict": True}}

    async def main() -> list[str | None]:
        client = openai.AsyncOpenAI(base_url=base, api_key="sk-bench", max_retries=0, timeout=60)
        limit = asyncio.Semaphore(concurrency)

        async def one(messages: list[dict[str, str]]) -> str | None:
            async with limit:
                response = await client.chat.completions.create(
                    model=MODEL.removeprefix("openai/"), messages=messages,  # type: ignore[arg-type]
                    temperature=0.0, max_tokens=256, response_format=response_format)  # type: ignore[arg-type]
                return response.choices[0].message.content

        try:
            return await asyncio.gather(*(one(m) for m in prompts))
        finally:
            await client.close()

    gc.collect()
    started, cpu = time.perf_counter(), time.process_time()
    answers = asyncio.run(main())
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"n": n, "concurrency": concurrency, "wall_s": wall, "cpu_s": cpu,
            "answers": sum(a is not None for a in answers)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["harness", "bare", "cached"])
    parser.add_argument("--base", required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--cache", type=Path)
    parser.add_argument("--profile", type=Path)
    args = parser.parse_args()
    if args.mode == "harness":
        report(run_harness(args.base, args.n, args.concurrency, args.cache, args.profile))
    elif args.mode == "cached":
        report(run_cached(args.base, args.n, args.cache))
    else:
        report(run_bare(args.base, args.n, args.concurrency))


if __name__ == "__main__":
    main()
