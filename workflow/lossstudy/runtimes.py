"""Per-rule wall and CPU times from the Snakemake benchmark files a run leaves behind.

The report prints them (section "Reproducibility") and ``lossstudy.speed.overhead`` sets them
against the fitting proper and the floor; both only read files the workflow wrote.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

#: The line a job's process ends its log with (:func:`lossstudy.pipeline.setup_logging`): its
#: own CPU time. Snakemake's benchmark samples a job's processes every 0.5 s for 15 s, then every
#: 30 s, and keeps the last sample: a 40-s job's ``cpu_time`` misses what it used after 15 s.
OWN_LINE = "the job's own process: %.2f s CPU, peak RSS %.0f MB"
_OWN_CPU = r"the job's own process: ([0-9.]+) s CPU"


def own_cpu(log: str | Path) -> float | None:
    """The CPU seconds a job's log says its own process used (``None``: no such line)."""
    return _logged(log, _OWN_CPU)


def child_cpu(log: str | Path) -> float | None:
    """The CPU seconds a job's log says its warm worker's child used (``None``: not forked)."""
    from lossstudy.warm import CHILD_CPU

    return _logged(log, CHILD_CPU)


def _logged(log: str | Path, pattern: str) -> float | None:
    """The number the last line of ``log`` matching ``pattern`` captures."""
    try:
        text = Path(log).read_text(errors="replace")
    except OSError:
        return None
    found = re.findall(pattern, text)
    return float(found[-1]) if found else None


def rule_wall_times(root: str | Path | None) -> list[dict[str, Any]]:
    """Wall time (and CPU time) per rule from Snakemake benchmark TSVs, largest total first.

    The rule is the first path component under ``root`` (the file stem at top level), as the
    rules of this workflow name their benchmark files. ``cpu`` sums the benchmarks'
    ``cpu_time``: on a machine shared with other work a job's wall time grows with the load,
    its CPU time much less. Where a job's log (``results/logs/`` mirrors
    ``results/benchmarks/``) ends with its own CPU time (:data:`OWN_LINE`), that replaces the
    benchmark's, which undercounts jobs longer than 15 s. A job forked from the warm worker
    (``lossstudy.warm``) has its child's CPU time in its log, added to the benchmark's, which
    sees only the thin process that asked the worker.
    """
    import pandas as pd

    if root is None or not Path(root).exists():
        return []
    root = Path(root)
    acc: dict[str, list[float]] = {}
    cpu: dict[str, float] = {}
    for path in sorted(root.rglob("*.tsv")):
        rel = path.relative_to(root)
        rule = rel.parts[0] if len(rel.parts) > 1 else path.stem
        try:
            tab = pd.read_csv(path, sep="\t")
            secs = pd.to_numeric(tab["s"], errors="coerce").dropna().tolist()
            used = pd.to_numeric(tab["cpu_time"], errors="coerce") if "cpu_time" in tab else None
        except (OSError, ValueError, KeyError, pd.errors.ParserError):
            continue
        acc.setdefault(rule, []).extend(secs)
        used_s = float(used.fillna(0).sum()) if used is not None else 0.0
        log = root.parent / "logs" / rel.with_suffix(".log")
        own, forked = own_cpu(log), child_cpu(log)
        job_cpu = own if own is not None else used_s + (forked or 0.0)
        cpu[rule] = cpu.get(rule, 0.0) + job_cpu
    rows = [
        {
            "rule": rule,
            "jobs": len(v),
            "total": sum(v),
            "mean": sum(v) / len(v) if v else math.nan,
            "max": max(v) if v else math.nan,
            "cpu": cpu[rule],
        }
        for rule, v in acc.items()
    ]
    rows.sort(key=lambda r: -r["total"])
    return rows


#: The lines a cell job's log marks the end of its stages with (``lossstudy.pipeline``), in
#: order: the draws, the fit stage (fits, fresh test samples, the estimates' table), the
#: summary (performance rows and the estimates file). The tables end with the log.
_STAGE_ENDS = (
    ("drawing", re.compile(r" INFO simulated \S+ replicates ")),
    ("fit stage", re.compile(r" INFO fitted \S+: \d+ estimators")),
    ("summaries", re.compile(r" INFO summarised \d+ estimate rows")),
)
_SCORED = re.compile(r" INFO scored .* in ([0-9.]+)s$")
_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")
#: the stages ``cell_stages`` reports: those the marks end, then the tables
_STAGES = (*(name for name, _ in _STAGE_ENDS), "tables")


def _stamp(line: str) -> float | None:
    """The time stamp the logging format puts first on a line, in seconds (None: no stamp)."""
    from datetime import datetime

    m = _STAMP.match(line)
    return datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp() if m else None


def cell_stages(logs: str | Path) -> dict[str, float]:
    """Seconds per stage summed over the ``cell`` jobs' logs (``logs/cell/*.log``), read from
    the logs' time stamps: drawing (from the log's first line), the fit stage, its scoring of
    the fresh test samples (as logged), the summaries and the tables (to the log's last line),
    and ``cells``, how many logs had every mark (the others are not counted).

    Why: issue 24's budgets are per stage ("summaries ≤ 30 s of job time in all"), and a cell
    job does every stage in one process, so its benchmark cannot tell them apart."""
    out = dict.fromkeys([*_STAGES, "test scoring"], 0.0)
    cells = 0
    for path in sorted(Path(logs, "cell").glob("*.log")):
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if _STAMP.match(ln)]
        hits = [next((ln for ln in lines if mark.search(ln)), None) for _, mark in _STAGE_ENDS]
        if not lines or None in hits:
            continue
        bounds = [_stamp(ln) for ln in (lines[0], *hits, lines[-1])]
        for name, start, end in zip(_STAGES, bounds[:-1], bounds[1:], strict=True):
            out[name] += end - start  # type: ignore[operator]  # every line has a stamp
        out["test scoring"] += sum(float(m.group(1)) for ln in lines if (m := _SCORED.search(ln)))
        cells += 1
    return {**out, "cells": float(cells)}
