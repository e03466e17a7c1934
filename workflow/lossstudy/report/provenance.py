"""What is needed to reproduce the run: package versions, the commit, wall time per rule."""

from __future__ import annotations

import datetime as _dt
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from lossstudy.runtimes import rule_wall_times

__all__ = ["REPO_ROOT", "benchmarks", "git_commit", "versions"]

#: The checkout this copy of the package was imported from, whose commit the report cites by
#: default; None when the package is installed (site-packages is no checkout of this workflow,
#: even when it lies inside some git repository).
_CHECKOUT = Path(__file__).resolve().parents[3]
REPO_ROOT: Path | None = _CHECKOUT if (_CHECKOUT / "Snakefile").is_file() else None
PACKAGES = (
    "numpy",
    "scipy",
    "pandas",
    "statsmodels",
    "seaborn",
    "matplotlib",
    "snakemake",
    "pyarrow",
    "jinja2",
    "lossstudy",
)


def versions() -> list[tuple[str, str]]:
    out = [("python", platform.python_version())]
    for pkg in PACKAGES:
        try:
            out.append((pkg, metadata.version(pkg)))
        except metadata.PackageNotFoundError:
            out.append((pkg, "not installed"))
    return out


def git_commit(root: str | Path | None = REPO_ROOT) -> str:
    if root is None:
        return "not available (installed package, no checkout given)"
    try:
        res = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "not available (git not found)"
    if res.returncode != 0 or not res.stdout.strip():
        return "not available (not a git checkout)"
    return res.stdout.strip()


def _seconds(s: float) -> str:
    if not np.isfinite(s):
        return "--"
    if s < 120:
        return f"{s:.1f} s"
    return str(_dt.timedelta(seconds=round(s)))


def benchmarks(benchmarks_dir: str | Path | None) -> tuple[list[dict[str, Any]], str]:
    """Wall time per rule from the benchmark TSVs, and the total, as the report shows them."""
    bench = rule_wall_times(benchmarks_dir)
    rows = [
        {
            **b,
            "total_s": _seconds(b["total"]),
            "mean_s": _seconds(b["mean"]),
            "max_s": _seconds(b["max"]),
        }
        for b in bench
    ]
    return rows, _seconds(float(sum(b["total"] for b in bench)))
