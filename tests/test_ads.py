"""Tests of ecomlib.ads: hand-made spend tables with answers worked on paper, curve recovery, the demo's planted
finding (display below break-even in 2026-W47), the notebook flagging it."""

from __future__ import annotations

import re

import math
import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
import yaml

matplotlib.use("Agg")

from ecomlib import Messages, ads  # noqa: E402
from ecomlib.errors import EcomlibError, FitError, NotFittedError, ParameterError  # noqa: E402
from ecomlib.i18n import catalogue  # noqa: E402
from ecomlib.periods import Period, parse_period  # noqa: E402

DAY = pd.Timestamp("2026-11-16")
ONE_DAY = Period(DAY, DAY + pd.Timedelta(days=1))
Z95 = 1.959963984540054


def spend_rows(rows):
    cols = ["date", "channel", "campaign", "impressions", "clicks", "spend", "platform_conversions", "platform_revenue"]
    df = pd.DataFrame(rows, columns=cols)
    return df.assign(date=pd.to_datetime(df["date"]))


def order_rows(rows):
    df = pd.DataFrame(rows, columns=["order_id", "customer_id", "order_time", "channel", "status", "revenue"])
    return df.assign(order_time=pd.to_datetime(df["order_time"]), channel=df["channel"].astype("category"),
                     status=df["status"].astype("category"), currency="CNY")


@pytest.fixture
def spend():
    return spend_rows([
        ("2026-11-16", "display", "display_a", 2000, 50, 100.0, 5.0, 400.0),
        ("2026-11-16", "display", "display_b", 0, 0, 0.0, 0.0, 0.0),        # zero spend, zero impressions
        ("2026-11-16", "search", "search_a", 1000, 0, 40.0, 0.0, 0.0),       # spend but zero clicks
    ])


@pytest.fixture
def orders():
    return order_rows([
        ("o0", "c2", "2026-11-10 09:00", "email", "completed", 50.0),            # c2's first order, before the day
        ("o1", "c1", "2026-11-16 10:00", "display", "completed", 100.0),         # c1's first order
        ("o2", "c2", "2026-11-16 11:00", "display", "partially_refunded", 200.0),
        ("o3", "c3", "2026-11-16 12:00", "display", "cancelled", 1000.0),        # does not count
        ("o4", "c4", "2026-11-16 13:00", "display", "pending", 500.0),           # does not count
        ("o5", "c5", "2026-11-16 14:00", "organic", "completed", 300.0),         # unpaid channel, first order
    ])


@pytest.fixture
def margins(orders):
    items = pd.DataFrame({"order_id": ["o1", "o2", "o2", "o3", "o5"], "sku": ["A", "B", "Z", "A", "C"],
                          "quantity": [2, 1, 1, 10, 3], "unit_price": [50.0, 200.0, 10.0, 100.0, 100.0]})
    products = pd.DataFrame({"sku": ["A", "B", "C"], "unit_cost": [20.0, 130.0, 50.0]})  # Z has no cost
    return ads.channel_margins(orders, items, products)


# Metrics on a hand-made table --------------------------------------------------------------------------
def test_channel_metrics_match_paper(spend, orders):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no divide-by-zero warnings either
        perf = ads.performance(spend, orders, period=ONE_DAY).set_index("channel")
    d = perf.loc["display"]
    # display: spend 100, 2000 impressions, 50 clicks, 5 platform conversions worth 400;
    # store: o1 100 + o2 200 (cancelled o3 and pending o4 do not count) = 300 from 2 orders; only c1 is new.
    assert d["ctr"] == pytest.approx(50 / 2000)            # 0.025
    assert d["cpc"] == pytest.approx(100 / 50)             # 2
    assert d["cpm"] == pytest.approx(1000 * 100 / 2000)    # 50
    assert d["cvr"] == pytest.approx(5 / 50)               # 0.1
    assert d["cpa"] == pytest.approx(100 / 5)              # 20
    assert d["platform_roas"] == pytest.approx(4.0)
    assert (d["store_orders"], d["store_revenue"], d["new_customers"]) == (2, 300.0, 1)
    assert d["store_roas"] == pytest.approx(3.0)
    assert d["platform_vs_store"] == pytest.approx(400 / 300)
    assert d["cac"] == pytest.approx(100.0)
    # Store ROAS interval: relative error sqrt(100² + 200²) / 300 = 0.7454; 3 × exp(∓1.96 × 0.7454) = 0.696 … 12.93.
    rel = math.sqrt(100 ** 2 + 200 ** 2) / 300
    assert d["store_roas_low"] == pytest.approx(3 * math.exp(-Z95 * rel))
    assert d["store_roas_high"] == pytest.approx(3 * math.exp(Z95 * rel))
    assert d["store_roas_low"] == pytest.approx(0.696, abs=1e-3)
    assert d["store_roas_high"] == pytest.approx(12.93, abs=1e-2)
    # Platform interval: 1 + cv² = 2 × 50000 / 300² = 1.111; relative error sqrt(1.111 / 5) = 0.4714.
    rel_p = math.sqrt(2 * 50_000 / 300 ** 2 / 5)
    assert d["platform_roas_low"] == pytest.approx(4 * math.exp(-Z95 * rel_p))
    assert d["platform_roas_high"] == pytest.approx(4 * math.exp(Z95 * rel_p))
    # search: spend 40 on 1000 impressions and no clicks → CPC, CVR, CPA are NaN, not inf; no orders.
    s = perf.loc["search"]
    assert s["ctr"] == 0 and s["cpm"] == pytest.approx(40.0)
    assert np.isnan(s["cpc"]) and np.isnan(s["cvr"]) and np.isnan(s["cpa"]) and np.isnan(s["cac"])
    assert s["store_roas"] == 0 and np.isnan(s["platform_vs_store"])
    assert "organic" not in perf.index  # unpaid channels appear in MER only
    numeric = perf.select_dtypes("number").to_numpy()
    assert not np.isinf(numeric).any()


