import json
import os
import re
import sys
from importlib.util import find_spec
from pathlib import Path

from snakemake.exceptions import WorkflowError

# Not installed (e.g. a conda env made from environment.yml): use the repository's copy.
if find_spec("lossstudy") is None:
    sys.path.insert(0, str(Path(workflow.basedir) / "workflow"))

from lossstudy.config import SCHEMA_IN_REPOSITORY, ConfigError, load_study
from lossstudy.quantiles import job_quantiles
from lossstudy.studyfile import study_record

# This workflow's own schema, not whatever copy the installed package carries.
SCHEMA = Path(workflow.basedir) / SCHEMA_IN_REPOSITORY

try:
    STUDY = load_study(config, SCHEMA)
except ConfigError as err:
    raise WorkflowError(str(err)) from None


wildcard_constraints:
    scenario=r"[A-Za-z0-9][A-Za-z0-9_.\-]*",
    chunk=r"\d+",


def scenario_pattern(ids):
    """A wildcard constraint that matches exactly these scenario ids (none: nothing)."""
    return "|".join(re.escape(sid) for sid in ids) or "(?!)"


# A scenario whose replicates are one job runs as one `cell` job (draw, fit and summarise in one
# process); one split into several jobs runs `fit` per job and `summarise` to gather them
# (docs/job-granularity.md). Each scenario id matches the outputs of one set of rules only.
ONE_JOB = scenario_pattern(
    sid for sid in STUDY.scenarios if len(STUDY.chunks(sid)) == 1
)
SPLIT = scenario_pattern(sid for sid in STUDY.scenarios if len(STUDY.chunks(sid)) > 1)


def scenario_knobs(wildcards):
    """Only this scenario's resolved knobs: editing another scenario never reruns this one."""
    return STUDY.scenarios[wildcards.scenario].knobs_json()


def chunk_range(wildcards):
    return list(STUDY.chunk_range(wildcards.scenario, int(wildcards.chunk)))


def scenario_estimators(wildcards):
    """Only the estimators fitted in this scenario, keys sorted: a trained estimator of other
    scenarios (`scenarios:` patterns) does not rerun this one's fit jobs."""
    return json.dumps(STUDY.estimators_in(wildcards.scenario), sort_keys=True)


def test_rows(wildcards):
    """Rows of each replicate's fresh test sample: ⌈10⁵ / the scenario's replicates⌉, the same
    in every job of the scenario (lossstudy.prediction)."""
    from lossstudy.prediction import test_rows as rows

    return rows(STUDY.scenarios[wildcards.scenario].replicates)


def fit_quantiles(wildcards):
    """The quantiles a fit job asks scipy for, computed here once: the job skips scipy's import."""
    sc = STUDY.scenarios[wildcards.scenario]
    return json.dumps(job_quantiles(int(sc.knobs["n"]), sc.p, STUDY.level))


def fit_files(wildcards):
    return [
        f"results/fits/{wildcards.scenario}/chunk{chunk}.parquet"
        for chunk in STUDY.chunks(wildcards.scenario)
    ]


def mem_mb(job):
    """``resources: mem_mb`` of each job of rule ``job``, predicted from its replicates, n, p,
    design and estimators by lossstudy.memory (docs/memory.md); the study-wide
    theory job's from the largest scenario."""
    return lambda wildcards: STUDY.mem_mb(
        job, getattr(wildcards, "scenario", None), int(getattr(wildcards, "chunk", 0))
    )


def maybe_temp(path):
    return path if STUDY.keep_datasets else temp(path)


def benchmark_files(wildcards):
    """Every job's benchmark file: the report sums wall time per rule from them."""
    files = ["results/benchmarks/scenarios.tsv", "results/benchmarks/estimators.tsv"]
    files += ["results/benchmarks/performance.tsv"]
    files += ["results/benchmarks/figures.tsv", "results/benchmarks/theory.tsv"]
    files += [
        "results/benchmarks/figure_cells.tsv",
        "results/benchmarks/figure_board.tsv",
        "results/benchmarks/figure_sweeps.tsv",
        "results/benchmarks/figure_training.tsv",
    ]
    files += ["results/benchmarks/sweeps.tsv", "results/benchmarks/claims.tsv"]
    for sid in STUDY.scenarios:
        if len(STUDY.chunks(sid)) == 1:
            files.append(f"results/benchmarks/cell/{sid}.tsv")
            continue
        files.append(f"results/benchmarks/summarise/{sid}.tsv")
        for chunk in STUDY.chunks(sid):
            files.append(f"results/benchmarks/fit/{sid}/chunk{chunk}.tsv")
    return files


def job_python():
    """The interpreter of a job run as a plain command, chosen as Snakemake chooses a
    `script:`'s: the environment's `python` under --sdm conda/apptainer, else the one running
    Snakemake (a bare `python` on PATH may be another, without the study's packages)."""
    from snakemake.settings.types import DeploymentMethod

    isolated = {DeploymentMethod.CONDA, DeploymentMethod.APPTAINER}
    if isolated & set(workflow.deployment_settings.deployment_method):
        return "python"
    return sys.executable


# A local run forks its cell jobs from a warm worker that has their imports done
# (lossstudy.warm; docs/job-granularity.md): each job stays a Snakemake job with its own files,
# its process asks the worker to run it and runs itself when there is none. Not under
# --sdm conda/apptainer (the job's interpreter is another), nor on a cluster.
onstart:
    if (
        workflow.local_exec
        and workflow.is_main_process
        and job_python() == sys.executable
    ):
        from lossstudy.warm import SOCKET_ENV, start

        socket_path = start(
            sys.executable, Path(workflow.basedir) / "workflow", os.getpid()
        )
        if socket_path:
            os.environ[SOCKET_ENV] = socket_path
