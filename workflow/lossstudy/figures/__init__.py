"""Figures of the study (seaborn on matplotlib's Agg backend), deterministic byte for byte.

Every ``fig_*`` function takes the tidy performance table (and the scenario table or the
per-replicate estimates) and returns a :class:`matplotlib.figure.Figure`; it never hard-codes a
scenario or an estimator name, and its size grows with the number of scenarios and estimators.
:func:`make_figures` writes them all as PNG and SVG. :data:`CAPTIONS` says what to see in each.

Layout: a *group* is a set of scenarios that differ only in ``n`` (see
:func:`lossstudy.answer.scenario_groups`). Figures whose scale changes with ``n`` facet by
scenario (rows = group, columns = n when the scenarios form such a grid); the others facet by
group and colour by ``n``.

Modules: ``summary`` (MSE decomposition, relative efficiency, MSE versus n), ``forest`` (bias,
coverage), ``nested`` (the nested-loop plot: every scenario on one axis), ``replicates``
(sampling distributions, zip plots, reading the estimate files), ``divergence``, ``learning``
and ``test_error`` (gradient training: the section "Does differentiability matter?", drawn by
``training``), ``_data`` (the performance table as the figures read it), ``_colors`` (the
one place estimators and losses get their colours and line styles), ``_style`` (rc settings,
panel layout, titles and legends), ``alt`` (the figures' alt texts, from their data); this one
holds the captions and the writer.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before anything imports pyplot: the submodules below, seaborn

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.layout_engine import PlaceHolderLayoutEngine  # noqa: E402

from lossstudy.answer.scoreboard import scoreboard as mse_board  # noqa: E402
from lossstudy.answer.step import representative  # noqa: E402
from lossstudy.io import atomic_path  # noqa: E402
from lossstudy.mcse import Z_TIE  # noqa: E402
from lossstudy.sweeps.series import sweep_series  # noqa: E402
from lossstudy.sweeps.study import measure_lookup  # noqa: E402
from lossstudy.trained import exact_fits  # noqa: E402

from ._data import Z as Z  # noqa: E402
from ._data import _Data, _guess_reference  # noqa: E402
from ._style import DPI, _rc  # noqa: E402
from .forest import fig_bias, fig_coverage  # noqa: E402
from .nested import fig_nested_loop, nested_order  # noqa: E402
from .networks import CURVES_CAPTION, CURVES_PREFIX, network_curve_figures  # noqa: E402
from .replicates import (  # noqa: E402
    CLIP_MADS,
    fig_sampling_distributions,
    fig_zip,
    read_estimates,
    representative_scenarios,
    zip_scenarios,
)
from .scoreboard import fig_scoreboard  # noqa: E402
from .summary import fig_mse_decomposition, fig_mse_vs_n, fig_relative_efficiency  # noqa: E402
from .sweeps import fig_optimum, fig_sweep  # noqa: E402
from .training import TRAINING_CAPTIONS, training_figures  # noqa: E402

__all__ = [
    "CAPTIONS",
    "CURVES_CAPTION",
    "CURVES_PREFIX",
    "TRAINING_CAPTIONS",
    "fig_bias",
    "fig_coverage",
    "fig_mse_decomposition",
    "fig_mse_vs_n",
    "fig_nested_loop",
    "fig_optimum",
    "fig_relative_efficiency",
    "fig_scoreboard",
    "fig_sweep",
    "fig_sampling_distributions",
    "fig_zip",
    "figure_files",
    "make_figures",
    "nested_order",
    "read_estimates",
]

CAPTIONS: dict[str, str] = {
    "scoreboard": (
        "Who has the lowest MSE of the focus slope in each scenario family, at its anchor cell "
        "with the largest n. Dark: the lowest; light: tied with it within Monte Carlo error, by "
        "the rule every comparison of the report follows (the paired relative MSE where the "
        "pair includes the reference, else the difference over independent MCSEs, which is "
        "conservative; one Bonferroni threshold with the claims' relative comparisons; every "
        "cell is a row of results/claims.csv); white: beaten, with "
        "its MSE as a multiple of the best. Estimators with identical point estimates (OLS "
        "with other standard errors) are shown once. Hatched: no finite MSE (moments that do "
        "not exist, or every fit failed)."
    ),
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
        "saturate at 1/8 and 8. Values in grey italics are within Monte Carlo error of 1 (a tie, "
        "at the threshold of the claims' relative comparisons). Hatched grey cells are undefined "
        "(no finite moments, no usable replicates): × marks them. A variance ratio is an "
        "efficiency only for an unbiased estimator: where the squared bias is more than 5% of "
        "the MSE (ridge, endogeneity, misspecification), the cell shows the relative MSE "
        "MSE_ref / MSE instead, marked ᴹ."
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
        "estimator (solid: L2 family, dashed: LAD, dash-dot: Huber) and one panel per scenario "
        "group, with 95% Monte Carlo intervals. The dotted "
        "grey line has slope −1 (MSE ∝ 1/n, the rate of a consistent estimator). A line that "
        "flattens is dominated by bias that does not vanish with n. Undefined MSEs are omitted."
    ),
    "nested_loop": (
        "Nested-loop plot (Rücker & Schwarzer 2014): every scenario of the study on one x axis, "
        "ordered by scenario family (file order), then the value of the knob the family is swept "
        "along, then n, so the innermost factor changes fastest. Each step line is one "
        "estimator's MSE relative to the reference (MSE_ref / MSE, log scale clipped to 0.1–10: "
        "values beyond are marked ▲▼ at the edge and named in the panel): above the dashed "
        "line at 1 it is more accurate than the reference, below less; the light bands are ± 2 "
        "MCSE; solid lines are L2 estimators, dashed LAD, dash-dot Huber. Estimators with the "
        "reference's point estimates (OLS with other standard errors) are not drawn. "
        "Underneath, thin step lines give each cell's n (log scale, values on the right) "
        "and its position within its family's sweep (bottom: lowest value, top: highest; "
        "diamonds mark a sweep's anchor), and the shaded spans name the family and the swept "
        "knob's range. A saw-tooth repeating within a family is an effect of n; a trend across "
        "a family's steps is an effect of the swept knob. Hatched cells have no defined value "
        "(e.g. a reference without moments)."
    ),
}


def _save(fig: Figure, outdir: Path, name: str) -> list[Path]:
    paths = []
    # tight_layout leaves a placeholder layout engine behind, and savefig draws a figure with
    # any engine twice (once to lay it out); the layout is done, so drop it: one draw a file
    if isinstance(fig.get_layout_engine(), PlaceHolderLayoutEngine):
        fig.set_layout_engine(None)
    with plt.rc_context(_rc()):
        for ext, meta in (("png", {"Software": None}), ("svg", {"Date": None, "Creator": None})):
            path = outdir / f"{name}.{ext}"
            with atomic_path(path) as tmp:
                fig.savefig(tmp, format=ext, dpi=DPI, metadata=meta)
            paths.append(path)
    plt.close(fig)
    return paths


#: the figures' parts, drawn by separate workflow jobs (see :func:`make_figures`)
PARTS = ("cells", "board", "sweeps", "training")

#: file-name prefixes of the figures drawn once per sweep (their captions are generated)
SWEEP_PREFIX = "sweep_"
OPTIMUM_PREFIX = "optimum_"

SWEEP_CAPTION = (
    "{base}: {knob} swept, one column per {fixed}. Top: {measure} of each estimator against "
    "{reference} (log scale; above 1 the estimator beats {reference}), with ± 2 MCSE bands; "
    "dotted: theory ({theory}); triangles: crossovers (the comparison changes sign beyond "
    "Monte Carlo error), with their 95% Monte Carlo interval as a bar. Bottom: coverage of the "
    "nominal {level:g} intervals (dashed line)."
)
OPTIMUM_CAPTION = (
    "MSE of the focus slope against {family}'s {parameter} in {scenario} (± 2 MCSE), the exact "
    "MSE curve of the fixed design (dashed, over the prior) and its argmin (dotted); the red "
    "triangle is the simulated argmin with its 95% bootstrap interval. Under a Gaussian prior "
    "with normal errors the exact argmin is the Bayes rule λ = σ²/τ²."
)


def figure_files(figdir: str | Path) -> list[Path]:
    """The report's PNGs in ``figdir``: the named figures in caption order, then those drawn
    per sweep, per estimator optimum and per network scenario."""
    figdir = Path(figdir)
    named = [figdir / f"{name}.png" for name in [*CAPTIONS, *TRAINING_CAPTIONS]]
    drawn = [p for p in named if p.exists()]
    for prefix in (SWEEP_PREFIX, OPTIMUM_PREFIX, CURVES_PREFIX):
        drawn += sorted(figdir.glob(f"{prefix}*.png"))
    return drawn


def make_figures(
    performance_csv: str | Path,
    scenarios_csv: str | Path,
    estimates_dir: str | Path,
    outdir: str | Path,
    *,
    term: str = "x1",
    level: float = 0.95,
    reference: str | None = None,
    estimators: list[str] | None = None,
    specs: dict[str, dict[str, object]] | None = None,
    families: dict[str, dict[str, object]] | None = None,
    crossovers_csv: str | Path | None = None,
    optima_csv: str | Path | None = None,
    sweep_theory_csv: str | Path | None = None,
    estimators_csv: str | Path | None = None,
    theory_csv: str | Path | None = None,
    scoreboard_csv: str | Path | None = None,
    parts: Collection[str] = PARTS,
) -> list[Path]:
    """Write every figure as ``{outdir}/{name}.png`` and ``.svg``; return the paths written.

    ``name`` is a key of :data:`CAPTIONS`, or ``sweep_{family}`` / ``optimum_{estimator}`` for
    the sweep figures (drawn when the crossover/optimum tables are given). ``mse_vs_n`` is
    skipped when ``n`` takes one value, ``sampling_distributions`` and ``zip`` when there are
    no estimate files. The per-scenario figures show the sweeps' anchors and ``estimators``
    (default: all); the sweep figures show every member.

    ``parts`` picks the ``cells`` figures (those of :data:`CAPTIONS` but the two below: they
    need the performance table and the estimates only), the ``board`` figures (the scoreboard
    and relative efficiency, which draw the claims step's verdicts and threshold) and/or the
    ``sweeps`` figures (they also need the crossover,
    optimum and theory-curve tables). The workflow draws each part in a job of its own, so the
    cells' figures run while the sweeps, theory and claims are being computed instead of
    after them. The ``training`` figures
    (:data:`TRAINING_CAPTIONS`, drawn when the study trains an estimator by gradient steps) need
    the performance table, ``estimators_csv`` (``results/estimators.csv``) and, for SGD's risk
    against theory, ``theory_csv``; the workflow draws them in a job of their own.
    ``scoreboard_csv`` is the claims step's ``results/scoreboard.csv``: the scoreboard figure
    draws its verdicts, so the figure, the claims and the front page share one rule
    (:mod:`lossstudy.answer.compare`); without it the board is computed here.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    perf_all = pd.read_csv(performance_csv, keep_default_na=False, na_values=[""])
    scen_all = pd.read_csv(scenarios_csv)
    if specs:  # exactly fitted estimators only (trained members: the training figures)
        estimators = exact_fits(estimators if estimators is not None else list(specs), specs)
    perf, scen = representative(perf_all, scen_all, estimators)
    data = _Data(perf, scen, term)
    term = data.term
    if reference is None:
        reference = _guess_reference(data)
    written: list[Path] = []
    if "cells" in parts:
        written += _cell_figures(
            perf, scen, perf_all, scen_all, data, estimates_dir, outdir, term, level, reference
        )  # fmt: skip
    if "board" in parts:
        written += _board_figures(perf, scen, outdir, term, reference, specs, scoreboard_csv)
    if "sweeps" in parts:
        tables = (crossovers_csv, optima_csv, sweep_theory_csv)
        written += _sweep_figures(
            perf, perf_all, scen_all, outdir, term, level, reference, families, *tables
        )
    if "training" in parts and estimators_csv is not None:
        figs = training_figures(perf_all, scen_all, estimators_csv, term, theory_csv)
        if specs:  # the networks' fitted curves, from the curves their fit jobs kept
            figs.update(network_curve_figures(scen_all, estimates_dir, specs))
        for name, fig in figs.items():
            written += _save(fig, outdir, name)
    return written


def _threshold(board: pd.DataFrame) -> float:
    """The threshold the board's (and the claims') relative comparisons were judged at."""
    if "threshold" in board.columns:
        z = pd.to_numeric(board["threshold"], errors="coerce").dropna()
        if len(z):
            return float(z.iloc[0])
    return Z_TIE


def _cell_figures(
    perf: pd.DataFrame,
    scen: pd.DataFrame,
    perf_all: pd.DataFrame,
    scen_all: pd.DataFrame,
    data: _Data,
    estimates_dir: str | Path,
    outdir: Path,
    term: str,
    level: float,
    reference: str | None,
) -> list[Path]:
    """The figures of :data:`CAPTIONS` but the board's: per-scenario figures (anchors) and the
    nested loop."""
    written: list[Path] = []
    written += _save(fig_mse_decomposition(perf, scen, term), outdir, "mse_decomposition")
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
    # every cell of the study (all sweep members), the estimators of the per-scenario figures
    every_cell = perf_all[perf_all["estimator"].isin(set(perf["estimator"]))]
    written += _save(
        fig_nested_loop(every_cell, scen_all, term, reference=reference), outdir, "nested_loop"
    )
    fig = fig_mse_vs_n(perf, scen, term)
    if fig is not None:
        written += _save(fig, outdir, "mse_vs_n")
    return written


def _board_figures(
    perf: pd.DataFrame,
    scen: pd.DataFrame,
    outdir: Path,
    term: str,
    reference: str | None,
    specs: dict[str, dict[str, object]] | None,
    scoreboard_csv: str | Path | None = None,
) -> list[Path]:
    """The scoreboard and the relative efficiencies: they draw the claims step's verdicts and
    its threshold (``scoreboard_csv``; without it the board is computed here)."""
    written: list[Path] = []
    if scoreboard_csv is not None:
        board = pd.read_csv(scoreboard_csv, keep_default_na=False, na_values=[""])
    else:
        shown = list(dict.fromkeys(perf["estimator"].astype(str)))
        board = mse_board(perf, scen, shown, specs, term)
    if len(board):
        written += _save(fig_scoreboard(board, term), outdir, "scoreboard")
    written += _save(
        fig_relative_efficiency(perf, scen, term, reference, _threshold(board)),
        outdir,
        "relative_efficiency",
    )
    return written


def _sweep_figures(
    perf: pd.DataFrame,
    perf_all: pd.DataFrame,
    scen_all: pd.DataFrame,
    outdir: Path,
    term: str,
    level: float,
    reference: str | None,
    families: dict[str, dict[str, object]] | None,
    crossovers_csv: str | Path | None,
    optima_csv: str | Path | None,
    sweep_theory_csv: str | Path | None,
) -> list[Path]:
    """One figure per swept family (``sweep_*``) and per estimator sweep (``optimum_*``)."""
    written: list[Path] = []
    sweeps = crossovers_csv is not None and bool(reference)
    optima = optima_csv is not None and bool(families)
    if sweep_theory_csv is None or not (sweeps or optima):
        return written
    table = measure_lookup(perf_all, term)  # once for every figure
    curves = pd.read_csv(sweep_theory_csv, keep_default_na=False, na_values=[""])
    if sweeps:
        cross = pd.read_csv(crossovers_csv, keep_default_na=False, na_values=[""])
        shown = list(dict.fromkeys(perf["estimator"].astype(str)))
        done: set[tuple[str, str]] = set()
        for s in sweep_series(scen_all):
            if (s.base, s.knob) in done:
                continue
            done.add((s.base, s.knob))
            fig = fig_sweep(perf_all, scen_all, cross, curves, s.base, s.knob, shown, reference,
                            level, term, table)  # fmt: skip
            if fig is not None:
                written += _save(fig, outdir, f"{SWEEP_PREFIX}{s.base}")
    if optima:
        opt = pd.read_csv(optima_csv, keep_default_na=False, na_values=[""])
        cells = optimum_cells(scen_all)
        for family in dict.fromkeys(str(m["family"]) for m in families.values()):
            members = {
                name: float(m["value"])  # type: ignore[arg-type]
                for name, m in families.items()
                if m["family"] == family
            }
            fig = fig_optimum(perf_all, opt, curves, family, members, cells, term, table)
            if fig is not None:
                written += _save(fig, outdir, f"{OPTIMUM_PREFIX}{family}")
    return written


def optimum_cells(scen: pd.DataFrame) -> list[str]:
    """Where an estimator sweep is drawn: the cells with a prior on the slopes (where theory
    names the best parameter), else the anchors of the first scenario family."""
    if "prior.tau" in scen.columns:
        tau = pd.to_numeric(scen["prior.tau"], errors="coerce").fillna(0)
        cells = scen.loc[tau > 0, "scenario"].astype(str).tolist()
        if cells:
            return cells
    first = scen[scen["base"].astype(str) == str(scen["base"].iloc[0])]
    return first["scenario"].astype(str).tolist()
