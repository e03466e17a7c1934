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


# The study-level settings the claims step and the report read (results/study.json), so neither
# parses the config again; rewritten only when they change. Cheap: run by Snakemake itself.
localrules:
    settings,


rule settings:
    output:
        "results/study.json",
    log:
        "results/logs/settings.log",
    benchmark:
        "results/benchmarks/settings.tsv"
    conda:
        "../../environment.yml"
    threads: 1
    # Writes a few kB of JSON.
    resources:
        mem_mb=400,
        runtime=5,
    params:
        record=lambda wildcards: json.dumps(study_record(STUDY, config), indent=1),
    script:
        "../scripts/settings.py"


# The resolved spec of every estimator (sweep members too): loss, penalty, solver, se and
# parameters, with the words the report shows for them. Cheap, like `scenarios`.
localrules:
    estimators,


rule estimators:
    output:
        "results/estimators.csv",
    log:
        "results/logs/estimators.log",
    benchmark:
        "results/benchmarks/estimators.tsv"
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=400,
        runtime=5,
    params:
        # what the table shows: specs, sweep members, the shorthands used, the reference
        # (and the `scenarios:` patterns, when an estimator has them)
        estimators=json.dumps(
            [
                STUDY.estimators,
                STUDY.estimator_sweeps,
                STUDY.estimator_methods,
                STUDY.reference,
            ]
            + ([STUDY.estimator_scenarios] if STUDY.estimator_scenarios else []),
            sort_keys=True,
        ),
    script:
        "../scripts/estimators.py"