def test_campaign_allocation_and_zero_spend(spend, orders):
    perf = ads.performance(spend, orders, period=ONE_DAY, level="campaign").set_index("campaign")
    # display_a has all 400 of the channel's platform revenue → all 300 of its store revenue.
    assert perf.loc["display_a", "store_revenue"] == pytest.approx(300.0)
    assert perf.loc["display_a", "store_roas"] == pytest.approx(3.0)
    b = perf.loc["display_b"]
    assert b["store_revenue"] == 0
    for col in ("ctr", "cpc", "cpm", "cvr", "cpa", "platform_roas", "store_roas", "cac"):
        assert np.isnan(b[col]), col


def test_allocation_falls_back_to_spend_share_then_equal():
    rows = spend_rows([
        ("2026-11-16", "video", "v1", 100, 5, 30.0, 0.0, 0.0),
        ("2026-11-16", "video", "v2", 100, 5, 10.0, 0.0, 0.0),
        ("2026-11-16", "email_ads", "e1", 0, 0, 0.0, np.nan, np.nan),
        ("2026-11-16", "email_ads", "e2", 0, 0, 0.0, np.nan, np.nan),
    ])
    o = order_rows([("o1", "c1", "2026-11-16 10:00", "video", "completed", 200.0),
                    ("o2", "c2", "2026-11-16 10:00", "email_ads", "completed", 50.0)])
    perf = ads.performance(rows, o, period=ONE_DAY, level="campaign").set_index("campaign")
    # No platform revenue: 200 shared by spend, 30/40 and 10/40 → 150 and 50.
    assert perf.loc["v1", "store_revenue"] == pytest.approx(150.0)
    assert perf.loc["v2", "store_revenue"] == pytest.approx(50.0)
    # No spend either: equal halves of 50; platform sums of all-missing values stay missing.
    assert perf.loc["e1", "store_revenue"] == pytest.approx(25.0)
    assert np.isnan(perf.loc["e1", "platform_revenue"])


def test_missing_days_are_counted_not_zero():
    days = pd.date_range("2026-11-16", periods=7)
    kept = days[[0, 1, 3, 4, 6]]  # 2026-11-18 and 2026-11-21 have no row
    rows = spend_rows([(d, "display", "d1", 1000, 10, 50.0, 1.0, 100.0) for d in kept])
    o = order_rows([("o1", "c1", "2026-11-18 10:00", "display", "completed", 80.0)])  # on a missing day
    week = parse_period("2026-W47")
    perf = ads.performance(rows, o, period=week).iloc[0]
    assert (perf["days"], perf["missing_days"]) == (5, 2)
    assert perf["spend"] == 250.0 and perf["store_revenue"] == 80.0
    weekly = ads.performance(rows, o, period=week, freq="W").iloc[0]
    assert weekly["date"] == pd.Timestamp("2026-11-16") and weekly["missing_days"] == 2
    daily = ads.performance(rows, o, period=week, freq="D").set_index("date")
    assert len(daily) == 6  # 5 days with spend + the missing day that had an order
    gap = daily.loc[pd.Timestamp("2026-11-18")]
    assert gap["missing_days"] == 1 and np.isnan(gap["spend"]) and np.isnan(gap["store_roas"])
    # Curve data leave the missing day out (spend unknown) and keep days without orders at revenue 0.
    curve_days = ads.response_data(rows, o, window=week)
    assert len(curve_days) == 5 and curve_days["revenue"].sum() == 0
    msg = Messages("en", currency="CNY")
    chan = ads.profit_view(ads.performance(rows, o, period=week),
                           pd.DataFrame({"channel": ["display"], "margin_rate": [0.5], "break_even_roas": [2.0]}))
    text = ads.sentences(chan, msg=msg, blend=ads.blended(rows, o, period=week))
    assert "display has no spend rows for 2 of 7 days" in " ".join(text)


