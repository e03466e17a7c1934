# The figures in four jobs that run side by side: the per-scenario ones and the nested loop
# need only the performance table and the estimates, so they are drawn while `sweeps`,
# `theory` and `claims` run (they were the last 80 s of the run while they waited for the
# claims' scoreboard); the scoreboard and relative-efficiency figures draw the claims step's
# verdicts and wait for it; the sweep figures wait for `sweeps`; the training figures
# (gradient-trained estimators, read from estimators.csv, and theory.csv) wait for `theory`.
# `figures` then copies all four into results/figures (no plotting).
rule figure_cells:
    input:
        performance="results/performance.csv",
        scenarios="results/scenarios.csv",
        estimates=expand(
            "results/estimates/{scenario}.parquet", scenario=STUDY.scenarios
        ),
    output:
        temp(directory("results/figure_parts/cells")),
    log:
        "results/logs/figure_cells.log",
    benchmark:
        "results/benchmarks/figure_cells.tsv"
    priority: 3
    conda:
        "../../environment.yml"
    threads: 1
    # Measured (docs/cluster.md, "Resources"): the figures job drew both parts in 34 s with 526 MB
    # peak RSS for the default study; this part is about 70% of that time and holds the
    # estimates of the few scenarios it draws replicate by replicate.
    resources:
        mem_mb=1200,
        runtime=10,
    params:
        part="cells",
        level=STUDY.level,
        reference=STUDY.reference,
        estimators=json.dumps(STUDY.anchor_estimators()),
        specs=json.dumps(STUDY.estimators, sort_keys=True),
        families=json.dumps(STUDY.estimator_sweeps, sort_keys=True),
    script:
        "../scripts/figures.py"


rule figure_board:
    input:
        performance="results/performance.csv",
        scenarios="results/scenarios.csv",
        # the scoreboard figure draws the claims step's verdicts (one rule for every comparison)
        scoreboard="results/scoreboard.csv",
    output:
        temp(directory("results/figure_parts/board")),
    log:
        "results/logs/figure_board.log",
    benchmark:
        "results/benchmarks/figure_board.tsv"
    conda:
        "../../environment.yml"
    threads: 1
    # Two figures from the study-wide tables.
    resources:
        mem_mb=800,
        runtime=5,
    params:
        part="board",
        level=STUDY.level,
        reference=STUDY.reference,
        estimators=json.dumps(STUDY.anchor_estimators()),
        specs=json.dumps(STUDY.estimators, sort_keys=True),
        families=json.dumps(STUDY.estimator_sweeps, sort_keys=True),
    script:
        "../scripts/figures.py"


rule figure_sweeps:
    input:
        performance="results/performance.csv",
        scenarios="results/scenarios.csv",
        crossovers="results/crossovers.csv",
        optima="results/optima.csv",
        sweep_theory="results/sweep_theory.csv",
    output:
        temp(directory("results/figure_parts/sweeps")),
    log:
        "results/logs/figure_sweeps.log",
    benchmark:
        "results/benchmarks/figure_sweeps.tsv"
    conda:
        "../../environment.yml"
    threads: 1
    # About 30% of the 34-s figures job (above); reads only the study-wide tables.
    resources:
        mem_mb=1200,
        runtime=10,
    params:
        part="sweeps",
        level=STUDY.level,
        reference=STUDY.reference,
        estimators=json.dumps(STUDY.anchor_estimators()),
        specs=json.dumps(STUDY.estimators, sort_keys=True),
        families=json.dumps(STUDY.estimator_sweeps, sort_keys=True),
    script:
        "../scripts/figures.py"


rule figure_training:
    input:
        performance="results/performance.csv",
        scenarios="results/scenarios.csv",
        estimators="results/estimators.csv",
        theory="results/theory.csv",
        # the networks' fitted curves are kept in their cells' estimates
        estimates=expand(
            "results/estimates/{scenario}.parquet", scenario=STUDY.scenarios
        ),
    output:
        temp(directory("results/figure_parts/training")),
    log:
        "results/logs/figure_training.log",
    benchmark:
        "results/benchmarks/figure_training.tsv"
    conda:
        "../../environment.yml"
    threads: 1
    # The training section's figures (docs/training.md): a third job beside the other two, so
    # that none of them waits for the others; nothing to draw when no estimator is trained.
    resources:
        mem_mb=800,
        runtime=10,
    params:
        part="training",
        level=STUDY.level,
        reference=STUDY.reference,
        estimators=json.dumps(STUDY.anchor_estimators()),
        specs=json.dumps(STUDY.estimators, sort_keys=True),
        families=json.dumps(STUDY.estimator_sweeps, sort_keys=True),
    script:
        "../scripts/figures.py"


rule figures:
    input:
        "results/figure_parts/cells",
        "results/figure_parts/board",
        "results/figure_parts/sweeps",
        "results/figure_parts/training",
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
    # Copies a few MB of PNG and SVG files.
    resources:
        mem_mb=400,
        runtime=5,
    script:
        "../scripts/gather_figures.py"


rule report:
    input:
        study="results/study.json",
        estimators="results/estimators.csv",
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
        training="results/training.csv",
        claims="results/claims.csv",
        scoreboard="results/scoreboard.csv",
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
    # Measured (docs/cluster.md, "Resources"): 3.5 s, 315 MB peak RSS for the default study.
    resources:
        mem_mb=800,
        runtime=10,
    script:
        "../scripts/report.py"
