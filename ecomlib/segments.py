"""Customer segments: RFM scores, named segments from an editable rules file, their value, their movement, and
action lists — the customer-segment review (``notebooks/segments.ipynb``).

Every customer with a counted order before the period end (:func:`ecomlib.contract.order_revenue`: status
``completed`` or ``partially_refunded``; net of refunds when the store has a returns table, gross otherwise) is
scored 1–5 on recency, frequency and monetary value by the rules of ``ecomlib/rules/rfm_segments.yaml`` (or an
analyst's copy, ``rules_path``), and named by the first segment of the rules whose score ranges hold
(champions, loyal, new, promising, can't lose, at risk, need attention, hibernating, lost). Guest orders are
left out. Per segment the page shows size, share of the trailing ``revenue_days`` revenue, and the predicted
12-month CLV and P(alive) of the BG/NBD + Gamma-Gamma model of :class:`ecomlib.ltv.CustomerValueModel`; the
movement of customers between segments since the comparison period's end; champions by acquisition cohort; and
per-segment action lists (customer ids with their numbers) for an email or SMS tool, written as formula-safe CSV
by :func:`write_action_lists` (:func:`ecomlib.csvout.write_csv`).

Minimum data per section (also on the page, :data:`MINIMUM_DATA`):

- segments: one customer with a counted order before the period end;
- value: the lifetime-value model's minimum (8 weeks of purchase history, 20 customers, 10 of them with a
  repeat purchase of positive value), as in the cohort review; otherwise CLV and P(alive) are a gap and the
  segments still show;
- movement: a customer with a counted order before the comparison period's end;
- cohorts: three acquisition months of at least ``min_cohort_size`` (30) customers that ended
  ``min_cohort_age_days`` (180) or more before the period end (younger months cannot have many champions yet).

Example
-------
>>> o = pd.DataFrame({"customer_id": ["a", "a", "a", "a", "b"], "order_time": pd.to_datetime(
...     ["2026-01-05", "2026-02-05", "2026-03-05", "2026-03-20", "2025-01-10"]), "revenue": [10.0, 20, 30, 40, 5]})
>>> s = rfm_scores(o, as_of="2026-04-01")
>>> assign_segments(s)[["customer_id", "recency_days", "orders", "r", "f", "segment"]].to_dict("records")
[{'customer_id': 'a', 'recency_days': 11, 'orders': 4, 'r': 5, 'f': 3, 'segment': 'loyal'}, \
{'customer_id': 'b', 'recency_days': 445, 'orders': 1, 'r': 1, 'f': 1, 'segment': 'lost'}]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes

from .contract import order_revenue
from .errors import ParameterError, RulesError
from .i18n import LANGS, Messages
from .review import Gap, Result
from .rulesfile import packaged, read_rules

__all__ = [
    "action_lists", "assign_segments", "champions_by_cohort", "compute", "data_range", "findings", "formats",
    "headlines", "load", "load_rules", "MINIMUM_DATA", "movement", "NAME", "OPTIONS", "page_note", "plot_cohorts",
    "plot_movement", "plot_segments", "plot_value", "RfmRules", "rfm_scores", "SegmentRule", "segment_label",
    "segment_summary", "sentences", "table", "UNITS", "write_action_lists",
]

NAME = "segments"
#: Defaults of :func:`compute`'s options (the notebook's parameters of the same names).
OPTIONS = {"rules_path": None, "revenue_days": 365, "horizon_months": 12, "gross_margin": 0.5,
           "discount_rate": 0.01, "min_cohort_size": 30, "min_cohort_age_days": 180, "alpha": 0.05, "top": 5}
RULE_KEYS = ("recency", "frequency", "monetary", "segments")
SEGMENT_KEYS = ("name", "r", "f", "m", "label", "action")
SCORES = (1, 2, 3, 4, 5)
#: Segments whose customers are worth a win-back (their value is the money at stake when they go).
AT_RISK = ("cant_lose", "at_risk")
#: Segments counted as upgrades / downgrades in the movement sentence (best first, as in the packaged rules).
VALUABLE = ("champions", "loyal")
NOT_YET = "not_yet"
"""The ``from_segment`` of customers whose first counted order falls after the comparison period's end."""
MIN_MODEL_DAYS = 56

MINIMUM_DATA = {
    "segments": "Segments need one customer with a counted order (completed or partially refunded) before the "
                "period end; guest orders are left out.",
    "value": "Predicted CLV and P(alive) need the lifetime-value model's minimum: 8 weeks of purchase history, 20 "
             "customers and 10 with a repeat purchase of positive value.",
    "movement": "Movement needs customers with a counted order before the comparison period's end.",
    "cohorts": "Champions by cohort need three acquisition months of at least min_cohort_size (30) customers that "
               "ended min_cohort_age_days (180) or more before the period end.",
}

#: Every column's display unit, declared once: tables (:func:`formats`), axes and headlines use it.
UNITS: dict[str, str] = {
    **{c: "int" for c in ("customers", "orders", "recency_days", "r", "f", "m", "champions", "cohort_size",
                          "files", "cells_neutralised")},
    **{c: "pct" for c in ("share", "revenue_share", "p_alive", "champion_share", "ci_low", "ci_high",
                          "rest_share")},
    **{c: "money" for c in ("revenue", "period_revenue", "clv", "clv_mean", "clv_total", "monetary")},
    **{c: "pp" for c in ("diff",)},
    **{c: "p" for c in ("p_value", "p_adjusted")},
    **{c: "num" for c in ("p_alive_mean", "mean_orders")},
    "last_order": "date",
}


def formats(df: pd.DataFrame) -> dict[str, str]:
    """Display formats of ``df``'s columns from :data:`UNITS` (for :func:`ecomlib.report.styled`)."""
    return {c: UNITS[c] for c in df.columns if c in UNITS}


