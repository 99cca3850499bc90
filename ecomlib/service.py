"""Customer-service review: how fast and how well the shop answers, why customers contact it, what they say in
product reviews, and who is still waiting for a follow-up.

Everything the page (``notebooks/service.ipynb``) shows is computed by :func:`compute` for one period, as known at
the period's end; :func:`headlines`, :func:`findings` and :func:`sentences` read only its results.

Minimum data per section (:data:`MINIMUM_DATA`):

- response: tickets opened in the period (first-response time, by channel and hour of the week);
- resolution: tickets opened in the period;
- contacts: the optional orders table and orders in the period;
- reasons: tickets with a text or a category;
- satisfaction: at least one CSAT score (NPS: at least one NPS answer) on tickets opened in the period;
- products: the optional product_reviews table and a SKU with ``min_reviews`` (15) reviews in the trailing
  ``review_days`` (180); return reasons need the optional returns table;
- follow_up: a negative review or a complaint in the trailing ``follow_up_days`` (30).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from scipy import stats as sps

from .errors import ParameterError, RulesError
from .i18n import Messages
from .keys import isin
from .periods import Period
from .report import Headline
from .review import Finding, Gap, Result, load_tables, merged_options, result_value
from .rulesfile import read_rules
from .stats import adjust_pvalues, two_proportion_test, wilson_interval

NAME = "service"

CONTACT_REASONS = ("where_is_my_order", "return_refund", "defect", "wrong_item", "change_order", "payment_invoice",
                   "product_question", "complaint", "other")
UNMAPPED = "unmapped"
#: Hours within which a first response is on target, per channel (options ``response_targets`` override).
RESPONSE_TARGETS = {"chat": 1.0, "phone": 1.0, "marketplace": 12.0, "social": 12.0, "email": 24.0, "other": 24.0}
OPTIONS = {"response_targets": None, "resolution_target_hours": 72.0, "review_days": 180, "follow_up_days": 30,
           "min_reviews": 15,
           "negative_rating": 2, "complaint_score": 2, "rules_path": None, "alpha": 0.05, "top": 10}
MINIMUM_DATA = {
    "response": "First-response times need tickets opened in the period.",
    "resolution": "Resolution and reopen rates need tickets opened in the period.",
    "contacts": "Contacts per 100 orders need the optional orders table and orders in the period.",
    "reasons": "Contact reasons need tickets with a text or a category.",
    "satisfaction": "CSAT needs at least one satisfaction score on the period's tickets (NPS: one NPS answer).",
    "products": "Product ratings need the optional product_reviews table and a SKU with min_reviews (15) reviews in "
                "the trailing review_days (180); the join with return reasons needs the returns table.",
    "follow_up": "The follow-up list needs a negative review or a complaint ticket in the trailing follow_up_days (30).",
}
SECTIONS = tuple(MINIMUM_DATA)
WEEKEND = (5, 6)

UNITS: dict[str, str] = {
    **{c: "int" for c in ("tickets", "answered", "within", "resolved", "reopened_tickets", "contacts", "orders",
                          "scores", "promoters", "detractors", "answers", "reviews", "negative", "returns",
                          "quality_returns")},
    **{c: "pct" for c in ("within_rate", "within_low", "within_high", "resolution_rate", "reopen_rate", "csat",
                          "csat_low", "csat_high", "share", "negative_rate", "negative_low", "negative_high",
                          "rest_rate", "return_share")},
    **{c: "num" for c in ("median_hours", "p90_hours", "target_hours", "contacts_per_100", "nps", "nps_low",
                          "nps_high", "mean_rating")},
    **{c: "pp" for c in ("diff",)},
    **{c: "p" for c in ("p_value", "p_adjusted")},
    **{c: "date" for c in ("when",)},
}


def formats(df: pd.DataFrame) -> dict[str, str]:
    """Display formats of ``df``'s columns from :data:`UNITS`."""
    return {c: UNITS[c] for c in df.columns if c in UNITS}


# Contact-reason rules ------------------------------------------------------------------------------------------
#: the error of a bad contact-reason rules file (the kit's one rules-file error)
ContactRulesError = RulesError


@dataclass(frozen=True)
class ContactRules:
    """Keyword rules: reason → keywords, tried in ``priority`` order (first match wins)."""

    keywords: Mapping[str, tuple[str, ...]]
    priority: tuple[str, ...]
    path: str = "<packaged>"

    def pattern(self, reason: str) -> str | None:
        words = self.keywords.get(reason, ())
        if not words:
            return None
        return "|".join((r"(?:^|[^A-Za-z0-9_])" if re.match(r"[A-Za-z0-9_]", w) else "") + re.escape(w)
                        for w in words)


