"""The demo store: deterministic, valid against the contract, and carrying the planted findings on every seed.

The planted findings are checked from the raw tables (no review code) on every seed of ``conftest.SEEDS``,
with margins wide enough to hold on any draw; data/README.md states the sizes measured on these seeds.
"""

from __future__ import annotations

import filecmp

import numpy as np
import pandas as pd
import pytest

from ecomlib import demo as store, load_dataset
from ecomlib.dataset import unmatched_keys

from .conftest import SEEDS

QUALITY = store.REASONS["quality_defect"]
QUALITY_WORDS = set(QUALITY[0]) | set(QUALITY[1]) | set(QUALITY[2])
COUNTED = ["completed", "partially_refunded"]
SOLD = ["completed", "partially_refunded", "refunded"]
LAST_WEEK = pd.Period(store.CHECKOUT_DROP_START, "W")


@pytest.fixture(scope="module")
def raw(demo_seed_dir):
    """``raw(seed, table)``: a table of the seed's store read straight from its file, cached for the module."""
    cache: dict[tuple[int, str], pd.DataFrame] = {}
    times = {"orders": ["order_time"], "returns": ["returned_at"], "ad_spend": ["date"], "customers": ["first_seen"],
             "purchase_orders": ["ordered_at", "promised_at", "received_at"], "inventory": ["as_of"]}

    def read(seed: int, table: str) -> pd.DataFrame:
        if (seed, table) not in cache:
            folder = demo_seed_dir(seed)
            if table == "events":
                df = pd.read_parquet(folder / "events.parquet", columns=["event_time", "session_id", "event_name",
                                                                         "device"])
            else:
                df = pd.read_csv(folder / f"{table}.csv", parse_dates=times.get(table, []))
            cache[seed, table] = df
        return cache[seed, table]

    return read


def _sold_lines(raw, seed):
    o, items, products = raw(seed, "orders"), raw(seed, "order_items"), raw(seed, "products")
    lines = items.merge(o.loc[o["status"].isin(SOLD), ["order_id", "order_time"]], on="order_id")
    return lines.merge(products[["sku", "category", "supplier_id", "unit_cost"]], on="sku")


def _quality_rate(raw, seed):
    """Quality returns ÷ units sold per SKU (returns matched to the SKU; reason by code or words)."""
    r = raw(seed, "returns")
    quality = r[r["reason_code"].isin(QUALITY_WORDS) | r["reason_text"].isin(QUALITY_WORDS)]
    units = _sold_lines(raw, seed).groupby("sku")["quantity"].sum()
    return units, quality.groupby("sku")["quantity"].sum().reindex(units.index, fill_value=0)


def _pooled(units, returned, skus):
    skus = units.index.intersection(skus)
    return returned[skus].sum() / units[skus].sum()


def test_same_seed_gives_byte_identical_files_and_another_seed_differs(tmp_path, demo_dir, demo_seed_dir):
    store.write_demo(tmp_path / "again", seed=42)
    names = sorted(p.name for p in demo_dir.iterdir())
    assert names == sorted(p.name for p in (tmp_path / "again").iterdir())
    match, mismatch, errors = filecmp.cmpfiles(demo_dir, tmp_path / "again", names, shallow=False)
    assert mismatch == [] and errors == []
    assert not filecmp.cmp(demo_dir / "orders.csv", demo_seed_dir(7) / "orders.csv", shallow=False)


def test_demo_validates_and_has_the_promised_size(demo):
    from ecomlib.contract import TABLES

    assert set(demo.tables()) == set(TABLES)  # the demo fills every table of the contract
    assert demo.warnings == []
    o = demo.orders
    assert (o["order_time"].max() - o["order_time"].min()).days >= 18 * 30
    assert 20_000 <= o["customer_id"].nunique() <= 90_000
    assert len(demo.products) >= 200 and demo.products["category"].nunique() >= 5
    assert demo.products["product_name"].str.contains(r"[\u4e00-\u9fff]").any()
    assert demo.ad_spend["channel"].nunique() >= 5
    assert 8 <= len(demo.suppliers) <= 12
    repeaters = o.groupby("customer_id").size().gt(1).mean()
    assert 0.2 < repeaters < 0.7


