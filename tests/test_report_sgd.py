"""SGD swept over an absolute step size: the rows the figure and the report sentences read
(``trained.sgd_lr_rows``), the figure, and the sentences' numbers (synthetic rows shaped as
``estimators.csv``, ``performance.csv`` and ``theory.csv``)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from lossstudy.figures.stationary import fig_sgd_steps, sgd_steps_alt  # noqa: E402
from lossstudy.report.training_section import _sgd_sentences  # noqa: E402
from lossstudy.trained import sgd_lr_rows  # noqa: E402

LRS = (0.01, 0.1, 0.3, 0.5)
NS = (25, 400)


def frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    est, perf, theory = [], [], []
    est.append({"estimator": "ols", "family": "ols", "loss": "squared", "solver": "exact"})
    for loss in ("squared", "huber"):
        for lr in LRS:
            name = f"sgd1_{loss}-lr{lr:g}"
            est.append(
                {
                    "estimator": name,
                    "family": f"sgd1_{loss}",
                    "loss": loss,
                    "solver": "sgd",
                    "lr": lr,
                    "lr_relative": np.nan,
                    "batch_size": 1,
                    "epochs": 1,
                    "steps": np.nan,
                    "delta": 1.345 if loss == "huber" else np.nan,
                }
            )
            for n in NS:
                sid = f"streaming-n{n}"
                blow = loss == "squared" and lr >= 0.5
                share = 1.0 if (blow and n == 400) else (0.25 if blow else 0.0)
                risk = 0.1 + lr if not blow else 1e4
                for measure, value, mcse in (
                    ("risk", risk, 0.01),
                    ("divergence", share, np.sqrt(share * (1 - share) / 1000)),
                ):
                    perf.append(
                        {
                            "scenario": sid,
                            "estimator": name,
                            "term": "model",
                            "measure": measure,
                            "value": value,
                            "mcse": mcse,
                            "n_used": 1000,
                            "defined": True,
                        }
                    )
                if loss == "squared" and not blow:
                    z = 0.5 if lr != 0.3 else -3.5
                    theory.append(
                        {
                            "scenario": sid,
                            "estimator": name,
                            "term": "model",
                            "quantity": "risk",
                            "theoretical": risk - z * 0.01,
                            "relation": "=",
                            "z": z,
                            "flag": abs(z) > 3,
                            "kind": "exact",
                        }
                    )
    scen = pd.DataFrame(
        {
            "scenario": [f"streaming-n{n}" for n in NS],
            "base": "streaming",
            "n": list(NS),
            "errors.distribution": "normal",
        }
    )
    return pd.DataFrame(perf), pd.DataFrame(est), scen, pd.DataFrame(theory)


def test_rows_join_risk_divergence_and_exact_theory():
    perf, est, scen, theory = frames()
    rows = sgd_lr_rows(perf, est, scen, theory)
    assert set(rows.estimator) == set(est.estimator) - {"ols"}
    assert len(rows) == 2 * len(LRS) * len(NS) * 2
    risk = rows[(rows.measure == "risk") & (rows.loss == "squared") & (rows.lr < 0.5)]
    assert risk.theoretical.notna().all() and len(risk) == 3 * len(NS)
    assert rows[rows.measure == "divergence"].theoretical.isna().all()
    assert rows[rows.loss == "huber"].theoretical.isna().all()
    # an unswept SGD member, or one at a relative step, is not a row
    extra = pd.concat(
        [
            est,
            pd.DataFrame(
                [
                    {
                        "estimator": "x",
                        "family": "x",
                        "loss": "squared",
                        "solver": "sgd",
                        "lr": np.nan,
                        "lr_relative": 0.1,
                    }
                ]
            ),
        ]  # fmt: skip
    )
    assert "x" not in set(sgd_lr_rows(perf, extra, scen, theory).estimator)


def test_figure_and_alt_text():
    perf, est, scen, theory = frames()
    rows = sgd_lr_rows(perf, est, scen, theory)
    fig = fig_sgd_steps(rows)
    assert fig is not None
    axes = fig.axes
    assert len([a for a in axes if a.get_xscale() == "log"]) == 2 * len(NS)
    alt = sgd_steps_alt(rows)
    assert "squared (L2): fits diverge from η = 0.5" in alt
    assert "Huber: no fit diverges up to η = 0.5" in alt
    assert "6 risk values beside exact theory, largest |z| 3.5" in alt
    assert fig_sgd_steps(rows.iloc[0:0]) is None


def test_sentences_give_the_onset_per_loss_and_the_agreement_with_theory():
    perf, est, scen, theory = frames()
    text = " ".join(_sgd_sentences(sgd_lr_rows(perf, est, scen, theory)))
    assert (
        "SGD on the squared (L2) loss at n = 400: 100% (MCSE 0) of fits diverge at η = 0.5" in text
    )
    assert "none up to η = 0.3" in text
    assert (
        "SGD on the Huber loss at n = 400: no fit diverges at any step size up to η = 0.5" in text
    )
    assert "matches exact streaming-SGD theory in 4 of 6 cells and step sizes" in text
    assert "2 flagged" in text
