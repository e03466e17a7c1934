"""Measure the peak memory and wall time of the simulate, fit and summarise jobs of one cell.

``python -m lossstudy.speed.membench`` prints a Markdown table (docs/memory.md): for each
n × p × design, one job of each rule on ``--replicates`` replicates with every estimator of the
default study, its measured peak RSS and wall time, and ``lossstudy.memory``'s prediction
beside it. ``--json FILE`` also writes the rows (the calibration data of the model).

Why subprocesses: every job of the workflow is a fresh Python process, so its peak is the
libraries it imports plus its data. Each job here runs the same package function as the
rule's script, after the imports of Snakemake's script preamble, in its own process; the
peak is that process's high-water RSS (``VmHWM``, which it reports itself: the ``ru_maxrss``
a parent gets from ``wait4`` is at least the parent's own RSS at the fork, on Linux) and the
time its wall time, start-up included.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

RULES = ("simulate", "fit", "summarise")  # calibrated, in the order each needs the one before
CELL = "cell"  # a scenario in one job: the three in one process (lossstudy.memory.peak_mb)
SEED = 20261126
SCENARIO = "membench"


@dataclass(frozen=True)
class Measurement:
    """One job: its shape, measured peak RSS (MB) and wall time (s), and the prediction."""

    rule: str
    replicates: int
    n: int
    p: int
    fixed: bool
    estimators: int
    peak_mb: float
    seconds: float
    predicted_mb: float
    request_mb: int
    #: knobs set besides n, p and the design (JSON; "" for none)
    knobs: str = ""
    engine: str = "vectorized"
    #: the default study's estimators fitted, comma-separated ("" for all of them)
    subset: str = ""


def _knobs(n: int, p: int, fixed: bool, extra: str = "") -> dict[str, Any]:
    """The default scenario (every Gauss–Markov assumption met, unless ``extra``, JSON knobs,
    says otherwise) with n, p and the design."""
    from lossstudy.config import BUILTIN_DEFAULTS, deep_merge

    base = list(BUILTIN_DEFAULTS["coefficients"])
    coefficients = (base + [0.0] * p)[:p]
    knobs = deep_merge(BUILTIN_DEFAULTS, json.loads(extra) if extra else {})
    return deep_merge(knobs, {"n": n, "coefficients": coefficients, "design": {"fixed": fixed}})


def default_estimators(subset: str = "") -> dict[str, dict[str, Any]]:
    """The estimators of the repository's default study (config/config.yaml): all of them, or
    those named in ``subset`` (comma-separated)."""
    every = _default_estimators()
    return copy.deepcopy({k: every[k] for k in subset.split(",")} if subset else every)


@functools.cache
def _default_estimators() -> dict[str, dict[str, Any]]:
    from lossstudy.config import load_study, load_yaml

    config = Path(__file__).resolve().parents[3] / "config" / "config.yaml"
    return load_study(load_yaml(config)).estimators


# --------------------------------------------------------------------------- one job


def _worker(spec: dict[str, Any]) -> None:
    """Run one job as the rule's script would (after the imports of Snakemake's preamble)."""
    import snakemake.logging  # noqa: F401  (the script preamble imports these)
    import snakemake.script  # noqa: F401

    from lossstudy import pipeline

    pipeline.setup_logging(spec["log"])
    rule = spec["rule"]
    if rule == "simulate":
        pipeline.simulate_chunk(
            spec["knobs"], SEED, SCENARIO, 0, spec["replicates"], spec["dataset"]
        )
    elif rule == "fit":
        pipeline.fit_chunk(
            spec["dataset"], SCENARIO, spec["estimators"], 0.95, spec["engine"], spec["fits"]
        )
    elif rule == "summarise":
        from lossstudy.tables import write_scenario_tables

        d = Path(spec["dir"])
        pipeline.summarise_scenario(
            [spec["fits"]],
            spec["knobs"],
            spec["estimators"],
            next(iter(spec["estimators"])),
            0.95,
            d / "estimates.parquet",
            d / "performance.csv",
        )
        write_scenario_tables(d / "performance.csv", SCENARIO, d / "table.csv", d / "table.tex")
    elif rule == CELL:
        from lossstudy.tables import write_scenario_tables

        d = Path(spec["dir"])
        pipeline.fit_and_summarise(
            spec["knobs"],
            SEED,
            SCENARIO,
            spec["replicates"],
            spec["estimators"],
            0.95,
            spec["engine"],
            next(iter(spec["estimators"])),
            d / "cell.npz",
            d / "cell.parquet",
            d / "cell.csv",
        )
        write_scenario_tables(d / "cell.csv", SCENARIO, d / "cell_table.csv", d / "cell.tex")
    print(json.dumps({"peak_mb": _own_peak_mb()}))


def _own_peak_mb() -> float:
    """This process's high-water RSS (MB) since it was exec'd."""
    try:
        status = Path("/proc/self/status").read_text()
        return int(status.split("VmHWM:")[1].split()[0]) / 1024.0  # kB
    except (OSError, IndexError):  # not Linux: ru_maxrss (KiB on Linux, bytes on macOS)
        import resource

        scale = 1 if sys.platform == "darwin" else 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def run_job(spec: dict[str, Any]) -> tuple[float, float]:
    """Peak RSS (MB) and wall time (s) of one job run in a fresh process."""
    cmd = [sys.executable, "-m", "lossstudy.speed.membench", "--worker", json.dumps(spec)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}  # as `threads: 1`
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{spec['rule']} job failed:\n{proc.stderr[-3000:]}")
    return float(json.loads(proc.stdout.splitlines()[-1])["peak_mb"]), seconds


def measure_cell(
    replicates: int,
    n: int,
    p: int,
    fixed: bool,
    estimators: dict[str, dict[str, Any]] | None = None,
    engine: str = "vectorized",
    rules: Sequence[str] = RULES,
    extra: str = "",
    subset: str = "",
) -> list[Measurement]:
    """Run the simulate, fit and summarise jobs of one cell in turn (each needs the one
    before) and return their measurements beside the model's prediction; ``"cell"`` in
    ``rules`` also runs the three in one process, as rule ``cell`` does."""
    from lossstudy import memory

    estimators = default_estimators(subset) if estimators is None else estimators
    knobs = _knobs(n, p, fixed, extra)
    out = []
    with tempfile.TemporaryDirectory(prefix="membench-") as tmp:
        d = Path(tmp)
        spec = {
            "knobs": knobs,
            "replicates": replicates,
            "estimators": estimators,
            "engine": engine,
            "dir": str(d),
            "dataset": str(d / "chunk0.npz"),
            "fits": str(d / "chunk0.parquet"),
            "log": str(d / "job.log"),
        }
        last = max((RULES.index(r) for r in rules if r in RULES), default=-1)
        for rule in [*RULES[: last + 1], *([CELL] if CELL in rules else [])]:
            peak, seconds = run_job({**spec, "rule": rule})
            if rule not in rules:
                continue
            shape = memory.shape_of(knobs, estimators, engine, replicates)
            out.append(
                Measurement(
                    rule,
                    replicates,
                    n,
                    p,
                    fixed,
                    len(estimators),
                    round(peak, 1),
                    round(seconds, 2),
                    round(memory.peak_mb(rule, shape), 1),
                    memory.request_mb(rule, shape),
                    extra,
                    engine,
                    subset,
                )
            )
    return out


# --------------------------------------------------------------------------- the table


def _shape(m: Measurement) -> Any:
    """The model's view of a measured job (default estimators, or the subset it fitted)."""
    from lossstudy import memory

    knobs = _knobs(m.n, m.p, m.fixed, m.knobs)
    return memory.shape_of(knobs, default_estimators(m.subset), m.engine, m.replicates)


