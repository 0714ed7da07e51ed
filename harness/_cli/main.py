"""Thin command group: validate | run | report. Heavy imports happen inside the commands."""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn
from pathlib import Path

from harness.errors import HarnessError
from harness._util.logs import log_warnings_to_stderr

if TYPE_CHECKING:
    from harness.config import Experiment
    from harness.record import RunRecord

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="policy-harness",
                                     description="Test a draft content policy: over-enforcement and leakage with intervals.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="check policies, eval sets and experiments without calling any reviewer")
    p.add_argument("paths", nargs="+", help="experiment .yaml, policy .md, or eval-set files")
    p.set_defaults(func=_validate)

    p = sub.add_parser("run", help="run an experiment: judge, score, track, report")
    p.add_argument("experiment", help="experiment YAML file")
    p.add_argument("--out", help="output directory (default: reports/<name>-<time>)")
    p.add_argument("--limit", type=int, help="judge a seeded sample of N items, stratified by gold label")
    p.add_argument("--no-track", action="store_true", help="do not log to MLflow")
    p.add_argument("--timings", action="store_true", help="print how long each stage took (to stderr)")
    p.set_defaults(func=_run)

    p = sub.add_parser("estimate", help="forecast LLM calls, tokens and cost before anything is sent")
    p.add_argument("experiment", help="experiment YAML file")
    p.add_argument("--limit", type=int, help="as for 'run'")
    p.add_argument("--revise", action="store_true", help="forecast 'revise' (the experiment's author section)")
    p.set_defaults(func=_estimate)

    p = sub.add_parser("score", help="metrics and report from decisions made elsewhere (a predictions file)")
    p.add_argument("file", help="CSV, TSV, JSONL or Parquet with a gold column and one or more prediction columns")
    p.add_argument("--gold", required=True, help="gold label column")
    p.add_argument("--pred", required=True, action="append", help="prediction column (repeat for several reviewers)")
    p.add_argument("--benign", action="append", help="values meaning benign (default: benign, 0, false, allow)")
    p.add_argument("--slices", nargs="+", default=[], help="slice columns")
    p.add_argument("--id", dest="id_column", help="item id column (default: row numbers)")
    p.add_argument("--text", dest="text_column", help="item text column, for the report's examples")
    p.add_argument("--strata", dest="strata_column",
                   help="stratum column: stratified prediction-powered prevalence when some gold cells are blank")
    p.add_argument("--weight", dest="weight_column",
                   help="sampling-weight column (inverse inclusion probability): adds population estimates")
    p.add_argument("--out", help="output directory (default: reports/score-<name>-<time>)")
    p.add_argument("--no-track", action="store_true", help="do not log to MLflow")
    p.set_defaults(func=_score)

    p = sub.add_parser("compare", help="paired comparison of two runs (output directories or MLflow run ids)")
    p.add_argument("a", help="the 'before' run")
    p.add_argument("b", help="the 'after' run")
    p.add_argument("--out", help="directory for compare.json and compare.html (default: reports/compare-<time>)")
    p.add_argument("--no-track", action="store_true", help="do not log the comparison to MLflow")
    p.set_defaults(func=_compare)

    p = sub.add_parser("runs", help="list recent MLflow runs with their headline numbers")
    p.add_argument("--policy", help="policy id")
    p.add_argument("--version", help="policy version")
    p.add_argument("--reviewer", help="reviewer name")
    p.add_argument("--limit", type=int, default=20, help="how many runs (default 20)")
    p.add_argument("--proficiency", action="store_true",
                   help="list proficiency gradings instead: each reviewer's accuracy and certification")
    p.set_defaults(func=_runs)

    p = sub.add_parser("sync", help="log a run to MLflow whose tracking failed (e.g. the server was down)")
    p.add_argument("run_dirs", nargs="+", help="directories written by 'run', 'score' or 'rescore'")
    p.set_defaults(func=_sync)

    p = sub.add_parser("rescore", help="rebuild metrics and report from a stored run without calling reviewers")
    p.add_argument("run_dir", help="directory written by 'run'")
    p.add_argument("--experiment", help="experiment file whose eval-set mapping (gold, slices) and gates to apply")
    p.add_argument("--out", help="output directory (default: <run_dir>-rescored-<time>)")
    p.add_argument("--no-track", action="store_true", help="do not log to MLflow")
    p.set_defaults(func=_rescore)

    p = sub.add_parser("plan", help="items needed: a rate within a margin, or a change between versions (paired)")
    p.add_argument("--rate", type=float, help="expected rate, e.g. 0.05 (over-enforcement or leakage)")
    p.add_argument("--margin", type=float, help="how far the interval may reach from the rate on either side, e.g. 0.02")
    p.add_argument("--slices", type=int, default=1, help="number of slices that each need that precision")
    p.add_argument("--paired", action="store_true", help="plan a paired comparison of two policy versions")
    p.add_argument("--p-discordant", type=float, help="share of items whose verdict flips between versions")
    p.add_argument("--change", type=float, help="change in the rate to detect, e.g. 0.03 or -0.03")
    p.add_argument("--power", type=float, default=0.8, help="wanted power (default 0.8)")
    p.add_argument("--alpha", type=float, default=0.05, help="two-sided significance level (default 0.05)")
    p.set_defaults(func=_plan)

    p = sub.add_parser("report", help="re-render the report of a stored run directory")
    p.add_argument("run_dir", help="directory written by 'run'")
    p.set_defaults(func=_report)

    p = sub.add_parser("generate", help="build functional test items (minimal pairs) from a templates file")
    p.add_argument("templates", help="templates YAML (targets and functionalities, e.g. prompts/functional/hate_speech_en.yaml)")
    p.add_argument("--out", required=True, help="CSV to write (columns id, text, label, functionality, target, language, ...)")
    p.set_defaults(func=_generate)
    _add_policy_loop_commands(sub)
    _add_revise_commands(sub)
    _add_workspace_commands(sub)
    _add_training_commands(sub)
    _add_schema_commands(sub)
    _add_portfolio_commands(sub)
    return parser


