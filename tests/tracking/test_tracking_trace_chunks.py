"""The trace writer at scale: it reads a run's verdicts a chunk at a time (so its memory does not grow with the
run), counts each chunk in traces.json as it lands, and a writer stopped mid-way goes on from there without
writing any trace or assessment twice (a chunk written again replaces its assessments). A real MLflow SQLite store, a real classifier run of 2,000 items."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness._util.processes import free_port
from harness.config import parse_experiment
from harness.errors import HarnessError
from harness.record import RunRecord, read_record

pytestmark = pytest.mark.slow  # a 2,000-item run and 2,000 traces written twice over a SQLite store

REPO_ROOT = Path(__file__).resolve().parents[2]
ITEMS, CHUNK, STOP_AFTER = 2000, 150, 3


@pytest.fixture()
def traces_on() -> Iterator[None]:
    saved = os.environ.pop("POLICY_HARNESS_TRACES", None)
    yield
    if saved is not None:
        os.environ["POLICY_HARNESS_TRACES"] = saved


def offline_run(tmp: Path) -> Path:
    """A classifier run of ITEMS items whose server was down: logged, and traced, only by `sync`."""
    from harness.pipeline.run import run

    path = tmp / "items.csv"
    pd.DataFrame({"id": [f"c{i:05d}" for i in range(ITEMS)],
                  "text": [f"{'you people are vermin' if i % 3 == 0 else 'lovely weather'} number {i}"
                           for i in range(ITEMS)],
                  "label": ["hateful" if i % 3 == 0 else "non-hateful" for i in range(ITEMS)],
                  "language": [("en", "de")[i % 2] for i in range(ITEMS)]}).to_csv(path, index=False)
    experiment = parse_experiment({
        "name": "chunked", "policy": str(REPO_ROOT / "prompts" / "policies" / "hate_speech" / "v2.md"),
        "eval_set": {"path": str(path), "columns": {"id": "id", "text": "text", "label": "label",
                                                     "slices": ["language"]},
                     "labels": {"hateful": "HS", "non-hateful": "benign"}},
        "reviewers": [{"name": "tfidf", "type": "classifier", "max_features": 500}],
        "gates": {"over_enforcement": {"max": 0.5}}})
    os.environ["MLFLOW_TRACKING_URI"] = f"http://127.0.0.1:{free_port()}"  # nobody listens
    record = run(experiment, out_dir=tmp / "run", report=False)
    assert not record.mlflow.synced
    return tmp / "run"


def test_a_stopped_writer_goes_on_chunk_by_chunk_and_writes_nothing_twice(
        tmp_path: Path, traces_on: None, monkeypatch: pytest.MonkeyPatch) -> None:
    import harness.tracking.traces as traces
    from harness.record.traces import TRACES_JSON
    from harness.tracking.runs import sync_dir
    from harness.tracking.trace_writer import read_traces_log

    out = offline_run(tmp_path)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    monkeypatch.setenv("POLICY_HARNESS_TRACE_CHUNK", str(CHUNK))
    sizes: list[int] = []
    real_chunks = traces.chunks

    def watched(*args: Any, **kwargs: Any) -> Iterator[pd.DataFrame]:
        for frame in real_chunks(*args, **kwargs):
            sizes.append(len(frame))
            if stopping and len(sizes) > STOP_AFTER:
                raise ConnectionError("the server went away")
            yield frame

    monkeypatch.setattr(traces, "chunks", watched)
    stopping = True
    with pytest.raises(HarnessError, match="sync"):
        sync_dir(out)
    stopped = read_traces_log(out)
    assert stopped is not None and not stopped.complete and "went away" in (stopped.error or "")
    assert sum(stopped.written.values()) == STOP_AFTER * CHUNK  # counted chunk by chunk as each landed
    # a writer killed after its last chunk reached MLflow but before traces.json said so: that chunk goes again
    (key,) = stopped.written
    stopped.written[key] -= CHUNK
    (out / TRACES_JSON).write_text(stopped.model_dump_json(), encoding="utf-8")

    stopping = False
    sync_dir(out)
    done = read_traces_log(out)
    assert done is not None and done.complete and sum(done.written.values()) == ITEMS
    # never more than a chunk of verdict rows in hand, and the second writer started after the written ones
    assert max(sizes) == CHUNK and sum(sizes) == ITEMS + 2 * CHUNK

    record = read_record(out)
    assert_every_item_traced_once(record, store)


def assert_every_item_traced_once(record: RunRecord, store: str) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=store)
    (run_id,) = record.mlflow.runs.values()
    seen: list[str] = []
    token = None
    while True:
        page = client.search_traces(locations=[str(record.mlflow.experiment_id)], run_id=run_id, max_results=500,
                                    page_token=token, include_spans=False)
        for trace in page:
            seen.append(trace.info.client_request_id)
            names = sorted(a.name for a in trace.info.assessments)
            assert names.count("gold") == 1 and names.count("verdict") == 1  # a chunk written again replaced them
        token = page.token
        if not token:
            break
    assert sorted(seen) == sorted(record.verdicts["item_id"]) and len(set(seen)) == ITEMS