def load_rules(path: str | Path | None = None) -> ContactRules:
    """Read and check a contact-reason rules file (None: the packaged ``ecomlib/rules/contact_reasons.yaml``).

    >>> load_rules().priority[0]
    'wrong_item'
    """
    file, raw = read_rules(path, name="contact_reasons.yaml", keys=("priority", "keywords"))
    priority, table = raw["priority"] or [], raw["keywords"] or {}
    for key in [*priority, *table]:
        if key not in CONTACT_REASONS:
            raise RulesError(file, str(key), "unknown reason", f"one of {list(CONTACT_REASONS)}")
    for reason, words in table.items():
        if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
            raise RulesError(file, f"keywords.{reason}", f"holds {words!r}", "a list of non-empty texts")
        if reason not in priority:
            raise RulesError(file, f"keywords.{reason}", "has keywords but is not in priority", "every reason with keywords listed in priority")
    return ContactRules({r: tuple(w) for r, w in table.items()}, tuple(priority), str(file))


def map_contact_reasons(tickets: pd.DataFrame, *, rules: ContactRules | str | Path | None = None) -> pd.DataFrame:
    """Each ticket's contact reason from the keywords of its ``category`` and ``text`` (first match in priority
    order; ``unmapped`` when none). Returns a copy with a ``reason`` column.

    >>> map_contact_reasons(pd.DataFrame({"category": [None, None], "text": ["我的快递到哪了？", "hello"]}))["reason"].tolist()
    ['where_is_my_order', 'unmapped']
    """
    rules = rules if isinstance(rules, ContactRules) else load_rules(rules)
    cat = tickets["category"] if "category" in tickets else pd.Series(None, index=tickets.index)
    txt = tickets["text"] if "text" in tickets else pd.Series(None, index=tickets.index)
    words = (cat.fillna("").astype(str) + " " + txt.fillna("").astype(str)).str.normalize("NFKC")
    ordered = [r for r in rules.priority if rules.pattern(r)]
    reason = np.full(len(tickets), UNMAPPED, dtype=object)
    if ordered and len(tickets):
        hits = np.column_stack([words.str.contains(rules.pattern(r), case=False, regex=True).to_numpy(dtype=bool)
                                for r in ordered])
        reason = np.where(hits.any(axis=1), np.array(ordered, dtype=object)[hits.argmax(axis=1)], UNMAPPED)
    return tickets.assign(reason=reason)


# Metrics ---------------------------------------------------------------------------------------------------------
def response_times(tickets: pd.DataFrame, *, as_of: pd.Timestamp, targets: Mapping[str, float] | None = None,
                   resolution_target_hours: float = 72.0) -> pd.DataFrame:
    """Per ticket, as known at ``as_of``: first_hours and resolve_hours (NaN while waiting), target_hours (of its
    channel), within (answered within target; an unanswered ticket older than its target counts as missed, a younger
    one is left out as NaN), resolved_within likewise, weekday (0 = Monday), hour, weekend."""
    targets = {**RESPONSE_TARGETS, **(targets or {})}
    t = tickets[tickets["opened_at"] < as_of].copy()
    first = t["first_response_at"].where(t["first_response_at"] < as_of)
    done = t["resolved_at"].where(t["resolved_at"] < as_of)
    age = (as_of - t["opened_at"]).dt.total_seconds() / 3600
    t["first_hours"] = (first - t["opened_at"]).dt.total_seconds() / 3600
    t["resolve_hours"] = (done - t["opened_at"]).dt.total_seconds() / 3600
    t["target_hours"] = t["channel"].astype(object).map(targets).fillna(targets["other"]).astype(float)
    within = pd.Series(np.nan, index=t.index)
    within[first.notna()] = (t["first_hours"] <= t["target_hours"])[first.notna()].astype(float)
    within[first.isna() & (age > t["target_hours"])] = 0.0
    t["within"] = within
    rwithin = pd.Series(np.nan, index=t.index)
    rwithin[done.notna()] = (t["resolve_hours"] <= resolution_target_hours)[done.notna()].astype(float)
    rwithin[done.isna() & (age > resolution_target_hours)] = 0.0
    t["resolved_within"] = rwithin
    t["resolved"] = done.notna()
    t["weekday"] = t["opened_at"].dt.day_of_week
    t["hour"] = t["opened_at"].dt.hour
    t["weekend"] = t["weekday"].isin(WEEKEND)
    return t


def _in(df: pd.DataFrame, column: str, period: Period) -> pd.DataFrame:
    return df[(df[column] >= period.start) & (df[column] < period.end)]


