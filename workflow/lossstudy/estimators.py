"""Reference fits of the losses, one replicate at a time.

These are the *reference* implementations the study trusts (correct before fast):

- ``ols`` — L2 loss, statsmodels ``OLS``; t intervals with n − p df for every SE type
  (``use_t=True``, ``df_resid = n − p``). ``se`` is one of
  ``classical`` (σ̂²(X'X)⁻¹);
  ``hc0`` (White), ``hc1`` (HC0·n/(n − p)), ``hc2`` (r²/(1 − h)), ``hc3`` (r²/(1 − h)²;
  MacKinnon–White), statsmodels ``fit(cov_type="HCk", use_t=True)``;
  ``hac`` — Newey–West: statsmodels ``fit(cov_type="HAC", cov_kwds={"maxlags": L,
  "kernel": "bartlett", "use_correction": True}, use_t=True)``, i.e. Bartlett weights
  1 − l/(L + 1) for lags l = 1…L over the observations in row (time) order, L = ``hac_maxlags(n)``
  = floor(4 (n/100)^(2/9)), and the small-sample factor n/(n − p) on the covariance.
  (statsmodels' ``fit(cov_type="HAC")`` defaults to ``use_correction=False``, its
  ``cov_hac_simple`` to True; we set it explicitly, so that HAC with L = 0 is HC1, like Stata's
  ``newey``.) No prewhitening, no automatic bandwidth selection.
- ``wls`` — weighted L2 loss with fixed, known weights w_i = 1/(1 + strength·x_ij²) (j =
  ``predictor``), statsmodels ``WLS``; classical WLS SEs (σ̂² (X'WX)⁻¹, σ̂² = Σ w r²/(n − p)),
  t intervals with n − p df. Linear in y and unbiased whenever OLS is; it is the BLUE (Aitken)
  when Var(e_i | x) ∝ 1 + strength·x_ij², and less efficient than OLS under homoskedasticity.
- ``lad`` — L1 loss, the exact LP optimum from scipy HiGHS on the dual problem (statsmodels
  QuantReg's IRLS is not an exact L1 solver); standard errors by statsmodels QuantReg's own
  kernel formula (Hall–Sheather bandwidth, Epanechnikov kernel, "robust" covariance) evaluated
  at that optimum; t intervals with n − p df, as QuantReg reports.
- ``huber`` — statsmodels ``RLM(HuberT(k))``: MAD scale re-estimated each step, H1 covariance,
  normal (z) intervals; a fit that reaches HUBER_MAXITER (200) iterations is ``not_converged``.
- ``ridge`` — closed form of min ||y − Xb||² + λ||b_slopes||² (intercept unpenalised; λ is on
  the scale of the residual sum of squares, so statsmodels' ``fit_regularized`` alpha is λ/n).
  Its SE is the conditional SD σ̂²(X'X+λD)⁻¹X'X(X'X+λD)⁻¹ with σ̂² = RSS/(n − tr H_λ); it has no
  confidence interval (it is biased by design), so intervals are NaN; with ``se: posterior``
  the Gaussian prior's credible intervals instead (:mod:`lossstudy.posterior`).

Every fit is isolated: an exception, a warning or a non-finite number is recorded as that
replicate's ``status``/``message`` for that estimator only, and the study goes on.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lossstudy.dgp import Dataset
from lossstudy.methods import registry
from lossstudy.posterior import posterior_intervals
from lossstudy.quantiles import hall_sheather, norm_ppf, t_ppf

OK, NOT_CONVERGED, FAILED = "ok", "not_converged", "failed"

Fitted = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str, str]


@dataclass
class FitResult:
    """Per-replicate results of one estimator on one chunk (arrays are R×p or R)."""

    estimate: np.ndarray
    std_error: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    status: np.ndarray
    message: np.ndarray


def is_linear_in_y(spec: dict[str, Any]) -> bool:
    """A linear map of y (OLS, WLS, ridge) inherits the errors' (missing) moments; the
    registry's fact (``lossstudy.methods``)."""
    return registry.fit_for(spec).linear_in_y


# --------------------------------------------------------------------------- OLS


#: The heteroskedasticity-consistent SE types (statsmodels ``cov_type`` = upper case).
HC_TYPES = ("hc0", "hc1", "hc2", "hc3")
#: Every ``se`` of ``method: ols``.
OLS_SE_TYPES = ("classical", *HC_TYPES, "hac")


def hac_maxlags(n: int) -> int:
    """Newey–West lag truncation floor(4 (n/100)^(2/9)) (statsmodels ``S_hac_simple``'s rule)."""
    return int(np.floor(4 * (n / 100.0) ** (2.0 / 9.0)))


