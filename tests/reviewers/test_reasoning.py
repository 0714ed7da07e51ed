"""Reasoning models as LLM reviewers, over real loopback HTTP: provider `params` and `reasoning_effort`
arrive in the request (direct and litellm paths), the reasoning is kept in every form it arrives in and
the verdict parsed after it, a cut-off answer abstains naming max_tokens, params are in the cache key,
secrets are refused, and a template's message layout is honoured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.llm import V2, experiment, item_text, write_items

import harness
from harness.config import REASONING_MAX_TOKENS
from harness.errors import HarnessError
from harness.policy import load_policy
from harness.reviewers.llm_verdict import REASONING_MAX_CHARS, clip_reasoning, parse_verdict, split_reasoning
from harness.testing.openai_server import REASONING_FORMS, REASONING_TEXT, FakeOpenAIServer, Reply

pytestmark = pytest.mark.usefixtures("cache_path")

ROWS = [("v1", "they are VIOLATE vermin", "hateful"), ("b1", "a sunny day", "non-hateful")]
PARAMS: dict[str, Any] = {"top_p": 0.5, "extra_body": {"chat_template_kwargs": {"reasoning_effort": "low"}},
                          "extra_headers": {"X-Gateway-Route": "safety"}}


def items(tmp_path: Path, rows: list[tuple[str, str, str]] = ROWS) -> Path:
    return write_items(tmp_path / "items.csv", rows)


def run(tmp_path: Path, api_base: str, out: str = "out", rows: list[tuple[str, str, str]] = ROWS,
        **overrides: Any) -> harness.RunRecord:
    return harness.run(experiment(items(tmp_path, rows), api_base, **overrides), out_dir=tmp_path / out, track=False)


def by_item(record: harness.RunRecord) -> dict[str, Any]:
    return {row.item_id: row for row in record.verdicts.itertuples()}


# --- settings arrive in the request ----------------------------------------------------------

def test_params_and_reasoning_effort_reach_the_direct_openai_path(tmp_path: Path, server: FakeOpenAIServer) -> None:
    record = run(tmp_path, server.base_url, reasoning_effort="low", params=PARAMS)
    sent = server.requests_log
    assert len(sent) == 2
    for logged in sent:
        body = logged.body
        assert body["reasoning_effort"] == "low"
        assert body["top_p"] == 0.5
        assert body["chat_template_kwargs"] == {"reasoning_effort": "low"}  # extra_body merged into the body
        assert "extra_body" not in body and "extra_headers" not in body
        assert logged.headers["x-gateway-route"] == "safety"
        assert body["max_tokens"] == REASONING_MAX_TOKENS  # room to reason before the answer
    params = record.reviewers["fake"]
    assert params.get("reasoning_effort") == "low" and params.get("params") == PARAMS
    assert params.get("max_tokens") == REASONING_MAX_TOKENS


def test_params_and_reasoning_effort_reach_the_litellm_path(tmp_path: Path, server: FakeOpenAIServer) -> None:
    record = run(tmp_path, server.base_url, model="hosted_vllm/fake-model", reasoning_effort="high",
                 params={"top_p": 0.25, "extra_headers": {"X-Gateway-Route": "safety"}}, max_tokens=2048)
    assert {r.decision for r in record.verdicts.itertuples()} == {"actioned", "allowed"}
    for logged in server.requests_log:
        assert logged.body["reasoning_effort"] == "high"
        assert logged.body["top_p"] == 0.25
        assert logged.body["max_tokens"] == 2048  # an explicit max_tokens is kept
        assert logged.headers["x-gateway-route"] == "safety"


def test_params_and_reasoning_effort_are_run_params_in_mlflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             server: FakeOpenAIServer) -> None:
    import json

    from mlflow.tracking import MlflowClient

    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    name = "llm-reasoning-params"
    client = MlflowClient(tracking_uri=tracking_uri)
    client.create_experiment(f"policy-harness/{name}", artifact_location=(tmp_path / "artifacts").as_uri())
    record = harness.run(experiment(items(tmp_path), server.base_url, name=name, reasoning_effort="high",
                                    params={"top_p": 0.5}), out_dir=tmp_path / "out", track=True)
    assert record.mlflow.runs, "tracking failed"
    params = client.get_run(next(iter(record.mlflow.runs.values()))).data.params
    assert params["reviewer.reasoning_effort"] == "high"
    assert json.loads(params["reviewer.params"]) == {"top_p": 0.5}
    assert params["reviewer.max_tokens"] == str(REASONING_MAX_TOKENS)


def test_a_reviewer_without_reasoning_sends_neither_setting(tmp_path: Path, server: FakeOpenAIServer) -> None:
    run(tmp_path, server.base_url)
    body = server.requests_log[0].body
    assert "reasoning_effort" not in body and "top_p" not in body
    assert body["max_tokens"] == 256


# --- the reasoning is kept and the answer parsed after it ------------------------------------

@pytest.mark.parametrize("form", REASONING_FORMS)
def test_reasoning_is_kept_in_every_form_and_the_answer_parsed_after_it(tmp_path: Path, form: str) -> None:
    with FakeOpenAIServer(reasoning=form) as srv:
        record = run(tmp_path, srv.base_url)
    v = by_item(record)
    assert (v["v1"].decision, v["b1"].decision) == ("actioned", "allowed")
    assert v["v1"].categories == ["HS"] and v["v1"].rule_ids == ["HS1"]
    assert v["v1"].reasoning == REASONING_TEXT and v["b1"].reasoning == REASONING_TEXT
    assert REASONING_TEXT not in v["v1"].rationale
    usage = record.usage["fake"]
    assert usage.reasoning_tokens == 2 * (len(REASONING_TEXT) // 4 + 1)
    assert usage.completion_tokens > usage.reasoning_tokens  # reasoning is part of the completion


@pytest.mark.parametrize("form", ["reasoning", "reasoning_content", "think"])
def test_litellm_path_keeps_the_reasoning(tmp_path: Path, form: str) -> None:
    with FakeOpenAIServer(reasoning=form) as srv:
        record = run(tmp_path, srv.base_url, model="hosted_vllm/fake-model")
    v = by_item(record)
    assert (v["v1"].decision, v["b1"].decision) == ("actioned", "allowed")
    assert REASONING_TEXT in v["v1"].reasoning


def test_reasoning_tokens_are_costed_at_the_output_price(tmp_path: Path) -> None:
    with FakeOpenAIServer(reasoning="reasoning") as srv:
        record = run(tmp_path, srv.base_url, price={"input_per_million": 1.0, "output_per_million": 10.0})
    usage = record.usage["fake"]
    assert usage.reasoning_tokens > 0
    assert usage.reasoning_cost_usd == pytest.approx(usage.reasoning_tokens * 10.0 / 1e6)
    assert usage.cost_usd == pytest.approx((usage.prompt_tokens * 1.0 + usage.completion_tokens * 10.0) / 1e6)


def test_reasoning_survives_the_cache(tmp_path: Path) -> None:
    with FakeOpenAIServer(reasoning="reasoning") as srv:
        run(tmp_path, srv.base_url)
        again = run(tmp_path, srv.base_url, out="again")
        assert len(srv.requests_log) == 2  # the second run was served from the cache
    assert by_item(again)["v1"].reasoning == REASONING_TEXT


# --- cut off at the token limit ---------------------------------------------------------------

def test_an_answer_cut_off_at_max_tokens_is_an_abstention_naming_it(tmp_path: Path, server: FakeOpenAIServer) -> None:
    rows = [*ROWS, ("cut", "FAULT:length VIOLATE text", "hateful")]
    record = run(tmp_path, server.base_url, rows=rows, max_tokens=300)
    v = by_item(record)
    assert v["cut"].decision == "abstained"
    assert "max_tokens" in v["cut"].abstain_reason and "300" in v["cut"].abstain_reason
    assert v["v1"].decision == "actioned"


def test_a_cut_off_reasoning_block_keeps_the_reasoning_and_abstains() -> None:
    policy = load_policy(V2)
    verdict = parse_verdict("<think>\nThe item insults a protected group, so rule HS1", policy, "x",
                            finish_reason="length", max_tokens=64)
    assert verdict.decision == "abstained" and "max_tokens" in verdict.abstain_reason
    assert verdict.reasoning == "The item insults a protected group, so rule HS1"


def test_a_json_looking_reasoning_is_not_taken_for_the_answer() -> None:
    policy = load_policy(V2)
    content = '<think>Maybe {"violation": true}? No: it is quoted criticism.</think>\n' \
              '{"violation": false, "categories": [], "rule_ids": [], "confidence": 0.8, "rationale": "quoted"}'
    verdict = parse_verdict(content, policy, "x")
    assert verdict.decision == "allowed" and verdict.reasoning.startswith("Maybe")


def test_reasoning_is_clipped_to_the_documented_size_keeping_both_ends() -> None:
    text = "start " + "x" * (3 * REASONING_MAX_CHARS) + " conclusion"
    clipped = clip_reasoning(text)
    assert clipped.startswith("start ") and clipped.endswith(" conclusion")
    assert len(clipped) < REASONING_MAX_CHARS + 60 and "characters clipped" in clipped
    assert clip_reasoning("short") == "short"


def test_a_responder_reply_in_harmony_without_a_final_channel_has_no_answer() -> None:
    reasoning, answer = split_reasoning("<|channel|>analysis<|message|>still thinking")
    assert (reasoning, answer) == ("still thinking", "")
    assert split_reasoning('{"violation": false}') == (None, '{"violation": false}')


# --- the cache key ----------------------------------------------------------------------------

def test_a_changed_params_value_misses_the_cache(tmp_path: Path, server: FakeOpenAIServer) -> None:
    run(tmp_path, server.base_url, params={"top_p": 0.5})
    run(tmp_path, server.base_url, out="same", params={"top_p": 0.5})
    assert len(server.requests_log) == 2
    run(tmp_path, server.base_url, out="changed", params={"top_p": 0.9})
    assert len(server.requests_log) == 4
    run(tmp_path, server.base_url, out="effort", params={"top_p": 0.9}, reasoning_effort="low")
    assert len(server.requests_log) == 6


def test_a_reviewer_without_the_new_settings_keeps_its_cache_key(tmp_path: Path) -> None:
    from harness.reviewers.llm import LLMReviewer

    reviewer = LLMReviewer(experiment(items(tmp_path), "http://127.0.0.1:9/v1").reviewers[0])  # type: ignore[arg-type]
    assert set(reviewer.identity()) == {"model", "temperature", "max_tokens", "seed", "response_format", "template"}


# --- secrets and first-class settings are refused ---------------------------------------------

SECRET = "sk-proj-Zq8X2mK9vR4tL7wP1nB6"


@pytest.mark.parametrize("params", [
    {"api_key": "abc"},
    {"extra_headers": {"Authorization": "Basic dXNlcjpwYXNz"}},
    {"extra_headers": {"X-Api-Key": "abc"}},
    {"extra_body": {"token": "abc"}},
    {"extra_body": {"note": SECRET}},
    {"extra_headers": {"X-Route": f"Bearer {SECRET[3:]}"}},
    {"metadata": ["Zq8X2mK9vR4tL7wP1nB6aY3cD5eF0gH2"]},
])
def test_a_secret_in_params_is_refused_with_a_pointer_to_api_key_env(tmp_path: Path, params: dict[str, Any]) -> None:
    with pytest.raises(HarnessError) as err:
        experiment(items(tmp_path), "http://127.0.0.1:9/v1", params=params)
    message = str(err.value)
    assert "api_key_env" in message and "params" in message
    assert SECRET not in message and "abc" not in message


@pytest.mark.parametrize(("key", "setting"), [("max_tokens", "max_tokens"), ("temperature", "temperature"),
                                              ("reasoning_effort", "reasoning_effort"), ("model", "harness")])
def test_a_setting_with_its_own_key_is_refused_in_params(tmp_path: Path, key: str, setting: str) -> None:
    with pytest.raises(HarnessError, match=setting):
        experiment(items(tmp_path), "http://127.0.0.1:9/v1", params={key: 1})


def test_params_must_be_plain_json_values(tmp_path: Path) -> None:
    import datetime as dt

    with pytest.raises(HarnessError, match="params"):
        experiment(items(tmp_path), "http://127.0.0.1:9/v1", params={"when": dt.date(2024, 1, 1)})
    with pytest.raises(HarnessError, match="reasoning_effort"):
        experiment(items(tmp_path), "http://127.0.0.1:9/v1", reasoning_effort="extreme")


def test_ordinary_settings_are_not_mistaken_for_secrets(tmp_path: Path) -> None:
    params = {"top_p": 0.9, "stop": ["<|return|>"], "extra_body": {"min_tokens": 1, "stop_token_ids": [200002],
              "chat_template_kwargs": {"enable_thinking": True}}, "extra_headers": {"X-Route": "gpt-oss-safeguard-20b"},
              "metadata": {"commit": "3f786850e387550fdab836ed7e6dc881de23001b"}}
    config = experiment(items(tmp_path), "http://127.0.0.1:9/v1", params=params).reviewers[0]
    assert config.params == params  # type: ignore[union-attr]


# --- prompt layouts ---------------------------------------------------------------------------

def test_the_shipped_safeguard_template_sends_the_policy_as_the_system_message(
        tmp_path: Path, server: FakeOpenAIServer) -> None:
    record = run(tmp_path, server.base_url, prompt="builtin:gpt_oss_safeguard_v1", reasoning_effort="medium")
    messages = server.requests_log[0].body["messages"]
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "## INSTRUCTIONS" in messages[0]["content"] and "## POLICY" in messages[0]["content"]
    assert messages[1]["content"].startswith("<<<ITEM>>>")  # the user message is the delimited item alone
    assert item_text(server.requests_log[0]) in {text for _, text, _ in ROWS}
    assert not any(text in messages[0]["content"] for _, text, _ in ROWS)
    assert record.reviewers["fake"].get("prompt") == "gpt-oss-safeguard@v1"
    assert {r.decision for r in record.verdicts.itertuples()} == {"actioned", "allowed"}


def test_a_single_user_layout_sends_one_user_message_and_misses_the_cache(
        tmp_path: Path, server: FakeOpenAIServer) -> None:
    from harness.reviewers.prompts import builtin_template

    default = builtin_template()
    text = Path(__file__).parents[2] / "harness" / "reviewers" / "prompt_templates" / "reviewer_v1.md"
    template = tmp_path / "single.md"
    template.write_text(text.read_text(encoding="utf-8").replace("version: 1\n", "version: 1\nlayout: single_user\n"),
                        encoding="utf-8")
    run(tmp_path, server.base_url)
    record = run(tmp_path, server.base_url, out="single", prompt=str(template))
    assert len(server.requests_log) == 4  # same template text, another layout: not the same judgement
    messages = server.requests_log[-1].body["messages"]
    assert [m["role"] for m in messages] == ["user"]
    assert messages[0]["content"].startswith(default.system.split("\n")[0])
    assert record.reviewers["fake"].get("prompt_layout") == "single_user"
    assert {r.decision for r in record.verdicts.itertuples()} == {"actioned", "allowed"}


def test_an_unknown_layout_or_shipped_template_is_refused(tmp_path: Path) -> None:
    template = tmp_path / "bad.md"
    template.write_text("---\nid: x\nlayout: sideways\n---\npolicy\n=== ITEM ===\n{{ item }}\n", encoding="utf-8")
    with pytest.raises(HarnessError, match="layout"):
        run(tmp_path, "http://127.0.0.1:9/v1", prompt=str(template))
    with pytest.raises(HarnessError, match="builtin:gpt_oss_safeguard_v1"):
        run(tmp_path, "http://127.0.0.1:9/v1", prompt="builtin:nope")


def test_reasoning_that_used_up_the_tokens_is_kept_beside_the_abstention(tmp_path: Path) -> None:
    def responder(request: dict[str, Any]) -> Reply:
        return Reply(None, reasoning="Weighing rule HS1 against the counter-speech exception",
                     reasoning_form="harmony", reasoning_tokens=300, finish_reason="length")

    with FakeOpenAIServer(responder=responder) as srv:
        record = run(tmp_path, srv.base_url, max_tokens=300)
    for row in record.verdicts.itertuples():
        assert row.decision == "abstained" and "raise the reviewer's 'max_tokens'" in row.abstain_reason
        assert row.reasoning == "Weighing rule HS1 against the counter-speech exception"
    assert record.usage["fake"].reasoning_tokens == 600


def test_the_report_shows_the_reasoning_beside_each_error_escaped(tmp_path: Path) -> None:
    from harness.testing.openai_server import default_responder

    def responder(request: dict[str, Any]) -> Reply:
        return Reply(default_responder(request), reasoning="Rule HS1 applies: <b>vermin</b> dehumanises.")

    rows = [*ROWS, ("fp", "VIOLATE quoted to condemn it", "non-hateful")]
    with FakeOpenAIServer(responder=responder) as srv:
        run(tmp_path, srv.base_url, rows=rows)
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "Rule HS1 applies: &lt;b&gt;vermin&lt;/b&gt; dehumanises." in html
    assert "<b>vermin</b>" not in html
