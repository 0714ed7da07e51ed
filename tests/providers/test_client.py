"""LLM client over real loopback HTTP: retries honour Retry-After, fatal errors fail fast and clearly,
the structured-output request is what the reviewer's settings say."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest
from support.llm import REPO_ROOT, V2, experiment, fast_backoff, free_port, item_text, write_items

import harness
from harness.errors import HarnessError, ProviderError
from harness.policy import load_policy
from harness.providers.client import Endpoint, LLMClient
from harness.reviewers.llm_verdict import verdict_schema
from harness.testing.openai_server import FakeOpenAIServer

ROWS = [("v", "VIOLATE this", "hateful"), ("b", "a sunny day", "non-hateful")]


pytestmark = pytest.mark.usefixtures("cache_path")


def client(api_base: str, *, max_retries: int = 2, api_key: str | None = "sk-local", **kwargs) -> LLMClient:
    endpoint = Endpoint(model="openai/fake-model", api_base=api_base, api_key=api_key, **kwargs)
    return LLMClient(endpoint, timeout_s=5, max_retries=max_retries, temperature=0.0, max_tokens=64, backoff_s=0.01)


def messages(item: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "policy"}, {"role": "user", "content": f"<<<ITEM>>>\n{item}\n<<<END ITEM>>>"}]


SCHEMA = verdict_schema(load_policy(V2))


# --- the client on its own -------------------------------------------------------------------

def test_transient_errors_are_retried_then_succeed() -> None:
    with FakeOpenAIServer(script=["500", "503"]) as srv:
        llm = client(srv.base_url, max_retries=2)
        done = asyncio.run(llm.complete(messages("VIOLATE"), SCHEMA))
    assert done.error is None and '"violation": true' in done.content
    assert done.retries == 2 and llm.retries == 2 and srv.stats["requests"] == 3
    assert done.prompt_tokens > 0 and done.completion_tokens > 0
    assert done.cost_usd is None  # unknown price: unknown, not zero


def test_persistent_server_error_becomes_an_error_completion(server: FakeOpenAIServer) -> None:
    llm = client(server.base_url, max_retries=2)
    done = asyncio.run(llm.complete(messages("FAULT:500"), SCHEMA))
    assert done.content is None and done.error is not None
    assert "500" in done.error and "2 retries" in done.error
    assert server.stats["requests"] == 3 and llm.failures


def test_unknown_url_is_fatal_and_names_the_model(server: FakeOpenAIServer) -> None:
    llm = client(server.base_url.removesuffix("/v1") + "/nope")
    with pytest.raises(ProviderError, match="404") as err:
        asyncio.run(llm.complete(messages("x"), SCHEMA))
    assert "fake-model" in str(err.value) and "api_base" in str(err.value)
    assert server.stats["requests"] == 1  # fatal: not retried


# --- Retry-After -----------------------------------------------------------------------------

def test_retry_honours_retry_after(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fast_backoff(monkeypatch)  # without Retry-After the retry would come within ~10 ms
    with FakeOpenAIServer(script=["429"], retry_after_s=1.0) as srv:
        record = harness.run(experiment(write_items(tmp_path / "items.csv", ROWS), srv.base_url),
                             out_dir=tmp_path / "out", track=False)
        log = srv.requests_log
    times = defaultdict(list)
    for logged in log:
        times[item_text(logged)].append(logged.received_at)
    retried = [t for t in times.values() if len(t) == 2]
    assert len(log) == 3 and len(retried) == 1
    assert retried[0][1] - retried[0][0] >= 0.9
    decisions = dict(zip(record.verdicts["item_id"], record.verdicts["decision"]))
    assert decisions == {"v": "actioned", "b": "allowed"}
    assert record.usage["fake"].retries == 1


# --- fatal errors fail fast --------------------------------------------------------------------

def test_wrong_api_key_fails_fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PH_TEST_WRONG_KEY", "sk-wrong-key")
    rows = [(f"i{i}", f"item {i}", "non-hateful") for i in range(40)]
    with FakeOpenAIServer(require_api_key="sk-right-key") as srv:
        exp = experiment(write_items(tmp_path / "items.csv", rows), srv.base_url,
                         api_key_env="PH_TEST_WRONG_KEY", concurrency=4)
        started = time.monotonic()
        with pytest.raises(ProviderError) as err:
            harness.run(exp, out_dir=tmp_path / "out", track=False)
        elapsed = time.monotonic() - started
        requests = srv.stats["requests"]
    assert isinstance(err.value, HarnessError)
    message = str(err.value)
    assert "PH_TEST_WRONG_KEY" in message and "401" in message and srv.base_url in message
    assert "sk-wrong-key" not in message
    assert requests <= 8, f"{requests} requests after a 401: not failing fast"
    assert elapsed < 5
    assert not (tmp_path / "out").exists()


def test_unset_key_variable_fails_before_any_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    server: FakeOpenAIServer) -> None:
    monkeypatch.delenv("PH_TEST_UNSET_KEY", raising=False)
    exp = experiment(write_items(tmp_path / "items.csv", ROWS), server.base_url, api_key_env="PH_TEST_UNSET_KEY")
    with pytest.raises(HarnessError, match="PH_TEST_UNSET_KEY"):
        harness.run(exp, out_dir=tmp_path / "out", track=False)
    assert server.stats["requests"] == 0


def test_dead_endpoint_is_fatal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fast_backoff(monkeypatch)
    dead = f"http://127.0.0.1:{free_port()}/v1"
    exp = experiment(write_items(tmp_path / "items.csv", ROWS), dead)
    with pytest.raises(ProviderError, match="cannot reach") as err:
        harness.run(exp, out_dir=tmp_path / "out", track=False)
    assert dead in str(err.value)


def test_dead_endpoint_never_counts_as_allowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the classification, nothing unjudged may be reported as allowed."""
    fast_backoff(monkeypatch)
    exp = experiment(write_items(tmp_path / "items.csv", ROWS), f"http://127.0.0.1:{free_port()}/v1")
    try:
        record = harness.run(exp, out_dir=tmp_path / "out", track=False)
    except ProviderError:
        return
    assert set(record.verdicts["decision"]) == {"abstained"}
    assert record.metrics.model_dump(mode="json")["reviewers"]["fake"]["abstained"] == 2


