"""Loopback OpenAI-compatible files and batches server (stdlib only) with injectable batch faults.

The chat-completions endpoint and its judging logic are FakeOpenAIServer's; this adds
POST /v1/files (multipart, purpose=batch), GET /v1/files/{id}, GET /v1/files/{id}/content,
POST /v1/batches, GET /v1/batches (newest first, `limit` and `after` as OpenAI pages them),
GET /v1/batches/{id}, POST /v1/batches/{id}/cancel, and GET /_stats.

Faults: per server, the next `fail_batches` batches fail and the next `expire_batches` expire
(half their lines done); a batch stays in_progress for `in_progress_polls` retrievals and at least
`in_progress_s` seconds. Per line, a token in the item text: FAULT:batch_500 (a transient error
line), FAULT:batch_400 (a permanent one), FAULT:batch_missing (no line at all); with
`line_faults_once` a line faults only the first time its custom_id is submitted. With
`list_batches=False` listing is a 404, as at a provider without it. The next
`lose_create_responses` batch creations make their batch and then answer 500, as a response lost
on the way back would look.
"""

from __future__ import annotations

import argparse
import email.parser
import email.policy
import json
import time
import urllib.parse
import uuid
from collections import Counter
from typing import Any

from harness.testing.openai_server import (
    CANNED_CONTENT,
    FAULT_TOKEN,
    FakeOpenAIServer,
    HttpRequest,
    Response,
    completion_payload,
    error_response,
    json_response,
    last_user_text,
    serve_until_signalled,
)

LINE_FAULTS = ("batch_500", "batch_400", "batch_missing")
CHAT_URL = "/v1/chat/completions"


