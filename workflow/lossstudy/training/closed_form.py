"""Full-batch GD on the mean ½-squared loss, exactly: the iterate and its moments.

Why: GD on L2 is linear in y, so nothing about it needs simulating. With H = X'X/n = V Λ V',
β_{k+1} = (I − ηH)β_k + ηX'y/n gives β_k = β̂ − (I − ηH)^k(β̂ − β₀), and from β₀ = 0 the
Landweber filter A_k = I − (I − ηH)^k: E β_k = A_k β, Var β_k = σ² A_k (X'X)⁻¹ A_k'. One
eigendecomposition of the design serves every k and every replicate; the iterative engine is
tested against it, and the study's theory columns can use it directly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _eig(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lam, V = np.linalg.eigh(X.T @ X / X.shape[0])
    return lam, V


def contraction(X: np.ndarray, lr: float, k: int) -> np.ndarray:
    """(I − ηH)^k, H = X'X/n (p×p)."""
    lam, V = _eig(X)
    return (V * (1.0 - lr * lam) ** k) @ V.T


def gd_squared_path(
    X: np.ndarray,
    y: np.ndarray,
    lr: float,
    steps: Sequence[int],
    beta0: np.ndarray | None = None,
) -> np.ndarray:
    """β_k at each k of ``steps`` for one design X (n×p) and y (n or R×n): K×p or R×K×p.

    β_k = β̂ − (I − ηH)^k(β̂ − β₀), β̂ the least-squares fit; β₀ = 0 unless given (p or R×p).
    Any step size is allowed: past 2/λ_max the iterate grows as |1 − ηλ_max|^k.
    """
    lam, V = _eig(X)
    Y = np.atleast_2d(y)
    bhat = np.linalg.lstsq(X, Y.T, rcond=None)[0].T  # R×p
    start = np.zeros_like(bhat) if beta0 is None else np.broadcast_to(beta0, bhat.shape)
    gap = (bhat - start) @ V  # coordinates along the eigenvectors
    factors = (1.0 - lr * lam)[None, :] ** np.asarray(steps)[:, None]  # K×p
    path = bhat[:, None, :] - (gap[:, None, :] * factors[None]) @ V.T
    return path[0] if np.ndim(y) == 1 else path


def gd_squared_moments(
    X: np.ndarray, beta: np.ndarray, sigma: float, lr: float, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """E β_k = A_k β and Var β_k = σ² A_k (X'X)⁻¹ A_k' for GD from β₀ = 0 on a fixed design,
    errors of mean 0 and variance σ² (any law): A_k = I − (I − ηH)^k."""
    lam, V = _eig(X)
    n = X.shape[0]
    filt = 1.0 - (1.0 - lr * lam) ** k  # spectral filter of A_k
    mean = V @ (filt * (V.T @ beta))
    cov = (V * (sigma**2 / n * filt**2 / lam)) @ V.T
    return mean, cov
