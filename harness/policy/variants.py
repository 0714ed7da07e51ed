"""Meaning-preserving variants of a policy, for `perturb` (docs/stability.md).

Each variant is the same policy (the same categories, rules and exceptions) written differently:
its rule sections reordered, rendered as plain text without Markdown, its rule ids renamed (a map
takes cited ids back), or one section paraphrased by the author model (checked by `lint` to keep
every rule and exception id)."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from harness._util.hashing import sha256_text
from harness.errors import HarnessError
from harness.policy.lint import lint_text
from harness.policy.parse import _FRONT_MATTER, _RULE_LINE, RULE_ID, Policy, Rule, parse_policy

# Wording that makes the order of rules part of their meaning: reordering would change the policy.
_POSITIONAL = re.compile(
    r"\b((the )?first (rule|section|one) (that )?(applies|matches|wins)|earlier (rule|section)s?|"
    r"(rules?|sections?) (above|below)|in the order (listed|given|shown|above)|top to bottom|order of (the )?rules)\b",
    re.IGNORECASE)
_BOLD = re.compile(r"\*\*(.+?)\*\*|__(.+?)__")
_ITALIC = re.compile(r"(?<![*\w])\*(?!\s)(.+?)(?<!\s)\*(?![*\w])|(?<![_\w])_(?!\s)(.+?)(?<!\s)_(?![_\w])")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^(\s*)(?:[-*+]|\d+[.)])\s+")
_CODE = re.compile(r"`([^`]*)`")


@dataclass(frozen=True)
class Section:
    """A `##` section of the policy body (with its `###` subsections)."""

    heading: str
    text: str  # the heading line and every line up to the next `##` heading

    @property
    def has_rules(self) -> bool:
        return any(_RULE_LINE.match(line) for line in self.text.splitlines())


@dataclass(frozen=True)
class Variant:
    """One rewriting of the policy. `id_map` takes the variant's rule ids back to the original's."""

    name: str
    kind: str  # reorder | plain | renamed | paraphrase
    policy: Policy
    section: str | None = None  # the section a paraphrase rewrote
    id_map: dict[str, str] = field(default_factory=dict)


def split_sections(body: str) -> tuple[str, list[Section]]:
    """(the lines before the first `##` heading, the `##` sections in order)."""
    head: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    for line in body.splitlines():
        heading = _HEADING.match(line)
        if heading and len(heading.group(1)) == 2:
            sections.append((heading.group(2), [line]))
        elif sections:
            sections[-1][1].append(line)
        else:
            head.append(line)
    return "\n".join(head), [Section(h, "\n".join(lines).rstrip("\n")) for h, lines in sections]


def join_sections(head: str, sections: list[Section]) -> str:
    parts = [head.rstrip("\n")] if head.strip() else []
    return "\n\n".join([*parts, *(s.text for s in sections)]).strip() + "\n"


def with_body(policy: Policy, body: str, *, rules: tuple[Rule, ...] | None = None) -> Policy:
    """The policy with another body (its front matter kept), hashed anew so judgements cache apart."""
    match = _FRONT_MATTER.match(policy.text)
    front = policy.text[:match.end()] if match else ""
    text = front.rstrip("\n") + "\n" + body if front else body
    return dataclasses.replace(policy, body=body.strip(), text=text, sha256=sha256_text(text),
                               rules=policy.rules if rules is None else rules)


def positional_precedence(policy: Policy) -> str | None:
    """The wording that ties the rules' meaning to their order, or None when order does not matter."""
    found = _POSITIONAL.search(policy.body)
    return found.group(0) if found else None


def reorderings(policy: Policy) -> tuple[list[Variant], str | None]:
    """Variants with the rule sections in another order (the other sections stay where they are):
    reversed, and rotated by one when there are three or more. None, with the reason, when the policy
    has fewer than two rule sections or its precedence depends on the order."""
    head, sections = split_sections(policy.body)
    slots = [i for i, s in enumerate(sections) if s.has_rules]
    if len(slots) < 2:
        return [], "fewer than two sections hold rules"
    if (wording := positional_precedence(policy)) is not None:
        return [], f"its precedence depends on the order of the rules ('{wording}')"
    rule_sections = [sections[i] for i in slots]
    orders = {"reorder:reversed": rule_sections[::-1]}
    if len(rule_sections) >= 3:
        orders["reorder:rotated"] = rule_sections[1:] + rule_sections[:1]
    out = []
    for name, order in orders.items():
        placed = list(sections)
        for slot, section in zip(slots, order, strict=True):
            placed[slot] = section
        out.append(Variant(name=name, kind="reorder", policy=with_body(policy, join_sections(head, placed))))
    return out, None


