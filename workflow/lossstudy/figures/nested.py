"""The nested-loop plot (Rücker & Schwarzer 2014): every cell of the study on one x axis.

The cells (scenarios) are ordered lexicographically by the factors of the design, the outermost
changing slowest: the scenario family (``base``, in file order), then the value of the knob the
family is swept along, then ``n``. A performance measure is drawn per estimator as a step line
over that axis; below it thin step lines show each factor's level (the "nested loop" legend), as
``rsimsum``'s ``autoplot(type = "nlp")`` and ``siman`` draw it. Families sweep different knobs, so
the sweep is drawn as the position within the family's own sweep (0 = lowest value, 1 = highest)
and each family's span is labelled with its name and its knob's range.

Why a separate module: the ordering (:func:`nested_order`) is a pure function of
``scenarios.csv`` that the tests check on its own; the drawing needs a layout in inches (its
width grows with the number of cells) rather than the panel grids of :mod:`._style`.
"""

from __future__ import annotations

import math
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextPath
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

from lossstudy.answer.roles import _knob_columns
from lossstudy.measures import MEASURES, names

from ._colors import estimator_line
from ._data import _Data, _guess_reference
from ._style import PAGE_WIDTH, _empty, _rc

__all__ = ["fig_nested_loop", "nested_order"]

#: Measures relative to the reference estimator (the reference itself is constant there).
RELATIVE = frozenset(names(relative=True))
#: Measures drawn on a log axis when all their values are positive.
_LOG = frozenset(names(log_scale=True))
#: Horizontal reference line of a measure (no line for measures not listed).
_REFLINE = {m.name: m.refline for m in MEASURES if m.refline is not None}
#: What a value above the reference line means, for the y label.
_ABOVE = {"rel_mse": "above 1: lower MSE than", "rel_efficiency": "above 1: less variable than"}

_ORDER_COLUMNS = (
    "scenario",
    "family",
    "sweep",
    "level",
    "level_rank",
    "position",
    "n",
    "anchor",
    "x",
)
_FONT = FontProperties(family="DejaVu Sans")
#: the figure is drawn at the width the report shows it (:data:`._style.PAGE_WIDTH`), so its
#: text sizes are the sizes a reader sees; every label is at least :data:`_FS` points
_MAX_WIDTH = PAGE_WIDTH
_FS = 8.5
#: relative measures are drawn within 1/CLIP … CLIP on their log axis: the values beyond (ridge
#: at 0.001 or 50) are marked at the edge and named in a note instead of stretching the axis
#: so far that the differences between 0.5 and 2, where most estimators are, flatten out
CLIP = 10.0
_SHADE = "0.935"


# --------------------------------------------------------------------------- ordering


def _fmt(v: Any) -> str:
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
        return f"{float(v):g}" if np.isfinite(v) else ""
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)


def _sort_key(v: Any) -> tuple[int, float, str]:
    """Numbers ascending, then strings, then missing values."""
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return (2, 0.0, "")
    try:
        f = float(v)
    except (TypeError, ValueError):
        return (1, 0.0, str(v))
    return (0, f, "") if np.isfinite(f) else (1, 0.0, str(v))


def _numeric(v: Any) -> Any:
    """The value as a float when it is a number (``"2.5"`` from a CSV included)."""
    k = _sort_key(v)
    return k[1] if k[0] == 0 else v


def _truthy(v: Any) -> bool:
    if isinstance(v, str):
        return v.strip().lower() in ("true", "1", "yes")
    try:
        return bool(v) and not (isinstance(v, float) and math.isnan(v))
    except (TypeError, ValueError):
        return False


