rule scenarios:
    output:
        "results/scenarios.csv",
    log:
        "results/logs/scenarios.log",
    benchmark:
        "results/benchmarks/scenarios.tsv"
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        scenarios=lambda wildcards: json.dumps(
            {sid: sc.knobs for sid, sc in STUDY.scenarios.items()}, sort_keys=True
        ),
    script:
        "../scripts/scenarios.py"


rule simulate:
    output:
        maybe_temp("results/datasets/{scenario}/chunk{chunk}.npz"),
    log:
        "results/logs/simulate/{scenario}/chunk{chunk}.log",
    benchmark:
        "results/benchmarks/simulate/{scenario}/chunk{chunk}.tsv"
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        knobs=scenario_knobs,
        seed=STUDY.seed,
        replicates=chunk_range,
    script:
        "../scripts/simulate.py"