def plain_text(policy: Policy) -> Variant:
    """The policy without Markdown: headings as lines ending in ':', bullets as plain lines, no bold,
    italics or code marks. Its rules are the original's (the text no longer marks them up)."""
    lines = []
    for line in policy.body.splitlines():
        heading = _HEADING.match(line)
        if heading:
            title = heading.group(2)
            lines.append(title if title.endswith((":", ".", "?")) else f"{title}:")
            continue
        bullet = _BULLET.match(line)
        text = line[bullet.end():] if bullet else line
        text = _BOLD.sub(lambda m: m.group(1) or m.group(2), text)
        text = _ITALIC.sub(lambda m: m.group(1) or m.group(2), text)
        text = _CODE.sub(r"\1", text)
        rule = re.match(rf"^({RULE_ID})[\s:.—–-]+", text) if bullet else None
        lines.append(f"{rule.group(1)}: {text[rule.end():]}" if rule else text)
    return Variant(name="plain", kind="plain", policy=with_body(policy, "\n".join(lines) + "\n"))


def renamed_ids(policy: Policy) -> Variant:
    """Every rule and exception id replaced, everywhere in the body, by a neutral one (rules R1.., exceptions
    X-E1..) that keeps its kind; `id_map` takes a cited new id back to the original."""
    new: dict[str, str] = {}
    rules = exceptions = 0
    for rule in policy.rules:
        if rule.is_exception:
            exceptions += 1
            new[rule.id] = f"X-E{exceptions}"
        else:
            rules += 1
            new[rule.id] = f"R{rules}"
    if set(new.values()) & set(new):  # the policy already uses such ids: a prefix keeps them apart
        new = {old: f"Q{value}" for old, value in new.items()}
    pattern = re.compile(r"(?<![A-Za-z0-9-])(" + "|".join(re.escape(i) for i in sorted(new, key=len, reverse=True))
                         + r")(?![A-Za-z0-9-])") if new else None
    body = pattern.sub(lambda m: new[m.group(1)], policy.body) if pattern else policy.body
    renamed = tuple(dataclasses.replace(r, id=new[r.id]) for r in policy.rules)
    return Variant(name="renamed", kind="renamed", policy=with_body(policy, body, rules=renamed),
                   id_map={v: k for k, v in new.items()})


def paraphrase_messages(policy: Policy, section: Section) -> list[dict[str, str]]:
    """The author prompt for one section's paraphrase."""
    system = ("You rewrite one section of a content-moderation policy in other words without changing its "
              "meaning. Keep every rule and exception id exactly as written (for example **HS1**), keep one "
              "bullet per rule, keep the section heading line unchanged, add and remove nothing. Answer with "
              "the rewritten section only, in one fenced ```markdown block.")
    user = f"Policy '{policy.title}'. The section to rewrite:\n\n```markdown\n{section.text}\n```"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def paraphrased(policy: Policy, index: int, answer: str) -> tuple[Variant | None, str]:
    """The variant with section `index` replaced by the author's `answer`, or (None, why it was refused):
    the section must keep its heading, and the policy must lint without errors and keep every rule and
    exception id with its kind."""
    head, sections = split_sections(policy.body)
    section = sections[index]
    fenced = re.search(r"```(?:markdown|md)?\s*\n(.*?)```", answer, re.DOTALL)
    text = (fenced.group(1) if fenced else answer).strip()
    if not text.splitlines() or text.splitlines()[0].strip() != section.text.splitlines()[0].strip():
        text = section.text.splitlines()[0] + "\n" + text  # the heading is ours, not the author's to change
    placed = list(sections)
    placed[index] = Section(section.heading, text)
    candidate = with_body(policy, join_sections(head, placed))
    errors = lint_text(candidate.text, path=policy.path or "<paraphrase>").errors
    if errors:
        return None, f"lint: {errors[0].code} {errors[0].message}"
    try:
        reparsed = parse_policy(candidate.text, path=policy.path or "<paraphrase>")
    except HarnessError as err:  # the paraphrase broke the policy's front matter or ids
        return None, err.message
    before = {(r.id, r.is_exception) for r in policy.rules}
    after = {(r.id, r.is_exception) for r in reparsed.rules}
    if before != after:
        lost = sorted(i for i, _ in before - after) or sorted(i for i, _ in after - before)
        return None, f"the paraphrase does not keep the rule and exception ids ({', '.join(lost[:5])})"
    return Variant(name=f"paraphrase:{section.heading}", kind="paraphrase", section=section.heading,
                   policy=dataclasses.replace(candidate, rules=policy.rules)), ""
