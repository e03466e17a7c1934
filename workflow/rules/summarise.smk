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
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        knobs=scenario_knobs,
        estimators=json.dumps(STUDY.estimators),
        reference=STUDY.reference,
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
    resources:
        mem_mb=2000,
        runtime=5,
    script:
        "../scripts/performance.py"
