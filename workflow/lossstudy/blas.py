"""One BLAS thread for every draw and fit, whatever the environment says.

Why: a multi-threaded BLAS splits some products (inside LAPACK's SVD behind ``pinv``, for one)
differently from a single thread, so the same fit differs in the last bits with the thread
count. Snakemake sets ``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS`` to a job's ``threads`` (1),
but ``lossstudy replay`` or any other caller runs with whatever its shell has. Pinning inside
the package makes every caller reproduce the stored bits; one thread is also the faster
choice for the engine's many small or skinny products on a busy machine.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import ThreadpoolController

_depth = 0  # pins entered and not yet left: only the outermost one talks to the libraries
# The loaded libraries, found by a scan of the process's shared objects (≈ 6 ms, and a cell job
# pins about 17 times), kept while no module has been imported since: a BLAS is loaded by
# importing an extension module (numpy, scipy.linalg, ...), so a new import means a new scan.
_controller: ThreadpoolController | None = None
_modules_at_scan = -1


def _libraries() -> ThreadpoolController:
    global _controller, _modules_at_scan
    if _controller is None or len(sys.modules) != _modules_at_scan:
        _modules_at_scan = len(sys.modules)
        _controller = ThreadpoolController()
    return _controller


@contextmanager
def single_thread_blas() -> Iterator[None]:
    """Limit every BLAS library loaded so far to one thread, then restore their settings.

    Nested uses are free: only the outermost pin sets the loaded libraries' thread counts, so a
    BLAS first loaded inside a pin runs unpinned until the next outermost one: pin each fit.
    """
    global _depth
    if _depth:
        yield
        return
    _depth += 1
    try:
        with _libraries().limit(limits=1, user_api="blas"):
            yield
    finally:
        _depth -= 1
