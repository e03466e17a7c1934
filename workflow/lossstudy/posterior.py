"""Ridge's posterior intervals: the L2 penalty read as a Gaussian prior (``se: posterior``).

Why: ridge, min ||y − Xb||² + λ||b_slopes||², is the posterior mean (and mode) of the linear
model with N(0, σ²) errors, a flat prior on the intercept and slopes ~ N(0, τ²) with
τ² = σ²/λ. The posterior is Gaussian, b | y ~ N(b_λ, σ² A⁻¹) with A = X'X + λD, D = diag(0, 1,
…, 1), so ridge has a natural interval: the 95% credible interval b_λ,j ± z σ √[A⁻¹]_jj. Averaged
over that prior its coverage is exactly the nominal level at every n (the study checks it,
:mod:`lossstudy.theory.posterior`).

σ² either comes from the spec (``sigma``, known) or is integrated out under Jeffreys' prior
p(σ²) ∝ 1/σ² with the slopes' prior scaled by σ² (the conjugate normal–inverse-gamma model,
λ fixed). Then σ² | y ~ Inv-Gamma(ν/2, S/2) with S = RSS + λ||b_slopes||² the penalised
residual sum of squares and ν = n − 1 (n − p when λ = 0: a flat prior on every coefficient),
and b_j | y ~ t_ν(b_λ,j, σ̂² [A⁻¹]_jj) with σ̂² = S/ν: the plug-in interval uses t_ν quantiles.
Under the matching prior it is exact too (S/σ² ~ χ²_ν independently of b − b_λ), and the cost
of not knowing σ² is the interval's width, not its coverage.

Every replicate is computed on its own (vector products, no batched BLAS), so a replicate's
interval does not depend on how replicates are split into jobs.
"""

from __future__ import annotations

import numpy as np

from lossstudy.quantiles import norm_ppf, t_ppf


def penalty_matrix(p: int) -> np.ndarray:
    """D: the identity with the intercept's entry 0 (the intercept is not penalised)."""
    D = np.eye(p)
    D[0, 0] = 0.0
    return D


def posterior_df(n: int, p: int, penalty: float) -> int:
    """ν of the plug-in interval: n − 1 with a proper prior on the p − 1 slopes (λ > 0), else
    n − p (flat prior: the classical OLS t interval)."""
    return n - 1 if penalty > 0 else n - p


def posterior_scale(X: np.ndarray, penalty: float) -> np.ndarray:
    """√[A⁻¹]_jj, A = X'X + λD: the posterior SD of each coefficient per unit σ."""
    a_inv = np.linalg.inv(X.T @ X + penalty * penalty_matrix(X.shape[1]))
    return np.sqrt(np.diag(a_inv))


def penalised_rss(X: np.ndarray, y: np.ndarray, beta: np.ndarray, penalty: float) -> float:
    """S = ||y − Xb||² + λ||b_slopes||² of one replicate."""
    r = y - X @ beta
    return float(r @ r + penalty * (beta[1:] @ beta[1:]))


def posterior_intervals(
    X: np.ndarray,
    y: np.ndarray,
    beta: np.ndarray,
    penalty: float,
    level: float,
    sigma: float | None,
    scale: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Posterior SD and equal-tailed credible interval of each coefficient of one replicate
    whose ridge estimate is ``beta``. ``sigma`` None: σ² integrated out (t_ν, σ̂² = S/ν).
    ``scale``: :func:`posterior_scale` of X, when the caller has it already (a fixed design)."""
    n, p = X.shape
    unit = posterior_scale(X, penalty) if scale is None else scale
    if sigma is None:
        df = posterior_df(n, p, penalty)
        s = np.sqrt(penalised_rss(X, y, beta, penalty) / df)
        crit = float(t_ppf(0.5 + level / 2, df))
    else:
        s = float(sigma)
        crit = float(norm_ppf(0.5 + level / 2))
    se = s * unit
    return se, beta - crit * se, beta + crit * se


def posterior_batch(
    X: np.ndarray,
    y: np.ndarray,
    beta: np.ndarray,
    penalty: float,
    level: float,
    sigma: float | None,
    fixed: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`posterior_intervals` of R replicates (X n×p when ``fixed``, else R×n×p); rows
    whose estimate is not finite stay NaN."""
    R, p = beta.shape
    se, lo, hi = (np.full((R, p), np.nan) for _ in range(3))
    scale = posterior_scale(X, penalty) if fixed else None
    for i in range(R):
        if not np.all(np.isfinite(beta[i])):
            continue
        Xi = X if fixed else X[i]
        se[i], lo[i], hi[i] = posterior_intervals(Xi, y[i], beta[i], penalty, level, sigma, scale)
    return se, lo, hi
