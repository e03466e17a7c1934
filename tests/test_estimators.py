"""Tests for lossstudy.estimators: each estimator equals an independent reference on fixed data.

References are computed here from the textbook formulas (numpy), from an independent primal LP
for L1, and from statsmodels where the study delegates to it on purpose. Failure isolation:
a broken replicate or a raising estimator becomes a status, never an exception.
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pytest
from scipy import stats
from scipy.optimize import linprog
from statsmodels.regression.linear_model import OLS
from statsmodels.regression.quantile_regression import QuantReg
from statsmodels.robust.norms import HuberT
from statsmodels.robust.robust_linear_model import RLM

from lossstudy import estimators, methods
from lossstudy.dgp import Dataset
from lossstudy.estimators import (
    FAILED,
    NOT_CONVERGED,
    OK,
    fit_dataset,
    fit_one,
    lad_lp,
    quantreg_kernel_cov,
    ridge_closed_form,
)

LEVEL = 0.90  # not 0.95, so that a hard-coded 1.96 or 0.975 would show


def make_xy(
    n: int, p: int, errors: str = "normal", seed: int = 0, het: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Intercept plus p − 1 standard-normal predictors; β = (3, 1, …, −1)."""
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.standard_normal((n, p - 1))])
    beta = np.r_[3.0, np.linspace(1.0, -1.0, p - 1)]
    draw = {
        "normal": lambda: rng.standard_normal(n),
        "t2": lambda: rng.standard_t(2, n),
        "t3": lambda: rng.standard_t(3, n),
        "laplace": lambda: rng.laplace(0.0, 1.0, n),
        "cauchy": lambda: rng.standard_cauchy(n),
    }[errors]
    e = draw()
    if het:
        e = e * np.sqrt(1.0 + 2.0 * X[:, 1] ** 2)
    return X, X @ beta + e


def crit_t(level: float, df: int) -> float:
    return float(stats.t.ppf(0.5 + level / 2, df))


# --------------------------------------------------------------------------- OLS


def test_ols_classical_matches_textbook_formulas():
    n, p = 60, 4
    X, y = make_xy(n, p, seed=1)
    est, se, lo, hi, status, msg = fit_one(X, y, {"method": "ols", "se": "classical"}, LEVEL)
    assert (status, msg) == (OK, "")
    b, *_ = np.linalg.lstsq(X, y, rcond=None)
    np.testing.assert_allclose(est, b, rtol=1e-10, atol=1e-12)
    r = y - X @ b
    s2 = r @ r / (n - p)
    np.testing.assert_allclose(se, np.sqrt(np.diag(s2 * np.linalg.inv(X.T @ X))), rtol=1e-10)
    c = crit_t(LEVEL, n - p)
    np.testing.assert_allclose(lo, b - c * se, rtol=1e-10)
    np.testing.assert_allclose(hi, b + c * se, rtol=1e-10)


def test_wls_matches_weighted_normal_equations():
    """statsmodels WLS with w = 1/(1 + strength·x_j²): (X'WX)⁻¹X'Wy, σ̂² = Σ w r²/(n − p)."""
    n, p = 60, 4
    X, y = make_xy(n, p, seed=3, het=True)
    spec = {"method": "wls", "predictor": 1, "strength": 2.0}
    est, se, lo, hi, status, msg = fit_one(X, y, spec, LEVEL)
    assert (status, msg) == (OK, "")
    w = 1.0 / (1.0 + 2.0 * X[:, 1] ** 2)
    xtwx = X.T @ (w[:, None] * X)
    b = np.linalg.solve(xtwx, X.T @ (w * y))
    np.testing.assert_allclose(est, b, rtol=1e-10, atol=1e-12)
    r = y - X @ b
    s2 = (w * r) @ r / (n - p)
    np.testing.assert_allclose(se, np.sqrt(np.diag(s2 * np.linalg.inv(xtwx))), rtol=1e-10)
    c = crit_t(LEVEL, n - p)
    np.testing.assert_allclose(lo, b - c * se, rtol=1e-10)
    np.testing.assert_allclose(hi, b + c * se, rtol=1e-10)
    assert estimators.is_linear_in_y(spec)


