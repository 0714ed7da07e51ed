"""Calls whose MLflow signature changed between the oldest supported MLflow (3.4) and the newest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def search_traces(search: Callable[..., Any], experiment_id: str, **kwargs: Any) -> Any:
    """`mlflow.search_traces` or `MlflowClient.search_traces` in one experiment: `locations=` in MLflow 3.18,
    `experiment_ids=` in 3.4, which has no `locations`."""
    try:
        return search(locations=[experiment_id], **kwargs)
    except TypeError as err:
        if "locations" not in str(err):
            raise
    return search(experiment_ids=[experiment_id], **kwargs)
