"""Theory for members trained by gradient steps (``solver: gd | sgd | adam``).

Why a module of its own: a trained member is not a fit of the registry's exact solvers, and what
is known about it depends on the optimiser, not only on the loss. Full-batch GD on the mean
½-squared loss is linear in y (β_k = A_k β̂, A_k = I − Π_t (I − η_t H), H = X'X/n), so on a fixed
design its moments, its distance to the OLS fit and its objective gap are exact at every step,
through the same linear model of y (``exact.linear_dgp``) as the exact OLS rows. The other
statements are about optimisation alone:

* GD on the squared loss with η_t λ_max ≤ 2 at every step cannot diverge: ‖β_t − β̂‖ ≤ ‖β̂‖, so
  a replicate counts as diverged only if its own OLS fit has ‖β̂‖ > 10⁶/2 (Chebyshev bound);
  with η λ_max > 2 (c > 1) the top eigen-component grows as ρ^k, ρ = ηλ_max − 1, so divergence
  is at least P(|v'β̂| > 10⁶/(ρ^k − 1)) (exact under normal errors, normal approximation else);
* losses with a bounded ψ (absolute, huber, pseudo_huber, log_cosh) move β by at most
  η_t ψ_max mean‖x_i‖ per GD step (max‖x_i‖ per SGD step): no divergence at all while the sum of
  those moves stays below 10⁶;
* GD with c < 1 on a smooth convex loss with 0 ≤ ψ' ≤ 1 converges to the exact minimiser
  (asymptotic rows, given once the local linear rate predicts convergence);
* the averaged constant-step subgradient method on L1 ends within ηG²/2 of f* (G = mean‖x_i‖).

On a random design, SGD on the squared loss that uses no row twice (one epoch at most) has exact
moments at every step (:mod:`.streaming`): bias, EmpSE and MSE per term, the coefficient risk
E‖β_k − β‖² (its limit is the stationary risk ηdσ²/(2b − η(b + d + 1)) of isotropic Gaussian x),
and a divergence bound. Everything else (Adam; SGD reusing rows of a fixed design, where the
streaming recursion does not apply) is skipped with its reason; tests/test_training_theory.py
reproduces the optimiser-only results directly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from lossstudy.dgp import draw_design
from lossstudy.seeding import design_rng

from . import streaming
from .checks import HEAVY_TAILS_NOTE, Check, Setting, _join, _twins_note, is_trained
from .exact import LinearDGP, linear_dgp

#: Bounded-ψ losses: the parameter that bounds |ψ| (None: |ψ| ≤ 1).
BOUNDED = {"absolute": None, "huber": "delta", "pseudo_huber": "delta", "log_cosh": "scale"}
#: Smooth convex losses with 0 ≤ ψ' ≤ 1: GD with η < 2/λ_max(H) converges to their minimiser.
SMOOTH = ("squared", "huber", "pseudo_huber", "log_cosh")
#: Asymptotic "→ 0" rows assert at most these (floating point ends the approach to 0).
OPT_TOL = 1e-6
GAP_TOL = 1e-9
#: Exact values below these (times the problem's scale) are rounding: stated as a bound.
OPT_FLOOR = 1e-9
GAP_FLOOR = 1e-12
#: Past c = 1 without a variance, divergence is stated as certain once the top component of
#: any |v'β̂| above this has crossed 10⁶.
TINY = 1e-9
#: A divergence probability below this leaves the moments of the non-diverged replicates
#: those of all (streaming SGD: the rows are given only then)
NEGLIGIBLE = 1e-6
#: Streaming SGD's second-moment rows are tested only up to this share of its mean-square limit
NEAR_LIMIT = 0.5
#: The local rate must predict this relative accuracy, twice over, before an asymptotic
#: convergence row is given.
CONVERGED = 1e-10


@dataclass(frozen=True)
class Schedule:
    """A trained member's steps on one design: η_t for t = 0..k−1 and what is reported."""

    lr: np.ndarray  # η_t
    steps: int
    average: bool
    init: str
    constant: bool


