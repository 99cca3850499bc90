"""Customer lifetime value: the RFM summary, BG/NBD (or Pareto/NBD) + Gamma-Gamma, holdout checks, LTV:CAC and payback.

The models are fitted with `lifetimes <https://github.com/CamDavidsonPilon/lifetimes>`_ (0.11.3, which fits
and predicts correctly on pandas 3). The pieces of lifetimes that are slow or broken on pandas 3 are written
here, vectorized, and tested against lifetimes where it still works: the per-customer summary
(:func:`customer_summary`), the calibration/holdout split (:func:`calibration_holdout`) and the discounted CLV
sum (:meth:`CustomerValueModel.clv`). See ``docs/decisions-lifetimes.md``. On a query engine (DuckDB, Spark; see
:mod:`ecomlib.engine`) the summary is reduced where the orders are, by :func:`customer_summary_on`
(``ecomlib/sql/customer_summary.sql``), to the same table.

Only counted orders enter (status ``completed`` or ``partially_refunded``, see
:func:`ecomlib.cohorts.completed_orders`, which also explains how refunds are treated).

The review's interface (``NAME = "cohort_ltv"``, ``MINIMUM_DATA``, ``load``, ``compute``, ``headlines``,
``findings``, ``sentences``) lives in :mod:`ecomlib.cohorts`; ``compute`` calls this module for the model, the
holdout check and LTV:CAC, and :func:`sentences` here writes the lifetime-value conclusions from its result.

Two different numbers, never to be read as one: **LTV** (:func:`channel_economics`) is *history* — the gross
margin customers acquired at least ``ltv_months`` ago actually brought in their first ``ltv_months``; **CLV**
(:meth:`CustomerValueModel.clv`) is a *forecast* — the discounted margin the model expects from today's
customers over the next ``months``. Every label that shows them says which. Money is in the store
currency; time is in weeks (days / 7) or days, as chosen with ``time_unit``.

References
----------
- Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way: An Alternative to the Pareto/NBD Model",
  Marketing Science 24(2) — BG/NBD; CDNOW estimates r = 0.243, α = 4.414, a = 0.793, b = 2.426.
- Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value" — p = 6.25, q = 3.74, v = 15.44 on CDNOW.
- Schmittlein, Morrison & Colombo (1987), "Counting Your Customers" — Pareto/NBD.

Example
-------
>>> import pandas as pd
>>> orders = pd.DataFrame({"customer_id": ["a", "a", "a", "b"], "order_time": pd.to_datetime(
...     ["2025-01-01 09:00", "2025-01-01 18:00", "2025-01-15 10:00", "2025-01-08 10:00"]), "revenue": [10.0, 5.0, 30.0, 20.0]})
>>> customer_summary(orders, "2025-01-29").to_dict("index")
{'a': {'frequency': 1.0, 'recency': 2.0, 'T': 4.0, 'monetary_value': 30.0}, 'b': {'frequency': 0.0, 'recency': 0.0, 'T': 3.0, 'monetary_value': 0.0}}
"""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from typing import TYPE_CHECKING, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pyarrow as pa
import seaborn as sns
from matplotlib.axes import Axes
from scipy import stats as sps

from .cohorts import _check_option, _counted, _cutoff, _is_counted, _naive, acquisition
from .dataset import require_columns
from .errors import ContractError, FitError, NotFittedError, ParameterError, PeriodError, Violation
from .i18n import Messages

if TYPE_CHECKING:
    from .dataset import Dataset

TIME_UNITS = {"W": 7.0, "D": 1.0}
"""Length of one time unit in days: ``"W"`` measures recency and T in days / 7, ``"D"`` in days."""
DAYS_PER_MONTH = 365.25 / 12
MODELS = {"bgnbd": "BG/NBD", "pareto_nbd": "Pareto/NBD"}
SUMMARY_COLUMNS = ["frequency", "recency", "T", "monetary_value"]
MAX_SHAPE = 1e4
"""A shape parameter (r, a, b, s, p, q) above this means the optimiser ran off to the edge of the parameter space."""
MAX_SCALE_RATIO = 1e4
"""A scale parameter above this multiple of the data's range (α, β against the oldest customer's T; v against
the largest monetary value) is just as absurd."""
MIN_CUSTOMERS = 20
MIN_REPEAT_CUSTOMERS = 10
CORRELATION_LIMIT = 0.3
"""|Pearson r| of frequency and monetary value above which the Gamma-Gamma independence assumption is doubtful."""
_Z95 = 1.959963984540054


RETRY_TOL = 1e-4


