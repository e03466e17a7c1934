"""The parameter value that minimises an estimator family's MSE, with a bootstrap interval.

Members of an estimator sweep are fitted to the same datasets, so their MSEs are strongly
correlated: the interval resamples whole replicates (rows of the loss matrix), never members
independently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

BOOTSTRAP = 400


@dataclass(frozen=True)
class Optimum:
    argmin: float
    ci_low: float
    ci_high: float
    note: str


def refine(values: np.ndarray, mse: np.ndarray) -> float:
    """Grid argmin, refined by the vertex of the parabola through it and its two neighbours
    (clipped to them; only when it opens upwards). On the exact ridge MSE(λ) of the default
    study's prior scenario this lands within 3% of the Bayes rule on the default grid; a
    parabola in log λ was biased by up to −35% on coarse grids, so the scale is linear."""
    k = int(np.nanargmin(mse))
    if 0 < k < len(values) - 1:
        (x0, x1, x2), (y0, y1, y2) = values[k - 1 : k + 2], mse[k - 1 : k + 2]
        # vertex of the interpolating parabola (Lagrange form), if it opens upwards
        d01, d12 = (y1 - y0) / (x1 - x0), (y2 - y1) / (x2 - x1)
        curv = (d12 - d01) / (x2 - x0)
        if curv > 0:
            return float(np.clip((x0 + x1) / 2 - d01 / (2 * curv), x0, x2))
    return float(values[k])


def find_optimum(
    values: np.ndarray, losses: np.ndarray, rng: np.random.Generator, level: float = 0.95
) -> Optimum:
    """``losses``: replicates × members (squared errors, NaN where a fit failed)."""
    values = np.asarray(values, float)
    order = np.argsort(values, kind="stable")
    values, losses = values[order], np.asarray(losses, float)[:, order]
    keep = np.all(np.isfinite(losses), axis=1)
    losses = losses[keep]
    if len(losses) < 2 or len(values) < 2:
        nan = math.nan
        return Optimum(nan, nan, nan, "fewer than two usable replicates or members")
    mse = losses.mean(axis=0)
    est = refine(values, mse)
    n = len(losses)
    # all resamples at once: B × n resampling counts, B × K mean losses (one product), one
    # refine per row
    idx = rng.integers(0, n, (BOOTSTRAP, n)) + n * np.arange(BOOTSTRAP)[:, None]
    counts = np.bincount(idx.ravel(), minlength=BOOTSTRAP * n).reshape(BOOTSTRAP, n)
    means = counts @ losses / n
    boot = np.array([refine(values, row) for row in means])
    tail = (1.0 - level) / 2.0
    lo, hi = np.quantile(boot, [tail, 1.0 - tail])
    notes = []
    k = int(np.argmin(mse))
    if k in (0, len(values) - 1):
        notes.append(
            f"the minimum is at the {'lowest' if k == 0 else 'highest'} value swept: "
            "the optimum may lie outside the range"
        )
    if len(losses) < len(keep):
        notes.append(f"{len(keep) - len(losses)} replicates with a failed member left out")
    return Optimum(est, float(lo), float(hi), "; ".join(notes))
