"""Peak memory of a job, predicted from its shape; the rules' ``mem_mb`` and the ``auto`` split.

Why a model: a job's peak is its libraries plus arrays whose sizes follow from the replicates
in the job (R), the observations (n), the coefficients (p), the design (a fixed design is one
n×p matrix, a random one R×n×p) and the estimators (E). Predicting it lets every job ask a
scheduler for what it needs (``resources: mem_mb``), small jobs for little, and lets
``replicates_per_job: auto`` pick the largest jobs that fit a memory budget, before any job
runs. Above the libraries a job imports (``base``), the terms are, in bytes (8 per float64):

- ``simulate``: the design(s) drawn (a random design keeps the observed and the clean one,
  2·R·n·p), the errors and the response (R×n each), and the temporaries each departure from
  Gauss–Markov adds (heteroskedasticity, autocorrelation, endogeneity, misspecification).
- ``fit``: the dataset (R·n, plus n·p or R·n·p); per estimator a stacked copy of a fixed
  design (LAD, Huber and badly conditioned designs fit per replicate, R·n·p) and a whitened
  copy for WLS (R·n·p); the engine's working arrays of one internal chunk
  (``vectorized._chunk_size`` replicates, each ``8·n·(24 + 2·(p + p(p+1)/2))`` bytes: at most
  ≈ 64 MB unless one replicate alone is larger); and the output table, R·p·E rows built as
  numpy columns, joined, turned into Arrow and written to Parquet.
- ``summarise``: the scenario's R·p·E estimate rows in pandas (read, joined, sorted, spread
  into per-estimator cubes) and the MAD's bootstrap over the scenario's replicates.
- ``theory`` (one job for the study; its request is the largest over the scenarios, as it
  holds one scenario at a time): that scenario's R·p·E estimate rows, its design's n×p
  matrices (the design, the estimators' linear maps, their AR(1)-filtered copies; an n×n
  matrix only up to ``theory.exact.DENSE_UP_TO``, a few MB) and the whole study's
  performance table (``study_terms`` = Σ p·E, its rows per measure).

Each term of the per-scenario rules has a coefficient calibrated by measurement
(``python -m lossstudy.speed.membench``, docs/memory.md): the smallest upper envelope of 31
measured jobs per rule (a linear programme, each coefficient at least its physical floor),
rounded up, so that the prediction is at least the measured peak of every calibration job
(tests/data/memory_measurements.json);
tests/test_memory.py also checks it on real jobs of other shapes. ``theory``'s coefficients
bound the peaks (VmHWM) of theory jobs of six shapes up to n = 20 000 and p = 100 (listed in
tests/test_memory.py), and the default study's 308 MB.
``request_mb`` adds ``MARGIN`` on top for what was not measured (other library versions,
allocator behaviour, data that sends many replicates to the reference engine).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from lossstudy import methods

MB = 2**20
RULES = ("simulate", "fit", "summarise")  # one job per scenario or chunk, calibrated by membench
STUDY_RULES = ("theory",)  # one job for the study, sized by its largest scenario

#: Peak RSS (MB) = Σ coefficient × feature (``features``), per rule. Fitted by
#: ``python -m lossstudy.speed.membench --calibrate`` (the smallest upper envelope of the measured
#: jobs, each coefficient at least its physical floor, ``FLOORS``) and rounded up.
COEFFICIENTS: dict[str, dict[str, float]] = {
    # MB; bytes per float of the design(s), per element of an R×n array, and per element of
    # an R×n array per departure
    "simulate": {"base": 50.0, "design": 21.0, "rows": 16.0, "departures": 6.0},
    # MB (vectorised, reference engine); bytes per float of data and per float of a design
    # copy; factor on the engine's working arrays; bytes per row of the output table
    "fit": {
        "base": 110.0,
        "reference": 225.0,
        "data": 8.0,
        "copies": 8.0,
        "working": 1.45,
        "table": 290.0,
        # MB once a job has trained members: JAX with its compiled programs, and a block's
        # minibatch orders (measured: 704 MB peak for 500 replicates of n = 400, four GD
        # checkpoints to 10⁴ steps and SGD with b = 32 for 10⁴ steps, against 110 MB without)
        "trained": 640.0,
    },
    # MB; bytes per estimate row, per replicate (the MAD's bootstrap)
    "summarise": {"base": 175.0, "rows": 420.0, "replicates": 3200.0},
    # MB (imports, scipy's included); bytes per estimate row, per float of an n×p matrix,
    # per estimator × term of the study (its performance rows, checks and theory rows)
    "theory": {"base": 210.0, "rows": 460.0, "design": 96.0, "study_terms": 8000.0},
}
#: The least each coefficient can physically be: every array a term counts exists at least
#: once (8 bytes a float; a random design twice in ``simulate``; ten numeric columns of a
#: table row; the bootstrap's two 200×R arrays).
FLOORS: dict[str, dict[str, float]] = {
    "simulate": {"design": 16.0, "rows": 16.0},
    "fit": {"data": 8.0, "copies": 8.0, "working": 1.0, "table": 80.0},
    "summarise": {"replicates": 3200.0},
}
#: A ``cell`` job (a scenario in one job) draws, fits and then summarises in one process: its
#: peak is the larger of its draws', its fits' and its summary's, the summary's on top of what
#: the fits leave behind (their libraries, heap not handed back). Measured with membench's
#: ``cell`` job (2000 replicates × 15 estimators, n = 25 and 400; 300 × n = 2000 random and
#: 100 × n = 3000 × p = 12 fixed, 6 estimators): 280–287, 222 and 167 MB, i.e. up to 46 MB
#: above the summary's prediction; this term allows 60.
CELL_LIBRARIES_MB = 60.0
#: Requests are the prediction times (1 + MARGIN), rounded up to a multiple of ROUND_MB.
MARGIN = 0.2
ROUND_MB = 50


@dataclass(frozen=True)
class JobShape:
    """What a job's memory depends on."""

    replicates: int  # in the job (simulate, fit) or in the scenario (summarise)
    n: int
    p: int
    fixed: bool
    methods: tuple[str, ...]  # one entry per estimator: its method word (lossstudy.methods)
    engine: str = "vectorized"
    #: departures the DGP applies to every replicate's R×n arrays (heteroskedasticity,
    #: autocorrelated errors, endogeneity, misspecification): each adds temporaries
    departures: int = 0
    #: estimator × term pairs of the whole study (``theory`` reads its performance table)
    study_terms: int = 0

    def with_replicates(self, replicates: int) -> JobShape:
        return replace(self, replicates=replicates)


