"""The JSONL of a provider batch: request lines in, files under the provider's limits, output lines read back."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

CHAT_URL = "/v1/chat/completions"
# HTTP statuses and error codes worth one resubmission: the request itself was fine.
TRANSIENT_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
TRANSIENT_CODES = frozenset({"rate_limit_exceeded", "server_error", "internal_error", "timeout",
                             "service_unavailable"})
# What a batch that expired or was cancelled writes for the lines it never ran.
UNFINISHED_CODES = frozenset({"batch_expired", "batch_cancelled"})

log = logging.getLogger(__name__)


def request_line(custom_id: str, body: dict[str, Any]) -> bytes:
    """One batch request: the chat-completions body exactly as the online path sends it."""
    line = {"custom_id": custom_id, "method": "POST", "url": CHAT_URL, "body": body}
    return json.dumps(line, ensure_ascii=False).encode("utf-8") + b"\n"


def split_lines(lines: list[tuple[str, bytes]], max_lines: int,
                max_bytes: int) -> tuple[list[list[tuple[str, bytes]]], list[tuple[str, int]]]:
    """Files of at most `max_lines` lines and `max_bytes` bytes, in order; and the (custom_id, size) of
    lines too large for any file."""
    files: list[list[tuple[str, bytes]]] = []
    oversized: list[tuple[str, int]] = []
    current: list[tuple[str, bytes]] = []
    size = 0
    for custom_id, line in lines:
        if len(line) > max_bytes:
            oversized.append((custom_id, len(line)))
            continue
        if current and (len(current) >= max_lines or size + len(line) > max_bytes):
            files.append(current)
            current, size = [], 0
        current.append((custom_id, line))
        size += len(line)
    if current:
        files.append(current)
    return files, oversized


@dataclass(frozen=True)
class OutputLine:
    """One line of a batch's output or error file. `body` is the chat completion when `status` is 200."""

    custom_id: str
    status: int | None
    body: Any = None
    error: str | None = None  # why the line has no answer
    code: str | None = None

    @property
    def answered(self) -> bool:
        return self.status == 200 and self.error is None

    @property
    def unfinished(self) -> bool:
        """Never run: the batch expired or was cancelled before this line."""
        return self.code in UNFINISHED_CODES

    @property
    def transient(self) -> bool:
        return self.status in TRANSIENT_STATUS or self.code in TRANSIENT_CODES


def read_output_lines(content: bytes, file_id: str) -> list[OutputLine]:
    """The lines of an output or error file; a line that is not one is skipped with a warning
    (its request then counts as missing from the batch)."""
    out = []
    for number, raw in enumerate(content.splitlines(), 1):
        if not raw.strip():
            continue
        line = _output_line(raw)
        if line is None:
            log.warning("batch file %s line %d is not a batch output line; skipped: %r", file_id, number, raw[:120])
            continue
        out.append(line)
    return out


def _output_line(raw: bytes) -> OutputLine | None:
    try:
        data = json.loads(raw)
        custom_id = data["custom_id"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(custom_id, str):
        return None
    error = data.get("error")
    if isinstance(error, dict):  # the provider never ran it (expired, cancelled) or refused it outright
        code = error.get("code")
        return OutputLine(custom_id, None, error=str(error.get("message") or code or "batch line error"),
                          code=str(code) if code else None)
    response = data.get("response")
    if not isinstance(response, dict):
        return OutputLine(custom_id, None, error="batch line without a response")
    status = response.get("status_code")
    status = status if isinstance(status, int) else None
    body = response.get("body")
    if status == 200:
        return OutputLine(custom_id, 200, body=body)
    detail = body.get("error") if isinstance(body, dict) else None
    message = detail.get("message") if isinstance(detail, dict) else None
    code = detail.get("code") if isinstance(detail, dict) else None
    return OutputLine(custom_id, status, error=f"batch line error {status}: {message or 'no message'}"[:300],
                      code=str(code) if code else None)
