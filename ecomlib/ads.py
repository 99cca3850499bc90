"""Ad ROAS review: channel and campaign efficiency, profit-aware ROAS, diminishing returns, budget shifts, pacing.

Tables used: ``ad_spend`` (one row per day, channel and campaign) and ``orders`` (required); ``order_items`` +
``products`` for gross margin and an optional ``budgets`` table (channel, period ``YYYY-MM``, amount) for
pacing. Money is in the store currency; rates are fractions; ROAS is a multiple (revenue per unit of spend).
The review's one entry point is :func:`compute` (everything the page shows for one period), read by
:func:`headlines`, :func:`findings` and :func:`sentences`.

Minimum data, per section (:data:`MINIMUM_DATA`; a section below its minimum shows one sentence saying what is
missing, every other section still renders)
-----------------------------------------------------------------------------------------------------------
- **channels / campaigns**: at least one ``ad_spend`` row with spend in the period.
- **over_time**: ad spend in at least 2 weeks of the history window (``fit_window_days`` before the period end).
- **matching**: always shown when an ``ad_spend`` channel matches no ``orders.channel``: its store ROAS is
  unknown (never 0.00×) and the page lists the unmatched values with their spend and the unmatched order
  channels with their revenue.
- **margin**: gross margin from ``order_items`` + ``products``; without them, break-even comes from the
  ``cost_ratio`` option (cost of goods ÷ revenue), and the page says so; without either, break-even is unknown.
- **curves**: a channel needs ``min_days`` (default 28) days with spend in the history window and daily spend
  that varies (coefficient of variation ≥ 10 %).
- **realloc**: response curves for at least two channels, and a break-even ROAS for each.
- **pacing**: a ``budgets`` row for the month the period ends in.

Decisions, stated once
----------------------
- **Revenue** is the kit's one definition, :func:`ecomlib.contract.order_revenue` on the ``gross`` basis without
  pending orders (:data:`REVENUE_BASIS`): ``revenue`` of orders with status ``completed`` or
  ``partially_refunded``; pending orders may still fail, cancelled and refunded ones earned nothing; both
  periods are counted the same way. Labels name the basis.
- **Store-side attribution** is the order's own ``orders.channel`` (last touch as the store records it),
  by the store-local day of ``order_time``. Platform figures (``platform_conversions``,
  ``platform_revenue``) are what each ad platform claims; platforms over-claim, so both are shown with
  their ratio (``platform_vs_store``).
- **Channel keys are text** everywhere (stripped strings), so a store whose channel column reads as numbers
  still joins. An ``ad_spend`` channel that appears in no order is *unmatched*: its store revenue is unknown,
  not zero (:func:`channel_matching`).
- **Campaigns.** ``orders.channel`` does not name a campaign, so a campaign's store-side revenue is the
  channel's store revenue in the same time bucket *allocated* by the campaign's share of the channel's
  platform revenue (by spend share where the platform reported no revenue, equally where there was no
  spend either). Campaign store ROAS is therefore an estimate that inherits the channel's uncertainty.
- **Safe division.** A ratio with a zero denominator (zero spend, clicks, impressions or conversions)
  is NaN — never ``inf``, never an error. Rows of ``ad_spend`` with a non-finite amount are left out and
  counted.
- **Missing days.** A day without an ``ad_spend`` row for a channel is *missing*, not zero: the
  ``missing_days`` column counts them, response curves skip them, and pacing counts them as no spend.
- **Intervals.** Store revenue is a sum of random order values (a compound Poisson total), so its
  standard error is ``sqrt(sum of squared order revenues)``; ROAS intervals use it on the log scale.
  Platform revenue comes without order detail: its relative error is taken as ``sqrt((1 + cv²) /
  platform_conversions)`` with ``cv`` the coefficient of variation of the channel's store order values.
  "Below break-even" is tested one-sided on the log scale (``p_below``) and Holm-corrected over the paid
  channels of the period (``p_below_adjusted``): that family is the one the sentences name.
- **Gross margin** per channel is ``(Σ quantity × unit_price − Σ quantity × unit_cost) / Σ quantity ×
  unit_price`` over the channel's counted order lines; break-even ROAS is ``1 / margin rate``. A paid
  channel without order lines of its own gets the store-wide margin.
- **Below break-even, in two numbers.** ``spend_below_break_even`` is the spend of the rows (campaigns or
  channels) whose ROAS is under break-even; ``shortfall`` is what those rows lost: spend − revenue × margin
  (the negative contribution). A campaign CN¥290 short of break-even has a shortfall of CN¥290, whatever it spent.
- **Response curves** are Hill curves ``revenue = vmax · s^h / (k^h + s^h)`` of daily channel revenue (of
  the chosen attribution) on daily channel spend, fitted with :func:`scipy.optimize.curve_fit`, with a
  bootstrap over days for the uncertainty band. A channel with fewer than ``min_days`` days or too little
  spend variation is refused, with the reason. The shape ``h`` is fixed at 1 by default: a budget's
  usual spend range cannot tell ``k`` and ``h`` apart.
- **Budget shifts** maximise contribution (revenue × margin − spend) without raising total spend: each
  channel moves at most ±50 % and stays within the daily spend seen in the fit window, and no channel gets
  more spend unless its marginal ROAS *after* the shift is still at or above its break-even ROAS (money that
  has no such home is saved). The expected profit change has a bootstrap band. They are observational: spend
  was not randomised, so a shift should be tested before it is trusted.
- **Pacing** compares month-to-date spend with the month's budget (``budgets`` table) as of the period's end
  and projects it linearly to the month's end; a month that has ended reports what was spent.
- **Money at stake** of a finding: the shortfall of a channel below break-even (what it lost in the period),
  the spend of unmatched channels (whose return cannot be judged), the expected profit change of a budget
  shift over the period, the projected overspend of a budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Real
from typing import Mapping, Sequence

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter
from scipy import optimize
from scipy import stats as sps

from .contract import REVENUE_STATUSES, order_revenue
from .dataset import unmatched_keys
from .errors import (CurrencyError, NotFittedError, ParameterError, ResponseFitError,
                     check_option)
from .i18n import Messages
from .periods import Period
from .report import Headline, group_tail, label_values, vocab
from .review import Finding, Gap, Result, load_tables
from .stats import adjust_pvalues

NAME = "ad_roas"
COUNTED_STATUSES = REVENUE_STATUSES
#: The revenue every ROAS of this review uses: contract.order_revenue(basis="gross", pending=False).
REVENUE_BASIS = {"basis": "gross", "pending": False}
MINIMUM_DATA = {
    "channels": "at least one ad_spend row with spend in the period",
    "campaigns": "at least one ad_spend row with spend in the period",
    "over_time": "ad spend in at least 2 weeks of the history window",
    "matching": "every ad_spend channel should appear in orders.channel; one that does not has an unknown ROAS",
    "margin": "order_items and products (unit costs) for gross margin, or the cost_ratio option",
    "curves": "min_days (28) days with spend per channel in the history window, daily spend varying by 10 % or more",
    "realloc": "response curves for at least two channels, each with a break-even ROAS",
    "pacing": "a budgets table (channel, period YYYY-MM, amount) with a row for the month the period ends in",
}
#: Each column's unit, declared once: table formats (:func:`formats`), axes and headlines use it.
UNITS = {
    "spend": "money", "impressions": "int", "clicks": "int", "ctr": "pct", "cpc": "money", "cpm": "money",
    "platform_conversions": "num", "cvr": "pct", "cpa": "money", "platform_revenue": "money",
    "platform_roas": "ratio", "platform_roas_low": "ratio", "platform_roas_high": "ratio", "store_orders": "num",
    "store_revenue": "money", "new_customers": "num", "store_roas": "ratio", "store_roas_low": "ratio",
    "store_roas_high": "ratio", "platform_vs_store": "ratio", "cac": "money", "margin_rate": "pct",
    "break_even_roas": "ratio", "revenue": "money", "roas": "ratio", "roas_low": "ratio", "roas_high": "ratio",
    "contribution": "money", "profit_roas": "ratio", "spend_below_break_even": "money", "shortfall": "money",
    "p_below": "p", "p_below_adjusted": "p", "roas_detectable": "ratio", "days": "int", "missing_days": "int", "weeks": "int",
    "weeks_below": "int", "share_below": "pct", "budget": "money", "spend_to_date": "money",
    "days_elapsed": "int", "days_total": "int", "projected_spend": "money", "projected_vs_budget": "pct",
    "n_days": "int", "spend_cv": "pct", "vmax": "money", "k": "money", "h": "num", "current_spend": "money",
    "expected_revenue": "money", "marginal_roas": "ratio", "marginal_low": "ratio", "marginal_high": "ratio",
    "proposed_spend": "money", "change": "money", "current_revenue": "money", "proposed_revenue": "money",
    "proposed_marginal_roas": "ratio", "profit_change": "money", "line_revenue": "money", "cost": "money",
    "spend_total": "money", "revenue_total": "money", "rows": "int", "date": "date",
}
ATTRIBUTIONS = ("store", "platform")
LEVELS = ("channel", "campaign")
FREQS = (None, "D", "W")
FIT_CODES = ("too_few_days", "no_spend", "no_variation", "no_revenue", "no_convergence")

_VOLUME = ["spend", "impressions", "clicks", "platform_conversions", "platform_revenue"]


# Small helpers ---------------------------------------------------------------------------------------
def _text(values) -> pd.Series:
    """Channel or campaign keys as stripped text (a key read as a number, ``1.0``, becomes ``"1.0"``; empty stays NaN).

    Vectorized over the distinct values (a 160,000-order table has a handful of channels)."""
    values = pd.Series(values)
    codes, uniques = pd.factorize(values.astype("object"), use_na_sentinel=True)
    words = np.array([u.strip() if isinstance(u, str) else str(u) for u in uniques] + [np.nan], dtype=object)
    return pd.Series(words[codes], index=values.index, dtype=object)


def _div(num, den) -> pd.Series | np.ndarray:
    """``num / den`` with NaN wherever ``den`` is 0 or missing (never inf)."""
    num = pd.Series(num, dtype=float) if not isinstance(num, pd.Series) else num.astype(float)
    den = pd.Series(den, dtype=float, index=num.index) if not isinstance(den, pd.Series) else den.astype(float)
    return num / den.where(den > 0)


def _check_choice(name: str, value, choices: Sequence) -> None:
    check_option(name, value, choices)


def _bucket(days: pd.Series, freq: str | None) -> pd.Series:
    """The bucket a day falls in: the day itself (``"D"``) or the Monday starting its ISO week (``"W"``)."""
    days = pd.to_datetime(days).dt.normalize()
    if freq == "W":
        return days - pd.to_timedelta(days.dt.day_of_week, unit="D")
    return days


def check_currency(table: pd.DataFrame, *, currency: str, table_name: str = "ad_spend") -> None:
    """Raise :class:`CurrencyError` unless every row of ``table`` is in the store ``currency``.

    Tables without a ``currency`` column are taken to be in the store currency (the contract states money
    columns once, in store.yaml); rows with an empty currency are accepted.

    Parameters
    ----------
    table : a contract table (``ad_spend``, ``orders``).
    currency : the store's ISO 4217 code (``ds.store.currency``).
    table_name : the table's name, for the error message.

    Example
    -------
    >>> check_currency(pd.DataFrame({"spend": [1.0], "currency": ["CNY"]}), currency="CNY")
    """
    if "currency" not in table.columns:
        return
    cur = table["currency"].dropna().astype(str).str.strip().str.upper()
    wrong = cur[cur != currency.upper()]
    if len(wrong):
        raise CurrencyError(table_name, currency, wrong.value_counts().to_dict())


def history_window(period: Period, days: int) -> Period:
    """The ``days`` before the end of ``period``, started on a Monday so weekly buckets are whole weeks.

    Example
    -------
    >>> from ecomlib.periods import parse_period
    >>> history_window(parse_period("2026-W47"), 180).start.date().isoformat()
    '2026-05-25'
    """
    start = period.end - pd.Timedelta(days=int(days))
    start = start - pd.Timedelta(days=start.day_of_week)
    return Period(start, period.end, "custom")


# Orders side -------------------------------------------------------------------------------------------
def counted_orders(orders: pd.DataFrame, *, statuses: Sequence[str] = COUNTED_STATUSES) -> pd.DataFrame:
    """Orders that count as revenue, with ``day`` (store-local date) and ``first_order`` (the customer's first).

    ``first_order`` is True on each customer's earliest counted order in the whole table (ties broken by
    the table's row order); guest orders (no ``customer_id``) are never first orders, as they cannot be
    recognised again. Returns a new DataFrame: the input columns for kept rows plus ``day`` and
    ``first_order``.
    """
    if tuple(statuses) == tuple(COUNTED_STATUSES):
        kept = order_revenue(orders, **REVENUE_BASIS)  # the kit's one revenue definition
    else:
        kept = orders[orders["status"].isin(list(statuses))]
    kept = kept.assign(day=kept["order_time"].dt.normalize(), channel=_text(kept["channel"]).to_numpy())
    ordered = kept.sort_values("order_time", kind="stable")
    first = ordered["customer_id"].notna() & ~ordered.duplicated("customer_id")
    return kept.assign(first_order=first.reindex(kept.index))


def _store_side(orders: pd.DataFrame, keys: list[str], freq: str | None, period: Period | None,
                statuses: Sequence[str]) -> pd.DataFrame:
    o = counted_orders(orders, statuses=statuses)
    if period is not None:
        o = o[period.contains(o["order_time"])]
    if freq:
        o = o.assign(date=_bucket(o["day"], freq))
    o = o.assign(rev_sq=o["revenue"] ** 2)
    agg = (o.groupby(keys + ["channel"], observed=True)
           .agg(store_orders=("order_id", "size"), store_revenue=("revenue", "sum"),
                rev_sq=("rev_sq", "sum"), new_customers=("first_order", "sum"))
           .reset_index())
    return _store_errors(agg)


def _store_errors(agg: pd.DataFrame) -> pd.DataFrame:
    """Store-side sums per [date,] channel (``store_orders, store_revenue, rev_sq, new_customers``) with the relative
    error of the revenue total (``rel_se``) and ``one_cv2`` in place of ``rev_sq``."""
    agg = agg.assign(channel=_text(agg["channel"]).to_numpy())
    # Compound-Poisson error of a revenue total: se = sqrt(Σ x²), so the relative error is sqrt(Σ x²) / Σ x;
    # n Σx² / (Σx)² = 1 + cv² of the order values (used for the platform's total, which has no order detail).
    total = agg["store_revenue"].where(agg["store_revenue"] > 0)
    return agg.assign(rel_se=np.sqrt(agg["rev_sq"]) / total,
                      one_cv2=agg["store_orders"] * agg["rev_sq"] / total ** 2).drop(columns="rev_sq")


# Performance -------------------------------------------------------------------------------------------
def performance(ad_spend: pd.DataFrame, orders: pd.DataFrame, *, period: Period | None = None,
                level: str = "channel", freq: str | None = None, alpha: float = 0.05,
                statuses: Sequence[str] = COUNTED_STATUSES) -> pd.DataFrame:
    """Spend, delivery, platform-claimed and store-side results per channel (or campaign), per day/week or period.

    Parameters
    ----------
    ad_spend : contract ``ad_spend`` table (money in the store currency).
    orders : contract ``orders`` table (the whole history: first orders are found in it).
    period : days to include; None = every day in ``ad_spend``.
    level : ``"channel"`` or ``"campaign"``.
    freq : None (one row per channel/campaign for the whole period), ``"D"`` (per day) or ``"W"`` (per ISO
        week, ``date`` = its Monday).
    alpha : 1 − confidence level of the ROAS intervals.
    statuses : order statuses that count as revenue.

    Returns
    -------
    DataFrame, one row per [date,] channel [, campaign] — channels are those in ``ad_spend``:

    - ``days`` (days with an ad_spend row), ``missing_days`` (days of the bucket without one);
    - sums: ``spend, impressions, clicks, platform_conversions, platform_revenue``;
    - ratios (NaN on a zero denominator): ``ctr`` = clicks / impressions, ``cpc`` = spend / clicks,
      ``cpm`` = 1000 × spend / impressions, ``cvr`` = platform_conversions / clicks, ``cpa`` = spend /
      platform_conversions, ``platform_roas`` = platform_revenue / spend (with ``platform_roas_low/high``);
    - store side: ``store_orders``, ``store_revenue``, ``new_customers`` (first orders), ``store_roas``
      (with ``store_roas_low/high``), ``platform_vs_store`` = platform_revenue / store_revenue (how much the
      platform over-claims, ×), ``cac`` = spend / new_customers.

    At campaign level the store-side columns are the channel's, allocated by platform-revenue share
    (fractional orders and customers). On a day/week with orders but no ad_spend row for the channel
    (``freq`` given), the channel row has store figures and NaN spend.

    Example
    -------
    >>> ads = pd.DataFrame({"date": pd.to_datetime(["2026-01-05"] * 2), "channel": ["display"] * 2,
    ...                     "campaign": ["a", "b"], "impressions": [1000, 0], "clicks": [10, 0],
    ...                     "spend": [100.0, 0.0], "platform_conversions": [2.0, 0.0],
    ...                     "platform_revenue": [300.0, 0.0]})
    >>> orders = pd.DataFrame({"order_id": ["o1"], "customer_id": ["c1"],
    ...                        "order_time": pd.to_datetime(["2026-01-05 10:00"]),
    ...                        "channel": ["display"], "status": ["completed"], "revenue": [150.0]})
    >>> performance(ads, orders, level="campaign")[["campaign", "cpc", "store_revenue", "store_roas"]]
      campaign   cpc  store_revenue  store_roas
    0        a  10.0          150.0         1.5
    1        b   NaN            0.0         NaN
    """
    _check_choice("level", level, LEVELS)
    _check_choice("freq", freq, FREQS)
    ads = ad_spend if period is None else ad_spend[period.contains(ad_spend["date"])]
    ads = ads.assign(channel=_text(ads["channel"]).to_numpy(), campaign=_text(ads["campaign"]).to_numpy())
    if freq:
        ads = ads.assign(date_bucket=_bucket(ads["date"], freq))
    keys = ["date"] if freq else []
    group = keys + ["channel"] + (["campaign"] if level == "campaign" else [])
    gcols = [("date_bucket" if k == "date" else k) for k in group]
    volume = (ads.groupby(gcols)[_VOLUME].sum(min_count=1)
              .join(ads.groupby(gcols)["date"].nunique().rename("days"))
              .reset_index().rename(columns={"date_bucket": "date"}))
    channels = set(_text(ad_spend["channel"]).dropna())
    store = _store_side(orders, keys, freq, period, statuses)
    store = store[store["channel"].isin(channels)]
    return _assemble(volume, store, keys=keys, group=group, level=level,
                     bucket_days=_bucket_days(ad_spend, period, freq), alpha=alpha)


def _assemble(volume: pd.DataFrame, store: pd.DataFrame, *, keys: list[str], group: list[str], level: str,
              bucket_days, alpha: float) -> pd.DataFrame:
    """:func:`performance` from the ad_spend sums per group (``volume``) and the store side per [date,] channel."""
    if level == "channel":
        out = volume.merge(store, on=keys + ["channel"], how="outer")
        share = pd.Series(1.0, index=out.index)
    else:
        ckeys = keys + ["channel"]
        g = volume.groupby(ckeys)
        plat = volume["platform_revenue"].fillna(0.0)
        chan_plat = plat.groupby([volume[k] for k in ckeys]).transform("sum")
        chan_spend = g["spend"].transform("sum")
        n_camp = g["spend"].transform("size")
        share = pd.Series(np.where(chan_plat > 0, plat / chan_plat.where(chan_plat > 0, 1),
                                   np.where(chan_spend > 0, volume["spend"] / chan_spend.where(chan_spend > 0, 1),
                                            1.0 / n_camp)), index=volume.index)
        out = volume.merge(store, on=ckeys, how="left")
    fill = {"store_orders": 0.0, "store_revenue": 0.0, "new_customers": 0.0, "one_cv2": 1.0}
    out = out.fillna(fill)
    for col in ("store_orders", "store_revenue", "new_customers"):
        out[col] = out[col].astype(float) * share.to_numpy()
    out["days"] = out["days"].fillna(0).astype(int)
    out = out.merge(bucket_days, on=keys, how="left") if keys else out.assign(bucket_days=bucket_days)
    out["missing_days"] = (out["bucket_days"] - out["days"]).clip(lower=0).astype(int)
    out = _add_ratios(out, alpha)
    cols = (group + ["days", "missing_days"] + _VOLUME
            + ["ctr", "cpc", "cpm", "cvr", "cpa", "platform_roas", "platform_roas_low", "platform_roas_high",
               "store_orders", "store_revenue", "new_customers", "store_roas", "store_roas_low",
               "store_roas_high", "platform_vs_store", "cac"])
    return out[cols].sort_values(group, kind="stable").reset_index(drop=True)


_SQL_BUCKETS = {"D": "date_trunc('day', {})", "W": "date_trunc('week', {})"}


def performance_on(engine, *, period: Period, level: str = "channel", freq: str | None = None, alpha: float = 0.05,
                   statuses: Sequence[str] = COUNTED_STATUSES, exclude: Sequence[str] = ()) -> pd.DataFrame:
    """:func:`performance` run on a query engine over the source's ``ad_spend`` and ``orders`` tables.

    The same table as ``performance(ad, orders, period=period, level=level, freq=freq)`` with ``ad`` the cleaned
    ad_spend :func:`compute` uses (rows with a non-finite amount or no spend dropped, channels in ``exclude``
    left out) and ``orders`` with text channels, from ``ecomlib/sql/roas_daily.sql``: ad rows and orders never
    come into pandas, only the sums per [day/week,] channel [, campaign], from which the ratios, intervals and the
    campaign allocation are computed as in :func:`performance`. Money in the store currency, ROAS as a multiple.
    Keys are trimmed of spaces (pandas strips every whitespace character); a customer's two counted orders at the
    same instant make the smaller ``order_id`` the first order (pandas: the earlier row).

    Parameters
    ----------
    engine : an :class:`ecomlib.engine.Engine` whose source holds ``ad_spend`` and ``orders``.
    period : days to include (required: the engine does not read the whole table to find them).
    level, freq, alpha, statuses : as in :func:`performance` (``freq`` None, ``"D"`` or ``"W"``).
    exclude : ad channels left out (as :func:`compute` leaves unmatched channels out of the response curves).

    Example
    -------
    >>> eng = ecomlib.engine.connect("duckdb", "data/demo")                                  # doctest: +SKIP
    >>> performance_on(eng, period=parse_period("2026-W47"), freq="D")[["date", "channel", "store_roas"]]  # doctest: +SKIP
    """
    _check_choice("level", level, LEVELS)
    _check_choice("freq", freq, FREQS)
    keys = ["date"] if freq else []
    group = keys + ["channel"] + (["campaign"] if level == "campaign" else [])
    table = engine.reduce("roas_daily", volume=_VOLUME, statuses=list(statuses), start=period.start, stop=period.end,
                          bucket=_SQL_BUCKETS.get(freq), campaign=level == "campaign", exclude=list(exclude),
                          scans={"ad_spend": None, "orders": None})  # whole tables: channels, first orders
    table = table.rename(columns={"bucket": "date"})
    if freq:
        table["date"] = pd.to_datetime(table["date"]).astype("datetime64[ns]")
    for key in ("channel", "campaign"):
        table[key] = _text(table[key]).to_numpy()
    ads, store = table[table["part"] == "ads"], table[table["part"] == "store"]
    volume = ads[group + _VOLUME + ["days"]].sort_values(group, kind="stable").reset_index(drop=True)
    volume = volume.astype({c: ("int64" if c in ("impressions", "clicks") and volume[c].notna().all() else "float64")
                            for c in _VOLUME} | {"days": "int64"})
    store = (store[keys + ["channel", "store_orders", "store_revenue", "rev_sq", "new_customers"]]
             .astype({"store_orders": "int64", "store_revenue": "float64", "rev_sq": "float64",
                      "new_customers": "int64"})
             .sort_values(keys + ["channel"], kind="stable").reset_index(drop=True))
    return _assemble(volume, _store_errors(store), keys=keys, group=group, level=level,
                     bucket_days=_bucket_days(None, period, freq), alpha=alpha)


def _bucket_days(ad_spend: pd.DataFrame, period: Period | None, freq: str | None):
    """Calendar days per bucket (a scalar without ``freq``)."""
    if period is not None:
        days = pd.Series(pd.date_range(period.start, period.last_day, freq="D"))
    else:
        days = pd.Series(pd.date_range(ad_spend["date"].min().normalize(), ad_spend["date"].max().normalize()))
    if not freq:
        return len(days)
    return _bucket(days, freq).value_counts().rename_axis("date").rename("bucket_days").reset_index()


def _add_ratios(df: pd.DataFrame, alpha: float) -> pd.DataFrame:
    z = sps.norm.ppf(1 - alpha / 2)
    out = df.assign(
        ctr=_div(df["clicks"], df["impressions"]),
        cpc=_div(df["spend"], df["clicks"]),
        cpm=1000 * _div(df["spend"], df["impressions"]),
        cvr=_div(df["platform_conversions"], df["clicks"]),
        cpa=_div(df["spend"], df["platform_conversions"]),
        platform_roas=_div(df["platform_revenue"], df["spend"]),
        store_roas=_div(df["store_revenue"], df["spend"]),
        platform_vs_store=_div(df["platform_revenue"], df["store_revenue"]),
        cac=_div(df["spend"], df["new_customers"]),
    )
    rel_store = df["rel_se"]  # the channel's relative error; an allocation share cancels out of it
    rel_platform = np.sqrt(df["one_cv2"] / df["platform_conversions"].where(df["platform_conversions"] > 0))
    for name, rel in (("store_roas", rel_store), ("platform_roas", rel_platform)):
        out[f"{name}_low"] = out[name] * np.exp(-z * rel)
        out[f"{name}_high"] = out[name] * np.exp(z * rel)
    return out


# Profit view -------------------------------------------------------------------------------------------
def channel_margins(orders: pd.DataFrame, order_items: pd.DataFrame, products: pd.DataFrame, *,
                    period: Period | None = None, statuses: Sequence[str] = COUNTED_STATUSES) -> pd.DataFrame:
    """Gross margin rate and break-even ROAS per order channel, from order lines and unit costs.

    Parameters
    ----------
    orders, order_items, products : contract tables (``products.unit_cost`` is the landed cost per unit).
    period : orders placed in these days; None = all. A longer window than one week gives steadier rates.
    statuses : order statuses that count.

    Returns
    -------
    DataFrame, one row per channel: ``line_revenue`` (Σ quantity × unit_price), ``cost`` (Σ quantity ×
    unit_cost), ``margin_rate`` = (line_revenue − cost) / line_revenue (fraction; NaN without revenue),
    ``break_even_roas`` = 1 / margin_rate (NaN when the margin is not positive: no ROAS breaks even), and
    ``lines_without_cost`` (lines whose SKU has no unit cost, left out).

    Example
    -------
    >>> orders = pd.DataFrame({"order_id": ["o1"], "customer_id": ["c1"], "channel": ["display"],
    ...                        "status": ["completed"], "revenue": [100.0],
    ...                        "order_time": pd.to_datetime(["2026-01-05"])})
    >>> items = pd.DataFrame({"order_id": ["o1"], "sku": ["A"], "quantity": [2], "unit_price": [50.0]})
    >>> products = pd.DataFrame({"sku": ["A"], "unit_cost": [20.0]})
    >>> channel_margins(orders, items, products)[["channel", "margin_rate", "break_even_roas"]]
       channel  margin_rate  break_even_roas
    0  display          0.6         1.666667
    """
    o = counted_orders(orders, statuses=statuses)
    if period is not None:
        o = o[period.contains(o["order_time"])]
    lines = (order_items[["order_id", "sku", "quantity", "unit_price"]]
             .merge(o[["order_id", "channel"]], on="order_id")
             .merge(products[["sku", "unit_cost"]], on="sku", how="left"))
    no_cost = lines["unit_cost"].isna()
    lines = lines.assign(line_revenue=(lines["quantity"] * lines["unit_price"]).where(~no_cost, 0.0),
                         cost=(lines["quantity"] * lines["unit_cost"]).where(~no_cost, 0.0),
                         lines_without_cost=no_cost.astype(int))
    out = (lines.groupby("channel", observed=True)[["line_revenue", "cost", "lines_without_cost"]].sum()
           .reset_index().astype({"channel": str}))
    rate = _div(out["line_revenue"] - out["cost"], out["line_revenue"])
    return out.assign(margin_rate=rate, break_even_roas=_div(pd.Series(1.0, index=out.index), rate))[
        ["channel", "line_revenue", "cost", "margin_rate", "break_even_roas", "lines_without_cost"]]


def profit_view(perf: pd.DataFrame, margins: pd.DataFrame, *, attribution: str = "store",
                target_roas: float | None = None, unmatched: Sequence[str] = (), alpha: float = 0.05) -> pd.DataFrame:
    """Add margin, break-even, contribution, the below-break-even test and flags to a :func:`performance` table.

    Parameters
    ----------
    perf : output of :func:`performance` (any level and freq).
    margins : output of :func:`channel_margins` (or :func:`flat_margins`).
    attribution : ``"store"`` (the store's own orders) or ``"platform"`` (what the platforms claim): which
        revenue the ROAS, contribution and flags use.
    target_roas : the ROAS the business aims for (×); None = no target flag.
    unmatched : ``ad_spend`` channels that match no ``orders.channel`` (:func:`channel_matching`): their store
        revenue is unknown, so their store ROAS (and, with store attribution, contribution and flags) is NaN and
        flagged ``"unmatched"`` — never 0.00× and never "below break-even".
    alpha : level of the one-sided below-break-even test.

    Returns
    -------
    The ``perf`` rows with ``margin_rate``, ``break_even_roas`` (a channel without order lines of its own
    gets the store-wide margin of ``margins``), ``revenue`` / ``roas`` / ``roas_low`` /
    ``roas_high`` (of the chosen attribution), ``contribution`` = revenue × margin_rate − spend (money),
    ``profit_roas`` = roas × margin_rate (gross profit per unit of spend; 1 = break-even),
    ``below_break_even`` (roas < break-even, or any spend at a non-positive margin), ``surely_below``
    (even the interval's upper end is below break-even), ``p_below`` (one-sided p-value of "ROAS ≥ break-even",
    log scale; NaN without an interval), ``below_target`` (roas < target_roas, among those at or above
    break-even), ``spend_below_break_even`` (the spend of rows below break-even, else 0), ``shortfall`` (what
    a row below break-even lost: −contribution, else 0; both NaN for unmatched rows) and ``flag`` (``"below_break_even"``,
    ``"below_target"``, ``"ok"``, ``"unmatched"`` or ``"no_spend"``).

    Example
    -------
    >>> perf = pd.DataFrame({"channel": ["display"], "spend": [100.0], "store_revenue": [150.0],
    ...                      "store_roas": [1.5], "store_roas_low": [1.0], "store_roas_high": [2.2]})
    >>> margins = pd.DataFrame({"channel": ["display"], "margin_rate": [0.5], "break_even_roas": [2.0]})
    >>> profit_view(perf, margins)[["contribution", "flag", "spend_below_break_even", "shortfall"]]
       contribution              flag  spend_below_break_even  shortfall
    0         -25.0  below_break_even                   100.0       25.0
    """
    _check_choice("attribution", attribution, ATTRIBUTIONS)
    if target_roas is not None and not (isinstance(target_roas, Real) and np.isfinite(target_roas)
                                        and target_roas > 0):
        raise ParameterError(f"target_roas must be a positive number (a multiple such as 3.0), not {target_roas!r}",
                             name="target_roas")
    perf = perf.assign(channel=_text(perf["channel"]).to_numpy())
    margins = margins.assign(channel=_text(margins["channel"]).to_numpy())
    out = perf.drop(columns=[c for c in ("margin_rate", "break_even_roas") if c in perf]).merge(
        margins[["channel", "margin_rate", "break_even_roas"]], on="channel", how="left")
    if "line_revenue" in margins and out["margin_rate"].isna().any():  # a channel without order lines:
        overall = _div(pd.Series([(margins["line_revenue"] - margins["cost"]).sum()]),  # the store-wide margin
                       pd.Series([margins["line_revenue"].sum()])).iloc[0]
        missing = out["margin_rate"].isna()
        out.loc[missing, "margin_rate"] = overall
        out.loc[missing, "break_even_roas"] = 1 / overall if overall > 0 else np.nan
    unknown = out["channel"].isin(list(unmatched))
    store_cols = [c for c in ("store_revenue", "store_roas", "store_roas_low", "store_roas_high", "platform_vs_store",
                              "store_orders", "new_customers", "cac") if c in out]
    out.loc[unknown, store_cols] = np.nan
    spend = out["spend"]
    revenue = out[f"{attribution}_revenue"]
    roas = out[f"{attribution}_roas"]
    out = out.assign(revenue=revenue, roas=roas, roas_low=out[f"{attribution}_roas_low"],
                     roas_high=out[f"{attribution}_roas_high"],
                     contribution=revenue * out["margin_rate"] - spend, profit_roas=roas * out["margin_rate"])
    known = out["roas"].notna() | ~unknown
    no_margin = (out["margin_rate"] <= 0) & (spend > 0) & known
    below = ((roas < out["break_even_roas"]) | no_margin).fillna(False).astype(bool)
    surely = ((out["roas_high"] < out["break_even_roas"]) | no_margin).fillna(False).astype(bool)
    # One-sided test of "ROAS ≥ break-even" on the log scale: z = log(roas / be) / rel_se, with rel_se from the
    # 95 % interval (its half-width on the log scale is z95 × rel_se).
    z95 = sps.norm.ppf(1 - 0.05 / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.log(out["roas_high"].where(out["roas_high"] > 0) / out["roas"].where(out["roas"] > 0)) / z95
        z = np.log(out["roas"].where(out["roas"] > 0) / out["break_even_roas"].where(out["break_even_roas"] > 0)) \
            / rel.where(rel > 0)
    p_below = pd.Series(sps.norm.cdf(z), index=out.index).where(z.notna())
    p_below = p_below.where(~(below & (out["roas"] == 0) & (spend > 0)), 0.0)  # no revenue at all on spend
    target = (~below & (roas < target_roas)).fillna(False).astype(bool) if target_roas is not None else \
        pd.Series(False, index=out.index)
    flag = np.select([~(spend > 0), roas.isna() & unknown, below, target],
                     ["no_spend", "unmatched", "below_break_even", "below_target"], "ok")
    unknown_return = flag == "unmatched"  # neither a loss nor "none": unknown, shown as –
    return out.assign(below_break_even=below, surely_below=surely, p_below=p_below, below_target=target,
                      spend_below_break_even=spend.where(below, 0.0).fillna(0.0).mask(unknown_return),
                      shortfall=(-out["contribution"]).clip(lower=0).where(below, 0.0).fillna(0.0).mask(unknown_return),
                      flag=flag)


def flat_margins(channels: Sequence[str], *, cost_ratio: float) -> pd.DataFrame:
    """Margins for stores without order lines or unit costs: every channel at ``1 − cost_ratio``.

    cost_ratio : cost of goods as a fraction of revenue (0.55 → gross margin 45 %, break-even ROAS 2.22×).
    Returns the :func:`channel_margins` columns ``channel, margin_rate, break_even_roas``.

    Example
    -------
    >>> flat_margins(["display"], cost_ratio=0.5)["break_even_roas"].item()
    2.0
    """
    if isinstance(cost_ratio, bool) or not (isinstance(cost_ratio, Real) and 0 <= cost_ratio < 1):
        raise ParameterError(f"cost_ratio must be a number from 0 to below 1 (cost of goods ÷ revenue, e.g. 0.55), "
                             f"not {cost_ratio!r}", name="cost_ratio")
    margin = 1.0 - float(cost_ratio)
    return pd.DataFrame({"channel": pd.Series(list(channels), dtype=object), "margin_rate": margin,
                         "break_even_roas": 1.0 / margin})


def weeks_below(weekly: pd.DataFrame) -> pd.DataFrame:
    """How many weeks each channel's ROAS was below break-even, from a weekly :func:`profit_view` table.

    Returns one row per channel: ``weeks`` (weeks with spend), ``weeks_below``, ``share_below`` (fraction).

    Example
    -------
    >>> weekly = pd.DataFrame({"channel": ["display"] * 3, "spend": [5.0, 5.0, 0.0],
    ...                        "below_break_even": [True, False, False]})
    >>> weeks_below(weekly)[["weeks", "weeks_below", "share_below"]].to_dict("records")
    [{'weeks': 2, 'weeks_below': 1, 'share_below': 0.5}]
    """
    w = weekly[weekly["spend"] > 0]
    out = w.groupby("channel").agg(weeks=("below_break_even", "size"), weeks_below=("below_break_even", "sum"))
    return out.assign(share_below=_div(out["weeks_below"], out["weeks"])).reset_index()


def blended(ad_spend: pd.DataFrame, orders: pd.DataFrame, *, period: Period | None = None,
            statuses: Sequence[str] = COUNTED_STATUSES, unmatched: Sequence[str] = ()) -> dict[str, float]:
    """Blended figures of a period: MER and new-customer CAC over all channels.

    Returns a dict: ``spend`` (all ad spend), ``revenue`` (all counted store revenue, every channel),
    ``mer`` = revenue / spend (marketing efficiency ratio, ×), ``paid_revenue`` (store revenue of the
    channels in ad_spend), ``matched_spend`` (spend of the ad_spend channels that match an order channel: all of
    it unless ``unmatched`` names some), ``store_roas`` = paid_revenue / matched_spend, ``new_customers``
    (customers whose first counted order falls in the period), ``new_customer_cac`` = spend / new_customers
    (money). NaN where a denominator is 0 — or where a ratio would not be finite (never ``inf``).

    Example
    -------
    >>> ads = pd.DataFrame({"date": pd.to_datetime(["2026-01-05"]), "channel": ["display"], "spend": [100.0]})
    >>> orders = pd.DataFrame({"order_id": ["o1", "o2"], "customer_id": ["c1", "c2"],
    ...                        "order_time": pd.to_datetime(["2026-01-05", "2026-01-05"]),
    ...                        "channel": ["display", "email"], "status": ["completed"] * 2, "revenue": [150.0, 250.0]})
    >>> {k: float(v) for k, v in blended(ads, orders).items()}["mer"]
    4.0
    """
    ads = ad_spend if period is None else ad_spend[period.contains(ad_spend["date"])]
    o = counted_orders(orders, statuses=statuses)
    if period is not None:
        o = o[period.contains(o["order_time"])]
    spend = float(ads["spend"].sum())
    matched = float(ads.loc[~_text(ads["channel"]).isin(list(unmatched)).to_numpy(), "spend"].sum())
    revenue = float(o["revenue"].sum())
    paid = float(o.loc[o["channel"].isin(list(set(_text(ad_spend["channel"]).dropna()))), "revenue"].sum())
    new = float(o["first_order"].sum())
    return {"spend": spend, "revenue": revenue, "mer": _ratio(revenue, spend), "paid_revenue": paid,
            "matched_spend": matched, "store_roas": _ratio(paid, matched), "new_customers": new,
            "new_customer_cac": _ratio(spend, new)}


def _ratio(a: float, b: float) -> float:
    """``a / b`` as a plain float, NaN unless both are finite and ``b`` > 0 (no ``inf``, no MER ∞×)."""
    if not (np.isfinite(a) and np.isfinite(b)) or b <= 0:
        return float("nan")
    return float(a / b)


def budget_rows(budgets: pd.DataFrame | None, *, month: pd.Period) -> pd.DataFrame:
    """The budgets of one month from a ``budgets`` table (channel, period ``YYYY-MM``, amount): ``channel, budget``.

    Rows of other months are left out; several rows for one channel and month are added up; rows whose period
    or amount cannot be read are left out (the contract loader reports them). Returns an empty frame for no table.

    Example
    -------
    >>> b = pd.DataFrame({"channel": ["video", "video"], "period": ["2026-11", "2026-12"], "amount": [100.0, 200.0]})
    >>> budget_rows(b, month=pd.Period("2026-11", "M")).to_dict("records")
    [{'channel': 'video', 'budget': 100.0}]
    """
    if budgets is None or not len(budgets):
        return pd.DataFrame({"channel": pd.Series(dtype=object), "budget": pd.Series(dtype=float)})
    months = pd.to_datetime(budgets["period"].astype(str).str.strip(), format="%Y-%m", errors="coerce")
    amount = pd.to_numeric(budgets["amount"], errors="coerce")
    keep = (months.dt.to_period("M") == month) & amount.notna() & np.isfinite(amount.fillna(0)) & (amount >= 0)
    rows = pd.DataFrame({"channel": _text(budgets["channel"]).to_numpy(), "budget": amount.astype(float)})[keep.to_numpy()]
    return rows.groupby("channel", sort=True, as_index=False)["budget"].sum()


def pacing(ad_spend: pd.DataFrame, budgets: Mapping[str, float] | pd.DataFrame, *, period: Period,
           as_of: pd.Timestamp | str | None = None, tolerance: float = 0.1) -> pd.DataFrame:
    """Spend to date against each channel's budget for the period, with a straight-line projection to its end.

    Parameters
    ----------
    ad_spend : contract ``ad_spend`` table.
    budgets : ``channel, budget`` rows (e.g. :func:`budget_rows`) or a mapping channel → budget, each for the
        whole ``period`` (store currency). May be empty. A budgeted channel without spend rows has spent 0.
    period : the budget period (a month for the ``budgets`` table).
    as_of : last day of data to count (inclusive); None = the last ``ad_spend`` day, at most the period's
        last day.
    tolerance : projected spend within ± this fraction of budget counts as on track.

    Returns
    -------
    DataFrame, one row per budgeted channel: ``budget``, ``spend_to_date``, ``days_elapsed``, ``days_total``,
    ``projected_spend`` = spend_to_date / days_elapsed × days_total (= what was spent once the period has
    ended), ``projected_vs_budget`` (fraction), ``finished`` (the data cover the whole period: the spend is
    final, "spent", not "on course to spend"), ``pace_status`` (``"over"``, ``"under"``, ``"on_track"``, or
    ``"on_budget"`` for a finished period within tolerance). A day without an ad_spend row counts as no spend.

    Example
    -------
    >>> from ecomlib.periods import parse_period
    >>> ads = pd.DataFrame({"date": pd.date_range("2026-11-16", periods=3), "channel": "display",
    ...                     "spend": [100.0, 120.0, 80.0]})
    >>> pacing(ads, {"display": 700.0}, period=parse_period("2026-W47"))[["projected_spend", "pace_status"]]
       projected_spend pace_status
    0            700.0    on_track
    """
    if isinstance(budgets, pd.DataFrame):
        budget = budgets[["channel", "budget"]].assign(channel=lambda d: _text(d["channel"]).to_numpy())
    else:
        bad = {k: v for k, v in dict(budgets).items()
               if isinstance(v, bool) or not (isinstance(v, Real) and np.isfinite(v) and v >= 0)}
        if bad:
            raise ParameterError(f"budgets must be amounts ≥ 0 in the store currency; not {bad}", name="budgets")
        budget = pd.DataFrame({"channel": pd.Series([str(k) for k in budgets], dtype=object),
                               "budget": pd.Series([float(v) for v in budgets.values()], dtype=float)})
    cols = ["channel", "budget", "spend_to_date", "days_elapsed", "days_total", "projected_spend",
            "projected_vs_budget", "finished", "pace_status"]
    if not len(budget):
        return pd.DataFrame(columns=cols)
    inside = ad_spend[period.contains(ad_spend["date"])]
    if as_of is None:
        as_of = ad_spend["date"].max() if len(ad_spend) else period.start - pd.Timedelta(days=1)
    as_of = min(pd.Timestamp(as_of).normalize(), period.last_day)
    elapsed = max((as_of - period.start).days + 1, 0)
    to_date = (inside[inside["date"].dt.normalize() <= as_of].assign(channel=lambda d: _text(d["channel"]).to_numpy())
               .groupby("channel")["spend"].sum())
    out = budget.reset_index(drop=True)
    out["spend_to_date"] = out["channel"].map(to_date).astype(float).fillna(0.0)
    out["days_elapsed"] = elapsed
    out["days_total"] = period.days
    out["projected_spend"] = (out["spend_to_date"] / elapsed * period.days) if elapsed else np.nan
    out["projected_vs_budget"] = _div(out["projected_spend"], out["budget"])
    out["finished"] = elapsed >= period.days
    ratio = out["projected_vs_budget"]
    out["pace_status"] = np.select([ratio > 1 + tolerance, ratio < 1 - tolerance], ["over", "under"], "on_track")
    out.loc[ratio.isna(), "pace_status"] = np.where(out.loc[ratio.isna(), "spend_to_date"] > 0, "over", "on_track")
    out.loc[out["finished"] & (out["pace_status"] == "on_track"), "pace_status"] = "on_budget"
    return out[cols]


# Diminishing returns --------------------------------------------------------------------------------------
def hill(spend, vmax: float, k: float, h: float = 1.0):
    """The Hill response ``vmax · s^h / (k^h + s^h)``: revenue per day at daily spend ``s`` (0 at s = 0).

    Example
    -------
    >>> float(hill(200.0, 1000.0, 200.0))   # half of vmax at s = k
    500.0
    """
    s = np.clip(np.asarray(spend, dtype=float), 0, None)
    sh = np.power(s, h)
    return vmax * sh / (np.power(k, h) + sh)


def hill_marginal(spend, vmax: float, k: float, h: float = 1.0):
    """Derivative of :func:`hill` in spend: revenue from one more unit of spend (marginal ROAS, ×).

    Example
    -------
    >>> float(hill_marginal(200.0, 1000.0, 200.0))   # vmax · k / (k + s)² = 1000 · 200 / 400²
    1.25
    """
    s = np.clip(np.asarray(spend, dtype=float), 1e-12, None)
    kh = np.power(k, h)
    return vmax * h * kh * np.power(s, h - 1) / (kh + np.power(s, h)) ** 2


def _profile_fit(x: np.ndarray, y: np.ndarray, weights: np.ndarray, h: float, k_lo: float, k_hi: float,
                 n_grid: int = 400) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares ``vmax, k`` of ``vmax · x^h / (k^h + x^h)`` for every row of ``weights`` at once (h fixed).

    ``weights`` (B × n) are bootstrap counts of the n days. Given k, the best vmax is linear
    (Σ w·y·g / Σ w·g²), so the sum of squares is profiled over a log grid of k and refined by a parabola
    through the three grid points around the minimum. Returns vmax (B), k (B) and whether k hit ``k_hi``.
    """
    logk = np.linspace(np.log(k_lo), np.log(k_hi), n_grid)
    step = logk[1] - logk[0]
    xh = np.power(x, h)
    g = xh[:, None] / (np.exp(h * logk)[None, :] + xh[:, None])  # n × grid
    syg = weights @ (y[:, None] * g)
    sgg = weights @ (g * g)
    sse = (weights @ (y * y))[:, None] - syg ** 2 / np.where(sgg > 0, sgg, np.inf)
    i = sse.argmin(axis=1)
    rows = np.arange(len(i))
    j = np.clip(i, 1, n_grid - 2)
    a, b, c = sse[rows, j - 1], sse[rows, j], sse[rows, j + 1]
    curv = a - 2 * b + c
    inner = (i > 0) & (i < n_grid - 1) & (curv > 0)
    offset = np.where(inner, 0.5 * (a - c) / np.where(curv > 0, curv, 1.0), 0.0)
    k = np.exp(logk[i] + np.clip(offset, -1, 1) * step)
    gk = xh[None, :] / (np.power(k, h)[:, None] + xh[None, :])  # B × n
    vmax = (weights * y * gk).sum(axis=1) / (weights * gk * gk).sum(axis=1)
    return vmax, k, i == n_grid - 1


class HillResponse:
    """Saturating spend→revenue curve of one channel, ``revenue = vmax · s^h / (k^h + s^h)``, from daily data.

    ``vmax`` is the revenue per day the channel approaches at unlimited spend, ``k`` the daily spend that
    reaches half of it, ``h`` the shape (1 = Michaelis–Menten, every extra unit of spend earns less than the
    one before; > 1 = S-shaped). Fitted by least squares (:func:`scipy.optimize.curve_fit`, trust-region with
    bounds) on spend and revenue rescaled by their median and mean; the uncertainty comes from ``n_boot``
    bootstrap resamples of the days. With ``h`` fixed the resamples are fitted all at once (vmax is linear
    given k, and k is profiled on a grid), so 200 resamples take milliseconds.

    Parameters
    ----------
    h : fixed shape, or None to estimate it. With the spend range a budget usually covers, the shape is
        poorly identified (``k`` and ``h`` trade off), so the default fixes h = 1; estimate it only when
        spend varied several-fold. Estimating ``h`` makes each fit ~10× slower.
    min_days : refuse to fit with fewer days of data.
    min_cv : refuse to fit when daily spend varies less than this (coefficient of variation): with flat
        spend the data cannot show how revenue responds to it.
    n_boot : bootstrap resamples for the bands (0 = none).
    alpha : the bands cover 1 − alpha (default 90 %).
    seed : random seed of the bootstrap.
    channel : name used in error messages.

    Attributes (after ``fit``)
    --------------------------
    params_ : dict ``vmax`` (money/day), ``k`` (money/day), ``h``.
    boot_ : array (n_ok, 3) of bootstrap ``vmax, k, h``.
    n_days_, spend_cv_, spend_min_, spend_max_ : the data the fit saw.
    saturation_seen_ : False when ``k`` ran to its upper bound (50 × the largest spend): the data look
        linear, returns do not visibly diminish within the spend seen.

    References
    ----------
    Jin, Wang, Sun, Chan & Koehler (2017), *Bayesian Methods for Media Mix Modeling with Carryover and Shape
    Effects*, Google — the Hill shape of media response.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> s = rng.uniform(200, 3000, 120)
    >>> y = hill(s, 5000, 1000) * rng.lognormal(0, 0.05, 120)
    >>> m = HillResponse(n_boot=0).fit(s, y)
    >>> round(m.params_["vmax"] / 5000, 1), round(m.params_["k"] / 1000, 1)
    (1.0, 1.0)
    """

    def __init__(self, *, h: float | None = 1.0, min_days: int = 28, min_cv: float = 0.1, n_boot: int = 200,
                 alpha: float = 0.1, seed: int = 0, channel: str = "channel"):
        self.h, self.min_days, self.min_cv, self.n_boot = h, min_days, min_cv, n_boot
        self.alpha, self.seed, self.channel = alpha, seed, channel

    def __repr__(self) -> str:
        if not hasattr(self, "params_"):
            return f"HillResponse(channel={self.channel!r}, h={self.h}, unfitted)"
        p = self.params_
        return (f"HillResponse(channel={self.channel!r}, vmax={p['vmax']:.4g}, k={p['k']:.4g}, h={p['h']:.3g}, "
                f"n_days={self.n_days_}, n_boot={len(self.boot_)})")

    def _check(self) -> None:
        if not hasattr(self, "params_"):
            raise NotFittedError(f"the response curve for '{self.channel}' is not fitted: call fit(spend, revenue)")

    def _fit_once(self, s: np.ndarray, y: np.ndarray, p0, lower, upper) -> np.ndarray:
        if self.h is None:
            f = lambda x, v, k, h: hill(x, v, k, h)  # noqa: E731
        else:
            f = lambda x, v, k: hill(x, v, k, self.h)  # noqa: E731
        p, _ = optimize.curve_fit(f, s, y, p0=p0, bounds=(lower, upper), method="trf", maxfev=4000)
        return p

    def fit(self, spend, revenue) -> "HillResponse":
        """Fit the curve to daily ``spend`` and ``revenue`` (arrays of equal length, one value per day).

        Raises :class:`ResponseFitError` (``code`` says why) with too few days, no spend, too little spend
        variation, no revenue, or when the optimiser does not converge. Returns self.
        """
        s = np.asarray(spend, dtype=float)
        y = np.asarray(revenue, dtype=float)
        ok = np.isfinite(s) & np.isfinite(y)
        s, y = s[ok], y[ok]
        n = len(s)
        if n < self.min_days:
            raise ResponseFitError(self.channel, "too_few_days",
                                   f"only {n} days of data, fewer than min_days={self.min_days}; fit on a longer "
                                   f"window",
                                   {"n_days": n, "min_days": self.min_days})
        mean = s.mean()
        if mean <= 0:
            raise ResponseFitError(self.channel, "no_spend", "no spend in the fit window", {"n_days": n})
        cv = s.std(ddof=1) / mean
        if cv < self.min_cv:
            raise ResponseFitError(self.channel, "no_variation",
                                   f"daily spend hardly varied (coefficient of variation {cv:.3f} < min_cv="
                                   f"{self.min_cv}): the data cannot show how revenue responds to spend; vary the "
                                   f"budget for a few weeks first", {"cv": cv, "min_cv": self.min_cv})
        if y.sum() <= 0:
            raise ResponseFitError(self.channel, "no_revenue", "no revenue in the fit window", {"n_days": n})
        s_scale, y_scale = float(np.median(s[s > 0])), float(y.mean())
        xs, ys = s / s_scale, y / y_scale
        k_lo, k_hi = 1e-3, 50 * xs.max()
        lower = [1e-9, k_lo] + ([0.3] if self.h is None else [])
        upper = [1e5, k_hi] + ([5.0] if self.h is None else [])
        rng = np.random.default_rng(self.seed)
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=self.n_boot)  # bootstrap: days drawn with replacement
        if self.h is not None:
            v0, k0, _ = _profile_fit(xs, ys, np.ones((1, n)), self.h, k_lo, k_hi)
            p0 = [float(v0[0]), float(k0[0])]
        else:
            p0 = [2 * ys.max(), 1.0, 1.0]
        try:
            p = self._fit_once(xs, ys, p0, lower, upper)
        except (RuntimeError, ValueError) as exc:
            raise ResponseFitError(self.channel, "no_convergence", f"the least-squares fit did not converge ({exc})",
                                   {"n_days": n}) from None
        self.n_days_, self.spend_cv_ = n, float(cv)
        self.spend_min_, self.spend_max_ = float(s.min()), float(s.max())
        self.saturation_seen_ = bool(p[1] < 0.99 * k_hi)
        scale = np.array([y_scale, s_scale, 1.0])
        full = lambda q: np.r_[q, [self.h]] if self.h is not None else np.asarray(q)  # noqa: E731
        self.params_ = dict(zip(("vmax", "k", "h"), (full(p) * scale).tolist()))
        if self.h is not None:  # every resample at once: vmax is linear given k, k from a profiled grid
            v, k, _ = _profile_fit(xs, ys, counts, self.h, k_lo, k_hi)
            self.boot_ = np.column_stack([v * y_scale, k * s_scale, np.full(len(v), float(self.h))])
            return self
        draws = []
        for w in counts:  # shape estimated: one curve_fit per resample (slow; use a small n_boot)
            idx = np.repeat(np.arange(n), w)
            try:
                draws.append(full(self._fit_once(xs[idx], ys[idx], p, lower, upper)) * scale)
            except (RuntimeError, ValueError):
                continue  # a resample that does not converge is left out; len(boot_) says how many remain
        self.boot_ = np.array(draws).reshape(-1, 3)
        return self

    def predict(self, spend) -> np.ndarray:
        """Expected revenue per day at daily ``spend`` (money)."""
        self._check()
        return hill(spend, **self.params_)

    def marginal(self, spend) -> np.ndarray:
        """Marginal ROAS at daily ``spend``: extra revenue per extra unit of spend (×)."""
        self._check()
        return hill_marginal(spend, **self.params_)

    def band(self, spend, *, kind: str = "revenue") -> tuple[np.ndarray, np.ndarray]:
        """Bootstrap band (1 − alpha) of the revenue (``kind="revenue"``) or marginal ROAS (``"marginal"``)."""
        self._check()
        _check_choice("kind", kind, ("revenue", "marginal"))
        s = np.atleast_1d(np.asarray(spend, dtype=float))
        if len(self.boot_) < 2:
            nan = np.full(s.shape, np.nan)
            return nan, nan
        f = hill if kind == "revenue" else hill_marginal
        b = self.boot_
        values = f(s[None, :], b[:, [0]], b[:, [1]], b[:, [2]])
        return (np.quantile(values, self.alpha / 2, axis=0), np.quantile(values, 1 - self.alpha / 2, axis=0))


@dataclass(frozen=True)
class Reallocation:
    """A budget shift at the same total spend, from :meth:`ResponseCurves.reallocate`.

    table : one row per fitted channel — ``channel, current_spend, proposed_spend, change`` (money per day),
        ``current_revenue, proposed_revenue`` (expected, per day), ``marginal_roas`` (now) and
        ``proposed_marginal_roas`` (×); with ``objective="contribution"`` also ``break_even_roas``,
        ``margin_rate`` and ``profit_change`` (per day).
    gain, gain_low, gain_high : over ``days`` days, with its bootstrap band (money): the expected extra
        contribution (``objective="contribution"``) or extra revenue (``"revenue"``).
    total_spend : daily spend before the shift.
    held : channels left at their spend because they have no curve (or no break-even ROAS).
    objective : ``"contribution"`` (revenue × margin − spend, total spend may fall) or ``"revenue"`` (same total).
    spend_change, revenue_change : change of total spend and of expected revenue over ``days`` days.
    """

    table: pd.DataFrame
    gain: float
    gain_low: float
    gain_high: float
    total_spend: float
    days: int
    alpha: float
    held: tuple[str, ...] = field(default_factory=tuple)
    objective: str = "revenue"
    spend_change: float = 0.0
    revenue_change: float = 0.0


class ResponseCurves:
    """One :class:`HillResponse` per channel, with the summary, the plotted curves and a budget reallocation.

    Parameters are those of :class:`HillResponse`, applied to every channel.

    Attributes (after ``fit``)
    --------------------------
    models_ : channel → fitted :class:`HillResponse`.
    refused_ : channel → the :class:`ResponseFitError` saying why it was not fitted.

    Example
    -------
    >>> rng = np.random.default_rng(1)
    >>> s = rng.uniform(100, 400, 60)
    >>> daily = pd.DataFrame({"channel": "a", "spend": s, "revenue": hill(s, 1000, 200)})
    >>> curves = ResponseCurves(n_boot=0).fit(daily)
    >>> round(curves.models_["a"].params_["k"])
    200
    """

    def __init__(self, *, h: float | None = 1.0, min_days: int = 28, min_cv: float = 0.1, n_boot: int = 200,
                 alpha: float = 0.1, seed: int = 0):
        self.h, self.min_days, self.min_cv = h, min_days, min_cv
        self.n_boot, self.alpha, self.seed = n_boot, alpha, seed

    def __repr__(self) -> str:
        if not hasattr(self, "models_"):
            return f"ResponseCurves(h={self.h}, min_days={self.min_days}, unfitted)"
        return f"ResponseCurves(fitted={sorted(self.models_)}, refused={sorted(self.refused_)})"

    def _check(self) -> None:
        if not hasattr(self, "models_"):
            raise NotFittedError("the response curves are not fitted: call fit(daily)")

    def fit(self, daily: pd.DataFrame, *, spend: str = "spend", revenue: str = "revenue") -> "ResponseCurves":
        """Fit each channel of ``daily`` (columns ``channel``, ``spend``, ``revenue``: one row per channel and day).

        A channel that cannot be fitted is kept in ``refused_`` with its reason, never dropped silently.
        """
        self.models_, self.refused_ = {}, {}
        for channel, g in daily.groupby("channel", sort=True):  # a handful of channels
            model = HillResponse(h=self.h, min_days=self.min_days, min_cv=self.min_cv, n_boot=self.n_boot,
                                 alpha=self.alpha, seed=self.seed, channel=str(channel))
            try:
                self.models_[str(channel)] = model.fit(g[spend], g[revenue])
            except ResponseFitError as exc:
                self.refused_[str(channel)] = exc
        return self

    def summary(self, current_spend: Mapping[str, float]) -> pd.DataFrame:
        """One row per channel: fit status, parameters and the marginal ROAS at ``current_spend`` (per day).

        Returns ``channel, status`` (``"fitted"``/``"refused"``), ``reason`` (a :data:`FIT_CODES` code or
        empty), ``n_days, min_days, spend_cv, min_cv, vmax, k, h, saturation_seen, current_spend,
        expected_revenue`` (per day),
        ``marginal_roas, marginal_low, marginal_high`` (×, band 1 − alpha).
        """
        self._check()
        current = pd.Series(current_spend, dtype=float)
        rows = []
        for ch, m in self.models_.items():
            s = float(current.get(ch, np.nan))
            lo, hi = m.band([s], kind="marginal")
            rows.append({"channel": ch, "status": "fitted", "reason": "", "n_days": m.n_days_,
                         "min_days": self.min_days, "min_cv": self.min_cv,
                         "spend_cv": m.spend_cv_, **m.params_, "saturation_seen": m.saturation_seen_,
                         "current_spend": s, "expected_revenue": float(m.predict(s)),
                         "marginal_roas": float(m.marginal(s)), "marginal_low": float(lo[0]),
                         "marginal_high": float(hi[0])})
        for ch, err in self.refused_.items():
            rows.append({"channel": ch, "status": "refused", "reason": err.code,
                         "min_days": self.min_days, "min_cv": self.min_cv,
                         "n_days": err.details.get("n_days", np.nan), "spend_cv": err.details.get("cv", np.nan),
                         "current_spend": float(current.get(ch, np.nan))})
        cols = ["channel", "status", "reason", "n_days", "min_days", "spend_cv", "min_cv", "vmax", "k", "h",
                "saturation_seen",
                "current_spend", "expected_revenue", "marginal_roas", "marginal_low", "marginal_high"]
        return pd.DataFrame(rows).reindex(columns=cols).sort_values("channel").reset_index(drop=True)

    def curve_frame(self, *, points: int = 60, upto: float = 1.2) -> pd.DataFrame:
        """Points of each fitted curve for plotting: ``channel, spend, revenue, low, high`` (per day), from 0 to
        ``upto`` × the largest daily spend seen."""
        self._check()
        frames = []
        for ch, m in self.models_.items():
            s = np.linspace(0, upto * m.spend_max_, points)
            lo, hi = m.band(s)
            frames.append(pd.DataFrame({"channel": ch, "spend": s, "revenue": m.predict(s), "low": lo, "high": hi}))
        return pd.concat(frames, ignore_index=True) if frames else \
            pd.DataFrame(columns=["channel", "spend", "revenue", "low", "high"])

    def reallocate(self, current_spend: Mapping[str, float], *, days: int = 1, max_change: float = 0.5,
                   break_even: Mapping[str, float] | None = None) -> Reallocation:
        """The budget shift the curves recommend: most contribution (with ``break_even``) or most revenue.

        With ``break_even`` (channel → break-even ROAS, i.e. 1 / gross margin) the shift maximises contribution
        Σ (f_c(s_c) / be_c − s_c) with total daily spend at most today's: money moves only to where it earns
        more than break-even, and spend that earns less anywhere is saved. No channel gains spend unless its
        marginal ROAS after the shift is still at or above its break-even ROAS (checked after the optimiser,
        and cut back to that point if not). Without ``break_even`` the same total is shared to maximise revenue
        Σ f_c(s_c) (SLSQP; at the optimum the marginal ROAS is equal across channels not at a bound) — shown
        for comparison only: it ignores margin and can move money into a channel that loses it.

        Each channel moves at most ``max_change`` (fraction) from its current daily spend and stays within the
        daily spend seen in the fit data (the curve is not trusted beyond it). Channels without a curve (or
        without a break-even ROAS) keep their spend. The gain is per ``days`` days, with the bootstrap band of
        the same shift. Observational: see the module notes.
        """
        self._check()
        current = pd.Series(current_spend, dtype=float).fillna(0.0)
        current.index = [str(c) for c in current.index]
        be = pd.Series(break_even if break_even is not None else {}, dtype=float)
        be.index = [str(c) for c in be.index]
        profit = break_even is not None
        ok = lambda c: c in self.models_ and (not profit or (c in be.index and np.isfinite(be[c])  # noqa: E731
                                                             and be[c] > 0))
        chans = [c for c in sorted(self.models_) if c in current.index and ok(c)]
        held = tuple(c for c in current.index if not ok(c))
        models = [self.models_[c] for c in chans]
        cur = current.loc[chans].to_numpy()
        margin = (1.0 / be.reindex(chans).to_numpy()) if profit else np.ones(len(chans))
        lo = np.minimum(np.maximum(cur * (1 - max_change), [m.spend_min_ for m in models]), cur)
        hi = np.maximum(np.minimum(cur * (1 + max_change), [m.spend_max_ for m in models]), cur)
        total = float(cur.sum())
        scale = max(total, 1.0)
        cost = 1.0 if profit else 0.0  # contribution subtracts spend; revenue does not

        def value(x):  # what is maximised, per day, in units of `scale`
            return sum(w * float(m.predict(v * scale)) - cost * v * scale
                       for m, w, v in zip(models, margin, x)) / scale

        f = lambda x: -value(x)  # noqa: E731
        grad = lambda x: -np.array([w * float(m.marginal(v * scale)) - cost  # noqa: E731
                                    for m, w, v in zip(models, margin, x)], dtype=float)
        new = cur.copy()
        if len(chans) >= (1 if profit else 2) and total > 0:
            constraint = ({"type": "ineq", "fun": lambda x: total / scale - x.sum(), "jac": lambda x: -np.ones_like(x)}
                          if profit else
                          {"type": "eq", "fun": lambda x: x.sum() - total / scale, "jac": lambda x: np.ones_like(x)})
            res = optimize.minimize(f, cur / scale, jac=grad, method="SLSQP", bounds=list(zip(lo / scale, hi / scale)),
                                    constraints=[constraint], options={"ftol": 1e-12, "maxiter": 500})
            cand = np.clip(res.x * scale, lo, hi)
            if not profit:
                diff = total - cand.sum()  # rounding left by the optimiser: put it where the bounds leave room
                room = (hi - cand) if diff > 0 else (cand - lo)
                if room.sum() > 0:
                    cand = cand + diff * room / room.sum()
            else:
                cand = cand * min(1.0, total / cand.sum()) if cand.sum() > total > 0 else cand
                cand = np.array([_cap_at_break_even(m, c0, c1, b) for m, c0, c1, b
                                 in zip(models, cur, cand, be.reindex(chans).to_numpy())])
            if value(cand / scale) > value(cur / scale):
                new = cand
        cur_rev = np.array([float(m.predict(v)) for m, v in zip(models, cur)])
        new_rev = np.array([float(m.predict(v)) for m, v in zip(models, new)])
        table = pd.DataFrame({"channel": pd.Series(chans, dtype=object), "current_spend": cur, "proposed_spend": new,
                              "change": new - cur, "current_revenue": cur_rev, "proposed_revenue": new_rev,
                              "marginal_roas": [float(m.marginal(v)) for m, v in zip(models, cur)],
                              "proposed_marginal_roas": [float(m.marginal(v)) for m, v in zip(models, new)]})
        if profit:
            table = table.assign(break_even_roas=be.reindex(chans).to_numpy(), margin_rate=margin,
                                 profit_change=margin * (new_rev - cur_rev) - (new - cur))
        gain = float((margin * (new_rev - cur_rev)).sum() - cost * (new - cur).sum()) * days
        n_draws = min((len(m.boot_) for m in models), default=0)
        if n_draws >= 2:
            per = np.array([w * (hill(v1, *m.boot_[:n_draws].T) - hill(v0, *m.boot_[:n_draws].T)) - cost * (v1 - v0)
                            for m, w, v0, v1 in zip(models, margin, cur, new)])  # channels × draws
            draws = per.sum(axis=0) * days
            g_lo, g_hi = float(np.quantile(draws, self.alpha / 2)), float(np.quantile(draws, 1 - self.alpha / 2))
        else:
            g_lo = g_hi = float("nan")
        return Reallocation(table, gain, g_lo, g_hi, total, days, self.alpha, held,
                            objective="contribution" if profit else "revenue",
                            spend_change=float((new - cur).sum()) * days,
                            revenue_change=float((new_rev - cur_rev).sum()) * days)


def _cap_at_break_even(model: "HillResponse", current: float, proposed: float, break_even: float) -> float:
    """``proposed`` daily spend, cut back (never below ``current``) so the marginal ROAS there is ≥ ``break_even``.

    A channel only gains spend while each extra unit still earns at least break-even; the marginal ROAS of a
    Hill curve with h ≤ 1 falls with spend, so the largest such spend is found by bisection.
    """
    if proposed <= current or float(model.marginal(proposed)) >= break_even:
        return proposed
    if float(model.marginal(current)) < break_even:
        return current
    a, b = current, proposed
    for _ in range(60):
        mid = 0.5 * (a + b)
        a, b = (mid, b) if float(model.marginal(mid)) >= break_even else (a, mid)
    return a


def response_data(ad_spend: pd.DataFrame, orders: pd.DataFrame, *, window: Period, attribution: str = "store",
                  statuses: Sequence[str] = COUNTED_STATUSES) -> pd.DataFrame:
    """Daily spend and revenue per channel for curve fitting: ``channel, date, spend, revenue``.

    ``revenue`` is the chosen attribution's (``"store"``: the channel's counted orders that day;
    ``"platform"``: platform_revenue). Days without an ad_spend row for the channel are left out (spend
    unknown); days with spend but no orders have revenue 0.
    """
    _check_choice("attribution", attribution, ATTRIBUTIONS)
    return _response(performance(ad_spend, orders, period=window, level="channel", freq="D", statuses=statuses),
                     attribution)


def _response(daily: pd.DataFrame, attribution: str) -> pd.DataFrame:
    """:func:`response_data` from the daily :func:`performance` table."""
    daily = daily[daily["days"] > 0]
    return (daily.assign(revenue=daily[f"{attribution}_revenue"].fillna(0.0))[["channel", "date", "spend", "revenue"]]
            .reset_index(drop=True))


def current_daily_spend(ad_spend: pd.DataFrame, *, period: Period) -> pd.Series:
    """Mean daily spend per channel over the period's days (a missing day counts as no spend); index channel.

    Example
    -------
    >>> from ecomlib.periods import parse_period
    >>> ads = pd.DataFrame({"date": pd.to_datetime(["2026-11-16", "2026-11-17"]), "channel": "video",
    ...                     "spend": [300.0, 400.0]})
    >>> current_daily_spend(ads, period=parse_period("2026-W47")).to_dict()
    {'video': 100.0}
    """
    inside = ad_spend[period.contains(ad_spend["date"])]
    return inside.assign(channel=_text(inside["channel"]).to_numpy()).groupby("channel")["spend"].sum() / period.days


# The review: one result per period ------------------------------------------------------------------------
def channel_matching(ad_spend: pd.DataFrame, orders: pd.DataFrame, *, period: Period | None = None) -> pd.DataFrame:
    """Channel keys of ``ad_spend`` that match no ``orders.channel``, and the order channels that match no ad channel.

    An ad channel whose name appears in no order at all (``"Google Ads"`` against ``"paid_search"``) would get a
    store ROAS of 0.00× and be "below break-even" every week; it is reported instead, and its store ROAS is
    unknown. Order channels without ad spend are listed (only when some ad channel is unmatched) as candidates
    for the mapping: most are unpaid channels (organic, email), one may be the missing match.

    Returns one row per unmatched key: ``channel``, ``table`` (``"ad_spend"`` or ``"orders"``), ``spend`` /
    ``revenue`` in ``period`` and ``spend_total`` / ``revenue_total`` over all the data (counted revenue, gross,
    without pending orders), largest first. Empty when every ad channel matches.

    Example
    -------
    >>> ads = pd.DataFrame({"date": pd.to_datetime(["2026-01-05"] * 2), "channel": ["Google Ads", "email"],
    ...                     "spend": [100.0, 5.0]})
    >>> orders = pd.DataFrame({"order_id": ["o1", "o2"], "customer_id": ["c1", "c2"],
    ...                        "order_time": pd.to_datetime(["2026-01-05"] * 2), "channel": ["paid_search", "email"],
    ...                        "status": ["completed"] * 2, "revenue": [150.0, 20.0]})
    >>> channel_matching(ads, orders)[["channel", "table", "spend", "revenue"]].to_dict("records")
    [{'channel': 'Google Ads', 'table': 'ad_spend', 'spend': 100.0, 'revenue': nan}, \
{'channel': 'paid_search', 'table': 'orders', 'spend': nan, 'revenue': 150.0}]
    """
    ad_keys = _text(ad_spend["channel"])
    order_keys = set(_text(orders["channel"]).dropna())
    ad_only = sorted(set(ad_keys.dropna()) - order_keys)
    cols = ["channel", "table", "spend", "spend_total", "revenue", "revenue_total"]
    if not ad_only:
        return pd.DataFrame({c: pd.Series(dtype=object if c in ("channel", "table") else float) for c in cols})
    inside = period.contains(ad_spend["date"]) if period is not None else pd.Series(True, index=ad_spend.index)
    spend = ad_spend["spend"].astype(float)
    ads_rows = pd.DataFrame({"channel": ad_only, "table": "ad_spend",
                             "spend": [float(spend[(ad_keys == c).to_numpy() & inside.to_numpy()].sum()) for c in ad_only],
                             "spend_total": [float(spend[(ad_keys == c).to_numpy()].sum()) for c in ad_only]})
    o = counted_orders(orders)
    o_in = o[period.contains(o["order_time"])] if period is not None else o
    order_only = sorted(order_keys - set(ad_keys.dropna()))
    by_total = o.groupby("channel")["revenue"].sum()
    by_period = o_in.groupby("channel")["revenue"].sum()
    order_rows = pd.DataFrame({"channel": order_only, "table": "orders",
                               "revenue": [float(by_period.get(c, 0.0)) for c in order_only],
                               "revenue_total": [float(by_total.get(c, 0.0)) for c in order_only]})
    out = pd.concat([ads_rows.sort_values("spend_total", ascending=False),
                     order_rows.sort_values("revenue_total", ascending=False)], ignore_index=True)
    return out.reindex(columns=cols).astype({"channel": object, "table": object})


def _clean_spend(ad_spend: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """``ad_spend`` with text keys and without rows whose amounts are not finite (``inf`` strings); rows dropped."""
    numbers = [c for c in _VOLUME if c in ad_spend]
    values = ad_spend[numbers].apply(pd.to_numeric, errors="coerce").astype(float)
    bad = ~np.isfinite(values.fillna(0.0)).all(axis=1) | values["spend"].isna()
    out = ad_spend[~bad.to_numpy()]
    out = out.assign(channel=_text(out["channel"]).to_numpy(), campaign=_text(out["campaign"]).to_numpy(),
                     date=pd.to_datetime(out["date"]))
    return out.reset_index(drop=True), int(bad.sum())


def _month(day: pd.Timestamp) -> Period:
    start = pd.Timestamp(day).normalize().replace(day=1)
    return Period(start, start + pd.offsets.MonthBegin(1), "month")


def load(data_dir, **kwargs):
    """The tables this review reads (``contract.REVIEW_TABLES["ad_roas"]``), validated: ``ad_spend`` and ``orders``
    required; ``order_items``, ``products``, ``promotions`` and ``budgets`` when the folder has them."""
    return load_tables(data_dir, NAME, **kwargs)


def compute(ds, period: Period, *, attribution: str = "store", target_roas: float | None = None, min_days: int = 28,
            fit_window_days: int = 180, cost_ratio: float | None = None,
            budgets: Mapping[str, float] | None = None, n_boot: int = 200, max_change: float = 0.5,
            alpha: float = 0.05, top: int = 12, seed: int = 0) -> Result:
    """Everything the ad ROAS page shows for one period, as known at the period's end.

    Parameters
    ----------
    ds : a :class:`~ecomlib.dataset.Dataset` from :func:`load` (``ad_spend``, ``orders``; optional ``order_items``,
        ``products``, ``budgets``).
    period : the review period.
    attribution : revenue behind ROAS flags, contribution and curves: ``"store"`` or ``"platform"``.
    target_roas : ROAS the business aims for (×), or None.
    min_days : fewest days with spend a channel needs for a response curve.
    fit_window_days : days of history before the period end for curves, margins and weekly trends.
    cost_ratio : cost of goods ÷ revenue, used for break-even only when the data have no order lines or costs.
    budgets : channel → budget for the whole period, overriding the ``budgets`` table (None: use the table).
    n_boot, max_change : bootstrap resamples of the curves; largest move of a channel's daily spend (fraction).
    alpha : level of the below-break-even test (Holm-corrected over the period's paid channels).
    top : channels and campaigns shown by name in charts and tables; the rest are folded into "Other (N)".
    seed : bootstrap seed.

    Returns
    -------
    :class:`~ecomlib.review.Result` with tables ``channels``, ``campaigns`` (:func:`profit_view`, the period),
    ``weekly`` (weekly :func:`profit_view` over the history window), ``weeks_below``, ``matching``
    (:func:`channel_matching`), ``margins``, ``curves`` (:meth:`ResponseCurves.summary` with break-even),
    ``curve_points``, ``realloc`` (:meth:`ResponseCurves.reallocate` on contribution) and ``pacing``; values
    ``spend, mer, store_roas, share_below_break_even, spend_below_break_even, shortfall, new_customer_cac,
    new_customers, revenue, paid_revenue, matched_spend`` and the shift's ``realloc_*`` (``share_below_break_even``
    is over the spend whose ROAS is known: unmatched channels' spend is reported apart); gaps for the sections
    below their minimum data (:data:`MINIMUM_DATA`).
    """
    _check_choice("attribution", attribution, ATTRIBUTIONS)
    if isinstance(min_days, bool) or not isinstance(min_days, int) or min_days < 2:
        raise ParameterError(f"min_days must be a whole number of days ≥ 2, not {min_days!r}", name="min_days")
    if isinstance(fit_window_days, bool) or not isinstance(fit_window_days, int) or fit_window_days < 7:
        raise ParameterError(f"fit_window_days must be a whole number of days ≥ 7, not {fit_window_days!r}",
                             name="fit_window_days")
    if not (isinstance(alpha, Real) and 0 < alpha < 1):
        raise ParameterError(f"alpha must be a number between 0 and 1, not {alpha!r}", name="alpha")
    ad, dropped = _clean_spend(ds.ad_spend)
    orders = ds.orders.assign(channel=_text(ds.orders["channel"]).to_numpy())
    history = history_window(period, fit_window_days)
    res = Result(NAME, period)
    res.notes.update(attribution=attribution, revenue_basis=REVENUE_BASIS["basis"], pending=REVENUE_BASIS["pending"],
                     history=history, history_days=history.days, dropped_rows=dropped, alpha=alpha, top=top,
                     target_roas=target_roas, curve_level=0.9, min_days=min_days)

    # Keys that match nothing: their store ROAS is unknown, never 0.
    matching = channel_matching(ad, orders, period=period)
    unmatched = matching.loc[matching["table"] == "ad_spend", "channel"].tolist()
    if unmatched:  # the loader's check of every key pair names a near match (same letters, other case/spacing)
        keys = unmatched_keys(ds)
        near = keys[(keys["table"] == "ad_spend") & (keys["other_table"] == "orders")].set_index("value")["near"]
        matching["near"] = matching["channel"].map(near.to_dict()).where(matching["table"] == "ad_spend")
    res.tables["matching"] = matching
    if not unmatched:
        res.gaps["matching"] = Gap("ads.gap.all_matched", {"n": int(ad["channel"].nunique())})

    # Margins: order lines and unit costs, else the cost_ratio option, else unknown.
    items, products = ds.order_items, ds.products
    margins = pd.DataFrame(columns=["channel", "line_revenue", "cost", "margin_rate", "break_even_roas",
                                    "lines_without_cost"])
    if items is not None and products is not None and len(items) and len(products):
        margins = channel_margins(orders, items, products, period=history)
    known_margin = bool(len(margins)) and margins["margin_rate"].notna().any()
    if known_margin:
        res.notes["margin_source"] = "order_lines"
    elif cost_ratio is not None:
        margins = flat_margins(sorted(set(ad["channel"].dropna()) | set(orders["channel"].dropna())),
                               cost_ratio=cost_ratio)
        res.notes.update(margin_source="cost_ratio", cost_ratio=float(cost_ratio))
        res.gaps["margin"] = Gap("ads.gap.margin_from_cost_ratio", {"cost_ratio": float(cost_ratio),
                                                                     "break_even": 1 / (1 - float(cost_ratio))})
    else:
        res.notes["margin_source"] = None
        res.gaps["margin"] = Gap("ads.gap.no_margin", {})
        margins = margins.astype({"margin_rate": float, "break_even_roas": float})
    res.tables["margins"] = margins
    view = dict(attribution=attribution, target_roas=target_roas, unmatched=unmatched, alpha=alpha)

    # The period: channels and campaigns.
    in_period = ad[period.contains(ad["date"])]
    spent = bool((in_period["spend"] > 0).any())
    engine = getattr(ds, "engine", None)
    if engine is None:
        perf = lambda window, **kw: performance(ad, orders, period=window, **kw)  # noqa: E731
    else:  # the same tables from the dataset's query engine (ecomlib/sql/roas_daily.sql)
        perf = lambda window, **kw: performance_on(engine, period=window, **kw)  # noqa: E731
    channels = profit_view(perf(period), margins, **view)
    channels = channels[channels["spend"].notna() | (channels["store_revenue"].fillna(0) > 0)].reset_index(drop=True)
    paid = (channels["spend"] > 0) & channels["p_below"].notna()
    channels["p_below_adjusted"] = np.nan
    channels["roas_detectable"] = np.nan
    if paid.any():
        channels.loc[paid, "p_below_adjusted"] = adjust_pvalues(channels.loc[paid, "p_below"].to_numpy(),
                                                                method="holm")
        # The minimum detectable shortfall at this volume: the ROAS under which the test would rule out
        # break-even even at the strictest Holm step (alpha / number of paid channels).
        z95, z_holm = sps.norm.ppf(0.975), sps.norm.ppf(1 - alpha / int(paid.sum()))
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.log(channels["roas_high"] / channels["roas"]) / z95
        channels.loc[paid, "roas_detectable"] = (channels["break_even_roas"] * np.exp(-z_holm * rel))[paid]
    campaigns = profit_view(perf(period, level="campaign"), margins, **view)
    res.tables["channels"], res.tables["campaigns"] = channels, campaigns
    if not spent:
        for section in ("channels", "campaigns"):
            res.gaps[section] = Gap("ads.gap.no_spend", {"start": period.start, "end": period.last_day})

    # History: weekly record.
    weekly = profit_view(perf(history, freq="W"), margins, **view)
    res.tables["weekly"] = weekly
    res.tables["weeks_below"] = weeks_below(weekly) if len(weekly) else \
        pd.DataFrame(columns=["channel", "weeks", "weeks_below", "share_below"])
    n_weeks = int(weekly.loc[weekly["spend"] > 0, "date"].nunique()) if len(weekly) else 0
    if n_weeks < 2:
        res.gaps["over_time"] = Gap("ads.gap.few_weeks", {"weeks": n_weeks, "needed": 2, "days": history.days})

    # Headline numbers.
    blend = blended(ad, orders, period=period, unmatched=unmatched)
    spend = float(campaigns.loc[campaigns["flag"] != "unmatched", "spend"].sum())  # spend whose return is known
    res.values.update(blend)
    res.values.update(
        spend_below_break_even=float(campaigns["spend_below_break_even"].sum()),
        shortfall=float(campaigns["shortfall"].sum()) if res.notes["margin_source"] else float("nan"),
        share_below_break_even=_ratio(float(campaigns["spend_below_break_even"].sum()), spend)
        if res.notes["margin_source"] else float("nan"),
        unmatched_spend=float(matching.loc[matching["table"] == "ad_spend", "spend"].sum()),
        n_paid_channels=int((channels["spend"] > 0).sum()))

    # Response curves and the budget shift.
    if engine is None:
        daily = response_data(ad[~ad["channel"].isin(unmatched)] if attribution == "store" else ad, orders,
                              window=history, attribution=attribution)
    else:
        daily = _response(performance_on(engine, period=history, freq="D",
                                         exclude=unmatched if attribution == "store" else ()), attribution)
    current = current_daily_spend(ad, period=period)
    be = channels.set_index("channel")["break_even_roas"].dropna().to_dict() if len(channels) else {}
    _curves_and_shift(res, daily, current, be, min_days=min_days, n_boot=n_boot, seed=seed, max_change=max_change,
                      n_ad_channels=int(ad["channel"].nunique()), days=period.days, max_curves=top)

    # Pacing: the budgets parameter for the period, else the budgets table for the month the period ends in.
    as_of = min(period.last_day, ad["date"].max()) if len(ad) else period.last_day
    if budgets:
        window, rows = period, budgets
    else:
        window = _month(period.last_day)
        rows = budget_rows(getattr(ds, "budgets", None), month=pd.Period(period.last_day, "M"))
        rows = rows if len(rows) else None
    res.notes["pacing_window"] = window
    if rows is None:
        res.gaps["pacing"] = Gap("ads.gap.no_budgets", {"month": f"{period.last_day:%Y-%m}"})
        res.tables["pacing"] = pacing(ad, {}, period=window)
    else:
        res.tables["pacing"] = pacing(ad, rows, period=window, as_of=as_of)
    return res


def _curves_and_shift(res: Result, daily: pd.DataFrame, current: pd.Series, break_even: Mapping[str, float], *,
                      min_days: int, n_boot: int, seed: int, max_change: float, n_ad_channels: int, days: int,
                      max_curves: int = 12) -> None:
    """Fit the response curves and the contribution-maximising shift into ``res`` (tables, values or gaps)."""
    curve_cols = ["channel", "status", "reason", "n_days", "min_days", "spend_cv", "min_cv", "vmax", "k", "h",
                  "saturation_seen", "current_spend", "expected_revenue", "marginal_roas", "marginal_low",
                  "marginal_high", "break_even_roas"]
    res.tables["curves"] = pd.DataFrame(columns=curve_cols)
    res.tables["curve_points"] = pd.DataFrame(columns=["channel", "spend", "revenue", "low", "high"])
    res.tables["realloc"] = pd.DataFrame(columns=["channel", "current_spend", "proposed_spend", "change",
                                                  "current_revenue", "proposed_revenue", "marginal_roas",
                                                  "proposed_marginal_roas", "break_even_roas", "profit_change"])
    if not len(daily) or not (daily["spend"] > 0).any():
        res.gaps["curves"] = Gap("ads.gap.no_spend_history", {"days": res.notes["history_days"]})
        res.gaps["realloc"] = Gap("ads.gap.realloc_no_curves", {})
        return
    by_spend = daily.groupby("channel")["spend"].sum().sort_values(ascending=False)
    largest = list(by_spend.index[:max_curves])
    res.notes["curves_tail"] = int(len(by_spend) - len(largest))  # smaller channels: no curve, budget held
    curves = ResponseCurves(min_days=min_days, n_boot=n_boot, seed=seed).fit(daily[daily["channel"].isin(largest)])
    res.notes["curve_level"] = 1 - curves.alpha
    summary = curves.summary(current.to_dict())
    summary["break_even_roas"] = summary["channel"].map(break_even).astype(float)
    res.tables["curves"] = summary.reindex(columns=curve_cols)
    res.tables["curve_points"] = curves.curve_frame()
    if not curves.models_:
        codes = summary["reason"].tolist()
        if "too_few_days" in codes:
            gap = Gap("ads.gap.too_few_days", {"days": int(np.nanmax(summary["n_days"].astype(float))),
                                               "needed": min_days})
        elif codes and all(c == "no_variation" for c in codes):
            gap = Gap("ads.gap.no_variation", {"min_cv": curves.min_cv})
        else:
            gap = Gap("ads.gap.no_curves", {})
        res.gaps["curves"] = gap
    shiftable = [c for c in curves.models_ if c in break_even and np.isfinite(break_even[c])
                 and float(current.get(c, 0.0)) > 0]
    if n_ad_channels < 2:
        res.gaps["realloc"] = Gap("ads.gap.one_channel", {})
    elif len(shiftable) < 2:
        res.gaps["realloc"] = Gap("ads.gap.realloc_no_curves", {"n": len(shiftable)})
    else:
        shift = curves.reallocate(current.to_dict(), days=days, max_change=max_change,
                                  break_even={c: break_even[c] for c in shiftable})
        res.tables["realloc"] = shift.table
        res.values.update(realloc_gain=shift.gain, realloc_gain_low=shift.gain_low, realloc_gain_high=shift.gain_high,
                          realloc_spend_change=shift.spend_change, realloc_revenue_change=shift.revenue_change,
                          realloc_days=shift.days, realloc_level=1 - shift.alpha, realloc_total=shift.total_spend)
        res.notes["realloc_held"] = list(shift.held)


def weekly_chart(res: Result, msg: Messages, *, top: int = 8) -> pd.DataFrame:
    """The result's weekly rows for :func:`plot_over_time`, channels beyond the ``top`` by spend folded into one
    "Other (N)" line per week (in ``msg``'s language): spend and revenue summed, ROAS recomputed (revenue ÷ spend)."""
    weekly = res.tables.get("weekly", pd.DataFrame())
    if not len(weekly):
        return weekly
    totals = weekly.groupby("channel", as_index=False)["spend"].sum()
    kept = group_tail(totals, by="channel", value="spend", top=min(top, int(res.notes.get("top", top))), msg=msg)
    if len(kept) == len(totals):
        return weekly
    other = kept["channel"].iloc[-1]
    names = set(kept["channel"].iloc[:-1])
    folded = weekly.assign(channel=weekly["channel"].where(weekly["channel"].isin(names), other))
    sums = [c for c in ("spend", "store_revenue", "platform_revenue", "revenue") if c in folded]
    out = folded.groupby(["date", "channel"], as_index=False)[sums].sum(min_count=1)
    return out.assign(store_roas=_div(out["store_revenue"], out["spend"]),
                      platform_roas=_div(out["platform_revenue"], out["spend"]), roas=_div(out["revenue"], out["spend"]))


# Plots ---------------------------------------------------------------------------------------------------
def _axis_formatter(column: str, msg: Messages) -> FuncFormatter | None:
    unit = {"low": "money", "high": "money"}.get(column, UNITS.get(column))
    if unit == "money":
        return FuncFormatter(lambda v, _: msg.money(v))
    if unit == "ratio":
        return FuncFormatter(lambda v, _: msg.ratio(v))
    return None


def _palette(levels) -> dict:
    return dict(zip(levels, sns.color_palette(n_colors=len(levels))))


def plot_over_time(data: pd.DataFrame, *, x: str = "date", y: str = "spend", hue: str = "channel",
                   ref: Mapping[str, float] | float | None = None, ax: Axes | None = None,
                   msg: Messages | None = None, **kwargs) -> Axes:
    """Line chart of a metric over time per channel, e.g. weekly spend or ROAS from :func:`performance`.

    Parameters
    ----------
    data : long table with columns ``x`` (dates), ``y`` and ``hue``.
    ref : reference lines drawn dashed in each channel's colour (channel → value, e.g. break-even ROAS),
        or one value for a grey line (e.g. the target ROAS).
    ax, msg, kwargs : the Axes to draw on (default: current), messages for labels, passed to
        :func:`seaborn.lineplot`.

    Returns the Axes. Title ``ads.fig.<y>``, axis labels ``ads.col.<x>`` / ``ads.col.<y>``.
    """
    if ax is None:
        ax = plt.gca()
    msg = msg or Messages("en")
    names = {c: vocab("channel", c, msg) for c in data[hue].astype(str).unique()}  # codes in the page's language
    data = data.assign(**{hue: data[hue].astype(str).map(names)})
    if isinstance(ref, Mapping):
        ref = {names.get(str(k), str(k)): val for k, val in ref.items()}
    levels = sorted(data[hue].unique())
    colours = _palette(levels)
    sns.lineplot(data=data, x=x, y=y, hue=hue, hue_order=levels,
                 palette=colours, marker="o", markersize=3, ax=ax, **kwargs)
    handles, labels = ax.get_legend_handles_labels()
    if isinstance(ref, Mapping):
        for level in levels:
            if level in ref and ref[level] is not None and np.isfinite(ref[level]):
                ax.axhline(ref[level], color=colours[level], linestyle="--", linewidth=1, alpha=0.7)
        handles.append(Line2D([], [], color="grey", linestyle="--", linewidth=1))
        labels.append(msg("ads.fig.break_even"))
    elif ref is not None:
        ax.axhline(float(ref), color="grey", linestyle=":", linewidth=1.2)
        handles.append(Line2D([], [], color="grey", linestyle=":", linewidth=1.2))
        labels.append(msg("ads.fig.target"))
    ax.legend(handles, labels, title=msg(f"ads.col.{hue}"), fontsize="small", title_fontsize="small",
              loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if (fmt := _axis_formatter(y, msg)) is not None:
        ax.yaxis.set_major_formatter(fmt)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: pd.Timestamp(mdates.num2date(v))
                                               .strftime("%m-%d")))
    ax.set(xlabel=msg(f"ads.col.{x}"), ylabel=msg(f"ads.col.{y}"), title=msg(f"ads.fig.{y}"))
    return ax


def plot_response(data: pd.DataFrame, *, x: str = "spend", y: str = "revenue", low: str = "low", high: str = "high",
                  hue: str = "channel", current: pd.DataFrame | None = None, current_x: str = "current_spend",
                  current_y: str = "expected_revenue", ax: Axes | None = None, msg: Messages | None = None,
                  **kwargs) -> Axes:
    """Fitted response curves (daily revenue against daily spend) with their bands and current operating points.

    Parameters
    ----------
    data : :meth:`ResponseCurves.curve_frame` output (``channel, spend, revenue, low, high``).
    current : one row per channel with ``current_x`` / ``current_y`` (e.g. :meth:`ResponseCurves.summary`),
        drawn as a marker on each curve.
    ax, msg, kwargs : Axes (default: current), messages, passed to :func:`matplotlib.axes.Axes.plot`.

    Returns the Axes.
    """
    if ax is None:
        ax = plt.gca()
    msg = msg or Messages("en")
    levels = sorted(data[hue].astype(str).unique())
    colours = _palette(levels)
    for level in levels:  # a handful of channels
        d = data[data[hue].astype(str) == level]
        ax.plot(d[x], d[y], color=colours[level], label=vocab("channel", level, msg), **kwargs)
        ax.fill_between(d[x], d[low], d[high], color=colours[level], alpha=0.15, linewidth=0)
    handles, labels = ax.get_legend_handles_labels()
    if current is not None:
        cur = current[current[hue].astype(str).isin(levels) & current[current_x].notna()]
        ax.scatter(cur[current_x], cur[current_y], c=[colours[str(c)] for c in cur[hue]], s=60, marker="o",
                   edgecolors="black", zorder=5)
        handles.append(Line2D([], [], color="grey", marker="o", markeredgecolor="black", linestyle=""))
        labels.append(msg("ads.fig.current_point"))
    handles.append(Patch(color="grey", alpha=0.2))
    labels.append(msg("ads.fig.band"))
    ax.legend(handles, labels, title=msg(f"ads.col.{hue}"), fontsize="small", title_fontsize="small",
              loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.xaxis.set_major_formatter(_axis_formatter("spend", msg))
    ax.yaxis.set_major_formatter(_axis_formatter("revenue", msg))
    ax.set(xlabel=msg("ads.fig.daily_spend"), ylabel=msg("ads.fig.daily_revenue"), title=msg("ads.fig.response"))
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    return ax


# Words -----------------------------------------------------------------------------------------------------
CODE_COLUMNS = ("flag", "status", "reason", "pace_status")


def translate(df: pd.DataFrame, msg: Messages, *, columns: Sequence[str] = CODE_COLUMNS) -> pd.DataFrame:
    """A copy of ``df`` with code columns (``flag``, ``status``, ``reason``, ``pace_status``) in words.

    Each code becomes ``msg("ads.<column>.<code>")``; empty codes stay empty.

    Example
    -------
    >>> translate(pd.DataFrame({"flag": ["below_break_even"]}), Messages("en"))["flag"].item()
    'below break-even'
    """
    out = df.copy()
    for col in columns:
        if col in out:
            codes = out[col].fillna("").astype(str)
            words = {c: (msg(f"ads.{col}.{c}") if c else "") for c in codes.unique()}
            out[col] = codes.map(words)
    return out


def _signed_pct(x: float, msg: Messages) -> str:
    return "–" if x is None or not np.isfinite(x) else ("+" if x > 0 else "") + msg.pct(x)


def _rel_change(now: float, before: float) -> float:
    return now / before - 1 if before and np.isfinite(before) and before > 0 else float("nan")


def _signed_money(x: float, msg: Messages) -> str:
    return ("+" if x > 0 else "−" if x < 0 else "") + msg.money(abs(x))


def _finite(v) -> float | None:
    return None if v is None or not isinstance(v, Real) or not np.isfinite(v) else float(v)


def _ch(name, msg: Messages) -> str:
    """A channel code in the page's language (``paid_search`` → 付费搜索 on zh pages)."""
    return vocab("channel", name, msg)


#: At most this many channels are named one by one in a sentence or a finding; the rest are counted.
NAMED = 5


def _names(values, msg: Messages, *, channel: bool = True) -> str:
    """A list of names for a sentence: the first :data:`NAMED`, then "and N more"."""
    values = [(_ch(v, msg) if channel else str(v)) for v in values]
    head = msg("ads.s.name_sep").join(values[:NAMED])
    return head if len(values) <= NAMED else msg("ads.s.and_more", names=head, n=len(values) - NAMED)


def formats(columns) -> dict[str, str]:
    """Display formats of ``columns`` (names or a DataFrame) from :data:`UNITS`, for :func:`ecomlib.styled`.

    >>> formats(["channel", "spend", "store_roas"])
    {'spend': 'money', 'store_roas': 'ratio'}
    """
    cols = list(columns.columns) if isinstance(columns, pd.DataFrame) else list(columns)
    return {c: UNITS[c] for c in cols if c in UNITS}


#: The page's tables: name → (result table, columns shown, sort column, caption key or None).
TABLES = {
    "delivery": ("channels", ["channel", "spend", "impressions", "clicks", "ctr", "cpc", "cpm", "platform_conversions",
                              "cvr", "cpa", "new_customers", "cac", "missing_days"], "spend", None),
    "channels": ("channels", ["channel", "spend", "platform_revenue", "platform_roas", "store_revenue", "store_roas",
                              "roas_low", "roas_high", "platform_vs_store", "margin_rate", "break_even_roas",
                              "contribution", "shortfall", "flag"], "spend", "ads.caption.channels"),
    "tests": ("channels", ["channel", "roas", "roas_low", "roas_high", "break_even_roas", "p_below",
                           "p_below_adjusted", "roas_detectable"], "spend", "ads.caption.tests"),
    "campaigns": ("campaigns", ["channel", "campaign", "spend", "platform_roas", "store_revenue", "store_roas",
                                "break_even_roas", "contribution", "spend_below_break_even", "shortfall", "flag"],
                  "shortfall", "ads.caption.campaigns"),
    "matching": ("matching", ["channel", "table", "spend", "spend_total", "revenue", "revenue_total", "near"], None,
                 "ads.caption.matching"),
    "weeks_below": ("weeks_below", ["channel", "weeks", "weeks_below", "share_below"], "weeks_below", None),
    "curves": ("curves", ["channel", "status", "reason", "n_days", "spend_cv", "vmax", "k", "current_spend",
                          "marginal_roas", "marginal_low", "marginal_high", "break_even_roas"], None,
               "ads.caption.curves"),
    "realloc": ("realloc", ["channel", "current_spend", "proposed_spend", "change", "marginal_roas",
                            "proposed_marginal_roas", "break_even_roas", "current_revenue", "proposed_revenue",
                            "profit_change"], None, "ads.caption.realloc"),
    "pacing": ("pacing", ["channel", "budget", "spend_to_date", "days_elapsed", "days_total", "projected_spend",
                          "projected_vs_budget", "pace_status"], None, "ads.caption.pacing"),
}


def display_table(res: Result, name: str, msg: Messages) -> pd.DataFrame:
    """One of the page's :data:`TABLES` as shown: its columns, codes in words, channel names translated, long tails
    folded into "Other (N)" after the result's ``top`` rows (additive columns summed, ROAS recomputed)."""
    source, cols, sort, _ = TABLES[name]
    df = res.tables[source]
    if sort is not None and len(df):
        df = df.sort_values([sort, "spend"] if sort != "spend" and "spend" in df else sort, ascending=False,
                            kind="stable")
    if name == "campaigns" and len(df):
        df = df[df["spend"].fillna(0) > 0]
    if name == "matching" and len(df) > 2 * int(res.notes.get("top", 12)) + 2:  # each side folded on its own
        top_n = int(res.notes.get("top", 12))
        sides = [group_tail(df[df["table"] == side].drop(columns="near", errors="ignore"), by="channel", value=value,
                            top=top_n, msg=msg, sum_columns=["spend", "spend_total", "revenue", "revenue_total"])
                 .assign(table=side) for side, value in (("ad_spend", "spend_total"), ("orders", "revenue_total"))]
        df = pd.concat(sides, ignore_index=True).reindex(columns=df.columns)
    shown = [c for c in cols if c in df]
    df = df[shown + ([sort] if sort is not None and sort in df and sort not in shown else [])]
    top = int(res.notes.get("top", 12))
    by = "campaign" if "campaign" in df else "channel"
    if len(df) > top + 1 and sort is not None:
        sums = [c for c in df.select_dtypes("number").columns if UNITS.get(c) == "money" and c not in
                ("cpc", "cpm", "cpa", "cac")] + [c for c in ("impressions", "clicks", "platform_conversions",
                                                            "new_customers", "weeks", "weeks_below") if c in df]
        folded = group_tail(df, by=by, value=sort, top=top, msg=msg, sum_columns=sums)
        last = folded.index[-1]
        for roas, rev in (("store_roas", "store_revenue"), ("platform_roas", "platform_revenue")):
            if roas in folded and rev in folded:
                folded.loc[last, roas] = _ratio(float(folded.loc[last, rev]), float(folded.loc[last, "spend"]))
        df = folded
    df = df[shown]
    df = translate(df, msg)
    if "table" in df:
        df = df.assign(table=df["table"].map(lambda t: msg(f"ads.table.{t}") if isinstance(t, str) else t))
    return label_values(df, msg, {"channel": "channel"})


def styled_table(res: Result, name: str, msg: Messages):
    """:func:`display_table` through :func:`ecomlib.styled`: formats from :data:`UNITS`, translated headers, caption."""
    from .report import styled

    df = display_table(res, name, msg)
    caption_key = TABLES[name][3]
    caption = None
    if caption_key:
        caption = msg(caption_key, attr=msg(f"ads.attr.{res.notes['attribution']}"), days=res.notes["history_days"],
                      basis=msg("ads.basis.gross"), level=msg.pct(res.notes.get("curve_level", 0.9), 0),
                      n=int((res.channels["spend"].fillna(0) > 0).sum()) if "channels" in res.tables else 0)
    return styled(df, msg, formats=formats(df), labels=msg.labels(list(df.columns), "ads.col."), caption=caption)


# Headlines, findings, sentences -------------------------------------------------------------------------------
HEADLINES = [("spend", "money", None, "blended"), ("mer", "multiple", "up", "blended"),
             ("store_roas", "multiple", "up", "blended"), ("share_below_break_even", "ratio", "down", "profit_view"),
             ("shortfall", "money", "down", "profit_view"), ("new_customer_cac", "money", "down", "blended")]


def headline_numbers(rows: pd.DataFrame, blend: Mapping[str, float]) -> dict[str, float]:
    """The review's headline numbers for one period from a campaign :func:`profit_view` and :func:`blended`.

    Returns ``spend`` (money), ``mer`` (×), ``store_roas`` (×), ``share_below_break_even`` (fraction of spend in
    rows below break-even), ``shortfall`` (money those rows lost against break-even), ``new_customer_cac`` (money).

    Example
    -------
    >>> rows = pd.DataFrame({"spend": [100.0, 300.0], "spend_below_break_even": [100.0, 0.0],
    ...                      "shortfall": [20.0, 0.0]})
    >>> blend = {"spend": 400.0, "mer": 5.0, "store_roas": 2.0, "new_customer_cac": 40.0}
    >>> headline_numbers(rows, blend)["share_below_break_even"]
    0.25
    """
    spend = float(rows["spend"].sum())
    return {"spend": blend["spend"], "mer": blend["mer"], "store_roas": blend["store_roas"],
            "share_below_break_even": _ratio(float(rows["spend_below_break_even"].sum()), spend),
            "shortfall": float(rows["shortfall"].sum()), "new_customer_cac": blend["new_customer_cac"]}


def headlines(now: Result, before: Result | None, msg: Messages) -> list[Headline]:
    """The index cards: the same quantity for the period and the comparison period (each from its own
    :func:`compute`). Revenue is gross, pending orders excluded (named in the labels)."""
    prev = before.values if before is not None else {}
    return [Headline(key, msg(f"ads.h.{key}"), _finite(now.values.get(key)), unit,
                     previous=_finite(prev.get(key)), good=good, source=f"ecomlib.ads.{func}")
            for key, unit, good, func in HEADLINES]


def findings(now: Result, before: Result | None, msg: Messages) -> list[Finding]:
    """Structured conclusions of the period, for the index's "This week".

    - ``below_break_even:<channel>`` — a paid channel whose ROAS is under its break-even ROAS. Money at stake:
      its shortfall (spend − revenue × margin, what it lost in the period). Confidence ``significant`` when the
      one-sided test, Holm-corrected over the period's paid channels, rejects "ROAS ≥ break-even" at ``alpha``.
      Severity high when significant or below break-even in at least half of 4+ weeks of history, else medium.
    - ``unmatched_channels`` — ad channels matching no order channel; money: their spend (return unknown). High.
    - ``budget_shift`` — the contribution-maximising shift; money: its expected profit change over the period
      (observational, so ``descriptive``); medium when the band's low end is above 0, else low.
    - ``pacing:<channel>`` — a budget over- or under-spent by more than the tolerance; money: spend − budget. Low.
    """
    out: list[Finding] = []
    alpha = now.notes.get("alpha", 0.05)
    ch = now.tables.get("channels", pd.DataFrame())
    record = now.tables.get("weeks_below", pd.DataFrame())
    record = record.set_index("channel") if len(record) else pd.DataFrame(columns=["weeks", "weeks_below"])
    text = {s_key: s for s_key, s in _below_sentences(now, msg)}
    if len(ch) and now.has("channels"):
        below = ch[(ch["flag"] == "below_break_even") & (ch["spend"] > 0)].sort_values("shortfall", ascending=False)
        for r in below.head(NAMED).itertuples():
            p_adj = _finite(r.p_below_adjusted)
            weeks = int(record.loc[r.channel, "weeks"]) if r.channel in record.index else 0
            k = int(record.loc[r.channel, "weeks_below"]) if r.channel in record.index else 0
            significant = p_adj is not None and p_adj < alpha
            persistent = weeks >= 4 and k >= weeks / 2
            out.append(Finding(
                NAME, f"below_break_even:{r.channel}", text.get(r.channel, ""),
                numbers={"channel": r.channel, "roas": _finite(r.roas), "roas_low": _finite(r.roas_low),
                         "roas_high": _finite(r.roas_high), "break_even_roas": _finite(r.break_even_roas),
                         "spend": _finite(r.spend), "shortfall": _finite(r.shortfall), "p_adjusted": p_adj,
                         "weeks_below": k, "weeks": weeks},
                money=_finite(r.shortfall), severity="high" if significant or persistent else "medium",
                confidence="significant" if significant else ("not_significant" if p_adj is not None else
                                                              "descriptive"),
                anchor="sec-channels", source="ecomlib.ads.profit_view"))
    m = now.tables.get("matching", pd.DataFrame())
    if len(m) and (m["table"] == "ad_spend").any():
        out.append(Finding(NAME, "unmatched_channels", _unmatched_sentence(now, msg),
                           numbers={"channels": m.loc[m["table"] == "ad_spend", "channel"].tolist(),
                                    "spend": _finite(now.values.get("unmatched_spend"))},
                           money=_finite(now.values.get("unmatched_spend")), severity="high", confidence="descriptive",
                           anchor="sec-matching", source="ecomlib.ads.channel_matching"))
    if now.has("realloc") and _finite(now.values.get("realloc_gain")) and now.values["realloc_gain"] > 0:
        low = _finite(now.values.get("realloc_gain_low"))
        out.append(Finding(NAME, "budget_shift", " ".join(_realloc_sentences(now, msg)[:1]),
                           numbers={"gain": now.values["realloc_gain"], "gain_low": low,
                                    "gain_high": _finite(now.values.get("realloc_gain_high")),
                                    "spend_change": now.values.get("realloc_spend_change"),
                                    "days": now.values.get("realloc_days")},
                           money=now.values["realloc_gain"], severity="medium" if low is not None and low > 0 else "low",
                           confidence="descriptive", anchor="sec-realloc", source="ecomlib.ads.ResponseCurves.reallocate"))
    pace = now.tables.get("pacing", pd.DataFrame())
    if now.has("pacing") and len(pace):
        off = pace[pace["pace_status"].isin(["over", "under"])]
        off = off.assign(gap=(off["projected_spend"] - off["budget"]).abs()).sort_values("gap", ascending=False)
        for r in off.head(NAMED).itertuples():
            out.append(Finding(NAME, f"pacing:{r.channel}", _pacing_sentence(r, msg),
                               numbers={"channel": r.channel, "budget": r.budget, "projected_spend": r.projected_spend,
                                        "finished": bool(r.finished)},
                               money=_finite(abs(r.projected_spend - r.budget)), severity="low",
                               confidence="descriptive", anchor="sec-pacing", source="ecomlib.ads.pacing"))
    return out


def _unmatched_sentence(now: Result, msg: Messages) -> str:
    m = now.matching
    ads_side = m[m["table"] == "ad_spend"]
    orders_side = m[m["table"] == "orders"]
    items = msg("ads.s.list_sep").join(msg("ads.s.unmatched_item", channel=_ch(r.channel, msg), spend=r.spend,
                                           total=r.spend_total) for r in ads_side.head(NAMED).itertuples())
    if len(ads_side) > NAMED:
        items = msg("ads.s.and_more", names=items, n=len(ads_side) - NAMED)
    cands = msg("ads.s.name_sep").join(
        msg("ads.s.candidate_item", channel=_ch(r.channel, msg), revenue=r.revenue)
        for r in orders_side.head(NAMED).itertuples())
    return msg("ads.s.unmatched", n=len(ads_side), items=items, candidates=cands or "–")


def _below_sentences(now: Result, msg: Messages) -> list[tuple[str, str]]:
    """(channel, sentence) for each paid channel below break-even, largest shortfall first."""
    ch = now.tables.get("channels", pd.DataFrame())
    if not len(ch):
        return []
    attr = msg(f"ads.attr.{now.notes['attribution']}")
    n_paid = int(((ch["spend"] > 0) & ch["p_below"].notna()).sum())
    below = ch[(ch["flag"] == "below_break_even") & (ch["spend"] > 0)].sort_values("shortfall", ascending=False)
    out = []
    for r in below.head(NAMED).itertuples():  # the largest losses by name; the rest in one sentence
        p_adj = _finite(r.p_below_adjusted)
        key = ("ads.s.below_no_interval" if p_adj is None or not np.isfinite(r.roas_high) else
               "ads.s.below_sure" if p_adj < now.notes.get("alpha", 0.05) else "ads.s.below_unsure")
        out.append((r.channel, msg(key, channel=_ch(r.channel, msg), attr=attr, roas=r.roas, low=r.roas_low,
                                   high=r.roas_high, be=r.break_even_roas, margin=r.margin_rate, spend=r.spend,
                                   shortfall=r.shortfall, p=msg.pvalue(p_adj) if p_adj is not None else "–",
                                   n=n_paid, mde=getattr(r, "roas_detectable", np.nan))))
    rest = below.iloc[NAMED:]
    if len(rest):
        out.append(("", msg("ads.s.below_more", n=len(rest), spend=float(rest["spend"].sum()),
                            shortfall=float(rest["shortfall"].sum()))))
    return out


def _realloc_sentences(now: Result, msg: Messages) -> list[str]:
    t = now.tables.get("realloc", pd.DataFrame())
    if not now.has("realloc") or not len(t):
        return []
    v = now.values
    total = max(float(v.get("realloc_total", 0.0)), 1.0)
    moves = t[t["change"].abs() >= 0.01 * total]
    level = msg.pct(v.get("realloc_level", 0.9), 0)
    if not len(moves) or not v.get("realloc_gain", 0) > 0:
        return [msg("ads.s.realloc_none")]
    moves = moves.sort_values("change")
    text = msg("ads.s.list_sep").join(msg("ads.s.move_item", channel=_ch(r.channel, msg),
                                          change=_signed_money(r.change, msg)) for r in moves.itertuples())
    out = [msg("ads.s.realloc", moves=text, gain=v["realloc_gain"], days=v["realloc_days"], low=v["realloc_gain_low"],
               high=v["realloc_gain_high"], level=level, spend_change=_signed_money(v["realloc_spend_change"], msg),
               revenue_change=_signed_money(v["realloc_revenue_change"], msg))]
    if _finite(v.get("realloc_gain_low")) is not None and v["realloc_gain_low"] <= 0:
        out.append(msg("ads.s.realloc_unsure"))
    return out


def _pacing_sentence(r, msg: Messages) -> str:
    tense = "spent" if r.finished else "course"
    status = "over" if r.pace_status == "over" else "under"
    return msg(f"ads.s.pacing_{tense}_{status}", channel=_ch(r.channel, msg), projected=r.projected_spend,
               budget=r.budget, ratio=r.projected_vs_budget)


def sentences(now: Result, before: Result | None, msg: Messages) -> list[str]:
    """The page's conclusions in ``msg``'s language, read only from the two results' tables and values."""
    out: list[str] = []
    v, prev = now.values, (before.values if before is not None else {})
    attr = msg(f"ads.attr.{now.notes['attribution']}")
    if now.notes.get("dropped_rows"):
        out.append(msg("ads.s.dropped_rows", n=now.notes["dropped_rows"]))
    # Spend and MER, new-customer CAC.
    if _finite(prev.get("spend")) is not None and prev.get("spend", 0) > 0:
        out.append(msg("ads.s.spend_mer", spend=v["spend"], change=_signed_pct(_rel_change(v["spend"], prev["spend"]),
                                                                               msg),
                       mer=v["mer"], mer_prev=prev.get("mer")))
        out.append(msg("ads.s.cac", n=v["new_customers"], cac=v["new_customer_cac"],
                       cac_prev=prev.get("new_customer_cac")))
    else:
        out.append(msg("ads.s.spend_mer_now", spend=v["spend"], mer=v["mer"]))
        out.append(msg("ads.s.cac_now", n=v["new_customers"], cac=v["new_customer_cac"]))
    if len(now.tables.get("matching", [])) and (now.matching["table"] == "ad_spend").any():
        out.append(_unmatched_sentence(now, msg))
    if "margin" in now.gaps:  # break-even from the cost_ratio option, or unknown: said before any break-even claim
        out.append(now.gaps["margin"].text(msg))
    ch = now.tables.get("channels", pd.DataFrame())
    paid = ch[ch["spend"].fillna(0) > 0] if len(ch) else ch
    if not now.has("channels"):
        out.append(now.gaps["channels"].text(msg))
    # Platforms against the store.
    if len(paid):
        known = paid[paid["store_revenue"].notna()]
        plat, store = float(known["platform_revenue"].sum()), float(known["store_revenue"].sum())
        largest = known.nlargest(int(now.notes.get("top", 12)), "spend")  # not a tiny channel's accident
        if store > 0 and plat > 0 and largest["platform_vs_store"].notna().any():
            worst = largest.loc[largest["platform_vs_store"].idxmax()]
            out.append(msg("ads.s.overclaim", platform=plat, store=store, ratio=plat / store,
                           channel=_ch(worst["channel"], msg), ch_ratio=worst["platform_vs_store"]))
    # Channels below break-even, with the weekly record.
    record = now.tables.get("weeks_below", pd.DataFrame())
    record = record.set_index("channel") if len(record) else None
    for channel, sentence in _below_sentences(now, msg):
        out.append(sentence)
        if not channel:
            continue
        if record is not None and channel in record.index and record.loc[channel, "weeks"] > 1:
            out.append(msg("ads.s.weeks_below", channel=_ch(channel, msg), k=record.loc[channel, "weeks_below"],
                           n=record.loc[channel, "weeks"]))
    if len(paid) and now.notes.get("margin_source") and not (paid["flag"] == "below_break_even").any():
        out.append(msg("ads.s.none_below", attr=attr))
    if now.notes["attribution"] == "platform" and len(paid):
        store_below = paid[(paid["store_roas"] < paid["break_even_roas"]).fillna(False).astype(bool)]
        if len(store_below):
            out.append(msg("ads.s.store_disagrees", channels=_names(store_below["channel"], msg)))
    if now.notes.get("target_roas") is not None and len(paid):
        under = paid[paid["below_target"]]
        if len(under):
            out.append(msg("ads.s.below_target", channels=_names(under["channel"], msg),
                           target=now.notes["target_roas"], attr=attr))
    # Spend below break-even and the loss, campaign by campaign.
    camp = now.tables.get("campaigns", pd.DataFrame())
    below_spend = v.get("spend_below_break_even", 0.0)
    if len(camp) and below_spend > 0 and v.get("spend", 0) > 0:
        top = camp.loc[camp["shortfall"].idxmax()]
        out.append(msg("ads.s.share_below", share=v["share_below_break_even"], amount=below_spend,
                       shortfall=v["shortfall"], n=int((camp["spend_below_break_even"] > 0).sum()),
                       name=top["campaign"], top=float(top["shortfall"]), top_spend=float(top["spend"])))
    gaps_in_spend = paid[paid["missing_days"] > 0].sort_values("spend", ascending=False) if len(paid) else paid
    for r in gaps_in_spend.head(NAMED).itertuples():
        out.append(msg("ads.s.missing_days", channel=_ch(r.channel, msg), n=r.missing_days,
                       days=r.days + r.missing_days))
    if len(gaps_in_spend) > NAMED:
        out.append(msg("ads.s.missing_days_more", n=len(gaps_in_spend) - NAMED))
    # Response curves.
    curves = now.tables.get("curves", pd.DataFrame())
    if not now.has("curves"):
        out.append(now.gaps["curves"].text(msg))
    if len(curves):
        fitted = curves[curves["status"] == "fitted"]
        if len(fitted):
            items = [msg("ads.s.marginal_item", channel=_ch(r.channel, msg), m=r.marginal_roas, low=r.marginal_low,
                         high=r.marginal_high) for r in fitted.itertuples()]
            out.append(msg("ads.s.marginal", items=msg("ads.s.list_sep").join(items),
                           level=msg.pct(now.notes.get("curve_level", 0.9), 0)))
            below_m = fitted[fitted["marginal_roas"] < fitted["break_even_roas"]]
            sure = below_m["marginal_high"] < below_m["break_even_roas"]
            for key, rows_m in (("ads.s.marginal_below", below_m[sure]), ("ads.s.marginal_below_unsure",
                                                                           below_m[~sure])):
                if len(rows_m):
                    items = [msg("ads.s.marginal_be_item", channel=_ch(r.channel, msg), m=r.marginal_roas,
                                 be=r.break_even_roas) for r in rows_m.itertuples()]
                    out.append(msg(key, items=msg("ads.s.list_sep").join(items)))
        refused = curves[curves["status"] == "refused"]
        if now.has("curves") and len(refused):
            reasons = pd.Series([msg(f"ads.s.reason_{r.reason}", n_days=r.n_days, min_days=r.min_days, cv=r.spend_cv,
                                     min_cv=r.min_cv) for r in refused.itertuples()], index=refused.index, dtype=object)
            for reason, group in refused["channel"].groupby(reasons, sort=False):  # one sentence per distinct reason
                out.append(msg("ads.s.refused", channel=_names(group, msg), reason=reason))
    if now.notes.get("curves_tail"):
        out.append(msg("ads.s.curves_tail", top=now.notes.get("top", 12), n=now.notes["curves_tail"]))
    # The budget shift.
    shift = _realloc_sentences(now, msg)
    if shift:
        out.extend(shift)
        held = now.notes.get("realloc_held") or []
        if held:
            out.append(msg("ads.s.realloc_held", channels=_names(held, msg)))
        out.append(msg("ads.s.caveat"))
    elif now.has("curves") and not now.has("realloc"):
        out.append(now.gaps["realloc"].text(msg))
    # Pacing.
    pace = now.tables.get("pacing", pd.DataFrame())
    if now.has("pacing") and len(pace):
        off = pace[pace["pace_status"].isin(["over", "under"])]
        off = off.assign(gap=(off["projected_spend"] - off["budget"]).abs()).sort_values("gap", ascending=False)
        for r in off.head(NAMED).itertuples():
            out.append(_pacing_sentence(r, msg))
        if len(off) > NAMED:
            out.append(msg("ads.s.pacing_more", n=len(off) - NAMED))
    return out


def minimum_data_note(res: Result, msg: Messages) -> str:
    """The minimum-data rules of :data:`MINIMUM_DATA`, in the page's language, as a Markdown list for ``el.note``."""
    fields = {"min_days": res.notes.get("min_days", 28)}
    keys = ("channels", "over_time", "matching", "margin", "curves", "realloc", "pacing")
    return "\n".join(f"- {msg(f'ads.min.{k}', **fields)}" for k in keys)


def break_even_by_channel(res: Result) -> dict[str, float]:
    """Channel → break-even ROAS of the period's channels (for :func:`plot_over_time`'s reference lines)."""
    ch = res.tables.get("channels", pd.DataFrame())
    if not len(ch):
        return {}
    return {str(c): float(b) for c, b in zip(ch["channel"], ch["break_even_roas"]) if pd.notna(b)}
