"""The short answer to "why L2, and when is it the wrong choice?", generated from the results.

:func:`short_answer` reads the tidy performance table and the scenario table and returns a list
of :class:`Claim` objects: one sentence each, the numbers it rests on (each with its Monte Carlo
standard error, MCSE) and a verdict. The rules:

* A comparison is a *win* or a *loss* only when the difference from the null value (1 for a
  ratio, 0 for a bias, the nominal level for coverage) exceeds its family's Bonferroni threshold
  (at least ``2 x MCSE``); otherwise it is a *tie* ("within Monte Carlo error"), and the
  sentence states the multiple of the MCSE. Where ``theory.csv`` (or the symmetry of the
  errors) fixes the true value, the verdict is theory's unless the estimate is beyond the
  theory bar from it (:func:`lossstudy.answer.claims.judge`).
* :func:`answer_table` turns the claims into ``claims.csv``, one row per comparison
  (:mod:`lossstudy.answer.table`); the report renders from it.
* A number flagged ``defined = False`` (e.g. moments of OLS under Cauchy errors) is never used
  for a win or a loss; it is reported as undefined with its note.
* Scenarios are recognised by the assumption flags and knobs in ``scenarios.csv``
  (``gauss_markov``, ``normal_errors``, ``design.correlation``, ``prior.tau``, ...), estimators by
  their method and parameters in the ``estimators`` config (falling back on name prefixes only if
  no config is given). No scenario or estimator name is hard-coded.
* Scenarios that differ only in ``n`` form one *group*; efficiency comparisons cite the largest
  ``n`` of a group, the others (ridge, coverage, bias) cite every ``n``.

Every ``Claim.text`` is HTML-safe: names and notes are escaped, names are wrapped in ``<code>``.

Modules: ``claims`` (:class:`Claim`, :class:`Number` and the rule every verdict applies),
``roles`` (scenario groups and estimator roles), ``_context`` (the table lookup and the state
the topics share), and one module per family of topics: ``efficiency`` (Gauss–Markov, heavy
tails), ``ridge`` (the L2 penalty) and ``violations`` (bias, coverage, undefined moments, rank
deficiency); ``scoreboard`` (the lowest MSE per family, whose rows are claims too) and ``step``
(the rule ``claims``: ``claims.csv`` from the workflow's files). This one holds
:func:`short_answer`, which runs the topics in the order of :data:`TOPICS`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from lossstudy.mcse import ALPHA, bonferroni, format_pm
from lossstudy.mcse import Z_TIE as Z_TIE

from ._context import _Ctx, _Table
from .claims import TOPICS, Claim, Number, Thresholds
from .efficiency import _gauss_markov, _heavy_tails
from .ridge import CORRELATED as CORRELATED
from .ridge import NEAR_COLLINEAR as NEAR_COLLINEAR
from .ridge import _ridge
from .roles import ASSUMPTIONS, estimator_roles, scenario_groups
from .table import claims_frame, family_sizes_of, multiplicity_of
from .violations import _bias, _coverage, _full_rank, _undefined

__all__ = [
    "ASSUMPTIONS",
    "TOPICS",
    "Claim",
    "Number",
    "answer_table",
    "claims_frame",
    "estimator_roles",
    "exact_theory",
    "format_pm",
    "multiplicity",
    "scenario_groups",
    "short_answer",
    "thresholds",
]


def short_answer(
    perf: pd.DataFrame,
    scenarios: pd.DataFrame,
    reference: str | None = None,
    term: str = "x1",
    *,
    estimators: Mapping[str, Mapping[str, Any]] | None = None,
    level: float = 0.95,
    theory: pd.DataFrame | None = None,
) -> list[Claim]:
    """Claims the results support, each citing its numbers ± MCSE, grouped by topic.

    ``perf`` is the tidy performance table, ``scenarios`` the scenario table (``scenarios.csv``),
    ``reference`` the estimator relative measures compare with (default: the first OLS
    estimator), ``term`` the coefficient discussed, ``estimators`` the config's estimator specs
    (method and parameters; used to find OLS with classical/HC/HAC SEs, penalised and robust
    estimators), ``level`` the nominal coverage and ``theory`` the theory table
    (``theory.csv``): where it fixes a value exactly, the verdict uses it (:func:`judge`).
    """
    return _answer(perf, scenarios, reference, term, estimators, level, theory)[0]


def answer_table(
    perf: pd.DataFrame,
    scenarios: pd.DataFrame,
    reference: str | None = None,
    term: str = "x1",
    *,
    estimators: Mapping[str, Mapping[str, Any]] | None = None,
    level: float = 0.95,
    theory: pd.DataFrame | None = None,
    extra: Sequence[Sequence[dict[str, Any]]] = (),
    extra_counts: Mapping[str, int] | None = None,
) -> pd.DataFrame:
    """``claims.csv``: the rows of :func:`short_answer`'s claims, judged with the thresholds
    the claims were written with (:mod:`lossstudy.answer.table`), then the ``extra``
    sentences' rows (the front page's scoreboard), whose comparisons per family
    ``extra_counts`` adds to the claims' own (see :func:`thresholds`)."""
    claims, thresholds, ref = _answer(
        perf, scenarios, reference, term, estimators, level, theory, extra_counts
    )
    return claims_frame(claims, ref, level, thresholds, extra)


