"""The short answer to "why L2, and when is it the wrong choice?", generated from the results.

:func:`short_answer` reads the tidy performance table and the scenario table and returns a list
of :class:`Claim` objects: one sentence each, the numbers it rests on (each with its Monte Carlo
standard error, MCSE) and a verdict. The rules:

* A comparison is a *win* or a *loss* only when the difference from the null value (1 for a
  ratio, 0 for a bias, the nominal level for coverage) exceeds ``2 x MCSE``; otherwise it is a
  *tie* ("within Monte Carlo error"), and the sentence states the multiple of the MCSE.
* A number flagged ``defined = False`` (e.g. moments of OLS under Cauchy errors) is never used
  for a win or a loss; it is reported as undefined with its note.
* Scenarios are recognised by the assumption flags and knobs in ``scenarios.csv``
  (``gauss_markov``, ``normal_errors``, ``design.correlation``, ``prior.tau``, ...), estimators by
  their method and parameters in the ``estimators`` config (falling back on name prefixes only if
  no config is given). No scenario or estimator name is hard-coded.
* Scenarios that differ only in ``n`` form one *group*; efficiency comparisons cite the largest
  ``n`` of a group, the others (ridge, coverage, bias) cite every ``n``.

Every ``Claim.text`` is HTML-safe: names and notes are escaped, names are wrapped in ``<code>``.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lossstudy.assumptions import GAUSS_MARKOV

__all__ = [
    "ASSUMPTIONS",
    "TOPICS",
    "Claim",
    "Number",
    "estimator_roles",
    "format_pm",
    "scenario_groups",
    "short_answer",
]

#: Assumption columns of ``scenarios.csv`` (Gauss–Markov ones first, then normality).
ASSUMPTIONS: tuple[str, ...] = (*GAUSS_MARKOV, "normal_errors")

#: Topic key -> heading, in the order the claims are returned.
TOPICS: dict[str, str] = {
    "gauss_markov": "All Gauss–Markov assumptions hold, normal errors",
    "heavy_tails": "Non-normal errors, Gauss–Markov assumptions holding",
    "ridge": "The L2 penalty (ridge): MSE against bias",
    "bias": "Endogeneity or misspecification: bias",
    "coverage": "Heteroskedastic or autocorrelated errors: interval coverage",
    "undefined": "Infinite-variance errors: no moments",
    "full_rank": "Rank-deficient design",
}

Z_TIE = 2.0  # a difference within this many MCSE is a tie
_Z_LIMIT = Z_TIE + 1e-9  # "exactly 2 MCSE" stays a tie despite rounding
CORRELATED = 0.5  # design.correlation from which ridge is featured
NEAR_COLLINEAR = 0.9  # as in lossstudy.assumptions

_STRUCTURAL = {"scenario", "base", "replicates", "n", "gauss_markov"}


# --------------------------------------------------------------------------------------------
# numbers and claims
# --------------------------------------------------------------------------------------------


def format_pm(value: float | None, mcse: float | None = None, *, digits: int | None = None) -> str:
    """``value ± mcse`` rounded to two significant digits of the MCSE (``--`` if missing)."""
    if value is None or not np.isfinite(value):
        return "--"
    if digits is None:
        if mcse is not None and np.isfinite(mcse) and mcse > 0:
            digits = int(np.clip(1 - math.floor(math.log10(mcse)), 0, 6))
        else:
            mag = math.floor(math.log10(abs(value))) if value != 0 else 0
            digits = int(np.clip(2 - mag, 0, 6))
    text = f"{value:.{digits}f}"
    if mcse is not None and np.isfinite(mcse):
        text += f" ± {mcse:.{digits}f}"
    return text


@dataclass(frozen=True)
class Number:
    """One performance number with its MCSE, as cited by a claim."""

    scenario: str
    estimator: str
    term: str
    measure: str
    value: float
    mcse: float
    defined: bool = True
    n_used: int = 0
    note: str = ""

    def text(self) -> str:
        return format_pm(self.value, self.mcse)

    def z(self, null: float) -> float:
        """Distance from ``null`` in MCSE (±inf when the MCSE is 0 and the value differs)."""
        diff = self.value - null
        if self.mcse > 0:
            return diff / self.mcse
        return 0.0 if diff == 0 else math.copysign(math.inf, diff)


@dataclass(frozen=True)
class Claim:
    """A sentence of the short answer with the numbers it cites and its verdict.

    ``verdict`` is one of ``win`` (a difference beyond 2 MCSE in favour of the method named
    first), ``loss``, ``tie`` (within Monte Carlo error), ``biased``, ``undercovers``,
    ``undefined`` or ``mixed``.
    """

    topic: str
    text: str
    verdict: str
    numbers: tuple[Number, ...] = field(default_factory=tuple)
    scenarios: tuple[str, ...] = field(default_factory=tuple)

    @property
    def heading(self) -> str:
        return TOPICS.get(self.topic, self.topic)


def _code(name: str) -> str:
    return f"<code>{html.escape(str(name))}</code>"


def _zword(z: float) -> str:
    if math.isinf(z):
        return "exactly"
    return f"{abs(z):.1f} MCSE"


def _compare(num: Number, null: float) -> str:
    """``win`` (above null beyond 2 MCSE), ``loss`` (below), ``tie`` or ``undefined``."""
    if not num.defined or not np.isfinite(num.value):
        return "undefined"
    z = num.z(null)
    if abs(z) <= _Z_LIMIT:
        return "tie"
    return "win" if z > 0 else "loss"


def _versus(num: Number, null: float, above: str, below: str) -> str:
    """``above (4.2 MCSE from 1)`` / ``tie: within Monte Carlo error (1.3 MCSE)``."""
    verdict = _compare(num, null)
    z = num.z(null)
    if verdict == "tie":
        return f"a tie, within Monte Carlo error ({_zword(z)} from {null:g})"
    word = above if verdict == "win" else below
    return f"{word} ({_zword(z)} from {null:g})"


# --------------------------------------------------------------------------------------------
# scenarios and estimators
# --------------------------------------------------------------------------------------------


def _knob_columns(scenarios: pd.DataFrame) -> list[str]:
    return [
        c
        for c in scenarios.columns
        if c not in _STRUCTURAL and c not in ASSUMPTIONS and not c.endswith("_why")
    ]


def scenario_groups(scenarios: pd.DataFrame) -> pd.DataFrame:
    """``scenario, group, n`` in file order; a group holds scenarios differing only in ``n``.

    The group label is the base name when a base forms a single group, otherwise the id of the
    group's first scenario with its ``-n<value>`` part removed.
    """
    sc = scenarios.reset_index(drop=True)
    if "base" not in sc.columns:
        sc = sc.assign(base=sc["scenario"])
    n = pd.to_numeric(sc["n"], errors="coerce") if "n" in sc.columns else pd.Series(np.nan)
    knobs = _knob_columns(sc)
    rows = sc[knobs].to_numpy(dtype=object) if knobs else np.empty((len(sc), 0), dtype=object)
    key = pd.Series(
        [
            f"{b}||" + "|".join("" if pd.isna(v) else str(v) for v in r)
            for b, r in zip(sc["base"].astype(str), rows, strict=True)
        ],
        dtype=object,
    )
    labels: dict[str, str] = {}
    per_base = key.groupby(sc["base"].astype(str)).nunique()
    for i, k in enumerate(key):
        if k in labels:
            continue
        base = str(sc["base"].iloc[i])
        if per_base[base] == 1:
            labels[k] = base
        else:
            sid = str(sc["scenario"].iloc[i])
            nv = n.iloc[i] if len(n) > i else np.nan
            labels[k] = (re.sub(rf"-n{int(nv)}(?=-|$)", "", sid) if np.isfinite(nv) else sid) or sid
    return pd.DataFrame(
        {
            "scenario": sc["scenario"].astype(str),
            "group": [labels[k] for k in key],
            "n": n.to_numpy() if len(n) == len(sc) else np.full(len(sc), np.nan),
        }
    )


def _infer_method(name: str) -> dict[str, Any]:
    low = name.lower()
    for method in ("ols", "wls", "lad", "huber", "ridge"):
        if low.startswith(method):
            spec: dict[str, Any] = {"method": method}
            if method == "ols":
                spec["se"] = "hc3" if "hc" in low else "classical"
            if method == "ridge":
                spec["penalty"] = math.nan  # unknown: treated as penalised
            return spec
    return {"method": "unknown"}


def estimator_roles(
    names: Sequence[str], estimators: Mapping[str, Mapping[str, Any]] | None
) -> dict[str, dict[str, Any]]:
    """Per estimator: its spec and derived roles.

    Keys: ``method``, ``se`` (ols only), ``penalised`` (ridge with λ ≠ 0), ``robust`` (lad,
    huber), ``point`` (a key shared by estimators with identical point estimates, e.g. OLS with
    classical and HC3 SEs).
    """
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        spec = dict(estimators[name]) if estimators and name in estimators else None
        if spec is None:
            spec = _infer_method(name)
        method = str(spec.get("method", "unknown"))
        if method == "ols":
            spec.setdefault("se", "classical")
        if method == "huber":
            spec.setdefault("k", 1.345)
        if method == "ridge":
            spec.setdefault("penalty", 1.0)
        penalty = spec.get("penalty", 0.0)
        penalised = method == "ridge" and not (
            isinstance(penalty, int | float) and np.isfinite(penalty) and penalty == 0
        )
        point = (method, tuple(sorted((k, str(v)) for k, v in spec.items() if k != "se")))
        out[name] = {
            **spec,
            "method": method,
            "penalised": penalised,
            "robust": method in ("lad", "huber"),
            "point": point,
        }
    return out


# --------------------------------------------------------------------------------------------
# lookup
# --------------------------------------------------------------------------------------------


class _Table:
    """Fast lookup of (scenario, estimator, measure) for one term."""

    def __init__(self, perf: pd.DataFrame, term: str) -> None:
        sub = perf[perf["term"].astype(str) == term]
        self.term = term
        self.rows: dict[tuple[str, str, str], Number] = {}
        notes = sub["note"] if "note" in sub.columns else pd.Series([""] * len(sub))
        defined = sub["defined"] if "defined" in sub.columns else pd.Series([True] * len(sub))
        n_used = sub["n_used"] if "n_used" in sub.columns else pd.Series([0] * len(sub))
        for sc, est, meas, val, mc, d, nu, note in zip(
            sub["scenario"].astype(str),
            sub["estimator"].astype(str),
            sub["measure"].astype(str),
            pd.to_numeric(sub["value"], errors="coerce"),
            pd.to_numeric(sub["mcse"], errors="coerce"),
            defined,
            n_used,
            notes,
            strict=True,
        ):
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
            )
        self.estimators = list(dict.fromkeys(sub["estimator"].astype(str)))
        self.scenarios = list(dict.fromkeys(sub["scenario"].astype(str)))

    def get(self, scenario: str, estimator: str, measure: str) -> Number | None:
        return self.rows.get((scenario, estimator, measure))

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


# --------------------------------------------------------------------------------------------
# the generator
# --------------------------------------------------------------------------------------------


@dataclass
class _Ctx:
    tab: _Table
    scen: dict[str, dict[str, Any]]
    groups: dict[str, list[str]]  # group -> scenarios, ascending n
    nval: dict[str, float]
    roles: dict[str, dict[str, Any]]
    reference: str
    level: float

    def label(self, group: str, scenario: str) -> str:
        n = self.nval.get(scenario, math.nan)
        where = _code(group)
        return f"{where} (n = {int(n)})" if np.isfinite(n) else _code(scenario)

    def moments_undefined(self, scenario: str) -> bool:
        """Some estimator's moments do not exist here (flagged in the table or by the knobs)."""
        for est in self.tab.estimators:
            num = self.tab.get(scenario, est, "bias")
            if num is not None and not num.defined and num.n_used >= 2 and "exist" in num.note:
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


