"""The dev / held-out split of `revise`; it lives in `metrics/split.py` so the threshold analysis (a
layer below) chooses an LLM reviewer's operating point on the same split."""

from harness.metrics.split import Split, split_items

__all__ = ["Split", "split_items"]