def test_blended_mer_and_new_customer_cac(spend, orders):
    b = ads.blended(spend, orders, period=ONE_DAY)
    # spend 100 + 0 + 40 = 140; counted revenue 100 + 200 + 300 (organic) = 600 → MER 4.2857;
    # paid-channel revenue 300 → store ROAS 2.1429; first-time customers c1 and c5 → CAC 140 / 2 = 70.
    assert b["spend"] == 140 and b["revenue"] == 600
    assert b["mer"] == pytest.approx(600 / 140)
    assert b["store_roas"] == pytest.approx(300 / 140)
    assert b["new_customers"] == 2 and b["new_customer_cac"] == pytest.approx(70.0)
    empty = ads.blended(spend, orders, period=Period(DAY + pd.Timedelta(days=3), DAY + pd.Timedelta(days=4)))
    assert np.isnan(empty["mer"]) and np.isnan(empty["new_customer_cac"])


def test_currency_consistency(spend):
    ads.check_currency(spend, currency="CNY")  # no currency column: taken as the store's
    ads.check_currency(spend.assign(currency=["CNY", "cny", None]), currency="CNY")
    with pytest.raises(ads.CurrencyError) as err:
        ads.check_currency(spend.assign(currency=["CNY", "USD", "USD"]), currency="CNY")
    text = str(err.value)
    assert "'ad_spend'" in text and "CNY" in text and "USD (2 rows)" in text and "Fix:" in text
    assert err.value.found == {"USD": 2} and isinstance(err.value, EcomlibError)


# Profit view -------------------------------------------------------------------------------------------
def test_margins_and_break_even(margins):
    m = margins.set_index("channel")
    # display: o1 2 × 50 (cost 2 × 20) + o2 1 × 200 (cost 130) = revenue 300, cost 170 → margin 0.4333,
    # break-even 2.3077; the cancelled o3 is left out; SKU Z has no cost and is counted apart.
    assert m.loc["display", "line_revenue"] == 300 and m.loc["display", "cost"] == 170
    assert m.loc["display", "margin_rate"] == pytest.approx(130 / 300)
    assert m.loc["display", "break_even_roas"] == pytest.approx(300 / 130)
    assert m.loc["display", "lines_without_cost"] == 1
    assert m.loc["organic", "margin_rate"] == pytest.approx(0.5)  # 3 × 100, cost 3 × 50


def test_profit_view_flags(spend, orders, margins):
    perf = ads.performance(spend, orders, period=ONE_DAY)
    pv = ads.profit_view(perf, margins, target_roas=3.5).set_index("channel")
    d = pv.loc["display"]
    # store ROAS 3 > break-even 2.3077, but < target 3.5; contribution 300 × 0.4333 − 100 = 30; profit ROAS 1.3.
    assert d["contribution"] == pytest.approx(30.0) and d["profit_roas"] == pytest.approx(1.3)
    assert d["flag"] == "below_target" and not d["below_break_even"] and d["wasted_spend"] == 0
    s = pv.loc["search"]
    # search has no order lines: it gets the store-wide margin (600 − 320) / 600 = 0.4667 → break-even 2.1429;
    # ROAS 0 is below it, so its 40 is wasted and contribution is −40.
    assert s["break_even_roas"] == pytest.approx(600 / 280)
    assert s["flag"] == "below_break_even" and s["wasted_spend"] == 40 and s["contribution"] == pytest.approx(-40)
    platform = ads.profit_view(perf, margins, attribution="platform", target_roas=3.5).set_index("channel")
    assert platform.loc["display", "roas"] == 4 and platform.loc["display", "flag"] == "ok"
    # On platform figures search (platform ROAS 0) is still below; the store view is named when it disagrees.
    paid_only = ads.profit_view(perf[perf["channel"] == "display"], margins, attribution="platform",
                                target_roas=5.0).assign(store_roas=2.0)
    words = ads.sentences(paid_only, msg=Messages("en", currency="CNY"), attribution="platform",
                          blend=ads.blended(spend, orders, period=ONE_DAY))
    assert "Every paid channel cleared its break-even ROAS on platform-reported revenue." in words
    assert ("On the store's own orders, however, these channels fall below break-even: display. Platforms "
            "over-claim, so check them before trusting platform ROAS.") in words
    camp = ads.profit_view(ads.performance(spend, orders, period=ONE_DAY, level="campaign"), margins)
    assert camp.set_index("campaign").loc["display_b", "flag"] == "no_spend"


def test_non_positive_margin_means_any_spend_is_below_break_even():
    perf = pd.DataFrame({"channel": ["x"], "spend": [10.0], "store_revenue": [50.0], "store_roas": [5.0],
                         "store_roas_low": [4.0], "store_roas_high": [6.0]})
    m = pd.DataFrame({"channel": ["x"], "margin_rate": [-0.1], "break_even_roas": [np.nan]})
    row = ads.profit_view(perf, m).iloc[0]
    assert row["below_break_even"] and row["surely_below"] and row["flag"] == "below_break_even"


