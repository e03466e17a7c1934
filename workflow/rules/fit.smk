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
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        spec=estimator_spec,
        level=STUDY.level,
        engine=STUDY.engine,
    script:
        "../scripts/fit.py"
