"""Tests of ecomlib.service: hand-made tickets and reviews for every metric, the contact-reason rules, the follow-up
list written formula-safe, errors, gaps, and the demo's planted weekend gap and defective SKU on every seed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecomlib import service as s
from ecomlib.errors import MissingTableError, ParameterError
from ecomlib.i18n import Messages
from ecomlib.periods import Period

from .conftest import SEEDS

T = pd.Timestamp
WEEK = Period(T("2026-11-16"), T("2026-11-23"), "week")  # Mon 16 – Sun 22 Nov 2026


def _tickets():
    # T1 chat Mon answered in 0.5 h (within 1 h); T2 chat Sat answered in 3 h (missed); T3 email Tue answered in 30 h
    # (missed 24 h); T4 email Sun 23:00 unanswered at the end (1 h old: undecided); T5 chat Wed unanswered (missed)
    return pd.DataFrame({
        "ticket_id": ["T1", "T2", "T3", "T4", "T5", "T0"],
        "order_id": ["A", "B", "C", "D", None, "A"],
        "customer_id": ["c1", "c2", "c3", "c4", "c5", "c1"],
        "channel": ["chat", "chat", "email", "email", "chat", "phone"],
        "opened_at": pd.to_datetime(["2026-11-16 10:00", "2026-11-21 10:00", "2026-11-17 09:00", "2026-11-22 23:00",
                                     "2026-11-18 12:00", "2026-11-10 09:00"]),
        "first_response_at": pd.to_datetime(["2026-11-16 10:30", "2026-11-21 13:00", "2026-11-18 15:00", None, None,
                                             "2026-11-10 09:05"]),
        "resolved_at": pd.to_datetime(["2026-11-16 12:00", "2026-11-22 10:00", None, None, None, "2026-11-10 10:00"]),
        "category": [None, None, "Refund", None, None, None],
        "satisfaction": [5.0, 2.0, np.nan, np.nan, np.nan, 4.0],
        "nps": [10.0, 3.0, 8.0, np.nan, np.nan, 9.0],
        "reopened": [1.0, 0.0, np.nan, np.nan, np.nan, 0.0],
        "text": ["我的快递到哪了？", "收到的东西坏了", "please refund me", "=cmd|' /C calc'!A0", None, "发票"],
    })


def _orders():
    return pd.DataFrame({"order_id": list("ABCDEFGHIJ"), "customer_id": [f"c{i}" for i in range(1, 11)],
                         "order_time": pd.to_datetime(["2026-11-16 08:00"] * 10), "status": "completed"})


def _reviews():
    return pd.DataFrame({
        "review_id": ["R1", "R2", "R3", "R4"], "sku": ["S1", "S1", "S2", "S2"], "order_id": ["A", "B", "E", "F"],
        "rating": [1, 5, 2, 4], "text": ["用了两天就坏了", "很好", "尺码偏小", "ok"],
        "created_at": pd.to_datetime(["2026-11-15 08:00", "2026-11-18 08:00", "2026-11-19 08:00", "2026-11-19 09:00"])})


class _DS:
    def __init__(self, orders=True, reviews=True, returns=None):
        self.tickets = _tickets()
        self.orders = _orders() if orders else None
        self.product_reviews = _reviews() if reviews else None
        self.returns, self.order_items, self.products = returns, None, None


def test_response_times_and_targets_hand_computed():
    rt = s.response_times(_tickets(), as_of=WEEK.end).set_index("ticket_id")
    assert rt.loc["T1", "first_hours"] == 0.5 and rt.loc["T1", "within"] == 1
    assert rt.loc["T2", "within"] == 0 and rt.loc["T2", "weekend"]
    assert rt.loc["T3", "first_hours"] == 30 and rt.loc["T3", "within"] == 0
    assert np.isnan(rt.loc["T4", "within"])  # 1 h old, target 24 h: not decided yet
    assert rt.loc["T5", "within"] == 0  # unanswered past its 1 h target
    summary = s.response_summary(s._in(rt.reset_index(), "opened_at", WEEK)).iloc[0]
    assert (summary["tickets"], summary["answered"], summary["within"]) == (5, 3, 1)
    assert summary["within_rate"] == pytest.approx(1 / 4) and summary["median_hours"] == 3.0
    by = s.response_summary(s._in(rt.reset_index(), "opened_at", WEEK), by="channel").set_index("channel")
    assert by.loc["chat", "within_rate"] == pytest.approx(1 / 3) and by.loc["chat", "target_hours"] == 1.0
    custom = s.response_times(_tickets(), as_of=WEEK.end, targets={"chat": 4.0}).set_index("ticket_id")
    assert custom.loc["T2", "within"] == 1


def test_weekend_gap_test():
    rt = s._in(s.response_times(_tickets(), as_of=WEEK.end), "opened_at", WEEK)
    w = s.weekend_gap(rt)
    assert (w["weekday_n"], w["weekend_n"]) == (3, 1)
    assert w["weekday_rate"] == pytest.approx(1 / 3) and w["weekend_rate"] == 0
    assert w["weekend_median"] == 3.0


def test_resolution_and_reopen_rates():
    rt = s._in(s.response_times(_tickets(), as_of=WEEK.end, resolution_target_hours=72), "opened_at", WEEK)
    r = s.resolution_summary(rt).iloc[0]
    # resolved T1 (2 h), T2 (24 h); T3 open for 6 days (> 72 h: missed), T5 open for 4.5 days (missed), T4 undecided
    assert (r["tickets"], r["resolved"]) == (5, 2) and r["resolution_rate"] == 0.4
    assert r["median_hours"] == 13.0 and r["within_rate"] == 0.5
    assert r["reopened_tickets"] == 1 and r["reopen_rate"] == 0.5


def test_csat_and_nps_with_intervals():
    sat = s.satisfaction(_tickets())
    assert (sat["scores"], sat["csat_good"]) == (3, 2) and sat["csat"] == pytest.approx(2 / 3)
    assert sat["csat_low"] < 2 / 3 < sat["csat_high"]
    # NPS answers 10, 3, 8, 9: promoters 2/4, detractors 1/4 → +25
    assert sat["answers"] == 4 and sat["nps"] == pytest.approx(25.0)
    se = np.sqrt((0.5 + 0.25 - 0.25 ** 2) / 4) * 100
    assert sat["nps_high"] - sat["nps"] == pytest.approx(1.959964 * se, rel=1e-4)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10), min_size=1, max_size=60))
def test_nps_is_between_minus_100_and_100_and_inside_its_interval(answers):
    sat = s.satisfaction(pd.DataFrame({"satisfaction": [np.nan] * len(answers), "nps": answers}))
    assert -100 <= sat["nps"] <= 100
    assert sat["nps_low"] <= sat["nps"] <= sat["nps_high"]


def test_contact_reasons_from_rules_and_a_custom_file(tmp_path):
    m = s.map_contact_reasons(_tickets())["reason"].tolist()
    assert m == ["where_is_my_order", "defect", "return_refund", "unmapped", "unmapped", "payment_invoice"]
    custom = tmp_path / "rules.yaml"
    custom.write_text("priority: [complaint]\nkeywords:\n  complaint: [calc]\n", encoding="utf-8")
    assert s.map_contact_reasons(_tickets(), rules=custom)["reason"].iloc[3] == "complaint"
    bad = tmp_path / "bad.yaml"
    bad.write_text("priority: [nonsense]\nkeywords: {}\n", encoding="utf-8")
    with pytest.raises(s.ContactRulesError, match="priority|nonsense: unknown reason"):
        s.load_rules(bad)
    with pytest.raises(s.ContactRulesError, match="no such file"):
        s.load_rules(tmp_path / "missing.yaml")


def test_review_themes_and_sku_ratings_joined_with_returns():
    themed = s.review_themes(_reviews())
    assert themed["negative"].tolist() == [True, False, True, False]
    assert themed["theme"].tolist()[0] == "quality_defect" and themed["theme"].tolist()[2] == "size_fit"
    returns = pd.DataFrame({"return_id": ["X1", "X2"], "order_id": ["A", "E"], "sku": ["S1", "S2"],
                            "returned_at": pd.to_datetime(["2026-11-17", "2026-11-18"]), "quantity": [3, 1],
                            "reason_code": ["DEFECTIVE", None], "reason_text": [None, "七天无理由"],
                            "refund_amount": [10.0, 5.0], "resellable": True})
    t = s.sku_ratings(themed, returns, min_reviews=2).set_index("sku")
    assert t.loc["S1", "reviews"] == 2 and t.loc["S1", "negative_rate"] == 0.5 and t.loc["S1", "mean_rating"] == 3
    assert t.loc["S1", "return_reason"] == "quality_defect" and t.loc["S1", "return_share"] == 1.0
    assert t.loc["S1", "same"] and not t.loc["S2", "same"]  # S2: size in reviews, changed mind in returns
    assert t.loc["S1", "rest_rate"] == 0.5
    assert s.sku_ratings(themed, None, min_reviews=3).empty  # below the minimum


def test_follow_up_list_steps_and_formula_safe_csv(tmp_path):
    rt = s.response_times(_tickets(), as_of=WEEK.end, resolution_target_hours=72)
    themed = s.review_themes(_reviews())
    fu = s.follow_up_list(themed, rt, _orders(), window=WEEK, complaint_score=2)
    # R1 (negative, 15 Nov) is before the window; R3 (E, 2 stars) has no ticket → soothe; T4, T5 unanswered →
    # soothe; T3 answered but unresolved past 72 h → solve; T2 resolved with CSAT 2 → follow_up
    assert fu[["step", "id"]].values.tolist() == [["soothe", "T5"], ["soothe", "R3"], ["soothe", "T4"],
                                                  ["solve", "T3"], ["follow_up", "T2"]]
    assert fu.set_index("id").loc["R3", "customer_id"] == "c5"
    # a review followed by a ticket on the same order is handled
    r1_handled = s.follow_up_list(themed, rt, _orders(), window=Period(T("2026-11-14"), T("2026-11-23")))
    assert "R1" not in set(r1_handled["id"])
    now = s.compute(_DS(), WEEK, follow_up_days=7, min_reviews=1)
    path = s.write_action_list(now, tmp_path)
    assert path.name == "service_follow_up_2026-W47.csv"
    text = path.read_text(encoding="utf-8")
    assert "'=cmd" in text and "\n=cmd" not in text and ",=cmd" not in text


def test_compute_values_gaps_headlines_sentences():
    now = s.compute(_DS(), WEEK, min_reviews=1)
    assert now.values["tickets"] == 5 and now.values["contacts_per_100"] == pytest.approx(50.0)
    assert now.values["within_rate"] == pytest.approx(0.25)
    assert not now.gaps
    before = s.compute(_DS(), Period(T("2026-11-09"), T("2026-11-16")), min_reviews=1)
    for lang in ("en", "zh"):
        msg = Messages(lang, currency="CNY")
        hs = {h.key: h for h in s.headlines(now, before, msg)}
        assert hs["nps"].value == pytest.approx(0.0) and hs["nps"].previous == pytest.approx(1.0)  # 10,3 / 9
        assert all(h.source.startswith("ecomlib.service.") for h in hs.values())
        assert s.sentences(now, before, msg)
        s.findings(now, before, msg)


def test_gaps_without_optional_tables_and_tickets():
    now = s.compute(_DS(orders=False, reviews=False), WEEK)
    assert now.gaps["contacts"].message == "service.gap.no_orders_table"
    assert now.gaps["products"].message == "service.gap.no_reviews_table"
    empty = s.compute(_DS(), Period(T("2025-01-06"), T("2025-01-13")))
    assert {"response", "resolution", "reasons", "satisfaction", "contacts", "follow_up"} <= set(empty.gaps)
    msg = Messages("zh")
    assert all(g.text(msg) for g in empty.gaps.values()) and s.headlines(empty, None, msg)[0].value is None


def test_minimum_reviews_below_at_above():
    assert "products" in s.compute(_DS(), WEEK, min_reviews=3).gaps  # two reviews per SKU at most
    assert "products" not in s.compute(_DS(), WEEK, min_reviews=2).gaps


@pytest.mark.parametrize("options, message", [
    ({"targets": 1}, "unknown option 'targets' of service.compute"),
    ({"response_targets": {"fax": 2}}, "response_targets: 'fax' must be a channel"),
    ({"alpha": 0}, "alpha must be between 0 and 1"),
    ({"min_reviews": 0}, "min_reviews must be at least 1"),
    ({"resolution_target_hours": 0}, "resolution_target_hours must be above 0"),
])
def test_option_errors(options, message):
    with pytest.raises(ParameterError, match=message):
        s.compute(_DS(), WEEK, **options)


def test_every_message_key_has_english_and_chinese():
    from ecomlib.i18n import catalogue

    keys = {k: v for k, v in catalogue().items() if k.startswith("service.")}
    assert all(set(v) >= {"en", "zh"} for v in keys.values())
    for name in s.MINIMUM_DATA:
        assert f"service.min.{name}" in keys and f"service.sec.{name}" in keys
    for reason in (*s.CONTACT_REASONS, s.UNMAPPED):
        assert f"service.reason.{reason}" in keys


# Demo store ----------------------------------------------------------------------------------------------------
def _week(folder):
    import ecomlib as el

    ds = s.load(folder)
    period, _ = el.resolve(None, None, data_end=s.data_range(ds)[1])
    return s.compute(ds, period)


@pytest.mark.parametrize("seed", SEEDS)
def test_planted_weekend_gap_and_defective_sku_are_found(seed, demo_seed_dir):
    from ecomlib.demo_service import DEFECT_SKU

    now = _week(demo_seed_dir(seed))
    w = now.values["weekend"]
    assert w["diff"] < -0.4 and w["p_value"] < 0.001
    flagged = now.skus[now.skus["flagged"]]
    assert flagged["sku"].tolist()[:1] == [DEFECT_SKU]
    keys = {f.key: f for f in s.findings(now, None, Messages("en"))}
    assert keys["weekend_gap"].severity == "high" and keys[f"sku_{DEFECT_SKU}"].severity == "high"


def test_nothing_planted_is_found_without_plants(demo_no_plants_dir):
    from ecomlib.demo_service import DEFECT_SKU

    now = _week(demo_no_plants_dir)
    assert now.values["weekend"]["p_value"] > 0.01
    assert DEFECT_SKU not in set(now.skus.loc[now.skus["flagged"], "sku"])
    assert not any(f.severity == "high" for f in s.findings(now, None, Messages("en")))


def test_store_without_tickets_is_skipped_in_one_line(tmp_path):
    import yaml

    from ecomlib.demo import STORE

    (tmp_path / "store.yaml").write_text(yaml.safe_dump(STORE, allow_unicode=True), encoding="utf-8")
    with pytest.raises(MissingTableError, match="tickets") as err:
        s.load(tmp_path)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("rung, missing, present", [
    ("three_days", {"products"}, {"response", "resolution", "contacts", "reasons", "satisfaction"}),
    ("two_weeks", {"products"}, {"response", "resolution", "contacts", "reasons", "satisfaction", "follow_up"}),
])
def test_ladder_rungs_record_gaps_and_keep_the_rest(rung, missing, present, ladder_dir):
    import ecomlib as el

    ds = s.load(ladder_dir(rung))
    period, comparison = el.resolve(None, None, data_end=s.data_range(ds)[1])
    now, before = s.compute(ds, period), s.compute(ds, comparison)
    assert missing <= set(now.gaps) and not present & set(now.gaps)
    assert now.gaps["products"].message == "service.gap.too_few_reviews"
    msg = Messages("zh")
    assert s.sentences(now, before, msg) and s.headlines(now, before, msg)