def test_parameter_errors(spend, orders, margins):
    perf = ads.performance(spend, orders, period=ONE_DAY)
    with pytest.raises(ParameterError, match=r"attribution must be one of \['store', 'platform'\], not 'clicks'"):
        ads.profit_view(perf, margins, attribution="clicks")
    with pytest.raises(ParameterError, match="target_roas must be a positive number"):
        ads.profit_view(perf, margins, target_roas=-1)
    with pytest.raises(ParameterError, match=r"freq must be one of \[None, 'D', 'W'\]"):
        ads.performance(spend, orders, freq="M")
    with pytest.raises(ParameterError, match="level must be one of"):
        ads.performance(spend, orders, level="adset")


def test_weeks_below_counts_weeks_with_spend():
    weekly = pd.DataFrame({"channel": ["a", "a", "a", "b"], "spend": [10.0, 10.0, 0.0, 5.0],
                           "below_break_even": [True, False, False, False]})
    out = ads.weeks_below(weekly).set_index("channel")
    assert out.loc["a", "weeks"] == 2 and out.loc["a", "weeks_below"] == 1 and out.loc["a", "share_below"] == 0.5


# Pacing ------------------------------------------------------------------------------------------------
def test_pacing_projects_linearly():
    week = parse_period("2026-W47")
    rows = spend_rows([
        ("2026-11-16", "display", "d", 1, 0, 100.0, 0.0, 0.0), ("2026-11-18", "display", "d", 1, 0, 80.0, 0.0, 0.0),
        ("2026-11-16", "search", "s", 1, 0, 50.0, 0.0, 0.0), ("2026-11-17", "search", "s", 1, 0, 50.0, 0.0, 0.0),
        ("2026-11-18", "search", "s", 1, 0, 50.0, 0.0, 0.0),
    ])
    p = ads.pacing(rows, {"display": 700, "search": 300.0}, period=week).set_index("channel")
    # Data run to 11-18: 3 days of 7. display 180 (11-17 missing counts as no spend) → 180 / 3 × 7 = 420 = 60 % of 700.
    assert p.loc["display", "days_elapsed"] == 3 and p.loc["display", "projected_spend"] == pytest.approx(420)
    assert p.loc["display", "projected_vs_budget"] == pytest.approx(0.6) and p.loc["display", "pace_status"] == "under"
    # search 150 → 350 against 300 = 116.7 % → over.
    assert p.loc["search", "projected_spend"] == pytest.approx(350) and p.loc["search", "pace_status"] == "over"
    on_day_5 = ads.pacing(rows, {"search": 350}, period=week, as_of="2026-11-20").iloc[0]
    assert on_day_5["projected_spend"] == pytest.approx(150 / 5 * 7) and on_day_5["pace_status"] == "under"
    assert ads.pacing(rows, {}, period=week).empty
    with pytest.raises(ParameterError, match=r"not in ad_spend: \['video'\]; the channels are \['display', 'search'\]"):
        ads.pacing(rows, {"video": 100}, period=week)
    with pytest.raises(ParameterError, match="amounts ≥ 0"):
        ads.pacing(rows, {"display": -5}, period=week)


# Response curves ---------------------------------------------------------------------------------------
def test_hill_fit_recovers_known_parameters():
    rng = np.random.default_rng(7)
    s = 1500 * rng.lognormal(0, 0.6, 240)
    y = ads.hill(s, 8000, 1500) * rng.lognormal(0, 0.15, 240)
    m = ads.HillResponse(n_boot=200, seed=1).fit(s, y)
    assert m.params_["vmax"] == pytest.approx(8000, rel=0.1)
    assert m.params_["k"] == pytest.approx(1500, rel=0.1)
    assert m.params_["h"] == 1.0 and m.saturation_seen_
    # True marginal ROAS at 1500: 8000 × 1500 / 3000² = 1.333; the 90 % band must cover it.
    lo, hi = m.band([1500.0], kind="marginal")
    assert lo[0] < 8000 * 1500 / 3000 ** 2 < hi[0]
    assert m.marginal(1500.0) == pytest.approx(1.333, rel=0.1)
    assert len(m.boot_) == 200


def test_hill_fit_recovers_the_shape_when_estimated():
    rng = np.random.default_rng(3)
    s = rng.uniform(100, 6000, 300)
    y = ads.hill(s, 10_000, 2000, 2.0) * rng.lognormal(0, 0.1, 300)
    m = ads.HillResponse(h=None, n_boot=5).fit(s, y)
    assert m.params_["h"] == pytest.approx(2.0, rel=0.15)
    assert m.params_["k"] == pytest.approx(2000, rel=0.1)
    assert m.params_["vmax"] == pytest.approx(10_000, rel=0.1)


