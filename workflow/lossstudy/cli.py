"""Command line (``python -m lossstudy`` or ``lossstudy``): ``replay`` regenerates one
replicate to inspect it; ``overhead`` says how much of a finished study's time was fitting;
``benchmark`` times both engines per fit (``lossstudy.speed.benchmark``).

A strange estimate in ``results/estimates/{scenario}.parquet`` can be reproduced from its
scenario id and replicate index alone (the seed scheme makes them sufficient): the dataset is
rebuilt, every estimator is refitted, and the fits are compared with the stored ones.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lossstudy.config import ConfigError, find_schema, load_study, load_yaml, term_names

if TYPE_CHECKING:
    from lossstudy.config import Study
    from lossstudy.dgp import Dataset


def replay(
    config_path: str | Path,
    scenario: str,
    replicate: int,
    estimators: list[str] | None = None,
    results: str | Path = "results",
    dataset_csv: str | Path | None = None,
) -> str:
    """Rebuild and refit one replicate with the study's engine; return a readable report.

    Fits do not depend on how replicates are grouped into jobs, so refitting the replicate
    alone reproduces the stored numbers bit for bit.
    """
    import pandas as pd

    from lossstudy import methods
    from lossstudy.blas import single_thread_blas
    from lossstudy.dgp import simulate
    from lossstudy.pipeline import fit_with

    study = load_study(load_yaml(config_path), find_schema(near=config_path))
    if scenario not in study.scenarios:
        raise ConfigError(
            f"unknown scenario '{scenario}'; expanded ids are: {', '.join(study.scenarios)}"
        )
    sc = study.scenarios[scenario]
    if not 0 <= replicate < sc.replicates:
        raise ConfigError(f"replicate must be in 0..{sc.replicates - 1}, got {replicate}")
    with single_thread_blas():  # the draws as the fit job made them, whatever the environment
        data = simulate(sc.knobs, study.seed, scenario, replicate, replicate + 1)
    X, y, beta = data.design(0), data.y[0], data.beta[0]
    terms = term_names(sc.p)
    lines = [
        f"scenario {scenario}, replicate {replicate} (seed {study.seed}), n = {len(y)}",
        "true coefficients: " + ", ".join(f"{t}={b:.6g}" for t, b in zip(terms, beta, strict=True)),
    ]
    if dataset_csv:
        frame = pd.DataFrame(X[:, 1:], columns=terms[1:])
        frame.insert(0, "y", y)
        frame.to_csv(dataset_csv, index_label="row")
        lines.append(f"dataset written to {dataset_csv}")

    stored_path = Path(results) / "estimates" / f"{scenario}.parquet"
    stored = pd.read_parquet(stored_path) if stored_path.exists() else None
    fitted = study.estimators_in(scenario)
    names = estimators or list(fitted)
    rows = []
    for name in names:
        if name not in fitted:
            raise ConfigError(
                f"unknown estimator '{name}' in scenario '{scenario}'; allowed: {', '.join(fitted)}"
            )
        old = None  # this estimator's stored rows of the replicate, if any
        if stored is not None:
            old = stored[(stored.estimator == name) & (stored.replicate == replicate)]
        if methods.fit_for(fitted[name]).model != "linear":
            rows.append(_network_row(study, scenario, data, name, fitted[name], old))
            continue
        fit = fit_with(
            study.engine, data, fitted[name], study.level, seed=study.seed, scenario_id=scenario
        )
        match = _check(old, {"estimate": fit.estimate[0], "std_error": fit.std_error[0]})
        for j, term in enumerate(terms):
            rows.append(
                {
                    "estimator": name,
                    "term": term,
                    "true": beta[j],
                    "estimate": fit.estimate[0, j],
                    "std_error": fit.std_error[0, j],
                    "ci_low": fit.ci_low[0, j],
                    "ci_high": fit.ci_high[0, j],
                    "status": fit.status[0],
                    "check": match,
                }
            )
        if fit.message[0]:
            lines.append(f"{name}: {fit.message[0]}")
    table = pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.6g}")
    return "\n".join([*lines, table])


def _check(old: Any, replayed: Mapping[str, Any]) -> str:
    """The replay's check: ``old``, the stored rows of its estimator and replicate (None or
    empty: nothing stored), against the ``replayed`` values of each column, bit for bit."""
    if old is None or not len(old):
        return ""
    same = all(
        np.array_equal(old[col].to_numpy(dtype=float), values, equal_nan=True)
        for col, values in replayed.items()
    )
    return "identical to stored" if same else "DIFFERS from stored"


def _network_row(
    study: Study, scenario: str, data: Dataset, name: str, spec: Mapping[str, Any], old: Any
) -> dict[str, Any]:
    """A network member's replay: its row on the term ``model`` (no coefficients), its ISE
    against the scenario's true mean on the job's test rows, checked against the stored ISE."""
    from lossstudy.prediction import test_rows
    from lossstudy.training.fit import fit_trained

    sc = study.scenarios[scenario]
    test = (sc.knobs, test_rows(sc.replicates))
    fit = fit_trained(data, {name: spec}, study.seed, scenario, test=test)[name]
    ise = float(fit.scores.ise[0])
    nan = float("nan")
    row = dict.fromkeys(("true", "estimate", "std_error", "ci_low", "ci_high"), nan)
    return {
        "estimator": name,
        "term": "model",
        **row,
        "ise": ise,
        "status": fit.status[0],
        "check": _check(old, {"ise": [ise]}),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lossstudy", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    rp = sub.add_parser("replay", help="rebuild and refit one replicate of one scenario")
    rp.add_argument("scenario", help="expanded scenario id, e.g. heavy_tails-n100")
    rp.add_argument("replicate", type=int, help="replicate index (0-based)")
    rp.add_argument("--config", default="config/config.yaml")
    rp.add_argument("--estimator", action="append", help="only this estimator (repeatable)")
    rp.add_argument("--results", default="results", help="where stored estimates are compared")
    rp.add_argument("--dataset-csv", help="also write the dataset (y, x1..) to this CSV file")
    op = sub.add_parser(
        "overhead", help="a finished study's time: fitting proper against per-job overhead"
    )
    op.add_argument("--config", default="config/config.yaml")
    op.add_argument("--results", default="results")
    op.add_argument(
        "--reference-sample",
        type=float,
        default=0.0,
        help="also time the reference engine on this fraction of each dataset (e.g. 0.05)",
    )
    op.add_argument(
        "--wall",
        type=float,
        help="the study's measured wall time in s (default: the newest Snakemake run's)",
    )
    op.add_argument(
        "--floor-repeats",
        type=int,
        default=3,
        help="time the floor this many times and keep the fastest (default 3)",
    )
    op.add_argument(
        "--floor-only",
        action="store_true",
        help="skip refitting the stored datasets: benchmarks and the floor only",
    )
    op.add_argument("--out", default="results/overhead.json", help="JSON output path")
    sub.add_parser(
        "benchmark",
        help="ms per fit of both engines on the same data (see `benchmark --help`)",
        add_help=False,
    )
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["benchmark"]:  # its own parser, options included
        from lossstudy.speed.benchmark import main as benchmark

        return benchmark(argv[1:])
    args = parser.parse_args(argv)
    try:
        if args.command == "overhead":
            from lossstudy.speed.overhead import main as overhead

            return overhead(
                args.config,
                args.results,
                ".",
                args.reference_sample,
                args.out,
                wall=args.wall,
                floor_repeats=args.floor_repeats,
                refit=not args.floor_only,
            )
        print(
            replay(
                args.config,
                args.scenario,
                args.replicate,
                args.estimator,
                args.results,
                args.dataset_csv,
            )
        )
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
