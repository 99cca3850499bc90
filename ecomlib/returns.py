"""Return-cause review: return rates by the period goods were sold in, reasons, reason-mix tests, culprit SKUs, cost.

Definitions used throughout (money in the store currency, rates are fractions in [0, 1], times naive store-local):

- A *sale* is an order line (``order_id, sku``) of an order whose status is in :data:`SOLD_STATUSES`
  (cancelled and pending orders never shipped). ``sold_lines`` builds them with product and supplier columns.
- A return is matched to its sale by ``(order_id, sku)`` and counted in the period the goods were **sold**
  in, not returned in: the return rate of sales week W is units returned from sales made in W / units sold
  in W. ``return_lines`` maps each return's reason and attaches its sale's columns.
- Returns lag sales (1–30 days in the demo store). Sales younger than ``maturity_days`` on the as-of date
  (the end of the review period) still have returns to come, so their rate is too low. They are left out
  of every rate, test and ranking; the trend shows them as *provisional*. A weekly run therefore measures
  rates on a trailing window of sales (``sales_window``: ``window_days`` of sales ending ``maturity_days``
  before the period end), with returns counted up to the period end. ``time_to_return`` measures how many
  returns arrive within ``maturity_days``, to check the choice.
- Reasons come from the platform reason code, else from keywords in the free text (Chinese and English),
  with rules in an editable YAML file (``ecomlib/rules/return_reasons.yaml``; see its header). A return
  that matches nothing is ``unmapped`` — kept apart from ``other`` (a reason that says nothing specific).
- Culprits: a SKU's (or supplier's) returned units against what its category predicts, with the category
  rate computed *without* the SKU itself, an exact Poisson interval on observed / expected, a one-sided
  Poisson test with Holm correction, and a minimum sales volume.
- Cost: refunds (money given back), lost shipping (the ``shipping_fee`` of orders with a return, split over
  their returns, or a fixed amount per return) and the landed cost of returned units that cannot be resold.
- A culprit SKU is judged against its category *and* its supplier's other SKUs of that category: when those
  return as much, the supplier (named on the page) explains the excess, not the SKU.
- The quality-return rate (:func:`quality_return_rate`) is the kit's one definition, used by the supplier page.
- Returned units beyond the units sold on their order line are counted apart (``units_over_returned``) and never
  enter a rate, so no rate exceeds 100 %.

The review interface (:mod:`ecomlib.review`): :func:`load`, :func:`compute`, :func:`headlines`, :func:`findings`,
:func:`sentences`. The headline return rate is a trailing window of mature sales; its previous value is the same
window as of the comparison period's end. A header-only returns table means "no returns"; the suppliers table is
optional (suppliers are shown by id without it).

Minimum data (``MINIMUM_DATA``; a section below its minimum is a Gap with a sentence, the rest still renders):

- ``rates``: units sold in the sales window (``window_days`` of sales ending ``maturity_days`` before the end);
- ``change``: sales in that window and in the ``window_days`` before it;
- ``timing``: at least 20 returns of sales at least 90 days old;
- ``reasons``, ``cost``: at least one return of the window's sales;
- ``mix``, ``mix_supplier``: two groups and two reasons with at least ``min_count`` (20) returns each (supplier ids
  for the supplier mix);
- ``culprits``: a SKU with at least ``min_units`` (100) units sold in the culprit window;
- ``suppliers``: supplier ids on products and a supplier with at least ``min_units`` units sold.

Example
-------
>>> import ecomlib as el
>>> from ecomlib import returns
>>> ds = returns.load("data/demo")                                      # doctest: +SKIP
>>> period = el.parse_period("2026-W47")
>>> now, before = returns.compute(ds, period), returns.compute(ds, period.previous())   # doctest: +SKIP
>>> [h.key for h in returns.headlines(now, before, el.Messages("en"))]  # doctest: +SKIP
['return_rate', 'refunds', 'unmapped_share', 'top_culprit_excess']
>>> now.culprits.head()                                                 # doctest: +SKIP

The building blocks work on contract tables directly (the supplier review uses them)::

    sold = returns.sold_lines(ds.orders, ds.order_items, ds.products, suppliers=ds.suppliers)
    ret = returns.return_lines(ds.returns, sold, as_of=period.end)      # what was known at the period end
    returns.quality_return_rate(sold, ret, by="supplier_id", window=returns.sales_window(period))
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter, PercentFormatter
from scipy import stats as sps

from .contract import ORDER_STATUSES, SOLD_STATUSES
from .errors import RulesError
from .i18n import Messages
from .periods import Period
from .report import Headline
from .review import Finding, Gap, Result, merged_options
from .rulesfile import packaged, read_rules
from .stats import (
    adjust_pvalues,
    chi_square_residuals,
    minimum_detectable_difference,
    two_proportion_test,
    wilson_interval,
)

TAXONOMY = ("size_fit", "quality_defect", "damaged_in_transit", "not_as_described", "wrong_item",
            "late_delivery", "changed_mind", "other")
UNMAPPED = "unmapped"
REASONS = TAXONOMY + (UNMAPPED,)
SOURCES = ("code", "text", "none")
RULE_KEYS = ("priority", "codes", "keywords")
CULPRIT_LEVELS = ("sku", "supplier_id")
FREQS = {"W": "week", "M": "month"}

__all__ = [
    "compute", "CULPRIT_LEVELS", "data_range", "describe_mix", "excess_returns", "findings", "formats", "headlines",
    "label_values", "load", "load_rules", "map_reasons", "mde_ratio", "MINIMUM_DATA", "NAME",
    "OPTIONS", "page_note", "period_summary", "plot_costs", "plot_pareto", "plot_residuals", "plot_time_to_return",
    "plot_trend", "quality_return_rate", "rate_trend", "reason_mix_test", "reason_summary", "ReasonMixTest",
    "ReasonRules", "REASONS", "return_costs", "return_lines", "return_rates", "RulesError", "sales_window",
    "SECTIONS", "sentences", "sold_lines", "SOLD_STATUSES", "table", "TAXONOMY", "time_to_return", "UNITS",
    "UNMAPPED", "unmapped_values", "window_change",
]


# Reason rules ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReasonRules:
    """Validated reason rules: platform codes and free-text keywords → taxonomy reason.

    codes : normalised code (``SIZE_TOO_SMALL``) → reason; keywords : reason → keywords (plain text);
    priority : the order in which reasons' keywords are tried (first match wins); path : where they came from.
    """

    codes: dict[str, str]
    keywords: dict[str, tuple[str, ...]]
    priority: tuple[str, ...]
    path: str = "<packaged>"

    def pattern(self, reason: str) -> str | None:
        """One regular expression for the keywords of ``reason`` (None when it has none).

        English keywords (starting with a letter, digit or ``_``) must start a word; others match anywhere.
        """
        words = self.keywords.get(reason, ())
        if not words:
            return None
        parts = [(r"(?:^|[^A-Za-z0-9_])" if re.match(r"[A-Za-z0-9_]", w) else "") + re.escape(w) for w in words]
        return "|".join(parts)

    @property
    def label(self) -> str:
        """Where the rules came from, for the page: the packaged file's package path, else the path given."""
        return "ecomlib/rules/return_reasons.yaml" if self.path == str(packaged("return_reasons.yaml")) else self.path

    def __repr__(self) -> str:
        n_words = sum(len(w) for w in self.keywords.values())
        return f"ReasonRules({len(self.codes)} codes, {n_words} keywords, path={self.path!r})"


def _code_key(code: str) -> str:
    return re.sub(r"[\s\-]+", "_", str(code).strip().upper())


def _normalise_text(text: pd.Series) -> pd.Series:
    """Full-width → half-width (NFKC), typographic apostrophes → ``'``; missing stays missing."""
    return text.astype("str").where(text.notna()).str.normalize("NFKC").str.replace("\u2019", "'", regex=False)


def load_rules(path: str | Path | None = None) -> ReasonRules:
    """Read and check a reason rules file (None: the packaged ``ecomlib/rules/return_reasons.yaml``).

    The file has three keys: ``priority`` (taxonomy reasons, the order keywords are tried), ``codes``
    (platform → code → reason) and ``keywords`` (reason → list of words). Raises :class:`RulesError` naming
    the key that is wrong and what it should hold.

    Example
    -------
    >>> rules = load_rules()
    >>> rules.codes["SIZE_TOO_SMALL"], rules.priority[0]
    ('size_fit', 'damaged_in_transit')
    """
    file, raw = read_rules(path, name="return_reasons.yaml", keys=RULE_KEYS)
    valid = f"one of {list(TAXONOMY)}"

    priority = raw["priority"]
    if not isinstance(priority, list) or not all(isinstance(r, str) for r in priority):
        raise RulesError(file, "priority", "is not a list of reason names", f"a list of reasons, each {valid}")
    for i, reason in enumerate(priority):
        if reason not in TAXONOMY:
            raise RulesError(file, f"priority[{i}]", f"unknown reason {reason!r}", valid)
    dupes = sorted({r for r in priority if priority.count(r) > 1})
    if dupes:
        raise RulesError(file, "priority", f"lists {dupes[0]!r} twice", "each reason at most once")

    codes: dict[str, str] = {}
    platforms = raw["codes"] or {}
    if not isinstance(platforms, dict):
        raise RulesError(file, "codes", "is not a mapping",
                         "platform → {CODE: reason}, e.g. shopify: {DEFECTIVE: quality_defect}")
    for platform, table in platforms.items():
        table = table or {}
        if not isinstance(table, dict):
            raise RulesError(file, f"codes.{platform}", "is not a mapping", f"CODE: reason pairs, each reason {valid}")
        for code, reason in table.items():
            where = f"codes.{platform}.{code}"
            if reason not in TAXONOMY:
                raise RulesError(file, where, f"unknown reason {reason!r}", valid)
            key = _code_key(code)
            if codes.get(key, reason) != reason:
                raise RulesError(file, where, f"maps {key} to {reason!r}, but another platform maps it to "
                                 f"{codes[key]!r}", "one reason per code (the data has no platform column)")
            codes[key] = reason

    keywords: dict[str, tuple[str, ...]] = {}
    table = raw["keywords"] or {}
    if not isinstance(table, dict):
        raise RulesError(file, "keywords", "is not a mapping", "reason → list of keywords")
    for reason, words in table.items():
        where = f"keywords.{reason}"
        if reason not in TAXONOMY:
            raise RulesError(file, where, f"unknown reason {reason!r}", valid)
        words = words or []
        if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
            raise RulesError(file, where, "is not a list of non-empty texts",
                             "a list of keywords, e.g. [质量, defect]")
        if words and reason not in priority:
            raise RulesError(file, where, f"has keywords but {reason!r} is not in priority",
                             "every reason with keywords listed under priority")
        norm = _normalise_text(pd.Series([w.strip() for w in words], dtype="str"))
        keywords[reason] = tuple(norm.tolist())
    return ReasonRules(codes=codes, keywords=keywords, priority=tuple(priority), path=str(file))


def _rules(rules: ReasonRules | str | Path | None) -> ReasonRules:
    return rules if isinstance(rules, ReasonRules) else load_rules(rules)


def map_reasons(returns: pd.DataFrame, *, rules: ReasonRules | str | Path | None = None) -> pd.DataFrame:
    """Map each return to a taxonomy reason from its platform code, else its free text.

    A code that maps to a specific reason decides; otherwise the text's keywords are tried in the rules'
    priority order (case-insensitive, Chinese and English); otherwise a code that maps to ``other`` gives
    ``other``; anything else is ``unmapped``.

    Parameters
    ----------
    returns : contract ``returns`` table (``reason_code``, ``reason_text``; other columns are kept).
    rules : a :class:`ReasonRules`, a path to a rules file, or None for the packaged rules.

    Returns
    -------
    A copy with two categorical columns: ``reason`` (one of :data:`REASONS`) and ``reason_source``
    (``code``, ``text`` or ``none``).

    Example
    -------
    >>> df = pd.DataFrame({"reason_code": ["DEFECTIVE", None, None], "reason_text": [None, "尺码偏小", "??"]})
    >>> map_reasons(df)["reason"].tolist()
    ['quality_defect', 'size_fit', 'unmapped']
    """
    rules = _rules(rules)
    codes = returns["reason_code"]
    code_text = codes.astype("str").where(codes.notna())
    code_key = code_text.str.strip().str.upper().str.replace(r"[\s\-]+", "_", regex=True)
    from_code = code_key.map(rules.codes).to_numpy(dtype=object)
    text = _normalise_text(returns["reason_text"]).fillna("")
    ordered = [r for r in rules.priority if rules.pattern(r)]
    if ordered:
        hits = np.column_stack([text.str.contains(rules.pattern(r), case=False, regex=True).to_numpy(dtype=bool)
                                for r in ordered])
        from_text = np.where(hits.any(axis=1), np.array(ordered, dtype=object)[hits.argmax(axis=1)], None)
    else:
        from_text = np.full(len(returns), None, dtype=object)
    has_code, has_text = pd.notna(from_code), pd.notna(from_text)
    specific = has_code & (from_code != "other")
    reason = np.where(specific, from_code, np.where(has_text, from_text, np.where(has_code, from_code, UNMAPPED)))
    source = np.where(specific | (~has_text & has_code), "code", np.where(has_text, "text", "none"))
    return returns.assign(reason=pd.Categorical(reason, categories=list(REASONS)),
                          reason_source=pd.Categorical(source, categories=list(SOURCES)))


def unmapped_values(mapped: pd.DataFrame, *, top: int = 10) -> pd.DataFrame:
    """The most frequent codes and texts that no rule matched — what to add to the rules file.

    mapped : output of :func:`map_reasons` or :func:`return_lines`. Returns up to ``top`` rows:
    ``reason_code, reason_text, returns`` (count), most frequent first.
    """
    left = mapped.loc[mapped["reason"] == UNMAPPED, ["reason_code", "reason_text"]]
    counts = left.groupby(["reason_code", "reason_text"], dropna=False).size().rename("returns").reset_index()
    return counts.sort_values("returns", ascending=False, kind="stable").head(top).reset_index(drop=True)


