"""Scenario groups and estimator roles: what the short answer knows about a study's design.

Why: no scenario or estimator name is hard-coded, so the claims need another way to tell which
scenarios are one design at several ``n`` (:func:`scenario_groups`, from the knob columns of
``scenarios.csv``) and which estimators are OLS with classical or robust (HC, HAC) SEs,
penalised, robust or share their point estimates (:func:`estimator_roles`, from the
``estimators`` config, falling back on name prefixes). :mod:`lossstudy.report` and
:mod:`lossstudy.figures` group and label scenarios the same way.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from lossstudy import methods
from lossstudy.assumptions import GAUSS_MARKOV

#: Assumption columns of ``scenarios.csv`` (Gauss–Markov ones first, then normality).
ASSUMPTIONS: tuple[str, ...] = (*GAUSS_MARKOV, "normal_errors")

_STRUCTURAL = {"scenario", "base", "replicates", "n", "gauss_markov", "sweep", "anchor"}


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
    for method in methods.shorthands():
        if low.startswith(method):
            spec: dict[str, Any] = {"method": method}
            if method == "ols":
                hc = re.search(r"hac|hc[0-3]", low)
                spec["se"] = hc.group(0) if hc else "hc3" if "hc" in low else "classical"
            if method == "ridge":
                spec["penalty"] = math.nan  # unknown: treated as penalised
            return spec
    return {"method": "unknown"}


def estimator_roles(
    names: Sequence[str], estimators: Mapping[str, Mapping[str, Any]] | None
) -> dict[str, dict[str, Any]]:
    """Per estimator: its spec and derived roles, from the registry's facts
    (:mod:`lossstudy.methods`).

    Keys: ``method``, ``se`` (ols only), ``penalised`` (a penalty with λ ≠ 0), ``robust`` (lad,
    huber, ...), ``linear`` (linear in y), ``symmetric_unbiased`` (unbiased slopes under
    symmetric errors), ``intervals`` (has confidence intervals), ``point`` (a key shared by
    estimators with identical point estimates, e.g. OLS with classical and HC3 SEs).
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
        try:
            fit: methods.Fit | None = methods.fit_for(spec)
        except methods.SpecError:
            fit = None  # not an estimator the registry knows: no role
        # parameters that set the interval only (ridge's posterior sigma) share the estimate
        interval = {k for k, p in fit.params.items() if p.interval} if fit is not None else set()
        point = (
            method,
            tuple(sorted((k, str(v)) for k, v in spec.items() if k != "se" and k not in interval)),
        )
        out[name] = {
            **spec,
            "method": method,
            "penalised": fit is not None and methods.penalised(spec),
            "robust": fit is not None and fit.robust,
            "linear": fit is not None and fit.linear_in_y,
            "symmetric_unbiased": fit is not None and fit.symmetric_unbiased,
            # a fit's first se is "none" exactly when it has no default interval (ridge's
            # se: posterior gives one)
            "intervals": fit is not None and str(spec.get("se", fit.se[0])) != "none",
            "point": point,
        }
    return out
