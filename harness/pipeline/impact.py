"""`impact RUN_DIR --volumes V --ops OPS.yaml --out DIR`: a run's error rates as a forecast of actions,
review hours and appeals per day, per language and overall (harness.metrics.impact)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness.config.ops import Ops, load_ops
from harness.errors import HarnessError, did_you_mean
from harness.metrics.confusion import gold_status
from harness.metrics.counts import multiplicity
from harness.metrics.impact import (
    DRAWS,
    QUANTITIES,
    SEED,
    Estimate,
    Plan,
    RowEvidence,
    beta_from_interval,
    prevalence_draws,
    row_evidence,
    simulate,
    summarise,
)
from harness.metrics.samples import majority
from harness.pipeline.cascade import cascade
from harness.record import RunRecord, read_record
from harness.record.files import RECORD, atomic_write_text, read_model, write_json
from harness.record.header import RecordHeader
from harness.record.impact import (
    IMPACT_HTML,
    IMPACT_JSON,
    Forecast,
    GroupForecast,
    ImpactResult,
    Prevalence,
    Quantity,
)
from harness.reporting.links import docs_url
from harness.verdicts import ABSTAINED, ACTIONED

VOLUME, PREVALENCE, PREVALENCE_N = "items_per_day", "prevalence", "prevalence_n"
NOT_SLICES = (VOLUME, PREVALENCE, PREVALENCE_N)
LANGUAGE_COLUMNS = ("language", "lang")
METHOD = ("posterior simulation: Jeffreys-Dirichlet draws of each row's paired decision cells per gold class "
          f"and Beta draws of its prevalence, pushed through the ops formulas ({docs_url('impact.md')})")
NO_PREVALENCE = ("rates from a labelled set cannot be turned into volumes without production prevalence; add a "
                 "'prevalence' column to the volumes or give --prevalence-from a score run directory.")


@dataclass(frozen=True)
class Volumes:
    frame: pd.DataFrame
    slices: list[str]
    path: Path


def _cell(value: object) -> str:
    """A cell of the volumes as the user wrote it: 'blank' for an empty one."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "blank"
    return str(value.item() if isinstance(value, np.generic) else value)


def read_volumes(path: Path, run_columns: list[str]) -> Volumes:
    """The volumes file (CSV or Parquet), checked against the run's slice columns."""
    if not path.is_file():
        raise HarnessError("file not found; give a CSV or Parquet file of items per day per slice.", path=path)
    try:
        frame = pd.read_parquet(path) if path.suffix.lower() in (".parquet", ".pq") else pd.read_csv(path)
    except Exception as err:  # any reader failure is the file's problem
        raise HarnessError(f"could not be read as a {'Parquet' if path.suffix.lower() == '.parquet' else 'CSV'} "
                           f"table ({str(err).splitlines()[0][:160]}); give a CSV or Parquet file.", path=path) from None
    if VOLUME not in frame:
        raise HarnessError(f"has no '{VOLUME}' column{did_you_mean(VOLUME, map(str, frame.columns))}; add the "
                           "expected items per day of each row.", path=path)
    slices = [str(c) for c in frame.columns if c not in NOT_SLICES]
    for column in slices:
        if column not in run_columns:
            raise HarnessError(f"column '{column}' is not a slice of the run (it has "
                               f"{', '.join(run_columns) or 'none'}).{did_you_mean(column, run_columns)}", path=path)
    volume = pd.to_numeric(frame[VOLUME], errors="coerce")
    bad = volume.isna() | (volume < 0)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise HarnessError(f"row {row + 2} has {VOLUME} {_cell(frame[VOLUME].iloc[row])}; every row needs a "
                           "non-negative number of items per day.", path=path)
    frame = frame.assign(**{VOLUME: volume.astype(float)})
    if slices and frame.duplicated(slices).any():
        row = int(np.flatnonzero(frame.duplicated(slices).to_numpy())[0])
        raise HarnessError(f"row {row + 2} repeats the slice values of an earlier row; give each slice "
                           "combination once.", path=path)
    for column in (PREVALENCE, PREVALENCE_N):
        if column in frame:
            values = pd.to_numeric(frame[column], errors="coerce")
            wrong = values.isna() | (values < 0) | ((values > 1) if column == PREVALENCE else (values <= 0))
            if wrong.any():
                row = int(np.flatnonzero(wrong.to_numpy())[0])
                want = "a share between 0 and 1" if column == PREVALENCE else "a positive number of items"
                raise HarnessError(f"row {row + 2} has {column} {_cell(frame[column].iloc[row])}; it must be {want}.",
                                   path=path)
            frame[column] = values.astype(float)
    return Volumes(frame, slices, path)


