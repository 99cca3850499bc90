"""Inventory review: hand-made stock series and sales for every metric (cover, dead stock, stock-outs and lost
sales, turnover, ABC × XYZ, bootstrap reorder points, price index, price changes), errors, gaps on the ladder,
property tests, and the demo's planted stock-out, dead-stock category and undercut on every seed."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ecomlib as el
from ecomlib import demo_stock
from ecomlib import inventory as iv
from ecomlib.errors import MissingTableError, ParameterError
from ecomlib.periods import Period, parse_period
from tests.conftest import SEEDS

T = pd.Timestamp
DAYS = pd.date_range("2026-01-01", periods=10)
PERIOD = Period(T("2026-01-06"), T("2026-01-11"))  # the last five days


def sales_rows(rows):
    """(sku, day, units, revenue) tuples → a daily_sales-shaped table."""
    return pd.DataFrame(rows, columns=["sku", "day", "units", "revenue"]).astype({"day": "datetime64[ns]"})


def series(sku, on_hand):
    return pd.DataFrame({"sku": sku, "day": DAYS[:len(on_hand)], "on_hand": on_hand})


PRODUCTS = pd.DataFrame({"sku": ["A", "B", "C"], "product_name": ["a", "b", "c"], "category": ["x", "x", "y"],
                         "supplier_id": ["S1", "S1", "S2"], "unit_cost": [5.0, 2.0, 10.0]})


# Building blocks ---------------------------------------------------------------------------------------------

def test_daily_sales_leaves_out_cancelled_orders_and_bounds_the_days():
    o = pd.DataFrame({"order_id": ["1", "2", "3"], "status": ["completed", "cancelled", "pending"],
                      "order_time": pd.to_datetime(["2026-01-01 09:00", "2026-01-01 10:00", "2026-01-02 10:00"])})
    i = pd.DataFrame({"order_id": ["1", "2", "3"], "sku": ["A", "A", "A"], "quantity": [2, 5, 1],
                      "unit_price": [10.0, 10.0, 9.0]})
    out = iv.daily_sales(o, i)
    assert out[["units", "revenue"]].values.tolist() == [[2, 20.0], [1, 9.0]]
    assert len(iv.daily_sales(o, i, end="2026-01-02")) == 1


def test_stock_series_takes_the_days_last_count_sums_warehouses_and_takes_off_reserved():
    inv = pd.DataFrame({"sku": ["A"] * 4, "warehouse": ["w1", "w1", "w2", None],
                        "as_of": pd.to_datetime(["2026-01-01 08:00", "2026-01-01 20:00", "2026-01-01 12:00",
                                                 "2026-01-02 12:00"]),
                        "on_hand": [10, 7, 5, 4], "reserved": [0.0, 2.0, 1.0, None]})
    out = iv.stock_series(inv)
    assert out["on_hand"].tolist() == [5 + 4, 4]  # (7 − 2) + (5 − 1) on day 1; 4 on day 2


def test_stock_position_cover_status_and_cash_at_cost():
    inv = pd.DataFrame({"sku": ["A", "B", "C"], "as_of": T("2026-01-10 23:00"), "on_hand": [56, 40, 0]})
    # A: 28 units in the last 28 days → 1/day, 56 days of cover; B: last sale 100 days ago → dead; C: out
    sales = sales_rows([("A", "2026-01-05", 28, 280.0), ("B", "2025-10-02", 1, 5.0), ("C", "2026-01-09", 3, 30.0)])
    out = iv.stock_position(inv, sales, PRODUCTS, as_of=T("2026-01-10 23:59"), demand_days=28,
                            cover_target_days=30, dead_days=90).set_index("sku")
    assert out.loc["A", "days_of_cover"] == 56 and out.loc["A", "status"] == "over"
    assert out.loc["A", "excess_units"] == 56 - 30 and out.loc["A", "excess_value"] == 26 * 5.0
    assert out.loc["B", "status"] == "dead" and out.loc["B", "days_since_sale"] == 100
    assert out.loc["B", "stock_value"] == 80.0 and out.loc["B", "excess_value"] == 80.0  # all of dead stock
    assert out.loc["C", "status"] == "out" and out.loc["C", "excess_units"] == 0


def test_stock_position_never_sold_stock_is_dead_and_a_later_count_is_ignored():
    inv = pd.DataFrame({"sku": ["A", "A"], "as_of": pd.to_datetime(["2026-01-01", "2026-02-01"]), "on_hand": [3, 9]})
    out = iv.stock_position(inv, sales_rows([]), PRODUCTS, as_of="2026-01-15")
    assert out["on_hand"].tolist() == [3] and out["status"].tolist() == ["dead"]
    assert np.isnan(out["days_of_cover"].iloc[0]) and np.isnan(out["days_since_sale"].iloc[0])


def test_stockouts_lost_units_from_in_stock_days_with_interval():
    # A: in stock days 1–7 selling 4, 6, 4, 6, 4, 6, 4 (mean 34/7); out on days 8–10, 1 unit sold on day 8
    stock = series("A", [9, 9, 9, 9, 9, 9, 9, 0, 0, 0])
    units = [4, 6, 4, 6, 4, 6, 4, 1, 0, 0]
    sales = sales_rows([("A", d, u, 10.0 * u) for d, u in zip(DAYS, units) if u])
    out = iv.stockouts(stock, sales, period=PERIOD, lookback_days=10)
    r = out.iloc[0]
    mean, sd = 34 / 7, np.std([4, 6, 4, 6, 4, 6, 4], ddof=1)
    half = 2.4469118511449692 * sd / np.sqrt(7)  # t(0.975, 6)
    assert r["out_days"] == 3 and r["sold_while_out"] == 1 and r["in_stock_days"] == 7
    assert r["lost_units"] == pytest.approx(3 * mean - 1)
    assert r["lost_low"] == pytest.approx(3 * (mean - half) - 1)
    assert r["lost_high"] == pytest.approx(3 * (mean + half) - 1)
    assert r["unit_price"] == pytest.approx(10.0) and r["lost_revenue"] == pytest.approx(10 * (3 * mean - 1))
    assert r["first_out"] == DAYS[7] and r["last_out"] == DAYS[9]


def test_stockouts_only_count_days_inside_the_period_and_none_is_an_empty_table():
    stock = series("A", [0, 0, 5, 5, 5, 5, 5, 5, 5, 5])  # out only before the period
    assert iv.stockouts(stock, sales_rows([]), period=PERIOD).empty
    with pytest.raises(ParameterError, match="lookback_days must be a whole number of days ≥ 2, not 1"):
        iv.stockouts(stock, sales_rows([]), period=PERIOD, lookback_days=1)


def test_turnover_dio_and_sell_through_by_category_and_total():
    stock = pd.concat([series("A", [10, 6]), series("C", [4, 4])])
    sales = sales_rows([("A", "2026-01-02", 4, 40.0)])
    p = Period(T("2026-01-01"), T("2026-01-03"))
    by = iv.turnover(stock, sales, PRODUCTS, period=p).set_index("category")
    # x: COGS 4 × 5 = 20; average stock (50 + 30) / 2 = 40 → turnover 0.5, DIO 40 / (20 / 2) = 4, sell-through 4/10
    assert by.loc["x", ["cogs", "avg_stock_value", "turnover", "dio", "sell_through"]].tolist() == [20, 40, 0.5, 4, 0.4]
    assert np.isnan(by.loc["y", "dio"]) and by.loc["y", "turnover"] == 0
    total = iv.turnover(stock, sales, PRODUCTS, period=p, by=None).iloc[0]
    assert total["avg_stock_value"] == 80 and total["turnover"] == 0.25


def test_abc_by_revenue_share_and_xyz_by_weekly_variation():
    as_of = T("2026-03-01")
    days = pd.date_range(as_of - pd.Timedelta(days=28), periods=28)
    rows = [("A", d, 10, 800.0) for d in days]                            # steady: 80 % of revenue, X
    rows += [("B", days[0], 7, 150.0)]                                     # one week only: Z
    rows += [("C", d, 1, 50.0 / 4) for d in days[::7]]                     # one a week: X
    out = iv.abc_xyz(sales_rows(rows), PRODUCTS, as_of=as_of, lookback_days=28).set_index("sku")
    total = 28 * 800 + 150 + 50
    assert out.loc["A", "revenue_share"] == pytest.approx(22400 / total)
    assert out["abc"].to_dict() == {"A": "A", "B": "B", "C": "C"} or out.loc["A", "abc"] == "A"
    assert out.loc["A", "xyz"] == "X" and out.loc["B", "xyz"] == "Z" and out.loc["C", "xyz"] == "X"
    assert out.loc["B", "cv"] == pytest.approx(np.std([7, 0, 0, 0]) / 1.75)


def test_abc_crossing_sku_is_a_and_unsold_skus_are_c():
    sales = sales_rows([("A", "2026-02-20", 1, 70.0), ("B", "2026-02-20", 1, 20.0), ("C", "2026-02-20", 1, 10.0)])
    out = iv.abc_xyz(sales, PRODUCTS, as_of="2026-03-01", lookback_days=28).set_index("sku")["abc"]
    assert out.to_dict() == {"A": "A", "B": "A", "C": "B"}  # B crosses 80 %; C starts at 90 % (< 95 %)
    none = iv.abc_xyz(sales_rows([]), PRODUCTS, as_of="2026-03-01")
    assert set(none["abc"]) == {"C"} and set(none["xyz"]) == {"Z"}


def test_demand_pattern_syntetos_boylan():
    sales = sales_rows([("A", d, 5, 0.0) for d in pd.date_range("2026-01-01", periods=30)]
                       + [("B", "2026-01-05", 1, 0.0), ("B", "2026-01-20", 9, 0.0)])
    out = iv.demand_pattern(sales, as_of="2026-01-31", lookback_days=30).set_index("sku")
    assert out.loc["A", "pattern"] == "smooth" and out.loc["A", "adi"] == 1
    assert out.loc["B", "adi"] == 15 and out.loc["B", "cv2"] == pytest.approx((4 / 5) ** 2)
    assert out.loc["B", "pattern"] == "lumpy"


def test_bootstrap_reorder_point_of_constant_demand_and_lead_time_is_exact():
    as_of = T("2026-02-01")
    sales = sales_rows([("A", d, 2, 0.0) for d in pd.date_range(as_of - pd.Timedelta(days=30), periods=30)])
    lead = pd.DataFrame({"supplier_id": ["S1"] * 3, "lead_time_days": [4.2, 5.0, 4.9]})  # rounded up: 5 days
    skus = pd.DataFrame({"sku": ["A", "Z"], "supplier_id": ["S1", "S9"]})
    out = iv.bootstrap_reorder_points(sales, lead, skus, as_of=as_of, lookback_days=30).set_index("sku")
    assert out.loc["A", "rop_bootstrap"] == 10 and out.loc["A", "ss_bootstrap"] == 0
    assert np.isnan(out.loc["Z", "rop_bootstrap"])  # no lead time for S9


def test_bootstrap_covers_lumps_the_normal_approximation_misses():
    as_of = T("2026-04-01")
    days = pd.date_range(as_of - pd.Timedelta(days=90), periods=90)
    sales = sales_rows([("A", d, 30, 0.0) for d in days[::10]])  # 30 units every 10th day: 3/day on average
    lead = pd.DataFrame({"supplier_id": ["S1"] * 4, "lead_time_days": [10.0, 10.0, 10.0, 10.0]})
    out = iv.bootstrap_reorder_points(sales, lead, pd.DataFrame({"sku": ["A"], "supplier_id": ["S1"]}),
                                      as_of=as_of, lookback_days=90, service_level=0.95, draws=2000)
    # lead-time demand is 30 × Binomial(10, 0.1): P(≤ 2 lumps) = 0.930, P(≤ 3) = 0.987 → 95 % quantile 90 units
    assert out["rop_bootstrap"].iloc[0] == 90
    assert out["ltd_mean"].iloc[0] == pytest.approx(30, rel=0.1)


def test_price_index_and_undercut_beyond_the_threshold():
    as_of = T("2026-02-01")
    sales = sales_rows([("A", "2026-01-20", 10, 1000.0), ("B", "2026-01-20", 5, 100.0)])
    prices = pd.DataFrame({"date": pd.to_datetime(["2026-01-15", "2026-01-22", "2026-01-15", "2026-01-15",
                                                   "2025-12-01"]),
                           "sku": ["A", "A", "A", "B", "B"], "competitor": ["p", "p", "q", "p", "q"],
                           "price": [80.0, 84.0, 110.0, 19.0, 5.0]})
    out = iv.price_index(prices, sales, PRODUCTS, as_of=as_of, price_days=28, undercut_threshold=0.1).set_index("sku")
    # A: ours 100; p's median 82, q's 110 → competitors' median 96, index 100/96; gap 18 % → undercut by p
    assert out.loc["A", "competitor_price"] == 96 and out.loc["A", "price_index"] == pytest.approx(100 / 96)
    assert out.loc["A", "gap"] == pytest.approx(0.18) and out.loc["A", "undercut"] and out.loc["A", "cheapest"] == "p"
    assert out.loc["A", "margin_at_risk"] == 10 * (100 - 5)
    # B: ours 20, only p inside the window (q's price is too old) at 19: 5 % below, not undercut
    assert out.loc["B", "n_competitors"] == 1 and not out.loc["B", "undercut"] and out.loc["B", "margin_at_risk"] == 0
    cat = iv.category_price_index(out.reset_index()).set_index("category")
    assert cat.loc["x", "price_index"] == pytest.approx((100 / 96 * 1000 + 20 / 19 * 100) / 1100)
    assert cat.loc["x", "n_undercut"] == 1


def test_price_changes_need_a_held_move_and_leave_promotions_out():
    as_of = T("2026-03-02")  # a Monday: whole weeks end on Sundays
    days = pd.date_range(as_of - pd.Timedelta(weeks=12), as_of - pd.Timedelta(days=1))
    price = np.where(days >= as_of - pd.Timedelta(weeks=4), 12.0, 10.0)  # +20 % four weeks before the end
    units = np.where(days >= as_of - pd.Timedelta(weeks=4), 1, 2)
    promo_day = as_of - pd.Timedelta(weeks=8)
    price = np.where(days == promo_day, 5.0, price)
    sales = sales_rows([("A", d, u, p * u) for d, u, p in zip(days, units, price)])
    promotions = pd.DataFrame({"start_date": [promo_day], "end_date": [promo_day]})
    out = iv.price_changes(sales, as_of=as_of, weeks=8, promotions=promotions)
    assert len(out) == 1
    r = out.iloc[0]
    assert r["week"] == as_of - pd.Timedelta(weeks=4) and r["price_change"] == pytest.approx(0.2)
    assert r["units_before"] == 14 and r["units_after"] == 7 and r["units_change"] == pytest.approx(-0.5)
    assert iv.price_changes(sales_rows([]), as_of=as_of).empty


@pytest.mark.parametrize("option, value, text", [
    ("dead_days", 0, "dead_days must be a whole number of days ≥ 1, not 0"),
    ("service_level", 1.0, "service_level must be a fraction between 0 and 1 (exclusive), not 1.0"),
    ("alpha", "x", "alpha must be a fraction between 0 and 1 (exclusive), not 'x'"),
])
def test_bad_options_say_what_is_allowed(demo, option, value, text):
    with pytest.raises(ParameterError, match=text.replace("(", r"\(").replace(")", r"\)")):
        iv.compute(demo, parse_period("2026-W47"), **{option: value})


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 20), min_size=4, max_size=10), st.integers(1, 4), st.integers(0, 3))
def test_lost_sales_interval_brackets_the_estimate(units, out_days, sold):
    days = pd.date_range(DAYS[0], periods=len(units) + out_days)
    stock = pd.DataFrame({"sku": "A", "day": days, "on_hand": [5] * len(units) + [0] * out_days})
    rows = [("A", d, u, 3.0 * u) for d, u in zip(days, units) if u]
    if sold:
        rows.append(("A", days[len(units)], sold, 3.0 * sold))  # the day it ran out still sells
    p = Period(days[len(units)], days[-1] + pd.Timedelta(days=1))
    out = iv.stockouts(stock, sales_rows(rows), period=p, lookback_days=len(days))
    r = out.iloc[0]
    assert 0 <= r["lost_low"] <= r["lost_units"] <= r["lost_high"]
    assert r["out_days"] == out_days


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0, 1000), min_size=3, max_size=3))
def test_abc_classes_follow_revenue(revenues):
    sales = sales_rows([(s, "2026-02-20", 1, r) for s, r in zip("ABC", revenues)])
    out = iv.abc_xyz(sales, PRODUCTS, as_of="2026-03-01", lookback_days=28)
    order = {"A": 0, "B": 1, "C": 2}
    ranks = out["abc"].map(order).tolist()  # out is sorted by revenue, best first
    assert ranks == sorted(ranks)
    assert (out.loc[out["revenue"] <= 0, "abc"] == "C").all()


# The review on the demo and the ladder -------------------------------------------------------------------------

def test_demo_review_result_headlines_and_texts_in_both_languages(demo):
    period = parse_period("2026-W47")
    now, before = iv.compute(demo, period), iv.compute(demo, period.previous())
    assert not now.gaps or set(now.gaps) == {"price_changes"}
    for lang in ("en", "zh"):
        msg = el.Messages(lang, currency="CNY")
        hs = iv.headlines(now, before, msg)
        assert [h.key for h in hs] == ["stock_value", "dio", "lost_revenue", "dead_value", "margin_at_risk"]
        assert all(h.source.startswith("ecomlib.inventory.") and h.value is not None for h in hs)
        text = " ".join(iv.sentences(now, before, msg) + [f.text for f in iv.findings(now, before, msg)])
        assert "{" not in text
        for name in iv.TABLE_COLUMNS:
            iv.table(now, name, msg).to_html()
        iv.matrix_table(now, msg).to_html()
        for section in ("stock", "stockouts", "turnover", "dead", "abc", "reorder", "prices", "price_changes"):
            assert "{" not in iv.page_note(now, section, msg)
        assert "{" not in iv.minimum_data_note(msg)
    ranked = el.review.rank_findings(iv.findings(now, before, el.Messages("en")))
    assert ranked[0].severity == "high" and all(f.anchor.startswith("sec-") for f in ranked)


def test_plots_return_their_axes(demo):
    now = iv.compute(demo, parse_period("2026-W47"))
    msg = el.Messages("zh", currency="CNY")
    fig, axes = plt.subplots(1, 3)
    assert iv.plot_cover(now.stock, target=90, ax=axes[0], msg=msg) is axes[0]
    stock, sold = iv.stock_history(demo, now)
    assert iv.plot_stock_history(stock, sold, sku=now.stockouts["sku"].iloc[0], ax=axes[1], msg=msg) is axes[1]
    assert iv.plot_price_index(now.category_prices, ax=axes[2], msg=msg) is axes[2]
    plt.close(fig)


@pytest.mark.parametrize("seed", SEEDS)
def test_planted_stockout_dead_category_and_undercut_are_found_on_every_seed(demo_seed_dir, seed):
    ds = iv.load(demo_seed_dir(seed))
    now = iv.compute(ds, parse_period("2026-W47"))
    # stock-out: one A item, out on the period's days up to the day before the last, thousands of revenue lost
    a_out = now.stockouts[now.stockouts["abc"] == "A"]
    assert len(a_out) == 1 and a_out["out_days"].iloc[0] == 6
    assert a_out["lost_low"].iloc[0] > 100 and a_out["lost_revenue"].iloc[0] > 30_000
    # dead stock: the whole seasonal category, nothing else
    assert now.value("dead_category") == demo_stock.DEAD_CATEGORY
    assert now.value("n_dead") == demo_stock.N_DEAD and now.value("dead_value") > 100_000
    # undercut: one A item, by the planted competitor, about 22 % below us
    a_under = now.undercut[now.undercut["abc"] == "A"]
    assert len(a_under) == 1 and a_under["cheapest"].iloc[0] == demo_stock.UNDERCUTTER
    assert 0.18 < a_under["gap"].iloc[0] < 0.26
    assert a_under["sku"].iloc[0] != a_out["sku"].iloc[0]
    keys = {f.key.split(":")[0] for f in iv.findings(now, None, el.Messages("en")) if f.severity == "high"}
    assert keys == {"stockout", "undercut"}
    assert now.value("n_below_rop") <= 12  # a short list to act on


def test_no_plants_store_has_no_stockout_dead_stock_or_undercut_of_an_a_item(demo_no_plants_dir):
    ds = iv.load(demo_no_plants_dir)
    for period in (parse_period("2026-W47"), parse_period("2026-11")):
        now = iv.compute(ds, period)
        assert now.stockouts[now.stockouts["abc"] == "A"].empty
        assert now.value("n_dead") == 0 and now.undercut[now.undercut["abc"] == "A"].empty
        assert not [f for f in iv.findings(now, None, el.Messages("en")) if f.severity == "high"]


def test_gaps_on_short_and_missing_data(ladder_dir, tmp_path):
    import shutil
    from pathlib import Path

    # the one-row store without its one competitor price: no price watch at all
    folder = Path(shutil.copytree(ladder_dir("one_row"), tmp_path / "one"))
    (folder / "price_observations.csv").unlink(missing_ok=True)
    one = iv.load(folder)
    _first, last = iv.data_range(one)
    p, _ = el.resolve(None, None, data_end=last)
    now = iv.compute(one, p)
    assert {"prices", "reorder"} <= set(now.gaps) or "stock" in now.gaps
    msg = el.Messages("zh", currency="CNY")
    assert all("{" not in g.text(msg) for g in now.gaps.values())
    iv.headlines(now, None, msg), iv.findings(now, None, msg), iv.sentences(now, None, msg)
    two = iv.load(ladder_dir("two_weeks"))
    now = iv.compute(two, parse_period("2026-W47"))
    assert now.has("stock") and now.has("stockouts")
    before = iv.compute(two, parse_period("2026-W40"))  # before the data: no count, no series, no prices
    assert {"stock", "stockouts", "turnover", "prices"} <= set(before.gaps)
    assert before.gaps["stockouts"].text(el.Messages("en")).startswith("There is no stock count on the days")
    iv.sentences(now, before, el.Messages("en")), iv.headlines(now, before, el.Messages("en"))
    with pytest.raises(MissingTableError):
        iv.load(ladder_dir("no_inventory"))
