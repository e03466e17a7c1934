"""The estimator registry (lossstudy.methods): shorthands, resolution, words and estimators.csv."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from lossstudy import methods
from lossstudy.config import ConfigError, load_study, load_yaml

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = load_yaml(ROOT / "config" / "config.yaml")


#: The words the report's methods table showed for the default study before the registry.
REPORT_WORDS = {
    "ols": ("L2: Σ rᵢ²", "none", "t, n − p df; classical SE"),
    "ols_hc3": ("L2: Σ rᵢ²", "none", "t, n − p df; hc3 SE"),
    "ols_hac": ("L2: Σ rᵢ²", "none", "t, n − p df; hac SE"),
    "wls": (
        "weighted L2: Σ wᵢ rᵢ², fixed wᵢ = 1/(1 + 2·x1ᵢ²)",
        "none",
        "t, n − p df; classical WLS SE",
    ),
    "lad": ("L1: Σ |rᵢ|", "none", "t, n − p df; kernel (Hall–Sheather) SE"),
    "huber": ("Huber: Σ ρ_k(rᵢ/s), MAD scale s", "none", "normal (z); H1 covariance"),
    "ridge-penalty0.3": ("L2: Σ rᵢ²", "λ = 0.3: λ Σ βⱼ² on the slopes", "none: biased by design"),
    "ridge-penalty100": ("L2: Σ rᵢ²", "λ = 100: λ Σ βⱼ² on the slopes", "none: biased by design"),
}


def test_describe_gives_the_report_words_of_every_default_estimator():
    study = load_study(DEFAULT)
    for name, (loss, penalty, intervals) in REPORT_WORDS.items():
        assert methods.describe(study.estimators[name]) == {
            "loss_text": loss,
            "penalty_text": penalty,
            "intervals_text": intervals,
        }, name


def test_estimators_table_follows_the_contract():
    study = load_study(DEFAULT)
    table = methods.estimators_table(study)
    # parameters in alphabetical order (the training part's solvers' among them), then the
    # scenarios column, which exists because the trained estimators are restricted
    params = ["activation", "average", "batch_size", "betas", "delta", "epochs", "eps", "folds"]
    params += ["hidden", "init", "k", "lambda", "lr", "lr_relative", "predictor", "schedule"]
    params += ["sigma", "steps", "strength"]
    assert list(table.columns) == [*methods.TABLE_COLUMNS, *params, "scenarios"]
    assert list(table["estimator"]) == list(study.estimators)
    by = table.set_index("estimator")
    assert by.loc["ols", "reference"] and not by.loc["lad", "reference"]
    assert list(by.loc[["ols", "wls", "lad", "huber"], "loss"]) == [
        "squared",
        "weighted_squared",
        "absolute",
        "huber",
    ]
    ridge = by.loc["ridge-penalty10"]
    assert (ridge["family"], ridge["parameter"], ridge["value"]) == ("ridge", "penalty", 10)
    assert (ridge["penalty"], ridge["lambda"], ridge["k"], ridge["method"]) == (
        "l2",
        10,
        "",
        "ridge",
    )
    assert list(table["anchor"]) == [e in study.anchor_estimators() for e in study.estimators]
    assert by.loc["ols_hc3", "se"] == "hc3" and by.loc["ols", "family"] == "ols"
    assert by.loc["ols", "parameter"] == "" and by.loc["huber", "k"] == 1.345
    gd = by.loc["gd_squared-lr_relative1.01"]
    assert (gd["family"], gd["parameter"], gd["solver"], gd["steps"]) == (
        "gd_squared",
        "lr_relative",
        "gd",
        1000,
    )
    assert gd["scenarios"] == "train_*" and by.loc["ols", "scenarios"] == ""
    # the written file reads back with the same cells
    out = io.StringIO(table.to_csv(index=False))
    back = pd.read_csv(out, keep_default_na=False)
    assert list(back.columns) == list(table.columns)


def test_an_explicit_spec_is_its_shorthand_and_keeps_no_method_word():
    config = {
        **DEFAULT,
        "estimators": {
            "ols": {"method": "ols"},
            "l2": {"loss": "squared", "se": "hc3"},
            "r": {"loss": "squared", "penalty": "l2", "lambda": 3.0},
            "rs": {"loss": "squared", "penalty": "l2", "sweep": {"lambda": [1, 10]}},
        },
    }
    study = load_study(config)
    assert study.estimators["l2"] == {"method": "ols", "se": "hc3"}
    assert study.estimators["r"] == {"method": "ridge", "penalty": 3.0}
    assert study.estimators["rs-lambda10"] == {"method": "ridge", "penalty": 10}
    table = methods.estimators_table(study).set_index("estimator")
    assert table.loc["l2", "method"] == "" and table.loc["ols", "method"] == "ols"
    assert table.loc["rs-lambda1", "parameter"] == "lambda"


def test_shorthand_parameters_are_the_config_lists_of_the_first_studies():
    assert methods.shorthand_parameters() == {
        "ols": {"se": "classical"},
        "wls": {"predictor": 1, "strength": 1.0},
        "ridge": {"penalty": 1.0, "sigma": None},  # sigma: se: posterior only
        "lad": {},
        "huber": {"k": 1.345},
        # the L1 penalty's (tests/test_lasso.py)
        "elastic_net": {"penalty": 1.0, "mix": 0.5},
        "lasso": {"penalty": 1.0},
        "logit": {},  # classification (a bernoulli response)
        # the L2 penalty on the robust losses (tests/test_robust_ridge.py)
        "huber_ridge": {"k": 1.345, "penalty": 1.0},
        "lad_ridge": {"penalty": 1.0},
    }


def test_the_schema_takes_its_estimator_vocabulary_from_the_registry():
    from lossstudy.config import SCHEMA_PATH, with_registry

    props = with_registry(load_yaml(SCHEMA_PATH))["$defs"]["estimator"]["properties"]
    assert props["method"]["enum"] == list(methods.shorthands())
    assert props["loss"]["enum"] == list(methods.losses())
    assert props["solver"]["enum"] == list(methods.solvers())
    assert set(props["se"]["enum"]) == {s for f in methods.fits().values() for s in f.se}
    params = {n for a in methods.losses().values() for n in a.params}
    params |= {n for a in methods.penalties().values() for n in a.params}
    params |= {n for f in methods.fits().values() for n in f.params}
    assert params <= set(props)


def _error(estimators: dict) -> str:
    with pytest.raises(ConfigError) as info:
        load_study({**DEFAULT, "estimators": estimators})
    return str(info.value)


@pytest.mark.parametrize(
    ("estimator", "field", "words"),
    [
        ({"loss": "squared", "penalty": "l2", "se": "hc3"}, "se", "allowed values: none"),
        ({"loss": "absolute", "se": "classical"}, "se", "kernel"),
        ({"loss": "log_cosh", "penalty": "l2"}, "penalty", "no fit with penalty 'l2'"),
        ({"loss": "squared", "solver": "newton"}, "solver", "allowed values: exact"),
        ({"loss": "l3"}, "loss", "allowed values"),
        ({"loss": "huber", "predictor": 1}, "predictor", "not a parameter"),
        ({"method": "ols", "solver": "exact"}, "solver", "goes with 'loss'"),
        ({"method": "ols", "loss": "squared"}, "", "not both"),
        ({"se": "hc3"}, "", "not neither"),
        ({"loss": "squared", "penalty": "l2", "lambda": -1}, "lambda", ">= 0"),
    ],
)
def test_an_ill_fitting_spec_stops_at_load_naming_the_field(estimator, field, words):
    message = _error({"ols": {"method": "ols"}, "x": estimator})
    where = f"estimators.x.{field}" if field else "estimators.x"
    assert message.startswith(f"config error at '{where}': "), message
    assert words in message, message


def test_config_readme_documents_the_spec_keys_with_valid_examples():
    import re

    text = (ROOT / "config" / "README.md").read_text().split("## Estimators", 1)[1]
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip()[1:-1])]
        if line.startswith("| `") and cells[0].strip("`") in ("loss", "penalty", "solver", "se"):
            rows[cells[0].strip("`")] = cells
    assert set(rows) == {"loss", "penalty", "solver", "se"}
    for key, cells in rows.items():
        example = load_yaml_text(cells[3].strip("`"))
        (name, spec), *_ = example.items()
        assert key in spec, key
        study = load_study({**DEFAULT, "estimators": {"ols": {"method": "ols"}, **example}})
        assert name in study.estimators


def load_yaml_text(text: str) -> dict:
    import yaml

    return yaml.safe_load(text)


def test_every_loss_penalty_and_solver_is_documented():
    """docs/estimators.md has a table row for every registered loss, penalty and solver."""
    doc = (ROOT / "docs" / "estimators.md").read_text()
    rows = {line.split("|")[1].strip().strip("`") for line in doc.splitlines() if line[:3] == "| `"}
    registered = {*methods.losses(), *methods.penalties(), *methods.solvers()}
    assert registered <= rows, sorted(registered - rows)


def test_an_explicit_penalised_spec_is_stored_with_its_penalty_and_resolves_back():
    """LAD + L1 has no shorthand: its stored form keeps ``penalty: l1`` and λ as ``lambda``
    (the fit's keyword for λ is ``penalty``; stored under it, λ overwrote the axis)."""
    stored = methods.canonical({"loss": "absolute", "penalty": "l1", "lambda": 5.0})
    assert stored["penalty"] == "l1" and stored["lambda"] == 5.0
    assert methods.canonical(stored) == stored
    assert methods.resolve(stored).params == {"penalty": 5.0}
    assert (methods.fit_for(stored).loss, methods.fit_for(stored).penalty) == ("absolute", "l1")
