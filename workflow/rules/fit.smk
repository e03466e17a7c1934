rule fit:
    input:
        "results/datasets/{scenario}/chunk{chunk}.npz",
    output:
        "results/fits/{scenario}/chunk{chunk}.parquet",
    log:
        "results/logs/fit/{scenario}/chunk{chunk}.log",
    benchmark:
        "results/benchmarks/fit/{scenario}/chunk{chunk}.tsv"
    conda:
        "../../environment.yml"
    # One thread: the vectorised engine pins BLAS to one thread (and Snakemake sets
    # OMP/OPENBLAS_NUM_THREADS to `threads`). Measured (README "Running on a cluster"): all 15
    # estimators of the default study on 2000 replicates of n = 400 take at most 3.0 s and
    # 226 MB peak RSS (the reference engine, 7 estimators: at most 43 s); mem_mb per job from
    # lossstudy.memory (README "Memory per job").
    threads: 1
    resources:
        mem_mb=mem_mb("fit"),
        runtime=5,
    params:
        # every estimator, keys sorted: reordering the config reruns nothing
        estimators=json.dumps(STUDY.estimators, sort_keys=True),
        level=STUDY.level,
        engine=STUDY.engine,
    script:
        "../scripts/fit.py"
