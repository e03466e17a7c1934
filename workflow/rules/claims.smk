rule claims:
    input:
        study="results/study.json",
        estimators="results/estimators.csv",
        performance="results/performance.csv",
        scenarios="results/scenarios.csv",
        theory="results/theory.csv",
    output:
        claims=report(
            "results/claims.csv",
            caption="../report/claims.rst",
            category="Tables",
            subcategory="all scenarios",
        ),
        # who wins on the focus slope's MSE in each family: the front page reads it
        scoreboard="results/scoreboard.csv",
    log:
        "results/logs/claims.log",
    benchmark:
        "results/benchmarks/claims.tsv"
    conda:
        "../../environment.yml"
    threads: 1
    # Measured: 2.7 s in one warm process for the default study (192 cells, 136 rows).
    resources:
        mem_mb=600,
        runtime=5,
    script:
        "../scripts/claims.py"
