"""Return rates, supplier KPIs and ROAS by channel and day: the SQL reductions give the pandas answers (issue 18).

On the demo store the same tables come out of pandas, DuckDB and local Spark (counts exact, money and rates to
rtol 1e-9: sums added in another order differ in the last bits); hand-made tables check the rules where ties,
missing values, duplicates and empty groups matter (DuckDB); the reviews' pages are the same with an engine.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from ecomlib import ads, load_dataset, returns, suppliers
from ecomlib.engine import DuckDBEngine
from ecomlib.errors import ParameterError
from ecomlib.periods import Period, parse_period

WEEK = parse_period("2026-W47")
TABLES = ["orders", "order_items", "products", "returns", "suppliers", "purchase_orders", "ad_spend"]


def _same(expected: pd.DataFrame, got: pd.DataFrame, rtol: float = 1e-9) -> None:
    pd.testing.assert_frame_equal(expected.reset_index(drop=True), got.reset_index(drop=True), rtol=rtol)


@pytest.fixture(scope="module")
def demo_rates(demo_dir):
    """The demo tables the three reductions read, loaded once (the pandas reference)."""
    return load_dataset(demo_dir, tables=TABLES)


@pytest.fixture(scope="module")
def sold_returned(demo_rates):
    """What returns.compute passes to return_rates for WEEK: sales before its end, returns known at its end."""
    ds = demo_rates
    sold = returns.sold_lines(ds.orders, ds.order_items, ds.products, suppliers=ds.suppliers)
    sold = sold[sold["order_time"] < WEEK.end]
    return sold, returns.return_lines(ds.returns, sold, as_of=WEEK.end)


@pytest.fixture(scope="module")
def ad_orders(demo_rates):
    """What ads.compute passes to performance: cleaned ad_spend, orders with text channels."""
    ad, _ = ads._clean_spend(demo_rates.ad_spend)
    return ad, demo_rates.orders.assign(channel=ads._text(demo_rates.orders["channel"]).to_numpy())


@pytest.fixture(scope="module")
def duck(demo_dir):
    return DuckDBEngine(demo_dir)


# --- the demo store: pandas vs DuckDB vs Spark (two queries per reduction on Spark) ------------------------------
def test_return_rates_by_category_and_sku_equal_pandas_on_every_engine(sql_engine, sold_returned):
    sold, ret = sold_returned
    window = returns.sales_window(WEEK)
    for by in ("category", "sku"):
        _same(returns.return_rates(sold, ret, by=by, window=window),
              returns.return_rates_on(sql_engine, window=window, as_of=WEEK.end, by=by))


def test_supplier_kpis_equal_pandas_on_every_engine(sql_engine, demo_rates):
    lines = suppliers.delivery_lines(demo_rates.purchase_orders, as_of=WEEK.end)
    window = suppliers.trailing_window(WEEK)
    expected = suppliers.supplier_kpis(lines, window=window)
    assert expected["n_open"].sum() > 0 and expected["n_late"].sum() > 0  # the demo has open and late lines
    _same(expected, suppliers.supplier_kpis_on(sql_engine, as_of=WEEK.end, window=window))


def test_roas_by_channel_and_day_and_campaign_and_week_equal_pandas_on_every_engine(sql_engine, ad_orders):
    ad, orders = ad_orders
    history = ads.history_window(WEEK, 180)
    daily = ads.performance(ad, orders, period=history, freq="D")
    assert daily["store_orders"].sum() > 0 and len(daily) > 100
    _same(daily, ads.performance_on(sql_engine, period=history, freq="D"))
    weekly = ads.performance(ad, orders, period=history, level="campaign", freq="W")
    assert (weekly["date"].dt.day_of_week == 0).all()  # ISO weeks start on Monday on every engine
    _same(weekly, ads.performance_on(sql_engine, period=history, level="campaign", freq="W"))


# --- the other shapes compute uses, on DuckDB -----------------------------------------------------------------
def test_return_rates_overall_channel_supplier_and_an_empty_window_on_duckdb(duck, sold_returned, demo_rates):
    sold, ret = sold_returned
    channel = {"channel": demo_rates.orders["channel"].dtype}
    window = returns.sales_window(WEEK)
    for win, by in ((window, None), (window, "channel"), (window, ["supplier_id", "sku"]), (window.previous(), None),
                    (window.previous(), "category")):
        _same(returns.return_rates(sold, ret, by=by, window=win),
              returns.return_rates_on(duck, window=win, as_of=WEEK.end, by=by, dtypes=channel))
    before = Period(pd.Timestamp("2020-01-01"), pd.Timestamp("2020-02-01"), "custom")
    empty = returns.return_rates_on(duck, window=before, as_of=WEEK.end)
    _same(returns.return_rates(sold, ret, window=before), empty)
    assert empty.empty


def test_supplier_kpis_other_groupings_and_rules_on_duckdb(duck, demo_rates):
    po = demo_rates.purchase_orders
    for period in (WEEK, parse_period("2025-W20")):  # the second: the first weeks of the data, lines still open
        window = suppliers.trailing_window(period)
        rules = {"on_time_tolerance_days": 0.0, "fill_threshold": 0.9, "early_tolerance_days": 2.0}
        lines = suppliers.delivery_lines(po, as_of=period.end, **rules)
        for by in (None, "sku", ["supplier_id", "sku"]):
            _same(suppliers.supplier_kpis(lines, window=window, by=by),
                  suppliers.supplier_kpis_on(duck, as_of=period.end, window=window, by=by, **rules))


def test_performance_other_shapes_on_duckdb(duck, ad_orders):
    ad, orders = ad_orders
    history = ads.history_window(WEEK, 180)
    for period, level, freq in ((WEEK, "channel", None), (WEEK, "campaign", None), (history, "channel", "W"),
                                (WEEK, "campaign", "D")):
        _same(ads.performance(ad, orders, period=period, level=level, freq=freq),
              ads.performance_on(duck, period=period, level=level, freq=freq))
    kept = ad[ad["channel"] != "video"]
    _same(ads.performance(kept, orders, period=WEEK, freq="D"),
          ads.performance_on(duck, period=WEEK, freq="D", exclude=["video"]))


# --- the rules on hand-made tables (DuckDB) ----------------------------------------------------------------------
def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as the loader types them (pandas' ``str``, missing values NaN)."""
    return frame.astype({c: "str" for c in frame.columns if frame[c].dtype == object})


