"""A job's draws and fits do not depend on the BLAS thread count of the caller's environment.

Snakemake sets OMP_NUM_THREADS/OPENBLAS_NUM_THREADS to a job's `threads` (1); `lossstudy replay`
or a user's own script runs with whatever its shell says. Unpinned, OLS and WLS on a 2000 × 50
fixed design differ in the last bits between 1 and 2 threads (LAPACK's SVD behind ``pinv``);
``lossstudy.blas`` pins every draw and fit to one thread.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

JOB = """
from threadpoolctl import threadpool_info
from lossstudy.config import BUILTIN_DEFAULTS, deep_merge
from lossstudy.pipeline import simulate_and_fit_chunk
knobs = deep_merge(BUILTIN_DEFAULTS, {{"n": 2000, "coefficients": [1.0] * 50}})
specs = {{"ols": {{"method": "ols"}}, "hc3": {{"method": "ols", "se": "hc3"}},
         "wls": {{"method": "wls", "predictor": 1, "strength": 2.0}}}}
simulate_and_fit_chunk(knobs, 3, "s", 0, 4, specs, 0.95, "vectorized",
                       "{out}/d.npz", "{out}/f.parquet")
print(max(lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"))
"""


def _job(out: Path, threads: int | None) -> int:
    """Run a fit job's steps in a fresh process with this BLAS thread count (None: unset);
    return the thread count BLAS has outside the package's pins."""
    out.mkdir()
    env = {
        k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")
    }
    if threads is not None:
        env |= {"OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads)}
    run = subprocess.run(
        [sys.executable, "-c", JOB.format(out=out)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return int(run.stdout.split()[-1])


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one CPU: BLAS cannot use two threads")
def test_draws_and_fits_are_the_same_bits_with_any_blas_thread_count(tmp_path: Path):
    one, two, unset = tmp_path / "one", tmp_path / "two", tmp_path / "unset"
    assert _job(one, 1) == 1
    assert _job(two, 2) == 2  # BLAS really had two threads to split the products with
    _job(unset, None)
    for name in ("d.npz", "f.parquet"):
        assert (one / name).read_bytes() == (two / name).read_bytes() == (unset / name).read_bytes()


def test_a_pin_rescans_the_libraries_only_after_an_import():
    """The loaded libraries are scanned once and kept (a scan costs ≈ 6 ms, a cell job pins
    about 17 times) until a module is imported, which is how a new BLAS gets loaded."""
    from lossstudy import blas

    with blas.single_thread_blas():
        first = blas._libraries()
    with blas.single_thread_blas():
        assert blas._libraries() is first  # nothing imported since: no new scan
    sys.modules["_lossstudy_test_fresh_import"] = type(sys)("_lossstudy_test_fresh_import")
    try:
        with blas.single_thread_blas():
            assert blas._libraries() is not first  # a module came in: the next pin scans
    finally:
        del sys.modules["_lossstudy_test_fresh_import"]


def test_a_blas_loaded_after_the_first_pin_is_pinned_by_the_next(tmp_path: Path):
    code = """
from threadpoolctl import threadpool_info
from lossstudy.blas import single_thread_blas
with single_thread_blas():
    pass
import scipy.linalg  # may load a BLAS of its own
with single_thread_blas():
    print(max(lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"))
"""
    env = {**os.environ, "OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2"}
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert int(run.stdout.split()[-1]) == 1
