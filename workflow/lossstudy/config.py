"""Validate the study configuration and expand it into concrete scenarios.

Validation happens in four passes so that a user always gets *one* message naming the field:
unknown keys first (with the nearest valid key as a suggestion, since typos are the most common
mistake), then non-finite numbers (YAML's ``.nan`` and ``.inf`` pass a JSON schema's bounds),
then the JSON schema, then semantic checks that need more than one field (``n`` against the
number of coefficients, correlation bounds, ...). The schema's ``errors`` entry comes from the
error-law registry (:mod:`lossstudy.errorlaws`, :func:`load_schema`).

A scenario's knobs are ``BUILTIN_DEFAULTS`` ← ``config["defaults"]`` ← the scenario's own entry
(deep merge), then crossed with ``config["grid"]``. Everything downstream receives the fully
resolved knobs of one scenario only, so that changing one scenario reruns that scenario alone.
"""

from __future__ import annotations

import copy
import fnmatch
import itertools
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from lossstudy import errorlaws, memory, methods, response, responses

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
    "prior": {"tau": 0.0, "distribution": "normal", "scale": 0.0, "sparsity": 0.0},
}

#: Scenario knobs that are not in BUILTIN_DEFAULTS: absent from a scenario's knobs unless it
#: sets them (``response.family`` absent is gaussian, ``lossstudy.response``), so that the
#: knobs, and hence the jobs and files, of every scenario without them stay as they were.
OPTIONAL_KNOBS: tuple[str, ...] = ("response.family",)
#: Knobs filled only where a scenario uses them (:func:`_complete_design`), with their defaults:
#: a scenario without them keeps the knobs, hence the jobs, it had before they existed.
OPTIONAL_DEFAULTS: dict[str, Any] = {"design": {"inputs": 1}, "response": {"function": "linear"}}

#: Parameters of each ``method`` shorthand with their defaults (from ``lossstudy.methods``).
ESTIMATOR_PARAMETERS: dict[str, dict[str, Any]] = methods.shorthand_parameters()

