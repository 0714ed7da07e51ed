"""The HTML report: inert hostile content, no network references, gate verdicts, edge cases."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.pages import Page
from support.record_factory import EDGE_CASES, HUGE, IMG, LINK, SCRIPT, build_record

from harness.reporting import render_html, write_reports


@pytest.fixture(scope="module")
def html() -> str:
    return render_html(build_record())


def test_hostile_content_is_inert_text(html: str) -> None:
    page = Page(html)
    assert "<script" not in html.lower()
    assert not [t for t, _ in page.tags if t in ("script", "iframe", "object", "embed", "base", "form")]
    for tag, attrs in page.tags:
        assert not [a for a in attrs if a.startswith("on")], f"event handler attribute on <{tag}>"
        for name in ("href", "src"):
            value = (attrs.get(name) or "").strip().lower()
            assert not value.startswith(("javascript:", "http:", "https:", "//")), f"<{tag} {name}={value}>"
    text = "".join(d for d, _, _ in page.text)
    for hostile in (SCRIPT, IMG, LINK):
        assert hostile in text  # shown to the reader as text, not parsed as markup
    assert "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;" in html


def test_no_external_resources_and_a_strict_csp(html: str) -> None:
    page = Page(html)
    csp = [a.get("content") or "" for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert len(csp) == 1
    assert "default-src 'none'" in csp[0] and "script-src 'none'" in csp[0] and "img-src data:" in csp[0]
    images = [a.get("src") or "" for t, a in page.tags if t == "img"]
    assert images and all(src.startswith("data:image/svg+xml;base64,") for src in images)
    assert not [a for t, a in page.tags if t == "link"]
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, flags=re.IGNORECASE)
    assert "@import" not in html and "url(" not in html


def test_gate_statuses_and_launch_verdicts_are_shown(html: str) -> None:
    text = Page(html).visible_text()
    for status in ("pass", "fail", "inconclusive", "no data", "not ready"):
        assert re.search(rf"\b{status}\b", text), status
    assert 'class="badge fail">not ready<' in html
    assert 'class="badge inconclusive">inconclusive<' in html
    assert 'class="pill pass">pass<' in html


def test_headline_translates_rates_into_items_per_10000(html: str) -> None:
    text = Page(html).visible_text()
    assert "per 10,000 benign" in text
    assert "2,778" in text  # clf over-enforcement 10/36 = 27.8% -> 2,778 per 10,000 benign items


def test_offensive_content_is_hidden_until_the_reader_asks(html: str) -> None:
    page = Page(html)
    checkbox = [a for t, a in page.tags if t == "input" and a.get("id") == "cw"]
    assert checkbox and "checked" not in checkbox[0]
    assert ".cw-content{display:none}" in html and "#cw:checked ~ main .cw-content{display:block}" in html
    hostile_places = [hidden for data, hidden, _ in page.text if "pwned" in data or "javascript:" in data]
    assert hostile_places and all(hostile_places)


def test_very_long_text_is_truncated_for_display(html: str) -> None:
    assert HUGE not in html
    assert "A" * 2_000 in html and "A" * 2_001 not in html
    assert f"showing the first 2,000 of {len(HUGE):,} characters" in html


def test_exemplars_show_cited_rule_text_and_the_policy_diff(html: str) -> None:
    text = Page(html).visible_text()
    assert "Dehumanising language about a protected group." in text
    assert "(not a rule of the candidate policy)" in text  # HS9 is cited but does not exist
    assert "News reporting that does not endorse the hate it describes." in text
    assert 'class="added"' in html and 'class="removed"' in html


def test_charts_are_inline_svgs_for_slices_confusion_curve_and_agreement(html: str) -> None:
    alts = [a.get("alt") or "" for t, a in Page(html).tags if t == "img"]
    assert sum("by tactic" in a for a in alts) == 2
    assert sum(a.startswith("Confusion matrix") for a in alts) == 2
    assert any("score threshold" in a for a in alts)
    assert any("kappa" in a for a in alts)


def test_provenance_lists_hashes_models_cost_and_mlflow(html: str) -> None:
    text = Page(html).visible_text()
    for expected in ("toy_hate@v2", "local/toy-model", "unknown", "run-llm", "http://127.0.0.1:5000",
                     "CC0, policy-harness tests", "2024-05-01T12:00:00+00:00"):
        assert expected in text


@pytest.mark.parametrize("case", list(EDGE_CASES))
def test_html_renders_edge_cases(case: str) -> None:
    html = render_html(build_record(**EDGE_CASES[case]))
    page = Page(html)
    text = page.visible_text()
    assert not re.search(r"\bnan\b", text, flags=re.IGNORECASE)
    assert "Launch verdict" in text
    if case == "no baseline":
        assert "Change from baseline" not in text
    if case == "no gates":
        assert "no gates" in text
    if case == "llm abstained on everything":
        assert "no data" in text
    if case == "no scores":
        assert not [a for t, a in page.tags if t == "img" and "score threshold" in (a.get("alt") or "")]
    if case == "incomplete":
        assert "Incomplete run." in text and "budget of $0.50 reached after 90 calls" in text
    if case == "weights without strata or prevalence":
        assert "Weights from weight column." in text and "of production items violate (from the weights)" in text
        assert "per 10,000 production items" not in text
    if case == "one reviewer":
        assert "llm vs gold" in text  # kappa with gold needs no second reviewer
        assert "Krippendorff's alpha across reviewers" not in text and "Gold labels to check" not in text
        assert "Krippendorff's alpha needs two or more reviewers" in text  # why it is absent, not silence
        assert "Errors to check against gold" in text


def test_write_reports_writes_both_files(tmp_path: Path) -> None:
    path = write_reports(build_record(n_items=10), tmp_path)
    assert path == tmp_path / "report.html"
    assert path.read_text(encoding="utf-8").startswith("<!doctype html>")
    assert (tmp_path / "report.md").read_text(encoding="utf-8").startswith("# Policy test: toy-report")
