"""Supplier performance: OTIF scorecard, lead-time reliability, goods-receipt quality, price variance, reorder points.

The unit of a delivery is a purchase-order line (``po_id``, ``sku``). A line is *received* when it has a
``received_at`` before the review's ``as_of`` moment (the period's end), otherwise it is *open*. Delivery KPIs
(on time, in full, OTIF, fill rate, lead time, rejects, price variance) use received lines only; open lines are
listed separately. Lines enter a review window by their **promised** date, so a window judges what suppliers
were due to deliver in it.

Windows and comparisons. Suppliers get roughly one purchase order every nine days in the demo store, so a
weekly review would judge each supplier on a handful of lines: delivery KPIs use a **trailing window** of
``window_days`` (90 by default) ending at the period's end, and every label says so ("OTIF, trailing 90 days").
The previous value of a headline is the same headline computed for the comparison period as of its end
(``before = compute(ds, comparison)``: the trailing window ending at the comparison period's end), so reviewing
the comparison period reproduces it (:func:`trailing_window`).

Definitions (all rates are fractions in [0, 1]; money in the store currency; times in days):

- ``days_late`` = received_at − promised_at (negative when early); *on time* when ``days_late ≤
  on_time_tolerance_days`` (early deliveries count as on time unless ``early_tolerance_days`` is given);
- *late* — one definition for the scorecard and the open-line list: more than ``on_time_tolerance_days`` past
  the promised date (a received line delivered after the grace, or an open line whose promise plus grace has
  passed at ``as_of``); an open line past its promise but within the grace is *at risk*, not late;
- *in full* when ``qty_received ≥ fill_threshold × qty_ordered``; *OTIF* when both, so OTIF ≤ min(on time, in full);
- fill rate = units received, **capped at the ordered quantity per line**, / units ordered (≤ 100 %);
  over-delivered units are shown as such (``over_units``, ``n_over_delivered``, ``over_value``) and never improve
  a score: rejects and price variance are scored on units up to the ordered quantity too (rejects scaled by the
  line's own reject share);
- lead time = received_at − ordered_at; its coefficient of variation (CV) = sd / mean;
- rejects in ppm = units rejected at goods receipt per million units received (up to the ordered quantity);
- price variance = (unit_cost_invoiced − unit_cost_agreed) × qty_received, and as a share of the agreed value;
- quality-return rate = the returns review's definition (:func:`ecomlib.returns.quality_return_rate`, reason
  ``quality_defect``): units returned for a quality reason **matched to the sales they came from**, per unit
  sold, over sales of the ``window_days`` ending ``maturity_days`` before the period's end (so every sale has
  had time to come back), per supplier of the SKU.

Money at stake (per supplier and in total, over the trailing window, store currency, at the agreed unit cost):
``short_value`` = units ordered but not received on received lines; ``late_value`` = units received late;
``price_variance`` = paid above (below, negative) the agreed price; ``money_at_stake`` = short_value +
max(price_variance, 0); open late lines carry ``open_value`` (ordered units × agreed cost).

Minimum data (:data:`MINIMUM_DATA`, shown on the page): the scorecard needs one received purchase-order line
promised in the trailing window, and grades and ranks a supplier with at least ``min_deliveries`` (5) of them;
the worst-supplier comparison and the tests across suppliers need two suppliers with at least 5 each; quality
returns need the orders, order_items and products tables (an absent or empty returns table means no returns);
reorder points need them too, and the SKUs below their reorder point need an inventory table with a stock
count at or before the period's end. A section that cannot be computed records a :class:`~ecomlib.review.Gap`.

Edge cases, as implemented and tested:

- *zero-quantity lines* (``qty_ordered == 0``, e.g. a cancelled line) keep their dates for lead-time KPIs but
  are left out of the on-time, in-full, OTIF and fill rates (they delivered nothing; and so OTIF ≤ min(on time,
  in full) holds for the rates whenever received lines carry their quantities) and of the open list; lines
  received without a received quantity (some ERP exports) count for on time only;
- *repeated deliveries*: the contract rejects two rows with the same (po_id, sku), but a table built by
  hand may hold one row per shipment. :func:`delivery_lines` first drops rows identical in every column
  (export duplicates), then merges the remaining rows of a line into one: quantities received and
  rejected add up, ``qty_ordered`` is taken once (the largest), the invoiced unit cost is the
  quantity-weighted mean, and ``received_at`` is the *last* shipment's — a line split over shipments
  is on time only when its last part is;
- *not yet received*: excluded from delivery KPIs (this flatters the on-time rate of a window whose late
  lines have not arrived yet, so the scorecard shows ``n_open_late`` next to it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from scipy import stats as sps

from .dataset import require_columns
from .errors import ParameterError
from .i18n import Messages
from .periods import Period
from .report import Headline
from .review import Finding, Gap, Result, load_tables, number
from .stats import (adjust_pvalues, chi_square_residuals, minimum_detectable_difference, two_proportion_test,
                    wilson_interval)

PO_COLUMNS = ("po_id", "supplier_id", "sku", "ordered_at", "promised_at", "received_at", "qty_ordered",
              "qty_received", "qty_rejected", "unit_cost_agreed", "unit_cost_invoiced")
DAY = pd.Timedelta(days=1)

#: KPI → (value scoring 1, value scoring 0); sub-scores are linear in between and clipped to [0, 1].
SCALES: dict[str, tuple[float, float]] = {
    "otif_rate": (1.0, 0.0), "on_time_rate": (1.0, 0.0), "in_full_rate": (1.0, 0.0), "fill_rate": (1.0, 0.5),
    "reject_ppm": (0.0, 50_000.0), "quality_return_rate": (0.0, 0.10), "price_variance_pct": (0.0, 0.05),
    "lead_time_cv": (0.0, 0.5),
}
#: KPI → (pessimistic bound column, optimistic bound column) for KPIs that have an interval.
BOUNDS: dict[str, tuple[str, str]] = {
    "otif_rate": ("otif_low", "otif_high"), "on_time_rate": ("on_time_low", "on_time_high"),
    "in_full_rate": ("in_full_low", "in_full_high"), "reject_ppm": ("reject_ppm_high", "reject_ppm_low"),
    "quality_return_rate": ("quality_return_high", "quality_return_low"),
}
DEFAULT_WEIGHTS: dict[str, float] = {"otif_rate": 0.35, "fill_rate": 0.15, "reject_ppm": 0.15,
                                     "quality_return_rate": 0.15, "price_variance_pct": 0.10, "lead_time_cv": 0.10}
#: (lowest score, grade), best first; below the last threshold the grade is "D".
GRADES: tuple[tuple[float, str], ...] = ((85.0, "A"), (70.0, "B"), (55.0, "C"))
#: How each KPI is shown in sentences and tables (an ``ecomlib.i18n.Messages.format`` kind).
KPI_FORMATS = {"otif_rate": "pct", "on_time_rate": "pct", "in_full_rate": "pct", "fill_rate": "pct",
               "reject_ppm": "int", "quality_return_rate": "pct", "price_variance_pct": "pct", "lead_time_cv": "num"}


# Windows ------------------------------------------------------------------------------------------------

def trailing_window(period: Period, *, window_days: int = 90) -> Period:
    """The trailing window of ``window_days`` that ends with ``period`` (the whole period when it is longer).

    Delivery KPIs judge the lines promised in it; the comparison period's result uses the window ending at the
    comparison period's end, so the previous value of a headline is that headline as of the comparison's end.

    Example
    -------
    >>> from ecomlib.periods import parse_period
    >>> trailing_window(parse_period("2026-W47"), window_days=90).label
    '2026-08-25_2026-11-22'
    """
    if window_days is None or isinstance(window_days, bool) or not isinstance(window_days, (int, np.integer)) \
            or window_days < 1:
        raise ParameterError(f"window_days must be a whole number of days ≥ 1, not {window_days!r}", name="window_days")
    length = pd.Timedelta(days=max(int(window_days), period.days))
    return Period(period.end - length, period.end, "custom")


def data_range(purchase_orders: pd.DataFrame, orders: pd.DataFrame | None = None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last timestamp of the purchase orders (ordered / received) and, when given, of the orders.

    Example
    -------
    >>> po = pd.DataFrame({"ordered_at": pd.to_datetime(["2026-01-02"]), "received_at": pd.to_datetime(["2026-01-20"])})
    >>> [t.date().isoformat() for t in data_range(po)]
    ['2026-01-02', '2026-01-20']
    """
    stamps = [purchase_orders["ordered_at"], purchase_orders["received_at"]]
    if orders is not None:
        stamps.append(orders["order_time"])
    return min(s.min() for s in stamps), max(s.max() for s in stamps)


# Delivery lines ---------------------------------------------------------------------------------------

def _check_range(name: str, value, lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False) -> None:
    ok = value is not None and not (isinstance(value, float) and np.isnan(value))
    if ok:
        ok = (value > lo if lo_open else value >= lo) and (value < hi if hi_open else value <= hi)
    if not ok:
        left, right = "(" if lo_open else "[", ")" if hi_open else "]"
        raise ParameterError(f"{name} must be in {left}{lo:g}, {hi:g}{right}, not {value!r}", name=name)


def _consolidate(po: pd.DataFrame) -> pd.DataFrame:
    """One row per (po_id, sku): drop exact duplicate rows, then merge shipments of the same line."""
    po = po.drop_duplicates(subset=list(PO_COLUMNS))
    dup = po.duplicated(["po_id", "sku"], keep=False)
    if not dup.any():
        return po.assign(n_shipments=po["received_at"].notna().astype(int))
    many = po[dup].assign(_invoiced=po["qty_received"] * po["unit_cost_invoiced"])
    g = many.groupby(["po_id", "sku"], sort=False)
    merged = g.agg(supplier_id=("supplier_id", "first"), ordered_at=("ordered_at", "min"),
                   promised_at=("promised_at", "min"), received_at=("received_at", "max"),
                   qty_ordered=("qty_ordered", "max"), unit_cost_agreed=("unit_cost_agreed", "first"),
                   n_shipments=("received_at", "count"))
    merged = merged.join(g[["qty_received", "qty_rejected", "_invoiced"]].sum(min_count=1)).reset_index()
    merged["unit_cost_invoiced"] = (merged["_invoiced"] / merged["qty_received"].where(merged["qty_received"] > 0))
    single = po[~dup].assign(n_shipments=po.loc[~dup, "received_at"].notna().astype(int))
    return pd.concat([single, merged.drop(columns="_invoiced")], ignore_index=True)


