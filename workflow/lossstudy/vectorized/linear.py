"""OLS (classical and HC3 SEs), WLS and ridge by batched normal equations, as statsmodels and
``estimators.ridge_closed_form`` compute them.

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

#: HC3 divides a residual by 1 − h_ii; both are computed with a relative error of about
#: eps·cond(X'X)/(1 − h_ii), the reference's as much as ours. A replicate where that bound
#: exceeds ~1e-10 (1 − h_ii < HC3_LEVERAGE_RTOL·cond) goes to the reference.
HC3_LEVERAGE_RTOL = 1e-6


def _ols(D: _Design, y: np.ndarray, level: float, se_type: str, chol: _Chol) -> _Fits:
    """OLS with classical or HC3 SEs and t(n − p) intervals, as statsmodels OLS."""
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
    else:  # HC3, statsmodels cov_HC3: pinv (r/(1-h))² pinv'
        inv = chol.inverse()
        q_mat = D.X @ inv  # X (X'X)⁻¹ = pinv'
        h = np.einsum("rnp,rnp->rn", q_mat, D.X)
        het = (r / (1 - h)) ** 2
        f.se = np.sqrt((het[:, None, :] @ (q_mat * q_mat))[:, 0, :])
        trace_g = np.einsum("rnp,rnp->r", D.X, D.X)
        kappa = (trace_g * np.trace(inv, axis1=1, axis2=2))[:, None]  # ≥ cond(X'X)
        # h → 1 makes r/(1 − h) a ratio of rounding errors: leave it to the reference
        f.refer |= np.any(~(1.0 - h > HC3_LEVERAGE_RTOL * kappa), axis=-1)
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
