"""Promotion impact: lift in GMV, orders and margin against a counterfactual, the wait before and the dip after,
discount cost against incremental margin, promotion-acquired customers, and returns — the promotions review
(``notebooks/promotions.ipynb``).

**The counterfactual** (what the promotion's scope would have sold without it), per day, for GMV (line revenue,
store currency), orders (orders with at least one line in scope) and margin (line revenue − quantity × unit cost):

- ``control`` (a promotion of some categories or SKUs): the untouched lines of the same days, scaled by the
  scope's share of them in the fit window, by weekday — ``cf[t] = control[t] · Σ scope / Σ control`` over the fit
  window's days of ``t``'s weekday. The control carries the store's trend, weekly rhythm and one-off shocks of the
  promotion days themselves (weather, traffic, a store-wide sale), which a pre-period alone cannot; the weekday
  ratios carry the scope's own weekly pattern.
- ``pre_period`` (a store-wide promotion, or no untouched lines): the scope's mean of each weekday over the fit
  window — weekly seasonality without a control, so a trend or a shock in the promotion days is read as lift
  (stated on the page).

The fit window is the ``fit_days`` (56) before the wait window, leaving out the days of other promotions. The
interval of a lift summed over a window is a prediction interval built from the fit window's weeks: the fit days are
cut into weeks counted back from the fit's last day, and the residuals' weekly sums ``R_w`` give the noise of a sum
per unit of counterfactual, ``κ = Σ_w (R_w² / C_w) / (weeks − 1)`` (``C_w`` the week's counterfactual; a sum's
variance grows with its level, as for counts). A window whose counterfactual sums to ``W`` against ``F`` over the
whole fit then has standard error ``sqrt(κ · W · (1 + W / F))`` — its own noise plus the error of the weekday
ratios, which rest on the fit's ``F`` — with the Student t quantile of (weeks − 1) degrees of freedom. Weekly sums
carry whatever ties a day to the next days of the same week (a noise model of lag-1 autocorrelation read 7-day
sums about 10 % too tight on the demo); a placebo on the demo stores of seeds 42, 7, 2026 and without plants, 6
categories as scope, covers 94.6–96.7 % of untouched 7-, 14- and 28-day windows at 95 % (the lag-1 model: 96–99 %,
too wide for some categories and 94.7 % for Home); ``tests/test_promotions.py`` repeats it on seed 42.

Windows: **wait** — the ``wait_days`` (7) before the start, when customers hold off for an announced sale;
**promotion** — start to end, inclusive; **dip** — the ``dip_days`` (14) after the end, when purchases pulled
forward are missing; **net** — all three together, the promotion's whole effect.

Minimum data per section (also on the page, :data:`MINIMUM_DATA`):

- lift: a promotion that ended at least ``dip_days`` before the period end, and ``min_fit_days`` (28) days of
  sales of its scope in the fit window;
- economics: the promotion's ``discount`` (an optional column) and the lift;
- customers: ``repeat_days`` (60) after the promotion's end, and ``min_customers`` (20) customers acquired in it
  and in the fit window;
- returns: a returns table and ``maturity_days`` (30) after the promotion's end;
- every section of a promotion of categories needs the products table (the category of each SKU).

Revenue is the line revenue (quantity × unit_price) of counted orders (:func:`ecomlib.contract.order_revenue`:
completed and partially refunded), i.e. gross merchandise value after discounts; refunds are the returns section's.
"""

from __future__ import annotations


import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from scipy import stats as sps

from .contract import order_revenue
from .errors import ParameterError
from .i18n import Messages
from .keys import isin
from .review import Gap, Result

__all__ = [
    "compute", "counterfactual", "customer_outcomes", "daily_series", "data_range", "findings", "formats",
    "headlines", "in_scope", "lift_table", "load", "METHODS", "METRICS", "MINIMUM_DATA", "NAME", "OPTIONS",
    "plot_daily", "plot_lift", "promotion_returns", "sentences", "table", "UNITS", "WINDOWS",
]

NAME = "promotions"
OPTIONS = {"promo_id": None, "fit_days": 56, "min_fit_days": 28, "wait_days": 7, "dip_days": 14,
           "repeat_days": 60, "maturity_days": 30, "min_customers": 20, "gross_margin": 0.5, "alpha": 0.05}
METRICS = ("gmv", "orders", "margin")
WINDOWS = ("wait", "promotion", "dip", "net")
METHODS = ("control", "pre_period")

MINIMUM_DATA = {
    "lift": "Lift needs a promotion that ended at least dip_days (14) before the period end and min_fit_days (28) "
            "days of sales of its scope in the fit window (the fit_days, 56, before the wait window, other "
            "promotions' days left out).",
    "economics": "Discount cost needs the promotion's discount (the optional discount column) and the lift.",
    "customers": "Promotion-acquired customers need repeat_days (60) after the promotion's end and min_customers "
                 "(20) customers acquired in it and in the fit window.",
    "returns": "Returns of promotion orders need a returns table and maturity_days (30) after the promotion's end.",
}

