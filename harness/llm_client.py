"""The only module that talks to model providers (through litellm): retries, backoff, cost.

Transient failures (429, 5xx, timeouts, dropped connections) are retried with exponential
backoff and jitter, honouring Retry-After. Fatal ones (400, 401, 403, 404) raise a
ProviderError naming the endpoint and the setting to fix. A call that still fails after its
retries comes back as a Completion with `error` set: the reviewer records an abstention.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from harness.errors import ProviderError  # noqa: E402

RESPONSE_FORMATS = ("json_schema", "json_object", "none")
MAX_RETRY_AFTER_S = 120.0


@dataclass
class Completion:
    content: str | None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    error: str | None = None
    retries: int = 0


@dataclass
class Endpoint:
    """Where and how to call a model. `api_key` is held in memory only, never written."""

    model: str
    api_base: str | None = None
    api_key: str | None = None
    api_key_env: str | None = None
    response_format: str = "json_schema"
    free: bool = False  # a local model: cost is known to be zero


class LLMClient:
    def __init__(self, endpoint: Endpoint, *, timeout_s: float, max_retries: int, temperature: float,
                 max_tokens: int, seed: int | None = None, backoff_s: float = 0.5) -> None:
        self.endpoint = endpoint
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.seed = seed
        self.backoff_s = backoff_s
        self.response_format = endpoint.response_format
        self.successes = 0
        self.retries = 0
        self.failures: dict[str, int] = {}
        import litellm

        litellm.suppress_debug_info = True
        litellm.drop_params = True
        self._litellm = litellm

    async def complete(self, messages: list[dict[str, str]], schema: dict[str, Any]) -> Completion:
        attempt = 0
        while True:
            try:
                response = await self._call(messages, schema)
            except Exception as err:  # classified below: fatal, downgrade, retry or give up
                status = _status(err)
                if status == 400 and self._downgrade_format(err):
                    continue
                if status in (400, 401, 403, 404, 422):
                    raise ProviderError(self._fatal_message(status, err)) from None
                kind = _kind(err, status)
                if attempt >= self.max_retries:
                    self.failures[kind] = self.failures.get(kind, 0) + 1
                    if kind == "connection" and self.successes == 0:
                        raise ProviderError(
                            f"cannot reach the model endpoint {self.endpoint.api_base or self.endpoint.model} "
                            f"({self.redact(str(err))[:160]}); check 'api_base' and that the server is running.") from None
                    return Completion(content=None, error=f"{kind} after {attempt} retries: "
                                      f"{self.redact(_first_line(err))[:200]}", retries=attempt)
                attempt += 1
                self.retries += 1
                await asyncio.sleep(self._delay(attempt, err))
                continue
            self.successes += 1
            return self._completion(response, attempt)

    async def _call(self, messages: list[dict[str, str]], schema: dict[str, Any]) -> Any:
        kwargs: dict[str, Any] = {
            "model": self.endpoint.model, "messages": messages, "temperature": self.temperature,
            "max_tokens": self.max_tokens, "timeout": self.timeout_s, "num_retries": 0,
        }
        if self.endpoint.api_base:
            kwargs["api_base"] = self.endpoint.api_base
        if self.endpoint.api_key:
            kwargs["api_key"] = self.endpoint.api_key
        if self.seed is not None:
            kwargs["seed"] = self.seed
        if self.response_format == "json_schema":
            kwargs["response_format"] = {"type": "json_schema",
                                         "json_schema": {"name": "verdict", "schema": schema, "strict": True}}
        elif self.response_format == "json_object":
            # llama-cpp-python's server takes the schema inside a json_object request.
            kwargs["response_format"] = {"type": "json_object", "schema": schema}
        return await self._litellm.acompletion(**kwargs)

    def _completion(self, response: Any, retries: int) -> Completion:
        choice = response.choices[0]
        content = getattr(choice.message, "content", None)
        usage = getattr(response, "usage", None)
        cost: float | None = 0.0
        if not self.endpoint.free:
            try:
                cost = float(self._litellm.completion_cost(completion_response=response))
            except Exception:  # unknown price: reported as unknown, never as zero
                cost = None
        return Completion(content=content, prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
                          completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
                          cost_usd=cost, retries=retries)

    def _downgrade_format(self, err: Exception) -> bool:
        """A server that rejects our response_format gets the next simpler one (remembered)."""
        text = str(err).lower()
        if self.response_format == "none" or not any(w in text for w in ("response_format", "json", "schema")):
            return False
        self.response_format = RESPONSE_FORMATS[RESPONSE_FORMATS.index(self.response_format) + 1]
        return True

    def _delay(self, attempt: int, err: Exception) -> float:
        retry_after = _retry_after(err)
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER_S) + random.uniform(0, 0.1)
        return min(30.0, self.backoff_s * 2 ** (attempt - 1)) * random.uniform(0.5, 1.5)

    def _fatal_message(self, status: int, err: Exception) -> str:
        where = self.endpoint.api_base or f"the provider of '{self.endpoint.model}'"
        detail = self.redact(_first_line(err))[:200]
        if status in (401, 403):
            var = self.endpoint.api_key_env
            fix = f"set the environment variable {var} to a valid key" if var else "set 'api_key_env' to the name of the variable holding the key"
            return f"{where} rejected the API key ({status}); {fix}."
        if status == 404:
            return f"{where} does not serve model '{self.endpoint.model}' (404: {detail}); check 'model' and 'api_base'."
        return f"{where} rejected the request ({status}: {detail}); check the reviewer's settings."

    def redact(self, text: str) -> str:
        key = self.endpoint.api_key
        return text.replace(key, "***") if key else text


def count_tokens(model: str, messages: list[dict[str, str]]) -> int:
    import litellm

    return int(litellm.token_counter(model=model, messages=messages))


def estimate_cost(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """Upper-bound cost from litellm's price table; None when the price is unknown."""
    import litellm

    try:
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
    except Exception:  # litellm raises for models missing from its price table
        return None
    return float(prompt_cost + completion_cost)


