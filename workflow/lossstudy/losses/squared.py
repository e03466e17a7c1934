"""The squared loss: OLS, WLS (fixed known weights) and ridge (the L2 penalty; with
``se: posterior`` its Gaussian prior's credible intervals, :mod:`lossstudy.posterior`).

Reference fits in :mod:`lossstudy.estimators` (statsmodels, closed forms); the batched ones
in :mod:`lossstudy.vectorized`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lossstudy import estimators, tuning, vectorized
from lossstudy.dgp import Dataset
from lossstudy.methods import (
    Axis,
    Fit,
    Param,
    SpecError,
    register_fit,
    register_loss,
    register_solver,
    show,
)
from lossstudy.posterior import posterior_batch

SQUARED = register_loss(Axis("squared", text="L2: Σ rᵢ²"))
WEIGHTED = register_loss(
    Axis(
        "weighted_squared",
        {
            "predictor": Param(1, {"type": "integer", "minimum": 1}, "j of the weights' x_j"),
            "strength": Param(1.0, {"type": "number", "minimum": 0}, "s in wᵢ = 1/(1 + s·x_j²)"),
        },
        "weighted L2: Σ wᵢ rᵢ², wᵢ = 1/(1 + s·xⱼ²) fixed",
    )
)


def _ols_texts(params: Mapping[str, Any]) -> tuple[str, str, str]:
    return SQUARED.text, "none", f"t, n − p df; {params.get('se', 'classical')} SE"


def _wls_texts(params: Mapping[str, Any]) -> tuple[str, str, str]:
    j, g = params.get("predictor", 1), show(params.get("strength", 1.0))
    return (
        f"weighted L2: Σ wᵢ rᵢ², fixed wᵢ = 1/(1 + {g}·x{j}ᵢ²)",
        "none",
        "t, n − p df; classical WLS SE",
    )


def _ridge_texts(params: Mapping[str, Any]) -> tuple[str, str, str]:
    penalty = f"λ = {show(params.get('penalty'))}: λ Σ βⱼ² on the slopes"
    if params.get("se") != "posterior":
        return SQUARED.text, penalty, "none: biased by design"
    sigma = params.get("sigma")
    if sigma is None:
        what = (
            "posterior (prior τ² = σ²/λ), σ² integrated out: t, ν = n − 1 df (n − p at λ = 0), "
            "σ̂² = (RSS + λ‖β‖²)/ν"
        )
    else:
        what = f"posterior (prior τ² = σ²/λ), σ = {show(sigma)} known: normal (z)"
    return SQUARED.text, penalty, what


def _ridge_check(params: Mapping[str, Any]) -> None:
    if params.get("sigma") is not None and params.get("se") != "posterior":
        raise SpecError("sigma", "'sigma' sets the known σ of 'se: posterior' intervals only.")


def _ridge_batched(
    data: Dataset,
    spec: dict[str, Any],
    level: float,
    *,
    info: vectorized.EngineInfo,
    progress: Callable[[int, int], None] | None = None,
) -> estimators.FitResult:
    """The batched ridge, with the posterior's intervals where ``se: posterior`` asks."""
    res = vectorized.fit_builtin(data, spec, level, info=info, progress=progress)
    if spec.get("se") != "posterior":
        return res
    ok = res.status == estimators.OK
    beta = np.where(ok[:, None], res.estimate, np.nan)
    sigma = spec.get("sigma")
    res.std_error, res.ci_low, res.ci_high = posterior_batch(
        data.X, data.y, beta, float(spec.get("penalty", 1.0)), level, sigma, data.fixed
    )
    return res


register_fit(
    Fit(
        "squared",
        "none",
        "exact",
        estimators.fit_ols,
        se=estimators.OLS_SE_TYPES,
        params={
            "se": Param("classical", {"type": "string", "enum": list(estimators.OLS_SE_TYPES)})
        },
        batched=vectorized.fit_builtin,
        linear_in_y=True,
        symmetric_unbiased=True,
        texts=_ols_texts,
    ),
    shorthand="ols",
)
register_fit(
    Fit(
        "weighted_squared",
        "none",
        "exact",
        estimators.fit_wls,
        se=("classical",),
        params=WEIGHTED.params,
        batched=vectorized.fit_builtin,
        copies_design=True,
        linear_in_y=True,
        symmetric_unbiased=True,
        texts=_wls_texts,
    ),
    shorthand="wls",
)
register_fit(
    Fit(
        "squared",
        "l2",
        "exact",
        estimators.fit_ridge,
        se=("none", "posterior"),
        params={
            "penalty": Param(1.0, {"type": "number", "minimum": 0}, "λ"),
            "sigma": Param(
                None,
                {"type": "number", "exclusiveMinimum": 0},
                "known error SD of se: posterior (unset: σ² integrated out)",
                optional=True,
                interval=True,
            ),
        },
        batched=_ridge_batched,
        linear_in_y=True,
        intervals=False,
        # λ > 0 makes X'X + λD invertible whatever the rank of X (fit_ridge's default is 1)
        needs_full_rank=lambda params: not params.get("penalty", 1.0) > 0,
        texts=_ridge_texts,
        strength="penalty",
        validate=_ridge_check,
    ),
    shorthand="ridge",
)


