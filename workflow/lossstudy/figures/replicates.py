"""Figures of the per-replicate estimates: sampling distributions (violins of estimate − true
value) and zip plots (every replicate's interval ranked by |z|), with the readers of the
estimate files and the choice of which scenarios to show.

Why apart from the table figures: they read ``estimates/{scenario}.parquet`` (every replicate,
the bulk of the study's data) rather than the performance table, so they load only the few
scenarios they show, and their scale must be robust to heavy tails (Cauchy OLS).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from lossstudy.pipeline import ESTIMATE_COLUMNS

from ._data import Z, _Data
from ._style import _empty, _finish, _note, _panels, _rc, _suptitle

CLIP_MADS = 6.0  # sampling distributions are shown within median ± this many MADs
#: the violins sit below this z-order and are drawn as one raster image per panel in the SVG
#: (hundreds of curved outlines made its file megabytes and its drawing slow); above it: text,
#: the zero line, axes
_RASTER_Z = 1.0


def read_estimates(
    estimates_dir: str | Path, scenarios: Sequence[str] | None = None, term: str = "x1"
) -> pd.DataFrame:
    """Rows of ``term`` from ``{estimates_dir}/{scenario}.parquet`` (all files if None)."""
    root = Path(estimates_dir)
    if scenarios is None:
        files = sorted(root.glob("*.parquet"))
    else:
        files = [root / f"{s}.parquet" for s in scenarios if (root / f"{s}.parquet").exists()]
    # the per-coefficient columns only: per-fit ones (test errors, training diagnostics) are
    # not drawn here, and estimates written before they existed lack them
    cols = [c for c in ESTIMATE_COLUMNS[: ESTIMATE_COLUMNS.index("message")] if c != "method"]
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
        by_scenario = dict(tuple(est.groupby("scenario", sort=False)))
        show = [s for s in show if s in by_scenario] or show
        if not show:
            return _empty("no estimates")
        ests = data.estimators
        fig, axes = _panels(len(show), 0.55 * len(ests) + 1.2, 2.5)
        for ax, s in zip(axes, show, strict=True):
            sub = by_scenario.get(s, est.iloc[:0])
            # the window from the drawn estimators only: a diverged trained fit in the same
            # scenario would otherwise stretch the axis to 10⁵ and flatten every violin
            sub = sub[sub["estimator"].astype(str).isin(ests)]
            lo, hi = _window(sub)
            errors = {
                str(e): g.to_numpy(dtype=float)
                for e, g in sub.groupby("estimator", sort=False)["error"]
            }
            for j, e in enumerate(ests):
                x = errors.get(e, np.empty(0))
                x = x[(x >= lo) & (x <= hi)]
                if x.size >= 2:
                    _violin(ax, x, j, data.palette[e], lo, hi)
            ax.set_rasterization_zorder(_RASTER_Z + 0.01)
            ax.axhline(0, color="0.2", lw=0.8, ls="--")
            ax.set_ylim(lo, hi + 0.08 * (hi - lo))
            for j, e in enumerate(ests):
                x = errors.get(e, np.empty(0))
                if x.size == 0:
                    _note(ax, j, (lo + hi) / 2, "no\nestimates", ha="center")
                    continue
                out = 1 - ((x >= lo) & (x <= hi)).sum() / x.size
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
    ax.fill_betweenx(
        grid, pos - half, pos + half, facecolor=color, edgecolor="0.2", lw=0.6, zorder=_RASTER_Z
    )
    for q, style in ((25, ":"), (50, "--"), (75, ":")):
        v = float(np.percentile(x, q))
        w = 0.4 * float(np.interp(v, grid, dens))
        ax.plot([pos - w, pos + w], [v, v], color="0.15", lw=0.7, ls=style, zorder=_RASTER_Z)


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
                # up to max_lines segments per panel: one raster image in the SVG, not paths
                ax.add_collection(
                    LineCollection(segs, colors=colors, linewidths=0.6, rasterized=True)
                )
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
