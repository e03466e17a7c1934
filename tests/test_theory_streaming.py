"""Streaming SGD on the squared loss (lossstudy.theory.streaming): the exact mean and
second-moment recursions against the published stationary risk and against the training engine
on the study's own random designs, and the theory rows the study writes for such members."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from lossstudy import theory
from lossstudy.config import BUILTIN_DEFAULTS, deep_merge, term_names
from lossstudy.dgp import simulate
from lossstudy.seeding import training_rng
from lossstudy.theory.streaming import (
    design_moments,
    mean_square_limit,
    sgd_moments,
    stationary_risk,
)
from lossstudy.training import Solver, make_loss, train

Z = 4.0
SEED = 20261204


@pytest.mark.parametrize(("d", "b", "lr"), [(3, 1, 0.1), (3, 4, 0.3), (5, 2, 0.2), (1, 1, 0.5)])
def test_stationary_risk_is_the_published_formula_for_isotropic_gaussian_x(d, b, lr):
    """x ~ N(0, I_d), no intercept: lim E‖β_t − β*‖² = ηdσ²/(2b − η(b + d + 1)), finite iff
    η < 2b/(b + d + 1), and the recursion reaches the limit."""
    H, T = design_moments(d, 0.0, intercept=False)
    sigma2 = 1.7
    formula = lr * d * sigma2 / (2 * b - lr * (b + d + 1))
    assert stationary_risk(H, T, sigma2, lr, b) == pytest.approx(formula, rel=1e-12)
    assert mean_square_limit(H, T, b) == pytest.approx(2 * b / (b + d + 1), rel=1e-9)
    assert stationary_risk(H, T, sigma2, 1.01 * 2 * b / (b + d + 1), b) == float("inf")
    _, S = sgd_moments(H, T, sigma2, lr, b, [3000], np.ones(d), np.ones((d, d)))
    assert np.trace(S[-1]) == pytest.approx(formula, rel=1e-9)


def test_design_moments_are_isserlis_for_the_studys_design():
    """H and the fourth moments of x = (1, z), z ~ N(0, C) equicorrelated, against a large
    sample drawn as the study draws its designs."""
    from lossstudy.dgp import equicorrelation_root

    p, rho = 4, 0.5
    H, T = design_moments(p, rho)
    rng = np.random.default_rng(1)
    z = rng.standard_normal((400_000, p - 1)) @ equicorrelation_root(p - 1, rho)
    x = np.column_stack([np.ones(len(z)), z])
    assert np.allclose(H, x.T @ x / len(x), atol=0.01)
    S = np.array([[1.0, 0.3, 0, 0], [0.3, 2.0, -0.5, 0], [0, -0.5, 1.0, 0.2], [0, 0, 0.2, 0.5]])
    q = np.einsum("ij,ij->i", x @ S, x)  # x'Sx
    sample = (x * q[:, None]).T @ x / len(x)
    assert np.allclose(np.einsum("ijkl,jk->il", T, S), sample, rtol=0.03, atol=0.03)


def _knobs(**over: Any) -> dict[str, Any]:
    base = {
        "n": 400,
        "coefficients": [1.0, 2.0, -1.0],
        "design": {"fixed": False, "correlation": 0.5},
        "errors": {"distribution": "t", "df": 5},
    }
    return deep_merge(deep_merge(BUILTIN_DEFAULTS, base), over)


def test_the_engine_follows_the_recursions_on_the_studys_random_design():
    """SGD, b = 2, η = 0.15, one pass over n = 400 fresh rows of the study's design (intercept,
    correlation 0.5) with t(5) errors (σ² = 5/3; only σ² enters): bias, MSE of every term and
    E‖β_k − β‖² at k = 5, 40, 200 within 4 MCSE over 2000 replicates. Power: dropping the
    fourth-moment term of the recursion (Gaussian-noise SGD) is rejected at k = 40."""
    knobs = _knobs()
    R, b, lr, steps = 2000, 2, 0.15, [5, 40, 200]
    data = simulate(knobs, SEED, "stream", 0, R)
    rngs = [training_rng(SEED, "stream", int(r)) for r in data.replicates]
    out = train(
        data.X, data.y, make_loss("squared"), Solver("sgd", lr=lr, batch_size=b, steps=steps), rngs
    )
    assert not out.diverged.any()
    beta = np.asarray(knobs["coefficients"], float)
    H, T = design_moments(3, 0.5)
    sigma2 = 5 / 3
    m, S = sgd_moments(H, T, sigma2, lr, b, steps, -beta, np.outer(beta, beta))
    for i, _k in enumerate(steps):
        e = out.coef[:, i] - beta
        for j in range(3):
            mcse = e[:, j].std(ddof=1) / np.sqrt(R)
            assert abs(e[:, j].mean() - m[i, j]) < Z * mcse, (i, j)
            sq = e[:, j] ** 2
            assert abs(sq.mean() - S[i, j, j]) < Z * sq.std(ddof=1) / np.sqrt(R), (i, j)
        risk = (e**2).sum(axis=1)
        mcse = risk.std(ddof=1) / np.sqrt(R)
        assert abs(risk.mean() - np.trace(S[i])) < Z * mcse, (i, risk.mean(), np.trace(S[i]))
    # the slip: treat the minibatch Hessian as exact (no fourth moments)
    _, S_slip = sgd_moments(H, np.zeros_like(T), sigma2, lr, b, steps, -beta, np.outer(beta, beta))
    risk = ((out.coef[:, 1] - beta) ** 2).sum(axis=1)
    assert abs(risk.mean() - np.trace(S_slip[1])) > Z * risk.std(ddof=1) / np.sqrt(R)


def _spec(loss: str, lr: float, **kw: Any) -> dict[str, Any]:
    out = {
        "method": f"{loss}-sgd",
        "loss": loss,
        "penalty": "none",
        "solver": "sgd",
        "se": "none",
        "lr_relative": None,
        "lr": lr,
        "steps": None,
        "epochs": 1,
        "batch_size": 1,
        "schedule": "constant",
        "average": False,
        "init": "zeros",
        "betas": [0.9, 0.999],
        "eps": 1e-8,
    }
    if loss == "huber":
        out["delta"] = 1.345
    out.update(kw)
    return out


def _estimates(sid: str, knobs: dict[str, Any], members: dict[str, Any], R: int) -> pd.DataFrame:
    data = simulate(knobs, SEED, sid, 0, R)
    terms = term_names(data.beta.shape[1])
    frames = []
    for name, s in members.items():
        rngs = [training_rng(SEED, sid, int(r)) for r in data.replicates]
        loss = make_loss(s["loss"], delta=s.get("delta"))
        solver = Solver("sgd", lr=s["lr"], batch_size=1, epochs=1)
        out = train(data.X, data.y, loss, solver, rngs)
        coef, dead = out.coef[:, 0], out.diverged[:, 0]
        frames.append(
            pd.DataFrame(
                {
                    "scenario": sid,
                    "replicate": np.repeat(data.replicates, len(terms)),
                    "estimator": name,
                    "method": s["method"],
                    "term": terms * R,
                    "true_value": data.beta.ravel(),
                    "estimate": coef.ravel(),
                    "status": np.repeat(np.where(dead, "diverged", "ok"), len(terms)),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_theory_rows_for_streaming_sgd():
    """One pass of single-row SGD over a random design (n = 200, normal errors): below the
    mean-square limit, bias/EmpSE/MSE per term and the risk are exact and none is flagged;
    past it (η = 0.6) only the divergence bound is given, with the reason; a bounded-gradient
    loss (Huber) gets a divergence bound of 0 for practical purposes; on a fixed design or
    with rows reused, the moments are skipped with the reason."""
    knobs = _knobs(n=200, errors={"distribution": "normal", "df": None})
    members = {
        "sgd_a": _spec("squared", 0.05),
        "sgd_b": _spec("squared", 0.25),
        "sgd_past": _spec("squared", 0.6),
        "sgd_huber": _spec("huber", 0.6),
    }
    R = 1500
    checks, skipped = theory.scenario_checks("stream", knobs, SEED, members, 0.95)
    est = _estimates("stream", knobs, members, R)
    tab = theory.compare("stream", checks, est, None, term_names(3))
    rows = tab[tab.estimator.isin(["sgd_a", "sgd_b"])]
    assert set(rows.quantity) == {"bias", "empse", "mse", "risk", "divergence"}
    exact = rows[rows.relation == "="]
    assert len(exact) == 2 * (3 * 3 + 1) and not exact.flag.any(), exact.to_string()
    assert exact.z.abs().max() < 3.5
    # past half the mean-square limit the second-moment rows are shown, not tested
    H, T = design_moments(3, 0.5)
    edge = mean_square_limit(H, T, 1)
    assert 0.05 < 0.5 * edge < 0.25 < edge
    second = exact.quantity.isin(["empse", "mse", "risk"])
    late = exact[second & (exact.estimator == "sgd_b")]
    assert len(late) == 7 and late.note.str.contains("shown, not tested").all()
    early = exact[second & (exact.estimator == "sgd_a")]
    assert not early.note.str.contains("not tested").any()
    past = tab[tab.estimator == "sgd_past"]
    assert list(past.quantity) == ["divergence"]
    assert any(s["estimator"] == "sgd_past" and "mean-square limit" in s["reason"] for s in skipped)
    assert (est[est.estimator == "sgd_past"].status == "diverged").any()  # it does blow up
    hub = tab[tab.estimator == "sgd_huber"]
    assert list(hub.quantity) == ["divergence"] and hub.theoretical.iloc[0] < 1e-12
    assert not hub.flag.any()
    fixed = deep_merge(knobs, {"design": {"fixed": True}})
    _, skipped = theory.scenario_checks("stream", fixed, SEED, {"a": members["sgd_a"]}, 0.95)
    assert any("fixed design" in s["reason"] for s in skipped)
    twice = {"a": _spec("squared", 0.05, epochs=2)}
    checks, skipped = theory.scenario_checks("stream", knobs, SEED, twice, 0.95)
    assert not checks and any("reuse rows" in s["reason"] for s in skipped)


def test_an_untested_row_shows_its_z_and_is_never_flagged():
    from lossstudy.theory.checks import Check

    est = pd.DataFrame(
        {
            "scenario": "s",
            "replicate": np.repeat(np.arange(50), 1),
            "estimator": "a",
            "method": "ols",
            "term": "intercept",
            "true_value": 0.0,
            "estimate": np.random.default_rng(0).standard_normal(50),
            "status": "ok",
        }
    )
    far = [Check("a", "intercept", "mse", 50.0, "=", "exact", "n", tested=t) for t in (True, False)]
    tab = theory.compare("s", far, est, None, ["intercept"])
    assert list(tab.flag) == [True, False] and tab.z.iloc[0] == tab.z.iloc[1] < -10
