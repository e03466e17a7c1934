"""The L1 penalty trained by gradient steps: the proximal solvers reach the study's exact lasso
(λ on the RSS scale, α = λ/(2n) in the engine), only they give exact zeros, a member's bits do
not depend on the job split, and a config member validates (bad ones: one message naming the
field)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from lossstudy import methods
from lossstudy.config import BUILTIN_DEFAULTS, ConfigError, load_study
from lossstudy.dgp import simulate
from lossstudy.training import Solver, make_loss, train
from lossstudy.training import l1 as l1_penalty
from lossstudy.training.fit import fit_trained

SEED, SCENARIO = 5, "train_sparse"
LAM = 20.0


def _sparse(n: int = 30, R: int = 3, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.standard_normal((n, 4))])
    return X, X @ np.array([1.0, 2.0, 0.0, 0.0, 0.5]) + rng.standard_normal((R, n))


def _train(X, y, name: str, steps, **kw) -> np.ndarray:
    alpha = l1_penalty.engine_weight("squared", LAM, X.shape[0])
    solver = Solver(name, lr_relative=0.5, steps=steps, l1=alpha, **kw)
    return train(X, y, make_loss("squared"), solver).coef


def test_the_engines_objective_is_the_lassos_divided_by_2n():
    X, y = _sparse()
    b = np.random.default_rng(2).standard_normal((y.shape[0], X.shape[1]))
    rss = ((y - b @ X.T) ** 2).sum(axis=1) + LAM * np.abs(b[:, 1:]).sum(axis=1)
    np.testing.assert_allclose(l1_penalty.objective(X, y, b, LAM), rss / (2 * X.shape[0]))


@pytest.mark.parametrize("name", ["ista", "fista"])
def test_the_proximal_iterate_is_the_exact_lasso_with_its_exact_zeros(name: str):
    X, y = _sparse()
    lasso = l1_penalty.minimiser(X, y, LAM)  # certified coordinate descent, the study's lasso
    assert (lasso[:, 1:] == 0).any() and (lasso[:, 1:] != 0).any()
    coef = _train(X, y, name, [3000])[:, -1]
    np.testing.assert_allclose(coef, lasso, atol=1e-6, rtol=0)
    np.testing.assert_array_equal(coef == 0, lasso == 0)  # the same support, zeros exact


@pytest.mark.parametrize("schedule", ["constant", "inv_sqrt"])
def test_the_subgradient_method_never_lands_on_zero(schedule: str):
    X, y = _sparse()
    lasso = l1_penalty.minimiser(X, y, LAM)
    coef = _train(X, y, "gd", [100, 3000], schedule=schedule)
    assert (coef[:, :, 1:] != 0).all()  # not one exact zero at any checkpoint
    # yet it heads for the lasso: closer at 3000 steps than at 100
    dist = np.abs(coef - lasso[:, None, :]).max(axis=(0, 2))
    assert dist[1] < dist[0]


def test_the_unpenalised_solvers_ignore_a_zero_weight():
    X, y = _sparse()
    plain = train(X, y, make_loss("squared"), Solver("gd", lr_relative=0.5, steps=[50])).coef
    ista0 = train(X, y, make_loss("squared"), Solver("ista", lr_relative=0.5, steps=[50])).coef
    np.testing.assert_allclose(ista0, plain, rtol=1e-13, atol=1e-13)


KNOBS = copy.deepcopy(BUILTIN_DEFAULTS) | {"n": 30}
MEMBERS = {
    f"{s}-steps{k}": methods.canonical(
        {"loss": "squared", "penalty": "l1", "lambda": LAM, "solver": s, "lr_relative": 0.5}
        | {"steps": k}
    )
    for s in ("gd", "ista", "fista")
    for k in (20, 2000)
}


def test_a_members_bits_do_not_depend_on_the_job_split():
    knobs = copy.deepcopy(KNOBS)
    knobs["design"]["fixed"] = False  # a design per replicate: η and λ/(2n) per replicate

    def run(lo: int, hi: int):
        return fit_trained(simulate(knobs, SEED, SCENARIO, lo, hi), MEMBERS, SEED, SCENARIO)

    whole, parts = run(0, 7), [run(0, 2), run(2, 7)]
    for name in MEMBERS:
        for field in ("estimate", "opt_diff", "objective_gap"):
            joined = np.concatenate([getattr(p[name], field) for p in parts])
            assert np.array_equal(joined, getattr(whole[name], field), equal_nan=True)
    late = whole["fista-steps2000"]
    assert np.abs(late.opt_diff).max() < 1e-6 and np.abs(late.objective_gap).max() < 1e-12
    assert (whole["gd-steps2000"].estimate[:, 1:] != 0).all()


BASE = {
    "seed": 1,
    "replicates": 10,
    "defaults": {"n": 40},
    "scenarios": {"gm": {}},
    "estimators": {"ols": {"method": "ols"}},
}
GOOD = {"loss": "squared", "penalty": "l1", "lambda": 5, "solver": "ista", "lr_relative": 0.5}


def _study(**member):
    cfg = copy.deepcopy(BASE)
    cfg["estimators"]["lasso_gd"] = member
    return load_study(cfg)


def test_a_config_member_validates_and_is_stored_with_lambda_and_its_solver():
    study = _study(**GOOD, steps=[10, 100])
    spec = study.estimators["lasso_gd-steps100"]
    assert spec["penalty"] == "l1" and spec["solver"] == "ista" and spec["lambda"] == 5
    fit = methods.fit_for(spec)
    assert fit.trained and fit.selects and not fit.intervals


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"loss": "absolute"}, "solver"),  # no proximal fit of the absolute loss
        ({"penalty": "none"}, "solver"),  # ista is the L1 penalty's solver
        ({"solver": "sgd"}, "solver"),  # the L1 penalty trains by gd, ista or fista
        ({"batch_size": 8}, "batch_size"),  # proximal solvers are full batch
        ({"lambda": -1}, "lambda"),
        ({"lr_relative": None}, "lr_relative"),  # neither lr nor lr_relative
    ],
)
def test_bad_combinations_stop_with_one_message_naming_the_field(change: dict, field: str):
    member = {**GOOD, "steps": 10, **change}
    member = {k: v for k, v in member.items() if v is not None}
    with pytest.raises(ConfigError) as info:
        _study(**member)
    assert f"at 'estimators.lasso_gd.{field}'" in str(info.value), str(info.value)
