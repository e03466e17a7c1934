"""Estimators as loss × penalty × solver: the registry the rest of the study reads.

An estimator spec names a ``loss``, a ``penalty`` (default ``none``), a ``solver`` (default
``exact``) and an interval method ``se``, plus the parameters of each; or one of the
``method:`` shorthands of the first studies (``ols``, ``wls``, ``lad``, ``huber``, ``ridge``),
which name a combination and keep their own parameter names (ridge's λ is ``penalty``).

A spec resolves (:func:`resolve`) to the registered :class:`Fit` of its combination and its
parameters with the defaults filled in. :func:`canonical` is the form the study stores: the
shorthand's spec wherever the combination has a shorthand (so an explicit
``{loss: squared, se: hc3}`` *is* ``{method: ols, se: hc3}``), else the explicit spec with a
``method`` label. Adding a loss means adding a module to :mod:`lossstudy.losses` that
registers it (see docs/estimators.md); modules named in ``LOSSSTUDY_METHODS`` (comma-separated,
importable) are loaded too, which is how a loss defined outside the package joins a study.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .registry import (
    AXES,
    FITS,
    LOSSES,
    MODELS,
    PENALTIES,
    PLUGINS_ENV,
    SHORTHANDS,
    SOLVERS,
    Axis,
    Fit,
    Param,
    Resolved,
    Shorthand,
    SpecError,
    by_label,
    canonical,
    copies_design,
    fit_for,
    fit_of,
    fits,
    load,
    losses,
    model_solver,
    penalised,
    penalties,
    register_fit,
    register_loss,
    register_model,
    register_penalty,
    register_solver,
    resolve,
    shorthand_parameters,
    shorthands,
    solvers,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "AXES",
    "FITS",
    "LOSSES",
    "MODELS",
    "PENALTIES",
    "SHORTHANDS",
    "SOLVERS",
    "TABLE_COLUMNS",
    "Axis",
    "Fit",
    "PLUGINS_ENV",
    "Param",
    "Resolved",
    "Shorthand",
    "SpecError",
    "by_label",
    "canonical",
    "copies_design",
    "describe",
    "estimators_table",
    "fit_for",
    "fit_of",
    "fits",
    "load",
    "losses",
    "model_solver",
    "penalised",
    "penalties",
    "register_fit",
    "register_loss",
    "register_model",
    "register_penalty",
    "register_solver",
    "resolve",
    "shorthand_parameters",
    "shorthands",
    "show",
    "solvers",
    "write_estimators",
]

# --------------------------------------------------------------------------- words and tables


def show(value: Any) -> str:
    """A parameter value in words: floats as ``%g``, the rest as they print."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float) and not math.isnan(value):
        return f"{float(value):g}"
    return str(value)


def describe(spec: Mapping[str, Any]) -> dict[str, str]:
    """``loss_text``, ``penalty_text`` and ``intervals_text`` of a spec, in words."""
    r = resolve(spec)
    if r.fit.texts is not None:
        loss, penalty, intervals = r.fit.texts({**r.params, "se": r.se})
    else:
        loss = LOSSES[r.fit.loss].text or r.fit.loss
        penalty = PENALTIES[r.fit.penalty].text or r.fit.penalty
        intervals = r.se
    return {"loss_text": loss, "penalty_text": penalty, "intervals_text": intervals}


#: Leading columns of ``results/estimators.csv``; one column per parameter follows.
TABLE_COLUMNS = (
    "estimator",
    "family",
    "parameter",
    "value",
    "anchor",
    "reference",
    "method",
    "loss",
    "penalty",
    "solver",
    "se",
    "loss_text",
    "penalty_text",
    "intervals_text",
)


def estimators_table(study: Any) -> pd.DataFrame:
    """One row per estimator (sweep member) of a :class:`~lossstudy.config.Study` with its
    resolved spec; parameters under their loss/penalty/solver names, empty where they do not
    apply."""
    import pandas as pd

    anchors = set(study.anchor_estimators())
    rows, params = [], []
    for name, spec in study.estimators.items():
        r = resolve(spec)
        sweep = study.estimator_sweeps.get(name, {})
        rows.append(
            {
                "estimator": name,
                "family": sweep.get("family", name),
                "parameter": sweep.get("parameter", ""),
                "value": sweep.get("value", ""),
                "anchor": name in anchors,
                "reference": name == study.reference,
                "method": study.estimator_methods.get(name, ""),
                "loss": r.fit.loss,
                "penalty": r.fit.penalty,
                "solver": r.fit.solver,
                "se": r.se,
                **describe(spec),
            }
        )
        params.append(r.explicit)
    names = sorted({k for p in params for k in p})
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    values = pd.DataFrame([[p.get(k, "") for k in names] for p in params], columns=names)
    out = pd.concat([table, values.astype(object)], axis=1)
    restricted = getattr(study, "estimator_scenarios", {})
    if restricted:  # only then: a study whose estimators are everywhere keeps its columns
        out["scenarios"] = [" ".join(restricted.get(name, ())) for name in study.estimators]
    return out


def write_estimators(study: Any, path: str | os.PathLike[str]) -> None:
    """``results/estimators.csv`` (the rule ``estimators``)."""
    from lossstudy.io import write_text

    write_text(path, estimators_table(study).to_csv(index=False, lineterminator="\n"))
