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

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "FUNCTIONS",
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
    """β*: the true coefficients for a linear mean, else the best linear approximation of f."""
    if is_linear(knobs):
        return np.asarray(knobs["coefficients"], dtype=float)
    m = FUNCTIONS[function_name(knobs)]
    slope = 12.0 * (m.cross - 0.5 * m.mean)
    beta = np.zeros(inputs(knobs) + 1)
    beta[0] = m.mean - 0.5 * slope
    beta[1] = slope
    return beta


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
