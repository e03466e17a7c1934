"""Shared look and layout of the figures: matplotlib rc settings, panel grids that grow with the
number of scenarios, the title line with its legend, notes in place of missing values.

Why shared: every figure is drawn under the same rc context and the same fixed title band, so
the figures look alike and their sizes follow the study (scenarios, estimators), not constants;
the SVG hash salt and fixed fonts keep the files byte-identical from run to run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from lossstudy.trained import SOLVER_NAMES, loss_name

from ._colors import LOSS_COLORS as LOSS_COLORS
from ._colors import PALETTE as PALETTE
from ._colors import estimator_colors as estimator_colors
from ._colors import estimator_line as estimator_line
from ._data import _Data

DPI = 110
#: the width (inches) at which the report shows a figure: 900 CSS pixels at 96 per inch
PAGE_WIDTH = 900 / 96


def shown_points(fig: Figure, size: float) -> float:
    """The size in points a text of ``size`` points has where the report shows ``fig``: a figure
    wider than :data:`PAGE_WIDTH` is scaled down to it, a narrower one is shown as drawn."""
    return size * min(1.0, PAGE_WIDTH / fig.get_figwidth())


def _rc() -> dict[str, Any]:
    rc: dict[str, Any] = {}
    rc.update(sns.axes_style("whitegrid"))
    rc.update(sns.plotting_context("paper", font_scale=1.0))
    rc.update(
        {
            "svg.hashsalt": "lossstudy",
            "svg.fonttype": "path",
            "figure.dpi": DPI,
            "savefig.dpi": DPI,
            "font.family": "DejaVu Sans",
            "axes.titlesize": 8.5,
            "axes.labelsize": 8,
            "xtick.labelsize": 7,
            "ytick.labelsize": 7.5,
            "legend.fontsize": 7.5,
            "axes.titlepad": 3,
        }
    )
    return rc


def _panels(
    n: int, panel_w: float, panel_h: float, ncol: int | None = None, *, sharey: bool = False
) -> tuple[Figure, list[Any]]:
    """A wrapped grid of ``n`` panels; unused axes removed."""
    n = max(n, 1)
    if ncol is None:
        ncol = min(n, max(1, int(13 // panel_w)))
    ncol = max(1, min(ncol, n))
    nrow = math.ceil(n / ncol)
    fig, axes = plt.subplots(
        nrow,
        ncol,
        figsize=(panel_w * ncol + 0.6, panel_h * nrow + 0.9),
        squeeze=False,
        sharey=sharey,
    )
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.remove()
    return fig, flat[:n]


def _scenario_layout(data: _Data) -> tuple[list[tuple[str, int, int]], int, int]:
    """Positions (scenario, row, col): rows = groups x cols = n when that grid is dense."""
    if len(data.ns) > 1:
        rows = data.groups
        cols = data.ns
        cells = [
            (s, rows.index(data.group_of[s]), cols.index(data.n_of[s]))
            for s in data.scenarios
            if np.isfinite(data.n_of[s])
        ]
        keys = {(r, c) for _, r, c in cells}
        if (
            len(cells) == len(data.scenarios)
            and len(keys) == len(cells)
            and len(cells) >= 0.75 * len(rows) * len(cols)
        ):
            return cells, len(rows), len(cols)
    n = len(data.scenarios)
    ncol = min(n, 4 if n > 4 else n)
    return (
        [(s, i // ncol, i % ncol) for i, s in enumerate(data.scenarios)],
        math.ceil(n / ncol),
        ncol,
    )


def _scenario_axes(data: _Data, panel_w: float, panel_h: float) -> tuple[Figure, dict[str, Any]]:
    cells, nrow, ncol = _scenario_layout(data)
    fig, axes = plt.subplots(
        max(nrow, 1),
        max(ncol, 1),
        figsize=(panel_w * max(ncol, 1) + 0.8, panel_h * max(nrow, 1) + 0.9),
        squeeze=False,
    )
    used = {}
    for s, r, c in cells:
        used[s] = axes[r, c]
    taken = {(r, c) for _, r, c in cells}
    for r in range(axes.shape[0]):
        for c in range(axes.shape[1]):
            if (r, c) not in taken:
                axes[r, c].remove()
    return fig, used


def _first_columns(axes: Mapping[str, Any]) -> set[Any]:
    """Axes in the leftmost used column of each row (they carry the estimator labels)."""
    rows: dict[float, Any] = {}
    for ax in axes.values():
        ss = ax.get_subplotspec()
        r, c = ss.rowspan.start, ss.colspan.start
        if r not in rows or c < rows[r].get_subplotspec().colspan.start:
            rows[r] = ax
    return set(rows.values())


def _note(ax: Any, x: float, y: float, text: str, **kw: Any) -> None:
    ax.text(
        x,
        y,
        text,
        fontsize=6.5,
        color="0.35",
        style="italic",
        va="center",
        ha=kw.pop("ha", "left"),
        transform=kw.pop("transform", ax.transData),
        **kw,
    )


def _empty(message: str) -> Figure:
    fig, ax = plt.subplots(figsize=(5, 1.2))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=9)
    return fig


def _shade(color: Any, amount: float) -> tuple[float, float, float]:
    """Lighten (amount < 0) or darken (amount > 0) an RGB colour."""
    rgb = np.asarray(matplotlib.colors.to_rgb(color))
    out = rgb * (1 - amount) if amount > 0 else rgb + (1 - rgb) * (-amount)
    return tuple(float(v) for v in np.clip(out, 0, 1))  # type: ignore[return-value]


def _finish(fig: Figure) -> None:
    """Tight layout, then a fixed 0.55 in band at the top for the title line and legend."""
    fig.tight_layout()
    fig.subplots_adjust(top=1 - 0.55 / fig.get_figheight())


def _suptitle(fig: Figure, text: str) -> None:
    """A left-aligned title a fixed distance (not a fraction) from the top edge."""
    fig.suptitle(text, x=0.01, y=1 - 0.08 / fig.get_figheight(), ha="left", va="top", fontsize=10)


def _legend(fig: Figure, **kw: Any) -> None:
    """A figure legend in the title line, right-aligned."""
    fig.legend(
        loc="upper right",
        bbox_to_anchor=(0.995, 1 - 0.04 / fig.get_figheight()),
        frameon=False,
        **kw,
    )


#: one marker per loss (so the losses stay apart in grey) and one line style per solver, in every
#: training figure alike
LOSS_MARKERS = {"squared": "o", "huber": "s", "absolute": "^", "pseudo_huber": "D", "log_cosh": "v"}
SOLVER_LINES = {"gd": "-", "sgd": "--", "adam": ":", "exact": "-"}


def loss_color(loss: str) -> str:
    return LOSS_COLORS.get(loss, "#555555")


def loss_marker(loss: str) -> str:
    return LOSS_MARKERS.get(loss, "P")


def loss_solver_handles(losses: list[str], solvers: list[str]) -> list[Line2D]:
    """Legend entries of the training figures: a colour and marker per loss, then a line
    style per solver (none when ``solvers`` is empty)."""
    handles = [
        Line2D([], [], color=loss_color(loss), marker=loss_marker(loss), label=loss_name(loss))
        for loss in losses
    ]
    return handles + [
        Line2D(
            [], [], color="0.3", linestyle=SOLVER_LINES.get(s, "-"), label=SOLVER_NAMES.get(s, s)
        )
        for s in solvers
    ]


def _large_rc() -> dict[str, Any]:
    """The shared rc with text readable at the printed size (tick labels of 9 pt or more)."""
    return {
        **_rc(),
        "axes.titlesize": 10,
        "axes.labelsize": 9.5,
        "xtick.labelsize": 9,
        "ytick.labelsize": 9,
        "legend.fontsize": 9,
    }


def _header(fig: Figure, title: str, handles: list[Any]) -> None:
    """Tight layout under a two-line header: the title, then the legend on its own line (so a
    wide legend never runs into the title of a narrow figure)."""
    height = fig.get_figheight()
    fig.tight_layout()
    fig.subplots_adjust(top=1 - 0.8 / height)
    _suptitle(fig, title)
    fig.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(0.005, 1 - 0.32 / height),
        ncol=len(handles),
        frameon=False,
        handlelength=2.6,
        columnspacing=1.4,
    )
