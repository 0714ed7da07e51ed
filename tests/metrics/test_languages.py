"""Localization view: per-language rates, each language tested against the rest, Holm-adjusted."""

from __future__ import annotations

import pandas as pd
import pytest
from scipy.stats import fisher_exact
from support.models import plain

from harness.metrics.languages import language_column, language_rates


def frame() -> pd.DataFrame:
    """Three languages; 'fr' over-enforces on benign items far more than the others."""
    rows = []
    for lang, benign_actioned in (("en", 2), ("de", 3), ("fr", 30)):
        rows += [(lang, "benign", "actioned")] * benign_actioned + [(lang, "benign", "allowed")] * (40 - benign_actioned)
        rows += [(lang, "HS", "actioned")] * 36 + [(lang, "HS", "allowed")] * 4
        rows += [(lang, "HS", "abstained")] * 2 + [(lang, "unknown", "actioned")] * 3
    return pd.DataFrame(rows, columns=["language", "gold", "decision"])


def test_language_slice_is_detected_by_name() -> None:
    assert language_column(["functionality", "language"]) == "language"
    assert language_column(["locale"]) == "locale" and language_column(["text_lang"]) == "text_lang"
    assert language_column(["functionality", "slang_level"]) is None


def test_outlier_language_is_flagged_with_holm_adjusted_fisher_test() -> None:
    out = plain(language_rates(frame(), ["language"]))
    assert out["column"] == "language" and set(out["by_language"]) == {"de", "en", "fr"}
    fr = out["by_language"]["fr"]
    assert (fr["over_enforcement"]["k"], fr["over_enforcement"]["n"]) == (30, 40)
    assert (fr["leakage"]["k"], fr["leakage"]["n"]) == (4, 40)  # abstentions and unknown gold left out
    test = fr["over_enforcement_vs_rest"]
    assert (test["rest"]["k"], test["rest"]["n"]) == (5, 80)
    assert test["p"] == pytest.approx(fisher_exact([[30, 10], [5, 75]])[1])
    # Holm: the smallest of three p-values is multiplied by 3
    assert test["p_holm"] == pytest.approx(min(1.0, 3 * test["p"]))
    assert test["flag"] == "higher"
    assert out["by_language"]["en"]["over_enforcement_vs_rest"]["flag"] == "lower"
    assert out["by_language"]["en"]["leakage_vs_rest"]["flag"] is None  # same leakage everywhere
    assert out["flagged"][0] == {"language": "fr", "metric": "over_enforcement", "direction": "higher",
                                 "rate": 0.75, "rest_rate": 5 / 80, "p_holm": test["p_holm"]}
    assert all(f["metric"] == "over_enforcement" for f in out["flagged"])


def test_no_view_without_two_languages() -> None:
    assert plain(language_rates(frame(), ["functionality"])) is None
    assert plain(language_rates(frame()[frame()["language"] == "en"], ["language"])) is None
