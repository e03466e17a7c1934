"""The exact minimiser and the objective of a training loss: what a trained fit is measured
against (``opt_diff`` = β_K − β̂, ``objective_gap`` = f(β_K) − f(β̂)).

Why here and in numpy: a trained member's distance to "its" estimator must be to the minimiser
of the very objective it descends, f(β) = mean ρ(y − Xβ) with the ML library's ρ (½r², |r|,
Huber with a fixed δ, ...), found by the study's exact solvers: least squares and LAD by the
vectorised engine, the smooth losses (the fixed-δ Huber included) by the batched damped Newton
of :mod:`lossstudy.losses.smooth`. Every replicate's arithmetic is its own, so job splits do
not change a bit. Imports no JAX.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from lossstudy.dgp import Dataset
from lossstudy.losses import log_cosh, logistic, pseudo_huber
from lossstudy.losses.smooth import Smooth, newton_batched
from lossstudy.vectorized import EngineInfo, fit_dataset_vectorized


def _huber_rho(r: np.ndarray, delta: float) -> np.ndarray:
    a = np.abs(r)  # optax.huber_loss = torch.nn.HuberLoss(delta)
    return np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))


def _huber_psi(r: np.ndarray, delta: float) -> np.ndarray:
    return np.clip(r, -delta, delta)


def _huber_dpsi(r: np.ndarray, delta: float) -> np.ndarray:
    return (np.abs(r) <= delta).astype(np.float64)


#: The Huber loss with a fixed δ in residual units (not the exact fit's MAD-scaled k).
HUBER = Smooth(_huber_rho, _huber_psi, _huber_dpsi)
#: The smooth training losses, solved by damped Newton.
SMOOTH: dict[str, Smooth] = {
    "huber": HUBER,
    "pseudo_huber": pseudo_huber.LOSS,
    "log_cosh": log_cosh.LOSS,
}
#: The parameter each loss takes (δ or the scale c).
PARAM = {"huber": "delta", "pseudo_huber": "delta", "log_cosh": "scale"}
#: The exact fits of the two non-smooth or closed-form losses (the vectorised engine's).
BUILTIN = {"squared": {"method": "ols", "se": "classical"}, "absolute": {"method": "lad"}}


def rho(loss: str, params: Mapping[str, Any], r: np.ndarray) -> np.ndarray:
    """ρ(r) elementwise, as the training engine defines it (``lossstudy.training.losses``)."""
    if loss == "squared":
        return 0.5 * r * r
    if loss == "absolute":
        return np.abs(r)
    return SMOOTH[loss].rho(r, float(params[PARAM[loss]]))


def objective(
    loss: str, params: Mapping[str, Any], X: np.ndarray, y: np.ndarray, beta: np.ndarray
) -> np.ndarray:
    """f(β) = mean ρ(y − Xβ) per replicate (R): ``X`` n×p or R×n×p, ``y`` R×n, ``beta`` R×p."""
    if loss in logistic.LOSS_OF_ETA:  # a classification loss: of (y, η), not of y − η
        return logistic.objective(loss, X, y, beta)
    fitted = np.einsum("np,rp->rn", X, beta) if X.ndim == 2 else np.einsum("rnp,rp->rn", X, beta)
    return rho(loss, params, y - fitted).mean(axis=1)


def minimiser(loss: str, params: Mapping[str, Any], X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """β̂ = argmin mean ρ(y − Xβ) per replicate (R×p); NaN where the exact solver failed."""
    R, p = y.shape[0], X.shape[-1]
    data = Dataset(X, y, np.zeros((R, p)), np.arange(R))
    with np.errstate(all="ignore"):
        if loss in logistic.LOSS_OF_ETA:
            mle, _, done = logistic.newton_logit(X, y)
            mle[~done] = np.nan
            return mle if loss == "cross_entropy" else logistic.brier_minimiser(X, y, mle)
        if loss in BUILTIN:
            res = fit_dataset_vectorized(data, dict(BUILTIN[loss]), 0.95)
        else:
            value = {PARAM[loss]: float(params[PARAM[loss]])}
            # what a replicate the batched Newton hands back (a singular Hessian) is refitted
            # with: the registry's exact fit of the same loss; a fixed-δ Huber has none (the
            # exact ``huber`` is MAD-scaled), so such a replicate comes back failed, β̂ NaN
            spec = {"loss": loss, **value, "se": "none"} if loss != "huber" else {}
            res = newton_batched(SMOOTH[loss], value, "none", data, spec, 0.95, info=EngineInfo())
    est = np.array(res.estimate, dtype=np.float64)
    est[np.asarray(res.status, dtype=str) != "ok"] = np.nan
    return est
