"""Benchmark: the vectorised engine against the reference engine, measured in the same run.

Why ratios: the machine is shared, so absolute timings drift with its load; the ratio of two
engines timed back to back on the same data is the stable number. The reference engine fits
fewer replicates (it is 10–100× slower) and its time is scaled per fit.

Usage::

    python -m lossstudy.speed.benchmark [--replicates 2000] [--reference-replicates 200]
                                  [--sizes 25 100 1000] [--design fixed random]
                                  [--out results/benchmark.json]

Prints one row per (design, n, estimator): ms per fit of each engine, their ratio, the largest
absolute deviation of the coefficients over the replicates both engines fitted, whether the
statuses agree, and how many LAD fits needed the exact-LP fallback.

``--versus-r`` instead times the vectorised LAD and Huber against R's quantreg and MASS on the
same data (``lossstudy.speed.benchmark_r``; skipped with a message when Rscript is absent).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lossstudy import estimators
from lossstudy.config import BUILTIN_DEFAULTS, deep_merge
from lossstudy.dgp import Dataset, simulate
from lossstudy.vectorized import EngineInfo, fit_dataset_vectorized

ESTIMATORS: dict[str, dict[str, Any]] = {
    "ols": {"method": "ols", "se": "classical"},
    "ols_hc3": {"method": "ols", "se": "hc3"},
    "ridge": {"method": "ridge", "penalty": 1.0},
    "huber": {"method": "huber", "k": 1.345},
    "lad": {"method": "lad"},
}

#: ms per fit the engine aims at (p = 5), by (estimator, n).
TARGETS_MS: dict[tuple[str, int], float] = {
    ("ols", 100): 0.01,
    ("ols_hc3", 100): 0.01,
    ("ridge", 100): 0.01,
    ("huber", 100): 0.25,
    ("lad", 100): 0.08,
    ("huber", 1000): 1.0,
    ("lad", 1000): 1.0,
}

#: speed-up over the reference engine the engine aims at on a fixed design (issue 13: one
#: factorisation and one product for all replicates), by (estimator, n).
TARGET_RATIOS: dict[tuple[str, int], float] = {("ols", 5000): 100.0}

#: Reference replicates per estimator at the default setting (scaled down for large n).
_REFERENCE_DEFAULT = {"ols": 200, "ols_hc3": 200, "ridge": 200, "huber": 100, "lad": 100}


def _best_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Smallest wall time over ``repeats`` calls (the least disturbed by other load)."""
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def bench_one(
    data: Dataset, name: str, spec: dict[str, Any], n_ref: int, level: float = 0.95
) -> dict[str, Any]:
    """Time both engines on one dataset and compare their coefficients."""
    R = len(data.replicates)
    info = EngineInfo()
    fit_dataset_vectorized(data.head(min(R, 50)), spec, level)  # warm-up (imports, caches)
    t_vec, vec = _best_time(lambda: fit_dataset_vectorized(data, spec, level), 3)
    fit_dataset_vectorized(data, spec, level, info=info)
    ref_data = data.head(n_ref)
    estimators.fit_dataset(data.head(2), spec, level)  # warm-up (statsmodels imports)
    t_ref, ref = _best_time(lambda: estimators.fit_dataset(ref_data, spec, level), 1)
    est_v = vec.estimate[:n_ref]
    both = np.isfinite(est_v) & np.isfinite(ref.estimate)
    dev = float(np.max(np.abs(est_v - ref.estimate)[both])) if both.any() else float("nan")
    se_both = np.isfinite(vec.std_error[:n_ref]) & np.isfinite(ref.std_error)
    se_dev = np.abs(vec.std_error[:n_ref] - ref.std_error)[se_both]
    ms_vec = 1e3 * t_vec / R
    ms_ref = 1e3 * t_ref / n_ref
    return {
        "estimator": name,
        "spec": spec,
        "replicates_vectorized": R,
        "replicates_reference": n_ref,
        "ms_per_fit_vectorized": ms_vec,
        "ms_per_fit_reference": ms_ref,
        "speedup": ms_ref / ms_vec,
        "max_abs_coef_deviation": dev,
        "max_abs_se_deviation": float(se_dev.max()) if se_dev.size else float("nan"),
        "statuses_equal": bool(np.array_equal(vec.status[:n_ref], ref.status)),
        "messages_equal": bool(np.array_equal(vec.message[:n_ref], ref.message)),
        "lad_lp_fallback": info.lad_lp_fallback,
        "reference_fallback": info.reference_fallback,
        "ipm_iterations_per_fit": info.ipm_iterations / R,
        "irls_iterations_per_fit": info.irls_iterations / R,
    }


