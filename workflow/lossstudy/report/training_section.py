"""The section "Does differentiability matter?": gradient-trained fits beside the exact ones.

Why: the first reason usually given for L2 is that it is differentiable and so trains stably by
gradient steps. The section answers from the rows the workflow wrote (``estimators.csv``,
``performance.csv``, ``theory.csv``, the training figures): which losses diverge as the step
size crosses squared-loss GD's stability limit, how far the trained fits are from the exact
ones after each number of steps, and the test MSE and MAE of every loss, exact and trained.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lossstudy.figures.divergence import divergence_alt
from lossstudy.figures.learning import learning_alt, shown_n
from lossstudy.figures.stationary import sgd_steps_alt
from lossstudy.figures.test_error import METRICS, alt_test_error, n_test_error
from lossstudy.frontpage import training_sentence
from lossstudy.mcse import format_pm, mcse_digits
from lossstudy.studyfile import read_theory
from lossstudy.trained import (
    SOLVER_NAMES,
    TRAINED_SOLVERS,
    TRAINING_MEASURES,
    curve_rows,
    divergence_rows,
    divergence_verdict,
    loss_name,
    loss_rank,
    prediction_error_rows,
    sgd_lr_rows,
    share_text,
    trained_members,
)

__all__ = ["NO_TRAINING", "training_section"]

NO_TRAINING = (
    "This study trains no estimator by gradient steps (no estimator has solver "
    + ", ".join(TRAINED_SOLVERS)
    + "), so it cannot say whether differentiability matters."
)


def _learning_sentences(curves: pd.DataFrame) -> list[str]:
    """Per loss and solver, the distance to the exact fit after the last checkpoint at the
    largest n, and whether it is below the exact fit's own error in every cell."""
    if curves.empty:
        return []
    n = shown_n(curves)
    sub = curves[(curves["measure"] == "opt_error") & curves["usable"]]
    if math.isfinite(n):
        sub = sub[sub["n"] == n]
    out = []
    groups = sorted(
        sub.groupby(["loss", "solver"], sort=False),
        key=lambda kv: (loss_rank(str(kv[0][0])), TRAINED_SOLVERS.index(str(kv[0][1]))),
    )
    for (loss, solver), grp in groups:
        last = grp[grp["steps"] == grp["steps"].max()]
        lo, hi = float(last["value"].min()), float(last["value"].max())
        span = f"{lo:.2g}" if math.isclose(lo, hi) else f"{lo:.2g}–{hi:.2g}"
        text = (
            f"After {int(grp['steps'].max()):,} steps, {SOLVER_NAMES.get(solver, solver)} on the "
            f"{html.escape(loss_name(loss))} loss is {span} from its exact fit "
            f"({len(last)} error law{'s' if len(last) != 1 else ''}, n = {int(n)})"
            if math.isfinite(n)
            else f"After {int(grp['steps'].max()):,} steps, {SOLVER_NAMES.get(solver, solver)} "
            f"on the {html.escape(loss_name(loss))} loss is {span} from its exact fit"
        )
        level = last["exact_error"].to_numpy(dtype=float)
        if np.isfinite(level).all():
            below = int((last["value"].to_numpy(dtype=float) < level).sum())
            text += (
                ", below the exact fit's own error in every cell"
                if below == len(last)
                else f", below the exact fit's own error in {below} of {len(last)} cells"
            )
        out.append(text + ".")
    return out


