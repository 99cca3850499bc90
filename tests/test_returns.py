"""Tests of the return-cause review: rates by sale period, reason mapping, culprits, mix test, cost, sentences."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from ecomlib import Messages, returns
from ecomlib.periods import Period, parse_period
from ecomlib.returns import RulesError

EN, ZH = Messages("en", currency="CNY"), Messages("zh", currency="CNY")
T = pd.Timestamp


# Hand-made stores ---------------------------------------------------------------------------------------------
def _store():
    """Two weeks of sales: week of 2026-01-05 (W02) and of 2026-01-12 (W03); one cancelled order."""
    products = pd.DataFrame({"sku": ["A", "B", "C"], "product_name": ["Alpha", "Beta", "中文 Gamma"],
                             "category": ["X", "X", "Y"], "supplier_id": ["S1", "S1", "S2"],
                             "unit_cost": [40.0, 20.0, 10.0]})
    suppliers = pd.DataFrame({"supplier_id": ["S1", "S2"], "supplier_name": ["One", "二号 Two"]})
    orders = pd.DataFrame({
        "order_id": ["O1", "O2", "O3", "O4"],
        "order_time": [T("2026-01-05 10:00"), T("2026-01-06 11:00"), T("2026-01-13 09:00"), T("2026-01-14 09:00")],
        "channel": pd.Categorical(["web", "app", "web", "web"]),
        "status": pd.Categorical(["completed", "completed", "completed", "cancelled"]),
        "shipping_fee": [10.0, 0.0, 10.0, 0.0]})
    items = pd.DataFrame({"order_id": ["O1", "O1", "O2", "O3", "O3", "O4"], "sku": ["A", "C", "B", "A", "C", "A"],
                          "quantity": [2, 1, 4, 1, 3, 5], "unit_price": [100.0, 50.0, 30.0, 100.0, 50.0, 100.0]})
    rets = pd.DataFrame({
        "return_id": ["R1", "R2", "R3"], "order_id": ["O1", "O2", "O3"], "sku": ["A", "B", "C"],
        "returned_at": [T("2026-01-20 12:00"), T("2026-01-08 12:00"), T("2026-01-16 12:00")],
        "quantity": [1, 2, 1], "reason_code": ["DEFECTIVE", None, "SIZE_TOO_SMALL"],
        "reason_text": [None, "尺码偏小", None], "refund_amount": [100.0, 60.0, 50.0],
        "resellable": [False, True, True]})
    return orders, items, products, suppliers, rets


@pytest.fixture()
def store():
    orders, items, products, suppliers, rets = _store()
    sold = returns.sold_lines(orders, items, products, suppliers=suppliers)
    return sold, returns.return_lines(rets, sold)


def _sales(spec: dict[str, tuple[str, str, int, int]], reason: str = "DEFECTIVE") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sold lines and returns from {sku: (category, supplier, units sold, units returned)}: one order line per sold
    unit, the first `returned` of them returned with `reason`."""
    skus = pd.DataFrame([(k, *v) for k, v in spec.items()], columns=["sku", "category", "supplier_id", "sold", "ret"])
    lines = skus.loc[skus.index.repeat(skus["sold"])].reset_index(drop=True)
    lines["n"] = lines.groupby("sku").cumcount()
    lines["order_id"] = "O-" + lines["sku"] + "-" + lines["n"].astype(str)
    sold = pd.DataFrame({"order_id": lines["order_id"], "sku": lines["sku"], "quantity": 1, "unit_price": 10.0,
                         "order_time": T("2026-01-05"), "channel": "web", "status": "completed", "shipping_fee": 0.0,
                         "product_name": "P " + lines["sku"], "category": lines["category"],
                         "supplier_id": lines["supplier_id"], "unit_cost": 4.0,
                         "supplier_name": "N " + lines["supplier_id"]})
    back = lines[lines["n"] < lines["ret"]]
    rets = pd.DataFrame({"return_id": "R-" + back["order_id"], "order_id": back["order_id"], "sku": back["sku"],
                         "returned_at": T("2026-01-15"), "quantity": 1, "reason_code": reason, "reason_text": None,
                         "refund_amount": 10.0, "resellable": False})
    return sold, returns.return_lines(rets, sold)


# Rates, matched to the sale -----------------------------------------------------------------------------------
def test_rates_overall_by_category_and_orders(store):
    sold, ret = store
    total = returns.return_rates(sold, ret)
    # Cancelled O4 is not a sale: units sold = 2 + 1 + 4 + 1 + 3 = 11; returned 1 + 2 + 1 = 4.
    assert total.loc[0, "units_sold"] == 11 and total.loc[0, "units_returned"] == 4
    assert total.loc[0, "unit_rate"] == pytest.approx(4 / 11)
    assert total.loc[0, "unit_rate_low"] < 4 / 11 < total.loc[0, "unit_rate_high"]
    assert total.loc[0, "order_rate"] == pytest.approx(3 / 3)  # O1, O2, O3 all had a return
    cat = returns.return_rates(sold, ret, by="category").set_index("category")
    # X: A 2 + B 4 + A 1 = 7 sold, 1 + 2 = 3 returned; orders with X: O1, O2, O3, with an X return: O1, O2.
    assert cat.loc["X", ["units_sold", "units_returned", "orders", "orders_returned"]].tolist() == [7, 3, 3, 2]
    # Y: C 1 + 3 = 4 sold, 1 returned; orders O1, O3, with a Y return: O3.
    assert cat.loc["Y", "unit_rate"] == pytest.approx(1 / 4) and cat.loc["Y", "order_rate"] == pytest.approx(1 / 2)
    assert cat.loc["X", "refund_amount"] == pytest.approx(160.0)
    sup = returns.return_rates(sold, ret, by="supplier_id", reason="quality_defect").set_index("supplier_id")
    assert sup.loc["S1", "units_returned"] == 1 and sup.loc["S2", "units_returned"] == 0  # only R1 is a defect


def test_rates_count_returns_in_the_week_goods_were_sold(store):
    sold, ret = store
    trend = returns.rate_trend(sold, ret, as_of="2026-01-26", maturity_days=14).set_index("cohort")
    # R1 arrives in the week of Jan 19 but belongs to the sale of Jan 5: W02 = (1 + 2) / 7 units; W03 = 1 / 4.
    assert trend.loc[T("2026-01-05"), "unit_rate"] == pytest.approx(3 / 7)
    assert trend.loc[T("2026-01-12"), "unit_rate"] == pytest.approx(1 / 4)
    assert T("2026-01-19") not in trend.index
    # Maturity cut-off = Jan 26 - 14 days = Jan 12: W02 (ends Jan 12) is mature, W03 (ends Jan 19) is provisional.
    assert trend["provisional"].tolist() == [False, True]
    # Read on Jan 19, R1 (Jan 20) is not known yet: W02 = 2 / 7.
    early = returns.rate_trend(sold, ret, as_of="2026-01-19", maturity_days=14).set_index("cohort")
    assert early.loc[T("2026-01-05"), "unit_rate"] == pytest.approx(2 / 7)
    monthly = returns.rate_trend(sold, ret, as_of="2026-03-01", freq="M")
    assert monthly["cohort"].tolist() == [T("2026-01-01")] and monthly["cohort_end"].tolist() == [T("2026-02-01")]


def test_window_selects_sales_not_returns(store):
    sold, ret = store
    week3 = Period(T("2026-01-12"), T("2026-01-19"))
    r = returns.return_rates(sold, ret, window=week3)
    assert (r.loc[0, "units_sold"], r.loc[0, "units_returned"]) == (4, 1)  # O3 only: A 1 + C 3, R3
    week2 = Period(T("2026-01-05"), T("2026-01-12"))
    change = returns.window_change(sold, ret, window=week3, previous=week2, by=None)
    assert change.loc[0, "unit_rate_prev"] == pytest.approx(3 / 7)
    assert change.loc[0, "diff"] == pytest.approx(1 / 4 - 3 / 7)
    assert change.loc[0, "p_adjusted"] >= change.loc[0, "p_value"]


def test_sales_window_ends_maturity_days_before_the_period_end():
    # 2026-W47 ends (exclusive) Nov 23; minus 30 days = Oct 24 (exclusive end); minus 90 days = Jul 26.
    w = returns.sales_window(parse_period("2026-W47"), window_days=90, maturity_days=30)
    assert (w.start, w.end, w.days) == (T("2026-07-26"), T("2026-10-24"), 90)
    assert w.previous().start == T("2026-04-27")


