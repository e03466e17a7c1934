"""Section 3, the design (ADEMP): scenarios with the assumptions they meet or break, estimands,
methods, performance measures and the MCSE the replicates allow."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from lossstudy.answer import ASSUMPTIONS
from lossstudy.studyfile import parameter_columns

from .values import norm as _norm
from .values import show as _show

__all__ = ["estimands", "methods", "replicate_rows", "scenario_rows"]


def scenario_rows(
    scen: pd.DataFrame, defaults: Mapping[str, Any], meta: pd.DataFrame
) -> list[dict[str, Any]]:
    """One row per scenario: its group, the knobs it changes from ``defaults`` (flattened)
    and the state of each assumption with why."""
    skip = {"scenario", "base", "replicates", "n", "gauss_markov", *ASSUMPTIONS}
    knob_cols = [c for c in scen.columns if c not in skip and not c.endswith("_why")]
    group_of = dict(zip(meta["scenario"], meta["group"], strict=True))
    rows = []
    for rec in scen.to_dict("records"):
        sid = str(rec["scenario"])
        changed = []
        for col in knob_cols:
            v = _norm(rec.get(col))
            if v is None:
                continue
            if col in defaults and _norm(defaults[col]) == v:
                continue
            changed.append(f"{col} = {_show(v)}")
        flags = []
        for a in ASSUMPTIONS:
            state = str(rec.get(a, ""))
            why = rec.get(f"{a}_why")
            why = "" if why is None or (isinstance(why, float) and math.isnan(why)) else str(why)
            if a == "normal_errors" and state == "breaks" and why == "normal":
                why = "normal, but not iid N(0, σ²) given X"
            flags.append({"name": a, "state": state, "why": why})
        rows.append(
            {
                "id": sid,
                "group": group_of.get(sid, sid),
                "base": str(rec.get("base", sid)),
                "n": _show(rec.get("n")),
                "replicates": _show(rec.get("replicates")),
                "changed": changed,
                "flags": flags,
                "gauss_markov": str(rec.get("gauss_markov", "")),
                "breaks": [f for f in flags if f["state"] == "breaks"],
            }
        )
    return rows


def methods(table: pd.DataFrame) -> list[dict[str, Any]]:
    """The methods table from ``estimators.csv``: each estimator's loss, penalty, parameters
    and intervals in the words of the estimator registry."""
    params = parameter_columns(table)
    rows = []
    for r in table.to_dict("records"):
        given = [f"{k} = {_show(r[k])}" for k in params if _norm(r[k]) not in (None, "")]
        rows.append(
            {
                "name": r["estimator"],
                "method": r["method"] or r["loss"],
                "loss": r["loss_text"],
                "penalty": r["penalty_text"],
                "params": ", ".join(given) or "none",
                "intervals": r["intervals_text"],
                "reference": bool(r["reference"]),
            }
        )
    return rows


def estimands(defaults: Mapping[str, Any], term: str) -> list[dict[str, Any]]:
    """The true coefficients (the knob defaults'), the focus ``term`` marked."""
    coefs = _norm(defaults.get("coefficients")) or []
    names = ["intercept"] + [f"x{j}" for j in range(1, len(coefs))]
    return [
        {"term": t, "value": _show(v), "focus": t == term}
        for t, v in zip(names, coefs, strict=False)
    ]


def replicate_rows(
    scen: pd.DataFrame, replicates: int | None, level: float
) -> list[dict[str, Any]]:
    """The MCSE of a coverage at each replicate count of the study (and the worst case)."""
    reps = sorted({int(float(r)) for r in scen.get("replicates", pd.Series(dtype=float)).dropna()})
    if not reps and replicates is not None:
        reps = [int(replicates)]
    return [
        {
            "R": r,
            "coverage": f"{math.sqrt(level * (1 - level) / r):.4f}",
            "coverage_pct": f"{100 * math.sqrt(level * (1 - level) / r):.2f}",
            "worst": f"{math.sqrt(0.25 / r):.4f}",
        }
        for r in reps
        if r > 0
    ]
