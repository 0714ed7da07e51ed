"""Turn a model's answer into a verdict; anything unusable is an abstention with its reason."""

from __future__ import annotations

import json
import re
from typing import Any

from harness.policy import Policy
from harness.verdicts import ACTIONED, ALLOWED, Verdict

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_REFUSAL = re.compile(r"\b(I(?:'m| am) sorry|I can(?:'|no)t (?:help|assist|comply)|I (?:won't|will not) "
                      r"(?:help|assist)|as an AI)\b", re.IGNORECASE)
_TRUE = {"true", "yes", "violates", "violation", "1"}
_FALSE = {"false", "no", "allowed", "allow", "0", "none"}


def verdict_schema(policy: Policy) -> dict[str, Any]:
    """The JSON schema sent as response_format; enums keep cited ids inside the policy."""
    return {
        "type": "object",
        "properties": {
            "violation": {"type": "boolean"},
            "categories": {"type": "array", "items": {"type": "string", "enum": policy.category_ids}},
            "rule_ids": {"type": "array", "items": {"type": "string", "enum": policy.rule_ids or ["none"]}},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "rationale": {"type": "string"},
        },
        "required": ["violation", "categories", "rule_ids", "confidence", "rationale"],
        "additionalProperties": False,
    }


def parse_verdict(content: str | None, policy: Policy, item_id: str, sample: int = 0) -> Verdict:
    if content is None or not content.strip():
        return Verdict.abstain(item_id, "empty answer", sample)
    answer = _json_object(content)
    if answer is None:
        reason = "refusal" if _REFUSAL.search(content) else "unparseable answer"
        return Verdict.abstain(item_id, f"{reason}: {_clip(content)}", sample)
    violation = _boolean(answer.get("violation", answer.get("violates")))
    if violation is None:
        return Verdict.abstain(item_id, f"answer has no true/false 'violation': {_clip(content)}", sample)
    categories, unknown_categories = _split_known(answer.get("categories"), policy.category_ids)
    rule_ids, unknown_rules = _split_known(answer.get("rule_ids"), policy.rule_ids)
    if violation and not categories and len(policy.categories) == 1:
        categories = policy.category_ids
    notes = []
    if unknown_categories:
        notes.append(f"undefined categories cited: {', '.join(unknown_categories)}")
    if unknown_rules:
        notes.append(f"undefined rule ids cited: {', '.join(unknown_rules)}")
    confidence = _number(answer.get("confidence"))
    return Verdict(item_id=item_id, decision=ACTIONED if violation else ALLOWED,
                   categories=categories if violation else [], rule_ids=rule_ids,
                   score=(confidence if violation else 1 - confidence) if confidence is not None else None,
                   confidence=confidence, rationale=str(answer.get("rationale") or "")[:2000],
                   notes="; ".join(notes), sample=sample)


def _json_object(content: str) -> dict[str, Any] | None:
    candidates = [m.group(1) for m in _FENCE.finditer(content)] + [content]
    for text in candidates:
        start = text.find("{")
        while start != -1:
            try:
                value, _ = json.JSONDecoder().raw_decode(text, start)
            except ValueError:  # JSONDecodeError, or an integer past Python's digit limit
                start = text.find("{", start + 1)
                continue
            if isinstance(value, dict):
                return value
            start = text.find("{", start + 1)
    return None


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    return None


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return min(1.0, max(0.0, number)) if number == number else None


def _split_known(value: Any, known: list[str]) -> tuple[list[str], list[str]]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return [], []
    cited = [str(v).strip() for v in value if str(v).strip()]
    return [c for c in cited if c in known], [c for c in cited if c not in known]


def _clip(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"
