"""Rule `simulate`: one job's replicates of one scenario."""

import json

import _lossstudy_path  # noqa: F401  (finds lossstudy without the package installed)

from lossstudy.pipeline import setup_logging, simulate_chunk

setup_logging(snakemake.log[0])
start, stop = snakemake.params.replicates
simulate_chunk(
    json.loads(snakemake.params.knobs),
    int(snakemake.params.seed),
    snakemake.wildcards.scenario,
    int(start),
    int(stop),
    snakemake.output[0],
)
