"""The L1 penalty of a trained fit: the study's λ in the engine's units, and the exact optimum
a penalised trajectory is measured against.

Why a conversion: the study's lasso puts λ on the scale of the residual sum of squares,
‖y − Xb‖² + λ Σ_{j≥1} |b_j| (``lossstudy.losses.l1_penalty``), while the engine minimises the
mean of optax's ½r², f(β) = (1/2n)‖y − Xβ‖² + α Σ_{j≥1} |β_j|. Dividing the study's objective
by 2n gives the engine's exactly, with α = λ/(2n): both have the same minimiser, so a trained
lasso converges to the study's exact lasso (coordinate descent,
:func:`lossstudy.vectorized.coordinate.elastic_net_gram`) and not to a rescaled one.
"""

from __future__ import annotations

import numpy as np

from lossstudy.vectorized.coordinate import elastic_net_gram

#: Losses whose trained fit can carry the L1 penalty (λ's scale is the RSS's).
LOSSES = ("squared",)


def engine_weight(loss: str, penalty: float, n: int) -> float:
    """α of the engine's objective for the study's λ (RSS scale) on n rows: λ/(2n)."""
    if loss not in LOSSES:
        raise ValueError(f"loss {loss!r}: the trained L1 penalty is defined for {LOSSES}")
    return float(penalty) / (2.0 * n)


def minimiser(X: np.ndarray, y: np.ndarray, penalty: float) -> np.ndarray:
    """The exact lasso per replicate (R×p; NaN where coordinate descent was not certified):
    ``X`` n×p or R×n×p, ``y`` R×n, λ on the RSS scale."""
    R = y.shape[0]
    Xs = np.broadcast_to(X, (R, *X.shape)) if X.ndim == 2 else X
    G = np.einsum("rnj,rnk->rjk", Xs, Xs)
    c = np.einsum("rnj,rn->rj", Xs, y)
    beta, certified = elastic_net_gram(G, c, float(penalty), 1.0)
    beta[~certified] = np.nan
    return beta


def objective(X: np.ndarray, y: np.ndarray, beta: np.ndarray, penalty: float) -> np.ndarray:
    """The engine's objective per replicate (R): mean ½r² + α Σ_{j≥1} |β_j|, α = λ/(2n)."""
    fitted = np.einsum("np,rp->rn", X, beta) if X.ndim == 2 else np.einsum("rnp,rp->rn", X, beta)
    r = y - fitted
    alpha = engine_weight("squared", penalty, y.shape[1])
    return 0.5 * (r * r).mean(axis=1) + alpha * np.abs(beta[:, 1:]).sum(axis=1)
