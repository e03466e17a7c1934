"""Theory reproduced by the training engine, each within a stated Monte Carlo error multiple:
exact GD-L2 moments, the divergence threshold at c = 1 (and none for Huber and L1), SGD's
stationary risk on streaming Gaussian data, and the constant-step subgradient plateau of L1."""

from __future__ import annotations

import numpy as np
import pytest

from lossstudy.estimators import lad_lp
from lossstudy.training import Solver, make_loss, train
from lossstudy.training.closed_form import gd_squared_moments

Z = 4.0  # |estimate − theory| < Z MCSE


def test_gd_squared_moments_are_exact():
    """E β_k = A_k β and Var β_k = σ² A_k (X'X)⁻¹ A_k' at k = 1, 2, 5, 30, 200, fixed design, 400
    replicates of normal errors: mean and variance of every coefficient within 4 MCSE."""
    rng = np.random.default_rng(11)
    n, p, R, sigma = 40, 3, 400, 1.5
    X = np.column_stack([np.ones(n), rng.standard_normal((n, p - 1))])
    beta = np.array([1.0, -2.0, 0.5])
    y = X @ beta + sigma * rng.standard_normal((R, n))
    out = train(X, y, make_loss("squared"), Solver("gd", lr_relative=0.2, steps=[1, 2, 5, 30, 200]))
    for k, steps in enumerate(out.steps):
        mean, cov = gd_squared_moments(X, beta, sigma, out.lr[0], int(steps))
        var = np.diag(cov)
        coef = out.coef[:, k]
        assert np.all(np.abs(coef.mean(0) - mean) < Z * np.sqrt(var / R))
        # normal errors: the sample variance has relative MCSE √(2/(R − 1))
        assert np.all(np.abs(coef.var(0, ddof=1) / var - 1) < Z * np.sqrt(2 / (R - 1)))
    # not yet converged at k = 2: the mean is visibly shrunk towards 0 (the test can tell)
    mean2, cov2 = gd_squared_moments(X, beta, sigma, out.lr[0], 2)
    assert np.max(np.abs(mean2 - beta) / np.sqrt(np.diag(cov2) / R)) > 10 * Z


def _huber_exact(X: np.ndarray, y: np.ndarray, delta: float) -> np.ndarray:
    """The minimiser of mean Huber(y − Xβ) with fixed δ, independently of GD: IRLS (weights
    min(1, δ/|r|)) to get close, then Newton steps on the inlier set until that set no longer
    changes (then the solution is exact)."""
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    for _ in range(50):
        w = np.minimum(1.0, delta / np.maximum(np.abs(y - X @ beta), 1e-300))
        beta = np.linalg.solve(X.T @ (w[:, None] * X), X.T @ (w * y))
    for _ in range(20):
        inl = np.abs(y - X @ beta) <= delta
        r = y - X @ beta
        beta = beta + np.linalg.solve(X[inl].T @ X[inl], X.T @ np.clip(r, -delta, delta))
        if np.array_equal(np.abs(y - X @ beta) <= delta, inl):
            return beta
    raise AssertionError("Newton did not settle")


def test_divergence_threshold_is_c_equal_one_for_l2_only():
    """Issue 20's table: fixed design, n = 100, t(3) errors, 300 replicates, η = c·2/λ_max.
    Squared loss: no replicate diverges at c = 0.99, all at c = 1.01 (by 3000 steps; by 1000
    steps nearly all), all at c = 1.1 by 1000 steps. Huber and absolute: none at any c, Huber
    exact at c = 1.01."""
    rng = np.random.default_rng(20)
    n, p, R = 100, 5, 300
    X = np.column_stack([np.ones(n), rng.standard_normal((n, p - 1))])
    y = X @ np.ones(p) + rng.standard_t(3, (R, n))
    share = {}
    for name in ("squared", "huber", "absolute"):
        loss = make_loss(name, delta=1.345) if name == "huber" else make_loss(name)
        for c in (0.99, 1.01, 1.1, 2.0, 10.0):
            steps = [1000, 3000] if name == "squared" and c < 2 else [1000]
            out = train(X, y, loss, Solver("gd", lr_relative=c, steps=steps))
            share[name, c] = list(out.diverged.mean(axis=0))
            if name == "huber" and c == 1.01:
                exact = np.array([_huber_exact(X, yr, 1.345) for yr in y])
                assert np.abs(out.coef[:, 0] - exact).max() < 1e-10
    assert share["squared", 0.99] == [0, 0]
    assert share["squared", 1.01][0] >= 0.95 and share["squared", 1.01][1] == 1
    assert share["squared", 1.1] == [1, 1]
    assert share["squared", 2.0] == share["squared", 10.0] == [1]
    for name in ("huber", "absolute"):
        assert all(share[name, c] == [0] for c in (0.99, 1.01, 1.1, 2.0, 10.0)), name


