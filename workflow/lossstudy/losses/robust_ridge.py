"""The L2 penalty on the robust losses: Huber + L2 (``huber_ridge``) and LAD + L2
(``lad_ridge``), exact. "An L2 penalty can sit on any loss": the penalty is the Gaussian prior,
the loss the error model, and the two are chosen separately.

Objectives (slopes penalised, intercept free; λ on the scale of its loss's sum, so that both
reduce to their loss's fit at λ = 0)::

    huber_ridge:  Σᵢ 2 s² ρ_k(rᵢ/s) + λ Σⱼ bⱼ²     ρ_k(u) = ½u² (|u| ≤ k), k|u| − ½k² (else)
    lad_ridge:    Σᵢ |rᵢ|          + λ Σⱼ bⱼ²

The Huber term is scaled so that it is the RSS where every |rᵢ| ≤ ks: as k → ∞ huber_ridge is
ridge with the same λ. The scale s is **fixed**: the final scale of the unpenalised Huber fit
(statsmodels ``RLM(HuberT(k))``, the MAD of its residuals / 0.6745), not re-estimated with the
penalty (a jointly re-estimated scale would make the objective non-convex in b). With s fixed,
the optimum solves (X'WX + λD) b = X'Wy with wᵢ = min(1, k s/|rᵢ|): iteratively reweighted
least squares with the ridge term added to the weighted normal equations, run to a step of
1e-13 and kept only where the gradient vanishes to rounding.

LAD + L2 is a QP, solved exactly by its KKT conditions: on the set E of zero residuals they
are one linear system (X_E b = y_E, 2λDb = X'd with dᵢ = sign rᵢ off E), and an answer is kept
only where they certify it (|d_E| ≤ 1, the other residuals' signs those of d). E comes from
200 majorise-minimise steps (reweighted ridge, wᵢ = 1/|rᵢ|): the m smallest residuals,
m = 1, …, p + 1, the first certified. Where none is, the dual QP,
max_d d'y − ‖X_s'd‖²/(4λ) subject to X₀'d = 0, −1 ≤ d ≤ 1 (SLSQP; slow), marks E by
|dᵢ| < 1. Slopes are unique (λ > 0); the intercept can be non-unique (a median interval) and
is the one the zero residuals fix. At λ = 0 both are their unpenalised fits. No SE, no
interval.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from lossstudy import estimators
from lossstudy.losses import absolute, huber  # noqa: F401  (their losses first)
from lossstudy.methods import Fit, Param, SpecError, register_fit, show

#: IRLS stops once max |Δb| ≤ STEP_TOL (1 + max |b|); certified by the gradient (GRAD_TOL)
STEP_TOL = 1e-13
MAX_ITER = 2000
GRAD_TOL = 1e-9
#: majorise-minimise steps before the exact KKT solve of LAD + L2
MM_ITER = 200
#: dual rows with |dᵢ| below 1 − DUAL_GAP are taken as zero residuals
DUAL_GAP = 1e-6

_LAMBDA = Param(1.0, {"type": "number", "minimum": 0}, "λ, on the scale of its loss's sum")


def _penalty_matrix(p: int, lam: float) -> np.ndarray:
    D = lam * np.eye(p)
    D[0, 0] = 0.0
    return D


def huber_scale(X: np.ndarray, y: np.ndarray, k: float) -> float:
    """s: the final scale of the unpenalised Huber fit (statsmodels RLM, MAD / 0.6745)."""
    from statsmodels.robust.norms import HuberT
    from statsmodels.robust.robust_linear_model import RLM

    return float(RLM(y, X, M=HuberT(t=k)).fit(maxiter=estimators.HUBER_MAXITER).scale)


def huber_ridge_objective(
    X: np.ndarray, y: np.ndarray, b: np.ndarray, k: float, s: float, lam: float
) -> float:
    u = np.abs(y - X @ b) / s
    rho = np.where(u <= k, 0.5 * u * u, k * u - 0.5 * k * k)
    return float(2.0 * s * s * rho.sum() + lam * (b[1:] ** 2).sum())


def huber_ridge_gradient(
    X: np.ndarray, y: np.ndarray, b: np.ndarray, k: float, s: float, lam: float
) -> np.ndarray:
    """½ of the objective's gradient: −X'ψ + λDb, ψᵢ = clip(rᵢ, ±ks)."""
    psi = np.clip(y - X @ b, -k * s, k * s)
    return -X.T @ psi + _penalty_matrix(X.shape[1], lam) @ b


def fit_huber_ridge(
    X: np.ndarray, y: np.ndarray, level: float, k: float = 1.345, penalty: float = 1.0
) -> estimators.Fitted:
    """Huber + L2 at the unpenalised fit's scale, by IRLS with the ridge term (module doc)."""
    n, p = X.shape
    nan = np.full(p, np.nan)
    s = huber_scale(X, y, k)
    if not (np.isfinite(s) and s > 0):
        return nan, nan, nan, nan, estimators.FAILED, f"Huber scale {s!r}: not positive"
    D = _penalty_matrix(p, float(penalty))
    b = np.linalg.lstsq(X, y, rcond=None)[0]
    for _ in range(MAX_ITER):
        a = np.abs(y - X @ b)
        w = np.where(a <= k * s, 1.0, k * s / np.maximum(a, np.finfo(float).tiny))
        new = np.linalg.solve((X.T * w) @ X + D, (X.T * w) @ y)
        step = np.abs(new - b).max()
        b = new
        if step <= STEP_TOL * (1.0 + np.abs(b).max()):
            break
    grad = huber_ridge_gradient(X, y, b, k, s, float(penalty))
    if np.abs(grad).max() > GRAD_TOL * (1.0 + np.abs(X.T @ y).max()):
        return b, nan, nan, nan, estimators.NOT_CONVERGED, "IRLS: gradient not 0 at the end"
    return b, nan, nan, nan, estimators.OK, ""