#: Every column's display unit, declared once.
UNITS: dict[str, str] = {
    **{c: "money" for c in ("observed", "counterfactual", "lift", "lift_low", "lift_high", "discount_cost",
                            "subsidy", "margin_lift", "margin_low", "margin_high", "value", "value_low",
                            "value_high", "gmv_lift", "gmv_low", "gmv_high")},
    **{c: "pct" for c in ("lift_rel", "rel_low", "rel_high", "repeat_rate_window", "ci_low", "ci_high",
                          "return_rate", "discount", "rate_low", "rate_high", "gmv_rel")},
    **{c: "int" for c in ("days", "customers", "eligible_customers", "repeat_in_window", "units",
                          "units_returned", "fit_days")},
    **{c: "p" for c in ("p_value",)},
    **{c: "pp" for c in ("diff",)},
    "start_date": "date", "end_date": "date",
}
_Z = sps.norm.ppf


def formats(df: pd.DataFrame, metric: str | None = None) -> dict[str, str]:
    """Display formats of ``df``'s columns from :data:`UNITS`; money columns of the ``orders`` metric are counts."""
    out = {c: UNITS[c] for c in df.columns if c in UNITS}
    if metric == "orders":
        out = {c: ("num" if f == "money" else f) for c, f in out.items()}
    return out


# Scope and daily series ---------------------------------------------------------------------------------------
def _promo_rows(promotions: pd.DataFrame) -> pd.DataFrame:
    p = promotions.copy()
    for col, default in (("scope", "all"), ("scope_values", None), ("discount", np.nan)):
        if col not in p:
            p[col] = default
    p["scope"] = p["scope"].astype(object).where(p["scope"].notna(), "all")
    return p


def in_scope(lines: pd.DataFrame, promotion: pd.Series) -> np.ndarray:
    """Boolean mask of the order lines a promotion covers: every line (``all``), lines of its categories
    (``category``, needs ``category``) or of its SKUs (``sku``); ``scope_values`` separated by ``|``."""
    scope = promotion.get("scope") if pd.notna(promotion.get("scope")) else "all"
    if scope == "all":
        return np.ones(len(lines), dtype=bool)
    values = [v.strip() for v in str(promotion.get("scope_values") or "").split("|") if v.strip()]
    col = "category" if scope == "category" else "sku"
    if col not in lines:
        raise ParameterError(f"promotion {promotion['promo_id']} has scope {scope!r}, which needs the products "
                             "table (category per SKU)", name="scope")
    return lines[col].astype(str).isin(values).to_numpy()


def _lines(ds, gross_margin: float) -> pd.DataFrame:
    """Lines of counted orders with day, revenue, margin, and category / unit cost when products are known."""
    orders = order_revenue(ds.orders, basis="gross")[["order_id", "customer_id", "order_time"]]
    lines = ds.order_items.merge(orders, on="order_id", how="inner")
    lines["revenue"] = lines["quantity"] * lines["unit_price"].astype(float)
    products = getattr(ds, "products", None)
    if products is not None:
        lines = lines.merge(products[["sku", "category", "unit_cost"]], on="sku", how="left")
        cost = lines["quantity"] * lines["unit_cost"].astype(float)
        lines["margin"] = lines["revenue"] - cost.fillna(lines["revenue"] * (1 - gross_margin))
    else:
        lines["margin"] = lines["revenue"] * gross_margin
    lines["day"] = lines["order_time"].dt.normalize()
    return lines


