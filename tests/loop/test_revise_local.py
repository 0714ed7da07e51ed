"""`revise` with the local SmolLM2 model as the author (and the judge) on the quick-start set.

A 135M-parameter model rarely writes a valid policy; whatever it proposes must go through the same
checks as any candidate and be recorded, accepted or rejected with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness._util.hashing import sha256_text
from harness.config import load_experiment

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_smollm2_as_author_on_the_quickstart_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.config import AuthorConfig
    from harness.loop.revise import ReviseResult, revise
    from harness.record.diagnosis import Diagnosis

    monkeypatch.setenv("POLICY_HARNESS_CACHE", str(tmp_path / "cache.sqlite"))
    experiment = load_experiment(REPO / "experiments" / "quickstart.yaml")
    experiment.reviewers = [r for r in experiment.reviewers if r.type == "llm"]  # the classifier reads no policy
    experiment.limit = 24  # 12 dev / 12 held-out items: minutes, not hours, on 2 CPU cores
    experiment.author = AuthorConfig(model="local/smollm2", candidates=2, holdout=0.5, target="errors",
                                     max_tokens=900, describe_clusters=1, temperature=0.7, timeout_s=600)
    policy = Path(experiment.resolve(experiment.policy))
    before = sha256_text(policy.read_text(encoding="utf-8"))

    result = revise(experiment, out_dir=tmp_path / "out", track=False)

    assert sha256_text(policy.read_text(encoding="utf-8")) == before  # never touched
    stored = ReviseResult.model_validate_json((tmp_path / "out" / "revise.json").read_text(encoding="utf-8"))
    assert stored == result and len(result.candidates) == 2
    assert result.author_usage.cost_usd == 0.0
    for candidate in result.candidates:
        assert candidate.why.startswith(("accepted:", "rejected:", "invalid:", "not judged:"))
        if candidate.file:
            assert (tmp_path / "out" / candidate.file).is_file()
        if not candidate.valid:
            assert candidate.reason and not candidate.judgements and not candidate.accepted
        else:
            assert [j.reviewer for j in candidate.judgements] == ["smollm2"]
    dev = Diagnosis.model_validate_json((tmp_path / "out" / "diagnosis.json").read_text(encoding="utf-8"))
    described = [c for k in dev.groups[0].kinds for g in (k.by_rule, k.by_slice, k.by_text) for c in g[:1]]
    assert all(bool(c.description) != bool(c.description_error) for c in described)
    print(result.model_dump_json(indent=2, include={"candidates", "author_usage", "current"}))
    for candidate in result.candidates:
        if candidate.file:
            print(f"--- {candidate.file}\n{(tmp_path / 'out' / candidate.file).read_text(encoding='utf-8')[:3000]}")
    print("--- descriptions", [(c.key, c.description, c.description_error) for c in described])
