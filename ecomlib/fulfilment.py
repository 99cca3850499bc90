"""Fulfilment review: from order to doorstep — dispatch against the promise, backlog, delivery by carrier, warehouse
and region, lost and damaged parcels, split shipments, parcels late in transit, and what late parcels cost later.

Everything the page (``notebooks/fulfilment.ipynb``) shows is computed by :func:`compute` for one period, as known
at the period's end; :func:`headlines`, :func:`findings` and :func:`sentences` read only its results.

The dispatch clock (stated on the page): an order placed on a business day before ``cutoff_hour`` (store-local)
starts its clock that day; one placed later, or on a weekend or a day of ``holidays``, starts on the next business
day. It is dispatched on time when its last parcel is handed to the carrier at most ``dispatch_days`` business days
after the clock starts (``numpy.busday_count``; 48 h = 2 business days). Timestamps are store-local; tz-aware
timestamps passed to :func:`dispatch_clock` are converted to the store's time zone first.

Minimum data per section (:data:`MINIMUM_DATA`):

- dispatch: orders placed in the period with at least one parcel;
- backlog: at least one order placed by the period end (an empty backlog is a result, not a gap);
- delivery: parcels whose promised delivery falls in the period; groups are ranked from ``min_parcels`` (30);
- incidents: parcels shipped in the period;
- split: orders placed in the period with at least one parcel;
- transit: parcels shipped by the period end (none open is a result);
- returns_link: the optional returns table and orders in the trailing ``window_days`` (90);
- repeat: the optional customers table is not needed (first orders come from orders); at least ``min_customers``
  (30) first orders late and on time, placed ``repeat_days`` (90) or more before the period end.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from .errors import ParameterError
from .i18n import Messages, catalogue
from .keys import isin
from .periods import Period
from .report import Headline
from .review import Finding, Gap, Result, load_tables, merged_options, result_value
from .stats import adjust_pvalues, two_proportion_test, wilson_interval

NAME = "fulfilment"

#: Defaults of :func:`compute`'s options (the notebook's parameters of the same names).
OPTIONS = {"dispatch_days": 2, "cutoff_hour": 16, "holidays": (), "weekmask": "1111100", "at_risk_days": 1.0,
           "min_parcels": 30, "window_days": 90, "repeat_days": 90, "cohort_days": 365, "min_customers": 30,
           "alpha": 0.05, "top": 10, "timezone": None}

MINIMUM_DATA = {
    "dispatch": "Order-to-ship time needs orders placed in the period with at least one parcel.",
    "backlog": "The pick/pack backlog needs orders placed by the period end (none waiting is a result).",
    "delivery": "On-time delivery needs parcels whose promised delivery falls in the period; carriers, warehouses "
                "and regions are ranked from min_parcels (30) parcels.",
    "incidents": "Lost and damaged parcels need parcels shipped in the period.",
    "split": "The split-shipment rate needs orders placed in the period with at least one parcel.",
    "transit": "Parcels in transit need parcels shipped by the period end (none open is a result).",
    "returns_link": "Returns for late or failed delivery and transit damage need the optional returns table and "
                    "orders in the window_days (90) ending at the period end.",
    "repeat": "Repeat purchase after a late first order needs min_customers (30) first orders delivered late and "
              "on time among first orders placed cohort_days (365) to repeat_days (90) before the period end.",
}
SECTIONS = tuple(MINIMUM_DATA)
#: Reasons of the returns taxonomy (:mod:`ecomlib.returns`) that the delivery caused.
DELIVERY_REASONS = ("late_delivery", "damaged_in_transit")
INCIDENT_STATUSES = ("lost", "damaged", "returned_to_sender")
DONE_STATUSES = ("delivered", "lost", "damaged", "returned_to_sender")

#: Every column's display unit, declared once: tables (:func:`formats`) and headlines use it.
UNITS: dict[str, str] = {
    **{c: "int" for c in ("orders", "dispatched", "decided", "split_orders", "parcels", "late", "on_time", "backlog", "overdue", "lost", "damaged",
                          "returned_to_sender", "incidents", "split_orders", "open", "past_promise", "at_risk",
                          "returns", "customers", "repeaters", "rank")},
    **{c: "pct" for c in ("on_time_rate", "on_time_low", "on_time_high", "late_rate", "incident_rate",
                          "incident_low", "incident_high", "split_rate", "split_low", "split_high", "return_rate", "return_low", "return_high",
                          "repeat_rate", "repeat_low", "repeat_high", "rest_rate", "share")},
    **{c: "num" for c in ("median_hours", "p90_hours", "median_business_days", "median_days", "p90_days",
                          "age_days", "days_past_promise", "transit_days")},
    **{c: "pp" for c in ("diff", "ci_low", "ci_high")},
    **{c: "p" for c in ("p_value", "p_adjusted")},
    **{c: "money" for c in ("refund_amount",)},
    **{c: "date" for c in ("promised_delivery", "shipped_at", "order_time", "dispatch_due")},
}
_HEADLINE_UNIT = {"pct": "ratio", "money": "money", "int": "count", "num": "number"}


def formats(df: pd.DataFrame) -> dict[str, str]:
    """Display formats of ``df``'s columns from :data:`UNITS` (for :func:`ecomlib.report.styled`)."""
    return {c: UNITS[c] for c in df.columns if c in UNITS}


def _options(options: dict) -> dict:
    from .errors import check_option

    o = merged_options(NAME, options, OPTIONS)
    for name, low in (("dispatch_days", 0), ("min_parcels", 1), ("window_days", 1), ("repeat_days", 1),
                      ("cohort_days", 1), ("min_customers", 1), ("top", 1)):
        if int(o[name]) < low:
            raise ParameterError(f"{name} must be at least {low}, not {o[name]!r}", name=name)
    check_option("cutoff_hour", o["cutoff_hour"], list(range(0, 25)))
    if not 0 < float(o["alpha"]) < 1:
        raise ParameterError(f"alpha must be between 0 and 1 (exclusive), not {o['alpha']!r}", name="alpha")
    if float(o["at_risk_days"]) < 0:
        raise ParameterError(f"at_risk_days must be at least 0, not {o['at_risk_days']!r}", name="at_risk_days")
    if int(o["cohort_days"]) <= int(o["repeat_days"]):
        raise ParameterError(f"cohort_days ({o['cohort_days']}) must be longer than repeat_days ({o['repeat_days']})",
                             name="cohort_days")
    o["holidays"] = _holidays(o["holidays"])
    mask = str(o["weekmask"])
    if len(mask) != 7 or set(mask) - {"0", "1"} or "1" not in mask:
        raise ParameterError(f"weekmask must be seven 0/1 digits Monday to Sunday with at least one 1 (\"1111100\": "
                             f"Monday–Friday), not {o['weekmask']!r}", name="weekmask")
    return o


