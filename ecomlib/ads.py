"""Ad ROAS review: channel and campaign efficiency, profit-aware ROAS, diminishing returns, budget shifts, pacing.

Tables used: ``ad_spend`` (one row per day, channel and campaign), ``orders`` and, for gross margin,
``order_items`` + ``products``. Money is in the store currency; rates are fractions; ROAS is a multiple
(revenue per unit of spend).

Decisions, stated once
----------------------
- **Which orders count.** Store-side revenue counts orders with status ``completed`` or
  ``partially_refunded`` (:data:`COUNTED_STATUSES`): pending orders may still fail, cancelled and refunded
  ones earned nothing. A partially refunded order counts in full (refunds are the returns review's subject).
- **Store-side attribution** is the order's own ``orders.channel`` (last touch as the store records it),
  by the store-local day of ``order_time``. Platform figures (``platform_conversions``,
  ``platform_revenue``) are what each ad platform claims; platforms over-claim, so both are shown with
  their ratio (``platform_vs_store``).
- **Campaigns.** ``orders.channel`` does not name a campaign, so a campaign's store-side revenue is the
  channel's store revenue in the same time bucket *allocated* by the campaign's share of the channel's
  platform revenue (by spend share where the platform reported no revenue, equally where there was no
  spend either). Campaign store ROAS is therefore an estimate that inherits the channel's uncertainty.
- **Safe division.** A ratio with a zero denominator (zero spend, clicks, impressions or conversions)
  is NaN — never ``inf``, never an error.
- **Missing days.** A day without an ``ad_spend`` row for a channel is *missing*, not zero: the
  ``missing_days`` column counts them, response curves skip them, and pacing counts them as no spend.
- **Intervals.** Store revenue is a sum of random order values (a compound Poisson total), so its
  standard error is ``sqrt(sum of squared order revenues)``; ROAS intervals use it on the log scale.
  Platform revenue comes without order detail: its relative error is taken as ``sqrt((1 + cv²) /
  platform_conversions)`` with ``cv`` the coefficient of variation of the channel's store order values.
- **Gross margin** per channel is ``(Σ quantity × unit_price − Σ quantity × unit_cost) / Σ quantity ×
  unit_price`` over the channel's counted order lines; break-even ROAS is ``1 / margin rate``. A paid
  channel without order lines of its own gets the store-wide margin.
- **Response curves** are Hill curves ``revenue = vmax · s^h / (k^h + s^h)`` of daily channel revenue (of
  the chosen attribution) on daily channel spend, fitted with :func:`scipy.optimize.curve_fit`, with a
  bootstrap over days for the uncertainty band. A channel with fewer than ``min_days`` days or too little
  spend variation is refused, with the reason. The shape ``h`` is fixed at 1 by default: a budget's
  usual spend range cannot tell ``k`` and ``h`` apart.
- **Budget shifts** keep the total, move each channel at most ±50 % and stay within the daily spend seen
  in the fit window; their gain has a bootstrap band. They are observational: spend was not randomised,
  so a shift should be tested before it is trusted.
- **Pacing** projects spend to date linearly to the end of the period.
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

from .contract import REVENUE_STATUSES
from .errors import EcomlibError, FitError, NotFittedError, ParameterError
from .i18n import Messages
from .periods import Period
from .report import Headline

COUNTED_STATUSES = REVENUE_STATUSES
ATTRIBUTIONS = ("store", "platform")
LEVELS = ("channel", "campaign")
FREQS = (None, "D", "W")
FIT_CODES = ("too_few_days", "no_spend", "no_variation", "no_revenue", "no_convergence")

_VOLUME = ["spend", "impressions", "clicks", "platform_conversions", "platform_revenue"]


class CurrencyError(EcomlibError):
    """Raised when a table's money is in another currency than the store's.

    Attributes: ``table``, ``expected`` (the store currency), ``found`` (currency → number of rows).
    """

    def __init__(self, table: str, expected: str, found: Mapping[str, int]):
        self.table, self.expected, self.found = table, expected, dict(found)
        listing = ", ".join(f"{cur} ({n:,} row{'s' if n != 1 else ''})" for cur, n in self.found.items())
        super().__init__(
            f"table '{table}': money must be in the store currency {expected}, but the currency column holds "
            f"{listing}. Fix: convert those rows to {expected} before loading (ad platforms often bill in "
            f"USD), or correct `currency` in store.yaml if the store's currency is wrong.")


class ResponseFitError(FitError):
    """Raised when a channel's spend→revenue curve cannot or should not be fitted (too few days, flat spend…).

    Attributes: ``channel``, ``code`` (one of :data:`FIT_CODES`, for translated messages), ``details``
    (numbers behind the reason, e.g. ``{"n_days": 12, "min_days": 28}``), plus ``model``/``reason``.
    """

    def __init__(self, channel: str, code: str, reason: str, details: Mapping[str, float] | None = None):
        self.channel, self.code, self.details = channel, code, dict(details or {})
        super().__init__(f"response curve for '{channel}'", reason)


# Small helpers ---------------------------------------------------------------------------------------
def _div(num, den) -> pd.Series | np.ndarray:
    """``num / den`` with NaN wherever ``den`` is 0 or missing (never inf)."""
    num = pd.Series(num, dtype=float) if not isinstance(num, pd.Series) else num.astype(float)
    den = pd.Series(den, dtype=float, index=num.index) if not isinstance(den, pd.Series) else den.astype(float)
    return num / den.where(den > 0)


def _check_choice(name: str, value, choices: Sequence) -> None:
    if value not in choices:
        raise ParameterError(f"{name} must be one of {list(choices)}, not {value!r}", name=name)


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
    kept = orders[orders["status"].isin(list(statuses))]
    kept = kept.assign(day=kept["order_time"].dt.normalize())
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
    agg["channel"] = agg["channel"].astype(str)
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
    ads = ads.assign(channel=ads["channel"].astype(str), campaign=ads["campaign"].astype(str))
    if freq:
        ads = ads.assign(date_bucket=_bucket(ads["date"], freq))
    keys = ["date"] if freq else []
    group = keys + ["channel"] + (["campaign"] if level == "campaign" else [])
    gcols = [("date_bucket" if k == "date" else k) for k in group]
    volume = (ads.groupby(gcols)[_VOLUME].sum(min_count=1)
              .join(ads.groupby(gcols)["date"].nunique().rename("days"))
              .reset_index().rename(columns={"date_bucket": "date"}))
    channels = set(ad_spend["channel"].astype(str))
    store = _store_side(orders, keys, freq, period, statuses)
    store = store[store["channel"].isin(channels)]

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
    out = out.merge(_bucket_days(ad_spend, period, freq), on=keys, how="left") if keys else \
        out.assign(bucket_days=_bucket_days(ad_spend, period, None))
    out["missing_days"] = (out["bucket_days"] - out["days"]).clip(lower=0).astype(int)
    out = _add_ratios(out, alpha)
    cols = (group + ["days", "missing_days"] + _VOLUME
            + ["ctr", "cpc", "cpm", "cvr", "cpa", "platform_roas", "platform_roas_low", "platform_roas_high",
               "store_orders", "store_revenue", "new_customers", "store_roas", "store_roas_low",
               "store_roas_high", "platform_vs_store", "cac"])
    return out[cols].sort_values(group, kind="stable").reset_index(drop=True)


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
                target_roas: float | None = None) -> pd.DataFrame:
    """Add margin, break-even, contribution and flags to a :func:`performance` table.

    Parameters
    ----------
    perf : output of :func:`performance` (any level and freq).
    margins : output of :func:`channel_margins`.
    attribution : ``"store"`` (the store's own orders) or ``"platform"`` (what the platforms claim): which
        revenue the ROAS, contribution and flags use.
    target_roas : the ROAS the business aims for (×); None = no target flag.

    Returns
    -------
    The ``perf`` rows with ``margin_rate``, ``break_even_roas`` (a channel without order lines of its own
    gets the store-wide margin of ``margins``), ``revenue`` / ``roas`` / ``roas_low`` /
    ``roas_high`` (of the chosen attribution), ``contribution`` = revenue × margin_rate − spend (money),
    ``profit_roas`` = roas × margin_rate (gross profit per unit of spend; 1 = break-even),
    ``below_break_even`` (roas < break-even, or any spend at a non-positive margin), ``surely_below``
    (even the interval's upper end is below break-even), ``below_target`` (roas < target_roas, among those
    at or above break-even), ``wasted_spend`` (the spend of rows below break-even, else 0) and ``flag``
    (``"below_break_even"``, ``"below_target"``, ``"ok"``, or ``"no_spend"``).

    Example
    -------
    >>> perf = pd.DataFrame({"channel": ["display"], "spend": [100.0], "store_revenue": [150.0],
    ...                      "store_roas": [1.5], "store_roas_low": [1.0], "store_roas_high": [2.2]})
    >>> margins = pd.DataFrame({"channel": ["display"], "margin_rate": [0.5], "break_even_roas": [2.0]})
    >>> profit_view(perf, margins)[["contribution", "profit_roas", "flag", "wasted_spend"]]
       contribution  profit_roas              flag  wasted_spend
    0         -25.0         0.75  below_break_even         100.0
    """
    _check_choice("attribution", attribution, ATTRIBUTIONS)
    if target_roas is not None and not (np.isfinite(target_roas) and target_roas > 0):
        raise ParameterError(f"target_roas must be a positive number (a multiple such as 3.0), not {target_roas!r}",
                             name="target_roas")
    out = perf.drop(columns=[c for c in ("margin_rate", "break_even_roas") if c in perf]).merge(
        margins[["channel", "margin_rate", "break_even_roas"]], on="channel", how="left")
    if "line_revenue" in margins and out["margin_rate"].isna().any():  # a channel without order lines:
        overall = _div(pd.Series([(margins["line_revenue"] - margins["cost"]).sum()]),  # the store-wide margin
                       pd.Series([margins["line_revenue"].sum()])).iloc[0]
        missing = out["margin_rate"].isna()
        out.loc[missing, "margin_rate"] = overall
        out.loc[missing, "break_even_roas"] = 1 / overall if overall > 0 else np.nan
    spend = out["spend"]
    revenue = out[f"{attribution}_revenue"]
    roas = out[f"{attribution}_roas"]
    out = out.assign(revenue=revenue, roas=roas, roas_low=out[f"{attribution}_roas_low"],
                     roas_high=out[f"{attribution}_roas_high"],
                     contribution=revenue * out["margin_rate"] - spend, profit_roas=roas * out["margin_rate"])
    no_margin = (out["margin_rate"] <= 0) & (spend > 0)
    below = ((roas < out["break_even_roas"]) | no_margin).fillna(False).astype(bool)
    surely = ((out["roas_high"] < out["break_even_roas"]) | no_margin).fillna(False).astype(bool)
    target = (~below & (roas < target_roas)).fillna(False).astype(bool) if target_roas is not None else \
        pd.Series(False, index=out.index)
    flag = np.select([~(spend > 0), below, target], ["no_spend", "below_break_even", "below_target"], "ok")
    return out.assign(below_break_even=below, surely_below=surely, below_target=target,
                      wasted_spend=spend.where(below, 0.0).fillna(0.0), flag=flag)


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
            statuses: Sequence[str] = COUNTED_STATUSES) -> dict[str, float]:
    """Blended figures of a period: MER and new-customer CAC over all channels.

    Returns a dict: ``spend`` (all ad spend), ``revenue`` (all counted store revenue, every channel),
    ``mer`` = revenue / spend (marketing efficiency ratio, ×), ``paid_revenue`` (store revenue of the
    channels in ad_spend), ``store_roas`` = paid_revenue / spend, ``new_customers`` (customers whose
    first counted order falls in the period), ``new_customer_cac`` = spend / new_customers (money). NaN where
    a denominator is 0.

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
    revenue = float(o["revenue"].sum())
    paid = float(o.loc[o["channel"].astype(str).isin(list(set(ad_spend["channel"].astype(str)))), "revenue"].sum())
    new = float(o["first_order"].sum())
    ratio = lambda a, b: a / b if b > 0 else float("nan")  # noqa: E731
    return {"spend": spend, "revenue": revenue, "mer": ratio(revenue, spend), "paid_revenue": paid,
            "store_roas": ratio(paid, spend), "new_customers": new, "new_customer_cac": ratio(spend, new)}


def pacing(ad_spend: pd.DataFrame, budgets: Mapping[str, float], *, period: Period,
           as_of: pd.Timestamp | str | None = None, tolerance: float = 0.1) -> pd.DataFrame:
    """Spend to date against each channel's budget for the period, with a straight-line projection to its end.

    Parameters
    ----------
    ad_spend : contract ``ad_spend`` table.
    budgets : channel → budget for the whole period (store currency). May be empty.
    period : the budget period.
    as_of : last day of data to count (inclusive); None = the last ``ad_spend`` day in the period (the
        period's last day when the data runs past it).
    tolerance : projected spend within ± this fraction of budget counts as on track.

    Returns
    -------
    DataFrame, one row per budgeted channel: ``budget``, ``spend_to_date``, ``days_elapsed``, ``days_total``,
    ``projected_spend`` = spend_to_date / days_elapsed × days_total, ``projected_vs_budget`` (fraction),
    ``pace_status`` (``"over"``, ``"under"``, ``"on_track"``). A day without an ad_spend row counts as no spend.

    Example
    -------
    >>> from ecomlib.periods import parse_period
    >>> ads = pd.DataFrame({"date": pd.date_range("2026-11-16", periods=3), "channel": "display",
    ...                     "spend": [100.0, 120.0, 80.0]})
    >>> pacing(ads, {"display": 700.0}, period=parse_period("2026-W47"))[["projected_spend", "pace_status"]]
       projected_spend pace_status
    0            700.0    on_track
    """
    known = sorted(set(ad_spend["channel"].astype(str)))
    unknown = sorted(set(budgets) - set(known))
    if unknown:
        raise ParameterError(f"budgets name channels that are not in ad_spend: {unknown}; the channels are {known}",
                             name="budgets")
    bad = {k: v for k, v in budgets.items()
           if isinstance(v, bool) or not (isinstance(v, Real) and np.isfinite(v) and v >= 0)}
    if bad:
        raise ParameterError(f"budgets must be amounts ≥ 0 in the store currency; not {bad}", name="budgets")
    cols = ["channel", "budget", "spend_to_date", "days_elapsed", "days_total", "projected_spend",
            "projected_vs_budget", "pace_status"]
    if not budgets:
        return pd.DataFrame(columns=cols)
    inside = ad_spend[period.contains(ad_spend["date"])]
    if as_of is None:
        as_of = inside["date"].max() if len(inside) else period.start - pd.Timedelta(days=1)
    as_of = min(pd.Timestamp(as_of).normalize(), period.last_day)
    elapsed = max((as_of - period.start).days + 1, 0)
    to_date = (inside[inside["date"].dt.normalize() <= as_of].assign(channel=lambda d: d["channel"].astype(str))
               .groupby("channel")["spend"].sum())
    out = pd.DataFrame({"channel": list(budgets), "budget": [float(v) for v in budgets.values()]})
    out["spend_to_date"] = out["channel"].map(to_date).fillna(0.0)
    out["days_elapsed"] = elapsed
    out["days_total"] = period.days
    out["projected_spend"] = (out["spend_to_date"] / elapsed * period.days) if elapsed else np.nan
    out["projected_vs_budget"] = _div(out["projected_spend"], out["budget"])
    ratio = out["projected_vs_budget"]
    out["pace_status"] = np.select([ratio > 1 + tolerance, ratio < 1 - tolerance], ["over", "under"], "on_track")
    out.loc[ratio.isna(), "pace_status"] = np.where(out.loc[ratio.isna(), "spend_to_date"] > 0, "over", "on_track")
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
        ``proposed_marginal_roas`` (×).
    gain, gain_low, gain_high : expected extra revenue over ``days`` days, with its bootstrap band (money).
    total_spend : daily spend shared out (the same before and after).
    held : channels left at their spend because they have no curve.
    """

    table: pd.DataFrame
    gain: float
    gain_low: float
    gain_high: float
    total_spend: float
    days: int
    alpha: float
    held: tuple[str, ...] = field(default_factory=tuple)


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

    def reallocate(self, current_spend: Mapping[str, float], *, days: int = 1,
                   max_change: float = 0.5) -> Reallocation:
        """Share the same total daily spend among the fitted channels so that expected revenue is highest.

        Maximises Σ f_c(s_c) subject to Σ s_c = Σ current (SLSQP); at the optimum the marginal ROAS is equal
        across channels not at a bound. Each channel moves at most ``max_change`` (fraction) from its current
        daily spend and stays within the daily spend seen in the fit data (the curve is not trusted beyond
        it). Channels without a curve keep their spend. The gain is per ``days`` days, with the bootstrap
        band of the same shift. Observational: see the module notes.
        """
        self._check()
        current = pd.Series(current_spend, dtype=float).fillna(0.0)
        chans = [c for c in sorted(self.models_) if c in current.index]
        held = tuple(c for c in current.index if c not in self.models_)
        models = [self.models_[c] for c in chans]
        cur = current.loc[chans].to_numpy()
        lo = np.minimum(np.maximum(cur * (1 - max_change), [m.spend_min_ for m in models]), cur)
        hi = np.maximum(np.minimum(cur * (1 + max_change), [m.spend_max_ for m in models]), cur)
        total = float(cur.sum())
        scale = max(total, 1.0)
        f = lambda x: -sum(m.predict(v * scale) for m, v in zip(models, x)) / scale  # noqa: E731
        grad = lambda x: -np.array([m.marginal(v * scale) for m, v in zip(models, x)],  # noqa: E731
                                   dtype=float).ravel()
        new = cur.copy()
        if len(chans) > 1 and total > 0:
            res = optimize.minimize(f, cur / scale, jac=grad, method="SLSQP",
                                    bounds=list(zip(lo / scale, hi / scale)),
                                    constraints=[{"type": "eq", "fun": lambda x: x.sum() - total / scale,
                                                  "jac": lambda x: np.ones_like(x)}],
                                    options={"ftol": 1e-12, "maxiter": 500})
            cand = np.clip(res.x * scale, lo, hi)
            diff = total - cand.sum()  # rounding left by the optimiser: put it where the bounds leave room
            room = (hi - cand) if diff > 0 else (cand - lo)
            if room.sum() > 0:
                cand = cand + diff * room / room.sum()
            if -f(cand / scale) > -f(cur / scale):
                new = cand
        cur_rev = np.array([float(m.predict(v)) for m, v in zip(models, cur)])
        new_rev = np.array([float(m.predict(v)) for m, v in zip(models, new)])
        table = pd.DataFrame({"channel": chans, "current_spend": cur, "proposed_spend": new, "change": new - cur,
                              "current_revenue": cur_rev, "proposed_revenue": new_rev,
                              "marginal_roas": [float(m.marginal(v)) for m, v in zip(models, cur)],
                              "proposed_marginal_roas": [float(m.marginal(v)) for m, v in zip(models, new)]})
        gain = float((new_rev - cur_rev).sum()) * days
        n_draws = min((len(m.boot_) for m in models), default=0)
        if n_draws >= 2:
            per = np.array([hill(v1, *m.boot_[:n_draws].T) - hill(v0, *m.boot_[:n_draws].T)
                            for m, v0, v1 in zip(models, cur, new)])  # channels × draws
            draws = per.sum(axis=0) * days
            g_lo, g_hi = float(np.quantile(draws, self.alpha / 2)), float(np.quantile(draws, 1 - self.alpha / 2))
        else:
            g_lo = g_hi = float("nan")
        return Reallocation(table, gain, g_lo, g_hi, total, days, self.alpha, held)


def response_data(ad_spend: pd.DataFrame, orders: pd.DataFrame, *, window: Period, attribution: str = "store",
                  statuses: Sequence[str] = COUNTED_STATUSES) -> pd.DataFrame:
    """Daily spend and revenue per channel for curve fitting: ``channel, date, spend, revenue``.

    ``revenue`` is the chosen attribution's (``"store"``: the channel's counted orders that day;
    ``"platform"``: platform_revenue). Days without an ad_spend row for the channel are left out (spend
    unknown); days with spend but no orders have revenue 0.
    """
    _check_choice("attribution", attribution, ATTRIBUTIONS)
    daily = performance(ad_spend, orders, period=window, level="channel", freq="D", statuses=statuses)
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
    return inside.assign(channel=inside["channel"].astype(str)).groupby("channel")["spend"].sum() / period.days


# Plots ---------------------------------------------------------------------------------------------------
MONEY_COLUMNS = {"spend", "platform_revenue", "store_revenue", "revenue", "contribution", "wasted_spend", "cpc",
                 "cpa", "cpm", "cac", "current_spend", "proposed_spend", "expected_revenue", "low", "high"}
RATIO_COLUMNS = {"roas", "store_roas", "platform_roas", "platform_vs_store", "profit_roas", "marginal_roas"}


def _axis_formatter(column: str, msg: Messages) -> FuncFormatter | None:
    if column in MONEY_COLUMNS:
        return FuncFormatter(lambda v, _: msg.money(v))
    if column in RATIO_COLUMNS:
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
    levels = sorted(data[hue].astype(str).unique())
    colours = _palette(levels)
    sns.lineplot(data=data.assign(**{hue: data[hue].astype(str)}), x=x, y=y, hue=hue, hue_order=levels,
                 palette=colours, marker="o", markersize=3, ax=ax, **kwargs)
    handles, labels = ax.get_legend_handles_labels()
    if isinstance(ref, Mapping):
        for level in levels:
            if level in ref and np.isfinite(ref[level]):
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
        ax.plot(d[x], d[y], color=colours[level], label=level, **kwargs)
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


def headline_numbers(rows: pd.DataFrame, blend: Mapping[str, float]) -> dict[str, float]:
    """The review's headline numbers for one period.

    rows : a period-level :func:`profit_view` table, campaigns (the finer view, as the notebook uses) or
    channels: the share of spend below break-even is Σ wasted_spend / Σ spend over its rows.
    blend : :func:`blended` output of the same period.

    Returns ``spend`` (money), ``mer`` (×), ``store_roas`` (×), ``share_below_break_even`` (fraction of
    spend), ``new_customer_cac`` (money).

    Example
    -------
    >>> rows = pd.DataFrame({"spend": [100.0, 300.0], "wasted_spend": [100.0, 0.0]})
    >>> blend = {"spend": 400.0, "mer": 5.0, "store_roas": 2.0, "new_customer_cac": 40.0}
    >>> headline_numbers(rows, blend)["share_below_break_even"]
    0.25
    """
    spend = float(rows["spend"].sum())
    return {"spend": blend["spend"], "mer": blend["mer"], "store_roas": blend["store_roas"],
            "share_below_break_even": float(rows["wasted_spend"].sum()) / spend if spend > 0 else float("nan"),
            "new_customer_cac": blend["new_customer_cac"]}


def headlines(now: Mapping[str, float], before: Mapping[str, float] | None, msg: Messages) -> list[Headline]:
    """:class:`ecomlib.Headline` objects for :func:`ecomlib.record_headlines` from two :func:`headline_numbers`."""
    before = before or {}
    spec = [("spend", "money", None), ("mer", "multiple", "up"), ("store_roas", "multiple", "up"),
            ("share_below_break_even", "ratio", "down"), ("new_customer_cac", "money", "down")]
    clean = lambda v: None if v is None or not np.isfinite(v) else float(v)  # noqa: E731
    return [Headline(key, msg(f"ads.h.{key}"), clean(now.get(key)), unit, previous=clean(before.get(key)), good=good)
            for key, unit, good in spec]


def sentences(channels: pd.DataFrame, *, msg: Messages, blend: Mapping[str, float],
              blend_before: Mapping[str, float] | None = None, campaigns: pd.DataFrame | None = None,
              weekly: pd.DataFrame | None = None, curves: pd.DataFrame | None = None,
              realloc: Reallocation | None = None, pacing_table: pd.DataFrame | None = None,
              target_roas: float | None = None, attribution: str = "store", band: float = 0.9) -> list[str]:
    """The review's conclusions, written from the numbers, in ``msg``'s language.

    Parameters
    ----------
    channels : :func:`profit_view` of the period, channel level.
    blend, blend_before : :func:`blended` of the period and of the comparison period.
    campaigns : :func:`profit_view` of the period, campaign level (for wasted spend).
    weekly : :func:`profit_view` per week over a longer window (how many weeks a channel was below break-even).
    curves : :meth:`ResponseCurves.summary`, with ``break_even_roas`` merged in when available.
    realloc : :meth:`ResponseCurves.reallocate` result.
    pacing_table : :func:`pacing` output.
    target_roas, attribution : as given to :func:`profit_view`.
    band : coverage of the curves' bands (1 − alpha of :class:`ResponseCurves`).

    Returns a list of sentences (strings).
    """
    out: list[str] = []
    attr = msg(f"ads.attr.{attribution}")
    # Spend and MER, new-customer CAC.
    if blend_before:
        out.append(msg("ads.s.spend_mer", spend=blend["spend"],
                       change=_signed_pct(_rel_change(blend["spend"], blend_before["spend"]), msg),
                       mer=blend["mer"], mer_prev=blend_before["mer"]))
        out.append(msg("ads.s.cac", n=blend["new_customers"], cac=blend["new_customer_cac"],
                       cac_prev=blend_before["new_customer_cac"]))
    else:
        out.append(msg("ads.s.spend_mer_now", spend=blend["spend"], mer=blend["mer"]))
        out.append(msg("ads.s.cac_now", n=blend["new_customers"], cac=blend["new_customer_cac"]))
    # Platforms against the store.
    paid = channels[channels["spend"] > 0]
    plat, store = float(paid["platform_revenue"].sum()), float(paid["store_revenue"].sum())
    if store > 0 and plat > 0:
        worst = paid.loc[paid["platform_vs_store"].idxmax()] if paid["platform_vs_store"].notna().any() else None
        out.append(msg("ads.s.overclaim", platform=plat, store=store, ratio=plat / store,
                       channel=worst["channel"] if worst is not None else "–",
                       ch_ratio=worst["platform_vs_store"] if worst is not None else float("nan")))
    # Channels below break-even, with the weekly record.
    record = weeks_below(weekly).set_index("channel") if weekly is not None and len(weekly) else None
    below = paid[paid["below_break_even"]].sort_values("wasted_spend", ascending=False)
    for row in below.itertuples():  # the few flagged channels
        key = ("ads.s.below_no_interval" if not np.isfinite(row.roas_high) else
               "ads.s.below_sure" if row.surely_below else "ads.s.below_unsure")
        out.append(msg(key, channel=row.channel, attr=attr, roas=row.roas, low=row.roas_low, high=row.roas_high,
                       be=row.break_even_roas, margin=row.margin_rate, contribution=row.contribution, spend=row.spend))
        if record is not None and row.channel in record.index and record.loc[row.channel, "weeks"] > 1:
            out.append(msg("ads.s.weeks_below", channel=row.channel, k=record.loc[row.channel, "weeks_below"],
                           n=record.loc[row.channel, "weeks"]))
    if len(paid) and below.empty:
        out.append(msg("ads.s.none_below", attr=attr))
    if attribution == "platform" and "store_roas" in paid:
        store_below = paid[(paid["store_roas"] < paid["break_even_roas"]).fillna(False).astype(bool)]
        if len(store_below):
            out.append(msg("ads.s.store_disagrees", channels=msg("ads.s.name_sep").join(store_below["channel"])))
    if target_roas is not None:
        under = paid[paid["below_target"]]
        if len(under):
            out.append(msg("ads.s.below_target", channels=msg("ads.s.name_sep").join(under["channel"]),
                           target=target_roas, attr=attr))
    # Wasted spend.
    rows = campaigns if campaigns is not None else paid
    total = float(rows["spend"].sum())
    wasted = float(rows["wasted_spend"].sum())
    if wasted > 0 and total > 0:
        top = rows.loc[rows["wasted_spend"].idxmax()]
        name = top["campaign"] if "campaign" in rows else top["channel"]
        out.append(msg("ads.s.share_below", share=wasted / total, amount=wasted, name=name,
                       top=float(top["wasted_spend"])))
    for row in paid[paid["missing_days"] > 0].itertuples():
        out.append(msg("ads.s.missing_days", channel=row.channel, n=row.missing_days,
                       days=row.days + row.missing_days))
    # Response curves.
    if curves is not None and len(curves):
        fitted = curves[curves["status"] == "fitted"]
        if len(fitted):
            items = [msg("ads.s.marginal_item", channel=r.channel, m=r.marginal_roas, low=r.marginal_low,
                         high=r.marginal_high) for r in fitted.itertuples()]
            out.append(msg("ads.s.marginal", items=msg("ads.s.list_sep").join(items), level=msg.pct(band, 0)))
            if "break_even_roas" in fitted:
                below_m = fitted[fitted["marginal_roas"] < fitted["break_even_roas"]]
                sure = below_m["marginal_high"] < below_m["break_even_roas"]
                for key, rows_m in (("ads.s.marginal_below", below_m[sure]), ("ads.s.marginal_below_unsure",
                                                                               below_m[~sure])):
                    if len(rows_m):
                        items = [msg("ads.s.marginal_be_item", channel=r.channel, m=r.marginal_roas,
                                     be=r.break_even_roas) for r in rows_m.itertuples()]
                        out.append(msg(key, items=msg("ads.s.list_sep").join(items)))
        refused = curves[curves["status"] == "refused"]
        reasons = pd.Series([msg(f"ads.s.reason_{r.reason}", n_days=r.n_days, min_days=r.min_days, cv=r.spend_cv,
                                 min_cv=r.min_cv) for r in refused.itertuples()], index=refused.index, dtype=object)
        for reason, names in refused["channel"].groupby(reasons, sort=False):  # one sentence per distinct reason
            out.append(msg("ads.s.refused", channel=msg("ads.s.name_sep").join(names), reason=reason))
    if realloc is not None and len(realloc.table):
        moves = realloc.table[realloc.table["change"].abs() >= 0.01 * max(realloc.total_spend, 1)]
        if len(moves) and realloc.gain > 0:
            moves = moves.sort_values("change")
            text = msg("ads.s.list_sep").join(
                msg("ads.s.move_item", channel=r.channel, change=_signed_money(r.change, msg))
                for r in moves.itertuples())
            out.append(msg("ads.s.realloc", moves=text, gain=realloc.gain, days=realloc.days, low=realloc.gain_low,
                           high=realloc.gain_high, level=msg.pct(1 - realloc.alpha, 0)))
            if np.isfinite(realloc.gain_low) and realloc.gain_low <= 0:
                out.append(msg("ads.s.realloc_unsure"))
        else:
            out.append(msg("ads.s.realloc_none"))
        if realloc.held:
            out.append(msg("ads.s.realloc_held", channels=msg("ads.s.name_sep").join(realloc.held)))
        out.append(msg("ads.s.caveat"))
    # Pacing.
    if pacing_table is not None:
        for r in pacing_table[pacing_table["pace_status"] != "on_track"].itertuples():
            out.append(msg(f"ads.s.pacing_{r.pace_status}", channel=r.channel, projected=r.projected_spend,
                           budget=r.budget, ratio=r.projected_vs_budget))
    return out


def _signed_money(x: float, msg: Messages) -> str:
    return ("+" if x > 0 else "−" if x < 0 else "") + msg.money(abs(x))
