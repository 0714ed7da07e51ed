"""One MLflow run per grading: per-reviewer metrics, tagged with the policy id and version."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from harness.record.proficiency import PROFICIENCY_JSON, REPORT_HTML, Proficiency
from harness.tracking.tags import KIND_TAG, Kind, metric_key

log = logging.getLogger(__name__)


def experiment_name(data: Proficiency) -> str:
    from harness.tracking import EXPERIMENT_PREFIX

    return f"{EXPERIMENT_PREFIX}proficiency/{data.quiz.policy_id}"


def metrics(data: Proficiency) -> dict[str, float]:
    out: dict[str, float] = {}
    for g in data.reviewers:
        r = metric_key(g.reviewer)
        for name in ("accuracy", "over_enforcement", "leakage", "false_action_share"):
            rate = getattr(g, name)
            if rate.rate is not None:
                out[f"{name}/{r}"] = float(rate.rate)
                out[f"{name}_ci_low/{r}"] = float(rate.ci_low)
                out[f"{name}_ci_high/{r}"] = float(rate.ci_high)
        out[f"answered/{r}"] = float(g.answered)
        out[f"skipped/{r}"] = float(g.skipped)
        out[f"certified/{r}"] = 1.0 if g.certification.status == "certified" else 0.0
        out[f"weaknesses/{r}"] = float(len(g.weaknesses))
    cohort = data.cohort
    if cohort.krippendorff_alpha is not None:
        out["cohort.krippendorff_alpha"] = cohort.krippendorff_alpha
    if cohort.fleiss_kappa is not None:
        out["cohort.fleiss_kappa"] = cohort.fleiss_kappa
    out["cohort.training_coverage"] = float(cohort.coverage.rate or 0.0)
    out["cohort.certified"] = float(cohort.coverage.k)
    out["cohort.graded"] = float(cohort.coverage.n)
    return out


def log_grading(data: Proficiency, out_dir: Path) -> str | None:
    """Log the grading; a tracking failure warns and returns None (the files on disk are the result)."""
    from harness.tracking import artifact_location, client, safe_uri

    try:
        from mlflow.entities import Metric, Param, RunTag

        name = experiment_name(data)
        with client() as c:
            experiment = c.get_experiment_by_name(name)
            experiment_id = experiment.experiment_id if experiment else c.create_experiment(
                name, artifact_location=artifact_location(name))
            info = data.quiz
            run = c.create_run(experiment_id, run_name=f"proficiency {info.policy_id}@v{info.policy_version} {data.created_at}",
                               tags={KIND_TAG: Kind.PROFICIENCY, "policy_id": info.policy_id,
                                     "policy_version": str(info.policy_version), "policy_sha256": info.policy_sha256,
                                     "eval_set": info.evalset, "eval_set_sha256": info.evalset_sha256,
                                     "reviewers": ",".join(g.reviewer for g in data.reviewers)[:5000]})
            rid = run.info.run_id
            now = int(time.time() * 1000)
            params = {"quiz_items": info.items, "quiz_seed": info.seed, "pass_mark": data.pass_mark,
                      "max_skip": data.max_skip, "experiment": info.experiment, "rule_source": info.rule_source[:500]}
            c.log_batch(rid, params=[Param(k, str(v)) for k, v in params.items()],
                        metrics=[Metric(k, v, now, 0) for k, v in metrics(data).items()],
                        tags=[RunTag(f"status/{metric_key(g.reviewer)}", g.certification.status) for g in data.reviewers])
            for file in (PROFICIENCY_JSON, REPORT_HTML):
                if (out_dir / file).exists():
                    c.log_artifact(rid, str(out_dir / file))
            c.set_terminated(rid)
            return str(rid)
    except Exception as err:  # tracking must not lose a grading that is already on disk
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        log.warning("MLflow tracking at %s failed (%s); the grading is saved in %s.", safe_uri(), first[:200], out_dir)
        return None
