"""Classification losses on the linear predictor η = Xβ of a 0/1 response (``bernoulli``).

``cross_entropy``: mean[log(1 + e^η) − yη] = −mean[y log σ(η) + (1 − y) log(1 − σ(η))], the
log loss (``torch.nn.BCEWithLogitsLoss``, optax ``sigmoid_binary_cross_entropy``): its
minimiser is the logistic MLE. ``brier``: mean (y − σ(η))², the squared error on the predicted
probability (the Brier score; "L2 loss" for a classifier). Both are strictly proper scoring
rules, so with a correct model both target the true β. Their gradients differ by one factor:
CE's is mean (σ − y)x, Brier's 2·mean (σ − y)σ(1 − σ)x, which vanishes where σ saturates at
0 or 1, right or wrong: from a saturated start Brier stalls where CE does not.

Exact fits: the MLE by batched Newton (IRLS) in numpy from β = 0, Wald intervals from the
inverse observed information (``method: logit``; statsmodels ``Logit`` is its reference,
equal to 1e-8, tests/test_classification.py); Brier by damped Newton from the MLE (no
intervals). A replicate whose classes are (quasi-)separated has no finite MLE: Newton's β
grows without bound, and the fit is reported ``failed`` with that message. Trained fits (gd,
sgd, adam) run through :mod:`lossstudy.training`; their ``init`` is ``zeros`` or
``saturated`` (:data:`SATURATED_SLOPE`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from lossstudy.estimators import FAILED, OK, FitResult, Fitted
from lossstudy.losses import trained
from lossstudy.methods import Axis, Fit, Param, register_fit, register_loss
from lossstudy.quantiles import norm_ppf

BERNOULLI = ("bernoulli",)  # = lossstudy.response.BERNOULLI (the registry imports no study)

CROSS_ENTROPY = register_loss(
    Axis("cross_entropy", text="log loss: mean[log(1 + e^η) − yη], η = x'β (the logistic MLE)")
)
BRIER = register_loss(Axis("brier", text="Brier: mean (y − σ(η))², squared error on σ(x'β)"))

#: Newton stops when every coordinate's step is below this (relative to 1 + |β|).
TOL = 1e-12
MAX_ITER = 100
#: |β| beyond this means no finite MLE (separation): e^50 odds are not an estimate.
SEPARATED = 50.0
#: The saturated start: β₀ = (0, s, …, s). With standard-normal predictors η₀ = sΣx has an SD
#: of s√(p − 1), so σ(η₀) is within 0.01 of 0 or 1 on most rows, and, being blind to the
#: truth, confidently wrong on many.
SATURATED_SLOPE = 10.0


def sigmoid(eta: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -eta))


def saturated_start(p: int) -> np.ndarray:
    """β₀ of ``init: saturated``."""
    return np.concatenate([[0.0], np.full(p - 1, SATURATED_SLOPE)])


def _eta(X: np.ndarray, beta: np.ndarray) -> np.ndarray:
    return np.einsum("np,rp->rn", X, beta) if X.ndim == 2 else np.einsum("rnp,rp->rn", X, beta)


def cross_entropy(y: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """Elementwise log loss log(1 + e^η) − yη."""
    return np.logaddexp(0.0, eta) - y * eta


def brier(y: np.ndarray, eta: np.ndarray) -> np.ndarray:
    d = y - sigmoid(eta)
    return d * d


LOSS_OF_ETA = {"cross_entropy": cross_entropy, "brier": brier}


def objective(loss: str, X: np.ndarray, y: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """f(β) = mean loss per replicate (R): ``X`` n×p or R×n×p, ``y`` R×n, ``beta`` R×p."""
    return LOSS_OF_ETA[loss](y, _eta(X, beta)).mean(axis=1)


def newton_logit(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The MLE of every replicate by Newton–Raphson (= IRLS) from β = 0: (β̂ R×p, the inverse
    information R×p×p at β̂, converged R). A replicate stops moving once its own step is
    below :data:`TOL`, so its iterates are its own whatever shares the batch."""
    R, n = y.shape
    p = X.shape[-1]
    beta = np.zeros((R, p))
    active = np.ones(R, dtype=bool)
    done = np.zeros(R, dtype=bool)
    xs = "np" if X.ndim == 2 else "rnp"
    xt = "nq" if X.ndim == 2 else "rnq"
    with np.errstate(all="ignore"):
        for _ in range(MAX_ITER):
            mu = sigmoid(_eta(X, beta))
            score = np.einsum(f"{xs},rn->rp", X, y - mu)
            info = np.einsum(f"{xs},rn,{xt}->rpq", X, mu * (1.0 - mu), X)
            ok = active & np.all(np.isfinite(info), axis=(1, 2))
            step = np.zeros((R, p))
            if ok.any():
                step[ok] = _solve(info[ok], score[ok])
            beta = np.where(active[:, None], beta + step, beta)
            small = np.all(np.abs(step) <= TOL * (1.0 + np.abs(beta)), axis=1)
            gone = ~np.all(np.abs(beta) < SEPARATED, axis=1) | ~np.all(np.isfinite(step), axis=1)
            done |= active & small & ~gone
            active &= ~(small | gone)
            if not active.any():
                break
        mu = sigmoid(_eta(X, beta))
        info = np.einsum(f"{xs},rn,{xt}->rpq", X, mu * (1.0 - mu), X)
        cov = np.full((R, p, p), np.nan)
        if done.any():
            cov[done] = _inverse(info[done])
    return beta, cov, done


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve per replicate (one LAPACK call per matrix, so no bit depends on the batch); a
    singular one gives NaN, not an exception."""
    try:
        return np.linalg.solve(a, b[..., None])[..., 0]
    except np.linalg.LinAlgError:
        pass
    out = np.full(b.shape, np.nan)
    for i in range(a.shape[0]):
        with contextlib.suppress(np.linalg.LinAlgError):
            out[i] = np.linalg.solve(a[i], b[i])
    return out


def _inverse(a: np.ndarray) -> np.ndarray:
    eye = np.broadcast_to(np.eye(a.shape[-1]), a.shape)
    return np.stack([_solve(a, eye[..., j]) for j in range(a.shape[-1])], axis=-1)


def fit_logit_batched(
    data: Any, spec: Mapping[str, Any], level: float, *, info: Any = None, progress: Any = None
) -> FitResult:
    """Every replicate of a chunk: β̂, Wald SEs and intervals β̂ ± z·SE (normal quantile)."""
    R = data.y.shape[0]
    beta, cov, done = newton_logit(data.X, data.y)
    se = np.sqrt(np.einsum("rpp->rp", cov))
    z = float(norm_ppf(0.5 + level / 2.0))
    status = np.where(done, OK, FAILED).astype(object)
    message = np.where(
        done,
        "",
        "no finite MLE: Newton's β left |β| < 50 or did not converge (the classes are "
        "(quasi-)separated)",
    ).astype(object)
    beta = np.where(done[:, None], beta, np.nan)
    if progress is not None:
        progress(R, R)
    return FitResult(beta, se, beta - z * se, beta + z * se, status, message)


def fit_logit(X: np.ndarray, y: np.ndarray, level: float) -> Fitted:
    """One replicate by statsmodels ``Logit`` (Newton): the reference of the batched fit."""
    from statsmodels.discrete.discrete_model import Logit

    nan = np.full(X.shape[1], np.nan)
    try:
        res = Logit(y, X).fit(method="newton", disp=0, tol=1e-12, maxiter=MAX_ITER)
    except Exception as exc:  # statsmodels raises on perfect separation
        return nan, nan, nan, nan, FAILED, f"{type(exc).__name__}: {exc}"
    if not res.mle_retvals.get("converged", False) or np.max(np.abs(res.params)) >= SEPARATED:
        return nan, nan, nan, nan, FAILED, "no finite MLE (separation)"
    ci = res.conf_int(alpha=1.0 - level)
    return res.params, res.bse, ci[:, 0], ci[:, 1], OK, ""


def brier_minimiser(X: np.ndarray, y: np.ndarray, start: np.ndarray) -> np.ndarray:
    """argmin mean (y − σ(xβ))² per replicate by damped Newton from ``start`` (the MLE):
    the Newton direction where it descends, else Gauss–Newton's; halving until f falls.
    NaN where it does not converge (or ``start`` is NaN)."""
    R, p = start.shape
    out = np.full((R, p), np.nan)
    for r in range(R):
        x = X if X.ndim == 2 else X[r]
        b = start[r].copy()
        if not np.all(np.isfinite(b)):
            continue
        f = brier(y[r], x @ b).mean()
        for _ in range(200):
            s = sigmoid(x @ b)
            d1 = s * (1.0 - s)
            res = s - y[r]
            g = 2.0 * x.T @ (res * d1) / len(s)
            gn = 2.0 * (x.T * (d1 * d1)) @ x / len(s)
            h = gn + 2.0 * (x.T * (res * d1 * (1.0 - 2.0 * s))) @ x / len(s)
            try:
                step = -np.linalg.solve(h, g)
                if step @ g >= 0:
                    step = -np.linalg.solve(gn, g)
            except np.linalg.LinAlgError:
                break
            t = 1.0
            while t > 1e-10:
                nb = b + t * step
                nf = brier(y[r], x @ nb).mean()
                if nf <= f:
                    break
                t /= 2.0
            b, f = nb, min(nf, f)
            if np.all(np.abs(t * step) <= 1e-11 * (1.0 + np.abs(b))):
                out[r] = b
                break
    return out


def fit_brier_batched(
    data: Any, spec: Mapping[str, Any], level: float, *, info: Any = None, progress: Any = None
) -> FitResult:
    """The exact Brier fit of every replicate (no intervals)."""
    R, p = data.beta.shape
    mle, _, _ = newton_logit(data.X, data.y)
    beta = brier_minimiser(data.X, data.y, mle)
    ok = np.all(np.isfinite(beta), axis=1)
    nan = np.full((R, p), np.nan)
    status = np.where(ok, OK, FAILED).astype(object)
    message = np.where(ok, "", "no finite minimiser (separated classes) or no convergence")
    if progress is not None:
        progress(R, R)
    return FitResult(beta, nan, nan, nan, status, message.astype(object))


def _brier_one(X: np.ndarray, y: np.ndarray, level: float) -> Fitted:
    from lossstudy.dgp import Dataset

    p = X.shape[1]
    res = fit_brier_batched(Dataset(X, y[None], np.zeros((1, p)), np.arange(1)), {}, level)
    return res.estimate[0], res.std_error[0], res.ci_low[0], res.ci_high[0], res.status[0], ""


register_fit(
    Fit(
        "cross_entropy",
        "none",
        "exact",
        fit_logit,
        se=("wald",),
        batched=fit_logit_batched,
        texts=lambda p: (CROSS_ENTROPY.text, "none", "Wald: β̂ ± z·SE, SE from the information"),
        responses=BERNOULLI,
    ),
    shorthand="logit",
)
register_fit(
    Fit(
        "brier",
        "none",
        "exact",
        _brier_one,
        se=("none",),
        batched=fit_brier_batched,
        intervals=False,
        texts=lambda p: (BRIER.text, "none", "none"),
        responses=BERNOULLI,
    )
)

#: ``init`` of a classification loss's trained fit (no OLS start for a 0/1 response).
_INIT = Param(
    "zeros",
    {"type": "string", "enum": ["zeros", "saturated"]},
    f"β₀: 0, or saturated (0, {SATURATED_SLOPE:g}, …, {SATURATED_SLOPE:g})",
)
_WORDS = {"cross_entropy": "log loss (BCEWithLogitsLoss)", "brier": "Brier (y − σ(η))²"}


def _trained_texts(loss: str, solver: str) -> Any:
    def texts(params: Mapping[str, Any]) -> tuple[str, str, str]:
        start = params.get("init", "zeros")
        return (
            f"{_WORDS[loss]}, trained by {solver} from {start}",
            "none",
            "none: a trained fit has no intervals",
        )

    return texts


for _solver in (trained.GD, trained.SGD, trained.ADAM):
    for _loss in ("cross_entropy", "brier"):
        register_fit(
            Fit(
                _loss,
                "none",
                _solver.name,
                trained._reference,
                se=("none",),
                params={**_solver.params, "init": _INIT},
                loss_params={},
                intervals=False,
                needs_full_rank=lambda params: False,
                texts=_trained_texts(_loss, _solver.name),
                trained=True,
                validate=lambda params, s=_solver.name: trained.check(s, params),
                responses=BERNOULLI,
            )
        )
