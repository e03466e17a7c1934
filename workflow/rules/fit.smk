# Only for a scenario split into several jobs (replicates_per_job below its replicates; one job
# per scenario is rule `cell`). Draws one job's replicates and fits every estimator to them: one
# process for both, because a separate simulation job cost as much in start-up as its draws
# (docs/job-granularity.md). The dataset is still written (a temp file when keep_datasets is
# false, deleted at once). The fit chunk is always temporary: `summarise` copies its rows into
# the scenario's estimates, so keeping it doubled the study's disk; the price is that a rerun
# of `summarise` (estimators reordered, another reference, more replicates) reruns the
# scenario's fit jobs as well.
rule fit:
    output:
        dataset=maybe_temp("results/datasets/{scenario}/chunk{chunk}.npz"),
        fits=temp("results/fits/{scenario}/chunk{chunk}.parquet"),
    log:
        "results/logs/fit/{scenario}/chunk{chunk}.log",
    benchmark:
        "results/benchmarks/fit/{scenario}/chunk{chunk}.tsv"
    wildcard_constraints:
        scenario=SPLIT,
    conda:
        "../../environment.yml"
    # One thread: the package pins BLAS to one thread for every draw and fit (lossstudy.blas),
    # and Snakemake sets OMP/OPENBLAS_NUM_THREADS to `threads`. Measured (docs/cluster.md): all 15
    # estimators of the default study on 2000 replicates of n = 400 take at most 3.0 s and
    # 226 MB peak RSS (the reference engine, 7 estimators: at most 43 s); drawing them, at most
    # 1.7 s and 113 MB (random design), before the fits. mem_mb per job from lossstudy.memory
    # (docs/memory.md): the larger of the draws' and the fits' predicted peaks.
    threads: 1
    resources:
        mem_mb=mem_mb("fit"),
        runtime=5,
    params:
        knobs=scenario_knobs,
        seed=STUDY.seed,
        replicates=chunk_range,
        # this scenario's estimators (an estimator's `scenarios:` may leave it out), keys
        # sorted: reordering the config, or adding an estimator of other scenarios, reruns nothing
        estimators=scenario_estimators,
        level=STUDY.level,
        engine=STUDY.engine,
        # rows of each replicate's fresh test sample (test_mse, test_mae of every fit)
        test_rows=test_rows,
        # scipy's t and normal quantiles for this n (its import is a third of a job's start-up)
        quantiles=fit_quantiles,
    script:
        "../scripts/fit.py"
