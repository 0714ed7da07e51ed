"""Fault-injecting OpenAI-compatible chat-completions server (stdlib only) for tests and benchmarks."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import random
import re
import signal
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any, NamedTuple

HOST = "127.0.0.1"
MODEL_ID = "fake-model"
ITEM_MARKER = "<<<ITEM>>>"
GARBAGE_TEXT = "Sure! I think this is fine"
REFUSAL_TEXT = "I'm sorry, I can't help with that."
CANNED_CONTENT = {"garbage": GARBAGE_TEXT, "refusal": REFUSAL_TEXT}
MALFORMED_BODY = b'{"id": "chatcmpl-broken", "choices": [{"message": '
RATE_FAULTS = ("429", "500", "503", "timeout", "disconnect", "garbage", "malformed_body")
# The forms a reasoning model's reasoning arrives in: a message field (vLLM/Ollama `reasoning`,
# DeepSeek/litellm `reasoning_content`), or inside the content before the answer.
REASONING_FORMS = ("reasoning", "reasoning_content", "think", "harmony", "harmony_bare")
REASONING_TEXT = "The policy bans dehumanising language. Checking the item against each rule before answering."
# "length": the answer is cut off at max_tokens (finish_reason "length").
FAULTS = frozenset(RATE_FAULTS + ("ok", "refusal", "length") + REASONING_FORMS)
FAULT_TOKEN = re.compile(r"FAULT:([a-z0-9_]+)")
MAX_BODY_BYTES = 16 * 1024 * 1024
LOG_CAP = 10_000
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
           429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}
ERROR_FAULTS = {
    "429": (429, "Rate limit reached for requests", "requests", "rate_limit_exceeded"),
    "500": (500, "The server had an error while processing your request.", "server_error", "internal_error"),
    "503": (503, "The engine is currently overloaded, please try again later.", "server_error", "service_unavailable"),
}

class Reply(NamedTuple):
    """What a responder may return instead of the bare content: reasoning, its form, how it ended."""

    content: str | None
    reasoning: str | None = None
    reasoning_form: str = "reasoning"  # one of REASONING_FORMS
    reasoning_tokens: int | None = None  # None: counted from the reasoning text
    finish_reason: str = "stop"
    logprobs: list[dict[str, Any]] | None = None  # the choice's logprobs.content (see `planted_logprobs`)


Responder = Callable[[dict[str, Any]], "str | Reply"]


class LoggedRequest(NamedTuple):
    received_at: float
    body: dict[str, Any]
    has_authorization: bool
    headers: dict[str, str] = {}  # every request header except authorization (its value is a secret)


class HttpRequest(NamedTuple):
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    keep_alive: bool
    query: str = ""  # the URL's query string, without the "?"


class Response(NamedTuple):
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


class BadRequest(Exception):
    pass


def message_text(message: Any) -> str:
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):  # OpenAI "content parts" form
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def last_user_text(request: dict[str, Any]) -> str:
    messages = request.get("messages")
    for message in reversed(messages if isinstance(messages, list) else []):
        if isinstance(message, dict) and message.get("role") == "user":
            return message_text(message)
    return ""


def item_section(text: str) -> str:
    lines = text.splitlines()
    marks = [i for i, line in enumerate(lines) if line.strip() == ITEM_MARKER]
    return "\n".join(lines[marks[-1] + 1:]) if marks else text


def default_responder(request: dict[str, Any]) -> str:
    violation = "VIOLATE" in item_section(last_user_text(request))
    return json.dumps({
        "violation": violation,
        "categories": ["HS"] if violation else [],
        "rule_ids": ["HS1"] if violation else [],
        "confidence": 0.9,
        "rationale": "Item contains the VIOLATE marker." if violation else "No violation marker found.",
    })


def parse_json_object(body: bytes) -> dict[str, Any] | None:
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def approx_tokens(text: str) -> int:
    return len(text) // 4 + 1


def json_response(status: int, payload: Any, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    return Response(status, json.dumps(payload).encode(), headers)


def error_response(status: int, message: str, type_: str, code: str | None,
                   headers: tuple[tuple[str, str], ...] = ()) -> Response:
    return json_response(status, {"error": {"message": message, "type": type_, "param": None, "code": code}}, headers)


def with_reasoning(reply: Reply) -> tuple[dict[str, Any], int]:
    """The assistant message for a reply, and its reasoning tokens."""
    content, reasoning = reply.content, reply.reasoning
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if reasoning is None:
        return message, 0
    tokens = approx_tokens(reasoning) if reply.reasoning_tokens is None else reply.reasoning_tokens
    form = reply.reasoning_form
    if form in ("reasoning", "reasoning_content"):
        message[form] = reasoning
    elif form == "think":
        message["content"] = f"<think>\n{reasoning}\n</think>\n\n{content or ''}"
    elif form == "harmony":
        final = f"<|start|>assistant<|channel|>final<|message|>{content}<|return|>" if content is not None else ""
        message["content"] = f"<|channel|>analysis<|message|>{reasoning}<|end|>{final}"
    elif form == "harmony_bare":  # the same with the special tokens stripped by the server
        message["content"] = f"analysis{reasoning}" + (f"assistantfinal{content}" if content is not None else "")
    else:
        raise ValueError(f"unknown reasoning form {form!r}; expected one of {REASONING_FORMS}")
    return message, tokens


def completion_payload(request: dict[str, Any], content: str | Reply) -> dict[str, Any]:
    reply = content if isinstance(content, Reply) else Reply(content)
    message, reasoning_tokens = with_reasoning(reply)
    messages = request.get("messages")
    prompt = "".join(message_text(m) for m in (messages if isinstance(messages, list) else []))
    prompt_tokens = approx_tokens(prompt)
    completion_tokens = approx_tokens(reply.content or "") + reasoning_tokens
    usage: dict[str, Any] = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                             "total_tokens": prompt_tokens + completion_tokens}
    if reasoning_tokens:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model") or MODEL_ID,
        "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason,
                     **({"logprobs": {"content": reply.logprobs}} if reply.logprobs is not None else {})}],
        "usage": usage,
    }


_TOKENS = re.compile(r"\s*\w+|\s*[^\w\s]|\s+")
_OUTCOMES = {"true": "false", "false": "true", "safe": "unsafe", "unsafe": "safe", "yes": "no", "no": "yes"}


def planted_logprobs(content: str, p_violation: float, *, other: tuple[str, float] | None = ("\"", 0.05),
                     ) -> list[dict[str, Any]]:
    """OpenAI-style `logprobs.content` for `content` split into word and punctuation tokens, with
    P(violation) planted at the decision token: the value after `"violation":`, else the first word
    (`safe`/`unsafe`, `Yes`/`No`). `other`: an unrelated alternative and its probability, listed
    beside the two outcomes (a provider's top alternatives are not only the outcomes)."""
    tokens = _TOKENS.findall(content)
    key = re.search(r'"violation"\s*:\s*', content)
    at, index = (key.end() if key else 0), 0
    for i, _ in enumerate(tokens):
        start = sum(len(t) for t in tokens[:i])
        if start + len(tokens[i]) > at and tokens[i].strip():
            index = i
            break
    rest = 1.0 - (other[1] if other else 0.0)
    out: list[dict[str, Any]] = []
    for i, token in enumerate(tokens):
        entry: dict[str, Any] = {"token": token, "logprob": -0.01, "top_logprobs": []}
        word = token.strip().lower()
        if i == index and word in _OUTCOMES:
            violating = word in ("true", "unsafe", "yes")
            mine = p_violation if violating else 1.0 - p_violation
            alternative = token.replace(token.strip(), _cased(_OUTCOMES[word], token.strip()))
            alts = [(token, rest * mine), (alternative, rest * (1.0 - mine))] + ([other] if other else [])
            entry["logprob"] = _log(rest * mine)
            entry["top_logprobs"] = [{"token": t, "logprob": _log(p)} for t, p in alts if p > 0]
        out.append(entry)
    return out


def stated_logprobs(content: str) -> list[dict[str, Any]] | None:
    """Log-probabilities for an answer that has none planted: P(violation) at the decision token is
    the answer's own stated confidence in its verdict (0.9 when it states none); None for an answer
    that is not a JSON verdict."""
    try:
        answer = json.loads(content)
    except ValueError:
        return None
    if not isinstance(answer, dict) or not isinstance(answer.get("violation"), bool):
        return None
    stated = answer.get("confidence")
    confidence = float(stated) if isinstance(stated, int | float) and 0.0 <= stated <= 1.0 else 0.9
    return planted_logprobs(content, confidence if answer["violation"] else 1.0 - confidence)


def _cased(word: str, like: str) -> str:
    return word.capitalize() if like[:1].isupper() else word


def _log(p: float) -> float:
    return math.log(p) if p > 0 else -1e9


def parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(f"malformed request line: {lines[0]!r}")
    headers: dict[str, str] = {}
    for line in filter(None, lines[1:]):
        name, sep, value = line.partition(":")
        if not sep:
            raise BadRequest(f"malformed header: {line!r}")
        headers[name.strip().lower()] = value.strip()
    return parts[0], parts[1], parts[2], headers


async def read_request(reader: asyncio.StreamReader) -> HttpRequest | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise BadRequest("truncated request head") from exc
        return None  # peer closed an idle keep-alive connection
    except asyncio.LimitOverrunError as exc:
        raise BadRequest("request head too large") from exc
    method, target, version, headers = parse_head(head)
    path, _, query = target.partition("?")
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise BadRequest("chunked request bodies are not supported")
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError as exc:
        raise BadRequest("invalid Content-Length") from exc
    if not 0 <= length <= MAX_BODY_BYTES:
        raise BadRequest("invalid Content-Length")
    body = await reader.readexactly(length) if length else b""
    connection = headers.get("connection", "").lower()
    keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
    return HttpRequest(method, path, headers, body, keep_alive, query)


def encode_response(response: Response, keep_alive: bool) -> bytes:
    lines = [f"HTTP/1.1 {response.status} {REASONS.get(response.status, 'Unknown')}",
             "Content-Type: application/json", f"Content-Length: {len(response.body)}",
             f"Connection: {'keep-alive' if keep_alive else 'close'}",
             *(f"{name}: {value}" for name, value in response.headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + response.body


class FakeOpenAIServer:
    """OpenAI-compatible server on 127.0.0.1 running its own event loop in a daemon thread."""

    def __init__(self, *, port: int = 0, latency_ms: float = 0.0, seed: int = 0,
                 rate_429: float = 0.0, rate_500: float = 0.0, rate_503: float = 0.0,
                 rate_timeout: float = 0.0, rate_disconnect: float = 0.0, rate_garbage: float = 0.0,
                 rate_malformed_body: float = 0.0, retry_after_s: float = 1.0, hang_s: float = 30.0,
                 script: list[str] | None = None, responder: Responder | None = None,
                 require_api_key: str | None = None, reasoning: str | None = None, logprobs: bool = True) -> None:
        self._rates = list(zip(RATE_FAULTS, (rate_429, rate_500, rate_503, rate_timeout,
                                             rate_disconnect, rate_garbage, rate_malformed_body), strict=True))
        if any(not 0.0 <= rate <= 1.0 for _, rate in self._rates) or sum(r for _, r in self._rates) > 1.0:
            raise ValueError("fault rates must each be in [0, 1] and sum to at most 1")
        unknown = [name for name in script or [] if name not in FAULTS]
        if unknown:
            raise ValueError(f"unknown scripted faults {unknown}; expected some of {sorted(FAULTS)}")
        self._requested_port = port
        self.latency_s = latency_ms / 1000.0
        self.retry_after_s = retry_after_s
        self.hang_s = hang_s
        self.require_api_key = require_api_key
        if reasoning is not None and reasoning not in REASONING_FORMS:
            raise ValueError(f"unknown reasoning form {reasoning!r}; expected one of {REASONING_FORMS}")
        self.reasoning = reasoning  # every answer comes with REASONING_TEXT in this form
        # Asked for log-probabilities, answer with them as OpenAI's API and vLLM do (False: a provider that ignores them).
        self.logprobs = logprobs
        self._responder = responder or default_responder
        self._script: deque[str] = deque(script or [])
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._log: deque[LoggedRequest] = deque(maxlen=LOG_CAP)
        self._conns: set[asyncio.Task[None]] = set()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event = asyncio.Event()
        self.port = 0
        self.reset_stats()

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}/v1"

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> FakeOpenAIServer:
        if self._loop is not None:
            raise RuntimeError("a FakeOpenAIServer can only be started once")
        # Binding here, in the caller's thread, means bind errors raise directly and the port is
        # accepting (into the backlog) before start() returns.
        sock = socket.create_server((HOST, self._requested_port), backlog=1024)
        self.port = sock.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, args=(sock,), name="fake-openai-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None or self._loop is None:
            return
        with contextlib.suppress(RuntimeError):  # loop already closed
            self._loop.call_soon_threadsafe(self._stop_event.set)
        thread.join(timeout=10)

    @property
    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {**self._counts, "by_status": dict(self._by_status)}

    @property
    def requests_log(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._log)

    def reset_stats(self) -> None:
        with self._lock:
            self._counts = {"requests": 0, "disconnects": 0, "timeouts": 0}
            self._by_status: dict[int, int] = {}
            self._log.clear()

    def _count(self, counter: str) -> None:
        with self._lock:
            self._counts[counter] += 1

    def _run(self, sock: socket.socket) -> None:
        assert self._loop is not None
        try:
            self._loop.run_until_complete(self._serve(sock))
        finally:
            self._loop.close()

    async def _serve(self, sock: socket.socket) -> None:
        server = await asyncio.start_server(self._handle_connection, sock=sock)
        await self._stop_event.wait()
        server.close()
        # Idle keep-alive connections and hanging "timeout" faults would otherwise block shutdown.
        for task in list(self._conns):
            task.cancel()
        await asyncio.gather(*self._conns, return_exceptions=True)
        await server.wait_closed()

    async def _handle_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        try:
            while await self._serve_one(reader, writer):
                pass
        # Cancellation only comes from stop(); swallowing it keeps asyncio from logging every connection.
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self._conns.discard(task)
            writer.close()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        try:
            request = await read_request(reader)
        except BadRequest as exc:
            await self._send(writer, error_response(400, str(exc), "invalid_request_error", None), False)
            return False
        if request is None:
            return False
        self._count("requests")
        response = await self._route(request)
        if response is None:  # injected disconnect: drop the connection without answering
            return False
        await self._send(writer, response, request.keep_alive)
        return request.keep_alive

    async def _send(self, writer: asyncio.StreamWriter, response: Response, keep_alive: bool) -> None:
        with self._lock:
            self._by_status[response.status] = self._by_status.get(response.status, 0) + 1
        writer.write(encode_response(response, keep_alive))
        await writer.drain()

    async def _route(self, request: HttpRequest) -> Response | None:
        route = (request.method, request.path.rstrip("/"))
        if route == ("GET", "/health"):
            return json_response(200, {"status": "ok"})
        if route == ("POST", "/v1/chat/completions"):
            return await self._chat(request)
        if route != ("GET", "/v1/models"):
            message = f"Invalid URL ({request.method} {request.path})"
            return error_response(404, message, "invalid_request_error", "unknown_url")
        return self._auth_error(request.headers) or json_response(200, {"object": "list", "data": [
            {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "policy-harness"}]})

    def _auth_error(self, headers: dict[str, str]) -> Response | None:
        if self.require_api_key is None or headers.get("authorization") == f"Bearer {self.require_api_key}":
            return None
        return error_response(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")

    async def _chat(self, request: HttpRequest) -> Response | None:
        payload = parse_json_object(request.body)
        if payload is not None:  # logged before auth so tests can inspect rejected requests too
            with self._lock:
                headers = {k: v for k, v in request.headers.items() if k != "authorization"}
                self._log.append(LoggedRequest(time.time(), payload, "authorization" in request.headers, headers))
        auth_error = self._auth_error(request.headers)
        if auth_error or payload is None:
            return auth_error or error_response(400, "Request body must be a JSON object.",
                                                "invalid_request_error", "invalid_json")
        if payload.get("stream"):
            return error_response(400, "stream=true is not supported.", "invalid_request_error", "unsupported_value")
        fault = self._pick_fault(payload)
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        return await self._apply_fault(fault, payload)

    def _pick_fault(self, payload: dict[str, Any]) -> str:
        for token in FAULT_TOKEN.finditer(last_user_text(payload)):
            if token.group(1) in FAULTS:
                return token.group(1)
        if self._script:
            return self._script.popleft()
        draw = self._rng.random()
        for name, rate in self._rates:
            if draw < rate:
                return name
            draw -= rate
        return "ok"

    async def _apply_fault(self, fault: str, payload: dict[str, Any]) -> Response | None:
        if fault == "disconnect":
            self._count("disconnects")
            return None
        if fault == "timeout":
            self._count("timeouts")
            await asyncio.sleep(self.hang_s)
        if fault in ERROR_FAULTS:
            status, message, type_, code = ERROR_FAULTS[fault]
            headers = (("Retry-After", f"{self.retry_after_s:g}"),) if status == 429 else ()
            return error_response(status, message, type_, code, headers)
        if fault == "malformed_body":
            return Response(200, MALFORMED_BODY)
        try:
            content = CANNED_CONTENT[fault] if fault in CANNED_CONTENT else self._responder(payload)
        except Exception as exc:  # a buggy test responder should surface as a 500, not a silent hang-up
            return error_response(500, f"responder failed: {exc!r}", "server_error", "responder_error")
        reply = content if isinstance(content, Reply) else Reply(content)
        form = fault if fault in REASONING_FORMS else self.reasoning
        if form is not None and reply.reasoning is None:
            reply = reply._replace(reasoning=REASONING_TEXT, reasoning_form=form)
        if fault == "length":  # the token limit struck mid-answer
            reply = reply._replace(content=(reply.content or "")[: len(reply.content or "") // 2],
                                   finish_reason="length")
        if self.logprobs and payload.get("logprobs") and reply.logprobs is None and reply.content:
            reply = reply._replace(logprobs=stated_logprobs(reply.content))
        return json_response(200, completion_payload(payload, reply))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    for fault in RATE_FAULTS:
        parser.add_argument(f"--rate-{fault.replace('_', '-')}", dest=f"rate_{fault}", type=float, default=0.0)
    parser.add_argument("--retry-after-s", type=float, default=1.0)
    parser.add_argument("--hang-s", type=float, default=30.0)
    parser.add_argument("--script", type=lambda s: [f for f in s.split(",") if f], default=None,
                        help="comma-separated faults for the first requests, e.g. 429,500,ok")
    parser.add_argument("--require-api-key", default=None)
    parser.add_argument("--reasoning", choices=REASONING_FORMS, default=None,
                        help="answer every request with reasoning in this form")
    return parser.parse_args(argv)


def serve_until_signalled(server: FakeOpenAIServer) -> int:
    """Run a server from the command line: print its base URL, stop on SIGINT or SIGTERM."""
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    with server:
        print(server.base_url, flush=True)
        stopped.wait()
    return 0


def main(argv: list[str] | None = None) -> int:
    return serve_until_signalled(FakeOpenAIServer(**vars(parse_args(argv))))


if __name__ == "__main__":
    raise SystemExit(main())
