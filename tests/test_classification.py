"""Classification: the bernoulli response, the logistic MLE and the Brier fit, exact and by
gradient, the classifier's scores on fresh data, and the config's refusals."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from lossstudy import response
from lossstudy.config import ConfigError, load_study
from lossstudy.dgp import Dataset, simulate
from lossstudy.losses import logistic
from lossstudy.training import engine
from lossstudy.training.engine import Solver, train
from lossstudy.training.losses import make_loss

BASE = {
    "seed": 3,
    "replicates": 32,
    "defaults": {"n": 200, "coefficients": [0.5, 1.0, -1.0]},
    "scenarios": {"gm": {}, "logistic": {"response": {"family": "bernoulli"}}},
    "estimators": {"ols": {"method": "ols"}, "mle": {"method": "logit"}},
}


def study(**changes):
    cfg = copy.deepcopy(BASE)
    cfg.update(copy.deepcopy(changes))
    return load_study(cfg)


def error_of(**changes) -> str:
    with pytest.raises(ConfigError) as info:
        study(**changes)
    return str(info.value)


def data(n: int = 200, R: int = 32, seed: int = 3) -> Dataset:
    sc = study(defaults={"n": n, "coefficients": [0.5, 1.0, -1.0]}).scenarios["logistic"]
    return simulate(sc.knobs, seed, "logistic", 0, R)


# --------------------------------------------------------------------------- response


def test_bernoulli_response_follows_the_logistic_model():
    """y is 0/1 with P(y = 1 | x) = σ(xβ): the mean of y − σ(xβ) is 0 within its MCSE."""
    d = data(n=500, R=64)
    assert set(np.unique(d.y)) == {0.0, 1.0}
    p = response.sigmoid(np.einsum("np,rp->rn", d.X, d.beta))
    resid = (d.y - p).ravel()
    assert abs(resid.mean()) < 4 * resid.std() / np.sqrt(resid.size)


def test_bernoulli_draws_do_not_depend_on_the_job_split():
    sc = study().scenarios["logistic"]
    whole = simulate(sc.knobs, 3, "logistic", 0, 20)
    parts = [simulate(sc.knobs, 3, "logistic", a, b) for a, b in ((0, 7), (7, 20))]
    assert np.array_equal(whole.y, np.concatenate([p.y for p in parts]))


def test_a_gaussian_scenario_draws_what_it_drew_before():
    """No ``response`` knob and ``family: gaussian`` give the same bits."""
    s = study(
        scenarios={"a": {}, "b": {"response": {"family": "gaussian"}}},
        estimators={"ols": {"method": "ols"}},
    )
    a = simulate(s.scenarios["a"].knobs, 3, "x", 0, 5)
    b = simulate(s.scenarios["b"].knobs, 3, "x", 0, 5)
    assert np.array_equal(a.y, b.y)


# --------------------------------------------------------------------------- exact fits


def test_batched_logit_equals_statsmodels():
    d = data(n=100, R=16)
    res = logistic.fit_logit_batched(d, {}, 0.9)
    assert (res.status == "ok").all()
    for r in range(16):
        beta, se, lo, hi, status, _ = logistic.fit_logit(d.X, d.y[r], 0.9)
        assert status == "ok"
        np.testing.assert_allclose(res.estimate[r], beta, rtol=0, atol=1e-8)
        np.testing.assert_allclose(res.std_error[r], se, rtol=0, atol=1e-8)
        np.testing.assert_allclose(res.ci_low[r], lo, rtol=0, atol=1e-8)
        np.testing.assert_allclose(res.ci_high[r], hi, rtol=0, atol=1e-8)


def test_logit_batches_do_not_change_bits():
    d = data(n=100, R=12)
    whole = logistic.fit_logit_batched(d, {}, 0.95).estimate
    half = logistic.fit_logit_batched(d.head(5), {}, 0.95).estimate
    assert np.array_equal(whole[:5], half)


def test_separated_classes_are_a_failed_fit_not_an_estimate():
    X = np.column_stack([np.ones(20), np.linspace(-1, 1, 20)])
    y = (X[:, 1] > 0).astype(float)[None]
    res = logistic.fit_logit_batched(Dataset(X, y, np.zeros((1, 2)), np.arange(1)), {}, 0.95)
    assert res.status[0] == "failed" and "separated" in res.message[0]
    assert np.isnan(res.estimate).all()


def test_brier_minimiser_is_a_stationary_point_of_the_brier_score():
    d = data(n=200, R=8)
    mle, _, _ = logistic.newton_logit(d.X, d.y)
    b = logistic.brier_minimiser(d.X, d.y, mle)
    for r in range(8):
        s = response.sigmoid(d.X @ b[r])
        grad = 2 * d.X.T @ ((s - d.y[r]) * s * (1 - s)) / len(s)
        assert np.abs(grad).max() < 1e-9
        assert not np.allclose(b[r], mle[r], atol=1e-3)  # a different estimator


# --------------------------------------------------------------------------- by gradient


def test_cross_entropy_by_gradient_reaches_statsmodels_logit():
    d = data(n=200, R=8)
    run = train(d.X, d.y, make_loss("cross_entropy"), Solver("gd", lr=2.0, steps=(3000,)))
    for r in range(8):
        beta, *_ = logistic.fit_logit(d.X, d.y[r], 0.95)
        np.testing.assert_allclose(run.coef[r, -1], beta, rtol=0, atol=1e-7)


def test_the_engine_objective_is_the_numpy_one():
    d = data(n=50, R=4)
    for loss in ("cross_entropy", "brier"):
        run = train(d.X, d.y, make_loss(loss), Solver("gd", lr=0.5, steps=(3, 40)))
        np.testing.assert_allclose(
            run.objective[:, 1], logistic.objective(loss, d.X, d.y, run.coef[:, 1]), rtol=1e-12
        )


def test_cross_entropy_escapes_a_saturated_start_where_brier_stalls():
    """From β₀ = (0, 10, …, 10) CE's gradient (σ − y)x stays large on the wrong side while
    Brier's carries σ(1 − σ) ≈ 0 there: after the same steps CE is at its minimiser and Brier
    is still far from its own."""
    d = data(n=200, R=16)
    mle, _, _ = logistic.newton_logit(d.X, d.y)
    brier_hat = logistic.brier_minimiser(d.X, d.y, mle)
    solver = Solver("gd", lr=1.0, steps=(100, 1000), init="saturated")
    ce = train(d.X, d.y, make_loss("cross_entropy"), solver)
    br = train(d.X, d.y, make_loss("brier"), solver)
    dist_ce = np.linalg.norm(ce.coef[:, -1] - mle, axis=1)
    dist_br = np.linalg.norm(br.coef[:, -1] - brier_hat, axis=1)
    assert np.median(dist_ce) < 0.05 < 1.0 < np.median(dist_br)
    assert (dist_ce < dist_br).all()
    # from a cold start both get there: the stall is the saturation's, not the loss's
    cold = train(d.X, d.y, make_loss("brier"), Solver("gd", lr=4.0, steps=(5000,)))
    assert np.median(np.linalg.norm(cold.coef[:, -1] - brier_hat, axis=1)) < 0.05


def test_both_proper_scores_target_the_true_coefficients():
    """Right model: the MLE and the Brier fit are both consistent; at n = 2000 their mean
    error is within 3 MCSE (plus the MLE's O(1/n) bias) of 0 for every coefficient."""
    R = 48
    d = data(n=2000, R=R, seed=11)
    mle, _, _ = logistic.newton_logit(d.X, d.y)
    brier_hat = logistic.brier_minimiser(d.X, d.y, mle)
    for est in (mle, brier_hat):
        err = est - d.beta
        mcse = err.std(axis=0, ddof=1) / np.sqrt(R)
        assert (np.abs(err.mean(axis=0)) < 3 * mcse + 0.01).all()
    # and the MLE is the more efficient of the two (Cramér–Rao)
    assert ((mle - d.beta).var(axis=0) < (brier_hat - d.beta).var(axis=0)).all()


def test_saturated_start_is_documented_once():
    assert engine.SATURATED_SLOPE == logistic.SATURATED_SLOPE
    np.testing.assert_array_equal(logistic.saturated_start(3), [0.0, 10.0, 10.0])


# --------------------------------------------------------------------------- config


def test_each_loss_is_fitted_where_it_models_the_response():
    s = study()
    assert list(s.estimators_in("gm")) == ["ols"]
    assert list(s.estimators_in("logistic")) == ["mle"]
    assert s.reference_in("gm") == "ols" and s.reference_in("logistic") == "mle"


@pytest.mark.parametrize(
    ("knob", "field"),
    [
        ({"errors": {"distribution": "t", "df": 3}}, "scenarios.logistic.errors"),
        ({"errors": {"scale": 2.0}}, "scenarios.logistic.errors"),
        ({"heteroskedasticity": {"strength": 1.0}}, "heteroskedasticity.strength"),
        ({"autocorrelation": {"phi": 0.5}}, "autocorrelation.phi"),
        ({"endogeneity": {"correlation": 0.3}}, "endogeneity.correlation"),
        ({"misspecification": {"strength": 0.3}}, "misspecification.strength"),
    ],
)
def test_error_knobs_of_a_bernoulli_response_are_refused(knob, field):
    scenarios = {"logistic": {"response": {"family": "bernoulli"}, **knob}}
    msg = error_of(scenarios=scenarios, estimators={"mle": {"method": "logit"}})
    assert "config error at '" in msg and field in msg and "bernoulli" in msg


def test_a_regression_loss_on_a_bernoulli_response_is_refused():
    msg = error_of(
        estimators={
            "mle": {"method": "logit"},
            "lad": {"method": "lad", "scenarios": ["logistic"]},
        }
    )
    assert "'estimators.lad.scenarios'" in msg and "bernoulli" in msg


def test_a_classification_loss_without_a_bernoulli_scenario_is_refused():
    msg = error_of(
        scenarios={"gm": {}}, estimators={"ols": {"method": "ols"}, "b": {"loss": "brier"}}
    )
    assert "'estimators.b'" in msg and "bernoulli" in msg


def test_unknown_family_and_bad_init_are_refused():
    msg = error_of(
        scenarios={"x": {"response": {"family": "poisson"}}}, estimators={"o": {"method": "ols"}}
    )
    assert "scenarios.x.response.family" in msg and "bernoulli" in msg
    msg = error_of(
        estimators={
            "ols": {"method": "ols"},
            "g": {"loss": "squared", "solver": "gd", "lr": 0.1, "steps": 5, "init": "saturated"},
        }
    )
    assert "estimators.g.init" in msg


def test_regression_theory_is_skipped_for_a_bernoulli_response():
    from lossstudy.theory import theory_table

    s = study()
    sc = s.scenarios["logistic"]
    table, skipped = theory_table({sc.id: sc.knobs}, 3, s.estimators, 0.95, {sc.id: pd.DataFrame()})
    assert table.empty
    assert skipped["scenario"].tolist() == ["logistic"] and "bernoulli" in skipped["reason"][0]