def _holidays(holidays) -> tuple[np.datetime64, ...]:
    try:
        days = pd.to_datetime(list(holidays or ()), format="mixed")
    except (ValueError, TypeError) as exc:
        raise ParameterError(f"holidays must be a list of dates (YYYY-MM-DD), not {holidays!r}: {exc}",
                             name="holidays") from None
    return tuple(np.datetime64(d.date(), "D") for d in days)


# Business-day arithmetic -----------------------------------------------------------------------------------------
def _local(t: pd.Series, timezone: str | None) -> pd.Series:
    t = pd.to_datetime(pd.Series(t))
    if t.dt.tz is not None:
        if timezone is None:
            raise ParameterError("timestamps carry a time zone: give timezone (the store's, e.g. \"Asia/Shanghai\") "
                                 "so the cut-off is read on the store's clock", name="timezone")
        t = t.dt.tz_convert(timezone).dt.tz_localize(None)
    return t


def dispatch_clock(order_time: pd.Series, *, cutoff_hour: int = 16, holidays: Sequence = (),
                   weekmask: str = "1111100", timezone: str | None = None) -> pd.Series:
    """The business day each order's dispatch clock starts (midnight, store-local).

    An order placed on a business day before ``cutoff_hour`` starts that day; later, or on a non-business day
    (``weekmask`` Monday→Sunday, ``holidays`` a list of dates), it starts on the next business day. tz-aware
    times are converted to ``timezone`` (the store's) first; naive times are taken as store-local.

    >>> t = pd.Series(pd.to_datetime(["2026-11-20 10:00", "2026-11-20 17:00", "2026-11-21 09:00"]))  # Fri, Fri, Sat
    >>> dispatch_clock(t).dt.strftime("%a %d").tolist()
    ['Fri 20', 'Mon 23', 'Mon 23']
    """
    t = _local(order_time, timezone)
    hol = list(_holidays(holidays))
    late = (t.dt.hour >= cutoff_hour).to_numpy()
    day = t.dt.normalize().to_numpy().astype("datetime64[D]")
    valid = ~pd.isna(t).to_numpy()
    out = np.full(len(t), np.datetime64("NaT"), dtype="datetime64[D]")
    d = day[valid] + late[valid].astype("timedelta64[D]")
    out[valid] = np.busday_offset(d, 0, roll="forward", weekmask=weekmask, holidays=hol)
    return pd.Series(pd.to_datetime(out), index=t.index, name="clock_start")


def business_days_between(start: pd.Series, end: pd.Series, *, holidays: Sequence = (),
                          weekmask: str = "1111100") -> pd.Series:
    """Business days from the day of ``start`` up to (not counting) the day of ``end``: 0 when both fall on the
    same day; NaN where either is missing. Fri → next Tue is 2 business days (Fri, Mon).

    >>> s = pd.Series(pd.to_datetime(["2026-11-20"])); e = pd.Series(pd.to_datetime(["2026-11-24 15:00"]))
    >>> business_days_between(s, e).tolist()
    [2.0]
    """
    s, e = pd.to_datetime(pd.Series(start)), pd.to_datetime(pd.Series(end, index=pd.Series(start).index))
    ok = (s.notna() & e.notna()).to_numpy()
    out = np.full(len(s), np.nan)
    out[ok] = np.busday_count(s[ok].dt.normalize().to_numpy().astype("datetime64[D]"),
                              e[ok].dt.normalize().to_numpy().astype("datetime64[D]"),
                              weekmask=weekmask, holidays=list(_holidays(holidays)))
    return pd.Series(out, index=s.index)


def dispatch_due(clock_start: pd.Series, *, dispatch_days: int = 2, holidays: Sequence = (),
                 weekmask: str = "1111100") -> pd.Series:
    """The last business day an order may ship on and still be on time: ``dispatch_days`` business days after the
    clock starts (a shipment that day is still on time)."""
    c = pd.to_datetime(pd.Series(clock_start))
    ok = c.notna().to_numpy()
    out = np.full(len(c), np.datetime64("NaT"), dtype="datetime64[D]")
    out[ok] = np.busday_offset(c[ok].to_numpy().astype("datetime64[D]"), dispatch_days, roll="forward",
                               weekmask=weekmask, holidays=list(_holidays(holidays)))
    return pd.Series(pd.to_datetime(out), index=c.index, name="dispatch_due")


# Building blocks ------------------------------------------------------------------------------------------------
def order_dispatch(orders: pd.DataFrame, shipments: pd.DataFrame, *, as_of: pd.Timestamp, dispatch_days: int = 2,
                   cutoff_hour: int = 16, holidays: Sequence = (), weekmask: str = "1111100",
                   timezone: str | None = None) -> pd.DataFrame:
    """One row per order (not cancelled, placed before ``as_of``) with its dispatch as known at ``as_of``.

    Columns: order_id, customer_id, order_time, parcels, warehouse (of the first parcel), first_shipped, last_shipped
    (NaT unless every parcel shipped before ``as_of``), clock_start, dispatch_due, hours_to_ship (order time → last
    parcel shipped), business_days_to_ship, dispatched (bool), on_time (True/False once decided, NaN while the order
    is unshipped and not yet due).
    """
    o = orders[(orders["status"] != "cancelled") & (orders["order_time"] < as_of)][
        ["order_id", "customer_id", "order_time"]]
    # each parcel's order as its row in o (order_id is the orders' key; -1: an order not in o): grouping and joining
    # on these integers, not on the text ids, keeps a 30×-orders store's 5 M parcels from costing gigabytes
    at = pd.Index(o["order_id"]).get_indexer(shipments["order_id"])
    s = shipments.loc[at >= 0, ["shipment_id", "warehouse", "shipped_at"]].assign(row=at[at >= 0])
    shipped = s["shipped_at"].where(s["shipped_at"] < as_of)
    s = s.assign(shipped=shipped, unshipped=shipped.isna())
    g = s.sort_values("shipment_id").groupby("row", sort=True)  # in o's order, as the inner join of o kept it
    per = g.agg(parcels=("shipment_id", "size"), warehouse=("warehouse", "first"), first_shipped=("shipped", "min"),
                last_shipped=("shipped", "max"), unshipped=("unshipped", "any"))
    per.loc[per["unshipped"], "last_shipped"] = pd.NaT
    out = pd.concat([o.iloc[per.index.to_numpy()].reset_index(drop=True), per.reset_index(drop=True)], axis=1)
    out["clock_start"] = dispatch_clock(out["order_time"], cutoff_hour=cutoff_hour, holidays=holidays,
                                        weekmask=weekmask, timezone=timezone)
    out["dispatch_due"] = dispatch_due(out["clock_start"], dispatch_days=dispatch_days, holidays=holidays,
                                       weekmask=weekmask)
    out["hours_to_ship"] = (out["last_shipped"] - out["order_time"]).dt.total_seconds() / 3600
    out["business_days_to_ship"] = business_days_between(out["clock_start"], out["last_shipped"], holidays=holidays,
                                                         weekmask=weekmask)
    out["dispatched"] = out["last_shipped"].notna()
    overdue = ~out["dispatched"] & (out["dispatch_due"] + pd.Timedelta(days=1) <= as_of)
    on_time = pd.Series(np.nan, index=out.index, dtype=object)
    on_time[out["dispatched"]] = (out.loc[out["dispatched"], "last_shipped"].dt.normalize()
                                  <= out.loc[out["dispatched"], "dispatch_due"])
    on_time[overdue] = False
    out["on_time"] = on_time
    return out.drop(columns="unshipped")


