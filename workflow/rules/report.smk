rule figures:
    input:
        performance="results/performance.csv",
        scenarios="results/scenarios.csv",
        estimates=expand(
            "results/estimates/{scenario}.parquet", scenario=STUDY.scenarios
        ),
        crossovers="results/crossovers.csv",
        optima="results/optima.csv",
        sweep_theory="results/sweep_theory.csv",
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
    # Measured (README "Job granularity"): 34 s, 526 MB peak RSS for the default study (all
    # per-replicate estimates in memory: grows with scenarios × replicates × estimators).
    resources:
        mem_mb=1200,
        runtime=10,
    params:
        level=STUDY.level,
        reference=STUDY.reference,
        estimators=json.dumps(STUDY.anchor_estimators()),
        specs=json.dumps(STUDY.estimators, sort_keys=True),
        families=json.dumps(STUDY.estimator_sweeps, sort_keys=True),
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
        crossovers="results/crossovers.csv",
        optima="results/optima.csv",
        claims="results/claims.csv",
        benchmarks=benchmark_files,
    output:
        "report/report.html",
    log:
        "results/logs/report.log",
    benchmark:
        "results/benchmarks/report.tsv"
    conda:
        "../../environment.yml"
    threads: 1
    # Measured (README "Job granularity"): 3.5 s, 315 MB peak RSS for the default study.
    resources:
        mem_mb=800,
        runtime=10,
    script:
        "../scripts/report.py"