def _lifetimes():
    """The lifetimes package, imported on first use without its pandas deprecation warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lifetimes
    return lifetimes


# The per-customer summary ---------------------------------------------------------------------------
def _day_number(value) -> int:
    """Days since 1970-01-01 of a date or timestamp (the time of day is dropped)."""
    return int(np.datetime64(pd.Timestamp(value).tz_localize(None).normalize().to_datetime64(), "D").astype(np.int64))


_ID_BYTES = 16  # ids of up to this many bytes are ranked from their bytes (two 8-byte words)
# _HIGH_BYTES[k]: a 64-bit mask keeping the k most significant bytes of a big-endian word (the rest are padding)
_HIGH_BYTES = np.array([(0xFFFFFFFFFFFFFFFF << (8 * (8 - k))) & 0xFFFFFFFFFFFFFFFF for k in range(9)],
                       dtype=np.uint64)


def _byte_codes(ids: pd.Series, limit: int) -> tuple[np.ndarray, int] | None:
    """Integer codes ordered as the ids are (a < b ⇔ code a < code b), read from the ids' bytes; no hashing.

    For ids held as Arrow strings (pandas' ``str`` dtype, what the loader gives) of at most ``_ID_BYTES`` bytes,
    none holding a NUL character. UTF-8 byte order is the order of the characters, so an id reads as a number
    whose digits are its bytes, most significant first, shorter ids padded with zero bytes (a prefix sorts
    first). Byte positions where all ids agree are dropped and each other position becomes one digit of a
    mixed radix (its byte minus the smallest byte seen there, radix = the range seen there), which keeps the
    codes small enough to share one int64 sort key with the day; neighbouring positions are then merged into
    wider digits as long as the codes stay below ``limit``. About 20 vectorized passes over one or two numbers
    per id, several times cheaper than hashing the strings (:func:`pandas.factorize`) and sorting the distinct
    ids.

    Returns ``codes, size`` (int64 codes in ``[0, size)``, one per row, nulls reading as ``""``), or None when
    the ids are not short Arrow strings or ``size`` would exceed ``limit``.
    """
    dtype = ids.dtype
    if not (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow") or len(ids) == 0:
        return None
    arr = pa.array(ids.array)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return None
    n = len(arr)
    _, offset_buffer, data_buffer = arr.buffers()
    offsets = np.frombuffer(offset_buffer, dtype=np.int64 if pa.types.is_large_string(arr.type) else np.int32)
    offsets = offsets[arr.offset:arr.offset + n + 1].astype(np.int64, copy=False)
    lengths = np.diff(offsets)
    longest = int(lengths.max())
    if longest > _ID_BYTES:
        return None
    end = int(offsets[-1])
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(0, dtype=np.uint8)
    if len(data) < end + 16:  # room to read 16 bytes from any start (Arrow pads its buffers, so rarely copied)
        data = np.concatenate([data[:end], np.zeros(16, dtype=np.uint8)])
    if not data[offsets[0]:end].all():
        return None  # a NUL byte in an id would read as padding
    width = 8 if longest <= 8 else 16
    # the first ``width`` bytes from each id's start (the bytes past its end are masked below), as big-endian
    # 64-bit words: one row of words per id
    words = np.ndarray((end + 1,), dtype=f"V{width}", buffer=data, strides=(1,))[offsets[:-1]]
    words = words.view(">u8").reshape(n, width // 8)
    blocks = []  # per 8 bytes of the ids: the word of each id, its varying byte positions and their bounds
    for first in range(0, width, 8):
        word = words[:, first // 8].astype(np.uint64)
        kept = np.minimum(lengths, 8) if first == 0 else np.clip(lengths - first, 0, 8)  # the id's bytes in it
        word &= _HIGH_BYTES[kept]  # the bytes past the id's end read as padding: 0
        # positions where the bitwise AND of the bytes differs from their OR hold different bytes
        same = int(np.bitwise_and.reduce(word)) ^ int(np.bitwise_or.reduce(word)) ^ 0xFFFFFFFFFFFFFFFF
        as_bytes = word.view(np.uint8).reshape(n, 8)[:, ::-1]  # most significant byte first
        blocks.append((word, [(j, int(as_bytes[:, j].min()), int(as_bytes[:, j].max())) for j in range(8)
                              if (same >> (56 - 8 * j)) & 0xFF != 0xFF]))
    # A digit per run of varying byte positions (each byte minus the smallest there, read as base 256; radix:
    # 1 + the largest such value). Runs start as single bytes and neighbours are merged while the codes stay
    # within the limit: fewer digits, fewer passes over the rows.
    runs = [[b, j, j] for b, (_, varying) in enumerate(blocks) for j, _, _ in varying]
    spread = {(b, j): hi - lo for b, (_, varying) in enumerate(blocks) for j, lo, hi in varying}

    def radix(run):
        b, start, stop = run
        return 1 + sum(spread.get((b, j), 0) << (8 * (stop - j)) for j in range(start, stop + 1))

    def size_of(runs):
        return int(np.prod([radix(r) for r in runs], dtype=object))

    size = size_of(runs)
    if size > limit:
        return None
    while True:
        merged = [runs[:i] + [[runs[i][0], runs[i][1], runs[i + 1][2]]] + runs[i + 2:]
                  for i in range(len(runs) - 1) if runs[i][0] == runs[i + 1][0] and runs[i + 1][2] - runs[i][1] < 7]
        merged = [(size_of(m), m) for m in merged]
        fits = [m for m in merged if m[0] <= limit]
        if not fits:
            break
        size, runs = min(fits, key=lambda m: m[0])
    codes, digit = np.zeros(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    for b, (word, varying) in enumerate(blocks):
        word -= np.uint64(sum(lo << (56 - 8 * j) for j, lo, _ in varying))  # no borrow: each byte ≥ its low
        word = word.view(np.int64)
        for run in (r for r in runs if r[0] == b):
            _, start, stop = run
            np.right_shift(word, 56 - 8 * stop, out=digit)
            np.bitwise_and(digit, (1 << (8 * (stop - start + 1))) - 1, out=digit)
            codes *= radix(run)
            codes += digit
    return codes, size


def _purchase_days(orders: pd.DataFrame, last_day: int, customer_col: str, time_col: str,
                   revenue_col: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.Index]:
    """Purchases as (customer code, day number, revenue) sorted by customer and day, same-day orders summed.

    Returns ``codes, days, revenue, customers`` where ``customers[codes]`` is the customer id (ids sorted) and
    ``codes`` run 0, 1, … in that order; see :func:`_sorted_purchases`.
    """
    first, days, values, customers = _sorted_purchases(orders, last_day, customer_col, time_col, revenue_col)
    return np.cumsum(first) - 1, days, values, customers


def _sorted_purchases(orders: pd.DataFrame, last_day: int, customer_col: str, time_col: str,
                      revenue_col: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.Index]:
    """Purchase days sorted by customer and day, same-day orders summed: ``first, days, revenue, customers``.

    ``first`` marks each customer's first purchase day; ``customers`` holds one id per customer, in id order.
    Counted orders of known customers on or before ``last_day`` enter (see
    :func:`ecomlib.cohorts.completed_orders`).

    How: each id gets an integer code in id order — from its bytes (:func:`_byte_codes`) or else by
    :func:`pandas.factorize` and a sort of the distinct ids (not of the rows) — and one :func:`numpy.argsort`
    of a single int64 key (code, then day, in its low bits) orders the purchases; :func:`numpy.add.reduceat`
    sums same-day orders. The ids of the output are taken once, one row per customer.
    """
    ids = orders[customer_col]
    days = _naive(orders[time_col]).to_numpy().astype("datetime64[D]").astype(np.int64)
    keep = ids.notna().to_numpy() & (days <= last_day)
    if "status" in orders.columns:
        keep &= _is_counted(orders["status"])
    rows = None if keep.all() else np.flatnonzero(keep)
    if rows is not None:
        days = days[rows]
    if len(days) == 0:
        return np.zeros(0, dtype=bool), np.zeros(0, dtype=np.int64), np.zeros(0), pd.Index([], dtype=object)
    values = orders[revenue_col].to_numpy(dtype=float) if revenue_col else np.zeros(len(ids))
    if rows is not None:
        values = values[rows]
    first_day = int(days.min())
    day_bits = int(days.max() - first_day).bit_length()
    coded = _byte_codes(ids, 1 << (63 - day_bits))
    if coded is not None:
        codes = coded[0] if rows is None else coded[0][rows]
    else:
        codes, uniques = pd.factorize(ids if rows is None else ids.iloc[rows])
        rank = np.empty(len(uniques), dtype=np.int64)
        rank[uniques.argsort()] = np.arange(len(uniques))  # customer codes in id order: sort the ids, not the rows
        codes = rank[codes]
    key = codes << day_bits
    key |= days - first_day
    order = np.argsort(key)
    key = key[order]
    values = values[order]
    new = np.ones(len(key), dtype=bool)
    new[1:] = key[1:] != key[:-1]
    starts = np.flatnonzero(new)
    key = key[starts]
    codes = key >> day_bits
    first = np.ones(len(codes), dtype=bool)
    first[1:] = codes[1:] != codes[:-1]
    at = order[starts[first]]  # a row of each customer, in id order
    if rows is not None:
        at = rows[at]
    # the ids of those rows: taken in table order, then put in id order (a take in order is several times
    # faster than one in random order over the whole table)
    taken = np.zeros(len(ids), dtype=bool)
    taken[at] = True
    customers = pd.Index(ids.array.take(np.flatnonzero(taken)).take(np.cumsum(taken)[at] - 1), dtype=ids.dtype)
    return first, (key & ((1 << day_bits) - 1)) + first_day, np.add.reduceat(values, starts), customers


def _summarize(codes: np.ndarray | None, days: np.ndarray, values: np.ndarray, customers: pd.Index, end_day: int,
               unit_days: float, index_name: str, *, first: np.ndarray | None = None) -> pd.DataFrame:
    """frequency / recency / T / monetary_value from purchase days sorted by customer and day.

    The customers are told apart by ``codes`` (``customers[codes]`` is the id), or, with ``codes=None``, by
    ``first`` (True on each customer's first purchase day; every one of ``customers`` present, in order)."""
    if len(days) == 0:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in SUMMARY_COLUMNS},
                            index=pd.Index([], name=index_name, dtype=object))
    if first is None:
        first = np.ones(len(codes), dtype=bool)
        first[1:] = codes[1:] != codes[:-1]
    starts = np.flatnonzero(first)
    n = np.diff(np.r_[starts, len(days)])
    frequency = (n - 1).astype(float)
    repeat_values = np.where(first, 0.0, values)
    repeat_sum = np.add.reduceat(repeat_values, starts)
    with np.errstate(divide="ignore", invalid="ignore"):
        monetary = np.where(frequency > 0, repeat_sum / np.maximum(frequency, 1), 0.0)
    first_day, last_day = days[starts], days[starts + n - 1]
    every = len(starts) == len(customers)  # codes 0, 1, … all present: the customers as they are
    return pd.DataFrame({"frequency": frequency, "recency": (last_day - first_day) / unit_days,
                         "T": (end_day - first_day) / unit_days, "monetary_value": monetary},
                        index=pd.Index(customers if every else customers[codes[starts]], name=index_name))


def _data_range(orders: pd.DataFrame, customer_col: str, time_col: str) -> str:
    """Where the counted customer purchases lie, in words, for errors about periods without data."""
    counted = _counted(orders)
    times = _naive(counted.loc[counted[customer_col].notna(), time_col])
    if times.empty:
        return "the data hold no counted purchase of a known customer"
    return f"the counted purchases run from {times.min().date()} to {times.max().date()}"


def customer_summary(orders: pd.DataFrame, observation_end: pd.Timestamp | str, *, time_unit: str = "W",
                     customer_col: str = "customer_id", time_col: str = "order_time",
                     revenue_col: str = "revenue") -> pd.DataFrame:
    """Per-customer frequency, recency, T and monetary value, as lifetimes defines them, vectorized.

    Orders on the same calendar day are one purchase, their revenue summed. ``frequency`` is the number of
    repeat purchase days (purchase days − 1); ``recency`` the time from the first to the last purchase day;
    ``T`` the time from the first purchase day to ``observation_end``; ``monetary_value`` the mean value of
    the repeat purchases (the first purchase excluded; 0 when frequency is 0). The same numbers as
    ``lifetimes.utils.summary_data_from_transaction_data(..., freq="D", freq_multiplier=7 if "W" else 1,
    monetary_value_col=revenue_col, observation_period_end=observation_end)``, several times faster.

    Parameters
    ----------
    orders : contract ``orders`` (``customer_id, order_time, revenue``) or any transaction log with those
        columns. When a ``status`` column is present only counted orders are used (``completed``,
        ``partially_refunded``; see :func:`ecomlib.cohorts.completed_orders`). Guest orders (no customer id)
        and orders after ``observation_end``'s day are left out.
    observation_end : last day observed, inclusive (a date; the time of day is ignored).
    time_unit : ``"W"`` (recency and T in days / 7) or ``"D"`` (in days).
    customer_col, time_col, revenue_col : column names.

    Returns
    -------
    DataFrame indexed by customer id (sorted), float columns ``frequency, recency, T, monetary_value``
    (monetary value in the store currency). ``attrs`` records ``time_unit`` and ``observation_end``.

    Raises
    ------
    PeriodError : "There is no data available …" when no counted purchase lies on or before ``observation_end``
        (lifetimes raises the same sentence; an empty summary would only fail later, in the fit).

    Example
    -------
    >>> o = pd.DataFrame({"customer_id": ["a", "a"], "order_time": pd.to_datetime(["2025-01-01", "2025-01-08"]),
    ...                   "revenue": [10.0, 30.0]})
    >>> customer_summary(o, "2025-01-15", time_unit="D").iloc[0].tolist()
    [1.0, 7.0, 14.0, 30.0]
    """
    _check_option("time_unit", time_unit, TIME_UNITS)
    require_columns(orders, [customer_col, time_col, revenue_col], table="orders", needed_by="customer_summary")
    end_day = _day_number(observation_end)
    first, days, values, customers = _sorted_purchases(orders, end_day, customer_col, time_col, revenue_col)
    if len(days) == 0:
        raise PeriodError(f"There is no data available up to {pd.Timestamp(observation_end).date()}: "
                          f"{_data_range(orders, customer_col, time_col)}. Choose an observation end inside the data")
    out = _summarize(None, days, values, customers, end_day, TIME_UNITS[time_unit], customer_col, first=first)
    out.attrs.update(time_unit=time_unit, observation_end=pd.Timestamp(observation_end).normalize())
    return out