def test_budgets_cover_every_paid_channel_and_month(demo):
    b = demo.budgets
    months = pd.period_range(store.START, store.END, freq="M").strftime("%Y-%m")
    assert set(b["channel"]) == set(store.AD_CHANNELS["channel"]) and set(b["period"]) == set(months)
    assert len(b) == len(store.AD_CHANNELS) * len(months) and (b["amount"] > 0).all()
    spend = demo.ad_spend.assign(period=demo.ad_spend["date"].dt.strftime("%Y-%m")).groupby(
        ["channel", "period"], observed=True)["spend"].sum()
    ratio = spend / b.set_index(["channel", "period"])["amount"]
    full = ratio.drop(index=store.END.strftime("%Y-%m"), level="period")
    assert 0.8 < full.median() < 1.2 and (full > 1).any() and (full < 1).any()  # some months over, some under
    keys = unmatched_keys(demo)
    assert keys[keys["table"].isin(["ad_spend", "budgets"])].empty


@pytest.mark.parametrize("seed", SEEDS)
def test_planted_culprit_sku_sells_enough_and_returns_for_quality_far_above_category_and_supplier(raw, seed):
    lines = _sold_lines(raw, seed)
    recent = lines[lines["order_time"] > store.END - pd.Timedelta(days=90)]
    assert recent.loc[recent["sku"] == store.CULPRIT_SKU, "quantity"].sum() >= 250  # review minimum: 100 units
    units, returned = _quality_rate(raw, seed)
    products = raw(seed, "products").set_index("sku")
    supplier_others = products.index[(products["supplier_id"] == store.BAD_SUPPLIER)
                                     & (products.index != store.CULPRIT_SKU)]
    category_peers = products.index[(products["category"] == "Electronics")
                                    & (products["supplier_id"] != store.BAD_SUPPLIER)]
    culprit = returned[store.CULPRIT_SKU] / units[store.CULPRIT_SKU]
    assert culprit > 1.8 * _pooled(units, returned, supplier_others)
    assert culprit > 4.5 * _pooled(units, returned, category_peers)


@pytest.mark.parametrize("seed", SEEDS)
def test_planted_supplier_is_late_short_rejects_and_draws_quality_returns(raw, seed):
    po = raw(seed, "purchase_orders").dropna(subset=["received_at"])
    by = po.groupby("supplier_id")
    late = ((po["received_at"] - po["promised_at"]) > pd.Timedelta(days=1)).groupby(po["supplier_id"]).mean()
    fill = by["qty_received"].sum() / by["qty_ordered"].sum()
    rejects = by["qty_rejected"].sum() / by["qty_received"].sum()
    bad = store.BAD_SUPPLIER
    assert late.idxmax() == bad and late[bad] > late.drop(bad).max() + 0.1
    assert fill[bad] < 0.8 and fill.drop(bad).min() > 0.94
    assert rejects[bad] > 4 * rejects.drop(bad).max()
    units, returned = _quality_rate(raw, seed)
    products = raw(seed, "products").set_index("sku")
    electronics = products["category"] == "Electronics"
    s07 = products.index[electronics & (products["supplier_id"] == bad) & (products.index != store.CULPRIT_SKU)]
    s08 = products.index[electronics & (products["supplier_id"] != bad)]
    assert _pooled(units, returned, s07) > 2.2 * _pooled(units, returned, s08)


def _break_even_roas(raw, seed) -> float:
    lines = _sold_lines(raw, seed)
    lines = lines[lines["order_id"].isin(raw(seed, "orders").query("status in @COUNTED")["order_id"])]
    margin = 1 - (lines["quantity"] * lines["unit_cost"]).sum() / (lines["quantity"] * lines["unit_price"]).sum()
    return 1 / margin


