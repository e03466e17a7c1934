"""The elastic net (lasso at mix 1) on the squared loss: batched coordinate descent, then an
exact solve on the active set, kept only where the KKT conditions certify it.

Objective, on the scale of the residual sum of squares as the study's ridge (intercept, the
first column, unpenalised)::

    ‖y − Xb‖² + λ (w Σⱼ |bⱼ| + (1 − w) Σⱼ bⱼ²),   j over the slopes, w = ``mix`` ∈ [0, 1]

Why not coordinate descent alone: its stopping rule bounds the last step, not the distance to
the optimum (slow on collinear designs). Once the active set and the signs are right the
optimum solves one linear system, (G_AA + λ(1 − w) D) b_A = (X'y)_A − (λw/2) s_A, and the KKT
conditions (|x_j'r| ≤ λw/2 off the active set, signs kept on it) prove it optimal to rounding.
A replicate whose solve is not certified takes more sweeps (a tighter stopping rule) and tries
again; one never certified keeps its last iterate with status ``not_converged``.

Every replicate iterates on its own: the converged ones leave the batch, so a replicate's
result is the same bit for bit wherever it sits in a job (tests/test_lasso.py).
"""

from __future__ import annotations

import contextlib

import numpy as np

#: stopping rule of a round of sweeps: max |Δbⱼ| ≤ STEP_TOL · (1 + max |bⱼ|); each further round
#: divides it by 100
STEP_TOL = 1e-10
#: sweeps per round, and rounds, before a replicate is given up as not converged
MAX_SWEEPS = 20_000
ROUNDS = 4
#: relative slack of the KKT check (rounding of X'r against λw/2)
KKT_SLACK = 1e-9


def _soft(z: np.ndarray, t: float) -> np.ndarray:
    return np.sign(z) * np.maximum(np.abs(z) - t, 0.0)


def _sweeps(
    G: np.ndarray, c: np.ndarray, b: np.ndarray, half_l1: np.ndarray, l2: np.ndarray, tol: float
) -> np.ndarray:
    """Cyclic coordinate descent in Gram form on the rows of b (updated in place) until each
    row's step is below its tolerance; returns the rows that did not get there."""
    R, p = b.shape
    todo = np.arange(R)
    for _ in range(MAX_SWEEPS):
        if todo.size == 0:
            break
        Gt, ct, bt = G[todo], c[todo], b[todo]
        step = np.zeros(todo.size)
        for j in range(p):
            z = ct[:, j] - (Gt[:, j, :] * bt).sum(axis=1) + Gt[:, j, j] * bt[:, j]
            new = _soft(z, half_l1[j]) / (Gt[:, j, j] + l2[j])
            step = np.maximum(step, np.abs(new - bt[:, j]))
            bt[:, j] = new
        b[todo] = bt
        todo = todo[step > tol * (1.0 + np.abs(bt).max(axis=1))]
    return todo


def _polish(
    G: np.ndarray, c: np.ndarray, b: np.ndarray, half_l1: np.ndarray, l2: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The exact optimum on each row's active set and signs, and whether KKT certifies it."""
    R, p = b.shape
    pen = half_l1 > 0
    active = (b != 0) | ~pen
    s = np.where(pen, np.sign(b), 0.0)
    M = G + np.diag(l2)
    M = np.where(active[:, :, None] & active[:, None, :], M, 0.0)
    idx = np.arange(p)
    M[:, idx, idx] = np.where(active, M[:, idx, idx], 1.0)
    rhs = np.where(active, c - half_l1 * s, 0.0)
    exact = np.full_like(b, np.nan)
    for i in range(R):  # LAPACK per row: a singular one (non-unique lasso) fails alone
        with contextlib.suppress(np.linalg.LinAlgError):
            exact[i] = np.linalg.solve(M[i], rhs[i])
    return exact, _kkt(G, c, exact, half_l1, l2, active, s)


def _kkt(
    G: np.ndarray,
    c: np.ndarray,
    b: np.ndarray,
    half_l1: np.ndarray,
    l2: np.ndarray,
    active: np.ndarray,
    s: np.ndarray,
) -> np.ndarray:
    """Rows where b, solved on ``active`` with signs ``s``, is optimal: the subgradient bound
    |x_j'r − λ(1 − w)b_j| ≤ λw/2 holds off the active set and the signs hold on it."""
    grad = c - np.einsum("rjk,rk->rj", G, b) - l2 * b  # ½ of −∂(smooth part)
    scale = KKT_SLACK * (1.0 + np.abs(c).max(axis=1, keepdims=True))
    inactive_ok = np.abs(grad) <= half_l1 * (1.0 + KKT_SLACK) + scale
    signs_ok = (half_l1 == 0) | (np.sign(b) == s)
    ok = np.all(np.isfinite(b), axis=1)
    return ok & np.all(np.where(active, signs_ok, inactive_ok), axis=1)


def kkt_certified(
    G: np.ndarray, c: np.ndarray, b: np.ndarray, penalty: float, mix: float
) -> np.ndarray:
    """Whether each row of b is the elastic-net optimum: its non-zeros solve the stationarity
    equations (to rounding) and its zeros satisfy the subgradient bound."""
    half_l1, l2 = _weights(c.shape[1], penalty, mix)
    pen = half_l1 > 0
    active = (b != 0) | ~pen
    s = np.where(pen, np.sign(b), 0.0)
    grad = c - np.einsum("rjk,rk->rj", G, b) - l2 * b - half_l1 * s
    scale = KKT_SLACK * (1.0 + np.abs(c).max(axis=1, keepdims=True))
    stationary = np.all(np.where(active, np.abs(grad) <= scale, True), axis=1)
    return stationary & _kkt(G, c, b, half_l1, l2, active, s)


def _weights(p: int, penalty: float, mix: float) -> tuple[np.ndarray, np.ndarray]:
    """λw/2 and λ(1 − w) per coefficient, 0 on the intercept."""
    half_l1 = np.r_[0.0, np.full(p - 1, penalty * mix / 2.0)]
    l2 = np.r_[0.0, np.full(p - 1, penalty * (1.0 - mix))]
    return half_l1, l2


def elastic_net_gram(
    G: np.ndarray, c: np.ndarray, penalty: float, mix: float
) -> tuple[np.ndarray, np.ndarray]:
    """Elastic-net coefficients from the Gram matrices G = X'X (R×p×p) and c = X'y (R×p):
    (R×p estimates, R certified flags). Column 0 is the unpenalised intercept."""
    R, p = c.shape
    half_l1, l2 = _weights(p, penalty, mix)
    b = np.zeros((R, p))
    done = np.zeros(R, dtype=bool)
    todo = np.arange(R)
    tol = STEP_TOL
    for _ in range(ROUNDS):
        _sweeps(G[todo], c[todo], sub := b[todo], half_l1, l2, tol)
        b[todo] = sub
        exact, ok = _polish(G[todo], c[todo], sub, half_l1, l2)
        b[todo[ok]] = exact[ok]
        done[todo[ok]] = True
        todo = todo[~ok]
        if todo.size == 0:
            break
        tol /= 100.0
    return b, done
