"""The per-scenario LaTeX table is written without pandas' Styler, character for character as
``DataFrame.to_latex`` writes it (whose import cost a summary job more than the table)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from lossstudy.tables import LABELS, TABLE_MEASURES, _fmt, latex_table, wide_table


def pandas_latex(wide: pd.DataFrame, scenario: str) -> str:
    """The table as pandas writes it: the writer ``latex_table`` replaced."""
    measures = [m for m in TABLE_MEASURES if m in wide.columns]
    body = pd.DataFrame(
        {
            LABELS[m]: [
                _fmt(v, s, bool(d))
                for v, s, d in zip(wide[m], wide[f"{m}_mcse"], wide[f"{m}_defined"], strict=True)
            ]
            for m in measures
        },
        index=pd.MultiIndex.from_arrays(
            [wide["term"].astype(str), wide["estimator"].astype(str)], names=["Term", "Estimator"]
        ),
    )
    caption = (
        f"Scenario {scenario}: performance by estimator (Monte Carlo SE in parentheses). "
        "Values in brackets do not exist as population quantities (e.g. moments of a linear "
        "estimator under Cauchy errors) or rest on too few replicates; -- not available."
    )
    return body.to_latex(caption=caption, label=f"tab:{scenario}", escape=True, multirow=True)


def performance(terms: list[str], estimators: list[str], measures: list[str]) -> pd.DataFrame:
    """A tidy performance table with every kind of cell: defined, undefined, missing, large."""
    rows = []
    for i, term in enumerate(terms):
        for j, est in enumerate(estimators):
            for k, m in enumerate(measures):
                value = (-1) ** (i + j) * (0.1234 + 37.5 * k) * (1 + j)
                if (i + j + k) % 7 == 3:
                    value = math.nan
                rows.append(
                    {
                        "scenario": "s",
                        "estimator": est,
                        "term": term,
                        "measure": m,
                        "value": value,
                        "mcse": math.nan if k == 2 else 0.0123 * (1 + k),
                        "defined": (i + k) % 4 != 1,
                    }
                )
    return pd.DataFrame(rows)


CASES = {
    "study": (["intercept", "x1", "x2"], ["ols", "ols_hc3", "lad", "huber"], TABLE_MEASURES),
    "one estimator": (["intercept", "x1"], ["ols"], TABLE_MEASURES),
    "one term": (["intercept"], ["ols", "ridge-penalty10"], TABLE_MEASURES[:3]),
    "specials": (["x_1", "a&b"], ["e%1", "e$#{}~^ \\x", "f~ g^ h"], TABLE_MEASURES),
}


@pytest.mark.parametrize("case", CASES)
def test_latex_table_is_pandas_to_latex(case: str):
    terms, estimators, measures = CASES[case]
    wide = wide_table(performance(terms, estimators, list(measures)))
    for scenario in ("gm", "heavy_tails-df2.5-n25"):
        assert latex_table(wide, scenario) == pandas_latex(wide, scenario)
