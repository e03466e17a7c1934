#!/usr/bin/env bash
# Manual check that profiles/slurm works on a real SLURM, on one machine.
#
# NOT part of CI and not run by pytest: it needs root, installs Debian packages and starts
# system daemons (munged, slurmctld, slurmd), which CI (under 15 minutes, no daemons) cannot do.
# tests/test_cluster.py is the automated stand-in (cluster-generic plugin, no scheduler).
#
# On a Debian machine (tested on Debian 12 "bookworm", Slurm 22.05, as root, in a container
# without systemd), this script:
#   1. installs munge + slurmctld + slurmd + slurm-client (what the `slurm-wlm` metapackage
#      pulls in, without its recommended extras) and python3-venv;
#   2. makes a venv with the project (README's setup) unless VENV names one, and pip-installs
#      snakemake-executor-plugin-slurm into it;
#   3. writes a single-node /etc/slurm/slurm.conf sized from `slurmd -C` (this machine's CPUs
#      and memory), wipes SLURM's state and starts the daemons;
#   4. runs the study's default target (every rule: cell, fit, summarise in job groups
#      `cell`, theory, sweeps, claims and the figure and report rules in group `study`, scenarios and performance
#      locally) through `--workflow-profile profiles/slurm`, then the same study locally
#      (`--cores 2`), and prints both wall times;
#   5. checks that every job meant for SLURM went there and that each SLURM job COMPLETED with
#      the --cpus-per-task, --mem and --time its jobs add up to: for a single job its rule's
#      threads, mem_mb and runtime; for a group job (width `cores: 1` in the profile, so its
#      jobs run one after another) 1 CPU, the largest mem_mb and the sum of the runtimes;
#   6. checks that the results are identical: every file under results/ except logs/ and
#      benchmarks/ (parquet, CSV, TeX, PNG, npz) byte for byte; report/report.html differs only
#      where it quotes the run's own timings, so it is compared with those masked;
#   7. prints PASS or FAIL, and stops the daemons it started (KEEP_DAEMONS=1 leaves them up).
#
# Which study. With no argument, the repository's config/config.yaml: the full default study
# (192 cells; on a 2-core machine many minutes each way). `small` runs a small study that still
# has every rule and every kind of job (a sweep, a grid, an estimator sweep: 10 cells, about a
# minute locally); any other argument is the path of a config file to run.
#
# Job accounting. By default there is none (the lightest setup). Without slurmdbd, `sacct`
# only answers "Slurm accounting storage is disabled", and the plugin, which polls job states
# with sacct whenever sacct is installed, would never see a job finish (Snakemake waits
# forever); so the check runs Snakemake with --slurm-status-command squeue, and MinJobAge=3600
# keeps finished jobs visible to squeue (and to `scontrol show job`, used for the resource
# check) for an hour. ACCOUNTING=1 also installs slurmdbd and MariaDB, keeps accounting in a
# local database (slurm_acct_db, dropped and made anew on each run) and runs Snakemake without
# that flag, i.e. with the plugin's default polling by sacct, as on a typical cluster.
#
# Usage (from anywhere; the repository is the one holding this script):
#   bash tests/cluster/slurm_local.sh               # the full default study
#   bash tests/cluster/slurm_local.sh small         # the small study with every rule
#   bash tests/cluster/slurm_local.sh my.yaml       # a config of your own
#   bash tests/cluster/slurm_local.sh stop          # only stop the daemons (ACCOUNTING=1: MariaDB too)
# Environment:
#   VENV=/path/to/venv   use an existing venv (default: <repo>/.venv, created if missing)
#   WORK=/path           scratch directory for the two runs (default: /tmp/slurm_local_check)
#   PLUGIN=spec          pip spec of the plugin (default: the version this was tested with,
#                        inside the range of pyproject.toml's `slurm` extra)
#   ACCOUNTING=1         job accounting with slurmdbd + MariaDB, status polling by sacct
#   KEEP_DAEMONS=1       leave the daemons running afterwards
#   LOCAL_CORES=N        cores of the local run (default 2)
# The workflow's own package is always taken from <repo>/workflow (PYTHONPATH), whatever the
# venv has installed.
#
# Overwrites /etc/slurm/slurm.conf (and slurmdbd.conf) only if this script wrote them (it
# refuses otherwise), deletes /var/lib/slurm/slurmctld/* and /var/lib/slurm/slurmd/* (queued
# jobs, job ids) and, with ACCOUNTING=1, the database slurm_acct_db, and stops MariaDB at the
# end: do not run it on a machine that is part of a real cluster or serves databases.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV=${VENV:-$REPO/.venv}
WORK=${WORK:-/tmp/slurm_local_check}
PLUGIN=${PLUGIN:-snakemake-executor-plugin-slurm==2.8.0}
KEEP_DAEMONS=${KEEP_DAEMONS:-0}
ACCOUNTING=${ACCOUNTING:-0}
LOCAL_CORES=${LOCAL_CORES:-2}