# Rules ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SegmentRule:
    """One named segment: score ranges ``r``, ``f``, ``m`` as (lowest, highest), both included; ``label`` and
    ``action`` ({lang: text}) only for a segment the message catalogue does not know."""

    name: str
    r: tuple[int, int] = (1, 5)
    f: tuple[int, int] = (1, 5)
    m: tuple[int, int] = (1, 5)
    label: Mapping[str, str] = field(default_factory=dict)
    action: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RfmRules:
    """Validated RFM rules (see the header of ``ecomlib/rules/rfm_segments.yaml``).

    recency : four ascending day limits (scores 5..2); frequency : four ascending order counts (scores 2..5);
    monetary : ``"quantiles"`` or four ascending amounts; segments : tried in order; path : where they came from.
    """

    recency: tuple[float, ...]
    frequency: tuple[float, ...]
    monetary: str | tuple[float, ...]
    segments: tuple[SegmentRule, ...]
    path: str = "<packaged>"

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.segments]

    @property
    def label(self) -> str:
        """Where the rules came from, for the page."""
        return "ecomlib/rules/rfm_segments.yaml" if self.path == str(packaged("rfm_segments.yaml")) else self.path

    def __repr__(self) -> str:
        return f"RfmRules({len(self.segments)} segments, path={self.path!r})"


def _limits(file, key: str, value, what: str) -> tuple[float, ...]:
    ok = (isinstance(value, list) and len(value) == 4
          and all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in value))
    if not ok or any(b <= a for a, b in zip(value, value[1:])) or value[0] < 0:
        raise RulesError(file, key, f"holds {value!r}", f"four ascending {what} ≥ 0, e.g. [30, 90, 180, 365]")
    return tuple(float(v) for v in value)


def _range(file, where: str, value) -> tuple[int, int]:
    if value is None:
        return (1, 5)
    ok = (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) and not isinstance(v, bool)
                                                               and 1 <= v <= 5 for v in value))
    if not ok or value[0] > value[1]:
        raise RulesError(file, where, f"holds {value!r}", "[lowest, highest] scores, whole numbers 1 to 5, "
                                                         "lowest first, e.g. [4, 5]")
    return (value[0], value[1])


def _texts(file, where: str, value) -> dict[str, str]:
    if not (isinstance(value, dict) and set(value) == set(LANGS) and all(isinstance(v, str) and v.strip()
                                                                         for v in value.values())):
        raise RulesError(file, where, f"holds {value!r}", f"a text in each language: {{{', '.join(LANGS)}}}")
    return dict(value)


def load_rules(path: str | Path | None = None) -> RfmRules:
    """Read and check an RFM rules file (None: the packaged ``ecomlib/rules/rfm_segments.yaml``).

    Raises :class:`~ecomlib.returns.RulesError` naming the key that is wrong and what it should hold: a missing or
    unknown key, limits that are not four ascending numbers, a score range outside 1–5, a segment named twice,
    a segment of one's own without ``label`` and ``action`` in every language, or a combination of scores no
    segment covers.

    Example
    -------
    >>> rules = load_rules()
    >>> rules.names[:3], rules.recency
    (['champions', 'loyal', 'new'], (30.0, 90.0, 180.0, 365.0))
    """
    from .i18n import catalogue

    file, raw = read_rules(path, name="rfm_segments.yaml", keys=RULE_KEYS)
    recency = _limits(file, "recency", raw["recency"], "numbers of days")
    frequency = _limits(file, "frequency", raw["frequency"], "order counts")
    monetary = raw["monetary"] if raw["monetary"] == "quantiles" else _limits(
        file, "monetary", raw["monetary"], "amounts (or the word quantiles)")
    items = raw["segments"]
    if not isinstance(items, list) or not items:
        raise RulesError(file, "segments", "is not a list of segments", "a list of {name, r, f, m} mappings")
    known = catalogue()
    rules, seen = [], set()
    for i, item in enumerate(items):
        where = f"segments[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"].strip():
            raise RulesError(file, where, "has no name", "a mapping with a name, e.g. {name: champions, r: [4, 5]}")
        name = item["name"].strip()
        where = f"segments.{name}"
        bad = sorted(set(item) - set(SEGMENT_KEYS))
        if bad:
            raise RulesError(file, f"{where}.{bad[0]}", "unknown key", f"only the keys {list(SEGMENT_KEYS)}")
        if name in seen or name == NOT_YET:
            raise RulesError(file, where, "is named twice" if name in seen else "uses a reserved name",
                             "each segment name once (and not 'not_yet')")
        seen.add(name)
        packaged = f"segments.segment.{name}" in known and f"segments.action.{name}" in known
        if not packaged and not ("label" in item and "action" in item):
            raise RulesError(file, where, "is a segment of your own without label and action",
                             "label: {en: ..., zh: ...} and action: {en: ..., zh: ...}")
        rules.append(SegmentRule(name=name, r=_range(file, f"{where}.r", item.get("r")),
                                 f=_range(file, f"{where}.f", item.get("f")),
                                 m=_range(file, f"{where}.m", item.get("m")),
                                 label=_texts(file, f"{where}.label", item["label"]) if "label" in item else {},
                                 action=_texts(file, f"{where}.action", item["action"]) if "action" in item else {}))
    grid = pd.DataFrame([(r, f, m) for r in SCORES for f in SCORES for m in SCORES], columns=["r", "f", "m"])
    named = _name(grid, rules)
    if named.isna().any():
        r, f, m = grid.loc[named.isna()].iloc[0]
        raise RulesError(file, "segments", f"covers no segment for the scores r={r}, f={f}, m={m}",
                         "segments whose ranges together cover every score from 1 to 5 (end with a catch-all, "
                         "e.g. {name: need_attention} without ranges)")
    return RfmRules(recency=recency, frequency=frequency, monetary=monetary, segments=tuple(rules), path=str(file))


def _rules(rules: RfmRules | str | Path | None) -> RfmRules:
    return rules if isinstance(rules, RfmRules) else load_rules(rules)


def _name(scores: pd.DataFrame, segments: Sequence[SegmentRule]) -> pd.Series:
    """The first segment whose ranges hold each row's ``r, f, m`` (NaN where none does); one pass per segment."""
    out = pd.Series(np.nan, index=scores.index, dtype=object)
    for seg in segments:  # a handful of segments, each vectorized over customers
        hold = np.ones(len(scores), dtype=bool)
        for col in ("r", "f", "m"):
            lo, hi = getattr(seg, col)
            hold &= scores[col].between(lo, hi).to_numpy()
        out = out.where(out.notna() | ~hold, seg.name)
    return out


