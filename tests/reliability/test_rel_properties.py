"""Properties of the loaders and the verdict path: whatever the input, the outcome is a loaded object or
one HarnessError line naming the file, never another exception; any model answer becomes a verdict or an
abstention that can be stored."""

from __future__ import annotations

import io
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.llm import experiment, write_items
from support.reliability import V2

import harness
from harness.config import (
    ClassifierReviewerConfig,
    ColumnMap,
    EvalSetConfig,
    Experiment,
    GateSpec,
    InjectionConfig,
    LLMReviewerConfig,
    StrataSpec,
    TrackingConfig,
    load_experiment,
    parse_experiment,
)
from harness.errors import HarnessError
from harness.evalset import load_evalset
from harness.policy import load_policy, parse_policy
from harness.reviewers.llm_verdict import parse_verdict
from harness.testing.openai_server import FakeOpenAIServer
from harness.verdicts import DECISIONS, verdict_table

SETTINGS = settings(max_examples=150, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
_names = itertools.count()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("properties")


@pytest.fixture(autouse=True)
def private_datasets_cache(scratch: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every generated file gets an Arrow cache entry; keep them out of ~/.cache."""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(scratch / "hf"))


def fresh(scratch: Path, suffix: str) -> Path:
    """A new file name per example: the Arrow cache must never serve a previous example's table."""
    return scratch / f"f{next(_names)}{suffix}"


def assert_one_line_naming(err: HarnessError, path: Path) -> None:
    message = str(err)
    assert "\n" not in message, message
    assert path.name in message or str(path) in message, message


# --- eval-set files: arbitrary bytes -----------------------------------------------------------

# Bytes that matter to CSV, JSON and UTF-8 decoders, mixed with words the default mapping looks for.
_TOKENS = st.sampled_from([b",", b"\t", b";", b'"', b"\n", b"\r\n", b"{", b"}", b"[", b"]", b":", b"\\", b"\\u",
                           b"\\ud800", b"\x00", b"\xef\xbb\xbf", b"\xff", b"\xc3", b"\xe9", b" ", b"text", b"label",
                           b"benign", b"HS", b"id", b"1", b"-1", b"nan", b"null", b'"text"', b'"label"', b"true"])
_HEADERS = st.sampled_from([b"", b"text,label\n", b"text\tlabel\n", b"id,text,label\n", b'{"text": "a", "label": "HS"}\n'])
FILE_BYTES = st.one_of(
    st.binary(max_size=200),
    st.builds(lambda head, parts: head + b"".join(parts), _HEADERS, st.lists(_TOKENS, max_size=40)),
    st.builds(lambda head, rows: head + b"".join(rows), _HEADERS,
              st.lists(st.tuples(st.text(max_size=8), st.sampled_from(["HS", "benign", "", "x"])).map(
                  lambda r: (json.dumps({"text": r[0], "label": r[1]}) + "\n").encode("utf-8", "surrogatepass")),
                  max_size=5)),
)


def test_any_bytes_load_or_fail_clearly(scratch: Path) -> None:
    @SETTINGS
    @given(suffix=st.sampled_from([".csv", ".tsv", ".jsonl"]), content=FILE_BYTES)
    def check(suffix: str, content: bytes) -> None:
        path = fresh(scratch, suffix)
        path.write_bytes(content)
        try:
            evalset = load_evalset(EvalSetConfig(path=str(path)))
        except HarnessError as err:
            assert_one_line_naming(err, path)
            return
        assert len(evalset) >= 1
        assert evalset.items["text"].map(lambda t: bool(str(t).strip())).all()
        assert evalset.items["item_id"].is_unique

    check()


# --- experiments: arbitrary YAML-ish values under the real keys --------------------------------

def _fields(*models: type) -> list[str]:
    return sorted({name for model in models for name in model.model_fields if name != "base_dir"})


KEYS = _fields(Experiment, EvalSetConfig, ColumnMap, LLMReviewerConfig, ClassifierReviewerConfig, GateSpec,
               InjectionConfig, TrackingConfig, StrataSpec) + ["over_enforcement", "leakage@HS", "hateful"]
SCALARS = (st.none() | st.booleans() | st.integers(-(10**20), 10**20) | st.floats() | st.text(max_size=10)
           | st.sampled_from(["llm", "classifier", "items.csv", "policy.md", "HS", "benign", "csv", "hf:x",
                              "openai/x", "auto", "none", "0.5", "-1", "", " ", "[", "{{ item }}"]))
YAMLISH = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(st.sampled_from(KEYS) | SCALARS.filter(lambda k: k is not None), inner,
                                         max_size=4), max_leaves=12)


def _maybe(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a plausible value, sometimes anything."""
    return st.one_of(valid, valid, valid, YAMLISH)


# Values many keys accept (counts, shares, names, switches): optional keys are often valid, often not.
PLAUSIBLE = _maybe(st.integers(1, 5) | st.floats(0, 1) | st.just("x") | st.booleans())


def _optional(model: type, *skip: str) -> dict[str, st.SearchStrategy[Any]]:
    return {k: PLAUSIBLE for k in _fields(model) if k not in skip}


_REVIEWER = st.one_of(
    st.fixed_dictionaries({"name": _maybe(st.text(min_size=1, max_size=6)), "type": _maybe(st.just("llm")),
                           "model": _maybe(st.just("openai/x"))},
                          optional=_optional(LLMReviewerConfig, "name", "type", "model")),
    st.fixed_dictionaries({"name": _maybe(st.text(min_size=1, max_size=6)), "type": _maybe(st.just("classifier"))},
                          optional=_optional(ClassifierReviewerConfig, "name", "type", "train")),
)
_LABELS = st.dictionaries(SCALARS.filter(lambda k: k is not None), st.sampled_from(["HS", "benign"]), max_size=3)
_EVAL_SET = st.fixed_dictionaries(
    {"path": _maybe(st.sampled_from(["items.csv", "a.jsonl"]) | st.lists(st.just("a.csv"), max_size=2))},
    optional={"columns": _maybe(st.fixed_dictionaries({}, optional=_optional(ColumnMap))),
              "labels": _maybe(_LABELS), "format": _maybe(st.sampled_from(["csv", "tsv", "jsonl", "xlsx"])),
              "prevalence": _maybe(st.floats(0, 1) | st.dictionaries(st.just("HS"), st.floats(0, 1))),
              "strata": _maybe(st.fixed_dictionaries({"column": st.just("s"), "sizes": _maybe(_LABELS.map(
                  lambda d: dict.fromkeys(d, 10)))})),
              **_optional(EvalSetConfig, "path", "columns", "labels", "format", "prevalence", "strata")})
_GATES = st.dictionaries(st.sampled_from(["over_enforcement", "leakage@HS", "leakge", "x"]),
                         _maybe(st.fixed_dictionaries({}, optional=_optional(GateSpec))), max_size=2)
EXPERIMENTS = st.fixed_dictionaries(
    {"name": _maybe(st.text(min_size=1, max_size=6)), "policy": _maybe(st.just("policy.md")),
     "eval_set": _maybe(_EVAL_SET), "reviewers": _maybe(st.lists(_maybe(_REVIEWER), min_size=1, max_size=3))},
    optional={"baseline": _maybe(st.just("v1.md")), "limit": _maybe(st.integers(-2, 5)), "seed": PLAUSIBLE,
              "description": PLAUSIBLE, "gates": _maybe(_GATES),
              "tracking": _maybe(st.fixed_dictionaries({}, optional=_optional(TrackingConfig))),
              "injection": _maybe(st.fixed_dictionaries({}, optional=_optional(InjectionConfig)))})


@SETTINGS
@given(data=EXPERIMENTS)
def test_any_experiment_dict_parses_or_fails_clearly(data: dict[str, Any]) -> None:
    try:
        parsed = parse_experiment(data, path="exp.yaml")
    except HarnessError as err:
        assert "\n" not in str(err) and "exp.yaml" in str(err), str(err)
        return
    assert isinstance(parsed, Experiment) and parsed.reviewers


@pytest.mark.parametrize("source", ["dict", "text"])
def test_any_experiment_file_loads_or_fails_clearly(source: str, scratch: Path) -> None:
    """Through the YAML layer: a dumped dict, or arbitrary text (tabs, anchors, tags, impossible dates)."""
    yaml_text = st.one_of(
        st.text(max_size=80),
        st.lists(st.sampled_from(["name: x\n", "policy: p.md\n", "eval_set:\n", "  path: a.csv\n", "\t", "- ",
                                  "reviewers: [", "{", "}", "]", "&a ", "*a ", "!!int x", "!!binary ==", "2021-13-45",
                                  "!!python/object:os.system x", "? ", ": ", "'", '"', "#", "\n", "[" * 40]),
                 max_size=20).map("".join),
    )
    strategy = EXPERIMENTS.map(lambda d: yaml.safe_dump(d, allow_unicode=True)) if source == "dict" else yaml_text

    @SETTINGS
    @given(text=strategy)
    def check(text: str) -> None:
        path = fresh(scratch, ".yaml")
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            load_experiment(path)
        except HarnessError as err:
            assert_one_line_naming(err, path)

    check()


# --- policies: arbitrary Markdown --------------------------------------------------------------

_FRONT_LINES = st.sampled_from(["id: p\n", "id: p q\n", "version: 1\n", "version: v2\n", "version: 0\n",
                                "version: [1]\n", "categories:\n", "  - {id: HS, name: Hate}\n", "  - {id: benign}\n",
                                "  - HS\n", "categories: 2021-13-45\n", "title: T\n", "id: [\n", "\t", ": "])
_BODY_LINES = st.sampled_from(["# Policy\n", "- **HS1** Rule.\n", "- **HS2**: Rule.\n", "- **HS1** Again.\n",
                               "## Exceptions\n", "- **HS-E1** Fine.\n", "1. **R-1** x\n", "* **lower** x\n", "\r\n"])
POLICY_TEXT = st.one_of(
    st.text(max_size=120),
    st.builds(lambda front, body: "---\nid: p\nversion: 1\ncategories: [{id: HS}]\n" + "".join(front) + "---\n"
              + "".join(body), st.lists(_FRONT_LINES, max_size=3), st.lists(_BODY_LINES, max_size=8)),
    st.lists(st.sampled_from(["---\n", "id: p\n", "version: 1\n", "version: v2\n", "version: 0\n", "categories:\n",
                              "  - {id: HS, name: Hate}\n", "  - {id: benign}\n", "  - HS\n", "- **HS1** Rule.\n",
                              "- **HS1** Again.\n", "## Exceptions\n", "- **HS-E1** Fine.\n", "[", "\t", ": ", "\r\n",
                              "id: [\n", "categories: 2021-13-45\n", "\ufeff"]), max_size=16).map("".join),
)


@SETTINGS
@given(text=POLICY_TEXT)
def test_any_policy_text_parses_or_fails_clearly(text: str) -> None:
    try:
        policy = parse_policy(text, path="p.md")
    except HarnessError as err:
        assert "\n" not in str(err) and "p.md" in str(err), str(err)
        return
    assert policy.version >= 1 and policy.categories
    assert len(set(policy.rule_ids)) == len(policy.rule_ids)


def test_policy_file_with_bom_and_crlf_loads(scratch: Path) -> None:
    path = fresh(scratch, ".md")
    path.write_bytes(b"\xef\xbb\xbf" + V2.read_text(encoding="utf-8").replace("\n", "\r\n").encode())
    assert load_policy(path).rule_ids == load_policy(V2).rule_ids


# --- model answers: any text is a verdict or an abstention, and can be stored ------------------

_JSON_BITS = st.sampled_from(['{"violation": true', '{"violation": false', ', "categories": ["HS"]',
                              ', "rule_ids": ["HS1", "ZZ9"]', ', "confidence": 1e999', ', "rationale": "',
                              '\\ud800', '\\u0000', "\x00", "\ud800", '"', "}", "```json\n", "```", "I'm sorry"])
ANSWERS = st.one_of(
    st.lists(st.text(max_size=5) | st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), max_size=12).map("".join),
    st.lists(_JSON_BITS | st.text(max_size=5), max_size=12).map("".join),
    st.lists(_JSON_BITS, max_size=12).map("".join).map(lambda s: json.loads(json.dumps(s))),
    st.builds(lambda r: json.loads('"' + r + '"'), st.just('{\\"violation\\": true, \\"rationale\\": \\"\\ud800\\"}')),
)


@SETTINGS
@given(content=ANSWERS)
def test_any_answer_is_a_storable_verdict_or_abstention(content: str) -> None:
    """The existing parser property (tests/reviewers) checks the decision; this one checks it survives
    the trip to disk: a lone surrogate in a rationale once crashed the verdict table after every
    judgement had been paid for."""
    policy = load_policy(V2)
    verdict = parse_verdict(content, policy, "item")
    assert verdict.decision in DECISIONS
    assert (verdict.decision == "abstained") == bool(verdict.abstain_reason)
    table = verdict_table([verdict], policy=policy.label, reviewer="r")
    table.to_parquet(io.BytesIO(), index=False)
    json.dumps(table.to_dict("records"), ensure_ascii=False).encode("utf-8")


def test_lone_surrogate_from_the_provider_is_judged_and_stored(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """End to end: the server escapes a lone surrogate (valid JSON, invalid text); the run completes."""
    monkeypatch.setenv("POLICY_HARNESS_CACHE", str(tmp_path / "cache.sqlite"))
    answer = '{"violation": true, "categories": ["HS"], "rule_ids": ["HS1"], "confidence": 0.9, "rationale": "x \ud800 y"}'
    rows = [("a", "VIOLATE one", "hateful"), ("b", "two", "non-hateful")]
    with FakeOpenAIServer(responder=lambda request: answer) as server:
        record = harness.run(experiment(write_items(tmp_path / "items.csv", rows), server.base_url),
                             out_dir=tmp_path / "out", track=False, report=False)
    assert list(record.verdicts["decision"]) == ["actioned", "actioned"]
    assert harness.read_record(tmp_path / "out").verdicts["rationale"].str.contains("x").all()
