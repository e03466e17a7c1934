"""The exact solver for smooth, strictly convex losses: damped Newton from the OLS fit.

Why one solver for all of them: a smooth loss is known by ρ, its derivative ψ and ψ'; the
Newton step H⁻¹X'ψ(r) with H = X' diag(ψ'(r)) X, halved until the objective Σρ(rᵢ) falls
(Armijo), converges from any start for a strictly convex ρ, and quadratically near the
optimum. It stops when a step moves no coefficient by more than ``TOL``·(1 + max|β|). A loss
module supplies ρ, ψ, ψ' and registers itself with :func:`register_smooth`; it gets a
reference fit (one replicate, plain numpy) and a batched one (every replicate of a chunk at
once; each replicate's arithmetic does not depend on the others, so job splits do not change
a bit), and an M-estimator sandwich covariance A⁻¹BA⁻¹ (A = X'diag(ψ')X, B = X'diag(ψ²)X) with
normal (z) intervals, or ``se: none``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from lossstudy import estimators
from lossstudy.estimators import NOT_CONVERGED, OK, FitResult
from lossstudy.methods.registry import Axis, Fit, Param, register_fit, register_loss
from lossstudy.quantiles import norm_ppf
from lossstudy.vectorized import EngineInfo, single_thread_blas
from lossstudy.vectorized._linalg import _Chol, _Design, _packed, _unpack
from lossstudy.vectorized._results import _finish, _Fits

#: Step tolerance, relative to 1 + max|β|.
TOL = 1e-12
#: Newton iterations before a fit is ``not_converged`` (a handful suffice from the OLS start).
MAXITER = 100
#: Step halvings per iteration; Armijo's sufficient-decrease constant.
HALVINGS, ARMIJO = 60, 1e-4
#: A Newton step this small (relative, as TOL) is taken whole: the fit is in the quadratic
#: region, where the objective's rounding noise would defeat the Armijo test.
NEAR = 1e-6
#: Replicates × observations per batch (as the vectorised engine's chunks).
CELLS = 1 << 16

Elementwise = Callable[..., np.ndarray]


@dataclass(frozen=True)
class Smooth:
    """ρ, ψ = ρ' and ψ' of a loss, each ``f(r, **params)`` elementwise."""

    rho: Elementwise
    psi: Elementwise
    dpsi: Elementwise


def _small(step: np.ndarray, beta: np.ndarray, tol: float = TOL) -> np.ndarray:
    return np.max(np.abs(step), axis=-1) <= tol * (1.0 + np.max(np.abs(beta), axis=-1))


def _intervals(
    beta: np.ndarray, cov: np.ndarray, level: float, se: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if se == "none":
        nan = np.full_like(beta, np.nan)
        return nan, nan, nan
    sd = np.sqrt(np.diagonal(cov, axis1=-2, axis2=-1))
    crit = norm_ppf(0.5 + level / 2)
    return sd, beta - crit * sd, beta + crit * sd


def newton_reference(
    loss: Smooth, X: np.ndarray, y: np.ndarray, level: float, se: str, **params: Any
) -> estimators.Fitted:
    """One replicate: damped Newton from the least-squares fit, sandwich SE, z intervals."""
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
        raise ValueError("non-finite data")
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    converged = False
    for _ in range(MAXITER):
        r = y - X @ beta
        g = X.T @ loss.psi(r, **params)
        d = np.linalg.solve((X.T * loss.dpsi(r, **params)) @ X, g)
        f0, slope, t = loss.rho(r, **params).sum(), g @ d, 1.0
        for _ in range(HALVINGS):
            step = t * d
            if _small(step, beta, NEAR) or (
                loss.rho(y - X @ (beta + step), **params).sum() <= f0 - ARMIJO * t * slope
            ):
                break
            t /= 2
        beta = beta + step
        if _small(step, beta):
            converged = True
            break
    r = y - X @ beta
    a_inv = np.linalg.inv((X.T * loss.dpsi(r, **params)) @ X)
    cov = a_inv @ ((X.T * loss.psi(r, **params) ** 2) @ X) @ a_inv
    sd, lo, hi = _intervals(beta, cov, level, se)
    if not converged:
        return beta, sd, lo, hi, NOT_CONVERGED, f"Newton stopped at maxiter={MAXITER}"
    return beta, sd, lo, hi, OK, ""


def _newton_chunk(loss: Smooth, D: _Design, y: np.ndarray, level: float, se: str,
                  params: Mapping[str, Any]) -> _Fits:  # fmt: skip
    """The batched :func:`newton_reference` of replicates with finite data; a replicate whose
    X'X or Hessian is not positive definite is handed to the reference (``refer``)."""
    m, p = y.shape[0], D.p
    f = _Fits.empty(m, p)
    chol = _Chol(_packed(D.gram_full()), p)
    beta = chol.solve(D.xtv(y))
    f.refer |= ~chol.ok
    active = chol.ok.copy()
    for _ in range(MAXITER):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        Da, ya, b = D.take(idx), y[idx], beta[idx]
        r = ya - Da.xb(b)
        g = Da.xtv(loss.psi(r, **params))
        hess = _Chol(Da.gram(loss.dpsi(r, **params)), p)
        d = hess.solve(g)
        f0, slope = loss.rho(r, **params).sum(axis=1), np.sum(g * d, axis=1)
        t = np.ones(idx.size)
        step = np.zeros_like(b)
        done = ~hess.ok  # handed to the reference below
        for _ in range(HALVINGS):
            trial = t[:, None] * d
            f1 = loss.rho(ya - Da.xb(b + trial), **params).sum(axis=1)
            take = ~done & (_small(trial, b, NEAR) | (f1 <= f0 - ARMIJO * t * slope))
            step[take] = trial[take]
            done |= take
            if done.all():
                break
            t = np.where(done, t, t / 2)
        beta[idx] = b + step
        f.refer[idx[~hess.ok]] = True
        active[idx[~hess.ok | _small(step, beta[idx])]] = False
    f.status[active] = NOT_CONVERGED
    f.message[active] = f"Newton stopped at maxiter={MAXITER}"
    r = y - D.xb(beta)
    a_inv = _Chol(D.gram(loss.dpsi(r, **params)), p).inverse()
    cov = a_inv @ _unpack(D.gram(loss.psi(r, **params) ** 2), p) @ a_inv
    f.est = beta
    f.se, f.lo, f.hi = _intervals(beta, cov, level, se)
    return f