def _store(tmp_path, **frames) -> DuckDBEngine:
    """The frames as Parquet tables of a dataset folder, and a DuckDB engine on it."""
    for name, frame in frames.items():
        times = {c: "datetime64[us]" for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])}
        frame.astype(times).to_parquet(tmp_path / f"{name}.parquet", index=False)
    return DuckDBEngine(tmp_path)


def _times(values) -> pd.Series:
    return pd.to_datetime(pd.Series(values, dtype=object), format="ISO8601").astype("datetime64[ns]")  # as loaded


def test_return_rates_sql_rules_on_edge_cases(tmp_path):
    """Ties, a line returned beyond its units, a return after as_of, an unmatched return, a product without a
    category, orders outside the window or not sold, and a group that sold but had no return."""
    orders = _typed(pd.DataFrame({
        "order_id": ["O1", "O2", "O3", "O4", "O5", "O6"], "customer_id": ["c1", "c2", "c3", "c1", "c4", "c5"],
        "order_time": _times(["2026-01-05 10:00", "2026-01-10 09:00", "2026-01-06", "2026-02-20", "2026-01-07",
                              "2026-01-31 23:59:59"]),
        "channel": ["a", "b", "a", "a", "b", "b"],
        "status": ["completed", "refunded", "cancelled", "completed", "partially_refunded", "completed"],
        "revenue": [10.0] * 6, "shipping_fee": [0.0] * 6}))
    items = _typed(pd.DataFrame({"order_id": ["O1", "O1", "O2", "O3", "O4", "O5", "O6"],
                                 "sku": ["A", "B", "A", "A", "B", "C", "B"], "quantity": [2, 1, 1, 1, 3, 1, 4],
                                 "unit_price": [5.0] * 7}))
    products = _typed(pd.DataFrame({"sku": ["A", "B", "C"], "product_name": ["a", "b", "c"],
                                    "category": ["X", "Y", None], "supplier_id": ["S1", "S1", None],
                                    "unit_cost": [1.0, 1.0, 1.0]}))
    rets = _typed(pd.DataFrame({
        "return_id": ["R1", "R2", "R3", "R4", "R5", "R6"], "order_id": ["O1", "O1", "O2", "O9", "O5", "O4"],
        "sku": ["A", "A", "A", "Z", "C", "B"],
        "returned_at": _times(["2026-01-10", "2026-01-10", "2026-03-05", "2026-01-12", "2026-01-15", "2026-02-25"]),
        "quantity": [1, 2, 1, 1, 1, 1], "reason_code": [None] * 6, "reason_text": ["x"] * 6,
        "refund_amount": [5.0, 10.0, 5.0, 5.0, 5.0, 5.0], "resellable": [True] * 6}))
    eng = _store(tmp_path, orders=orders, order_items=items, products=products, returns=rets)
    as_of, window = pd.Timestamp("2026-03-01"), Period(pd.Timestamp("2026-01-01"), pd.Timestamp("2026-02-01"), "custom")
    sold = returns.sold_lines(orders, items, products)
    sold = sold[sold["order_time"] < as_of]
    ret = returns.return_lines(rets, sold, as_of=as_of)
    for by in (None, "category", "sku", "channel", "supplier_id"):
        expected = returns.return_rates(sold, ret, by=by, window=window)
        _same(expected, returns.return_rates_on(eng, window=window, as_of=as_of, by=by))
    total = returns.return_rates_on(eng, window=window, as_of=as_of).iloc[0]
    assert (total["units_sold"], total["units_returned"], total["units_over_returned"]) == (9, 3, 1)
    assert (total["orders"], total["orders_returned"], total["refund_amount"]) == (4, 2, 20.0)
    with pytest.raises(ValueError, match="return_rates_on groups by"):
        returns.return_rates_on(eng, window=window, as_of=as_of, by="reason")


