"""Every verdict in MLflow's GenAI views: one trace per judged item with gold and verdict assessments,
against a real `mlflow server` on loopback and the fake OpenAI-compatible server."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from support.tracking import MlflowServer

from harness._util.processes import free_port
from harness.config import parse_experiment
from harness.record import RunRecord, read_record
from harness.testing.openai_server import FakeOpenAIServer, item_section, last_user_text
from harness.tracking.compat import search_traces

# A real MLflow server and a run of two policy versions: minutes on a shared machine.
pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
POLICIES = REPO_ROOT / "prompts" / "policies" / "hate_speech"
SECRET = "sk-test-never-in-a-trace-1234"
V2_ONLY = "Judge what the author endorses"  # a sentence of v2's instruction that v1 lacks


def responder(request: dict[str, Any]) -> str:
    """VIOLATE items violate; FLIP items violate under v1 only (v2 fixes them); GARBLE items get no JSON."""
    item = item_section(last_user_text(request))
    if "GARBLE" in item:
        return "I cannot decide this one."
    v2 = V2_ONLY in json.dumps(request)
    violation = "VIOLATE" in item or ("FLIP" in item and not v2)
    return json.dumps({"violation": violation, "categories": ["HS"] if violation else [],
                       "rule_ids": ["HS1"] if violation else [], "confidence": 0.9,
                       "rationale": "marker found" if violation else "no marker"})


def items(n: int = 40) -> pd.DataFrame:
    rows = []
    for i in range(n):
        kind = ("VIOLATE", "plain", "FLIP", "GARBLE", "VIOLATE quietly")[i % 5]
        label = "hateful" if kind.startswith("VIOLATE") or (kind == "plain" and i % 10 == 1) else "non-hateful"
        rows.append((f"it-{i:03d}", f"{kind} item {i}", label, ("en", "de")[i % 2]))
    return pd.DataFrame(rows, columns=["id", "text", "label", "language"])


def experiment(tmp: Path, api_base: str, *, name: str, tracking: dict[str, Any] | None = None) -> Any:
    path = tmp / f"{name}.csv"
    items().to_csv(path, index=False)
    return parse_experiment({
        "name": name, "policy": str(POLICIES / "v2.md"), "baseline": str(POLICIES / "v1.md"),
        "eval_set": {"path": str(path), "columns": {"id": "id", "text": "text", "label": "label",
                                                     "slices": ["language"]},
                     "labels": {"hateful": "HS", "non-hateful": "benign"}},
        "reviewers": [{"name": "fake", "type": "llm", "model": "openai/fake-model", "api_base": api_base,
                       "api_key_env": "I27_FAKE_KEY", "max_retries": 0, "timeout_s": 5}],
        "gates": {"over_enforcement": {"max": 0.5}, "leakage": {"max": 0.5}, "abstention_rate": {"max": 0.5}},
        **({"tracking": tracking} if tracking else {}),
    })


def healthy(uri: str, timeout_s: float) -> None:
    import time
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise RuntimeError(f"mlflow server at {uri} did not start")


@pytest.fixture(scope="module", autouse=True)
def traces_by_default() -> Iterator[None]:
    """These tests run with the default a user has: traces on (the session turns them off for other tests)."""
    saved = os.environ.pop("POLICY_HARNESS_TRACES", None)
    yield
    if saved is not None:
        os.environ["POLICY_HARNESS_TRACES"] = saved


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    srv = MlflowServer(tmp_path_factory.mktemp("mlflow-traces"))
    try:
        srv.start()
    except RuntimeError:  # a loaded machine: the server is still starting after the helper's 120 s
        if srv.process is None or srv.process.poll() is not None:
            raise
        healthy(srv.uri, timeout_s=480)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(responder=responder, require_api_key=SECRET) as srv:
        yield srv


def run_tracked(tmp: Path, api_base: str, uri: str, *, name: str, tracking: dict[str, Any] | None = None,
                wait: bool = True) -> RunRecord:
    from harness.pipeline.run import run
    from harness.tracking.trace_writer import wait_for_traces

    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "I27_FAKE_KEY")}
    os.environ.update({"MLFLOW_TRACKING_URI": uri, "I27_FAKE_KEY": SECRET})
    try:
        record = run(experiment(tmp, api_base, name=name, tracking=tracking), out_dir=tmp / name, report=False)
        if wait:
            progress = wait_for_traces(tmp / name, timeout_s=300)
            assert progress is None or (progress.complete and progress.error is None), \
                (tmp / name / "traces.log").read_text()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return record


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory, mlflow_server: MlflowServer,
            llm: FakeOpenAIServer) -> RunRecord:
    return run_tracked(tmp_path_factory.mktemp("run"), llm.base_url, mlflow_server.uri, name="traced")


def traces_of(uri: str, record: RunRecord, key: str, **kwargs: Any) -> list[Any]:
    import mlflow

    mlflow.set_tracking_uri(uri)
    return list(search_traces(mlflow.search_traces, record.mlflow.experiment_id, run_id=record.mlflow.runs[key],
                              return_type="list", **kwargs))


def root_of(trace: Any) -> Any:
    return next(span for span in trace.data.spans if span.parent_id is None)


def test_one_trace_per_judged_item_in_each_reviewer_run(tracked: RunRecord, mlflow_server: MlflowServer) -> None:
    assert set(tracked.mlflow.runs) == {"hate_speech@v2|fake", "hate_speech@v1|fake"}
    for key in tracked.mlflow.runs:
        label = key.split("|")[0]
        verdicts = tracked.verdicts[tracked.verdicts["policy"] == label].set_index("item_id")
        traces = traces_of(mlflow_server.uri, tracked, key)
        assert len(traces) == len(verdicts) == 40
        for trace in traces:
            item_id = trace.info.client_request_id
            assert trace.info.tags["mlflow.eval.requestId"] == item_id
            verdict = verdicts.loc[item_id]
            root = root_of(trace)
            assert root.inputs["item_id"] == item_id and root.inputs["slices"] == {"language": verdict["language"]}
            assert root.outputs["decision"] == verdict["decision"]
            by_name = {a.name: a for a in trace.info.assessments}
            gold = by_name["gold"]
            assert gold.source.source_type == "HUMAN" and gold.value == verdict["gold"]
            assert gold.source.source_id.startswith("eval_set:traced")
            assert by_name["verdict"].source.source_type == "LLM_JUDGE"
            # class-conditional: over_enforcement only on benign items, leakage only on violating ones
            assert ("over_enforcement" in by_name) == (verdict["gold"] == "benign")
            assert ("leakage" in by_name) == (verdict["gold"] != "benign")
            if verdict["decision"] == "abstained":  # an abstention is an error, never a fake allow
                assert by_name["verdict"].error is not None and by_name["verdict"].value is None
                assert trace.info.state == "ERROR"
            else:
                assert by_name["verdict"].value == verdict["decision"]
                assert by_name["verdict"].rationale == verdict["rationale"]


def test_mlflow_aggregate_of_the_feedback_equals_metrics_json(tracked: RunRecord, mlflow_server: MlflowServer) -> None:
    for key in tracked.mlflow.runs:
        label, reviewer = key.split("|")
        rates = tracked.metrics.section(label)[reviewer]
        traces = traces_of(mlflow_server.uri, tracked, key)
        for name in ("over_enforcement", "leakage"):
            values = [float(a.value) for t in traces for a in t.info.assessments
                      if a.name == name and a.error is None and a.run_id == tracked.mlflow.runs[key]]
            rate = rates.rate(name)
            assert rate is not None and len(values) == rate.n and int(sum(values)) == rate.k
            assert sum(values) / len(values) == pytest.approx(rate.rate)


def test_search_traces_filters_by_decision_and_slice(tracked: RunRecord, mlflow_server: MlflowServer) -> None:
    key = "hate_speech@v2|fake"
    verdicts = tracked.verdicts[tracked.verdicts["policy"] == "hate_speech@v2"]
    found = traces_of(mlflow_server.uri, tracked, key, filter_string=(
        "metadata.`policy_harness.decision` = 'allowed' AND metadata.`policy_harness.slice.language` = 'de'"))
    expected = verdicts[(verdicts["decision"] == "allowed") & (verdicts["language"] == "de")]["item_id"]
    assert sorted(t.info.client_request_id for t in found) == sorted(expected) and len(expected) > 0


def test_a_run_points_candidate_at_the_policy_version_it_tested(tracked: RunRecord,
                                                               mlflow_server: MlflowServer) -> None:
    from mlflow.tracking import MlflowClient

    from harness.tracking.aliases import CANDIDATE, alias_version

    tested = tracked.mlflow.policy_prompts["hate_speech@v2"]
    assert tested is not None
    name, version = tested.removeprefix("prompts:/").rsplit("/", 1)
    assert alias_version(MlflowClient(tracking_uri=mlflow_server.uri), name, CANDIDATE) == int(version)


def test_the_provider_call_is_a_child_span_with_the_usage_the_server_returned(
        tracked: RunRecord, mlflow_server: MlflowServer, llm: FakeOpenAIServer) -> None:
    """Each LLM verdict's trace has the provider call under its root: a chat-model span naming the model,
    with the prompt and completion tokens the fake server reported for that item's request and the call's
    latency as its duration; the trace's token usage is the same."""
    from harness.testing.openai_server import completion_payload

    returned: dict[tuple[bool, str], dict[str, int]] = {}  # (under v2, item id) -> the usage the server sent
    for request in llm.requests_log:
        number = re.search(r"item (\d+)", item_section(last_user_text(request.body)))
        assert number is not None
        returned[(V2_ONLY in json.dumps(request.body), f"it-{int(number.group(1)):03d}")] = \
            completion_payload(request.body, responder(request.body))["usage"]
    for key in tracked.mlflow.runs:
        v2 = key.startswith("hate_speech@v2")
        latencies = tracked.verdicts[tracked.verdicts["policy"] == key.split("|")[0]]["latency_ms"]
        assert latencies.notna().all() and (latencies > 0).all()
        for trace in traces_of(mlflow_server.uri, tracked, key):
            root = root_of(trace)
            (call,) = [span for span in trace.data.spans if span.parent_id == root.span_id]
            usage = returned[(v2, trace.info.client_request_id)]
            assert call.span_type == "CHAT_MODEL" and call.name == "provider call"
            assert call.get_attribute("mlflow.llm.model") == "openai/fake-model"
            assert call.get_attribute("mlflow.chat.tokenUsage") == {
                "input_tokens": usage["prompt_tokens"], "output_tokens": usage["completion_tokens"],
                "total_tokens": usage["prompt_tokens"] + usage["completion_tokens"]}
            assert trace.info.token_usage["input_tokens"] == usage["prompt_tokens"]
            assert call.end_time_ns > call.start_time_ns  # the call's latency, where it was timed


