"""Shared statistics: the multiple-comparison adjustment and the minimum detectable difference, against references."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests

from ecomlib import ParameterError
from ecomlib.stats import adjust_pvalues, minimum_detectable_difference

P_VALUES = st.lists(st.one_of(st.floats(0, 1), st.just(float("nan"))), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(P_VALUES, st.sampled_from(["holm", "fdr_bh"]))
def test_adjustment_equals_statsmodels_and_skips_nan(p, method):
    p = np.array(p)
    ours = adjust_pvalues(p, method=method)
    ok = ~np.isnan(p)
    assert np.isnan(ours[~ok]).all()
    if ok.any():
        assert np.allclose(ours[ok], multipletests(p[ok], method=method)[1])
        assert (ours[ok] >= p[ok] - 1e-15).all() and (ours[ok] <= 1).all()


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04 → 3·0.01, max(0.03, 2·0.03), max(0.06, 1·0.04)
    assert adjust_pvalues([0.01, 0.04, np.nan, 0.03]).round(2).tolist()[:2] == [0.03, 0.06]
    with pytest.raises(ParameterError, match="method must be one of 'holm', 'fdr_bh', not 'bonf'"):
        adjust_pvalues([0.1], method="bonf")


def test_minimum_detectable_difference_by_hand():
    # (1.95996 + 0.84162) · sqrt(0.5 · 0.5 · (1/100 + 1/100)) = 2.80158 · 0.070711 = 0.19810
    assert float(minimum_detectable_difference(0.5, 100, 100)) == pytest.approx(0.19810, abs=1e-5)
    # a stricter level (Holm's first step over 10 tests) needs a larger change
    assert float(minimum_detectable_difference(0.5, 100, 100, alpha=0.005)) == pytest.approx(0.2580, abs=1e-4)
    out = minimum_detectable_difference([0.2, 0.2, 0.0, 1.0], [0, 50, 50, 50], [50, 50, 50, 50])
    assert np.isnan(out[[0, 2, 3]]).all() and out[1] > 0