# Scores and segments ------------------------------------------------------------------------------------------
def _counted(orders: pd.DataFrame, returns: pd.DataFrame | None) -> pd.DataFrame:
    """Counted orders with a customer, revenue on the stated basis (net with returns, else gross)."""
    if "status" not in orders.columns:  # a plain transaction log is taken as it is
        out = orders
    else:
        out = order_revenue(orders, basis="net" if returns is not None else "gross", returns=returns)
    return out.loc[out["customer_id"].notna()]


def rfm_scores(orders: pd.DataFrame, *, as_of: pd.Timestamp | str, rules: RfmRules | str | Path | None = None,
               returns: pd.DataFrame | None = None) -> pd.DataFrame:
    """Recency, frequency and monetary value of every customer with a counted order before ``as_of``, scored 1–5.

    Parameters
    ----------
    orders : contract ``orders`` (counted orders are selected with :func:`ecomlib.contract.order_revenue`; a
        table without ``status`` is taken as a transaction log of counted orders).
    as_of : the data cut-off, exclusive (``period.end``); recency counts days to the day before it.
    rules : :class:`RfmRules`, a rules file, or None (the packaged rules).
    returns : contract ``returns``; when given, revenue is net of refunds.

    Returns
    -------
    One row per customer (sorted by id): ``customer_id, first_order, last_order`` (timestamps),
    ``recency_days`` (whole days from the last order's day to the last day before ``as_of``), ``orders``,
    ``revenue`` (store currency), scores ``r, f, m`` (1 worst – 5 best).
    """
    rules = _rules(rules)
    end = pd.Timestamp(as_of)
    counted = _counted(orders, returns)
    counted = counted.loc[counted["order_time"] < end]
    g = counted.groupby("customer_id", observed=True, sort=True)
    out = pd.DataFrame({"first_order": g["order_time"].min(), "last_order": g["order_time"].max(),
                        "orders": g.size(), "revenue": g["revenue"].sum().astype(float)})
    out = out.rename_axis("customer_id").reset_index()
    out["customer_id"] = out["customer_id"].astype(str)
    last_day = (end - pd.Timedelta(days=1)).normalize()
    out.insert(3, "recency_days", ((last_day - out["last_order"].dt.normalize()).dt.days).astype("int64"))
    out["r"] = 5 - np.searchsorted(np.asarray(rules.recency), out["recency_days"].to_numpy(), side="left")
    out["f"] = 1 + np.searchsorted(np.asarray(rules.frequency), out["orders"].to_numpy(), side="right")
    if rules.monetary == "quantiles":
        pct = out["revenue"].rank(pct=True, method="average").to_numpy()
        out["m"] = np.clip(np.ceil(pct * 5), 1, 5).astype(int) if len(out) else np.array([], dtype=int)
    else:
        out["m"] = 1 + np.searchsorted(np.asarray(rules.monetary), out["revenue"].to_numpy(), side="right")
    out[["r", "f", "m"]] = out[["r", "f", "m"]].astype("int64")
    return out


def assign_segments(scores: pd.DataFrame, *, rules: RfmRules | str | Path | None = None) -> pd.DataFrame:
    """A copy of :func:`rfm_scores`' table with ``segment``: the first segment of the rules whose ranges hold."""
    rules = _rules(rules)
    return scores.assign(segment=_name(scores, rules.segments).astype(object))


def segment_label(name: str, msg: Messages, rules: RfmRules | None = None) -> str:
    """A segment's name in the run's language: the catalogue's label, or the rules file's own label."""
    if name == NOT_YET:
        return msg("segments.segment.not_yet")
    from .i18n import catalogue

    seg = next((s for s in (rules.segments if rules else ()) if s.name == name), None)
    if seg is not None and seg.label:
        return seg.label[msg.lang]
    key = f"segments.segment.{name}"
    return msg(key) if key in catalogue() else str(name)  # a rules file's own segment, shown without its rules


def _action(name: str, msg: Messages, rules: RfmRules) -> str:
    seg = next(s for s in rules.segments if s.name == name)
    return seg.action[msg.lang] if seg.action else msg(f"segments.action.{name}")