def test_no_api_key_or_header_in_a_trace(tracked: RunRecord, mlflow_server: MlflowServer) -> None:
    for key in tracked.mlflow.runs:
        for trace in traces_of(mlflow_server.uri, tracked, key):
            text = trace.to_json()
            assert SECRET not in text and "Authorization" not in text and "Bearer" not in text


def test_mlflow_paired_comparison_agrees_with_ours(tracked: RunRecord, mlflow_server: MlflowServer) -> None:
    """MLflow's own compare_evaluations on the traces' feedback gives policy-harness's paired numbers."""
    import mlflow
    import mlflow.genai

    compare_evaluations = getattr(mlflow.genai, "compare_evaluations", None)
    if compare_evaluations is None:
        pytest.skip("MLflow before 3.18 has no compare_evaluations; harness.tracking.paired pairs the traces itself")
    mlflow.set_tracking_uri(mlflow_server.uri)
    result = compare_evaluations(candidate_run_id=tracked.mlflow.runs["hate_speech@v2|fake"],
                                 baseline_run_id=tracked.mlflow.runs["hate_speech@v1|fake"])
    ours = tracked.metrics.comparison["fake"]
    for name, change in (("over_enforcement", ours.over_enforcement_change), ("leakage", ours.leakage_change)):
        theirs = result.scorers[name]
        assert theirs.n_paired == change.n
        assert theirs.diff == pytest.approx(change.change)
        assert theirs.p_value == pytest.approx(change.p_value)
    assert ours.over_enforcement_change.down > 0  # the FLIP items: v2 stopped over-enforcing them