def _decisions(record: RunRecord, reviewer: str) -> tuple[pd.DataFrame, list[str], list[str]]:
    """One row per item: gold, slices and each version's decision (columns named by policy label)."""
    own = record.verdicts[record.verdicts["reviewer"] == reviewer]
    per_item = majority(own)
    versions = [record.candidate] + ([record.baseline] if record.baseline else [])
    versions = [v for v in versions if (per_item["policy"] == v).any()]
    params = record.reviewers.get(reviewer)
    warnings: list[str] = []
    if len(versions) > 1 and params is not None and not params.reads_policy:
        # A classifier's decisions do not depend on the policy text: the change is exactly zero.
        versions = versions[:1]
        warnings.append(f"reviewer '{reviewer}' does not read the policy, so the versions do not differ for it: the "
                        "forecast has no baseline or change.")
    first = per_item[per_item["policy"] == versions[0]].drop_duplicates("item_id").set_index("item_id")
    table = first.drop(columns=["policy", "decision", "score"]).copy()
    for version in versions:
        part = per_item[per_item["policy"] == version].drop_duplicates("item_id").set_index("item_id")
        table[f"decision:{version}"] = part["decision"].reindex(table.index).fillna(ABSTAINED)
    if record.baseline and record.baseline not in versions and not warnings:
        warnings.append(f"reviewer '{reviewer}' judged only the candidate: the forecast has no baseline or change.")
    return table.reset_index(), versions, warnings


def _band(record: RunRecord, ops: Ops, versions: list[str], items: pd.Index) -> np.ndarray:
    """(versions, items): each item's score of the band reviewer in [low, high)."""
    band = ops.review.band
    if ops.review.route != "band" or band is None:
        return np.zeros((len(versions), len(items)), dtype=bool)
    reviewers = sorted(record.verdicts["reviewer"].unique())
    if band.reviewer not in reviewers:
        raise HarnessError(f"review.band.reviewer '{band.reviewer}' is not a reviewer of the run ({', '.join(reviewers)})."
                           f"{did_you_mean(band.reviewer, reviewers)}")
    own = majority(record.verdicts[record.verdicts["reviewer"] == band.reviewer])
    if own["score"].isna().all():
        raise HarnessError(f"review.band needs scores, and reviewer '{band.reviewer}' gives none; route to review "
                           "by 'actions', 'all' or 'sample', or name a reviewer with scores (a classifier).")
    out = np.zeros((len(versions), len(items)), dtype=bool)
    for v, version in enumerate(versions):
        part = own[own["policy"] == version]
        if part.empty:  # judged once (a classifier): its scores stand for both versions
            part = own[own["policy"] == own["policy"].iloc[0]]
        score = part.drop_duplicates("item_id").set_index("item_id")["score"].reindex(items).to_numpy(dtype=float)
        out[v] = (score >= band.low) & (score < band.high)
    return out


def _row_masks(table: pd.DataFrame, volumes: Volumes) -> list[np.ndarray]:
    """Which items each volume row stands for; a value the run lacks is an error."""
    masks = []
    for position in range(len(volumes.frame)):
        mask = np.ones(len(table), dtype=bool)
        for column in volumes.slices:
            value = _cell(volumes.frame[column].iloc[position])
            present = sorted(table[column].astype(str).unique())
            if value not in present:
                raise HarnessError(f"row {position + 2}: the run has no items with {column} '{value}' (it has "
                                   f"{', '.join(present[:12])}).{did_you_mean(value, present)}", path=volumes.path)
            mask &= table[column].astype(str).to_numpy() == value
        masks.append(mask)
    return masks


def _prevalence(volumes: Volumes, prevalence_from: Path | None, reviewer: str,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, Prevalence]:
    rows = len(volumes.frame)
    if PREVALENCE in volumes.frame:
        point = volumes.frame[PREVALENCE].to_numpy(dtype=float)
        sizes = volumes.frame[PREVALENCE_N].to_numpy(dtype=float) if PREVALENCE_N in volumes.frame else None
        samples = np.stack([prevalence_draws(point[r], None if sizes is None else float(sizes[r]), DRAWS, rng)
                            for r in range(rows)]) if rows else np.empty((0, DRAWS))
        note = ("each row's prevalence is uncertain as a share estimated from its prevalence_n items" if sizes is not None
                else "prevalence taken as exact: add a prevalence_n column (the items it was estimated from) "
                     "to carry its uncertainty")
        return point, samples, Prevalence(source="volumes", uncertain=sizes is not None, note=note)
    if prevalence_from is None:
        raise HarnessError(NO_PREVALENCE, path=volumes.path)
    value, low, high = _score_run_prevalence(prevalence_from, reviewer)
    size = beta_from_interval(value, low, high)
    shared = prevalence_draws(value, size, DRAWS, rng)
    note = (f"prevalence {value:.4%} [{low:.4%}, {high:.4%}] from {prevalence_from}, one estimate for every row "
            "(its draws are shared across rows)")
    return (np.full(rows, value), np.tile(shared, (rows, 1)),
            Prevalence(source=str(prevalence_from), uncertain=size is not None, note=note))