def test_supplier_sql_rules_on_edge_cases(tmp_path):
    """Exact duplicate rows, a line shipped twice, an open late line, a receipt after as_of, a zero-quantity line,
    a receipt without quantities, an early receipt, and a line promised outside the window."""
    rows = [  # po_id, supplier, sku, ordered, promised, received, ordered qty, received, rejected, agreed, invoiced
        ("P1", "S1", "A", "2026-01-01", "2026-01-10", "2026-01-10", 100, 100.0, 0.0, 1.0, 1.0),
        ("P1", "S1", "A", "2026-01-01", "2026-01-10", "2026-01-10", 100, 100.0, 0.0, 1.0, 1.0),
        ("P2", "S1", "B", "2026-01-02", "2026-01-12", "2026-01-14 06:00", 50, 30.0, 1.0, 2.0, 2.0),
        ("P2", "S1", "B", "2026-01-02", "2026-01-12", "2026-01-20", 50, 25.0, 0.0, 2.0, 2.2),
        ("P3", "S2", "A", "2026-01-03", "2026-01-15", None, 40, None, None, 1.5, None),
        ("P4", "S2", "B", "2026-01-04", "2026-01-30", "2026-03-01", 10, 10.0, 0.0, 3.0, 3.0),
        ("P5", "S2", "C", "2026-01-05", "2026-01-18", "2026-01-18", 0, 5.0, 0.0, 1.0, 1.0),
        ("P6", "S1", "C", "2026-01-06", "2026-01-12", "2026-01-08", 20, None, None, 1.0, None),
        ("P7", "S2", "A", "2026-01-07", "2026-02-10", "2026-02-09", 10, 12.0, 1.0, 1.0, 0.9),
    ]
    po = _typed(pd.DataFrame(rows, columns=list(suppliers.PO_COLUMNS)))
    for c in ("ordered_at", "promised_at", "received_at"):
        po[c] = pd.to_datetime(po[c], format="ISO8601")
    eng = _store(tmp_path, purchase_orders=po)
    as_of, window = pd.Timestamp("2026-02-01"), Period(pd.Timestamp("2026-01-01"), pd.Timestamp("2026-02-01"), "custom")
    for rules in ({}, {"early_tolerance_days": 1.0, "fill_threshold": 0.5}):
        lines = suppliers.delivery_lines(po, as_of=as_of, **rules)
        for by in ("supplier_id", None, "sku"):
            _same(suppliers.supplier_kpis(lines, window=window, by=by),
                  suppliers.supplier_kpis_on(eng, as_of=as_of, window=window, by=by, **rules))
    overall = suppliers.supplier_kpis_on(eng, as_of=as_of, window=window, by=None).iloc[0]
    assert (overall["n_lines"], overall["n_open"], overall["n_open_late"], overall["n_deliveries"]) == (6, 2, 2, 4)
    empty = Period(pd.Timestamp("2025-01-01"), pd.Timestamp("2025-02-01"), "custom")  # one overall row, all zero
    _same(suppliers.supplier_kpis(suppliers.delivery_lines(po, as_of=as_of), window=empty, by=None),
          suppliers.supplier_kpis_on(eng, as_of=as_of, window=empty, by=None))
    with pytest.raises(ParameterError, match="supplier_id and/or sku"):
        suppliers.supplier_kpis_on(eng, as_of=as_of, window=window, by="warehouse")