def test_argument_errors_say_what_is_allowed(store):
    sold, ret = store
    with pytest.raises(ValueError, match="window_days must be at least 1"):
        returns.sales_window(parse_period("2026-W47"), window_days=0)
    with pytest.raises(ValueError, match="maturity_days must be 0 or more"):
        returns.sales_window(parse_period("2026-W47"), maturity_days=-1)
    with pytest.raises(ValueError, match=r"freq must be one of \['W', 'M'\]"):
        returns.rate_trend(sold, ret, as_of="2026-02-01", freq="D")
    with pytest.raises(ValueError, match=r"by must be one of \['sku', 'supplier_id'\]"):
        returns.excess_returns(sold, ret, by="category")
    with pytest.raises(ValueError, match="min_units must be at least 1"):
        returns.excess_returns(sold, ret, min_units=0)
    with pytest.raises(ValueError, match="unknown reason 'defect'; reasons are"):
        returns.return_rates(sold, ret, reason="defect")
    with pytest.raises(ValueError, match="are not order statuses"):
        returns.sold_lines(*_store()[:3], statuses=["shipped"])
    with pytest.raises(ValueError, match="shipping_cost must be ≥ 0"):
        returns.return_costs(ret, shipping_cost=-1)


def test_return_lines_attach_sale_and_flag_unmatched():
    orders, items, products, suppliers, rets = _store()
    sold = returns.sold_lines(orders, items, products, suppliers=suppliers)
    extra = pd.DataFrame({"return_id": ["R9"], "order_id": ["O4"], "sku": ["A"], "returned_at": [T("2026-01-20")],
                          "quantity": [1], "reason_code": [None], "reason_text": [None], "refund_amount": [0.0],
                          "resellable": [True]})
    ret = returns.return_lines(pd.concat([rets, extra], ignore_index=True), sold, as_of="2026-01-20")
    # as_of drops R1 and R9 (both at or after Jan 20 12:00 / 00:00).
    assert sorted(ret["return_id"]) == ["R2", "R3"]
    ret = returns.return_lines(pd.concat([rets, extra], ignore_index=True), sold)
    r9 = ret.set_index("return_id").loc["R9"]
    assert not r9["matched"] and r9["category"] == "X"  # the cancelled order's line is no sale
    r1 = ret.set_index("return_id").loc["R1"]
    assert r1["days_to_return"] == pytest.approx(15 + 2 / 24) and r1["supplier_name"] == "One"
    assert returns.return_rates(sold, ret).loc[0, "units_returned"] == 4  # R9 does not enter the rates


# Reason mapping -----------------------------------------------------------------------------------------------
def _map(codes, texts, rules=None):
    df = pd.DataFrame({"reason_code": pd.Series(codes, dtype="str"), "reason_text": pd.Series(texts, dtype="str")})
    return returns.map_reasons(df, rules=rules)


def test_platform_codes_map_to_the_taxonomy():
    cases = {"SIZE_TOO_SMALL": "size_fit", "COLOR": "changed_mind", "STYLE": "changed_mind", "UNKNOWN": "other",
             "WRONG_ITEM": "wrong_item", "DEFECTIVE": "quality_defect", "APPAREL_TOO_LARGE": "size_fit",
             "DAMAGED_BY_FC": "damaged_in_transit", "MISSING_PARTS": "quality_defect", "SWITCHEROO": "other",
             "NEVER_ARRIVED": "late_delivery", "EXTRA_ITEM": "wrong_item", "FOUND_BETTER_PRICE": "changed_mind",
             " size too small": "size_fit", "size-too-large": "size_fit", "not_as_described": "not_as_described"}
    out = _map(list(cases), [None] * len(cases))
    assert out["reason"].astype(str).tolist() == list(cases.values())
    assert set(out["reason_source"]) == {"code"}


def test_every_listed_shopify_and_amazon_code_is_mapped():
    shopify = "COLOR DEFECTIVE NOT_AS_DESCRIBED OTHER SIZE_TOO_LARGE SIZE_TOO_SMALL STYLE UNKNOWN UNWANTED WRONG_ITEM"
    amazon = ("APPAREL_TOO_SMALL APPAREL_TOO_LARGE APPAREL_STYLE DEFECTIVE QUALITY_UNACCEPTABLE DAMAGED_BY_CARRIER "
              "DAMAGED_BY_FC NOT_AS_DESCRIBED MISSING_PARTS SWITCHEROO UNWANTED_ITEM ORDERED_WRONG_ITEM NOT_COMPATIBLE "
              "FOUND_BETTER_PRICE NO_REASON_GIVEN MISORDERED UNDELIVERABLE_UNKNOWN EXTRA_ITEM NEVER_ARRIVED")
    codes = (shopify + " " + amazon).split()
    rules = returns.load_rules()
    assert set(codes) <= set(rules.codes)
    assert (_map(codes, [None] * len(codes))["reason"] != returns.UNMAPPED).all()


def test_free_text_in_chinese_and_english():
    cases = {"质量问题，开线了": "quality_defect", "用了两天就坏了": "quality_defect", "收到时包装破损": "damaged_in_transit",
             "尺码偏大，不合身": "size_fit", "与描述不符": "not_as_described", "色差严重": "not_as_described",
             "发错货了": "wrong_item", "物流太慢": "late_delivery", "七天无理由": "changed_mind", "不想要了": "changed_mind",
             "STOPPED WORKING": "quality_defect", "Poor quality, broke": "quality_defect", "runs large": "size_fit",
             "arrived damaged": "damaged_in_transit", "Colour differs from photos": "not_as_described",
             "received the wrong item": "wrong_item", "Arrived too late": "late_delivery",
             "changed my mind": "changed_mind", "ＤＥＦＥＣＴＩＶＥ": "quality_defect",  # full-width letters
             "it doesn’t fit": "size_fit",  # typographic apostrophe
             # priority: transit words win over defect words, whatever their order in the text
             "stopped working, and it arrived damaged": "damaged_in_transit",
             # English keywords start a word: "late" is not found inside "chocolate"
             "chocolate melted": returns.UNMAPPED, "": returns.UNMAPPED}
    out = _map([None] * len(cases), list(cases))
    assert out["reason"].astype(str).tolist() == list(cases.values())
    assert out["reason_source"].astype(str).tolist()[:3] == ["text"] * 3


def test_code_beats_text_unless_the_code_says_nothing():
    out = _map(["SIZE_TOO_SMALL", "OTHER", "OTHER", "NO_SUCH_CODE", None, "NO_SUCH_CODE"],
               ["poor quality", "质量很差", None, None, None, "发错货"])
    assert out["reason"].astype(str).tolist() == ["size_fit", "quality_defect", "other", "unmapped", "unmapped",
                                                  "wrong_item"]
    assert out["reason_source"].astype(str).tolist() == ["code", "text", "code", "none", "none", "text"]


def test_unmapped_share_and_values(store):
    orders, items, products, suppliers, rets = _store()
    rets = pd.concat([rets, rets.assign(return_id=["U1", "U2", "U3"], reason_code=["ZZZ", None, None],
                                        reason_text=[None, "chocolate melted", "chocolate melted"])], ignore_index=True)
    sold = returns.sold_lines(orders, items, products, suppliers=suppliers)
    ret = returns.return_lines(rets, sold)
    flow = returns.period_summary(ret, Period(T("2026-01-01"), T("2026-02-01")))
    # 6 returns received in January, 3 unmapped (ZZZ, twice "chocolate melted"); codes: DEFECTIVE, SIZE_TOO_SMALL
    # (ZZZ maps to nothing, so its source is none): 2 / 6 by code, 1 / 6 by text (尺码偏小).
    assert (flow["returns"], flow["unmapped"]) == (6, 3)
    assert flow["unmapped_share"] == pytest.approx(0.5) and flow["code_share"] == pytest.approx(2 / 6)
    assert flow["text_share"] == pytest.approx(1 / 6) and flow["refund_amount"] == pytest.approx(2 * 210.0)
    values = returns.unmapped_values(ret)
    assert values.iloc[0]["reason_text"] == "chocolate melted" and values.iloc[0]["returns"] == 2
    assert values["returns"].sum() == 3
    assert np.isnan(returns.period_summary(ret, Period(T("2027-01-01"), T("2027-01-08")))["unmapped_share"])


# Rules files --------------------------------------------------------------------------------------------------
RULES = """priority: [quality_defect, size_fit]
codes:
  shopify: {DEFECTIVE: quality_defect}
keywords:
  quality_defect: [melted, 坏]
  size_fit: [size]
"""


def test_an_analysts_rules_file_is_used(tmp_path):
    path = tmp_path / "my_rules.yaml"
    path.write_text(RULES, encoding="utf-8")
    rules = returns.load_rules(path)
    assert rules.label == str(path) and returns.load_rules().label == "ecomlib/rules/return_reasons.yaml"
    out = _map(["DEFECTIVE", None, None], [None, "chocolate melted", "wrong size and 坏了"], rules=str(path))
    # "wrong size and 坏了" matches both; quality_defect comes first in this file's priority.
    assert out["reason"].astype(str).tolist() == ["quality_defect", "quality_defect", "quality_defect"]


