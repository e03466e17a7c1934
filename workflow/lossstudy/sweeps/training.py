"""Crossovers of the training part: where each trained loss starts to diverge as the step size
grows, and after how many steps it reaches its exact estimator's MSE.

Why a table of its own (``results/training.csv``, written by the ``sweeps`` step beside
``crossovers.csv``): these rows cross a fixed level along an estimator setting, not a comparison
with the reference along a scenario knob, so they fit neither ``crossovers.csv`` (whose rows
the sweep figures and section read as scenario series) nor ``optima.csv``. A pure function of
``performance.csv`` and ``estimators.csv``: it reads the ``divergence`` (term ``model``) and
``mse`` (focus term) rows, one row out per trained family × cell (docs/crossovers.md,
"Training").

divergence_onset
    Per family swept over ``lr_relative`` (at its largest ``steps``): the step size c* where the
    share of diverged replicates first exceeds 1/2, linearly interpolated in log c between that
    swept value and the one before; the interval is where the lines through the pointwise 95%
    bands (share ± 1.96 MCSE) cross 1/2, cut at the pair (a share of exactly 0 or 1 has MCSE 0:
    the interval then carries only the other end's error). When the share jumps from exactly 0 to
    exactly 1 (MCSE 0 at both) the bracket [c_lo, c_hi] is the result and ``crossing`` is NaN.
    Never above 1/2: ``bracket_low`` = the largest c swept, ``crossing`` NaN ("none up to
    c_max"). Theory: c* = 1 for GD on the squared loss (exact), none for bounded-gradient
    losses (Huber, absolute, pseudo-Huber, log-cosh): their iterates stay finite at any step.
reaches_exact
    Per family with checkpoints (two or more ``steps`` at one step size): the first checkpoint
    whose MSE of the focus term is within 2 MCSE of the exact counterpart's, the MCSEs combined
    as independent (the fits share datasets, so a paired MCSE would be smaller: the band is
    wide). The counterpart is the exact minimiser of the same objective where the study has one
    (:func:`lossstudy.trained.exact_partners`), else the exact fit of the same loss (another
    δ/scale: said in the note), else none.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from lossstudy.trained import MODEL_TERM, exact_partners, trained_members

__all__ = [
    "BOUNDED_GRADIENT",
    "TRAINING_COLUMNS",
    "divergence_onset",
    "reaches_exact",
    "training_crossings",
]

TRAINING_COLUMNS = (
    "kind",
    "scenario",
    "family",
    "loss",
    "solver",
    "knob",
    "measure",
    "term",
    "versus",
    "values",
    "bracket_low",
    "bracket_high",
    "crossing",
    "ci_low",
    "ci_high",
    "theory",
    "theory_note",
    "note",
)
#: losses whose gradient is bounded: GD on them cannot run off to infinity at any step size
BOUNDED_GRADIENT = ("huber", "absolute", "pseudo_huber", "log_cosh")
#: the divergence share whose crossing is the onset
HALF = 0.5
Z95 = 1.959963984540054
_ENDS = ("bracket_low", "bracket_high", "crossing", "ci_low", "ci_high")
#: the result where there is nothing to compare with
_NOTHING: dict[str, Any] = {**dict.fromkeys(_ENDS, math.nan), "note": ""}
#: how many MCSEs apart still count as "reached"
WITHIN = 2.0


def _log_root(x0: float, y0: float, x1: float, y1: float, level: float) -> float:
    """Where the line through (log x0, y0), (log x1, y1) reaches ``level``, cut at [x0, x1]."""
    if y1 == y0:
        return x0 if y0 >= level else x1
    t = min(max((level - y0) / (y1 - y0), 0.0), 1.0)
    return float(math.exp(math.log(x0) + t * (math.log(x1) - math.log(x0))))


def divergence_onset(c: np.ndarray, share: np.ndarray, mcse: np.ndarray) -> dict[str, Any]:
    """The onset along increasing step sizes ``c`` (see the module doc): bracket, crossing,
    interval and a note."""
    order = np.argsort(c, kind="stable")
    c, d, m = (np.asarray(a, float)[order] for a in (c, share, mcse))
    ok = np.isfinite(c) & np.isfinite(d) & (c > 0)
    c, d, m = c[ok], d[ok], np.where(np.isfinite(m[ok]), m[ok], 0.0)
    nan = math.nan
    out = dict.fromkeys(_ENDS, nan)
    if len(c) == 0:
        return {**out, "note": "no usable divergence share"}
    above = np.flatnonzero(d > HALF)
    if len(above) == 0:
        return {
            **out,
            "bracket_low": float(c[-1]),
            "note": f"none up to c_max = {c[-1]:g} (largest share {d.max():.3g})",
        }
    k = int(above[0])
    if k == 0:
        return {
            **out,
            "bracket_high": float(c[0]),
            "note": f"above 1/2 already at the smallest c swept ({c[0]:g})",
        }
    lo, hi = float(c[k - 1]), float(c[k])
    out.update(bracket_low=lo, bracket_high=hi)
    notes = []
    if m[k - 1] == 0 and m[k] == 0:
        out.update(ci_low=lo, ci_high=hi)
        notes.append(
            f"jumps from {d[k - 1]:g} to {d[k]:g} between neighbours: on this grid the bracket "
            "is the result"
        )
    else:
        out["crossing"] = _log_root(lo, d[k - 1], hi, d[k], HALF)
        out["ci_low"] = _log_root(lo, d[k - 1] + Z95 * m[k - 1], hi, d[k] + Z95 * m[k], HALF)
        out["ci_high"] = _log_root(lo, d[k - 1] - Z95 * m[k - 1], hi, d[k] - Z95 * m[k], HALF)
    if (d[k + 1 :] <= HALF).any():
        notes.append("the share falls back to 1/2 or below at a larger c")
    return {**out, "note": "; ".join(notes)}


def reaches_exact(
    steps: np.ndarray,
    mse: np.ndarray,
    mcse: np.ndarray,
    exact_mse: float,
    exact_mcse: float,
) -> dict[str, Any]:
    """The first checkpoint whose MSE is within :data:`WITHIN` combined MCSEs of the exact
    fit's (``crossing`` = that number of steps, ``bracket_low`` the checkpoint before)."""
    order = np.argsort(steps, kind="stable")
    s, v, m = (np.asarray(a, float)[order] for a in (steps, mse, mcse))
    nan = math.nan
    out = dict.fromkeys(_ENDS, nan)
    if not math.isfinite(exact_mse):
        return {**out, "note": "the exact counterpart's MSE is not defined here"}
    se = np.sqrt(m**2 + (exact_mcse if math.isfinite(exact_mcse) else 0.0) ** 2)
    within = np.isfinite(v) & np.isfinite(se) & (np.abs(v - exact_mse) <= WITHIN * se)
    if not within.any():
        last = v[np.isfinite(v)]
        tail = f" (MSE {last[-1]:.4g} vs {exact_mse:.4g})" if len(last) else ""
        return {**out, "note": f"not within {WITHIN:g} MCSE by the last checkpoint "
                f"({s[-1]:g} steps){tail}"}  # fmt: skip
    k = int(np.flatnonzero(within)[0])
    out.update(crossing=float(s[k]), bracket_high=float(s[k]))
    if k > 0:
        out["bracket_low"] = float(s[k - 1])
    notes = []
    if (~within[k:]).any():
        notes.append("leaves the band again at a later checkpoint")
    return {**out, "note": "; ".join(notes)}


