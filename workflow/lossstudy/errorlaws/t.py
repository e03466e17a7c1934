"""Student-t errors with df degrees of freedom; df = ∞ is the normal distribution.

Moments of order below df exist (mean if df > 1, variance if df > 2). The variance is
df/(df − 2)·scale², so the errors' SD is not ``scale``. With df = ∞ the errors are drawn as
N(0, scale²) (numpy's t sampler returns NaN there) and every consumer treats them as normal.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ._law import Density, Law, Parameter

INFINITE_DF = "the normal distribution: drawn as N(0, scale²)"


class StudentT(Law):
    name = "t"
    title = "Student t"
    definition = "T, T ~ t(df); df = ∞: Z ~ N(0, 1)"
    parameters = (
        Parameter("df", "degrees of freedom", bounds={"exclusiveMinimum": 0}, infinity=INFINITE_DF),
    )
    all_moments = False

    def standard(self, rng: np.random.Generator, params: Mapping[str, float], n: int) -> np.ndarray:
        if math.isinf(params["df"]):
            return rng.standard_normal(n)
        return rng.standard_t(params["df"], n)

    def moment_order(self, params: Mapping[str, float]) -> float:
        return params["df"]

    def sd(self, params: Mapping[str, float], scale: float) -> float:
        df = params["df"]
        if math.isinf(df):
            return scale
        return scale * math.sqrt(df / (df - 2)) if df > 2 else math.inf

    def density(self, params: Mapping[str, float], scale: float) -> Density:
        from scipy import stats

        df = params["df"]
        law = stats.norm(scale=scale) if math.isinf(df) else stats.t(df, scale=scale)
        return Density(law.pdf, law.cdf)

    def is_normal(self, params: Mapping[str, float]) -> bool:
        return math.isinf(params["df"])

    def label(self, params: Mapping[str, float]) -> str:
        return f"t (df {params['df']:g})"

    def note(self, params: Mapping[str, float]) -> str:
        return f"t with df = ∞ is {INFINITE_DF}" if math.isinf(params["df"]) else ""


LAW = StudentT()
