rule claims:
    input:
        performance="results/performance.csv",
        scenarios="results/scenarios.csv",
        theory="results/theory.csv",
    output:
        report(
            "results/claims.csv",
            caption="../report/claims.rst",
            category="Tables",
            subcategory="all scenarios",
        ),
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
    params:
        # what the claims depend on besides the inputs: rerun when these change
        estimators=json.dumps(STUDY.estimators, sort_keys=True),
        anchors=json.dumps(STUDY.anchor_estimators()),
        reference=STUDY.reference,
        level=STUDY.level,
    script:
        "../scripts/claims.py"
