rule figures:
    input:
        performance="results/performance.csv",
        scenarios="results/scenarios.csv",
        estimates=expand(
            "results/estimates/{scenario}.parquet", scenario=STUDY.scenarios
        ),
    output:
        report(
            directory("results/figures"),
            patterns=["{name}.png"],
            caption="../report/figures.rst",
            category="Figures",
            labels={"figure": "{name}"},
        ),
    log:
        "results/logs/figures.log",
    benchmark:
        "results/benchmarks/figures.tsv"
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=15,
    params:
        level=STUDY.level,
        reference=STUDY.reference,
    script:
        "../scripts/figures.py"


rule report:
    input:
        performance="results/performance.csv",
        scenarios="results/scenarios.csv",
        estimates=expand(
            "results/estimates/{scenario}.parquet", scenario=STUDY.scenarios
        ),
        figures="results/figures",
        theory="results/theory.csv",
        theory_skipped="results/theory_skipped.csv",
        benchmarks=benchmark_files,
    output:
        "report/report.html",
    log:
        "results/logs/report.log",
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    script:
        "../scripts/report.py"
