"""The figures of the section "Does differentiability matter?" and their captions.

Why a part of its own: they read ``estimators.csv`` (which estimators are trained, with which
loss, solver and settings) besides the performance table, and are drawn only when the study
trains an estimator by gradient steps.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from lossstudy.studyfile import read_estimators, read_theory
from lossstudy.trained import curve_rows, divergence_rows, prediction_error_rows, sgd_lr_rows

from .divergence import fig_divergence
from .learning import fig_learning_curves
from .stationary import fig_sgd_steps
from .test_error import fig_test_error

__all__ = ["TRAINING_CAPTIONS", "training_figures"]

TRAINING_CAPTIONS: dict[str, str] = {
    "training_divergence": (
        "Share of fits that diverged (iterate non-finite or ‖β‖ > 10⁶) against the relative step "
        "size c, where η = c · 2/λ_max(X'X/n) per dataset; bars: ± 1.96 MCSE (binomial). The "
        "dashed line c = 1 is the exact stability limit of full-batch gradient descent on the "
        "squared loss: past it that loss's error along the top eigenvector grows by |1 − ηλ_max| "
        "per step. Losses with a bounded gradient (Huber, absolute) cannot overflow at any c. "
        "Lines of one colour are offset slightly sideways so that they do not hide each other."
    ),
    "training_curves": (
        "Learning curves at the largest n, log–log. Top: root mean square distance of the "
        "trained coefficients to the exact minimiser of the same objective (opt_error, over "
        "non-diverged replicates); dashed: the exact fit's own distance from the truth "
        "(√ of its MSE summed over the coefficients), below which optimisation error no longer "
        "matters. Bottom: RMSE of the focus coefficient; dashed: the exact estimator of the same "
        "loss, with its ± 1.96 MCSE band. A loss without an exact estimator of the same "
        "objective in the study has no dashed line."
    ),
    "training_test_error": (
        "Test MSE and test MAE (mean squared and absolute prediction error on fresh data from "
        "the same scenario, ± 1.96 MCSE) at the largest n: filled markers are exact fits, hollow "
        "ones the trained fit of each family (its last checkpoint, at the largest step size "
        "within c ≤ 1). Squared loss targets the conditional mean and absolute loss the median: "
        "each should do best on its own metric."
    ),
    "training_sgd": (
        "SGD with one row per step, one pass over fresh data (k = n steps, no row used twice), "
        "against the absolute step size η. Top: coefficient risk E‖β_k − β‖² (± 1.96 MCSE) with "
        "its exact value (grey; results/theory.csv, from the mean and second-moment recursions "
        "of streaming SGD), given where SGD on the squared loss is mean-square stable. Small "
        "steps have not yet forgotten the start β₀ = 0; larger ones sit on the noise floor, "
        "which grows with η (ηdσ²/(2b − η(b + d + 1)) for isotropic Gaussian x without "
        "intercept). Bottom: share of diverged fits (binomial ± 1.96 MCSE): the squared loss "
        "blows up a little past its mean-square limit, far below full-batch GD's 2/λ_max; "
        "Huber's bounded gradient cannot."
    ),
}


def training_figures(
    perf: pd.DataFrame,
    scen: pd.DataFrame,
    estimators_csv: str | Path,
    term: str,
    theory_csv: str | Path | None = None,
) -> dict[str, Figure]:
    """The training figures that have something to show, by file name (empty when the study
    trains nothing)."""
    estimators = read_estimators(estimators_csv)
    theory = read_theory(theory_csv)
    out: dict[str, Figure] = {}
    figs = {
        "training_divergence": lambda: fig_divergence(divergence_rows(perf, estimators, scen)),
        "training_curves": lambda: fig_learning_curves(
            curve_rows(perf, estimators, scen, term), term
        ),
        "training_test_error": lambda: fig_test_error(
            prediction_error_rows(perf, estimators, scen)
        ),
        "training_sgd": lambda: fig_sgd_steps(sgd_lr_rows(perf, estimators, scen, theory)),
    }
    for name, draw in figs.items():
        fig = draw()
        if fig is not None:
            out[name] = fig
    return out