def _rates(df: pd.DataFrame, by: list[str], success: str, *, alpha: float, n_name: str, rate: str,
           low: str, high: str) -> pd.DataFrame:
    g = df.groupby(by, observed=True, dropna=False) if by else None
    if g is None:
        t = pd.DataFrame({n_name: [len(df)], "_x": [int(df[success].sum())]})
    else:
        t = g.agg(**{n_name: (success, "size"), "_x": (success, "sum")}).reset_index()
    lo, hi = wilson_interval(t["_x"], t[n_name], alpha=alpha)
    t[rate] = t["_x"] / t[n_name].where(t[n_name] > 0)
    t[low], t[high] = lo, hi
    return t


def dispatch_summary(disp: pd.DataFrame, period: Period, *, by: str | None = None,
                     alpha: float = 0.05) -> pd.DataFrame:
    """Order-to-ship time and on-time dispatch of the orders placed in ``period`` (from :func:`order_dispatch`).

    One row (or one per ``by``): orders, dispatched, median_hours, p90_hours, median_business_days, on_time (orders
    decided on time), late, on_time_rate (on time ÷ decided) with on_time_low / on_time_high (Wilson).
    """
    d = disp[(disp["order_time"] >= period.start) & (disp["order_time"] < period.end)]
    keys = [by] if by else []
    decided = d[d["on_time"].notna()].assign(ok=lambda x: x["on_time"].astype(bool))
    t = _rates(decided, keys, "ok", alpha=alpha, n_name="decided", rate="on_time_rate", low="on_time_low",
               high="on_time_high").rename(columns={"_x": "on_time"})
    t["late"] = t["decided"] - t["on_time"]
    agg = (d.groupby(keys, observed=True) if keys else d.assign(_k=0).groupby("_k"))
    times = agg.agg(orders=("order_id", "size"), dispatched=("dispatched", "sum"),
                    median_hours=("hours_to_ship", "median"),
                    p90_hours=("hours_to_ship", lambda s: s.quantile(0.9)),
                    median_business_days=("business_days_to_ship", "median")).reset_index(drop=not keys)
    out = pd.concat([times, t.drop(columns=keys)], axis=1) if not keys else times.merge(t, on=keys, how="left")
    return out[[*keys, "orders", "dispatched", "median_hours", "p90_hours", "median_business_days", "decided",
                "on_time", "late", "on_time_rate", "on_time_low", "on_time_high"]]


def backlog(disp: pd.DataFrame, *, as_of: pd.Timestamp) -> pd.DataFrame:
    """Orders waiting to be picked, packed or shipped at ``as_of``, by warehouse: backlog (orders with a parcel not
    yet shipped), overdue (past their dispatch due day), median and max age_days (from the order time)."""
    w = disp[~disp["dispatched"]].assign(age_days=lambda x: (as_of - x["order_time"]).dt.total_seconds() / 86400,
                                         overdue=lambda x: x["dispatch_due"] + pd.Timedelta(days=1) <= as_of)
    w = w.assign(warehouse=w["warehouse"].fillna("–"))
    if w.empty:
        return pd.DataFrame({"warehouse": pd.Series(dtype=object), "backlog": pd.Series(dtype=int),
                             "overdue": pd.Series(dtype=int), "age_days": pd.Series(dtype=float),
                             "max_age_days": pd.Series(dtype=float)})
    return (w.groupby("warehouse").agg(backlog=("order_id", "size"), overdue=("overdue", "sum"),
                                       age_days=("age_days", "median"), max_age_days=("age_days", "max"))
            .reset_index().sort_values("backlog", ascending=False, ignore_index=True))


def parcel_outcomes(shipments: pd.DataFrame, period: Period) -> pd.DataFrame:
    """Parcels whose promised delivery falls in ``period``, each decided as of the period end: on_time (delivered by
    the promise), transit_days (shipped → delivered, delivered parcels), late (everything else: delivered late,
    not delivered by the period end, lost, damaged or returned to sender)."""
    p = shipments[(shipments["promised_delivery"] >= period.start) & (shipments["promised_delivery"] < period.end)
                  & shipments["shipped_at"].notna() & (shipments["shipped_at"] < period.end)].copy()
    delivered = p["delivered_at"].where(p["delivered_at"] < period.end)
    p["on_time"] = (delivered.notna() & (delivered <= p["promised_delivery"])
                    & (p["status"].astype(str) == "delivered"))
    p["transit_days"] = (delivered - p["shipped_at"]).dt.total_seconds() / 86400
    for c in ("carrier", "warehouse", "region"):
        p[c] = p[c].astype(object).fillna("–")
    return p


