"""Monte Carlo study of regression loss functions (L2, L1, Huber, ridge).

The package holds all the science of the study; the Snakemake rules only wire files to it.
Modules: ``config`` (validation, scenario expansion), ``seeding`` (random streams),
``blas`` (one BLAS thread: the same bits anywhere), ``dgp`` (data-generating processes),
``assumptions`` (which Gauss–Markov assumptions hold),
``estimators`` (reference fits), ``vectorized`` (the default engine: every replicate of a job
at once), ``performance`` (measures with Monte Carlo SEs), ``theory`` (the simulation against
exact and asymptotic theory), ``tables`` (human-readable tables), ``answer`` (the report's
claims), ``figures``, ``report`` (the HTML report), ``pipeline`` (file-level steps the rules
call), ``runtimes`` (per-rule times from Snakemake's benchmark files), ``memory`` (the
memory model that sizes jobs), ``cli`` (``replay``, ``overhead``, ``benchmark``). Tooling that
measures the study rather than computing it lives in ``speed`` (``benchmark``, ``benchmark_r``,
``overhead``, ``membench``).
"""

__version__ = "0.1.0"
