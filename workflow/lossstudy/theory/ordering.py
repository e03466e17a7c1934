"""Orderings: the BLUE (Gauss–Markov / Aitken) and the Bayes ridge have the lowest risk.

Why a module of its own: these are not values but inequalities between two estimators of the
same replicates, checked as a paired difference (``variance_excess``, ``bayes_risk_excess``) that
must not be negative beyond Monte Carlo error. They apply only where the theorem's premises hold:
a linear unbiased estimator of the study with weights 1/Var(e | x) is the BLUE among them; with
slopes ~ N(0, τ²) and normal homoskedastic errors the ridge with λ = σ²/τ² is the posterior mean
of the slopes, so no estimator has a lower average MSE over the prior.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from lossstudy import methods

from .checks import HEAVY_TAILS_NOTE, Check, Setting, _full_rank, _join, _weights_match

#: A ridge is "the" Bayes rule when its λ is within this relative tolerance of σ²/τ².
BAYES_RTOL = 1e-6


def gauss_markov_checks(s: Setting, moments: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> None:
    """Var(other) − Var(BLUE) ≥ 0 per coefficient, among the study's linear unbiased estimators;
    ``moments`` (from :func:`.exact.moment_checks`) adds the exact expected difference."""
    knobs, estimators, groups, terms, heavy = s.knobs, s.estimators, s.groups, s.terms, s.heavy
    mom, dist, unbiased, why_biased = s.mom, s.dist, s.unbiased, s.why_biased
    checks, skip = s.checks, s.skip
    candidates = [e for e in groups if _linear_unbiased(estimators[e])]
    if len(candidates) >= 2:
        reason = ""
        if not mom.var_finite:
            reason = f"{dist} errors have no finite variance"
        elif not unbiased:
            reason = f"linear estimators are biased here: {why_biased}"
        elif not _full_rank(knobs):
            reason = "rank-deficient design"
        blue = None
        if not reason:
            blue = next(
                (e for e in candidates if _weights_match(knobs, _as_ls(estimators[e]))[0]), None
            )
            if blue is None:
                reason = "no linear estimator of the study has weights 1/Var(e|x) (GLS would)"
        if reason:
            skip("Gauss–Markov ordering", reason)
        else:
            assert blue is not None
            theorem = (
                "Gauss–Markov: OLS is the BLUE under homoskedastic uncorrelated errors"
                if estimators[blue]["method"] != "wls"
                or float(estimators[blue].get("strength", 1.0)) == 0
                else "Aitken: WLS with weights 1/Var(e|x) is the BLUE"
            )
            for name in candidates:
                if name == blue:
                    continue
                for j, t in enumerate(terms):
                    note = f"{theorem}; Var({name}) − Var({blue}) ≥ 0"
                    scale = 0.0
                    if name in moments and blue in moments:
                        exact = moments[name][1][j, j] - moments[blue][1][j, j]
                        note += f"; exact expected difference {exact:.4g}"
                        scale = float(moments[blue][1][j, j])
                    if heavy:
                        note = _join(note, HEAVY_TAILS_NOTE)
                    checks.append(
                        Check(name, t, "variance_excess", 0.0, ">=", "ordering", note, blue, scale)
                    )


def bayes_checks(s: Setting, moments: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> None:
    """Under a prior on the slopes: every estimator's average slope MSE minus the Bayes ridge's
    is ≥ 0; ``moments`` adds the exact expected difference for linear estimators."""
    estimators, groups, p, tau, mom, dist = s.estimators, s.groups, s.p, s.tau, s.mom, s.dist
    unbiased, homoskedastic, checks, skip = s.unbiased, s.homoskedastic, s.checks, s.skip
    if tau > 0:
        lam = mom.sd**2 / tau**2 if mom.var_finite else math.nan
        bayes = next(
            (
                e
                for e in groups
                if estimators[e]["method"] == "ridge"
                and math.isclose(float(estimators[e].get("penalty", 1.0)), lam, rel_tol=BAYES_RTOL)
            ),
            None,
        )
        reason = ""
        if dist != "normal":
            reason = f"{dist} errors: the ridge is the posterior mean only under normal errors"
        elif not unbiased or not homoskedastic:
            reason = "y | β is not N(Xβ, σ²I) here"
        elif bayes is None:
            reason = f"no ridge with λ = σ²/τ² = {lam:.6g} in the study"
        elif p < 2:
            reason = "no slopes"
        if reason:
            skip("Bayes ordering", reason)
        else:
            assert bayes is not None
            for name in groups:
                if name == bayes:
                    continue
                if not s.prior_normal and not methods.fit_for(estimators[name]).linear_in_y:
                    skip(
                        "Bayes ordering",
                        "a non-normal prior: the ridge at λ = σ²/τ² is the best linear rule, "
                        "not the Bayes rule, so a non-linear estimator may beat it",
                        name,
                    )
                    continue
                note = (
                    f"Bayes: {bayes} (λ = σ²/τ² = {lam:.4g}) is the posterior mean of the slopes, "
                    "so no estimator has a lower average MSE over the prior"
                    if s.prior_normal
                    else f"best linear: {bayes} (λ = σ²/τ² = {lam:.4g}, τ² the prior's slope "
                    "variance) has the lowest average MSE over the prior of all linear rules"
                )
                scale = 0.0
                if name in moments and bayes in moments:
                    a = _slope_mse(*moments[name])
                    b = _slope_mse(*moments[bayes])
                    note += f"; exact expected difference {a - b:.4g}"
                    scale = b
                checks.append(
                    Check(
                        name,
                        "slopes",
                        "bayes_risk_excess",
                        0.0,
                        ">=",
                        "ordering",
                        note,
                        bayes,
                        scale,
                    )
                )


def _linear_unbiased(spec: Mapping[str, Any]) -> bool:
    """In the Gauss–Markov class: linear in y and not penalised (ridge with λ = 0 is OLS)."""
    return methods.fit_for(spec).linear_in_y and not methods.penalised(spec)


def _as_ls(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Ridge with λ = 0 is OLS; classical SE assumed for the weight question only."""
    if spec["method"] == "ridge":
        return {"method": "ols", "se": "classical"}
    if spec["method"] == "ols":
        return {**spec, "se": "classical"}
    return dict(spec)


def _slope_mse(mean: np.ndarray, cov: np.ndarray) -> float:
    return float(np.mean(mean[1:] ** 2 + np.diag(cov)[1:]))