@pytest.mark.parametrize("text, where, words", [
    ("priority: [size_fit\n codes: {", "line", "not valid YAML"),
    ("- a\n- b\n", "(top level)", "not a mapping"),
    ("priority: [size_fit]\ncodes: {}\n", "keywords: missing", "the keys ['priority', 'codes', 'keywords']"),
    (RULES + "extra: 1\n", "extra: unknown key", "only the keys"),
    (RULES.replace("DEFECTIVE: quality_defect", "COLOR: colour"), "codes.shopify.COLOR", "unknown reason 'colour'"),
    (RULES.replace("[quality_defect, size_fit]", "[quality_defect, size_fit, size_fit]"), "priority",
     "lists 'size_fit' twice"),
    (RULES.replace("[quality_defect, size_fit]", "[quality_defect, sizes]"), "priority[1]", "unknown reason 'sizes'"),
    (RULES.replace("size_fit: [size]", "size_fit: size"), "keywords.size_fit", "a list of keywords"),
    (RULES.replace("[quality_defect, size_fit]", "[quality_defect]"), "keywords.size_fit", "is not in priority"),
    (RULES.replace("shopify: {DEFECTIVE: quality_defect}",
                   "shopify: {DEFECTIVE: quality_defect}\n  amazon: {defective: other}"),
     "codes.amazon.defective", "another platform maps it to 'quality_defect'"),
    (RULES.replace("keywords:\n", "keywords:\n  wrong: [x]\n"), "keywords.wrong", "unknown reason 'wrong'"),
])
def test_invalid_rules_files_name_the_key_and_what_is_expected(tmp_path, text, where, words):
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RulesError) as info:
        returns.load_rules(path)
    message = str(info.value)
    assert str(path) in message and where in message and words in message
    assert "expected" in message and "rules_path=None" in message
    assert info.value.path == str(path)


def test_missing_rules_file(tmp_path):
    with pytest.raises(RulesError, match="no such file; expected a YAML rules file"):
        returns.load_rules(tmp_path / "nope.yaml")


# Culprits -----------------------------------------------------------------------------------------------------
CULPRITS = {"A": ("X", "S1", 1000, 150), "B": ("X", "S1", 2, 1), "C": ("X", "S2", 1000, 100),
            "D": ("X", "S2", 1000, 100)}


def test_low_volume_sku_does_not_outrank_real_excess():
    sold, ret = _sales(CULPRITS)
    table = returns.excess_returns(sold, ret, by="sku", min_units=1).set_index("sku")
    # A: the rest of X (B, C, D) returns 201 / 2002 = 0.100400 → expected 100.40, excess 49.60, ratio 1.494.
    assert table.loc["A", "expected"] == pytest.approx(1000 * 201 / 2002)
    assert table.loc["A", "excess"] == pytest.approx(150 - 1000 * 201 / 2002)
    # B: rest (A, C, D) 350 / 3000 → expected 0.2333, excess 0.767, ratio 4.29 — larger ratio, tiny volume.
    assert table.loc["B", "ratio"] == pytest.approx(1 / (2 * 350 / 3000))
    assert table.loc["B", "ratio"] > table.loc["A", "ratio"]
    assert table.index[0] == "A" and table.index.get_loc("B") > 0
    assert table.loc["A", "significant"] and not table.loc["B", "significant"]
    assert table.loc["A", "baseline"] == "category" and table.loc["A", "main_reason"] == "quality_defect"
    # C: rest 251 / 2002 → expected 125.37: fewer returns than the norm.
    assert table.loc["C", "excess"] == pytest.approx(100 - 1000 * 251 / 2002)
    default = returns.excess_returns(sold, ret, by="sku")  # min_units = 100 leaves B out
    assert "B" not in set(default["sku"]) and default.iloc[0]["sku"] == "A"


def test_culprit_interval_is_the_exact_two_rate_comparison():
    sold, ret = _sales(CULPRITS)
    a = returns.excess_returns(sold, ret, by="sku", alpha=0.05).set_index("sku").loc["A"]
    # Independent check: given 150 + 201 returns, A's count is binomial with p = 1000 / 3002 under the null;
    # the Clopper-Pearson interval on p maps to the rate ratio as (p / (1 - p)) / (1000 / 2002).
    test = sps.binomtest(150, 351, 1000 / 3002, alternative="greater")
    ci = sps.binomtest(150, 351).proportion_ci(confidence_level=0.95, method="exact")
    to_ratio = lambda p: p / (1 - p) / (1000 / 2002)  # noqa: E731
    assert a["ratio_low"] == pytest.approx(to_ratio(ci.low), rel=1e-6)
    assert a["ratio_high"] == pytest.approx(to_ratio(ci.high), rel=1e-6)
    assert a["p_value"] == pytest.approx(test.pvalue, rel=1e-6)
    assert a["ratio_low"] > 1 and a["excess_low"] == pytest.approx(a["expected"] * (a["ratio_low"] - 1))


def test_supplier_alone_in_its_category_is_compared_with_the_rest_of_the_store():
    sold, ret = _sales({"a1": ("X", "S1", 1000, 100), "b1": ("Y", "S2", 500, 20), "c1": ("Y", "S3", 500, 30)})
    table = returns.excess_returns(sold, ret, by="supplier_id").set_index("supplier_id")
    # S1 is all of X: the norm is the rest of the store, 50 / 1000 → expected 50, ratio 2.0.
    assert table.loc["S1", "baseline"] == "store" and table.loc["S1", "ratio"] == pytest.approx(2.0)
    # S2 against S3 (30 / 500 → expected 30, ratio 0.667); S3 against S2 (20 / 500 → expected 20, ratio 1.5).
    assert table.loc["S2", "baseline"] == "category" and table.loc["S2", "expected"] == pytest.approx(30)
    assert table.loc["S3", "ratio"] == pytest.approx(1.5)
    assert table.loc["S1", "category"] == "X" and table.loc["S2", "supplier_name"] == "N S2"


# Reason mix ---------------------------------------------------------------------------------------------------
def _mix_returns(counts: dict[tuple[str, str], int]) -> pd.DataFrame:
    keys = pd.DataFrame([(g, r, n) for (g, r), n in counts.items()], columns=["category", "reason", "n"])
    rows = keys.loc[keys.index.repeat(keys["n"])].reset_index(drop=True)
    return pd.DataFrame({"return_id": [f"R{i}" for i in range(len(rows))], "category": rows["category"],
                         "reason": pd.Categorical(rows["reason"], categories=list(returns.REASONS)),
                         "matched": True, "order_time": T("2026-01-05")})


def test_chi_square_residual_signs_on_a_hand_made_table():
    r = _mix_returns({("X", "quality_defect"): 30, ("X", "size_fit"): 10, ("Y", "quality_defect"): 10,
                      ("Y", "size_fit"): 30})
    test = returns.reason_mix_test(r, by="category", min_count=5)
    # n = 80, every expected count 20: chi2 = 4 · 10² / 20 = 20 on 1 df; adjusted residual = 10 / √(20 · ½ · ½) = √20.
    assert test.chi2 == pytest.approx(20.0) and test.dof == 1 and test.reliable
    assert test.residuals.loc["X", "quality_defect"] == pytest.approx(np.sqrt(20))
    assert test.residuals.loc["Y", "quality_defect"] == pytest.approx(-np.sqrt(20))
    assert test.critical == pytest.approx(sps.norm.isf(0.05 / 8))  # Bonferroni over 4 cells, two-sided
    drivers = test.drivers()
    assert set(zip(drivers["group"], drivers["reason"])) == {("X", "quality_defect"), ("Y", "size_fit")}