def delivery_lines(purchase_orders: pd.DataFrame, *, as_of: pd.Timestamp | str | None = None,
                   on_time_tolerance_days: float = 1.0, fill_threshold: float = 0.95,
                   early_tolerance_days: float | None = None, suppliers: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per purchase-order line with its delivery outcome as known at ``as_of``.

    Parameters
    ----------
    purchase_orders : contract ``purchase_orders`` table (po_id, supplier_id, sku, ordered_at, promised_at,
        received_at, qty_ordered, qty_received, qty_rejected, unit_cost_agreed, unit_cost_invoiced).
    as_of : the moment of the review (exclusive). Lines ordered at or after it are dropped; shipments received
        at or after it count as not yet received. Default: the day after the last ordered/received timestamp.
    on_time_tolerance_days : days after the promised date that still count as on time (days).
    fill_threshold : share of the ordered quantity that makes a line "in full" (fraction in (0, 1]).
    early_tolerance_days : when given, a line received more than this many days before its promised date is
        *not* on time (for buyers who penalise early stock); default None = early is on time.
    suppliers : contract ``suppliers`` table; when given its ``supplier_name`` is added.

    Returns
    -------
    A new DataFrame, one row per (po_id, sku), holding the contract columns (repeated shipments merged, see
    the module notes) plus: ``n_shipments``; ``status`` (``"received"``/``"open"``); ``lead_time_days``,
    ``promised_lead_days``, ``days_late`` (days; NaN while open); ``on_time``, ``in_full``, ``otif``
    (nullable booleans, NA where undefined); ``late`` (more than ``on_time_tolerance_days`` past the promise:
    received after the grace, or still open when the promise plus grace has passed — the one lateness
    definition of the scorecard and the open-line list); ``fill_rate`` (received units capped at the ordered
    quantity / ordered: ≤ 1); ``partial`` (received less than ordered); ``over_units`` (units received beyond
    the ordered quantity), ``short_units`` (ordered but not received, on received lines); ``scored_units``
    (received units up to the ordered quantity) and ``scored_rejected`` (rejects scaled to them);
    ``agreed_value``, ``invoiced_value``, ``price_variance`` (money, on units received); ``overdue_days``
    (open lines: days from the promised date to ``as_of``, negative while not yet due).

    Example
    -------
    >>> po = pd.DataFrame({"po_id": ["P1"], "supplier_id": ["S1"], "sku": ["A"],
    ...     "ordered_at": pd.to_datetime(["2026-01-01"]), "promised_at": pd.to_datetime(["2026-01-11"]),
    ...     "received_at": pd.to_datetime(["2026-01-14"]), "qty_ordered": [100], "qty_received": [90.0],
    ...     "qty_rejected": [1.0], "unit_cost_agreed": [10.0], "unit_cost_invoiced": [10.5]})
    >>> row = delivery_lines(po).iloc[0]
    >>> float(row["days_late"]), bool(row["on_time"]), bool(row["in_full"]), float(row["price_variance"])
    (3.0, False, False, 45.0)
    """
    require_columns(purchase_orders, PO_COLUMNS, table="purchase_orders")
    _check_range("on_time_tolerance_days", on_time_tolerance_days, 0, np.inf)
    _check_range("fill_threshold", fill_threshold, 0, 1, lo_open=True)
    if early_tolerance_days is not None:
        _check_range("early_tolerance_days", early_tolerance_days, 0, np.inf)
    po = purchase_orders
    if as_of is None:
        as_of = max(po["ordered_at"].max(), po["received_at"].max()).normalize() + DAY
    as_of = pd.Timestamp(as_of)
    po = po[po["ordered_at"] < as_of]
    later = po["received_at"] >= as_of
    if later.any():
        po = po.assign(received_at=po["received_at"].mask(later),
                       **{c: po[c].mask(later) for c in ("qty_received", "qty_rejected", "unit_cost_invoiced")})
    lines = _consolidate(po).reset_index(drop=True)

    received = lines["received_at"].notna()
    qty_ok = received & (lines["qty_ordered"] > 0) & lines["qty_received"].notna()
    days_late = (lines["received_at"] - lines["promised_at"]) / DAY
    on_time = days_late <= on_time_tolerance_days
    if early_tolerance_days is not None:
        on_time &= days_late >= -early_tolerance_days
    in_full = lines["qty_received"] >= fill_threshold * lines["qty_ordered"]
    qty_received = lines["qty_received"].where(received)
    valued = received & lines["unit_cost_invoiced"].notna() & qty_received.notna()
    agreed_value = (qty_received * lines["unit_cost_agreed"]).where(valued)
    invoiced_value = (qty_received * lines["unit_cost_invoiced"]).where(valued)
    ordered = lines["qty_ordered"].where(lines["qty_ordered"] > 0)
    capped = np.minimum(lines["qty_received"], lines["qty_ordered"]).where(qty_ok)
    overdue = ((as_of - lines["promised_at"]) / DAY).where(~received)
    late = (days_late > on_time_tolerance_days).where(received, overdue > on_time_tolerance_days)
    # rejects and money are scored on units up to the ordered quantity: over-delivery never improves a score
    scored_units = capped.where(qty_ok, qty_received)
    share = (scored_units / qty_received.where(qty_received > 0)).fillna(1.0)
    out = lines.assign(
        status=np.where(received, "received", "open"),
        lead_time_days=(lines["received_at"] - lines["ordered_at"]) / DAY,
        promised_lead_days=(lines["promised_at"] - lines["ordered_at"]) / DAY,
        days_late=days_late,
        on_time=pd.array(on_time, dtype="boolean"),
        in_full=pd.array(in_full, dtype="boolean"),
        late=pd.array(late.astype("boolean"), dtype="boolean"),
        fill_rate=(capped / ordered).where(qty_ok),
        partial=pd.array(lines["qty_received"] < lines["qty_ordered"], dtype="boolean"),
        over_units=(lines["qty_received"] - lines["qty_ordered"]).clip(lower=0).where(qty_ok),
        short_units=(lines["qty_ordered"] - lines["qty_received"]).clip(lower=0).where(qty_ok),
        scored_units=scored_units, scored_rejected=lines["qty_rejected"].where(received) * share,
        agreed_value=agreed_value, invoiced_value=invoiced_value, price_variance=invoiced_value - agreed_value,
        overdue_days=overdue,
    )
    out.loc[days_late.isna() & overdue.isna(), "late"] = pd.NA
    out.loc[~received, "on_time"] = pd.NA
    out.loc[~qty_ok, ["in_full", "partial"]] = pd.NA
    out["otif"] = out["on_time"] & out["in_full"]
    out.loc[~qty_ok, "otif"] = pd.NA
    if suppliers is not None:
        out = out.merge(suppliers[["supplier_id", "supplier_name"]], on="supplier_id", how="left")
    return out


def open_lines(lines: pd.DataFrame, *, at_risk_days: float = 7.0) -> pd.DataFrame:
    """Open purchase-order lines that are late or at risk, by the same lateness rule as the scorecard.

    Parameters
    ----------
    lines : output of :func:`delivery_lines` (its ``as_of`` decides what is open and overdue, and its ``late``
        column — more than the on-time tolerance past the promise — what is late).
    at_risk_days : an open line that is not late and is due within this many days of ``as_of`` (or already past
        its promise but inside the on-time tolerance) is "at risk" (days).

    Returns
    -------
    One row per listed line, most overdue first: po_id, supplier_id, [supplier_name,] sku, ordered_at,
    promised_at, qty_ordered, open_value (qty_ordered × unit_cost_agreed, money), days_overdue (days past the
    promised date; negative = days left), state (``"late"`` or ``"at_risk"``). Zero-quantity lines are
    not listed.

    Example
    -------
    >>> lines = pd.DataFrame({"po_id": ["P1", "P2", "P3"], "supplier_id": ["S1"] * 3, "sku": ["A", "B", "C"],
    ...     "ordered_at": pd.to_datetime(["2026-01-01"] * 3),
    ...     "promised_at": pd.to_datetime(["2026-01-10", "2026-01-14", "2026-01-25"]),
    ...     "qty_ordered": [10, 5, 5], "unit_cost_agreed": [2.0, 3.0, 3.0], "status": ["open"] * 3,
    ...     "overdue_days": [5.0, 0.6, -10.0], "late": [True, False, False]})
    >>> open_lines(lines)[["po_id", "state", "open_value"]].values.tolist()
    [['P1', 'late', 20.0], ['P2', 'at_risk', 15.0]]
    """
    _check_range("at_risk_days", at_risk_days, 0, np.inf)
    require_columns(lines, ("status", "qty_ordered", "overdue_days", "late", "unit_cost_agreed"), table="delivery_lines output")
    late = lines["late"].fillna(False).astype(bool)
    keep = (lines["status"] == "open") & (lines["qty_ordered"] > 0) & (late | (lines["overdue_days"] > -at_risk_days))
    cols = [c for c in ("po_id", "supplier_id", "supplier_name", "sku", "ordered_at", "promised_at", "qty_ordered")
            if c in lines]
    out = lines.loc[keep, cols].assign(
        open_value=lines.loc[keep, "qty_ordered"] * lines.loc[keep, "unit_cost_agreed"],
        days_overdue=lines.loc[keep, "overdue_days"],
        state=np.where(late[keep], "late", "at_risk"))
    return out.sort_values(["days_overdue", "po_id", "sku"], ascending=[False, True, True]).reset_index(drop=True)


# KPIs -------------------------------------------------------------------------------------------------

def _keys(by: str | Sequence[str] | None) -> list[str]:
    return [] if by is None else [by] if isinstance(by, str) else list(by)


def _in_window(df: pd.DataFrame, column: str, window: Period | None) -> pd.DataFrame:
    return df if window is None else df[window.contains(df[column])]


def supplier_kpis(lines: pd.DataFrame, *, window: Period | None = None, by: str | Sequence[str] | None = "supplier_id",
                  quality: pd.DataFrame | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """Delivery, quality and cost KPIs per supplier (or per SKU, or overall) for lines promised in ``window``.

    Parameters
    ----------
    lines : output of :func:`delivery_lines`.
    window : lines whose ``promised_at`` falls in it are judged; None = all lines.
    by : grouping column(s): ``"supplier_id"`` (default), ``"sku"``, ``["supplier_id", "sku"]``, or None for one
        overall row.
    quality : output of :func:`quality_return_rates` with the same ``by``; its rate columns are joined.
    alpha : 1 − confidence level of the Wilson intervals.

    Returns
    -------
    One row per group with: ``n_lines`` (promised in the window), ``n_open``, ``n_open_late`` (open and late by
    the tolerance rule), ``n_deliveries`` (received lines), ``n_timed`` (received lines with a non-zero ordered
    quantity: the on-time base); counts ``on_time``, ``n_qty_lines`` (received lines with a quantity), ``in_full``, ``otif``, ``n_partial``, ``n_early`` (received before the promised date),
    ``n_late`` (received after the tolerance), ``n_over_delivered``; rates ``on_time_rate``, ``in_full_rate``,
    ``otif_rate`` with ``*_low``/``*_high`` Wilson bounds; units ``qty_ordered`` (of received lines with a
    quantity: the fill-rate denominator), ``qty_received`` and ``qty_rejected`` (as delivered), ``scored_units``
    and ``scored_rejected`` (up to the ordered quantity: the ppm base), ``over_units``, ``short_units``;
    ``fill_rate`` (≤ 1); ``reject_ppm`` with Wilson bounds ``reject_ppm_low``/``_high``; ``lead_time_mean``,
    ``lead_time_median``, ``lead_time_p90``, ``lead_time_sd``, ``lead_time_cv``, ``promised_lead_mean``,
    ``days_late_mean``, ``days_late_median``, ``days_late_p90`` (days); money ``agreed_value``,
    ``price_variance``, ``short_value``, ``late_value``, ``over_value``, ``money_at_stake`` (see the module
    notes) and ``price_variance_pct`` (on units up to the ordered quantity); plus, with ``quality``,
    ``units_sold``, ``quality_returns``, ``quality_return_rate`` and its bounds.

    Example
    -------
    >>> po = pd.DataFrame({"po_id": ["P1", "P2"], "supplier_id": ["S1", "S1"], "sku": ["A", "A"],
    ...     "ordered_at": pd.to_datetime(["2026-01-01", "2026-01-05"]),
    ...     "promised_at": pd.to_datetime(["2026-01-11", "2026-01-15"]),
    ...     "received_at": pd.to_datetime(["2026-01-11", "2026-01-20"]), "qty_ordered": [100, 100],
    ...     "qty_received": [100.0, 100.0], "qty_rejected": [0.0, 2.0], "unit_cost_agreed": [1.0, 1.0],
    ...     "unit_cost_invoiced": [1.0, 1.0]})
    >>> k = supplier_kpis(delivery_lines(po))
    >>> k.loc[0, ["otif_rate", "fill_rate", "reject_ppm"]].tolist()
    [0.5, 1.0, 10000.0]
    """
    keys = _keys(by)
    df = _in_window(lines, "promised_at", window)
    rec = df["status"] == "received"
    qty = df["qty_received"].notna() & (df["qty_ordered"] > 0) & rec
    rej = rec & df["qty_rejected"].notna() & df["qty_received"].notna()
    late = df["late"].fillna(False).astype(bool)
    timed = rec & (df["qty_ordered"] != 0)  # a zero-quantity (cancelled) line delivered nothing to be on time with
    agreed_unit = df["unit_cost_agreed"]
    scored_agreed = (df["scored_units"] * agreed_unit).where(df["agreed_value"].notna())
    scored_variance = (df["scored_units"] * (df["unit_cost_invoiced"] - agreed_unit)).where(df["agreed_value"].notna())
    work = pd.DataFrame({
        "n_lines": 1, "n_open": (~rec).astype(int), "n_open_late": (~rec & late).astype(int),
        "n_late": (rec & late).astype(int), "n_over_delivered": (df["over_units"] > 0).astype(int),
        "over_units": df["over_units"].where(qty, 0), "short_units": df["short_units"].where(qty, 0),
        "scored_units": df["scored_units"].where(rej, 0), "scored_rejected": df["scored_rejected"].where(rej, 0),
        "short_value": (df["short_units"] * agreed_unit).where(qty, 0),
        "over_value": (df["over_units"] * agreed_unit).where(qty, 0),
        "late_value": (df["qty_received"] * agreed_unit).where(rec & late, 0).fillna(0),
        "scored_agreed": scored_agreed, "scored_variance": scored_variance,
        "n_deliveries": rec.astype(int), "n_timed": timed.astype(int),
        "on_time": df["on_time"].where(timed).fillna(False).astype(int),
        "n_qty_lines": qty.astype(int), "in_full": df["in_full"].fillna(False).astype(int),
        "otif": df["otif"].fillna(False).astype(int), "n_partial": df["partial"].fillna(False).astype(int),
        "n_early": (df["days_late"] < 0).astype(int),
        "qty_ordered": df["qty_ordered"].where(qty, 0), "qty_received_q": df["fill_rate"].mul(df["qty_ordered"]).where(qty, 0),
        "qty_received": df["qty_received"].where(rej, 0), "qty_rejected": df["qty_rejected"].where(rej, 0),
        "agreed_value": df["agreed_value"], "price_variance": df["price_variance"],
        "lead_time_days": df["lead_time_days"], "promised_lead_days": df["promised_lead_days"].where(rec),
        "days_late": df["days_late"],
    }, index=df.index)
    for k in keys:
        work[k] = df[k]
    if keys:
        grouped = work.groupby(keys, observed=True, sort=True)
    else:
        grouped = work.assign(_all=0).groupby("_all")
    sums = grouped[_KPI_SUMS].sum()
    if not keys:  # one overall row, even when no line is due in the window
        sums = sums.reindex(pd.Index([0], name="_all"), fill_value=0)
    money = grouped[_KPI_MONEY].sum(min_count=1)
    lead = grouped["lead_time_days"]
    late = grouped["days_late"]
    stats = pd.DataFrame({
        "lead_time_mean": lead.mean(), "lead_time_median": lead.median(), "lead_time_p90": lead.quantile(0.9),
        "lead_time_sd": lead.std(), "promised_lead_mean": grouped["promised_lead_days"].mean(),
        "days_late_mean": late.mean(), "days_late_median": late.median(), "days_late_p90": late.quantile(0.9)})
    return _kpi_table(sums, money, stats, keys, quality=quality, alpha=alpha)


#: The sums, money sums (empty when no value is known) and statistics :func:`supplier_kpis` takes per group.
_KPI_SUMS = ["n_lines", "n_open", "n_open_late", "n_deliveries", "n_timed", "on_time", "n_qty_lines", "in_full", "otif",
             "n_partial", "n_early", "n_late", "n_over_delivered", "qty_ordered", "qty_received_q", "qty_received",
             "qty_rejected", "scored_units", "scored_rejected", "over_units", "short_units", "short_value",
             "over_value", "late_value"]
_KPI_FLOATS = ["qty_received_q", "qty_received", "qty_rejected", "scored_units", "scored_rejected", "over_units",
               "short_units", "short_value", "over_value", "late_value"]
_KPI_MONEY = ["agreed_value", "price_variance", "scored_agreed", "scored_variance"]
_KPI_STATS = ["lead_time_mean", "lead_time_median", "lead_time_p90", "lead_time_sd", "promised_lead_mean",
              "days_late_mean", "days_late_median", "days_late_p90"]


def _kpi_table(sums: pd.DataFrame, money: pd.DataFrame, stats: pd.DataFrame, keys: list[str], *,
               quality: pd.DataFrame | None, alpha: float) -> pd.DataFrame:
    """:func:`supplier_kpis` from its per-group sums, money sums and statistics (indexed by the groups, or ``_all``)."""
    out = sums.assign(
        fill_rate=sums["qty_received_q"] / sums["qty_ordered"].where(sums["qty_ordered"] > 0),
        reject_ppm=1e6 * sums["scored_rejected"] / sums["scored_units"].where(sums["scored_units"] > 0),
        **{c: stats[c] for c in _KPI_STATS},
        agreed_value=money["agreed_value"], price_variance=money["price_variance"],
    ).drop(columns="qty_received_q")
    out["money_at_stake"] = out["short_value"] + out["price_variance"].fillna(0).clip(lower=0)
    out["lead_time_cv"] = out["lead_time_sd"] / out["lead_time_mean"].where(out["lead_time_mean"] > 0)
    out["price_variance_pct"] = money["scored_variance"] / money["scored_agreed"].where(money["scored_agreed"] > 0)
    for name, hits, trials in (("on_time", "on_time", "n_timed"), ("in_full", "in_full", "n_qty_lines"),
                               ("otif", "otif", "n_qty_lines")):
        out[f"{name}_rate"] = out[hits] / out[trials].where(out[trials] > 0)
        out[f"{name}_low"], out[f"{name}_high"] = wilson_interval(out[hits], out[trials], alpha=alpha)
    lo, hi = wilson_interval(out["scored_rejected"], out["scored_units"], alpha=alpha)
    out["reject_ppm_low"], out["reject_ppm_high"] = 1e6 * lo, 1e6 * hi
    out = out.reset_index()
    if not keys:
        out = out.drop(columns="_all")
    if quality is not None:
        if not keys:
            out = pd.concat([out, quality.drop(columns=[c for c in out if c in quality]).reset_index(drop=True)], axis=1)
        else:
            out = out.merge(quality, on=keys, how="left")
    return out


def supplier_kpis_on(engine, *, as_of: pd.Timestamp | str, window: Period,
                     by: str | Sequence[str] | None = "supplier_id", on_time_tolerance_days: float = 1.0,
                     fill_threshold: float = 0.95, early_tolerance_days: float | None = None,
                     quality: pd.DataFrame | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """:func:`supplier_kpis` of :func:`delivery_lines` run on a query engine over the source's ``purchase_orders``.

    The same table as ``supplier_kpis(delivery_lines(purchase_orders, as_of=as_of, ...), window=window, by=by,
    quality=quality)`` from ``ecomlib/sql/supplier_rates.sql``: the purchase-order lines never come into pandas.
    Counts are lines, units are units, money is in the store currency, days are days, rates are fractions.
    Where one (po_id, sku) has several shipment rows that disagree on ``supplier_id`` or ``unit_cost_agreed``,
    the SQL keeps the smallest value, pandas the first row's (the table's row order, which SQL does not have).

    Parameters
    ----------
    engine : an :class:`ecomlib.engine.Engine` whose source holds ``purchase_orders``.
    as_of, on_time_tolerance_days, fill_threshold, early_tolerance_days : as in :func:`delivery_lines`.
    window : lines promised in it are judged (:func:`trailing_window`).
    by : ``"supplier_id"`` (default), ``"sku"``, ``["supplier_id", "sku"]`` or None for one overall row.
    quality, alpha : as in :func:`supplier_kpis` (the quality table is joined in pandas).

    Example
    -------
    >>> eng = ecomlib.engine.connect("duckdb", "data/demo")                                  # doctest: +SKIP
    >>> p = parse_period("2026-W47")                                                         # doctest: +SKIP
    >>> supplier_kpis_on(eng, as_of=p.end, window=trailing_window(p))[["supplier_id", "otif_rate"]]  # doctest: +SKIP
    """
    from .engine import literal

    keys = _keys(by)
    unknown = [k for k in keys if k not in ("supplier_id", "sku")]
    if unknown:
        raise ParameterError(f"supplier_kpis_on groups by supplier_id and/or sku, not {unknown[0]!r}", name="by")
    _check_range("on_time_tolerance_days", on_time_tolerance_days, 0, np.inf)
    _check_range("fill_threshold", fill_threshold, 0, 1, lo_open=True)
    if early_tolerance_days is not None:
        _check_range("early_tolerance_days", early_tolerance_days, 0, np.inf)
    as_of = pd.Timestamp(as_of)
    table = engine.reduce("supplier_rates", keys=keys, as_of=as_of, start=window.start, stop=window.end,
                          tolerance=float(on_time_tolerance_days), fill=float(fill_threshold),
                          early=None if early_tolerance_days is None else float(early_tolerance_days),
                          scans={"purchase_orders": f"ordered_at < {literal(as_of)}"})
    if keys:
        table = table.astype({k: "str" for k in keys}).sort_values(keys, kind="stable").set_index(keys)
    else:
        table.index = pd.Index([0], name="_all")
    ints = [c for c in _KPI_SUMS if c not in _KPI_FLOATS]
    table = table.astype({**{c: "int64" for c in ints}, **{c: "float64" for c in _KPI_FLOATS + _KPI_MONEY + _KPI_STATS}})
    return _kpi_table(table[_KPI_SUMS], table[_KPI_MONEY], table[_KPI_STATS], keys, quality=quality, alpha=alpha)


def is_quality_return(returns: pd.DataFrame) -> pd.Series:
    """True for returns whose reason is a product-quality problem (``quality_defect`` in the returns taxonomy).

    Uses :func:`ecomlib.returns.map_reasons` with the packaged rules (platform codes first, then Chinese and
    English keywords), so both reviews agree on what a quality return is.

    Example
    -------
    >>> r = pd.DataFrame({"reason_code": ["DEFECTIVE", None, None, "SIZE_TOO_SMALL"],
    ...                   "reason_text": [None, "用了两天就坏了", "Stopped working", None]})
    >>> is_quality_return(r).tolist()
    [True, True, True, False]
    """
    from .returns import map_reasons

    reason = map_reasons(returns[["reason_code", "reason_text"]])["reason"]
    return pd.Series((reason == "quality_defect").to_numpy(), index=returns.index, name="quality")


RETURN_COLUMNS = ("return_id", "order_id", "sku", "returned_at", "quantity", "refund_amount", "reason_code",
                  "reason_text")


def quality_return_rates(returns: pd.DataFrame | None, order_items: pd.DataFrame, orders: pd.DataFrame,
                         products: pd.DataFrame, *, window: Period | None = None, as_of: pd.Timestamp | str | None = None,
                         by: str | Sequence[str] | None = "supplier_id", alpha: float = 0.05) -> pd.DataFrame:
    """Units returned for a quality reason per unit sold, matched to the sales they came from — the kit's one
    definition, :func:`ecomlib.returns.quality_return_rate` (the returns page's), per supplier of the SKU.

    Parameters
    ----------
    returns : contract ``returns`` table; None or empty means the shop has no returns (rates are 0).
    order_items, orders, products : contract tables (sales: :func:`ecomlib.returns.sold_lines`).
    window : the sales whose returns are counted (usually :func:`ecomlib.returns.sales_window` of the period,
        so every sale has had time to come back); None = all sales.
    as_of : count only returns received before it (the period's end); None = all.
    by : ``"supplier_id"``, ``"sku"``, ``["supplier_id", "sku"]``, ``"category"`` or None (one total row).
    alpha : 1 − confidence level of the Wilson interval.

    Returns
    -------
    One row per group: ``units_sold``, ``quality_returns`` (units), ``quality_return_rate`` (fraction) and
    ``quality_return_low``/``quality_return_high`` (Wilson bounds).

    Example
    -------
    >>> orders = pd.DataFrame({"order_id": ["O1"], "order_time": pd.to_datetime(["2026-01-01"]), "status": ["completed"],
    ...                        "channel": ["web"], "shipping_fee": [0.0]})
    >>> items = pd.DataFrame({"order_id": ["O1"], "sku": ["A"], "quantity": [4], "unit_price": [10.0]})
    >>> products = pd.DataFrame({"sku": ["A"], "supplier_id": ["S1"], "category": ["X"], "product_name": ["a"],
    ...                          "unit_cost": [5.0]})
    >>> returns = pd.DataFrame({"return_id": ["R1"], "order_id": ["O1"], "sku": ["A"], "quantity": [1],
    ...     "returned_at": pd.to_datetime(["2026-01-09"]), "refund_amount": [10.0], "reason_code": ["DEFECTIVE"],
    ...     "reason_text": [None]})
    >>> quality_return_rates(returns, items, orders, products)["quality_return_rate"].tolist()
    [0.25]
    """
    sold, returned = _sales_and_returns(returns, order_items, orders, products, as_of=as_of)
    return _quality_rates(sold, returned, window=window, by=by, alpha=alpha)


def _sales_and_returns(returns, order_items, orders, products, *, as_of=None):
    """The returns review's sold lines and the returns matched to them (None or empty returns: none)."""
    from . import returns as rt

    if returns is None or returns.empty:
        returns = pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c == "returned_at" else "object")
                                for c in RETURN_COLUMNS}).astype({"quantity": "int64", "refund_amount": "float64"})
    sold = rt.sold_lines(orders, order_items, products)
    return sold, rt.return_lines(returns, sold, as_of=as_of)