def thresholds(
    perf: pd.DataFrame,
    scenarios: pd.DataFrame,
    reference: str | None = None,
    term: str = "x1",
    *,
    estimators: Mapping[str, Mapping[str, Any]] | None = None,
    level: float = 0.95,
    theory: pd.DataFrame | None = None,
    extra_counts: Mapping[str, int] | None = None,
) -> dict[str, float]:
    """family -> the Bonferroni z in force: over the claims' comparisons of the family plus
    ``extra_counts[family]`` judged elsewhere (the scoreboard's, in family ``relative``), so
    that every comparison of two estimators is judged at one threshold."""
    return _answer(perf, scenarios, reference, term, estimators, level, theory, extra_counts)[1]


def _answer(
    perf: pd.DataFrame,
    scenarios: pd.DataFrame,
    reference: str | None,
    term: str,
    estimators: Mapping[str, Mapping[str, Any]] | None,
    level: float,
    theory: pd.DataFrame | None,
    extra_counts: Mapping[str, int] | None = None,
) -> tuple[list[Claim], dict[str, float], str]:
    """The claims, the family thresholds they were written with, and the reference.

    Multiplicity: the claims written at the 2-MCSE rule (no thresholds) name the comparisons
    the answer judges; each family's threshold is Bonferroni over its count, computed once,
    and the claims are then written with those thresholds.
    """
    tab = _Table(perf, term)
    if not tab.rows:
        return [], {}, reference or ""
    roles = estimator_roles(tab.estimators, estimators)
    if reference is None or reference not in roles:
        reference = next(
            (e for e in tab.estimators if roles[e]["method"] == "ols"), tab.estimators[0]
        )
    if theory is not None:
        tab = _Table(perf, term, exact_theory(theory, term, roles, reference))
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
    claims = _generate(ctx)
    thresholds: dict[str, float] = {}
    for _ in range(_PASSES):  # which comparisons a claim judges may depend on the thresholds
        sizes = family_sizes(claims, reference, level)
        for fam, m in (extra_counts or {}).items():
            sizes[fam] = sizes.get(fam, 0) + int(m)
        new = {f: bonferroni(m) for f, m in sizes.items()}
        if new == thresholds:
            break
        thresholds = new
        claims = _generate(replace(ctx, thresholds=thresholds))
    return claims, thresholds, reference


#: passes of "count the comparisons, judge at their Bonferroni threshold": the claims' count
#: can change once the thresholds exclude or admit a biased estimator; it settles in two
_PASSES = 4


