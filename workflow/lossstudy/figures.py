"""Figures of the study (seaborn on matplotlib's Agg backend), deterministic byte for byte.

Every ``fig_*`` function takes the tidy performance table (and the scenario table or the
per-replicate estimates) and returns a :class:`matplotlib.figure.Figure`; it never hard-codes a
scenario or an estimator name, and its size grows with the number of scenarios and estimators.
:func:`make_figures` writes them all as PNG and SVG. :data:`CAPTIONS` says what to see in each.

Layout: a *group* is a set of scenarios that differ only in ``n`` (see
:func:`lossstudy.answer.scenario_groups`). Figures whose scale changes with ``n`` facet by
scenario (rows = group, columns = n when the scenarios form such a grid); the others facet by
group and colour by ``n``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.colors import TwoSlopeNorm  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from matplotlib.ticker import (  # noqa: E402
    LogFormatterSciNotation,
    LogLocator,
    MaxNLocator,
)

from lossstudy.answer import Z_TIE, scenario_groups  # noqa: E402
from lossstudy.io import atomic_path  # noqa: E402
from lossstudy.pipeline import ESTIMATE_COLUMNS

__all__ = [
    "CAPTIONS",
    "fig_bias",
    "fig_coverage",
    "fig_mse_decomposition",
    "fig_mse_vs_n",
    "fig_relative_efficiency",
    "fig_sampling_distributions",
    "fig_zip",
    "make_figures",
    "read_estimates",
]

DPI = 110
Z = 1.96
_MARKERS = ("o", "s", "D", "^", "v", "P", "X", "*", "<", ">")
CLIP_MADS = 6.0  # sampling distributions are shown within median ± this many MADs

CAPTIONS: dict[str, str] = {
    "mse_decomposition": (
        "MSE of the focus slope split into squared bias (dark) and variance (EmpSE², light), "
        "per scenario and estimator; the black tick is the MSE with its 95% Monte Carlo interval "
        "(± 1.96 MCSE). Each panel has its own scale. Look for long dark segments: the "
        "estimator pays in bias (ridge shrinkage, endogeneity, misspecification). Measures that "
        "do not exist (moments of linear estimators under infinite-variance errors) are not "
        "drawn and are marked 'undefined'; failed fits are marked 'no estimates'."
    ),
    "relative_efficiency": (
        "Relative efficiency (EmpSE_ref / EmpSE)² of each estimator against the reference, "
        "paired over replicates: above 1 (blue) the estimator is less variable than the "
        "reference, below 1 (red) more variable; colours are on a log scale centred at 1 and "
        "saturate at 1/8 and 8. Values in grey italics are within 2 MCSE of 1 (a tie). Hatched "
        "grey cells are undefined (no finite moments, no usable replicates): × marks them. For "
        "biased estimators (ridge) a smaller variance is not a smaller MSE: see the MSE figures."
    ),
    "sampling_distributions": (
        "Sampling distributions of the estimation error (estimate − true value) of the focus "
        "slope at the largest n of each scenario group. The vertical range is clipped to the "
        f"range of the data, but at most the median ± {CLIP_MADS:g} MADs of the widest estimator, "
        "so that heavy-tailed sampling "
        "distributions (OLS under Cauchy errors) do not flatten the rest; the share of "
        "replicates outside the window is printed above each violin. Failed fits are excluded."
    ),
    "bias": (
        "Bias of the focus slope with its 95% Monte Carlo interval (± 1.96 MCSE), one panel per "
        "scenario group, one colour per n. An interval that misses the dashed zero line is bias "
        "beyond Monte Carlo error. Undefined bias (no mean) is not drawn and marked."
    ),
    "coverage": (
        "Coverage of the nominal confidence intervals of the focus slope with 95% Monte Carlo "
        "intervals; the dashed line is the nominal level and the grey band the range expected "
        "from Monte Carlo error alone (nominal ± 1.96·sqrt(level·(1 − level)/R)). Estimators "
        "without intervals (ridge) are marked."
    ),
    "zip": (
        "Zip plots (Morris, White & Crowther 2019): every replicate's confidence interval, "
        "centred at the true value and ranked by |z| = |estimate − true| / SE (bottom: smallest). "
        "Blue intervals cover the truth, red ones miss it. The dashed line is the nominal level, "
        "the orange line the observed coverage with its 95% Monte Carlo band: where intervals "
        "are too narrow the red zone reaches below the dashed line."
    ),
    "mse_vs_n": (
        "MSE of the focus slope against the sample size n on log–log axes, one line per "
        "estimator and one panel per scenario group, with 95% Monte Carlo intervals. The dotted "
        "grey line has slope −1 (MSE ∝ 1/n, the rate of a consistent estimator). A line that "
        "flattens is dominated by bias that does not vanish with n. Undefined MSEs are omitted."
    ),
}


# --------------------------------------------------------------------------------------------
# style and shared preparation
# --------------------------------------------------------------------------------------------


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


class _Data:
    """The performance table for one term with scenario metadata and stable orders."""

    def __init__(
        self, perf: pd.DataFrame, scenarios: pd.DataFrame | None, term: str | None
    ) -> None:
        perf = perf.copy()
        for col in ("scenario", "estimator", "term", "measure"):
            perf[col] = perf[col].astype(str)
        terms = list(dict.fromkeys(perf["term"]))
        if term is None or term not in terms:
            slopes = [t for t in terms if t != "intercept"]
            term = slopes[0] if slopes else (terms[0] if terms else "x1")
        self.term = term
        sub = perf[perf["term"] == term].copy()
        sub["value"] = pd.to_numeric(sub["value"], errors="coerce")
        sub["mcse"] = pd.to_numeric(sub["mcse"], errors="coerce")
        if "defined" in sub.columns:
            sub["defined"] = sub["defined"].map(
                lambda v: str(v).strip().lower() in ("true", "1") if isinstance(v, str) else bool(v)
            )
        else:
            sub["defined"] = True
        if "n_used" not in sub.columns:
            sub["n_used"] = 0
        if "note" not in sub.columns:
            sub["note"] = ""
        sub["note"] = sub["note"].astype(object).where(sub["note"].notna(), "").astype(str)
        self.perf = sub
        in_perf = list(dict.fromkeys(sub["scenario"]))
        if scenarios is not None and len(scenarios):
            meta = scenario_groups(scenarios)
            meta = meta[meta["scenario"].isin(in_perf)]
            extra = [s for s in in_perf if s not in set(meta["scenario"])]
        else:
            meta = pd.DataFrame({"scenario": [], "group": [], "n": []})
            extra = in_perf
        if extra:
            meta = pd.concat(
                [meta, pd.DataFrame({"scenario": extra, "group": extra, "n": np.nan})],
                ignore_index=True,
            )
        self.meta = meta.reset_index(drop=True)
        self.scenarios: list[str] = list(self.meta["scenario"])
        self.groups: list[str] = list(dict.fromkeys(self.meta["group"]))
        self.group_of = dict(zip(self.meta["scenario"], self.meta["group"], strict=True))
        self.n_of = {
            s: float(n) for s, n in zip(self.meta["scenario"], self.meta["n"], strict=True)
        }
        self.ns: list[float] = sorted({n for n in self.n_of.values() if np.isfinite(n)})
        self.gm_normal = _gm_normal(scenarios) if scenarios is not None else set()
        self.estimators: list[str] = list(dict.fromkeys(sub["estimator"]))
        self.palette = _palette(self.estimators)
        self._index = {
            (r.scenario, r.estimator, r.measure): r
            for r in sub[
                ["scenario", "estimator", "measure", "value", "mcse", "defined", "note", "n_used"]
            ].itertuples(index=False)
        }

    def get(self, scenario: str, estimator: str, measure: str) -> Any:
        return self._index.get((scenario, estimator, measure))

    def value(self, scenario: str, estimator: str, measure: str) -> tuple[float, float, bool]:
        """(value, mcse, usable): usable means defined and finite."""
        r = self.get(scenario, estimator, measure)
        if r is None:
            return math.nan, math.nan, False
        ok = bool(r.defined) and np.isfinite(r.value)
        return float(r.value), float(r.mcse), ok

    def members(self, group: str) -> list[str]:
        out = [s for s in self.scenarios if self.group_of[s] == group]
        return sorted(out, key=lambda s: self.n_of[s] if np.isfinite(self.n_of[s]) else math.inf)

    def label(self, scenario: str) -> str:
        n = self.n_of.get(scenario, math.nan)
        g = self.group_of.get(scenario, scenario)
        return f"{g}, n = {int(n)}" if np.isfinite(n) else scenario

    def n_colors(self) -> dict[float, Any]:
        cols = sns.color_palette("crest", max(len(self.ns), 1))
        return {n: cols[i] for i, n in enumerate(self.ns)}


def _palette(names: Sequence[str]) -> dict[str, Any]:
    base = "colorblind" if len(names) <= 10 else "husl"
    cols = sns.color_palette(base, max(len(names), 1))
    return {name: cols[i] for i, name in enumerate(names)}


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


def _reason(data: _Data, scenario: str, estimator: str, measure: str) -> str:
    r = data.get(scenario, estimator, measure)
    if r is None:
        return "not reported"
    if "no intervals" in r.note:
        return "no intervals"
    if "no model SE" in r.note:
        return "no model SE"
    if r.n_used == 0 or "usable replicates" in r.note:
        return "no estimates"
    return "undefined"


def _empty(message: str) -> Figure:
    fig, ax = plt.subplots(figsize=(5, 1.2))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=9)
    return fig


# --------------------------------------------------------------------------------------------
# 1. MSE decomposition
# --------------------------------------------------------------------------------------------


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


def _first_columns(axes: Mapping[str, Any]) -> set[Any]:
    """Axes in the leftmost used column of each row (they carry the estimator labels)."""
    rows: dict[float, Any] = {}
    for ax in axes.values():
        ss = ax.get_subplotspec()
        r, c = ss.rowspan.start, ss.colspan.start
        if r not in rows or c < rows[r].get_subplotspec().colspan.start:
            rows[r] = ax
    return set(rows.values())


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


# --------------------------------------------------------------------------------------------
# 2. relative efficiency heat map
# --------------------------------------------------------------------------------------------


def fig_relative_efficiency(
    perf: pd.DataFrame,
    scenarios: pd.DataFrame | None = None,
    term: str = "x1",
    reference: str | None = None,
) -> Figure:
    """Heat map scenario × estimator of rel_efficiency, log colour scale centred at 1."""
    with plt.rc_context(_rc()):
        data = _Data(perf, scenarios, term)
        if not data.scenarios:
            return _empty("no scenarios")
        ests = data.estimators
        rows = data.scenarios
        val = np.full((len(rows), len(ests)), np.nan)
        tie = np.zeros_like(val, dtype=bool)
        bad = np.zeros_like(val, dtype=bool)
        for i, s in enumerate(rows):
            for j, e in enumerate(ests):
                v, m, ok = data.value(s, e, "rel_efficiency")
                if ok and v > 0:
                    val[i, j] = v
                    z = (v - 1) / m if np.isfinite(m) and m > 0 else (0 if v == 1 else math.inf)
                    tie[i, j] = abs(z) <= Z_TIE
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
                text = f"{v:.3g}" if v < 1000 else f"{v:.0f}"
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
        ax.set_title(f"Relative efficiency of {data.term}{ref}: (EmpSE_ref / EmpSE)²", loc="left")
        return fig


# --------------------------------------------------------------------------------------------
# 3. sampling distributions
# --------------------------------------------------------------------------------------------


def read_estimates(
    estimates_dir: str | Path, scenarios: Sequence[str] | None = None, term: str = "x1"
) -> pd.DataFrame:
    """Rows of ``term`` from ``{estimates_dir}/{scenario}.parquet`` (all files if None)."""
    root = Path(estimates_dir)
    if scenarios is None:
        files = sorted(root.glob("*.parquet"))
    else:
        files = [root / f"{s}.parquet" for s in scenarios if (root / f"{s}.parquet").exists()]
    cols = [c for c in ESTIMATE_COLUMNS if c not in ("method", "message")]
    parts = [pd.read_parquet(f, columns=cols, filters=[("term", "==", term)]) for f in files]
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True)
    for c in ("scenario", "estimator", "term", "status"):
        out[c] = out[c].astype(str)
    return out


def representative_scenarios(data: _Data) -> list[str]:
    """The largest-n scenario of every group."""
    return [data.members(g)[-1] for g in data.groups]


def fig_sampling_distributions(
    estimates: pd.DataFrame,
    perf: pd.DataFrame,
    scenarios: pd.DataFrame | None = None,
    term: str = "x1",
    which: Sequence[str] | None = None,
) -> Figure:
    """Violins of estimate − true value per estimator, one panel per (representative) scenario."""
    with plt.rc_context(_rc()):
        data = _Data(perf, scenarios, term)
        show = list(which) if which is not None else representative_scenarios(data)
        est = estimates[(estimates["term"].astype(str) == data.term)]
        est = est[est["status"].astype(str) == "ok"]
        d_all = (est["estimate"] - est["true_value"]).to_numpy(dtype=float)
        est = est.assign(error=d_all)
        est = est[np.isfinite(est["error"])]
        show = [s for s in show if s in set(est["scenario"])] or show
        if not show:
            return _empty("no estimates")
        ests = data.estimators
        fig, axes = _panels(len(show), 0.55 * len(ests) + 1.2, 2.5)
        for ax, s in zip(axes, show, strict=True):
            sub = est[est["scenario"] == s]
            lo, hi = _window(sub)
            kept = sub[(sub["error"] >= lo) & (sub["error"] <= hi)]
            for j, e in enumerate(ests):
                x = kept.loc[kept["estimator"] == e, "error"].to_numpy(dtype=float)
                if x.size >= 2:
                    _violin(ax, x, j, data.palette[e], lo, hi)
            ax.axhline(0, color="0.2", lw=0.8, ls="--")
            ax.set_ylim(lo, hi + 0.08 * (hi - lo))
            for j, e in enumerate(ests):
                all_e = sub[sub["estimator"] == e]
                if len(all_e) == 0:
                    _note(ax, j, (lo + hi) / 2, "no\nestimates", ha="center")
                    continue
                out = 1 - (kept["estimator"] == e).sum() / len(all_e)
                if out > 0:
                    ax.text(
                        j,
                        hi + 0.04 * (hi - lo),
                        f"{out:.0%}" if out >= 0.01 else "<1%",
                        ha="center",
                        va="center",
                        fontsize=6,
                        color="0.3",
                    )
            ax.set_xlim(-0.6, len(ests) - 0.4)
            ax.set_xticks(range(len(ests)))
            ax.set_xticklabels(ests, rotation=40, ha="right")
            ax.set_xlabel("")
            ax.set_ylabel("estimate − true")
            ax.set_title(data.label(s), loc="left")
            ax.grid(axis="x", visible=False)
        _suptitle(
            fig, f"Sampling distributions of {data.term} − true value (clipped; % outside shown)"
        )
        _finish(fig)
        return fig


def _violin(ax: Any, x: np.ndarray, pos: float, color: Any, lo: float, hi: float) -> None:
    """A violin (Gaussian KDE, Scott's bandwidth, cut at the data) with quartile lines.

    Drawn directly: seaborn's violinplot goes through scipy's KDE and is several times slower
    for the hundreds of violins of a large study; the look follows seaborn's.
    """
    x = np.sort(x)
    sd = float(np.std(x, ddof=1))
    iqr = float(np.subtract(*np.percentile(x, [75, 25])))
    spread = min(sd, iqr / 1.349) if iqr > 0 else sd
    bw = 1.06 * spread * x.size ** (-1 / 5) if spread > 0 else 0.0
    grid = np.linspace(max(x[0], lo), min(x[-1], hi), 160)
    if bw <= 0 or grid[-1] <= grid[0]:
        ax.plot([pos - 0.3, pos + 0.3], [x[0], x[0]], color=color, lw=1.5)
        return
    dens = np.zeros_like(grid)
    for start in range(0, x.size, 2048):  # bounded memory for large R
        chunk = x[start : start + 2048]
        dens += np.exp(-0.5 * ((grid[:, None] - chunk[None, :]) / bw) ** 2).sum(axis=1)
    dens /= dens.max()
    half = 0.4 * dens
    ax.fill_betweenx(grid, pos - half, pos + half, facecolor=color, edgecolor="0.2", lw=0.6)
    for q, style in ((25, ":"), (50, "--"), (75, ":")):
        v = float(np.percentile(x, q))
        w = 0.4 * float(np.interp(v, grid, dens))
        ax.plot([pos - w, pos + w], [v, v], color="0.15", lw=0.7, ls=style)


def _window(sub: pd.DataFrame) -> tuple[float, float]:
    """Median ± CLIP_MADS x the largest per-estimator MAD (robust to Cauchy OLS)."""
    if sub.empty:
        return -1.0, 1.0
    meds, mads = [], []
    for _, g in sub.groupby("estimator", sort=False):
        x = g["error"].to_numpy(dtype=float)
        med = float(np.median(x))
        meds.append(med)
        mads.append(1.4826 * float(np.median(np.abs(x - med))))
    spread = max(mads) if max(mads) > 0 else max(float(np.std(sub["error"])), 1e-8)
    x = sub["error"].to_numpy(dtype=float)
    lo = max(float(x.min()), min(meds) - CLIP_MADS * spread)
    hi = min(float(x.max()), max(meds) + CLIP_MADS * spread)
    if hi - lo <= 0:
        lo, hi = lo - 1e-8, hi + 1e-8
    pad = 0.04 * (hi - lo)
    return lo - pad, hi + pad


# --------------------------------------------------------------------------------------------
# 4./5. forest plots: bias and coverage
# --------------------------------------------------------------------------------------------


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


def fig_zip(
    estimates: pd.DataFrame,
    scenarios: Sequence[str],
    term: str = "x1",
    level: float = 0.95,
    labels: Mapping[str, str] | None = None,
    max_lines: int = 2000,
) -> Figure:
    """Zip plots (intervals ranked by |z|, coloured by coverage): rows = scenarios."""
    with plt.rc_context(_rc()):
        est = estimates[estimates["term"].astype(str) == term]
        est = est[est["status"].astype(str) == "ok"]
        est = est[np.isfinite(est["ci_low"]) & np.isfinite(est["ci_high"])]
        rows = [s for s in scenarios if s in set(est["scenario"].astype(str))]
        if not rows:
            return _empty("no intervals to show")
        ests = list(dict.fromkeys(est["estimator"].astype(str)))
        fig, axes = plt.subplots(
            len(rows),
            len(ests),
            figsize=(2.1 * len(ests) + 0.6, 2.5 * len(rows) + 0.8),
            squeeze=False,
        )
        cover_col, miss_col = "#3b75af", "#c8373c"
        for r, s in enumerate(rows):
            sub_s = est[est["scenario"].astype(str) == s]
            rel = np.concatenate(
                [
                    (sub_s["ci_low"] - sub_s["true_value"]).to_numpy(float),
                    (sub_s["ci_high"] - sub_s["true_value"]).to_numpy(float),
                ]
            )
            lim = float(np.quantile(np.abs(rel), 0.99)) if rel.size else 1.0
            for c, e in enumerate(ests):
                ax = axes[r, c]
                sub = sub_s[sub_s["estimator"].astype(str) == e]
                if sub.empty:
                    ax.axis("off")
                    continue
                lo = (sub["ci_low"] - sub["true_value"]).to_numpy(float)
                hi = (sub["ci_high"] - sub["true_value"]).to_numpy(float)
                d = (sub["estimate"] - sub["true_value"]).to_numpy(float)
                se = sub["std_error"].to_numpy(float)
                half = (hi - lo) / 2
                scale = np.where(np.isfinite(se) & (se > 0), se, half)
                with np.errstate(divide="ignore", invalid="ignore"):
                    z = np.abs(d) / scale
                z = np.where(np.isfinite(z), z, np.inf)
                order = np.argsort(z, kind="stable")
                R = len(order)
                centile = (np.arange(R) + 0.5) / R * 100
                covers = (lo <= 0) & (hi >= 0)
                step = max(1, math.ceil(R / max_lines))
                idx = order[::step]
                ys = centile[::step]
                segs = np.stack(
                    [np.column_stack([lo[idx], ys]), np.column_stack([hi[idx], ys])], axis=1
                )
                colors = [cover_col if covers[k] else miss_col for k in idx]
                ax.add_collection(LineCollection(segs, colors=colors, linewidths=0.6))
                cov = covers.mean()
                mc = math.sqrt(cov * (1 - cov) / R)
                ax.axhspan(
                    (cov - Z * mc) * 100, (cov + Z * mc) * 100, color="#f0a030", alpha=0.35, lw=0
                )
                ax.axhline(cov * 100, color="#e08000", lw=1.0)
                ax.axhline(level * 100, color="black", lw=0.9, ls="--")
                ax.axvline(0, color="0.2", lw=0.7)
                ax.set_xlim(-lim, lim)
                ax.set_ylim(0, 100)
                ax.set_title(f"{e}: coverage {cov:.3f} ± {mc:.3f}", loc="left", fontsize=7.5)
                if c == 0:
                    name = labels.get(s, s) if labels else s
                    ax.set_ylabel(f"{name}\ncentile of |z|")
                else:
                    ax.set_yticklabels([])
                ax.set_xlabel("interval − true value")
                ax.grid(False)
        _suptitle(fig, f"Zip plots of {term}: blue covers, red misses; dashed nominal {level:.0%}")
        _finish(fig)
        return fig


def zip_scenarios(data: _Data, available: set[str], level: float) -> list[str]:
    """A benchmark scenario (Gauss–Markov with normal errors, else the last) and the one whose
    interval estimators disagree most in coverage (largest max − min, else worst miss)."""
    cands = [s for s in data.scenarios if s in available]
    if not cands:
        return []
    bench = cands[-1]
    for s in cands:
        if s in data.gm_normal:
            bench = s
            break
    best, score = None, -1.0
    for s in cands:
        vals = [
            v
            for e in data.estimators
            for v, _, ok in [data.value(s, e, "coverage")]
            if ok and np.isfinite(v)
        ]
        if len(vals) < 1 or s == bench:
            continue
        spread = max(vals) - min(vals) if len(vals) > 1 else 0.0
        miss = max(abs(v - level) for v in vals)
        sc = spread + 0.1 * miss
        if sc > score:
            best, score = s, sc
    return [bench] + ([best] if best else [])


# --------------------------------------------------------------------------------------------
# 6. MSE versus n
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# writer
# --------------------------------------------------------------------------------------------


def _save(fig: Figure, outdir: Path, name: str) -> list[Path]:
    paths = []
    with plt.rc_context(_rc()):
        for ext, meta in (("png", {"Software": None}), ("svg", {"Date": None, "Creator": None})):
            path = outdir / f"{name}.{ext}"
            with atomic_path(path) as tmp:
                fig.savefig(tmp, format=ext, dpi=DPI, metadata=meta)
            paths.append(path)
    plt.close(fig)
    return paths


def make_figures(
    performance_csv: str | Path,
    scenarios_csv: str | Path,
    estimates_dir: str | Path,
    outdir: str | Path,
    *,
    term: str = "x1",
    level: float = 0.95,
    reference: str | None = None,
) -> list[Path]:
    """Write every figure as ``{outdir}/{name}.png`` and ``.svg``; return the paths written.

    ``name`` is a key of :data:`CAPTIONS`. ``mse_vs_n`` is skipped when ``n`` takes one value,
    ``sampling_distributions`` and ``zip`` when there are no estimate files.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    perf = pd.read_csv(performance_csv, keep_default_na=False, na_values=[""])
    scen = pd.read_csv(scenarios_csv)
    data = _Data(perf, scen, term)
    term = data.term
    if reference is None:
        reference = _guess_reference(data)
    written: list[Path] = []
    written += _save(fig_mse_decomposition(perf, scen, term), outdir, "mse_decomposition")
    written += _save(
        fig_relative_efficiency(perf, scen, term, reference), outdir, "relative_efficiency"
    )
    reps = representative_scenarios(data)
    est = read_estimates(estimates_dir, reps, term)
    if len(est):
        written += _save(
            fig_sampling_distributions(est, perf, scen, term, reps),
            outdir,
            "sampling_distributions",
        )
    written += _save(fig_bias(perf, scen, term), outdir, "bias")
    written += _save(fig_coverage(perf, scen, term, level), outdir, "coverage")
    available = {p.stem for p in Path(estimates_dir).glob("*.parquet")}
    chosen = zip_scenarios(data, available, level)
    if chosen:
        zest = read_estimates(estimates_dir, chosen, term)
        labels = {s: data.label(s) for s in chosen}
        written += _save(fig_zip(zest, chosen, term, level, labels), outdir, "zip")
    fig = fig_mse_vs_n(perf, scen, term)
    if fig is not None:
        written += _save(fig, outdir, "mse_vs_n")
    return written


def _gm_normal(scen: pd.DataFrame) -> set[str]:
    if "gauss_markov" not in scen.columns or "normal_errors" not in scen.columns:
        return set()
    ok = (scen["gauss_markov"].astype(str) == "holds") & (
        scen["normal_errors"].astype(str) == "holds"
    )
    return set(scen.loc[ok, "scenario"].astype(str))


def _guess_reference(data: _Data) -> str | None:
    """The estimator whose rel_efficiency is exactly 1 with MCSE 0 everywhere it is reported."""
    for e in data.estimators:
        rows = data.perf[(data.perf["estimator"] == e) & (data.perf["measure"] == "rel_efficiency")]
        rows = rows[np.isfinite(rows["value"])]
        if len(rows) and (rows["value"] == 1).all() and (rows["mcse"].fillna(0) == 0).all():
            return e
    return None
