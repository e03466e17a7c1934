"""Normal and Student-t quantiles without importing ``scipy.stats``, and the per-job presets
that let a fit job skip ``scipy`` altogether.

Why: every fit job is a fresh process, and ``scipy.stats`` costs ≈ 0.35 s more to import than
``scipy.special``, which computes the same numbers bit for bit (tests/test_quantiles.py).
``scipy.special`` itself still costs ≈ 0.3 s (its array-API layer imports much of numpy), so it
is imported on first use only: a job that needs no quantile (ridge) never imports it, and a fit
job whose quantiles were computed for it beforehand (:func:`job_quantiles`, passed in by the
workflow, then :func:`preset`) does not either. The preset values are scipy's own numbers, so
nothing changes but the import.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

_SQRT_2PI = math.sqrt(2.0 * math.pi)

#: scalar quantiles known without scipy: ("norm", q) or ("t", q, df) -> value
_PRESET: dict[tuple[Any, ...], float] = {}


def _known(key: tuple[Any, ...]) -> np.float64 | None:
    """The preset value of a scalar call (as the np.float64 scipy returns), else None."""
    if all(isinstance(v, int | float) for v in key[1:]) and key in _PRESET:
        return np.float64(_PRESET[key])
    return None


def preset(table: Mapping[str, Any]) -> bool:
    """Make the quantiles of ``table`` (from :func:`job_quantiles`) known without scipy.

    Only if they come from the scipy this process would import (same version; ``import
    scipy`` alone costs ≈ 10 ms): a job in another environment (``--sdm conda``) computes its
    own. Returns whether the table was taken.
    """
    import scipy

    if table.get("scipy") != scipy.__version__:
        return False
    for *key, value in table["rows"]:
        _PRESET[tuple(key)] = float(value)
    return True


def job_quantiles(n: int, p: int, level: float) -> dict[str, Any]:
    """Every scalar quantile a fit job of n rows and p coefficients asks for, with its value.

    ``rows`` are ``[kind, q, (df,) value]`` (JSON-ready; floats survive JSON exactly), with
    the scipy version that computed them. The arguments are computed by the same expressions
    as in the engines, so the lookups hit: t intervals (``1 − α/2`` and ``0.5 + level/2``,
    n − p df), Huber's normal intervals, and the Hall–Sheather bandwidth of the LAD SEs. Any
    other call simply imports scipy.
    """
    import scipy

    alpha = 1 - level
    h0 = hall_sheather(n, 0.5)
    ts = {1 - alpha / 2, 1 - (1.0 - level) / 2, 0.5 + level / 2}
    norms = {1 - alpha / 2, 0.5, 1.0 - 0.05 / 2.0, 0.5 + h0, 0.5 - h0}
    rows = [["t", q, n - p, float(t_ppf(q, n - p))] for q in sorted(ts)]
    rows += [["norm", float(q), float(norm_ppf(q))] for q in sorted(norms)]
    return {"scipy": scipy.__version__, "rows": rows}


def norm_ppf(q: float | np.ndarray) -> float | np.ndarray:
    """Standard normal quantile (= scipy.stats.norm.ppf)."""
    if (hit := _known(("norm", q))) is not None:
        return hit
    from scipy.special import ndtri

    return ndtri(q)


def norm_pdf(z: float | np.ndarray) -> float | np.ndarray:
    """Standard normal density (= scipy.stats.norm.pdf)."""
    return np.exp(-np.square(z) / 2.0) / _SQRT_2PI


def t_ppf(q: float | np.ndarray, df: float | np.ndarray) -> float | np.ndarray:
    """Student-t quantile (= scipy.stats.t.ppf)."""
    if (hit := _known(("t", q, df))) is not None:
        return hit
    from scipy.special import stdtrit

    return stdtrit(df, q)


def hall_sheather(n: int, q: float = 0.5, alpha: float = 0.05) -> float:
    """Hall–Sheather (1988) bandwidth on the quantile scale, as in statsmodels QuantReg.

    Here, beside the quantiles it is made of, because :func:`job_quantiles` presets the
    quantiles at q ± this bandwidth that LAD's standard errors ask for.
    """
    z = norm_ppf(q)
    num = 1.5 * norm_pdf(z) ** 2.0
    den = 2.0 * z**2.0 + 1.0
    return n ** (-1.0 / 3) * norm_ppf(1.0 - alpha / 2.0) ** (2.0 / 3) * (num / den) ** (1 / 3)
