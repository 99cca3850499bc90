"""Malformed-input corpus: every bad input either loads with a counted warning or raises the kit's own error naming
file, table, column, rows and fix — never a traceback, never a silently different number.

``tests/corpus/base/`` is a small valid store; ``tests/corpus/cases/<case>/`` holds the files that replace the
base's (a ``.parquet`` replaces the ``.csv`` of the same table). Cases that cannot live in git (an empty folder,
symbolic-link loops, a large file) are generated below. The time of the run is pinned (``NOW``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from ecomlib.contract import TABLES
from ecomlib.dataset import load_dataset, unmatched_keys
from ecomlib.errors import ContractError, FileEncodingError, MissingTableError

CORPUS = Path(__file__).parent / "corpus"
NOW = pd.Timestamp("2026-11-30 12:00")


def build(tmp_path: Path, case: str) -> Path:
    """The base store with the case's files swapped in."""
    folder = tmp_path / case
    shutil.copytree(CORPUS / "base", folder)
    for file in (CORPUS / "cases" / case).iterdir():
        if file.name.startswith("."):
            continue
        for suffix in (".csv", ".parquet"):
            (folder / f"{Path(file.name).stem}{suffix}").unlink(missing_ok=True)
        shutil.copy(file, folder / file.name)
    return folder


def err(file: str, table: str, column: str | None, rows: int, *words: str) -> dict:
    return {"kind": "error", "file": file, "violations": [(table, column, rows)], "words": words}


