"""Every HTML page renders in the report's one Jinja environment: escaped, script-free, its CSS."""

from __future__ import annotations

from pathlib import Path

from harness.record import ComparedRun, ComparisonResult
from harness.record.revision import (
    AuthorUsage,
    CandidateResult,
    CurrentRates,
    Flip,
    RateCheck,
    ReviewerJudgement,
    ReviseResult,
    SplitRecord,
)
from harness.reporting.compare import render_comparison_html
from harness.reporting.pages import environment
from harness.reporting.revise import MAX_FLIPS, revise_page

NO_SCRIPT = "script-src &#39;none&#39;"  # the report's Content Security Policy, as an attribute
HOSTILE = "<script>alert(1)</script>"


def check(name: str, **kw: object) -> RateCheck:
    fields: dict[str, object] = {"before": 0.2, "after": 0.1, "change": -0.1, "ci_low": -0.15, "ci_high": -0.05,
                                 "p_value": 0.01, "p_value_mid": 0.01, "n": 40, "up": 1, "down": 5, "ci_method": "x"}
    return RateCheck.model_validate({**fields, "name": name, **kw})


def revise_result(tmp_path: Path) -> ReviseResult:
    (tmp_path / "candidates").mkdir()
    (tmp_path / "candidates" / "c1.md").write_text("# Policy\n- HS1\n- **HS-E9** " + HOSTILE + "\n", encoding="utf-8")
    flips = [Flip(item_id=f"i{n}", gold="benign", before="actioned", after="allowed", text=f"'{HOSTILE}' {n}")
             for n in range(MAX_FLIPS + 2)]
    judged = ReviewerJudgement(reviewer="llm", target=check("over_enforcement"), improved=True,
                               checks=[check("leakage", worse=True, p_adjusted=0.5)], regressions=[], gates=[],
                               gates_broken=[], flips=flips)
    return ReviseResult(
        experiment="exp", created_at="2026-01-01T00:00:00", out_dir=str(tmp_path), policy_path="p.md",
        policy="toy@v1", policy_sha256="0", target="over_enforcement", author_model="openai/author", reviewers=["llm"],
        split=SplitRecord(seed=7, holdout_share=0.5, strata=["gold"], dev=["a"], holdout=["b", "c"]),
        current=[CurrentRates(reviewer="llm", part="holdout", over_enforcement=0.2, leakage=None, errors=0.1)],
        candidates=[CandidateResult(index=1, file="candidates/c1.md", sha256="0", valid=True, reason="", version=2,
                                    tokens=10, lint="no findings", judgements=[judged], accepted=True, why=HOSTILE),
                    CandidateResult(index=2, file="", sha256="", valid=False, reason="x", version=None, tokens=None,
                                    lint="", why="not a policy")],
        author_usage=AuthorUsage())


def test_the_revise_page_is_a_template_of_the_report(tmp_path: Path) -> None:
    page = revise_page(revise_result(tmp_path), "# Policy\n- HS1\n", tmp_path)
    assert "<script" not in page and NO_SCRIPT in page and "--fg:" in page  # the report's CSS
    assert '<span class="add">+- **HS-E9** &lt;script&gt;' in page
    assert "&#39;&lt;script&gt;alert(1)&lt;/script&gt;&#39; 0" in page
    assert "<td>leakage (worse)</td><td>20.0%</td><td>10.0%</td><td>-15.0% to -5.0%</td><td>0.01</td><td>0.5</td>" in page
    assert f"<p>{MAX_FLIPS + 2} flips</p>" in page and "… and 2 more" in page
    assert "1 of 2 candidates accepted" in page and "(no policy document)" in page and "<p>not judged</p>" in page
    assert "<td>llm</td><td>holdout</td><td>20.0%</td><td>—</td><td>10.0%</td>" in page


def test_the_compare_page_escapes_what_the_runs_hold() -> None:
    result = ComparisonResult(a=ComparedRun(source="a", label=HOSTILE), b=ComparedRun(source="b", label="b"),
                              created_at="2026-01-01T00:00:00", reviewers={})
    page = render_comparison_html(result)
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; → b</h1>" in page and NO_SCRIPT in page


def test_every_page_template_is_in_the_one_environment() -> None:
    names = set(environment().list_templates(extensions=["j2"]))
    assert {"report.html.j2", "compare.html.j2", "revise.html.j2", "proficiency.html.j2", "portfolio.html.j2"} <= names
