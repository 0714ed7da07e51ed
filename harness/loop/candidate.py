"""A revision the author model proposed: the policy document out of its answer, and the checks it
must pass before any reviewer judges it (an invalid candidate is recorded with its reason, never judged)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.errors import HarnessError
from harness.policy import Policy, parse_policy
from harness.policy.lint import count_tokens, lint_text

# The longest fenced block that holds a front matter; else the answer from its first '---' line.
_FENCE = re.compile(r"^(`{3,}|~{3,})[^\n]*\n(.*?)^\1[ \t]*$", re.DOTALL | re.MULTILINE)
_START = re.compile(r"^---[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class CandidateCheck:
    valid: bool
    reason: str  # why it was rejected; "" when valid
    policy: Policy | None
    tokens: int | None
    lint: str  # the lint summary of the candidate text


def policy_document(answer: str) -> str:
    """The complete policy document in an author answer: a fenced block, or the text from the
    first front-matter line to the end."""
    answer = answer.replace("\r\n", "\n")
    blocks = [m.group(2) for m in _FENCE.finditer(answer) if _START.search(m.group(2))]
    if blocks:
        return max(blocks, key=len).strip() + "\n"
    start = _START.search(answer)
    return (answer[start.start():] if start else answer).strip() + "\n"


def check_candidate(text: str, current: Policy, *, max_policy_tokens: int, path: str = "<candidate>") -> CandidateCheck:
    """Parses, keeps the policy id and categories, bumps the version, unique ids, within the token budget."""
    lint = lint_text(text, path=path).summary()
    try:
        policy = parse_policy(text, path=path)
    except HarnessError as err:
        return CandidateCheck(False, f"not a valid policy: {err.message}", None, None, lint)
    tokens, _ = count_tokens(policy.body)
    problem = ""
    if policy.id != current.id:
        problem = f"policy id is '{policy.id}', not '{current.id}'"
    elif policy.version <= current.version:
        problem = f"version {policy.version} is not above the current version {current.version}"
    elif policy.category_ids != current.category_ids:
        problem = (f"categories {policy.category_ids} differ from the current {current.category_ids}; "
                   "the eval set's labels name the current ones")
    elif not policy.rules:
        problem = "the candidate defines no rules"
    elif tokens > max_policy_tokens:
        problem = f"the body is {tokens} tokens, over max_policy_tokens {max_policy_tokens}"
    return CandidateCheck(not problem, problem, policy if not problem else None, tokens, lint)
