#!/usr/bin/env python3
"""Status command for the stand-in batch system of submit.py: ``status.py STATE_DIR JOB_ID``
prints ``running``, ``success`` or ``failed`` (what snakemake-executor-plugin-cluster-generic
expects from ``--cluster-generic-status-cmd``)."""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> None:
    state_dir, job_id = Path(sys.argv[1]), sys.argv[2]
    rc = state_dir / f"{job_id}.rc"
    if not rc.exists():
        print("running")
    elif rc.read_text().strip() == "0":
        print("success")
    else:
        print("failed")


if __name__ == "__main__":
    main()