def delivery_ranking(parcels: pd.DataFrame, *, by: str | Sequence[str] = "carrier", min_parcels: int = 30,
                     alpha: float = 0.05) -> pd.DataFrame:
    """On-time delivery by ``by`` with Wilson intervals, each group tested against the rest (two-proportion z-test,
    Holm over the groups ranked), and a fair ranking: groups with at least ``min_parcels`` parcels are ranked worst
    first by the upper end of their on-time interval (a group ranks low only if even its best case is low);
    smaller groups are listed unranked (``rank`` empty), never at the top or bottom by chance.

    Columns: by…, parcels, on_time, on_time_rate, on_time_low, on_time_high, median_days, p90_days, rest_rate,
    diff (group − rest), p_value, p_adjusted, significant, rank.
    """
    keys = [by] if isinstance(by, str) else list(by)
    t = _rates(parcels, keys, "on_time", alpha=alpha, n_name="parcels", rate="on_time_rate", low="on_time_low",
               high="on_time_high").rename(columns={"_x": "on_time"})
    days = parcels.groupby(keys, observed=True)["transit_days"].agg(median_days="median",
                                                                   p90_days=lambda s: s.quantile(0.9)).reset_index()
    t = t.merge(days, on=keys, how="left")
    rest_x, rest_n = t["on_time"].sum() - t["on_time"], t["parcels"].sum() - t["parcels"]
    test = two_proportion_test(rest_x, rest_n, t["on_time"], t["parcels"])
    t["rest_rate"], t["diff"], t["p_value"] = test["rate_1"], test["diff"], test["p_value"]
    t = t.sort_values(["on_time_high", "on_time_rate"], ascending=True, ignore_index=True)
    big = t["parcels"] >= min_parcels
    t["p_adjusted"] = np.nan
    t.loc[big, "p_adjusted"] = adjust_pvalues(t.loc[big, "p_value"])
    t["significant"] = big & (t["p_adjusted"] < alpha)
    t["rank"] = np.where(big, big.cumsum(), np.nan)
    return pd.concat([t[big], t[~big]], ignore_index=True)


def incidents(shipments: pd.DataFrame, period: Period, *, by: str = "carrier", alpha: float = 0.05) -> pd.DataFrame:
    """Lost, damaged and returned-to-sender parcels among the parcels shipped in ``period`` (status as recorded),
    by ``by``: parcels, lost, damaged, returned_to_sender, incidents, incident_rate (Wilson low / high)."""
    s = shipments[(shipments["shipped_at"] >= period.start) & (shipments["shipped_at"] < period.end)]
    status = s["status"].astype(str)
    s = s.assign(**{k: status == k for k in INCIDENT_STATUSES}, incident=status.isin(INCIDENT_STATUSES),
                 **{by: s[by].astype(object).fillna("–")})
    t = _rates(s, [by], "incident", alpha=alpha, n_name="parcels", rate="incident_rate", low="incident_low",
               high="incident_high").rename(columns={"_x": "incidents"})
    counts = s.groupby(by, observed=True)[list(INCIDENT_STATUSES)].sum().reset_index()
    return t.merge(counts, on=by).sort_values("incident_rate", ascending=False, ignore_index=True)


def split_rate(disp: pd.DataFrame, period: Period, *, alpha: float = 0.05) -> pd.DataFrame:
    """Orders placed in ``period`` shipped in two or more parcels: orders, split_orders, split_rate (Wilson)."""
    d = disp[(disp["order_time"] >= period.start) & (disp["order_time"] < period.end)]
    t = _rates(d.assign(split=d["parcels"] > 1), [], "split", alpha=alpha, n_name="orders", rate="split_rate",
               low="split_low", high="split_high")
    return t.rename(columns={"_x": "split_orders"})


def open_parcels(shipments: pd.DataFrame, *, as_of: pd.Timestamp, at_risk_days: float = 1.0) -> pd.DataFrame:
    """Parcels handed to the carrier before ``as_of`` and not delivered by then, with days_past_promise (> 0: past
    the promise) and state: ``past_promise``, ``at_risk`` (promise within ``at_risk_days`` after ``as_of``) or
    ``on_track``. Parcels recorded as lost, damaged or returned to sender are closed cases (the incidents section
    counts them), not open ones; ``status`` is the parcel's status as recorded."""
    s = shipments[shipments["shipped_at"].notna() & (shipments["shipped_at"] < as_of)
                  & ~(shipments["delivered_at"] < as_of)
                  & ~shipments["status"].astype(str).isin(INCIDENT_STATUSES)]
    s = s.copy()
    s["days_past_promise"] = (as_of - s["promised_delivery"]).dt.total_seconds() / 86400
    s["state"] = np.select([s["days_past_promise"] > 0, s["days_past_promise"] > -float(at_risk_days)],
                           ["past_promise", "at_risk"], "on_track")
    cols = ["shipment_id", "order_id", "carrier", "warehouse", "region", "shipped_at", "promised_delivery",
            "days_past_promise", "state", "status"]
    return s[cols].sort_values("days_past_promise", ascending=False, ignore_index=True)


def delivery_returns(orders: pd.DataFrame, shipments: pd.DataFrame, returns: pd.DataFrame, window: Period, *,
                     rules=None, alpha: float = 0.05) -> pd.DataFrame:
    """Returns for the delivery reasons of the returns taxonomy (late or failed delivery, damaged in transit; mapped by
    :func:`ecomlib.returns.map_reasons` with the same rules) per order shipped, by carrier (the order's first parcel).

    Orders placed in ``window`` and shipped; returns of them received before the window's end. One row per carrier
    and reason: orders, returns (orders with such a return), return_rate (Wilson low / high), refund_amount.
    """
    from .returns import map_reasons

    o = orders[(orders["order_time"] >= window.start) & (orders["order_time"] < window.end)][["order_id"]]
    s = shipments[["shipment_id", "order_id", "carrier", "shipped_at"]]  # only the window's orders' parcels sorted
    s = s[s["shipped_at"].notna() & (s["shipped_at"] < window.end) & isin(s["order_id"], o["order_id"])]
    first = s.sort_values("shipment_id").drop_duplicates("order_id")[["order_id", "carrier"]]
    o = o.merge(first, on="order_id").assign(carrier=lambda x: x["carrier"].astype(object))
    r = returns[isin(returns["order_id"], o["order_id"]) & (returns["returned_at"] < window.end)]
    r = map_reasons(r, rules=rules)
    r = r[r["reason"].astype(str).isin(DELIVERY_REASONS)].assign(reason=lambda x: x["reason"].astype(str))
    per = r.groupby(["order_id", "reason"]).agg(refund_amount=("refund_amount", "sum")).reset_index()
    grid = o.merge(pd.DataFrame({"reason": list(DELIVERY_REASONS)}), how="cross")
    grid = grid.merge(per, on=["order_id", "reason"], how="left")
    grid["returned"] = grid["refund_amount"].notna()
    t = _rates(grid, ["carrier", "reason"], "returned", alpha=alpha, n_name="orders", rate="return_rate",
               low="return_low", high="return_high").rename(columns={"_x": "returns"})
    money = grid.groupby(["carrier", "reason"])["refund_amount"].sum().reset_index()
    return t.merge(money, on=["carrier", "reason"]).sort_values(["reason", "return_rate"], ascending=[True, False],
                                                                 ignore_index=True)


