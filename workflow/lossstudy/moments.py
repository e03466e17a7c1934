"""Which performance measures exist, and which MCSEs are valid, for given errors and estimator.

Two separate questions for every measure (science.md §4, "Which moments exist"):

(a) *defined*: does the quantity the measure estimates exist? The bias is E(θ̂) − θ, so it
    needs a finite first moment of the estimator; EmpSE, MSE, RMSE, ModSE and the relative
    measures are built from variances / mean squares and need a finite second moment.
(b) *mcse_valid*: is the normal-theory Monte Carlo SE a valid standard error of the sample
    value? The MCSE of a mean of R replicates rests on the central limit theorem for that mean,
    so it needs one moment order more than the mean of what is averaged *squared*: the bias
    (a mean of errors d) needs Var(d), i.e. the 2nd moment; EmpSE, MSE, RMSE, ModSE,
    rel_error_modse and the relative measures (means of d², of SE² or ratios of them) need
    Var(d²), i.e. the 4th moment.

The rule, per measure: order needed for the value / order needed for the MCSE

==========================================================  =======  ======
measure                                                      value    MCSE
==========================================================  =======  ======
bias, be_coverage                                            1        2
empse, mse, rmse, modse, rel_error_modse                     2        4
rel_precision, rel_efficiency, rel_mse (estimator *and* ref) 2        4
coverage, rejection, median_bias, mad                        0        0
==========================================================  =======  ======

On the term ``model``, per estimator: ``test_mse`` needs the *errors'* 2nd moment (value) and
4th (MCSE), ``test_mae`` their 1st and 2nd, whatever the estimator, because a test error
y − x'β̂ contains a fresh error e itself; ``divergence``, ``opt_error`` and ``objective_gap``
(training diagnostics) are order 0.

Order 0 means "always": coverage and rejection are proportions of bounded indicators
(binomial MCSE); the median bias and MAD are quantiles, which exist for every distribution,
with a distribution-free (order-statistic) and a bootstrap MCSE respectively.

``be_coverage`` centres the intervals at θ + bias, so it is defined only where the bias is,
and its binomial MCSE ignores the error of that estimated centre, which is negligible
(O(R^-1/2)) only when the errors have a variance; with 1 < df ≤ 2 the sample mean converges
at the slower rate R^(1/df − 1), so the MCSE is flagged unreliable there.

The ModSE of a linear estimator is a quadratic form in the residuals (σ̂² = RSS/(n − p) times
a design constant, likewise for the sandwich SEs), so E(SE²) needs the errors' 2nd moment and
Var(SE²) their 4th: ModSE is treated like the variance-based measures.

Which moments exist
    Linear estimators (OLS, WLS, ridge; :func:`lossstudy.estimators.is_linear_in_y`) are, given
    the design, fixed linear combinations w'e of the iid errors plus a constant, so they have
    exactly the errors' finite moments, which each error law states (``Law.moment_order``,
    :mod:`lossstudy.errorlaws`): t with df degrees of freedom has moments of order < df
    (mean if df > 1, variance if df > 2, 4th moment if df > 4); Cauchy (t1) has none; normal,
    Laplace, the contaminated normal, exponential and lognormal have all. This is conditional
    on the design; the study reads it that way (with a random design the unconditional moments
    of OLS can need more, e.g. E(X'X)^-1 finite, which the study's n ≫ p gives).

    LAD and Huber are not linear in y and bound the influence of any single error, so their
    tails are much lighter than the errors' (the sample median of Cauchy data has a finite
    variance from n = 5); the study treats all their moments as existing. That is an
    approximation a statistician would sign for the n used here, not a theorem for every n.

Where the rule says "not defined" the sample value is still computed and kept: it just
estimates nothing (under Cauchy errors the mean of R OLS errors is itself Cauchy, whatever R).
Where it says "MCSE unreliable" the value is a consistent estimate of an existing quantity, but
its reported MCSE understates the Monte Carlo error and z-type comparisons are not valid; the
median bias and MAD are the robust alternatives.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lossstudy import errorlaws
from lossstudy.measures import MEASURES, names

__all__ = [
    "MEASURE_ORDERS",
    "MODEL_ORDERS",
    "MeasureRule",
    "RELATIVE",
    "moment_rule_table",
    "moment_rules",
]

#: measure -> (moment order its value needs, moment order its normal-theory MCSE needs)
MEASURE_ORDERS: dict[str, tuple[int, int]] = {
    m.name: m.orders for m in MEASURES if m.orders is not None and m.scope == "term"
}
#: the same for the per-estimator measures on the term ``model``
MODEL_ORDERS: dict[str, tuple[int, int]] = {
    m.name: m.orders for m in MEASURES if m.orders is not None and m.scope == "model"
}
_OF_ERRORS = frozenset(m.name for m in MEASURES if m.moments_of == "errors")
#: measures that compare the estimator with the reference: both need the moments
RELATIVE = frozenset(names(relative=True))

_WHAT = {1: "mean", 2: "variance", 4: "finite fourth moment"}


@dataclass(frozen=True)
class MeasureRule:
    """Whether a measure exists (``defined``) and its MCSE is valid; ``reason`` when not."""

    defined: bool
    mcse_valid: bool
    reason: str = ""


def _finite_orders(errors: Mapping[str, Any], estimator: Mapping[str, Any]) -> dict[int, bool]:
    """Moment orders 0, 1, 2, 4 of the estimator: finite or not."""
    from lossstudy.estimators import is_linear_in_y

    if not is_linear_in_y(dict(estimator)):
        return {0: True, 1: True, 2: True, 4: True}
    mom = errorlaws.error_moments(errors)
    return {0: True, 1: mom.mean_finite, 2: mom.var_finite, 4: mom.fourth_finite}


def _missing(orders: dict[int, bool], need: int) -> int | None:
    """The lowest moment order up to ``need`` that does not exist, or None."""
    return next((k for k in (1, 2, 4) if k <= need and not orders[k]), None)


def moment_rules(
    errors: Mapping[str, Any],
    estimator: Mapping[str, Any],
    reference: Mapping[str, Any] | None = None,
) -> dict[str, MeasureRule]:
    """Per measure: is it defined, is its MCSE valid, and why not (see the module docstring).

    ``errors`` is a scenario's error spec (``{"distribution": "t", "df": 1.5}``), ``estimator``
    and ``reference`` are estimator specs (``{"method": "ols", ...}``). The relative measures
    need the moments of both the estimator and the reference; without a reference they are
    judged on the estimator alone. Pure: depends on the specs only, never on data.
    """
    label = errorlaws.label(errors)
    own = _finite_orders(errors, estimator)
    ref = _finite_orders(errors, reference) if reference is not None else None
    method = str(estimator["method"])
    mom = errorlaws.error_moments(errors)
    of_errors = {0: True, 1: mom.mean_finite, 2: mom.var_finite, 4: mom.fourth_finite}

    def why(who: str, order: int) -> str:
        if who == "":
            return (
                f"the test error contains a fresh error and {label} errors have no {_WHAT[order]}"
            )
        return f"{who} is linear in y and {label} errors have no {_WHAT[order]}"

    out: dict[str, MeasureRule] = {}
    for measure, (need_value, need_mcse) in {**MEASURE_ORDERS, **MODEL_ORDERS}.items():
        sources = [("", of_errors)] if measure in _OF_ERRORS else [(method, own)]
        if measure in RELATIVE and ref is not None and reference is not None:
            sources.append((f"the reference ({reference['method']})", ref))
        gone = [(who, k) for who, o in sources if (k := _missing(o, need_value)) is not None]
        if gone:
            text = "; ".join(why(who, k) for who, k in gone)
            out[measure] = MeasureRule(False, False, f"does not exist: {text}")
            continue
        weak = [(who, k) for who, o in sources if (k := _missing(o, need_mcse)) is not None]
        if weak and measure in _OF_ERRORS:
            text = "; ".join(why(who, k) for who, k in weak)
            out[measure] = MeasureRule(
                True, False, f"exists, but MCSE unreliable: {text}, so the CLT behind SD/√R fails"
            )
            continue
        if weak:
            exists = "mean" if need_value == 1 else "variance"
            text = "; ".join(why(who, k) for who, k in weak)
            out[measure] = MeasureRule(
                True,
                False,
                f"exists, but MCSE unreliable: the {exists} exists but {text}, so the CLT "
                "behind the normal-theory MCSE fails; see median_bias and mad",
            )
            continue
        out[measure] = MeasureRule(True, True)
    return out


def _table_rows() -> list[tuple[str, dict[str, Any]]]:
    """One representative error spec per row of the rule (science.md §4), with its label; the
    last row names every law with all moments (``Law.all_moments``)."""
    complete = "; ".join(law.title for law in errorlaws.LAWS.values() if law.all_moments)
    return [
        ("t, df ≤ 1 (Cauchy)", {"distribution": "cauchy"}),
        ("t, 1 < df ≤ 2", {"distribution": "t", "df": 1.5}),
        ("t, 2 < df ≤ 4", {"distribution": "t", "df": 3}),
        (f"t, df > 4 (∞: normal); {complete}", {"distribution": "normal"}),
    ]


def moment_rule_table() -> list[dict[str, str]]:
    """The rule for a linear estimator (OLS) as report rows, computed by :func:`moment_rules`.

    Columns: ``errors``; ``bias`` / ``bias_mcse`` (the mean); ``variance`` / ``variance_mcse``
    (EmpSE, MSE, RMSE, ModSE, rel_error_modse and the relative measures).
    """

    def word(rule: MeasureRule, mcse: bool) -> str:
        if not rule.defined:
            return "—" if mcse else "not defined"
        return ("valid" if rule.mcse_valid else "unreliable") if mcse else "defined"

    out = []
    for label, errors in _table_rows():
        rules = moment_rules(errors, {"method": "ols"})
        out.append(
            {
                "errors": label,
                "bias": word(rules["bias"], False),
                "bias_mcse": word(rules["bias"], True),
                "variance": word(rules["empse"], False),
                "variance_mcse": word(rules["empse"], True),
            }
        )
    return out
