"""SGD against its step size: the risk beside its exact theory, and divergence, per loss and n.

Why this figure: the step size of SGD is bounded by its own gradient noise, not only by the
curvature that limits full-batch GD. With single-row steps over fresh data, E‖β_k − β‖² of the
squared loss is known exactly at every step (:mod:`lossstudy.theory.streaming`): it falls with η
while the pull towards β dominates, rises with the noise floor ηdσ²/(2b − η(b + d + 1)), and past
SGD's mean-square limit (far below GD's) the fits blow up. A bounded-gradient loss (Huber)
trained the same way cannot. Points are the simulation, grey lines the exact values from
``theory.csv``.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from lossstudy.trained import loss_name, loss_rank

from ._data import Z
from ._style import _header, _large_rc, loss_color, loss_marker

__all__ = ["fig_sgd_steps", "sgd_steps_alt"]

THEORY_COLOR = "0.25"
#: values below this are drawn at it on the risk axis (log)
FLOOR = 1e-4


def _ns(rows: pd.DataFrame) -> list[float]:
    return sorted({float(n) for n in rows["n"] if math.isfinite(float(n))}) or [math.nan]


def fig_sgd_steps(rows: pd.DataFrame) -> Figure | None:
    """Top: measured coefficient risk (± 1.96 MCSE, log) and its exact value (grey line) against
    η (log); bottom: share of diverged fits. One column per n, colour and marker by loss.
    ``rows``: :func:`lossstudy.trained.sgd_lr_rows`. None without such a family."""
    rows = rows[rows["usable"]]
    if rows.empty:
        return None
    ns = _ns(rows)
    losses = sorted(dict.fromkeys(rows["loss"]), key=loss_rank)
    risk = rows[rows["measure"] == "risk"]
    # the risk axis shows the range theory covers; blown-up values are drawn at its top
    known = risk["theoretical"].dropna()
    top = 30.0 * float(known.max()) if len(known) else float(risk["value"].max()) * 1.5
    clipped = False
    with plt.rc_context(_large_rc()):
        fig, axes = plt.subplots(
            2, len(ns), figsize=(3.3 * len(ns) + 0.8, 5.8), squeeze=False, sharex=True
        )
        for j, n in enumerate(ns):
            cell = rows[rows["n"] == n] if math.isfinite(n) else rows
            for i, measure in enumerate(("risk", "divergence")):
                ax = axes[i, j]
                sub = cell[cell["measure"] == measure]
                for loss in losses:
                    grp = sub[sub["loss"] == loss].sort_values("lr")
                    if grp.empty:
                        continue
                    y = grp["value"].to_numpy(dtype=float)
                    err = Z * grp["mcse"].fillna(0).to_numpy(dtype=float)
                    lower = err
                    if measure == "risk":
                        over = y > top
                        clipped |= bool(over.any())
                        y = np.clip(y, FLOOR, top)
                        err = np.where(over, 0.0, err)
                        lower = np.minimum(err, 0.9 * y)  # a log axis has no 0
                        ax.plot(
                            grp["lr"][over],
                            y[over],
                            linestyle="none",
                            marker="^",
                            markersize=8,
                            markerfacecolor="white",
                            color=loss_color(loss),
                            zorder=4,
                        )
                    ax.errorbar(
                        grp["lr"],
                        y,
                        yerr=[lower, err],
                        color=loss_color(loss),
                        marker=loss_marker(loss),
                        markersize=5,
                        linewidth=1.3,
                        capsize=2.5,
                        zorder=3,
                    )
                    th = grp[grp["theoretical"].notna()]
                    if measure == "risk" and len(th):
                        ax.plot(th["lr"], th["theoretical"], color=THEORY_COLOR, lw=3.2, alpha=0.35)
                ax.set_xscale("log")
                if measure == "risk":
                    ax.set_yscale("log")
                    ax.set_ylim(top=top * 1.6)
                    ax.set_title(f"n = {int(n)}, k = n steps" if math.isfinite(n) else "")
                else:
                    ax.set_ylim(-0.05, 1.05)
                    ax.set_xlabel("step size η")
                if j == 0:
                    ax.set_ylabel("E‖β_k − β‖²" if measure == "risk" else "share diverged")
        handles = [
            Line2D(
                [],
                [],
                color=loss_color(loss),
                marker=loss_marker(loss),
                label=f"{loss_name(loss)}, SGD",
            )
            for loss in losses
        ]
        handles.append(Line2D([], [], color=THEORY_COLOR, lw=3.2, alpha=0.35, label="exact theory"))
        title = "SGD with one row per step, one pass over fresh data"
        if clipped:
            title += f"; △: risk above {top:.3g}, drawn at the top"
        _header(fig, title, handles)
    return fig


def sgd_steps_alt(rows: pd.DataFrame) -> str:
    """What the figure shows, in words, for its alt text."""
    rows = rows[rows["usable"]]
    if rows.empty:
        return "No SGD family swept over its step size."
    parts = []
    div = rows[rows["measure"] == "divergence"]
    for loss, grp in div.groupby("loss", sort=False):
        hit = grp[grp["value"] > 0]
        parts.append(
            f"{loss_name(loss)}: "
            + (
                f"fits diverge from η = {hit['lr'].min():g}"
                if len(hit)
                else f"no fit diverges up to η = {grp['lr'].max():g}"
            )
        )
    risk = rows[(rows["measure"] == "risk") & rows["theoretical"].notna()]
    if len(risk):
        z = risk["z"].abs().max()
        parts.append(f"{len(risk)} risk values beside exact theory, largest |z| {z:.2g}")
    return (
        "Line charts against the step size (log axis), one column per n: top, the coefficient "
        "risk after one pass with exact theory as grey lines; bottom, the share of diverged "
        "fits. " + "; ".join(parts) + "."
    )