def test_roas_sql_rules_on_edge_cases(tmp_path):
    """Keys with spaces, a non-finite spend row, a channel without ads, a day with orders but no ads, guests,
    first orders before the period, two ad rows at different times of one day, a campaign without revenue."""
    spend = _typed(pd.DataFrame({
        "date": _times(["2026-01-05", "2026-01-05", "2026-01-06", "2026-01-06 12:00", "2026-01-06", "2026-01-07",
                        "2026-01-07", "2026-01-13"]),
        "channel": ["a ", "a", "a", "a", "b", "b", "b", "a"],
        "campaign": ["c1", "c2", "c1", "c1", "c3", "c3", "c3", "c1"],
        "impressions": [1000, 500, 800, 200, 300, 400, 400, 100], "clicks": [10, 5, 8, 2, 3, 4, 4, 1],
        "spend": [100.0, 50.0, 80.0, 20.0, 30.0, float("inf"), 40.0, 10.0],
        "platform_conversions": [2.0, 1.0, None, 1.0, 0.0, 1.0, 1.0, 0.0],
        "platform_revenue": [300.0, 0.0, 200.0, 50.0, 0.0, 90.0, 90.0, 0.0]}))
    orders = _typed(pd.DataFrame({
        "order_id": ["O1", "O2", "O3", "O4", "O5", "O6", "O7", "O8"],
        "customer_id": ["u1", "u1", "u2", None, "u3", "u4", "u2", "u5"],
        "order_time": _times(["2026-01-01", "2026-01-05 10:00", "2026-01-06 09:00", "2026-01-06 10:00",
                              "2026-01-08 11:00", "2026-01-06", "2026-01-07", "2026-01-05"]),
        "channel": ["a", "a", "a", "b", "a", "z", "b", "b"],
        "status": ["completed", "completed", "partially_refunded", "completed", "completed", "completed",
                   "completed", "cancelled"],
        "revenue": [50.0, 120.0, 80.0, 40.0, 60.0, 70.0, 30.0, 99.0]}))
    eng = _store(tmp_path, ad_spend=spend, orders=orders)
    ad, dropped = ads._clean_spend(spend)
    assert dropped == 1
    text = orders.assign(channel=ads._text(orders["channel"]).to_numpy())
    week = Period(pd.Timestamp("2026-01-05"), pd.Timestamp("2026-01-12"), "custom")
    for level in ("channel", "campaign"):
        for freq in (None, "D", "W"):
            _same(ads.performance(ad, text, period=week, level=level, freq=freq),
                  ads.performance_on(eng, period=week, level=level, freq=freq))
    _same(ads.performance(ad[ad["channel"] != "b"], text, period=week, freq="D"),
          ads.performance_on(eng, period=week, freq="D", exclude=["b"]))
    channels = ads.performance_on(eng, period=week).set_index("channel")
    assert "z" not in channels.index  # orders of a channel that never had an ad
    # a: first orders of u2 and u3 (u1's was before the week), three distinct ad dates (two on the 6th);
    # b: a guest and a returning customer, the cancelled order left out
    assert (channels.loc["a", "new_customers"], channels.loc["a", "days"], channels.loc["a", "spend"]) == (2, 3, 250.0)
    assert (channels.loc["b", "new_customers"], channels.loc["b", "store_orders"]) == (0, 2)
    with pytest.raises(ParameterError):
        ads.performance_on(eng, period=week, freq="M")


