"""Reviewer prompts from versioned templates: policy first (identical for every item), item last."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import jinja2
import yaml

from harness._util.hashing import sha256_text
from harness.config import resolve_path
from harness.errors import HarnessError, unreadable, yaml_problem
from harness.policy import Policy

ITEM_SPLIT = "=== ITEM ==="
_MARKERS = re.compile(r"<<<\s*(END\s+)?ITEM\s*>>>", re.IGNORECASE)
_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)
BUILTIN_TEMPLATE = "reviewer_v1"
BUILTIN_PREFIX = "builtin:"  # PromptTemplate.path of a template that ships inside the package
# How the two parts of a template become chat messages (front matter `layout:`):
# policy_as_system: the policy part is the system message, the item part the user message;
# single_user: both parts in one user message (for models whose chat template drops the system role).
DEFAULT_LAYOUT = "policy_as_system"
LAYOUTS = (DEFAULT_LAYOUT, "single_user")


@dataclass(frozen=True)
class PromptTemplate:
    id: str
    version: int
    system: str
    user: str
    sha256: str
    path: str
    layout: str = DEFAULT_LAYOUT

    @property
    def label(self) -> str:
        return f"{self.id}@v{self.version}"


def reviewer_template(prompt: str | None, base_dir: Path) -> PromptTemplate:
    """An LLM reviewer's template: its `prompt` file (read from the experiment's folder), else the
    built-in one that ships inside the package."""
    if prompt is None:
        return builtin_template()
    if prompt.startswith(BUILTIN_PREFIX):
        return _named_builtin(prompt)
    return load_template(resolve_path(prompt, base_dir))


@lru_cache(maxsize=4)
def builtin_template(name: str = BUILTIN_TEMPLATE) -> PromptTemplate:
    """A template shipped as package data; its id, version and sha256 are those of the file's text."""
    source = resources.files("harness.reviewers").joinpath("prompt_templates", f"{name}.md")
    text = source.read_text(encoding="utf-8-sig").replace("\r\n", "\n")
    return parse_template(text, path=f"{BUILTIN_PREFIX}{name}", stem=name)


def _named_builtin(prompt: str) -> PromptTemplate:
    name = prompt.removeprefix(BUILTIN_PREFIX)
    shipped = sorted(p.name.removesuffix(".md") for p in resources.files("harness.reviewers").joinpath("prompt_templates").iterdir()
                     if p.name.endswith(".md"))
    if name not in shipped:
        raise HarnessError(f"the reviewer's prompt '{prompt}' names no shipped template; use one of "
                           f"{', '.join(BUILTIN_PREFIX + s for s in shipped)}, or the path of a template file.")
    return builtin_template(name)


@lru_cache(maxsize=32)
def load_template(path: Path) -> PromptTemplate:
    if not path.exists():
        raise HarnessError("prompt template not found; check the reviewer's 'prompt' setting.", path=path)
    try:
        text = path.read_text(encoding="utf-8-sig").replace("\r\n", "\n")
    except UnicodeDecodeError:
        raise HarnessError("prompt template is not UTF-8 text; save it as UTF-8.", path=path) from None
    except OSError as err:  # a directory, no permission
        raise HarnessError(f"prompt template could not be read ({unreadable(err)}); point the reviewer's "
                           "'prompt' at a template file.", path=path) from None
    return parse_template(text, path=str(path), stem=path.stem)


def parse_template(text: str, *, path: str, stem: str) -> PromptTemplate:
    meta: dict[str, object] = {}
    front = _FRONT.match(text)
    if front:
        try:
            meta = yaml.safe_load(front.group(1)) or {}
        except (yaml.YAMLError, ValueError, RecursionError) as err:
            raise HarnessError(f"prompt template front matter is not valid YAML{yaml_problem(err, line_offset=1)}; "
                               "fix it.", path=path) from None
        if not isinstance(meta, dict):
            raise HarnessError("prompt template front matter must be a YAML mapping (id, version); fix it.",
                               path=path)
        text = text[front.end():]
    version = meta.get("version", 1)
    if isinstance(version, str) and version.lstrip("v").isdigit():
        version = int(version.lstrip("v"))
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise HarnessError("prompt template front matter needs 'version' as a whole number from 1 up; "
                           f"got {version!r}.", path=path)
    layout = meta.get("layout", DEFAULT_LAYOUT)
    if layout not in LAYOUTS:
        raise HarnessError(f"prompt template front matter has unknown 'layout' {layout!r}; use one of "
                           f"{', '.join(LAYOUTS)}.", path=path)
    if ITEM_SPLIT not in text:
        raise HarnessError(f"prompt template needs a line '{ITEM_SPLIT}' separating the policy part "
                           "(sent first, the same for every item) from the item part.", path=path)
    system, user = (part.strip("\n") for part in text.split(ITEM_SPLIT, 1))
    if "{{ item }}" not in user and "{{item}}" not in user:
        raise HarnessError("prompt template's item part must contain '{{ item }}'.", path=path)
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    try:
        env.parse(system)
        env.parse(user)
    except jinja2.TemplateSyntaxError as err:
        raise HarnessError(f"prompt template has a syntax error at line {err.lineno} ({err.message}).", path=path) from None
    return PromptTemplate(id=str(meta.get("id", stem)), version=version,
                          system=system, user=user, sha256=sha256_text(text), path=path, layout=str(layout))


def neutralise(text: str) -> str:
    """Content cannot close its own delimiters or open a new item."""
    return _MARKERS.sub(lambda m: m.group(0).replace("<<<", "<< <").replace(">>>", "> >>"), text)


class PromptBuilder:
    """Renders messages for one policy and template; the system part is rendered once."""

    def __init__(self, template: PromptTemplate, policy: Policy) -> None:
        env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)
        context = {
            "policy_id": policy.id, "policy_version": policy.version, "policy_title": policy.title,
            "policy_body": policy.body,
            "categories": ", ".join(f"{c.id} ({c.name})" for c in policy.categories),
            "rule_ids": ", ".join(policy.rule_ids) or "(none)",
        }
        self.layout = template.layout
        try:
            self.system = env.from_string(template.system).render(**context)
            self._user = env.from_string(template.user)
            self._context = context
            self._user.render(**context, item="")  # fail now, not on item 9,000
        except jinja2.UndefinedError as err:
            raise HarnessError(f"prompt template uses an unknown variable ({err.message}); available: "
                               f"{', '.join(sorted(context))}, item.", path=template.path) from None

    def messages(self, item_text: str) -> list[dict[str, str]]:
        user = self._user.render(**self._context, item=neutralise(item_text))
        if self.layout == "single_user":  # the policy part still comes first: the provider's prompt cache keeps it
            return [{"role": "user", "content": f"{self.system}\n\n{user}"}]
        return [{"role": "system", "content": self.system}, {"role": "user", "content": user}]
