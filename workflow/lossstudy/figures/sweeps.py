"""Sweep figures: where along a departure L2 stops winning, with theory and crossovers.

One figure per swept scenario family: the swept knob on x, one column per value of the other
factors (usually n). Top row: the relative MSE against the reference (who wins once bias
counts; for unbiased estimators the relative efficiency) on a log axis with the line at 1,
±2 MCSE bands, the theory curve (dashed) where theory applies and each crossover as a marker
with its Monte Carlo interval. Bottom row: coverage of every estimator with intervals against
the nominal level.
One more figure per estimator sweep: the focus slope's MSE against the swept parameter, with
the exact curve and the optimum.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from lossstudy.sweeps.series import Series, sweep_series
from lossstudy.sweeps.study import measure_lookup

from ._colors import estimator_line
from ._data import _palette
from ._style import _rc, _suptitle

BAND = 2.0  # ± MCSE multiple of the bands
THEORY_LINE = (0, (1, 1.2))  # dotted: dashes belong to LAD (the loss families' line styles)
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
_NICE = (
    0.01,
    0.02,
    0.05,
    0.1,
    0.2,
    0.3,
    0.5,
    0.7,
    1.0,
    1.5,
    2.0,
    3.0,
    5.0,
    10.0,
    20.0,
    50.0,
    100.0,
)


def _num(frame: pd.DataFrame, col: str) -> pd.Series:
    return pd.to_numeric(frame[col], errors="coerce")


#: the comparison drawn: relative MSE, who wins once bias counts (ridge, endogeneity, omitted
#: terms); for unbiased estimators it is the relative efficiency, and the ARE theory applies
SWEEP_MEASURE = "rel_mse"


def _head(fig: Figure, title: str, handles: list[Any]) -> None:
    """Title line, then the legend in as many rows as the width needs, above the panels."""
    width = fig.get_figwidth()
    ncol = max(1, min(len(handles), int(width / 1.75)))
    rows = math.ceil(len(handles) / ncol)
    band = 0.42 + 0.2 * rows
    fig.tight_layout()
    fig.subplots_adjust(top=1 - band / fig.get_figheight())
    _suptitle(fig, title)
    fig.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(0.005, 1 - 0.3 / fig.get_figheight()),
        ncol=ncol,
        frameon=False,
        fontsize=7,
    )


def _label(measure: str, reference: str) -> str:
    if measure == "rel_mse":
        return f"MSE_{reference} / MSE  (> 1: beats {reference})"
    return f"Var_{reference} / Var  (> 1: beats {reference})"


def fig_sweep(
    perf: pd.DataFrame,
    scen: pd.DataFrame,
    crossovers: pd.DataFrame,
    curves: pd.DataFrame,
    base: str,
    knob: str,
    estimators: Sequence[str],
    reference: str,
    level: float,
    term: str = "x1",
    table: Mapping[tuple[str, str, str], tuple[float, float]] | None = None,
) -> Figure | None:
    """The sweep figure of one family and knob (see the module doc); None without series.
    ``table``: ``measure_lookup(perf, term)`` when the caller has it (building it is most of
    a figure's own time: ≈ 0.2 s over the default study's table)."""
    series = [s for s in sweep_series(scen) if s.base == base and s.knob == knob]
    if not series:
        return None
    table = measure_lookup(perf, term) if table is None else table
    measure = SWEEP_MEASURE
    others = [e for e in estimators if e != reference]
    compared = sorted(
        set(crossovers.loc[crossovers["measure"] == measure, "estimator"].astype(str))
        & set(others),
        key=list(estimators).index,
    )
    covered = [
        e
        for e in estimators
        if any(
            math.isfinite(table.get((sc, e, "coverage"), (math.nan,))[0])
            for sc in series[0].scenarios
        )
    ]
    palette = _palette(list(estimators))
    markers = {e: _MARKERS[i % len(_MARKERS)] for i, e in enumerate(estimators)}
    log_x = min(series[0].values) > 0 and max(series[0].values) / min(series[0].values) > 10
    with plt.rc_context(_rc()):
        ncol = len(series)
        fig, axes = plt.subplots(
            2, ncol, figsize=(3.1 * ncol + 0.6, 5.2), squeeze=False, sharex="col"
        )
        for c, s in enumerate(series):
            top, bottom = axes[0][c], axes[1][c]
            _comparison_panel(
                top, s, table, compared, measure, palette, crossovers, curves, reference, markers
            )
            _coverage_panel(bottom, s, table, covered, palette, level, markers)
            title = s.fixed_text or base
            top.set_title(title, loc="left")
            bottom.set_xlabel(knob)
            for ax in (top, bottom):
                if log_x:
                    ax.set_xscale("log")
                    ax.set_xticks(s.values)
                    ax.set_xticklabels([f"{v:g}" for v in s.values])
                    ax.minorticks_off()
            if c == 0:
                top.set_ylabel(_label(measure, reference))
                bottom.set_ylabel(f"coverage of {term}")
        handles = [
            plt.Line2D(
                [],
                [],
                color=palette[e],
                marker=markers[e],
                ms=3.5,
                lw=1.4,
                ls=estimator_line(e),
                label=e,
            )
            for e in estimators
            if e in compared or e in covered
        ]
        handles += [
            plt.Line2D([], [], color="0.3", ls=THEORY_LINE, lw=1.3, label="theory"),
            plt.Line2D([], [], color="k", marker="v", ls="", ms=5, label="crossover ± MC interval"),
        ]
        _head(fig, f"{base}: {knob} swept ({term})", handles)
        return fig


def _comparison_panel(
    ax: Any,
    s: Series,
    table: dict[tuple[str, str, str], tuple[float, float]],
    compared: Sequence[str],
    measure: str,
    palette: dict[str, Any],
    crossovers: pd.DataFrame,
    curves: pd.DataFrame,
    reference: str,
    markers: dict[str, str],
) -> None:
    x = np.array(s.values)
    lo_all, hi_all = [1.0], [1.0]
    for e in compared:
        vm = np.array([table.get((sc, e, measure), (math.nan, math.nan)) for sc in s.scenarios])
        v, m = vm[:, 0], vm[:, 1]
        ok = np.isfinite(v) & (v > 0)
        if not ok.any():
            continue
        lo = np.clip(v - BAND * m, v * 0.2, None)
        hi = v + BAND * m
        ax.fill_between(x[ok], lo[ok], hi[ok], color=palette[e], alpha=0.18, lw=0)
        ax.plot(
            x[ok], v[ok], color=palette[e], marker=markers[e], ms=3.5, lw=1.4, ls=estimator_line(e)
        )
        lo_all += list(lo[ok])
        hi_all += list(hi[ok])
        cur = curves[
            (curves["kind"] == "crossover")
            & (curves["scenario"] == s.base)
            & (curves["knob"] == s.knob)
            & (curves["fixed"].fillna("").astype(str) == s.fixed_text)
            & (curves["estimator"] == e)
            & (curves["measure"] == measure)
        ]
        if len(cur):
            cx, cy = _num(cur, "x").to_numpy(), _num(cur, "y").to_numpy()
            good = np.isfinite(cy) & (cy > 0)
            ax.plot(cx[good], cy[good], color=palette[e], ls=THEORY_LINE, lw=1.3, alpha=0.9)
        _mark(ax, crossovers, s, e, measure, palette[e])
    ax.axhline(1.0, color="0.25", lw=0.9)
    ax.set_yscale("log")
    lo = max(min(lo_all) * 0.9, 1e-3)
    hi = min(max(hi_all) * 1.1, 1e3)
    ax.set_ylim(lo, hi)
    ticks = [t for t in _NICE if lo <= t <= hi]
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


def _mark(ax: Any, crossovers: pd.DataFrame, s: Series, e: str, measure: str, color: Any) -> None:
    row = crossovers[
        (crossovers["scenario"] == s.base)
        & (crossovers["knob"] == s.knob)
        & (crossovers["fixed"].fillna("").astype(str) == s.fixed_text)
        & (crossovers["estimator"] == e)
        & (crossovers["measure"] == measure)
    ]
    if row.empty or not np.isfinite(float(row["crossing"].iloc[0])):
        return
    xc = float(row["crossing"].iloc[0])
    lo, hi = float(row["ci_low"].iloc[0]), float(row["ci_high"].iloc[0])
    lo = max(lo, min(s.values)) if np.isfinite(lo) else min(s.values)
    hi = min(hi, max(s.values)) if np.isfinite(hi) else max(s.values)
    trans = ax.get_xaxis_transform()
    ax.plot([lo, hi], [0.04, 0.04], color=color, lw=2.2, transform=trans, solid_capstyle="butt")
    ax.plot([xc], [0.04], marker="v", color=color, ms=6, mec="k", mew=0.5, transform=trans)
    ax.axvline(xc, color=color, lw=0.6, ls=":", alpha=0.8)


def _coverage_panel(
    ax: Any,
    s: Series,
    table: dict[tuple[str, str, str], tuple[float, float]],
    covered: Sequence[str],
    palette: dict[str, Any],
    level: float,
    markers: dict[str, str],
) -> None:
    x = np.array(s.values)
    ymin = level
    for e in covered:
        vm = np.array([table.get((sc, e, "coverage"), (math.nan, math.nan)) for sc in s.scenarios])
        v, m = vm[:, 0], vm[:, 1]
        ok = np.isfinite(v)
        if not ok.any():
            continue
        ax.fill_between(
            x[ok], (v - BAND * m)[ok], (v + BAND * m)[ok], color=palette[e], alpha=0.15, lw=0
        )
        ax.plot(
            x[ok], v[ok], color=palette[e], marker=markers[e], ms=3, lw=1.2, ls=estimator_line(e)
        )
        ymin = min(ymin, float(np.nanmin(v[ok] - BAND * m[ok])))
    ax.axhline(level, color="0.25", lw=0.9, ls="--")
    ax.set_ylim(max(0.0, ymin - 0.02), 1.0)


def fig_optimum(
    perf: pd.DataFrame,
    optima: pd.DataFrame,
    curves: pd.DataFrame,
    family: str,
    members: dict[str, float],
    cells: Sequence[str],
    term: str = "x1",
    table: Mapping[tuple[str, str, str], tuple[float, float]] | None = None,
) -> Figure | None:
    """MSE of ``term`` against the family's parameter in each of ``cells``, exact curve and
    optimum with its bootstrap interval; None when no cell has estimates. ``table`` as for
    :func:`fig_sweep`."""
    table = measure_lookup(perf, term) if table is None else table
    rows = optima[(optima["estimator"] == family) & optima["cell"].isin(cells)]
    if rows.empty:
        return None
    names = sorted(members, key=members.get)
    xs = np.array([members[n] for n in names])
    with plt.rc_context(_rc()):
        fig, axes = plt.subplots(1, len(rows), figsize=(3.1 * len(rows) + 0.6, 2.9), squeeze=False)
        for ax, (_, row) in zip(axes[0], rows.iterrows(), strict=True):
            sid = str(row["cell"])
            vm = np.array([table.get((sid, n, "mse"), (math.nan, math.nan)) for n in names])
            v, m = vm[:, 0], vm[:, 1]
            ok = np.isfinite(v)
            ax.fill_between(
                xs[ok], (v - BAND * m)[ok], (v + BAND * m)[ok], color="C0", alpha=0.2, lw=0
            )
            ax.plot(xs[ok], v[ok], color="C0", marker="o", ms=3, lw=1.4)
            cur = curves[
                (curves["kind"] == "optimum")
                & (curves["estimator"] == family)
                & (curves["scenario"] == row["scenario"])
                & (
                    curves["fixed"].fillna("").astype(str) == str(row["fixed"])
                    if pd.notna(row["fixed"])
                    else True
                )
            ]
            if len(cur):
                ax.plot(_num(cur, "x"), _num(cur, "y"), color="0.3", ls="--", lw=1.0)
            am, lo, hi = (float(row[c]) for c in ("argmin", "ci_low", "ci_high"))
            trans = ax.get_xaxis_transform()
            if np.isfinite(am):
                ax.plot([lo, hi], [0.04, 0.04], color="C3", lw=2.2, transform=trans)
                ax.plot(
                    [am], [0.04], marker="v", color="C3", ms=6, mec="k", mew=0.5, transform=trans
                )
            th = float(row["theory"]) if pd.notna(row["theory"]) else math.nan
            if np.isfinite(th):
                ax.axvline(th, color="0.3", lw=0.8, ls=":")
            ax.set_xscale("symlog", linthresh=max(min(x for x in xs if x > 0), 1e-3))
            ax.set_xticks(xs)
            # label every other value on a crowded log axis; the first and last always
            keep = {0, len(xs) - 1, *range(0, len(xs), 2 if len(xs) > 6 else 1)}
            ax.set_xticklabels([f"{x:g}" if i in keep else "" for i, x in enumerate(xs)])
            ax.minorticks_off()
            ax.set_xlabel(str(row["parameter"]))
            ax.set_title(
                str(row["fixed"]) if pd.notna(row["fixed"]) and row["fixed"] else sid, loc="left"
            )
        axes[0][0].set_ylabel(f"MSE of {term}")
        handles = [
            plt.Line2D([], [], color="C0", marker="o", ms=3, label="simulated ± 2 MCSE"),
            plt.Line2D([], [], color="0.3", ls="--", label="exact MSE"),
            plt.Line2D([], [], color="0.3", ls=":", label="exact argmin"),
            plt.Line2D(
                [], [], color="C3", marker="v", ls="", label="simulated argmin ± 95% interval"
            ),
        ]
        _head(
            fig, f"{family}: MSE against {rows['parameter'].iloc[0]} ({rows['scenario'].iloc[0]})",
            handles,
        )  # fmt: skip
        return fig