@pytest.mark.parametrize("seed", SEEDS)
def test_planted_channel_is_below_break_even_and_no_shift_can_profitably_add_to_it(raw, seed):
    o, ad = raw(seed, "orders"), raw(seed, "ad_spend")
    counted = o[o["status"].isin(COUNTED)]
    break_even = _break_even_roas(raw, seed)
    channel = store.BELOW_BREAK_EVEN_CHANNEL
    roas = counted.groupby("channel")["revenue"].sum() / ad.groupby("channel")["spend"].sum()
    assert roas[channel] < 0.5 * break_even and roas.dropna().drop(channel).min() > 1.5 * break_even
    weekly = (counted[counted["channel"] == channel].groupby(counted["order_time"].dt.to_period("W"))["revenue"].sum()
              / ad[ad["channel"] == channel].groupby(ad["date"].dt.to_period("W"))["spend"].sum())
    assert (weekly < break_even).mean() >= 0.95
    # The true response is new customers = vmax·s/(k+s): its steepest slope, at zero spend, is vmax/k customers
    # per yuan. Valued at the revenue each acquired customer brought the channel, even that first yuan returns
    # less than break-even, so no reallocation can profitably move money into the channel.
    curve = store.AD_CHANNELS.set_index("channel").loc[channel]
    acquired = (raw(seed, "customers")["acquisition_channel"] == channel).sum()
    assert curve["vmax"] / curve["k"] * roas[channel] * ad.loc[ad["channel"] == channel, "spend"].sum() / acquired \
        < 0.75 * break_even


def _month3_retention(raw, seed) -> pd.Series:
    o = raw(seed, "orders")
    o = o[o["status"] == "completed"]
    first = o.groupby("customer_id")["order_time"].transform("min")
    cohort = first.dt.strftime("%Y-%m")
    gap = (o["order_time"].dt.year - first.dt.year) * 12 + o["order_time"].dt.month - first.dt.month
    kept = o[gap == 3].groupby(cohort[gap == 3])["customer_id"].nunique()
    retention = (kept / o.groupby(cohort)["customer_id"].nunique()).dropna()
    return retention[retention.index <= (store.END - pd.DateOffset(months=4)).strftime("%Y-%m")]


@pytest.mark.parametrize("seed", SEEDS)
def test_planted_cohort_retains_better(raw, seed):
    retention = _month3_retention(raw, seed)
    assert retention[store.GOOD_COHORT] > 1.5 * retention.drop(store.GOOD_COHORT).max()


def _checkout_rates(raw, seed) -> pd.DataFrame:
    e = raw(seed, "events")
    e = e[e["event_name"].isin(["begin_checkout", "purchase"])]
    counts = (e.assign(week=e["event_time"].dt.to_period("W")).groupby(["week", "device", "event_name"])["session_id"]
              .nunique().unstack("event_name"))
    return counts


@pytest.mark.parametrize("seed", SEEDS)
def test_planted_mobile_checkout_drop_in_the_last_full_week(raw, seed):
    assert store.END.normalize() - pd.Timedelta(days=6) == store.CHECKOUT_DROP_START  # the last full ISO week
    counts = _checkout_rates(raw, seed)
    rate = (counts["purchase"] / counts["begin_checkout"]).unstack("device")
    before = counts.loc[LAST_WEEK - 4:LAST_WEEK - 1].groupby("device").sum()
    now = counts.loc[LAST_WEEK]
    p0, p1 = before["purchase"] / before["begin_checkout"], now["purchase"] / now["begin_checkout"]
    n0, n1 = before["begin_checkout"], now["begin_checkout"]
    pooled = (before["purchase"] + now["purchase"]) / (n0 + n1)
    z = (p0 - p1) / np.sqrt(pooled * (1 - pooled) * (1 / n0 + 1 / n1))
    assert p0["mobile"] - p1["mobile"] > 0.12 and z["mobile"] > 6
    assert abs(z["desktop"]) < 3 and abs(rate.loc[LAST_WEEK, "desktop"] - p0["desktop"]) < 0.06