@pytest.mark.parametrize("spend_values, revenue_values, code, words", [
    (np.linspace(100, 300, 10), np.linspace(100, 300, 10), "too_few_days",
     "only 10 days of data, fewer than min_days=28"),
    (np.full(40, 100.0), np.full(40, 300.0), "no_variation", "coefficient of variation 0.000 < min_cv=0.1"),
    (np.zeros(40), np.full(40, 300.0), "no_spend", "no spend in the fit window"),
    (np.linspace(100, 300, 40), np.zeros(40), "no_revenue", "no revenue in the fit window"),
])
def test_fit_refuses_with_a_reason(spend_values, revenue_values, code, words):
    with pytest.raises(ads.ResponseFitError) as err:
        ads.HillResponse(channel="display").fit(spend_values, revenue_values)
    assert err.value.code == code and err.value.channel == "display" and isinstance(err.value, FitError)
    assert words in str(err.value) and "response curve for 'display'" in str(err.value)


def test_unfitted_models_say_so():
    with pytest.raises(NotFittedError, match="not fitted: call fit"):
        ads.HillResponse(channel="video").predict(100)
    with pytest.raises(NotFittedError, match="not fitted"):
        ads.ResponseCurves().summary({})


def _twin_curves(**kwargs) -> ads.ResponseCurves:
    s = np.linspace(50, 400, 60)
    daily = pd.concat([pd.DataFrame({"channel": c, "spend": s, "revenue": ads.hill(s, 1000, 200)}) for c in "ab"])
    return ads.ResponseCurves(n_boot=20, **kwargs).fit(daily)


def test_reallocation_equalises_marginal_roas():
    curves = _twin_curves()
    assert curves.models_["a"].params_["k"] == pytest.approx(200, rel=1e-3)
    # Two copies of f(s) = 1000 s / (200 + s) at 100 and 300 per day: the best split of 400 is 200 / 200.
    # Gain per day = 2 f(200) − f(100) − f(300) = 1000 − 333.33 − 600 = 66.67; over 7 days 466.67.
    r = curves.reallocate({"a": 100, "b": 300}, days=7, max_change=1.0)
    t = r.table.set_index("channel")
    assert t["proposed_spend"].to_numpy() == pytest.approx([200, 200], abs=0.5)
    assert t["proposed_spend"].sum() == pytest.approx(400) and r.total_spend == 400
    assert r.gain == pytest.approx(466.67, abs=0.5)
    assert r.gain_low == pytest.approx(r.gain, rel=1e-3) and r.gain_high == pytest.approx(r.gain, rel=1e-3)
    assert t.loc["a", "proposed_marginal_roas"] == pytest.approx(t.loc["b", "proposed_marginal_roas"], rel=1e-3)
    # At most ±50 %: a rises to 150, b falls to 250; gain/day = 428.57 + 555.56 − 333.33 − 600 = 50.79.
    capped = curves.reallocate({"a": 100, "b": 300}, max_change=0.5)
    assert capped.table["proposed_spend"].to_numpy() == pytest.approx([150, 250], abs=0.5)
    assert capped.gain == pytest.approx(50.79, abs=0.1)
    # Already balanced: nothing to gain.
    assert curves.reallocate({"a": 200, "b": 200}).gain == pytest.approx(0, abs=1e-6)


def test_curves_keep_refused_channels_and_explain_them():
    s = np.linspace(50, 400, 60)
    daily = pd.concat([pd.DataFrame({"channel": "a", "spend": s, "revenue": ads.hill(s, 1000, 200)}),
                       pd.DataFrame({"channel": "b", "spend": s[:10], "revenue": s[:10]}),
                       pd.DataFrame({"channel": "c", "spend": s[:10], "revenue": s[:10]}),
                       pd.DataFrame({"channel": "d", "spend": np.full(40, 50.0), "revenue": np.full(40, 80.0)})])
    curves = ads.ResponseCurves(n_boot=10).fit(daily)
    assert sorted(curves.models_) == ["a"] and curves.refused_["b"].code == "too_few_days"
    assert curves.refused_["d"].code == "no_variation"
    summary = curves.summary({"a": 200.0, "b": 80.0, "c": 80.0, "d": 50.0}).set_index("channel")
    assert summary.loc["b", "status"] == "refused" and summary.loc["b", "reason"] == "too_few_days"
    # Marginal ROAS of a at 200: 1000 × 200 / 400² = 1.25.
    assert summary.loc["a", "marginal_roas"] == pytest.approx(1.25, rel=1e-3)
    realloc = curves.reallocate({"a": 200.0, "b": 80.0, "c": 80.0, "d": 50.0})
    assert realloc.held == ("b", "c", "d") and list(realloc.table["channel"]) == ["a"]
    frame = curves.curve_frame(points=5)
    assert list(frame.columns) == ["channel", "spend", "revenue", "low", "high"] and len(frame) == 5
    chan = pd.DataFrame({"channel": ["a"], "spend": [1.0], "platform_revenue": [0.0], "store_revenue": [0.0],
                         "below_break_even": [False], "missing_days": [0], "days": [1], "wasted_spend": [0.0],
                         "below_target": [False], "platform_vs_store": [np.nan]})
    blend = {"spend": 1.0, "mer": 2.0, "new_customers": 0.0, "new_customer_cac": np.nan}
    table = summary.reset_index()
    en = " ".join(ads.sentences(chan, msg=Messages("en", currency="CNY"), blend=blend, curves=table, realloc=realloc))
    zh = " ".join(ads.sentences(chan, msg=Messages("zh", currency="CNY"), blend=blend, curves=table, realloc=realloc))
    assert "No response curve for b, c: only 10 days of data, fewer than the 28 needed." in en
    assert "b、c 未拟合响应曲线：只有 10 天数据，少于所需的 28 天。" in zh
    assert ("No response curve for d: daily spend hardly varied (coefficient of variation 0.0%, below 10.0%), so "
            "the data cannot show how revenue responds to spend.") in en
    assert "d 未拟合响应曲线：日花费几乎没有波动（变异系数 0.0%，低于 10.0%）" in zh
    assert "Channels without a curve keep their spend: b, c, d." in en and "没有曲线的渠道保持原花费：b、c、d。" in zh
    assert "observational" in en and "观测数据" in zh


