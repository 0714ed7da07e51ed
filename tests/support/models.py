"""The record's models as plain values, for tests written against the JSON shape of metrics.json."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


def plain(value: Any) -> Any:
    """A model (or a dict or list of them) as the dicts and lists its JSON holds; None stays None."""
    if isinstance(value, BaseModel):
        return value.model_dump()
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value
