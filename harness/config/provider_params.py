"""An LLM reviewer's `params:`: provider settings passed through to the call, never secrets.

They are written to record.json, MLflow and the cache key, so anything that looks like a
credential is refused: a key named like one (api_key, authorization, token, ...), or a value
shaped like one (sk-..., "Bearer ...", a long random-looking string)."""

from __future__ import annotations

import math
import re
from collections import Counter

from pydantic import JsonValue

# Settings the reviewer has its own key for: one place to set them, one value in the cache key.
FIRST_CLASS = {"temperature": "temperature", "max_tokens": "max_tokens", "max_completion_tokens": "max_tokens",
               "seed": "seed", "response_format": "response_format", "reasoning_effort": "reasoning_effort",
               "timeout": "timeout_s", "api_base": "api_base", "base_url": "api_base"}
# What the harness itself decides for every call.
OWNED = ("model", "messages", "stream", "n", "num_retries", "max_retries")
# Passed to the openai SDK as request options rather than in the JSON body (litellm takes them as they are).
EXTRA_BODY, EXTRA_HEADERS, EXTRA_QUERY = "extra_body", "extra_headers", "extra_query"

_SECRET_KEY = re.compile(r"(^|_)(api_?key|apikey|authorization|auth|token|access_token|secret|client_secret|"
                         r"password|passwd|bearer|credentials?|cookie|session_?id)$")
_SECRET_VALUE = re.compile(r"(\bsk-[A-Za-z0-9_\-]{12,}|\bBearer\s+\S{8,}|\bBasic\s+[A-Za-z0-9+/=]{12,}|"
                           r"\b(?:ghp|gho|github_pat|xox[abp]|AKIA|AIza|hf)_?[A-Za-z0-9_\-]{16,})")
_RANDOM_LOOKING = re.compile(r"[A-Za-z0-9+/=_\-.]{32,}")
MIN_SECRET_ENTROPY_BITS = 4.0  # per character; English words and hex digests stay below it


def check_params(params: dict[str, JsonValue]) -> None:
    """Raise ValueError (one sentence, with the fix) for a setting that cannot go in `params`."""
    for key in params:
        if key in FIRST_CLASS:
            raise ValueError(f"'{key}' has its own reviewer setting; set '{FIRST_CLASS[key]}' on the reviewer "
                             "instead of in params")
        if key in OWNED:
            raise ValueError(f"'{key}' is set by the harness for every call and cannot be given in params; "
                             "remove it")
    for path, name, value in _walk(params, "params"):
        if name is not None and _SECRET_KEY.search(_normal(name)):
            raise ValueError(f"'{path}' looks like a credential, and params are written to the run record and "
                             "MLflow; put the key in an environment variable and name it with 'api_key_env'")
        if isinstance(value, str) and looks_like_secret(value):
            raise ValueError(f"the value of '{path}' looks like a secret key, and params are written to the run "
                             "record and MLflow; put the key in an environment variable and name it with "
                             "'api_key_env'")


def looks_like_secret(text: str) -> bool:
    if _SECRET_VALUE.search(text):
        return True
    return any(_entropy(m.group(0)) >= MIN_SECRET_ENTROPY_BITS and _mixed(m.group(0))
               for m in _RANDOM_LOOKING.finditer(text))


def _walk(value: JsonValue, path: str, key: str | None = None) -> list[tuple[str, str | None, JsonValue]]:
    found: list[tuple[str, str | None, JsonValue]] = [(path, key, value)]
    if isinstance(value, dict):
        for name, inner in value.items():
            found += _walk(inner, f"{path}.{name}", str(name))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += _walk(inner, f"{path}[{index}]")
    return found


def _normal(key: str) -> str:
    """'X-Api-Key', 'apiKey' and 'api-key' all read as 'x_api_key' / 'api_key'."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key)
    return re.sub(r"[^a-z0-9]+", "_", spaced.lower()).strip("_")


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _mixed(text: str) -> bool:
    """Keys mix digits with letters of both cases; a long word or path does not."""
    return any(c.isdigit() for c in text) and any(c.islower() for c in text) and any(c.isupper() for c in text)
