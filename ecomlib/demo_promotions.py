"""Demo store: the promotions table with scope and discount, and a planted category promotion with known lift,
pre-promotion wait, pull-forward dip, and promotion-acquired customers who rarely come back.

``generate(rng, tables, *, plants)`` returns the ``promotions`` table: the store-wide sale days of
:data:`ecomlib.demo.PROMO_DAYS` (scope ``all``, 20 % off, as the core generator prices them), plus, with plants,
:data:`PLANTED` — ``Home`` 25 % off from :data:`START` to :data:`END` (Monday 2026-09-14 to Sunday 2026-09-20) —
and the orders, order lines and customers it changes:

- **lift**: :data:`LIFT` × the expected number of orders with a Home line in the promotion week are *added*
  (``order_id`` ``OP…``, one Home line each, popularity-weighted, quantity 1, at the SKU's usual price × 0.75;
  status completed, channel drawn from the week's orders). The orders that would have happened anyway are left
  as they were (prices included), so the true GMV lift is exactly the added orders' revenue and the true order
  lift their count.
- **wait before** and **pull-forward after**: the :data:`WAIT_DAYS` days before the start lose :data:`WAIT` and
  the :data:`DIP_DAYS` days after the end :data:`DIP` of the orders with a Home line expected in them
  (:func:`planted_removals`: the expected number is the daily mean of the four weeks before the wait window, as
  for the lift). That many orders are *removed* from each window (with any parcel, ticket or review row that
  points at them), drawn from the counted orders whose lines are all Home, are not a customer's first order and
  have no return — so the true wait and dip in orders with a Home line are exactly ``−planted_removals(...)``,
  which a test reads back from the planted store (the four weeks it rests on are untouched).
- **promotion-acquired customers**: :data:`NEW_SHARE` of the added orders come from new customers (``CP…``, with
  customers rows); :data:`NEW_REPEAT` of them order once more 21–80 days later, after the dip window (any SKU,
  usual price; none after the data's end) — far below the demo's organic customers, who repeat within 60 days
  about 40 % of the time.

Measured sizes on seeds 42 / 7 / 2026 are in data/README.md (Planted findings). ``plants=False`` keeps the orders
untouched and the promotions table without the planted row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .contract import REVENUE_STATUSES
from .demo import END as DATA_END
from .demo import PROMO_DAYS

START, END = pd.Timestamp("2026-09-14"), pd.Timestamp("2026-09-20")
PLANTED = {"promo_id": "P90", "name": "家居周 Home Week", "scope": "category", "scope_values": "Home",
           "discount": 0.25}
SCOPE_CATEGORY = "Home"
#: Added orders with a Home line, as a fraction of the orders with a Home line expected in the promotion week.
LIFT = 0.5
#: Orders with a Home line removed in the WAIT_DAYS before the start and the DIP_DAYS after the end, as a fraction
#: of those expected in those days.
WAIT, WAIT_DAYS = 0.1, 7
DIP, DIP_DAYS = 0.15, 14
#: The expected orders with a Home line per day are the mean of the BASE_DAYS before the wait window.
BASE_DAYS = 28
#: Share of the added orders placed by new customers, and the share of those who order again (21–80 days later).
NEW_SHARE, NEW_REPEAT = 0.35, 0.08


def _promotions(plants: bool) -> pd.DataFrame:
    days = pd.to_datetime(list(PROMO_DAYS))
    out = pd.DataFrame({"promo_id": [f"P{i:02d}" for i in range(1, len(PROMO_DAYS) + 1)],
                        "name": list(PROMO_DAYS.values()), "start_date": days, "end_date": days,
                        "scope": "all", "scope_values": None, "discount": 0.2})
    if plants:
        out = pd.concat([out, pd.DataFrame([{**PLANTED, "start_date": START, "end_date": END}])], ignore_index=True)
    return out


def expected_daily(orders: pd.DataFrame, items: pd.DataFrame, products: pd.DataFrame) -> float:
    """Counted orders with a line of :data:`SCOPE_CATEGORY` per day, mean of the :data:`BASE_DAYS` before the wait
    window — the orders the promotion's days would have had without it (the plant leaves these days untouched)."""
    home = items.loc[items["sku"].map(products.set_index("sku")["category"]) == SCOPE_CATEGORY, "order_id"]
    day = orders["order_time"].dt.normalize()
    first = START - pd.Timedelta(days=WAIT_DAYS + BASE_DAYS)
    base = (orders["order_id"].isin(home) & orders["status"].isin(REVENUE_STATUSES) & (day >= first)
            & (day < START - pd.Timedelta(days=WAIT_DAYS)))
    return base.sum() / BASE_DAYS


def planted_removals(orders: pd.DataFrame, items: pd.DataFrame, products: pd.DataFrame) -> dict[str, int]:
    """Orders with a Home line removed from the wait and the dip window: ``{"wait": n, "dip": n}`` (module
    docstring); the same from the store before or after the plant."""
    daily = expected_daily(orders, items, products)
    return {"wait": int(round(WAIT * daily * WAIT_DAYS)), "dip": int(round(DIP * daily * DIP_DAYS))}