def _lookup(perf: pd.DataFrame, measure: str, term: str) -> dict[tuple[str, str], tuple]:
    """(scenario, estimator) → (value, MCSE) of ``measure`` on ``term``; NaN where undefined."""
    sub = perf[(perf["measure"].astype(str) == measure) & (perf["term"].astype(str) == term)]
    defined = sub["defined"].astype(str).str.lower().isin(["true", "1"])
    value = pd.to_numeric(sub["value"], errors="coerce").where(defined)
    mcse = pd.to_numeric(sub["mcse"], errors="coerce").where(defined)
    keys = zip(sub["scenario"].astype(str), sub["estimator"].astype(str), strict=True)
    return {k: (float(v), float(e)) for k, v, e in zip(keys, value, mcse, strict=True)}


def _onset_theory(loss: str, solver: str) -> tuple[float, str]:
    if solver != "gd":
        return math.nan, f"no theory for {solver}"
    if loss == "squared":
        return 1.0, "exact: GD on the squared loss diverges for every c > 1"
    if loss in BOUNDED_GRADIENT:
        return math.nan, "none: the gradient is bounded, so the iterates stay finite at any c"
    return math.nan, f"no theory for {loss}"


def _fallback_partners(estimators: pd.DataFrame, families: pd.DataFrame) -> dict[str, str]:
    """family → the exact unpenalised fit of the same loss (reference first, then file order)
    for families without an exact estimator of the same objective."""
    exact = estimators[estimators["solver"].astype(str) == "exact"]
    if "penalty" in exact:
        exact = exact[exact["penalty"].astype(str) == "none"]
    if "reference" in exact:
        exact = exact.sort_values(
            "reference", key=lambda s: ~s.astype(str).str.lower().isin(["true", "1"]),
            kind="stable",
        )  # fmt: skip
    out = {}
    for family, loss in zip(families["family"], families["loss"], strict=True):
        hit = exact[exact["loss"].astype(str) == str(loss)]
        if len(hit):
            out[str(family)] = str(hit["estimator"].iloc[0])
    return out


