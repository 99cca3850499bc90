"""ecomlib.demo_scale: a store N times the demo (M times its events) in Parquet parts, with the same planted findings.

One 1x store is generated per module and written at scale 2 with the events ×3 (so the two factors are told
apart); counts, ids and a few planted rates of the written store are compared with the generated 1x tables.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pyarrow.dataset as pads
import pytest

from ecomlib import load_dataset
from ecomlib.demo import CULPRIT_SKU, BELOW_BREAK_EVEN_CHANNEL, generate
from ecomlib.demo_scale import COPIED, EVENTS, SCALED, STATIC, write_scaled
from ecomlib.periods import parse_period

N, M = 2, 3
WEEK = parse_period("2026-W47")  # the week of the planted mobile checkout drop
TABLES = ["orders", "order_items", "products", "suppliers", "returns", "ad_spend", "events"]


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> tuple[dict[str, pd.DataFrame], Path]:
    """The generated 1x tables and the folder of the store written from them at scale N, events ×M."""
    tables = generate(42)
    big = tmp_path_factory.mktemp("scale")
    write_scaled(big, scale=N, events_scale=M, tables=dict(tables))
    return tables, big


@pytest.fixture(scope="module")
def loaded(stores):
    """The 1x tables and the scaled store through the loader, with the events of the planted week's fortnight
    (read inside the Parquet read for the scaled store)."""
    tables, big = stores
    since = WEEK.start - pd.Timedelta(days=7)
    one = SimpleNamespace(**{t: tables[t] for t in TABLES})
    one.events = one.events[one.events["event_time"] >= since].reset_index(drop=True)
    return one, load_dataset(big, tables=TABLES, since={"events": since})


def rows(folder: Path, table: str) -> int:
    path = folder / table if (folder / table).is_dir() else folder / f"{table}.parquet"
    return pads.dataset(path, format="parquet").count_rows()


def column(folder: Path, table: str, name: str) -> pd.Series:
    return pads.dataset(folder / table, format="parquet").to_table(columns=[name]).column(name).to_pandas()


def test_every_table_is_written_in_parts_or_whole_with_n_and_m_times_the_rows(stores):
    one, big = stores
    for table in COPIED:
        assert len(list((big / table).glob("part-*.parquet"))) == N
        assert rows(big, table) == N * len(one[table]), table
    assert len(list((big / EVENTS).glob("part-*.parquet"))) == M
    assert rows(big, EVENTS) == M * len(one[EVENTS])
    for table in (*SCALED, *STATIC):
        assert (big / f"{table}.parquet").is_file() and not (big / table).exists()
        assert rows(big, table) == len(one[table]), table
    assert sorted(p.name for p in big.iterdir() if p.is_dir()) == sorted([*COPIED, EVENTS])
    assert "currency: CNY" in (big / "store.yaml").read_text(encoding="utf-8")


def test_ids_are_unique_across_copies_and_keep_their_form(stores):
    one, big = stores
    for table, key in (("customers", "customer_id"), ("orders", "order_id"), ("returns", "return_id"),
                       ("shipments", "shipment_id"), ("tickets", "ticket_id"), ("product_reviews", "review_id")):
        ids = column(big, table, key)
        assert ids.is_unique and len(ids) == N * len(one[table]), table
    orders = column(big, "orders", "order_id")
    first = one["orders"]["order_id"].astype(str)
    assert orders.iloc[:len(first)].tolist() == first.tolist()  # copy 0 keeps the 1x ids
    assert orders.iloc[len(first):].tolist() == (first + "-1").tolist()  # copy 1 appends -1
    sessions = column(big, EVENTS, "session_id")
    assert sessions.nunique() == M * one[EVENTS]["session_id"].nunique()
    units = pads.dataset(big / "experiments", format="parquet").to_table().to_pandas()
    assert not units.duplicated(["experiment", "unit_id"]).any()
    # a customer's events: copy j's customers are those of customer copy j mod N; anonymous users are per copy
    customers = set(column(big, "customers", "customer_id"))
    users = column(big, EVENTS, "user_id")
    known = users.isin(customers)
    assert known.mean() == pytest.approx(one[EVENTS]["user_id"].isin(set(one["customers"]["customer_id"])).mean())
    assert users[~known].str.startswith("u").all()


def test_the_loader_validates_the_part_folders_and_reads_the_window_only(loaded, stores):
    one, big = loaded
    assert big.files["orders"] == str(stores[1] / "orders") and big.files["products"].endswith("products.parquet")
    assert len(big.orders) == N * len(one.orders) and len(big.events) == M * len(one.events)
    assert big.events["event_time"].min() >= WEEK.start - pd.Timedelta(days=7)
    assert big.orders["order_id"].is_unique


def test_scaling_keeps_the_planted_culprit_return_rate(loaded):
    from ecomlib.returns import quality_return_rate, return_lines, sales_window, sold_lines

    def culprit(ds):
        sold = sold_lines(ds.orders, ds.order_items, ds.products, suppliers=ds.suppliers)
        rates = quality_return_rate(sold, return_lines(ds.returns, sold, as_of=WEEK.end), by="sku",
                                    window=sales_window(WEEK))
        return rates.set_index("sku").loc[CULPRIT_SKU]

    one, big = (culprit(ds) for ds in loaded)
    assert big["units_sold"] == N * one["units_sold"] and big["units_returned"] == N * one["units_returned"]
    assert big["unit_rate"] == pytest.approx(one["unit_rate"], rel=1e-12) and one["unit_rate"] > 0.1


def test_scaling_keeps_the_planted_display_roas(loaded):
    from ecomlib.ads import performance

    one, big = (performance(ds.ad_spend, ds.orders).set_index("channel") for ds in loaded)
    assert big["spend"].to_numpy() == pytest.approx(N * one["spend"].to_numpy(), rel=1e-12)
    assert big["store_roas"].to_numpy() == pytest.approx(one["store_roas"].to_numpy(), rel=1e-12)
    assert big["platform_vs_store"].to_numpy() == pytest.approx(one["platform_vs_store"].to_numpy(), rel=1e-12)
    assert big.loc[BELOW_BREAK_EVEN_CHANNEL, "store_roas"] == one["store_roas"].min()


def test_scaling_keeps_the_planted_mobile_checkout_drop(loaded):
    from ecomlib.funnel import step_conversion

    def mobile(ds):
        table = step_conversion(ds.events, by="device", period=WEEK)
        return table[table["device"] == "mobile"].set_index("step")

    one, big = (mobile(ds) for ds in loaded)
    assert (big["units"] == M * one["units"]).all()
    assert big["conversion_from_previous"].to_numpy() == pytest.approx(one["conversion_from_previous"].to_numpy(),
                                                                       rel=1e-12, nan_ok=True)
    assert one.loc["purchase", "conversion_from_previous"] < 0.5  # the drop is there (62 % → ~45 %)


def test_a_table_of_unknown_scaling_is_refused_and_a_1x_write_clears_a_scaled_store(tmp_path):
    from click.testing import CliRunner

    from ecomlib.cli import main
    from ecomlib.demo_scale import remove_tables

    with pytest.raises(ValueError, match=r"does not know how table\(s\) \['loyalty'\] scale"):
        write_scaled(tmp_path / "x", scale=2, tables={"loyalty": pd.DataFrame({"a": [1]})})
    folder = tmp_path / "store"
    (folder / "orders").mkdir(parents=True)
    (folder / "orders" / "part-00000.parquet").write_bytes(b"")
    (folder / "ad_spend.parquet").write_bytes(b"")
    (folder / "notes.txt").write_text("kept")
    remove_tables(folder, ["orders", "ad_spend"])
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    result = CliRunner().invoke(main, ["demo-data", "--out", str(tmp_path / "y"), "--scale", "0"])
    assert result.exit_code == 2 and "--scale" in result.output


def test_the_command_passes_scale_and_events_scale_and_scale_1_writes_the_normal_store(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from ecomlib import demo, demo_scale
    from ecomlib.cli import main

    calls = []
    monkeypatch.setattr(demo_scale, "write_scaled", lambda out, **kw: calls.append(("scaled", kw)) or {})
    monkeypatch.setattr(demo, "write_demo", lambda out, seed, plants: calls.append(("1x", seed)) or {})
    for args in (["--scale", "3", "--events-scale", "5"], ["--scale", "4"], ["--scale", "1"], []):
        result = CliRunner().invoke(main, ["demo-data", "--out", str(tmp_path / "d"), "--seed", "7", *args])
        assert result.exit_code == 0, result.output
    assert calls == [("scaled", {"seed": 7, "plants": True, "scale": 3, "events_scale": 5}),
                     ("scaled", {"seed": 7, "plants": True, "scale": 4, "events_scale": None}),
                     ("1x", 7), ("1x", 7)]


def test_timestamps_are_written_in_microseconds_so_spark_reads_them(stores):
    """Spark refuses Parquet nanosecond timestamps (PARQUET_TYPE_ILLEGAL); every time column is microseconds."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    _, folder = stores
    files = sorted(folder.glob("*.parquet")) + sorted(folder.glob("*/part-*.parquet"))
    units = {(f.parent.name if f.parent != folder else f.stem, field.name): field.type.unit
             for f in files for field in pq.read_schema(f) if pa.types.is_timestamp(field.type)}
    assert units and set(units.values()) == {"us"}, units
