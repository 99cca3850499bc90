"""Alert feed: rule validation (every error's message), thresholds, for_periods, control limits (individuals and
p-chart) on hand-made review results, console text and exit codes, alerts.json, and the demo: the planted findings
fire, and on the store without plants no critical alert and nothing but the short-stock list does."""

from __future__ import annotations

import email
import email.policy
import http.server
import json
import socket
import threading
import typing

import pandas as pd
import pytest

from ecomlib import alerts as al
from ecomlib.errors import EcomlibError, ParameterError
from ecomlib.i18n import Messages
from ecomlib.periods import parse_period
from ecomlib.review import Result

W47 = parse_period("2026-W47")


class FakeResults:
    """Stands in for the per-period review results: one checkout table per period label."""

    def __init__(self, rows: dict[str, list[tuple]]):
        self.rows = rows

    def get(self, review, period):
        if period.label not in self.rows:
            return None
        steps = []
        for segment, begin, buy in self.rows[period.label]:
            steps += [("device", segment, "begin_checkout", begin), ("device", segment, "purchase", buy)]
        table = pd.DataFrame(steps, columns=["dimension", "segment", "step", "units"])
        return Result("funnel", period, tables={"segments": table})


def weeks(n, start=W47):
    out, p = [], start
    for _ in range(n):
        p = p.previous()
        out.append(p.label)
    return out


def write(tmp_path, text):
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_rules_load_and_name_known_metrics():
    rules = al.load_rules()
    assert {r.metric for r in rules} <= set(al.METRICS)
    assert {r.name for r in rules} >= {"a_item_stock_out", "a_item_undercut", "checkout_conversion_drop",
                                       "supplier_otif_drop", "channel_below_break_even", "sku_return_rate_spike",
                                       "cover_below_lead_time", "dead_stock_category"}


@pytest.mark.parametrize("text, message", [
    ("rules:\n  - {name: x, metric: inventory.nope, above: 1, severity: critical}",
     "unknown metric 'inventory.nope'. Fix: use one of: ads.channel_roas_to_break_even, funnel.checkout_conversion"),
    ("rules:\n  - {name: x, metric: suppliers.otif_rate, below: 1, severity: urgent}",
     "severity must be one of \\['critical', 'warning', 'info'\\], not 'urgent'"),
    ("rules:\n  - {name: x, metric: suppliers.otif_rate, severity: info}", "the rule has no threshold and no direction"),
    ("rules:\n  - {name: x, metric: suppliers.otif_rate, direction: down, severity: info}",
     "the rule has neither a threshold nor control limits"),
    ("rules:\n  - {name: x, metric: suppliers.otif_rate, below: 1, severity: info, colour: red}",
     "unknown key\\(s\\) \\['colour'\\]"),
    (("rules:\n  - {name: x, metric: suppliers.otif_rate, below: 1, severity: info}\n"
     "  - {name: x, metric: suppliers.otif_rate, below: 1, severity: info}"), "the name is used twice"),
    ("rules:\n  - {name: x, metric: suppliers.otif_rate, below: 1, severity: info, control_limits: {periods: 2}}",
     "control_limits periods must be a whole number ≥ 3, not 2"),
    ("rules:\n  - {name: x, metric: suppliers.otif_rate, below: low, severity: info}", "below must be a number"),
    ("rules:\n  - {name: x, metric: suppliers.otif_rate, below: 1, severity: info, for_periods: 0}",
     "for_periods must be a whole number ≥ 1, not 0"),
    ("nothing: here", "the file has no 'rules:' list"),
])
def test_rule_errors_name_the_file_the_rule_and_the_fix(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ParameterError, match=message) as err:
        al.load_rules(path)
    assert str(path) in str(err.value) and "Fix:" in str(err.value)


def test_missing_rules_file():
    with pytest.raises(ParameterError, match="the rules file does not exist"):
        al.load_rules("/no/such/rules.yaml")