def response_summary(rt: pd.DataFrame, *, by: str | list[str] | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """First response by ``by`` (None: overall): tickets, answered, median_hours, p90_hours, target_hours, within,
    within_rate (of decided tickets) with Wilson within_low / within_high."""
    keys = [] if by is None else ([by] if isinstance(by, str) else list(by))
    d = rt.assign(_all=0)
    g = d.groupby(keys or ["_all"], observed=True)
    out = g.agg(tickets=("ticket_id", "size"), answered=("first_hours", "count"),
                median_hours=("first_hours", "median"), p90_hours=("first_hours", lambda s: s.quantile(0.9)),
                target_hours=("target_hours", "median"), decided=("within", "count"),
                within=("within", "sum")).reset_index()
    out["within_rate"] = out["within"] / out["decided"].where(out["decided"] > 0)
    out["within_low"], out["within_high"] = wilson_interval(out["within"], out["decided"], alpha=alpha)
    return out.drop(columns=["_all"], errors="ignore")


def weekend_gap(rt: pd.DataFrame) -> dict:
    """Share of first responses within target on weekdays against weekends, with a two-proportion test: weekday_rate,
    weekend_rate, diff (weekend − weekday), p_value, weekday_n, weekend_n, median hours of each."""
    d = rt[rt["within"].notna()]
    wk, we = d[~d["weekend"]], d[d["weekend"]]
    test = two_proportion_test([wk["within"].sum()], [len(wk)], [we["within"].sum()], [len(we)]).iloc[0]
    return {"weekday_rate": float(test["rate_1"]), "weekend_rate": float(test["rate_2"]), "diff": float(test["diff"]),
            "p_value": float(test["p_value"]), "weekday_n": len(wk), "weekend_n": len(we),
            "weekday_median": float(rt.loc[~rt["weekend"], "first_hours"].median()),
            "weekend_median": float(rt.loc[rt["weekend"], "first_hours"].median())}


def resolution_summary(rt: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """One row: tickets, resolved, resolution_rate (resolved by the period end, Wilson), median_hours and p90_hours
    to resolution, within_rate (resolved within the resolution target, of decided tickets), reopened_tickets and
    reopen_rate (resolved tickets reopened at least once; NaN without a ``reopened`` column)."""
    n, resolved = len(rt), int(rt["resolved"].sum())
    lo, hi = wilson_interval([resolved], [n], alpha=alpha)
    decided = rt["resolved_within"].dropna()
    reopened = int((rt.loc[rt["resolved"], "reopened"].fillna(0) > 0).sum()) if "reopened" in rt else np.nan
    return pd.DataFrame([{"tickets": n, "resolved": resolved, "resolution_rate": resolved / n if n else np.nan,
                          "resolution_low": lo[0], "resolution_high": hi[0],
                          "median_hours": rt["resolve_hours"].median(),
                          "p90_hours": rt["resolve_hours"].quantile(0.9),
                          "within_rate": decided.mean() if len(decided) else np.nan,
                          "reopened_tickets": reopened,
                          "reopen_rate": reopened / resolved if resolved and reopened == reopened else np.nan}])


def satisfaction(tickets: pd.DataFrame, *, alpha: float = 0.05) -> dict:
    """CSAT (share of scores 4–5 among 1–5 scores, Wilson interval) and NPS (% promoters 9–10 − % detractors 0–6,
    ×100, normal interval from the multinomial variance) of ``tickets``."""
    s = tickets["satisfaction"].dropna()
    good = int((s >= 4).sum())
    lo, hi = wilson_interval([good], [len(s)], alpha=alpha)
    out = {"scores": len(s), "csat_good": good, "csat": good / len(s) if len(s) else np.nan, "csat_low": lo[0],
           "csat_high": hi[0]}
    a = tickets["nps"].dropna() if "nps" in tickets else pd.Series(dtype=float)
    n = len(a)
    if n:
        pp, pd_ = float((a >= 9).mean()), float((a <= 6).mean())
        nps = pp - pd_
        se = np.sqrt(max(pp + pd_ - nps ** 2, 0.0) / n)
        z = sps.norm.ppf(1 - alpha / 2)
        out.update(answers=n, nps=100 * nps, nps_low=100 * (nps - z * se), nps_high=100 * (nps + z * se),
                   nps_se=100 * se)
    else:
        out.update(answers=0, nps=np.nan, nps_low=np.nan, nps_high=np.nan, nps_se=np.nan)
    return out


def review_themes(reviews: pd.DataFrame, *, negative_rating: int = 2) -> pd.DataFrame:
    """Reviews with ``negative`` (rating ≤ ``negative_rating``) and ``theme``: the returns taxonomy reason their text
    names (:func:`ecomlib.returns.map_reasons` with the same rules as the returns review), for negative reviews."""
    from .returns import map_reasons

    r = reviews.assign(negative=reviews["rating"] <= negative_rating)
    mapped = map_reasons(pd.DataFrame({"reason_code": None, "reason_text": r["text"]}, index=r.index))
    return r.assign(theme=mapped["reason"].astype(str).where(r["negative"]))


def sku_ratings(themed: pd.DataFrame, returns: pd.DataFrame | None, *, min_reviews: int = 15,
                alpha: float = 0.05) -> pd.DataFrame:
    """Ratings by SKU joined with its return reasons.

    themed : :func:`review_themes` output (the window's reviews). returns : the returns of the same window (or None).
    One row per SKU with at least ``min_reviews`` reviews: reviews, mean_rating, negative, negative_rate (Wilson
    low/high), rest_rate (every other SKU), p_value / p_adjusted (two-proportion test, Holm over the SKUs), theme
    (most frequent theme of its negative reviews), returns, return_reason (its most frequent return reason),
    return_share (that reason's share of its returns), same (theme = return_reason), flagged (significantly more
    negative reviews than the rest and the same defect named in reviews and returns). Sorted worst first.
    """
    g = themed.groupby("sku")
    t = g.agg(reviews=("rating", "size"), mean_rating=("rating", "mean"), negative=("negative", "sum")).reset_index()
    neg = themed[themed["negative"]]
    if len(neg):
        top = (neg.groupby(["sku", "theme"]).size().rename("n").reset_index()
               .sort_values(["sku", "n"], ascending=[True, False]).drop_duplicates("sku"))
        t = t.merge(top[["sku", "theme"]], on="sku", how="left")
    else:
        t["theme"] = None
    test = two_proportion_test(t["negative"].sum() - t["negative"], t["reviews"].sum() - t["reviews"], t["negative"],
                               t["reviews"])
    t["rest_rate"], t["p_value"] = test["rate_1"], test["p_value"]
    t = t[t["reviews"] >= min_reviews].copy()
    t["negative_rate"] = t["negative"] / t["reviews"]
    t["negative_low"], t["negative_high"] = wilson_interval(t["negative"], t["reviews"], alpha=alpha)
    t["p_adjusted"] = adjust_pvalues(t["p_value"])
    if returns is not None and len(returns) and len(t):
        from .returns import map_reasons

        r = map_reasons(returns).assign(reason=lambda x: x["reason"].astype(str))
        by = r.groupby(["sku", "reason"])["quantity"].sum().rename("units").reset_index()
        total = by.groupby("sku")["units"].sum().rename("returns")
        main = by.sort_values(["sku", "units"], ascending=[True, False]).drop_duplicates("sku").set_index("sku")
        t = t.merge(total, left_on="sku", right_index=True, how="left")
        t["return_reason"] = t["sku"].map(main["reason"])
        t["return_share"] = t["sku"].map(main["units"]).astype(float) / t["returns"].astype(float)
    else:
        t["returns"], t["return_reason"], t["return_share"] = np.nan, None, np.nan
    t["same"] = t["theme"].notna() & (t["theme"] == t["return_reason"])
    t["flagged"] = (t["p_adjusted"] < alpha) & (t["negative_rate"] > t["rest_rate"]) & t["same"]
    return t.sort_values(["flagged", "negative_low"], ascending=[False, False], ignore_index=True)


def follow_up_list(themed: pd.DataFrame, rt: pd.DataFrame, orders: pd.DataFrame | None, *, window: Period,
                   complaint_score: int = 2, resolution_target_hours: float = 72.0) -> pd.DataFrame:
    """Customers still waiting for a follow-up at the window's end — "first soothe, then solve, then follow up".

    - a negative review in ``window`` with no ticket on the same order opened on or after it: step ``soothe``;
    - a ticket opened in ``window`` not answered yet: ``soothe``; answered but unresolved past the resolution target:
      ``solve``; resolved with a CSAT score ≤ ``complaint_score``: ``follow_up``.

    Columns: step, source (``review`` / ``ticket``), id, customer_id, order_id, sku, when, score, text; oldest first
    within each step.
    """
    reviews = _in(themed.loc[themed["negative"].astype(bool)], "created_at", window)
    if len(reviews):
        later = reviews[["review_id", "order_id", "created_at"]].merge(
            rt[["order_id", "opened_at"]].dropna(subset=["order_id"]), on="order_id", how="inner")
        handled = later.loc[later["opened_at"] >= later["created_at"], "review_id"]
        reviews = reviews[~isin(reviews["review_id"], handled)]
    cust = orders.set_index("order_id")["customer_id"] if orders is not None else pd.Series(dtype=object)
    rv = pd.DataFrame({"step": "soothe", "source": "review", "id": reviews["review_id"],
                       "customer_id": reviews["order_id"].map(cust), "order_id": reviews["order_id"],
                       "sku": reviews["sku"], "when": reviews["created_at"], "score": reviews["rating"],
                       "text": reviews["text"]})
    t = _in(rt, "opened_at", window)
    unanswered = t["first_hours"].isna()
    unsolved = ~unanswered & ~t["resolved"] & (t["resolved_within"] == 0)
    unhappy = t["resolved"] & (t["satisfaction"] <= complaint_score)
    step = np.select([unanswered, unsolved, unhappy], ["soothe", "solve", "follow_up"], "")
    t = t.assign(step=step)[step != ""]
    tk = pd.DataFrame({"step": t["step"], "source": "ticket", "id": t["ticket_id"], "customer_id": t["customer_id"],
                       "order_id": t["order_id"], "sku": None, "when": t["opened_at"], "score": t["satisfaction"],
                       "text": t["text"]})
    out = pd.concat([x for x in (rv, tk) if len(x)], ignore_index=True) if len(rv) or len(tk) else tk.iloc[:0]
    order = {"soothe": 0, "solve": 1, "follow_up": 2}
    return out.sort_values(["step", "when"], key=lambda s: s.map(order) if s.name == "step" else s,
                           ignore_index=True)


def write_action_list(result: Result, folder: str | Path) -> Path:
    """Write the result's follow-up list formula-safe (:func:`ecomlib.csvout.write_csv`) as
    ``service_follow_up_<period>.csv`` in ``folder``; returns the path."""
    from .csvout import write_csv

    path = Path(folder) / f"service_follow_up_{result.period.label}.csv"
    write_csv(result.tables["follow_up"], path)
    return path


# The review ------------------------------------------------------------------------------------------------------
def load(data_dir, **kwargs):
    """The tables of the service review: tickets (required); orders, product_reviews, returns, order_items, products
    (optional). A folder without tickets raises :class:`~ecomlib.errors.MissingTableError`."""
    return load_tables(data_dir, NAME, **kwargs)


def data_range(ds) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last ticket opening."""
    return ds.tickets["opened_at"].min(), ds.tickets["opened_at"].max()


def _options(options: dict) -> dict:
    o = merged_options(NAME, options, OPTIONS)
    for name, low in (("review_days", 1), ("follow_up_days", 1), ("min_reviews", 1), ("top", 1)):
        if int(o[name]) < low:
            raise ParameterError(f"{name} must be at least {low}, not {o[name]!r}", name=name)
    if not 0 < float(o["alpha"]) < 1:
        raise ParameterError(f"alpha must be between 0 and 1 (exclusive), not {o['alpha']!r}", name="alpha")
    if float(o["resolution_target_hours"]) <= 0:
        raise ParameterError("resolution_target_hours must be above 0", name="resolution_target_hours")
    targets = o["response_targets"] or {}
    bad = sorted(k for k, v in targets.items() if k not in RESPONSE_TARGETS or not float(v) > 0)
    if bad:
        raise ParameterError(f"response_targets: {bad[0]!r} must be a channel of {list(RESPONSE_TARGETS)} with hours "
                             f"above 0", name="response_targets")
    o["targets"] = {**RESPONSE_TARGETS, **{k: float(v) for k, v in targets.items()}}
    return o


def compute(ds, period: Period, **options) -> Result:
    """Everything the service page shows for ``period``, as known at its end.

    options (:data:`OPTIONS`): ``response_targets`` (hours per channel, default :data:`RESPONSE_TARGETS`),
    ``resolution_target_hours`` (72), ``review_days`` (180, trailing window of reviews), ``follow_up_days`` (30, of the follow-up list),
    ``min_reviews`` (15) per SKU ranked, ``negative_rating`` (2: 1–2 stars), ``complaint_score`` (2: CSAT 1–2),
    ``rules_path`` (contact-reason rules), ``alpha``, ``top``.

    Tables: ``by_channel``, ``by_hour`` (weekday × hour), ``by_weekday``, ``resolution``, ``reasons``, ``skus``,
    ``follow_up``. Values: ``within_rate``, ``median_first_hours``, ``resolution_rate``, ``reopen_rate``,
    ``contacts_per_100``, ``csat``, ``nps`` (with intervals), the weekend gap.
    """
    o = _options(options)
    alpha, end = float(o["alpha"]), period.end
    res = Result(NAME, period, notes={k: v for k, v in o.items()})
    rules = load_rules(o["rules_path"])
    res.notes["rules"] = "ecomlib/rules/contact_reasons.yaml" if o["rules_path"] is None else str(o["rules_path"])

    def gap(section, key, **fields):
        res.gaps[section] = Gap(f"service.gap.{key}", fields)

    tickets = ds.tickets.copy()
    tickets["channel"] = tickets["channel"].astype(object)
    for col in ("satisfaction", "nps", "reopened", "category", "text"):
        if col not in tickets:
            tickets[col] = np.nan
    rt_all = response_times(tickets, as_of=end, targets=o["targets"],
                            resolution_target_hours=float(o["resolution_target_hours"]))
    rt = _in(rt_all, "opened_at", period)
    res.values["tickets"] = len(rt)
    if rt.empty:
        for s in ("response", "resolution", "reasons", "satisfaction"):
            gap(s, "no_tickets")
    else:
        res.tables["by_channel"] = response_summary(rt, by="channel", alpha=alpha)
        overall = response_summary(rt, alpha=alpha).iloc[0]
        res.values.update(within_rate=overall["within_rate"], median_first_hours=overall["median_hours"],
                          p90_first_hours=overall["p90_hours"])
        res.tables["by_weekday"] = response_summary(rt, by="weekday", alpha=alpha)
        res.tables["by_hour"] = response_summary(rt, by=["weekday", "hour"], alpha=alpha)
        if rt["weekend"].any() and (~rt["weekend"]).any():
            res.values["weekend"] = weekend_gap(rt)
        rs = resolution_summary(rt, alpha=alpha)
        res.tables["resolution"] = rs
        res.values.update(resolution_rate=float(rs["resolution_rate"].iloc[0]),
                          reopen_rate=float(rs["reopen_rate"].iloc[0]))
        mapped = map_contact_reasons(rt, rules=rules)
        reasons = mapped.groupby("reason").size().rename("tickets").reset_index()
        reasons["share"] = reasons["tickets"] / reasons["tickets"].sum()
        res.tables["reasons"] = reasons.sort_values("tickets", ascending=False, ignore_index=True)
        if rt["text"].isna().all() and rt["category"].isna().all():
            gap("reasons", "no_text")
        sat = satisfaction(rt, alpha=alpha)
        res.values.update({k: sat[k] for k in ("csat", "csat_low", "csat_high", "scores", "csat_good", "nps",
                                                "nps_low", "nps_high", "answers", "nps_se")})
        if sat["scores"] == 0:
            gap("satisfaction", "no_scores")
    orders = ds.orders
    if orders is None:
        gap("contacts", "no_orders_table")
    else:
        n_orders = int(len(_in(orders[orders["status"] != "cancelled"], "order_time", period)))
        res.values["orders"] = n_orders
        if n_orders == 0:
            gap("contacts", "no_orders")
        else:
            res.values["contacts_per_100"] = 100 * len(rt) / n_orders
    window = Period(end - pd.Timedelta(days=int(o["review_days"])), end)
    res.notes["window"] = window
    reviews = ds.product_reviews
    if reviews is None:
        gap("products", "no_reviews_table")
        themed = pd.DataFrame(columns=["review_id", "sku", "order_id", "rating", "text", "created_at", "negative",
                                       "theme"])
    else:
        themed = review_themes(reviews[reviews["created_at"] < end], negative_rating=int(o["negative_rating"]))
        ret = ds.returns
        if ret is not None:
            ret = ret[ret["returned_at"] < end]
            ret = _in(ret, "returned_at", window)
        skus = sku_ratings(_in(themed, "created_at", window), ret, min_reviews=int(o["min_reviews"]), alpha=alpha)
        res.tables["skus"] = skus
        if skus.empty:
            gap("products", "too_few_reviews", min_reviews=int(o["min_reviews"]), days=int(o["review_days"]))
        w = _in(themed, "created_at", window)
        res.values["mean_rating"] = float(w["rating"].mean()) if len(w) else np.nan
        res.values["negative_share"] = float(w["negative"].mean()) if len(w) else np.nan
    fu_window = Period(end - pd.Timedelta(days=int(o["follow_up_days"])), end)
    res.notes["follow_up_window"] = fu_window
    fu = follow_up_list(themed, rt_all, orders, window=fu_window, complaint_score=int(o["complaint_score"]),
                        resolution_target_hours=float(o["resolution_target_hours"]))
    res.tables["follow_up"] = fu
    res.values["follow_up"] = len(fu)
    if fu.empty:
        gap("follow_up", "nobody_waiting", days=int(o["follow_up_days"]))
    return res


# Headlines, findings, sentences ----------------------------------------------------------------------------------
def headlines(now, before, msg: Messages) -> list[Headline]:
    """The index cards: first responses within target, median first-response hours, resolution rate, CSAT, NPS,
    contacts per 100 orders — each the same quantity for the comparison period."""
    spec = [("within_rate", "ratio", "up", "ecomlib.service.response_summary"),
            ("median_first_hours", "number", "down", "ecomlib.service.response_summary"),
            ("resolution_rate", "ratio", "up", "ecomlib.service.resolution_summary"),
            ("csat", "ratio", "up", "ecomlib.service.satisfaction"),
            ("nps", "ratio", "up", "ecomlib.service.satisfaction"),
            ("contacts_per_100", "number", "down", "ecomlib.service.compute")]
    def val(result, key):  # NPS is shown as a fraction (−16.7 % = NPS −16.7) so its change reads in points
        v = result_value(result, key)
        return None if v is None else (v / 100 if key == "nps" else v)

    return [Headline(k, msg(f"service.h.{k}"), val(now, k), unit, previous=val(before, k), good=good, source=src)
            for k, unit, good, src in spec]


def _csat_change(now, before) -> dict | None:
    if before is None or not now.values.get("scores") or not before.values.get("scores"):
        return None
    t = two_proportion_test([before.values["csat_good"]], [before.values["scores"]], [now.values["csat_good"]],
                            [now.values["scores"]]).iloc[0]
    return {"diff": float(t["diff"]), "p_value": float(t["p_value"])}


def _nps_change(now, before) -> dict | None:
    if before is None or not now.values.get("answers") or not before.values.get("answers"):
        return None
    diff = now.values["nps"] - before.values["nps"]
    se = np.hypot(now.values["nps_se"], before.values["nps_se"])
    p = float(2 * sps.norm.sf(abs(diff) / se)) if se > 0 else np.nan
    return {"diff": float(diff), "p_value": p}


def findings(now, before, msg: Messages) -> list[Finding]:
    """Structured conclusions: the weekend first-response gap (significant at alpha; high when 20 points or more),
    SKUs whose negative reviews and returns name the same defect (high), a significant CSAT fall (medium), customers
    waiting for a follow-up (medium, descriptive). No money is estimated (None)."""
    out: list[Finding] = []
    alpha = now.notes["alpha"]
    w = now.values.get("weekend")
    if w and w["p_value"] < alpha and w["diff"] < 0:
        out.append(Finding(NAME, "weekend_gap", msg("service.s.weekend_gap", **_weekend_fields(w)),
                           numbers={k: w[k] for k in ("weekday_rate", "weekend_rate", "p_value")},
                           severity="high" if w["diff"] <= -0.2 else "medium", confidence="significant",
                           anchor="sec-response", source="ecomlib.service.weekend_gap"))
    skus = now.tables.get("skus")
    if skus is not None and now.has("products"):
        for row in skus[skus["flagged"]].head(now.notes["top"]).to_dict("records"):
            out.append(Finding(NAME, f"sku_{row['sku']}", _sku_sentence(row, msg),
                               numbers={"negative_rate": row["negative_rate"], "rest_rate": row["rest_rate"],
                                        "p_adjusted": row["p_adjusted"]}, severity="high", confidence="significant",
                               anchor="sec-products", source="ecomlib.service.sku_ratings"))
    ch = _csat_change(now, before)
    if ch and ch["p_value"] < alpha and ch["diff"] < 0:
        out.append(Finding(NAME, "csat_fall", msg("service.s.csat_fall", csat=now.values["csat"], diff=ch["diff"],
                                                 p=ch["p_value"]), numbers=ch, severity="medium",
                           confidence="significant", anchor="sec-satisfaction", source="ecomlib.service.satisfaction"))
    if now.values.get("follow_up"):
        out.append(Finding(NAME, "follow_up", msg("service.s.follow_up", n=now.values["follow_up"]),
                           numbers={"customers": now.values["follow_up"]}, severity="medium",
                           anchor="sec-follow_up", source="ecomlib.service.follow_up_list"))
    return out


def _weekend_fields(w: dict) -> dict:
    return dict(weekday=w["weekday_rate"], weekend=w["weekend_rate"], weekday_h=w["weekday_median"],
                weekend_h=w["weekend_median"], p=w["p_value"], n=w["weekend_n"])


def _sku_sentence(row, msg: Messages) -> str:
    return msg("service.s.sku", sku=row["sku"], rate=row["negative_rate"], rest=row["rest_rate"], n=row["reviews"],
               theme=msg(f"returns.reason.{row['theme']}"), share=row["return_share"])


def _satisfaction_sentences(now, before, msg: Messages) -> list[str]:
    ch, nc = _csat_change(now, before), _nps_change(now, before)
    out = [msg("service.s.csat", csat=now.values["csat"], lo=now.values["csat_low"], hi=now.values["csat_high"],
               n=now.values["scores"], change=msg.pp(ch["diff"]) if ch else "–")]
    if now.values.get("answers"):
        out.append(msg("service.s.nps", nps=now.values["nps"], lo=now.values["nps_low"], hi=now.values["nps_high"],
                       n=now.values["answers"], change=msg.num(nc["diff"]) if nc else "–"))
    return out


def sentences(now, before, msg: Messages) -> list[str]:
    """The page's conclusions, read only from the numbers in ``now`` and ``before``."""
    out: list[str] = []
    if now.has("response"):
        out.append(msg("service.s.response", rate=now.values["within_rate"], median=now.values["median_first_hours"],
                       p90=now.values["p90_first_hours"], n=now.values["tickets"]))
        w = now.values.get("weekend")
        if w and w["p_value"] < now.notes["alpha"] and w["diff"] < 0:
            out.append(msg("service.s.weekend_gap", **_weekend_fields(w)))
    if now.has("resolution"):
        out.append(msg("service.s.resolution", rate=now.values["resolution_rate"],
                       reopen=now.values["reopen_rate"]))
    if now.has("contacts"):
        out.append(msg("service.s.contacts", n=now.values["contacts_per_100"]))
    if now.has("reasons"):
        top = now.tables["reasons"].iloc[0]
        out.append(msg("service.s.reasons", reason=msg(f"service.reason.{top['reason']}"), share=top["share"]))
    if now.has("satisfaction"):
        out.extend(_satisfaction_sentences(now, before, msg))
    skus = now.tables.get("skus")
    if skus is not None and now.has("products"):
        flagged = skus[skus["flagged"]]
        out.extend(_sku_sentence(r, msg) for r in flagged.head(3).to_dict("records"))
        if flagged.empty:
            out.append(msg("service.s.no_sku"))
    if now.values.get("follow_up"):
        out.append(msg("service.s.follow_up", n=now.values["follow_up"]))
    return out


# Page helpers ----------------------------------------------------------------------------------------------------
_COLUMNS = {
    "by_channel": ["channel", "tickets", "answered", "median_hours", "p90_hours", "target_hours", "within_rate",
                   "within_low", "within_high"],
    "by_weekday": ["weekday", "tickets", "median_hours", "p90_hours", "within_rate", "within_low", "within_high"],
    "resolution": ["tickets", "resolved", "resolution_rate", "median_hours", "p90_hours", "within_rate",
                   "reopened_tickets", "reopen_rate"],
    "reasons": ["reason", "tickets", "share"],
    "skus": ["sku", "reviews", "mean_rating", "negative", "negative_rate", "negative_low", "negative_high",
             "rest_rate", "p_adjusted", "theme", "returns", "return_reason", "return_share", "flagged"],
    "follow_up": ["step", "source", "id", "customer_id", "order_id", "sku", "when", "score", "text"],
}
UNITS.update({"resolution_low": "pct", "resolution_high": "pct", "score": "num"})


def table(result, name: str, msg: Messages, *, top: int | None = None):
    """A result table ready to show (translated codes, formats, headers, caption); None when empty."""
    from .report import styled

    df = result.tables.get(name)
    if df is None or df.empty:
        return None
    df = df[[c for c in _COLUMNS.get(name, list(df.columns)) if c in df]]
    top = top or (result.notes["top"] if name in ("skus", "follow_up") else None)
    if top:
        df = df.head(top)
    maps = {"weekday": lambda v: msg(f"service.weekday.{int(v)}"), "reason": lambda v: msg(f"service.reason.{v}"),
            "theme": lambda v: msg(f"returns.reason.{v}") if isinstance(v, str) else v,
            "return_reason": lambda v: msg(f"returns.reason.{v}") if isinstance(v, str) else v,
            "step": lambda v: msg(f"service.step.{v}"), "source": lambda v: msg(f"service.source.{v}"),
            "flagged": lambda v: msg(f"service.flag.{bool(v)}")}
    df = df.assign(**{c: df[c].map(f) for c, f in maps.items() if c in df})
    if "channel" in df:
        df = df.assign(channel=df["channel"].map(lambda v: _channel(v, msg)))
    w = result.notes["window"]
    return styled(df, msg, formats=formats(df), labels=msg.labels(list(df.columns), "service.col."),
                  caption=msg(f"service.cap.{name}", start=msg.date(w.start), end=msg.date(w.last_day),
                              min_reviews=result.notes["min_reviews"]))


def _channel(value, msg: Messages) -> str:
    """A ticket channel in the run's language (a shop's own channel name is shown as it is)."""
    from .i18n import catalogue

    key = f"service.channel.{value}"
    return msg(key) if key in catalogue() else str(value)


def page_note(result, key: str, msg: Messages, before=None) -> str:
    """A note of the page (``targets``, ``rules``, ``contacts``, ``satisfaction`` (with ``before``, the comparison's
    result), ``products``, ``follow_up``, ``minimum``)."""
    n = result.notes
    if key == "contacts":
        return msg("service.s.contacts", n=result.values["contacts_per_100"])
    if key == "satisfaction":
        return " ".join(_satisfaction_sentences(result, before, msg))
    if key == "targets":
        targets = msg("service.list_sep").join(f"{_channel(c, msg)} {msg.num(h, 0)} h"
                                               for c, h in n["targets"].items())
        return msg("service.note.targets", targets=targets, resolution=n["resolution_target_hours"])
    if key == "rules":
        return msg("service.note.rules", path=n["rules"])
    if key == "products":
        w = n["window"]
        return msg("service.note.products", start=msg.date(w.start), end=msg.date(w.last_day),
                   negative=n["negative_rating"], min_reviews=n["min_reviews"])
    if key == "follow_up":
        return msg("service.note.follow_up", days=n["follow_up_days"], score=n["complaint_score"])
    if key == "minimum":
        return msg("service.note.minimum") + " " + " ".join(msg(f"service.min.{s}") for s in MINIMUM_DATA)
    raise KeyError(f"no page note {key!r}")


def plot_hour_of_week(data: pd.DataFrame, *, value: str = "within_rate", ax: Axes | None = None,
                      msg: Messages | None = None) -> Axes:
    """Heatmap of ``value`` (share of first responses within target) by weekday (rows) and hour opened (columns);
    data: the ``by_hour`` table. Returns the Axes."""
    msg = msg or Messages("en")
    if ax is None:
        ax = plt.gca()
    grid = data.pivot_table(index="weekday", columns="hour", values=value).reindex(index=range(7), columns=range(24))
    im = ax.imshow(grid.to_numpy(dtype=float), aspect="auto", cmap="RdYlGn", vmin=0, vmax=1)
    ax.set_yticks(range(7), [msg(f"service.weekday.{d}") for d in range(7)])
    ax.set_xticks(range(0, 24, 2), [str(h) for h in range(0, 24, 2)])
    ax.set_xlabel(msg("service.ax.hour"))
    ax.set_title(msg("service.ax.hour_title"))
    cbar = ax.figure.colorbar(im, ax=ax, fraction=0.03)
    cbar.ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: msg.pct(v, 0)))
    return ax


def plot_reasons(data: pd.DataFrame, *, y: str = "reason", x: str = "tickets", ax: Axes | None = None,
                 msg: Messages | None = None) -> Axes:
    """Horizontal bars of tickets by contact reason (the ``reasons`` table); returns the Axes."""
    msg = msg or Messages("en")
    if ax is None:
        ax = plt.gca()
    d = data.sort_values(x)
    ax.barh([msg(f"service.reason.{r}") for r in d[y]], d[x])
    ax.set_xlabel(msg("service.col.tickets"))
    ax.set_title(msg("service.ax.reasons_title"))
    return ax