def _sgd_sentences(rows: pd.DataFrame) -> list[str]:
    """SGD swept over an absolute step size (:func:`lossstudy.trained.sgd_lr_rows`): per loss,
    where fits start to diverge at the largest n, and how the risk compares with exact theory."""
    rows = rows[rows["usable"]]
    if rows.empty:
        return []
    n = float(rows["n"].max())
    top = rows[rows["n"] == n]
    out = []
    div = top[top["measure"] == "divergence"]
    for loss, grp in sorted(div.groupby("loss", sort=False), key=lambda kv: loss_rank(kv[0])):
        grp = grp.sort_values("lr")
        hit = grp[grp["value"] > 0]
        name = html.escape(loss_name(str(loss)))
        if len(hit):
            first = hit.iloc[0]
            worst = grp.iloc[-1]
            safe = grp[grp["lr"] < first["lr"]]
            before = f", none up to η = {safe['lr'].max():g}" if len(safe) else ""
            out.append(
                f"SGD on the {name} loss at n = {int(n)}: "
                f"{share_text(first['value'], first['value'], first['mcse'])} of fits diverge "
                f"at η = {first['lr']:g}{before}; at η = {worst['lr']:g}, "
                f"{share_text(worst['value'], worst['value'], worst['mcse'])}."
            )
        else:
            out.append(
                f"SGD on the {name} loss at n = {int(n)}: no fit diverges at any step size up "
                f"to η = {grp['lr'].max():g}."
            )
    risk = rows[(rows["measure"] == "risk") & rows["theoretical"].notna()]
    if len(risk):
        flags = int(risk["flag"].map(lambda v: str(v).strip().lower() in ("true", "1")).sum())
        out.append(
            f"Its risk E‖β_k − β‖² matches exact streaming-SGD theory in {len(risk) - flags} of "
            f"{len(risk)} cells and step sizes (largest |z| {risk['z'].abs().max():.2g}; "
            f"{flags} flagged)."
        )
    return out


def _test_table(test: pd.DataFrame) -> dict[str, Any]:
    """Rows = estimators, columns = error law (largest n) × (test MSE, test MAE), value ± MCSE;
    ``best`` marks the smallest value of a column (not a test: compare the MCSEs)."""
    if test.empty:
        return {"columns": [], "rows": [], "n": ""}
    n = n_test_error(test)
    sub = test[test["n"] == n] if math.isfinite(n) else test
    bases = list(dict.fromkeys(sub["base"].astype(str)))
    columns = [(b, m, label) for b in bases for m, label in METRICS]
    best: dict[tuple[str, str], float] = {}
    for (b, m), grp in sub[sub["usable"]].groupby(["base", "measure"]):
        best[(str(b), str(m))] = float(grp["value"].min())
    index = {(str(r.label), str(r.base), str(r.measure)): r for r in sub.itertuples(index=False)}
    rows = []
    for label in dict.fromkeys(sub["label"].astype(str)):
        first = sub[sub["label"] == label].iloc[0]
        cells = []
        for b, m, _ in columns:
            r = index.get((label, b, m))
            if r is None:
                cells.append({"text": "", "best": False, "undefined": False, "why": ""})
            elif not r.usable:
                why = str(r.note) if isinstance(r.note, str) and r.note else "not defined"
                cells.append({"text": "undefined", "best": False, "undefined": True, "why": why})
            else:
                cells.append(
                    {
                        "text": format_pm(float(r.value), float(r.mcse)),
                        "best": float(r.value) == best.get((b, m)),
                        "undefined": False,
                        "why": "",
                    }
                )
        rows.append(
            {
                "label": label,
                "estimator": str(first["estimator"]),
                "loss": loss_name(str(first["loss"])),
                "kind": str(first["kind"]),
                "cells": cells,
            }
        )
    return {
        "bases": bases,
        "columns": [{"base": b, "label": label} for b, _, label in columns],
        "rows": rows,
        "n": f"{int(n)}" if math.isfinite(n) else "",
    }


def _theory_rows(tab: pd.DataFrame, trained: set[str]) -> list[dict[str, Any]]:
    """The rows of ``theory.csv`` (read once, :func:`lossstudy.studyfile.read_theory`) on the
    training measures (for trained members, or test error of any estimator), as the theory
    section shows them."""
    if tab.empty or "quantity" not in tab:
        return []
    tab = tab[tab["quantity"].astype(str).isin((*TRAINING_MEASURES, "risk"))]
    tab = tab[tab["estimator"].astype(str).isin(trained) | tab["quantity"].isin(METRICS_KEYS)]
    out = []
    for r in tab.itertuples(index=False):
        mcse = float(r.mcse) if pd.notna(r.mcse) else math.nan
        theo = float(r.theoretical) if pd.notna(r.theoretical) else math.nan
        digits = min(mcse_digits(mcse) + 1, 7)
        out.append(
            {
                "scenario": str(r.scenario),
                "estimator": str(r.estimator),
                "versus": str(r.versus) if isinstance(r.versus, str) else "",
                "quantity": str(r.quantity),
                "simulated": format_pm(float(r.simulated), mcse),
                "theoretical": f"{theo:.{digits}f}" if math.isfinite(theo) else "--",
                "z": f"{float(r.z):+.1f}" if pd.notna(r.z) and math.isfinite(float(r.z)) else "--",
                "flag": str(r.flag).strip().lower() in ("true", "1"),
                "note": str(r.note) if isinstance(r.note, str) else "",
            }
        )
    return out