def _steps(spec: Mapping[str, Any], n: int) -> int:
    if spec.get("steps") is not None:
        return int(spec["steps"])
    return int(spec["epochs"]) * (n // int(spec["batch_size"]))


def _schedule(spec: Mapping[str, Any], X: np.ndarray) -> Schedule:
    """η_t of the member on design X, as the engine sets it (``stability.stability_limit``)."""
    from lossstudy.stability import stability_limit

    k = _steps(spec, X.shape[0])
    if spec.get("lr") is not None:
        eta = float(spec["lr"])
    else:
        eta = float(spec["lr_relative"]) * stability_limit(X)
    constant = str(spec.get("schedule", "constant")) == "constant"
    t = np.arange(k, dtype=float)
    lr = np.full(k, eta) if constant else eta / np.sqrt(t + 1.0)
    return Schedule(
        lr, k, bool(spec.get("average", False)), str(spec.get("init", "zeros")), constant
    )


def _psi_max(spec: Mapping[str, Any]) -> float:
    key = BOUNDED.get(str(spec["loss"]))
    return 1.0 if key is None else float(spec.get(key) if spec.get(key) is not None else 1.0)


def gd_squared_filter(lam: np.ndarray, sched: Schedule) -> np.ndarray:
    """The residual factors r_j with β_k − β̂ = V diag(r) V'(β_0 − β̂): Π_t (1 − η_t λ_j) at
    step k, or its mean over steps 1..k when the iterates are averaged (per eigenvalue λ_j)."""
    factors = 1.0 - sched.lr[:, None] * lam[None, :]  # k×p
    if not sched.average:
        return np.prod(factors, axis=0)
    return np.cumprod(factors, axis=0).mean(axis=0)


def gd_squared_map(X: np.ndarray, sched: Schedule) -> np.ndarray:
    """M with β_k = M y for full-batch GD on the mean ½-squared loss (either init)."""
    if sched.init == "ols":
        return np.linalg.pinv(X)
    lam, V = np.linalg.eigh(X.T @ X / X.shape[0])
    rest = gd_squared_filter(lam, sched)
    return (np.eye(X.shape[1]) - (V * rest) @ V.T) @ np.linalg.pinv(X)


def _ols_moments(dgp: LinearDGP) -> tuple[np.ndarray, np.ndarray]:
    """E β̂ and Cov β̂ of the OLS fit (over the errors and the prior on β)."""
    P = np.linalg.pinv(dgp.X)
    PK = P @ dgp.K
    mean = PK @ dgp.beta_mean + P @ dgp.offset
    cov = PK @ dgp.beta_cov @ PK.T + dgp.cov.sandwich(P)
    return mean, cov


def _second_moment(mean: np.ndarray, cov: np.ndarray, B: np.ndarray) -> np.ndarray:
    """E[(Bb)(Bb)'] for b with the given mean and covariance."""
    m = B @ mean
    return np.outer(m, m) + B @ cov @ B.T


def _normal_tail(m: float, s: float, t: float) -> float:
    """P(|N(m, s²)| > t)."""
    if s <= 0:
        return float(abs(m) > t)
    z = lambda x: 0.5 * math.erfc(x / (s * math.sqrt(2.0)))  # noqa: E731  P(N(0, s²) > x)
    return z(t - m) + z(t + m)


def _curvature(errors: Mapping[str, Any], spec: Mapping[str, Any]) -> float | None:
    """E ψ'(e) at the errors, the share of H the loss's Hessian keeps near the minimiser."""
    from scipy.integrate import quad

    from lossstudy.errorlaws import density

    loss, a = str(spec["loss"]), _psi_max(spec)
    try:
        law = density(dict(errors))
    except Exception:  # a law without a density: no local rate
        return None
    if loss == "huber":
        return float(law.cdf(a) - law.cdf(-a))
    dpsi = {
        "pseudo_huber": lambda e: (1.0 + (e / a) ** 2) ** -1.5,
        "log_cosh": lambda e: 1.0 / math.cosh(min(abs(e) / a, 350.0)) ** 2,
    }.get(loss)
    if dpsi is None:
        return None
    q = quad(lambda e: dpsi(e) * float(law.pdf(e)), -np.inf, np.inf, limit=200)[0]
    return float(q)


def training_checks(s: Setting) -> None:
    """Theory rows for every trained member of the study (see the module docstring)."""
    trained = {n: spec for n, spec in s.estimators.items() if is_trained(spec)}
    for name in [n for n, spec in trained.items() if spec.get("penalty", "none") != "none"]:
        del trained[name]  # the theory here is that of unpenalised training
        s.skip("training theory", "a penalised trained fit (L1): no theory row here", name)
    if not trained:
        return
    groups: dict[tuple[Any, ...], list[str]] = {}
    for name, spec in trained.items():
        groups.setdefault(tuple(sorted((k, str(v)) for k, v in spec.items())), []).append(name)
    if not s.fixed:
        for names in groups.values():
            spec = trained[names[0]]
            why = streaming.applies(s, spec, _steps(spec, s.n))
            if not why:
                _streaming_sgd(s, names[0], spec, _twins_note(names))
            elif str(spec["solver"]) == "sgd" and str(spec["loss"]) == "squared":
                s.skip("streaming SGD theory", why, names[0])
            elif str(spec["loss"]) in BOUNDED and spec.get("lr") is not None:
                _bounded_divergence_random(s, names[0], spec, _twins_note(names))
            else:
                s.skip(
                    "training theory",
                    "random design: η and the GD filter vary per replicate",
                    names[0],
                )
        return
    X, _ = draw_design(design_rng(s.seed, s.scenario_id), dict(s.knobs))
    dgp, why_dgp = linear_dgp(s.knobs, s.seed, s.scenario_id)
    for names in groups.values():
        _member(s, names[0], trained[names[0]], X, dgp, why_dgp, _twins_note(names))


def _member(
    s: Setting,
    name: str,
    spec: Mapping[str, Any],
    X: np.ndarray,
    dgp: LinearDGP | None,
    why_dgp: str,
    twins: str,
) -> None:
    loss, solver = str(spec["loss"]), str(spec["solver"])
    if str(spec.get("penalty", "none")) != "none":
        s.skip("training theory", "penalised trained fit: no theory here", name)
        return
    if solver == "adam":
        s.skip("training theory", "Adam: no closed form or divergence bound used here", name)
        return
    sched = _schedule(spec, X)
    G = float(np.linalg.norm(X, axis=1).mean())
    if loss == "squared":
        if solver != "gd":
            s.skip(
                "training theory",
                "SGD on a fixed design reuses its rows: the streaming formula "
                "ηdσ²/(2b − η(b + d + 1)) does not apply (tests reproduce it on streaming data)",
                name,
            )
            return
        _gd_squared(s, name, sched, X, dgp, why_dgp, twins)
        return
    _bounded_divergence(s, name, spec, sched, X, dgp, twins)
    if solver == "gd" and loss in SMOOTH:
        _converges(s, name, spec, sched, X, twins)
    if solver == "gd" and loss == "absolute":
        _subgradient(s, name, sched, G, dgp, twins)


def _gd_squared(
    s: Setting,
    name: str,
    sched: Schedule,
    X: np.ndarray,
    dgp: LinearDGP | None,
    why_dgp: str,
    twins: str,
) -> None:
    """Exact moments, opt_error and objective_gap of GD on L2; its divergence."""
    from lossstudy.stability import DIVERGED_NORM

    n, p = X.shape
    lam, V = np.linalg.eigh(X.T @ X / n)
    stable = float(sched.lr.max()) * float(lam[-1]) <= 2.0
    if dgp is None:
        s.skip("exact GD moments", why_dgp, name)
        if not stable:
            _certain_divergence(s, name, sched, float(lam[-1]), why_dgp, twins)
        return
    base = _join(
        f"GD on ½-squared, k = {sched.steps}: β_k = M y with M = A_k (X'X)⁻¹X' "
        f"({'averaged iterates, ' if sched.average else ''}init {sched.init}); "
        "fixed design regenerated from the seed",
        twins,
    )
    mean_b, cov_b = _ols_moments(dgp)
    second = float(mean_b @ mean_b + np.trace(cov_b))  # E‖β̂‖²
    if stable:
        M = gd_squared_map(X, sched)
        B = M @ dgp.K - np.eye(p)
        mean = B @ dgp.beta_mean + M @ dgp.offset
        cov = B @ dgp.beta_cov @ B.T + dgp.cov.sandwich(M)
        var = np.diag(cov)
        vnote = _join(base, HEAVY_TAILS_NOTE if s.heavy else "")
        for j, t in enumerate(s.terms):
            s.checks.append(Check(name, t, "bias", float(mean[j]), "=", "exact", base))
            s.checks.append(
                Check(name, t, "empse", float(math.sqrt(max(var[j], 0.0))), "=", "exact", vnote)
            )
            mse = float(mean[j] ** 2 + var[j])
            s.checks.append(Check(name, t, "mse", mse, "=", "exact", vnote))
        radius = DIVERGED_NORM / (1.0 if sched.init == "ols" else 2.0)
        bound = min(1.0, second / radius**2)
        s.checks.append(
            Check(
                name,
                "model",
                "divergence",
                bound,
                "<=",
                "exact",
                _join(
                    f"η_t λ_max ≤ 2 at every step: ‖β_t − β̂‖ ≤ ‖β̂‖, so a replicate diverges "
                    f"only if ‖β̂‖ > {radius:.3g}; Chebyshev: P ≤ E‖β̂‖²/{radius:.3g}²",
                    twins,
                ),
            )
        )
        if int(np.linalg.matrix_rank(X)) < p:
            s.skip("GD distance to the OLS fit", "rank-deficient design: no unique OLS fit", name)
            return
        # β_k − β̂ = −V diag(r) V' β̂ (init zeros), 0 (init ols)
        rest = np.zeros(p) if sched.init == "ols" else gd_squared_filter(lam, sched)
        C = (V * rest) @ V.T
        S = _second_moment(mean_b, cov_b, C)
        opt = math.sqrt(max(float(np.trace(S)), 0.0))
        gap = 0.5 * float(np.trace(X.T @ X / n @ S))
        if sched.average:
            gap_note = "averaged iterates: f(β̄_k) − f(β̂) = ½ (β̄_k − β̂)'H(β̄_k − β̂)"
        else:
            gap_note = "f(β_k) − f(β̂) = ½ (β_k − β̂)'H(β_k − β̂)"
        _exact_or_floor(
            s, name, "opt_error", opt, OPT_FLOOR * max(1.0, math.sqrt(second)), base, "√E‖β_k − β̂‖²"
        )
        _exact_or_floor(
            s, name, "objective_gap", gap, GAP_FLOOR * max(1.0, dgp.sigma2), base, gap_note
        )
        return
    if not sched.constant:
        s.skip("GD divergence", "η_t λ_max > 2 only for the first steps of inv_sqrt", name)
        return
    rho = float(sched.lr[0]) * float(lam[-1]) - 1.0
    v = V[:, -1]
    m, sd = float(v @ mean_b), math.sqrt(max(float(v @ cov_b @ v), 0.0))
    grow = math.expm1(min(sched.steps * math.log(rho), 700.0))  # ρ^k − 1 (capped: no overflow)
    threshold = DIVERGED_NORM / grow if grow > 0 else math.inf
    kstar = math.log(DIVERGED_NORM / max(abs(m), sd, 1e-300)) / math.log(rho)
    normal = s.normal  # v'β̂ is then exactly normal (a normal prior on β too)
    note = _join(
        f"ηλ_max = {rho + 1:.4g} > 2: the top eigen-component of β_k grows as ρ^k, ρ = {rho:.4g}, "
        f"so P(diverged by k) ≥ P(|v'β̂| > 10⁶/(ρ^k − 1)), v'β̂ ~ N({m:.3g}, {sd:.3g}²)"
        + ("" if normal else " approximately (CLT)")
        + f"; → 1 as k grows (|v'β̂| of typical size exceeds 10⁶ from k ≈ {kstar:.0f})",
        twins,
    )
    s.checks.append(
        Check(
            name,
            "model",
            "divergence",
            _normal_tail(m, sd, threshold),
            ">=",
            "exact" if normal else "asymptotic",
            note,
        )
    )


def _certain_divergence(
    s: Setting, name: str, sched: Schedule, lam_max: float, why: str, twins: str
) -> None:
    """Past c = 1 without a variance: divergence → 1, given once 10⁶/(ρ^k − 1) < ``TINY``
    (then only |v'β̂| < TINY, an event of probability ≈ 2·TINY·density(0), escapes)."""
    from lossstudy.stability import DIVERGED_NORM

    if not sched.constant:
        s.skip("GD divergence", "η_t λ_max > 2 only for the first steps of inv_sqrt", name)
        return
    rho = float(sched.lr[0]) * lam_max - 1.0
    threshold = DIVERGED_NORM / math.expm1(min(sched.steps * math.log(rho), 700.0))
    if threshold >= TINY:
        s.skip(
            "GD divergence",
            f"{why}: no law for v'β̂, and at k = {sched.steps} the threshold "
            f"10⁶/(ρ^k − 1) = {threshold:.3g} is not yet negligible",
            name,
        )
        return
    note = _join(
        f"ηλ_max = {rho + 1:.4g} > 2: |v'β_k| ≥ (ρ^k − 1)|v'β̂|, ρ = {rho:.4g}; every replicate "
        f"with |v'β̂| > {threshold:.3g} has diverged ({why}: the small remainder not computed)",
        twins,
    )
    s.checks.append(Check(name, "model", "divergence", 1.0, "=", "asymptotic", note))


def _exact_or_floor(
    s: Setting, name: str, quantity: str, value: float, floor: float, base: str, what: str
) -> None:
    if value > floor:
        s.checks.append(Check(name, "model", quantity, value, "=", "exact", _join(base, what)))
        return
    note = _join(base, f"{what} = {value:.3g}, below floating-point resolution: ≤ {floor:.3g}")
    s.checks.append(Check(name, "model", quantity, floor, "<=", "exact", note))


def _bounded_divergence(
    s: Setting,
    name: str,
    spec: Mapping[str, Any],
    sched: Schedule,
    X: np.ndarray,
    dgp: LinearDGP | None,
    twins: str,
) -> None:
    """A bounded ψ bounds each step: ‖β_k − β_0‖ ≤ Σ_t η_t ψ_max G."""
    from lossstudy.stability import DIVERGED_NORM

    norms = np.linalg.norm(X, axis=1)
    full = str(spec["solver"]) == "gd"
    G = float(norms.mean() if full else norms.max())
    travel = float(sched.lr.sum()) * _psi_max(spec) * G
    what = "mean‖x_i‖" if full else "max‖x_i‖ (any minibatch mean is at most it)"
    note = f"|ψ| ≤ {_psi_max(spec):g}: ‖β_k − β_0‖ ≤ Σ_t η_t ψ_max G = {travel:.3g}, G = {what}"
    if travel >= DIVERGED_NORM:
        s.skip("bounded-gradient divergence", f"Σ_t η_t ψ_max G = {travel:.3g} ≥ 10⁶", name)
        return
    if sched.init == "zeros":
        s.checks.append(
            Check(name, "model", "divergence", 0.0, "=", "exact", _join(note, "β_0 = 0", twins))
        )
        return
    if dgp is None:
        s.skip("bounded-gradient divergence", "init ols: no second moment of β̂ here", name)
        return
    mean_b, cov_b = _ols_moments(dgp)
    radius = DIVERGED_NORM - travel
    bound = min(1.0, float(mean_b @ mean_b + np.trace(cov_b)) / radius**2)
    note = _join(note, f"β_0 = β̂: P ≤ P(‖β̂‖ > {radius:.3g}) ≤ E‖β̂‖²/{radius:.3g}²", twins)
    s.checks.append(Check(name, "model", "divergence", bound, "<=", "exact", note))


def _converges(
    s: Setting, name: str, spec: Mapping[str, Any], sched: Schedule, X: np.ndarray, twins: str
) -> None:
    """GD with c < 1 on a smooth loss reaches the exact minimiser (once the rate says so)."""
    eta = float(sched.lr.max())
    lam = np.linalg.eigvalsh(X.T @ X / X.shape[0])
    if not sched.constant or eta * lam[-1] >= 2.0:
        s.skip("GD convergence", "needs a constant step below 2/λ_max(H)", name)
        return
    if lam[0] <= 0:
        s.skip("GD convergence", "rank-deficient design: no unique minimiser", name)
        return
    q = _curvature(s.errors, spec)
    if q is None or not q > 0:
        s.skip("GD convergence", "no local rate: E ψ'(e) not computable", name)
        return
    # near the minimiser the Hessian is H_W ⪯ H (weights ψ' ≤ 1), E H_W ≈ E ψ'(e) H: the slow
    # end is ≈ 1 − η E ψ'(e) λ_min, the fast end at most ηλ_max − 1 (no averaging assumed there)
    rate = max(1.0 - eta * q * lam[0], eta * lam[-1] - 1.0)
    need = 2.0 * math.log(CONVERGED) / math.log(rate)
    if sched.steps < need:
        s.skip(
            "GD convergence",
            f"k = {sched.steps} steps: the local rate {rate:.4g} needs {need:.0f} to reach the "
            "minimiser to floating point",
            name,
        )
        return
    note = _join(
        f"0 ≤ ψ' ≤ 1 and η < 2/λ_max(H): GD converges to the exact minimiser; local rate "
        f"≈ 1 − η E ψ'(e) λ_min = {rate:.4g} per step (E ψ'(e) = {q:.3g}), k = {sched.steps} "
        "steps are enough; asserted up to floating point",
        twins,
    )
    s.checks.append(Check(name, "model", "opt_error", OPT_TOL, "<=", "asymptotic", note))
    s.checks.append(Check(name, "model", "objective_gap", GAP_TOL, "<=", "asymptotic", note))
    _efficiency(s, name, spec, twins)


def m_efficiency(errors: Mapping[str, Any], spec: Mapping[str, Any]) -> float:
    """Asymptotic efficiency of the M-estimator of a trained loss (fixed δ or c, no scale
    estimate) relative to OLS, under iid errors: Var(e) (E ψ'(e))² / E ψ(e)²."""
    from scipy.integrate import quad

    from lossstudy.errorlaws import density, error_moments

    mom = error_moments(dict(errors))
    if not mom.var_finite:
        return math.nan
    loss, a = str(spec["loss"]), _psi_max(spec)
    law = density(dict(errors))
    psi, dpsi = {
        "squared": (lambda e: e, lambda e: 1.0),
        "huber": (lambda e: max(-a, min(a, e)), lambda e: float(abs(e) <= a)),
        "pseudo_huber": (
            lambda e: e / math.sqrt(1.0 + (e / a) ** 2),
            lambda e: (1.0 + (e / a) ** 2) ** -1.5,
        ),
        "log_cosh": (
            lambda e: a * math.tanh(e / a),
            lambda e: 1.0 / math.cosh(min(abs(e) / a, 350.0)) ** 2,
        ),
    }[loss]
    cuts = [-a, a] if loss == "huber" else [0.0]
    bounds = [-np.inf, *cuts, np.inf]

    def integral(g: Any) -> float:
        return sum(
            quad(lambda e: g(e) * float(law.pdf(e)), lo, hi, limit=200)[0]
            for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)
        )

    return mom.sd**2 * integral(dpsi) ** 2 / integral(lambda e: psi(e) ** 2)


