"""The L2 penalty on the Huber and absolute losses: Huber + L2 equals an independent
trust-region minimisation of the same objective to 1e-8 and becomes ridge as k → ∞; LAD + L2
satisfies the KKT conditions (recomputed here from the primal answer alone) and no nearby point
does better; both are registered as loss × penalty combinations with shorthands."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from scipy.optimize import minimize

from lossstudy import estimators, methods
from lossstudy.config import ConfigError, load_study
from lossstudy.losses import robust_ridge as rr


def _collinear(n: int = 40, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(n)
    X = np.column_stack([np.ones(n), z, z + 0.05 * rng.standard_normal(n), rng.standard_normal(n)])
    return X, X @ np.array([1.0, 1.0, 1.0, 0.0]) + rng.standard_t(2, n)


@pytest.mark.parametrize("lam", [0.5, 5.0, 50.0])
def test_huber_ridge_is_the_optimum_of_its_objective(lam: float):
    X, y = _collinear()
    k = 1.345
    b, *_, status, _ = rr.fit_huber_ridge(X, y, 0.95, k, lam)
    s = rr.huber_scale(X, y, k)
    D = lam * np.diag([0.0, 1.0, 1.0, 1.0])

    def hess(v):
        inside = np.abs(y - X @ v) <= k * s
        return 2.0 * ((X.T * inside) @ X + D)

    ref = minimize(
        lambda v: rr.huber_ridge_objective(X, y, v, k, s, lam),
        np.zeros(4),
        jac=lambda v: 2.0 * rr.huber_ridge_gradient(X, y, v, k, s, lam),
        hess=hess,
        method="trust-exact",
        options={"gtol": 1e-12},
    )
    assert status == "ok" and ref.success
    np.testing.assert_allclose(b, ref.x, atol=1e-8, rtol=0)
    assert (np.abs(y - X @ b) > k * s).any()  # the linear part is in play, not ridge


def test_huber_ridge_is_ridge_once_no_residual_reaches_k():
    X, y = _collinear()
    b = rr.fit_huber_ridge(X, y, 0.95, 1e6, 5.0)[0]
    np.testing.assert_allclose(b, estimators.fit_ridge(X, y, 0.95, penalty=5.0)[0], atol=1e-10)


def _lad_kkt_from_primal(X, y, b, lam) -> bool:
    """Optimality of b alone: d = sign(r) off the zero residuals, d_E from stationarity there,
    |d_E| ≤ 1 (a convex problem: KKT is sufficient)."""
    r = y - X @ b
    zero = np.abs(r) <= 1e-9 * (1 + np.abs(y).max())
    grad = 2.0 * lam * np.r_[0.0, b[1:]] - X[~zero].T @ np.sign(r[~zero])
    dE, *_ = np.linalg.lstsq(X[zero].T, grad, rcond=None)
    return bool(np.abs(X[zero].T @ dE - grad).max() < 1e-7 and np.abs(dE).max() <= 1 + 1e-9)


@pytest.mark.parametrize("lam", [0.5, 5.0, 50.0])
def test_lad_ridge_meets_the_kkt_conditions_and_no_nearby_point_is_better(lam: float):
    X, y = _collinear()
    b, *_, status, _ = rr.fit_lad_ridge(X, y, 0.95, lam)
    assert status == "ok" and _lad_kkt_from_primal(X, y, b, lam)

    def obj(v):
        return np.abs(y - X @ v).sum() + lam * (v[1:] ** 2).sum()

    rng = np.random.default_rng(0)
    f = obj(b)
    assert all(obj(b + 1e-5 * rng.standard_normal(4)) >= f - 1e-12 for _ in range(200))
    # a derivative-free search started nearby (it may stall at a kink) finds nothing lower
    powell = minimize(obj, b + 0.1, method="Powell", options={"xtol": 1e-10, "ftol": 1e-14})
    assert powell.fun >= f - 1e-10


def test_lad_ridge_at_lambda_zero_is_lad_and_a_large_lambda_shrinks_the_slopes():
    X, y = _collinear()
    np.testing.assert_array_equal(
        rr.fit_lad_ridge(X, y, 0.95, 0.0)[0], estimators.fit_lad(X, y, 0.95)[0]
    )
    small, large = (rr.fit_lad_ridge(X, y, 0.95, lam)[0] for lam in (0.5, 500.0))
    assert np.abs(large[1:]).sum() < np.abs(small[1:]).sum()


def test_registered_as_loss_times_penalty_with_shorthands():
    for name, loss in (("huber_ridge", "huber"), ("lad_ridge", "absolute")):
        r = methods.resolve({"loss": loss, "penalty": "l2", "lambda": 3.0})
        assert r.method == name and r.params["penalty"] == 3.0
        assert r.fit.robust and not r.fit.intervals and r.fit.se == ("none",)
        assert methods.canonical({"method": name, "penalty": 3.0})["method"] == name


BASE = {
    "seed": 1,
    "replicates": 10,
    "defaults": {"n": 40},
    "scenarios": {"gm": {}},
    "estimators": {"ols": {"method": "ols"}},
}


@pytest.mark.parametrize(
    ("member", "field"),
    [
        ({"method": "huber_ridge", "penalty": -1}, "penalty"),
        ({"method": "lad_ridge", "k": 1.345}, "k"),
        ({"loss": "absolute", "penalty": "l2", "lambda": 1, "solver": "gd"}, "solver"),
    ],
)
def test_bad_members_stop_with_one_message_naming_the_field(member: dict, field: str):
    cfg = copy.deepcopy(BASE)
    cfg["estimators"]["m"] = member
    with pytest.raises(ConfigError, match=f"estimators.m.{field}'"):
        load_study(cfg)
    cfg["estimators"]["m"] = {"method": member.get("method", "lad_ridge"), "penalty": 2.0}
    assert load_study(cfg).estimators["m"]["penalty"] == 2.0
