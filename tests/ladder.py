"""A ladder of small, real-shaped stores cut from the demo store: the shapes young and small shops really have.

``make_store(rung, out)`` writes a contract folder for one rung. Rungs, from least to most data:

- ``one_row``: one row per table (one order with its line, product, supplier, customer, event, ad row, PO line,
  return and stock count).
- ``three_days`` / ``two_weeks``: every table cut to the last 3 / 14 days of the data (reference tables kept).
- ``one_channel``: the last 120 days, orders, events and ads of one channel only.
- ``no_repeat``: the last 180 days, each customer's first order only.
- ``no_ad_spend`` / ``no_inventory``: the last 120 days without that table.
- ``no_returns``: the last 120 days with a header-only returns table (an empty optional table means "none").
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

RUNGS = ("one_row", "three_days", "two_weeks", "one_channel", "no_repeat", "no_ad_spend", "no_inventory",
         "no_returns")
#: The column that dates each table's rows (tables not listed are reference tables, kept whole).
TIME_COLUMNS = {"orders": "order_time", "events": "event_time", "ad_spend": "date", "purchase_orders": "ordered_at",
                "tickets": "opened_at", "product_reviews": "created_at", "experiments": "assigned_at",
                "price_observations": "date", "inventory": "as_of"}


def _read(folder: Path) -> dict[str, pd.DataFrame]:
    """Every table of the folder: CSVs as text (written back unchanged), Parquet files as typed frames."""
    tables = {p.stem: pd.read_csv(p, dtype=str, keep_default_na=False) for p in sorted(folder.glob("*.csv"))}
    tables.update({p.stem: pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))})
    return tables


def _last_days(tables: dict[str, pd.DataFrame], days: int) -> dict[str, pd.DataFrame]:
    out = dict(tables)
    end = pd.to_datetime(tables["orders"]["order_time"], format="mixed").max()
    for name, column in TIME_COLUMNS.items():
        if name in out and len(out[name]):
            when = pd.to_datetime(out[name][column], format="mixed")
            out[name] = out[name][when > end - pd.Timedelta(days=days)]
    return _consistent(out)


def _consistent(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Drop rows whose order or customer is no longer in the store, so references hold."""
    out = dict(tables)
    orders = set(out["orders"]["order_id"])
    for name, df in out.items():  # every table that points at orders (lines, returns, parcels, tickets, reviews)
        if name != "orders" and "order_id" in df:
            out[name] = df[(df["order_id"] == "") | df["order_id"].isna() | df["order_id"].isin(orders)]
    if "customers" in out:
        out["customers"] = out["customers"][out["customers"]["customer_id"].isin(set(out["orders"]["customer_id"]))]
    return out


def _one_row(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    ret = tables["returns"].iloc[[-1]]
    order = tables["orders"][tables["orders"]["order_id"] == ret["order_id"].iloc[0]]
    item = tables["order_items"][(tables["order_items"]["order_id"] == ret["order_id"].iloc[0])
                                 & (tables["order_items"]["sku"] == ret["sku"].iloc[0])]
    sku = item["sku"].iloc[0]
    product = tables["products"][tables["products"]["sku"] == sku]
    out = {"orders": order, "order_items": item, "returns": ret, "products": product,
           "suppliers": tables["suppliers"][tables["suppliers"]["supplier_id"] == product["supplier_id"].iloc[0]],
           "customers": tables["customers"][tables["customers"]["customer_id"] == order["customer_id"].iloc[0]],
           "events": tables["events"].iloc[[-1]].assign(sku=sku),
           # the order's channel, so ROAS has something to match (an organic order's channel has no ads of its own)
           "ad_spend": tables["ad_spend"].iloc[[-1]].assign(channel=order["channel"].iloc[0])}
    po = tables["purchase_orders"]
    out["purchase_orders"] = po[po["sku"] == sku].iloc[[-1]].assign(supplier_id=product["supplier_id"].iloc[0])
    if "inventory" in tables:
        inv = tables["inventory"]
        out["inventory"] = inv[inv["sku"] == sku].iloc[[-1]]
    for name, df in tables.items():  # the other tables: only rows of the kept order and SKU (references hold)
        if name in out:
            continue
        if "order_id" in df:
            df = df[df["order_id"].isna() | (df["order_id"] == "") | df["order_id"].isin(order["order_id"])]
        if "sku" in df:
            df = df[df["sku"].isna() | (df["sku"] == "") | (df["sku"] == sku)]
        out[name] = df.iloc[-1:] if len(df) else df
    return out


def recent_store(out: str | Path, *, source: str | Path, days: int = 120) -> Path:
    """Write the last ``days`` days of the store ``source`` (every table, references kept) into ``out``."""
    source, out = Path(source), Path(out)
    return _write(_last_days(_read(source), days), source, out)


def _write(tables: dict[str, pd.DataFrame], source: Path, out: Path) -> Path:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for name, df in tables.items():
        if (source / f"{name}.parquet").exists():
            df.to_parquet(out / f"{name}.parquet", index=False)
        else:
            df.to_csv(out / f"{name}.csv", index=False)
    if (source / "store.yaml").exists():
        shutil.copy(source / "store.yaml", out / "store.yaml")
    return out


def make_store(rung: str, out: str | Path, *, source: str | Path) -> Path:
    """Write the ``rung`` store cut from the demo folder ``source`` into ``out``; returns ``out``."""
    if rung not in RUNGS:
        raise ValueError(f"rung must be one of {RUNGS}, not {rung!r}")
    source, out = Path(source), Path(out)
    tables = _read(source)
    if rung == "one_row":
        tables = _one_row(tables)
    elif rung == "three_days":
        tables = _last_days(tables, 3)
    elif rung == "two_weeks":
        tables = _last_days(tables, 14)
    elif rung == "one_channel":
        tables = _last_days(tables, 120)
        channel = "paid_search"
        for name in ("orders", "events", "ad_spend"):
            tables[name] = tables[name][tables[name]["channel"] == channel]
        tables = _consistent(tables)
    elif rung == "no_repeat":
        tables = _last_days(tables, 180)
        first = tables["orders"].sort_values("order_time").drop_duplicates("customer_id")
        guests = tables["orders"][tables["orders"]["customer_id"] == ""]
        tables["orders"] = pd.concat([first[first["customer_id"] != ""], guests])
        tables = _consistent(tables)
    else:
        tables = _last_days(tables, 120)
        if rung == "no_ad_spend":
            tables.pop("ad_spend")
            tables.pop("budgets", None)
        elif rung == "no_inventory":
            tables.pop("inventory", None)
        elif rung == "no_returns":
            tables["returns"] = tables["returns"].iloc[:0]
    return _write(tables, source, out)
