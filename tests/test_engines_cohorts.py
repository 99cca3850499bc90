"""The cohort matrix and the customer summary on query engines (ecomlib/sql/cohort_matrix.sql,
ecomlib/sql/customer_summary.sql): equal to the pandas functions on the demo store on DuckDB and local Spark, a
hand-made order log on DuckDB, and the cohort review's compute() with an engine equal to compute() without."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from ecomlib import cohorts, ltv
from ecomlib.cohorts import completed_orders
from ecomlib.errors import ParameterError, PeriodError
from ecomlib.periods import parse_period

PERIOD = parse_period("2026-W47")  # the demo's last week: orders run to 2026-11-22
RTOL = 1e-9  # floats are sums of the same numbers in another order; counts are compared exactly


def _equal(expected: pd.DataFrame, got: pd.DataFrame) -> None:
    """Same columns, dtypes, index and rows; integer columns exact, float columns to RTOL."""
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=RTOL, atol=0)
    for col in expected.columns:
        if not pd.api.types.is_float_dtype(expected[col]):
            assert got[col].tolist() == expected[col].tolist(), col


@pytest.fixture(scope="module")
def counted(demo_tables) -> pd.DataFrame:
    """What the review's compute() hands cohort_table and customer_summary: counted orders net of refunds,
    placed before the period end."""
    out = completed_orders(demo_tables.orders, returns=demo_tables.returns)
    return out.loc[out["order_time"] < PERIOD.end]


# The demo store on DuckDB and Spark --------------------------------------------------------------------------
@pytest.mark.parametrize("freq", ["M", "W"])
def test_cohort_matrix_equals_pandas_on_the_demo(sql_engine, counted, demo_tables, freq):
    expected = cohorts.cohort_table(counted, freq=freq, customers=demo_tables.customers, end=PERIOD.end)
    got = cohorts.cohort_table_on(sql_engine, freq=freq, end=PERIOD.end, basis="net")
    assert len(expected) > 100 and expected["active_customers"].sum() > 10_000  # a real matrix, not an empty one
    _equal(expected, got)


def test_customer_summary_equals_pandas_on_the_demo(sql_engine, counted):
    expected = ltv.customer_summary(counted, PERIOD.last_day, time_unit="W")
    got = ltv.customer_summary_on(sql_engine, PERIOD.last_day, time_unit="W", basis="net", end=PERIOD.end)
    assert len(expected) > 10_000 and (expected["frequency"] > 0).sum() > 1_000
    _equal(expected, got)
    assert got.index.name == "customer_id" and got.attrs == expected.attrs


# A hand-made order log on DuckDB: same-day orders, guests, statuses, refunds, empty periods, ISO weeks -------------
ROWS = [  # order_id, customer_id, order_time, status, revenue
    ("o1", "a", "2025-01-05 09:00", "completed", 100.0),  # a: Sunday of ISO week 2025-W01
    ("o2", "a", "2025-01-05 18:00", "completed", 20.0),  # the same day: one purchase of 120
    ("o3", "a", "2025-03-03 10:00", "partially_refunded", 50.0),  # refunds 30 + 40 > 50: net 0 (never below 0)
    ("o4", "a", "2025-03-10 10:00", "cancelled", 999.0),  # not a purchase
    ("o5", "b", "2025-01-06 00:00", "completed", 80.0),  # b: Monday of ISO week 2025-W02, same month as a
    ("o6", "b", "2025-02-01 10:00", "pending", 60.0),  # not (yet) a purchase
    ("o7", None, "2025-01-10 10:00", "completed", 300.0),  # guest: no customer metric
    ("o8", "c", "2025-02-28 23:59", "refunded", 70.0),  # c never bought: no cohort
    ("o9", "d", "2025-02-14 12:00", "completed", 40.0),  # d: refund of unknown amount (NULL) = 0
    ("o10", "d", "2025-04-02 12:00", "completed", 25.0),  # after the cut-off
]
REFUNDS = [("o3", 30.0), ("o3", 40.0), ("o9", None), ("o7", 10.0)]
CUTOFF = pd.Timestamp("2025-03-20")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The hand-made log as Parquet (typed as loaded: timestamps, text ids, float money) and a DuckDB engine on it."""
    from ecomlib.engine import DuckDBEngine

    orders = pd.DataFrame(ROWS, columns=["order_id", "customer_id", "order_time", "status", "revenue"])
    orders["order_time"] = pd.to_datetime(orders["order_time"]).astype("datetime64[us]")
    returns = pd.DataFrame(REFUNDS, columns=["order_id", "refund_amount"]).astype({"refund_amount": float})
    folder = tmp_path_factory.mktemp("cohorts-tiny")
    orders.to_parquet(folder / "orders.parquet", index=False)
    returns.to_parquet(folder / "returns.parquet", index=False)
    return orders, returns, DuckDBEngine(folder)


