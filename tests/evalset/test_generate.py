"""`generate`: functional test items (minimal pairs, obfuscations) from a templates file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from harness._cli.main import main
from harness.config import parse_experiment
from harness.errors import HarnessError
from harness.evalset import load_evalset
from harness.evalset.generate import generate, load_suite

REPO = Path(__file__).resolve().parents[2]

SMALL = """
name: tiny
language: en
targets:
  protected:
    - {id: robots, group: robots, member: a robot}
    - {id: ghosts, group: ghosts, member: a ghost, belief: ghostism}
  other:
    - {id: pigeons, group: pigeons}
functionalities:
  - id: dehumanise
    label: HS
    rule: HS1
    templates:
      - {id: pests, text: "{group} are [pests]."}
      - {id: plain, text: "I dislike every one of them."}
  - id: negation
    label: benign
    templates:
      - {id: pests, text: "{group} are not pests.", pair: dehumanise/pests}
  - id: quote
    label: benign
    templates: ['He said "{Group} are pests" and I told him off.']
  - id: belief
    label: benign
    templates: ["I disagree with {belief}."]
  - id: other_target
    label: benign
    targets: other
    templates: ["{group} are [pests]."]
  - id: no_target
    label: benign
    targets: none
    templates: ["What a day."]
  - {id: leet, label: HS, from: dehumanise, obfuscate: leetspeak}
  - {id: spaced, label: HS, from: [dehumanise], obfuscate: spaces}
"""


def write(tmp_path: Path, text: str = SMALL) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_templates_expand_per_target_with_pairs_and_obfuscations(tmp_path: Path) -> None:
    table = generate(load_suite(write(tmp_path))).set_index("id")
    # 'plain' has no placeholder: one item per target; 'belief' only renders for targets with a belief
    assert table.groupby("functionality").size().to_dict() == {
        "dehumanise": 4, "negation": 2, "quote": 2, "belief": 1, "other_target": 1, "no_target": 1,
        "leet": 2, "spaced": 2}
    assert table.loc["dehumanise-pests-robots", "text"] == "Robots are pests."  # capitalised, brackets gone
    assert table.loc["quote-1-ghosts", "text"] == 'He said "Ghosts are pests" and I told him off.'
    assert table.loc["negation-pests-robots", "pair_id"] == "dehumanise-pests-robots"
    assert table.loc["leet-dehumanise.pests-robots", "text"] == "Robots are p3575."
    assert table.loc["spaced-dehumanise.pests-ghosts", "text"] == "Ghosts are p e s t s."
    assert table.loc["leet-dehumanise.pests-ghosts", "pair_id"] == "dehumanise-pests-ghosts"
    assert table.loc["no_target-1-none", "target"] == "none"
    assert set(table["label"]) == {"HS", "benign"} and set(table["language"]) == {"en"}
    assert table.loc["dehumanise-pests-robots", "rule"] == "HS1"


def test_cli_output_loads_with_an_experiment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "items.csv"
    assert main(["generate", str(write(tmp_path)), "--out", str(out)]) == 0
    assert "wrote 15 items" in capsys.readouterr().out
    experiment = parse_experiment({
        "name": "tiny", "policy": str(REPO / "prompts/policies/hate_speech/v2.md"),
        "eval_set": {"path": str(out), "columns": {"id": "id", "text": "text", "label": "label",
                                                   "slices": ["functionality", "target", "language"]}},
        "reviewers": [{"name": "c", "type": "classifier"}]})
    evalset = load_evalset(experiment.eval_set)
    assert len(evalset) == 15 and evalset.label_counts == {"HS": 8, "benign": 7}
    assert evalset.slices == ["functionality", "target", "language"]


@pytest.mark.parametrize(("change", "message"), [
    (("obfuscate: leetspeak", "obfuscate: leetspek"), "did you mean 'leetspeak'"),
    (("from: dehumanise,", "from: dehumanize,"), "unknown 'dehumanize'"),
    (("pair: dehumanise/pests", "pair: dehumanize/pests"), "unknown functionality 'dehumanize'"),
    (("targets: other", "targets: others"), "target set 'others'"),
    (("- id: negation", "- id: dehumanise"), "'dehumanise' is used twice"),
])
def test_template_mistakes_name_the_problem(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    with pytest.raises(HarnessError, match=message) as err:
        load_suite(write(tmp_path, SMALL.replace(*change, 1)))
    assert "tiny.yaml" in str(err.value)


def test_shipped_hate_speech_templates_match_the_committed_items() -> None:
    table = generate(load_suite(REPO / "prompts/functional/hate_speech_en.yaml"))
    assert table["id"].is_unique and table["text"].str.strip().ne("").all()
    assert not table["text"].str.contains(r"[\[\]{}]").any()  # every placeholder and focus mark resolved
    by_label = table.groupby("functionality")["label"].nunique()
    assert (by_label == 1).all()  # one gold label per functionality
    assert {"counter_quote", "negated_hate", "reclaimed_term", "obfuscated_leetspeak", "obfuscated_spaces",
            "non_protected_target"} <= set(table["functionality"])
    committed = pd.read_csv(REPO / "eval_sets/functional/hate_speech_en.csv", keep_default_na=False, dtype=str)
    assert committed.equals(table.astype(str)), "regenerate eval_sets/functional/hate_speech_en.csv (see README)"
