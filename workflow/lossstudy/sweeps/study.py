"""The study's crossover and optimum tables, and the theory curves the sweep figures draw.

Inputs are the files of earlier stages (performance table, scenario table, per-replicate
estimates) plus the resolved knobs and estimator specs; outputs are three tidy CSVs:
``crossovers.csv``, ``optima.csv`` and ``sweep_theory.csv``.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lossstudy.answer.roles import estimator_roles
from lossstudy.config import term_names
from lossstudy.io import atomic_path
from lossstudy.studyfile import read_estimators

from . import theory as th
from .crossing import find_crossing
from .flip import prior_flips
from .optimum import find_optimum, refine
from .series import Series, factor_columns, factors_text, sweep_series, varying
from .training import training_crossings

CROSSOVER_COLUMNS = (
    "scenario",
    "knob",
    "fixed",
    "estimator",
    "versus",
    "measure",
    "bracket_low",
    "bracket_high",
    "crossing",
    "ci_low",
    "ci_high",
    "theory",
    "theory_kind",
    "agreement",
    "note",
    "better",
    "values",
    "cells",
    "grid_effect",
    "needs_refinement",
)
OPTIMA_COLUMNS = (
    "scenario",
    "estimator",
    "parameter",
    "fixed",
    "term",
    "measure",
    "argmin",
    "ci_low",
    "ci_high",
    "theory",
    "theory_kind",
    "agreement",
    "note",
    "cell",
    "grid_effect",
    "needs_refinement",
)
THEORY_COLUMNS = ("kind", "scenario", "knob", "fixed", "estimator", "versus", "measure", "x", "y")

#: measures compared along a sweep, with the value that means "no difference"
COMPARED = ("rel_efficiency", "rel_mse")


def measure_lookup(
    perf: pd.DataFrame, term: str
) -> dict[tuple[str, str, str], tuple[float, float]]:
    """(scenario, estimator, measure) → (value, MCSE) for ``term``; NaN where undefined."""
    sub = perf[perf["term"].astype(str) == term]
    defined = sub["defined"].astype(str).str.lower().isin(["true", "1"])
    value = pd.to_numeric(sub["value"], errors="coerce").where(defined)
    mcse = pd.to_numeric(sub["mcse"], errors="coerce").where(defined)
    keys = zip(
        sub["scenario"].astype(str), sub["estimator"].astype(str), sub["measure"], strict=True
    )
    return {k: (float(v), float(m)) for k, v, m in zip(keys, value, mcse, strict=True)}


def unreliable_mcse(perf: pd.DataFrame, term: str) -> set[tuple[str, str, str]]:
    """(scenario, estimator, measure) whose value exists but whose MCSE is unreliable
    (``mcse_valid`` False in the performance table: a moment the MCSE needs is missing)."""
    if "mcse_valid" not in perf.columns:
        return set()
    sub = perf[perf["term"].astype(str) == term]
    defined = sub["defined"].astype(str).str.lower().isin(["true", "1"])
    valid = sub["mcse_valid"].astype(str).str.lower().isin(["true", "1"])
    bad = sub[defined & ~valid]
    return set(
        zip(bad["scenario"].astype(str), bad["estimator"].astype(str), bad["measure"], strict=True)
    )


def _caveat(s: Series, est: str, measure: str, shaky: set[tuple[str, str, str]]) -> str:
    """Which swept values' calls rest on an unreliable MCSE (no finite fourth moment)."""
    hit = [v for v, sc in zip(s.values, s.scenarios, strict=True) if (sc, est, measure) in shaky]
    if not hit:
        return ""
    return (
        f"MCSE unreliable at {s.knob} = {', '.join(f'{v:g}' for v in hit)} (a moment it needs "
        "does not exist): the calls there rest on it"
    )


def _comparisons(
    estimators: Sequence[str], specs: Mapping[str, Mapping[str, Any]], reference: str
) -> tuple[list[str], list[str]]:
    """Estimators compared with the reference (not its twins), and those with intervals."""
    roles = estimator_roles(list(estimators), specs)
    ref_point = roles[reference]["point"] if reference in roles else None
    versus = [e for e in estimators if e != reference and roles[e]["point"] != ref_point]
    covered = [e for e in estimators if roles[e]["intervals"]]
    return versus, covered


def theory_kind(note: str) -> str:
    """``exact`` or ``asymptotic`` (from the theory's note), or empty without theory."""
    for kind in ("asymptotic", "exact"):
        if kind in note:
            return kind
    return ""


