"""Promotion impact: scope, daily series and the counterfactual on hand-made tables, the interval, minimum-data edges,
the contract's optional columns, the ladder, properties, and the demo's planted promotion on every seed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecomlib import Messages, promotions
from ecomlib.dataset import Dataset, Store
from ecomlib.errors import ParameterError
from ecomlib.periods import parse_period

EN, ZH = Messages("en", currency="CNY"), Messages("zh", currency="CNY")
W47 = parse_period("2026-W47")


def _daily(scope, control, start="2026-01-05"):
    """A daily table for the counterfactual: scope and control GMV (orders and margin the same numbers)."""
    idx = pd.date_range(start, periods=len(scope), freq="D")
    cols = {}
    for metric in promotions.METRICS:
        cols[f"scope_{metric}"], cols[f"control_{metric}"] = np.asarray(scope, float), np.asarray(control, float)
    return pd.DataFrame(cols, index=idx)


# Scope and daily series ---------------------------------------------------------------------------------------------
def test_in_scope_by_all_category_and_sku():
    lines = pd.DataFrame({"sku": ["A", "B", "C"], "category": ["Home", "Shoes", "Home"]})
    row = lambda **kw: pd.Series({"promo_id": "P", **kw})  # noqa: E731
    assert promotions.in_scope(lines, row(scope=None)).tolist() == [True, True, True]
    assert promotions.in_scope(lines, row(scope="category", scope_values="Home")).tolist() == [True, False, True]
    assert promotions.in_scope(lines, row(scope="sku", scope_values=" B | C ")).tolist() == [False, True, True]
    with pytest.raises(ParameterError, match="needs the products table"):
        promotions.in_scope(lines.drop(columns="category"), row(scope="category", scope_values="Home"))


def test_daily_series_by_hand():
    lines = pd.DataFrame({"order_id": ["1", "1", "2", "3"], "day": pd.to_datetime(["2026-01-01"] * 3 + ["2026-01-03"]),
                          "revenue": [10.0, 5.0, 7.0, 3.0], "margin": [4.0, 2.0, 3.0, 1.0]})
    d = promotions.daily_series(lines, np.array([True, False, True, False]))
    assert d.index.tolist() == list(pd.date_range("2026-01-01", "2026-01-03"))
    assert d["scope_gmv"].tolist() == [17.0, 0.0, 0.0] and d["scope_orders"].tolist() == [2.0, 0.0, 0.0]
    assert d["control_gmv"].tolist() == [5.0, 0.0, 3.0] and d["control_orders"].tolist() == [1.0, 0.0, 1.0]
    assert d["scope_margin"].tolist() == [7.0, 0.0, 0.0]


# The counterfactual and its interval ----------------------------------------------------------------------------------
def test_control_counterfactual_scales_the_control_by_weekday():
    # 4 fit weeks: scope is half the control on weekdays, a quarter on Sundays; then a promotion week with +30
    control = np.tile([100, 100, 100, 100, 100, 100, 200], 5).astype(float)
    scope = control * np.tile([0.5] * 6 + [0.25], 5)
    scope[28:] += 30.0
    daily = _daily(scope, control)
    fit = daily.index[:28]
    f = promotions.counterfactual(daily, metric="gmv", fit=fit, method="control")
    assert f["cf"].iloc[28:].tolist() == [50.0] * 6 + [50.0]
    assert f["kappa"] == 0.0 and f["weeks"] == 4 and f["df"] == 3
    t = promotions.lift_table(daily, {w: (daily.index[28], daily.index[-1] + pd.Timedelta(days=1))
                                      for w in promotions.WINDOWS}, fit=fit, method="control")
    row = t.set_index(["metric", "window"]).loc[("gmv", "promotion")]
    assert row["observed"] == 560.0 and row["counterfactual"] == 350.0 and row["lift"] == 210.0
    assert row["lift_rel"] == pytest.approx(0.6) and row["lift_low"] == row["lift_high"] == 210.0  # no noise


def test_pre_period_counterfactual_is_the_weekday_mean():
    scope = np.r_[np.tile([10, 20, 30, 40, 50, 60, 70], 2), [11, 22, 33, 44, 55, 66, 77]].astype(float)
    scope[7:14] += 2.0  # second fit week 2 higher: the weekday means are the first week + 1
    daily = _daily(scope, np.zeros_like(scope))
    f = promotions.counterfactual(daily, metric="orders", fit=daily.index[:14], method="pre_period")
    assert f["cf"].iloc[14:].tolist() == [11.0, 21.0, 31.0, 41.0, 51.0, 61.0, 71.0]
    # residuals −1 every day of the first week, +1 of the second: weekly sums ∓7 against 287 counterfactual each
    assert f["kappa"] == pytest.approx((49 / 287 + 49 / 287) / 1) and f["fit_cf"] == 574.0 and f["df"] == 1
    with pytest.raises(ParameterError, match="method"):
        promotions.counterfactual(daily, metric="gmv", fit=daily.index[:14], method="synthetic")


def test_the_interval_is_a_prediction_interval_from_the_fit_weeks():
    rng = np.random.default_rng(0)
    control = np.full(70, 100.0)
    scope = 50.0 + rng.normal(0, 5, 70)
    daily = _daily(scope, control)
    fit = daily.index[:56]
    f = promotions.counterfactual(daily, metric="gmv", fit=fit, method="control")
    # by hand: cf = 0.5 × control × (the weekday's scope sum / control sum over the 8 fit weeks)
    dow = daily.index.day_of_week
    ratio = pd.Series(scope[:56]).groupby(dow[:56]).sum() / pd.Series(control[:56]).groupby(dow[:56]).sum()
    cf = control * ratio.loc[dow].to_numpy()
    assert f["cf"].to_numpy() == pytest.approx(cf)
    weekly_resid = (scope[:56] - cf[:56]).reshape(8, 7).sum(axis=1)
    weekly_cf = cf[:56].reshape(8, 7).sum(axis=1)
    kappa = (weekly_resid ** 2 / weekly_cf).sum() / 7
    assert f["kappa"] == pytest.approx(kappa) and f["weeks"] == 8 and f["df"] == 7
    # a 14-day window: its own noise plus the error of ratios resting on the 8 fit weeks, t quantile of 7 df
    windows = {w: (daily.index[56], daily.index[-1] + pd.Timedelta(days=1)) for w in promotions.WINDOWS}
    row = promotions.lift_table(daily, windows, fit=fit, method="control", alpha=0.05).iloc[1]
    w = cf[56:].sum()
    assert row["counterfactual"] == pytest.approx(w) and row["lift"] == pytest.approx(scope[56:].sum() - w)
    assert row["se"] == pytest.approx(np.sqrt(kappa * w * (1 + w / cf[:56].sum())))
    from scipy import stats as sps
    assert row["lift_high"] - row["lift"] == pytest.approx(sps.t.ppf(0.975, df=7) * row["se"])


def test_fit_weeks_are_counted_back_from_the_fits_last_day_and_may_have_holes():
    # 18 days with one left out (another promotion): weeks of 4, 7 and 6 days, the last one ending on the fit's
    # last day; each week's squared residual sum is taken per unit of its counterfactual
    daily = _daily(np.r_[np.full(10, 10.0), np.full(8, 14.0)], np.full(18, 100.0))
    fit = daily.index[:18].delete(12)
    f = promotions.counterfactual(daily, metric="orders", fit=fit, method="pre_period")
    cf, resid = f["cf"][fit], (daily["scope_orders"] - f["cf"])[fit]
    week = np.array([2] * 4 + [1] * 7 + [0] * 7)[np.arange(18) != 12]
    kappa = sum(resid[week == k].sum() ** 2 / cf[week == k].sum() for k in range(3)) / 2
    assert f["weeks"] == 3 and f["kappa"] == pytest.approx(kappa)


# compute on a hand-made store -------------------------------------------------------------------------------------------
def _store(*, days: int = 120, lift: float = 0.0, promo: dict | None = None, returns: bool = True) -> Dataset:
    """Two SKUs (A in Home, B in Shoes), one order a day of each for ``days`` days from 2026-06-01; during the
    promotion (Sep 1–7 by default, Home) ``lift`` extra A orders a day."""
    day = pd.date_range("2026-06-01", periods=days, freq="D")
    promo = {"promo_id": "P1", "name": "Home week", "start_date": pd.Timestamp("2026-09-01"),
             "end_date": pd.Timestamp("2026-09-07"), "scope": "category", "scope_values": "Home", "discount": 0.2,
             **(promo or {})}
    rows = [(f"{s}{i}", f"c{s}{i % 40}", t + pd.Timedelta(hours=10), s) for i, t in enumerate(day) for s in "AB"]
    extra = [d for d in day if promo["start_date"] <= d <= promo["end_date"]]
    rows += [(f"X{i}-{k}", f"new{i}-{k}", t + pd.Timedelta(hours=12), "A") for i, t in enumerate(extra)
             for k in range(int(lift))]
    o = pd.DataFrame(rows, columns=["order_id", "customer_id", "order_time", "sku"])
    orders = o.assign(channel="email", status="completed", revenue=10.0, discount=0.0, shipping_fee=0.0,
                      currency="CNY").drop(columns="sku")
    items = o[["order_id", "sku"]].assign(quantity=1, unit_price=10.0)
    products = pd.DataFrame({"sku": ["A", "B"], "category": ["Home", "Shoes"], "unit_cost": [6.0, 5.0]})
    rets = pd.DataFrame({"return_id": ["R1"], "order_id": [o["order_id"].iloc[0]], "sku": ["A"],
                         "returned_at": [pd.Timestamp("2026-06-05")], "quantity": [1], "refund_amount": [10.0]})
    return Dataset(path=".", store=Store(), orders=orders, order_items=items, products=products,
                   promotions=pd.DataFrame([promo]), returns=rets if returns else None)


def test_a_planted_lift_on_a_hand_made_store_is_recovered_exactly():
    now = promotions.compute(_store(lift=2), parse_period("2026-W39"))  # Sep 21–27: the dip window has passed
    t = now.lift.set_index(["metric", "window"])
    assert now.value("promo_id") == "P1" and now.value("method") == "control"
    assert t.loc[("orders", "promotion"), "lift"] == 14.0 and t.loc[("gmv", "promotion"), "lift"] == 140.0
    assert t.loc[("margin", "promotion"), "lift"] == 14 * 4.0 and t.loc[("gmv", "dip"), "lift"] == 0.0
    assert now.value("gmv_rel") == pytest.approx(2.0) and now.value("net_margin") == 56.0
    e = now.economics.iloc[0]
    assert e["discount_cost"] == pytest.approx(0.25 * 210.0) and e["subsidy"] == pytest.approx(0.25 * 70.0)
    keys = [f.key for f in promotions.findings(now, now, EN)]
    assert keys[0] == "lift" and "unprofitable" not in keys
    assert all(s for s in promotions.sentences(now, now, ZH))


@pytest.mark.parametrize("option, value", [("fit_days", 0), ("dip_days", -1), ("gross_margin", 1.5),
                                           ("alpha", 0), ("repeat_days", 2.5)])
def test_bad_options_are_refused_by_name(option, value):
    with pytest.raises(ParameterError, match=option):
        promotions.compute(_store(), W47, **{option: value})


def test_an_unknown_promo_id_names_the_ones_there_are():
    with pytest.raises(ParameterError, match=r"P9.*\['P1'\]"):
        promotions.compute(_store(), W47, promo_id="P9")


def test_no_promotion_past_its_dip_window_is_a_gap_everywhere():
    now = promotions.compute(_store(), parse_period("2026-W37"))  # Sep 7–13: the dip runs to Sep 21
    assert set(now.gaps) == {"lift", "economics", "customers", "returns"} and now.value("promo_id") is None
    assert promotions.sentences(now, now, EN) == [now.gaps["lift"].text(EN)] and not promotions.findings(now, now, EN)
    assert [h.value for h in promotions.headlines(now, now, ZH)] == [None] * 4
    assert promotions.table(now, "promotions", EN) is not None  # the list still shows it, not yet judged


@pytest.mark.parametrize("first_day, gap", [("2026-07-01", True), ("2026-06-30", False)])
def test_the_fit_needs_min_fit_days_of_sales(first_day, gap):
    # the fit window is the 56 days before the wait window (Aug 25 – Aug 31): Jun 30 – Aug 24
    ds = _store()
    keep = ds.orders["order_time"] >= first_day
    ds = Dataset(path=".", store=Store(), orders=ds.orders[keep], products=ds.products, promotions=ds.promotions,
                 order_items=ds.order_items[ds.order_items["order_id"].isin(ds.orders.loc[keep, "order_id"])])
    now = promotions.compute(ds, parse_period("2026-W39"), min_fit_days=56)
    assert ("lift" in now.gaps) == gap
    if gap:
        assert now.gaps["lift"].message == "promotions.gap.fit" and "55" in now.gaps["lift"].text(EN)
    else:
        assert now.notes["fit"][2] == 56


def test_a_promotions_file_without_the_new_columns_judges_the_whole_store_and_has_no_discount_cost():
    ds = _store()
    old = ds.promotions[["promo_id", "name", "start_date", "end_date"]]
    ds = Dataset(path=".", store=Store(), orders=ds.orders, order_items=ds.order_items, products=None,
                 promotions=old, returns=None)
    now = promotions.compute(ds, parse_period("2026-W39"))
    assert now.value("method") == "pre_period" and now.has("lift") and now.notes["margin_basis"] == "gross_margin"
    assert now.gaps["economics"].message == "promotions.gap.no_discount"
    assert now.gaps["returns"].message == "promotions.gap.no_returns"
    assert now.gaps["customers"].message == "promotions.gap.customers_young"


def test_a_category_promotion_without_a_products_table_is_a_gap_not_an_error():
    ds = _store(lift=2)
    ds = Dataset(path=".", store=Store(), orders=ds.orders, order_items=ds.order_items, products=None,
                 promotions=ds.promotions, returns=ds.returns)
    now = promotions.compute(ds, parse_period("2026-W39"))
    assert {g.message for g in now.gaps.values()} == {"promotions.gap.no_products"} and len(now.gaps) == 4
    assert "products.csv" in now.gaps["lift"].text(EN) and promotions.sentences(now, now, ZH)


def test_the_contract_loads_old_promotion_files_and_checks_the_new_columns(tmp_path):
    from ecomlib.dataset import load_dataset
    from ecomlib.errors import ContractError

    (tmp_path / "promotions.csv").write_text("promo_id,name,start_date,end_date\nP1,618,2026-06-18,2026-06-18\n")
    ds = load_dataset(tmp_path, tables=["promotions"])
    assert {"scope", "scope_values", "discount"} <= set(ds.promotions.columns) and ds.promotions["scope"].isna().all()
    (tmp_path / "promotions.csv").write_text("promo_id,name,start_date,end_date,scope,scope_values,discount\n"
                                             "P1,618,2026-06-18,2026-06-18,brand,Acme,1.5\n")
    with pytest.raises(ContractError) as err:
        load_dataset(tmp_path, tables=["promotions"])
    assert "scope" in str(err.value) and "discount" in str(err.value)


# The ladder of real-shaped stores -----------------------------------------------------------------------------------------
from .ladder import RUNGS  # noqa: E402


@pytest.mark.parametrize("rung", RUNGS)
def test_every_rung_of_the_ladder_computes(rung, ladder_dir):
    from ecomlib.periods import resolve

    ds = promotions.load(ladder_dir(rung))
    period, comparison = resolve(None, None, data_end=promotions.data_range(ds)[1])
    now, before = promotions.compute(ds, period), promotions.compute(ds, comparison)
    for msg in (EN, ZH):
        assert [h.key for h in promotions.headlines(now, before, msg)] == ["gmv_lift", "net_margin", "new_customers",
                                                                          "promo_repeat"]
        promotions.findings(now, before, msg)
        assert all(isinstance(s, str) and s for s in promotions.sentences(now, before, msg))
        assert all(g.text(msg) for g in now.gaps.values())
        for name in ("lift", "economics", "customers", "returns", "promotions"):
            promotions.table(now, name, msg)
    assert set(now.gaps) <= set(promotions.MINIMUM_DATA)


# Properties --------------------------------------------------------------------------------------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(1, 1000), min_size=35, max_size=35), st.floats(0.05, 5), st.floats(0, 500))
def test_a_scope_in_fixed_proportion_has_exactly_the_added_lift(control, share, added):
    control = np.asarray(control)
    scope = control * share
    scope[28:] += added / 7
    daily = _daily(scope, control)
    windows = {w: (daily.index[28], daily.index[-1] + pd.Timedelta(days=1)) for w in promotions.WINDOWS}
    t = promotions.lift_table(daily, windows, fit=daily.index[:28], method="control")
    assert t["lift"].to_numpy() == pytest.approx(np.full(12, added), abs=1e-6 * (1 + control.sum()))
    assert (t["lift_low"] <= t["lift"] + 1e-9).all() and (t["lift"] <= t["lift_high"] + 1e-9).all()


# The demo's planted promotion on every seed ----------------------------------------------------------------------------
from .conftest import SEEDS  # noqa: E402


def _truth(ds):
    """The planted sizes read back from the data (ecomlib.demo_promotions): the added OP orders of the week and their
    GMV, and the orders with a Home line removed from the wait and dip windows — exactly planted_removals, which
    rests on the four weeks before the wait window, untouched by the plant."""
    from ecomlib import demo_promotions as dp

    o = ds.orders
    added = o.loc[o["order_id"].str.startswith("OP") & (o["order_time"] >= dp.START)
                  & (o["order_time"] < dp.END + pd.Timedelta(days=1))]
    removed = dp.planted_removals(o, ds.order_items, ds.products)
    out = {"orders": len(added), "gmv": float(added["revenue"].sum()), "wait_orders": -removed["wait"],
           "dip_orders": -removed["dip"]}
    return {**out, "net_orders": out["orders"] + out["wait_orders"] + out["dip_orders"]}


def _planted(folder, seed: int, plants: bool = True) -> Dataset:
    """The demo store of ``seed`` as written (with the promotions plant when ``plants``)."""
    from ecomlib.dataset import load_dataset

    ds = load_dataset(folder, tables=["orders", "order_items", "products", "promotions", "returns", "customers"])
    assert ("P90" in set(ds.promotions["promo_id"])) == plants  # the plant is part of the demo, not of this test
    return ds


@pytest.mark.parametrize("seed", SEEDS)
def test_the_planted_promotion_is_recovered_within_its_intervals_on_every_seed(seed, demo_seed_dir):
    ds = _planted(demo_seed_dir(seed), seed)
    now = promotions.compute(ds, W47)
    assert now.value("promo_id") == "P90" and now.value("method") == "control"
    truth, t = _truth(ds), now.lift.set_index(["metric", "window"])
    for (metric, window), true in ((("orders", "promotion"), truth["orders"]), (("gmv", "promotion"), truth["gmv"]),
                                   (("orders", "wait"), truth["wait_orders"]), (("orders", "dip"), truth["dip_orders"]),
                                   (("orders", "net"), truth["net_orders"])):
        row = t.loc[(metric, window)]
        assert row["lift_low"] <= true <= row["lift_high"], (seed, metric, window, true, row.to_dict())
    found = {f.key: f for f in promotions.findings(now, now, EN)}
    assert {"lift", "pull_forward", "promo_customers"} <= set(found), (seed, sorted(found))
    assert found["lift"].confidence == "significant" and found["promo_customers"].numbers["promo_repeat"] < \
        found["promo_customers"].numbers["organic_repeat"]


def test_a_placebo_on_untouched_weeks_covers_at_the_nominal_rate(demo_dir):
    """Every category of the seed-42 demo as the scope of a promotion that never was: 7-, 14- and 28-day windows
    (after a 56-day fit, as the wait, promotion, dip and net windows are) before the planted promotion, the store's
    sale days kept out of fit and windows. The 95 % intervals must cover 0 about 95 % of the time."""
    from ecomlib.demo import PROMO_DAYS

    ds = _planted(demo_dir, 42)
    lines = promotions._lines(ds, 0.5)
    sale = pd.to_datetime(list(PROMO_DAYS))
    covered = []
    for category in ("Apparel", "Electronics", "Home", "Shoes"):
        daily = promotions.daily_series(lines, (lines["category"] == category).to_numpy())
        for start in pd.date_range("2025-08-11", "2026-07-27", freq="28D"):
            fit = pd.date_range(start - pd.Timedelta(days=56), start - pd.Timedelta(days=1))
            fitted = promotions.counterfactual(daily, metric="orders", fit=fit[~fit.isin(sale)], method="control")
            for days, lag in ((7, 0), (7, 7), (14, 14), (28, 0)):
                lo = start + pd.Timedelta(days=lag)
                hi = lo + pd.Timedelta(days=days)
                if not sale.isin(pd.date_range(lo, hi, inclusive="left")).any():
                    r = promotions._window_lift(daily, fitted, "orders", lo, hi, alpha=0.05)
                    covered.append(r["lift_low"] <= 0 <= r["lift_high"])
    assert len(covered) > 150 and 0.9 <= np.mean(covered) <= 0.99, (len(covered), np.mean(covered))


def test_without_the_plants_there_is_no_wait_and_no_dip(demo_no_plants_dir):
    ds = _planted(demo_no_plants_dir, 42, plants=False)
    now = promotions.compute(ds, W47)
    assert now.value("promo_id") != "P90"
    found = {f.key for f in promotions.findings(now, now, EN)}
    assert "pull_forward" not in found and "promo_customers" not in found
    # the planted promotion's row on the same store without its effect: no wait and no dip (A/A-like)
    from ecomlib import demo_promotions as dp

    row = pd.DataFrame([{**dp.PLANTED, "start_date": dp.START, "end_date": dp.END}])
    ds = Dataset(path=".", store=Store(), orders=ds.orders, order_items=ds.order_items, products=ds.products,
                 promotions=pd.concat([ds.promotions, row], ignore_index=True), returns=ds.returns,
                 customers=ds.customers)
    now = promotions.compute(ds, W47, promo_id="P90")
    t = now.lift.set_index(["metric", "window"])
    for metric in promotions.METRICS:
        for window in ("wait", "dip"):
            assert t.loc[(metric, window), "lift_low"] <= 0 <= t.loc[(metric, window), "lift_high"], (metric, window)
    assert "pull_forward" not in {f.key for f in promotions.findings(now, now, EN)}
