"""Tests of ecomlib.cohorts: hand-made order logs with answers worked out on paper, errors, sentences, demo finding."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from ecomlib import ContractError, Messages, ParameterError  # noqa: E402
from ecomlib import cohorts  # noqa: E402

NAN = float("nan")


@pytest.fixture
def orders() -> pd.DataFrame:
    """A small order log (see the comments for what counts).

    a: Jan 5 (100), Feb 10 (50), Apr 1 (30)                 → cohort 2025-01
    b: Jan 20 (200), Jan 25 cancelled (999), Mar 3 partially refunded (40) → cohort 2025-01
    c: Feb 14 (80), Feb 20 (20), Mar 15 refunded (500)       → cohort 2025-02
    d: Feb 28 pending (60) only                              → no counted order, no cohort
    e: Jan 31 cancelled (70), Feb 2 (10)                     → cohort 2025-02 (first *counted* order)
    guest: Jan 10 (300), no customer id                      → left out
    """
    rows = [
        ("o1", "a", "2025-01-05 10:00", "paid_search", "completed", 100.0),
        ("o2", "a", "2025-02-10 10:00", "email", "completed", 50.0),
        ("o3", "a", "2025-04-01 10:00", "direct", "completed", 30.0),
        ("o4", "b", "2025-01-20 10:00", "organic", "completed", 200.0),
        ("o5", "b", "2025-01-25 10:00", "organic", "cancelled", 999.0),
        ("o6", "b", "2025-03-03 10:00", "email", "partially_refunded", 40.0),
        ("o7", "c", "2025-02-14 10:00", "display", "completed", 80.0),
        ("o8", "c", "2025-02-20 10:00", "direct", "completed", 20.0),
        ("o9", "c", "2025-03-15 10:00", "direct", "refunded", 500.0),
        ("o10", "d", "2025-02-28 10:00", "organic", "pending", 60.0),
        ("o11", "e", "2025-01-31 10:00", "video", "cancelled", 70.0),
        ("o12", "e", "2025-02-02 10:00", "paid_social", "completed", 10.0),
        ("o13", None, "2025-01-10 10:00", "direct", "completed", 300.0),
    ]
    df = pd.DataFrame(rows, columns=["order_id", "customer_id", "order_time", "channel", "status", "revenue"])
    return df.assign(order_time=pd.to_datetime(df["order_time"]),
                     channel=df["channel"].astype("category"), status=df["status"].astype("category"))


END = pd.Timestamp("2025-04-15")  # data cut-off: April is only half observed


# completed_orders --------------------------------------------------------------------------------------
def test_completed_orders_keeps_completed_and_partially_refunded(orders):
    out = cohorts.completed_orders(orders)
    # cancelled o5, o11; refunded o9; pending o10 are dropped: 13 - 4 = 9 rows
    assert sorted(out["order_id"]) == sorted(["o1", "o2", "o3", "o4", "o6", "o7", "o8", "o12", "o13"])
    assert out.loc[out["order_id"] == "o6", "revenue"].item() == 40.0  # partial refund counts in full without returns
    assert len(orders) == 13  # input untouched


def test_completed_orders_nets_refunds_from_returns(orders):
    returns = pd.DataFrame({"order_id": ["o6", "o6", "o1", "o9"], "refund_amount": [15.0, 5.0, 120.0, 500.0]})
    out = cohorts.completed_orders(orders, returns=returns).set_index("order_id")
    assert out.loc["o6", "revenue"] == 20.0  # 40 - (15 + 5)
    assert out.loc["o6", "gross_revenue"] == 40.0
    assert out.loc["o1", "revenue"] == 0.0  # 100 - 120 → clipped at 0
    assert out.loc["o2", "refund_amount"] == 0.0
    assert "o9" not in out.index  # refunded orders stay out


def test_completed_orders_needs_status(orders):
    with pytest.raises(ContractError, match="status.*required by completed_orders"):
        cohorts.completed_orders(orders.drop(columns="status"))
    with pytest.raises(ContractError, match="refund_amount"):
        cohorts.completed_orders(orders, returns=pd.DataFrame({"order_id": ["o1"]}))


# acquisition and cohort table ---------------------------------------------------------------------------
def test_acquisition_uses_first_counted_order_and_customers_channel(orders):
    customers = pd.DataFrame({"customer_id": ["a", "b", "c"], "first_seen": pd.to_datetime(["2025-01-05"] * 3),
                              "acquisition_channel": ["affiliate", None, "email"], "region": ["N", "S", "E"]})
    acq = cohorts.acquisition(orders, customers=customers).set_index("customer_id")
    assert sorted(acq.index) == ["a", "b", "c", "e"]  # d has no counted order; the guest is left out
    assert acq["cohort"].to_dict() == {"a": "2025-01", "b": "2025-01", "c": "2025-02", "e": "2025-02"}
    # a, c from customers; b's is empty → first order's channel; e not in customers → first counted order (Feb 2)
    assert acq["acquisition_channel"].to_dict() == {"a": "affiliate", "b": "organic", "c": "email", "e": "paid_social"}
    assert acq.loc["a", "region"] == "N"


def test_cohort_table_by_hand(orders):
    t = cohorts.cohort_table(orders, end=END)
    jan = t.loc[t["cohort"] == "2025-01"].set_index("period_number")
    feb = t.loc[t["cohort"] == "2025-02"].set_index("period_number")
    # Cohort 2025-01 = {a, b}: Jan a 100 + b 200; Feb a 50; Mar b 40 (partially refunded counts); Apr a 30
    assert jan["cohort_size"].tolist() == [2, 2, 2, 2]
    assert jan["active_customers"].tolist() == [2, 1, 1, 1]
    assert jan["retention"].tolist() == [1.0, 0.5, 0.5, 0.5]
    assert jan["revenue"].tolist() == [300.0, 50.0, 40.0, 30.0]
    np.testing.assert_allclose(jan["revenue_retention"], [1.0, 50 / 300, 40 / 300, 30 / 300])
    # cumulative revenue per customer: 300/2, 350/2, 390/2, 420/2
    assert jan["cumulative_revenue_per_customer"].tolist() == [150.0, 175.0, 195.0, 210.0]
    # April (period 3) ends May 1, after the cut-off Apr 15 → not complete
    assert jan["complete"].tolist() == [True, True, True, False]
    # Cohort 2025-02 = {c, e}: Feb c 80 + 20, e 10 (3 orders); Mar c refunded → nobody; Apr nobody
    assert feb["active_customers"].tolist() == [2, 0, 0]
    assert feb["orders"].tolist() == [3, 0, 0]
    assert feb["cumulative_revenue_per_customer"].tolist() == [55.0, 55.0, 55.0]
    assert feb.loc[0, "period_start"] == pd.Timestamp("2025-02-01")
    # Wilson interval of 1/2 (statsmodels): 0.095 … 0.905
    assert jan.loc[1, "retention_ci_low"] == pytest.approx(0.0945, abs=1e-3)
    assert jan.loc[1, "retention_ci_high"] == pytest.approx(0.9055, abs=1e-3)


def test_cohort_table_end_cuts_the_data(orders):
    t = cohorts.cohort_table(orders, end="2025-03-01")
    # only Jan and Feb are observed: a's Apr and b's Mar orders are gone
    jan = t.loc[t["cohort"] == "2025-01"]
    assert jan["period_number"].tolist() == [0, 1]
    assert jan["revenue"].tolist() == [300.0, 50.0]
    assert jan["complete"].all()


def test_cohort_table_by_channel(orders):
    t = cohorts.cohort_table(orders, by="acquisition_channel", end=END)
    jan_paid = t.loc[(t["cohort"] == "2025-01") & (t["acquisition_channel"] == "paid_search")]
    assert jan_paid["cohort_size"].iloc[0] == 1  # a (first order via paid_search); b is organic
    assert jan_paid["retention"].tolist() == [1.0, 1.0, 0.0, 1.0]  # a orders Jan, Feb, –, Apr
    with pytest.raises(ParameterError, match="by='region' is not a column"):
        cohorts.cohort_table(orders, by="region")


def test_weekly_cohorts_use_iso_weeks():
    o = pd.DataFrame({"customer_id": ["a", "a", "b"], "revenue": [1.0, 2.0, 3.0],
                      "order_time": pd.to_datetime(["2025-01-05 09:00", "2025-01-06 09:00", "2025-01-07 09:00"])})
    t = cohorts.cohort_table(o, freq="W", end="2025-01-13")
    # 2025-01-05 is the Sunday of ISO week 2025-W01 (Mon 2024-12-30); the next day starts W02
    first = t.loc[t["cohort"] == "2025-W01"]
    assert first["cohort_start"].iloc[0] == pd.Timestamp("2024-12-30")
    assert first["retention"].tolist() == [1.0, 1.0]
    assert t.loc[t["cohort"] == "2025-W02", "cohort_size"].tolist() == [1]


def test_bad_freq_names_the_options(orders):
    with pytest.raises(ParameterError, match=r"freq='Q' is not a valid option; use one of \['M', 'W'\]"):
        cohorts.cohort_table(orders, freq="Q")


def test_missing_column_is_a_contract_error(orders):
    with pytest.raises(ContractError, match="revenue.*required by cohort_table"):
        cohorts.cohort_table(orders.drop(columns="revenue"))


def test_retention_matrix_hides_incomplete_periods(orders):
    t = cohorts.cohort_table(orders, end=END)
    m = cohorts.retention_matrix(t)
    assert m.index.tolist() == ["2025-01", "2025-02"]
    assert m.loc["2025-01"].tolist()[:3] == [1.0, 0.5, 0.5]
    assert 3 not in m.columns  # April is period 3 of the January cohort, and incomplete: not shown
    assert np.isnan(m.loc["2025-02", 2])  # … and April is period 2 of the February cohort
    assert cohorts.retention_matrix(t, complete_only=False).loc["2025-01", 3] == 0.5
    with pytest.raises(ParameterError, match="value='nope'"):
        cohorts.retention_matrix(t, value="nope")


def test_retention_at_compares_each_cohort_with_the_rest(orders):
    t = cohorts.cohort_table(orders, end=END)
    r = cohorts.retention_at(t, period_number=1, min_size=1).set_index("cohort")
    # period 1: Jan cohort 1/2, Feb cohort 0/2; each against the other
    assert r.loc["2025-01", "retention"] == 0.5
    assert r.loc["2025-01", "rest_retention"] == 0.0
    assert r.loc["2025-01", "diff"] == 0.5
    # pooled z-test of 1/2 vs 0/2: p̂ = 1/4, se = sqrt(.25*.75*(1/2+1/2)) = .433, z = .5/.433 = 1.155, p = .248
    assert r.loc["2025-01", "p_value"] == pytest.approx(0.248, abs=1e-3)
    # Holm over 2 equal p-values: the smallest is doubled (.496), the next is max(.496, 1·.248) = .496
    assert r.loc["2025-01", "p_adjusted"] == pytest.approx(0.496, abs=2e-3)
    assert cohorts.retention_at(t, period_number=3, min_size=1).empty  # period 3 is complete for nobody
    assert cohorts.retention_at(t, period_number=1, min_size=3).empty  # both cohorts too small


# repeat purchase and order value --------------------------------------------------------------------------
def test_time_to_second_order(orders):
    g = cohorts.time_to_second_order(orders).set_index("customer_id")["days_to_second"]
    # a: Feb 10 − Jan 5 = 36 days; b: Mar 3 − Jan 20 = 42 (the cancelled Jan 25 order does not count);
    # c: Feb 20 − Feb 14 = 6; e: no second order
    assert g[["a", "b", "c"]].tolist() == [36.0, 42.0, 6.0]
    assert np.isnan(g["e"])


def test_repeat_purchase_by_hand(orders):
    r = cohorts.repeat_purchase(orders, window_days=40, end=END).iloc[0]
    # 4 customers, a b c have a second order → 3/4; eligible: first order ≤ Apr 15 − 40 d = Mar 6 → all 4;
    # within 40 days: a (36) and c (6), not b (42) → 2/4; median of 36, 42, 6 = 36
    assert (r["customers"], r["repeat_customers"], r["repeat_rate"]) == (4, 3, 0.75)
    assert (r["eligible_customers"], r["repeat_in_window"], r["repeat_rate_window"]) == (4, 2, 0.5)
    assert r["median_days_to_second"] == 36.0
    # customers acquired less than the window before the end are not eligible: window 60 d → first order before
    # Apr 15 − 60 d = Feb 14 00:00 → a, b, e (c's first order is Feb 14 10:00); within 60 d: a (36), b (42) → 2/3
    r60 = cohorts.repeat_purchase(orders, window_days=60, end=END).iloc[0]
    assert (r60["eligible_customers"], r60["repeat_in_window"]) == (3, 2)
    assert r60["repeat_rate_window"] == pytest.approx(2 / 3)


def test_aov_by_order_number_by_hand(orders):
    a = cohorts.aov_by_order_number(orders, max_number=2)
    # 1st orders: a 100, b 200, c 80, e 10 → 97.5; 2nd and later: a 50, 30; b 40; c 20 → 140 / 4 = 35
    assert a["aov"].tolist() == [97.5, 35.0]
    assert a["order_label"].tolist() == ["1", "2+"]
    assert a["orders"].tolist() == [4, 4]
    test = cohorts.first_vs_repeat_aov(a)
    assert test["diff"] == -62.5
    with pytest.raises(ParameterError, match="max_number must be at least 1"):
        cohorts.aov_by_order_number(orders, max_number=0)


def test_first_vs_repeat_pools_later_rows():
    aov = pd.DataFrame({"order_number": [1, 2, 3], "orders": [3, 2, 2], "revenue": [30.0, 40.0, 80.0],
                        "aov": [10.0, 20.0, 40.0], "sd": [1.0, 0.0, 0.0]})
    t = cohorts.first_vs_repeat_aov(aov)
    # later orders: 20, 20, 40, 40 → mean 30, sample variance = 4·10² / 3 = 133.3; se = sqrt(133.3/4 + 1/3) = 5.802
    assert t["repeat_aov"] == 30.0
    assert t["ci_high"] - t["diff"] == pytest.approx(1.96 * 5.802, rel=1e-3)


def test_new_and_returning(orders):
    n = cohorts.new_and_returning(orders, start="2025-02-01", end="2025-03-01")
    # February counted orders: a Feb 10 (2nd), c Feb 14 (1st), c Feb 20 (2nd), e Feb 2 (1st)
    assert n == {"new_customers": 2, "orders": 4, "returning_orders": 2, "returning_share": 0.5}


def test_empty_window_gives_nan_share(orders):
    n = cohorts.new_and_returning(orders, start="2026-01-01", end="2026-02-01")
    assert n["orders"] == 0 and np.isnan(n["returning_share"])


# sentences -------------------------------------------------------------------------------------------------
def _retention_table(best_diff: float, p: float) -> pd.DataFrame:
    return pd.DataFrame({"cohort": ["2025-08", "2025-09"], "cohort_start": pd.to_datetime(["2025-08-01", "2025-09-01"]),
                         "cohort_size": [1000, 1000], "active_customers": [160, 310], "retention": [0.16, 0.31],
                         "ci_low": [0.14, 0.28], "ci_high": [0.18, 0.34], "rest_retention": [0.31, 0.16],
                         "diff": [-best_diff, best_diff], "p_value": [p, p], "p_adjusted": [p, p]})


def _repeat() -> pd.DataFrame:
    return pd.DataFrame({"group": ["all"], "customers": [100], "repeat_customers": [40], "repeat_rate": [0.4],
                         "eligible_customers": [80], "repeat_in_window": [30], "repeat_rate_window": [0.375],
                         "ci_low": [0.28], "ci_high": [0.48], "median_days_to_second": [21.5]})


def test_sentences_en_and_zh():
    # first orders 100 ± 30 (n 400) vs later 80 ± 30 (n 400): z = 20 / sqrt(2·900/400) = 9.4 → significant
    aov = pd.DataFrame({"order_number": [1, 2], "orders": [400, 400], "revenue": [40000.0, 32000.0],
                        "aov": [100.0, 80.0], "sd": [30.0, 30.0]})
    en = cohorts.sentences(_retention_table(0.15, 1e-6), _repeat(), aov, msg=Messages("en", currency="CNY"))
    assert en[0].startswith("Customers whose first order was in 2025-09 retain best: 31.0%")
    assert "in month 3" in en[0] and "16.0%" in en[0] and "+15.0 pp" in en[0] and "p < 0.001" in en[0]
    assert en[1].startswith("The 2025-08 cohort retains worst")
    assert "37.5% of customers acquired at least 90 days ago" in en[2] and "21.5 days" in en[2]
    assert "Repeat orders are worth less than first orders" in en[3]
    assert "CN¥80.00 against CN¥100.00" in en[3] and "20.0% less" in en[3]
    zh = cohorts.sentences(_retention_table(0.15, 1e-6), _repeat(), aov, msg=Messages("zh", currency="CNY"))
    assert zh[0].startswith("首单在 2025-09 的客户留存最好：其中 31.0% 在获客后第 3 个月再次下单")
    assert "个百分点" in zh[0]
    assert zh[1].startswith("2025-08 批次留存最差")
    assert "获客已满 90 天的客户中，37.5%" in zh[2]
    assert "复购订单金额低于首单" in zh[3] and "¥80.00" in zh[3] and "低 20.0%" in zh[3]
    for s in zh:
        assert not any(w in s for w in ("customers", "retain", "orders", "month")), s


def test_sentences_when_nothing_stands_out(orders):
    aov = pd.DataFrame({"order_number": [1, 2], "orders": [100, 100], "revenue": [10000.0, 10050.0],
                        "aov": [100.0, 100.5], "sd": [30.0, 30.0]})
    msg = Messages("en", currency="CNY")
    s = cohorts.sentences(_retention_table(0.01, 0.4), _repeat(), aov, freq="W", period_number=4, msg=msg)
    assert s[0].startswith("No cohort retains significantly better than the others in week 4: the highest, 2025-09")
    assert len(s) == 3  # no "worst" sentence when nothing is significant
    assert s[2].startswith("Repeat orders are worth about the same as first orders")  # z = .5/4.24, p = .91
    empty = cohorts.sentences(_retention_table(0.1, 0.01).iloc[:0], _repeat().iloc[:0], aov.iloc[:1], msg=msg)
    assert empty == ["No cohort has a complete month 3 yet, so retention cannot be compared."]
    zh = cohorts.sentences(_retention_table(0.1, 0.01).iloc[:0], _repeat().iloc[:0], aov.iloc[:1],
                           msg=Messages("zh", currency="CNY"))
    assert zh == ["尚无批次走完第 3 个月，暂无法比较留存。"]


# plots -----------------------------------------------------------------------------------------------------
def test_plots_return_axes_with_translated_labels(orders):
    t = cohorts.cohort_table(orders, end=END)
    msg = Messages("zh", currency="CNY")
    fig, (ax1, ax2) = plt.subplots(1, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the test machine's default font may lack CJK glyphs
        assert cohorts.plot_retention(t, ax=ax1, msg=msg) is ax1
        assert cohorts.plot_cumulative_revenue(t, highlight="2025-01", ax=ax2, msg=msg) is ax2
    assert ax1.get_title() == "各获客批次的客户留存"
    assert ax2.get_ylabel() == "每位客户累计收入（CNY）"
    plt.close(fig)


# the planted finding on the demo store ---------------------------------------------------------------------
def test_demo_store_best_cohort_is_2025_09(demo_tables):
    counted = cohorts.completed_orders(demo_tables.orders, returns=demo_tables.returns)
    t = cohorts.cohort_table(counted, customers=demo_tables.customers, end="2026-11-23")
    r = cohorts.retention_at(t, period_number=3)
    best = r.loc[r["retention"].idxmax()]
    assert best["cohort"] == "2025-09"
    assert best["retention"] == pytest.approx(0.31, abs=0.03)
    others = r.loc[r["cohort"] != "2025-09", "retention"]
    assert others.max() < 0.2 and others.mean() == pytest.approx(0.16, abs=0.02)
    assert best["p_adjusted"] < 1e-6
    # the cut-off day leaves November 2026 incomplete, so the 2026-08 cohort has no month 3 yet
    assert "2026-08" not in set(r["cohort"])
    s = cohorts.sentences(r, cohorts.repeat_purchase(counted, end="2026-11-23"),
                          cohorts.aov_by_order_number(counted), msg=Messages("en", currency="CNY"))
    assert "first order was in 2025-09 retain best" in s[0]
