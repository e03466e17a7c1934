"""Validate the study configuration and expand it into concrete scenarios.

Validation happens in three passes so that a user always gets *one* message naming the field:
unknown keys first (with the nearest valid key as a suggestion, since typos are the most common
mistake), then the JSON schema (through ``snakemake.utils.validate``), then semantic checks that
need more than one field (``n`` against the number of coefficients, correlation bounds, ...).

A scenario's knobs are ``BUILTIN_DEFAULTS`` ← ``config["defaults"]`` ← the scenario's own entry
(deep merge), then crossed with ``config["grid"]``. Everything downstream receives the fully
resolved knobs of one scenario only, so that changing one scenario reruns that scenario alone.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

#: Where the config schema lives in a checkout of the repository (the Snakemake convention).
SCHEMA_IN_REPOSITORY = Path("workflow", "schemas", "config.schema.yaml")
_PACKAGE = Path(__file__).resolve().parent
#: A checkout also has this file: it tells this workflow apart from other Snakemake workflows,
#: which keep their schema at the same conventional place.
_WORKFLOW_MARKER = Path("workflow", "scripts", "_lossstudy_path.py")
#: The schema next to this package when it is imported from a checkout (``pip install -e .``,
#: or ``workflow/lossstudy`` put on ``sys.path`` by the workflow)...
SOURCE_SCHEMA = _PACKAGE.parent / "schemas" / "config.schema.yaml"
#: ...and the copy a built wheel carries (setup.py copies the repository's file at build time;
#: only the repository's file is under version control).
PACKAGED_SCHEMA = _PACKAGE / "schemas" / "config.schema.yaml"
#: The schema this copy of the package uses when it is given no other.
SCHEMA_PATH = SOURCE_SCHEMA if SOURCE_SCHEMA.is_file() else PACKAGED_SCHEMA

BUILTIN_DEFAULTS: dict[str, Any] = {
    "n": 100,
    "coefficients": [1.0, 2.0, -1.0, 0.5, 0.0],
    "design": {
        "distribution": "normal",
        "correlation": 0.0,
        "fixed": True,
        "autocorrelation": 0.0,
        "leverage": {"fraction": 0.0, "distance": 10.0, "follows_model": False},
    },
    "errors": {"distribution": "normal", "scale": 1.0},
    "heteroskedasticity": {"strength": 0.0, "predictor": 1},
    "autocorrelation": {"phi": 0.0},
    "endogeneity": {"correlation": 0.0, "predictor": 1},
    "misspecification": {"strength": 0.0, "predictor": 1, "form": "cubic"},
    "prior": {"tau": 0.0},
}

#: Parameters each error distribution takes, with their defaults (None: required).
ERROR_PARAMETERS: dict[str, dict[str, float | None]] = {
    "normal": {},
    "t": {"df": None},
    "laplace": {},
    "cauchy": {},
    "contaminated": {"fraction": 0.1, "outlier_scale": 3.0},
    "exponential": {},
    "lognormal": {"sigma": 1.0},
}

ESTIMATOR_PARAMETERS: dict[str, dict[str, Any]] = {
    "ols": {"se": "classical"},
    "wls": {"predictor": 1, "strength": 1.0},
    "lad": {},
    "huber": {"k": 1.345},
    "ridge": {"penalty": 1.0},
}

STUDY_DEFAULTS: dict[str, Any] = {
    "replicates_per_job": 1000,
    "level": 0.95,
    "keep_datasets": True,
    "engine": "vectorized",
    "grid": {},
    "defaults": {},
}

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]*$")


class ConfigError(ValueError):
    """An invalid configuration; the message names the field and what is allowed."""


@dataclass(frozen=True)
class Scenario:
    """One expanded scenario: a file-system-safe id and its fully resolved knobs."""

    id: str
    base: str
    knobs: dict[str, Any]
    replicates: int
    grid_values: dict[str, Any] = field(default_factory=dict)

    @property
    def p(self) -> int:
        return len(self.knobs["coefficients"])

    @property
    def terms(self) -> list[str]:
        return term_names(self.p)

    def knobs_json(self) -> str:
        """Canonical JSON of the knobs: a Snakemake param, so edits rerun this scenario only."""
        return json.dumps(self.knobs, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Study:
    """The validated study: global settings, expanded scenarios and estimators."""

    seed: int
    replicates_per_job: int
    level: float
    reference: str | None
    keep_datasets: bool
    engine: str
    scenarios: dict[str, Scenario]
    estimators: dict[str, dict[str, Any]]

    def chunks(self, scenario_id: str) -> list[int]:
        """Indices of the jobs a scenario's replicates are split into."""
        reps = self.scenarios[scenario_id].replicates
        return list(range(math.ceil(reps / self.replicates_per_job)))

    def chunk_range(self, scenario_id: str, chunk: int) -> tuple[int, int]:
        """Half-open replicate range [start, stop) of one job."""
        reps = self.scenarios[scenario_id].replicates
        start = chunk * self.replicates_per_job
        return start, min(start + self.replicates_per_job, reps)


