"""``results/study.json``: the study-level settings, written once by the workflow.

Why a file: the claims step and the report need the seed, the level, the resolved reference,
the resolved estimator specs (with their sweeps and anchors), the knob defaults and the config
as run. Reading them back from a file the workflow wrote keeps those steps from parsing the raw
config again (and from describing a config they were not run with).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lossstudy.config import BUILTIN_DEFAULTS, Study, deep_merge, flatten
from lossstudy.io import write_text

__all__ = ["read_study", "study_record", "write_study"]


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
        "anchors": study.anchor_estimators(),
        "estimator_sweeps": study.estimator_sweeps,
        "config": dict(config),
    }


def write_study(record: Mapping[str, Any] | str, path: str | Path) -> None:
    """Write ``record`` (a :func:`study_record`, or its JSON text) atomically."""
    text = record if isinstance(record, str) else json.dumps(record, indent=1)
    write_text(path, text if text.endswith("\n") else text + "\n")


def read_study(path: str | Path) -> dict[str, Any]:
    """The record :func:`write_study` wrote."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