# Words -------------------------------------------------------------------------------------------------
def test_sentences_in_both_languages(spend, orders, margins):
    perf = ads.performance(spend, orders, period=ONE_DAY)
    chan = ads.profit_view(perf, margins, target_roas=3.5)
    camp = ads.profit_view(ads.performance(spend, orders, period=ONE_DAY, level="campaign"), margins, target_roas=3.5)
    blend = ads.blended(spend, orders, period=ONE_DAY)
    before = {**blend, "spend": 200.0, "mer": 3.0, "new_customer_cac": 50.0}
    curves = _twin_curves()
    realloc = curves.reallocate({"a": 100, "b": 300}, days=7, max_change=1.0)
    pace = pd.DataFrame({"channel": ["display"], "budget": [700.0], "projected_spend": [420.0],
                         "projected_vs_budget": [0.6], "pace_status": ["under"]})
    kw = dict(blend=blend, blend_before=before, campaigns=camp, realloc=realloc, pacing_table=pace, target_roas=3.5)
    en = ads.sentences(chan, msg=Messages("en", currency="CNY"), **kw)
    zh = ads.sentences(chan, msg=Messages("zh", currency="CNY"), **kw)
    assert len(en) == len(zh) and all("{" not in s for s in en + zh)
    text_en, text_zh = " ".join(en), " ".join(zh)
    # Spend 140 vs 200 = −30 %; MER 600 / 140 = 4.29×.
    assert "Ad spend was CN¥140.00 (-30.0% on the previous period)" in text_en and "4.29× (previous 3.00×)" in text_en
    assert "广告花费 ¥140.00（较上期 -30.0%）" in text_zh
    # search: ROAS 0 with no orders → no interval; break-even 2.14×; contribution −40.
    assert ("search is below break-even: its store-side ROAS of 0.00× is under its break-even ROAS of 2.14×"
            in text_en)
    assert "search 低于盈亏平衡：其店铺口径 ROAS 为 0.00×，低于盈亏平衡 ROAS 2.14×" in text_zh
    assert "Above break-even but below the target ROAS of 3.50× (store-side): display." in text_en
    # Wasted: search's 40 of 140 spend = 28.6 %.
    assert "28.6% of ad spend (CN¥40.00) went to campaigns below break-even; the largest is search_a" in text_en
    assert "28.6% 的广告花费（¥40.00）" in text_zh
    # Platforms: 400 claimed against 300 in the store for the paid channels.
    assert "platforms claim 1.33× what the store sees" in text_en and "平台报告是店铺实际的 1.33×" in text_zh
    assert "would raise expected revenue by about CN¥466.67 over 7 days" in text_en
    assert "7 天内预期收入约增加 ¥466.67" in text_zh
    assert "display is on course to spend only CN¥420.00 of its CN¥700.00 budget (60.0%)." in text_en
    assert "display 预计只花费 ¥420.00，预算为 ¥700.00（60.0%）。" in text_zh


