"""Normal errors: e = scale·Z, Z ~ N(0, 1)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ._law import Density, Law


class Normal(Law):
    name = "normal"
    title = "normal"
    definition = "Z, Z ~ N(0, 1)"

    def standard(self, rng: np.random.Generator, params: Mapping[str, float], n: int) -> np.ndarray:
        return rng.standard_normal(n)

    def sd(self, params: Mapping[str, float], scale: float) -> float:
        return scale

    def density(self, params: Mapping[str, float], scale: float) -> Density:
        from scipy import stats

        law = stats.norm(scale=scale)
        return Density(law.pdf, law.cdf)

    def is_normal(self, params: Mapping[str, float]) -> bool:
        return True


LAW = Normal()
