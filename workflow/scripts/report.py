"""Rule `report`: the self-contained HTML report."""

from pathlib import Path

import _lossstudy_path  # noqa: F401  (finds lossstudy without the package installed)

from lossstudy.figures import CAPTIONS
from lossstudy.pipeline import setup_logging
from lossstudy.report import render_report

setup_logging(snakemake.log[0])
figdir = Path(snakemake.input.figures)
figures = [figdir / f"{name}.png" for name in CAPTIONS if (figdir / f"{name}.png").exists()]
render_report(
    snakemake.config,
    snakemake.input.performance,
    snakemake.input.scenarios,
    Path(snakemake.input.estimates[0]).parent,
    figures,
    "results/benchmarks",
    snakemake.output[0],
    theory_csv=snakemake.input.theory,
    theory_skipped_csv=snakemake.input.theory_skipped,
)
