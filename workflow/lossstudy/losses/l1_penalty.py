"""The L1 penalty (lasso) and the elastic net on the squared loss, and the L1 penalty on the
absolute loss (LAD-lasso): penalties, not a loss, so this module registers two penalty axes and
their fits with those losses.

Convention: the strength λ is on the scale of the residual sum of squares, as the study's
ridge (``penalty`` of ``method: ridge``), intercept unpenalised::

    lasso:        ‖y − Xb‖² + λ Σⱼ |bⱼ|
    elastic net:  ‖y − Xb‖² + λ (w Σⱼ |bⱼ| + (1 − w) Σⱼ bⱼ²),  w = ``mix`` (1: lasso, 0: ridge)

MAP correspondence (σ² the error variance): the negative log posterior times 2σ² is
‖y − Xb‖² + 2σ² (− log prior). A N(0, τ²) prior gives λ = σ²/τ² (ridge); a Laplace prior with
scale b, density exp(−|β|/b)/(2b), gives the lasso with λ = 2σ²/b; at equal prior variance
(2b² = τ²) that is λ = 2√2 σ²/τ. The elastic net is the MAP of the prior ∝ exp(−λ(w|β| +
(1 − w)β²)/(2σ²)). The lasso is the Laplace prior's MAP, not its posterior mean (the Bayes
rule under squared error), which is never exactly zero.

statsmodels ``OLS.fit_regularized(method="elastic_net", alpha, L1_wt)`` minimises
RSS/(2n) + α((1 − L1_wt)/2 ‖b‖² + L1_wt ‖b‖₁); it is this objective with
α = λ(1 − w/2)/n and L1_wt = w/(2 − w) (α = 0 on the intercept). It is the reference fit
(tolerance 1e-14), checked by the KKT conditions: where its answer fails them (its 1-d steps
can leave a small elastic-net coefficient at 0), the certified coordinate descent of
:mod:`lossstudy.vectorized.coordinate`, the batched fit, decides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from lossstudy import estimators
from lossstudy.dgp import Dataset
from lossstudy.estimators import FitResult
from lossstudy.losses import absolute, squared  # noqa: F401 - the losses these fits penalise
from lossstudy.methods import Axis, Fit, Param, SpecError, register_fit, register_penalty, show
from lossstudy.vectorized import EngineInfo
from lossstudy.vectorized.coordinate import elastic_net_gram, kkt_certified

_LAMBDA = Param(1.0, {"type": "number", "minimum": 0}, "λ, on the scale of the RSS")
_MIX = Param(0.5, {"type": "number", "minimum": 0, "maximum": 1}, "w: the L1 share of λ")

L1 = register_penalty(
    Axis("l1", {"lambda": _LAMBDA}, "λ Σ |βⱼ| on the slopes (intercept unpenalised)")
)
ELASTIC_NET = register_penalty(
    Axis(
        "elastic_net",
        {"lambda": _LAMBDA, "mix": _MIX},
        "λ (w Σ |βⱼ| + (1 − w) Σ βⱼ²) on the slopes (intercept unpenalised)",
    )
)
#: statsmodels' coordinate descent: tight enough to equal the certified optimum to 1e-10
SM_TOL = 1e-14
SM_MAXITER = 100_000
#: below this, statsmodels' own zero threshold would cut real coefficients
SM_ZERO_TOL = 1e-14


def statsmodels_alpha(penalty: float, mix: float, n: int, p: int) -> tuple[np.ndarray, float]:
    """statsmodels' (alpha per coefficient, L1_wt) for this objective (module docstring)."""
    alpha = np.r_[0.0, np.full(p - 1, penalty * (1.0 - mix / 2.0) / n)]
    return alpha, (mix / (2.0 - mix) if mix > 0 else 0.0)


def fit_elastic_net(
    X: np.ndarray, y: np.ndarray, level: float, penalty: float = 1.0, mix: float = 0.5
) -> estimators.Fitted:
    """Reference: statsmodels' elastic net at a tight tolerance; no SE, no interval."""
    from statsmodels.regression.linear_model import OLS  # not at import: fit jobs start lean

    n, p = X.shape
    alpha, l1_wt = statsmodels_alpha(penalty, mix, n, p)
    beta = (
        OLS(y, X)
        .fit_regularized(
            method="elastic_net",
            alpha=alpha,
            L1_wt=l1_wt,
            cnvrg_tol=SM_TOL,
            maxiter=SM_MAXITER,
            zero_tol=SM_ZERO_TOL,
        )
        .params
    )
    beta = np.asarray(beta, dtype=float)[None]
    G, c = (X.T @ X)[None], (X.T @ y)[None]
    if not kkt_certified(G, c, beta, penalty, mix)[0]:
        # statsmodels' 1-d steps can stop a small coefficient at 0 under the elastic net
        # (tests/test_lasso.py): the certified coordinate descent decides
        exact, ok = elastic_net_gram(G, c, penalty, mix)
        if ok[0]:
            beta = exact
    nan = np.full(p, np.nan)
    return beta[0], nan, nan, nan, estimators.OK, ""


def fit_lasso(
    X: np.ndarray, y: np.ndarray, level: float, penalty: float = 1.0
) -> estimators.Fitted:
    return fit_elastic_net(X, y, level, penalty, 1.0)


