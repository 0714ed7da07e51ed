"""The eval set as an MLflow evaluation dataset (`mlflow.genai.datasets`), linked to the reviewer runs.

SQL tracking stores keep evaluation datasets: each record holds an item's inputs (as its trace holds
them, so MLflow's Evaluations view lines records and traces up) and its gold label as the expectation.
One dataset per eval set version (`<name>@<sha256[:12]>`), reused by every run of that version; merging
is an upsert, so a writer that starts over adds nothing twice. Elsewhere the eval set stays the dataset
input every run already logs, and one warning line says so.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from harness.tracking.trace_rows import item_chunks
from harness.tracking.traces import plain, trace_inputs

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from harness.record import RunRecord

RECORDS_PER_REQUEST = 1000
log = logging.getLogger(__name__)


def dataset_name(record: RunRecord) -> str:
    """The evaluation dataset of the record's eval set version."""
    return f"{record.evalset.name}@{str(record.evalset.sha256)[:12]}"


def dataset_records(record: RunRecord, items: pd.DataFrame) -> list[dict[str, Any]]:
    """One record per eval-set item of `items`: the trace's inputs, and the gold label as the `gold` expectation."""
    out: list[dict[str, Any]] = []
    for raw in items.drop_duplicates("item_id").to_dict(orient="records"):
        row = {str(k): v for k, v in raw.items()}
        gold = plain(row.get("gold"))
        out.append({"inputs": trace_inputs(row, record.evalset.slices),
                    **({"expectations": {"gold": gold}} if gold is not None else {})})
    return out


def log_evalset_dataset(client: Any, record: RunRecord, run_ids: Iterable[str], experiment_id: str,
                        items: Path | None = None) -> str | None:
    """Create (or reuse) the eval set's evaluation dataset, merge its records (from `items`, the run's
    items.parquet, a request's worth at a time; else the record's items) and log it as an input of each
    run; its id, or None (with one warning line) when the store keeps no evaluation datasets."""
    from mlflow.entities import DatasetInput, InputTag
    from mlflow.exceptions import MlflowException
    from mlflow.genai.datasets import EvaluationDataset

    name = dataset_name(record)
    try:
        found = list(client.search_datasets(experiment_ids=[experiment_id], filter_string=f"name = '{name}'"))
        entity = found[0] if found else client.create_dataset(
            name=name, experiment_id=[experiment_id],
            tags={"eval_set": str(record.evalset.name), "eval_set_version": str(record.evalset.sha256),
                  "source": str(record.evalset.source)})
    except (MlflowException, NotImplementedError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        log.warning("this MLflow tracking store keeps no evaluation datasets (%s); the eval set is the runs' "
                    "dataset input only.", first)
        return None
    wrapper: Any = EvaluationDataset  # untyped in MLflow; its public wrapper gives the run-input entity
    dataset = wrapper(entity)
    for frame in item_chunks(items, size=RECORDS_PER_REQUEST) if items is not None else [record.items]:
        records = dataset_records(record, frame)
        for start in range(0, len(records), RECORDS_PER_REQUEST):
            dataset.merge_records(records[start:start + RECORDS_PER_REQUEST])
    linked = DatasetInput(dataset._to_mlflow_entity(), tags=[InputTag("mlflow.data.context", "eval")])
    for run_id in run_ids:
        client.log_inputs(run_id, datasets=[linked])
    return str(dataset.dataset_id)

