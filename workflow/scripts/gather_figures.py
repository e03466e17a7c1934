"""Rule `figures`: every part of the figures in one directory, for the report and readers."""

import _lossstudy_path  # noqa: F401  (finds lossstudy without the package installed)

from lossstudy.io import gather_files
from lossstudy.pipeline import setup_logging

setup_logging(snakemake.log[0])
gather_files(list(snakemake.input), snakemake.output[0])
