"""Generate the deterministic demo store: 19 months of a mid-size shop with planted findings for every review.

Same seed → byte-identical files; one random stream per table. The planted findings (their measured sizes on
seeds 42, 7 and 2026 are in data/README.md; tests/test_demo.py checks them on every seed of conftest.SEEDS):

- funnel: from ``CHECKOUT_DROP_START`` (the last full week) mobile begin_checkout → purchase conversion falls
  from ~62 % to ~45 %;
- cohorts: customers whose first order falls in ``GOOD_COHORT`` churn far less (higher retention);
- ads: ``display`` earns a store-side ROAS below break-even (≈1/gross margin), and its response curve is so flat
  that even its first yuan returns less than break-even: no reallocation can profitably add to it;
- suppliers: ``BAD_SUPPLIER`` delivers late, short and with many rejects; its SKUs draw defect returns;
- returns: ``CULPRIT_SKU`` (an Electronics SKU of BAD_SUPPLIER) sells a fixed share of all lines
  (``CULPRIT_SHARE``, enough to be ranked on any seed) and has quality returns far above its category and its
  supplier; Electronics is made by S07 and S08, so S07 can be judged against its own category.

``generate(seed, plants=False)`` makes the same store without any of them (S07 behaves like S08, display
responds like the other channels, no cohort, SKU or checkout effect): a control for the reviews' false alarms.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .csvout import write_csv

START = pd.Timestamp("2025-05-01")
END = pd.Timestamp("2026-11-22 23:59:59")  # a Sunday: the last complete ISO week is 2026-W47
EVENT_DAYS = 112  # web events cover the last 16 weeks, as analytics exports usually do
CHECKOUT_DROP_START = pd.Timestamp("2026-11-16")
GOOD_COHORT = "2025-09"
BAD_SUPPLIER = "S07"
CULPRIT_SKU = "SKU-0251"
#: Share of all order lines that go to CULPRIT_SKU (≈ 0.6 %: a few hundred units per 90 days on any seed).
CULPRIT_SHARE = 0.006
BELOW_BREAK_EVEN_CHANNEL = "display"
#: SKUs counted well below their reorder point at the end of the data (the rest hold weeks of cover).
N_SHORT_STOCK = 6
PROMO_DAYS = {"2025-06-18": "618 大促", "2025-11-11": "双11 Singles' Day", "2025-11-28": "Black Friday",
              "2025-12-12": "双12", "2026-03-08": "女神节 Women's Day", "2026-06-18": "618 大促",
              "2026-11-11": "双11 Singles' Day"}

# Daily new customers from a paid channel = vmax * spend / (k + spend)  (a Hill curve with h = 1).
AD_CHANNELS = pd.DataFrame({
    "channel": ["paid_search", "paid_social", "display", "affiliate", "video"],
    "daily_spend": [1500.0, 1200.0, 800.0, 400.0, 600.0],
    "k": [1500.0, 1500.0, 2800.0, 600.0, 1200.0],
    "vmax": [48.0, 32.0, 7.0, 20.0, 19.0],
    "cpm": [60.0, 35.0, 12.0, 30.0, 25.0],
    "ctr": [0.045, 0.012, 0.003, 0.02, 0.008],
    "overclaim": [1.3, 1.7, 2.4, 1.2, 1.8],
    "campaigns": [["brand", "generic", "shopping"], ["prospecting", "retargeting"],
                  ["gdn_prospecting", "gdn_remarketing"], ["kol_partners"], ["short_video", "live_stream"]],
})
ORGANIC_DAILY = {"organic": 14.0, "direct": 8.0, "email": 3.0}

CATEGORIES = pd.DataFrame({
    "category": ["Apparel", "Shoes", "美妆 Beauty", "Home", "Electronics", "食品 Snacks"],
    "n_skus": [90, 40, 50, 50, 40, 30],
    "price_median": [159.0, 329.0, 129.0, 99.0, 199.0, 39.0],
    "margin": [0.55, 0.5, 0.6, 0.5, 0.35, 0.4],
    "return_rate": [0.11, 0.09, 0.03, 0.04, 0.05, 0.01],
})
NAME_PARTS = {
    "Apparel": (["纯棉T恤", "Linen Shirt", "羊毛开衫", "Denim Jacket", "连衣裙", "Chino Pants"], ["白色", "Navy", "黑色", "Olive"]),
    "Shoes": (["Running Shoe", "帆布鞋", "Leather Boot", "拖鞋"], ["R2", "经典款", "Lite", "Pro"]),
    "美妆 Beauty": (["保湿面霜", "Lip Tint", "防晒乳 SPF50", "Serum"], ["30ml", "50ml", "Rose", "Mini"]),
    "Home": (["香薰蜡烛", "Ceramic Mug", "Cotton Throw", "收纳盒"], ["Large", "小号", "Set of 2", "灰色"]),
    "Electronics": (["USB-C 充电器", "Wireless Earbuds", "Phone Case", "数据线"], ["65W", "2m", "Black", "Pro"]),
    "食品 Snacks": (["坚果礼盒", "Dark Chocolate", "花草茶", "Granola"], ["500g", "Gift Box", "12 pack", "原味"]),
}
SUPPLIERS = pd.DataFrame({
    "supplier_id": [f"S{i:02d}" for i in range(1, 11)],
    "supplier_name": ["杭州织造 Hangzhou Textiles", "Saigon Garments", "Putian Footwear 莆田鞋业", "Seoul Beauty Lab",
                      "广州美妆 Guangzhou Cosmetics", "Nordic Home AB", "深圳电子 Shenzhen Electronics",
                      "Yiwu Homeware 义乌家居", "Berlin Snacks GmbH", "云南茶园 Yunnan Tea"],
    "country": ["CN", "VN", "CN", "KR", "CN", "SE", "CN", "CN", "DE", "CN"],
    "promised_lead_days": [14, 28, 21, 25, 10, 35, 12, 14, 30, 10],
    "delay_mean": [0.0, 1.0, -1.0, 0.5, 0.0, 2.0, 7.0, 0.5, 1.0, -0.5],
    "delay_sd": [1.5, 2.5, 2.0, 2.0, 1.5, 3.0, 6.0, 2.0, 2.5, 1.0],
    "fill_mean": [0.995, 0.98, 0.99, 0.99, 0.995, 0.97, 0.82, 0.985, 0.99, 1.0],
    "reject_rate": [0.004, 0.008, 0.006, 0.003, 0.005, 0.004, 0.045, 0.007, 0.002, 0.003],
    "price_creep": [0.0, 0.01, 0.0, 0.0, 0.0, 0.02, 0.03, 0.0, 0.0, 0.0],
    "defect_multiplier": [1.0, 1.1, 1.0, 1.0, 1.0, 1.0, 3.5, 1.2, 1.0, 1.0],
})
# Which suppliers make each category (SKUs are spread over them in turn).
CATEGORY_SUPPLIERS = {"Apparel": ["S01", "S02"], "Shoes": ["S03"], "美妆 Beauty": ["S04", "S05"],
                      "Home": ["S06", "S08"], "Electronics": ["S07", "S08"], "食品 Snacks": ["S09", "S10"]}
# Return reasons: taxonomy → (platform codes, Chinese free text, English free text).
REASONS = {
    "size_fit": (["SIZE_TOO_SMALL", "SIZE_TOO_LARGE", "APPAREL_TOO_SMALL"], ["尺码偏小", "尺码偏大，不合身"], ["too small", "runs large"]),
    "quality_defect": (["DEFECTIVE", "QUALITY_UNACCEPTABLE"], ["质量问题，开线了", "用了两天就坏了"], ["stopped working", "poor quality, broke"]),
    "damaged_in_transit": (["DAMAGED_BY_CARRIER"], ["收到时包装破损"], ["arrived damaged"]),
    "not_as_described": (["NOT_AS_DESCRIBED"], ["与描述不符", "色差严重"], ["colour differs from photos"]),
    "wrong_item": (["WRONG_ITEM"], ["发错货了"], ["received the wrong item"]),
    "late_delivery": ([], ["物流太慢"], ["arrived too late"]),
    "changed_mind": (["UNWANTED", "STYLE"], ["不想要了", "七天无理由"], ["changed my mind"]),
}
# Share of each reason by category, before the supplier's defect multiplier.
REASON_MIX = pd.DataFrame(
    {"size_fit": [0.55, 0.5, 0.0, 0.0, 0.0, 0.0], "quality_defect": [0.12, 0.15, 0.2, 0.2, 0.45, 0.15],
     "damaged_in_transit": [0.02, 0.03, 0.2, 0.35, 0.15, 0.3], "not_as_described": [0.1, 0.1, 0.25, 0.15, 0.15, 0.1],
     "wrong_item": [0.05, 0.05, 0.1, 0.1, 0.1, 0.15], "late_delivery": [0.03, 0.03, 0.05, 0.05, 0.05, 0.1],
     "changed_mind": [0.13, 0.14, 0.2, 0.15, 0.1, 0.2]},
    index=CATEGORIES["category"])
REGIONS = ["华东 East", "华南 South", "华北 North", "西南 Southwest", "海外 Overseas"]


def _ad_channels(plants: bool) -> pd.DataFrame:
    """AD_CHANNELS; without plants, display responds like video (its ROAS lands among the others')."""
    if plants:
        return AD_CHANNELS
    ordinary = AD_CHANNELS.set_index("channel").loc["video", ["k", "vmax"]]
    out = AD_CHANNELS.copy()
    out.loc[out["channel"] == BELOW_BREAK_EVEN_CHANNEL, ["k", "vmax"]] = ordinary.to_numpy()
    return out


def _suppliers(plants: bool) -> pd.DataFrame:
    """SUPPLIERS; without plants, BAD_SUPPLIER delivers, prices and builds like S08, its category partner."""
    if plants:
        return SUPPLIERS
    out = SUPPLIERS.copy()
    behaviour = ["delay_mean", "delay_sd", "fill_mean", "reject_rate", "price_creep", "defect_multiplier"]
    bad = out["supplier_id"] == BAD_SUPPLIER
    out.loc[bad, behaviour] = out.loc[out["supplier_id"] == "S08", behaviour].to_numpy()
    return out


def _days() -> pd.DatetimeIndex:
    return pd.date_range(START.normalize(), END.normalize(), freq="D")


def _demand_factor(days: pd.DatetimeIndex) -> np.ndarray:
    """Relative daily demand: growth over the period, busier weekends, promotion spikes."""
    growth = 1.0 + 0.5 * np.arange(len(days)) / len(days)
    weekly = np.where(days.day_of_week >= 5, 1.15, 1.0)
    promo = np.ones(len(days))
    for day in PROMO_DAYS:
        delta = (days - pd.Timestamp(day)).days
        promo = promo * np.where(delta == 0, 3.0, np.where(np.abs(delta) <= 2, 1.4, 1.0))
    return growth * weekly * promo


def _products(rng: np.random.Generator) -> pd.DataFrame:
    cats = CATEGORIES.loc[CATEGORIES.index.repeat(CATEGORIES["n_skus"])].reset_index(drop=True)
    n = len(cats)
    within = cats.groupby("category", sort=False).cumcount().to_numpy()
    bases = [NAME_PARTS[c][0][i % len(NAME_PARTS[c][0])] for c, i in zip(cats["category"], within)]
    variants = [NAME_PARTS[c][1][(i // len(NAME_PARTS[c][0])) % len(NAME_PARTS[c][1])] for c, i in zip(cats["category"], within)]
    suppliers = [CATEGORY_SUPPLIERS[c][i % len(CATEGORY_SUPPLIERS[c])] for c, i in zip(cats["category"], within)]
    price = np.round(cats["price_median"].to_numpy() * rng.lognormal(0, 0.35, n), 0) - 0.1
    products = pd.DataFrame({
        "sku": [f"SKU-{i:04d}" for i in range(1, n + 1)],
        "product_name": [f"{b} {v} #{i + 1}" for b, v, i in zip(bases, variants, within)],
        "category": cats["category"],
        "supplier_id": suppliers,
        "unit_cost": np.round(price * (1 - cats["margin"].to_numpy()) * rng.uniform(0.9, 1.1, n), 2),
        "list_price": price,
    })
    culprit = products["sku"] == CULPRIT_SKU
    if not (culprit.any() and (products.loc[culprit, ["category", "supplier_id"]].to_numpy() == [["Electronics", BAD_SUPPLIER]]).all()):
        raise AssertionError(f"{CULPRIT_SKU} must be an Electronics SKU of {BAD_SUPPLIER}")
    products["popularity"] = rng.pareto(1.5, n) + 0.2
    # The culprit's sales must not depend on the draw: it takes a fixed share of all lines.
    others = products.loc[~culprit, "popularity"].sum()
    products.loc[culprit, "popularity"] = others * CULPRIT_SHARE / (1 - CULPRIT_SHARE)
    return products


def _ad_spend(rng: np.random.Generator, days: pd.DatetimeIndex, channels: pd.DataFrame) -> pd.DataFrame:
    """Daily spend per campaign, with budget regimes every ~6 weeks so response curves can be fitted.

    ``planned`` (dropped before writing) is the day's planned channel spend the budgets are made from.
    """
    demand = _demand_factor(days)
    frames = []
    for ch in channels.itertuples():
        regimes = rng.uniform(0.5, 1.6, len(days) // 42 + 1)[np.arange(len(days)) // 42]
        planned = ch.daily_spend * regimes * np.sqrt(demand)
        channel_spend = planned * rng.lognormal(0, 0.2, len(days))
        shares = rng.dirichlet(np.ones(len(ch.campaigns)) * 4)
        for campaign, share in zip(ch.campaigns, shares):
            spend = np.round(channel_spend * share * rng.lognormal(0, 0.1, len(days)), 2)
            impressions = rng.poisson(spend / ch.cpm * 1000)
            frames.append(pd.DataFrame({"date": days, "channel": ch.channel, "campaign": f"{ch.channel}_{campaign}",
                                        "impressions": impressions,
                                        "clicks": rng.binomial(impressions, ch.ctr), "spend": spend,
                                        "planned": planned * share}))
    return pd.concat(frames, ignore_index=True)


def _customers(rng: np.random.Generator, days: pd.DatetimeIndex, ad_spend: pd.DataFrame, channels: pd.DataFrame,
               plants: bool) -> pd.DataFrame:
    """New customers per day and channel: Hill response to paid spend, demand-driven for unpaid channels."""
    daily = ad_spend.groupby(["channel", "date"], observed=True)["spend"].sum().unstack("date")
    rates = []
    for ch in channels.itertuples():
        s = daily.loc[ch.channel].to_numpy()
        rates.append(pd.DataFrame({"date": days, "channel": ch.channel, "rate": ch.vmax * s / (ch.k + s)}))
    demand = _demand_factor(days)
    for channel, base in ORGANIC_DAILY.items():
        rates.append(pd.DataFrame({"date": days, "channel": channel, "rate": base * demand}))
    rates = pd.concat(rates, ignore_index=True)
    counts = rng.poisson(rates["rate"].to_numpy())
    acquired = rates.loc[rates.index.repeat(counts), ["date", "channel"]].reset_index(drop=True)
    seconds = rng.normal(20 * 3600, 3.5 * 3600, len(acquired)).clip(0, 86399).astype(int)
    acquired["first_order_time"] = acquired["date"] + pd.to_timedelta(seconds, unit="s")
    acquired = acquired.sort_values(["first_order_time", "channel"], kind="stable").reset_index(drop=True)
    n = len(acquired)
    good = (acquired["first_order_time"].dt.strftime("%Y-%m") == GOOD_COHORT).to_numpy() & plants
    return acquired.assign(
        customer_id=[f"C{i:06d}" for i in range(1, n + 1)],
        region=rng.choice(REGIONS, n, p=[0.35, 0.25, 0.2, 0.15, 0.05]),
        # BG/NBD-like behaviour: purchase rate per week ~ Gamma, drop-out after each purchase ~ Beta.
        rate=rng.gamma(0.9, 1 / 7.0, n) * np.where(good, 1.6, 1.0),
        p_drop=np.where(good, rng.beta(1.0, 8.0, n), rng.beta(1.0, 2.5, n)),
        spend_level=rng.gamma(6.0, 1 / 6.0, n),
    )


def _orders(rng: np.random.Generator, customers: pd.DataFrame) -> pd.DataFrame:
    """First orders plus repeat orders simulated per customer (vectorized Poisson process with drop-out)."""
    n = len(customers)
    repeats = np.minimum(rng.geometric(customers["p_drop"].to_numpy()) - 1, 80)
    owner = np.repeat(np.arange(n), repeats)
    gaps = rng.exponential(1.0 / customers["rate"].to_numpy()[owner])
    csum = np.cumsum(gaps)
    starts = np.r_[0, np.cumsum(repeats)[:-1]]
    base = np.repeat(np.r_[0.0, csum][starts], repeats)
    weeks = np.minimum(csum - base, 200.0)  # beyond the data's span anyway; keeps timedeltas in range
    first = customers["first_order_time"].to_numpy()[owner]
    when = first + pd.to_timedelta(weeks * 7 * 86400, unit="s").to_numpy()
    keep = when <= END.to_datetime64()
    repeat = pd.DataFrame({"row": owner[keep], "order_time": when[keep]})
    repeat["order_time"] = repeat["order_time"].dt.floor("s")
    first_orders = pd.DataFrame({"row": np.arange(n), "order_time": customers["first_order_time"].to_numpy()})
    orders = pd.concat([first_orders.assign(first=True), repeat.assign(first=False)], ignore_index=True)
    acq = customers["channel"].to_numpy()[orders["row"]]
    repeat_channel = rng.choice(["direct", "email", "organic"], len(orders), p=[0.35, 0.35, 0.3])
    orders["channel"] = np.where(orders["first"] | (rng.random(len(orders)) < 0.2), acq, repeat_channel)
    orders["customer_id"] = customers["customer_id"].to_numpy()[orders["row"]]
    orders["spend_level"] = customers["spend_level"].to_numpy()[orders["row"]]
    orders = orders.sort_values(["order_time", "customer_id"], kind="stable").reset_index(drop=True)
    orders["order_id"] = [f"O{i:07d}" for i in range(1, len(orders) + 1)]
    age_days = (END - orders["order_time"]).dt.days.to_numpy()
    orders["status"] = np.where(age_days < 2, rng.choice(["pending", "completed"], len(orders), p=[0.3, 0.7]),
                                rng.choice(["completed", "cancelled", "refunded", "partially_refunded"], len(orders),
                                           p=[0.95, 0.03, 0.012, 0.008]))
    return orders


def _order_items(rng: np.random.Generator, orders: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    n_lines = np.minimum(1 + rng.poisson(0.45 * orders["spend_level"].to_numpy()), 5)
    order_row = np.repeat(np.arange(len(orders)), n_lines)
    weights = products["popularity"].to_numpy() / products["popularity"].sum()
    sku_row = rng.choice(len(products), len(order_row), p=weights)
    day = orders["order_time"].dt.strftime("%Y-%m-%d").to_numpy()[order_row]
    promo = np.isin(day, list(PROMO_DAYS))
    items = pd.DataFrame({
        "order_id": orders["order_id"].to_numpy()[order_row],
        "sku": products["sku"].to_numpy()[sku_row],
        "quantity": rng.choice([1, 2, 3], len(order_row), p=[0.85, 0.12, 0.03]),
        "list_price": products["list_price"].to_numpy()[sku_row],
        "promo": promo,
    })
    items = (items.groupby(["order_id", "sku"], sort=False, as_index=False)
             .agg(quantity=("quantity", "sum"), list_price=("list_price", "first"), promo=("promo", "first")))
    return items.assign(unit_price=np.round(items["list_price"] * np.where(items["promo"], 0.8, 1.0), 2))


def _finish_orders(orders: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    totals = (items.assign(paid=items["quantity"] * items["unit_price"],
                           off=items["quantity"] * (items["list_price"] - items["unit_price"]))
              .groupby("order_id", sort=False)[["paid", "off"]].sum())
    orders = orders.join(totals, on="order_id")
    return pd.DataFrame({
        "order_id": orders["order_id"], "customer_id": orders["customer_id"], "order_time": orders["order_time"],
        "channel": orders["channel"], "status": orders["status"], "revenue": orders["paid"].round(2),
        "discount": orders["off"].round(2), "shipping_fee": np.where(orders["paid"] >= 99, 0.0, 10.0),
        "currency": "CNY",
    })


def _returns(rng: np.random.Generator, orders: pd.DataFrame, items: pd.DataFrame, products: pd.DataFrame,
             suppliers: pd.DataFrame, plants: bool) -> pd.DataFrame:
    lines = (items.merge(orders[["order_id", "order_time", "status"]], on="order_id")
             .merge(products[["sku", "category", "supplier_id"]], on="sku"))
    lines = lines[lines["status"].isin(["completed", "partially_refunded", "refunded"])].reset_index(drop=True)
    cat = CATEGORIES.set_index("category")
    mix = REASON_MIX.loc[lines["category"]].to_numpy().copy()
    defect = suppliers.set_index("supplier_id")["defect_multiplier"].loc[lines["supplier_id"]].to_numpy()
    defect = np.where((lines["sku"] == CULPRIT_SKU) & plants, 8.0, defect)
    quality = list(REASON_MIX.columns).index("quality_defect")
    mix[:, quality] *= defect
    rate = cat.loc[lines["category"], "return_rate"].to_numpy() * mix.sum(axis=1)
    mix = mix / mix.sum(axis=1, keepdims=True)
    returned = rng.random(len(lines)) < np.minimum(rate, 0.9)
    lines, mix = lines[returned].reset_index(drop=True), mix[returned]
    # Draw each line's reason from its own mix (inverse CDF on a uniform).
    reason_idx = (rng.random(len(lines))[:, None] > np.cumsum(mix, axis=1)).sum(axis=1)
    reason = np.array(REASON_MIX.columns)[np.minimum(reason_idx, mix.shape[1] - 1)]
    code, text = _reason_words(rng, reason)
    lag = rng.gamma(2.0, 4.0, len(lines)) + 1
    returned_at = (lines["order_time"] + pd.to_timedelta(np.round(lag * 86400), unit="s")).dt.floor("s")
    keep = returned_at <= END
    lines, reason, code, text, returned_at = lines[keep], reason[keep], code[keep], text[keep], returned_at[keep]
    qty = np.minimum(lines["quantity"].to_numpy(), 1 + rng.binomial(lines["quantity"].to_numpy() - 1, 0.3))
    resellable = np.where(np.isin(reason, ["size_fit", "changed_mind", "wrong_item", "late_delivery"]),
                          rng.random(len(lines)) < 0.9, rng.random(len(lines)) < 0.1)
    out = pd.DataFrame({
        "order_id": lines["order_id"].to_numpy(), "sku": lines["sku"].to_numpy(), "returned_at": returned_at.to_numpy(),
        "quantity": qty, "reason_code": code, "reason_text": text,
        "refund_amount": np.round(qty * lines["unit_price"].to_numpy(), 2), "resellable": resellable,
    }).sort_values(["returned_at", "order_id", "sku"], kind="stable").reset_index(drop=True)
    out.insert(0, "return_id", [f"R{i:06d}" for i in range(1, len(out) + 1)])
    return out


def _reason_words(rng: np.random.Generator, reason: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Half the returns carry a platform code, the rest only free text (Chinese or English)."""
    n = len(reason)
    code = np.full(n, None, dtype=object)
    text = np.full(n, None, dtype=object)
    kind = rng.random(n)
    pick = rng.random(n)
    for name, (codes, zh, en) in REASONS.items():
        mine = reason == name
        with_code = mine & (kind < 0.5) & (len(codes) > 0)
        if codes:
            code[with_code] = np.array(codes)[(pick[with_code] * len(codes)).astype(int)]
        zh_rows = mine & ~with_code & (kind < 0.8)
        en_rows = mine & ~with_code & ~zh_rows
        text[zh_rows] = np.array(zh)[(pick[zh_rows] * len(zh)).astype(int)]
        text[en_rows] = np.array(en)[(pick[en_rows] * len(en)).astype(int)]
    return code, text


def _purchase_orders(rng: np.random.Generator, products: pd.DataFrame, days: pd.DatetimeIndex,
                     suppliers: pd.DataFrame, plants: bool) -> pd.DataFrame:
    sup = suppliers.set_index("supplier_id")
    frames = []
    po_counter = 0
    for supplier_id, skus in products.groupby("supplier_id", sort=True)["sku"]:
        order_days = days[::9][rng.random(len(days[::9])) < 0.9]
        for day in order_days:
            po_counter += 1
            chosen = rng.choice(skus.to_numpy(), min(len(skus), rng.integers(3, 9)), replace=False)
            frames.append(pd.DataFrame({"po_id": f"PO{po_counter:05d}", "supplier_id": supplier_id, "sku": chosen,
                                        "ordered_at": day + pd.Timedelta(hours=10)}))
    po = pd.concat(frames, ignore_index=True)
    s = sup.loc[po["supplier_id"]]
    n = len(po)
    promised = po["ordered_at"] + pd.to_timedelta(s["promised_lead_days"].to_numpy(), unit="D")
    delay = np.round(rng.normal(s["delay_mean"], s["delay_sd"]))
    arrives = np.maximum(promised + pd.to_timedelta(delay, unit="D"), po["ordered_at"] + pd.Timedelta(days=1))
    received = arrives.where(lambda t: t <= END)
    qty = rng.integers(5, 60, n) * 10
    fill = np.minimum(1.0, rng.normal(s["fill_mean"], 0.03))
    fill = np.where(rng.random(n) < np.where((po["supplier_id"] == BAD_SUPPLIER) & plants, 0.35, 0.04), fill * rng.uniform(0.5, 0.9, n), fill)
    got = np.round(qty * fill)
    rejected = rng.binomial(got.astype(int), s["reject_rate"].to_numpy())
    agreed = products.set_index("sku").loc[po["sku"], "unit_cost"].to_numpy()
    invoiced = np.round(agreed * (1 + s["price_creep"].to_numpy() * rng.uniform(0.5, 1.5, n)), 2)
    open_ = received.isna().to_numpy()
    return po.assign(
        promised_at=promised, received_at=received, qty_ordered=qty,
        qty_received=np.where(open_, np.nan, got), qty_rejected=np.where(open_, np.nan, rejected),
        unit_cost_agreed=agreed, unit_cost_invoiced=np.where(open_, np.nan, invoiced),
    )


def _events(rng: np.random.Generator, customers: pd.DataFrame, plants: bool) -> pd.DataFrame:
    """Sessions of the last EVENT_DAYS days with GA4 e-commerce events; the mobile checkout drop is planted."""
    days = pd.date_range(END.normalize() - pd.Timedelta(days=EVENT_DAYS - 1), END.normalize(), freq="D")
    per_day = rng.poisson(2600 * _demand_factor(days) / _demand_factor(days).mean())
    day = np.repeat(days.to_numpy(), per_day)
    n = len(day)
    start = pd.DatetimeIndex(day) + pd.to_timedelta(rng.normal(15 * 3600, 4 * 3600, n).clip(0, 86000).astype(int), unit="s")
    device = rng.choice(["mobile", "desktop", "tablet"], n, p=[0.6, 0.33, 0.07])
    channel = rng.choice(["organic", "paid_search", "paid_social", "direct", "email", "display", "affiliate", "video"], n,
                         p=[0.3, 0.2, 0.15, 0.12, 0.08, 0.07, 0.04, 0.04])
    known = rng.random(n) < 0.4
    user = np.where(known, customers["customer_id"].to_numpy()[rng.integers(0, len(customers), n)],
                    np.char.add("u", rng.integers(0, int(n * 0.7), n).astype(str)))
    promo = np.isin(pd.DatetimeIndex(day).strftime("%Y-%m-%d"), list(PROMO_DAYS))
    viewed = rng.random(n) < 0.72
    carted = viewed & (rng.random(n) < np.where(promo, 0.33, 0.25) * np.where(device == "desktop", 1.15, 1.0))
    checkout = carted & (rng.random(n) < 0.52)
    dropped = (start >= CHECKOUT_DROP_START) & plants
    p_buy = np.where(device == "mobile", np.where(dropped, 0.45, 0.62),
                     np.where(device == "desktop", 0.66, 0.6))
    bought = checkout & (rng.random(n) < p_buy)
    t_view = start + pd.to_timedelta(rng.exponential(20, n).astype(int), unit="s")
    t_cart = t_view + pd.to_timedelta(rng.exponential(100, n).astype(int), unit="s")
    t_checkout = t_cart + pd.to_timedelta(rng.exponential(150, n).astype(int), unit="s")
    # A few buyers come back to pay long after the 30-minute window.
    slow = rng.random(n) < 0.03
    t_buy = t_checkout + pd.to_timedelta(np.where(slow, 3600 * 3, rng.exponential(200, n)).astype(int), unit="s")
    sku = np.array([f"SKU-{i:04d}" for i in rng.integers(1, 301, n)])
    session = np.char.add("s", np.arange(1, n + 1).astype(str))
    parts = [("session_start", np.ones(n, bool), start), ("view_item", viewed, t_view), ("add_to_cart", carted, t_cart),
             ("begin_checkout", checkout, t_checkout), ("purchase", bought, t_buy)]
    frames = [pd.DataFrame({"event_time": t[mask], "user_id": user[mask], "session_id": session[mask], "event_name": name,
                            "sku": np.where(name == "session_start", None, sku[mask]) if name != "session_start" else None,
                            "channel": channel[mask], "device": device[mask]})
              for name, mask, t in parts]
    events = pd.concat(frames, ignore_index=True)
    events = events[events["event_time"] <= END]
    return events.sort_values(["event_time", "session_id"], kind="stable").reset_index(drop=True)


def _inventory(rng: np.random.Generator, orders: pd.DataFrame, items: pd.DataFrame, products: pd.DataFrame,
               purchase_orders: pd.DataFrame, suppliers: pd.DataFrame, plants: bool = True) -> pd.DataFrame:
    """One stock count per SKU at the end of the data, as a store that reorders in time would hold it.

    Each SKU holds its supplier's lead time of demand plus a generous safety margin and one to four weeks of
    cycle stock (demand = units of completed orders over the last 90 days, as the supplier review measures it);
    ``N_SHORT_STOCK`` SKUs without an open purchase order hold a fraction of their lead-time demand: the short
    "below reorder point" list a buyer acts on.
    """
    recent = orders.loc[(orders["order_time"] > END - pd.Timedelta(days=90)) & (orders["status"] == "completed"),
                        ["order_id"]]
    daily = items.merge(recent, on="order_id").groupby("sku")["quantity"].sum() / 90
    skus = np.sort(items["sku"].unique())
    demand = daily.reindex(skus, fill_value=0.0).to_numpy()
    sup = suppliers.set_index("supplier_id").loc[products.set_index("sku").loc[skus, "supplier_id"]]
    lead = sup["promised_lead_days"].to_numpy() + np.maximum(sup["delay_mean"].to_numpy(), 0)
    lead_sd = sup["delay_sd"].to_numpy()
    cover = rng.uniform(7, 28, len(skus))
    on_hand = np.ceil(demand * (lead + 3 * lead_sd + cover) + 3 * np.sqrt(1.5 * demand * lead))
    open_skus = purchase_orders.loc[purchase_orders["received_at"].isna(), "sku"].unique()
    candidates = np.flatnonzero((demand * lead >= 5) & ~np.isin(skus, open_skus))
    short = rng.choice(candidates, min(N_SHORT_STOCK, len(candidates)), replace=False)
    short = short if plants else short[:0]  # a shop without planted findings reorders every SKU in time
    on_hand[short] = np.floor(demand[short] * lead[short] * rng.uniform(0.1, 0.5, len(short)))
    return pd.DataFrame({"sku": skus, "as_of": END.floor("h"), "on_hand": on_hand.astype(int)})


def _budgets(rng: np.random.Generator, ad_spend: pd.DataFrame) -> pd.DataFrame:
    """Monthly budget per paid channel: the month's planned spend, rounded to 100, give or take 10 %.

    Actual spend wanders around the plan (daily noise), so some months end over and some under budget. The
    last month, which the data covers only in part, is budgeted for the whole month at its planned daily rate.
    """
    days = ad_spend.assign(period=ad_spend["date"].dt.strftime("%Y-%m"))
    plan = days.groupby(["channel", "period"], sort=True, as_index=False).agg(planned=("planned", "sum"),
                                                                             days=("date", "nunique"))
    month_days = pd.PeriodIndex(plan["period"], freq="M").days_in_month.to_numpy()
    full_month = plan["planned"].to_numpy() / plan["days"].to_numpy() * month_days
    amount = np.round(full_month * rng.uniform(0.9, 1.1, len(plan)), -2)
    return pd.DataFrame({"channel": plan["channel"], "period": plan["period"], "amount": amount})


#: The tables of the later reviews come from their own demo modules, each with its own random stream (the key):
#: ``module.generate(rng, tables, *, plants) -> {table: DataFrame}`` sees the tables made before it.
EXTRA_GENERATORS: dict[int, str] = {
    11: "ecomlib.demo_stock",
    12: "ecomlib.demo_fulfilment",
    13: "ecomlib.demo_service",
    14: "ecomlib.demo_experiments",
    15: "ecomlib.demo_promotions",
}


def generate(seed: int = 42, *, plants: bool = True) -> dict[str, pd.DataFrame]:
    """Build every table of the demo store in memory, as contract tables (column order as in the contract).

    Parameters
    ----------
    seed : random seed; the same seed (and ``plants``) gives the same tables, one random stream per table.
    plants : plant the findings of every review (module docstring, data/README.md); ``False`` makes the same
        store without them.

    Example
    -------
    >>> tables = generate(seed=1)            # doctest: +SKIP
    >>> sorted(tables)[:3]                   # doctest: +SKIP
    ['ad_spend', 'budgets', 'customers']
    """
    def stream(step: int) -> np.random.Generator:
        # one independent stream per table, so changing one table's recipe leaves the others' bytes alone
        return np.random.default_rng([seed, step])

    channels, suppliers = _ad_channels(plants), _suppliers(plants)
    days = _days()
    products = _products(stream(1))
    spend = _ad_spend(stream(2), days, channels)
    customers = _customers(stream(3), days, spend, channels, plants)
    orders = _orders(stream(4), customers)
    items = _order_items(stream(5), orders, products)
    orders_out = _finish_orders(orders, items)
    returns = _returns(stream(6), orders_out, items, products, suppliers, plants)
    purchase_orders = _purchase_orders(stream(8), products, days, suppliers, plants)
    budgets = _budgets(stream(10), spend)
    # Platforms over-claim: they report more conversions and revenue than the store sees for their channel.
    paid_orders = orders_out.assign(date=orders_out["order_time"].dt.normalize()).groupby(["date", "channel"])
    store_side = paid_orders.agg(n=("order_id", "size"), rev=("revenue", "sum")).reset_index()
    spend = spend.drop(columns="planned").merge(store_side, on=["date", "channel"], how="left").fillna({"n": 0, "rev": 0})
    share = spend["spend"] / spend.groupby(["date", "channel"])["spend"].transform("sum").where(lambda s: s > 0, 1)
    over = channels.set_index("channel")["overclaim"].loc[spend["channel"]].to_numpy()
    spend = spend.assign(platform_conversions=np.round(spend["n"] * share * over, 1),
                         platform_revenue=np.round(spend["rev"] * share * over, 2)).drop(columns=["n", "rev"])
    tables = {
        "orders": orders_out,
        "order_items": items[["order_id", "sku", "quantity", "unit_price"]],
        "products": products[["sku", "product_name", "category", "supplier_id", "unit_cost"]],
        "customers": pd.DataFrame({"customer_id": customers["customer_id"], "first_seen": customers["first_order_time"],
                                   "acquisition_channel": customers["channel"], "region": customers["region"]}),
        "events": _events(stream(7), customers, plants),
        "ad_spend": spend,
        "purchase_orders": purchase_orders,
        "suppliers": SUPPLIERS[["supplier_id", "supplier_name", "country"]],
        "returns": returns,
        "promotions": pd.DataFrame({"promo_id": [f"P{i:02d}" for i in range(1, len(PROMO_DAYS) + 1)],
                                    "name": list(PROMO_DAYS.values()),
                                    "start_date": pd.to_datetime(list(PROMO_DAYS)),
                                    "end_date": pd.to_datetime(list(PROMO_DAYS))}),
        "inventory": _inventory(stream(9), orders_out, items, products, purchase_orders, suppliers, plants),
        "budgets": budgets,
    }
    for step, module in sorted(EXTRA_GENERATORS.items()):
        tables.update(importlib.import_module(module).generate(stream(step), tables, plants=plants))
    return tables


STORE = {"name": "Demo Store 示例商店", "currency": "CNY", "timezone": "Asia/Shanghai", "lang": "en"}


def recipe(seed: int = 42, plants: bool = True) -> str:
    """A short fingerprint of the generator's code and arguments: a demo folder written by other code is stale."""
    import hashlib

    here = Path(__file__).parent
    sources = [here / "demo.py"] + sorted(here.glob("demo_*.py"))
    digest = hashlib.sha256(f"{seed}:{plants}".encode())
    for path in sources:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def is_current(out: str | Path, *, seed: int = 42, plants: bool = True) -> bool:
    """True when ``out`` holds a demo store written by this generator with these arguments."""
    stamp = Path(out) / ".recipe"
    return stamp.exists() and stamp.read_text().strip() == recipe(seed, plants)


def write_demo(out: str | Path, *, seed: int = 42, plants: bool = True) -> dict[str, Path]:
    """Generate the demo store and write it to ``out`` (CSV per table, events as Parquet, store.yaml).

    ``plants=False`` writes the store without planted findings (``ecomlib demo-data --no-plants``).
    Returns table → written path. Same seed and ``plants`` → byte-identical files.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, df in generate(seed, plants=plants).items():
        if name == "events":
            path = out / "events.parquet"
            df.to_parquet(path, index=False, compression="zstd")
        else:
            path = out / f"{name}.csv"
            write_csv(df, path, date_format="%Y-%m-%d %H:%M:%S", float_format="%.2f")
        written[name] = path
    (out / "store.yaml").write_text(yaml.safe_dump(STORE, allow_unicode=True, sort_keys=False), encoding="utf-8")
    written["store"] = out / "store.yaml"
    (out / ".recipe").write_text(recipe(seed, plants) + "\n")  # lets ./kit and the tests see a stale demo
    return written
