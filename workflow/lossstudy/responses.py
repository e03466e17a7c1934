"""Mean functions of the response and the uniform design they live on.

A scenario's mean is ``response.function`` (default ``linear``, today's Xβ). The nonlinear
functions are functions of the first input x₁ of a design ``{distribution: uniform, inputs: d}``
(x ~ U(0, 1)^d, further inputs are noise predictors):

============  ================================================  ============================
name          f(x)                                              source
============  ================================================  ============================
linear        x'β (intercept column included)                   the study's linear model
sine          sin(2π x₁)                                        a smooth, one-period wave
heavisine     4 sin(4π x₁) − sgn(x₁ − 0.3) − sgn(0.72 − x₁)     Donoho & Johnstone (1994);
                                                                Shen et al. (2021) fit it
============  ================================================  ============================

Why one registry: the training data (:func:`lossstudy.dgp.respond`), the fresh test samples
and the integrated squared error of a fitted function all evaluate f through :func:`mean_of`,
so they cannot disagree on what the truth is.

A linear model fitted to a nonlinear mean estimates the mean's best linear approximation under
the design law, β* = argmin E[(f(x) − x'β)²]: for an f of x₁ under independent U(0, 1) inputs,
slope₁ = 12 Cov(x₁, f), the other slopes 0 and intercept E f − slope₁/2. :func:`pseudo_true`
returns it from each function's exact moments E f and E[x₁ f] (tested against quadrature);
it is the "true coefficient" the coefficient measures of such a scenario compare with.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from lossstudy.response import BERNOULLI, family, sigmoid

__all__ = [
    "FUNCTIONS",
    "bayes_error",
    "brier_projection",
    "logistic_projection",
    "GRID_POINTS",
    "MeanFunction",
    "function_name",
    "CURVE_POINTS",
    "curve_grid",
    "grid",
    "inputs",
    "is_linear",
    "is_uniform",
    "mean_of",
    "pseudo_true",
    "true_on_grid",
]

#: points of the fixed grid on [0, 1]^d of the integrated squared error (at least)
GRID_POINTS = 1024


@dataclass(frozen=True)
class MeanFunction:
    """A nonlinear mean f(x₁) on [0, 1] with its exact moments under x₁ ~ U(0, 1)."""

    name: str
    formula: str
    f: Callable[[np.ndarray], np.ndarray]
    #: E f(x₁)
    mean: float
    #: E[x₁ f(x₁)]
    cross: float
    #: where f jumps in (0, 1): the pieces of the exact quadrature (:func:`_quadrature`)
    breaks: tuple[float, ...] = ()


def _heavisine(x: np.ndarray) -> np.ndarray:
    return 4.0 * np.sin(4.0 * math.pi * x) - np.sign(x - 0.3) - np.sign(0.72 - x)


FUNCTIONS: dict[str, MeanFunction] = {
    m.name: m
    for m in (
        MeanFunction("sine", "sin(2πx₁)", lambda x: np.sin(2.0 * math.pi * x), 0.0, -0.5 / math.pi),
        # E[4 sin 4πx] = 0, E[x·4 sin 4πx] = −1/π; E[−sgn(x − a)] = 2a − 1,
        # E[−x sgn(x − a)] = a² − ½; E[−sgn(b − x)] = 1 − 2b, E[−x sgn(b − x)] = ½ − b²
        MeanFunction(
            "heavisine",
            "4 sin(4πx₁) − sgn(x₁ − 0.3) − sgn(0.72 − x₁)",
            _heavisine,
            (2 * 0.3 - 1.0) + (1.0 - 2 * 0.72),
            -1.0 / math.pi + (0.3**2 - 0.5) + (0.5 - 0.72**2),
            (0.3, 0.72),
        ),
    )
}


def function_name(knobs: Mapping[str, Any]) -> str:
    """The scenario's mean function (``linear`` when the knobs have no ``response.function``)."""
    return str(knobs.get("response", {}).get("function", "linear"))


def is_linear(knobs: Mapping[str, Any]) -> bool:
    """Whether the mean is x'β (the study's linear model)."""
    return function_name(knobs) == "linear"


def is_uniform(knobs: Mapping[str, Any]) -> bool:
    """Whether the design's inputs are U(0, 1) (otherwise the study's normal design)."""
    return knobs["design"].get("distribution", "normal") == "uniform"


def inputs(knobs: Mapping[str, Any]) -> int:
    """Inputs (predictors without the intercept) of the design: d."""
    return len(knobs["coefficients"]) - 1


