"""Rule `report`: the self-contained HTML report."""

from pathlib import Path

import _lossstudy_path  # finds lossstudy without the package installed, and this checkout's files

from lossstudy.figures import figure_files
from lossstudy.pipeline import setup_logging
from lossstudy.report import render_report, report_context

setup_logging(snakemake.log[0])
figures = figure_files(snakemake.input.figures)
context = report_context(
    snakemake.input.study,
    snakemake.input.estimators,
    snakemake.input.performance,
    snakemake.input.scenarios,
    snakemake.input.claims,
    Path(snakemake.input.estimates[0]).parent,
    figures,
    "results/benchmarks",
    repository=_lossstudy_path.CHECKOUT,
    theory_csv=snakemake.input.theory,
    theory_skipped_csv=snakemake.input.theory_skipped,
    crossovers_csv=snakemake.input.crossovers,
    optima_csv=snakemake.input.optima,
    scoreboard_csv=snakemake.input.scoreboard,
    training_csv=snakemake.input.training,
)
render_report(context, snakemake.output[0])