@pytest.mark.parametrize(("lr", "b"), [(0.1, 1), (0.3, 4)])
def test_sgd_stationary_risk_on_streaming_gaussian_data(lr: float, b: int):
    """x ~ N(0, I_d), no intercept, batch b, constant η: E‖β − β*‖² = ηdσ²/(2b − η(b + d + 1)).
    One epoch over n = 600 b fresh rows is streaming; from 200 steps on the chain is
    stationary (contraction 1 − 2η + η²(1 + (d + 1)/b) per step). Per replicate the mean over
    four checkpoints; over 400 replicates within 4 MCSE."""
    rng = np.random.default_rng(3 + b)
    d, R, sigma = 3, 400, 1.0
    n = 600 * b
    X = rng.standard_normal((R, n, d))
    beta = np.ones(d)
    y = X @ beta + sigma * rng.standard_normal((R, n))
    rngs = [np.random.default_rng([9, r]) for r in range(R)]
    steps = [300, 400, 500, 600]
    out = train(X, y, make_loss("squared"), Solver("sgd", lr=lr, batch_size=b, steps=steps), rngs)
    err = ((out.coef - beta) ** 2).sum(axis=2).mean(axis=1)
    theory = lr * d * sigma**2 / (2 * b - lr * (b + d + 1))
    mcse = err.std(ddof=1) / np.sqrt(R)
    assert abs(err.mean() - theory) < Z * mcse, (err.mean(), theory, mcse)
    assert mcse < 0.1 * theory  # precise enough to tell the formula from ηdσ²/(2b)
    assert abs(lr * d * sigma**2 / (2 * b) - theory) > Z * mcse


def test_constant_step_subgradient_on_l1_plateaus_below_g2_eta_over_2():
    """GD on the absolute loss with constant η: f_best − f* ≤ G²η/2 in the limit (G = mean
    ‖x_i‖, f* from the LAD LP). The plateau is reached (best of the late checkpoints below the
    bound for every replicate) but the iterates do not settle on f* (the gap stays positive),
    and a 4 times smaller step gives a lower plateau."""
    rng = np.random.default_rng(5)
    n, p, R = 100, 3, 20
    X = np.column_stack([np.ones(n), rng.standard_normal((n, p - 1))])
    y = X @ np.ones(p) + rng.standard_t(3, (R, n))
    fstar = np.array([np.mean(np.abs(yr - X @ lad_lp(X, yr)[0])) for yr in y])
    G = np.linalg.norm(X, axis=1).mean()
    steps = list(range(15000, 20001, 250))
    plateau = {}
    for eta in (0.02, 0.005):
        out = train(X, y, make_loss("absolute"), Solver("gd", lr=eta, steps=steps))
        gap = out.objective - fstar[:, None]
        assert gap.min() > 0  # the LP optimum is the minimum; constant steps never reach it
        best = gap.min(axis=1)
        assert np.all(best <= G**2 * eta / 2), (best.max(), G**2 * eta / 2)
        plateau[eta] = gap.mean()
    assert plateau[0.005] < plateau[0.02] / 2


@pytest.mark.parametrize("lr", [0.6, 0.8])
def test_sgd_mean_square_recursion_on_both_sides_of_its_threshold(lr: float):
    """Streaming SGD, x ~ N(0, I_d), batch b: m_k = E‖β_k − β*‖² obeys m_{k+1} = a m_k + η²dσ²/b,
    a = 1 − 2η + η²(b + d + 1)/b (E[(xx')²] = (d + 2)I), so it is mean-square stable iff
    a < 1 ⇔ η < 2b/(b + d + 1) (= 2/3 at d = 3, b = 2). At η = 0.6 (a = 0.88) and η = 0.8
    (a = 1.32: m_k grows geometrically) m_k = a^k‖β‖² + η²dσ²/b · (1 − a^k)/(1 − a) at
    k = 5, 10, 20 from β₀ = 0, within 4 MCSE over 4000 replicates. (Above the threshold the
    iterates are heavy-tailed, so at k = 20 the MCSE is rough; k = 5 carries the power.)"""
    d, b, sigma, R = 3, 2, 1.0, 4000
    k_max = 20
    rng = np.random.default_rng(31)
    X = rng.standard_normal((R, k_max * b, d))
    beta = np.array([1.0, -0.5, 0.25])
    y = X @ beta + sigma * rng.standard_normal((R, k_max * b))
    rngs = [np.random.default_rng([17, r]) for r in range(R)]
    steps = [5, 10, 20]
    out = train(X, y, make_loss("squared"), Solver("sgd", lr=lr, batch_size=b, steps=steps), rngs)
    assert not out.diverged.any()
    a = 1 - 2 * lr + lr**2 * (b + d + 1) / b
    noise = lr**2 * d * sigma**2 / b
    assert (a < 1) == (lr < 2 * b / (b + d + 1))
    for i, k in enumerate(steps):
        err = ((out.coef[:, i] - beta) ** 2).sum(axis=1)
        theory = a**k * (beta @ beta) + noise * (1 - a**k) / (1 - a)
        mcse = err.std(ddof=1) / np.sqrt(R)
        assert abs(err.mean() - theory) < Z * mcse, (k, err.mean(), theory, mcse)
        if k == 5:  # power: E[(xx')²] = (d + 1)I (a slip of one) is rejected
            a1 = a - lr**2 / b
            slip = a1**k * (beta @ beta) + noise * (1 - a1**k) / (1 - a1)
            assert abs(err.mean() - slip) > Z * mcse
    if a > 1:  # growing, and visibly so
        assert theory > 50 * (beta @ beta)