METRICS_KEYS = tuple(m for m, _ in METRICS)

#: what a row of ``results/training.csv`` answers, as the crossings table names it
CROSSING_KINDS = {
    "divergence_onset": "step size c where the share diverged first exceeds 1/2",
    "reaches_exact": "steps until the MSE is within 2 MCSE of the exact fit's",
}


def _cut(v: float) -> str:
    return f"{v:.4g}"


def _digits(v: float) -> str:
    """An interpolated value: four significant digits, trailing zeros kept (1.000, not 1)."""
    return f"{v:#.4g}"


def crossing_text(row: Mapping[str, Any]) -> str:
    """One row of ``results/training.csv`` in words: a value with its interval, a bracket
    where the grid is the result, or the none case."""
    lo, hi, x = (float(row[k]) for k in ("bracket_low", "bracket_high", "crossing"))
    a, b = float(row["ci_low"]), float(row["ci_high"])
    values = _text(row.get("values")).split()
    if row["kind"] == "divergence_onset":
        if math.isfinite(x):
            return f"{_digits(x)} ({_digits(a)}–{_digits(b)})"
        if math.isfinite(lo) and math.isfinite(hi):
            return f"in [{_cut(lo)}, {_cut(hi)}]"
        if math.isfinite(lo):
            return f"none up to {_cut(lo)}"
        if math.isfinite(hi):
            return f"below {_cut(hi)}"
        return "--"
    if math.isfinite(x):
        return f"by {int(x):,} (not at {int(lo):,})" if math.isfinite(lo) else f"≤ {int(x):,}"
    if not _text(row.get("versus")):
        return "no exact fit"
    note = _text(row.get("note"))
    if "not within" in note and values:
        return f"not by {int(float(values[-1])):,}"
    if "not defined" in note:
        return "exact MSE undefined"
    return "--"


def _text(v: Any) -> str:
    """A text cell of a CSV read with empty cells as NaN."""
    return v if isinstance(v, str) else ""


def _crossing_table(training_csv: str | Path | None, scen: pd.DataFrame) -> dict[str, Any]:
    """Rows = trained family × what crosses, columns = error law at the largest n: the rows of
    ``results/training.csv`` (:mod:`lossstudy.sweeps.training`) with theory beside."""
    empty: dict[str, Any] = {"bases": [], "rows": [], "n": ""}
    if training_csv is None or not Path(training_csv).exists():
        return empty
    tab = pd.read_csv(training_csv, keep_default_na=False, na_values=[""])
    if tab.empty:
        return empty
    cells = scen[["scenario", "base", "n"]].astype({"scenario": str, "base": str})
    tab = tab.merge(cells, on="scenario", how="left")
    tab["n"] = pd.to_numeric(tab["n"], errors="coerce")
    n = tab["n"].max()
    if math.isfinite(n):
        tab = tab[tab["n"] == n]
    bases = list(dict.fromkeys(b for b in scen["base"].astype(str) if b in set(tab["base"])))
    rows = []
    for (kind, family), grp in tab.groupby(["kind", "family"], sort=False):
        by_base = {str(r["base"]): r for _, r in grp.iterrows()}
        first = grp.iloc[0]
        theory = float(first["theory"]) if pd.notna(first["theory"]) else math.nan
        tnote = _text(first["theory_note"])
        rows.append(
            {
                "family": str(family),
                "loss": loss_name(str(first["loss"])),
                "what": CROSSING_KINDS.get(str(kind), str(kind)),
                "versus": _text(first["versus"]),
                "cells": [
                    {
                        "text": crossing_text(by_base[b]) if b in by_base else "",
                        "note": _text(by_base[b]["note"]) if b in by_base else "",
                    }
                    for b in bases
                ],
                "theory": _cut(theory) if math.isfinite(theory) else tnote.split(":")[0] or "--",
                "theory_note": tnote,
            }
        )
    return {"bases": bases, "rows": rows, "n": f"{int(n)}" if math.isfinite(n) else ""}