def repeat_after_first(orders: pd.DataFrame, shipments: pd.DataFrame, *, as_of: pd.Timestamp,
                       repeat_days: int = 90, cohort_days: int = 365, alpha: float = 0.05) -> pd.DataFrame:
    """Repeat-purchase rate of customers whose first order arrived late against on time.

    First orders (each customer's earliest order, not cancelled) placed ``cohort_days`` to ``repeat_days`` before
    ``as_of``; late when any of its parcels was delivered after its promise, or never delivered (lost, damaged,
    returned), on time when every parcel arrived by its promise; repeat when the customer ordered again (not
    cancelled) within ``repeat_days`` of the first order. One row per group (``late``, ``on_time``): customers,
    repeaters, repeat_rate (Wilson low / high); plus diff (late − on time) and p_value on the late row.
    """
    o = orders.loc[(orders["status"] != "cancelled") & (orders["order_time"] < as_of),
                   ["customer_id", "order_id", "order_time"]]  # sorted and merged below: only the columns used
    o = o.sort_values(["order_time", "order_id"])
    first = o.drop_duplicates("customer_id")[["customer_id", "order_id", "order_time"]]
    first = first[(first["order_time"] >= as_of - pd.Timedelta(days=cohort_days))
                  & (first["order_time"] < as_of - pd.Timedelta(days=repeat_days))]
    s = shipments.loc[isin(shipments["order_id"], first["order_id"]),
                      ["order_id", "status", "delivered_at", "promised_delivery"]]
    ok = (s["status"].astype(str) == "delivered") & (s["delivered_at"] <= s["promised_delivery"])
    decided = s["status"].astype(str).isin(DONE_STATUSES)
    per = s.assign(ok=ok, decided=decided).groupby("order_id").agg(ok=("ok", "all"), decided=("decided", "all"))
    first = first.merge(per[per["decided"]].reset_index(), on="order_id")
    nxt = o.merge(first[["customer_id", "order_time"]].rename(columns={"order_time": "first_time"}), on="customer_id")
    again = nxt[(nxt["order_time"] > nxt["first_time"])
                & (nxt["order_time"] < nxt["first_time"] + pd.Timedelta(days=repeat_days))]["customer_id"]
    first["repeat"] = isin(first["customer_id"], again)
    first["group"] = np.where(first["ok"], "on_time", "late")
    t = _rates(first, ["group"], "repeat", alpha=alpha, n_name="customers", rate="repeat_rate", low="repeat_low",
               high="repeat_high").rename(columns={"_x": "repeaters"})
    t = t.set_index("group").reindex(["late", "on_time"]).reset_index()
    t[["customers", "repeaters"]] = t[["customers", "repeaters"]].fillna(0).astype(int)
    test = two_proportion_test([t["repeaters"].iloc[1]], [t["customers"].iloc[1]], [t["repeaters"].iloc[0]],
                               [t["customers"].iloc[0]])
    t["diff"] = [float(test["diff"].iloc[0]), np.nan]
    t["p_value"] = [float(test["p_value"].iloc[0]), np.nan]
    return t


# The review ------------------------------------------------------------------------------------------------------
def load(data_dir, **kwargs):
    """The tables of the fulfilment review: orders and shipments (required), returns and customers (optional).
    A folder without shipments raises :class:`~ecomlib.errors.MissingTableError` (the runner skips the page)."""
    return load_tables(data_dir, NAME, **kwargs)


def data_range(ds) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last timestamp of the review's data (orders)."""
    return ds.orders["order_time"].min(), ds.orders["order_time"].max()


def _clean(shipments: pd.DataFrame) -> pd.DataFrame:
    """The shipments with carrier, warehouse, region and status as plain objects (not categories); the other
    columns are shared with ``shipments``, not copied. Through a category, so each distinct name is one Python
    string the rows point to: text cast straight to objects made one string per row (5 M rows and 1.3 GiB on a
    30×-orders store)."""
    return shipments.assign(**{c: shipments[c].astype("category").astype(object)
                               for c in ("carrier", "warehouse", "region", "status")})


