"""Whether a policy text was approved by a person (`promote` writes `approved_by` into its front matter)."""

from __future__ import annotations

import yaml


def approved_in_text(text: str) -> bool:
    """Whether a policy file's front matter names an approver (what `promote` adds)."""
    if not text.startswith("---"):
        return False
    parts = text.split("\n---", 1)
    try:
        front = yaml.safe_load(parts[0].removeprefix("---"))
    except yaml.YAMLError:
        return False
    return isinstance(front, dict) and bool(front.get("approved_by"))