def _quality_rates(sold, returned, *, window, by, alpha) -> pd.DataFrame:
    from . import returns as rt

    rates = rt.quality_return_rate(sold, returned, by=by, window=window, alpha=alpha)
    keys = _keys(by)
    out = rates[keys + ["units_sold", "units_returned", "unit_rate", "unit_rate_low", "unit_rate_high"]].rename(
        columns={"units_returned": "quality_returns", "unit_rate": "quality_return_rate",
                 "unit_rate_low": "quality_return_low", "unit_rate_high": "quality_return_high"})
    return out.reset_index(drop=True)


# Scorecard --------------------------------------------------------------------------------------------

def _weights(weights: Mapping[str, float] | None, columns) -> dict[str, float]:
    weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
    unknown = sorted(set(weights) - set(SCALES))
    if unknown:
        raise ParameterError(f"weights name unknown KPIs {unknown}; valid KPIs are {sorted(SCALES)}", name="weights")
    bad = {k: w for k, w in weights.items() if not (isinstance(w, (int, float)) and np.isfinite(w) and w >= 0)}
    if bad:
        raise ParameterError(f"weights must be numbers ≥ 0, not {bad}", name="weights")
    weights = {k: float(w) for k, w in weights.items() if w > 0}
    if not weights:
        raise ParameterError("weights are all zero: give at least one KPI a positive weight", name="weights")
    absent = sorted(k for k in weights if k not in columns)
    if absent:
        raise ParameterError(f"weights use {absent}, which the KPI table does not have; pass quality= to "
                             f"supplier_kpis for quality_return_rate, or set their weight to 0", name="weights")
    total = sum(weights.values())
    return {k: w / total for k, w in weights.items()}