def test_below_break_even_sentence_says_how_sure():
    row = dict(channel="display", spend=1000.0, platform_revenue=3000.0, store_revenue=1500.0,
               platform_vs_store=2.0, roas=1.5, roas_low=1.1, roas_high=1.9, break_even_roas=2.0, margin_rate=0.5,
               contribution=-250.0, below_break_even=True, below_target=False, wasted_spend=1000.0, missing_days=0,
               days=7)
    blend = {"spend": 1000.0, "mer": 5.0, "new_customers": 10.0, "new_customer_cac": 100.0}
    msg = Messages("en", currency="CNY")
    sure = " ".join(ads.sentences(pd.DataFrame([{**row, "surely_below": True}]), msg=msg, blend=blend))
    assert ("display is below break-even: its store-side ROAS of 1.50× (95% interval 1.10×–1.90×) is under its "
            "break-even ROAS of 2.00× (gross margin 50.0%); it contributed -CN¥250.00 on CN¥1,000 of spend.") in sure
    unsure = " ".join(ads.sentences(pd.DataFrame([{**row, "roas_high": 2.4, "surely_below": False}]), msg=msg,
                                    blend=blend))
    assert "The 95% interval (1.10×–2.40×) still reaches break-even" in unsure
    weekly = pd.DataFrame({"channel": "display", "spend": [1.0] * 4, "below_break_even": [True, True, True, False]})
    with_record = " ".join(ads.sentences(pd.DataFrame([{**row, "surely_below": True}]), msg=msg, blend=blend,
                                         weekly=weekly))
    assert "display was below break-even in 3 of the last 4 weeks." in with_record


def test_translate_codes_and_catalogue_is_complete():
    df = pd.DataFrame({"flag": ["below_break_even", "ok"], "status": ["refused", "fitted"],
                       "reason": ["no_variation", ""], "pace_status": ["over", "on_track"]})
    zh = ads.translate(df, Messages("zh"))
    assert zh["flag"].tolist() == ["低于盈亏平衡", "正常"] and zh["reason"].tolist() == ["花费波动过小", ""]
    assert ads.translate(df, Messages("en"))["pace_status"].tolist() == ["over budget", "on track"]
    assert df["flag"].tolist() == ["below_break_even", "ok"]  # input untouched
    keys = {k for k in catalogue() if k.startswith("ads.")}
    for code in ads.FIT_CODES:
        assert f"ads.reason.{code}" in keys and f"ads.s.reason_{code}" in keys
    for table_col in ("flag", "status", "pace_status"):
        assert any(k.startswith(f"ads.{table_col}.") for k in keys)
    raw = yaml.safe_load((Path(ads.__file__).parent / "messages" / "ads.yaml").read_text(encoding="utf-8"))
    assert all(set(v) == {"en", "zh"} for v in raw.values())


def test_every_key_the_module_and_notebook_use_is_in_the_catalogue():
    import re

    root = Path(ads.__file__).parents[1]
    source = Path(ads.__file__).read_text(encoding="utf-8") + (root / "notebooks" / "ad_roas.ipynb").read_text(
        encoding="utf-8")
    used = set(re.findall(r"[\"'](ads\.[a-z_]+\.[a-z_]+)[\"']", source))
    assert len(used) > 40
    assert sorted(k for k in used if k not in catalogue()) == []


def test_headlines():
    rows = pd.DataFrame({"spend": [300.0, 100.0], "wasted_spend": [0.0, 100.0]})
    blend = {"spend": 400.0, "mer": 5.0, "store_roas": 2.5, "new_customer_cac": 40.0}
    now = ads.headline_numbers(rows, blend)
    assert now["share_below_break_even"] == pytest.approx(0.25)  # 100 of 400
    hs = ads.headlines(now, {**now, "mer": float("nan")}, Messages("zh"))
    assert [h.key for h in hs] == ["spend", "mer", "store_roas", "share_below_break_even", "new_customer_cac"]
    assert hs[1].previous is None and hs[3].unit == "ratio" and hs[3].good == "down"
    assert hs[0].label == "广告花费"


def test_plots_use_the_catalogue():
    import matplotlib.pyplot as plt

    msg = Messages("zh", currency="CNY")
    weekly = pd.DataFrame({"date": pd.to_datetime(["2026-11-09", "2026-11-16"] * 2), "channel": ["a", "a", "b", "b"],
                           "spend": [100.0, 120.0, 50.0, 40.0], "store_roas": [2.0, 2.5, 1.0, 1.2]})
    fig, ax = plt.subplots()
    out = ads.plot_over_time(weekly, y="store_roas", ref={"a": 2.0, "b": 2.2}, ax=ax, msg=msg)
    assert out is ax and ax.get_title() == "各渠道每周店铺 ROAS" and ax.get_ylabel() == "店铺 ROAS"
    assert "盈亏平衡（虚线）" in [t.get_text() for t in ax.get_legend().get_texts()]
    curves = _twin_curves()
    fig, ax = plt.subplots()
    ads.plot_response(curves.curve_frame(), current=curves.summary({"a": 100.0, "b": 300.0}), ax=ax, msg=msg)
    assert ax.get_title() == "各渠道收入对花费的响应" and ax.get_xlabel() == "日花费"
    plt.close("all")


# The demo store: display is the planted below-break-even channel ----------------------------------------
@pytest.fixture(scope="module")
def demo(demo_dir):
    """The demo store's tables this review reads (faster than loading every table)."""
    from ecomlib import load_dataset
    return load_dataset(demo_dir, tables=["ad_spend", "orders", "order_items", "products"])


