"""`explanations.json`: rationales generated on demand (`policy-harness explain`) for the verdicts a
person opens, beside the run's record. A first-token reviewer decides without writing a rationale;
asked again in generation mode for a few items, it writes its full answer, kept here with the
decision that answer reached, so a person sees where it disagrees with the verdict."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError

EXPLANATIONS_JSON = "explanations.json"
EXPLANATIONS_SCHEMA_VERSION = 1  # explanations.json's own: bumped on a change its readers would notice
log = logging.getLogger(__name__)


class Explanation(BaseModel):
    """One verdict explained: the run's decision and score beside the generated answer's."""

    item_id: str
    reviewer: str
    policy: str  # the policy version label the verdict was made under
    opened_as: list[str] = []  # where the report shows the item: "false positive exemplar", "cluster rule HS1"
    verdict_decision: str  # the run's verdict (sample 0)
    verdict_score: float | None = None
    decision: str  # the generated answer's own decision (abstained: it could not be read)
    rationale: str = ""
    rule_ids: list[str] = []
    categories: list[str] = []
    abstain_reason: str = ""
    # generated: asked for on demand (or found in the judgement cache); verdict: the verdict's own rationale
    source: Literal["generated", "verdict"] = "generated"
    model: str
    prompt_sha256: str | None = None

    @property
    def agrees(self) -> bool:
        """The generated answer reached the verdict's decision."""
        return self.decision == self.verdict_decision


class Explanations(BaseModel):
    """Every explanation generated for one run (merged over `explain` calls)."""

    schema_version: int = EXPLANATIONS_SCHEMA_VERSION
    run: str  # the run's name and creation time: a file left from an earlier run in the folder is not shown
    run_created_at: str
    items: list[Explanation] = []

    def merged(self, new: list[Explanation]) -> Explanations:
        """These explanations with `new` ones replacing any of the same reviewer, policy and item."""
        keys = {(e.reviewer, e.policy, e.item_id) for e in new}
        kept = [e for e in self.items if (e.reviewer, e.policy, e.item_id) not in keys]
        return self.model_copy(update={"items": kept + new})


def read_explanations(out_dir: Path, *, run: str, created_at: str) -> Explanations | None:
    """The run directory's explanations.json, or None when there is none; a file that cannot be read,
    or was written for another run in the same folder, is left out of the report with a warning."""
    path = out_dir / EXPLANATIONS_JSON
    if not path.is_file():
        return None
    try:
        stored = Explanations.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, ValidationError) as err:
        log.warning("%s cannot be read (%s); run 'policy-harness explain %s' to write it again", path,
                    str(err).splitlines()[0][:200], out_dir)
        return None
    if stored.schema_version != EXPLANATIONS_SCHEMA_VERSION:
        log.warning("%s was written with schema version %s; this policy-harness reads %s; run "
                    "'policy-harness explain %s' to write it again", path, stored.schema_version,
                    EXPLANATIONS_SCHEMA_VERSION, out_dir)
        return None
    if stored.run != run or stored.run_created_at != created_at:
        log.warning("%s was written for an earlier run in this folder; it is not shown (run 'policy-harness "
                    "explain %s' for this one)", path, out_dir)
        return None
    return stored
