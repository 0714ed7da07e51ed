"""A pydantic validation error as one sentence a user can act on."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from harness.config.reviewers import ClassifierReviewerConfig, LLMReviewerConfig
from harness.errors import did_you_mean


def describe_validation_error(err: ValidationError, model: type[BaseModel]) -> str:
    """The first pydantic error as one sentence, with 'did you mean' for misspelled keys."""
    errors = err.errors()
    # A misspelled required key shows up as 'missing' too; the 'unknown key' error carries the hint.
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = [str(part) for part in first["loc"]]
    # pydantic puts the reviewer type into the location ('reviewers.0.llm.model'); users never wrote it.
    where = ".".join(p for i, p in enumerate(loc) if not (i and loc[i - 1].isdigit() and p in ("classifier", "llm")))
    where = where or "(top level)"
    kind = first["type"]
    if kind == "extra_forbidden":
        allowed = _fields_at(model, loc[:-1])
        hint = did_you_mean(loc[-1], allowed)
        listing = f" Allowed keys here: {', '.join(sorted(allowed))}." if allowed and not hint else ""
        return f"unknown key '{where}'.{hint}{listing}"
    if kind == "missing":
        return f"missing required key '{where}'; add it."
    if kind == "union_tag_invalid":
        tag = first.get("ctx", {}).get("tag", "")
        return f"'{where}' has unknown type '{tag}'; use 'classifier' or 'llm'.{did_you_mean(tag, ['classifier', 'llm'])}"
    if kind == "union_tag_not_found":
        return f"'{where}' needs a 'type' key ('classifier' or 'llm')."
    msg = first["msg"].removeprefix("Value error, ")
    got = first.get("input")
    got_text = f" Got {got!r} instead." if got is not None and not isinstance(got, (dict, list)) else ""
    return f"'{where}': {msg}{'' if msg.endswith(('.', '?', '!')) else '.'}{got_text}"


def _fields_at(model: type[BaseModel], loc: list[str]) -> list[str]:
    """Field names of the (nested) model at a location, for 'did you mean' hints."""
    current: Any = model
    for part in loc:
        if part.isdigit():
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(part)
        if field is None:
            if part in ("classifier", "llm"):
                current = ClassifierReviewerConfig if part == "classifier" else LLMReviewerConfig
                continue
            return []
        current = _model_in(field.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [name for name in current.model_fields if name != "base_dir"]
    return []


def _model_in(annotation: Any) -> Any:
    """The BaseModel inside an annotation such as `list[X]`, `X | None` or `dict[str, X]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None
