"""`lint`: static findings on a policy draft, before any reviewer is asked to follow it.

Each finding names a line and a stable code; codes starting with E are errors (a reviewer cannot
cite or apply the policy consistently), codes starting with W are warnings (the draft departs from
the guidance for policy-following models). docs/policy-loop.md lists every code."""

from __future__ import annotations

import importlib.util
import logging
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from harness.errors import HarnessError
from harness.policy.parse import _FRONT_MATTER, _RULE_LINE, _SECTION, RULE_ID, Policy, parse_policy

if TYPE_CHECKING:
    from tiktoken import Encoding

log = logging.getLogger(__name__)

Severity = Literal["error", "warning"]

# code -> (severity, what it means); the table in docs/policy-loop.md mirrors this one.
CODES: dict[str, tuple[Severity, str]] = {
    "E101": ("error", "the policy file does not parse"),
    "E102": ("error", "a rule or exception id is defined twice"),
    "E103": ("error", "an example cites an id the policy does not define"),
    "E104": ("error", "a category has no rule"),
    "E105": ("error", "the policy defines no rules"),
    "E106": ("error", "a translation (vN.<lang>.md) does not match its original's ids or language"),
    "W201": ("warning", "the policy body is outside the 400-600 token guidance"),
    "W202": ("warning", "a hedge word makes a rule or instruction vague"),
    "W203": ("warning", "a rule or exception no example cites"),
    "W204": ("warning", "no guidance for unsure cases"),
    "W205": ("warning", "no guidance for which rule wins when two apply"),
    "W206": ("warning", "a defined term no rule or exception uses"),
    "W207": ("warning", "the policy has no examples"),
}

MIN_TOKENS, MAX_TOKENS = 400, 600
HEDGES = ("generally", "usually", "often", "may", "might", "typically", "sometimes", "probably",
          "possibly", "perhaps", "likely", "mostly", "arguably", "somewhat", "in most cases",
          "where appropriate", "as needed", "could be", "tends to")
_HEDGE = re.compile(r"\b(" + "|".join(re.escape(h) for h in HEDGES) + r")\b", re.IGNORECASE)
_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”")
_DEFINITION = re.compile(r"^\s*[-*+]\s+\*\*([^*]+?)\*\*\s*[:—–-]")
_ARROW = re.compile(r"->|→|=>")
# An id in an example is an upper-case token with a digit or a hyphen (HS2, S-R1), or a category id.
_ID_TOKEN = re.compile(rf"(?<![A-Za-z0-9-])({RULE_ID})(?![A-Za-z0-9-])")
_UNSURE = re.compile(r"\b(unsure|uncertain|in doubt|ambiguous|unclear|borderline|not sure)\b", re.IGNORECASE)
_PRECEDENCE = re.compile(
    r"\b(two rules|several rules|more than one (rule|category)|both apply|several categories|rules? (wins?|take)"
    r"|precedence|takes? priority|overrides?|prevails?|lowest-numbered|most severe first|when two)\b",
    re.IGNORECASE)


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    code: str
    message: str

    @property
    def severity(self) -> Severity:
        return CODES[self.code][0]

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.code} {self.message}"


@dataclass(frozen=True)
class LintResult:
    path: str
    findings: tuple[Finding, ...]
    tokens: int | None
    token_counter: str

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def exit_code(self, *, strict: bool = False) -> int:
        return 1 if self.errors or (strict and self.warnings) else 0

    def summary(self) -> str:
        return (f"lint: {_count(len(self.errors), 'error')}, {_count(len(self.warnings), 'warning')} "
                f"(policy-harness lint {self.path})")


@dataclass(frozen=True)
class _RuleLine:
    id: str
    text: str
    line: int
    is_exception: bool
    section: str