def short_answer(
    perf: pd.DataFrame,
    scenarios: pd.DataFrame,
    reference: str | None = None,
    term: str = "x1",
    *,
    estimators: Mapping[str, Mapping[str, Any]] | None = None,
    level: float = 0.95,
) -> list[Claim]:
    """Claims the results support, each citing its numbers ± MCSE, grouped by topic.

    ``perf`` is the tidy performance table, ``scenarios`` the scenario table (``scenarios.csv``),
    ``reference`` the estimator relative measures compare with (default: the first OLS
    estimator), ``term`` the coefficient discussed, ``estimators`` the config's estimator specs
    (method and parameters; used to find OLS with classical/HC3 SEs, penalised and robust
    estimators) and ``level`` the nominal coverage.
    """
    tab = _Table(perf, term)
    if not tab.rows:
        return []
    roles = estimator_roles(tab.estimators, estimators)
    if reference is None or reference not in roles:
        reference = next(
            (e for e in tab.estimators if roles[e]["method"] == "ols"), tab.estimators[0]
        )
    sc = scenarios.copy()
    sc["scenario"] = sc["scenario"].astype(str)
    sc = sc[sc["scenario"].isin(tab.scenarios)]
    grp = scenario_groups(sc)
    scen = {str(r["scenario"]): dict(r) for r in sc.to_dict("records")}
    nval = dict(zip(grp["scenario"], grp["n"], strict=True))
    groups: dict[str, list[str]] = {}
    for g, s in zip(grp["group"], grp["scenario"], strict=True):
        groups.setdefault(g, []).append(s)
    for g in groups:
        groups[g].sort(key=lambda s: nval[s] if np.isfinite(nval[s]) else math.inf)
    ctx = _Ctx(tab, scen, groups, nval, roles, reference, level)
    claims: list[Claim] = []
    for make in (
        _gauss_markov,
        _heavy_tails,
        _ridge,
        _bias,
        _coverage,
        _undefined,
        _full_rank,
    ):
        claims.extend(make(ctx))
    return claims


