"""The workflow through a cluster executor gives the same results as a local run, bit for bit,
and profiles/slurm groups and sizes its cluster jobs as docs/cluster.md says.

snakemake-executor-plugin-cluster-generic submits every job that is not a `localrule` with
tests/cluster/submit.py, which starts the job script as a detached local process: a separate
`python -m snakemake` that re-reads the workflow and runs one job (or one group job), sharing
nothing with the submitting Snakemake but files, as on a real cluster node.
tests/cluster/status.py reports each job's state from the exit code that the job leaves in a
file. No test here needs SLURM or its plugin: the SLURM profile's job groups are applied to the
cluster-generic executor (tests/cluster/slurm_local.sh is the check on a real SLURM).
"""

from __future__ import annotations

import math
import re
import shlex
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import yaml
from packaging.requirements import Requirement

from lossstudy.config import load_study

ROOT = Path(__file__).resolve().parents[1]
CLUSTER = Path(__file__).resolve().parent / "cluster"
SLURM_PROFILE = ROOT / "profiles" / "slurm" / "config.yaml"
DEFAULT_PROFILE = ROOT / "profiles" / "default" / "config.yaml"
SPLIT_RULES = {"fit", "summarise"}  # a scenario split into several jobs, connected in the DAG
CELL_RULES = {"cell", *SPLIT_RULES}  # `cell`: a scenario in one job
STUDY_RULES = {  # study-wide
    "theory",
    "sweeps",
    "claims",
    "figure_cells",
    "figure_board",
    "figure_sweeps",
    "figure_training",
    "figures",
    "report",
}

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


def rules() -> tuple[dict[str, dict[str, int | None]], set[str]]:
    """Every rule of workflow/rules with its threads, mem_mb (None: per job, from the memory
    model) and runtime; and the local rules."""
    found, local = {}, set()
    for smk in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        text = smk.read_text()
        local |= set(re.findall(r"^localrules:\s*\n\s+(\w+),", text, re.M))
        for name, body in re.findall(r"^rule (\w+):\n(.*?)(?=^\S|\Z)", text, re.M | re.S):
            found[name] = {
                "threads": int(re.search(r"^\s+threads: (\d+)", body, re.M)[1]),
                "mem_mb": _mem(body),
                "runtime": int(re.search(r"\bruntime=(\d+)", body)[1]),
            }
    return found, local


def _mem(body: str) -> int | None:
    fixed = re.search(r"\bmem_mb=(\d+)", body)
    if fixed:
        return int(fixed[1])
    assert re.search(r"\bmem_mb=mem_mb\(\"\w+\"\)", body), body
    return None


def slurm_profile() -> dict:
    return yaml.safe_load(SLURM_PROFILE.read_text())


def group_args(profile: dict) -> list[str]:
    """The SLURM profile's job-group settings as command-line flags for any executor."""
    return [
        "--groups",
        *(f"{rule}={group}" for rule, group in profile["groups"].items()),
        "--group-components",
        *(f"{group}={n}" for group, n in profile["group-components"].items()),
        "--cores",
        str(profile["cores"]),
    ]


def test_slurm_profile_groups_every_cluster_rule():
    profile, (found, local) = slurm_profile(), rules()
    assert profile["executor"] == "slurm"
    assert local == {"scenarios", "performance", "settings", "estimators"}
    groups = profile["groups"]
    # every rule that goes to the cluster is in a group; local rules are not
    assert set(groups) == set(found) - local == CELL_RULES | STUDY_RULES
    assert {r: g for r, g in groups.items() if r in CELL_RULES} == dict.fromkeys(CELL_RULES, "cell")
    assert {r: g for r, g in groups.items() if r in STUDY_RULES} == dict.fromkeys(
        STUDY_RULES, "study"
    )
    assert set(profile["group-components"]) <= set(groups.values())
    assert profile["group-components"]["cell"] > 1  # several cells per cluster job
    # width of a group job: 1 CPU (docs/cluster.md's sizing and slurm_local.sh's check assume it)
    assert profile["cores"] == 1
    assert all(spec["threads"] == 1 for spec in found.values())
    # the plugin's status checks suit jobs of seconds (its default is 40 s)
    init = profile["slurm-init-seconds-before-status-checks"]
    assert isinstance(init, int) and 1 <= init <= 10
    # nothing changes for local users: the default profile has no groups and no executor
    default = yaml.safe_load(DEFAULT_PROFILE.read_text())
    assert not {"groups", "group-components", "executor", "cores"} & set(default)


