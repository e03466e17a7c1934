"""The lookup and the shared state every topic reads: performance numbers, scenarios, roles.

Why: each topic asks the same questions (the number for a scenario, estimator and measure if
it is usable; whether an assumption holds; which groups to cite, at which ``n``; which
estimators to compare with the reference). :class:`_Table` indexes the performance table once
for the term discussed, :class:`_Ctx` bundles it with the scenario rows, groups and estimator
roles, and the helpers below select groups and estimators, so the topic modules hold only the
wording of their claims.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from lossstudy.dgp import error_moments

from .claims import Number, _code, basis_words, judge


class _Table:
    """Fast lookup of (scenario, estimator, measure) for one term."""

    def __init__(
        self,
        perf: pd.DataFrame,
        term: str,
        theory: Mapping[tuple[str, str, str], tuple[float, str]] | None = None,
    ) -> None:
        """``theory`` maps (scenario, estimator, measure) to the exact value and why."""
        theory = theory or {}
        sub = perf[perf["term"].astype(str) == term]
        self.term = term
        self.rows: dict[tuple[str, str, str], Number] = {}
        notes = sub["note"] if "note" in sub.columns else pd.Series([""] * len(sub))
        defined = sub["defined"] if "defined" in sub.columns else pd.Series([True] * len(sub))
        n_used = sub["n_used"] if "n_used" in sub.columns else pd.Series([0] * len(sub))
        valid = sub["mcse_valid"] if "mcse_valid" in sub.columns else pd.Series([True] * len(sub))
        for sc, est, meas, val, mc, d, nu, note, ok in zip(
            sub["scenario"].astype(str),
            sub["estimator"].astype(str),
            sub["measure"].astype(str),
            pd.to_numeric(sub["value"], errors="coerce"),
            pd.to_numeric(sub["mcse"], errors="coerce"),
            defined,
            n_used,
            notes,
            valid,
            strict=True,
        ):
            exact, why = theory.get((sc, est, meas), (math.nan, ""))
            self.rows[(sc, est, meas)] = Number(
                sc,
                est,
                term,
                meas,
                float(val),
                float(mc),
                _as_bool(d),
                int(nu) if pd.notna(nu) else 0,
                "" if pd.isna(note) else str(note),
                exact,
                why,
                _as_bool(ok),
            )
        self.estimators = list(dict.fromkeys(sub["estimator"].astype(str)))
        self.scenarios = list(dict.fromkeys(sub["scenario"].astype(str)))

    def get(self, scenario: str, estimator: str, measure: str) -> Number | None:
        return self.rows.get((scenario, estimator, measure))

    def set_theory(self, key: tuple[str, str, str], value: float, why: str) -> None:
        """Attach a theoretical value to a number that has none yet."""
        num = self.rows.get(key)
        if num is not None and not np.isfinite(num.theory):
            self.rows[key] = replace(num, theory=value, theory_why=why)

    def usable(self, scenario: str, estimator: str, measure: str) -> Number | None:
        """The number if it is defined and finite, else None."""
        num = self.get(scenario, estimator, measure)
        if num is None or not num.defined or not np.isfinite(num.value):
            return None
        if not np.isfinite(num.mcse):
            return None
        return num


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    return bool(value)


def _float(row: Mapping[str, Any], key: str, default: float = 0.0) -> float:
    value = row.get(key, default)
    try:
        out = float(value)
    except (TypeError, ValueError):
        return default
    return default if math.isnan(out) else out


def _holds(row: Mapping[str, Any], key: str) -> bool:
    return str(row.get(key, "holds")) == "holds"


@dataclass
class _Ctx:
    tab: _Table
    scen: dict[str, dict[str, Any]]
    groups: dict[str, list[str]]  # group -> scenarios, ascending n
    nval: dict[str, float]
    roles: dict[str, dict[str, Any]]
    reference: str
    level: float
    #: family -> z threshold in force (empty: the 2-MCSE rule everywhere)
    thresholds: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # symmetric errors fix the bias of the odd estimators at 0 (see unbiased_by_theory)
        for sc in self.tab.scenarios:
            for est in self.tab.estimators:
                if (sc, est, "bias") in self.tab.rows:
                    why = self.unbiased_by_theory(sc, est)
                    if why:
                        self.tab.set_theory((sc, est, "bias"), 0.0, why)

    def label(self, group: str, scenario: str) -> str:
        n = self.nval.get(scenario, math.nan)
        where = _code(group)
        return f"{where} (n = {int(n)})" if np.isfinite(n) else _code(scenario)

    def moments_undefined(self, scenario: str) -> bool:
        """Some estimator has no variance here (flagged in the table or by the knobs).

        The EmpSE is the test: it is undefined as soon as the variance is missing (t errors with
        df <= 2), even where the mean, hence the bias, still exists (1 < df <= 2).
        """
        for est in self.tab.estimators:
            num = self.tab.get(scenario, est, "empse")
            if (
                num is not None
                and not num.defined
                and num.n_used >= 2
                and "does not exist" in num.note
            ):
                return True
        row = self.scen.get(scenario, {})
        return (
            not _holds(row, "homoskedasticity")
            and _float(row, "heteroskedasticity.strength") == 0
            and _holds(row, "no_autocorrelation")
            and "infinite" in str(row.get("homoskedasticity_why", "infinite"))
        )

    def same_point(self, a: str, b: str) -> bool:
        return self.roles[a]["point"] == self.roles[b]["point"]

    def unbiased_by_theory(self, scenario: str, estimator: str) -> str:
        """Why theory makes this estimator's slopes exactly unbiased here ('' if it does not).

        With a linear mean, exogenous errors whose law is symmetric about 0 (given X), OLS,
        WLS, LAD and Huber are odd functions of the error vector at the true β, so their
        estimation error is symmetric about 0: unbiased wherever the mean exists (for the
        linear ones, wherever the errors have a mean). Ridge is biased by construction.
        """
        row = self.scen.get(scenario, {})
        role = self.roles.get(estimator, {})
        if not role.get("symmetric_unbiased") or self.tab.term == "intercept":
            return ""
        if not (_holds(row, "linearity") and _holds(row, "exogeneity")):
            return ""
        errors = {
            k.split(".", 1)[1]: v
            for k, v in row.items()
            if k.startswith("errors.") and not (isinstance(v, float) and math.isnan(v))
        }
        try:
            mom = error_moments(errors)
        except (KeyError, TypeError, ValueError):
            return ""
        if not mom.symmetric or (role.get("linear") and not mom.mean_finite):
            return ""
        return f"odd in {errors.get('distribution', '?')} errors, symmetric about 0"

    def biased(self, scenario: str, estimator: str, bias: Number) -> bool:
        """Bias beyond Monte Carlo error (the family's threshold), or by theory where theory
        fixes the bias (a contrary estimate must clear the theory bar: :func:`judge`)."""
        return judge(bias, 0.0, self.thresholds).verdict in ("win", "loss")

    def contrary(self, scenario: str, estimator: str) -> str:
        """Words for a bias verdict that rests on theory or contradicts it ('' for neither)."""
        bias = self.tab.get(scenario, estimator, "bias")
        if bias is None:
            return ""
        return basis_words(bias, judge(bias, 0.0, self.thresholds))


def _largest(ctx: _Ctx, group: str) -> str:
    return ctx.groups[group][-1]


def _select(ctx: _Ctx, predicate: Any) -> list[str]:
    """Groups whose largest-n scenario satisfies ``predicate(row, scenario)``."""
    out = []
    for g, members in ctx.groups.items():
        s = members[-1]
        if predicate(ctx.scen.get(s, {}), s):
            out.append(g)
    return out


def _others(ctx: _Ctx, scenario: str, *, unpenalised: bool = True) -> list[str]:
    """Estimators other than the reference (and its same-point twins) with usable numbers."""
    out = []
    for e in ctx.tab.estimators:
        if e == ctx.reference or ctx.same_point(e, ctx.reference):
            continue
        if unpenalised and ctx.roles[e]["penalised"]:
            continue
        out.append(e)
    return out


def _ref_ok(ctx: _Ctx, scenario: str) -> bool:
    return ctx.tab.usable(scenario, ctx.reference, "empse") is not None


def _n_label(ctx: _Ctx, scenario: str) -> str:
    """``n = 100`` for a scenario (its id if n is unknown)."""
    n = ctx.nval[scenario]
    return f"n = {int(n)}" if np.isfinite(n) else _code(scenario)


def _at_n(ctx: _Ctx, scenario: str, cells: list[str]) -> str:
    """One sample size's cells of a claim: ``n = 100: cell; cell`` (the id if n is unknown)."""
    return f"{_n_label(ctx, scenario)}: " + "; ".join(cells)
