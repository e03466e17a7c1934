"""The workflow through a cluster executor gives the same results as a local run, bit for bit.

snakemake-executor-plugin-cluster-generic submits every job that is not a `localrule` with
tests/cluster/submit.py, which starts the job script as a detached local process: a separate
`python -m snakemake` that re-reads the workflow and runs one job, sharing nothing with the
submitting Snakemake but files, as on a real cluster node. tests/cluster/status.py reports each
job's state from the exit code that the job leaves in a file.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CLUSTER = Path(__file__).resolve().parent / "cluster"
pytestmark = pytest.mark.slow

CONFIG = {
    "seed": 11,
    "replicates": 20,
    "replicates_per_job": 10,
    "level": 0.9,
    "defaults": {"n": 30, "coefficients": [1.0, 0.5, 0.0]},
    "scenarios": {"gm": {}, "heavy": {"errors": {"distribution": "t", "df": 3}}},
    "estimators": {"ols": {"method": "ols"}, "lad": {"method": "lad"}},
}
TARGETS = ["results/scenarios.csv", "results/performance.csv"]


def run(workdir: Path, *args: str) -> None:
    (workdir / "config").mkdir(parents=True)
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(CONFIG, sort_keys=False))
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir)]
    done = subprocess.run([*cmd, *args, *TARGETS], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]


def test_cluster_executor_matches_local_run(tmp_path: Path):
    local, cluster, state = tmp_path / "local", tmp_path / "cluster", tmp_path / "jobs"
    run(local, "--cores", "2")

    python = shlex.quote(sys.executable)
    submit = (
        f"{python} {CLUSTER / 'submit.py'} {state} --rule {{rule}} --threads {{threads}} "
        "--mem-mb {resources.mem_mb} --runtime {resources.runtime}"
    )
    run(
        cluster,
        "--executor",
        "cluster-generic",
        "--cluster-generic-submit-cmd",
        submit,
        "--cluster-generic-status-cmd",
        f"{python} {CLUSTER / 'status.py'} {state}",
        "--jobs",
        "4",
        "--seconds-between-status-checks",
        "1",
    )

    # every job but the local rules went through the submit script, with the rule's resources
    submitted = pd.read_csv(
        state / "submitted.tsv", sep="\t", names=["id", "rule", "threads", "mem_mb", "runtime"]
    )
    counts = submitted["rule"].value_counts().to_dict()
    assert counts == {"fit": 4, "summarise": 2}  # not scenarios, performance
    assert (submitted["threads"] >= 1).all()
    assert (submitted["mem_mb"] > 0).all() and (submitted["runtime"] > 0).all()
    assert all((state / f"{job}.rc").read_text().strip() == "0" for job in submitted["id"])

    for scenario in CONFIG["scenarios"]:
        a, b = (
            pd.read_parquet(w / "results" / "estimates" / f"{scenario}.parquet")
            for w in (local, cluster)
        )
        assert len(a) == 20 * 2 * 3
        pd.testing.assert_frame_equal(a, b, check_exact=True)  # per-replicate, bit for bit
    for name in ("performance.csv", "scenarios.csv"):
        assert (local / "results" / name).read_bytes() == (cluster / "results" / name).read_bytes()
    # each cluster job logged its progress to its own log
    log = (cluster / "results" / "logs" / "fit" / "heavy" / "chunk1.log").read_text()
    assert "fit heavy lad: 10/10 replicates done" in log
