"""Learning curves of gradient training: distance to the exact fit and RMSE against steps.

Why this figure: a trained fit differs from the exact estimator by its optimisation error. The
top row shows that error (``opt_error``, root mean square distance to the exact minimiser of
the same objective) against the number of steps on log–log axes, beside the exact fit's own
distance from the truth (dashed): optimisation error below that line no longer matters. The
bottom row shows what a statistician reads, the RMSE of the focus coefficient, with the exact
estimator's RMSE as the dashed level the trained fit should reach.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from lossstudy.trained import SOLVER_NAMES, loss_name, loss_rank

from ._style import SOLVER_LINES, _header, _large_rc, loss_color, loss_marker, loss_solver_handles

__all__ = ["fig_learning_curves", "learning_alt", "shown_n"]

#: the line style of the exact fit's level (no solver's)
EXACT_LINE = "-."
#: values below this are drawn at it (a log axis cannot show an exact 0)
FLOOR = 1e-16


def shown_n(curves: pd.DataFrame) -> float:
    """The n the learning curves are drawn at: the largest (statistical error is smallest
    there, so optimisation error shows soonest)."""
    ns = pd.to_numeric(curves["n"], errors="coerce").dropna()
    return float(ns.max()) if len(ns) else math.nan


def fig_learning_curves(curves: pd.DataFrame, term: str) -> Figure | None:
    """Top: ``opt_error`` against steps (log–log) with the exact fit's root total MSE dashed;
    bottom: RMSE of ``term`` with the exact partner's RMSE dashed (band: ± 1.96 MCSE). Columns:
    scenario base at the largest n; colour and marker by loss, line style by solver.
    ``curves``: :func:`lossstudy.trained.curve_rows`. None without a family of checkpoints."""
    if curves.empty:
        return None
    n = shown_n(curves)
    curves = curves[curves["n"] == n] if math.isfinite(n) else curves
    bases = list(dict.fromkeys(curves.sort_values("cell_order")["base"].astype(str)))
    rows = [("opt_error", "distance to the exact fit"), ("rmse", f"RMSE of {term}")]
    losses = sorted(dict.fromkeys(curves["loss"]), key=loss_rank)
    solvers = list(dict.fromkeys(curves["solver"]))
    with plt.rc_context(_large_rc()):
        fig, axes = plt.subplots(
            2, len(bases), figsize=(3.2 * len(bases) + 0.7, 5.8), squeeze=False, sharex=True
        )
        floored = False
        for j, base in enumerate(bases):
            cell = curves[curves["base"] == base]
            for i, (measure, label) in enumerate(rows):
                ax = axes[i, j]
                sub = cell[cell["measure"] == measure]
                levels: dict[str, tuple[float, float]] = {}
                for _family, grp in sub.groupby("family", sort=False):
                    grp = grp[grp["usable"]].sort_values("steps")
                    if grp.empty:
                        continue
                    loss, solver = str(grp["loss"].iloc[0]), str(grp["solver"].iloc[0])
                    y = grp["value"].to_numpy(dtype=float)
                    floored |= bool((y < FLOOR).any())
                    ax.plot(
                        grp["steps"],
                        np.maximum(y, FLOOR),
                        color=loss_color(loss),
                        marker=loss_marker(loss),
                        markersize=4.5,
                        linestyle=SOLVER_LINES.get(solver, "-"),
                        linewidth=1.5,
                    )
                    col = "exact_error" if measure == "opt_error" else "exact_rmse"
                    level = grp[col].dropna()
                    if len(level):
                        mcse = grp["exact_mcse"].dropna() if measure == "rmse" else pd.Series([])
                        levels[loss] = (
                            float(level.iloc[0]),
                            float(mcse.iloc[0]) if len(mcse) else 0.0,
                        )
                for loss, (level, mcse) in levels.items():
                    ax.axhline(level, color=loss_color(loss), linestyle=EXACT_LINE, linewidth=1.2)
                    if mcse > 0:
                        ax.axhspan(
                            level - 1.96 * mcse,
                            level + 1.96 * mcse,
                            color=loss_color(loss),
                            alpha=0.12,
                            lw=0,
                        )
                ax.set_xscale("log")
                ax.set_yscale("log")
                if i == 0:
                    ax.set_title(base if not math.isfinite(n) else f"{base}, n = {int(n)}")
                else:
                    ax.set_xlabel("steps")
                if j == 0:
                    ax.set_ylabel(label)
        handles = loss_solver_handles(losses, list(solvers))
        handles.append(Line2D([], [], color="0.3", linestyle=EXACT_LINE, label="exact fit"))
        title = "Learning curves (log–log)"
        if floored:
            title += f"; values below {FLOOR:g} drawn at it"
        _header(fig, title, handles)
    return fig


def learning_alt(curves: pd.DataFrame, term: str) -> str:
    """What the figure shows, in words, for its alt text."""
    n = shown_n(curves)
    sub = curves[(curves["measure"] == "opt_error") & curves["usable"]]
    if math.isfinite(n):
        sub = sub[sub["n"] == n]
    parts = []
    for (loss, solver), grp in sub.groupby(["loss", "solver"], sort=False):
        last = grp[grp["steps"] == grp["steps"].max()]
        lo, hi = f"{last['value'].min():.2g}", f"{last['value'].max():.2g}"
        parts.append(
            f"{loss_name(loss)} by {SOLVER_NAMES.get(solver, solver)}: distance to the exact fit "
            f"{lo if lo == hi else f'{lo}–{hi}'} after {int(grp['steps'].max())} steps"
        )
    where = f" at n = {int(n)}" if math.isfinite(n) else ""
    return (
        f"Log–log line charts against the number of steps{where}, one column per error law: "
        "top, the distance of the trained coefficients to the exact fit; bottom, the RMSE of "
        f"{term}; dashed lines mark the exact fit. " + "; ".join(parts) + "."
    )
