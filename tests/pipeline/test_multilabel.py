"""Multi-label gold with unknown labels: loading, metrics and the classifier, on hand-built tables."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from support.models import plain

from harness.config import ClassifierReviewerConfig, EvalSetConfig, parse_experiment
from harness.errors import HarnessError
from harness.evalset import CONTESTED, GOLD, GOLD_UNKNOWN, load_evalset
from harness.metrics import compute_metrics
from harness.metrics.confusion import category_rates, rates, relabel_candidates
from harness.policy import load_policy
from harness.reviewers import review_sync
from harness.reviewers.classifier import ClassifierReviewer
from harness.verdicts import upgrade_verdicts

CATS = ["S", "H", "V"]
MODERATION = Path(__file__).resolve().parents[2] / "prompts" / "policies" / "moderation" / "v1.md"

# (id, flags): a missing key means unknown, as in the OpenAI moderation set
ROWS = [
    ("a", {"S": 1, "H": 0, "V": 0}),     # S
    ("b", {"S": 0, "H": 1, "V": 1}),     # H;V
    ("c", {"S": 0, "H": 0, "V": 0}),     # benign: every label known 0
    ("d", {"S": 0, "V": 0}),             # unknown: known labels 0, H missing
    ("e", {"H": 1}),                     # H, with S and V unknown
    ("f", {"S": 0, "H": 0, "V": 0}),     # benign
]


def write_jsonl(path: Path, rows: list[tuple[str, dict[str, int]]]) -> Path:
    path.write_text("".join(json.dumps({"id": i, "prompt": f"text {i}", **flags}) + "\n" for i, flags in rows))
    return path


def config(path: Path, **extra: object) -> EvalSetConfig:
    return EvalSetConfig(path=str(path), columns={"id": "id", "text": "prompt",
                                                  "categories": {c: c for c in CATS}}, **extra)


def test_category_columns_become_gold_and_unknown(tmp_path: Path) -> None:
    evalset = load_evalset(config(write_jsonl(tmp_path / "m.jsonl", ROWS)))
    items = evalset.items.set_index("item_id")
    assert items[GOLD].to_dict() == {"a": "S", "b": "H;V", "c": "benign", "d": "unknown", "e": "H", "f": "benign"}
    assert items[GOLD_UNKNOWN].to_dict() == {"a": "", "b": "", "c": "", "d": "H", "e": "S;V", "f": ""}
    assert evalset.label_categories == ("S", "H", "V")
    evalset.check_labels(["S", "H", "V", "HR"], policy_path="p.md")
    with pytest.raises(HarnessError, match="label column for category 'V'"):
        evalset.check_labels(["S", "H"], policy_path="p.md")


def test_category_values_must_be_flags(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "m.jsonl", [("a", {"S": 1, "H": 0, "V": 0}), ("b", {"S": 2, "H": 0, "V": 0})])
    with pytest.raises(HarnessError, match=r"item 'b'.*'2' in category column 'S'"):
        load_evalset(config(path))


def test_label_and_categories_are_exclusive(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="either 'label'"):
        parse_experiment({"name": "x", "policy": "p.md", "reviewers": [{"name": "c", "type": "classifier"}],
                          "eval_set": {"path": "m.jsonl", "columns": {"label": "y", "categories": {"S": "S"}}}})
    with pytest.raises(HarnessError, match="drop 'labels'"):
        parse_experiment({"name": "x", "policy": "p.md", "reviewers": [{"name": "c", "type": "classifier"}],
                          "eval_set": {"path": "m.jsonl", "columns": {"categories": {"S": "S"}},
                                       "labels": {"1": "S"}}})


def verdicts() -> pd.DataFrame:
    """One reviewer's decisions on ROWS' gold (as the loader builds it)."""
    rows = [  # item, gold, gold_unknown, decision, predicted categories
        ("a", "S", "", "actioned", "S"),          # right
        ("b", "H;V", "", "actioned", "V"),        # right to action; H is the wrong category
        ("c", "benign", "", "actioned", "S"),     # over-enforcement (under S)
        ("d", "unknown", "H", "actioned", "H"),   # unknown overall and for H; known negative for S and V
        ("e", "H", "S;V", "allowed", ""),         # leakage (H)
        ("f", "benign", "", "allowed", ""),
    ]
    return upgrade_verdicts(pd.DataFrame(rows, columns=["item_id", "gold", "gold_unknown", "decision", "categories"]))


def test_overall_rates_leave_out_unknown_gold() -> None:
    out = plain(rates(verdicts()))
    assert (out["items"], out["benign"], out["violating"], out["unknown"]) == (6, 2, 3, 1)
    assert (out["over_enforcement"]["k"], out["over_enforcement"]["n"]) == (1, 2)
    assert (out["leakage"]["k"], out["leakage"]["n"]) == (1, 3)
    # the action on 'd' is neither right nor wrong as far as we know
    assert (out["false_action_share"]["k"], out["false_action_share"]["n"]) == (1, 3)
    assert any("1 item with unknown gold is" in w for w in out["warnings"])


def test_category_rates_with_multi_label_and_unknown() -> None:
    out = plain(category_rates(verdicts(), CATS))
    s, h, v = out["S"], out["H"], out["V"]
    assert (s["items"], h["items"], v["items"]) == (1, 2, 1)
    assert (s["unknown"], h["unknown"], v["unknown"]) == (1, 1, 1)
    assert (h["leakage"]["k"], h["leakage"]["n"]) == (1, 2)
    assert h["wrong_category"] == 1 and v["wrong_category"] == 0 and s["wrong_category"] == 0
    # over-enforcement counts fully benign items only
    assert (s["over_enforcement"]["k"], s["over_enforcement"]["n"]) == (1, 2)
    assert (h["over_enforcement"]["k"], h["over_enforcement"]["n"]) == (0, 2)
    # one-vs-rest: known not H are a, c, f ('b' and 'e' are H, 'd' is unknown for H)
    assert (h["category_false_positive"]["k"], h["category_false_positive"]["n"]) == (0, 3)
    # known not S: b, c, d, f ('e' is unknown for S); 'c' was actioned as S
    assert (s["category_false_positive"]["k"], s["category_false_positive"]["n"]) == (1, 4)
    # known not V: a, c, d, f; none actioned as V
    assert (v["category_false_positive"]["k"], v["category_false_positive"]["n"]) == (0, 4)


def test_single_label_unknown_mapping_is_unknown_everywhere() -> None:
    frame = upgrade_verdicts(pd.DataFrame({"gold": ["HS", "unknown", "benign"],
                                           "decision": ["actioned", "actioned", "allowed"], "categories": ["HS", "HS", ""]}))
    out = plain(rates(frame))
    assert (out["unknown"], out["false_action_share"]["n"]) == (1, 1)
    assert plain(category_rates(frame, ["HS"]))["HS"]["unknown"] == 1


def per_item(rows: list[tuple[str, str, str, bool, float]]) -> pd.DataFrame:
    """rows of (reviewer, item, gold, decision, contested, score)."""
    frame = pd.DataFrame(rows, columns=["reviewer", "item_id", "gold", "decision", "contested", "score"])
    return upgrade_verdicts(frame.assign(policy="p@v1", sample=0, categories="", text="t", weight=1.0))


def test_relabel_candidates_need_every_reviewer_against_gold() -> None:
    frame = per_item([
        ("llm", "1", "benign", "actioned", False, 0.9), ("clf", "1", "benign", "actioned", False, 0.8),
        ("llm", "2", "HS", "allowed", True, 0.4), ("clf", "2", "HS", "allowed", True, 0.3),
        ("llm", "3", "HS", "allowed", False, 0.1), ("clf", "3", "HS", "actioned", False, 0.9),  # split
        ("llm", "4", "HS", "abstained", False, None), ("clf", "4", "HS", "allowed", False, 0.1),
        ("llm", "5", "unknown", "actioned", False, 0.9), ("clf", "5", "unknown", "actioned", False, 0.9),
    ])
    out = plain(relabel_candidates(frame, "p@v1"))
    assert out["total"] == 2 and out["reviewers"] == ["clf", "llm"]
    assert [i["item_id"] for i in out["items"]] == ["2", "1"]  # contested first
    assert out["items"][0]["decisions"] == {"clf": "allowed", "llm": "allowed"}
    assert out["items"][1]["mean_score"] == pytest.approx(0.85)
    assert plain(relabel_candidates(frame, "p@v1", limit=1))["items"][0]["item_id"] == "2"


def test_without_contested_block_only_when_contested() -> None:
    frame = per_item([("clf", str(i), "benign" if i % 2 else "HS", "actioned", i < 4, 0.9) for i in range(10)])
    metrics = compute_metrics(frame, candidate="p@v1", baseline=None, categories=["HS"], slices=[],
                              gates={}).model_dump(mode="json")
    entry = metrics["reviewers"]["clf"]
    assert entry["over_enforcement"]["n"] == 5 and entry["without_contested"]["over_enforcement"]["n"] == 3
    assert entry["without_contested"]["excluded"] == 4 and entry["without_contested"]["items"] == 6
    assert metrics["relabel_candidates"]["total"] == 5
    quiet = compute_metrics(frame.assign(contested=False), candidate="p@v1", baseline=None, categories=["HS"],
                            slices=[], gates={})
    assert quiet.reviewers["clf"].without_contested is None


def test_contested_text_false_is_not_contested(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("text,label,flag\nhello,benign,False\nbye,HS,True\nok,benign,\n")
    evalset = load_evalset(EvalSetConfig(path=str(path), columns={"contested": "flag"}))
    assert evalset.items[CONTESTED].tolist() == [False, True, False]


def classifier_items() -> pd.DataFrame:
    words = {"S": ["kiss", "naked", "lingerie"], "H": ["vermin", "scum", "filth"], "V": ["stab", "punch", "shoot"]}
    rows = []
    for i in range(45):
        cats = [c for j, c in enumerate(CATS) if (i >> j) & 1]
        text = " ".join([words[c][i % 3] for c in cats] + ["sunny", "garden", "coffee"][: 3 - len(cats)]) + f" n{i}"
        unknown = "V" if i % 9 == 0 and "V" not in cats else ""
        gold = ";".join(cats) or ("unknown" if unknown else "benign")
        rows.append((f"i{i}", text, gold, unknown))
    return pd.DataFrame(rows, columns=["item_id", "text", "gold", "gold_unknown"])


def test_classifier_trains_one_model_per_category_on_known_labels() -> None:
    policy = load_policy(MODERATION)
    table = classifier_items()
    reviewer = ClassifierReviewer(ClassifierReviewerConfig(type="classifier", name="c", folds=3, max_features=500))
    verdicts = {v.item_id: v for v in review_sync(reviewer, table, policy)}
    assert len(verdicts) == len(table)
    params = reviewer.params()
    assert "one-vs-rest" in params.estimator
    # categories with no positive items cannot be learned and are reported
    assert set(params.skipped_categories or []) == {"HR", "SH", "S3", "H2", "V2"}
    right = sum((v.decision == "actioned") == (g != "benign") for v, g in
                ((verdicts[i], g) for i, g in zip(table["item_id"], table["gold"])) if g != "unknown")
    assert right / (table["gold"] != "unknown").sum() > 0.8
    multi = [v for v in verdicts.values() if len(v.categories) > 1]
    assert multi and all(set(v.categories) <= set(CATS) for v in multi)


def test_from_path_names_each_file(tmp_path: Path) -> None:
    for lang in ("arabic", "dutch"):
        (tmp_path / f"cases_final_{lang}.csv").write_text(f"text,label,class\nhello {lang},benign,2\nbye,HS,0\n")
    paths = [str(tmp_path / f"cases_final_{lang}.csv") for lang in ("arabic", "dutch")]
    evalset = load_evalset(EvalSetConfig(path=paths, from_path={"language": r"cases_final_(\w+)\.csv"},
                                         columns={"slices": ["class"]}, slice_labels={"class": {0: "hate"}}))
    assert evalset.slices == ["class", "language"]
    assert evalset.items["language"].tolist() == ["arabic", "arabic", "dutch", "dutch"]
    assert evalset.items["class"].tolist() == ["2", "hate"] * 2  # values without a name stay as they are
    with pytest.raises(HarnessError, match="does not match the eval_set.from_path regex"):
        load_evalset(EvalSetConfig(path=paths, from_path={"language": "final_(fr.*)"}))
    with pytest.raises(HarnessError, match="has no group"):
        parse_experiment({"name": "x", "policy": "p.md", "reviewers": [{"name": "c", "type": "classifier"}],
                          "eval_set": {"path": paths, "from_path": {"language": ".*"}}})
