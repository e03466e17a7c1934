"""Rules `figure_cells`, `figure_sweeps`, `figure_training`: parts of the figures (PNG, SVG)."""

import json
from pathlib import Path

import _lossstudy_path  # noqa: F401  (finds lossstudy without the package installed)

from lossstudy.figures import make_figures
from lossstudy.pipeline import setup_logging

setup_logging(snakemake.log[0])
estimates = getattr(snakemake.input, "estimates", None)
make_figures(
    snakemake.input.performance,
    snakemake.input.scenarios,
    Path(estimates[0]).parent if estimates else "results/estimates",
    snakemake.output[0],
    level=float(snakemake.params.level),
    reference=snakemake.params.reference,
    estimators=json.loads(snakemake.params.estimators),
    specs=json.loads(snakemake.params.specs),
    families=json.loads(snakemake.params.families),
    crossovers_csv=getattr(snakemake.input, "crossovers", None),
    optima_csv=getattr(snakemake.input, "optima", None),
    sweep_theory_csv=getattr(snakemake.input, "sweep_theory", None),
    estimators_csv=getattr(snakemake.input, "estimators", None),
    theory_csv=getattr(snakemake.input, "theory", None),
    scoreboard_csv=getattr(snakemake.input, "scoreboard", None),
    parts=snakemake.params.part.split(),
)
