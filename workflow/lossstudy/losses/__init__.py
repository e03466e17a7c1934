"""The study's losses, one module each: importing a module registers its loss, its fits and
any ``method:`` shorthand in :mod:`lossstudy.methods`.

Why a package of its own: the loss modules build on the fitting code (``lossstudy.estimators``,
``lossstudy.vectorized``), which dispatches through the registry; keeping the registry
(:mod:`lossstudy.methods`) below the fits and the losses above them keeps every import pointing
down. :func:`lossstudy.methods.registry.load` imports every module here (``squared``,
``absolute`` and ``huber`` first).
"""