def _status(err: Exception) -> int | None:
    for attr in ("status_code", "status"):
        value = getattr(err, attr, None)
        if isinstance(value, int):
            return value
    response = getattr(err, "response", None)
    value = getattr(response, "status_code", None)
    return value if isinstance(value, int) else None


def _kind(err: Exception, status: int | None) -> str:
    import litellm

    if isinstance(err, litellm.Timeout) or isinstance(err, asyncio.TimeoutError):
        return "timeout"
    if isinstance(err, litellm.RateLimitError) or status == 429:
        return "rate_limited"
    # litellm reports a refused or dropped connection as APIConnectionError or as a 500
    # InternalServerError saying "Connection error."; neither carries an HTTP response.
    if status in (None, 500) and _looks_like_connection(err) and getattr(getattr(err, "response", None), "status_code", None) in (None, 500):
        return "connection"
    if status is not None and status >= 500:
        return f"server_error_{status}"
    return "provider_error"


def _looks_like_connection(err: Exception) -> bool:
    text = str(err).lower()
    return any(w in text for w in ("connect", "connection", "disconnected", "reset by peer", "eof", "closed"))


def _retry_after(err: Exception) -> float | None:
    headers: Any = getattr(err, "headers", None) or getattr(err, "litellm_response_headers", None)
    if not headers:
        headers = getattr(getattr(err, "response", None), "headers", None)
    if not headers:
        return None
    value = None
    for name in ("retry-after", "Retry-After"):
        try:
            value = headers.get(name)
        except AttributeError:
            return None
        if value:
            break
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _first_line(err: Exception) -> str:
    text = re.sub(r"\s+", " ", str(err)).strip()
    return text or type(err).__name__
