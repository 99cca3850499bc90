"""Acquisition cohorts: retention, revenue retention, cumulative revenue per customer, repeat purchases, AOV — and
the interface of the cohort and LTV review.

The review's public surface (``NAME = "cohort_ltv"``, the notebook's name) lives in this module: ``MINIMUM_DATA``,
``load``, ``compute``, ``headlines``, ``findings``, ``sentences``; ``compute`` calls :mod:`ecomlib.ltv` for the
BG/NBD + Gamma-Gamma model, the holdout check and LTV:CAC. Minimum data per section (also on the page):

- retention: one acquisition cohort with a complete period after its first;
- comparison: two or more cohorts of at least 30 customers with period k complete (the left-censored first
  cohort of an export that starts mid-life is shown, never compared);
- repeat: customers acquired at least ``repeat_window_days`` before the period end; aov: a second order;
- model: 8 weeks of history, 20 customers, 10 with a repeat purchase of positive value; under a year of
  history, CLV and P(alive)
  are shown with drop-out at both ends of its interval;
- holdout: history of at least twice ``holdout_weeks``;
- economics: an ``ad_spend`` table and customers acquired at least ``ltv_months`` before the period end.

A customer's *cohort* is the month (or ISO week) of their first counted order; ``period_number`` k counts
calendar periods since then (k = 0 is the acquisition period itself, so its retention is 1 by definition).
On a query engine (``ds.engine``, DuckDB or Spark; see :mod:`ecomlib.engine`) the review reduces the cohort matrix
and the customer summary there (:func:`cohort_table_on`, :func:`ecomlib.ltv.customer_summary_on`: the same tables).

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
from .contract import REVENUE_STATUSES, order_revenue
from .errors import ParameterError
from .i18n import Messages
from .stats import adjust_pvalues, minimum_detectable_difference, two_proportion_test, wilson_interval

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
def completed_orders(orders: pd.DataFrame, *, returns: pd.DataFrame | None = None, pending: bool = False,
                     status_col: str = "status", revenue_col: str = "revenue",
                     order_col: str = "order_id") -> pd.DataFrame:
    """The orders that count as purchases: status ``completed`` or ``partially_refunded``; optionally net of refunds.

    This is :func:`ecomlib.contract.order_revenue` (the kit's one revenue definition) with
    ``basis="net"`` when ``returns`` is given and ``basis="gross"`` otherwise; ``pending=True`` counts pending
    orders too (used, in both periods alike, for the new-customer headlines).

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
    A new DataFrame: the counted rows of ``orders`` (all columns kept, index reset) with ``gross_revenue`` (as
    recorded) and ``refund_amount`` (0 without ``returns``); with ``returns``, ``revenue`` is net of refunds.
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
    if returns is not None:
        require_columns(orders, [order_col], table="orders", needed_by="completed_orders with returns")
        require_columns(returns, [order_col, "refund_amount"], table="returns", needed_by="completed_orders")
    standard = orders.rename(columns={status_col: "status", revenue_col: "revenue", order_col: "order_id"})
    out = order_revenue(standard, basis="gross" if returns is None else "net", pending=pending,
                        returns=None if returns is None else returns.rename(columns={order_col: "order_id"}))
    out = out.rename(columns={"status": status_col, "revenue": revenue_col, "order_id": order_col})
    return out.reset_index(drop=True)


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
    return _cohort_rows(sizes.reset_index(), activity, boundary, freq=freq, by=by)


def _cohort_rows(sizes: pd.DataFrame, activity: pd.DataFrame, boundary: pd.Timestamp, *, freq: str,
                 by: str | None) -> pd.DataFrame:
    """:func:`cohort_table`'s rows from the cohorts (``_code, [by], cohort_size, cohort, cohort_start``, in key
    order) and their activity (``active_customers, orders, revenue`` indexed by the keys and ``period_number``):
    every period up to ``boundary`` (exclusive cut-off), empty ones as zeros, with the rates and intervals."""
    keys = ["_code"] + ([by] if by else [])
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


def cohort_table_on(engine, *, freq: str = "M", end: pd.Timestamp | str | None = None,
                    basis: str = "gross") -> pd.DataFrame:
    """:func:`cohort_table` (without ``by``) run on a query engine over the source's ``orders`` (and ``returns``).

    The same table as ``cohort_table(completed_orders(orders, returns=...), freq=freq, end=end)`` from
    ``ecomlib/sql/cohort_matrix.sql``: orders never come into pandas, only one row per cohort and period.
    Counted orders (status ``completed`` or ``partially_refunded``) of known customers placed before ``end``;
    ``basis="gross"`` takes revenue as recorded, ``"net"`` less each order's refunds (``returns.refund_amount``,
    never below 0), as :func:`ecomlib.contract.order_revenue` — the review's ``compute`` uses ``"net"`` when the
    store has a returns table. Counts are customers and orders, money is in the store currency, retention a
    fraction.

    Example
    -------
    >>> eng = ecomlib.engine.connect("duckdb", "data/demo")                                 # doctest: +SKIP
    >>> cohort_table_on(eng, freq="M", end=pd.Timestamp("2026-11-23"), basis="net")        # doctest: +SKIP
    """
    from .contract import REVENUE_BASES
    from .engine import literal

    _check_option("freq", freq, FREQS)
    _check_option("basis", basis, REVENUE_BASES)
    end = None if end is None else pd.Timestamp(end)
    where = f"status IN ({', '.join(literal(s) for s in COUNTED_STATUSES)}) AND customer_id IS NOT NULL"
    if end is not None:
        where += f" AND order_time < {literal(end)}"
    scans = {"orders": where, **({"returns": None} if basis == "net" else {})}
    rows = engine.reduce("cohort_matrix", statuses=list(COUNTED_STATUSES), freq=freq, end=end, basis=basis,
                         scans=scans)
    codes = rows["cohort_code"].to_numpy(np.int64)
    cohorts = (pd.DataFrame({"_code": codes, "cohort_size": rows["cohort_size"].to_numpy(np.int64)})
               .drop_duplicates("_code").sort_values("_code", kind="stable").reset_index(drop=True))
    starts = _period_start(cohorts["_code"].to_numpy(), freq)
    cohorts["cohort"] = _period_label(starts, freq)
    cohorts["cohort_start"] = starts
    activity = pd.DataFrame({"_code": codes, "period_number": rows["period_number"].to_numpy(np.int64),
                             "active_customers": rows["active_customers"].to_numpy(np.int64),
                             "orders": rows["orders"].to_numpy(np.int64),
                             "revenue": rows["revenue"].to_numpy(float)}).set_index(["_code", "period_number"])
    if end is not None:
        boundary = end
    elif len(rows):
        boundary = pd.Timestamp(rows["last_time"].iloc[0]).normalize() + pd.Timedelta(days=1)
    else:
        boundary = pd.Timestamp(0)
    return _cohort_rows(cohorts, activity, boundary, freq=freq, by=None)


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


def retention_at(table: pd.DataFrame, *, period_number: int = 3, min_size: int = 30, alpha: float = 0.05,
                 exclude: Sequence[str] = ()) -> pd.DataFrame:
    """Each cohort's retention in one period against the ordinary cohorts, with intervals and Holm-adjusted tests.

    The baseline of a cohort is the other cohorts pooled, *excluding outliers*: a first pass compares every
    cohort with all the others; the cohort that differs most significantly there (Holm-adjusted p < ``alpha``)
    is an outlier, and the pass is repeated without it. The last pass — the one reported — compares every cohort with the other cohorts minus
    those outliers. So one planted or exceptional cohort (2025-09 on the demo) cannot make an ordinary cohort
    look "worst" merely by lifting the pooled rate. Outliers are removed one at a time, the most extreme first,
    until no remaining cohort differs from the rest. ``baseline_excluded`` names the cohorts left out of each row's
    baseline (besides itself).

    Parameters
    ----------
    table : output of :func:`cohort_table` (a ``by`` split is summed back to whole cohorts).
    period_number : k, periods after acquisition (3 = the third month after the first order's month).
    min_size : cohorts with fewer customers are left out (their rates are too noisy to compare).
    alpha : level at which a first-pass difference makes a cohort an outlier of the baseline.
    exclude : cohorts shown but neither tested nor pooled into any baseline (the left-censored first cohort of
        an export that starts mid-life, see :func:`left_censored_cohort`); their p-values are NaN.

    Returns
    -------
    One row per cohort whose period k is complete: ``cohort, cohort_start, cohort_size, active_customers,
    retention, ci_low, ci_high`` (Wilson 95 %), ``rest_retention`` (the baseline's pooled rate), ``diff``
    (cohort − baseline, fraction) with its 95 % interval ``diff_ci_low/high``, ``p_value`` (two-proportion
    z-test), ``p_adjusted`` (Holm, over the cohorts tested), ``tested`` (False for ``exclude``d cohorts),
    ``baseline_excluded`` (comma-separated outliers left out of the baseline) and ``mde`` (the smallest
    difference the test could detect with 80 % power at the Bonferroni level alpha / cohorts tested, fraction).
    Empty when no cohort has reached period k.
    """
    t = table.loc[(table["period_number"] == period_number) & table["complete"]]
    c = (t.groupby("cohort", sort=False)
         .agg(cohort_start=("cohort_start", "first"), cohort_size=("cohort_size", "sum"),
              active_customers=("active_customers", "sum"))
         .reset_index())
    c = c.loc[c["cohort_size"] >= min_size].sort_values("cohort_start").reset_index(drop=True)
    cols = ["cohort", "cohort_start", "cohort_size", "active_customers", "retention", "ci_low", "ci_high",
            "rest_retention", "diff", "diff_ci_low", "diff_ci_high", "p_value", "p_adjusted", "tested",
            "baseline_excluded", "mde"]
    if c.empty:
        return pd.DataFrame(columns=cols)
    lo, hi = wilson_interval(c["active_customers"], c["cohort_size"])
    tested = ~c["cohort"].isin(list(exclude)).to_numpy()
    x, n = c["active_customers"].to_numpy(dtype=float), c["cohort_size"].to_numpy(dtype=float)

    def against(pool: np.ndarray) -> pd.DataFrame:
        # each cohort against the pooled cohorts of ``pool`` other than itself
        x_rest = (x * pool).sum() - x * pool
        n_rest = (n * pool).sum() - n * pool
        with np.errstate(divide="ignore", invalid="ignore"):
            return two_proportion_test(x_rest, n_rest, x, n)

    def holm(test: pd.DataFrame) -> np.ndarray:
        p = np.full(len(c), np.nan)
        ok = tested & np.isfinite(test["p_value"].to_numpy())
        if ok.any():
            p[ok] = adjust_pvalues(test["p_value"].to_numpy()[ok])
        return p

    outliers = np.zeros(len(c), dtype=bool)
    for _ in range(max(int(tested.sum()) - 2, 0)):  # one outlier at a time, the most extreme first
        p = holm(against((tested & ~outliers).astype(float)))
        p = np.where(outliers, np.nan, p)
        if not np.isfinite(p).any() or np.nanmin(p) >= alpha:
            break
        outliers[int(np.nanargmin(p))] = True
    pool = (tested & ~outliers).astype(float)
    test = against(pool)
    names = c["cohort"].to_numpy()
    excluded = [", ".join(str(v) for v in names[outliers & (names != own)]) for own in names]
    n_rest = (n * pool).sum() - n * pool
    rate = x_rest_rate = ((x * pool).sum() - x * pool) / np.where(n_rest > 0, n_rest, np.nan)
    m = max(int(tested.sum()), 1)  # Holm's strictest level over the cohorts tested
    mde = minimum_detectable_difference(rate, n, n_rest, alpha=alpha / m)
    out = c.assign(retention=x / n, ci_low=lo, ci_high=hi, rest_retention=x_rest_rate,
                   diff=test["diff"].to_numpy(), diff_ci_low=test["ci_low"].to_numpy(),
                   diff_ci_high=test["ci_high"].to_numpy(),
                   p_value=np.where(tested, test["p_value"].to_numpy(), np.nan), p_adjusted=holm(test),
                   tested=tested, baseline_excluded=excluded, mde=mde)
    return out[cols]


def left_censored_cohort(acquisition_table: pd.DataFrame, *, data_start: pd.Timestamp | None = None,
                         customers: pd.DataFrame | None = None, factor: float = 2.0) -> str | None:
    """The first cohort when it is left-censored: it holds customers who bought before the data begin.

    An export that starts in the middle of a shop's life puts every existing customer's first order *in the data*
    into the first cohort, which then looks huge and loyal. The first cohort is marked when the ``customers``
    table says some of its customers were first seen before ``data_start`` (the first order of the data), or when
    it is more than ``factor`` times the median size of the next (up to six) cohorts. A marked cohort is shown,
    never named best or worst, and left out of every baseline (:func:`retention_at`'s ``exclude``).

    Returns the cohort label, or None.
    """
    if acquisition_table.empty:
        return None
    sizes = acquisition_table.groupby("cohort_start")["customer_id"].size().sort_index()
    first_start = sizes.index[0]
    label = acquisition_table.loc[acquisition_table["cohort_start"] == first_start, "cohort"].iloc[0]
    if customers is not None and data_start is not None and "first_seen" in customers.columns:
        members = acquisition_table.loc[acquisition_table["cohort_start"] == first_start, "customer_id"]
        seen = customers.set_index("customer_id")["first_seen"].reindex(members)
        if (pd.to_datetime(seen) < pd.Timestamp(data_start).normalize()).any():
            return str(label)
    later = sizes.iloc[1:7]
    if len(later) >= 2 and sizes.iloc[0] > factor * float(later.median()):
        return str(label)
    return None


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


def data_note(result, msg: Messages) -> str:
    """What the numbers count, for the top of the page: the revenue definition (named), pending orders in the
    new-customer figures, the data cut-off and the left-censored first cohort when there is one."""
    key = "cohorts.note.counted_net" if result.notes.get("revenue_basis") == "net" else "cohorts.note.counted_gross"
    text = msg(key) + msg("cohorts.note.join") + msg("cohorts.note.cutoff", end=result.period.last_day)
    text += msg("cohorts.note.pending")
    if result.value("left_censored"):
        text += msg("cohorts.note.left_censored", cohort=result.value("left_censored"))
    return text


def minimum_data_text(msg: Messages) -> str:
    """The review's minimum-data rules (:data:`MINIMUM_DATA`), one line each, in the page's language."""
    return "\n".join(f"- {msg(f'cohorts.minimum.{section}')}" for section in MINIMUM_DATA)


def heatmap_size(result) -> tuple[float, float]:
    """Figure size of the retention heatmap: one row per cohort."""
    t = result.tables.get("cohort_table")
    n = t["cohort"].nunique() if t is not None and len(t) else 1
    return (11, 1.5 + 0.36 * min(n, 40))


def caption(result, name: str, msg: Messages) -> str:
    """The caption of a result table that depends on the settings (retention: which period, which baseline)."""
    if name == "retention":
        return msg("cohorts.title.retention_at", k=result.notes["k"], unit=msg(f"cohorts.unit.{result.notes['freq']}"))
    raise ParameterError(f"no caption rule for table {name!r}", name="name")


def chart_data(result, name: str, msg: Messages, *, top: int = 12) -> pd.DataFrame:
    """A result table ready for a chart: data codes translated, long tails folded into "Other (N)"."""
    from .report import group_tail, label_values

    data = result.tables[name]
    if name == "economics" and len(data) > top + 1:
        data = group_tail(data.loc[data["ltv_cac"].notna()], by="acquisition_channel", value="spend", top=top,
                          msg=msg, sum_columns=["spend", "new_customers"])
    return label_values(data, msg)


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
    if m.empty or m.isna().all().all():  # no cohort has a complete period after its first: say so, draw nothing
        ax.text(0.5, 0.5, msg("cohorts.label.no_complete_period"), ha="center", va="center", transform=ax.transAxes,
                wrap=True)
        ax.set_axis_off()
        ax.set_title(msg(f"cohorts.title.heatmap_{value}"))
        return ax
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


# Order value test ------------------------------------------------------------------------------------
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


# The review interface --------------------------------------------------------------------------------------
# The cohort and LTV review's public surface (STYLE rule 12) lives here: NAME, MINIMUM_DATA, load, compute,
# headlines, findings, sentences. compute calls ecomlib.ltv for the model, the holdout check and LTV:CAC.
NAME = "cohort_ltv"

MIN_COHORT_SIZE = 30
SHORT_HISTORY_DAYS = 365
MIN_MODEL_DAYS = 56
"""Purchase history (days from the first counted purchase to the period end) below which no model is fitted:
with fewer than 8 weekly periods BG/NBD cannot tell regular buyers from one-off ones."""

MINIMUM_DATA = {
    "retention": "at least one acquisition cohort with a complete period after its first (for monthly cohorts: "
                 "orders in two calendar months, the first of them complete)",
    "comparison": f"at least two cohorts of {MIN_COHORT_SIZE} or more customers whose period k (retention_period) "
                  f"is complete; the left-censored first cohort of an export that starts mid-life is shown but "
                  f"never compared",
    "repeat": "customers acquired at least repeat_window_days (90) before the end of the period",
    "aov": "at least one customer with a second counted order",
    "model": "8 weeks of purchase history, at least 20 customers and 10 with a repeat purchase of positive value "
             "(BG/NBD + Gamma-Gamma); with "
             "less than a year of history, drop-out cannot be pinned down and the page shows CLV and P(alive) "
             "with drop-out at both ends of its interval",
    "holdout": "history of at least twice holdout_weeks (26 weeks of calibration, 26 of holdout) and the model's "
               "minimum within the calibration part",
    "economics": "an ad_spend table (CAC) and customers acquired at least ltv_months (12) before the period end "
                 "(LTV, realised margin)",
}
"""Section → the minimum data it needs, in words (shown on the page; tests check below, at and above)."""

UNITS = {
    "cohort_size": "int", "active_customers": "int", "retention": "pct", "ci_low": "pct", "ci_high": "pct",
    "rest_retention": "pct", "diff": "pp", "p_adjusted": "p", "mde": "pp", "customers": "int",
    "repeat_customers": "int", "repeat_rate": "pct", "eligible_customers": "int", "repeat_in_window": "int",
    "repeat_rate_window": "pct", "median_days_to_second": "num", "orders": "int", "aov": "money",
    "revenue": "money", "value": "text", "se": "text", "frequency_bucket": "int", "actual": "num",
    "predicted": "num", "error": "num", "abs_pct_error": "pct", "frequency": "int", "recency": "num",
    "monetary_value": "money", "p_alive": "pct", "expected_purchases": "num", "clv": "money",
    "clv_total": "money", "clv_share": "pct", "new_customers": "int", "spend": "money", "cac": "money",
    "ltv": "money", "ltv_customers": "int", "ltv_cac": "ratio", "ltv_cac_ci_low": "ratio",
    "ltv_cac_ci_high": "ratio", "payback_months": "int", "dropout_probability": "pct", "clv_mean": "money",
    "lost_share": "pct", "first_aov": "money", "repeat_aov": "money", "p_value": "p",
}
"""Each column's display unit, declared once (``i18n.Messages.format`` kinds); tables whose ``ci_low/ci_high`` are
money or parameters override it in :data:`TABLE_UNITS`."""
TABLE_UNITS = {
    "aov": {"ci_low": "money", "ci_high": "money"},
    "params": {"ci_low": "text", "ci_high": "text"},
    "aov_test": {"diff": "money", "ci_low": "money", "ci_high": "money"},
}

#: The columns each table shows on the page, and the message prefix of their headers.
SHOWN = {
    "retention": (["cohort", "cohort_size", "active_customers", "retention", "ci_low", "ci_high", "rest_retention",
                   "diff", "p_adjusted", "mde"], "cohorts.col."),
    "repeat_by_channel": (["acquisition_channel", "customers", "repeat_rate", "eligible_customers",
                           "repeat_rate_window", "ci_low", "ci_high", "median_days_to_second"], "cohorts.col."),
    "aov": (["order_label", "orders", "aov", "ci_low", "ci_high"], "cohorts.col."),
    "params": (["model", "parameter", "value", "se", "ci_low", "ci_high"], "ltv.col."),
    "holdout": (["frequency_bucket", "customers", "actual", "predicted", "error", "abs_pct_error"], "ltv.col."),
    "top_customers": (["customer_id", "acquisition_channel", "cohort", "frequency", "recency", "monetary_value",
                       "p_alive", "expected_purchases", "clv"], "ltv.col."),
    "rollup_channel": (["acquisition_channel", "customers", "p_alive", "expected_purchases", "clv", "clv_total",
                        "clv_share"], "ltv.col."),
    "rollup_cohort": (["cohort", "customers", "p_alive", "expected_purchases", "clv", "clv_total", "clv_share"],
                      "ltv.col."),
    "economics": (["acquisition_channel", "new_customers", "spend", "cac", "ltv", "ltv_customers", "ltv_cac",
                   "ltv_cac_ci_low", "ltv_cac_ci_high", "payback_months"], "ltv.col."),
    "dropout": (["dropout", "dropout_probability", "clv_mean", "lost_share"], "ltv.col."),
}


def formats(data: pd.DataFrame, table: str | None = None) -> dict[str, str]:
    """Display formats of ``data``'s columns from :data:`UNITS` (and :data:`TABLE_UNITS` for ``table``)."""
    units = {**UNITS, **TABLE_UNITS.get(table or "", {})}
    return {c: units[c] for c in data.columns if c in units}


def load(data_dir, **kwargs):
    """The tables of the cohort and LTV review: ``orders`` (required); ``customers``, ``ad_spend``, ``returns``,
    ``promotions`` when present (contract.REVIEW_TABLES["cohort_ltv"]); absent optional tables are None."""
    from .review import load_tables
    return load_tables(data_dir, NAME, **kwargs)


def _significant_digits(x: float, msg: Messages, digits: int = 3) -> str:
    """A positive model parameter with ``digits`` significant digits (r = 0.243, not 0.2)."""
    if x is None or not np.isfinite(x) or x == 0:
        return msg.num(x, 0) if x == 0 else "–"
    decimals = max(0, digits - 1 - int(np.floor(np.log10(abs(x)))))
    return msg.num(x, min(decimals, 8))


#: Tables whose channel rows are folded into "Other (N)" beyond the top 12: the column ranked on and the additive
#: columns summed; rates of the folded row are recomputed from the sums, other ratios left empty.
_TAILS = {
    "repeat_by_channel": ("customers", ["customers", "repeat_customers", "eligible_customers", "repeat_in_window"]),
    "rollup_channel": ("clv_total", ["customers", "clv_total", "clv_share"]),
    "economics": ("new_customers", ["new_customers", "spend", "ltv_customers"]),
}


def _fold(data: pd.DataFrame, name: str, top: int, msg: Messages) -> pd.DataFrame:
    """:func:`ecomlib.report.group_tail` on a channel table, with the folded row's rates recomputed."""
    from .report import group_tail

    value, additive = _TAILS[name]
    out = group_tail(data, by="acquisition_channel", value=value, top=top, msg=msg, sum_columns=additive)
    last = out.index[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        if name == "repeat_by_channel":
            out.loc[last, "repeat_rate"] = out.loc[last, "repeat_customers"] / out.loc[last, "customers"]
            out.loc[last, "repeat_rate_window"] = (out.loc[last, "repeat_in_window"]
                                                   / out.loc[last, "eligible_customers"])
        if name == "rollup_channel":
            out.loc[last, "clv"] = out.loc[last, "clv_total"] / out.loc[last, "customers"]
        if name == "economics":
            out["has_spend"] = out["has_spend"].fillna(out.loc[last, "spend"] > 0).astype(bool)
    return out


def table(result, name: str, msg: Messages, *, caption: str | None = None, top: int = 12):
    """One of the result's tables ready to show: its columns (:data:`SHOWN`), units, translated headers and data
    codes (channels via :func:`ecomlib.report.label_values`), long tails folded, every cell escaped."""
    from .report import label_values, styled

    data = result.tables[name]
    columns, prefix = SHOWN[name]
    if name in _TAILS and len(data) > top + 1:
        data = _fold(data, name, top, msg)
    data = data[[c for c in columns if c in data.columns]]
    if name == "params":
        data = data.assign(**{c: data[c].map(lambda v: _significant_digits(v, msg))
                              for c in ("value", "se", "ci_low", "ci_high")})
    if name == "dropout":
        data = data.assign(dropout=data["dropout"].map(lambda v: msg(f"ltv.dropout.{v}")))
    data = label_values(data, msg)
    return styled(data, msg, formats=formats(data, name), labels=msg.labels(list(data.columns), prefix),
                  caption=caption)


def _gap(key: str, **fields):
    from .review import Gap
    return Gap(f"cohorts.gap.{key}", fields)


def compute(ds, period, *, cohort_freq: str = "M", retention_period: int = 3, time_unit: str = "W",
            model: str = "bgnbd", penalizer: float = 0.0, holdout_weeks: int = 26, horizon_months: int = 12,
            discount_rate: float = 0.01, gross_margin: float = 0.5, ltv_months: int = 12, max_months: int = 18,
            repeat_window_days: int = 90, alpha: float = 0.05, ltv_cac_target: float = 3.0,
            min_cohort_size: int = MIN_COHORT_SIZE, fit_model: bool = True):
    """Everything the cohort and LTV page shows for ``period``, as known at its end.

    ``fit_model=False`` skips the model and holdout sections (recorded as gaps) for quick checks of the cohort
    sections; the page always fits.

    Revenue is :func:`ecomlib.contract.order_revenue` — net of refunds (``returns``) when the store has a
    returns table, gross otherwise; pending orders excluded — named in ``notes["revenue_basis"]``. Only orders
    placed before ``period.end`` are used. The new-customer headlines count pending orders in both periods
    (the newest period's orders are still pending when it ends, the comparison's have settled since: counting
    them in neither would make the newest period look worse).

    Sections that cannot be computed are recorded as gaps (:data:`MINIMUM_DATA`); the rest still computes.

    Returns
    -------
    :class:`ecomlib.review.Result` with tables ``cohort_table, retention, repeat, repeat_by_channel, aov,
    aov_test, acquisition``, and when the model fits ``params, predictions, top_customers, rollup_channel,
    rollup_cohort, p_alive_matrix``, ``dropout`` (short history), ``holdout``, ``economics``; values
    ``new_customers, returning_share, orders`` (pending counted), ``paid_cac``, ``clv_mean``, ``clv_total``,
    ``clv_top10_share``, ``lost_share``, ``lost_n``, ``holdout_error`` (dict), ``independence`` (dict),
    ``history_days``, ``left_censored`` (cohort label or None), ``best_cohort``.
    """
    from . import ltv
    from .errors import FitError, PeriodError
    from .review import Result

    _check_option("freq", cohort_freq, FREQS)
    _check_option("time_unit", time_unit, ltv.TIME_UNITS)
    end = period.end
    settings = dict(k=retention_period, freq=cohort_freq, window_days=repeat_window_days, alpha=alpha,
                    months=horizon_months, margin=gross_margin, discount_rate=discount_rate, ltv_months=ltv_months,
                    max_months=max_months, target=ltv_cac_target, model=model, time_unit=time_unit,
                    holdout_weeks=holdout_weeks, min_size=min_cohort_size)
    res = Result(review=NAME, period=period, notes=dict(settings))
    returns = ds.returns if getattr(ds, "returns", None) is not None else None
    orders = ds.orders
    res.notes["revenue_basis"] = "net" if returns is not None else "gross"
    counted = completed_orders(orders, returns=returns)
    counted = counted.loc[_naive(counted["order_time"]) < end]
    customer_orders = counted.loc[counted["customer_id"].notna()]
    data_start = _naive(orders["order_time"]).min() if len(orders) else pd.NaT
    first_purchase = _naive(customer_orders["order_time"]).min() if len(customer_orders) else pd.NaT
    res.values["history_days"] = (float((end - first_purchase) / pd.Timedelta(days=1))
                                  if pd.notna(first_purchase) else 0.0)

    # headlines: new and returning customers, pending orders counted in both periods
    with_pending = completed_orders(orders, pending=True).drop(columns="status")
    nr = new_and_returning(with_pending, start=period.start, end=end)
    if not (len(orders) and data_start < end):  # the period lies before the data: unknown, not zero
        nr = {"new_customers": None, "returning_share": None, "orders": None}
    res.values.update(new_customers=nr["new_customers"], returning_share=nr["returning_share"], orders=nr["orders"])

    # cohorts
    customers = getattr(ds, "customers", None)
    acq = acquisition(counted, customers=customers, freq=cohort_freq, end=end)
    res.tables["acquisition"] = acq
    censored = left_censored_cohort(acq, data_start=data_start, customers=customers)
    res.values["left_censored"] = censored
    engine = getattr(ds, "engine", None)  # a query engine runs the heavy reductions; None: pandas
    if not len(acq):
        ct = pd.DataFrame()
    elif engine is not None:
        ct = cohort_table_on(engine, freq=cohort_freq, end=end, basis=res.notes["revenue_basis"])
    else:
        ct = cohort_table(counted, freq=cohort_freq, customers=customers, end=end)
    res.tables["cohort_table"] = ct
    later = ct.loc[ct["complete"] & (ct["period_number"] > 0)] if len(ct) else ct
    if later.empty:
        res.gaps["retention"] = _gap("retention", customers=len(acq), unit=cohort_freq)
        res.gaps["revenue"] = _gap("retention", customers=len(acq), unit=cohort_freq)
        res.tables["retention"] = retention_at(pd.DataFrame(columns=["period_number", "complete", "cohort",
                                                                      "cohort_start", "cohort_size",
                                                                      "active_customers"]))
    else:
        res.tables["retention"] = retention_at(ct, period_number=retention_period, min_size=min_cohort_size,
                                               alpha=alpha, exclude=[censored] if censored else [])
    r = res.tables["retention"]
    if int(r["tested"].sum() if len(r) else 0) < 2:
        res.gaps["comparison"] = _gap("comparison", k=retention_period, unit=cohort_freq, size=min_cohort_size,
                                      n=int(r["tested"].sum()) if len(r) else 0)
    else:
        best = r.loc[r["tested"]].sort_values("retention", ascending=False).iloc[0]
        res.values["best_cohort"] = best["cohort"]

    # repeat purchases and order value
    if len(acq):
        res.tables["repeat"] = repeat_purchase(counted, window_days=repeat_window_days, end=end)
        res.tables["repeat_by_channel"] = repeat_purchase(counted, window_days=repeat_window_days, end=end,
                                                          customers=customers, by="acquisition_channel")
    if not len(acq) or int(res.tables["repeat"]["eligible_customers"].sum()) == 0:
        res.gaps["repeat"] = _gap("repeat", days=repeat_window_days)
    aov = aov_by_order_number(counted, end=end) if len(acq) else pd.DataFrame()
    res.tables["aov"] = aov
    if len(aov) < 2:
        res.gaps["aov"] = _gap("aov")
    else:
        res.tables["aov_test"] = pd.DataFrame([first_vs_repeat_aov(aov)])

    # the model: BG/NBD + Gamma-Gamma on the summary as of the period's last day
    if fit_model:
        _model_section(res, counted, acq, period, ltv=ltv, errors=(FitError, PeriodError), **settings,
                       penalizer=penalizer, engine=engine)
    else:
        res.gaps["model"] = res.gaps["holdout"] = _gap("model_skipped")

    # LTV (realised margin, history) : CAC
    spend = getattr(ds, "ad_spend", None)
    if spend is None or spend.empty:
        res.gaps["economics"] = _gap("no_ad_spend")
        res.values["paid_cac"] = None
    elif not len(acq):
        res.gaps["economics"] = _gap("repeat", days=repeat_window_days)
        res.values["paid_cac"] = None
    else:
        res.tables["economics"] = ltv.channel_economics(counted, spend, customers=customers, end=end,
                                                        gross_margin=gross_margin, ltv_months=ltv_months,
                                                        max_months=max_months)
        cost = ltv.acquisition_cost(spend, acq, start=period.start, end=end)
        res.tables["period_cost"] = cost
        cac = ltv.paid_cac(cost)
        res.values["paid_cac"] = None if not np.isfinite(cac) else cac
        if res.tables["economics"]["ltv_customers"].sum() == 0:
            res.gaps["economics"] = _gap("economics", months=ltv_months)
    return res


def _model_section(res, counted, acq, period, *, ltv, errors, penalizer, months, margin, discount_rate,
                   time_unit, model, holdout_weeks, engine=None, **_):
    """Fit the purchase and spend models, predict, and run the holdout check; gaps where the data cannot.

    With a query ``engine`` the customer summary is reduced there (:func:`ecomlib.ltv.customer_summary_on`)."""
    from .errors import FitError

    summary = None
    try:
        if engine is not None:
            summary = ltv.customer_summary_on(engine, period.last_day, time_unit=time_unit,
                                              basis=res.notes["revenue_basis"], end=period.end)
        else:
            summary = ltv.customer_summary(counted, period.last_day, time_unit=time_unit)
    except errors[1]:
        pass
    n = 0 if summary is None else len(summary)
    repeat = 0 if summary is None else int(((summary["frequency"] > 0) & (summary["monetary_value"] > 0)).sum())
    months_of_data = res.values["history_days"] / (365.25 / 12)
    if n and res.values["history_days"] < MIN_MODEL_DAYS:
        res.gaps["model"] = _gap("model_short", days=res.values["history_days"], needed=MIN_MODEL_DAYS)
    elif n < ltv.MIN_CUSTOMERS:
        res.gaps["model"] = _gap("model_customers", n=n, needed=ltv.MIN_CUSTOMERS)
    elif repeat < ltv.MIN_REPEAT_CUSTOMERS:
        key = "model_repeat_long" if res.values["history_days"] >= SHORT_HISTORY_DAYS else "model_repeat_short"
        res.gaps["model"] = _gap(key, repeat=repeat, n=n, needed=ltv.MIN_REPEAT_CUSTOMERS, months=months_of_data)
    else:
        try:
            fitted = ltv.CustomerValueModel(penalizer=penalizer, model=model).fit(summary)
        except FitError as e:
            res.gaps["model"] = _gap("model_failed", reason=str(e))
            fitted = None
        if fitted is not None:
            pred = fitted.predict(summary, months=months, discount_rate=discount_rate, margin=margin)
            res.tables["params"] = fitted.params_table()
            res.tables["predictions"] = pred
            top = (pred.nlargest(10, "clv").rename_axis("customer_id").reset_index()
                   .merge(acq[["customer_id", "acquisition_channel", "cohort"]], on="customer_id", how="left"))
            res.tables["top_customers"] = top
            res.tables["rollup_channel"] = ltv.rollup(pred, acq, by="acquisition_channel")
            res.tables["rollup_cohort"] = ltv.rollup(pred, acq, by="cohort")
            res.tables["p_alive_matrix"] = fitted.probability_alive_matrix()
            clv = pred["clv"]
            ordered = clv.sort_values(ascending=False)
            res.values.update(
                clv_mean=float(clv.mean()), clv_total=float(clv.sum()),
                clv_top10_share=(float(ordered.iloc[: max(1, len(ordered) // 10)].sum() / ordered.sum())
                                 if ordered.sum() > 0 else float("nan")),
                independence=dict(fitted.independence_), model_name=ltv.MODELS[model])
            repeaters = pred.loc[pred["frequency"] > 0, "p_alive"]
            res.values.update(lost_share=float((repeaters < 0.5).mean()) if len(repeaters) else float("nan"),
                              lost_n=int((repeaters < 0.5).sum()))
            res.notes["short_history"] = res.values["history_days"] < SHORT_HISTORY_DAYS
            if res.notes["short_history"]:
                res.tables["dropout"] = fitted.dropout_sensitivity(summary, months=months,
                                                                   discount_rate=discount_rate, margin=margin)
    # holdout check: a model fitted on the history before the last holdout_weeks, scored on them
    calibration_end = period.last_day - pd.Timedelta(weeks=holdout_weeks)
    if res.values["history_days"] < 2 * 7 * holdout_weeks:
        res.gaps["holdout"] = _gap("holdout", weeks=holdout_weeks, days=res.values["history_days"])
        return
    try:
        calhold = ltv.calibration_holdout(counted, calibration_end, period.last_day, time_unit=time_unit)
    except errors[1]:
        calhold = None
    n = 0 if calhold is None else len(calhold)
    repeat = (0 if calhold is None else
              int(((calhold["frequency_cal"] > 0) & (calhold["monetary_value_cal"] > 0)).sum()))
    if n < ltv.MIN_CUSTOMERS or repeat < ltv.MIN_REPEAT_CUSTOMERS:
        res.gaps["holdout"] = _gap("holdout_data", n=n, repeat=repeat, customers=ltv.MIN_CUSTOMERS,
                                   needed=ltv.MIN_REPEAT_CUSTOMERS, weeks=holdout_weeks)
        return
    try:
        held = ltv.CustomerValueModel(penalizer=penalizer, model=model).fit(calhold)
    except errors as e:
        res.gaps["holdout"] = _gap("holdout_failed", reason=str(e))
        return
    res.tables["holdout"] = ltv.holdout_comparison(held, calhold)
    res.values["holdout_error"] = ltv.holdout_error(held, calhold)


# Headlines, findings, sentences ------------------------------------------------------------------------------
def headlines(now, before, msg: Messages) -> list:
    """The index cards: new customers and returning share (pending orders counted in both periods), paid CAC in
    the period, predicted 12-month CLV per customer (a forecast, as of each period's end)."""
    from .report import Headline

    months = now.notes["months"]
    return [
        Headline("new_customers", msg("cohorts.h.new_customers"), now.value("new_customers"), "count",
                 previous=before.value("new_customers"), good="up", source="ecomlib.cohorts.new_and_returning"),
        Headline("returning_share", msg("cohorts.h.returning_share"), now.value("returning_share"), "ratio",
                 previous=before.value("returning_share"), good="up", source="ecomlib.cohorts.new_and_returning"),
        Headline("paid_cac", msg("cohorts.h.paid_cac"), now.value("paid_cac"), "money",
                 previous=before.value("paid_cac"), good="down", source="ecomlib.ltv.paid_cac"),
        Headline("clv_mean", msg("cohorts.h.clv_mean", months=months), now.value("clv_mean"), "money",
                 previous=before.value("clv_mean"), good="up", source="ecomlib.ltv.CustomerValueModel.clv"),
    ]


def _channel(name, msg: Messages) -> str:
    from .report import vocab
    return vocab("channel", name, msg)


def findings(now, before, msg: Messages) -> list:
    """Structured conclusions for the index.

    - ``best_cohort`` / ``worst_cohort``: a cohort whose retention in period k differs from the ordinary cohorts
      (outliers and the left-censored first cohort out of the baseline), Holm-adjusted over the cohorts tested;
      ``significant`` only when that test says so. No money at stake: a cohort's retention is not money earned or
      lost in the period.
    - ``ltv_cac_below``: paid channels whose realised 12-month margin per customer (LTV, history) is below the
      target multiple of CAC. Money at stake = the period's new customers of the channel × (CAC − LTV) where
      LTV < CAC (the margin shortfall on this period's acquisitions, if they follow past customers); severity
      high below break-even (LTV:CAC < 1), medium below the target. Descriptive: the interval is not a test.
    - ``lost_customers``: share of repeat customers more likely gone than active (a forecast; info).
    """
    from .review import Finding

    out = []
    r = now.tables.get("retention")
    k, unit, alpha = now.notes["k"], msg(f"cohorts.unit.{now.notes['freq']}"), now.notes["alpha"]
    if now.has("comparison") and r is not None and len(r):
        tested = r.loc[r["tested"]]
        for key, row, sign in (("best_cohort", tested.loc[tested["retention"].idxmax()], 1),
                               ("worst_cohort", tested.loc[tested["retention"].idxmin()], -1)):
            significant = bool(row["p_adjusted"] < alpha and np.sign(row["diff"]) == sign)
            if not significant:
                continue
            out.append(Finding(
                review=NAME, key=key,
                text=msg(f"cohorts.finding.{key}", cohort=row["cohort"], rate=row["retention"],
                         rest=row["rest_retention"], diff=row["diff"], p=row["p_adjusted"], k=k, unit=unit),
                numbers={"cohort": row["cohort"], "retention": row["retention"], "baseline": row["rest_retention"],
                         "diff": row["diff"], "p_adjusted": row["p_adjusted"], "cohort_size": row["cohort_size"],
                         "baseline_excluded": row["baseline_excluded"]},
                money=None, severity="medium", confidence="significant", anchor="sec-retention",
                source="ecomlib.cohorts.retention_at"))
    e = now.tables.get("economics")
    if now.has("economics") and e is not None:
        target = now.notes["target"]
        cost = now.tables.get("period_cost")
        new = cost.set_index("acquisition_channel")["new_customers"] if cost is not None else pd.Series(dtype=float)
        for row in e.loc[e["ltv_cac"].notna() & (e["ltv_cac"] < target)].itertuples():
            shortfall = max(row.cac - row.ltv, 0.0) * float(new.get(row.acquisition_channel, 0))
            out.append(Finding(
                review=NAME, key=f"ltv_cac_below:{row.acquisition_channel}",
                text=msg("cohorts.finding.ltv_cac_below", channel=_channel(row.acquisition_channel, msg),
                         ratio=row.ltv_cac, lo=row.ltv_cac_ci_low, hi=row.ltv_cac_ci_high, target=target,
                         months=now.notes["ltv_months"]),
                numbers={"channel": row.acquisition_channel, "ltv_cac": row.ltv_cac, "ltv": row.ltv, "cac": row.cac,
                         "ci_low": row.ltv_cac_ci_low, "ci_high": row.ltv_cac_ci_high, "target": target},
                money=shortfall if shortfall > 0 else None, severity="high" if row.ltv_cac < 1 else "medium",
                confidence="descriptive", anchor="sec-economics", source="ecomlib.ltv.channel_economics"))
    if now.has("model") and "lost_share" in now.values and np.isfinite(now.values["lost_share"]):
        out.append(Finding(
            review=NAME, key="lost_customers",
            text=msg("ltv.sentence.lost", share=now.values["lost_share"], n=now.values["lost_n"]),
            numbers={"lost_share": now.values["lost_share"], "lost_n": now.values["lost_n"]},
            severity="info", confidence="descriptive", anchor="sec-model",
            source="ecomlib.ltv.CustomerValueModel.probability_alive"))
    return out


def sentences(now, before, msg: Messages) -> list[str]:
    """The page's conclusions, read from the results only: new customers against the comparison period (pending
    orders counted in both), the best and worst cohort against the ordinary cohorts (with the smallest
    difference the test could detect when none stands out), the left-censored first cohort, repeat purchases,
    first vs repeat order value, then the lifetime-value sentences of :func:`ecomlib.ltv.sentences`."""
    from . import ltv
    from .report import format_change

    n = now.notes
    unit = msg(f"cohorts.unit.{n['freq']}")
    out: list[str] = []
    if before is not None and now.value("new_customers") is not None and before.value("new_customers") is not None:
        out.append(msg("cohorts.sentence.new_customers", now=now.value("new_customers"),
                       before=before.value("new_customers"),
                       change=format_change(now.value("new_customers"), before.value("new_customers"), "count", msg)))
    if now.value("left_censored"):
        out.append(msg("cohorts.sentence.left_censored", cohort=now.value("left_censored")))
    r = now.tables.get("retention")
    if now.has("comparison"):
        tested = r.loc[r["tested"]]
        best = tested.loc[tested["retention"].idxmax()]
        excluded = best["baseline_excluded"] or msg("cohorts.none")
        fields = dict(cohort=best["cohort"], k=n["k"], unit=unit, rate=best["retention"], lo=best["ci_low"],
                      hi=best["ci_high"], rest=best["rest_retention"], diff=best["diff"], p=best["p_adjusted"],
                      n=len(tested), mde=best["mde"], excluded=excluded)
        if not np.isfinite(best["p_adjusted"]):  # every cohort at the same rate (Olist: nobody returns)
            key = "same_retention"
        else:
            key = "best_cohort" if best["p_adjusted"] < n["alpha"] and best["diff"] > 0 else "no_best_cohort"
        out.append(msg(f"cohorts.sentence.{key}", **fields))
        worst = tested.loc[tested["retention"].idxmin()]
        if worst["p_adjusted"] < n["alpha"] and worst["diff"] < 0 and worst["cohort"] != best["cohort"]:
            out.append(msg("cohorts.sentence.worst_cohort", cohort=worst["cohort"], k=n["k"], unit=unit,
                           rate=worst["retention"], rest=worst["rest_retention"], diff=worst["diff"],
                           p=worst["p_adjusted"], excluded=worst["baseline_excluded"] or msg("cohorts.none")))
    elif now.has("retention"):
        out.append(msg("cohorts.sentence.too_young", k=n["k"], unit=unit))
    if now.has("repeat") and now.tables["repeat"]["repeat_customers"].sum() == 0:
        rr = now.tables["repeat"].iloc[0]
        out.append(msg("cohorts.sentence.repeat_none", n=rr["customers"]))
    elif now.has("repeat"):
        rr = now.tables["repeat"].iloc[0]
        out.append(msg("cohorts.sentence.repeat", rate=rr["repeat_rate_window"], lo=rr["ci_low"], hi=rr["ci_high"],
                       days=n["window_days"], n=rr["eligible_customers"], median=rr["median_days_to_second"]))
    if now.has("aov"):
        t = now.tables["aov_test"].iloc[0]
        key = ("aov_same" if not t["p_value"] < n["alpha"] else "aov_higher" if t["diff"] > 0 else "aov_lower")
        se = (t["ci_high"] - t["ci_low"]) / (2 * _Z95)
        mde = (sps.norm.ppf(1 - n["alpha"] / 2) + sps.norm.ppf(0.8)) * se / t["first_aov"] if t["first_aov"] else np.nan
        out.append(msg(f"cohorts.sentence.{key}", first=t["first_aov"], repeat=t["repeat_aov"],
                       change=abs(t["repeat_aov"] / t["first_aov"] - 1), p=t["p_value"], mde=mde))
    return out + ltv.sentences(now, msg)
