"""The only module that talks to model providers: retries, backoff, cost.

Two transports behind one `LLMClient`, with the same retry and error semantics:

- OpenAI-compatible endpoints (`openai/<model>` with an `api_base`, and the managed local model)
  are called with `openai.AsyncOpenAI` directly, over aiohttp with a connection pool as large as
  the reviewer's concurrency. It costs about a seventh of litellm's CPU per call, which is what
  decides throughput at high concurrency (benchmarks/, figure 2).
- Every other provider goes through litellm.

Transient failures (429, 5xx, timeouts, dropped connections, malformed bodies) are retried with
exponential backoff and jitter, honouring Retry-After. Fatal ones (400, 401, 403, 404) raise a
ProviderError naming the endpoint and the setting to fix. A call that still fails after its
retries comes back as a Completion with `error` set: the reviewer records an abstention.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import sys
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from harness.config import Price
from harness.config.provider_params import EXTRA_BODY, EXTRA_HEADERS, EXTRA_QUERY
from harness.errors import ProviderError
from harness.providers.price_table import token_price

RESPONSE_FORMATS = ("json_schema", "json_object", "none")
MAX_RETRY_AFTER_S = 120.0
OPENAI_PREFIX = "openai/"
_PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy")


@dataclass
class Completion:
    content: str | None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    error: str | None = None
    retries: int = 0
    reasoning: str | None = None  # from the provider's reasoning field; one in the content is split off later
    reasoning_tokens: int = 0  # part of completion_tokens (OpenAI's usage semantics)
    reasoning_cost_usd: float | None = None  # those tokens at the output price (already inside cost_usd)
    finish_reason: str | None = None  # "length": cut off at max_tokens
    logprobs: dict[str, Any] | None = None  # the choice's `logprobs` as sent (reviewers/scores.py reads it)


@dataclass
class Endpoint:
    """Where and how to call a model. `api_key` is held in memory only, never written."""

    model: str
    api_base: str | None = None
    api_key: str | None = None
    api_key_env: str | None = None
    response_format: str = "json_schema"
    free: bool = False  # a local model: cost is known to be zero
    price: Price | None = None  # the reviewer's own price: replaces litellm's table

    @property
    def openai_compatible(self) -> bool:
        """Called with the openai SDK directly rather than through litellm."""
        return self.model.startswith(OPENAI_PREFIX) and bool(self.api_base)


class LLMClient:
    def __init__(self, endpoint: Endpoint, *, timeout_s: float, max_retries: int, temperature: float,
                 max_tokens: int, seed: int | None = None, backoff_s: float = 0.5, concurrency: int = 8,
                 reasoning_effort: str | None = None, params: dict[str, Any] | None = None,
                 top_logprobs: int | None = None) -> None:
        self.endpoint = endpoint
        self.top_logprobs = top_logprobs  # ask for token log-probabilities with this many alternatives
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.seed = seed
        self.backoff_s = backoff_s
        self.concurrency = concurrency
        self.reasoning_effort = reasoning_effort
        self.params: dict[str, Any] = dict(params or {})
        self.response_format = endpoint.response_format
        self.successes = 0
        self.retries = 0
        self.failures: dict[str, int] = {}
        self._sdk: Any = None
        self._sdk_loop: asyncio.AbstractEventLoop | None = None
        self._price_unknown = False
        self._litellm: Any = None
        # The direct path needs litellm for nothing: its price comes from litellm's table, read as a file.
        if not endpoint.openai_compatible:
            import litellm

            litellm.suppress_debug_info = True
            litellm.drop_params = True
            self._litellm = litellm

    async def complete(self, messages: list[dict[str, str]], schema: dict[str, Any], *,
                       prompt: str | None = None) -> Completion:
        """One answer, retried as the module says. `prompt`: a raw prompt for the text-completions
        endpoint instead of the chat messages (the local model's first-token path)."""
        attempt = 0
        while True:
            try:
                response = await (self._call_text(prompt) if prompt is not None else self._call(messages, schema))
            except Exception as err:  # classified below: fatal, downgrade, retry or give up
                status = http_status(err)
                if status == 400 and (self._downgrade_format(err) or self._drop_logprobs(err)):
                    continue
                if status in (400, 401, 403, 404, 422):
                    raise ProviderError(self._fatal_message(status, err)) from None
                kind = _kind(err, status)
                if attempt >= self.max_retries:
                    self.failures[kind] = self.failures.get(kind, 0) + 1
                    if kind == "connection" and self.successes == 0:
                        raise ProviderError(
                            f"cannot reach the model endpoint {self.endpoint.api_base or self.endpoint.model} "
                            f"({self.redact(_describe(err))[:160]}); check 'api_base' and that the server is running.") from None
                    return Completion(content=None, error=f"{kind} after {attempt} retries: "
                                      f"{self.redact(_describe(err))[:200]}", retries=attempt)
                attempt += 1
                self.retries += 1
                await asyncio.sleep(self.retry_delay(attempt, err))
                continue
            self.successes += 1
            response.retries = attempt
            return response

    async def aclose(self) -> None:
        """Close the connection pool of the direct path (it belongs to the running event loop)."""
        sdk, self._sdk, self._sdk_loop = self._sdk, None, None
        if sdk is not None:
            await sdk.close()

    async def _call(self, messages: list[dict[str, str]], schema: dict[str, Any]) -> Completion:
        if self.endpoint.openai_compatible:
            return await self._call_openai(messages, schema)
        return self._completion(await self._call_litellm(messages, schema))

    async def _call_text(self, prompt: str) -> Completion:
        """A text completion of `prompt` (OpenAI-compatible servers only), its tokens' log-probabilities
        in the legacy form ({tokens, token_logprobs, top_logprobs}). Streamed: llama-cpp-python then
        computes log-probabilities for the generated token only; unstreamed, it normalises the logits
        of every prompt token too (about 3 s per item for a 1,000-token prompt on a busy core)."""
        body: dict[str, Any] = {"model": self.endpoint.model.removeprefix(OPENAI_PREFIX), "prompt": prompt,
                                "temperature": self.temperature, "max_tokens": self.max_tokens, "stream": True}
        if self.top_logprobs:
            body["logprobs"] = self.top_logprobs
        if self.seed is not None:
            body["seed"] = self.seed
        sdk = self._openai_client()
        stream = await sdk.completions.create(**body)
        text = ""
        tokens: list[str] = []
        token_logprobs: list[float | None] = []
        top_logprobs: list[dict[str, float] | None] = []
        prompt_tokens = completion_tokens = 0
        async for chunk in stream:
            if chunk.usage is not None:
                prompt_tokens, completion_tokens = int(chunk.usage.prompt_tokens), int(chunk.usage.completion_tokens)
            if not chunk.choices:
                continue
            choice = chunk.choices[0]
            text += choice.text or ""
            if choice.logprobs is not None:
                tokens += choice.logprobs.tokens or []
                token_logprobs += choice.logprobs.token_logprobs or []
                top_logprobs += choice.logprobs.top_logprobs or []
        logprobs = {"tokens": tokens, "token_logprobs": token_logprobs, "top_logprobs": top_logprobs} if tokens else None
        completion = Completion(content=text, prompt_tokens=prompt_tokens,
                                completion_tokens=completion_tokens or len(tokens), logprobs=logprobs)
        completion.cost_usd = self._cost(completion.prompt_tokens, completion.completion_tokens, 0)
        return completion

    def _response_format(self, schema: dict[str, Any]) -> dict[str, Any] | None:
        if self.response_format == "json_schema":
            return {"type": "json_schema", "json_schema": {"name": "verdict", "schema": schema, "strict": True}}
        if self.response_format == "json_object":
            # llama-cpp-python's server takes the schema inside a json_object request.
            return {"type": "json_object", "schema": schema}
        return None

    async def _call_openai(self, messages: list[dict[str, str]], schema: dict[str, Any]) -> Completion:
        body, options = self.chat_request(messages, schema, self.endpoint.model.removeprefix(OPENAI_PREFIX))
        # A plain POST: the SDK's typed create() re-walks every message against its TypedDicts and
        # builds pydantic models of the answer, which is most of its CPU per call. Status errors,
        # auth headers and timeouts are still the SDK's.
        raw = await self._openai_client().post("/chat/completions", body=body, cast_to=bytes, options=options)
        try:
            data = json.loads(raw)
        except ValueError as err:
            raise MalformedResponse(f"malformed response body ({first_line(err)}): {raw[:120]!r}") from None
        return self.parse_chat_completion(data)

    def chat_request(self, messages: list[dict[str, str]], schema: dict[str, Any],
                     model: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The chat-completions body as sent (online, or as a batch line), and the request options
        (headers, query) that travel beside it."""
        body: dict[str, Any] = {"model": model, "messages": messages,
                                "temperature": self.temperature, "max_tokens": self.max_tokens}
        if self.seed is not None:
            body["seed"] = self.seed
        if self.reasoning_effort is not None:
            body["reasoning_effort"] = self.reasoning_effort  # vLLM, Ollama and OpenAI read it as it is
        if self.top_logprobs:
            body["logprobs"] = True
            body["top_logprobs"] = self.top_logprobs
        response_format = self._response_format(schema)
        if response_format is not None:
            body["response_format"] = response_format
        # As the SDK's create() does: extra_body merges into the body, the other extras are request options.
        params = dict(self.params)
        body.update(params.pop(EXTRA_BODY, None) or {})
        options: dict[str, Any] = {}
        if headers := params.pop(EXTRA_HEADERS, None):
            options["headers"] = {str(k): str(v) for k, v in headers.items()}
        if query := params.pop(EXTRA_QUERY, None):
            options["params"] = query
        body.update(params)
        return body, options

    def parse_chat_completion(self, data: Any, *, price_factor: float = 1.0) -> Completion:
        """A chat-completion JSON object as a Completion, its cost at the price x `price_factor`
        (a batch's discount); MalformedResponse when it is not one."""
        try:
            choice = data["choices"][0]
            message = choice["message"]
            content = message.get("content")
            # vLLM and Ollama put it in `reasoning` (older vLLM: `reasoning_content`); DeepSeek in `reasoning_content`.
            reasoning = message.get("reasoning_content") or message.get("reasoning")
            finish_reason = choice.get("finish_reason")
            logprobs = choice.get("logprobs")
            usage = data.get("usage") or {}
            prompt_tokens = int(usage.get("prompt_tokens") or 0)
            completion_tokens = int(usage.get("completion_tokens") or 0)
            cached = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
            reasoning_tokens = int((usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0)
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as err:
            raise MalformedResponse(f"malformed response body ({first_line(err)}): {str(data)[:120]!r}") from None
        if isinstance(content, str):  # as in _completion: a JSON-escaped lone surrogate is not text
            content = content.encode("utf-8", "replace").decode("utf-8")
        cost = self._cost(prompt_tokens, completion_tokens, cached)
        reasoning_cost = self._reasoning_cost(reasoning_tokens, cost)
        if price_factor != 1.0:
            cost = None if cost is None else cost * price_factor
            reasoning_cost = None if reasoning_cost is None else reasoning_cost * price_factor
        return Completion(content=content, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                          cost_usd=cost, reasoning=_text(reasoning), reasoning_tokens=reasoning_tokens,
                          reasoning_cost_usd=reasoning_cost,
                          finish_reason=finish_reason if isinstance(finish_reason, str) else None,
                          logprobs=logprobs if isinstance(logprobs, dict) else None)

    def _openai_client(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._sdk is None or self._sdk_loop is not loop:  # a pool cannot outlive its event loop
            import openai

            self._sdk = openai.AsyncOpenAI(base_url=self.endpoint.api_base, api_key=self.endpoint.api_key or "sk-no-key",
                                           max_retries=0, timeout=self.timeout_s,
                                           http_client=_http_client(openai, self.concurrency))
            self._sdk_loop = loop
        return self._sdk

    def _cost(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int) -> float | None:
        if self.endpoint.free:
            return 0.0
        if self.endpoint.price is not None:
            return self.endpoint.price.cost(prompt_tokens, completion_tokens)
        if self._litellm is None:
            price = token_price(self.endpoint.model)
            return None if price is None else price.cost(prompt_tokens, completion_tokens, cached_tokens)
        if self._price_unknown:
            return None
        try:
            prompt_cost, completion_cost = self._litellm.cost_per_token(
                model=self.endpoint.model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                cache_read_input_tokens=cached_tokens)
        except Exception:  # unknown price: reported as unknown, never as zero (and not looked up again)
            self._price_unknown = True
            return None
        return float(prompt_cost + completion_cost)

    def _reasoning_cost(self, reasoning_tokens: int, cost: float | None) -> float | None:
        """What the reasoning tokens cost at the output price (they are billed as completion tokens)."""
        if cost is None:
            return None
        return self._cost(0, reasoning_tokens, 0) if reasoning_tokens else 0.0

    async def _call_litellm(self, messages: list[dict[str, str]], schema: dict[str, Any]) -> Any:
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
        if self.reasoning_effort is not None:
            kwargs["reasoning_effort"] = self.reasoning_effort  # litellm maps it per provider (thinking budgets)
        if self.top_logprobs:
            kwargs["logprobs"] = True
            kwargs["top_logprobs"] = self.top_logprobs
        response_format = self._response_format(schema)
        if response_format is not None:
            kwargs["response_format"] = response_format
        kwargs.update(self.params)  # litellm takes extra_body, extra_headers and provider settings as they are
        return await self._litellm.acompletion(**kwargs)

    def _completion(self, response: Any) -> Completion:
        choice = response.choices[0]
        content = getattr(choice.message, "content", None)
        if isinstance(content, str):  # a JSON-escaped lone surrogate is not text: SQLite and Parquet refuse it
            content = content.encode("utf-8", "replace").decode("utf-8")
        usage = getattr(response, "usage", None)
        prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        details = getattr(usage, "completion_tokens_details", None)
        reasoning_tokens = int(getattr(details, "reasoning_tokens", 0) or 0)
        cost: float | None = 0.0
        if self.endpoint.price is not None:
            cost = self.endpoint.price.cost(prompt_tokens, completion_tokens)
        elif not self.endpoint.free:
            try:
                cost = float(self._litellm.completion_cost(completion_response=response))
            except Exception:  # unknown price: reported as unknown, never as zero
                cost = None
        finish_reason = getattr(choice, "finish_reason", None)
        logprobs = getattr(choice, "logprobs", None)
        if logprobs is not None and hasattr(logprobs, "model_dump"):
            logprobs = logprobs.model_dump()
        return Completion(content=content, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                          cost_usd=cost, reasoning=_text(getattr(choice.message, "reasoning_content", None)),
                          reasoning_tokens=reasoning_tokens, reasoning_cost_usd=self._reasoning_cost(reasoning_tokens, cost),
                          finish_reason=finish_reason if isinstance(finish_reason, str) else None,
                          logprobs=logprobs if isinstance(logprobs, dict) else None)

    def _downgrade_format(self, err: Exception) -> bool:
        """A server that rejects our response_format gets the next simpler one (remembered)."""
        text = str(err).lower()
        if self.response_format == "none" or not any(w in text for w in ("response_format", "json", "schema")):
            return False
        self.response_format = RESPONSE_FORMATS[RESPONSE_FORMATS.index(self.response_format) + 1]
        return True

    def _drop_logprobs(self, err: Exception) -> bool:
        """A server that rejects the log-probability request is asked again without it (remembered);
        the reviewer then scores by stated confidence."""
        if not self.top_logprobs or "logprob" not in str(err).lower():
            return False
        self.top_logprobs = None
        return True

    def retry_delay(self, attempt: int, err: Exception) -> float:
        """Backoff before retry `attempt`: Retry-After when the provider sent one, else exponential with jitter."""
        retry_after = _retry_after(err)
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER_S) + random.uniform(0, 0.1)
        return min(30.0, self.backoff_s * 2.0 ** (attempt - 1)) * random.uniform(0.5, 1.5)

    def _fatal_message(self, status: int, err: Exception) -> str:
        where = self.endpoint.api_base or f"the provider of '{self.endpoint.model}'"
        detail = self.redact(first_line(err))[:200]
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


def estimate_cost(model: str, prompt_tokens: int, completion_tokens: int, price: Price | None = None) -> float | None:
    """Upper-bound cost from the reviewer's `price`, else litellm's price table; None when the price is unknown."""
    if price is not None:
        return price.cost(prompt_tokens, completion_tokens)
    import litellm

    try:
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
    except Exception:  # litellm raises for models missing from its price table
        return None
    return float(prompt_cost + completion_cost)


def _text(value: Any) -> str | None:
    """Model text as storable text: a JSON-escaped lone surrogate is not text (SQLite and Parquet refuse it)."""
    if not isinstance(value, str) or not value:
        return None
    return value.encode("utf-8", "replace").decode("utf-8")


def http_status(err: Exception) -> int | None:
    """The HTTP status an SDK error carries (openai's and litellm's spell it differently), if any."""
    for attr in ("status_code", "status"):
        value = getattr(err, attr, None)
        if isinstance(value, int):
            return value
    response = getattr(err, "response", None)
    value = getattr(response, "status_code", None)
    return value if isinstance(value, int) else None


def _kind(err: Exception, status: int | None) -> str:
    if isinstance(err, MalformedResponse):
        return "malformed_response"
    direct = _openai_connection_kind(err)
    if direct is not None:
        return direct
    litellm = sys.modules.get("litellm")  # only loaded when the litellm path (or its prices) is used
    if isinstance(err, asyncio.TimeoutError) or (litellm is not None and isinstance(err, litellm.Timeout)):
        return "timeout"
    if status == 429 or (litellm is not None and isinstance(err, litellm.RateLimitError)):
        return "rate_limited"
    # litellm reports a refused or dropped connection as APIConnectionError or as a 500
    # InternalServerError saying "Connection error."; neither carries an HTTP response.
    if status in (None, 500) and _looks_like_connection(err) and getattr(getattr(err, "response", None), "status_code", None) in (None, 500):
        return "connection"
    if status is not None and status >= 500:
        return f"server_error_{status}"
    return "provider_error"


def _openai_connection_kind(err: Exception) -> str | None:
    """'timeout' or 'connection' for the openai SDK's own connection errors (not litellm's subclasses).

    The aiohttp transport reports every aiohttp connection error (refused, dropped) as a connect
    timeout, so the cause chain decides: a real timeout underneath is a TimeoutError."""
    openai = sys.modules.get("openai")
    if openai is None or not isinstance(err, openai.APIConnectionError) or not type(err).__module__.startswith("openai"):
        return None
    causes = _causes(err)[1:]
    if any(isinstance(cause, TimeoutError) for cause in causes):
        return "timeout"
    aiohttp = sys.modules.get("aiohttp")
    dropped = aiohttp is not None and any(isinstance(cause, aiohttp.ClientConnectionError) for cause in causes)
    return "timeout" if isinstance(err, openai.APITimeoutError) and not dropped else "connection"


def _causes(err: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = err
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return chain


def _describe(err: Exception) -> str:
    """The error's first line, and its root cause when that says more ('Connection error.' alone does not)."""
    root = _causes(err)[-1]
    # aiohttp's dropped and refused connections arrive as "Request timed out."; say what happened.
    text = "Connection error." if _openai_connection_kind(err) == "connection" else first_line(err)
    return text if root is err else f"{text} ({first_line(root)})"


def _http_client(openai: Any, concurrency: int) -> Any:
    """A pool as large as the concurrency. aiohttp costs about half of httpx's CPU per request at
    64+ concurrent connections; httpx is kept when a proxy is configured (it honours the proxy
    variables), or when aiohttp is missing."""
    base = next(c for c in openai.DefaultAsyncHttpxClient.__mro__ if c.__name__ == "AsyncClient")
    httpx = sys.modules[base.__module__.split(".")[0]]  # httpx or httpx2, whichever this SDK uses
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    if not any(os.environ.get(name) for name in _PROXY_VARIABLES):
        try:
            return openai.DefaultAioHttpClient(limits=limits)
        except (AttributeError, RuntimeError):  # an SDK without it, or aiohttp not installed
            pass
    return openai.DefaultAsyncHttpxClient(limits=limits)


class MalformedResponse(Exception):
    """A 200 whose body is not a chat completion: retried like a server error."""


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


def first_line(err: BaseException) -> str:
    """An error's message on one line, or its type's name when it has none."""
    text = re.sub(r"\s+", " ", str(err)).strip()
    return text or type(err).__name__
