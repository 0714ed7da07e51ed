"""The dev / held-out split of `revise`; it lives in `metrics/split.py` so the threshold analysis and the
cascade designs of `impact` (layers below) choose thresholds on the same split."""

from harness.metrics.split import Split, split_items

__all__ = ["Split", "split_items"]
