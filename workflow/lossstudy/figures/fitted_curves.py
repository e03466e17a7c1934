"""Fitted curves: a few replicates' network fits per loss beside the true mean.

Why a figure and not only a table: under heavy-tailed errors the L2-trained network chases
single outliers (spikes of the fitted curve where a Cauchy draw landed) while Huber and L1 fits
follow f; one panel per loss, the same replicates in each (common random numbers), shows that
at a glance and shows what an ise of 0.1 or of 100 looks like. The mean ise of an L2 fit under
heavy tails is driven by a few wild replicates, so the caller should choose which replicates to
draw (e.g. those at the median and the 90th percentile of the L2 fit's ise), not the first few.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from lossstudy.trained import loss_name

from ._style import _empty, _finish, _legend, _rc, _suptitle, loss_color

#: the fitted curves are clipped to the truth's range widened by this share of it on each side,
#: so one wild L2 fit cannot flatten the other panels' curves (the clipping is said in a note)
CLIP_MARGIN = 0.5


def fitted_curves(
    x: np.ndarray,
    truth: np.ndarray,
    curves: Mapping[str, np.ndarray],
    title: str,
    ise: Mapping[str, float] | None = None,
) -> Figure:
    """One panel per loss: ``curves[loss]`` (replicates × grid points) over the grid ``x``
    with the true mean ``truth`` in black; ``ise`` (mean ise per loss) is shown in the titles."""
    if not curves:
        return _empty("no network fits to draw")
    lo, hi = float(np.min(truth)), float(np.max(truth))
    pad = CLIP_MARGIN * (hi - lo)
    with plt.rc_context(_rc()):
        fig, axes = plt.subplots(
            1, len(curves), figsize=(2.3 * len(curves), 2.4), sharey=True, squeeze=False
        )
        clipped = False
        for ax, (loss, fits) in zip(axes[0], curves.items(), strict=True):
            fits = np.atleast_2d(fits)
            shown = np.clip(fits, lo - pad, hi + pad)
            clipped |= bool(np.any(shown != fits))
            for row in shown:
                ax.plot(x, row, color=loss_color(loss), lw=0.8, alpha=0.7)
            ax.plot(x, truth, color="black", lw=1.2)
            extra = f", mean ise {ise[loss]:.3g}" if ise and loss in ise else ""
            ax.set_title(f"{loss_name(loss)}{extra}")
            ax.set_xlabel("x")
            ax.set_ylim(lo - pad, hi + pad)
        axes[0][0].set_ylabel("f(x) and fitted curves")
        _finish(fig)
        note = " (curves clipped to the plot)" if clipped else ""
        _suptitle(fig, f"{title}{note}")
        _legend(fig, handles=[plt.Line2D([], [], color="black", lw=1.2)], labels=["true mean"])
    return fig
