"""The dev / held-out split of `revise`; the function lives in harness.metrics.split so the impact
command's cascade designs (pipeline) choose thresholds on the same split."""

from __future__ import annotations

from harness.metrics.split import Split, split_items

__all__ = ["Split", "split_items"]
