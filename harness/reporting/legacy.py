"""COMPATIBILITY: the one place the report computes anything, for records written before the
metrics stage counted the candidate's mistakes (`metrics.errors` absent in their metrics.json).
A record of this version never reaches the computation; drop this module with schema 2."""

from __future__ import annotations

import logging
from pathlib import Path

from pydantic import ValidationError

from harness.labels import UNKNOWN
from harness.record import RunRecord
from harness.record.diagnosis import DIAGNOSIS, Diagnosis
from harness.record.errors import CandidateErrors

log = logging.getLogger(__name__)


def candidate_errors(record: RunRecord) -> CandidateErrors:
    """The record's own `metrics.errors`; for an older record, counted now from its verdicts (with the
    clusters of a diagnosis.json `diagnose` wrote beside it, as older reports showed)."""
    if record.metrics.errors is not None:
        return record.metrics.errors
    from harness.metrics.counts import with_item_keys
    from harness.metrics.errors import candidate_errors as count
    from harness.metrics.samples import majority

    verdicts = record.verdicts
    if verdicts is None or verdicts.empty or "policy" not in verdicts:
        return CandidateErrors(reviewers={})
    candidate = verdicts[verdicts["policy"] == record.candidate].reset_index(drop=True)
    [candidate] = with_item_keys(candidate)
    known = majority(candidate[candidate["gold"] != UNKNOWN].reset_index(drop=True))
    errors = count(candidate, known, name=record.name, candidate=record.candidate, slices=list(record.evalset.slices))
    if (stored := _diagnosis_file(record)) is not None:
        errors.diagnosis = stored
    return errors


def _diagnosis_file(record: RunRecord) -> Diagnosis | None:
    if not record.out_dir or not (path := Path(record.out_dir) / DIAGNOSIS).is_file():
        return None
    try:
        diagnosis = Diagnosis.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValidationError, ValueError) as err:
        log.warning("%s cannot be read (%s); the report shows the clusters counted from the run", path,
                    str(err).splitlines()[0][:200])
        return None
    return diagnosis if diagnosis.run == record.name and diagnosis.candidate == record.candidate else None
