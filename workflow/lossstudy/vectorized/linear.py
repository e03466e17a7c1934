"""OLS (classical, HC0–HC3 and HAC SEs), WLS and ridge by batched normal equations, as
statsmodels and ``estimators.ridge_closed_form`` compute them.

WLS is OLS on the whitened data √w·X, √w·y (``_whitened``), as statsmodels ``WLS`` solves it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lossstudy import estimators
from lossstudy.dgp import Dataset
from lossstudy.distributions import t_ppf

from ._linalg import _Chol, _Design, _diag_sandwich, _inv_diag
from ._results import _Fits

#: HC2 and HC3 divide by 1 − h_ii; both are computed with a relative error of about
#: eps·cond(X'X)/(1 − h_ii), the reference's as much as ours. A replicate where that bound
#: exceeds ~1e-10 (1 − h_ii < HC3_LEVERAGE_RTOL·cond) goes to the reference.
HC3_LEVERAGE_RTOL = 1e-6


def _hac_diag(z: np.ndarray, maxlags: int) -> np.ndarray:
    """diag of Σ_l w_l (Γ_l + Γ_l') in the directions of z's columns, Bartlett weights.

    z is m×n×p with z[r, t, j] = u_t·x_t'(X'X)⁻¹e_j, so that diag((X'X)⁻¹ S (X'X)⁻¹)_j of
    statsmodels ``S_hac_simple``/``_HCCM2`` is Σ_t z_tj² + 2 Σ_l w_l Σ_t z_{t+l,j} z_tj.
    """
    out = np.einsum("rnp,rnp->rp", z, z)
    for lag in range(1, maxlags + 1):
        w = 1.0 - lag / (maxlags + 1.0)  # statsmodels weights_bartlett
        out += 2.0 * w * np.einsum("rnp,rnp->rp", z[:, lag:], z[:, :-lag])
    return out


def _ols(D: _Design, y: np.ndarray, level: float, se_type: str, chol: _Chol) -> _Fits:
    """OLS with classical, HC0–HC3 or HAC SEs and t(n − p) intervals, as statsmodels OLS
    (see ``estimators.fit_ols`` for the exact configuration)."""
    m, n = y.shape
    p = D.p
    f = _Fits.empty(m, p)
    df = n - p
    b = chol.solve(D.xtv(y))
    r = y - D.xb(b)
    b = b + chol.solve(D.xtv(r))  # one step of refinement: error ~cond(X)·eps, as pinv
    r = y - D.xb(b)
    if se_type == "classical":
        scale = np.einsum("rn,rn->r", r, r) / df
        f.se = np.sqrt(scale[:, None] * _inv_diag(chol))
    elif se_type == "hac":  # statsmodels cov_hac_simple, use_correction=True
        q_mat = D.X @ chol.inverse()  # X (X'X)⁻¹ = pinv'
        var = _hac_diag(r[:, :, None] * q_mat, estimators.hac_maxlags(n))
        f.se = np.sqrt(var * (n / float(df)))
    else:  # HCk, statsmodels cov_HCk: pinv diag(het) pinv'
        inv = chol.inverse()
        q_mat = D.X @ inv  # X (X'X)⁻¹ = pinv'
        if se_type in ("hc0", "hc1"):
            het = r**2 if se_type == "hc0" else n / df * r**2
        else:
            h = np.einsum("rnp,rnp->rn", q_mat, D.X)
            het = r**2 / (1 - h) if se_type == "hc2" else (r / (1 - h)) ** 2
            trace_g = np.einsum("rnp,rnp->r", D.X, D.X)
            kappa = (trace_g * np.trace(inv, axis1=1, axis2=2))[:, None]  # ≥ cond(X'X)
            # h → 1 makes r/(1 − h) a ratio of rounding errors: leave it to the reference
            f.refer |= np.any(~(1.0 - h > HC3_LEVERAGE_RTOL * kappa), axis=-1)
        f.se = np.sqrt((het[:, None, :] @ (q_mat * q_mat))[:, 0, :])
    alpha = 1.0 - level  # RegressionResults.conf_int: t(df_resid) quantile at 1 − α/2
    q = t_ppf(1 - alpha / 2, df)
    f.est = b
    f.lo = b - q * f.se
    f.hi = b + q * f.se
    return f


def _ridge(D: _Design, y: np.ndarray, penalty: float) -> _Fits | None:
    """Closed-form ridge as ``estimators.ridge_closed_form``; None if an inverse fails."""
    m, n = y.shape
    p = D.p
    f = _Fits.empty(m, p)
    pen = np.eye(p)
    pen[0, 0] = 0.0
    xtx = D.gram_full()
    try:
        a_inv = np.linalg.inv(xtx + penalty * pen)
    except np.linalg.LinAlgError:
        return None
    b = (a_inv @ D.xtv(y)[:, :, None])[:, :, 0]
    r = y - D.xb(b)
    df_eff = n - np.einsum("rjk,rkj->r", a_inv, xtx)  # tr(X A⁻¹ X') = tr(A⁻¹ X'X)
    sigma2 = np.einsum("rn,rn->r", r, r) / df_eff
    f.se = np.sqrt(sigma2[:, None] * _diag_sandwich(a_inv, xtx))
    f.est = b
    return f


def _whitened(data: Dataset, spec: dict[str, Any]) -> Dataset:
    """√w·X and √w·y with the WLS weights of ``estimators.wls_weights`` (non-finite data stays
    non-finite; those replicates go to the reference anyway)."""
    with np.errstate(all="ignore"):
        w = estimators.wls_weights(
            data.X, int(spec.get("predictor", 1)), float(spec.get("strength", 1.0))
        )
        sw = np.sqrt(w)
        return Dataset(sw[..., None] * data.X, sw * data.y, data.beta, data.replicates)