# --------------------------------------------------------------------------- tuned λ

FOLDS = Param(5, {"type": "integer", "minimum": 2}, "K of K-fold cross-validation")
register_solver(
    Axis("gcv", text="λ by generalised cross-validation over lossstudy.tuning.GRID, then exact")
)
register_solver(
    Axis(
        "cv",
        {"folds": FOLDS},
        "λ by K-fold cross-validation (row i in fold i mod K) over lossstudy.tuning.GRID, "
        "then exact",
    )
)


@dataclass
class TunedFitResult(estimators.FitResult):
    """A tuned fit's results and the penalty strength it chose per replicate (R)."""

    tuned: np.ndarray = field(default_factory=lambda: np.empty(0))


def _choose(solver: str) -> Callable[[np.ndarray, np.ndarray, Mapping[str, Any]], float]:
    def choose(X: np.ndarray, y: np.ndarray, params: Mapping[str, Any]) -> float:
        return tuning.chosen_penalty(X, y, solver, int(params.get("folds", 5)))

    return choose


def _tuned_reference(solver: str) -> Callable[..., estimators.Fitted]:
    def fit(X: np.ndarray, y: np.ndarray, level: float, folds: int = 5) -> estimators.Fitted:
        lam = tuning.chosen_penalty(X, y, solver, int(folds))
        return estimators.fit_ridge(X, y, level, penalty=lam)

    return fit


def _tuned_batched(solver: str) -> Callable[..., estimators.FitResult]:
    def batched(
        data: Dataset,
        spec: dict[str, Any],
        level: float,
        *,
        info: vectorized.EngineInfo,
        progress: Callable[[int, int], None] | None = None,
    ) -> estimators.FitResult:
        """Each replicate on its own (its λ, then ridge there): no split changes a bit."""
        R, p = data.beta.shape
        est, se, lo, hi = (np.full((R, p), np.nan) for _ in range(4))
        status = np.empty(R, dtype=object)
        message = np.empty(R, dtype=object)
        chosen = np.full(R, np.nan)
        folds = int(spec.get("folds", 5))
        shared = None
        if data.fixed:  # every replicate's λ from one SVD per fold (the same λ: tuning.py)
            try:
                shared = tuning.chosen_penalties(data.X, data.y, solver, folds)
            except (np.linalg.LinAlgError, ValueError):
                shared = None  # each replicate meets the failure on its own, below
        for i in range(R):
            X, y = data.design(i), data.y[i]
            try:
                chosen[i] = (
                    shared[i] if shared is not None else tuning.chosen_penalty(X, y, solver, folds)
                )
            except (np.linalg.LinAlgError, ValueError) as exc:
                status[i], message[i] = estimators.FAILED, f"{type(exc).__name__}: {exc}"
                continue
            est[i], se[i], lo[i], hi[i], status[i], message[i] = estimators.fit_one(
                X, y, {"method": "ridge", "penalty": float(chosen[i])}, level
            )
            if progress is not None:
                progress(i + 1, R)
        info.fits += R
        return TunedFitResult(est, se, lo, hi, status, message, tuned=chosen)

    return batched


def _tuned_check(params: Mapping[str, Any]) -> None:
    if params.get("lambda") is not None:
        raise SpecError("lambda", "a tuned solver (gcv, cv) chooses λ itself; leave 'lambda' out.")


for _solver, _params, _what in (
    ("gcv", {}, "λ by GCV"),
    ("cv", {"folds": FOLDS}, "λ by K-fold CV"),
):
    register_fit(
        Fit(
            "squared",
            "l2",
            _solver,
            _tuned_reference(_solver),
            se=("none",),
            params=_params,
            batched=_tuned_batched(_solver),
            intervals=False,
            needs_full_rank=lambda params: False,
            texts=lambda params, w=_what: (
                SQUARED.text,
                w
                + (f" (K = {params['folds']})" if "folds" in params else "")
                + ": λ Σ βⱼ² on the slopes, λ chosen per replicate",
                "none: biased by design",
            ),
            validate=_tuned_check,
            choose=_choose(_solver),
        )
    )
