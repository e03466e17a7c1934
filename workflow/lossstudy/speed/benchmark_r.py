"""Benchmark: the vectorised engine's LAD and Huber against R's quantreg and MASS, same data,
same run.

Why: issue 13 sets the vectorised LAD and Huber a target of ≥ 3× faster per fit than R fitting
one replicate at a time (``quantreg::rq(method = "br")`` and ``MASS::rlm``); ratios are only
meaningful when both sides fit the same datasets back to back on the same (shared, loaded)
machine. R is optional: without ``Rscript`` (or without quantreg/MASS) this prints why and
skips; CI never needs R.

What is timed (p = 5, fixed design, per fit; best of ``repeats`` runs, wall and CPU time):

- ``vec lad``: ``fit_dataset_vectorized`` with ``{"method": "lad"}`` — exact L1 optimum,
  certified, plus kernel SEs and intervals.
- ``R rq br``: ``rq(y ~ X - 1, method = "br")`` (the formula interface the issue names) and
  ``R rq.fit br``: ``rq.fit(X, y, method = "br")`` (the Barrodale–Roberts solver alone, the
  stricter comparison). Neither computes SEs (``summary.rq`` would add that).
- ``vec huber``: ``{"method": "huber", "k": 1.345}`` — a replay of statsmodels
  ``RLM(HuberT(1.345))``: MAD scale about 0 (median|r|/0.6744897…) re-estimated each step,
  stop when the deviance changes by < 1e-8 (at most 200 steps), H1 SEs and z intervals.
- ``R rlm``: ``rlm(X, y)`` with MASS's defaults: the same ψ (Huber, k = 1.345) and the same
  scale (median|r|/0.6745, re-estimated each step), but a looser stop (relative change of the
  residuals < 1e-4, at most 20 steps), so it takes fewer steps; and ``R rlm acc 1e-8``:
  ``rlm(X, y, acc = 1e-8, maxit = 200)``, closer to ours in work. Neither computes SEs.

R's own timer (``proc.time``) wraps each loop of fits, so R's start-up and the data transfer
(exact doubles through binary files) are excluded. The mean iteration counts and the largest
coefficient difference from the vectorised engine are printed beside the times.

Usage::

    python -m lossstudy.speed.benchmark_r [--sizes 100 1000] [--replicates 1000] [--repeats 3]
    python -m lossstudy.speed.benchmark --versus-r ...   (the same)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lossstudy.config import BUILTIN_DEFAULTS, deep_merge
from lossstudy.dgp import Dataset, simulate
from lossstudy.vectorized import EngineInfo, fit_dataset_vectorized

TARGET_RATIO = 3.0

#: R side: reads X (n×p) and Y (one replicate per column) as raw doubles, times each method's
#: loop over the replicates with proc.time, writes times, iterations and coefficients.
R_SCRIPT = r"""
args <- commandArgs(trailingOnly = TRUE)
dir <- args[1]
suppressMessages({ library(quantreg); library(MASS) })
meta <- scan(file.path(dir, "meta.txt"), quiet = TRUE)
n <- meta[1]; p <- meta[2]; R <- meta[3]; repeats <- meta[4]
X <- matrix(readBin(file.path(dir, "X.bin"), "double", n * p), n, p)
Y <- matrix(readBin(file.path(dir, "Y.bin"), "double", n * R), n, R)
methods <- list(
  "rq br" = function(y) list(coef = coef(rq(y ~ X - 1, method = "br")), it = NA),
  "rq.fit br" = function(y) list(coef = rq.fit(X, y, method = "br")$coefficients, it = NA),
  "rlm" = function(y) { f <- rlm(X, y); list(coef = f$coefficients, it = length(f$conv)) },
  "rlm acc 1e-8" = function(y) {
    f <- rlm(X, y, acc = 1e-8, maxit = 200); list(coef = f$coefficients, it = length(f$conv))
  }
)
for (name in names(methods)) {
  fit <- methods[[name]]
  fit(Y[, 1])  # warm-up
  best_wall <- Inf; best_cpu <- Inf
  for (k in seq_len(repeats)) {
    coefs <- matrix(NA_real_, p, R); iters <- rep(NA_real_, R)
    t0 <- proc.time()
    for (i in seq_len(R)) { f <- fit(Y[, i]); coefs[, i] <- f$coef; iters[i] <- f$it }
    t1 <- proc.time()
    best_wall <- min(best_wall, (t1 - t0)[["elapsed"]])
    best_cpu <- min(best_cpu, (t1 - t0)[["user.self"]] + (t1 - t0)[["sys.self"]])
  }
  tag <- gsub("[^a-z0-9]+", "_", name)
  writeBin(as.vector(coefs), file.path(dir, paste0("coef_", tag, ".bin")))
  cat(name, best_wall, best_cpu, mean(iters), "\n", sep = "\t",
      file = file.path(dir, "times.tsv"), append = TRUE)
}
cat(R.version.string, "quantreg", as.character(packageVersion("quantreg")),
    "MASS", as.character(packageVersion("MASS")), "\n", file = file.path(dir, "versions.txt"))