@pytest.mark.parametrize("seed", SEEDS)
def test_stock_below_its_lead_time_demand_is_a_short_list(raw, seed):
    o, items, po, inventory = raw(seed, "orders"), raw(seed, "order_items"), raw(seed, "purchase_orders"), \
        raw(seed, "inventory")
    recent = o[(o["order_time"] > store.END - pd.Timedelta(days=90)) & (o["status"] == "completed")]
    demand = items[items["order_id"].isin(recent["order_id"])].groupby("sku")["quantity"].sum() / 90
    received = po.dropna(subset=["received_at"])
    lead = ((received["received_at"] - received["ordered_at"]).dt.days.groupby(received["supplier_id"]).mean())
    sku_lead = raw(seed, "products").set_index("sku")["supplier_id"].map(lead)
    on_order = po[po["received_at"].isna()].groupby("sku")["qty_ordered"].sum()
    stock = inventory.sort_values("as_of").drop_duplicates("sku", keep="last").set_index("sku")  # the last count
    position = stock["on_hand"] + on_order.reindex(stock.index, fill_value=0)
    need = (demand.reindex(stock.index, fill_value=0) * sku_lead.reindex(stock.index))
    short = position < need
    assert short.sum() == store.N_SHORT_STOCK
    cover = stock["on_hand"] / demand.reindex(stock.index)
    assert 20 < cover[~short & (demand.reindex(stock.index) > 0.5)].median() < 90  # weeks of cover, not months


def test_no_plants_store_has_none_of_the_findings():
    t = store.generate(2026, plants=False)
    po = t["purchase_orders"].dropna(subset=["received_at"])
    fill = po.groupby("supplier_id")["qty_received"].sum() / po.groupby("supplier_id")["qty_ordered"].sum()
    assert fill[store.BAD_SUPPLIER] > 0.94
    counted = t["orders"][t["orders"]["status"].isin(COUNTED)]
    roas = counted.groupby("channel")["revenue"].sum() / t["ad_spend"].groupby("channel")["spend"].sum()
    assert roas[store.BELOW_BREAK_EVEN_CHANNEL] > 2.5  # above break-even (≈ 2)
    e = t["events"][t["events"]["device"] == "mobile"]
    e = e.assign(late=e["event_time"] >= store.CHECKOUT_DROP_START)
    n = e[e["event_name"].isin(["begin_checkout", "purchase"])].groupby(["late", "event_name"])["session_id"].nunique()
    assert abs(n[True, "purchase"] / n[True, "begin_checkout"] - n[False, "purchase"] / n[False, "begin_checkout"]) \
        < 0.05
    lines = t["order_items"].merge(t["orders"].loc[t["orders"]["status"].isin(SOLD), ["order_id"]], on="order_id")
    units = lines.groupby("sku")["quantity"].sum()
    r = t["returns"]
    quality = r[r["reason_code"].isin(QUALITY_WORDS) | r["reason_text"].isin(QUALITY_WORDS)]
    returned = quality.groupby("sku")["quantity"].sum().reindex(units.index, fill_value=0)
    products = t["products"].set_index("sku")
    electronics = products.index[products["category"] == "Electronics"]
    assert returned[store.CULPRIT_SKU] / units[store.CULPRIT_SKU] < 1.8 * _pooled(units, returned, electronics)


def test_loader_reads_the_parquet_events_of_the_demo(demo_dir):
    ds = load_dataset(demo_dir, tables=["events"])
    assert ds.files["events"].endswith("events.parquet")
    assert set(ds.events["device"].cat.categories) <= {"desktop", "mobile", "tablet"}