def batched_elastic_net(
    data: Dataset,
    spec: dict[str, Any],
    level: float,
    *,
    info: EngineInfo,
    progress: Callable[[int, int], None] | None = None,
) -> FitResult:
    """All replicates of a chunk by :func:`elastic_net_gram`; replicates with non-finite
    data, λ = 0 (OLS, needs full rank) or an uncertified optimum go to the reference."""
    penalty = float(spec.get("penalty", 1.0))
    mix = float(spec.get("mix", 1.0))
    R, p = data.beta.shape
    if penalty == 0:
        return estimators.fit_dataset(data, spec, level, progress=progress)
    X = data.stacked_design()
    finite = np.all(np.isfinite(data.y), axis=1) & np.all(np.isfinite(X), axis=(1, 2))
    est = np.full((R, p), np.nan)
    rows = np.flatnonzero(finite)
    with np.errstate(all="ignore"):
        Xf = X[rows]
        G = np.einsum("rnj,rnk->rjk", Xf, Xf)
        c = np.einsum("rnj,rn->rj", Xf, data.y[rows])
        beta, certified = elastic_net_gram(G, c, penalty, mix)
    est[rows] = beta
    refer = np.ones(R, dtype=bool)
    refer[rows[certified]] = False
    status = np.full(R, estimators.OK, dtype=object)
    message = np.full(R, "", dtype=object)
    nan = np.full((R, p), np.nan)
    se, lo, hi = nan.copy(), nan.copy(), nan.copy()
    info.fits += R
    for i in np.flatnonzero(refer):
        est[i], se[i], lo[i], hi[i], status[i], message[i] = estimators.fit_one(
            data.design(int(i)), data.y[i], spec, level
        )
    info.reference_fallback += int(refer.sum())
    if progress is not None:
        progress(R, R)
    return FitResult(est, se, lo, hi, status, message)


def _check_mix(params: Mapping[str, Any]) -> None:
    mix = params.get("mix", 0.5)
    if not (isinstance(mix, int | float) and 0 <= mix <= 1):
        raise SpecError("mix", f"mix must lie in [0, 1] (the L1 share of λ), got {mix!r}.")


def _texts(params: Mapping[str, Any]) -> tuple[str, str, str]:
    lam, mix = show(params.get("penalty")), params.get("mix", 1.0)
    if mix == 1.0:
        return "L2: Σ rᵢ²", f"λ = {lam}: λ Σ |βⱼ| on the slopes", "none: biased by design"
    penalty = f"λ = {lam}, w = {show(mix)}: λ (w Σ |βⱼ| + (1 − w) Σ βⱼ²) on the slopes"
    return "L2: Σ rᵢ²", penalty, "none: biased by design"


def _needs_full_rank(params: Mapping[str, Any]) -> bool:
    """λ = 0 is OLS. With λ > 0 the optimum exists whatever the rank (unique once w < 1)."""
    return not params.get("penalty", 1.0) > 0


register_fit(
    Fit(
        "squared",
        "l1",
        "exact",
        fit_lasso,
        se=("none",),
        params={"penalty": Param(1.0, {"type": "number", "minimum": 0}, "λ")},
        batched=batched_elastic_net,
        intervals=False,
        selects=True,
        needs_full_rank=_needs_full_rank,
        texts=_texts,
        strength="penalty",
    ),
    shorthand="lasso",
)
register_fit(
    Fit(
        "squared",
        "elastic_net",
        "exact",
        fit_elastic_net,
        se=("none",),
        params={
            "penalty": Param(1.0, {"type": "number", "minimum": 0}, "λ"),
            "mix": _MIX,
        },
        batched=batched_elastic_net,
        intervals=False,
        selects=True,
        needs_full_rank=_needs_full_rank,
        texts=_texts,
        strength="penalty",
        validate=_check_mix,
    ),
    shorthand="elastic_net",
)


def fit_lad_lasso(
    X: np.ndarray, y: np.ndarray, level: float, penalty: float = 1.0
) -> estimators.Fitted:
    """min Σ|yᵢ − xᵢ'b| + λ Σⱼ |bⱼ| (slopes), exactly: LAD on the data augmented by one row
    (λ eⱼ', 0) per slope (whose absolute residual is λ|bⱼ|), by the study's exact LAD LP
    (HiGHS on the dual; its optimum is a vertex, so cut slopes are exactly 0). λ is on the
    scale of Σ|r|. No SE, no interval."""
    n, p = X.shape
    rows = np.zeros((p - 1, p))
    rows[:, 1:] = penalty * np.eye(p - 1)
    beta, code, msg = estimators.lad_lp(np.vstack([X, rows]), np.r_[y, np.zeros(p - 1)])
    nan = np.full(p, np.nan)
    if code != 0:
        return beta, nan, nan, nan, estimators.FAILED, f"linprog status {code}: {msg}"
    return beta, nan, nan, nan, estimators.OK, ""


def _lad_texts(params: Mapping[str, Any]) -> tuple[str, str, str]:
    lam = show(params.get("penalty"))
    return "L1: Σ |rᵢ|", f"λ = {lam}: λ Σ |βⱼ| on the slopes", "none: biased by design"


register_fit(
    Fit(
        "absolute",
        "l1",
        "exact",
        fit_lad_lasso,
        se=("none",),
        params={"penalty": Param(1.0, {"type": "number", "minimum": 0}, "λ")},
        intervals=False,
        selects=True,
        robust=True,
        needs_full_rank=_needs_full_rank,
        texts=_lad_texts,
        strength="penalty",
    )
)