def segment_summary(customers: pd.DataFrame, *, period_orders: pd.DataFrame,
                    rules: RfmRules | str | Path | None = None, predictions: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per segment of the rules (in their order, empty ones included): size, revenue share, value.

    Parameters
    ----------
    customers : :func:`assign_segments`' table.
    period_orders : counted orders whose revenue is shared out (the trailing revenue window), with
        ``customer_id`` and ``revenue``.
    predictions : :meth:`ecomlib.ltv.CustomerValueModel.predict` output indexed by customer id (``p_alive``,
        ``clv``); None leaves the value columns NaN.

    Returns
    -------
    ``segment, customers, share`` (of customers scored), ``mean_orders``, ``revenue`` (of ``period_orders``),
    ``revenue_share``, ``p_alive`` (mean), ``clv_mean``, ``clv_total``.
    """
    rules = _rules(rules)
    rev = period_orders.groupby("customer_id", observed=True)["revenue"].sum()
    c = customers.assign(revenue_window=customers["customer_id"].map(rev).fillna(0.0).astype(float))
    if predictions is not None:
        c = c.assign(p_alive=c["customer_id"].map(predictions["p_alive"]), clv=c["customer_id"].map(predictions["clv"]))
    else:
        c = c.assign(p_alive=np.nan, clv=np.nan)
    g = c.groupby("segment", observed=True, sort=False)
    out = pd.DataFrame({"customers": g.size(), "mean_orders": g["orders"].mean(), "revenue": g["revenue_window"].sum(),
                        "p_alive": g["p_alive"].mean(), "clv_mean": g["clv"].mean(),
                        "clv_total": g["clv"].sum(min_count=1)})
    out = out.reindex(rules.names).rename_axis("segment").reset_index()
    out["customers"] = out["customers"].fillna(0).astype("int64")
    out["revenue"] = out["revenue"].fillna(0.0)
    total, revenue = out["customers"].sum(), out["revenue"].sum()
    out.insert(2, "share", out["customers"] / total if total else np.nan)
    out.insert(5, "revenue_share", out["revenue"] / revenue if revenue > 0 else np.nan)
    return out


def movement(before: pd.DataFrame, now: pd.DataFrame) -> pd.DataFrame:
    """Customers moving between segments from the comparison period's end to the period's end.

    ``before`` and ``now``: :func:`assign_segments` tables as of each end. Returns one row per (from, to) pair with
    customers: ``from_segment`` (``not_yet`` for customers first counted after the comparison's end),
    ``to_segment``, ``customers``, ``share_of_from`` (fraction of the from-segment's customers).
    """
    prev = before.set_index("customer_id")["segment"]
    moved = pd.DataFrame({"from_segment": now["customer_id"].map(prev).astype(object).fillna(NOT_YET).to_numpy(),
                          "to_segment": now["segment"].to_numpy()})
    out = moved.groupby(["from_segment", "to_segment"], observed=True).size().rename("customers").reset_index()
    out["share_of_from"] = out["customers"] / out.groupby("from_segment")["customers"].transform("sum")
    return out


def champions_by_cohort(customers: pd.DataFrame, *, as_of: pd.Timestamp | str, segment: str = "champions",
                        min_size: int = 30, min_age_days: int = 180, alpha: float = 0.05) -> pd.DataFrame:
    """Share of each acquisition month's customers in ``segment``, each mature month against the other mature ones.

    A young cohort cannot have many champions yet (they need several orders), so only *mature* months are
    compared: months that ended at least ``min_age_days`` before ``as_of`` and have ``min_size`` customers or
    more; each is tested against the customers of the other mature months (two-proportion test, Holm-adjusted
    over the months tested). Younger or smaller months are shown, not tested.

    ``customers``: :func:`assign_segments`' table (its ``first_order`` decides the cohort). Returns ``cohort,
    cohort_size, champions, champion_share, ci_low, ci_high`` (Wilson, 1 − alpha), ``rest_share`` (other mature
    months), ``diff``, ``p_value``, ``p_adjusted``, ``tested``.
    """
    from .stats import adjust_pvalues, two_proportion_test, wilson_interval

    c = customers.assign(cohort=customers["first_order"].dt.strftime("%Y-%m"), hit=customers["segment"] == segment)
    g = c.groupby("cohort", observed=True, sort=True)
    out = pd.DataFrame({"cohort_size": g.size(), "champions": g["hit"].sum().astype("int64")}).reset_index()
    out["champion_share"] = out["champions"] / out["cohort_size"]
    lo, hi = wilson_interval(out["champions"].to_numpy(), out["cohort_size"].to_numpy(), alpha=alpha)
    out["ci_low"], out["ci_high"] = lo, hi
    month_end = pd.to_datetime(out["cohort"] + "-01") + pd.offsets.MonthBegin(1)
    mature = (month_end <= pd.Timestamp(as_of) - pd.Timedelta(days=min_age_days)) & (out["cohort_size"] >= min_size)
    n_all = out.loc[mature, "cohort_size"].sum()
    x_all = out.loc[mature, "champions"].sum()
    rest_n = np.where(mature, n_all - out["cohort_size"], n_all)
    rest_x = np.where(mature, x_all - out["champions"], x_all)
    out["rest_share"] = np.where(rest_n > 0, rest_x / np.maximum(rest_n, 1), np.nan)
    out["diff"] = out["champion_share"] - out["rest_share"]
    out["tested"] = mature & (rest_n >= min_size)
    test = two_proportion_test(rest_x, rest_n, out["champions"].to_numpy(), out["cohort_size"].to_numpy())
    out["p_value"] = np.where(out["tested"], test["p_value"].to_numpy(), np.nan)
    out["p_adjusted"] = adjust_pvalues(out["p_value"].to_numpy())
    return out


def action_lists(customers: pd.DataFrame, *, predictions: pd.DataFrame | None = None,
                 rules: RfmRules | str | Path | None = None) -> pd.DataFrame:
    """Every scored customer with their numbers, segment by segment in the rules' order, most valuable first.

    Returns ``segment, customer_id, recency_days, orders, revenue, last_order, r, f, m, p_alive, clv`` (the last two
    NaN without ``predictions``), sorted by segment (rules' order), then CLV (else revenue), highest first.
    """
    rules = _rules(rules)
    out = customers[["segment", "customer_id", "recency_days", "orders", "revenue", "last_order", "r", "f", "m"]]
    pa_, clv = ((out["customer_id"].map(predictions["p_alive"]), out["customer_id"].map(predictions["clv"]))
                if predictions is not None else (np.nan, np.nan))
    out = out.assign(p_alive=pa_, clv=clv, _order=out["segment"].map({n: i for i, n in enumerate(rules.names)}))
    key = "clv" if predictions is not None else "revenue"
    out = out.sort_values(["_order", key, "customer_id"], ascending=[True, False, True], kind="stable")
    return out.drop(columns="_order").reset_index(drop=True)


def write_action_lists(result: Result, folder: str | Path | None, *,
                       segments: Sequence[str] | None = None) -> pd.DataFrame:
    """Write one formula-safe CSV per segment (``<folder>/<segment>.csv``) from a :func:`compute` result.

    folder : where to write; None writes nothing (the page only shows the top rows). segments : which to write
    (default: every segment with customers). Returns ``segment, customers, file, cells_neutralised`` (one row
    per file written; empty when nothing was).
    """
    from .csvout import write_csv

    cols = ["segment", "customers", "file", "cells_neutralised"]
    if folder is None:
        return pd.DataFrame(columns=cols)
    lists = result.tables["actions"]
    names = list(segments) if segments is not None else list(dict.fromkeys(lists["segment"]))
    unknown = sorted(set(names) - set(result.notes["segment_names"]))
    if unknown:
        raise ParameterError(f"segments {unknown} are not segments of the rules; use some of "
                             f"{result.notes['segment_names']}", name="segments")
    rows = []
    for name in names:  # one file per segment (a handful), each written vectorized
        part = lists.loc[lists["segment"] == name]
        path = Path(folder) / f"{name}.csv"
        rows.append({"segment": name, "customers": len(part), "file": str(path),
                     "cells_neutralised": write_csv(part, path)})
    return pd.DataFrame(rows, columns=cols)


# The review -----------------------------------------------------------------------------------------------------
def load(data_dir, **kwargs):
    """The tables of the segments review: orders (required), customers and returns (optional)."""
    from .review import load_tables
    return load_tables(data_dir, NAME, **kwargs)


def data_range(ds) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last order time of the review's data."""
    return ds.orders["order_time"].min(), ds.orders["order_time"].max()


def _gap(key: str, **fields) -> Gap:
    return Gap(f"segments.gap.{key}", fields)


def _fit_value(counted: pd.DataFrame, period, *, horizon_months: int, gross_margin: float, discount_rate: float,
               engine=None, basis: str = "gross"):
    """(predictions, gap): the LTV model's per-customer P(alive) and CLV as of the period's last day, or a gap.

    With ``engine`` the customer summary is computed there (:func:`ecomlib.ltv.customer_summary_on`, the same
    table from the same counted orders on ``basis``)."""
    from . import ltv
    from .errors import FitError, PeriodError

    try:
        summary = (ltv.customer_summary(counted, period.last_day) if engine is None
                   else ltv.customer_summary_on(engine, period.last_day, basis=basis, end=period.end))
    except PeriodError:
        return None, _gap("value_customers", n=0, needed=ltv.MIN_CUSTOMERS)
    days = float((period.end - counted["order_time"].min()) / pd.Timedelta(days=1))
    repeat = int(((summary["frequency"] > 0) & (summary["monetary_value"] > 0)).sum())
    if days < MIN_MODEL_DAYS:
        return None, _gap("value_short", days=days, needed=MIN_MODEL_DAYS)
    if len(summary) < ltv.MIN_CUSTOMERS:
        return None, _gap("value_customers", n=len(summary), needed=ltv.MIN_CUSTOMERS)
    if repeat < ltv.MIN_REPEAT_CUSTOMERS:
        return None, _gap("value_repeat", repeat=repeat, n=len(summary), needed=ltv.MIN_REPEAT_CUSTOMERS)
    try:
        model = ltv.CustomerValueModel().fit(summary)
    except FitError as e:
        return None, _gap("value_failed", reason=str(e))
    pred = model.predict(summary, months=horizon_months, discount_rate=discount_rate, margin=gross_margin)
    pred.index = pred.index.astype(str)
    return pred, None


def _segmented(ds, end, rules):
    returns = getattr(ds, "returns", None)
    counted = _counted(ds.orders, returns)
    counted = counted.loc[counted["order_time"] < end]
    return counted, assign_segments(rfm_scores(counted.drop(columns="status", errors="ignore"), as_of=end,
                                               rules=rules), rules=rules)


def compute(ds, period, *, comparison=None, rules_path: str | Path | None = None, revenue_days: int = 365,
            horizon_months: int = 12, gross_margin: float = 0.5, discount_rate: float = 0.01,
            min_cohort_size: int = 30, min_cohort_age_days: int = 180, alpha: float = 0.05, top: int = 5) -> Result:
    """Everything the segments page shows for ``period``, as known at its end.

    comparison : the comparison :class:`~ecomlib.periods.Period`; the movement section compares each customer's
        segment at its end with the segment at ``period``'s end (None: the period just before).
    rules_path : an RFM rules file (None: the packaged ``ecomlib/rules/rfm_segments.yaml``).
    revenue_days : trailing days of revenue, ending at the period end, that the revenue share divides.
    horizon_months, gross_margin, discount_rate : predicted CLV = discounted gross margin over the horizon.
    min_cohort_size, min_cohort_age_days, alpha : the champions-by-cohort test: months of at least min_cohort_size
        customers that ended min_cohort_age_days before the period end, each against the other such months
        (Wilson intervals, Holm-adjusted two-proportion tests).
    top : rows of each segment's action list the page shows (the files hold every customer).

    Returns
    -------
    :class:`~ecomlib.review.Result` with tables ``customers`` (scores and segment per customer), ``summary``
    (per segment), ``actions`` (the action lists), ``movement`` (from, to, customers), ``cohorts``; values
    ``customers``, ``champions``, ``champions_share``, ``champions_revenue_share``, ``at_risk``,
    ``at_risk_revenue_share``, ``at_risk_clv``, ``clv_total``, ``downgraded``, ``downgraded_clv``, ``upgraded``,
    ``revenue``, ``best_cohort``; gaps for the sections :data:`MINIMUM_DATA` names.
    """
    from .periods import Period

    for name, value in (("revenue_days", revenue_days), ("horizon_months", horizon_months),
                        ("min_cohort_size", min_cohort_size), ("min_cohort_age_days", min_cohort_age_days),
                        ("top", top)):
        if not (isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1):
            raise ParameterError(f"{name} must be a whole number ≥ 1, not {value!r}", name=name)
    if not (isinstance(gross_margin, (int, float)) and 0 < gross_margin <= 1):
        raise ParameterError(f"gross_margin must be a fraction in (0, 1], not {gross_margin!r}", name="gross_margin")
    if not (isinstance(alpha, float) and 0 < alpha < 1):
        raise ParameterError(f"alpha must be a fraction in (0, 1), not {alpha!r}", name="alpha")
    rules = load_rules(rules_path)
    comparison = comparison if comparison is not None else period.previous()
    res = Result(review=NAME, period=period, notes=dict(
        rules=rules.label, rules_obj=rules, segment_names=rules.names, revenue_days=revenue_days,
        horizon_months=horizon_months, gross_margin=gross_margin, discount_rate=discount_rate, alpha=alpha,
        top=top, min_cohort_size=min_cohort_size, min_cohort_age_days=min_cohort_age_days, comparison=comparison,
        revenue_basis="net" if getattr(ds, "returns", None) is not None else "gross"))
    counted, customers = _segmented(ds, period.end, rules)
    res.tables["customers"] = customers
    window = Period(period.end - pd.Timedelta(days=revenue_days), period.end)
    res.notes["revenue_window"] = window
    in_window = counted.loc[counted["order_time"] >= window.start]
    if customers.empty:
        for section in ("segments", "value", "movement", "cohorts"):
            res.gaps[section] = _gap("no_customers")
        res.values.update(customers=0, champions=None, champions_share=None, champions_revenue_share=None,
                          at_risk=None, at_risk_revenue_share=None, at_risk_clv=None, clv_total=None)
        return res

    plain_log = "status" not in ds.orders.columns  # a transaction log without statuses stays in pandas
    pred, gap = _fit_value(counted, period, horizon_months=horizon_months, gross_margin=gross_margin,
                           discount_rate=discount_rate, engine=None if plain_log else getattr(ds, "engine", None),
                           basis="net" if getattr(ds, "returns", None) is not None else "gross")
    if gap is not None:
        res.gaps["value"] = gap
    summary = segment_summary(customers, period_orders=in_window, rules=rules, predictions=pred)
    res.tables["summary"] = summary
    res.tables["actions"] = action_lists(customers, predictions=pred, rules=rules)
    s = summary.set_index("segment")
    risky = [n for n in AT_RISK if n in s.index]
    res.values.update(
        customers=int(s["customers"].sum()), revenue=float(in_window["revenue"].sum()),
        champions=int(s["customers"].get("champions", 0)),
        champions_share=_get(s, "champions", "share"), champions_revenue_share=_get(s, "champions", "revenue_share"),
        at_risk=int(s.loc[risky, "customers"].sum()),
        at_risk_revenue_share=float(s.loc[risky, "revenue_share"].sum()) if risky and s["revenue"].sum() > 0 else None,
        at_risk_clv=float(s.loc[risky, "clv_total"].sum()) if pred is not None else None,
        clv_total=float(s["clv_total"].sum()) if pred is not None else None)
    largest = summary.sort_values("customers", ascending=False).iloc[0]
    res.values["largest"] = {"segment": largest["segment"], "share": float(largest["share"])}

    # movement since the comparison period's end
    _, earlier = _segmented(ds, comparison.end, rules)
    if earlier.empty:
        res.gaps["movement"] = _gap("movement", date=comparison.last_day)
    else:
        flows = movement(earlier, customers)
        res.tables["movement"] = flows
        prev = earlier.set_index("customer_id")["segment"]
        was = customers["customer_id"].map(prev)
        down = was.isin(VALUABLE) & ~customers["segment"].isin(VALUABLE)
        up = was.notna() & ~was.isin(VALUABLE) & customers["segment"].isin(VALUABLE)
        res.values.update(downgraded=int(down.sum()), upgraded=int(up.sum()),
                          downgraded_clv=(float(customers.loc[down, "customer_id"].map(pred["clv"]).astype(float).sum())
                                          if pred is not None else None),
                          stayed=float((was == customers["segment"]).sum() / was.notna().sum())
                          if was.notna().any() else None)

    # champions by acquisition cohort
    by_cohort = champions_by_cohort(customers, as_of=period.end, min_size=min_cohort_size,
                                    min_age_days=min_cohort_age_days, alpha=alpha)
    res.tables["cohorts"] = by_cohort
    if int(by_cohort["tested"].sum()) < 3 or "champions" not in rules.names:
        res.gaps["cohorts"] = _gap("cohorts", size=min_cohort_size, days=min_cohort_age_days,
                                   n=int(by_cohort["tested"].sum()))
    else:
        tested = by_cohort.loc[by_cohort["tested"]]
        best = tested.loc[tested["champion_share"].idxmax()]
        res.values["best_cohort"] = {k: (v.item() if isinstance(v, np.generic) else v)
                                     for k, v in best[["cohort", "cohort_size", "champion_share", "rest_share",
                                                       "diff", "p_adjusted"]].items()}
    return res


def _get(s: pd.DataFrame, segment: str, col: str):
    if segment not in s.index or pd.isna(s.at[segment, col]):
        return None
    return float(s.at[segment, col])


# Headlines, findings, sentences ------------------------------------------------------------------------------------
def headlines(now: Result, before: Result, msg: Messages) -> list:
    """The index cards: champions (count), their share of the trailing revenue, customers at risk (can't lose +
    at risk), and the predicted CLV of those at risk — each the same quantity as of both periods' ends."""
    from .report import Headline

    days = now.notes["revenue_days"]
    return [
        Headline("champions", msg("segments.h.champions"), now.value("champions"), "count",
                 previous=before.value("champions"), good="up", source="ecomlib.segments.assign_segments"),
        Headline("champions_revenue_share", msg("segments.h.champions_revenue_share", days=days),
                 now.value("champions_revenue_share"), "ratio", previous=before.value("champions_revenue_share"),
                 good="up", source="ecomlib.segments.segment_summary"),
        Headline("at_risk", msg("segments.h.at_risk"), now.value("at_risk"), "count", previous=before.value("at_risk"),
                 good="down", source="ecomlib.segments.assign_segments"),
        Headline("at_risk_clv", msg("segments.h.at_risk_clv", months=now.notes["horizon_months"]),
                 now.value("at_risk_clv"), "money", previous=before.value("at_risk_clv"), good="down",
                 source="ecomlib.segments.segment_summary"),
    ]


def findings(now: Result, before: Result, msg: Messages) -> list:
    """Structured conclusions for the index.

    - ``at_risk_value``: customers at risk (can't lose, at risk) and their predicted CLV — the money at stake if
      they are not won back (a forecast: descriptive; severity medium, high when above a tenth of all CLV).
    - ``downgraded``: customers who left champions/loyal since the comparison period's end; money = their
      predicted CLV (descriptive; low).
    - ``best_cohort``: an acquisition month with a significantly larger share of champions than the other
      customers (Holm-adjusted two-proportion test; significant; info).
    """
    from .review import Finding

    out = []
    v, n = now.values, now.notes
    rules = n["rules_obj"]
    if now.has("segments") and v.get("at_risk"):
        money = v.get("at_risk_clv")
        share = money / v["clv_total"] if money is not None and v.get("clv_total") else None
        out.append(Finding(
            review=NAME, key="at_risk_value",
            text=msg("segments.finding.at_risk" if money is not None else "segments.finding.at_risk_no_model",
                     n=v["at_risk"], clv=money, months=n["horizon_months"], share=share or 0.0,
                     segments=msg("segments.list_sep").join(segment_label(s, msg, rules) for s in AT_RISK
                                                           if s in rules.names)),
            numbers={"customers": v["at_risk"], "clv": money, "clv_share": share},
            money=money, severity="high" if share is not None and share > 0.1 else "medium",
            confidence="descriptive", anchor="sec-segments", source="ecomlib.segments.segment_summary"))
    if now.has("movement") and v.get("downgraded"):
        out.append(Finding(
            review=NAME, key="downgraded",
            text=msg("segments.finding.downgraded", n=v["downgraded"], up=v["upgraded"],
                     date=n["comparison"].last_day),
            numbers={"downgraded": v["downgraded"], "upgraded": v["upgraded"], "clv": v.get("downgraded_clv")},
            money=v.get("downgraded_clv"), severity="low", confidence="descriptive", anchor="sec-movement",
            source="ecomlib.segments.movement"))
    b = v.get("best_cohort")
    if now.has("cohorts") and b and b["p_adjusted"] < n["alpha"] and b["diff"] > 0:
        out.append(Finding(
            review=NAME, key="best_cohort",
            text=msg("segments.finding.best_cohort", cohort=b["cohort"], share=b["champion_share"],
                     rest=b["rest_share"], p=b["p_adjusted"]),
            numbers=dict(b), money=None, severity="info", confidence="significant", anchor="sec-cohorts",
            source="ecomlib.segments.champions_by_cohort"))
    return out


def sentences(now: Result, before: Result, msg: Messages) -> list[str]:
    """The page's conclusions, read from the results only: champions and their revenue share against the comparison
    period, the largest segment, customers at risk and their value, movement, and the cohort with most champions."""
    from .report import format_change

    v, n = now.values, now.notes
    rules = n["rules_obj"]
    out: list[str] = []
    if not now.has("segments"):
        return out
    out.append(msg("segments.s.champions", n=v["champions"], share=v["champions_share"] or 0.0,
                   revenue=v["champions_revenue_share"] if v["champions_revenue_share"] is not None else float("nan"),
                   days=n["revenue_days"], before=before.value("champions"),
                   change=format_change(v["champions"], before.value("champions"), "count", msg)))
    out.append(msg("segments.s.largest", segment=segment_label(v["largest"]["segment"], msg, rules),
                   share=v["largest"]["share"], total=v["customers"]))
    if v.get("at_risk") and v.get("at_risk_clv") is not None:
        out.append(msg("segments.s.at_risk", n=v["at_risk"], clv=v["at_risk_clv"], months=n["horizon_months"],
                       revenue=v["at_risk_revenue_share"] or 0.0, days=n["revenue_days"]))
    elif v.get("at_risk"):
        out.append(msg("segments.s.at_risk_no_model", n=v["at_risk"], revenue=v["at_risk_revenue_share"] or 0.0,
                       days=n["revenue_days"]))
    if now.has("movement"):
        out.append(msg("segments.s.movement", down=v["downgraded"], up=v["upgraded"], date=n["comparison"].last_day,
                       stayed=v["stayed"] if v.get("stayed") is not None else float("nan")))
    b = v.get("best_cohort")
    if now.has("cohorts") and b:
        key = "best_cohort" if b["p_adjusted"] < n["alpha"] and b["diff"] > 0 else "no_best_cohort"
        out.append(msg(f"segments.s.{key}", cohort=b["cohort"], share=b["champion_share"], rest=b["rest_share"],
                       p=b["p_adjusted"]))
    if not now.has("value"):
        out.append(now.gaps["value"].text(msg))
    return out


# Page helpers: tables, notes, plots ----------------------------------------------------------------------------------
_TABLE_COLUMNS = {
    "summary": ["segment", "customers", "share", "mean_orders", "revenue", "revenue_share", "p_alive", "clv_mean",
                "clv_total", "action"],
    "actions": ["segment", "customer_id", "recency_days", "orders", "revenue", "last_order", "r", "f", "m",
                "p_alive", "clv"],
    "cohorts": ["cohort", "cohort_size", "champions", "champion_share", "ci_low", "ci_high", "rest_share", "diff",
                "p_adjusted"],
    "movement": ["from_segment", "to_segment", "customers", "share_of_from"],
}


def table(result: Result, name: str, msg: Messages, *, segment: str | None = None, top: int | None = None):
    """A result table ready to show: its page columns, segment names and actions in the run's language, formats
    from :data:`UNITS`, headers from the catalogue, a caption; None when there is nothing to show.

    name : ``summary``, ``actions`` (the ``top`` most valuable customers of each segment, default the ``top``
    option; ``segment`` picks one list),
    ``cohorts``, ``movement`` (the flow matrix: from-segments as rows, to-segments as columns), ``written`` (what
    :func:`write_action_lists` returned: pass it as ``result``).
    """
    from .report import styled

    if name == "written":
        df = result
        if df is None or df.empty:
            return None
        return styled(df.assign(segment=df["segment"].map(lambda s: segment_label(s, msg))), msg,
                      formats=formats(df), labels=msg.labels(list(df.columns), "segments.col."))
    rules = result.notes["rules_obj"]
    df = result.tables.get(name)
    if df is None or df.empty:
        return None
    label = lambda s: segment_label(s, msg, rules)  # noqa: E731
    if name == "movement":
        order = [NOT_YET] + rules.names
        wide = (df.pivot_table(index="from_segment", columns="to_segment", values="customers", aggfunc="sum",
                               fill_value=0, observed=True)
                .reindex(index=[s for s in order if s in set(df["from_segment"])],
                         columns=[s for s in rules.names if s in set(df["to_segment"])], fill_value=0))
        wide.index = [label(s) for s in wide.index]
        wide.columns = [label(s) for s in wide.columns]
        wide = wide.rename_axis(msg("segments.col.from_to")).reset_index()
        return styled(wide, msg, formats={c: "int" for c in wide.columns[1:]},
                      caption=msg("segments.cap.movement", before=msg.date(result.notes["comparison"].last_day),
                                  now=msg.date(result.period.last_day)))
    if name == "summary":
        df = df.assign(action=df["segment"].map(lambda s: _action(s, msg, rules)))
    if name == "actions":
        top = top if top is not None else result.notes["top"]
        df = df.loc[df["segment"] == segment] if segment is not None else df
        total = len(df)
        df = df.groupby("segment", sort=False).head(top)  # already in the rules' order, most valuable first
        if df.empty:
            return None
    cols = [c for c in _TABLE_COLUMNS[name] if c in df]
    if name in ("summary", "actions") and not result.has("value"):
        cols = [c for c in cols if c not in ("p_alive", "clv", "clv_mean", "clv_total")]
    df = df[cols]
    if "segment" in df:
        df = df.assign(segment=df["segment"].map(label))
    w = result.notes["revenue_window"]
    captions = {
        "summary": msg("segments.cap.summary", date=msg.date(result.period.last_day), start=msg.date(w.start),
                       end=msg.date(w.last_day), months=result.notes["horizon_months"],
                       margin=result.notes["gross_margin"]),
        "actions": (msg("segments.cap.actions", n=len(df), total=total if name == "actions" else 0,
                        segment=label(segment)) if segment else
                    msg("segments.cap.actions_all", top=top or 0, total=total if name == "actions" else 0)),
        "cohorts": msg("segments.cap.cohorts", size=result.notes["min_cohort_size"],
                       days=result.notes["min_cohort_age_days"]),
    }
    return styled(df, msg, formats=formats(df), labels=msg.labels(list(df.columns), "segments.col."),
                  caption=captions[name])


def page_note(result: Result, key: str, msg: Messages, *, written: pd.DataFrame | None = None) -> str:
    """A note of the page: ``rules`` (the scoring and where the rules came from), ``actions`` (what
    :func:`write_action_lists` wrote: pass its table as ``written``), ``minimum``."""
    if key == "rules":
        r = result.notes["rules_obj"]
        return msg("segments.note.rules", path=r.label, recency=", ".join(f"{x:g}" for x in r.recency),
                   frequency=", ".join(f"{x:g}" for x in r.frequency),
                   basis=msg(f"segments.basis.{result.notes['revenue_basis']}"))
    if key == "actions":
        return msg("segments.note.written" if written is not None and len(written) else "segments.note.none_written")
    if key == "minimum":
        return msg("segments.note.minimum") + "\n\n" + "\n".join(
            f"- {msg(f'segments.sec.{k}')}: {msg(f'segments.min.{k}')}" for k in MINIMUM_DATA)
    raise ParameterError(f"page_note key must be one of 'rules', 'actions', 'minimum', not {key!r}", name="key")


def plot_segments(data: pd.DataFrame, *, x: Sequence[str] = ("share", "revenue_share"), y: str = "segment",
                  ax: Axes | None = None, msg: Messages | None = None, rules: RfmRules | None = None) -> Axes:
    """Horizontal bars: each segment's share of customers next to its share of revenue (``summary`` table)."""
    msg = msg or Messages("en")
    if ax is None:
        ax = plt.gca()
    long = data.melt(id_vars=[y], value_vars=list(x), var_name="measure", value_name="value")
    long[y] = long[y].map(lambda s: segment_label(s, msg, rules))
    long["measure"] = long["measure"].map(lambda c: msg(f"segments.col.{c}"))
    sns.barplot(data=long, x="value", y=y, hue="measure", orient="h", ax=ax)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: msg.pct(v, 0)))
    ax.set(xlabel="", ylabel="", title=msg("segments.plot.segments"))
    ax.legend(title="")
    return ax


def plot_value(data: pd.DataFrame, *, x: str = "clv_total", y: str = "segment", ax: Axes | None = None,
               msg: Messages | None = None, rules: RfmRules | None = None) -> Axes:
    """Horizontal bars of each segment's total predicted CLV (``summary`` table), labelled with its mean P(alive)."""
    msg = msg or Messages("en")
    if ax is None:
        ax = plt.gca()
    shown = data.assign(**{y: data[y].map(lambda s: segment_label(s, msg, rules))})
    sns.barplot(data=shown, x=x, y=y, orient="h", color=sns.color_palette()[0], ax=ax)
    for i, (value, alive) in enumerate(zip(shown[x], shown["p_alive"])):
        ax.annotate(f" {msg('segments.col.p_alive')} {msg.pct(alive, 0)}", (0 if pd.isna(value) else value, i),
                    va="center", fontsize=8)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: msg.money(v)))
    ax.set(xlabel=msg("segments.col.clv_total"), ylabel="", title=msg("segments.plot.value"))
    return ax


