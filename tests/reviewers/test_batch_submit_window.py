"""The window between uploading a batch file and recording its batch: a run killed (SIGKILL, in a child
process) inside it never has the same lines run twice on re-run, and says so when it cannot be sure."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import openai
import pandas as pd
import pytest
import yaml
from support.llm import LABELS, REPO_ROOT, V2, reviewer, write_items

import harness
from harness.config import load_experiment
from harness.reviewers import batch as batch_module
from harness.reviewers.cache import JudgementCache
from harness.testing.batch_server import FakeBatchServer

pytestmark = pytest.mark.usefixtures("cache_path")

ROWS = [(f"i{i}", f"text {i}" + (" VIOLATE" if i % 2 else ""), "hateful" if i % 2 else "non-hateful")
        for i in range(7)]
EXPECTED = {r[0]: "actioned" if "VIOLATE" in r[1] else "allowed" for r in ROWS}

# The child runs `policy-harness run` with one JudgementCache method wrapped to SIGKILL the process on
# its first call, before or after the real call: a kill at exactly that point of the submission.
DYING_RUN = """
import os, signal, sys
from harness.reviewers.cache import JudgementCache
from harness._cli.main import entry

method, when = sys.argv[1], sys.argv[2]
original = getattr(JudgementCache, method)

def dying(self, *args, **kwargs):
    if when == "after":
        original(self, *args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)

setattr(JudgementCache, method, dying)
sys.argv = ["policy-harness", *sys.argv[3:]]
entry()
"""


def experiment_file(tmp_path: Path, api_base: str) -> Path:
    items = write_items(tmp_path / "items.csv", ROWS)
    data = {"name": "window", "policy": str(V2),
            "eval_set": {"path": str(items), "columns": {"id": "id", "text": "text", "label": "label"},
                         "labels": LABELS},
            "reviewers": [reviewer(api_base, batch=True, poll_s=0.02, batch_max_lines=3)]}
    path = tmp_path / "window.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def killed_run(tmp_path: Path, path: Path, method: str, when: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONIOENCODING": "utf-8"}
    result = subprocess.run([sys.executable, "-c", DYING_RUN, method, when, "run", str(path), "--no-track",
                             "--out", str(tmp_path / "killed")], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == -signal.SIGKILL, result.stderr


def rerun(tmp_path: Path, path: Path) -> pd.DataFrame:
    record = harness.run(load_experiment(path), out_dir=tmp_path / "resumed", track=False)
    return record.verdicts


def submissions(srv: FakeBatchServer) -> Counter[str]:
    return Counter(key for entry in srv.batch_log for key in entry["custom_ids"] if not key.startswith("other"))


def other_users_batch(srv: FakeBatchServer) -> str:
    """A batch someone else created on the same account: the search must not take it for ours."""
    client = openai.OpenAI(base_url=srv.base_url, api_key="sk-test", max_retries=0)
    line = {"custom_id": "other-0", "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": "fake-model", "messages": [{"role": "user", "content": "x"}]}}
    uploaded = client.files.create(file=("other.jsonl", json.dumps(line).encode() + b"\n"), purpose="batch")
    return client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                 completion_window="24h").id


def assert_all_answered(verdicts: pd.DataFrame, cache_path: Path, api_base: str) -> None:
    assert dict(zip(verdicts["item_id"], verdicts["decision"])) == EXPECTED
    cache = JudgementCache(cache_path)
    try:
        assert cache.live_batches("openai", api_base) == []  # every recorded file and batch is done
    finally:
        cache.close()


def test_a_batch_created_but_not_recorded_is_found_by_listing_and_polled(
        tmp_path: Path, cache_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeBatchServer() as srv:
        path = experiment_file(tmp_path, srv.base_url)
        killed_run(tmp_path, path, "set_batch_id", "before")  # the provider made the batch; the run never knew
        assert len(srv.batch_log) == 1 and len(srv.input_files()) == 1
        lost = srv.batch_log[0]["id"]
        other_users_batch(srv)  # newer than the lost one: it is on the second page
        monkeypatch.setattr(batch_module, "LIST_PAGE", 1)
        verdicts = rerun(tmp_path, path)
        ours = [entry for entry in srv.batch_log if not entry["custom_ids"][0].startswith("other")]
        assert len(ours) == 3 and ours[0]["id"] == lost  # the lost batch adopted, two more for the rest
        assert set(submissions(srv).values()) == {1} and len(submissions(srv)) == len(ROWS)
        assert len(srv.input_files()) == 3 + 1  # ours, none uploaded twice, and the other user's
        assert_all_answered(verdicts, cache_path, srv.base_url)


def test_an_upload_recorded_before_its_batch_existed_becomes_a_batch_without_a_second_upload(
        tmp_path: Path, cache_path: Path) -> None:
    with FakeBatchServer() as srv:
        path = experiment_file(tmp_path, srv.base_url)
        killed_run(tmp_path, path, "record_batch", "after")  # the file uploaded and recorded, no batch
        assert srv.batch_log == [] and len(srv.input_files()) == 1
        first_file = next(iter(srv.input_files()))
        verdicts = rerun(tmp_path, path)
        assert len(srv.batch_log) == 3 and len(srv.input_files()) == 3
        assert srv.batch_log[0]["input_file_id"] == first_file  # made from the recorded file
        assert set(submissions(srv).values()) == {1} and len(submissions(srv)) == len(ROWS)
        assert_all_answered(verdicts, cache_path, srv.base_url)


def test_without_listing_the_lost_batch_is_created_again_with_a_warning(
        tmp_path: Path, cache_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with FakeBatchServer(list_batches=False) as srv:
        path = experiment_file(tmp_path, srv.base_url)
        killed_run(tmp_path, path, "set_batch_id", "before")
        verdicts = rerun(tmp_path, path)
        assert "could not look for the batches a killed run may have created" in caplog.text
        assert "submitted and paid for twice" in caplog.text
        assert len(srv.batch_log) == 4 and len(srv.input_files()) == 3  # the lost file made a batch again
        assert sorted(submissions(srv).values()) == [1] * 4 + [2] * 3
        assert_all_answered(verdicts, cache_path, srv.base_url)
