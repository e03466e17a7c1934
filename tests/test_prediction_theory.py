"""Theory of test-set prediction error (lossstudy.theory.prediction) against the simulation:
the exact test MSE of linear estimators within 4 MCSE, the exponential-error gaps of LAD and
OLS at large n within 4 MCSE, and the limits themselves."""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate

from lossstudy import theory
from lossstudy.config import BUILTIN_DEFAULTS, deep_merge
from lossstudy.pipeline import simulate_and_fit_chunk
from lossstudy.theory.prediction import EXP_MAE_GAP, EXP_MSE_GAP

SEED = 5
Z_MAX = 4.0

LINEAR = {
    "ols": {"method": "ols", "se": "classical"},
    "ols_hc3": {"method": "ols", "se": "hc3"},
    "ridge": {"method": "ridge", "penalty": 20.0},
    "wls": {"method": "wls", "strength": 1.0, "predictor": 1},
    "lad": {"method": "lad"},
}


def run(tmp_path, sid: str, knobs: dict, estimators: dict, R: int, rows: int | None = None):
    """Simulate, fit and score one scenario; its theory rows on the term model."""
    simulate_and_fit_chunk(
        knobs,
        SEED,
        sid,
        0,
        R,
        estimators,
        0.95,
        "vectorized",
        tmp_path / f"{sid}.npz",
        tmp_path / f"{sid}.parquet",
        test_rows=rows,
    )
    est = pd.read_parquet(tmp_path / f"{sid}.parquet")
    checks, skipped = theory.scenario_checks(sid, knobs, SEED, estimators, 0.95)
    terms = [f"x{j}" if j else "intercept" for j in range(len(knobs["coefficients"]))]
    table = theory.compare(sid, checks, est, None, terms)
    return table[table["term"] == "model"].reset_index(drop=True), skipped


def knobs(**changes) -> dict:
    return deep_merge(copy.deepcopy(BUILTIN_DEFAULTS), changes)


@pytest.mark.parametrize(
    "changes",
    [
        {"n": 20, "errors": {"distribution": "normal", "scale": 2.0}},
        {"n": 25, "errors": {"distribution": "laplace", "scale": 1.0}, "prior": {"tau": 1.0}},
        {
            "n": 15,
            "coefficients": [0.5, 1.0, -1.0],
            "design": {"correlation": 0.7, "autocorrelation": 0.5},
            "errors": {"distribution": "t", "df": 5, "scale": 1.0},
        },
    ],
    ids=["normal", "laplace_prior", "t5_correlated_ar_rows"],
)
def test_exact_test_mse_of_linear_estimators_is_reproduced(tmp_path, changes):
    k = knobs(**changes)
    table, _ = run(tmp_path, "exact", k, LINEAR, 800)
    exact = table[table["quantity"] == "test_mse"]
    # one row per set of equal point estimates among the linear ones (ols_hc3 is ols's twin)
    assert sorted(exact["estimator"]) == ["ols", "ridge", "wls"]
    assert (exact["kind"] == "exact").all() and (exact["n_used"] == 800).all()
    assert (exact["z"].abs() < Z_MAX).all(), exact[
        ["estimator", "simulated", "mcse", "theoretical", "z"]
    ]
    # the check has power: the excess over σ² is many MCSEs for every estimator
    sigma2 = {"normal": 4.0, "laplace": 2.0, "t": 5 / 3}[k["errors"]["distribution"]]
    assert ((exact["theoretical"] - sigma2) / exact["mcse"] > 5).all()


def test_ridge_test_mse_has_its_bias_term(tmp_path):
    """A heavy penalty: the squared-bias term dominates, and the theory still matches."""
    k = knobs(n=20)
    table, _ = run(tmp_path, "ridge", k, {"ridge": {"method": "ridge", "penalty": 200.0}}, 300)
    row = table.iloc[0]
    assert row["theoretical"] > 1.0 + 0.5 * sum(b * b for b in k["coefficients"][1:])
    assert abs(row["z"]) < Z_MAX


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"heteroskedasticity": {"strength": 1.0, "predictor": 1}}, "heteroskedastic"),
        ({"autocorrelation": {"phi": 0.3}}, "autocorrelated"),
        ({"endogeneity": {"correlation": 0.3, "predictor": 1}}, "correlated with a predictor"),
        ({"misspecification": {"strength": 0.3, "predictor": 1, "form": "cubic"}}, "not linear"),
        ({"errors": {"distribution": "cauchy", "scale": 1.0}}, "no finite variance"),
    ],
)
def test_no_exact_row_where_the_premises_fail(changes, reason):
    checks, skipped = theory.scenario_checks("s", knobs(**changes), SEED, LINEAR, 0.95)
    assert not [c for c in checks if c.quantity == "test_mse"]
    why = [s["reason"] for s in skipped if s["check"] == "exact test MSE"]
    assert why and all(reason in w for w in why)


def test_the_exponential_limits():
    """(1 − ln 2)² and 2/e − ln 2 from the law itself: E|e − c| and the median by quadrature."""
    assert pytest.approx(0.0942, abs=5e-5) == EXP_MSE_GAP
    # 0.04261: the "0.0427" is a rounding slip (2/e = 0.735759, ln 2 = 0.693147)
    assert pytest.approx(0.04261, abs=5e-6) == EXP_MAE_GAP

    def mae(c: float) -> float:  # e = E − 1, E ~ Exp(1); split at the kink t = 1 + c
        def f(t: float) -> float:
            return abs(t - 1.0 - c) * math.exp(-t)

        return integrate.quad(f, 0, 1 + c)[0] + integrate.quad(f, 1 + c, np.inf)[0]

    median = math.log(2.0) - 1.0
    assert mae(0.0) - mae(median) == pytest.approx(EXP_MAE_GAP, rel=1e-8)
    # the median minimises the MAE, the mean (0) the MSE: Var + offset²
    assert mae(median) < min(mae(median - 0.01), mae(median + 0.01))
    assert median**2 == pytest.approx(EXP_MSE_GAP, rel=1e-12)


def test_exponential_errors_lad_pays_in_test_mse_and_ols_in_test_mae(tmp_path):
    k = knobs(n=1000, errors={"distribution": "exponential", "scale": 2.0})
    specs = {"ols": LINEAR["ols"], "lad": LINEAR["lad"]}
    table, _ = run(tmp_path, "expo", k, specs, 100, rows=4000)
    mse = table[table["quantity"] == "test_mse_excess"].iloc[0]
    mae = table[table["quantity"] == "test_mae_excess"].iloc[0]
    assert (mse["estimator"], mse["versus"], mae["estimator"], mae["versus"]) == (
        "lad",
        "ols",
        "ols",
        "lad",
    )
    assert mse["theoretical"] == pytest.approx(4.0 * EXP_MSE_GAP)
    for row in (mse, mae):
        assert row["kind"] == "asymptotic"
        assert abs(row["z"]) < Z_MAX, row.to_dict()
        # power: the gap is far from 0 in MCSE units, and the MCSE is a small share of it
        assert row["simulated"] / row["mcse"] > 20
