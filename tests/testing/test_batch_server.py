"""The fake batch server speaks OpenAI's files and batches API to the openai SDK, also as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import openai
import pytest

from harness.testing.batch_server import FakeBatchServer

REPO_ROOT = Path(__file__).resolve().parents[2]


def request_file(*texts: str) -> bytes:
    return b"".join(json.dumps({"custom_id": f"k{i}", "method": "POST", "url": "/v1/chat/completions",
                                "body": {"model": "fake-model", "messages": [{"role": "user", "content": text}]}}
                               ).encode() + b"\n" for i, text in enumerate(texts))


def test_upload_create_retrieve_and_download_through_the_sdk() -> None:
    with FakeBatchServer(in_progress_polls=1) as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="sk-test", max_retries=0)
        uploaded = client.files.create(file=("in.jsonl", request_file("VIOLATE", "fine", "FAULT:batch_400 x",
                                                                      "FAULT:batch_missing y")), purpose="batch")
        assert client.files.retrieve(uploaded.id).bytes == len(request_file("VIOLATE", "fine", "FAULT:batch_400 x",
                                                                            "FAULT:batch_missing y"))
        batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                      completion_window="24h")
        assert client.batches.retrieve(batch.id).status == "in_progress"
        done = client.batches.retrieve(batch.id)
        assert done.status == "completed" and done.output_file_id and done.error_file_id
        outputs = [json.loads(line) for line in client.files.content(done.output_file_id).content.splitlines()]
        assert [(o["custom_id"], json.loads(o["response"]["body"]["choices"][0]["message"]["content"])["violation"])
                for o in outputs] == [("k0", True), ("k1", False)]
        errors = [json.loads(line) for line in client.files.content(done.error_file_id).content.splitlines()]
        assert [(e["custom_id"], e["response"]["status_code"]) for e in errors] == [("k2", 400)]  # k3 is missing
        other = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                      completion_window="24h")
        assert client.batches.cancel(other.id).status == "cancelled"
        assert srv.batch_stats["max_submissions_per_line"] == 2


def test_runs_as_a_module_and_reports_stats() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "harness.testing.batch_server", "--port", "0",
                             "--fail-batches", "1"], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        client = openai.OpenAI(base_url=base_url, api_key="sk-test", max_retries=0)
        uploaded = client.files.create(file=("in.jsonl", request_file("x")), purpose="batch")
        batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                      completion_window="24h")
        failed = client.batches.retrieve(batch.id)
        assert failed.status == "failed" and failed.errors and failed.errors.data
        with urllib.request.urlopen(base_url.removesuffix("/v1") + "/_stats") as response:
            stats = json.load(response)
        assert stats["batches_created"] == 1 and stats["lines_per_batch"] == [1]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_batches_are_listed_newest_first_in_pages_as_openai_does() -> None:
    with FakeBatchServer() as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="sk-test", max_retries=0)
        uploaded = client.files.create(file=("in.jsonl", request_file("x")), purpose="batch")
        created = [client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                         completion_window="24h").id for _ in range(5)]
        first = client.batches.list(limit=2)
        assert [b.id for b in first.data] == created[::-1][:2] and first.has_more
        assert [b.input_file_id for b in first.data] == [uploaded.id] * 2
        assert [b.id for b in client.batches.list(limit=2, after=first.data[-1].id).data] == created[::-1][2:4]
        last = client.batches.list(limit=2, after=created[1])
        assert [b.id for b in last.data] == [created[0]] and not last.has_more
        assert [b.id for b in client.batches.list(limit=100)] == created[::-1]  # the SDK's auto-paging
        with pytest.raises(openai.BadRequestError):
            client.batches.list(limit=101)
    with FakeBatchServer(list_batches=False) as srv:
        with pytest.raises(openai.NotFoundError):
            openai.OpenAI(base_url=srv.base_url, api_key="sk-test", max_retries=0).batches.list()
