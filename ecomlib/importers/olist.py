"""Olist Brazilian E-Commerce CSVs → contract orders, order_items, customers, suppliers (+ products).

The Kaggle data set (``olistbr/brazilian-ecommerce``) is **CC BY-NC-SA 4.0**: use it to test and learn, never
ship it (or tables made from it) inside a commercial product. This importer reads the published file names
from one folder:

==========================================  ========  =================================================
file                                        needed    becomes
==========================================  ========  =================================================
``olist_orders_dataset.csv``                yes       orders (status, purchase/approval/delivery dates)
``olist_order_items_dataset.csv``           yes       order_items (one row per unit → quantity)
``olist_customers_dataset.csv``             yes       ``customer_unique_id`` as customer_id; state as region
``olist_sellers_dataset.csv``               no        suppliers (seller_id; country BR)
``olist_products_dataset.csv``              no        products' category (with costs only)
``product_category_name_translation.csv``   no        English category names
``olist_order_payments_dataset.csv``        no        ``payment_value``/``payment_type`` extra order columns
==========================================  ========  =================================================

Choices: ``order_status`` delivered → completed; shipped, invoiced, processing, approved, created → pending
(paid but not delivered); canceled, unavailable → cancelled (:data:`STATUS_MAP`, ``status_map`` overrides);
the raw value stays as ``platform_status``. ``revenue`` = sum of item prices, ``shipping_fee`` = sum of
freight, ``discount`` empty. Olist's per-order ``customer_id`` is replaced by ``customer_unique_id`` so a
returning buyer is one customer. Delivery dates are kept as extra order columns (``approved_at``,
``shipped_at``, ``delivered_at``, ``estimated_delivery_at``). Reviews have no contract table and are not read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import pandas as pd

from . import _base as b

STATUS_MAP = {
    "delivered": "completed",
    "shipped": "pending", "invoiced": "pending", "processing": "pending", "approved": "pending", "created": "pending",
    "canceled": "cancelled", "unavailable": "cancelled",
}
"""Olist ``order_status`` → contract status."""

FILES = {
    "orders": ("olist_orders_dataset.csv", True, {
        "order_id": ["order_id"], "olist_customer_id": ["customer_id"], "order_status": ["order_status"],
        "purchased": ["order_purchase_timestamp"], "approved": ["order_approved_at"],
        "carrier": ["order_delivered_carrier_date"], "delivered": ["order_delivered_customer_date"],
        "estimated": ["order_estimated_delivery_date"]}),
    "items": ("olist_order_items_dataset.csv", True, {
        "order_id": ["order_id"], "order_item_id": ["order_item_id"], "product_id": ["product_id"],
        "seller_id": ["seller_id"], "price": ["price"], "freight_value": ["freight_value"]}),
    "customers": ("olist_customers_dataset.csv", True, {
        "olist_customer_id": ["customer_id"], "customer_unique_id": ["customer_unique_id"],
        "customer_city": ["customer_city"], "customer_state": ["customer_state"]}),
    "sellers": ("olist_sellers_dataset.csv", False, {
        "seller_id": ["seller_id"], "seller_city": ["seller_city"], "seller_state": ["seller_state"]}),
    "products": ("olist_products_dataset.csv", False, {
        "product_id": ["product_id"], "category": ["product_category_name"]}),
    "translation": ("product_category_name_translation.csv", False, {
        "category": ["product_category_name"], "category_en": ["product_category_name_english"]}),
    "payments": ("olist_order_payments_dataset.csv", False, {
        "order_id": ["order_id"], "payment_sequential": ["payment_sequential"], "payment_type": ["payment_type"],
        "payment_value": ["payment_value"]}),
}
_FIX = "use the files as published in the Kaggle data set olistbr/brazilian-ecommerce"


def _read_all(folder: Path) -> dict[str, pd.DataFrame]:
    if not folder.is_dir():
        raise b.ImportOptionError("source", f"{folder}: the Olist importer reads a folder holding "
                                            f"{FILES['orders'][0]} and the other Olist files.")
    out = {}
    for key, (name, needed, fields) in FILES.items():
        path = folder / name
        if not path.is_file():
            if needed:
                raise b.ExportFormatError(str(folder), f"no {name} in the folder (needed: "
                                                       f"{', '.join(f[0] for f in FILES.values() if f[1])})",
                                          fix="put the Olist CSV files, with their published names, in one folder")
            continue
        raw, _ = b.read_csv(path)
        out[key] = b.resolve_columns(raw, fields, path=path, what=f"the published Olist {name} has it", fix=_FIX)
    return out


def import_olist(source: str | Path, *, store: dict | None = None, costs: str | Path | pd.DataFrame | None = None,
                 cost_ratio: float | None = None, status_map: Mapping[str, str] | None = None,
                 channel: str = b.UNATTRIBUTED) -> b.Converted:
    """Convert the Olist CSV files in folder ``source`` to contract tables (licence: CC BY-NC-SA 4.0, tests only).

    Parameters
    ----------
    source : folder holding the Olist files with their published names (see the module docstring).
    store : store facts; ``currency`` is required (the files do not say it: Olist amounts are BRL), e.g.
        ``{"currency": "BRL", "timezone": "America/Sao_Paulo"}``.
    costs, cost_ratio : unit costs for ``products`` (Olist has none); without them products are not written.
    status_map : extra or overriding ``order_status`` → contract status entries.
    channel : ``orders.channel`` for every order (the data has no attribution).

    Returns
    -------
    Converted with ``orders`` (extra ``platform_status, approved_at, shipped_at, delivered_at,
    estimated_delivery_at, region, payment_value, payment_type``), ``order_items`` (quantity = item rows of the
    product in the order; extra ``seller_id, freight_value, source_rows``), ``customers`` (region = state),
    ``suppliers`` (when the sellers file is present) and ``products`` (with costs; supplier_id = seller of the
    product's first item row, name = English category + first 8 characters of the id).

    Example
    -------
    >>> conv = import_olist("olist/", store={"currency": "BRL"})       # doctest: +SKIP
    >>> conv.tables["orders"]["status"].value_counts()                 # doctest: +SKIP
    """
    folder = Path(source)
    meta = b.resolve_store(store, currency_hint=", BRL for the Olist data")
    t = _read_all(folder)
    o, items, cust = t["orders"], t["items"], t["customers"]

    dup = o["order_id"].duplicated(keep=False)
    b.fail(o, dup, o["order_id"], "order_id", "repeat an order_id", "use the orders file as published")
    unique_id = o["olist_customer_id"].map(cust.drop_duplicates("olist_customer_id")
                                           .set_index("olist_customer_id")["customer_unique_id"])
    b.fail(o, o["olist_customer_id"].notna() & unique_id.isna(), o["olist_customer_id"], "customer_id",
           "name a customer missing from olist_customers_dataset.csv", "use the customers file of the same export")
    region = o["olist_customer_id"].map(cust.drop_duplicates("olist_customer_id")
                                        .set_index("olist_customer_id")["customer_state"])
    status = b.map_values(o, "order_status", {**STATUS_MAP, **dict(status_map or {})}, column="order_status",
                          what="order status", fix="pass --option \"status_map={<value>: <contract status>}\"")
    when = {k: b.parse_dates(o, k, column=f, date_format="iso", timezone=meta.get("timezone"))
            for k, f in [("purchased", "order_purchase_timestamp"), ("approved", "order_approved_at"),
                         ("carrier", "order_delivered_carrier_date"), ("delivered", "order_delivered_customer_date"),
                         ("estimated", "order_estimated_delivery_date")]}

    price = b.parse_numbers(items, "price")
    freight = b.parse_numbers(items, "freight_value")
    orphan = ~items["order_id"].isin(o["order_id"])
    b.fail(items, orphan, items["order_id"], "order_id", "name an order missing from olist_orders_dataset.csv",
           "use the orders and items files of the same export")
    lines = pd.DataFrame({"order_id": items["order_id"], "sku": items["product_id"], "quantity": 1,
                          "amount": price, "seller_id": items["seller_id"], "freight_value": freight})
    per_order = lines.groupby("order_id", sort=False).agg(revenue=("amount", "sum"), freight=("freight_value", "sum"))
    order_items = b.aggregate_lines(lines, extras=["seller_id"], sums=["freight_value"])

    orders = pd.DataFrame({
        "order_id": o["order_id"], "customer_id": unique_id, "order_time": when["purchased"], "channel": channel,
        "status": status, "revenue": o["order_id"].map(per_order["revenue"]).fillna(0.0).round(6),
        "discount": float("nan"), "shipping_fee": o["order_id"].map(per_order["freight"]).round(6),
        "currency": meta["currency"], "platform_status": o["order_status"], "approved_at": when["approved"],
        "shipped_at": when["carrier"], "delivered_at": when["delivered"], "estimated_delivery_at": when["estimated"],
        "region": region,
    })
    notes = []
    if "payments" in t:
        pay = t["payments"]
        value = b.parse_numbers(pay, "payment_value")
        seq = b.parse_numbers(pay, "payment_sequential")
        pay = pay.assign(value=value, seq=seq).sort_values(["order_id", "seq"])
        orders["payment_value"] = orders["order_id"].map(pay.groupby("order_id")["value"].sum()).round(2)
        orders["payment_type"] = orders["order_id"].map(pay.drop_duplicates("order_id").set_index("order_id")
                                                        ["payment_type"])
    n_empty = int((orders["revenue"] == 0).sum())
    if n_empty:
        notes.append(f"{n_empty:,} orders have no items (mostly cancelled/unavailable): revenue 0.")

    tables = {"orders": orders, "order_items": order_items,
              "customers": b.derive_customers(orders, region="region")}
    if "sellers" in t:
        s = t["sellers"].drop_duplicates("seller_id")
        tables["suppliers"] = pd.DataFrame({"supplier_id": s["seller_id"], "supplier_name": s["seller_id"],
                                            "country": "BR", "city": s["seller_city"], "state": s["seller_state"]})
        notes.append("suppliers = Olist sellers (names are anonymised: supplier_name is the seller id).")

    first_item = lines.drop_duplicates("sku")
    products = pd.DataFrame({"sku": first_item["sku"],
                             "supplier_id": first_item["seller_id"] if "sellers" in t else float("nan")})
    category = pd.Series("unknown", index=products.index)
    if "products" in t:
        cat = products["sku"].map(t["products"].drop_duplicates("product_id").set_index("product_id")["category"])
        if "translation" in t:
            english = t["translation"].drop_duplicates("category").set_index("category")["category_en"]
            cat = cat.map(english).fillna(cat)
        category = cat.fillna("unknown")
    products = products.assign(category=category,
                               product_name=category + " " + products["sku"].str[:8])
    products, cost_notes = b.attach_costs(products, order_items, costs=costs, cost_ratio=cost_ratio)
    if products is not None:
        tables["products"] = products
    notes.append("Olist data is CC BY-NC-SA 4.0: fine for tests and learning, never ship it in a product.")
    sources = [folder / FILES[k][0] for k in t]
    return b.Converted(tables=tables, store=meta, notes=notes + cost_notes, sources=sources)