def lint_file(path: str | Path) -> LintResult:
    """Lint a policy file; a file that cannot be read at all is a HarnessError, not a finding."""
    path = Path(path)
    if not path.is_file():
        raise HarnessError("policy file not found; check the path.", path=path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (UnicodeDecodeError, OSError):
        raise HarnessError("policy could not be read as UTF-8 text; save it as UTF-8 Markdown.", path=path) from None
    result = lint_text(text, path=str(path))
    from harness.policy.localized import translation_problems

    found = [Finding(str(path), 1, "E106", message) for message in translation_problems(path)]
    return LintResult(result.path, (*found, *result.findings), result.tokens, result.token_counter) if found else result


def lint_summary(path: str | Path) -> str:
    """The one-line summary `run` and `validate` print, naming the file as the user would type it:
    relative to the working directory when it lies below it (experiments hold resolved paths)."""
    try:
        shown: str | Path = Path(path).resolve().relative_to(Path.cwd().resolve())
    except (ValueError, OSError):
        shown = path
    return lint_file(shown).summary()


def lint_text(text: str, *, path: str = "<policy>") -> LintResult:
    text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    body_start = _body_start(text)
    rules = _scan_rules(lines, body_start)
    findings = list(_duplicates(rules, path))
    policy = _parse_without_duplicates(text, lines, rules, path, findings)
    if policy is None:
        return LintResult(path, tuple(findings), None, "none")
    tokens, counter = count_tokens(policy.body)
    first_rule = {r.id: r for r in reversed(rules)}
    defined = set(first_rule) | set(policy.category_ids)
    examples = _examples(lines, body_start)
    body_line = body_start + 1
    if not rules:
        findings.append(Finding(path, body_line, "E105", "the policy defines no rules; add a '## Rules' list with "
                                "lines like '- **HS1** ...'."))
    findings += _undefined_citations(examples, defined, path)
    findings += _categories_without_rules(policy, rules, lines, path)
    if not MIN_TOKENS <= tokens <= MAX_TOKENS:
        side = "shorten it" if tokens > MAX_TOKENS else "add definitions, exceptions or boundary examples"
        findings.append(Finding(path, body_line, "W201", f"the policy body is {tokens} tokens ({counter}); "
                                f"policy-following models do best with {MIN_TOKENS}-{MAX_TOKENS}, so {side}."))
    findings += _hedges(lines, body_start, path)
    cited = {token for _, ids in examples for token in ids}
    if not examples:
        findings.append(Finding(path, body_line, "W207", "the policy has no examples; add an '## Examples' list of "
                                "items near the boundary, each ending '-> violates ID' or '-> does not violate, ID'."))
    else:
        for rule in first_rule.values():
            if rule.id not in cited:
                kind = "exception" if rule.is_exception else "rule"
                findings.append(Finding(path, rule.line, "W203", f"no example cites {kind} {rule.id}; add a "
                                        "boundary example that ends with it."))
    body = "\n".join(lines[body_start:])
    if not _UNSURE.search(body):
        findings.append(Finding(path, len(lines), "W204", "the policy does not say what to do when unsure; add a "
                                "'## When unsure' section (e.g. 'If the stance is ambiguous, mark it as violating')."))
    if not _PRECEDENCE.search(body):
        findings.append(Finding(path, len(lines), "W205", "the policy does not say which rule wins when two apply; "
                                "add a sentence such as 'When two rules apply, cite the lowest-numbered rule'."))
    findings += _unused_terms(lines, body_start, rules, path)
    findings.sort(key=lambda f: (f.line, f.code))
    return LintResult(path, tuple(findings), tokens, counter)


def count_tokens(text: str) -> tuple[int, str]:
    """Tokens by tiktoken's cl100k_base (the encoding litellm falls back to), read from the copy
    litellm bundles so no download is needed; a word-based estimate when that is unavailable."""
    encoding = _encoding()
    if encoding is not None:
        return len(encoding.encode(text)), "cl100k_base"
    return round(len(text.split()) * 4 / 3), "estimated as 4/3 tokens per word"


_ENCODING: Encoding | Literal[False] | None = None  # False: tried once, none available


def _encoding() -> Encoding | None:
    global _ENCODING
    if _ENCODING is None:
        try:
            spec = importlib.util.find_spec("litellm")
            if spec and spec.submodule_search_locations and "TIKTOKEN_CACHE_DIR" not in os.environ:
                bundled = Path(list(spec.submodule_search_locations)[0]) / "litellm_core_utils" / "tokenizers"
                os.environ["TIKTOKEN_CACHE_DIR"] = str(bundled)  # what importing litellm does itself
            import tiktoken

            _ENCODING = tiktoken.get_encoding("cl100k_base")
        except Exception as err:  # offline without the bundled file: fall back to the estimate
            log.warning("no offline tokenizer (%s); policy length is estimated from its word count.",
                        type(err).__name__)
            _ENCODING = False
    return _ENCODING or None


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _body_start(text: str) -> int:
    """Index of the first line after the front matter (0 when there is none)."""
    match = _FRONT_MATTER.match(text)
    return text[:match.end()].count("\n") if match else 0


def _body_lines(lines: list[str], start: int) -> Iterator[tuple[int, str, str]]:
    """(index, heading of the section it stands in, line) for every body line that is not a heading."""
    section = ""
    for index in range(start, len(lines)):
        heading = _SECTION.match(lines[index])
        if heading:
            section = heading.group(1)
            continue
        yield index, section, lines[index]


def _scan_rules(lines: list[str], start: int) -> list[_RuleLine]:
    rules: list[_RuleLine] = []
    for index, section, line in _body_lines(lines, start):
        in_exceptions = "exception" in section.lower()
        found = _RULE_LINE.match(line)
        if found and "example" not in section.lower() and "definition" not in section.lower():
            rule_id = found.group(1)
            rules.append(_RuleLine(rule_id, found.group(2).strip(), index + 1,
                                   in_exceptions or bool(re.search(r"-E\d*$", rule_id)), section))
    return rules


def _duplicates(rules: list[_RuleLine], path: str) -> Iterable[Finding]:
    seen: dict[str, int] = {}
    for rule in rules:
        if rule.id in seen:
            yield Finding(path, rule.line, "E102", f"id {rule.id} is already defined on line {seen[rule.id]}; "
                          "give every rule and exception its own id.")
        else:
            seen[rule.id] = rule.line


def _parse_without_duplicates(text: str, lines: list[str], rules: list[_RuleLine], path: str,
                              findings: list[Finding]) -> Policy | None:
    """Parse for the front matter and body; a duplicate id is already a finding, so blank the later
    copies rather than stop there."""
    seen: set[str] = set()
    kept = list(lines)
    for rule in rules:
        if rule.id in seen:
            kept[rule.line - 1] = ""
        seen.add(rule.id)
    try:
        return parse_policy("\n".join(kept), path=path)
    except HarnessError as err:
        line = re.search(r"at line (\d+)", err.message)
        findings.append(Finding(path, int(line.group(1)) if line else 1, "E101", err.message))
        return None


def _examples(lines: list[str], start: int) -> list[tuple[int, list[str]]]:
    """(line number, ids cited after the arrow) for every example line."""
    found: list[tuple[int, list[str]]] = []
    for index, section, line in _body_lines(lines, start):
        if "example" not in section.lower():
            continue
        parts = _ARROW.split(line, maxsplit=1)
        if len(parts) == 2:
            found.append((index + 1, [m.group(1) for m in _ID_TOKEN.finditer(_QUOTED.sub("", parts[1]))]))
    return found


def _undefined_citations(examples: list[tuple[int, list[str]]], defined: set[str], path: str) -> Iterable[Finding]:
    for line, ids in examples:
        for token in ids:
            if token not in defined and re.search(r"\d|-", token):
                yield Finding(path, line, "E103", f"the example cites {token}, which the policy does not define; "
                              "fix the id or add that rule.")


def _rule_category(rule: _RuleLine, category_ids: list[str]) -> str | None:
    """The category a rule belongs to: by id prefix (HS1, HS-E1, S3-R1), else by its section heading."""
    prefix = rule.id.split("-", 1)[0] if "-" in rule.id else rule.id.rstrip("0123456789")
    if prefix in category_ids:
        return prefix
    heading = rule.section.split()[0] if rule.section.split() else ""
    return heading if heading in category_ids else None


def _categories_without_rules(policy: Policy, rules: list[_RuleLine], lines: list[str], path: str) -> Iterable[Finding]:
    ids = policy.category_ids
    if len(ids) == 1:  # a single-category policy: every rule is one of its rules
        return
    covered = {_rule_category(r, ids) for r in rules if not r.is_exception}
    for category in policy.categories:
        if category.id not in covered:
            line = next((i + 1 for i, text in enumerate(lines) if re.search(rf"\bid:\s*{re.escape(category.id)}\b", text)), 1)
            yield Finding(path, line, "E104", f"category {category.id} ({category.name}) has no rule; add rules "
                          f"with ids like {category.id}-R1 or remove the category.")


def _hedges(lines: list[str], start: int, path: str) -> Iterable[Finding]:
    for index, section, line in _body_lines(lines, start):
        # Quoted example items are content, not instructions: their wording is not the policy's.
        words = sorted({m.group(1).lower() for m in _HEDGE.finditer(_QUOTED.sub("", line))})
        if words and "example" not in section.lower():
            quoted = ", ".join(f"'{w}'" for w in words)
            yield Finding(path, index + 1, "W202", f"hedge word {quoted}; say exactly when the rule applies.")


def _unused_terms(lines: list[str], start: int, rules: list[_RuleLine], path: str) -> Iterable[Finding]:
    rule_text = " ".join(r.text for r in rules).lower()
    for index, section, line in _body_lines(lines, start):
        found = _DEFINITION.match(line) if "definition" in section.lower() else None
        if found:
            term = found.group(1).strip().rstrip(":")
            # A prefix match lets 'Slur' count in 'slurs' and 'Dehumanising language' in '... language,'.
            if not re.search(rf"\b{re.escape(term.lower())}", rule_text):
                yield Finding(path, index + 1, "W206", f"the defined term '{term}' is used by no rule or exception; "
                              "use it in a rule or drop the definition.")
