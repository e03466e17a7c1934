"""The light-weight quantile functions equal scipy.stats bit for bit."""

import numpy as np
import pytest
from scipy import stats

from lossstudy.distributions import norm_pdf, norm_ppf, t_ppf

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
