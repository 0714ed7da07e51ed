"""Secrets through the CLI: an API key held in an environment variable reaches the provider and nothing else,
not on the happy path and not on the error paths (a provider that echoes the key in its error, a wrong key,
an endpoint that is down). tests/reviewers/test_llm_reviewer.py scans the files of an in-process run; this
adds the command line's stdout and stderr, its error messages, MLflow tracking from the CLI and litellm's
debug logging."""

from __future__ import annotations

import json
from pathlib import Path

from support.llm import free_port
from support.reliability import (
    GOOD_ROWS,
    cli_batch,
    experiment_data,
    items_csv,
    llm_reviewer,
    one_error_line,
    workspace,
)

from harness.testing.openai_server import FakeOpenAIServer, last_user_text

SECRET = "sk-rel-SECRET-5f3a9c1e7b2d"
WRONG = "sk-rel-WRONG-0a8e6d4c2b19"
NEEDLES = [key.encode() for key in (SECRET, WRONG)] + [b"5f3a9c1e7b2d", b"0a8e6d4c2b19"]
ROWS = GOOD_ROWS + [("echo", "ECHO the caller's credentials", "hateful", "1"),
                    ("err", "FAULT:500 VIOLATE", "hateful", "1"),
                    ("cut", "FAULT:disconnect text", "non-hateful", "1"),
                    ("junk", "FAULT:garbage text", "non-hateful", "1")]


def echoing_responder(request: dict) -> str:
    """A provider whose error message quotes the credentials it was sent (some do, masked or not)."""
    if "ECHO" in last_user_text(request):
        raise PermissionError(f"request with 'Authorization: Bearer {SECRET}' is not allowed here")
    violation = "VIOLATE" in last_user_text(request).rsplit("<<<ITEM>>>", 1)[-1]
    return json.dumps({"violation": violation, "categories": ["HS"] if violation else [], "rule_ids": [],
                       "confidence": 0.9, "rationale": "marker"})


def test_api_key_never_leaves_the_request(tmp_path: Path) -> None:
    key_env = {"PH_REL_KEY": SECRET, "LITELLM_LOG": "DEBUG"}
    with FakeOpenAIServer(require_api_key=SECRET, responder=echoing_responder) as server:
        def ws(name: str, api_base: str) -> Path:
            root = tmp_path / "ws" / name
            tracking = {"enabled": True, "experiment_name": f"rel-secrets-{name}"}
            workspace(root, items=items_csv(ROWS), data=experiment_data(
                reviewers=[llm_reviewer(api_base, api_key_env="PH_REL_KEY", max_retries=1)], tracking=tracking))
            return root

        ok, wrong, down = ws("ok", server.base_url), ws("wrong", server.base_url), \
            ws("down", f"http://127.0.0.1:{free_port()}/v1")
        results = cli_batch([
            (ok, ["run", "exp.yaml", "--out", "out"], key_env),
            (ok, ["estimate", "exp.yaml"], key_env),
            (wrong, ["run", "exp.yaml", "--out", "out"], {**key_env, "PH_REL_KEY": WRONG}),
            (down, ["run", "exp.yaml", "--out", "out"], key_env),
        ], work=tmp_path)
        sent = server.requests_log
    run, estimate, rejected, unreachable = results

    # the key was used, the run and its tracking worked, and the error paths said what to fix
    assert sent and all(logged.has_authorization for logged in sent)
    assert run.returncode == 0, run.stderr
    record = json.loads((ok / "out" / "record.json").read_text(encoding="utf-8"))
    assert record["mlflow"].get("parent_run_id"), "tracking failed, so the scan below would prove little"
    assert estimate.returncode == 0, estimate.stderr
    verdicts = {row["item_id"]: row for row in _verdicts(ok / "out")}
    assert verdicts["echo"]["decision"] == "abstained" and "Bearer ***" in verdicts["echo"]["abstain_reason"]
    assert verdicts["err"]["decision"] == "abstained"
    assert "401" in one_error_line(rejected) and "PH_REL_KEY" in rejected.stderr
    assert "cannot reach" in one_error_line(unreachable)

    files = [p for p in (tmp_path / "ws").rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"mlflow.db", "judgements.sqlite", "record.json", "metrics.json", "verdicts.parquet", "report.html"} <= names
    assert any("mlartifacts" in p.parts for p in files)
    leaks = [str(p) for p in files for needle in NEEDLES if needle in p.read_bytes()]
    assert not leaks, f"API key found in {leaks}"
    for result in results:
        printed = (result.stdout + result.stderr).encode()
        assert not [needle for needle in NEEDLES if needle in printed], f"API key printed by {result.args}"


def _verdicts(out: Path) -> list[dict]:
    import pandas as pd

    return pd.read_parquet(out / "verdicts.parquet").to_dict("records")
