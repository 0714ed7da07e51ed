"""Hostile inputs through the real CLI: every problem is one line 'error: <file or key>: what, how to fix',
exit status 2, no traceback, nothing written. One row per problem; all rows run as subprocesses in parallel."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.llm import free_port
from support.reliability import (
    GOOD_ROWS,
    HEADER,
    V2,
    cli,
    cli_batch,
    experiment_data,
    items_csv,
    llm_reviewer,
    one_error_line,
    workspace,
)

from harness.testing.openai_server import FakeOpenAIServer

BOM = b"\xef\xbb\xbf"
POLICY = V2.read_text(encoding="utf-8")


@dataclass(frozen=True)
class Case:
    """`build(root, api_base)` writes files under root and returns the CLI arguments; the error line
    must contain every needle (the file or key it names, and a word of what is wrong)."""
    id: str
    build: Callable[[Path, str], list[str]]
    needles: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()


def file_case(case_id: str, name: str, content: str | bytes, *needles: str) -> Case:
    """`validate <file>` on one eval-set or policy file."""
    def build(root: Path, _: str) -> list[str]:
        path = root / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content, encoding="utf-8")
        return ["validate", name]
    return Case(case_id, build, (name, *needles))


def exp_case(case_id: str, command: str, *needles: str, items: str | bytes | None = None,
             env: tuple[tuple[str, str], ...] = (), **overrides: object) -> Case:
    """`validate exp.yaml` or `run exp.yaml` on a valid workspace with one thing broken."""
    def build(root: Path, api_base: str) -> list[str]:
        data = experiment_data()
        for key, value in overrides.items():
            value = value(api_base) if callable(value) else value
            if "." in key:
                outer, inner = key.split(".", 1)
                data[outer] = {**data[outer], inner: value}
            else:
                data[key] = value
        workspace(root, items=items, data=data)
        return [command, "exp.yaml"] + (["--no-track", "--out", "out"] if command == "run" else [])
    return Case(f"{case_id}-{command}", build, needles, env)


def both(case_id: str, *needles: str, **kwargs: object) -> list[Case]:
    return [exp_case(case_id, command, *needles, **kwargs) for command in ("validate", "run")]


def raw_case(case_id: str, build: Callable[[Path, str], list[str]], *needles: str) -> Case:
    return Case(case_id, build, needles)


def _rows_plus(*extra: tuple[str, ...]) -> str:
    return items_csv(GOOD_ROWS + list(extra))


def _jsonl(*rows: dict[str, object]) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


def _write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _dir_named(name: str) -> Callable[[Path, str], list[str]]:
    def build(root: Path, _: str) -> list[str]:
        (root / name).mkdir()
        return ["validate", name]
    return build


def _policy_missing_in_experiment(root: Path, _: str) -> list[str]:
    workspace(root, data=experiment_data(policy="policies/nowhere.md"))
    return ["validate", "exp.yaml"]


def _evalset_dir(root: Path, _: str) -> list[str]:
    data = experiment_data()
    data["eval_set"] = {**data["eval_set"], "path": "folder.csv"}
    workspace(root, data=data)
    (root / "folder.csv").mkdir()
    return ["validate", "exp.yaml"]


def _out_is_a_file(root: Path, api_base: str) -> list[str]:
    workspace(root, data=experiment_data(reviewers=[llm_reviewer(api_base)]))
    _write(root, "taken", "a file where the output directory should go\n")
    return ["run", "exp.yaml", "--no-track", "--quiet", "--out", "taken"]  # quiet: the error is the only line


def _prompt_not_utf8(root: Path, api_base: str) -> list[str]:
    (root / "bad_prompt.md").parent.mkdir(parents=True, exist_ok=True)
    (root / "bad_prompt.md").write_bytes("caf\xe9 {{ policy_body }}\n=== ITEM ===\n{{ item }}\n".encode("latin-1"))
    workspace(root, data=experiment_data(reviewers=[llm_reviewer(api_base, prompt="bad_prompt.md")]))
    return ["validate", "exp.yaml"]


def _prompt_bad_front_matter(root: Path, api_base: str) -> list[str]:
    _write(root, "fm_prompt.md", "---\nid: [unclosed\nversion: one\n---\n{{ policy_body }}\n=== ITEM ===\n{{ item }}\n")
    workspace(root, data=experiment_data(reviewers=[llm_reviewer(api_base, prompt="fm_prompt.md")]))
    return ["validate", "exp.yaml"]


def _prompt_bad_version(root: Path, api_base: str) -> list[str]:
    _write(root, "ver_prompt.md", "---\nid: p\nversion: one\n---\n{{ policy_body }}\n=== ITEM ===\n{{ item }}\n")
    workspace(root, data=experiment_data(reviewers=[llm_reviewer(api_base, prompt="ver_prompt.md")]))
    return ["validate", "exp.yaml"]


def _experiment_file(name: str, content: str | bytes) -> Callable[[Path, str], list[str]]:
    def build(root: Path, _: str) -> list[str]:
        workspace(root)
        path = root / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content, encoding="utf-8")
        return ["validate", name]
    return build


DEAD_PORT = free_port()

CASES: list[Case] = [
    # --- eval-set files: bytes and structure ---------------------------------------------------
    file_case("empty-csv", "empty.csv", "", "empty"),
    file_case("empty-jsonl", "empty.jsonl", "", "empty"),
    file_case("whitespace-only-file", "blank.csv", "  \n\n \t\n", "empty"),
    file_case("header-only", "header.csv", "text,label\n", "no items"),
    file_case("tab-delimited-as-csv", "tabs.csv", "text\tlabel\na\tbenign\nb\tHS\n", "tab-separated"),
    file_case("semicolon-delimited", "semi.csv", "text;label\na;benign\nb;HS\n", "semicolon"),
    file_case("ragged-row", "ragged.csv", "text,label\na,benign\nb,HS\nc,HS,extra,fields\n", "line 4"),
    file_case("unclosed-quote", "quote.csv", 'text,label\n"never closed,benign\nb,HS\n', "quote"),
    file_case("duplicate-header", "twice.csv", "text,text,label\na,b,benign\n", "'text'", "twice"),
    file_case("broken-jsonl-line", "broken.jsonl", _jsonl({"text": "a", "label": "benign"})
              + '{"text": "b", "label"\n' + _jsonl({"text": "c", "label": "HS"}), "line 2", "JSON"),
    file_case("jsonl-line-not-object", "list.jsonl", _jsonl({"text": "a", "label": "benign"}) + '["b", "HS"]\n',
              "line 2", "object"),
    file_case("jsonl-lone-surrogate", "surrogate.jsonl", _jsonl({"text": "a", "label": "benign"})
              + '{"text": "b \\ud800 c", "label": "HS"}\n', "line 2"),
    file_case("non-utf8-csv", "latin1.csv", b"text,label\nok,benign\ncaf\xe9,HS\n", "line 3", "UTF-8"),
    file_case("non-utf8-jsonl", "latin1.jsonl", b'{"text": "ok", "label": "benign"}\n{"text": "caf\xe9", "label": "HS"}\n',
              "line 2", "UTF-8"),
    file_case("truncated-utf8", "cut.csv", "text,label\nok,benign\ncafé,HS".encode()[:-4] + b"\xc3", "UTF-8"),
    file_case("bom-then-broken-jsonl", "bom.jsonl", BOM + b'{"text": "a", "label": "benign"}\n{"text": \n',
              "line 2"),
    file_case("empty-text", "blank_text.csv", "text,label\nfine,benign\n\"\",HS\n", "row 2", "empty text"),
    file_case("whitespace-text", "space_text.csv", "text,label\nfine,benign\n\"  \t \",HS\n", "row 2", "empty text"),
    file_case("missing-label", "nolabel.csv", "text,label\nfine,benign\nunlabelled,\n", "row 2", "no label"),
    file_case("unknown-suffix", "items.txt", "text,label\na,benign\n", "validate takes"),
    file_case("corrupt-parquet", "bad.parquet", b"PAR1 not really parquet", "PARQUET"),
    raw_case("eval-file-is-a-directory", _dir_named("folder.csv"), "folder.csv", "directory"),

    # --- eval-set content through an experiment (validate and run) -----------------------------
    *both("duplicate-ids", "items.csv", "'a2'", "more than once", items=_rows_plus(("a2", "again", "hateful", "1"))),
    *both("duplicate-ids-after-bom", "items.csv", "'a1'", "more than once",
          items=BOM + _rows_plus(("a1", "again", "hateful", "1")).encode()),
    *both("missing-id", "items.csv", "row 5", "no id", items=_rows_plus(("", "no id here", "hateful", "1"))),
    *both("label-outside-mapping", "items.csv", "'spam'", "eval_set.labels",
          items=_rows_plus(("a5", "buy now", "spam", "1"))),
    exp_case("label-not-in-policy", "validate", "items.csv", "'HX'", "not a category",
             **{"eval_set.labels": {"hateful": "HX", "non-hateful": "benign"}}),
    *both("negative-weight", "items.csv", "row 5", "weight", items=_rows_plus(("a5", "text", "hateful", "-1"))),
    *both("weight-not-a-number", "items.csv", "'heavy'", "weight", items=_rows_plus(("a5", "text", "hateful", "heavy"))),
    exp_case("column-not-in-file", "validate", "items.csv", "'tweet'", "eval_set.columns",
             **{"eval_set.columns": {"id": "id", "text": "tweet", "label": "label"}}),
    *both("eval-set-missing", "missing.csv", "not found", **{"eval_set.path": "data/missing.csv"}),
    *both("eval-set-path-empty-list", "exp.yaml", "eval_set.path", **{"eval_set.path": []}),
    raw_case("eval-set-is-a-directory-in-experiment", _evalset_dir, "folder.csv", "directory"),

    # --- policies ------------------------------------------------------------------------------
    file_case("policy-without-front-matter", "nofm.md", "# Policy\n\n- **HS1** Hate.\n", "front matter"),
    file_case("policy-front-matter-unclosed", "unclosed.md", "---\nid: p\nversion: 1\n# Policy\n", "front matter"),
    file_case("policy-front-matter-bad-yaml", "badyaml.md", "---\nid: [p\nversion: 1\n---\nbody\n", "line 3"),
    file_case("policy-duplicate-rule-ids", "duprules.md", POLICY + "\n- **HS1** Said again.\n", "'HS1'", "twice"),
    file_case("policy-duplicate-category", "dupcat.md",
              "---\nid: p\nversion: 1\ncategories: [{id: HS}, {id: HS}]\n---\n- **HS1** x\n", "'HS'", "twice"),
    file_case("policy-bad-version", "badver.md", "---\nid: p\nversion: first\ncategories: [{id: HS}]\n---\n", "version"),
    file_case("policy-not-utf8", "latin1.md", "---\nid: caf\xe9\n---\n".encode("latin-1"), "UTF-8"),
    file_case("policy-empty", "empty.md", "", "front matter"),
    raw_case("policy-is-a-directory", _dir_named("folder.md"), "folder.md", "directory"),
    raw_case("policy-missing-from-experiment", _policy_missing_in_experiment, "nowhere.md", "not found"),
    *both("baseline-missing", "old.md", "not found", baseline="old.md"),

    # --- prompt templates ----------------------------------------------------------------------
    exp_case("prompt-missing", "validate", "nowhere.j2", "not found",
             reviewers=lambda api: [llm_reviewer(api, prompt="nowhere.j2")]),
    raw_case("prompt-not-utf8", _prompt_not_utf8, "bad_prompt.md", "UTF-8"),
    raw_case("prompt-front-matter-bad-yaml", _prompt_bad_front_matter, "fm_prompt.md", "YAML"),
    raw_case("prompt-version-not-a-number", _prompt_bad_version, "ver_prompt.md", "version"),

    # --- experiment files and keys -------------------------------------------------------------
    *both("misspelled-top-level-key", "exp.yaml", "Did you mean 'reviewers'?", reviewrs=[]),
    exp_case("misspelled-eval-set-key", "validate", "exp.yaml", "Did you mean 'columns'?",
             **{"eval_set.colums": {"text": "text"}}),
    *both("misspelled-reviewer-key", "exp.yaml", "Did you mean 'temperature'?",
          reviewers=lambda api: [llm_reviewer(api, temprature=0.2)]),
    *both("wrong-type-limit", "exp.yaml", "'limit'", "'lots'", limit="lots"),
    exp_case("wrong-type-reviewers", "validate", "exp.yaml", "'reviewers'", "list", reviewers="tfidf"),
    exp_case("wrong-type-eval-set", "validate", "exp.yaml", "'eval_set'", eval_set=5),
    exp_case("wrong-type-concurrency", "validate", "exp.yaml", "concurrency", "'many'",
             reviewers=lambda api: [llm_reviewer(api, concurrency="many")]),
    exp_case("wrong-type-labels", "validate", "exp.yaml", "eval_set.labels",
             **{"eval_set.labels": ["hateful", "benign"]}),
    exp_case("out-of-range-temperature", "validate", "exp.yaml", "temperature",
             reviewers=lambda api: [llm_reviewer(api, temperature=5)]),
    exp_case("unknown-reviewer-type", "validate", "exp.yaml", "'gpt'", reviewers=[{"name": "x", "type": "gpt"}]),
    exp_case("unknown-gate", "validate", "exp.yaml", "'overenforcement'", gates={"overenforcement": {"max": 0.1}}),
    raw_case("experiment-not-a-mapping", _experiment_file("list.yaml", "- a\n- b\n"), "list.yaml", "mapping"),
    raw_case("experiment-empty", _experiment_file("blank.yaml", ""), "blank.yaml", "mapping"),
    raw_case("experiment-missing-key", _experiment_file("nopolicy.yaml", "eval_set: {path: items.csv}\n"
                                                        "reviewers: [{name: c, type: classifier}]\n"),
             "nopolicy.yaml", "'policy'"),
    raw_case("experiment-not-utf8", _experiment_file("latin1.yaml", "name: caf\xe9\n".encode("latin-1")),
             "latin1.yaml", "UTF-8"),
    raw_case("experiment-bad-yaml", _experiment_file("tabs.yaml", "name: x\neval_set:\n\tpath: a.csv\n"),
             "tabs.yaml", "line 3"),
    raw_case("experiment-is-a-directory", _dir_named("folder.yaml"), "folder.yaml", "directory"),
    raw_case("experiment-missing", lambda root, _: ["run", "nowhere.yaml", "--no-track"], "nowhere.yaml", "not found"),

    # --- the model endpoint and its key (run only: validate calls no model) ---------------------
    exp_case("unreachable-endpoint", "run", "exp.yaml", f"127.0.0.1:{DEAD_PORT}", "cannot reach",
             reviewers=[llm_reviewer(f"http://127.0.0.1:{DEAD_PORT}/v1")]),
    exp_case("api-key-variable-unset", "run", "exp.yaml", "PH_REL_UNSET_KEY", "not set",
             reviewers=lambda api: [llm_reviewer(api, api_key_env="PH_REL_UNSET_KEY")]),

    # --- outputs -------------------------------------------------------------------------------
    raw_case("out-is-a-file", _out_is_a_file, "taken", "could not write"),
]


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[subprocess.CompletedProcess[str], Path]]:
    """Every row of both tables in one batch (the imports are paid once), keyed by case id or file name."""
    base = tmp_path_factory.mktemp("inputs")
    keys, jobs = [], []
    with FakeOpenAIServer() as server:
        for case in CASES:
            root = base / case.id
            root.mkdir()
            keys.append(case.id)
            jobs.append((root, case.build(root, server.base_url), dict(case.env)))
        for name in BOM_FILES:
            root = base / name.replace(".", "-")
            keys.append(name)
            jobs.append((root, ["validate", _bom_workspace(root, name)], {}))
        results = cli_batch(jobs, work=base)
    return {key: (result, root) for key, result, (root, _, _) in zip(keys, results, jobs)}


def test_case_ids_are_unique() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_one_clear_line(case: Case, batch: dict) -> None:
    result, root = batch[case.id]
    line = one_error_line(result)
    for needle in case.needles:
        assert needle in line, f"{needle!r} missing from: {line}"
    assert not (root / "out").exists(), "a failed run wrote outputs"


BOM_FILES = ["bom.csv", "bom.tsv", "bom.jsonl", "bom.yaml", "bom.md"]


def _bom_workspace(root: Path, name: str) -> str:
    exp = workspace(root)
    content = {
        "bom.csv": items_csv().encode(),
        "bom.tsv": items_csv().replace(",", "\t").encode(),
        "bom.jsonl": "".join(json.dumps(dict(zip(HEADER.strip().split(","), row))) + "\n" for row in GOOD_ROWS).encode(),
        "bom.yaml": exp.read_bytes(),
        "bom.md": V2.read_bytes(),
    }[name]
    (root / name).write_bytes(BOM + content)
    if not name.endswith(("csv", "tsv", "jsonl")):
        return name
    data = experiment_data()  # through an experiment, so the first (id) column is looked up by name
    data["eval_set"] = {**data["eval_set"], "path": name}
    workspace(root, data=data)
    return "exp.yaml"


@pytest.mark.parametrize("name", BOM_FILES)
def test_byte_order_mark_is_accepted(name: str, batch: dict) -> None:
    """A BOM (Excel and Notepad write one) is not an error anywhere, and does not rename the first column."""
    result, _ = batch[name]
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")
    if name != "bom.md":
        assert "(4 items)" in result.stdout


@pytest.mark.parametrize("case_id", ["broken-jsonl-line", "wrong-type-limit-run", "api-key-variable-unset-run"])
def test_batch_matches_python_dash_m(case_id: str, batch: dict, tmp_path: Path) -> None:
    """The forked batch runner is faithful: `python -m harness` prints the same line for the same input."""
    case = next(c for c in CASES if c.id == case_id)
    with FakeOpenAIServer() as server:
        args = case.build(tmp_path, server.base_url)
        real = cli(*args, cwd=tmp_path, env=dict(case.env))
    batched, root = batch[case_id]
    assert (real.returncode, real.stderr.replace(str(tmp_path), "<root>")) == \
        (batched.returncode, batched.stderr.replace(str(root), "<root>"))