def test_slurm_profile_repeats_the_default_profile():
    """Snakemake loads one workflow profile: the SLURM one repeats the default's settings."""
    default, profile = yaml.safe_load(DEFAULT_PROFILE.read_text()), slurm_profile()
    for key, value in default.items():
        if key == "latency-wait":  # a shared file system may show outputs late
            assert profile[key] >= value
        else:
            assert profile.get(key) == value, key


def test_slurm_profile_comment_states_the_rules_resources():
    """The profile's summary of the rules' requests is what the rules ask for."""
    found, _ = rules()
    text = SLURM_PROFILE.read_text()
    mem = re.search(r"mem_mb\s+->\s+--mem\s+\((\d+)-(\d+) MB", text)
    time = re.search(r"runtime\s+->\s+--time, minutes\s+\((\d+)-(\d+)", text)
    mems = [spec["mem_mb"] for spec in found.values() if spec["mem_mb"] is not None]
    times = [spec["runtime"] for spec in found.values()]
    assert (int(mem[1]), int(mem[2])) == (min(mems), max(mems))
    assert (int(time[1]), int(time[2])) == (min(times), max(times))


def test_docs_resource_table_lists_every_rule():
    """docs/cluster.md's table: one row per rule, with the rule's threads, mem_mb and runtime."""
    found, local = rules()
    doc = (ROOT / "docs" / "cluster.md").read_text()
    section = doc.split("\n## Resources\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(
        r"^\| `(\w+)`( \(local\))? \| (\d+) \| (\d+|per job[^|]*) \| (\d+) \|", section, re.M
    )
    table = {
        name: (bool(is_local), int(t), int(m) if m.isdigit() else None, int(r))
        for name, is_local, t, m, r in rows
    }
    assert table == {
        name: (name in local, spec["threads"], spec["mem_mb"], spec["runtime"])
        for name, spec in found.items()
        if name != "all"
    }


def test_slurm_extra_covers_the_version_the_check_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (req,) = (Requirement(r) for r in project["optional-dependencies"]["slurm"])
    assert req.name == "snakemake-executor-plugin-slurm"
    assert str(req.specifier) and not req.specifier.contains("3.0.0")  # a bounded range
    script = (CLUSTER / "slurm_local.sh").read_text()
    pinned = re.search(r"PLUGIN:-snakemake-executor-plugin-slurm==([\d.]+)\}", script)[1]
    assert req.specifier.contains(pinned)
    for doc in ("README.md", "docs/cluster.md"):  # the install command, with the tested version
        text = (ROOT / doc).read_text()
        assert '".[slurm]"' in text and pinned in text, doc


@pytest.mark.slow
def test_slurm_groups_on_the_default_study(tmp_path: Path):
    """A dry run of the default study with the SLURM profile's groups: every scenario cell's
    one `cell` job (each scenario is one job of 2000 replicates) in a group job,
    `group-components` cells per group job, the study-wide rules in one, and nothing else but
    the local rules outside a group."""
    profile = slurm_profile()
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text((ROOT / "config" / "config.yaml").read_text())
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path)]
    cmd += ["--dry-run", "--executor", "cluster-generic", "--cluster-generic-submit-cmd", "false"]
    cmd += ["--jobs", "100", *group_args(profile)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout + done.stderr

    # The dry run prints each group job as a header followed by its jobs, indented by 4, and
    # every other job unindented.
    top, members = [], []  # rules outside groups; (group, [(rule, wildcards), ...])
    for line in out.splitlines():
        if m := re.match(r"^\[[^\]]+\] Group job (\w+) \(jobs in lexicogr\. order\):$", line):
            members.append((m[1], []))
        elif m := re.match(r"^(?:local)?rule (\w+):$", line):
            top.append(m[1])
        elif m := re.match(r"^    rule (\w+):$", line):
            members[-1][1].append([m[1], ""])
        elif m := re.match(r"^        wildcards: (.*)$", line):
            members[-1][1][-1][1] = m[1]
    assert set(top) == {"scenarios", "performance", "settings", "estimators", "all"}

    cells = [jobs for name, jobs in members if name == "cell"]
    study = [jobs for name, jobs in members if name == "study"]
    assert len(study) == 1 and Counter(r for r, _ in study[0]) == dict.fromkeys(STUDY_RULES, 1)
    n_cells = sum(1 for jobs in cells for rule, _ in jobs if rule == "cell")
    per_job = profile["group-components"]["cell"]
    study_config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    assert n_cells == len(load_study(study_config).scenarios) > per_job
    assert len(cells) == math.ceil(n_cells / per_job)
    seen = set()
    for jobs in cells:
        scenario = {re.search(r"scenario=([^,\s]+)", w)[1] for _, w in jobs}
        assert len(scenario) <= per_job and not scenario & seen  # a cell is never split
        seen |= scenario
        rules_of = Counter(rule for rule, _ in jobs)
        assert rules_of == {"cell": len(scenario)}
    assert len(seen) == n_cells


def _workflow(workdir: Path, config: dict, *args: str, targets=TARGETS) -> None:
    (workdir / "config").mkdir(parents=True)
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir)]
    done = subprocess.run([*cmd, *args, *targets], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]


