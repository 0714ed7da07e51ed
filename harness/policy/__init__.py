"""Policies: parsing the Markdown format (parse.py) and static checks of a draft (lint.py)."""

from harness.policy.parse import RULE_ID, Category, Policy, Rule, load_policy, parse_policy

__all__ = ["RULE_ID", "Category", "Policy", "Rule", "load_policy", "parse_policy"]
