"""The domain's words for gold labels: benign, unknown, and how a raw label becomes a key."""

from __future__ import annotations

import math

BENIGN = "benign"
# Gold of an item whose overall status is not known (multi-label sets with missing labels, or a
# label mapped to it): excluded from every denominator it cannot inform.
UNKNOWN = "unknown"


def label_key(value: object) -> str | None:
    """A label as text, as the label mapping's keys are (1.0 -> '1', True -> 'true'); None if blank."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip() or None
