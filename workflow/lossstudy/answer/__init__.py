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

Modules: ``claims`` (:class:`Claim`, :class:`Number`, :func:`format_pm` and the 2-MCSE rule),
``roles`` (scenario groups and estimator roles), ``_context`` (the table lookup and the state
the topics share), and one module per family of topics: ``efficiency`` (Gauss–Markov, heavy
tails), ``ridge`` (the L2 penalty) and ``violations`` (bias, coverage, undefined moments, rank
deficiency). This one holds :func:`short_answer`, which runs the topics in the order of
:data:`TOPICS`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ._context import _Ctx, _Table
from .claims import _THRESHOLDS, ALPHA, FAMILIES, TOPICS, Claim, Number, bonferroni, format_pm
from .claims import Z_TIE as Z_TIE
from .efficiency import _gauss_markov, _heavy_tails
from .ridge import CORRELATED as CORRELATED
from .ridge import NEAR_COLLINEAR as NEAR_COLLINEAR
from .ridge import _ridge
from .roles import ASSUMPTIONS, estimator_roles, scenario_groups
from .violations import _bias, _coverage, _full_rank, _undefined

__all__ = [
    "ASSUMPTIONS",
    "TOPICS",
    "Claim",
    "Number",
    "estimator_roles",
    "format_pm",
    "multiplicity",
    "scenario_groups",
    "short_answer",
]


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
    (method and parameters; used to find OLS with classical/HC/HAC SEs, penalised and robust
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

    def generate() -> list[Claim]:
        out: list[Claim] = []
        for make in (
            _gauss_markov,
            _heavy_tails,
            _ridge,
            _bias,
            _coverage,
            _undefined,
            _full_rank,
        ):
            out.extend(make(ctx))
        return out

    # Multiplicity: a first pass at Z_TIE finds the comparisons the claims judge; each family's
    # threshold is then Bonferroni over its count, and the claims are written again with it
    # (the set of comparisons can change with the threshold, so until it is stable).
    claims = generate()
    for _ in range(4):
        thresholds = {f: bonferroni(m) for f, m in family_sizes(claims).items()}
        token = _THRESHOLDS.set(thresholds)
        try:
            claims = generate()
        finally:
            _THRESHOLDS.reset(token)
        if {f: bonferroni(m) for f, m in family_sizes(claims).items()} == thresholds:
            break
    return claims


def family_sizes(claims: list[Claim]) -> dict[str, int]:
    """Distinct judged comparisons (scenario, estimator, term, measure) per verdict family."""
    seen: dict[str, set[tuple[str, str, str, str]]] = {}
    for c in claims:
        for n in c.numbers:
            fam = FAMILIES.get(n.measure)
            if fam:
                seen.setdefault(fam, set()).add((n.scenario, n.estimator, n.term, n.measure))
    return {f: len(v) for f, v in seen.items()}


def multiplicity(claims: list[Claim], alpha: float = ALPHA) -> list[dict[str, Any]]:
    """Per verdict family: comparisons m, the Bonferroni threshold, and the bound on the
    expected number of false verdicts (E[V] ≤ m₀ α/m ≤ α)."""
    return [
        {"family": f, "m": m, "z": bonferroni(m, alpha), "expected_false": alpha * min(m, 1)}
        for f, m in family_sizes(claims).items()
    ]