def _efficiency(s: Setting, name: str, spec: Mapping[str, Any], twins: str) -> None:
    """Converged GD is the exact M-estimator, so its efficiency against the study's OLS is the
    M-estimator's ARE (fixed δ: no scale estimate), under iid symmetric finite-variance errors."""
    ols = next((e for e in s.groups if s.estimators[e].get("method") == "ols"), None)
    reason = ""
    if ols is None:
        reason = "no OLS estimator in the study"
    elif not s.mom.var_finite:
        reason = f"{s.dist} errors have no finite variance: OLS has none"
    elif not s.mom.symmetric:
        reason = f"{s.dist} errors are not symmetric"
    elif not s.unbiased:
        reason = f"not iid errors around the linear mean: {s.why_biased}"
    elif not s.homoskedastic:
        reason = "errors are not iid (heteroskedastic or autocorrelated)"
    if reason:
        s.skip("asymptotic relative efficiency", reason, name)
        return
    note = _join(
        "converged GD = the exact M-estimator with fixed scale: ARE = Var(e)(E ψ')²/E ψ²; "
        f"asymptotic: at n = {s.n}, p = {s.p} the finite-sample value can differ beyond "
        "Monte Carlo error",
        HEAVY_TAILS_NOTE if s.heavy else "",
        twins,
    )
    value = m_efficiency(s.errors, spec)
    s.checks.append(
        Check(name, "all", "rel_efficiency", value, "=", "asymptotic", note, versus=ols)
    )


