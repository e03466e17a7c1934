"""Exponential errors centred to mean 0: scale·(Exp(1) − 1), skewed, median scale·(log 2 − 1)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ._law import Density, Law


class Exponential(Law):
    name = "exponential"
    title = "exponential"
    definition = "E − 1, E ~ Exp(1)"
    symmetric = False

    def standard(self, rng: np.random.Generator, params: Mapping[str, float], n: int) -> np.ndarray:
        return rng.standard_exponential(n) - 1.0

    def sd(self, params: Mapping[str, float], scale: float) -> float:
        return scale

    def median(self, params: Mapping[str, float], scale: float) -> float:
        return scale * (math.log(2.0) - 1.0)

    def density(self, params: Mapping[str, float], scale: float) -> Density:
        from scipy import stats

        law = stats.expon(loc=-scale, scale=scale)
        return Density(law.pdf, law.cdf)


LAW = Exponential()
