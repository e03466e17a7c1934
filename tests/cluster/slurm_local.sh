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
#   4. runs a tiny study through `--workflow-profile profiles/slurm` and the same study locally
#      (`--cores 2`), checks that every SLURM job ran and got its rule's threads, mem_mb and
#      runtime as --cpus-per-task, --mem and --time, and that the results are identical: every
#      results/fits and results/estimates parquet equal with pandas check_exact, and
#      results/performance.csv and results/scenarios.csv byte for byte;
#   5. prints PASS or FAIL, and stops the daemons it started (KEEP_DAEMONS=1 leaves them up).
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
#   bash tests/cluster/slurm_local.sh          # the whole check; a few minutes
#   bash tests/cluster/slurm_local.sh stop     # only stop the daemons (ACCOUNTING=1: MariaDB too)
# Environment:
#   VENV=/path/to/venv   use an existing venv (default: <repo>/.venv, created if missing)
#   WORK=/path           scratch directory for the two runs (default: /tmp/slurm_local_check)
#   PLUGIN=spec          pip spec of the plugin (default: the version this was tested with)
#   ACCOUNTING=1         job accounting with slurmdbd + MariaDB, status polling by sacct
#   KEEP_DAEMONS=1       leave the daemons running afterwards
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

SLURM_CONF=/etc/slurm/slurm.conf
SLURMDBD_CONF=/etc/slurm/slurmdbd.conf
MARK="# written by tests/cluster/slurm_local.sh"
STATE_DIRS=(/var/lib/slurm/slurmctld /var/lib/slurm/slurmd)
PACKAGES=(munge slurmctld slurmd slurm-client python3-venv)
[ "$ACCOUNTING" != 1 ] || PACKAGES+=(slurmdbd mariadb-server)
TARGETS=(results/performance.csv results/scenarios.csv)

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
[ $# -eq 0 ] || { echo "usage: $0 [stop]" >&2; exit 2; }
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

# --- 4. the tiny study, through SLURM and locally -----------------------------------------

rm -rf "$WORK/slurm" "$WORK/local"
for run in slurm local; do
    mkdir -p "$WORK/$run/config"
    cat >"$WORK/$run/config/config.yaml" <<EOF
seed: 11
replicates: 20
replicates_per_job: 10
level: 0.9
defaults: {n: 30, coefficients: [1.0, 0.5, 0.0]}
scenarios: {gm: {}, heavy: {errors: {distribution: t, df: 3}}}
estimators: {ols: {method: ols}, lad: {method: lad}}
EOF
done

# Without accounting, poll squeue (see the header); with it, the plugin's default (sacct).
status_args=(--slurm-status-command squeue)
if accounting; then status_args=(); fi
status_by=${status_args[1]:-sacct}

say "through SLURM: snakemake --workflow-profile profiles/slurm (log: $WORK/slurm.log)"
SECONDS=0
(
    cd "$WORK/slurm"
    # --slurm-keep-successful-logs: keep every job's SLURM log under .snakemake/slurm_logs.
    snakemake -s "$REPO/Snakefile" -d "$WORK/slurm" --workflow-profile "$REPO/profiles/slurm" \
        "${status_args[@]}" --slurm-keep-successful-logs "${TARGETS[@]}"
) >"$WORK/slurm.log" 2>&1 || { tail -n 40 "$WORK/slurm.log"; exit 1; }
slurm_seconds=$SECONDS
echo "done in ${slurm_seconds} s"

say "locally: snakemake --cores 2 (log: $WORK/local.log)"
SECONDS=0
(
    cd "$WORK/local"
    snakemake -s "$REPO/Snakefile" -d "$WORK/local" --cores 2 "${TARGETS[@]}"
) >"$WORK/local.log" 2>&1 || { tail -n 40 "$WORK/local.log"; exit 1; }
local_seconds=$SECONDS
echo "done in ${local_seconds} s"

say "did sbatch get each rule's threads, mem_mb and runtime?"
# From Snakemake's log: each job's rule, threads and resources, and its SLURM job id; from
# `scontrol show job`: what SLURM granted. Every job must have COMPLETED with
# CPUs/Task = threads, MinMemoryNode = mem_mb and TimeLimit = runtime (minutes).
python - "$WORK/slurm.log" <<'EOF'
import re
import subprocess
import sys

blocks, job = {}, None
submitted = {}
for line in open(sys.argv[1]).read().splitlines():
    m = re.match(r"(local)?rule (\S+):$", line)
    if m:
        job = {"rule": m[2], "local": bool(m[1]), "threads": 1}
        continue
    if job is not None and line.startswith("    "):
        key, _, value = line.strip().partition(": ")
        if key == "jobid":
            blocks[value] = job
        elif key == "threads":
            job["threads"] = int(value)
        elif key == "resources":
            job.update(kv.split("=", 1) for kv in value.split(", "))
        continue
    job = None
    m = re.match(r"Job (\d+) has been submitted with SLURM jobid (\d+)", line)
    if m:
        submitted[m[1]] = m[2]

remote = {jid: b for jid, b in blocks.items() if not b["local"]}
problems = []
if not remote:
    problems.append("no job was meant for SLURM")
if set(remote) != set(submitted):
    problems.append(f"jobs not submitted: {sorted(set(remote) - set(submitted))}; "
                    f"submitted but local: {sorted(set(submitted) - set(remote))}")


def megabytes(text):  # scontrol prints 400M, 1G, ...
    number, unit = float(text[:-1]), text[-1]
    return number * {"M": 1, "G": 1024, "T": 1024**2}[unit]


def minutes(text):  # [days-]hh:mm:ss
    days, _, hms = text.rpartition("-")
    h, m, s = (int(x) for x in hms.split(":"))
    return int(days or 0) * 1440 + h * 60 + m + s / 60


print(f"{'slurm id':>8}  {'job (comment)':40} {'cpus':>4} {'mem':>6} {'time':>9}  state")
for jid, slurm_id in sorted(submitted.items(), key=lambda kv: int(kv[1])):
    out = subprocess.run(["scontrol", "-o", "show", "job", slurm_id], capture_output=True,
                         text=True, check=True).stdout
    got = dict(tok.split("=", 1) for tok in out.split() if "=" in tok)
    want = remote.get(jid)
    print(f"{slurm_id:>8}  {got.get('Comment', '?'):40} {got['CPUs/Task']:>4} "
          f"{got['MinMemoryNode']:>6} {got['TimeLimit']:>9}  {got['JobState']}")
    if want is None:
        continue
    checks = {
        "state": (got["JobState"], "COMPLETED"),
        "cpus": (int(got["CPUs/Task"]), want["threads"]),
        "mem MB": (megabytes(got["MinMemoryNode"]), float(want["mem_mb"])),
        "time min": (minutes(got["TimeLimit"]), float(want["runtime"])),
    }
    for what, (have, expected) in checks.items():
        if have != expected:
            problems.append(f"SLURM job {slurm_id} ({want['rule']}): {what} {have} != {expected}")
if problems:
    sys.exit("\n".join(problems))
print(f"all {len(submitted)} SLURM jobs completed with their rule's cpus, memory and time")
EOF

if accounting; then
    say "what accounting (sacct) recorded"
    sacct -X --format=JobID,JobName%-12,Comment%-32,ReqCPUS,ReqMem,Timelimit,Elapsed,State
fi

say "are the results identical?"
python - "$WORK/slurm" "$WORK/local" <<'EOF'
import filecmp
import sys
from pathlib import Path

import pandas as pd
from pandas.testing import assert_frame_equal

a, b = (Path(p) for p in sys.argv[1:])
tables = sorted(p.relative_to(a) for p in a.glob("results/*/**/*.parquet"))
kinds = {p.parts[1] for p in tables}
if not {"fits", "estimates"} <= kinds:
    sys.exit(f"expected results/fits and results/estimates parquet files, found {sorted(kinds)}")
if tables != sorted(p.relative_to(b) for p in b.glob("results/*/**/*.parquet")):
    sys.exit("the two runs wrote different parquet files")
rows = 0
for rel in tables:
    x, y = pd.read_parquet(a / rel), pd.read_parquet(b / rel)
    assert_frame_equal(x, y, check_exact=True)
    rows += len(x)
    print(f"identical: {rel} ({len(x)} rows x {x.shape[1]} columns)")
for rel in ("results/performance.csv", "results/scenarios.csv"):
    if not filecmp.cmp(a / rel, b / rel, shallow=False):
        sys.exit(f"{rel} differs")
    lines = len((a / rel).read_text().splitlines())
    print(f"byte-identical: {rel} ({lines - 1} rows)")
print(f"{len(tables)} parquet files ({rows} rows) and 2 CSVs identical")
EOF

verdict="PASS: profiles/slurm ran the study on SLURM (job states by $status_by) in ${slurm_seconds} s (locally ${local_seconds} s) with the rules' resources and identical results"