def _subgradient(
    s: Setting, name: str, sched: Schedule, G: float, dgp: LinearDGP | None, twins: str
) -> None:
    """Averaged constant-step subgradient on L1: f(β̄_k) − f* ≤ (‖β_0 − β*‖ + ηG)²/(2ηk) + ηG²/2."""
    if not (sched.average and sched.constant):
        s.skip(
            "subgradient plateau",
            "the bound f_best − f* ≤ G²η/2 is on the best or averaged iterate; this member "
            "reports its last iterate (tests check f_best)",
            name,
        )
        return
    if dgp is None or sched.init != "zeros":
        s.skip("subgradient plateau", "needs init zeros and a finite-variance scale for ‖β*‖", name)
        return
    eta, k = float(sched.lr[0]), sched.steps
    mean_b, cov_b = _ols_moments(dgp)
    r0 = math.sqrt(float(mean_b @ mean_b + np.trace(cov_b)))  # ‖β*‖ ≈ ‖β̂_OLS‖ (stand-in)
    bound = (r0 + eta * G) ** 2 / (2 * eta * k) + eta * G * G / 2
    note = _join(
        f"averaged subgradient steps, η = {eta:.4g}, G = mean‖x_i‖ = {G:.4g}: "
        f"f(β̄_k) − f* ≤ (‖β*‖ + ηG)²/(2ηk) + ηG²/2 → ηG²/2 = {eta * G * G / 2:.4g}; "
        "‖β*‖ taken as √E‖β̂_OLS‖²",
        twins,
    )
    s.checks.append(Check(name, "model", "objective_gap", bound, "<=", "asymptotic", note))