def compute(ds, period: Period, **options) -> Result:
    """Everything the fulfilment page shows for ``period``, as known at its end.

    Parameters
    ----------
    ds : :func:`load` output. period : the review period; nothing after its end is used.
    options : see :data:`OPTIONS` — ``dispatch_days`` (2 business days), ``cutoff_hour`` (16, store-local),
        ``holidays`` (list of dates), ``weekmask`` ("1111100"), ``at_risk_days`` (1), ``min_parcels`` (30) per
        ranked group, ``window_days`` (90) for returns, ``repeat_days`` (90) and ``cohort_days`` (365) for repeat
        purchase, ``min_customers`` (30) per group, ``alpha``, ``top`` rows of ranked tables, ``timezone``.

    Returns
    -------
    :class:`~ecomlib.review.Result`. Tables: ``dispatch`` (one row), ``dispatch_by_warehouse``, ``backlog``,
    ``by_carrier``, ``by_warehouse``, ``by_region``, ``by_carrier_region`` (rankings of :func:`delivery_ranking`),
    ``incidents`` (by carrier), ``split``, ``open_parcels``, ``delivery_returns``, ``repeat``. Values: the headline
    numbers (``on_time_dispatch``, ``on_time_delivery``, ``backlog``, ``backlog_overdue``, ``incident_rate``,
    ``split_rate``, ``past_promise``, ``at_risk``, ``delivery_return_rate``). Gaps: sections of
    :data:`MINIMUM_DATA` that cannot be computed.
    """
    o = _options(options)
    alpha, end = float(o["alpha"]), period.end
    clock = dict(holidays=o["holidays"], weekmask=o["weekmask"])
    orders = ds.orders
    ship = _clean(ds.shipments)
    res = Result(NAME, period, notes={k: v for k, v in o.items()})
    res.notes.update(dispatch_days=int(o["dispatch_days"]), holidays=[str(h) for h in o["holidays"]])

    def gap(section, key, **fields):
        res.gaps[section] = Gap(f"fulfilment.gap.{key}", fields)

    disp = order_dispatch(orders, ship, as_of=end, dispatch_days=int(o["dispatch_days"]),
                          cutoff_hour=int(o["cutoff_hour"]), timezone=o["timezone"], **clock)
    in_period = disp[(disp["order_time"] >= period.start) & (disp["order_time"] < end)]
    res.tables["dispatch"] = dispatch_summary(disp, period, alpha=alpha)
    res.tables["dispatch_by_warehouse"] = dispatch_summary(disp, period, by="warehouse", alpha=alpha)
    row = res.tables["dispatch"].iloc[0]
    if in_period.empty:
        gap("dispatch", "no_orders")
        gap("split", "no_orders")
    else:
        res.values.update(on_time_dispatch=row["on_time_rate"], median_hours_to_ship=row["median_hours"],
                          p90_hours_to_ship=row["p90_hours"])
        sp = split_rate(disp, period, alpha=alpha)
        res.tables["split"] = sp
        res.values["split_rate"] = float(sp["split_rate"].iloc[0])

    if disp.empty:
        gap("backlog", "no_orders")
    bl = backlog(disp, as_of=end)
    res.tables["backlog"] = bl
    res.values["backlog"] = int(bl["backlog"].sum())
    res.values["backlog_overdue"] = int(bl["overdue"].sum())

    parcels = parcel_outcomes(ship, period)
    res.tables["parcels"] = parcels
    if parcels.empty:
        gap("delivery", "no_promises")
    else:
        res.values["on_time_delivery"] = float(parcels["on_time"].mean())
        res.values["parcels_due"] = len(parcels)
        mp = int(o["min_parcels"])
        for name, by in (("by_carrier", "carrier"), ("by_warehouse", "warehouse"), ("by_region", "region"),
                         ("by_carrier_region", ["carrier", "region"])):
            res.tables[name] = delivery_ranking(parcels, by=by, min_parcels=mp, alpha=alpha)
        if not (res.tables["by_carrier"]["parcels"] >= mp).any():
            gap("delivery", "too_few_parcels", min_parcels=mp, parcels=len(parcels))

    inc = incidents(ship, period, alpha=alpha)
    res.tables["incidents"] = inc
    if inc.empty:
        gap("incidents", "no_shipped")
    else:
        res.values["incident_rate"] = float(inc["incidents"].sum() / inc["parcels"].sum())
        res.values["incidents"] = int(inc["incidents"].sum())

    op = open_parcels(ship, as_of=end, at_risk_days=float(o["at_risk_days"]))
    res.tables["open_parcels"] = op
    res.values["open"] = len(op)
    res.values["past_promise"] = int((op["state"] == "past_promise").sum())
    res.values["at_risk"] = int((op["state"] == "at_risk").sum())
    if not (ship["shipped_at"] < end).any():
        gap("transit", "nothing_shipped")

    window = Period(end - pd.Timedelta(days=int(o["window_days"])), end)
    res.notes["window"] = window
    if ds.returns is None:
        gap("returns_link", "no_returns_table")
    else:
        dr = delivery_returns(orders, ship, ds.returns, window, alpha=alpha)
        res.tables["delivery_returns"] = dr
        if dr["orders"].sum() == 0:
            gap("returns_link", "no_window_orders", start=window.start, end=window.last_day)
        else:
            by_carrier = dr.groupby("carrier")[["orders"]].first()
            res.values["delivery_return_rate"] = float(dr["returns"].sum() / by_carrier["orders"].sum())
            res.values["delivery_refunds"] = float(dr["refund_amount"].sum())

    rp = repeat_after_first(orders, ship, as_of=end, repeat_days=int(o["repeat_days"]),
                            cohort_days=int(o["cohort_days"]), alpha=alpha)
    res.tables["repeat"] = rp
    res.notes["cohort"] = Period(end - pd.Timedelta(days=int(o["cohort_days"])),
                                 end - pd.Timedelta(days=int(o["repeat_days"])))
    if (rp["customers"] < int(o["min_customers"])).any():
        gap("repeat", "too_few_customers", min_customers=int(o["min_customers"]),
            late=int(rp["customers"].iloc[0]), on_time=int(rp["customers"].iloc[1]))
    else:
        res.values["repeat_late"] = float(rp["repeat_rate"].iloc[0])
        res.values["repeat_on_time"] = float(rp["repeat_rate"].iloc[1])
        if ds.orders is not None:
            from .contract import order_revenue
            rev = order_revenue(orders.loc[orders["order_time"] < end, ["order_id", "status", "revenue"]])
            res.values["revenue_per_order"] = float(rev["revenue"].mean()) if len(rev) else np.nan
    return res


# Headlines, findings and sentences: read only from results ------------------------------------------------------
def headlines(now, before, msg: Messages) -> list[Headline]:
    """The index cards, each the same quantity for the period and the comparison period: on-time dispatch (orders
    placed in the period), on-time delivery (parcels promised in the period), backlog and parcels past their
    promise at the period end, lost/damaged/returned parcels among those shipped, split-shipment rate."""
    spec = [("on_time_dispatch", "ratio", "up", "ecomlib.fulfilment.dispatch_summary"),
            ("on_time_delivery", "ratio", "up", "ecomlib.fulfilment.parcel_outcomes"),
            ("backlog_overdue", "count", "down", "ecomlib.fulfilment.backlog"),
            ("past_promise", "count", "down", "ecomlib.fulfilment.open_parcels"),
            ("incident_rate", "ratio", "down", "ecomlib.fulfilment.incidents"),
            ("split_rate", "ratio", "down", "ecomlib.fulfilment.split_rate")]
    return [Headline(key, msg(f"fulfilment.h.{key}", days=now.notes["dispatch_days"]), result_value(now, key), unit,
                     previous=result_value(before, key), good=good, source=source) for key, unit, good, source in spec]


def _conf(alpha: float) -> str:
    return f"{100 * (1 - alpha):g}"


def _worst_pairs(now) -> pd.DataFrame:
    t = now.tables.get("by_carrier_region")
    if t is None or not now.has("delivery"):
        return pd.DataFrame()
    return t[t["significant"] & (t["diff"] < 0)].sort_values("diff")


