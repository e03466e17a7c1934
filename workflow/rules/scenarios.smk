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
    # Measured (docs/cluster.md, "Resources"): 0.7 s, 120 MB peak RSS.
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