SLURM_CONF=/etc/slurm/slurm.conf
SLURMDBD_CONF=/etc/slurm/slurmdbd.conf
MARK="# written by tests/cluster/slurm_local.sh"
STATE_DIRS=(/var/lib/slurm/slurmctld /var/lib/slurm/slurmd)
PACKAGES=(munge slurmctld slurmd slurm-client python3-venv)
[ "$ACCOUNTING" != 1 ] || PACKAGES+=(slurmdbd mariadb-server)

say() { printf '\n== %s\n' "$*"; }

have_systemd() { [ -d /run/systemd/system ]; }

# --- daemons ------------------------------------------------------------------------------

stop_pidfile() {  # stop_pidfile NAME PIDFILE: TERM the daemon and wait up to 30 s for it to go
    local name=$1 pidfile=$2 pid i
    [ -s "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        echo "stopping $name (pid $pid)"
        kill "$pid"
        for i in $(seq 30); do
            kill -0 "$pid" 2>/dev/null || break
            [ "$i" -lt 30 ] || { echo "$name (pid $pid) did not stop" >&2; return 1; }
            sleep 1
        done
    fi
    rm -f "$pidfile"
}

accounting() { [ "$ACCOUNTING" = 1 ]; }

stop_daemons() {
    if have_systemd; then
        systemctl stop slurmd slurmctld slurmdbd munge || true
        if accounting; then systemctl stop mariadb || true; fi
    else
        # pid files: the *PidFile settings below, munged's default
        stop_pidfile slurmd /run/slurmd.pid
        stop_pidfile slurmctld /run/slurmctld.pid
        stop_pidfile slurmdbd /run/slurmdbd.pid
        if accounting && [ -s /run/mysqld/mysqld.pid ]; then /etc/init.d/mariadb stop; fi
        stop_pidfile munged /run/munge/munged.pid
    fi
}

start_accounting() {  # MariaDB, an empty slurm_acct_db, slurmdbd, and the cluster registered
    if have_systemd; then systemctl restart mariadb; else /etc/init.d/mariadb start; fi
    # slurmdbd runs as user slurm and logs in as database user slurm over the local socket
    # (unix_socket authentication: no password to keep)
    mariadb <<'SQL'
DROP DATABASE IF EXISTS slurm_acct_db;
CREATE DATABASE slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED VIA unix_socket;
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
SQL
    if have_systemd; then systemctl restart slurmdbd; else /usr/sbin/slurmdbd; fi
    local i
    for i in $(seq 30); do  # slurmdbd answers once it has made its tables
        sacctmgr -n list cluster >/dev/null 2>&1 && break
        [ "$i" -lt 30 ] || { echo "slurmdbd does not answer; see /var/log/slurm/" >&2; return 1; }
        sleep 1
    done
    sacctmgr -i add cluster localcheck
}

start_daemons() {
    if have_systemd; then
        systemctl restart munge
    else
        # munged must run as user munge; /run/munge holds its socket and pid file
        install -d -o munge -g munge -m 0755 /run/munge
        runuser -u munge -- /usr/sbin/munged
    fi
    munge -n | unmunge >/dev/null || { echo "munge does not work" >&2; return 1; }
    if accounting; then start_accounting; fi
    if have_systemd; then
        systemctl restart slurmctld slurmd
    else
        /usr/sbin/slurmctld   # daemonizes; drops to SlurmUser=slurm
        /usr/sbin/slurmd      # daemonizes; stays root (it starts the jobs)
    fi
    local i state
    for i in $(seq 60); do  # wait for the node to register and be schedulable
        state=$(sinfo -h -n "$NODE" -o %T 2>/dev/null || true)
        [ "$state" = idle ] && { echo "node $NODE is idle"; return 0; }
        sleep 1
    done
    echo "node $NODE not idle after 60 s (state: ${state:-none}); see /var/log/slurm/" >&2
    return 1
}

if [ "${1:-}" = stop ]; then
    stop_daemons
    exit 0
fi
[ $# -le 1 ] || { echo "usage: $0 [small | CONFIG.yaml | stop]" >&2; exit 2; }
STUDY=${1:-$REPO/config/config.yaml}
if [ "$STUDY" = small ]; then
    STUDY_NAME="the small study (every rule)"
else
    CONFIG=$(realpath "$STUDY") || { echo "no config file $STUDY" >&2; exit 2; }
    [ -f "$CONFIG" ] || { echo "no config file $STUDY" >&2; exit 2; }
    STUDY_NAME="the study of $CONFIG"
    [ "$CONFIG" != "$(realpath "$REPO/config/config.yaml")" ] || STUDY_NAME="the full default study"
fi
[ "$(id -u)" -eq 0 ] || { echo "run as root: it installs packages and starts daemons" >&2; exit 2; }

# On any exit: stop the daemons (unless KEEP_DAEMONS=1) and say FAIL if something failed.
started=0
verdict=""
finish() {
    local rc=$?
    if [ "$started" -eq 1 ] && [ "$KEEP_DAEMONS" != 1 ]; then
        say "stopping the SLURM daemons (KEEP_DAEMONS=1 leaves them running)"
        stop_daemons || true
    fi
    if [ "$rc" -eq 0 ]; then
        printf '\n%s\n' "$verdict"
    else
        printf '\nFAIL: SLURM check failed (exit %s); logs in %s and /var/log/slurm/\n' "$rc" "$WORK"
    fi
    exit "$rc"
}
trap finish EXIT

# --- 1. packages --------------------------------------------------------------------------

say "Debian packages: ${PACKAGES[*]}"
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
else
    echo "all installed"
fi
dpkg-query -W -f='slurmctld ${Version}\n' slurmctld

# --- 2. Python: the project and the plugin ------------------------------------------------

say "venv $VENV"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -e "${REPO}[test]"
fi
"$VENV/bin/pip" install "$PLUGIN"
export PATH="$VENV/bin:$PATH"
export PYTHONPATH="$REPO/workflow"   # this checkout's lossstudy, in Snakemake and in the jobs
snakemake --version
pip show snakemake-executor-plugin-slurm | grep -E '^(Name|Version)'

# --- 3. SLURM configuration and daemons ---------------------------------------------------

NODE=$(hostname -s)
say "single-node SLURM on $NODE"
# slurmctld and slurmd find each other by this name
getent hosts "$NODE" >/dev/null || echo "127.0.1.1 $NODE" >>/etc/hosts

for conf in "$SLURM_CONF" "$SLURMDBD_CONF"; do
    if [ -e "$conf" ] && ! grep -qxF "$MARK" "$conf"; then
        echo "$conf exists and was not written by this script; not touching it" >&2
        exit 1
    fi
done
# The node line as slurmd itself detects it (CPUs, sockets, cores, threads, RealMemory in MB):
# declaring more than slurmd finds would drain the node.
node_line=$(slurmd -C | head -n 1)
case $node_line in
    NodeName=*RealMemory=*) ;;
    *) echo "unexpected 'slurmd -C' output: $node_line" >&2; exit 1 ;;