def customer_summary_on(engine, observation_end: pd.Timestamp | str, *, time_unit: str = "W", basis: str = "gross",
                        end: pd.Timestamp | str | None = None) -> pd.DataFrame:
    """:func:`customer_summary` run on a query engine over the source's ``orders`` (and ``returns``).

    The same table as ``customer_summary(completed_orders(orders, returns=...), observation_end,
    time_unit=time_unit)`` from ``ecomlib/sql/customer_summary.sql``: orders never come into pandas, only one
    row per customer. Counted orders (status ``completed`` or ``partially_refunded``) of known customers on or
    before ``observation_end``'s day (and before ``end`` when given, as the review's ``compute`` cuts orders at
    ``period.end``); ``basis="gross"`` takes revenue as recorded, ``"net"`` less each order's refunds
    (``returns.refund_amount``, never below 0), as :func:`ecomlib.contract.order_revenue`.

    Returns
    -------
    DataFrame indexed by customer id (sorted), float ``frequency`` (repeat purchase days), ``recency`` and ``T``
    (in weeks for ``time_unit="W"``, days for ``"D"``) and ``monetary_value`` (store currency); ``attrs`` as
    :func:`customer_summary`.

    Raises
    ------
    PeriodError : "There is no data available …" when no counted purchase lies on or before ``observation_end``.

    Example
    -------
    >>> eng = ecomlib.engine.connect("duckdb", "data/demo")                                 # doctest: +SKIP
    >>> customer_summary_on(eng, "2026-11-22", time_unit="W", basis="net").head(1)          # doctest: +SKIP
    """
    from .cohorts import COUNTED_STATUSES
    from .contract import REVENUE_BASES
    from .engine import literal

    _check_option("time_unit", time_unit, TIME_UNITS)
    _check_option("basis", basis, REVENUE_BASES)
    end_day = _day_number(observation_end)
    stop = pd.Timestamp(np.datetime64(end_day + 1, "D"))  # orders before the day after observation_end count
    if end is not None:
        stop = min(stop, pd.Timestamp(end))
    counted = f"status IN ({', '.join(literal(s) for s in COUNTED_STATUSES)}) AND customer_id IS NOT NULL"
    scans = {"orders": f"{counted} AND order_time < {literal(stop)}", **({"returns": None} if basis == "net" else {})}
    rows = engine.reduce("customer_summary", statuses=list(COUNTED_STATUSES), basis=basis, stop=stop, scans=scans)
    if rows.empty:
        if end is not None:
            counted += f" AND order_time < {literal(pd.Timestamp(end))}"
        span = engine.sql(f"SELECT min(order_time) AS first, max(order_time) AS last FROM orders WHERE {counted}")
        first, last = span["first"].iloc[0], span["last"].iloc[0]
        where_data = ("the data hold no counted purchase of a known customer" if pd.isna(first) else
                      f"the counted purchases run from {pd.Timestamp(first).date()} to {pd.Timestamp(last).date()}")
        raise PeriodError(f"There is no data available up to {pd.Timestamp(observation_end).date()}: "
                          f"{where_data}. Choose an observation end inside the data")
    rows = rows.sort_values("customer_id", kind="stable")
    unit = TIME_UNITS[time_unit]
    first_day = rows["first_day"].to_numpy(np.int64)
    frequency = (rows["purchase_days"].to_numpy(np.int64) - 1).astype(float)
    repeat_value = rows["repeat_value"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        monetary = np.where(frequency > 0, repeat_value / np.maximum(frequency, 1), 0.0)
    out = pd.DataFrame({"frequency": frequency, "recency": (rows["last_day"].to_numpy(np.int64) - first_day) / unit,
                        "T": (end_day - first_day) / unit, "monetary_value": monetary},
                       index=pd.Index(rows["customer_id"].to_numpy(), name="customer_id"))
    out.attrs.update(time_unit=time_unit, observation_end=pd.Timestamp(observation_end).normalize())
    return out


def calibration_holdout(orders: pd.DataFrame, calibration_end: pd.Timestamp | str,
                        observation_end: pd.Timestamp | str, *, time_unit: str = "W",
                        customer_col: str = "customer_id", time_col: str = "order_time",
                        revenue_col: str = "revenue") -> pd.DataFrame:
    """Split the history at ``calibration_end``: a summary of the calibration part and the purchases after it.

    Replaces ``lifetimes.utils.calibration_and_holdout_data``, which fails on pandas 3 without a monetary
    column. Same definitions, with one deliberate difference: ``monetary_value_holdout`` is the mean value of
    holdout purchase *days* (same-day orders summed, as everywhere else), where lifetimes averages raw rows.

    Parameters
    ----------
    orders : as for :func:`customer_summary` (counted orders only when a ``status`` column is present).
    calibration_end : last day of the calibration period (inclusive).
    observation_end : last day of the holdout period (inclusive), after ``calibration_end``.
    time_unit : ``"W"`` or ``"D"``.

    Returns
    -------
    One row per customer with a purchase by ``calibration_end`` (index: customer id): ``frequency_cal,
    recency_cal, T_cal, monetary_value_cal`` (as :func:`customer_summary` on the calibration part),
    ``frequency_holdout`` (purchase days in the holdout), ``monetary_value_holdout`` (0 when none) and
    ``duration_holdout`` (holdout length in ``time_unit``).

    Raises
    ------
    PeriodError : ``calibration_end`` not before ``observation_end``, or "There is no data available …" when no
        counted purchase lies in the calibration period (as lifetimes does).

    Example
    -------
    >>> o = pd.DataFrame({"customer_id": ["a", "a", "a"], "order_time": pd.to_datetime(
    ...     ["2025-01-01", "2025-01-08", "2025-01-20"]), "revenue": [10.0, 20.0, 40.0]})
    >>> calibration_holdout(o, "2025-01-15", "2025-01-29").iloc[0][["frequency_cal", "frequency_holdout",
    ...     "duration_holdout"]].tolist()
    [1.0, 1.0, 2.0]
    """
    _check_option("time_unit", time_unit, TIME_UNITS)
    require_columns(orders, [customer_col, time_col, revenue_col], table="orders", needed_by="calibration_holdout")
    cal_day, end_day = _day_number(calibration_end), _day_number(observation_end)
    if cal_day >= end_day:
        raise PeriodError(f"calibration_end ({pd.Timestamp(calibration_end).date()}) must be before observation_end "
                          f"({pd.Timestamp(observation_end).date()}): the holdout period would be empty")
    codes, days, values, customers = _purchase_days(orders, end_day, customer_col, time_col, revenue_col)
    unit = TIME_UNITS[time_unit]
    in_cal = days <= cal_day
    if not in_cal.any():
        raise PeriodError(f"There is no data available in the calibration period (up to "
                          f"{pd.Timestamp(calibration_end).date()}): {_data_range(orders, customer_col, time_col)}. "
                          f"Choose a calibration end after the first purchase")
    cal = _summarize(codes[in_cal], days[in_cal], values[in_cal], customers, cal_day, unit, customer_col)
    cal.columns = [f"{c}_cal" for c in cal.columns]
    hold = pd.DataFrame({"code": codes[~in_cal], "value": values[~in_cal]})
    hold = hold.groupby("code").agg(frequency_holdout=("value", "size"), monetary_value_holdout=("value", "mean"))
    hold.index = pd.Index(customers[hold.index.to_numpy()], name=customer_col)
    out = cal.join(hold, how="left")
    out[["frequency_holdout", "monetary_value_holdout"]] = (
        out[["frequency_holdout", "monetary_value_holdout"]].fillna(0.0).astype(float))
    out["duration_holdout"] = (end_day - cal_day) / unit
    out.attrs.update(time_unit=time_unit, calibration_end=pd.Timestamp(calibration_end).normalize(),
                     observation_end=pd.Timestamp(observation_end).normalize())
    return out


# The model ------------------------------------------------------------------------------------------
def _rfm(summary: pd.DataFrame, *, monetary: bool = False) -> dict[str, np.ndarray]:
    """frequency / recency / T (/ monetary_value) arrays from a summary or from the ``_cal`` columns of a split."""
    wanted = ["frequency", "recency", "T"] + (["monetary_value"] if monetary else [])
    suffix = "_cal" if "frequency" not in summary.columns and "frequency_cal" in summary.columns else ""
    missing = [c + suffix for c in wanted if c + suffix not in summary.columns]
    if missing:
        raise ContractError([Violation("summary", c, "column is required by CustomerValueModel",
                                       fix="build the table with ecomlib.ltv.customer_summary "
                                           "(or calibration_holdout)") for c in missing])
    return {c: summary[c + suffix].to_numpy(dtype=float) for c in wanted}


def _check_clv_options(months, discount_rate, margin) -> None:
    """Raise ParameterError for a CLV horizon, discount rate or margin out of range."""
    if not (isinstance(months, (int, np.integer)) and months >= 1):
        raise ParameterError(f"months must be a whole number ≥ 1, not {months!r}", name="months")
    if not 0 <= discount_rate < 1:
        raise ParameterError(f"discount_rate is monthly, a fraction in [0, 1), not {discount_rate!r}",
                             name="discount_rate")
    if not 0 < margin <= 1:
        raise ParameterError(f"margin is a fraction of revenue in (0, 1], not {margin!r}", name="margin")


def _histories(summary: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (frequency, recency, T) rows of a summary and, per customer, the index of its row."""
    rfm = _rfm(summary)
    rows, back = np.unique(np.column_stack([rfm["frequency"], rfm["recency"], rfm["T"]]), axis=0,
                           return_inverse=True)
    return rows.reshape(-1, 3), back.ravel()


def _more_data_advice(span_days: float, what: str) -> str:
    """What would make a too-small fit possible, given how long the data already run."""
    if span_days < 365:
        return (f"The data span {span_days:.0f} days: a longer observation period (a year or more) lets "
                f"{'more customers arrive' if what == 'customers' else 'repeat purchases show'}")
    months = span_days / DAYS_PER_MONTH
    if what == "customers":
        return f"The data already span {months:.0f} months: the model needs a larger customer base"
    return (f"The data already span {months:.0f} months, so a longer period will not help: this store's customers "
            f"rarely buy again, and the cohort and repeat-purchase tables describe it without a model")


def _purchase_cause(rfm: dict) -> str | None:
    """Why BG/NBD / Pareto/NBD can run away, read from the data: nobody has stopped buying yet."""
    f, r, T = rfm["frequency"], rfm["recency"], rfm["T"]
    repeaters = f > 0
    if not repeaters.any():
        return None
    usual_gap = r[repeaters] / f[repeaters]
    still_buying = (T[repeaters] - r[repeaters]) <= usual_gap
    share = float(still_buying.mean())
    if share >= 0.9:
        return (f"Almost nobody drops out: {share:.0%} of repeat customers bought again within their usual gap "
                f"before the end of the data, so drop-out cannot be estimated until some customers stop buying")
    return None


def _spend_cause(spend: np.ndarray) -> str | None:
    """Why Gamma-Gamma can run away, read from the data: repeat customers all spend alike."""
    if len(spend) and np.std(spend) <= 1e-6 * max(float(np.mean(spend)), 1e-12):
        return "Every repeat customer spends the same on average, so the spread of spend cannot be estimated"
    return None


class CustomerValueModel:
    """BG/NBD (or Pareto/NBD) for the number of purchases and Gamma-Gamma for spend per purchase.

    Parameters
    ----------
    penalizer : L2 penalty on the parameters (lifetimes' ``penalizer_coef``), ≥ 0; 0.001–0.1 steadies a fit on
        little data.
    model : ``"bgnbd"`` (Fader, Hardie & Lee 2005) or ``"pareto_nbd"`` (Schmittlein et al. 1987).

    Attributes (after :meth:`fit`)
    ------------------------------
    bgnbd_params_ : dict ``r, alpha, a, b`` (None with ``model="pareto_nbd"``; alpha in ``time_unit_``).
    pareto_nbd_params_ : dict ``r, alpha, s, beta`` (None with ``model="bgnbd"``).
    purchase_params_ : whichever of the two was fitted.
    gamma_gamma_params_ : dict ``p, q, v`` (v in the store currency).
    independence_ : the Gamma-Gamma assumption check: ``corr`` (Pearson r of frequency and monetary value
        among repeat customers), ``ci_low, ci_high`` (95 %), ``p_value``, ``n``, ``ok`` (|r| < 0.3).
    n_customers_, n_repeat_customers_, time_unit_, purchase_fitter_, spend_fitter_ (the lifetimes objects),
    spend_scale_ (1, or the median spend when Gamma-Gamma had to be refitted in that unit to converge).

    Example
    -------
    >>> from lifetimes.datasets import load_cdnow_summary_data_with_monetary_value  # doctest: +SKIP
    >>> m = CustomerValueModel().fit(load_cdnow_summary_data_with_monetary_value())  # doctest: +SKIP
    >>> round(m.bgnbd_params_["r"], 3), round(m.gamma_gamma_params_["p"], 2)          # doctest: +SKIP
    (0.243, 6.25)
    """

    def __init__(self, penalizer: float = 0.0, model: str = "bgnbd"):
        _check_option("model", model, MODELS)
        if not (isinstance(penalizer, (int, float)) and np.isfinite(penalizer) and penalizer >= 0):
            raise ParameterError(f"penalizer must be a number ≥ 0, not {penalizer!r}", name="penalizer")
        self.penalizer = float(penalizer)
        self.model = model

    # Fitting ---------------------------------------------------------------------------------------
    def fit(self, summary: pd.DataFrame, *, time_unit: str | None = None) -> "CustomerValueModel":
        """Fit the purchase model on every customer and Gamma-Gamma on repeat customers with positive spend.

        Parameters
        ----------
        summary : output of :func:`customer_summary` (or of :func:`calibration_holdout`: its ``_cal`` columns
            are used). Identical (frequency, recency, T) rows are fitted once with a weight, which gives the
            same estimates faster.
        time_unit : unit of recency and T; None = ``summary.attrs["time_unit"]``, else weeks.

        Raises
        ------
        FitError : too few customers, no convergence, or degenerate parameters (see :data:`MAX_SHAPE`).
        """
        lt = _lifetimes()
        rfm = _rfm(summary, monetary=True)
        self.time_unit_ = time_unit or summary.attrs.get("time_unit", "W")
        _check_option("time_unit", self.time_unit_, TIME_UNITS)
        name = MODELS[self.model]
        n = len(rfm["frequency"])
        repeat = (rfm["frequency"] > 0) & (rfm["monetary_value"] > 0)
        span_days = float(rfm["T"].max()) * TIME_UNITS[self.time_unit_] if n else 0.0
        if n < MIN_CUSTOMERS:
            raise FitError(name, f"only {n} customers; at least {MIN_CUSTOMERS} are needed to fit the model. "
                                 + _more_data_advice(span_days, "customers"))
        if repeat.sum() < MIN_REPEAT_CUSTOMERS:
            raise FitError(name, f"only {int(repeat.sum())} of {n:,} customers have repeat purchases with positive "
                                 f"spend; at least {MIN_REPEAT_CUSTOMERS} are needed to learn purchase rates, "
                                 f"drop-out and spend. " + _more_data_advice(span_days, "repeat"))
        rows = (pd.DataFrame({k: rfm[k] for k in ("frequency", "recency", "T")})
                .value_counts(sort=False).rename("weights").reset_index())
        if self.model == "bgnbd":
            fitter = lt.BetaGeoFitter(penalizer_coef=self.penalizer)
            fit_args = {}
        else:
            fitter = lt.ParetoNBDFitter(penalizer_coef=self.penalizer)
            fit_args = {"initial_params": np.random.default_rng(0).normal(1.0, 0.05, 4)}  # reproducible start
        self.purchase_fitter_ = self._run(name, fitter.fit, rows["frequency"], rows["recency"], rows["T"],
                                          weights=rows["weights"], penalizer=self.penalizer, **fit_args)
        params = {k: float(v) for k, v in fitter.params_.items()}
        self._check_params(name, params, shapes=("r", "a", "b", "s"), scales=("alpha", "beta"),
                           scale_ref=float(rfm["T"].max()), ref_name="the oldest customer's T",
                           cause=_purchase_cause(rfm), penalizer=self.penalizer)
        self.bgnbd_params_ = params if self.model == "bgnbd" else None
        self.pareto_nbd_params_ = params if self.model == "pareto_nbd" else None
        self.purchase_params_ = params

        frequency, spend = rfm["frequency"][repeat], rfm["monetary_value"][repeat]
        self.spend_scale_ = 1.0
        try:
            spender = lt.GammaGammaFitter(penalizer_coef=self.penalizer)
            self.spend_fitter_ = self._run("Gamma-Gamma", spender.fit, frequency, spend, penalizer=self.penalizer)
        except FitError:
            # BFGS can lose precision when spend runs in the thousands. Gamma-Gamma is invariant to the unit of
            # spend (v carries it), so refit in units of the median spend and convert v back.
            self.spend_scale_ = float(np.median(spend))
            spender = lt.GammaGammaFitter(penalizer_coef=self.penalizer)
            self.spend_fitter_ = self._run("Gamma-Gamma", spender.fit, frequency, spend / self.spend_scale_,
                                           penalizer=self.penalizer)
        gg = {k: float(v) for k, v in spender.params_.items()}
        gg["v"] *= self.spend_scale_
        self._check_params("Gamma-Gamma", gg, shapes=("p", "q"), scales=("v",),
                           scale_ref=float(rfm["monetary_value"].max()), ref_name="the largest monetary value",
                           cause=_spend_cause(spend), penalizer=self.penalizer)
        if gg["q"] <= 1:
            raise FitError("Gamma-Gamma", f"q = {gg['q']:.3g} ≤ 1, so the model's mean spend per purchase "
                                          f"(p·v/(q−1)) is not finite: spend is too heavy-tailed for the model. "
                                          f"Check monetary values for outliers"
                                          + ("" if self.penalizer else " or add a penalizer"), gg)
        self.gamma_gamma_params_ = gg
        self.n_customers_, self.n_repeat_customers_ = n, int(repeat.sum())
        self.independence_ = _independence(rfm["frequency"][repeat], rfm["monetary_value"][repeat])
        return self

    @staticmethod
    def _run(name: str, fit, *args, penalizer: float = 0.0, **kwargs):
        """Call a lifetimes ``fit``; its failures (printed and raised) become one FitError that explains them.

        BFGS stops with "precision loss" when lifetimes' default tolerance (1e-7) is finer than the
        log-likelihood can be computed, typically at the optimum of a large sample; such a stop is retried
        once with tolerance 1e-4 (``RETRY_TOL``) before it counts as non-convergence. The parameters still
        go through the degenerate-fit checks, and the holdout check measures the result. ``penalizer`` is the
        penalty the fit used: a penalizer is suggested only when none was used.
        """
        lt = _lifetimes()
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed), warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                try:
                    return fit(*args, **kwargs)
                except lt.utils.ConvergenceError:
                    if "precision loss" not in printed.getvalue():
                        raise
                    printed.truncate(0)
                    return fit(*args, **{**kwargs, "tol": RETRY_TOL})
        except lt.utils.ConvergenceError:
            said = re.search(r"message:\s*(.+)", printed.getvalue())
            detail = f" (optimiser: {said.group(1).strip().rstrip('.')})" if said else ""
            remedy = (f"The penalizer ({penalizer:g}) may be what stops it: try penalizer=0 or a smaller one"
                      if penalizer else "Try a penalizer (e.g. penalizer=0.01)")
            raise FitError(name, f"the optimiser did not converge{detail}. {remedy}, or check the data for customers "
                                 f"with absurd purchase counts or identical spend") from None
        except np.linalg.LinAlgError:
            remedy = (f"a different penalizer than {penalizer:g}" if penalizer else "a penalizer (e.g. penalizer=0.01)")
            raise FitError(name, "the fit ended where the likelihood is flat (singular Hessian), so the parameters "
                                 f"are not identified. Try {remedy}") from None

    @staticmethod
    def _check_params(name: str, params: dict, *, shapes: Sequence[str], scales: Sequence[str], scale_ref: float,
                      ref_name: str, cause: str | None = None, penalizer: float = 0.0) -> None:
        """Raise FitError when a parameter is not finite, not positive, or absurdly large.

        ``cause`` is what the data show that explains a run-away fit (from :func:`_purchase_cause` or
        :func:`_spend_cause`); the advice follows it, and suggests a penalizer only when none was used.
        """
        shown = ", ".join(f"{k} = {v:.4g}" for k, v in params.items())
        bad = [k for k, v in params.items() if not np.isfinite(v) or v <= 0]
        penalize = (f"a different penalizer than {penalizer:g}" if penalizer else "a penalizer (e.g. penalizer=0.01)")
        if bad:
            raise FitError(name, f"parameters {bad} are not finite positive numbers ({shown}): the fit failed. "
                                 f"Try {penalize}", params)
        huge = [k for k in shapes if k in params and params[k] > MAX_SHAPE]
        huge += [k for k in scales if k in params and params[k] > MAX_SCALE_RATIO * max(scale_ref, 1e-12)]
        if huge:
            limits = f"limits: shapes ≤ {MAX_SHAPE:g}, scales ≤ {MAX_SCALE_RATIO:g} × {ref_name}"
            why = cause or "the data carry too little information to pin these parameters down"
            raise FitError(name, f"degenerate fit: {huge} ran off to huge values ({shown}; {limits}). {why}. "
                                 f"Try {penalize} or another model", params)

    # Predictions -----------------------------------------------------------------------------------
    def _fitted(self) -> None:
        if not hasattr(self, "purchase_params_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call .fit(summary) first, with a "
                                 f"summary from ecomlib.ltv.customer_summary(orders, observation_end)")

    def _index(self, summary: pd.DataFrame) -> pd.Index:
        return summary.index

    def expected_purchases(self, summary: pd.DataFrame, periods) -> pd.Series:
        """Expected number of purchases of each customer in the next ``periods`` time units (weeks for ``"W"``).

        ``periods`` is a number or an array aligned with ``summary``. Returns a Series on the summary's index.
        """
        self._fitted()
        t = np.asarray(periods, dtype=float)
        if t.ndim == 0:  # customers with the same history get the same answer: compute each history once
            rows, back = _histories(summary)
            out = self._purchases(t, rows)[back]
        else:
            rfm = _rfm(summary)
            with np.errstate(all="ignore"):
                out = self.purchase_fitter_.conditional_expected_number_of_purchases_up_to_time(
                    t, rfm["frequency"], rfm["recency"], rfm["T"])
        return pd.Series(np.asarray(out, dtype=float), index=self._index(summary), name="expected_purchases")

    def probability_alive(self, summary: pd.DataFrame) -> pd.Series:
        """Probability that each customer is still active (has not dropped out), in [0, 1].

        Under BG/NBD a customer without repeat purchases is alive by assumption (drop-out happens only after a
        purchase), so their probability is 1.
        """
        self._fitted()
        rfm = _rfm(summary)
        with np.errstate(all="ignore"):
            p = self.purchase_fitter_.conditional_probability_alive(rfm["frequency"], rfm["recency"], rfm["T"])
        return pd.Series(np.asarray(p, dtype=float), index=self._index(summary), name="p_alive")

    def expected_spend(self, summary: pd.DataFrame) -> pd.Series:
        """Gamma-Gamma expected spend per future purchase (store currency), shrunk towards the population mean."""
        self._fitted()
        rfm = _rfm(summary, monetary=True)
        p, q, v = (self.gamma_gamma_params_[k] for k in ("p", "q", "v"))
        weight = p * rfm["frequency"] / (p * rfm["frequency"] + q - 1)
        value = (1 - weight) * (v * p / (q - 1)) + weight * rfm["monetary_value"]
        return pd.Series(value, index=self._index(summary), name="expected_spend")

    def clv(self, summary: pd.DataFrame, *, months: int = 12, discount_rate: float = 0.01,
            margin: float = 1.0) -> pd.Series:
        """Discounted customer lifetime value over the next ``months`` (store currency).

        CLV = Σ_{m=1..months} margin · E[spend] · (E[N(m)] − E[N(m−1)]) / (1 + discount_rate)^m, with N(m) the
        expected purchases by the end of month m (a month is 365.25/12 days) — lifetimes'
        ``customer_lifetime_value`` with exact month lengths.

        Parameters
        ----------
        months : horizon in months (≥ 1); discount_rate : monthly, fraction (0.01 = 1 % a month);
        margin : gross margin as a fraction of revenue (1.0 = revenue CLV).
        """
        self._fitted()
        _check_clv_options(months, discount_rate, margin)
        return pd.Series(self._clv(summary, months, discount_rate, margin)[0], index=self._index(summary), name="clv")

    def _clv(self, summary: pd.DataFrame, months: int, discount_rate: float,
             margin: float) -> tuple[np.ndarray, np.ndarray]:
        """Discounted CLV and the expected purchases over the whole horizon, per customer."""
        spend = self.expected_spend(summary).to_numpy()
        per_month = DAYS_PER_MONTH / TIME_UNITS[self.time_unit_]
        rows, back = _histories(summary)
        value = np.zeros(len(summary))
        previous = np.zeros(len(summary))
        for m in range(1, months + 1):  # a handful of horizon steps, each vectorized over customers
            cumulative = self._purchases(m * per_month, rows)[back]
            value += margin * spend * (cumulative - previous) / (1 + discount_rate) ** m
            previous = cumulative
        return value, previous

    def _purchases(self, t, rows: np.ndarray) -> np.ndarray:
        """Expected purchases in the next ``t`` time units for histories ``rows`` (frequency, recency, T)."""
        with np.errstate(all="ignore"):
            out = self.purchase_fitter_.conditional_expected_number_of_purchases_up_to_time(
                t, rows[:, 0], rows[:, 1], rows[:, 2])
        return np.asarray(out, dtype=float)

    def predict(self, summary: pd.DataFrame, *, months: int = 12, discount_rate: float = 0.01,
                margin: float = 1.0) -> pd.DataFrame:
        """Everything per customer: the summary columns plus ``p_alive``, ``expected_purchases`` (in ``months``),
        ``expected_spend`` and ``clv`` (see :meth:`clv`). Returns a new DataFrame on the summary's index."""
        self._fitted()
        _check_clv_options(months, discount_rate, margin)
        clv, purchases = self._clv(summary, months, discount_rate, margin)
        base = pd.DataFrame(_rfm(summary, monetary=True), index=summary.index)
        return base.assign(p_alive=self.probability_alive(summary), expected_purchases=purchases,
                           expected_spend=self.expected_spend(summary), clv=clv)

    def probability_alive_matrix(self, *, T: float | None = None, max_frequency: int = 12,
                                 n_recency: int = 13) -> pd.DataFrame:
        """P(alive) on a grid of frequency × recency for customers of age ``T`` (default: the oldest fitted).

        Returns a long DataFrame ``frequency, recency, p_alive`` (recency in ``time_unit_``; ``attrs`` holds
        ``time_unit`` and ``T``); cells with frequency 0 and recency > 0 cannot occur and are left out.
        """
        self._fitted()
        T = float(self.purchase_fitter_.data["T"].max()) if T is None else float(T)
        f, r = np.meshgrid(np.arange(max_frequency + 1, dtype=float), np.linspace(0.0, T, n_recency))
        grid = pd.DataFrame({"frequency": f.ravel(), "recency": r.ravel()})
        grid = grid.loc[(grid["frequency"] > 0) | (grid["recency"] == 0)].reset_index(drop=True)
        p = self.probability_alive(grid.assign(T=T))
        out = grid.assign(p_alive=p.to_numpy())
        out.attrs.update(time_unit=self.time_unit_, T=T)
        return out

    def params_table(self) -> pd.DataFrame:
        """The fitted parameters: ``model, parameter, value, se, ci_low, ci_high``.

        ``se`` comes from the Hessian (NaN for Pareto/NBD, whose lifetimes fitter computes none). Every parameter
        is positive, so the 95 % interval is taken on the log scale (delta method: value · exp(± 1.96 · se / value))
        and stays positive; a symmetric interval would reach below 0 for a small, uncertain parameter.
        """
        self._fitted()
        frames = []
        for name, fitter in ((MODELS[self.model], self.purchase_fitter_), ("Gamma-Gamma", self.spend_fitter_)):
            se = getattr(fitter, "standard_errors_", pd.Series(np.nan, index=fitter.params_.index))
            # v is in the unit the spend was fitted in (see fit): back to store currency
            unit = np.where((name == "Gamma-Gamma") & (fitter.params_.index == "v"), self.spend_scale_, 1.0)
            frames.append(pd.DataFrame({"model": name, "parameter": fitter.params_.index,
                                        "value": fitter.params_.to_numpy(dtype=float) * unit,
                                        "se": se.reindex(fitter.params_.index).to_numpy(dtype=float) * unit}))
        out = pd.concat(frames, ignore_index=True)
        spread = np.exp(_Z95 * out["se"] / out["value"])
        return out.assign(ci_low=out["value"] / spread, ci_high=out["value"] * spread)

    def dropout_sensitivity(self, summary: pd.DataFrame, *, months: int = 12, discount_rate: float = 0.01,
                            margin: float = 1.0) -> pd.DataFrame:
        """Mean CLV and the share of repeat customers more likely gone than active, as drop-out is varied.

        Drop-out is what a short history pins down worst. The BG/NBD drop-out parameters (a, b) are moved
        together to the ends of their 95 % intervals (:meth:`params_table`): ``low`` takes a at its lower and b
        at its upper bound (the smallest drop-out probability per purchase, a / (a + b)), ``high`` the reverse;
        ``fitted`` is the estimate. For Pareto/NBD (no standard errors) the bounds are NaN.

        Returns one row per ``dropout`` (``low``, ``fitted``, ``high``): ``a, b, dropout_probability``
        (a / (a + b), per purchase), ``clv_mean`` (store currency) and ``lost_share`` (fraction of repeat
        customers with P(alive) < 0.5).
        """
        self._fitted()
        _check_clv_options(months, discount_rate, margin)
        repeat = _rfm(summary)["frequency"] > 0
        table = self.params_table().set_index("parameter")
        rows = []
        for label in ("low", "fitted", "high"):
            if self.model != "bgnbd":
                a = b = float("nan")
            elif label == "fitted":
                a, b = self.bgnbd_params_["a"], self.bgnbd_params_["b"]
            else:
                a = table.loc["a", "ci_low" if label == "low" else "ci_high"]
                b = table.loc["b", "ci_high" if label == "low" else "ci_low"]
            if not (np.isfinite(a) and np.isfinite(b)):
                rows.append({"dropout": label, "a": a, "b": b, "dropout_probability": float("nan"),
                             "clv_mean": float("nan"), "lost_share": float("nan")})
                continue
            varied = self._with_params(a=a, b=b)
            clv = varied._clv(summary, months, discount_rate, margin)[0]
            alive = varied.probability_alive(summary).to_numpy()
            rows.append({"dropout": label, "a": float(a), "b": float(b), "dropout_probability": a / (a + b),
                         "clv_mean": float(clv.mean()),
                         "lost_share": float((alive[repeat] < 0.5).mean()) if repeat.any() else float("nan")})
        return pd.DataFrame(rows)

    def _with_params(self, **purchase_params) -> "CustomerValueModel":
        """A shallow copy whose purchase model uses other parameter values (for sensitivity lines)."""
        import copy

        out = copy.copy(self)
        fitter = copy.copy(self.purchase_fitter_)
        fitter.params_ = fitter.params_.copy()
        for k, v in purchase_params.items():
            fitter.params_[k] = float(v)
        out.purchase_fitter_ = fitter
        out.purchase_params_ = {**self.purchase_params_, **{k: float(v) for k, v in purchase_params.items()}}
        return out

    def __repr__(self) -> str:
        head = f"CustomerValueModel(penalizer={self.penalizer!r}, model={self.model!r})"
        if not hasattr(self, "purchase_params_"):
            return head + " (not fitted)"
        purchase = ", ".join(f"{k}={v:.3g}" for k, v in self.purchase_params_.items())
        spend = ", ".join(f"{k}={v:.3g}" for k, v in self.gamma_gamma_params_.items())
        ind = self.independence_
        return (f"{head} fitted on {self.n_customers_:,} customers ({self.n_repeat_customers_:,} repeat), "
                f"time unit {self.time_unit_!r}\n  {MODELS[self.model]}: {purchase}\n  Gamma-Gamma: {spend}\n"
                f"  frequency–monetary correlation r={ind['corr']:.3f} "
                f"({'independence plausible' if ind['ok'] else 'independence doubtful'})")


def _independence(frequency: np.ndarray, monetary: np.ndarray) -> dict:
    """Pearson correlation of frequency and monetary value with a Fisher-z 95 % interval and p-value."""
    n = len(frequency)
    if n < 4 or np.std(frequency) == 0 or np.std(monetary) == 0:
        return {"corr": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"), "p_value": float("nan"),
                "n": n, "ok": True}
    r, p = sps.pearsonr(frequency, monetary)
    z, se = np.arctanh(np.clip(r, -0.999999, 0.999999)), 1 / np.sqrt(n - 3)
    return {"corr": float(r), "ci_low": float(np.tanh(z - _Z95 * se)), "ci_high": float(np.tanh(z + _Z95 * se)),
            "p_value": float(p), "n": n, "ok": bool(abs(r) < CORRELATION_LIMIT)}


# Out-of-sample check --------------------------------------------------------------------------------
def holdout_comparison(model: CustomerValueModel, calhold: pd.DataFrame, *, max_frequency: int = 7) -> pd.DataFrame:
    """Predicted vs actual holdout purchases per customer, by calibration frequency bucket.

    Parameters
    ----------
    model : a :class:`CustomerValueModel` fitted on ``calhold`` (its ``_cal`` columns).
    calhold : output of :func:`calibration_holdout`.
    max_frequency : the last bucket pools customers with this many calibration repeat purchases or more.

    Returns
    -------
    One row per bucket: ``frequency_bucket`` (0 … max_frequency), ``and_more`` (True on the pooled bucket),
    ``customers``, ``actual`` and ``predicted`` (mean holdout purchases per customer), ``error``
    (predicted − actual), ``abs_pct_error`` (|error| / actual, fraction; NaN when actual is 0).
    """
    pred = model.expected_purchases(calhold, calhold["duration_holdout"].to_numpy())
    d = pd.DataFrame({"frequency_bucket": calhold["frequency_cal"].clip(upper=max_frequency).astype(int),
                      "actual": calhold["frequency_holdout"], "predicted": pred})
    out = (d.groupby("frequency_bucket").agg(customers=("actual", "size"), actual=("actual", "mean"),
                                             predicted=("predicted", "mean")).reset_index())
    out["error"] = out["predicted"] - out["actual"]
    out["abs_pct_error"] = out["error"].abs() / out["actual"].where(out["actual"] > 0)
    out.insert(1, "and_more", out["frequency_bucket"] == max_frequency)
    return out


def holdout_error(model: CustomerValueModel, calhold: pd.DataFrame, *, max_frequency: int = 7) -> dict[str, float]:
    """Error figures of the holdout prediction.

    Returns a dict: ``customers``, ``duration`` (holdout length in time units), ``actual_total`` and
    ``predicted_total`` purchases, ``total_error`` (predicted / actual − 1), ``actual_mean`` and
    ``predicted_mean`` per customer, ``mae`` (mean absolute error per customer, purchases) and ``mape``
    (customer-weighted mean absolute percentage error over the frequency buckets of
    :func:`holdout_comparison`, fraction).
    """
    pred = model.expected_purchases(calhold, calhold["duration_holdout"].to_numpy()).to_numpy()
    actual = calhold["frequency_holdout"].to_numpy(dtype=float)
    buckets = holdout_comparison(model, calhold, max_frequency=max_frequency).dropna(subset=["abs_pct_error"])
    return {"customers": int(len(actual)), "duration": float(calhold["duration_holdout"].iloc[0]),
            "actual_total": float(actual.sum()), "predicted_total": float(pred.sum()),
            "total_error": float(pred.sum() / actual.sum() - 1) if actual.sum() > 0 else float("nan"),
            "actual_mean": float(actual.mean()), "predicted_mean": float(pred.mean()),
            "mae": float(np.abs(pred - actual).mean()),
            "mape": float(np.average(buckets["abs_pct_error"], weights=buckets["customers"]))
            if len(buckets) else float("nan")}


# Loading ---------------------------------------------------------------------------------------------
def load(data_dir, **kwargs) -> "Dataset":
    """The tables of the cohort and LTV review (the same as :func:`ecomlib.cohorts.load`, whose module holds the
    review's interface)."""
    from .cohorts import load as load_review
    return load_review(data_dir, **kwargs)


# Roll-ups, LTV:CAC and payback ----------------------------------------------------------------------
def rollup(predictions: pd.DataFrame, acquisition_table: pd.DataFrame, *, by: str = "cohort") -> pd.DataFrame:
    """Predicted value summed up by cohort, acquisition channel or any column of :func:`ecomlib.cohorts.acquisition`.

    predictions : output of :meth:`CustomerValueModel.predict` (indexed by customer id).
    Returns one row per group: ``customers, p_alive`` (mean), ``expected_purchases`` (mean per customer),
    ``clv`` (mean per customer), ``clv_total`` and ``clv_share`` (of all customers' CLV, fraction).
    """
    if by not in acquisition_table.columns:
        raise ParameterError(f"by={by!r} is not a column of the acquisition table; use one of "
                             f"{[c for c in acquisition_table.columns if not c.startswith('_')]}", name="by")
    groups = acquisition_table.set_index("customer_id")[by]
    d = predictions.assign(**{by: groups.reindex(predictions.index).to_numpy()})
    out = (d.groupby(by, observed=True, dropna=False)
           .agg(customers=("clv", "size"), p_alive=("p_alive", "mean"),
                expected_purchases=("expected_purchases", "mean"), clv=("clv", "mean"), clv_total=("clv", "sum"))
           .reset_index())
    out["clv_share"] = out["clv_total"] / out["clv_total"].sum()
    if by == "cohort":
        start = acquisition_table.drop_duplicates("cohort").set_index("cohort")["cohort_start"]
        out = out.assign(_s=out["cohort"].map(start)).sort_values("_s").drop(columns="_s").reset_index(drop=True)
    return out


def _boundary(orders: pd.DataFrame, end, time_col: str) -> pd.Timestamp:
    return _cutoff(_naive(orders[time_col]), end)


def acquisition_cost(ad_spend: pd.DataFrame | None, acquisition_table: pd.DataFrame, *, start=None, end=None,
                     by: str = "acquisition_channel") -> pd.DataFrame:
    """Customer acquisition cost per channel: ad spend / new customers acquired via that channel in ``[start, end)``.

    Parameters
    ----------
    ad_spend : contract ``ad_spend`` (``date, channel, spend``), or None when the store has no ad data (then
        every channel has no spend and no CAC).
    acquisition_table : output of :func:`ecomlib.cohorts.acquisition` (first counted order and channel).
    start, end : window (end exclusive); None = unbounded.

    Returns
    -------
    One row per channel seen in either table: ``acquisition_channel, new_customers, spend`` (store currency),
    ``cac`` (spend / new customers; NaN where the channel has no spend — organic, direct, email: CAC is not
    defined there — or no new customers) and ``has_spend``.
    """
    if ad_spend is None:
        ad_spend = pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]"), "channel": pd.Series(dtype=str),
                                 "spend": pd.Series(dtype=float)})
    require_columns(ad_spend, ["date", "channel", "spend"], table="ad_spend", needed_by="acquisition_cost")
    s, a = ad_spend, acquisition_table
    if start is not None:
        s, a = s.loc[s["date"] >= pd.Timestamp(start)], a.loc[a["first_order_time"] >= pd.Timestamp(start)]
    if end is not None:
        s, a = s.loc[s["date"] < pd.Timestamp(end)], a.loc[a["first_order_time"] < pd.Timestamp(end)]
    spend = s.assign(channel=s["channel"].astype(str)).groupby("channel")["spend"].sum()
    new = a.assign(**{by: a[by].astype(object).fillna("unknown").astype(str)}).groupby(by).size()
    channels = sorted(set(spend.index) | set(new.index) | set(acquisition_table[by].dropna().astype(str)))
    out = pd.DataFrame({by: channels})
    out["new_customers"] = out[by].map(new).fillna(0).astype(np.int64)
    out["spend"] = out[by].map(spend).fillna(0.0)
    out["has_spend"] = out["spend"] > 0
    out["cac"] = (out["spend"] / out["new_customers"].where(out["new_customers"] > 0)).where(out["has_spend"])
    return out


