"""Localized policies in a run: a scripted model that only catches code words when it reads a translated
policy (the marker line). `localized: side_by_side` (or the older `true`) shows the paired change for German
items and nothing for languages without one; by default (`auto`) each version judges the items with its
own translation in their language and the record says which judged which."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from support.llm import V2

import harness
from harness._cli.main import main
from harness.config import load_experiment, parse_experiment
from harness.pipeline.rescore import rescore
from harness.reporting.console import summary
from harness.testing.openai_server import FakeOpenAIServer, item_section, last_user_text

VERDICT = '{{"violation": {v}, "categories": {c}, "rule_ids": [], "confidence": 0.9, "rationale": "r"}}'
MARKER = "POLICY-DE-MARKER"


def judge(request: dict[str, Any]) -> str:
    item = item_section(last_user_text(request))
    violating = "VIOLATE" in item or ("CODEWORT" in item and MARKER in json.dumps(request, ensure_ascii=False))
    return VERDICT.format(v=str(violating).lower(), c='["HS"]' if violating else "[]")


def setup(tmp_path: Path, language_values: dict[str, str] | None = None) -> tuple[Path, Path]:
    text = V2.read_text(encoding="utf-8")
    (tmp_path / "v2.md").write_text(text, encoding="utf-8")
    head, body = text.split("\n---\n", 1)
    (tmp_path / "v2.de.md").write_text(f"{head}\nlanguage: de\n---\n{body}\n{MARKER}: Codewörter sind Hassrede.\n",
                                       encoding="utf-8")
    rows = []
    for lang in ("en", "de", "fr"):
        for i in range(10):
            hidden = lang != "en" and i < 4  # coded hate the original policy misses
            rows.append((f"{lang}-h{i}", f"{lang} {'CODEWORT' if hidden else 'VIOLATE'} {i}", "hateful", lang))
            rows.append((f"{lang}-b{i}", f"{lang} kind words {i}", "non-hateful", lang))
    frame = pd.DataFrame(rows, columns=["id", "text", "label", "language"])
    frame["language"] = frame["language"].map(lambda v: (language_values or {}).get(v, v))
    frame.to_csv(tmp_path / "items.csv", index=False)
    return tmp_path / "v2.md", tmp_path / "items.csv"


def config(policy: Path, items: Path, api_base: str, localized: object = True, **extra: object) -> dict[str, Any]:
    """`localized=None` leaves the key out (the default, auto)."""
    return {"name": "localized", "policy": str(policy), **({} if localized is None else {"localized": localized}),
            "eval_set": {"path": str(items), "columns": {"id": "id", "slices": ["language"]},
                         "labels": {"hateful": "HS", "non-hateful": "benign"}},
            "reviewers": [{"name": "fake", "type": "llm", "model": "openai/fake-model", "api_base": api_base}],
            **extra}


def test_german_items_judged_with_the_german_policy_leak_less(tmp_path: Path, cache_path: Path) -> None:
    policy, items = setup(tmp_path)
    with FakeOpenAIServer(responder=judge) as server:
        record = harness.run(parse_experiment(config(policy, items, server.base_url)), out_dir=tmp_path / "out",
                             track=False)
        # 60 items under the original, and again only the 20 German ones: the others are the original's, cached
        assert server.stats["requests"] == 60 + 20
    assert record.candidate == "hate_speech@v2+localized" and record.baseline == "hate_speech@v2"
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    block = metrics["localized"]
    assert block["translations"] == {"de": "v2.de.md"} and block["column"] == "language"
    [de] = block["reviewers"]["fake"]
    assert de["language"] == "de" and de["translation"] == "v2.de.md"
    leak = de["leakage_change"]
    assert (leak["before"], leak["after"], leak["n"]) == (0.4, 0.0, 10) and leak["change"] == pytest.approx(-0.4)
    assert leak == metrics["comparison"]["fake"]["slices"]["language"]["de"]["leakage_change"]
    assert leak["ci_high"] < 0  # four of ten fixed, none broken: the interval excludes no change
    # French has no translation: judged with the original under both labels, so nothing changes
    assert metrics["comparison"]["fake"]["slices"]["language"]["fr"]["leakage_change"]["change"] == 0.0
    low, high = leak["ci_low"] * 100, leak["ci_high"] * 100
    line = f"judging de items with the de policy: leakage -40.0 points [{low:+.1f}, {high:+.1f}]"
    assert line in (tmp_path / "out" / "report.md").read_text()
    html = (tmp_path / "out" / "report.html").read_text()
    assert line in html and '<a href="#localized">Localized policy</a>' in html


def test_validate_lints_the_original_and_each_translation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy, items = setup(tmp_path)
    (tmp_path / "x.yaml").write_text(yaml.safe_dump(config(policy, items, "http://127.0.0.1:9/v1")))
    assert main(["validate", str(tmp_path / "x.yaml")]) == 0
    out = capsys.readouterr().out
    assert "hate_speech@v2+localized vs hate_speech@v2" in out
    assert out.count("v2.md)") == 1 and out.count("v2.de.md)") == 1


def test_item_languages_must_be_bcp47(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy, items = setup(tmp_path, {"de": "german"})
    (tmp_path / "x.yaml").write_text(yaml.safe_dump(config(policy, items, "http://127.0.0.1:9/v1")))
    assert main(["validate", str(tmp_path / "x.yaml")]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "'german' is not a BCP 47 language tag; write 'de'" in line and "items.csv" in line


def test_localized_takes_no_baseline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy, items = setup(tmp_path)
    (tmp_path / "x.yaml").write_text(yaml.safe_dump(config(policy, items, "http://127.0.0.1:9/v1",
                                                           baseline=str(V2.parent / "v1.md"))))
    assert main(["validate", str(tmp_path / "x.yaml")]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "takes no 'baseline'" in line


def translate_beside(policy: Path, language: str) -> Path:
    """`policy`'s translation into `language`: its text with the marker line the scripted model reads."""
    head, body = policy.read_text(encoding="utf-8").split("\n---\n", 1)
    path = policy.with_name(f"{policy.stem}.{language}.md")
    path.write_text(f"{head}\nlanguage: {language}\n---\n{body}\n{MARKER}: code words are hate speech.\n",
                    encoding="utf-8")
    return path