def training_crossings(
    perf: pd.DataFrame, estimators: pd.DataFrame, term: str = "x1"
) -> pd.DataFrame:
    """Every onset and reaches-exact row of the study (see the module doc); empty (with the
    columns) when no estimator is trained."""
    members = trained_members(estimators)
    rows: list[dict[str, Any]] = []
    if members.empty:
        return pd.DataFrame(rows, columns=list(TRAINING_COLUMNS))
    div = _lookup(perf, "divergence", MODEL_TERM)
    mse = _lookup(perf, "mse", term)
    cells = sorted({sc for sc, _ in div} | {sc for sc, _ in mse})
    partners = exact_partners(estimators)
    fallback = _fallback_partners(estimators, members.drop_duplicates("family"))
    for family, grp in members.groupby("family", sort=False):
        first = grp.iloc[0]
        loss, solver = str(first["loss"]), str(first["solver"])
        base = {"family": str(family), "loss": loss, "solver": solver}
        if grp["lr_relative"].nunique() > 1:
            last = grp[grp["steps"] == grp.groupby("lr_relative")["steps"].transform("max")]
            last = last.sort_values("lr_relative")
            theory, tnote = _onset_theory(loss, solver)
            for sc in cells:
                stat = [div.get((sc, e), (math.nan, math.nan)) for e in last["estimator"]]
                if not any(math.isfinite(v) for v, _ in stat):
                    continue
                found = divergence_onset(
                    last["lr_relative"].to_numpy(float),
                    np.array([v for v, _ in stat]),
                    np.array([e for _, e in stat]),
                )
                rows.append(
                    {
                        **base, "kind": "divergence_onset", "scenario": sc,
                        "knob": "lr_relative", "measure": "divergence", "term": MODEL_TERM,
                        "versus": "1/2", "values": _values(last["lr_relative"]), **found,
                        "theory": theory, "theory_note": tnote,
                    }
                )  # fmt: skip
        for _, traj in grp.groupby("lr_relative", dropna=False, sort=True):
            if traj["steps"].nunique() < 2:
                continue
            traj = traj.sort_values("steps")
            exact = partners.get(str(family)) or fallback.get(str(family)) or ""
            why = (
                ""
                if str(family) in partners
                else f"{exact} minimises another objective (no exact fit of the same "
                "δ/scale in the study): compared with it as the exact fit of the same loss"
                if exact
                else f"no exact fit of the {loss} loss in the study: nothing to reach"
            )
            for sc in cells:
                stat = [mse.get((sc, e), (math.nan, math.nan)) for e in traj["estimator"]]
                if not any(math.isfinite(v) for v, _ in stat):
                    continue
                ev, em = mse.get((sc, exact), (math.nan, math.nan))
                found = (
                    _NOTHING
                    if not exact
                    else reaches_exact(
                        traj["steps"].to_numpy(float),
                        np.array([v for v, _ in stat]),
                        np.array([e for _, e in stat]),
                        ev,
                        em,
                    )
                )
                shares = [div.get((sc, e), (0.0, 0.0))[0] for e in traj["estimator"]]
                diverged = "" if not np.nansum(shares) else "some fits diverged (left out)"
                rows.append(
                    {
                        **base, "kind": "reaches_exact", "scenario": sc, "knob": "steps",
                        "measure": "mse", "term": term, "versus": exact,
                        "values": _values(traj["steps"]), **found,
                        "note": "; ".join(x for x in (found["note"], why, diverged) if x),
                        "theory": math.nan, "theory_note": "",
                    }
                )  # fmt: skip
    return pd.DataFrame(rows, columns=list(TRAINING_COLUMNS))


def _values(values: pd.Series) -> str:
    return " ".join(f"{float(v):g}" for v in values)
