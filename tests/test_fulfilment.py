"""Tests of ecomlib.fulfilment: hand-made tables for every metric, business days across weekends and holidays, time
zones, errors, gaps, and the demo's planted slow carrier on every seed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecomlib import fulfilment as f
from ecomlib.errors import MissingTableError, ParameterError
from ecomlib.i18n import Messages
from ecomlib.periods import Period

from .conftest import SEEDS

T = pd.Timestamp
WEEK = Period(T("2026-11-16"), T("2026-11-23"), "week")  # Mon 16 – Sun 22 Nov 2026


def ts(*values):
    return pd.Series(pd.to_datetime(list(values), format="mixed"))


# Business-day arithmetic ---------------------------------------------------------------------------------------
def test_clock_starts_today_before_the_cutoff_and_next_business_day_after_it():
    # Fri 10:00 → Fri; Fri 16:00 (at the cut-off) → Mon; Sat → Mon; Sun 23:00 → Mon; Mon 15:59 → Mon
    t = ts("2026-11-20 10:00", "2026-11-20 16:00", "2026-11-21 09:00", "2026-11-22 23:00", "2026-11-23 15:59")
    assert f.dispatch_clock(t).dt.strftime("%Y-%m-%d").tolist() == [
        "2026-11-20", "2026-11-23", "2026-11-23", "2026-11-23", "2026-11-23"]


def test_clock_skips_holidays_given_as_a_list():
    # Wed 30 Sep after the cut-off; 1–7 Oct are holidays; Thu 8 Oct is the next business day
    t = ts("2026-09-30 17:00")
    hol = [f"2026-10-0{d}" for d in range(1, 8)]
    assert f.dispatch_clock(t, holidays=hol).iloc[0] == T("2026-10-08")
    # a six-day week: Saturday works
    assert f.dispatch_clock(ts("2026-11-20 17:00"), weekmask="1111110").iloc[0] == T("2026-11-21")


def test_clock_reads_the_cutoff_on_the_store_clock():
    # 07:30 UTC on Friday is 15:30 in Shanghai (before the cut-off); 08:30 UTC is 16:30 there (after it)
    t = pd.Series(pd.to_datetime(["2026-11-20 07:30", "2026-11-20 08:30"]).tz_localize("UTC"))
    assert f.dispatch_clock(t, timezone="Asia/Shanghai").tolist() == [T("2026-11-20"), T("2026-11-23")]
    # the same instants on a New York clock are still Friday morning... before its cut-off both
    assert f.dispatch_clock(t, timezone="America/New_York").tolist() == [T("2026-11-20"), T("2026-11-20")]
    with pytest.raises(ParameterError, match="timestamps carry a time zone: give timezone"):
        f.dispatch_clock(t)


def test_business_days_between_across_weekend_and_holiday():
    start = ts("2026-11-20", "2026-11-20", "2026-11-23", "2026-09-30")
    end = ts("2026-11-20 18:00", "2026-11-24 09:00", "2026-11-25", "2026-10-09")
    hol = [f"2026-10-0{d}" for d in range(1, 8)]
    # same day 0; Fri → Tue: Fri + Mon = 2; Mon → Wed = 2; Wed 30 Sep → Fri 9 Oct over the holiday week: Wed, Thu 8 = 2
    assert f.business_days_between(start, end, holidays=hol).tolist() == [0, 2, 2, 2]
    assert np.isnan(f.business_days_between(ts("2026-11-20"), pd.Series([pd.NaT])).iloc[0])


def test_dispatch_due_is_n_business_days_after_the_clock():
    c = ts("2026-11-19", "2026-11-20")  # Thu, Fri
    assert f.dispatch_due(c, dispatch_days=2).tolist() == [T("2026-11-23"), T("2026-11-24")]
    assert f.dispatch_due(c, dispatch_days=2, holidays=["2026-11-23"]).tolist() == [T("2026-11-24"),
                                                                                     T("2026-11-25")]


@settings(max_examples=60, deadline=None)
@given(st.dates(min_value=pd.Timestamp("2024-01-01").date(), max_value=pd.Timestamp("2027-12-31").date()),
       st.integers(min_value=0, max_value=20))
def test_due_day_is_a_business_day_exactly_n_business_days_after_the_clock(day, n):
    clock = f.dispatch_clock(ts(f"{day} 09:00"))
    due = f.dispatch_due(clock, dispatch_days=n)
    assert np.is_busday(due.to_numpy().astype("datetime64[D]"))[0]
    assert f.business_days_between(clock, due).iloc[0] == n
    assert clock.iloc[0] >= T(day)


# Hand-made store ------------------------------------------------------------------------------------------------
def _orders():
    return pd.DataFrame({
        "order_id": ["A", "B", "C", "D", "E", "X"],
        "customer_id": ["c1", "c2", "c3", "c4", "c1", "c5"],
        "order_time": pd.to_datetime(["2026-11-16 10:00", "2026-11-20 17:00", "2026-11-18 09:00",
                                      "2026-11-22 12:00", "2026-11-19 09:00", "2026-11-17 10:00"]),
        "status": ["completed", "completed", "completed", "pending", "completed", "cancelled"],
        "revenue": [100.0, 200.0, 50.0, 80.0, 60.0, 10.0],
    })


def _shipments():
    return pd.DataFrame({
        "shipment_id": ["A-1", "B-1", "C-1", "C-2", "D-1", "E-1"],
        "order_id": ["A", "B", "C", "C", "D", "E"],
        "warehouse": ["W1", "W1", "W2", "W2", "W1", "W1"],
        "carrier": ["K1", "K1", "K2", "K2", "K1", "K2"],
        "tracking_id": None,
        "region": ["R1", "R1", "R2", "R2", "R1", "R2"],
        "packed_at": pd.to_datetime(["2026-11-16 12:00", "2026-11-23 10:00", "2026-11-18 12:00", "2026-11-23 08:00",
                                     None, "2026-11-19 12:00"]),
        # A ships Tue (on time); B ships Mon 23 (after the period: unshipped at its end); C's 2nd parcel Mon 23
        "shipped_at": pd.to_datetime(["2026-11-17 08:00", "2026-11-23 12:00", "2026-11-18 14:00",
                                      "2026-11-23 09:00", None, "2026-11-19 14:00"]),
        "delivered_at": pd.to_datetime(["2026-11-18 10:00", None, "2026-11-21 10:00", None, None, None]),
        "promised_delivery": pd.to_datetime(["2026-11-19 23:59", "2026-11-27 23:59", "2026-11-20 23:59",
                                             "2026-11-21 23:59", "2026-11-28 23:59", "2026-11-21 23:59"]),
        "status": ["delivered", "in_transit", "delivered", "in_transit", "pending", "lost"],
    })


def test_order_dispatch_hand_computed():
    d = f.order_dispatch(_orders(), _shipments(), as_of=WEEK.end).set_index("order_id")
    assert "X" not in d.index  # cancelled
    assert d.loc["A", "hours_to_ship"] == 22.0 and d.loc["A", "business_days_to_ship"] == 1
    assert d.loc["A", "on_time"] is True or d.loc["A", "on_time"] == True  # noqa: E712
    # C: clock Wed 18; its second parcel ships Mon 23, after the period end → not dispatched; due Fri 20 → late
    assert not d.loc["C", "dispatched"] and d.loc["C", "on_time"] == False  # noqa: E712
    assert d.loc["C", "parcels"] == 2
    # B: Fri 17:00 after the cut-off → clock Mon 23, due Wed 25: undecided at the period end
    assert d.loc["B", "clock_start"] == T("2026-11-23") and pd.isna(d.loc["B", "on_time"])


def test_dispatch_summary_and_split_rate():
    d = f.order_dispatch(_orders(), _shipments(), as_of=WEEK.end)
    s = f.dispatch_summary(d, WEEK).iloc[0]
    # orders A, B, C, D, E; dispatched A, E; decided A (on time), E (on time), C (late)
    assert (s["orders"], s["dispatched"], s["decided"], s["on_time"], s["late"]) == (5, 2, 3, 2, 1)
    assert s["on_time_rate"] == pytest.approx(2 / 3)
    assert s["median_hours"] == pytest.approx((22 + 5) / 2)
    assert s["on_time_low"] < 2 / 3 < s["on_time_high"]
    sp = f.split_rate(d, WEEK).iloc[0]
    assert (sp["orders"], sp["split_orders"]) == (5, 1) and sp["split_rate"] == pytest.approx(0.2)


def test_backlog_at_the_period_end():
    d = f.order_dispatch(_orders(), _shipments(), as_of=WEEK.end)
    b = f.backlog(d, as_of=WEEK.end).set_index("warehouse")
    # waiting: B (W1, not overdue), D (W1, not overdue), C (W2, overdue since due Fri 20)
    assert b.loc["W1", "backlog"] == 2 and b.loc["W1", "overdue"] == 0
    assert b.loc["W2", "backlog"] == 1 and b.loc["W2", "overdue"] == 1
    assert b.loc["W2", "age_days"] == pytest.approx(4 + 15 / 24)


def test_parcel_outcomes_and_incidents():
    p = f.parcel_outcomes(_shipments(), WEEK).set_index("shipment_id")
    # promised in the week and shipped before its end: A (on time), C-1 (late: delivered Sat 21 after Fri 20),
    # E-1 (lost → late); C-2 is promised Sat 21 but shipped after the period end
    assert sorted(p.index) == ["A-1", "C-1", "E-1"]
    assert p["on_time"].to_dict() == {"A-1": True, "C-1": False, "E-1": False}
    assert p.loc["A-1", "transit_days"] == pytest.approx(26 / 24)
    inc = f.incidents(_shipments(), WEEK).set_index("carrier")
    assert inc.loc["K2", "parcels"] == 2 and inc.loc["K2", "lost"] == 1 and inc.loc["K2", "incident_rate"] == 0.5
    assert inc.loc["K1", "incidents"] == 0


def test_open_parcels_past_promise_and_at_risk():
    s = _shipments()
    op = f.open_parcels(s, as_of=T("2026-11-23 13:00"), at_risk_days=1).set_index("shipment_id")
    # shipped before Mon 13:00 and not delivered: B-1 (promise Fri 27: on track), C-2 (promise Sat 21: past);
    # E-1 is lost: a closed case, counted by incidents
    assert sorted(op.index) == ["B-1", "C-2"]
    assert op.loc["C-2", "state"] == "past_promise" and op.loc["B-1", "state"] == "on_track"
    assert op.loc["C-2", "days_past_promise"] == pytest.approx(1 + 13 / 24 + 1 / 1440)
    risk = f.open_parcels(s, as_of=T("2026-11-27 10:00"), at_risk_days=1).set_index("shipment_id")
    assert risk.loc["B-1", "state"] == "at_risk"


def _ranking_parcels():
    # K1: 50 parcels, 45 on time; K2: 50 parcels, 20 on time; K3: 5 parcels, 0 on time (too few to rank)
    rows = [("K1", i < 45) for i in range(50)] + [("K2", i < 20) for i in range(50)] + [("K3", False)] * 5
    return pd.DataFrame(rows, columns=["carrier", "on_time"]).assign(transit_days=1.0)


def test_delivery_ranking_is_fair_to_small_groups():
    r = f.delivery_ranking(_ranking_parcels(), by="carrier", min_parcels=30)
    assert r["carrier"].tolist() == ["K2", "K1", "K3"]  # K3 (0 of 5) is listed last, unranked
    assert r["rank"].iloc[:2].tolist() == [1, 2] and np.isnan(r["rank"].iloc[2])
    k2 = r.iloc[0]
    assert k2["on_time_rate"] == 0.4 and k2["rest_rate"] == pytest.approx(45 / 55)
    assert k2["significant"] and not r.iloc[2]["significant"] and np.isnan(r.iloc[2]["p_adjusted"])


def test_delivery_returns_by_carrier_use_the_returns_rules():
    orders, ships = _orders(), _shipments()
    returns = pd.DataFrame({"return_id": ["R1", "R2", "R3"], "order_id": ["A", "C", "C"], "sku": "S",
                            "returned_at": pd.to_datetime(["2026-11-20", "2026-11-21", "2026-11-22"]),
                            "quantity": 1, "reason_code": [None, None, None],
                            "reason_text": ["快递太慢了", "包装破损，外箱压坏", "尺码偏小"],
                            "refund_amount": [100.0, 50.0, 20.0], "resellable": True})
    dr = f.delivery_returns(orders, ships, returns, WEEK).set_index(["carrier", "reason"])
    # orders placed in the week and shipped before its end: A (K1), C and E (K2); B ships after the end
    assert dr.loc[("K1", "late_delivery"), "returns"] == 1 and dr.loc[("K1", "late_delivery"), "orders"] == 1
    assert dr.loc[("K2", "late_delivery"), "orders"] == 2
    assert dr.loc[("K2", "damaged_in_transit"), "returns"] == 1
    assert dr.loc[("K2", "damaged_in_transit"), "refund_amount"] == 50.0  # the size return is not counted
    assert dr.loc[("K2", "late_delivery"), "returns"] == 0


def test_repeat_purchase_after_a_late_first_order():
    # six customers, first orders in Jan; c1, c2 on time (c1 orders again in Feb), c3..c6 late (c3 again)
    first = pd.to_datetime(["2026-01-05"] * 6)
    orders = pd.DataFrame({"order_id": [f"F{i}" for i in range(6)] + ["N1", "N3", "N4"],
                           "customer_id": [f"c{i}" for i in range(1, 7)] + ["c1", "c3", "c4"],
                           "order_time": list(first) + list(pd.to_datetime(["2026-02-01", "2026-02-10",
                                                                            "2026-06-01"])),
                           "status": "completed"})
    ships = pd.DataFrame({"shipment_id": [f"S{i}" for i in range(6)], "order_id": [f"F{i}" for i in range(6)],
                          "carrier": "K", "warehouse": "W", "region": "R",
                          "shipped_at": pd.to_datetime(["2026-01-06"] * 6),
                          "delivered_at": pd.to_datetime(["2026-01-07", "2026-01-07", "2026-01-12", "2026-01-12",
                                                          None, "2026-01-12"]),
                          "promised_delivery": pd.to_datetime(["2026-01-09"] * 6),
                          "status": ["delivered", "delivered", "delivered", "delivered", "lost", "delivered"]})
    r = f.repeat_after_first(orders, ships, as_of=T("2026-11-23"), repeat_days=90, cohort_days=365).set_index("group")
    assert r.loc["on_time", "customers"] == 2 and r.loc["on_time", "repeaters"] == 1
    # c4 orders again only in June: outside the 90 days
    assert r.loc["late", "customers"] == 4 and r.loc["late", "repeaters"] == 1
    assert r.loc["late", "repeat_rate"] == 0.25 and r.loc["late", "diff"] == pytest.approx(-0.25)


# compute, headlines, findings, sentences on the hand-made store -------------------------------------------------
class _DS:
    def __init__(self, returns=None):
        self.orders, self.shipments, self.returns, self.customers = _orders(), _shipments(), returns, None


def test_compute_hand_made_store_records_gaps_and_values():
    now = f.compute(_DS(), WEEK, min_parcels=1)
    assert now.values["on_time_dispatch"] == pytest.approx(2 / 3)
    assert now.values["backlog"] == 3 and now.values["backlog_overdue"] == 1
    assert now.values["on_time_delivery"] == pytest.approx(1 / 3)
    assert set(now.gaps) == {"returns_link", "repeat"}
    assert now.gaps["returns_link"].message == "fulfilment.gap.no_returns_table"
    for lang in ("en", "zh"):
        msg = Messages(lang, currency="CNY")
        hs = f.headlines(now, None, msg)
        assert [h.key for h in hs][:2] == ["on_time_dispatch", "on_time_delivery"]
        assert all(h.source.startswith("ecomlib.fulfilment.") for h in hs)
        assert f.sentences(now, None, msg) and all(g.text(msg) for g in now.gaps.values())
        f.findings(now, None, msg)


def test_minimum_volume_below_at_above():
    # carriers in the period have 1 and 2 promised parcels: min_parcels 3 → gap; 2 → ranked
    assert "delivery" in f.compute(_DS(), WEEK, min_parcels=3).gaps
    assert "delivery" not in f.compute(_DS(), WEEK, min_parcels=2).gaps
    r = f.compute(_DS(), WEEK, min_parcels=2).by_carrier
    assert r["rank"].notna().sum() == 1


def test_empty_period_gaps():
    p = Period(T("2025-01-06"), T("2025-01-13"))
    now = f.compute(_DS(), p)
    assert {"dispatch", "split", "delivery", "incidents", "transit"} <= set(now.gaps)
    msg = Messages("zh")
    assert f.sentences(now, None, msg) and f.headlines(now, None, msg)[0].value is None


@pytest.mark.parametrize("options, message", [
    ({"dispatch_day": 2}, "unknown option 'dispatch_day' of fulfilment.compute"),
    ({"cutoff_hour": 25}, "cutoff_hour"),
    ({"alpha": 1.5}, "alpha must be between 0 and 1"),
    ({"weekmask": "11111"}, "weekmask must be seven 0/1 digits"),
    ({"holidays": ["not a date"]}, "holidays must be a list of dates"),
    ({"repeat_days": 400}, r"cohort_days \(365\) must be longer than repeat_days \(400\)"),
    ({"min_parcels": 0}, "min_parcels must be at least 1"),
])
def test_option_errors(options, message):
    with pytest.raises(ParameterError, match=message):
        f.compute(_DS(), WEEK, **options)


def test_every_message_key_has_english_and_chinese():
    from ecomlib.i18n import catalogue

    keys = {k: v for k, v in catalogue().items() if k.startswith("fulfilment.")}
    assert keys and all(set(v) >= {"en", "zh"} for v in keys.values())
    for s in f.MINIMUM_DATA:
        assert f"fulfilment.min.{s}" in keys and f"fulfilment.sec.{s}" in keys


# Demo store ----------------------------------------------------------------------------------------------------
def _slow_pair(folder):
    import ecomlib as el

    ds = f.load(folder)
    period, _ = el.resolve(None, None, data_end=f.data_range(ds)[1], kind="month")
    now = f.compute(ds, period)
    t = now.by_carrier_region.set_index(["carrier", "region"])
    return now, t


@pytest.mark.parametrize("seed", SEEDS)
def test_planted_slow_carrier_in_one_region_is_found(seed, demo_seed_dir):
    from ecomlib.demo_fulfilment import SLOW_CARRIER, SLOW_REGION

    now, t = _slow_pair(demo_seed_dir(seed))
    row = t.loc[(SLOW_CARRIER, SLOW_REGION)]
    assert row["significant"] and row["diff"] < -0.25 and row["rank"] == 1
    worst = f.findings(now, None, Messages("en"))[0]
    assert worst.severity == "high" and SLOW_CARRIER in worst.text and SLOW_REGION in worst.text


def test_no_slow_lane_without_plants(demo_no_plants_dir):
    from ecomlib.demo_fulfilment import SLOW_CARRIER, SLOW_REGION

    now, t = _slow_pair(demo_no_plants_dir)
    assert abs(t.loc[(SLOW_CARRIER, SLOW_REGION), "diff"]) < 0.10
    assert not any(x.severity == "high" for x in f.findings(now, None, Messages("en")))


def test_store_without_shipments_is_skipped_in_one_line(tmp_path):
    import shutil

    from ecomlib.demo import STORE
    import yaml

    (tmp_path / "store.yaml").write_text(yaml.safe_dump(STORE, allow_unicode=True), encoding="utf-8")
    shutil.copy(__import__("tests.conftest", fromlist=["DEMO_DIR"]).DEMO_DIR / "orders.csv", tmp_path)
    with pytest.raises(MissingTableError, match="shipments") as err:
        f.load(tmp_path)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("rung, missing, present", [
    ("three_days", {"delivery", "repeat"}, {"dispatch", "backlog", "incidents", "split", "transit"}),
    ("two_weeks", {"repeat"}, {"dispatch", "delivery", "incidents", "split", "transit", "returns_link"}),
])
def test_ladder_rungs_record_gaps_and_keep_the_rest(rung, missing, present, ladder_dir):
    import ecomlib as el

    ds = f.load(ladder_dir(rung))
    period, comparison = el.resolve(None, None, data_end=f.data_range(ds)[1])
    now, before = f.compute(ds, period), f.compute(ds, comparison)
    assert missing <= set(now.gaps) and not present & set(now.gaps)
    msg = Messages("zh")
    assert f.sentences(now, before, msg) and f.headlines(now, before, msg)
    assert all(g.text(msg) for g in now.gaps.values())


def test_clean_names_are_shared_objects_and_the_other_columns_are_not_copied():
    """Carrier, warehouse, region and status become objects with one Python string per name (a string per row was
    1.3 GiB on a 30×-orders store's 5 M parcels); the other columns keep their values and the input is unchanged."""
    s = pd.DataFrame({"shipment_id": ["S1", "S2", "S3", "S4"], "warehouse": pd.Series(["WH-A", "WH-B", "WH-A", None],
                                                                                    dtype="str"),
                      "carrier": pd.Categorical(["SF", "SF", "ZTO", "SF"]), "region": ["east", "east", "west", "east"],
                      "status": pd.Categorical(["delivered", "lost", "delivered", "in_transit"]),
                      "shipped_at": ts("2026-11-02", "2026-11-03", "2026-11-03", "2026-11-04")})
    before = s.copy()
    out = f._clean(s)
    for c in ("carrier", "warehouse", "region", "status"):
        assert out[c].dtype == object and out[c].tolist() == s[c].astype(object).tolist()
        assert len({id(v) for v in out[c].dropna()}) == out[c].nunique()
    assert pd.isna(out["warehouse"].iloc[3])
    pd.testing.assert_frame_equal(s, before)
    pd.testing.assert_frame_equal(out[["shipment_id", "shipped_at"]], s[["shipment_id", "shipped_at"]])