def test_ols_hc3_matches_direct_formula():
    n, p = 50, 3
    X, y = make_xy(n, p, seed=2, het=True)
    est, se, lo, hi, status, _ = fit_one(X, y, {"method": "ols", "se": "hc3"}, LEVEL)
    assert status == OK
    xtx_inv = np.linalg.inv(X.T @ X)
    b = xtx_inv @ X.T @ y
    r = y - X @ b
    h = np.einsum("ij,jk,ik->i", X, xtx_inv, X)  # leverages h_ii
    u = r / (1.0 - h)
    cov = xtx_inv @ (X.T * u**2) @ X @ xtx_inv
    se_hc3 = np.sqrt(np.diag(cov))
    np.testing.assert_allclose(est, b, rtol=1e-10)
    np.testing.assert_allclose(se, se_hc3, rtol=1e-10)
    classical = fit_one(X, y, {"method": "ols", "se": "classical"}, LEVEL)[1]
    assert np.max(np.abs(se / classical - 1)) > 0.05  # the HC3 branch is really taken
    c = crit_t(LEVEL, n - p)
    np.testing.assert_allclose(lo, b - c * se_hc3, rtol=1e-10)
    np.testing.assert_allclose(hi, b + c * se_hc3, rtol=1e-10)


@pytest.mark.parametrize("se_type", ["hc0", "hc1", "hc2"])
def test_ols_hc0_hc1_hc2_match_direct_formulas(se_type: str) -> None:
    n, p = 40, 4
    X, y = make_xy(n, p, seed=5, het=True)
    est, se, lo, hi, status, msg = fit_one(X, y, {"method": "ols", "se": se_type}, LEVEL)
    assert status == OK and msg == ""
    xtx_inv = np.linalg.inv(X.T @ X)
    b = xtx_inv @ X.T @ y
    r = y - X @ b
    h = np.einsum("ij,jk,ik->i", X, xtx_inv, X)
    het = {"hc0": r**2, "hc1": n / (n - p) * r**2, "hc2": r**2 / (1.0 - h)}[se_type]
    se_ref = np.sqrt(np.diag(xtx_inv @ (X.T * het) @ X @ xtx_inv))
    np.testing.assert_allclose(est, b, rtol=1e-10)
    np.testing.assert_allclose(se, se_ref, rtol=1e-10)
    c = crit_t(LEVEL, n - p)  # t intervals with n − p df, as HC3
    np.testing.assert_allclose(lo, b - c * se_ref, rtol=1e-10)
    np.testing.assert_allclose(hi, b + c * se_ref, rtol=1e-10)


def newey_west_se(X: np.ndarray, y: np.ndarray, lags: int) -> np.ndarray:
    """Textbook Newey–West (1987): Bartlett weights 1 − l/(L + 1), times n/(n − p)."""
    n, p = X.shape
    xtx_inv = np.linalg.inv(X.T @ X)
    r = y - X @ (xtx_inv @ X.T @ y)
    g = X * r[:, None]  # scores x_t u_t
    S = g.T @ g
    for lag in range(1, lags + 1):
        gamma = g[lag:].T @ g[:-lag]
        S += (1.0 - lag / (lags + 1.0)) * (gamma + gamma.T)
    return np.sqrt(np.diag(xtx_inv @ S @ xtx_inv) * n / (n - p))


