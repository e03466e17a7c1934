"""Theory curves along a series, and their roots: ARE curves and exact linear-estimator moments.

Why a module of its own: a curve needs the scenario's knobs at values *between* the swept ones,
so it works from the resolved knobs (not the performance table) and reuses
:mod:`lossstudy.theory` for the formulas. Returns (None, reason) wherever no theory applies,
and the reason becomes the crossover row's note.
"""

from __future__ import annotations

import copy
import functools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from lossstudy import methods
from lossstudy.assumptions import GAUSS_MARKOV, assumptions
from lossstudy.config import _complete_errors, _set_path
from lossstudy.dgp import prior_sd
from lossstudy.errorlaws import error_moments

Curve = Callable[[float], float]


def _linear(spec: Mapping[str, Any]) -> bool:
    """Linear in y (OLS, WLS, ridge): exact finite-sample moments exist (theory.exact)."""
    return methods.fit_for(spec).linear_in_y


def knobs_at(knobs: Mapping[str, Any], knob: str, value: float) -> dict[str, Any]:
    out = copy.deepcopy(dict(knobs))
    _set_path(out, knob, value)
    _complete_errors(out, "theory")
    return out


def grid(values: list[float], points: int = 41) -> np.ndarray:
    """Where a curve is drawn: log-spaced when the range is positive and spans a factor > 10.

    Over the finite values only: a sweep may end at t's df = ∞ (the normal limit), which the
    crossings leave out too (:func:`lossstudy.sweeps.find_crossing`)."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return np.array([])
    lo, hi = min(finite), max(finite)
    if lo > 0 and hi / lo > 10:
        return np.geomspace(lo, hi, points)
    return np.linspace(lo, hi, points)


def _are_curve(
    knobs: Mapping[str, Any], knob: str, values: list[float], spec: Mapping[str, Any]
) -> tuple[Curve | None, str]:
    if not knob.startswith("errors."):
        return None, (
            f"no theory: the asymptotic efficiency of {spec['method']} is known for iid errors, "
            f"and '{knob}' is not an error-distribution knob"
        )
    for v in (min(values), max(values)):
        k = knobs_at(knobs, knob, v)
        flags = assumptions(k)
        broken = [a for a in GAUSS_MARKOV if not flags[a][0]]
        if broken:
            return None, f"no theory: {', '.join(broken)} fails at {knob} = {v:g}"
        mom = error_moments(k["errors"])
        if spec["method"] == "huber" and not mom.symmetric:
            return None, "no theory: Huber's asymptotic variance formula needs symmetric errors"
    errors = json.dumps(knobs["errors"], sort_keys=True)
    if spec["method"] == "lad":
        return (lambda x: _are(errors, knob, float(x), "lad", 0.0)), "asymptotic: 4 f(0)² Var(e)"
    k_psi = float(spec.get("k", 1.345))
    return (
        lambda x: _are(errors, knob, float(x), "huber", k_psi)
    ), f"asymptotic: Huber k = {k_psi:g}, MAD scale"


@functools.lru_cache(maxsize=65536)
def _are(errors_json: str, knob: str, x: float, method: str, k: float) -> float:
    """The ARE at one value of an error knob; cached, since every n and both relative measures
    of a series share the curve (it does not depend on n)."""
    from lossstudy.theory import are_huber, are_lad

    errors = json.loads(errors_json)
    part = knob.split(".", 1)[1]
    errors[part] = x
    _complete_errors({"errors": errors}, "theory")
    return are_lad(errors) if method == "lad" else are_huber(errors, k)


@functools.lru_cache(maxsize=256)
def _dgp(knobs_json: str, seed: int, scenario_id: str) -> tuple[Any, str]:
    """The fixed-design linear model of one cell, shared by every estimator and λ (or None and
    why there is none)."""
    from lossstudy.theory.exact import linear_dgp

    return linear_dgp(json.loads(knobs_json), seed, scenario_id)


def dgp_of(knobs: Mapping[str, Any], seed: int, scenario_id: str) -> tuple[Any, str]:
    return _dgp(json.dumps(knobs, sort_keys=True), seed, scenario_id)


def _linear_x1(
    knobs: Mapping[str, Any], seed: int, scenario_id: str, spec: Mapping[str, Any], j: int
) -> tuple[float, float] | None:
    """(mean, variance) of the estimation error of coefficient j, exactly; None if no form."""
    dgp, _ = dgp_of(knobs, seed, scenario_id)
    return _error_moments(dgp, spec, j)


def _error_moments(dgp: Any, spec: Mapping[str, Any], j: int) -> tuple[float, float] | None:
    """:func:`_linear_x1` on a cell's model already built (a curve asks at hundreds of λ)."""
    from lossstudy.theory.exact import linear_map

    if dgp is None:
        return None
    M, _ = linear_map(spec, dgp.X)
    if M is None:
        return None
    # only row j of M: E[d_j] and Var(d_j) without the full p × p covariance
    m = M[j]
    b = m @ dgp.K
    b[j] -= 1.0
    mean = float(b @ dgp.beta_mean + m @ dgp.offset)
    var = float(b @ dgp.beta_cov @ b + dgp.cov.sandwich(m))
    return mean, var


def _ratio(a: tuple[float, float], b: tuple[float, float], measure: str) -> float:
    """Reference over estimator, from (mean, variance) of each one's estimation error."""
    if measure == "rel_efficiency":
        return a[1] / b[1]
    return (a[0] ** 2 + a[1]) / (b[0] ** 2 + b[1])


