"""The annotators of an annotated eval set: judgements per item, agreement, and each one graded
against the majority of the others (never against a gold label they helped make)."""

from __future__ import annotations

import krippendorff
import numpy as np
import pandas as pd

from harness.evalset.annotations import ANNOTATOR, ITEM, LABEL, Annotations, decide
from harness.labels import BENIGN, UNKNOWN
from harness.metrics.rates import wilson
from harness.record.metrics import AnnotatorGrade, Annotators, PerItemCounts


def annotator_metrics(annotations: Annotations) -> Annotators:
    """The `annotators` block of metrics.json."""
    table = annotations.table
    per_item = table.groupby(ITEM, sort=False).size()
    return Annotators(
        items=int(len(per_item)),
        judgements=int(len(table)),
        count=int(table[ANNOTATOR].nunique()),
        gold_rule=annotations.gold_rule,
        tie=annotations.tie,
        per_item=PerItemCounts(
            mean=float(per_item.mean()) if len(per_item) else None,
            min=int(per_item.min()) if len(per_item) else None,
            max=int(per_item.max()) if len(per_item) else None,
            counts={str(n): int(k) for n, k in per_item.value_counts().sort_index().items()},
        ),
        contested=int((table.groupby(ITEM)[LABEL].nunique() > 1).sum()),
        alpha=nominal_alpha(table, table[LABEL]),
        alpha_violating=nominal_alpha(table, table[LABEL] != BENIGN),
        by_annotator=leave_one_out(annotations),
    )


def nominal_alpha(table: pd.DataFrame, values: pd.Series) -> float | None:
    """Krippendorff's alpha (nominal) over annotators x items, a missing judgement as missing;
    None when it is undefined (one value in all, or no item judged twice)."""
    if table.empty:
        return None
    codes = pd.Series(pd.factorize(values)[0], index=table.index, dtype=float)
    matrix = (pd.DataFrame({ITEM: table[ITEM], ANNOTATOR: table[ANNOTATOR], "code": codes})
              .pivot(index=ANNOTATOR, columns=ITEM, values="code").to_numpy(dtype=float))
    try:
        alpha = float(krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"))
    except (ValueError, ZeroDivisionError):  # a one-value domain: agreement is not defined
        return None
    return alpha if np.isfinite(alpha) else None


def leave_one_out(annotations: Annotations) -> dict[str, AnnotatorGrade]:
    """Per annotator: over-enforcement and leakage against the majority of the other annotators of each item
    (majority ties follow `tie`; an item with no other annotator, or a tie left unknown, is not graded)."""
    by_item = annotations.table.groupby(ITEM, sort=False)
    graded: dict[str, dict[str, int]] = {}
    for _, judged in by_item:
        names, labels = judged[ANNOTATOR].tolist(), judged[LABEL].tolist()
        for i, name in enumerate(names):
            counts = graded.setdefault(str(name), {"items": 0, "ungraded": 0, "fp": 0, "benign": 0, "fn": 0,
                                                   "violating": 0})
            counts["items"] += 1
            others = labels[:i] + labels[i + 1:]
            reference = decide(others, "majority", annotations.tie) if others else UNKNOWN
            if reference == UNKNOWN:
                counts["ungraded"] += 1
            elif reference == BENIGN:
                counts["benign"] += 1
                counts["fp"] += labels[i] != BENIGN
            else:
                counts["violating"] += 1
                counts["fn"] += labels[i] == BENIGN
    return {name: AnnotatorGrade(items=c["items"], ungraded=c["ungraded"], over_enforcement=wilson(c["fp"], c["benign"]),
                                 leakage=wilson(c["fn"], c["violating"]))
            for name, c in sorted(graded.items())}
