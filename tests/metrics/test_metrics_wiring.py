"""compute_metrics carries population estimates, thresholds, agreement and adjusted comparisons;
`score --weight` and eval-set strata feed them; edge cases give warnings, never NaN."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from harness._cli.main import main
from harness.config import EvalSetConfig, GateSpec, StrataSpec
from harness.errors import HarnessError
from harness.evalset import load_evalset
from harness.metrics import compute_metrics
from harness.pipeline.score import score_file
from harness.verdicts import ACTIONED, ALLOWED, AbstainKind, Verdict, verdict_table


def items(n: int = 80) -> pd.DataFrame:
    return pd.DataFrame([{"item_id": f"i{i}", "text": f"text {i}", "gold": "HS" if i % 4 == 0 else "benign",
                          "weight": 1.0 + (i % 3), "contested": False, "tactic": ["counter", "news", "slur"][i % 3],
                          "source": "reported" if i % 2 else "random"} for i in range(n)])


def verdicts(frame: pd.DataFrame, *, abstain: bool = False) -> pd.DataFrame:
    tables = []
    for policy, shift in (("p@v2", 0), ("p@v1", 1)):
        clf = [Verdict(r.item_id, ACTIONED if (i * 7 + shift) % 10 >= 6 - 4 * (r.gold != "benign") else ALLOWED,
                       score=((i * 7 + shift) % 10) / 10 + 0.4 * (r.gold != "benign"))
               for i, r in enumerate(frame.itertuples())]
        llm = [Verdict.abstain(r.item_id, AbstainKind.UNPARSEABLE, "unparseable answer") if abstain or i % 9 == 8 else
               Verdict(r.item_id, ACTIONED if (r.gold != "benign") != (i % 5 == shift) else ALLOWED)
               for i, r in enumerate(frame.itertuples())]
        tables += [verdict_table(clf, policy=policy, reviewer="clf"), verdict_table(llm, policy=policy, reviewer="llm")]
    return pd.concat(tables, ignore_index=True).merge(frame, on="item_id", how="left")


def compute(frame: pd.DataFrame, **kwargs: object) -> dict:
    """The metrics as metrics.json carries them (the typed model's JSON form)."""
    return compute_metrics(verdicts(frame, abstain=bool(kwargs.pop("abstain", False))), candidate="p@v2",
                           baseline="p@v1", categories=["HS"], slices=["tactic", "source"],
                           gates={"over_enforcement": GateSpec(max=0.1)}, **kwargs).model_dump(mode="json")


def test_metrics_json_carries_the_new_sections() -> None:
    strata = StrataSpec(column="source", sizes={"reported": 1_000, "random": 99_000})
    out = compute(items(), strata=strata, prevalence=0.02)
    clf = out["reviewers"]["clf"]
    assert {"over_enforcement", "leakage", "false_action_share", "per_10k", "method"} <= set(clf["weighted"])
    assert clf["weighted"]["weights_from"] == ["weight column", "strata sizes", "prevalence"]
    assert clf["thresholds"]["operating_points"][0]["goal"] == "lowest leakage with over-enforcement <= 0.1"
    assert out["reviewers"]["llm"]["thresholds"] is None  # no scores, no curve
    assert set(out["agreement"]) == {"p@v2", "p@v1"}
    assert out["agreement"]["p@v2"]["reviewers"] == ["clf", "llm"]
    change = out["comparison"]["clf"]["slices"]["tactic"]["counter"]["over_enforcement_change"]
    assert "p_adjusted" in change and change["ci_method"].startswith("newcombe")
    assert out["comparison"]["clf"]["slice_adjustment"]["method"] == "holm"
    json.dumps(out, allow_nan=False)


def test_no_weights_means_no_weighted_section() -> None:
    frame = items().assign(weight=1.0)
    out = compute(frame)
    assert out["reviewers"]["clf"]["weighted"] is None
    assert compute(items())["reviewers"]["clf"]["weighted"] is not None  # a weight column alone turns it on


@pytest.mark.parametrize("case", ["no benign in a slice", "all abstained", "one item", "zero weights"])
def test_edge_cases_are_defined_and_json_clean(case: str) -> None:
    frame = items()
    kwargs: dict[str, object] = {"prevalence": 0.01}
    if case == "no benign in a slice":
        frame.loc[frame["tactic"] == "slur", "gold"] = "HS"
    elif case == "all abstained":
        kwargs["abstain"] = True
    elif case == "one item":
        frame = frame.head(1)
    else:
        frame["weight"] = 0.0
    out = compute(frame, **kwargs)
    json.dumps(out, allow_nan=False)
    llm = out["reviewers"]["llm"]
    if case == "all abstained":
        assert llm["weighted"]["over_enforcement"]["rate"] is None and llm["weighted"]["warnings"]
        assert out["agreement"]["p@v2"]["with_gold"]["llm"]["n"] == 0
    if case == "zero weights":
        assert out["reviewers"]["clf"]["weighted"]["over_enforcement"]["rate"] is None
        assert any("weight 0" in w for w in out["reviewers"]["clf"]["weighted"]["warnings"])
    if case == "no benign in a slice":
        assert out["comparison"]["clf"]["slices"]["tactic"]["slur"]["over_enforcement_change"]["p_adjusted"] is None


def test_score_weight_column_feeds_population_estimates(tmp_path: Path) -> None:
    path = tmp_path / "preds.csv"
    rows = [{"label": "benign", "model": "benign", "w": 9.0}] * 8 + [{"label": "benign", "model": "hate", "w": 1.0}] * 2
    rows += [{"label": "hate", "model": "hate", "w": 1.0}] * 10
    pd.DataFrame(rows).to_csv(path, index=False)
    record = score_file(str(path), gold="label", preds=["model"], weight="w")
    weighted = record.metrics.reviewers["model"].weighted
    assert record.metrics.reviewers["model"].over_enforcement.rate == pytest.approx(0.2)
    assert weighted is not None and weighted.over_enforcement.rate == pytest.approx(2 / 74)
    assert record.experiment["score"]["weight"] == "w"
    pd.DataFrame(rows[:1] + [{"label": "hate", "model": "hate", "w": -1}]).to_csv(path, index=False)
    with pytest.raises(HarnessError, match="weights must be numbers >= 0"):
        score_file(str(path), gold="label", preds=["model"], weight="w")


def test_score_cli_accepts_weight(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "preds.csv"
    pd.DataFrame({"label": ["benign", "hate"] * 5, "model": ["benign", "hate"] * 5, "w": [1, 2] * 5}).to_csv(path, index=False)
    out = tmp_path / "out"
    assert main(["score", str(path), "--gold", "label", "--pred", "model", "--weight", "w", "--no-track",
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["reviewers"]["model"]["weighted"]["weights_from"] == ["weight column"]
    assert "agreement" in metrics


def test_eval_set_strata_become_a_slice_and_need_a_size(tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    pd.DataFrame({"text": ["a", "b", "c"], "label": ["benign", "HS", "benign"], "src": ["x", "y", "x"]}).to_csv(path, index=False)
    evalset = load_evalset(EvalSetConfig(path=str(path), strata={"column": "src", "sizes": {"x": 10, "y": 5}}))
    assert "src" in evalset.slices and list(evalset.items["src"]) == ["x", "y", "x"]
    with pytest.raises(HarnessError, match="stratum 'y' of column 'src' has no production size"):
        load_evalset(EvalSetConfig(path=str(path), strata={"column": "src", "sizes": {"x": 10}}))


def test_config_rejects_bad_prevalence_and_sizes() -> None:
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        EvalSetConfig(path="x", prevalence=0.0)
    with pytest.raises(ValueError, match="add up to less than 1"):
        EvalSetConfig(path="x", prevalence={"HS": 0.6, "VS": 0.5})
    with pytest.raises(ValueError, match="must be a number > 0"):
        EvalSetConfig(path="x", strata={"column": "s", "sizes": {"a": 0}})


@pytest.mark.parametrize("strata", [None, "source"])
def test_score_names_a_heavy_stratum_without_violating_items(tmp_path: Path, strata: str | None) -> None:
    # Issue 25: 'random' is 98% of traffic; this sample drew none of its violating items. Its
    # leakage is unseen, so the interval must be wide and the warning must name the stratum.
    path = tmp_path / "log.csv"
    reported = [{"label": "hate", "model": "hate" if i % 5 else "benign", "w": 40.0, "source": "reported"}
                for i in range(150)] + [{"label": "benign", "model": "benign", "w": 40.0, "source": "reported"}] * 350
    random = [{"label": "benign", "model": "hate" if i % 20 == 0 else "benign", "w": 1960.0, "source": "random"}
              for i in range(500)]
    pd.DataFrame(reported + random).to_csv(path, index=False)
    record = score_file(str(path), gold="label", preds=["model"], weight="w", strata=strata)
    weighted = record.metrics.reviewers["model"].weighted
    assert weighted is not None
    leakage = weighted.leakage
    named = "'random'" if strata else "items of weight 1960"
    assert leakage.warning is not None and f"stratum {named} (98% of production) holds none" in leakage.warning
    assert leakage.rate == pytest.approx(0.2)  # all seen violating items are in 'reported'
    # The random stratum could hold 46% of production's violating items, its leakage unknown: the
    # interval is more than twice as wide as that of 'reported' alone (Jeffreys on 30 of 150).
    low, high = proportion_confint(30, 150, method="jeffreys")
    assert leakage.ci_high - leakage.ci_low > 2 * (high - low) and leakage.ci_high > 0.4
    assert weighted.over_enforcement.warning is None  # both strata hold benign items