@pytest.fixture(scope="module")
def demo_w47(demo):
    week = parse_period("2026-W47")
    history = ads.history_window(week, 180)
    margins = ads.channel_margins(demo.orders, demo.order_items, demo.products, period=history)
    channels = ads.profit_view(ads.performance(demo.ad_spend, demo.orders, period=week), margins, target_roas=3.0)
    weekly = ads.profit_view(ads.performance(demo.ad_spend, demo.orders, period=history, freq="W"), margins)
    return week, margins, channels, weekly


def test_demo_display_is_below_break_even(demo, demo_w47):
    week, margins, channels, weekly = demo_w47
    # Independent check of display's store ROAS straight from the tables.
    o = demo.orders
    mask = ((o["channel"] == "display") & o["status"].isin(["completed", "partially_refunded"])
            & week.contains(o["order_time"]))
    a = demo.ad_spend
    roas = o.loc[mask, "revenue"].sum() / a.loc[(a["channel"] == "display") & week.contains(a["date"]), "spend"].sum()
    d = channels.set_index("channel").loc["display"]
    assert d["store_roas"] == pytest.approx(roas)
    assert 1.0 < d["store_roas"] < 1.8                   # planted ≈ 1.5 over the history; one week is noisier
    assert 0.45 < d["margin_rate"] < 0.55 and 1.8 < d["break_even_roas"] < 2.2   # margin ~50 % → break-even ≈ 2
    assert d["flag"] == "below_break_even" and d["contribution"] < 0
    assert d["platform_vs_store"] > 2                    # the display platform over-claims most
    flagged = channels.loc[channels["below_break_even"], "channel"].tolist()
    assert flagged == ["display"]
    record = ads.weeks_below(weekly).set_index("channel")
    assert record.loc["display", "share_below"] > 0.6 and record.drop("display")["weeks_below"].sum() == 0
    blend = ads.blended(demo.ad_spend, demo.orders, period=week)
    en = ads.sentences(channels, msg=Messages("en", currency="CNY"), blend=blend, weekly=weekly)
    zh = ads.sentences(channels, msg=Messages("zh", currency="CNY"), blend=blend, weekly=weekly)
    shown = Messages("en").ratio(d["store_roas"])
    assert any(s.startswith(f"display is below break-even: its store-side ROAS of {shown}") for s in en)
    assert any(s.startswith(f"display 低于盈亏平衡：其店铺口径 ROAS 为 {shown}") for s in zh)


def test_demo_display_marginal_roas_is_below_break_even(demo, demo_w47):
    week, margins, _, _ = demo_w47
    window = ads.history_window(week, 180)
    daily = ads.response_data(demo.ad_spend, demo.orders, window=window)
    curves = ads.ResponseCurves(n_boot=100).fit(daily)
    assert sorted(curves.models_) == ["affiliate", "display", "paid_search", "paid_social", "video"]
    summary = curves.summary(ads.current_daily_spend(demo.ad_spend, period=week)).set_index("channel")
    be = margins.set_index("channel")["break_even_roas"]
    assert summary.loc["display", "marginal_high"] < be["display"]
    realloc = curves.reallocate(ads.current_daily_spend(demo.ad_spend, period=week), days=7)
    t = realloc.table.set_index("channel")
    assert t.loc["display", "change"] < 0 and realloc.gain > 0
    assert t["proposed_spend"].sum() == pytest.approx(t["current_spend"].sum())


def test_notebook_flags_display_on_the_demo(demo, demo_dir, tmp_path):
    import papermill

    from ecomlib.report import read_headlines

    out = tmp_path / "ad_roas.ipynb"
    nb_dir = demo_dir.parents[1] / "notebooks"
    nb = papermill.execute_notebook(str(nb_dir / "ad_roas.ipynb"), str(out), cwd=str(nb_dir), kernel_name="python3",
                                    parameters={"data_dir": str(demo_dir), "lang": "zh"}, progress_bar=False)
    text = "\n".join(str(o.get("data", {}).get("text/markdown", "")) + str(o.get("data", {}).get("text/html", ""))
                     for c in nb["cells"] for o in c.get("outputs", []))
    assert re.search(r"display 低于盈亏平衡：其店铺口径 ROAS 为 1\.\d\d×", text)   # the sentence
    assert "display_gdn_remarketing" in text and "低于盈亏平衡</td>" in text  # the campaign table flag
    heads = {h["key"]: h for h in read_headlines(nb)}
    assert set(heads) == {"spend", "mer", "store_roas", "share_below_break_even", "new_customer_cac"}
    spend = demo.ad_spend[parse_period("2026-W47").contains(demo.ad_spend["date"])].groupby("channel")["spend"].sum()
    # only display is below break-even, so the share is display's share of the week's spend
    assert heads["share_below_break_even"]["value"] == pytest.approx(spend["display"] / spend.sum(), abs=0.001)
    assert heads["spend"]["previous"] is not None
