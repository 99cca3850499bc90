"""Inventory health and price watch: cover, stock-outs and lost sales, turnover, dead stock, ABC × XYZ, reorder
points (also for lumpy demand), and our prices against competitors.

What the page shows for one period, as known at its end (``compute``):

- **stock**: per SKU the latest count at or before the period's end (summed over warehouses, less reserved units),
  its value at cost, units sold per day over the trailing ``demand_days``, days of cover, days since the last sale,
  and a status: ``out`` (nothing on hand), ``dead`` (stock, no sale in ``dead_days``), ``slow`` (cover beyond
  ``slow_cover_days``), ``over`` (cover beyond ``cover_target_days``) or ``ok``. Cash tied up = units × unit cost.
- **stockouts**: days in the period whose closing count is 0, and the sales lost on them: demand on a day out of stock
  is estimated from the SKU's in-stock days of the ``lookback_days`` before the period's end (mean units per in-stock
  day, an interval from their day-to-day spread, so over-dispersed lumpy sales widen it), less what still sold.
- **turnover**: per category and overall, cost of goods sold in the period ÷ average stock at cost (the mean of the
  daily counts in the period), days inventory outstanding (DIO = average stock at cost ÷ COGS per day) and
  sell-through (units sold ÷ (units sold + units on hand at the end)).
- **abc_xyz**: ABC by revenue over the trailing ``lookback_days`` (A = the SKUs making the first 80 % of it, B the
  next 15 %, C the rest), XYZ by the coefficient of variation of weekly units (X ≤ 0.5, Y ≤ 1, Z above).
- **reorder**: safety stock and reorder point per SKU from :func:`ecomlib.suppliers.reorder_points` (normal demand,
  each supplier's measured lead-time variability), and for intermittent or lumpy SKUs (Syntetos–Boylan: average
  demand interval ADI > 1.32) a bootstrap of lead-time demand instead — see :func:`bootstrap_reorder_points`.
- **prices**: our price (median price paid over the trailing ``price_days``) against each competitor's median price
  seen in the same days; price index = ours ÷ the competitors' median; SKUs undercut when a competitor's median is
  more than ``undercut_threshold`` below ours; per category, the revenue-weighted index.
- **price_changes**: weeks where our weekly median price moved by ``min_price_change`` or more, with units per week
  in the four weeks before and after.

Minimum data (:data:`MINIMUM_DATA`): stock needs one count at or before the period's end; stock-outs and turnover
need counts on the period's days; reorder points need purchase orders; prices need price observations.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.stats as sps
from matplotlib.axes import Axes

from .errors import ParameterError
from .i18n import Messages
from .periods import Period
from .report import Headline
from .review import Finding, Gap, Result, load_tables, number

NAME = "inventory"
MINIMUM_DATA: dict[str, str] = {
    "stock": "an inventory table with a stock count at or before the period's end",
    "stockouts": "stock counts on the period's days (a daily series); demand while out is estimated from in-stock "
                 "days in the lookback before the period's end",
    "turnover": "stock counts on the period's days (average stock at cost) and sales in the period",
    "abc_xyz": "sales in the lookback (default 90 days) before the period's end",
    "reorder": "purchase_orders with 2 or more received lines of the SKU's supplier in the past year",
    "prices": "a price_observations table with prices in the trailing price window (default 28 days)",
    "price_changes": "a change of our weekly median price by the minimum change or more in the last 26 weeks",
}
#: Orders whose goods left the stock: every status but cancelled.
STOCK_STATUSES = ("completed", "partially_refunded", "refunded", "pending")
#: Syntetos–Boylan cut-off of the average demand interval above which demand is intermittent.
ADI_CUTOFF = 1.32
STATUSES = ("out", "dead", "slow", "over", "ok")

#: Each column's display format, declared once (tables, headlines).
UNITS: dict[str, str] = {
    "on_hand": "int", "stock_value": "money", "units_per_day": "num", "days_of_cover": "num", "days_since_sale": "int",
    "last_sale": "date", "out_days": "int", "sold_while_out": "int", "demand_per_day": "num", "in_stock_days": "int",
    "lost_units": "num", "lost_low": "num", "lost_high": "num", "lost_revenue": "money", "lost_margin": "money",
    "unit_price": "money", "unit_cost": "money", "units": "int", "revenue": "money", "cogs": "money",
    "avg_stock_value": "money", "turnover": "num", "dio": "num", "sell_through": "pct", "ending_units": "int",
    "revenue_share": "pct", "cv": "num", "n_skus": "int", "excess_units": "int", "excess_value": "money",
    "dead_value": "money", "n_dead": "int", "demand_mean": "num", "demand_sd": "num", "lead_time_mean": "num",
    "lead_time_sd": "num", "n_lead_times": "int", "adi": "num", "cv2": "num", "safety_stock": "int",
    "reorder_point": "int", "rop_normal": "int", "rop_bootstrap": "int", "position": "int", "on_order": "int",
    "shortfall": "int", "our_price": "money", "competitor_price": "money", "min_competitor_price": "money",
    "price_index": "ratio", "gap": "pct", "n_observations": "int", "margin_at_risk": "money", "price_before": "money",
    "price_after": "money", "price_change": "pct", "units_before": "num", "units_after": "num", "units_change": "pct",
    "week": "date",
}

DAY = pd.Timedelta(days=1)
#: Columns of :func:`stock_position` and their types (an empty result keeps them).
STOCK_COLUMNS = {"sku": "object", "on_hand": "float64", "product_name": "object", "category": "object",
                 "supplier_id": "object", "unit_cost": "float64", "units_per_day": "float64",
                 "last_sale": "datetime64[ns]", "stock_value": "float64", "days_of_cover": "float64",
                 "days_since_sale": "float64", "status": "object", "excess_units": "float64", "excess_value": "float64"}


def _check_days(name: str, value, minimum: int = 1) -> None:
    if not (isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= minimum):
        raise ParameterError(f"{name} must be a whole number of days ≥ {minimum}, not {value!r}", name=name)


def _check_fraction(name: str, value) -> None:
    if not (isinstance(value, (int, float)) and 0 < value < 1):
        raise ParameterError(f"{name} must be a fraction between 0 and 1 (exclusive), not {value!r}", name=name)


# Building blocks -----------------------------------------------------------------------------------------------

def daily_sales(orders: pd.DataFrame, order_items: pd.DataFrame, *, start=None, end=None,
                statuses: Sequence[str] = STOCK_STATUSES) -> pd.DataFrame:
    """Units and revenue per SKU and day from the orders whose goods left the stock (every status but cancelled).

    Returns one row per (sku, day) with a sale: sku, day (midnight, store-local), units, revenue (price paid).
    ``start`` (inclusive) and ``end`` (exclusive) bound the days.

    >>> o = pd.DataFrame({"order_id": ["1", "2"], "order_time": pd.to_datetime(["2026-01-01 10:00", "2026-01-01 12:00"]),
    ...                   "status": ["completed", "cancelled"]})
    >>> i = pd.DataFrame({"order_id": ["1", "2"], "sku": ["A", "A"], "quantity": [2, 5], "unit_price": [10.0, 10.0]})
    >>> daily_sales(o, i)[["sku", "units", "revenue"]].values.tolist()
    [['A', 2, 20.0]]
    """
    o = orders.loc[orders["status"].isin(list(statuses)), ["order_id", "order_time"]]
    if start is not None:
        o = o[o["order_time"] >= pd.Timestamp(start)]
    if end is not None:
        o = o[o["order_time"] < pd.Timestamp(end)]
    lines = order_items[["order_id", "sku", "quantity", "unit_price"]].merge(o, on="order_id")
    lines = lines.assign(day=lines["order_time"].dt.normalize(), revenue=lines["quantity"] * lines["unit_price"])
    out = lines.groupby(["sku", "day"], as_index=False).agg(units=("quantity", "sum"), revenue=("revenue", "sum"))
    return out


def stock_series(inventory: pd.DataFrame) -> pd.DataFrame:
    """Closing stock per SKU and day: the last count of each day per warehouse, summed, less reserved units.

    Returns sku, day, counted_at (the latest count of the day), on_hand (sellable units, never below 0).
    """
    inv = inventory.assign(day=inventory["as_of"].dt.normalize())
    wh = inv["warehouse"].fillna("") if "warehouse" in inv else pd.Series("", index=inv.index)
    reserved = inv["reserved"].fillna(0) if "reserved" in inv else 0
    inv = inv.assign(warehouse=wh, available=(inv["on_hand"] - reserved).clip(lower=0))
    last = inv.sort_values("as_of").drop_duplicates(["sku", "warehouse", "day"], keep="last")
    return (last.groupby(["sku", "day"], as_index=False)
            .agg(counted_at=("as_of", "max"), on_hand=("available", "sum")))


def stock_position(inventory: pd.DataFrame, sales: pd.DataFrame, products: pd.DataFrame, *, as_of,
                   demand_days: int = 28, cover_target_days: int = 90, slow_cover_days: int = 180,
                   dead_days: int = 90) -> pd.DataFrame:
    """Stock per SKU at ``as_of`` with its value at cost, cover and status.

    Parameters
    ----------
    inventory : contract ``inventory``; the latest count at or before ``as_of`` per SKU and warehouse is used.
    sales : output of :func:`daily_sales` (all days up to ``as_of``).
    products : contract ``products`` (category, unit_cost).
    demand_days : trailing days of sales giving units per day (days of cover = on hand ÷ units per day).
    cover_target_days : cover above this is over-stock; the units beyond it are ``excess_units``.
    slow_cover_days : cover above this (with some sales) makes a slow mover.
    dead_days : stock with no sale in this many days is dead stock.

    Returns
    -------
    One row per SKU counted: sku, product_name, category, supplier_id, on_hand, unit_cost, stock_value,
    units_per_day, days_of_cover (NaN without sales), last_sale, days_since_sale (NaN: never sold in the data),
    status (``out``, ``dead``, ``slow``, ``over``, ``ok``), excess_units, excess_value (beyond the cover target;
    all of the stock when dead). Highest stock value first.
    """
    as_of = pd.Timestamp(as_of)
    inv = inventory[inventory["as_of"] <= as_of]
    if inv.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in STOCK_COLUMNS.items()})
    wh = inv["warehouse"].fillna("") if "warehouse" in inv else pd.Series("", index=inv.index)
    reserved = inv["reserved"].fillna(0) if "reserved" in inv else 0
    inv = inv.assign(warehouse=wh, available=(inv["on_hand"] - reserved).clip(lower=0))
    counted = (inv.sort_values("as_of").drop_duplicates(["sku", "warehouse"], keep="last")
               .groupby("sku", as_index=False)["available"].sum().rename(columns={"available": "on_hand"}))
    past = sales[sales["day"] < as_of]
    recent = past[past["day"] >= as_of.normalize() - pd.Timedelta(days=demand_days)]
    rate = (recent.groupby("sku")["units"].sum() / demand_days).rename("units_per_day")
    last_sale = past.groupby("sku")["day"].max().rename("last_sale")
    cols = [c for c in ("sku", "product_name", "category", "supplier_id", "unit_cost") if c in products]
    out = (counted.merge(products[cols], on="sku", how="left").join(rate, on="sku").join(last_sale, on="sku")
           .fillna({"units_per_day": 0.0}))
    out["stock_value"] = out["on_hand"] * out["unit_cost"]
    out["days_of_cover"] = out["on_hand"] / out["units_per_day"].where(out["units_per_day"] > 0)
    out["days_since_sale"] = (as_of.normalize() - out["last_sale"]).dt.days
    dead = (out["on_hand"] > 0) & (out["days_since_sale"].isna() | (out["days_since_sale"] >= dead_days))
    out["status"] = np.select(
        [out["on_hand"] <= 0, dead, out["days_of_cover"] > slow_cover_days, out["days_of_cover"] > cover_target_days],
        ["out", "dead", "slow", "over"], "ok")
    target = out["units_per_day"] * cover_target_days
    out["excess_units"] = np.where(dead, out["on_hand"], np.ceil((out["on_hand"] - target).clip(lower=0)))
    out["excess_units"] = np.where(out["status"].isin(["dead", "slow", "over"]), out["excess_units"], 0)
    out["excess_value"] = out["excess_units"] * out["unit_cost"]
    return out.sort_values(["stock_value", "sku"], ascending=[False, True]).reset_index(drop=True)


def stockouts(stock: pd.DataFrame, sales: pd.DataFrame, *, period: Period, lookback_days: int = 56,
              alpha: float = 0.05) -> pd.DataFrame:
    """Days out of stock in ``period`` per SKU and the sales lost on them, with an interval.

    A day is out of stock when its closing count is 0. Demand on such a day is estimated from comparable in-stock
    days: the mean units per day over the days of the ``lookback_days`` ending with the period whose closing count
    was above 0 (n days, standard deviation s). Lost units = mean × out days − units still sold on the out days
    (the day it ran out usually still sells), never below 0; the interval is mean ± t(1−α/2, n−1) · s/√n, times the
    out days, less those units (clipped at 0). The day-to-day spread makes the interval wide for lumpy sellers.

    Parameters
    ----------
    stock : output of :func:`stock_series`.
    sales : output of :func:`daily_sales`.

    Returns
    -------
    One row per SKU with at least one out day in the period, largest lost revenue first: sku, out_days, first_out,
    last_out, sold_while_out, in_stock_days, demand_per_day, lost_units, lost_low, lost_high, unit_price (revenue ÷
    units on the in-stock days), lost_revenue.
    """
    _check_days("lookback_days", lookback_days, 2)
    cols = ["sku", "out_days", "first_out", "last_out", "sold_while_out", "in_stock_days", "demand_per_day",
            "lost_units", "lost_low", "lost_high", "unit_price", "lost_revenue"]
    look_start = period.end - pd.Timedelta(days=lookback_days)
    window = stock[(stock["day"] >= min(look_start, period.start)) & (stock["day"] < period.end)]
    daily = window.merge(sales[["sku", "day", "units", "revenue"]], on=["sku", "day"], how="left").fillna(
        {"units": 0, "revenue": 0.0})
    out_rows = daily[(daily["on_hand"] <= 0) & (daily["day"] >= period.start)]
    if out_rows.empty:
        return pd.DataFrame(columns=cols)
    ins = daily[(daily["on_hand"] > 0) & (daily["day"] >= look_start)]
    base = ins.groupby("sku").agg(in_stock_days=("units", "size"), demand_per_day=("units", "mean"),
                                  sd=("units", "std"), units=("units", "sum"), revenue=("revenue", "sum"))
    out = out_rows.groupby("sku").agg(out_days=("day", "size"), first_out=("day", "min"), last_out=("day", "max"),
                                      sold_while_out=("units", "sum")).join(base, how="left")
    n = out["in_stock_days"].fillna(0)
    t = sps.t.ppf(1 - alpha / 2, np.maximum(n - 1, 1))
    half = t * out["sd"].fillna(0) / np.sqrt(n.where(n > 0))
    mean = out["demand_per_day"]
    out["lost_units"] = (mean * out["out_days"] - out["sold_while_out"]).clip(lower=0)
    out["lost_low"] = ((mean - half).clip(lower=0) * out["out_days"] - out["sold_while_out"]).clip(lower=0)
    out["lost_high"] = ((mean + half) * out["out_days"] - out["sold_while_out"]).clip(lower=0)
    out["unit_price"] = out["revenue"] / out["units"].where(out["units"] > 0)
    out["lost_revenue"] = (out["lost_units"] * out["unit_price"]).fillna(0.0)
    out = out.reset_index()
    out["in_stock_days"] = out["in_stock_days"].fillna(0).astype(int)
    return out[cols].sort_values(["lost_revenue", "sku"], ascending=[False, True]).reset_index(drop=True)


def turnover(stock: pd.DataFrame, sales: pd.DataFrame, products: pd.DataFrame, *, period: Period,
             by: str | None = "category") -> pd.DataFrame:
    """Turnover, days inventory outstanding and sell-through in ``period``, per ``by`` (None: the whole store).

    COGS = units sold × unit cost; average stock at cost = mean over the period's counted days of the stock value
    (the SKUs' counts of each day summed); turnover = COGS ÷ average stock (for the period, not annualised); DIO =
    average stock ÷ (COGS ÷ days); sell-through = units sold ÷ (units sold + units on hand at the last count).

    >>> stock = pd.DataFrame({"sku": ["A"] * 2, "day": pd.to_datetime(["2026-01-01", "2026-01-02"]), "on_hand": [10, 6]})
    >>> sales = pd.DataFrame({"sku": ["A"], "day": pd.to_datetime(["2026-01-02"]), "units": [4], "revenue": [40.0]})
    >>> products = pd.DataFrame({"sku": ["A"], "category": ["c"], "unit_cost": [5.0]})
    >>> t = turnover(stock, sales, products, period=Period(pd.Timestamp("2026-01-01"), pd.Timestamp("2026-01-03")))
    >>> t[["cogs", "avg_stock_value", "turnover", "dio", "sell_through"]].round(3).values.tolist()
    [[20.0, 40.0, 0.5, 4.0, 0.4]]
    """
    keys = [by] if by else []
    p = products[["sku", "unit_cost"] + keys]
    st = stock[(stock["day"] >= period.start) & (stock["day"] < period.end)].merge(p, on="sku")
    sold = sales[(sales["day"] >= period.start) & (sales["day"] < period.end)].merge(p, on="sku")
    st = st.assign(value=st["on_hand"] * st["unit_cost"], _all="all")
    sold = sold.assign(cogs=sold["units"] * sold["unit_cost"], _all="all")
    g = keys or ["_all"]
    per_day = st.groupby(g + ["day"], observed=True)["value"].sum()
    avg = per_day.groupby(level=g, observed=True).mean().rename("avg_stock_value")
    last_day = st["day"].max()
    ending = st[st["day"] == last_day].groupby(g, observed=True)["on_hand"].sum().rename("ending_units")
    flows = sold.groupby(g, observed=True).agg(units=("units", "sum"), revenue=("revenue", "sum"), cogs=("cogs", "sum"))
    out = pd.concat([flows, avg, ending], axis=1).fillna({"units": 0, "revenue": 0.0, "cogs": 0.0, "ending_units": 0})
    out["turnover"] = out["cogs"] / out["avg_stock_value"].where(out["avg_stock_value"] > 0)
    out["dio"] = out["avg_stock_value"] / (out["cogs"] / period.days).where(out["cogs"] > 0)
    denom = out["units"] + out["ending_units"]
    out["sell_through"] = out["units"] / denom.where(denom > 0)
    out = out.reset_index()
    if not by:
        out = out.drop(columns=out.columns[0])
    return out.sort_values("cogs", ascending=False).reset_index(drop=True)


def abc_xyz(sales: pd.DataFrame, products: pd.DataFrame, *, as_of, lookback_days: int = 90,
            abc: tuple[float, float] = (0.8, 0.95), xyz: tuple[float, float] = (0.5, 1.0)) -> pd.DataFrame:
    """ABC (share of revenue) × XYZ (variability of weekly units) class per SKU over the trailing ``lookback_days``.

    A: the best sellers that make the first ``abc[0]`` of revenue (the SKU crossing the line included), B up to
    ``abc[1]``, C the rest (SKUs without sales are C). XYZ: coefficient of variation of units over the whole weeks
    of the window (weeks without sales count as 0): X ≤ ``xyz[0]``, Y ≤ ``xyz[1]``, Z above or never sold.

    Returns one row per product: sku, category, revenue, revenue_share, units, cv, abc, xyz, cls ("AX"…).
    """
    _check_days("lookback_days", lookback_days, 14)
    as_of = pd.Timestamp(as_of).normalize()
    start = as_of - pd.Timedelta(days=lookback_days)
    s = sales[(sales["day"] >= start) & (sales["day"] < as_of)]
    weeks = lookback_days // 7
    wk = ((as_of - s["day"]).dt.days - 1) // 7
    s = s.assign(week=wk)[wk < weeks]
    per = s.groupby("sku").agg(revenue=("revenue", "sum"), units=("units", "sum"))
    weekly = s.groupby(["sku", "week"])["units"].sum().unstack(fill_value=0).reindex(columns=range(weeks), fill_value=0)
    cv = (weekly.std(axis=1, ddof=0) / weekly.mean(axis=1).where(weekly.mean(axis=1) > 0)).rename("cv")
    out = products[["sku", "category"]].join(per, on="sku").join(cv, on="sku").fillna({"revenue": 0.0, "units": 0})
    out = out.sort_values(["revenue", "sku"], ascending=[False, True]).reset_index(drop=True)
    total = out["revenue"].sum()
    out["revenue_share"] = out["revenue"] / total if total > 0 else 0.0
    before = out["revenue_share"].cumsum() - out["revenue_share"]
    out["abc"] = np.where(out["revenue"] <= 0, "C", np.where(before < abc[0], "A", np.where(before < abc[1], "B", "C")))
    out["xyz"] = np.where(out["cv"] <= xyz[0], "X", np.where(out["cv"] <= xyz[1], "Y", "Z"))
    out["cls"] = out["abc"] + out["xyz"]
    return out


def demand_pattern(sales: pd.DataFrame, *, as_of, lookback_days: int = 90) -> pd.DataFrame:
    """Syntetos–Boylan demand pattern per SKU over the trailing days: adi (days per day with a sale), cv2 (squared
    coefficient of variation of the non-zero daily units) and pattern (smooth, erratic, intermittent, lumpy)."""
    as_of = pd.Timestamp(as_of).normalize()
    s = sales[(sales["day"] >= as_of - pd.Timedelta(days=lookback_days)) & (sales["day"] < as_of)]
    g = s.groupby("sku")["units"]
    out = pd.DataFrame({"adi": lookback_days / g.size(), "cv2": (g.std(ddof=0) / g.mean()) ** 2}).reset_index()
    out["pattern"] = np.where(out["adi"] > ADI_CUTOFF, np.where(out["cv2"] > 0.49, "lumpy", "intermittent"),
                              np.where(out["cv2"] > 0.49, "erratic", "smooth"))
    return out


def bootstrap_reorder_points(sales: pd.DataFrame, lead_times: pd.DataFrame, skus: pd.DataFrame, *, as_of,
                             lookback_days: int = 90, service_level: float = 0.95, draws: int = 400,
                             seed: int = 0) -> pd.DataFrame:
    """Reorder point as the ``service_level`` quantile of bootstrapped lead-time demand, for lumpy demand.

    For each draw, a lead time L is taken from the supplier's measured lead times (received lines, days, rounded
    up) and the demand of L days is the sum of L days drawn with replacement from the SKU's last ``lookback_days``
    daily units (zero days included). The quantile of those sums is the reorder point; safety stock = reorder
    point − mean lead-time demand. This keeps the zeros and the lumps of intermittent demand and the supplier's
    real lead-time spread, where the normal approximation of :func:`ecomlib.suppliers.reorder_points` puts
    demand below zero and under-covers the lumps (a simplified Willemain, Smart & Schwarz 2004 bootstrap, without
    their Markov chain of zero/non-zero days). Croston / SBA were set aside: they forecast the mean demand rate,
    not the distribution of lead-time demand a service-level reorder point needs.

    Parameters
    ----------
    sales : output of :func:`daily_sales`.
    lead_times : supplier_id, lead_time_days (one row per received purchase-order line).
    skus : sku, supplier_id (the SKUs to compute).

    Returns sku, rop_bootstrap, ss_bootstrap, ltd_mean (NaN where the supplier has no lead time).
    """
    _check_fraction("service_level", service_level)
    as_of = pd.Timestamp(as_of).normalize()
    start = as_of - pd.Timedelta(days=lookback_days)
    s = sales[(sales["day"] >= start) & (sales["day"] < as_of) & sales["sku"].isin(skus["sku"])]
    grid = (s.pivot_table(index="sku", columns="day", values="units", aggfunc="sum", fill_value=0)
            .reindex(index=skus["sku"], columns=pd.date_range(start, as_of - DAY), fill_value=0).to_numpy(float))
    rng = np.random.default_rng(seed)
    lt = lead_times.dropna(subset=["lead_time_days"])
    by_sup = {k: np.ceil(v.to_numpy(float)).clip(1) for k, v in lt.groupby("supplier_id")["lead_time_days"]}
    n = len(skus)
    lead = np.full((n, draws), np.nan)
    for sup, values in by_sup.items():  # one vectorised draw per supplier (a handful), not per SKU
        rows = np.flatnonzero(skus["supplier_id"].to_numpy() == sup)
        if len(rows) and len(values) >= 2:
            lead[rows] = rng.choice(values, (len(rows), draws))
    lmax = int(np.nanmax(lead)) if np.isfinite(lead).any() else 1
    idx = rng.integers(0, grid.shape[1], size=(n, draws, lmax))
    picks = np.take_along_axis(grid[:, None, :], idx.reshape(n, 1, -1), axis=2).reshape(n, draws, lmax)
    mask = np.arange(lmax)[None, None, :] < np.nan_to_num(lead, nan=0)[:, :, None]
    ltd = (picks * mask).sum(axis=2)
    ltd = np.where(np.isfinite(lead), ltd, np.nan)
    rop = np.nanquantile(np.where(np.isfinite(lead).any(axis=1)[:, None], ltd, 0), service_level, axis=1)
    has = np.isfinite(lead).any(axis=1)
    mean = np.where(has, np.nanmean(np.where(has[:, None], ltd, 0), axis=1), np.nan)
    rop = np.where(has, rop, np.nan)
    return pd.DataFrame({"sku": skus["sku"].to_numpy(), "rop_bootstrap": rop, "ltd_mean": mean,
                         "ss_bootstrap": rop - mean})


def price_index(prices: pd.DataFrame, sales: pd.DataFrame, products: pd.DataFrame, *, as_of, price_days: int = 28,
                undercut_threshold: float = 0.10) -> pd.DataFrame:
    """Our price against competitors' per SKU over the trailing ``price_days``.

    our_price = revenue ÷ units sold in the window (the price customers paid); competitor_price = the median over
    competitors of each competitor's median price seen in the window; min_competitor_price = the lowest of those
    medians (and ``cheapest``, its competitor); price_index = our_price ÷ competitor_price (above 1: we are dearer);
    gap = 1 − min_competitor_price ÷ our_price; undercut = gap > ``undercut_threshold``. margin_at_risk = the SKU's
    gross margin in the window (units × (our price − unit cost)) when undercut, else 0.

    Returns one row per SKU with both prices, most margin at risk first.
    """
    _check_days("price_days", price_days, 1)
    _check_fraction("undercut_threshold", undercut_threshold)
    as_of = pd.Timestamp(as_of).normalize()
    start = as_of - pd.Timedelta(days=price_days)
    seen = prices[(prices["date"] >= start) & (prices["date"] < as_of)]
    per_comp = seen.groupby(["sku", "competitor"], as_index=False).agg(price=("price", "median"),
                                                                        n=("price", "size"))
    agg = per_comp.groupby("sku").agg(competitor_price=("price", "median"), min_competitor_price=("price", "min"),
                                      n_competitors=("competitor", "size"), n_observations=("n", "sum"))
    cheapest = per_comp.sort_values("price").drop_duplicates("sku").set_index("sku")["competitor"].rename("cheapest")
    s = sales[(sales["day"] >= start) & (sales["day"] < as_of)].groupby("sku")[["units", "revenue"]].sum()
    out = (agg.join(cheapest).join(s, how="inner").reset_index()
           .merge(products[["sku", "product_name", "category", "unit_cost"]], on="sku", how="left"))
    out["our_price"] = out["revenue"] / out["units"].where(out["units"] > 0)
    out = out[out["our_price"].notna()]
    out["price_index"] = out["our_price"] / out["competitor_price"]
    out["gap"] = 1 - out["min_competitor_price"] / out["our_price"]
    out["undercut"] = out["gap"] > undercut_threshold
    out["margin_at_risk"] = np.where(out["undercut"], out["units"] * (out["our_price"] - out["unit_cost"]), 0.0)
    return out.sort_values(["margin_at_risk", "revenue"], ascending=False).reset_index(drop=True)


def category_price_index(index: pd.DataFrame) -> pd.DataFrame:
    """Revenue-weighted price index per category from :func:`price_index`: category, n_skus, revenue, price_index,
    n_undercut."""
    w = index.assign(wi=index["price_index"] * index["revenue"])
    g = w.groupby("category", observed=True).agg(n_skus=("sku", "size"), revenue=("revenue", "sum"),
                                                 wi=("wi", "sum"), n_undercut=("undercut", "sum"))
    g["price_index"] = g["wi"] / g["revenue"].where(g["revenue"] > 0)
    return g.drop(columns="wi").reset_index().sort_values("revenue", ascending=False).reset_index(drop=True)


def price_changes(sales: pd.DataFrame, *, as_of, weeks: int = 26, min_change: float = 0.05,
                  window_weeks: int = 4, promotions: pd.DataFrame | None = None) -> pd.DataFrame:
    """Our own price changes and units around them.

    Weekly price = the highest of the week's daily prices paid (revenue ÷ units per selling day): the price level
    before discounts, so a one-day promotion does not count as a change; weeks are whole weeks ending at ``as_of``; a change is a week whose
    price differs from the previous week's by ``min_change`` or more (share of the previous price) and the next week
    that sells keeps the move (so the latest week's change shows once the following week confirms it). units_before /
    units_after = mean weekly units in the ``window_weeks`` weeks before / from the change week (fewer at the data's
    edges); units_change = after ÷ before − 1. Days inside a promotion of ``promotions`` (contract table,
    start_date – end_date inclusive) are left out of the weekly price (their units still count).

    Returns one row per change in the last ``weeks`` weeks: sku, week (its first day), price_before, price_after,
    price_change, units_before, units_after, units_change.
    """
    cols = ["sku", "week", "price_before", "price_after", "price_change", "units_before", "units_after",
            "units_change"]
    as_of = pd.Timestamp(as_of).normalize()
    span = weeks + window_weeks
    s = sales[(sales["day"] >= as_of - pd.Timedelta(weeks=span)) & (sales["day"] < as_of)]
    if s.empty:
        return pd.DataFrame(columns=cols)
    wk = span - 1 - ((as_of - s["day"]).dt.days - 1) // 7
    promo = pd.Series(False, index=s.index)
    if promotions is not None:
        for row in promotions.itertuples():  # a few promotions, not rows of sales
            promo |= (s["day"] >= row.start_date) & (s["day"] <= row.end_date)
    s = s.assign(w=wk, price=(s["revenue"] / s["units"]).where(~promo))
    w = s.groupby(["sku", "w"]).agg(units=("units", "sum"), price=("price", "max"))
    units = w["units"].unstack(fill_value=0).reindex(columns=range(span), fill_value=0)
    price = w["price"].unstack().reindex(columns=range(span))
    prev = price.ffill(axis=1).shift(1, axis=1)
    change = price / prev - 1
    held = price.bfill(axis=1).shift(-1, axis=1) / prev - 1  # the next observed week keeps the move
    kept = (change.abs() >= min_change) & (held.abs() >= min_change) & (np.sign(held) == np.sign(change))
    hits = change.where(kept).stack().dropna().rename("price_change").reset_index()
    hits = hits[hits["w"] >= window_weeks]
    if hits.empty:
        return pd.DataFrame(columns=cols)
    u = units.to_numpy(float)
    row = units.index.get_indexer(hits["sku"])
    col = hits["w"].to_numpy()
    csum = np.concatenate([np.zeros((len(u), 1)), u.cumsum(axis=1)], axis=1)
    lo = np.maximum(col - window_weeks, 0)
    hi = np.minimum(col + window_weeks, span)
    before = (csum[row, col] - csum[row, lo]) / (col - lo)
    after = (csum[row, hi] - csum[row, col]) / (hi - col)
    out = hits.assign(week=as_of - pd.to_timedelta((span - hits["w"]) * 7, unit="D"),
                      price_before=prev.to_numpy()[row, col], price_after=price.to_numpy()[row, col],
                      units_before=before, units_after=after)
    out["units_change"] = out["units_after"] / out["units_before"].where(out["units_before"] > 0) - 1
    return out[cols].sort_values(["week", "sku"], ascending=[False, True]).reset_index(drop=True)


# The review --------------------------------------------------------------------------------------------------

def load(data_dir, **kwargs):
    """The contract tables of the inventory review (inventory, products, orders, order_items; optional
    purchase_orders, suppliers, price_observations, promotions), validated."""
    return load_tables(data_dir, NAME, **kwargs)


def data_range(ds) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last timestamp of the review's data (orders and stock counts)."""
    first = min(ds.orders["order_time"].min(), ds.inventory["as_of"].min())
    last = max(ds.orders["order_time"].max(), ds.inventory["as_of"].max())
    return first, last


def compute(ds, period: Period, *, demand_days: int = 28, lookback_days: int = 90, stockout_lookback_days: int = 56,
            cover_target_days: int = 90, slow_cover_days: int = 180, dead_days: int = 90,
            service_level: float = 0.95, price_days: int = 28, undercut_threshold: float = 0.10,
            min_price_change: float = 0.05, alpha: float = 0.05) -> Result:
    """Everything the inventory page shows for ``period``, as known at its end.

    Parameters
    ----------
    ds : a dataset from :func:`load`.
    period : the review period; stock is the last count at or before its end, stock-outs and turnover count its days,
        trailing windows (demand, ABC × XYZ, prices) end with it.
    demand_days, cover_target_days, slow_cover_days, dead_days : see :func:`stock_position`.
    lookback_days : days of sales for ABC × XYZ and reorder points.
    stockout_lookback_days : in-stock days giving demand while out (:func:`stockouts`).
    service_level : cycle service level of the reorder points.
    price_days, undercut_threshold : see :func:`price_index`; min_price_change : see :func:`price_changes`.
    alpha : 1 − confidence of the lost-sales interval.

    Returns
    -------
    :class:`~ecomlib.review.Result` with tables ``stock``, ``by_category``, ``stockouts``, ``turnover``,
    ``turnover_total``, ``abc_xyz``, ``matrix``, ``reorder``, ``below``, ``prices``, ``category_prices``,
    ``undercut``, ``price_changes``; values for the headlines; gaps per :data:`MINIMUM_DATA`.
    """
    for name, value in (("demand_days", demand_days), ("cover_target_days", cover_target_days),
                        ("slow_cover_days", slow_cover_days), ("dead_days", dead_days)):
        _check_days(name, value)
    _check_fraction("alpha", alpha)
    _check_fraction("service_level", service_level)
    _check_fraction("min_price_change", min_price_change)
    res = Result(NAME, period, notes={
        "demand_days": demand_days, "lookback_days": lookback_days, "stockout_lookback_days": stockout_lookback_days,
        "cover_target_days": cover_target_days, "slow_cover_days": slow_cover_days, "dead_days": dead_days,
        "service_level": service_level, "price_days": price_days, "undercut_threshold": undercut_threshold,
        "min_price_change": min_price_change, "alpha": alpha})
    end = period.end
    sales = daily_sales(ds.orders, ds.order_items, end=end)
    products = ds.products
    inventory = ds.inventory
    classes = abc_xyz(sales, products, as_of=end, lookback_days=lookback_days)
    res.tables["abc_xyz"] = classes
    res.tables["matrix"] = (classes.groupby(["abc", "xyz"]).agg(n_skus=("sku", "size"), revenue=("revenue", "sum"))
                            .reset_index())
    if classes["revenue"].sum() <= 0:
        res.gaps["abc_xyz"] = Gap("inventory.gap.no_sales", {"days": lookback_days})
    cls = classes.set_index("sku")["abc"]

    # stock position ------------------------------------------------------------------------------------------
    counted = inventory[inventory["as_of"] < end]
    if counted.empty:
        res.gaps["stock"] = Gap("inventory.gap.no_count", {"first": inventory["as_of"].min()})
        stock = stock_position(inventory.iloc[:0], sales, products, as_of=end)
    else:
        stock = stock_position(inventory, sales, products, as_of=end - pd.Timedelta(seconds=1),
                               demand_days=demand_days, cover_target_days=cover_target_days,
                               slow_cover_days=slow_cover_days, dead_days=dead_days)
    stock["abc"] = stock["sku"].map(cls).fillna("C")
    res.tables["stock"] = stock
    by_cat = stock.assign(dead_value=np.where(stock["status"] == "dead", stock["stock_value"], 0.0),
                          n_dead=stock["status"] == "dead")
    by_cat = by_cat.groupby("category", observed=True).agg(
        n_skus=("sku", "size"), on_hand=("on_hand", "sum"), stock_value=("stock_value", "sum"),
        units_per_day=("units_per_day", "sum"), n_dead=("n_dead", "sum"), dead_value=("dead_value", "sum"),
        excess_value=("excess_value", "sum")).reset_index()
    by_cat["days_of_cover"] = by_cat["on_hand"] / by_cat["units_per_day"].where(by_cat["units_per_day"] > 0)
    res.tables["by_category"] = by_cat.sort_values("stock_value", ascending=False).reset_index(drop=True)
    dead = stock[stock["status"] == "dead"]
    dead_cats = by_cat[(by_cat["n_dead"] == by_cat["n_skus"]) & (by_cat["n_dead"] > 0)]
    res.values.update(
        stock_value=float(stock["stock_value"].sum()), n_skus=len(stock),
        n_out=int((stock["status"] == "out").sum()), n_dead=len(dead), dead_value=float(dead["stock_value"].sum()),
        n_slow=int((stock["status"] == "slow").sum()),
        over_value=float(stock.loc[stock["status"].isin(["slow", "over"]), "excess_value"].sum()),
        median_cover=float(stock.loc[stock["units_per_day"] > 0, "days_of_cover"].median())
        if (stock["units_per_day"] > 0).any() else None,
        dead_category=dead_cats.sort_values("dead_value", ascending=False)["category"].iloc[0]
        if len(dead_cats) else None,
        dead_category_value=float(dead_cats["dead_value"].max()) if len(dead_cats) else 0.0,
        dead_category_skus=int(dead_cats.sort_values("dead_value", ascending=False)["n_skus"].iloc[0])
        if len(dead_cats) else 0)

    # stock-outs and turnover need counts on the period's days -------------------------------------------------
    series = stock_series(inventory)
    in_period = series[(series["day"] >= period.start) & (series["day"] < end)]
    if in_period.empty:
        res.gaps["stockouts"] = Gap("inventory.gap.no_series", {"start": period.start, "end": period.last_day})
        res.gaps["turnover"] = res.gaps["stockouts"]
        outs = stockouts(series.iloc[:0], sales, period=period)
        res.tables["turnover"] = turnover(series.iloc[:0], sales, products, period=period)
        res.tables["turnover_total"] = turnover(series.iloc[:0], sales, products, period=period, by=None)
    else:
        outs = stockouts(series, sales, period=period, lookback_days=stockout_lookback_days, alpha=alpha)
        res.tables["turnover"] = turnover(series, sales, products, period=period)
        res.tables["turnover_total"] = turnover(series, sales, products, period=period, by=None)
    outs = outs.merge(products[["sku", "product_name", "category"]], on="sku", how="left")
    outs["abc"] = outs["sku"].map(cls).fillna("C")
    res.tables["stockouts"] = outs
    a_out = outs[outs["abc"] == "A"]
    tot = res.tables["turnover_total"]
    res.values.update(
        n_stocked_out=len(outs), out_days=int(outs["out_days"].sum()), lost_revenue=float(outs["lost_revenue"].sum()),
        lost_units=float(outs["lost_units"].sum()), lost_low=float(outs["lost_low"].sum()),
        lost_high=float(outs["lost_high"].sum()),
        a_stocked_out=len(a_out), a_out_days=int(a_out["out_days"].sum()),
        a_lost_revenue=float(a_out["lost_revenue"].sum()),
        turnover=number(tot["turnover"].iloc[0]) if len(tot) else None,
        dio=number(tot["dio"].iloc[0]) if len(tot) else None,
        sell_through=number(tot["sell_through"].iloc[0]) if len(tot) else None)

    # reorder points -------------------------------------------------------------------------------------------
    _reorder(ds, res, sales, stock, classes, period, lookback_days=lookback_days, service_level=service_level)

    # prices -------------------------------------------------------------------------------------------------
    prices = getattr(ds, "price_observations", None)
    if prices is None or prices.empty or not ((prices["date"] < end)
                                               & (prices["date"] >= end - pd.Timedelta(days=price_days))).any():
        res.gaps["prices"] = Gap("inventory.gap.no_prices" if prices is None or prices.empty
                                 else "inventory.gap.no_recent_prices", {"days": price_days})
        idx = pd.DataFrame(columns=["sku", "product_name", "category", "our_price", "competitor_price",
                                    "min_competitor_price", "cheapest", "price_index", "gap", "undercut",
                                    "margin_at_risk", "units", "revenue", "abc"])
    else:
        idx = price_index(prices, sales, products, as_of=end, price_days=price_days,
                          undercut_threshold=undercut_threshold)
        idx["abc"] = idx["sku"].map(cls).fillna("C")
    res.tables["prices"] = idx
    res.tables["category_prices"] = category_price_index(idx) if len(idx) else pd.DataFrame(
        columns=["category", "n_skus", "revenue", "n_undercut", "price_index"])
    under = idx[idx["undercut"].astype(bool)] if len(idx) else idx
    res.tables["undercut"] = under
    rev = idx["revenue"].sum() if len(idx) else 0
    res.values.update(
        price_index=float((idx["price_index"] * idx["revenue"]).sum() / rev) if rev else None,
        n_undercut=len(under), a_undercut=int((under["abc"] == "A").sum()) if len(under) else 0,
        margin_at_risk=float(under["margin_at_risk"].sum()) if len(under) else 0.0)

    changes = price_changes(sales, as_of=end, min_change=min_price_change,
                            promotions=getattr(ds, "promotions", None))
    res.tables["price_changes"] = changes
    if changes.empty:
        res.gaps["price_changes"] = Gap("inventory.gap.no_price_changes", {"change": min_price_change})
    return res


def _reorder(ds, res: Result, sales, stock, classes, period: Period, *, lookback_days: int,
             service_level: float) -> None:
    """Reorder points: the supplier module's normal approximation, the bootstrap for intermittent SKUs."""
    from . import suppliers

    po = getattr(ds, "purchase_orders", None)
    cols = ["sku", "product_name", "category", "supplier_id", "abc", "pattern", "method", "demand_mean",
            "lead_time_mean", "lead_time_sd", "rop_normal", "rop_bootstrap", "safety_stock", "reorder_point",
            "on_hand", "on_order", "position", "shortfall"]
    empty = pd.DataFrame(columns=cols)
    if po is None or po.empty:
        res.gaps["reorder"] = Gap("inventory.gap.no_purchase_orders", {})
        res.tables.update(reorder=empty, below=empty)
        res.values["n_below_rop"] = 0
        return
    lines = suppliers.delivery_lines(po, as_of=period.end)
    rp = suppliers.reorder_points(ds.order_items, ds.orders, lines, ds.products, as_of=period.end,
                                  lookback_days=lookback_days, service_level=service_level)
    if not rp["reorder_point"].notna().any():
        res.gaps["reorder"] = Gap("inventory.gap.no_lead_times", {})
        res.tables.update(reorder=empty, below=empty)
        res.values["n_below_rop"] = 0
        return
    received = lines[(lines["status"] == "received") & (lines["received_at"] < period.end)
                     & (lines["received_at"] >= period.end - pd.Timedelta(days=365))]
    pattern = demand_pattern(sales, as_of=period.end, lookback_days=lookback_days)
    rp = rp.merge(pattern[["sku", "adi", "cv2", "pattern"]], on="sku", how="left")
    lumpy = rp[rp["pattern"].isin(["intermittent", "lumpy"]) & rp["lead_time_mean"].notna()]
    boot = bootstrap_reorder_points(sales, received[["supplier_id", "lead_time_days"]], lumpy[["sku", "supplier_id"]],
                                    as_of=period.end, lookback_days=lookback_days, service_level=service_level)
    rp = rp.merge(boot, on="sku", how="left").rename(columns={"reorder_point": "rop_normal"})
    use_boot = rp["rop_bootstrap"].notna()
    rp["method"] = np.where(use_boot, "bootstrap", "normal")
    rp["reorder_point"] = np.where(use_boot, rp["rop_bootstrap"], rp["rop_normal"])
    rp["safety_stock"] = np.where(use_boot, rp["ss_bootstrap"], rp["safety_stock"])
    rp["abc"] = rp["sku"].map(classes.set_index("sku")["abc"]).fillna("C")
    open_lines = lines[(lines["status"] != "received") & (lines["ordered_at"] < period.end)]
    on_order = open_lines.groupby("sku")["qty_ordered"].sum().rename("on_order")
    rp = (rp.merge(stock[["sku", "on_hand"]], on="sku", how="left").join(on_order, on="sku")
          .fillna({"on_order": 0.0}))
    rp["position"] = rp["on_hand"] + rp["on_order"]
    rp["shortfall"] = rp["reorder_point"] - rp["position"]
    rp = rp[[c for c in cols if c in rp] + ["adi", "cv2"]]
    res.tables["reorder"] = rp.sort_values(["reorder_point", "sku"], ascending=[False, True],
                                           na_position="last").reset_index(drop=True)
    below = rp[rp["on_hand"].notna() & (rp["shortfall"] > 0)].sort_values("shortfall", ascending=False)
    res.tables["below"] = below.reset_index(drop=True)
    res.values.update(n_below_rop=len(below), n_bootstrap=int(use_boot.sum()))


# Headlines, findings, sentences ------------------------------------------------------------------------------

def headlines(now: Result, before: Result | None, msg: Messages) -> list[Headline]:
    """The index cards: stock at cost, DIO, lost sales to stock-outs, cash in dead stock and margin at risk from
    undercuts, each with the same headline of ``before`` as its previous value."""
    def prev(name):
        return None if before is None else number(before.value(name))

    src = "ecomlib.inventory."
    return [
        Headline("stock_value", msg("inventory.h.stock_value"), number(now.value("stock_value")), "money",
                 previous=prev("stock_value"), good=None, source=src + "stock_position"),
        Headline("dio", msg("inventory.h.dio"), number(now.value("dio")), "days", previous=prev("dio"), good="down",
                 source=src + "turnover"),
        Headline("lost_revenue", msg("inventory.h.lost_revenue"), number(now.value("lost_revenue")), "money",
                 previous=prev("lost_revenue"), good="down", source=src + "stockouts"),
        Headline("dead_value", msg("inventory.h.dead_value", days=now.notes["dead_days"]),
                 number(now.value("dead_value")), "money", previous=prev("dead_value"), good="down",
                 source=src + "stock_position"),
        Headline("margin_at_risk", msg("inventory.h.margin_at_risk", pct=now.notes["undercut_threshold"]),
                 number(now.value("margin_at_risk")) if now.has("prices") else None, "money",
                 previous=prev("margin_at_risk") if before is not None and before.has("prices") else None,
                 good="down", source=src + "price_index"),
    ]


def _stockout_sentence(row, now: Result, msg: Messages) -> str:
    return msg("inventory.s.stockout", sku=row["sku"], name=row["product_name"], days=int(row["out_days"]),
               first=row["first_out"], last=row["last_out"], units=row["lost_units"], low=row["lost_low"],
               high=row["lost_high"], revenue=row["lost_revenue"], conf=round(100 * (1 - now.notes["alpha"])))


def _dead_sentence(now: Result, msg: Messages) -> str:
    if now.value("dead_category"):
        return msg("inventory.s.dead_category", category=now.value("dead_category"),
                   n=now.value("dead_category_skus"), value=now.value("dead_category_value"),
                   days=now.notes["dead_days"], total=now.value("dead_value"), n_all=now.value("n_dead"))
    return msg("inventory.s.dead", n=now.value("n_dead"), value=now.value("dead_value"),
               days=now.notes["dead_days"], share=now.value("dead_value") / now.value("stock_value"))


def _undercut_sentence(row, now: Result, msg: Messages) -> str:
    return msg("inventory.s.undercut", sku=row["sku"], name=row["product_name"], competitor=row["cheapest"],
               theirs=row["min_competitor_price"], ours=row["our_price"], gap=row["gap"],
               margin=row["margin_at_risk"], days=now.notes["price_days"])


def findings(now: Result, before: Result | None, msg: Messages) -> list[Finding]:
    """Structured conclusions with money at stake: sales lost to stock-outs of A items (lost revenue, estimated),
    cash tied up at cost in dead stock, gross margin at risk on SKUs a competitor undercuts, over-stock beyond the
    cover target, SKUs below their reorder point."""
    out: list[Finding] = []
    src = "ecomlib.inventory."
    outs = now.tables["stockouts"]
    for _, row in outs[outs["abc"] == "A"].iterrows():  # a handful of A items at most
        out.append(Finding(NAME, f"stockout:{row['sku']}", _stockout_sentence(row, now, msg),
                           numbers={"sku": row["sku"], "out_days": int(row["out_days"]),
                                    "lost_units": number(row["lost_units"]), "lost_low": number(row["lost_low"]),
                                    "lost_high": number(row["lost_high"])},
                           money=number(row["lost_revenue"]), severity="high" if row["out_days"] >= 3 else "medium",
                           confidence="descriptive", anchor="sec-stockouts", source=src + "stockouts"))
    if now.value("n_dead"):
        out.append(Finding(NAME, "dead_stock", _dead_sentence(now, msg),
                           numbers={"skus": now.value("n_dead"), "category": now.value("dead_category"),
                                    "dead_value": now.value("dead_value")},
                           money=now.value("dead_value"), severity="medium", confidence="descriptive",
                           anchor="sec-dead", source=src + "stock_position"))
    under = now.tables["undercut"]
    for _, row in under.iterrows():
        a = row["abc"] == "A"
        if not a and len(under) > 5:
            continue
        out.append(Finding(NAME, f"undercut:{row['sku']}", _undercut_sentence(row, now, msg),
                           numbers={"sku": row["sku"], "competitor": row["cheapest"], "gap": number(row["gap"]),
                                    "our_price": number(row["our_price"]),
                                    "competitor_price": number(row["min_competitor_price"])},
                           money=number(row["margin_at_risk"]), severity="high" if a else "low",
                           confidence="descriptive", anchor="sec-prices", source=src + "price_index"))
    if now.value("over_value"):
        out.append(Finding(NAME, "over_stock", msg("inventory.s.over", value=now.value("over_value"),
                                                     target=now.notes["cover_target_days"], n=now.value("n_slow")),
                           numbers={"over_value": now.value("over_value")}, money=now.value("over_value"),
                           severity="low", confidence="descriptive", anchor="sec-dead", source=src + "stock_position"))
    if now.has("reorder") and now.value("n_below_rop"):
        out.append(Finding(NAME, "below_reorder_point", msg("inventory.s.below", n=now.value("n_below_rop")),
                           numbers={"skus": now.value("n_below_rop")}, money=None, severity="medium",
                           confidence="descriptive", anchor="sec-reorder", source=src + "compute"))
    return out


def sentences(now: Result, before: Result | None, msg: Messages) -> list[str]:
    """The page's conclusions, most money first, read only from the two results."""
    out: list[str] = []
    if now.has("stock"):
        out.append(msg("inventory.s.stock", value=now.value("stock_value"), n=now.value("n_skus"),
                       cover=now.value("median_cover") or 0.0))
    if now.has("turnover") and now.value("dio") is not None:
        prev = None if before is None else before.value("dio")
        out.append(msg("inventory.s.dio", dio=now.value("dio"), turnover=now.value("turnover"),
                       sell=now.value("sell_through") or 0.0)
                   + ("" if prev is None else msg("inventory.s.dio_before", dio=prev)))
    if now.has("stockouts"):
        outs = now.tables["stockouts"]
        a_out = outs[outs["abc"] == "A"]
        for _, row in a_out.head(3).iterrows():
            out.append(_stockout_sentence(row, now, msg))
        if len(outs):
            out.append(msg("inventory.s.stockouts_all", n=len(outs), days=now.value("out_days"),
                           revenue=now.value("lost_revenue"), low=now.value("lost_low"), high=now.value("lost_high")))
        else:
            out.append(msg("inventory.s.no_stockouts"))
    if now.has("stock") and now.value("n_dead"):
        out.append(_dead_sentence(now, msg))
    if now.has("stock") and now.value("over_value"):
        out.append(msg("inventory.s.over", value=now.value("over_value"), target=now.notes["cover_target_days"],
                       n=now.value("n_slow")))
    if now.has("prices"):
        for _, row in now.tables["undercut"].head(3).iterrows():
            out.append(_undercut_sentence(row, now, msg))
        if now.value("price_index") is not None:
            out.append(msg("inventory.s.price_index", index=now.value("price_index"), n=len(now.tables["prices"]),
                           under=now.value("n_undercut"), pct=now.notes["undercut_threshold"]))
    if now.has("reorder"):
        out.append(msg("inventory.s.below", n=now.value("n_below_rop")))
    return out


# Tables and plots --------------------------------------------------------------------------------------------

TABLE_COLUMNS: dict[str, list[str]] = {
    "stockouts": ["sku", "product_name", "category", "abc", "out_days", "first_out", "last_out", "sold_while_out",
                  "demand_per_day", "lost_units", "lost_low", "lost_high", "unit_price", "lost_revenue"],
    "by_category": ["category", "n_skus", "on_hand", "stock_value", "days_of_cover", "n_dead", "dead_value",
                    "excess_value"],
    "turnover": ["category", "units", "cogs", "avg_stock_value", "turnover", "dio", "sell_through"],
    "dead": ["sku", "product_name", "category", "on_hand", "stock_value", "last_sale", "days_since_sale"],
    "over": ["sku", "product_name", "category", "status", "on_hand", "units_per_day", "days_of_cover",
             "excess_units", "excess_value"],
    "reorder": ["sku", "product_name", "supplier_id", "abc", "pattern", "method", "demand_mean", "lead_time_mean",
                "lead_time_sd", "rop_normal", "rop_bootstrap", "reorder_point", "on_hand", "on_order", "shortfall"],
    "below": ["sku", "product_name", "supplier_id", "abc", "method", "reorder_point", "on_hand", "on_order",
              "shortfall"],
    "undercut": ["sku", "product_name", "category", "abc", "our_price", "min_competitor_price", "cheapest", "gap",
                 "units", "margin_at_risk"],
    "prices": ["sku", "product_name", "category", "abc", "our_price", "competitor_price", "min_competitor_price",
               "price_index", "gap", "n_observations"],
    "category_prices": ["category", "n_skus", "revenue", "price_index", "n_undercut"],
    "price_changes": ["sku", "week", "price_before", "price_after", "price_change", "units_before", "units_after",
                      "units_change"],
    "stock": ["sku", "product_name", "category", "abc", "status", "on_hand", "stock_value", "units_per_day",
              "days_of_cover", "days_since_sale"],
}
_EXTRA_UNITS = {"first_out": "date", "last_out": "date", "n_undercut": "int", "cls": "text"}


def table_data(now: Result, name: str) -> pd.DataFrame:
    """The rows a page table shows (``dead`` and ``over`` are views of ``stock``)."""
    if name == "dead":
        return now.tables["stock"][now.tables["stock"]["status"] == "dead"]
    if name == "over":
        s = now.tables["stock"]
        return s[s["status"].isin(["slow", "over"])].sort_values("excess_value", ascending=False)
    return now.tables[name]


def table(now: Result, name: str, msg: Messages, *, rows: int | None = 15):
    """A result table ready to show: its columns, codes translated, values formatted by :data:`UNITS`, headers
    translated, at most ``rows`` rows (the caption says how many of how many)."""
    from .report import styled

    df = table_data(now, name)
    shown = df[[c for c in TABLE_COLUMNS[name] if c in df.columns]]
    n = len(shown)
    if rows is not None:
        shown = shown.head(rows)
    shown = shown.copy()
    for col in ("status", "method", "pattern"):
        if col in shown:
            shown[col] = shown[col].map(lambda v, col=col: msg(f"inventory.{col}.{v}") if isinstance(v, str) else v)
    units = {**UNITS, **_EXTRA_UNITS}
    formats = {c: units[c] for c in shown.columns if c in units and units[c] != "text"}
    caption = msg("inventory.cap.rows", shown=len(shown), n=n) if rows is not None and n > len(shown) else None
    return styled(shown, msg, formats=formats, labels=msg.labels(list(shown.columns), "inventory.col."),
                  caption=caption)


def plot_cover(data: pd.DataFrame, *, x: str = "days_of_cover", y: str = "category", ax: Axes | None = None,
               msg: Messages | None = None, target: float | None = None) -> Axes:
    """Days of cover per SKU by category (a strip of points; SKUs without sales left out), with the cover target."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    msg = msg or Messages("en")
    if ax is None:
        ax = plt.gca()
    d = data[data[x].notna()]
    cap = 3 * target if target else float(d[x].quantile(0.95)) if len(d) else 1.0
    d = d.assign(**{x: d[x].clip(upper=cap)})  # longer cover is drawn at the right edge
    hue = "abc" if "abc" in d else None
    sns.stripplot(data=d, x=x, y=y, hue=hue, hue_order=["A", "B", "C"] if hue else None, ax=ax,
                  size=4, alpha=0.7, jitter=0.25)
    if target is not None:
        ax.axvline(target, color="0.3", ls="--", lw=1)
    ax.set_xlim(0, cap * 1.02)
    if hue and ax.get_legend() is not None:
        ax.get_legend().set_title(msg("inventory.col.abc"))
    ax.set(xlabel=msg("inventory.ax.cover_capped", cap=cap), ylabel="", title=msg("inventory.fig.cover"))
    return ax


def plot_stock_history(stock: pd.DataFrame, sales: pd.DataFrame | None = None, *, sku: str, ax: Axes | None = None,
                       msg: Messages | None = None) -> Axes:
    """Closing stock of one SKU per day (a step line), with its daily units sold as bars when given."""
    import matplotlib.pyplot as plt

    msg = msg or Messages("en")
    if ax is None:
        ax = plt.gca()
    s = stock[stock["sku"] == sku].sort_values("day")
    ax.step(s["day"], s["on_hand"], where="post", label=msg("inventory.ax.on_hand"))
    handles = ax.get_lines()
    if sales is not None:
        u = sales[(sales["sku"] == sku) & (sales["day"] >= s["day"].min())]
        right = ax.twinx()  # units sold per day on their own scale
        bars = right.bar(u["day"], u["units"], color="C1", alpha=0.6, label=msg("inventory.ax.units"))
        right.set_ylabel(msg("inventory.ax.units"))
        right.grid(False)
        ax.set_zorder(right.get_zorder() + 1)  # the stock line over the bars
        ax.patch.set_visible(False)
        handles = [*handles, bars]
    ax.set(ylabel=msg("inventory.ax.on_hand"), title=msg("inventory.fig.history", sku=sku))
    ax.legend(handles=handles, labels=[h.get_label() for h in handles], loc="upper right")
    return ax


def plot_price_index(data: pd.DataFrame, *, x: str = "price_index", y: str = "category", ax: Axes | None = None,
                     msg: Messages | None = None) -> Axes:
    """Revenue-weighted price index per category (bars; 1 = priced like the competitors' median)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    msg = msg or Messages("en")
    if ax is None:
        ax = plt.gca()
    sns.barplot(data=data, x=x, y=y, ax=ax, color="C0")
    ax.axvline(1.0, color="0.3", ls="--", lw=1)
    lo = min(0.8, float(data[x].min()) - 0.02) if len(data) else 0.8
    ax.set_xlim(lo, max(1.2, float(data[x].max()) + 0.02) if len(data) else 1.2)
    ax.set(xlabel=msg("inventory.ax.price_index"), ylabel="", title=msg("inventory.fig.price_index"))
    return ax


def stock_history(ds, now: Result) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The daily stock series and sales behind the page's stock-history figure (the lookback ending with the
    period), for :func:`plot_stock_history`."""
    start = now.period.end - pd.Timedelta(days=max(now.notes["stockout_lookback_days"], now.period.days))
    series = stock_series(ds.inventory)
    sales = daily_sales(ds.orders, ds.order_items, start=start, end=now.period.end)
    return series[(series["day"] >= start) & (series["day"] < now.period.end)], sales


def minimum_data_note(msg: Messages) -> str:
    """The minimum-data rules of :data:`MINIMUM_DATA`, in the run's language."""
    return msg("inventory.minimum_data", rules="; ".join(msg(f"inventory.min.{k}") for k in MINIMUM_DATA))


def page_note(now: Result, name: str, msg: Messages) -> str:
    """The explanatory note of a section (``stock``, ``stockouts``, ``turnover``, ``dead``, ``abc``, ``reorder``,
    ``prices``, ``price_changes``), with the result's windows and thresholds filled in."""
    n = now.notes
    fields = {
        "stock": {"as_of": msg.date(now.period.last_day), "demand": n["demand_days"], "target": n["cover_target_days"]},
        "stockouts": {"days": n["stockout_lookback_days"], "conf": round(100 * (1 - n["alpha"]))},
        "turnover": {},
        "dead": {"days": n["dead_days"], "slow": n["slow_cover_days"], "target": n["cover_target_days"]},
        "abc": {"days": n["lookback_days"]},
        "reorder": {"level": n["service_level"], "n": now.value("n_bootstrap", 0), "days": n["lookback_days"]},
        "prices": {"days": n["price_days"], "pct": n["undercut_threshold"]},
        "price_changes": {"change": n["min_price_change"]},
    }
    return msg(f"inventory.note.{name}", **fields[name])


def matrix_table(now: Result, msg: Messages):
    """The ABC × XYZ matrix: SKUs and revenue share per class (rows A, B, C; columns X, Y, Z)."""
    from .report import styled

    m = now.tables["matrix"]
    total = m["revenue"].sum()
    cell = m.assign(text=[f"{msg.int(r.n_skus)} · {msg.pct(r.revenue / total if total else 0.0)}"
                          for r in m.itertuples()])
    grid = (cell.pivot(index="abc", columns="xyz", values="text")
            .reindex(index=["A", "B", "C"], columns=["X", "Y", "Z"]).fillna("–").reset_index())
    return styled(grid, msg, labels={"abc": msg("inventory.col.abc")}, caption=msg("inventory.cap.matrix"))
