"""When does L2 stop winning? Sweeps, crossover points and optima, beside theory.

A *sweep* varies one knob of a scenario over a list of values (``sweep:`` in the config); a
*series* is one sweep at fixed values of every other factor (``n``, other grid knobs). Along a
series, :func:`crossovers` finds where an estimator's comparison with the reference changes
sign beyond Monte Carlo error, and :func:`optima` finds the parameter value (ridge's λ) that
minimises an estimator family's MSE. Both set theory beside the simulation where it applies.

How the numbers are computed (docs/crossovers.md says the same):

crossing
    The statistic along a series is r_k = measure_k − null (null = 1 for relative efficiency and
    relative MSE, the nominal level for coverage) with its MCSE m_k. A point is decided when
    |r_k| > z m_k with z = Φ⁻¹(1 − 0.025/K), Bonferroni over the K points of the series, so a
    sign change is called beyond Monte Carlo error at family-wise level 5% per series. The
    *bracket* is the first pair of decided points with opposite signs (any points between them
    are ties). For coverage a tie counts as nominal, so the bracket is where coverage first
    falls below the nominal level beyond Monte Carlo error (the onset). The *crossing* is the
    root, inside the adjacent pair of the bracket whose estimates change sign, of the monotone
    cubic (PCHIP) through that pair and one neighbour on each side; (ci_low, ci_high) is the
    percentile interval of that root over a parametric bootstrap (each cell's value drawn from
    N(value, MCSE²); cells are independent simulations with separate seed streams), widened in
    quadrature by ``grid_effect`` (the larger move of the crossing under the straight line
    through the pair or the polynomial through the window: the grid's own error) and cut at
    the bracket. ``needs_refinement`` marks rows the cells do not locate.
optimum
    Per-replicate losses (estimate − truth)² of the focus term for every member of the family
    are averaged; the argmin over the grid is refined by the vertex of the parabola through it
    and its two neighbours. The interval is the 2.5–97.5% percentile of the same argmin over 400
    bootstrap resamples of the replicates (members share datasets, so the replicates are
    resampled jointly; the resampling seed is derived from the study seed and the scenario id),
    widened in quadrature by the vertex's move in √value or log value (``grid_effect``).
theory
    Asymptotic relative efficiency of LAD and Huber against OLS along error-distribution sweeps
    (iid errors, every other assumption holding, symmetric errors for Huber); the exact
    fixed-design variance and MSE of linear estimators (OLS, WLS, ridge) on each cell's design,
    joined by the crossings' monotone cubic; and the exact ridge MSE(λ) of the focus slope, whose
    argmin under a Gaussian prior with normal errors is the Bayes rule λ = σ²/τ².
"""

from __future__ import annotations

from .crossing import Crossing, fieller_root, find_crossing, threshold
from .optimum import Optimum, find_optimum
from .series import Series, sweep_series
from .study import CROSSOVER_COLUMNS, OPTIMA_COLUMNS, THEORY_COLUMNS, crossovers, optima

__all__ = [
    "CROSSOVER_COLUMNS",
    "OPTIMA_COLUMNS",
    "THEORY_COLUMNS",
    "Crossing",
    "Optimum",
    "Series",
    "crossovers",
    "fieller_root",
    "find_crossing",
    "find_optimum",
    "optima",
    "sweep_series",
    "threshold",
]
