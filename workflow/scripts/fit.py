"""Rule `fit`: one job's replicates drawn, saved, and fitted by every estimator."""

import json

import _lossstudy_path  # noqa: F401  (finds lossstudy without the package installed)

from lossstudy.pipeline import setup_logging, simulate_and_fit_chunk
from lossstudy.quantiles import preset

setup_logging(snakemake.log[0])
preset(json.loads(snakemake.params.quantiles))
start, stop = snakemake.params.replicates
simulate_and_fit_chunk(
    json.loads(snakemake.params.knobs),
    int(snakemake.params.seed),
    snakemake.wildcards.scenario,
    int(start),
    int(stop),
    json.loads(snakemake.params.estimators),
    float(snakemake.params.level),
    snakemake.params.engine,
    snakemake.output.dataset,
    snakemake.output.fits,
    test_rows=int(snakemake.params.test_rows),
)
