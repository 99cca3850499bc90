"""data/README.md and ecomlib.contract say the same thing: tables, columns, keys, optional tables, per-review
table lists, statuses and revenue definitions. Change one, and this test names what the other lacks."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from ecomlib import contract
from ecomlib.contract import REVIEW_TABLES, TABLES

README = (Path(__file__).parents[1] / "data" / "README.md").read_text(encoding="utf-8")


def section(name: str) -> str:
    """The README text of ``### `name` `` up to the next heading."""
    match = re.search(rf"^### `{name}`\n(.*?)(?=^#{{2,3}} )", README, flags=re.S | re.M)
    assert match, f"data/README.md has no section ### `{name}`"
    return match.group(1)


def documented_columns(name: str) -> list[str]:
    return re.findall(r"^\| `([a-z_]+)` \|", section(name), flags=re.M)


@pytest.mark.parametrize("name", list(TABLES))
def test_readme_documents_each_table_with_exactly_the_contract_columns_in_order(name):
    assert documented_columns(name) == TABLES[name].columns


@pytest.mark.parametrize("name", list(TABLES))
def test_readme_states_each_key_and_whether_the_table_is_optional(name):
    spec, text = TABLES[name], section(name)
    if not spec.key:
        assert "No key" in text
    elif len(spec.key) == 1:
        assert f"Key: `{spec.key[0]}`" in text
    else:
        assert "Key: (" + ", ".join(f"`{k}`" for k in spec.key) + ")" in text
    assert text.lstrip().startswith("Optional") == spec.optional


def test_readme_review_table_lists_equal_review_tables():
    block = README[README.index("## Tables each review reads"):README.index("## Revenue")]
    rows = re.findall(r"^\| ([a-z_]+) \| (.*?) \| (.*?) \|$", block, flags=re.M)
    documented = {review: (tuple(re.findall(r"`([a-z_]+)`", required)), tuple(re.findall(r"`([a-z_]+)`", optional)))
                  for review, required, optional in rows if review != "review"}
    assert documented == REVIEW_TABLES


def test_every_table_a_review_reads_is_a_contract_table():
    for review, (required, optional) in REVIEW_TABLES.items():
        assert set(required) | set(optional) <= set(TABLES), review
        assert not set(required) & set(optional), review


def test_readme_states_the_statuses_the_revenue_definition_uses():
    orders = section("orders")
    assert all(f"`{s}`" in orders for s in contract.ORDER_STATUSES)
    revenue = README[README.index("## Revenue"):README.index("## Tables\n")]
    assert "contract.REVENUE_STATUSES" in revenue and "contract.SOLD_STATUSES" in revenue
    assert " or ".join(f"`{s}`" for s in contract.REVENUE_STATUSES) in revenue
    assert ", ".join(f"`{s}`" for s in contract.SOLD_STATUSES[:-1]) + f" and `{contract.SOLD_STATUSES[-1]}`" in revenue
    assert all(f"**{basis} revenue**" in revenue for basis in contract.REVENUE_BASES)


def test_revenue_as_the_readme_defines_it():
    """gross: completed + partially refunded as recorded; net: less refunds, never below 0; pending on request."""
    orders = pd.DataFrame({"order_id": ["1", "2", "3", "4", "5"], "revenue": [100.0, 50.0, 80.0, 20.0, 40.0],
                           "status": ["completed", "cancelled", "partially_refunded", "pending", "refunded"]})
    refunds = pd.DataFrame({"order_id": ["3", "3", "1"], "refund_amount": [30.0, 70.0, 10.0]})
    assert contract.order_revenue(orders)["revenue"].tolist() == [100.0, 80.0]
    net = contract.order_revenue(orders, basis="net", returns=refunds)
    assert net["revenue"].tolist() == [90.0, 0.0] and net["gross_revenue"].tolist() == [100.0, 80.0]
    assert contract.order_revenue(orders, pending=True)["order_id"].tolist() == ["1", "3", "4"]


def test_readme_documents_the_device_values_and_the_future_dated_columns():
    assert all(f"`{d}`" in section("events") for d in contract.DEVICES)
    for name, spec in TABLES.items():
        for column in spec.future_ok:
            row = next(line for line in section(name).splitlines() if line.startswith(f"| `{column}`"))
            assert "future" in row or name == "promotions", f"{name}.{column}"
    assert "only `purchase_orders.promised_at` and the promotion dates may lie in the future" in README
