"""The scoreboard: who has the lowest MSE of the focus slope in each scenario family.

One row per family (its anchor cell at the largest n), one column per point estimator; the
winner dark, estimators tied with it within Monte Carlo error light, the others white with
their MSE as a multiple of the winner's. Data from :func:`lossstudy.frontpage.scoreboard`.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from ._style import _rc, _suptitle

_LEVELS = {"wins": 2, "ties": 1, "loses": 0, "undefined": -1}
_COLOURS = ["#ffffff", "#b8dfc0", "#2e8b57"]  # loses, ties, wins


def fig_scoreboard(board: pd.DataFrame, term: str = "x1") -> Figure:
    families = list(dict.fromkeys(board["family"]))
    estimators = list(dict.fromkeys(board["estimator"]))
    with plt.rc_context(_rc()):
        fig, ax = plt.subplots(
            figsize=(1.0 + 0.95 * len(estimators) + 1.3, 0.9 + 0.27 * len(families))
        )
        grid = np.full((len(families), len(estimators)), np.nan)
        for r in board.itertuples(index=False):
            grid[families.index(r.family), estimators.index(r.estimator)] = _LEVELS[r.verdict]
        shown = np.ma.masked_less(grid, 0)
        ax.imshow(shown, cmap=ListedColormap(_COLOURS), vmin=0, vmax=2, aspect="auto")
        for r in board.itertuples(index=False):
            i, j = families.index(r.family), estimators.index(r.estimator)
            if r.verdict == "undefined":
                ax.add_patch(
                    plt.Rectangle(
                        (j - 0.5, i - 0.5), 1, 1, fill=False, hatch="///", ec="0.7", lw=0
                    )  # fmt: skip
                )
                text, colour = "–", "0.45"
            elif r.verdict == "wins":
                text, colour = "best", "white"
            else:
                text = f"{r.ratio:.2f}×" if r.ratio < 10 else f"{r.ratio:.0f}×"
                colour = "0.15"
            ax.text(j, i, text, ha="center", va="center", fontsize=6.8, color=colour)
        ax.set_xticks(range(len(estimators)))
        ax.set_xticklabels(estimators, rotation=30, ha="right")
        ax.set_yticks(range(len(families)))
        ns = board.drop_duplicates("family").set_index("family")["n"]
        ax.set_yticklabels(
            [f"{f} (n={int(ns[f])})" if math.isfinite(float(ns[f])) else f for f in families]
        )
        ax.tick_params(length=0)
        ax.set_xticks(np.arange(-0.5, len(estimators)), minor=True)
        ax.set_yticks(np.arange(-0.5, len(families)), minor=True)
        ax.grid(which="minor", color="0.85", lw=0.6)
        ax.grid(which="major", visible=False)
        for spine in ax.spines.values():
            spine.set_visible(False)
        fig.tight_layout()
        fig.subplots_adjust(top=1 - 0.42 / fig.get_figheight())
        _suptitle(fig, f"Lowest MSE of {term} (others: MSE as a multiple of the best)")
        return fig
