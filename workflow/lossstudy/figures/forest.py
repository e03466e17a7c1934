"""Forest plots of the performance table: bias and coverage with their 95% Monte Carlo intervals
against a null line (0, the nominal level), one panel per scenario group, one colour per n.

Why a module: both figures are the same plot (``_forest``) of a different measure; what they
ask is whether a measure differs from its target beyond Monte Carlo error, which needs the
intervals and, for coverage, the band that Monte Carlo error alone would produce.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ._data import Z, _Data, _reason
from ._style import _empty, _finish, _legend, _note, _panels, _rc, _suptitle


def _forest(
    data: _Data,
    measure: str,
    null: float,
    title: str,
    xlabel: str,
    band: Mapping[str, float] | None = None,
    xlim: tuple[float | None, float | None] = (None, None),
) -> Figure:
    ests = data.estimators
    groups = data.groups
    ncolors = data.n_colors()
    k = max(len(data.ns), 1)
    panel_h = 0.27 * len(ests) * (1 + 0.25 * (k - 1)) + 0.7
    fig, axes = _panels(len(groups), 3.0, panel_h, sharey=True)
    offsets = np.linspace(-0.28, 0.28, k) if k > 1 else np.zeros(1)
    markers = ["o", "s", "D", "^", "v", "P", "X", "*"]
    for ax, g in zip(axes, groups, strict=True):
        members = data.members(g)
        if band is not None:
            half = max(band.get(s, 0.0) for s in members)
            if half > 0:
                ax.axvspan(null - half, null + half, color="0.88", lw=0, zorder=0)
        ax.axvline(null, color="0.2", lw=0.8, ls="--", zorder=1)
        for i, e in enumerate(ests):
            missing = []
            for s in members:
                n = data.n_of[s]
                idx = data.ns.index(n) if n in data.ns else 0
                y = i + offsets[idx]
                v, m, ok = data.value(s, e, measure)
                if not ok:
                    missing.append(s)
                    continue
                col = ncolors.get(n, "0.3") if data.ns else "0.3"
                err = Z * m if np.isfinite(m) else 0.0
                ax.errorbar(
                    v,
                    y,
                    xerr=err,
                    fmt=markers[idx % len(markers)],
                    color=col,
                    ms=3.6,
                    lw=1.0,
                    capsize=0,
                    zorder=3,
                )
            if missing and len(missing) == len(members):
                _note(
                    ax,
                    0.02,
                    i,
                    _reason(data, members[-1], e, measure),
                    transform=ax.get_yaxis_transform(),
                )
            elif missing:
                ns = ", ".join(str(int(data.n_of[s])) for s in missing if np.isfinite(data.n_of[s]))
                _note(
                    ax,
                    0.98,
                    i,
                    f"{_reason(data, missing[0], e, measure)} (n = {ns})",
                    transform=ax.get_yaxis_transform(),
                    ha="right",
                )
        ax.set_yticks(range(len(ests)))
        ax.set_yticklabels(ests)
        ax.set_ylim(len(ests) - 0.5, -0.5)
        lo, hi = xlim
        if lo is not None or hi is not None:
            cur = ax.get_xlim()
            ax.set_xlim(
                cur[0] if lo is None else min(lo, cur[0]), cur[1] if hi is None else max(cur[1], hi)
            )
        ax.set_title(g, loc="left")
        ax.set_xlabel(xlabel)
        ax.grid(axis="y", visible=False)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4))
        ax.xaxis.get_offset_text().set_fontsize(6.5)
    if len(data.ns) > 1:
        handles = [
            plt.Line2D([], [], marker=markers[i % len(markers)], color=ncolors[n], ls="", ms=4)
            for i, n in enumerate(data.ns)
        ]
        _legend(fig, handles=handles, labels=[f"n = {int(n)}" for n in data.ns], ncol=len(data.ns))
    _suptitle(fig, title)
    _finish(fig)
    return fig


def fig_bias(perf: pd.DataFrame, scenarios: pd.DataFrame | None = None, term: str = "x1") -> Figure:
    """Forest plot of bias ± 1.96 MCSE per estimator, one panel per scenario group."""
    with plt.rc_context(_rc()):
        data = _Data(perf, scenarios, term)
        if not data.scenarios:
            return _empty("no scenarios")
        return _forest(
            data,
            "bias",
            0.0,
            f"Bias of {data.term} with 95% Monte Carlo intervals",
            "bias",
        )


def fig_coverage(
    perf: pd.DataFrame,
    scenarios: pd.DataFrame | None = None,
    term: str = "x1",
    level: float = 0.95,
) -> Figure:
    """Forest plot of coverage ± 1.96 MCSE with the nominal line and its Monte Carlo band."""
    with plt.rc_context(_rc()):
        data = _Data(perf, scenarios, term)
        if not data.scenarios:
            return _empty("no scenarios")
        band = {}
        for s in data.scenarios:
            nused = [
                r.n_used
                for e in data.estimators
                if (r := data.get(s, e, "coverage")) is not None and r.n_used > 0
            ]
            if nused:
                band[s] = Z * math.sqrt(level * (1 - level) / max(nused))
        return _forest(
            data,
            "coverage",
            level,
            f"Coverage of nominal {level:.0%} intervals for {data.term} "
            "(95% Monte Carlo intervals)",
            "coverage",
            band=band,
            xlim=(None, 1.0),
        )
