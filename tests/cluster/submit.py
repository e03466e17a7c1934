#!/usr/bin/env python3
"""A stand-in batch system for snakemake-executor-plugin-cluster-generic, used by the tests.

``--cluster-generic-submit-cmd "python submit.py STATE_DIR --rule {rule} ..."``: Snakemake
appends the path of the job script. The script is started as a detached background process (its
own session, no stdin, output to a file), exactly as a batch system would start it on another
node: it shares nothing with the Snakemake process that submitted it but the file system. This
prints the job id and returns at once; when the job ends, its exit code is written to
``STATE_DIR/<id>.rc`` for status.py. Each submission is recorded in ``STATE_DIR/submitted.tsv``
(id, rule, threads, mem_mb, runtime, and the jobs it runs) so that a test can check what a real
cluster would be asked. The rule of a group job is ``GROUP``; its jobs are the ``--target-jobs``
of the job script (``rule:wildcard=value,...``), space-separated.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import uuid
from pathlib import Path


def target_jobs(jobscript: Path) -> list[str]:
    """The jobs that the job script runs: the values of its Snakemake call's --target-jobs."""
    words = shlex.split(jobscript.read_text())
    if "--target-jobs" not in words:
        return []
    jobs = words[words.index("--target-jobs") + 1 :]
    return jobs[: next((i for i, w in enumerate(jobs) if w.startswith("--")), len(jobs))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("state_dir", type=Path)
    parser.add_argument("--rule", default="")
    parser.add_argument("--threads", default="")
    parser.add_argument("--mem-mb", default="")
    parser.add_argument("--runtime", default="")
    parser.add_argument("jobscript", type=Path)
    args = parser.parse_args()

    args.state_dir.mkdir(parents=True, exist_ok=True)
    job_id = uuid.uuid4().hex[:12]
    out = args.state_dir / f"{job_id}.out"
    rc = args.state_dir / f"{job_id}.rc"
    # The exit code is written under a temporary name and renamed, so status.py never reads a
    # half-written file.
    command = (
        f"sh {shlex.quote(str(args.jobscript))} > {shlex.quote(str(out))} 2>&1; "
        f"echo $? > {shlex.quote(str(rc))}.tmp && mv {shlex.quote(str(rc))}.tmp "
        f"{shlex.quote(str(rc))}"
    )
    subprocess.Popen(
        ["/bin/sh", "-c", command],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )
    with open(args.state_dir / "submitted.tsv", "a") as log:
        jobs = " ".join(target_jobs(args.jobscript))
        fields = (job_id, args.rule, args.threads, args.mem_mb, args.runtime, jobs)
        log.write("\t".join(fields) + "\n")
    print(job_id)


if __name__ == "__main__":
    main()