def daily_series(lines: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
    """Per day: ``scope_gmv, scope_orders, scope_margin`` of the lines in ``mask`` and ``control_*`` of the others
    (orders counted once per side, an order with lines on both sides on both). Days without sales are 0, from the
    first to the last day of ``lines``."""
    days = pd.date_range(lines["day"].min(), lines["day"].max(), freq="D") if len(lines) else pd.DatetimeIndex([])
    out = {}
    for side, part in (("scope", lines.loc[mask]), ("control", lines.loc[~mask])):
        g = part.groupby("day")
        out[f"{side}_gmv"] = g["revenue"].sum()
        out[f"{side}_orders"] = g["order_id"].nunique().astype(float)
        out[f"{side}_margin"] = g["margin"].sum()
    return pd.DataFrame(out).reindex(days, fill_value=0.0).fillna(0.0).rename_axis("day")


def _windows(promotion: pd.Series, *, wait_days: int, dip_days: int) -> dict[str, tuple[pd.Timestamp, pd.Timestamp]]:
    """Each window as (first day, day after the last)."""
    start, end = pd.Timestamp(promotion["start_date"]).normalize(), pd.Timestamp(promotion["end_date"]).normalize()
    stop = end + pd.Timedelta(days=1)
    return {"wait": (start - pd.Timedelta(days=wait_days), start), "promotion": (start, stop),
            "dip": (stop, stop + pd.Timedelta(days=dip_days)),
            "net": (start - pd.Timedelta(days=wait_days), stop + pd.Timedelta(days=dip_days))}


def counterfactual(daily: pd.DataFrame, *, metric: str, fit: pd.DatetimeIndex, method: str = "control") -> dict:
    """Fit the counterfactual of one metric on the ``fit`` days (module docstring) and predict every day.

    Returns ``{"cf": Series of the counterfactual per day, "kappa": variance of a weekly residual sum per unit of
    counterfactual, "fit_cf": the counterfactual summed over the fit days, "weeks": fit weeks, "df": weeks − 1}``.
    """
    from .errors import check_option

    check_option("method", method, METHODS)
    scope, control = daily[f"scope_{metric}"], daily[f"control_{metric}"]
    dow = pd.Series(daily.index.day_of_week, index=daily.index)
    f = daily.index.isin(fit)
    if method == "control":
        num = scope[f].groupby(dow[f]).sum()
        den = control[f].groupby(dow[f]).sum()
        ratio = (num / den.where(den > 0)).reindex(range(7))
        cf = control * dow.map(ratio)
    else:
        level = scope[f].groupby(dow[f]).mean().reindex(range(7))
        cf = dow.map(level).astype(float)
    days = daily.index[f]
    week = (days.max() - days).days // 7 if len(days) else np.array([], dtype=int)
    resid_week = (scope - cf)[f].groupby(week).sum()
    cf_week = cf[f].groupby(week).sum()
    weeks = len(cf_week)
    share = resid_week ** 2 / cf_week.where(cf_week > 0)
    kappa = float(share.sum() / (weeks - 1)) if weeks > 1 and share.notna().any() else np.nan
    return {"cf": cf, "kappa": kappa, "fit_cf": float(cf_week.sum()), "weeks": weeks, "df": max(weeks - 1, 1)}


def _window_lift(daily: pd.DataFrame, fitted: dict, metric: str, lo: pd.Timestamp, hi: pd.Timestamp,
                 alpha: float) -> dict:
    days = (daily.index >= lo) & (daily.index < hi)
    obs, cf = daily.loc[days, f"scope_{metric}"], fitted["cf"][days]
    observed, counter = float(obs.sum()), float(cf.sum())
    fit_cf = fitted["fit_cf"]
    se = float(np.sqrt(fitted["kappa"] * counter * (1 + counter / fit_cf))) if fit_cf > 0 else np.nan
    lift, z = observed - counter, float(sps.t.ppf(1 - alpha / 2, df=fitted["df"]))
    rel = lift / counter if counter > 0 else np.nan
    return {"days": int(days.sum()), "observed": observed, "counterfactual": counter, "lift": lift,
            "lift_low": lift - z * se, "lift_high": lift + z * se, "lift_rel": rel,
            "rel_low": (lift - z * se) / counter if counter > 0 else np.nan,
            "rel_high": (lift + z * se) / counter if counter > 0 else np.nan, "se": se}


def lift_table(daily: pd.DataFrame, windows: dict, *, fit: pd.DatetimeIndex, method: str,
               alpha: float = 0.05) -> pd.DataFrame:
    """Observed, counterfactual and lift (with its 1 − alpha interval, absolute and relative) of each metric in each
    window. Returns one row per ``metric`` × ``window`` (:data:`METRICS` × :data:`WINDOWS`): ``metric, window,
    days, observed, counterfactual, lift, lift_low, lift_high, lift_rel, rel_low, rel_high, se``."""
    rows = []
    for metric in METRICS:  # three metrics × four windows: a dozen sums over the daily table
        fitted = counterfactual(daily, metric=metric, fit=fit, method=method)
        for window in WINDOWS:
            rows.append({"metric": metric, "window": window,
                         **_window_lift(daily, fitted, metric, *windows[window], alpha=alpha)})
    return pd.DataFrame(rows)


def _fit_days(daily: pd.DataFrame, promotions: pd.DataFrame, promotion: pd.Series, *, windows: dict,
              fit_days: int) -> pd.DatetimeIndex:
    """The fit_days before the wait window that are inside the data and not a day of another promotion."""
    first = windows["wait"][0]
    days = pd.date_range(first - pd.Timedelta(days=fit_days), first - pd.Timedelta(days=1), freq="D")
    others = promotions.loc[promotions["promo_id"] != promotion["promo_id"]]
    busy = np.zeros(len(days), dtype=bool)
    for s, e in zip(others["start_date"], others["end_date"]):  # a handful of promotions
        busy |= (days >= pd.Timestamp(s).normalize()) & (days <= pd.Timestamp(e).normalize())
    days = days[~busy]
    return days[days.isin(daily.index[daily.index >= daily.index.min()])]


# Customers and returns ---------------------------------------------------------------------------------------------
def customer_outcomes(ds, lines: pd.DataFrame, mask: np.ndarray, windows: dict, fit: pd.DatetimeIndex, *,
                      end: pd.Timestamp, repeat_days: int, alpha: float) -> pd.DataFrame:
    """Customers acquired in the promotion (first counted order in it, with a line in scope) against those acquired
    in the fit window ("organic"): repeat rate within ``repeat_days`` (:func:`ecomlib.cohorts.repeat_purchase`,
    Wilson interval) and value of their later orders in those days (mean, normal interval).

    Returns one row per group (``promotion``, ``organic``): ``group, customers, eligible_customers,
    repeat_in_window, repeat_rate_window, ci_low, ci_high, value, value_low, value_high``.
    """
    from .cohorts import repeat_purchase

    counted = order_revenue(ds.orders, basis="gross")
    counted = counted.loc[counted["customer_id"].notna() & (counted["order_time"] < end)]
    first = counted.sort_values("order_time", kind="stable").drop_duplicates("customer_id")
    lo, hi = windows["promotion"]
    day = first["order_time"].dt.normalize()
    promo = first.loc[(day >= lo) & (day < hi) & isin(first["order_id"], lines.loc[mask, "order_id"]), "customer_id"]
    organic = first.loc[day.isin(fit), "customer_id"]
    groups = pd.DataFrame({"customer_id": pd.concat([promo, organic]).to_numpy(),
                           "acquired_in": ["promotion"] * len(promo) + ["organic"] * len(organic)})
    if groups.empty:
        return pd.DataFrame(columns=["group", "customers", "eligible_customers", "repeat_in_window",
                                     "repeat_rate_window", "ci_low", "ci_high", "value", "value_low", "value_high"])
    mine = counted.loc[isin(counted["customer_id"], groups["customer_id"])]
    rep = repeat_purchase(mine, window_days=repeat_days, end=end, customers=groups, by="acquired_in")
    rep = rep.rename(columns={rep.columns[0]: "group"}) if "group" not in rep else rep
    # value of later orders within repeat_days of the first, for customers with the whole window observed
    f = mine.merge(first[["customer_id", "order_time"]].rename(columns={"order_time": "first_time"}), on="customer_id")
    later = f.loc[(f["order_time"] > f["first_time"]) & (f["order_time"] <= f["first_time"]
                                                          + pd.Timedelta(days=repeat_days))]
    eligible = first.set_index("customer_id")["order_time"] + pd.Timedelta(days=repeat_days) <= end
    value = groups.assign(value=groups["customer_id"].map(later.groupby("customer_id")["revenue"].sum()).fillna(0.0))
    value = value.loc[value["customer_id"].map(eligible).fillna(False).astype(bool)]
    g = value.groupby("acquired_in")["value"]
    z = _Z(1 - alpha / 2)
    stats = pd.DataFrame({"value": g.mean(), "se": g.std(ddof=1) / np.sqrt(g.size())})
    stats["value_low"], stats["value_high"] = stats["value"] - z * stats["se"], stats["value"] + z * stats["se"]
    out = rep.merge(stats.drop(columns="se"), left_on="group", right_index=True, how="left")
    cols = ["group", "customers", "eligible_customers", "repeat_in_window", "repeat_rate_window", "ci_low", "ci_high",
            "value", "value_low", "value_high"]
    return out[cols].set_index("group").reindex(["promotion", "organic"]).reset_index()


def promotion_returns(lines: pd.DataFrame, returns: pd.DataFrame, mask: np.ndarray, windows: dict,
                      fit: pd.DatetimeIndex) -> pd.DataFrame:
    """Units returned of the scope's lines sold in the promotion against those sold in the fit window.

    Returns one row per group (``promotion``, ``before``): ``group, units, units_returned, return_rate,
    rate_low, rate_high`` (Wilson 95 %).
    """
    from .stats import wilson_interval

    back = returns.groupby(["order_id", "sku"])["quantity"].sum().rename("units_returned")
    scoped = lines.loc[mask].join(back, on=["order_id", "sku"]).fillna({"units_returned": 0})
    lo, hi = windows["promotion"]
    scoped["group"] = np.where((scoped["day"] >= lo) & (scoped["day"] < hi), "promotion",
                               np.where(scoped["day"].isin(fit), "before", None))
    g = scoped.dropna(subset=["group"]).groupby("group")
    out = pd.DataFrame({"units": g["quantity"].sum(), "units_returned": g["units_returned"].sum()})
    out = out.reindex(["promotion", "before"]).fillna(0).astype(int).rename_axis("group").reset_index()
    out["return_rate"] = out["units_returned"] / out["units"].where(out["units"] > 0)
    lo_, hi_ = wilson_interval(out["units_returned"].to_numpy(), out["units"].to_numpy())
    out["rate_low"], out["rate_high"] = lo_, hi_
    return out


# The review ---------------------------------------------------------------------------------------------------------
def load(data_dir, **kwargs):
    """The tables of the promotions review: orders, order_items, promotions (required); products, returns,
    customers (optional)."""
    from .review import load_tables
    return load_tables(data_dir, NAME, **kwargs)


def data_range(ds) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last order time of the review's data."""
    return ds.orders["order_time"].min(), ds.orders["order_time"].max()


def _gap(key: str, **fields) -> Gap:
    return Gap(f"promotions.gap.{key}", fields)


def _check(name, value, *, minimum=1):
    if not (isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= minimum):
        raise ParameterError(f"{name} must be a whole number ≥ {minimum}, not {value!r}", name=name)


def compute(ds, period, *, promo_id: str | None = None, fit_days: int = 56, min_fit_days: int = 28,
            wait_days: int = 7, dip_days: int = 14, repeat_days: int = 60, maturity_days: int = 30,
            min_customers: int = 20, gross_margin: float = 0.5, alpha: float = 0.05) -> Result:
    """Everything the promotions page shows for ``period``, as known at its end.

    The promotion judged is ``promo_id``, or else the latest one whose dip window (``dip_days`` after its end) has
    ended by the period end. Options are those of :data:`OPTIONS` (module docstring for their meaning).

    Returns
    -------
    :class:`~ecomlib.review.Result` with tables ``promotions`` (every promotion that started before the period
    end, with its net GMV lift where observed), ``daily`` (scope and counterfactual per day), ``lift``
    (:func:`lift_table`), ``economics``, ``customers`` (:func:`customer_outcomes`), ``returns``
    (:func:`promotion_returns`); values ``promo_id``, ``name``, ``method``, ``gmv_rel`` (promotion window),
    ``net_gmv``, ``net_margin`` (with ``_low/_high``), ``dip_gmv`` (with interval), ``discount_cost``,
    ``new_customers``, ``promo_repeat``, ``organic_repeat``, ``repeat_p``, ``return_rate``, ``return_p``.
    """
    for name, value in (("fit_days", fit_days), ("min_fit_days", min_fit_days), ("wait_days", wait_days),
                        ("dip_days", dip_days), ("repeat_days", repeat_days), ("maturity_days", maturity_days),
                        ("min_customers", min_customers)):
        _check(name, value, minimum=0 if name in ("wait_days", "dip_days") else 1)
    if not (isinstance(gross_margin, (int, float)) and 0 < gross_margin <= 1):
        raise ParameterError(f"gross_margin must be a fraction in (0, 1], not {gross_margin!r}", name="gross_margin")
    if not (isinstance(alpha, float) and 0 < alpha < 1):
        raise ParameterError(f"alpha must be a fraction in (0, 1), not {alpha!r}", name="alpha")
    end = period.end
    res = Result(review=NAME, period=period, notes=dict(
        fit_days=fit_days, wait_days=wait_days, dip_days=dip_days, repeat_days=repeat_days,
        maturity_days=maturity_days, min_customers=min_customers, alpha=alpha, gross_margin=gross_margin,
        margin_basis="unit_cost" if getattr(ds, "products", None) is not None else "gross_margin"))
    empty = dict(promo_id=None, name=None, gmv_rel=None, net_gmv=None, net_margin=None, new_customers=None,
                 promo_repeat=None, organic_repeat=None, discount_cost=None, dip_gmv=None)
    res.values.update(empty)
    promos = _promo_rows(ds.promotions)
    started = promos.loc[promos["start_date"] < end].sort_values("start_date")
    # judged once its dip window has passed, inside the period and inside the data (no orders yet is not a dip)
    known = min(end, ds.orders["order_time"].max().normalize() + pd.Timedelta(days=1)) if len(ds.orders) else end
    observed = started.loc[started["end_date"] + pd.Timedelta(days=dip_days + 1) <= known]
    if promo_id is not None:
        if promo_id not in set(promos["promo_id"]):
            raise ParameterError(f"promo_id={promo_id!r} is not in the promotions table; it has "
                                 f"{sorted(promos['promo_id'])}", name="promo_id")
        chosen = observed.loc[observed["promo_id"] == promo_id]
    else:
        chosen = observed.tail(1)
    all_sections = ("lift", "economics", "customers", "returns")
    if chosen.empty:
        for s in all_sections:
            res.gaps[s] = _gap("no_promotion", days=dip_days, date=period.last_day)
        res.tables["promotions"] = _history(started, None, dip_days=dip_days, end=known)
        return res
    promo = chosen.iloc[0]
    res.values.update(promo_id=promo["promo_id"], name=promo["name"], scope=promo["scope"],
                      scope_values=promo["scope_values"], discount=promo["discount"],
                      start=pd.Timestamp(promo["start_date"]), end=pd.Timestamp(promo["end_date"]))
    lines = _lines(ds, gross_margin)
    lines = lines.loc[lines["order_time"] < end]
    if promo["scope"] == "category" and "category" not in lines:
        for s in all_sections:
            res.gaps[s] = _gap("no_products", promo=promo["promo_id"])
        res.tables["promotions"] = _history(started, res, dip_days=dip_days, end=known)
        return res
    mask = in_scope(lines, promo)
    method = "control" if promo["scope"] != "all" and (~mask).any() else "pre_period"
    res.values["method"] = method
    windows = _windows(promo, wait_days=wait_days, dip_days=dip_days)
    res.notes["windows"] = windows
    daily = daily_series(lines, mask)
    fit = _fit_days(daily, promos, promo, windows=windows, fit_days=fit_days)
    res.notes["fit"] = (fit.min(), fit.max(), len(fit)) if len(fit) else (None, None, 0)
    scope_days = int((daily.loc[daily.index.isin(fit), "scope_gmv"] > 0).sum())
    if scope_days < min_fit_days:
        res.gaps["lift"] = res.gaps["economics"] = _gap("fit", days=scope_days, needed=min_fit_days,
                                                        window=fit_days)
    else:
        lift = lift_table(daily, windows, fit=fit, method=method, alpha=alpha)
        res.tables["lift"] = lift
        gmv_cf = counterfactual(daily, metric="gmv", fit=fit, method=method)["cf"]
        show = (daily.index >= windows["net"][0] - pd.Timedelta(days=28)) & (daily.index < windows["net"][1])
        res.tables["daily"] = pd.DataFrame({"day": daily.index[show], "observed": daily.loc[show, "scope_gmv"].to_numpy(),
                                            "counterfactual": gmv_cf[show].to_numpy()})
        at = lift.set_index(["metric", "window"])
        res.values.update(
            gmv_rel=float(at.loc[("gmv", "promotion"), "lift_rel"]),
            gmv_rel_low=float(at.loc[("gmv", "promotion"), "rel_low"]),
            gmv_rel_high=float(at.loc[("gmv", "promotion"), "rel_high"]),
            promo_gmv=float(at.loc[("gmv", "promotion"), "lift"]),
            net_gmv=float(at.loc[("gmv", "net"), "lift"]), net_gmv_low=float(at.loc[("gmv", "net"), "lift_low"]),
            net_gmv_high=float(at.loc[("gmv", "net"), "lift_high"]),
            net_margin=float(at.loc[("margin", "net"), "lift"]),
            net_margin_low=float(at.loc[("margin", "net"), "lift_low"]),
            net_margin_high=float(at.loc[("margin", "net"), "lift_high"]),
            dip_gmv=float(at.loc[("gmv", "dip"), "lift"]), dip_gmv_low=float(at.loc[("gmv", "dip"), "lift_low"]),
            dip_gmv_high=float(at.loc[("gmv", "dip"), "lift_high"]),
            wait_gmv=float(at.loc[("gmv", "wait"), "lift"]), wait_gmv_low=float(at.loc[("gmv", "wait"), "lift_low"]),
            wait_gmv_high=float(at.loc[("gmv", "wait"), "lift_high"]),
            dip_margin=float(at.loc[("margin", "dip"), "lift"]))
        if pd.isna(promo["discount"]):
            res.gaps["economics"] = _gap("no_discount", promo=promo["promo_id"])
        else:
            d = float(promo["discount"])
            p_row = at.loc[("gmv", "promotion")]
            cost = d / (1 - d) * p_row["observed"]
            res.tables["economics"] = pd.DataFrame([{
                "discount": d, "discount_cost": cost, "subsidy": d / (1 - d) * p_row["counterfactual"],
                "margin_lift": at.loc[("margin", "net"), "lift"], "margin_low": at.loc[("margin", "net"), "lift_low"],
                "margin_high": at.loc[("margin", "net"), "lift_high"]}])
            res.values["discount_cost"] = float(cost)
    # promotion-acquired customers
    if end < windows["promotion"][1] + pd.Timedelta(days=repeat_days):
        res.gaps["customers"] = _gap("customers_young", days=repeat_days, date=windows["promotion"][1]
                                     + pd.Timedelta(days=repeat_days - 1))
    else:
        c = customer_outcomes(ds, lines, mask, windows, fit, end=end, repeat_days=repeat_days, alpha=alpha)
        res.tables["customers"] = c
        cc = c.set_index("group")
        res.values["new_customers"] = int(cc.loc["promotion", "customers"]) if len(c) and pd.notna(
            cc.loc["promotion", "customers"]) else 0
        eligible = cc["eligible_customers"].fillna(0) if len(c) else pd.Series(dtype=float)
        if len(c) == 0 or eligible.min() < min_customers:
            res.gaps["customers"] = _gap("customers", n=int(eligible.min()) if len(c) else 0, needed=min_customers,
                                         days=repeat_days)
        else:
            from .stats import two_proportion_test
            t = two_proportion_test([cc.loc["organic", "repeat_in_window"]], [cc.loc["organic", "eligible_customers"]],
                                    [cc.loc["promotion", "repeat_in_window"]],
                                    [cc.loc["promotion", "eligible_customers"]]).iloc[0]
            res.values.update(promo_repeat=float(cc.loc["promotion", "repeat_rate_window"]),
                              organic_repeat=float(cc.loc["organic", "repeat_rate_window"]),
                              repeat_diff=float(t["diff"]), repeat_p=float(t["p_value"]))
    # returns of promotion orders
    returns = getattr(ds, "returns", None)
    if returns is None:
        res.gaps["returns"] = _gap("no_returns")
    elif end < windows["promotion"][1] + pd.Timedelta(days=maturity_days):
        res.gaps["returns"] = _gap("returns_young", days=maturity_days)
    else:
        r = promotion_returns(lines, returns.loc[returns["returned_at"] < end], mask, windows, fit)
        res.tables["returns"] = r
        if (r["units"] == 0).any():
            res.gaps["returns"] = _gap("returns_units")
        else:
            from .stats import two_proportion_test
            t = two_proportion_test([r.loc[1, "units_returned"]], [r.loc[1, "units"]], [r.loc[0, "units_returned"]],
                                    [r.loc[0, "units"]]).iloc[0]
            res.values.update(return_rate=float(r.loc[0, "return_rate"]), return_before=float(r.loc[1, "return_rate"]),
                              return_diff=float(t["diff"]), return_p=float(t["p_value"]))
    res.tables["promotions"] = _history(started, res, dip_days=dip_days, end=known)
    return res


def _history(started: pd.DataFrame, res, *, dip_days: int, end) -> pd.DataFrame:
    """Every promotion that started before the period end: dates, scope, discount, and whether it is judged."""
    out = started[["promo_id", "name", "start_date", "end_date", "scope", "scope_values", "discount"]].copy()
    out["complete"] = out["end_date"] + pd.Timedelta(days=dip_days + 1) <= end
    out["judged"] = out["promo_id"] == (res.values.get("promo_id") if res is not None else None)
    return out.sort_values("start_date", ascending=False).reset_index(drop=True)


# Headlines, findings, sentences --------------------------------------------------------------------------------------
def headlines(now: Result, before: Result, msg: Messages) -> list:
    """The index cards for the promotion judged as of each period's end: GMV lift in the promotion window (relative),
    net incremental margin (wait + promotion + dip), new customers acquired in it, and their repeat rate."""
    from .report import Headline

    days = now.notes["repeat_days"]
    return [
        Headline("gmv_lift", msg("promotions.h.gmv_lift"), now.value("gmv_rel"), "ratio",
                 previous=before.value("gmv_rel"), good="up", source="ecomlib.promotions.lift_table"),
        Headline("net_margin", msg("promotions.h.net_margin"), now.value("net_margin"), "money",
                 previous=before.value("net_margin"), good="up", source="ecomlib.promotions.lift_table"),
        Headline("new_customers", msg("promotions.h.new_customers"), now.value("new_customers"), "count",
                 previous=before.value("new_customers"), good="up", source="ecomlib.promotions.customer_outcomes"),
        Headline("promo_repeat", msg("promotions.h.promo_repeat", days=days), now.value("promo_repeat"), "ratio",
                 previous=before.value("promo_repeat"), good="up", source="ecomlib.promotions.customer_outcomes"),
    ]


def _significant(lo, hi) -> bool:
    return lo is not None and hi is not None and (lo > 0 or hi < 0)


def findings(now: Result, before: Result, msg: Messages) -> list:
    """Structured conclusions for the index.

    - ``lift``: the GMV lift in the promotion window with its interval (significant when it excludes 0); money =
      the net incremental margin when positive.
    - ``pull_forward``: GMV below the counterfactual in the dip window (significant); money = the margin lost then.
    - ``unprofitable``: net incremental margin below 0 with its whole interval (high); money = the loss.
    - ``promo_customers``: customers acquired in the promotion repeat less (or more) than organic ones
      (two-proportion test at alpha).
    """
    from .review import Finding

    v, n = now.values, now.notes
    out = []
    if not now.has("lift"):
        return out
    name = v["name"]
    sig = _significant(v["gmv_rel_low"], v["gmv_rel_high"])
    out.append(Finding(
        review=NAME, key="lift", text=msg("promotions.finding.lift", name=name, rel=v["gmv_rel"],
                                          lo=v["gmv_rel_low"], hi=v["gmv_rel_high"], margin=v["net_margin"]),
        numbers={"promo_id": v["promo_id"], "gmv_rel": v["gmv_rel"], "low": v["gmv_rel_low"],
                 "high": v["gmv_rel_high"], "net_margin": v["net_margin"], "method": v["method"]},
        money=v["net_margin"] if v["net_margin"] > 0 else None, severity="medium" if sig else "low",
        confidence="significant" if sig else "not_significant", anchor="sec-lift",
        source="ecomlib.promotions.lift_table"))
    if v["dip_gmv_high"] < 0:
        out.append(Finding(
            review=NAME, key="pull_forward",
            text=msg("promotions.finding.pull_forward", name=name, gmv=-v["dip_gmv"], days=n["dip_days"],
                     lo=-v["dip_gmv_high"], hi=-v["dip_gmv_low"]),
            numbers={"dip_gmv": v["dip_gmv"], "low": v["dip_gmv_low"], "high": v["dip_gmv_high"]},
            money=-v["dip_margin"] if v["dip_margin"] < 0 else None, severity="medium", confidence="significant",
            anchor="sec-lift", source="ecomlib.promotions.lift_table"))
    if v["net_margin_high"] < 0:
        out.append(Finding(
            review=NAME, key="unprofitable",
            text=msg("promotions.finding.unprofitable", name=name, loss=-v["net_margin"], lo=-v["net_margin_high"],
                     hi=-v["net_margin_low"]),
            numbers={"net_margin": v["net_margin"], "low": v["net_margin_low"], "high": v["net_margin_high"]},
            money=-v["net_margin"], severity="high", confidence="significant", anchor="sec-economics",
            source="ecomlib.promotions.lift_table"))
    if now.has("customers") and v.get("repeat_p") is not None and v["repeat_p"] < n["alpha"]:
        out.append(Finding(
            review=NAME, key="promo_customers",
            text=msg("promotions.finding.repeat_less" if v["repeat_diff"] < 0 else "promotions.finding.repeat_more",
                     name=name, promo=v["promo_repeat"], organic=v["organic_repeat"], days=n["repeat_days"],
                     p=v["repeat_p"]),
            numbers={"promo_repeat": v["promo_repeat"], "organic_repeat": v["organic_repeat"], "p_value": v["repeat_p"]},
            money=None, severity="medium" if v["repeat_diff"] < 0 else "info", confidence="significant",
            anchor="sec-customers", source="ecomlib.promotions.customer_outcomes"))
    return out


def sentences(now: Result, before: Result, msg: Messages) -> list[str]:
    """The page's conclusions, read from the results only."""
    v, n = now.values, now.notes
    out: list[str] = []
    if v["promo_id"] is None or v.get("method") is None:
        return [now.gaps["lift"].text(msg)]
    out.append(msg("promotions.s.judged", name=v["name"], start=v["start"], end=v["end"],
                   scope=_scope_text(v, msg), method=msg(f"promotions.method.{v['method']}")))
    if now.has("lift"):
        out.append(msg("promotions.s.lift", rel=v["gmv_rel"], lo=v["gmv_rel_low"], hi=v["gmv_rel_high"],
                       gmv=v["promo_gmv"]))
        out.append(msg("promotions.s.wait_dip", wait=v["wait_gmv"], wlo=v["wait_gmv_low"], whi=v["wait_gmv_high"],
                       dip=v["dip_gmv"], dlo=v["dip_gmv_low"], dhi=v["dip_gmv_high"], wdays=n["wait_days"],
                       ddays=n["dip_days"]))
        key = ("paid" if v["net_margin_low"] > 0 else "lost" if v["net_margin_high"] < 0 else "unclear")
        out.append(msg(f"promotions.s.margin_{key}", margin=v["net_margin"], lo=v["net_margin_low"],
                       hi=v["net_margin_high"]))
        if now.has("economics"):
            e = now.tables["economics"].iloc[0]
            out.append(msg("promotions.s.economics", discount=e["discount"], cost=e["discount_cost"],
                           subsidy=e["subsidy"]))
    if now.has("customers"):
        key = "repeat_diff" if v["repeat_p"] < n["alpha"] else "repeat_same"
        out.append(msg(f"promotions.s.{key}", n=v["new_customers"], promo=v["promo_repeat"],
                       organic=v["organic_repeat"], days=n["repeat_days"], p=v["repeat_p"]))
    if now.has("returns"):
        out.append(msg("promotions.s.returns", rate=v["return_rate"], before=v["return_before"], p=v["return_p"]))
    return out


def _scope_text(v: dict, msg: Messages) -> str:
    if v.get("scope") in (None, "all"):
        return msg("promotions.scope.all")
    return msg(f"promotions.scope.{v['scope']}", values=str(v.get("scope_values") or "").replace("|", ", "))


# Page helpers ------------------------------------------------------------------------------------------------------
def table(result: Result, name: str, msg: Messages, *, metric: str = "gmv"):
    """A result table ready to show (``lift`` of one ``metric``, ``economics``, ``customers``, ``returns``,
    ``promotions``), labels and captions from the catalogue; None when absent or empty."""
    from .report import styled

    df = result.tables.get(name)
    if df is None or df.empty:
        return None
    if name == "lift":
        df = df.loc[df["metric"] == metric].drop(columns=["metric", "se"])
        df = df.assign(window=df["window"].map(lambda w: msg(f"promotions.window.{w}")))
    if name in ("customers", "returns"):
        df = df.assign(group=df["group"].map(lambda g: msg(f"promotions.group.{g}")))
    if name == "promotions":
        df = df.assign(scope=df["scope"].map(lambda s: msg(f"promotions.scope_code.{s}")),
                       complete=df["complete"].map({True: msg("promotions.flag.yes"), False: msg("promotions.flag.no")}),
                       judged=df["judged"].map({True: "✓", False: ""}))
    caption = msg(f"promotions.cap.{name}", metric=msg(f"promotions.metric.{metric}"), alpha=1 - result.notes["alpha"])
    return styled(df, msg, formats=formats(df, metric if name == "lift" else None),
                  labels=msg.labels(list(df.columns), "promotions.col."), caption=caption)


def page_note(result: Result, key: str, msg: Messages) -> str:
    """A note of the page: ``method`` (the counterfactual and its fit window), ``minimum``."""
    n = result.notes
    if key == "method":
        lo, hi, days = n["fit"]
        return msg(f"promotions.note.{result.values['method']}", start=lo, end=hi, days=days,
                   margin=msg(f"promotions.margin_basis.{n['margin_basis']}", margin=n["gross_margin"]))
    if key == "minimum":
        return msg("promotions.note.minimum") + "\n\n" + "\n".join(
            f"- {msg(f'promotions.sec.{k}')}: {msg(f'promotions.min.{k}')}" for k in MINIMUM_DATA)
    raise ParameterError(f"page_note key must be one of 'method', 'minimum', not {key!r}", name="key")


def plot_daily(data: pd.DataFrame, *, windows: dict, ax: Axes | None = None, msg: Messages | None = None) -> Axes:
    """The scope's daily GMV against its counterfactual, the wait, promotion and dip windows shaded."""
    msg = msg or Messages("en")
    if ax is None:
        ax = plt.gca()
    ax.plot(data["day"], data["observed"], color=sns.color_palette()[0], label=msg("promotions.col.observed"))
    ax.plot(data["day"], data["counterfactual"], color="0.35", linestyle="--",
            label=msg("promotions.col.counterfactual"))
    colours = {"wait": "0.85", "promotion": sns.color_palette()[1], "dip": "0.85"}
    for w in ("wait", "promotion", "dip"):
        lo, hi = windows[w]
        ax.axvspan(lo, hi, color=colours[w], alpha=0.25 if w == "promotion" else 0.5, lw=0,
                   label=msg(f"promotions.window.{w}"))
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: msg.money(v)))
    ax.set(xlabel="", ylabel=msg("promotions.metric.gmv"), title=msg("promotions.plot.daily"))
    ax.legend(loc="upper left", fontsize=8)
    ax.tick_params(axis="x", rotation=30)
    return ax


def plot_lift(data: pd.DataFrame, *, metric: str = "gmv", ax: Axes | None = None,
              msg: Messages | None = None) -> Axes:
    """Lift of one metric in each window (``lift`` table), as a fraction of the counterfactual, with its interval."""
    msg = msg or Messages("en")
    if ax is None:
        ax = plt.gca()
    d = data.loc[data["metric"] == metric].reset_index(drop=True)
    pos = np.arange(len(d))
    colours = [sns.color_palette()[2] if lo > 0 else sns.color_palette()[3] if hi < 0 else "0.6"
               for lo, hi in zip(d["rel_low"], d["rel_high"])]
    ax.bar(pos, d["lift_rel"], color=colours)
    ax.errorbar(pos, d["lift_rel"], yerr=[d["lift_rel"] - d["rel_low"], d["rel_high"] - d["lift_rel"]], fmt="none",
                ecolor="0.2", capsize=4)
    ax.axhline(0, color="0.3", lw=0.8)
    ax.set_xticks(pos, [msg(f"promotions.window.{w}") for w in d["window"]])
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: msg.pct(v, 0)))
    ax.set(xlabel="", ylabel="", title=msg("promotions.plot.lift", metric=msg(f"promotions.metric.{metric}")))
    return ax