def cli_run(tmp_path: Path, yaml_text: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "exp.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    full_env = {**os.environ, **env, "PYTHONPATH": str(REPO_ROOT), "PYTHONIOENCODING": "utf-8",
                "POLICY_HARNESS_CACHE": str(tmp_path / "cli-cache.sqlite"),
                "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/m.db"}
    return subprocess.run([sys.executable, "-m", "harness", "run", str(path), "--no-track", "--out",
                           str(tmp_path / "out")], cwd=REPO_ROOT, env=full_env, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("key", ["sk-wrong-key", None])
def test_cli_fatal_provider_error_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str | None) -> None:
    monkeypatch.delenv("PH_CLI_KEY", raising=False)
    items = write_items(tmp_path / "items.csv", ROWS)
    with FakeOpenAIServer(require_api_key="sk-right-key") as srv:
        yaml_text = f"""\
name: cli-llm
policy: {V2}
eval_set:
  path: {items}
  columns: {{id: id, text: text, label: label}}
  labels: {{hateful: HS, non-hateful: benign}}
reviewers:
  - {{name: fake, type: llm, model: openai/fake-model, api_base: "{srv.base_url}", api_key_env: PH_CLI_KEY, max_retries: 1}}
"""
        env = {"PH_CLI_KEY": key} if key else {}
        result = cli_run(tmp_path, yaml_text, env)
        requests = srv.stats["requests"]
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:") and "PH_CLI_KEY" in lines[0]
    if key:
        assert "401" in lines[0] and key not in lines[0]
    else:
        assert requests == 0
    assert not (tmp_path / "out").exists()


# --- structured output request -------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["auto", "json_schema", "json_object", "none"])
def test_response_format_sent(tmp_path: Path, server: FakeOpenAIServer, fmt: str) -> None:
    overrides = {} if fmt == "auto" else {"response_format": fmt}
    record = harness.run(experiment(write_items(tmp_path / "items.csv", ROWS), server.base_url, **overrides),
                         out_dir=tmp_path / "out", track=False)
    schema = verdict_schema(load_policy(V2))
    bodies = [logged.body for logged in server.requests_log]
    assert len(bodies) == 2
    for body in bodies:
        sent = body.get("response_format")
        if fmt in ("auto", "json_schema"):
            assert sent["type"] == "json_schema"
            assert sent["json_schema"]["schema"] == schema and sent["json_schema"]["name"] == "verdict"
        elif fmt == "json_object":
            assert sent == {"type": "json_object", "schema": schema}
        else:
            assert sent is None
        assert body["temperature"] == 0.0 and body["max_tokens"] == 256
    assert set(record.verdicts["decision"]) == {"actioned", "allowed"}
