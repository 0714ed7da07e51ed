"""What a verdict may cite: the policy's rules, its exceptions, and the categories each belongs to."""

from __future__ import annotations

from dataclasses import dataclass

from harness.policy.parse import _RULE_LINE, _SECTION, Policy


@dataclass(frozen=True)
class PolicyStructure:
    """Rule ids and exception ids of one policy, and the categories each id belongs to (empty when
    neither its id nor its section names a category)."""

    rules: frozenset[str]
    exceptions: frozenset[str]
    categories: frozenset[str]
    category_of: dict[str, frozenset[str]]

    @property
    def ids(self) -> frozenset[str]:
        return self.rules | self.exceptions


def policy_structure(policy: Policy) -> PolicyStructure:
    """The policy's citable ids. A rule belongs to the category its id starts with (HS1, HS-E1, S3-R1),
    else to the category its section heading starts with (`## S — Sexual`); in a single-category
    policy every rule belongs to that category."""
    category_ids = policy.category_ids
    sections = _sections(policy.body)
    category_of: dict[str, frozenset[str]] = {}
    for rule in policy.rules:
        found = _by_prefix(rule.id, category_ids) or _by_heading(sections.get(rule.id, ""), category_ids)
        if found is None and len(category_ids) == 1:
            found = category_ids[0]
        category_of[rule.id] = frozenset({found}) if found else frozenset()
    return PolicyStructure(
        rules=frozenset(r.id for r in policy.rules if not r.is_exception),
        exceptions=frozenset(r.id for r in policy.rules if r.is_exception),
        categories=frozenset(category_ids), category_of=category_of)


def _sections(body: str) -> dict[str, str]:
    """Rule id -> the nearest `##` heading above it (a `### Exceptions` under it does not replace it)."""
    out: dict[str, str] = {}
    heading = ""
    for line in body.splitlines():
        section = _SECTION.match(line)
        if section:
            if line.startswith("## "):
                heading = section.group(1)
            continue
        rule = _RULE_LINE.match(line)
        if rule:
            out[rule.group(1)] = heading
    return out


def _by_prefix(rule_id: str, category_ids: list[str]) -> str | None:
    prefix = rule_id.split("-", 1)[0] if "-" in rule_id else rule_id.rstrip("0123456789")
    return prefix if prefix in category_ids else None


def _by_heading(heading: str, category_ids: list[str]) -> str | None:
    first = heading.split()[0] if heading.split() else ""
    return first if first in category_ids else None