def findings(now, before, msg: Messages) -> list[Finding]:
    """The review's structured conclusions, ranked on the index.

    - slow carrier × region: each pair whose on-time delivery is significantly below the rest (Holm over the pairs
      ranked); high when 10 points or more below; no money (the cost shows in the returns and repeat findings);
    - on-time dispatch below 95 %: medium, descriptive;
    - overdue backlog and parcels past their promise at the period end: medium when any, descriptive;
    - delivery-caused returns: the refunds of the window, low, descriptive;
    - repeat purchase after a late first order: money = (on-time rate − late rate) × late first orders × gross
      revenue per order (orders the late deliveries cost, valued at the average order); significant when the
      two-proportion test is below alpha.
    """
    out: list[Finding] = []
    alpha = now.notes["alpha"]
    for row in _worst_pairs(now).head(now.notes["top"]).to_dict("records"):
        text = msg("fulfilment.s.slow_pair", carrier=row["carrier"], region=row["region"], rate=row["on_time_rate"],
                   rest=row["rest_rate"], parcels=row["parcels"], lo=row["on_time_low"], hi=row["on_time_high"],
                   conf=_conf(alpha))
        out.append(Finding(NAME, f"slow_{row['carrier']}_{row['region']}", text,
                           numbers={"on_time_rate": row["on_time_rate"], "rest_rate": row["rest_rate"],
                                    "parcels": row["parcels"], "p_adjusted": row["p_adjusted"]},
                           severity="high" if row["diff"] <= -0.10 else "medium", confidence="significant",
                           anchor="sec-delivery", source="ecomlib.fulfilment.delivery_ranking"))
    disp = result_value(now, "on_time_dispatch")
    if disp is not None and disp < 0.95:
        out.append(Finding(NAME, "dispatch", msg("fulfilment.s.dispatch", rate=disp, days=now.notes["dispatch_days"],
                                                 median=now.values.get("median_hours_to_ship")),
                           numbers={"on_time_dispatch": disp}, severity="medium", anchor="sec-dispatch",
                           source="ecomlib.fulfilment.dispatch_summary"))
    if now.values.get("backlog_overdue"):
        out.append(Finding(NAME, "backlog", msg("fulfilment.s.backlog", n=now.values["backlog"],
                                                overdue=now.values["backlog_overdue"]),
                           numbers={"backlog": now.values["backlog"], "overdue": now.values["backlog_overdue"]},
                           severity="medium", anchor="sec-backlog", source="ecomlib.fulfilment.backlog"))
    if now.values.get("past_promise"):
        out.append(Finding(NAME, "past_promise", msg("fulfilment.s.past_promise", n=now.values["past_promise"],
                                                     at_risk=now.values["at_risk"]),
                           numbers={"past_promise": now.values["past_promise"], "at_risk": now.values["at_risk"]},
                           severity="medium", anchor="sec-transit", source="ecomlib.fulfilment.open_parcels"))
    if now.has("returns_link") and result_value(now, "delivery_refunds"):
        out.append(Finding(NAME, "delivery_returns",
                           msg("fulfilment.s.delivery_returns", rate=now.values["delivery_return_rate"],
                               refunds=now.values["delivery_refunds"], days=now.notes["window_days"]),
                           numbers={"rate": now.values["delivery_return_rate"]}, money=now.values["delivery_refunds"],
                           severity="low", anchor="sec-returns_link", source="ecomlib.fulfilment.delivery_returns"))
    if now.has("repeat"):
        rp = now.tables["repeat"]
        late, on = rp.iloc[0], rp.iloc[1]
        gap_rate = float(on["repeat_rate"] - late["repeat_rate"])
        p = float(late["p_value"])
        money = max(gap_rate, 0.0) * float(late["customers"]) * float(now.values.get("revenue_per_order") or 0.0)
        out.append(Finding(NAME, "repeat", msg("fulfilment.s.repeat", late=late["repeat_rate"], on=on["repeat_rate"],
                                               n=late["customers"], days=now.notes["repeat_days"], p=p),
                           numbers={"late": late["repeat_rate"], "on_time": on["repeat_rate"], "p_value": p},
                           money=money or None, severity="medium" if p < alpha and gap_rate > 0 else "info",
                           confidence="significant" if p < alpha else "not_significant", anchor="sec-repeat",
                           source="ecomlib.fulfilment.repeat_after_first"))
    return out


def sentences(now, before, msg: Messages) -> list[str]:
    """The page's conclusions, in the run's language, read only from the numbers in ``now`` and ``before``."""
    out: list[str] = []
    if now.has("dispatch"):
        out.append(msg("fulfilment.s.dispatch_rate", rate=now.values["on_time_dispatch"],
                       days=now.notes["dispatch_days"], median=now.values["median_hours_to_ship"],
                       p90=now.values["p90_hours_to_ship"],
                       change=msg.pp(now.values["on_time_dispatch"] - result_value(before, "on_time_dispatch"))
                       if result_value(before, "on_time_dispatch") is not None else "–"))
    if now.has("delivery"):
        out.append(msg("fulfilment.s.delivery_rate", rate=now.values["on_time_delivery"],
                       parcels=now.values["parcels_due"]))
        worst = _worst_pairs(now)
        if len(worst):
            row = worst.iloc[0]
            out.append(msg("fulfilment.s.slow_pair", carrier=row["carrier"], region=row["region"],
                           rate=row["on_time_rate"], rest=row["rest_rate"], parcels=row["parcels"],
                           lo=row["on_time_low"], hi=row["on_time_high"], conf=_conf(now.notes["alpha"])))
        else:
            out.append(msg("fulfilment.s.no_slow_pair"))
    out.append(msg("fulfilment.s.backlog", n=now.values["backlog"], overdue=now.values["backlog_overdue"]))
    out.append(msg("fulfilment.s.past_promise", n=now.values["past_promise"], at_risk=now.values["at_risk"]))
    if now.has("incidents"):
        out.append(msg("fulfilment.s.incidents", n=now.values["incidents"], rate=now.values["incident_rate"]))
    if now.has("split"):
        out.append(msg("fulfilment.s.split", rate=now.values["split_rate"]))
    if now.has("returns_link"):
        out.append(msg("fulfilment.s.delivery_returns", rate=now.values["delivery_return_rate"],
                       refunds=now.values["delivery_refunds"], days=now.notes["window_days"]))
    if now.has("repeat"):
        rp = now.tables["repeat"]
        out.append(msg("fulfilment.s.repeat", late=rp["repeat_rate"].iloc[0], on=rp["repeat_rate"].iloc[1],
                       n=rp["customers"].iloc[0], days=now.notes["repeat_days"], p=float(rp["p_value"].iloc[0])))
    return out


