"""The demo store: deterministic, valid against the contract, and carrying the planted findings."""

from __future__ import annotations

import filecmp

from ecomlib import demo as store, load_dataset


def test_same_seed_gives_byte_identical_files_and_another_seed_differs(tmp_path, demo_dir):
    store.write_demo(tmp_path / "again", seed=42)
    names = sorted(p.name for p in demo_dir.iterdir())
    assert names == sorted(p.name for p in (tmp_path / "again").iterdir())
    match, mismatch, errors = filecmp.cmpfiles(demo_dir, tmp_path / "again", names, shallow=False)
    assert mismatch == [] and errors == []
    store.write_demo(tmp_path / "other", seed=7)
    assert not filecmp.cmp(demo_dir / "orders.csv", tmp_path / "other" / "orders.csv", shallow=False)


def test_demo_validates_and_has_the_promised_size(demo):
    assert set(demo.tables()) >= {"orders", "order_items", "products", "customers", "events", "ad_spend",
                                  "purchase_orders", "suppliers", "returns"}
    o = demo.orders
    assert (o["order_time"].max() - o["order_time"].min()).days >= 18 * 30
    assert 20_000 <= o["customer_id"].nunique() <= 90_000
    assert len(demo.products) >= 200 and demo.products["category"].nunique() >= 5
    assert demo.products["product_name"].str.contains(r"[\u4e00-\u9fff]").any()
    assert demo.ad_spend["channel"].nunique() >= 5
    assert 8 <= len(demo.suppliers) <= 12
    repeaters = o.groupby("customer_id").size().gt(1).mean()
    assert 0.2 < repeaters < 0.7


def test_planted_mobile_checkout_drop(demo):
    e = demo.events
    checkout = e[e["event_name"].isin(["begin_checkout", "purchase"])]
    late = checkout["event_time"] >= store.CHECKOUT_DROP_START
    rates = (checkout.assign(late=late).groupby(["late", "device", "event_name"], observed=True)["session_id"]
             .nunique().unstack("event_name"))
    rate = rates["purchase"] / rates["begin_checkout"]
    assert rate[(False, "mobile")] - rate[(True, "mobile")] > 0.1
    assert abs(rate[(False, "desktop")] - rate[(True, "desktop")]) < 0.06


def test_planted_supplier_is_late_and_short(demo):
    po = demo.purchase_orders.dropna(subset=["received_at"])
    late = (po["received_at"] - po["promised_at"]).dt.days.gt(1).groupby(po["supplier_id"]).mean()
    fill = po.groupby("supplier_id")["qty_received"].sum() / po.groupby("supplier_id")["qty_ordered"].sum()
    assert late.idxmax() == store.BAD_SUPPLIER and fill.idxmin() == store.BAD_SUPPLIER


def test_planted_channel_is_below_break_even(demo):
    spend = demo.ad_spend.groupby("channel")["spend"].sum()
    revenue = demo.orders.groupby("channel", observed=True)["revenue"].sum()
    roas = (revenue / spend).dropna()
    assert roas.idxmin() == store.BELOW_BREAK_EVEN_CHANNEL and roas.min() < 2.0


def test_planted_cohort_retains_better(demo):
    o = demo.orders[demo.orders["status"] == "completed"]
    first = o.groupby("customer_id")["order_time"].transform("min")
    cohort = first.dt.strftime("%Y-%m")
    month_gap = (o["order_time"].dt.year - first.dt.year) * 12 + o["order_time"].dt.month - first.dt.month
    size = o.groupby(cohort)["customer_id"].nunique()
    kept = o[month_gap == 3].groupby(cohort[month_gap == 3])["customer_id"].nunique()
    retention = (kept / size).dropna()
    assert retention.idxmax() == store.GOOD_COHORT
    assert retention[store.GOOD_COHORT] > 1.5 * retention.drop(store.GOOD_COHORT).median()


def test_loader_reads_the_parquet_events_of_the_demo(demo_dir):
    ds = load_dataset(demo_dir, tables=["events"])
    assert ds.files["events"].endswith("events.parquet")
    assert set(ds.events["device"].cat.categories) <= {"desktop", "mobile", "tablet"}
