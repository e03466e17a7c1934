"""Nonlinear scenarios: the uniform design, the mean functions, their validation and theory."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from lossstudy import responses
from lossstudy.assumptions import assumptions
from lossstudy.config import ConfigError, load_study
from lossstudy.dgp import simulate
from lossstudy.prediction import draw_test
from lossstudy.theory.exact import linear_dgp, linear_map, linear_moments

BASE = {"seed": 3, "replicates": 10, "estimators": {"ols": {"method": "ols"}}}
UNIFORM = {"design": {"distribution": "uniform"}, "coefficients": [0.0, 1.0]}


def study(scenario: dict) -> dict:
    cfg = copy.deepcopy(BASE)
    cfg["scenarios"] = {"s": scenario}
    return load_study(cfg).scenarios


def knobs_of(function: str, **extra) -> dict:
    sc = study({**copy.deepcopy(UNIFORM), "response": {"function": function}, **extra})
    return sc["s"].knobs


@pytest.mark.parametrize("name", list(responses.FUNCTIONS))
def test_exact_moments_match_quadrature(name: str):
    """E f and E[x f] of each function (the pseudo-true β comes from them) by a fine midpoint
    rule: the jumps of heavisine fall on cell edges of this grid, so the rule is accurate."""
    x = (np.arange(1_000_000) + 0.5) / 1_000_000
    f = responses.FUNCTIONS[name].f(x)
    assert responses.FUNCTIONS[name].mean == pytest.approx(f.mean(), abs=1e-9)
    assert responses.FUNCTIONS[name].cross == pytest.approx((x * f).mean(), abs=1e-9)


def test_heavisine_is_donoho_johnstone():
    x = np.array([0.1, 0.5, 0.8])
    expect = [4 * math.sin(4 * math.pi * v) - np.sign(v - 0.3) - np.sign(0.72 - v) for v in x]
    np.testing.assert_allclose(responses.FUNCTIONS["heavisine"].f(x), expect, rtol=0, atol=0)


@pytest.mark.parametrize("d", [1, 2, 3])
def test_grid_is_a_regular_midpoint_grid_of_at_least_1000_points(d: int):
    g = responses.grid(d)
    assert g.shape[0] >= 1000 and g.shape[1] == d + 1
    assert np.all(g[:, 0] == 1.0) and g[:, 1:].min() > 0 and g[:, 1:].max() < 1
    # midpoint rule: ∫ x₁² = ⅓ to O(1/k²)
    assert (g[:, 1] ** 2).mean() == pytest.approx(1 / 3, abs=1e-3)


def test_pseudo_true_is_the_best_linear_approximation():
    """β* minimises ∫(f − x'β)² on the grid (least squares on a fine grid recovers it)."""
    for name in responses.FUNCTIONS:
        k = knobs_of(name)
        g = np.column_stack([np.ones(200_000), (np.arange(200_000) + 0.5) / 200_000])
        ls = np.linalg.lstsq(g, responses.FUNCTIONS[name].f(g[:, 1]), rcond=None)[0]
        np.testing.assert_allclose(responses.pseudo_true(k), ls, atol=1e-6)


def _sigmoid(t: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-t))


@pytest.mark.parametrize("name", list(responses.FUNCTIONS))
def test_each_loss_has_its_own_projection_under_a_nonlinear_logit(name: str):
    """Under y ~ Bernoulli(σ(f(x))) the logistic projection zeroes the expected log-loss
    score E[(σ(f) − σ(a + bx))(1, x)] and the Brier projection the expected Brier gradient
    E[(σ(f) − p) p(1 − p)(1, x)], both on an independent fine midpoint grid; they differ, and
    a bernoulli scenario's true coefficients are the logistic one (the MLE's target)."""
    x = (np.arange(2_000_000) + 0.5) / 2_000_000
    s = _sigmoid(responses.FUNCTIONS[name].f(x))
    a, b = responses.logistic_projection(name)
    p = _sigmoid(a + b * x)
    assert abs(np.mean(s - p)) < 1e-9 and abs(np.mean((s - p) * x)) < 1e-9
    c, d = responses.brier_projection(name)
    q = _sigmoid(c + d * x)
    g = (s - q) * q * (1 - q)
    assert abs(np.mean(g)) < 1e-9 and abs(np.mean(g * x)) < 1e-9
    assert abs(a - c) + abs(b - d) > 0.04
    cfg = {**copy.deepcopy(BASE), "estimators": {"mle": {"method": "logit"}}}
    cfg["scenarios"] = {"s": {**UNIFORM, "response": {"family": "bernoulli", "function": name}}}
    k = load_study(cfg).scenarios["s"].knobs
    np.testing.assert_array_equal(responses.pseudo_true(k), [a, b])
    bayes = np.mean(np.minimum(s, 1 - s))
    assert responses.bayes_error(name) == pytest.approx(bayes, abs=2e-6)
    # the projection's own rule: sin(2πx) changes sign once, at ½, where the line does, so
    # the linear rule is the Bayes rule; heavisine changes sign five times, and it is not
    rule = np.mean(np.where(a + b * x > 0, 1 - s, s))
    assert rule == pytest.approx(bayes, abs=1e-12) if name == "sine" else rule > bayes + 0.1


