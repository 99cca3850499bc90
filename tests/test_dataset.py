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


# --- tables as folders of Parquet parts; columns and time windows read inside the reader -------------------------

WEEK = """order_id,customer_id,order_time,channel,status,revenue,discount,shipping_fee,currency,note
O1,C1,2026-03-01 10:00:00,organic,completed,100.0,0,0,CNY,a
O2,C2,2026-03-02 23:59:59,paid_search,completed,50.5,5,10,CNY,b
O3,C1,2026-03-03 00:00:00,direct,cancelled,20.0,0,0,CNY,c
O4,C2,2026-03-04 12:00:00,organic,completed,70.0,0,0,CNY,d
O5,C1,2026-03-05 00:00:00,email,completed,30.0,0,0,CNY,e
O6,C2,2026-03-06 08:00:00,organic,completed,10.0,0,0,CNY,f
"""
WEEK_ITEMS = "order_id,sku,quantity,unit_price\n" + "".join(f"O{i},A,1,10\n" for i in range(1, 7))
WEEK_RETURNS = ("return_id,order_id,sku,returned_at,quantity,reason_code,reason_text,refund_amount,resellable\n"
                "R1,O1,A,2026-03-03 12:00:00,1,,,10,True\nR2,O4,A,2026-03-05 12:00:00,1,,,10,False\n"
                "R3,O5,A,2026-03-07 12:00:00,1,,,10,True\n")


def week(folder: Path) -> Path:
    """A two-table store (orders with an extra column, returns) plus what their references need, as CSV."""
    return make(folder, orders=WEEK, order_items=WEEK_ITEMS, returns=WEEK_RETURNS)


def as_parts(folder: Path, table: str, splits: list[int]) -> Path:
    """Rewrite ``table``'s CSV of ``folder`` as a folder of Parquet parts cut before the rows in ``splits``."""
    raw = pd.read_csv(folder / f"{table}.csv", dtype="str", keep_default_na=False, na_values=[""])
    for column in ("order_time", "returned_at"):
        if column in raw:
            raw[column] = pd.to_datetime(raw[column])
    (folder / f"{table}.csv").unlink()
    (folder / table).mkdir()
    bounds = [0, *splits, len(raw)]
    for k, (lo, hi) in enumerate(zip(bounds, bounds[1:])):
        raw.iloc[lo:hi].to_parquet(folder / table / f"part-{k:05d}.parquet", index=False)
    return folder


def test_a_folder_of_parquet_parts_reads_as_one_table(tmp_path):
    from ecomlib.dataset import table_file

    whole = load_dataset(week(tmp_path / "csv"))
    folder = as_parts(as_parts(week(tmp_path / "parts"), "orders", [4]), "returns", [1])
    assert table_file(folder, "orders") == folder / "orders"
    parts = load_dataset(folder)
    assert parts.files["orders"] == str(folder / "orders")
    for name in ("orders", "returns"):
        pd.testing.assert_frame_equal(getattr(parts, name), getattr(whole, name))
    # <table>.parquet wins over the folder, and the folder over <table>.csv
    (folder / "orders.csv").write_text(WEEK, encoding="utf-8")
    assert table_file(folder, "orders") == folder / "orders"
    whole.orders.iloc[:2].to_parquet(folder / "orders.parquet", index=False)
    assert table_file(folder, "orders") == folder / "orders.parquet"


def test_errors_in_a_part_name_the_folder_table_column_and_part(tmp_path):
    folder = as_parts(week(tmp_path / "a"), "orders", [3])
    bad = pd.read_parquet(folder / "orders" / "part-00001.parquet").assign(revenue="-5")
    bad.to_parquet(folder / "orders" / "part-00001.parquet", index=False)
    text = error_for(folder, tables=["orders"])
    assert f"{folder / 'orders'}: table 'orders', column 'revenue'" in text and "3 rows" in text
    (folder / "orders" / "part-00001.parquet").write_bytes(b"not parquet at all")
    text = error_for(folder, tables=["orders"])
    assert f"{folder / 'orders'}: table 'orders'" in text and "not a readable Parquet file (part-00001.parquet" in text
    empty = as_parts(week(tmp_path / "b"), "orders", [])
    for part in (empty / "orders").iterdir():
        part.unlink()
    text = error_for(empty, tables=["orders"])
    assert f"{empty / 'orders'}: table 'orders'" in text and "holds no Parquet part file" in text


