"""Key membership: the same answer as pandas' isin, on text keys through Arrow."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecomlib.keys import isin


def test_hand_computed_mask_keeps_the_index_and_treats_missing_values_like_pandas():
    values = pd.Series(["o1", "o2", None, "o3"], dtype="str", index=[10, 20, 30, 40], name="order_id")
    mask = isin(values, pd.Series(["o3", "o1", "o9"], dtype="str"))
    assert mask.tolist() == [True, False, False, True]
    assert mask.index.tolist() == [10, 20, 30, 40] and mask.name == "order_id" and mask.dtype == bool
    assert isin(values, pd.Series(["o2", None], dtype="str")).tolist() == [False, True, True, False]
    assert isin(values, pd.Series([], dtype="str")).tolist() == [False] * 4


@pytest.mark.parametrize("keys", [
    pd.Index(["b", "c"], dtype="str"), np.array(["b", "c"], dtype=object), ["b", "c"],
    pd.Series(["b"], dtype="category"), pd.Series([1, 2]),
])
def test_other_kinds_of_keys_give_pandas_answer(keys):
    values = pd.Series(["a", "b", "c", None], dtype="str")
    pd.testing.assert_series_equal(isin(values, keys), values.isin(keys))


def test_non_text_values_go_to_pandas():
    values = pd.Series([1, 2, 3])
    assert isin(values, pd.Series([2, 5])).tolist() == [False, True, False]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "订单", "c d", ""])), max_size=12),
       st.lists(st.one_of(st.none(), st.sampled_from(["a", "订单", "", "z"])), max_size=6))
def test_agrees_with_pandas_isin(values, keys):
    v, k = pd.Series(values, dtype="str"), pd.Series(keys, dtype="str")
    pd.testing.assert_series_equal(isin(v, k), v.isin(k))
