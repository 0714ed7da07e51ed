"""Tests for the fault-injecting fake OpenAI server, over real loopback HTTP."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from harness.testing import openai_server
from harness.testing.openai_server import FakeOpenAIServer

REPO_ROOT = Path(__file__).resolve().parents[2]
MakeServer = Callable[..., FakeOpenAIServer]


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    yield
    leaked = [t for t in threading.enumerate() if t.name == "fake-openai-server"]
    assert not leaked, f"server threads still running: {leaked}"


@pytest.fixture
def make_server() -> Iterator[MakeServer]:
    servers: list[FakeOpenAIServer] = []

    def factory(**kwargs: Any) -> FakeOpenAIServer:
        servers.append(FakeOpenAIServer(**kwargs).start())
        return servers[-1]

    yield factory
    for server in servers:
        server.stop()


@pytest.fixture
def server(make_server: MakeServer) -> FakeOpenAIServer:
    return make_server()


def chat_body(content: str, **extra: Any) -> dict[str, Any]:
    return {"model": "fake-model", "messages": [{"role": "system", "content": "Judge VIOLATE."},
                                                {"role": "user", "content": content}], **extra}


def post_chat(server: FakeOpenAIServer, content: str, timeout: float = 5.0, **headers: str) -> httpx.Response:
    return httpx.post(f"{server.base_url}/chat/completions", json=chat_body(content), timeout=timeout,
                      headers=headers)


def client_for(server: FakeOpenAIServer, api_key: str = "x") -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=api_key, max_retries=0, timeout=5.0)


@pytest.mark.parametrize(("content", "violation"), [
    ("please VIOLATE this", True),
    ("perfectly benign", False),
    ("lowercase violate does not count", False),
    ("Rules mention VIOLATE\n<<<ITEM>>>\nbenign item", False),
    ("Rules\n<<<ITEM>>>\nthe item says VIOLATE", True),
    ("<<<ITEM>>>\nVIOLATE\n<<<ITEM>>>\nbenign last item", False),
    ("inline <<<ITEM>>> is not a delimiter line VIOLATE", True),
])
def test_default_verdict(server: FakeOpenAIServer, content: str, violation: bool) -> None:
    with client_for(server) as client:
        completion = client.chat.completions.create(model="fake-model", messages=chat_body(content)["messages"])
    verdict = json.loads(completion.choices[0].message.content or "")
    assert verdict["violation"] is violation
    assert verdict["categories"] == (["HS"] if violation else [])
    assert verdict["rule_ids"] == (["HS1"] if violation else [])
    assert verdict["confidence"] == 0.9 and verdict["rationale"]
    assert completion.object == "chat.completion" and completion.choices[0].finish_reason == "stop"
    assert completion.choices[0].message.role == "assistant"
    usage = completion.usage
    assert usage is not None and usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.completion_tokens == len(completion.choices[0].message.content or "") // 4 + 1


def test_models_health_and_unknown_path(server: FakeOpenAIServer) -> None:
    with client_for(server) as client:
        assert [m.id for m in client.models.list()] == ["fake-model"]
    assert httpx.get(f"http://127.0.0.1:{server.port}/health").json() == {"status": "ok"}
    missing = httpx.post(f"{server.base_url}/nope", json={})
    assert missing.status_code == 404
    assert set(missing.json()["error"]) >= {"message", "type", "code"}


def test_binds_loopback_on_free_port(make_server: MakeServer) -> None:
    first, second = make_server(), make_server()
    assert first.port and second.port and first.port != second.port
    assert first.base_url == f"http://127.0.0.1:{first.port}/v1"


def test_custom_responder_receives_request(make_server: MakeServer) -> None:
    server = make_server(responder=lambda request: f"echo:{request['messages'][-1]['content']}")
    assert post_chat(server, "hi").json()["choices"][0]["message"]["content"] == "echo:hi"


def test_failing_responder_returns_500(make_server: MakeServer) -> None:
    def broken(request: dict[str, Any]) -> str:
        raise KeyError("boom")

    response = post_chat(make_server(responder=broken), "x")
    assert response.status_code == 500 and "boom" in response.json()["error"]["message"]


def test_429_carries_retry_after(make_server: MakeServer) -> None:
    server = make_server(rate_429=1.0, retry_after_s=7)
    response = post_chat(server, "x")
    assert response.status_code == 429 and response.headers["retry-after"] == "7"
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
    with client_for(server) as client, pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "x"}])


def test_script_is_consumed_in_order_before_rates(make_server: MakeServer) -> None:
    server = make_server(script=["429", "500", "ok", "503"])
    with httpx.Client() as client:
        statuses = [client.post(f"{server.base_url}/chat/completions", json=chat_body("x")).status_code
                    for _ in range(5)]
    assert statuses == [429, 500, 200, 503, 200]


def test_unknown_script_fault_is_rejected() -> None:
    with pytest.raises(ValueError):
        FakeOpenAIServer(script=["teapot"])


def test_seeded_rates_are_deterministic(make_server: MakeServer) -> None:
    def statuses(server: FakeOpenAIServer) -> list[int]:
        with httpx.Client() as client:
            return [client.post(f"{server.base_url}/chat/completions", json=chat_body("x")).status_code
                    for _ in range(20)]

    first = statuses(make_server(seed=42, rate_500=0.5))
    assert first == statuses(make_server(seed=42, rate_500=0.5))
    assert set(first) == {200, 500}


def test_fault_disconnect_raises_connection_error_every_time(server: FakeOpenAIServer) -> None:
    for _ in range(2):
        with pytest.raises(httpx.TransportError):
            post_chat(server, "item FAULT:disconnect")
    with client_for(server) as client, pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "FAULT:disconnect"}])
    assert server.stats["disconnects"] == 3
    assert post_chat(server, "healthy item").status_code == 200


def test_fault_timeout_exceeds_client_timeout(make_server: MakeServer) -> None:
    server = make_server(hang_s=2)
    with pytest.raises(httpx.ReadTimeout):
        post_chat(server, "FAULT:timeout", timeout=0.5)
    with client_for(server) as client, pytest.raises(openai.APITimeoutError):
        client.with_options(timeout=0.5).chat.completions.create(
            model="fake-model", messages=[{"role": "user", "content": "FAULT:timeout"}])
    assert server.stats["timeouts"] == 2


def test_garbage_and_refusal_content(make_server: MakeServer) -> None:
    server = make_server(rate_garbage=1.0)
    content = post_chat(server, "x").json()["choices"][0]["message"]["content"]
    assert content == "Sure! I think this is fine"
    with pytest.raises(json.JSONDecodeError):
        json.loads(content)
    refusal = post_chat(server, "FAULT:refusal").json()["choices"][0]["message"]["content"]
    assert refusal == "I'm sorry, I can't help with that."


def test_fault_token_garbage_applies_every_time(server: FakeOpenAIServer) -> None:
    for _ in range(3):
        assert post_chat(server, "FAULT:garbage").json()["choices"][0]["message"]["content"] == "Sure! I think this is fine"


def test_malformed_body(make_server: MakeServer) -> None:
    response = post_chat(make_server(rate_malformed_body=1.0), "x")
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_require_api_key(make_server: MakeServer) -> None:
    server = make_server(require_api_key="secret")
    assert post_chat(server, "x").status_code == 401
    assert post_chat(server, "x", Authorization="Bearer wrong").status_code == 401
    assert post_chat(server, "x", Authorization="Bearer secret").status_code == 200
    with client_for(server, api_key="x") as client, pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "x"}])
    with client_for(server, api_key="secret") as client:
        client.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "x"}])
    log = server.requests_log
    assert [entry.has_authorization for entry in log] == [False, True, True, True, True]
    assert "secret" not in repr(log)
    assert server.stats["by_status"] == {401: 3, 200: 2}


def test_stream_true_is_rejected(server: FakeOpenAIServer) -> None:
    body = chat_body("x", stream=True)
    assert httpx.post(f"{server.base_url}/chat/completions", json=body).status_code == 400


def test_invalid_json_request_is_rejected(server: FakeOpenAIServer) -> None:
    response = httpx.post(f"{server.base_url}/chat/completions", content=b"{not json")
    assert response.status_code == 400 and "error" in response.json()


def test_concurrent_requests_overlap(make_server: MakeServer) -> None:
    server = make_server(latency_ms=100)

    async def fire() -> list[int]:
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=100), timeout=10) as client:
            responses = await asyncio.gather(*(client.post(f"{server.base_url}/chat/completions",
                                                           json=chat_body(f"item {i}")) for i in range(100)))
        return [r.status_code for r in responses]

    started = time.perf_counter()
    statuses = asyncio.run(fire())
    assert time.perf_counter() - started < 3.0
    assert statuses == [200] * 100
    assert server.stats["requests"] == 100


def test_stats_log_and_reset(make_server: MakeServer) -> None:
    server = make_server(script=["500"])
    body = chat_body("x", response_format={"type": "json_object"})
    with httpx.Client() as client:
        for _ in range(3):
            client.post(f"{server.base_url}/chat/completions", json=body)
        client.get(f"{server.base_url}/models")
    stats = server.stats
    assert stats == {"requests": 4, "by_status": {500: 1, 200: 3}, "disconnects": 0, "timeouts": 0}
    log = server.requests_log
    assert len(log) == 3 and log[0].body["response_format"] == {"type": "json_object"}
    assert all(isinstance(entry.received_at, float) and not entry.has_authorization for entry in log)
    server.reset_stats()
    assert server.stats == {"requests": 0, "by_status": {}, "disconnects": 0, "timeouts": 0}
    assert server.requests_log == []


def test_requests_log_is_capped(make_server: MakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(openai_server, "LOG_CAP", 3)
    server = make_server()
    with httpx.Client() as client:
        for i in range(5):
            client.post(f"{server.base_url}/chat/completions", json=chat_body(f"item {i}"))
    assert [entry.body["messages"][-1]["content"] for entry in server.requests_log] == ["item 2", "item 3", "item 4"]


def test_cli_prints_base_url_and_serves() -> None:
    command = [sys.executable, "-m", "harness.testing.openai_server", "--port", "0", "--latency-ms", "1",
               "--script", "503"]
    with subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            base_url = process.stdout.readline().strip()
            assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
            assert httpx.post(f"{base_url}/chat/completions", json=chat_body("x")).status_code == 503
            assert httpx.post(f"{base_url}/chat/completions", json=chat_body("x")).status_code == 200
        finally:
            process.terminate()
    assert process.returncode == 0
