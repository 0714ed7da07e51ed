"""Reviewer training: quiz, proficiency."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from harness._cli.args import add_command, add_no_track, add_out

if TYPE_CHECKING:
    from harness._cli.args import Subparsers


def add_quiz(sub: Subparsers) -> None:
    p = add_command(sub, "quiz", _quiz, "a certification quiz from an experiment's eval set (questions, answer key)")
    p.add_argument("experiment", help="experiment YAML file (its policy and eval set)")
    p.add_argument("--items", type=int, required=True, help="number of quiz items")
    add_out(p, "folder for questions.csv, answer_key.csv and quiz.json", required=True)
    p.add_argument("--min-per-slice", type=int, default=3,
                   help="items per gold label and per slice value, where the set has them (default 3)")
    p.add_argument("--seed", type=int, help="random seed (default: the experiment's seed)")
    p.add_argument("--from", dest="from_run",
                   help="a run directory: weight towards items its reviewers got wrong or split on")
    p.add_argument("--show", action="append", default=[],
                   help="slice column to show reviewers in questions.csv (repeat)")
    _add_labels(p, "the team's answer words, kept in quiz.json's labels for grading")


def add_proficiency(sub: Subparsers) -> None:
    p = add_command(sub, "proficiency", _proficiency,
                    "grade a cohort's quiz answers: accuracy, certification, weaknesses")
    p.add_argument("answers", nargs="?", help="answers file: reviewer,id,decision rows (or --wide)")
    p.add_argument("--key", required=True, help="the quiz's answer_key.csv (quiz.json must sit beside it)")
    add_out(p, "folder for proficiency.json, grades.csv, graded.csv, report.html", required=True)
    p.add_argument("--wide", action="store_true", help="answers have an id column and one column per reviewer")
    p.add_argument("--from-run", action="append", default=[], dest="from_runs",
                   help="also grade the reviewers of a stored run (e.g. an LLM) on the quiz items (repeat)")
    p.add_argument("--pass", type=float, default=0.9, dest="pass_mark",
                   help="accuracy needed to certify (default 0.9)")
    p.add_argument("--max-skip", type=float, default=0.1,
                   help="flag reviewers who skipped more than this share (default 0.1)")
    _add_labels(p, "the team's answer words (over quiz.json's labels)")
    add_no_track(p)


def _add_labels(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--labels", action="append", metavar="WORD=LABEL,...",
                   help=f"{what}: each mapped to benign, violating or skip, e.g. keep=benign,remove=violating")


def _quiz(args: argparse.Namespace) -> int:
    from harness.config import load_experiment
    from harness.training import build_quiz, write_quiz
    from harness.training.quiz import quiz_text
    from harness.training.vocabulary import parse_labels

    labels = parse_labels(args.labels)
    args.source_file = args.experiment
    quiz = build_quiz(load_experiment(args.experiment), args.items, seed=args.seed, min_per_slice=args.min_per_slice,
                      from_run=args.from_run, show=args.show, source=args.experiment, labels=labels)
    out = write_quiz(quiz, args.out)
    print(quiz_text(quiz, out))
    return 0


def _proficiency(args: argparse.Namespace) -> int:
    from harness.training import grade_files
    from harness.training.grading import proficiency_text
    from harness.training.vocabulary import parse_labels

    data = grade_files(args.answers, args.key, args.out, wide=args.wide, from_runs=args.from_runs,
                       pass_mark=args.pass_mark, max_skip=args.max_skip, track=not args.no_track,
                       labels=parse_labels(args.labels))
    print(proficiency_text(data, Path(args.out)))
    return 0