def test_sparse_tables_are_merged_or_reported_unreliable():
    counts = {("X", "quality_defect"): 40, ("X", "size_fit"): 10, ("Y", "quality_defect"): 10, ("Y", "size_fit"): 40,
              ("Z", "size_fit"): 3, ("X", "wrong_item"): 2}
    test = returns.reason_mix_test(_mix_returns(counts), by="category", min_count=20, other_label="rest")
    # Z (3 returns) is merged into "rest", wrong_item (2) into "other"; both stay below 20, so they are left out
    # (3 + 2 = 5 returns) and the X/Y × quality/size table is tested.
    assert test.merged_rows == () and test.merged_columns == () and test.dropped == 5
    assert test.excluded == ("Z", "wrong_item", "other")
    assert test.counts.shape == (2, 2) and test.reliable and test.n == 100
    assert "Left out, too few to test even merged: Z; Wrong item sent; Other (5 returns)." in returns.describe_mix(
        test, min_count=20, msg=EN)
    kept = returns.reason_mix_test(_mix_returns({**counts, ("Z", "size_fit"): 25, ("X", "wrong_item"): 21}),
                                   by="category", min_count=20, other_label="rest", auto_merge=False)
    assert kept.dropped == 0 and set(kept.counts.index) == {"X", "Y", "Z"} and "wrong_item" in kept.counts
    merged = returns.reason_mix_test(_mix_returns({**counts, ("W", "wrong_item"): 9}),
                                     by="category", min_count=10, other_label="rest", auto_merge=False)
    # Z (3) and W (9) make a "rest" row of 12 returns, 9 of them wrong_item (11 in all): a large residual, but
    # the row names no one to act on.
    assert merged.merged_rows == ("W", "Z") and merged.residuals.loc["rest", "wrong_item"] > merged.critical
    assert "rest" not in set(merged.drivers()["group"])
    tiny = _mix_returns({("X", "quality_defect"): 3, ("X", "size_fit"): 1, ("Y", "quality_defect"): 1,
                         ("Y", "size_fit"): 3})
    weak = returns.reason_mix_test(tiny, by="category", min_count=1)
    # Every expected count is 2 < 5: Cochran's rule fails and the test says so.
    assert not weak.reliable and weak.share_expected_below_5 == 1.0
    text = returns._sentences(rate=pd.DataFrame(), window=Period(T("2026-01-01"), T("2026-02-01")), mix=weak, msg=EN)
    assert text == ["The category × reason table is too sparse for a reliable chi-square test (Cochran's rule: "
                    "100.0% of expected counts below 5, smallest 2.0); read its residuals as hints only."]
    one = returns.reason_mix_test(_mix_returns({("X", "size_fit"): 30}), by="category")
    assert not one.testable and returns._sentences(rate=pd.DataFrame(), window=Period(T("2026-01-01"), T("2026-01-02")),
                                                   mix=one, msg=EN) == []


# Cost and timing ----------------------------------------------------------------------------------------------
def test_cost_of_returns_by_reason(store):
    sold, ret = store
    costs = returns.return_costs(ret).set_index("reason")
    # R1 (defect, O1 with fee 10, not resellable, A cost 40): lost shipping 10 / 1 return in O1, write-off 40.
    # R2 (size, O2 fee 0, resellable), R3 (size, O3 fee 10, resellable): lost shipping 0 + 10, no write-off.
    assert costs.loc["quality_defect", ["lost_shipping", "writeoff_value", "cost"]].tolist() == [10.0, 40.0, 50.0]
    size = costs.loc["size_fit", ["units", "lost_shipping", "nonresellable_units", "cost"]]
    assert size.tolist() == [3, 10.0, 0, 10.0]
    assert costs.loc["quality_defect", "share_cost"] == pytest.approx(50 / 60)
    assert costs.index[0] == "quality_defect"
    flat = returns.return_costs(ret, by=None, shipping_cost=8.0)
    assert flat.loc[0, "lost_shipping"] == pytest.approx(24.0)  # 3 returns × 8
    assert flat.loc[0, "nonresellable_share"] == pytest.approx(1 / 4)  # R1's 1 unit of 1 + 2 + 1
    by_cat = returns.return_costs(ret, by="category").set_index("category")
    assert by_cat.loc["X", "refund_amount"] == pytest.approx(160.0)


def test_lost_shipping_is_split_over_the_returns_of_an_order():
    sold, ret = _sales({"A": ("X", "S1", 2, 2)})
    ret = ret.assign(order_id="O-same", shipping_fee=10.0)
    assert returns.return_costs(ret, by=None).loc[0, "lost_shipping"] == pytest.approx(10.0)  # 5 + 5, not 20


def test_time_to_return_uses_old_sales_only():
    ret = pd.DataFrame({"matched": True, "order_time": [T("2026-01-01")] * 4 + [T("2026-02-20")],
                        "returned_at": [T("2026-01-03"), T("2026-01-06"), T("2026-01-13"), T("2026-02-10"),
                                        T("2026-02-22")]})
    ret["days_to_return"] = (ret["returned_at"] - ret["order_time"]).dt.days.astype(float)
    out = returns.time_to_return(ret, as_of="2026-03-01", maturity_days=10, horizon_days=30)
    # Sales before Jan 30 only; lags 2, 5, 12 (40 is beyond the 30-day horizon): median 5, 2 of 3 within 10 days.
    assert out["n"] == 3 and out["median"] == 5 and out["share_within_maturity"] == pytest.approx(2 / 3)


# Sentences, labels, headlines ---------------------------------------------------------------------------------
def _sentence_inputs():
    rate = pd.DataFrame({"units_sold": [1000], "unit_rate": [0.061], "unit_rate_low": [0.05], "unit_rate_high": [0.07],
                         "order_rate": [0.09]})
    prev = rate.assign(unit_rate=0.055)
    suppliers = pd.DataFrame({"supplier_id": ["S07"], "supplier_name": ["深圳电子"], "category": ["Electronics"],
                              "reason": ["quality_defect"], "baseline": ["category"], "ratio": [3.1],
                              "ratio_low": [2.5], "ratio_high": [3.8], "units_returned": [412], "refund_amount": [58000.0],
                              "significant": [True]})
    culprits = pd.DataFrame({"sku": ["SKU-0707"], "product_name": ["Earbuds"], "supplier_id": ["S07"],
                             "category": ["Electronics"], "reason": ["all"], "unit_rate": [0.2], "expected_rate": [0.1],
                             "ratio": [2.0], "ratio_low": [1.5], "ratio_high": [2.6], "excess": [45.0],
                             "significant": [True], "main_reason": ["quality_defect"]})
    reasons = pd.DataFrame({"reason": ["size_fit", "quality_defect"], "units": [60, 40], "refund_amount": [10.0, 30.0],
                            "share_units": [0.6, 0.4], "share_refund": [0.25, 0.75]})
    costs = pd.DataFrame({"reason": ["quality_defect", "size_fit"], "units": [40, 60], "refund_amount": [30.0, 10.0],
                          "lost_shipping": [5.0, 5.0], "writeoff_value": [90.0, 0.0], "nonresellable_units": [36, 4],
                          "cost": [95.0, 5.0], "share_cost": [0.95, 0.05]})
    return dict(rate=rate, previous_rate=prev, window=Period(T("2026-07-26"), T("2026-10-24")),
                timing={"n": 10, "median": 7.7, "p95": 20.1, "share_within_maturity": 0.994, "maturity_days": 30},
                reasons=reasons, mapping={"returns": 200, "unmapped": 10, "unmapped_share": 0.05, "code_share": 0.5},
                suppliers=suppliers, culprits=culprits, costs=costs)


def test_sentences_in_english():
    text = returns._sentences(**_sentence_inputs(), msg=EN)
    assert text[0] == ("Trailing 90 days of mature sales: 6.1% of the 1,000 units sold Jul 26, 2026 – Oct 23, 2026 "
                       "came back (95% CI 5.0%–7.0%), against 5.5% for the same window as of the comparison period's "
                       "end (Apr 27, 2026 – Jul 25, 2026); 9.0% of orders had a return.")
    assert "99.4% arrive within 30 days" in text[1]
    assert text[2].startswith("Size / fit (60.0% of returned units) and Quality / defect (40.0%)")
    assert "by refund value the largest is Quality / defect (75.0%)" in text[2]
    assert text[3].startswith("5.0% of the 200 returns received in the period (10) match no rule")
    assert text[4] == ("For supplier S07 (深圳电子), quality/defect returns are 3.10× the category norm "
                       "(95% CI 2.50×–3.80×): 412 units, CN¥58,000 refunds.")
    assert text[5].startswith("SKU-0707 (Earbuds, supplier S07): returns are 20.0% of units sold against 10.0% for the "
                              "rest of Electronics (2.00×, 95% CI 1.50×–2.60×), 45 units above the norm")
    assert text[5].endswith(", mostly Quality / defect.")
    assert text[6].startswith("Besides CN¥40.00 of refunds, these returns cost CN¥100.00: CN¥90.00 of goods")
    assert "(40.0% of returned units)" in text[6] and "Quality / defect accounts for 95.0% of it" in text[6]


def test_sentences_in_chinese_leave_no_english_but_data():
    text = returns._sentences(**_sentence_inputs(), msg=ZH)
    assert text[0].startswith("滚动 90 天已成熟销售：2026年7月26日 – 2026年10月23日 售出的 1,000 件商品中有 6.1% 被退回")
    assert text[4] == ("供应商 S07（深圳电子）的质量/瑕疵退货是同品类基准的 3.10×（95% 置信区间 2.50×–3.80×）："
                       "412 件，退款 ¥5.8万。")
    assert "主要原因是质量/瑕疵" in text[5]
    data_words = {"SKU-0707", "S07", "Earbuds", "Electronics", "p"}
    for sentence in text:
        words = set(re.findall(r"[A-Za-z][A-Za-z0-9-]*", sentence)) - data_words
        assert not words, (sentence, words)


