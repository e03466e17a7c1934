"""The warm worker (lossstudy.warm): a cell job forked from it writes the bytes a fresh process
writes; statuses, streams and failures pass through; a job that cannot use it runs itself;
a cancelled job's child stops; the worker stops with the run that started it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lossstudy.warm import SOCKET_ENV, SWITCH_ENV

SCRIPTS = Path(__file__).resolve().parents[1] / "workflow" / "scripts"

#: a script as cell.py starts: ask the worker first, else run itself
PROBE = """
import os, sys, time
sys.path.insert(0, {scripts!r})
import _lossstudy_path
from lossstudy.warm import run_in_worker
if (status := run_in_worker(__file__, sys.argv[1:])) is not None:
    sys.exit(status)
print("pid", os.getpid(), "cwd", os.getcwd(), "var", os.environ.get("PROBE_VAR"), flush=True)
print("to stderr", file=sys.stderr, flush=True)
open(sys.argv[2], "w").write(str(os.getpid()))
if sys.argv[1] == "raise":
    raise RuntimeError("probe failed")
if sys.argv[1] == "sleep":
    time.sleep(60)
sys.exit(int(sys.argv[1]))
"""


def wait_for(predicate, seconds: float = 60.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purposes; so is a process reaped between the two looks (its
    # /proc entry then vanishes while being read: ProcessLookupError, or FileNotFoundError)
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (ProcessLookupError, FileNotFoundError):
        return False
    return state != "Z"


@pytest.fixture
def worker(tmp_path):
    """A worker for the scripts of ``tmp_path/scripts`` watching this test process."""
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "probe.py").write_text(PROBE.format(scripts=str(SCRIPTS)))
    sock = tmp_path / "w.sock"
    cmd = [sys.executable, str(SCRIPTS / "warm_worker.py"), "--socket", str(sock)]
    cmd += ["--watch-pid", str(os.getpid()), "--scripts", str(scripts)]
    proc = subprocess.Popen(cmd)
    assert wait_for(sock.exists), "the worker did not come up"
    yield scripts, sock, proc
    proc.kill()
    proc.wait()


def run_probe(script: Path, sock: Path | None, *args: str, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PROBE_VAR": "from the job"}
    env.pop(SOCKET_ENV, None)
    if sock is not None:
        env[SOCKET_ENV] = str(sock)
    return subprocess.Popen(
        [sys.executable, str(script), *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_status_streams_directory_and_environment_are_the_jobs(worker, tmp_path):
    scripts, sock, _ = worker
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    proc = run_probe(scripts / "probe.py", sock, "3", str(tmp_path / "pid"), cwd=job_dir)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3
    child = int((tmp_path / "pid").read_text())
    assert child != proc.pid  # ran in the worker's child, not in the job's process
    assert out == f"pid {child} cwd {job_dir} var from the job\n"
    assert err == "to stderr\n"


def test_jobs_reuse_an_executor_each_with_its_own_directory_streams_and_warnings(worker, tmp_path):
    """An executor runs one job after another in one process (no page faults to pay again),
    and each job sees what a fresh process would: its directory, environment and streams, and
    a warning shown even if the job before it showed it."""
    scripts, sock, _ = worker
    probe = scripts / "warns.py"
    probe.write_text(
        PROBE.format(scripts=str(SCRIPTS)).split("print(")[0]
        + "import warnings\n"
        + "print(os.getpid(), os.getcwd(), os.environ.get('PROBE_VAR'), sep='|', flush=True)\n"
        + "warnings.warn('once per place')\n"
    )
    seen = []
    for i in range(3):
        job_dir = tmp_path / f"job{i}"
        job_dir.mkdir()
        proc = run_probe(probe, sock, cwd=job_dir)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        pid, cwd, var = out.strip().split("|")
        assert (cwd, var) == (str(job_dir), "from the job")
        assert "once per place" in err
        seen.append(int(pid))
    assert len(set(seen)) == 1 and seen[0] != os.getpid()


def test_a_failed_job_takes_its_executor_with_it(worker, tmp_path):
    scripts, sock, _ = worker
    first = run_probe(scripts / "probe.py", sock, "raise", str(tmp_path / "a"), cwd=tmp_path)
    first.communicate(timeout=60)
    failed = int((tmp_path / "a").read_text())
    assert first.returncode == 1 and wait_for(lambda: not alive(failed), 10)
    second = run_probe(scripts / "probe.py", sock, "0", str(tmp_path / "b"), cwd=tmp_path)
    second.communicate(timeout=60)
    assert second.returncode == 0
    assert int((tmp_path / "b").read_text()) not in (failed, second.pid)


def test_a_failure_is_the_jobs_failure(worker, tmp_path):
    scripts, sock, _ = worker
    proc = run_probe(scripts / "probe.py", sock, "raise", str(tmp_path / "pid"), cwd=tmp_path)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert int((tmp_path / "pid").read_text()) != proc.pid
    assert "RuntimeError: probe failed" in err


def test_a_script_of_another_checkout_runs_itself(worker, tmp_path):
    _, sock, _ = worker
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "probe.py").write_text(PROBE.format(scripts=str(SCRIPTS)))
    proc = run_probe(elsewhere / "probe.py", sock, "0", str(tmp_path / "pid"), cwd=tmp_path)
    proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert int((tmp_path / "pid").read_text()) == proc.pid  # refused: ran in its own process


def test_without_a_worker_or_switched_off_the_job_runs_itself(worker, tmp_path, monkeypatch):
    scripts, sock, _ = worker
    proc = run_probe(scripts / "probe.py", tmp_path / "none.sock", "0", str(tmp_path / "a"),
                     cwd=tmp_path)  # fmt: skip
    proc.communicate(timeout=60)
    assert int((tmp_path / "a").read_text()) == proc.pid
    monkeypatch.setenv(SWITCH_ENV, "0")
    proc = run_probe(scripts / "probe.py", sock, "0", str(tmp_path / "b"), cwd=tmp_path)
    proc.communicate(timeout=60)
    assert int((tmp_path / "b").read_text()) == proc.pid


def test_a_cancelled_jobs_child_stops(worker, tmp_path):
    scripts, sock, _ = worker
    proc = run_probe(scripts / "probe.py", sock, "sleep", str(tmp_path / "pid"), cwd=tmp_path)
    assert wait_for(lambda: (tmp_path / "pid").exists() and (tmp_path / "pid").read_text())
    child = int((tmp_path / "pid").read_text())
    assert child != proc.pid and alive(child)
    proc.send_signal(signal.SIGTERM)  # as Snakemake cancels a job
    proc.communicate(timeout=60)
    assert wait_for(lambda: not alive(child), 10), "the child outlived its job"


def test_the_worker_stops_with_the_run_that_started_it(tmp_path):
    run = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    sock = tmp_path / "w.sock"
    cmd = [sys.executable, str(SCRIPTS / "warm_worker.py"), "--socket", str(sock)]
    proc = subprocess.Popen([*cmd, "--watch-pid", str(run.pid)])
    assert wait_for(sock.exists)
    run.kill()
    run.wait()
    assert proc.wait(timeout=20) == 0
    assert not sock.exists()


def test_a_cell_job_in_the_worker_writes_a_fresh_processes_bytes(tmp_path):
    """The study's own cell script, run as the rule runs it, once in its own process and once
    forked from a worker started as the workflow starts it."""
    from lossstudy import methods
    from lossstudy.config import BUILTIN_DEFAULTS
    from lossstudy.prediction import test_rows
    from lossstudy.quantiles import job_quantiles
    from lossstudy.warm import start

    knobs = {**BUILTIN_DEFAULTS, "errors": {"distribution": "t", "df": 3, "scale": 1.0}}
    specs = {
        "ols": {"method": "ols"},
        "lad": {"method": "lad"},
        "huber": {"method": "huber", "k": 1.345},
        "ridge": {"method": "ridge", "penalty": 1.0},
        # trained by the JAX engine, which the worker has imported and the child runs
        "gd": methods.canonical(
            {"loss": "huber", "delta": 1.345, "solver": "gd", "lr_relative": 0.5, "steps": 50}
        ),
    }
    n, p = knobs["n"], len(knobs["coefficients"])

    def argv(out: Path) -> list[str]:
        out.mkdir()
        a = ["--scenario", "s", "--knobs", json.dumps(knobs), "--seed", "1", "--replicates"]
        a += ["50", "--estimators", json.dumps(specs), "--reference", "ols", "--level", "0.9"]
        a += ["--engine", "vectorized", "--test-rows", str(test_rows(50)), "--quantiles"]
        a += [json.dumps(job_quantiles(n, p, 0.9)), "--log", str(out / "cell.log")]
        for option, name in [("dataset", "d.npz"), ("estimates", "e.parquet")]:
            a += [f"--{option}", str(out / name)]
        for option, name in [("performance", "p.csv"), ("table-csv", "t.csv")]:
            a += [f"--{option}", str(out / name)]
        return [*a, "--table-tex", str(out / "t.tex")]

    env = {k: v for k, v in os.environ.items() if k != SOCKET_ENV}
    cell = [sys.executable, str(SCRIPTS / "cell.py")]
    fresh = subprocess.run([*cell, *argv(tmp_path / "fresh")], env=env, capture_output=True)
    assert fresh.returncode == 0, fresh.stderr[-2000:]

    sock = start(sys.executable, SCRIPTS.parent, os.getpid())
    assert sock is not None and wait_for(Path(sock).exists)
    # twice: the second job runs in the executor the first one left behind
    for out in ("warm", "again"):
        warm = subprocess.run(
            [*cell, *argv(tmp_path / out)], env={**env, SOCKET_ENV: sock}, capture_output=True
        )
        assert warm.returncode == 0, warm.stderr[-2000:]
    subprocess.run(["pkill", "-f", sock], check=False)  # else it idles until this run ends
    assert "warm worker" not in (tmp_path / "fresh" / "cell.log").read_text()
    for out in ("warm", "again"):
        log = (tmp_path / out / "cell.log").read_text()
        assert log.count("warm worker's child") == 1  # its own log, not the other job's
        for name in ["d.npz", "e.parquet", "p.csv", "t.csv", "t.tex"]:
            assert (tmp_path / out / name).read_bytes() == (
                tmp_path / "fresh" / name
            ).read_bytes(), (out, name)


def test_a_forked_jobs_cpu_time_comes_from_its_log(tmp_path):
    """The benchmark of a forked job sees only the thin process that asked the worker; the
    per-rule CPU time adds what the child's log line says."""
    from lossstudy.runtimes import rule_wall_times
    from lossstudy.warm import CHILD_LINE

    bench, logs = tmp_path / "benchmarks" / "cell", tmp_path / "logs" / "cell"
    bench.mkdir(parents=True)
    logs.mkdir(parents=True)
    header = "s\th:m:s\tmax_rss\tcpu_time\n"
    (bench / "a.tsv").write_text(header + "2.00\t0:00:02\t12\t0.05\n")
    (bench / "b.tsv").write_text(header + "3.00\t0:00:03\t300\t2.50\n")
    (logs / "a.log").write_text("INFO fitted\nINFO " + CHILD_LINE % (1.9, 1.75, 250) + "\n")
    (logs / "b.log").write_text("INFO fitted in its own process\n")
    [row] = rule_wall_times(tmp_path / "benchmarks")
    assert row["jobs"] == 2 and row["total"] == pytest.approx(5.0)
    assert row["cpu"] == pytest.approx(0.05 + 1.75 + 2.50)