class FakeBatchServer(FakeOpenAIServer):
    """FakeOpenAIServer plus the files and batches endpoints; its thread, port and chat logic are the parent's."""

    def __init__(self, *, in_progress_polls: int = 0, in_progress_s: float = 0.0, fail_batches: int = 0,
                 expire_batches: int = 0, line_faults_once: bool = False, unknown_line: bool = False,
                 list_batches: bool = True, lose_create_responses: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.in_progress_polls = in_progress_polls
        self.in_progress_s = in_progress_s  # mutable: a test may release held batches
        self.fail_batches = fail_batches
        self.expire_batches = expire_batches
        self.line_faults_once = line_faults_once
        self.unknown_line = unknown_line  # every output file gets one line with a custom_id nobody sent
        self.list_batches = list_batches
        self.lose_create_responses = lose_create_responses  # the next creates make their batch, then answer 500
        self._files: dict[str, bytes] = {}
        self._file_meta: dict[str, dict[str, Any]] = {}
        self._batches: dict[str, dict[str, Any]] = {}
        self._batch_state: dict[str, dict[str, Any]] = {}
        self._seen: Counter[str] = Counter()
        self.batch_log: list[dict[str, Any]] = []  # one entry per batch created: id, input file, custom_ids
        # Every files/batches call: "METHOD /path" and its headers (authorization left out: a secret).
        self.api_calls: list[tuple[str, dict[str, str]]] = []

    @property
    def batch_stats(self) -> dict[str, Any]:
        with self._lock:
            return {"files_created": len(self._files), "batches_created": len(self.batch_log),
                    "lines_per_batch": [len(b["custom_ids"]) for b in self.batch_log],
                    "max_submissions_per_line": max(self._seen.values(), default=0),
                    "statuses": {bid: b["status"] for bid, b in self._batches.items()}}

    def input_files(self) -> dict[str, bytes]:
        """The uploaded batch input files by id, in upload order."""
        with self._lock:
            return {fid: self._files[fid] for fid, meta in self._file_meta.items() if meta["purpose"] == "batch"}

    def batch_lines(self) -> list[dict[str, Any]]:
        """Every request line of every uploaded input file."""
        return [json.loads(line) for content in self.input_files().values() for line in content.splitlines()]

    async def _route(self, request: HttpRequest) -> Response | None:
        path = request.path.rstrip("/")
        if not (path.startswith("/v1/files") or path.startswith("/v1/batches") or path == "/_stats"):
            return await super()._route(request)
        auth_error = self._auth_error(request.headers)
        if auth_error is not None:
            return auth_error
        if path != "/_stats":
            with self._lock:
                self.api_calls.append((f"{request.method} {path}",
                                       {k: v for k, v in request.headers.items() if k != "authorization"}))
        if path == "/_stats":
            return json_response(200, self.batch_stats)
        parts = path.split("/")[2:]  # ["files", id, "content"] / ["batches", id, "cancel"]
        with self._lock:
            if request.method == "POST" and parts == ["files"]:
                return self._upload(request)
            if request.method == "GET" and len(parts) == 2 and parts[0] == "files" and parts[1] in self._file_meta:
                return json_response(200, self._file_meta[parts[1]])
            if request.method == "GET" and len(parts) == 3 and parts[0] == "files" and parts[2] == "content" \
                    and parts[1] in self._files:
                return Response(200, self._files[parts[1]])
            if request.method == "POST" and parts == ["batches"]:
                return self._create(request)
            if request.method == "GET" and parts == ["batches"] and self.list_batches:
                return self._list(urllib.parse.parse_qs(request.query))
            if len(parts) >= 2 and parts[0] == "batches" and parts[1] in self._batches:
                if request.method == "GET" and len(parts) == 2:
                    return json_response(200, self._advance(parts[1]))
                if request.method == "POST" and parts[2:] == ["cancel"]:
                    self._finish(parts[1], "cancelled")
                    return json_response(200, self._batches[parts[1]])
        return error_response(404, f"No such object ({request.method} {request.path})", "invalid_request_error", None)

    def _new_file(self, content: bytes, filename: str, purpose: str) -> str:
        file_id = f"file-{uuid.uuid4().hex[:24]}"
        self._files[file_id] = content
        self._file_meta[file_id] = {"id": file_id, "object": "file", "bytes": len(content),
                                    "created_at": int(time.time()), "filename": filename, "purpose": purpose,
                                    "status": "processed"}
        return file_id

    def _upload(self, request: HttpRequest) -> Response:
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + request.headers.get("content-type", "").encode("latin-1") + b"\r\n\r\n" + request.body)
        fields: dict[str, tuple[str | None, bytes]] = {}
        for part in message.iter_parts() if message.is_multipart() else []:
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if isinstance(name, str) and isinstance(payload, bytes):
                fields[name] = (part.get_filename(), payload)
        if "file" not in fields or fields.get("purpose", (None, b""))[1] != b"batch":
            return error_response(400, "expected multipart fields 'file' and purpose=batch", "invalid_request_error",
                                  None)
        filename, content = fields["file"]
        return json_response(200, self._file_meta[self._new_file(content, filename or "input.jsonl", "batch")])

    def _create(self, request: HttpRequest) -> Response:
        try:
            payload = json.loads(request.body)
            input_file_id = payload["input_file_id"]
            lines = [json.loads(line) for line in self._files[input_file_id].splitlines() if line.strip()]
        except (ValueError, KeyError, TypeError) as exc:
            return error_response(400, f"invalid batch request: {exc!r}", "invalid_request_error", None)
        if payload.get("endpoint") != CHAT_URL or any(line.get("url") != CHAT_URL for line in lines):
            return error_response(400, f"only {CHAT_URL} is served", "invalid_request_error", None)
        batch_id = f"batch_{uuid.uuid4().hex[:24]}"
        custom_ids = [str(line.get("custom_id")) for line in lines]
        self.batch_log.append({"id": batch_id, "input_file_id": input_file_id, "custom_ids": custom_ids})
        fate = "completed"
        if self.fail_batches:
            self.fail_batches, fate = self.fail_batches - 1, "failed"
        elif self.expire_batches:
            self.expire_batches, fate = self.expire_batches - 1, "expired"
        now = int(time.time())
        self._batches[batch_id] = {
            "id": batch_id, "object": "batch", "endpoint": CHAT_URL, "errors": None, "input_file_id": input_file_id,
            "completion_window": payload.get("completion_window", "24h"), "status": "validating",
            "output_file_id": None, "error_file_id": None, "created_at": now, "in_progress_at": None,
            "expires_at": now + 86400, "completed_at": None, "failed_at": None, "expired_at": None,
            "cancelled_at": None, "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
            "metadata": payload.get("metadata")}
        self._batch_state[batch_id] = {"lines": lines, "fate": fate, "polls": 0, "created": time.monotonic()}
        self._seen.update(custom_ids)
        if self.lose_create_responses:
            self.lose_create_responses -= 1
            return error_response(500, "The server had an error while processing your request.", "server_error", None)
        return json_response(200, self._batches[batch_id])

    def _list(self, query: dict[str, list[str]]) -> Response:
        """One page of batches, newest first, after the batch id `after` (OpenAI's cursor paging)."""
        ids = [entry["id"] for entry in reversed(self.batch_log)]
        try:
            limit = int(query.get("limit", ["20"])[0])
        except ValueError:
            limit = 0
        after = query.get("after", [None])[0]
        if not 1 <= limit <= 100 or (after is not None and after not in self._batches):
            return error_response(400, f"invalid list request: limit {query.get('limit')}, after {after!r}",
                                  "invalid_request_error", None)
        start = ids.index(after) + 1 if after is not None else 0
        page = ids[start:start + limit]
        return json_response(200, {"object": "list", "data": [self._batches[batch_id] for batch_id in page],
                                   "first_id": page[0] if page else None, "last_id": page[-1] if page else None,
                                   "has_more": start + limit < len(ids)})

    def _advance(self, batch_id: str) -> dict[str, Any]:
        batch, state = self._batches[batch_id], self._batch_state[batch_id]
        if batch["status"] in ("validating", "in_progress"):
            state["polls"] += 1
            held = state["polls"] <= self.in_progress_polls or time.monotonic() - state["created"] < self.in_progress_s
            if held:
                batch["status"], batch["in_progress_at"] = "in_progress", batch["in_progress_at"] or int(time.time())
            else:
                self._finish(batch_id, state["fate"])
        return batch

    def _finish(self, batch_id: str, status: str) -> None:
        batch, state = self._batches[batch_id], self._batch_state[batch_id]
        lines: list[dict[str, Any]] = state["lines"]
        if status == "failed":
            batch["errors"] = {"object": "list", "data": [{"code": "invalid_request", "message":
                                                           "injected batch failure", "param": None, "line": None}]}
            lines = []
        done = lines if status == "completed" else lines[: len(lines) // 2] if status == "expired" else []
        outputs, errors = [], []
        for line in done:
            kind, out = self._answer(line)
            if kind == "ok":
                outputs.append(out)
            elif kind == "error":
                errors.append(out)
        for line in lines[len(done):] if status == "expired" else []:
            errors.append({"id": f"batch_req_{uuid.uuid4().hex[:16]}", "custom_id": line.get("custom_id"),
                           "response": None, "error": {"code": "batch_expired", "message": "This request could "
                                                       "not be executed before the completion window expired."}})
        if outputs and self.unknown_line:
            outputs.append({**outputs[0], "custom_id": "nobody-sent-this"})
        if outputs:
            batch["output_file_id"] = self._new_file(_jsonl(outputs), f"{batch_id}_output.jsonl", "batch_output")
        if errors:
            batch["error_file_id"] = self._new_file(_jsonl(errors), f"{batch_id}_error.jsonl", "batch_output")
        batch["request_counts"] = {"total": len(state["lines"]), "completed": len(outputs), "failed": len(errors)}
        batch["status"] = status
        batch[{"completed": "completed_at", "failed": "failed_at", "expired": "expired_at",
               "cancelled": "cancelled_at"}[status]] = int(time.time())

    def _answer(self, line: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """('ok' | 'error' | 'missing', the output line) for one request line."""
        body = line.get("body") or {}
        custom_id = str(line.get("custom_id"))
        faults = [f for f in FAULT_TOKEN.findall(last_user_text(body)) if f in LINE_FAULTS or f in CANNED_CONTENT]
        fault = faults[0] if faults else "ok"
        if fault in LINE_FAULTS and self.line_faults_once and self._seen[custom_id] > 1:
            fault = "ok"
        request_id = f"batch_req_{uuid.uuid4().hex[:16]}"
        if fault == "batch_missing":
            return "missing", {}
        if fault in ("batch_500", "batch_400"):
            status = 500 if fault == "batch_500" else 400
            error = {"error": {"message": f"injected {status}", "type": "server_error" if status == 500
                               else "invalid_request_error", "param": None, "code": None}}
            return "error", {"id": request_id, "custom_id": custom_id, "error": None,
                             "response": {"status_code": status, "request_id": request_id, "body": error}}
        content = CANNED_CONTENT[fault] if fault in CANNED_CONTENT else self._responder(body)
        return "ok", {"id": request_id, "custom_id": custom_id, "error": None,
                      "response": {"status_code": 200, "request_id": request_id,
                                   "body": completion_payload(body, content)}}


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(row).encode() + b"\n" for row in rows)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--in-progress-polls", type=int, default=0)
    parser.add_argument("--in-progress-s", type=float, default=0.0)
    parser.add_argument("--fail-batches", type=int, default=0)
    parser.add_argument("--expire-batches", type=int, default=0)
    parser.add_argument("--line-faults-once", action="store_true")
    parser.add_argument("--no-list-batches", dest="list_batches", action="store_false",
                        help="GET /v1/batches is a 404, as at a provider without listing")
    parser.add_argument("--require-api-key", default=None)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return serve_until_signalled(FakeBatchServer(**vars(parse_args(argv))))


if __name__ == "__main__":
    raise SystemExit(main())