def term_names(p: int) -> list[str]:
    """Names of the coefficients: intercept first, then x1..x{p-1}."""
    return ["intercept"] + [f"x{j}" for j in range(1, p)]


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any] | None) -> dict[str, Any]:
    """Recursively merge ``override`` into a copy of ``base`` (dicts merge, the rest replaces)."""
    out = copy.deepcopy(dict(base))
    for key, value in (override or {}).items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested knobs as one level of dotted keys (``errors.df``); leaves, lists too, as they are."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def load_yaml(path: str | Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh) or {}


# --------------------------------------------------------------------------- unknown keys


def _resolve(schema: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = node.get("$ref")
    if ref:
        target: Any = schema
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        return _resolve(schema, target)
    if "anyOf" in node:
        for option in node["anyOf"]:
            resolved = _resolve(schema, option)
            if resolved.get("type") == "object":
                return resolved
    return node


def _unknown_keys(
    schema: Mapping[str, Any], node: Mapping[str, Any], value: Any, path: str
) -> Iterator[str]:
    node = _resolve(schema, node)
    if not isinstance(value, Mapping) or node.get("type") != "object":
        return
    props = node.get("properties")
    if props is not None and node.get("additionalProperties") is False:
        for key in value:
            if key not in props:
                hint = difflib.get_close_matches(str(key), list(props), n=1, cutoff=0.5)
                where = f"{path}.{key}" if path else str(key)
                suggestion = f" Did you mean '{hint[0]}'?" if hint else ""
                yield (
                    f"config error at '{where}': unknown key '{key}'.{suggestion} "
                    f"Allowed keys here: {', '.join(sorted(props))}."
                )
    for key, sub in value.items():
        sub_node = (props or {}).get(key)
        if sub_node is None and isinstance(node.get("additionalProperties"), Mapping):
            sub_node = node["additionalProperties"]
        if sub_node is not None:
            yield from _unknown_keys(schema, sub_node, sub, f"{path}.{key}" if path else str(key))


# --------------------------------------------------------------------------- schema


def _schema_check(config: dict[str, Any], schema_path: Path) -> None:
    """Run the JSON schema through Snakemake's validator and reword its error to one line."""
    import jsonschema
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    try:
        validate(config, str(schema_path), set_default=False)
    except (WorkflowError, jsonschema.ValidationError) as exc:
        best = exc if isinstance(exc, jsonschema.ValidationError) else exc.__context__
        if not isinstance(best, jsonschema.ValidationError):
            raise ConfigError(f"config error: {exc}") from None
        where = ".".join(str(p) for p in best.absolute_path) or "(top level)"
        raise ConfigError(f"config error at '{where}': {_reword(best)}") from None


def _reword(err: Any) -> str:
    """Turn a jsonschema error into a short statement of what is allowed."""
    kind = err.validator
    val = err.validator_value
    got = json.dumps(err.instance) if not isinstance(err.instance, dict) else "a mapping"
    if kind == "enum":
        return f"got {got}; allowed values: {', '.join(map(str, val))}."
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        op = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
        return f"got {got}; must be {op[kind]} {val}."
    if kind == "type":
        return f"got {got}; must be of type {val}."
    if kind == "pattern":
        return (
            f"got {got}; names must start with a letter or digit and contain only letters, "
            "digits and underscores (they become file names)."
        )
    if kind == "required":
        return f"missing required key: {err.message.split()[0]}."
    if kind in ("minProperties", "minItems"):
        return f"got {got}; must not be empty."
    return err.message


# --------------------------------------------------------------------------- expansion


def _format_value(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    text = text.replace("-", "m").replace("[", "").replace("]", "").replace(",", "_")
    return re.sub(r"[^A-Za-z0-9._]", "", text)


def _set_path(knobs: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = knobs
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _has_path(tree: Mapping[str, Any], dotted: str) -> bool:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def _grid_knob_allowed(schema: Mapping[str, Any], dotted: str) -> bool:
    node = _resolve(schema, schema["$defs"]["knobs"])
    for part in dotted.split("."):
        props = node.get("properties", {})
        if part not in props:
            return False
        node = _resolve(schema, props[part])
    return True


def expand_scenarios(config: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Scenario]:
    """Deep-merge defaults into every scenario and cross it with the grid."""
    defaults = deep_merge(BUILTIN_DEFAULTS, config.get("defaults"))
    grid: dict[str, list[Any]] = dict(config.get("grid") or {})
    for knob in grid:
        if knob == "replicates" or not _grid_knob_allowed(schema, knob):
            raise ConfigError(
                f"config error at 'grid.{knob}': unknown knob '{knob}'. A grid crosses scenario "
                "knobs such as 'n', 'errors.scale', 'design.correlation' (dotted paths)."
            )
    combos = list(itertools.product(*grid.values())) if grid else [()]
    out: dict[str, Scenario] = {}
    for base, own in config["scenarios"].items():
        own = own or {}
        for knob in grid:
            if _has_path(own, knob):
                raise ConfigError(
                    f"config error at 'scenarios.{base}.{knob}': the grid also sets '{knob}'; "
                    "set it in one place only (remove it from the scenario or from the grid)."
                )
        merged = deep_merge(defaults, own)
        replicates = int(merged.pop("replicates", config["replicates"]))
        for combo in combos:
            knobs = copy.deepcopy(merged)
            values = dict(zip(grid, combo, strict=True))
            for knob, value in values.items():
                _set_path(knobs, knob, value)
            suffix = "".join(
                f"-{knob.split('.')[-1]}{_format_value(v)}" for knob, v in values.items()
            )
            sid = f"{base}{suffix}"
            _complete_errors(knobs, f"scenarios.{base}")
            out[sid] = Scenario(sid, base, knobs, replicates, values)
    return out


def _complete_errors(knobs: dict[str, Any], where: str) -> None:
    """Fill distribution-specific defaults and reject parameters the distribution ignores."""
    errors = knobs["errors"]
    dist = errors["distribution"]
    allowed = ERROR_PARAMETERS[dist]
    for key in list(errors):
        if key in ("distribution", "scale"):
            continue
        if key not in allowed:
            raise ConfigError(
                f"config error at '{where}.errors.{key}': '{key}' is not a parameter of the "
                f"'{dist}' distribution (it takes: {', '.join(['scale', *allowed]) or 'scale'})."
            )
    for key, default in allowed.items():
        if key not in errors:
            if default is None:
                raise ConfigError(
                    f"config error at '{where}.errors.{key}': the '{dist}' distribution needs "
                    f"'{key}' (a number > 0)."
                )
            errors[key] = default


# --------------------------------------------------------------------------- semantics


def _check_estimator_predictors(sc: Scenario, estimators: Mapping[str, Mapping[str, Any]]) -> None:
    """A WLS estimator weights by a predictor that must exist in every scenario."""
    slopes = sc.p - 1
    for name, spec in estimators.items():
        if spec["method"] == "wls" and int(spec["predictor"]) > slopes:
            raise ConfigError(
                f"config error at 'estimators.{name}.predictor': predictor {spec['predictor']} "
                f"does not exist in scenario '{sc.id}'; allowed 1..{slopes}."
            )


def _check_scenario(sc: Scenario, where: str) -> None:
    k = sc.knobs
    p = len(k["coefficients"])
    slopes = p - 1
    if k["n"] <= p:
        raise ConfigError(
            f"config error at '{where}.n': n = {k['n']} must be greater than the number of "
            f"coefficients p = {p} (scenario '{sc.id}')."
        )
    rho = k["design"]["correlation"]
    lower = -1.0 / (slopes - 1) if slopes > 1 else -1.0
    if not (lower < rho <= 1.0):
        raise ConfigError(
            f"config error at '{where}.design.correlation': {rho} is outside ({lower:.4g}, 1]; "
            f"an equicorrelation matrix of {slopes} predictors is positive semi-definite only "
            f"there (scenario '{sc.id}')."
        )
    lev = k["design"]["leverage"]
    if lev["fraction"] > 0 and round(lev["fraction"] * k["n"]) < 1:
        raise ConfigError(
            f"config error at '{where}.design.leverage.fraction': {lev['fraction']} of n = "
            f"{k['n']} rows is less than one row (scenario '{sc.id}')."
        )
    for block in ("heteroskedasticity", "endogeneity", "misspecification"):
        j = k[block]["predictor"]
        if j > slopes:
            raise ConfigError(
                f"config error at '{where}.{block}.predictor': predictor {j} does not exist; "
                f"allowed 1..{slopes} (scenario '{sc.id}')."
            )
    from lossstudy.dgp import error_moments

    if k["endogeneity"]["correlation"] != 0 and not math.isfinite(error_moments(k["errors"]).sd):
        raise ConfigError(
            f"config error at '{where}.endogeneity.correlation': endogeneity needs errors with a "
            f"finite variance; '{k['errors']['distribution']}' has none (scenario '{sc.id}')."
        )


def _check_estimators(estimators: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for name, spec in estimators.items():
        method = spec["method"]
        allowed = ESTIMATOR_PARAMETERS[method]
        for key in spec:
            if key != "method" and key not in allowed:
                raise ConfigError(
                    f"config error at 'estimators.{name}.{key}': '{key}' is not a parameter of "
                    f"method '{method}' (it takes: {', '.join(allowed) or 'nothing'})."
                )
        out[name] = {"method": method, **allowed, **{k: v for k, v in spec.items()}}
    return out


def find_schema(near: str | Path | None = None) -> Path:
    """The config schema to validate against.

    ``near`` (a config file or a directory): the ``workflow/schemas/config.schema.yaml`` of the
    checkout of this workflow that contains it, if any, so that a config is checked against its
    own workflow's schema. Otherwise :data:`SCHEMA_PATH`: the checkout this package was
    imported from, else the copy shipped in the wheel.
    """
    if near is not None:
        start = Path(near).resolve()
        for d in (start, *start.parents):
            if (d / SCHEMA_IN_REPOSITORY).is_file() and (d / _WORKFLOW_MARKER).is_file():
                return d / SCHEMA_IN_REPOSITORY
    if SCHEMA_PATH.is_file():
        return SCHEMA_PATH
    raise FileNotFoundError(
        f"config schema not found: no {SCHEMA_IN_REPOSITORY} in a checkout of this workflow "
        f"above {near}, none next to the package ({SOURCE_SCHEMA}) and none shipped in it "
        f"({PACKAGED_SCHEMA}); reinstall the package from the repository."
    )


def load_study(raw: Mapping[str, Any], schema_path: str | Path | None = None) -> Study:
    """Validate a raw config mapping and return the expanded study, or raise ConfigError.

    ``schema_path`` defaults to :func:`find_schema` (the workflow passes its own schema).
    """
    schema_path = find_schema() if schema_path is None else Path(schema_path)
    schema = load_yaml(schema_path)
    config = copy.deepcopy(dict(raw))
    if isinstance(config.get("scenarios"), dict):  # `name:` with no knobs means all defaults
        config["scenarios"] = {k: {} if v is None else v for k, v in config["scenarios"].items()}
    for problem in _unknown_keys(schema, schema, config, ""):
        raise ConfigError(problem)
    _schema_check(config, schema_path)
    config = deep_merge(STUDY_DEFAULTS, config)
    estimators = _check_estimators(config["estimators"])
    scenarios = expand_scenarios(config, schema)
    for sc in scenarios.values():
        _check_scenario(sc, f"scenarios.{sc.base}")
        _check_estimator_predictors(sc, estimators)
    reference = config.get("reference")
    if reference is None:
        reference = next((n for n, e in estimators.items() if e["method"] == "ols"), None)
    elif reference not in estimators:
        raise ConfigError(
            f"config error at 'reference': '{reference}' is not an estimator; allowed: "
            f"{', '.join(estimators)}."
        )
    for name in scenarios:
        if not _SAFE_NAME.match(name.replace("-", "_").replace(".", "_")):
            raise ConfigError(f"config error: expanded scenario id '{name}' is not file-safe.")
    return Study(
        seed=int(config["seed"]),
        replicates_per_job=int(config["replicates_per_job"]),
        level=float(config["level"]),
        reference=reference,
        keep_datasets=bool(config["keep_datasets"]),
        engine=str(config["engine"]),
        scenarios=scenarios,
        estimators=estimators,
    )
