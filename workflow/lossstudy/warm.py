"""A warm worker for the study's cell jobs: each job still is its own Snakemake job, but it runs
in an executor forked from a process that has already imported numpy, pyarrow, pandas, JAX and
the package, and an executor runs one job after another (``_Pool``: a fresh fork per job paid
for its memory again, page by page).

Why: a cell job of the exact-fit study spends ≈ 0.55 s of its ≈ 2 s importing them
(docs/job-granularity.md), ≈ 0.55 s × 230 jobs of the default study. The job's command is
unchanged (``python workflow/scripts/cell.py …``): that script first asks the worker named by
``$LOSSSTUDY_WARM_SOCKET`` to run it, and runs itself, as before, when there is no worker, the
worker refuses (another interpreter or checkout) or the variable is unset. The executor runs
the very same script on the same arguments, with the job's working directory, environment,
standard streams, log and warnings, so its files are byte for byte those of a fresh process
(tests/test_warm.py). Every job keeps its own files, log and Snakemake bookkeeping, so
incremental reruns are untouched.

Lifetime: the workflow starts the worker when a local, non-dry run begins (``onstart`` in
workflow/rules/common.smk) and it exits when the Snakemake process that started it is gone
or after ``IDLE_S`` without a job, and its executors with it. If the job's process dies
(Snakemake cancels it), the executor notices the closed connection and exits too. Set
``LOSSSTUDY_WARM=0`` to run every job in a fresh process.

The price: Snakemake's ``benchmark:`` samples the job's process tree, which holds the thin
client, not the executor; a job's wall time (``s``) stays right, its CPU time and peak
memory do not. The executor writes both to the job's log instead (its peak RSS counts the
worker's imported modules, shared by every executor, and from the second job on what the
executor's allocator kept from the jobs before).

Only the standard library is imported here: the client's start-up is the point.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path

#: The environment variable naming the worker's socket (set by the workflow for its jobs).
SOCKET_ENV = "LOSSSTUDY_WARM_SOCKET"
#: ``LOSSSTUDY_WARM=0`` switches the worker off (every job a fresh process).
SWITCH_ENV = "LOSSSTUDY_WARM"
#: A worker without jobs for this long exits.
IDLE_S = 900.0
#: What the worker imports before it serves: what an exact-fit cell job imports, then what a
#: training, network or classification cell job adds (JAX, optax, scipy: ≈ 1.9 s a job).
#: Importing JAX starts no thread (its backend, which does, starts in the job), so forking
#: stays safe; tests/test_warm.py checks both.
PRELOAD = (
    "numpy",
    "pyarrow",
    "pyarrow.parquet",
    "pandas",
    # imported on first use by every cell's summary (the Arrow table to a frame, the CSV
    # writer, the failure notes' heads): ≈ 0.1 s of each executor's first job
    "pyarrow.pandas_compat",
    "pandas.io.formats.csvs",
    "pandas.core.methods.to_dict",
    "lossstudy.pipeline",
    "lossstudy.performance",
    "lossstudy.prediction",
    "lossstudy.tables",
    "lossstudy.vectorized",
    "lossstudy.dgp",
    "lossstudy.quantiles",
    "scipy",
    "lossstudy.classification",
    "lossstudy.training.fit",
    "lossstudy.training.functions",
    "lossstudy.training.mlp",
    "lossstudy.training.sharpness",
)
#: A preloaded module whose import read the environment defines this function; the executor
#: calls it once it has the job's environment (``lossstudy.training.engine``: XLA_FLAGS).
ADOPT = "adopt_environment"
_MAX_MESSAGE = 1 << 24
#: The line a forked job ends its log with: its own CPU time and peak memory, which the
#: job's benchmark file cannot see (``lossstudy.runtimes`` reads it).
CHILD_LINE = "ran in a warm worker's child: %.2f s wall, %.2f s CPU, peak RSS %.0f MB"
CHILD_CPU = r"ran in a warm worker's child: [0-9.]+ s wall, ([0-9.]+) s CPU"


def _send(sock: socket.socket, message: dict, fds: Sequence[int] = ()) -> None:
    data = json.dumps(message).encode()
    header = len(data).to_bytes(8, "big")
    if fds:
        socket.send_fds(sock, [header], list(fds))
    else:
        sock.sendall(header)
    sock.sendall(data)


def _receive(sock: socket.socket, with_fds: int = 0) -> tuple[dict | None, list[int]]:
    """One message (and up to ``with_fds`` descriptors); ``None`` at a closed connection."""
    fds: list[int] = []
    if with_fds:
        header, fds, _, _ = socket.recv_fds(sock, 8, with_fds)
    else:
        header = sock.recv(8)
    while header and len(header) < 8:
        more = sock.recv(8 - len(header))
        if not more:
            return None, fds
        header += more
    if not header:
        return None, fds
    size = int.from_bytes(header, "big")
    if size > _MAX_MESSAGE:
        raise ValueError(f"warm worker: a message of {size} bytes")
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            return None, fds
        chunks.append(chunk)
        left -= len(chunk)
    return json.loads(b"".join(chunks)), fds


def _identity(script: str | Path) -> dict[str, str]:
    """What client and worker must share for the child to be the job it replaces: the
    interpreter and its environment (two venvs may share one interpreter binary) and the
    directory of the job's script (its checkout)."""
    return {
        "executable": sys.executable,
        "prefix": sys.prefix,
        "scripts": str(Path(script).resolve().parent),
    }