@pytest.mark.parametrize("form", ["csv", "parquet"])
def test_columns_read_only_those_asked_plus_the_required_ones(tmp_path, form):
    folder = week(tmp_path)
    if form == "parquet":
        as_parts(folder, "orders", [2])
    required = ["order_id", "customer_id", "order_time", "channel", "status", "revenue", "discount", "shipping_fee",
                "currency"]
    ds = load_dataset(folder, tables=["orders"], columns={"orders": ["order_id"]})
    assert ds.orders.columns.tolist() == required
    ds = load_dataset(folder, tables=["orders", "returns"], columns={"orders": ["note", "no_such_column"]})
    assert ds.orders.columns.tolist() == required + ["note"] and ds.orders["note"].tolist() == list("abcdef")
    assert len(ds.returns) == 3


@pytest.mark.parametrize("form", ["csv", "parquet"])
def test_since_until_keep_exactly_the_rows_of_the_window(tmp_path, form):
    folder = week(tmp_path)
    if form == "parquet":
        as_parts(as_parts(folder, "orders", [2, 4]), "returns", [2])
    ds = load_dataset(folder, tables=["orders", "order_items", "returns"],
                      since={"orders": "2026-03-02 23:59:59", "returns": "2026-03-04"},
                      until={"orders": pd.Timestamp("2026-03-05")})
    # [since, until): the first second counts, the end is left out; order_items has no time column
    assert ds.orders["order_id"].tolist() == ["O2", "O3", "O4"]
    assert ds.returns["return_id"].tolist() == ["R2", "R3"]
    assert len(ds.order_items) == 6  # its orders O1, O5 and O6 were not read: references to them are not checked
    assert ds.orders["order_time"].dt.tz is None


def test_parquet_filters_rows_and_columns_inside_the_read(tmp_path):
    from ecomlib.contract import TABLES
    from ecomlib.dataset import Store, _read_raw

    folder = as_parts(week(tmp_path), "orders", [2, 4])
    raw, in_read = _read_raw(folder / "orders", TABLES["orders"], Store(timezone="Asia/Shanghai"),
                             columns={"order_id", "order_time"}, since=pd.Timestamp("2026-03-04"))
    assert in_read and raw.columns.tolist() == ["order_id", "order_time"]
    assert raw["order_id"].tolist() == ["O4", "O5", "O6"]
    raw, in_read = _read_raw(week(tmp_path / "csv") / "orders.csv", TABLES["orders"], Store(),
                             columns={"order_id"}, since=pd.Timestamp("2026-03-04"))
    assert not in_read and raw.columns.tolist() == ["order_id"] and len(raw) == 6  # CSV: filtered once parsed


def test_a_filtered_read_of_parts_equals_the_filtered_full_read(tmp_path):
    window = {"since": {"orders": "2026-03-02", "returns": "2026-03-03"}, "until": {"orders": "2026-03-06"}}
    whole = load_dataset(week(tmp_path / "csv"), tables=["orders", "returns"], **window)
    parts = load_dataset(as_parts(as_parts(week(tmp_path / "parts"), "orders", [1, 3, 5]), "returns", [1, 2]),
                         tables=["orders", "returns"], **window)
    full = load_dataset(week(tmp_path / "all"), tables=["orders", "returns"])
    expected = full.orders[(full.orders["order_time"] >= "2026-03-02") & (full.orders["order_time"] < "2026-03-06")]
    for ds in (whole, parts):
        pd.testing.assert_frame_equal(ds.orders, expected.reset_index(drop=True))
        pd.testing.assert_frame_equal(ds.returns, full.returns.iloc[[0, 1, 2]].reset_index(drop=True))


