"""The Huber-against-LAD benchmark (lossstudy.speed.huber) on a tiny study: one row per cell,
times that add up, and Huber's agreement with statsmodels RLM."""

from __future__ import annotations

import numpy as np

from lossstudy.config import load_study
from lossstudy.speed import huber as bench

STUDY = {
    "seed": 3,
    "replicates": 40,
    "defaults": {"n": 30, "coefficients": [1.0, 0.5, 0.0]},
    "scenarios": {"gm": {}, "heavy": {"errors": {"distribution": "t", "df": 3}}},
    "estimators": {"lad": {"method": "lad"}, "huber": {"method": "huber"}},
}


def test_rows_totals_and_agreement_with_rlm() -> None:
    lines: list[str] = []
    out = bench.run(load_study(STUDY), ["gm", "heavy"], 30, 1, 6, log=lines.append)
    assert set(out["cells"]) == {"gm", "heavy"}
    for row in out["cells"].values():
        assert row["huber_ms_per_1000"] > 0 and row["lad_ms_per_1000"] > 0
        assert np.isclose(row["ratio"], row["huber_ms_per_1000"] / row["lad_ms_per_1000"])
        assert row["irls_iterations_per_fit"] > 1
        assert row["statuses_equal_to_rlm"] and row["max_abs_coef_difference_to_rlm"] < 1e-8
    total = sum(r["huber_ms_per_1000"] for r in out["cells"].values())
    assert np.isclose(out["huber_ms_per_1000"], total)
    assert len(lines) == 5 and lines[-1].startswith("load average")


def test_unknown_cell_is_an_error(capsys) -> None:
    import pytest

    with pytest.raises(SystemExit):
        bench.main(["--cells", "no_such_cell"])
    assert "no such cells" in capsys.readouterr().err
