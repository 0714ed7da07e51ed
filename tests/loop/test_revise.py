"""`revise` and `promote` against the loopback OpenAI-compatible server.

The judge's decision depends on the policy text it is sent: a benign COUNTER item is actioned
unless the policy holds exception HS-E9, and a VIOLATE item is actioned only while rule HS1 exists.
The "author" model (selected by model name) answers by sample index (the request's seed): one
revision adds HS-E9, one adds HS-E9 but deletes HS1, one is not a policy."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.config import parse_experiment
from harness.testing.cohort import toy_policy
from harness.testing.openai_server import FakeOpenAIServer, item_section, last_user_text


@pytest.fixture(autouse=True)
def cache_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cache" / "judgements.sqlite"
    monkeypatch.setenv("POLICY_HARNESS_CACHE", str(path))
    return path

POLICY = toy_policy("toy_hate", 1, "Toy hate speech", heading="Toy hate speech policy",
                    rules=(("HS1", "Dehumanising language about a protected group."),
                           ("HS2", "Contempt or hatred toward a protected group.")),
                    exceptions=(("HS-E1", "Criticism of ideas, not people."),),
                    tail='''
## Examples
- "They are vermin" -> HS1
- "I despise them all" -> HS2
- "This doctrine is wrong" -> HS-E1

When unsure, allow. When two rules apply, cite the lowest-numbered rule.
''')
EXCEPTION = "- **HS-E9** Counter-speech that quotes hate in order to condemn it.\n"
ADDED = POLICY.replace("version: 1", "version: 2").replace("- **HS-E1** Criticism of ideas, not people.\n",
                                                           "- **HS-E1** Criticism of ideas, not people.\n" + EXCEPTION)
DELETED = ADDED.replace("- **HS1** Dehumanising language about a protected group.\n", "").replace(
    '- "They are vermin" -> HS1\n', "")
REVISIONS = [f"Here is the revision.\n\n```markdown\n{ADDED}```\n", f"```markdown\n{DELETED}```",
             "I think the policy is fine as it is; no change needed."]


DESCRIPTION = "Counter-speech that quotes a slur to condemn it is actioned as contempt under HS2."


def is_description(request: dict[str, Any]) -> bool:
    return str(request["messages"][0].get("content")).startswith("You analyse")


def responder(request: dict[str, Any]) -> str:
    if request.get("model") == "author-model":
        if is_description(request):
            return f"**{DESCRIPTION}**\n\nMore detail the harness should drop."
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
    items.write_text("id,text,label,tactic\n" + "".join(f'{i},"{t}",{label},{s}\n' for i, t, label, s in rows),
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
    revisions = [r for r in author_calls if not is_description(r.body)]
    assert [r.body.get("seed") for r in revisions] == [0, 1, 2]
    prompt = last_user_text(revisions[0].body)
    assert "<<<ITEM>>>" in prompt and "COUNTER" in prompt and "Current policy" in prompt
    assert f": {DESCRIPTION}" in prompt  # the dev clusters reach the author with their descriptions

    # The dev part's diagnosis, as the author saw it: the largest clusters described, one call each.
    from harness.record.diagnosis import Diagnosis

    dev = Diagnosis.model_validate_json((out / "diagnosis.json").read_text(encoding="utf-8"))
    over = dev.groups[0].kinds[0]
    assert over.kind == "over_enforcement" and over.errors == 12
    assert [c.description for c in over.by_slice] == [DESCRIPTION]
    described = [c for k in dev.groups[0].kinds for g in (k.by_rule, k.by_slice, k.by_text) for c in g[:3]]
    assert len(author_calls) - len(revisions) == len(described) and all(c.description for c in described)
    assert result.author_usage.calls == len(author_calls)

    stored = ReviseResult.model_validate_json((out / "revise.json").read_text(encoding="utf-8"))
    assert [c.accepted for c in stored.candidates] == [True, False, False]
    assert (out / "candidates" / "candidate-1.md").read_text(encoding="utf-8") == ADDED
    page = (out / "revise.html").read_text(encoding="utf-8")
    assert "<script" not in page and "+- **HS-E9**" in page.replace("<span class=\"add\">", "")
    assert "&#39;they are vermin&#39;" in page  # item text escaped

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
    from harness._cli.main import main

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


def test_promote_renumbers_a_candidate_that_skipped_a_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The author raised the version by two: the file is still v<N+1>.md, its front matter says N+1
    and records the declared version; the registry holds the promoted text as approved."""
    from mlflow.tracking import MlflowClient

    from harness._cli.main import main
    from harness.loop.revise import revise
    from harness.policy import load_policy

    skipped = ADDED.replace("version: 2", "version: 3")

    def skipping(request: dict[str, Any]) -> str:
        if request.get("model") == "author-model":
            return f"```markdown\n{skipped}```"
        return responder(request)

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    with FakeOpenAIServer(responder=skipping) as srv:
        policy, items = workspace(tmp_path, srv.base_url)
        exp = experiment(policy, items, srv.base_url)
        assert exp.author is not None
        exp.author.candidates = 1
        result = revise(exp, out_dir=tmp_path / "out")
    assert result.candidates[0].accepted and result.candidates[0].version == 3
    assert main(["promote", str(tmp_path / "out" / "candidates" / "candidate-1.md"), "--by", "Ada"]) == 0
    assert not (policy.parent / "v3.md").exists()
    promoted = load_policy(policy.parent / "v2.md")
    assert promoted.version == 2 and promoted.extra["renumbered_from"] == 3
    assert promoted.extra["approved_by"] == "Ada" and EXCEPTION in promoted.text
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    versions = [client.get_prompt_version("policy-toy_hate", v.version)
                for v in client.search_prompt_versions("policy-toy_hate")]
    approved = [v for v in versions if v.tags.get("status") == "approved"]
    assert [v.tags["policy_version"] for v in approved] == ["2"] and approved[0].template == promoted.text
    assert approved[0].tags["promoted_from"] == result.candidates[0].registry_uri