def test_traces_none_and_a_sample(tmp_path: Path, mlflow_server: MlflowServer, llm: FakeOpenAIServer) -> None:
    none = run_tracked(tmp_path, llm.base_url, mlflow_server.uri, name="untraced", tracking={"traces": "none"})
    assert all(not traces_of(mlflow_server.uri, none, key) for key in none.mlflow.runs)
    assert not (tmp_path / "untraced" / "traces.json").exists()
    sampled = run_tracked(tmp_path, llm.base_url, mlflow_server.uri, name="sampled",
                          tracking={"traces": {"sample": 7}})
    ids = [sorted(t.info.client_request_id for t in traces_of(mlflow_server.uri, sampled, key))
           for key in sampled.mlflow.runs]
    assert len(ids[0]) == 7 and ids[0] == ids[1]  # the same items in both versions' runs, so they pair


def test_unreachable_server_loses_no_trace_sync_writes_them(tmp_path: Path, mlflow_server: MlflowServer,
                                                           llm: FakeOpenAIServer) -> None:
    from harness.tracking.runs import sync_dir

    down = f"http://127.0.0.1:{free_port()}"
    record = run_tracked(tmp_path, llm.base_url, down, name="offline")
    assert not record.mlflow.synced
    saved = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = mlflow_server.uri
    try:
        synced = sync_dir(tmp_path / "offline")
    finally:
        os.environ.pop("MLFLOW_TRACKING_URI") if saved is None else os.environ.update(MLFLOW_TRACKING_URI=saved)
    assert read_record(tmp_path / "offline").mlflow.synced
    for key in synced.mlflow.runs:
        assert len(traces_of(mlflow_server.uri, synced, key)) == 40


