"""Localized policies: `vN.<lang>.md` beside `vN.md`, checked against the original by load and by lint."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.llm import V2

from harness.errors import HarnessError
from harness.policy import load_policy
from harness.policy.lint import lint_file
from harness.policy.localized import LocalizedPolicy, language_tag_problem, load_translations


def translate(text: str, language: str, marker: str = "Übersetzt.") -> str:
    """V2 with `language:` in its front matter and one line of the body changed."""
    head, body = text.split("\n---\n", 1)
    body = body.replace("## Instruction", "## Instruction\n" + marker, 1)
    return f"{head}\nlanguage: {language}\n---\n{body}"


def policies(tmp_path: Path, **translations: str) -> Path:
    original = tmp_path / "v2.md"
    text = V2.read_text(encoding="utf-8")
    original.write_text(text, encoding="utf-8")
    for tag, body in translations.items():
        (tmp_path / f"v2.{tag.replace('_', '-')}.md").write_text(body or translate(text, tag.replace("_", "-")),
                                                                 encoding="utf-8")
    return original


def test_translations_load_beside_the_original(tmp_path: Path) -> None:
    original = load_policy(policies(tmp_path, de="", pt_BR=""))
    found = load_translations(original)
    assert sorted(found) == ["de", "pt-br"] and found["de"].rule_ids == original.rule_ids
    localized = LocalizedPolicy.of(original, found, "language")
    assert localized.label == "hate_speech@v2+localized" and localized.sha256 != original.sha256
    assert localized.for_language("de-AT") is found["de"] and localized.for_language("PT-br") is found["pt-br"]
    assert localized.for_language("fr") is None


@pytest.mark.parametrize(("change", "problem"), [
    (lambda t: t.replace("- **HS5**", "- **HS9**"), "rule id HS5 of the original is missing from the translation"),
    (lambda t: t + "\n- **HS-E9** Satire.\n", "rule id HS-E9 is not in the original"),
])
def test_lint_errors_when_a_translation_differs_in_rule_ids(tmp_path: Path, change: object, problem: str) -> None:
    assert callable(change)
    original = policies(tmp_path, de=change(translate(V2.read_text(encoding="utf-8"), "de")))
    on_original = lint_file(original)
    assert [f.code for f in on_original.errors] == ["E106"] and problem in on_original.errors[0].message
    assert "v2.de.md" in on_original.errors[0].message and on_original.exit_code() == 1
    on_translation = lint_file(tmp_path / "v2.de.md")
    assert [f.code for f in on_translation.errors] == ["E106"]
    with pytest.raises(HarnessError, match=problem):
        load_translations(load_policy(original))


def test_a_matching_translation_lints_clean_of_e106(tmp_path: Path) -> None:
    original = policies(tmp_path, de="")
    assert "E106" not in {f.code for f in lint_file(original).findings}
    assert "E106" not in {f.code for f in lint_file(tmp_path / "v2.de.md").findings}


def test_language_tags_are_bcp47_and_the_error_names_the_fix(tmp_path: Path) -> None:
    assert language_tag_problem("de") is None and language_tag_problem("pt-BR") is None
    assert language_tag_problem("zh-Hans") is None and language_tag_problem("gsw") is None
    assert "write 'de'" in str(language_tag_problem("German"))
    assert "BCP 47 tag such as 'de'" in str(language_tag_problem("xx"))
    policies(tmp_path, de=translate(V2.read_text(encoding="utf-8"), "deutsch"))
    with pytest.raises(HarnessError, match=r"'deutsch' is not a BCP 47 language tag; write 'de'"):
        load_translations(load_policy(tmp_path / "v2.md"))


def test_a_backup_beside_the_policy_is_not_a_translation(tmp_path: Path) -> None:
    original = policies(tmp_path, de="")
    text = V2.read_text(encoding="utf-8")
    (tmp_path / "v2.bak.md").write_text(text, encoding="utf-8")  # no language: a copy, not a translation
    (tmp_path / "v2.old.md").write_text("not a policy at all", encoding="utf-8")
    assert sorted(load_translations(load_policy(original))) == ["de"]
    (tmp_path / "v2.fil.md").write_text(translate(text, "fil"), encoding="utf-8")  # Filipino: it says so
    assert sorted(load_translations(load_policy(original))) == ["de", "fil"]