# --------------------------------------------------------------------------------------------
# topics
# --------------------------------------------------------------------------------------------


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


def _gauss_markov(ctx: _Ctx) -> Iterable[Claim]:
    def pred(row: Mapping[str, Any], s: str) -> bool:
        return (
            str(row.get("gauss_markov")) == "holds"
            and _holds(row, "normal_errors")
            and not ctx.moments_undefined(s)
        )

    ref = ctx.reference
    for g in _select(ctx, pred):
        s = _largest(ctx, g)
        if not _ref_ok(ctx, s):
            continue
        penalised = [e for e in ctx.tab.estimators if ctx.roles[e]["penalised"]]
        twins = [e for e in ctx.tab.estimators if e != ref and ctx.same_point(e, ref)]
        numbers: list[Number] = []
        parts: list[str] = []
        biased: list[str] = []
        verdicts: list[str] = []
        for e in _others(ctx, s):
            bias = ctx.tab.usable(s, e, "bias")
            rel = ctx.tab.usable(s, e, "rel_efficiency")
            if bias is None or rel is None:
                continue
            if abs(bias.z(0.0)) > _Z_LIMIT:
                biased.append(f"{_code(e)} (bias {bias.text()}, {_zword(bias.z(0))} from 0)")
                numbers.append(bias)
                continue
            numbers.append(rel)
            v = _compare(rel, 1.0)
            verdicts.append(v)
            parts.append(
                f"{_code(e)} {rel.text()}, "
                + _versus(rel, 1.0, f"more efficient than {_code(ref)}", "less efficient")
            )
        if not parts:
            continue
        empse = ctx.tab.usable(s, ref, "empse")
        rbias = ctx.tab.usable(s, ref, "bias")
        assert empse is not None
        numbers[:0] = [n for n in (rbias, empse) if n is not None]
        if "win" in verdicts:
            verdict, lead = "loss", "does <em>not</em> have the smallest empirical SE"
        elif "tie" in verdicts:
            verdict = "tie"
            lead = (
                "has the smallest empirical SE among the unbiased estimators, though not beyond "
                "Monte Carlo error against all of them"
            )
        else:
            verdict, lead = "win", "has the smallest empirical SE among the unbiased estimators"
        text = (
            f"With every Gauss–Markov assumption holding and normal errors, {ctx.label(g, s)}, "
            f"{_code(ref)} {lead}: EmpSE {empse.text()}"
            + (f", bias {rbias.text()}" if rbias is not None else "")
            + ". Relative efficiency (EmpSE ratio squared) vs "
            + f"{_code(ref)}: "
            + "; ".join(parts)
            + "."
        )
        if twins:
            text += f" {', '.join(map(_code, twins))}: same point estimates as {_code(ref)}."
        if penalised:
            text += (
                f" Not compared: {', '.join(map(_code, penalised))} (penalised, biased by "
                "construction: Gauss–Markov speaks of unbiased estimators)."
            )
        if biased:
            text += f" Not compared, biased here: {'; '.join(biased)}."
        yield Claim("gauss_markov", text, verdict, tuple(numbers), tuple(ctx.groups[g]))


