"""Benchmark: the vectorised Huber against the vectorised LAD on the study's own cells.

Why LAD: it is the other iterative estimator of every scenario, fitted by the same engine on
the same data, so the ratio of the two, timed back to back in one run, is stable where the
absolute times drift with the machine's load (printed beside them). Each cell also checks
Huber against the reference (statsmodels ``RLM``) on its first replicates: the largest
coefficient difference and whether the statuses (``not_converged`` included) agree.

Usage::

    python -m lossstudy.speed.huber [--config config/config.yaml] [--cells CELL ...]
                                    [--replicates 2000] [--repeats 3] [--reference 100]
                                    [--out results/huber_speed.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from lossstudy import estimators
from lossstudy.config import Study, find_schema, load_study, load_yaml
from lossstudy.dgp import Dataset, simulate
from lossstudy.io import write_text
from lossstudy.vectorized import EngineInfo, fit_dataset_vectorized

#: The default study's cells the issue names: light, heavy and contaminated errors at each n.
CELLS = tuple(
    f"{base}-n{n}"
    for base in ("gauss_markov", "heavy_tails-df3", "contaminated-fraction0.1")
    for n in (25, 100, 400)
)


def _best(fn: Callable[[], Any], repeats: int) -> float:
    """Smallest wall time over ``repeats`` calls (the least disturbed by other load)."""
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return float(best)


def bench_cell(
    data: Dataset, study: Study, huber: str, lad: str, repeats: int, reference: int
) -> dict[str, Any]:
    """Huber's and LAD's best times on one cell, Huber's iterations and its agreement with RLM."""
    R = len(data.replicates)
    spec_h, spec_l = study.estimators[huber], study.estimators[lad]
    info = EngineInfo()
    vec = fit_dataset_vectorized(data, spec_h, study.level, info=info)  # also the warm-up
    fit_dataset_vectorized(data.head(min(R, 50)), spec_l, study.level)
    t_h = t_l = np.inf
    for _ in range(repeats):  # interleaved, so that both see the same load
        t_h = min(t_h, _best(lambda: fit_dataset_vectorized(data, spec_h, study.level), 1))
        t_l = min(t_l, _best(lambda: fit_dataset_vectorized(data, spec_l, study.level), 1))
    ref = estimators.fit_dataset(data.head(reference), spec_h, study.level)
    both = np.isfinite(ref.estimate) & np.isfinite(vec.estimate[:reference])
    diff = np.abs(ref.estimate - vec.estimate[:reference])[both]
    return {
        "replicates": R,
        "huber_ms_per_1000": 1e6 * t_h / R,
        "lad_ms_per_1000": 1e6 * t_l / R,
        "ratio": t_h / t_l,
        "irls_iterations_per_fit": info.irls_iterations / R,
        "not_converged": int(np.count_nonzero(vec.status == estimators.NOT_CONVERGED)),
        "reference_fallback": info.reference_fallback,
        "reference_replicates": reference,
        "max_abs_coef_difference_to_rlm": float(diff.max()) if diff.size else float("nan"),
        "statuses_equal_to_rlm": bool(np.array_equal(ref.status, vec.status[:reference])),
    }


def run(
    study: Study,
    cells: Sequence[str] = CELLS,
    replicates: int = 2000,
    repeats: int = 3,
    reference: int = 100,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Every cell's row, the totals and the load average before and after."""
    load0 = os.getloadavg()
    log(f"{'cell':32} {'Huber ms/1000':>13} {'LAD ms/1000':>11} {'ratio':>6} {'iter':>5} "
        f"{'n.c.':>4} {'max|Δβ| RLM':>11} {'status':>6}")  # fmt: skip
    rows = {}
    for sid in cells:
        data = simulate(study.scenarios[sid].knobs, study.seed, sid, 0, replicates)
        row = bench_cell(data, study, "huber", "lad", repeats, min(reference, replicates))
        rows[sid] = row
        log(f"{sid:32} {row['huber_ms_per_1000']:13.1f} {row['lad_ms_per_1000']:11.1f} "
            f"{row['ratio']:6.2f} {row['irls_iterations_per_fit']:5.1f} {row['not_converged']:4d} "
            f"{row['max_abs_coef_difference_to_rlm']:11.1e} "
            f"{'same' if row['statuses_equal_to_rlm'] else 'DIFF':>6}")  # fmt: skip
    huber = sum(r["huber_ms_per_1000"] for r in rows.values())
    lad = sum(r["lad_ms_per_1000"] for r in rows.values())
    load1 = os.getloadavg()
    log(f"{'all cells':32} {huber:13.1f} {lad:11.1f} {huber / lad:6.2f}")
    log(f"load average {load0[0]:.2f} before, {load1[0]:.2f} after, {os.cpu_count()} cores")
    return {
        "cells": rows,
        "huber_ms_per_1000": huber,
        "lad_ms_per_1000": lad,
        "ratio": huber / lad,
        "max_abs_coef_difference_to_rlm": max(
            r["max_abs_coef_difference_to_rlm"] for r in rows.values()
        ),
        "load_average": [load0[0], load1[0]],
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m lossstudy.speed.huber", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--config", default="config/config.yaml")
    ap.add_argument("--cells", nargs="+", default=list(CELLS))
    ap.add_argument("--replicates", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--reference", type=int, default=100, help="replicates checked against RLM")
    ap.add_argument("--out", default=None, help="also write the rows as JSON")
    a = ap.parse_args(argv)
    study = load_study(load_yaml(a.config), find_schema(near=a.config))
    unknown = [c for c in a.cells if c not in study.scenarios]
    if unknown:
        ap.error(f"no such cells in {a.config}: {', '.join(unknown)}")
    out = run(study, a.cells, a.replicates, a.repeats, a.reference)
    if a.out:
        write_text(a.out, json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