def test_fixed_threshold_fires_and_for_periods_needs_the_run():
    rules = [al.Rule("low", "funnel.checkout_conversion", "warning", below=0.5, direction="down"),
             al.Rule("low3", "funnel.checkout_conversion", "critical", below=0.5, direction="down", for_periods=3)]
    prev = weeks(2)
    res = FakeResults({"2026-W47": [("mobile", 100, 40), ("desktop", 100, 60)],
                       prev[0]: [("mobile", 100, 45), ("desktop", 100, 45)],
                       prev[1]: [("mobile", 100, 30), ("desktop", 100, 70)]})
    out = al.evaluate(rules, res, W47)
    assert [(a.rule, a.entity) for a in out] == [("low3", "mobile"), ("low", "mobile")]
    assert out[0].since == "2026-11-02" and out[1].since == "2026-11-16"  # the run's first week; the period
    assert out[0].by_threshold and not out[0].by_control and out[0].value == 0.4


def test_p_chart_limits_from_the_pooled_history_and_the_periods_count():
    history = {w: [("mobile", 1000, 600)] for w in weeks(8)}
    rule = al.Rule("drop", "funnel.checkout_conversion", "critical", direction="down", control_periods=8, sigmas=3)
    # p̄ = 0.6; n = 400 → limit 0.6 − 3·√(0.24/400) = 0.5265
    fired = al.evaluate([rule], FakeResults({**history, "2026-W47": [("mobile", 400, 200)]}), W47)
    assert len(fired) == 1 and fired[0].by_control
    assert fired[0].lower == pytest.approx(0.6 - 3 * (0.24 / 400) ** 0.5) and fired[0].baseline == pytest.approx(0.6)
    assert not al.evaluate([rule], FakeResults({**history, "2026-W47": [("mobile", 400, 215)]}), W47)  # 0.5375


def test_individuals_chart_where_no_count_is_known_and_too_short_a_history_sets_no_limit():
    now = pd.DataFrame({"entity": ["a", "b"], "n": [float("nan")] * 2})
    hist = [pd.DataFrame({"entity": ["a", "b"], "value": [v, 1.0], "n": [float("nan")] * 2}) for v in (1.0, 2.0, 3.0)]
    lim = al._limits(hist, now, 2.0).set_index("entity")
    assert lim.loc["a", "baseline"] == 2 and lim.loc["a", "lower"] == pytest.approx(0.0)  # mean 2, sd 1
    assert lim.loc["b", "upper"] == 1.0  # no spread: the limit is the mean
    assert al._limits(hist[:2], now, 2.0).empty


def test_console_text_and_exit_codes():
    msg = Messages("en", currency="CNY")
    assert al.exit_code([]) == 0 and al.console_text([], msg).startswith("No alert")
    warn = al.Alert("r", "inventory.a_undercut_gap", "inventory", "warning", "SKU-1", "Mug", 0.2, "2026-W47",
                    threshold=0.1, by_threshold=True, money=1234.0, since="2026-11-16", link="inventory.html#sec-prices")
    assert al.exit_code([warn]) == 1
    crit = al.Alert("c", "inventory.a_stockout_days", "inventory", "critical", "SKU-2", "SKU-2", 5, "2026-W47",
                    threshold=0, by_threshold=True, since="2026-11-16", link="inventory.html#sec-stockouts")
    assert al.exit_code([warn, crit]) == 2
    text = al.console_text([crit, warn], msg)
    assert text.splitlines()[0] == "2 alerts (1 critical, 1 warnings):"
    assert "WARNING  A item undercut by a competitor: SKU-1 (Mug) = 20.0% (threshold 10.0%); CN¥1,234 at stake; " \
           "since 2026-11-16 → inventory.html#sec-prices" in text
    zh = al.console_text([crit], Messages("zh", currency="CNY"))
    assert "严重" in zh and "{" not in zh


