"""Normal and Student-t functions without importing ``scipy.stats``.

Why: every fit job is a fresh process, and ``scipy.stats`` costs ≈ 0.35 s more to import than
``scipy.special``, which computes the same numbers bit for bit (tests/test_distributions.py).
``scipy.special`` itself still costs ≈ 0.3 s (its array-API layer imports much of numpy), so it
is imported on first use only: a job that needs no quantile (ridge) never imports it.
"""

from __future__ import annotations

import math

import numpy as np

_SQRT_2PI = math.sqrt(2.0 * math.pi)


def norm_ppf(q: float | np.ndarray) -> float | np.ndarray:
    """Standard normal quantile (= scipy.stats.norm.ppf)."""
    from scipy.special import ndtri

    return ndtri(q)


def norm_pdf(z: float | np.ndarray) -> float | np.ndarray:
    """Standard normal density (= scipy.stats.norm.pdf)."""
    return np.exp(-np.square(z) / 2.0) / _SQRT_2PI


def t_ppf(q: float | np.ndarray, df: float | np.ndarray) -> float | np.ndarray:
    """Student-t quantile (= scipy.stats.t.ppf)."""
    from scipy.special import stdtrit

    return stdtrit(df, q)