esac
mkdir -p /etc/slurm /var/log/slurm
if accounting; then
    accounting_conf="# Accounting in slurmdbd (MariaDB): sacct answers, and the plugin polls it.
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoreFlags=job_comment"
    # slurmdbd refuses a config file that others can read
    install -m 0600 -o slurm -g slurm /dev/null "$SLURMDBD_CONF"
    cat >"$SLURMDBD_CONF" <<EOF
$MARK
AuthType=auth/munge
DbdHost=localhost
SlurmUser=slurm
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StorageLoc=slurm_acct_db
PidFile=/run/slurmdbd.pid
LogFile=/var/log/slurm/slurmdbd.log
EOF
else
    accounting_conf="# No accounting database: sacct does not work, the plugin is told to poll squeue.
AccountingStorageType=accounting_storage/none"
    rm -f "$SLURMDBD_CONF"
fi
cat >"$SLURM_CONF" <<EOF
$MARK
# Single-node cluster for the manual check; see that script's header.
ClusterName=localcheck
SlurmctldHost=$NODE
SlurmUser=slurm
AuthType=auth/munge
# Track job processes via /proc and bind tasks to CPUs with sched_setaffinity: neither needs a
# cgroup setup, so this also works in containers.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
# Cores and memory are consumable: a job gets the --cpus-per-task and --mem it asks for,
# and jobs run side by side while both fit.
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
$accounting_conf
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# Finished jobs stay in slurmctld, visible to squeue and scontrol show job, for an hour.
MinJobAge=3600
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
$node_line State=UNKNOWN
PartitionName=main Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
cat "$SLURM_CONF"

