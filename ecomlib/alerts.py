"""The morning alert feed: YAML rules over the reviews' results, each with a fixed threshold, a severity and a
baseline from the metric's own history (control limits).

``run_alerts(data_dir)`` loads the store once, computes the reviews the rules need for the period (default: the last
complete week in the data) and, where a rule asks for it, for the periods before; each rule reads one metric of
:data:`METRICS` per entity (SKU, channel, supplier, device) from those results and fires when its threshold or its
control limit is crossed. It returns the alerts most severe first (money at stake next), writes ``alerts.json`` to
``out`` when given, and :func:`console_text` / :func:`exit_code` give what a cron job prints and returns:

- exit code **0**: nothing fired; **1**: warnings or info only; **2**: at least one critical alert.

Rules (``ecomlib/rules/alerts.yaml`` is the default set; see its header for every key)::

    rules:
      - name: checkout_conversion_drop
        metric: funnel.checkout_conversion
        direction: down
        control_limits: {periods: 8, sigmas: 3}
        severity: critical

Control limits: mean ± ``sigmas`` × standard deviation of the metric over the ``periods`` periods before; for rates
(metrics with a count, e.g. checkouts) a p-chart: p̄ ± ``sigmas`` · √(p̄(1 − p̄)/n) with p̄ pooled over the history
and n the period's count (Montgomery, *Introduction to Statistical Quality Control*, ch. 7). A rule validation error
names the file, the rule and the fix; an unknown metric lists the available ones.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from .errors import ParameterError
from .i18n import Messages
from .periods import Period, parse_period
from .review import Result, number

SEVERITY_ORDER = ("critical", "warning", "info")
RULE_KEYS = {"name", "metric", "above", "below", "direction", "control_limits", "for_periods", "severity"}
DEFAULT_RULES = "alerts.yaml"


@dataclass(frozen=True)
class Metric:
    """One number per entity that rules can watch: the review computing it, how to read it from the review's
    :class:`~ecomlib.review.Result`, and where the page shows it.

    ``read(result)`` returns a DataFrame with columns entity, label, value and, where known, n (the count a rate
    is out of: a p-chart then sets the control limits), money (store currency at stake) and since (a date)."""

    review: str           # module name under ecomlib (inventory, ads, suppliers, returns, funnel)
    read: Callable[[Result], pd.DataFrame]
    anchor: str           # section of the review's page
    unit: str             # pct, num, int, ratio: how the value is written
    doc: str


def _frame(df: pd.DataFrame, **cols) -> pd.DataFrame:
    out = pd.DataFrame({k: (df[v] if isinstance(v, str) else v) for k, v in cols.items()})
    for c in ("n", "money", "since"):
        if c not in out:
            out[c] = np.nan if c != "since" else pd.NaT
    return out.reset_index(drop=True)


def _a_stockouts(r: Result) -> pd.DataFrame:
    s = r.tables["stockouts"]
    s = s[s["abc"] == "A"]
    return _frame(s, entity="sku", label="product_name", value="out_days", money="lost_revenue", since="first_out")


def _position(r: Result) -> pd.DataFrame:
    rp = r.tables["reorder"]
    rp = rp[rp["demand_mean"].astype(float) > 0]
    need = rp["demand_mean"].astype(float) * rp["lead_time_mean"].astype(float)
    rp = rp.assign(ratio=rp["position"].astype(float) / need.where(need > 0)).dropna(subset=["ratio"])
    return _frame(rp, entity="sku", label="product_name", value="ratio")


def _dead_share(r: Result) -> pd.DataFrame:
    c = r.tables["by_category"]
    c = c[c["stock_value"] > 0] if len(c) else c
    return _frame(c, entity="category", label="category", value=c["dead_value"] / c["stock_value"], money="dead_value")


def _a_undercut(r: Result) -> pd.DataFrame:
    p = r.tables["prices"]
    p = p[p["abc"] == "A"] if len(p) else p
    return _frame(p, entity="sku", label="product_name", value="gap", money="margin_at_risk")


def _return_ratio(r: Result) -> pd.DataFrame:
    c = r.tables["culprits"]
    c = c[c["significant"].astype(bool)] if len(c) else c
    return _frame(c, entity="sku", label="product_name", value="ratio", money="refund_amount")


def _roas_ratio(r: Result) -> pd.DataFrame:
    c = r.tables["channels"]
    c = c[(c["spend"] > 0) & c["break_even_roas"].notna()] if len(c) else c
    money = c.get("shortfall", np.nan)
    return _frame(c, entity="channel", label="channel", value=c["roas"] / c["break_even_roas"], money=money)


def _otif(r: Result) -> pd.DataFrame:
    k = r.tables["kpis"]
    k = k[k["n_qty_lines"] >= 5] if len(k) else k
    return _frame(k, entity="supplier_id", label="supplier_id", value="otif_rate", n="n_qty_lines")


def _checkout(r: Result) -> pd.DataFrame:
    s = r.tables.get("segments")
    if s is None or s.empty:
        return _frame(pd.DataFrame({"x": []}), entity=[], label=[], value=[])
    s = s[s["dimension"].isin(["all", "device"])]
    begin = s[s["step"] == "begin_checkout"].set_index("segment")["units"]
    buy = s[s["step"] == "purchase"].set_index("segment")
    buy = buy.assign(n=begin.reindex(buy.index).to_numpy()).reset_index()
    buy = buy[buy["n"] > 0]
    return _frame(buy, entity="segment", label="segment", value=buy["units"] / buy["n"], n="n")


#: Every metric a rule can watch, by name ("<review>.<metric>").
METRICS: dict[str, Metric] = {
    "inventory.a_stockout_days": Metric("inventory", _a_stockouts, "sec-stockouts", "int",
                                        "days out of stock in the period, per A item (money: lost revenue)"),
    "inventory.position_in_lead_times": Metric("inventory", _position, "sec-reorder", "num",
                                               "stock position (on hand + on order) ÷ lead-time demand, per SKU"),
    "inventory.dead_stock_share": Metric("inventory", _dead_share, "sec-dead", "pct",
                                         "share of a category's stock at cost with no sale in the dead-stock days "
                                         "(money: that cash)"),
    "inventory.a_undercut_gap": Metric("inventory", _a_undercut, "sec-prices", "pct",
                                       "lowest competitor price below ours (share), per A item (money: margin at "
                                       "risk)"),
    "returns.sku_return_ratio": Metric("returns", _return_ratio, "sec-culprits", "ratio",
                                       "return rate ÷ its norm, per SKU significantly above it (money: refunds)"),
    "ads.channel_roas_to_break_even": Metric("ads", _roas_ratio, "sec-channels", "ratio",
                                             "store-side ROAS ÷ break-even ROAS, per paid channel"),
    "suppliers.otif_rate": Metric("suppliers", _otif, "sec-scorecard", "pct",
                                  "on time in full, trailing window, per supplier (5+ lines with quantities)"),
    "funnel.checkout_conversion": Metric("funnel", _checkout, "sec-funnel", "pct",
                                         "begin_checkout → purchase, all and per device"),
}


@dataclass(frozen=True)
class Rule:
    """One validated rule of the rules file (see the module docstring)."""

    name: str
    metric: str
    severity: str
    above: float | None = None
    below: float | None = None
    direction: str | None = None
    control_periods: int = 0
    sigmas: float = 3.0
    for_periods: int = 1


@dataclass
class Alert:
    """One fired rule for one entity."""

    rule: str
    metric: str
    review: str
    severity: str
    entity: str
    label: str
    value: float
    period: str
    threshold: float | None = None
    lower: float | None = None
    upper: float | None = None
    baseline: float | None = None
    by_threshold: bool = False
    by_control: bool = False
    money: float | None = None
    since: str | None = None
    link: str = ""
    text: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {k: _plain(v) for k, v in asdict(self).items()}


def _plain(v):
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v


def _fail(where: str, message: str, fix: str, name: str = "rules"):
    raise ParameterError(f"{where}: {message}. Fix: {fix}", name=name)


def load_rules(path: str | Path | None = None) -> list[Rule]:
    """Read and validate a rules file (default: the packaged ``ecomlib/rules/alerts.yaml``).

    Raises :class:`~ecomlib.errors.ParameterError` naming the file and rule for an unknown key or metric (listing
    the available ones), a missing threshold, a bad severity, period count or direction, or a repeated name.
    """
    if path is None:
        text = resources.files("ecomlib.rules").joinpath(DEFAULT_RULES).read_text(encoding="utf-8")
        where = f"ecomlib/rules/{DEFAULT_RULES}"
    else:
        path = Path(path)
        if not path.exists():
            _fail(str(path), "the rules file does not exist", "give the path of a YAML rules file")
        text, where = path.read_text(encoding="utf-8"), str(path)
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        _fail(where, "the file has no 'rules:' list", "start the file with 'rules:' and one '- name: …' item per rule")
    rules, seen = [], set()
    for i, raw in enumerate(data["rules"], 1):
        at = f"{where}, rule {i}"
        if not isinstance(raw, dict):
            _fail(at, "a rule must be a mapping of keys", "write it as '- name: …' with metric, severity, threshold")
        name = raw.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_]+", name):
            _fail(at, f"name must be letters, digits and _, not {name!r}", "give the rule a short name")
        at = f"{where}, rule {name!r}"
        unknown = set(raw) - RULE_KEYS
        if unknown:
            _fail(at, f"unknown key(s) {sorted(unknown)}", f"use only {sorted(RULE_KEYS)}")
        if name in seen:
            _fail(at, "the name is used twice", "give every rule its own name")
        seen.add(name)
        metric = raw.get("metric")
        if metric not in METRICS:
            _fail(at, f"unknown metric {metric!r}", f"use one of: {', '.join(sorted(METRICS))}", name="metric")
        severity = raw.get("severity")
        if severity not in SEVERITY_ORDER:
            _fail(at, f"severity must be one of {list(SEVERITY_ORDER)}, not {severity!r}", "pick one of them")
        for key in ("above", "below"):
            if key in raw and not isinstance(raw[key], (int, float)) or isinstance(raw.get(key), bool):
                _fail(at, f"{key} must be a number, not {raw[key]!r}", f"write e.g. '{key}: 0.1'")
        limits = raw.get("control_limits") or {}
        if not isinstance(limits, dict) or set(limits) - {"periods", "sigmas"}:
            _fail(at, f"control_limits must be {{periods: N, sigmas: S}}, not {limits!r}",
                  "write e.g. 'control_limits: {periods: 8, sigmas: 3}'")
        periods, sigmas = limits.get("periods", 8 if limits else 0), limits.get("sigmas", 3.0)
        if limits and not (isinstance(periods, int) and periods >= 3):
            _fail(at, f"control_limits periods must be a whole number ≥ 3, not {periods!r}",
                  "use the 3 or more periods before as the baseline")
        if limits and not (isinstance(sigmas, (int, float)) and sigmas > 0):
            _fail(at, f"control_limits sigmas must be a number > 0, not {sigmas!r}", "3 is usual")
        direction = raw.get("direction") or ("down" if "below" in raw else "up" if "above" in raw else None)
        if direction not in ("down", "up"):
            _fail(at, "the rule has no threshold and no direction", "add 'above:' or 'below:', or 'direction: down|up' "
                  "with control_limits")
        if "above" not in raw and "below" not in raw and not limits:
            _fail(at, "the rule has neither a threshold nor control limits", "add 'above:'/'below:' or control_limits")
        for_periods = raw.get("for_periods", 1)
        if not (isinstance(for_periods, int) and for_periods >= 1):
            _fail(at, f"for_periods must be a whole number ≥ 1, not {for_periods!r}", "1 means the period alone")
        rules.append(Rule(name, metric, severity, above=raw.get("above"), below=raw.get("below"), direction=direction,
                          control_periods=periods if limits else 0, sigmas=float(sigmas), for_periods=for_periods))
    return rules


class _Results:
    """Review results per (review, period), computed once."""

    def __init__(self, ds):
        self.ds, self.cache = ds, {}

    def get(self, review: str, period: Period) -> Result | None:
        key = (review, period.start, period.end)
        if key not in self.cache:
            import importlib

            module = importlib.import_module(f"ecomlib.{review}")
            try:
                self.cache[key] = module.compute(self.ds, period)
            except Exception as err:  # noqa: BLE001 - a review that cannot run on this data is reported, not fatal
                self.cache[key] = err
        got = self.cache[key]
        return None if isinstance(got, Exception) else got

    def error(self, review: str, period: Period):
        got = self.cache.get((review, period.start, period.end))
        return got if isinstance(got, Exception) else None


def _read(results: _Results, metric: Metric, period: Period) -> pd.DataFrame | None:
    r = results.get(metric.review, period)
    if r is None:
        return None
    try:
        return metric.read(r)
    except KeyError:  # the section is a gap in this period: nothing to read
        return None


def _limits(history: list[pd.DataFrame], now: pd.DataFrame, sigmas: float) -> pd.DataFrame:
    """Control limits per entity from its history: individuals chart, or p-chart where counts are known."""
    if not history:
        return pd.DataFrame(columns=["entity", "baseline", "lower", "upper"])
    h = pd.concat(history, ignore_index=True)
    g = h.assign(hits=h["value"] * h["n"]).groupby("entity")
    stats = pd.DataFrame({"mean": g["value"].mean(), "sd": g["value"].std(), "k": g["value"].size(),
                          "hits": g["hits"].sum(min_count=1), "n_hist": g["n"].sum(min_count=1)})
    stats = stats[stats["k"] >= 3]
    out = now[["entity", "n"]].join(stats, on="entity").dropna(subset=["mean"])
    pooled = out["hits"] / out["n_hist"]
    rate = out["n"].notna() & out["n_hist"].notna() & (out["n"] > 0)
    half = np.where(rate, sigmas * np.sqrt(pooled * (1 - pooled) / out["n"].where(rate, 1)), sigmas * out["sd"])
    base = np.where(rate, pooled, out["mean"])
    return pd.DataFrame({"entity": out["entity"], "baseline": base, "lower": base - half, "upper": base + half})


def evaluate(rules: list[Rule], results: _Results, period: Period) -> list[Alert]:
    """Every alert the rules fire for ``period`` (most severe first, then money at stake)."""
    alerts: list[Alert] = []
    for rule in rules:
        metric = METRICS[rule.metric]
        now = _read(results, metric, period)
        if now is None or now.empty:
            continue
        now = now.dropna(subset=["value"])
        fixed = pd.Series(False, index=now.index)
        if rule.above is not None:
            fixed |= now["value"] > rule.above
        if rule.below is not None:
            fixed |= now["value"] < rule.below
        before = period
        for _ in range(rule.for_periods - 1):  # the threshold must hold in the periods before too
            before = before.previous()
            prev = _read(results, metric, before)
            if prev is None or prev.empty:
                fixed &= False
                break
            hit = pd.Series(False, index=prev.index)
            if rule.above is not None:
                hit |= prev["value"] > rule.above
            if rule.below is not None:
                hit |= prev["value"] < rule.below
            fixed &= now["entity"].isin(prev.loc[hit, "entity"])
        limits = pd.DataFrame(columns=["entity", "baseline", "lower", "upper"])
        if rule.control_periods:
            history, p = [], period
            for _ in range(rule.control_periods):
                p = p.previous()
                h = _read(results, metric, p)
                if h is not None and len(h):
                    history.append(h.dropna(subset=["value"]))
            limits = _limits(history, now, rule.sigmas)
        now = now.merge(limits, on="entity", how="left")
        if rule.direction == "down":
            control = now["value"] < now["lower"].astype(float)
        else:
            control = now["value"] > now["upper"].astype(float)
        control = control.fillna(False).to_numpy(bool)
        fire = fixed.to_numpy(bool) | control
        threshold = rule.below if rule.direction == "down" and rule.below is not None else rule.above
        for row, by_fixed, by_control in zip(now[fire].itertuples(), fixed.to_numpy(bool)[fire], control[fire]):
            since = row.since if pd.notna(row.since) else (period.start if rule.for_periods == 1 else
                                                           before.start)
            alerts.append(Alert(
                rule=rule.name, metric=rule.metric, review=metric.review, severity=rule.severity,
                entity=str(row.entity), label=str(row.label), value=float(row.value), period=period.label,
                threshold=threshold, lower=number(row.lower), upper=number(row.upper), baseline=number(row.baseline),
                by_threshold=bool(by_fixed), by_control=bool(by_control), money=number(row.money),
                since=pd.Timestamp(since).date().isoformat(), link=f"{_page(metric.review)}.html#{metric.anchor}"))
    order = {s: i for i, s in enumerate(SEVERITY_ORDER)}
    return sorted(alerts, key=lambda a: (order[a.severity], -(a.money or 0.0), a.rule, a.entity))


def _page(review: str) -> str:
    import importlib

    return importlib.import_module(f"ecomlib.{review}").NAME


def describe(alert: Alert, msg: Messages) -> str:
    """One line for a person: severity, what, how much, money at stake, since when, where to look."""
    unit = METRICS[alert.metric].unit
    value = msg.format(alert.value, unit)
    if alert.by_control and alert.baseline is not None:
        why = msg("alerts.why.control", baseline=msg.format(alert.baseline, unit),
                  limit=msg.format(alert.lower if alert.value < alert.baseline else alert.upper, unit))
    else:
        why = msg("alerts.why.threshold", threshold=msg.format(alert.threshold, unit))
    money = msg("alerts.money", money=alert.money) if alert.money else ""
    return msg("alerts.line", severity=msg(f"alerts.severity.{alert.severity}"), what=msg(f"alerts.metric.{alert.metric}"),
               entity=alert.entity, label="" if alert.label == alert.entity else f" ({alert.label})", value=value,
               why=why, money=money, since=alert.since, link=alert.link)


def console_text(alerts: list[Alert], msg: Messages) -> str:
    """The feed as printed on the console: a count line, then one line per alert."""
    if not alerts:
        return msg("alerts.none")
    counts = {s: sum(a.severity == s for a in alerts) for s in SEVERITY_ORDER}
    head = msg("alerts.count", n=len(alerts), critical=counts["critical"], warning=counts["warning"])
    return "\n".join([head] + [a.text or describe(a, msg) for a in alerts])


def exit_code(alerts: list[Alert]) -> int:
    """0: nothing fired; 1: warnings or info only; 2: at least one critical alert (cron mails non-zero runs)."""
    if any(a.severity == "critical" for a in alerts):
        return 2
    return 1 if alerts else 0


def load_delivery(path: str | Path | None = None) -> dict:
    """The optional ``delivery:`` section of a rules file: ``{webhook: URL, smtp: {host, port, sender, to,
    subject}}`` (either or both); ``{}`` when absent. Unknown keys are refused with the allowed ones."""
    if path is None:
        return {}
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    delivery = data.get("delivery") or {}
    where = f"{path}, delivery"
    if not isinstance(delivery, dict) or set(delivery) - {"webhook", "smtp"}:
        _fail(where, f"delivery takes webhook and smtp, not {sorted(delivery) if isinstance(delivery, dict) else delivery!r}",
              "write 'delivery: {webhook: https://…}' and/or an smtp mapping")
    hook = delivery.get("webhook")
    if hook is not None and not (isinstance(hook, str) and re.match(r"https?://", hook)):
        _fail(where, f"webhook must be an http(s) URL, not {hook!r}", "give the full URL, e.g. https://hooks.example/x")
    smtp = delivery.get("smtp")
    if smtp is not None:
        allowed = {"host", "port", "sender", "to", "subject"}
        if not isinstance(smtp, dict) or set(smtp) - allowed or not {"host", "sender", "to"} <= set(smtp):
            _fail(where, f"smtp needs host, sender and to (and may have port, subject), not {smtp!r}",
                  "write 'smtp: {host: mail.example, port: 25, sender: shop@…, to: [me@…]}'")
    return delivery


def deliver(alerts: list[Alert], delivery: dict, msg: Messages, *, period: str = "", timeout: float = 10.0) -> dict:
    """Send the feed: a JSON POST to ``delivery["webhook"]`` (``{"period", "exit_code", "text", "alerts"}``) and a
    plain-text mail through ``delivery["smtp"]``. Returns what was sent to where (``{"webhook": 200, "smtp": [to]}``);
    a failed delivery raises (cron should see it), after the other channel was tried."""
    import smtplib
    import urllib.request
    from email.message import EmailMessage

    text = console_text(alerts, msg)
    sent, errors = {}, []
    if delivery.get("webhook"):
        body = json.dumps({"period": period, "exit_code": exit_code(alerts), "text": text,
                           "alerts": [a.to_json() for a in alerts]}, ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(delivery["webhook"], data=body, method="POST",
                                         headers={"Content-Type": "application/json; charset=utf-8"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                sent["webhook"] = response.status
        except OSError as err:
            errors.append(f"webhook {delivery['webhook']}: {err}")
    smtp = delivery.get("smtp")
    if smtp:
        to = [smtp["to"]] if isinstance(smtp["to"], str) else list(smtp["to"])
        mail = EmailMessage()
        mail["From"], mail["To"] = smtp["sender"], ", ".join(to)
        mail["Subject"] = smtp.get("subject") or msg("alerts.subject", period=period, n=len(alerts))
        mail.set_content(text)
        try:
            with smtplib.SMTP(smtp["host"], int(smtp.get("port", 25)), timeout=timeout) as server:
                server.send_message(mail)
            sent["smtp"] = to
        except (OSError, smtplib.SMTPException) as err:
            errors.append(f"smtp {smtp['host']}: {err}")
    if errors:
        from .errors import EcomlibError
        raise EcomlibError("alert delivery failed: " + "; ".join(errors) + ". The alerts are in alerts.json; "
                           "check the address and that the server accepts connections from this machine.")
    return sent


def run_alerts(data_dir, *, rules_path=None, out=None, period=None, lang: str | None = None) -> list[Alert]:
    """Evaluate the alert rules on the store in ``data_dir`` for ``period`` (a Period, a label such as "2026-W47",
    or None: the last complete week in the data).

    Writes ``alerts.json`` in ``out`` when given (period, rules file, alerts, reviews that could not run). Each
    alert's ``text`` is in ``lang`` (default: the store's language). When the rules file has a ``delivery:`` section
    and something fired, the feed is also sent (:func:`deliver`). Returns the alerts, most severe first.
    """
    from .dataset import load_dataset
    from .periods import resolve

    rules = load_rules(rules_path)
    ds = load_dataset(data_dir)
    msg = Messages(lang or ds.store.lang, currency=ds.store.currency)
    if period is None:
        period, _ = resolve(None, None, data_end=ds.orders["order_time"].max())
    elif isinstance(period, str):
        period = parse_period(period)
    results = _Results(ds)
    alerts = evaluate(rules, results, period)
    for a in alerts:
        a.text = describe(a, msg)
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        failed = {f"{review} {start.date()}": str(err) for (review, start, _), err in results.cache.items()
                  if isinstance(err, Exception)}
        payload = {"period": period.label, "rules": str(rules_path or f"ecomlib/rules/{DEFAULT_RULES}"),
                   "exit_code": exit_code(alerts), "alerts": [a.to_json() for a in alerts], "not_run": failed}
        (out / "alerts.json").write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")
    delivery = load_delivery(rules_path)
    if delivery and alerts:
        deliver(alerts, delivery, msg, period=period.label)
    return alerts
