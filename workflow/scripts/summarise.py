"""Rule `summarise`: merged estimates, performance measures and tables of one scenario."""

import json

import _lossstudy_path  # noqa: F401  (finds lossstudy without the package installed)

from lossstudy.pipeline import setup_logging, summarise_scenario
from lossstudy.tables import write_scenario_tables

setup_logging(snakemake.log[0])
out = snakemake.output
summarise_scenario(
    list(snakemake.input),
    json.loads(snakemake.params.knobs),
    json.loads(snakemake.params.estimators),
    snakemake.params.reference,
    float(snakemake.params.level),
    out.estimates,
    out.performance,
)
write_scenario_tables(out.performance, snakemake.wildcards.scenario, out.table_csv, out.table_tex)