# Debian's munge package makes the key; make one if it is missing.
[ -s /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key

say "restarting munged, slurmctld, slurmd from a clean state"
stop_daemons
for d in "${STATE_DIRS[@]}"; do
    install -d -o slurm -g slurm -m 0755 "$d"
    find "$d" -mindepth 1 -delete
done
rm -f /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log /var/log/slurm/slurmdbd.log
started=1
start_daemons
sinfo

# --- 4. the study, through SLURM and locally -----------------------------------------------

rm -rf "$WORK/slurm" "$WORK/local"
for run in slurm local; do
    mkdir -p "$WORK/$run/config"
    if [ "$STUDY" = small ]; then
        # Every rule and every kind of job: a swept scenario on a grid of n (10 cells, so the
        # cells fill two group jobs of 8), a swept estimator (optima), a prior (Bayes ridge).
        cat >"$WORK/$run/config/config.yaml" <<EOF
seed: 11
replicates: 40
replicates_per_job: 20
defaults: {n: 40, coefficients: [1.0, 0.5, 0.0]}
scenarios:
  gm: {}
  tails: {errors: {distribution: t, df: 3}, sweep: {errors.df: [2.5, 3, 30]}}
  prior: {prior: {tau: 0.5}}
grid: {n: [30, 60]}
estimators:
  ols: {method: ols}
  lad: {method: lad}
  ridge: {method: ridge, penalty: 4, sweep: {penalty: [0, 1, 4, 16]}}
EOF
    else
        cp "$CONFIG" "$WORK/$run/config/config.yaml"
    fi
done
echo "study: $STUDY_NAME"

# Without accounting, poll squeue (see the header); with it, the plugin's default (sacct).
status_args=(--slurm-status-command squeue)
if accounting; then status_args=(); fi
status_by=${status_args[1]:-sacct}

say "through SLURM: snakemake --workflow-profile profiles/slurm (log: $WORK/slurm.log)"
load_slurm=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load average before: $load_slurm"
SECONDS=0
(
    cd "$WORK/slurm"
    # No target: the default target, every rule. --slurm-keep-successful-logs keeps every
    # SLURM job's log under .snakemake/slurm_logs (the resource check reads them).
    snakemake -s "$REPO/Snakefile" -d "$WORK/slurm" --workflow-profile "$REPO/profiles/slurm" \
        "${status_args[@]}" --slurm-keep-successful-logs
) >"$WORK/slurm.log" 2>&1 || { tail -n 40 "$WORK/slurm.log"; exit 1; }
slurm_seconds=$SECONDS
echo "done in ${slurm_seconds} s"

say "locally: snakemake --cores $LOCAL_CORES (log: $WORK/local.log)"
load_local=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load average before: $load_local"
SECONDS=0
(
    cd "$WORK/local"
    # the repository's profiles/default applies, as for any local user
    snakemake -s "$REPO/Snakefile" -d "$WORK/local" --cores "$LOCAL_CORES"
) >"$WORK/local.log" 2>&1 || { tail -n 40 "$WORK/local.log"; exit 1; }
local_seconds=$SECONDS
echo "done in ${local_seconds} s"

say "did every job go to SLURM, and did each SLURM job get the cpus, memory and time of its jobs?"
# From Snakemake's log: every job's rule, wildcards, threads and resources, whether it is a
# local rule, and each submission's SLURM job id and log; from the first line of that log the
# jobs a group job ran (--target-jobs); from `scontrol show job`: what SLURM granted.
python - "$WORK/slurm.log" "$REPO/profiles/slurm/config.yaml" <<'EOF'
import re
import subprocess
import sys
from collections import Counter

import yaml

log_path, profile_path = sys.argv[1:]
profile = yaml.safe_load(open(profile_path))
if profile.get("cores") != 1:
    sys.exit("this check computes group resources for `cores: 1` in the profile (a group's jobs "
             f"one after another); the profile has cores: {profile.get('cores')}")

jobs = {}  # Snakemake job id -> its rule, wildcards, threads, resources, local or not
job = None
submissions = []  # (snakemake job id or group uuid, SLURM job id, SLURM log)
for line in open(log_path).read().splitlines():
    m = re.match(r"\s*(local)?rule (\S+):$", line)
    if m:
        job = {"rule": m[2], "local": bool(m[1]), "threads": 1, "wildcards": ""}
        continue
    if job is not None and re.match(r"\s+\w+: ", line):
        key, _, value = line.strip().partition(": ")
        if key == "jobid":
            jobs[value] = job
        elif key == "threads":
            job["threads"] = int(value)
        elif key == "wildcards":
            job["wildcards"] = value
        elif key == "resources":
            job.update(kv.split("=", 1) for kv in value.split(", "))
        continue
    job = None
    m = re.match(r"Job (\S+) has been submitted with SLURM jobid (\d+) \(log: (.*)\)\.$", line)
    if m:
        submissions.append(m.groups())


def key(rule, wildcards):  # "fit", "scenario=gm, chunk=0" -> ("fit", "chunk=0,scenario=gm")
    items = sorted(w.strip() for w in wildcards.split(",") if w.strip())
    return rule, ",".join(items)


by_key = {key(j["rule"], j["wildcards"]): j for j in jobs.values() if j["rule"] != "all"}
remote = {k for k, j in by_key.items() if not j["local"]}
problems = []
if not submissions:
    problems.append("nothing was submitted to SLURM")


def megabytes(text):  # scontrol prints 400M, 1G, ...
    number, unit = float(text[:-1]), text[-1]
    return number * {"M": 1, "G": 1024, "T": 1024**2}[unit]


def minutes(text):  # [days-]hh:mm:ss
    days, _, hms = text.rpartition("-")
    h, m, s = (int(x) for x in hms.split(":"))
    return int(days or 0) * 1440 + h * 60 + m + s / 60


seen = Counter()
rows = []
for snakemake_id, slurm_id, slurm_log in submissions:
    if snakemake_id in jobs:  # a single job
        members = [key(jobs[snakemake_id]["rule"], jobs[snakemake_id]["wildcards"])]
    else:  # a group job: its jobs are the --target-jobs of the Snakemake it ran on the node
        first = next(l for l in open(slurm_log) if "--target-jobs" in l)
        targets = first.split("--target-jobs ", 1)[1].split(" --", 1)[0].split()
        members = [key(*(t.split(":", 1) + [""])[:2]) for t in targets]
    unknown = [m for m in members if m not in by_key]
    if unknown:
        problems.append(f"SLURM job {slurm_id} ran jobs not in Snakemake's log: {unknown}")
        continue
    seen.update(members)
    want = {
        "cpus": max(by_key[m]["threads"] for m in members) if len(members) == 1 else 1,
        "mem": max(float(by_key[m]["mem_mb"]) for m in members),
        "time": sum(float(by_key[m]["runtime"]) for m in members),
    }
    out = subprocess.run(["scontrol", "-o", "show", "job", slurm_id], capture_output=True,
                         text=True, check=True).stdout
    got = dict(tok.split("=", 1) for tok in out.split() if "=" in tok)
    have = {
        "cpus": int(got["CPUs/Task"]),
        "mem": megabytes(got["MinMemoryNode"]),
        "time": minutes(got["TimeLimit"]),
    }
    rules = Counter(m[0] for m in members)
    what = ", ".join(f"{n} {r}" for r, n in sorted(rules.items()))
    rows.append((int(slurm_id), what, have, got["JobState"], got["RunTime"]))
    if got["JobState"] != "COMPLETED":
        problems.append(f"SLURM job {slurm_id} ({what}): state {got['JobState']}")
    for name in want:
        if have[name] != want[name]:
            problems.append(f"SLURM job {slurm_id} ({what}): {name} {have[name]} != {want[name]}")

print(f"{'slurm id':>8}  {'jobs':48} {'cpus':>4} {'mem MB':>6} {'time min':>8}  {'ran':>8}  state")
for slurm_id, what, have, state, runtime in sorted(rows):
    print(f"{slurm_id:>8}  {what:48} {have['cpus']:>4} {have['mem']:>6.0f} {have['time']:>8.0f}"
          f"  {runtime:>8}  {state}")
missing = sorted(remote - set(seen))
twice = sorted(k for k, n in seen.items() if n > 1)
sent_local = sorted(k for k in seen if k not in remote)
if missing:
    problems.append(f"{len(missing)} jobs never went to SLURM, e.g. {missing[:3]}")
if twice:
    problems.append(f"jobs sent to SLURM more than once: {twice[:3]}")
if sent_local:
    problems.append(f"local rules sent to SLURM: {sent_local[:3]}")
if problems:
    sys.exit("\n".join(problems))
rules = sorted({k[0] for k in remote})
print(f"all {len(rows)} SLURM jobs (carrying {len(remote)} jobs of rules {', '.join(rules)}) "
      "completed with the cpus, memory and time of their jobs")
EOF

if accounting; then
    say "what accounting (sacct) recorded"
    sacct -X --format=JobID,JobName%-12,Comment%-40,ReqCPUS,ReqMem,Timelimit,Elapsed,State
fi

say "are the results identical?"
python - "$WORK/slurm" "$WORK/local" <<'EOF'
import re
import sys
from collections import Counter
from pathlib import Path

a, b = (Path(p) for p in sys.argv[1:])


def outputs(root):  # every result but the run's own logs and timings
    skip = ("results/logs/", "results/benchmarks/")
    return sorted(
        p.relative_to(root)
        for p in (root / "results").rglob("*")
        if p.is_file() and not str(p.relative_to(root)).startswith(skip)
    )


files = outputs(a)
if files != outputs(b):
    sys.exit(f"the two runs wrote different files: {sorted(set(files) ^ set(outputs(b)))[:5]}")
kinds = Counter(p.suffix for p in files)
for rel in files:
    if (a / rel).read_bytes() != (b / rel).read_bytes():
        sys.exit(f"{rel} differs")
print(f"byte-identical: {len(files)} files under results/ ("
      + ", ".join(f"{n} {ext or 'other'}" for ext, n in sorted(kinds.items())) + ")")
for needed in ("results/theory.csv", "results/crossovers.csv", "results/optima.csv"):
    if Path(needed) not in files:
        sys.exit(f"{needed} is missing")
if not any(p.parts[1] == "figures" for p in files):
    sys.exit("no figures")

# The report quotes the run's measured wall times (benchmarks; its table of them is sorted by
# time) and when it was made: mask timestamps, h:mm:ss and numbers next to time units, and sort
# each table's rows, then the two must be equal.
def masked(path):
    html = path.read_text()
    html = re.sub(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d(\.\d+)?)?", "<when>", html)
    html = re.sub(r"\b\d+:\d\d:\d\d\b", "<time>", html)  # h:mm:ss
    html = re.sub(r"\d+(\.\d+)?(\s|&nbsp;)*(s|min|h|ms)\b", "<time>", html)
    return re.sub(
        r"(<tbody>)(.*?)(</tbody>)",
        lambda m: m[1] + "".join(sorted(re.findall(r"<tr>.*?</tr>", m[2], re.S))) + m[3],
        html,
        flags=re.S,
    )


ra, rb = (w / "report" / "report.html" for w in (a, b))
if ra.read_bytes() == rb.read_bytes():
    print("byte-identical: report/report.html")
elif masked(ra) == masked(rb):
    print("identical but for the run's timings: report/report.html")
else:
    import difflib
    diff = difflib.unified_diff(masked(ra).splitlines(), masked(rb).splitlines(), lineterm="", n=0)
    print("\n".join(list(diff)[:20]))
    sys.exit("report/report.html differs beyond its timings")
EOF

ncpu=$(nproc)
say "wall time"
printf '%-8s %6s s   (load average before the run: %s; %s CPUs)\n' \
    SLURM "$slurm_seconds" "$load_slurm" "$ncpu" local "$local_seconds" "$load_local" "$ncpu"
verdict="PASS: profiles/slurm ran $STUDY_NAME on SLURM (job states by $status_by) in ${slurm_seconds} s, locally ${local_seconds} s (--cores $LOCAL_CORES); every SLURM job had its jobs' resources, and the results are identical"