def test_estimate_forecasts_a_revise_run_and_cached_judgements_cost_nothing(
        tmp_path: Path, server: FakeOpenAIServer, capsys: pytest.CaptureFixture[str]) -> None:
    import yaml

    from harness._cli.main import main
    from harness.config import load_experiment
    from harness.loop.forecast import forecast_revise
    from harness.loop.revise import revise

    policy, items = workspace(tmp_path, server.base_url)
    exp = experiment(policy, items, server.base_url)
    raw = exp.model_dump(mode="json", exclude_none=True, exclude={"base_dir", "source"})
    raw["author"]["price"] = {"input_per_million": 1.0, "output_per_million": 2.0}
    raw["reviewers"][0]["price"] = {"input_per_million": 0.5, "output_per_million": 1.0}
    path = tmp_path / "revise.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    exp = load_experiment(path)

    forecast = forecast_revise(exp)
    lines = {line.what: line for line in forecast.lines}
    dev, held = lines["judge: current policy on dev"], lines["judge: current policy on held-out"]
    assert (dev.to_send, dev.cached, held.to_send, forecast.dev_items, forecast.holdout_items) == (30, 0, 30, 30, 30)
    candidates = lines["judge: 3 candidates on held-out"]
    assert candidates.to_send == 90 and candidates.upper_bound and candidates.prompt_tokens > 3 * held.prompt_tokens
    revisions = lines["author: 3 revisions"]
    assert revisions.to_send == 3 and revisions.max_completion_tokens == 3 * 2048
    assert revisions.max_cost_usd == pytest.approx((revisions.prompt_tokens * 1.0 + 3 * 2048 * 2.0) / 1e6)
    described = lines["author: cluster descriptions (at most 18)"]
    assert described.calls == 1 * 2 * 3 * 3
    assert forecast.max_cost_usd == pytest.approx(sum(line.max_cost_usd or 0 for line in forecast.lines))
    assert not server.requests_log  # nothing was sent

    revise(exp, out_dir=tmp_path / "out", track=False)
    sent = len(server.requests_log)
    # Everything is cached now: revise is replayed from the cache and every line is exact and free.
    again = forecast_revise(exp)
    assert again.max_cost_usd == 0.0 and not any(line.upper_bound or line.to_send for line in again.lines)
    replayed = {line.what: line for line in again.lines}
    assert replayed["judge: 2 candidates on held-out"].cached == 60  # the invalid third is never judged
    assert replayed["author: 5 cluster descriptions"].cached == 5
    assert replayed["author: 3 revisions"].cached == 3
    assert exp.author is not None
    exp.author.candidates = 4  # a fourth sample is not cached: its answer, and so its candidate, are unknown
    more = {line.what: line for line in forecast_revise(exp).lines}
    assert more["author: 4 revisions"].to_send == 1 and not more["author: 4 revisions"].upper_bound
    assert more["author: 4 revisions"].prompt_tokens > 0
    judged = more["judge: 3 candidates on held-out"]
    assert (judged.to_send, judged.cached, judged.upper_bound) == (30, 60, True)
    assert len(server.requests_log) == sent  # estimating sends nothing
    exp.author.candidates = 3

    assert main(["estimate", "--revise", str(path)]) == 0
    out = capsys.readouterr().out
    assert "30 dev / 30 held-out items, 3 candidates" in out and "total: at most $0.0000" in out
    assert main(["estimate", "--revise", "--limit", "5", str(path)]) == 2