def fit_ols(X: np.ndarray, y: np.ndarray, level: float, se: str = "classical") -> Fitted:
    from statsmodels.regression.linear_model import OLS

    model = OLS(y, X)
    if se == "classical":
        res = model.fit()
    elif se in HC_TYPES:
        res = model.fit(cov_type=se.upper(), use_t=True)
    elif se == "hac":
        kwds = {"maxlags": hac_maxlags(X.shape[0]), "kernel": "bartlett", "use_correction": True}
        res = model.fit(cov_type="HAC", cov_kwds=kwds, use_t=True)
    else:
        raise ValueError(f"unknown se {se!r} for method ols (one of {', '.join(OLS_SE_TYPES)})")
    ci = res.conf_int(alpha=1.0 - level)
    return res.params, res.bse, ci[:, 0], ci[:, 1], OK, ""


# --------------------------------------------------------------------------- WLS


def wls_weights(X: np.ndarray, predictor: int = 1, strength: float = 1.0) -> np.ndarray:
    """Fixed, known weights 1/(1 + strength·x_j²) from column ``predictor`` of X (… × n × p)."""
    return 1.0 / (1.0 + float(strength) * X[..., int(predictor)] ** 2)


def fit_wls(
    X: np.ndarray, y: np.ndarray, level: float, predictor: int = 1, strength: float = 1.0
) -> Fitted:
    from statsmodels.regression.linear_model import WLS

    res = WLS(y, X, weights=wls_weights(X, predictor, strength)).fit()
    ci = res.conf_int(alpha=1.0 - level)
    return res.params, res.bse, ci[:, 0], ci[:, 1], OK, ""


# --------------------------------------------------------------------------- LAD


def lad_lp(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, int, str]:
    """Exact L1 fit from the dual LP: max y'd s.t. X'd = X'1/2, 0 ≤ d ≤ 1; β = −duals."""
    from scipy.optimize import linprog

    res = linprog(-y, A_eq=X.T, b_eq=0.5 * X.sum(axis=0), bounds=(0.0, 1.0), method="highs")
    if res.status != 0:
        return np.full(X.shape[1], np.nan), int(res.status), str(res.message)
    return -np.asarray(res.eqlin.marginals), 0, ""


def quantreg_kernel_cov(
    X: np.ndarray, y: np.ndarray, beta: np.ndarray, q: float = 0.5
) -> np.ndarray:
    """statsmodels QuantReg's default covariance (robust, Epanechnikov, Hall–Sheather) at β.

    Transcribed from ``QuantReg.fit`` so that it can be evaluated at the *exact* optimum.
    Note that its bandwidth uses the SD of y, not of the residuals (R's quantreg differs).
    """
    n = X.shape[0]
    e = y - X @ beta
    iqre = np.percentile(e, 75) - np.percentile(e, 25)
    h = hall_sheather(n, q)
    h = min(np.std(y), iqre / 1.34) * (norm_ppf(q + h) - norm_ppf(q - h))
    u = e / h
    fhat0 = 1.0 / (n * h) * np.sum(0.75 * (1 - u**2) * (np.abs(u) <= 1))
    d = np.where(e > 0, (q / fhat0) ** 2, ((1 - q) / fhat0) ** 2)
    xtxi = np.linalg.pinv(X.T @ X)
    xtdx = (X.T * d) @ X
    return xtxi @ xtdx @ xtxi


def fit_lad(X: np.ndarray, y: np.ndarray, level: float) -> Fitted:
    beta, code, msg = lad_lp(X, y)
    if code != 0:
        nan = np.full_like(beta, np.nan)
        return beta, nan, nan, nan, FAILED, f"linprog status {code}: {msg}"
    se = np.sqrt(np.diag(quantreg_kernel_cov(X, y, beta)))
    crit = t_ppf(0.5 + level / 2, X.shape[0] - X.shape[1])
    return beta, se, beta - crit * se, beta + crit * se, OK, ""


# --------------------------------------------------------------------------- Huber

#: statsmodels' default is 50; at n = 25 about 5-14% of fits are still creeping towards the
#: optimum there (not cycling: all converge by 200, moving the estimate by < 4e-4), and excluding
#: them would flatter Huber. 200 lets them finish; a fit that reaches it is ``not_converged``.
HUBER_MAXITER = 200