def _heavy_tails(ctx: _Ctx) -> Iterable[Claim]:
    def pred(row: Mapping[str, Any], s: str) -> bool:
        return (
            str(row.get("gauss_markov")) == "holds"
            and not _holds(row, "normal_errors")
            and not ctx.moments_undefined(s)
        )

    ref = ctx.reference
    for g in _select(ctx, pred):
        s = _largest(ctx, g)
        if not _ref_ok(ctx, s):
            continue
        row = ctx.scen.get(s, {})
        dist = str(row.get("errors.distribution", row.get("normal_errors_why", "non-normal")))
        numbers: list[Number] = []
        parts: list[str] = []
        wins: list[tuple[float, str]] = []
        verdicts: list[str] = []
        caveat = False
        for e in _others(ctx, s):
            rel = ctx.tab.usable(s, e, "rel_efficiency")
            if rel is None:
                continue
            numbers.append(rel)
            v = _compare(rel, 1.0)
            verdicts.append(v)
            caveat = caveat or any(
                num is not None and "unreliable" in num.note
                for num in (rel, ctx.tab.get(s, e, "empse"), ctx.tab.get(s, ref, "empse"))
            )
            if v == "win":
                wins.append((rel.value, e))
                parts.append(
                    f"{_code(e)} beats {_code(ref)} by a factor {rel.value:.2f} in variance "
                    f"(relative efficiency {rel.text()}, {_zword(rel.z(1))} above 1)"
                )
            elif v == "loss":
                parts.append(
                    f"{_code(e)} is less efficient than {_code(ref)} "
                    f"(relative efficiency {rel.text()}, {_zword(rel.z(1))} below 1)"
                )
            else:
                parts.append(
                    f"{_code(e)} ties with {_code(ref)}: relative efficiency {rel.text()}, "
                    f"within Monte Carlo error ({_zword(rel.z(1))} from 1)"
                )
        if not parts:
            continue
        if wins:
            verdict = "win"
        elif "tie" in verdicts:
            verdict = "tie"
        else:
            verdict = "loss"
        text = (
            f"With {html.escape(dist)} errors and every Gauss–Markov assumption holding, "
            f"{ctx.label(g, s)}: " + "; ".join(parts) + "."
        )
        if wins:
            best = max(wins)[1]
            text += (
                f" {_code(ref)} is still the best <em>linear</em> unbiased estimator, but "
                f"{_code(best)} is not linear in y."
            )
        if caveat:
            text += (
                " The errors have no finite fourth moment, so these normal-theory MCSEs are "
                "unreliable; compare median bias and MAD."
            )
        # the same comparison at smaller n, as a range
        others_n = [m for m in ctx.groups[g] if m != s]
        if others_n and wins:
            best = max(wins)[1]
            vals = []
            for m in others_n:
                r = ctx.tab.usable(m, best, "rel_efficiency")
                if r is not None:
                    vals.append(f"{r.text()} at n = {int(ctx.nval[m])}")
                    numbers.append(r)
            if vals:
                text += f" For {_code(best)} at smaller n: {'; '.join(vals)}."
        yield Claim("heavy_tails", text, verdict, tuple(numbers), tuple(ctx.groups[g]))


