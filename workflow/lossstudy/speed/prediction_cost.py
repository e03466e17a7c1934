"""What the test errors add to a fit job: ``python -m lossstudy.speed.prediction_cost``.

Times ``pipeline.fit_chunk`` on one chunk of 2000 replicates (n = 400, the built-in scenario,
every estimator of ``config/config.yaml``) without and with its test samples (m = ⌈10⁵/R⌉ = 50
rows per replicate), best of ``--repeat`` alternated runs each, and prints the seconds the test
samples add and, separately, their two parts: drawing the samples once per chunk, and every
estimator's errors on them.
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from lossstudy.blas import single_thread_blas
from lossstudy.config import BUILTIN_DEFAULTS, load_study
from lossstudy.dgp import Dataset
from lossstudy.pipeline import TestSpec, fit_chunk, simulate_chunk
from lossstudy.prediction import draw_test, prediction_errors, test_rows


def _best(fn: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=2000)
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--config", default="config/config.yaml")
    args = ap.parse_args(argv)
    estimators = load_study(yaml.safe_load(Path(args.config).read_text())).estimators
    knobs = copy.deepcopy(BUILTIN_DEFAULTS)
    knobs["n"] = args.n
    R, rows = args.replicates, test_rows(args.replicates)
    with tempfile.TemporaryDirectory() as tmp:
        data_file = Path(tmp, "d.npz")
        simulate_chunk(knobs, 1, "s", 0, R, data_file)
        spec = TestSpec(knobs, 1, rows)
        # alternated, best of each: a loaded machine's drift hits both alike
        plain_times, scored_times = [], []
        for _ in range(args.repeat):
            plain_times.append(
                _best(
                    lambda: fit_chunk(
                        data_file, "s", estimators, 0.95, "vectorized", Path(tmp, "a")
                    ),
                    1,
                )
            )
            scored_times.append(
                _best(
                    lambda: fit_chunk(
                        data_file, "s", estimators, 0.95, "vectorized", Path(tmp, "b"), test=spec
                    ),
                    1,
                )
            )
        plain, scored = min(plain_times), min(scored_times)
        data = Dataset.load(data_file)
        with single_thread_blas():
            draw = _best(
                lambda: draw_test(knobs, 1, "s", data.replicates, data.beta, rows), args.repeat
            )
            sample = draw_test(knobs, 1, "s", data.replicates, data.beta, rows)
            usable = np.ones(R, dtype=bool)
            score = _best(
                lambda: [prediction_errors(sample, data.beta, usable) for _ in estimators],
                args.repeat,
            )
    print(
        f"fit job, {R} replicates, n = {args.n}, {len(estimators)} estimators, "
        f"test samples of {rows} rows: {plain:.2f} s without, {scored:.2f} s with "
        f"(+{scored - plain:.2f} s); drawing the samples {draw:.3f} s, "
        f"the {len(estimators)} estimators' test errors {score:.3f} s"
    )


if __name__ == "__main__":
    main()