def paid_cac(cost: pd.DataFrame) -> float:
    """Blended CAC of the paid channels: their total spend / the new customers they acquired (NaN when none).

    cost : output of :func:`acquisition_cost`.
    """
    paid = cost.loc[cost["has_spend"]]
    n = paid["new_customers"].sum()
    return float(paid["spend"].sum() / n) if n > 0 else float("nan")


def margin_curve(orders: pd.DataFrame, *, customers: pd.DataFrame | None = None, end=None,
                 gross_margin: float = 0.5, max_months: int = 18, by: str = "acquisition_channel",
                 customer_col: str = "customer_id", time_col: str = "order_time",
                 revenue_col: str = "revenue") -> pd.DataFrame:
    """Cumulative gross margin per customer by months since acquisition, per acquisition channel.

    Month m covers a customer's first m × 365.25/12 days from the first counted order (first order included).
    Only customers acquired at least m months before ``end`` enter month m, so young customers never pull the
    curve down.

    Parameters
    ----------
    orders : contract ``orders`` (counted orders only); customers : optional (acquisition channel).
    end : data cut-off (exclusive); gross_margin : fraction of revenue kept as margin;
    max_months : last month of the curve; by : a column of :func:`ecomlib.cohorts.acquisition`.

    Returns
    -------
    Long DataFrame: ``[by], month`` (1 … max_months), ``customers`` (old enough for that month) and
    ``cumulative_margin_per_customer`` (store currency; NaN when no customer is old enough).
    """
    if not 0 < gross_margin <= 1:
        raise ParameterError(f"gross_margin is a fraction of revenue in (0, 1], not {gross_margin!r}",
                             name="gross_margin")
    acq = acquisition(orders, customers=customers, end=end, customer_col=customer_col, time_col=time_col)
    boundary = _boundary(_counted(orders), end, time_col)
    return _margin_curve(orders, acq, boundary, gross_margin=gross_margin, max_months=max_months, by=by,
                         customer_col=customer_col, time_col=time_col, revenue_col=revenue_col)