def newton_batched(
    loss: Smooth,
    params: Mapping[str, Any],
    se_type: str,
    data: Any,
    spec: Mapping[str, Any],
    level: float,
    *,
    info: EngineInfo,
    progress: Callable[[int, int], None] | None = None,
) -> FitResult:
    """Every replicate of a chunk (``data``, a :class:`lossstudy.dgp.Dataset`); ``spec`` is
    what a replicate handed to the reference is fitted with."""
    R, p = data.beta.shape
    n = data.y.shape[1]
    X = data.stacked_design()
    est, se, lo, hi = (np.full((R, p), np.nan) for _ in range(4))
    status = np.full(R, OK, dtype=object)
    message = np.full(R, "", dtype=object)
    refer = ~(np.all(np.isfinite(data.y), axis=1) & np.all(np.isfinite(X), axis=(1, 2)))
    rows = np.flatnonzero(~refer)
    step = max(1, CELLS // n)
    with single_thread_blas(), np.errstate(all="ignore"):
        for start in range(0, rows.size, step):
            sel = rows[start : start + step]
            D = _Design(np.ascontiguousarray(X[sel]))
            f = _newton_chunk(loss, D, data.y[sel], level, se_type, params)
            _finish(f)
            est[sel], se[sel], lo[sel], hi[sel] = f.est, f.se, f.lo, f.hi
            status[sel], message[sel] = f.status, f.message
            refer[sel] |= f.refer
            if progress is not None:
                progress(int(start + sel.size), R)
    info.fits += R
    for i in np.flatnonzero(refer):
        est[i], se[i], lo[i], hi[i], status[i], message[i] = estimators.fit_one(
            data.design(int(i)), data.y[i], dict(spec), level
        )
    info.reference_fallback += int(refer.sum())
    return FitResult(est, se, lo, hi, status, message)


def register_smooth(
    name: str,
    loss: Smooth,
    params: Mapping[str, Param],
    text: str,
    describe: Callable[[Mapping[str, Any]], str],
    *,
    robust: bool,
) -> Fit:
    """Register a smooth, strictly convex loss (even: ρ(−r) = ρ(r)) with the exact solver.

    ``describe(params)`` gives the loss in words with its parameter values.
    """
    register_loss(Axis(name, params, text))

    def reference(X: np.ndarray, y: np.ndarray, level: float, se: str = "sandwich", **kw: Any):
        return newton_reference(loss, X, y, level, se, **kw)

    def batched(data: Any, spec: Mapping[str, Any], level: float, **kw: Any) -> FitResult:
        values = {k: spec.get(k, p.default) for k, p in params.items()}
        se = str(spec.get("se", "sandwich"))
        return newton_batched(loss, values, se, data, spec, level, **kw)

    def texts(p: Mapping[str, Any]) -> tuple[str, str, str]:
        words = "normal (z); M-estimator sandwich covariance" if p["se"] == "sandwich" else "none"
        return describe(p), "none", words

    se = Param("sandwich", {"enum": ["sandwich", "none"]}, "sandwich (z intervals) or none")
    return register_fit(
        Fit(
            name,
            "none",
            "exact",
            reference,
            se=("sandwich", "none"),
            params={**params, "se": se},
            batched=batched,
            robust=robust,
            symmetric_unbiased=True,
            texts=texts,
        )
    )
