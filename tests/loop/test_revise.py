"""`revise` and `promote` against the loopback OpenAI-compatible server.

The judge's decision depends on the policy text it is sent: a benign COUNTER item is actioned
unless the policy holds exception HS-E9, and a VIOLATE item is actioned only while rule HS1 exists.
The "author" model (selected by model name) answers by sample index (the request's seed): one
revision adds HS-E9, one adds HS-E9 but deletes HS1, one is not a policy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from harness.config import parse_experiment
from harness.testing.openai_server import FakeOpenAIServer, item_section, last_user_text



@pytest.fixture(autouse=True)
def cache_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cache" / "judgements.sqlite"
    monkeypatch.setenv("POLICY_HARNESS_CACHE", str(path))
    return path

POLICY = """---
id: toy_hate
version: 1
title: Toy hate speech
categories:
  - id: HS
    name: Hate speech
---
# Toy hate speech policy

## Rules
- **HS1** Dehumanising language about a protected group.
- **HS2** Contempt or hatred toward a protected group.

## Exceptions
- **HS-E1** Criticism of ideas, not people.

## Examples
- "They are vermin" -> HS1
- "I despise them all" -> HS2
- "This doctrine is wrong" -> HS-E1

When unsure, allow. When two rules apply, cite the lowest-numbered rule.
"""
EXCEPTION = "- **HS-E9** Counter-speech that quotes hate in order to condemn it.\n"
ADDED = POLICY.replace("version: 1", "version: 2").replace("- **HS-E1** Criticism of ideas, not people.\n",
                                                           "- **HS-E1** Criticism of ideas, not people.\n" + EXCEPTION)
DELETED = ADDED.replace("- **HS1** Dehumanising language about a protected group.\n", "").replace(
    '- "They are vermin" -> HS1\n', "")
REVISIONS = [f"Here is the revision.\n\n```markdown\n{ADDED}```\n", f"```markdown\n{DELETED}```",
             "I think the policy is fine as it is; no change needed."]


def responder(request: dict[str, Any]) -> str:
    if request.get("model") == "author-model":
        return REVISIONS[int(request.get("seed") or 0) % len(REVISIONS)]
    policy = "".join(str(m.get("content")) for m in request["messages"] if m.get("role") == "system")
    item = item_section(last_user_text(request))
    hit_counter = "COUNTER" in item and "HS-E9" not in policy
    hit_direct = "VIOLATE" in item and "**HS1**" in policy
    violation = hit_counter or hit_direct
    return json.dumps({"violation": violation, "categories": ["HS"] if violation else [],
                       "rule_ids": (["HS2"] if hit_counter else ["HS1"]) if violation else [],
                       "confidence": 0.9, "rationale": "scripted"})


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(responder=responder) as srv:
        yield srv


def workspace(tmp: Path, api_base: str) -> tuple[Path, Path]:
    policy = tmp / "policies" / "toy" / "v1.md"
    policy.parent.mkdir(parents=True)
    policy.write_text(POLICY, encoding="utf-8")
    rows = ([(f"c{n:02d}", f"COUNTER: quoting 'they are vermin' to condemn it, case {n}", "non-hateful", "counter")
             for n in range(24)]
            + [(f"d{n:02d}", f"VIOLATE they are vermin, case {n}", "hateful", "direct") for n in range(24)]
            + [(f"p{n:02d}", f"a photo of my garden, case {n}", "non-hateful", "plain") for n in range(12)])
    items = tmp / "items.csv"
    items.write_text("id,text,label,tactic\n" + "".join(f'{i},"{t}",{l},{s}\n' for i, t, l, s in rows),
                     encoding="utf-8")
    return policy, items


def experiment(policy: Path, items: Path, api_base: str) -> Any:
    return parse_experiment({
        "name": "toy-revise", "policy": str(policy),
        "eval_set": {"path": str(items), "columns": {"id": "id", "text": "text", "label": "label",
                                                     "slices": ["tactic"]},
                     "labels": {"hateful": "HS", "non-hateful": "benign"}},
        "reviewers": [{"name": "judge", "type": "llm", "model": "openai/fake-model", "api_base": api_base,
                       "max_retries": 1, "timeout_s": 5}],
        "gates": {"leakage": {"max": 0.5}},
        "author": {"model": "openai/author-model", "api_base": api_base, "candidates": 3, "holdout": 0.5,
                   "target": "over_enforcement", "max_policy_tokens": 400, "temperature": 0.7},
    })


def test_revise_accepts_the_exception_rejects_the_regression_and_the_invalid(
        tmp_path: Path, server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.loop.promote import promote
    from harness.loop.revise import ReviseResult, revise

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    policy, items = workspace(tmp_path, server.base_url)
    out = tmp_path / "out"
    result = revise(experiment(policy, items, server.base_url), out_dir=out)

    assert policy.read_text(encoding="utf-8") == POLICY  # never touched
    assert len(result.split.holdout) == 30 and not set(result.split.dev) & set(result.split.holdout)
    assert result.split.strata == ["gold", "tactic"]
    first, second, third = result.candidates
    assert first.accepted and first.why.startswith("accepted: judge: over_enforcement 66.7% -> 0.0%")
    target = first.judgements[0].target
    assert target.p_value is not None and target.p_value < 0.05 and target.ci_high is not None and target.ci_high < 0
    assert {f.item_id for f in first.judgements[0].flips} == {i for i in result.split.holdout if i.startswith("c")}

    assert not second.accepted and second.valid
    assert second.judgements[0].improved  # it fixes over-enforcement too ...
    assert second.judgements[0].regressions == ["leakage", "leakage@HS"]  # ... by letting every violation through
    assert second.judgements[0].gates_broken == ["leakage"]
    assert "leakage got worse on held-out (0.0% -> 100.0%" in second.why and "gate leakage passed" in second.why

    assert not third.valid and not third.accepted and third.judgements == []
    assert third.why.startswith("invalid: not a valid policy")

    # Held-out only: the candidates' judge calls never saw a dev item.
    judged = [item_section(last_user_text(r.body)) for r in server.requests_log if r.body.get("model") == "fake-model"]
    assert len(judged) == 60 + 2 * 30
    author_calls = [r for r in server.requests_log if r.body.get("model") == "author-model"]
    assert [r.body.get("seed") for r in author_calls] == [0, 1, 2]
    prompt = last_user_text(author_calls[0].body)
    assert "<<<ITEM>>>" in prompt and "COUNTER" in prompt and "Current policy" in prompt

    stored = ReviseResult.model_validate_json((out / "revise.json").read_text(encoding="utf-8"))
    assert [c.accepted for c in stored.candidates] == [True, False, False]
    assert (out / "candidates" / "candidate-1.md").read_text(encoding="utf-8") == ADDED
    page = (out / "revise.html").read_text(encoding="utf-8")
    assert "<script" not in page and "+- **HS-E9**" in page.replace("<span class=\"add\">", "")
    assert "&#x27;they are vermin&#x27;" in page  # item text escaped

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    assert first.registry_uri is not None and stored.candidates[0].registry_uri == first.registry_uri
    name, version = first.registry_uri.removeprefix("prompts:/").rsplit("/", 1)
    assert client.get_prompt_version(name, version).tags["status"] == "candidate"

    # A re-run reuses every cached call: no new request reaches the server.
    before = len(server.requests_log)
    again = revise(experiment(policy, items, server.base_url), out_dir=tmp_path / "out2", track=False)
    assert len(server.requests_log) == before and [c.accepted for c in again.candidates] == [True, False, False]

    done = promote(out / "candidates" / "candidate-1.md", by="Ada Reviewer")
    assert done.target == policy.parent / "v2.md"
    promoted = done.target.read_text(encoding="utf-8")
    assert "approved_by: Ada Reviewer" in promoted and "approved_at:" in promoted and EXCEPTION in promoted
    assert client.get_prompt_version(name, version).tags["status"] == "approved"
    assert policy.read_text(encoding="utf-8") == POLICY


def test_promote_refuses_a_rejected_candidate_and_an_existing_target(
        tmp_path: Path, server: FakeOpenAIServer) -> None:
    from harness.cli import main

    policy, items = workspace(tmp_path, server.base_url)
    out = tmp_path / "out"
    from harness.loop.revise import revise

    revise(experiment(policy, items, server.base_url), out_dir=out, track=False)
    rejected = out / "candidates" / "candidate-2.md"
    assert main(["promote", str(rejected), "--by", "Ada", "--no-track"]) == 2
    assert not (policy.parent / "v2.md").exists()
    assert main(["promote", str(out / "candidates" / "candidate-3.md"), "--force", "--by", "Ada", "--no-track"]) == 2
    assert main(["promote", str(out / "candidates" / "candidate-1.md"), "--by", "Ada", "--no-track"]) == 0
    written = (policy.parent / "v2.md").read_text(encoding="utf-8")
    assert main(["promote", str(rejected), "--force", "--by", "Ada", "--no-track"]) == 2  # v2.md exists
    assert (policy.parent / "v2.md").read_text(encoding="utf-8") == written


def test_revise_needs_an_author_section(tmp_path: Path, server: FakeOpenAIServer) -> None:
    from harness.errors import HarnessError
    from harness.loop.revise import revise

    policy, items = workspace(tmp_path, server.base_url)
    exp = experiment(policy, items, server.base_url)
    exp.author = None
    with pytest.raises(HarnessError, match="'author' section"):
        revise(exp, out_dir=tmp_path / "out", track=False)