def test_demo_fires_for_the_planted_findings_and_writes_alerts_json(demo_dir, tmp_path):
    alerts = al.run_alerts(demo_dir, out=tmp_path, period="2026-W47")
    fired = {(a.rule, a.entity) for a in alerts}
    assert {("a_item_stock_out", "SKU-0094"), ("a_item_undercut", "SKU-0181"), ("supplier_otif_drop", "S07"),
            ("sku_return_rate_spike", "SKU-0251"), ("channel_below_break_even", "display"),
            ("checkout_conversion_drop", "mobile"), ("dead_stock_category", "季节款 Seasonal")} <= fired
    assert not {(r, e) for r, e in fired if r == "checkout_conversion_drop"} - {
        ("checkout_conversion_drop", "mobile"), ("checkout_conversion_drop", "all")}
    assert al.exit_code(alerts) == 2
    saved = json.loads((tmp_path / "alerts.json").read_text(encoding="utf-8"))
    assert saved["period"] == "2026-W47" and saved["exit_code"] == 2 and len(saved["alerts"]) == len(alerts)
    stock_out = next(a for a in saved["alerts"] if a["rule"] == "a_item_stock_out")
    assert stock_out["money"] > 30_000 and stock_out["link"] == "inventory.html#sec-stockouts"


def test_no_plants_store_raises_no_alert(demo_no_plants_dir):
    alerts = al.run_alerts(demo_no_plants_dir, period="2026-W47")
    assert [a.text for a in alerts] == [] and al.exit_code(alerts) == 0


class _Hook(http.server.BaseHTTPRequestHandler):
    received: typing.ClassVar[list] = []

    def do_POST(self):
        self.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def _smtp_server(received: list) -> tuple[socket.socket, int]:
    """A minimal SMTP server on 127.0.0.1 that accepts one message and keeps its DATA."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)

    def serve():
        conn, _ = sock.accept()
        f = conn.makefile("rwb")
        f.write(b"220 test\r\n"), f.flush()
        data, in_data = [], False
        for line in f:
            if in_data:
                if line == b".\r\n":
                    in_data = False
                    received.append(b"".join(data).decode("utf-8"))
                    f.write(b"250 ok\r\n")
                else:
                    data.append(line)
                    continue
            elif line.upper().startswith(b"DATA"):
                in_data = True
                f.write(b"354 go\r\n")
            elif line.upper().startswith(b"QUIT"):
                f.write(b"221 bye\r\n"), f.flush()
                break
            else:
                f.write(b"250 ok\r\n")
            f.flush()
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return sock, sock.getsockname()[1]


def test_delivery_to_a_webhook_and_an_smtp_server_on_localhost(tmp_path):
    server = http.server.HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    mails: list = []
    sock, port = _smtp_server(mails)
    crit = al.Alert("c", "inventory.a_stockout_days", "inventory", "critical", "SKU-2", "杯子", 5, "2026-W47",
                    threshold=0, by_threshold=True, money=900.0, since="2026-11-16", link="inventory.html#sec-stockouts")
    rules = write(tmp_path, "rules:\n  - {name: x, metric: suppliers.otif_rate, below: 0.5, severity: info}\n"
                            f"delivery:\n  webhook: http://127.0.0.1:{server.server_port}/hook\n"
                            f"  smtp: {{host: 127.0.0.1, port: {port}, sender: shop@example.com, to: me@example.com}}\n")
    delivery = al.load_delivery(rules)
    try:
        sent = al.deliver([crit], delivery, Messages("zh", currency="CNY"), period="2026-W47")
    finally:
        server.shutdown()
        sock.close()
    assert sent == {"webhook": 200, "smtp": ["me@example.com"]}
    body = _Hook.received[-1]
    assert body["exit_code"] == 2 and body["alerts"][0]["entity"] == "SKU-2" and "杯子" in body["text"]
    mail = email.message_from_string(mails[0], policy=email.policy.default)
    assert str(mail["Subject"]) == "店铺预警 2026-W47：1 条" and "SKU-2" in mail.get_content()


def test_delivery_errors_and_bad_delivery_settings(tmp_path):
    with pytest.raises(ParameterError, match="webhook must be an http\\(s\\) URL"):
        al.load_delivery(write(tmp_path, "rules: []\ndelivery: {webhook: ftp://x}\n"))
    with pytest.raises(ParameterError, match="smtp needs host, sender and to"):
        al.load_delivery(write(tmp_path, "rules: []\ndelivery: {smtp: {host: x}}\n"))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens on this port now
    with pytest.raises(EcomlibError, match="alert delivery failed: webhook"):
        al.deliver([], {"webhook": f"http://127.0.0.1:{port}/x"}, Messages("en"), timeout=2)
