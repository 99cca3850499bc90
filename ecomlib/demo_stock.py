"""Demo store: daily ``inventory`` snapshots and ``price_observations``, with a planted stock-out of a best seller,
a planted dead-stock category and a planted competitor undercut.

Registered in :data:`ecomlib.demo.EXTRA_GENERATORS` (random stream 11). It replaces the core generator's single stock
count per SKU with a daily series over the last :data:`HISTORY_DAYS` days whose last snapshot is that same count
(so the supplier review's short "below reorder point" list is unchanged). The series is rebuilt backwards from the
last count: each day's closing stock is the next day's plus that day's units sold, less a replenishment batch on
the days a receipt brought the stock back up (receipts keep a safety buffer, so no SKU runs dry by itself).

Planted findings (``plants=True``; measured sizes in data/README.md):

- **stock-out**: the best-selling eligible SKU (by revenue over the last 90 days; not the returns culprit, not of
  the bad supplier, not in the short-stock list) has closing stock 0 on the :data:`STOCKOUT_DAYS` days before the
  last day and is restocked on the last day. Its order lines of those days (bar the first, when the last units
  sold) go to other SKUs of the same category and supplier (customers bought a substitute), so the order totals
  do not change; a line whose order already holds the substitute is left out, with its returns.
- **dead stock**: a new category :data:`DEAD_CATEGORY` of :data:`N_DEAD` SKUs, bought and never sold: stock on
  hand through the whole history, no order line.
- **undercut**: the second eligible best seller is priced by :data:`UNDERCUTTER` at :data:`UNDERCUT_RATIO` of our
  price over the last :data:`UNDERCUT_WEEKS` weeks; every other competitor price sits within a few % of ours.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Days of daily stock snapshots, ending with the data's last day.
HISTORY_DAYS = 182
#: Days with closing stock 0 of the planted best seller, ending the day before the data's last day.
STOCKOUT_DAYS = 13
DEAD_CATEGORY = "季节款 Seasonal"
N_DEAD = 10
COMPETITORS = ("天猫旗舰店 Tmall", "京东 JD", "拼多多 Pinduoduo")
UNDERCUTTER = "拼多多 Pinduoduo"
UNDERCUT_RATIO = 0.78
UNDERCUT_WEEKS = 6
#: SKUs with competitor prices: the best sellers by revenue over the last 90 days.
N_WATCHED = 120
_SOLD = ("completed", "partially_refunded", "refunded", "pending")


def _eligible(products: pd.DataFrame, revenue: pd.Series, final: pd.Series, daily: pd.Series) -> list[str]:
    """Best sellers a plant may use: not the returns culprit, not of the bad supplier, well stocked at the end."""
    from .demo import BAD_SUPPLIER, CULPRIT_SKU

    p = products.set_index("sku")
    ok = revenue.index[(revenue.index != CULPRIT_SKU) & (p.loc[revenue.index, "supplier_id"] != BAD_SUPPLIER)]
    ok = [s for s in ok if final.get(s, 0) >= 14 * daily.get(s, 0.0)]
    return ok


def _swap_out(rng: np.random.Generator, tables: dict, sku: str, first: pd.Timestamp, last: pd.Timestamp):
    """Order lines of ``sku`` placed on days ``first``..``last`` go to a substitute of the same category and
    supplier at its own price; returns and order totals follow their line. Returns (order_items, returns, orders)."""
    from .demo import CULPRIT_SKU

    items, orders, products, returns = (tables[k] for k in ("order_items", "orders", "products", "returns"))
    p = products.set_index("sku")
    subs = p.index[(p["category"] == p.at[sku, "category"]) & (p["supplier_id"] == p.at[sku, "supplier_id"])
                   & (p.index != sku) & (p.index != CULPRIT_SKU)].to_numpy()
    day = items["order_id"].map(orders.set_index("order_id")["order_time"]).dt.normalize()
    move = (items["sku"] == sku) & (day >= first) & (day <= last)
    new_sku = items["sku"].to_numpy().copy()
    new_sku[move.to_numpy()] = rng.choice(subs, int(move.sum()))
    # the substitute is sold at its own price (its usual price, scaled by the line's promotion discount)
    usual = items.groupby("sku")["unit_price"].max()
    factor = np.where(move, usual.reindex(new_sku).to_numpy() / usual[sku], 1.0)
    out = items.assign(sku=new_sku, unit_price=np.round(items["unit_price"] * factor, 2))
    clash = out.duplicated(["order_id", "sku"], keep=False) & move
    dropped = items.loc[clash, ["order_id", "sku"]]
    kept = move & ~clash
    moved = items.loc[kept, ["order_id", "quantity"]].assign(new=new_sku[kept.to_numpy()], sku=sku,
                                                             factor=factor[kept.to_numpy()])
    # order totals follow their lines: revenue changes by the price difference, lines left out are taken off
    delta = pd.concat([
        (out.loc[kept, "unit_price"] - items.loc[kept, "unit_price"]) * items.loc[kept, "quantity"],
        -items.loc[clash, "unit_price"] * items.loc[clash, "quantity"]]).groupby(
        pd.concat([items.loc[kept, "order_id"], items.loc[clash, "order_id"]])).sum()
    o = orders.copy()
    o["revenue"] = (o["revenue"] + o["order_id"].map(delta).fillna(0.0)).clip(lower=0).round(2)
    out = out[~clash].reset_index(drop=True)
    r = returns.merge(moved.drop(columns="quantity"), on=["order_id", "sku"], how="left")
    r["sku"] = r["new"].fillna(r["sku"])
    r["refund_amount"] = (r["refund_amount"] * r["factor"].fillna(1.0)).round(2)
    r = r.drop(columns=["new", "factor"])
    gone = r.merge(dropped.assign(gone=True), on=["order_id", "sku"], how="left")["gone"].notna().to_numpy()
    return out, r[~gone].reset_index(drop=True), o


def _daily_sales(items: pd.DataFrame, orders: pd.DataFrame, skus: np.ndarray, days: pd.DatetimeIndex) -> np.ndarray:
    """Units that left the stock per SKU (rows) and day (columns): every order not cancelled."""
    o = orders.loc[orders["status"].isin(_SOLD), ["order_id", "order_time"]]
    lines = items.merge(o, on="order_id")
    lines = lines.assign(day=lines["order_time"].dt.normalize())
    lines = lines[lines["day"].isin(days)]
    grid = lines.pivot_table(index="sku", columns="day", values="quantity", aggfunc="sum", fill_value=0)
    return grid.reindex(index=skus, columns=days, fill_value=0).to_numpy(dtype=float)


def _history(rng: np.random.Generator, final: np.ndarray, sales: np.ndarray, lead: np.ndarray, lead_sd: np.ndarray,
             stockout_row: int | None, stockout_days: int) -> np.ndarray:
    """Closing stock per SKU and day, rebuilt backwards from the last count (one step per day, all SKUs at once).

    Receipts of one to four weeks of demand keep the stock between a buffer (the lead time's demand with a generous
    safety margin, as the core generator's last count holds it) and the buffer plus one batch."""
    n, t = sales.shape
    d = sales.mean(axis=1)
    batch = np.ceil(d * rng.uniform(7, 28, n))
    buffer = np.ceil(d * (lead + 3 * lead_sd) + 3 * np.sqrt(1.5 * d * lead)) + 2
    top = batch + buffer
    stock = np.empty((n, t))
    stock[:, -1] = final
    for j in range(t - 1, 0, -1):
        prev = stock[:, j] + sales[:, j]
        receipt = np.where(prev > top, batch, 0.0)
        if stockout_row is not None and j == t - 1:
            receipt[stockout_row] = prev[stockout_row]  # restocked on the last day: closing 0 the day before
        if stockout_row is not None and t - 1 - stockout_days <= j < t - 1:
            receipt[stockout_row] = 0.0
        stock[:, j - 1] = np.maximum(prev - receipt, 0.0)
    return stock


def _prices(rng: np.random.Generator, items: pd.DataFrame, watched: list[str], end: pd.Timestamp,
            undercut: str | None) -> pd.DataFrame:
    """Competitor prices twice a week over the last 26 weeks: each competitor sees most watched SKUs each time."""
    ours = items[items["sku"].isin(watched)].groupby("sku")["unit_price"].median().reindex(watched)
    dates = pd.date_range(end.normalize() - pd.Timedelta(weeks=26), end.normalize(), freq="D")
    dates = dates[dates.day_of_week.isin([0, 3])]
    grid = pd.MultiIndex.from_product([dates, watched, COMPETITORS], names=["date", "sku", "competitor"]).to_frame(
        index=False)
    grid = grid[rng.random(len(grid)) < 0.8].reset_index(drop=True)
    level = pd.Series(rng.normal(0.03, 0.015, len(watched)), index=watched)
    shop = pd.Series(dict(zip(COMPETITORS, (0.03, 0.0, -0.01))))
    log_ratio = (level.loc[grid["sku"]].to_numpy() + shop.loc[grid["competitor"]].to_numpy()
                 + rng.normal(0, 0.02, len(grid)))
    ratio = np.exp(log_ratio)
    if undercut is not None:
        hit = ((grid["sku"] == undercut) & (grid["competitor"] == UNDERCUTTER)
               & (grid["date"] > end - pd.Timedelta(weeks=UNDERCUT_WEEKS))).to_numpy()
        ratio[hit] = UNDERCUT_RATIO * np.exp(rng.normal(0, 0.01, hit.sum()))
    price = np.maximum(np.round(ours.loc[grid["sku"]].to_numpy() * ratio, 0) - 0.1, 0.9)
    return grid.assign(price=price)


def generate(rng: np.random.Generator, tables: dict[str, pd.DataFrame], *, plants: bool) -> dict[str, pd.DataFrame]:
    """Daily ``inventory`` snapshots and ``price_observations`` (and, with plants, the tables the plants change).

    Returns ``inventory`` and ``price_observations``; with ``plants`` also ``order_items`` and ``returns`` (the
    stocked-out SKU's lines moved to substitutes) and ``products`` (the dead-stock category added).
    """
    from .demo import END, SUPPLIERS

    out: dict[str, pd.DataFrame] = {}
    orders, products = tables["orders"], tables["products"]
    last = tables["inventory"].sort_values("as_of").drop_duplicates("sku", keep="last").set_index("sku")
    end_day = END.normalize()
    days = pd.date_range(end_day - pd.Timedelta(days=HISTORY_DAYS - 1), end_day, freq="D")
    recent = orders.loc[(orders["order_time"] > END - pd.Timedelta(days=90)) & orders["status"].isin(_SOLD),
                        ["order_id"]]
    lines = tables["order_items"].merge(recent, on="order_id")
    revenue = (lines["quantity"] * lines["unit_price"]).groupby(lines["sku"]).sum().sort_values(ascending=False)
    daily = lines.groupby("sku")["quantity"].sum() / 90
    ranked = _eligible(products, revenue, last["on_hand"], daily)
    stocked_out, undercut = (ranked[0], ranked[1]) if plants else (None, None)

    items = tables["order_items"]
    if plants:
        items, returns, orders = _swap_out(rng, tables, stocked_out, end_day - pd.Timedelta(days=STOCKOUT_DAYS - 1),
                                           end_day - pd.Timedelta(days=1))
        out.update(order_items=items, returns=returns, orders=orders)

    skus = last.index.to_numpy()
    sales = _daily_sales(items, orders, skus, days)
    sup = SUPPLIERS.set_index("supplier_id").reindex(products.set_index("sku").loc[skus, "supplier_id"])
    lead = (sup["promised_lead_days"] + sup["delay_mean"].clip(lower=0)).fillna(14).to_numpy(dtype=float)
    lead_sd = sup["delay_sd"].fillna(2).to_numpy(dtype=float)
    row = int(np.flatnonzero(skus == stocked_out)[0]) if plants else None
    stock = _history(rng, last["on_hand"].to_numpy(dtype=float), sales, lead, lead_sd, row, STOCKOUT_DAYS)
    inventory = pd.DataFrame({"sku": np.repeat(skus, len(days)),
                              "as_of": np.tile((days + pd.Timedelta(hours=23)).to_numpy(), len(skus)),
                              "on_hand": stock.ravel().astype(int)})

    if plants:
        n = N_DEAD
        dead_skus = [f"SKU-{len(products) + i:04d}" for i in range(1, n + 1)]
        names = ["圣诞装饰 Christmas Ornament", "Advent Calendar 降临日历", "节日彩灯 String Lights", "Gift Wrap Set"]
        dead = pd.DataFrame({"sku": dead_skus,
                             "product_name": [f"{names[i % len(names)]} #{i + 1}" for i in range(n)],
                             "category": DEAD_CATEGORY, "supplier_id": "S08",
                             "unit_cost": np.round(rng.uniform(40, 160, n), 2)})
        out["products"] = pd.concat([products, dead], ignore_index=True)
        dead_stock = pd.DataFrame({"sku": np.repeat(dead_skus, len(days)),
                                   "as_of": np.tile((days + pd.Timedelta(hours=23)).to_numpy(), n),
                                   "on_hand": np.repeat(rng.integers(80, 260, n), len(days))})
        inventory = pd.concat([inventory, dead_stock], ignore_index=True)
    out["inventory"] = inventory.sort_values(["as_of", "sku"], kind="stable").reset_index(drop=True)
    out["price_observations"] = _prices(rng, items, list(revenue.index[:N_WATCHED]), END, undercut)
    return out
