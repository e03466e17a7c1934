"""Divergence of gradient training against the relative step size c, per loss.

Why this figure: the usual reason for L2 is that it "trains stably". With η = c · 2/λ_max(X'X/n),
c = 1 is the exact stability limit of full-batch GD on the squared loss; the figure shows, per
error law and n, which losses' fits diverge as c crosses it.
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
from ._style import SOLVER_LINES, _header, _large_rc, loss_color, loss_marker, loss_solver_handles

__all__ = ["divergence_alt", "fig_divergence"]

#: the line style of the stability limit c = 1 (no solver's)
LIMIT_LINE = "-."


def _grid(rows: pd.DataFrame) -> tuple[list[str], list[float]]:
    bases = list(dict.fromkeys(rows["base"].astype(str)))
    ns = sorted({float(n) for n in rows["n"] if math.isfinite(float(n))}) or [math.nan]
    return bases, ns


def fig_divergence(div: pd.DataFrame) -> Figure | None:
    """Share of diverged fits (± 1.96 MCSE) against ``lr_relative`` (log axis), one line per
    trained family, colour and marker by loss, line style by solver; columns: scenario base
    (error law), rows: n. ``div``: :func:`lossstudy.trained.divergence_rows`. None when no
    family is swept over c."""
    div = div[div["lr_relative"].notna()]
    swept = div.groupby("family")["lr_relative"].nunique()
    div = div[div["family"].isin(swept[swept >= 2].index)]
    if div.empty:
        return None
    bases, ns = _grid(div)
    losses = sorted(dict.fromkeys(div["loss"]), key=loss_rank)
    solvers = list(dict.fromkeys(div["solver"]))
    with plt.rc_context(_large_rc()):
        fig, axes = plt.subplots(
            len(ns),
            len(bases),
            figsize=(3.1 * len(bases) + 0.7, 2.4 * len(ns) + 1.3),
            squeeze=False,
            sharex=True,
            sharey=True,
        )
        cs = sorted(div["lr_relative"].unique())
        for i, n in enumerate(ns):
            for j, base in enumerate(bases):
                ax = axes[i, j]
                cell = div[(div["base"] == base) & ((div["n"] == n) if math.isfinite(n) else True)]
                for k, (_family, grp) in enumerate(cell.groupby("family", sort=False)):
                    grp = grp.sort_values("lr_relative")
                    loss = str(grp["loss"].iloc[0])
                    # a small horizontal offset per loss keeps overlapping lines apart
                    shift = 1.0 + 0.035 * (loss_rank(loss) - 2)
                    use = grp["usable"]
                    ax.errorbar(
                        grp.loc[use, "lr_relative"] * shift,
                        grp.loc[use, "value"],
                        yerr=Z * grp.loc[use, "mcse"].fillna(0),
                        color=loss_color(loss),
                        marker=loss_marker(loss),
                        markersize=5,
                        linestyle=SOLVER_LINES.get(str(grp["solver"].iloc[0]), "-"),
                        linewidth=1.4,
                        capsize=2.5,
                        zorder=3 + k,
                    )
                ax.axvline(1.0, color="0.3", linestyle=LIMIT_LINE, linewidth=1.2)
                ax.set_xscale("log")
                ax.set_xticks(cs)
                close = any(b / a < 1.5 for a, b in zip(cs, cs[1:], strict=False))
                ax.set_xticklabels([f"{c:g}" for c in cs], rotation=90 if close else 0)
                ax.minorticks_off()
                ax.set_ylim(-0.06, 1.06)
                ax.set_yticks([0, 0.25, 0.5, 0.75, 1])
                title = base if not math.isfinite(n) else f"{base}, n = {int(n)}"
                ax.set_title(title)
                if i == len(ns) - 1:
                    ax.set_xlabel("c = η / (2/λ_max(X'X/n))")
                if j == 0:
                    ax.set_ylabel("share diverged")
        handles = loss_solver_handles(losses, list(solvers) if len(solvers) > 1 else [])
        handles.append(
            Line2D(
                [], [], color="0.3", linestyle=LIMIT_LINE, label="c = 1: squared-loss GD's limit"
            )
        )
        _header(fig, "Share of diverged fits against the step size (± 1.96 MCSE)", handles)
    return fig


def divergence_alt(div: pd.DataFrame) -> str:
    """What the figure shows, in words, for its alt text."""
    div = div[div["lr_relative"].notna() & div["usable"]]
    parts = []
    for loss in sorted(dict.fromkeys(div["loss"]), key=loss_rank):
        rows = div[div["loss"] == loss]
        hit = rows[rows["value"] > 0]
        if hit.empty:
            parts.append(
                f"{loss_name(loss)}: no diverged fit at any c up to {rows['lr_relative'].max():g}"
            )
        else:
            parts.append(
                f"{loss_name(loss)}: diverged fits from c = {hit['lr_relative'].min():g} "
                f"(up to {100 * np.nanmax(hit['value']):.3g}%)"
            )
    return (
        "Line charts of the share of diverged fits against the relative step size c on a log "
        "axis, one panel per error law and n, with a dash-dotted line at c = 1. "
        + "; ".join(parts)
        + "."
    )