def _lad_ridge_dual(X: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    from scipy.optimize import minimize

    Xs, x0 = X[:, 1:], X[:, 0]
    d0 = np.zeros(X.shape[0])
    res = minimize(
        lambda d: -d @ y + ((Xs.T @ d) ** 2).sum() / (4.0 * lam),
        d0,
        jac=lambda d: -y + Xs @ (Xs.T @ d) / (2.0 * lam),
        bounds=[(-1.0, 1.0)] * X.shape[0],
        constraints=[{"type": "eq", "fun": lambda d: x0 @ d, "jac": lambda d: x0}],
        method="SLSQP",
        options={"ftol": 1e-15, "maxiter": 2000},
    )
    return np.asarray(res.x, dtype=float)


def lad_ridge_kkt(
    X: np.ndarray, y: np.ndarray, lam: float, zero: np.ndarray, sign: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """b and d from the KKT system on the zero-residual rows ``zero`` (the others' d = sign)."""
    n, p = X.shape
    E = np.flatnonzero(zero)
    N = np.flatnonzero(~zero)
    m = E.size
    A = np.zeros((p + m, p + m))
    A[:p, :p] = 2.0 * _penalty_matrix(p, lam)
    A[:p, p:] = -X[E].T
    A[p:, :p] = X[E]
    rhs = np.r_[X[N].T @ sign[N], y[E]]
    sol = np.linalg.lstsq(A, rhs, rcond=None)[0]
    d = sign.astype(float).copy()
    d[E] = sol[p:]
    return sol[:p], d


def lad_ridge_certified(X: np.ndarray, y: np.ndarray, b: np.ndarray, d: np.ndarray, lam: float):
    """KKT: 2λDb = X'd, |d| ≤ 1, dᵢ = sign(rᵢ) wherever rᵢ ≠ 0 (to rounding)."""
    r = y - X @ b
    scale = 1e-9 * (1.0 + np.abs(y).max())
    stationary = np.abs(2.0 * _penalty_matrix(X.shape[1], lam) @ b - X.T @ d).max() <= scale * 10
    inside = np.abs(d).max() <= 1.0 + 1e-9
    nonzero = np.abs(r) > scale
    signs = np.all(np.abs(d[nonzero] - np.sign(r[nonzero])) <= 1e-9)
    return bool(stationary and inside and signs)


def fit_lad_ridge(
    X: np.ndarray, y: np.ndarray, level: float, penalty: float = 1.0
) -> estimators.Fitted:
    """LAD + L2: the dual QP, then the exact KKT solve on its zero-residual rows (module doc)."""
    p = X.shape[1]
    nan = np.full(p, np.nan)
    lam = float(penalty)
    if lam == 0:
        return estimators.fit_lad(X, y, level)[0], nan, nan, nan, estimators.OK, ""
    b = _lad_ridge_mm(X, y, lam)
    if b is not None:
        return b, nan, nan, nan, estimators.OK, ""
    d = _lad_ridge_dual(X, y, lam)  # slow (SLSQP on n variables): only where MM is not certified
    zero = np.abs(d) < 1.0 - DUAL_GAP
    b, d_exact = lad_ridge_kkt(X, y, lam, zero, np.sign(d))
    if not lad_ridge_certified(X, y, b, d_exact, lam):
        return b, nan, nan, nan, estimators.NOT_CONVERGED, "LAD + L2: KKT not certified"
    return b, nan, nan, nan, estimators.OK, ""


def _lad_ridge_mm(X: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray | None:
    """Majorise-minimise (|r| ≤ r²/(2|r₀|) + |r₀|/2: (X'WX + 2λD)b = X'Wy, wᵢ = 1/|rᵢ|) to near
    the optimum, then the KKT solve with the m rows of smallest |rᵢ| as the zero residuals,
    m = 1, …, p + 1: the first certified answer, or None."""
    n, p = X.shape
    D2 = 2.0 * _penalty_matrix(p, lam)
    b = np.linalg.solve(X.T @ X + D2, X.T @ y)
    floor = 1e-12 * (1.0 + np.abs(y).max())
    for _ in range(MM_ITER):
        w = 1.0 / np.maximum(np.abs(y - X @ b), floor)
        b = np.linalg.solve((X.T * w) @ X + D2, (X.T * w) @ y)
    r = y - X @ b
    order = np.argsort(np.abs(r), kind="stable")
    for m in range(1, min(p + 1, n) + 1):
        zero = np.zeros(n, dtype=bool)
        zero[order[:m]] = True
        cand, d = lad_ridge_kkt(X, y, lam, zero, np.sign(r))
        if lad_ridge_certified(X, y, cand, d, lam):
            return cand
    return None


def _check_rank(params: Mapping[str, Any]) -> None:
    lam = params.get("penalty", 1.0)
    if not (isinstance(lam, int | float) and lam >= 0):
        raise SpecError("penalty", f"penalty must be a number ≥ 0 (λ), got {lam!r}.")


register_fit(
    Fit(
        "huber",
        "l2",
        "exact",
        fit_huber_ridge,
        se=("none",),
        params={**huber.HUBER.params, "penalty": _LAMBDA},
        intervals=False,
        robust=True,
        # the scale comes from the unpenalised Huber fit, which needs full rank
        needs_full_rank=lambda params: True,
        texts=lambda params: (
            f"Huber: Σ 2s² ρ_k(rᵢ/s), k = {show(params.get('k'))}, s the unpenalised fit's scale",
            f"λ = {show(params.get('penalty'))}: λ Σ βⱼ² on the slopes",
            "none: biased by design",
        ),
        strength="penalty",
        validate=_check_rank,
    ),
    shorthand="huber_ridge",
)
register_fit(
    Fit(
        "absolute",
        "l2",
        "exact",
        fit_lad_ridge,
        se=("none",),
        params={"penalty": _LAMBDA},
        intervals=False,
        robust=True,
        needs_full_rank=lambda params: not params.get("penalty", 1.0) > 0,
        texts=lambda params: (
            "L1: Σ |rᵢ|",
            f"λ = {show(params.get('penalty'))}: λ Σ βⱼ² on the slopes",
            "none: biased by design",
        ),
        strength="penalty",
    ),
    shorthand="lad_ridge",
)