def _ridge(ctx: _Ctx) -> Iterable[Claim]:
    ref = ctx.reference
    penalised = [e for e in ctx.tab.estimators if ctx.roles[e]["penalised"]]
    if not penalised:
        return

    def featured(row: Mapping[str, Any], s: str) -> bool:
        rho = _float(row, "design.correlation")
        tau = _float(row, "prior.tau")
        return (tau > 0 or (CORRELATED <= rho < 1.0)) and not ctx.moments_undefined(s)

    feature = _select(ctx, featured)
    rest_wins: list[str] = []
    rest_numbers: list[Number] = []
    rest_cells = 0
    offset = False
    for g, members in ctx.groups.items():
        if g in feature:
            continue
        for s in members:
            if ctx.moments_undefined(s) or not _ref_ok(ctx, s):
                continue
            row = ctx.scen.get(s, {})
            broken = not (_holds(row, "exogeneity") and _holds(row, "linearity"))
            for e in penalised:
                rel = ctx.tab.usable(s, e, "rel_mse")
                if rel is None:
                    continue
                rest_cells += 1
                if _compare(rel, 1.0) == "win":
                    n = ctx.nval[s]
                    where = f"{_code(g)} at n = {int(n)}" if np.isfinite(n) else _code(s)
                    rest_wins.append(
                        f"{_code(e)} in {where}{'†' if broken else ''} (rel. MSE {rel.text()}, "
                        f"{_zword(rel.z(1))})"
                    )
                    rest_numbers.append(rel)
                    offset = offset or broken

    for g in feature:
        row = ctx.scen.get(_largest(ctx, g), {})
        tau = _float(row, "prior.tau")
        rho = _float(row, "design.correlation")
        scale = _float(row, "errors.scale", 1.0)
        if tau > 0:
            why = f"slopes drawn from N(0, τ²), τ = {tau:g}"
        else:
            kind = "near-collinear" if rho >= NEAR_COLLINEAR else "correlated"
            why = f"{kind} predictors (correlation {rho:g})"
        numbers: list[Number] = []
        per_n: list[str] = []
        verdicts: list[str] = []
        for s in ctx.groups[g]:
            if not _ref_ok(ctx, s):
                continue
            cells = []
            for e in penalised:
                rel = ctx.tab.usable(s, e, "rel_mse")
                bias = ctx.tab.usable(s, e, "bias")
                if rel is None:
                    continue
                numbers.append(rel)
                v = _compare(rel, 1.0)
                verdicts.append(v)
                word = {
                    "win": "lower MSE than",
                    "loss": "higher MSE than",
                    "tie": "MSE within Monte Carlo error of",
                }[v]
                cell = f"{_code(e)} {word} {_code(ref)}, rel. MSE {rel.text()} ({_zword(rel.z(1))})"
                if bias is not None:
                    numbers.append(bias)
                    cell += f", paying bias {bias.text()}"
                cells.append(cell)
            if cells:
                n = ctx.nval[s]
                head = f"n = {int(n)}" if np.isfinite(n) else _code(s)
                per_n.append(f"{head}: " + "; ".join(cells))
        if not per_n:
            continue
        if "win" in verdicts:
            verdict = "win" if "loss" not in verdicts else "mixed"
        elif "tie" in verdicts:
            verdict = "tie"
        else:
            verdict = "loss"
        text = (
            f"{_code(g)}, {html.escape(why)}: "
            + ". ".join(per_n)
            + ". Relative MSE is MSE of the reference over MSE of the estimator (> 1: lower MSE)."
        )
        if tau > 0 and _holds(row, "normal_errors"):
            lam = scale**2 / tau**2
            bayes = [
                e
                for e in penalised
                if isinstance(ctx.roles[e].get("penalty"), int | float)
                and np.isfinite(ctx.roles[e]["penalty"])
                and math.isclose(float(ctx.roles[e]["penalty"]), lam, rel_tol=0.05)
            ]
            text += f" Here λ = σ²/τ² = {lam:.3g} is the Bayes (posterior-mean) rule"
            text += (
                f": that is {', '.join(map(_code, bayes))}." if bayes else "; no estimator has it."
            )
            text += (
                " The bias is averaged over the prior, so it is near 0 although each β is shrunk."
            )
        yield Claim("ridge", text, verdict, tuple(numbers), tuple(ctx.groups[g]))

    if rest_cells:
        if rest_wins:
            text = (
                f"Elsewhere the penalty lowers the MSE of {_code(ctx.tab.term)} beyond Monte "
                f"Carlo error in {len(rest_wins)} of {rest_cells} scenario × estimator cells: "
                + "; ".join(rest_wins)
                + "."
            )
            if offset:
                text += (
                    " † The unpenalised estimators are biased there: shrinkage towards 0 "
                    "offsets part of that bias, which is not a general property."
                )
            verdict = "win"
        else:
            text = (
                f"Elsewhere the penalty never lowers the MSE of {_code(ctx.tab.term)} beyond "
                f"Monte Carlo error ({rest_cells} scenario × estimator cells checked)."
            )
            verdict = "loss"
        yield Claim("ridge", text, verdict, tuple(rest_numbers), ())


