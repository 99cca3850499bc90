"""UCI Online Retail / Online Retail II CSVs → contract ``orders``, ``order_items``, ``customers`` (+ ``products``).

Reads the columns of either release: ``InvoiceNo``/``Invoice``, ``StockCode``, ``Description``, ``Quantity``,
``InvoiceDate``, ``UnitPrice``/``Price``, ``CustomerID``/``Customer ID``, ``Country``. One invoice becomes one
order, and one (invoice, stock code) one order line. Data set: Chen, Sain & Guo (2012), CC BY 4.0.

Choices (see docs/importers.md):

- **dates** are detected per file (ISO, ``D/M/YYYY`` or ``M/D/YY``); when every date of a file reads both ways
  the import stops with :class:`AmbiguousDateError` asking for ``date_format='dayfirst'`` or ``'monthfirst'``.
- **customer ids**: ``17850.0`` → ``17850``; empty → guest order (empty ``customer_id``).
- **cancellations** (``C``-prefixed invoices, negative quantities) become orders with status ``cancelled``,
  amounts and quantities made positive. They are not returns: the export does not say which invoice they
  cancel, and a return needs that order and whether the goods can be resold.
- **dropped rows** (counted in the notes): negative quantities on ordinary invoices (stock adjustments such as
  "Thrown away-rusty", price 0), ``A``-prefixed bad-debt adjustments (negative prices), zero quantities.
- **shipping**: lines whose stock code is in ``shipping_codes`` (POST, DOT, C2 = postage and carriage) go to
  ``orders.shipping_fee``, not to ``order_items``. Other service codes (M, D, BANK CHARGES…) stay lines.
- **repeated lines** of the same stock code on one invoice (including exact duplicate rows, which the source
  has) are merged: quantities summed, ``unit_price`` the quantity-weighted mean.
- **channel**: the data has no attribution → ``channel`` option (default ``unattributed``).
- **products**: sku = StockCode as written, name = its first non-empty Description, category ``unknown``;
  written only with ``costs=`` or ``cost_ratio=`` (the data has no cost).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd

from . import _base as b
from .purchase_orders import price_outliers
from .returns import credit_note_returns

FIELDS = {
    "invoice": ["InvoiceNo", "Invoice"], "stock_code": ["StockCode", "Stock Code"], "description": ["Description"],
    "quantity": ["Quantity"], "invoice_date": ["InvoiceDate", "Invoice Date"], "price": ["UnitPrice", "Price"],
    "customer": ["CustomerID", "Customer ID"], "country": ["Country"],
}
SHIPPING_CODES = ("POST", "DOT", "C2")
SERVICE_CODES = ("M", "D", "S", "B", "AMAZONFEE", "BANK CHARGES", "CRUK", "PADS", "ADJUST", "ADJUST2", "TEST001",
                 "TEST002", "GIFT_0001_10", "GIFT_0001_20", "GIFT_0001_30", "GIFT_0001_40", "GIFT_0001_50")
"""Stock codes that are not products (manual, discount, samples, fees…): their prices are not compared."""
PRICE_OUTLIER_FACTOR = 1000.0
_FIX = "use the UCI file as published (Online Retail or Online Retail II, sheet saved as CSV), without renaming columns"


def _read(files: list[Path], date_format: str | None, sheet: str | None = None) -> pd.DataFrame:
    frames = []
    for path in files:
        raw, _ = b.read_csv(path, sheet=sheet)
        df = b.resolve_columns(raw, FIELDS, path=path, what="every UCI Online Retail file has it", fix=_FIX,
                               optional={"description", "country"})
        df["order_time"] = b.parse_dates(df, "invoice_date", column="InvoiceDate", date_format=date_format)
        b.fail(df, df["order_time"].isna(), df["invoice"], "InvoiceDate", "have no InvoiceDate",
               "every row of the UCI file has an invoice date; check the file")
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def import_uci_online_retail(source: str | Path, *, store: dict | None = None, date_format: str | None = "auto",
                             costs: str | Path | pd.DataFrame | None = None, cost_ratio: float | None = None,
                             channel: str = b.UNATTRIBUTED,
                             shipping_codes: Sequence[str] = SHIPPING_CODES, credit_notes: bool = True,
                             duplicates: str = "merge", sheet: str | None = None) -> b.Converted:
    """Convert UCI Online Retail (I or II) CSV files to contract tables.

    Parameters
    ----------
    source : a CSV file, or a folder whose ``*.csv`` files are read together (e.g. the two II sheets).
    store : store facts; ``currency`` is required (the file does not say it: GBP for the UCI data).
    date_format : ``auto`` (detect per file, refuse ambiguous files), ``iso``, ``dayfirst``, ``monthfirst`` or a
        strftime format.
    costs, cost_ratio : unit costs for ``products`` (see :func:`ecomlib.importers.import_shopify`).
    channel : ``orders.channel`` for every order (the data has no attribution).
    shipping_codes : stock codes that are postage, summed into ``orders.shipping_fee``; ``()`` keeps them as lines.
    duplicates : ``merge`` (default: exact repeated rows are summed into their line, as the export shows them;
        counted in the notes) or ``drop`` (left out as duplicate export rows, counted).
    credit_notes : also write ``returns`` from the credit notes (see
        :func:`ecomlib.importers.returns.credit_note_returns`); False leaves returns out.
    sheet : XLSX sheet to read (default the first; UCI publishes Online Retail II as a two-sheet workbook).

    Returns
    -------
    Converted with ``orders`` (extra ``country``, ``source_rows`` = export rows of the invoice),
    ``order_items`` (extra ``description``, ``source_rows``), ``customers`` (region = country of the first
    order) and ``products`` when costs are given. Amounts in the store currency.

    Example
    -------
    >>> conv = import_uci_online_retail("online_retail_II.csv", store={"currency": "GBP"},
    ...                                 date_format="dayfirst")                      # doctest: +SKIP
    >>> conv.tables["orders"]["status"].value_counts()                                # doctest: +SKIP
    """
    files = b.source_files(source, pattern=("*.csv", "*.xlsx"))
    shipping_codes = [shipping_codes] if isinstance(shipping_codes, str) else list(shipping_codes or ())
    meta = b.resolve_store(store, currency_hint=", GBP for the UCI Online Retail data: prices are in sterling")
    raw = _read(files, date_format, sheet)

    invoice = raw["invoice"].str.upper()
    cancelled = invoice.str.startswith("C")
    adjustment = invoice.str.startswith("A")
    customer = raw["customer"].str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
    quantity = b.parse_numbers(raw, "quantity", column="Quantity", integer=True)
    price = b.parse_numbers(raw, "price", column="UnitPrice")
    b.fail(raw, quantity.isna() | price.isna(), raw["invoice"], "Quantity/UnitPrice", "have no quantity or price",
           "every row of the UCI file has both")

    stock_adjust = ~cancelled & ~adjustment & (quantity < 0)
    odd_sign = cancelled & (quantity > 0)
    zero = quantity == 0
    negative_price = (price < 0) & ~adjustment
    ordinary = ~(adjustment | stock_adjust | odd_sign | zero | negative_price)
    # A price thousands of times the stock code's median is a slip (the raw 2009 slice has 10,236,524.00 for a
    # 0.85 item): it would dominate every revenue figure. Postage and service codes are priced per parcel: skipped.
    service = raw["stock_code"].str.upper().isin([c.upper() for c in shipping_codes] + list(SERVICE_CODES))
    outlier = pd.Series(False, index=raw.index)
    priced = ordinary & ~service & (price > 0)
    outlier[priced] = price_outliers(pd.DataFrame({"sku": raw["stock_code"][priced], "unit_price": price[priced]}),
                                     factor=PRICE_OUTLIER_FACTOR).to_numpy()
    duplicate = ordinary & raw.drop(columns=["_file", "_row", "order_time"]).duplicated(keep="first")
    if duplicates not in ("merge", "drop"):
        raise b.ImportOptionError("duplicates", f"--option duplicates={duplicates}: expected merge or drop.",
                                  valid=["merge", "drop"])
    drop = ~ordinary | outlier | (duplicate if duplicates == "drop" else False)
    notes = []
    reason = pd.Series(pd.NA, index=raw.index, dtype="str")
    checks = [(stock_adjust, "negative quantity on an ordinary invoice (stock adjustment)"),
              (adjustment, "'A' invoice (bad-debt adjustment)"), (zero, "quantity 0"),
              (odd_sign, "positive quantity on a cancellation invoice"), (negative_price, "negative price"),
              (outlier, f"a unit price ≥ {PRICE_OUTLIER_FACTOR:,.0f} × the stock code's median (a slip)")]
    if duplicates == "drop":
        checks.append((duplicate, "an exact repeat of an earlier row (duplicate export row)"))
    elif duplicate.any():
        notes.append(f"{int(duplicate.sum()):,} rows repeat an earlier row exactly (same invoice, stock code, "
                     f"quantity, price, time); merged into their line with the quantities summed, as the export "
                     f"shows them. --option duplicates=drop leaves the repeats out instead.")
    for mask, why in checks:
        if mask.any():
            amount = float((quantity[mask] * price[mask]).sum())
            notes.append(f"dropped {int(mask.sum()):,} rows with {why}; their Quantity sums to "
                         f"{int(quantity[mask].sum()):,} and Quantity × UnitPrice to {amount:,.2f}.")
            reason = reason.mask(mask & reason.isna(), why)
    dropped = pd.DataFrame({"file": raw["_file"], "row": raw["_row"], "reason": reason, "order_id": raw["invoice"],
                            "sku": raw["stock_code"], "quantity": quantity, "unit_price": price,
                            "customer_id": customer})[drop].reset_index(drop=True)

    kept = pd.DataFrame({
        "order_id": raw["invoice"], "sku": raw["stock_code"], "quantity": quantity.abs(),
        "amount": quantity.abs() * price, "customer_id": customer, "order_time": raw["order_time"],
        "country": raw["country"], "cancelled": cancelled, "description": raw["description"],
        "_file": raw["_file"], "_row": raw["_row"],
    })[~drop]
    shipping = kept["sku"].str.upper().isin([c.upper() for c in shipping_codes])

    g = kept.groupby("order_id", sort=False)
    orders = g.agg(customer_id=("customer_id", "first"), order_time=("order_time", "min"),
                   country=("country", "first"), cancelled=("cancelled", "first"),
                   source_rows=("sku", "size")).reset_index()
    revenue = kept[~shipping].groupby("order_id", sort=False)["amount"].sum()
    postage = kept[shipping].groupby("order_id", sort=False)["amount"].sum()
    orders = orders.assign(
        channel=channel, status=orders["cancelled"].map({True: "cancelled", False: "completed"}),
        revenue=orders["order_id"].map(revenue).fillna(0.0).round(6),
        discount=float("nan"), shipping_fee=orders["order_id"].map(postage).fillna(0.0).round(6),
        currency=meta["currency"],
    ).drop(columns="cancelled")

    items = b.aggregate_lines(kept[~shipping].drop(columns=["_file", "_row"]), extras=["description"])
    products = (kept[~shipping].groupby("sku", sort=False)
                .agg(product_name=("description", "first")).reset_index())
    products = products.assign(product_name=products["product_name"].fillna(products["sku"]), category="unknown",
                               supplier_id=float("nan"))
    products, cost_notes = b.attach_costs(products, items, costs=costs, cost_ratio=cost_ratio)

    tables = {"orders": orders, "order_items": items, "customers": b.derive_customers(orders, region="country")}
    if products is not None:
        tables["products"] = products
    if credit_notes:
        returns, return_notes, _ = credit_note_returns(kept[~shipping])
        if len(returns):
            tables["returns"] = returns
        notes += return_notes
    if shipping.any():
        notes.append(f"{int(shipping.sum()):,} postage rows ({', '.join(shipping_codes)}) summed into "
                     f"orders.shipping_fee.")
    notes.append(f"{int(orders['status'].eq('cancelled').sum()):,} cancellation invoices ('C…') imported as "
                 f"orders with status cancelled and positive amounts.")
    notes.append("customers.first_seen = first order that is not a cancellation (data: Chen, Sain & Guo 2012, "
                 "UCI, CC BY 4.0).")
    return b.Converted(tables=tables, store=meta, notes=notes + cost_notes, sources=files, dropped=dropped)