"""

#: R method → the vectorised estimator it is compared with.
R_METHODS = {"rq br": "lad", "rq.fit br": "lad", "rlm": "huber", "rlm acc 1e-8": "huber"}
SPECS: dict[str, dict[str, Any]] = {
    "lad": {"method": "lad"},
    "huber": {"method": "huber", "k": 1.345},
}


def _best(fn: Callable[[], Any], repeats: int) -> tuple[float, float, Any]:
    """Smallest wall and CPU time over ``repeats`` calls, and the last result."""
    wall = cpu = np.inf
    out = None
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall = min(wall, time.perf_counter() - w0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu, out


def r_available() -> str | None:
    """None when Rscript with quantreg and MASS can run, else the reason it cannot."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return "Rscript not found (Debian: apt-get install r-base-core r-cran-quantreg r-cran-mass)"
    probe = subprocess.run(
        [rscript, "-e", "suppressMessages({library(quantreg); library(MASS)})"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        return f"R packages quantreg and MASS not available: {probe.stderr.strip()[-300:]}"
    return None


def run_r(data: Dataset, repeats: int) -> tuple[dict[str, dict[str, Any]], str]:
    """Time R's fits of ``data`` (fixed design); per method: seconds (wall, CPU) for all
    replicates, mean iterations and the coefficients (R×p)."""
    R, n = data.y.shape
    p = data.X.shape[1]
    with tempfile.TemporaryDirectory(prefix="lossstudy-r-") as tmp:
        d = Path(tmp)
        (d / "meta.txt").write_text(f"{n} {p} {R} {repeats}\n", encoding="utf-8")
        (d / "X.bin").write_bytes(np.asarray(data.X, dtype="<f8").tobytes(order="F"))
        (d / "Y.bin").write_bytes(np.asarray(data.y, dtype="<f8").tobytes(order="C"))
        (d / "bench.R").write_text(R_SCRIPT, encoding="utf-8")
        proc = subprocess.run(
            ["Rscript", str(d / "bench.R"), str(d)], capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise RuntimeError(f"Rscript failed: {proc.stderr.strip()[-500:]}")
        out: dict[str, dict[str, Any]] = {}
        for line in (d / "times.tsv").read_text(encoding="utf-8").splitlines():
            name, wall, cpu, iters = [f.strip() for f in line.split("\t")[:4]]
            tag = "".join(c if c.isalnum() else "_" for c in name)
            tag = "_".join(t for t in tag.split("_") if t)
            raw = (d / f"coef_{tag}.bin").read_bytes()
            coef = np.frombuffer(raw, dtype="<f8").reshape(R, p)
            out[name] = {
                "wall_s": float(wall),
                "cpu_s": float(cpu),
                "iterations": float(iters) if iters != "NA" else None,
                "coef": coef,
            }
        versions = (d / "versions.txt").read_text(encoding="utf-8").strip()
    return out, versions


def bench_size(
    n: int, replicates: int, repeats: int, p: int = 5, seed: int = 20240
) -> list[dict[str, Any]]:
    """Rows for one n: each R method beside the vectorised estimator it is compared with."""
    coefs = list(BUILTIN_DEFAULTS["coefficients"])[:p]
    coefs += [0.0] * (p - len(coefs))
    knobs = deep_merge(BUILTIN_DEFAULTS, {"n": n, "coefficients": coefs, "design": {"fixed": True}})
    data = simulate(knobs, seed, f"versus-r-{n}", 0, replicates)
    vec: dict[str, dict[str, Any]] = {}
    for name, spec in SPECS.items():
        fit_dataset_vectorized(data.head(min(replicates, 50)), spec, 0.95)  # warm-up
        wall, cpu, res = _best(lambda spec=spec: fit_dataset_vectorized(data, spec, 0.95), repeats)
        info = EngineInfo()
        fit_dataset_vectorized(data, spec, 0.95, info=info)
        iters = info.lad_pivots if name == "lad" else info.irls_iterations
        vec[name] = {
            "wall_s": wall,
            "cpu_s": cpu,
            "coef": res.estimate,
            "iterations": iters / replicates,
        }
    r_out, versions = run_r(data, repeats)
    rows = []
    for r_name, est in R_METHODS.items():
        v, r = vec[est], r_out[r_name]
        rows.append(
            {
                "n": n,
                "p": p,
                "replicates": replicates,
                "estimator": est,
                "r_method": r_name,
                "vec_ms_wall": 1e3 * v["wall_s"] / replicates,
                "r_ms_wall": 1e3 * r["wall_s"] / replicates,
                "vec_ms_cpu": 1e3 * v["cpu_s"] / replicates,
                "r_ms_cpu": 1e3 * r["cpu_s"] / replicates,
                "ratio_wall": r["wall_s"] / v["wall_s"],
                "ratio_cpu": r["cpu_s"] / v["cpu_s"] if v["cpu_s"] > 0 else float("nan"),
                "vec_iterations": v["iterations"],
                "r_iterations": r["iterations"],
                "max_abs_coef_diff": float(np.nanmax(np.abs(v["coef"] - r["coef"]))),
                "r_versions": versions,
            }
        )
    return rows


def run(
    sizes: Sequence[int], replicates: int, repeats: int, log: Callable[[str], None] = print
) -> dict[str, Any] | None:
    """All rows, or None (after saying why) when R cannot run."""
    reason = r_available()
    if reason is not None:
        log(f"skipping the R comparison: {reason}")
        return None
    log(f"load average before: {os.getloadavg()}")
    log(
        f"{'n':>5} {'vectorised':10} {'R':13} {'vec ms':>8} {'R ms':>8} {'ratio':>6} "
        f"{'vec cpu':>8} {'R cpu':>8} {'ratio':>6} {'it vec':>6} {'it R':>5} {'max|Δβ|':>8}"
    )
    rows = []
    for n in sizes:
        reps = replicates if n <= 100 else max(50, replicates // 4)
        for row in bench_size(n, reps, repeats):
            rows.append(row)
            log(
                f"{n:5d} {row['estimator']:10} {row['r_method']:13} {row['vec_ms_wall']:8.4f} "
                f"{row['r_ms_wall']:8.4f} {row['ratio_wall']:6.1f} {row['vec_ms_cpu']:8.4f} "
                f"{row['r_ms_cpu']:8.4f} {row['ratio_cpu']:6.1f} {row['vec_iterations']:6.1f} "
                f"{row['r_iterations'] if row['r_iterations'] is not None else float('nan'):5.1f} "
                f"{row['max_abs_coef_diff']:8.1e}"
            )
    load = os.getloadavg()
    log(f"load average after: {load}; {rows[0]['r_versions'] if rows else ''}")
    log(
        f"target: ratio ≥ {TARGET_RATIO:g} (R / vectorised, per fit, same data, same run); "
        "'it' = IRLS steps (Huber) or vertex pivots (LAD, vectorised) per fit"
    )
    return {
        "note": (
            "ms per fit, best of the repeats for each side; ratio = R / vectorised; vectorised "
            "LAD and Huber also compute SEs and intervals, R's fits do not"
        ),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "cpu_count": os.cpu_count(),
        "load_average_at_end": load,
        "rows": rows,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lossstudy.speed.benchmark_r", description=__doc__
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument(
        "--replicates",
        type=int,
        default=1000,
        help="replicates fitted by both sides (a quarter of it for n > 100)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per side (best)")
    parser.add_argument("--out", default="results/benchmark_r.json", help="JSON output path")
    args = parser.parse_args(argv)
    result = run(args.sizes, args.replicates, args.repeats)
    if result is None:
        return 0
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