@pytest.mark.parametrize("n", [8, 50, 120, 1000])
def test_ols_hac_is_newey_west_with_the_documented_lags(n: int) -> None:
    p = 3
    rng = np.random.default_rng(n)
    X = np.column_stack([np.ones(n), rng.standard_normal((n, p - 1))])
    e = np.zeros(n)
    for t in range(n):  # AR(1) errors, φ = 0.7
        e[t] = (0.7 * e[t - 1] if t else 0.0) + rng.standard_normal()
    y = X @ np.ones(p) + e
    lags = math.floor(4 * (n / 100) ** (2 / 9))
    assert estimators.hac_maxlags(n) == lags
    est, se, lo, hi, status, msg = fit_one(X, y, {"method": "ols", "se": "hac"}, LEVEL)
    assert status == OK and msg == ""
    se_ref = newey_west_se(X, y, lags)
    np.testing.assert_allclose(se, se_ref, rtol=1e-10)
    c = crit_t(LEVEL, n - p)
    np.testing.assert_allclose(lo, est - c * se_ref, rtol=1e-10)
    np.testing.assert_allclose(hi, est + c * se_ref, rtol=1e-10)
    # the statsmodels call it documents, and what its other settings would give instead
    res = OLS(y, X).fit(
        cov_type="HAC",
        cov_kwds={"maxlags": lags, "kernel": "bartlett", "use_correction": True},
        use_t=True,
    )
    np.testing.assert_allclose(se, res.bse, rtol=1e-12)
    assert res.df_resid == n - p
    plain = OLS(y, X).fit(cov_type="HAC", cov_kwds={"maxlags": lags}, use_t=True).bse
    np.testing.assert_allclose(se, plain * math.sqrt(n / (n - p)), rtol=1e-10)
    hc1 = fit_one(X, y, {"method": "ols", "se": "hc1"}, LEVEL)[1]
    np.testing.assert_allclose(newey_west_se(X, y, 0), hc1, rtol=1e-10)  # L = 0 is HC1


def test_ols_unknown_se_fails_for_that_estimator_only() -> None:
    X, y = make_xy(30, 3)
    est, se, lo, hi, status, msg = fit_one(X, y, {"method": "ols", "se": "hc4"}, LEVEL)
    assert status == FAILED and "unknown se 'hc4'" in msg
    assert np.isnan(est).all()


# --------------------------------------------------------------------------- LAD