def _cluster_generic(state: Path) -> list[str]:
    python = shlex.quote(sys.executable)
    submit = (
        f"{python} {CLUSTER / 'submit.py'} {state} --rule {{rule}} --threads {{threads}} "
        "--mem-mb {resources.mem_mb} --runtime {resources.runtime}"
    )
    return [
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
    ]


def _submitted(state: Path) -> pd.DataFrame:
    names = ["id", "rule", "threads", "mem_mb", "runtime", "jobs"]
    return pd.read_csv(state / "submitted.tsv", sep="\t", names=names, keep_default_na=False)


@pytest.mark.slow
def test_cluster_executor_matches_local_run(tmp_path: Path):
    local, cluster, state = tmp_path / "local", tmp_path / "cluster", tmp_path / "jobs"
    _workflow(local, CONFIG, "--cores", "2")
    _workflow(cluster, CONFIG, *_cluster_generic(state))

    # every job but the local rules went through the submit script, with the rule's resources
    submitted = _submitted(state)
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


def _outputs(workdir: Path) -> dict[str, bytes]:
    """Every result file but the run's own logs and timings."""
    skip = ("results/logs/", "results/benchmarks/")
    files = (p for p in (workdir / "results").rglob("*") if p.is_file())
    return {
        str(p.relative_to(workdir)): p.read_bytes()
        for p in files
        if not str(p.relative_to(workdir)).startswith(skip)
    }


@pytest.mark.slow
def test_slurm_profile_groups_through_a_cluster_executor(tmp_path: Path):
    """The default target with the SLURM profile's job groups: two group jobs (the cells, the
    study-wide rules), each asking for what its jobs add up to, and every result byte for byte
    as in a local run."""
    profile = slurm_profile()
    local, cluster, state = tmp_path / "local", tmp_path / "cluster", tmp_path / "jobs"
    _workflow(local, CONFIG, "--cores", "2", targets=[])
    _workflow(cluster, CONFIG, *_cluster_generic(state), *group_args(profile), targets=[])

    found, _ = rules()
    study = load_study(CONFIG)
    per_job = {  # rules whose mem_mb is predicted per job: the largest over this study's jobs
        r: max(study.mem_mb(r, sid, c) for sid in study.scenarios for c in study.chunks(sid))
        for r in CELL_RULES
    }
    per_job["theory"] = study.mem_mb("theory")  # one job, sized by the largest scenario
    mem = {
        r: spec["mem_mb"] if spec["mem_mb"] is not None else per_job[r] for r, spec in found.items()
    }
    submitted = _submitted(state)
    assert set(submitted["rule"]) == {"GROUP"}
    kinds = []
    for job in submitted.itertuples():
        members = [spec.split(":", 1)[0] for spec in job.jobs.split()]
        kinds.append(frozenset(members))
        # width 1 (`cores: 1`): the group's jobs one after another, so 1 CPU, the largest
        # memory request and the sum of the runtimes
        assert job.threads == 1
        assert job.mem_mb == max(mem[r] for r in members)
        assert job.runtime == sum(found[r]["runtime"] for r in members)
        assert (state / f"{job.id}.rc").read_text().strip() == "0"
    # both cells (2 chunks each, so fit and summarise jobs) fit in one group job: 8 cells per job
    assert sorted(kinds, key=len) == [frozenset(SPLIT_RULES), frozenset(STUDY_RULES)]
    cell = submitted[[k == frozenset(SPLIT_RULES) for k in kinds]].iloc[0]
    assert Counter(s.split(":")[0] for s in cell.jobs.split()) == {"fit": 4, "summarise": 2}
    assert cell.runtime == 4 * 5 + 2 * 5
    assert cell.mem_mb == max(per_job[r] for r in SPLIT_RULES) < 600  # the model's, not flat

    a, b = _outputs(local), _outputs(cluster)
    assert a.keys() == b.keys()
    assert {"results/theory.csv", "results/crossovers.csv", "results/optima.csv"} <= a.keys()
    assert any(name.startswith("results/figures/") for name in a)
    assert [name for name in a if a[name] != b[name]] == []
    assert (cluster / "report" / "report.html").stat().st_size > 0
