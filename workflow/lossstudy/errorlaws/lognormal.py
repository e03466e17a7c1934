"""Log-normal errors centred to mean 0: exp(sigma·Z) − exp(sigma²/2), skewed, every moment."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ._law import Density, Law, Parameter


class LogNormal(Law):
    name = "lognormal"
    title = "log-normal"
    definition = "exp(sigma·Z) − exp(sigma²/2), Z ~ N(0, 1)"
    parameters = (
        Parameter("sigma", "SD of the log (sets the skew)", 1.0, {"exclusiveMinimum": 0}),
    )
    symmetric = False

    def standard(self, rng: np.random.Generator, params: Mapping[str, float], n: int) -> np.ndarray:
        sigma = params["sigma"]
        return np.exp(sigma * rng.standard_normal(n)) - math.exp(sigma * sigma / 2)

    def sd(self, params: Mapping[str, float], scale: float) -> float:
        v = params["sigma"] ** 2
        return scale * math.sqrt((math.exp(v) - 1.0) * math.exp(v))

    def median(self, params: Mapping[str, float], scale: float) -> float:
        v = params["sigma"] ** 2
        return scale * (1.0 - math.exp(v / 2))

    def density(self, params: Mapping[str, float], scale: float) -> Density:
        from scipy import stats

        sig = params["sigma"]
        law = stats.lognorm(sig, loc=-scale * math.exp(sig * sig / 2), scale=scale)
        return Density(law.pdf, law.cdf)


LAW = LogNormal()