def kpi_scores(kpis: pd.DataFrame, *, weights: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Sub-scores in [0, 1] per weighted KPI and the weighted score (0–100) with a range from the KPI intervals.

    Each KPI is scored linearly between the values in :data:`SCALES` (1 at the first, 0 at the second, clipped).
    ``score`` uses the point values; ``score_low`` / ``score_high`` use the pessimistic / optimistic Wilson
    bound (:data:`BOUNDS`) of the KPIs that have one. A KPI missing for a group (NaN) drops out and the other
    weights are rescaled. Returns a new DataFrame: the input plus ``s_<kpi>`` per weighted KPI and
    ``score``, ``score_low``, ``score_high``.

    Example
    -------
    >>> k = pd.DataFrame({"otif_rate": [0.8], "fill_rate": [0.9]})
    >>> kpi_scores(k, weights={"otif_rate": 1, "fill_rate": 1})[["s_fill_rate", "score"]].round(2).values.tolist()
    [[0.8, 80.0]]
    """
    w = _weights(weights, kpis.columns)
    out = kpis.copy()
    totals = {name: pd.Series(0.0, index=kpis.index) for name in ("score", "score_low", "score_high")}
    used = pd.Series(0.0, index=kpis.index)
    for kpi, weight in w.items():  # a handful of KPIs
        best, worst = SCALES[kpi]
        scale = lambda v: ((v - worst) / (best - worst)).clip(0, 1)  # noqa: E731
        point = scale(kpis[kpi])
        low_col, high_col = BOUNDS.get(kpi, (kpi, kpi))
        low = scale(kpis[low_col]) if low_col in kpis else point
        high = scale(kpis[high_col]) if high_col in kpis else point
        out[f"s_{kpi}"] = point
        have = point.notna()
        used += np.where(have, weight, 0.0)
        for name, value in (("score", point), ("score_low", low), ("score_high", high)):
            totals[name] += np.where(have, weight * value.fillna(point), 0.0)
    for name, value in totals.items():
        out[name] = 100 * value / used.where(used > 0)
    return out


def grade(score, *, grades: Sequence[tuple[float, str]] = GRADES) -> np.ndarray:
    """Letter grades for scores 0–100: ``A`` ≥ 85, ``B`` ≥ 70, ``C`` ≥ 55, else ``D``; NaN → None.

    Example
    -------
    >>> grade([90, 70, 54.9, np.nan]).tolist()
    ['A', 'B', 'D', None]
    """
    s = np.asarray(score, dtype=float)
    conditions = [s >= lo for lo, _ in grades]
    out = np.select(conditions, [g for _, g in grades], default="D").astype(object)
    out[np.isnan(s)] = None
    return out


def scorecard(kpis: pd.DataFrame, *, weights: Mapping[str, float] | None = None, min_deliveries: int = 5,
              suppliers: pd.DataFrame | None = None, by: str = "supplier_id") -> pd.DataFrame:
    """Rank suppliers by a weighted KPI score and grade them (the comparison with the previous result is
    :func:`supplier_changes`).

    Parameters
    ----------
    kpis : output of :func:`supplier_kpis` (one row per ``by`` value) for the review window.
    weights : KPI → weight (≥ 0, rescaled to sum 1); keys from :data:`SCALES`. Default :data:`DEFAULT_WEIGHTS`.
    min_deliveries : suppliers with fewer received lines in the window are marked ``too_few`` and get no
        grade and no rank; their KPIs are shown with Wilson intervals.
    suppliers : contract ``suppliers`` table, to add ``supplier_name``.
    by : the key column of ``kpis``.

    Small suppliers: ranking on the Wilson *lower* bound of good rates would put a supplier with 2 perfect
    deliveries (OTIF lower bound 34 %) below one with 80 % on 100, i.e. rank it worst for lack of data. So
    the score uses point values, ``score_low``/``score_high`` carry the uncertainty, and suppliers below
    ``min_deliveries`` are left unranked instead.

    Returns
    -------
    One row per supplier, ranked ones first (rank 1 = best), then unranked: ``rank`` (nullable int),
    ``by``, [``supplier_name``], ``grade``, ``score``, ``score_low``, ``score_high``, ``status``
    (``"ranked"``/``"too_few"``), the KPI columns and the ``s_<kpi>`` sub-scores. An empty ``kpis`` gives an
    empty card with the same columns.

    Example
    -------
    >>> k = pd.DataFrame({"supplier_id": ["S1", "S2", "S3"], "n_deliveries": [20, 20, 2],
    ...                   "otif_rate": [0.9, 0.5, 0.0], "fill_rate": [1.0, 0.9, 0.5]})
    >>> card = scorecard(k, weights={"otif_rate": 1, "fill_rate": 1})
    >>> card[["supplier_id", "rank", "grade", "status"]].values.tolist()
    [['S1', 1, 'A', 'ranked'], ['S2', 2, 'C', 'ranked'], ['S3', <NA>, nan, 'too_few']]
    """
    if not (isinstance(min_deliveries, (int, np.integer)) and min_deliveries >= 0):
        raise ParameterError(f"min_deliveries must be a whole number ≥ 0, not {min_deliveries!r}", name="min_deliveries")
    card = kpi_scores(kpis, weights=weights)
    enough = (card["n_deliveries"] >= min_deliveries) & card["score"].notna()
    card["status"] = np.where(enough, "ranked", "too_few")
    card["grade"] = np.where(enough, grade(card["score"]), None)
    card["rank"] = card["score"].where(enough).rank(ascending=False, method="min").astype("Int64")
    if suppliers is not None and "supplier_name" not in card:
        card = card.merge(suppliers[["supplier_id", "supplier_name"]], on="supplier_id", how="left")
    front = ["rank", by] + (["supplier_name"] if "supplier_name" in card else []) + [
        "grade", "score", "score_low", "score_high", "status"]
    card = card[front + [c for c in card if c not in front]]
    return card.sort_values(["rank", "score"], ascending=[True, False], na_position="last").reset_index(drop=True)


def weakest_kpis(card: pd.DataFrame, supplier, *, by: str = "supplier_id", top: int = 4,
                 weights: Mapping[str, float] | None = None) -> pd.DataFrame:
    """The KPIs that pull one supplier's score down most, against the median of the other ranked suppliers.

    ``shortfall`` = weight × (others' median sub-score − this supplier's sub-score); KPIs with a positive
    shortfall are returned, largest first, at most ``top``. Columns: kpi, value, peer_median (the others'
    median KPI value), sub_score, shortfall.

    Example
    -------
    >>> k = pd.DataFrame({"supplier_id": ["S1", "S2", "S3"], "n_deliveries": [9, 9, 9],
    ...                   "otif_rate": [0.9, 0.8, 0.1], "fill_rate": [0.95, 0.95, 0.96]})
    >>> w = {"otif_rate": 1, "fill_rate": 1}
    >>> weakest_kpis(scorecard(k, weights=w), "S3", weights=w)["kpi"].tolist()
    ['otif_rate']
    """
    w = _weights(weights, card.columns)
    mine = card[by] == supplier
    if not mine.any():
        raise KeyError(f"{supplier!r} is not in the scorecard's {by} column")
    others = card[~mine & (card["status"] == "ranked")] if "status" in card else card[~mine]
    kpis = list(w)
    row = card.loc[mine].iloc[0]
    sub = np.array([row[f"s_{k}"] for k in kpis], dtype=float)
    peer_sub = others[[f"s_{k}" for k in kpis]].median().to_numpy(dtype=float)
    out = pd.DataFrame({"kpi": kpis, "value": [row[k] for k in kpis],
                        "peer_median": others[kpis].median().to_numpy(dtype=float), "sub_score": sub,
                        "shortfall": np.array([w[k] for k in kpis]) * (peer_sub - sub)})
    out = out[out["shortfall"] > 0].sort_values("shortfall", ascending=False)
    return out.head(top).reset_index(drop=True)


def worst_supplier(card: pd.DataFrame) -> pd.Series | None:
    """The last-ranked row of a :func:`scorecard` (None when no supplier is ranked).

    Example
    -------
    >>> card = pd.DataFrame({"supplier_id": ["S1", "S2", "S3"], "status": ["ranked", "ranked", "too_few"]})
    >>> worst_supplier(card)["supplier_id"]
    'S2'
    """
    ranked = card[card["status"] == "ranked"]
    return ranked.iloc[-1] if len(ranked) else None


# Distributions and trends -----------------------------------------------------------------------------

def days_late_distribution(lines: pd.DataFrame, *, window: Period | None = None, by: str = "supplier_id",
                           edges: Sequence[float] = (-1, 1, 3, 7)) -> pd.DataFrame:
    """How many received lines fall in each band of days late, per supplier.

    Bands are right-closed: (−∞, e₀], (e₀, e₁], …, (e_last, ∞) in days late (received − promised; negative
    = early). Returns long format: ``by``, ``bucket`` (0 … len(edges)), ``lower``, ``upper`` (days), ``n``,
    ``share`` (of the supplier's received lines), every band present for every supplier.

    Example
    -------
    >>> lines = pd.DataFrame({"supplier_id": ["S1"] * 4, "status": ["received"] * 4,
    ...                       "promised_at": pd.to_datetime(["2026-01-01"] * 4), "days_late": [-2.0, 0.0, 2.0, 9.0]})
    >>> days_late_distribution(lines, edges=(-1, 1))["n"].tolist()
    [1, 1, 2]
    """
    edges = [float(e) for e in edges]
    if any(b <= a for a, b in zip(edges, edges[1:])):
        raise ParameterError(f"edges must increase, not {edges}", name="edges")
    df = _in_window(lines, "promised_at", window)
    df = df[df["status"] == "received"]
    bounds = np.r_[-np.inf, edges, np.inf]
    bucket = np.searchsorted(np.asarray(edges), df["days_late"].to_numpy(), side="left")
    counts = (pd.DataFrame({by: df[by].to_numpy(), "bucket": bucket}).groupby([by, "bucket"], observed=True).size())
    groups = pd.Index(sorted(df[by].unique()), name=by)
    full = pd.MultiIndex.from_product([groups, range(len(edges) + 1)], names=[by, "bucket"])
    out = counts.reindex(full, fill_value=0).rename("n").reset_index()
    out["lower"], out["upper"] = bounds[out["bucket"]], bounds[out["bucket"] + 1]
    out["share"] = out["n"] / out.groupby(by)["n"].transform("sum")
    return out[[by, "bucket", "lower", "upper", "n", "share"]]


def otif_trend(lines: pd.DataFrame, *, freq: str = "M", by: str = "supplier_id", alpha: float = 0.05) -> pd.DataFrame:
    """OTIF rate per supplier and month (of the promised date) with Wilson intervals.

    Returns long format: ``month`` (first day of the period; ``freq`` is a pandas period alias, ``"M"`` or
    ``"W"``), ``by``, ``n_qty_lines``, ``otif``, ``otif_rate``, ``otif_low``, ``otif_high``. Only received
    lines with a quantity count; the latest months are incomplete while their late lines are still open.

    Example
    -------
    >>> lines = pd.DataFrame({"supplier_id": ["S1"] * 3,
    ...                       "promised_at": pd.to_datetime(["2026-01-03", "2026-01-20", "2026-02-01"]),
    ...                       "otif": pd.array([True, False, True], dtype="boolean")})
    >>> otif_trend(lines)["otif_rate"].tolist()
    [0.5, 1.0]
    """
    df = lines[lines["otif"].notna()]
    month = df["promised_at"].dt.to_period(freq).dt.start_time
    g = pd.DataFrame({"month": month, by: df[by], "otif": df["otif"].astype(int)}).groupby(["month", by], observed=True)
    out = g["otif"].agg(n_qty_lines="size", otif="sum").reset_index()
    out["otif_rate"] = out["otif"] / out["n_qty_lines"]
    out["otif_low"], out["otif_high"] = wilson_interval(out["otif"], out["n_qty_lines"], alpha=alpha)
    return out


# Reorder points ---------------------------------------------------------------------------------------

def reorder_points(order_items: pd.DataFrame, orders: pd.DataFrame, lines: pd.DataFrame, products: pd.DataFrame, *,
                   as_of: pd.Timestamp | str, lookback_days: int = 90, lead_lookback_days: int = 365,
                   service_level: float = 0.95, statuses: Sequence[str] = ("completed",)) -> pd.DataFrame:
    """Safety stock and reorder point per SKU from daily demand and the supplier's lead-time variability.

    SS = z · √(L·σd² + d²·σL²) and ROP = d·L + SS, where d and σd are the mean and standard deviation of
    daily units sold (days without sales count as 0) over the ``lookback_days`` before ``as_of``, L and σL
    the mean and standard deviation of the supplier's lead time (ordered → received, days) over lines received
    in the ``lead_lookback_days`` before ``as_of``, and z = Φ⁻¹(service_level) (cycle service level: the
    chance of not running out during one replenishment lead time). Assumes independent normal demand and
    lead time (Silver, Pyke & Thomas, *Inventory and Production Management*, ch. 6).

    Parameters
    ----------
    order_items, orders, products : contract tables; demand = order_items of orders with a status in ``statuses``.
    lines : output of :func:`delivery_lines` (received lines give the lead times).
    as_of : end of the lookbacks (exclusive).
    lookback_days, lead_lookback_days : lengths of the demand and lead-time history (days).
    service_level : target cycle service level, in (0, 1).

    Returns
    -------
    One row per product, highest reorder point first: sku, product_name, category, supplier_id,
    demand_mean, demand_sd (units/day), lead_time_mean, lead_time_sd (days), n_lead_times, z,
    cycle_stock (d·L, units), safety_stock (units), reorder_point (units), days_of_cover (ROP / d, days).
    NaN where the supplier has no lead-time history (σL needs ≥ 2 received lines).

    Example
    -------
    >>> orders = pd.DataFrame({"order_id": ["O1", "O2"], "status": ["completed"] * 2,
    ...                        "order_time": pd.to_datetime(["2026-01-01", "2026-01-02"])})
    >>> items = pd.DataFrame({"order_id": ["O1", "O2"], "sku": ["A", "A"], "quantity": [2, 4]})
    >>> products = pd.DataFrame({"sku": ["A"], "product_name": ["a"], "category": ["c"], "supplier_id": ["S1"]})
    >>> lines = pd.DataFrame({"supplier_id": ["S1", "S1"], "status": ["received"] * 2,
    ...                       "received_at": pd.to_datetime(["2025-12-01", "2025-12-05"]), "lead_time_days": [4.0, 6.0]})
    >>> r = reorder_points(items, orders, lines, products, as_of="2026-01-03", lookback_days=2, service_level=0.5)
    >>> r[["demand_mean", "lead_time_mean", "safety_stock", "reorder_point"]].values.tolist()
    [[3.0, 5.0, 0.0, 15.0]]
    """
    _check_range("service_level", service_level, 0, 1, lo_open=True, hi_open=True)
    for name, value in (("lookback_days", lookback_days), ("lead_lookback_days", lead_lookback_days)):
        if not (isinstance(value, (int, np.integer)) and value >= 2):
            raise ParameterError(f"{name} must be a whole number of days ≥ 2, not {value!r}", name=name)
    as_of = pd.Timestamp(as_of)
    demand_window = Period(as_of - pd.Timedelta(days=lookback_days), as_of)
    sold = order_items[["order_id", "sku", "quantity"]].merge(
        orders.loc[orders["status"].isin(list(statuses)), ["order_id", "order_time"]], on="order_id")
    sold = _in_window(sold, "order_time", demand_window)
    daily = sold.groupby(["sku", sold["order_time"].dt.normalize()])["quantity"].sum()
    per_sku = pd.DataFrame({"sum": daily.groupby(level="sku").sum(), "sum2": (daily ** 2).groupby(level="sku").sum()})
    n = float(lookback_days)
    demand = products[["sku", "product_name", "category", "supplier_id"]].merge(per_sku, on="sku", how="left").fillna(
        {"sum": 0.0, "sum2": 0.0})
    d = demand["sum"] / n
    var_d = ((demand["sum2"] - n * d ** 2) / (n - 1)).clip(lower=0)

    received = lines[(lines["status"] == "received") & (lines["received_at"] < as_of)
                     & (lines["received_at"] >= as_of - pd.Timedelta(days=lead_lookback_days))]
    lead = received.groupby("supplier_id", observed=True)["lead_time_days"].agg(
        lead_time_mean="mean", lead_time_sd="std", n_lead_times="size").reset_index()
    out = demand.drop(columns=["sum", "sum2"]).assign(demand_mean=d, demand_sd=np.sqrt(var_d)).merge(
        lead, on="supplier_id", how="left")
    out["n_lead_times"] = out["n_lead_times"].fillna(0).astype(int)
    z = float(sps.norm.ppf(service_level))
    big_l, sd_l = out["lead_time_mean"], out["lead_time_sd"]
    out["z"] = z
    out["cycle_stock"] = out["demand_mean"] * big_l
    out["safety_stock"] = z * np.sqrt(big_l * out["demand_sd"] ** 2 + out["demand_mean"] ** 2 * sd_l ** 2)
    out["reorder_point"] = out["cycle_stock"] + out["safety_stock"]
    out["days_of_cover"] = out["reorder_point"] / out["demand_mean"].where(out["demand_mean"] > 0)
    return out.sort_values(["reorder_point", "sku"], ascending=[False, True], na_position="last").reset_index(drop=True)


# Statistical comparisons ------------------------------------------------------------------------------

@dataclass(frozen=True)
class GroupComparison:
    """Result of a test across suppliers, with the supplier that drives the difference.

    test : ``"kruskal"`` or ``"chi2"``; statistic, dof, p_value, n (observations: lines or units);
    reliable : whether the test's assumptions hold well enough (enough data per group / expected counts);
    driver : the group with the largest standardized deviation (``z`` / adjusted residual) and ``driver_z``;
    table : per-group details.
    """

    test: str
    statistic: float
    dof: int
    p_value: float
    n: int
    reliable: bool
    driver: object
    driver_z: float
    table: pd.DataFrame = field(repr=False)


def compare_lead_times(lines: pd.DataFrame, *, window: Period | None = None, by: str = "supplier_id",
                       value: str = "lead_time_days", min_group: int = 5) -> GroupComparison:
    """Kruskal–Wallis test that suppliers' lead times (or ``days_late``) come from the same distribution.

    Uses received lines promised in ``window``; groups with fewer than ``min_group`` lines are left out.
    The driver is the group whose mean rank is furthest from the overall mean rank in standard errors:
    z = (R̄ᵢ − (N+1)/2) / √((N+1)(N−nᵢ)/(12 nᵢ)) (the statistic behind Dunn's test, without the tie
    correction). Lead times differ by design when promised lead times differ, so ``value="days_late"``
    asks the fairer question: do suppliers miss their promises by different amounts?

    Returns
    -------
    :class:`GroupComparison` whose table has ``by``, n, median, mean_rank, z (largest |z| first).

    Example
    -------
    >>> lines = pd.DataFrame({"supplier_id": ["A"] * 5 + ["B"] * 5, "status": "received",
    ...                       "promised_at": pd.Timestamp("2026-01-01"), "days_late": [0, 1, 0, 1, 0, 5, 6, 7, 5, 6.0]})
    >>> r = compare_lead_times(lines, value="days_late")
    >>> r.driver in ("A", "B"), round(r.p_value, 4)
    (True, 0.0076)
    """
    df = _in_window(lines, "promised_at", window)
    df = df[(df["status"] == "received") & df[value].notna()]
    sizes = df.groupby(by, observed=True)[value].transform("size")
    df = df[sizes >= min_group]
    groups = [g.to_numpy() for _, g in df.groupby(by, observed=True)[value]]  # one array per supplier
    if len(groups) < 2:
        return GroupComparison("kruskal", np.nan, 0, np.nan, len(df), False, None, np.nan, pd.DataFrame())
    h, p = sps.kruskal(*groups)
    ranks = pd.Series(sps.rankdata(df[value]), index=df.index)
    n_all = len(df)
    table = (pd.DataFrame({by: df[by], value: df[value], "rank": ranks}).groupby(by, observed=True)
             .agg(n=(value, "size"), median=(value, "median"), mean_rank=("rank", "mean")).reset_index())
    table["z"] = (table["mean_rank"] - (n_all + 1) / 2) / np.sqrt((n_all + 1) * (n_all - table["n"]) / (12 * table["n"]))
    table = table.reindex(table["z"].abs().sort_values(ascending=False).index).reset_index(drop=True)
    return GroupComparison("kruskal", float(h), len(groups) - 1, float(p), n_all, bool(table["n"].min() >= min_group),
                           table.loc[0, by], float(table.loc[0, "z"]), table)


def compare_rejections(lines: pd.DataFrame, *, window: Period | None = None, by: str = "supplier_id") -> GroupComparison:
    """Chi-square test that suppliers' goods-receipt rejection rates are equal, with the supplier that drives it.

    The contingency table is supplier × (rejected, accepted) units of received lines promised in ``window``
    (:func:`ecomlib.stats.chi_square_residuals`); the driver has the largest absolute adjusted residual in the
    rejected column (positive = more rejects than expected). Units of one delivery are not independent
    (rejects come in batches), so the p-value overstates certainty; read it with the residuals.

    Returns
    -------
    :class:`GroupComparison` whose table has ``by``, rejected, accepted, reject_rate, residual (largest |residual| first).

    Example
    -------
    >>> lines = pd.DataFrame({"supplier_id": ["A", "B"], "status": "received", "promised_at": pd.Timestamp("2026-01-01"),
    ...                       "qty_received": [1000.0, 1000.0], "qty_rejected": [50.0, 5.0]})
    >>> r = compare_rejections(lines)
    >>> r.driver, r.p_value < 0.001
    ('A', True)
    """
    df = _in_window(lines, "promised_at", window)
    df = df[(df["status"] == "received") & df["qty_rejected"].notna() & df["qty_received"].notna()]
    counts = (pd.DataFrame({by: df[by], "rejected": df["qty_rejected"], "accepted": df["qty_received"] - df["qty_rejected"]})
              .groupby(by, observed=True)[["rejected", "accepted"]].sum())
    counts = counts[counts.sum(axis=1) > 0]
    if len(counts) < 2 or (counts == 0).all().any():
        table = counts.reset_index().assign(reject_rate=lambda t: t["rejected"] / (t["rejected"] + t["accepted"]),
                                            residual=np.nan)
        return GroupComparison("chi2", np.nan, 0, np.nan, int(counts.to_numpy().sum()), False, None, np.nan, table)
    resid, result = chi_square_residuals(counts)
    table = counts.assign(reject_rate=counts["rejected"] / counts.sum(axis=1), residual=resid["rejected"]).reset_index()
    table = table.reindex(table["residual"].abs().sort_values(ascending=False).index).reset_index(drop=True)
    return GroupComparison("chi2", result["chi2"], result["dof"], result["p_value"], result["n"], result["reliable"],
                           table.loc[0, by], float(table.loc[0, "residual"]), table)


# Display helpers and plots ----------------------------------------------------------------------------

def translate_codes(df: pd.DataFrame, msg: Messages, *, columns: Sequence[str] = ("status", "state")) -> pd.DataFrame:
    """A copy of ``df`` with code columns (``status``: ranked/too_few, ``state``: late/at_risk) in the run's language.

    Example
    -------
    >>> translate_codes(pd.DataFrame({"state": ["late"]}), Messages("zh"))["state"].tolist()
    ['已逾期']
    """
    out = df.copy()
    for col in columns:
        if col in out:
            prefix = "suppliers.kpi." if col == "kpi" else "suppliers.code."
            out[col] = out[col].map(lambda v, prefix=prefix: msg(f"{prefix}{v}") if isinstance(v, str) else v)
    return out


def _bucket_label(lower: float, upper: float, msg: Messages) -> str:
    if np.isinf(lower):
        return msg("suppliers.bucket_first", b=f"{upper:g}")
    if np.isinf(upper):
        return msg("suppliers.bucket_last", a=f"{lower:g}")
    return msg("suppliers.bucket_mid", a=f"{lower:g}", b=f"{upper:g}")


def fold_suppliers(data: pd.DataFrame, *, by: str = "supplier_id", weight: str | None = None, top: int = 12,
                   msg: Messages | None = None) -> pd.DataFrame:
    """A copy of ``data`` whose ``by`` values outside the ``top`` largest (by row count, or by the sum of ``weight``)
    read "Other (N)", so a store with 3,000 suppliers does not draw 3,000 rows in a chart.

    Example
    -------
    >>> d = pd.DataFrame({"supplier_id": ["A", "A", "B", "C", "D"]})
    >>> fold_suppliers(d, top=1)["supplier_id"].tolist()
    ['A', 'A', 'Other (3)', 'Other (3)', 'Other (3)']
    """
    size = data.groupby(by, observed=True)[weight].sum() if weight else data.groupby(by, observed=True).size()
    if len(size) <= top + 1:
        return data
    keep = set(size.sort_values(ascending=False, kind="stable").index[:top])
    label = (msg or Messages("en"))("vocab.other_n", n=len(size) - top)
    return data.assign(**{by: data[by].astype(object).where(data[by].isin(keep), label)})


def _short(label, width: int = 26) -> str:
    """A tick label cut to ``width`` characters with an ellipsis (real supplier names run to 60)."""
    text = str(label)
    return text if len(text) <= width else text[: width - 1] + "…"


def _order(keys, msg: Messages) -> list:
    """Supplier keys in reading order, the folded "Other (N)" row last."""
    other = msg("vocab.other_n", n=0).split("(")[0]
    keys = sorted(keys, key=str)
    return [k for k in keys if not str(k).startswith(other)] + [k for k in keys if str(k).startswith(other)]


def _no_data(ax: Axes, msg: Messages) -> Axes:
    ax.text(0.5, 0.5, msg("common.no_data"), ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()
    return ax


def plot_otif_trend(data: pd.DataFrame, *, x: str = "month", y: str = "supplier_id", value: str = "otif_rate",
                    min_lines: int = 3, top: int = 12, ax: Axes | None = None, msg: Messages | None = None,
                    **kwargs) -> Axes:
    """Heatmap of the monthly OTIF rate per supplier (output of :func:`otif_trend`), red for low, green for high.

    Suppliers beyond the ``top`` with the most lines are folded into one row "Other (N)".
    Months where a supplier had fewer than ``min_lines`` delivered lines are left blank (too few to read).
    Ten suppliers over many months read better as a heatmap than as crossing lines. Returns the Axes.
    """
    msg = msg or Messages("en")
    if ax is None:
        ax = plt.gca()
    if {"otif", "n_qty_lines"} <= set(data.columns):  # fold a long tail of suppliers into "Other (N)"
        data = fold_suppliers(data, by=y, weight="n_qty_lines", top=top, msg=msg)
        data = data.groupby([x, y], observed=True)[["otif", "n_qty_lines"]].sum().reset_index()
        data[value] = data["otif"] / data["n_qty_lines"]
    shown = data[data["n_qty_lines"] >= min_lines] if "n_qty_lines" in data else data
    if shown.empty:
        return _no_data(ax, msg)
    wide = shown.pivot(index=y, columns=x, values=value).sort_index()
    wide.columns = [pd.Timestamp(c).strftime("%Y-%m") for c in wide.columns]
    annot = wide.map(lambda v: "" if pd.isna(v) else f"{100 * v:.0f}")
    sns.heatmap(wide, ax=ax, cmap="RdYlGn", vmin=0, vmax=1, annot=annot, fmt="", annot_kws={"size": 7},
                linewidths=0.5, linecolor="white",
                cbar_kws={"format": plt.FuncFormatter(lambda v, _: msg.pct(v, 0)), "label": msg("suppliers.plot.otif_rate")},
                **kwargs)
    ax.set(title=msg("suppliers.plot.otif_trend_title", n=min_lines), xlabel=msg("suppliers.plot.month"),
           ylabel=msg("suppliers.col.supplier_id"))
    ax.grid(False)
    ax.tick_params(axis="x", labelrotation=90)
    ax.tick_params(axis="y", labelrotation=0)
    ax.set_yticks(ax.get_yticks(), [_short(t.get_text()) for t in ax.get_yticklabels()])
    return ax


def plot_lead_times(data: pd.DataFrame, *, x: str = "lead_time_days", y: str = "supplier_id",
                    promised: str = "promised_lead_days", order: Sequence | None = None, top: int = 12,
                    ax: Axes | None = None, msg: Messages | None = None, **kwargs) -> Axes:
    """Box and strip plot of lead times per supplier, with each supplier's median promised lead time marked.

    ``data``: received lines from :func:`delivery_lines`; suppliers beyond the ``top`` with the most lines are
    folded into "Other (N)". Returns the Axes.
    """
    msg = msg or Messages("en")
    if ax is None:
        ax = plt.gca()
    data = data[data["status"] == "received"] if "status" in data else data
    if data.empty:
        return _no_data(ax, msg)
    data = fold_suppliers(data, by=y, top=top, msg=msg)
    order = list(order) if order is not None else _order(data[y].dropna().unique(), msg)
    sns.boxplot(data=data, x=x, y=y, order=order, showfliers=False, color="0.85", width=0.6, ax=ax, **kwargs)
    sns.stripplot(data=data, x=x, y=y, order=order, size=2.5, alpha=0.45, jitter=0.25, ax=ax)
    promise = data.groupby(y, observed=True)[promised].median().reindex(order)
    ax.scatter(promise.to_numpy(), np.arange(len(order)), marker="|", s=500, linewidths=2.5, color="crimson",
               zorder=5, label=msg("suppliers.plot.promised"))
    ax.set(title=msg("suppliers.plot.lead_time_title"), xlabel=msg("suppliers.plot.lead_time_days"),
           ylabel=msg("suppliers.col.supplier_id"))
    ax.set_yticks(range(len(order)), [_short(k) for k in order])
    ax.legend(loc="upper left", bbox_to_anchor=(0, -0.12), fontsize="small", frameon=False)
    return ax


def plot_days_late(data: pd.DataFrame, *, y: str = "supplier_id", top: int = 12, ax: Axes | None = None,
                   msg: Messages | None = None, **kwargs) -> Axes:
    """Stacked horizontal bars of the share of deliveries per band of days late (output of
    :func:`days_late_distribution`), early in blue through very late in red; suppliers beyond the ``top`` with the
    most deliveries are folded into "Other (N)". Returns the Axes."""
    msg = msg or Messages("en")
    if ax is None:
        ax = plt.gca()
    if data.empty:
        return _no_data(ax, msg)
    data = fold_suppliers(data, by=y, weight="n", top=top, msg=msg)
    data = data.groupby([y, "bucket", "lower", "upper"], observed=True)["n"].sum().reset_index()
    data["share"] = data["n"] / data.groupby(y)["n"].transform("sum")
    wide = data.pivot(index=y, columns="bucket", values="share")
    wide = wide.loc[_order(wide.index, msg)[::-1]]
    bands = data.drop_duplicates("bucket").set_index("bucket").loc[wide.columns]
    colors = sns.color_palette("RdYlBu_r", len(wide.columns))
    left = np.zeros(len(wide))
    for i, bucket in enumerate(wide.columns):  # one bar segment per band (a handful)
        values = wide[bucket].fillna(0).to_numpy()
        ax.barh([_short(k) for k in wide.index], values, left=left, color=colors[i],
                label=_bucket_label(bands.loc[bucket, "lower"], bands.loc[bucket, "upper"], msg), **kwargs)
        left += values
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: msg.pct(v, 0)))
    ax.set(title=msg("suppliers.plot.days_late_title"), xlabel=msg("suppliers.plot.share_of_deliveries"),
           ylabel=msg("suppliers.col.supplier_id"))
    ax.legend(title=msg("suppliers.plot.days_late"), bbox_to_anchor=(1.01, 1), loc="upper left", fontsize="small")
    return ax


# Sentences --------------------------------------------------------------------------------------------

def window_note(now: Result, before: Result | None, msg: Messages) -> str:
    """Sentences saying which lines the KPIs judge, what the previous values are, and why the window is longer than
    the period.

    Example
    -------
    >>> from ecomlib.periods import parse_period
    >>> p = parse_period("2026-W47")
    >>> now = Result(NAME, p, notes={"window": trailing_window(p, window_days=90)})
    >>> before = Result(NAME, p.previous(), notes={"window": trailing_window(p.previous(), window_days=90)})
    >>> window_note(now, before, Messages("en")).startswith("Delivery KPIs judge the purchase-order lines promised "
    ...                                                       "in the 90 days Aug 25, 2026 – Nov 22, 2026")
    True
    """
    window = now.notes["window"]
    text = msg("suppliers.s.window", days=window.days, start=msg.date(window.start), end=msg.date(window.last_day))
    if before is not None:
        prev = before.notes["window"]
        text += msg("suppliers.s.window_prev", days=prev.days, start=msg.date(prev.start), end=msg.date(prev.last_day))
    if window.days > now.period.days:
        text += msg("suppliers.s.window_why", days=now.period.days)
    return text


def _name(row, by: str) -> str:
    name = row.get("supplier_name")
    return f"{row[by]} {name}" if isinstance(name, str) and name and name != str(row[by]) else str(row[by])


def _kpi_phrase(kpi: str, value, peer, msg: Messages) -> str:
    kind = KPI_FORMATS[kpi]
    return msg("suppliers.s.kpi_phrase", kpi=msg(f"suppliers.kpi.{kpi}"), value=msg.format(value, kind),
               peer=msg.format(peer, kind))


def below_reorder_point(reorder: pd.DataFrame, inventory: pd.DataFrame | None, lines: pd.DataFrame, *,
                        as_of: pd.Timestamp | str) -> pd.DataFrame:
    """SKUs whose stock position (on hand + open purchase orders) is below their reorder point: what to order now.

    Parameters
    ----------
    reorder : output of :func:`reorder_points`.
    inventory : contract ``inventory`` table, or None when the data has none (then the result is empty).
    lines : output of :func:`delivery_lines`; lines not received by ``as_of`` count as on order.
    as_of : the review's end; the latest stock count at or before it is used for each SKU.

    Returns
    -------
    One row per SKU below its reorder point, largest shortfall first: the ``reorder`` columns plus
    ``counted_at``, ``on_hand``, ``on_order``, ``position`` (on hand + on order) and ``shortfall``
    (reorder point − position, units). Empty when there is no stock count at or before ``as_of``.

    Example
    -------
    >>> reorder = pd.DataFrame({"sku": ["A", "B"], "supplier_id": ["S1", "S1"], "reorder_point": [15.0, 4.0]})
    >>> inventory = pd.DataFrame({"sku": ["A", "B"], "as_of": pd.to_datetime(["2026-01-02"] * 2), "on_hand": [5, 9]})
    >>> lines = pd.DataFrame({"sku": ["A"], "status": ["open"], "qty_ordered": [6.0],
    ...                       "ordered_at": pd.to_datetime(["2026-01-01"])})
    >>> below_reorder_point(reorder, inventory, lines, as_of="2026-01-03")[["sku", "position", "shortfall"]].values.tolist()
    [['A', 11.0, 4.0]]
    """
    columns = list(reorder.columns) + ["counted_at", "on_hand", "on_order", "position", "shortfall"]
    as_of = pd.Timestamp(as_of)
    if inventory is None:
        return pd.DataFrame(columns=columns)
    counted = inventory[inventory["as_of"] <= as_of].sort_values("as_of").drop_duplicates("sku", keep="last")
    if counted.empty:
        return pd.DataFrame(columns=columns)
    open_lines = lines[(lines["status"] != "received") & (lines["ordered_at"] < as_of)]
    on_order = open_lines.groupby("sku")["qty_ordered"].sum().rename("on_order")
    out = (reorder.merge(counted[["sku", "as_of", "on_hand"]].rename(columns={"as_of": "counted_at"}), on="sku")
           .join(on_order, on="sku")
           .fillna({"on_order": 0.0}))
    out = out.assign(position=out["on_hand"] + out["on_order"])
    out = out.assign(shortfall=out["reorder_point"] - out["position"])
    return out[out["shortfall"] > 0].sort_values("shortfall", ascending=False, kind="stable").reset_index(drop=True)


# Comparisons between suppliers and between periods ------------------------------------------------------------

#: KPI of :func:`versus_rest` → (hits column, trials column, direction of "worse": +1 = higher is worse).
REST_KPIS: dict[str, tuple[str, str, int]] = {
    "otif_rate": ("otif", "n_qty_lines", -1), "reject_rate": ("scored_rejected", "scored_units", +1),
    "quality_return_rate": ("quality_returns", "units_sold", +1)}


def versus_rest(card: pd.DataFrame, *, by: str = "supplier_id", alpha: float = 0.05) -> pd.DataFrame:
    """Each ranked supplier's OTIF, reject rate and quality-return rate against all other ranked suppliers pooled,
    with Holm-corrected p-values over the whole family (ranked suppliers × the three KPIs).

    Two-proportion z-tests (:func:`ecomlib.stats.two_proportion_test`): OTIF over delivered lines, rejects over
    units received (up to the ordered quantity; units of one delivery are not independent, so read that p-value
    as approximate), quality returns over units sold. ``worse`` is True where the corrected p-value is below
    ``alpha`` and the supplier is on the bad side.

    Returns
    -------
    Long table: ``by``, kpi, hits, trials, rate, rest_rate, diff (rate − rest_rate), p_value, p_adjusted, worse;
    empty when fewer than two suppliers are ranked.

    Example
    -------
    >>> card = pd.DataFrame({"supplier_id": ["A", "B", "C"], "status": "ranked", "otif": [10, 90, 85],
    ...                      "n_qty_lines": [100, 100, 100]})
    >>> t = versus_rest(card)
    >>> t.loc[t["worse"], ["supplier_id", "kpi"]].values.tolist()
    [['A', 'otif_rate']]
    """
    columns = [by, "kpi", "hits", "trials", "rate", "rest_rate", "diff", "p_value", "p_adjusted", "worse"]
    ranked = card[card["status"] == "ranked"] if len(card) else card
    if len(ranked) < 2:
        return pd.DataFrame(columns=columns)
    parts = []
    for kpi, (hits, trials, sign) in REST_KPIS.items():  # three KPIs
        if hits not in ranked or trials not in ranked:
            continue
        x, n = ranked[hits].astype(float).fillna(0), ranked[trials].astype(float).fillna(0)
        test = two_proportion_test(x.sum() - x, n.sum() - n, x, n)
        parts.append(pd.DataFrame({by: ranked[by].to_numpy(), "kpi": kpi, "hits": x.to_numpy(), "trials": n.to_numpy(),
                                   "rate": test["rate_2"].to_numpy(), "rest_rate": test["rate_1"].to_numpy(),
                                   "diff": test["diff"].to_numpy(), "p_value": test["p_value"].to_numpy(),
                                   "_sign": sign}))
    out = pd.concat(parts, ignore_index=True)
    out["p_adjusted"] = adjust_pvalues(out["p_value"], method="holm")
    out["worse"] = (out["p_adjusted"] < alpha) & (np.sign(out["diff"]) == out["_sign"])
    return out[columns]


def supplier_changes(now: Result, before: Result | None, *, by: str = "supplier_id") -> pd.DataFrame:
    """Each supplier's grade, score and OTIF in ``now`` against ``before`` (the same review for the comparison
    period), with the OTIF change tested and Holm-corrected over the suppliers compared.

    Returns
    -------
    One row per supplier of ``now``'s scorecard: ``by``, grade, grade_prev, score, score_prev, score_change,
    otif_rate, otif_prev, otif_change, n_qty_lines, n_prev, p_value (two-proportion z-test), p_adjusted (Holm over
    the suppliers with a test), mde (the smallest OTIF change detectable at these volumes, 80 % power).
    Empty when either result has no scorecard.
    """
    columns = [by, "grade", "grade_prev", "score", "score_prev", "score_change", "otif_rate", "otif_prev",
               "otif_change", "n_qty_lines", "n_prev", "p_value", "p_adjusted", "mde"]
    if before is None or not now.has("scorecard") or not before.has("scorecard"):
        return pd.DataFrame(columns=columns)
    alpha = now.notes.get("alpha", 0.05)
    card = now.tables["scorecard"]
    prev = before.tables["scorecard"][[by, "grade", "score", "otif", "n_qty_lines"]].rename(
        columns={"grade": "grade_prev", "score": "score_prev", "otif": "_hits_prev", "n_qty_lines": "n_prev"})
    out = card[[by, "grade", "score", "otif", "n_qty_lines", "otif_rate"]].merge(prev, on=by, how="left")
    test = two_proportion_test(out["_hits_prev"], out["n_prev"], out["otif"], out["n_qty_lines"])
    pooled = (out["_hits_prev"] + out["otif"]) / (out["n_prev"] + out["n_qty_lines"])
    out = out.assign(score_change=out["score"] - out["score_prev"], otif_prev=test["rate_1"].to_numpy(),
                     otif_change=test["diff"].to_numpy(), p_value=test["p_value"].to_numpy(),
                     p_adjusted=adjust_pvalues(test["p_value"], method="holm"),
                     mde=minimum_detectable_difference(pooled, out["n_prev"].fillna(0), out["n_qty_lines"], alpha=alpha))
    out.loc[out["p_value"].isna(), "mde"] = np.nan
    return out[columns]


def overall_change(now: Result, before: Result | None) -> dict:
    """OTIF of all suppliers in ``now`` against ``before``: rates, difference, two-proportion p-value (a family of
    one) and the smallest change detectable at these volumes (``mde``); empty dict when either has no deliveries."""
    if before is None or not now.value("n_qty_lines") or not before.value("n_qty_lines"):
        return {}
    x1, n1 = before.value("otif_hits"), before.value("n_qty_lines")
    x2, n2 = now.value("otif_hits"), now.value("n_qty_lines")
    t = two_proportion_test([x1], [n1], [x2], [n2]).iloc[0]
    alpha = now.notes.get("alpha", 0.05)
    mde = float(minimum_detectable_difference((x1 + x2) / (n1 + n2), n1, n2, alpha=alpha))
    return {"rate": x2 / n2, "before": x1 / n1, "diff": x2 / n2 - x1 / n1, "p_value": float(t["p_value"]),
            "significant": bool(t["p_value"] < alpha), "mde": mde, "n": n2, "n_prev": n1}


# The review interface (ecomlib.review) -------------------------------------------------------------------------

NAME = "supplier_performance"
#: Received lines a supplier needs in each group of the Kruskal–Wallis tests.
MIN_GROUP = 5
MINIMUM_DATA: dict[str, str] = {
    "scorecard": "at least one received purchase-order line promised in the trailing window; a supplier is "
                 "graded and ranked with at least min_deliveries (default 5) received lines in it",
    "outliers": "at least two ranked suppliers (each with min_deliveries received lines in the window)",
    "quality": "the orders, order_items and products tables (sales per SKU and its supplier); an absent or empty "
               "returns table means no returns",
    "trend": "at least one received purchase-order line with a quantity",
    "lead_times": "at least one received purchase-order line promised in the trailing window",
    "tests": f"at least two suppliers with {MIN_GROUP} or more received lines each in the trailing window",
    "reorder": "the orders, order_items and products tables, and 2 or more received lines of the SKU's supplier "
               "in the past year (lead-time variation)",
    "below_rop": "an inventory table with a stock count at or before the period's end",
    "quantities": "received quantities on the purchase-order lines (qty_received) for in full, OTIF, fill rate and "
                  "rejects; without them the scorecard weighs the on-time rate in OTIF's place",
}

#: Each column's unit, declared once: table formats (:func:`formats`), axes and headlines use it.
UNITS: dict[str, str] = {
    "rank": "int", "score": "num", "score_low": "num", "score_high": "num", "score_prev": "num", "score_change": "num",
    "n_deliveries": "int", "n_lines": "int", "n_qty_lines": "int", "n_prev": "int", "n_open_late": "int",
    "n_over_delivered": "int", "n_late": "int", "otif_rate": "pct", "otif_low": "pct", "otif_high": "pct",
    "otif_prev": "pct", "otif_change": "pp", "mde": "pp", "on_time_rate": "pct", "in_full_rate": "pct",
    "fill_rate": "pct", "reject_ppm": "int", "quality_return_rate": "pct", "price_variance_pct": "pct",
    "lead_time_cv": "num", "lead_time_mean": "num", "price_variance": "money", "short_value": "money",
    "late_value": "money", "over_value": "money", "money_at_stake": "money", "over_units": "int",
    "p_value": "p", "p_adjusted": "p", "promised_at": "date", "qty_ordered": "int", "open_value": "money",
    "days_overdue": "num", "demand_mean": "num", "demand_sd": "num", "lead_time_sd": "num", "cycle_stock": "int",
    "safety_stock": "int", "reorder_point": "int", "days_of_cover": "num", "on_hand": "int", "on_order": "int",
    "position": "int", "shortfall": "int", "n": "int", "median": "num", "mean_rank": "num", "z": "num",
    "rejected": "int", "accepted": "int", "reject_rate": "pct", "residual": "num", "rate": "pct",
    "rest_rate": "pct", "diff": "pp", "hits": "int", "trials": "int",
}
#: The compact scorecard on the page; the full one (:data:`SCORECARD_DETAIL`) goes in a collapsed details cell.
SCORECARD_COLUMNS = ["rank", "supplier_id", "supplier_name", "grade", "score", "n_deliveries", "otif_rate",
                     "fill_rate", "reject_ppm", "quality_return_rate", "money_at_stake", "status"]
SCORECARD_DETAIL = ["rank", "supplier_id", "grade", "score", "score_low", "score_high", "n_deliveries", "otif_rate",
                    "otif_low", "otif_high", "on_time_rate", "in_full_rate", "fill_rate", "n_over_delivered",
                    "over_units", "reject_ppm", "quality_return_rate", "price_variance_pct", "lead_time_cv",
                    "n_open_late", "short_value", "late_value", "price_variance", "money_at_stake", "status"]


def minimum_data_note(now: Result, msg: Messages) -> str:
    """The minimum-data rules of :data:`MINIMUM_DATA`, in the run's language, as one line for the page."""
    rules = [msg(f"suppliers.min.{k}", n=now.notes.get("min_deliveries", 5), group=MIN_GROUP) for k in MINIMUM_DATA]
    return msg("suppliers.minimum_data", rules=msg("suppliers.s.list_sep").join(rules))


def formats(df: pd.DataFrame) -> dict[str, str]:
    """Display formats of ``df``'s columns from :data:`UNITS` (for ``el.styled(..., formats=...)``)."""
    return {c: UNITS[c] for c in df.columns if c in UNITS}


def table(df: pd.DataFrame, msg: Messages, *, columns: Sequence[str] | None = None, caption: str | None = None,
          rows: int | None = None):
    """A result table ready to show: the ``columns`` it has (all by default), codes translated, values formatted by
    :data:`UNITS`, headers translated, at most ``rows`` rows (the caption should say how many of how many)."""
    from .report import styled

    if columns is not None:
        df = df[[c for c in columns if c in df.columns]]
    shown = translate_codes(df if rows is None else df.head(rows), msg, columns=("status", "state", "kpi"))
    return styled(shown, msg, formats=formats(shown), labels=msg.labels(list(shown.columns), "suppliers.col."),
                  caption=caption)


def load(data_dir, **kwargs):
    """The contract tables of the supplier review (purchase_orders required; the rest optional), validated."""
    return load_tables(data_dir, NAME, **kwargs)


def _table(ds, name: str) -> pd.DataFrame | None:
    return getattr(ds, name, None)


def compute(ds, period: Period, *, window_days: int = 90, on_time_tolerance_days: float = 1.0,
            fill_threshold: float = 0.95, weights: Mapping[str, float] | None = None, min_deliveries: int = 5,
            at_risk_days: float = 7.0, service_level: float = 0.95, demand_lookback_days: int = 90,
            maturity_days: int = 30, alpha: float = 0.05) -> Result:
    """Everything the supplier page shows for ``period``, as known at its end.

    Parameters
    ----------
    ds : a dataset from :func:`load` (``purchase_orders`` required; ``suppliers``, ``products``, ``orders``,
        ``order_items``, ``returns``, ``inventory`` optional).
    period : the review period; delivery KPIs use the trailing ``window_days`` ending with it
        (:func:`trailing_window`); open lines, stock and reorder points are as of its end.
    window_days, on_time_tolerance_days, fill_threshold, weights, min_deliveries, at_risk_days, service_level,
    demand_lookback_days : see :func:`delivery_lines`, :func:`scorecard`, :func:`open_lines`, :func:`reorder_points`.
    maturity_days : quality returns count sales of the ``window_days`` ending this many days before the period's end
        (the returns review's sales window).
    alpha : significance level after correction, and 1 − confidence of the intervals.

    Returns
    -------
    :class:`~ecomlib.review.Result` with tables ``lines`` (all lines as of the end), ``kpis``, ``overall`` (one
    row), ``scorecard``, ``worst_kpis``, ``versus_rest``, ``trend``, ``days_late``, ``open``, ``tests`` (one row
    per test: days late, lead time, rejects), ``late_test``, ``lead_test``, ``reject_test``, ``reorder``,
    ``below``; headline values; gaps for sections that cannot be computed (see :data:`MINIMUM_DATA`).
    """
    window = trailing_window(period, window_days=window_days)
    _check_range("alpha", alpha, 0, 1, lo_open=True, hi_open=True)
    res = Result(NAME, period, notes={"window": window, "window_days": window.days, "alpha": alpha,
                                      "tolerance": on_time_tolerance_days, "min_deliveries": min_deliveries,
                                      "at_risk_days": at_risk_days, "service_level": service_level,
                                      "demand_lookback_days": demand_lookback_days})
    supplier_names = _table(ds, "suppliers")
    lines = delivery_lines(ds.purchase_orders, as_of=period.end, on_time_tolerance_days=on_time_tolerance_days,
                           fill_threshold=fill_threshold, suppliers=supplier_names)
    res.tables["lines"] = lines

    # quality returns: the returns review's definition, over its sales window
    sales = _table(ds, "orders"), _table(ds, "order_items"), _table(ds, "products")
    quality = quality_all = None
    missing = [n for n, t in zip(("orders", "order_items", "products"), sales) if t is None]
    if missing:
        res.gaps["quality"] = Gap("suppliers.gap.quality", {"missing": ", ".join(missing)})
    else:
        from .returns import sales_window
        sales_win = sales_window(period, window_days=window.days, maturity_days=maturity_days)
        res.notes["sales_window"] = sales_win
        sold, returned = _sales_and_returns(_table(ds, "returns"), ds.order_items, ds.orders, ds.products,
                                            as_of=period.end)
        quality = _quality_rates(sold, returned, window=sales_win, by="supplier_id", alpha=alpha)
        quality_all = _quality_rates(sold, returned, window=sales_win, by=None, alpha=alpha)
    weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
    if quality is None and weights.get("quality_return_rate"):
        weights.pop("quality_return_rate")  # no sales data: the other KPIs' weights are rescaled

    engine = getattr(ds, "engine", None)
    if engine is None:
        kpis = supplier_kpis(lines, window=window, quality=quality, alpha=alpha)
        overall = supplier_kpis(lines, window=window, by=None, quality=quality_all, alpha=alpha)
    else:  # the same tables from the dataset's query engine (ecomlib/sql/supplier_rates.sql)
        line_rules = {"as_of": period.end, "window": window, "on_time_tolerance_days": on_time_tolerance_days,
                      "fill_threshold": fill_threshold, "alpha": alpha}
        kpis = supplier_kpis_on(engine, quality=quality, **line_rules)
        overall = supplier_kpis_on(engine, by=None, quality=quality_all, **line_rules)
    if overall["n_deliveries"].item() > 0 and overall["n_qty_lines"].item() == 0:
        # received lines without received quantities (some ERP exports): in full, OTIF, fill and rejects cannot be
        # judged; the scorecard weighs the on-time rate in OTIF's place, and the page says so
        res.gaps["quantities"] = Gap("suppliers.gap.quantities", {"n": int(overall["n_deliveries"].item())})
        if weights.get("otif_rate"):
            weights["on_time_rate"] = weights.pop("otif_rate") + weights.get("on_time_rate", 0.0)
    res.notes["weights"] = weights
    res.tables.update(kpis=kpis, overall=overall)
    o = overall.iloc[0]
    res.values.update(
        otif_rate=o["otif_rate"], fill_rate=o["fill_rate"], reject_ppm=o["reject_ppm"], otif_hits=int(o["otif"]),
        n_qty_lines=int(o["n_qty_lines"]), n_deliveries=int(o["n_deliveries"]), price_variance=o["price_variance"],
        short_value=o["short_value"], late_value=o["late_value"], over_value=o["over_value"],
        over_units=o["over_units"], n_over_delivered=int(o["n_over_delivered"]), money_at_stake=o["money_at_stake"],
        quality_return_rate=o.get("quality_return_rate"))

    if o["n_deliveries"] == 0:
        res.gaps["scorecard"] = Gap("suppliers.gap.scorecard", {"days": window.days})
        res.tables["scorecard"] = card = scorecard(kpis.iloc[:0], weights=weights, min_deliveries=min_deliveries)
    else:
        res.tables["scorecard"] = card = scorecard(kpis, weights=weights, min_deliveries=min_deliveries,
                                                   suppliers=supplier_names)
    ranked = card[card["status"] == "ranked"]
    res.values["n_ranked"] = len(ranked)
    res.values["n_suppliers"] = len(card)
    if len(ranked) >= 2:
        worst = ranked.iloc[-1]
        res.values.update(worst_supplier=worst["supplier_id"], worst_otif=worst["otif_rate"],
                          worst_clear=bool(worst["score_high"] < ranked.iloc[:-1]["score_low"].min()))
        res.tables["worst_kpis"] = weakest_kpis(card, worst["supplier_id"], weights=weights, top=5)
        res.tables["versus_rest"] = versus_rest(card, alpha=alpha)
    else:
        res.gaps["outliers"] = Gap("suppliers.gap.outliers", {"ranked": len(ranked), "needed": min_deliveries})
        res.tables["worst_kpis"] = pd.DataFrame(columns=["kpi", "value", "peer_median", "sub_score", "shortfall"])
        res.tables["versus_rest"] = versus_rest(card.iloc[:0], alpha=alpha)

    res.tables["trend"] = trend = otif_trend(lines, alpha=alpha)
    if trend.empty:
        res.gaps["trend"] = Gap("suppliers.gap.trend", {})
    in_window = lines[window.contains(lines["promised_at"]) & (lines["status"] == "received")]
    res.tables["days_late"] = days_late_distribution(lines, window=window)
    if in_window.empty:
        res.gaps["lead_times"] = Gap("suppliers.gap.lead_times", {"days": window.days})

    open_po = open_lines(lines, at_risk_days=at_risk_days)
    res.tables["open"] = open_po
    late = open_po[open_po["state"] == "late"]
    res.values.update(open_late_lines=len(late), open_late_value=float(late["open_value"].sum()),
                      at_risk_lines=int((open_po["state"] == "at_risk").sum()))

    tests = {"days_late": compare_lead_times(lines, window=window, value="days_late", min_group=MIN_GROUP),
             "lead_time_days": compare_lead_times(lines, window=window, value="lead_time_days", min_group=MIN_GROUP),
             "rejects": compare_rejections(lines, window=window)}
    res.tables["tests"] = pd.DataFrame([{"what": k, "test": t.test, "statistic": t.statistic, "dof": t.dof,
                                         "p_value": t.p_value, "n": t.n, "reliable": t.reliable, "driver": t.driver,
                                         "driver_z": t.driver_z} for k, t in tests.items()])
    res.tables.update(late_test=tests["days_late"].table, lead_test=tests["lead_time_days"].table,
                      reject_test=tests["rejects"].table)
    if tests["days_late"].driver is None:
        res.gaps["tests"] = Gap("suppliers.gap.tests", {"n": MIN_GROUP})

    if missing:
        res.gaps["reorder"] = Gap("suppliers.gap.reorder", {"missing": ", ".join(missing)})
        res.tables["reorder"] = reorder = pd.DataFrame(columns=["sku", "product_name", "supplier_id", "reorder_point"])
    else:
        reorder = reorder_points(ds.order_items, ds.orders, lines, ds.products, as_of=period.end,
                                 lookback_days=demand_lookback_days, service_level=service_level)
        res.tables["reorder"] = reorder
        if not reorder["reorder_point"].notna().any():
            res.gaps["reorder"] = Gap("suppliers.gap.reorder_history", {})
    inventory = _table(ds, "inventory")
    if inventory is None or inventory.empty:
        res.gaps["below_rop"] = Gap("suppliers.gap.no_inventory", {})
        res.tables["below"] = below_reorder_point(reorder.iloc[:0], None, lines, as_of=period.end)
    elif not res.has("reorder"):
        res.gaps["below_rop"] = res.gaps["reorder"]
        res.tables["below"] = below_reorder_point(reorder.iloc[:0], None, lines, as_of=period.end)
    elif not (inventory["as_of"] < period.end).any():
        res.gaps["below_rop"] = Gap("suppliers.gap.no_count", {"first": inventory["as_of"].min()})
        res.tables["below"] = below_reorder_point(reorder.iloc[:0], None, lines, as_of=period.end)
    else:
        res.tables["below"] = below_reorder_point(reorder, inventory, lines, as_of=period.end)
    res.values["n_below_rop"] = len(res.tables["below"])
    return res


def headlines(now: Result, before: Result | None, msg: Messages) -> list[Headline]:
    """The index cards: OTIF, fill rate, rejects (trailing window), open late lines and the last-ranked supplier's
    OTIF, each with the same headline of ``before`` (the comparison period's result) as its previous value."""
    days = now.notes["window_days"]

    def prev(name):
        return None if before is None else number(before.value(name))

    worst, worst_prev = now.value("worst_supplier"), None if before is None else before.value("worst_supplier")
    if worst is not None and worst_prev is not None and worst_prev != worst:
        worst_label = msg("suppliers.h.worst_otif_changed", name=worst, before=worst_prev, days=days)
    else:
        worst_label = msg("suppliers.h.worst_otif", name=worst or "–", days=days)
    src = "ecomlib.suppliers."
    return [
        Headline("otif_rate", msg("suppliers.h.otif_rate", days=days), number(now.value("otif_rate")), "ratio",
                 previous=prev("otif_rate"), good="up", source=src + "supplier_kpis"),
        Headline("fill_rate", msg("suppliers.h.fill_rate", days=days), number(now.value("fill_rate")), "ratio",
                 previous=prev("fill_rate"), good="up", source=src + "supplier_kpis"),
        Headline("open_late_lines", msg("suppliers.h.open_late", grace=now.notes["tolerance"]),
                 number(now.value("open_late_lines")), "count", previous=prev("open_late_lines"), good="down",
                 source=src + "open_lines"),
        Headline("worst_supplier_otif", worst_label, number(now.value("worst_otif")), "ratio",
                 previous=prev("worst_otif"), good="up", source=src + "scorecard"),
        Headline("reject_ppm", msg("suppliers.h.reject_ppm", days=days), number(now.value("reject_ppm")), "number",
                 previous=prev("reject_ppm"), good="down", source=src + "supplier_kpis"),
    ]


def findings(now: Result, before: Result | None, msg: Messages) -> list[Finding]:
    """Structured conclusions for the index, each with the numbers it rests on and money at stake.

    Money at stake (trailing window, agreed unit cost): for the last-ranked supplier, units short plus price paid
    above the agreed price (``money_at_stake``); for open late lines, their open value; for price variance, the
    amount paid above agreed; for over-delivery, the value of the units beyond the order. A supplier finding is
    ``significant`` when at least one of its KPIs is worse than the other suppliers' after Holm correction over
    the ranked suppliers × 3 KPIs (:func:`versus_rest`); the OTIF change when its two-proportion test is.
    """
    out: list[Finding] = []
    src = "ecomlib.suppliers."
    worst = now.value("worst_supplier")
    if worst is not None:
        card = now.tables["scorecard"]
        row = card[card["supplier_id"] == worst].iloc[0]
        vr = now.tables["versus_rest"]
        bad = vr[(vr["supplier_id"] == worst) & vr["worse"]]
        significant = len(bad) > 0
        family = int(vr["p_adjusted"].notna().sum())
        severity = "high" if significant and row["grade"] == "D" else "medium" if significant else "low"
        confidence = "significant" if significant else "not_significant" if family else "descriptive"
        out.append(Finding(NAME, "worst_supplier", _worst_sentence(now, msg),
                           numbers={"supplier_id": worst, "score": number(row["score"]), "grade": row["grade"],
                                    "otif_rate": number(row["otif_rate"]), "reject_ppm": number(row["reject_ppm"]),
                                    "quality_return_rate": number(row.get("quality_return_rate")),
                                    "worse_kpis": sorted(bad["kpi"]),
                                    "p_adjusted_max": number(bad["p_adjusted"].max()) if significant else None,
                                    "family": family},
                           money=number(row["money_at_stake"]), severity=severity, confidence=confidence,
                           anchor="sec-outliers", source=src + "versus_rest"))
    if now.value("open_late_lines"):
        out.append(Finding(NAME, "open_late", _open_sentence(now, msg),
                           numbers={"lines": now.value("open_late_lines"), "value": now.value("open_late_value")},
                           money=number(now.value("open_late_value")), severity="medium", confidence="descriptive",
                           anchor="sec-open", source=src + "open_lines"))
    change = overall_change(now, before)
    if change:
        worse = change["significant"] and change["diff"] < 0
        out.append(Finding(NAME, "otif_change", _overall_sentence(now, before, msg),
                           numbers={k: number(v) if not isinstance(v, bool) else v for k, v in change.items()},
                           money=None, severity="medium" if worse else "info",
                           confidence="significant" if change["significant"] else "not_significant",
                           anchor="sec-trend", source=src + "overall_change"))
    pv = number(now.value("price_variance"))
    if pv and pv > 0:
        out.append(Finding(NAME, "price_variance", msg("suppliers.s.price_variance", value=pv,
                                                       days=now.notes["window_days"]),
                           numbers={"price_variance": pv}, money=pv, severity="low", confidence="descriptive",
                           anchor="sec-scorecard", source=src + "supplier_kpis"))
    if now.value("n_over_delivered"):
        out.append(Finding(NAME, "over_delivery", _over_sentence(now, msg),
                           numbers={"lines": now.value("n_over_delivered"), "units": number(now.value("over_units"))},
                           money=number(now.value("over_value")), severity="low", confidence="descriptive",
                           anchor="sec-scorecard", source=src + "supplier_kpis"))
    if now.has("below_rop") and now.value("n_below_rop"):
        out.append(Finding(NAME, "below_reorder_point", _below_sentence(now, msg),
                           numbers={"skus": now.value("n_below_rop")}, money=None, severity="medium",
                           confidence="descriptive", anchor="sec-reorder", source=src + "below_reorder_point"))
    return out


# Sentences (read only numbers already in the results) ----------------------------------------------------------

def _worst_sentence(now: Result, msg: Messages) -> str:
    card, worst = now.tables["scorecard"], now.value("worst_supplier")
    row = card[card["supplier_id"] == worst].iloc[0]
    weak = now.tables["worst_kpis"]
    phrases = msg("suppliers.s.list_sep").join(_kpi_phrase(r.kpi, r.value, r.peer_median, msg)
                                               for r in weak.itertuples())
    return msg("suppliers.s.worst", name=_name(row, "supplier_id"), n=now.value("n_ranked"),
               score=msg.num(row["score"], 0), low=msg.num(row["score_low"], 0), high=msg.num(row["score_high"], 0),
               grade=row["grade"], kpis=phrases or msg("suppliers.s.no_weak_kpi"))


def _open_sentence(now: Result, msg: Messages) -> str:
    open_po = now.tables["open"]
    late = open_po[open_po["state"] == "late"]
    if not len(late):
        return msg("suppliers.s.open_none", at_risk=now.value("at_risk_lines"), grace=now.notes["tolerance"])
    top = late.groupby("supplier_id", observed=True).size().sort_values(ascending=False)
    return msg("suppliers.s.open_late", n=len(late), value=late["open_value"].sum(), name=top.index[0],
               n_top=int(top.iloc[0]), days=late["days_overdue"].max(), at_risk=now.value("at_risk_lines"),
               grace=now.notes["tolerance"])


def _overall_sentence(now: Result, before: Result | None, msg: Messages) -> str:
    days = now.notes["window_days"]
    change = overall_change(now, before)
    if not change:
        return msg("suppliers.s.otif_overall", rate=now.value("otif_rate"), n=now.value("n_qty_lines"),
                   fill=now.value("fill_rate"), days=days)
    if np.isnan(change["p_value"]):  # both windows all on time and in full (or none): nothing to test
        key = "suppliers.s.otif_overall_untested"
    else:
        key = "suppliers.s.otif_overall_change" if change["significant"] else "suppliers.s.otif_overall_same"
    return msg(key, rate=change["rate"], n=change["n"], before=change["before"], pval=change["p_value"],
               fill=now.value("fill_rate"), days=days, mde=change["mde"])


def _over_sentence(now: Result, msg: Messages) -> str:
    return msg("suppliers.s.over_delivery", n=now.value("n_over_delivered"), units=now.value("over_units"),
               value=now.value("over_value"))


def _below_sentence(now: Result, msg: Messages) -> str:
    below = now.tables["below"]
    if not len(below):
        return msg("suppliers.s.none_below_rop")
    first = below.iloc[0]
    return msg("suppliers.s.below_rop", n=len(below), sku=first["sku"], product=first["product_name"],
               position=first["position"], rop=first["reorder_point"], short=first["shortfall"])


def sentences(now: Result, before: Result | None, msg: Messages) -> list[str]:
    """The page's conclusions, most important first, in the language of ``msg``, read from the two results.

    ``before`` is the same review computed for the comparison period (its trailing window ends at the comparison
    period's end); every p-value quoted is in a result table or computed from the results' counts by
    :func:`overall_change` / :func:`supplier_changes` / :func:`versus_rest` (families named in the sentence).
    """
    out: list[str] = []
    alpha = now.notes.get("alpha", 0.05)
    card = now.tables["scorecard"]
    if now.value("n_qty_lines"):
        out.append(_overall_sentence(now, before, msg))
    elif now.value("n_deliveries"):
        o = now.tables["overall"].iloc[0]
        out.append(msg("suppliers.s.on_time_overall", rate=o["on_time_rate"], n=o["n_deliveries"],
                       days=now.notes["window_days"]))
    worst = now.value("worst_supplier")
    if worst is not None:
        row = card[card["supplier_id"] == worst].iloc[0]
        out.append(_worst_sentence(now, msg))
        vr = now.tables["versus_rest"]
        family = int(vr["p_adjusted"].notna().sum())
        bad = vr[(vr["supplier_id"] == worst) & vr["worse"]]
        if not family:
            pass  # no KPI could be tested (no quantities, no sales)
        elif len(bad):
            out.append(msg("suppliers.s.worse_than_rest", name=worst, kpis=msg("suppliers.s.list_sep").join(
                msg("suppliers.s.rest_phrase", kpi=msg(f"suppliers.kpi.{r.kpi}"), rate=r.rate, rest=r.rest_rate,
                    p=r.p_adjusted) for r in bad.itertuples()), family=family, n=now.value("n_ranked")))
        else:
            out.append(msg("suppliers.s.not_worse_than_rest", name=worst, family=family, n=now.value("n_ranked")))
        if row["n_qty_lines"] > 0:
            out.append(msg("suppliers.s.worst_partial", name=worst, partial=row["n_partial"] / row["n_qty_lines"],
                           late=1 - row["on_time_rate"], n=row["n_deliveries"], short=row["short_value"],
                           pv=row["price_variance"] if pd.notna(row["price_variance"]) else 0.0))
        out.append(msg("suppliers.s.worst_clear" if now.value("worst_clear") else "suppliers.s.worst_overlap",
                       name=worst))
        best = card[card["status"] == "ranked"].iloc[0]
        out.append(msg("suppliers.s.best" if pd.notna(best["otif_rate"]) else "suppliers.s.best_plain",
                       name=_name(best, "supplier_id"), score=msg.num(best["score"], 0), grade=best["grade"],
                       otif=best["otif_rate"]))
    elif len(card):
        out.append(msg("suppliers.s.too_few_to_rank", n=now.value("n_ranked")))
    changes = supplier_changes(now, before)
    tested = changes[changes["p_adjusted"].notna()]
    if len(tested):
        moved = tested[tested["p_adjusted"] < alpha]
        if len(moved):
            out.append(msg("suppliers.s.otif_changed", family=len(tested), names=msg("suppliers.s.list_sep").join(
                msg("suppliers.s.change_phrase", name=r.supplier_id, before=r.otif_prev, after=r.otif_rate,
                    p=r.p_adjusted) for r in moved.itertuples())))
        elif tested["mde"].notna().any():
            out.append(msg("suppliers.s.otif_unchanged", family=len(tested), low=tested["mde"].min(),
                           high=tested["mde"].max()))
        order = {"A": 0, "B": 1, "C": 2, "D": 3}
        down = changes[changes["grade"].map(order) > changes["grade_prev"].map(order)]
        if len(down):
            out.append(msg("suppliers.s.grade_down", names=msg("suppliers.s.list_sep").join(
                f"{r.supplier_id} ({r.grade_prev} → {r.grade})" for r in down.itertuples())))
    few = card[card["status"] == "too_few"] if len(card) else card
    for _, r in few[few["n_deliveries"] > 0].head(3).iterrows():  # at most three small suppliers
        if pd.isna(r["otif_rate"]):
            out.append(msg("suppliers.s.too_few_plain", name=_name(r, "supplier_id"), n=r["n_deliveries"]))
        else:
            out.append(msg("suppliers.s.too_few", name=_name(r, "supplier_id"), n=r["n_deliveries"],
                           otif=r["otif_rate"], low=r["otif_low"], high=r["otif_high"]))
    if now.value("n_over_delivered"):
        out.append(_over_sentence(now, msg))
    out.append(_open_sentence(now, msg))
    tests = now.tables["tests"].set_index("what")
    for what, table in (("days_late", now.tables["late_test"]), ("lead_time_days", now.tables["lead_test"])):
        t = tests.loc[what]
        if t["driver"] is None or pd.isna(t["p_value"]):
            continue
        hi, lo = table.loc[table["z"].idxmax()], table.loc[table["z"].idxmin()]
        key = "suppliers.s.kw_differ" if t["p_value"] < alpha else "suppliers.s.kw_same"
        out.append(msg(key, what=msg(f"suppliers.what.{what}"), h=msg.num(t["statistic"], 1), pval=t["p_value"],
                       k=int(t["dof"]) + 1, hi_name=hi["supplier_id"], hi_median=msg.num(hi["median"], 1),
                       hi_z=msg.num(hi["z"], 1), lo_name=lo["supplier_id"], lo_median=msg.num(lo["median"], 1),
                       lo_z=msg.num(lo["z"], 1)))
    t = tests.loc["rejects"]
    if t["driver"] is not None and not pd.isna(t["p_value"]):
        rt = now.tables["reject_test"]
        row = rt.iloc[0]
        overall_rate = rt["rejected"].sum() / rt[["rejected", "accepted"]].to_numpy().sum()
        key = "suppliers.s.chi_differ" if t["p_value"] < alpha else "suppliers.s.chi_same"
        out.append(msg(key, chi2=msg.num(t["statistic"], 1), dof=int(t["dof"]), pval=t["p_value"], name=t["driver"],
                       rate=row["reject_rate"], overall=overall_rate, resid=msg.num(t["driver_z"], 1),
                       direction=msg("suppliers.s.more" if t["driver_z"] > 0 else "suppliers.s.fewer")))
        if not t["reliable"]:
            out.append(msg("suppliers.s.chi_unreliable"))
    reorder = now.tables.get("reorder")
    if now.has("reorder") and reorder is not None and reorder["reorder_point"].notna().any():
        top = reorder.dropna(subset=["reorder_point"]).iloc[0]
        out.append(msg("suppliers.s.reorder", sku=top["sku"], product=top["product_name"], rop=top["reorder_point"],
                       ss=top["safety_stock"], days=top["days_of_cover"], level=float(sps.norm.cdf(top["z"]))))
        if now.has("below_rop") and "below" in now.tables:
            out.append(_below_sentence(now, msg))
    return out
