"""`localized: true`: a scripted model that only catches German code words when it reads the German
policy; the run shows the paired change for German items and nothing for languages without one."""

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
from harness.config import parse_experiment
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


def config(policy: Path, items: Path, api_base: str, **extra: object) -> dict[str, Any]:
    return {"name": "localized", "policy": str(policy), "localized": True,
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
    assert line in (tmp_path / "out" / "report.html").read_text()


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