def _bias(ctx: _Ctx) -> Iterable[Claim]:
    def pred(row: Mapping[str, Any], s: str) -> bool:
        return (
            not _holds(row, "exogeneity") or not _holds(row, "linearity")
        ) and not ctx.moments_undefined(s)

    for g in _select(ctx, pred):
        s = _largest(ctx, g)
        row = ctx.scen.get(s, {})
        why = "; ".join(
            str(row.get(f"{a}_why") or a)
            for a in ("exogeneity", "linearity")
            if not _holds(row, a) and str(row.get(f"{a}_why", "")) not in ("", "nan")
        )
        numbers: list[Number] = []
        cells: list[str] = []
        unbiased: list[str] = []
        shrunk: list[str] = []
        for e in ctx.tab.estimators:
            if e != ctx.reference and ctx.same_point(e, ctx.reference):
                continue
            b = ctx.tab.usable(s, e, "bias")
            if b is None:
                continue
            numbers.append(b)
            if ctx.roles[e]["penalised"]:
                shrunk.append(f"{_code(e)} {b.text()}")
            elif abs(b.z(0)) > _Z_LIMIT:
                cells.append(f"{_code(e)} {b.text()}")
            else:
                unbiased.append(f"{_code(e)} {b.text()} (within {_zword(b.z(0))} of 0)")
        if not cells and not unbiased:
            continue
        verdict = "biased" if not unbiased else "mixed"
        if not unbiased:
            text = (
                f"{ctx.label(g, s)} ({html.escape(why)}): every loss (L2, L1, Huber) gives "
                "a bias beyond Monte Carlo error; no loss function repairs it. Bias: "
                + "; ".join(cells)
                + "."
            )
        else:
            text = (
                f"{ctx.label(g, s)} ({html.escape(why)}): biased beyond Monte Carlo error: "
                + ("; ".join(cells) if cells else "none")
                + "; not detectably biased: "
                + "; ".join(unbiased)
                + "."
            )
        if shrunk:
            text += (
                " Penalised estimators are biased by construction (shrinkage adds to or offsets "
                "this bias): " + "; ".join(shrunk) + "."
            )
        small = ctx.groups[g][0]
        rb = ctx.tab.usable(small, ctx.reference, "bias")
        rl = ctx.tab.usable(s, ctx.reference, "bias")
        if small != s and rb is not None and rl is not None:
            numbers.append(rb)
            text += (
                f" It does not vanish with n: {_code(ctx.reference)} has bias {rb.text()} at "
                f"n = {int(ctx.nval[small])} and {rl.text()} at n = {int(ctx.nval[s])}."
            )
        yield Claim("bias", text, verdict, tuple(numbers), tuple(ctx.groups[g]))


