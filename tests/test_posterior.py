"""Ridge's posterior intervals (``se: posterior``): the conjugate update, the plug-in's t,
exact coverage over the prior, the engines' agreement and split invariance, bad specs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.regression.linear_model import OLS

from lossstudy import dgp, theory
from lossstudy.config import ConfigError, load_study
from lossstudy.dgp import Dataset
from lossstudy.estimators import OK, fit_dataset, fit_one
from lossstudy.vectorized import fit_dataset_vectorized

LEVEL = 0.90  # not 0.95, so that a hard-coded 1.96 would show


def _xy(n: int = 30, p: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.standard_normal((n, p - 1))])
    return X, X @ np.r_[1.0, 0.3, -0.2, 0.1][:p] + 0.7 * rng.standard_normal(n)


def test_known_sigma_interval_is_the_conjugate_gaussian_posterior():
    X, y = _xy()
    sigma, lam = 0.7, 4.0
    tau2 = sigma**2 / lam
    # Bayes' rule for N(0, σ²) errors, slopes ~ N(0, τ²), a flat intercept: precisions add
    prior_precision = np.diag([0.0, *[1.0 / tau2] * 3])
    cov = np.linalg.inv(X.T @ X / sigma**2 + prior_precision)
    mean = cov @ X.T @ y / sigma**2
    est, se, lo, hi, status, _ = fit_one(
        X, y, {"method": "ridge", "penalty": lam, "se": "posterior", "sigma": sigma}, LEVEL
    )
    z = stats.norm.ppf(0.5 + LEVEL / 2)
    assert status == OK
    np.testing.assert_allclose(est, mean, rtol=1e-10)
    np.testing.assert_allclose(se, np.sqrt(np.diag(cov)), rtol=1e-10)
    np.testing.assert_allclose(lo, mean - z * se, rtol=1e-10)
    np.testing.assert_allclose(hi, mean + z * se, rtol=1e-10)


def test_plug_in_interval_is_student_t_with_the_penalised_rss():
    X, y = _xy()
    lam = 4.0
    spec = {"method": "ridge", "penalty": lam, "se": "posterior"}
    est, se, lo, hi, _, _ = fit_one(X, y, spec, LEVEL)
    n, p = X.shape
    s2 = (np.sum((y - X @ est) ** 2) + lam * est[1:] @ est[1:]) / (n - 1)
    unit = np.sqrt(np.diag(np.linalg.inv(X.T @ X + lam * np.diag([0.0, 1, 1, 1]))))
    np.testing.assert_allclose(se, np.sqrt(s2) * unit, rtol=1e-10)
    np.testing.assert_allclose(hi - est, stats.t.ppf(0.5 + LEVEL / 2, n - 1) * se, rtol=1e-10)


def test_plug_in_with_no_penalty_is_the_classical_ols_interval():
    X, y = _xy()
    spec = {"method": "ridge", "penalty": 0.0, "se": "posterior"}
    _, se, lo, hi, _, _ = fit_one(X, y, spec, LEVEL)
    ols = OLS(y, X).fit()
    np.testing.assert_allclose(se, ols.bse, rtol=1e-10)
    np.testing.assert_allclose(np.c_[lo, hi], ols.conf_int(alpha=1 - LEVEL), rtol=1e-10)


def _prior_draws(R: int, n: int, p: int, tau: float, sigma: float, seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.standard_normal((n, p - 1))])
    beta = np.column_stack([np.full(R, 0.5), tau * rng.standard_normal((R, p - 1))])
    y = beta @ X.T + sigma * rng.standard_normal((R, n))
    return Dataset(X, y, beta, np.arange(R))


@pytest.mark.parametrize("sigma", [1.5, None], ids=["known", "plug-in"])
def test_coverage_over_the_matching_prior_is_nominal(sigma):
    tau, true_sigma, R = 0.4, 1.5, 4000
    data = _prior_draws(R, 12, 4, tau, true_sigma, seed=3)
    spec = {"method": "ridge", "penalty": true_sigma**2 / tau**2, "se": "posterior"}
    if sigma is not None:
        spec["sigma"] = sigma
    res = fit_dataset_vectorized(data, spec, LEVEL)
    covered = (res.ci_low <= data.beta) & (data.beta <= res.ci_high)
    mcse = np.sqrt(LEVEL * (1 - LEVEL) / R)
    assert np.all(np.abs(covered.mean(axis=0) - LEVEL) < 3.5 * mcse)
    # a prior 10× too narrow (λ too large) under-covers the slopes, as theory says
    wrong = fit_dataset_vectorized(data, {**spec, "penalty": 10 * spec["penalty"]}, LEVEL)
    covered = (wrong.ci_low <= data.beta) & (data.beta <= wrong.ci_high)
    assert np.all(covered.mean(axis=0)[1:] < LEVEL - 5 * mcse)


@pytest.mark.parametrize("sigma", [0.7, None], ids=["known", "plug-in"])
@pytest.mark.parametrize("fixed", [True, False], ids=["fixed", "random"])
def test_engines_agree_and_a_split_changes_no_bit(sigma, fixed):
    data = _prior_draws(70, 15, 4, 0.3, 0.7, seed=5)
    if not fixed:
        rng = np.random.default_rng(9)
        X = np.concatenate([np.ones((70, 15, 1)), rng.standard_normal((70, 15, 3))], axis=2)
        y = np.einsum("rnp,rp->rn", X, data.beta) + data.y
        data = Dataset(X, y, data.beta, data.replicates)
    spec = {"method": "ridge", "penalty": 2.0, "se": "posterior", "sigma": sigma}
    whole = fit_dataset_vectorized(data, spec, LEVEL)
    ref = fit_dataset(data, spec, LEVEL)
    for a, b in ((whole.std_error, ref.std_error), (whole.ci_low, ref.ci_low)):
        np.testing.assert_allclose(a, b, rtol=1e-10)
    parts = [
        fit_dataset_vectorized(
            Dataset(data.X if fixed else data.X[s], data.y[s], data.beta[s], data.replicates[s]),
            spec,
            LEVEL,
        )
        for s in (slice(0, 13), slice(13, 70))
    ]
    for field in ("estimate", "std_error", "ci_low", "ci_high"):
        joined = np.concatenate([getattr(p, field) for p in parts])
        assert np.array_equal(joined, getattr(whole, field), equal_nan=True), field


def _config_error(spec: dict) -> str:
    cfg = {"seed": 1, "replicates": 10, "scenarios": {"gm": {}}, "estimators": {"r": spec}}
    with pytest.raises(ConfigError) as info:
        load_study(cfg)
    return str(info.value)


@pytest.mark.parametrize(
    ("spec", "field", "says"),
    [
        ({"method": "ridge", "se": "posterior", "sigma": 0}, "estimators.r.sigma", "> 0"),
        ({"method": "ridge", "sigma": 1.0}, "estimators.r.sigma", "se: posterior"),
        ({"method": "lad", "se": "posterior"}, "estimators.r.se", "allowed values: kernel"),
    ],
)
def test_bad_posterior_specs_stop_naming_the_field(spec, field, says):
    message = _config_error(spec)
    assert f"'{field}'" in message and says in message and "\n" not in message


def test_the_stored_spec_keeps_se_and_sigma_and_plain_ridge_is_unchanged():
    study = load_study(
        {
            "seed": 1,
            "replicates": 10,
            "scenarios": {"gm": {}},
            "estimators": {
                "ridge": {"method": "ridge", "penalty": 1},
                "post": {"method": "ridge", "penalty": 1, "se": "posterior", "sigma": 1.0},
            },
        }
    )
    assert study.estimators["ridge"] == {"method": "ridge", "penalty": 1}
    assert study.estimators["post"] == {
        "method": "ridge",
        "penalty": 1,
        "sigma": 1.0,
        "se": "posterior",
    }


def _prior_study(n: int, tau: float = 0.316227766, **errors: float) -> tuple:
    cfg = {
        "seed": 20261126,
        "replicates": 4000,
        "scenarios": {
            "gp": {"n": n, "prior": {"tau": tau}, "errors": {"distribution": "normal", **errors}}
        },
        "estimators": {
            "known": {
                "method": "ridge",
                "se": "posterior",
                "sigma": 1.0,
                "penalty": 10,
                "sweep": {"penalty": [0, 1, 10, 100]},
            },
            "plugin": {"method": "ridge", "se": "posterior", "penalty": 10},
            "plugin_off": {"method": "ridge", "se": "posterior", "penalty": 100},
        },
    }
    study = load_study(cfg)
    (sc,) = study.scenarios.values()
    return study, sc


def test_theory_coverage_is_what_the_simulation_finds():
    study, sc = _prior_study(12)
    specs = study.estimators_in(sc.id)
    checks, skipped = theory.scenario_checks(sc.id, sc.knobs, study.seed, specs, study.level)
    cover = {(c.estimator, c.term): c.theoretical for c in checks if c.quantity == "coverage"}
    assert {e for e, _ in cover} == {
        "known-penalty10",
        "known-penalty0",
        "known-penalty1",
        "known-penalty100",
        "plugin",
    }
    assert [s["estimator"] for s in skipped if s["check"] == "posterior coverage"] == ["plugin_off"]
    slopes = sc.terms[1:]
    # the matching prior is exactly nominal; λ too large under-covers, too small over-covers
    assert all(abs(cover["known-penalty10", t] - 0.95) < 1e-9 for t in sc.terms)
    assert all(cover["known-penalty100", t] < 0.9 for t in slopes)
    assert all(0.95 < cover["known-penalty1", t] < 0.99 for t in slopes)
    data = dgp.simulate(sc.knobs, study.seed, sc.id, 0, sc.replicates)
    fits = {name: fit_dataset_vectorized(data, specs[name], study.level) for name, _ in cover}
    for (name, term), want in cover.items():
        res, j = fits[name], sc.terms.index(term)
        hit = (res.ci_low[:, j] <= data.beta[:, j]) & (data.beta[:, j] <= res.ci_high[:, j])
        assert abs(hit.mean() - want) < 3.5 * np.sqrt(want * (1 - want) / len(hit)), (name, term)


def test_a_wrong_known_sigma_under_covers_and_other_errors_have_no_theory_row():
    study, sc = _prior_study(12, scale=2.0)  # σ = 2: the known σ = 1 is too small
    specs = study.estimators_in(sc.id)
    checks, skipped = theory.scenario_checks(sc.id, sc.knobs, study.seed, specs, study.level)
    known = [
        c.theoretical
        for c in checks
        if c.estimator == "known-penalty10" and c.quantity == "coverage"
    ]
    assert len(known) == sc.p and all(c < 0.9 for c in known)
    assert "plugin" in {s["estimator"] for s in skipped if s["check"] == "posterior coverage"}
    study, sc = _prior_study(12)
    knobs = {**sc.knobs, "errors": {"distribution": "laplace", "scale": 1.0}}
    checks, skipped = theory.scenario_checks(sc.id, knobs, study.seed, specs, study.level)
    assert not [c for c in checks if c.quantity == "coverage"]
    assert all("not Gaussian" in s["reason"] for s in skipped if s["check"] == "posterior coverage")
