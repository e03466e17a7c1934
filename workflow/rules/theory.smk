rule theory:
    input:
        estimates=expand(
            "results/estimates/{scenario}.parquet", scenario=STUDY.scenarios
        ),
        performance="results/performance.csv",
    output:
        table=report(
            "results/theory.csv",
            caption="../report/theory.rst",
            category="Tables",
            subcategory="theory",
        ),
        skipped="results/theory_skipped.csv",
        # every flagged row, largest |z| first; the report shows the top rows and links here
        flagged="results/theory_flagged.csv",
    log:
        "results/logs/theory.log",
    benchmark:
        "results/benchmarks/theory.tsv"
    # Once the cells are done: the per-scenario figures and the sweeps start first (the longest
    # job, and the head of the longest chain), then theory (docs/job-granularity.md).
    priority: 1
    conda:
        "../../environment.yml"
    threads: 1
    # Measured: 20 s, 308 MB peak RSS for the default study's 192 cells (benchmark TSV; reads
    # one scenario's per-replicate estimates at a time; no n×n matrix). mem_mb from
    # lossstudy.memory, by the largest scenario's replicates, n and p (docs/memory.md).
    resources:
        mem_mb=mem_mb("theory"),
        runtime=10,
    params:
        scenarios=lambda wildcards: json.dumps(
            {sid: sc.knobs for sid, sc in STUDY.scenarios.items()}, sort_keys=True
        ),
        estimators=json.dumps(STUDY.estimators, sort_keys=True),
        seed=STUDY.seed,
        level=STUDY.level,
    script:
        "../scripts/theory.py"
