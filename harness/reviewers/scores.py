"""P(violation) read from an answer's token log-probabilities, at the token that decides it.

Three answer layouts are read:

- the JSON verdict (`{"violation": true, ...}`): the token where the value of the last `"violation"`
  key starts (`t`rue or `f`alse);
- guard models whose answer starts `safe` / `unsafe` (Llama Guard): the answer's first token;
- guard models whose answer starts `Yes` / `No` (ShieldGemma): the answer's first token.

At that token the alternatives the provider listed (`top_logprobs`) are sorted into the two outcomes
and the probability is renormalised over them, so mass on unrelated tokens (a quote, a space) does
not dilute it. An outcome missing from the listed alternatives gets the smallest listed probability
(an upper bound on what it had): the score stays ordered rather than snapping to 0 or 1."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

TOP_LOGPROBS = 10  # alternatives asked for at each token: enough to see both outcomes
_VIOLATION_KEY = re.compile(r'"(?:violation|violates)"\s*:\s*"?', re.IGNORECASE)
_LEADING = " \t\n\r\"':{"


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token, its log-probability, and the alternatives listed at its position."""

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


def chat_logprobs(raw: Any) -> list[TokenLogprob] | None:
    """The tokens of a chat completion's `choices[0].logprobs` (`{"content": [{token, logprob,
    top_logprobs}]}`), or of a legacy completion's (`{tokens, token_logprobs, top_logprobs}`); None
    when the provider sent none."""
    if not isinstance(raw, dict):
        return None
    content = raw.get("content")
    if isinstance(content, list):
        out = []
        for entry in content:
            if not isinstance(entry, dict) or not isinstance(entry.get("token"), str):
                return None
            top = tuple((str(alt["token"]), float(alt["logprob"])) for alt in entry.get("top_logprobs") or []
                        if isinstance(alt, dict) and "token" in alt and _finite(alt.get("logprob")))
            out.append(TokenLogprob(entry["token"], _logprob(entry.get("logprob")), top))
        return out or None
    tokens, logprobs, tops = raw.get("tokens"), raw.get("token_logprobs"), raw.get("top_logprobs")
    if not isinstance(tokens, list) or not isinstance(logprobs, list) or not tokens:
        return None
    tops = tops if isinstance(tops, list) else [None] * len(tokens)
    return [TokenLogprob(str(token), _logprob(lp),
                         tuple((str(k), float(v)) for k, v in (top or {}).items() if _finite(v)))
            for token, lp, top in zip(tokens, logprobs, tops, strict=False)]


def violation_probability(tokens: Sequence[TokenLogprob] | None, *, prefix: str = "") -> float | None:
    """P(violation) at the decision token of the answer these tokens spell, renormalised over the
    two outcomes; None when no decision token is found or no alternative names an outcome.
    `prefix`: text the answer was forced to start with (a `{"violation": ` the prompt ended in)."""
    if not tokens:
        return None
    text = prefix + "".join(t.token for t in tokens)
    starts = _token_starts(tokens, len(prefix))
    head = text.lstrip(_LEADING).lower()
    if head.startswith(("safe", "unsafe")):
        return _at(tokens[_first_word(tokens)], _guard_outcome)
    if head.startswith(("yes", "no")):
        return _at(tokens[_first_word(tokens)], _yes_no_outcome)
    keys = list(_VIOLATION_KEY.finditer(text))
    if not keys:
        return None
    value_at = keys[-1].end()
    index = next((i for i in range(len(tokens) - 1, -1, -1) if starts[i] <= value_at), None)
    if index is None or starts[index] + len(tokens[index].token) <= value_at:
        return None
    return _at(tokens[index], _boolean_outcome)


def confidence_probability(violation: bool, confidence: float | None) -> float | None:
    """The model's stated confidence in its own answer as P(violation)."""
    if confidence is None:
        return None
    return confidence if violation else 1.0 - confidence


def _token_starts(tokens: Sequence[TokenLogprob], offset: int) -> list[int]:
    starts, at = [], offset
    for token in tokens:
        starts.append(at)
        at += len(token.token)
    return starts


def _first_word(tokens: Sequence[TokenLogprob]) -> int:
    return next((i for i, t in enumerate(tokens) if t.token.strip(_LEADING)), 0)


def _at(token: TokenLogprob, outcome: Any) -> float | None:
    """Renormalised P(violation) over the alternatives at one token (the chosen one included)."""
    listed = dict(token.top)
    listed.setdefault(token.token, token.logprob)
    mass = {True: 0.0, False: 0.0}
    for text, logprob in listed.items():
        side = outcome(text.strip(_LEADING).lower())
        if side is not None:
            mass[side] += math.exp(logprob)
    if mass[True] == 0.0 and mass[False] == 0.0:
        return None
    floor = min(math.exp(lp) for lp in listed.values())
    for side in (True, False):
        if mass[side] == 0.0:
            mass[side] = min(floor, max(0.0, 1.0 - sum(math.exp(lp) for lp in listed.values()))) or floor
    return mass[True] / (mass[True] + mass[False])


def _boolean_outcome(word: str) -> bool | None:
    if not word:
        return None
    if "true".startswith(word[:4]) or word.startswith("true"):
        return True
    if "false".startswith(word[:5]) or word.startswith("false"):
        return False
    return None


def _guard_outcome(word: str) -> bool | None:
    if word.startswith("un") and ("unsafe".startswith(word) or word.startswith("unsafe")):
        return True
    if word and ("safe".startswith(word) or word.startswith("safe")):
        return False
    return None


def _yes_no_outcome(word: str) -> bool | None:
    if word.startswith("yes") or word in ("y", "ye"):
        return True
    if word.startswith("no") or word == "n":
        return False
    return None


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _logprob(value: Any) -> float:
    # A provider may send -inf or null for a token it was forced to emit: probability zero.
    return float(value) if _finite(value) else -1e9
