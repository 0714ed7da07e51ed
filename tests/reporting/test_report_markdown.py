"""The Markdown report: golden file, cell escaping, and the edge cases a run can produce."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from support.record_factory import EDGE_CASES, build_record

from harness.reporting import render_markdown
from harness.reporting.markdown import cell

GOLDEN = Path(__file__).parent / "golden" / "report.md"


def test_markdown_matches_golden_file() -> None:
    text = render_markdown(build_record())
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    assert GOLDEN.exists(), "no golden file yet: run with UPDATE_GOLDEN=1 to write it"
    assert text == GOLDEN.read_text(encoding="utf-8"), "report.md changed; if intended, re-run with UPDATE_GOLDEN=1"


def test_markdown_has_the_essentials() -> None:
    text = render_markdown(build_record())
    for heading in ("## Launch verdict", "## Headline", "## Change from baseline", "## Worst slices", "## Provenance"):
        assert heading in text
    assert "**NOT READY**" in text and "**INCONCLUSIVE**" in text
    assert "**significant, better**" in text  # v2's exceptions cut over-enforcement of the LLM reviewer
    assert "per 10,000 benign" in text
    assert "| llm | 120 | 0 | 24,000 | 3,000 | unknown | 2 |" in text  # cost None is unknown, not $0


def test_table_rows_keep_their_columns_when_content_has_pipes_and_newlines() -> None:
    text = render_markdown(build_record())
    assert "news \\| &lt;b&gt;report&lt;/b&gt;" in text
    assert "<b>report</b>" not in text
    for block in text.split("\n\n"):
        rows = [line for line in block.splitlines() if line.startswith("|")]
        if len(rows) < 2:
            continue
        widths = {line.replace("\\|", "").count("|") for line in rows}
        assert len(widths) == 1, f"a row of this table has a different number of cells:\n{block}"


def test_cell_escapes_pipes_newlines_and_html() -> None:
    assert cell("a|b\nc\r\nd <script>") == "a\\|b c d &lt;script&gt;"
    assert cell("[x](javascript:alert(1)) costs $5 and $6") == "[x]\\(javascript:alert(1)) costs \\$5 and \\$6"


@pytest.mark.parametrize("case", list(EDGE_CASES))
def test_markdown_renders_edge_cases(case: str) -> None:
    text = render_markdown(build_record(**EDGE_CASES[case]))
    assert text.startswith("# Policy test: toy-report")
    assert not re.search(r"\bnan\b", text, flags=re.IGNORECASE)
    if case == "no baseline":
        assert "Change from baseline" not in text
    if case == "no gates":
        assert "**NO GATES**" in text
    if case == "llm abstained on everything":
        assert "no data (0/0)" in text
    if case == "incomplete":
        assert "**Incomplete run:** budget of \\$0.50 reached after 90 calls" in text
