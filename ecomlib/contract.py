"""The data contract: every canonical table's columns, types, keys, ranges and references, declared once.

Each table is a pandera ``DataFrameModel`` (column types and value checks) plus a :class:`TableSpec`
(keys, timestamp columns, cross-column rules, references to other tables, which reviews need it).
``data/README.md`` documents the same contract for people; ``tests/test_contract.py`` keeps the two in step.
Money columns are in the store currency (``store.yaml``), rates are fractions, timestamps are naive
store-local time after loading.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

ORDER_STATUSES = ["completed", "pending", "cancelled", "refunded", "partially_refunded"]
#: Orders whose revenue counts (cohorts, LTV, ROAS): cancelled, refunded and pending ones do not.
REVENUE_STATUSES = ("completed", "partially_refunded")
#: Orders whose goods reached the customer (denominators of return rates): refunded ones did, then came back.
SOLD_STATUSES = ("completed", "partially_refunded", "refunded")
DEVICES = ["desktop", "mobile", "tablet"]

#: The tables each review needs (required: the notebook is skipped without them) and may use (optional: a
#: section says what it would show). data/README.md states the same lists; tests/test_contract.py compares them.
REVIEW_TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "funnel": (("events",), ("orders", "promotions", "order_items", "products")),
    "cohort_ltv": (("orders",), ("customers", "ad_spend", "returns", "promotions")),
    "ad_roas": (("ad_spend", "orders"), ("order_items", "products", "promotions", "budgets")),
    "supplier_performance": (("purchase_orders",), ("suppliers", "products", "orders", "order_items", "returns",
                                                     "inventory")),
    "returns": (("orders", "order_items", "products", "returns"), ("suppliers",)),
    "inventory": (("inventory", "products", "orders", "order_items"),
                  ("purchase_orders", "suppliers", "price_observations", "promotions")),
    "fulfilment": (("orders", "shipments"), ("returns", "customers")),
    "service": (("tickets",), ("orders", "product_reviews", "returns", "order_items", "products")),
    "ab_test": (("experiments",), ("events", "orders", "returns")),
    "segments": (("orders",), ("customers", "returns")),
    "promotions": (("orders", "order_items", "promotions"), ("products", "returns", "customers")),
}

#: The revenue quantities of the kit, each defined once (see :func:`order_revenue`) and named in every label
#: that shows it: ``gross`` = merchandise revenue of counted orders as recorded; ``net`` = the same less the
#: refunds of the returns table. Whether pending orders count is a separate, stated choice.
REVENUE_BASES = ("gross", "net")


def order_revenue(orders: pd.DataFrame, *, basis: str = "gross", pending: bool = False,
                  returns: pd.DataFrame | None = None) -> pd.DataFrame:
    """The orders whose revenue counts, with their revenue on one stated basis — the kit's one revenue definition.

    Parameters
    ----------
    orders : contract ``orders``.
    basis : ``"gross"`` — ``revenue`` as recorded on orders with status ``completed`` or ``partially_refunded``
        (fully refunded and cancelled orders earned nothing); ``"net"`` — the same less every refund of
        ``returns`` (``refund_amount``) charged to its order, never below 0.
    pending : count ``pending`` orders too (they may still be cancelled). Compare like with like: use the
        same choice for both periods and say which on the page.
    returns : contract ``returns``; required for ``basis="net"``.

    Returns
    -------
    The counted orders (all columns kept) with ``gross_revenue`` (as recorded), ``refund_amount`` (0 for
    ``gross``) and ``revenue`` on the chosen basis, store currency.

    Example
    -------
    >>> o = pd.DataFrame({"order_id": ["1", "2", "3", "4"], "revenue": [100.0, 50.0, 80.0, 20.0],
    ...                   "status": ["completed", "cancelled", "partially_refunded", "pending"]})
    >>> r = pd.DataFrame({"order_id": ["3"], "refund_amount": [30.0]})
    >>> order_revenue(o, basis="net", returns=r)["revenue"].tolist()
    [100.0, 50.0]
    >>> float(order_revenue(o, pending=True)["revenue"].sum())
    200.0
    """
    from .errors import ParameterError, check_option

    check_option("basis", basis, REVENUE_BASES)
    statuses = (*REVENUE_STATUSES, "pending") if pending else REVENUE_STATUSES
    out = orders[orders["status"].isin(statuses)]
    refunds = pd.Series(0.0, index=out.index)
    if basis == "net":
        if returns is None:
            raise ParameterError("basis='net' needs the returns table (refund_amount per order)")
        per_order = returns.groupby("order_id", sort=False, observed=True)["refund_amount"].sum()
        refunds = out["order_id"].map(per_order).fillna(0.0).astype(float)
    return out.assign(gross_revenue=out["revenue"].astype(float), refund_amount=refunds,
                      revenue=(out["revenue"].astype(float) - refunds).clip(lower=0.0))


class _Base(pa.DataFrameModel):
    class Config:
        coerce = True
        strict = False  # extra columns are kept, never rejected


class Orders(_Base):
    """One row per order."""

    order_id: Series[str] = pa.Field(description="order key")
    customer_id: Series[str] = pa.Field(nullable=True, description="empty for guest orders")
    order_time: Series[pa.DateTime] = pa.Field(description="when the order was placed, store-local")
    channel: Series[str] = pa.Field(description="sales/acquisition channel of the order (e.g. paid_search)")
    status: Series[str] = pa.Field(isin=ORDER_STATUSES)
    revenue: Series[float] = pa.Field(ge=0, description="merchandise revenue after discounts, excl. shipping and tax")
    discount: Series[float] = pa.Field(ge=0, nullable=True)
    shipping_fee: Series[float] = pa.Field(ge=0, nullable=True)
    currency: Series[str] = pa.Field(str_matches=r"^[A-Z]{3}$")


class OrderItems(_Base):
    """One row per order line (order_id, sku)."""

    order_id: Series[str]
    sku: Series[str]
    quantity: Series[int] = pa.Field(gt=0)
    unit_price: Series[float] = pa.Field(ge=0, description="price paid per unit after line discounts")


class Products(_Base):
    """One row per SKU."""

    sku: Series[str]
    product_name: Series[str]
    category: Series[str]
    supplier_id: Series[str] = pa.Field(nullable=True)
    unit_cost: Series[float] = pa.Field(ge=0, description="landed cost per unit")


class Customers(_Base):
    """One row per customer; optional, derivable from orders."""

    customer_id: Series[str]
    first_seen: Series[pa.DateTime]
    acquisition_channel: Series[str] = pa.Field(nullable=True)
    region: Series[str] = pa.Field(nullable=True)


class Events(_Base):
    """One row per tracked web/app event (GA4-like)."""

    event_time: Series[pa.DateTime]
    user_id: Series[str]
    session_id: Series[str]
    event_name: Series[str]
    sku: Series[str] = pa.Field(nullable=True)
    channel: Series[str] = pa.Field(nullable=True)
    device: Series[str] = pa.Field(nullable=True, isin=DEVICES)


class AdSpend(_Base):
    """One row per day, channel and campaign."""

    date: Series[pa.DateTime]
    channel: Series[str]
    campaign: Series[str]
    impressions: Series[int] = pa.Field(ge=0)
    clicks: Series[int] = pa.Field(ge=0)
    spend: Series[float] = pa.Field(ge=0)
    platform_conversions: Series[float] = pa.Field(ge=0, nullable=True)
    platform_revenue: Series[float] = pa.Field(ge=0, nullable=True)


class PurchaseOrders(_Base):
    """One row per purchase-order line (po_id, sku)."""

    po_id: Series[str]
    supplier_id: Series[str]
    sku: Series[str]
    ordered_at: Series[pa.DateTime]
    promised_at: Series[pa.DateTime]
    received_at: Series[pa.DateTime] = pa.Field(nullable=True, description="empty while not received")
    qty_ordered: Series[int] = pa.Field(ge=0)
    qty_received: Series[float] = pa.Field(ge=0, nullable=True)
    qty_rejected: Series[float] = pa.Field(ge=0, nullable=True)
    unit_cost_agreed: Series[float] = pa.Field(ge=0)
    unit_cost_invoiced: Series[float] = pa.Field(ge=0, nullable=True)


class Suppliers(_Base):
    """One row per supplier."""

    supplier_id: Series[str]
    supplier_name: Series[str]
    country: Series[str] = pa.Field(nullable=True)


class Returns(_Base):
    """One row per returned order line."""

    return_id: Series[str]
    order_id: Series[str]
    sku: Series[str]
    returned_at: Series[pa.DateTime]
    quantity: Series[int] = pa.Field(gt=0)
    reason_code: Series[str] = pa.Field(nullable=True)
    reason_text: Series[str] = pa.Field(nullable=True)
    refund_amount: Series[float] = pa.Field(ge=0)
    resellable: Series[bool]


class Promotions(_Base):
    """One row per promotion (sale event), used to mark trends and judged by the promotions review; optional."""

    promo_id: Series[str]
    name: Series[str]
    start_date: Series[pa.DateTime]
    end_date: Series[pa.DateTime]
    scope: Series[str] = pa.Field(isin=["all", "category", "sku"], nullable=True,
                                  description="optional column: what is on promotion; empty means all")
    scope_values: Series[str] = pa.Field(nullable=True, description="optional column: category names or SKUs, "
                                                                    "separated by |")
    discount: Series[float] = pa.Field(ge=0, lt=1, nullable=True, description="optional column: fraction off")


class Budgets(_Base):
    """Advertising budget per channel and calendar month; optional (budget pacing)."""

    channel: Series[str] = pa.Field(description="same values as orders.channel and ad_spend.channel")
    period: Series[str] = pa.Field(str_matches=r"^\d{4}-(0[1-9]|1[0-2])$", description="calendar month, YYYY-MM")
    amount: Series[float] = pa.Field(ge=0, description="budget for the whole month, store currency")


class Inventory(_Base):
    """Stock snapshots: on hand per SKU (and warehouse) at a moment — one snapshot or a daily series; optional."""

    sku: Series[str]
    as_of: Series[pa.DateTime] = pa.Field(description="when the stock was counted, store-local")
    on_hand: Series[int] = pa.Field(ge=0, description="sellable units in stock")
    warehouse: Series[str] = pa.Field(nullable=True, description="optional column: stock location")
    reserved: Series[float] = pa.Field(ge=0, nullable=True, description="optional column: units held for orders")
    on_order: Series[float] = pa.Field(ge=0, nullable=True, description="optional column: units ordered, not received")


class PriceObservations(_Base):
    """Competitor prices seen per SKU and day (price watch); optional."""

    date: Series[pa.DateTime]
    sku: Series[str]
    competitor: Series[str]
    price: Series[float] = pa.Field(gt=0, description="the competitor's price per unit, store currency")


SHIPMENT_STATUSES = ["pending", "in_transit", "delivered", "lost", "damaged", "returned_to_sender"]
TICKET_CHANNELS = ["chat", "email", "phone", "marketplace", "social", "other"]


class Shipments(_Base):
    """One row per parcel; an order may ship in several parcels; optional (fulfilment review)."""

    shipment_id: Series[str]
    order_id: Series[str]
    warehouse: Series[str] = pa.Field(nullable=True)
    carrier: Series[str]
    tracking_id: Series[str] = pa.Field(nullable=True)
    region: Series[str] = pa.Field(nullable=True, description="destination region (province, state)")
    packed_at: Series[pa.DateTime] = pa.Field(nullable=True)
    shipped_at: Series[pa.DateTime] = pa.Field(nullable=True, description="handed to the carrier")
    delivered_at: Series[pa.DateTime] = pa.Field(nullable=True)
    promised_delivery: Series[pa.DateTime] = pa.Field(nullable=True, description="delivery promised to the customer")
    status: Series[str] = pa.Field(isin=SHIPMENT_STATUSES)


class Tickets(_Base):
    """One row per customer-service ticket; optional (service review)."""

    ticket_id: Series[str]
    order_id: Series[str] = pa.Field(nullable=True)
    customer_id: Series[str] = pa.Field(nullable=True)
    channel: Series[str] = pa.Field(isin=TICKET_CHANNELS)
    opened_at: Series[pa.DateTime]
    first_response_at: Series[pa.DateTime] = pa.Field(nullable=True)
    resolved_at: Series[pa.DateTime] = pa.Field(nullable=True)
    category: Series[str] = pa.Field(nullable=True, description="the shop's own contact reason, if it has one")
    satisfaction: Series[float] = pa.Field(ge=1, le=5, nullable=True, description="CSAT score 1–5")
    nps: Series[float] = pa.Field(ge=0, le=10, nullable=True, description="optional column: 0–10")
    reopened: Series[float] = pa.Field(ge=0, nullable=True, description="optional column: times reopened")
    text: Series[str] = pa.Field(nullable=True, description="the customer's words")


class ProductReviews(_Base):
    """One row per product review left by a customer; optional (service review)."""

    review_id: Series[str]
    sku: Series[str]
    order_id: Series[str] = pa.Field(nullable=True)
    rating: Series[int] = pa.Field(ge=1, le=5)
    text: Series[str] = pa.Field(nullable=True)
    created_at: Series[pa.DateTime]


class Experiments(_Base):
    """A/B test assignments: one row per unit and experiment; optional (A/B readout)."""

    experiment: Series[str]
    unit_id: Series[str] = pa.Field(description="the randomised unit: a user_id of events or a customer_id")
    variant: Series[str]
    assigned_at: Series[pa.DateTime]


@dataclass(frozen=True)
class Reference:
    """``column`` of this table must take values present in ``table.target_column`` (nulls allowed)."""

    column: str
    table: str
    target_column: str


@dataclass(frozen=True)
class RowRule:
    """A rule across columns of one row; ``ok`` returns a boolean Series (NaN-safe: missing values pass)."""

    columns: tuple[str, ...]
    rule: str
    ok: Callable[[pd.DataFrame], pd.Series]
    fix: str


@dataclass(frozen=True)
class TableSpec:
    """Everything the loader checks about one table beyond its pandera model."""

    name: str
    model: type[pa.DataFrameModel]
    key: tuple[str, ...]
    timestamps: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()
    references: tuple[Reference, ...] = ()
    row_rules: tuple[RowRule, ...] = ()
    categories: tuple[str, ...] = ()
    needed_by: tuple[str, ...] = ()
    optional: bool = False
    #: timestamp/date columns that may lie after the time of the run (promised deliveries, planned promotions)
    future_ok: tuple[str, ...] = ()
    #: number columns that may be empty but hold whole units when filled (fractions are violations)
    whole: tuple[str, ...] = ()
    #: columns a file may leave out: the loader adds them empty (a shop with one warehouse has no warehouse column)
    optional_columns: tuple[str, ...] = ()

    @property
    def columns(self) -> list[str]:
        return list(self.model.to_schema().columns)


def _le(a: str, b: str) -> Callable[[pd.DataFrame], pd.Series]:
    return lambda df: ~(df[a] > df[b]).fillna(False).astype(bool)


TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in [
        TableSpec("orders", Orders, key=("order_id",), timestamps=("order_time",),
                  references=(Reference("customer_id", "customers", "customer_id"),),
                  categories=("channel", "status"),
                  needed_by=("funnel", "cohort_ltv", "ad_roas", "returns")),
        TableSpec("order_items", OrderItems, key=("order_id", "sku"),
                  references=(Reference("order_id", "orders", "order_id"), Reference("sku", "products", "sku")),
                  needed_by=("ad_roas", "supplier_performance", "returns")),
        TableSpec("products", Products, key=("sku",),
                  references=(Reference("supplier_id", "suppliers", "supplier_id"),),
                  needed_by=("ad_roas", "supplier_performance", "returns")),
        TableSpec("customers", Customers, key=("customer_id",), timestamps=("first_seen",),
                  needed_by=("cohort_ltv",), optional=True),
        TableSpec("events", Events, key=(), timestamps=("event_time",),
                  categories=("event_name", "channel", "device"), needed_by=("funnel",)),
        TableSpec("ad_spend", AdSpend, key=("date", "channel", "campaign"), dates=("date",),
                  row_rules=(RowRule(("clicks", "impressions"), "clicks ≤ impressions", _le("clicks", "impressions"),
                                     "check that the clicks and impressions columns are not swapped"),),
                  needed_by=("ad_roas", "cohort_ltv")),
        TableSpec("purchase_orders", PurchaseOrders, key=("po_id", "sku"),
                  timestamps=("ordered_at", "promised_at", "received_at"), future_ok=("promised_at",),
                  whole=("qty_received", "qty_rejected"),
                  references=(Reference("supplier_id", "suppliers", "supplier_id"),
                              Reference("sku", "products", "sku")),
                  row_rules=(
                      RowRule(("ordered_at", "promised_at"), "promised_at on or after ordered_at",
                              _le("ordered_at", "promised_at"), "check the date columns are not swapped"),
                      RowRule(("ordered_at", "received_at"), "received_at on or after ordered_at",
                              _le("ordered_at", "received_at"), "check the date columns are not swapped"),
                      RowRule(("qty_rejected", "qty_received"), "qty_rejected ≤ qty_received",
                              _le("qty_rejected", "qty_received"),
                              "qty_received counts every unit delivered, rejected ones included"),
                  ),
                  needed_by=("supplier_performance",)),
        TableSpec("suppliers", Suppliers, key=("supplier_id",), needed_by=("supplier_performance",)),
        TableSpec("returns", Returns, key=("return_id",), timestamps=("returned_at",),
                  references=(Reference("order_id", "orders", "order_id"), Reference("sku", "products", "sku")),
                  needed_by=("returns", "supplier_performance")),
        TableSpec("promotions", Promotions, key=("promo_id",), dates=("start_date", "end_date"),
                  future_ok=("start_date", "end_date"),
                  row_rules=(RowRule(("start_date", "end_date"), "start_date on or before end_date",
                                     _le("start_date", "end_date"), "check the date columns are not swapped"),),
                  optional_columns=("scope", "scope_values", "discount"),
                  needed_by=("funnel", "promotions"), optional=True),
        TableSpec("inventory", Inventory, key=("sku", "as_of", "warehouse"), timestamps=("as_of",),
                  references=(Reference("sku", "products", "sku"),), whole=("reserved", "on_order"),
                  optional_columns=("warehouse", "reserved", "on_order"),
                  needed_by=("supplier_performance", "inventory"), optional=True),
        TableSpec("price_observations", PriceObservations, key=("date", "sku", "competitor"), dates=("date",),
                  references=(Reference("sku", "products", "sku"),), needed_by=("inventory",), optional=True),
        TableSpec("shipments", Shipments, key=("shipment_id",),
                  timestamps=("packed_at", "shipped_at", "delivered_at", "promised_delivery"),
                  future_ok=("promised_delivery",), categories=("carrier", "status"),
                  references=(Reference("order_id", "orders", "order_id"),),
                  row_rules=(RowRule(("shipped_at", "delivered_at"), "delivered_at on or after shipped_at",
                                     _le("shipped_at", "delivered_at"), "check the date columns are not swapped"),),
                  needed_by=("fulfilment",), optional=True),
        TableSpec("tickets", Tickets, key=("ticket_id",), timestamps=("opened_at", "first_response_at", "resolved_at"),
                  categories=("channel",), whole=("reopened",), optional_columns=("nps", "reopened"),
                  references=(Reference("order_id", "orders", "order_id"),),
                  row_rules=(RowRule(("opened_at", "first_response_at"), "first_response_at on or after opened_at",
                                     _le("opened_at", "first_response_at"), "check the date columns are not swapped"),
                             RowRule(("opened_at", "resolved_at"), "resolved_at on or after opened_at",
                                     _le("opened_at", "resolved_at"), "check the date columns are not swapped")),
                  needed_by=("service",), optional=True),
        TableSpec("product_reviews", ProductReviews, key=("review_id",), timestamps=("created_at",),
                  references=(Reference("sku", "products", "sku"), Reference("order_id", "orders", "order_id")),
                  needed_by=("service",), optional=True),
        TableSpec("experiments", Experiments, key=("experiment", "unit_id"), timestamps=("assigned_at",),
                  needed_by=("ab_test",), optional=True),
        TableSpec("budgets", Budgets, key=("channel", "period"), needed_by=("ad_roas",), optional=True),
    ]
}