def _coverage(ctx: _Ctx) -> Iterable[Claim]:
    ols = [e for e in ctx.tab.estimators if ctx.roles[e]["method"] == "ols"]
    classical = [e for e in ols if str(ctx.roles[e].get("se")) == "classical"]
    robust = [e for e in ols if str(ctx.roles[e].get("se")) != "classical"]
    if not ols:
        return

    def pred(row: Mapping[str, Any], s: str) -> bool:
        return (
            (
                _float(row, "heteroskedasticity.strength") > 0
                or not _holds(row, "no_autocorrelation")
            )
            and _holds(row, "exogeneity")
            and _holds(row, "linearity")
            and not ctx.moments_undefined(s)
        )

    lv = ctx.level
    for g in _select(ctx, pred):
        row = ctx.scen.get(_largest(ctx, g), {})
        why = "; ".join(
            str(row.get(f"{a}_why") or a)
            for a in ("homoskedasticity", "no_autocorrelation")
            if not _holds(row, a)
        )
        numbers: list[Number] = []
        per_n: list[str] = []
        status: dict[str, list[str]] = {e: [] for e in classical + robust}
        for s in ctx.groups[g]:
            cells = []
            for e in classical + robust:
                c = ctx.tab.usable(s, e, "coverage")
                if c is None:
                    continue
                numbers.append(c)
                v = _compare(c, lv)
                status[e].append(v)
                kind = html.escape(str(ctx.roles[e].get("se")))
                word = {
                    "loss": "under-covers",
                    "win": "over-covers",
                    "tie": "nominal within Monte Carlo error",
                }[v]
                cells.append(f"{_code(e)} ({kind} SE) {c.text()}, {word} ({_zword(c.z(lv))})")
            if cells:
                n = ctx.nval[s]
                head = f"n = {int(n)}" if np.isfinite(n) else _code(s)
                per_n.append(f"{head}: " + "; ".join(cells))
        if not per_n:
            continue
        cls_bad = any("loss" in status[e] for e in classical)
        rob_ok = bool(robust) and all(status[e] and status[e][-1] == "tie" for e in robust)
        if cls_bad and rob_ok:
            verdict = "win"
            lead = (
                f"classical OLS intervals under-cover; {', '.join(map(_code, robust))} "
                "restores nominal coverage at the largest n"
            )
        elif cls_bad:
            verdict = "undercovers"
            lead = "OLS intervals under-cover, and no SE type here repairs it fully"
        else:
            verdict = "tie"
            lead = "OLS coverage is within Monte Carlo error of nominal or above it"
        text = (
            f"{_code(g)} ({html.escape(why)}): {lead} (nominal {lv:g}). " + ". ".join(per_n) + "."
        )
        yield Claim("coverage", text, verdict, tuple(numbers), tuple(ctx.groups[g]))


