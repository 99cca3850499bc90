"""Acquisition cohorts: retention, revenue retention, cumulative revenue per customer, repeat purchases, AOV.

A customer's *cohort* is the month (or ISO week) of their first counted order; ``period_number`` k counts
calendar periods since then (k = 0 is the acquisition period itself, so its retention is 1 by definition).

Which orders count (:func:`completed_orders`, used by this module and by :mod:`ecomlib.ltv`): status
``completed`` and ``partially_refunded``. Cancelled, fully refunded and pending orders are left out: they
are not purchases (yet). A partially refunded order counts with the revenue recorded on the order, because
the orders table does not say how much was refunded; pass the ``returns`` table to take every refund
(``returns.refund_amount``) off its order's revenue, which also nets refunds on completed orders. Refunds
are charged to the order's own period, not to the day of the refund. Guest orders (no customer_id) are
left out of every customer metric. Money is in the store currency.

Example
-------
>>> import pandas as pd
>>> orders = pd.DataFrame({"customer_id": ["a", "a", "b"], "order_time": pd.to_datetime(
...     ["2025-01-05", "2025-02-10", "2025-01-20"]), "status": "completed", "revenue": [10.0, 20.0, 5.0]})
>>> t = cohort_table(orders)
>>> t.loc[t["period_number"] == 1, ["cohort", "cohort_size", "active_customers", "retention"]].to_dict("records")
[{'cohort': '2025-01', 'cohort_size': 2, 'active_customers': 1, 'retention': 0.5}]
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator
from scipy import stats as sps

from .dataset import require_columns
from .contract import REVENUE_STATUSES
from .errors import ContractError, ParameterError, Violation
from .i18n import Messages
from .stats import adjust_pvalues, two_proportion_test, wilson_interval

COUNTED_STATUSES = REVENUE_STATUSES
"""Order statuses that count as purchases everywhere in cohorts and LTV."""

FREQS = {"M": "month", "W": "week"}
_EPOCH_MONDAY = np.datetime64("1970-01-05", "D")  # a Monday: weekly period codes count weeks from it
_Z95 = 1.959963984540054


# Checks ----------------------------------------------------------------------------------------------
def _check_option(name: str, value, allowed: Sequence) -> None:
    """Raise ParameterError naming the valid values when ``value`` is not one of ``allowed``."""
    if value not in allowed:
        raise ParameterError(f"{name}={value!r} is not a valid option; use one of {list(allowed)}", name=name)


def _naive(times: pd.Series) -> pd.Series:
    """Timestamps as naive wall-clock times (a time zone, if any, is dropped after conversion to local time)."""
    times = pd.to_datetime(times)
    return times.dt.tz_localize(None) if getattr(times.dt, "tz", None) is not None else times


# Which orders count ----------------------------------------------------------------------------------
def completed_orders(orders: pd.DataFrame, *, returns: pd.DataFrame | None = None, status_col: str = "status",
                     revenue_col: str = "revenue", order_col: str = "order_id") -> pd.DataFrame:
    """The orders that count as purchases: status ``completed`` or ``partially_refunded``; optionally net of refunds.

    Parameters
    ----------
    orders : contract ``orders`` (needs ``status`` and ``revenue``; ``order_id`` when ``returns`` is given).
    returns : contract ``returns`` (``order_id``, ``refund_amount``), optional. When given, the refunds of each
        order are subtracted from its revenue (never below 0) — on completed and partially refunded orders
        alike, charged to the order's time. Without it, revenue is taken as recorded on the order, and a
        partially refunded order counts in full because the orders table does not hold the refunded amount.
    status_col, revenue_col, order_col : column names.

    Returns
    -------
    A new DataFrame: the counted rows of ``orders`` (all columns kept, index reset). With ``returns`` it adds
    ``gross_revenue`` (as recorded) and ``refund_amount``, and ``revenue`` becomes net of refunds.
    Cancelled, refunded and pending orders are dropped.

    Example
    -------
    >>> o = pd.DataFrame({"order_id": ["1", "2", "3"], "status": ["completed", "cancelled", "partially_refunded"],
    ...                   "revenue": [100.0, 50.0, 80.0]})
    >>> r = pd.DataFrame({"order_id": ["3"], "refund_amount": [30.0]})
    >>> completed_orders(o, returns=r)["revenue"].tolist()
    [100.0, 50.0]
    """
    require_columns(orders, [status_col, revenue_col], table="orders", needed_by="completed_orders")
    out = orders.loc[_is_counted(orders[status_col])].reset_index(drop=True)
    if returns is None:
        return out
    require_columns(orders, [order_col], table="orders", needed_by="completed_orders with returns")
    require_columns(returns, [order_col, "refund_amount"], table="returns", needed_by="completed_orders")
    refunds = returns.groupby(order_col, sort=False)["refund_amount"].sum()
    refunded = out[order_col].map(refunds).fillna(0.0).astype(float)
    return out.assign(gross_revenue=out[revenue_col], refund_amount=refunded,
                      **{revenue_col: (out[revenue_col] - refunded).clip(lower=0.0)})


def _counted(orders: pd.DataFrame, status_col: str = "status") -> pd.DataFrame:
    """Counted orders when the table has a status column; a plain transaction log is taken as it is."""
    if status_col in orders.columns:
        return orders.loc[_is_counted(orders[status_col])]
    return orders


def _is_counted(status: pd.Series) -> np.ndarray:
    """Boolean mask of counted statuses (fast on categoricals: the test runs on the categories only)."""
    if isinstance(status.dtype, pd.CategoricalDtype):
        ok = np.asarray(status.cat.categories.astype(str).isin(COUNTED_STATUSES))
        codes = status.cat.codes.to_numpy()
        return np.where(codes >= 0, ok[np.maximum(codes, 0)], False)
    return status.astype(str).isin(COUNTED_STATUSES).to_numpy()


def _cutoff(times: pd.Series, end) -> pd.Timestamp:
    """The data cut-off: ``end`` when given, else the day after the last time (1970-01-01 with no data)."""
    if end is not None:
        return pd.Timestamp(end)
    return times.max().normalize() + pd.Timedelta(days=1) if len(times) else pd.Timestamp(0)


# Periods ---------------------------------------------------------------------------------------------
def _period_code(times: pd.Series, freq: str) -> np.ndarray:
    """Integer code of the calendar month (year*12 + month - 1) or ISO week (weeks since 1970-01-05) of each time."""
    if freq == "M":
        return (times.dt.year * 12 + times.dt.month - 1).to_numpy(dtype=np.int64)
    days = times.to_numpy().astype("datetime64[D]")
    return ((days - _EPOCH_MONDAY).astype(np.int64)) // 7


def _period_start(codes: np.ndarray, freq: str) -> pd.DatetimeIndex:
    """First day of each period code (inverse of :func:`_period_code`)."""
    codes = np.asarray(codes, dtype=np.int64)
    if freq == "M":
        months = (codes - 1970 * 12).astype("datetime64[M]")
        return pd.DatetimeIndex(months.astype("datetime64[ns]"))
    return pd.DatetimeIndex((_EPOCH_MONDAY + codes * 7).astype("datetime64[ns]"))


def _period_label(starts: pd.DatetimeIndex, freq: str) -> np.ndarray:
    """``2025-09`` for months, ``2025-W36`` for ISO weeks."""
    if freq == "M":
        return np.asarray(starts.strftime("%Y-%m"))
    iso = starts.isocalendar()
    return (iso["year"].astype(str) + "-W" + iso["week"].astype(str).str.zfill(2)).to_numpy()


# Acquisition -----------------------------------------------------------------------------------------
def acquisition(orders: pd.DataFrame, *, customers: pd.DataFrame | None = None, freq: str = "M",
                end: pd.Timestamp | str | None = None, customer_col: str = "customer_id",
                time_col: str = "order_time", channel_col: str = "channel") -> pd.DataFrame:
    """One row per customer: first counted order, cohort and acquisition channel.

    Parameters
    ----------
    orders : contract ``orders`` (counted orders are selected with :func:`completed_orders` rules).
    customers : contract ``customers``, optional. Its ``acquisition_channel`` wins where filled; otherwise the
        channel of the customer's first counted order is used. Its other columns (e.g. ``region``) are kept.
    freq : ``"M"`` (cohorts by calendar month) or ``"W"`` (by ISO week).
    end : only orders before this time count (exclusive; e.g. ``period.end``); None = all.

    Returns
    -------
    DataFrame with ``customer_id, first_order_time, cohort`` (label such as ``2025-09`` or ``2025-W36``),
    ``cohort_start`` (first day of the cohort period), ``acquisition_channel`` and any extra customers columns.

    Example
    -------
    >>> o = pd.DataFrame({"customer_id": ["a", "a"], "order_time": pd.to_datetime(["2025-02-03", "2025-01-31"]),
    ...                   "channel": ["email", "paid_search"], "revenue": [1.0, 2.0]})
    >>> acquisition(o)[["customer_id", "cohort", "acquisition_channel"]].to_dict("records")
    [{'customer_id': 'a', 'cohort': '2025-01', 'acquisition_channel': 'paid_search'}]
    """
    _check_option("freq", freq, FREQS)
    require_columns(orders, [customer_col, time_col], table="orders", needed_by="acquisition")
    counted = _counted(orders)
    counted = counted.loc[counted[customer_col].notna()]
    if end is not None:
        counted = counted.loc[_naive(counted[time_col]) < pd.Timestamp(end)]
    cols = [customer_col, time_col] + ([channel_col] if channel_col in counted.columns else [])
    first = (counted[cols].assign(**{time_col: _naive(counted[time_col])})
             .sort_values(time_col, kind="stable")
             .drop_duplicates(customer_col, keep="first").reset_index(drop=True))
    code = _period_code(first[time_col], freq)
    starts = _period_start(code, freq)
    out = pd.DataFrame({"customer_id": first[customer_col].to_numpy(), "first_order_time": first[time_col].to_numpy(),
                        "cohort": _period_label(starts, freq), "cohort_start": starts,
                        "acquisition_channel": (first[channel_col].astype(object).to_numpy()
                                                if channel_col in first.columns else np.nan)})
    out["_code"] = code
    if customers is not None:
        require_columns(customers, ["customer_id"], table="customers", needed_by="acquisition")
        extra = customers.drop(columns=[c for c in ("first_seen",) if c in customers.columns])
        extra = extra.drop_duplicates("customer_id").set_index("customer_id")
        if "acquisition_channel" in extra.columns:
            declared = out["customer_id"].map(extra["acquisition_channel"].astype(object))
            out["acquisition_channel"] = declared.where(declared.notna(), out["acquisition_channel"])
            extra = extra.drop(columns="acquisition_channel")
        out = out.join(extra, on="customer_id")
    out["acquisition_channel"] = out["acquisition_channel"].astype(object)
    return out


# Cohort table ----------------------------------------------------------------------------------------
def cohort_table(orders: pd.DataFrame, *, freq: str = "M", customers: pd.DataFrame | None = None,
                 by: str | None = None, end: pd.Timestamp | str | None = None, customer_col: str = "customer_id",
                 time_col: str = "order_time", revenue_col: str = "revenue") -> pd.DataFrame:
    """Retention, revenue retention and cumulative revenue per customer of each acquisition cohort, period by period.

    Parameters
    ----------
    orders : contract ``orders``; only counted orders (:func:`completed_orders` rules) are used. Pass the
        output of ``completed_orders(orders, returns=returns)`` to work on revenue net of refunds.
    freq : ``"M"`` (calendar months) or ``"W"`` (ISO weeks).
    customers : contract ``customers``, optional (acquisition channel, region; see :func:`acquisition`).
    by : split each cohort by a column of :func:`acquisition`'s output, e.g. ``"acquisition_channel"``.
    end : data cut-off (exclusive, e.g. ``period.end`` of the review); None = the day after the last order.
        Periods that end after it are partly observed and flagged ``complete = False``.

    Returns
    -------
    Long DataFrame, one row per cohort (× ``by``) × ``period_number`` from 0 to the last period in the data:
    ``cohort, cohort_start, [by], period_number, period_start, cohort_size`` (customers acquired),
    ``active_customers`` (cohort customers with ≥ 1 counted order in the period), ``orders``, ``revenue``
    (store currency), ``retention`` (active / size, fraction) with Wilson 95 % ``retention_ci_low/high``,
    ``revenue_retention`` (period revenue / acquisition-period revenue), ``cumulative_revenue_per_customer``
    and ``complete`` (the period is fully observed before ``end``).

    Example
    -------
    >>> o = pd.DataFrame({"customer_id": ["a", "b", "a"], "order_time": pd.to_datetime(
    ...     ["2025-01-02", "2025-01-09", "2025-03-01"]), "revenue": [10.0, 30.0, 20.0]})
    >>> cohort_table(o)[["period_number", "retention", "cumulative_revenue_per_customer"]].to_dict("list")
    {'period_number': [0, 1, 2], 'retention': [1.0, 0.0, 0.5], 'cumulative_revenue_per_customer': [20.0, 20.0, 30.0]}
    """
    _check_option("freq", freq, FREQS)
    require_columns(orders, [customer_col, time_col, revenue_col], table="orders", needed_by="cohort_table")
    acq = acquisition(orders, customers=customers, freq=freq, end=end, customer_col=customer_col, time_col=time_col)
    keys = ["_code"] + ([by] if by else [])
    if by is not None and by not in acq.columns:
        raise ParameterError(f"by={by!r} is not a column of the acquisition table; use one of "
                             f"{[c for c in acq.columns if c not in ('_code', 'customer_id')]}", name="by")
    counted = _counted(orders)
    counted = counted.loc[counted[customer_col].notna(), [customer_col, time_col, revenue_col]]
    times = _naive(counted[time_col])
    if end is not None:
        counted, times = counted.loc[times < pd.Timestamp(end)], times.loc[times < pd.Timestamp(end)]
    boundary = _cutoff(times, end)
    acq_index = acq.set_index("customer_id")
    o = pd.DataFrame({"customer_id": counted[customer_col].to_numpy(), "code": _period_code(times, freq),
                      "revenue": counted[revenue_col].to_numpy(dtype=float)})
    o = o.join(acq_index[keys], on="customer_id")
    o["period_number"] = o["code"] - o["_code"]
    activity = (o.groupby(keys + ["period_number"], observed=True, dropna=False)
                .agg(active_customers=("customer_id", "nunique"), orders=("customer_id", "size"),
                     revenue=("revenue", "sum")))
    sizes = acq.groupby(keys, observed=True, dropna=False).agg(
        cohort_size=("customer_id", "size"), cohort=("cohort", "first"), cohort_start=("cohort_start", "first"))
    sizes = sizes.reset_index()
    last_code = int(_period_code(pd.Series([boundary - pd.Timedelta(1, "ns")]), freq)[0]) if len(sizes) else 0
    n_periods = np.maximum(last_code - sizes["_code"].to_numpy() + 1, 1)
    grid = sizes.loc[sizes.index.repeat(n_periods)].reset_index(drop=True)
    grid["period_number"] = np.arange(len(grid)) - np.repeat(np.cumsum(n_periods) - n_periods, n_periods)
    grid = grid.join(activity, on=keys + ["period_number"])
    grid[["active_customers", "orders"]] = grid[["active_customers", "orders"]].fillna(0).astype(np.int64)
    grid["revenue"] = grid["revenue"].fillna(0.0)
    lo, hi = wilson_interval(grid["active_customers"], grid["cohort_size"])
    code = grid["_code"].to_numpy() + grid["period_number"].to_numpy()
    base = grid.groupby(keys, dropna=False)["revenue"].transform("first")
    out = pd.DataFrame({
        "cohort": grid["cohort"], "cohort_start": grid["cohort_start"],
        **({by: grid[by]} if by else {}),
        "period_number": grid["period_number"].astype(np.int64),
        "period_start": _period_start(code, freq), "cohort_size": grid["cohort_size"].astype(np.int64),
        "active_customers": grid["active_customers"], "orders": grid["orders"], "revenue": grid["revenue"],
        "retention": grid["active_customers"] / grid["cohort_size"], "retention_ci_low": lo, "retention_ci_high": hi,
        "revenue_retention": grid["revenue"] / base.where(base > 0),
        "cumulative_revenue_per_customer": grid.groupby(keys, dropna=False)["revenue"].cumsum() / grid["cohort_size"],
        "complete": _period_start(code + 1, freq) <= boundary,
    })
    order = ["cohort_start"] + ([by] if by else []) + ["period_number"]
    return out.sort_values(order, kind="stable").reset_index(drop=True)


def retention_matrix(table: pd.DataFrame, *, value: str = "retention", complete_only: bool = True,
                     max_periods: int | None = None) -> pd.DataFrame:
    """A cohort × period_number matrix of one column of :func:`cohort_table` (cohorts in time order).

    Parameters
    ----------
    table : output of :func:`cohort_table` (without ``by``, or the rows of one group).
    value : column to show (``retention``, ``revenue_retention``, ``cumulative_revenue_per_customer``, …).
    complete_only : leave partly observed periods empty (NaN), so a young period does not look like churn.
    max_periods : keep period numbers 0 … max_periods.

    Returns
    -------
    DataFrame indexed by ``cohort`` with one column per ``period_number``.
    """
    if value not in table.columns:
        raise ParameterError(f"value={value!r} is not a column of the cohort table; use one of "
                             f"{[c for c in table.columns if table[c].dtype.kind == 'f']}", name="value")
    t = table.loc[table["complete"]] if complete_only else table
    if max_periods is not None:
        t = t.loc[t["period_number"] <= max_periods]
    order = table.drop_duplicates("cohort").sort_values("cohort_start")["cohort"]
    m = t.pivot_table(index="cohort", columns="period_number", values=value, aggfunc="first", observed=True)
    return m.reindex(order[order.isin(m.index)])


def retention_at(table: pd.DataFrame, *, period_number: int = 3, min_size: int = 30) -> pd.DataFrame:
    """Each cohort's retention in one period against all other cohorts pooled, with intervals and tests.

    Parameters
    ----------
    table : output of :func:`cohort_table` (a ``by`` split is summed back to whole cohorts).
    period_number : k, periods after acquisition (3 = the third month after the first order's month).
    min_size : cohorts with fewer customers are left out (their rates are too noisy to compare).

    Returns
    -------
    One row per cohort whose period k is complete: ``cohort, cohort_start, cohort_size, active_customers,
    retention, ci_low, ci_high`` (Wilson 95 %), ``rest_retention`` (the other cohorts pooled), ``diff``
    (cohort − rest, fraction) with its 95 % interval ``diff_ci_low/high``, ``p_value`` (two-proportion z-test)
    and ``p_adjusted`` (Holm, over the cohorts compared). Empty when no cohort has reached period k.
    """
    t = table.loc[(table["period_number"] == period_number) & table["complete"]]
    c = (t.groupby("cohort", sort=False)
         .agg(cohort_start=("cohort_start", "first"), cohort_size=("cohort_size", "sum"),
              active_customers=("active_customers", "sum"))
         .reset_index())
    c = c.loc[c["cohort_size"] >= min_size].sort_values("cohort_start").reset_index(drop=True)
    cols = ["cohort", "cohort_start", "cohort_size", "active_customers", "retention", "ci_low", "ci_high",
            "rest_retention", "diff", "diff_ci_low", "diff_ci_high", "p_value", "p_adjusted"]
    if c.empty:
        return pd.DataFrame(columns=cols)
    lo, hi = wilson_interval(c["active_customers"], c["cohort_size"])
    x_rest = c["active_customers"].sum() - c["active_customers"]
    n_rest = c["cohort_size"].sum() - c["cohort_size"]
    test = two_proportion_test(x_rest, n_rest, c["active_customers"], c["cohort_size"])
    return c.assign(retention=c["active_customers"] / c["cohort_size"], ci_low=lo, ci_high=hi,
                    rest_retention=test["rate_1"].to_numpy(), diff=test["diff"].to_numpy(),
                    diff_ci_low=test["ci_low"].to_numpy(), diff_ci_high=test["ci_high"].to_numpy(),
                    p_value=test["p_value"].to_numpy(), p_adjusted=adjust_pvalues(test["p_value"]))[cols]


# Repeat purchases and order value -------------------------------------------------------------------
def _numbered(orders: pd.DataFrame, customer_col: str, time_col: str, end) -> pd.DataFrame:
    """Counted customer orders sorted by time, with ``order_number`` (1 = the customer's first order)."""
    counted = _counted(orders)
    counted = counted.loc[counted[customer_col].notna()]
    times = _naive(counted[time_col])
    if end is not None:
        counted, times = counted.loc[times < pd.Timestamp(end)], times.loc[times < pd.Timestamp(end)]
    o = counted.assign(**{time_col: times}).sort_values(time_col, kind="stable").reset_index(drop=True)
    o["order_number"] = o.groupby(customer_col, sort=False).cumcount() + 1  # rows are in time order
    return o


def time_to_second_order(orders: pd.DataFrame, *, end: pd.Timestamp | str | None = None,
                         customer_col: str = "customer_id", time_col: str = "order_time") -> pd.DataFrame:
    """Days from each customer's first to second counted order (a second order on the same day counts, 0 days).

    Returns one row per customer: ``customer_id, first_order_time, second_order_time`` (NaT when none yet),
    ``days_to_second`` (float days, NaN when none yet).

    Example
    -------
    >>> o = pd.DataFrame({"customer_id": ["a", "a", "b"], "order_time": pd.to_datetime(
    ...     ["2025-01-01 00:00", "2025-01-11 12:00", "2025-01-03 00:00"])})
    >>> time_to_second_order(o)["days_to_second"].tolist()
    [10.5, nan]
    """
    require_columns(orders, [customer_col, time_col], table="orders", needed_by="time_to_second_order")
    o = _numbered(orders, customer_col, time_col, end)
    first = o.loc[o["order_number"] == 1].set_index(customer_col)[time_col]
    second = o.loc[o["order_number"] == 2].set_index(customer_col)[time_col].reindex(first.index)
    return pd.DataFrame({"customer_id": first.index.to_numpy(), "first_order_time": first.to_numpy(),
                         "second_order_time": second.to_numpy(),
                         "days_to_second": ((second - first) / pd.Timedelta(days=1)).to_numpy()})


def repeat_purchase(orders: pd.DataFrame, *, window_days: int = 90, end: pd.Timestamp | str | None = None,
                    customers: pd.DataFrame | None = None, by: str | None = None,
                    customer_col: str = "customer_id", time_col: str = "order_time") -> pd.DataFrame:
    """Repeat-purchase rate (ever and within ``window_days``) and time to second order, overall or by group.

    Customers acquired less than ``window_days`` before ``end`` have not had the full window, so the windowed
    rate is computed only on customers acquired earlier (``eligible_customers``) — the fair rate to compare.

    Parameters
    ----------
    orders : contract ``orders`` (counted orders only are used).
    window_days : days after the first order in which a second order counts as a repeat.
    end : data cut-off (exclusive); None = the day after the last order.
    customers, by : split by a column of :func:`acquisition` (e.g. ``"acquisition_channel"``); None = overall.

    Returns
    -------
    One row per group (a single row with ``group = "all"`` when ``by`` is None): ``customers``,
    ``repeat_customers`` (≥ 2 orders so far), ``repeat_rate`` (fraction), ``eligible_customers``,
    ``repeat_in_window``, ``repeat_rate_window`` with Wilson 95 % ``ci_low/ci_high``, and
    ``median_days_to_second`` (days, among repeaters).
    """
    require_columns(orders, [customer_col, time_col], table="orders", needed_by="repeat_purchase")
    gap = time_to_second_order(orders, end=end, customer_col=customer_col, time_col=time_col)
    boundary = _cutoff(gap["first_order_time"], end)
    if by is not None:
        acq = acquisition(orders, customers=customers, end=end, customer_col=customer_col, time_col=time_col)
        if by not in acq.columns:
            raise ParameterError(f"by={by!r} is not a column of the acquisition table", name="by")
        gap = gap.join(acq.set_index("customer_id")[by], on="customer_id")
        key = by
    else:
        gap = gap.assign(group="all")
        key = "group"
    eligible = gap["first_order_time"] <= boundary - pd.Timedelta(days=window_days)
    gap = gap.assign(repeat=gap["second_order_time"].notna(), eligible=eligible,
                     in_window=eligible & (gap["days_to_second"] <= window_days))
    out = (gap.groupby(key, observed=True, dropna=False)
           .agg(customers=("customer_id", "size"), repeat_customers=("repeat", "sum"),
                eligible_customers=("eligible", "sum"), repeat_in_window=("in_window", "sum"),
                median_days_to_second=("days_to_second", "median"))
           .reset_index())
    lo, hi = wilson_interval(out["repeat_in_window"], out["eligible_customers"])
    with np.errstate(divide="ignore", invalid="ignore"):
        out["repeat_rate"] = out["repeat_customers"] / out["customers"]
        rate_window = out["repeat_in_window"] / out["eligible_customers"].where(out["eligible_customers"] > 0)
    out = out.assign(repeat_rate_window=rate_window, ci_low=lo, ci_high=hi)
    return out[[key, "customers", "repeat_customers", "repeat_rate", "eligible_customers", "repeat_in_window",
                "repeat_rate_window", "ci_low", "ci_high", "median_days_to_second"]]


def aov_by_order_number(orders: pd.DataFrame, *, max_number: int = 6, end: pd.Timestamp | str | None = None,
                        customer_col: str = "customer_id", time_col: str = "order_time",
                        revenue_col: str = "revenue") -> pd.DataFrame:
    """Average order value of customers' 1st, 2nd, … counted orders (the last row pools ``max_number`` and later).

    Returns one row per order number: ``order_number`` (1 … max_number), ``order_label`` (``"1"`` … ``"6+"``),
    ``and_later`` (True on the pooled last row), ``orders``, ``revenue``, ``aov`` (store currency per order),
    ``sd`` (standard deviation of order value) and a normal-approximation 95 % interval ``ci_low/ci_high``.

    Example
    -------
    >>> o = pd.DataFrame({"customer_id": ["a", "a", "b"], "order_time": pd.to_datetime(
    ...     ["2025-01-01", "2025-02-01", "2025-01-05"]), "revenue": [10.0, 40.0, 30.0]})
    >>> aov_by_order_number(o, max_number=2)["aov"].tolist()
    [20.0, 40.0]
    """
    require_columns(orders, [customer_col, time_col, revenue_col], table="orders", needed_by="aov_by_order_number")
    if max_number < 1:
        raise ParameterError(f"max_number must be at least 1, not {max_number}", name="max_number")
    o = _numbered(orders, customer_col, time_col, end)
    o["order_number"] = o["order_number"].clip(upper=max_number)
    out = (o.groupby("order_number")[revenue_col].agg(orders="size", revenue="sum", aov="mean", sd="std")
           .reset_index())
    half = _Z95 * out["sd"] / np.sqrt(out["orders"])
    later = out["order_number"] == max_number
    out = out.assign(and_later=later, order_label=out["order_number"].astype(str) + np.where(later, "+", ""),
                     ci_low=out["aov"] - half, ci_high=out["aov"] + half)
    return out[["order_number", "order_label", "and_later", "orders", "revenue", "aov", "sd", "ci_low", "ci_high"]]


def new_and_returning(orders: pd.DataFrame, *, start: pd.Timestamp | str, end: pd.Timestamp | str,
                      customer_col: str = "customer_id", time_col: str = "order_time") -> dict[str, float]:
    """New customers and the share of orders from returning customers in ``[start, end)``.

    Returns a dict: ``new_customers`` (first counted order in the window), ``orders`` (counted customer orders
    in the window), ``returning_orders`` (orders that are not the customer's first) and ``returning_share``
    (fraction; NaN with no orders).
    """
    o = _numbered(orders, customer_col, time_col, end)
    inside = o.loc[o[time_col] >= pd.Timestamp(start)]
    n = len(inside)
    returning = int((inside["order_number"] > 1).sum())
    return {"new_customers": int((inside["order_number"] == 1).sum()), "orders": n, "returning_orders": returning,
            "returning_share": returning / n if n else float("nan")}


def data_note(*, netted: bool, end: pd.Timestamp | str, msg: Messages) -> str:
    """What the numbers count, for the top of the page: counted statuses, refunds, and the data cut-off.

    netted : True when revenue was netted with ``completed_orders(orders, returns=...)``;
    end : the data cut-off (exclusive, e.g. ``period.end``); the note shows its last day.
    """
    key = "cohorts.note.counted_net" if netted else "cohorts.note.counted_gross"
    last_day = pd.Timestamp(end) - pd.Timedelta(days=1)
    return msg(key) + msg("cohorts.note.join") + msg("cohorts.note.cutoff", end=last_day)


# Plots -----------------------------------------------------------------------------------------------
def _msg(msg: Messages | None) -> Messages:
    return msg if msg is not None else Messages("en")


def plot_retention(data: pd.DataFrame, *, value: str = "retention", max_periods: int = 12, ax: Axes | None = None,
                   msg: Messages | None = None, **kwargs) -> Axes:
    """Heatmap of cohort retention (rows: cohorts; columns: periods 1, 2, … since acquisition), complete periods only.

    data : output of :func:`cohort_table`; value : a fraction column (``retention`` or ``revenue_retention``).
    Extra keyword arguments go to :func:`seaborn.heatmap`.
    """
    msg = _msg(msg)
    if ax is None:
        ax = plt.gca()
    m = retention_matrix(data, value=value, max_periods=max_periods)
    m = m.drop(columns=0, errors="ignore")  # period 0 is 100 % by definition (of customers and of revenue)
    labels = m.apply(lambda col: col.map(lambda v: "" if pd.isna(v) else msg.pct(v, 0)))
    options = {"cmap": "YlGnBu", "annot": labels.to_numpy(), "fmt": "", "annot_kws": {"fontsize": 7},
               "cbar_kws": {"label": msg(f"cohorts.label.{value}")}, "linewidths": 0.3}
    options.update(kwargs)
    sns.heatmap(m, ax=ax, **options)
    ax.grid(False)
    ax.set_xlabel(msg("cohorts.label.period_number"))
    ax.set_ylabel(msg("cohorts.label.cohort"))
    ax.set_title(msg(f"cohorts.title.heatmap_{value}"))
    return ax


def plot_cumulative_revenue(data: pd.DataFrame, *, x: str = "period_number",
                            y: str = "cumulative_revenue_per_customer", hue: str = "cohort",
                            highlight: str | None = None, ax: Axes | None = None, msg: Messages | None = None,
                            **kwargs) -> Axes:
    """Cumulative revenue per customer of each cohort by periods since acquisition (complete periods only).

    data : output of :func:`cohort_table`; highlight : a cohort label drawn thick (e.g. the best-retaining one).
    """
    msg = _msg(msg)
    if ax is None:
        ax = plt.gca()
    d = data.loc[data["complete"]]
    order = d.drop_duplicates(hue).sort_values("cohort_start")[hue].tolist() if hue == "cohort" else None
    options = {"palette": "crest", "linewidth": 1.2, "legend": False}
    options.update(kwargs)
    sns.lineplot(d, x=x, y=y, hue=hue, hue_order=order, ax=ax, **options)
    if highlight is not None and highlight in set(d[hue]):
        h = d.loc[d[hue] == highlight]
        ax.plot(h[x], h[y], color="C3", linewidth=3, label=msg("cohorts.label.highlight", cohort=highlight))
        ax.legend(loc="upper left")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(msg("cohorts.label.period_number"))
    ax.set_ylabel(msg("cohorts.label.cumulative_revenue_per_customer", currency=msg.currency))
    ax.set_title(msg("cohorts.title.cumulative_revenue"))
    return ax


# Sentences -------------------------------------------------------------------------------------------
def sentences(retention: pd.DataFrame, repeat: pd.DataFrame, aov: pd.DataFrame, *, period_number: int = 3,
              freq: str = "M", window_days: int = 90, alpha: float = 0.05, msg: Messages) -> list[str]:
    """The cohort conclusions, written from the numbers.

    Parameters
    ----------
    retention : output of :func:`retention_at`; repeat : output of :func:`repeat_purchase` (overall);
    aov : output of :func:`aov_by_order_number`; freq : the cohort period (``"M"`` or ``"W"``) of ``retention``;
    alpha : significance level for the Holm-adjusted p-values.

    Returns a list of sentences in ``msg``'s language: the best-retaining cohort (or that none stands out),
    the weakest one when it is significantly lower, the repeat-purchase rate and time to second order, and
    first vs repeat order value.
    """
    _check_option("freq", freq, FREQS)
    unit = msg(f"cohorts.unit.{freq}")
    out: list[str] = []
    if len(retention):
        best = retention.loc[retention["retention"].idxmax()]
        fields = dict(cohort=best["cohort"], k=period_number, unit=unit, rate=best["retention"], lo=best["ci_low"],
                      hi=best["ci_high"], rest=best["rest_retention"], diff=best["diff"], p=best["p_adjusted"],
                      n=len(retention))
        key = "best_cohort" if best["p_adjusted"] < alpha and best["diff"] > 0 else "no_best_cohort"
        out.append(msg(f"cohorts.sentence.{key}", **fields))
        worst = retention.loc[retention["retention"].idxmin()]
        if worst["p_adjusted"] < alpha and worst["diff"] < 0 and worst["cohort"] != best["cohort"]:
            out.append(msg("cohorts.sentence.worst_cohort", cohort=worst["cohort"], k=period_number, unit=unit,
                           rate=worst["retention"], rest=worst["rest_retention"], diff=worst["diff"],
                           p=worst["p_adjusted"]))
    else:
        out.append(msg("cohorts.sentence.too_young", k=period_number, unit=unit))
    if len(repeat):
        r = repeat.iloc[0]
        if r["eligible_customers"] > 0:
            out.append(msg("cohorts.sentence.repeat", rate=r["repeat_rate_window"], lo=r["ci_low"], hi=r["ci_high"],
                           days=window_days, n=r["eligible_customers"], median=r["median_days_to_second"]))
    if len(aov) >= 2:
        test = first_vs_repeat_aov(aov)
        key = ("aov_same" if not test["p_value"] < alpha else "aov_higher" if test["diff"] > 0 else "aov_lower")
        out.append(msg(f"cohorts.sentence.{key}", first=test["first_aov"], repeat=test["repeat_aov"],
                       change=abs(test["repeat_aov"] / test["first_aov"] - 1), p=test["p_value"]))
    return out


def first_vs_repeat_aov(aov: pd.DataFrame) -> dict[str, float]:
    """Compare first orders' value with all later orders' (Welch z-test on the pooled groups of ``aov``).

    aov : output of :func:`aov_by_order_number`. Returns ``first_aov, repeat_aov`` (store currency),
    ``diff`` (repeat − first), ``ci_low, ci_high`` (95 %) and ``p_value``.
    """
    first = aov.loc[aov["order_number"] == 1].iloc[0]
    rest = aov.loc[aov["order_number"] > 1]
    n = rest["orders"].sum()
    mean = rest["revenue"].sum() / n
    # pooled variance of the later orders from each row's mean and sd (within + between rows)
    within = ((rest["orders"] - 1) * rest["sd"].fillna(0.0) ** 2).sum()
    between = (rest["orders"] * (rest["aov"] - mean) ** 2).sum()
    var = (within + between) / max(n - 1, 1)
    se = np.sqrt(var / n + (first["sd"] ** 2 if pd.notna(first["sd"]) else 0.0) / first["orders"])
    diff = mean - first["aov"]
    p = float(2 * sps.norm.sf(abs(diff) / se)) if se > 0 else float("nan")
    return {"first_aov": float(first["aov"]), "repeat_aov": float(mean), "diff": float(diff),
            "ci_low": float(diff - _Z95 * se), "ci_high": float(diff + _Z95 * se), "p_value": p}
