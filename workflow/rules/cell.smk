# A scenario whose replicates are one job (replicates_per_job >= its replicates, the default):
# drawn, saved, fitted by every estimator and summarised in one process, the summary from the
# fits' table in memory. As a `fit` job and a `summarise` job it cost two processes, each
# mostly start-up, imports and re-reading files (docs/job-granularity.md); the outputs are byte
# for byte the same, and no fit chunk is written. A scenario split into several jobs uses
# `fit` and `summarise` instead (each scenario id matches one set of rules: common.smk).
rule cell:
    output:
        dataset=maybe_temp("results/datasets/{scenario}/chunk0.npz"),
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
        "results/logs/cell/{scenario}.log",
    benchmark:
        "results/benchmarks/cell/{scenario}.tsv"
    wildcard_constraints:
        scenario=ONE_JOB,
    conda:
        "../../environment.yml"
    # One thread, as `fit` (BLAS pinned to one thread by lossstudy.blas). Measured
    # (docs/cluster.md, "Resources"): 2000 replicates × 15 estimators, n = 25-400, in 2.0-2.9 s
    # and at most 287 MB (a fit job then a summarise job: 3.2-3.7 s). mem_mb per job from
    # lossstudy.memory: the largest of its steps' peaks, the summary's on top of what the fits
    # leave behind (docs/memory.md).
    threads: 1
    resources:
        mem_mb=mem_mb("cell"),
        runtime=5,
    params:
        knobs=scenario_knobs,
        seed=STUDY.seed,
        replicates=lambda wildcards: STUDY.scenarios[wildcards.scenario].replicates,
        # this scenario's estimators in the config's order: the estimates follow it
        estimators=lambda wildcards: json.dumps(STUDY.estimators_in(wildcards.scenario)),
        # the study's reference, or the MLE where it is not fitted (a classification scenario)
        reference=lambda wildcards: STUDY.reference_in(wildcards.scenario) or "",
        level=STUDY.level,
        engine=STUDY.engine,
        # scipy's t and normal quantiles for this n (its import is a third of a job's start-up)
        quantiles=fit_quantiles,
        test_rows=test_rows,
        python=job_python(),
        script=f"{workflow.basedir}/workflow/scripts/cell.py",
    # a plain command, not `script:` (whose preamble costs 0.2 s a job: scripts/cell.py)
    shell:
        "{params.python:q} {params.script:q} --scenario {wildcards.scenario:q} --knobs {params.knobs:q}"
        " --seed {params.seed} --replicates {params.replicates}"
        " --estimators {params.estimators:q} --reference {params.reference:q}"
        " --level {params.level} --engine {params.engine:q} --quantiles {params.quantiles:q}"
        " --test-rows {params.test_rows} --dataset {output.dataset:q}"
        " --estimates {output.estimates:q} --performance {output.performance:q}"
        " --table-csv {output.table_csv:q} --table-tex {output.table_tex:q} --log {log:q}"
