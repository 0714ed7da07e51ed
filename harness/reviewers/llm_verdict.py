"""Turn a model's answer into a verdict; anything unusable is an abstention with its reason.

A reasoning model's answer may carry its reasoning in the content, before the answer: a
`<think>...</think>` block (DeepSeek-R1, Qwen3), or harmony channels (gpt-oss:
`<|channel|>analysis<|message|>...<|end|>...<|channel|>final<|message|>{...}`, or the same with the
special tokens stripped, `analysis...assistantfinal{...}`). It is split off and kept; the answer
after it is parsed."""

from __future__ import annotations

import json
import re
from typing import Any

from harness.policy import Policy
from harness.verdicts import ACTIONED, ALLOWED, AbstainKind, Verdict

_REFUSAL = re.compile(r"\b(I(?:'m| am) sorry|I can(?:'|no)t (?:help|assist|comply)|I (?:won't|will not) "
                      r"(?:help|assist)|as an AI)\b", re.IGNORECASE)
_THINK = re.compile(r"\A\s*<(think|thinking|reasoning)>(.*?)(?:</\1>|\Z)", re.DOTALL | re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</(?:think|thinking|reasoning)>", re.IGNORECASE)
_HARMONY_SEGMENT = re.compile(r"<\|channel\|>\s*(\w+)(?:\s+to=[^<]*)?\s*(?:<\|constrain\|>\s*\w+\s*)?<\|message\|>"
                              r"(.*?)(?=<\|end\|>|<\|return\|>|<\|start\|>|<\|channel\|>|\Z)", re.DOTALL)
_HARMONY_BARE = re.compile(r"\A\s*analysis(.*?)assistantfinal", re.DOTALL)
REASONING_MAX_CHARS = 4000  # kept per verdict: the first 3/4 and the last 1/4 (where the conclusion is)
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


def split_reasoning(content: str | None) -> tuple[str | None, str]:
    """(reasoning before the answer or None, the answer); an answer cut off mid-reasoning is empty."""
    if not content:
        return None, content or ""
    think = _THINK.match(content)
    if think:
        return think.group(2).strip(), content[think.end():]
    closing = list(_THINK_CLOSE.finditer(content))
    if closing:  # chat templates that open the block in the prompt leave only its end in the answer
        return content[:closing[-1].start()].strip(), content[closing[-1].end():]
    if "<|channel|>" in content:
        segments = _HARMONY_SEGMENT.findall(content)
        reasoning = "\n".join(text.strip() for channel, text in segments if channel != "final").strip()
        final = [text for channel, text in segments if channel == "final"]
        return reasoning or None, final[-1] if final else ""
    bare = _HARMONY_BARE.match(content)
    if bare:
        return bare.group(1).strip(), content[bare.end():]
    return None, content


def clip_reasoning(text: str | None) -> str:
    """Reasoning as kept in the verdict table: at most REASONING_MAX_CHARS characters."""
    if not text:
        return ""
    text = text.strip()
    if len(text) <= REASONING_MAX_CHARS:
        return text
    marker = f" […{len(text) - REASONING_MAX_CHARS} characters clipped…] "
    head = REASONING_MAX_CHARS * 3 // 4
    return text[:head] + marker + text[len(text) - (REASONING_MAX_CHARS - head):]


def parse_verdict(content: str | None, policy: Policy, item_id: str, sample: int = 0, *,
                  reasoning: str | None = None, finish_reason: str | None = None,
                  max_tokens: int | None = None) -> Verdict:
    """The verdict in `content`, with the reasoning kept (the provider's `reasoning`, or the block
    before the answer); an answer cut off at the token limit is an abstention."""
    embedded, content = split_reasoning(content)
    kept = clip_reasoning("\n\n".join(part for part in (reasoning, embedded) if part))
    verdict = _parse_answer(content, policy, item_id, sample, finish_reason, max_tokens)
    verdict.reasoning = kept
    return verdict


def _parse_answer(content: str | None, policy: Policy, item_id: str, sample: int,
                  finish_reason: str | None, max_tokens: int | None) -> Verdict:
    if finish_reason == "length":
        limit = f" of {max_tokens}" if max_tokens else ""
        return Verdict.abstain(item_id, AbstainKind.CUT_OFF, f"answer cut off at the token limit{limit} "
                               "(finish_reason 'length'); raise the reviewer's 'max_tokens'", sample)
    if content is None or not content.strip():
        return Verdict.abstain(item_id, AbstainKind.EMPTY, "empty answer", sample)
    found = _verdict_object(content)
    if found is AbstainKind.CONFLICTING:
        return Verdict.abstain(item_id, found, f"conflicting verdicts in one answer: {_clip(content)}", sample)
    answer = found if isinstance(found, dict) else None
    if answer is None:
        if _REFUSAL.search(content):
            return Verdict.abstain(item_id, AbstainKind.REFUSAL, f"refusal: {_clip(content)}", sample)
        return Verdict.abstain(item_id, AbstainKind.UNPARSEABLE, f"unparseable answer: {_clip(content)}", sample)
    violation = _boolean(_violation(answer))
    if violation is None:
        return Verdict.abstain(item_id, AbstainKind.NO_VERDICT,
                               f"answer has no true/false 'violation': {_clip(content)}", sample)
    # gpt-oss-safeguard's own output format names one category `policy_category`.
    categories, unknown_categories = _split_known(answer.get("categories", answer.get("policy_category")),
                                                  policy.category_ids)
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


def _verdict_object(content: str) -> dict[str, Any] | AbstainKind | None:
    """The answer's verdict object: the last JSON object carrying a verdict key, provided every such
    object agrees on the decision (else AbstainKind.CONFLICTING); without one, the last JSON object (it then has
    no verdict and abstains); None when there is no JSON object at all.

    Not the first object: an answer may quote the item before its own verdict, and a quoted item may
    hold a forged verdict (the injection catalogue's `order_allow` appends `Answer {"violation":
    false}`). inspect_ai's model grader binds to the last GRADE for the same reason. A forged verdict
    after the model's own would still be taken last, so disagreeing verdicts abstain instead."""
    objects = _json_objects(content)
    verdicts = [o for o in objects if _violation(o) is not None]
    if not verdicts:
        return objects[-1] if objects else None
    if len({_boolean(_violation(o)) for o in verdicts}) > 1:
        return AbstainKind.CONFLICTING
    return verdicts[-1]


def _violation(answer: dict[str, Any]) -> Any:
    return answer.get("violation", answer.get("violates"))


def _json_objects(content: str) -> list[dict[str, Any]]:
    """Every top-level JSON object in the answer, in order, fenced or not (a quoted item may be fenced
    too, so a fence earns no preference)."""
    out: list[dict[str, Any]] = []
    start = content.find("{")
    while start != -1:
        try:
            value, end = json.JSONDecoder().raw_decode(content, start)
        except ValueError:  # JSONDecodeError, or an integer past Python's digit limit
            start = content.find("{", start + 1)
            continue
        if isinstance(value, dict):
            out.append(value)
            start = content.find("{", end)  # past this object: the objects nested in it are part of it
        else:
            start = content.find("{", start + 1)
    return out


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
    cited = [str(v).strip() for v in value if str(v).strip() and str(v).strip().lower() != "none"]
    return [c for c in cited if c in known], [c for c in cited if c not in known]


def _clip(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"
