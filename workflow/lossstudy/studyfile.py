"""The study-level files the later steps read: ``results/study.json`` and, read back here,
``results/estimators.csv`` (written by :mod:`lossstudy.methods`).

Why files: the claims step and the report need the seed, the level, the resolved reference, the
resolved estimator specs, the knob defaults and the config as run (``study.json``), and which
estimators are sweep members or anchors, with the words for their loss, penalty and intervals
(``estimators.csv``). Reading them back from files the workflow wrote keeps those steps from
parsing the raw config again (and from describing a config they were not run with).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lossstudy.config import BUILTIN_DEFAULTS, Study, deep_merge, flatten
from lossstudy.io import write_text
from lossstudy.methods import TABLE_COLUMNS

if TYPE_CHECKING:  # the workflow imports this module while it parses: keep pandas out of that
    import pandas as pd

__all__ = [
    "ESTIMATOR_TEXT_COLUMNS",
    "anchors",
    "parameter_columns",
    "read_estimators",
    "read_study",
    "study_record",
    "sweep_members",
    "write_study",
]

#: the columns of ``estimators.csv`` before its parameter columns (``lossstudy.methods``)
_LEADING = TABLE_COLUMNS
#: those of them that hold text (read as text, empty rather than NaN)
ESTIMATOR_TEXT_COLUMNS = tuple(c for c in _LEADING if c not in ("value", "anchor", "reference"))


def study_record(study: Study, config: Mapping[str, Any]) -> dict[str, Any]:
    """The settings as plain JSON data; ``config`` is the config as run (shown in the report)."""
    return {
        "seed": study.seed,
        "level": study.level,
        "reference": study.reference or "",
        "engine": study.engine,
        "replicates": config.get("replicates"),
        "defaults": flatten(deep_merge(BUILTIN_DEFAULTS, config.get("defaults") or {})),
        "estimators": study.estimators,
        "config": dict(config),
    }


def write_study(record: Mapping[str, Any] | str, path: str | Path) -> None:
    """Write ``record`` (a :func:`study_record`, or its JSON text) atomically."""
    text = record if isinstance(record, str) else json.dumps(record, indent=1)
    write_text(path, text if text.endswith("\n") else text + "\n")


def read_study(path: str | Path) -> dict[str, Any]:
    """The record :func:`write_study` wrote."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def read_theory(path: str | Path | None) -> pd.DataFrame:
    """``theory.csv`` (an empty table with its key columns when there is none)."""
    import pandas as pd

    if path is None or not Path(path).exists():
        cols = ["scenario", "estimator", "term", "quantity", "theoretical", "relation", "z"]
        return pd.DataFrame(columns=cols)
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def read_estimators(path: str | Path) -> pd.DataFrame:
    """``estimators.csv`` with its text columns never missing and its flags as bools."""
    import pandas as pd

    text = dict.fromkeys(ESTIMATOR_TEXT_COLUMNS, str)
    table = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype=text)
    for col in ESTIMATOR_TEXT_COLUMNS:
        table[col] = table[col].fillna("")
    for col in ("anchor", "reference"):
        table[col] = table[col].map(lambda v: str(v).strip().lower() in ("true", "1"))
    return table


def parameter_columns(table: pd.DataFrame) -> list[str]:
    """The estimators' parameter columns (after the fixed ones)."""
    return [c for c in table.columns if c not in _LEADING]


def anchors(table: pd.DataFrame) -> list[str]:
    """The estimators shown everywhere: all but the other members of an estimator sweep."""
    return table.loc[table["anchor"], "estimator"].tolist()


def sweep_members(table: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Members of estimator sweeps: name -> ``{family, parameter, value, anchor}``."""
    members = table[table["parameter"] != ""]
    return {
        r.estimator: {
            "family": r.family,
            "parameter": r.parameter,
            "value": r.value,
            "anchor": bool(r.anchor),
        }
        for r in members.itertuples(index=False)
    }