def test_a_window_on_utc_times_and_on_dates_is_in_store_time(tmp_path):
    from ecomlib.contract import TABLES

    folder = week(tmp_path)
    utc = pd.read_csv(folder / "orders.csv", dtype="str").assign(
        order_time=pd.to_datetime(["2026-03-01 15:59:59", "2026-03-01 16:00:00", "2026-03-02 02:00:00",
                                   "2026-03-03 00:00:00", "2026-03-04 00:00:00", "2026-03-05 00:00:00"], utc=True))
    utc.to_parquet(folder / "orders.parquet", index=False)
    # 2026-03-01 16:00 UTC is 2026-03-02 00:00 in Asia/Shanghai
    ds = load_dataset(folder, tables=["orders"], since={"orders": "2026-03-02"}, until={"orders": "2026-03-03"})
    assert ds.orders["order_id"].tolist() == ["O2", "O3"]
    assert ds.orders["order_time"].min() == pd.Timestamp("2026-03-02 00:00:00")
    spend = pd.DataFrame({"date": pd.to_datetime(["2026-03-01", "2026-03-02", "2026-03-03"]).date,
                          "channel": "display", "campaign": "c", "impressions": 100, "clicks": 1, "spend": 5.0,
                          "platform_conversions": None, "platform_revenue": None})
    spend.to_parquet(folder / "ad_spend.parquet", index=False)
    from ecomlib.dataset import _read_raw, read_store

    raw, in_read = _read_raw(folder / "orders.parquet", TABLES["orders"], read_store(folder),
                             since=pd.Timestamp("2026-03-02"), until=pd.Timestamp("2026-03-03"))
    assert in_read and raw["order_id"].tolist() == ["O2", "O3"]
    ds = load_dataset(folder, tables=["ad_spend"], since={"ad_spend": "2026-03-01 12:00"},
                      until={"ad_spend": "2026-03-03"})
    assert ds.ad_spend["date"].tolist() == [pd.Timestamp("2026-03-02")]
    raw, in_read = _read_raw(folder / "ad_spend.parquet", TABLES["ad_spend"], read_store(folder),
                             since=pd.Timestamp("2026-03-01 12:00"))
    assert in_read and len(raw) == 2
    # time_range reads the same store-local times from Arrow (UTC-stored timestamps, dates)
    from ecomlib.dataset import time_range
    assert time_range(folder, "orders") == (pd.Timestamp("2026-03-01 23:59:59"), pd.Timestamp("2026-03-05 08:00:00"))
    assert time_range(folder, "ad_spend") == (pd.Timestamp("2026-03-01"), pd.Timestamp("2026-03-03"))


def test_an_empty_window_is_an_empty_table_with_a_warning_and_bad_windows_are_refused(tmp_path):
    from ecomlib.errors import ParameterError

    folder = as_parts(week(tmp_path), "orders", [3])
    ds = load_dataset(folder, tables=["orders"], since={"orders": "2027-01-01"})
    assert ds.orders.empty and ds.orders["order_time"].dtype.kind == "M"
    assert [w.table for w in ds.warnings] == ["orders"] and "no rows from 2027-01-01" in ds.warnings[0].rule
    with pytest.raises(ParameterError, match="a table of since must be one of 'orders'.*not 'products'"):
        load_dataset(folder, since={"products": "2026-03-01"})
    with pytest.raises(ParameterError, match=r"until\['orders'\] must be a date or time, not 'soon'"):
        load_dataset(folder, until={"orders": "soon"})
    with pytest.raises(ParameterError, match="a table of columns must be one of"):
        load_dataset(folder, columns={"order": ["order_id"]})


def test_time_range_reads_only_the_time_column(tmp_path):
    from ecomlib.dataset import time_range

    # revenue holds text that would fail validation: time_range never reads it
    folder = week(tmp_path / "csv")
    (folder / "orders.csv").write_text(WEEK.replace(",100.0,", ",abc,"), encoding="utf-8")
    assert time_range(folder, "orders") == (pd.Timestamp("2026-03-01 10:00:00"), pd.Timestamp("2026-03-06 08:00:00"))
    parts = as_parts(week(tmp_path / "parts"), "returns", [1])
    assert time_range(parts, "returns") == (pd.Timestamp("2026-03-03 12:00:00"), pd.Timestamp("2026-03-07 12:00:00"))
    # Parquet holding the times as text goes through the loader's parser
    pd.read_csv(folder / "orders.csv", dtype="str").to_parquet(parts / "orders.parquet", index=False)
    assert time_range(parts, "orders") == (pd.Timestamp("2026-03-01 10:00:00"), pd.Timestamp("2026-03-06 08:00:00"))
    with pytest.raises(ContractError, match="table 'orders', column 'order_time'.*ISO 8601"):
        (folder / "orders.csv").write_text(WEEK.replace("2026-03-04 12:00:00", "4 March"), encoding="utf-8")
        time_range(folder, "orders")