def plot_movement(data: pd.DataFrame, *, ax: Axes | None = None, msg: Messages | None = None,
                  rules: RfmRules | None = None) -> Axes:
    """Heat map of the movement table: from-segment (rows, the comparison's end) to segment now (columns),
    each cell the share of the row's customers, annotated with the count."""
    msg = msg or Messages("en")
    rules = rules or load_rules()
    if ax is None:
        ax = plt.gca()
    counts = data.pivot_table(index="from_segment", columns="to_segment", values="customers", aggfunc="sum",
                              fill_value=0, observed=True)
    rows = [s for s in [NOT_YET, *rules.names] if s in counts.index]
    cols = [s for s in rules.names if s in counts.columns]
    counts = counts.reindex(index=rows, columns=cols, fill_value=0)
    shares = counts.div(counts.sum(axis=1).where(lambda s: s > 0, 1), axis=0)
    label = lambda s: segment_label(s, msg, rules)  # noqa: E731
    sns.heatmap(shares.set_axis([label(s) for s in rows], axis=0).set_axis([label(s) for s in cols], axis=1),
                annot=counts.map(msg.int).to_numpy(), fmt="", cmap="Blues", vmin=0, vmax=1, cbar=False,
                linewidths=0.5, ax=ax, annot_kws={"fontsize": 8})
    ax.set(xlabel=msg("segments.plot.to"), ylabel=msg("segments.plot.from"), title=msg("segments.plot.movement"))
    ax.tick_params(axis="x", rotation=30)
    return ax


