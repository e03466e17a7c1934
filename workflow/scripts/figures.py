"""Rule `figures`: every figure of the study as PNG and SVG."""

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
)
