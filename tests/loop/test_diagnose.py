"""`diagnose`: a run's errors as failure clusters by rule, slice and text, per reviewer and policy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from harness.labels import BENIGN
from harness.loop.diagnose import diagnose_dir
from harness.metrics.diagnosis import NO_RULE, RunView, diagnose
from harness.record.diagnosis import Diagnosis
from harness.verdicts import ABSTAINED, ACTIONED, ALLOWED, upgrade_verdicts

REPO_ROOT = Path(__file__).resolve().parents[2]
V2, V1 = "toy@v2", "toy@v1"
SLURS = ["vermin", "rats", "parasites", "animals", "filth", "scum", "pests", "savages", "roaches", "beasts"]
PLACES = ["Leeds", "Lyon", "Porto", "Graz"]


def row(item: str, decision: str, gold: str, text: str, tactic: str, rules: str = "", *,
        policy: str = V2, reviewer: str = "llm", sample: int = 0) -> dict[str, object]:
    return {"policy": policy, "reviewer": reviewer, "item_id": item, "sample": sample, "decision": decision,
            "categories": "HS" if decision == ACTIONED else "", "rule_ids": rules, "gold": gold, "text": text,
            "tactic": tactic, "language": "en", "score": None, "abstain_reason": ""}


def planted() -> pd.DataFrame:
    """Over-enforcement: all 10 counter-speech items (citing HS1) and 3 of 10 news items (citing HS2);
    leakage: 6 coded items citing the news exception HS-E2, 2 citing nothing. v1 makes other errors."""
    rows = []
    for i, slur in enumerate(SLURS):
        rows.append(row(f"cs{i}", ACTIONED, BENIGN, f"someone called my neighbours {slur} and I condemn that",
                        "counter", "HS1"))
    for i in range(10):
        place = PLACES[i % len(PLACES)]
        wrong = i < 3
        rows.append(row(f"nw{i}", ACTIONED if wrong else ALLOWED, BENIGN,
                        f"reporters in {place} covered the march on {place} station", "news",
                        "HS2" if wrong else "HS-E2"))
    for i in range(20):
        rows.append(row(f"ok{i}", ALLOWED, BENIGN, f"lovely weather for a picnic number {i}", "other"))
    rows.append(row("cs-abstain", ABSTAINED, BENIGN, "someone called them rats and I condemn it", "counter"))
    for i in range(8):
        rows.append(row(f"cd{i}", ALLOWED, "HS", f"you know what the 14 words mean for those {SLURS[i]}", "coded",
                        "HS-E2" if i < 6 else ""))
    for i in range(22):
        rows.append(row(f"vi{i}", ACTIONED, "HS", f"those people are {SLURS[i % 10]} and must go", "direct", "HS1"))
    frame = pd.DataFrame(rows)
    v1 = frame.assign(policy=V1)
    v1.loc[v1["tactic"] == "news", "decision"] = ACTIONED  # v1 has no news exception
    v1.loc[v1["tactic"] == "news", "rule_ids"] = "HS2"
    return upgrade_verdicts(pd.concat([frame, v1], ignore_index=True))


def view(frame: pd.DataFrame) -> RunView:
    return RunView(name="toy", out_dir="", verdicts=frame, candidate=V2, baseline=V1, slices=["tactic", "language"])


@pytest.fixture(scope="module")
def diagnosis() -> Diagnosis:
    return diagnose(view(planted()))


def kind(d: Diagnosis, policy: str, name: str):  # type: ignore[no-untyped-def]
    group = next(g for g in d.groups if g.policy == policy and g.reviewer == "llm")
    return next(k for k in group.kinds if k.kind == name)


def test_groups_per_reviewer_and_policy_candidate_first(diagnosis: Diagnosis) -> None:
    assert [(g.policy, g.reviewer) for g in diagnosis.groups] == [(V2, "llm"), (V1, "llm")]
    assert [k.kind for k in diagnosis.groups[0].kinds] == ["over_enforcement", "leakage"]


def test_over_enforcement_by_rule(diagnosis: Diagnosis) -> None:
    oe = kind(diagnosis, V2, "over_enforcement")
    assert (oe.errors, oe.decided) == (13, 40)  # the abstention is not a decided item
    assert [(c.key, c.size, round(c.share, 3)) for c in oe.by_rule] == [("HS1", 10, round(10 / 13, 3)),
                                                                        ("HS2", 3, round(3 / 13, 3))]
    hs1 = oe.by_rule[0]
    assert {o.value for o in hs1.over_represented} == {"tactic=counter"}
    assert len(hs1.exemplars) == 5 and all(e.startswith("cs") for e in hs1.exemplars)


def test_over_enforcement_by_slice_has_the_slice_rate(diagnosis: Diagnosis) -> None:
    oe = kind(diagnosis, V2, "over_enforcement")
    by_key = {c.key: c for c in oe.by_slice}
    assert set(by_key) == {"tactic=counter", "tactic=news", "language=en"}
    assert (by_key["tactic=counter"].size, by_key["tactic=counter"].rate) == (10, 1.0)
    assert (by_key["tactic=news"].size, by_key["tactic=news"].rate) == (3, 0.3)
    assert {o.value for o in by_key["tactic=counter"].over_represented} == {"HS1"}


def test_text_clusters_separate_the_two_failure_modes(diagnosis: Diagnosis) -> None:
    oe = kind(diagnosis, V2, "over_enforcement")
    assert [c.size for c in oe.by_text] == [10, 3]
    counter, news = oe.by_text
    assert "condemn" in counter.top_terms and all(e.startswith("cs") for e in counter.exemplars)
    assert set(news.exemplars) == {"nw0", "nw1", "nw2"}
    assert "tactic=news" in {o.value for o in news.over_represented}


def test_leakage_by_cited_exception_and_no_rule(diagnosis: Diagnosis) -> None:
    leak = kind(diagnosis, V2, "leakage")
    assert (leak.errors, leak.decided) == (8, 30)
    assert [(c.key, c.size) for c in leak.by_rule] == [("HS-E2", 6), (NO_RULE, 2)]
    assert {c.key: c.rate for c in leak.by_slice}["tactic=coded"] == 1.0


def test_baseline_diagnosed_on_its_own_errors(diagnosis: Diagnosis) -> None:
    oe = kind(diagnosis, V1, "over_enforcement")
    assert oe.errors == 20
    assert {c.key: c.size for c in oe.by_rule} == {"HS1": 10, "HS2": 10}


def test_classifier_errors_have_no_rule_clusters_and_no_errors_is_empty() -> None:
    frame = upgrade_verdicts(planted().assign(reviewer="clf", rule_ids=""))
    frame = frame[frame["policy"] == V2]
    d = diagnose(RunView(name="toy", out_dir="", verdicts=frame, candidate=V2, baseline=None, slices=["tactic"]))
    oe = kind_of(d, "over_enforcement")
    assert oe.by_rule == [] and oe.errors == 13 and sum(c.size for c in oe.by_text) == 13
    perfect = frame.assign(decision=[ACTIONED if g != BENIGN else ALLOWED for g in frame["gold"]])
    clean = diagnose(RunView(name="toy", out_dir="", verdicts=perfect, candidate=V2, baseline=None, slices=[]))
    assert all(k.errors == 0 and not k.by_text for k in clean.groups[0].kinds)


def kind_of(d: Diagnosis, name: str):  # type: ignore[no-untyped-def]
    return next(k for k in d.groups[0].kinds if k.kind == name)


def test_repeated_samples_use_the_majority_decision() -> None:
    frame = planted()
    frame = frame[frame["policy"] == V2]
    # Two more samples allow every counter-speech item: the majority allows them.
    extra = [frame.assign(sample=s) for s in (1, 2)]
    for table in extra:
        table.loc[table["tactic"] == "counter", "decision"] = ALLOWED
    d = diagnose(RunView(name="toy", out_dir="", verdicts=pd.concat([frame, *extra], ignore_index=True),
                         candidate=V2, baseline=None, slices=["tactic"]))
    assert kind_of(d, "over_enforcement").errors == 3


# --- a stored run, through the command line ----------------------------------------------------------

@pytest.fixture(scope="module")
def classifier_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from harness.config import parse_experiment
    from harness.pipeline.run import run

    tmp = tmp_path_factory.mktemp("diagnose_run")
    rows = [(f"b{i}", f"I condemn anyone who calls people {SLURS[i % 10]} number {i}", "non-hateful", "counter")
            for i in range(30)]
    rows += [(f"n{i}", f"the weather in {PLACES[i % 4]} was fine on day {i}", "non-hateful", "neutral")
             for i in range(30)]
    rows += [(f"h{i}", f"those people are {SLURS[i % 10]} and should leave, day {i}", "hateful", "direct")
             for i in range(40)]
    pd.DataFrame(rows, columns=["id", "text", "label", "tactic"]).to_csv(tmp / "items.csv", index=False)
    experiment = parse_experiment({
        "name": "diagnose-cli", "policy": str(REPO_ROOT / "prompts" / "policies" / "hate_speech" / "v2.md"),
        "eval_set": {"path": str(tmp / "items.csv"), "columns": {"id": "id", "text": "text", "label": "label",
                                                                 "slices": ["tactic"]},
                     "labels": {"hateful": "HS", "non-hateful": "benign"}},
        "reviewers": [{"name": "tfidf-lr", "type": "classifier", "max_features": 500, "folds": 3}],
    })
    run(experiment, out_dir=tmp / "run", track=False, report=False)
    return tmp / "run"


def test_diagnose_stored_run_matches_its_metrics(classifier_run: Path) -> None:
    from harness.record import read_record

    record = read_record(classifier_run)
    diagnosis, path = diagnose_dir(classifier_run)
    assert path == classifier_run / "diagnosis.json"
    assert Diagnosis.model_validate_json(path.read_text(encoding="utf-8")) == diagnosis
    metrics = record.metrics.reviewers["tfidf-lr"]
    for k in diagnosis.groups[0].kinds:
        rate = getattr(metrics, k.kind)
        assert (k.errors, k.decided) == (rate.k, rate.n)
        assert sum(c.size for c in k.by_text) == k.errors
        assert sum(c.size for c in k.by_slice if c.key.startswith("tactic=")) == k.errors
    # The metrics stage clustered the same errors when the run was scored, and the record now holds these.
    assert record.metrics.errors is not None and record.metrics.errors.diagnosis is not None
    assert record.metrics.errors.diagnosis.groups == diagnosis.groups
    stored = read_record(classifier_run).metrics.errors
    assert stored is not None and stored.diagnosis == diagnosis


def test_cli_diagnose(classifier_run: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONIOENCODING": "utf-8"}
    out = tmp_path / "d.json"
    result = subprocess.run([sys.executable, "-m", "harness", "diagnose", str(classifier_run), "--out", str(out)],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "over-enforcement" in result.stdout and f"diagnosis.json: {out}" in result.stdout
    assert json.loads(out.read_text(encoding="utf-8"))["groups"][0]["reviewer"] == "tfidf-lr"
    missing = subprocess.run([sys.executable, "-m", "harness", "diagnose", str(tmp_path)], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=300)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "record.json" in missing.stderr


# --- cluster descriptions by the author model ---------------------------------------------------------

COUNTER_SENTENCE = "Counter-speech condemning a slur is actioned as if it used the slur."


def describing(request: dict[str, object]) -> str:
    from harness.testing.openai_server import last_user_text

    prompt = last_user_text(request)  # type: ignore[arg-type]
    if "cluster by slice tactic=counter" in prompt:
        return f"1. {COUNTER_SENTENCE}\nThe rest is dropped."
    raise ValueError("no scripted description")  # the server answers 500: that cluster's call fails


def author_experiment(tmp_path: Path, api_base: str, **author: object) -> Path:
    import yaml

    path = tmp_path / "describe.yaml"
    path.write_text(yaml.safe_dump({
        "name": "describe", "policy": str(REPO_ROOT / "prompts" / "policies" / "hate_speech" / "v2.md"),
        "eval_set": {"path": "items.csv", "columns": {"id": "id", "text": "text", "label": "label"}},
        "reviewers": [{"name": "tfidf-lr", "type": "classifier"}],
        "author": {"model": "openai/author-model", "api_base": api_base, "max_retries": 0, "timeout_s": 5,
                   "describe_clusters": 1, **author},
    }), encoding="utf-8")
    return path


def test_the_largest_clusters_get_descriptions_and_a_failed_call_records_why(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.config import load_experiment
    from harness.loop.describe import describe_diagnosis
    from harness.metrics.diagnosis import item_texts
    from harness.testing.openai_server import FakeOpenAIServer, last_user_text

    monkeypatch.setenv("POLICY_HARNESS_CACHE", str(tmp_path / "cache.sqlite"))
    frame = planted()
    with FakeOpenAIServer(responder=describing) as server:
        author = load_experiment(author_experiment(tmp_path, server.base_url, describe_clusters=2)).author
        assert author is not None
        diagnosis = diagnose(view(frame))
        describe_diagnosis(diagnosis, item_texts(frame), author)
        asked = len(server.requests_log)
        prompts = [last_user_text(r.body) for r in server.requests_log]
        again = diagnose(view(frame))
        describe_diagnosis(again, item_texts(frame), author)
        # A described cluster is cached; a failed one is asked again.
        assert len(server.requests_log) - asked == sum(1 for p in prompts if "cluster by slice tactic=counter" not in p)
    clusters = [c for group in diagnosis.groups for k in group.kinds for g in (k.by_rule, k.by_slice, k.by_text)
                for c in g[:2]]
    assert asked == len(clusters) and diagnosis.author_model == "openai/author-model"
    assert all("<<<ITEM>>>" in p and "<<<END ITEM>>>" in p for p in prompts)
    counter = [c for c in clusters if c.key == "tactic=counter"]
    assert counter and all(c.description == COUNTER_SENTENCE and c.description_error is None for c in counter)
    failed = [c for c in clusters if c.key != "tactic=counter"]
    assert failed and all(c.description is None and "author call failed" in (c.description_error or "")
                          for c in failed)
    assert diagnosis.author_usage is not None and diagnosis.author_usage.calls == len(counter)
    assert Diagnosis.model_validate_json(diagnosis.model_dump_json()) == diagnosis


def test_cli_diagnose_reads_the_author_from_the_experiment(classifier_run: Path, tmp_path: Path) -> None:
    import yaml

    from harness._cli.main import main

    exp = author_experiment(tmp_path, "http://127.0.0.1:9")
    assert main(["diagnose", str(classifier_run), "--out", str(tmp_path / "d.json"), "--experiment", str(exp)]) == 0
    bare = yaml.safe_load(exp.read_text(encoding="utf-8"))
    del bare["author"]
    exp.write_text(yaml.safe_dump(bare), encoding="utf-8")
    assert main(["diagnose", str(classifier_run), "--experiment", str(exp)]) == 2


def test_descriptions_without_the_author_key_record_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.config import load_experiment
    from harness.loop.describe import describe_diagnosis
    from harness.metrics.diagnosis import item_texts

    monkeypatch.delenv("AUTHOR_KEY_FOR_TEST", raising=False)
    path = author_experiment(tmp_path, "http://127.0.0.1:9", api_key_env="AUTHOR_KEY_FOR_TEST")
    author = load_experiment(path).author
    assert author is not None
    diagnosis = diagnose(view(planted()))
    describe_diagnosis(diagnosis, item_texts(planted()), author)
    clusters = [c for k in diagnosis.groups[0].kinds for g in (k.by_rule, k.by_slice, k.by_text) for c in g[:1]]
    assert clusters and all(c.description is None and "AUTHOR_KEY_FOR_TEST" in (c.description_error or "")
                            for c in clusters)


def test_an_unreachable_author_is_recorded_on_every_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness._util.processes import free_port
    from harness.config import load_experiment
    from harness.loop.describe import describe_diagnosis
    from harness.metrics.diagnosis import item_texts

    monkeypatch.setenv("POLICY_HARNESS_CACHE", str(tmp_path / "cache.sqlite"))
    author = load_experiment(author_experiment(tmp_path, f"http://127.0.0.1:{free_port()}/v1")).author
    assert author is not None
    diagnosis = diagnose(view(planted()))
    describe_diagnosis(diagnosis, item_texts(planted()), author)  # no exception: the diagnosis stands
    clusters = [c for g in diagnosis.groups for k in g.kinds for grouping in (k.by_rule, k.by_slice, k.by_text)
                for c in grouping[:1]]
    assert clusters and all(c.description is None and "cannot reach the model endpoint" in (c.description_error or "")
                            for c in clusters)
