"""Importers: hand-written fixtures in the documented export shapes (tests/fixtures/importers, values invented),
every quirk and error message, and end-to-end imports of ../shared/reference reproducing the facts that each
PROVENANCE.md computed independently from the raw files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecomlib import ContractError, EcomlibError, load_dataset
from ecomlib.importers import (IMPORTERS, AmbiguousDateError, ExportFormatError, ImportOptionError, MappingFileError,
                               UnknownValueError, example_mapping, import_export, import_mapped, import_olist,
                               import_shopify, import_uci_online_retail, importer_options, load_mapping,
                               parse_option)

FIX = Path(__file__).parent / "fixtures" / "importers"
SHOPIFY = FIX / "shopify_orders_export.csv"
UCI_ISO = FIX / "uci_online_retail_iso.csv"
UCI_DAYFIRST = FIX / "uci_online_retail_ii_dayfirst.csv"
UCI_AMBIGUOUS = FIX / "uci_online_retail_ii_ambiguous_cr.csv"
UCI_MONTHFIRST = FIX / "uci_online_retail_monthfirst.csv"
OLIST = FIX / "olist"
TAOBAO = FIX / "taobao_orders_gbk.csv"


def by_id(df: pd.DataFrame, key: str = "order_id") -> pd.DataFrame:
    return df.set_index(key)


def shopify_text() -> str:
    return SHOPIFY.read_text(encoding="utf-8")


# --------------------------------------------------------------------------------------------------- registry
def test_registry_and_options():
    assert {"shopify", "uci_online_retail", "olist", "mapping", "google_ads", "meta_ads"} <= set(IMPORTERS)
    uci_options = set(importer_options("uci_online_retail"))
    assert {"date_format", "cost_ratio", "costs", "channel", "shipping_codes"} <= uci_options
    assert "mapping" in importer_options("mapping")
    assert parse_option("cost_ratio=0.45") == ("cost_ratio", 0.45)
    assert parse_option("date_format=dayfirst") == ("date_format", "dayfirst")
    assert parse_option("shipping_codes=[]") == ("shipping_codes", [])
    assert parse_option("status_map={chargeback: refunded}") == ("status_map", {"chargeback": "refunded"})
    assert parse_option("date_format=%d/%m/%Y") == ("date_format", "%d/%m/%Y")    # not YAML: kept as text
    with pytest.raises(ImportOptionError, match="expected NAME=VALUE"):
        parse_option("cost_ratio")


def test_unknown_kind_and_option_list_the_valid_ones(tmp_path):
    with pytest.raises(ImportOptionError) as info:
        import_export("woocommerce", SHOPIFY, tmp_path / "out")
    assert "unknown import kind 'woocommerce'" in str(info.value) and "shopify, uci_online_retail" in str(info.value)
    with pytest.raises(ImportOptionError) as info:
        import_export("shopify", SHOPIFY, tmp_path / "out", cost_ration=0.5)
    assert "no option 'cost_ration'" in str(info.value) and "cost_ratio" in str(info.value)
    with pytest.raises(ImportOptionError, match="needs the option 'mapping'"):
        import_export("mapping", TAOBAO, tmp_path / "out")
    assert issubclass(ImportOptionError, EcomlibError) and issubclass(AmbiguousDateError, ExportFormatError)


def test_existing_dataset_is_not_overwritten_unless_asked_and_stale_tables_go(tmp_path):
    out = tmp_path / "shop"
    first = import_export("shopify", SHOPIFY, out, cost_ratio=0.5)
    assert "products" in first and (out / "products.csv").exists()
    with pytest.raises(ImportOptionError) as info:
        import_export("shopify", SHOPIFY, out)
    assert str(out) in str(info.value) and "overwrite=True" in str(info.value) and "--overwrite" in str(info.value)
    again = import_export("shopify", SHOPIFY, out, overwrite=True)   # no costs this time → no products
    assert "products" not in again and not (out / "products.csv").exists()
    assert any("products.csv not written" in n and "cost_ratio=" in n for n in again.notes)


# --------------------------------------------------------------------------------------------------- shopify
@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    out = tmp_path_factory.mktemp("shopify") / "shop"
    result = import_export("shopify", SHOPIFY, out, cost_ratio=0.5)
    return result, load_dataset(out)


def test_shopify_orders_status_channel_and_money(shop):
    result, ds = shop
    o = by_id(ds.orders)
    assert list(o.index) == [f"#100{i}" for i in range(1, 9)]
    # Financial status → status; Cancelled at wins over paid (#1006); voided → cancelled; authorized → pending.
    assert o["status"].astype(str).tolist() == ["completed", "completed", "partially_refunded", "refunded",
                                                "cancelled", "cancelled", "pending", "pending"]
    # Tag channel:paid_social wins over Source web; web/pos/draft/iphone mapped; app id 580111 → other.
    assert o["channel"].astype(str).tolist() == ["online_store", "pos", "paid_social", "draft_order", "other",
                                                 "online_store", "mobile_app", "online_store"]
    # revenue = Subtotal: #1001 2×99 + 45 + 49 = 292; #1008 is tax-inclusive: Total 113 = Subtotal 113 + Shipping 0
    # with Taxes 13 > 0, so revenue = 113 − 13 = 100.
    assert o["revenue"].tolist() == [292.0, 120.0, 89.0, 59.0, 45.0, 99.0, 45.0, 100.0]
    assert o.loc["#1002", "discount"] == 15.0 and o.loc["#1003", "discount"] == 10.0
    assert o.loc["#1001", "shipping_fee"] == 10.0 and o.loc["#1005", "shipping_fee"] == 10.0
    assert (o["currency"] == "CNY").all() and ds.store.currency == "CNY"
    assert o.loc["#1003", "refunded_amount"] == 30.0 and o.loc["#1001", "source_rows"] == 3
    # Single offset +0800 → fixed zone; times unchanged in store-local time.
    assert ds.store.timezone == "Etc/GMT-8"
    assert o.loc["#1001", "order_time"] == pd.Timestamp("2026-03-01 14:05:11")
    assert any("Etc/GMT-8" in n for n in result.notes)


def test_shopify_customers_by_email_guest_empty(shop):
    _, ds = shop
    o = by_id(ds.orders)
    # POS order without Email → guest; Alice@Example.com and alice@example.com are one customer.
    assert pd.isna(o.loc["#1002", "customer_id"])
    assert o.loc["#1001", "customer_id"] == o.loc["#1004", "customer_id"] == "alice@example.com"
    c = by_id(ds.customers, "customer_id")
    assert sorted(c.index) == ["alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com",
                               "erin@example.com"]
    assert c.loc["bob@example.com", "acquisition_channel"] == "paid_social"
    assert c.loc["bob@example.com", "region"] == "HK"          # Shipping Country empty → Billing Country
    # carol's only order is voided → first_seen falls back to it.
    assert c.loc["carol@example.com", "first_seen"] == pd.Timestamp("2026-03-06 12:00:00")


def test_shopify_items_products_and_cost_ratio(shop):
    result, ds = shop
    items = ds.order_items.set_index(["order_id", "sku"])
    # #1001 has TS-RED-M twice (2 × 99 and 1 × 49): merged to quantity 3, unit price 247 / 3.
    assert items.loc[("#1001", "TS-RED-M"), "quantity"] == 3
    assert items.loc[("#1001", "TS-RED-M"), "unit_price"] == pytest.approx(247 / 3, abs=1e-6)
    # #1002: 3 × 45 with a line discount of 15 → (135 − 15) / 3 = 40.
    assert items.loc[("#1002", "MUG-01"), "unit_price"] == 40.0
    # custom item without sku → its name is the sku.
    assert ("#1004", "定制刺绣 Custom embroidery") in items.index
    p = by_id(ds.products, "sku")
    assert p.loc["TS-RED-M", "category"] == "杭州织造" and p.loc["SC-GRY", "category"] == "unknown"
    assert p.loc["MUG-01", "product_name"] == 'Mug "Classic", 350ml' and p["supplier_id"].isna().all()
    # cost_ratio 0.5 × median unit price: TS-RED-M lines 82.33, 89, 99 → median 89 → 44.5;
    # MUG-01 lines 45, 40, 45, 45 → median 45 → 22.5.
    assert p.loc["TS-RED-M", "unit_cost"] == 44.5 and p.loc["MUG-01", "unit_cost"] == 22.5
    assert any(n.startswith("ASSUMPTION: unit_cost = 0.5") for n in result.notes)


def test_shopify_cost_file_and_missing_costs(tmp_path):
    costs = tmp_path / "costs.csv"
    costs.write_text("sku,unit_cost\nTS-RED-M,30\nMUG-01,12.5\nSC-GRY,50\n定制刺绣 Custom embroidery,20\n",
                     encoding="utf-8")
    conv = import_shopify(SHOPIFY, costs=costs)
    assert by_id(conv.tables["products"], "sku")["unit_cost"].to_dict() == {
        "TS-RED-M": 30.0, "MUG-01": 12.5, "定制刺绣 Custom embroidery": 20.0, "SC-GRY": 50.0}
    costs.write_text("sku,unit_cost\nTS-RED-M,30\n", encoding="utf-8")
    with pytest.raises(ImportOptionError) as info:
        import_shopify(SHOPIFY, costs=costs)
    assert "3 SKUs have no cost" in str(info.value) and "MUG-01" in str(info.value) and "cost_ratio" in str(info.value)
    conv = import_shopify(SHOPIFY, costs=costs, cost_ratio=0.5)     # the ratio fills the gaps
    assert by_id(conv.tables["products"], "sku").loc["MUG-01", "unit_cost"] == 22.5
    with pytest.raises(ImportOptionError, match="between 0 and 1"):
        import_shopify(SHOPIFY, cost_ratio=45)


def test_shopify_timezone_option_and_mixed_offsets(tmp_path):
    conv = import_shopify(SHOPIFY, store={"timezone": "Europe/London"})
    # 14:05:11 at +08:00 is 06:05:11 UTC = 06:05:11 in London in March (GMT, before the 29 March DST switch).
    assert conv.tables["orders"]["order_time"].iloc[0] == pd.Timestamp("2026-03-01 06:05:11")
    mixed = tmp_path / "mixed.csv"
    mixed.write_text(shopify_text().replace("2026-03-09 01:00:00 +0800", "2026-03-09 01:00:00 +0900"),
                     encoding="utf-8")
    with pytest.raises(ImportOptionError) as info:
        import_shopify(mixed)
    assert "+0800, +0900" in str(info.value) and "store={'timezone'" in str(info.value)


def test_shopify_currency_checks(tmp_path):
    with pytest.raises(ImportOptionError) as info:
        import_shopify(SHOPIFY, store={"currency": "USD"})
    assert "in CNY" in str(info.value) and "does not convert" in str(info.value)
    two = tmp_path / "two.csv"
    two.write_text(shopify_text().replace("paid,,,,,CNY,45.00", "paid,,,,,HKD,45.00").replace(
        "pending,,,,,CNY", "pending,,,,,HKD"), encoding="utf-8")
    with pytest.raises(ExportFormatError) as info:
        import_shopify(two)
    assert "several currencies (CNY, HKD)" in str(info.value) and "column 'Currency'" in str(info.value)


def test_shopify_missing_header_and_case_insensitive_headers(tmp_path):
    renamed = tmp_path / "export.csv"
    renamed.write_text(shopify_text().replace("Lineitem sku", "Lineitem SKU", 1), encoding="utf-8")
    assert len(import_shopify(renamed).tables["orders"]) == 8
    broken = tmp_path / "broken.csv"
    broken.write_text(shopify_text().replace("Lineitem sku", "Item code", 1), encoding="utf-8")
    with pytest.raises(ExportFormatError) as info:
        import_shopify(broken)
    text = str(info.value)
    assert str(broken) in text and "no column 'Lineitem sku'" in text and "Shopify Orders CSV" in text
    assert "Headers found: Name, Email" in text and "Fix: export the orders from Shopify Admin" in text


def test_shopify_unknown_financial_status_and_status_map(tmp_path):
    odd = tmp_path / "odd.csv"
    odd.write_text(shopify_text().replace("#1007,erin@example.com,pending", "#1007,erin@example.com,chargeback"),
                   encoding="utf-8")
    with pytest.raises(UnknownValueError) as info:
        import_shopify(odd)
    assert "'chargeback' (1 row)" in str(info.value) and "status_map=" in str(info.value)
    assert info.value.values == {"chargeback": 1}
    conv = import_shopify(odd, status_map={"chargeback": "refunded"})
    assert by_id(conv.tables["orders"]).loc["#1007", "status"] == "refunded"


def test_shopify_hash_emails_and_taxes_option():
    conv = import_shopify(SHOPIFY, hash_emails=True, taxes_included=False)
    orders = by_id(conv.tables["orders"])
    ids = orders["customer_id"]
    assert ids["#1001"] == ids["#1004"] and len(ids["#1001"]) == 16 and "@" not in ids["#1001"]
    assert pd.isna(ids["#1002"])
    assert orders.loc["#1008", "revenue"] == 113.0       # taxes_included=False: Subtotal kept as it is


# --------------------------------------------------------------------------------------------------- UCI
def test_uci_iso_file_end_to_end(tmp_path):
    result = import_export("uci_online_retail", UCI_ISO, tmp_path / "uci", store={"currency": "GBP"})
    ds = load_dataset(tmp_path / "uci")
    o = by_id(ds.orders)
    # 900404 (a stock adjustment: −10 on an ordinary invoice, price 0) is dropped; 6 invoices remain.
    assert sorted(o.index) == ["900400", "900401", "900403", "900406", "C900402", "C900405"]
    assert len(result.dropped) == 1 and result.dropped.loc[0, "order_id"] == "900404"
    # 900400: 10001A 2 × 6 × 2.55 = 30.60 (exact duplicate rows merged) + 10002 6 × 3.39 = 20.34 → 50.94;
    # POST 18.00 → shipping_fee.
    assert o.loc["900400", "revenue"] == pytest.approx(50.94) and o.loc["900400", "shipping_fee"] == 18.0
    assert o.loc["900400", "customer_id"] == "17850" and o.loc["900400", "source_rows"] == 4
    assert pd.isna(o.loc["900401", "customer_id"])                     # guest invoice
    assert o.loc["900401", "revenue"] == pytest.approx(12 * 1.85 + 2 * 2.10)   # 26.40
    assert o.loc["C900402", "status"] == "cancelled" and o.loc["C900402", "revenue"] == pytest.approx(5.10)
    # signed total = raw sum(Quantity × UnitPrice) = 112.17 (the dropped row is worth 0).
    sign = o["status"].astype(str).map({"cancelled": -1.0, "completed": 1.0})
    assert ((o["revenue"] + o["shipping_fee"]) * sign).sum() == pytest.approx(112.17)
    items = ds.order_items.set_index(["order_id", "sku"])
    assert items.loc[("900400", "10001A"), "quantity"] == 12 and items.loc[("900400", "10001A"), "source_rows"] == 2
    assert items.loc[("C900402", "10001A"), "quantity"] == 2          # made positive
    assert ("900400", "POST") not in items.index
    assert items.loc[("900403", "10005"), "description"] == "GLASS STAR\nCANDLE HOLDER"   # quoted newline
    assert items.loc[("900401", "10004"), "description"] == 'PHOTO FRAME 7" SMALL'       # quotes, trailing space
    c = by_id(ds.customers, "customer_id")
    assert c.loc["12583", "region"] == "France" and c.loc["12583", "first_seen"] == pd.Timestamp("2010-12-03 11:00")
    assert c.loc["13047", "first_seen"] == pd.Timestamp("2010-12-04 13:00")   # only a cancellation
    assert "products" not in result and any("products.csv not written" in n for n in result.notes)


def test_uci_shipping_codes_option_keeps_postage_as_a_line():
    conv = import_uci_online_retail(UCI_ISO, store={"currency": "GBP"}, shipping_codes=())
    o = by_id(conv.tables["orders"])
    assert o.loc["900400", "revenue"] == pytest.approx(68.94) and o.loc["900400", "shipping_fee"] == 0.0
    conv = import_uci_online_retail(UCI_ISO, store={"currency": "GBP"}, shipping_codes="post")   # one code, any case
    assert by_id(conv.tables["orders"]).loc["900400", "shipping_fee"] == 18.0


def test_uci_ii_bom_crlf_dayfirst_detected():
    conv = import_uci_online_retail(UCI_DAYFIRST, store={"currency": "GBP"})
    o = by_id(conv.tables["orders"])
    # 13/12/2009 can only be day-first, so 1/12/2009 is 1 December.
    assert o["order_time"].tolist() == [pd.Timestamp("2009-12-01 07:45"), pd.Timestamp("2009-12-13 10:00"),
                                        pd.Timestamp("2009-12-14 09:30")]
    assert o.loc["900001", "customer_id"] == "13085"
    assert o.loc["900001", "revenue"] == pytest.approx(12 * 6.95 + 12 * 6.75)


def test_uci_ambiguous_dates_stop_with_the_option_to_pass():
    with pytest.raises(AmbiguousDateError) as info:
        import_uci_online_retail(UCI_AMBIGUOUS, store={"currency": "GBP"})
    text = str(info.value)
    assert str(UCI_AMBIGUOUS) in text and "column 'InvoiceDate'" in text and "'2/12/2009 15:41'" in text
    assert "date_format='dayfirst'" in text and "date_format='monthfirst'" in text
    assert "--option date_format=dayfirst" in text
    day = import_uci_online_retail(UCI_AMBIGUOUS, store={"currency": "GBP"}, date_format="dayfirst")
    month = import_uci_online_retail(UCI_AMBIGUOUS, store={"currency": "GBP"}, date_format="monthfirst")
    assert day.tables["orders"]["order_time"].tolist() == [pd.Timestamp("2009-12-02 15:41"),
                                                            pd.Timestamp("2009-12-03 09:05")]
    assert month.tables["orders"]["order_time"].tolist() == [pd.Timestamp("2009-02-12 15:41"),
                                                              pd.Timestamp("2009-03-12 09:05")]
    # CR-only line endings and a quoted field with commas are read as two rows.
    assert by_id(day.tables["order_items"])["description"].tolist()[0] == "LANTERN, PAPER, RED"


def test_uci_monthfirst_two_digit_years_and_contradictions(tmp_path):
    conv = import_uci_online_retail(UCI_MONTHFIRST, store={"currency": "GBP"})
    assert conv.tables["orders"]["order_time"].tolist() == [pd.Timestamp("2010-12-13 08:26"),
                                                             pd.Timestamp("2011-01-02 16:00")]
    with pytest.raises(ExportFormatError) as info:      # 13/12/2009 is no month-first date
        import_uci_online_retail(UCI_DAYFIRST, store={"currency": "GBP"}, date_format="monthfirst")
    assert "are not valid dates" in str(info.value) and "'13/12/2009 10:00'" in str(info.value)
    mixed = tmp_path / "mixed.csv"
    mixed.write_text(UCI_MONTHFIRST.read_text().replace("1/2/11 16:00", "25/2/11 16:00"))
    with pytest.raises(ExportFormatError) as info:
        import_uci_online_retail(mixed, store={"currency": "GBP"})
    assert "mixes day-first dates" in str(info.value) and "'25/2/11 16:00'" in str(info.value)
    with pytest.raises(ImportOptionError, match="unknown date format 'european'"):
        import_uci_online_retail(UCI_ISO, store={"currency": "GBP"}, date_format="european")


def test_uci_needs_a_currency_and_numbers(tmp_path):
    with pytest.raises(ImportOptionError) as info:
        import_uci_online_retail(UCI_ISO)
    assert "does not say its currency" in str(info.value) and "GBP for the UCI" in str(info.value)
    bad = tmp_path / "bad.csv"
    bad.write_text(UCI_ISO.read_text().replace(",3.39,17850.0", ",3.39 GBP?,17850.0"))
    with pytest.raises(ExportFormatError) as info:
        import_uci_online_retail(bad, store={"currency": "GBP"})
    assert "column 'UnitPrice'" in str(info.value) and "'3.39 GBP?'" in str(info.value) and "row 2" in str(info.value)


# --------------------------------------------------------------------------------------------------- Olist
def test_olist_folder_end_to_end(tmp_path):
    result = import_export("olist", OLIST, tmp_path / "olist", store={"currency": "BRL"}, cost_ratio=0.6)
    ds = load_dataset(tmp_path / "olist")
    o = by_id(ds.orders)
    assert o["status"].astype(str).to_dict() == {"o01": "completed", "o02": "completed", "o03": "cancelled",
                                                 "o04": "pending", "o05": "cancelled"}
    assert o.loc["o04", "platform_status"] == "shipped"
    # customer_unique_id: c01 and c04 are the same buyer u01.
    assert o.loc["o01", "customer_id"] == o.loc["o04", "customer_id"] == "u01"
    # o01: 50 + 50 + 19.90 = 119.90, freight 10 + 10 + 5.10 = 25.10; payments 100 + 45 = 145 (first: credit_card).
    assert o.loc["o01", "revenue"] == pytest.approx(119.90) and o.loc["o01", "shipping_fee"] == pytest.approx(25.10)
    assert o.loc["o01", "payment_value"] == 145.0 and o.loc["o01", "payment_type"] == "credit_card"
    assert o.loc["o03", "revenue"] == 0.0 and pd.isna(o.loc["o03", "shipping_fee"])   # no items
    assert o.loc["o02", "delivered_at"] > o.loc["o02", "estimated_delivery_at"]     # late, ISO text compares
    items = ds.order_items.set_index(["order_id", "sku"])
    assert items.loc[("o01", "p01"), "quantity"] == 2 and items.loc[("o01", "p01"), "unit_price"] == 50.0
    assert items.loc[("o01", "p01"), "freight_value"] == 20.0
    c = by_id(ds.customers, "customer_id")
    assert len(c) == 4 and c.loc["u01", "region"] == "SP" and c.loc["u01", "first_seen"] == pd.Timestamp(
        "2018-01-10 10:00")
    s = by_id(ds.suppliers, "supplier_id")
    assert list(s.index) == ["s01", "s02", "s03"] and (s["country"] == "BR").all()
    p = by_id(ds.products, "sku")
    assert p.loc["p01", "category"] == "bed_bath_table" and p.loc["p02", "category"] == "unknown"
    assert p.loc["p03", "supplier_id"] == "s01"
    # 0.6 × median price: p03 lines 120 and 115.50 → median 117.75 → 70.65.
    assert p.loc["p03", "unit_cost"] == pytest.approx(70.65)
    assert any("CC BY-NC-SA" in n for n in result.notes)


def test_olist_missing_file_and_currency(tmp_path):
    with pytest.raises(ImportOptionError, match="BRL for the Olist data"):
        import_olist(OLIST)
    partial = tmp_path / "olist"
    partial.mkdir()
    (partial / "olist_orders_dataset.csv").write_bytes((OLIST / "olist_orders_dataset.csv").read_bytes())
    with pytest.raises(ExportFormatError) as info:
        import_olist(partial, store={"currency": "BRL"})
    assert "no olist_order_items_dataset.csv in the folder" in str(info.value)
    assert "olist_customers_dataset.csv" in str(info.value) and "Fix:" in str(info.value)
    with pytest.raises(UnknownValueError, match="'lost'"):
        odd = tmp_path / "odd"
        odd.mkdir()
        for f in OLIST.iterdir():
            (odd / f.name).write_bytes(f.read_bytes().replace(b",shipped,", b",lost,"))
        import_olist(odd, store={"currency": "BRL"})


# --------------------------------------------------------------------------------------------------- mapping
@pytest.fixture(scope="module")
def taobao(tmp_path_factory):
    out = tmp_path_factory.mktemp("taobao") / "shop"
    result = import_export("mapping", TAOBAO, out, mapping=example_mapping("taobao_orders"), cost_ratio=0.5)
    return result, load_dataset(out)


def test_mapping_taobao_gbk_orders(taobao):
    result, ds = taobao
    assert any("read as gb18030" in n for n in result.notes)
    assert ds.store.currency == "CNY" and ds.store.timezone == "Asia/Shanghai" and ds.store.lang == "zh"
    o = by_id(ds.orders)
    # ="3051234567890123456" → the id as text, all 19 digits kept.
    assert list(o.index) == [f"30512345678901234{n}" for n in range(56, 62)]
    # revenue = 买家实际支付金额 − 买家应付邮费: 129 − 10 = 119; order …457 has two lines but one row in orders.
    assert o["revenue"].tolist() == [119.0, 88.0, 59.5, 150.0, 0.0, 0.0]
    # 交易成功 → completed; 卖家已发货… → pending; 交易关闭 with refund 59.50 = paid → refunded;
    # 交易成功 with refund 30 < 150 → partially_refunded; 交易关闭 without refund → cancelled.
    assert o["status"].astype(str).tolist() == ["completed", "pending", "refunded", "partially_refunded",
                                                "cancelled", "pending"]
    assert o.loc["3051234567890123456", "payment_id"] == "2026111122001001"     # tab prefix removed; 16-digit ids stay text
    assert o.loc["3051234567890123456", "region"] == "浙江省"
    assert o.loc["3051234567890123458", "order_time"] == pd.Timestamp("2026-11-12 10:00")   # 2026/11/12 10:00
    assert (o["channel"] == "taobao").all()


def test_mapping_taobao_items_products_customers(taobao):
    _, ds = taobao
    items = ds.order_items.set_index(["order_id", "sku"])
    assert len(items) == 7 and items.loc[("3051234567890123457", "BAG-02"), "unit_price"] == 44.0
    assert items.loc[("3051234567890123459", "羊毛围巾（灰）"), "quantity"] == 2      # empty 商家编码 → title
    p = by_id(ds.products, "sku")
    assert sorted(p.index) == sorted(["TS-WHT-L", "MUG-01", "BAG-02", "羊毛围巾（灰）"])
    assert p.loc["TS-WHT-L", "unit_cost"] == pytest.approx(29.75)                 # 0.5 × 59.50
    c = by_id(ds.customers, "customer_id")
    assert c.loc["小明爱购物", "first_seen"] == pd.Timestamp("2026-11-11 00:00:05")
    assert c.loc["王五", "region"] == "北京" and c.loc["tb_lily", "acquisition_channel"] == "taobao"


def test_mapping_utf8_bom_and_explicit_wrong_encoding(tmp_path):
    bom = tmp_path / "orders_utf8.csv"
    bom.write_bytes(TAOBAO.read_bytes().decode("gb18030").encode("utf-8-sig"))
    conv = import_mapped(bom, mapping=example_mapping())
    assert conv.tables["orders"]["revenue"].sum() == pytest.approx(119 + 88 + 59.5 + 150)
    assert any("read as utf-8-sig" in n for n in conv.notes)
    spec = load_mapping(example_mapping())
    spec["read"]["encoding"] = "gbk"          # declared GBK, but the bytes are valid UTF-8: UTF-8 wins
    assert any("read as utf-8-sig" in n for n in import_mapped(bom, mapping=spec).notes)
    spec["read"]["encoding"] = "utf-8"
    with pytest.raises(ExportFormatError) as info:
        import_mapped(TAOBAO, mapping=spec)
    assert "not valid utf-8-sig text" in str(info.value) and "encoding='gb18030'" in str(info.value)


def test_mapping_ambiguous_dates_point_to_the_mapping_setting_and_empty_export(tmp_path):
    export = tmp_path / "export.csv"
    export.write_text("id,time,state,paid\nA,1/2/2026,ok,5\nB,3/4/2026,ok,6\n", encoding="utf-8")
    spec = {"store": {"currency": "CNY"}, "tables": {"orders": {"columns": {
        "order_id": "id", "order_time": "time", "status": {"column": "state", "values": {"ok": "completed"}},
        "revenue": "paid"}}}}
    with pytest.raises(AmbiguousDateError) as info:
        import_mapped(export, mapping=spec)
    assert "`dates: dayfirst`" in str(info.value) and "under `read:`" in str(info.value)
    spec["read"] = {"dates": "%d/%m/%Y"}
    assert import_mapped(export, mapping=spec).tables["orders"]["order_time"].tolist() == [
        pd.Timestamp("2026-02-01"), pd.Timestamp("2026-04-03")]
    export.write_text("id,time,state,paid\n", encoding="utf-8")
    with pytest.raises(ExportFormatError, match="has a header but no data rows"):
        import_mapped(export, mapping=spec)


def test_mapping_unknown_status_value_and_missing_header(tmp_path):
    odd = tmp_path / "odd.csv"
    odd.write_bytes(TAOBAO.read_bytes().decode("gb18030").replace("等待买家付款", "已删除").encode("gb18030"))
    with pytest.raises(UnknownValueError) as info:
        import_mapped(odd, mapping=example_mapping())
    assert "column '订单状态'" in str(info.value) and "'已删除' (1 row)" in str(info.value)
    assert "values:" in str(info.value)
    renamed = tmp_path / "renamed.csv"
    renamed.write_bytes(TAOBAO.read_bytes().decode("gb18030").replace("订单创建时间", "订单创建日期")
                        .encode("gb18030"))
    with pytest.raises(ExportFormatError) as info:
        import_mapped(renamed, mapping=example_mapping())
    assert "no column '订单创建时间'" in str(info.value) and "found '订单创建日期'" in str(info.value)


def test_mapping_file_errors(tmp_path):
    base = {"store": {"currency": "CNY"},
            "tables": {"orders": {"columns": {"order_id": "a", "order_time": "b", "status": "c", "revenue": "d"}}}}
    assert load_mapping(base)["read"]["encoding"] == "auto"
    cases = [
        ({"tables": {"order": base["tables"]["orders"]}}, "tables.order: not a contract table"),
        ({"tables": {"orders": {"columns": {"order_id": "a"}}}}, "required contract column(s) ['order_time', 'status'"),
        ({"tables": {"orders": {"columns": {**base["tables"]["orders"]["columns"],
                                            "status": {"column": "c", "values": {"成功": "done"}}}}}},
         "['done'] not contract statuses"),
        ({"tables": {"orders": {"columns": {**base["tables"]["orders"]["columns"],
                                            "revenue": {"column": "d", "sum": True}}}}}, "unknown key(s) ['sum']"),
        ({"read": {"skip_rows": "two"}, "tables": base["tables"]}, "read.skip_rows: expected int"),
        ({"tabels": {}}, "unknown section(s) ['tabels']"),
    ]
    for spec, message in cases:
        with pytest.raises(MappingFileError) as info:
            load_mapping(spec)
        assert message in str(info.value), str(info.value)
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("tables: [orders\n", encoding="utf-8")
    with pytest.raises(MappingFileError, match="bad.yaml: not valid YAML"):
        load_mapping(bad_yaml)


def test_mapping_prefixes_numbers_folder_globs_and_generic_table(tmp_path):
    src = tmp_path / "export"
    src.mkdir()
    # ="…" and =123 ids, ¥ and thousands separators, a UTF-8 BOM, a blank trailing line.
    (src / "orders_2026-11.csv").write_bytes(
        "\ufeffid,buyer,time,state,paid\n=\"0012\",Li,2026-11-11 10:00:00,ok,\"¥1,234.50\"\n"
        "=0013,,2026-11-11 11:00:00,ok,99\n\n".encode("utf-8"))
    (src / "promos.csv").write_text("活动,开始,结束\n双11,2026/11/1,2026/11/11\n", encoding="utf-8")
    spec = {"store": {"currency": "CNY"},
            "tables": {"orders": {"file": "orders_*.csv",
                                  "columns": {"order_id": "id", "customer_id": "buyer", "order_time": "time",
                                              "status": {"column": "state", "values": {"ok": "completed"}},
                                              "revenue": "paid"}},
                       "promotions": {"file": "promos.csv",
                                      "columns": {"promo_id": "活动", "name": "活动", "start_date": "开始",
                                                  "end_date": "结束"}}}}
    out = tmp_path / "out"
    import_export("mapping", src, out, mapping=spec)
    ds = load_dataset(out)
    assert ds.orders["order_id"].tolist() == ["0012", "0013"]          # leading zeros kept
    assert ds.orders["revenue"].tolist() == [1234.5, 99.0]
    assert pd.isna(ds.orders.loc[1, "customer_id"]) and len(ds.customers) == 1
    assert ds.promotions["name"].tolist() == ["双11"]                   # generic tables map row for row
    assert ds.promotions["end_date"].tolist() == [pd.Timestamp("2026-11-11")]


def test_mapping_unit_cost_column_gaps_and_cost_dataframe(tmp_path):
    export = tmp_path / "export.csv"
    export.write_text("id,time,sku,qty,price,cost\nA,2026-11-11,X,2,10,4\nA,2026-11-11,Y,1,8,\n", encoding="utf-8")
    spec = {"store": {"currency": "CNY"}, "tables": {
        "order_items": {"columns": {"order_id": "id", "sku": "sku", "quantity": "qty", "unit_price": "price"}},
        "products": {"columns": {"sku": "sku", "product_name": "sku", "unit_cost": "cost"}}}}
    with pytest.raises(ImportOptionError) as info:
        import_mapped(export, mapping=spec)
    assert "1 SKUs have an empty unit_cost (first: Y)" in str(info.value)
    # X keeps its mapped cost 4; Y takes the cost table's 3.5.
    conv = import_mapped(export, mapping=spec, costs=pd.DataFrame({"sku": ["Y"], "unit_cost": [3.5]}))
    assert by_id(conv.tables["products"], "sku")["unit_cost"].to_dict() == {"X": 4.0, "Y": 3.5}


def test_contract_error_surfaces_when_the_result_breaks_the_contract(tmp_path):
    export = tmp_path / "export.csv"
    export.write_text("id,time,state,paid\nA,2026-11-11,ok,-5\n", encoding="utf-8")
    spec = {"store": {"currency": "CNY"}, "tables": {"orders": {"columns": {
        "order_id": "id", "order_time": "time", "status": {"column": "state", "values": {"ok": "completed"}},
        "revenue": "paid"}}}}
    with pytest.raises(ContractError) as info:
        import_export("mapping", export, tmp_path / "out", mapping=spec)
    assert "orders.csv" in str(info.value) and "column 'revenue'" in str(info.value)


# --------------------------------------------------------------------------------------------------- reference data
@pytest.fixture(scope="module")
def uci_subset(reference, tmp_path_factory):
    out = tmp_path_factory.mktemp("uci") / "uci"
    result = import_export("uci_online_retail", reference / "uci_online_retail" / "online_retail_subset.csv", out,
                           store={"currency": "GBP", "timezone": "Europe/London"}, cost_ratio=0.5)
    return result, load_dataset(out)


def test_reference_uci_online_retail_subset_facts(uci_subset):
    """Facts from uci_online_retail/PROVENANCE.md, recomputed from the imported tables."""
    result, ds = uci_subset
    o, items, c = ds.orders, ds.order_items, ds.customers
    dropped = result.dropped
    # The 6 dropped rows are the "non-C rows with negative Quantity", each a one-row guest invoice, price 0.
    assert len(dropped) == 6 and (dropped["quantity"] < 0).all() and (dropped["unit_price"] == 0).all()
    assert dropped["customer_id"].isna().all() and dropped["order_id"].nunique() == 6
    # rows 137,938; distinct InvoiceNo 7,872.
    assert o["source_rows"].sum() + len(dropped) == 137_938
    assert len(o) + dropped["order_id"].nunique() == 7_872
    # distinct non-empty CustomerID 1,500; rows with empty CustomerID 304 in 19 invoices.
    assert len(c) == 1_500 and o["customer_id"].nunique() == 1_500
    guests = o[o["customer_id"].isna()]
    assert guests["source_rows"].sum() + len(dropped) == 304 and len(guests) + 6 == 19
    # cancellation invoices 1,241 (rows 2,855).
    cancelled = o[o["status"] == "cancelled"]
    assert len(cancelled) == 1_241 and cancelled["source_rows"].sum() == 2_855
    # InvoiceDate range 2010-12-01 08:45 .. 2011-12-09 12:25.
    assert o["order_time"].min() == pd.Timestamp("2010-12-01 08:45") and o["order_time"].max() == pd.Timestamp(
        "2011-12-09 12:25")
    # sum(Quantity × UnitPrice) over all rows 2,782,448.14 (cancellations negative, dropped rows are worth 0).
    sign = o["status"].astype(str).map({"cancelled": -1.0}).fillna(1.0)
    assert ((o["revenue"] + o["shipping_fee"]) * sign).sum() == pytest.approx(2_782_448.14, abs=0.005)
    # distinct Country 32; distinct StockCode 3,435 (= line SKUs + 3 postage codes + 2 codes seen only in dropped rows).
    assert o["country"].nunique() == 32
    only_dropped = set(dropped["sku"]) - set(items["sku"])
    assert items["sku"].nunique() + 3 + len(only_dropped) == 3_435
    # first-month cohort: customers whose first non-cancelled purchase is in 2010-12 → 306.
    buyers = set(o.loc[o["status"] != "cancelled", "customer_id"].dropna())
    assert ((c["first_seen"].dt.to_period("M") == "2010-12") & c["customer_id"].isin(buyers)).sum() == 306
    # customer 12347.0 has 182 rows; the five smallest ids (float suffix removed).
    assert o.loc[o["customer_id"] == "12347", "source_rows"].sum() == 182
    assert sorted(c["customer_id"], key=int)[:5] == ["12346", "12347", "12350", "12352", "12354"]
    assert ds.products is not None and (ds.products["unit_cost"] >= 0).all()


@pytest.mark.parametrize("name, facts", [
    ("online_retail_ii_2009-12-02_to_2009-12-04.csv",
     dict(rows=4_961, invoices=226, customers=175, guest_rows=1_164, guest_invoices=23, c_rows=59, c_invoices=22,
          first="2009-12-02 15:41", last="2009-12-04 13:31", amount=104_330.34, quantity=63_697, countries=10,
          codes=1_679)),
    ("online_retail_ii_2010-12-01_to_2010-12-02.csv",
     dict(rows=5_017, invoices=300, customers=197, guest_rows=1_205, guest_invoices=23, c_rows=70, c_invoices=29,
          first="2010-12-01 08:26", last="2010-12-02 18:08", amount=102_295.99, quantity=46_005, countries=7,
          codes=1_598)),
])
def test_reference_uci_online_retail_ii_slice_facts(reference, tmp_path, name, facts):
    """Facts from uci_online_retail_ii/PROVENANCE.md; the day-first dates must be named, never guessed."""
    path = reference / "uci_online_retail_ii" / name
    with pytest.raises(AmbiguousDateError):
        import_uci_online_retail(path, store={"currency": "GBP"})
    result = import_export("uci_online_retail", path, tmp_path / "ii", store={"currency": "GBP"},
                           date_format="dayfirst", shipping_codes=())
    ds = load_dataset(tmp_path / "ii")
    o, items, dropped = ds.orders, ds.order_items, result.dropped
    lost_invoices = set(dropped["order_id"]) - set(o["order_id"])
    assert o["source_rows"].sum() + len(dropped) == facts["rows"]
    assert len(o) + len(lost_invoices) == facts["invoices"]
    assert o["customer_id"].nunique() == facts["customers"] == len(ds.customers)
    guests = o[o["customer_id"].isna()]
    assert guests["source_rows"].sum() + dropped["customer_id"].isna().sum() == facts["guest_rows"]
    assert len(guests) + len({i for i in lost_invoices}) == facts["guest_invoices"]
    cancelled = o[o["status"] == "cancelled"]
    assert (len(cancelled), cancelled["source_rows"].sum()) == (facts["c_invoices"], facts["c_rows"])
    assert o["order_time"].min() == pd.Timestamp(facts["first"]) and o["order_time"].max() == pd.Timestamp(
        facts["last"])
    sign = o.set_index("order_id")["status"].astype(str).map({"cancelled": -1.0}).fillna(1.0)
    line_sign = items["order_id"].map(sign)
    assert (o["revenue"] * sign.to_numpy()).sum() + (dropped["quantity"] * dropped["unit_price"]).sum() == \
        pytest.approx(facts["amount"], abs=0.005)
    assert (items["quantity"] * line_sign).sum() + dropped["quantity"].sum() == facts["quantity"]
    assert o["country"].nunique() == facts["countries"]
    assert len(set(items["sku"]) | set(dropped["sku"])) == facts["codes"]


def test_reference_olist_facts(reference, tmp_path):
    """Facts from olist_brazilian_ecommerce/PROVENANCE.md (CC BY-NC-SA 4.0: read here, never copied)."""
    result = import_export("olist", reference / "olist_brazilian_ecommerce", tmp_path / "olist",
                           store={"currency": "BRL", "timezone": "America/Sao_Paulo"}, cost_ratio=0.5)
    ds = load_dataset(tmp_path / "olist")
    o, items = ds.orders, ds.order_items
    assert len(o) == 3_000 and o["order_id"].is_unique
    assert o["platform_status"].value_counts().to_dict() == {"delivered": 2_904, "shipped": 38, "canceled": 24,
                                                             "unavailable": 17, "invoiced": 9, "processing": 8}
    assert o["status"].astype(str).value_counts().to_dict() == {"completed": 2_904, "pending": 38 + 9 + 8,
                                                                "cancelled": 24 + 17}
    assert o["order_time"].min() == pd.Timestamp("2016-10-04 13:38:37")
    assert o["order_time"].max() == pd.Timestamp("2018-09-03 14:14:25")
    assert items["order_id"].nunique() == 2_976
    assert (items["quantity"] * items["unit_price"]).sum() == pytest.approx(392_468.58, abs=0.005)
    assert o["revenue"].sum() == pytest.approx(392_468.58, abs=0.005)
    assert o["shipping_fee"].sum() == pytest.approx(68_855.36, abs=0.005)
    assert o.loc[o["platform_status"] == "delivered", "revenue"].sum() == pytest.approx(383_038.94, abs=0.005)
    assert o["payment_value"].sum() == pytest.approx(468_087.37, abs=0.005)
    assert len(ds.customers) == 2_995 and o["customer_id"].nunique() == 2_995
    assert items["seller_id"].nunique() == 938
    per_seller = items.groupby("seller_id")["quantity"].sum()
    assert per_seller.idxmax() == "1f50f920176fa81dab994f9023523100" and per_seller.max() == 72
    delivered = o[o["platform_status"] == "delivered"]
    assert (delivered["delivered_at"] > delivered["estimated_delivery_at"]).sum() == 231
    assert (o["approved_at"].isna().sum(), o["shipped_at"].isna().sum(), o["delivered_at"].isna().sum()) == (9, 54, 96)
    assert len(ds.products) == 2_452 and (ds.products["category"] == "unknown").sum() == 37
    assert len(ds.suppliers) == 3_095
    assert any("CC BY-NC-SA" in n for n in result.notes)


# --------------------------------------------------------------------------------------------------- writing
def test_failed_import_leaves_the_folder_as_it_was(tmp_path):
    out = tmp_path / "shop"
    import_export("shopify", SHOPIFY, out, cost_ratio=0.5)
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    bad = tmp_path / "bad.csv"                  # fails while converting
    bad.write_text(shopify_text().replace("Financial Status", "Financial Statos"), encoding="utf-8")
    with pytest.raises(ExportFormatError):
        import_export("shopify", bad, out, overwrite=True)
    with pytest.raises(ContractError):          # fails at validation, after writing: still nothing changes
        import_export("mapping", TAOBAO, out, overwrite=True, cost_ratio=0.5, mapping=_broken_mapping())
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []     # no staging folder left


def _broken_mapping() -> dict:
    """The Taobao example with revenue taken from a column holding negative numbers (the contract refuses)."""
    m = load_mapping(example_mapping("taobao_orders"))
    cols = m["tables"]["orders"]["columns"]
    cols["revenue"] = {"column": cols["revenue"]["column"], "minus": [cols["revenue"]["column"],
                                                                       cols["revenue"]["column"]]}
    return m


def test_formula_cells_are_neutralised_and_counted(tmp_path):
    lines = shopify_text().splitlines()
    header = lines[0].split(",")
    col = header.index("Lineitem name")
    cells = lines[1].split(",")
    cells[col] = '"=HYPERLINK(""http://x"",""y"")"'
    evil = tmp_path / "evil.csv"
    evil.write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n", encoding="utf-8")
    result = import_export("shopify", evil, tmp_path / "out", cost_ratio=0.5)
    assert result.neutralised["order_items"] == 1 and result.neutralised["products"] == 1
    assert any("2 text cells that a spreadsheet would run as a formula" in n for n in result.notes)
    items = pd.read_csv(result["order_items"], dtype=str)
    assert items["item_name"].str.startswith("'=HYPERLINK").sum() == 1


# --------------------------------------------------------------------------------------------------- ads reports
ADS = FIX / "ads"


def ad_rows(result) -> pd.DataFrame:
    return pd.read_csv(result["ad_spend"], dtype={"campaign": str}, parse_dates=["date"])


@pytest.mark.parametrize("name", ["google_ads_campaigns_daily.csv", "google_ads_campaigns_daily_utf16.csv"])
def test_google_ads_daily_report_with_preamble_totals_and_quirks(tmp_path, name):
    result = import_export("google_ads", ADS / name, tmp_path / "ads", store={"currency": "USD"})
    ads = ad_rows(result)
    assert len(ads) == 6 and set(ads["channel"]) == {"paid_search"}
    brand = ads[ads["campaign"] == "Brand - Search"].set_index("date")
    assert brand.loc["2026-11-01", "impressions"] == 1_356_884 and brand.loc["2026-11-01", "clicks"] == 2_310
    assert brand.loc["2026-11-01", "spend"] == 948.20 and brand.loc["2026-11-01", "platform_revenue"] == 2_480.0
    assert ads["spend"].sum() == pytest.approx(2_064.20)              # = the report's own Total: Account
    promo = ads[ads["campaign"] == "'=Promo Nov"]                      # a formula-like name, neutralised
    assert len(promo) == 2 and pd.isna(promo["platform_conversions"].iloc[0])      # "--" is empty, not 0
    assert ads.loc[ads["campaign"] == "Generic 0042", "campaign"].iloc[0] == "Generic 0042"
    notes = "\n".join(result.notes)
    assert "2 total row(s)" in notes and "'Currency code' appear more than once" in notes
    assert "ad_spend 2" in notes and "--option channel=NAME" in notes
    assert ("utf-16, tab-separated" in notes) == name.endswith("utf16.csv")
    assert load_dataset(tmp_path / "ads", tables=["ad_spend"]).store.currency == "USD"


def test_google_ads_currency_comes_from_the_report_and_must_agree(tmp_path):
    result = import_export("google_ads", ADS / "google_ads_campaigns_daily.csv", tmp_path / "a", channel="google")
    assert load_dataset(tmp_path / "a", tables=["ad_spend"]).store.currency == "USD"
    assert set(ad_rows(result)["channel"]) == {"google"}
    with pytest.raises(ImportOptionError) as info:
        import_export("google_ads", ADS / "google_ads_campaigns_daily.csv", tmp_path / "b", store={"currency": "GBP"})
    assert "--currency GBP was passed" in str(info.value) and "does not convert" in str(info.value)


def test_meta_ads_adsets_summed_to_campaign_day_csv_and_xlsx(tmp_path):
    csv_result = import_export("meta_ads", ADS / "meta_ads_adsets_daily.csv", tmp_path / "csv")
    xlsx_result = import_export("meta_ads", ADS / "meta_ads_adsets_daily.xlsx", tmp_path / "xlsx")
    a, x = ad_rows(csv_result), ad_rows(xlsx_result)
    pd.testing.assert_frame_equal(a, x)
    assert load_dataset(tmp_path / "csv", tables=["ad_spend"]).store.currency == "USD"     # from "(USD)"
    winter = a[a["campaign"].str.startswith("Winter")].set_index("date")
    assert winter["campaign"].iloc[0] == "Winter 🎿 Sale\nProspecting"                    # as exported
    assert winter.loc["2026-11-01", ["impressions", "clicks", "spend", "ad_groups"]].tolist() == [18_000, 330,
                                                                                               180.5, 2]
    assert winter.loc["2026-11-01", "platform_conversions"] == 6.0                       # "-" is empty, not 0
    assert a["spend"].sum() == pytest.approx(330.50)       # the unlabelled summary line is not counted twice
    notes = "\n".join(csv_result.notes)
    assert "1 line(s) without a campaign" in notes and "'Ad set name' appear more than once" in notes
    assert "xlsx" in "\n".join(xlsx_result.notes)
    with pytest.raises(ImportOptionError, match="no sheet 'Report'.*Raw Data Report, Notes"):
        import_export("meta_ads", ADS / "meta_ads_adsets_daily.xlsx", tmp_path / "s", sheet="Report")


def test_multi_day_rows_are_refused_unless_spread(tmp_path):
    with pytest.raises(ExportFormatError) as info:
        import_export("meta_ads", ADS / "meta_ads_campaigns_week.csv", tmp_path / "a")
    msg = str(info.value)
    assert "meta_ads_campaigns_week.csv" in msg and "Reporting starts/Reporting ends" in msg
    assert "2 rows cover several days (e.g. 2026-11-01 to 2026-11-07, 7 days)" in msg
    assert "Breakdown → By time → Day" in msg and "--option spread=true" in msg
    result = import_export("meta_ads", ADS / "meta_ads_campaigns_week.csv", tmp_path / "b", spread="true")
    ads = ad_rows(result)
    assert len(ads) == 14 and ads["date"].nunique() == 7
    per = ads.groupby("campaign")[["impressions", "clicks", "spend"]].sum()
    assert per.loc["Retargeting 30d"].tolist() == [7_003, 100, pytest.approx(70.0)]     # whole numbers, sums kept
    assert per.loc["Winter Sale"].tolist() == [40_000, 801, pytest.approx(350.35)]
    assert any(n.startswith("ASSUMPTION (--option spread=true): 2 rows covering 7–7 days") for n in result.notes)


def test_ads_duplicate_export_rows_are_left_out(tmp_path):
    text = (ADS / "google_ads_campaigns_daily.csv").read_text(encoding="utf-8").splitlines()
    doubled = tmp_path / "doubled.csv"
    doubled.write_text("\n".join(text[:4] + [text[3]] + text[4:]) + "\n", encoding="utf-8")
    result = import_export("google_ads", doubled, tmp_path / "a", store={"currency": "USD"})
    assert ad_rows(result)["spend"].sum() == pytest.approx(2_064.20)
    assert any("1 row(s) repeat an earlier row field for field" in n and "948.20" in n for n in result.notes)
    assert (result.dropped["reason"] == "duplicate export row").sum() == 1


def test_google_range_line_without_day_rows(tmp_path):
    with pytest.raises(ExportFormatError, match="the date-range line above the header.*--option spread=true"):
        import_export("google_ads", ADS / "google_ads_range_no_day.csv", tmp_path / "a")
    ads = ad_rows(import_export("google_ads", ADS / "google_ads_range_no_day.csv", tmp_path / "b", spread=True))
    assert len(ads) == 14 and ads["spend"].sum() == pytest.approx(70.35) and ads["impressions"].sum() == 7_010
    with pytest.raises(ExportFormatError) as info:
        import_export("google_ads", ADS / "google_ads_all_time.csv", tmp_path / "c", spread=True)
    assert "'All time' with no per-day rows" in str(info.value) and "Segment → Time → Day" in str(info.value)


def test_ads_malformed_files_name_file_column_row_and_fix(tmp_path):
    with pytest.raises(ExportFormatError) as info:
        import_export("google_ads", ADS / "google_ads_malformed_cost.csv", tmp_path / "a")
    msg = str(info.value)
    assert "google_ads_malformed_cost.csv" in msg and "column 'Cost'" in msg and "row 2: '12,3x'" in msg
    assert "Fix:" in msg
    with pytest.raises(ImportOptionError) as info:
        import_export("meta_ads", ADS / "meta_ads_eur_malformed.csv", tmp_path / "b", store={"currency": "USD"})
    assert "amounts are in EUR, but --currency USD" in str(info.value)
    with pytest.raises(ExportFormatError, match="no header with a campaign column"):
        import_export("google_ads", SHOPIFY, tmp_path / "c")
    with pytest.raises(ImportOptionError, match="--option spread=maybe"):
        import_export("meta_ads", ADS / "meta_ads_campaigns_week.csv", tmp_path / "d", spread="maybe")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


# --------------------------------------------------------------------------------------------------- returns
AMAZON = FIX / "returns" / "amazon_fba_customer_returns.txt"


def _amazon_shop(folder: Path) -> Path:
    """A hand-made dataset folder holding the Amazon orders the returns report refers to (one is missing)."""
    folder.mkdir(parents=True)
    pd.DataFrame({"order_id": ["113-1234567-1234567", "114-7654321-7654321"], "customer_id": ["a", "b"],
                  "order_time": ["2026-10-30 10:00:00", "2026-11-01 09:00:00"], "channel": "amazon",
                  "status": "completed", "revenue": [250.0, 30.0], "discount": None, "shipping_fee": None,
                  "currency": "USD"}).to_csv(folder / "orders.csv", index=False)
    pd.DataFrame({"order_id": ["113-1234567-1234567", "113-1234567-1234567", "114-7654321-7654321"],
                  "sku": ["0042-BLK-S", "0042-BLK-M", "00123"], "quantity": [1, 1, 2],
                  "unit_price": [120.0, 130.0, 15.0]}).to_csv(folder / "order_items.csv", index=False)
    (folder / "store.yaml").write_text("name: amazon shop\ncurrency: USD\ntimezone: America/Los_Angeles\n",
                                       encoding="utf-8")
    return folder


def test_amazon_returns_report_alone(tmp_path):
    result = import_export("amazon_returns", AMAZON, tmp_path / "r", store={"currency": "USD", "timezone": "UTC"})
    r = pd.read_csv(result["returns"], dtype=str).set_index("return_id")
    assert len(r) == 4                                                # the repeated report row is left out
    assert r.loc["LPNRR123456789", ["sku", "reason_code", "reason", "resellable"]].tolist() == [
        "0042-BLK-S", "APPAREL_TOO_SMALL", "size_fit", "True"]
    assert r.loc["LPNRR123456789", "reason_text"] == "Runs small, order one size up"
    assert r.loc["LPNRR123456790", ["sku", "quantity", "resellable", "reason"]].tolist() == ["00123", "2", "False",
                                                                                            "quality_defect"]
    no_plate = r.index[r.index.str.startswith("113-1234567-1234567-0042-BLK-M-")]
    assert len(no_plate) == 1 and r.loc[no_plate[0], "reason_text"] == "'=box crushed, jacket torn"
    assert r.loc["LPNRR123456791", "sku"] == "1E5"                     # ids stay text: no 100000.0
    assert set(r["refund_amount"].astype(float)) == {0.0}
    notes = "\n".join(result.notes)
    assert "1 duplicate report rows" in notes and "SNOW_MELTED (1)" in notes and "return_reasons.yaml" in notes
    assert "--option orders=DIR" in notes and "resellable = detailed-disposition SELLABLE (2 of 4" in notes


def test_amazon_returns_valued_from_the_imported_orders_and_added_to_the_dataset(tmp_path):
    shop = _amazon_shop(tmp_path / "shop")
    result = import_export("amazon_returns", AMAZON, shop, orders=shop, add="true")
    r = pd.read_csv(result["returns"], dtype=str).set_index("sku")
    assert sorted(r.index) == ["00123", "0042-BLK-M", "0042-BLK-S"]     # 1E5's order is not in the dataset
    assert r["refund_amount"].astype(float).to_dict() == {"0042-BLK-S": 120.0, "00123": 30.0, "0042-BLK-M": 130.0}
    assert r.loc["0042-BLK-S", "returned_at"] == "2026-11-03 02:15:00"   # UTC → Los Angeles (PST, -8)
    ds = load_dataset(shop)
    assert set(ds.tables()) >= {"orders", "order_items", "returns"} and ds.store.name == "amazon shop"
    assert any("1 returns of orders that are not in" in n for n in result.notes)


def test_amazon_returns_malformed_and_missing_currency(tmp_path):
    bad = FIX / "returns" / "amazon_fba_customer_returns_malformed.txt"
    with pytest.raises(ExportFormatError) as info:
        import_export("amazon_returns", bad, tmp_path / "a", store={"currency": "USD", "timezone": "UTC"})
    msg = str(info.value)
    assert "amazon_fba_customer_returns_malformed.txt" in msg and "column 'quantity'" in msg
    assert "row 1: 'one'" in msg and "Customer Concessions → Returns" in msg
    with pytest.raises(ImportOptionError, match="--currency XXX"):
        import_export("amazon_returns", AMAZON, tmp_path / "b")
    with pytest.raises(ExportFormatError, match="no column 'return-date'.*Customer Concessions"):
        import_export("amazon_returns", SHOPIFY, tmp_path / "c", store={"currency": "USD"})


def test_shopify_refunds_become_order_level_returns(shop):
    result, ds = shop
    r = ds.returns.set_index("order_id")
    assert sorted(r.index) == ["#1003", "#1004"]
    assert r.loc["#1003", ["sku", "quantity", "refund_amount"]].tolist() == ["TS-RED-M", 1, 30.0]
    assert "partial refund" in r.loc["#1003", "reason_text"] and not r["resellable_known"].astype(str).eq("True").any()
    assert "refunded in full" in r.loc["#1004", "reason_text"]
    assert any("2 refunded orders → 2 returns rows" in n for n in result.notes)


def test_uci_credit_notes_become_returns_of_earlier_purchases(tmp_path):
    result = import_export("uci_online_retail", UCI_ISO, tmp_path / "u", store={"currency": "GBP"}, cost_ratio=0.5)
    r = load_dataset(tmp_path / "u").returns
    # C900402 credits 2 of the 12 lanterns 17850 bought on 900400; C900405 (13047) has no earlier purchase.
    assert r[["order_id", "sku", "quantity", "refund_amount", "credit_note"]].values.tolist() == [
        ["900400", "10001A", 2, 5.1, "C900402"]]
    assert r["returned_at"].tolist() == [pd.Timestamp("2010-12-02 10:00")]
    assert any("1 of 2 became returns" in n and "1 lines with no earlier purchase" in n for n in result.notes)
    off = import_export("uci_online_retail", UCI_ISO, tmp_path / "v", store={"currency": "GBP"}, credit_notes=False)
    assert "returns" not in off


# --------------------------------------------------------------------------------------------------- purchase orders
PO_DIR = FIX / "purchase_orders"


def test_purchase_orders_from_an_erp_export_with_a_mapping(tmp_path):
    result = import_export("purchase_orders", PO_DIR / "erp_goods_receipts.csv", tmp_path / "erp",
                           mapping=PO_DIR / "erp_mapping.yaml")
    ds = load_dataset(tmp_path / "erp")
    po = pd.read_csv(result["purchase_orders"], dtype=str).set_index("po_id")
    assert list(po.index) == ["000451", "000452", "000453", "000454", "000455"]     # leading zeros kept
    assert po.loc["000451", ["qty_ordered", "qty_received", "qty_rejected", "received_at", "source_rows"]].tolist() \
        == ["100", "100.0", "2.0", "2026-09-25 00:00:00", "2"]                    # two receipts, one line
    assert pd.isna(po.loc["000455", "received_at"]) and pd.isna(po.loc["000455", "qty_received"])    # still open
    assert ds.suppliers.set_index("supplier_id")["country"].to_dict() == {"S-007": "CN", "S-011": "DE"}
    assert ds.suppliers.set_index("supplier_id").loc["S-011", "supplier_name"] == "'=Alpine Gear GmbH"
    notes = "\n".join(result.notes)
    assert "1 rows left out — the export's total line" in notes and "1 rows with an empty po_id, sku" in notes
    assert "1 lines left out — promised before ordered" in notes            # 000457
    assert "1 lines left out — agreed unit cost ≥ 1,000 × the SKU's median" in notes     # 000456 at 1,150.00
    assert set(result.dropped["reason"].str.split(":").str[0]) == {"purchase_orders"}


def test_purchase_orders_malformed_and_mapping_without_the_table(tmp_path):
    with pytest.raises(ExportFormatError) as info:
        import_export("purchase_orders", PO_DIR / "erp_goods_receipts_malformed.csv", tmp_path / "a",
                      mapping=PO_DIR / "erp_mapping.yaml")
    assert "erp_goods_receipts_malformed.csv" in str(info.value) and "column 'Qty Ordered'" in str(info.value)
    assert "row 2: 'ten'" in str(info.value) and "Fix:" in str(info.value)
    with pytest.raises(MappingFileError, match="needs a `purchase_orders:` table"):
        import_export("purchase_orders", PO_DIR / "erp_goods_receipts.csv", tmp_path / "b",
                      mapping=example_mapping("taobao_orders"))


def test_mapping_filter_rule_errors(tmp_path):
    m = load_mapping(PO_DIR / "erp_mapping.yaml")
    bad = {**m, "tables": {"purchase_orders": {**m["tables"]["purchase_orders"], "drop": [{"column": "PO Number"}]}}}
    with pytest.raises(MappingFileError, match=r"drop\[0\]: give exactly one of `values`"):
        load_mapping(bad)
    bad["tables"]["purchase_orders"]["drop"] = [{"column": "PO Number", "values": ["x"], "why": "?"}]
    with pytest.raises(MappingFileError, match="unknown key"):
        load_mapping(bad)
    bad["tables"]["purchase_orders"]["drop"] = []
    bad["tables"]["purchase_orders"]["columns"] = {**m["tables"]["purchase_orders"]["columns"],
                                                   "weight": {"column": "Line", "type": "kg"}}
    with pytest.raises(MappingFileError, match="type"):
        load_mapping(bad)


def test_reference_scms_purchase_orders(reference, tmp_path):
    src = reference / "usaid_scms_supply_chain_shipments" / "SCMS_Delivery_History_Dataset.csv"
    result = import_export("purchase_orders", src, tmp_path / "scms", mapping="usaid_scms")
    po = pd.read_csv(result["purchase_orders"], dtype={"po_id": str})
    notes = "\n".join(result.notes)
    # PROVENANCE: 'PO Sent to Vendor Date' is N/A - From RDC in 5,404 rows and Date Not Captured in 328 rows
    assert "5,404 rows left out — shipped from SCMS's own regional distribution centre stock" in notes
    assert "328 rows left out — the date the PO was sent to the vendor was not captured" in notes
    out_of_order = result.dropped[result.dropped["reason"].str.contains("dates out of order")]
    # every one of the 10,324 lines is accounted for: imported (summed per PO line) or left out with a reason
    assert po["source_rows"].sum() + 5_404 + 328 + len(out_of_order) == 10_324 and len(out_of_order) == 5
    assert len(result.dropped[result.dropped["reason"].str.contains("RDC|not captured")]) == 5_404 + 328
    assert len(po) == 3_665 and po["source_rows"].sum() == 4_587
    assert po["po_id"].str.startswith("SCMS-").all() and po["supplier_id"].nunique() == 68    # 73 − RDC − 4
    sup = pd.read_csv(result["suppliers"])
    assert len(sup) == 68 and "SCMS from RDC" not in set(sup["supplier_id"])
    assert po["freight_cost_usd"].str.startswith("See ASN-").any()             # text kept as text


# --------------------------------------------------------------------------------------------------- GA4
GA4 = FIX / "ga4"
GA4_STORE = {"currency": "GBP", "timezone": "Asia/Shanghai"}


@pytest.fixture(scope="module")
def ga4_daily(tmp_path_factory):
    out = tmp_path_factory.mktemp("ga4") / "shop"
    result = import_export("ga4", GA4 / "daily", out, store=GA4_STORE)
    return result, pd.read_csv(result["events"], dtype=str)


def test_ga4_daily_ndjson_folder_to_events(ga4_daily):
    result, ev = ga4_daily
    assert len(ev) == 12 and ev["session_id"].nunique() == 5                 # first_visit without a session: out
    assert ev["event_time"].iloc[0] == "2026-11-01 17:00:00"                  # 09:00 UTC in Shanghai (+8)
    s1 = ev[ev["session_id"] == "1234567890.1730450000.1730450000"]
    assert s1["event_name"].tolist() == ["session_start", "page_view", "view_item", "add_to_cart", "purchase"]
    assert set(s1["channel"]) == {"paid_search"} and s1["campaign"].iloc[0] == "Brand - Search"
    purchase = s1[s1["event_name"] == "purchase"].iloc[0]
    assert purchase[["sku", "transaction_id", "n_items", "login_id"]].tolist() == ["0042-BLK", "#1001", "2", "cust-17"]
    # the same user's next session is another session, with its own channel
    assert ev.loc[ev["session_id"] == "1234567890.1730450000.1730534400", "channel"].tolist() == ["organic"]
    # a session crossing midnight into the next daily file keeps its channel
    assert ev.loc[ev["user_id"] == "888.999", "channel"].tolist() == ["email"] * 3
    assert ev.loc[ev["user_id"] == "666.777", ["channel", "device"]].values.tolist() == [["social", np.nan]]
    assert ev.loc[ev["user_id"] == "222.333", "sku"].tolist()[1] == "'=HYPERLINK(\"http://x\")"
    notes = "\n".join(result.notes)
    assert "12 events of 5 sessions from 2 file(s)" in notes and "1 events without a ga_session_id" in notes
    assert "smart tv" in notes and "events 1" in notes
    assert load_dataset(result.folder, tables=["events"]).events["device"].isna().sum() == 1


@pytest.mark.parametrize("name", ["bq_console_results.json", "events_20261101_02.parquet"])
def test_ga4_json_array_with_string_int64_and_parquet_read_the_same(ga4_daily, tmp_path, name):
    ev = pd.read_csv(import_export("ga4", GA4 / name, tmp_path / "x", store=GA4_STORE)["events"], dtype=str)
    pd.testing.assert_frame_equal(ev, ga4_daily[1])


def test_ga4_streams_in_small_batches_with_the_same_result(ga4_daily, tmp_path):
    ev = pd.read_csv(import_export("ga4", GA4 / "daily", tmp_path / "x", store=GA4_STORE, batch_size=2)["events"],
                     dtype=str)
    pd.testing.assert_frame_equal(ev, ga4_daily[1])


def test_ga4_errors(tmp_path):
    with pytest.raises(ExportFormatError) as info:
        import_export("ga4", GA4 / "malformed" / "events_bad_timestamp.json", tmp_path / "a", store=GA4_STORE)
    msg = str(info.value)
    assert "events_bad_timestamp.json" in msg and "column 'event_timestamp'" in msg and "row 1: 'yesterday'" in msg
    with pytest.raises(ImportOptionError, match="--timezone"):
        import_export("ga4", GA4 / "daily", tmp_path / "b", store={"currency": "GBP"})
    with pytest.raises(ExportFormatError, match="neither newline-delimited JSON"):
        import_export("ga4", SHOPIFY, tmp_path / "c", store=GA4_STORE)
    assert not (tmp_path / "a").exists() and not list(tmp_path.glob(".*"))


def test_default_channel_grouping_rules():
    from ecomlib.importers.ga4 import default_channel
    src = pd.Series(["google", "google", None, "facebook", "m.facebook.com", "newsletter", "partner", "youtube.com",
                     "baidu", "blog.example", "weird"])
    med = pd.Series(["cpc", "organic", None, "cpc", "referral", "email", "affiliate", "referral", "organic",
                     "referral", "qr"])
    assert default_channel(src, med).tolist() == ["paid_search", "organic", "direct", "paid_social", "social",
                                                  "email", "affiliate", "video", "organic", "referral", "other"]
    assert default_channel(pd.Series(["(direct)"]), pd.Series(["(none)"]),
                           gclid=pd.Series(["EAIa"])).tolist() == ["paid_search"]


# --------------------------------------------------------------------------------------------------- transactions
TX = FIX / "transactions"


def test_transactions_fixed_width_cdnow_style(tmp_path):
    result = import_export("transactions", TX / "cdnow_style_fixed_width.txt", tmp_path / "t",
                           store={"currency": "USD"})
    o = load_dataset(tmp_path / "t").orders.set_index("order_id")
    assert list(o.index[:3]) == ["00001-19970101-1", "00004-19970101-1", "00004-19970101-2"]
    assert o.loc["00002-19970112-2", ["customer_id", "revenue", "quantity"]].tolist() == ["00002", 77.0, 5]
    assert len(o) == 10 and o["revenue"].sum() == pytest.approx(277.94) and set(o["status"]) == {"completed"}
    notes = "\n".join(result.notes)
    assert "1 rows repeat an earlier row exactly" in notes and "2 rows are a customer's second" in notes
    assert "1 orders have an amount of 0" in notes
    merged = import_export("transactions", TX / "cdnow_style_fixed_width.txt", tmp_path / "m",
                           store={"currency": "USD"}, merge_same_day="true")
    m = pd.read_csv(merged["orders"], dtype=str).set_index("order_id")
    assert m.loc["00002-19970112", ["revenue", "quantity", "source_rows"]].tolist() == ["89.0", "6", "2"]


def test_transactions_delimited_with_named_columns_and_refunds(tmp_path):
    result = import_export("transactions", TX / "pos_log_semicolon.csv", tmp_path / "p", store={"currency": "EUR"},
                           columns={"customer": "Client", "date": "Purchase date", "amount": "Total (EUR)"},
                           decimal=",")
    o = pd.read_csv(result["orders"], dtype=str)
    assert o["customer_id"].tolist() == ["007", "0042", "007"]               # ="007"-style marker removed
    assert o["revenue"].astype(float).tolist() == [1234.5, 45.1, 99.0]
    assert o["order_id"].tolist() == ["007-20260301-1", "0042-20260305-1", "007-20260309-1"]
    assert any("1 rows with a negative amount (refunds; -20.00)" in n for n in result.notes)
    assert result.dropped["row"].tolist() == [3]


def test_transactions_headerless_and_malformed(tmp_path):
    with pytest.raises(ExportFormatError) as info:
        import_export("transactions", TX / "no_header_malformed.csv", tmp_path / "a", store={"currency": "USD"},
                      names=["customer", "date", "amount"])
    msg = str(info.value)
    assert "no_header_malformed.csv" in msg and "column 'amount'" in msg and "row 2: 'abc'" in msg
    with pytest.raises(ExportFormatError, match="no column 'customer_id'.*--option"):
        import_export("transactions", TX / "no_header_malformed.csv", tmp_path / "b", store={"currency": "USD"})
    with pytest.raises(ImportOptionError, match="--currency"):
        import_export("transactions", TX / "cdnow_style_fixed_width.txt", tmp_path / "c")


def test_reference_cdnow_master_inside_lifetimes(tmp_path):
    lifetimes = pytest.importorskip("lifetimes")
    cdnow = Path(lifetimes.__file__).parent / "datasets" / "CDNOW_master.txt"
    result = import_export("transactions", cdnow, tmp_path / "cdnow", store={"currency": "USD"})
    o = pd.read_csv(result["orders"], dtype={"customer_id": str})
    # published: 69,659 transactions of 23,570 customers, 1997-01-01 … 1998-06-30 (Fader, Hardie & Lee 2005)
    assert len(o) == 69_659 and o["customer_id"].nunique() == 23_570
    assert o["order_time"].min().startswith("1997-01-01") and o["order_time"].max().startswith("1998-06-30")
    assert o["customer_id"].str.len().eq(5).all()                          # 00001 stays 00001


# --------------------------------------------------------------------------------------------------- mapping grows
def test_mapping_reads_a_named_xlsx_sheet_and_keeps_ids_as_text(tmp_path):
    xlsx = FIX / "orders_two_sheets.xlsx"
    result = import_export("mapping", xlsx, tmp_path / "x", mapping=FIX / "orders_xlsx_mapping.yaml")
    o = pd.read_csv(result["orders"], dtype=str)
    assert o["order_id"].tolist() == ["17841", "17842", "17843"]                      # not 17841.0
    assert o["customer_id"].tolist()[:2] == ["00123", "00124"]                         # leading zeros kept
    assert o["customer_id"].iloc[2] == "'@cmd|' /C calc'!A0"                          # neutralised
    assert o["order_time"].tolist()[0] == "2026-11-01 09:30:00"
    assert pd.read_csv(result["order_items"], dtype=str)["sku"].tolist() == ["A-1", "100000", "A-1"]   # not 1E+05
    assert any("read as xlsx" in n for n in result.notes)
    with pytest.raises(ExportFormatError):          # the first sheet is a title page, not the orders
        import_export("mapping", xlsx, tmp_path / "y", mapping=FIX / "orders_xlsx_mapping.yaml", sheet="Summary")
    with pytest.raises(ImportOptionError, match="no sheet 'Nope'.*Summary, Orders"):
        import_export("mapping", xlsx, tmp_path / "z", mapping=FIX / "orders_xlsx_mapping.yaml", sheet="Nope")


def test_mapping_optional_columns_need_no_null_value(tmp_path):
    src = tmp_path / "promo.csv"
    src.write_text("code,title,from,to\nP1,Spring,2026-03-01,2026-03-07\nP1,Spring,2026-03-01,2026-03-07\n",
                   encoding="utf-8")
    mapping = {"store": {"currency": "EUR"}, "tables": {"ad_spend": {"aggregate": True, "columns": {
        "date": "from", "channel": {"value": "email"}, "campaign": "code", "impressions": {"value": 0},
        "clicks": {"value": 0}, "spend": {"value": 0}}}}}
    ads = pd.read_csv(import_export("mapping", src, tmp_path / "o", mapping=mapping)["ad_spend"])
    assert list(ads.columns[:8]) == ["date", "channel", "campaign", "impressions", "clicks", "spend",
                                     "platform_conversions", "platform_revenue"]      # optional: present, empty
    assert len(ads) == 1 and ads["platform_revenue"].isna().all() and ads["source_rows"].tolist() == [2]


def test_reference_facebook_kag_to_ad_spend(reference, tmp_path):
    src = reference / "facebook_ad_conversion_kag" / "KAG_conversion_data.csv"
    result = import_export("mapping", src, tmp_path / "kag", mapping="facebook_kag")
    ads = pd.read_csv(result["ad_spend"], dtype={"campaign": str}).set_index("campaign")
    # PROVENANCE: per campaign (Spent, Clicks, Approved_Conversion); totals Impressions 213,434,828
    assert ads["spend"].round(2).to_dict() == {"916": 149.71, "936": 2893.37, "1178": 55662.15}
    assert ads["clicks"].to_dict() == {"916": 113, "936": 1984, "1178": 36068}
    assert ads["platform_conversions"].to_dict() == {"916": 24.0, "936": 183.0, "1178": 872.0}
    assert ads["impressions"].sum() == 213_434_828 and ads["source_rows"].sum() == 1_143
    assert ads["enquiries"].sum() == 3_264


def test_uci_duplicates_and_price_slips_are_counted_and_kept_out(tmp_path):
    merged = import_export("uci_online_retail", UCI_ISO, tmp_path / "m", store={"currency": "GBP"})
    assert any("1 rows repeat an earlier row exactly" in n and "duplicates=drop" in n for n in merged.notes)
    dropped = import_export("uci_online_retail", UCI_ISO, tmp_path / "d", store={"currency": "GBP"},
                            duplicates="drop")
    items = pd.read_csv(dropped["order_items"], dtype=str).set_index(["order_id", "sku"])
    assert items.loc[("900400", "10001A"), "quantity"] == "6"
    assert "an exact repeat of an earlier row (duplicate export row)" in set(dropped.dropped["reason"])
    slip = tmp_path / "slip.csv"
    slip.write_text(UCI_ISO.read_text(encoding="utf-8") + "900407,10002,BLUE TEA TIN,1,2011-01-06 10:00:00,"
                    "10236524.00,12583.0,France\n900408,10002,BLUE TEA TIN,1,2011-01-07 10:00:00,3.39,12583.0,"
                    "France\n", encoding="utf-8")
    result = import_export("uci_online_retail", slip, tmp_path / "s", store={"currency": "GBP"})
    why = result.dropped.set_index("order_id")["reason"]
    assert why["900407"].startswith("a unit price ≥ 1,000 × the stock code's median")
    assert any("dropped 1 rows with a unit price ≥ 1,000" in n for n in result.notes)


def test_reference_uci_ii_raw_slice_corrupted_price_is_kept_out(reference, tmp_path):
    raw = reference / "uci_online_retail_ii" / "raw_as_found" / "online_retail_2009.csv"
    result = import_export("uci_online_retail", raw, tmp_path / "raw", store={"currency": "GBP"},
                           date_format="dayfirst")
    slips = result.dropped[result.dropped["reason"].str.startswith("a unit price")]
    # PROVENANCE: invoice 489875 / StockCode 22356 has Price " 10,236,524.00 " in the raw slice (0.85 elsewhere)
    assert slips[["order_id", "sku", "unit_price"]].values.tolist() == [["489875", "22356", 10_236_524.0]]


def test_add_tables_to_an_existing_dataset_keeps_the_others(tmp_path):
    shop = tmp_path / "shop"
    import_export("uci_online_retail", UCI_ISO, shop, store={"currency": "USD", "timezone": "Europe/London",
                                                             "name": "gift shop"})
    before = {p.name: p.read_bytes() for p in shop.iterdir()}
    result = import_export("google_ads", ADS / "google_ads_campaigns_daily.csv", shop, add="true")
    assert sorted(result) == ["ad_spend"]
    ds = load_dataset(shop)
    assert ds.ad_spend is not None and ds.orders is not None and ds.store.name == "gift shop"
    assert {p.name: p.read_bytes() for p in shop.iterdir() if p.name in before} == before   # untouched
    with pytest.raises(ImportOptionError, match="is a USD dataset but this import's amounts are in EUR"):
        import_export("meta_ads", ADS / "meta_ads_eur_malformed.csv", shop, add=True, store={"currency": "EUR"})
    with pytest.raises(ImportOptionError, match="--option add=true"):
        import_export("google_ads", ADS / "google_ads_campaigns_daily.csv", shop)
    assert load_dataset(shop).ad_spend is not None


def test_ga4_events_added_to_a_dataset_use_its_time_zone(tmp_path):
    shop = tmp_path / "shop"
    import_export("uci_online_retail", UCI_ISO, shop, store={"currency": "GBP", "timezone": "Asia/Shanghai"})
    result = import_export("ga4", GA4 / "daily", shop, add=True)
    ds = load_dataset(shop)
    assert len(ds.events) == 12 and ds.orders is not None
    assert ds.events["event_time"].min() == pd.Timestamp("2026-11-01 17:00")        # the dataset's zone (+8)
    assert not list(Path(result["events"]).parent.glob(".*"))


def test_amazon_returns_never_exceed_the_units_sold(tmp_path):
    shop = _amazon_shop(tmp_path / "shop")
    items = pd.read_csv(shop / "order_items.csv", dtype={"order_id": str, "sku": str})
    items.loc[items["sku"] == "00123", "quantity"] = 1                  # sold 1, the report returns 2
    items.to_csv(shop / "order_items.csv", index=False)
    result = import_export("amazon_returns", AMAZON, shop, orders=shop, add=True)
    r = load_dataset(shop).returns.set_index("sku")
    assert r.loc["00123", ["quantity", "refund_amount"]].tolist() == [1, 15.0]
    assert any("1 returns would take the order line's returned units above the units sold" in n
               for n in result.notes)
