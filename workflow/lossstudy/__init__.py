"""Monte Carlo study of regression loss functions (L2, L1, Huber, ridge).

The package holds all the science of the study; the Snakemake rules only wire files to it.
Modules: ``config`` (validation, scenario expansion), ``seeding`` (random streams),
``dgp`` (data-generating processes), ``assumptions`` (which Gauss–Markov assumptions hold),
``estimators`` (reference fits), ``performance`` (measures with Monte Carlo SEs),
``tables`` (human-readable tables), ``pipeline`` (file-level steps the rules call).
"""

__version__ = "0.1.0"
