"""Where the L1 penalty overtakes the L2 penalty: along a sweep of the prior on the slopes,
the coefficient risk of each fit that selects (the lasso) against ridge at the cell's own
λ = σ²/τ² (τ² the prior's slope variance).

Why that ridge: its λ is the best linear rule at every cell (a linear fit's risk needs the
prior's second moments only) and the Bayes rule where the prior is normal, so the comparison
is with the L2 penalty at its best, not with a mis-tuned one. Under a normal prior the lasso
cannot win (ridge is then the posterior mean); under a sparse prior it can, and the crossing
is where it starts to. The statistic per cell is r = risk(ridge)/risk(lasso) − 1 (> 0: the
lasso is better), its MCSE by the delta method from the two risks' MCSEs combined as
independent (the fits share datasets, so a paired MCSE would be smaller: conservative). The
crossing, its bracket and interval are :func:`lossstudy.sweeps.crossing.find_crossing`'s, as
for every row of ``crossovers.csv``; no theory (no closed form for the lasso's risk).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from lossstudy import methods

from .crossing import find_crossing
from .series import sweep_series
from .theory import bayes_penalty

#: a ridge member stands for λ = σ²/τ² when its λ is this close (relative)
BAYES_RTOL = 1e-6
VERSUS = "ridge at σ²/τ²"


def _bayes_ridge(knobs: Mapping[str, Any], specs: Mapping[str, Mapping[str, Any]]) -> str | None:
    lam = bayes_penalty(knobs)
    if lam is None:
        return None
    return next(
        (
            name
            for name, spec in specs.items()
            if spec.get("method") == "ridge"
            and math.isclose(float(spec.get("penalty", 1.0)), lam, rel_tol=BAYES_RTOL)
        ),
        None,
    )


def prior_flips(
    perf: pd.DataFrame,
    scen: pd.DataFrame,
    knobs: Mapping[str, Mapping[str, Any]],
    specs: Mapping[str, Mapping[str, Any]],
    seed: int,
) -> list[dict[str, Any]]:
    """Rows of ``crossovers.csv`` (measure ``risk``) for every sweep of a ``prior.*`` knob."""
    model = perf[(perf["term"].astype(str) == "model") & (perf["measure"] == "risk")]
    risk = {
        (str(s), str(e)): (float(v), float(m))
        for s, e, v, m in zip(
            model["scenario"], model["estimator"], model["value"], model["mcse"], strict=True
        )
    }
    selecting = [e for e, spec in specs.items() if methods.fit_for(spec).selects]
    rows: list[dict[str, Any]] = []
    for s in sweep_series(scen):
        if not s.knob.startswith("prior.") or not all(sc in knobs for sc in s.scenarios):
            continue
        ridges = [_bayes_ridge(knobs[sc], specs) for sc in s.scenarios]
        missing = [v for v, r in zip(s.values, ridges, strict=True) if r is None]
        for est in selecting:
            r, m = [], []
            for sc, ridge in zip(s.scenarios, ridges, strict=True):
                a = risk.get((sc, ridge), (math.nan, math.nan)) if ridge else (math.nan, math.nan)
                b = risk.get((sc, est), (math.nan, math.nan))
                ratio = a[0] / b[0]
                r.append(ratio - 1.0)
                m.append(ratio * math.hypot(a[1] / a[0], b[1] / b[0]))
            if not np.isfinite(r).any():
                continue
            key = f"{s.base}/{s.knob}/{s.fixed_text}/{est}/risk"
            rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
            cr = find_crossing(np.array(s.values), np.array(r), np.array(m), rng=rng)
            note = [
                cr.note,
                f"versus the ridge member at each cell's λ = σ²/τ² "
                f"({', '.join(str(x) for x in ridges)}): the best linear rule, the Bayes rule "
                "under a normal prior; MCSE unpaired (conservative); no theory for the lasso",
            ]
            if missing:
                note.append(f"no such ridge member at {s.knob} = {', '.join(map(str, missing))}")
            rows.append(
                {
                    "scenario": s.base,
                    "knob": s.knob,
                    "fixed": s.fixed_text,
                    "estimator": est,
                    "versus": VERSUS,
                    "measure": "risk",
                    "bracket_low": cr.bracket_low,
                    "bracket_high": cr.bracket_high,
                    "crossing": cr.crossing,
                    "ci_low": cr.ci_low,
                    "ci_high": cr.ci_high,
                    "theory": math.nan,
                    "theory_kind": "",
                    "agreement": "",
                    "note": "; ".join(x for x in note if x),
                    "better": cr.better,
                    "values": " ".join(f"{v:g}" for v in s.values),
                    "cells": " ".join(s.scenarios),
                    "grid_effect": cr.grid_effect,
                    "needs_refinement": cr.needs_refinement,
                }
            )
    return rows
