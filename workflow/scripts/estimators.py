"""Rule `estimators`: one row per estimator with its resolved loss × penalty × solver spec."""

import _lossstudy_path  # finds lossstudy without the package installed, and this checkout's files

from lossstudy.config import load_study
from lossstudy.methods import write_estimators
from lossstudy.pipeline import setup_logging

setup_logging(snakemake.log[0])
write_estimators(load_study(snakemake.config, _lossstudy_path.SCHEMA), snakemake.output[0])