def run(
    sizes: Sequence[int],
    designs: Sequence[str],
    replicates: int,
    reference_replicates: int | None,
    p: int = 5,
    seed: int = 20240,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """All rows of the benchmark, plus metadata."""
    coefs = list(BUILTIN_DEFAULTS["coefficients"])[:p]
    coefs += [0.0] * (p - len(coefs))
    rows = []
    header = (
        f"{'design':7} {'n':>5} {'estimator':9} {'vec ms':>9} {'ref ms':>9} {'ratio':>8} "
        f"{'max|Δβ|':>9} {'status':>6} {'LPfb':>4} {'target':>7}"
    )
    log(header)
    for design in designs:
        for n in sizes:
            knobs = deep_merge(
                BUILTIN_DEFAULTS,
                {"n": n, "coefficients": coefs, "design": {"fixed": design == "fixed"}},
            )
            r_vec = replicates if n <= 100 else max(1, replicates // 4)
            data = simulate(knobs, seed, f"bench-{design}-{n}", 0, r_vec)
            for name, spec in ESTIMATORS.items():
                n_ref = reference_replicates or _REFERENCE_DEFAULT[name]
                if n > 100 and reference_replicates is None:
                    n_ref = max(20, n_ref // 2)
                n_ref = min(n_ref, r_vec)
                row = {"design": design, "n": n, "p": p, **bench_one(data, name, spec, n_ref)}
                target = TARGETS_MS.get((name, n)) if design == "fixed" else None
                row["target_ms"] = target
                ms = row["ms_per_fit_vectorized"]
                row["meets_target"] = None if target is None else bool(ms <= target)
                ratio_goal = TARGET_RATIOS.get((name, n)) if design == "fixed" else None
                row["target_ratio"] = ratio_goal
                if ratio_goal is not None:
                    row["meets_target"] = bool(row["speedup"] >= ratio_goal)
                shown = "" if target is None else f"{target:g}"
                shown = f"≥{ratio_goal:g}×" if ratio_goal is not None else shown
                rows.append(row)
                log(
                    f"{design:7} {n:5d} {name:9} {row['ms_per_fit_vectorized']:9.4f} "
                    f"{row['ms_per_fit_reference']:9.3f} {row['speedup']:8.1f} "
                    f"{row['max_abs_coef_deviation']:9.1e} "
                    f"{'ok' if row['statuses_equal'] and row['messages_equal'] else 'DIFF':>6} "
                    f"{row['lad_lp_fallback']:4d} {shown:>7}"
                )
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "note": (
            "ms per fit, best of 3 runs for the vectorised engine, 1 run for the reference; "
            "ratio = reference / vectorised measured in the same run on the same data"
        ),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average_at_end": load,
        "rows": rows,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lossstudy.speed.benchmark", description=__doc__
    )
    parser.add_argument("--out", default="results/benchmark.json", help="JSON output path")
    parser.add_argument(
        "--replicates",
        type=int,
        default=2000,
        help="replicates fitted by the vectorised engine (a quarter of it for n > 100)",
    )
    parser.add_argument(
        "--reference-replicates",
        type=int,
        default=None,
        help="replicates fitted by the reference engine (default: 100–200 by estimator)",
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[25, 100, 1000])
    parser.add_argument(
        "--design", nargs="+", choices=["fixed", "random"], default=["fixed", "random"]
    )
    parser.add_argument(
        "--versus-r",
        action="store_true",
        help="LAD and Huber against R's rq(method='br') and rlm instead "
        "(lossstudy.speed.benchmark_r; --sizes and --replicates apply, "
        "default out results/benchmark_r.json)",
    )
    args = parser.parse_args(argv)
    if args.versus_r:
        from lossstudy.speed import benchmark_r

        forward = ["--replicates", str(args.replicates)]
        if args.sizes != parser.get_default("sizes"):
            forward += ["--sizes", *map(str, args.sizes)]
        if args.out != parser.get_default("out"):
            forward += ["--out", args.out]
        return benchmark_r.main(forward)
    result = run(args.sizes, args.design, args.replicates, args.reference_replicates)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    tmp.replace(out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
