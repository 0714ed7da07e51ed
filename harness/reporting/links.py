"""Where pages and messages send a reader for more: the docs live in the repository, not the wheel."""

from __future__ import annotations

# The docs/ folder is not installed with the package, so a relative "docs/x.md" is a dead link on a
# page written from the wheel; this stable address is one for every install.
DOCS_URL = "https://github.com/policy-harness/policy-harness/blob/main/docs/"


def docs_url(page: str) -> str:
    """The stable address of one docs page ('training.md', 'statistics.md#coverage')."""
    return DOCS_URL + page
