"""Rule `performance`: the study's tidy performance table."""

import _lossstudy_path  # noqa: F401  (finds lossstudy without the package installed)

from lossstudy.pipeline import aggregate_performance, setup_logging

setup_logging(snakemake.log[0])
aggregate_performance(list(snakemake.input), snakemake.output[0])
