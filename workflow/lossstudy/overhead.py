"""Where a finished study's time went: fitting proper against per-job overhead.

Snakemake's benchmark file of a job times its whole process: interpreter start-up, imports,
Snakemake's script preamble, reading the dataset, the fits, writing the Parquet file. Refitting
the study's stored datasets with the same engine in one warm process times the fits alone; the
difference is what running every scenario × job as its own process costs (README "Job
granularity"). ``--reference-sample`` also times the reference engine (statsmodels/HiGHS, one
fit at a time) on the first replicates of every dataset, for the fitting speed-up of the
vectorised engine on this very study.

Usage (after ``snakemake``, from the study directory)::

    python -m lossstudy overhead [--reference-sample 0.05] [--out results/overhead.json]
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lossstudy.config import ConfigError, Study
from lossstudy.dgp import Dataset
from lossstudy.io import write_text

#: What the newest Snakemake log says about its run (Snakemake 9's log format).
_LOG_FIELDS = {
    "date": re.compile(r"^\s*Date: (.+)$", re.MULTILINE),
    "command": re.compile(r"^\s*Command: (.+)$", re.MULTILINE),
    "elapsed": re.compile(r"^Elapsed time: (\d+):(\d\d):(\d\d(?:\.\d+)?)$", re.MULTILINE),
    "steps": re.compile(r"(\d+ of \d+) steps \(\d+%\) done"),
}


def rule_wall_times(root: str | Path | None) -> list[dict[str, Any]]:
    """Wall time per rule from Snakemake benchmark TSVs, largest total first.

    The rule is the first path component under ``root`` (the file stem at top level), as the
    rules of this workflow name their benchmark files.
    """
    import pandas as pd

    if root is None or not Path(root).exists():
        return []
    root = Path(root)
    acc: dict[str, list[float]] = {}
    for path in sorted(root.rglob("*.tsv")):
        rel = path.relative_to(root)
        rule = rel.parts[0] if len(rel.parts) > 1 else path.stem
        try:
            tab = pd.read_csv(path, sep="\t")
            secs = pd.to_numeric(tab["s"], errors="coerce").dropna().tolist()
        except (OSError, ValueError, KeyError, pd.errors.ParserError):
            continue
        acc.setdefault(rule, []).extend(secs)
    rows = [
        {
            "rule": rule,
            "jobs": len(v),
            "total": sum(v),
            "mean": sum(v) / len(v) if v else math.nan,
            "max": max(v) if v else math.nan,
        }
        for rule, v in acc.items()
    ]
    rows.sort(key=lambda r: -r["total"])
    return rows


def warm_fit_seconds(
    study: Study, results: str | Path, engine: str, sample: float = 1.0
) -> dict[str, dict[str, float]]:
    """Per estimator: seconds and fits of refitting the stored datasets in this one process.

    ``sample`` < 1 fits only the first ``ceil(sample × R)`` replicates of each dataset (for the
    slow reference engine); the seconds are then per those fits, scale by ``fits``.
    """
    from lossstudy.pipeline import fit_with

    out = {name: {"seconds": 0.0, "fits": 0.0} for name in study.estimators}
    for sid in study.scenarios:
        for chunk in study.chunks(sid):
            path = Path(results) / "datasets" / sid / f"chunk{chunk}.npz"
            if not path.exists():
                raise ConfigError(
                    f"{path} is missing: run the study first, with keep_datasets: true"
                )
            data = Dataset.load(path)
            if sample < 1.0:
                data = data.head(max(1, math.ceil(sample * len(data.replicates))))
            for name, spec in study.estimators.items():
                t0 = time.perf_counter()
                fit_with(engine, data, spec, study.level)
                out[name]["seconds"] += time.perf_counter() - t0
                out[name]["fits"] += len(data.replicates)
    return out


def snakemake_span(workdir: str | Path = ".") -> dict[str, Any] | None:
    """The newest Snakemake run: its start, command, wall time and steps done (when logged).

    ``None`` when there is no log, or the run did not finish (no elapsed time logged).
    """
    logs = sorted(Path(workdir, ".snakemake", "log").glob("*.snakemake.log"))
    if not logs:
        return None
    text = logs[-1].read_text(encoding="utf-8", errors="replace")
    found = {key: rx.findall(text) for key, rx in _LOG_FIELDS.items()}
    if not found["elapsed"]:
        return None
    h, m, sec = found["elapsed"][-1]
    return {
        "log": str(logs[-1]),
        "date": found["date"][0] if found["date"] else "unknown",
        "command": found["command"][0] if found["command"] else "unknown",
        "seconds": 3600 * int(h) + 60 * int(m) + float(sec),
        "steps": found["steps"][-1] if found["steps"] else "not logged",
    }


def measure(
    study: Study, results: str | Path, workdir: str | Path, reference_sample: float
) -> dict[str, Any]:
    """Everything ``main`` prints, as a JSON-ready dict."""
    rules = rule_wall_times(Path(results) / "benchmarks")
    by_rule = {r["rule"]: r for r in rules}
    fit_jobs = by_rule.get("fit", {"jobs": 0, "total": math.nan})
    warm = warm_fit_seconds(study, results, study.engine)
    warm_total = sum(v["seconds"] for v in warm.values())
    out: dict[str, Any] = {
        "engine": study.engine,
        "rules": rules,
        "jobs_total_seconds": sum(r["total"] for r in rules),
        "fit_jobs": fit_jobs["jobs"],
        "fit_jobs_seconds": fit_jobs["total"],
        "warm_fit_seconds": warm_total,
        "warm_fit_by_estimator": warm,
        "fit_job_overhead_share": 1.0 - warm_total / fit_jobs["total"],
        "snakemake_run": snakemake_span(workdir),
    }
    if reference_sample > 0:
        ref = warm_fit_seconds(study, results, "reference", reference_sample)
        per_fit = {k: v["seconds"] / v["fits"] for k, v in ref.items()}
        study_fits = {k: v["fits"] for k, v in warm.items()}
        ref_total = sum(per_fit[k] * study_fits[k] for k in per_fit)
        out["reference"] = {
            "sample": reference_sample,
            "fits": sum(v["fits"] for v in ref.values()),
            "seconds": sum(v["seconds"] for v in ref.values()),
            "extrapolated_seconds": ref_total,
            "speedup_fitting": ref_total / warm_total,
            "speedup_fit_jobs": ref_total / fit_jobs["total"],
        }
    return out


def _format(m: Mapping[str, Any]) -> str:
    lines = [f"{'rule':<14}{'jobs':>6}{'total s':>10}{'mean s':>9}{'max s':>8}"]
    for r in m["rules"]:
        lines.append(
            f"{r['rule']:<14}{r['jobs']:>6}{r['total']:>10.1f}{r['mean']:>9.2f}{r['max']:>8.2f}"
        )
    lines.append(f"{'all jobs':<14}{'':>6}{m['jobs_total_seconds']:>10.1f}")
    warm, jobs = m["warm_fit_seconds"], m["fit_jobs_seconds"]
    per_est = ", ".join(f"{k} {v['seconds']:.1f}" for k, v in m["warm_fit_by_estimator"].items())
    lines += [
        "",
        f"fitting in one warm process ({m['engine']} engine): {warm:.1f} s ({per_est})",
        f"fit jobs: {m['fit_jobs']} jobs, {jobs:.1f} s; fitting {warm / jobs:.0%} of it, "
        f"start-up and I/O {m['fit_job_overhead_share']:.0%}",
        f"fitting is {warm / m['jobs_total_seconds']:.0%} of all jobs' time",
    ]
    if ref := m.get("reference"):
        lines.append(
            f"reference engine: {ref['seconds']:.1f} s for {ref['fits']:.0f} fits "
            f"({ref['sample']:.0%} of each dataset) ≈ {ref['extrapolated_seconds']:.0f} s for the "
            f"study: the {m['engine']} engine fits {ref['speedup_fitting']:.1f}× faster "
            f"({ref['speedup_fit_jobs']:.1f}× counting its fit jobs' whole wall time)"
        )
    if run := m["snakemake_run"]:
        lines.append(
            f"newest Snakemake run ({run['date']}, `{run['command']}`): "
            f"{run['seconds']:.0f} s wall, steps done: {run['steps']}"
        )
    return "\n".join(lines)


def main(
    config: str | Path, results: str | Path, workdir: str | Path, sample: float, out: str | Path
) -> int:
    """Measure, print and write ``out`` (JSON)."""
    from lossstudy.config import find_schema, load_study, load_yaml

    study = load_study(load_yaml(config), find_schema(near=config))
    m = measure(study, results, workdir, sample)
    print(_format(m))
    write_text(out, json.dumps(m, indent=2) + "\n")
    print(f"wrote {out}")
    return 0