def _linear_cells(
    cells: Sequence[tuple[float, Mapping[str, Any], str]],
    seed: int,
    spec: Mapping[str, Any],
    ref: Mapping[str, Any],
    measure: str,
    j: int,
) -> tuple[Curve | None, str]:
    """Exact values at every swept value, each on its own cell's fixed design, joined by the
    monotone cubic the crossings use (:mod:`lossstudy.sweeps.local`), so theory and simulation
    name the same point between two values: the cells' designs differ, and one design's
    smooth curve can miss the others' exact values by more than Monte Carlo error (2.0 against
    1.76 for WLS at heteroskedasticity 8, n = 100, in the default study)."""
    xs, ys = [], []
    for x, knobs, sid in sorted(cells, key=lambda c: c[0]):
        dgp, why = dgp_of(knobs, seed, sid)
        if dgp is None:
            return None, f"no theory: {why}"
        a = _linear_x1(knobs, seed, sid, ref, j)
        b = _linear_x1(knobs, seed, sid, spec, j)
        if a is None or b is None:
            return None, "no theory: a linear fit fails on some cell's design"
        xs.append(float(x))
        ys.append(_ratio(a, b, measure))
    from scipy.interpolate import PchipInterpolator

    if len(xs) < 2:
        return None, "no theory: a single cell"
    curve = PchipInterpolator(np.array(xs), np.array(ys), extrapolate=False)
    return (
        lambda x: float(curve(x))
    ), "exact at each swept value (its own fixed design), monotone cubic in between"


def comparison_curve(
    knobs: Mapping[str, Any],
    knob: str,
    values: list[float],
    seed: int,
    spec: Mapping[str, Any],
    ref: Mapping[str, Any],
    measure: str,
    j: int,
    cells: Sequence[tuple[float, Mapping[str, Any], str]] | None = None,
) -> tuple[Curve | None, str]:
    """Theory for ``measure`` (rel_efficiency or rel_mse) of ``spec`` against ``ref``.

    For linear estimators the curve joins the exact values at ``cells`` (value, knobs,
    scenario id of every cell of the series), each on its own fixed design."""
    if measure not in ("rel_efficiency", "rel_mse"):
        return None, "no theory: no closed form for coverage along this sweep"
    if _linear(spec) and _linear(ref):
        if cells is None:
            return None, "no theory: the series' cells are not known"
        return _linear_cells(cells, seed, spec, ref, measure, j)
    if spec["method"] in ("lad", "huber") and ref["method"] == "ols":
        return _are_curve(knobs, knob, values, spec)
    return None, f"no theory for {spec['method']} against {ref['method']}"


def roots(curve: Curve, xs: np.ndarray, null: float = 1.0) -> list[float]:
    """Every root of curve(x) = null on the grid's sign changes, refined by Brent's method."""
    from scipy.optimize import brentq

    ys = np.array([curve(float(x)) - null for x in xs])
    out = []
    for a, b, fa, fb in zip(xs[:-1], xs[1:], ys[:-1], ys[1:], strict=True):
        if not (math.isfinite(fa) and math.isfinite(fb)):
            continue
        if fa == 0:
            out.append(float(a))
        elif fa * fb < 0:
            out.append(float(brentq(lambda x: curve(x) - null, a, b, xtol=1e-10, rtol=1e-10)))
    if len(ys) and ys[-1] == 0:
        out.append(float(xs[-1]))
    return out


def ridge_mse(
    knobs: Mapping[str, Any], seed: int, scenario_id: str, spec: Mapping[str, Any], j: int
) -> tuple[Curve | None, str]:
    """Exact MSE of coefficient j as a function of ridge's λ (over the prior, if any)."""
    dgp, why = dgp_of(knobs, seed, scenario_id)
    if dgp is None:
        return None, f"no theory: {why}"

    @functools.lru_cache(maxsize=1024)
    def curve(lam: float) -> float:
        got = _error_moments(dgp, {**spec, "penalty": float(lam)}, j)
        return math.nan if got is None else got[0] ** 2 + got[1]

    return curve, "exact ridge MSE(λ) on the fixed design"


def argmin(curve: Curve, lo: float, hi: float) -> float:
    """Minimiser of a smooth curve on [lo, hi]: a log grid, then Brent on log λ around it."""
    from scipy.optimize import minimize_scalar

    small = max(lo, hi * 1e-4, 1e-6)
    xs = (
        np.concatenate([[lo], np.geomspace(small, hi, 61)]) if lo == 0 else np.geomspace(lo, hi, 61)
    )
    ys = np.array([curve(float(x)) for x in xs])
    k = int(np.nanargmin(ys))
    if 0 < k < len(xs) - 1 and xs[k - 1] > 0:
        res = minimize_scalar(
            lambda t: curve(math.exp(t)),
            bounds=(math.log(xs[k - 1]), math.log(xs[k + 1])),
            method="bounded",
            options={"xatol": 1e-9},
        )
        return float(math.exp(res.x))
    return float(xs[k])


def bayes_penalty(knobs: Mapping[str, Any]) -> float | None:
    """σ²/τ² where ridge is the Bayes rule: slopes ~ N(0, τ²), normal homoskedastic errors.
    Under another prior with slope variance τ² it is still the risk-minimising ridge λ (the
    best linear rule: a linear fit's risk needs the prior's second moments only)."""
    tau = prior_sd(dict(knobs["prior"]))
    flags = assumptions(dict(knobs))
    if tau <= 0 or not all(flags[a][0] for a in (*GAUSS_MARKOV, "normal_errors")):
        return None
    return float(error_moments(knobs["errors"]).sd ** 2 / tau**2)
