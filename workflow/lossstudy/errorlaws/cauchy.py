"""Cauchy errors (t with one degree of freedom): no mean, no variance, median 0."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ._law import Density, Law


class Cauchy(Law):
    name = "cauchy"
    title = "Cauchy"
    definition = "C, density 1/(π(1 + c²))"
    all_moments = False

    def standard(self, rng: np.random.Generator, params: Mapping[str, float], n: int) -> np.ndarray:
        return rng.standard_cauchy(n)

    def moment_order(self, params: Mapping[str, float]) -> float:
        return 1.0

    def sd(self, params: Mapping[str, float], scale: float) -> float:
        return math.inf

    def density(self, params: Mapping[str, float], scale: float) -> Density:
        from scipy import stats

        law = stats.cauchy(scale=scale)
        return Density(law.pdf, law.cdf)

    def label(self, params: Mapping[str, float]) -> str:
        return "Cauchy"


LAW = Cauchy()
