"""config/README.md documents every key with its default and an example, and every example is a
valid config."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from lossstudy import errorlaws, methods
from lossstudy.config import (
    BUILTIN_DEFAULTS,
    ESTIMATOR_PARAMETERS,
    OPTIONAL_DEFAULTS,
    OPTIONAL_KNOBS,
    SCHEMA_PATH,
    load_study,
)

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "config" / "README.md").read_text()
BASE = {
    "seed": 1,
    "replicates": 10,
    "scenarios": {"s": {}},
    "estimators": {"ols": {"method": "ols"}},
}


def table(heading: str) -> dict[str, list[str]]:
    """Rows of the first table after a heading: first cell (without backticks) -> its cells."""
    lines = DOC.split(heading, 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start + 2 :]:  # below the header and its rule
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip()[1:-1])]
        rows.append(cells)
    return {cells[0].strip("`"): cells for cells in rows}


def example(cell: str) -> dict:
    return yaml.safe_load(cell.strip("`"))


def knob_paths(tree: dict, prefix: str = "") -> set[str]:
    out = set()
    for key, value in tree.items():
        out |= knob_paths(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key}
    return out


def test_every_top_level_key_is_documented_with_a_valid_example():
    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    rows = table("## Top level")
    assert set(rows) == set(schema["properties"])
    for key, row in rows.items():
        assert len(row) == 4 and row[1], key  # key, default, meaning, example
        if key == "defaults":
            continue  # the knob table below
        config = copy.deepcopy(BASE)
        value = example(row[3])
        if key in ("scenarios", "estimators"):
            config[key].update(value)
        else:
            config.update(value)
        load_study(config)


def test_every_scenario_knob_is_documented_with_a_valid_example():
    rows = table("## Scenario knobs")
    params = {f"errors.{p.name}" for law in errorlaws.LAWS.values() for p in law.parameters}
    knobs = knob_paths(BUILTIN_DEFAULTS) | knob_paths(OPTIONAL_DEFAULTS)
    assert set(rows) == knobs | params | set(OPTIONAL_KNOBS) | {"replicates"}
    for knob, row in rows.items():
        assert len(row) == 4 and row[1] and row[3], knob
        config = copy.deepcopy(BASE)
        config["scenarios"]["s"] = example(row[3])
        family = config["scenarios"]["s"].get("response", {}).get("family")
        if family == "bernoulli":  # a classification scenario: a classifier
            config["estimators"] = {"mle": {"method": "logit"}}
        load_study(config)


def test_every_estimator_method_is_documented():
    assert set(table("## Estimators")) == set(ESTIMATOR_PARAMETERS)


@pytest.mark.parametrize("method", sorted(ESTIMATOR_PARAMETERS))
def test_every_estimator_is_documented_with_a_valid_example(method: str):
    row = table("## Estimators")[method]
    assert len(row) == 4, method  # method, parameters (default), notes, example
    config = copy.deepcopy(BASE)
    config["estimators"].update(example(row[3]))
    if "gaussian" not in methods.fit_for({"method": method}).responses:  # a classifier
        config["scenarios"]["c"] = {"response": {"family": "bernoulli"}}
    load_study(config)
