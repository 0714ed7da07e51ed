"""Reviewer training: certification quizzes from eval sets, and a cohort's proficiency graded against them."""

from harness.record.proficiency import Proficiency, QuizInfo, ReviewerGrade
from harness.training.answers import answer_table, answers_from_run, read_answers, read_key
from harness.training.grading import grade_files
from harness.training.proficiency import certify, grade
from harness.training.quiz import Quiz, build_quiz, write_quiz

__all__ = ["Proficiency", "Quiz", "QuizInfo", "ReviewerGrade", "answer_table", "answers_from_run", "build_quiz",
           "certify", "grade", "grade_files", "read_answers", "read_key", "write_quiz"]
