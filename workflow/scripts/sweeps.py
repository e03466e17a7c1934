"""Rule `sweeps`: crossover points, optima and the theory curves of every sweep."""

import json
from pathlib import Path

import _lossstudy_path  # noqa: F401  (finds lossstudy without the package installed)

from lossstudy.pipeline import setup_logging
from lossstudy.sweeps.study import write_sweeps

setup_logging(snakemake.log[0])
write_sweeps(
    snakemake.input.performance,
    snakemake.input.scenarios,
    Path(snakemake.input.estimates[0]).parent,
    json.loads(snakemake.params.knobs),
    json.loads(snakemake.params.estimators),
    json.loads(snakemake.params.families),
    snakemake.params.reference,
    int(snakemake.params.seed),
    float(snakemake.params.level),
    snakemake.output.crossovers,
    snakemake.output.optima,
    snakemake.output.theory,
    estimators_csv=snakemake.input.estimators,
    out_training=snakemake.output.training,
)