def nested_order(scen: pd.DataFrame) -> pd.DataFrame:
    """The cells of the study in nested-loop order, one row per scenario.

    Order: family (``base``, first appearance in file order; the scenario id when there is no
    ``base``), then the swept knob's value (numbers ascending, then strings, missing last), then
    ``n`` ascending; ties keep file order. The swept knob of a family is the one named in its
    ``sweep`` column when that names a column of ``scen``, followed by any other knob column that
    varies within the family (so a grid over another knob still gives distinct cells); without a
    ``sweep`` column it is just the knobs that vary. A family where no knob varies has one level.

    Columns: ``scenario``; ``family``; ``sweep`` (the swept knobs joined by " × ", "" if none);
    ``level`` (the cell's value(s) of those knobs as text, "" if none); ``level_rank`` (0, 1, …
    within the family); ``position`` (``level_rank`` scaled to [0, 1], NaN for a family with
    one level); ``n`` (float, NaN if absent); ``anchor`` (the ``anchor`` column as bool, False
    without it); ``x`` (0, 1, … along the axis).
    """
    if scen is None or not len(scen):
        return pd.DataFrame({c: [] for c in _ORDER_COLUMNS})
    sc = scen.reset_index(drop=True)
    sid = sc["scenario"].astype(str)
    if "base" in sc.columns:
        fam = sc["base"].where(sc["base"].notna() & (sc["base"].astype(str) != ""), sid)
        fam = fam.astype(str)
    else:
        fam = sid
    n = (
        pd.to_numeric(sc["n"], errors="coerce")
        if "n" in sc.columns
        else pd.Series(np.nan, sc.index)
    )
    anchor = (
        sc["anchor"].map(_truthy) if "anchor" in sc.columns else pd.Series(False, index=sc.index)
    )
    knobs = [k for k in _knob_columns(sc) if k not in ("sweep", "anchor")]
    rows: list[dict[str, Any]] = []
    for family in dict.fromkeys(fam):
        idx = [i for i in range(len(sc)) if fam.iloc[i] == family]
        named: list[str] = []
        if "sweep" in sc.columns:
            for v in sc["sweep"].iloc[idx]:
                s = "" if pd.isna(v) else str(v).strip()
                if s and s != "n" and s in knobs and s not in named:
                    named.append(s)
        varying = [
            k
            for k in knobs
            if k not in named and sc[k].iloc[idx].map(lambda v: _fmt(_numeric(v))).nunique() > 1
        ]
        swept = named + varying
        values = {i: tuple(_numeric(sc[k].iloc[i]) for k in swept) for i in idx}
        level_key = {i: tuple(_sort_key(v) for v in values[i]) for i in idx}
        nkey = {i: (0, float(n.iloc[i])) if np.isfinite(n.iloc[i]) else (1, 0.0) for i in idx}
        idx.sort(key=lambda i: (level_key[i], nkey[i]))  # stable: ties keep file order
        levels = list(dict.fromkeys(level_key[i] for i in idx))
        for i in idx:
            rank = levels.index(level_key[i])
            if len(swept) == 1:
                label = _fmt(values[i][0])
            else:
                label = ", ".join(f"{k}={_fmt(v)}" for k, v in zip(swept, values[i], strict=True))
            rows.append(
                {
                    "scenario": sid.iloc[i],
                    "family": family,
                    "sweep": " × ".join(swept),
                    "level": label,
                    "level_rank": rank,
                    "position": rank / (len(levels) - 1) if len(levels) > 1 else math.nan,
                    "n": float(n.iloc[i]),
                    "anchor": bool(anchor.iloc[i]),
                }
            )
    out = pd.DataFrame(rows, columns=list(_ORDER_COLUMNS[:-1]))
    out["x"] = np.arange(len(out))
    return out


# --------------------------------------------------------------------------- drawing


def _text_width(text: str, size: float) -> float:
    """Width in inches of ``text`` at ``size`` points (deterministic, no renderer needed)."""
    if not text:
        return 0.0
    return float(TextPath((0, 0), text, size=size, prop=_FONT).get_extents().width) / 72.0


def _fit(text: str, size: float, width: float) -> str:
    """``text`` cut with an ellipsis to at most ``width`` inches."""
    if _text_width(text, size) <= width:
        return text
    while len(text) > 1 and _text_width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"


def _family_label(cells: pd.DataFrame) -> tuple[str, str]:
    """(family name, "knob lo→hi") for one family's cells."""
    family = str(cells["family"].iloc[0])
    sweep = str(cells["sweep"].iloc[0])
    levels = list(dict.fromkeys(cells["level"]))
    if not sweep:
        return family, ""
    if len(levels) == 1:
        return family, f"{sweep} {levels[0]}"
    return family, f"{sweep} {levels[0]}→{levels[-1]}"