def test_a_forked_job_gets_xlas_one_thread_from_its_own_environment(worker, tmp_path):
    """The worker imported the training engine under its own environment; a job whose
    environment has no XLA_FLAGS still gets the engine's one-thread flags before XLA starts."""
    scripts, sock, _ = worker
    probe = scripts / "xla.py"
    probe.write_text(
        PROBE.format(scripts=str(SCRIPTS)).split("print(")[0] + "import lossstudy.training.engine\n"
        "print(os.environ.get('XLA_FLAGS'))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    run = subprocess.run(
        [sys.executable, str(probe)],
        env={**env, SOCKET_ENV: str(sock)},
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "intra_op_parallelism_threads=1" in run.stdout


def test_the_worker_starts_no_thread_beyond_a_plain_jobs_imports(worker):
    """Forking is safe only from a process without threads of its own making: importing JAX
    (and the rest of the preload) may not start any (its backend does, in the job)."""
    from lossstudy.warm import PRELOAD

    _, _, proc = worker
    plain = [m for m in PRELOAD if not m.startswith(("scipy", "lossstudy.training"))]
    plain = [m for m in plain if m != "lossstudy.classification"]
    code = "import os, importlib\n"
    code += f"for m in {plain!r}: importlib.import_module(m)\n"
    code += "print(len(os.listdir('/proc/self/task')))"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    baseline = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert len(os.listdir(f"/proc/{proc.pid}/task")) == int(baseline.stdout)


def test_a_jobs_own_cpu_line_replaces_its_benchmarks_undercount(tmp_path):
    """Snakemake samples a job's CPU every 0.5 s for 15 s, then every 30 s: a 40-s job's
    benchmark says ≈ 15 s. A job's process logs its own CPU time as it exits, and the per-rule
    CPU takes that instead (the benchmark's is not added to it)."""
    from lossstudy.runtimes import OWN_LINE, rule_wall_times

    bench, logs = tmp_path / "benchmarks", tmp_path / "logs"
    bench.mkdir()
    logs.mkdir()
    header = "s\th:m:s\tmax_rss\tcpu_time\n"
    (bench / "theory.tsv").write_text(header + "41.00\t0:00:41\t300\t15.20\n")
    (logs / "theory.log").write_text("INFO theory: 10 rows\nINFO " + OWN_LINE % (39.5, 310) + "\n")
    [row] = rule_wall_times(bench)
    assert row["cpu"] == pytest.approx(39.5)


def test_a_job_process_logs_its_own_cpu_time_as_it_exits(tmp_path):
    log = tmp_path / "job.log"
    code = (
        "import time\n"
        "from lossstudy.pipeline import setup_logging\n"
        f"setup_logging({str(log)!r})\n"
        "end = time.process_time() + 0.4\n"
        "while time.process_time() < end:\n"
        "    pass\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    from lossstudy.runtimes import own_cpu

    cpu = own_cpu(log)
    assert cpu is not None and 0.4 <= cpu < 30