def _score_run_prevalence(run_dir: Path, reviewer: str) -> tuple[float, float, float]:
    """The prediction-powered prevalence of a score run, else its weighted (population) prevalence."""
    metrics = read_record(run_dir).metrics
    powered = metrics.prediction_powered or {}
    for name in [reviewer, *sorted(powered)]:
        block = powered.get(name)
        est = block.prevalence.prediction_powered if block and block.prevalence else None
        if est is not None and est.rate is not None and est.ci_low is not None and est.ci_high is not None:
            return est.rate, est.ci_low, est.ci_high
    for name in [reviewer, *sorted(metrics.reviewers)]:
        entry = metrics.reviewers.get(name)
        weighted = entry.weighted.prevalence if entry and entry.weighted else None
        if weighted is not None and weighted.rate is not None and weighted.ci_low is not None \
                and weighted.ci_high is not None:
            return weighted.rate, weighted.ci_low, weighted.ci_high
    raise HarnessError("holds no weighted or prediction-powered prevalence; give a 'policy-harness score' run with "
                       "--weight or unlabelled rows, or a 'prevalence' column in the volumes.", path=run_dir)


def _language_column(volumes: Volumes, chosen: str | None) -> str | None:
    if chosen is not None:
        if chosen not in volumes.slices:
            raise HarnessError(f"--language-column '{chosen}' is not a slice column of the volumes "
                               f"({', '.join(volumes.slices) or 'none'}).{did_you_mean(chosen, volumes.slices)}")
        return chosen
    return next((c for c in LANGUAGE_COLUMNS if c in volumes.slices), None)


def _seconds(volumes: Volumes, ops: Ops, language: str | None, ops_path: Path) -> np.ndarray:
    values = volumes.frame[language].astype(str) if language else pd.Series([None] * len(volumes.frame))
    out = np.empty(len(volumes.frame))
    for r, value in enumerate(values):
        seconds = ops.seconds_for(value)
        if seconds is None:
            raise HarnessError(f"handling_seconds has no entry for language '{value}' (it has volume) and no "
                               f"'default'; add '{value}: SECONDS' or 'default: SECONDS'.", path=ops_path)
        out[r] = seconds
    return out


def _plan(ops: Ops) -> Plan:
    cost = ops.cost
    return Plan(route=ops.review.route, sample_share=ops.review.sample.share if ops.review.sample else 0.0,
                hours_per_reviewer_day=ops.hours_per_reviewer_day, appeal_wrongful=ops.appeal_rate.wrongful,
                appeal_correct=ops.appeal_rate.correct, overturn_rate=ops.overturn_rate,
                reviewer_hour_usd=cost.reviewer_hour_usd if cost else 0.0,
                per_1k_model_calls_usd=cost.per_1k_model_calls_usd if cost else 0.0)


def _pick_reviewer(record: RunRecord, reviewer: str | None) -> str:
    names = sorted(record.verdicts.loc[record.verdicts["policy"] == record.candidate, "reviewer"].unique())
    if reviewer is None:
        if len(names) != 1:
            raise HarnessError(f"the run has reviewers {', '.join(names)}; choose the one to forecast with --reviewer.")
        return str(names[0])
    if reviewer not in names:
        raise HarnessError(f"--reviewer '{reviewer}' did not judge the run's candidate (reviewers: "
                           f"{', '.join(names)}).{did_you_mean(reviewer, names)}")
    return reviewer


def _group(summary: dict[str, dict[str, Estimate]], volume: float) -> GroupForecast:
    def forecast(version: str, quantity: str) -> Forecast | None:
        got = summary.get(version, {}).get(quantity)
        return Forecast(value=got.value, ci_low=got.low, ci_high=got.high) if got else None

    quantities = {}
    for q in QUANTITIES:
        candidate = forecast("candidate", q)
        assert candidate is not None
        quantities[q] = Quantity(candidate=candidate, baseline=forecast("baseline", q), change=forecast("change", q))
    return GroupForecast(items_per_day=volume, **quantities)