def test_uniform_design_draws_f_plus_errors_and_splits_change_no_bit():
    k = knobs_of("heavisine", errors={"distribution": "t", "df": 2})
    k["design"]["fixed"] = False
    whole = simulate(k, 11, "s", 0, 9)
    parts = [simulate(k, 11, "s", a, b) for a, b in ((0, 4), (4, 9))]
    assert np.array_equal(whole.y, np.concatenate([p.y for p in parts]))
    assert np.array_equal(whole.X, np.concatenate([p.X for p in parts]))
    x = whole.X[:, :, 1]
    assert x.min() >= 0 and x.max() < 1 and np.all(whole.X[:, :, 0] == 1)
    # same streams, normal errors instead: the difference is the error draws only, so y − f(x)
    # of a scale-0.5 run is half that of the scale-1 run
    k1 = knobs_of("sine")
    k2 = knobs_of("sine", errors={"distribution": "normal", "scale": 0.5})
    d1, d2 = simulate(k1, 11, "s", 0, 3), simulate(k2, 11, "s", 0, 3)
    f = np.sin(2 * math.pi * d1.X[:, 1])
    np.testing.assert_allclose(d2.y - f, 0.5 * (d1.y - f), rtol=0, atol=1e-12)
    np.testing.assert_allclose(d1.beta, np.tile(responses.pseudo_true(k1), (3, 1)))


def test_test_samples_follow_the_uniform_law_and_the_same_mean():
    k = knobs_of("sine", errors={"distribution": "normal", "scale": 1e-9})
    data = simulate(k, 2, "s", 0, 2)
    t = draw_test(k, 2, "s", data.replicates, data.beta, 500)
    x = t.X[:, :, 1]
    assert x.min() >= 0 and x.max() < 1
    np.testing.assert_allclose(t.y, np.sin(2 * math.pi * x), atol=1e-7)


def test_linear_response_and_normal_design_keep_their_knobs():
    """Scenarios that use neither knob have the knobs they had before (no rerun of their jobs)."""
    k = study({})["s"].knobs
    assert "response" not in k and "inputs" not in k["design"]
    assert knobs_of("linear")["response"] == {"function": "linear"}
    assert knobs_of("linear")["design"]["inputs"] == 1


def test_response_function_is_sweepable():
    sc = study({**copy.deepcopy(UNIFORM), "sweep": {"response.function": ["sine", "heavisine"]}})
    assert {s.knobs["response"]["function"] for s in sc.values()} == {"sine", "heavisine"}


@pytest.mark.parametrize(
    ("scenario", "field", "says"),
    [
        ({"response": {"function": "cosine"}}, "response.function", "allowed values: linear"),
        ({"response": {"function": "sine"}}, "response.function", "needs a uniform design"),
        ({"design": {"distribution": "uniform"}}, "coefficients", "takes 2 coefficients"),
        ({**UNIFORM, "design": {"distribution": "uniform", "inputs": 0}}, "design.inputs", ">= 1"),
        ({"design": {"inputs": 2}}, "design.inputs", "belongs to a uniform design"),
        (
            {**UNIFORM, "design": {"distribution": "uniform", "correlation": 0.3}},
            "design.correlation",
            "normal design only",
        ),
        (
            {**UNIFORM, "response": {"function": "heavisine"}, "prior": {"tau": 1.0}},
            "prior.tau",
            "has none",
        ),
    ],
)
def test_bad_input_names_the_field(scenario: dict, field: str, says: str):
    with pytest.raises(ConfigError) as info:
        study(copy.deepcopy(scenario))
    assert f"'scenarios.s.{field}'" in str(info.value) and says in str(info.value)


def test_assumptions_and_exact_ols_bias_under_a_nonlinear_mean():
    """OLS on a fixed uniform design estimates (X'X)⁻¹X'f(x), not β*: the exact theory's mean
    (β* plus M times the misfit offset) agrees with the simulated mean within 4 MCSE."""
    k = knobs_of("heavisine", n=60)
    assert assumptions(k)["linearity"] == (False, "nonlinear mean: heavisine")
    dgp, why = linear_dgp(k, 3, "s")
    assert dgp is not None, why
    M, _ = linear_map({"method": "ols"}, dgp.X)
    mean, cov = linear_moments(M, dgp)
    data = simulate(k, 3, "s", 0, 400)
    est = data.y @ M.T - data.beta
    z = (est.mean(axis=0) - mean) / (est.std(axis=0, ddof=1) / math.sqrt(len(est)))
    assert np.all(np.abs(z) < 4), z
    assert np.abs(mean).max() > 0.05  # the fixed design's own bias is visible, not zero
    np.testing.assert_allclose(np.diag(cov), est.var(axis=0, ddof=1), rtol=0.3)