def _streaming_sgd(s: Setting, name: str, spec: Mapping[str, Any], twins: str) -> None:
    """Exact moments of streaming SGD on the ½-squared loss (:mod:`.streaming`)."""
    from lossstudy.stability import DIVERGED_NORM

    if not s.mom.var_finite:
        s.skip("streaming SGD theory", f"{s.dist} errors have no finite variance", name)
        return
    k = _steps(spec, s.n)
    eta, b = float(spec["lr"]), int(spec["batch_size"])
    H, T = streaming.design_moments(s.p, float(s.knobs["design"]["correlation"]))
    beta_mean = np.asarray(s.knobs["coefficients"], dtype=float).copy()
    beta_second = np.outer(beta_mean, beta_mean)
    if s.tau > 0:  # slopes drawn from N(0, τ²) per replicate
        beta_mean[1:] = 0.0
        beta_second = np.outer(beta_mean, beta_mean)
        beta_second[1:, 1:] += s.tau**2 * np.eye(s.p - 1)
    sigma2 = s.mom.sd**2
    # e_0 = β_0 − β = −β; every step's moments, for the union bound on divergence
    means, seconds = streaming.sgd_moments(
        H, T, sigma2, eta, b, np.arange(1, k + 1), -beta_mean, beta_second
    )
    m, S = means[-1], seconds[-1]
    limit = streaming.stationary_risk(H, T, sigma2, eta, b)
    edge = streaming.mean_square_limit(H, T, b)
    # E‖β_t‖² = E‖β + e_t‖² ≤ 2E‖β‖² + 2E‖e_t‖²; Markov at each step, union over the k steps
    norms = 2.0 * float(np.trace(beta_second)) + 2.0 * np.trace(seconds, axis1=1, axis2=2)
    bound = min(1.0, float(norms.sum()) / DIVERGED_NORM**2)
    if math.isfinite(limit) and bound < NEGLIGIBLE:
        base = _join(
            f"streaming SGD on ½-squared, η = {eta:g}, b = {b}, k = {k} (no row used twice): "
            "exact mean and second-moment recursions over x = (1, z), z ~ N(0, C) (Isserlis), "
            f"σ² = {sigma2:.4g}; stationary E‖β − β*‖² = {limit:.4g}; mean-square stable for "
            f"η < {edge:.4g}",
            twins,
        )
        # the MCSE of a mean square needs the iterate's fourth moment, which SGD loses at a
        # smaller step than its second (about 0.57 of the mean-square limit for scalar
        # Gaussian x): past half the limit those rows are shown, not tested
        tested = not s.heavy and eta <= NEAR_LIMIT * edge
        vnote = _join(base, HEAVY_TAILS_NOTE if s.heavy else "")
        if not tested and not s.heavy:
            vnote = _join(
                vnote,
                f"η is past {NEAR_LIMIT:g} of the mean-square limit: the iterate's fourth "
                "moment, which this MCSE needs, may not exist, so z is shown, not tested",
            )
        for j, t in enumerate(s.terms):
            var = max(float(S[j, j] - m[j] ** 2), 0.0)
            s.checks.append(Check(name, t, "bias", float(m[j]), "=", "exact", base))
            s.checks.append(
                Check(name, t, "empse", math.sqrt(var), "=", "exact", vnote, tested=tested)
            )
            s.checks.append(
                Check(name, t, "mse", float(S[j, j]), "=", "exact", vnote, tested=tested)
            )
        s.checks.append(
            Check(name, "model", "risk", float(np.trace(S)), "=", "exact", vnote, tested=tested)
        )
    else:
        s.skip(
            "streaming SGD moments",
            f"η = {eta:g} is past SGD's mean-square limit {edge:.4g} (b = {b}): E‖β_k − β‖² = "
            f"{float(np.trace(S)):.3g} is carried by rare replicates (and diverged ones are left "
            "out), so a Monte Carlo mean cannot estimate it",
            name,
        )
    note = _join(
        f"Markov at each step and a union bound: P ≤ Σ_t 2(E‖β‖² + E‖β_t − β‖²)/10¹², k = {k}",
        twins,
    )
    s.checks.append(Check(name, "model", "divergence", bound, "<=", "exact", note))


