"""Rule `scenarios`: the expanded scenario table with the assumptions each one meets."""

import _lossstudy_path  # finds lossstudy without the package installed, and this checkout's files

from lossstudy.config import load_study
from lossstudy.pipeline import setup_logging, write_scenarios

setup_logging(snakemake.log[0])
write_scenarios(load_study(snakemake.config, _lossstudy_path.SCHEMA), snakemake.output[0])