def compute_impact(run_dir: Path, volumes_path: Path, ops_path: Path, *, reviewer: str | None = None,
                   prevalence_from: Path | None = None, language_column: str | None = None) -> ImpactResult:
    """Load the run, volumes and ops, and forecast (no files written)."""
    record = read_record(run_dir)
    ops = load_ops(ops_path)
    chosen = _pick_reviewer(record, reviewer)
    table, versions, warnings = _decisions(record, chosen)
    run_columns = [c for c in record.evalset.slices if c in table] or \
        [c for c in table.columns if c not in ("item_id", "gold", "text", "sample", "reviewer")]
    volumes = read_volumes(volumes_path, list(record.evalset.slices) or run_columns)
    language = _language_column(volumes, language_column)
    seconds = _seconds(volumes, ops, language, ops_path)
    rng = np.random.default_rng(SEED)
    prevalence, prevalence_samples, prevalence_info = _prevalence(volumes, prevalence_from, chosen, rng)
    benign, violating, _ = gold_status(table)
    known = benign | violating
    decisions = np.stack([table[f"decision:{v}"].astype(str).to_numpy() for v in versions])
    actioned, decided = decisions == ACTIONED.value, decisions != ABSTAINED.value
    in_band = _band(record, ops, versions, pd.Index(table["item_id"]))
    count = multiplicity(table).astype(float)
    rows: list[RowEvidence] = []
    for position, mask in enumerate(_row_masks(table, volumes)):
        mask = mask & known
        evidence = row_evidence(violating[mask], actioned[:, mask], decided[:, mask], in_band[:, mask], count[mask])
        for g, name in ((0, "benign"), (1, "violating")):
            if (evidence.own[:, g, 1] == 0).any():
                raise HarnessError(f"row {position + 2} has no decided {name} items in the run for reviewer "
                                   f"'{chosen}', so its {'over-enforcement' if g == 0 else 'leakage'} is unknown; "
                                   "merge it into a broader row.", path=volumes_path)
        if int(evidence.own[:, :, 1].sum()) < 30 * len(versions):
            warnings.append(f"row {position + 2} rests on {int(evidence.own[0, :, 1].sum())} decided items: its "
                            "intervals are wide.")
        rows.append(evidence)
    volume = volumes.frame[VOLUME].to_numpy(dtype=float)
    forecasts = simulate(rows, volume, prevalence, prevalence_samples, seconds, _plan(ops), draws=DRAWS, seed=SEED)
    languages: dict[str, GroupForecast] = {}
    if language:
        values = volumes.frame[language].astype(str).to_numpy()
        for value in dict.fromkeys(values):
            members = values == value
            languages[value] = _group(summarise(forecasts, members), float(volume[members].sum()))
    overall = _group(summarise(forecasts, np.ones(len(rows), dtype=bool)), float(volume.sum()))
    return ImpactResult(
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), run=str(run_dir), run_name=record.name,
        reviewer=chosen, candidate=record.candidate, baseline=versions[1] if len(versions) > 1 else None,
        volumes=str(volumes_path), ops=ops, language_column=language,
        slice_columns=volumes.slices, prevalence=prevalence_info, method=METHOD, draws=DRAWS, seed=SEED,
        overall=overall, languages=languages, warnings=warnings, mlflow_run_id=None,
        cascade=cascade(record, ops, language))


def write_impact(result: ImpactResult, out: Path, *, log: bool = True) -> tuple[Path, Path]:
    """impact.json and impact.html in `out`; then logged to MLflow beside the run when it was tracked
    (impact.json is rewritten with the MLflow run's id)."""
    from harness.reporting.impact import impact_page

    out.mkdir(parents=True, exist_ok=True)
    write_json(out / IMPACT_JSON, result)
    atomic_write_text(out / IMPACT_HTML, impact_page(result))
    if log:
        from harness.tracking.impact import log_impact

        header = read_model(Path(result.run) / RECORD, RecordHeader)
        run_id = log_impact(result, out, header.mlflow)
        if run_id:
            result.mlflow_run_id = run_id
            write_json(out / IMPACT_JSON, result)
    return out / IMPACT_JSON, out / IMPACT_HTML


def impact_text(result: ImpactResult, data: Path, html: Path) -> str:
    """What the command prints: the headline, any warnings, and where the files are."""
    from harness.reporting.impact import headline

    lines = [headline(result), *(f"warning: {w}" for w in result.warnings), f"wrote {data} and {html}"]
    return "\n".join(lines)
