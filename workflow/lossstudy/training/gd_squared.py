"""Full-batch GD on the ½-squared loss over a shared design, by its closed form instead of steps.

Why: GD on L2 is linear in y, β_t = β̂ − V diag(r^t) V'(β̂ − β₀) with H = X'X/n = V Λ V' and
r = 1 − ηλ, so a trajectory of 10⁴ steps costs one eigendecomposition and a few products instead
of 10⁴ batched gradient steps (the default study trains the squared loss by GD at nine step sizes
in every training cell). The result is the iterative engine's (:func:`.engine.train`) to
rounding (tested to 1e-10 against it), with the same conventions: η from ``lr`` or
``lr_relative``, a replicate counts as diverged from the first step whose iterate is non-finite
or has ‖β_t‖ > ``DIVERGED_NORM`` (every step is checked, not only the checkpoints), and its later
checkpoints are NaN. Every product is an ``einsum`` per replicate (no BLAS), so a replicate's
bits do not depend on which replicates share its job.
"""

from __future__ import annotations

import numpy as np

from .engine import DIVERGED_NORM, Solver, Trained, _step_sizes
from .losses import Loss

#: steps scanned at once for divergence (R × CHUNK × p values)
CHUNK = 500


def applies(X: np.ndarray, loss: Loss, solver: Solver) -> bool:
    """GD with a constant step, no averaging, from β₀ = 0, on the squared loss over one shared
    design. (From the OLS fit the exact iterate never moves, while steps in floating point do
    move, and past c = 1 diverge from rounding noise: that start stays with the engine.)
    An L1 penalty (``solver.l1``) makes the steps non-linear: the engine's too."""
    return (
        X.ndim == 2
        and loss.name == "squared"
        and solver.name == "gd"
        and solver.schedule == "constant"
        and not solver.average
        and solver.init == "zeros"
        and solver.l1 == 0
    )


def _first_divergence(a: np.ndarray, g: np.ndarray, r: np.ndarray, T: int) -> np.ndarray:
    """Per replicate, the first step t ≤ T with ‖a − r^t∘g‖² > DIVERGED_NORM² or non-finite
    (T + 1 if none): the iterate's norm in the eigenbasis. Replicates that cannot get there
    (every |r_j| ≤ 1 and ‖a‖ + ‖g‖ within the limit) are not scanned."""
    R = a.shape[0]
    first = np.full(R, T + 1, dtype=np.int64)
    stable = bool(np.all(np.abs(r) <= 1.0))
    reach = np.sqrt((a * a).sum(axis=1)) + np.sqrt((g * g).sum(axis=1))
    todo = np.flatnonzero(~(reach <= DIVERGED_NORM)) if stable else np.arange(R)
    limit = DIVERGED_NORM**2
    for t0 in range(1, T + 1, CHUNK):
        if todo.size == 0:
            break
        ts = np.arange(t0, min(t0 + CHUNK, T + 1), dtype=float)
        with np.errstate(over="ignore", invalid="ignore"):
            coords = a[todo, None, :] - g[todo, None, :] * r[None, None, :] ** ts[None, :, None]
            bad = ~((coords * coords).sum(axis=2) <= limit)
        hit = bad.any(axis=1)
        first[todo[hit]] = t0 + bad[hit].argmax(axis=1)
        todo = todo[~hit]
    return first


def train_gd_squared(X: np.ndarray, y: np.ndarray, solver: Solver) -> Trained:
    """:func:`.engine.train` for GD on the squared loss (``applies``), in closed form."""
    y = np.ascontiguousarray(y, dtype=np.float64)
    X = np.ascontiguousarray(X, dtype=np.float64)
    R, n = y.shape
    steps = solver.checkpoints(n)
    lr = _step_sizes(X, R, solver)
    lam, V = np.linalg.eigh(X.T @ X / n)
    P = np.linalg.pinv(X)
    bhat = np.einsum("rn,pn->rp", y, P)
    a = np.einsum("rp,pj->rj", bhat, V)  # β₀ = 0: the start's coordinates are those of β̂
    g = a
    r = 1.0 - float(lr[0]) * lam
    first = _first_divergence(a, g, r, int(steps[-1]))
    with np.errstate(over="ignore", invalid="ignore"):
        factors = r[None, :] ** steps[:, None].astype(float)  # K×p
        coef = np.einsum("rkj,pj->rkp", a[:, None, :] - g[:, None, :] * factors[None], V)
        dead = first[:, None] <= steps[None, :]
        coef[dead] = np.nan
        resid = y[:, None, :] - np.einsum("np,rkp->rkn", X, coef)
        objective = 0.5 * (resid * resid).mean(axis=2)
    objective[dead] = np.nan
    return Trained(coef=coef, diverged=dead, objective=objective, steps=steps, lr=lr)
