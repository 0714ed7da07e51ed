"""`policy-harness diagnose`: a stored run's failure clusters (`metrics.diagnosis`) written to
diagnosis.json, their largest clusters described by the author model when one is configured."""

from __future__ import annotations

from pathlib import Path

from harness.config import AuthorConfig
from harness.metrics.diagnosis import diagnose, item_texts, run_view
from harness.record.diagnosis import DIAGNOSIS, Diagnosis


def diagnose_dir(run_dir: Path, *, out: Path | None = None,
                 author: AuthorConfig | None = None) -> tuple[Diagnosis, Path]:
    """Diagnose the run stored in `run_dir` and write diagnosis.json (beside it unless `out`); with
    an `author`, its largest clusters get one-sentence descriptions. Written beside the run, the
    clusters are stored in its record too (`metrics.errors.diagnosis`), so `policy-harness report`
    shows them (descriptions, and clusters of runs too large to cluster when they were scored)."""
    from harness.record import atomic_write_text, read_record, write_record

    record = read_record(run_dir)
    view = run_view(record)
    diagnosis = diagnose(view)
    if author is not None and author.describe_clusters:
        from harness.loop.describe import describe_diagnosis

        describe_diagnosis(diagnosis, item_texts(view.verdicts), author)
    path = out if out is not None else run_dir / DIAGNOSIS
    if path.is_dir():
        path = path / DIAGNOSIS
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, diagnosis.model_dump_json(indent=2) + "\n")
    if out is None and record.metrics.errors is not None:  # an older record: its report reads diagnosis.json
        record.metrics.errors = record.metrics.errors.model_copy(update={"diagnosis": diagnosis})
        write_record(record, run_dir)
    return diagnosis, path


def diagnosis_text(diagnosis: Diagnosis) -> str:
    """A few lines per reviewer x policy for the terminal; diagnosis.json holds everything."""
    lines = [f"{diagnosis.run}: failure clusters"]
    names = {"over_enforcement": "over-enforcement", "leakage": "leakage"}
    for group in diagnosis.groups:
        for kind in group.kinds:
            head = f"  {group.policy:<20} {group.reviewer:<16} {names[kind.kind]}: {kind.errors} of {kind.decided}"
            if not kind.errors:
                lines.append(head + " (no errors)")
                continue
            lines.append(head)
            for label, clusters in (("rule", kind.by_rule), ("slice", kind.by_slice), ("text", kind.by_text)):
                if clusters:
                    top = clusters[0]
                    terms = f" ({', '.join(top.top_terms[:3])})" if top.top_terms else ""
                    lines.append(f"    by {label:<5} {len(clusters)} clusters; largest {top.key}{terms}: "
                                 f"{top.size} ({top.share:.0%})")
                    if top.description:
                        lines.append(f"             {top.description}")
    return "\n".join(lines)
