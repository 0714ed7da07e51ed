"""Seeded samples of an eval set, stratified by gold label."""

from __future__ import annotations

import math

import pandas as pd

from harness.evalset.columns import GOLD


def label_counts(items: pd.DataFrame) -> dict[str, int]:
    """Items per gold label, the most frequent first."""
    return {str(label): int(count) for label, count in items[GOLD].value_counts().items()}


def stratified_sample(items: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """A seeded sample of n items with each gold label's share kept (largest remainder)."""
    quotas = _allocate(dict(sorted(label_counts(items).items())), n)
    parts = [items[items[GOLD] == label].sample(k, random_state=seed) for label, k in quotas.items() if k]
    return pd.concat(parts).sort_index()


def _allocate(counts: dict[str, int], n: int) -> dict[str, int]:
    """Largest-remainder proportional allocation, at least one item per label when n allows."""
    total = sum(counts.values())
    exact = {label: count / total * n for label, count in counts.items()}
    quotas = {label: min(counts[label], max(1 if n >= len(counts) else 0, math.floor(v)))
              for label, v in exact.items()}
    order = sorted(exact, key=lambda label: exact[label] - math.floor(exact[label]), reverse=True)
    while sum(quotas.values()) < n:
        grew = False
        for label in order:
            if sum(quotas.values()) < n and quotas[label] < counts[label]:
                quotas[label] += 1
                grew = True
        if not grew:
            break
    while sum(quotas.values()) > n:
        label = max(quotas, key=lambda lab: quotas[lab])
        quotas[label] -= 1
    return quotas
