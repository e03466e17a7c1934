"""Rule `claims`: every generated claim, one row per comparison (results/claims.csv), and the
scoreboard behind its scoreboard rows (results/scoreboard.csv)."""

import _lossstudy_path  # noqa: F401  (finds lossstudy without the package installed)

from lossstudy.answer.step import write_claims
from lossstudy.pipeline import setup_logging

setup_logging(snakemake.log[0])
write_claims(
    snakemake.input.study,
    snakemake.input.estimators,
    snakemake.input.performance,
    snakemake.input.scenarios,
    snakemake.input.theory,
    snakemake.output.claims,
    snakemake.output.scoreboard,
)