def test_sentences_when_nothing_stands_out():
    inputs = _sentence_inputs()
    inputs["suppliers"] = inputs["suppliers"].assign(significant=False)
    inputs["culprits"] = inputs["culprits"].iloc[0:0]
    inputs["mapping"] = {"returns": 200, "unmapped": 0, "unmapped_share": 0.0, "code_share": 0.5}
    inputs["previous_rate"] = None
    text = returns._sentences(**inputs, min_units=150, msg=EN)
    assert "No supplier's quality/defect returns are significantly above their norm." in text
    assert "No SKU with at least 150 units sold returns significantly more than its category." in text
    assert "All 200 returns received in the period were mapped to a reason (50.0% by platform code" in " ".join(text)
    assert "comparison window" not in text[0]
    assert "(90% CI 5.0%–7.0%)" in returns._sentences(**inputs, alpha=0.1, msg=EN)[0]
    zh = returns._sentences(**inputs, min_units=150, msg=ZH)
    assert "销量至少 150 件的 SKU 中，没有退货显著高于其品类的。" in zh


def test_store_baseline_sentence_says_why():
    inputs = _sentence_inputs()
    inputs["suppliers"] = inputs["suppliers"].assign(baseline="store")
    text = [s for s in returns._sentences(**inputs, msg=EN) if s.startswith("For supplier")][0]
    assert "the rate of the rest of the store" in text and "S07 is the only supplier of Electronics" in text


def test_labels_and_headlines():
    table = pd.DataFrame({"reason": ["size_fit", "unmapped", "all"], "baseline": ["store", "category", "mixed"],
                          "category": ["Apparel", "Shoes", "Home"]})
    zh = returns.label_values(table, ZH)
    assert zh["reason"].tolist() == ["尺码/不合身", "未匹配", "全部原因"] and zh["baseline"].tolist()[0] == "店铺其余"
    assert zh["category"].tolist() == ["Apparel", "Shoes", "Home"] and table["reason"].tolist()[0] == "size_fit"


def test_every_message_has_both_languages_and_the_plots_draw(store):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from ecomlib import set_theme
    from ecomlib.i18n import catalogue

    set_theme()
    keys = {k: v for k, v in catalogue().items() if k.startswith("returns.")}
    assert keys and all(set(v) == {"en", "zh"} for v in keys.values())
    sold, ret = store
    fig, axes = plt.subplots(2, 3)
    returns.plot_trend(returns.rate_trend(sold, ret, as_of="2026-01-26", maturity_days=14), ax=axes[0, 0], msg=ZH)
    returns.plot_pareto(returns.reason_summary(ret), y="refund_amount", ax=axes[0, 1], msg=ZH)
    returns.plot_time_to_return(ret, maturity_days=14, ax=axes[0, 2], msg=ZH)
    test = returns.reason_mix_test(_mix_returns({("X", "quality_defect"): 30, ("X", "size_fit"): 10,
                                                 ("Y", "quality_defect"): 10, ("Y", "size_fit"): 30}), min_count=5)
    ax = returns.plot_residuals(test, ax=axes[1, 0], msg=ZH)
    assert ax.get_title().startswith("原因 × 品类") and ax.get_yticklabels()[0].get_text() == "尺码/不合身"
    returns.plot_costs(returns.return_costs(ret), ax=axes[1, 1], msg=ZH)
    assert axes[1, 1].get_title() == "按原因统计的退货成本"
    assert "品类" in returns.describe_mix(test, min_count=5, msg=ZH)
    plt.close(fig)


# The demo store -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_review(demo):
    period = parse_period("2026-W47")
    sold = returns.sold_lines(demo.orders, demo.order_items, demo.products, suppliers=demo.suppliers)
    ret = returns.return_lines(demo.returns, sold, as_of=period.end)
    return period, sold, ret


def test_demo_reasons_map_to_the_generators_truth(demo_review):
    from ecomlib.demo import REASONS

    period, sold, ret = demo_review
    assert (ret["reason"] == returns.UNMAPPED).sum() == 0
    truth = pd.DataFrame([(w, reason) for reason, (codes, zh, en) in REASONS.items() for w in codes + zh + en],
                         columns=["word", "truth"])
    words = ret["reason_code"].fillna(ret["reason_text"])
    got = pd.DataFrame({"word": words, "reason": ret["reason"].astype(str)}).drop_duplicates()
    merged = got.merge(truth, on="word", how="left")
    assert merged["truth"].notna().all()
    assert (merged["reason"] == merged["truth"]).all(), merged[merged["reason"] != merged["truth"]]


def test_demo_quality_supplier_is_found_and_named(demo_review):
    from ecomlib.demo import BAD_SUPPLIER

    period, sold, ret = demo_review
    window = returns.sales_window(period, window_days=365)
    table = returns.excess_returns(sold, ret, by="supplier_id", reason="quality_defect", window=window)
    top = table.iloc[0]
    # S07 is judged against S08 within Electronics: planted 3.5× on the quality share, ≈2.5–3× on the rate
    assert top["supplier_id"] == BAD_SUPPLIER and top["significant"] and top["ratio_low"] > 2
    assert table.loc[table["supplier_id"] != BAD_SUPPLIER, "significant"].sum() == 0
    for msg in (EN, ZH):
        said = " ".join(returns._sentences(rate=pd.DataFrame(), window=window, suppliers=table, msg=msg))
        assert f"{BAD_SUPPLIER} (" in said or f"{BAD_SUPPLIER}（" in said
    mix = returns.reason_mix_test(ret, by="supplier_id", window=returns.sales_window(period))
    assert mix.reliable and tuple(mix.drivers().iloc[0][["group", "reason"]]) == (BAD_SUPPLIER, "quality_defect")


def test_an_injected_culprit_is_found_on_the_demo_background(demo_review):
    """Plant a quality problem on a mid-volume Electronics SKU (extra DEFECTIVE returns on 15 % of its lines)."""
    period, sold, ret = demo_review
    window = returns.sales_window(period, window_days=365)
    in_window = sold[window.contains(sold["order_time"])]
    volume = in_window[in_window["category"] == "Electronics"].groupby("sku")["quantity"].sum()
    sku = volume[(volume >= 300) & (volume <= 1500)].sort_values().index[0]
    lines = in_window[(in_window["sku"] == sku) & ~in_window.set_index(["order_id", "sku"]).index.isin(
        ret.set_index(["order_id", "sku"]).index)]
    picked = lines.iloc[::7]  # every 7th line ≈ 14 % of them
    extra = pd.DataFrame({"return_id": "X" + picked["order_id"], "order_id": picked["order_id"], "sku": sku,
                          "returned_at": picked["order_time"] + pd.Timedelta(days=5), "quantity": 1,
                          "reason_code": "DEFECTIVE", "reason_text": None,
                          "refund_amount": picked["unit_price"], "resellable": False})
    planted = pd.concat([ret, returns.return_lines(extra, sold)], ignore_index=True)
    table = returns.excess_returns(sold, planted, by="sku", reason="quality_defect", window=window)
    assert table.set_index("sku").loc[sku, "significant"]  # S07's planted SKUs may still rank above it
    before = returns.excess_returns(sold, ret, by="sku", reason="quality_defect", window=window)
    assert not before.loc[before["sku"] == sku, "significant"].any()


def test_demo_planted_culprit_sku(demo_review):
    from ecomlib.demo import BAD_SUPPLIER, CULPRIT_SKU

    period, sold, ret = demo_review
    assert CULPRIT_SKU in set(sold["sku"])
    window = returns.sales_window(period, window_days=365)
    table = returns.excess_returns(sold, ret, by="sku", reason="quality_defect", window=window)
    top = table.iloc[0]
    assert (top["sku"], top["supplier_id"], top["category"]) == (CULPRIT_SKU, BAD_SUPPLIER, "Electronics")
    assert top["significant"]
    assert returns._sentences(rate=pd.DataFrame(), window=window, culprits=table, msg=EN)[0].startswith(CULPRIT_SKU)


def test_demo_young_sales_are_provisional(demo_review):
    period, sold, ret = demo_review
    trend = returns.rate_trend(sold, ret, as_of=period.end, maturity_days=30)
    # The last mature week ends on or before Oct 24 (= Nov 23 - 30 days); weeks after it are provisional.
    last_mature = trend.loc[~trend["provisional"], "cohort_end"].max()
    assert last_mature <= T("2026-10-24") and trend.loc[trend["provisional"], "cohort"].min() == T("2026-10-19")
    provisional = trend[trend["provisional"]]
    mature = trend[~trend["provisional"]].tail(8)
    # Open weeks have had less time for returns: the youngest week is far below the mature weeks' range.
    assert provisional["unit_rate"].iloc[-1] < mature["unit_rate_low"].min()


# The review interface: compute → headlines, findings, sentences --------------------------------------------------
from ecomlib.dataset import Dataset, Store  # noqa: E402

W47 = parse_period("2026-W47")


