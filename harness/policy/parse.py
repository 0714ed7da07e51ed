"""Policies as Markdown files with YAML front matter and rules that carry stable ids."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from harness._util.hashing import sha256_text
from harness.errors import HarnessError, unreadable, yaml_problem
from harness.labels import BENIGN

RULE_ID = r"[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*"
_RULE_LINE = re.compile(rf"^\s*(?:[-*+]|\d+[.)])\s+\*\*({RULE_ID})\*\*[:.\s—–-]*(.*)$")
_SECTION = re.compile(r"^#{2,6}\s+(.*?)\s*$")
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.DOTALL)


@dataclass(frozen=True)
class Category:
    id: str
    name: str


@dataclass(frozen=True)
class Rule:
    id: str
    text: str
    is_exception: bool


@dataclass(frozen=True)
class Policy:
    id: str
    version: int
    title: str
    categories: tuple[Category, ...]
    rules: tuple[Rule, ...]
    body: str
    text: str
    sha256: str
    path: str = ""
    extra: dict[str, object] = field(default_factory=dict, compare=False, hash=False)

    @property
    def label(self) -> str:
        return f"{self.id}@v{self.version}"

    @property
    def category_ids(self) -> list[str]:
        return [c.id for c in self.categories]

    @property
    def rule_ids(self) -> list[str]:
        return [r.id for r in self.rules]

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)


def load_policy(path: str | Path) -> Policy:
    path = Path(path)
    if not path.exists():
        raise HarnessError("policy file not found; check the path.", path=path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise HarnessError("policy is not UTF-8 text; save it as UTF-8.", path=path) from None
    except OSError as err:  # a directory, no permission
        raise HarnessError(f"policy could not be read ({unreadable(err)}); point 'policy' at a Markdown file.",
                           path=path) from None
    return parse_policy(text, path=str(path))


def parse_policy(text: str, *, path: str = "<policy>") -> Policy:
    text = text.replace("\r\n", "\n")
    match = _FRONT_MATTER.match(text)
    if not match:
        raise HarnessError(
            "policy has no YAML front matter; start the file with a '---' block holding "
            "'id', 'version' and 'categories', closed by another '---' line.",
            path=path,
        )
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except (yaml.YAMLError, ValueError, RecursionError) as err:
        raise HarnessError(f"policy front matter is not valid YAML{yaml_problem(err, line_offset=1)}; fix it.",
                           path=path) from None
    if not isinstance(meta, dict):
        raise HarnessError("policy front matter must be a YAML mapping; fix it.", path=path)
    body = text[match.end():].strip()
    policy_id, version = _identity(meta, path)
    categories = _categories(meta, path)
    rules = _rules(body, path)
    extra = {k: v for k, v in meta.items() if k not in {"id", "version", "title", "categories"}}
    return Policy(
        id=policy_id,
        version=version,
        title=str(meta.get("title") or policy_id),
        categories=categories,
        rules=rules,
        body=body,
        text=text,
        sha256=sha256_text(text),
        path=path,
        extra=extra,
    )


def _identity(meta: dict[str, object], path: str) -> tuple[str, int]:
    policy_id = meta.get("id")
    if not isinstance(policy_id, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", policy_id):
        raise HarnessError(
            "policy front matter needs 'id' made of letters, digits, '_', '-' or '.'; add or fix it.",
            path=path,
        )
    version = meta.get("version")
    if isinstance(version, str) and version.lstrip("v").isdigit():
        version = int(version.lstrip("v"))
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise HarnessError(
            f"policy front matter needs 'version' as a whole number from 1 up; got {version!r}.",
            path=path,
        )
    return policy_id, version


def _categories(meta: dict[str, object], path: str) -> tuple[Category, ...]:
    raw = meta.get("categories")
    if not isinstance(raw, list) or not raw:
        raise HarnessError(
            "policy front matter needs 'categories': a list of {id, name}, one per violating category.",
            path=path,
        )
    categories: list[Category] = []
    for entry in raw:
        if not isinstance(entry, dict) or not entry.get("id"):
            raise HarnessError(f"each policy category needs an 'id' and a 'name'; got {entry!r}.", path=path)
        cid = str(entry["id"])
        if cid == BENIGN:
            raise HarnessError(f"'{BENIGN}' is reserved for allowed content; rename that category.", path=path)
        categories.append(Category(id=cid, name=str(entry.get("name") or cid)))
    ids = [c.id for c in categories]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise HarnessError(f"policy category id '{dupes[0]}' is declared twice; make ids unique.", path=path)
    return tuple(categories)


def _rules(body: str, path: str) -> tuple[Rule, ...]:
    rules: list[Rule] = []
    in_exceptions = False
    for line in body.splitlines():
        section = _SECTION.match(line)
        if section:
            in_exceptions = "exception" in section.group(1).lower()
            continue
        found = _RULE_LINE.match(line)
        if found:
            rule_id = found.group(1)
            is_exception = in_exceptions or bool(re.search(r"-E\d*$", rule_id))
            rules.append(Rule(id=rule_id, text=found.group(2).strip(), is_exception=is_exception))
    ids = [r.id for r in rules]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise HarnessError(f"rule id '{dupes[0]}' appears twice in the policy; give every rule its own id.", path=path)
    return tuple(rules)
