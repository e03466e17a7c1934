"""The performance measures, one row each: the single list every other module reads.

Why a table: the measures were listed in seven places (the performance step, the moment rules,
the CSV/LaTeX tables, the report's definitions and its per-scenario table, the answer's verdict
families, the figures), and two of those lists had drifted apart. Each module now selects what
it needs from :data:`MEASURES` by a column, so adding a measure means adding one row here and
its arithmetic in :mod:`lossstudy.performance`. Definitions and MCSE formulas follow Morris,
White & Crowther (2019), Table 6; the functions computing them are named in ``computed_by``.

This module imports nothing from the package: everything may import it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BY_NAME",
    "COMPUTED",
    "MEASURES",
    "MODEL",
    "Measure",
    "names",
]


@dataclass(frozen=True)
class Measure:
    """One performance measure and where the study uses it."""

    name: str
    #: label in the report's design section, and the short one of the tables' column heads
    label: str
    short: str
    #: what it is (d = estimate − true value, R = replicates) and its MCSE, as the report says
    definition: str
    mcse: str
    #: the function of :mod:`lossstudy.performance` that computes value and MCSE
    computed_by: str
    #: moment order of the errors the value needs, and the one its normal-theory MCSE needs
    #: (:mod:`lossstudy.moments`); None for a measure with no moment rule (the failure rate)
    orders: tuple[int, int] | None
    #: what the fit must report for the measure: "" (the estimate), "se" or "ci"
    needs: str = ""
    #: compared with the reference estimator (paired); the reference itself is exact there
    relative: bool = False
    #: the answer's verdict family ("" where no claim judges it; :mod:`lossstudy.answer.claims`)
    family: str = ""
    #: shown in ``results/tables`` (CSV and LaTeX) and in the report's per-scenario table
    in_tables: bool = False
    in_report_table: bool = False
    #: figures: drawn on a log axis when all values are positive; the horizontal line meaning
    #: "no difference" or "no error" (None: no line)
    log_scale: bool = False
    refline: float | None = None
    #: "term": one value per estimator × coefficient; "model": one per estimator, on the term
    #: ``model`` (prediction error, training diagnostics)
    scope: str = "term"
    #: whose moments ``orders`` speaks of: the estimator's, or the errors' themselves (a test
    #: error contains a fresh error, whatever the estimator)
    moments_of: str = "estimator"
    #: only for fits trained by a gradient solver (``lossstudy.training``)
    trained_only: bool = False
    #: only for fits that set coefficients exactly to 0 (the registry's ``selects``)
    selection_only: bool = False
    #: only in scenarios of this response family ("": any); a classifier's scores on fresh
    #: data are "bernoulli" (``lossstudy.classification``)
    response: str = ""


MEASURES: tuple[Measure, ...] = (
    Measure(
        "bias",
        "Bias",
        "Bias",
        "mean of d = estimate − true value",
        "SD(d) / √R",
        "_error_measures",
        (1, 2),
        family="bias",
        in_tables=True,
        in_report_table=True,
        refline=0.0,
    ),
    Measure(
        "empse",
        "Empirical SE",
        "Emp. SE",
        "SD of d over replicates",
        "EmpSE / √(2(R − 1))",
        "_error_measures",
        (2, 4),
        in_tables=True,
        in_report_table=True,
        log_scale=True,
    ),
    Measure(
        "mse",
        "MSE",
        "MSE",
        "mean of d²",
        "SD(d²) / √R",
        "_error_measures",
        (2, 4),
        in_tables=True,
        in_report_table=True,
        log_scale=True,
    ),
    Measure(
        "rmse",
        "RMSE",
        "RMSE",
        "√MSE",
        "MCSE(MSE) / (2 RMSE)",
        "_error_measures",
        (2, 4),
        log_scale=True,
    ),
    Measure(
        "rel_precision",
        "Relative precision",
        "Rel. prec.",
        "100 [(EmpSE_ref / EmpSE)² − 1], paired with the reference",
        "200 (EmpSE_ref/EmpSE)² √((1 − ρ²)/(R − 1))",
        "_relative_measures",
        (2, 4),
        relative=True,
        family="relative",
        refline=0.0,
    ),
    Measure(
        "rel_efficiency",
        "Relative efficiency",
        "Rel. eff.",
        "(EmpSE_ref / EmpSE)²; > 1: less variable than the reference",
        "as relative precision / 100",
        "_relative_measures",
        (2, 4),
        relative=True,
        family="relative",
        in_tables=True,
        in_report_table=True,
        log_scale=True,
        refline=1.0,
    ),
    Measure(
        "rel_mse",
        "Relative MSE",
        "Rel. MSE",
        "MSE_ref / MSE; > 1: lower MSE than the reference",
        "delta method, paired",
        "_relative_measures",
        (2, 4),
        relative=True,
        family="relative",
        in_report_table=True,
        log_scale=True,
        refline=1.0,
    ),
    Measure(
        "modse",
        "Model SE",
        "Model SE",
        "√(mean of the reported SE²)",
        "√(Var(SE²) / (4 R ModSE²))",
        "_model_se_measures",
        (2, 4),
        needs="se",
        log_scale=True,
    ),
    Measure(
        "rel_error_modse",
        "Relative error in model SE",
        "Rel. err. SE",
        "100 (ModSE / EmpSE − 1)",
        "100 (ModSE/EmpSE) √(Var(SE²)/(4R ModSE⁴) + 1/(2(R − 1)))",
        "_model_se_measures",
        (2, 4),
        needs="se",
        refline=0.0,
    ),
    Measure(
        "coverage",
        "Coverage",
        "Coverage",
        "share of intervals containing the true value",
        "√(C(1 − C)/R)",
        "_interval_measures",
        (0, 0),
        needs="ci",
        family="coverage",
        in_tables=True,
        in_report_table=True,
    ),
    Measure(
        "be_coverage",
        "Bias-eliminated coverage",
        "BE coverage",
        "share of intervals containing true value + bias",
        "√(B(1 − B)/R)",
        "_interval_measures",
        (1, 2),
        needs="ci",
    ),
    Measure(
        "rejection",
        "Rejection rate",
        "Rejection",
        "share of intervals excluding 0 (power, or type I error for a zero slope)",
        "√(P(1 − P)/R)",
        "_interval_measures",
        (0, 0),
        needs="ci",
    ),
    Measure(
        "median_bias",
        "Median bias",
        "Median bias",
        "median of d (exists without moments)",
        "order statistics around the median",
        "_error_measures",
        (0, 0),
        in_tables=True,
        in_report_table=True,
        refline=0.0,
    ),
    Measure(
        "mad",
        "MAD",
        "MAD",
        "1.4826 × median |d − median d| (exists without moments)",
        "bootstrap, 200",
        "_error_measures",
        (0, 0),
        in_tables=True,
        in_report_table=True,
        log_scale=True,
    ),
    Measure(
        "failure_rate",
        "Failure rate",
        "Failures",
        "share of replicates whose fit did not succeed (status ≠ ok)",
        "√(F(1 − F)/R)",
        "lossstudy.pipeline.failure_rows",
        None,
        in_report_table=True,
    ),
    Measure(
        "risk",
        "Coefficient risk",
        "Risk",
        "mean over replicates of ‖β̂ − β‖² = Σ_j (β̂_j − β_j)², the sum of the terms' MSE "
        "(replicates with every term fitted)",
        "SD(‖β̂ − β‖²) / √R",
        "_model_measures",
        (2, 4),
        scope="model",
        log_scale=True,
    ),
    Measure(
        "test_mse",
        "Test MSE",
        "Test MSE",
        "mean over replicates of mean (y − x'β̂)² on the replicate's fresh test sample "
        "(⌈10⁵/R⌉ new rows from the scenario's law)",
        "SD / √R",
        "_model_measures",
        (2, 4),
        scope="model",
        moments_of="errors",
        log_scale=True,
    ),
    Measure(
        "test_mae",
        "Test MAE",
        "Test MAE",
        "mean over replicates of mean |y − x'β̂| on the replicate's fresh test sample",
        "SD / √R",
        "_model_measures",
        (1, 2),
        scope="model",
        moments_of="errors",
        log_scale=True,
    ),
    Measure(
        "zero_share",
        "Share of exact zeros",
        "Zeros",
        "mean over replicates of the share of slopes estimated exactly 0 (estimators that "
        "select: the L1 penalty)",
        "SD / √R",
        "_selection_measures",
        (0, 0),
        scope="model",
        selection_only=True,
    ),
    Measure(
        "tpr",
        "True-positive rate of the support",
        "TPR",
        "mean over replicates of the share of the replicate's non-zero true slopes estimated "
        "non-zero (replicates with a non-zero true slope)",
        "SD / √R",
        "_selection_measures",
        (0, 0),
        scope="model",
        selection_only=True,
    ),
    Measure(
        "fpr",
        "False-positive rate of the support",
        "FPR",
        "mean over replicates of the share of the replicate's zero true slopes estimated "
        "non-zero (replicates with a zero true slope)",
        "SD / √R",
        "_selection_measures",
        (0, 0),
        scope="model",
        selection_only=True,
    ),
    Measure(
        "test_error",
        "Misclassification rate",
        "Test error",
        "mean over replicates of the share of the replicate's fresh test rows misclassified by "
        "1[σ(x'β̂) > ½] (classification scenarios)",
        "SD / √R",
        "_model_measures",
        (0, 0),
        scope="model",
        moments_of="errors",
        response="bernoulli",
    ),
    Measure(
        "test_log_loss",
        "Test log loss",
        "Log loss",
        "mean over replicates of mean −[y log p̂ + (1 − y) log(1 − p̂)], p̂ = σ(x'β̂), on the "
        "replicate's fresh test sample (classification scenarios)",
        "SD / √R",
        "_model_measures",
        (0, 0),
        scope="model",
        moments_of="errors",
        response="bernoulli",
    ),
    Measure(
        "test_brier",
        "Test Brier score",
        "Brier",
        "mean over replicates of mean (y − σ(x'β̂))² on the replicate's fresh test sample "
        "(classification scenarios)",
        "SD / √R",
        "_model_measures",
        (0, 0),
        scope="model",
        moments_of="errors",
        response="bernoulli",
    ),
    Measure(
        "ise",
        "Integrated squared error",
        "ISE",
        "mean over replicates of ∫(f̂ − f)² over [0, 1]^d (mean over a fixed grid of ≥ 1024 "
        "points; f̂ = x'β̂ for a linear fit, the forward pass for a network), where the "
        "estimates carry it (a network, or a mean that is not x'β)",
        "SD / √R",
        "_model_measures",
        (2, 4),
        scope="model",
        log_scale=True,
    ),
    Measure(
        "sharpness",
        "Sharpness",
        "Sharpness",
        "mean over non-diverged replicates of λ_max(∇²f(θ_K)), the top eigenvalue of the "
        "training loss's Hessian in the network's parameters at the checkpoint (full-batch GD "
        "on the squared loss; Cohen et al. 2021: it rises to about 2/η and hovers there)",
        "SD / √R",
        "_model_measures",
        (0, 0),
        scope="model",
        trained_only=True,
    ),
    Measure(
        "divergence",
        "Divergence",
        "Diverged",
        "share of replicates whose training diverged (non-finite, or ‖β‖ > 10⁶)",
        "√(D(1 − D)/R)",
        "_model_measures",
        (0, 0),
        scope="model",
        trained_only=True,
    ),
    Measure(
        "opt_error",
        "Optimisation error",
        "Opt. error",
        "√(mean over non-diverged replicates of ‖β_K − β̂‖²), β̂ the exact minimiser of the "
        "same objective on the same data",
        "SD(‖β_K − β̂‖²) / (2 · opt_error · √R) (delta method)",
        "_model_measures",
        (0, 0),
        scope="model",
        trained_only=True,
        log_scale=True,
    ),
    Measure(
        "objective_gap",
        "Objective gap",
        "Obj. gap",
        "mean of f(β_K) − f(β̂), f the mean training loss",
        "SD / √R",
        "_model_measures",
        (0, 0),
        scope="model",
        trained_only=True,
        log_scale=True,
    ),
)

BY_NAME: dict[str, Measure] = {m.name: m for m in MEASURES}
#: the per-term measures :func:`lossstudy.performance.performance_table` computes from the
#: estimates (every one with a moment rule), in the order of ``performance.csv``
COMPUTED: tuple[str, ...] = tuple(
    m.name for m in MEASURES if m.orders is not None and m.scope == "term"
)
#: the per-estimator measures on the term ``model``, computed where the estimates carry their
#: columns (``test_mse``, ``test_mae``, ``ise``; ``opt_diff``, ``objective_gap`` and the status
#: ``diverged`` of trained fits)
MODEL: tuple[str, ...] = tuple(m.name for m in MEASURES if m.scope == "model")


def names(**where: object) -> tuple[str, ...]:
    """The measures whose columns equal ``where``, in table order: ``names(relative=True)``."""
    return tuple(m.name for m in MEASURES if all(getattr(m, k) == v for k, v in where.items()))