def _dataset(sold: pd.DataFrame, rets: pd.DataFrame, *, suppliers: bool = True) -> Dataset:
    """A Dataset from `_sales`-style sold lines and raw returns (contract columns only)."""
    orders = sold.drop_duplicates("order_id")[["order_id", "order_time", "channel", "status", "shipping_fee"]]
    items = sold[["order_id", "sku", "quantity", "unit_price"]]
    products = sold.drop_duplicates("sku")[["sku", "product_name", "category", "supplier_id", "unit_cost"]]
    names = sold.drop_duplicates("supplier_id")[["supplier_id", "supplier_name"]]
    raw = rets[["return_id", "order_id", "sku", "returned_at", "quantity", "reason_code", "reason_text",
                "refund_amount", "resellable"]]
    return Dataset(path=".", store=Store(), orders=orders.reset_index(drop=True), order_items=items.reset_index(drop=True),
                   products=products.reset_index(drop=True), returns=raw.reset_index(drop=True),
                   suppliers=names if suppliers else None)


def _dated(spec, *, day="2026-08-10", returned="2026-08-20", reason="DEFECTIVE"):
    """`_sales` on one sale day inside W47's sales window (Jul 26 – Oct 23) and one return day."""
    sold, ret = _sales(spec, reason=reason)
    sold = sold.assign(order_time=T(day))
    return sold, ret.assign(returned_at=T(returned))


def test_supplier_explains_a_sku_that_only_returns_like_its_suppliers_other_skus():
    # Category X. Supplier S1: A and B return 15 %, E 30 %; supplier S2: C and D 5 %.
    spec = {"A": ("X", "S1", 1000, 150), "B": ("X", "S1", 1000, 150), "E": ("X", "S1", 1000, 300),
            "C": ("X", "S2", 1000, 50), "D": ("X", "S2", 1000, 50)}
    sold, ret = _sales(spec)
    table = returns.excess_returns(sold, ret, by="sku").set_index("sku")
    # A against the rest of X: (150 + 300 + 50 + 50) / 4000 = 13.75 % → 1.09×; against S1's other SKUs (B, E):
    # 450 / 2000 = 22.5 % → 0.67×. E against the rest of X: 400 / 4000 = 10 % → 3×; against A, B: 15 % → 2×.
    assert table.loc["A", "supplier_expected_rate"] == pytest.approx(0.225)
    assert table.loc["E", "supplier_ratio"] == pytest.approx(2.0) and table.loc["E", "ratio"] == pytest.approx(3.0)
    assert table.loc["E", "culprit"] and not table.loc["E", "supplier_explains"]
    # B against the rest of X: 13.75 % (1.09×, not significant); against A, E: 22.5 %: nothing to explain.
    assert not table.loc["B", "culprit"] and not table.loc["B", "supplier_explains"]
    # A SKU that is significant against its category but sits at its supplier's level is named with its supplier.
    spec = {"A": ("X", "S1", 2000, 300), "B": ("X", "S1", 2000, 300), "C": ("X", "S2", 2000, 100),
            "D": ("X", "S2", 2000, 100)}
    sold, ret = _sales(spec)
    table = returns.excess_returns(sold, ret, by="sku").set_index("sku")
    # A: rest of X 500 / 6000 = 8.3 % → 1.8×, significant; against B 300 / 2000 = 15 % → 1.0×: the supplier explains it.
    assert table.loc["A", "significant"] and table.loc["A", "supplier_explains"] and not table.loc["A", "culprit"]
    assert table.loc["A", "supplier_ratio"] == pytest.approx(1.0)
    text = returns._sentences(rate=pd.DataFrame(), window=W47, culprits=table.reset_index(), msg=EN)
    assert any("but no more than supplier S1 (N S1)'s other SKUs (15.0%)" in t for t in text)
    assert not any(t.startswith("A (") for t in text)  # not called a culprit of its own
    zh = " ".join(returns._sentences(rate=pd.DataFrame(), window=W47, culprits=table.reset_index(), msg=ZH))
    assert "原因在供应商，而非该 SKU" in zh


def test_returns_beyond_units_sold_are_counted_apart_and_no_rate_tops_100_percent():
    sold, ret = _sales({"A": ("X", "S1", 2, 2)})
    first = ret.iloc[[0]]
    # the same line of 1 unit returned a second time (3 units): 1 counts, 3 are over
    again = first.assign(return_id="R-again", quantity=3, returned_at=T("2026-01-20"))
    raw = pd.concat([first, ret.iloc[[1]], again])[list(returns._RETURN_COLUMNS)]
    lines = returns.return_lines(raw, sold)
    assert lines.set_index("return_id").loc["R-again", ["units_counted", "units_over"]].tolist() == [0, 3]
    rate = returns.return_rates(sold, lines)
    assert rate.loc[0, "unit_rate"] == pytest.approx(1.0) and rate.loc[0, "units_over_returned"] == 3
    assert returns.excess_returns(sold, lines, min_units=1)["unit_rate"].max() <= 1.0
    trend = returns.rate_trend(sold, lines, as_of="2026-03-01")
    assert (trend["unit_rate"] <= 1).all()


def test_quality_return_rate_matches_returns_to_the_sales_they_came_from():
    # 100 units sold in W02 (2 quality returns of them, received in W05); 3 quality returns received in W02 belong
    # to sales of the year before. Matched: 2 / 100. A flow ratio (returns filed in W02 / units sold) would say 3 %.
    sold, ret = _sales({"A": ("X", "S1", 100, 2)})
    older = sold.iloc[:3].assign(order_id=["P1", "P2", "P3"], order_time=T("2025-01-06"))
    sold = pd.concat([sold, older], ignore_index=True)
    back = pd.DataFrame({"return_id": ["Q1", "Q2", "Q3"], "order_id": ["P1", "P2", "P3"], "sku": "A",
                         "returned_at": T("2026-01-07"), "quantity": 1, "reason_code": "DEFECTIVE", "reason_text": None,
                         "refund_amount": 10.0, "resellable": False})
    raw = pd.concat([ret[list(returns._RETURN_COLUMNS)].assign(returned_at=T("2026-02-01")), back], ignore_index=True)
    lines = returns.return_lines(raw, sold, as_of="2026-03-01")
    week = Period(T("2026-01-05"), T("2026-01-12"))
    q = returns.quality_return_rate(sold, lines, window=week).set_index("supplier_id")
    assert (q.loc["S1", "units_sold"], q.loc["S1", "units_returned"]) == (100, 2)
    assert q.loc["S1", "unit_rate"] == pytest.approx(0.02)
    # the same figure as return_rates restricted to the quality reason: one definition
    same = returns.return_rates(sold, lines, by="supplier_id", window=week, reason="quality_defect")
    assert same["unit_rate"].tolist() == q["unit_rate"].tolist()


def test_mde_next_to_no_significant_change():
    from ecomlib.stats import minimum_detectable_difference

    # z = 1.96 + 0.8416 = 2.8016; √(0.06 · 0.94 · 2 / 10,000) = 0.0033586 → 0.0094094
    assert float(minimum_detectable_difference(0.06, 10_000, 10_000)) == pytest.approx(
        2.80164 * np.sqrt(0.06 * 0.94 * 2e-4), rel=1e-4)
    assert np.isnan(minimum_detectable_difference(0.06, 0, 100))
    assert returns.mde_ratio(25.0) == pytest.approx(1.5377, abs=1e-3)  # 25(r − 1) = 1.645·5 + 0.8416·√(25r)
    # 4 expected returns: √(4r) = (0.8416 + √(0.8416² + 4(4 + 1.645·2))) / 2 = 3.153 → r = 2.486, over twice the norm
    assert returns.mde_ratio(4.0) == pytest.approx(2.486, abs=1e-3)


@pytest.fixture(scope="module")
def hand_review():
    """A small store with sales in W47's window (Aug 10) and in the window before (May 10), and a comparison."""
    spec = {"A": ("X", "S1", 400, 60), "B": ("X", "S1", 400, 20), "C": ("X", "S2", 400, 20),
            "D": ("Y", "S2", 300, 9)}
    now_sold, now_ret = _dated(spec)
    old_sold, old_ret = _dated(spec, day="2026-05-10", returned="2026-05-20", reason="SIZE_TOO_SMALL")
    old_sold = old_sold.assign(order_id="old-" + old_sold["order_id"])
    old_ret = old_ret.assign(order_id="old-" + old_ret["order_id"], return_id="old-" + old_ret["return_id"])
    sold = pd.concat([now_sold, old_sold], ignore_index=True)
    rets = pd.concat([now_ret, old_ret], ignore_index=True)
    ds = _dataset(sold, rets)
    return ds, returns.compute(ds, W47, min_units=100), returns.compute(ds, W47.previous(), min_units=100)