# Page helpers: tables, notes and figures -------------------------------------------------------------------------
_TABLE_COLUMNS = {
    "dispatch_by_warehouse": ["warehouse", "orders", "dispatched", "median_hours", "p90_hours",
                              "median_business_days", "on_time_rate", "on_time_low", "on_time_high"],
    "backlog": ["warehouse", "backlog", "overdue", "age_days", "max_age_days"],
    "ranking": ["rank", "parcels", "on_time_rate", "on_time_low", "on_time_high", "median_days", "p90_days",
                "rest_rate", "diff", "p_adjusted"],
    "incidents": ["carrier", "parcels", "lost", "damaged", "returned_to_sender", "incident_rate", "incident_low",
                  "incident_high"],
    "open_parcels": ["shipment_id", "order_id", "carrier", "region", "shipped_at", "promised_delivery",
                     "days_past_promise", "state", "status"],
    "delivery_returns": ["carrier", "reason", "orders", "returns", "return_rate", "return_low", "return_high",
                         "refund_amount"],
    "repeat": ["group", "customers", "repeaters", "repeat_rate", "repeat_low", "repeat_high", "diff", "p_value"],
}
_KEYS = {"by_carrier": ["carrier"], "by_warehouse": ["warehouse"], "by_region": ["region"],
         "by_carrier_region": ["carrier", "region"]}
UNITS["max_age_days"] = "num"


def table(result, name: str, msg: Messages, *, top: int | None = None):
    """A result table ready to show (columns for the page, codes translated, formats from :data:`UNITS`, headers and
    caption from the catalogue); None when the table is empty or absent."""
    from .report import styled

    df = result.tables.get(name)
    if df is None or df.empty:
        return None
    cols = _KEYS[name] + _TABLE_COLUMNS["ranking"] if name in _KEYS else _TABLE_COLUMNS.get(name, list(df.columns))
    df = df[[c for c in cols if c in df]]
    if name == "open_parcels":
        df = df[df["state"] != "on_track"]
        top = top or result.notes["top"]
    if top:
        df = df.head(top)
    if df.empty:
        return None
    for col, prefix in (("state", "fulfilment.state."), ("status", "fulfilment.status."),
                        ("reason", "returns.reason."), ("group", "fulfilment.group.")):
        if col in df:
            df = df.assign(**{col: df[col].map(lambda v, p=prefix: msg(p + str(v)))})
    return styled(df, msg, formats=formats(df), labels=msg.labels(list(df.columns), "fulfilment.col."),
                  caption=msg(f"fulfilment.cap.{name}", min_parcels=result.notes["min_parcels"],
                              start=msg.date(result.notes["window"].start),
                              end=msg.date(result.notes["window"].last_day)))


def page_note(result, key: str, msg: Messages) -> str:
    """A note of the page (``clock``, ``delivery``, ``repeat``, ``minimum``) with the result's options filled in."""
    n = result.notes
    if key == "clock":
        hol = ", ".join(n["holidays"]) if n["holidays"] else msg("fulfilment.note.no_holidays")
        key = f"fulfilment.weekdays.{n['weekmask']}"
        days = msg(key) if key in catalogue() else n["weekmask"]
        return msg("fulfilment.note.clock", days=n["dispatch_days"], cutoff=n["cutoff_hour"], holidays=hol,
                   weekdays=days, hours=24 * n["dispatch_days"])
    if key == "delivery":
        return msg("fulfilment.note.delivery", min_parcels=n["min_parcels"], conf=_conf(n["alpha"]))
    if key == "repeat":
        c = n["cohort"]
        return msg("fulfilment.note.repeat", start=msg.date(c.start), end=msg.date(c.last_day), days=n["repeat_days"])
    if key == "minimum":
        return msg("fulfilment.note.minimum") + " " + " ".join(msg(f"fulfilment.min.{s}") for s in MINIMUM_DATA)
    raise KeyError(f"no page note {key!r}")


def plot_on_time(data: pd.DataFrame, *, x: str = "carrier", hue: str = "region", y: str = "on_time_rate",
                 ax: Axes | None = None, msg: Messages | None = None) -> Axes:
    """On-time delivery rate by ``x`` (bars grouped by ``hue``) with the Wilson interval as error bars; returns the
    Axes. data: a :func:`delivery_ranking` table by [x, hue]."""
    msg = msg or Messages("en")
    if ax is None:
        ax = plt.gca()
    wide = data.pivot_table(index=x, columns=hue, values=y, aggfunc="first")
    lo = data.pivot_table(index=x, columns=hue, values="on_time_low", aggfunc="first").reindex_like(wide)
    hi = data.pivot_table(index=x, columns=hue, values="on_time_high", aggfunc="first").reindex_like(wide)
    n_hue = max(len(wide.columns), 1)
    width = 0.8 / n_hue
    pos = np.arange(len(wide.index))
    for i, col in enumerate(wide.columns):
        vals = wide[col].to_numpy(dtype=float)
        err = np.clip(np.vstack([vals - lo[col].to_numpy(dtype=float), hi[col].to_numpy(dtype=float) - vals]), 0, None)
        ax.bar(pos + (i - (n_hue - 1) / 2) * width, vals, width, yerr=np.nan_to_num(err), capsize=2, label=str(col))
    ax.set_xticks(pos, [str(v) for v in wide.index])
    ax.set_ylim(0, 1.05)
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: msg.pct(v, 0)))
    ax.set_ylabel(msg("fulfilment.ax.on_time_rate"))
    ax.set_xlabel(msg(f"fulfilment.col.{x}"))
    ax.set_title(msg("fulfilment.ax.on_time_title"))
    ax.legend(title=msg(f"fulfilment.col.{hue}"), fontsize=8, ncols=min(n_hue, 5), loc="upper center",
              bbox_to_anchor=(0.5, -0.2), frameon=False)
    return ax


def plot_transit(data: pd.DataFrame, *, x: str = "transit_days", y: str = "carrier", ax: Axes | None = None,
                 msg: Messages | None = None) -> Axes:
    """Transit days (shipped → delivered) by ``y`` as box plots (whiskers 5–95 %); returns the Axes. data: the
    parcels of :func:`parcel_outcomes` (delivered ones carry ``transit_days``)."""
    msg = msg or Messages("en")
    if ax is None:
        ax = plt.gca()
    d = data[data[x].notna()]
    groups = sorted(d[y].astype(str).unique())
    ax.boxplot([d.loc[d[y].astype(str) == g, x].to_numpy() for g in groups], vert=False, whis=(5, 95),
               showfliers=False, tick_labels=groups)
    ax.set_xlabel(msg("fulfilment.ax.transit_days"))
    ax.set_title(msg("fulfilment.ax.transit_title"))
    return ax
