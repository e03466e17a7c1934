"""Test MSE and test MAE of every loss, exact and trained, per error law: "train on the loss you
are judged by".

Why this figure: an ML reader judges a model by its error on new data. Squared loss targets the
conditional mean and absolute loss the median, so each should win on its own metric; the dot plot
puts each loss's exact fit and its trained fit side by side under each error law.
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
from ._style import _header, _large_rc, _note, loss_color, loss_marker

__all__ = ["fig_test_error", "alt_test_error", "n_test_error"]

METRICS = (("test_mse", "test MSE"), ("test_mae", "test MAE"))


def n_test_error(test: pd.DataFrame) -> float:
    """The n the figure and the table show: the largest."""
    ns = pd.to_numeric(test["n"], errors="coerce").dropna()
    return float(ns.max()) if len(ns) else math.nan


def _shown(test: pd.DataFrame) -> pd.DataFrame:
    """The error laws with trained fits: elsewhere there is nothing trained to set beside the
    exact fit (and one column per scenario made the figure 6,000 px wide)."""
    trained = set(test.loc[test["kind"] == "trained", "base"].astype(str))
    return test[test["base"].astype(str).isin(trained)] if trained else test


def fig_test_error(test: pd.DataFrame) -> Figure | None:
    """Dots with ± 1.96 MCSE bars: one row per estimator (filled: exact, hollow: trained),
    colour and marker by loss; columns: the scenario bases with trained fits, at the largest n;
    rows of panels: test MSE, test MAE (each panel its own scale).
    ``test``: :func:`lossstudy.trained.prediction_error_rows`."""
    if test.empty:
        return None
    n = n_test_error(test)
    test = _shown(test[test["n"] == n] if math.isfinite(n) else test)
    bases = list(dict.fromkeys(test.sort_values("cell_order")["base"].astype(str)))
    labels = list(dict.fromkeys(test["label"].astype(str)))
    ypos = {lab: i for i, lab in enumerate(labels)}
    with plt.rc_context(_large_rc()):
        fig, axes = plt.subplots(
            2,
            len(bases),
            figsize=(2.7 * len(bases) + 2.2, 0.3 * len(labels) * 2 + 2.1),
            squeeze=False,
            sharey=True,
        )
        for j, base in enumerate(bases):
            for i, (metric, label) in enumerate(METRICS):
                ax = axes[i, j]
                sub = test[(test["base"] == base) & (test["measure"] == metric)]
                for r in sub.itertuples(index=False):
                    y = ypos[str(r.label)]
                    color = loss_color(str(r.loss))
                    if not r.usable:
                        _note(ax, 0.02, y, "undefined", transform=ax.get_yaxis_transform())
                        continue
                    ax.errorbar(
                        r.value,
                        y,
                        xerr=Z * (r.mcse if np.isfinite(r.mcse) else 0),
                        color=color,
                        marker=loss_marker(str(r.loss)),
                        markersize=6,
                        markerfacecolor=color if r.kind == "exact" else "white",
                        capsize=2.5,
                        linestyle="none",
                    )
                ax.set_yticks(range(len(labels)))
                ax.set_yticklabels(labels)
                ax.set_ylim(len(labels) - 0.5, -0.5)
                ax.xaxis.set_major_locator(plt.MaxNLocator(4))
                if not sub["usable"].any():
                    ax.set_xticks([])
                if i == 0:
                    ax.set_title(base if not math.isfinite(n) else f"{base}, n = {int(n)}")
                ax.set_xlabel(label)
        losses = sorted(dict.fromkeys(test["loss"]), key=loss_rank)
        handles = [
            Line2D(
                [],
                [],
                color=loss_color(x),
                marker=loss_marker(x),
                linestyle="none",
                label=loss_name(x),
            )
            for x in losses
        ]
        handles += [
            Line2D([], [], color="0.3", marker="o", linestyle="none", label="exact"),
            Line2D(
                [],
                [],
                color="0.3",
                marker="o",
                markerfacecolor="white",
                linestyle="none",
                label="trained",
            ),
        ]
        _header(fig, "Test error of each loss, exact and trained (± 1.96 MCSE)", handles)
    return fig


def alt_test_error(test: pd.DataFrame) -> str:
    """What the figure shows, in words, for its alt text: the lowest value per metric and law."""
    n = n_test_error(test)
    sub = _shown(test[test["usable"]])
    if math.isfinite(n):
        sub = sub[sub["n"] == n]
    parts = []
    for (base, metric), grp in sub.groupby(["base", "measure"], sort=False):
        best = grp.loc[grp["value"].idxmin()]
        name = dict(METRICS).get(str(metric), str(metric))
        parts.append(f"{base}: lowest {name} {best['label']} ({best['value']:.3g})")
    where = f" at n = {int(n)}" if math.isfinite(n) else ""
    return (
        f"Dot plots of test MSE and test MAE{where} for each loss's exact and trained fit, one "
        "column per error law. " + "; ".join(parts) + "."
    )
