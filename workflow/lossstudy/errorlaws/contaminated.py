"""Contaminated normal errors: N(0, 1) with probability 1 − fraction, else N(0, outlier_scale²).

The mixture is symmetric with every moment, variance (1 − f + f·o²)·scale²; it is the textbook
case where a few wide draws make least squares lose to Huber.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._law import Density, Law, Parameter


class Contaminated(Law):
    name = "contaminated"
    title = "contaminated normal"
    definition = "Z·(outlier_scale if U < fraction else 1), Z ~ N(0, 1), U ~ U(0, 1)"
    parameters = (
        Parameter(
            "fraction",
            "share of draws from the wide component",
            0.1,
            {"minimum": 0, "maximum": 1},
        ),
        Parameter(
            "outlier_scale",
            "SD of the wide component relative to 1",
            3.0,
            {"exclusiveMinimum": 0},
        ),
    )

    def standard(self, rng: np.random.Generator, params: Mapping[str, float], n: int) -> np.ndarray:
        outlier = rng.random(n) < params["fraction"]
        return rng.standard_normal(n) * np.where(outlier, params["outlier_scale"], 1.0)

    def sd(self, params: Mapping[str, float], scale: float) -> float:
        f, o = params["fraction"], params["outlier_scale"]
        return scale * math.sqrt(1 - f + f * o * o)

    def density(self, params: Mapping[str, float], scale: float) -> Density:
        from scipy import stats

        f, o = params["fraction"], params["outlier_scale"]
        a, b = stats.norm(scale=scale), stats.norm(scale=scale * o)

        def pdf(x: Any) -> Any:
            return (1 - f) * a.pdf(x) + f * b.pdf(x)

        def cdf(x: Any) -> Any:
            return (1 - f) * a.cdf(x) + f * b.cdf(x)

        return Density(pdf, cdf)


LAW = Contaminated()