def test_corrections_made_in_mlflow_come_back_for_rescore(tmp_path: Path, mlflow_server: MlflowServer,
                                                          llm: FakeOpenAIServer) -> None:
    """A gold label and a verdict corrected through MLflow's public API are listed by `corrections`, item id
    first with the judge's original kept, and the corrected gold is what the next `rescore` uses."""
    import mlflow
    from mlflow.entities import AssessmentSource
    from support.tracking import cli

    record = run_tracked(tmp_path, llm.base_url, mlflow_server.uri, name="corrected")
    traces = {t.info.client_request_id: t for t in traces_of(mlflow_server.uri, record, "hate_speech@v2|fake")}
    mlflow.log_expectation(trace_id=traces["it-001"].info.trace_id, name="gold", value="benign",
                           source=AssessmentSource(source_type="HUMAN", source_id="ana"))
    verdict = next(a for a in traces["it-006"].info.assessments if a.name == "verdict")
    mlflow.override_feedback(trace_id=traces["it-006"].info.trace_id, assessment_id=verdict.assessment_id,
                             value="actioned", rationale="a slur in context",
                             source=AssessmentSource(source_type="HUMAN", source_id="ben"))

    listed = cli("corrections", str(tmp_path / "corrected"), uri=mlflow_server.uri, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    lines = [line for line in listed.stdout.splitlines() if line.startswith("it-")]
    assert any(line.startswith("it-001\tgold: HS -> benign\tby ana\tjudge said: allowed") for line in lines), lines
    assert any(line.startswith("it-006\tverdict: allowed -> actioned\tby ben\tjudge said: allowed") for line in lines)

    experiment = tmp_path / "corrected" / "corrections" / "corrected-experiment.yaml"
    rescored = cli("rescore", str(tmp_path / "corrected"), "--experiment", str(experiment), "--no-track",
                   "--out", str(tmp_path / "rescored"), uri=mlflow_server.uri, cwd=tmp_path)
    assert rescored.returncode == 0, rescored.stderr
    gold = read_record(tmp_path / "rescored").verdicts.set_index(["policy", "item_id"])["gold"]
    assert gold[("hate_speech@v2", "it-001")] == "benign"
    assert gold[("hate_speech@v2", "it-000")] == "HS"  # uncorrected items keep their gold


def test_the_eval_set_is_an_evaluation_dataset_linked_to_the_runs(tracked: RunRecord,
                                                                 mlflow_server: MlflowServer) -> None:
    """On a SQL store the eval set is an MLflow evaluation dataset: each item's inputs as its trace holds
    them, its gold as the expectation, and the dataset is an input of every reviewer run."""
    import mlflow
    from mlflow.genai.datasets import search_datasets
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(mlflow_server.uri)
    assert tracked.mlflow.experiment_id is not None
    found = [d for d in search_datasets(experiment_ids=[tracked.mlflow.experiment_id])
             if d.name.startswith("traced@")]
    assert len(found) == 1
    records = found[0].to_df()
    assert len(records) == 40
    golds = tracked.items.set_index("item_id")["gold"]
    trace = traces_of(mlflow_server.uri, tracked, "hate_speech@v2|fake")[0]
    for _, rec in records.iterrows():
        item_id = rec["inputs"]["item_id"]
        assert rec["expectations"] == {"gold": golds[item_id]}
        assert set(rec["inputs"]) == set(root_of(trace).inputs)  # the same inputs as the item's trace
    client = MlflowClient(tracking_uri=mlflow_server.uri)
    for run_id in tracked.mlflow.runs.values():
        inputs = client.get_run(run_id).inputs
        assert inputs is not None and found[0].name in [i.dataset.name for i in inputs.dataset_inputs]


def test_a_store_without_evaluation_datasets_says_so_in_one_line(tracked: RunRecord, tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    from mlflow.tracking import MlflowClient

    from harness.tracking.datasets import log_evalset_dataset

    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        client = MlflowClient(tracking_uri=(tmp_path / "mlruns").as_uri())
        experiment_id = client.create_experiment("file-store")
        run_id = client.create_run(experiment_id).info.run_id
        with caplog.at_level("WARNING"):
            assert log_evalset_dataset(client, tracked, [run_id], experiment_id) is None
    finally:
        os.environ.pop("MLFLOW_ALLOW_FILE_STORE")
    lines = [r.getMessage() for r in caplog.records if r.name == "harness.tracking.datasets"]
    assert len(lines) == 1 and "keeps no evaluation datasets" in lines[0] and "\n" not in lines[0]


def test_the_traces_tab_shows_every_item_with_its_assessments(tracked: RunRecord, mlflow_server: MlflowServer,
                                                             chromium: str, tmp_path: Path) -> None:
    """MLflow's own UI (a single-page app) in headless Chromium, driven over its DevTools pipe: the
    experiment's Traces tab lists the items once the app has drawn its table. UPDATE_SCREENSHOTS=1
    saves the screenshot as docs/mlflow-traces.png (otherwise the test leaves the checkout alone)."""
    from chromium_devtools import Browser

    url = f"{mlflow_server.uri}/#/experiments/{tracked.mlflow.experiment_id}/traces"
    browser = Browser(chromium, tmp_path / "profile")
    try:
        open_app(browser, url)
        ids = json.dumps(sorted(set(tracked.verdicts["item_id"])))
        browser.wait_for(f"{ids}.filter(i => document.body.innerText.includes(i)).length >= 10")
        time.sleep(2)  # the table's last cells and column widths settle
        text = browser.evaluate("document.body.innerText")
        shot = browser.screenshot(tmp_path / "traces.png")
    finally:
        browser.close()
    assert "80 traces" in text  # 40 items under two policy versions
    assert shot.stat().st_size > 20_000
    if os.environ.get("UPDATE_SCREENSHOTS"):
        (REPO_ROOT / "docs" / "mlflow-traces.png").write_bytes(shot.read_bytes())


def open_app(browser: Any, url: str) -> None:
    browser.page("Page.navigate", url=url)
    browser.wait_for("document.readyState === 'complete'")
    # first-visit pop-ups (the assistant panel, a tip) would cover the table: mark them seen, as a user would
    browser.evaluate("""for (const key of ['mlflow.detectIssues.guidanceShown_v1',
        'mlflow.assistant.fab.autoOpenedOnFirstLoad_v1', 'mlflow.flagForReview.guidanceShown_v1'])
        localStorage.setItem(key, 'true');
        localStorage.setItem('mlflow.assistant.panelOpen_v1', 'false');""")
    browser.page("Page.reload")


def test_the_evaluation_run_view_shows_every_item_with_its_assessments(
        tracked: RunRecord, mlflow_server: MlflowServer, chromium: str, tmp_path: Path) -> None:
    """MLflow 3.18's Evaluation runs page, one reviewer run opened (the route the UI's run link takes,
    `#/experiments/<id>/evaluation-runs/<run>/details`): the items with their over_enforcement, leakage,
    verdict and gold columns and the run's trace count. UPDATE_SCREENSHOTS=1 saves docs/mlflow-evaluations.png."""
    from chromium_devtools import Browser

    key = "hate_speech@v2|fake"
    run_id, metrics = tracked.mlflow.runs[key], tracked.metrics.section("hate_speech@v2")["fake"]
    url = f"{mlflow_server.uri}/#/experiments/{tracked.mlflow.experiment_id}/evaluation-runs/{run_id}/details"
    browser = Browser(chromium, tmp_path / "profile", width=2000, height=1100)  # wide enough for every assessment
    try:
        open_app(browser, url)
        ids = json.dumps(sorted(set(tracked.verdicts["item_id"])))
        browser.wait_for(f"{ids}.filter(i => document.body.innerText.includes(i)).length >= 10"
                         " && document.body.innerText.includes('over_enforcement')")
        time.sleep(2)  # the assessment summaries above the columns settle
        text = browser.evaluate("document.body.innerText")
        shot = browser.screenshot(tmp_path / "evaluations.png")
    finally:
        browser.close()
    assert "hate_speech@v2 · fake" in text
    for name in ("over_enforcement", "leakage", "verdict", "gold"):
        assert name in text
    assert re.search(r"Traces\s+40\b", text) and re.search(rf"Errors\s+{metrics.abstained}\b", text)  # abstentions
    assert shot.stat().st_size > 20_000
    if os.environ.get("UPDATE_SCREENSHOTS"):
        (REPO_ROOT / "docs" / "mlflow-evaluations.png").write_bytes(shot.read_bytes())


def test_exact_mcnemar_from_the_traces_agrees_with_compare(tracked: RunRecord, mlflow_server: MlflowServer) -> None:
    """Without MLflow's compare_evaluations (before 3.18) the traces' feedback, paired by item id, gives the
    discordant counts and exact p-value of `policy-harness compare` on the same items."""
    from mlflow.tracking import MlflowClient

    from harness.tracking.paired import compare_runs, mcnemar_from_traces

    client = MlflowClient(tracking_uri=mlflow_server.uri)
    v2, v1 = tracked.mlflow.runs["hate_speech@v2|fake"], tracked.mlflow.runs["hate_speech@v1|fake"]
    ours = tracked.metrics.comparison["fake"]
    fallback = mcnemar_from_traces(client, v2, v1)
    native = compare_runs(client, v2, v1)
    for name, change in (("over_enforcement", ours.over_enforcement_change), ("leakage", ours.leakage_change)):
        theirs = fallback[name]
        assert (theirs.n_paired, theirs.up, theirs.down) == (change.n, change.up, change.down)
        assert theirs.diff == pytest.approx(change.change) and theirs.p_value == pytest.approx(change.p_value)
        assert native[name].n_paired == change.n and native[name].p_value == pytest.approx(change.p_value)
    assert (fallback["over_enforcement"].down or 0) > 0  # the FLIP items: a real discordant pair, not 0 == 0


def test_the_gates_are_the_runs_quality_criteria(tracked: RunRecord, mlflow_server: MlflowServer) -> None:
    """MLflow 3.18's evaluation runs view checks a run's quality criteria against its `<scorer>/mean` metrics:
    the overall feedback gates are those rules, and the means are our rates."""
    from mlflow.tracking import MlflowClient

    from harness.tracking.criteria import QUALITY_CRITERIA_TAG

    client = MlflowClient(tracking_uri=mlflow_server.uri)
    for key, run_id in tracked.mlflow.runs.items():
        label, reviewer = key.split("|")
        run = client.get_run(run_id)
        rules = json.loads(run.data.tags[QUALITY_CRITERIA_TAG])["rules"]
        assert rules == [{"metricKey": "over_enforcement/mean", "comparator": "LTE", "threshold": 0.5},
                         {"metricKey": "leakage/mean", "comparator": "LTE", "threshold": 0.5}]
        for name in ("over_enforcement", "leakage"):
            rate = tracked.metrics.section(label)[reviewer].rate(name)
            assert rate is not None and run.data.metrics[f"{name}/mean"] == pytest.approx(rate.rate)
