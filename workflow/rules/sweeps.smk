rule sweeps:
    input:
        performance="results/performance.csv",
        scenarios="results/scenarios.csv",
        estimators="results/estimators.csv",
        estimates=expand(
            "results/estimates/{scenario}.parquet", scenario=STUDY.scenarios
        ),
    output:
        crossovers=report(
            "results/crossovers.csv",
            caption="../report/sweeps.rst",
            category="Tables",
            subcategory="sweeps",
        ),
        optima=report(
            "results/optima.csv",
            caption="../report/sweeps.rst",
            category="Tables",
            subcategory="sweeps",
        ),
        theory="results/sweep_theory.csv",
        training=report(
            "results/training.csv",
            caption="../report/sweeps.rst",
            category="Tables",
            subcategory="sweeps",
        ),
    log:
        "results/logs/sweeps.log",
    benchmark:
        "results/benchmarks/sweeps.tsv"
    priority: 2
    conda:
        "../../environment.yml"
    threads: 1
    # Reads the focus term of one scenario's estimates at a time (optima) and evaluates theory
    # curves. Measured: 15 s, 396 MB peak RSS for the default study's 192 cells.
    resources:
        mem_mb=1500,
        runtime=10,
    params:
        knobs=lambda wildcards: json.dumps(
            {sid: sc.knobs for sid, sc in STUDY.scenarios.items()}, sort_keys=True
        ),
        estimators=json.dumps(STUDY.estimators, sort_keys=True),
        families=json.dumps(STUDY.estimator_sweeps, sort_keys=True),
        reference=STUDY.reference,
        seed=STUDY.seed,
        level=STUDY.level,
    script:
        "../scripts/sweeps.py"