def generate(rng: np.random.Generator, tables: dict[str, pd.DataFrame], *, plants: bool) -> dict[str, pd.DataFrame]:
    """The promotions table; with ``plants`` also the orders, order_items, customers (and the tables pointing at
    orders) with the planted Home promotion (module docstring)."""
    out = {"promotions": _promotions(plants)}
    if not plants:
        return out
    orders, items, products = tables["orders"], tables["order_items"], tables["products"]
    category = items["sku"].map(products.set_index("sku")["category"])
    day = items["order_id"].map(orders.set_index("order_id")["order_time"]).dt.normalize()
    odays = orders["order_time"].dt.normalize()

    # lift: LIFT × the Home orders expected in the week (the mean of the four weeks before the wait window)
    n_add = int(round(LIFT * expected_daily(orders, items, products) * 7))
    usual = (items.loc[(category == SCOPE_CATEGORY) & ~day.dt.strftime("%Y-%m-%d").isin(list(PROMO_DAYS))]
             .groupby("sku")["unit_price"].median())
    weights = items.loc[category == SCOPE_CATEGORY].groupby("sku")["quantity"].sum().reindex(usual.index).fillna(0)
    sku = rng.choice(usual.index.to_numpy(), n_add, p=(weights / weights.sum()).to_numpy())
    times = START + pd.to_timedelta(rng.integers(0, 7 * 86400, n_add), unit="s")
    week = orders.loc[(odays >= START) & (odays <= END)]
    channel = rng.choice(week["channel"].to_numpy(), n_add)
    first = orders.groupby("customer_id")["order_time"].min()
    known = first.index[first < START].to_numpy()
    new = rng.random(n_add) < NEW_SHARE
    n_new = int(new.sum())
    customer = np.where(new, "", rng.choice(known, n_add))
    customer[new] = [f"CP{i:05d}" for i in range(1, n_new + 1)]
    price = np.round(usual.loc[sku].to_numpy() * (1 - PLANTED["discount"]), 2)
    added = pd.DataFrame({"order_id": [f"OP{i:06d}" for i in range(1, n_add + 1)], "customer_id": customer,
                          "order_time": times, "channel": channel, "status": "completed", "revenue": price,
                          "discount": np.round(usual.loc[sku].to_numpy() - price, 2),
                          "shipping_fee": np.where(price >= 99, 0.0, 10.0), "currency": "CNY"})
    added_items = pd.DataFrame({"order_id": added["order_id"], "sku": sku, "quantity": 1, "unit_price": price})

    # promotion-acquired customers: a few order again, 21–80 days later, any SKU at its usual price
    newcomers = added.loc[new]
    when = newcomers["order_time"].to_numpy() + pd.to_timedelta(
        rng.integers(21 * 86400, 80 * 86400, len(newcomers)), unit="s").to_numpy()
    pick = (rng.random(len(newcomers)) < NEW_REPEAT) & (when <= DATA_END.to_datetime64())  # none after the data
    again = newcomers.loc[pick]
    all_usual = items.groupby("sku")["unit_price"].median()
    r_sku = rng.choice(all_usual.index.to_numpy(), len(again))
    r_price = all_usual.loc[r_sku].to_numpy()
    repeat = pd.DataFrame({"order_id": [f"OP{n_add + i:06d}" for i in range(1, len(again) + 1)],
                           "customer_id": again["customer_id"].to_numpy(),
                           "order_time": when[pick],
                           "channel": again["channel"].to_numpy(), "status": "completed", "revenue": r_price,
                           "discount": 0.0, "shipping_fee": np.where(r_price >= 99, 0.0, 10.0), "currency": "CNY"})
    repeat_items = pd.DataFrame({"order_id": repeat["order_id"], "sku": r_sku, "quantity": 1, "unit_price": r_price})

    # wait before and pull-forward after: remove exactly the planted number of Home-only orders from each window
    only_home = items.assign(home=category == SCOPE_CATEGORY).groupby("order_id")["home"].all()
    returned = set(tables["returns"]["order_id"]) if "returns" in tables else set()
    firsts = set(orders.sort_values("order_time").drop_duplicates("customer_id")["order_id"])
    eligible = (orders["order_id"].map(only_home).fillna(False).astype(bool) & ~orders["order_id"].isin(returned)
                & ~orders["order_id"].isin(firsts) & orders["status"].isin(REVENUE_STATUSES))
    removals = planted_removals(orders, items, products)
    drop = []
    for lo, hi, window in ((START - pd.Timedelta(days=WAIT_DAYS), START, "wait"),
                           (END + pd.Timedelta(days=1), END + pd.Timedelta(days=1 + DIP_DAYS), "dip")):
        ids = orders.loc[eligible & (odays >= lo) & (odays < hi), "order_id"].to_numpy()
        if len(ids) < removals[window]:
            raise ValueError(f"the {window} window has {len(ids)} Home-only orders to remove, "
                             f"{removals[window]} planted")
        drop.extend(rng.choice(ids, removals[window], replace=False))
    drop = set(drop)

    out["orders"] = (pd.concat([orders.loc[~orders["order_id"].isin(drop)], added, repeat], ignore_index=True)
                     .sort_values(["order_time", "order_id"], kind="stable").reset_index(drop=True))
    out["order_items"] = pd.concat([items.loc[~items["order_id"].isin(drop)], added_items, repeat_items],
                                   ignore_index=True)
    customers = tables["customers"]
    region = rng.choice(customers["region"].to_numpy(), n_new)
    out["customers"] = pd.concat([customers, pd.DataFrame({
        "customer_id": newcomers["customer_id"].to_numpy(), "first_seen": newcomers["order_time"].to_numpy(),
        "acquisition_channel": newcomers["channel"].to_numpy(), "region": region})], ignore_index=True)
    for name, df in tables.items():  # parcels, tickets, reviews of the removed orders go with them
        if name not in ("orders", "order_items", "returns") and isinstance(df, pd.DataFrame) and "order_id" in df:
            out[name] = df.loc[~df["order_id"].isin(drop)].reset_index(drop=True)
    return out