def _margin_curve(orders: pd.DataFrame, acq: pd.DataFrame, boundary: pd.Timestamp, *, gross_margin: float,
                  max_months: int, by: str, customer_col: str, time_col: str, revenue_col: str) -> pd.DataFrame:
    """:func:`margin_curve` on an acquisition table already computed."""
    group_codes, groups = pd.factorize(acq[by].astype(object).fillna("unknown").astype(str), sort=True)
    month = pd.Timedelta(days=DAYS_PER_MONTH)
    tenure = np.clip(((boundary - acq["first_order_time"]) // month).to_numpy(dtype=np.int64), 0, max_months)
    counted = _counted(orders)
    counted = counted.loc[counted[customer_col].notna()]
    times = _naive(counted[time_col])
    keep = (times < boundary).to_numpy()
    pos = pd.Index(acq["customer_id"]).get_indexer(counted[customer_col].to_numpy()[keep])
    since_first = times.to_numpy()[keep] - acq["first_order_time"].to_numpy()[pos]
    age = (since_first // month.to_timedelta64()).astype(np.int64)
    value = counted[revenue_col].to_numpy(dtype=float)[keep] * gross_margin
    inside = age < max_months
    G = len(groups)
    R = np.zeros((G, max_months + 1, max_months))  # [group, tenure months, age month of the order]
    np.add.at(R, (group_codes[pos[inside]], tenure[pos[inside]], age[inside]), value[inside])
    N = np.zeros((G, max_months + 1))
    np.add.at(N, (group_codes, tenure), 1)
    through = np.cumsum(R, axis=2)                        # margin in age months 0 … a
    older = np.cumsum(through[:, ::-1], axis=1)[:, ::-1]  # summed over tenure ≥ T
    n_older = np.cumsum(N[:, ::-1], axis=1)[:, ::-1]
    m = np.arange(1, max_months + 1)
    total, eligible = older[:, m, m - 1], n_older[:, m]
    with np.errstate(divide="ignore", invalid="ignore"):
        per_customer = np.where(eligible > 0, total / eligible, np.nan)
    return pd.DataFrame({by: np.repeat(np.asarray(groups, dtype=object), max_months), "month": np.tile(m, G),
                         "customers": eligible.ravel().astype(np.int64),
                         "cumulative_margin_per_customer": per_customer.ravel()})


def channel_economics(orders: pd.DataFrame, ad_spend: pd.DataFrame | None, *, customers: pd.DataFrame | None = None,
                      end=None, gross_margin: float = 0.5, ltv_months: int = 12, max_months: int = 18,
                      customer_col: str = "customer_id", time_col: str = "order_time",
                      revenue_col: str = "revenue") -> pd.DataFrame:
    """LTV:CAC and payback period per acquisition channel.

    LTV is the observed cumulative gross margin per customer in the first ``ltv_months`` months after the first
    order (first order included), over customers acquired at least that long before ``end``; its 95 % interval
    is the normal interval of that mean. CAC is the channel's ad spend up to ``end`` divided by the customers
    it acquired up to ``end`` (``customers.acquisition_channel``, else the first order's channel); it is not
    defined (NaN) for channels without spend — organic, direct, email. The LTV:CAC interval treats CAC as known
    (spend and counts are totals, not samples). Payback is the first month m whose cumulative margin per
    customer (:func:`margin_curve`) reaches CAC; NaN when not reached within ``max_months``.

    Returns
    -------
    One row per acquisition channel: ``acquisition_channel, new_customers, spend, has_spend, cac, ltv,
    ltv_ci_low, ltv_ci_high, ltv_customers, ltv_cac, ltv_cac_ci_low, ltv_cac_ci_high, payback_months``,
    ordered by LTV:CAC (channels without CAC last).
    """
    if not (isinstance(ltv_months, (int, np.integer)) and 1 <= ltv_months <= max_months):
        raise ParameterError(f"ltv_months must be a whole number from 1 to max_months ({max_months}), "
                             f"not {ltv_months!r}", name="ltv_months")
    acq = acquisition(orders, customers=customers, end=end, customer_col=customer_col, time_col=time_col)
    boundary = _boundary(_counted(orders), end, time_col)
    cost = acquisition_cost(ad_spend, acq, end=boundary)
    if not 0 < gross_margin <= 1:
        raise ParameterError(f"gross_margin is a fraction of revenue in (0, 1], not {gross_margin!r}",
                             name="gross_margin")
    curve = _margin_curve(orders, acq, boundary, gross_margin=gross_margin, max_months=max_months,
                          by="acquisition_channel", customer_col=customer_col, time_col=time_col,
                          revenue_col=revenue_col)
    # LTV per customer (for the interval): margin in the first ltv_months of customers old enough.
    horizon = pd.Timedelta(days=DAYS_PER_MONTH * ltv_months)
    old = acq.loc[acq["first_order_time"] + horizon <= boundary, ["customer_id", "first_order_time",
                                                                  "acquisition_channel"]]
    counted = _counted(orders)
    o = pd.DataFrame({"customer_id": counted[customer_col].to_numpy(), "t": _naive(counted[time_col]).to_numpy(),
                      "value": counted[revenue_col].to_numpy(dtype=float) * gross_margin})
    o = o.merge(old, on="customer_id", how="inner")
    o = o.loc[(o["t"] - o["first_order_time"]) < horizon]
    per_customer = old.set_index("customer_id").assign(
        margin=o.groupby("customer_id")["value"].sum()).fillna({"margin": 0.0})
    channel = per_customer["acquisition_channel"].astype(object).fillna("unknown").astype(str)
    per_customer["acquisition_channel"] = channel
    ltv = per_customer.groupby("acquisition_channel")["margin"].agg(ltv="mean", sd="std", ltv_customers="size")
    half = _Z95 * ltv["sd"] / np.sqrt(ltv["ltv_customers"])
    ltv = ltv.assign(ltv_ci_low=ltv["ltv"] - half, ltv_ci_high=ltv["ltv"] + half).drop(columns="sd")
    out = cost.assign(**{col: cost["acquisition_channel"].map(ltv[col]).astype(float) for col in ltv.columns})
    out["ltv_customers"] = out["ltv_customers"].fillna(0).astype(np.int64)
    for col in ("", "_ci_low", "_ci_high"):
        out[f"ltv_cac{col}"] = out[f"ltv{col}"] / out["cac"]
    reached = curve.assign(cac=curve["acquisition_channel"].map(out.set_index("acquisition_channel")["cac"]))
    reached = reached.loc[reached["cumulative_margin_per_customer"] >= reached["cac"]]
    out["payback_months"] = out["acquisition_channel"].map(reached.groupby("acquisition_channel")["month"].min())
    out = out[["acquisition_channel", "new_customers", "spend", "has_spend", "cac", "ltv", "ltv_ci_low", "ltv_ci_high",
               "ltv_customers", "ltv_cac", "ltv_cac_ci_low", "ltv_cac_ci_high", "payback_months"]]
    return out.sort_values(["ltv_cac"], ascending=False, na_position="last", kind="stable").reset_index(drop=True)


# Plots ----------------------------------------------------------------------------------------------
def _msg(msg: Messages | None) -> Messages:
    return msg if msg is not None else Messages("en")


def plot_holdout(data: pd.DataFrame, *, x: str = "frequency_bucket", ax: Axes | None = None,
                 msg: Messages | None = None, **kwargs) -> Axes:
    """Bars of actual vs predicted mean holdout purchases per calibration frequency bucket.

    data : output of :func:`holdout_comparison`. Extra keyword arguments go to :meth:`DataFrame.plot.bar`.
    """
    msg = _msg(msg)
    if ax is None:
        ax = plt.gca()
    labels = [f"{v}+" if more else str(v) for v, more in zip(data[x], data["and_more"])]
    shown = pd.DataFrame({msg("ltv.label.actual"): data["actual"].to_numpy(),
                          msg("ltv.label.predicted"): data["predicted"].to_numpy()}, index=labels)
    shown.plot.bar(ax=ax, rot=0, color=["C0", "C1"], **kwargs)
    ax.set_xlabel(msg("ltv.label.frequency_cal"))
    ax.set_ylabel(msg("ltv.label.holdout_purchases"))
    ax.set_title(msg("ltv.title.holdout"))
    return ax


def plot_clv_distribution(data: pd.DataFrame, *, x: str = "clv", ax: Axes | None = None,
                          msg: Messages | None = None, **kwargs) -> Axes:
    """Histogram of predicted CLV per customer on a log scale, with the mean and median marked.

    data : output of :meth:`CustomerValueModel.predict`. Customers with CLV below 1 currency unit are shown at 1.
    """
    msg = _msg(msg)
    if ax is None:
        ax = plt.gca()
    values = data[x].clip(lower=1.0)
    options = {"bins": 50, "log_scale": True, "color": "C0"}
    options.update(kwargs)
    sns.histplot(x=values, ax=ax, **options)
    ax.axvline(data[x].mean(), color="C3", linestyle="--", label=msg("ltv.label.mean", value=msg.money(data[x].mean())))
    ax.axvline(max(data[x].median(), 1.0), color="C2", linestyle=":",
               label=msg("ltv.label.median", value=msg.money(data[x].median())))
    ax.legend()
    ax.set_xlabel(msg("ltv.label.clv", currency=msg.currency))
    ax.set_ylabel(msg("ltv.label.customers"))
    ax.set_title(msg("ltv.title.clv_distribution"))
    return ax


def plot_probability_alive(data: pd.DataFrame, *, x: str = "frequency", y: str = "recency", ax: Axes | None = None,
                           msg: Messages | None = None, **kwargs) -> Axes:
    """Heatmap of P(alive) by frequency (columns) and recency (rows, most recent on top).

    data : output of :meth:`CustomerValueModel.probability_alive_matrix`.
    """
    msg = _msg(msg)
    if ax is None:
        ax = plt.gca()
    m = data.pivot_table(index=y, columns=x, values="p_alive", aggfunc="first").sort_index(ascending=False)
    m.index = [f"{v:.0f}" for v in m.index]
    m.columns = [f"{v:.0f}" for v in m.columns]
    options = {"cmap": "RdYlGn", "vmin": 0, "vmax": 1, "cbar_kws": {"label": msg("ltv.label.p_alive")}}
    options.update(kwargs)
    sns.heatmap(m, ax=ax, **options)
    ax.grid(False)
    unit = msg(f"ltv.unit.{data.attrs.get('time_unit', 'W')}")
    ax.set_xlabel(msg("ltv.label.frequency"))
    ax.set_ylabel(msg("ltv.label.recency", unit=unit))
    ax.set_title(msg("ltv.title.p_alive", T=msg.num(data.attrs.get("T", np.nan), 0), unit=unit))
    return ax


def plot_ltv_cac(data: pd.DataFrame, *, x: str = "acquisition_channel", y: str = "ltv_cac", target: float = 3.0,
                 ax: Axes | None = None, msg: Messages | None = None, **kwargs) -> Axes:
    """Bars of LTV:CAC per channel with 95 % intervals and the ``target`` line (3:1); channels without CAC left out.

    data : output of :func:`channel_economics`.
    """
    msg = _msg(msg)
    if ax is None:
        ax = plt.gca()
    d = data.loc[data[y].notna()]
    if d.empty:  # no channel with ad spend: say so instead of drawing empty axes
        ax.text(0.5, 0.5, msg("ltv.label.no_ltv_cac"), ha="center", va="center", transform=ax.transAxes, wrap=True)
        ax.set_axis_off()
        ax.set_title(msg("ltv.title.ltv_cac"))
        return ax
    colors = ["C2" if v >= target else ("C1" if v >= 1 else "C3") for v in d[y]]
    err = np.vstack([d[y] - d[f"{y}_ci_low"], d[f"{y}_ci_high"] - d[y]]) if f"{y}_ci_low" in d else None
    ax.bar(d[x].astype(str), d[y], yerr=err, color=colors, capsize=4, **kwargs)
    ax.axhline(target, color="k", linestyle="--", linewidth=1, label=msg("ltv.label.target", target=target))
    ax.axhline(1.0, color="C3", linestyle=":", linewidth=1, label=msg("ltv.label.break_even"))
    ax.legend()
    ax.set_xlabel(msg("ltv.label.channel"))
    ax.set_ylabel(msg("ltv.label.ltv_cac"))
    ax.set_title(msg("ltv.title.ltv_cac"))
    ax.tick_params(axis="x", rotation=20)
    return ax


# Sentences ------------------------------------------------------------------------------------------
def _join(names: Sequence[str], msg: Messages) -> str:
    return msg("ltv.list_sep").join(str(n) for n in names)


def sentences(result, msg: Messages) -> list[str]:
    """The lifetime-value conclusions, read from a cohort and LTV review result (:func:`ecomlib.cohorts.compute`).

    Sentences on: the holdout accuracy, the Gamma-Gamma independence check, the predicted CLV (a *forecast* of
    the next months' margin) and its concentration, the short-history caveat with drop-out at both ends of its
    interval, the share of repeat customers probably lost, and LTV (the *history*: margin realised in the first
    months by customers acquired long enough ago) against CAC by channel, with payback. Sections recorded as gaps
    say nothing here (their sentence is shown in the section).
    """
    from .report import vocab

    n, v = result.notes, result.values
    out: list[str] = []
    if result.has("holdout") and "holdout_error" in v:
        h = v["holdout_error"]
        duration = h["duration"]
        out.append(msg("ltv.sentence.holdout", model=MODELS[n["model"]],
                       weeks=msg.num(duration, 0 if float(duration).is_integer() else 1),
                       unit=msg(f"ltv.unit.{n['time_unit']}"), predicted=msg.num(h["predicted_mean"], 2),
                       actual=msg.num(h["actual_mean"], 2), total_error=h["total_error"], mape=h["mape"],
                       mae=msg.num(h["mae"], 2)))
    if result.has("model") and "clv_mean" in v:
        ind = v["independence"]
        if np.isfinite(ind["corr"]):
            out.append(msg("ltv.sentence.independent" if ind["ok"] else "ltv.sentence.dependent",
                           r=msg.num(ind["corr"], 2), lo=msg.num(ind["ci_low"], 2), hi=msg.num(ind["ci_high"], 2),
                           n=ind["n"]))
        out.append(msg("ltv.sentence.clv", months=n["months"], margin=n["margin"], rate=n["discount_rate"],
                       mean=v["clv_mean"], total=v["clv_total"], share=v["clv_top10_share"]))
        d = result.tables.get("dropout")
        if d is not None:
            rows = d.set_index("dropout")
            out.append(msg("ltv.sentence.short_history", days=v["history_days"], months=n["months"],
                           low=rows.loc["high", "clv_mean"], high=rows.loc["low", "clv_mean"],
                           lost_low=rows.loc["low", "lost_share"], lost_high=rows.loc["high", "lost_share"]))
        if np.isfinite(v.get("lost_share", np.nan)):
            out.append(msg("ltv.sentence.lost", share=v["lost_share"], n=v["lost_n"]))
    e = result.tables.get("economics")
    if result.has("economics") and e is not None:
        with_cac = e.loc[e["ltv_cac"].notna()]
        if len(with_cac):
            best = with_cac.iloc[0]
            payback = (msg("ltv.payback_in", months=int(best["payback_months"])) if pd.notna(best["payback_months"])
                       else msg("ltv.payback_none", months=n["max_months"]))
            out.append(msg("ltv.sentence.best_channel", channel=vocab("channel", best["acquisition_channel"], msg),
                           ratio=best["ltv_cac"], lo=best["ltv_cac_ci_low"], hi=best["ltv_cac_ci_high"],
                           months=n["ltv_months"], ltv=best["ltv"], cac=best["cac"], payback=payback))
            below = with_cac.loc[with_cac["ltv_cac"] < n["target"], "acquisition_channel"].tolist()
            if below:
                out.append(msg("ltv.sentence.below_target", channels=_join([vocab("channel", c, msg) for c in below],
                                                                            msg), target=n["target"]))
            for row in with_cac.loc[with_cac["payback_months"].isna()].itertuples():  # a handful of channels
                out.append(msg("ltv.sentence.no_payback", channel=vocab("channel", row.acquisition_channel, msg),
                               ratio=row.ltv_cac, cac=row.cac, months=n["max_months"]))
        undefined = e.loc[~e["has_spend"], "acquisition_channel"].tolist()
        if undefined:
            out.append(msg("ltv.sentence.cac_undefined",
                           channels=_join([vocab("channel", c, msg) for c in undefined], msg)))
    return out