#: case → the exact outcome: one violation (table, column, rows) with the words its message must hold.
ERRORS = {
    "dup_header_revenue": err("orders.csv", "orders", "revenue", 0, "duplicated header: 'revenue' at columns 6, 10",
                              "rename the extra column"),
    "dup_header_sku": err("order_items.csv", "order_items", "sku", 0, "'sku' at columns 2, 5"),
    "inf_revenue": err("orders.csv", "orders", "revenue", 1, "a finite number", "row 2 (order_id=O2): 'inf'"),
    "minus_inf_spend": err("ad_spend.csv", "ad_spend", "spend", 1, "a finite number",
                           "row 2 (date=2026-03-02 00:00:00, channel=paid_search, campaign=brand): '-inf'"),
    "nan_in_optional_discount": err("orders.csv", "orders", "discount", 1, "row 2 (order_id=O2): 'NaN'",
                                    "leave the cell empty where it is unknown"),
    "nan_unit_price": err("order_items.csv", "order_items", "unit_price", 1, "row 3 (order_id=O3, sku=C): 'nan'"),
    "infinity_qty_received": err("purchase_orders.csv", "purchase_orders", "qty_received", 1,
                                 "row 3 (po_id=PO2, sku=C): 'Infinity'"),
    "fractional_quantity": err("order_items.csv", "order_items", "quantity", 1, "whole units",
                               "neither rounded nor truncated", "row 5 (order_id=O4, sku=B): '1.5'"),
    "fractional_qty_received": err("purchase_orders.csv", "purchase_orders", "qty_received", 1, "whole units",
                                   "row 2 (po_id=PO1, sku=B): '44.5'"),
    "fractional_on_hand": err("inventory.csv", "inventory", "on_hand", 1, "whole units", "'12.5'"),
    "empty_quantity": err("order_items.csv", "order_items", "quantity", 1, "a value in every row",
                          "row 3 (order_id=O3, sku=C)", "fill the missing values"),
    "thousands_separator": err("orders.csv", "orders", "revenue", 1, "values of type float64",
                               "row 1 (order_id=O1): '1,100.00'", "thousands separators"),
    "currency_symbol": err("orders.csv", "orders", "revenue", 1, "row 4 (order_id=O4): '¥80.00'"),
    "negative_refund": err("returns.csv", "returns", "refund_amount", 1, "≥ 0", "row 1 (return_id=R1): -50"),
    "null_word_in_clicks": err("ad_spend.csv", "ad_spend", "clicks", 1, "values of type int64", "'NULL'"),
    "typo_year_2030": err("orders.csv", "orders", "order_time", 1, "not after the time of the run (2026-11-30 12:00",
                          "row 4 (order_id=O4): 2030-06-10 18:30:00"),
    "typo_year_2300_returns": err("returns.csv", "returns", "returned_at", 1, "not after the time of the run",
                                  "row 2 (return_id=R2): 2300-06-15"),
    "typo_year_0001": err("orders.csv", "orders", "order_time", 1, "within the range of the rest of the column",
                          "more than 1096 days from every other value", "row 3 (order_id=O3): 0001-03-03 09:00:00"),
    "typo_year_2016": err("orders.csv", "orders", "order_time", 1, "within the range of the rest of the column",
                          "row 1 (order_id=O1): 2016-03-01 10:00:00", "drop the rows"),
    "future_ad_spend_day": err("ad_spend.csv", "ad_spend", "date", 1, "not after the time of the run",
                               "2026-12-25"),
    "promised_far_future_2300": err("purchase_orders.csv", "purchase_orders", "promised_at", 1,
                                    "within the range of the rest of the column", "row 4 (po_id=PO3, sku=C)"),
    "day_first_date": err("orders.csv", "orders", "order_time", 1, "ISO 8601", "row 3 (order_id=O3): '03/03/2026 09:00'",
                          "importer"),
    "received_before_ordered": err("purchase_orders.csv", "purchase_orders", "ordered_at", 1,
                                   "received_at on or after ordered_at", "row 3 (po_id=PO2, sku=C)"),
    "promotion_ends_before_start": err("promotions.csv", "promotions", "start_date", 1, "start_date on or before",
                                       "row 2 (promo_id=P2)"),
    "empty_resellable": err("returns.csv", "returns", "resellable", 1, "an empty cell is not read as false",
                            "row 2 (return_id=R2)"),
    "maybe_resellable": err("returns.csv", "returns", "resellable", 1, "true or false", "'maybe'"),
    "returns_exceed_sold": err("returns.csv", "returns", "quantity", 1, "≤ units sold on that order line",
                               "row 1 (return_id=R1): order O1, sku A: 3 returned, 2 sold"),
    "return_of_unsold_line": err("returns.csv", "returns", "quantity", 1, "order O2, sku A: 1 returned, 0 sold"),
    "dangling_sku": err("order_items.csv", "order_items", "sku", 1, "present in products.sku",
                        "row 3 (order_id=O3): 'Z'"),
    "duplicate_order_id": err("orders.csv", "orders", "order_id", 2, "unique (order_id)", "row 2", "row 3"),
    "clicks_above_impressions": err("ad_spend.csv", "ad_spend", "clicks", 1, "clicks ≤ impressions", "swapped"),
    "rejected_above_received": err("purchase_orders.csv", "purchase_orders", "qty_rejected", 1,
                                   "qty_rejected ≤ qty_received"),
    "wrong_currency": err("orders.csv", "orders", "currency", 1, "store currency CNY", "row 3 (order_id=O3): 'USD'"),
    "bad_budget_period": err("budgets.csv", "budgets", "period", 1, "YYYY-MM", "row 2 (channel=display): '2026-13'"),
    "duplicate_budget": err("budgets.csv", "budgets", "channel, period", 2, "unique (channel, period)"),
    "zero_byte_orders": err("orders.csv", "orders", None, 0, "the file is empty (0 bytes",
                            "order_id,customer_id,order_time"),
    "ragged_row": err("suppliers.csv", "suppliers", None, 0, "not a readable CSV file",
                      "Expected 3 fields in line 3, saw 4"),
    "missing_column": err("products.csv", "products", "category", 0, "required but missing"),
    "corrupt_parquet": err("orders.parquet", "orders", None, 0, "not a readable Parquet file", "save it as orders.csv"),
    "csv_named_parquet": err("products.parquet", "products", None, 0, "not a readable Parquet file"),
    "store_not_yaml": err("store.yaml", "store", None, 0, "not valid YAML at line 2"),
    "store_a_list": err("store.yaml", "store", None, 0, "must be a mapping of keys to values, not a list"),
    "store_a_sentence": err("store.yaml", "store", None, 0, "must be a mapping of keys to values, not a str"),
    "store_unknown_timezone": err("store.yaml", "store", "timezone", 0, "unknown time zone 'Asia/Beijing'",
                                  "Asia/Shanghai"),
    "store_unknown_encoding": err("store.yaml", "store", "encoding", 0, "unknown encoding 'gbk2'", "gb18030"),
    "store_unknown_key": err("store.yaml", "store", None, 0, "unknown keys ['colour']"),
    "store_currency_not_iso": err("store.yaml", "store", "currency", 0, "'yuan' is not a 3-letter ISO 4217 code"),
    "store_not_utf8": err("store.yaml", "store", None, 0, "not valid UTF-8", "save store.yaml as UTF-8"),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_bad_input_is_one_error_naming_file_table_column_rows_and_fix(tmp_path, case):
    expected = ERRORS[case]
    folder = build(tmp_path, case)
    with pytest.raises(ContractError) as info:
        load_dataset(folder, now=NOW)
    assert [(v.table, v.column, v.n_rows) for v in info.value.violations] == expected["violations"]
    text = str(info.value)
    table, column, rows = expected["violations"][0]
    assert str(folder / expected["file"]) in text and f"table '{table}'" in text and ". Fix: " in text
    if column:
        assert f"column '{column}'" in text
    if rows:
        assert f"{rows} row{'s' if rows > 1 else ''} break" in text and "(first: row " in text
    for words in expected["words"]:
        assert words in text, words


def test_every_corpus_case_has_its_expected_outcome():
    cases = {p.name for p in (CORPUS / "cases").iterdir()}
    assert cases == set(ERRORS) | set(LOADS) | {"gbk_undeclared", "header_only_missing_column", "header_only_orders"}
    assert len(cases) + len(GENERATED) >= 40


def _loaded(tmp_path, case):
    return load_dataset(build(tmp_path, case), now=NOW)


def _order_times(ds):
    return dict(zip(ds.orders["order_id"], ds.orders["order_time"]))


#: case → a check of what loads (inputs that are odd but valid, or legitimate with a counted warning).
LOADS = {
    "over_delivered_po": lambda ds: (
        [(w.table, w.column, w.n_rows) for w in ds.warnings] == [("purchase_orders", "qty_received", 1)]
        and "40 units more than ordered; loaded as delivered" in ds.warnings[0].describe()
        and ds.purchase_orders["qty_received"].max() == 240),
    "header_only_returns": lambda ds: (
        ds.returns.empty and ds.returns["quantity"].dtype == "int64" and ds.returns["resellable"].dtype == bool
        and [(w.table, w.n_rows) for w in ds.warnings] == [("returns", 0)] and "no rows" in ds.warnings[0].rule),
    "offset_plus08": lambda ds: _order_times(ds)["O2"] == pd.Timestamp("2026-03-02 14:05:11"),
    "offset_compact_and_z": lambda ds: (_order_times(ds)["O2"] == pd.Timestamp("2026-03-02 14:05:11")
                                        and _order_times(ds)["O3"] == pd.Timestamp("2026-03-03 09:00:00")),
    "promised_next_month_ok": lambda ds: ds.purchase_orders["promised_at"].max() == pd.Timestamp("2027-01-10")
                                         and ds.warnings == [],
    "chinese_yes_resellable_ok": lambda ds: ds.returns["resellable"].tolist() == [True, False],
    "old_signup_two_years_before_ok": lambda ds: ds.customers["first_seen"].min() == pd.Timestamp("2024-02-01 10:00")
                                                 and ds.warnings == [],
    "na_region_is_text": lambda ds: ds.customers["region"].tolist()[1] == "NA" and ds.warnings == [],
    "unmatched_ad_channel": lambda ds: (
        unmatched_keys(ds).query("table == 'ad_spend' and other_table == 'orders'")
        [["value", "rows", "measure", "amount", "near"]].values.tolist() == [["Display ", 1, "spend", 100.0, "display"]]),
}


@pytest.mark.parametrize("case", sorted(LOADS))
def test_odd_but_valid_input_loads_with_its_counted_warnings(tmp_path, case):
    assert LOADS[case](_loaded(tmp_path, case))


def test_base_store_is_valid_without_warnings(tmp_path):
    ds = load_dataset(CORPUS / "base", now=NOW)
    assert ds.warnings == [] and set(ds.tables()) == set(TABLES)


def test_undeclared_gbk_file_names_the_encoding_to_declare(tmp_path):
    with pytest.raises(FileEncodingError, match=r"products\.csv: not valid utf-8.*encoding: gb18030"):
        _loaded(tmp_path, "gbk_undeclared")


def test_header_only_file_missing_columns_names_each(tmp_path):
    with pytest.raises(ContractError) as info:
        _loaded(tmp_path, "header_only_missing_column")
    assert [(v.table, v.column) for v in info.value.violations] == [("returns", "reason_code"),
                                                                   ("returns", "reason_text")]


def test_header_only_required_table_is_a_missing_table_and_optional_one_is_none(tmp_path):
    folder = build(tmp_path, "header_only_orders")
    with pytest.raises(MissingTableError, match=r"orders\.csv: table 'orders' has a header but no rows \(needed by "
                                                r"cohort_ltv\)"):
        load_dataset(folder, tables=["orders"], needed_by="cohort_ltv", now=NOW)
    # loaded with every table, the empty orders leave lines, returns, parcels, tickets and reviews pointing at nothing
    with pytest.raises(ContractError) as info:
        load_dataset(folder, now=NOW)
    assert [(v.table, v.column, v.n_rows) for v in info.value.violations] == [
        ("order_items", "order_id", 6), ("returns", "order_id", 2), ("shipments", "order_id", 2),
        ("tickets", "order_id", 2), ("product_reviews", "order_id", 1)]


# --- generated cases: what git cannot hold, or would be large ------------------------------------------------

def _empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    return tmp_path / "empty", "no contract table in the folder (it is empty)"


def _misnamed_files(tmp_path):
    folder = tmp_path / "misnamed"
    folder.mkdir()
    shutil.copy(CORPUS / "base" / "orders.csv", folder / "Orders.CSV")
    return folder, "no contract table in the folder (it holds: Orders.CSV)"


def _table_symlink_loop(tmp_path):
    folder = build(tmp_path, "na_region_is_text")
    (folder / "orders.csv").unlink()
    (folder / "orders.csv").symlink_to(folder / "orders.csv")
    return folder, "orders.csv is a symbolic link that loops back on itself"


def _folder_symlink_loop(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    return tmp_path / "a", "a is a symbolic link that loops back on itself"


def _dangling_symlink(tmp_path):
    folder = build(tmp_path, "na_region_is_text")
    (folder / "products.csv").unlink()
    (folder / "products.csv").symlink_to(tmp_path / "gone.csv")
    return folder, "products.csv is a symbolic link to a file that does not exist"


def _a_file_not_a_folder(tmp_path):
    return CORPUS / "base" / "orders.csv", "is a file, not a folder"


GENERATED = {"empty_folder": _empty_folder, "misnamed_files": _misnamed_files,
             "table_symlink_loop": _table_symlink_loop, "folder_symlink_loop": _folder_symlink_loop,
             "dangling_symlink": _dangling_symlink, "a_file_not_a_folder": _a_file_not_a_folder}


@pytest.mark.parametrize("case", sorted(GENERATED))
def test_folder_faults_are_errors_never_valid(tmp_path, case):
    folder, words = GENERATED[case](tmp_path)
    with pytest.raises(ContractError) as info:
        load_dataset(folder, now=NOW)
    text = str(info.value)
    assert words in text and ". Fix: " in text and str(folder.parent) in text


def _parquet_table(tmp_path, table: str, change) -> Path:
    folder = build(tmp_path, "na_region_is_text")
    df = pd.read_csv(folder / f"{table}.csv", dtype=str, keep_default_na=False)
    (folder / f"{table}.csv").unlink()
    change(df).to_parquet(folder / f"{table}.parquet")
    return folder


def test_parquet_values_follow_the_same_rules(tmp_path):
    """Parquet carries its own types, so inf and missing true/false arrive as values, not text: same errors."""
    def inf_and_null(df):
        return df.assign(refund_amount=[float("inf"), 30.0], quantity=[1, 1], resellable=[True, None])
    with pytest.raises(ContractError) as info:
        load_dataset(_parquet_table(tmp_path, "returns", inf_and_null), now=NOW)
    assert [(v.table, v.column, v.n_rows) for v in info.value.violations] == [("returns", "refund_amount", 1),
                                                                            ("returns", "resellable", 1)]
    assert "returns.parquet" in str(info.value) and "row 1 (return_id=R1): inf" in str(info.value)


def test_parquet_with_a_duplicated_column_name(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    folder = build(tmp_path, "na_region_is_text")
    (folder / "suppliers.csv").unlink()
    pq.write_table(pa.table([["S1", "S2"], ["a", "b"], ["CN", "VN"], ["x", "y"]],
                            names=["supplier_id", "supplier_name", "country", "country"]), folder / "suppliers.parquet")
    with pytest.raises(ContractError, match=r"suppliers\.parquet: table 'suppliers', column 'country': each column "
                                            r"name once \(duplicated header: 'country' at columns 3, 4\)"):
        load_dataset(folder, now=NOW)


def test_a_folder_that_does_not_exist_says_so(tmp_path):
    with pytest.raises(MissingTableError, match=r"nowhere: no such folder\. Fix: pass the folder that holds"):
        load_dataset(tmp_path / "nowhere", now=NOW)


def test_an_unknown_table_name_is_the_kits_error_listing_the_names(tmp_path):
    with pytest.raises(ContractError, match=r"unknown table name\(s\) \['order'\].*Fix: use table names of the "
                                            r"contract: orders, order_items"):
        load_dataset(CORPUS / "base", tables=["order"], now=NOW)


def test_large_table_reports_the_one_bad_row_among_many(tmp_path):
    """200,000 order lines with one ``inf`` price and one fractional quantity deep inside (generated, not stored)."""
    folder = build(tmp_path, "na_region_is_text")
    n = 200_000
    items = pd.DataFrame({"order_id": "O1", "sku": [f"A{i}" for i in range(n)], "quantity": "1", "unit_price": "2.5"})
    items.loc[123_456, "unit_price"] = "inf"
    items.loc[199_999, "quantity"] = "2.25"
    items.to_csv(folder / "order_items.csv", index=False)
    with pytest.raises(ContractError) as info:
        load_dataset(folder, tables=["order_items"], now=NOW)
    assert [(v.column, v.n_rows, v.examples) for v in info.value.violations] == [
        ("quantity", 1, ["row 200000 (order_id=O1, sku=A199999): '2.25'"]),
        ("unit_price", 1, ["row 123457 (order_id=O1, sku=A123456): 'inf'"])]
