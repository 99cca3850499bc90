"""A demo store N times the size of the 1x demo, with the same planted findings, written as Parquet part files.

``write_scaled(out, scale=N, events_scale=M)`` (``ecomlib demo-data --scale N --events-scale M``) generates the
1x store once in memory (:func:`ecomlib.demo.generate`, ~150 MB), then writes copy ``k = 0 … N-1`` of every
table that grows with the shop as part file ``k`` of that table's folder, ``<table>/part-%05d.parquet``, and
``M`` copies of the web events as ``events/part-%05d.parquet``. A copy is made from the 1x table (a few Arrow
column operations), written and dropped before the next one, so the peak memory is about one 1x store plus one
copy of its largest table whatever N and M are. Copy 0 keeps the 1x ids; copy ``k ≥ 1`` appends ``-k`` to
every id (``C000123-4``, ``O0001234-4``), so ids stay unique across copies and keep their plausible form.

Table by table (:data:`COPIED`, :data:`SCALED`, :data:`STATIC`):

- **copied with new ids**, N part files: ``customers`` (customer_id), ``orders`` (order_id, customer_id),
  ``order_items`` (order_id), ``returns`` (return_id, order_id), ``shipments`` (shipment_id, order_id,
  tracking_id), ``tickets`` (ticket_id, order_id, customer_id), ``product_reviews`` (review_id, order_id),
  ``experiments`` (unit_id: the demo's units are customers, so a unit of copy k is a customer of copy k).
  Times, amounts, SKUs and statuses are the 1x values: every rate, share, ratio and mean by group (return
  rate of CULPRIT_SKU, cohort retention, OTIF, CSAT, the planted A/B lift…) equals the 1x one, and every count
  and sum is N times it. Statistics that grow with the sample (p-values, interval widths, an A/B test's
  sample-ratio χ²) are those of N times the data: the planted findings stay, and come out more significant —
  and so do chance differences of the 1x draw (copies are not independent draws, so their p-values overstate
  the evidence). Measured on seed 42, week 2026-W47, ×2: every review raises each of its 1x findings, with the
  same severity; funnel, cohorts and returns add a few medium/low ones (a paid_search add-to-cart → checkout
  rise, a worst cohort, two more culprit SKUs).
- **events**, M part files: copy j appends ``-j`` to ``session_id`` and to the anonymous ``user_id`` s; a
  ``user_id`` that is a customer becomes that customer of copy ``j mod N``. With M = N the events' purchases
  relate to the orders exactly as on 1x (each copy of the shoppers has its copy of the sessions). With M ≠ N
  sessions are M times and orders N times the 1x counts, so the events' purchases per order are M/N times the
  1x ratio and the funnel page's reconciliation note (purchases vs orders placed) differs from 1x — expected
  for a store whose analytics and shop were scaled apart. (The demo's events are a separate analytics sample:
  they do not reconcile with the orders even at 1x.)
- **scaled in place**, one ``<table>.parquet``: ``ad_spend`` (impressions, clicks, spend, platform conversions
  and revenue), ``budgets`` (amount) — so ROAS, CPC, CTR, platform over-claim and budget pacing stay while N
  times the customers are acquired; ``purchase_orders`` (qty_ordered, qty_received, qty_rejected: fill and
  reject rates stay, lead times are the 1x ones) and ``inventory`` (on_hand, reserved, on_order) — N times the
  units sold against N times the stock and orders, so days of cover, the reorder points, the planted short
  stock, the stock-out and the dead stock stay.
- **unchanged**, one ``<table>.parquet``: ``products``, ``suppliers``, ``promotions``, ``price_observations``
  (a bigger shop sells the same catalogue at the same prices) and ``store.yaml``.

A table of :func:`ecomlib.demo.generate` that none of these lists names is an error (decide how it scales).

Example
-------
>>> write_scaled("/tmp/demo10", scale=10)                  # doctest: +SKIP
>>> load_dataset("/tmp/demo10", tables=["orders"]).orders.shape[0] == 10 * 158_891   # doctest: +SKIP
True
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

#: Tables copied N times with new ids: table → its id columns (suffixed ``-k`` in copy k ≥ 1).
COPIED: dict[str, tuple[str, ...]] = {
    "customers": ("customer_id",),
    "orders": ("order_id", "customer_id"),
    "order_items": ("order_id",),
    "returns": ("return_id", "order_id"),
    "shipments": ("shipment_id", "order_id", "tracking_id"),
    "tickets": ("ticket_id", "order_id", "customer_id"),
    "product_reviews": ("review_id", "order_id"),
    "experiments": ("unit_id",),
}
#: Tables written once with their counts and money multiplied by N: table → those columns (absent ones skipped).
SCALED: dict[str, tuple[str, ...]] = {
    "ad_spend": ("impressions", "clicks", "spend", "platform_conversions", "platform_revenue"),
    "budgets": ("amount",),
    "purchase_orders": ("qty_ordered", "qty_received", "qty_rejected"),
    "inventory": ("on_hand", "reserved", "on_order"),
}
#: Tables written once as they are.
STATIC: tuple[str, ...] = ("products", "suppliers", "promotions", "price_observations")
#: Copied M times (sessions); see the module docstring for its user ids.
EVENTS = "events"
PART = "part-{:05d}.parquet"
COMPRESSION = "zstd"
#: Parquet options of every file written: microsecond timestamps, because Spark refuses nanosecond ones
#: (PARQUET_TYPE_ILLEGAL TIMESTAMP(NANOS,false)) and store times carry no sub-microsecond digits.
PARQUET = {"compression": COMPRESSION, "coerce_timestamps": "us", "allow_truncated_timestamps": False}


def suffixed(values: pa.ChunkedArray | pa.Array, copy: int) -> pa.ChunkedArray | pa.Array:
    """The ids of copy ``copy``: unchanged for copy 0, with ``-<copy>`` appended otherwise (nulls stay null)."""
    if copy == 0:
        return values
    if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
        values = pc.cast(values, pa.string())
    return pc.binary_join_element_wise(values, pa.scalar(f"-{copy}", values.type), pa.scalar("", values.type))


def copy_table(table: pa.Table, ids: tuple[str, ...], copy: int) -> pa.Table:
    """``table`` with every column of ``ids`` (those present) suffixed for copy ``copy``."""
    for name in ids:
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, suffixed(table[name], copy))
    return table


def copy_events(events: pa.Table, customers: pa.Array, copy: int, scale: int) -> pa.Table:
    """Events copy ``copy``: sessions and anonymous users of this copy, customers of copy ``copy mod scale``."""
    user = events["user_id"]
    is_customer = pc.is_in(user, value_set=customers)
    users = pc.if_else(is_customer, suffixed(user, copy % scale), suffixed(user, copy))
    out = events.set_column(events.column_names.index("user_id"), "user_id", users)
    return copy_table(out, ("session_id",), copy)


def scale_table(table: pa.Table, columns: tuple[str, ...], factor: int) -> pa.Table:
    """``table`` with the ``columns`` present multiplied by ``factor`` (integers stay integers, nulls stay null)."""
    for name in columns:
        if name in table.column_names:
            column = table[name]
            table = table.set_column(table.column_names.index(name), name,
                                     pc.multiply(column, pa.scalar(factor, column.type)))
    return table


def remove_tables(out: str | Path, names) -> None:
    """Delete the files of ``names`` in ``out`` (``<t>.parquet``, ``<t>.csv`` and the parts in ``<t>/``).

    A stale file would shadow or join the new one: the loader prefers ``<t>.parquet`` over the folder ``<t>/``
    over ``<t>.csv``, and reads every part of a folder.
    """
    out = Path(out)
    for name in names:
        for suffix in (".parquet", ".csv"):
            (out / f"{name}{suffix}").unlink(missing_ok=True)
        folder = out / name
        if folder.is_dir():
            for part in folder.glob("*.parquet"):
                part.unlink()
            if not any(folder.iterdir()):
                folder.rmdir()


def scaled_recipe(seed: int, plants: bool, scale: int, events_scale: int) -> str:
    """The fingerprint written to ``.recipe`` of a scaled store (the 1x recipe and both factors)."""
    from .demo import recipe

    return f"{recipe(seed, plants)} scale={scale} events_scale={events_scale}"


def write_scaled(out: str | Path, *, seed: int = 42, plants: bool = True, scale: int,
                 events_scale: int | None = None, tables: dict | None = None) -> dict[str, Path]:
    """Write the demo store ``scale`` times its size (``events_scale`` times its events) as Parquet, copy by copy.

    Parameters
    ----------
    out : folder to write; the files of the tables written are replaced (other files are left alone).
    seed, plants : as for :func:`ecomlib.demo.generate`.
    scale : N ≥ 1, copies of the shoppers and everything that grows with them (module docstring).
    events_scale : M ≥ 1, copies of the web events; default N.
    tables : the 1x store as returned by :func:`ecomlib.demo.generate` (default: generated from ``seed`` and
        ``plants``); passed by tests that write several scales of one store. The dict is emptied while writing
        (each table is converted to Arrow and the pandas frame let go).

    Returns
    -------
    table → written path (a ``<table>/`` folder of N or M part files, or one ``<table>.parquet``) and
    ``store`` → ``store.yaml``.
    """
    from .demo import STORE, generate

    if scale < 1 or (events_scale is not None and events_scale < 1):
        from .errors import ParameterError
        raise ParameterError(f"scale and events_scale must be whole numbers ≥ 1, not {scale} and {events_scale}")
    events_scale = scale if events_scale is None else events_scale
    tables = generate(seed, plants=plants) if tables is None else tables
    known = set(COPIED) | set(SCALED) | set(STATIC) | {EVENTS}
    unknown = sorted(set(tables) - known)
    if unknown:
        raise ValueError(f"ecomlib.demo_scale does not know how table(s) {unknown} scale: add them to COPIED, "
                         f"SCALED or STATIC")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    remove_tables(out, list(tables))
    written: dict[str, Path] = {}
    arrow: dict[str, pa.Table] = {}
    for name in list(tables):
        table = pa.Table.from_pandas(tables.pop(name), preserve_index=False).replace_schema_metadata(None)
        if name in COPIED or name == EVENTS:
            arrow[name] = table
            continue
        if name in SCALED:
            table = scale_table(table, SCALED[name], scale)
        written[name] = out / f"{name}.parquet"
        pq.write_table(table, written[name], **PARQUET)
    customers = (arrow["customers"]["customer_id"].combine_chunks() if "customers" in arrow
                 else pa.array([], pa.string()))
    for name in arrow:
        written[name] = out / name
        written[name].mkdir(exist_ok=True)
    # The chunked write: copy k of each table is built, written and dropped before copy k + 1.
    for k in range(max(scale, events_scale)):
        for name, table in arrow.items():
            if name == EVENTS:
                if k < events_scale:
                    pq.write_table(copy_events(table, customers, k, scale), written[name] / PART.format(k),
                                   **PARQUET)
            elif k < scale:
                pq.write_table(copy_table(table, COPIED[name], k), written[name] / PART.format(k),
                               **PARQUET)
    (out / "store.yaml").write_text(yaml.safe_dump(STORE, allow_unicode=True, sort_keys=False), encoding="utf-8")
    written["store"] = out / "store.yaml"
    (out / ".recipe").write_text(scaled_recipe(seed, plants, scale, events_scale) + "\n")
    return written
