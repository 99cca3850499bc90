"""The review interface: results with gaps, findings and their ranking, per-review table lists, one revenue."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ecomlib import Finding, Gap, Messages, MissingTableError, ParameterError, Result, contract
from ecomlib.periods import parse_period
from ecomlib.review import load_tables, rank_findings


def test_result_exposes_tables_and_values_and_names_what_it_lacks():
    r = Result("returns", parse_period("2026-W47"), tables={"rates": pd.DataFrame({"x": [1]})},
               values={"rate": 0.1}, gaps={"culprits": Gap("common.no_data")})
    assert r.rates["x"].tolist() == [1] and r.rate == 0.1
    assert r.has("rates") and not r.has("culprits")
    assert r.value("missing", 0) == 0
    with pytest.raises(AttributeError, match="tables: \\['rates'\\], values: \\['rate'\\]"):
        r.nothing  # noqa: B018


def test_gap_renders_in_the_runs_language():
    gap = Gap("common.no_data")
    assert gap.text(Messages("en")) != gap.text(Messages("zh"))


def test_finding_checks_its_vocabulary_and_is_json_safe():
    with pytest.raises(ValueError, match="severity"):
        Finding("r", "k", "t", severity="urgent")
    with pytest.raises(ValueError, match="confidence"):
        Finding("r", "k", "t", confidence="sure")
    f = Finding("r", "k", "t", numbers={"p": np.float64(0.01), "n": np.int64(3), "x": math.nan,
                                        "when": pd.Timestamp("2026-11-22")}, money=np.float64(math.inf))
    out = f.to_json()
    assert out["numbers"] == {"p": 0.01, "n": 3, "x": None, "when": "2026-11-22T00:00:00"} and out["money"] is None
    assert type(out["numbers"]["n"]) is int


def test_findings_rank_by_severity_then_what_the_data_establishes_then_money():
    fs = [Finding("a", "1", "t", money=10, severity="medium", confidence="significant"),
          Finding("a", "2", "t", money=900, severity="medium", confidence="descriptive"),
          Finding("a", "3", "t", money=None, severity="high", confidence="descriptive"),
          Finding("a", "4", "t", money=50, severity="medium", confidence="significant"),
          Finding("a", "5", "t", money=5000, severity="medium", confidence="not_significant")]
    # a stock-out's lost sales (descriptive, 900) rank above a small significant change (50); an untested hunch
    # (not significant) comes last in its severity whatever the money
    assert [f.key for f in rank_findings(fs)] == ["3", "2", "4", "1", "5"]
    assert [f["key"] for f in rank_findings([f.to_json() for f in fs], top=2)] == ["3", "2"]


def test_every_review_lists_only_contract_tables_and_none_twice():
    for review, (required, optional) in contract.REVIEW_TABLES.items():
        assert set(required) | set(optional) <= set(contract.TABLES), review
        assert not set(required) & set(optional), review


def test_load_tables_names_the_review_that_needs_a_missing_table(tmp_path):
    pd.DataFrame({"x": [1]}).to_csv(tmp_path / "unrelated.csv", index=False)
    with pytest.raises(MissingTableError, match="needed by returns"):
        load_tables(tmp_path, "returns")


ORDERS = pd.DataFrame({"order_id": ["1", "2", "3", "4", "5"], "revenue": [100.0, 50.0, 80.0, 20.0, 40.0],
                       "status": ["completed", "cancelled", "partially_refunded", "pending", "refunded"]})
RETURNS = pd.DataFrame({"order_id": ["3", "1", "1", "5"], "refund_amount": [30.0, 20.0, 90.0, 40.0]})


def test_order_revenue_gross_counts_completed_and_partially_refunded_orders_as_recorded():
    gross = contract.order_revenue(ORDERS)
    assert gross["order_id"].tolist() == ["1", "3"] and gross["revenue"].sum() == 180.0
    assert gross["refund_amount"].sum() == 0.0


def test_order_revenue_net_takes_every_refund_off_its_order_never_below_zero():
    net = contract.order_revenue(ORDERS, basis="net", returns=RETURNS)
    # order 1: 100 - (20 + 90) → 0, not -10; order 3: 80 - 30 = 50
    assert net.set_index("order_id")["revenue"].to_dict() == {"1": 0.0, "3": 50.0}
    assert net["gross_revenue"].sum() == 180.0


def test_order_revenue_pending_is_a_stated_choice():
    assert contract.order_revenue(ORDERS, pending=True)["revenue"].sum() == 200.0
    with pytest.raises(ParameterError, match="needs the returns table"):
        contract.order_revenue(ORDERS, basis="net")
    with pytest.raises(ParameterError, match="basis must be one of 'gross', 'net', not 'nett'"):
        contract.order_revenue(ORDERS, basis="nett")
