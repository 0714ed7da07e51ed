"""Pages and messages never point at docs/*.md: the docs folder is not in the wheel."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import harness
from harness.reporting.links import DOCS_URL, docs_url

PACKAGE = Path(harness.__file__).parent
RELATIVE_DOC = re.compile(r"(?<![\w/.])docs/[\w-]+\.md")


def _shown_strings(source: str) -> list[str]:
    """String constants a user can see: every one but docstrings (comments are not in the tree)."""
    tree = ast.parse(source)
    docstrings = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)
                  and isinstance(node.value, ast.Constant)}
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_no_page_or_message_names_a_docs_file_the_wheel_lacks() -> None:
    found = []
    for path in PACKAGE.rglob("*"):
        if path.suffix == ".py":
            texts = _shown_strings(path.read_text(encoding="utf-8"))
        elif path.suffix in {".j2", ".html", ".css", ".js"}:
            texts = [path.read_text(encoding="utf-8")]
        else:
            continue
        found += [f"{path.relative_to(PACKAGE)}: {m}" for text in texts for m in RELATIVE_DOC.findall(text)]
    assert not found, found


def test_docs_links_are_absolute_and_name_a_shipped_page() -> None:
    assert DOCS_URL.startswith("https://") and DOCS_URL.endswith("/docs/")
    assert docs_url("training.md") == DOCS_URL + "training.md"
    assert (PACKAGE.parent / "docs" / "training.md").is_file()
