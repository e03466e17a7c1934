"""λ chosen from the data, as practitioners choose it: generalised cross-validation (GCV) and
K-fold cross-validation for the L2 penalty (``solver: gcv`` and ``solver: cv``).

Why: a fixed λ = 10 is the Bayes rule of one scenario and loses elsewhere; "ridge, tuned" is
the L2 competitor an ML reader expects. Both searches run over the same fixed grid
(:data:`GRID`, 0 and 8 values a decade from 10⁻³ to 10⁴, on the RSS scale of the study's λ),
take the first λ of smallest criterion, and fit the penalised estimator there, so the tuned
fit is the fixed-λ fit at the chosen λ, bit for bit.

GCV (Golub, Heath & Wahba 1979): n·RSS(λ)/(n − tr H_λ)², from one SVD of the centred slopes'
design (an unpenalised intercept is the centring), for every λ of the grid at once. CV: folds
are fixed by row index (row i is in fold i mod K), so they depend on nothing random and a
replicate's choice is the same whatever job fits it; the criterion is the held-out squared
error summed over the folds. Both are functions of one replicate's (X, y) only: a split of the
replicates into jobs changes no bit.

``choose`` is generic over the penalty's strength: it takes a function that fits the
penalised estimator at a given strength (``fit_at``), so another penalty with a closed form
or an exact solver (the L1 penalty) can be tuned by CV the same way.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: The candidate penalties: 0 (no penalty) and 10^(−3 … 4) in steps of 10^(1/8).
GRID = np.concatenate([[0.0], 10.0 ** np.linspace(-3.0, 4.0, 57)])


def gcv_scores(X: np.ndarray, y: np.ndarray, grid: np.ndarray = GRID) -> np.ndarray:
    """GCV(λ) = n RSS(λ) / (n − tr H_λ)² of ridge with an unpenalised intercept (X's first
    column the ones) for every λ of ``grid``."""
    n = X.shape[0]
    Z = X[:, 1:] - X[:, 1:].mean(axis=0)
    yc = y - y.mean()
    U, s, _ = np.linalg.svd(Z, full_matrices=False)
    u = U.T @ yc
    s2 = s * s
    shrink = s2[None, :] / (s2[None, :] + grid[:, None])  # f_j(λ) = s_j²/(s_j² + λ)
    rss = yc @ yc - u @ u + ((1.0 - shrink) ** 2 * (u * u)[None, :]).sum(axis=1)
    trace = 1.0 + shrink.sum(axis=1)
    return n * rss / (n - trace) ** 2


def cv_scores(
    X: np.ndarray,
    y: np.ndarray,
    folds: int,
    fit_at: Callable[[np.ndarray, np.ndarray, float], np.ndarray],
    grid: np.ndarray = GRID,
) -> np.ndarray:
    """Held-out squared error summed over ``folds`` folds (row i in fold i mod K) for every
    strength of ``grid``; ``fit_at(X, y, strength)`` returns the coefficients."""
    n = X.shape[0]
    fold = np.arange(n) % folds
    score = np.zeros(grid.size)
    for k in range(folds):
        train, test = fold != k, fold == k
        for i, lam in enumerate(grid):
            r = y[test] - X[test] @ fit_at(X[train], y[train], float(lam))
            score[i] += r @ r
    return score


def ridge_cv_scores(
    X: np.ndarray, y: np.ndarray, folds: int, grid: np.ndarray = GRID
) -> np.ndarray:
    """:func:`cv_scores` of ridge, every λ of the grid at once from one SVD per fold (the
    training rows centred: the intercept is unpenalised)."""
    n = X.shape[0]
    fold = np.arange(n) % folds
    score = np.zeros(grid.size)
    for k in range(folds):
        train, test = fold != k, fold == k
        zbar, ybar = X[train, 1:].mean(axis=0), y[train].mean()
        U, s, Vt = np.linalg.svd(X[train, 1:] - zbar, full_matrices=False)
        u = U.T @ (y[train] - ybar)
        slopes = (s * u)[None, :] / (s * s + grid[:, None]) @ Vt  # one row per λ
        r = (y[test] - ybar)[None, :] - slopes @ (X[test, 1:] - zbar).T
        score += (r * r).sum(axis=1)
    return score


def choose(scores: np.ndarray, grid: np.ndarray = GRID) -> float:
    """The first strength of smallest score (NaN scores never win)."""
    finite = np.where(np.isfinite(scores), scores, np.inf)
    return float(grid[int(np.argmin(finite))])


def ridge_at(X: np.ndarray, y: np.ndarray, penalty: float) -> np.ndarray:
    """Ridge coefficients with an unpenalised intercept (the closed form, via a solve)."""
    D = np.eye(X.shape[1])
    D[0, 0] = 0.0
    return np.linalg.solve(X.T @ X + penalty * D, X.T @ y)


def chosen_penalty(X: np.ndarray, y: np.ndarray, solver: str, folds: int = 5) -> float:
    """The λ GCV (``solver: gcv``) or K-fold CV (``solver: cv``) chooses for one replicate."""
    if solver == "gcv":
        return choose(gcv_scores(X, y))
    return choose(ridge_cv_scores(X, y, folds))


#: A replicate whose two best scores are closer than this (relative) is chosen again on its own:
#: summing in another order moves a score by a few ulps, which could only reorder such a pair.
TIE = 1e-8
#: replicates scored at once by K-fold CV (an R × 58 × n/K block per fold)
_CV_CHUNK = 256


def chosen_penalties(X: np.ndarray, Y: np.ndarray, solver: str, folds: int = 5) -> np.ndarray:
    """:func:`chosen_penalty` for every row of ``Y`` (a replicate each) on one shared design X,
    the same λ replicate by replicate.

    Why: one SVD (per fold) serves every replicate of a fixed design, so the scores of all
    replicates are a few matrix products instead of R SVDs (K-fold CV took 0.8 ms a replicate).
    The products sum in another order than the one-replicate code, so a replicate whose two
    best scores lie within :data:`TIE` of each other, or that has a non-finite score, is chosen
    again by :func:`chosen_penalty` itself."""
    scores = _gcv_all(X, Y) if solver == "gcv" else _cv_all(X, Y, folds)
    finite = np.isfinite(scores)
    ranked = np.where(finite, scores, np.inf)  # as choose() ranks them: NaN never wins
    two = np.sort(ranked, axis=1)[:, :2]
    with np.errstate(invalid="ignore"):  # inf − inf where no score is finite: NaN, so close
        close = ~(two[:, 1] - two[:, 0] > TIE * np.abs(two[:, 0]))
    chosen = GRID[np.argmin(ranked, axis=1)].astype(float)
    for i in np.flatnonzero(close | ~finite.all(axis=1)).tolist():
        chosen[i] = chosen_penalty(X, Y[i], solver, folds)
    return chosen


def _gcv_all(X: np.ndarray, Y: np.ndarray, grid: np.ndarray = GRID) -> np.ndarray:
    """:func:`gcv_scores` of every row of Y (R × len(grid))."""
    n = X.shape[0]
    Z = X[:, 1:] - X[:, 1:].mean(axis=0)
    Yc = Y - Y.mean(axis=1, keepdims=True)
    U, s, _ = np.linalg.svd(Z, full_matrices=False)
    u2 = (Yc @ U) ** 2
    s2 = s * s
    shrink = s2[None, :] / (s2[None, :] + grid[:, None])
    rss = (Yc * Yc).sum(axis=1)[:, None] - u2.sum(axis=1)[:, None] + u2 @ ((1.0 - shrink) ** 2).T
    trace = 1.0 + shrink.sum(axis=1)
    return n * rss / (n - trace)[None, :] ** 2


def _cv_all(X: np.ndarray, Y: np.ndarray, folds: int, grid: np.ndarray = GRID) -> np.ndarray:
    """:func:`ridge_cv_scores` of every row of Y (R × len(grid))."""
    n = X.shape[0]
    fold = np.arange(n) % folds
    score = np.zeros((Y.shape[0], grid.size))
    for k in range(folds):
        train, test = fold != k, fold == k
        zbar = X[train, 1:].mean(axis=0)
        U, s, Vt = np.linalg.svd(X[train, 1:] - zbar, full_matrices=False)
        weights = s[None, :] / (s * s + grid[:, None])  # G × k: slope = (w ∘ u) V'
        Zt = X[test, 1:] - zbar
        for lo in range(0, Y.shape[0], _CV_CHUNK):
            Yk = Y[lo : lo + _CV_CHUNK]
            ybar = Yk[:, train].mean(axis=1, keepdims=True)
            u = (Yk[:, train] - ybar) @ U  # R × k
            fitted = np.einsum("gk,rk,kj->rgj", weights, u, Vt @ Zt.T, optimize=True)
            r = (Yk[:, test] - ybar)[:, None, :] - fitted
            score[lo : lo + _CV_CHUNK] += (r * r).sum(axis=2)
    return score
