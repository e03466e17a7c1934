# Cheap aggregation (concatenates one small CSV per scenario): run by Snakemake itself, never
# queued on a cluster.
localrules:
    performance,


# Gathers the fit chunks of a scenario split into several jobs (rule `fit`); a scenario in one
# job is summarised by its `cell` job, in the same process as its fits.
rule summarise:
    input:
        fit_files,
    output:
        estimates="results/estimates/{scenario}.parquet",
        performance="results/performance/{scenario}.csv",
        table_csv=report(
            "results/tables/{scenario}.csv",
            caption="../report/table.rst",
            category="Tables",
            subcategory="{scenario}",
        ),
        table_tex="results/tables/{scenario}.tex",
    log:
        "results/logs/summarise/{scenario}.log",
    benchmark:
        "results/benchmarks/summarise/{scenario}.tsv"
    wildcard_constraints:
        scenario=SPLIT,
    conda:
        "../../environment.yml"
    threads: 1
    # Measured (docs/cluster.md, "Resources"): at most 4.6 s under load (2.4 s unloaded) and 254 MB
    # peak RSS for 2000 replicates × 15 estimators; mem_mb per job from lossstudy.memory.
    resources:
        mem_mb=mem_mb("summarise"),
        runtime=5,
    params:
        knobs=scenario_knobs,
        # this scenario's estimators in the config's order (the order of its rows)
        estimators=lambda wildcards: json.dumps(STUDY.estimators_in(wildcards.scenario)),
        # the study's reference, or the MLE where it is not fitted (a classification scenario)
        reference=lambda wildcards: STUDY.reference_in(wildcards.scenario),
        level=STUDY.level,
    script:
        "../scripts/summarise.py"


rule performance:
    input:
        expand("results/performance/{scenario}.csv", scenario=STUDY.scenarios),
    output:
        report(
            "results/performance.csv",
            caption="../report/performance.rst",
            category="Tables",
            subcategory="all scenarios",
        ),
    log:
        "results/logs/performance.log",
    benchmark:
        "results/benchmarks/performance.tsv"
    conda:
        "../../environment.yml"
    threads: 1
    # Measured (docs/cluster.md, "Resources"): 0.9 s, 129 MB peak RSS.
    resources:
        mem_mb=400,
        runtime=5,
    script:
        "../scripts/performance.py"
