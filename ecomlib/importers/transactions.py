"""A plain transaction log without order ids (customer, date, amount) → contract ``orders`` and ``customers``.

For the files that cohort and lifetime-value work starts from — CDNOW's master file (as shipped inside
``lifetimes``: ``lifetimes/datasets/CDNOW_master.txt``, whitespace-aligned columns ``customer_id date
number_of_cds dollar_value``), a bank's or a POS system's purchase log, a "customer, date, amount" CSV.

- **Format**: comma-, tab- or semicolon-delimited, or fixed-width / whitespace-aligned columns (detected from
  the header line; ``delimiter=`` forces one, ``"whitespace"`` for aligned columns); UTF-8 or GB18030; XLSX.
  A file without a header line takes ``names=[customer, date, amount, …]``.
- **Columns** are found by their usual names (``customer_id``/``customer``/``CustomerID``…, ``date``/
  ``order_date``/``transaction_date``…, ``amount``/``dollar_value``/``revenue``/``value``/``total``…,
  optional ``quantity``/``number_of_cds``/``qty``…); ``columns={customer: ..., date: ..., amount: ...}``
  names them when the file uses other headers.
- **Dates** as everywhere in the kit (never guessed), plus compact ``YYYYMMDD`` (CDNOW).
- **Identifiers stay text**: customer ``00001`` stays ``00001``.
- **One row = one order**: the log has no order id, so ``order_id`` = ``<customer>-<YYYYMMDD>-<n>`` (n = the
  row's place among that customer's rows of the day). ``merge_same_day=True`` makes one order per customer and
  day instead (amounts and quantities summed). Exact repeated rows are kept — without an order id two equal
  purchases on one day cannot be told from a repeated export row — and counted in the notes.
- Rows with a negative amount (refunds) are left out and counted; ``status`` is ``completed``; ``channel`` an
  option (default ``unattributed``); the currency is required (``--currency USD`` for CDNOW).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from . import _base as b

FIELDS = {
    "customer": ["customer_id", "customer", "customerid", "customer id", "cust_id", "client_id", "client", "buyer",
                 "member_id", "user_id", "email"],
    "date": ["date", "order_date", "transaction_date", "purchase_date", "invoicedate", "invoice date", "datetime",
             "timestamp", "time"],
    "amount": ["amount", "dollar_value", "revenue", "value", "total", "sales", "spend", "price", "order_value"],
    "quantity": ["quantity", "number_of_cds", "qty", "units", "items"],
}
_FIX = ("give the file a header line naming the customer, date and amount columns, or pass "
        "--option \"columns={customer: <header>, date: <header>, amount: <header>}\" "
        "(a file without a header: --option \"names=[customer, date, quantity, amount]\")")


def _read(path: Path, *, delimiter: str | None, names: Sequence[str] | None, sheet: str | None) -> pd.DataFrame:
    if b.is_xlsx(path):
        raw, _ = b.read_csv(path, sheet=sheet)
        return raw
    text, _ = b._decode(path, path.read_bytes(), "auto")
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    sep = delimiter
    if sep is None:
        sep = next((d for d in (",", "\t", ";", "|") if d in first), "whitespace")
    kwargs = dict(dtype=str, keep_default_na=False, skip_blank_lines=True)
    if names:
        kwargs.update(header=None, names=list(names))
    try:
        if sep == "whitespace":
            df = pd.read_csv(io.StringIO(text), sep=r"\s+", engine="python", **kwargs)
        else:
            df = pd.read_csv(io.StringIO(text), sep=sep, **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise b.ExportFormatError(str(path), f"not a readable transaction log ({str(exc).strip()})",
                                  fix="check the delimiter (--option delimiter=',' / 'whitespace')") from None
    if df.empty:
        raise b.ExportFormatError(str(path), "has no rows", fix="export a period that has purchases")
    df.columns = [str(c).replace("\ufeff", "").strip() for c in df.columns]
    # spreadsheets' text markers on long or zero-led ids (="007", =007) are not part of the id
    cells = {c: df[c].astype(str).str.strip().str.replace(r'^="(.*)"$', r"\1", regex=True)
             .str.replace(r"^=(?=\d)", "", regex=True).mask(lambda s: s == "") for c in df.columns}
    out = pd.DataFrame(cells, index=df.index)
    out["_file"], out["_row"] = str(path), np.arange(1, len(out) + 1)
    return out


def import_transactions(source: str | Path, *, store: dict | None = None, columns: Mapping[str, str] | None = None,
                        names: Sequence[str] | None = None, delimiter: str | None = None,
                        date_format: str | None = "auto", decimal: str = ".", merge_same_day: bool = False,
                        channel: str = b.UNATTRIBUTED, sheet: str | None = None) -> b.Converted:
    """Convert a transaction log (customer, date, amount; no order ids) to contract ``orders`` and ``customers``.

    Parameters
    ----------
    source : the log file (or a folder of them).
    store : store facts; ``currency`` is required (the log does not say it).
    columns : ``{customer: header, date: header, amount: header, quantity: header}`` when the headers are not
        the usual names.
    names : column names for a file without a header line.
    delimiter : ``","``, ``"\\t"``, ``";"`` or ``"whitespace"`` (aligned columns); default detected.
    date_format : ``auto`` (ISO, YYYYMMDD, unambiguous slashed dates), ``dayfirst``, ``monthfirst`` or strftime.
    decimal : ``","`` for amounts written ``1.234,50``.
    merge_same_day : one order per customer and day instead of one per row.
    channel : ``orders.channel`` for every order.
    sheet : XLSX sheet.

    Returns
    -------
    Converted with ``orders`` (extra ``quantity`` when the log has it, ``source_rows``) and ``customers``.

    Example
    -------
    >>> import lifetimes, pathlib
    >>> cdnow = pathlib.Path(lifetimes.__file__).parent / "datasets" / "CDNOW_master.txt"
    >>> conv = import_transactions(cdnow, store={"currency": "USD"})
    >>> len(conv.tables["orders"]), conv.tables["orders"]["customer_id"].nunique()
    (69659, 23570)
    """
    files = b.source_files(source, pattern=None)
    meta = b.resolve_store(store, currency_hint=", USD for CDNOW")
    aliases = {k: list(v) for k, v in FIELDS.items()}
    for key, header in dict(columns or {}).items():
        if key not in FIELDS:
            raise b.ImportOptionError("columns", f"unknown key {key!r} in --option columns=….", valid=list(FIELDS))
        aliases[key] = [str(header)]
    frames = []
    for path in files:
        raw = _read(path, delimiter=delimiter, names=names, sheet=sheet)
        frames.append(b.resolve_columns(raw, aliases, path=path, what="a transaction log needs customer, date and "
                                                                      "amount", fix=_FIX, optional={"quantity"}))
    raw = pd.concat(frames, ignore_index=True)
    compact = raw["date"].str.fullmatch(r"\d{8}").fillna(False)
    if compact.any() and (date_format in (None, "auto")):
        day = pd.to_datetime(raw["date"].where(compact), format="%Y%m%d", errors="coerce")
        b.fail(raw, compact & day.isna(), raw["date"], "date", "are not valid YYYYMMDD dates", "correct the cells")
        rest = raw.assign(date=raw["date"].mask(compact))
        when = b.parse_dates(rest, "date", column="date", date_format=date_format,
                             timezone=meta.get("timezone")).fillna(day)
    else:
        when = b.parse_dates(raw, "date", column="date", date_format=date_format, timezone=meta.get("timezone"))
    b.fail(raw, when.isna() | raw["customer"].isna(), raw["customer"], "customer/date",
           "have no customer or no date", "every row of the log names a customer and a date")
    amount = b.parse_numbers(raw, "amount", column="amount", decimal=decimal)
    b.fail(raw, amount.isna(), raw["customer"], "amount", "have no amount", "every row of the log has an amount")
    quantity = b.parse_numbers(raw, "quantity", column="quantity", integer=True)

    notes = []
    negative = amount < 0
    dropped = pd.DataFrame({"file": raw["_file"], "row": raw["_row"], "reason": "negative amount (refund)",
                            "customer_id": raw["customer"], "amount": amount})[negative]
    if negative.any():
        notes.append(f"{int(negative.sum()):,} rows with a negative amount (refunds; {amount[negative].sum():,.2f}) "
                     f"left out: a log without order ids cannot say which purchase they refund.")
    repeated = raw.drop(columns=["_file", "_row"]).duplicated(keep="first") & ~negative
    if repeated.any():
        notes.append(f"{int(repeated.sum()):,} rows repeat an earlier row exactly; kept as separate purchases (the "
                     f"log has no order id to tell a second purchase from a repeated export row).")
    lines = pd.DataFrame({"customer_id": raw["customer"], "order_time": when, "revenue": amount,
                          "quantity": quantity, "_row": raw["_row"], "_file": raw["_file"]})[~negative]
    day = lines["order_time"].dt.strftime("%Y%m%d").rename("_day")
    if b_flag(merge_same_day):
        g = lines.groupby(["customer_id", day], sort=False)
        orders = g.agg(order_time=("order_time", "min"), revenue=("revenue", "sum"),
                       quantity=("quantity", lambda s: s.sum(min_count=1)), source_rows=("revenue", "size"))
        orders = orders.reset_index().drop(columns="_day")
        orders["order_id"] = orders["customer_id"] + "-" + orders["order_time"].dt.strftime("%Y%m%d")
        merged = int((orders["source_rows"] > 1).sum())
        if merged:
            notes.append(f"merge_same_day: {merged:,} customer-days with several rows became one order each.")
    else:
        n = lines.groupby(["customer_id", day], sort=False).cumcount() + 1
        orders = lines.assign(order_id=lines["customer_id"] + "-" + day + "-" + n.astype(str), source_rows=1)
        same_day = int((n > 1).sum())
        if same_day:
            notes.append(f"{same_day:,} rows are a customer's second or later purchase of the same day: separate "
                         f"orders (…-2, …-3); --option merge_same_day=true makes one order per customer and day.")
    orders = orders.assign(channel=channel, status="completed", discount=np.nan, shipping_fee=np.nan,
                           currency=meta["currency"], revenue=orders["revenue"].round(6))
    if orders["quantity"].isna().all():
        orders = orders.drop(columns="quantity")
    else:
        orders["quantity"] = orders["quantity"].astype("Int64")
    orders = orders[["order_id", "customer_id", "order_time", "channel", "status", "revenue", "discount",
                     "shipping_fee", "currency", *[c for c in ("quantity", "source_rows") if c in orders]]]
    zero = int((orders["revenue"] == 0).sum())
    if zero:
        notes.append(f"{zero:,} orders have an amount of 0 (kept: free items or promotions).")
    notes.append(f"{len(orders):,} orders of {orders['customer_id'].nunique():,} customers, "
                 f"{orders['order_time'].min():%Y-%m-%d} … {orders['order_time'].max():%Y-%m-%d}; no order ids, "
                 f"products or lines in a transaction log (order_items and products are not written).")
    return b.Converted(tables={"orders": orders.sort_values(["order_time", "order_id"]).reset_index(drop=True),
                               "customers": b.derive_customers(orders)},
                       store=meta, notes=notes, sources=files, dropped=dropped.reset_index(drop=True))


def b_flag(value) -> bool:
    """A yes/no option given from Python (bool) or a command line (``true``/``false``)."""
    if isinstance(value, bool):
        return value
    if str(value).strip().lower() in ("true", "yes", "1", "on"):
        return True
    if str(value).strip().lower() in ("false", "no", "0", "off", "", "none"):
        return False
    raise b.ImportOptionError("merge_same_day", f"--option merge_same_day={value}: expected true or false.")
