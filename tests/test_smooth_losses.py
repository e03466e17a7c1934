"""pseudo_huber and log_cosh: the exact (Newton) fits equal an independent optimiser, the
batched fit equals the reference, and job splits do not change a bit."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy.optimize import minimize, root

from lossstudy import methods
from lossstudy.config import BUILTIN_DEFAULTS, deep_merge, load_study
from lossstudy.dgp import Dataset, simulate
from lossstudy.estimators import OK, fit_dataset
from lossstudy.losses import log_cosh, pseudo_huber
from lossstudy.vectorized import fit_dataset_vectorized

LEVEL = 0.90
MODULES = {"pseudo_huber": (pseudo_huber, "delta"), "log_cosh": (log_cosh, "scale")}
SPECS = {
    "pseudo_huber": {"loss": "pseudo_huber"},
    "pseudo_huber_d03": {"loss": "pseudo_huber", "delta": 0.3},
    "log_cosh": {"loss": "log_cosh"},
    "log_cosh_c2": {"loss": "log_cosh", "scale": 2.0, "se": "none"},
}
CASES = {
    "normal-fixed": {"n": 40},
    "t2-random": {"n": 60, "design": {"fixed": False}, "errors": {"distribution": "t", "df": 2}},
    "cauchy-fixed": {"n": 25, "errors": {"distribution": "cauchy"}},
    "contaminated-random-n8": {
        "n": 8,
        "design": {"fixed": False},
        "errors": {"distribution": "contaminated", "fraction": 0.2, "outlier_scale": 10.0},
    },
}


def data_of(case: str, start: int = 0, stop: int = 12) -> Dataset:
    knobs = deep_merge(BUILTIN_DEFAULTS, CASES[case])
    return simulate(knobs, 11, case, start, stop)


def independent(loss: str, value: float, X: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
    """scipy's trust-region Newton from 0, and that optimum polished by a root finder on the
    gradient (the objective's rounding noise stops any minimiser near 1e-8 in β)."""
    module, name = MODULES[loss]
    kw = {name: value}

    def f(b):
        return module._rho(y - X @ b, **kw).sum()

    def grad(b):
        return -X.T @ module._psi(y - X @ b, **kw)

    def hess(b):
        return (X.T * module._dpsi(y - X @ b, **kw)) @ X

    opt = minimize(f, np.zeros(X.shape[1]), jac=grad, hess=hess, method="trust-exact",
                   options={"gtol": 1e-13})  # fmt: skip
    polished = root(grad, opt.x, jac=hess, method="hybr", options={"xtol": 1e-15})
    return opt.x, polished.x


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("name", SPECS)
def test_reference_equals_an_independent_optimiser(case: str, name: str) -> None:
    spec = methods.canonical(SPECS[name])
    loss = spec["loss"]
    value = spec[MODULES[loss][1]]
    data = data_of(case)
    ref = fit_dataset(data, spec, LEVEL)
    assert list(ref.status) == [OK] * len(ref.status)
    for i in range(len(ref.status)):
        X = data.design(i)
        coarse, fine = independent(loss, value, X, data.y[i])
        scale = 1.0 + np.abs(fine).max()
        assert np.abs(ref.estimate[i] - fine).max() <= 1e-10 * scale
        if X.shape[0] >= 25:  # at n = 8 the objective's noise leaves minimize ~5e-8 off
            assert np.abs(ref.estimate[i] - coarse).max() <= 1e-8 * scale


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("name", SPECS)
def test_batched_equals_reference(case: str, name: str) -> None:
    spec = methods.canonical(SPECS[name])
    data = data_of(case)
    vec, ref = fit_dataset_vectorized(data, spec, LEVEL), fit_dataset(data, spec, LEVEL)
    assert list(vec.status) == list(ref.status)
    for field in ("estimate", "std_error", "ci_low", "ci_high"):
        a, b = getattr(vec, field), getattr(ref, field)
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10, equal_nan=True, err_msg=field)
    if spec["se"] == "none":
        assert np.isnan(vec.ci_low).all() and np.isnan(vec.std_error).all()
    else:
        z = np.abs(vec.ci_high - vec.estimate) / vec.std_error
        np.testing.assert_allclose(z, 1.6448536269514722, rtol=1e-12)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("name", ["pseudo_huber", "log_cosh"])
def test_results_do_not_depend_on_how_replicates_are_split(case: str, name: str) -> None:
    spec = methods.canonical(SPECS[name])
    whole = fit_dataset_vectorized(data_of(case, 0, 45), spec, LEVEL)
    parts = [
        fit_dataset_vectorized(data_of(case, a, b), spec, LEVEL)
        for a, b in ((0, 1), (1, 14), (14, 45))
    ]
    for name in ("estimate", "std_error", "ci_low", "ci_high", "status"):
        joined = np.concatenate([getattr(part, name) for part in parts])
        np.testing.assert_array_equal(joined, getattr(whole, name), err_msg=name)


def test_non_finite_and_rank_deficient_replicates_get_the_reference_status() -> None:
    data = data_of("normal-fixed", 0, 4)
    X = np.array(data.stacked_design())
    y = data.y.copy()
    y[1, 3] = np.nan
    X[2, :, 2] = X[2, :, 1]  # two equal columns
    broken = Dataset(X, y, data.beta, data.replicates)
    spec = methods.canonical({"loss": "log_cosh"})
    vec, ref = fit_dataset_vectorized(broken, spec, LEVEL), fit_dataset(broken, spec, LEVEL)
    assert list(vec.status) == list(ref.status) == [OK, "failed", "failed", OK]
    np.testing.assert_allclose(vec.estimate, ref.estimate, rtol=1e-9, equal_nan=True)


def test_a_small_delta_is_near_lad_and_a_large_one_near_ols() -> None:
    data = data_of("t2-random", 0, 3)
    ols = fit_dataset(data, {"method": "ols"}, LEVEL).estimate
    lad = fit_dataset(data, {"method": "lad"}, LEVEL).estimate
    big = fit_dataset(data, methods.canonical({"loss": "pseudo_huber", "delta": 1e4}), LEVEL)
    small = fit_dataset(data, methods.canonical({"loss": "pseudo_huber", "delta": 1e-4}), LEVEL)
    assert np.abs(big.estimate - ols).max() < 1e-4
    assert np.abs(small.estimate - lad).max() < 0.05


def test_config_words_and_parameters() -> None:
    study = load_study(
        {
            "seed": 1,
            "replicates": 10,
            "scenarios": {"s": {}},
            "estimators": {
                "ols": {"method": "ols"},
                "ph": {"loss": "pseudo_huber", "sweep": {"delta": [0.5, 2]}},
                "lc": {"loss": "log_cosh", "scale": 2.0, "se": "none"},
            },
        }
    )
    assert list(study.estimators) == ["ols", "ph-delta0.5", "ph-delta2", "lc"]
    assert study.estimators["lc"] == {
        "method": "log_cosh",
        "loss": "log_cosh",
        "penalty": "none",
        "solver": "exact",
        "se": "none",
        "scale": 2.0,
    }
    table = methods.estimators_table(study).set_index("estimator")
    assert table.loc["ph-delta2", "delta"] == 2 and table.loc["lc", "delta"] == ""
    assert table.loc["ph-delta2", "loss_text"].endswith("δ = 2")
    assert table.loc["lc", "intervals_text"] == "none"
    fit = methods.fit_of("pseudo_huber")
    assert fit.robust and fit.symmetric_unbiased and not fit.linear_in_y
