"""Rule `figures`: every figure of the study as PNG and SVG."""

import json
from pathlib import Path

import _lossstudy_path  # noqa: F401  (finds lossstudy without the package installed)

from lossstudy.figures import make_figures
from lossstudy.pipeline import setup_logging

setup_logging(snakemake.log[0])
estimates_dir = Path(snakemake.input.estimates[0]).parent
make_figures(
    snakemake.input.performance,
    snakemake.input.scenarios,
    estimates_dir,
    snakemake.output[0],
    level=float(snakemake.params.level),
    reference=snakemake.params.reference,
    estimators=json.loads(snakemake.params.estimators),
    specs=json.loads(snakemake.params.specs),
    families=json.loads(snakemake.params.families),
    crossovers_csv=snakemake.input.crossovers,
    optima_csv=snakemake.input.optima,
    sweep_theory_csv=snakemake.input.sweep_theory,
)
