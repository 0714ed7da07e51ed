"""Comparing metrics built two ways (one row per item, or a collapsed table with counts)."""

from __future__ import annotations

import math
from typing import Any

import pytest


def close(a: Any, b: Any, path: str = "") -> None:
    """Equal, floats to 1e-9 relative (sums of weights run in another order)."""
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for key in a:
            close(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float) and not (math.isnan(a) and math.isnan(b)):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12), path
    else:
        assert a == b, path
