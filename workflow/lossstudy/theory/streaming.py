"""Exact mean-square theory of SGD on the squared loss when no row is used twice (streaming).

Why: SGD's noise floor is the number an ML reader knows from theory (E‖β − β*‖² →
ηdσ²/(2b − η(b + d + 1)) for isotropic Gaussian x, no intercept) and the study can reproduce it
exactly, at every step, not only in the limit. With a random design, iid rows x_i independent of
homoskedastic errors of variance σ², and a minibatch order that visits each row at most once
(steps·b ≤ n, as one epoch of the engine's shuffled batches), the error e_t = β_t − β obeys

    e_{t+1} = (I − η Ĥ_t) e_t + η ḡ_t,   Ĥ_t = (1/b) Σ_B x x',   ḡ_t = (1/b) Σ_B x ε,

with (Ĥ_t, ḡ_t) independent of e_t. So the mean m_t = E e_t and the second moment S_t = E e_t e_t'
follow closed linear recursions

    m_{t+1} = (I − ηH) m_t,
    S_{t+1} = S_t − η(HS_t + S_tH) + η²[(1/b) E(xx'S_t xx') + (1 − 1/b) H S_t H] + η²σ²H/b,

with H = E xx' and the fourth moments of x = (1, z), z ~ N(0, C) from Isserlis' theorem. Only
σ² enters: the floor is the same under normal, t or contaminated errors of one variance.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from lossstudy.dgp import equicorrelation_root

from .checks import Setting


def design_moments(
    p: int, correlation: float, intercept: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """H = E xx' and the fourth-moment tensor E[x_i x_j x_k x_l] of x = (1, z) (or z alone),
    z ~ N(0, C) with C the equicorrelation matrix of the study's random designs."""
    d = p - 1 if intercept else p
    root = equicorrelation_root(d, correlation)
    C = root @ root
    # augmented covariance: index 0 is the constant (variance 0, mean 1) when there is one
    idx = list(range(p))
    off = 1 if intercept else 0

    def second(a: int, b: int) -> float:
        if intercept and (a == 0 or b == 0):
            return 1.0 if a == b == 0 else 0.0
        return float(C[a - off, b - off])

    H = np.array([[second(a, b) for b in idx] for a in idx])
    T = np.zeros((p, p, p, p))
    for i, j, k, m in itertools.product(idx, repeat=4):
        z = [a - off for a in (i, j, k, m) if not (intercept and a == 0)]
        if len(z) % 2:
            continue
        if not z:
            T[i, j, k, m] = 1.0
        elif len(z) == 2:
            T[i, j, k, m] = C[z[0], z[1]]
        else:
            a, b, c, e = z
            T[i, j, k, m] = C[a, b] * C[c, e] + C[a, c] * C[b, e] + C[a, e] * C[b, c]
    return H, T


def _propagate(S: np.ndarray, H: np.ndarray, T: np.ndarray, lr: float, batch: int) -> np.ndarray:
    """The linear part of the S recursion: E[(I − ηĤ) S (I − ηĤ)] for a minibatch of b rows."""
    fourth = np.einsum("ijkl,jk->il", T, S)
    return S - lr * (H @ S + S @ H) + lr * lr * (fourth / batch + (1 - 1 / batch) * H @ S @ H)


def sgd_moments(
    H: np.ndarray,
    T: np.ndarray,
    sigma2: float,
    lr: float,
    batch: int,
    steps: list[int] | np.ndarray,
    mean0: np.ndarray,
    second0: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """m_k and S_k (see the module docstring) at each of ``steps`` (increasing), from
    E e_0 = ``mean0`` and E e_0 e_0' = ``second0``."""
    A = np.eye(H.shape[0]) - lr * H
    m, S = np.asarray(mean0, float).copy(), np.asarray(second0, float).copy()
    noise = lr * lr * sigma2 * H / batch
    wanted = {int(k) for k in steps}
    out_m, out_S = [], []
    for t in range(1, max(wanted) + 1):
        S = _propagate(S, H, T, lr, batch) + noise
        S = 0.5 * (S + S.T)
        m = A @ m
        if t in wanted:
            out_m.append(m)
            out_S.append(S)
    return np.array(out_m), np.array(out_S)


def stationary_risk(H: np.ndarray, T: np.ndarray, sigma2: float, lr: float, batch: int) -> float:
    """lim E‖β_t − β‖², the trace of the fixed point of the S recursion; inf if SGD is not
    mean-square stable (the linear part has spectral radius ≥ 1)."""
    p = H.shape[0]
    M = np.column_stack(
        [_propagate(e.reshape(p, p), H, T, lr, batch).ravel() for e in np.eye(p * p)]
    )
    if np.max(np.abs(np.linalg.eigvals(M))) >= 1.0:
        return float("inf")
    noise = (lr * lr * sigma2 * H / batch).ravel()
    return float(np.trace(np.linalg.solve(np.eye(p * p) - M, noise).reshape(p, p)))


def mean_square_limit(H: np.ndarray, T: np.ndarray, batch: int, hi: float = 10.0) -> float:
    """The largest η at which SGD with ``batch`` rows per step is mean-square stable (bisection
    on the finiteness of :func:`stationary_risk`; monotone in η for these designs)."""
    lo = 0.0
    while math.isfinite(stationary_risk(H, T, 1.0, hi, batch)):
        lo, hi = hi, 2.0 * hi
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        if math.isfinite(stationary_risk(H, T, 1.0, mid, batch)):
            lo = mid
        else:
            hi = mid
    return lo


def applies(s: Setting, spec: Mapping[str, Any], steps: int) -> str:
    """Why the streaming theory does not describe this member, trained ``steps`` steps, on the
    scenario ``s`` ('' if it does). The error-side premises are the scenario's own
    (``Setting.homoskedastic``, ``Setting.unbiased``), as every other theory check reads them."""
    if str(spec.get("loss")) != "squared" or str(spec.get("solver")) != "sgd":
        return "not SGD on the squared loss"
    if str(spec.get("penalty", "none")) != "none":
        return "penalised fit"
    if spec.get("lr") is None:
        return "lr_relative: η varies with each replicate's design"
    if str(spec.get("schedule", "constant")) != "constant" or spec.get("average", False):
        return "not a constant step without averaging"
    if str(spec.get("init", "zeros")) != "zeros":
        return "init ols depends on every row: not streaming"
    b = int(spec["batch_size"])
    if steps * b > s.n:
        return f"{steps} steps of {b} rows reuse rows of n = {s.n}: finite-sum SGD, not streaming"
    d = s.knobs["design"]
    if s.fixed:
        return "fixed design: the rows are not fresh draws"
    if d.get("distribution", "normal") != "normal":
        return "uniform design: the moments are for normal rows"
    if float(d["autocorrelation"]) != 0 or float(d["leverage"]["fraction"]) != 0:
        return "rows not iid (autocorrelated design or leverage rows)"
    if not s.homoskedastic:
        return "heteroskedastic or autocorrelated errors"
    if not s.unbiased:
        return s.why_biased
    return ""
