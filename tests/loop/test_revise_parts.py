"""Building blocks of `revise`: the seeded held-out split and the checks an author's candidate must pass."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from harness.errors import HarnessError
from harness.loop.candidate import check_candidate, policy_document
from harness.loop.split import split_items
from harness.policy import load_policy

V2 = Path(__file__).resolve().parents[2] / "prompts" / "policies" / "hate_speech" / "v2.md"


def items() -> pd.DataFrame:
    rows = [{"item_id": f"i{n:03d}", "gold": "HS" if n % 3 == 0 else "benign",
             "tactic": ["counter", "news", "direct", "rare"][n % 4] if n < 99 else "single"} for n in range(100)]
    return pd.DataFrame(rows)


def test_split_is_seeded_disjoint_and_stratified() -> None:
    frame = items()
    split = split_items(frame, holdout=0.5, seed=7, slice_column="tactic")
    shuffled = split_items(frame.sample(frac=1, random_state=3), holdout=0.5, seed=7, slice_column="tactic")
    assert set(shuffled.holdout) == set(split.holdout)  # the row order of the file does not matter
    assert set(split.dev) | set(split.holdout) == set(frame["item_id"]) and not set(split.dev) & set(split.holdout)
    assert split.strata == ["gold", "tactic"]
    held = frame[frame["item_id"].isin(split.holdout)]
    for (gold, tactic), group in frame.groupby(["gold", "tactic"]):
        n_held = int(((held["gold"] == gold) & (held["tactic"] == tactic)).sum())
        if len(group) >= 2:
            assert 1 <= n_held <= len(group) - 1 and abs(n_held - len(group) / 2) <= 1
        else:
            assert n_held == 0  # a stratum of one item stays in dev
    assert split_items(frame, holdout=0.5, seed=8, slice_column="tactic").holdout != split.holdout


def test_split_rejects_a_share_outside_zero_one() -> None:
    with pytest.raises(HarnessError, match="'holdout'.*Got 1.0 instead"):
        split_items(items(), holdout=1.0, seed=0)


def revised(text: str, version: int = 3) -> str:
    return text.replace("version: 2", f"version: {version}")


def test_policy_document_from_a_fenced_block_or_plain_answer() -> None:
    text = revised(V2.read_text(encoding="utf-8"))
    fenced = f"Here is the revision.\n\n```markdown\n{text}```\nI added nothing else."
    assert policy_document(fenced) == text
    assert policy_document(f"Sure!\n{text}") == text


def test_valid_candidate() -> None:
    current = load_policy(V2)
    check = check_candidate(revised(current.text), current, max_policy_tokens=900)
    assert check.valid and check.reason == "" and check.policy.version == 3
    assert check.tokens and check.lint.startswith("lint: 0 errors")


@pytest.mark.parametrize("change, reason", [
    (lambda t: t.replace("version: 2", "version: 3").replace("id: hate_speech", "id: other"), "policy id is 'other'"),
    (lambda t: t, "version 2 is not above the current version 2"),
    (lambda t: revised(t).replace("- **HS5**", "- **HS4**"), "appears twice"),
    (lambda t: "I think the policy is fine as it is.", "not a valid policy"),
    (lambda t: revised(t).replace("id: HS\n", "id: HX\n"), "categories ['HX'] differ"),
])
def test_invalid_candidates_name_the_reason(change, reason: str) -> None:  # type: ignore[no-untyped-def]
    current = load_policy(V2)
    check = check_candidate(change(current.text), current, max_policy_tokens=900)
    assert not check.valid and reason in check.reason and check.policy is None


def test_candidate_over_the_token_budget() -> None:
    current = load_policy(V2)
    check = check_candidate(revised(current.text), current, max_policy_tokens=500)
    assert not check.valid and "over max_policy_tokens 500" in check.reason