def _bounded_divergence_random(s: Setting, name: str, spec: Mapping[str, Any], twins: str) -> None:
    """A bounded ψ on a random Gaussian design: a step moves β by at most η_t ψ_max max‖x_i‖,
    so a fit diverges only if some row has ‖x_i‖ > (10⁶ − ‖β_0‖)/Σ_t η_t ψ_max; with
    ‖x‖² ≤ 1 + λ_max(C) χ²_{p−1}, a union bound over the n rows."""
    from scipy.stats import chi2

    from lossstudy.stability import DIVERGED_NORM

    d = s.knobs["design"]
    if str(spec.get("init", "zeros")) != "zeros" or float(d["leverage"]["fraction"]) != 0:
        s.skip("bounded-gradient divergence", "init ols or leverage rows: no bound here", name)
        return
    if d.get("distribution", "normal") != "normal":  # uniform rows: ‖x‖² ≤ p, bound not written
        s.skip("bounded-gradient divergence", "uniform design: the bound is for normal rows", name)
        return
    k = _steps(spec, s.n)
    eta = float(spec["lr"])
    lr = np.full(k, eta)
    if str(spec.get("schedule", "constant")) != "constant":
        lr = eta / np.sqrt(np.arange(k) + 1.0)
    travel = float(lr.sum()) * _psi_max(spec)
    reach = DIVERGED_NORM / travel
    rho = float(d["correlation"])
    lam = 1.0 + (s.p - 2) * rho if s.p > 2 else 1.0  # λ_max of the equicorrelation matrix
    tail = float(chi2.sf(max(reach * reach - 1.0, 0.0) / lam, s.p - 1))
    bound = min(1.0, s.n * tail)
    note = _join(
        f"|ψ| ≤ {_psi_max(spec):g}: ‖β_k‖ ≤ Σ_t η_t ψ_max max_i‖x_i‖ = {travel:.3g}·max_i‖x_i‖ "
        f"from β_0 = 0; P(max_i‖x_i‖ > {reach:.3g}) ≤ n·P(1 + λ_max(C)χ²_{s.p - 1} > "
        f"{reach:.3g}²)",
        twins,
    )
    s.checks.append(Check(name, "model", "divergence", bound, "<=", "exact", note))