@pytest.mark.parametrize("basis", ["gross", "net"])
@pytest.mark.parametrize("freq", ["M", "W"])
def test_cohort_matrix_by_hand_on_duckdb(tiny, freq, basis):
    orders, returns, eng = tiny
    counted = completed_orders(orders, returns=returns if basis == "net" else None)
    expected = cohorts.cohort_table(counted, freq=freq, end=CUTOFF)
    got = cohorts.cohort_table_on(eng, freq=freq, end=CUTOFF, basis=basis)
    _equal(expected, got)
    if freq == "M":  # a and b in 2025-01 (Jan, empty Feb, Mar), d in 2025-02 (Feb, empty Mar)
        assert got["cohort"].tolist() == ["2025-01"] * 3 + ["2025-02"] * 2
        assert got["cohort_size"].tolist() == [2, 2, 2, 1, 1]
        assert got["active_customers"].tolist() == [2, 0, 1, 1, 0]
        assert got["revenue"].tolist() == ([200.0, 0.0, 50.0, 40.0, 0.0] if basis == "gross"
                                           else [200.0, 0.0, 0.0, 40.0, 0.0])
        assert got["complete"].tolist() == [True, True, False, True, False]
    else:  # Sunday 2025-01-05 is in ISO week 2025-W01, Monday 2025-01-06 starts 2025-W02
        assert got.groupby("cohort", sort=False)["cohort_size"].first().to_dict() == {
            "2025-W01": 1, "2025-W02": 1, "2025-W07": 1}


@pytest.mark.parametrize("time_unit", ["W", "D"])
def test_customer_summary_by_hand_on_duckdb(tiny, time_unit):
    orders, returns, eng = tiny
    counted = completed_orders(orders, returns=returns)
    last_day = pd.Timestamp("2025-03-31")
    expected = ltv.customer_summary(counted, last_day, time_unit=time_unit)
    got = ltv.customer_summary_on(eng, last_day, time_unit=time_unit, basis="net")
    _equal(expected, got)
    days = 7.0 if time_unit == "W" else 1.0
    # a: purchase days Jan 5 (100 + 20) and Mar 3 (50 - 70 → 0); d: Feb 14 only (Apr 2 is after the end)
    assert got.index.tolist() == ["a", "b", "d"]
    assert got.loc["a"].tolist() == [1.0, 57 / days, 85 / days, 0.0]
    assert got.loc["d"].tolist() == [0.0, 0.0, 45 / days, 0.0]
    gross = ltv.customer_summary_on(eng, last_day, time_unit=time_unit, basis="gross")
    assert gross.loc["a", "monetary_value"] == 50.0


def test_cut_offs_and_empty_results_on_duckdb(tiny):
    orders, _, eng = tiny
    # end before the day after observation_end: the earlier cut-off wins (a's March purchase is left out)
    cut = ltv.customer_summary_on(eng, "2025-03-31", basis="net", end=pd.Timestamp("2025-03-01"))
    assert cut.loc["a", "frequency"] == 0.0
    with pytest.raises(PeriodError, match=r"There is no data available up to 2024-12-31: the counted purchases "
                                          r"run from 2025-01-05 to 2025-04-02"):
        ltv.customer_summary_on(eng, "2024-12-31")
    # no cut-off: the data end on the day after the last counted order, as cohort_table decides
    expected = cohorts.cohort_table(completed_orders(orders), freq="M")
    _equal(expected, cohorts.cohort_table_on(eng, freq="M"))
    assert cohorts.cohort_table_on(eng, freq="M", end=pd.Timestamp("2025-01-01")).empty


def test_bad_options_name_the_valid_values(tiny):
    eng = tiny[2]
    with pytest.raises(ParameterError, match=r"freq='Q'.*\['M', 'W'\]"):
        cohorts.cohort_table_on(eng, freq="Q")
    with pytest.raises(ParameterError, match=r"basis='refunds'.*\['gross', 'net'\]"):
        ltv.customer_summary_on(eng, "2025-03-31", basis="refunds")
    with pytest.raises(ParameterError, match=r"time_unit='M'"):
        ltv.customer_summary_on(eng, "2025-03-31", time_unit="M")


# The review with an engine ------------------------------------------------------------------------------------
def test_compute_with_an_engine_equals_compute_without(demo_dir):
    """The cohort table and everything the customer summary feeds (model, predictions, rollups) are the same."""
    with_engine = cohorts.load(demo_dir, engine="duckdb")
    without = copy.copy(with_engine)
    without.engine = None
    expected = cohorts.compute(without, PERIOD)
    got = cohorts.compute(with_engine, PERIOD)
    assert sorted(got.tables) == sorted(expected.tables) and got.gaps == expected.gaps
    for name in ("cohort_table", "retention", "params", "predictions", "top_customers", "rollup_channel",
                 "rollup_cohort", "holdout"):
        pd.testing.assert_frame_equal(got.tables[name], expected.tables[name], check_exact=False, rtol=RTOL)
    for key, value in expected.values.items():
        if isinstance(value, float):
            assert got.values[key] == pytest.approx(value, rel=RTOL, nan_ok=True), key
        elif not isinstance(value, dict):
            assert got.values[key] == value, key
    assert with_engine.engine.queries >= 2 and with_engine.engine.rows_scanned > 0
    assert np.isfinite(got.values["clv_mean"])
