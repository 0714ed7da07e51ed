"""Figure 4: statistics at scale. compute_metrics (rates with intervals, categories, slices,
languages, gates, relabel candidates and the paired comparison of two policy versions) on a
synthetic verdict table of 1,000,000 rows: N items judged under the candidate and the baseline.

Run as a child: `python -m benchmarks.stats --items 500000`. Phases are timed by wrapping the
functions compute_metrics calls (no change to harness.metrics)."""

from __future__ import annotations

import argparse
import functools
import gc
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.common import V1, V2, peak_rss_mb, report, reset_peak_rss, rss_mb

# Issue 16: 1,000,000 verdicts (500,000 items x 2 versions) in at most 10 s and 2 GB peak RSS.
TARGET_S = 10.0
TARGET_PEAK_RSS_MB = 2048.0
SLICES = {"tactic": ["slur", "counter_speech", "threat_as_question", "news", "fiction", "negation",
                     "reclaimed", "profanity", "coded", "positive_statement"],
          "target": ["women", "black_people", "muslims", "jews", "gay_people", "trans_people", "disabled",
                     "immigrants"],
          "language": ["en", "de", "fr", "es", "pt", "it", "nl", "pl"]}


def verdict_table(n_items: int, candidate: str, baseline: str, seed: int = 0) -> Any:
    """The joined verdict table `pipeline.finish.join_gold` builds: 2 x n_items rows, one reviewer."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    item_ids = np.array([f"item-{i:07d}" for i in range(n_items)], dtype=object)
    violating = rng.random(n_items) < 0.4
    gold = np.where(violating, "HS", "benign").astype(object)
    texts = np.array([f"synthetic item text {i}" for i in range(1000)], dtype=object)[rng.integers(0, 1000, n_items)]
    slices = {column: np.array(values, dtype=object)[rng.integers(0, len(values), n_items)]
              for column, values in SLICES.items()}
    frames = []
    for policy, error_rate in ((baseline, 0.12), (candidate, 0.09)):
        wrong = rng.random(n_items) < error_rate
        actioned = violating != wrong
        abstained = rng.random(n_items) < 0.01
        decision = np.where(abstained, "abstained", np.where(actioned, "actioned", "allowed")).astype(object)
        confidence = rng.uniform(0.5, 1.0, n_items)
        frames.append(pd.DataFrame({
            "policy": policy, "reviewer": "llm", "item_id": item_ids, "sample": 0, "decision": decision,
            # list-typed, as verdict_table writes them: one shared list object per value keeps this cheap
            "categories": np.where(decision == "actioned", pd.Series([HS] * n_items), pd.Series([NONE] * n_items)),
            "rule_ids": np.where(decision == "actioned", pd.Series([HS1] * n_items), pd.Series([NONE] * n_items)),
            "score": np.where(actioned, confidence, 1 - confidence), "confidence": confidence,
            "rationale": "one short sentence", "abstain_reason": np.where(abstained, "refusal: sorry", "").astype(object),
            "abstain_kind": np.where(abstained, "refusal", "").astype(object),
            "notes": "", "gold": gold, "text": texts, "weight": 1.0, "contested": rng.random(n_items) < 0.02,
            "gold_unknown": "", **slices,
        }))
    return pd.concat(frames, ignore_index=True)


HS, HS1, NONE = ["HS"], ["HS1"], []  # shared (read-only) list cells


def _timed(fn: Callable[..., Any], sink: dict[str, float], name: str) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            sink[name] = sink.get(name, 0.0) + time.perf_counter() - started
    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=500_000)
    args = parser.parse_args()

    import harness.metrics as metrics
    from harness.config import GateSpec
    from harness.policy import load_policy

    candidate, baseline = load_policy(V2), load_policy(V1)
    started = time.perf_counter()
    table = verdict_table(args.items, candidate.label, baseline.label)
    build_s = time.perf_counter() - started
    phases: dict[str, float] = {}
    for name in ("majority", "reviewer_metrics", "category_rates", "slice_rates", "language_rates",
                 "without_contested", "stability", "relabel_candidates", "agreement", "paired_comparison"):
        setattr(metrics, name, _timed(getattr(metrics, name), phases, name))
    gates = {"over_enforcement": GateSpec(max=0.05), "leakage": GateSpec(max=0.1),
             "over_enforcement@counter_speech": GateSpec(max=0.02, slice={"tactic": "counter_speech"})}
    gc.collect()
    before = rss_mb()
    reset = reset_peak_rss()
    started = time.perf_counter()
    result = metrics.compute_metrics(table, candidate=candidate.label, baseline=baseline.label,
                                     categories=candidate.category_ids, slices=list(SLICES), gates=gates)
    seconds = time.perf_counter() - started
    report({"verdicts": len(table), "items": args.items, "build_s": build_s, "seconds": seconds,
            "phases_s": phases, "rss_before_mb": before, "peak_rss_mb": peak_rss_mb() if reset else None,
            "flips": len(result.comparison["llm"].flips),
            "target_s": TARGET_S, "target_peak_rss_mb": TARGET_PEAK_RSS_MB})


if __name__ == "__main__":
    main()
