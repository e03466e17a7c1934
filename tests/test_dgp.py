"""Tests for lossstudy.dgp: every data-generating knob produces data with the intended property.

Statistical checks use one large replicate (or a few thousand tiny ones) with a fixed seed, and a
tolerance of 5 standard errors of the statistic at that sample size, so they are deterministic
and a failure means a real departure of about 5 SE or more. Structural checks (leverage shift,
misspecified mean, scale, seeding) are exact: two runs with the same seed must differ by exactly
the knob's contribution.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from lossstudy.config import BUILTIN_DEFAULTS, deep_merge
from lossstudy.dgp import (
    Dataset,
    draw_errors,
    equicorrelate,
    equicorrelation_root,
    error_moments,
    leverage_rows,
    simulate,
)

SEED = 20240611
K_SE = 5.0  # tolerance in standard errors of the statistic being checked


def make_knobs(**overrides) -> dict:
    return deep_merge(BUILTIN_DEFAULTS, overrides)


def errors_of(data: Dataset) -> np.ndarray:
    """y − Xβ per replicate (R×n): the error part when the mean model is the linear one."""
    X = data.stacked_design()
    return data.y - np.einsum("rnp,rp->rn", X, data.beta)


def corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


def lag1(x: np.ndarray) -> float:
    """Lag-1 sample autocorrelation."""
    xc = x - x.mean()
    return float(xc[1:] @ xc[:-1] / (xc @ xc))


# --------------------------------------------------------------------------- error distributions


def lognormal_kurtosis(sigma: float) -> float:
    v = sigma * sigma
    return math.exp(4 * v) + 2 * math.exp(3 * v) + 3 * math.exp(2 * v) - 3


# (errors knob, kurtosis E[e⁴]/σ⁴ of the distribution: sets the SE of the sample variance)
ERROR_CASES = {
    "normal": ({"distribution": "normal"}, 3.0),
    "t5": ({"distribution": "t", "df": 5}, 3.0 + 6.0 / (5 - 4)),
    "laplace": ({"distribution": "laplace"}, 6.0),
    # 0.9·N(0,1) + 0.1·N(0,9): E e⁴ = 3(0.9 + 0.1·81) = 27, σ² = 1.8
    "contaminated": (
        {"distribution": "contaminated", "fraction": 0.1, "outlier_scale": 3.0},
        27.0 / 1.8**2,
    ),
    "exponential": ({"distribution": "exponential"}, 9.0),
    "lognormal": ({"distribution": "lognormal", "sigma": 0.5}, lognormal_kurtosis(0.5)),
}

N_BIG = 200_000


@pytest.fixture(scope="module")
def error_samples() -> dict[str, tuple[dict, np.ndarray]]:
    """One replicate of N_BIG observations per distribution, through simulate(), scale 1.5."""
    out = {}
    for name, (errors, _) in ERROR_CASES.items():
        knobs = make_knobs(n=N_BIG, errors={**errors, "scale": 1.5})
        out[name] = (knobs["errors"], errors_of(simulate(knobs, SEED, f"err_{name}", 0, 1))[0])
    return out


@pytest.mark.parametrize("name", list(ERROR_CASES))
def test_error_mean_zero_and_variance_matches_error_moments(error_samples, name):
    errors, e = error_samples[name]
    kurtosis = ERROR_CASES[name][1]
    mom = error_moments(errors)
    assert mom.mean_finite and mom.var_finite
    n = e.size
    # SE of the sample mean is sd/√n
    assert abs(e.mean()) < K_SE * mom.sd / math.sqrt(n)
    # SE of the sample variance is σ²·√((κ − 1)/n), κ the kurtosis
    se_var = mom.sd**2 * math.sqrt((kurtosis - 1.0) / n)
    assert abs(e.var() - mom.sd**2) < K_SE * se_var


def test_error_moments_reference_values():
    """Spot values of the closed forms (scale 2) and which moments exist."""
    m = error_moments({"distribution": "t", "df": 5, "scale": 2.0})
    assert m.sd == pytest.approx(2 * math.sqrt(5 / 3), rel=1e-12)
    assert (m.mean_finite, m.var_finite, m.fourth_finite) == (True, True, True)
    m = error_moments({"distribution": "t", "df": 3})
    assert (m.var_finite, m.fourth_finite) == (True, False)
    m = error_moments({"distribution": "t", "df": 2})
    assert not m.var_finite and m.sd == math.inf
    m = error_moments({"distribution": "cauchy", "scale": 3.0})
    assert not (m.mean_finite or m.var_finite) and m.median == 0.0
    m = error_moments({"distribution": "laplace", "scale": 2.0})
    assert m.sd == pytest.approx(2 * math.sqrt(2), rel=1e-12)
    m = error_moments({"distribution": "exponential", "scale": 2.0})
    assert (m.sd, m.symmetric) == (2.0, False)
    with pytest.raises(ValueError, match="unknown error distribution"):
        error_moments({"distribution": "uniform"})


@pytest.mark.parametrize("name", ["exponential", "lognormal"])
def test_skewed_errors_have_positive_skew_and_the_stated_median(error_samples, name):
    errors, e = error_samples[name]
    mom = error_moments(errors)
    assert not mom.symmetric
    ec = e - e.mean()
    assert (ec**3).mean() / (ec**2).mean() ** 1.5 > 0.5  # theory: 2 (exp.), 1.75 (lognormal 0.5)
    # SE of the sample median is 1/(2 f(m) √n); f at the median of Exp(1) is 1/2, of
    # lognormal(0, σ) is 1/(σ√(2π)); times the scale 1.5
    s = 1.5
    f_med = 0.5 if name == "exponential" else 1.0 / (errors["sigma"] * math.sqrt(2 * math.pi))
    se_med = s / (2 * f_med * math.sqrt(e.size))
    assert abs(np.median(e) - mom.median) < K_SE * se_med
    assert mom.median != 0.0  # i.e. the check above is not the symmetric case in disguise


def test_cauchy_median_and_interquartile_range():
    scale = 1.5
    knobs = make_knobs(n=N_BIG, errors={"distribution": "cauchy", "scale": scale})
    e = errors_of(simulate(knobs, SEED, "cauchy", 0, 1))[0]
    n = e.size
    # standard Cauchy density f(0) = 1/π, f(±1) = 1/(2π); quantile SE = √(q(1−q))/(f √n)
    se_med = scale * math.pi / (2 * math.sqrt(n))
    se_quartile = scale * math.sqrt(0.25 * 0.75) * 2 * math.pi / math.sqrt(n)
    q25, q50, q75 = np.percentile(e, [25, 50, 75])
    assert abs(q50) < K_SE * se_med
    # sd(Q3 − Q1) ≤ sd(Q3) + sd(Q1)
    assert abs((q75 - q25) - 2 * scale) < K_SE * 2 * se_quartile


def test_draw_errors_rejects_unknown_distribution():
    with pytest.raises(ValueError, match="unknown error distribution"):
        draw_errors(np.random.default_rng(0), {"distribution": "uniform"}, 5)


@pytest.mark.parametrize(
    "errors",
    [{"distribution": "normal"}, {"distribution": "t", "df": 3}, {"distribution": "cauchy"}],
)
def test_scale_multiplies_the_errors(errors):
    runs = {}
    for scale in (1.0, 3.0):
        knobs = make_knobs(n=500, errors={**errors, "scale": scale})
        runs[scale] = errors_of(simulate(knobs, SEED, "scale", 0, 3))
    assert np.abs(runs[1.0]).max() > 0.1
    # y − Xβ carries the rounding of Xβ (|Xβ| ≲ 20), hence an absolute 1e-11
    np.testing.assert_allclose(runs[3.0], 3.0 * runs[1.0], rtol=1e-12, atol=1e-11)


# --------------------------------------------------------------------------- design


@pytest.mark.parametrize("rho", [0.95, -0.2, 0.0])
def test_design_equicorrelation(rho):
    n = 100_000
    knobs = make_knobs(n=n, design={"correlation": rho})  # 4 slopes
    x = simulate(knobs, SEED, "equi", 0, 1).X[:, 1:]
    c = np.corrcoef(x, rowvar=False)
    off = c[~np.eye(4, dtype=bool)]
    # SE of a sample correlation of normal data is (1 − ρ²)/√n
    assert np.all(np.abs(off - rho) < K_SE * (1 - rho**2) / math.sqrt(n))
    # unit variances: SE of a normal sample variance is √(2/n)
    assert np.all(np.abs(x.var(axis=0) - 1.0) < K_SE * math.sqrt(2 / n))


@pytest.mark.parametrize("k", [2, 4, 7])
@pytest.mark.parametrize("rho", [0.0, 0.5, 0.99, 1.0])
def test_equicorrelation_root_squares_to_the_equicorrelation_matrix(k, rho):
    root = equicorrelation_root(k, rho)
    sigma = np.full((k, k), rho) + (1.0 - rho) * np.eye(k)
    np.testing.assert_allclose(root, root.T, atol=1e-14)
    np.testing.assert_allclose(root @ root, sigma, atol=1e-12)


@pytest.mark.parametrize("k", [2, 4, 7])
@pytest.mark.parametrize("rho", [0.0, 0.3, 0.95, 1.0])
def test_equicorrelate_applies_the_root_row_by_row(k, rho):
    """equicorrelate(z) is z @ root (to rounding: another order of operations), and a row's
    bits are the same alone as in any batch; ρ = 0 leaves z as it is."""
    z = np.random.default_rng(7).standard_normal((5, 40, k))
    x = equicorrelate(z, rho)
    np.testing.assert_allclose(x, z @ equicorrelation_root(k, rho), rtol=0, atol=1e-14)
    assert np.array_equal(equicorrelate(z[3, 17:18], rho)[0], x[3, 17])
    assert (x is z) == (rho == 0.0)


@pytest.mark.parametrize("p", [3, 5, 6, 8, 11])
def test_correlation_one_gives_identical_predictors(p):
    """With 5+ slopes the eigen-root once left ~1e-8 noise between columns (design rank 3)."""
    knobs = make_knobs(n=200, coefficients=[1.0] * p, design={"correlation": 1.0})
    X = simulate(knobs, SEED, "collinear", 0, 1).X
    np.testing.assert_allclose(X[:, 1:], np.repeat(X[:, [1]], p - 1, axis=1), rtol=0, atol=1e-12)
    assert X[:, 1].std() == pytest.approx(1.0, abs=0.3)  # n = 200: a real predictor, not zeros
    assert np.linalg.matrix_rank(X) == 2


def test_fixed_design_is_shared_and_independent_of_chunking():
    knobs = make_knobs(n=50)
    a = simulate(knobs, SEED, "fixed", 0, 10)
    b = simulate(knobs, SEED, "fixed", 5, 10)
    c = simulate(knobs, SEED, "fixed", 7, 8)
    assert a.fixed and a.X.shape == (50, 5)
    assert np.array_equal(a.X, b.X) and np.array_equal(a.X, c.X)
    np.testing.assert_array_equal(a.X[:, 0], 1.0)
    assert a.stacked_design().shape == (10, 50, 5)


def test_random_design_differs_between_replicates():
    knobs = make_knobs(n=50, design={"fixed": False})
    data = simulate(knobs, SEED, "random", 0, 4)
    assert not data.fixed and data.X.shape == (4, 50, 5)
    np.testing.assert_array_equal(data.X[:, :, 0], 1.0)
    for i in range(4):
        for j in range(i):
            assert not np.any(data.X[i, :, 1:] == data.X[j, :, 1:])
        assert np.array_equal(data.design(i), data.X[i])


def test_design_autocorrelation():
    n, psi = 50_000, 0.7
    knobs = make_knobs(n=n, design={"autocorrelation": psi})
    x = simulate(knobs, SEED, "design_ar", 0, 1).X[:, 1:]
    # Bartlett: SE of the lag-1 autocorrelation of an AR(1) is √((1 − ψ²)/n)
    for j in range(x.shape[1]):
        assert abs(lag1(x[:, j]) - psi) < K_SE * math.sqrt((1 - psi**2) / n)
    # stationary unit variance; SE of the sample variance of a Gaussian AR(1) is
    # √(2(1 + ψ²)/((1 − ψ²) n))
    se_var = math.sqrt(2 * (1 + psi**2) / ((1 - psi**2) * n))
    assert np.all(np.abs(x.var(axis=0) - 1.0) < K_SE * se_var)
    # rows stay independent across columns (ρ = 0)
    assert abs(corr(x[:, 0], x[:, 1])) < K_SE * math.sqrt((1 + psi**2) / ((1 - psi**2) * n))


# --------------------------------------------------------------------------- leverage


def test_leverage_rows_shift_and_follows_model():
    n, frac, dist = 100, 0.1, 10.0
    base = make_knobs(n=n)
    coefs = np.asarray(base["coefficients"])
    lev = {"fraction": frac, "distance": dist}
    clean = simulate(base, SEED, "lev", 0, 3)
    off = simulate(
        deep_merge(base, {"design": {"leverage": {**lev, "follows_model": False}}}),
        SEED,
        "lev",
        0,
        3,
    )
    on = simulate(
        deep_merge(base, {"design": {"leverage": {**lev, "follows_model": True}}}),
        SEED,
        "lev",
        0,
        3,
    )
    m = leverage_rows(deep_merge(base, {"design": {"leverage": lev}}))
    assert m == 10

    # the last m rows are shifted by +distance in every predictor, the intercept is untouched
    shift = off.X - clean.X
    np.testing.assert_array_equal(shift[: n - m], 0.0)
    np.testing.assert_array_equal(shift[n - m :, 0], 0.0)
    np.testing.assert_allclose(shift[n - m :, 1:], dist, atol=1e-13)
    np.testing.assert_array_equal(on.X, off.X)

    # follows_model false: y comes from the unshifted x, so it equals the no-leverage y and
    # y − X_clean β is exactly the error part
    np.testing.assert_array_equal(off.y, clean.y)
    np.testing.assert_array_equal(off.y - clean.X @ coefs, clean.y - clean.X @ coefs)
    # follows_model true: y differs by distance·Σ slopes on the leverage rows only
    diff = on.y - off.y
    np.testing.assert_allclose(diff[:, : n - m], 0.0, atol=1e-12)
    np.testing.assert_allclose(diff[:, n - m :], dist * coefs[1:].sum(), atol=1e-12)
    assert dist * coefs[1:].sum() != 0.0


# --------------------------------------------------------------------------- error structure


def test_heteroskedasticity_variance_grows_with_predictor_squared():
    n, strength, j, scale = 200_000, 2.0, 2, 1.5
    knobs = make_knobs(
        n=n,
        errors={"distribution": "normal", "scale": scale},
        heteroskedasticity={"strength": strength, "predictor": j},
    )
    data = simulate(knobs, SEED, "het", 0, 1)
    e2 = errors_of(data)[0] ** 2
    Z = np.column_stack([np.ones(n), data.X[:, 1:] ** 2])  # e² on 1, x1², …, x4²
    coef, *_ = np.linalg.lstsq(Z, e2, rcond=None)
    # HC0 (sandwich) SEs: e² is itself heteroskedastic
    bread = np.linalg.inv(Z.T @ Z)
    r = e2 - Z @ coef
    se = np.sqrt(np.diag(bread @ (Z.T * r**2) @ Z @ bread))
    sigma2 = scale**2
    expected = np.zeros(5)
    expected[0], expected[j] = sigma2, strength * sigma2
    assert np.all(np.abs(coef - expected) < K_SE * se)
    assert coef[j] > 10 * se[j]  # the effect is clearly there, not just within noise of 0


def test_ar1_errors_lag1_and_stationary_variance():
    n, phi, scale = 50_000, 0.6, 1.5
    knobs = make_knobs(
        n=n, errors={"distribution": "normal", "scale": scale}, autocorrelation={"phi": phi}
    )
    e = errors_of(simulate(knobs, SEED, "ar", 0, 1))[0]
    gamma0 = scale**2 / (1 - phi**2)
    assert abs(lag1(e) - phi) < K_SE * math.sqrt((1 - phi**2) / n)
    se_var = gamma0 * math.sqrt(2 * (1 + phi**2) / ((1 - phi**2) * n))
    assert abs(e.var() - gamma0) < K_SE * se_var


def test_ar1_errors_start_in_the_stationary_distribution():
    """Across replicates, Var(e_0) = σ²/(1 − φ²), not σ² (which a zero start would give)."""
    R, phi = 4000, 0.6
    knobs = make_knobs(n=6, autocorrelation={"phi": phi})
    e = errors_of(simulate(knobs, SEED, "ar_start", 0, R))
    gamma0 = 1.0 / (1 - phi**2)
    for t in (0, 5):
        # SE of a normal sample variance: γ0·√(2/R)
        assert abs(e[:, t].var() - gamma0) < K_SE * gamma0 * math.sqrt(2 / R)


@pytest.mark.parametrize(
    "errors", [{"distribution": "normal", "scale": 2.0}, {"distribution": "laplace", "scale": 2.0}]
)
def test_endogeneity_correlates_one_predictor_with_the_errors(errors):
    n, rho, j = 200_000, 0.4, 2
    knobs = make_knobs(n=n, errors=errors, endogeneity={"correlation": rho, "predictor": j})
    data = simulate(knobs, SEED, "endo", 0, 1)
    e = errors_of(data)[0]
    # SD of r is (1 − ρ²)/√n = 0.84/√n for normal errors, 0.88/√n for Laplace (checked by a
    # separate simulation) and 1/√n for uncorrelated pairs: 5/√n is ≥ 5 SE for all of them
    tol = K_SE / math.sqrt(n)
    assert abs(corr(data.X[:, j], e) - rho) < tol
    for k in (1, 3, 4):
        assert abs(corr(data.X[:, k], e)) < tol
    # the construction keeps Var(e) = sd²; normal kurtosis 3 / Laplace 6 bound the SE
    sd2 = error_moments(knobs["errors"]).sd ** 2
    assert abs(e.var() - sd2) < K_SE * sd2 * math.sqrt(5.0 / n)


@pytest.mark.parametrize("form", ["quadratic", "cubic"])
def test_misspecified_mean_adds_exactly_the_stated_term(form):
    strength, j = 0.7, 3
    mis = {"strength": strength, "predictor": j, "form": form}
    knobs = make_knobs(n=300, misspecification=mis)
    null = make_knobs(n=300, misspecification={**mis, "strength": 0.0})
    a = simulate(knobs, SEED, "mis", 0, 3)
    b = simulate(null, SEED, "mis", 0, 3)
    np.testing.assert_array_equal(a.X, b.X)
    x = a.X[:, j]
    g = x**2 - 1.0 if form == "quadratic" else x**3
    np.testing.assert_allclose(a.y - b.y, np.broadcast_to(strength * g, a.y.shape), atol=1e-12)
    assert np.abs(g).max() > 1.0


def test_prior_draws_slopes_per_replicate():
    R, tau = 3000, 0.8
    knobs = make_knobs(n=20, prior={"tau": tau})
    data = simulate(knobs, SEED, "prior", 0, R)
    assert data.beta.shape == (R, 5)
    np.testing.assert_array_equal(data.beta[:, 0], knobs["coefficients"][0])
    slopes = data.beta[:, 1:]
    # slopes ~ N(0, τ²): SE of the mean τ/√R, of the SD τ/√(2(R − 1))
    assert np.all(np.abs(slopes.mean(axis=0)) < K_SE * tau / math.sqrt(R))
    assert np.all(np.abs(slopes.std(axis=0, ddof=1) - tau) < K_SE * tau / math.sqrt(2 * (R - 1)))
    # y is generated from each replicate's own β: y − Xβ_r is the N(0, 1) error
    e = errors_of(data)
    assert abs(e.var() - 1.0) < K_SE * math.sqrt(2 / e.size)


def test_no_prior_keeps_the_coefficients():
    knobs = make_knobs(n=20)
    data = simulate(knobs, SEED, "noprior", 3, 7)
    np.testing.assert_array_equal(data.beta, np.tile(knobs["coefficients"], (4, 1)))
    np.testing.assert_array_equal(data.replicates, [3, 4, 5, 6])


# --------------------------------------------------------------------------- seeding


ALL_RANDOM = {
    "n": 30,
    "design": {"fixed": False, "autocorrelation": 0.3},
    "errors": {"distribution": "t", "df": 4},
    "prior": {"tau": 0.5},
    "autocorrelation": {"phi": 0.2},
}


@pytest.mark.parametrize("fixed", [True, False])
def test_replicate_is_identical_whatever_the_chunking(fixed):
    knobs = make_knobs(**deep_merge(ALL_RANDOM, {"design": {"fixed": fixed}}))
    whole = simulate(knobs, SEED, "seed_s", 0, 10)
    tail = simulate(knobs, SEED, "seed_s", 5, 10)
    for r in (0, 5, 9):
        one = simulate(knobs, SEED, "seed_s", r, r + 1)
        assert np.array_equal(one.y[0], whole.y[r])
        assert np.array_equal(one.beta[0], whole.beta[r])
        assert np.array_equal(one.design(0), whole.design(r))
        if r >= 5:
            assert np.array_equal(tail.y[r - 5], whole.y[r])
            assert np.array_equal(tail.design(r - 5), whole.design(r))
    # and the replicates are not copies of each other
    assert not np.array_equal(whole.y[0], whole.y[1])


def test_scenario_id_and_seed_change_the_data_same_inputs_do_not():
    knobs = make_knobs(**ALL_RANDOM)
    a = simulate(knobs, SEED, "alpha", 0, 3)
    again = simulate(knobs, SEED, "alpha", 0, 3)
    other_id = simulate(knobs, SEED, "beta", 0, 3)
    other_seed = simulate(knobs, SEED + 1, "alpha", 0, 3)
    for f in ("X", "y", "beta", "replicates"):
        assert np.array_equal(getattr(a, f), getattr(again, f))
    for other in (other_id, other_seed):
        assert not np.any(other.y == a.y)
        assert not np.any(other.X[:, :, 1:] == a.X[:, :, 1:])


@pytest.mark.parametrize("fixed", [True, False])
def test_dataset_save_load_round_trip(tmp_path, fixed):
    knobs = make_knobs(**deep_merge(ALL_RANDOM, {"design": {"fixed": fixed}}))
    data = simulate(knobs, SEED, "io", 4, 9)
    path = tmp_path / "sub" / "chunk.npz"
    data.save(path)
    assert os.listdir(path.parent) == ["chunk.npz"]
    back = Dataset.load(path)
    for f in ("X", "y", "beta", "replicates"):
        a, b = getattr(data, f), getattr(back, f)
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a, b)
    assert back.fixed == fixed


def test_dataset_save_failure_leaves_nothing(tmp_path, monkeypatch):
    data = simulate(make_knobs(n=10), SEED, "io", 0, 2)

    def broken_savez(fh, **arrays):
        fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        data.save(tmp_path / "chunk.npz")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("fixed", [True, False], ids=["fixed", "random"])
def test_head_is_the_first_replicates(fixed):
    """``Dataset.head(m)`` (benchmark and overhead subsets) equals simulating replicates 0..m."""
    knobs = deep_merge(BUILTIN_DEFAULTS, {"n": 12, "design": {"fixed": fixed}})
    head = simulate(knobs, 3, "s", 0, 9).head(4)
    first = simulate(knobs, 3, "s", 0, 4)
    for name in ("X", "y", "beta", "replicates"):
        assert np.array_equal(getattr(head, name), getattr(first, name))
