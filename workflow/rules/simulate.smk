# Cheap (tens of ms, under 100 MB): run by Snakemake itself, never queued on a cluster.
localrules:
    scenarios,


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
    # Measured (README "Job granularity"): 0.7 s, 120 MB peak RSS.
    resources:
        mem_mb=400,
        runtime=5,
    params:
        scenarios=lambda wildcards: json.dumps(
            {
                sid: [sc.knobs, sorted(sc.sweep_values), sc.anchor]
                for sid, sc in STUDY.scenarios.items()
            },
            sort_keys=True,
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
    # Measured (README "Job granularity"): at most 1.7 s (0.4 s unloaded) and 113 MB peak RSS
    # for 2000 replicates of n = 400 with a random design; mem_mb per job from lossstudy.memory.
    resources:
        mem_mb=mem_mb("simulate"),
        runtime=5,
    params:
        knobs=scenario_knobs,
        seed=STUDY.seed,
        replicates=chunk_range,
    script:
        "../scripts/simulate.py"