def lad_primal(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Independent reference: min 1'u⁺ + 1'u⁻ s.t. Xb + u⁺ − u⁻ = y, u± ≥ 0 (b free)."""
    n, p = X.shape
    c = np.r_[np.zeros(p), np.ones(2 * n)]
    A = np.hstack([X, np.eye(n), -np.eye(n)])
    bounds = [(None, None)] * p + [(0.0, None)] * (2 * n)
    res = linprog(c, A_eq=A, b_eq=y, bounds=bounds, method="highs")
    assert res.status == 0, res.message
    return res.x[:p], float(res.fun)


def l1(X: np.ndarray, y: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(y - X @ b).sum())


LAD_CASES = [
    (30, 2, "normal", 3),
    (101, 4, "t2", 4),
    (101, 5, "cauchy", 5),
    (60, 3, "laplace", 6),
    (200, 4, "t3", 7),
    (80, 3, "normal", 8),
]


@pytest.mark.parametrize(("n", "p", "errors", "seed"), LAD_CASES)
def test_lad_is_the_exact_l1_optimum(n, p, errors, seed):
    X, y = make_xy(n, p, errors, seed, het=(seed == 8))
    b, code, msg = lad_lp(X, y)
    assert (code, msg) == (0, "")
    b_ref, obj_ref = lad_primal(X, y)
    assert abs(l1(X, y, b) - obj_ref) <= 1e-9 * obj_ref
    # continuous errors and design: the optimum is unique, so the coefficients agree too
    np.testing.assert_allclose(b, b_ref, rtol=0, atol=1e-8)
    est, se, lo, hi, status, _ = fit_one(X, y, {"method": "lad"}, LEVEL)
    assert status == OK
    np.testing.assert_array_equal(est, b)


def test_lad_non_unique_optimum_still_optimal():
    """Intercept only, even n: every point between the middle order statistics is optimal."""
    y = np.array([5.0, -1.0, 2.0, 9.0, 0.5, 3.0, 7.0, -4.0])
    X = np.ones((y.size, 1))
    b, code, _ = lad_lp(X, y)
    assert code == 0
    _, obj_ref = lad_primal(X, y)
    assert abs(l1(X, y, b) - obj_ref) <= 1e-12 * obj_ref
    lo_mid, hi_mid = np.sort(y)[[3, 4]]
    assert lo_mid - 1e-12 <= b[0] <= hi_mid + 1e-12


def test_lad_is_never_worse_than_statsmodels_quantreg():
    """The trap: QuantReg's IRLS stops short of the L1 optimum (science.md §3)."""
    gaps = []
    for seed in range(50):
        X, y = make_xy(100, 5, "t2", seed=100 + seed)
        b, code, _ = lad_lp(X, y)
        assert code == 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # IterationLimitWarning on some datasets
            qr = QuantReg(y, X).fit(q=0.5)
        ours, theirs = l1(X, y, b), l1(X, y, qr.params)
        assert ours <= theirs * (1 + 1e-12)
        gaps.append(theirs - ours)
    assert max(gaps) > 1e-6  # measured: most of these 50 fits miss by > 1e-6, the worst by ~0.02


@pytest.mark.parametrize(("n", "p", "errors", "seed"), [(40, 3, "t3", 11), (150, 5, "laplace", 12)])
def test_quantreg_kernel_cov_is_an_exact_transcription(n, p, errors, seed):
    X, y = make_xy(n, p, errors, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        qr = QuantReg(y, X).fit(q=0.5)
    ref = np.asarray(qr.cov_params())
    ours = quantreg_kernel_cov(X, y, np.asarray(qr.params))
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-10 * np.abs(ref).max())


def test_lad_standard_errors_and_t_intervals():
    n, p = 30, 3
    X, y = make_xy(n, p, "t3", seed=13)
    est, se, lo, hi, status, _ = fit_one(X, y, {"method": "lad"}, LEVEL)
    assert status == OK
    np.testing.assert_allclose(se, np.sqrt(np.diag(quantreg_kernel_cov(X, y, est))), rtol=1e-12)
    c = crit_t(LEVEL, n - p)
    np.testing.assert_allclose(lo, est - c * se, rtol=1e-10)
    np.testing.assert_allclose(hi, est + c * se, rtol=1e-10)
    assert c > 1.02 * stats.norm.ppf(0.5 + LEVEL / 2)  # t, not z, is distinguishable at n = 30


# --------------------------------------------------------------------------- Huber


def huber_psi(z: np.ndarray, k: float) -> np.ndarray:
    return np.clip(z, -k, k)


def projected_score(X: np.ndarray, psi: np.ndarray) -> float:
    """(X'ψ)'(X'X)⁻¹(X'ψ): the squared length of ψ's projection on the columns of X."""
    g = X.T @ psi
    return float(g @ np.linalg.solve(X.T @ X, g))


@pytest.mark.parametrize(("n", "k", "seed"), [(40, 1.345, 21), (300, 1.345, 22), (300, 2.0, 23)])
def test_huber_matches_rlm_and_solves_its_estimating_equation(n, k, seed):
    X, y = make_xy(n, 4, "t3", seed)
    est, se, lo, hi, status, msg = fit_one(X, y, {"method": "huber", "k": k}, LEVEL)
    assert (status, msg) == (OK, "")
    res = RLM(y, X, M=HuberT(t=k)).fit()
    np.testing.assert_allclose(est, res.params, rtol=1e-12)
    np.testing.assert_allclose(se, res.bse, rtol=1e-12)

    # Estimating equation X'ψ_k((y − Xb)/s) = 0 at RLM's final scale s. RLM stops once the
    # deviance Σρ(r/s) changes by < 1e-8; near the optimum the excess deviance is ≈ ½ of
    # (X'ψ)'H⁻¹(X'ψ) with H = X'diag(ψ')X ≤ X'X, so the projected score below is ≤ 2 × excess
    # ≤ 2·1e-8/(1 − c) for a linear convergence rate c; 1e-6 allows c up to 0.98.
    # (Measured: ~1e-20.)
    z = (y - X @ est) / res.scale
    assert projected_score(X, huber_psi(z, k)) < 1e-6
    # the check has power: the same fit does not solve the equation of a different k
    assert projected_score(X, huber_psi(z, 1.5 * k)) > 1e-3

    # normal (z) intervals, not t
    zq = stats.norm.ppf(0.5 + LEVEL / 2)
    np.testing.assert_allclose(lo, est - zq * se, rtol=1e-10)
    np.testing.assert_allclose(hi, est + zq * se, rtol=1e-10)


def test_huber_k_is_honoured():
    X, y = make_xy(60, 4, "t3", seed=24)
    huge = fit_one(X, y, {"method": "huber", "k": 1e6}, LEVEL)
    b, *_ = np.linalg.lstsq(X, y, rcond=None)
    np.testing.assert_allclose(huge[0], b, rtol=0, atol=1e-8)  # no residual is clipped: OLS
    default = fit_one(X, y, {"method": "huber"}, LEVEL)
    explicit = fit_one(X, y, {"method": "huber", "k": 1.345}, LEVEL)
    np.testing.assert_array_equal(default[0], explicit[0])
    assert np.max(np.abs(default[0] - b)) > 1e-3


def test_huber_not_converged_status(monkeypatch):
    monkeypatch.setattr(estimators, "HUBER_MAXITER", 2)
    X, y = make_xy(60, 4, "cauchy", seed=25)
    est, se, _, _, status, msg = fit_one(X, y, {"method": "huber"}, LEVEL)
    assert status == NOT_CONVERGED
    assert "maxiter=2" in msg
    assert np.all(np.isfinite(est))


# --------------------------------------------------------------------------- ridge


@pytest.mark.parametrize("lam", [0.5, 10.0, 200.0])
def test_ridge_matches_statsmodels_fit_regularized(lam):
    n, p = 80, 5
    X, y = make_xy(n, p, seed=31)
    beta, _ = ridge_closed_form(X, y, lam)
    alpha = np.r_[0.0, np.full(p - 1, lam / n)]  # λ = n·a; intercept unpenalised
    ref = OLS(y, X).fit_regularized(alpha=alpha, L1_wt=0.0).params
    np.testing.assert_allclose(beta, ref, rtol=1e-9, atol=1e-12)
    # the trap: a scalar alpha also shrinks the intercept (true value 3 here)
    scalar = OLS(y, X).fit_regularized(alpha=lam / n, L1_wt=0.0).params
    assert abs(scalar[0] - beta[0]) > 1e-4


def test_ridge_does_not_penalise_the_intercept():
    X, y = make_xy(50, 4, seed=32)
    lam, c = 25.0, 7.5
    b0, _ = ridge_closed_form(X, y, lam)
    b1, _ = ridge_closed_form(X, y + c, lam)
    np.testing.assert_allclose(b1 - b0, np.r_[c, 0.0, 0.0, 0.0], atol=1e-10)
    ols, *_ = np.linalg.lstsq(X, y, rcond=None)
    assert np.linalg.norm(b0[1:]) < np.linalg.norm(ols[1:])  # the slopes are shrunk


def test_ridge_penalty_zero_is_ols():
    X, y = make_xy(50, 4, seed=33)
    ols, *_ = np.linalg.lstsq(X, y, rcond=None)
    np.testing.assert_allclose(ridge_closed_form(X, y, 0.0)[0], ols, rtol=1e-10, atol=1e-12)
    est, *_, status, _ = fit_one(X, y, {"method": "ridge", "penalty": 0.0}, LEVEL)
    assert status == OK
    np.testing.assert_allclose(est, ols, rtol=1e-10, atol=1e-12)


def test_ridge_standard_errors_and_no_interval():
    n, p, lam = 70, 4, 15.0
    X, y = make_xy(n, p, seed=34)
    est, se, lo, hi, status, msg = fit_one(X, y, {"method": "ridge", "penalty": lam}, LEVEL)
    assert (status, msg) == (OK, "")
    D = np.diag(np.r_[0.0, np.ones(p - 1)])
    A = X.T @ X + lam * D
    b = np.linalg.solve(A, X.T @ y)
    H = X @ np.linalg.solve(A, X.T)
    r = y - X @ b
    sigma2 = r @ r / (n - np.trace(H))
    A_inv = np.linalg.inv(A)
    cov = sigma2 * A_inv @ X.T @ X @ A_inv
    np.testing.assert_allclose(est, b, rtol=1e-10)
    np.testing.assert_allclose(se, np.sqrt(np.diag(cov)), rtol=1e-10)
    assert p - 1 < np.trace(H) < p  # the effective df is really below p
    assert np.all(np.isnan(lo)) and np.all(np.isnan(hi))


# --------------------------------------------------------------------------- failure isolation

ALL_SPECS = [
    {"method": "ols", "se": "classical"},
    {"method": "ols", "se": "hc3"},
    {"method": "lad"},
    {"method": "huber", "k": 1.345},
    {"method": "ridge", "penalty": 1.0},
    {"method": "wls", "predictor": 1, "strength": 2.0},
    {"method": "ols", "se": "hac"},
]


def duplicated_column(X: np.ndarray) -> np.ndarray:
    X = X.copy()
    X[:, -1] = X[:, 1]
    return X


@pytest.mark.parametrize(
    "spec", [*ALL_SPECS[:4], *ALL_SPECS[5:], {"method": "ridge", "penalty": 0.0}]
)
def test_rank_deficient_design_fails_with_a_rank_message(spec):
    X, y = make_xy(40, 4, seed=41)
    est, se, lo, hi, status, msg = fit_one(duplicated_column(X), y, spec, LEVEL)
    assert status == FAILED
    assert "rank" in msg
    assert np.all(np.isnan(est)) and np.all(np.isnan(se))


@pytest.mark.parametrize(
    "spec", [{"method": "ridge", "penalty": 1.0}, {"method": "ridge"}], ids=["explicit", "default"]
)
def test_rank_deficient_design_still_fits_ridge(spec):
    """A bare spec once skipped nothing: the rank check assumed penalty 0, fit_ridge uses 1."""
    X, y = make_xy(40, 4, seed=41)
    est, se, _, _, status, msg = fit_one(duplicated_column(X), y, spec, LEVEL)
    assert (status, msg) == (OK, "")
    assert np.all(np.isfinite(est)) and np.all(np.isfinite(se))
    assert est[1] == pytest.approx(est[3], rel=1e-10)  # the penalty splits the twin effect


@pytest.mark.parametrize("spec", ALL_SPECS)
def test_fit_dataset_isolates_a_broken_replicate(spec):
    R, n, p, broken = 4, 40, 4, 2
    rng = np.random.default_rng(42)
    X = np.concatenate([np.ones((R, n, 1)), rng.standard_normal((R, n, p - 1))], axis=2)
    X[broken] = duplicated_column(X[broken])
    beta = np.tile([3.0, 1.0, 0.0, -1.0], (R, 1))
    y = np.einsum("rnp,rp->rn", X, beta) + rng.standard_normal((R, n))
    data = Dataset(X, y, beta, np.arange(R))
    res = fit_dataset(data, spec, LEVEL)
    assert res.estimate.shape == (R, p) and res.status.shape == (R,)
    want_broken = OK if spec["method"] == "ridge" else FAILED
    for i in range(R):
        assert res.status[i] == (want_broken if i == broken else OK)
        if res.status[i] == OK:
            ref = fit_one(X[i], y[i], spec, LEVEL)
            np.testing.assert_array_equal(res.estimate[i], ref[0])
            np.testing.assert_array_equal(res.std_error[i], ref[1])
    if want_broken == FAILED:
        assert "rank" in res.message[broken]
        assert np.all(np.isnan(res.estimate[broken]))


def test_fit_dataset_with_fixed_design_uses_it_for_every_replicate():
    R, n = 3, 30
    X, _ = make_xy(n, 3, seed=43)
    rng = np.random.default_rng(43)
    beta = np.tile([3.0, 1.0, -1.0], (R, 1))
    y = X @ beta[0] + rng.standard_normal((R, n))
    res = fit_dataset(Dataset(X, y, beta, np.arange(R)), {"method": "ols"}, LEVEL)
    for i in range(R):
        np.testing.assert_allclose(res.estimate[i], np.linalg.lstsq(X, y[i], rcond=None)[0])
    assert list(res.status) == [OK] * R


def _replace_reference(monkeypatch, method, fit):
    """Swap a shorthand's reference fit in the registry for this test."""
    key = methods.shorthands()[method].key
    monkeypatch.setitem(methods.FITS, key, dataclasses.replace(methods.FITS[key], reference=fit))


def test_raising_estimator_becomes_a_failed_status(monkeypatch):
    def boom(X, y, level, **kwargs):
        raise RuntimeError("boom in the solver")

    _replace_reference(monkeypatch, "ols", boom)
    X, y = make_xy(30, 3, seed=44)
    est, se, lo, hi, status, msg = fit_one(X, y, {"method": "ols", "se": "classical"}, LEVEL)
    assert status == FAILED
    assert msg == "RuntimeError: boom in the solver"
    assert all(np.all(np.isnan(a)) and a.shape == (3,) for a in (est, se, lo, hi))
    data = Dataset(X, np.vstack([y, y]), np.zeros((2, 3)), np.arange(2))
    res = fit_dataset(data, {"method": "ols"}, LEVEL)
    assert list(res.status) == [FAILED, FAILED]
    # the other estimators are unaffected
    assert list(fit_dataset(data, {"method": "lad"}, LEVEL).status) == [OK, OK]


def test_warning_is_recorded_in_the_message(monkeypatch):
    real = methods.fit_of("squared").reference

    def noisy(X, y, level, **kwargs):
        warnings.warn("something odd", RuntimeWarning, stacklevel=1)
        return real(X, y, level, **kwargs)

    _replace_reference(monkeypatch, "ols", noisy)
    X, y = make_xy(30, 3, seed=45)
    est, _, _, _, status, msg = fit_one(X, y, {"method": "ols"}, LEVEL)
    assert status == OK
    assert msg == "RuntimeWarning: something odd"


@pytest.mark.parametrize("spec", ALL_SPECS)
@pytest.mark.parametrize("seed", [51, 52, 53])
def test_n_equal_p_plus_one_does_not_crash(spec, seed):
    p = 4
    X, y = make_xy(p + 1, p, "t3", seed)
    est, se, lo, hi, status, msg = fit_one(X, y, spec, LEVEL)
    assert status in (OK, FAILED, NOT_CONVERGED)
    assert est.shape == se.shape == lo.shape == hi.shape == (p,)
    if status == OK:
        assert np.all(np.isfinite(est))
        if not np.all(np.isfinite(se)):  # an SE that failed leaves NaN, never inf, and says so
            assert np.isnan(se).all() and np.isnan(lo).all() and "standard error" in msg
        elif spec["method"] != "ridge":
            assert np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))
    else:
        assert msg


@pytest.mark.parametrize("spec", ALL_SPECS)
@pytest.mark.parametrize("where", ["X", "y"])
def test_non_finite_data_fails_without_raising(spec, where):
    X, y = make_xy(30, 3, seed=54)
    if where == "X":
        X[4, 1] = np.nan
    else:
        y[4] = math.inf
    est, se, lo, hi, status, msg = fit_one(X, y, spec, LEVEL)
    assert status == FAILED
    assert msg