# Sales, returns and windows -----------------------------------------------------------------------------------
def sold_lines(orders: pd.DataFrame, order_items: pd.DataFrame, products: pd.DataFrame, *,
               suppliers: pd.DataFrame | None = None, statuses: Sequence[str] = SOLD_STATUSES) -> pd.DataFrame:
    """Order lines that count as sales, with order, product and supplier columns.

    Parameters
    ----------
    orders, order_items, products, suppliers : contract tables (suppliers optional).
    statuses : order statuses that count as sold (default completed, partially_refunded, refunded).

    Returns
    -------
    One row per sold order line: ``order_id, sku, quantity`` (units sold), ``unit_price, order_time,
    channel, status, shipping_fee, product_name, category, supplier_id, unit_cost, supplier_name``
    (the supplier_id where no suppliers table is given).

    Example
    -------
    >>> sold = sold_lines(ds.orders, ds.order_items, ds.products, suppliers=ds.suppliers)  # doctest: +SKIP
    """
    bad = sorted(set(statuses) - set(ORDER_STATUSES))
    if bad:
        raise ValueError(f"statuses {bad} are not order statuses; use some of {ORDER_STATUSES}")
    columns = ["order_id", "order_time", "channel", "status", "shipping_fee"]
    o = orders.loc[orders["status"].isin(list(statuses)), columns]
    lines = order_items[["order_id", "sku", "quantity", "unit_price"]].merge(o, on="order_id", how="inner")
    lines = lines.merge(products[["sku", "product_name", "category", "supplier_id", "unit_cost"]], on="sku", how="left")
    if suppliers is not None:
        lines = lines.merge(suppliers[["supplier_id", "supplier_name"]], on="supplier_id", how="left")
        lines["supplier_name"] = lines["supplier_name"].fillna(lines["supplier_id"])
    else:
        lines["supplier_name"] = lines["supplier_id"]
    return lines


_LINE_COLUMNS = ["order_time", "channel", "shipping_fee", "unit_price"]
_PRODUCT_COLUMNS = ["product_name", "category", "supplier_id", "supplier_name", "unit_cost"]


def return_lines(returns: pd.DataFrame, sold: pd.DataFrame, *, rules: ReasonRules | str | Path | None = None,
                 as_of: pd.Timestamp | str | None = None) -> pd.DataFrame:
    """Returns with their reason and the columns of the sale they came from.

    Parameters
    ----------
    returns : contract ``returns`` table.
    sold : output of :func:`sold_lines`.
    rules : reason rules (see :func:`map_reasons`).
    as_of : keep only returns received before this time (the end of the review period), so a past
        period is reviewed with what was known then.

    Returns
    -------
    The returns (columns kept) plus ``reason, reason_source``, the sale's ``order_time, channel,
    shipping_fee, unit_price`` and ``line_units`` (units sold on the order line), the product's ``product_name,
    category, supplier_id, supplier_name, unit_cost``, ``matched`` (the return's order line is a sale in
    ``sold``; only matched returns enter rates), ``days_to_return`` (days from order to return, fractional),
    ``units_counted`` (units that enter rates: a line's returns count, earliest first, up to its units sold) and
    ``units_over`` (returned units beyond the units sold on the line: counted and shown, never in a rate).
    """
    r = returns if as_of is None else returns[returns["returned_at"] < pd.Timestamp(as_of)]
    if r.empty:  # no returns: keys typed like the sales' so the merges below hold
        r = r.astype({k: sold[k].dtype for k in ("order_id", "sku")})
    out = map_reasons(r, rules=rules)
    out = out.drop(columns=[c for c in _LINE_COLUMNS + _PRODUCT_COLUMNS if c in out])
    out = out.drop(columns=[c for c in ("line_units", "units_counted", "units_over") if c in out])
    line = sold[["order_id", "sku", *_LINE_COLUMNS, "quantity"]].rename(columns={"quantity": "line_units"})
    out = out.merge(line, on=["order_id", "sku"], how="left")
    products = sold[["sku", *_PRODUCT_COLUMNS]].drop_duplicates("sku")
    out = out.merge(products, on="sku", how="left")
    out["matched"] = out["order_time"].notna()
    out["days_to_return"] = (out["returned_at"] - out["order_time"]) / pd.Timedelta(days=1)
    # Returns beyond the units sold on their order line (a data error, or a line returned twice) are counted apart:
    # the earliest returns of a line count up to its units sold, the rest is ``units_over``, so no rate tops 100 %.
    order = out.sort_values("returned_at", kind="stable").index
    before = (out.loc[order].groupby(["order_id", "sku"], observed=True, dropna=False)["quantity"].cumsum()
              - out.loc[order, "quantity"]).reindex(out.index)
    room = (out["line_units"] - before).clip(lower=0)
    counted = np.minimum(out["quantity"].to_numpy(float), room.fillna(np.inf).to_numpy(float))
    out["units_counted"] = counted.astype("int64") if len(out) else pd.Series(dtype="int64")
    out["units_over"] = (out["quantity"] - out["units_counted"]).astype("int64")
    return out


def sales_window(period: Period, *, window_days: int = 90, maturity_days: int = 30) -> Period:
    """The sales whose returns are measured in a run for ``period``: ``window_days`` of sales ending
    ``maturity_days`` before the period ends (so every sale in it has had ``maturity_days`` to come back).

    Example
    -------
    >>> from ecomlib.periods import parse_period
    >>> sales_window(parse_period("2026-W47"), window_days=90, maturity_days=30).label
    '2026-07-26_2026-10-23'
    """
    if int(window_days) < 1:
        raise ValueError(f"window_days must be at least 1 (days of sales), not {window_days}")
    if int(maturity_days) < 0:
        raise ValueError(f"maturity_days must be 0 or more (days a sale needs to mature), not {maturity_days}")
    end = period.end - pd.Timedelta(days=int(maturity_days))
    return Period(end - pd.Timedelta(days=int(window_days)), end, "custom")


def _keys(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)


def _reasons(reason: str | Sequence[str] | None) -> list[str] | None:
    if reason is None:
        return None
    wanted = [reason] if isinstance(reason, str) else list(reason)
    bad = [r for r in wanted if r not in REASONS]
    if bad:
        raise ValueError(f"unknown reason {bad[0]!r}; reasons are {list(REASONS)}")
    return wanted


def _in_window(df: pd.DataFrame, window: Period | None) -> pd.DataFrame:
    return df if window is None else df[window.contains(df["order_time"])]


def _returns_of(returned: pd.DataFrame, window: Period | None, reason=None) -> pd.DataFrame:
    """Matched returns of sales in ``window`` with one of the ``reason`` (all when None)."""
    r = _in_window(returned[returned["matched"]], window)
    wanted = _reasons(reason)
    return r if wanted is None else r[r["reason"].isin(wanted)]


def _counted(r: pd.DataFrame) -> pd.DataFrame:
    """``r`` with ``counted`` (units that enter rates) and ``over`` (units beyond the units sold on the line)."""
    if "units_counted" in r:
        return r.assign(counted=r["units_counted"], over=r["units_over"])
    return r.assign(counted=r["quantity"], over=0)


def _grouped(df: pd.DataFrame, keys: list[str]):
    return df.groupby(keys, observed=True, dropna=True) if keys else df.assign(_all=0).groupby("_all")


def return_rates(sold: pd.DataFrame, returned: pd.DataFrame, *, by: str | Sequence[str] | None = None,
                 window: Period | None = None, reason: str | Sequence[str] | None = None,
                 alpha: float = 0.05) -> pd.DataFrame:
    """Return rates by units and by orders, matched to the sales they came from, with Wilson intervals.

    Parameters
    ----------
    sold : :func:`sold_lines`; returned : :func:`return_lines` (only matched returns count).
    by : column(s) to group by (``category``, ``sku``, ``supplier_id``, ``channel``…); None for one total row.
    window : count only sales (and the returns of those sales) made in this period — usually
        :func:`sales_window`, so young sales are left out.
    reason : count only returns with this reason (or these reasons).
    alpha : 1 − confidence of the intervals.

    Returns
    -------
    One row per group: the ``by`` columns, ``units_sold, units_returned, unit_rate, unit_rate_low,
    unit_rate_high, orders, orders_returned, order_rate, order_rate_low, order_rate_high, refund_amount,
    units_over_returned``. ``units_returned`` counts a line's returns up to its units sold (so every rate is in
    [0, 1]); returned units beyond that are ``units_over_returned`` (see :func:`return_lines`).

    Example
    -------
    >>> return_rates(sold, ret, by="category", window=win)  # doctest: +SKIP
    """
    keys = _keys(by)
    s = _in_window(sold, window)
    r = _counted(_returns_of(returned, window, reason))
    gs, gr = _grouped(s, keys), _grouped(r, keys)
    out = pd.concat([gs["quantity"].sum().rename("units_sold"), gs["order_id"].nunique().rename("orders")], axis=1)
    ret = pd.concat([gr["counted"].sum().rename("units_returned"), gr["order_id"].nunique().rename("orders_returned"),
                     gr["refund_amount"].sum().rename("refund_amount"), gr["over"].sum().rename("units_over_returned")],
                    axis=1)
    out = out.join(ret, how="left").fillna({"units_returned": 0, "orders_returned": 0, "refund_amount": 0.0,
                                            "units_over_returned": 0})
    out = _rates(out, alpha).reset_index()
    return out.drop(columns="_all") if not keys else out


_RATE_COLUMNS = ["units_sold", "units_returned", "unit_rate", "unit_rate_low", "unit_rate_high", "orders",
                 "orders_returned", "order_rate", "order_rate_low", "order_rate_high", "refund_amount",
                 "units_over_returned"]


