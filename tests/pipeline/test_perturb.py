"""perturb: a scripted reviewer whose answers depend on section order, formatting and one paraphrased
section; the command finds exactly the planted flips, and a paraphrase that drops a rule is refused."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.llm import REPO_ROOT, V2, write_items

from harness._cli.main import main
from harness.policy import load_policy
from harness.policy import parse_policy as load_policy_text
from harness.policy.variants import plain_text, renamed_ids, reorderings
from harness.testing.openai_server import FakeOpenAIServer, item_section, last_user_text, message_text
from harness.verdicts import read_verdicts

MODERATION = REPO_ROOT / "prompts" / "policies" / "moderation" / "v1.md"
ORDER = [f"order-{i}" for i in range(4)]  # violating items the reviewer allows once Exceptions come first
FORMAT = [f"format-{i}" for i in range(3)]  # ... once the policy has no Markdown bold
PARA = [f"para-{i}" for i in range(2)]  # ... once the Definitions section is paraphrased
STABLE = [f"stable-{i}" for i in range(3)]
KIND = [f"kind-{i}" for i in range(4)]


def scripted(request: dict[str, Any]) -> str:
    messages = request.get("messages", [])
    prompt = "\n".join(message_text(m) for m in messages)
    if "You rewrite one section" in prompt:
        section = re.search(r"```markdown\n(.*?)\n```", last_user_text(request), re.DOTALL)
        assert section is not None
        text = section.group(1)
        heading = text.splitlines()[0].removeprefix("## ").strip()
        if heading == "Rules":  # a paraphrase that loses a rule: lint must refuse it
            text = "\n".join(line for line in text.splitlines() if "**HS5**" not in line)
        return f"```markdown\n{text}\nReworded: {heading}.\n```"
    item = item_section(last_user_text(request)).rsplit("<<<END ITEM>>>", 1)[0].strip()
    kind = item.split()[0]
    violation = {
        "ORDER": prompt.find("Rules") < prompt.find("Exceptions"),
        "FORMAT": "**" in prompt,
        "PARA": "Reworded: Definitions." not in prompt,
        "STABLE": True,
    }.get(kind, False)
    cited = re.search(r"(?:\*\*)?([A-Z][A-Z0-9-]*)(?:\*\*)?:? Dehumanising language about", prompt)
    return json.dumps({"violation": violation, "categories": ["HS"] if violation else [],
                       "rule_ids": [cited.group(1)] if violation and cited else [], "confidence": 0.9,
                       "rationale": "r"})


def write_experiment(tmp_path: Path, api_base: str) -> Path:
    rows = [(i, f"{i.split('-')[0].upper()} item {i}", "non-hateful" if i in KIND else "hateful")
            for i in ORDER + FORMAT + PARA + STABLE + KIND]
    items = write_items(tmp_path / "items.csv", rows)
    path = tmp_path / "perturb.yaml"
    path.write_text(yaml.safe_dump({
        "name": "perturb-test", "policy": str(V2),
        "eval_set": {"path": str(items), "columns": {"id": "id"}, "labels": {"hateful": "HS", "non-hateful": "benign"}},
        "reviewers": [{"name": "fake", "type": "llm", "model": "openai/fake-model", "api_base": api_base}],
        "author": {"model": "openai/fake-model", "api_base": api_base, "temperature": 0},
    }))
    return path


def test_planted_flips_are_found_exactly(tmp_path: Path, cache_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAIServer(responder=scripted) as server:
        experiment = write_experiment(tmp_path, server.base_url)
        assert main(["estimate", str(experiment), "--perturb"]) == 0
        assert server.stats["requests"] == 0  # a forecast sends nothing
        assert "160 of 160 judgements to send" in capsys.readouterr().out
        assert main(["perturb", str(experiment), "--out", str(tmp_path / "out")]) == 0
        sent = server.stats["requests"]
        assert main(["perturb", str(experiment), "--out", str(tmp_path / "again")]) == 0
        assert server.stats["requests"] == sent  # every variant's judgements and paraphrases came from the cache
        printed = capsys.readouterr().out
        assert main(["estimate", str(experiment), "--perturb"]) == 0
        assert "0 of 144 judgements to send" in capsys.readouterr().out
    assert "forecast:" in printed and "most sensitive: (order of the rule sections)" in printed

    result = json.loads((tmp_path / "out" / "perturb.json").read_text())
    assert result["schema_version"] == 1 and result["items"] == 16
    assert [r["name"] for r in result["refused"]] == ["paraphrase:Rules"]
    assert "HS5" in result["refused"][0]["reason"]
    fake = result["reviewers"]["fake"]
    flips = {v["variant"]: set(v["flipped_item_ids"]) for v in fake["variants"]}
    assert flips == {
        "reorder:reversed": set(ORDER), "plain": set(FORMAT), "renamed": set(),
        "paraphrase:Instruction": set(), "paraphrase:Definitions": set(PARA), "paraphrase:Exceptions": set(),
        "paraphrase:Examples": set(), "paraphrase:When unsure": set()}
    assert (fake["flip_share"]["k"], fake["flip_share"]["n"]) == (9, 16)
    assert fake["leakage_spread"]["min"] == 0.0 and fake["leakage_spread"]["max"] == 4 / 12
    assert fake["leakage_spread"]["highest"] == "reorder:reversed"
    reorder = next(v for v in fake["variants"] if v["variant"] == "reorder:reversed")
    assert reorder["leakage_change"]["change"] == pytest.approx(4 / 12) and reorder["p_holm"] >= reorder["accuracy_mcnemar_p"]
    assert [s["section"] for s in fake["sections"][:3]] == ["(order of the rule sections)", "(formatting: plain text)",
                                                            "Definitions"]
    verdicts = read_verdicts(tmp_path / "out" / "verdicts.parquet")
    renamed = verdicts[(verdicts["policy"] == "renamed") & (verdicts["decision"] == "actioned")]
    assert len(renamed) and all(list(ids) == ["HS1"] for ids in renamed["rule_ids"])  # R1 mapped back


def test_variants_keep_the_rules_and_reorder_only_when_order_carries_no_meaning(tmp_path: Path) -> None:
    policy = load_policy(V2)
    for variant in (plain_text(policy), renamed_ids(policy)):
        assert len(variant.policy.rules) == len(policy.rules) and variant.policy.sha256 != policy.sha256
    assert "**" not in plain_text(policy).policy.body and "HS-E2" not in renamed_ids(policy).policy.body
    [reordered], _ = reorderings(policy)
    assert reordered.policy.body.index("## Exceptions") < reordered.policy.body.index("## Rules")
    positional = tmp_path / "ordered.md"
    positional.write_text(V2.read_text().replace("cite the lowest-numbered rule", "the first rule that applies wins"))
    variants, reason = reorderings(load_policy(positional))
    assert not variants and reason is not None and "first rule that applies" in reason


def test_a_multi_category_policy_gets_two_reorderings_and_keeps_its_ids_when_renamed() -> None:
    policy = load_policy(MODERATION)
    variants, reason = reorderings(policy)
    assert reason is None and [v.name for v in variants] == ["reorder:reversed", "reorder:rotated"]
    for variant in variants:  # every rule and exception kept, each under its own heading
        assert sorted(r.id for r in load_policy_text(variant.policy.text).rules) == sorted(policy.rule_ids)
    renamed = renamed_ids(policy)
    assert set(renamed.id_map.values()) == set(policy.rule_ids)
    assert sorted(r.id for r in load_policy_text(renamed.policy.text).rules) == sorted(renamed.id_map)
