"""The policy lifecycle as prompt aliases: `candidate` on the version a run tested, `production` on the
version `promote` approved, `previous` on the production it replaced. Applications load
`prompts:/policy-<id>@production`. A registry without aliases warns once and the run goes on."""

from __future__ import annotations

import logging
from typing import Any

CANDIDATE = "candidate"
PRODUCTION = "production"
PREVIOUS = "previous"
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


def set_candidate(client: Any, prompt_uri: str) -> None:
    """Point `candidate` at the policy version a run tested."""
    name, version = _parts(prompt_uri)
    _set(client, name, CANDIDATE, version)


def set_production(client: Any, prompt_uri: str) -> None:
    """Point `production` at the promoted version; the production it replaces keeps `previous`."""
    name, version = _parts(prompt_uri)
    old = alias_version(client, name, PRODUCTION)
    if old is not None and old != version:
        _set(client, name, PREVIOUS, old)
    _set(client, name, PRODUCTION, version)


def _set(client: Any, name: str, alias: str, version: int) -> None:
    try:
        client.set_prompt_alias(name, alias, version)
    except Exception as err:  # a registry without aliases: say so once, never fail the run
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
        if "aliases" not in _warned:
            _warned.add("aliases")
            log.warning("the MLflow prompt registry did not take alias %r (%s); prompt aliases are skipped", alias, first)