def test_by_default_each_item_is_judged_with_the_translation_in_its_language(tmp_path: Path,
                                                                               cache_path: Path) -> None:
    policy, items = setup(tmp_path)
    with FakeOpenAIServer(responder=judge) as server:
        off = harness.run(parse_experiment(config(policy, items, server.base_url, localized="off")),
                          out_dir=tmp_path / "off", track=False)
        assert server.stats["requests"] == 60 and off.metrics.translations_used is None
        assert off.metrics.reviewers["fake"].leakage.k == 8  # de and fr code words leak
        record = harness.run(parse_experiment(config(policy, items, server.base_url, localized=None)),
                             out_dir=tmp_path / "out", track=False)
        # only the German items are new: the en and fr items reuse the original's cached judgements
        assert server.stats["requests"] == 60 + 20
        harness.run(parse_experiment(config(policy, items, server.base_url, localized="side_by_side")),
                    out_dir=tmp_path / "sbs", track=False)
        assert server.stats["requests"] == 60 + 20  # both wordings are cached now
        (tmp_path / "v2.de.md").write_text((tmp_path / "v2.de.md").read_text() + "\nEin Satz mehr.\n")
        harness.run(parse_experiment(config(policy, items, server.base_url, localized=None)),
                    out_dir=tmp_path / "edited", track=False)
        assert server.stats["requests"] == 60 + 20 + 20  # the translation's text is in the cache key
    assert record.candidate == "hate_speech@v2" and record.baseline is None and record.metrics.localized is None
    assert record.metrics.reviewers["fake"].leakage.k == 4  # only fr still leaks
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["translations_used"] == [{"policy": "hate_speech@v2", "original": "v2.md", "column": "language",
                                             "languages": {"de": "v2.de.md"}, "untranslated": ["en", "fr"]}]
    line = "policy hate_speech@v2 judged de items with v2.de.md; en, fr with v2.md"
    assert f"  {line}" in summary(record).splitlines()
    assert f"P{line[1:]}." in (tmp_path / "out" / "report.md").read_text()
    html = (tmp_path / "out" / "report.html").read_text()
    assert f"P{line[1:]}." in html and '<a href="#localized">Localized policy</a>' in html
    assert 'href="#localized"' not in (tmp_path / "off" / "report.html").read_text()


