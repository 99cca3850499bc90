"""Demo store: shipments (parcels) with a slow carrier in one region planted.

Every order that was not cancelled ships from one of two warehouses, in one parcel (about 8 % in two), by one of
four carriers, to the customer's region. Orders are packed within about a business day (orders after the 16:00
cut-off and at weekends wait for the next business day), handed to the carrier a few hours later, and delivered
after a transit time that depends on the region; the customer is promised delivery by the end of a day that also
depends on the region. About 0.4 % of parcels are lost, 0.5 % damaged and 0.3 % returned to sender. Parcels not
yet shipped or delivered when the data ends are ``pending`` / ``in_transit``.

Planted (``plants=True``): **中通 ZTO** takes about 2.3 times as long in **西南 Southwest** (:data:`SLOW_CARRIER`,
:data:`SLOW_REGION`, :data:`SLOW_FACTOR`), so most of its parcels there arrive after their promise; its other
regions and the other carriers in the Southwest are unaffected.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CARRIERS = ["顺丰 SF Express", "中通 ZTO", "京东物流 JD Logistics", "EMS"]
CARRIER_SHARE = [0.35, 0.3, 0.25, 0.1]
CARRIER_SPEED = [0.85, 1.0, 0.9, 1.15]  # transit-time multiplier
WAREHOUSES = {"华东 East": "上海仓 Shanghai DC", "华北 North": "上海仓 Shanghai DC", "海外 Overseas": "上海仓 Shanghai DC",
              "华南 South": "广州仓 Guangzhou DC", "西南 Southwest": "广州仓 Guangzhou DC"}
#: region → (median transit days, promised days after the order day)
REGION_DAYS = {"华东 East": (1.3, 4), "华南 South": (1.5, 5), "华北 North": (1.8, 5), "西南 Southwest": (2.0, 6),
               "海外 Overseas": (5.0, 12)}
SLOW_CARRIER, SLOW_REGION, SLOW_FACTOR = "中通 ZTO", "西南 Southwest", 2.3
SPLIT_SHARE = 0.08
CUTOFF_HOUR = 16
INCIDENTS = {"lost": 0.004, "damaged": 0.005, "returned_to_sender": 0.003}


def _next_business_start(t: pd.Series) -> pd.Series:
    """The time packing can start: the order time on a business day before the cut-off, else 09:00 of the next
    business day."""
    day = t.dt.normalize()
    late = t.dt.hour >= CUTOFF_HOUR
    start_day = day + pd.to_timedelta(late.astype(int), unit="D")
    rolled = np.busday_offset(start_day.to_numpy().astype("datetime64[D]"), 0, roll="forward")
    rolled = pd.Series(pd.to_datetime(rolled), index=t.index)
    moved = (rolled != day)
    return t.where(~moved, rolled + pd.Timedelta(hours=9))


def generate(rng: np.random.Generator, tables: dict[str, pd.DataFrame], *, plants: bool) -> dict[str, pd.DataFrame]:
    """The ``shipments`` table for the core tables' orders (vectorized; one random stream)."""
    orders = tables["orders"]
    regions = tables["customers"].set_index("customer_id")["region"]
    o = orders[orders["status"] != "cancelled"][["order_id", "customer_id", "order_time"]].reset_index(drop=True)
    n = len(o)
    parcels = np.where(rng.random(n) < SPLIT_SHARE, 2, 1)
    s = o.loc[o.index.repeat(parcels)].reset_index(drop=True)
    s["parcel"] = s.groupby("order_id").cumcount() + 1
    m = len(s)
    region = regions.reindex(s["customer_id"]).fillna("华东 East").to_numpy()
    carrier = rng.choice(CARRIERS, m, p=CARRIER_SHARE)
    warehouse = pd.Series(region).map(WAREHOUSES).to_numpy()
    start = _next_business_start(s["order_time"])
    pack_hours = rng.gamma(2.0, 3.0, m) + np.where(s["parcel"].to_numpy() == 2, rng.gamma(2.0, 8.0, m), 0.0)
    packed = start + pd.to_timedelta(pack_hours, unit="h")
    shipped = packed + pd.to_timedelta(rng.uniform(0.5, 5.0, m), unit="h")
    median_days = pd.Series(region).map({k: v[0] for k, v in REGION_DAYS.items()}).to_numpy()
    speed = pd.Series(carrier).map(dict(zip(CARRIERS, CARRIER_SPEED))).to_numpy()
    if plants:
        speed = np.where((carrier == SLOW_CARRIER) & (region == SLOW_REGION), speed * SLOW_FACTOR, speed)
    transit = median_days * speed * rng.lognormal(0.0, 0.35, m)
    delivered = shipped + pd.to_timedelta(transit, unit="D")
    promise_days = pd.Series(region).map({k: v[1] for k, v in REGION_DAYS.items()}).to_numpy()
    promised = s["order_time"].dt.normalize() + pd.to_timedelta(promise_days, unit="D") + pd.Timedelta(hours=23, minutes=59)
    u = rng.random(m)
    edges = np.cumsum(list(INCIDENTS.values()))
    status = np.select([u < edges[0], u < edges[1], u < edges[2]], list(INCIDENTS), "delivered").astype(object)
    end = orders["order_time"].max()
    delivered = delivered.where(status == "delivered")
    not_shipped = (shipped > end).to_numpy()
    in_transit = (~not_shipped) & (delivered > end).to_numpy()
    status = np.where(not_shipped, "pending", np.where(in_transit, "in_transit", status))
    delivered = delivered.where(~(not_shipped | in_transit))
    packed = packed.where(packed <= end)
    shipped = shipped.where(~not_shipped)
    tracking = pd.Series(rng.integers(10**11, 10**12, m).astype(str)).radd("T").where(~not_shipped)
    out = pd.DataFrame({
        "shipment_id": s["order_id"].str.replace("O", "S", n=1) + "-" + s["parcel"].astype(str),
        "order_id": s["order_id"], "warehouse": warehouse, "carrier": carrier, "tracking_id": tracking,
        "region": region, "packed_at": packed.dt.floor("s"), "shipped_at": shipped.dt.floor("s"),
        "delivered_at": delivered.dt.floor("s"), "promised_delivery": promised, "status": status,
    })
    return {"shipments": out}