def squared_onset(training_csv: str | Path | None) -> str:
    """A sentence on squared-loss GD's divergence onset over every cell, or ""."""
    if training_csv is None or not Path(training_csv).exists():
        return ""
    tab = pd.read_csv(training_csv, keep_default_na=False, na_values=[""])
    if tab.empty:
        return ""
    sq = tab[
        (tab["kind"] == "divergence_onset") & (tab["loss"] == "squared") & (tab["solver"] == "gd")
    ]
    if sq.empty:
        return ""
    both = sq[np.isfinite(sq["bracket_low"]) & np.isfinite(sq["bracket_high"])]
    if both.empty:
        return ""
    lo, hi = float(both["bracket_low"].min()), float(both["bracket_high"].max())
    x = both["crossing"].dropna()
    point = (
        f"; where the MCSE allows an interpolation, c* = {_digits(float(x.min()))}"
        + (f"–{_digits(float(x.max()))}" if len(x) > 1 else "")
        if len(x)
        else ""
    )
    return (
        f"Squared-loss GD's divergence share passes 1/2 between the swept step sizes "
        f"c = {_cut(lo)} and {_cut(hi)} in {len(both)} of {len(sq)} cells{point} "
        "(theory: exactly c = 1)."
    )


def training_section(
    estimators: pd.DataFrame,
    perf: pd.DataFrame,
    scen: pd.DataFrame,
    figures: Sequence[Mapping[str, Any]],
    theory_csv: str | Path | None,
    term: str,
    training_csv: str | Path | None = None,
) -> dict[str, Any]:
    """What the section shows: ``available`` False (and ``absent``, one sentence) when the study
    trains nothing; else the verdict and its numbers (``divergence``: the front page's first
    reason reads them), the learning-curve sentences,
    the figures with alt texts that state what they show, the test-error table and the theory
    rows on the training measures. ``estimators`` is ``estimators.csv``
    (:func:`lossstudy.studyfile.read_estimators`), ``perf`` every cell's performance rows,
    ``figures`` the embedded figures (:func:`.figures_section.embedded_figures`),
    ``training_csv`` the sweeps step's ``results/training.csv`` (the crossings table)."""
    members = trained_members(estimators)
    if members.empty:
        return {"available": False, "absent": NO_TRAINING}
    div = divergence_rows(perf, estimators, scen)
    curves = curve_rows(perf, estimators, scen, term)
    test = prediction_error_rows(perf, estimators, scen)
    theory_table = read_theory(theory_csv)
    sgd = sgd_lr_rows(perf, estimators, scen, theory_table)
    verdict = divergence_verdict(div) if len(div) else {}
    headline = training_sentence(verdict)
    alts = {
        "training_divergence": divergence_alt(div) if len(div) else "",
        "training_curves": learning_alt(curves, term) if len(curves) else "",
        "training_test_error": alt_test_error(test) if len(test) else "",
        "training_sgd": sgd_steps_alt(sgd) if len(sgd) else "",
    }
    figs = [{**f, "alt": alts.get(f["name"]) or f["title"]} for f in figures if f["name"] in alts]
    theory = _theory_rows(theory_table, set(members["estimator"]))
    return {
        "available": True,
        "absent": "",
        "verdict": headline["text"] if headline else "",
        "divergence": verdict,
        "n_members": len(members),
        "n_families": int(members["family"].nunique()),
        "losses": ", ".join(loss_name(x) for x in dict.fromkeys(members["loss"])),
        "solvers": ", ".join(SOLVER_NAMES.get(x, x) for x in dict.fromkeys(members["solver"])),
        "learning": _learning_sentences(curves),
        "sgd": _sgd_sentences(sgd),
        "figures": figs,
        "test": _test_table(test),
        "crossings": _crossing_table(training_csv, scen),
        "onset": squared_onset(training_csv),
        "theory": theory,
        "theory_flagged": sum(r["flag"] for r in theory),
    }
