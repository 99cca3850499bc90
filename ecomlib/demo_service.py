"""Demo store: tickets and product_reviews, with a weekend first-response gap and a defective SKU planted.

About 4 of every 100 orders open a service ticket (chat, email, phone or marketplace message) in the days after the
order, asking where the parcel is, for a return or refund, about a defect, a wrong item, an order change or an
invoice, in Chinese or English. Each channel answers at its own speed; most tickets are resolved within a few days,
a few are reopened; about 40 % carry a CSAT score (1–5) and 30 % an NPS answer (0–10), both lower after a slow
answer. About 8 % of order lines get a product review (1–5 stars, mostly 4–5).

Planted (``plants=True``):

- **weekend first-response gap**: tickets opened on a Saturday or Sunday wait :data:`WEEKEND_FACTOR` (6) times as
  long for their first answer, on every channel;
- **SKU-0251** (the returns review's culprit SKU, quality returns "用了两天就坏了" / "stopped working"): a third of
  its reviews are 1–2 stars naming the same defect (:data:`DEFECT_SKU`, :data:`DEFECT_SHARE`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TICKET_RATE = 0.04
CHANNELS = ["chat", "email", "phone", "marketplace"]
CHANNEL_SHARE = [0.4, 0.3, 0.1, 0.2]
#: median hours to first response per channel (weekday)
RESPONSE_HOURS = {"chat": 0.3, "email": 8.0, "phone": 0.1, "marketplace": 3.0}
WEEKEND_FACTOR = 6.0
TEXTS = {
    "where_is_my_order": ["我的快递到哪了？", "物流一直没更新", "Where is my order?", "tracking has not moved for days"],
    "return_refund": ["我想退货退款", "申请退款怎么操作", "I want to return this and get a refund", "refund request"],
    "defect": ["收到的东西坏了", "用了两天就坏了", "the product stopped working", "item is faulty"],
    "wrong_item": ["发错货了", "少发了一件", "I received the wrong item", "an item is missing from my parcel"],
    "change_order": ["想修改收货地址", "能取消订单吗", "please change my delivery address", "cancel my order"],
    "invoice": ["需要开发票", "发票抬头写错了", "I need an invoice", "payment was charged twice"],
}
REASON_SHARE = [0.35, 0.25, 0.12, 0.08, 0.12, 0.08]
DEFECT_SKU, DEFECT_SHARE = "SKU-0251", 0.35
REVIEW_RATE = 0.08
GOOD_TEXTS = ["质量很好，很满意", "物美价廉", "Great value, works well", "Fast delivery, as described", "不错", None]
MEH_TEXTS = ["一般般", "还行吧", "OK for the price", "Average quality", None]
BAD_TEXTS = ["与描述不符，色差严重", "尺码偏小", "Not as described", "Too small, does not fit", "包装破损"]
DEFECT_TEXTS = ["用了两天就坏了，差评", "质量问题，充了几次电就不能用了", "Stopped working after a week",
                "Poor quality, broke on day two"]


def _pick(rng: np.random.Generator, options: list, n: int) -> np.ndarray:
    return np.asarray(options, dtype=object)[rng.integers(0, len(options), n)]


def _tickets(rng, orders: pd.DataFrame, plants: bool) -> pd.DataFrame:
    end = orders["order_time"].max()
    o = orders[orders["status"] != "cancelled"]
    o = o[rng.random(len(o)) < TICKET_RATE].reset_index(drop=True)
    n = len(o)
    opened = o["order_time"] + pd.to_timedelta(rng.exponential(3.0, n) + 0.02, unit="D")
    keep = (opened <= end).to_numpy()
    o, opened, n = o[keep].reset_index(drop=True), opened[keep].reset_index(drop=True), int(keep.sum())
    channel = rng.choice(CHANNELS, n, p=CHANNEL_SHARE)
    reason = rng.choice(list(TEXTS), n, p=REASON_SHARE)
    text = np.empty(n, dtype=object)
    for key in TEXTS:  # one vectorized draw per reason (six), not per ticket
        mask = reason == key
        text[mask] = _pick(rng, TEXTS[key], int(mask.sum()))
    base = pd.Series(channel).map(RESPONSE_HOURS).to_numpy()
    weekend = (opened.dt.day_of_week >= 5).to_numpy()
    factor = np.where(weekend & plants, WEEKEND_FACTOR, 1.0)
    first_hours = base * factor * rng.lognormal(0.0, 0.6, n)
    first = opened + pd.to_timedelta(first_hours, unit="h")
    resolve_hours = first_hours + rng.gamma(1.5, 16.0, n)
    resolved = opened + pd.to_timedelta(resolve_hours, unit="h")
    unresolved = rng.random(n) < 0.03
    first = first.where(first <= end)
    resolved = resolved.where((resolved <= end) & ~unresolved)
    slow = np.clip(first_hours / (4 * base), 0, 3)
    score = np.clip(np.round(4.6 - 0.6 * slow + rng.normal(0, 0.9, n)), 1, 5)
    satisfaction = np.where((rng.random(n) < 0.4) & resolved.notna().to_numpy(), score, np.nan)
    nps_raw = np.clip(np.round(8.6 - 1.2 * slow + rng.normal(0, 1.8, n)), 0, 10)
    nps = np.where((rng.random(n) < 0.3) & resolved.notna().to_numpy(), nps_raw, np.nan)
    reopened = np.where(resolved.notna(), rng.poisson(0.08, n), np.nan)
    order = np.argsort(opened.to_numpy(), kind="stable")
    out = pd.DataFrame({
        "order_id": o["order_id"], "customer_id": o["customer_id"], "channel": channel,
        "opened_at": opened.dt.floor("s"), "first_response_at": first.dt.floor("s"),
        "resolved_at": resolved.dt.floor("s"), "category": None, "satisfaction": satisfaction, "nps": nps,
        "reopened": reopened, "text": text,
    }).iloc[order].reset_index(drop=True)
    # floor("s") can put a response before an opening in the same second: keep the contract's order
    out["first_response_at"] = out["first_response_at"].where(out["first_response_at"].isna(),
                                                              out[["first_response_at", "opened_at"]].max(axis=1))
    out["resolved_at"] = out["resolved_at"].where(out["resolved_at"].isna(),
                                                  out[["resolved_at", "opened_at"]].max(axis=1))
    out.insert(0, "ticket_id", [f"T{i:06d}" for i in range(1, len(out) + 1)])
    return out


def _reviews(rng, orders: pd.DataFrame, items: pd.DataFrame, plants: bool) -> pd.DataFrame:
    end = orders["order_time"].max()
    sold = items.merge(orders[orders["status"].isin(["completed", "partially_refunded", "refunded"])]
                       [["order_id", "order_time"]], on="order_id")
    defect = (sold["sku"] == DEFECT_SKU).to_numpy()
    rate = np.where(defect, REVIEW_RATE * 2, REVIEW_RATE)
    r = sold[rng.random(len(sold)) < rate].reset_index(drop=True)
    n = len(r)
    created = r["order_time"] + pd.to_timedelta(rng.uniform(3, 20, n), unit="D")
    keep = (created <= end).to_numpy()
    r, created, n = r[keep].reset_index(drop=True), created[keep].reset_index(drop=True), int(keep.sum())
    rating = rng.choice([1, 2, 3, 4, 5], n, p=[0.03, 0.04, 0.10, 0.33, 0.50])
    text = np.where(rating >= 4, _pick(rng, GOOD_TEXTS, n), np.where(rating == 3, _pick(rng, MEH_TEXTS, n),
                                                                        _pick(rng, BAD_TEXTS, n)))
    if plants:
        bad = (r["sku"] == DEFECT_SKU).to_numpy() & (rng.random(n) < DEFECT_SHARE)
        rating = np.where(bad, rng.choice([1, 2], n), rating)
        text = np.where(bad, _pick(rng, DEFECT_TEXTS, n), text)
    order = np.argsort(created.to_numpy(), kind="stable")
    out = pd.DataFrame({"sku": r["sku"], "order_id": r["order_id"], "rating": rating.astype(int), "text": text,
                        "created_at": created.dt.floor("s")}).iloc[order].reset_index(drop=True)
    out.insert(0, "review_id", [f"RV{i:06d}" for i in range(1, len(out) + 1)])
    return out


def generate(rng: np.random.Generator, tables: dict[str, pd.DataFrame], *, plants: bool) -> dict[str, pd.DataFrame]:
    """The ``tickets`` and ``product_reviews`` tables for the core tables' orders (vectorized; one random stream)."""
    orders = tables["orders"]
    return {"tickets": _tickets(rng, orders, plants), "product_reviews": _reviews(rng, orders, tables["order_items"],
                                                                                 plants)}
