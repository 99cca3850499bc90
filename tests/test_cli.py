"""The `ecomlib` command: usage errors are the kit's own one-line errors (exit 2), never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ecomlib import cli, runner

from .test_runner import GOOD, ORDERS, fake_execute, write_notebook, write_set


@pytest.fixture
def kit(tmp_path) -> Path:
    for folder in ("notebooks", "params", "data"):
        (tmp_path / folder).mkdir()
    write_notebook(tmp_path / "notebooks" / "good.ipynb", GOOD)
    (tmp_path / "data" / "orders.csv").write_text(ORDERS)
    (tmp_path / "data" / "store.yaml").write_text("name: Tiny\ncurrency: CNY\ntimezone: Asia/Shanghai\n")
    write_set(tmp_path, ["good"])
    return tmp_path


def invoke(*args: str):
    return CliRunner().invoke(cli.main, list(args))


def test_validate_unknown_table_suggests_the_right_name(kit):
    result = invoke("validate", str(kit / "data"), "--tables", "order")
    assert result.exit_code == 2 and "unknown table 'order'; did you mean orders?" in result.output
    assert "Traceback" not in result.output
    assert invoke("validate", str(kit / "data"), "--tables", " orders ,orders").exit_code == 0


def test_import_option_that_is_not_readable_yaml_is_a_usage_error(tmp_path):
    export = Path(__file__).parent / "fixtures" / "importers" / "shopify_orders_export.csv"
    result = invoke("import", "shopify", str(export), "--out", str(tmp_path / "out"), "--option", "cost_ratio=[1")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "--option cost_ratio=[1: the value '[1' is not a readable list or mapping" in result.output


def test_review_refuses_a_period_outside_the_data_naming_the_range(kit):
    result = invoke("review", "--params", str(kit / "params" / "set.yaml"), "--out", str(kit / "reports"),
                    "--period", "2027-W02")
    assert result.exit_code == 2
    assert "has no data" in result.output and "runs from 2026-11-02 to 2026-11-22" in result.output
    assert not (kit / "reports").exists()


def test_review_only_is_trimmed_and_an_empty_only_refused(kit, monkeypatch):
    monkeypatch.setattr(runner, "_execute", fake_execute)
    result = invoke("review", "--params", str(kit / "params" / "set.yaml"), "--out", str(kit / "reports"),
                    "--only", " good,good ", "--timeout", "60")
    assert result.exit_code == 0, result.output
    assert result.output.count("good started") == 1
    summary = json.loads((kit / "reports" / "2026-W47" / "summary.json").read_text(encoding="utf-8"))
    assert [nb["name"] for nb in summary["notebooks"]] == ["good"]
    assert invoke("review", "--params", str(kit / "params" / "set.yaml"), "--only", " , ").exit_code == 2


def test_review_runner_parameter_from_the_command_line_is_refused(kit):
    result = invoke("review", "--params", str(kit / "params" / "set.yaml"), "--out", str(kit / "reports"),
                    "-p", "good:period_start=2026-01-01")
    assert result.exit_code == 2 and "'period_start' is set by the runner" in result.output


def test_review_into_an_unwritable_out_is_a_clear_error(kit):
    (kit / "file").write_text("x")
    result = invoke("review", "--params", str(kit / "params" / "set.yaml"), "--out", str(kit / "file" / "reports"))
    assert result.exit_code == 2 and "cannot write reports to" in result.output and "writable --out" in result.output
    assert "Traceback" not in result.output


def test_import_accepts_every_registered_kind_and_suggests_a_misspelt_one(tmp_path):
    from ecomlib.importers import IMPORTERS

    export = Path(__file__).parent / "fixtures" / "importers" / "shopify_orders_export.csv"
    result = invoke("import", "goggle_ads", str(export), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2 and "unknown import kind 'goggle_ads'; did you mean google_ads?" in result.output
    assert all(kind in result.output for kind in IMPORTERS)
    assert "ga4" in IMPORTERS and "purchase_orders" in IMPORTERS  # the kinds the docs give commands for


def test_validate_prints_warnings_and_values_that_match_nothing(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "orders.csv").write_text(ORDERS)
    (data / "store.yaml").write_text("currency: CNY\n")
    (data / "ad_spend.csv").write_text("date,channel,campaign,impressions,clicks,spend,platform_conversions,"
                                       "platform_revenue\n2026-03-02,Paid_Search ,brand,100,5,50.0,,\n")
    result = invoke("validate", str(data))
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.startswith("no match: ad_spend.channel"))
    assert "'Paid_Search '" in line and "spend 50.00" in line


def test_demo_data_without_plants(tmp_path, monkeypatch):
    from ecomlib import demo

    calls = []
    monkeypatch.setattr(demo, "write_demo", lambda out, seed, plants: calls.append((seed, plants)) or {})
    result = invoke("demo-data", "--out", str(tmp_path / "d"), "--seed", "7", "--no-plants")
    assert result.exit_code == 0 and calls == [(7, False)] and "without planted findings" in result.output


def test_alerts_print_the_feed_exit_by_severity_and_go_to_the_top_of_the_index(kit, monkeypatch):
    from ecomlib import alerts as alerts_module
    from ecomlib.alerts import Alert

    monkeypatch.setattr(runner, "_execute", fake_execute)

    run_dir = Path(runner.run_review(kit / "params" / "set.yaml", out_dir=kit / "reports", period="2026-W47",
                                     echo=lambda line: None)["index"]).parent
    fired = [Alert(rule="stockout_a_item", metric="inventory.a_stockout", review="inventory", severity="critical",
                   entity="SKU-1", label="Mug <b>", value=3.0, period="2026-W47", link="inventory.html#sec-stockouts",
                   text="CRITICAL stock-out of SKU-1 (Mug <b>)")]
    monkeypatch.setattr(alerts_module, "run_alerts", lambda *a, **k: fired)
    result = invoke("alerts", "--data", str(kit / "data"), "--out", str(run_dir))
    assert result.exit_code == 2, result.output
    assert "CRITICAL stock-out of SKU-1" in result.output and "alerts added to" in result.output
    index = (run_dir / "index.html").read_text(encoding="utf-8")
    assert index.index('id="alerts"') < index.index('id="findings"')
    assert "Mug &lt;b&gt;" in index and "Mug <b>" not in index
    assert json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))["alerts"][0]["entity"] == "SKU-1"
    monkeypatch.setattr(alerts_module, "run_alerts", lambda *a, **k: [])
    assert invoke("alerts", "--data", str(kit / "data")).exit_code == 0
