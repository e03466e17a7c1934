"""What the exact, asymptotic and ordering checks share: a :class:`Check` (one theoretical
statement), the scenario's :class:`Setting` and the premises several theorems test.

Why: whether a theorem applies depends on the same few facts about a scenario (finite moments,
a linear mean with exogenous errors, homoskedasticity, weights equal to 1/Var(e | x), full rank),
so they are derived once, in :func:`setting`, and every check module reads them from there and
appends its statements, or the reasons it skips them, to the same two lists, in a fixed order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lossstudy import methods, responses
from lossstudy.config import term_names
from lossstudy.dgp import leverage_rows, prior_is_normal, prior_sd
from lossstudy.errorlaws import ErrorMoments, error_moments, is_normal

#: Solvers of members trained by gradient steps (``lossstudy.training``); their theory is in
#: :mod:`.training`, and the checks of the exact fits leave them out.
TRAINED_SOLVERS = ("gd", "sgd", "adam", "ista", "fista")

HEAVY_TAILS_NOTE = (
    "errors have no finite fourth moment: the MCSE of a variance (or of a ratio or difference "
    "of variances) is unreliable and z is not a valid test here (rare huge errors make the "
    "sample variance converge slowly)"
)


@dataclass
class Check:
    """One theoretical statement about one estimator (and a comparator, for orderings)."""

    estimator: str
    term: str
    quantity: str
    theoretical: float
    relation: str  # "=", ">=" or "<="
    kind: str
    note: str = ""
    versus: str = ""
    #: size of the quantities a difference is taken between (a variance for ``variance_excess``),
    #: the scale of the floating-point floor when the theoretical value is 0; 0 if unknown
    scale: float = 0.0
    #: False where the simulated value's MCSE is not a valid standard error (a moment it needs
    #: may not exist): z is shown, never flagged, and the note says why
    tested: bool = True


@dataclass
class Setting:
    """One scenario as the checks see it: its inputs, the facts about it that decide which
    theorems apply (derived once by :func:`setting`), and the lists the checks go to."""

    scenario_id: str
    knobs: Mapping[str, Any]
    seed: int
    estimators: Mapping[str, Mapping[str, Any]]
    level: float
    p: int
    n: int
    terms: list[str]
    errors: dict[str, Any]
    dist: str
    normal: bool  # exactly normal errors (t with df = ∞ too)
    mom: ErrorMoments
    tau: float  # SD of each slope under the prior (0: none); its law need not be normal
    prior_normal: bool  # no prior, or a normal one: ridge at σ²/τ² is then the Bayes rule
    fixed: bool
    groups: dict[str, list[str]]  # first of each set of estimators with equal point estimates
    heavy: bool  # finite variance but no finite fourth moment
    unbiased: bool
    why_biased: str
    homoskedastic: bool
    checks: list[Check] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def skip(self, check: str, reason: str, estimator: str = "") -> None:
        self.skipped.append({"check": check, "estimator": estimator, "reason": reason})


def setting(
    scenario_id: str,
    knobs: Mapping[str, Any],
    seed: int,
    estimators: Mapping[str, Mapping[str, Any]],
    level: float,
) -> Setting:
    """The :class:`Setting` of one scenario, with no checks yet."""
    p = len(knobs["coefficients"])
    n = int(knobs["n"])
    terms = term_names(p)
    errors = dict(knobs["errors"])
    dist = str(errors["distribution"])
    mom = error_moments(errors)
    tau = prior_sd(dict(knobs["prior"]))
    fixed = bool(knobs["design"]["fixed"])
    groups = _point_groups(estimators)
    heavy = mom.var_finite and not mom.fourth_finite
    unbiased, why_biased = _unbiased_setting(knobs)
    homoskedastic = (
        float(knobs["heteroskedasticity"]["strength"]) == 0
        and float(knobs["autocorrelation"]["phi"]) == 0
    )
    return Setting(
        scenario_id=scenario_id,
        knobs=knobs,
        seed=seed,
        estimators=estimators,
        level=level,
        p=p,
        n=n,
        terms=terms,
        errors=errors,
        dist=dist,
        normal=is_normal(errors),
        mom=mom,
        tau=tau,
        prior_normal=prior_is_normal(dict(knobs["prior"])),
        fixed=fixed,
        groups=groups,
        heavy=heavy,
        unbiased=unbiased,
        why_biased=why_biased,
        homoskedastic=homoskedastic,
    )


def is_trained(spec: Mapping[str, Any]) -> bool:
    """A member trained by gradient steps (GD, SGD, Adam), not an exact fit."""
    return str(spec.get("solver", "exact")) in TRAINED_SOLVERS


def _point_groups(estimators: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    """First estimator of each set with identical point estimates by construction → all; exact
    fits only (trained members are checked by :mod:`.training`).

    Identity is read from the specs, never from the numbers: one estimator under several SE
    types (OLS classical, HC3, HAC) and a penalised fit whose strength is 0 (ridge with λ = 0 is
    OLS) are one estimator, compared with theory once and never with each other."""
    groups: dict[tuple[Any, ...], list[str]] = {}
    for name, spec in estimators.items():
        if is_trained(spec):
            continue
        groups.setdefault(point_key(spec), []).append(name)
    return {names[0]: names for names in groups.values()}


def point_key(spec: Mapping[str, Any]) -> tuple[Any, ...]:
    """What decides an exact fit's point estimates: its fit (a zero penalty dropped) and its
    parameters other than ``se``, those that set the interval only and the zero strength. Specs
    the registry cannot resolve fall back to the spec itself without ``se``."""
    try:
        r = methods.resolve(spec)
    except (methods.SpecError, KeyError, TypeError, ValueError):
        return (
            spec.get("method"),
            tuple(sorted((k, str(v)) for k, v in spec.items() if k != "se")),
        )
    interval = {k for k, p in r.fit.params.items() if p.interval}  # ridge's posterior sigma
    fit, params = r.fit, {k: v for k, v in r.params.items() if k != "se" and k not in interval}
    plain = (fit.loss, "none", fit.solver)
    if fit.strength is not None and not r.penalised() and plain in methods.fits():
        params.pop(fit.strength, None)
        fit = methods.fits()[plain]
    return (fit.key, tuple(sorted((k, str(v)) for k, v in params.items() if v is not None)))


def _unbiased_setting(knobs: Mapping[str, Any]) -> tuple[bool, str]:
    """Are linear unbiased estimators unbiased here (linear mean, exogenous errors)?"""
    if not responses.is_linear(knobs):
        return False, f"the mean is not linear in x ({responses.function_name(knobs)})"
    if float(knobs["misspecification"]["strength"]) != 0:
        return False, "the mean is not linear in x (omitted term)"
    if float(knobs["endogeneity"]["correlation"]) != 0:
        return False, "errors correlated with a predictor"
    lev = knobs["design"]["leverage"]
    if leverage_rows(dict(knobs)) > 0 and not lev["follows_model"]:
        return False, "bad leverage rows: y follows other x than observed"
    if not error_moments(dict(knobs["errors"])).mean_finite:
        return False, "errors have no mean"
    return True, ""


def _weights_match(knobs: Mapping[str, Any], spec: Mapping[str, Any]) -> tuple[bool, str]:
    """Do the estimator's (implicit) weights equal 1/Var(e_i | x) up to a constant?"""
    if float(knobs["autocorrelation"]["phi"]) != 0:
        return False, "autocorrelated errors"
    het = knobs["heteroskedasticity"]
    gamma, j = float(het["strength"]), int(het["predictor"])
    if spec["method"] == "wls":
        g_e, j_e = float(spec.get("strength", 1.0)), int(spec.get("predictor", 1))
    elif spec["method"] == "ols" and spec.get("se", "classical") == "classical":
        g_e, j_e = 0.0, j
    else:
        return False, "not a classical (weighted) least-squares interval"
    if gamma == 0 and g_e == 0:
        return True, ""
    if gamma > 0 and g_e == gamma and j_e == j:
        if leverage_rows(dict(knobs)) > 0:
            return False, "leverage rows: the weights use shifted x, the variance clean x"
        return True, ""
    if gamma == 0:
        return False, "homoskedastic errors, but the weights are not constant"
    return False, f"Var(e|x) ∝ 1 + {gamma:g}·x{j}², not 1/weights"


def _full_rank(knobs: Mapping[str, Any]) -> bool:
    return float(knobs["design"]["correlation"]) < 1.0


def _twins_note(names: Sequence[str]) -> str:
    if len(names) < 2:
        return ""
    return f"also {', '.join(names[1:])} (same point estimates)"


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)
