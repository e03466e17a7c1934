rule fit:
    input:
        "results/datasets/{scenario}/chunk{chunk}.npz",
    output:
        "results/fits/{scenario}/{estimator}/chunk{chunk}.parquet",
    log:
        "results/logs/fit/{scenario}/{estimator}/chunk{chunk}.log",
    benchmark:
        "results/benchmarks/fit/{scenario}/{estimator}/chunk{chunk}.tsv"
    conda:
        "../../environment.yml"
    # One thread: the vectorised engine pins BLAS to one thread (and Snakemake sets
    # OMP/OPENBLAS_NUM_THREADS to `threads`). Measured (README "Job granularity"): at most 4 s
    # under load (1.7 s unloaded) and 189 MB peak RSS, for LAD on 2000 replicates of n = 400.
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        spec=estimator_spec,
        level=STUDY.level,
        engine=STUDY.engine,
    script:
        "../scripts/fit.py"
