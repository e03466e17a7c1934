"""The study's losses, one module each: importing a module registers its loss, its fits and
any ``method:`` shorthand in :mod:`lossstudy.methods`.

Why a package of its own: the loss modules build on the fitting code (``lossstudy.estimators``,
``lossstudy.vectorized``), which dispatches through the registry; keeping the registry
(:mod:`lossstudy.methods`) below the fits and the losses above them keeps every import pointing
down. :func:`lossstudy.methods.registry.load` imports every module here (``squared``,
``absolute`` and ``huber`` first).
"""

from lossstudy.methods.registry import load as _load

# Whichever loss module is imported first, the registry fills in load()'s order (its shorthands
# then list `ols, wls, ridge, lad, huber, ...` in every process, whatever a caller imported).
_load()