def agreement(point: float, lo: float, hi: float, theory: float, kind: str) -> str:
    """How simulation and theory relate: exact theory is *covered* by the interval or
    *disagrees*; asymptotic theory is a limit a finite-n value need not reach (*finite-n*)."""
    if not (math.isfinite(point) and math.isfinite(theory)):
        return ""
    if kind == "asymptotic":
        return "finite-n"
    return "covered" if lo <= theory <= hi else "disagrees"


def _fmt_values(values: Sequence[float]) -> str:
    return " ".join(f"{v:g}" for v in values)


def crossovers(
    perf: pd.DataFrame,
    scen: pd.DataFrame,
    knobs: Mapping[str, Mapping[str, Any]],
    specs: Mapping[str, Mapping[str, Any]],
    estimators: Sequence[str],
    reference: str,
    seed: int,
    level: float,
    term: str = "x1",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per series × comparison (see the package doc), and the theory curves drawn."""
    table = measure_lookup(perf, term)
    shaky = unreliable_mcse(perf, term)
    versus, covered = _comparisons(estimators, specs, reference)
    rows: list[dict[str, Any]] = []
    curves: list[dict[str, Any]] = []
    for s in sweep_series(scen):
        j = _term_index(knobs, s, term)
        base = {"scenario": s.base, "knob": s.knob, "fixed": s.fixed_text}
        extra = {"values": _fmt_values(s.values), "cells": " ".join(s.scenarios)}
        xs = th.grid(s.values)
        first = knobs.get(s.scenarios[0])
        cells = (
            [(v, knobs[sc], sc) for v, sc in zip(s.values, s.scenarios, strict=True)]
            if all(sc in knobs for sc in s.scenarios)
            else None
        )
        for est in versus:
            for measure in COMPARED:
                stat = [table.get((sc, est, measure), (math.nan, math.nan)) for sc in s.scenarios]
                r = np.array([v - 1.0 for v, _ in stat])
                m = np.array([mc for _, mc in stat])
                if not np.isfinite(r).any():
                    continue
                cr = find_crossing(np.array(s.values), r, m, rng=_rng(seed, s, est, measure))
                curve, why = (None, "no knobs for this series")
                if first is not None and j is not None:
                    curve, why = th.comparison_curve(
                        first, s.knob, s.values, seed, specs[est], specs[reference], measure,
                        j, cells,
                    )  # fmt: skip
                theory, tnote = _theory_root(curve, why, xs, cr.crossing)
                kind = theory_kind(why) if math.isfinite(theory) else ""
                if curve is not None:
                    curves += _curve_rows("crossover", base, est, reference, measure, xs, curve)
                rows.append(
                    {
                        **base,
                        "estimator": est,
                        "versus": reference,
                        "measure": measure,
                        **_crossing_cols(cr),
                        "theory": theory,
                        "theory_kind": kind,
                        "agreement": agreement(cr.crossing, cr.ci_low, cr.ci_high, theory, kind),
                        "note": "; ".join(
                            x for x in (cr.note, _caveat(s, est, measure, shaky), tnote) if x
                        ),
                        **extra,
                    }
                )
        for est in covered:
            stat = [table.get((sc, est, "coverage"), (math.nan, math.nan)) for sc in s.scenarios]
            r = np.array([v - level for v, _ in stat])
            m = np.array([mc for _, mc in stat])
            if not np.isfinite(r).any():
                continue
            cr = find_crossing(
                np.array(s.values), r, m, words=("nominal", "under-covers"), ties_positive=True,
                rng=_rng(seed, s, est, "coverage"),
            )  # fmt: skip
            rows.append(
                {
                    **base,
                    "estimator": est,
                    "versus": f"nominal {level:g}",
                    "measure": "coverage",
                    **_crossing_cols(cr),
                    "theory": math.nan,
                    "theory_kind": "",
                    "agreement": "",
                    "note": "; ".join(
                        x for x in (cr.note, "no theory: no closed form for coverage") if x
                    ),
                    **extra,
                }
            )
    return (
        pd.DataFrame(rows, columns=list(CROSSOVER_COLUMNS)),
        pd.DataFrame(curves, columns=list(THEORY_COLUMNS)),
    )


def _rng(seed: int, s: Series, est: str, measure: str) -> np.random.Generator:
    """The bootstrap's stream for one row: the study seed and the row's identity."""
    key = f"{s.base}/{s.knob}/{s.fixed_text}/{est}/{measure}"
    return np.random.default_rng([seed, zlib.crc32(key.encode())])


def _term_index(knobs: Mapping[str, Mapping[str, Any]], s: Series, term: str) -> int | None:
    k = knobs.get(s.scenarios[0])
    if k is None:
        return None
    names = term_names(len(k["coefficients"]))
    return names.index(term) if term in names else None


def _crossing_cols(cr: Any) -> dict[str, Any]:
    return {
        "bracket_low": cr.bracket_low,
        "bracket_high": cr.bracket_high,
        "crossing": cr.crossing,
        "ci_low": cr.ci_low,
        "ci_high": cr.ci_high,
        "better": cr.better,
        "grid_effect": cr.grid_effect,
        "needs_refinement": cr.needs_refinement,
    }


def _theory_root(
    curve: th.Curve | None, why: str, xs: np.ndarray, crossing: float
) -> tuple[float, str]:
    """The theory curve's root nearest the simulated crossing (the first without one)."""
    if curve is None:
        return math.nan, why
    found = th.roots(curve, xs)
    if not found:
        ys = np.array([curve(float(x)) for x in xs])
        side = "above" if np.nanmin(ys) > 1 else "below" if np.nanmax(ys) < 1 else "at"
        return math.nan, f"{why}; the theory curve stays {side} 1 over the range (no root)"
    best = min(found, key=lambda x: abs(x - crossing)) if math.isfinite(crossing) else found[0]
    note = why if len(found) == 1 else f"{why}; theory has {len(found)} roots in range"
    return best, note


def _curve_rows(
    kind: str,
    base: Mapping[str, Any],
    est: str,
    versus: str,
    measure: str,
    xs: np.ndarray,
    curve: th.Curve,
) -> list[dict[str, Any]]:
    return [
        {
            "kind": kind,
            **base,
            "estimator": est,
            "versus": versus,
            "measure": measure,
            "x": float(x),
            "y": float(curve(float(x))),
        }
        for x in xs
    ]


class _SquaredErrors:
    """One scenario's squared errors on one term, by estimator code: what each estimator
    family's optimum is found from. Read and coded once per scenario; a family's table is then
    a few array operations (filtering the text columns once per family cost the sweeps job
    most of its time)."""

    def __init__(self, est: pd.DataFrame) -> None:
        self.codes, names = pd.factorize(est["estimator"], sort=False)
        self.index = {str(name): i for i, name in enumerate(names)}
        ok = (est["status"] == "ok").to_numpy(dtype=bool, na_value=False)
        err = est["estimate"].to_numpy(dtype=float) - est["true_value"].to_numpy(dtype=float)
        self.loss = np.where(ok, err, np.nan) ** 2
        self.replicate = est["replicate"].to_numpy()

    def wide(self, names: Sequence[str]) -> np.ndarray | None:
        """Replicates (ascending) × ``names`` (NaN where absent or not ok); None if none."""
        column = np.full(len(self.index) + 1, -1)
        for j, name in enumerate(names):
            if name in self.index:
                column[self.index[name]] = j
        col = column[self.codes]  # a code of −1 (no estimator) reads the last entry, −1
        rows = np.flatnonzero(col >= 0)
        if not len(rows):
            return None
        r_codes, reps = pd.factorize(self.replicate[rows], sort=True)
        out = np.full((len(reps), len(names)), np.nan)
        out[r_codes, col[rows]] = self.loss[rows]
        return out


def _squared_errors(path: Path, term: str) -> _SquaredErrors:
    est = pd.read_parquet(
        path, columns=["replicate", "estimator", "term", "estimate", "true_value", "status"]
    )
    return _SquaredErrors(est[(est["term"] == term).to_numpy(dtype=bool, na_value=False)])


def optima(
    scen: pd.DataFrame,
    knobs: Mapping[str, Mapping[str, Any]],
    specs: Mapping[str, Mapping[str, Any]],
    families: Mapping[str, Mapping[str, Any]],
    estimates_dir: str | Path,
    seed: int,
    term: str = "x1",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per scenario × estimator sweep: the member value with the smallest MSE."""
    by_family: dict[tuple[str, str], list[tuple[float, str]]] = {}
    for member, meta in families.items():
        key = (str(meta["family"]), str(meta["parameter"]))
        by_family.setdefault(key, []).append((float(meta["value"]), member))
    rows: list[dict[str, Any]] = []
    curves: list[dict[str, Any]] = []
    if not by_family:
        return (
            pd.DataFrame(rows, columns=list(OPTIMA_COLUMNS)),
            pd.DataFrame(curves, columns=list(THEORY_COLUMNS)),
        )
    sc = scen.reset_index(drop=True)
    columns = factor_columns(sc)
    factors = {str(base): varying(fam, columns) for base, fam in sc.groupby(sc["base"].astype(str))}
    for _, rec in sc.iterrows():
        sid = str(rec["scenario"])
        path = Path(estimates_dir) / f"{sid}.parquet"
        if not path.exists():
            continue
        losses = _squared_errors(path, term)
        fixed = factors_text({c: rec[c] for c in factors[str(rec["base"])]})
        for (family, param), members in by_family.items():
            members = sorted(members)
            values = np.array([v for v, _ in members])
            names = [m for _, m in members]
            wide = losses.wide(names)
            if wide is None:
                continue
            rng = np.random.default_rng([seed, zlib.crc32(f"{sid}/{family}".encode())])
            opt = find_optimum(values, wide, rng)
            theory, tnote = math.nan, ""
            k = knobs.get(sid)
            j = term_names(len(k["coefficients"])).index(term) if k is not None else None
            if k is not None and j is not None:
                curve, tnote = th.ridge_mse(k, seed, sid, specs[names[0]], j)
                if specs[names[0]]["method"] != "ridge":
                    curve, tnote = None, f"no theory for {specs[names[0]]['method']}"
                if curve is not None:
                    theory = th.argmin(curve, float(values.min()), float(values.max()))
                    bayes = th.bayes_penalty(k)
                    if bayes is not None:
                        tnote += f"; Bayes rule σ²/τ² = {bayes:.4g}"
                    # what the grid alone does to the estimate: refine the exact curve on it
                    on_grid = refine(values, np.array([curve(float(v)) for v in values]))
                    if abs(on_grid - theory) > 0.01 * max(abs(theory), 1e-12):
                        tnote += (
                            f"; on this grid the exact curve's refined minimum is {on_grid:.4g} "
                            f"(grid effect {on_grid - theory:+.3g})"
                        )
                    curves += _curve_rows(
                        "optimum",
                        {"scenario": str(rec["base"]), "knob": param, "fixed": fixed},
                        family,
                        "",
                        "mse",
                        th.grid([v for v in values if v > 0] or [1.0]),
                        curve,
                    )
            rows.append(
                {
                    "scenario": str(rec["base"]),
                    "estimator": family,
                    "parameter": param,
                    "fixed": fixed,
                    "term": term,
                    "measure": "mse",
                    "argmin": opt.argmin,
                    "ci_low": opt.ci_low,
                    "ci_high": opt.ci_high,
                    "theory": theory,
                    "theory_kind": "exact" if math.isfinite(theory) else "",
                    "agreement": agreement(opt.argmin, opt.ci_low, opt.ci_high, theory, "exact"),
                    "note": "; ".join(x for x in (opt.note, tnote) if x),
                    "cell": sid,
                    "grid_effect": opt.grid_effect,
                    "needs_refinement": opt.needs_refinement,
                }
            )
    return (
        pd.DataFrame(rows, columns=list(OPTIMA_COLUMNS)),
        pd.DataFrame(curves, columns=list(THEORY_COLUMNS)),
    )


def write_sweeps(
    performance_csv: str | Path,
    scenarios_csv: str | Path,
    estimates_dir: str | Path,
    knobs: Mapping[str, Mapping[str, Any]],
    specs: Mapping[str, Mapping[str, Any]],
    families: Mapping[str, Mapping[str, Any]],
    reference: str,
    seed: int,
    level: float,
    out_crossovers: str | Path,
    out_optima: str | Path,
    out_theory: str | Path,
    term: str = "x1",
    estimators_csv: str | Path | None = None,
    out_training: str | Path | None = None,
) -> None:
    """The three sweep tables, and with ``estimators_csv`` and ``out_training`` the training
    crossings (:mod:`lossstudy.sweeps.training`), from the files of earlier stages."""
    perf = pd.read_csv(performance_csv, keep_default_na=False, na_values=[""])
    scen = pd.read_csv(scenarios_csv)
    shown = [e for e in specs if families.get(e, {}).get("anchor", True)]
    cross, c_curves = crossovers(perf, scen, knobs, specs, shown, reference, seed, level, term)
    flips = prior_flips(perf, scen, knobs, specs, seed)  # the L1 penalty overtaking the L2
    if flips:
        flips_frame = pd.DataFrame(flips, columns=list(CROSSOVER_COLUMNS))
        cross = pd.concat([cross, flips_frame], ignore_index=True) if len(cross) else flips_frame
    opt, o_curves = optima(scen, knobs, specs, families, estimates_dir, seed, term)
    for frame, path in ((cross, out_crossovers), (opt, out_optima)):
        with atomic_path(path) as tmp:
            frame.to_csv(tmp, index=False, float_format="%.10g")
    with atomic_path(out_theory) as tmp:
        pd.concat([c_curves, o_curves], ignore_index=True).to_csv(
            tmp, index=False, float_format="%.10g"
        )
    if estimators_csv is not None and out_training is not None:
        rows = training_crossings(perf, read_estimators(estimators_csv), term)
        with atomic_path(out_training) as tmp:
            rows.to_csv(tmp, index=False, float_format="%.10g")