def test_headline_previous_is_the_same_headline_as_of_the_comparison_end(hand_review):
    ds, now, before = hand_review
    heads = {h.key: h for h in returns.headlines(now, before, EN)}
    alone = {h.key: h for h in returns.headlines(before, None, EN)}  # reviewing the comparison period itself
    assert heads["return_rate"].previous == alone["return_rate"].value
    assert heads["refunds"].previous == alone["refunds"].value
    assert heads["return_rate"].label == "Return rate, trailing 90 days of mature sales"
    assert all(h.source and h.source.startswith("ecomlib.returns.") for h in heads.values())
    # W47's window: 1,500 units sold Aug 10, 109 returned; the trailing window ends 30 days before each period end
    assert heads["return_rate"].value == pytest.approx(109 / 1500)
    assert now.notes["window"] == returns.sales_window(W47) and before.notes["window"].end == T("2026-10-17")
    assert "Return rate, trailing 90 days" not in " ".join(h.label for h in returns.headlines(now, before, ZH))


def test_findings_sentences_and_tables_of_a_hand_made_store(hand_review):
    ds, now, before = hand_review
    found = returns.findings(now, before, EN)
    anchors = {f.anchor for f in found}
    culprit = [f for f in found if f.key == "culprit_A"]
    # Both sale days are in the 365-day culprit window: A returns 120 of 800 against B + C = 80 / 1,600 = 5 % (3×),
    # and against its supplier's B: 40 / 800 (3×): a culprit of its own.
    assert culprit and culprit[0].severity == "high" and culprit[0].confidence == "significant"
    # money: 120 − 40 = 80 excess units × CN¥10 refund per returned unit × 7 / 365 days (the culprit window)
    assert culprit[0].money == pytest.approx(80 * 10.0 * 7 / 365)
    change = [f for f in found if f.key == "rate_change"][0]
    assert change.confidence == "not_significant" and change.numbers["mde"] > 0
    said = returns.sentences(now, before, EN)
    assert any("did not change significantly" in s and "could have been detected" in s for s in said)
    notebook = Path(__file__).resolve().parents[1] / "notebooks" / "returns.ipynb"
    tags = {t for c in json.loads(notebook.read_text(encoding="utf-8"))["cells"] for t in c["metadata"].get("tags", [])}
    sections = {t.split(".")[-1] for t in tags if t.startswith("heading:returns.sec.")}
    assert anchors <= {f"sec-{s}" for s in sections} and set(returns.SECTIONS) == sections
    assert returns.table(now, "unmapped", EN) is None  # an empty table is not shown
    html = returns.table(now, "culprits", ZH).to_html()
    assert "由供应商解释" in html and "X" in html
    assert returns.formats(now.culprits)["unit_rate"] == "pct" and returns.formats(now.culprits)["ratio"] == "ratio"


def test_channels_and_reasons_are_translated_in_tables():
    table = pd.DataFrame({"channel": ["paid_search", "shop_x"], "reason": ["size_fit", "other"]})
    zh = returns.label_values(table, ZH)
    assert zh["channel"].tolist() == ["付费搜索", "shop_x"] and zh["reason"].tolist() == ["尺码/不合身", "其他"]


def test_an_empty_returns_table_means_no_returns(hand_review):
    ds, _, _ = hand_review
    empty = Dataset(path=".", store=Store(), orders=ds.orders, order_items=ds.order_items, products=ds.products,
                    returns=ds.returns.iloc[:0], suppliers=ds.suppliers)
    now, before = returns.compute(empty, W47), returns.compute(empty, W47.previous())
    assert now.values["return_rate"] == 0.0 and now.has("rates")
    assert now.gaps["reasons"].message == "returns.gap.no_returns" and not now.has("cost")
    for msg in (EN, ZH):
        said = returns.sentences(now, before, msg)
        assert said[0] in ("The store recorded no returns: the returns table is empty.", "店铺没有退货记录：退货表为空。")
        assert {f.key for f in returns.findings(now, before, msg)} <= {"rate_change"}
        assert all(g.text(msg) for g in now.gaps.values())


def test_no_suppliers_table_and_no_supplier_ids(hand_review):
    ds, _, _ = hand_review
    bare = Dataset(path=".", store=Store(), orders=ds.orders, order_items=ds.order_items, products=ds.products,
                   returns=ds.returns, suppliers=None)
    now = returns.compute(bare, W47, min_units=100)
    assert now.has("suppliers") and not now.notes["supplier_names"]
    assert "S1" in set(now.suppliers["supplier_name"])  # named by id
    assert "no suppliers table" in returns.page_note(now, "suppliers", EN)
    no_ids = Dataset(path=".", store=Store(), orders=ds.orders, order_items=ds.order_items,
                     products=ds.products.assign(supplier_id=None), returns=ds.returns, suppliers=None)
    now = returns.compute(no_ids, W47, min_units=100)
    assert now.gaps["suppliers"].message == "returns.gap.no_supplier_ids" and not now.has("mix_supplier")
    assert now.has("culprits") and now.culprits["supplier_ratio"].isna().all()
    assert not now.culprits["supplier_explains"].any()
    said = returns.sentences(now, None, EN) + [f.text for f in returns.findings(now, None, EN)]
    culprit = [t for t in said if t.startswith("A (")]
    assert culprit and culprit[0].startswith("A (P A): ") and "nan" not in " ".join(said)  # no "supplier nan"
    returns.sentences(now, None, ZH), returns.headlines(now, None, ZH), returns.findings(now, None, ZH)


def test_bad_options_raise_one_error_type():
    from ecomlib.errors import ParameterError

    ds = _dataset(*_dated({"A": ("X", "S1", 10, 1)}))
    with pytest.raises(ParameterError, match="focus_reason must be one of"):
        returns.compute(ds, W47, focus_reason="defects")
    with pytest.raises(ParameterError, match="unknown option 'window' of returns.compute"):
        returns.compute(ds, W47, window=30)
    with pytest.raises(ParameterError, match="alpha must be between 0 and 1"):
        returns.compute(ds, W47, alpha=1.5)


# Minimum data, below / at / above each threshold ------------------------------------------------------------------
def test_minimum_data_rates_need_a_sale_in_the_window():
    in_window = _dataset(*_dated({"A": ("X", "S1", 1, 0)}))  # one unit sold on Aug 10
    assert returns.compute(in_window, W47).has("rates")
    too_young = _dataset(*_dated({"A": ("X", "S1", 1, 0)}, day="2026-11-01", returned="2026-11-05"))
    res = returns.compute(too_young, W47)
    assert res.gaps["rates"].message == "returns.gap.no_sales" and res.value("return_rate") is None
    assert [h.value for h in returns.headlines(res, None, EN)][0] is None


@pytest.mark.parametrize("units, ranked", [(99, False), (100, True), (101, True)])
def test_minimum_data_culprits_need_min_units(units, ranked):
    res = returns.compute(_dataset(*_dated({"A": ("X", "S1", units, 5)})), W47, min_units=100)
    assert res.has("culprits") is ranked and res.has("suppliers") is ranked
    if not ranked:
        assert res.gaps["culprits"].text(EN).startswith("No SKU sold 100 units")


@pytest.mark.parametrize("n, ok", [(returns.MIN_TIMING_RETURNS - 1, False), (returns.MIN_TIMING_RETURNS, True),
                                   (returns.MIN_TIMING_RETURNS + 1, True)])
def test_minimum_data_timing_needs_returns_of_old_sales(n, ok):
    # sales of Jun 1 (more than 90 days before the period end), returned 5 days later
    res = returns.compute(_dataset(*_dated({"A": ("X", "S1", 50, n)}, day="2026-06-01", returned="2026-06-06")), W47)
    assert res.has("timing") is ok and res.values["timing"]["n"] == n


@pytest.mark.parametrize("count, testable", [(19, False), (20, True), (21, True)])
def test_minimum_data_mix_needs_min_count_returns_per_row_and_column(count, testable):
    # category X has `count` returns (10 of them size), Y 60: below 20, X is folded away and one category is left
    quality = _dated({"A": ("X", "S1", 500, count - 10), "B": ("Y", "S2", 500, 30)})
    size = _dated({"C": ("X", "S1", 500, 10), "D": ("Y", "S2", 500, 30)}, reason="SIZE_TOO_SMALL")
    sold = pd.concat([quality[0], size[0]], ignore_index=True)
    rets = pd.concat([quality[1], size[1]], ignore_index=True)
    res = returns.compute(_dataset(sold, rets), W47, min_count=20)
    assert res.has("mix") is testable


def test_minimum_data_is_stated_once_and_shown_in_both_languages():
    from ecomlib.i18n import catalogue

    keys = catalogue()
    assert set(returns.MINIMUM_DATA) == set(returns.GUARDS)
    assert all(f"returns.min.{s}" in keys for s in returns.MINIMUM_DATA)
    gap_keys = [k for k in keys if k.startswith("returns.gap.")]
    assert gap_keys and all(set(keys[k]) == {"en", "zh"} for k in gap_keys)
    stated = returns.__doc__.split("Minimum data")[1]
    assert all(f"``{section}``" in stated for section in returns.MINIMUM_DATA)