def _cells(data: _Data, scen: pd.DataFrame | None) -> pd.DataFrame:
    """:func:`nested_order` restricted to the scenarios of the table (those missing from
    ``scen`` appended, each its own family)."""
    known = scen if scen is not None and len(scen) else pd.DataFrame({"scenario": []})
    known = known.assign(scenario=known["scenario"].astype(str))
    extra = data.meta[~data.meta["scenario"].isin(set(known["scenario"]))]
    if len(extra):
        add = pd.DataFrame({"scenario": extra["scenario"], "base": extra["group"], "n": extra["n"]})
        known = pd.concat([known, add], ignore_index=True)
    cells = nested_order(known)
    cells = cells[cells["scenario"].isin(set(data.scenarios))].reset_index(drop=True)
    cells["x"] = np.arange(len(cells))
    return cells


def _runs(keys: list[Any]) -> list[tuple[int, int]]:
    """[start, stop) of the runs of equal consecutive keys."""
    out: list[tuple[int, int]] = []
    start = 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i] != keys[start]:
            out.append((start, i))
            start = i
    return out


def _post(y: np.ndarray) -> np.ndarray:
    """Values at the cell edges 0..N for a steps-post line (the last value repeated)."""
    return np.append(y, y[-1:]) if len(y) else y


def fig_nested_loop(
    perf: pd.DataFrame,
    scen: pd.DataFrame,
    term: str = "x1",
    measure: str = "rel_mse",
    reference: str | None = None,
) -> Figure:
    """Nested-loop plot of ``measure`` for ``term``: every scenario along x, one step line per
    estimator, the design factors as step lines and family spans underneath.

    The reference estimator (``reference``, else the one whose ``rel_efficiency`` is exactly 1)
    is left out for the relative measures, where it is 1 (0 for ``rel_precision``) by definition;
    for the other measures every estimator is drawn, and so are estimators whose relative value
    is exactly 1 with MCSE 0 wherever defined (OLS with other standard errors: the same point
    estimates) only as a note. Undefined or non-finite values are gaps; the light band around
    each line is ± 2 MCSE.

    Why this y axis: a relative measure on a log axis clipped to 1/:data:`CLIP` … :data:`CLIP`
    with the clipped values marked (▲ ▼ at the edge) and listed in a note. A full log axis
    spans five decades for one estimator (ridge) and squeezes the others into a band; a symlog
    axis bends the ratio scale around 1, and a panel per family would repeat the loop legend.
    """
    with plt.rc_context(_rc()):
        data = _Data(perf, scen, term)
        cells = _cells(data, scen)
        if not len(cells):
            return _empty("no scenarios")
        if reference is None:
            reference = _guess_reference(data)
        ests = [e for e in data.estimators if not (measure in RELATIVE and e == reference)]
        same = [e for e in ests if measure in RELATIVE and _same_as_reference(data, e, measure)]
        ests = [e for e in ests if e not in same]
        ncell = len(cells)
        sids = list(cells["scenario"])
        vals: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for e in ests:
            v = np.full(ncell, np.nan)
            m = np.full(ncell, np.nan)
            for i, s in enumerate(sids):
                value, mcse, ok = data.value(s, e, measure)
                if ok:
                    v[i], m[i] = value, mcse
            vals[e] = (v, m)
        finite = np.concatenate([v[np.isfinite(v)] for v, _ in vals.values()] or [np.empty(0)])
        log = measure in _LOG and len(finite) > 0 and bool((finite > 0).all())
        clip = log and measure in RELATIVE

        # ---- layout in inches: title+legend, main panel, loop bands, family labels
        families = _runs(list(cells["family"]))
        ns = sorted({n for n in cells["n"] if np.isfinite(n)})
        has_sweep = bool(np.isfinite(cells["position"].to_numpy(dtype=float)).any())
        width = float(np.clip(2.4 + 0.095 * ncell, 6.5, _MAX_WIDTH))
        left, right = 1.2, 0.45
        plot_w = width - left - right
        cell_w = plot_w / ncell
        # family labels: horizontal on two lines where they fit, else rotated
        fs_name, fs_knob = 9.0, _FS
        labels = []
        rot_h = 0.0
        for a, b in families:
            name, knob = _family_label(cells.iloc[a:b])
            span = (b - a) * cell_w - 0.05
            flat = max(_text_width(name, fs_name), _text_width(knob, fs_knob)) <= span
            if flat:
                labels.append((a, b, name, knob, False))
                continue
            two = span >= 0.22 and bool(knob)
            name = _fit(name, fs_name, 1.5)
            knob = _fit(knob, fs_knob, 1.5) if two else ""
            rot_h = max(rot_h, _text_width(name, fs_name), _text_width(knob, fs_knob))
            labels.append((a, b, name, knob, True))
        label_h = max(0.5, rot_h + 0.12)
        band_n = max(0.45, 0.15 * len(ns)) if ns else 0.0
        band_s = 0.5 if has_sweep else 0.0
        handles_n = len(ests) + 2
        ncol = max(1, min(handles_n, int((width - 0.3) // 1.55)))
        top = 0.42 + 0.2 * math.ceil(handles_n / ncol)
        main_h = 3.4
        gap = 0.06
        height = top + main_h + gap + band_n + band_s + label_h + 0.12
        fig = plt.figure(figsize=(width, height))

        def axes(y0: float, h: float, label: str) -> Any:
            ax = fig.add_axes((left / width, y0 / height, plot_w / width, h / height), label=label)
            ax.set_xlim(0, ncell)
            return ax

        y = 0.12
        ax_lab = axes(y, label_h, "families")
        y += label_h
        ax_loop = axes(y, band_n + band_s, "loops") if band_n + band_s > 0 else None
        y += band_n + band_s + gap
        ax = axes(y, main_h, "main")
        panels = [a for a in (ax, ax_loop, ax_lab) if a is not None]
        for k, (a, b) in enumerate(families):
            for p in panels:
                if k % 2 == 1:
                    p.axvspan(a, b, color=_SHADE, lw=0, zorder=0)
                if a > 0:
                    p.axvline(a, color="0.78", lw=0.5, zorder=0.5)

        # ---- main panel
        xe = np.arange(ncell + 1)
        beyond: list[str] = []
        for e in ests:
            v, m = vals[e]
            col = data.palette[e]
            if log:
                v = np.where(v > 0, v, np.nan)
            if clip:
                v, text = _clip(ax, v, col)
                if text:
                    beyond.append(f"{e} {text}")
            ok = np.isfinite(v) & np.isfinite(m)
            lo = np.where(ok, v - 2 * m, np.nan)
            hi = np.where(ok, v + 2 * m, np.nan)
            if log:
                lo = np.where(ok, np.maximum(lo, v / 4), np.nan)
            if ok.any():
                ax.fill_between(
                    xe, _post(lo), _post(hi), step="post", color=col, alpha=0.13, lw=0, zorder=1
                )
            ax.plot(
                xe,
                _post(v),
                drawstyle="steps-post",
                color=col,
                lw=1.3,
                ls=estimator_line(e),
                label=e,
                gid=f"estimator:{e}",
                zorder=3,
            )
        # cells where no estimator has a value: hatched and marked, not left blank
        empty = [not any(np.isfinite(vals[e][0][i]) for e in ests) for i in range(ncell)]
        for a, b in _runs(empty):
            if not empty[a]:
                continue
            ax.axvspan(a, b, facecolor="none", edgecolor="0.75", hatch="////", lw=0, zorder=0.6)
            flat = _text_width("no value", _FS) <= (b - a) * cell_w - 0.04
            ax.text(
                (a + b) / 2,
                0.5,
                "no value",
                rotation=0 if flat else 90,
                ha="center",
                va="center",
                fontsize=_FS,
                color="0.35",
                style="italic",
                transform=ax.get_xaxis_transform(),
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.0},
            )
        refline = _REFLINE.get(measure)
        if refline is not None and not (log and refline <= 0):
            ax.axhline(refline, color="0.25", lw=0.8, ls="--", zorder=2)
        if log:
            ax.set_yscale("log")
            lo_v, hi_v = float(finite.min()), float(finite.max())
            if clip:
                lo_v, hi_v = max(lo_v, 1 / CLIP), min(hi_v, CLIP)
            if refline is not None:
                lo_v, hi_v = min(lo_v, refline), max(hi_v, refline)
            pad = (math.log10(hi_v) - math.log10(lo_v)) * 0.06 + 0.02
            ax.set_ylim(lo_v / 10**pad, hi_v * 10**pad)
            if beyond:
                _note_beyond(ax, beyond)
            subs = (1.0, 2.0, 5.0) if math.log10(hi_v / lo_v) < 2.5 else (1.0,)
            ax.yaxis.set_major_locator(LogLocator(base=10, subs=subs, numticks=15))
            ax.yaxis.set_minor_locator(NullLocator())
            ax.yaxis.set_major_formatter(FuncFormatter(lambda t, _: f"{t:g}"))
        ref_txt = f" vs {reference}" if measure in RELATIVE and reference else ""
        ylabel = f"{measure}{ref_txt}" + (" (log)" if log else "")
        if measure in _ABOVE and reference:
            ylabel += f"\n{_ABOVE[measure]} {reference}"
        ax.set_ylabel(ylabel, fontsize=9)
        ax.tick_params(axis="y", labelsize=9)
        ax.set_xticks([])
        ax.grid(axis="x", visible=False)
        ax.tick_params(axis="x", length=0)

        # ---- nested-loop legend: n (log, own band) and position in the sweep (own band)
        if ax_loop is not None:
            ax_loop.set_ylim(0, band_n + band_s)
            ax_loop.set_yticks([])
            ax_loop.grid(False)
            for sp in ax_loop.spines.values():
                sp.set_visible(False)
            ticks, names = [], []
            if ns:
                y0 = band_s + 0.07
                span = band_n - 0.13
                ln = np.log(np.asarray(ns))
                rng = float(ln[-1] - ln[0]) or 1.0

                def ny(n: float) -> float:
                    return y0 + span * ((math.log(n) - ln[0]) / rng if len(ns) > 1 else 0.5)

                yn = np.array([ny(n) if np.isfinite(n) else np.nan for n in cells["n"]])
                ax_loop.plot(xe, _post(yn), drawstyle="steps-post", color="0.15", lw=0.8)
                for n in ns:
                    ax_loop.text(
                        ncell + 0.05 / cell_w,  # 0.05 in right of the last cell
                        ny(n),
                        f"{n:g}",
                        fontsize=_FS,
                        va="center",
                        ha="left",
                        color="0.25",
                    )
                ticks.append(y0 + span / 2)
                names.append("n (log)")
            if has_sweep:
                y0 = 0.17
                span = band_s - 0.24
                pos = cells["position"].to_numpy(dtype=float)
                ys = y0 + span * pos
                ax_loop.plot(xe, _post(ys), drawstyle="steps-post", color="0.15", lw=0.8)
                # one marker per run of anchor cells (the anchor level at every n)
                flags = list(cells["anchor"] & np.isfinite(pos))
                anchors = [(a, b) for a, b in _runs(flags) if flags[a]]
                if anchors:
                    ax_loop.plot(
                        [(a + b) / 2 for a, b in anchors],
                        [ys[a] for a, _ in anchors],
                        ls="none",
                        marker="D",
                        ms=3.2,
                        mfc="white",
                        mec="0.15",
                        mew=0.6,
                        gid="anchors",
                    )
                # the swept values under their steps, where they fit
                for a, b in families:
                    for ra, rb in _runs(list(cells["level_rank"].iloc[a:b])):
                        if not np.isfinite(pos[a + ra]):
                            continue
                        text = str(cells["level"].iloc[a + ra])
                        if _text_width(text, _FS) <= (rb - ra) * cell_w - 0.03:
                            ax_loop.text(
                                a + (ra + rb) / 2,
                                0.02,
                                text,
                                fontsize=_FS,
                                ha="center",
                                va="bottom",
                                color="0.3",
                            )
                ticks.append(y0 + span / 2)
                names.append("position in\nsweep (0→1)")
            ax_loop.set_yticks(ticks)
            ax_loop.set_yticklabels(names, fontsize=_FS)
            ax_loop.tick_params(axis="y", length=0, pad=2)
            ax_loop.set_xticks([])

        # ---- family spans
        ax_lab.set_ylim(0, 1)
        ax_lab.set_yticks([])
        ax_lab.set_xticks([])
        ax_lab.grid(False)
        for sp in ax_lab.spines.values():
            sp.set_visible(False)
        for a, b, name, knob, rotated in labels:
            mid = (a + b) / 2
            if rotated:
                text = f"{name}\n{knob}" if knob else name
                ax_lab.text(
                    mid,
                    1 - 0.05 / label_h,
                    text,
                    rotation=90,
                    ha="center",
                    va="top",
                    fontsize=fs_knob if knob else fs_name,
                    linespacing=1.0,
                    color="0.15",
                )
            else:
                ax_lab.text(mid, 0.62, name, ha="center", va="center", fontsize=fs_name)
                if knob:
                    ax_lab.text(
                        mid, 0.25, knob, ha="center", va="center", fontsize=fs_knob, color="0.3"
                    )

        # ---- title and legend
        handles = [
            plt.Line2D([], [], color=data.palette[e], lw=1.4, ls=estimator_line(e), label=e)
            for e in ests
        ] + [plt.Rectangle((0, 0), 1, 1, color="0.5", alpha=0.3, lw=0, label="± 2 MCSE")]
        if has_sweep and bool((cells["anchor"] & cells["position"].notna()).any()):
            handles.append(
                plt.Line2D(
                    [],
                    [],
                    ls="none",
                    marker="D",
                    ms=3.2,
                    mfc="white",
                    mec="0.15",
                    mew=0.6,
                    label="anchor of a sweep",
                )
            )
        fig.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(left / width - 0.01, 1 - 0.26 / height),
            ncol=ncol,
            frameon=False,
            handlelength=2.2,
            columnspacing=1.0,
            fontsize=9,
        )
        same_txt = f"; not drawn: {', '.join(same)} (= {reference})" if same else ""
        fig.suptitle(
            f"Nested loop of {measure} for {data.term}: {ncell} scenarios "
            f"(family › swept knob › n){same_txt}",
            x=0.01,
            y=1 - 0.08 / height,
            ha="left",
            va="top",
            fontsize=10.5,
        )
        return fig


def _same_as_reference(data: _Data, estimator: str, measure: str) -> bool:
    """True when ``estimator``'s relative ``measure`` is 1 with MCSE 0 wherever it is defined, up
    to rounding (an MCSE of 1e-9 is floating-point noise): the same point estimates as the
    reference (OLS under another SE)."""
    rows = data.perf[(data.perf["estimator"] == estimator) & (data.perf["measure"] == measure)]
    rows = rows[np.isfinite(rows["value"])]
    one = np.isclose(rows["value"], 1, rtol=0, atol=1e-9) & (rows["mcse"].fillna(0) <= 1e-6)
    return bool(len(rows)) and bool(one.all())


def _clip(ax: Any, v: np.ndarray, color: Any) -> tuple[np.ndarray, str]:
    """``v`` clipped to 1/CLIP … CLIP, ▲/▼ markers where it was, and the range beyond ("" if
    nothing was clipped)."""
    hi, lo = v > CLIP, v < 1 / CLIP
    out = np.clip(v, 1 / CLIP, CLIP)
    x = np.arange(len(v)) + 0.5
    for mask, edge, marker in ((hi, CLIP, "^"), (lo, 1 / CLIP, "v")):
        if mask.any():
            ax.plot(x[mask], np.full(int(mask.sum()), edge), ls="none", marker=marker, ms=4,
                    color=color, mec="white", mew=0.4, zorder=4, clip_on=False)  # fmt: skip
    parts = []
    if lo.any():
        parts.append(f"down to {np.nanmin(v[lo]):.2g}")
    if hi.any():
        parts.append(f"up to {np.nanmax(v[hi]):.3g}")
    return out, " and ".join(parts)


def _note_beyond(ax: Any, beyond: list[str]) -> None:
    ax.text(
        0.005,
        0.985,
        f"beyond {1 / CLIP:g}–{CLIP:g} (▲▼ at the edge): " + "; ".join(beyond),
        transform=ax.transAxes,
        ha="left",
        va="top",
        fontsize=_FS,
        color="0.2",
        bbox={"facecolor": "white", "edgecolor": "0.8", "pad": 1.5, "alpha": 0.9},
        zorder=6,
    )
