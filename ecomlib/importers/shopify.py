"""Shopify Orders CSV (Admin → Orders → Export) → contract orders, order_items, customers (+ products).

The export has one row per line item; order-level fields (Financial Status, Subtotal, Shipping, Taxes, Total,
Discount Amount, Cancelled at, addresses…) are filled only on the first row of each order, so they are taken
as the first non-empty value per order. Timestamps carry a UTC offset. Customers are identified by ``Email``
(lower-cased; empty for POS/guest orders → empty ``customer_id``).

Choices (see docs/importers.md):

- **status**: ``Cancelled at`` set → ``cancelled``; else Financial Status paid → completed,
  partially_refunded → partially_refunded, refunded → refunded, voided/expired → cancelled,
  pending/authorized/partially_paid → pending (``status_map`` overrides or adds values).
- **channel**: the CSV has no marketing attribution. A tag ``channel:<name>`` (e.g. ``channel:paid_social``)
  wins; else ``Source`` through :data:`SOURCE_CHANNELS` (web → online_store, pos → pos, …; ``channel_map``
  overrides), anything else → ``other``. The raw ``Source`` is kept as the extra column ``source``.
- **revenue** = ``Subtotal`` (Shopify's subtotal is after discounts, before shipping and taxes); when prices
  include tax (detected per order: Total = Subtotal + Shipping while Taxes > 0, or ``taxes_included=True``),
  ``Taxes`` is taken off. ``discount`` = Discount Amount, ``shipping_fee`` = Shipping.
- **order_items**: ``unit_price`` = Lineitem price − Lineitem discount / quantity; an empty ``Lineitem sku``
  (custom items) uses the line item name as the sku; lines of the same order and sku are merged.
- **products**: sku, product_name = Lineitem name, category = Vendor (or ``unknown``), supplier_id empty;
  the CSV has no unit cost, so products are written only with ``costs=`` or ``cost_ratio=``.
- **time zone**: times are converted to ``store['timezone']``; without it, a single whole-hour offset in the
  file (e.g. +0800) becomes the fixed zone ``Etc/GMT-8``; several offsets (daylight saving) need the option.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from . import _base as b
from .returns import shopify_refund_returns

STATUS_MAP = {
    "paid": "completed",
    "partially_refunded": "partially_refunded",
    "refunded": "refunded",
    "voided": "cancelled",
    "expired": "cancelled",
    "pending": "pending",
    "authorized": "pending",
    "partially_paid": "pending",
}
"""Shopify Financial Status → contract status (``Cancelled at`` overrides it with ``cancelled``)."""

SOURCE_CHANNELS = {
    "web": "online_store",
    "pos": "pos",
    "shopify_draft_order": "draft_order",
    "iphone": "mobile_app",
    "android": "mobile_app",
}
"""Shopify ``Source`` → ``orders.channel`` when no ``channel:<name>`` tag is present; others → ``other``."""

FIELDS = {
    "order_id": ["Name"], "email": ["Email"], "financial_status": ["Financial Status"],
    "created_at": ["Created at"], "currency": ["Currency"], "subtotal": ["Subtotal"], "shipping": ["Shipping"],
    "taxes": ["Taxes"], "total": ["Total"], "discount": ["Discount Amount"], "quantity": ["Lineitem quantity"],
    "item_name": ["Lineitem name"], "item_price": ["Lineitem price"], "item_sku": ["Lineitem sku"],
    "item_discount": ["Lineitem discount"], "cancelled_at": ["Cancelled at"], "refunded": ["Refunded Amount"],
    "vendor": ["Vendor"], "shopify_id": ["Id"], "tags": ["Tags"], "source": ["Source"],
    "shipping_country": ["Shipping Country"], "billing_country": ["Billing Country"],
    "fulfilled_at": ["Fulfilled at"],
}
REQUIRED = ("order_id", "email", "financial_status", "created_at", "subtotal", "quantity", "item_name",
            "item_price", "item_sku")
ORDER_LEVEL = ("email", "financial_status", "created_at", "currency", "subtotal", "shipping", "taxes", "total",
               "discount", "cancelled_at", "refunded", "shopify_id", "tags", "source", "shipping_country",
               "billing_country", "fulfilled_at")
_FIX = ("export the orders from Shopify Admin → Orders → Export as 'CSV for Excel, Numbers, or other spreadsheet "
        "programs', without renaming columns")


def _read(files: list[Path], sheet: str | None = None) -> pd.DataFrame:
    frames = []
    for path in files:
        raw, _ = b.read_csv(path, sheet=sheet)
        frames.append(b.resolve_columns(raw, FIELDS, path=path, what="every Shopify Orders CSV has it", fix=_FIX,
                                        optional=set(FIELDS) - set(REQUIRED)))
    return pd.concat(frames, ignore_index=True)


def _channels(orders: pd.DataFrame, channel_map: Mapping[str, str] | None) -> pd.Series:
    tagged = orders["tags"].str.extract(r"(?i)(?:^|,)\s*channel:\s*([^,]+?)\s*(?:,|$)")[0].str.lower()
    sources = {**SOURCE_CHANNELS, **dict(channel_map or {})}
    by_source = orders["source"].str.lower().map({k.lower(): v for k, v in sources.items()}).fillna("other")
    return tagged.fillna(by_source)


def import_shopify(source: str | Path, *, store: dict | None = None, costs: str | Path | pd.DataFrame | None = None,
                   cost_ratio: float | None = None, status_map: Mapping[str, str] | None = None,
                   channel_map: Mapping[str, str] | None = None, taxes_included: bool | None = None,
                   hash_emails: bool = False, refunds: bool = True, sheet: str | None = None) -> b.Converted:
    """Convert a Shopify Orders CSV export (one file, or a folder of ``*.csv`` parts) to contract tables.

    Parameters
    ----------
    source : the export file, or a folder whose ``*.csv`` files are parts of one export.
    store : store facts (``name``, ``currency``, ``timezone``, ``lang``). ``currency`` comes from the
        ``Currency`` column (a contradicting value raises); ``timezone`` as described in the module docstring.
    costs : CSV (or DataFrame) with ``sku, unit_cost`` in the store currency per unit → ``products`` is written.
    cost_ratio : fraction of the median selling price used as unit cost where ``costs`` has none (an assumption).
    status_map : extra or overriding Financial Status → contract status entries.
    channel_map : extra or overriding Source → channel entries (e.g. ``{"580111": "paid_social"}``).
    taxes_included : True/False forces how Taxes relate to Subtotal; None detects it per order.
    hash_emails : replace e-mail addresses by a stable 16-hex-digit SHA-256 prefix in ``customer_id``.
    sheet : XLSX sheet to read when the export was saved as a workbook (default the first).
    refunds : write ``returns`` rows from ``Refunded Amount`` at order level (see
        :func:`ecomlib.importers.returns.shopify_refund_returns`); False leaves returns out.

    Returns
    -------
    Converted with ``orders`` (extra columns ``shopify_id, financial_status, source, tags, taxes, total,
    refunded_amount, region, source_rows``), ``order_items`` (extra ``item_name, vendor, source_rows``),
    ``customers`` (region = shipping country, else billing country, of the first order) and ``products`` when
    costs are given.

    Example
    -------
    >>> conv = import_shopify("orders_export.csv", store={"timezone": "Asia/Shanghai"})   # doctest: +SKIP
    >>> conv.tables["orders"][["order_id", "status", "revenue"]].head(1)                  # doctest: +SKIP
    """
    files = b.source_files(source, pattern=("*.csv", "*.xlsx"))
    raw = _read(files, sheet)
    b.fail(raw, raw["order_id"].isna(), raw["item_name"], "Name", "have no order Name",
           "every row of a Shopify export names its order (#1001); check the file was not edited")

    # Order-level fields live on the first row of each order: take the first non-empty value per order.
    first = raw.groupby("order_id", sort=False)[list(ORDER_LEVEL) + ["_file", "_row"]].first()
    orders = first.reset_index()
    rows = raw.groupby("order_id", sort=False).size()

    currencies = pd.unique(orders["currency"].dropna().str.upper())
    if len(currencies) > 1:
        raise b.ExportFormatError(b.files_of(orders, orders["currency"].notna()),
                                  f"orders in several currencies ({', '.join(sorted(currencies))})", column="Currency",
                                  fix="export each currency's orders separately (a dataset has one store currency)")
    b.fail(orders, orders["subtotal"].isna(), orders["order_id"], "Subtotal", "orders have no Subtotal on any row",
           "re-export: Shopify fills Subtotal on the first row of every order")
    b.fail(orders, orders["financial_status"].isna(), orders["order_id"], "Financial Status",
           "orders have no Financial Status on any row", "re-export: Shopify fills it on the first row of every order")

    local, offset = b.split_offset(orders["created_at"].fillna(""))
    timezone = (store or {}).get("timezone") or b.fixed_offset_zone(offset)
    if timezone is None and offset.notna().any():
        found = sorted({f"{'+' if m >= 0 else '-'}{abs(int(m)) // 60:02d}{abs(int(m)) % 60:02d}"
                        for m in pd.unique(offset.dropna())})
        raise b.ImportOptionError("timezone", f"{files[0]}: the times carry several UTC offsets ({', '.join(found)}), "
                                              f"e.g. daylight saving; pass --timezone <IANA zone> "
                                              f"(the shop's zone, e.g. Europe/Berlin; Python: "
                                              f"store={{'timezone': '<IANA zone>'}}).")
    meta = b.resolve_store(store, currency=currencies[0] if len(currencies) else None, timezone=timezone,
                           currency_hint=", e.g. the shop's currency in Settings → Store details")
    order_time = b.parse_dates(orders, "created_at", column="Created at", date_format="iso",
                               timezone=meta.get("timezone"))

    status = b.map_values(orders, "financial_status", {**STATUS_MAP, **dict(status_map or {})},
                          column="Financial Status", what="financial status",
                          fix="pass --option \"status_map={<value>: <contract status>}\" (contract statuses: "
                              "completed, pending, cancelled, refunded, partially_refunded)")
    status = status.mask(orders["cancelled_at"].notna(), "cancelled")

    subtotal = b.parse_numbers(orders, "subtotal", column="Subtotal")
    shipping = b.parse_numbers(orders, "shipping", column="Shipping")
    taxes = b.parse_numbers(orders, "taxes", column="Taxes")
    total = b.parse_numbers(orders, "total", column="Total")
    discount = b.parse_numbers(orders, "discount", column="Discount Amount")
    if taxes_included is None:
        inclusive = ((taxes.fillna(0) > 0) & ((total - subtotal - shipping.fillna(0)).abs() < 0.005)
                     & ((total - subtotal - shipping.fillna(0) - taxes.fillna(0)).abs() >= 0.005))
    else:
        inclusive = pd.Series(bool(taxes_included), index=orders.index) & (taxes.fillna(0) > 0)
    revenue = (subtotal - taxes.fillna(0).where(inclusive, 0.0)).clip(lower=0).round(6)

    email = orders["email"].str.lower()
    customer_id = b.pseudonymize(email) if hash_emails else email
    out_orders = pd.DataFrame({
        "order_id": orders["order_id"], "customer_id": customer_id, "order_time": order_time,
        "channel": _channels(orders, channel_map), "status": status, "revenue": revenue,
        "discount": discount.abs(), "shipping_fee": shipping, "currency": meta["currency"],
        "shopify_id": orders["shopify_id"], "financial_status": orders["financial_status"],
        "source": orders["source"], "tags": orders["tags"], "taxes": taxes, "total": total,
        "refunded_amount": b.parse_numbers(orders, "refunded", column="Refunded Amount"),
        "region": orders["shipping_country"].fillna(orders["billing_country"]),
        "source_rows": orders["order_id"].map(rows).to_numpy(),
    })

    quantity = b.parse_numbers(raw, "quantity", column="Lineitem quantity", integer=True)
    price = b.parse_numbers(raw, "item_price", column="Lineitem price")
    line_discount = b.parse_numbers(raw, "item_discount", column="Lineitem discount").fillna(0).abs()
    keep = quantity > 0
    dropped = pd.DataFrame({"file": raw["_file"], "row": raw["_row"], "reason": "quantity 0 or empty",
                            "order_id": raw["order_id"], "sku": raw["item_sku"], "quantity": quantity})[~keep]
    notes = []
    if (~keep).any():
        notes.append(f"{int((~keep).sum()):,} line items with quantity 0 or empty (removed items) were dropped.")
    no_sku = raw["item_sku"].isna() & keep
    if no_sku.any():
        notes.append(f"{int(no_sku.sum()):,} line items have no sku (custom items): their Lineitem name is used as "
                     f"the sku.")
    lines = pd.DataFrame({
        "order_id": raw["order_id"], "sku": raw["item_sku"].fillna(raw["item_name"]), "quantity": quantity,
        "amount": (quantity * price - line_discount).clip(lower=0), "item_name": raw["item_name"],
        "vendor": raw["vendor"],
    })[keep]
    items = b.aggregate_lines(lines, extras=["item_name", "vendor"])

    products = (lines.groupby("sku", sort=False)
                .agg(product_name=("item_name", "first"), category=("vendor", "first")).reset_index())
    products = products.assign(category=products["category"].fillna("unknown"), supplier_id=np.nan)
    products, cost_notes = b.attach_costs(products, items, costs=costs, cost_ratio=cost_ratio)

    tables = {"orders": out_orders, "order_items": items, "customers": b.derive_customers(out_orders, region="region")}
    if products is not None:
        tables["products"] = products
    if refunds:
        fulfilled = b.parse_dates(orders, "fulfilled_at", column="Fulfilled at", date_format="iso",
                                  timezone=meta.get("timezone"))
        returns, return_notes = shopify_refund_returns(out_orders, items, order_time, fulfilled)
        if len(returns):
            tables["returns"] = returns
        notes += return_notes
    n_inclusive = int(inclusive.sum())
    if n_inclusive:
        notes.append(f"{n_inclusive:,} orders have tax-inclusive prices: Taxes was taken off Subtotal for revenue.")
    if "timezone" not in (store or {}) and timezone:
        notes.append(f"time zone {timezone} taken from the export's single UTC offset; pass "
                     f"--timezone <IANA zone> to name the shop's zone.")
    notes.append("channel is Shopify's sales channel (Source) or a 'channel:<name>' tag: the CSV has no marketing "
                 "attribution.")
    return b.Converted(tables=tables, store=meta, notes=notes + cost_notes, sources=files,
                       dropped=dropped.reset_index(drop=True))
