"""The data contract as users meet it: every violation kind gives one error naming file, table, column, rows and fix."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ecomlib import ContractError, FileEncodingError, MissingTableError, load_dataset

ORDERS = """order_id,customer_id,order_time,channel,status,revenue,discount,shipping_fee,currency
O1,C1,2026-03-01 10:00:00,organic,completed,100.0,0,0,CNY
O2,C2,2026-03-01T14:05:11+00:00,paid_search,completed,50.5,5,10,CNY
O3,,2026-03-02 09:00:00,direct,cancelled,20.0,0,0,CNY
"""
PRODUCTS = "sku,product_name,category,supplier_id,unit_cost\nA,纯棉T恤,服装,S1,30\nB,Mug,Home,S1,5\n"
SUPPLIERS = "supplier_id,supplier_name,country\nS1,杭州织造,CN\n"
ITEMS = "order_id,sku,quantity,unit_price\nO1,A,2,50\nO2,B,1,50.5\n"
RETURNS = ("return_id,order_id,sku,returned_at,quantity,reason_code,reason_text,refund_amount,resellable\n"
           "R1,O1,A,2026-03-05 12:00:00,1,,尺码偏小,50,True\n")


def make(folder: Path, **tables: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "store.yaml").write_text("name: Test 店\ncurrency: CNY\ntimezone: Asia/Shanghai\n", encoding="utf-8")
    base = {"orders": ORDERS, "products": PRODUCTS, "suppliers": SUPPLIERS, "order_items": ITEMS, "returns": RETURNS}
    for name, text in {**base, **tables}.items():
        if text is not None:
            (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    return folder


def error_for(folder: Path, **kwargs) -> str:
    with pytest.raises(ContractError) as info:
        load_dataset(folder, **kwargs)
    return str(info.value)


def test_valid_folder_loads_typed_tables_and_keeps_extra_columns(tmp_path):
    folder = make(tmp_path, order_items=ITEMS.replace("unit_price\n", "unit_price,note\n")
                  .replace("50\n", "50,gift\n", 1).replace("50.5\n", "50.5,\n"))
    ds = load_dataset(folder)
    assert set(ds.tables()) == {"orders", "products", "suppliers", "order_items", "returns"}
    assert ds.order_items["note"].tolist()[0] == "gift"
    assert ds.orders["revenue"].sum() == pytest.approx(170.5)
    assert pd.isna(ds.orders.loc[2, "customer_id"])
    assert ds.returns["resellable"].dtype == bool
    assert ds.products["product_name"][0] == "纯棉T恤"


def test_offsets_are_converted_to_the_store_timezone_and_naive_times_kept(tmp_path):
    ds = load_dataset(make(tmp_path), tables=["orders"])
    # 14:05:11 UTC is 22:05:11 in Asia/Shanghai (UTC+8); naive 10:00 stays store-local 10:00.
    assert ds.orders["order_time"].tolist()[:2] == [pd.Timestamp("2026-03-01 10:00:00"),
                                                   pd.Timestamp("2026-03-01 22:05:11")]
    assert ds.orders["order_time"].dt.tz is None


def test_missing_column_names_file_table_column_and_fix(tmp_path):
    text = error_for(make(tmp_path, products="sku,product_name,supplier_id,unit_cost\nA,x,S1,1\nB,y,S1,2\n"))
    assert "products.csv" in text and "table 'products'" in text and "column 'category'" in text
    assert "required but missing" in text and "Fix: add a 'category' column" in text


def test_unparseable_date_lists_rows_and_values(tmp_path):
    bad = ORDERS.replace("2026-03-02 09:00:00", "03/02/2026 9am")
    with pytest.raises(ContractError) as info:
        load_dataset(make(tmp_path, orders=bad), tables=["orders"])
    text = str(info.value)
    assert len(info.value.violations) == 1  # not reported again as a missing value
    assert "column 'order_time'" in text and "1 row breaks the rule" in text
    assert "row 3 (order_id=O3): '03/02/2026 9am'" in text and "ISO 8601" in text and "importer" in text


def test_negative_quantity_is_reported_with_its_row(tmp_path):
    text = error_for(make(tmp_path, order_items="order_id,sku,quantity,unit_price\nO1,A,2,50\nO2,B,-1,50.5\n"))
    assert "order_items.csv" in text and "column 'quantity'" in text and "> 0" in text
    assert "row 2 (order_id=O2, sku=B): -1" in text and "Fix:" in text


def test_duplicate_key_counts_both_rows(tmp_path):
    dup = ORDERS + "O1,C1,2026-03-03 10:00:00,organic,completed,10.0,0,0,CNY\n"
    text = error_for(make(tmp_path, orders=dup), tables=["orders"])
    assert "unique (order_id) per row" in text and "2 rows" in text and "row 1" in text and "row 4" in text


def test_dangling_reference_names_the_unknown_order(tmp_path):
    bad = RETURNS + "R2,O999,A,2026-03-06 12:00:00,1,DEFECTIVE,,50,False\n"
    text = error_for(make(tmp_path, returns=bad))
    assert "returns.csv" in text and "column 'order_id'" in text
    assert "present in orders" in text and "row 2 (return_id=R2): 'O999'" in text


def test_header_only_table_is_none_when_optional_and_an_error_when_required(tmp_path):
    folder = make(tmp_path, returns=RETURNS.splitlines()[0] + "\n")
    ds = load_dataset(folder, tables=["orders", "order_items", "products"], optional=["returns"])
    assert ds.returns.empty and ds.returns["quantity"].dtype == "int64" and ds.returns["resellable"].dtype == bool
    assert ds.returns["returned_at"].dtype.kind == "M"
    assert [(w.table, "no rows" in w.rule) for w in ds.warnings] == [("returns", True)]
    with pytest.raises(MissingTableError, match=r"returns\.csv: table 'returns' has a header but no rows "
                                                r"\(needed by returns\)"):
        load_dataset(folder, tables=["returns"], needed_by="returns")


def test_all_violations_are_collected_in_one_error(tmp_path):
    bad_items = "order_id,sku,quantity,unit_price\nO1,A,0,50\nO2,B,1,-3\n"
    with pytest.raises(ContractError) as info:
        load_dataset(make(tmp_path, order_items=bad_items))
    assert {(v.table, v.column) for v in info.value.violations} == {("order_items", "quantity"),
                                                                   ("order_items", "unit_price")}
    assert "2 places" in str(info.value)


def test_utf8_bom_is_read(tmp_path):
    folder = make(tmp_path)
    (folder / "products.csv").write_bytes(b"\xef\xbb\xbf" + PRODUCTS.encode("utf-8"))
    assert load_dataset(folder).products["sku"].tolist() == ["A", "B"]


def test_gbk_file_gets_an_exact_instruction_and_reads_once_declared(tmp_path):
    folder = make(tmp_path)
    (folder / "products.csv").write_bytes(PRODUCTS.encode("gbk"))
    with pytest.raises(FileEncodingError) as info:
        load_dataset(folder)
    text = str(info.value)
    assert "products.csv" in text and "not valid utf-8" in text and "encoding: gb18030" in text
    (folder / "store.yaml").write_text("name: t\ncurrency: CNY\nencoding: gb18030\n", encoding="utf-8")
    # every file is then read as GB18030; the ASCII-only files decode the same either way
    assert load_dataset(folder).products["product_name"][0] == "纯棉T恤"


def test_wrong_currency_is_reported(tmp_path):
    text = error_for(make(tmp_path, orders=ORDERS.replace(",CNY\nO3", ",USD\nO3")), tables=["orders"])
    assert "store currency CNY" in text and "row 2 (order_id=O2): 'USD'" in text


def test_text_in_a_number_column(tmp_path):
    text = error_for(make(tmp_path, orders=ORDERS.replace("50.5,5", "50.5 USD,5")), tables=["orders"])
    assert "column 'revenue'" in text and "values of type float64" in text and "50.5 USD" in text


def test_missing_table_asked_for(tmp_path):
    with pytest.raises(MissingTableError, match=r"no table 'events'.*events\.csv or events\.parquet"):
        load_dataset(make(tmp_path), tables=["events"])


def test_parquet_is_accepted(tmp_path):
    folder = make(tmp_path)
    orders = load_dataset(folder, tables=["orders"]).orders
    (folder / "orders.csv").unlink()
    orders.to_parquet(folder / "orders.parquet")
    assert load_dataset(folder, tables=["orders"]).orders["order_id"].tolist() == ["O1", "O2", "O3"]


def test_true_false_is_read_strictly_and_odd_values_are_not_taken_as_true(tmp_path):
    folder = make(tmp_path, returns=RETURNS.replace(",True\n", ",yes\n"))
    assert load_dataset(folder).returns["resellable"].tolist() == [True]
    text = error_for(make(tmp_path / "b", returns=RETURNS.replace(",True\n", ",maybe\n")))
    assert "column 'resellable'" in text and "true or false" in text and "row 1 (return_id=R1): 'maybe'" in text


def test_long_numeric_ids_in_extra_columns_stay_exact(tmp_path):
    orders = ORDERS.replace("currency\n", "currency,payment_id\n").replace(",CNY\n", ",CNY,2026030112345678901\n")
    ds = load_dataset(make(tmp_path, orders=orders), tables=["orders"])
    assert ds.orders["payment_id"].tolist() == ["2026030112345678901"] * 3
    extra = ORDERS.replace("currency\n", "currency,weight_kg,code\n").replace(",CNY\n", ",CNY,1.5,007\n")
    ds = load_dataset(make(tmp_path / "b", orders=extra), tables=["orders"])
    assert ds.orders["weight_kg"].sum() == 4.5 and ds.orders["code"].tolist() == ["007"] * 3
