"""Figures of the performance table, one number per scenario × estimator: the MSE split into
bias² and variance, the relative-efficiency heat map, and MSE against n.

Why together: they answer "which estimator is more accurate, and where" from the summarised
measures alone (no per-replicate estimates), each on its own scale: per scenario
(decomposition), per scenario × estimator (heat map) and per scenario group along n.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import (
    LogFormatterSciNotation,
    LogLocator,
    MaxNLocator,
)

from lossstudy.answer.compare import within
from lossstudy.mcse import Z_TIE

from ._colors import estimator_line
from ._data import Z, _Data, _reason
from ._style import (
    _empty,
    _finish,
    _first_columns,
    _legend,
    _note,
    _panels,
    _rc,
    _scenario_axes,
    _shade,
    _suptitle,
)

_MARKERS = ("o", "s", "D", "^", "v", "P", "X", "*", "<", ">")


def fig_mse_decomposition(
    perf: pd.DataFrame, scenarios: pd.DataFrame | None = None, term: str = "x1"
) -> Figure:
    """Stacked bias² + variance (EmpSE²) per estimator, one panel per scenario."""
    with plt.rc_context(_rc()):
        data = _Data(perf, scenarios, term)
        if not data.scenarios:
            return _empty("no scenarios")
        ests = data.estimators
        panel_h = 0.24 * len(ests) + 0.75
        fig, axes = _scenario_axes(data, 3.3, panel_h)
        y = np.arange(len(ests))
        first_col = _first_columns(axes)
        for s, ax in axes.items():
            xmax = 0.0
            for i, e in enumerate(ests):
                b, _, bok = data.value(s, e, "bias")
                sd, _, sok = data.value(s, e, "empse")
                m, mm, mok = data.value(s, e, "mse")
                if not (bok and sok):
                    _note(
                        ax, 0.02, i, _reason(data, s, e, "bias"), transform=ax.get_yaxis_transform()
                    )
                    continue
                col = data.palette[e]
                ax.barh(i, b * b, color=_shade(col, 0.55), height=0.7, lw=0)
                ax.barh(i, sd * sd, left=b * b, color=_shade(col, -0.45), height=0.7, lw=0)
                xmax = max(xmax, b * b + sd * sd)
                if mok:
                    lo = max(m - Z * mm, 0.0) if np.isfinite(mm) else m
                    hi = m + Z * mm if np.isfinite(mm) else m
                    ax.plot([lo, hi], [i, i], color="black", lw=0.9)
                    ax.plot([m], [i], marker="|", color="black", ms=7, mew=1.2)
                    xmax = max(xmax, hi)
            ax.set_xlim(0, xmax * 1.08 if xmax > 0 else 1)
            ax.set_ylim(len(ests) - 0.4, -0.6)
            ax.set_yticks(y)
            ax.set_yticklabels(ests if ax in first_col else [])
            ax.set_title(data.label(s), loc="left")
            ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
            ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4))
            ax.xaxis.get_offset_text().set_fontsize(6.5)
            ax.grid(axis="y", visible=False)
        handles = [
            Rectangle((0, 0), 1, 1, color=_shade((0.3, 0.3, 0.3), 0.55), label="bias²"),
            Rectangle(
                (0, 0), 1, 1, color=_shade((0.3, 0.3, 0.3), -0.45), label="variance (EmpSE²)"
            ),
        ]
        _legend(fig, handles=handles, ncol=2)
        _suptitle(fig, f"MSE of {data.term} = bias² + variance")
        _finish(fig)
        return fig


#: squared bias above this share of the MSE: the estimator is biased, compared by relative MSE
BIASED_SHARE = 0.05


def biased(data: _Data, scenario: str, estimator: str) -> bool:
    """Squared bias above :data:`BIASED_SHARE` of the MSE (False where either is unknown)."""
    b, _, ok_b = data.value(scenario, estimator, "bias")
    mse, _, ok_m = data.value(scenario, estimator, "mse")
    return bool(ok_b and ok_m and mse > 0 and b * b > BIASED_SHARE * mse)


def fig_relative_efficiency(
    perf: pd.DataFrame,
    scenarios: pd.DataFrame | None = None,
    term: str = "x1",
    reference: str | None = None,
    threshold: float = Z_TIE,
) -> Figure:
    """Heat map scenario × estimator of rel_efficiency, log colour scale centred at 1.

    A variance ratio is an efficiency only for a (nearly) unbiased estimator: where the squared
    bias is more than :data:`BIASED_SHARE` of the MSE, the cell shows the relative MSE instead,
    marked "ᴹ" (ridge in a collinear design: a variance ratio of 83 but a relative MSE of 0.33).
    A tie is within ``threshold`` MCSE of 1: the claims' threshold for relative comparisons
    (the scoreboard's column ``threshold``), so the figure and the text call the same ties.
    """
    with plt.rc_context(_rc()):
        data = _Data(perf, scenarios, term)
        if not data.scenarios:
            return _empty("no scenarios")
        ests = data.estimators
        rows = data.scenarios
        val = np.full((len(rows), len(ests)), np.nan)
        tie = np.zeros_like(val, dtype=bool)
        bad = np.zeros_like(val, dtype=bool)
        by_mse = np.zeros_like(val, dtype=bool)
        for i, s in enumerate(rows):
            for j, e in enumerate(ests):
                by_mse[i, j] = biased(data, s, e)
                v, m, ok = data.value(s, e, "rel_mse" if by_mse[i, j] else "rel_efficiency")
                if ok and v > 0:
                    val[i, j] = v
                    z = (v - 1) / m if np.isfinite(m) and m > 0 else (0 if v == 1 else math.inf)
                    tie[i, j] = within(z, threshold)
                else:
                    bad[i, j] = True
        logv = np.log2(val)
        fig, ax = plt.subplots(
            figsize=(0.95 * len(ests) + 3.4, 0.27 * len(rows) + 1.7), layout="constrained"
        )
        cmap = sns.color_palette("RdBu", as_cmap=True)
        norm = TwoSlopeNorm(vcenter=0.0, vmin=-3.0, vmax=3.0)
        frame = pd.DataFrame(
            np.clip(logv, -3, 3), index=[data.label(s) for s in rows], columns=ests
        )
        sns.heatmap(
            frame,
            ax=ax,
            cmap=cmap,
            norm=norm,
            mask=bad,
            linewidths=0.5,
            linecolor="white",
            cbar_kws={"label": "relative efficiency (log scale)", "shrink": 0.6},
        )
        cbar = ax.collections[0].colorbar
        ticks = [-3, -2, -1, 0, 1, 2, 3]
        cbar.set_ticks(ticks)
        cbar.set_ticklabels(["≤1/8", "1/4", "1/2", "1", "2", "4", "≥8"])
        for i in range(len(rows)):
            for j in range(len(ests)):
                if bad[i, j]:
                    ax.add_patch(
                        Rectangle(
                            (j, i), 1, 1, facecolor="0.88", hatch="////", edgecolor="0.65", lw=0
                        )
                    )
                    ax.text(
                        j + 0.5, i + 0.5, "×", ha="center", va="center", fontsize=8, color="0.3"
                    )
                    continue
                v = val[i, j]
                text = (f"{v:.3g}" if v < 1000 else f"{v:.0f}") + ("ᴹ" if by_mse[i, j] else "")
                dark = abs(logv[i, j]) > 1.6
                ax.text(
                    j + 0.5,
                    i + 0.5,
                    text,
                    ha="center",
                    va="center",
                    fontsize=6.8,
                    color="0.45" if tie[i, j] else ("white" if dark else "black"),
                    style="italic" if tie[i, j] else "normal",
                )
        # separators between scenario groups
        for i in range(1, len(rows)):
            if data.group_of[rows[i]] != data.group_of[rows[i - 1]]:
                ax.axhline(i, color="0.25", lw=0.8)
        labels = [f"{e}\n(reference)" if e == reference else e for e in ests]
        ax.set_xticks(np.arange(len(ests)) + 0.5)
        ax.set_xticklabels(labels, rotation=30, ha="right")
        ax.set_ylabel("")
        ax.set_xlabel("")
        ax.tick_params(axis="y", labelsize=7)
        ref = f" vs {reference}" if reference else ""
        ax.set_title(
            f"Relative efficiency of {data.term}{ref}: (EmpSE_ref / EmpSE)²; "
            "ᴹ: biased, relative MSE instead",
            loc="left",
        )
        return fig


def fig_mse_vs_n(
    perf: pd.DataFrame, scenarios: pd.DataFrame | None = None, term: str = "x1"
) -> Figure | None:
    """MSE against n on log–log axes per group and estimator; None if n takes one value."""
    with plt.rc_context(_rc()):
        data = _Data(perf, scenarios, term)
        if len(data.ns) < 2:
            return None
        groups = [g for g in data.groups if len(data.members(g)) > 1]
        if not groups:
            return None
        fig, axes = _panels(len(groups), 2.9, 2.4)
        for ax, g in zip(axes, groups, strict=True):
            members = data.members(g)
            anchor = None
            for e in data.estimators:
                xs, ys, es = [], [], []
                for s in members:
                    v, m, ok = data.value(s, e, "mse")
                    if ok and v > 0 and np.isfinite(data.n_of[s]):
                        xs.append(data.n_of[s])
                        ys.append(v)
                        es.append(Z * m if np.isfinite(m) else 0.0)
                if not xs:
                    continue
                if anchor is None:
                    anchor = (xs[0], ys[0])
                yv = np.asarray(ys)
                ev = np.asarray(es)
                lower = np.minimum(ev, yv * 0.95)  # keep the log axis finite
                ax.errorbar(
                    xs,
                    ys,
                    yerr=[lower, ev],
                    color=data.palette[e],
                    ls=estimator_line(e),
                    marker=_MARKERS[data.estimators.index(e) % len(_MARKERS)],
                    ms=3.2,
                    lw=1.1,
                    capsize=0,
                    label=e,
                )
            if anchor is not None:
                grid = np.array(
                    [min(data.n_of[s] for s in members), max(data.n_of[s] for s in members)]
                )
                ax.plot(grid, anchor[1] * anchor[0] / grid, color="0.5", ls=":", lw=1.0)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xticks(data.ns)
            ax.set_xticklabels([str(int(n)) for n in data.ns])
            ax.minorticks_off()
            ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=12))
            ax.yaxis.set_major_formatter(LogFormatterSciNotation(labelOnlyBase=False))
            ax.set_xlabel("n")
            ax.set_ylabel("MSE")
            ax.set_title(g, loc="left")
        handles = [
            plt.Line2D(
                [],
                [],
                color=data.palette[e],
                ls=estimator_line(e),
                marker=_MARKERS[i % len(_MARKERS)],
                ms=3.2,
                label=e,
            )
            for i, e in enumerate(data.estimators)
        ]
        handles.append(plt.Line2D([], [], color="0.5", ls=":", label="∝ 1/n"))
        _legend(fig, handles=handles, ncol=min(len(handles), 7))
        _suptitle(fig, f"MSE of {data.term} versus n (log–log)")
        _finish(fig)
        return fig
