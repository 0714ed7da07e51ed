"""The portfolio view: every policy, version and language on one page, with launch readiness, time to
deploy, training coverage and per-language accuracy."""

from harness.portfolio.collect import build, collect
from harness.portfolio.page import render, write_portfolio
from harness.record.portfolio import Portfolio

__all__ = ["Portfolio", "build", "collect", "render", "write_portfolio"]
