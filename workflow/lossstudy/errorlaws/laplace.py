"""Laplace (double exponential) errors with scale parameter ``scale``: variance 2·scale²."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ._law import Density, Law


class Laplace(Law):
    name = "laplace"
    title = "Laplace"
    definition = "L, density exp(−|l|)/2"

    def standard(self, rng: np.random.Generator, params: Mapping[str, float], n: int) -> np.ndarray:
        return rng.laplace(0.0, 1.0, n)

    def sd(self, params: Mapping[str, float], scale: float) -> float:
        return scale * math.sqrt(2.0)

    def density(self, params: Mapping[str, float], scale: float) -> Density:
        from scipy import stats

        law = stats.laplace(scale=scale)
        return Density(law.pdf, law.cdf)


LAW = Laplace()
