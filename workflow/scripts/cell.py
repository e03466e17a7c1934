"""Rule `cell`: a scenario in one job, drawn, fitted and summarised in this one process."""

import json

import _lossstudy_path  # noqa: F401  (finds lossstudy without the package installed)

from lossstudy.pipeline import fit_and_summarise, setup_logging
from lossstudy.quantiles import preset

setup_logging(snakemake.log[0])
preset(json.loads(snakemake.params.quantiles))
out = snakemake.output
fit_and_summarise(
    json.loads(snakemake.params.knobs),
    int(snakemake.params.seed),
    snakemake.wildcards.scenario,
    int(snakemake.params.replicates),
    json.loads(snakemake.params.estimators),
    float(snakemake.params.level),
    snakemake.params.engine,
    snakemake.params.reference,
    out.dataset,
    out.estimates,
    out.performance,
    test_rows=int(snakemake.params.test_rows),
)

# imported here, not above: pandas (which the tables need) stays out of the draws and fits
from lossstudy.tables import write_scenario_tables  # noqa: E402

write_scenario_tables(out.performance, snakemake.wildcards.scenario, out.table_csv, out.table_tex)
