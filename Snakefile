"""Monte Carlo study of regression loss functions: why is L2 the default, and when is it wrong?"""

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/scenarios.smk"
include: "workflow/rules/cell.smk"
include: "workflow/rules/fit.smk"
include: "workflow/rules/summarise.smk"
include: "workflow/rules/theory.smk"
include: "workflow/rules/sweeps.smk"
include: "workflow/rules/claims.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        "results/scenarios.csv",
        "results/estimators.csv",
        "results/performance.csv",
        "results/theory.csv",
        "results/crossovers.csv",
        "results/optima.csv",
        "results/claims.csv",
        expand("results/tables/{scenario}.tex", scenario=STUDY.scenarios),
        "report/report.html",