STUDY_DEFAULTS: dict[str, Any] = {
    "replicates_per_job": 1000,
    "memory_mb_per_job": 2000,
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
    #: this scenario's own sweep, knob -> value (empty outside a sweep)
    sweep_values: dict[str, Any] = field(default_factory=dict)
    #: the sweep member that stands for its family in per-scenario figures, tables and claims
    anchor: bool = True

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
    #: an integer, or "auto": per scenario, as few jobs as memory_mb_per_job allows
    replicates_per_job: int | Literal["auto"]
    level: float
    reference: str | None
    keep_datasets: bool
    engine: str
    scenarios: dict[str, Scenario]
    estimators: dict[str, dict[str, Any]]
    #: members of estimator sweeps: name -> {family, parameter, value, anchor}
    estimator_sweeps: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the ``method`` shorthand each estimator's config used ("" for a loss/penalty/solver spec)
    estimator_methods: dict[str, str] = field(default_factory=dict)
    #: budget of one simulate or fit job under ``replicates_per_job: auto`` (MB)
    memory_mb_per_job: int = int(STUDY_DEFAULTS["memory_mb_per_job"])
    #: replicates per job of each scenario (``auto`` sizes them one scenario at a time)
    job_sizes: dict[str, int] = field(default_factory=dict)
    #: estimators fitted only in some scenarios: name -> fnmatch patterns on scenario base names
    estimator_scenarios: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def applies(self, estimator: str, scenario_id: str) -> bool:
        """Whether an estimator is fitted in a scenario: its ``scenarios:`` patterns, if any,
        match the scenario's base name, and its loss models the scenario's response family
        (a regression loss a gaussian y, a classification loss a bernoulli one)."""
        sc = self.scenarios[scenario_id]
        patterns = self.estimator_scenarios.get(estimator)
        if patterns is not None and not _matches(sc.base, patterns):
            return False
        return _models(self.estimators[estimator], sc)

    def reference_in(self, scenario_id: str) -> str | None:
        """The reference of one scenario's relative measures: the study's ``reference`` where
        it is fitted, else (a scenario of another response family) the scenario's first
        maximum-likelihood fit (``lossstudy.response.MLE_LOSS``, exact, unpenalised)."""
        if self.reference is not None and self.applies(self.reference, scenario_id):
            return self.reference
        mle = response.MLE_LOSS[response.family(self.scenarios[scenario_id].knobs)]
        for name, spec in self.estimators_in(scenario_id).items():
            fit = methods.fit_for(spec)
            if (fit.loss, fit.penalty, fit.solver) == (mle, "none", "exact"):
                return name
        return None

    def estimators_in(self, scenario_id: str) -> dict[str, dict[str, Any]]:
        """The estimators of one scenario, in the config's order: its fit job's and summary's
        parameters, so that adding an estimator elsewhere reruns nothing here."""
        return {e: s for e, s in self.estimators.items() if self.applies(e, scenario_id)}

    def anchor_estimators(self) -> list[str]:
        """Estimators shown everywhere; the other members of a sweep only in its sweep figure."""
        return [e for e in self.estimators if self.estimator_sweeps.get(e, {}).get("anchor", True)]

    def job_size(self, scenario_id: str) -> int:
        """Replicates per simulate and fit job of one scenario."""
        if scenario_id in self.job_sizes:
            return self.job_sizes[scenario_id]
        if self.replicates_per_job == "auto":
            raise KeyError(f"no job size for scenario {scenario_id!r}")
        return self.replicates_per_job

    def chunks(self, scenario_id: str) -> list[int]:
        """Indices of the jobs a scenario's replicates are split into."""
        reps = self.scenarios[scenario_id].replicates
        return list(range(math.ceil(reps / self.job_size(scenario_id))))

    def chunk_range(self, scenario_id: str, chunk: int) -> tuple[int, int]:
        """Half-open replicate range [start, stop) of one job."""
        reps = self.scenarios[scenario_id].replicates
        size = self.job_size(scenario_id)
        start = chunk * size
        return start, min(start + size, reps)

    def job_shape(self, scenario_id: str, replicates: int) -> memory.JobShape:
        """What the memory of a job of this scenario with ``replicates`` depends on."""
        sc = self.scenarios[scenario_id]
        return memory.shape_of(sc.knobs, self.estimators_in(scenario_id), self.engine, replicates)

    def mem_mb(self, rule: str, scenario_id: str | None = None, chunk: int = 0) -> int:
        """Memory a job asks for (``resources: mem_mb``), from ``lossstudy.memory``: a simulate
        or fit job by the replicates of its chunk, a summarise job by the scenario's, a cell
        job (a scenario in one job) the larger of the two, the study's theory job by its
        largest scenario (it holds one at a time)."""
        if rule == "theory":
            # estimator × term pairs actually fitted (`scenarios:` patterns leave some out)
            terms = sum(len(self.estimators_in(sid)) * sc.p for sid, sc in self.scenarios.items())
            return max(
                memory.request_mb(
                    "theory", replace(self.job_shape(sid, sc.replicates), study_terms=terms)
                )
                for sid, sc in self.scenarios.items()
            )
        assert scenario_id is not None, f"a {rule} job belongs to a scenario"
        if rule in ("summarise", "cell"):
            replicates = self.scenarios[scenario_id].replicates
        else:
            start, stop = self.chunk_range(scenario_id, chunk)
            replicates = stop - start
        shape = self.job_shape(scenario_id, replicates)
        if rule == "fit":  # a fit job draws its replicates first, then fits them
            return max(memory.request_mb(r, shape) for r in ("simulate", "fit"))
        return memory.request_mb(rule, shape)


def _models(spec: Mapping[str, Any], sc: Scenario) -> bool:
    """Whether an estimator's loss models the scenario's response family."""
    return response.family(sc.knobs) in methods.fit_for(spec).responses


def _matches(base: str, patterns: tuple[str, ...] | list[str]) -> bool:
    return any(fnmatch.fnmatchcase(base, pattern) for pattern in patterns)


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
    import yaml  # here, not above: no job of the workflow reads YAML (≈ 15 ms of each's start)

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
                import difflib  # only for a typo: not in every job's start-up

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


def load_schema(schema_path: str | Path) -> dict[str, Any]:
    """The schema file with its ``errors`` entry built from the error-law registry, its
    ``response.function`` values from :mod:`lossstudy.responses`, and its
    estimator vocabulary from the estimator registry (the file only points there), so that
    adding a law's or a loss's module is all it takes to configure it."""
    schema = load_yaml(schema_path)
    schema["$defs"]["errors"] = {**schema["$defs"]["errors"], **errorlaws.schema()}
    response = schema["$defs"]["knobs"]["properties"]["response"]["properties"]
    response["function"] = {"type": "string", "enum": ["linear", *responses.FUNCTIONS]}
    return with_registry(schema)


def _schema_check(config: dict[str, Any], schema: Mapping[str, Any]) -> None:
    """Run the JSON schema (as ``snakemake.utils.validate`` does: the first error of a
    Draft 2020-12 validator) and reword its error to one line."""
    import jsonschema

    err = next(iter(jsonschema.Draft202012Validator(schema).iter_errors(config)), None)
    if err is not None:
        where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        raise ConfigError(f"config error at '{where}': {_reword(err)}")


def with_registry(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The schema with the estimator vocabulary of ``lossstudy.methods`` filled in: the
    ``method``, ``loss``, ``penalty``, ``solver`` and ``se`` values, and every parameter's
    schema (a parameter that two losses bound differently is checked per loss later)."""
    out = copy.deepcopy(dict(schema))
    props = out["$defs"]["estimator"]["properties"]
    fits = methods.fits().values()
    props["method"] = {"type": "string", "enum": list(methods.shorthands())}
    props["loss"] = {"type": "string", "enum": list(methods.losses())}
    props["solver"] = {"type": "string", "enum": list(methods.solvers())}
    if methods.MODELS:  # ``model: mlp`` with ``solver: adam`` is the fit of solver mlp_adam
        props["model"] = {"type": "string", "enum": ["linear", *methods.MODELS]}
        own = [
            s.split("_", 1)[1] for s in methods.solvers() if s.split("_", 1)[0] in methods.MODELS
        ]
        props["solver"]["enum"] = list(dict.fromkeys([*props["solver"]["enum"], *own]))
    props["se"] = {"type": "string", "enum": list(dict.fromkeys(s for f in fits for s in f.se))}
    props["penalty"] = {
        "anyOf": [
            {"type": "string", "enum": list(methods.penalties())},
            {"type": "number", "minimum": 0},  # ``method: ridge``'s λ
        ]
    }
    declared: dict[str, list[Mapping[str, Any]]] = {}
    axes = [*methods.losses().values(), *methods.penalties().values(), *methods.solvers().values()]
    for params in [*(a.params for a in axes), *(f.params for f in fits)]:
        for name, param in params.items():
            if name not in ("se", "penalty"):
                declared.setdefault(name, []).append(param.schema)
    for name, schemas in declared.items():
        same = all(s == schemas[0] for s in schemas)
        props[name] = dict(schemas[0]) if same else {}
    if "steps" in props:  # a list of checkpoints: sugar for a sweep over steps
        one = props["steps"]
        props["steps"] = {"anyOf": [one, {"type": "array", "minItems": 1, "items": one}]}
    return out


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
    if kind in ("anyOf", "oneOf"):
        return f"got {got}; must be {' or '.join(_describe(option) for option in val)}."
    return err.message


def _describe(node: Mapping[str, Any]) -> str:
    """A schema alternative in words: 'an integer >= 1', '"auto"'."""
    if "enum" in node:
        return " or ".join(json.dumps(v) for v in node["enum"])
    if node.get("type") == "array" and "items" in node:
        item = node["items"]
        plural = {"integer": "integers", "number": "numbers", "string": "strings"}
        text = f"a list of {plural.get(str(item.get('type')), 'values')}"
        return text + (f" >= {item['minimum']}" if "minimum" in item else "")
    words = {"integer": "an integer", "number": "a number", "string": "a string"}
    text = words.get(str(node.get("type")), f"of type {node.get('type')}")
    if "minimum" in node:
        text += f" >= {node['minimum']}"
    return text


# --------------------------------------------------------------------------- non-finite numbers


def _non_finite(value: Any) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def _non_finite_problems(node: Any, where: str = "", knob: tuple[str, ...] = ()) -> Iterator[str]:
    """Every NaN or ±∞ in the raw config, as a message naming its field.

    ``knob`` is the dotted path of keys without list indices: a sweep or grid entry
    ``errors.df: [3, .inf]`` and a nested ``errors: {df: .inf}`` both end in (errors, df). An
    error-law parameter whose law says what +∞ means (t's df: the normal distribution) may be
    +∞ outside ``estimators``; whether the scenario's law is that law is checked once it is
    resolved (``_complete_errors``).
    """
    if isinstance(node, Mapping):
        for key, value in node.items():
            path = f"{where}.{key}" if where else str(key)
            yield from _non_finite_problems(value, path, (*knob, *str(key).split(".")))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _non_finite_problems(value, f"{where}[{i}]", knob)
    elif _non_finite(node):
        spared = (
            node > 0
            and knob[:1] != ("estimators",)
            and knob[-2:-1] == ("errors",)
            and knob[-1] in errorlaws.infinite_parameters()
        )
        if not spared:
            yield f"config error at '{where}': got {json.dumps(node)}; must be a finite number."


# --------------------------------------------------------------------------- expansion


def _format_value(value: Any) -> str:
    if _non_finite(value):  # only +∞ gets here (t's df): '-dfinf'
        return "inf" if value > 0 else "minf"
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


def _nest(dotted: str, value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _set_path(out, dotted, value)
    return out


def _check_values(
    schema: Mapping[str, Any],
    node: Mapping[str, Any],
    knob: str,
    values: list[Any],
    where: str,
    context: Mapping[str, Any] | None = None,
) -> None:
    """Each value of a grid or sweep list against the schema of the knob it sets."""
    import jsonschema

    validator = jsonschema.Draft202012Validator({**node, "$defs": schema["$defs"]})
    for i, value in enumerate(values):
        instance = {**(context or {}), **_nest(knob, value)}
        err = jsonschema.exceptions.best_match(validator.iter_errors(instance))
        if err is not None:
            raise ConfigError(f"config error at '{where}[{i}]': {_reword(err)}")


def _suffix(values: Mapping[str, Any]) -> str:
    return "".join(f"-{knob.split('.')[-1]}{_format_value(v)}" for knob, v in values.items())


def _check_sweep(
    schema: Mapping[str, Any],
    sweep: Any,
    where: str,
    allowed: Any,
    node: Mapping[str, Any],
    context: Mapping[str, Any] | None = None,
    hint: str = "a scenario knob such as 'errors.df', 'errors.fraction', 'design.correlation' "
    "(dotted paths)",
) -> dict[str, list[Any]]:
    """A sweep is a non-empty map of knob -> non-empty list of distinct, valid values."""
    if not isinstance(sweep, Mapping) or not sweep:
        raise ConfigError(
            f"config error at '{where}': a sweep maps a knob (dotted path) to a list of values, "
            "e.g. {errors.df: [3, 5, 10]}; got " + json.dumps(sweep) + "."
        )
    out: dict[str, list[Any]] = {}
    for knob, values in sweep.items():
        knob = str(knob)
        if not allowed(knob):
            raise ConfigError(
                f"config error at '{where}.{knob}': unknown knob '{knob}'. A sweep here varies "
                f"{hint}."
            )
        if not isinstance(values, list) or not values:
            raise ConfigError(
                f"config error at '{where}.{knob}': got {json.dumps(values)}; must be a "
                "non-empty list of values."
            )
        _check_values(schema, node, knob, values, f"{where}.{knob}", context)
        tags = [_format_value(v) for v in values]
        dup = next(
            (
                tags[i]
                for i in range(len(values))
                for j in range(i)
                if tags[i] == tags[j] or _same(values[i], values[j])
            ),
            None,
        )
        if dup is not None:
            raise ConfigError(
                f"config error at '{where}.{knob}': value {dup} appears twice; ids "
                f"('-{knob.split('.')[-1]}{dup}') must be unique."
            )
        out[knob] = values
    return out


def _same(a: Any, b: Any) -> bool:
    """Equal as values: 2 and 2.0 are the same knob setting."""
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return bool(a == b)


def _check_anchor(own: Mapping[str, Any], knob: str, values: list[Any], where: str) -> bool:
    """A knob set beside its own sweep must name one of the sweep's values: the anchor."""
    if not _has_path(own, knob):
        return False
    node: Any = own
    for part in knob.split("."):
        node = node[part]
    if not any(_same(node, v) for v in values):
        raise ConfigError(
            f"config error at '{where}': '{knob}' is set twice, to {json.dumps(node)} and by the "
            f"sweep to {json.dumps(values)}; set it in one place only, or to one of the sweep's "
            "values to mark the member that stands for the whole sweep in figures, tables and "
            "claims."
        )
    return True


def expand_scenarios(config: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Scenario]:
    """Deep-merge defaults into every scenario, cross it with its own sweep and the grid.

    Ids are ``{name}{-knob value for each sweep knob}{-knob value for each grid knob}``. A sweep
    member is the scenario's *anchor* when the scenario itself sets the swept knob to that value
    (or when the scenario has no such own value: then every member stands for itself).
    """
    defaults = deep_merge(BUILTIN_DEFAULTS, config.get("defaults"))
    knobs_node = schema["$defs"]["knobs"]
    grid: dict[str, list[Any]] = dict(config.get("grid") or {})
    for knob in grid:
        if knob == "replicates" or not _grid_knob_allowed(schema, knob):
            raise ConfigError(
                f"config error at 'grid.{knob}': unknown knob '{knob}'. A grid crosses scenario "
                "knobs such as 'n', 'errors.scale', 'design.correlation' (dotted paths)."
            )
        _check_values(schema, knobs_node, knob, grid[knob], f"grid.{knob}")
    out: dict[str, Scenario] = {}
    for base, own in config["scenarios"].items():
        own = dict(own or {})
        raw_sweep = own.pop("sweep", None)
        combos = _grid_combos(schema, grid, own.pop("grid", None), f"scenarios.{base}.grid")
        for knob in grid:
            if _has_path(own, knob):
                raise ConfigError(
                    f"config error at 'scenarios.{base}.{knob}': the grid also sets '{knob}'; "
                    "set it in one place only (remove it from the scenario or from the grid)."
                )
        sweep: dict[str, list[Any]] = {}
        anchored: dict[str, Any] = {}
        if raw_sweep is not None:
            where = f"scenarios.{base}.sweep"
            sweep = _check_sweep(
                schema,
                raw_sweep,
                where,
                lambda k: k != "replicates" and _grid_knob_allowed(schema, k),
                knobs_node,
            )
            for knob, values in sweep.items():
                if knob in grid:
                    raise ConfigError(
                        f"config error at '{where}.{knob}': the grid also sets '{knob}'; set it "
                        "in one place only (remove it from the sweep or from the grid)."
                    )
                if _check_anchor(own, knob, values, f"{where}.{knob}"):
                    node: Any = own
                    for part in knob.split("."):
                        node = node[part]
                    anchored[knob] = node
        merged = deep_merge(defaults, own)
        replicates = int(merged.pop("replicates", config["replicates"]))
        sweep_combos = list(itertools.product(*sweep.values())) if sweep else [()]
        for swept in sweep_combos:
            sweep_values = dict(zip(sweep, swept, strict=True))
            anchor = all(_same(v, anchored[k]) for k, v in sweep_values.items() if k in anchored)
            for combo in combos:
                knobs = copy.deepcopy(merged)
                values = dict(zip(grid, combo, strict=True))
                for knob, value in {**sweep_values, **values}.items():
                    _set_path(knobs, knob, value)
                sid = f"{base}{_suffix(sweep_values)}{_suffix(values)}"
                if sid in out:
                    raise ConfigError(
                        f"config error at 'scenarios.{base}': the expanded id '{sid}' occurs "
                        "twice; sweep and grid values must give distinct ids."
                    )
                _complete_errors(knobs, f"scenarios.{base}")
                _complete_design(knobs)
                out[sid] = Scenario(sid, base, knobs, replicates, values, sweep_values, anchor)
    return out


def _grid_combos(
    schema: Mapping[str, Any],
    grid: Mapping[str, list[Any]],
    own: Any,
    where: str,
) -> list[tuple[Any, ...]]:
    """The grid's value combinations for one scenario, in the grid's knob order: a scenario's
    own ``grid:`` replaces the values of some of the study grid's knobs for it alone (the
    network scenarios take n = 100 and 400 of the study's 25, 100, 400)."""
    values = dict(grid)
    if own is not None:
        values.update(
            _check_sweep(
                schema,
                own,
                where,
                lambda knob: knob in grid,
                schema["$defs"]["knobs"],
                hint="a knob of the study's grid (top-level 'grid:'), with this scenario's own "
                f"values; the grid has: {', '.join(grid) or 'no knobs'}",
            )
        )
    return list(itertools.product(*values.values())) if values else [()]


def _complete_errors(knobs: dict[str, Any], where: str) -> None:
    """Fill the error law's defaults and reject parameters the law does not take, or +∞ where
    the law does not say what it means (:mod:`lossstudy.errorlaws`)."""
    errors = knobs["errors"]
    dist = errors["distribution"]
    allowed = {p.name: p for p in errorlaws.law(dist).parameters}
    for key in list(errors):
        if key in ("distribution", errorlaws.SCALE.name):
            continue
        if key not in allowed:
            raise ConfigError(
                f"config error at '{where}.errors.{key}': '{key}' is not a parameter of the "
                f"'{dist}' distribution (it takes: {', '.join(['scale', *allowed])})."
            )
        if _non_finite(errors[key]) and not allowed[key].infinity:
            raise ConfigError(
                f"config error at '{where}.errors.{key}': got {json.dumps(errors[key])}; the "
                f"'{dist}' distribution needs a finite number here."
            )
    for key, param in allowed.items():
        if key not in errors:
            if param.default is None:
                raise ConfigError(
                    f"config error at '{where}.errors.{key}': the '{dist}' distribution needs "
                    f"'{key}' (a number {param.range_text()})."
                )
            errors[key] = param.default


def _complete_design(knobs: dict[str, Any]) -> None:
    """Fill ``design.inputs`` (1) of a uniform design and ``response.function`` (linear) of a
    scenario that has a response block. A normal design without one keeps its knobs as they
    were before these knobs existed, so that its jobs do not rerun."""
    if responses.is_uniform(knobs):
        knobs["design"].setdefault("inputs", OPTIONAL_DEFAULTS["design"]["inputs"])
    if "response" in knobs:
        knobs["response"].setdefault("function", OPTIONAL_DEFAULTS["response"]["function"])


def _check_response(sc: Scenario, where: str) -> None:
    """The uniform design and the nonlinear mean functions, with the knobs they exclude."""
    k, d = sc.knobs, sc.knobs["design"]
    fn = responses.function_name(k)
    if responses.is_uniform(k):
        slopes = len(k["coefficients"]) - 1
        if int(d["inputs"]) != slopes:
            raise ConfigError(
                f"config error at '{where}.coefficients': a uniform design with "
                f"{d['inputs']} input(s) takes {int(d['inputs']) + 1} coefficients (the "
                f"intercept and one slope per input), got {slopes + 1} (scenario '{sc.id}')."
            )
        for knob in ("correlation", "autocorrelation"):
            if float(d[knob]) != 0:
                raise ConfigError(
                    f"config error at '{where}.design.{knob}': a uniform design has independent "
                    f"U(0, 1) inputs; '{knob}' applies to the normal design only "
                    f"(scenario '{sc.id}')."
                )
    elif "inputs" in d:
        raise ConfigError(
            f"config error at '{where}.design.inputs': 'inputs' belongs to a uniform design "
            "(design.distribution: uniform); a normal design has one predictor per slope "
            f"coefficient (scenario '{sc.id}')."
        )
    if fn == "linear":
        return
    if not responses.is_uniform(k):
        raise ConfigError(
            f"config error at '{where}.response.function': '{fn}' is a function of the first "
            "input on [0, 1]; it needs a uniform design (design: {distribution: uniform, "
            f"inputs: d}}), not a '{d['distribution']}' one (scenario '{sc.id}')."
        )
    if float(k["prior"]["tau"]) > 0:
        raise ConfigError(
            f"config error at '{where}.prior.tau': a prior draws the coefficients of a linear "
            f"mean; the '{fn}' mean has none (scenario '{sc.id}')."
        )


# --------------------------------------------------------------------------- semantics


def _check_estimator_predictors(sc: Scenario, estimators: Mapping[str, Mapping[str, Any]]) -> None:
    """An estimator that weights by a predictor (WLS) needs it in every scenario; K-fold
    cross-validation (``folds``) needs at least K rows."""
    slopes = sc.p - 1
    for name, spec in estimators.items():
        if "predictor" in spec and int(spec["predictor"]) > slopes:
            raise ConfigError(
                f"config error at 'estimators.{name}.predictor': predictor {spec['predictor']} "
                f"does not exist in scenario '{sc.id}'; allowed 1..{slopes}."
            )
        n = int(sc.knobs["n"])
        if "folds" in spec and int(spec["folds"]) > n:
            raise ConfigError(
                f"config error at 'estimators.{name}.folds': {spec['folds']} folds need at least "
                f"as many rows, and scenario '{sc.id}' has n = {n}; allowed 2..{n}."
            )


def _check_scenario(sc: Scenario, where: str) -> None:
    _check_response(sc, where)
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
    prior = k["prior"]
    if prior["tau"] > 0 and prior["scale"] > 0:
        raise ConfigError(
            f"config error at '{where}.prior.scale': give the prior's scale once, as `scale` "
            f"(`tau` is its older name for the normal prior), not both (scenario '{sc.id}')."
        )
    for knob in response.refused_knobs(k):
        raise ConfigError(
            f"config error at '{where}.{knob}': a bernoulli response (response.family) has no "
            f"additive error, so '{knob}' has no meaning there; remove it "
            f"from this scenario (and from defaults, grid or sweep) (scenario '{sc.id}')."
        )
    if k["endogeneity"]["correlation"] != 0 and not math.isfinite(
        errorlaws.error_moments(k["errors"]).sd
    ):
        raise ConfigError(
            f"config error at '{where}.endogeneity.correlation': endogeneity needs errors with a "
            f"finite variance; '{k['errors']['distribution']}' has none (scenario '{sc.id}')."
        )


def _resolved(spec: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The stored (canonical) form of one estimator spec; its values checked against the
    registry's parameter schemas. Every problem is a ConfigError naming the field."""
    import jsonschema

    try:
        r = methods.resolve(spec)
    except methods.SpecError as err:
        raise ConfigError(f"config error at '{where}.{err.field}': {err}") from None
    f = r.fit
    schemas = {
        name: param.schema
        for params in (f.axis_params(), f.params)
        for name, param in params.items()
    }
    for key, value in spec.items():
        if key in methods.AXES or key not in schemas:
            continue
        err = jsonschema.exceptions.best_match(
            jsonschema.Draft202012Validator(schemas[key]).iter_errors(value)
        )
        if err is not None:
            raise ConfigError(f"config error at '{where}.{key}': {_reword(err)}")
    return methods.canonical(spec)


def _steps_list(spec: dict[str, Any], raw_sweep: Any, where: str) -> Any:
    """A gradient solver's ``steps: [10, 100, ...]`` is a sweep over ``steps`` (one trajectory,
    one member per checkpoint): taken out of ``spec`` and returned as the sweep."""
    steps = spec.get("steps")
    if not isinstance(steps, list):
        return raw_sweep
    if raw_sweep is not None:
        raise ConfigError(
            f"config error at '{where}.steps': a list of checkpoints is a sweep over steps, and "
            "this estimator has a sweep already (an estimator sweeps one parameter); give steps "
            "one number here, or define one estimator per parameter to sweep."
        )
    if any(b <= a for a, b in itertools.pairwise(steps)):
        raise ConfigError(
            f"config error at '{where}.steps': got {json.dumps(steps)}; checkpoints must be "
            "strictly increasing."
        )
    return {"steps": spec.pop("steps")}


def _fit_of(spec: Mapping[str, Any], where: str) -> methods.Fit:
    try:
        return methods.fit_for(spec)
    except methods.SpecError as err:
        raise ConfigError(f"config error at '{where}.{err.field}': {err}") from None


def _check_estimators(
    estimators: Mapping[str, Mapping[str, Any]], schema: Mapping[str, Any]
) -> tuple[
    dict[str, dict[str, Any]], dict[str, dict[str, Any]], dict[str, str], dict[str, list[str]]
]:
    """Resolve every estimator through the registry and expand estimator sweeps into members.

    A member of ``ridge: {method: ridge, sweep: {penalty: [1, 10]}}`` is named ``ridge-penalty1``;
    the second mapping returned says, per member, its family, parameter, value and whether it is
    the anchor (the value the estimator sets itself, or every member when it sets none); the
    third, the ``method`` shorthand each one's config used ("" for none); the fourth, the
    ``scenarios:`` patterns of the estimators that have them (per configured name).
    """
    out: dict[str, dict[str, Any]] = {}
    meta: dict[str, dict[str, Any]] = {}
    used: dict[str, str] = {}
    patterns: dict[str, list[str]] = {}
    for name, spec in estimators.items():
        spec = dict(spec)
        where = f"estimators.{name}"
        if "scenarios" in spec:
            patterns[name] = list(spec.pop("scenarios"))
        raw_sweep = _steps_list(spec, spec.pop("sweep", None), where)
        if ("method" in spec) == ("loss" in spec):
            raise ConfigError(
                f"config error at '{where}': give either 'method' (one of "
                f"{', '.join(methods.shorthands())}) or 'loss' (one of "
                f"{', '.join(methods.losses())}), not {'both' if 'method' in spec else 'neither'}."
            )
        method = spec.get("method")
        for axis in ("solver", "penalty"):
            if (
                method is not None
                and axis in spec
                and not (axis == "penalty" and not isinstance(spec[axis], str))
            ):
                raise ConfigError(
                    f"config error at '{where}.{axis}': '{axis}' goes with 'loss'; method "
                    f"'{method}' names its own loss, penalty and solver."
                )
        if raw_sweep is None:
            out[name], used[name] = _resolved(spec, where), str(method or "")
            continue
        # a parameter set by the sweep alone (a trained fit's lr_relative, steps) is checked
        # with its first value in place
        names = set(_fit_of(spec, where).params) | (
            set(_fit_of(spec, where).axis_params()) if method is None else set()
        )
        probe = {
            **spec,
            **{
                k: v[0]
                for k, v in (raw_sweep.items() if isinstance(raw_sweep, Mapping) else ())
                if k in names and k not in spec and isinstance(v, list) and v
            },
        }
        _resolved(probe, where)
        resolved = methods.resolve(probe)
        if method is not None:
            allowed = dict(resolved.params)
            kind = f"method '{method}'"
        else:
            allowed = {**resolved.explicit, "se": resolved.se}
            kind = f"the '{resolved.fit.loss}' loss"
        where = f"estimators.{name}.sweep"
        context = {"method": method} if method is not None else {"loss": spec["loss"]}
        sweep = _check_sweep(
            schema,
            raw_sweep,
            where,
            lambda k, a=allowed: k in a and _sweepable(a[k]),
            schema["$defs"]["estimator"],
            context,
            f"a numeric parameter of {kind} "
            f"({', '.join(k for k, v in allowed.items() if _sweepable(v)) or 'none'})",
        )
        if len(sweep) > 1:
            raise ConfigError(
                f"config error at '{where}': an estimator sweeps one parameter; got "
                f"{', '.join(sweep)} (define one estimator per parameter to sweep)."
            )
        ((param, values),) = sweep.items()
        own = _check_anchor(spec, param, values, f"{where}.{param}")
        for value in values:
            member = f"{name}-{param}{_format_value(value)}"
            out[member] = _resolved({**spec, param: value}, f"estimators.{name}")
            used[member] = str(method or "")
            anchor = not own or _same(value, spec[param])
            meta[member] = {"family": name, "parameter": param, "value": value, "anchor": anchor}
    return out, meta, used, patterns


def _sweepable(value: Any) -> bool:
    """A numeric parameter (or an unset one, a trained fit's ``lr``): not a word, flag or list."""
    return not isinstance(value, str | bool | list)


def _check_estimator_scenarios(
    patterns: Mapping[str, list[str]],
    estimators: Mapping[str, Mapping[str, Any]],
    meta: Mapping[str, Mapping[str, Any]],
    scenarios: Mapping[str, Scenario],
    reference: str | None,
) -> dict[str, tuple[str, ...]]:
    """Each ``scenarios:`` pattern matches a scenario; each member's ``batch_size`` fits the n
    of every scenario it is fitted in. Returns the patterns per member."""
    bases = list(dict.fromkeys(sc.base for sc in scenarios.values()))
    for name, pats in patterns.items():
        for i, pattern in enumerate(pats):
            if not any(_matches(base, (pattern,)) for base in bases):
                raise ConfigError(
                    f"config error at 'estimators.{name}.scenarios[{i}]': '{pattern}' matches no "
                    f"scenario; scenarios: {', '.join(bases)}."
                )
    out = {
        member: tuple(patterns[family])
        for member in estimators
        if (family := meta.get(member, {}).get("family", member)) in patterns
    }
    ref_bases = [
        sc.base
        for sc in scenarios.values()
        if reference is None or _models(estimators[reference], sc)
    ]
    if reference in out and not all(_matches(b, out[reference]) for b in ref_bases):
        raise ConfigError(
            f"config error at 'reference': '{reference}' is fitted only in some scenarios "
            f"(estimators.{meta.get(reference, {}).get('family', reference)}.scenarios); the "
            "reference must be in every one."
        )
    _check_families(out, estimators, meta, scenarios)
    for member, spec in estimators.items():
        size = spec.get("batch_size")
        if size is None:
            continue
        family = meta.get(member, {}).get("family", member)
        swept = meta.get(member, {}).get("parameter") == "batch_size"
        for sc in scenarios.values():
            n = int(sc.knobs["n"])
            if size > n and (member not in out or _matches(sc.base, out[member])):
                field_ = "sweep.batch_size" if swept else "batch_size"
                raise ConfigError(
                    f"config error at 'estimators.{family}.{field_}': batch_size {size} exceeds "
                    f"n = {n} of scenario '{sc.id}'; allowed 1..{n} there (or restrict the "
                    "estimator with 'scenarios:')."
                )
    return out


def _check_families(
    restricted: Mapping[str, tuple[str, ...]],
    estimators: Mapping[str, Mapping[str, Any]],
    meta: Mapping[str, Mapping[str, Any]],
    scenarios: Mapping[str, Scenario],
) -> None:
    """A loss is fitted only where it models the response (``Fit.responses``): an estimator
    whose ``scenarios:`` name a scenario of another family (OLS on a 0/1 response, the logit
    on a continuous one), or that no scenario's family fits, stops the study here."""
    for member, spec in estimators.items():
        family = meta.get(member, {}).get("family", member)
        fit = methods.fit_for(spec)
        pats = restricted.get(member)
        for sc in scenarios.values():
            if pats is not None and _matches(sc.base, pats) and not _models(spec, sc):
                raise ConfigError(
                    f"config error at 'estimators.{family}.scenarios': scenario '{sc.base}' has "
                    f"a {response.family(sc.knobs)} response, which the '{fit.loss}' loss does "
                    f"not model (it models: {', '.join(fit.responses)}); restrict the estimator "
                    "to scenarios of that family."
                )
        if not any(_models(spec, sc) for sc in scenarios.values()):
            raise ConfigError(
                f"config error at 'estimators.{family}': the '{fit.loss}' loss models a "
                f"{' or '.join(fit.responses)} response and no scenario has one (set "
                "'response: {family: ...}' in a scenario, or remove the estimator)."
            )


def _auto_job_sizes(study: Study, engine: str, budget_mb: int) -> dict[str, int]:
    """``replicates_per_job: auto``: per scenario, as few simulate and fit jobs as the memory
    budget allows (``lossstudy.memory``); a scenario of which not even one replicate fits stops
    the study here, before any job runs."""
    sizes = {}
    for sid, sc in study.scenarios.items():
        shape = memory.shape_of(sc.knobs, study.estimators_in(sid), engine, sc.replicates)
        size = memory.auto_job_size(shape, budget_mb)
        if size == 0:
            need = memory.chunk_request_mb(shape.with_replicates(1))
            design = "fixed" if shape.fixed else "random"
            k = len(shape.methods)
            raise ConfigError(
                f"config error at 'memory_mb_per_job': {budget_mb} MB cannot hold a job of one "
                f"replicate of scenario '{sid}' (n = {shape.n}, p = {shape.p}, {design} design, "
                f"{k} estimator{'s' * (k != 1)}), which needs {need} MB; allowed: at least "
                f"{need}, or a smaller n or p in that scenario."
            )
        sizes[sid] = size
    return sizes


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
    schema = load_schema(schema_path)
    config = copy.deepcopy(dict(raw))
    if isinstance(config.get("scenarios"), dict):  # `name:` with no knobs means all defaults
        config["scenarios"] = {k: {} if v is None else v for k, v in config["scenarios"].items()}
    for problem in _unknown_keys(schema, schema, config, ""):
        raise ConfigError(problem)
    for problem in _non_finite_problems(config):
        raise ConfigError(problem)
    _schema_check(config, schema)
    config = deep_merge(STUDY_DEFAULTS, config)
    for key in ("sweep", "grid"):
        if key in config["defaults"]:
            raise ConfigError(
                f"config error at 'defaults.{key}': a {key} of a scenario's own belongs to one "
                f"scenario; move it into the scenario it varies (scenarios.<name>.{key})."
            )
    estimators, estimator_sweeps, estimator_methods, patterns = _check_estimators(
        config["estimators"], schema
    )
    scenarios = expand_scenarios(config, schema)
    reference = config.get("reference")
    if reference is None:
        reference = next((n for n, e in estimators.items() if e["method"] == "ols"), None)
    elif reference not in estimators:
        raise ConfigError(
            f"config error at 'reference': '{reference}' is not an estimator; allowed: "
            f"{', '.join(estimators)}."
        )
    restricted = _check_estimator_scenarios(
        patterns, estimators, estimator_sweeps, scenarios, reference
    )
    for sc in scenarios.values():
        _check_scenario(sc, f"scenarios.{sc.base}")
        _check_estimator_predictors(
            sc,
            {
                e: s
                for e, s in estimators.items()
                if e not in restricted or _matches(sc.base, restricted[e])
            },
        )
    for name in scenarios:
        if not _SAFE_NAME.match(name.replace("-", "_").replace(".", "_")):
            raise ConfigError(f"config error: expanded scenario id '{name}' is not file-safe.")
    per_job = config["replicates_per_job"]
    budget = int(config["memory_mb_per_job"])
    study = Study(
        seed=int(config["seed"]),
        replicates_per_job=per_job if per_job == "auto" else int(per_job),
        memory_mb_per_job=budget,
        level=float(config["level"]),
        reference=reference,
        keep_datasets=bool(config["keep_datasets"]),
        engine=str(config["engine"]),
        scenarios=scenarios,
        estimators=estimators,
        estimator_sweeps=estimator_sweeps,
        estimator_methods=estimator_methods,
        estimator_scenarios=restricted,
    )
    if per_job == "auto":
        sizes = _auto_job_sizes(study, str(config["engine"]), budget)
    else:
        sizes = {sid: int(per_job) for sid in scenarios}
    return replace(study, job_sizes=sizes)
