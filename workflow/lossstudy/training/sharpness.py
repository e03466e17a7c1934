"""Sharpness: the top eigenvalue of the training loss's Hessian in the network's parameters.

Why: Cohen et al. (ICLR 2021) found that full-batch GD on a network with the squared loss
drives the sharpness up to about 2/η (progressive sharpening) and then hovers there while the
loss keeps falling, non-monotonically ("edge of stability"): the classical step-size limit
2/λ_max is met, not avoided. For a network this small (≈ 10² parameters) the Hessian of
f(θ) = mean ρ(y − f̂_θ(x)) is computed exactly (``jax.hessian``) and its top eigenvalue by
``eigvalsh``, one replicate at a time (vmapped in blocks of ``BLOCK``).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from .engine import BLOCK, _padded
from .losses import _RHO, Loss
from .mlp import Network, forward

__all__ = ["sharpness"]


@functools.lru_cache(maxsize=16)
def _program(net: Network, loss: str, shared: bool = True):
    rho = _RHO[loss]

    def top(theta, x, y, param):
        f = lambda th: jnp.mean(rho(y - forward(net, th, x), param))  # noqa: E731
        return jnp.linalg.eigvalsh(jax.hessian(f)(theta))[-1]

    return jax.jit(jax.vmap(top, in_axes=(0, None if shared else 0, 0, None)))


def sharpness(
    net: Network, loss: Loss, theta: np.ndarray, x: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """λ_max of ∇²f(θ_r) for each replicate r: θ R×P, x shared n×d or R×n×d, y R×n (NaN θ:
    NaN)."""
    shared = x.ndim == 2
    run = _program(net, loss.name, shared)
    out = np.empty(theta.shape[0])
    ok = np.isfinite(theta).all(axis=1)
    safe = np.where(ok[:, None], theta, 0.0)
    for s in range(0, theta.shape[0], BLOCK):
        e = min(s + BLOCK, theta.shape[0])
        xs = x if shared else _padded(x[s:e])
        vals = run(_padded(safe[s:e]), xs, _padded(y[s:e]), np.float64(loss.param))
        out[s:e] = np.asarray(vals)[: e - s]
    return np.where(ok, out, np.nan)