def plot_cohorts(data: pd.DataFrame, *, x: str = "cohort", y: str = "champion_share", ax: Axes | None = None,
                 msg: Messages | None = None) -> Axes:
    """Share of champions by acquisition month with its interval, against the rest of the customers."""
    msg = msg or Messages("en")
    if ax is None:
        ax = plt.gca()
    pos = np.arange(len(data))
    ax.bar(pos, data[y], color=sns.color_palette()[0], alpha=0.8, label=msg("segments.col.champion_share"))
    # a Wilson bound equals the rate at 0 % or 100 % up to rounding: clip so a -1e-17 is not a "negative error"
    err = np.clip([data[y] - data["ci_low"], data["ci_high"] - data[y]], 0, None)
    ax.errorbar(pos, data[y], yerr=err, fmt="none", ecolor="0.3", capsize=2)
    rest = float(data["champions"].sum() / data["cohort_size"].sum()) if data["cohort_size"].sum() else np.nan
    ax.axhline(rest, color="0.4", linestyle="--", label=msg("segments.plot.all_customers"))
    ax.set_xticks(pos, data[x], rotation=45, ha="right")
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: msg.pct(v, 0)))
    ax.set(xlabel=msg("segments.col.cohort"), ylabel="", title=msg("segments.plot.cohorts"))
    ax.legend()
    return ax