def mean_of(knobs: Mapping[str, Any], X: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """E[y | x] at rows X (…×n×p, intercept column first) with coefficients β (…×p)."""
    name = function_name(knobs)
    if name == "linear":
        return np.einsum("...np,...p->...n", X, beta)
    return FUNCTIONS[name].f(X[..., 1])


def pseudo_true(knobs: Mapping[str, Any]) -> np.ndarray:
    """β*: the true coefficients for a linear mean, else the best linear approximation of f:
    by least squares for a gaussian response, by the logistic log-likelihood (Kullback–Leibler)
    for a bernoulli one, whose logit f then is (:func:`logistic_projection`)."""
    if is_linear(knobs):
        return np.asarray(knobs["coefficients"], dtype=float)
    m = FUNCTIONS[function_name(knobs)]
    beta = np.zeros(inputs(knobs) + 1)
    if family(knobs) == BERNOULLI:
        beta[:2] = logistic_projection(m.name)
        return beta
    slope = 12.0 * (m.cross - 0.5 * m.mean)
    beta[0] = m.mean - 0.5 * slope
    beta[1] = slope
    return beta


def _quadrature(name: str, points: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Legendre nodes and weights on [0, 1], ``points`` per smooth piece of f: exact
    to rounding for these f (and σ(f)), where a midpoint rule across a jump is not."""
    t, w = np.polynomial.legendre.leggauss(points)
    edges = (0.0, *FUNCTIONS[name].breaks, 1.0)
    pieces = list(zip(edges[:-1], edges[1:], strict=True))
    x = np.concatenate([a + (b - a) * (t + 1.0) / 2.0 for a, b in pieces])
    return x, np.concatenate([w * (b - a) / 2.0 for a, b in pieces])


def _law(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows [1, x₁], weights and σ(f(x₁)) of :func:`_quadrature`: the expectations over
    x₁ ~ U(0, 1) both projections minimise."""
    x, w = _quadrature(name)
    return np.column_stack([np.ones_like(x), x]), w, sigmoid(FUNCTIONS[name].f(x))


@functools.cache
def logistic_projection(name: str) -> tuple[float, float]:
    """(intercept, slope) minimising the expected log loss of σ(a + b x₁) when y ~
    Bernoulli(σ(f(x₁))), x₁ ~ U(0, 1): what a linear logistic fit (the MLE) estimates when the
    logit is f. The slopes of further inputs are 0 (independent of y). Newton's method on the
    exact quadrature; the squared loss on σ (Brier) has another target under such a logit."""
    Z, w, target = _law(name)
    beta = np.zeros(2)
    for _ in range(100):
        p = sigmoid(Z @ beta)
        step = np.linalg.solve(Z.T @ (Z * (w * p * (1.0 - p))[:, None]), Z.T @ (w * (target - p)))
        beta = beta + step
        if np.max(np.abs(step)) < 1e-14:
            break
    return float(beta[0]), float(beta[1])


@functools.cache
def brier_projection(name: str) -> tuple[float, float]:
    """(intercept, slope) minimising the expected Brier score E(y − σ(a + b x₁))² under the
    same law: what the exact Brier fit estimates, E(σ(f) − σ(a + b x₁))² being the part that
    depends on (a, b). Not the logistic projection when f is not linear: each loss picks its
    own best wrong model. Gauss–Newton from the logistic projection, step halved until the
    objective falls."""
    Z, w, target = _law(name)

    def gap(b: np.ndarray) -> np.ndarray:
        return target - sigmoid(Z @ b)

    beta = np.array(logistic_projection(name))
    for _ in range(200):
        p = sigmoid(Z @ beta)
        J = Z * (p * (1.0 - p))[:, None]
        r = target - p
        step = np.linalg.solve(J.T @ (J * w[:, None]), J.T @ (w * r))
        now = np.sum(w * r * r)
        while np.sum(w * gap(beta + step) ** 2) > now and np.max(np.abs(step)) > 1e-15:
            step = step / 2.0
        beta = beta + step
        if np.max(np.abs(step)) < 1e-13:
            break
    return float(beta[0]), float(beta[1])


@functools.cache
def bayes_error(name: str, points: int = 2**22) -> float:
    """The lowest misclassification rate of any classifier when y ~ Bernoulli(σ(f(x₁))):
    E min(σ(f), 1 − σ(f)), by a midpoint rule (min(·) has kinks where f crosses 0, which
    the Gauss–Legendre pieces do not know): within ≈ 1e-6 at 2²² points."""
    x = (np.arange(points) + 0.5) / points
    p = sigmoid(FUNCTIONS[name].f(x))
    return float(np.mean(np.minimum(p, 1.0 - p)))


def grid(d: int) -> np.ndarray:
    """The fixed grid of the integrated squared error: G×(d+1) rows [1, x], x a regular grid
    of midpoints with k = ⌈GRID_POINTS^(1/d)⌉ per axis (G = k^d ≥ GRID_POINTS), so the mean
    over its rows is a midpoint rule for ∫ over [0, 1]^d."""
    k = math.ceil(GRID_POINTS ** (1.0 / d) - 1e-9)
    while k**d < GRID_POINTS:
        k += 1
    axis = (np.arange(k) + 0.5) / k
    mesh = np.meshgrid(*([axis] * d), indexing="ij")
    x = np.column_stack([a.ravel() for a in mesh])
    return np.column_stack([np.ones(len(x)), x])


def true_on_grid(knobs: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The ise grid (G×p rows [1, x]) and the true mean f on it."""
    g = grid(inputs(knobs))
    return g, mean_of(knobs, g, pseudo_true(knobs))


#: a stored fitted curve keeps every 8th point of the ise grid, from the 5th: 128 of 1024
#: midpoints for d = 1, near the midpoints of 128 bins; enough to draw (an outlier-chasing
#: spike spans a few hundredths of [0, 1])
CURVE_POINTS = slice(4, None, 8)


def curve_grid(knobs: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray] | None:
    """The points x where a network's fitted curve is stored (``training.functions``) and the
    true mean f there; None with more than one input (a curve is drawn over one axis)."""
    if inputs(knobs) != 1:
        return None
    g, f = true_on_grid(knobs)
    return g[CURVE_POINTS, 1], f[CURVE_POINTS]
