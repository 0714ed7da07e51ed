"""The policy lifecycle as prompt aliases: `candidate` on the version a run tested, `production` on the
version `promote` approved, `previous` on the production it replaced. Applications load
`prompts:/policy-<id>@production`. A registry without aliases warns once and the run goes on.

MLflow keeps only where an alias points now, not when it got there, so each move is also stamped on the
prompt version as a tag (the alias history the portfolio's time to deploy reads): when the version
first became `candidate`, first became `production`, and last left `production` for `previous`."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from harness.record.portfolio import AliasHistory

CANDIDATE = "candidate"
PRODUCTION = "production"
PREVIOUS = "previous"
# the alias history, one ISO 8601 UTC time per tag on the prompt version
CANDIDATE_AT = "policy_harness.alias.candidate.first_at"
PRODUCTION_AT = "policy_harness.alias.production.first_at"
PREVIOUS_AT = "policy_harness.alias.previous.at"
log = logging.getLogger(__name__)
_warned: set[str] = set()


def _parts(prompt_uri: str) -> tuple[str, int]:
    name, version = prompt_uri.removeprefix("prompts:/").rsplit("/", 1)
    return name, int(version)


def alias_version(client: Any, name: str, alias: str) -> int | None:
    """The version an alias points at, or None when the alias is not set."""
    try:
        return int(client.get_prompt_version_by_alias(name, alias).version)
    except Exception:  # no such alias (MLflow raises RESOURCE_DOES_NOT_EXIST)
        return None


def set_candidate(client: Any, prompt_uri: str, at: str | None = None) -> None:
    """Point `candidate` at the policy version a run tested (`at`: when the run was made, default now) and
    keep the earliest such time on the version."""
    name, version = _parts(prompt_uri)
    if _set(client, name, CANDIDATE, version):
        _stamp(client, name, version, CANDIDATE_AT, _time(at), keep="earliest")


def set_production(client: Any, prompt_uri: str, at: str | None = None) -> None:
    """Point `production` at the promoted version (`at`: when it was approved, default now); the production
    it replaces keeps `previous`. The first time a version became production stays on it."""
    name, version = _parts(prompt_uri)
    when = _time(at)
    old = alias_version(client, name, PRODUCTION)
    if old is not None and old != version and _set(client, name, PREVIOUS, old):
        _stamp(client, name, old, PREVIOUS_AT, when, keep="latest")
    if _set(client, name, PRODUCTION, version):
        _stamp(client, name, version, PRODUCTION_AT, when, keep="earliest")


def history(version: Any) -> AliasHistory:
    """The alias history stamped on a prompt version (a `PromptVersion` from the registry). A version
    promoted before the history was kept (approved, or production now, without a stamp) says so, so the
    portfolio reports it as unknown rather than not yet deployed."""
    tags: dict[str, str] = dict(getattr(version, "tags", None) or {})
    aliases = set(getattr(version, "aliases", None) or [])
    return AliasHistory(candidate_at=_parse(tags.get(CANDIDATE_AT)), production_at=_parse(tags.get(PRODUCTION_AT)),
                        promoted=PRODUCTION_AT in tags or tags.get("status") == "approved"
                        or bool(aliases & {PRODUCTION, PREVIOUS}))


def _time(at: str | None) -> dt.datetime:
    return _parse(at) or dt.datetime.now(dt.UTC).replace(microsecond=0)


def _parse(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _stamp(client: Any, name: str, version: int, key: str, when: dt.datetime, *, keep: str) -> None:
    try:
        found = _parse((client.get_prompt_version(name, version).tags or {}).get(key))
        if found is not None and (found <= when if keep == "earliest" else found >= when):
            return
        client.set_prompt_version_tag(name, version, key, when.astimezone(dt.UTC).isoformat(timespec="seconds"))
    except Exception as err:  # the alias moved; only its history is missing, which the portfolio reports as unknown
        _warn("history", f"the MLflow prompt registry did not take the alias history tag {key!r} ({_first(err)}); "
                         "time to deploy will read as unknown")


def _set(client: Any, name: str, alias: str, version: int) -> bool:
    try:
        client.set_prompt_alias(name, alias, version)
        return True
    except Exception as err:  # a registry without aliases: say so once, never fail the run
        _warn("aliases", f"the MLflow prompt registry did not take alias {alias!r} ({_first(err)}); "
                         "prompt aliases are skipped")
        return False


def _first(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:160]


def _warn(kind: str, message: str) -> None:
    if kind not in _warned:
        _warned.add(kind)
        log.warning("%s", message)
