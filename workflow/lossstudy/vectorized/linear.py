"""OLS (classical, HC0–HC3 and HAC SEs), WLS and ridge by batched normal equations, as
statsmodels and ``estimators.ridge_closed_form`` compute them.

WLS is OLS on the whitened data √w·X, √w·y (``_whitened``), as statsmodels ``WLS`` solves it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lossstudy import estimators
from lossstudy.dgp import Dataset
from lossstudy.quantiles import t_ppf

from ._linalg import SHARED_BLOCK as SHARED_BLOCK  # re-exported: its home was this module
from ._linalg import _Chol, _Design, _diag_sandwich, _inv_diag, _packed, _rows_times
from ._results import _Fits

#: HC2 and HC3 divide by 1 − h_ii; both are computed with a relative error of about
#: eps·cond(X'X)/(1 − h_ii), the reference's as much as ours. A replicate where that bound
#: exceeds ~1e-10 (1 − h_ii < HC3_LEVERAGE_RTOL·cond) goes to the reference.
HC3_LEVERAGE_RTOL = 1e-6

#: Classical SEs on a shared design take the residual sum of squares as y'y − b'(X'X)b (one
#: pass over y, no residual vector). Its relative error is about 2·eps·κ·y'y/RSS, κ ≥ cond(X'X)
#: (``SharedDesign.kappa``); a replicate where that bound exceeds RSS_RTOL (a fit explaining
#: nearly all of y, or an ill-conditioned design) computes its residuals instead.
RSS_RTOL = 1e-9


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


# --------------------------------------------------------------------------- shared (fixed) design


class SharedDesign:
    """One n×p design shared by every replicate, factorised once (``None`` from ``make`` when
    it is rank deficient or badly conditioned: the stacked path then decides per replicate)."""

    def __init__(self, X: np.ndarray, pinv: np.ndarray) -> None:
        self.X = X
        self.n, self.p = X.shape
        self.Q = np.ascontiguousarray(pinv.T)  # X (X'X)⁻¹ = pinv'
        self.inv = pinv @ pinv.T  # (X'X)⁻¹ as statsmodels' normalized_cov_params
        self.Xt = np.ascontiguousarray(X.T)
        self.gram = X.T @ X
        self.kappa = float(np.trace(self.gram) * np.trace(self.inv))  # ≥ cond(X'X)

    @classmethod
    def make(cls, X: np.ndarray, cond_limit: float) -> SharedDesign | None:
        if not np.all(np.isfinite(X)):
            return None
        with np.errstate(all="ignore"):
            gram = X.T @ X
            chol = _Chol(_packed(gram[None]), X.shape[1])
            if not chol.ok[0] or not np.trace(gram) * np.trace(chol.inverse()[0]) <= cond_limit:
                return None
            return cls(X, np.linalg.pinv(X))


def _ols_shared(S: SharedDesign, y: np.ndarray, level: float, se_type: str) -> _Fits | None:
    """``_ols`` for replicates sharing one design: one pseudo-inverse (as statsmodels' pinv),
    fixed-shape matrix products for all replicates. None: HC2/HC3 leverage too close to 1."""
    m, n = y.shape
    p, Q, inv = S.p, S.Q, S.inv
    f = _Fits.empty(m, p)
    df = n - p
    b = _rows_times(y, Q)
    if se_type == "classical":  # one pass over y: RSS = y'y − b'(X'X)b (see RSS_RTOL)
        yy = np.einsum("rn,rn->r", y, y)
        with np.errstate(all="ignore"):
            rss = yy - np.einsum("rp,pq,rq->r", b, S.gram, b)  # no BLAS: per-row bits
            near = ~(rss * RSS_RTOL > 2.0 * np.finfo(float).eps * S.kappa * yy)
        if near.any():  # fixed-shape blocks: a replicate's bits do not depend on its company
            r = y[near] - _rows_times(b[near], S.Xt)
            rss[near] = np.einsum("rn,rn->r", r, r)
        f.se = np.sqrt((rss / df)[:, None] * np.diagonal(inv)[None, :])
    else:
        r = y - _rows_times(b, S.Xt)
        if se_type == "hac":
            var = _hac_diag(r[:, :, None] * Q[None], estimators.hac_maxlags(n))
            f.se = np.sqrt(var * (n / float(df)))
        else:
            if se_type in ("hc0", "hc1"):
                het = r**2 if se_type == "hc0" else n / df * r**2
            else:
                h = np.einsum("np,np->n", Q, S.X)
                if not np.all(1.0 - h > HC3_LEVERAGE_RTOL * S.kappa):
                    return None
                het = r**2 / (1 - h) if se_type == "hc2" else (r / (1 - h)) ** 2
            f.se = np.sqrt(_rows_times(het, Q * Q))
    q = t_ppf(1 - (1.0 - level) / 2, df)
    f.est = b
    f.lo = b - q * f.se
    f.hi = b + q * f.se
    return f


def _ridge_shared(X: np.ndarray, y: np.ndarray, penalty: float) -> _Fits | None:
    """``_ridge`` for replicates sharing one design X (n×p); None if the inverse fails."""
    m, n = y.shape
    p = X.shape[1]
    f = _Fits.empty(m, p)
    pen = np.eye(p)
    pen[0, 0] = 0.0
    xtx = X.T @ X
    try:
        a_inv = np.linalg.inv(xtx + penalty * pen)
    except np.linalg.LinAlgError:
        return None
    b = _rows_times(y, X @ a_inv)  # (A⁻¹X'y)' = y'X A⁻¹
    r = y - _rows_times(b, X.T)
    df_eff = n - np.trace(a_inv @ xtx)
    sigma2 = np.einsum("rn,rn->r", r, r) / df_eff
    f.se = np.sqrt(sigma2[:, None] * np.diagonal(a_inv @ xtx @ a_inv)[None, :])
    f.est = b
    return f
