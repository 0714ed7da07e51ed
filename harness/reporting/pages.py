"""The one Jinja environment every HTML page renders in: the launch report, compare, revise, the
proficiency page and the portfolio, all templates in reporting/templates, all escaped (autoescape)
under the same script-free Content Security Policy."""

from __future__ import annotations

from functools import lru_cache

import jinja2

from harness.record import Rate
from harness.reporting.fmt import RateCell

# No script may run: the pages show untrusted eval content and model output. The content-warning
# toggle is a CSS checkbox, so the policy can forbid scripts outright.
CSP = ("default-src 'none'; script-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src 'none'; "
       "connect-src 'none'; frame-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'")


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The shared environment: StrictUndefined, so a renamed field fails the render instead of vanishing."""
    env = jinja2.Environment(loader=jinja2.PackageLoader("harness.reporting", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["bar"] = bar_style
    env.filters["rate"] = rate_text
    env.filters["pct"] = percent_or_dash
    return env


def render(template: str, **context: object) -> str:
    """One page: `template` rendered with `context` and the CSP (as `csp`)."""
    return environment().get_template(template).render(csp=CSP, **context)


def compile_templates() -> None:
    """Parse and compile every template now (Jinja keeps them), so the first render only renders."""
    env = environment()
    for name in env.list_templates(extensions=["j2"]):
        env.get_template(name)


def bar_style(cell: RateCell) -> dict[str, str]:
    """Positions (in %) of the interval band and the point of a rate bar; only numbers reach the CSS."""
    if cell.value is None:
        return {}
    low = cell.low if cell.low is not None else cell.value
    high = cell.high if cell.high is not None else cell.value
    return {"band": f"left:{low * 100:.1f}%;width:{max(0.0, high - low) * 100:.1f}%",
            "dot": f"left:{cell.value * 100:.1f}%"}


def rate_text(rate: Rate) -> str:
    """'12.5% [8.1%, 18.0%]', or 'no data'."""
    if rate.rate is None or rate.ci_low is None or rate.ci_high is None:
        return "no data" if rate.rate is None else f"{rate.rate:.1%}"
    return f"{rate.rate:.1%} [{rate.ci_low:.1%}, {rate.ci_high:.1%}]"


def percent_or_dash(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"
