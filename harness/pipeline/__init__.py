"""The commands that produce run records: run, finish, score, rescore, compare, validate."""
