"""Knob values as the report compares and shows them (read back from CSV or JSON)."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

__all__ = ["norm", "show"]


def norm(value: Any) -> Any:
    """Comparable form of a knob value read back from CSV or from the config."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    if isinstance(value, list | tuple):
        return [norm(v) for v in value]
    text = str(value).strip()
    if text in ("True", "true"):
        return True
    if text in ("False", "false"):
        return False
    try:
        return norm(json.loads(text))
    except (ValueError, TypeError):
        return text


def show(value: Any) -> str:
    """A value as the report prints it: numbers in %g, lists in brackets."""
    v = norm(value)
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list):
        return "[" + ", ".join(show(x) for x in v) + "]"
    return str(v)
