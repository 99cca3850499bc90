"""Returns from where shops keep them → contract ``returns``.

- :func:`import_amazon_returns` — the Amazon **FBA customer returns** report (Seller Central → Reports →
  Fulfillment → Customer Concessions → Returns; tab-separated text), one row per returned unit group.
- :func:`shopify_refund_returns` — returns at order level from the Shopify Orders CSV's ``Refunded Amount``
  (used by the ``shopify`` importer; the orders export does not say which line was refunded or when).
- :func:`credit_note_returns` — UCI Online Retail credit notes (``C…`` invoices) matched to the same customer's
  earlier purchase of the stock code (used by the ``uci_online_retail`` importer).

Reason codes are kept as the platform wrote them in ``reason_code`` (the returns review maps them with
``ecomlib/rules/return_reasons.yaml``); the extra column ``reason`` shows that mapping at import time, and codes
it does not know are counted in the notes (add them to the rules file).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import _base as b

AMAZON_FIELDS = {
    "return_date": ["return-date"], "order_id": ["order-id"], "sku": ["sku"], "asin": ["asin"],
    "fnsku": ["fnsku"], "product_name": ["product-name"], "quantity": ["quantity"],
    "fulfillment_center": ["fulfillment-center-id"], "disposition": ["detailed-disposition"],
    "reason": ["reason"], "status": ["status"], "lpn": ["license-plate-number"],
    "comments": ["customer-comments"],
}
AMAZON_REQUIRED = ("return_date", "order_id", "sku", "quantity", "disposition", "reason")
RESELLABLE_DISPOSITIONS = {"SELLABLE"}
"""``detailed-disposition`` values whose units go back to sellable stock; DEFECTIVE, CUSTOMER_DAMAGED,
CARRIER_DAMAGED, DISTRIBUTOR_DAMAGED, EXPIRED… do not."""
_AMAZON_FIX = ("download it in Seller Central → Reports → Fulfillment → Customer Concessions → Returns (Download "
               ".txt), without editing it")


def _taxonomy(returns: pd.DataFrame) -> tuple[pd.Series, list[str]]:
    """The returns review's reason for each row, and a note naming codes the rules file does not know."""
    from ..returns import map_reasons
    mapped = map_reasons(returns[["reason_code", "reason_text"]])
    unknown = returns.loc[(mapped["reason"] == "unmapped").to_numpy() & returns["reason_code"].notna().to_numpy(),
                          "reason_code"].value_counts()
    notes = []
    if len(unknown):
        listing = ", ".join(f"{c} ({n})" for c, n in unknown.head(8).items())
        notes.append(f"{int(unknown.sum()):,} returns have reason codes the returns taxonomy does not know: {listing}; "
                     f"add them under `codes:` in ecomlib/rules/return_reasons.yaml (or the returns review's "
                     f"rules_path copy), else the review shows them as unmapped.")
    return mapped["reason"].astype(str), notes