# Properties of the metrics (hypothesis) ---------------------------------------------------------------------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_line = st.tuples(st.sampled_from(["A", "B", "C", "D"]), st.integers(1, 5), st.integers(0, 7),
                  st.sampled_from(["DEFECTIVE", "SIZE_TOO_SMALL", "UNWANTED", None]), st.booleans(),
                  st.sampled_from(["web", "app", "email"]))
_PRODUCTS = pd.DataFrame({"sku": ["A", "B", "C", "D"], "product_name": list("abcd"), "category": ["X", "X", "Y", "Y"],
                          "supplier_id": ["S1", "S2", "S1", None], "unit_cost": [4.0, 2.0, 1.0, 3.0]})


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_line, min_size=1, max_size=30))
def test_property_rates_in_unit_interval_and_totals_conserved(lines):
    n = len(lines)
    orders = pd.DataFrame({"order_id": [f"O{i}" for i in range(n)],
                           "order_time": [T("2026-08-01") + pd.Timedelta(days=i) for i in range(n)],
                           "channel": [x[5] for x in lines], "status": "completed", "shipping_fee": 5.0})
    items = pd.DataFrame({"order_id": orders["order_id"], "sku": [x[0] for x in lines],
                          "quantity": [x[1] for x in lines], "unit_price": 10.0})
    back = [(i, x) for i, x in enumerate(lines) if x[2] > 0]  # returned units may exceed units sold (bad data)
    rets = pd.DataFrame({"return_id": [f"R{i}" for i, _ in back], "order_id": [f"O{i}" for i, _ in back],
                         "sku": [x[0] for _, x in back], "returned_at": T("2026-10-01"),
                         "quantity": [x[2] for _, x in back], "reason_code": [x[3] for _, x in back],
                         "reason_text": None, "refund_amount": [7.0 * x[2] for _, x in back],
                         "resellable": [x[4] for _, x in back]}, columns=list(returns._RETURN_COLUMNS))
    sold = returns.sold_lines(orders, items, _PRODUCTS)
    ret = returns.return_lines(rets.astype({"returned_at": "datetime64[ns]"}), sold)
    total = returns.return_rates(sold, ret).iloc[0]
    for by in ("category", "channel", "sku"):
        part = returns.return_rates(sold, ret, by=by)
        rates = part[["unit_rate", "order_rate", "unit_rate_low", "unit_rate_high"]].to_numpy(float)
        assert ((rates >= 0) & (rates <= 1)).all()
        for col in ("units_sold", "units_returned", "units_over_returned", "refund_amount"):
            assert part[col].sum() == pytest.approx(total[col])
    assert total["units_returned"] + total["units_over_returned"] == rets["quantity"].sum()
    assert 0 <= total["unit_rate"] <= 1
    by_reason = returns.return_costs(ret, by="reason")
    by_cat = returns.return_costs(ret, by="category")
    whole = returns.return_costs(ret, by=None)
    for col in ("returns", "units", "refund_amount", "cost"):
        assert by_reason[col].sum() == pytest.approx(whole[col].sum())
        assert by_cat[col].sum() == pytest.approx(whole[col].sum())
    assert returns.reason_summary(ret)["units"].sum() == rets["quantity"].sum()
    q = returns.quality_return_rate(sold, ret, by="supplier_id")
    assert ((q["unit_rate"] >= 0) & (q["unit_rate"] <= 1)).all()
    ex = returns.excess_returns(sold, ret, min_units=1)
    assert ((ex["unit_rate"] >= 0) & (ex["unit_rate"] <= 1)).all()
    assert not (ex["supplier_explains"] & ex["culprit"]).any()


# Real-shaped stores: the ladder ----------------------------------------------------------------------------------
from .ladder import RUNGS  # noqa: E402


@pytest.mark.parametrize("rung", RUNGS)
def test_every_rung_of_the_ladder_computes(rung, ladder_dir):
    from ecomlib.periods import resolve

    ds = returns.load(ladder_dir(rung))
    period, comparison = resolve(None, None, data_end=returns.data_range(ds)[1])
    now, before = returns.compute(ds, period), returns.compute(ds, comparison)
    for msg in (EN, ZH):
        heads = returns.headlines(now, before, msg)
        assert [h.key for h in heads][:3] == ["return_rate", "refunds", "unmapped_share"]
        returns.findings(now, before, msg)
        said = returns.sentences(now, before, msg)
        assert all(isinstance(s, str) and s for s in said)
        assert all(g.text(msg) for g in now.gaps.values())
    assert set(now.gaps) <= set(returns.GUARDS)
    if rung == "no_returns":
        assert now.notes["no_returns"] and now.values["return_rate"] == 0.0


# The demo's planted findings on every seed -------------------------------------------------------------------------
from .conftest import SEEDS  # noqa: E402


@pytest.fixture(scope="module", params=SEEDS)
def seed_review(request, demo_seed_dir):
    ds = returns.load(demo_seed_dir(request.param))
    now = returns.compute(ds, W47)
    return request.param, now, returns.findings(now, None, EN)


def test_planted_quality_supplier_and_culprit_sku_found_on_every_seed(seed_review):
    from ecomlib.demo import BAD_SUPPLIER, CULPRIT_SKU

    seed, now, found = seed_review
    by_key = {f.key: f for f in found}
    supplier = by_key.get(f"supplier_{BAD_SUPPLIER}")
    assert supplier is not None, (seed, [f.key for f in found])
    assert supplier.severity in ("high", "medium") and supplier.confidence == "significant" and supplier.money > 0
    culprit = by_key.get(f"culprit_{CULPRIT_SKU}")
    assert culprit is not None, (seed, [f.key for f in found])
    assert culprit.severity in ("high", "medium") and culprit.anchor == "sec-culprits"
    assert returns._top_culprit(now)["sku"] == CULPRIT_SKU
    assert now.suppliers.iloc[0]["supplier_id"] == BAD_SUPPLIER


def test_a_period_before_the_data_has_unknown_refunds_not_zero(hand_review):
    ds, now, _ = hand_review
    early = returns.compute(ds, parse_period("2025-W10"))  # the hand store's first sale is on 2026-05-10
    # W47 is inside the data and received no return: 0; 2025-W10 ends before the data starts: unknown
    assert early.value("refunds") is None and now.value("refunds") == 0.0
    heads = {h.key: h for h in returns.headlines(now, early, EN)}
    assert heads["refunds"].previous is None and "top_culprit_excess" in heads
    assert "returns.gap.no_sales" == early.gaps["rates"].message
    assert "Mar" in early.gaps["rates"].text(EN) or "2024" in early.gaps["rates"].text(EN)  # dates in the locale's form


def test_load_needs_no_suppliers_table_and_names_a_missing_returns_table(ladder_dir, tmp_path):
    import shutil

    from ecomlib.errors import MissingTableError

    folder = Path(shutil.copytree(ladder_dir("three_days"), tmp_path / "bare"))
    (folder / "suppliers.csv").unlink()
    ds = returns.load(folder)
    assert ds.suppliers is None and ds.returns is not None
    (folder / "returns.csv").unlink()
    with pytest.raises(MissingTableError, match="no table 'returns' \\(needed by returns\\)"):
        returns.load(folder)


def test_importers_no_reason_refunds_map_to_other_not_unmapped():
    # the Shopify importer's returns carry no reason; the rules file's `other` says so (was: unmapped)
    texts = ["Shopify order refunded in full (orders export: no reason)",
             "Shopify partial refund (orders export: line and reason not given)"]
    assert _map([None, None], texts)["reason"].astype(str).tolist() == ["other", "other"]
    assert _map(["CARRIER_DAMAGED", "DISTRIBUTOR_DAMAGED"], [None, None])["reason"].astype(str).tolist() == [
        "damaged_in_transit", "damaged_in_transit"]


def test_cost_chart_axis_labels_are_compact_and_few():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    costs = pd.DataFrame({"reason": ["quality_defect", "size_fit"], "writeoff_value": [81_438.0, 11_519.0],
                          "lost_shipping": [130.0, 170.0], "cost": [81_568.0, 11_689.0]})
    fig, ax = plt.subplots(figsize=(7, 4.5))
    returns.plot_costs(costs, ax=ax, msg=EN)
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    # was: "CN¥0.00 CN¥10,000 … CN¥80,000", nine long labels running into each other
    assert len(ax.get_xticks()) <= 7 and all(len(t) <= 7 for t in labels) and any("K" in t for t in labels)
    many = pd.DataFrame({"category": [f"c{i}" for i in range(40)], "writeoff_value": np.arange(40.0),
                         "lost_shipping": 1.0, "cost": np.arange(40.0) + 1})
    ax = returns.plot_costs(many, y="category", ax=plt.subplots()[1], msg=ZH)
    assert len(ax.get_yticklabels()) == 13 and "其他（28 个）" in [t.get_text() for t in ax.get_yticklabels()]
    plt.close("all")
