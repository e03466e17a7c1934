"""Rule `fit`: every estimator on one job's datasets."""

import json

import _lossstudy_path  # noqa: F401  (finds lossstudy without the package installed)

from lossstudy.pipeline import fit_chunk, setup_logging

setup_logging(snakemake.log[0])
fit_chunk(
    snakemake.input[0],
    snakemake.wildcards.scenario,
    json.loads(snakemake.params.estimators),
    float(snakemake.params.level),
    snakemake.params.engine,
    snakemake.output[0],
)