def _undefined(ctx: _Ctx) -> Iterable[Claim]:
    for g in _select(ctx, lambda row, s: ctx.moments_undefined(s)):
        s = _largest(ctx, g)
        row = ctx.scen.get(s, {})
        dist = str(row.get("errors.distribution", "heavy-tailed"))
        none = [
            e
            for e in ctx.tab.estimators
            if (n := ctx.tab.get(s, e, "bias")) is not None and not n.defined and n.n_used >= 2
        ]
        numbers: list[Number] = []
        cells: list[str] = []
        mads: list[tuple[Number, str]] = []
        for e in ctx.tab.estimators:
            if e != ctx.reference and ctx.same_point(e, ctx.reference):
                continue
            mb = ctx.tab.usable(s, e, "median_bias")
            mad = ctx.tab.usable(s, e, "mad")
            if mb is None or mad is None:
                continue
            numbers.extend([mb, mad])
            mads.append((mad, e))
            cells.append(f"{_code(e)} median bias {mb.text()}, MAD {mad.text()}")
        if not cells:
            continue
        text = (
            f"With {html.escape(dist)} errors, {ctx.label(g, s)}, the mean and variance of "
            + (", ".join(map(_code, none)) or "the linear estimators")
            + " do not exist (their bias, EmpSE and MSE are flagged undefined, whatever the "
            "sample values). Robust summaries instead: " + "; ".join(cells) + "."
        )
        verdict = "undefined"
        mads.sort(key=lambda t: t[0].value)
        if len(mads) >= 2:
            best, runner = mads[0], mads[1]
            ref_mad = next((m for m, e in mads if e == ctx.reference), None)
            diff = runner[0].value - best[0].value
            se = math.hypot(best[0].mcse, runner[0].mcse)
            z = diff / se if se > 0 else math.inf
            if z > _Z_LIMIT:
                text += (
                    f" {_code(best[1])} has the smallest MAD, "
                    f"{diff:.3g} below the next ({_code(runner[1])}), {z:.1f} times their "
                    "combined MCSE"
                )
            else:
                text += (
                    f" {_code(best[1])} and {_code(runner[1])} have the smallest MAD, a tie "
                    f"within Monte Carlo error ({z:.1f} times their combined MCSE)"
                )
            if ref_mad is not None and best[1] != ctx.reference:
                text += (
                    f"; {_code(ctx.reference)}'s MAD is {ref_mad.value / best[0].value:.3g} "
                    "times as large"
                )
            text += "."
        yield Claim("undefined", text, verdict, tuple(numbers), tuple(ctx.groups[g]))


def _full_rank(ctx: _Ctx) -> Iterable[Claim]:
    for g in _select(ctx, lambda row, s: not _holds(row, "full_rank")):
        s = _largest(ctx, g)
        numbers: list[Number] = []
        failed: list[str] = []
        fitted: list[str] = []
        msg = ""
        for e in ctx.tab.estimators:
            fr = ctx.tab.get(s, e, "failure_rate")
            b = ctx.tab.usable(s, e, "bias")
            if fr is not None and np.isfinite(fr.value) and fr.value > 0:
                numbers.append(fr)
                failed.append(f"{_code(e)} {fr.value:.0%}")
                if not msg and "most common:" in fr.note:
                    msg = fr.note.split("most common:", 1)[1].strip()
            elif b is not None:
                numbers.append(b)
                fitted.append(f"{_code(e)} bias {b.text()}")
        if not numbers:
            continue
        text = f"{ctx.label(g, s)}, predictors perfectly correlated: "
        if failed:
            text += "fits failed for " + ", ".join(failed)
            text += f" (most common message: {html.escape(msg)})" if msg else ""
            text += ", excluded from their measures"
        if fitted:
            text += ("; " if failed else "") + "estimates exist only for " + "; ".join(fitted)
            text += ": the penalty picks one of infinitely many solutions, so the slope is biased"
        text += "."
        yield Claim("full_rank", text, "undefined", tuple(numbers), tuple(ctx.groups[g]))
