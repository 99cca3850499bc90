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

Example
-------
>>> import ecomlib as el
>>> from ecomlib import returns
>>> ds = el.load_dataset("data/demo")                                   # doctest: +SKIP
>>> sold = returns.sold_lines(ds.orders, ds.order_items, ds.products, suppliers=ds.suppliers)  # doctest: +SKIP
>>> ret = returns.return_lines(ds.returns, sold, as_of="2026-11-23")     # doctest: +SKIP
>>> win = returns.sales_window(el.parse_period("2026-W47"))             # doctest: +SKIP
>>> returns.excess_returns(sold, ret, by="sku", window=win).head()      # doctest: +SKIP
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import yaml
from matplotlib.ticker import FuncFormatter, PercentFormatter
from scipy import stats as sps

from .contract import ORDER_STATUSES, SOLD_STATUSES
from .errors import EcomlibError
from .i18n import Messages
from .periods import Period
from .report import Headline
from .stats import adjust_pvalues, chi_square_residuals, two_proportion_test, wilson_interval

TAXONOMY = ("size_fit", "quality_defect", "damaged_in_transit", "not_as_described", "wrong_item",
            "late_delivery", "changed_mind", "other")
UNMAPPED = "unmapped"
REASONS = TAXONOMY + (UNMAPPED,)
SOURCES = ("code", "text", "none")
RULE_KEYS = ("priority", "codes", "keywords")
CULPRIT_LEVELS = ("sku", "supplier_id")
FREQS = {"W": "week", "M": "month"}

__all__ = [
    "CULPRIT_LEVELS", "describe_mix", "excess_returns", "headlines", "label_values", "load_rules", "map_reasons",
    "period_summary", "plot_costs", "plot_pareto", "plot_residuals", "plot_time_to_return", "plot_trend",
    "rate_trend", "reason_mix_test", "reason_summary", "ReasonMixTest", "ReasonRules", "REASONS", "return_costs",
    "return_lines", "return_rates", "RulesError", "sales_window", "sentences", "sold_lines", "SOLD_STATUSES",
    "TAXONOMY", "time_to_return", "UNMAPPED", "unmapped_values", "window_change",
]


# Reason rules ------------------------------------------------------------------------------------------------
class RulesError(EcomlibError):
    """Raised when a return-reason rules file cannot be read or breaks its format.

    Attributes: ``path`` (the file), ``key`` (where in it, e.g. ``codes.shopify.COLOR``), ``problem``,
    ``expected`` (what the key should hold).
    """

    def __init__(self, path: str | Path, key: str, problem: str, expected: str):
        self.path, self.key, self.problem, self.expected = str(path), key, problem, expected
        super().__init__(f"{path}: {key}: {problem}; expected {expected}. Fix: edit the rules file (its header "
                         f"explains the format), or pass rules_path=None to use the packaged rules.")


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
        return "ecomlib/rules/return_reasons.yaml" if self.path == str(_packaged_rules()) else self.path

    def __repr__(self) -> str:
        n_words = sum(len(w) for w in self.keywords.values())
        return f"ReasonRules({len(self.codes)} codes, {n_words} keywords, path={self.path!r})"


def _code_key(code: str) -> str:
    return re.sub(r"[\s\-]+", "_", str(code).strip().upper())


def _normalise_text(text: pd.Series) -> pd.Series:
    """Full-width → half-width (NFKC), typographic apostrophes → ``'``; missing stays missing."""
    return text.astype("str").where(text.notna()).str.normalize("NFKC").str.replace("\u2019", "'", regex=False)


