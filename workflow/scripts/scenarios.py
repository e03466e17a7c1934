"""Rule `scenarios`: the expanded scenario table with the assumptions each one meets."""

import _lossstudy_path  # noqa: F401  (finds lossstudy without the package installed)

from lossstudy.config import load_study
from lossstudy.pipeline import setup_logging, write_scenarios

setup_logging(snakemake.log[0])
write_scenarios(load_study(snakemake.config), snakemake.output[0])