# --------------------------------------------------------------------------- client


def run_in_worker(script: str, argv: Sequence[str]) -> int | None:
    """Run ``script`` with ``argv`` in the warm worker; its exit status, or ``None`` when there
    is no worker to run it (the caller then runs the script itself)."""
    path = os.environ.get(SOCKET_ENV)
    if not path or os.environ.get(SWITCH_ENV) == "0":
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        return None
    env = {k: v for k, v in os.environ.items() if k != SOCKET_ENV}
    request = {
        "script": str(Path(script).resolve()),
        "argv": list(argv),
        "cwd": os.getcwd(),
        "env": env,
        **_identity(script),
    }
    try:
        _send(sock, request, fds=(0, 1, 2))
        reply, _ = _receive(sock)
    except OSError:
        reply = None
    finally:
        sock.close()
    if reply is None:
        print("warm worker: the job's process ended without a status", file=sys.stderr)
        return 1
    if "refused" in reply:
        return None
    return int(reply["status"])


# --------------------------------------------------------------------------- worker


def serve(
    socket_path: str | Path,
    watch_pid: int,
    scripts: str | Path,
    *,
    idle: float = IDLE_S,
) -> None:
    """Import ``PRELOAD``, then hand each request for a script in ``scripts`` to an idle
    executor (forked from this process the first time none is idle) until ``watch_pid`` is
    gone or no request came for ``idle`` seconds. One thread, so that forking is safe; BLAS
    pinned to one thread before numpy loads (the jobs' own setting)."""
    import importlib
    import select

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    for name in PRELOAD:
        importlib.import_module(name)
    identity = _identity(Path(scripts) / "any.py")

    path = Path(socket_path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ready = path.with_name(path.name + ".binding")
    ready.unlink(missing_ok=True)
    listener.bind(str(ready))
    listener.listen(64)
    os.replace(ready, path)  # visible only once the imports are done
    last = time.monotonic()
    pool = _Pool(listener)
    try:
        while True:
            readable, _, _ = select.select([listener, *pool.controls()], [], [], 0.5)
            for ctrl in readable:
                if ctrl is not listener:
                    pool.heard(ctrl)
            pool.reap()
            if listener in readable:
                # the executor first: forked while the worker holds no job's descriptors
                ctrl = pool.take()
                conn, _ = listener.accept()
                last = time.monotonic()
                _accept(conn, ctrl, pool, identity)
                continue
            if pool.busy():
                last = time.monotonic()
            if not _alive(watch_pid) or time.monotonic() - last > idle:
                return
    finally:
        pool.close()
        listener.close()
        path.unlink(missing_ok=True)
        if path.parent.name.startswith("lossstudy-warm-"):  # made by ``start``
            path.parent.rmdir()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Pool:
    """The worker's executors: forked children that run one job at a time, in their own
    process, and then wait for the next (``_execute``). One is forked only when every other is
    busy, so a run has as many as it runs cell jobs at once (its ``--cores``).

    Why not a fresh child per job: a fresh process faults in every page its arrays touch, and
    a cell's arrays are ≈ 100 MB: measured, 60 exact-fit cells took 37 s forked one by one and
    23 s run one after another in one process (docs/job-granularity.md)."""

    def __init__(self, listener: socket.socket) -> None:
        self._listener = listener
        self._ctrl: dict[socket.socket, int] = {}  # control socket -> executor pid
        self._idle: list[socket.socket] = []
        self._gone: list[int] = []

    def controls(self) -> list[socket.socket]:
        return list(self._ctrl)

    def busy(self) -> bool:
        return len(self._idle) < len(self._ctrl)

    def take(self) -> socket.socket:
        """An idle executor's control socket, forking a new executor if none is idle."""
        if self._idle:
            return self._idle.pop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:
            try:  # whatever happens, the executor never returns into the worker's loop
                ours.close()
                self._listener.close()
                for ctrl in self._ctrl:
                    ctrl.close()
                _execute(theirs)
            finally:
                os._exit(1)
        theirs.close()
        self._ctrl[ours] = pid
        return ours

    def release(self, ctrl: socket.socket) -> None:
        """Give back an executor that got no job."""
        self._idle.append(ctrl)

    def heard(self, ctrl: socket.socket) -> None:
        """An executor finished its job (idle again) or exited (its socket closed)."""
        try:
            message, _ = _receive(ctrl)
        except (OSError, ValueError):
            message = None
        if message is not None:
            self._idle.append(ctrl)
            return
        self._gone.append(self._ctrl.pop(ctrl))
        if ctrl in self._idle:
            self._idle.remove(ctrl)
        ctrl.close()

    def reap(self) -> None:
        for pid in list(self._gone):
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                self._gone.remove(pid)

    def close(self) -> None:
        """Closing its control socket ends an executor waiting for a job (one that is running
        a job ends when it is done and finds the socket closed)."""
        for ctrl in self._ctrl:
            ctrl.close()
        self._ctrl.clear()
        self._idle.clear()


def _accept(
    conn: socket.socket, ctrl: socket.socket, pool: _Pool, identity: dict[str, str]
) -> None:
    """Read one request; hand it to the executor ``ctrl``, with the job's connection and
    streams, or refuse it (the executor stays idle)."""
    try:
        request, fds = _receive(conn, with_fds=3)
    except (OSError, ValueError):
        request, fds = None, []
    theirs = {key: request.get(key) for key in identity} if request else None
    sent = False
    if request is not None and len(fds) == 3 and theirs == identity:
        try:
            _send(ctrl, request, fds=(conn.fileno(), *fds))
            sent = True
        except OSError:  # the executor is gone: the job runs itself
            pass
    if not sent:
        pool.release(ctrl)
        with contextlib.suppress(OSError):
            _send(conn, {"refused": "another interpreter or checkout"})
    conn.close()
    for fd in fds:
        os.close(fd)


#: An executor retires after this many jobs (a bound on anything a job leaves behind).
EXECUTOR_JOBS = 200


def _execute(ctrl: socket.socket) -> None:
    """An executor: run the jobs the worker sends, one at a time, each as ``_run_job``; after
    each, tell the worker it is idle. It exits when the worker closes its socket, after a job
    that failed or was cancelled (whatever that job left behind goes with it), or after
    ``EXECUTOR_JOBS`` jobs."""
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for job in range(EXECUTOR_JOBS):
        try:
            request, fds = _receive(ctrl, with_fds=4)
        except (OSError, ValueError):
            request = None
        if request is None or len(fds) != 4:
            os._exit(0)
        conn = socket.socket(fileno=fds[0])
        status = _run_job(conn, fds[1:], request)
        if status != 0 or job == EXECUTOR_JOBS - 1:
            os._exit(status)
        try:
            _send(ctrl, {"idle": True})
        except OSError:
            os._exit(0)
    os._exit(0)


def _run_job(conn: socket.socket, fds: list[int], request: dict) -> int:
    """Become the job: its streams, directory, environment and arguments; run its script;
    report the exit status to the job's process; return it. Exits at once if the job's
    process goes away. What a job changes of the process (streams, directory, environment,
    arguments, log handlers, warnings already shown) is set afresh for the next."""
    import logging
    import runpy
    import threading
    import traceback

    status = 1
    done = threading.Event()
    try:
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
        sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        _forget_warnings()
        for module in list(sys.modules.values()):
            adopt = getattr(module, ADOPT, None) if module is not None else None
            if callable(adopt) and getattr(module, "__name__", "").startswith("lossstudy."):
                adopt()

        def watch() -> None:  # the job's process closed the connection before its end: stop
            try:
                while conn.recv(1):
                    pass
            except OSError:
                pass
            if not done.is_set():
                os._exit(143)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        sys.argv = [request["script"], *request["argv"]]
        t0, cpu0 = time.perf_counter(), time.process_time()
        _reset_peak_rss()
        try:
            runpy.run_path(request["script"], run_name="__main__")
            status = 0
        except SystemExit as stop:
            code = stop.code
            status = code if isinstance(code, int) else (0 if code is None else 1)
            if code is not None and not isinstance(code, int):
                print(code, file=sys.stderr)
        logging.getLogger("lossstudy").info(
            CHILD_LINE, time.perf_counter() - t0, time.process_time() - cpu0, _peak_rss_mb()
        )
    except BaseException:  # the job's failure is reported as its status, its traceback shown
        traceback.print_exc()
        status = 1
    finally:
        _close_log_handlers()
    done.set()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        _send(conn, {"status": status})
    except OSError:
        status = status or 1
    finally:
        with contextlib.suppress(OSError):
            conn.shutdown(socket.SHUT_RDWR)
        conn.close()
        null = os.open(os.devnull, os.O_RDWR)
        for target in (0, 1, 2):
            os.dup2(null, target)
        os.close(null)
    return status


def _forget_warnings() -> None:
    """Show a job each warning as a fresh process would: Python shows one once per place and
    remembers that in the warning's module."""
    import warnings

    for module in list(sys.modules.values()):
        registry = getattr(module, "__warningregistry__", None)
        if isinstance(registry, dict):
            registry.clear()
    warnings._filters_mutated()  # type: ignore[attr-defined]


def _close_log_handlers() -> None:
    """Close the job's log files (a fresh process would at exit) and detach them."""
    import logging

    for logger in (logging.getLogger(), logging.getLogger("lossstudy")):
        for handler in list(logger.handlers):
            with contextlib.suppress(Exception):
                handler.flush()
                handler.close()
            logger.removeHandler(handler)


def _reset_peak_rss() -> None:
    """Start the kernel's peak-RSS count (VmHWM) afresh for this job (Linux; else a no-op)."""
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _peak_rss_mb() -> float:
    """This job's peak RSS, MB: VmHWM since ``_reset_peak_rss``, else the process's peak."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------- start


def start(python: str, workflow_dir: str | Path, watch_pid: int) -> str | None:
    """Start a worker in the background for this run's jobs and return its socket path (the
    caller exports it as ``$LOSSSTUDY_WARM_SOCKET``), or ``None`` when switched off or not on
    Linux (forking a process that has loaded macOS's system libraries is not safe). Jobs that
    start before the worker is ready run in their own process."""
    if os.environ.get(SWITCH_ENV) == "0" or not sys.platform.startswith("linux"):
        return None
    import subprocess
    import tempfile

    path = str(Path(tempfile.mkdtemp(prefix="lossstudy-warm-")) / "sock")
    script = Path(workflow_dir) / "scripts" / "warm_worker.py"
    subprocess.Popen(
        [python, str(script), "--socket", path, "--watch-pid", str(watch_pid)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    return path
