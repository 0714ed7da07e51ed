"""`batch export` / `batch import`: the uncached judgements go out as OpenAI batch lines, a "cluster" (the
loopback fake server answering each line, as `vllm run-batch` would) answers them, and the answers come back
into the judgement cache, so the next `run` calls the model only for the lines that were skipped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from support.llm import LABELS, V2, write_items

from harness.testing.openai_server import FakeOpenAIServer

REPO_ROOT = Path(__file__).resolve().parents[2]
ROWS = [(f"i{n}", f"{'VIOLATE ' if n % 2 else ''}item number {n}", "hateful" if n % 3 else "non-hateful")
        for n in range(8)]


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def experiment_file(tmp: Path, api_base: str) -> Path:
    items = write_items(tmp / "items.csv", ROWS)
    data = {"name": "cluster", "policy": str(V2), "tracking": {"enabled": False},
            "eval_set": {"path": str(items), "columns": {"id": "id", "text": "text", "label": "label"},
                         "labels": LABELS},
            "reviewers": [{"name": "fake", "type": "llm", "model": "openai/fake-model", "api_base": api_base,
                           "max_retries": 0, "timeout_s": 5}]}
    path = tmp / "experiment.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def answer_on_cluster(requests: Path, server: FakeOpenAIServer) -> list[dict[str, object]]:
    """What `vllm run-batch` writes: one output line per request line, the chat completion as its body."""
    out = []
    with httpx.Client(base_url=server.base_url.removesuffix("/v1"), timeout=10) as client:
        for raw in requests.read_text(encoding="utf-8").splitlines():
            line = json.loads(raw)
            response = client.post(line["url"], json=line["body"])
            out.append({"id": f"vllm-{len(out)}", "custom_id": line["custom_id"],
                        "response": {"status_code": response.status_code, "body": response.json()}, "error": None})
    return out


@pytest.mark.usefixtures("cache_path")
def test_answers_judged_elsewhere_fill_the_cache(tmp_path: Path, server: FakeOpenAIServer) -> None:
    experiment = experiment_file(tmp_path, server.base_url)
    exported = cli(tmp_path, "batch", "export", str(experiment), "--out", "requests.jsonl")
    assert exported.returncode == 0, exported.stderr
    requests = [json.loads(line) for line in (tmp_path / "requests.jsonl").read_text().splitlines()]
    assert len(requests) == len(ROWS) and all(r["url"] == "/v1/chat/completions" for r in requests)
    assert requests[0]["body"]["model"] == "fake-model" and "response_format" in requests[0]["body"]
    assert server.stats["requests"] == 0  # exporting calls nothing

    lines = answer_on_cluster(tmp_path / "requests.jsonl", server)
    server.reset_stats()
    lines[1] = {"id": "x", "custom_id": lines[1]["custom_id"], "response": None,
                "error": {"code": "server_error", "message": "GPU fell over"}}
    lines.insert(0, {**lines[2], "custom_id": "not-a-key-of-this-experiment"})
    text = "".join(json.dumps(line) + "\n" for line in lines)
    (tmp_path / "results.jsonl").write_text(text[:-40], encoding="utf-8")  # the last line cut short

    imported = cli(tmp_path, "batch", "import", "results.jsonl", "--experiment", str(experiment))
    assert imported.returncode == 0, imported.stderr
    assert f"imported {len(ROWS) - 2} answers" in imported.stdout
    assert "not-a-key-of-this-experiment" in imported.stderr and "GPU fell over" in imported.stderr
    assert "cut short" in imported.stderr and "Traceback" not in imported.stderr

    again = cli(tmp_path, "batch", "export", str(experiment), "--out", "rest.jsonl")
    assert again.returncode == 0 and len((tmp_path / "rest.jsonl").read_text().splitlines()) == 2
    ran = cli(tmp_path, "run", str(experiment), "--out", "out", "--quiet")
    assert ran.returncode == 0, ran.stderr
    assert server.stats["requests"] == 2  # only the error line and the cut-short line are judged again
    verdicts = json.loads((tmp_path / "out" / "metrics.json").read_text())["reviewers"]["fake"]
    assert verdicts["items"] == len(ROWS)


@pytest.mark.usefixtures("cache_path")
def test_a_file_with_nothing_to_import_is_one_error(tmp_path: Path, server: FakeOpenAIServer) -> None:
    experiment = experiment_file(tmp_path, server.base_url)
    (tmp_path / "results.jsonl").write_text('{"custom_id": "nobody", "response": {"status_code": 200, "body": {}}}\n'
                                            "not json\n", encoding="utf-8")
    result = cli(tmp_path, "batch", "import", "results.jsonl", "--experiment", str(experiment))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "no answer was imported (2 lines skipped)" in result.stderr and "line 2: not a batch output line" in result.stderr
