"""The R comparison benchmark: it skips with a message without R (CI never needs R) and, where
Rscript with quantreg and MASS exists, times both sides on the same data."""

from __future__ import annotations

import shutil

import pytest

from lossstudy.speed import benchmark, benchmark_r


def test_skips_cleanly_without_rscript(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path
) -> None:
    monkeypatch.setattr(benchmark_r.shutil, "which", lambda name: None)
    out = tmp_path / "r.json"
    assert benchmark.main(["--versus-r", "--sizes", "25", "--out", str(out)]) == 0
    assert "skipping the R comparison: Rscript not found" in capsys.readouterr().out
    assert not out.exists()


@pytest.mark.skipif(
    shutil.which("Rscript") is None or benchmark_r.r_available() is not None,
    reason="R with quantreg and MASS is optional (not in CI)",
)
def test_times_both_sides_on_the_same_data() -> None:
    lines: list[str] = []
    result = benchmark_r.run([30], replicates=60, repeats=1, log=lines.append)
    assert result is not None
    rows = result["rows"]
    assert {r["r_method"] for r in rows} == set(benchmark_r.R_METHODS)
    for r in rows:
        assert r["vec_ms_wall"] > 0 and r["r_ms_wall"] > 0 and r["replicates"] == 60
        if r["estimator"] == "lad":  # both exact L1 optima (unique for continuous data)
            assert r["max_abs_coef_diff"] < 1e-8
        else:  # same ψ and MAD scale; R's 0.6745 and looser stop differ slightly
            assert r["max_abs_coef_diff"] < 1e-2
    assert any("load average" in line for line in lines)
