"""Rule `cell`: a scenario in one job, drawn, fitted and summarised in this one process.

Run as a plain command (the rule's ``shell:``), not through Snakemake's ``script:``: that
preamble unpickles a Snakemake object, and importing ``snakemake.script`` for it costs ≈ 0.2 s
of each of the study's ~200 cell jobs (a tenth of a job). The rule passes every value it
would have put in ``snakemake.params`` as an option instead; the outputs are the same bytes.
"""

import sys

import _lossstudy_path  # noqa: F401  (finds lossstudy without the package installed)

from lossstudy.warm import run_in_worker

# forked from the run's warm worker, which has the imports below done (lossstudy.warm)
if (status := run_in_worker(__file__, sys.argv[1:])) is not None:
    sys.exit(status)

import argparse  # noqa: E402
import json  # noqa: E402

from lossstudy.pipeline import fit_and_summarise, setup_logging  # noqa: E402
from lossstudy.quantiles import preset  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
for name in (
    "scenario",
    "knobs",
    "seed",
    "replicates",
    "estimators",
    "reference",
    "level",
    "engine",
    "quantiles",
    "test-rows",
    "dataset",
    "estimates",
    "performance",
    "table-csv",
    "table-tex",
    "log",
):
    parser.add_argument(f"--{name}", required=True)
args = parser.parse_args()

setup_logging(args.log)
preset(json.loads(args.quantiles))
fit_and_summarise(
    json.loads(args.knobs),
    int(args.seed),
    args.scenario,
    int(args.replicates),
    json.loads(args.estimators),
    float(args.level),
    args.engine,
    args.reference or None,
    args.dataset,
    args.estimates,
    args.performance,
    test_rows=int(args.test_rows),
)

# imported here, not above: pandas (which the tables need) stays out of the draws and fits
from lossstudy.tables import write_scenario_tables  # noqa: E402

write_scenario_tables(args.performance, args.scenario, args.table_csv, args.table_tex)
