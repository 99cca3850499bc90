"""Purchase orders / goods receipts of an ERP (CSV or XLSX) → contract ``purchase_orders`` and ``suppliers``.

ERPs name their columns in as many ways as there are ERPs, so the export is described by a YAML mapping file
in the format of the ``mapping`` importer (docs/importers.md) with a ``tables: purchase_orders:`` section:
ordered / promised / received dates, ordered / received / rejected quantities, agreed and invoiced unit cost,
supplier. On top of the mapping this importer

- **leaves out lines a supplier review would misread**, counted in the notes with their reason: dates out of
  order (promised or received before ordered), more rejected than received, and an agreed unit cost at least
  ``outlier_factor`` (default 1,000) times the SKU's median (a typing slip: it would
  dominate every cost figure);
- **derives ``suppliers``** from the lines when the mapping has no ``suppliers`` table: one row per
  ``supplier_id``, named by a mapped ``supplier_name`` column (else the id), ``country`` from a mapped
  ``supplier_country`` column (else empty).

``ecomlib/importers/mappings/usaid_scms.yaml`` is the worked example: the USAID/PEPFAR SCMS delivery history
(10,324 shipment lines), with the lines that are not purchase orders to a vendor left out and said why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from . import _base as b
from .mapping import import_mapped, load_mapping


def price_outliers(df: pd.DataFrame, *, sku: str = "sku", price: str = "unit_price",
                   factor: float = 1000.0) -> pd.Series:
    """Rows whose ``price`` is at least ``factor`` times the median price of the SKU's rows.

    The median is robust to one wild value when the SKU has three or more priced rows; SKUs with fewer, or a
    median of 0, are not judged. Returns a boolean Series aligned with ``df``.

    Example
    -------
    >>> d = pd.DataFrame({"sku": ["a"] * 4, "unit_price": [0.85, 0.9, 0.85, 10_236_524.0]})
    >>> price_outliers(d).tolist()
    [False, False, False, True]
    """
    p = df[price].astype(float)
    g = df.assign(_p=p).groupby(sku, sort=False, observed=True)["_p"]
    med, n = g.transform("median"), g.transform("count")
    return ((n >= 3) & (med > 0) & (p >= factor * med)).fillna(False).astype(bool)


def import_purchase_orders(source: str | Path, *, mapping: str | Path | Mapping[str, Any], store: dict | None = None,
                           sheet: str | None = None, outlier_factor: float = 1000.0) -> b.Converted:
    """Convert an ERP purchase-order / goods-receipt export to ``purchase_orders`` and ``suppliers``.

    Parameters
    ----------
    source : the export file (CSV/XLSX) or a folder of them.
    mapping : a mapping file (path, a shipped name such as ``usaid_scms``, or a dict) with a
        ``tables.purchase_orders`` section; see docs/importers.md.
    store : store facts (``currency`` of the costs, required here or in the mapping).
    sheet : XLSX sheet (default the first).
    outlier_factor : an agreed unit cost this many times the SKU's median is left out as a slip.

    Returns
    -------
    Converted with ``purchase_orders`` (extra columns as mapped, ``source_rows`` when aggregated) and
    ``suppliers``.

    Example
    -------
    >>> conv = import_purchase_orders("SCMS_Delivery_History_Dataset.csv", mapping="usaid_scms")   # doctest: +SKIP
    >>> print("\\n".join(conv.notes))                                                             # doctest: +SKIP
    """
    spec = load_mapping(mapping)
    if "purchase_orders" not in spec["tables"]:
        raise b.MappingFileError(spec["path"], "tables", "a purchase-order mapping needs a `purchase_orders:` table "
                                                         "(see ecomlib/importers/mappings/usaid_scms.yaml)")
    conv = import_mapped(source, mapping=spec, store=store, sheet=sheet)
    po = conv.tables["purchase_orders"]
    notes, dropped = list(conv.notes), [conv.dropped]

    def leave_out(mask: pd.Series, reason: str) -> None:
        nonlocal po
        if mask.any():
            notes.append(f"purchase_orders: {int(mask.sum()):,} lines left out — {reason}.")
            dropped.append(pd.DataFrame({"file": "", "row": np.nan, "reason": f"purchase_orders: {reason}",
                                         "po_id": po.loc[mask, "po_id"], "sku": po.loc[mask, "sku"]}))
            po = po[~mask]

    leave_out((po["promised_at"] < po["ordered_at"]).fillna(False).astype(bool),
              "promised before ordered (dates out of order)")
    leave_out((po["received_at"] < po["ordered_at"]).fillna(False).astype(bool),
              "received before ordered (dates out of order)")
    if "qty_rejected" in po and "qty_received" in po:
        leave_out((po["qty_rejected"] > po["qty_received"]).fillna(False).astype(bool),
                  "more units rejected than received")
    leave_out(price_outliers(po, price="unit_cost_agreed", factor=float(outlier_factor)),
              f"agreed unit cost ≥ {outlier_factor:,.0f} × the SKU's median (a slip that would "
              f"dominate every cost figure)")
    tables = {k: v for k, v in conv.tables.items() if k != "customers"}
    tables["purchase_orders"] = po.reset_index(drop=True)
    if "suppliers" not in spec["tables"]:
        firsts = po.drop_duplicates("supplier_id")
        tables["suppliers"] = pd.DataFrame({
            "supplier_id": firsts["supplier_id"].to_numpy(),
            "supplier_name": (firsts["supplier_name"].fillna(firsts["supplier_id"]) if "supplier_name" in firsts
                              else firsts["supplier_id"]).to_numpy(),
            "country": (firsts["supplier_country"] if "supplier_country" in firsts
                        else pd.Series(np.nan, index=firsts.index)).to_numpy(),
        }).sort_values("supplier_id").reset_index(drop=True)
        notes.append(f"suppliers derived from the purchase orders: {len(tables['suppliers']):,} suppliers.")
    if po["qty_received"].isna().all():
        notes.append("qty_received is not in the export: 'in full' (the IF of OTIF) cannot be judged, only on time.")
    lost = pd.concat([d for d in dropped if len(d)], ignore_index=True) if any(len(d) for d in dropped) \
        else conv.dropped
    return b.Converted(tables=tables, store=conv.store, notes=notes, sources=conv.sources, dropped=lost)