def _generate(ctx: _Ctx) -> list[Claim]:
    """Every topic's claims, in the order of :data:`TOPICS`, judged with ``ctx.thresholds``."""
    out: list[Claim] = []
    for make in (_gauss_markov, _heavy_tails, _ridge, _bias, _coverage, _undefined, _full_rank):
        out.extend(make(ctx))
    return out


def family_sizes(claims: list[Claim], reference: str = "", level: float = 0.95) -> dict[str, int]:
    """Distinct judged comparisons (scenario, estimator, versus, term, measure) per family
    (undefined comparisons judge nothing, so the count does not depend on any threshold)."""
    return family_sizes_of(claims_frame(claims, reference, level, {}))


def family_thresholds(
    claims: list[Claim], reference: str = "", level: float = 0.95, alpha: float = ALPHA
) -> dict[str, float]:
    """family -> the Bonferroni z over the comparisons ``claims`` judge."""
    return {f: bonferroni(m, alpha) for f, m in family_sizes(claims, reference, level).items()}


def multiplicity(
    claims: list[Claim],
    reference: str = "",
    level: float = 0.95,
    alpha: float = ALPHA,
    thresholds: Thresholds | None = None,
) -> list[dict[str, Any]]:
    """Per verdict family: comparisons m, the Bonferroni threshold, the verdicts called, and the
    bound on the expected number of false verdicts (E[V] ≤ m₀ α/m ≤ α); the verdicts are
    judged with ``thresholds`` (default: Bonferroni over the claims' own counts)."""
    if thresholds is None:
        thresholds = family_thresholds(claims, reference, level, alpha)
    return multiplicity_of(claims_frame(claims, reference, level, thresholds), alpha)


def exact_theory(
    theory: pd.DataFrame | None,
    term: str,
    roles: Mapping[str, Mapping[str, Any]],
    reference: str,
) -> dict[tuple[str, str, str], tuple[float, str]]:
    """(scenario, estimator, measure) -> (exact value, why) from ``theory.csv``'s exact rows.

    Linear estimators on a fixed design have exact finite-sample bias and variance, so their
    bias, relative efficiency (variance ratio) and relative MSE against a linear reference are
    known; so is the coverage of a t interval whose SE is right under normal errors. Estimators
    with the same point estimates (``ols_hc3`` and ``ols``) share the point moments.
    """
    if theory is None or theory.empty:
        return {}
    tab = theory[(theory["kind"] == "exact") & (theory["term"].astype(str) == term)]
    moments: dict[tuple[str, str], dict[str, float]] = {}
    out: dict[tuple[str, str, str], tuple[float, str]] = {}
    for sc, est, q, val in zip(
        tab["scenario"].astype(str),
        tab["estimator"].astype(str),
        tab["quantity"].astype(str),
        pd.to_numeric(tab["theoretical"], errors="coerce"),
        strict=True,
    ):
        if not np.isfinite(val):
            continue
        if q == "coverage":
            out[(sc, est, "coverage")] = (float(val), "")
        elif q in ("bias", "variance"):
            moments.setdefault((sc, est), {})[q] = float(val)
    point = {e: r.get("point") for e, r in roles.items()}
    by_scenario: dict[str, dict[str, dict[str, float]]] = {}
    for (sc, est), mom in moments.items():
        if "bias" in mom and "variance" in mom:
            for e in roles:
                if e == est or (est in point and point[e] == point[est]):
                    by_scenario.setdefault(sc, {})[e] = mom
    linear = ""  # the exact moments of a linear estimator (the report's footnote says so)
    for sc, ests in by_scenario.items():
        ref = ests.get(reference)
        for e, mom in ests.items():
            out[(sc, e, "bias")] = (mom["bias"], linear)
            if ref is None or mom["variance"] <= 0:
                continue
            mse = mom["bias"] ** 2 + mom["variance"]
            out[(sc, e, "rel_efficiency")] = (ref["variance"] / mom["variance"], linear)
            out[(sc, e, "rel_mse")] = ((ref["bias"] ** 2 + ref["variance"]) / mse, linear)
    return out