def _rates(counts: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Unit and order rates with Wilson intervals from the counts of :func:`return_rates` (one row per group)."""
    out = counts.astype({"units_sold": "int64", "orders": "int64", "units_returned": "int64",
                         "orders_returned": "int64", "units_over_returned": "int64", "refund_amount": "float64"})
    for name, x, n in (("unit_rate", "units_returned", "units_sold"), ("order_rate", "orders_returned", "orders")):
        out[name] = out[x] / out[n].where(out[n] > 0)
        out[f"{name}_low"], out[f"{name}_high"] = wilson_interval(np.minimum(out[x], out[n]), out[n], alpha=alpha)
    return out[[c for c in out.columns if c not in _RATE_COLUMNS] + _RATE_COLUMNS]


#: Grouping columns :func:`return_rates_on` knows: column -> its SQL expression over order_items i, orders o,
#: products p (the columns :func:`sold_lines` carries).
SQL_KEYS = {"category": "p.category", "sku": "i.sku", "supplier_id": "p.supplier_id", "product_name": "p.product_name",
            "channel": "o.channel"}


def return_rates_on(engine, *, window: Period, as_of: pd.Timestamp | str, by: str | Sequence[str] | None = None,
                    statuses: Sequence[str] = SOLD_STATUSES, alpha: float = 0.05,
                    dtypes: dict | None = None) -> pd.DataFrame:
    """:func:`return_rates` (every reason) run on a query engine over the source's raw tables.

    The same table as ``return_rates(sold, ret, by=by, window=window)`` with ``sold = sold_lines(orders,
    order_items, products)[order_time < as_of]`` and ``ret = return_lines(returns, sold, as_of=as_of)`` — what
    :func:`compute` passes in — from ``ecomlib/sql/return_rates.sql``: order lines and returns never come into
    pandas. Units are units (counts), ``refund_amount`` is money in the store currency, rates are fractions.

    Parameters
    ----------
    engine : an :class:`ecomlib.engine.Engine` whose source holds orders, order_items, products (for product
        columns) and returns (absent: no returns).
    window : the sales window (:func:`sales_window`); as_of : the end of the period reviewed.
    by : None (one row) or columns of :data:`SQL_KEYS` (``category``, ``sku``, ``supplier_id``, ...).
    statuses, alpha : as in :func:`sold_lines` and :func:`return_rates`.
    dtypes : dtypes of the grouping columns as the loaded tables hold them (e.g. a categorical ``channel``), so the
        table is typed and ordered exactly as the pandas function returns it; default: text.

    Returns
    -------
    The columns of :func:`return_rates`, one row per group that sold in the window, ordered by the groups.

    Example
    -------
    >>> eng = ecomlib.engine.connect("duckdb", "data/demo")                                  # doctest: +SKIP
    >>> p = parse_period("2026-W47")                                                         # doctest: +SKIP
    >>> return_rates_on(eng, window=sales_window(p), as_of=p.end, by="category")             # doctest: +SKIP
    """
    from .engine import literal

    keys = _keys(by)
    unknown = [k for k in keys if k not in SQL_KEYS]
    if unknown:
        raise ValueError(f"return_rates_on groups by {list(SQL_KEYS)}, not {unknown[0]!r}")
    bad = sorted(set(statuses) - set(ORDER_STATUSES))
    if bad:
        raise ValueError(f"statuses {bad} are not order statuses; use some of {ORDER_STATUSES}")
    as_of = pd.Timestamp(as_of)
    columns = [(k, SQL_KEYS[k]) for k in keys]
    has_returns = engine.has("returns")
    scans = {"orders": f"order_time >= {literal(window.start)} AND order_time < {literal(min(window.end, as_of))}",
             "order_items": None}
    if any(expr.startswith("p.") for _, expr in columns):
        scans["products"] = None
    if has_returns:
        scans["returns"] = f"returned_at < {literal(as_of)}"
    table = engine.reduce("return_rates", columns=columns, statuses=list(statuses), start=window.start,
                          stop=window.end, as_of=as_of, has_returns=has_returns,
                          products=any(expr.startswith("p.") for _, expr in columns), scans=scans)
    for k in keys:
        table[k] = table[k].astype((dtypes or {}).get(k, "str"))
    if keys:
        table = table.sort_values(keys, kind="stable")
    return _rates(table.reset_index(drop=True), alpha)


def rate_trend(sold: pd.DataFrame, returned: pd.DataFrame, *, as_of: pd.Timestamp | str, maturity_days: int = 30,
               freq: str = "W", by: str | Sequence[str] | None = None, reason: str | Sequence[str] | None = None,
               alpha: float = 0.05) -> pd.DataFrame:
    """Return rate by sales cohort (the week or month the goods were sold), flagging cohorts still open.

    Parameters
    ----------
    as_of : the time the data is read at (the end of the review period); later sales and returns are ignored.
    maturity_days : a cohort with a sale younger than this on ``as_of`` is ``provisional``: more returns
        are still to come, so its rate is a lower bound.
    freq : ``"W"`` (ISO weeks, Monday first) or ``"M"`` (calendar months).
    by, reason, alpha : as in :func:`return_rates`.

    Returns
    -------
    One row per cohort (and group): ``cohort`` (first day), ``cohort_end`` (exclusive), the columns of
    :func:`return_rates`, and ``provisional`` (bool).
    """
    if freq not in FREQS:
        raise ValueError(f"freq must be one of {list(FREQS)} ({', '.join(FREQS.values())}), not {freq!r}")
    as_of = pd.Timestamp(as_of)
    s = sold[sold["order_time"] < as_of]
    r = returned[returned["returned_at"] < as_of]
    s = s.assign(cohort=s["order_time"].dt.to_period(freq).dt.start_time)
    r = r.assign(cohort=r["order_time"].dt.to_period(freq).dt.start_time)
    out = return_rates(s, r, by=["cohort", *_keys(by)], reason=reason, alpha=alpha)
    out.insert(1, "cohort_end", (out["cohort"].dt.to_period(freq) + 1).dt.start_time)
    out["provisional"] = out["cohort_end"] > as_of - pd.Timedelta(days=int(maturity_days))
    return out


def window_change(sold: pd.DataFrame, returned: pd.DataFrame, *, window: Period, previous: Period,
                  by: str | Sequence[str] | None = "category", reason: str | Sequence[str] | None = None,
                  alpha: float = 0.05) -> pd.DataFrame:
    """Unit return rate of the sales in ``window`` against those in ``previous``, by group, with a test.

    The test is a two-proportion z-test on units (two-sided), p-values Holm-adjusted over the groups;
    use non-overlapping windows (``window.previous()``) so the two samples are independent.

    Returns
    -------
    One row per group: the ``by`` columns, ``units_sold_prev, units_returned_prev, unit_rate_prev,
    units_sold, units_returned, unit_rate, diff`` (fraction, current − previous), ``ci_low, ci_high``
    (95 % interval of the difference), ``p_value, p_adjusted``.
    """
    cur = return_rates(sold, returned, by=by, window=window, reason=reason, alpha=alpha)
    prev = return_rates(sold, returned, by=by, window=previous, reason=reason, alpha=alpha)
    return _change(cur, prev, _keys(by))


def _change(cur: pd.DataFrame, prev: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """:func:`window_change` from the :func:`return_rates` tables of the window (``cur``) and the previous one."""
    cols = ["units_sold", "units_returned", "unit_rate"]
    cur, prev = cur[keys + cols], prev[keys + cols]
    if keys:
        out = prev.merge(cur, on=keys, how="outer", suffixes=("_prev", ""))
    else:
        out = pd.concat([prev.add_suffix("_prev"), cur], axis=1)
    out = out.fillna({c: 0 for c in ("units_sold", "units_returned", "units_sold_prev", "units_returned_prev")})
    test = two_proportion_test(out["units_returned_prev"], out["units_sold_prev"],
                               out["units_returned"], out["units_sold"])
    out["diff"] = test["diff"].to_numpy()
    out["ci_low"], out["ci_high"], out["p_value"] = (test[c].to_numpy() for c in ("ci_low", "ci_high", "p_value"))
    out["p_adjusted"] = adjust_pvalues(out["p_value"])
    return out


def period_summary(returned: pd.DataFrame, period: Period) -> dict:
    """Returns *received* in ``period`` (whatever their sale date): the flow of refunds and the mapping quality.

    Returns a dict: ``returns`` (count), ``units``, ``refund_amount``, ``unmapped`` (count),
    ``unmapped_share``, ``other_share``, ``code_share`` and ``text_share`` (how the reasons were found);
    shares are NaN when no return was received.
    """
    r = returned[period.contains(returned["returned_at"])]
    n = len(r)
    share = (lambda mask: float(mask.sum()) / n if n else float("nan"))
    return {"returns": n, "units": int(r["quantity"].sum()), "refund_amount": float(r["refund_amount"].sum()),
            "unmapped": int((r["reason"] == UNMAPPED).sum()), "unmapped_share": share(r["reason"] == UNMAPPED),
            "other_share": share(r["reason"] == "other"), "code_share": share(r["reason_source"] == "code"),
            "text_share": share(r["reason_source"] == "text")}


def time_to_return(returned: pd.DataFrame, *, as_of: pd.Timestamp | str, maturity_days: int = 30,
                   horizon_days: int = 90) -> dict:
    """How long returns take, measured without truncation: on sales at least ``horizon_days`` old at ``as_of``
    and their returns within ``horizon_days``.

    Returns a dict: ``n`` (returns measured), ``median``, ``p90``, ``p95`` (days from order to return),
    ``share_within_maturity`` (fraction of those returns that arrive within ``maturity_days``),
    ``maturity_days``, ``horizon_days``.
    """
    as_of = pd.Timestamp(as_of)
    r = returned[returned["matched"] & (returned["returned_at"] < as_of)
                 & (returned["order_time"] < as_of - pd.Timedelta(days=int(horizon_days)))]
    lag = r.loc[r["days_to_return"] <= horizon_days, "days_to_return"]
    q = lag.quantile([0.5, 0.9, 0.95]) if len(lag) else pd.Series([np.nan] * 3, index=[0.5, 0.9, 0.95])
    return {"n": int(len(lag)), "median": float(q[0.5]), "p90": float(q[0.9]), "p95": float(q[0.95]),
            "share_within_maturity": float((lag <= maturity_days).mean()) if len(lag) else float("nan"),
            "maturity_days": int(maturity_days), "horizon_days": int(horizon_days)}


# Reasons -----------------------------------------------------------------------------------------------------
def reason_summary(returned: pd.DataFrame, *, window: Period | None = None) -> pd.DataFrame:
    """Returns by reason for a Pareto chart.

    window : only returns of sales made in this period (None: every return given, matched or not).

    Returns
    -------
    One row per reason present: ``reason, returns`` (count), ``units, refund_amount, share_units,
    share_refund`` (fractions of the total), largest ``units`` first.
    """
    r = returned if window is None else _returns_of(returned, window)
    g = r.groupby("reason", observed=True).agg(returns=("return_id", "size"), units=("quantity", "sum"),
                                               refund_amount=("refund_amount", "sum")).reset_index()
    g["share_units"] = g["units"] / g["units"].sum()
    g["share_refund"] = g["refund_amount"] / g["refund_amount"].sum()
    g["reason"] = g["reason"].astype("str")
    return g.sort_values(["units", "refund_amount"], ascending=False, kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class ReasonMixTest:
    """Chi-square test of independence of reason and a grouping (category, supplier) on return counts.

    counts : returns, groups × reasons, after merging sparse rows/columns; residuals : adjusted
    standardized residuals (same shape; beyond ``±critical`` a cell drives the dependence, Bonferroni over
    the cells at ``alpha``); chi2, dof, p_value, n : the test; min_expected, share_expected_below_5,
    reliable : Cochran's rule (no expected count < 1, at most 20 % below 5); merged_rows / merged_columns :
    what was folded into ``other``; excluded / dropped : groups or reasons left out because even merged
    they were too few to test, and how many returns they held;
    by : the grouping column.
    """

    by: str
    counts: pd.DataFrame
    residuals: pd.DataFrame
    chi2: float
    dof: int
    p_value: float
    n: int
    min_expected: float
    share_expected_below_5: float
    reliable: bool
    critical: float
    merged_rows: tuple[str, ...] = ()
    merged_columns: tuple[str, ...] = ()
    dropped: int = 0
    excluded: tuple[str, ...] = ()
    other_label: str = "other"

    @property
    def testable(self) -> bool:
        """At least two groups and two reasons with returns."""
        return not np.isnan(self.chi2)

    def drivers(self, *, positive: bool = True) -> pd.DataFrame:
        """Cells beyond ``critical``: ``group, reason, returns, residual``, largest |residual| first (only
        over-represented cells when ``positive``). The merged ``other`` row and column are left out: a cell of
        several groups or reasons names no one to act on."""
        if self.residuals.empty:
            return pd.DataFrame(columns=["group", "reason", "returns", "residual"])
        res = self.residuals.rename_axis(index="group", columns="reason").stack().rename("residual").reset_index()
        cnt = self.counts.rename_axis(index="group", columns="reason").stack().rename("returns").reset_index()
        cells = res.merge(cnt, on=["group", "reason"])
        keep = cells["residual"] > self.critical if positive else cells["residual"].abs() > self.critical
        keep &= (cells["group"] != self.other_label) & (cells["reason"] != "other")
        cells = cells[keep].assign(size=lambda d: d["residual"].abs())
        return (cells.sort_values("size", ascending=False, kind="stable")
                [["group", "reason", "returns", "residual"]].reset_index(drop=True))

    def __repr__(self) -> str:
        return (f"ReasonMixTest(by={self.by!r}, {self.counts.shape[0]}×{self.counts.shape[1]}, chi2={self.chi2:.1f}, "
                f"dof={self.dof}, p={self.p_value:.3g}, reliable={self.reliable})")


def _cochran(table: pd.DataFrame) -> tuple[bool, tuple[int, int]]:
    """Cochran's rule on a count table, and the (row, column) position of its smallest expected count."""
    values = table.to_numpy(dtype=float)
    n = values.sum()
    expected = np.outer(values.sum(axis=1), values.sum(axis=0)) / (n if n else 1)
    ok = expected.min() >= 1 and (expected < 5).mean() <= 0.2
    return bool(ok), np.unravel_index(np.argmin(expected), expected.shape)


def _fold(table: pd.DataFrame, labels: Sequence[str], into: str, axis: int) -> pd.DataFrame:
    """Add rows (axis 0) or columns (axis 1) ``labels`` into ``into`` (created when missing), dropping them."""
    labels = [lab for lab in labels if lab != into]
    if not labels:
        return table
    if axis == 1:
        table = table.T
    merged = table.loc[labels].sum()
    table = table.drop(index=labels)
    if into in table.index:
        table.loc[into] = table.loc[into] + merged
    else:
        table = pd.concat([table, merged.rename(into).to_frame().T])
    return table.T if axis == 1 else table


def reason_mix_test(returned: pd.DataFrame, *, by: str = "category", window: Period | None = None,
                    min_count: int = 20, other_label: str = "other", auto_merge: bool = True,
                    alpha: float = 0.05) -> ReasonMixTest:
    """Is the reason mix different by ``by``? Chi-square test of independence with adjusted residuals.

    The table counts returns (rows), not units, so observations are independent; ``unmapped`` returns are
    left out (they carry no reason). Sparse tables are handled honestly: reasons with fewer than
    ``min_count`` returns are merged into ``other``, groups with fewer than ``min_count`` into a row named
    ``other_label``; a merged row or column that still has fewer than ``min_count`` returns is left out
    (counted in ``dropped``). Then, with ``auto_merge``, while Cochran's rule fails the row or column of the
    smallest expected count (whichever has the smaller total) is merged too, down to a 2 × 2 table. What
    was merged is listed in the result, and ``reliable`` says whether Cochran's rule finally holds.

    Parameters
    ----------
    returned : :func:`return_lines`; window : only returns of sales made in this period.
    by : grouping column (``category``, ``supplier_id``, ``channel``…).
    min_count : fewest returns a reason or group needs to keep its own column/row.
    other_label : name of the row that collects merged groups.
    auto_merge : keep merging until Cochran's rule holds.
    alpha : significance level for the residuals (Bonferroni over the cells).

    Returns
    -------
    :class:`ReasonMixTest` (NaN statistics when fewer than two groups or two reasons remain).

    Example
    -------
    >>> test = reason_mix_test(ret, by="category", window=win)   # doctest: +SKIP
    >>> test.drivers().head(3)                                    # doctest: +SKIP
    """
    r = _returns_of(returned, window) if window is not None else returned
    r = r[(r["reason"] != UNMAPPED) & r[by].notna()]
    table = r.groupby([by, "reason"], observed=True).size().unstack("reason", fill_value=0)
    table.columns = table.columns.astype("str")
    table.index = table.index.astype("str")
    table = table[[c for c in TAXONOMY if c in table.columns]]
    merged_cols = [c for c in table.columns if c != "other" and table[c].sum() < min_count]
    table = _fold(table, merged_cols, "other", axis=1)
    row_total = table.sum(axis=1)
    merged_rows = [g for g in row_total.index[row_total < min_count] if g != other_label]
    table = _fold(table, merged_rows, other_label, axis=0)
    excluded: list[str] = []
    dropped = 0
    while True:  # at most rows + columns steps: each one removes a row or a column
        small_row = other_label in table.index and table.loc[other_label].sum() < min_count and table.shape[0] > 2
        small_col = "other" in table.columns and table["other"].sum() < min_count and table.shape[1] > 2
        if small_row or small_col:  # still too few after merging: leave them out of the test, and say so
            if small_row:
                dropped += int(table.loc[other_label].sum())
                excluded += [g for g in merged_rows if g not in excluded]
                merged_rows, table = [], table.drop(index=other_label)
            else:
                dropped += int(table["other"].sum())
                excluded += [c for c in merged_cols if c not in excluded] + ["other"]
                merged_cols, table = [], table.drop(columns="other")
            continue
        if not auto_merge or table.shape[0] < 2 or table.shape[1] < 2:
            break
        reliable, (i, j) = _cochran(table)
        if reliable:
            break
        row, col = table.index[i], table.columns[j]
        can_row = table.shape[0] > 2 and row != other_label
        can_col = table.shape[1] > 2 and col != "other"
        if not (can_row or can_col):  # the sparse cell is other × other: grow the collecting row (or column)
            if table.shape[0] > 2:
                row, can_row = table.drop(index=other_label).sum(axis=1).idxmin(), True
            elif table.shape[1] > 2:
                col, can_col = table.drop(columns="other").sum(axis=0).idxmin(), True
            else:
                break
        if can_row and (not can_col or table.loc[row].sum() <= table[col].sum()):
            merged_rows.append(row)
            table = _fold(table, [row], other_label, axis=0)
        else:
            merged_cols.append(col)
            table = _fold(table, [col], "other", axis=1)
    table = table.loc[table.sum(axis=1).sort_values(ascending=False, kind="stable").index].astype("int64")
    table = table.loc[table.sum(axis=1) > 0, table.sum(axis=0) > 0]
    rows, cols = tuple(merged_rows), tuple(merged_cols)
    if table.shape[0] < 2 or table.shape[1] < 2:
        nan = float("nan")
        return ReasonMixTest(by, table, table.astype(float) * nan, nan, 0, nan, int(table.to_numpy().sum()), nan, nan,
                             False, nan, rows, cols, dropped, tuple(excluded), other_label)
    resid, res = chi_square_residuals(table)
    critical = float(sps.norm.isf(alpha / (2 * resid.size)))
    return ReasonMixTest(by, table, resid, res["chi2"], res["dof"], res["p_value"], res["n"], res["min_expected"],
                         res["share_expected_below_5"], bool(res["reliable"]), critical, rows, cols, dropped,
                         tuple(excluded), other_label)


def describe_mix(test: ReasonMixTest, *, min_count: int = 20, msg: Messages) -> str:
    """One note under a residual heatmap: what the table counts, what was merged, what the stars mean."""
    merged = [_reason_label(c, msg) for c in test.merged_columns if c != "other"] + [str(r) for r in test.merged_rows]
    plural = msg(f"returns.by_plural.{test.by}") if test.by in ("category", "supplier_id") else test.by
    by = msg(f"returns.by.{test.by}") if test.by in CULPRIT_LEVELS + ("category",) else test.by
    text = msg("returns.note.mix", by=by, by_plural=plural, min_count=min_count, critical=test.critical,
               merged=msg("returns.list_sep").join(merged) if merged else msg("returns.note.none_merged"))
    if test.dropped:
        left = [_reason_label(c, msg) if c in REASONS else str(c) for c in test.excluded]
        text += msg("returns.note.mix_dropped", n=test.dropped, which=msg("returns.list_sep").join(left))
    return text


# Culprits ----------------------------------------------------------------------------------------------------
def _expected(s: pd.DataFrame, r: pd.DataFrame, by: str, min_units: int, extra: str | None = None) -> pd.DataFrame:
    """Units sold, returned and expected per ``by`` (and ``extra``), the category rate taken without the unit itself.

    Where the rest of the category sold fewer than ``min_units`` (the unit is alone in its category), the
    rate of the rest of the store is the norm instead (``baseline`` = ``store``). ``expected_var`` is the
    Poisson variance of ``expected`` that comes from estimating the norm on the rest's returns.
    """
    e = [extra] if extra else []
    cell = s.groupby([by, "category"], observed=True)["quantity"].sum().rename("u").reset_index()
    if extra:
        levels = pd.DataFrame({extra: pd.unique(r[extra])})
        cell = cell.merge(levels, how="cross")
    keys = [by, "category", *e]
    ret = (_counted(r).groupby(keys, observed=True).agg(x=("counted", "sum"), refund=("refund_amount", "sum"))
           .reset_index())
    cell = cell.merge(ret, on=keys, how="left").fillna({"x": 0, "refund": 0.0})
    tot = lambda cols, col: cell.groupby(cols)[col].transform("sum") if cols else cell[col].sum()  # noqa: E731
    u_cat, x_cat = tot(["category", *e], "u"), tot(["category", *e], "x")
    u_unit, x_unit = tot([by, *e], "u"), tot([by, *e], "x")
    u_all, x_all = tot(e, "u"), tot(e, "x")
    use_cat = (u_cat - cell["u"]) >= max(int(min_units), 1)
    rest_u = np.where(use_cat, u_cat - cell["u"], u_all - u_unit).astype(float)
    rest_x = np.where(use_cat, x_cat - cell["x"], x_all - x_unit).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(rest_u > 0, rest_x / rest_u, np.nan)
        var = np.where(rest_u > 0, (cell["u"] / rest_u) ** 2 * rest_x, np.nan)
    cell = cell.assign(expected=cell["u"] * rate, expected_var=var, use_cat=use_cat.astype(float))
    out = cell.groupby([by, *e]).agg(units_sold=("u", "sum"), units_returned=("x", "sum"), expected=("expected", "sum"),
                                     expected_var=("expected_var", "sum"), refund_amount=("refund", "sum"),
                                     use_cat=("use_cat", "mean")).reset_index()
    out["baseline"] = np.where(out["use_cat"] == 1, "category", np.where(out["use_cat"] == 0, "store", "mixed"))
    return out.drop(columns="use_cat")


def _peer_expected(s: pd.DataFrame, r: pd.DataFrame, peers: list[str], min_units: int) -> pd.DataFrame:
    """Per SKU: units sold (``u``), returned (``x``) and expected at the rate of its peers *without itself*.

    Peers are the SKUs sharing the ``peers`` columns (e.g. category and supplier). Where the peers sold fewer than
    ``min_units``, there is no norm (NaN). ``expected_var`` as in :func:`_expected`.
    """
    keys = ["sku", *peers]
    cell = s.groupby(keys, observed=True)["quantity"].sum().rename("u").reset_index()
    ret = _counted(r).groupby(keys, observed=True)["counted"].sum().rename("x").reset_index()
    cell = cell.merge(ret, on=keys, how="left").fillna({"x": 0})
    rest_u = (cell.groupby(peers)["u"].transform("sum") - cell["u"]).astype(float)
    rest_x = (cell.groupby(peers)["x"].transform("sum") - cell["x"]).astype(float)
    ok = (rest_u >= max(int(min_units), 1)).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(ok, rest_x / rest_u, np.nan)
        var = np.where(ok, (cell["u"] / rest_u) ** 2 * rest_x, np.nan)
    cell = cell.assign(expected=cell["u"] * rate, expected_var=var)
    return cell.groupby("sku").agg(u=("u", "sum"), x=("x", "sum"), expected=("expected", "sum"),
                                   expected_var=("expected_var", "sum"), n=("expected", "count")).reset_index()


def _rate_ratio(x: np.ndarray, expected: np.ndarray, var: np.ndarray, alpha: float):
    """Exact conditional comparison of two Poisson rates: observed ``x`` against a norm estimated from the rest.

    The norm's returns are matched by moments to ``y`` events with exposure ratio ``k`` (``expected = k·y``,
    ``var = k²·y``; exact for one category). Given ``x + y`` events, ``x`` is binomial with ``p = k/(1+k)``
    under the null: Clopper–Pearson on ``p`` gives the ratio interval, the upper tail the one-sided p-value.
    Returns (ratio_low, ratio_high, p_value).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.where(var > 0, expected ** 2 / var, 0.0)
        k = np.where(expected > 0, var / expected, np.nan)
        p_lo = np.where(x > 0, sps.beta.ppf(alpha / 2, np.maximum(x, 1e-12), y + 1), 0.0)
        p_hi = np.where(y > 0, sps.beta.ppf(1 - alpha / 2, x + 1, np.maximum(y, 1e-12)), 1.0)
        lo = np.where(p_lo < 1, p_lo / (1 - p_lo), np.inf) / k
        hi = np.where(p_hi < 1, p_hi / (1 - p_hi), np.inf) / k
        p0 = k / (1 + k)
        pval = np.where(x > 0, sps.beta.cdf(p0, np.maximum(x, 1e-12), y + 1), 1.0)
    bad = ~(expected > 0)
    return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi), np.where(bad, np.nan, pval)


def excess_returns(sold: pd.DataFrame, returned: pd.DataFrame, *, by: str = "sku",
                   reason: str | Sequence[str] | None = None, window: Period | None = None, min_units: int = 100,
                   alpha: float = 0.05) -> pd.DataFrame:
    """Culprits: SKUs (or suppliers) returning more than their category predicts, surest excess first.

    expected = units sold × the category's return rate *without this SKU/supplier* (or, where nobody
    else sells in the category, the rate of the rest of the store: ``baseline`` says which). The ratio
    observed / expected gets an exact interval for the ratio of two Poisson rates (conditional binomial,
    so a norm estimated from few returns widens it), and a one-sided exact test (more returns than the norm)
    is Holm-adjusted over the units ranked. Ranking is by ``excess_low`` = expected × (ratio_low − 1), the
    excess returned units at the low end of the interval, so a SKU with two sales and one return cannot
    outrank one with real, large excess; units with fewer than ``min_units`` sold are left out.

    Parameters
    ----------
    sold : :func:`sold_lines`; returned : :func:`return_lines`.
    by : ``sku`` or ``supplier_id``.
    reason : count only these reasons (e.g. ``quality_defect``); None for every return.
    window : sales period (usually :func:`sales_window`).
    min_units : fewest units sold to be ranked.
    alpha : 1 − confidence of the intervals; significance level after Holm.

    Returns
    -------
    One row per SKU/supplier with at least ``min_units`` sold: ``by``, descriptors (``product_name,
    category, supplier_id, supplier_name`` for SKUs; ``supplier_name, category`` — its largest — for
    suppliers), ``reason`` (the reasons counted, ``all`` for every one), ``units_sold, units_returned,
    unit_rate, unit_rate_low, unit_rate_high`` (Wilson), ``expected, expected_rate`` (the norm),
    ``baseline``, ``ratio, ratio_low, ratio_high``, ``excess, excess_low`` (units), ``refund_amount``,
    ``p_value, p_adjusted, significant`` and, when ``reason`` is None, ``main_reason`` (the reason with the
    largest excess). For SKUs also the comparison with the *supplier's other SKUs of the same category*
    (their rate without this SKU; NaN where they sold fewer than ``min_units``): ``supplier_expected_rate,
    supplier_ratio, supplier_ratio_low, supplier_ratio_high, supplier_excess, supplier_p_adjusted`` (same exact
    test, Holm over the SKUs compared), ``supplier_explains`` (significant against the category, but not against
    the supplier's other SKUs, which return more than the category: the supplier, not the SKU, is the cause) and
    ``culprit`` (significant and not explained by its supplier).

    Example
    -------
    >>> excess_returns(sold, ret, by="sku", window=win, min_units=200).head(5)   # doctest: +SKIP
    """
    if by not in CULPRIT_LEVELS:
        raise ValueError(f"by must be one of {list(CULPRIT_LEVELS)}, not {by!r}")
    if int(min_units) < 1:
        raise ValueError(f"min_units must be at least 1 (units sold), not {min_units}")
    s = _in_window(sold, window).dropna(subset=[by, "category"])
    r = _returns_of(returned, window, reason).dropna(subset=[by, "category"])
    out = _expected(s, r, by, min_units)
    if reason is None:
        per = _expected(s, r.assign(reason=r["reason"].astype("str")), by, min_units, extra="reason")
        per = per.assign(excess=per["units_returned"] - per["expected"])
        main = per.sort_values("excess", kind="stable").groupby(by).tail(1)[[by, "reason"]]
        out = out.merge(main.rename(columns={"reason": "main_reason"}), on=by, how="left")
    out = out[out["units_sold"] >= min_units].reset_index(drop=True)
    x, e, n = (out[c].to_numpy(float) for c in ("units_returned", "expected", "units_sold"))
    out["unit_rate"] = x / n
    out["unit_rate_low"], out["unit_rate_high"] = wilson_interval(np.minimum(x, n), n, alpha=alpha)
    out["expected_rate"] = e / n
    lo, hi, pval = _rate_ratio(x, e, out["expected_var"].to_numpy(float), alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ratio"] = np.where(e > 0, x / e, np.nan)
    out["ratio_low"], out["ratio_high"] = lo, hi
    out["excess"], out["excess_low"] = x - e, e * (lo - 1)
    out["p_value"] = pval
    out["p_adjusted"] = adjust_pvalues(out["p_value"])
    out["significant"] = (out["p_adjusted"] < alpha) & (out["ratio"] > 1)
    out["reason"] = "all" if reason is None else "+".join(_reasons(reason))
    supplier_cols: list[str] = []
    if by == "sku":
        # The same SKU against its supplier's other SKUs of its category: when those return as much, the excess
        # is the supplier's, not the SKU's (``supplier_explains``); ``culprit`` keeps the SKUs that stand out of both.
        peer = _peer_expected(s.dropna(subset=["supplier_id"]), r.dropna(subset=["supplier_id"]),
                              ["category", "supplier_id"], min_units)
        peer = peer[peer["n"] > 0]
        both = out[["sku"]].merge(peer, on="sku", how="left")
        px, pe = both["x"].to_numpy(float), both["expected"].to_numpy(float)
        plo, phi, pp = _rate_ratio(px, pe, both["expected_var"].to_numpy(float), alpha)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["supplier_expected_rate"] = pe / both["u"].to_numpy(float)
            out["supplier_ratio"] = np.where(pe > 0, px / pe, np.nan)
        out["supplier_ratio_low"], out["supplier_ratio_high"] = plo, phi
        out["supplier_excess"] = px - pe
        out["supplier_p_adjusted"] = adjust_pvalues(pp)
        above_peers = (out["supplier_p_adjusted"] < alpha) & (out["supplier_ratio"] > 1)
        peers_high = out["supplier_expected_rate"] > out["expected_rate"]
        out["supplier_explains"] = out["significant"] & out["supplier_ratio"].notna() & ~above_peers & peers_high
        out["culprit"] = out["significant"] & ~out["supplier_explains"]
        supplier_cols = ["supplier_expected_rate", "supplier_ratio", "supplier_ratio_low", "supplier_ratio_high",
                         "supplier_excess", "supplier_p_adjusted", "supplier_explains", "culprit"]
    if by == "sku":
        desc = s.drop_duplicates("sku")[["sku", "product_name", "category", "supplier_id", "supplier_name"]]
    else:
        main_cat = (s.groupby(["supplier_id", "category"], observed=True)["quantity"].sum().reset_index()
                    .sort_values("quantity", kind="stable").groupby("supplier_id").tail(1)[["supplier_id", "category"]])
        desc = s.drop_duplicates("supplier_id")[["supplier_id", "supplier_name"]].merge(main_cat, on="supplier_id")
    out = desc.merge(out, on=by, how="right")
    cols = list(desc.columns) + ["reason", "units_sold", "units_returned", "unit_rate", "unit_rate_low",
                                 "unit_rate_high", "expected", "expected_rate", "baseline", "ratio", "ratio_low",
                                 "ratio_high", "excess", "excess_low", "refund_amount", "p_value", "p_adjusted",
                                 "significant"] + (["main_reason"] if "main_reason" in out else []) + supplier_cols
    return out[cols].sort_values(["excess_low", "excess"], ascending=False, kind="stable").reset_index(drop=True)


# Cost --------------------------------------------------------------------------------------------------------
def return_costs(returned: pd.DataFrame, *, by: str | Sequence[str] | None = "reason", window: Period | None = None,
                 shipping_cost: float | None = None) -> pd.DataFrame:
    """What returns cost: refunds, lost shipping and goods that cannot be resold, by reason or category.

    Parameters
    ----------
    returned : :func:`return_lines`; window : only returns of sales made in this period (None: every return).
    by : grouping column(s) (``reason``, ``category``…), None for one total row.
    shipping_cost : shipping lost per return (store currency). None: the ``shipping_fee`` of each order with
        a return, split equally over that order's returns.

    Returns
    -------
    One row per group: the ``by`` columns, ``returns, units, refund_amount`` (money given back),
    ``lost_shipping``, ``nonresellable_units, nonresellable_share`` (of returned units), ``writeoff_value``
    (landed ``unit_cost`` × non-resellable units), ``cost`` (lost_shipping + writeoff_value: the loss
    beyond the reversed sale) and ``share_cost`` (of the total cost); largest cost first.
    """
    if shipping_cost is not None and float(shipping_cost) < 0:
        raise ValueError(f"shipping_cost must be ≥ 0 (store currency per return) or None, not {shipping_cost}")
    keys = _keys(by)
    r = returned if window is None else _returns_of(returned, window)
    if shipping_cost is None:
        per_order = r.groupby("order_id")["return_id"].transform("size")
        ship = r["shipping_fee"].fillna(0.0) / per_order
    else:
        ship = pd.Series(float(shipping_cost), index=r.index)
    nonres = r["quantity"].where(~r["resellable"].astype(bool), 0)
    r = r.assign(lost_shipping=ship, nonresellable_units=nonres, writeoff_value=nonres * r["unit_cost"].fillna(0.0))
    out = _grouped(r, keys).agg(returns=("return_id", "size"), units=("quantity", "sum"),
                                refund_amount=("refund_amount", "sum"), lost_shipping=("lost_shipping", "sum"),
                                nonresellable_units=("nonresellable_units", "sum"),
                                writeoff_value=("writeoff_value", "sum")).reset_index()
    if not keys:
        out = out.drop(columns="_all")
    for k in keys:
        if isinstance(out[k].dtype, pd.CategoricalDtype):
            out[k] = out[k].astype("str")
    out["nonresellable_share"] = out["nonresellable_units"] / out["units"].where(out["units"] > 0)
    out["cost"] = out["lost_shipping"] + out["writeoff_value"]
    total = out["cost"].sum()
    out["share_cost"] = out["cost"] / total if total > 0 else np.nan
    cols = keys + ["returns", "units", "refund_amount", "lost_shipping", "nonresellable_units", "nonresellable_share",
                   "writeoff_value", "cost", "share_cost"]
    return out[cols].sort_values("cost", ascending=False, kind="stable").reset_index(drop=True)


# Plots -------------------------------------------------------------------------------------------------------
def _msg(msg: Messages | None) -> Messages:
    return msg if msg is not None else Messages("en")


def _reason_label(value, msg: Messages) -> str:
    return msg(f"returns.reason.{value}") if value in REASONS or value == "all" else str(value)


def label_values(data: pd.DataFrame, msg: Messages, *, columns: Sequence[str] = ("reason", "main_reason", "baseline")
                 ) -> pd.DataFrame:
    """A copy with reason and baseline values, and the contract's codes (channel, status: :func:`ecomlib.report.
    label_values`), shown in the run's language (for tables); other columns as they are.

    Example
    -------
    >>> label_values(pd.DataFrame({"reason": ["size_fit"]}), Messages("zh"))["reason"].tolist()
    ['尺码/不合身']
    """
    from .report import label_values as vocab_values

    out = vocab_values(data, msg)  # channel, status… codes of the contract's vocabulary
    reasons = {r: msg(f"returns.reason.{r}") for r in REASONS + ("all",)}
    baselines = {b: msg(f"returns.baseline.{b}") for b in ("category", "store", "mixed")}
    for col in columns:  # at most three columns
        if col in out:
            values = out[col].astype("object")
            out[col] = values.map(baselines if col == "baseline" else reasons).fillna(values)
    return out


def plot_trend(data: pd.DataFrame, *, x: str = "cohort", y: str = "unit_rate", alpha: float = 0.05,
               ax: plt.Axes | None = None, msg: Messages | None = None, **kwargs) -> plt.Axes:
    """Return rate by sales cohort with its interval; provisional (still open) cohorts dashed.

    data : :func:`rate_trend` output (one group); ``y`` is ``unit_rate`` or ``order_rate`` (with its
    ``_low``/``_high`` columns); alpha : the one the interval was computed with (for the legend).
    kwargs go to ``Axes.plot``.
    """
    if ax is None:
        ax = plt.gca()
    msg = _msg(msg)
    d = data.sort_values(x)
    mature = d[~d["provisional"]]
    # The dashed part starts at the last mature point so the line is continuous.
    open_ = d[d[x] >= (mature[x].max() if len(mature) else d[x].min())]
    color = kwargs.pop("color", "C0")
    ax.fill_between(d[x], d[f"{y}_low"], d[f"{y}_high"], color=color, alpha=0.2, linewidth=0,
                    label=msg("returns.legend.interval", conf=_conf(alpha)))
    ax.plot(mature[x], mature[y], color=color, label=msg("returns.legend.mature"), **kwargs)
    if d["provisional"].any():
        ax.plot(open_[x], open_[y], color=color, linestyle="--", marker="o", markerfacecolor="white",
                label=msg("returns.legend.provisional"), **kwargs)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylim(bottom=0)
    ax.set_xlabel(msg("returns.axis.sale_cohort"))
    ax.set_ylabel(msg(f"returns.col.{y}"))
    ax.set_title(msg("returns.fig.trend"))
    ax.legend(loc="best")
    return ax


def plot_time_to_return(data: pd.DataFrame, *, x: str = "days_to_return", maturity_days: int | None = None,
                        ax: plt.Axes | None = None, msg: Messages | None = None, **kwargs) -> plt.Axes:
    """Histogram of days from order to return (one bar per day), with the maturity cut-off marked.

    data : :func:`return_lines` output (matched rows are used). kwargs go to ``Axes.hist``.
    """
    if ax is None:
        ax = plt.gca()
    msg = _msg(msg)
    days = data.loc[data["matched"], x].dropna()
    top = int(np.ceil(days.max())) + 1 if len(days) else 1
    ax.hist(days, bins=np.arange(0, top + 1), color=kwargs.pop("color", "C0"), **kwargs)
    if maturity_days is not None:
        ax.axvline(maturity_days, color="C3", linestyle="--", label=msg("returns.legend.maturity", days=maturity_days))
        ax.legend(loc="upper right")
    ax.set_xlabel(msg("returns.axis.days_to_return"))
    ax.set_ylabel(msg("returns.axis.returns"))
    ax.set_title(msg("returns.fig.time_to_return"))
    return ax


def plot_pareto(data: pd.DataFrame, *, x: str = "reason", y: str = "units", ax: plt.Axes | None = None,
                msg: Messages | None = None, **kwargs) -> plt.Axes:
    """Pareto chart: bars of ``y`` by ``x``, largest first, with the cumulative share on a second axis.

    data : :func:`reason_summary` output; ``y`` is ``units``, ``returns`` or ``refund_amount``. kwargs go
    to ``Axes.bar``. Returns the bar Axes.
    """
    if ax is None:
        ax = plt.gca()
    msg = _msg(msg)
    d = data.sort_values(y, ascending=False, kind="stable")
    pos = np.arange(len(d))
    ax.bar(pos, d[y], color=kwargs.pop("color", "C0"), **kwargs)
    ax.set_xticks(pos, [_reason_label(v, msg) for v in d[x]], rotation=30, ha="right")
    if y == "refund_amount":
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: msg.money(v, compact=True)))
    ax.set_ylabel(msg(f"returns.col.{y}"))
    ax.set_xlabel("")
    twin = ax.twinx()
    total = d[y].sum()
    twin.plot(pos, d[y].cumsum() / (total if total else 1), color="C3", marker="o")
    twin.axhline(0.8, color="grey", linestyle=":", linewidth=1)
    twin.set_ylim(0, 1.05)
    twin.yaxis.set_major_formatter(PercentFormatter(1.0))
    twin.set_ylabel(msg("returns.axis.cum_share"))
    twin.grid(False)
    ax.set_title(msg(f"returns.fig.pareto_{y}"))
    return ax


def plot_residuals(data: ReasonMixTest | pd.DataFrame, *, critical: float | None = None, ax: plt.Axes | None = None,
                   msg: Messages | None = None, **kwargs) -> plt.Axes:
    """Heatmap of adjusted standardized residuals, reasons × groups; cells beyond ``critical`` starred.

    data : a :class:`ReasonMixTest` (its residuals, critical value and result go in the title) or a
    residual table (groups × reasons). Red: more returns of that reason than independence predicts.
    kwargs go to ``seaborn.heatmap``.
    """
    import seaborn as sns

    if ax is None:
        ax = plt.gca()
    msg = _msg(msg)
    test = data if isinstance(data, ReasonMixTest) else None
    resid = test.residuals if test is not None else data
    critical = test.critical if test is not None and critical is None else critical
    grid = resid.T
    values = grid.to_numpy(dtype=float)
    star = np.abs(values) > critical if critical is not None and not np.isnan(critical) else np.zeros_like(values, bool)
    annot = np.char.add(np.char.mod("%+.1f", np.nan_to_num(values)), np.where(star, "*", ""))
    lim = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
    sns.heatmap(grid, annot=annot, fmt="", cmap=kwargs.pop("cmap", "RdBu_r"), center=0, vmin=-lim, vmax=lim,
                cbar_kws={"label": msg("returns.axis.residual")}, ax=ax, **kwargs)
    ax.set_yticks(np.arange(len(grid.index)) + 0.5, [_reason_label(v, msg) for v in grid.index], rotation=0)
    ax.set_ylabel("")
    by = test.by if test is not None else resid.index.name
    ax.set_xlabel(msg(f"returns.col.{by}") if by in CULPRIT_LEVELS + ("category", "channel") else str(by or ""))
    if test is not None and test.testable:
        key = "returns.fig.residuals" if test.reliable else "returns.fig.residuals_unreliable"
        ax.set_title(msg(key, by=msg(f"returns.by.{by}"), chi2=test.chi2, dof=test.dof, p=test.p_value))
    else:
        ax.set_title(msg("returns.fig.residuals_plain"))
    return ax


def plot_costs(data: pd.DataFrame, *, y: str = "reason", x: Sequence[str] = ("writeoff_value", "lost_shipping"),
               ax: plt.Axes | None = None, msg: Messages | None = None, **kwargs) -> plt.Axes:
    """Horizontal stacked bars of the cost of returns by ``y`` (reason or category), one colour per component.

    data : :func:`return_costs` output; x : the money columns to stack. More than 13 rows: the 12 costliest are
    drawn and the rest folded into one bar ("Other (N)"). Amounts on the axis are compact (``CN¥40K``) with at
    most five ticks, so labels never overlap. kwargs go to ``Axes.barh``.
    """
    from matplotlib.ticker import MaxNLocator

    from .report import group_tail

    if ax is None:
        ax = plt.gca()
    msg = _msg(msg)
    d = group_tail(data, by=y, value="cost", top=12, msg=msg, sum_columns=[*x, "cost"])  # no 3,000-bar chart
    d = d.sort_values("cost", kind="stable")
    pos = np.arange(len(d))
    left = np.zeros(len(d))
    for i, col in enumerate(x):  # a handful of cost components
        ax.barh(pos, d[col], left=left, color=f"C{i}", label=msg(f"returns.col.{col}"), **kwargs)
        left = left + d[col].to_numpy(float)
    ax.set_yticks(pos, [_reason_label(v, msg) for v in d[y]])
    # compact amounts (CN¥40K, ¥4万) and at most 5 ticks, so the axis labels never run into each other
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: msg.money(v, compact=True)))
    ax.set_xlabel(msg("returns.col.cost"))
    ax.set_ylabel("")
    ax.set_title(msg("returns.fig.costs", by=msg(f"returns.by.{y}")))
    ax.legend(loc="best")
    return ax


# Sentences and headlines -------------------------------------------------------------------------------------
def _conf(alpha: float) -> str:
    """A confidence level as people write it: ``95``, ``90``, ``99.5``."""
    return f"{100 * (1 - alpha):.1f}".rstrip("0").rstrip(".")


def _phrase(reason: str, msg: Messages) -> str:
    """``quality/defect returns``; a combination of reasons (``a+b``) reads as plain returns."""
    return msg(f"returns.phrase.{reason}") if reason in REASONS + ("all",) else msg("returns.phrase.all")


def _row(df: pd.DataFrame | None) -> pd.Series | None:
    return None if df is None or df.empty else df.iloc[0]


def _of_supplier(supplier, msg: Messages) -> str:
    """``, supplier S07`` after a product name; nothing when the product has no supplier id."""
    return msg("returns.s.of_supplier", supplier=supplier) if isinstance(supplier, str) and supplier else ""


def _explained_sentence(rows: pd.DataFrame, msg: Messages, *, top: int) -> str:
    """One sentence naming the supplier whose other SKUs return as much as ``rows`` (SKUs of one supplier that its
    supplier explains, largest excess first)."""
    first = rows.iloc[0]
    key = "returns.s.culprit_supplier" if len(rows) > 1 else "returns.s.culprit_supplier_one"
    return msg(key, n=len(rows), skus=msg("returns.list_and").join(rows["sku"].astype(str).head(top)),
               supplier=first["supplier_id"], name=first["supplier_name"], ratio=first["ratio"], sku=first["sku"],
               peer=first["supplier_expected_rate"], rate=first["unit_rate"], norm=first["expected_rate"])


def _sentences(*, rate: pd.DataFrame, previous_rate: pd.DataFrame | None = None, window: Period,
              timing: dict | None = None, reasons: pd.DataFrame | None = None, mapping: dict | None = None,
              mix: ReasonMixTest | Sequence[ReasonMixTest] | None = None, suppliers: pd.DataFrame | None = None,
              culprits: pd.DataFrame | None = None, costs: pd.DataFrame | None = None, min_units: int = 100,
              top: int = 2, alpha: float = 0.05, culprit_mde: dict | None = None, supplier_mde: dict | None = None,
              previous_window: Period | None = None, change_sentence: str | None = None,
              msg: Messages) -> list[str]:
    """The review's conclusions, written from the numbers in the run's language.

    Parameters
    ----------
    rate, previous_rate : one-row :func:`return_rates` (``by=None``) for the sales window and the comparison's.
    window : the sales window (:func:`sales_window`).
    timing : :func:`time_to_return`; reasons : :func:`reason_summary`; mapping : :func:`period_summary`.
    mix : :func:`reason_mix_test` (or several: by category, by supplier).
    suppliers, culprits : :func:`excess_returns` by supplier and by SKU.
    costs : :func:`return_costs` by reason. min_units : the culprit volume floor (quoted when none is found).
    top : how many suppliers / SKUs to name at most.
    alpha : the one the intervals were computed with (quoted as a confidence level).

    Returns a list of sentences; inputs that are None or empty are skipped.
    """
    out: list[str] = []
    conf = _conf(alpha)
    cur, prev = _row(rate), _row(previous_rate)
    if cur is not None and cur["units_sold"] > 0:
        fields = dict(rate=cur["unit_rate"], lo=cur["unit_rate_low"], hi=cur["unit_rate_high"], units=cur["units_sold"],
                      orders=cur["order_rate"], start=msg.date(window.start), end=msg.date(window.last_day), conf=conf,
                      days=window.days)
        if prev is not None and prev["units_sold"] > 0:
            pw = previous_window if previous_window is not None else window.previous()
            out.append(msg("returns.s.rate_vs", prev=prev["unit_rate"], pstart=msg.date(pw.start),
                           pend=msg.date(pw.last_day), **fields))
        else:
            out.append(msg("returns.s.rate", **fields))
        if change_sentence:
            out.append(change_sentence)
    if timing and timing.get("n"):
        out.append(msg("returns.s.timing", median=timing["median"], p95=timing["p95"],
                       share=timing["share_within_maturity"], days=timing["maturity_days"]))
    if reasons is not None and len(reasons):
        by_units = reasons.sort_values("units", ascending=False, kind="stable")
        by_refund = reasons.sort_values("refund_amount", ascending=False, kind="stable").iloc[0]
        first = by_units.iloc[0]
        if len(by_units) > 1:
            second = by_units.iloc[1]
            out.append(msg("returns.s.pareto", r1=_reason_label(first["reason"], msg), s1=first["share_units"],
                           r2=_reason_label(second["reason"], msg), s2=second["share_units"],
                           rv=_reason_label(by_refund["reason"], msg), sv=by_refund["share_refund"]))
        else:
            out.append(msg("returns.s.pareto_one", r1=_reason_label(first["reason"], msg)))
    if mapping and mapping.get("returns"):
        if mapping["unmapped"]:
            out.append(msg("returns.s.unmapped", share=mapping["unmapped_share"], n=mapping["unmapped"],
                           total=mapping["returns"]))
        else:
            out.append(msg("returns.s.all_mapped", total=mapping["returns"], code=mapping["code_share"]))
    if suppliers is not None and len(suppliers):
        phrase = _phrase(suppliers["reason"].iloc[0], msg)
        hits = suppliers[suppliers["significant"]].head(top)
        for row in hits.itertuples():  # at most `top` rows
            key = "returns.s.supplier" if row.baseline == "category" else "returns.s.supplier_store"
            out.append(msg(key, phrase=phrase, supplier=row.supplier_id, name=row.supplier_name, ratio=row.ratio,
                           lo=row.ratio_low, hi=row.ratio_high, units=row.units_returned, refund=row.refund_amount,
                           category=row.category, conf=conf))
        if hits.empty:
            if supplier_mde is not None and np.isfinite(supplier_mde.get("ratio", np.nan)):
                out.append(msg("returns.s.no_supplier_mde", phrase=phrase, ratio=supplier_mde["ratio"],
                               units=supplier_mde["units"]))
            else:
                out.append(msg("returns.s.no_supplier", phrase=phrase))
    if culprits is not None:
        own = culprits["culprit"] if "culprit" in culprits else culprits["significant"]
        hits = culprits[own].head(top)
        for row in hits.itertuples():  # at most `top` rows
            reason = getattr(row, "main_reason", None)
            text = msg("returns.s.culprit", sku=row.sku, name=row.product_name,
                       supplier=_of_supplier(row.supplier_id, msg),
                       rate=row.unit_rate, norm=row.expected_rate, category=row.category, ratio=row.ratio,
                       lo=row.ratio_low, hi=row.ratio_high, excess=row.excess, conf=conf,
                       phrase=_phrase(row.reason, msg))
            if isinstance(reason, str):
                text += msg("returns.s.culprit_main", reason=_reason_label(reason, msg))
            else:
                text += msg("returns.s.culprit_end")
            out.append(text)
        if "supplier_explains" in culprits:
            explained = culprits[culprits["supplier_explains"]]
            for supplier, rows in explained.groupby("supplier_id", sort=False):  # one sentence per supplier
                out.append(_explained_sentence(rows, msg, top=top))
        if hits.empty:
            if culprit_mde is not None and np.isfinite(culprit_mde.get("ratio", np.nan)):
                out.append(msg("returns.s.no_culprit_mde", min_units=min_units, ratio=culprit_mde["ratio"],
                               units=culprit_mde["units"]))
            else:
                out.append(msg("returns.s.no_culprit", min_units=min_units))
    tests = [] if mix is None else [mix] if isinstance(mix, ReasonMixTest) else list(mix)
    for test in (m for m in tests if m.testable):  # one per grouping
        by = msg(f"returns.by.{test.by}")
        if not test.reliable:
            out.append(msg("returns.s.mix_unreliable", by=by, share=test.share_expected_below_5, min=test.min_expected))
        elif test.p_value < alpha and len(test.drivers()):
            cells = test.drivers().head(3)
            listed = msg("returns.list_sep").join(
                msg("returns.s.cell", reason=_reason_label(c.reason, msg), group=c.group, residual=c.residual)
                for c in cells.itertuples())
            out.append(msg("returns.s.mix", by=by, chi2=test.chi2, p=test.p_value, cells=listed))
        else:
            out.append(msg("returns.s.mix_none", by=by, chi2=test.chi2, p=test.p_value))
    if costs is not None and len(costs) and costs["units"].sum() > 0:
        top_cost = costs.sort_values("cost", ascending=False, kind="stable").iloc[0]
        units = costs["units"].sum()
        out.append(msg("returns.s.cost", refund=costs["refund_amount"].sum(), cost=costs["cost"].sum(),
                       writeoff=costs["writeoff_value"].sum(), share=costs["nonresellable_units"].sum() / units,
                       ship=costs["lost_shipping"].sum(), reason=_reason_label(top_cost["reason"], msg)
                       if "reason" in costs else "", rshare=top_cost["share_cost"]))
    return out


# The review interface (ecomlib.review): load, compute, headlines, findings, sentences ----------------------------
NAME = "returns"

#: Defaults of :func:`compute`'s options (the notebook's parameters of the same names).
OPTIONS = {"window_days": 90, "maturity_days": 30, "culprit_days": 365, "min_units": 100,
           "focus_reason": "quality_defect", "shipping_cost": None, "rules_path": None, "alpha": 0.05,
           "min_count": 20, "top": 10}
#: Fewest returns measured (sales ≥ 90 days old) for the time-to-return section.
MIN_TIMING_RETURNS = 20
#: Most culprit SKUs (and suppliers) published as findings; the page's tables show ``top`` of them.
MAX_FINDINGS = 3
#: Power at which a minimum detectable effect is quoted next to "no significant change".
POWER = 0.8

MINIMUM_DATA = {
    "rates": "Return rates need units sold in the sales window: the window_days (90) days of sales ending "
             "maturity_days (30) before the period ends — younger sales still have returns to come.",
    "change": "The change by category needs units sold in the sales window and in the window_days before it.",
    "timing": f"Time to return needs at least {MIN_TIMING_RETURNS} returns of sales at least 90 days old at the "
              "period end.",
    "reasons": "Reasons need at least one return of the sales in the window (a header-only returns table means the "
               "store had none).",
    "mix": "The reason-mix test needs two categories (or suppliers) and two reasons with at least min_count (20) "
           "returns each in the sales window.",
    "mix_supplier": "The reason mix by supplier needs supplier ids on products, and two suppliers and two reasons "
                    "with at least min_count (20) returns each in the sales window.",
    "culprits": "Culprit SKUs need a SKU with at least min_units (100) units sold in the culprit window "
                "(culprit_days, 365, of mature sales).",
    "suppliers": "The supplier breakdown needs supplier ids on products (names come from the optional suppliers "
                 "table) and a supplier with at least min_units (100) units sold in the culprit window.",
    "cost": "The cost of returns needs at least one return of the sales in the window.",
}
SECTIONS = ("rates", "timing", "reasons", "mix", "culprits", "suppliers", "cost")
#: The sections whose figures and tables the notebook guards (``el.gap``): the page sections and their parts.
GUARDS = ("rates", "change", "timing", "reasons", "mix", "mix_supplier", "culprits", "suppliers", "cost")

#: Every column's display unit, declared once: tables (:func:`formats`), axes and headlines use it.
UNITS: dict[str, str] = {
    **{c: "int" for c in ("units_sold", "units_returned", "orders", "orders_returned", "returns", "units",
                          "nonresellable_units", "units_sold_prev", "units_returned_prev", "units_over_returned")},
    **{c: "pct" for c in ("unit_rate", "unit_rate_low", "unit_rate_high", "order_rate", "order_rate_low",
                          "order_rate_high", "unit_rate_prev", "share_units", "share_refund", "nonresellable_share",
                          "share_cost", "expected_rate", "supplier_expected_rate")},
    **{c: "money" for c in ("refund_amount", "lost_shipping", "writeoff_value", "cost", "money")},
    **{c: "pp" for c in ("diff", "ci_low", "ci_high", "mde")},
    **{c: "p" for c in ("p_value", "p_adjusted", "supplier_p_adjusted")},
    **{c: "ratio" for c in ("ratio", "ratio_low", "ratio_high", "supplier_ratio", "supplier_ratio_low",
                            "supplier_ratio_high")},
    **{c: "num" for c in ("excess", "excess_low", "expected", "supplier_excess", "chi2", "min_expected",
                          "critical")},
    **{c: "int" for c in ("dof", "n")},
    "share_expected_below_5": "pct",
}
_HEADLINE_UNIT = {"pct": "ratio", "money": "money", "int": "count", "num": "number", "ratio": "multiple"}


def formats(df: pd.DataFrame) -> dict[str, str]:
    """Display formats of ``df``'s columns from :data:`UNITS` (for :func:`ecomlib.report.styled`)."""
    return {c: UNITS[c] for c in df.columns if c in UNITS}


def load(data_dir, **kwargs):
    """The tables of the returns review: orders, order_items, products, returns (required), suppliers (optional).

    A header-only returns table is allowed and means "no returns" (``review.load_tables(may_be_empty=...)``).
    ``engine=`` (``auto``, ``pandas``, ``duckdb``, ``spark``; :mod:`ecomlib.engine`): on duckdb and spark the
    dataset gets ``ds.engine`` and :func:`compute` runs the return rates there (:func:`return_rates_on`).
    """
    from .review import load_tables

    return load_tables(data_dir, NAME, may_be_empty=("returns",), **kwargs)


def data_range(ds) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last timestamp of the review's data (orders, and returns when there are any)."""
    first, last = ds.orders["order_time"].min(), ds.orders["order_time"].max()
    if ds.returns is not None and len(ds.returns):
        last = max(last, ds.returns["returned_at"].max())
    return first, last


_RETURN_COLUMNS = {"return_id": "str", "order_id": "str", "sku": "str", "returned_at": "datetime64[ns]",
                   "quantity": "int64", "reason_code": "str", "reason_text": "str", "refund_amount": "float64",
                   "resellable": "bool"}


def _returns_table(ds) -> pd.DataFrame:
    r = ds.returns
    if r is None:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in _RETURN_COLUMNS.items()})
    return r


def _options(options: dict) -> dict:
    from .errors import ParameterError, check_option

    opts = merged_options(NAME, options, OPTIONS)
    check_option("focus_reason", opts["focus_reason"], [*TAXONOMY, None])
    for name, low in (("window_days", 1), ("maturity_days", 0), ("culprit_days", 1), ("min_units", 1),
                      ("min_count", 1), ("top", 1)):
        if int(opts[name]) < low:
            raise ParameterError(f"{name} must be at least {low}, not {opts[name]!r}", name=name)
    if not 0 < float(opts["alpha"]) < 1:
        raise ParameterError(f"alpha must be between 0 and 1 (exclusive), not {opts['alpha']!r}", name="alpha")
    return opts


def mde_ratio(expected: float, *, alpha: float = 0.05, power: float = POWER) -> float:
    """Smallest observed/expected ratio of Poisson counts a one-sided test at ``alpha`` detects with ``power``,
    when ``expected`` returns are expected (normal approximation: ``e(r − 1) = z_α√e + z_β√(re)``).

    >>> round(mde_ratio(25.0), 2)
    1.54
    """
    if not expected > 0:
        return float("nan")
    za, zb = sps.norm.isf(alpha), sps.norm.ppf(power)
    root = (zb + np.sqrt(zb ** 2 + 4 * (expected + za * np.sqrt(expected)))) / 2
    return float(root ** 2 / expected)


def _culprit_mde(table: pd.DataFrame, alpha: float) -> dict:
    """The ratio a typical ranked unit (median units sold, median norm) would need to be found, Holm's strictest
    level over the units ranked."""
    if table is None or table.empty:
        return {"ratio": float("nan"), "units": 0}
    units = float(table["units_sold"].median())
    expected = units * float(table["expected_rate"].median())
    return {"ratio": mde_ratio(expected, alpha=alpha / len(table)), "units": int(round(units))}


def quality_return_rate(sold: pd.DataFrame, returned: pd.DataFrame, *, by: str | Sequence[str] | None = "supplier_id",
                        window: Period | None = None, reason: str | Sequence[str] = "quality_defect",
                        alpha: float = 0.05) -> pd.DataFrame:
    """THE quality-return rate of the kit (the returns page and the supplier page use this one definition).

    Units returned for a quality reason, *matched to the sales they came from*, per unit sold: the sales are the
    order lines of ``window`` (usually :func:`sales_window`, so every sale has had time to come back), the returns
    are those of these very sales known at the time ``returned`` was read (``return_lines(..., as_of=...)``).
    A line's returns count up to its units sold (no rate above 100 %; the rest is ``units_over_returned``).

    Parameters
    ----------
    sold : :func:`sold_lines`; returned : :func:`return_lines` (``as_of`` = the end of the period reviewed).
    by : ``supplier_id`` (default), ``sku``, ``category``… or None for one row.
    window : the sales window; reason : the taxonomy reason(s) that count as quality (``quality_defect``).
    alpha : 1 − confidence of the Wilson intervals.

    Returns
    -------
    :func:`return_rates` columns for those reasons: ``units_sold, units_returned, unit_rate`` (the quality-return
    rate), its ``unit_rate_low/high``, orders, refunds and ``units_over_returned``.

    Example
    -------
    >>> sold = sold_lines(ds.orders, ds.order_items, ds.products)                      # doctest: +SKIP
    >>> ret = return_lines(ds.returns, sold, as_of=period.end)                          # doctest: +SKIP
    >>> quality_return_rate(sold, ret, window=sales_window(period))                     # doctest: +SKIP
    """
    return return_rates(sold, returned, by=by, window=window, reason=reason, alpha=alpha)


def _fold_rates(table: pd.DataFrame, by: str, *, top: int, alpha: float, label: str = "other") -> pd.DataFrame:
    """Keep the ``top`` groups by units sold and fold the rest into one row (rates recomputed from the sums)."""
    if len(table) <= top + 1:
        return table
    ordered = table.sort_values("units_sold", ascending=False, kind="stable")
    head, tail = ordered.iloc[:top], ordered.iloc[top:]
    sums = ["units_sold", "units_returned", "orders", "orders_returned", "refund_amount", "units_over_returned"]
    other = pd.DataFrame([{by: f"{label} ({len(tail)})", **{c: tail[c].sum() for c in sums if c in tail}}])
    for name, x, n in (("unit_rate", "units_returned", "units_sold"), ("order_rate", "orders_returned", "orders")):
        other[name] = other[x] / other[n].where(other[n] > 0)
        other[f"{name}_low"], other[f"{name}_high"] = wilson_interval(other[x], other[n], alpha=alpha)
    return pd.concat([head.astype({by: "object"}), other[head.columns]], ignore_index=True)


def _mix_ok(returned: pd.DataFrame, by: str, min_count: int) -> bool:
    """The minimum for a reason-mix test: two ``by`` groups and two reasons with at least ``min_count`` returns each."""
    r = returned[(returned["reason"] != UNMAPPED) & returned[by].notna()]
    groups = r.groupby(by, observed=True).size()
    reasons = r.groupby("reason", observed=True).size()
    return bool((groups >= min_count).sum() >= 2 and (reasons >= min_count).sum() >= 2)


def compute(ds, period: Period, **options) -> Result:
    """Everything the returns page shows for ``period``, as known at its end.

    Parameters
    ----------
    ds : :func:`load` output. period : the review period; sales and returns after its end are ignored.
    options : see :data:`OPTIONS` — ``window_days`` (90) days of sales ending ``maturity_days`` (30) before the
        period end for rates, tests and reasons; ``culprit_days`` (365) of mature sales for culprit SKUs and
        suppliers, ranked from ``min_units`` (100) units sold; ``focus_reason`` (quality_defect) for the supplier
        breakdown; ``shipping_cost`` per return (None: the orders' shipping fee); ``rules_path``; ``alpha``;
        ``min_count`` (20) returns per row/column of the reason-mix test; ``top`` (10) rows of ranked tables.

    Returns
    -------
    :class:`~ecomlib.review.Result`. Tables: ``rate`` (one row, the trailing window), ``rate_change`` (the window
    against the ``window_days`` before it, with ``mde``), ``trend``, ``change`` (by category), ``by_channel``,
    ``reasons``, ``unmapped``, ``mix_tests`` (chi², p per grouping), ``mix_drivers``, ``culprits``,
    ``suppliers``, ``quality_rates`` (:func:`quality_return_rate` by supplier), ``costs`` (by reason),
    ``costs_category``, ``period_costs`` (returns received in the period). Values: ``return_rate``, ``refunds``,
    ``unmapped_share``, ``returns_received``, ``period_cost``, the mix tests (``mix_category``,
    ``mix_supplier_id``), ``timing``, ``culprit_mde``, ``supplier_mde``, ``units_over_returned``. Notes: windows
    and options. Gaps: sections of :data:`MINIMUM_DATA` that cannot be computed.
    """
    o = _options(options)
    alpha, min_units = float(o["alpha"]), int(o["min_units"])
    rules = load_rules(o["rules_path"])
    has_suppliers = ds.suppliers is not None and len(ds.suppliers) > 0
    sold_all = sold_lines(ds.orders, ds.order_items, ds.products, suppliers=ds.suppliers if has_suppliers else None)
    sold = sold_all[sold_all["order_time"] < period.end]
    ret = return_lines(_returns_table(ds), sold, rules=rules, as_of=period.end)
    window = sales_window(period, window_days=o["window_days"], maturity_days=o["maturity_days"])
    culprit_window = sales_window(period, window_days=o["culprit_days"], maturity_days=o["maturity_days"])
    res = Result(NAME, period)
    res.notes.update(window=window, previous_window=window.previous(), culprit_window=culprit_window,
                     rules=rules.label, supplier_names=has_suppliers, no_returns=len(_returns_table(ds)) == 0,
                     **{k: o[k] for k in ("window_days", "maturity_days", "culprit_days", "min_units", "focus_reason",
                                          "alpha", "min_count", "top", "shipping_cost")})
    gap = lambda section, key, **fields: res.gaps.__setitem__(section, Gap(f"returns.gap.{key}", fields))  # noqa: E731
    dates = dict(start=window.start, end=window.last_day)

    # Rates of the trailing window of mature sales (on the dataset's query engine when it has one: same tables)
    engine = getattr(ds, "engine", None)
    if engine is None:
        rates = lambda win, by=None: return_rates(sold, ret, by=by, window=win, alpha=alpha)  # noqa: E731
    else:
        channel = {"channel": ds.orders["channel"].dtype}
        rates = lambda win, by=None: return_rates_on(engine, window=win, as_of=period.end, by=by,  # noqa: E731
                                                     alpha=alpha, dtypes=channel)
    rate = rates(window)
    res.tables["rate"] = rate
    res.tables["return_lines"] = ret  # every return known at the period end, with its reason and its sale
    res.tables["trend"] = rate_trend(sold, ret, as_of=period.end, maturity_days=o["maturity_days"], alpha=alpha)
    units_sold = int(rate["units_sold"].iloc[0]) if len(rate) else 0
    if units_sold == 0:
        gap("rates", "no_sales", window=o["window_days"], days=o["maturity_days"], **dates)
        res.values["return_rate"] = None
    else:
        res.values["return_rate"] = float(rate["unit_rate"].iloc[0])
    res.values["units_over_returned"] = int(rate["units_over_returned"].sum()) if len(rate) else 0
    res.tables["by_channel"] = _fold_rates(rates(window, "channel"), "channel", top=12, alpha=alpha)
    overall = _change(rate, rates(window.previous()), [])  # = window_change(..., by=None)
    change = _change(rates(window, "category"), rates(window.previous(), "category"), ["category"])
    if units_sold == 0 or not (overall["units_sold_prev"] > 0).all():
        gap("change", "no_previous", window=o["window_days"], start=window.previous().start,
            end=window.previous().last_day)
    else:
        overall["mde"] = minimum_detectable_difference(overall["unit_rate_prev"], overall["units_sold_prev"],
                                                       overall["units_sold"], alpha=alpha, power=POWER)
        k = max(int(change["p_value"].notna().sum()), 1)  # Holm's strictest level over the categories tested
        change["mde"] = minimum_detectable_difference(change["unit_rate_prev"], change["units_sold_prev"],
                                                      change["units_sold"], alpha=alpha / k, power=POWER)
        res.tables["rate_change"] = overall
        res.tables["change"] = change.sort_values("units_sold", ascending=False, kind="stable").head(20)

    # The flow of the period: returns received, refunds, reasons mapped, what they cost
    flow = period_summary(ret, period)
    # A period that ends before the data starts is not "no refunds": its flow is unknown (None), not 0.
    res.notes["covered"] = bool(len(ds.orders)) and period.end > ds.orders["order_time"].min()
    res.values.update(refunds=flow["refund_amount"] if res.notes["covered"] else None,
                      unmapped_share=flow["unmapped_share"], returns_received=flow["returns"], flow=flow)
    received = ret[period.contains(ret["returned_at"])]
    res.tables["period_costs"] = return_costs(received, by=None, shipping_cost=o["shipping_cost"])
    res.values["period_cost"] = float(res.tables["period_costs"]["cost"].sum())

    # Timing
    timing = time_to_return(ret, as_of=period.end, maturity_days=o["maturity_days"])
    res.values["timing"] = timing
    if timing["n"] < MIN_TIMING_RETURNS:
        gap("timing", "timing", n=timing["n"], needed=MIN_TIMING_RETURNS)

    # Reasons, mix and cost of the window's returns
    in_window = _returns_of(ret, window)
    res.tables["reasons"] = reason_summary(ret, window=window)
    res.tables["unmapped"] = unmapped_values(ret, top=o["top"])
    if in_window.empty:
        key = "no_returns" if res.notes["no_returns"] else "no_window_returns"
        for section in ("reasons", "cost"):
            gap(section, key, **dates)
    res.tables["costs"] = return_costs(ret, by="reason", window=window, shipping_cost=o["shipping_cost"])
    costs_category = return_costs(ret, by="category", window=window, shipping_cost=o["shipping_cost"])
    res.tables["costs_category"] = costs_category

    has_ids = bool(ds.products["supplier_id"].notna().any())
    tests = []
    for by in ("category", "supplier_id"):
        if by == "supplier_id" and not has_ids:
            continue
        test = reason_mix_test(ret, by=by, window=window, min_count=o["min_count"], alpha=alpha)
        res.values[f"mix_{by}"] = test
        tests.append({"by": by, "chi2": test.chi2, "dof": test.dof, "p_value": test.p_value, "n": test.n,
                      "reliable": test.reliable, "min_expected": test.min_expected,
                      "share_expected_below_5": test.share_expected_below_5, "critical": test.critical})
    res.tables["mix_tests"] = pd.DataFrame(tests, columns=["by", "chi2", "dof", "p_value", "n", "reliable",
                                                           "min_expected", "share_expected_below_5", "critical"])
    drivers = [res.values[f"mix_{t['by']}"].drivers().assign(by=t["by"]) for t in tests
               if res.values[f"mix_{t['by']}"].testable]
    res.tables["mix_drivers"] = (pd.concat(drivers, ignore_index=True) if drivers
                                 else pd.DataFrame(columns=["group", "reason", "returns", "residual", "by"]))
    if not (res.values["mix_category"].testable and _mix_ok(in_window, "category", o["min_count"])):
        gap("mix", "mix", min_count=o["min_count"])
    if not has_ids:
        gap("mix_supplier", "no_supplier_ids")
    elif not (res.values["mix_supplier_id"].testable and _mix_ok(in_window, "supplier_id", o["min_count"])):
        gap("mix_supplier", "mix_supplier", min_count=o["min_count"])

    # Culprit SKUs (against their category and their supplier) and suppliers
    cdates = dict(start=culprit_window.start, end=culprit_window.last_day)
    culprits = excess_returns(sold, ret, by="sku", window=culprit_window, min_units=min_units, alpha=alpha)
    res.tables["culprits"] = culprits
    res.values["culprit_mde"] = _culprit_mde(culprits, alpha)
    if culprits.empty:
        gap("culprits", "culprits", min_units=min_units, days=o["culprit_days"], **cdates)
    elif not len(_returns_of(ret, culprit_window)):  # nothing returned: a ranking of zeros says nothing
        gap("culprits", "no_culprit_returns", **cdates)
    if not has_ids:
        gap("suppliers", "no_supplier_ids")
        res.tables["suppliers"] = pd.DataFrame()
        res.tables["quality_rates"] = pd.DataFrame()
    else:
        suppliers = excess_returns(sold, ret, by="supplier_id", reason=o["focus_reason"], window=culprit_window,
                                   min_units=min_units, alpha=alpha)
        res.tables["suppliers"] = suppliers
        res.values["supplier_mde"] = _culprit_mde(suppliers, alpha)
        res.tables["quality_rates"] = quality_return_rate(sold, ret, by="supplier_id", window=window, alpha=alpha)
        if suppliers.empty:
            gap("suppliers", "suppliers", min_units=min_units, days=o["culprit_days"], **cdates)
        elif not len(_returns_of(ret, culprit_window)):
            gap("suppliers", "no_culprit_returns", **cdates)
    return res


# Headlines, findings and sentences: read only from results ------------------------------------------------------
def _top_culprit(now) -> pd.Series | None:
    """The SKU the headline follows: the first culprit of the ranking, else the first SKU its supplier does not
    explain (the ranking is by the low end of the excess)."""
    table = now.tables.get("culprits")
    if table is None or table.empty or not now.has("culprits"):
        return None
    own = table[table["culprit"]] if "culprit" in table else table[table["significant"]]
    rest = table[~table["supplier_explains"]] if "supplier_explains" in table else table
    pick = own if len(own) else rest
    return pick.iloc[0] if len(pick) else None


def headlines(now, before, msg: Messages) -> list[Headline]:
    """The index cards: each the same quantity for the period (``now``) and the comparison period (``before``).

    ``return_rate`` — units returned / units sold of the trailing ``window_days`` of mature sales (ending
    ``maturity_days`` before each period's end; the label says so); ``refunds`` and ``unmapped_share`` — returns
    received in the period; ``top_culprit_excess`` — excess returned units of the top culprit SKU, and the same
    SKU's excess as of the comparison period's end.
    """
    def val(result, name):
        v = None if result is None else result.values.get(name)
        return None if v is None or (isinstance(v, float) and np.isnan(v)) else float(v)

    days = now.notes["window_days"]
    out = [
        Headline("return_rate", msg("returns.h.return_rate", days=days), val(now, "return_rate"),
                 _HEADLINE_UNIT[UNITS["unit_rate"]], previous=val(before, "return_rate"), good="down",
                 source="ecomlib.returns.return_rates"),
        Headline("refunds", msg("returns.h.refunds"), val(now, "refunds"), _HEADLINE_UNIT[UNITS["refund_amount"]],
                 previous=val(before, "refunds"), good="down", source="ecomlib.returns.period_summary"),
        Headline("unmapped_share", msg("returns.h.unmapped_share"), val(now, "unmapped_share"), "ratio",
                 previous=val(before, "unmapped_share"), good="down", source="ecomlib.returns.period_summary"),
    ]
    top = _top_culprit(now)
    if top is not None:
        previous = None
        table = None if before is None else before.tables.get("culprits")
        if table is not None and len(table):
            same = table.loc[table["sku"] == top["sku"], "excess"]
            previous = float(same.iloc[0]) if len(same) else None
        out.append(Headline("top_culprit_excess", msg("returns.h.top_culprit_excess", sku=top["sku"]),
                            float(top["excess"]), "count", previous=previous, good="down",
                            source="ecomlib.returns.excess_returns"))
    return out


def _refund_per_unit(row) -> float:
    return float(row["refund_amount"]) / float(row["units_returned"]) if row["units_returned"] > 0 else 0.0


def findings(now, before, msg: Messages) -> list:
    """The review's structured conclusions, ranked on the index.

    Money at stake, for the period reviewed (store currency):

    - culprit SKU / supplier: excess returned units (observed − norm) in the culprit window × the average refund
      per returned unit of that SKU/supplier, scaled to the period's length (window days → period days): the
      sales reversed by the excess, per period;
    - cost of returns: lost shipping + written-off goods of the returns received in the period (refunds given
      as a number beside it);
    - rate change, reason mix, unmapped reasons: no money (None).

    Severity: ``high`` for the first-ranked culprit SKU and supplier when the exact interval's low end is at least
    1.5× the norm, ``medium`` for the next significant ones (at most :data:`MAX_FINDINGS` of each), ``low`` for a
    SKU its supplier explains, a reason-mix cell or unmapped reasons, ``info`` for the cost and an unchanged rate.
    Confidence ``significant`` only after Holm over the family named (the SKUs ranked, the suppliers ranked, the
    categories of the change table; the mix cells by Bonferroni).
    """
    out: list[Finding] = []
    alpha = now.notes["alpha"]
    scale = now.period.days / max(now.notes["culprit_window"].days, 1)
    conf = _conf(alpha)
    suppliers = now.tables.get("suppliers")
    if suppliers is not None and len(suppliers) and now.has("suppliers"):
        phrase = _phrase(suppliers["reason"].iloc[0], msg)
        for i, row in enumerate(suppliers[suppliers["significant"]].head(MAX_FINDINGS).to_dict("records")):
            money = max(row["excess"], 0.0) * _refund_per_unit(row) * scale
            key = "returns.s.supplier" if row["baseline"] == "category" else "returns.s.supplier_store"
            text = msg(key, phrase=phrase, supplier=row["supplier_id"], name=row["supplier_name"], ratio=row["ratio"],
                       lo=row["ratio_low"], hi=row["ratio_high"], units=row["units_returned"],
                       refund=row["refund_amount"], category=row["category"], conf=conf)
            out.append(Finding(NAME, f"supplier_{row['supplier_id']}", text,
                               {"supplier_id": row["supplier_id"], "ratio": row["ratio"], "ratio_low": row["ratio_low"],
                                "excess_units": row["excess"], "p_adjusted": row["p_adjusted"],
                                "reason": row["reason"]}, money=money,
                               severity="high" if i == 0 and row["ratio_low"] >= 1.5 else "medium",
                               confidence="significant",
                               anchor="sec-suppliers", source="ecomlib.returns.excess_returns"))
    culprits = now.tables.get("culprits")
    if culprits is not None and len(culprits) and now.has("culprits"):
        for i, row in enumerate(culprits[culprits["culprit"]].head(MAX_FINDINGS).to_dict("records")):
            money = max(row["excess"], 0.0) * _refund_per_unit(row) * scale
            text = msg("returns.s.culprit", sku=row["sku"], name=row["product_name"],
                       supplier=_of_supplier(row["supplier_id"], msg),
                       rate=row["unit_rate"], norm=row["expected_rate"], category=row["category"],
                       ratio=row["ratio"], lo=row["ratio_low"], hi=row["ratio_high"], excess=row["excess"], conf=conf,
                       phrase=_phrase(row["reason"], msg))
            reason = row.get("main_reason")
            text += (msg("returns.s.culprit_main", reason=_reason_label(reason, msg)) if isinstance(reason, str)
                     else msg("returns.s.culprit_end"))
            out.append(Finding(NAME, f"culprit_{row['sku']}", text,
                               {"sku": row["sku"], "supplier_id": row["supplier_id"], "ratio": row["ratio"],
                                "ratio_low": row["ratio_low"], "supplier_ratio": row["supplier_ratio"],
                                "excess_units": row["excess"], "p_adjusted": row["p_adjusted"]}, money=money,
                               severity="high" if i == 0 and row["ratio_low"] >= 1.5 else "medium",
                               confidence="significant",
                               anchor="sec-culprits", source="ecomlib.returns.excess_returns"))
        explained = culprits[culprits["supplier_explains"]]
        for supplier, rows in explained.groupby("supplier_id", sort=False):  # one finding per supplier
            first = rows.iloc[0]
            text = _explained_sentence(rows, msg, top=now.notes["top"])
            out.append(Finding(NAME, f"explained_{supplier}", text,
                               {"supplier_id": supplier, "skus": ", ".join(rows["sku"].astype(str)),
                                "ratio": first["ratio"], "supplier_ratio": first["supplier_ratio"]},
                               severity="low", confidence="not_significant", anchor="sec-culprits",
                               source="ecomlib.returns.excess_returns"))
    change = now.tables.get("rate_change")
    if change is not None and len(change) and now.has("change"):
        row = change.iloc[0]
        significant = bool(row["p_value"] < alpha)
        text = _change_sentence(now, msg)
        out.append(Finding(NAME, "rate_change", text,
                           {"unit_rate": row["unit_rate"], "unit_rate_prev": row["unit_rate_prev"], "diff": row["diff"],
                            "p_value": row["p_value"], "mde": row["mde"]},
                           severity="medium" if significant and row["diff"] > 0 else "info",
                           confidence="significant" if significant else "not_significant", anchor="sec-rates",
                           source="ecomlib.returns.window_change"))
    drivers = now.tables.get("mix_drivers")
    tests = now.tables.get("mix_tests")
    if drivers is not None and len(drivers):
        for by, cells in drivers.groupby("by", sort=False):  # category, supplier
            t = tests.set_index("by").loc[by]
            if not (t["reliable"] and t["p_value"] < alpha):
                continue
            listed = msg("returns.list_sep").join(
                msg("returns.s.cell", reason=_reason_label(c.reason, msg), group=c.group, residual=c.residual)
                for c in cells.head(3).itertuples())
            out.append(Finding(NAME, f"mix_{by}", msg("returns.s.mix", by=msg(f"returns.by.{by}"), chi2=t["chi2"],
                                                      p=t["p_value"], cells=listed),
                               {"chi2": t["chi2"], "p_value": t["p_value"], "cells": len(cells)}, severity="low",
                               confidence="significant", anchor="sec-mix", source="ecomlib.returns.reason_mix_test"))
    flow = now.values.get("flow") or {}
    if flow.get("returns") and flow.get("unmapped_share", 0) > 0.05:
        out.append(Finding(NAME, "unmapped", msg("returns.s.unmapped", share=flow["unmapped_share"], n=flow["unmapped"],
                                                 total=flow["returns"]),
                           {"unmapped_share": flow["unmapped_share"], "unmapped": flow["unmapped"]}, severity="low",
                           anchor="sec-reasons", source="ecomlib.returns.period_summary"))
    pc = now.tables.get("period_costs")
    if pc is not None and len(pc) and pc["returns"].sum() > 0:
        row = pc.iloc[0]
        out.append(Finding(NAME, "cost", msg("returns.s.period_cost", n=row["returns"], refund=row["refund_amount"],
                                             cost=row["cost"], writeoff=row["writeoff_value"],
                                             ship=row["lost_shipping"]),
                           {"returns": row["returns"], "refund_amount": row["refund_amount"], "cost": row["cost"]},
                           money=float(row["cost"]), severity="info", anchor="sec-cost",
                           source="ecomlib.returns.return_costs"))
    return out


def _change_sentence(now, msg: Messages) -> str:
    row = now.tables["rate_change"].iloc[0]
    prev = now.notes["previous_window"]
    fields = dict(prev=row["unit_rate_prev"], rate=row["unit_rate"], diff=row["diff"], p=row["p_value"],
                  pstart=msg.date(prev.start), pend=msg.date(prev.last_day), mde=abs(row["mde"]) * 100,
                  window=now.notes["window_days"])
    if row["p_value"] < now.notes["alpha"]:
        return msg("returns.s.change", **fields)
    return msg("returns.s.change_none", **fields)


def sentences(now, before, msg: Messages) -> list[str]:
    """The page's conclusions, in the run's language, read only from the numbers in ``now`` and ``before``."""
    out: list[str] = []
    window = now.notes["window"]
    if now.notes.get("no_returns"):
        out.append(msg("returns.s.no_returns"))
    rate = now.tables.get("rate") if now.has("rates") else None
    previous = before.tables.get("rate") if before is not None and before.has("rates") else None
    change = _change_sentence(now, msg) if now.has("change") and "rate_change" in now.tables else None
    over = now.values.get("units_over_returned", 0)
    t = now.tables
    rest = _sentences(rate=rate, previous_rate=previous, window=window,
                      previous_window=None if previous is None else before.notes["window"], change_sentence=change,
                      timing=now.values.get("timing") if now.has("timing") else None,
                      reasons=t.get("reasons") if now.has("reasons") else None, mapping=now.values.get("flow"),
                      mix=[now.values[k] for k in ("mix_category", "mix_supplier_id") if k in now.values],
                      suppliers=t.get("suppliers") if now.has("suppliers") else None,
                      culprits=t.get("culprits") if now.has("culprits") else None,
                      costs=t.get("costs") if now.has("cost") else None, min_units=now.notes["min_units"],
                      alpha=now.notes["alpha"], culprit_mde=now.values.get("culprit_mde"),
                      supplier_mde=now.values.get("supplier_mde"), msg=msg)
    return out + rest + ([msg("returns.s.over_returned", n=over)] if over else [])


# Page helpers: tables and notes the notebook shows ---------------------------------------------------------------
_TABLE_COLUMNS = {
    "culprits": ["sku", "product_name", "category", "supplier_id", "units_sold", "unit_rate", "expected_rate", "ratio",
                 "excess", "p_adjusted", "supplier_expected_rate", "supplier_explains", "main_reason"],
    "culprits_detail": ["sku", "product_name", "category", "supplier_id", "supplier_name", "units_sold",
                        "units_returned", "unit_rate", "unit_rate_low", "unit_rate_high", "expected", "expected_rate",
                        "baseline", "ratio", "ratio_low", "ratio_high", "excess", "excess_low", "p_value",
                        "p_adjusted", "supplier_expected_rate", "supplier_ratio", "supplier_ratio_low",
                        "supplier_ratio_high", "supplier_excess", "supplier_p_adjusted", "supplier_explains",
                        "culprit", "main_reason"],
    "suppliers": ["supplier_id", "supplier_name", "category", "units_sold", "units_returned", "unit_rate",
                  "expected_rate", "baseline", "ratio", "ratio_low", "ratio_high", "excess", "refund_amount",
                  "p_adjusted"],
    "change": ["category", "units_sold_prev", "units_returned_prev", "unit_rate_prev", "units_sold", "units_returned",
               "unit_rate", "diff", "ci_low", "ci_high", "mde", "p_value", "p_adjusted"],
    "by_channel": ["channel", "units_sold", "units_returned", "unit_rate", "unit_rate_low", "unit_rate_high",
                   "orders", "orders_returned", "order_rate", "refund_amount", "units_over_returned"],
}


def table(result, name: str, msg: Messages, *, top: int | None = None):
    """A result table ready to show: its columns for the page, codes translated, formats from :data:`UNITS`,
    headers from the catalogue, a caption saying which sales it covers; None when the table is empty (an empty
    table is not shown).

    name : a table of :func:`compute` (``culprits``, ``suppliers``, ``change``, ``by_channel``, ``reasons``,
    ``unmapped``, ``costs``, ``costs_category``, ``mix_tests``, ``quality_rates``), or ``culprits_detail`` (every
    column of the culprit ranking, for the analysts' details). top : rows shown (default: ``top`` of the options
    for the ranked tables).
    """
    from .report import styled

    source = "culprits" if name == "culprits_detail" else name
    df = result.tables.get(source)
    if df is None or df.empty:
        return None
    cols = [c for c in _TABLE_COLUMNS.get(name, list(df.columns)) if c in df]
    df = df[cols]
    if "units_over_returned" in df and not df["units_over_returned"].any():
        df = df.drop(columns="units_over_returned")  # shown only when some return exceeds its units sold
    top = top if top is not None else (result.notes["top"] if source in ("culprits", "suppliers") else None)
    if top is not None:
        df = df.head(top)
    if name == "costs_category" and len(df) > 13:
        from .report import group_tail
        df = group_tail(df, by="category", value="cost", top=12, msg=msg,
                        sum_columns=["returns", "units", "refund_amount", "lost_shipping", "nonresellable_units",
                                     "writeoff_value", "cost", "share_cost"])
        df["nonresellable_share"] = df["nonresellable_units"] / df["units"].where(df["units"] > 0)
    flags = {True: msg("returns.flag.yes"), False: msg("returns.flag.no")}
    for col in ("supplier_explains", "culprit", "reliable"):
        if col in df:
            df = df.assign(**{col: df[col].map(flags)})
    if "by" in df:
        df = df.assign(by=df["by"].map(lambda b: msg(f"returns.by.{b}")))
    if "channel" in df:
        df = df.assign(channel=df["channel"].map(lambda v: _other_label(v, msg)))
    shown = label_values(df, msg)
    w, cw, pw = result.notes["window"], result.notes["culprit_window"], result.notes["previous_window"]
    dates = dict(start=msg.date(w.start), end=msg.date(w.last_day))
    captions = {"change": msg("returns.cap.change", window=result.notes["window_days"], pstart=msg.date(pw.start),
                              pend=msg.date(pw.last_day), **dates),
                "by_channel": msg("returns.cap.channel", **dates), "reasons": msg("returns.cap.reasons", **dates),
                "costs": msg("returns.cap.costs", by=msg("returns.by.reason"), **dates),
                "costs_category": msg("returns.cap.costs", by=msg("returns.by.category"), **dates),
                "culprits": msg("returns.cap.culprits", start=msg.date(cw.start), end=msg.date(cw.last_day),
                                n=len(shown), total=len(result.tables[source])),
                "culprits_detail": msg("returns.cap.culprits", start=msg.date(cw.start), end=msg.date(cw.last_day),
                                       n=len(shown), total=len(result.tables[source])),
                "suppliers": msg("returns.cap.suppliers", start=msg.date(cw.start), end=msg.date(cw.last_day),
                                 n=len(shown), total=len(result.tables[source])),
                "mix_tests": msg("returns.cap.mix_tests", **dates),
                "quality_rates": msg("returns.cap.quality_rates", **dates)}
    return styled(shown, msg, formats=formats(shown), labels=msg.labels(list(shown.columns), "returns.col."),
                  caption=captions.get(name))


def _other_label(value, msg: Messages):
    """The folded row of :func:`_fold_rates` (``other (N)``) in the run's language."""
    m = re.fullmatch(r"other \((\d+)\)", str(value))
    return msg("vocab.other_n", n=int(m.group(1))) if m else value


def page_note(result, key: str, msg: Messages, before=None) -> str:
    """A note of the page (``window``, ``rules``, ``culprits``, ``suppliers``, ``cost``, ``unmapped``,
    ``minimum``) with the result's windows and options filled in; ``before`` (the comparison's result) for
    ``window``."""
    n = result.notes
    w, cw = n["window"], n["culprit_window"]
    if key == "window":
        text = msg("returns.note.window", start=msg.date(w.start), end=msg.date(w.last_day), window=n["window_days"],
                   days=n["maturity_days"], as_of=msg.date(result.period.last_day))
        if before is not None:
            bw = before.notes["window"]
            overlap = max((min(w.end, bw.end) - max(w.start, bw.start)).days, 0)
            text += " " + msg("returns.note.comparison", start=msg.date(bw.start), end=msg.date(bw.last_day),
                              as_of=msg.date(before.period.last_day), overlap=overlap, window=n["window_days"])
        return text
    if key == "rules":
        return msg("returns.note.rules", path=n["rules"])
    if key == "culprits":
        return msg("returns.note.culprits", start=msg.date(cw.start), end=msg.date(cw.last_day),
                   min_units=n["min_units"], conf=_conf(n["alpha"]), top=n["top"])
    if key == "suppliers":
        text = msg("returns.note.suppliers", phrase=_phrase(n["focus_reason"] or "all", msg),
                   start=msg.date(cw.start), end=msg.date(cw.last_day))
        return text if n["supplier_names"] else text + msg("returns.note.no_supplier_names")
    if key == "cost":
        return msg("returns.note.cost")
    if key == "unmapped":  # shown under the reasons, which need returns
        unmapped = result.tables.get("unmapped")
        return msg("returns.note.unmapped_table") if unmapped is not None and len(unmapped) else \
            msg("returns.note.all_mapped")
    if key == "minimum":
        return msg("returns.note.minimum") + " " + " ".join(msg(f"returns.min.{s}") for s in MINIMUM_DATA)
    raise KeyError(f"no page note {key!r}")
