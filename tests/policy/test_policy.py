"""Policies: Markdown with YAML front matter, rules and exceptions with stable ids, content hash."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.policy import load_policy, parse_policy

RULES = ["HS1", "HS2", "HS3", "HS4", "HS5"]

MINIMAL = """\
---
id: demo
version: 3
categories:
  - {id: HS, name: Hate speech}
  - {id: HR, name: Harassment}
---
# Demo

## Rules
- **HS1** Slurs.
- **HR1**: Threats at a person.

## Exceptions
- **X1** Counter-speech.
"""


@pytest.fixture
def policies(repo_root: Path) -> Path:
    return repo_root / "prompts" / "policies" / "hate_speech"


def test_shipped_v1(policies: Path) -> None:
    policy = load_policy(policies / "v1.md")
    assert (policy.id, policy.version, policy.label) == ("hate_speech", 1, "hate_speech@v1")
    assert policy.category_ids == ["HS"]
    assert policy.rule_ids == [*RULES, "HS-E1"]
    assert [r.id for r in policy.rules if r.is_exception] == ["HS-E1"]
    assert policy.rule("HS2").text.startswith("Calls for")


def test_shipped_v2_adds_exceptions(policies: Path) -> None:
    policy = load_policy(policies / "v2.md")
    assert (policy.id, policy.version) == ("hate_speech", 2)
    assert policy.category_ids == ["HS"]
    exceptions = [r.id for r in policy.rules if r.is_exception]
    assert exceptions == ["HS-E1", "HS-E2", "HS-E3", "HS-E4", "HS-E5", "HS-E6"]
    assert [r.id for r in policy.rules if not r.is_exception] == RULES
    assert "Counter-speech" in policy.rule("HS-E2").text
    v1 = load_policy(policies / "v1.md")
    assert not {"HS-E2", "HS-E3", "HS-E4", "HS-E5", "HS-E6"} & set(v1.rule_ids)


def test_hash_differs_between_versions_and_tracks_text(policies: Path, tmp_path: Path) -> None:
    v1, v2 = load_policy(policies / "v1.md"), load_policy(policies / "v2.md")
    assert len(v1.sha256) == 64 and v1.sha256 != v2.sha256
    assert load_policy(policies / "v1.md").sha256 == v1.sha256  # stable across loads
    edited = tmp_path / "v1.md"
    edited.write_text(v1.text.replace("Judge the text as written.", "Judge the text as written!"), encoding="utf-8")
    assert load_policy(edited).sha256 != v1.sha256


def test_crlf_and_bom_do_not_change_identity(policies: Path, tmp_path: Path) -> None:
    v1 = load_policy(policies / "v1.md")
    windows = tmp_path / "v1.md"
    windows.write_bytes(b"\xef\xbb\xbf" + v1.text.replace("\n", "\r\n").encode("utf-8"))
    again = load_policy(windows)
    assert again.rule_ids == v1.rule_ids and again.sha256 == v1.sha256


def test_minimal_policy_parses() -> None:
    policy = parse_policy(MINIMAL)
    assert policy.version == 3 and policy.title == "demo"
    assert policy.category_ids == ["HS", "HR"]
    assert policy.rule_ids == ["HS1", "HR1", "X1"]
    assert policy.rule("HR1").text == "Threats at a person."
    assert [r.is_exception for r in policy.rules] == [False, False, True]


def test_version_as_v_string() -> None:
    assert parse_policy(MINIMAL.replace("version: 3", "version: v4")).version == 4


def test_no_front_matter(tmp_path: Path) -> None:
    path = tmp_path / "bare.md"
    path.write_text("# Policy\n\n- **HS1** Slurs.\n", encoding="utf-8")
    with pytest.raises(HarnessError, match="front matter") as info:
        load_policy(path)
    assert "bare.md" in str(info.value)


def test_duplicate_rule_ids(tmp_path: Path) -> None:
    path = tmp_path / "dupe.md"
    path.write_text(MINIMAL.replace("**X1**", "**HS1**"), encoding="utf-8")
    with pytest.raises(HarnessError, match="rule id 'HS1' appears twice") as info:
        load_policy(path)
    assert "dupe.md" in str(info.value)


@pytest.mark.parametrize(("remove", "expected"), [
    ("id: demo\n", "'id'"),
    ("version: 3\n", "'version'"),
    ("categories:\n  - {id: HS, name: Hate speech}\n  - {id: HR, name: Harassment}\n", "'categories'"),
])
def test_missing_front_matter_field(tmp_path: Path, remove: str, expected: str) -> None:
    assert remove in MINIMAL
    path = tmp_path / "p.md"
    path.write_text(MINIMAL.replace(remove, ""), encoding="utf-8")
    with pytest.raises(HarnessError, match=expected) as info:
        load_policy(path)
    assert "p.md" in str(info.value)


@pytest.mark.parametrize("version", ["0", "two", "true", "1.5"])
def test_bad_version(version: str) -> None:
    with pytest.raises(HarnessError, match="version"):
        parse_policy(MINIMAL.replace("version: 3", f"version: {version}"), path="x.md")


def test_duplicate_and_reserved_categories() -> None:
    with pytest.raises(HarnessError, match="'HS' is declared twice"):
        parse_policy(MINIMAL.replace("{id: HR,", "{id: HS,"))
    with pytest.raises(HarnessError, match="reserved"):
        parse_policy(MINIMAL.replace("{id: HR,", "{id: benign,"))


def test_missing_policy_file(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="not found") as info:
        load_policy(tmp_path / "gone.md")
    assert "gone.md" in str(info.value)


def test_a_tab_in_the_front_matter_says_to_use_spaces(tmp_path: Path) -> None:
    path = tmp_path / "tabbed.md"
    path.write_text(MINIMAL.replace("  - {id: HR", "\t- {id: HR"), encoding="utf-8")
    with pytest.raises(HarnessError) as info:
        load_policy(path)
    assert "tabbed.md" in str(info.value) and "line 6" in str(info.value)
    assert "indent with spaces, not tabs" in str(info.value)
