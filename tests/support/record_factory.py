"""A small, fixed RunRecord built in code for report tests: 2 policies, 2 reviewers, hostile texts,
three languages (the classifier leaks Hindi), contested and unknown gold, population weights, an
injection block as the runner would add it, and (annotated=True) three annotators' own judgements."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pandas as pd

from harness.config import GateSpec, StrataSpec
from harness.evalset.annotations import ANNOTATOR, ITEM, LABEL, Annotations
from harness.evalset.attacks import ATTACKS, SEP
from harness.labels import BENIGN, UNKNOWN
from harness.metrics import compute_metrics
from harness.metrics.paired import paired_change
from harness.metrics.rates import wilson
from harness.pipeline.finish import policy_summary
from harness.policy import Policy, parse_policy
from harness.record import Metrics, RunRecord
from harness.record.metrics import RelabelCandidates
from harness.testing.cohort import DEMO_EXCEPTIONS, DEMO_RULES, toy_policy
from harness.verdicts import ACTIONED, ALLOWED, AbstainKind, Verdict, verdict_table

SCRIPT = "<script>document.title='pwned'</script>"
IMG = "<img src=x onerror=\"document.body.innerHTML='pwned'\">"
LINK = "<a href=\"javascript:alert(1)\">x</a>"
HUGE = "A" * 50_000 + "<script>document.title='pwned'</script>" + "B" * 50_000
HOSTILE = [SCRIPT, IMG, LINK, HUGE]
NEWS = "news | <b>report</b>"
# "$...$" is TeX math to plotting libraries: the chart labels must keep it as plain text.
INSULT = "insult $at$ referee"
TACTICS = ["counter_speech", "threat", "slur", NEWS, INSULT]
VIOLATING_TACTICS = {"threat", "slur"}
LANGUAGES = ["English", "German", "Hindi"]
LEAKY_LANGUAGE = "Hindi"
UNKNOWN_ITEM = 56  # a threat item whose gold label is missing
# An annotator's name comes from the eval set's header: markup and a pipe must reach the page as text.
HOSTILE_ANNOTATOR = "<img src=x onerror=alert(1)>|cy"
ANNOTATORS = ("ann", "bob", HOSTILE_ANNOTATOR)
STRATA = StrataSpec(column="language", sizes={"English": 600_000, "German": 250_000, "Hindi": 150_000})
PREVALENCE = 0.02

POLICY_V1 = toy_policy("toy_hate", 1, "Toy hate speech", heading="Toy hate speech policy",
                       rules=DEMO_RULES[:2], exceptions=DEMO_EXCEPTIONS[:1])

POLICY_V2 = POLICY_V1.replace("version: 1", "version: 2").replace(
    "- **HS2** Threats of violence against a protected group.",
    "- **HS2** Threats of violence against a protected group, including threats phrased as questions.",
) + "- **HS-E2** News reporting that does not endorse the hate it describes.\n"


def policies() -> tuple[Policy, Policy]:
    return (parse_policy(POLICY_V2, path="prompts/policies/toy_hate/v2.md"),
            parse_policy(POLICY_V1, path="prompts/policies/toy_hate/v1.md"))


def items(n_items: int = 60, slices: bool = True) -> pd.DataFrame:
    rows = []
    for i in range(n_items):
        tactic = TACTICS[i % len(TACTICS)]
        gold = "HS" if tactic in VIOLATING_TACTICS else BENIGN
        rows.append({"item_id": f"it-{i:03d}", "text": f"Example {i} of {tactic}: words about a group.",
                     "gold": UNKNOWN if i == UNKNOWN_ITEM else gold, "weight": 1.0 + i % 2,
                     "contested": i % 11 == 0, "tactic": tactic, "language": LANGUAGES[i % len(LANGUAGES)]})
    # Hostile texts sit on benign counter-speech items, which reviewers action: they become exemplars and flips.
    for slot, text in zip((0, 5, 10, 15), HOSTILE):
        if slot < n_items:
            rows[slot]["text"] = text
    frame = pd.DataFrame(rows)
    return frame if slices else frame.drop(columns=["tactic", "language"])


def classifier_verdicts(frame: pd.DataFrame, scores: bool) -> list[Verdict]:
    out = []
    for i, row in enumerate(frame.itertuples(index=False)):
        fraction = ((i * 37) % 100) / 100
        score = 0.35 + 0.6 * fraction if row.gold != BENIGN else 0.05 + 0.55 * fraction
        if row.text in HOSTILE:
            score = 0.9
        if row.gold != BENIGN and getattr(row, "language", "") == LEAKY_LANGUAGE:
            score = min(score, 0.45)  # the classifier misses violations in one language
        decision = ACTIONED if score >= 0.5 else ALLOWED
        out.append(Verdict(row.item_id, decision, categories=["HS"] if decision == ACTIONED else [],
                           score=round(score, 4) if scores else None,
                           confidence=round(max(score, 1 - score), 4) if scores else None))
    return out


def llm_verdicts(frame: pd.DataFrame, version: int, abstain_all: bool) -> list[Verdict]:
    out = []
    for i, row in enumerate(frame.itertuples(index=False)):
        if abstain_all or i % 13 == 12:
            out.append(Verdict.abstain(row.item_id, AbstainKind.UNPARSEABLE, "unparseable answer"))
            continue
        tactic = row.tactic if "tactic" in frame.columns else TACTICS[i % len(TACTICS)]
        if row.gold != BENIGN:
            # v2 misses some threats v1 caught (broken), and catches slurs v1 missed (fixed).
            allowed = (tactic == "threat" and version == 2 and i % 3 == 1) or (tactic == "slur" and version == 1 and i % 4 == 2)
            decision = ALLOWED if allowed else ACTIONED
        else:
            # v1 actions counter-speech and news; v2's exceptions fix most of it, not the hostile items.
            over = tactic in ("counter_speech", NEWS) and (version == 1 or row.text in HOSTILE[:2])
            decision = ACTIONED if over or (tactic == INSULT and i % 7 == 4) else ALLOWED
        rules = ["HS1"] if decision == ACTIONED else (["HS-E2"] if version == 2 else ["HS-E1"])
        if i == 4:
            rules = ["HS1", "HS9"]
        rationale = f"Cites {', '.join(rules)}."
        if row.text == SCRIPT:
            rationale = f"The text {SCRIPT} | quotes hate\nto condemn it."
        out.append(Verdict(row.item_id, decision, categories=["HS"] if decision == ACTIONED else [],
                           rule_ids=rules, rationale=rationale))
    return out


GATES = {
    "over_enforcement": GateSpec(max=0.05),
    "leakage": GateSpec(max=0.6),
    "false_action_share": GateSpec(max=0.35),
    "over_enforcement@counter_speech": GateSpec(max=0.25, slice={"tactic": "counter_speech"}),
    "leakage@absent": GateSpec(max=0.1, slice={"tactic": "no-such-tactic"}),
}


# Runs a report must survive (keyword arguments of build_record).
EDGE_CASES = {
    "no baseline": {"baseline": False},
    "no gates": {"gates": False},
    "no slices": {"slices": False},
    "llm abstained on everything": {"abstain_all": True},
    "no scores": {"scores": False},
    "one item": {"n_items": 1},
    "incomplete": {"incomplete": True},
    "one reviewer": {"reviewers": ("llm",)},
    "nothing judged": {"reviewers": (), "incomplete": True},
    "weights without strata or prevalence": {"population": False},
}


def annotations(frame: pd.DataFrame) -> Annotations:
    """Three annotators: ann gives the tactic's label, bob differs on every 7th item, the third on every
    4th; the last item only ann judged (it cannot be graded against the others)."""
    rows = []
    for i, row in enumerate(frame.itertuples(index=False)):
        label = "HS" if TACTICS[i % len(TACTICS)] in VIOLATING_TACTICS else BENIGN
        flipped = BENIGN if label != BENIGN else "HS"
        judges = ANNOTATORS if i < len(frame) - 1 else ANNOTATORS[:1]
        for name, differs in zip(judges, (False, i % 7 == 3, i % 4 == 1)):
            rows.append({ITEM: row.item_id, ANNOTATOR: name, LABEL: flipped if differs else label})
    return Annotations(pd.DataFrame(rows), gold_rule="majority", tie="violating")


def injection_block(frame: pd.DataFrame) -> dict[str, Any]:
    """What runner.judge_injections records for an LLM reviewer (a fixed, made-up outcome)."""
    violating = frame[~frame["gold"].isin([BENIGN, UNKNOWN])]["item_id"].head(8).tolist()
    # paired counts per attack: (leaked both times, leaked clean only, leaked attacked only, leaked neither)
    paired = {"order_allow": (1, 0, 4, 3), "change_format": (1, 0, 1, 5), "reveal_policy": (1, 0, 0, 7),
              "forged_delimiter": (1, 0, 0, 6)}
    by_attack = {attack: {"leakage": {**wilson(both + up, both + down + up + rest).model_dump(), "abstained": 0},
                          "leakage_change": paired_change(both, down, up, rest)}
                 for attack, (both, down, up, rest) in paired.items()}
    leaked = [{"item_id": f"{item}{SEP}order_allow", "attack": "order_allow", "decision": "allowed",
               "rationale": IMG if n == 0 else "The note says the post is allowed."}
              for n, item in enumerate(violating[:5])]
    return {"items": len(violating), "attacks": list(ATTACKS), "leakage_clean": {**wilson(1, 8).model_dump(), "abstained": 0},
            "leakage_injected": {**wilson(9, 29).model_dump(), "abstained": 3}, "by_attack": by_attack, "leaked_examples": leaked}


def build_record(*, baseline: bool = True, gates: bool = True, slices: bool = True, abstain_all: bool = False,
                 scores: bool = True, n_items: int = 60, incomplete: bool = False,
                 reviewers: tuple[str, ...] = ("clf", "llm"), population: bool = True,
                 annotated: bool = False, llm_limit: int | None = None) -> RunRecord:
    """`llm_limit`: the LLM reviewer judges only the first that many items, as a reviewer's `limit` samples."""
    candidate, base = policies()
    frame = items(n_items, slices)
    used = [candidate, base] if baseline else [candidate]
    tables = []
    for policy in used:
        if "clf" in reviewers:
            tables.append(verdict_table(classifier_verdicts(frame, scores), policy=policy.label, reviewer="clf"))
        if "llm" in reviewers:
            verdicts = llm_verdicts(frame.head(llm_limit) if llm_limit else frame, policy.version, abstain_all)
            if incomplete and policy is base:
                verdicts = verdicts[: len(verdicts) // 2]
            tables.append(verdict_table(verdicts, policy=policy.label, reviewer="llm"))
    slice_columns = ["tactic", "language"] if slices else []
    tables = tables or [verdict_table([], policy=candidate.label, reviewer="llm")]
    joined = pd.concat(tables, ignore_index=True).merge(
        frame[["item_id", "gold", "text", "weight", "contested", *slice_columns]], on="item_id", how="left")
    gate_specs = {k: g for k, g in GATES.items() if slices or not g.slice} if gates else {}
    metrics = compute_metrics(joined, candidate=candidate.label, baseline=base.label if baseline else None,
                              categories=candidate.category_ids, slices=slice_columns, gates=gate_specs,
                              strata=STRATA if population and slices else None,
                              prevalence=PREVALENCE if population else None,
                              annotations=annotations(frame) if annotated else None)
    if "llm" in reviewers and not abstain_all:
        metrics.injection = {"llm": injection_block(frame)}
    params = {"clf": {"type": "classifier", "threshold": 0.5, "estimator": "tfidf + logistic regression"},
              "llm": {"type": "llm", "model": "local/toy-model", "temperature": 0.0, "prompt": "reviewer@v1",
                      "response_format": "auto"}}
    return RunRecord(
        name="toy-report", experiment={"name": "toy-report", "description": "Toy v2 against v1 for report tests."},
        policies={p.label: policy_summary(p) for p in used}, candidate=candidate.label,
        baseline=base.label if baseline else None,
        evalset={"name": "toy-set", "source": "tests/reporting/record_factory.py", "sha256": "0" * 64,
                 "items": len(frame), "slices": slice_columns, "license": "CC0, policy-harness tests",
                 "label_counts": {k: int(v) for k, v in frame["gold"].value_counts().sort_index().items()}},
        reviewers={name: {**params[name], **({"limit": llm_limit} if llm_limit and name == "llm" else {})}
                   for name in reviewers}, verdicts=joined, metrics=metrics, items=frame,
        created_at="2024-05-01T12:00:00+00:00", incomplete=incomplete,
        incomplete_reason="budget of $0.50 reached after 90 calls" if incomplete else "",
        usage={"llm": {"calls": 120, "cached": 0, "prompt_tokens": 24_000, "completion_tokens": 3_000,
                       "cost_usd": None, "cost_unknown_calls": 120, "retries": 2, "abstained": 5}}
        if "llm" in reviewers else {},
        mlflow={"tracking_uri": "http://127.0.0.1:5000", "experiment_id": "7", "parent_run_id": "parent123",
                "runs": {f"{candidate.label}|clf": "run-clf", f"{candidate.label}|llm": "run-llm"}},
    )


def _drop_reviewer_key(key: str) -> Callable[[Metrics], None]:
    def drop(metrics: Metrics) -> None:
        for section in (metrics.reviewers, metrics.baseline.reviewers if metrics.baseline else {}):
            for m in section.values():
                setattr(m, key, None)
    return drop


def _no_relabel_candidates(metrics: Metrics) -> None:
    metrics.relabel_candidates = RelabelCandidates(total=0, reviewers=[], items=[])


# Metrics blocks a run may lack (no weights, no language slice, nothing contested, no scores, no
# agreement with known gold, no LLM reviewer, no raw annotator judgements): each must render when present
# and vanish quietly when absent.
NEWER_KEYS: dict[str, Callable[[Metrics], None]] = {
    "weighted": _drop_reviewer_key("weighted"),
    "languages": _drop_reviewer_key("languages"),
    "without_contested": _drop_reviewer_key("without_contested"),
    "thresholds": _drop_reviewer_key("thresholds"),
    "relabel_candidates": _no_relabel_candidates,
    "agreement": lambda metrics: setattr(metrics, "agreement", {}),
    "injection": lambda metrics: setattr(metrics, "injection", None),
    "annotators": lambda metrics: setattr(metrics, "annotators", None),
}


def without(record: RunRecord, *keys: str) -> RunRecord:
    """A copy of `record` without the named NEWER_KEYS blocks."""
    metrics = record.metrics.model_copy(deep=True)
    for key in keys:
        NEWER_KEYS[key](metrics)
    return dataclasses.replace(record, metrics=metrics)
