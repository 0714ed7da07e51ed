"""Seeded samples of an eval set, stratified by gold label."""

from __future__ import annotations

import math

import pandas as pd

from harness.evalset.columns import GOLD


def stratified_sample(items: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    counts = items[GOLD].value_counts().sort_index()
    quotas = _allocate(counts, n)
    parts = [items[items[GOLD] == label].sample(k, random_state=seed) for label, k in quotas.items() if k]
    return pd.concat(parts).sort_index()


def _allocate(counts: pd.Series, n: int) -> dict[str, int]:
    """Largest-remainder proportional allocation, at least one item per label when n allows."""
    exact = counts / counts.sum() * n
    quotas = {label: min(int(counts[label]), max(1 if n >= len(counts) else 0, math.floor(v)))
              for label, v in exact.items()}
    order = sorted(exact.index, key=lambda label: exact[label] - math.floor(exact[label]), reverse=True)
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
