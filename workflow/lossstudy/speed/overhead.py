"""Where a finished study's time went: fitting proper against per-job overhead.

Snakemake's benchmark file of a job times its whole process: interpreter start-up, imports,
Snakemake's script preamble, reading the dataset, the fits, writing the Parquet file. Refitting
the study's stored datasets with the same engine in one warm process times the fits alone; the
difference is what running every scenario × job as its own process costs
(docs/job-granularity.md). The jobs that fit are the ``fit`` jobs of scenarios split into
several jobs and the ``cell`` jobs of scenarios in one job; a ``cell`` job also summarises its
scenario, so its share that is not fitting includes that summary. ``--reference-sample`` also
times the reference engine (statsmodels/HiGHS, one fit at a time) on the first replicates of
every dataset, for the fitting speed-up of the vectorised engine on this very study.

The *floor* is what no workflow of this study can avoid: drawing every dataset the config's
scenarios draw (``dgp.simulate`` with the study's own per-replicate streams, in memory) and one
batched OLS pass over them, one factorisation per fixed design. It is timed in the same run, so
the study's wall time ÷ floor is read on one machine under one load (docs/job-granularity.md,
"The floor"). The *bulk floor* is the same OLS pass plus the same count of draws taken in one
call per cell from one stream: not the study's numbers (those need a stream per replicate), but
what drawing them would cost without that guarantee; wall ÷ each floor is printed. The cell
jobs' time is also split into its stages (drawing, fit stage, summaries, tables) as their logs
time them (``runtimes.cell_stages``).

Usage (after ``snakemake``, from the study directory)::

    python -m lossstudy overhead [--reference-sample 0.05] [--wall SECONDS] [--floor-only]
                                 [--out results/overhead.json]
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lossstudy.config import ConfigError, Study
from lossstudy.dgp import Dataset, simulate
from lossstudy.io import write_text
from lossstudy.runtimes import cell_stages, rule_wall_times

#: The rules whose jobs fit: ``fit`` (a scenario split into several jobs) and ``cell`` (a
#: scenario in one job, which also summarises it).
FIT_RULES = ("fit", "cell")

#: What the newest Snakemake log says about its run (Snakemake 9's log format).
_LOG_FIELDS = {
    "date": re.compile(r"^\s*Date: (.+)$", re.MULTILINE),
    "command": re.compile(r"^\s*Command: (.+)$", re.MULTILINE),
    "elapsed": re.compile(r"^Elapsed time: (\d+):(\d\d):(\d\d(?:\.\d+)?)$", re.MULTILINE),
    "steps": re.compile(r"(\d+ of \d+) steps \(\d+%\) done"),
}


def warm_fit_seconds(
    study: Study, results: str | Path, engine: str, sample: float = 1.0
) -> dict[str, dict[str, float]]:
    """Per estimator: seconds and fits of refitting the stored datasets in this one process.

    ``sample`` < 1 fits only the first ``ceil(sample × R)`` replicates of each dataset (for the
    slow reference engine); the seconds are then per those fits, scale by ``fits``. Trained
    members that share a trajectory (differing in ``steps`` only) are trained together once,
    as a job trains them, and the trajectory's seconds are split evenly among them: timed one
    by one, a member recorded at 3000 steps would redo the first 1000 of its twin's.
    """
    from lossstudy.pipeline import TestSpec, fit_with
    from lossstudy.prediction import test_rows

    out = {name: {"seconds": 0.0, "fits": 0.0} for name in study.estimators}
    for sid, sc in study.scenarios.items():
        test = TestSpec(sc.knobs, study.seed, test_rows(sc.replicates))  # a network's scoring
        groups = _fit_groups(study.estimators_in(sid))
        for chunk in study.chunks(sid):
            path = Path(results) / "datasets" / sid / f"chunk{chunk}.npz"
            if not path.exists():
                raise ConfigError(
                    f"{path} is missing: run the study first, with keep_datasets: true"
                )
            data = Dataset.load(path)
            if sample < 1.0:
                data = data.head(max(1, math.ceil(sample * len(data.replicates))))
            for group in groups:
                t0 = time.perf_counter()
                if len(group) == 1:
                    [(name, spec)] = group.items()
                    fit_with(
                        engine, data, spec, study.level, seed=study.seed, scenario_id=sid, test=test
                    )
                else:
                    from lossstudy.training.fit import fit_trained

                    fit_trained(data, group, study.seed, sid, test=(test.knobs, test.rows))
                seconds = time.perf_counter() - t0
                for name in group:
                    out[name]["seconds"] += seconds / len(group)
                    out[name]["fits"] += len(data.replicates)
    return out


def _fit_groups(members: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Mapping[str, Any]]]:
    """The members fitted together: one group per trained trajectory, one per exact fit."""
    from lossstudy import methods

    groups: dict[str, dict[str, Mapping[str, Any]]] = {}
    for name, spec in members.items():
        key = name
        if methods.fit_for(spec).trained:
            from lossstudy.training.fit import trajectory_key

            key = "trajectory " + trajectory_key(spec)
        groups.setdefault(key, {})[name] = spec
    return list(groups.values())


def ols_batch(data: Dataset) -> np.ndarray:
    """OLS coefficients (R×p) of every replicate of ``data`` in one pass.

    A fixed design is factorised once (its pseudo-inverse, one SVD) and applied to all
    replicates in one product; random designs solve their stacked normal equations at once
    (pseudo-inverses where one is singular). Minimum-norm solutions on rank-deficient designs:
    the floor fits every dataset, whatever the study makes of it.
    """
    if data.fixed:
        return data.y @ np.linalg.pinv(data.X).T
    X, y = data.X, data.y
    xtx = np.matmul(X.transpose(0, 2, 1), X)
    xty = np.matmul(X.transpose(0, 2, 1), y[:, :, None])
    try:
        return np.linalg.solve(xtx, xty)[:, :, 0]
    except np.linalg.LinAlgError:
        return np.matmul(np.linalg.pinv(X), y[:, :, None])[:, :, 0]


def _bulk_draws(knobs: Mapping[str, Any], data: Dataset) -> float:
    """Seconds to draw as many errors (and random-design predictors) as ``data`` holds in one
    call each from a single stream: what the numbers cost without a stream per replicate.

    Not the study's numbers (those need a stream per replicate, for reproducibility), so not
    part of the floor; it shows how much of the floor is setting up those streams.
    """
    from lossstudy.dgp import draw_errors

    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    draw_errors(rng, dict(knobs["errors"]), data.y.size)
    if not data.fixed:
        rng.standard_normal(data.X.size - data.y.size)  # the intercept column is not drawn
    return time.perf_counter() - t0


def study_floor(
    study: Study,
    repeats: int = 1,
    on_chunk: Callable[[str, Dataset, np.ndarray], None] | None = None,
) -> dict[str, Any]:
    """Seconds to draw every dataset of ``study`` and fit OLS to each, in this one process.

    Each scenario's replicates are drawn job by job, as the workflow splits them
    (``study.chunks``), so memory stays that of one job; nothing is written. BLAS runs on one
    thread, as in the engine. With ``repeats`` > 1 the fastest pass counts (the floor is a
    lower bound; the others only add this machine's noise). ``on_chunk(scenario, data, beta)``
    sees every chunk of the first pass (tests check the coverage with it). ``bulk_seconds``
    (not part of the floor) is what the same numbers take drawn in bulk (``_bulk_draws``).
    """
    from lossstudy.vectorized._linalg import single_thread_blas

    passes = []
    cells: dict[str, int] = {}
    values = fits = 0
    for k in range(max(1, repeats)):
        draw = ols = bulk = 0.0
        cpu0 = time.process_time()
        with single_thread_blas():
            for sid, sc in study.scenarios.items():
                for chunk in study.chunks(sid):
                    start, stop = study.chunk_range(sid, chunk)
                    t0 = time.perf_counter()
                    data = simulate(sc.knobs, study.seed, sid, start, stop)
                    t1 = time.perf_counter()
                    beta = ols_batch(data)
                    t2 = time.perf_counter()
                    bulk += _bulk_draws(sc.knobs, data)
                    draw += t1 - t0
                    ols += t2 - t1
                    if k == 0:
                        cells[sid] = cells.get(sid, 0) + len(data.replicates)
                        values += data.y.size + data.X.size + data.beta.size
                        fits += beta.shape[0]
                        if on_chunk is not None:
                            on_chunk(sid, data, beta)
        passes.append(
            {
                "seconds": draw + ols,
                "draw_seconds": draw,
                "ols_seconds": ols,
                "bulk_seconds": bulk,
                # CPU of the whole pass (bulk draws included): grows less with other load
                "cpu_seconds": time.process_time() - cpu0,
            }
        )
    best = min(passes, key=lambda p: p["seconds"])
    return {
        **best,
        "passes": [p["seconds"] for p in passes],
        "cells": len(cells),
        "replicates": sum(cells.values()),
        "replicates_by_cell": cells,
        "dataset_values": values,
        "ols_fits": fits,
    }


def snakemake_span(workdir: str | Path = ".") -> dict[str, Any] | None:
    """The newest finished Snakemake run: its start, command, wall time and steps done.

    Logs without an elapsed time (a dry run, ``--lint``, a run that did not finish) are
    skipped, so a ``snakemake -n`` after the study does not hide its wall time. ``None`` when
    no log has one.
    """
    for log in sorted(Path(workdir, ".snakemake", "log").glob("*.snakemake.log"), reverse=True):
        text = log.read_text(encoding="utf-8", errors="replace")
        found = {key: rx.findall(text) for key, rx in _LOG_FIELDS.items()}
        if not found["elapsed"]:
            continue
        h, m, sec = found["elapsed"][-1]
        return {
            "log": str(log),
            "date": found["date"][0] if found["date"] else "unknown",
            "command": found["command"][0] if found["command"] else "unknown",
            "seconds": 3600 * int(h) + 60 * int(m) + float(sec),
            "steps": found["steps"][-1] if found["steps"] else "not logged",
        }
    return None


def measure(
    study: Study,
    results: str | Path,
    workdir: str | Path,
    reference_sample: float,
    *,
    wall: float | None = None,
    floor_repeats: int = 3,
    refit: bool = True,
) -> dict[str, Any]:
    """Everything ``main`` prints, as a JSON-ready dict.

    ``wall`` is the study's measured wall time; without it, the newest Snakemake run's elapsed
    time from its log. ``refit`` False skips refitting the stored datasets (the floor and the
    benchmarks need no datasets).
    """
    rules = rule_wall_times(Path(results) / "benchmarks")
    fitting = [r for r in rules if r["rule"] in FIT_RULES]
    fit_jobs = {
        "jobs": sum(r["jobs"] for r in fitting),
        "total": sum(r["total"] for r in fitting) if fitting else math.nan,
    }
    jobs_total = sum(r["total"] for r in rules)
    run = snakemake_span(workdir)
    floor = study_floor(study, floor_repeats)
    if wall is None and run is not None:
        wall = run["seconds"]
    bulk = floor["bulk_seconds"] + floor["ols_seconds"]
    floor.update(
        wall_seconds=wall,
        wall_over_floor=wall / floor["seconds"] if wall is not None else None,
        jobs_over_floor=jobs_total / floor["seconds"] if rules else None,
        bulk_floor_seconds=bulk,
        wall_over_bulk_floor=wall / bulk if wall is not None else None,
        jobs_over_bulk_floor=jobs_total / bulk if rules else None,
    )
    out: dict[str, Any] = {
        "engine": study.engine,
        "rules": rules,
        "cell_stages": cell_stages(Path(results) / "logs"),
        "jobs_total_seconds": jobs_total,
        "fit_jobs": fit_jobs["jobs"],
        "fit_jobs_seconds": fit_jobs["total"],
        "floor": floor,
        "snakemake_run": run,
    }
    if not refit:
        return out
    warm = warm_fit_seconds(study, results, study.engine)
    warm_total = sum(v["seconds"] for v in warm.values())
    out.update(
        warm_fit_seconds=warm_total,
        warm_fit_by_estimator=warm,
        fit_job_overhead_share=1.0 - warm_total / fit_jobs["total"],
    )
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
    lines = [f"{'rule':<14}{'jobs':>6}{'total s':>10}{'mean s':>9}{'max s':>8}{'CPU s':>9}"]
    for r in m["rules"]:
        lines.append(
            f"{r['rule']:<14}{r['jobs']:>6}{r['total']:>10.1f}{r['mean']:>9.2f}{r['max']:>8.2f}"
            f"{r.get('cpu', math.nan):>9.1f}"
        )
    cpu_total = sum(r.get("cpu", 0.0) for r in m["rules"])
    lines.append(
        f"{'all jobs':<14}{'':>6}{m['jobs_total_seconds']:>10.1f}{'':>17}{cpu_total:>9.1f}"
    )
    if (st := m.get("cell_stages")) and st["cells"]:
        cell_jobs = sum(r["total"] for r in m["rules"] if r["rule"] == "cell")
        staged = sum(v for k, v in st.items() if k not in ("cells", "test scoring"))
        lines += [
            "",
            f"cell jobs by their logs ({st['cells']:.0f} cells): drawing {st['drawing']:.1f} s, "
            f"fit stage {st['fit stage']:.1f} s (scoring test samples {st['test scoring']:.1f} s "
            f"of it), summaries {st['summaries']:.1f} s, tables {st['tables']:.1f} s; the "
            f"rest of all cell jobs' {cell_jobs:.1f} s (job handling, the job's client, any "
            f"cell without every mark) {cell_jobs - staged:.1f} s",
        ]
    fl = m["floor"]
    lines += [
        "",
        f"floor: {fl['seconds']:.2f} s to draw every dataset ({fl['cells']} cells, "
        f"{fl['replicates']} replicates; {fl['draw_seconds']:.2f} s) and fit OLS to each "
        f"({fl['ols_fits']} fits; {fl['ols_seconds']:.2f} s), best of "
        f"{len(fl['passes'])} in this process",
        f"  (CPU of that pass, bulk draws below included: {fl['cpu_seconds']:.2f} s; "
        f"the same count of draws from one stream per cell, not the study's numbers: "
        f"{fl['bulk_seconds']:.2f} s; the rest of the draws' time is a stream per replicate)",
    ]
    bulk = f"bulk floor ({fl['bulk_floor_seconds']:.2f} s: those bulk draws + the OLS pass)"
    if fl["jobs_over_floor"] is not None:
        lines.append(
            f"all jobs' time ÷ floor: {fl['jobs_over_floor']:.0f}×; "
            f"÷ {bulk}: {fl['jobs_over_bulk_floor']:.0f}×"
        )
    if fl["wall_over_floor"] is not None:
        lines.append(
            f"wall {fl['wall_seconds']:.0f} s ÷ floor: {fl['wall_over_floor']:.0f}×; "
            f"÷ bulk floor: {fl['wall_over_bulk_floor']:.0f}×"
        )
    if "warm_fit_seconds" in m:
        warm, jobs = m["warm_fit_seconds"], m["fit_jobs_seconds"]
        per_est = ", ".join(
            f"{k} {v['seconds']:.1f}" for k, v in m["warm_fit_by_estimator"].items()
        )
        lines += [
            "",
            f"fitting in one warm process ({m['engine']} engine): {warm:.1f} s ({per_est})",
            f"jobs that fit ({' + '.join(FIT_RULES)}): {m['fit_jobs']} jobs, {jobs:.1f} s; "
            f"fitting {warm / jobs:.0%} of it, start-up, I/O and cell jobs' summaries "
            f"{m['fit_job_overhead_share']:.0%}",
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
    config: str | Path,
    results: str | Path,
    workdir: str | Path,
    sample: float,
    out: str | Path,
    *,
    wall: float | None = None,
    floor_repeats: int = 3,
    refit: bool = True,
) -> int:
    """Measure, print and write ``out`` (JSON)."""
    from lossstudy.config import find_schema, load_study, load_yaml

    study = load_study(load_yaml(config), find_schema(near=config))
    m = measure(
        study, results, workdir, sample, wall=wall, floor_repeats=floor_repeats, refit=refit
    )
    print(_format(m))
    write_text(out, json.dumps(m, indent=2) + "\n")
    print(f"wrote {out}")
    return 0