def test_candidate_and_baseline_each_judge_with_their_own_translations(tmp_path: Path, cache_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    policy, items = setup(tmp_path)  # v2.de.md
    v1 = tmp_path / "v1.md"
    v1.write_text((V2.parent / "v1.md").read_text(encoding="utf-8"), encoding="utf-8")
    translate_beside(v1, "fr")
    data = config(policy, items, "http://127.0.0.1:9/v1", localized=None, baseline=str(v1))
    (tmp_path / "x.yaml").write_text(yaml.safe_dump(data))
    assert main(["validate", str(tmp_path / "x.yaml")]) == 0
    out = capsys.readouterr().out
    assert "translations of hate_speech@v2: v2.de.md (de); judge de (20 items) with v2.de.md; the original judges en, fr" in out
    assert "translations of hate_speech@v1: v1.fr.md (fr); judge fr (20 items) with v1.fr.md; the original judges de, en" in out
    with FakeOpenAIServer(responder=judge) as server:
        record = harness.run(parse_experiment({**data, "reviewers": [{**data["reviewers"][0],
                                                                      "api_base": server.base_url}]}),
                             out_dir=tmp_path / "out", track=False)
    assert (record.candidate, record.baseline) == ("hate_speech@v2", "hate_speech@v1")
    assert [(u.policy, u.languages) for u in record.metrics.translations_used or []] == [
        ("hate_speech@v2", {"de": "v2.de.md"}), ("hate_speech@v1", {"fr": "v1.fr.md"})]
    change = record.metrics.comparison["fake"].slices["language"]
    assert change["de"].leakage_change.change == pytest.approx(-0.4)  # v1 read no German policy
    assert change["fr"].leakage_change.change == pytest.approx(0.4)  # v2 read no French policy
    console = summary(record)
    assert "policy hate_speech@v1 judged fr items with v1.fr.md; de, en with v1.md" in console


def test_validate_names_translations_it_does_not_use(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy, items = setup(tmp_path)
    for name, localized in (("off", "off"), ("old", False)):
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(config(policy, items, "http://127.0.0.1:9/v1",
                                                                     localized=localized)))
        assert main(["validate", str(tmp_path / f"{name}.yaml")]) == 0
        assert "translations of hate_speech@v2: v2.de.md (de); not used (localized: off)" in capsys.readouterr().out
    plain = config(policy, items, "http://127.0.0.1:9/v1", localized=None)
    plain["eval_set"]["columns"] = {"id": "id"}  # no language slice: nothing says which items are German
    (tmp_path / "plain.yaml").write_text(yaml.safe_dump(plain))
    assert main(["validate", str(tmp_path / "plain.yaml")]) == 0
    out = capsys.readouterr().out
    assert "hate_speech@v2+localized" not in out and "v2.de.md (de); not used: the eval set has no language column" in out
    assert main(["validate", str(policy)]) == 0
    assert "translations beside it: v2.de.md (de)" in capsys.readouterr().out


def test_item_languages_must_be_bcp47_whenever_translations_judge(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    policy, items = setup(tmp_path, {"de": "german"})
    (tmp_path / "x.yaml").write_text(yaml.safe_dump(config(policy, items, "http://127.0.0.1:9/v1", localized=None)))
    assert main(["validate", str(tmp_path / "x.yaml")]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "'german' is not a BCP 47 language tag; write 'de'" in line
    (tmp_path / "v2.de.md").unlink()  # without translations the language column is a slice like any other
    assert main(["validate", str(tmp_path / "x.yaml")]) == 0


def test_rescore_rebuilds_the_localized_block(tmp_path: Path, cache_path: Path) -> None:
    policy, items = setup(tmp_path)
    with FakeOpenAIServer(responder=judge) as server:
        data = config(policy, items, server.base_url)
        harness.run(parse_experiment(data), out_dir=tmp_path / "out", track=False)
    kept = rescore(tmp_path / "out", experiment_path=None, out_dir=tmp_path / "same", track=False)
    assert kept.metrics.localized is not None
    assert kept.metrics.localized.model_dump() == json.loads((tmp_path / "out" / "metrics.json").read_text())["localized"]
    # one German code-word item was mislabelled: its gold is fixed in a new eval set, and the block follows it
    frame = pd.read_csv(items)
    frame.loc[frame["id"] == "de-h0", "label"] = "non-hateful"
    frame.to_csv(tmp_path / "fixed.csv", index=False)
    (tmp_path / "fixed.yaml").write_text(yaml.safe_dump({**data, "eval_set": {**data["eval_set"],
                                                                              "path": str(tmp_path / "fixed.csv")}}))
    fixed = rescore(tmp_path / "out", experiment_path=str(tmp_path / "fixed.yaml"), out_dir=tmp_path / "fixed",
                    track=False)
    assert load_experiment(tmp_path / "fixed.yaml").localized == "side_by_side"
    assert fixed.metrics.localized is not None
    [de] = fixed.metrics.localized.reviewers["fake"]
    assert (de.leakage_change.n, de.leakage_change.before, de.leakage_change.after) == (9, pytest.approx(3 / 9), 0.0)
    assert "judging de items with the de policy: leakage -33.3 points" in (tmp_path / "fixed" / "report.md").read_text()
