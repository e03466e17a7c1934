"""Rule `theory`: the simulated values next to the exact and asymptotic theory."""

import json
from pathlib import Path

import _lossstudy_path  # noqa: F401  (finds lossstudy without the package installed)

from lossstudy.pipeline import setup_logging
from lossstudy.theory import write_theory

setup_logging(snakemake.log[0])
files = {Path(f).stem: f for f in snakemake.input.estimates}
write_theory(
    json.loads(snakemake.params.scenarios),
    int(snakemake.params.seed),
    json.loads(snakemake.params.estimators),
    float(snakemake.params.level),
    files,
    snakemake.input.performance,
    snakemake.output.table,
    snakemake.output.skipped,
    snakemake.output.flagged,
)