def repredict(rows: Sequence[Measurement]) -> list[Measurement]:
    """Measurements with the current model's predictions (e.g. after recalibrating it)."""
    from lossstudy import memory

    out = []
    for m in rows:
        shape = _shape(m)
        predicted = round(memory.peak_mb(m.rule, shape), 1)
        out.append(replace(m, predicted_mb=predicted, request_mb=memory.request_mb(m.rule, shape)))
    return out


def calibrate(rows: Sequence[Measurement]) -> str:
    """Coefficients of ``lossstudy.memory`` fitted to measurements: per rule, the upper envelope
    (every prediction ≥ its measurement) with the least total excess in MB, each coefficient
    at least its physical floor (``memory.FLOORS``). A linear programme."""
    from scipy.optimize import linprog

    from lossstudy import memory

    out = []
    for rule in RULES:
        sel = [m for m in rows if m.rule == rule]
        if not sel:
            continue
        feats = [memory.features(rule, _shape(m)) for m in sel]
        names = list(feats[0])
        # minimise Σ (pred_i − meas_i) subject to pred_i ≥ meas_i, pred_i = Σ_k c_k f_ik: MB
        # over-asked in all, so that the large jobs, which budgets are about, fit tightly
        cost = [sum(f[k] for f in feats) for k in names]
        a_ub = [[-f[k] for k in names] for f in feats]
        b_ub = [-m.peak_mb for m in sel]
        floors = memory.FLOORS.get(rule, {})
        bounds = [(floors.get(k, 0.0), None) for k in names]
        res = linprog(cost, A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs")
        if not res.success:
            out.append(f"{rule}: {res.message}")
            continue
        fitted = ", ".join(f"{k}: {v:.4g}" for k, v in zip(names, res.x, strict=True))
        out.append(f"{rule} ({len(sel)} jobs): {fitted}")
    return "\n".join(out)


def markdown(rows: Sequence[Measurement]) -> str:
    """One line per job shape: each rule's measured peak, predicted peak and wall time."""
    head = "| replicates | n | p | design | estimators |" + "".join(
        f" {r}: peak MB (predicted) | {r}: s |" for r in RULES
    )
    lines = [head, "|---:|---:|---:|---|---|" + "---:|---:|" * len(RULES)]
    cells: dict[tuple[Any, ...], dict[str, Measurement]] = {}
    for m in rows:
        key = (m.replicates, m.n, m.p, m.fixed, m.estimators, m.subset, m.engine, m.knobs)
        cells.setdefault(key, {})[m.rule] = m
    for (reps, n, p, fixed, count, subset, engine, knobs), by_rule in cells.items():
        what = subset.replace(",", ", ") if subset else f"all {count}"
        if engine != "vectorized":
            what += f" ({engine} engine)"
        design = ("fixed" if fixed else "random") + (", every departure" if knobs else "")
        reps_, n_ = (f"{x:,}".replace(",", " ") for x in (reps, n))
        line = f"| {reps_} | {n_} | {p} | {design} | {what} |"
        for r in RULES:
            m = by_rule.get(r)
            line += f" {m.peak_mb:.0f} ({m.predicted_mb:.0f}) | {m.seconds:.1f} |" if m else " | |"
        lines.append(line)
    return "\n".join(lines)


def model_error(rows: Sequence[Measurement]) -> str:
    """Summary of predicted − measured over the rows, per rule."""
    out = []
    for r in RULES:
        sel = [m for m in rows if m.rule == r]
        if not sel:
            continue
        diff = [m.predicted_mb - m.peak_mb for m in sel]
        rel = [m.predicted_mb / m.peak_mb - 1.0 for m in sel]
        under = sum(x > m.request_mb for x, m in zip([m.peak_mb for m in sel], sel, strict=True))
        out.append(
            f"{r}: predicted − measured from {min(diff):+.0f} to {max(diff):+.0f} MB "
            f"({min(rel):+.0%} to {max(rel):+.0%}); jobs above their mem_mb request: {under}"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lossstudy.speed.membench", description=__doc__)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--replicates", type=int, default=20, help="replicates per job (20)")
    ap.add_argument("--n", type=int, nargs="+", default=[100, 1000, 10000])
    ap.add_argument("--p", type=int, nargs="+", default=[5, 50])
    ap.add_argument("--design", nargs="+", choices=["fixed", "random"], default=["fixed", "random"])
    ap.add_argument("--engine", choices=["vectorized", "reference"], default="vectorized")
    ap.add_argument(
        "--cells",
        nargs="+",
        metavar="R:n:p:design",
        help="measure these cells instead of the grid, e.g. 2000:400:5:random",
    )
    ap.add_argument(
        "--knobs",
        default="",
        help='other scenario knobs (JSON), e.g. \'{"heteroskedasticity": {"strength": 1}}\'',
    )
    ap.add_argument(
        "--estimators",
        default="",
        metavar="A,B",
        help="fit only these of the default study's estimators (comma-separated)",
    )
    ap.add_argument("--json", type=Path, help="also write the measurements here")
    ap.add_argument(
        "--from-json",
        type=Path,
        nargs="+",
        metavar="FILE",
        help="measure nothing: print these measurements with today's predictions",
    )
    ap.add_argument(
        "--calibrate",
        action="store_true",
        help="with --from-json: fit the model's coefficients to the measurements",
    )
    args = ap.parse_args(argv)
    if args.worker:
        _worker(json.loads(args.worker))
        return 0
    if args.from_json:
        rows = [Measurement(**m) for f in args.from_json for m in json.loads(f.read_text())]
        rows = repredict(rows)
        if args.calibrate:
            print(calibrate(rows))
            return 0
        print(markdown(rows))
        print()
        print(model_error(rows))
        return 0
    cells = [
        (args.replicates, n, p, design) for n in args.n for p in args.p for design in args.design
    ]
    if args.cells:
        cells = [(int(r), int(n), int(p), d) for r, n, p, d in (c.split(":") for c in args.cells)]
    rows: list[Measurement] = []
    for replicates, n, p, design in cells:
        if design not in ("fixed", "random"):
            ap.error(f"design must be fixed or random, got {design!r}")
        cell = measure_cell(
            replicates,
            n,
            p,
            design == "fixed",
            engine=args.engine,
            extra=args.knobs,
            subset=args.estimators,
        )
        rows += cell
        print(
            " ".join(
                f"{m.rule} {m.peak_mb:.0f}/{m.predicted_mb:.0f} MB {m.seconds:.1f}s" for m in cell
            ),
            f"(R={replicates}, n={n}, p={p}, {design})",
            file=sys.stderr,
            flush=True,
        )
        if args.json:
            args.json.write_text(json.dumps([asdict(m) for m in rows], indent=1))
    print(markdown(rows))
    print()
    print(model_error(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