def shape_of(
    knobs: Mapping[str, Any],
    estimators: Mapping[str, Mapping[str, Any]],
    engine: str,
    replicates: int,
) -> JobShape:
    """The shape of a job of one scenario (its resolved knobs) with ``replicates``."""
    departures = (
        float(knobs["heteroskedasticity"]["strength"]) > 0,
        float(knobs["autocorrelation"]["phi"]) != 0,
        float(knobs["endogeneity"]["correlation"]) != 0,
        float(knobs["misspecification"]["strength"]) != 0,
    )
    return JobShape(
        int(replicates),
        int(knobs["n"]),
        len(knobs["coefficients"]),
        bool(knobs["design"]["fixed"]),
        tuple(str(spec["method"]) for spec in estimators.values()),
        engine,
        sum(departures),
    )


def _working_bytes(s: JobShape) -> float:
    """The vectorised engine's own estimate of its working arrays for one internal chunk."""
    from lossstudy.vectorized import _chunk_size

    pairs = s.p * (s.p + 1) // 2
    per_replicate = 8 * s.n * (24 + 2 * (s.p + pairs))
    if s.engine == "reference":  # one replicate at a time
        return float(per_replicate)
    return float(min(s.replicates, _chunk_size(s.n, s.p)) * per_replicate)


def _trained(label: str) -> bool:
    fit = methods.by_label(label)
    return fit is not None and fit.trained


def features(rule: str, s: JobShape) -> dict[str, float]:
    """The terms of a job's peak, each in MB per unit of its coefficient (module docstring)."""
    R, n, p, E = s.replicates, s.n, s.p, len(s.methods)
    if rule == "simulate":
        return {
            "base": 1.0,
            "design": (n * p if s.fixed else R * n * p) / MB,
            "rows": R * n / MB,
            "departures": R * n * s.departures / MB,
        }
    if rule == "fit":
        # a fixed design is stacked per replicate for LAD, Huber and badly conditioned fits;
        # WLS whitens a copy (the registry's ``copies_design``)
        copies = int(s.fixed) + int(any(methods.copies_design(m) for m in s.methods))
        return {
            "base": float(s.engine != "reference"),
            "reference": float(s.engine == "reference"),
            "data": (R * n + (n * p if s.fixed else R * n * p)) / MB,
            "copies": copies * R * n * p / MB,
            "working": _working_bytes(s) / MB,
            "table": R * p * E / MB,
            "trained": float(any(_trained(m) for m in s.methods)),
        }
    if rule == "summarise":
        return {"base": 1.0, "rows": R * p * E / MB, "replicates": R / MB}
    if rule == "theory":
        return {
            "base": 1.0,
            "rows": R * p * E / MB,
            "design": n * p / MB,
            "study_terms": s.study_terms / MB,
        }
    allowed = ", ".join(RULES + STUDY_RULES)
    raise ValueError(f"no memory model for rule {rule!r}; allowed: {allowed}")


def peak_mb(rule: str, s: JobShape) -> float:
    """Predicted peak RSS (MB) of one job of ``rule`` (simulate, fit, summarise, cell or
    theory); a cell job's ``s`` counts the scenario's replicates, all in that job."""
    if rule == "cell":
        steps = (peak_mb("simulate", s), peak_mb("fit", s))
        return max(*steps, peak_mb("summarise", s) + CELL_LIBRARIES_MB)
    terms = features(rule, s)  # first: it names the allowed rules
    return sum(COEFFICIENTS[rule][k] * v for k, v in terms.items())


def request_mb(rule: str, s: JobShape) -> int:
    """``mem_mb`` to ask for: the prediction with MARGIN, rounded up to ROUND_MB."""
    return ROUND_MB * math.ceil(peak_mb(rule, s) * (1.0 + MARGIN) / ROUND_MB)


def chunk_request_mb(s: JobShape) -> int:
    """The larger request of a simulate and a fit job of this shape (the ones a split sizes)."""
    return max(request_mb("simulate", s), request_mb("fit", s))


def largest_job(s: JobShape, budget_mb: int) -> int:
    """Most replicates (≤ s.replicates) whose simulate and fit jobs each ask for at most
    ``budget_mb``; 0 when not even one replicate fits. Requests grow with R: bisection."""
    if chunk_request_mb(s.with_replicates(1)) > budget_mb:
        return 0
    lo, hi = 1, max(1, s.replicates)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if chunk_request_mb(s.with_replicates(mid)) <= budget_mb:
            lo = mid
        else:
            hi = mid - 1
    return lo


def auto_job_size(s: JobShape, budget_mb: int) -> int:
    """Replicates per job under ``replicates_per_job: auto``: as few jobs as the budget allows,
    evened out (so that the last job is not a sliver); 0 when one replicate does not fit."""
    largest = largest_job(s, budget_mb)
    if largest == 0:
        return 0
    jobs = math.ceil(s.replicates / largest)
    return math.ceil(s.replicates / jobs)
