"""Rule `settings`: the study-level settings (results/study.json)."""

import _lossstudy_path  # noqa: F401  (finds lossstudy without the package installed)

from lossstudy.pipeline import setup_logging
from lossstudy.studyfile import write_study

setup_logging(snakemake.log[0])
write_study(snakemake.params.record, snakemake.output[0])
