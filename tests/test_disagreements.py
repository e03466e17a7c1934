"""Crossings and optima whose interval misses their exact theory are said in words in the
report (``report.sweeps_section.disagreements``), and only those."""

from __future__ import annotations

import pandas as pd

from lossstudy.report.sweeps_section import _exact_count, disagreements


def test_only_disagreeing_rows_are_worded_with_their_numbers():
    cross = pd.DataFrame(
        {
            "scenario": ["nonlinear", "heavy_tails"],
            "knob": ["misspecification.strength", "errors.df"],
            "fixed": ["n=25", "n=400"],
            "estimator": ["ridge", "lad"],
            "versus": ["ols", "ols"],
            "measure": ["rel_mse", "rel_mse"],
            "crossing": [0.10508, 4.8],
            "ci_low": [0.10489, 4.49],
            "ci_high": [0.10529, 5.32],
            "theory": [0.10532, 4.68],
            "agreement": ["disagrees", "finite-n"],
        }
    )
    opt = pd.DataFrame(
        {
            "cell": ["collinear-correlation0.99-n25", "gaussian_prior-n400"],
            "estimator": ["ridge", "ridge"],
            "parameter": ["penalty", "penalty"],
            "argmin": [30.0, 10.3],
            "ci_low": [25.0, 7.6],
            "ci_high": [40.0, 13.1],
            "theory": [12.0, 10.0],
            "agreement": ["disagrees", "covered"],
        }
    )
    text = disagreements(cross, opt)
    assert len(text) == 2
    assert "0.1051 (95% interval 0.1049–0.1053) disagrees with exact theory 0.1053" in text[0]
    assert "collinear-correlation0.99-n25: 30 (95% interval 25–40)" in text[1]
    assert "12" in text[1]
    # asymptotic theory is a limit, not a disagreement; covered rows are counted, not worded
    assert _exact_count(cross) + _exact_count(opt) == 3
    assert disagreements(cross.drop(columns="agreement"), opt.iloc[1:]) == []