def _packaged_rules() -> Path:
    return Path(str(resources.files("ecomlib").joinpath("rules", "return_reasons.yaml")))


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
    file = _packaged_rules() if path is None else Path(path)
    valid = f"one of {list(TAXONOMY)}"
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RulesError(file, "(file)", "no such file", "a YAML rules file such as the packaged "
                         "ecomlib/rules/return_reasons.yaml, copied and edited") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(file)"
        raise RulesError(file, where, f"not valid YAML ({getattr(exc, 'problem', exc)})",
                         "YAML laid out like the packaged file") from None
    if not isinstance(raw, dict):
        raise RulesError(file, "(top level)", f"holds {type(raw).__name__}, not a mapping",
                         f"a mapping with the keys {list(RULE_KEYS)}")
    for key in RULE_KEYS:
        if key not in raw:
            raise RulesError(file, key, "missing", f"the keys {list(RULE_KEYS)}")
    unknown = sorted(set(raw) - set(RULE_KEYS))
    if unknown:
        raise RulesError(file, unknown[0], "unknown key", f"only the keys {list(RULE_KEYS)}")

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
    shipping_fee, unit_price``, the product's ``product_name, category, supplier_id, supplier_name,
    unit_cost``, ``matched`` (the return's order line is a sale in ``sold``; only matched returns enter
    rates) and ``days_to_return`` (days from order to return, fractional).
    """
    r = returns if as_of is None else returns[returns["returned_at"] < pd.Timestamp(as_of)]
    out = map_reasons(r, rules=rules)
    out = out.drop(columns=[c for c in _LINE_COLUMNS + _PRODUCT_COLUMNS if c in out])
    out = out.merge(sold[["order_id", "sku", *_LINE_COLUMNS]], on=["order_id", "sku"], how="left")
    products = sold[["sku", *_PRODUCT_COLUMNS]].drop_duplicates("sku")
    out = out.merge(products, on="sku", how="left")
    out["matched"] = out["order_time"].notna()
    out["days_to_return"] = (out["returned_at"] - out["order_time"]) / pd.Timedelta(days=1)
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
    unit_rate_high, orders, orders_returned, order_rate, order_rate_low, order_rate_high, refund_amount``.

    Example
    -------
    >>> return_rates(sold, ret, by="category", window=win)  # doctest: +SKIP
    """
    keys = _keys(by)
    s = _in_window(sold, window)
    r = _returns_of(returned, window, reason)
    gs, gr = _grouped(s, keys), _grouped(r, keys)
    out = pd.concat([gs["quantity"].sum().rename("units_sold"), gs["order_id"].nunique().rename("orders")], axis=1)
    ret = pd.concat([gr["quantity"].sum().rename("units_returned"), gr["order_id"].nunique().rename("orders_returned"),
                     gr["refund_amount"].sum().rename("refund_amount")], axis=1)
    out = out.join(ret, how="left").fillna({"units_returned": 0, "orders_returned": 0, "refund_amount": 0.0})
    out = out.astype({"units_sold": "int64", "orders": "int64", "units_returned": "int64", "orders_returned": "int64"})
    for name, x, n in (("unit_rate", "units_returned", "units_sold"), ("order_rate", "orders_returned", "orders")):
        out[name] = out[x] / out[n].where(out[n] > 0)
        out[f"{name}_low"], out[f"{name}_high"] = wilson_interval(np.minimum(out[x], out[n]), out[n], alpha=alpha)
    cols = ["units_sold", "units_returned", "unit_rate", "unit_rate_low", "unit_rate_high", "orders",
            "orders_returned", "order_rate", "order_rate_low", "order_rate_high", "refund_amount"]
    out = out[cols].reset_index()
    return out.drop(columns="_all") if not keys else out


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
    keys = _keys(by)
    cols = ["units_sold", "units_returned", "unit_rate"]
    cur = return_rates(sold, returned, by=by, window=window, reason=reason, alpha=alpha)[keys + cols]
    prev = return_rates(sold, returned, by=by, window=previous, reason=reason, alpha=alpha)[keys + cols]
    if keys:
        out = prev.merge(cur, on=keys, how="outer", suffixes=("_prev", ""))
    else:
        out = pd.concat([prev.add_suffix("_prev"), cur], axis=1)
    out = out.fillna({c: 0 for c in ("units_sold", "units_returned", "units_sold_prev", "units_returned_prev")})
    test = two_proportion_test(out["units_returned_prev"], out["units_sold_prev"],
                               out["units_returned"], out["units_sold"])
    out["diff"] = test["diff"].to_numpy()
    out["ci_low"], out["ci_high"], out["p_value"] = (test[c].to_numpy() for c in ("ci_low", "ci_high", "p_value"))
    out["p_adjusted"] = adjust_pvalues(out["p_value"], method="holm")
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
    ret = r.groupby(keys, observed=True).agg(x=("quantity", "sum"), refund=("refund_amount", "sum")).reset_index()
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
    largest excess).

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
    out["p_adjusted"] = adjust_pvalues(out["p_value"], method="holm")
    out["significant"] = (out["p_adjusted"] < alpha) & (out["ratio"] > 1)
    out["reason"] = "all" if reason is None else "+".join(_reasons(reason))
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
                                 "significant"] + (["main_reason"] if "main_reason" in out else [])
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
    """A copy with reason and baseline values shown in the run's language (for tables), other columns as they are.

    Example
    -------
    >>> label_values(pd.DataFrame({"reason": ["size_fit"]}), Messages("zh"))["reason"].tolist()
    ['尺码/不合身']
    """
    out = data.copy()
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
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: msg.money(v)))
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

    data : :func:`return_costs` output; x : the money columns to stack. kwargs go to ``Axes.barh``.
    """
    if ax is None:
        ax = plt.gca()
    msg = _msg(msg)
    d = data.sort_values("cost", kind="stable")
    pos = np.arange(len(d))
    left = np.zeros(len(d))
    for i, col in enumerate(x):  # a handful of cost components
        ax.barh(pos, d[col], left=left, color=f"C{i}", label=msg(f"returns.col.{col}"), **kwargs)
        left = left + d[col].to_numpy(float)
    ax.set_yticks(pos, [_reason_label(v, msg) for v in d[y]])
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: msg.money(v)))
    ax.set_xlabel(msg("returns.col.cost"))
    ax.set_ylabel("")
    ax.set_title(msg("returns.fig.costs", by=msg(f"returns.by.{y}")))
    ax.legend(loc="lower right")
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


def sentences(*, rate: pd.DataFrame, previous_rate: pd.DataFrame | None = None, window: Period,
              timing: dict | None = None, reasons: pd.DataFrame | None = None, mapping: dict | None = None,
              mix: ReasonMixTest | Sequence[ReasonMixTest] | None = None, suppliers: pd.DataFrame | None = None,
              culprits: pd.DataFrame | None = None, costs: pd.DataFrame | None = None, min_units: int = 100,
              top: int = 2, alpha: float = 0.05, msg: Messages) -> list[str]:
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
                      orders=cur["order_rate"], start=msg.date(window.start), end=msg.date(window.last_day), conf=conf)
        if prev is not None and prev["units_sold"] > 0:
            out.append(msg("returns.s.rate_vs", prev=prev["unit_rate"], **fields))
        else:
            out.append(msg("returns.s.rate", **fields))
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
            out.append(msg("returns.s.no_supplier", phrase=phrase))
    if culprits is not None:
        hits = culprits[culprits["significant"]].head(top)
        for row in hits.itertuples():  # at most `top` rows
            reason = getattr(row, "main_reason", None)
            text = msg("returns.s.culprit", sku=row.sku, name=row.product_name, supplier=row.supplier_id,
                       rate=row.unit_rate, norm=row.expected_rate, category=row.category, ratio=row.ratio,
                       lo=row.ratio_low, hi=row.ratio_high, excess=row.excess, conf=conf,
                       phrase=_phrase(row.reason, msg))
            if isinstance(reason, str):
                text += msg("returns.s.culprit_main", reason=_reason_label(reason, msg))
            else:
                text += msg("returns.s.culprit_end")
            out.append(text)
        if hits.empty:
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


def headlines(*, rate: pd.DataFrame, previous_rate: pd.DataFrame | None, flow: dict, previous_flow: dict | None,
              culprits: pd.DataFrame | None, previous_culprits: pd.DataFrame | None, msg: Messages) -> list[Headline]:
    """The review's headline numbers with their comparison-period values.

    rate / previous_rate : one-row :func:`return_rates` for the sales window of the period / comparison;
    flow / previous_flow : :func:`period_summary` of returns received in the period / comparison;
    culprits / previous_culprits : :func:`excess_returns` by SKU (the top culprit's excess now, and the same
    SKU's excess in the comparison window).

    Returns four :class:`~ecomlib.report.Headline`: ``return_rate`` (units, ratio), ``refunds`` (money),
    ``unmapped_share`` (ratio) and ``top_culprit_excess`` (count; absent when no SKU is ranked).
    """
    cur, prev = _row(rate), _row(previous_rate)
    value = lambda row, col: None if row is None else float(row[col])  # noqa: E731
    out = [
        Headline("return_rate", msg("returns.h.return_rate"), value(cur, "unit_rate"), "ratio",
                 previous=value(prev, "unit_rate"), good="down"),
        Headline("refunds", msg("returns.h.refunds"), flow["refund_amount"], "money",
                 previous=None if previous_flow is None else previous_flow["refund_amount"], good="down"),
        Headline("unmapped_share", msg("returns.h.unmapped_share"), flow["unmapped_share"], "ratio",
                 previous=None if previous_flow is None else previous_flow["unmapped_share"], good="down"),
    ]
    top = _row(culprits)
    if top is not None:
        before = None
        if previous_culprits is not None:
            same = previous_culprits.loc[previous_culprits["sku"] == top["sku"], "excess"]
            before = float(same.iloc[0]) if len(same) else None
        out.append(Headline("top_culprit_excess", msg("returns.h.top_culprit_excess", sku=top["sku"]),
                            float(top["excess"]), "count", previous=before, good="down"))
    return out
