"""File-level steps of the workflow; each Snakemake rule calls exactly one of these.

config → ``scenarios.csv`` → datasets (``.npz`` per scenario and job) → estimates (Parquet per
scenario and job, every estimator; merged per scenario) → performance (CSV per scenario; merged) →
human-readable tables. Every writer is atomic (see ``lossstudy.io``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lossstudy import methods, response
from lossstudy.blas import single_thread_blas
from lossstudy.config import Study, flatten, term_names
from lossstudy.dgp import Dataset, simulate
from lossstudy.io import atomic_path, write_parquet

log = logging.getLogger("lossstudy")

#: numeric estimate columns with few distinct values, stored as dictionary codes (the text
#: columns always are: lossstudy.io.write_parquet)
FEW_VALUES = ("replicate", "true_value")

ESTIMATE_COLUMNS = (
    "scenario",
    "replicate",
    "estimator",
    "method",
    "term",
    "true_value",
    "estimate",
    "std_error",
    "ci_low",
    "ci_high",
    "status",
    "message",
    "test_mse",
    "test_mae",
)
#: Columns a chunk with trained members adds (NaN for its exact fits): β_K − β̂ per term and
#: f(β_K) − f(β̂) per replicate, against the exact minimiser of the same objective
#: (lossstudy.training.fit). A chunk of exact fits only writes ESTIMATE_COLUMNS, as before.
TRAINED_COLUMNS = ("opt_diff", "objective_gap")
#: written only where a member tunes its penalty (``solver: gcv | cv``): the strength it chose
TUNED_COLUMNS = ("chosen_strength",)
#: The column a chunk adds where a function estimate is judged (a network member, or a mean
#: that is not x'β): ``ise`` = ∫(f̂ − f)² per replicate (lossstudy.training.functions). A
#: network's rows carry it on the term ``model`` (one row per replicate, no coefficients).
FUNCTION_COLUMNS = ("ise",)
#: A network's fitted curve f̂ on the points of ``training.functions.curve_grid`` (one input
#: only), a list per row: what the fitted-curves figure draws. Empty on every other row.
CURVE_COLUMNS = ("curve",)
#: A network's sharpness per replicate (full-batch GD on the squared loss:
#: ``losses.network.tracks_sharpness``); NaN on every other row of such a job.
SHARPNESS_COLUMNS = ("sharpness",)
#: The term of a network's rows (it has no coefficients): the per-estimator term of
#: performance.csv.
NETWORK_TERM = "model"


def setup_logging(path: str | Path | None) -> None:
    """Send the package's progress messages to a rule's log file, and end it with the job's own
    CPU time when the process exits (``runtimes.OWN_LINE``: Snakemake's benchmark undercounts
    jobs longer than 15 s). A job forked from the warm worker leaves by ``os._exit`` and logs
    its child's line instead (``lossstudy.warm``)."""
    import atexit

    global _own_cpu_logged
    handler: logging.Handler = (
        logging.FileHandler(path, mode="w") if path else logging.StreamHandler()
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger("lossstudy")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    if not _own_cpu_logged:
        atexit.register(_log_own_cpu)
        _own_cpu_logged = True


_own_cpu_logged = False


def _log_own_cpu() -> None:
    try:
        import resource
    except ImportError:  # not on this system: the benchmark's CPU time stands
        return
    from lossstudy.runtimes import OWN_LINE

    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
    log.info(OWN_LINE, cpu, own.ru_maxrss / 1024)


class Progress:
    """``progress(done, total)`` callback that logs ``what: done/total replicates`` to the rule's
    log each time another tenth of the replicates is done (and at the end), however often it is
    called: the engines call it per replicate or per internal chunk, this decides what to log."""

    def __init__(self, what: str, total: int, parts: int = 10) -> None:
        self.what = what
        self.step = max(1, -(-total // parts))
        self.next = self.step
        self.t0 = time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        if done < self.next and done < total:
            return
        log.info(
            "%s: %d/%d replicates done (%.0f%%, %.2fs)",
            self.what,
            done,
            total,
            100.0 * done / total if total else 100.0,
            time.perf_counter() - self.t0,
        )
        self.next = (done // self.step + 1) * self.step


# --------------------------------------------------------------------------- scenarios


def write_scenarios(study: Study, path: str | Path) -> None:
    """One row per expanded scenario: its knobs (flattened) and the assumptions it meets."""
    import pandas as pd

    from lossstudy.assumptions import GAUSS_MARKOV, assumptions

    rows = []
    for sc in study.scenarios.values():
        row: dict[str, Any] = {
            "scenario": sc.id,
            "base": sc.base,
            "replicates": sc.replicates,
            # the knob(s) this scenario's family is swept along, and whether it stands for it
            "sweep": ",".join(sc.sweep_values),
            "anchor": sc.anchor,
        }
        # lists (coefficients) as JSON, one CSV cell each
        row.update(
            {k: json.dumps(v) if isinstance(v, list) else v for k, v in flatten(sc.knobs).items()}
        )
        flags = assumptions(sc.knobs)
        for name, (holds, why) in flags.items():
            row[name] = "holds" if holds else "breaks"
            row[f"{name}_why"] = why
        row["gauss_markov"] = "holds" if all(flags[a][0] for a in GAUSS_MARKOV) else "breaks"
        rows.append(row)
    with atomic_path(path) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)


# --------------------------------------------------------------------------- simulate


def simulate_chunk(
    knobs: Mapping[str, Any],
    seed: int,
    scenario_id: str,
    start: int,
    stop: int,
    out: str | Path,
) -> None:
    """Generate replicates [start, stop) of one scenario and save them."""
    t0 = time.perf_counter()
    log.info("simulating %s replicates %d..%d", scenario_id, start, stop - 1)
    progress = Progress(f"simulate {scenario_id}", stop - start)
    with single_thread_blas():
        data = simulate(dict(knobs), seed, scenario_id, start, stop, progress=progress)
    data.save(out)
    log.info(
        "simulated %s replicates %d..%d (n=%d) in %.2fs",
        scenario_id,
        start,
        stop - 1,
        data.y.shape[1],
        time.perf_counter() - t0,
    )


def simulate_and_fit_chunk(
    knobs: Mapping[str, Any],
    seed: int,
    scenario_id: str,
    start: int,
    stop: int,
    estimators: Mapping[str, Mapping[str, Any]],
    level: float,
    engine: str,
    out_dataset: str | Path,
    out_fits: str | Path | None,
    *,
    test_rows: int | None = None,
) -> Any:
    """One job's replicates: draw and save them, then fit every estimator to them and score
    every fit on each replicate's fresh test sample of ``test_rows`` rows
    (:mod:`lossstudy.prediction`; default ⌈10⁵ / replicates of this job⌉: the workflow passes
    the scenario's, so that the test sample of a replicate does not depend on the job split).

    One process for both steps because a separate simulation job's start-up (interpreter,
    Snakemake's preamble, numpy, the package) cost as much as its draws
    (docs/job-granularity.md). The fits read the saved file back (from the page cache,
    milliseconds), so they are the fits of the very file a user opens, exactly as when two jobs
    did this. Returns the fits' Arrow table (``fit_chunk``).
    """
    from lossstudy.prediction import test_rows as default_rows

    simulate_chunk(knobs, seed, scenario_id, start, stop, out_dataset)
    rows = default_rows(stop - start) if test_rows is None else int(test_rows)
    return fit_chunk(
        out_dataset,
        scenario_id,
        estimators,
        level,
        engine,
        out_fits,
        seed=seed,
        test=TestSpec(knobs, seed, rows),
    )


# --------------------------------------------------------------------------- fit


def fit_with(
    engine: str,
    data: Dataset,
    spec: Mapping[str, Any],
    level: float,
    progress: Any = None,
    *,
    seed: int | None = None,
    scenario_id: str | None = None,
    test: TestSpec | None = None,
) -> Any:
    """Fit a chunk with the named engine (``vectorized`` or ``reference``), BLAS on one thread
    (``lossstudy.blas``): the stored bits, whatever thread count the caller's environment sets.
    A trained spec is trained alone (``lossstudy.training.fit``; its minibatches need the
    study's ``seed`` and the ``scenario_id``): the bits a fit job stores for it. A network
    also needs ``test``, the scenario's knobs (its true mean) and test rows, as a job has."""
    if methods.fit_for(spec).trained:
        from lossstudy.training.fit import fit_trained

        if seed is None or scenario_id is None:
            raise ValueError("fit_with: a trained fit needs the seed and the scenario id")
        scored = None if test is None else (test.knobs, test.rows)
        fits = fit_trained(data, {"fit": spec}, seed, scenario_id, test=scored)
        return _trained_result(fits["fit"])
    if engine == "reference":
        from lossstudy.estimators import fit_dataset as fit
    else:
        from lossstudy.vectorized import fit_dataset_vectorized as fit
    with single_thread_blas():
        return fit(data, dict(spec), level, progress=progress)


@dataclass(frozen=True)
class TestSpec:
    """What a fit job needs to draw its replicates' test samples (:mod:`lossstudy.prediction`):
    the scenario's knobs, the study seed and the rows per replicate."""

    __test__ = False  # not a pytest test class

    knobs: Mapping[str, Any]
    seed: int
    rows: int


def fit_chunk(
    dataset: str | Path,
    scenario_id: str,
    estimators: Mapping[str, Mapping[str, Any]],
    level: float,
    engine: str,
    out: str | Path | None,
    *,
    seed: int | None = None,
    test: TestSpec | None = None,
) -> Any:
    """Fit every estimator to every replicate of a dataset file; write one tidy Parquet file.

    One job fits all estimators because a Python process costs more to start (≈ 0.4 s of
    imports) than the vectorised fits of one estimator on 2000 replicates (≈ 0.07 s on
    average); docs/job-granularity.md. Rows are in the order of ``estimators``, then
    replicate, then term.

    ``engine`` is ``vectorized`` (all replicates at once; equal to the reference within 1e-8,
    see tests/test_vectorized.py) or ``reference`` (statsmodels/HiGHS one fit at a time).
    Trained members (gradient solvers) are fitted by ``lossstudy.training.fit`` whatever the
    engine, one trajectory per group, their minibatches from ``seed``; only then is JAX
    imported, so a job of exact fits starts as fast as before.

    ``test``: draw each replicate's fresh test sample once (shared by all estimators) and write
    every fit's ``test_mse``/``test_mae`` (:mod:`lossstudy.prediction`); without it both are NaN.

    Returns the table; ``out`` None writes no file (``fit_and_summarise`` keeps it in memory).
    """

    t0 = time.perf_counter()
    data = Dataset.load(dataset)
    R, p = data.beta.shape
    terms = term_names(p)
    log.info(
        "fitting %s with %d estimators (%s engine): %d replicates, n = %d",
        scenario_id,
        len(estimators),
        engine,
        R,
        data.y.shape[1],
    )
    trained = {e: s for e, s in estimators.items() if methods.fit_for(s).trained}
    tuned = {e for e, s in estimators.items() if methods.fit_for(s).choose is not None}
    networks = {e for e, s in trained.items() if methods.fit_for(s).model != "linear"}
    functions = bool(networks) or (test is not None and not _linear_mean(test.knobs))
    curves = bool(networks) and test is not None and _one_input(test.knobs)
    sharp = bool(networks) and _tracks_sharpness([estimators[e] for e in networks])
    columns_out = (
        ESTIMATE_COLUMNS
        + (TRAINED_COLUMNS if trained else ())
        + (FUNCTION_COLUMNS if functions else ())
        + (TUNED_COLUMNS if tuned else ())
        + (CURVE_COLUMNS if curves else ())
        + (SHARPNESS_COLUMNS if sharp else ())
    )
    parts: dict[str, list[Any]] = {name: [] for name in columns_out}
    fits: dict[str, Any] = {}
    if trained:
        from lossstudy.training.fit import fit_trained

        if seed is None:
            raise ValueError("fit_chunk: trained members need the study's seed (minibatches)")
        knobs = None if test is None else (test.knobs, test.rows)
        fits = fit_trained(data, trained, seed, scenario_id, test=knobs)
    scored: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for estimator, spec in estimators.items():
        if estimator in networks:
            _network_rows(parts, fits[estimator], scenario_id, estimator, spec, data)
            continue
        t1 = time.perf_counter()
        if estimator in fits:
            res = _trained_result(fits[estimator])
        else:
            res = fit_with(engine, data, spec, level, Progress(f"fit {scenario_id} {estimator}", R))
        statuses, counts = np.unique(res.status.astype(str), return_counts=True)
        log.info(
            "fitted %s with %s in %.2fs; statuses: %s",
            scenario_id,
            estimator,
            time.perf_counter() - t1,
            dict(zip(statuses.tolist(), counts.tolist(), strict=True)),
        )
        status = Strings.per_row(res.status, p)
        message = Strings.per_row(res.message, p)
        usable = (np.asarray(res.status).astype(str) == "ok") & np.isfinite(res.estimate).all(
            axis=1
        )
        scored[estimator] = (res.estimate, usable)
        columns = {
            "scenario": Strings.constant(scenario_id, R * p),
            "replicate": np.repeat(data.replicates, p),
            "estimator": Strings.constant(estimator, R * p),
            "method": Strings.constant(spec["method"], R * p),
            "term": Strings(tuple(terms), np.tile(np.arange(p), R)),
            "true_value": data.beta.ravel(),
            "estimate": res.estimate.ravel(),
            "std_error": res.std_error.ravel(),
            "ci_low": res.ci_low.ravel(),
            "ci_high": res.ci_high.ravel(),
            "status": status,
            "message": message,
        }
        if trained:
            mine = fits.get(estimator)
            nan = np.full(R * p, np.nan)
            columns["opt_diff"] = nan if mine is None else mine.opt_diff.ravel()
            columns["objective_gap"] = nan if mine is None else np.repeat(mine.objective_gap, p)
        if tuned:
            columns["chosen_strength"] = np.repeat(_chosen(data, spec, res), p)
        if functions:
            columns["ise"] = np.repeat(_linear_ise(test, res.estimate, usable), p)
        if curves:  # a line's curve is x'β̂: nothing to store
            columns["curve"] = Lists.empty(R * p)
        if sharp:
            columns["sharpness"] = np.full(R * p, np.nan)
        for name, values in columns.items():
            parts[name].append(values)
    classify = test is not None and response.family(test.knobs) == response.BERNOULLI
    scores = _test_errors(data, scenario_id, scored, None if classify else test)
    for name in estimators:  # in row order: a network's test errors are its own
        if name in networks:
            mine = fits[name].scores
            parts["test_mse"].append(mine.test_mse)
            parts["test_mae"].append(mine.test_mae)
            continue
        for col, values in zip(("test_mse", "test_mae"), scores[name], strict=True):
            parts[col].append(np.repeat(values, p))
    if classify:  # a 0/1 response: the classifier's scores (lossstudy.classification)
        from lossstudy.classification import COLUMNS, score_classifiers

        assert test is not None
        with single_thread_blas():
            cls = score_classifiers(
                test.knobs, test.seed, scenario_id, data.replicates, data.beta, test.rows, scored
            )
        for col, i in zip(COLUMNS, range(len(COLUMNS)), strict=True):
            parts[col] = [np.repeat(cls[name][i], p) for name in scored]
    table = arrow_table({name: _concat(values) for name, values in parts.items()})
    if out is not None:
        write_parquet(table, out, FEW_VALUES)
    log.info(
        "fitted %s: %d estimators × %d replicates in %.2fs",
        scenario_id,
        len(estimators),
        R,
        time.perf_counter() - t0,
    )
    return table


def _chosen(data: Dataset, spec: Mapping[str, Any], res: Any) -> np.ndarray:
    """The strength a tuned member chose per replicate (the batched fit's record, else chosen
    again the same way: the reference engine); NaN for every other member."""
    fit = methods.fit_for(spec)
    R = data.beta.shape[0]
    if fit.choose is None:
        return np.full(R, np.nan)
    if getattr(res, "tuned", None) is not None:
        return np.asarray(res.tuned, dtype=float)
    params = methods.resolve(spec).params
    return np.array([fit.choose(data.design(i), data.y[i], params) for i in range(R)])


def _linear_mean(knobs: Mapping[str, Any]) -> bool:
    from lossstudy import responses

    return responses.is_linear(knobs)


def _tracks_sharpness(specs: Sequence[Mapping[str, Any]]) -> bool:
    from lossstudy.losses.network import tracks_sharpness

    return any(tracks_sharpness(spec) for spec in specs)


def _one_input(knobs: Mapping[str, Any]) -> bool:
    from lossstudy import responses

    return responses.inputs(knobs) == 1


def _linear_ise(test: TestSpec | None, estimate: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """A linear fit's ise per replicate (f̂ = x'β̂ on the grid); NaN where it failed."""
    if test is None or estimate.shape[1] == 0:
        return np.full(len(estimate), np.nan)
    from lossstudy.training.functions import score_linear

    ise = score_linear(test.knobs, np.where(usable[:, None], estimate, np.nan)).ise[:, 0]
    return np.where(usable, ise, np.nan)


def _network_rows(
    parts: dict[str, list[Any]],
    fit: Any,
    scenario_id: str,
    estimator: str,
    spec: Mapping[str, Any],
    data: Dataset,
) -> None:
    """A network member's rows: one per replicate on the term ``model``, estimate and true
    value NaN, its ``ise`` (test errors follow in ``fit_chunk``'s row-order loop)."""
    R = len(data.replicates)
    nan = np.full(R, np.nan)
    columns = {
        "scenario": Strings.constant(scenario_id, R),
        "replicate": np.asarray(data.replicates),
        "estimator": Strings.constant(estimator, R),
        "method": Strings.constant(spec["method"], R),
        "term": Strings.constant(NETWORK_TERM, R),
        "true_value": nan,
        "estimate": nan,
        "std_error": nan,
        "ci_low": nan,
        "ci_high": nan,
        "status": Strings.per_row(fit.status, 1),
        "message": Strings.per_row(fit.message, 1),
        "opt_diff": nan,
        "objective_gap": nan,
        "ise": fit.scores.ise,
    }
    if "chosen_strength" in parts:  # a tuned member in the same job: a network tunes nothing
        columns["chosen_strength"] = nan
    if "curve" in parts:
        curve = fit.scores.curve
        columns["curve"] = Lists.empty(R) if curve is None else Lists.of_rows(curve)
    if "sharpness" in parts:
        sharp = fit.scores.sharpness
        columns["sharpness"] = nan if sharp is None else np.asarray(sharp, dtype=float)
    for name, values in columns.items():
        parts[name].append(values)
    statuses, counts = np.unique(fit.status.astype(str), return_counts=True)
    log.info(
        "network %s in %s; statuses: %s",
        estimator,
        scenario_id,
        dict(zip(statuses.tolist(), counts.tolist(), strict=True)),
    )


def _trained_result(fit: Any) -> Any:
    """A trained member's fit as an exact fit's result: no standard errors or intervals."""
    from lossstudy.estimators import FitResult

    nan = np.full_like(fit.estimate, np.nan)
    return FitResult(fit.estimate, nan, nan, nan, fit.status, fit.message)


def _test_errors(
    data: Dataset,
    scenario_id: str,
    fits: Mapping[str, tuple[np.ndarray, np.ndarray]],
    test: TestSpec | None,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every fit's test MSE and MAE per replicate (NaN without ``test``), timed in the log."""
    R = len(data.replicates)
    if test is None:
        return {name: (np.full(R, np.nan), np.full(R, np.nan)) for name in fits}
    from lossstudy.prediction import score_fits

    t0 = time.perf_counter()
    with single_thread_blas():
        out = score_fits(
            test.knobs, test.seed, scenario_id, data.replicates, data.beta, test.rows, fits
        )
    log.info(
        "scored %s on fresh test samples: %d replicates × %d rows, %d fits, in %.2fs",
        scenario_id,
        R,
        test.rows,
        len(fits),
        time.perf_counter() - t0,
    )
    return out


def _concat(parts: list[Any]) -> Any:
    """Join per-estimator column pieces: numpy arrays stay arrays, ``Strings`` stay ``Strings``,
    ``Lists`` stay ``Lists``."""
    if parts and isinstance(parts[0], np.ndarray):
        return np.concatenate(parts)
    if parts and isinstance(parts[0], Lists):
        return Lists.concat(parts)
    return Strings.concat(parts)


@dataclass(frozen=True)
class Lists:
    """A column of float lists (Arrow ``list<double>``): row i holds
    ``values[offsets[i]:offsets[i + 1]]``. Built from buffers like :class:`Strings`."""

    offsets: np.ndarray
    values: np.ndarray

    @classmethod
    def empty(cls, rows: int) -> Lists:
        return cls(np.zeros(rows + 1, dtype=np.int32), np.empty(0))

    @classmethod
    def of_rows(cls, matrix: np.ndarray) -> Lists:
        """One list per row of a 2-D array."""
        rows, width = matrix.shape
        offsets = (np.arange(rows + 1) * width).astype(np.int32)
        return cls(offsets, np.ascontiguousarray(matrix, dtype=float).ravel())

    @staticmethod
    def concat(parts: Sequence[Lists]) -> Lists:
        offsets, values, start = [np.zeros(1, dtype=np.int32)], [], 0
        for part in parts:
            offsets.append((part.offsets[1:] + start).astype(np.int32))
            values.append(part.values)
            start += len(part.values)
        return Lists(np.concatenate(offsets), np.concatenate(values))


@dataclass(frozen=True)
class Strings:
    """A string column as its distinct values and one index per row.

    Why: a fit job writes ~10^5 rows of a handful of distinct strings (scenario, estimator,
    term, status, message); one Python ``str`` per row cost ≈ 0.15 s per job, the indices cost
    nothing, and ``arrow_table`` turns them into the same Arrow string array.
    """

    values: tuple[str, ...]
    codes: np.ndarray

    @classmethod
    def constant(cls, value: str, size: int) -> Strings:
        return cls((value,), np.zeros(size, dtype=np.intp))

    @classmethod
    def per_row(cls, items: np.ndarray, repeat: int) -> Strings:
        """One string per item of ``items``, each repeated ``repeat`` times in a row."""
        values, codes = np.unique(np.asarray(items, dtype=str), return_inverse=True)
        return cls(tuple(values.tolist()), np.repeat(codes.ravel(), repeat))

    @classmethod
    def concat(cls, parts: Sequence[Strings]) -> Strings:
        values: list[str] = []
        codes = []
        for part in parts:
            codes.append(part.codes + len(values))
            values.extend(part.values)
        return cls(tuple(values), np.concatenate(codes) if codes else np.zeros(0, np.intp))

    def __len__(self) -> int:
        return len(self.codes)

    def tolist(self) -> list[str]:
        return [self.values[i] for i in self.codes.tolist()]


def arrow_table(columns: Mapping[str, np.ndarray | Strings | Sequence[str]]) -> Any:
    """A pyarrow Table of numeric numpy arrays and string columns, built from raw buffers.

    Equal to ``pa.table(columns)`` (same schema and values: float64/int64, NaN kept as a value,
    strings as ``string``), but ``pa.table``/``pa.array`` import pandas (≈ 0.2 s in every fit
    job) only to check whether a column is a pandas object.
    """
    import pyarrow as pa

    arrays = []
    for values in columns.values():
        if isinstance(values, Lists):
            offsets = pa.Array.from_buffers(
                pa.int32(), len(values.offsets), [None, pa.py_buffer(values.offsets)]
            )
            flat = pa.Array.from_buffers(
                pa.float64(), len(values.values), [None, pa.py_buffer(values.values)]
            )
            arrays.append(pa.ListArray.from_arrays(offsets, flat))
            continue
        if isinstance(values, np.ndarray) and values.dtype.kind in "fiu":
            arr = np.ascontiguousarray(values)
            typ = pa.from_numpy_dtype(arr.dtype)
            arrays.append(pa.Array.from_buffers(typ, len(arr), [None, pa.py_buffer(arr)]))
            continue
        if not isinstance(values, Strings):
            values = Strings(tuple(values), np.arange(len(values)))
        encoded = [v.encode("utf-8") for v in values.values]
        sizes = np.array([len(e) for e in encoded], dtype=np.int64)[values.codes]
        offsets = np.zeros(len(values) + 1, dtype=np.int32)
        np.cumsum(sizes, out=offsets[1:])
        data = b"".join(np.array(encoded, dtype=object)[values.codes].tolist())
        buffers = [None, pa.py_buffer(offsets), pa.py_buffer(data)]
        arrays.append(pa.Array.from_buffers(pa.string(), len(values), buffers))
    return pa.Table.from_arrays(arrays, names=list(columns))


# --------------------------------------------------------------------------- summarise


def estimator_notes(
    knobs: Mapping[str, Any],
    estimators: Mapping[str, Mapping[str, Any]],
    reference: str | None = None,
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Per estimator: which measures exist / have valid MCSEs (``moment_rules``), intercept caveats.

    The first mapping is ``{estimator: {measure: MeasureRule}}`` for
    :func:`lossstudy.performance.performance_table`: under t errors with 1 < df <= 2 the OLS
    bias exists (its MCSE is unreliable) while its EmpSE/MSE do not; see :mod:`lossstudy.moments`.
    """
    from lossstudy.errorlaws import error_moments
    from lossstudy.moments import moment_rules

    errors = dict(knobs["errors"])
    mom = error_moments(errors)
    ref_spec = estimators.get(reference) if reference is not None else None
    rules: dict[str, dict[str, Any]] = {}
    intercept: dict[str, str] = {}
    for name, spec in estimators.items():
        rules[name] = dict(moment_rules(errors, spec, ref_spec))
        if not mom.symmetric and methods.fit_for(spec).robust:
            intercept[name] = (
                f"skewed errors: the {spec['method']} intercept estimates a location of y other "
                "than its mean, so its bias is by design (for LAD the target is intercept + "
                f"median(e), i.e. {mom.median:+.4f} off)"
            )
    return rules, intercept


def summarise_scenario(
    estimate_files: Sequence[str | Path],
    knobs: Mapping[str, Any],
    estimators: Mapping[str, Mapping[str, Any]],
    reference: str | None,
    level: float,
    out_estimates: str | Path,
    out_performance: str | Path,
) -> None:
    """Merge a scenario's estimates into one Parquet file and compute its performance table."""
    import pandas as pd

    est = pd.concat([pd.read_parquet(f) for f in estimate_files], ignore_index=True)
    summarise_estimates(est, knobs, estimators, reference, level, out_estimates, out_performance)


def summarise_estimates(
    est: Any,
    knobs: Mapping[str, Any],
    estimators: Mapping[str, Mapping[str, Any]],
    reference: str | None,
    level: float,
    out_estimates: str | Path,
    out_performance: str | Path,
) -> None:
    """``summarise_scenario`` on estimate rows already in memory (a DataFrame of every job's
    rows, in job order): sorted into the config's order of estimators, written, measured."""
    import pandas as pd

    from lossstudy.performance import Codes, performance_table

    est = _in_config_order(est, estimators)
    codes = Codes.of(est)  # the table and the failure rates group by the same codes
    rules, intercept = estimator_notes(knobs, estimators, reference)
    selecting = [name for name, spec in estimators.items() if methods.fit_for(spec).selects]
    perf = performance_table(est, reference, level, rules=rules, selecting=selecting, codes=codes)
    for name, note in intercept.items():
        rows = (perf["estimator"] == name) & (perf["term"] == "intercept")
        perf.loc[rows, "note"] = _join_notes(perf.loc[rows, "note"], note)
    perf = pd.concat([perf, failure_rows(est, codes)], ignore_index=True)
    perf = _sorted(perf, list(estimators), [*est["term"].unique().tolist(), "model"])
    write_parquet(est, out_estimates, FEW_VALUES)
    with atomic_path(out_performance) as tmp:
        perf.to_csv(tmp, index=False)
    log.info("summarised %d estimate rows into %d performance rows", len(est), len(perf))


def fit_and_summarise(
    knobs: Mapping[str, Any],
    seed: int,
    scenario_id: str,
    replicates: int,
    estimators: Mapping[str, Mapping[str, Any]],
    level: float,
    engine: str,
    reference: str | None,
    out_dataset: str | Path,
    out_estimates: str | Path,
    out_performance: str | Path,
    *,
    test_rows: int | None = None,
) -> None:
    """A scenario whose replicates are one job, end to end in one process: draw, save and fit
    them (``simulate_and_fit_chunk``, no fit chunk written), then summarise the fits' table
    from memory (``summarise_estimates``), as ``summarise_scenario`` would from the chunk.

    Why: a fit job and a summary job per scenario each spent most of their ≈ 1 s starting
    Python and its libraries and re-reading files (docs/job-granularity.md). The outputs are
    byte for byte those of the two jobs (the table converts to the frame that reading its
    Parquet file gives). pandas is imported only after the fits, so the draws and fits run
    with a fit job's imports and memory (``lossstudy.memory``).
    """
    table = simulate_and_fit_chunk(
        knobs,
        seed,
        scenario_id,
        0,
        replicates,
        estimators,
        level,
        engine,
        out_dataset,
        None,
        test_rows=test_rows,
    )
    est = table.to_pandas()
    del table  # pandas holds its own copy (the memory model: lossstudy.memory, "cell")
    summarise_estimates(est, knobs, estimators, reference, level, out_estimates, out_performance)


def failure_rows(est: Any, codes: Any = None) -> Any:
    """``failure_rate`` per estimator × term: share of replicates not used (status != ok).

    Its note gives the counts by status and the most common message, so a reader sees how
    failures were handled (excluded from every measure of that estimator only). Groups come in
    order of first appearance; the counting is one pass over codes (a pandas group-by per
    estimator × term cost a summary job ≈ 0.07 s), and only groups with failures are read
    row by row for their note. ``codes``: the rows' ``performance.Codes``, when already made.
    """
    import pandas as pd

    from lossstudy.performance import Codes

    c = codes if codes is not None else Codes.of(est)
    key = c.estimator.astype(np.int64) * len(c.terms) + c.term
    keys, first, totals = np.unique(key, return_index=True, return_counts=True)
    bad_counts = np.bincount(
        np.searchsorted(keys, key),
        weights=(est["status"] != "ok").to_numpy(dtype=float, na_value=1.0),
        minlength=len(keys),
    )
    by_key = np.argsort(key, kind="stable")  # each group's rows together, in their order
    ends = np.cumsum(totals)
    status_message = est[["status", "message"]]
    groups = np.argsort(first, kind="stable")
    # each group's first row, read once (a row at a time cost 0.3 ms a group)
    heads = est[["scenario", "estimator", "term"]].iloc[first[groups]].to_dict("records")
    rows = []
    for g, head in zip(groups.tolist(), heads, strict=True):
        total, n_bad = int(totals[g]), int(bad_counts[g])
        rate = n_bad / total
        note = ""
        if n_bad:
            grp = status_message.iloc[by_key[ends[g] - totals[g] : ends[g]]]
            bad = grp[grp["status"] != "ok"]
            counts = bad["status"].value_counts()
            top = bad["message"].value_counts().index[0]
            note = (
                ", ".join(f"{c} {s}" for s, c in counts.items())
                + f" of {total}; excluded from this estimator's measures; most common: {top}"
            )
        rows.append(
            {
                "scenario": head["scenario"],
                "estimator": head["estimator"],
                "term": head["term"],
                "measure": "failure_rate",
                "value": rate,
                "mcse": float(np.sqrt(rate * (1 - rate) / total)),
                "n_used": total,
                "defined": True,
                "note": note,
                "mcse_valid": True,
            }
        )
    return pd.DataFrame(rows)


def _in_config_order(est: Any, estimators: Mapping[str, Any]) -> Any:
    """Rows by the config's order of estimators, then replicate, stably (a term's rows keep
    their order). Mapping 150,000 estimator names one by one cost a cell job 0.1 s; their
    codes are mapped once per distinct name, and rows already in order (a cell job's fits
    are) are not copied."""
    import pandas as pd

    order = {name: i for i, name in enumerate(estimators)}
    codes, names = pd.factorize(est["estimator"], sort=False)
    rank = np.array([order.get(str(n), len(order)) for n in names] + [len(order)])[codes]
    perm = np.lexsort((est["replicate"].to_numpy(), rank))
    if np.array_equal(perm, np.arange(len(perm))):
        return est.reset_index(drop=True)
    return est.take(perm).reset_index(drop=True)


def _sorted(perf: Any, estimators: list[str], terms: list[str]) -> Any:
    from lossstudy.measures import names

    keys = {"estimator": estimators, "term": terms, "measure": list(names())}
    return perf.sort_values(
        list(keys), key=lambda col: col.map({v: i for i, v in enumerate(keys[col.name])})
    ).reset_index(drop=True)


def _join_notes(existing: Any, note: str) -> Any:
    return existing.map(lambda s: f"{s}; {note}" if s else note)


def aggregate_performance(files: Sequence[str | Path], out: str | Path) -> None:
    """Concatenate per-scenario performance tables into the study's tidy table."""
    import pandas as pd

    perf = pd.concat([pd.read_csv(f, keep_default_na=False, na_values=[""]) for f in files])
    perf["note"] = perf["note"].fillna("")
    with atomic_path(out) as tmp:
        perf.to_csv(tmp, index=False)
