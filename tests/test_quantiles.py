"""The light-weight quantile functions equal scipy.stats bit for bit."""

import numpy as np
import pytest
from scipy import stats

from lossstudy.quantiles import norm_pdf, norm_ppf, t_ppf

Q = np.linspace(0.0005, 0.9995, 4001)


def test_norm_ppf_and_pdf_equal_scipy_stats():
    assert np.array_equal(norm_ppf(Q), stats.norm.ppf(Q))
    z = np.linspace(-8, 8, 4001)
    assert np.array_equal(norm_pdf(z), stats.norm.pdf(z))


@pytest.mark.parametrize("df", [1, 2, 3, 4.5, 20, 95, 395, 10_000])
def test_t_ppf_equals_scipy_stats(df):
    assert np.array_equal(t_ppf(Q, df), stats.t.ppf(Q, df))


def test_mad_constant_is_the_normal_quartile():
    from statsmodels.robust.scale import mad

    from lossstudy.vectorized import MAD_C

    assert MAD_C == norm_ppf(3 / 4.0) == stats.norm.ppf(3 / 4.0)
    x = np.array([-2.0, -1.0, 0.0, 1.0, 5.0])
    assert mad(x, center=0.0) == np.median(np.abs(x)) / MAD_C


def test_quantiles_import_no_other_module_of_the_package():
    """The bottom layer the estimators and the fit engines share: an import of lossstudy here
    (even inside a function) would run back up the layers, as ``hall_sheather`` from
    ``estimators`` once did."""
    import ast
    from pathlib import Path

    import lossstudy.quantiles

    tree = ast.parse(Path(lossstudy.quantiles.__file__).read_text())
    imported = [
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    ]
    assert imported and not [m for m in imported if m.startswith("lossstudy")]


def test_hall_sheather_is_statsmodels_bandwidth():
    from statsmodels.regression.quantile_regression import hall_sheather as reference

    from lossstudy.quantiles import hall_sheather

    for n in (25, 100, 400, 10_000):
        assert hall_sheather(n, 0.5) == pytest.approx(reference(n, 0.5), rel=1e-14)