# Why an output could not be written, and what to do about it.
_WRITE_ERRORS = {
    errno.ENOSPC: ("no space left on device", "free space"),
    errno.EDQUOT: ("disk quota exceeded", "free space"),
    errno.EFBIG: ("file too large for the file system", "choose another --out"),
    errno.EACCES: ("permission denied", "choose a writable --out or fix its permissions"),
    errno.EPERM: ("permission denied", "choose a writable --out or fix its permissions"),
    errno.EROFS: ("read-only file system", "choose a writable --out"),
    errno.EEXIST: ("it is a file, not a directory", "choose another --out"),
    errno.ENOTDIR: ("part of the path is a file, not a directory", "choose another --out"),
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    log_warnings_to_stderr()
    try:
        return int(args.func(args) or 0)
    except HarnessError as err:
        source = getattr(args, "source_file", None)
        if err.path is None and source:  # a problem in what the file asks for: name the file
            err.path, err.args = source, (f"{source}: {err.message}",)
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except OSError as err:
        # Inputs are read with HarnessErrors of their own, so what reaches here failed to be written.
        if err.errno not in _WRITE_ERRORS:
            raise
        reason, fix = _WRITE_ERRORS[err.errno]
        print(f"error: could not write {err.filename or 'the outputs'} ({reason}); {fix} and re-run: "
              "cached judgements are kept.", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: every judgement already returned is kept in the cache; re-run to resume.",
              file=sys.stderr)
        return 130


def entry() -> NoReturn:
    """The `policy-harness` command and `python -m harness`: main(), then an exit without the
    interpreter's teardown (see exit_skipping_teardown); `main` itself stays safe to call in-process."""
    from harness._util.processes import exit_skipping_teardown

    exit_skipping_teardown(main)


def _validate(args: argparse.Namespace) -> int:
    from harness.pipeline.validate import validate_path

    for raw in args.paths:
        args.source_file = raw
        print(validate_path(Path(raw)))
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 1:
        raise HarnessError(f"--limit must be a whole number of at least 1. Got {args.limit} instead.")
    from harness.pipeline.warm import Finisher

    # Started first, so that its imports overlap everything below.
    with Finisher.start() if Finisher.worthwhile() else Finisher(None, None) as finisher:
        from harness._util.event_loop import run_sync
        from harness.config import load_experiment
        from harness.pipeline.finish import InProcess
        from harness.pipeline.run import judge_and_finish
        from harness._util.timings import log_start_up, print_timings, stage

        if args.timings:
            print_timings()
            log_start_up()
        with stage("experiment"):
            experiment = load_experiment(args.experiment)
            args.source_file = args.experiment
            _print_lint_summaries(experiment)
        finishing = finisher if finisher.alive else InProcess()
        record = run_sync(judge_and_finish(experiment, finishing, out_dir=args.out, limit=args.limit,
                                           track=not args.no_track))
    print(summary(record))
    return 3 if record.incomplete else 0


def _estimate(args: argparse.Namespace) -> int:
    from harness.config import LLMReviewerConfig, load_experiment
    from harness.reviewers.llm import LLMReviewer
    from harness.pipeline.run import load_inputs

    experiment = load_experiment(args.experiment)
    args.source_file = args.experiment
    if args.revise:
        from harness.loop.forecast import forecast_revise, forecast_text

        if args.limit:
            raise HarnessError("--limit does not apply with --revise, because revise reads the experiment's own "
                               "'limit:'; set it there instead.")

        print(forecast_text(forecast_revise(experiment)))
        return 0
    candidate, baseline, evalset = load_inputs(experiment)
    if args.limit or experiment.limit:
        evalset = evalset.sample(args.limit or experiment.limit, experiment.seed)
    print(f"{experiment.name}: {len(evalset)} items")
    for config in experiment.reviewers:
        if not isinstance(config, LLMReviewerConfig):
            print(f"  {config.name:<16} classifier: no model calls")
            continue
        reviewer = LLMReviewer(config, base_dir=Path(experiment.base_dir))
        for policy in filter(None, (candidate, baseline)):
            e = reviewer.estimate(evalset.items, policy)
            cost = "unknown (no price for this model)" if e["max_cost_usd"] is None else f"at most ${e['max_cost_usd']:.4f}"
            if e["max_cost_usd"]:  # a local model has no batch API
                cost += f" online, ${e['max_cost_usd_batch']:.4f} batch"
            print(f"  {config.name:<16} {policy.label:<18} {e['to_send']} calls to send ({e['cached']} cached), "
                  f"{e['prompt_tokens']:,} prompt tokens, up to {e['max_completion_tokens']:,} completion tokens, {cost}")
    return 0


def _score(args: argparse.Namespace) -> int:
    import datetime as dt

    from harness.pipeline.finish import finish
    from harness.pipeline.score import score_file

    record = score_file(args.file, gold=args.gold, preds=args.pred, benign=args.benign, slices=args.slices,
                        id_column=args.id_column, text_column=args.text_column, weight=args.weight_column,
                        strata=args.strata_column)
    from harness._util.safe_names import child_path

    out = Path(args.out) if args.out else child_path("reports", f"score-{record.name}", suffix=f"-{dt.datetime.now():%Y%m%d-%H%M%S}")
    finish(record, out, track=not args.no_track, report=True)
    print(summary(record))
    return 0


def _compare(args: argparse.Namespace) -> int:
    import datetime as dt

    from harness.pipeline.compare import compare, write_comparison
    from harness.reporting.compare import change_text, coverage_warnings
    from harness.tracking.comparison import log_comparison

    result = compare(args.a, args.b)
    out = Path(args.out) if args.out else Path("reports") / f"compare-{dt.datetime.now():%Y%m%d-%H%M%S}"
    write_comparison(result, out)
    print(f"{result.a.label} -> {result.b.label}")
    for note in coverage_warnings(result):
        print(f"  note: {note}")
    for reviewer, r in result.reviewers.items():
        print(f"  {reviewer}: over-enforcement {change_text(r.over_enforcement_change)}")
        print(f"  {reviewer}: leakage {change_text(r.leakage_change)}")
        print(f"  {reviewer}: {len(r.flips)} flipped verdicts, fixed {r.fixed.total}, broken {r.broken.total}")
    print(f"  compare.json: {out / 'compare.json'}")
    print(f"  compare.html: {out / 'compare.html'}")
    if not args.no_track and (run_id := log_comparison(result, out)):
        print(f"  mlflow run: {run_id}")
    return 0


def _runs(args: argparse.Namespace) -> int:
    from harness.tracking.runs import list_gradings, list_runs

    if args.proficiency:
        gradings = list_gradings(policy=args.policy, version=args.version, reviewer=args.reviewer, limit=args.limit)
        if not gradings:
            print("no proficiency gradings found")
        for g in gradings:
            print(f"{g.run_id}  {g.started}  {g.policy:<18} {g.reviewer:<16} accuracy {_fmt(g.accuracy)} "
                  f"[{_fmt(g.accuracy_ci_low)}, {_fmt(g.accuracy_ci_high)}]  {g.status}")
        return 0
    runs = list_runs(policy=args.policy, version=args.version, reviewer=args.reviewer, limit=args.limit)
    if not runs:
        print("no policy-harness runs found")
    for r in runs:
        m = r["metrics"]
        oe, lk = m.get("over_enforcement"), m.get("leakage")
        print(f"{r['run_id']}  {r['started']}  {r['policy']:<18} {r['role']:<9} {r['reviewer']:<14} {r['eval_set']:<14} "
              f"over-enforcement {_fmt(oe)} [{_fmt(m.get('over_enforcement_ci_low'))}, {_fmt(m.get('over_enforcement_ci_high'))}]  "
              f"leakage {_fmt(lk)} [{_fmt(m.get('leakage_ci_low'))}, {_fmt(m.get('leakage_ci_high'))}]")
    return 0


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _sync(args: argparse.Namespace) -> int:
    from harness.tracking.runs import sync_dir

    for raw in args.run_dirs:
        record = sync_dir(Path(raw))
        print(f"synced {raw}: parent run {record.mlflow.parent_run_id}")
    return 0


def _rescore(args: argparse.Namespace) -> int:
    from harness.pipeline.rescore import rescore

    record = rescore(Path(args.run_dir), experiment_path=args.experiment,
                     out_dir=Path(args.out) if args.out else None, track=not args.no_track)
    print(summary(record))
    return 0


def _generate(args: argparse.Namespace) -> int:
    from harness.evalset.generate import generate, load_suite, write_items

    table = generate(load_suite(args.templates))
    out = write_items(table, args.out)
    labels = ", ".join(f"{label}: {n}" for label, n in table["label"].value_counts().sort_index().items())
    print(f"wrote {len(table)} items ({table['functionality'].nunique()} functionalities, "
          f"{table.loc[table['target'] != 'none', 'target'].nunique()} targets; {labels}) to {out}")
    return 0


def _plan(args: argparse.Namespace) -> int:
    from harness.metrics.planning import paired_text, plan_paired, plan_rate, rate_text

    if args.paired:
        if args.p_discordant is None or args.change is None:
            raise HarnessError("plan --paired needs --p-discordant and --change (e.g. --p-discordant 0.1 --change 0.03).")
        print(paired_text(plan_paired(args.p_discordant, args.change, args.power, args.alpha)))
        return 0
    if args.rate is None or args.margin is None:
        raise HarnessError("plan needs --rate and --margin (e.g. --rate 0.05 --margin 0.02), or --paired.")
    if args.slices < 1:
        raise HarnessError(f"--slices must be a whole number of at least 1. Got {args.slices} instead.")
    print(rate_text(plan_rate(args.rate, args.margin, args.slices, args.alpha)))
    return 0


def _report(args: argparse.Namespace) -> int:
    from harness.record import read_record
    from harness.reporting import write_reports

    record = read_record(args.run_dir)
    print(f"report: {write_reports(record, Path(args.run_dir))}")
    return 0


# --- the policy development loop: lint, diagnose ----------------------------------------------

def _add_policy_loop_commands(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("lint", help="static findings on a policy draft (POLICY.md:LINE: CODE message)")
    p.add_argument("policies", nargs="+", help="policy .md files")
    p.add_argument("--strict", action="store_true", help="exit 1 on warnings too (for CI)")
    p.set_defaults(func=_lint)

    p = sub.add_parser("diagnose", help="failure clusters of a stored run: by rule, by slice, by text similarity")
    p.add_argument("run_dir", help="directory written by 'run'")
    p.add_argument("--out", help="where to write diagnosis.json (default: RUN_DIR/diagnosis.json)")
    p.add_argument("--experiment", help="experiment YAML whose 'author' section describes the largest clusters")
    p.set_defaults(func=_diagnose)


def _print_lint_summaries(experiment: "Experiment") -> None:
    from harness.policy.lint import lint_summary

    for policy in filter(None, (experiment.policy, experiment.baseline)):
        path = experiment.resolve(policy)
        if Path(path).is_file():  # a missing file is reported by the run itself
            print(lint_summary(path), flush=True)


def _lint(args: argparse.Namespace) -> int:
    from harness.policy.lint import lint_file

    status = 0
    for raw in args.policies:
        args.source_file = raw
        result = lint_file(raw)
        for finding in result.findings:
            print(finding)
        print(result.summary())
        status = max(status, result.exit_code(strict=args.strict))
    return status


def _diagnose(args: argparse.Namespace) -> int:
    from harness.loop.diagnose import diagnose_dir, diagnosis_text

    author = None
    if args.experiment:
        from harness.config import load_experiment

        args.source_file = args.experiment
        author = load_experiment(args.experiment).author
        if author is None:
            raise HarnessError("has no 'author' section; add one (model, api_base, describe_clusters) to have "
                               "diagnose describe the clusters.", path=args.experiment)
        args.source_file = None  # what follows reads the run directory, which its own errors name
    diagnosis, path = diagnose_dir(Path(args.run_dir), out=Path(args.out) if args.out else None, author=author)
    print(diagnosis_text(diagnosis))
    print(f"  diagnosis.json: {path}")
    return 0


# --- the policy loop: revise (author model, held-out acceptance) and promote -----------------

def _add_revise_commands(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("revise", help="an author model proposes revisions; accept only what the held-out split proves")
    p.add_argument("experiment", help="experiment YAML file with an 'author:' section")
    p.add_argument("--out", help="output directory (default: reports/<name>-revise-<time>)")
    p.add_argument("--no-track", action="store_true", help="do not register accepted candidates in MLflow")
    p.set_defaults(func=_revise)

    p = sub.add_parser("promote", help="copy an accepted candidate to v<N+1>.md beside the current policy")
    p.add_argument("candidate", help="a file under OUT/candidates/ written by revise")
    p.add_argument("--by", help="who approves it (default: git config user.name)")
    p.add_argument("--force", action="store_true", help="promote a candidate revise did not accept")
    p.add_argument("--no-track", action="store_true", help="do not tag the registry version status=approved")
    p.set_defaults(func=_promote)


def _revise(args: argparse.Namespace) -> int:
    from harness.config import load_experiment
    from harness.loop.revise import revise

    args.source_file = args.experiment
    experiment = load_experiment(args.experiment)
    result = revise(experiment, out_dir=args.out, track=not args.no_track)
    print(f"{result.experiment}: {len(result.candidates)} candidates for {result.policy}, target {result.target}; "
          f"{len(result.split.dev)} dev / {len(result.split.holdout)} held-out items")
    for candidate in result.candidates:
        print(f"  candidate {candidate.index} ({candidate.file or 'no file'}): {candidate.why}")
    print(f"  revise.json: {Path(result.out_dir) / 'revise.json'}")
    print(f"  revise.html: {Path(result.out_dir) / 'revise.html'}")
    return 0


def _promote(args: argparse.Namespace) -> int:
    from harness.loop.promote import promote

    args.source_file = args.candidate
    done = promote(Path(args.candidate), by=args.by, force=args.force, track=not args.no_track)
    forced = " (forced: revise did not accept it)" if done.forced else ""
    print(f"promoted {done.source} -> {done.target}, approved by {done.by} at {done.at}{forced}")
    if done.renumbered_from is not None:
        print(f"  version set to {done.version} (the candidate declared {done.renumbered_from}; recorded as "
              "renumbered_from)")
    if done.registry_uri:
        print(f"  registry: {done.registry_uri} tagged status=approved")
    return 0


# --- the team's own workspace: init ---------------------------------------------------------

def _add_workspace_commands(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("init", help="write a starter workspace (policy, labelled eval set, experiment, README)")
    p.add_argument("dir", help="a new or empty folder")
    p.set_defaults(func=_init)


def _init(args: argparse.Namespace) -> int:
    from harness.workspace import EXPERIMENT_FILE, init_workspace

    target = Path(args.dir)
    written = init_workspace(target)
    print(f"wrote {len(written)} files to {target}:")
    for path in written:
        print(f"  {path.relative_to(target)}")
    experiment = target / EXPERIMENT_FILE
    print(f"next: policy-harness validate {experiment}\n      policy-harness run {experiment}")
    return 0


# --- the record's published schema: schema metrics | record | compare -----------------------

def _add_schema_commands(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("schema", help="print the JSON Schema of metrics.json, record.json or compare.json")
    p.add_argument("file", choices=["metrics", "record", "compare"],
                   help="metrics (metrics.json), record (record.json) or compare (compare.json)")
    p.set_defaults(func=_schema)


def _schema(args: argparse.Namespace) -> int:
    import json

    from harness.record import json_schema

    print(json.dumps(json_schema(args.file), indent=2, ensure_ascii=False))
    return 0


# --- reviewer training: quiz, proficiency -------------------------------------------------------

def _add_training_commands(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("quiz", help="a certification quiz from an experiment's eval set (questions, answer key)")
    p.add_argument("experiment", help="experiment YAML file (its policy and eval set)")
    p.add_argument("--items", type=int, required=True, help="number of quiz items")
    p.add_argument("--out", required=True, help="folder for questions.csv, answer_key.csv and quiz.json")
    p.add_argument("--min-per-slice", type=int, default=3,
                   help="items per gold label and per slice value, where the set has them (default 3)")
    p.add_argument("--seed", type=int, help="random seed (default: the experiment's seed)")
    p.add_argument("--from", dest="from_run", help="a run directory: weight towards items its reviewers got wrong or split on")
    p.add_argument("--show", action="append", default=[], help="slice column to show reviewers in questions.csv (repeat)")
    p.set_defaults(func=_quiz)

    p = sub.add_parser("proficiency", help="grade a cohort's quiz answers: accuracy, certification, weaknesses")
    p.add_argument("answers", nargs="?", help="answers file: reviewer,id,decision rows (or --wide)")
    p.add_argument("--key", required=True, help="the quiz's answer_key.csv (quiz.json must sit beside it)")
    p.add_argument("--out", required=True, help="folder for proficiency.json, grades.csv, graded.csv, report.html")
    p.add_argument("--wide", action="store_true", help="answers have an id column and one column per reviewer")
    p.add_argument("--from-run", action="append", default=[], dest="from_runs",
                   help="also grade the reviewers of a stored run (e.g. an LLM) on the quiz items (repeat)")
    p.add_argument("--pass", type=float, default=0.9, dest="pass_mark", help="accuracy needed to certify (default 0.9)")
    p.add_argument("--max-skip", type=float, default=0.1, help="flag reviewers who skipped more than this share (default 0.1)")
    p.add_argument("--no-track", action="store_true", help="do not log to MLflow")
    p.set_defaults(func=_proficiency)


def _quiz(args: argparse.Namespace) -> int:
    from harness.config import load_experiment
    from harness.training import build_quiz, write_quiz
    from harness.training.quiz import quiz_text

    args.source_file = args.experiment
    quiz = build_quiz(load_experiment(args.experiment), args.items, seed=args.seed, min_per_slice=args.min_per_slice,
                      from_run=args.from_run, show=args.show, source=args.experiment)
    out = write_quiz(quiz, args.out)
    print(quiz_text(quiz, out))
    return 0


def _proficiency(args: argparse.Namespace) -> int:
    from harness.training import grade_files
    from harness.training.grading import proficiency_text

    data = grade_files(args.answers, args.key, args.out, wide=args.wide, from_runs=args.from_runs,
                       pass_mark=args.pass_mark, max_skip=args.max_skip, track=not args.no_track)
    print(proficiency_text(data, Path(args.out)))
    return 0


def summary(record: "RunRecord") -> str:
    from harness.reporting.fmt import pct

    r, metrics = record, record.metrics
    lines = [f"{r.name}: {r.evalset.items} items from {r.evalset.name}"]
    sections = [(r.candidate, metrics.reviewers)]
    if metrics.baseline:
        sections.append((metrics.baseline.policy, metrics.baseline.reviewers))
    for policy, reviewers in sections:
        for name, m in reviewers.items():
            lines.append(f"  {policy:<20} {name:<16} over-enforcement {pct(m.over_enforcement)}  "
                         f"leakage {pct(m.leakage)}  abstained {m.abstained}"
                         + ("  (independent of the policy text: the same for both versions)"
                            if r.judged_once(name) else ""))
    for name, m in metrics.reviewers.items():
        for gate in m.gates:
            lines.append(f"  gate {gate.gate} ({name}, {gate.scope}): {gate.status}")
    for name, inj in (metrics.injection or {}).items():
        if inj.items:
            lines.append(f"  prompt injection ({name}, {inj.items} violating items x {len(inj.attacks)} attacks): "
                         f"leakage {pct(inj.leakage_clean)} clean -> {pct(inj.leakage_injected)} injected")
    if r.incomplete:
        lines.append(f"  INCOMPLETE: {r.incomplete_reason}")
    if r.mlflow.parent_run_id:
        lines.append(f"  mlflow: {r.mlflow.tracking_uri} parent run {r.mlflow.parent_run_id}"
                     + ("" if r.mlflow.synced else f" (not synced: run 'policy-harness sync {r.out_dir}')"))
        for key, rid in r.mlflow.runs.items():
            lines.append(f"    run {rid}  {key.replace('|', ' · ')}")
    lines.append(f"  outputs: {r.out_dir}")
    lines.append(f"  report: {Path(r.out_dir) / 'report.html'}")
    return "\n".join(lines)


# --- the portfolio: every policy, version and language on one page ------------------------------

def _add_portfolio_commands(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("portfolio", help="launch readiness, time to deploy, languages and training across all policies")
    p.add_argument("--out", required=True, help="folder for portfolio.html and portfolio.json")
    p.add_argument("--from", dest="from_dirs", nargs="+", metavar="DIR",
                   help="run directories (or folders holding them) instead of the MLflow store")
    p.set_defaults(func=_portfolio)


def _portfolio(args: argparse.Namespace) -> int:
    from harness.portfolio import collect, write_portfolio
    from harness.portfolio.page import portfolio_text

    portfolio = collect([Path(d) for d in args.from_dirs] if args.from_dirs else None)
    html, data = write_portfolio(portfolio, Path(args.out))
    print(portfolio_text(portfolio, html, data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