def _dataset_items(orders: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """order_items and orders of an imported dataset folder (to value returns and check their orders)."""
    from ..dataset import load_dataset
    folder = Path(orders)
    if not (folder / "orders.csv").is_file():
        raise b.ImportOptionError("orders", f"{folder}: no orders.csv; --option orders=DIR names a dataset folder "
                                            f"already holding the shop's imported orders and order_items.")
    ds = load_dataset(folder, tables=["orders", "order_items"])
    return ds.order_items, ds.orders, {"currency": ds.store.currency,
                                                           "timezone": ds.store.timezone}


def import_amazon_returns(source: str | Path, *, store: dict | None = None, orders: str | Path | None = None,
                          sheet: str | None = None) -> b.Converted:
    """Convert an Amazon FBA customer returns report (tab-separated) to contract ``returns``.

    Parameters
    ----------
    source : the report (``.txt``/``.tsv``/``.csv``, tab-separated, UTF-8 or UTF-16; or ``.xlsx``), or a folder.
    store : store facts; ``timezone`` converts the report's UTC times (``2026-11-03T10:15:00+00:00``).
    orders : a dataset folder with the shop's imported ``orders``/``order_items`` (e.g. the same ``--out``
        folder, imported first). Each return is then valued at the price paid (quantity × ``unit_price`` of
        its order line) and returns of orders not in that dataset are left out (their order could not be
        attributed). Without it, ``refund_amount`` is 0 — the report carries no amounts — and the notes say so.
    sheet : XLSX sheet (default the first).

    Returns
    -------
    Converted with ``returns``: ``return_id`` = license-plate-number (else order-sku-date), ``reason_code`` =
    Amazon's ``reason``, ``reason_text`` = ``customer-comments``, ``resellable`` = detailed-disposition is
    SELLABLE; extra ``disposition, status, asin, fnsku, fulfillment_center, product_name, reason`` (taxonomy
    reason) and ``refund_source``.

    Example
    -------
    >>> conv = import_amazon_returns("customer_returns.txt", store={"currency": "USD",
    ...                              "timezone": "America/Los_Angeles"})               # doctest: +SKIP
    """
    files = b.source_files(source, pattern=None)
    frames = []
    for path in files:
        raw, _ = b.read_csv(path, delimiter="\t", sheet=sheet)
        frames.append(b.resolve_columns(raw, AMAZON_FIELDS, path=path, what="every FBA customer returns report has it",
                                        fix=_AMAZON_FIX, optional=set(AMAZON_FIELDS) - set(AMAZON_REQUIRED)))
    raw = pd.concat(frames, ignore_index=True)
    items = None
    given = dict(store or {})
    if orders is not None:
        items, order_table, facts = _dataset_items(orders)
        given = {**{k: v for k, v in facts.items() if v}, **given}
    meta = b.resolve_store(given, currency_hint=", the marketplace currency; or --option orders=DIR to take it "
                                                "from the imported orders")
    quantity = b.parse_numbers(raw, "quantity", column="quantity", integer=True,
                               fix=f"quantity is a whole number of units; {_AMAZON_FIX}")
    b.fail(raw, quantity.isna() | (quantity <= 0), raw["quantity"], "quantity", "have no positive quantity",
           _AMAZON_FIX)
    returned_at = b.parse_dates(raw, "return_date", column="return-date", timezone=meta.get("timezone"))
    b.fail(raw, returned_at.isna(), raw["order_id"], "return-date", "have no return-date", _AMAZON_FIX)
    b.fail(raw, raw["order_id"].isna() | raw["sku"].isna(), raw["lpn"], "order-id/sku", "have no order-id or sku",
           _AMAZON_FIX)

    notes, dropped = [], []
    return_id = raw["lpn"].fillna(raw["order_id"] + "-" + raw["sku"] + "-" + returned_at.dt.strftime("%Y%m%d%H%M%S"))
    dup_row = raw.drop(columns=["_file", "_row"]).duplicated(keep="first")
    if dup_row.any():
        notes.append(f"{int(dup_row.sum()):,} duplicate report rows (every field repeated) left out.")
        dropped.append(pd.DataFrame({"file": raw["_file"], "row": raw["_row"], "reason": "duplicate report row",
                                     "order_id": raw["order_id"], "sku": raw["sku"]})[dup_row])
    # One licence plate is one returned unit group; a repeated plate with other fields is suffixed, not dropped.
    keep = ~dup_row
    rid = return_id[keep]
    n = rid.groupby(rid).cumcount()
    return_id = return_id.copy()
    return_id[keep] = rid.where(n == 0, rid + "-" + (n + 1).astype(str))

    disposition = raw["disposition"].str.upper().str.strip()
    out = pd.DataFrame({
        "return_id": return_id, "order_id": raw["order_id"], "sku": raw["sku"], "returned_at": returned_at,
        "quantity": quantity.astype("Int64"), "reason_code": raw["reason"], "reason_text": raw["comments"],
        "refund_amount": 0.0, "resellable": disposition.isin(RESELLABLE_DISPOSITIONS),
        "disposition": raw["disposition"], "status": raw["status"], "asin": raw["asin"], "fnsku": raw["fnsku"],
        "fulfillment_center": raw["fulfillment_center"], "product_name": raw["product_name"],
        "_file": raw["_file"], "_row": raw["_row"],
    })[keep]
    if items is not None:
        price = items.assign(order_id=items["order_id"].astype(str), sku=items["sku"].astype(str)) \
            .set_index(["order_id", "sku"])["unit_price"]
        key = pd.MultiIndex.from_frame(out[["order_id", "sku"]])
        unit = pd.Series(price.reindex(key).to_numpy(), index=out.index)
        known_order = out["order_id"].isin(order_table["order_id"].astype(str))
        if (~known_order).any():
            notes.append(f"{int((~known_order).sum()):,} returns of orders that are not in {orders} left out "
                         f"(import those orders first, or check the marketplace).")
            dropped.append(pd.DataFrame({"file": out["_file"], "row": out["_row"], "reason": "order not in dataset",
                                         "order_id": out["order_id"], "sku": out["sku"]})[~known_order])
        out = out.assign(refund_amount=(out["quantity"].astype(float) * unit).fillna(0.0).round(6),
                         refund_source=np.where(unit.notna(), "price paid (order_items)", "unknown (0)"))
        no_line = known_order & unit.isna()
        if no_line.any():
            notes.append(f"{int(no_line.sum()):,} returns name an order whose lines do not include their sku: "
                         f"refund_amount 0 for them.")
        out = out[known_order]
        # Returned units never net below zero: in time order, each return takes what the earlier ones left.
        sold = items.assign(order_id=items["order_id"].astype(str), sku=items["sku"].astype(str)) \
            .set_index(["order_id", "sku"])["quantity"]
        out = out.sort_values(["returned_at", "return_id"])
        line = pd.MultiIndex.from_frame(out[["order_id", "sku"]])
        units = pd.Series(sold.reindex(line).to_numpy(), index=out.index)
        before = out.groupby(["order_id", "sku"])["quantity"].cumsum() - out["quantity"]
        allowed = (units - before).clip(lower=0).where(units.notna(), out["quantity"])
        capped = out["quantity"] > allowed
        if capped.any():
            notes.append(f"{int(capped.sum()):,} returns would take the order line's returned units above the units "
                         f"sold: quantity capped at what was left ({int((allowed[capped] == 0).sum()):,} left out).")
            gone = allowed <= 0
            dropped.append(pd.DataFrame({"file": out["_file"], "row": out["_row"],
                                         "reason": "more units returned than sold on the order line",
                                         "order_id": out["order_id"], "sku": out["sku"]})[gone])
            out = out.assign(quantity=np.minimum(out["quantity"], allowed).astype("Int64"))[~gone]
            out = out.assign(refund_amount=(out["quantity"].astype(float)
                                            * unit.reindex(out.index)).fillna(0.0).round(6))
        out = out.sort_index()
        notes.append(f"refund_amount = quantity × price paid on the order line ({orders}); the report itself has no "
                     f"amounts.")
    else:
        out = out.assign(refund_source="unknown (0)")
        notes.append("refund_amount is 0 for every return: the FBA returns report carries no amounts. Pass "
                     "--option orders=DIR (the folder holding the imported Amazon orders) to value returns at the "
                     "price paid; until then the review's refund and net-revenue figures leave these returns out.")
    reason, reason_notes = _taxonomy(out)
    out = out.assign(reason=reason.to_numpy())
    notes += reason_notes
    notes.append(f"resellable = detailed-disposition SELLABLE ({int(out['resellable'].sum()):,} of {len(out):,} "
                 f"returns); DEFECTIVE, CUSTOMER_DAMAGED, CARRIER_DAMAGED… count as not resellable.")
    lost = pd.concat(dropped, ignore_index=True) if dropped else pd.DataFrame(columns=["file", "row", "reason"])
    return b.Converted(tables={"returns": out.drop(columns=["_file", "_row"]).reset_index(drop=True)}, store=meta,
                       notes=notes, sources=files, dropped=lost)


def shopify_refund_returns(orders: pd.DataFrame, items: pd.DataFrame, order_time: pd.Series,
                           fulfilled: pd.Series | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Returns at order level from the Shopify Orders CSV's ``Refunded Amount`` (no line, reason or date given).

    Parameters
    ----------
    orders : contract orders with ``refunded_amount`` and ``status`` (index aligned with ``order_time``).
    items : contract order_items (``order_id, sku, quantity, unit_price``).
    order_time, fulfilled : order times and ``Fulfilled at`` times (same index as ``orders``).

    Rules (documented in docs/importers.md): a **fully refunded** order (status ``refunded``, or a refund of at
    least its revenue) returns every line: one row per line, its quantity, the refund shared by line value.
    A **partial refund** is put on the order's most valuable line, for ``round(refund / unit_price)`` units
    (at least 1, at most the line's quantity). ``refund_amount`` is at most the order's revenue (the rest of
    a refund is shipping or tax). ``returned_at`` is the fulfilment time, else the order time (the export has
    no refund date); ``resellable`` is unknown and written True (no write-off is claimed), with
    ``resellable_known`` False; ``reason_text`` says where the row came from.
    """
    o = pd.DataFrame({"order_id": orders["order_id"], "refund": orders["refunded_amount"].fillna(0.0),
                      "revenue": orders["revenue"], "status": orders["status"],
                      "when": (fulfilled if fulfilled is not None else order_time).fillna(order_time)})
    o = o[(o["refund"] > 0.005) & (o["status"] != "cancelled")]
    if o.empty:
        return pd.DataFrame(), []
    lines = items.merge(o, on="order_id", how="inner")
    lines["value"] = lines["quantity"] * lines["unit_price"]
    lines["refund"] = lines["refund"].clip(upper=lines["revenue"])
    full = (lines["status"] == "refunded") | (lines["refund"] >= lines["revenue"] - 0.005)
    order_value = lines.groupby("order_id")["value"].transform("sum")
    whole = lines[full].assign(
        refund_amount=lambda d: (d["refund"] * d["value"] / order_value[full].where(order_value[full] > 0)).fillna(
            d["refund"] / d.groupby("order_id")["sku"].transform("size")))
    part = lines[~full].sort_values(["order_id", "value"], ascending=[True, False]).drop_duplicates("order_id")
    units = np.round(part["refund"] / part["unit_price"].where(part["unit_price"] > 0)).fillna(1)
    part = part.assign(quantity=units.clip(lower=1).clip(upper=part["quantity"]).astype("int64"),
                       refund_amount=part["refund"])
    both = pd.concat([whole.assign(_full=True), part.assign(_full=False)], ignore_index=True)
    out = pd.DataFrame({
        "return_id": "refund-" + both["order_id"].astype(str) + "-" + both["sku"].astype(str),
        "order_id": both["order_id"], "sku": both["sku"], "returned_at": both["when"],
        "quantity": both["quantity"].astype("int64"), "reason_code": np.nan,
        "reason_text": np.where(both["_full"], "Shopify order refunded in full (orders export: no reason)",
                                "Shopify partial refund (orders export: line and reason not given)"),
        "refund_amount": both["refund_amount"].round(6), "resellable": True, "resellable_known": False,
    })
    capped = int((o["refund"] > o["revenue"] + 0.005).sum())
    notes = [f"{o['order_id'].nunique():,} refunded orders → {len(out):,} returns rows from 'Refunded Amount' "
             f"({len(whole):,} lines of {whole['order_id'].nunique():,} fully refunded orders; {len(part):,} partial "
             f"refunds put on the order's most valuable line). The orders export has no refund date, reason or "
             f"restock flag: returned_at = fulfilment (else order) time, resellable unknown (written true, "
             f"resellable_known false)."]
    if capped:
        notes.append(f"{capped:,} refunds exceed the order's merchandise revenue (shipping or tax refunded too): "
                     f"refund_amount capped at the revenue.")
    return out, notes


def credit_note_returns(kept: pd.DataFrame) -> tuple[pd.DataFrame, list[str], pd.DataFrame]:
    """Returns from UCI credit notes: each ``C…`` line → the same customer's latest earlier purchase of the stock code.

    Parameters
    ----------
    kept : UCI export lines after the importer's drops: ``order_id, sku, quantity`` (positive), ``amount``,
        ``customer_id``, ``order_time``, ``cancelled`` (credit-note line), ``_file``, ``_row``.

    Returns
    -------
    (returns, notes, unmatched): a return per credit-note line with a match — ``order_id`` = the purchase
    invoice, ``quantity`` = the credited units (at most the units bought on it), ``refund_amount`` = credited
    units × the credit note's price, ``returned_at`` = the credit note's time, ``resellable`` unknown (written
    True, ``resellable_known`` False), ``credit_note`` = the ``C…`` invoice. ``unmatched`` lists the others with
    the reason: guest credit note (no customer), no earlier purchase of that stock code by the customer.
    """
    credit = kept[kept["cancelled"]].copy()
    buys = kept[~kept["cancelled"] & kept["customer_id"].notna()]
    buys = (buys.groupby(["customer_id", "sku", "order_id"], sort=False)
            .agg(order_time=("order_time", "min"), bought=("quantity", "sum")).reset_index())
    credit["_i"] = np.arange(len(credit))
    guest = credit["customer_id"].isna()
    cand = credit[~guest].merge(buys, on=["customer_id", "sku"], how="inner", suffixes=("", "_buy"))
    cand = cand[cand["order_time_buy"] <= cand["order_time"]]
    match = cand.sort_values(["_i", "order_time_buy", "order_id_buy"]).drop_duplicates("_i", keep="last")
    # Several credit notes can point at one purchase: in time order, each takes what the earlier ones left.
    match = match.sort_values(["order_time", "_i"])
    credited_before = match.groupby(["order_id_buy", "sku"])["quantity"].cumsum() - match["quantity"]
    match = match.assign(_qty=(match["bought"] - credited_before).clip(lower=0, upper=match["quantity"]))
    used_up = match.loc[match["_qty"] <= 0, "_i"]
    match = match[match["_qty"] > 0]
    matched = credit["_i"].isin(match["_i"])
    why = np.select([guest, credit["_i"].isin(used_up)],
                    ["guest credit note (no customer id)", "the matched purchase's units were already credited"],
                    "no earlier purchase of this stock code by the customer")
    unmatched = credit[~matched].assign(reason=why[~matched.to_numpy()])
    m = match.set_index("_i").sort_index()
    qty = m["_qty"].astype("int64")
    unit = m["amount"] / m["quantity"]
    returns = pd.DataFrame({
        "return_id": m["order_id"].astype(str) + "-" + m["sku"].astype(str) + "-" + m.index.astype(str),
        "order_id": m["order_id_buy"], "sku": m["sku"], "returned_at": m["order_time"], "quantity": qty,
        "reason_code": np.nan, "reason_text": np.nan, "refund_amount": (qty * unit).round(6),
        "resellable": True, "resellable_known": False, "credit_note": m["order_id"],
    }).reset_index(drop=True)
    capped = int((m["quantity"] > m["_qty"]).sum())
    n_guest = int(guest.sum())
    n_used = len(used_up)
    n_none = int((~matched & ~guest).sum()) - n_used
    notes = [f"credit notes ('C…' lines): {len(returns):,} of {len(credit):,} became returns of the same customer's "
             f"latest earlier purchase of the stock code; {n_guest:,} guest lines (no customer id), {n_used:,} lines "
             f"whose purchase was already fully credited by earlier credit notes, and {n_none:,} "
             f"lines with no earlier purchase of that stock code by the customer (bought before the export "
             f"starts, or not a product: discounts 'D', manual 'M', postage) are not returns (they stay in the "
             f"cancelled orders). resellable is unknown (written true, resellable_known false); no reason is "
             f"given."]
    if capped:
        notes.append(f"{capped:,} credit-note lines credit more units than the matched purchase had left: "
                     f"quantity capped at the units bought (returns never net below zero).")
    return returns, notes, unmatched