def fit_huber(X: np.ndarray, y: np.ndarray, level: float, k: float = 1.345) -> Fitted:
    from statsmodels.robust.norms import HuberT
    from statsmodels.robust.robust_linear_model import RLM

    res = RLM(y, X, M=HuberT(t=k)).fit(maxiter=HUBER_MAXITER)
    ci = res.conf_int(alpha=1.0 - level)
    iterations = int(res.fit_history["iteration"])
    if iterations >= HUBER_MAXITER:
        return (
            res.params,
            res.bse,
            ci[:, 0],
            ci[:, 1],
            NOT_CONVERGED,
            (f"IRLS stopped at maxiter={HUBER_MAXITER}"),
        )
    return res.params, res.bse, ci[:, 0], ci[:, 1], OK, ""


# --------------------------------------------------------------------------- ridge


def ridge_closed_form(
    X: np.ndarray, y: np.ndarray, penalty: float
) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients and their conditional covariance under Var(e) = σ̂² I."""
    n, p = X.shape
    D = np.eye(p)
    D[0, 0] = 0.0
    xtx = X.T @ X
    A_inv = np.linalg.inv(xtx + penalty * D)
    beta = A_inv @ (X.T @ y)
    resid = y - X @ beta
    df_eff = n - np.trace(X @ A_inv @ X.T)
    sigma2 = resid @ resid / df_eff
    return beta, sigma2 * A_inv @ xtx @ A_inv


def fit_ridge(
    X: np.ndarray,
    y: np.ndarray,
    level: float,
    penalty: float = 1.0,
    sigma: float | None = None,
    se: str = "none",
) -> Fitted:
    """Ridge; ``se: posterior`` gives the Gaussian prior's credible intervals
    (:mod:`lossstudy.posterior`), else the conditional SD and no interval."""
    beta, cov = ridge_closed_form(X, y, penalty)
    if se == "posterior":
        return (beta, *posterior_intervals(X, y, beta, penalty, level, sigma), OK, "")
    nan = np.full_like(beta, np.nan)
    return beta, np.sqrt(np.diag(cov)), nan, nan, OK, ""


# --------------------------------------------------------------------------- driver


def _needs_full_rank(spec: dict[str, Any]) -> bool:
    return registry.resolve(spec).needs_full_rank()


def _reports_no_se(resolved: registry.Resolved, se: np.ndarray) -> bool:
    """A fit without standard errors (the lasso) returns NaN by design: nothing to report."""
    return resolved.se == "none" and bool(np.all(np.isnan(se)))


def fit_one(X: np.ndarray, y: np.ndarray, spec: dict[str, Any], level: float) -> Fitted:
    """Fit one dataset; never raises: failures come back as a status and a message."""
    p = X.shape[1]
    nan = np.full(p, np.nan)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            # inside the try: the SVD of a design holding NaN/inf raises LinAlgError
            resolved = registry.resolve(spec)  # the registry's fit (lossstudy.methods)
            if resolved.needs_full_rank():
                rank = np.linalg.matrix_rank(X)
                if rank < p:
                    return nan, nan, nan, nan, FAILED, f"design matrix rank {rank} < p = {p}"
            fit = resolved.fit.reference
            kwargs = dict(resolved.params)
            if len(resolved.fit.se) > 1:  # the interval method, where the fit has a choice
                kwargs.setdefault("se", resolved.se)
            est, se, lo, hi, status, msg = fit(X, y, level, **kwargs)
        except Exception as exc:  # noqa: BLE001 - any failure is data, not a crash
            return nan, nan, nan, nan, FAILED, f"{type(exc).__name__}: {exc}"
    est, se, lo, hi = (np.asarray(a, dtype=float) for a in (est, se, lo, hi))
    if status == OK and not np.all(np.isfinite(est)):
        status, msg = FAILED, "non-finite estimate"
    elif status == OK and not np.all(np.isfinite(se)) and not _reports_no_se(resolved, se):
        # the estimate stands; only SE-based measures lose this replicate (per-measure n_used)
        se, lo, hi = nan, nan, nan
        msg = "non-finite standard error: estimate kept, SE and interval set to NaN"
    if caught and not msg:
        msg = "; ".join(sorted({f"{w.category.__name__}: {w.message}" for w in caught}))
    return est, se, lo, hi, status, msg


def fit_dataset(
    data: Dataset,
    spec: dict[str, Any],
    level: float,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> FitResult:
    """Fit every replicate of a chunk with one estimator.

    ``progress``, if given, is called as ``progress(done, total)`` after each replicate.
    """
    R, p = data.beta.shape
    est, se, lo, hi = (np.full((R, p), np.nan) for _ in range(4))
    status = np.empty(R, dtype=object)
    message = np.empty(R, dtype=object)
    for i in range(R):
        est[i], se[i], lo[i], hi[i], status[i], message[i] = fit_one(
            data.design(i), data.y[i], spec, level
        )
        if progress is not None:
            progress(i + 1, R)
    return FitResult(est, se, lo, hi, status, message)