# --- the reviews: the same page with the tables left to DuckDB --------------------------------------------------
def test_returns_review_tables_equal_on_duckdb(demo_dir):
    ds = returns.load(demo_dir, engine="duckdb")
    on_pandas = returns.compute(dataclasses.replace(ds), WEEK)  # the same tables, without the engine
    on_duckdb = returns.compute(ds, WEEK)
    assert ds.engine.name == "duckdb" and ds.engine.queries >= 5
    assert on_pandas.tables.keys() == on_duckdb.tables.keys() and on_pandas.gaps.keys() == on_duckdb.gaps.keys()
    for name in ("rate", "by_channel", "rate_change", "change"):
        _same(on_pandas.tables[name], on_duckdb.tables[name])
    assert on_duckdb.values["return_rate"] == pytest.approx(on_pandas.values["return_rate"], rel=1e-12)


def test_supplier_review_tables_equal_on_duckdb(demo_dir):
    ds = suppliers.load(demo_dir, engine="duckdb")
    on_pandas = suppliers.compute(dataclasses.replace(ds), WEEK)  # the same tables, without the engine
    on_duckdb = suppliers.compute(ds, WEEK)
    assert ds.engine.queries >= 2 and on_pandas.gaps.keys() == on_duckdb.gaps.keys()
    for name in ("kpis", "overall", "scorecard", "worst_kpis", "versus_rest"):
        _same(on_pandas.tables[name], on_duckdb.tables[name])
    assert on_duckdb.values["worst_supplier"] == on_pandas.values["worst_supplier"]
    for key in ("otif_rate", "fill_rate", "reject_ppm", "money_at_stake", "n_ranked"):
        assert on_duckdb.values[key] == pytest.approx(on_pandas.values[key], rel=1e-9), key


def test_ads_review_tables_equal_on_duckdb(demo_dir):
    ds = ads.load(demo_dir, engine="duckdb")
    on_pandas = ads.compute(dataclasses.replace(ds), WEEK, n_boot=20)  # the same tables, without the engine
    on_duckdb = ads.compute(ds, WEEK, n_boot=20)
    assert ds.engine.queries >= 4 and on_pandas.gaps.keys() == on_duckdb.gaps.keys()
    for name in ("channels", "campaigns", "weekly", "weeks_below", "pacing"):
        _same(on_pandas.tables[name], on_duckdb.tables[name])
    # The response curves are fitted to the daily table (equal to 1e-9 above); the optimiser carries the last-bit
    # differences of the revenue sums into the fitted parameters at about 1e-7 — far below any shown digit.
    for name in ("curves", "realloc"):
        _same(on_pandas.tables[name], on_duckdb.tables[name], rtol=1e-4)
    for key in ("spend", "mer", "store_roas", "spend_below_break_even", "share_below_break_even"):
        assert np.isclose(on_duckdb.values[key], on_pandas.values[key], rtol=1e-9, equal_nan=True), key
