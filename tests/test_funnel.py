"""Funnel review: hand-made event logs with answers worked out on paper, each error's message, the sentences in
both languages, and the planted mobile checkout drop on the demo store."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import ecomlib as el  # noqa: E402
from tests.conftest import SEEDS  # noqa: E402
from ecomlib import funnel  # noqa: E402
from ecomlib.funnel import FunnelError  # noqa: E402
from ecomlib.periods import parse_period  # noqa: E402

EN = el.Messages("en", currency="CNY")
ZH = el.Messages("zh", currency="CNY")
DAY = "2026-11-17"  # a Tuesday in 2026-W47


def ev(rows, *, day: str = DAY) -> pd.DataFrame:
    """Events from (time, session, event_name[, user[, device[, channel]]]); times are "HH:MM[:SS]" on ``day``
    or full timestamps."""
    out = []
    for r in rows:
        time, session, name, *rest = r
        user = rest[0] if len(rest) > 0 else f"u_{session}"
        device = rest[1] if len(rest) > 1 else "mobile"
        channel = rest[2] if len(rest) > 2 else "organic"
        when = pd.Timestamp(time) if len(time) > 8 else pd.Timestamp(f"{day} {time}")
        out.append({"event_time": when, "user_id": user, "session_id": session, "event_name": name,
                    "sku": None, "channel": channel, "device": device})
    return pd.DataFrame(out)


def col(table: pd.DataFrame, name: str) -> list:
    return table[name].tolist()


def same(a, b) -> bool:
    """Lists equal, NaN equal to NaN, floats to 1e-9."""
    return len(a) == len(b) and all((isinstance(x, float) and math.isnan(x) and isinstance(y, float) and math.isnan(y))
                                    or x == pytest.approx(y, abs=1e-9) for x, y in zip(a, b))


# --------------------------------------------------------------------------------------------------------
# The metric on hand-made logs
# --------------------------------------------------------------------------------------------------------
def test_in_order_sessions_counts_rates_drop_off_and_times():
    events = ev([
        ("10:00", "s1", "view_item"), ("10:05", "s1", "add_to_cart"), ("10:10", "s1", "begin_checkout"),
        ("10:20", "s1", "purchase"),
        ("10:00", "s2", "view_item"), ("10:02", "s2", "add_to_cart"),
        ("10:00", "s3", "view_item"), ("10:00", "s3", "session_start"),
        ("10:00", "s4", "add_to_cart"),  # never viewed: not in a closed funnel
    ])
    t = funnel.step_conversion(events)
    assert col(t, "step") == list(funnel.STEPS)
    # units: view s1 s2 s3 = 3; cart s1 s2 = 2; checkout s1 = 1; purchase s1 = 1
    assert col(t, "units") == [3, 2, 1, 1]
    assert col(t, "entered") == [3, 0, 0, 0]
    # from previous: 2/3, 1/2, 1/1; from first: 3/3, 2/3, 1/3, 1/3; drop-off: 3-2, 2-1, 1-1
    assert same(col(t, "conversion_from_previous"), [np.nan, 2 / 3, 0.5, 1.0])
    assert same(col(t, "conversion_from_first"), [1.0, 2 / 3, 1 / 3, 1 / 3])
    assert same(col(t, "drop_off"), [np.nan, 1.0, 1.0, 0.0])
    # view→cart: s1 300 s, s2 120 s → median 210, p90 (linear) 120 + 0.9·180 = 282; cart→checkout s1 300 s;
    # checkout→purchase s1 600 s
    assert same(col(t, "median_time_from_previous"), [np.nan, 210.0, 300.0, 600.0])
    assert same(col(t, "p90_time_from_previous"), [np.nan, 282.0, 300.0, 600.0])


def test_out_of_order_events_only_count_in_order():
    events = ev([
        ("10:00", "s1", "add_to_cart"), ("10:01", "s1", "view_item"),  # cart before view: view only
        ("10:00", "s2", "add_to_cart"), ("10:01", "s2", "view_item"), ("10:03", "s2", "add_to_cart"),  # cart 10:03
        ("10:00", "s3", "view_item"), ("10:01", "s3", "begin_checkout"), ("10:02", "s3", "add_to_cart"),
        ("10:04", "s3", "begin_checkout"),  # the 10:01 checkout comes before the cart: the 10:04 one counts
        ("10:00", "s4", "view_item"), ("10:01", "s4", "purchase"), ("10:02", "s4", "add_to_cart"),
        ("10:03", "s4", "begin_checkout"),  # purchase before checkout: not reached
    ]).sample(frac=1.0, random_state=3)  # rows in no particular order
    t = funnel.step_conversion(events)
    # view: s1 s2 s3 s4; cart: s2 s3 s4; checkout: s3 s4; purchase: none
    assert col(t, "units") == [4, 3, 2, 0]
    # view→cart: s2 10:01→10:03 = 120, s3 120, s4 120; cart→checkout: s3 10:02→10:04 = 120, s4 60 → median 90
    assert same(col(t, "median_time_from_previous"), [np.nan, 120.0, 90.0, np.nan])


def test_repeated_steps_count_once_and_time_from_first_occurrence():
    events = ev([
        ("10:00", "s1", "view_item"), ("10:01", "s1", "view_item"), ("10:02", "s1", "add_to_cart"),
        ("10:03", "s1", "add_to_cart"), ("10:04", "s1", "view_item"), ("10:05", "s1", "begin_checkout"),
        ("10:06", "s1", "purchase"), ("10:07", "s1", "purchase"),
        ("10:00", "s2", "view_item"), ("10:10", "s2", "view_item"),
    ])
    t = funnel.step_conversion(events)
    assert col(t, "units") == [2, 1, 1, 1]  # sessions, not events
    # view 10:00 → first cart 10:02 = 120 s; cart 10:02 → checkout 10:05 = 180 s; → purchase 10:06 = 60 s
    assert same(col(t, "median_time_from_previous"), [np.nan, 120.0, 180.0, 60.0])


def test_events_outside_the_window_do_not_count():
    events = ev([
        ("10:00", "s1", "view_item"), ("10:10", "s1", "add_to_cart"), ("10:29", "s1", "begin_checkout"),
        ("10:31", "s1", "purchase"),  # 31 min after the view: outside 30 min
        ("10:00", "s2", "view_item"), ("10:30", "s2", "add_to_cart"),  # exactly 30 min: inside (inclusive)
        ("10:00", "s3", "view_item"), ("10:20", "s3", "view_item"), ("10:40", "s3", "add_to_cart"),
        # the window runs from the FIRST view (10:00), so the 10:40 cart is out
    ])
    t = funnel.step_conversion(events)
    assert col(t, "units") == [3, 2, 1, 0]
    wide = funnel.step_conversion(events, window="45min")  # now s1's purchase (31) and s3's cart (40) count
    assert col(wide, "units") == [3, 3, 1, 1]
    assert col(funnel.step_conversion(events, window=pd.Timedelta(minutes=30)), "units") == [3, 2, 1, 0]


def test_users_with_several_sessions():
    events = ev([
        ("2026-11-17 10:00", "a", "view_item", "u1"), ("2026-11-17 10:05", "a", "add_to_cart", "u1"),
        ("2026-11-18 09:01", "b", "begin_checkout", "u1"), ("2026-11-18 09:02", "b", "purchase", "u1"),
        ("2026-11-17 10:00", "c", "view_item", "u2"),
        ("2026-11-27 10:00", "d", "add_to_cart", "u2"), ("2026-11-27 10:01", "d", "begin_checkout", "u2"),
        ("2026-11-27 10:02", "d", "purchase", "u2"),
    ])
    by_session = funnel.step_conversion(events, unit="session")
    # sessions a (view, cart) and c (view) enter; b and d have no view
    assert col(by_session, "units") == [2, 1, 0, 0]
    by_user = funnel.step_conversion(events, unit="user")  # default window for users: 7 days
    # u1 completes within a day; u2's cart comes 10 days after its view
    assert col(by_user, "units") == [2, 1, 1, 1]
    # u1 cart 11-17 10:05 → checkout 11-18 09:01 = 22 h 56 min = 82,560 s
    assert by_user["median_time_from_previous"].iloc[2] == 82_560.0
    assert col(funnel.step_conversion(events, unit="user", window="14D"), "units") == [2, 2, 2, 2]


def test_ties_in_timestamps_are_in_order_whatever_the_row_order():
    events = ev([
        ("10:00:00", "s1", "purchase"), ("10:00:00", "s1", "begin_checkout"), ("10:00:00", "s1", "add_to_cart"),
        ("10:00:00", "s1", "view_item"),  # all at the same second, rows in reverse order
        ("10:00:00", "s2", "add_to_cart"), ("10:00:00", "s2", "view_item"), ("10:00:05", "s2", "purchase"),
    ])
    t = funnel.step_conversion(events)
    # s1 reaches every step; s2 view and cart (tied), no checkout
    assert col(t, "units") == [2, 2, 1, 1]
    assert same(col(t, "median_time_from_previous"), [np.nan, 0.0, 0.0, 0.0])


def test_open_funnel_lets_units_enter_at_any_step():
    events = ev([
        ("10:00", "s1", "add_to_cart"), ("10:01", "s1", "begin_checkout"),  # enters at cart
        ("10:00", "s2", "view_item"), ("10:01", "s2", "add_to_cart"),
        ("10:00", "s3", "view_item"), ("10:05", "s3", "begin_checkout"),  # no cart: re-enters at checkout
    ])
    steps = ["view_item", "add_to_cart", "begin_checkout"]
    closed = funnel.step_conversion(events, steps=steps)
    assert col(closed, "units") == [2, 1, 0]
    t = funnel.step_conversion(events, mode="open", steps=steps)
    # view: s2 s3 (entered); cart: s1 (entered) + s2 (went on); checkout: s1 (went on) + s3 (entered)
    assert col(t, "units") == [2, 2, 2]
    assert col(t, "entered") == [2, 1, 1]
    # from previous = went on / previous step's units: cart 1/2, checkout 1/2
    assert same(col(t, "conversion_from_previous"), [np.nan, 0.5, 0.5])
    assert same(col(t, "drop_off"), [np.nan, 1.0, 1.0])
    # an open funnel has no whole-funnel test (entrants at later steps are not a subset of step 1)
    assert set(funnel.compare_periods(t, t)["kind"]) == {"step"}


def test_breakdown_takes_the_value_of_the_entry_event():
    events = ev([
        ("2026-11-17 10:00", "a", "view_item", "u1", "mobile"), ("2026-11-17 10:05", "b", "add_to_cart", "u1", "desktop"),
        ("2026-11-17 10:00", "c", "view_item", "u2", "desktop"),
        ("2026-11-17 11:00", "d", "add_to_cart", "u3", "tablet"),  # never viewed: no row for tablet
        ("2026-11-17 12:00", "e", "view_item", "u4", None), ("2026-11-17 12:01", "e", "add_to_cart", "u4", None),
    ])
    t = funnel.step_conversion(events, unit="user", by="device", steps=["view_item", "add_to_cart"])
    # u1 entered on mobile (its cart on desktop still counts for mobile); u2 desktop; u4 missing device
    assert col(t, "device")[:4] == ["desktop", "desktop", "mobile", "mobile"]
    assert pd.isna(t["device"].iloc[4]) and len(t) == 6
    assert col(t, "units") == [1, 0, 1, 1, 1, 1]


def test_period_counts_units_entering_in_it_with_events_spilling_past_its_end():
    w47 = parse_period("2026-W47")
    events = ev([
        ("2026-11-15 23:50", "s1", "view_item"), ("2026-11-16 00:05", "s1", "add_to_cart"),  # entered in W46
        ("2026-11-22 23:55", "s2", "view_item"), ("2026-11-23 00:10", "s2", "add_to_cart"),  # W47, cart after end
        ("2026-11-23 00:10", "s3", "view_item"),  # enters after W47
        ("2026-11-18 10:00", "s4", "view_item"),
    ])
    steps = ["view_item", "add_to_cart"]
    t = funnel.step_conversion(events, period=w47, steps=steps)
    assert col(t, "units") == [2, 1]  # s2 and s4 enter; s2's cart counts
    t46 = funnel.step_conversion(events, period=w47.previous(), steps=steps)
    assert col(t46, "units") == [1, 1]  # s1, whose cart falls after midnight


def test_empty_period_gives_zero_units_nan_rates_and_an_honest_sentence():
    events = ev([("10:00", "s1", "view_item"), ("10:01", "s1", "add_to_cart"), ("10:02", "s1", "begin_checkout"),
                 ("10:03", "s1", "purchase")], day="2026-11-10")
    w47 = parse_period("2026-W47")
    t = funnel.step_conversion(events, period=w47)
    assert col(t, "units") == [0, 0, 0, 0]
    assert t[["conversion_from_previous", "conversion_from_first", "median_time_from_previous"]].isna().all().all()
    assert len(funnel.step_conversion(events, period=w47, by="device")) == 0
    assert col(funnel.step_conversion(events.iloc[:0]), "units") == [0, 0, 0, 0]  # no events at all
    now = funnel.segment_conversion(events, period=w47)
    before = funnel.segment_conversion(events, period=w47.previous())
    changes = funnel.compare_periods(now, before)
    assert changes.loc[changes["dimension"] == "all", "p_value"].isna().all()
    assert not changes["significant"].any()
    assert funnel.change_sentences(changes, msg=EN) == [
        "No sessions entered the funnel at “Product view” in this period, so there are no conversion rates to "
        "report or compare."]
    assert funnel.change_sentences(changes, msg=ZH) == ["本周期没有会话在“浏览商品”进入漏斗，因此没有可报告或比较的转化率。"]
    ds = dataset(events)
    r_now, r_before = funnel.compute(ds, w47), funnel.compute(ds, w47.previous())
    heads = funnel.headlines(r_now, r_before, EN)
    assert {h.key: (h.value, h.previous) for h in heads} == {
        "units": (0, 1), "completions": (0, 1), "conversion": (None, 1.0), "worst_change": (None, None)}
    assert "funnel" in r_now.gaps and "changes" in funnel.compare(r_now, r_before).gaps
    assert funnel.sentences(r_now, r_before, EN) == [
        "No units entered the funnel at its first step in this period, so there are no conversion rates; events "
        "with the first step in the period would make them possible."]


def test_brute_force_oracle_agrees_on_random_logs():
    """An independent, deliberately naive re-implementation of the rule (a test oracle, written from the
    definition, looping over a few hundred sessions) against the vectorized function."""
    rng = np.random.default_rng(7)
    n = 3000
    steps = list(funnel.STEPS)
    events = pd.DataFrame({
        "event_time": pd.Timestamp("2026-11-17") + pd.to_timedelta(rng.integers(0, 50, n) * 60, unit="s"),
        "session_id": rng.integers(0, 300, n).astype(str), "event_name": rng.choice(steps + ["session_start"], n),
    })
    events["user_id"] = "u" + events["session_id"]
    window = pd.Timedelta("30min")

    def path(group: pd.DataFrame) -> int:
        g = group.assign(k=group["event_name"].map({s: i for i, s in enumerate(steps)})).dropna(subset=["k"])
        g = g.sort_values(["event_time", "k"])
        firsts = g.loc[g["k"] == 0, "event_time"]
        if firsts.empty:
            return 0
        start = t = firsts.min()
        reached = 1
        for k in range(1, len(steps)):
            later = g.loc[(g["k"] == k) & (g["event_time"] >= t), "event_time"]
            if later.empty or later.min() > start + window:
                break
            t, reached = later.min(), k + 1
        return reached

    depth = events.groupby("session_id").apply(path, include_groups=False)
    expected = [int((depth >= k + 1).sum()) for k in range(len(steps))]
    assert col(funnel.step_conversion(events, window=window), "units") == expected
    assert expected[-1] > 0 and expected[1] < expected[0]  # the log exercises every step


# --------------------------------------------------------------------------------------------------------
# Segments, new vs returning, trend
# --------------------------------------------------------------------------------------------------------
def _orders():
    return pd.DataFrame({
        "order_id": ["o1", "o2", "o3"], "customer_id": ["C1", "C2", "C3"],
        "order_time": pd.to_datetime(["2026-11-01", "2026-11-01", "2026-11-17"]),
        "status": ["completed", "cancelled", "completed"], "revenue": [100.0, 50.0, 80.0],
    })


def test_customer_type_is_returning_only_with_a_completed_order_before_the_period():
    events = ev([("10:00", "a", "view_item", "C1"), ("10:01", "a", "add_to_cart", "C1"),
                 ("10:00", "b", "view_item", "C2"), ("10:00", "c", "view_item", "C3"),
                 ("10:00", "d", "view_item", "u9")])
    typed = funnel.add_customer_type(events, _orders(), before=pd.Timestamp("2026-11-16"))
    # C1: completed 11-01 → returning; C2: only a cancelled order; C3: completed in the period; u9: anonymous
    assert typed["customer_type"].tolist() == ["returning", "returning", "new", "new", "new"]
    assert "customer_type" not in events  # a new frame
    table = funnel.segment_conversion(events, breakdowns=["customer_type"], orders=_orders(),
                                      period=parse_period("2026-W47"), steps=["view_item", "add_to_cart"])
    rows = table[table["step"] == "add_to_cart"].set_index("segment")
    assert rows["units"].to_dict() == {"all": 1, "new": 0, "returning": 1}
    assert rows.loc["all", "conversion_from_previous"] == pytest.approx(1 / 4)


def test_segment_conversion_stacks_all_and_each_breakdown():
    events = ev([("10:00", "s1", "view_item", "u1", "mobile", "email"),
                 ("10:01", "s1", "add_to_cart", "u1", "mobile", "email"),
                 ("10:00", "s2", "view_item", "u2", "desktop", "email"),
                 ("10:00", "s3", "view_item", "u3", "mobile", "direct")])
    t = funnel.segment_conversion(events, breakdowns=["device", "channel"], steps=["view_item", "add_to_cart"])
    assert list(t.columns[:3]) == ["dimension", "segment", "step"]
    carts = t[t["step"] == "add_to_cart"]
    # all: 1/3; desktop 0/1, mobile 1/2; direct 0/1, email 1/2
    assert list(zip(carts["dimension"], carts["segment"], carts["units"])) == [
        ("all", "all", 1), ("device", "desktop", 0), ("device", "mobile", 1),
        ("channel", "direct", 0), ("channel", "email", 1)]
    assert same(col(carts, "conversion_from_previous"), [1 / 3, 0.0, 0.5, 0.0, 0.5])


def test_daily_and_weekly_trend_by_day_of_entry():
    events = ev([
        ("2026-11-16 10:00", "s1", "view_item"), ("2026-11-16 10:01", "s1", "add_to_cart"),
        ("2026-11-16 23:59", "s2", "view_item"), ("2026-11-17 00:01", "s2", "add_to_cart"),  # counts on the 16th
        ("2026-11-17 09:00", "s3", "view_item"),
        ("2026-11-23 09:00", "s4", "view_item"), ("2026-11-23 09:01", "s4", "add_to_cart"),  # next ISO week
    ])
    daily = funnel.conversion_trend(events, steps=["view_item", "add_to_cart"])
    carts = daily[daily["step"] == "add_to_cart"]
    assert carts["date"].dt.strftime("%m-%d").tolist() == ["11-16", "11-17", "11-23"]
    assert same(col(carts, "conversion_from_previous"), [1.0, 0.0, 1.0])  # 2/2, 0/1, 1/1
    weekly = funnel.conversion_trend(events, freq="W", steps=["view_item", "add_to_cart"])
    carts = weekly[weekly["step"] == "add_to_cart"]
    assert carts["date"].dt.strftime("%m-%d").tolist() == ["11-16", "11-23"]  # Mondays
    assert col(carts, "units") == [2, 1]


# --------------------------------------------------------------------------------------------------------
# Comparison, sentences, headlines
# --------------------------------------------------------------------------------------------------------
def sessions(counts: dict, *, device: str, day: str, prefix: str) -> pd.DataFrame:
    """``counts[d]`` sessions that go exactly ``d`` steps deep in (view_item, begin_checkout, purchase)."""
    steps = ["view_item", "begin_checkout", "purchase"]
    depth = np.repeat(list(counts), list(counts.values()))
    sid = np.array([f"{prefix}{device}{i}" for i in range(len(depth))])
    k = np.concatenate([np.arange(d) for d in depth])
    owner = np.repeat(np.arange(len(depth)), depth)
    return pd.DataFrame({"event_time": pd.Timestamp(day) + pd.to_timedelta(owner * 60 + k, unit="s"),
                         "user_id": sid[owner], "session_id": sid[owner], "event_name": np.array(steps)[k],
                         "device": device, "channel": "organic"})


def test_compare_periods_two_proportion_test_holm_and_lost_completions():
    # Two-step funnel (checkout → purchase). Mobile 60/100 before, 45/100 now; desktop 50/100 both times.
    before = pd.concat([sessions({2: 60, 1: 40}, device="mobile", day="2026-11-10", prefix="b"),
                        sessions({2: 50, 1: 50}, device="desktop", day="2026-11-10", prefix="b")])
    now = pd.concat([sessions({2: 45, 1: 55}, device="mobile", day="2026-11-17", prefix="n"),
                     sessions({2: 50, 1: 50}, device="desktop", day="2026-11-17", prefix="n")])
    steps = ["view_item", "begin_checkout"]  # depth 1 = view only, depth 2 = view + checkout
    w47 = parse_period("2026-W47")
    t_now = funnel.segment_conversion(pd.concat([before, now]), breakdowns=["device"], steps=steps, period=w47)
    t_before = funnel.segment_conversion(pd.concat([before, now]), breakdowns=["device"], steps=steps,
                                         period=w47.previous())
    ch = funnel.compare_periods(t_now, t_before, alpha=0.2).set_index("segment")
    assert set(ch["kind"]) == {"step"}  # two steps: no separate whole-funnel row
    # mobile: pooled 105/200 = .525, se = sqrt(.525·.475·(2/100)) = .070622, z = -.15/.070622 = -2.124,
    # p = 2(1 - Φ(2.124)) = .0337. all: 110/200 vs 95/200, pooled .5125, se = .049984, z = -1.5005, p = .1335.
    # desktop: p = 1. Holm: .0337·3 = .1010; max(.1010, .1335·2) = .2670; max(.2670, 1·1) = 1.
    assert ch.loc["mobile", "p_value"] == pytest.approx(0.0337, abs=1e-4)
    assert ch.loc["all", "p_value"] == pytest.approx(0.1335, abs=1e-4)
    assert ch.loc["mobile", "p_adjusted"] == pytest.approx(0.1010, abs=2e-4)
    assert ch.loc["all", "p_adjusted"] == pytest.approx(0.2670, abs=2e-4)
    assert ch.loc["desktop", "p_adjusted"] == pytest.approx(1.0)
    assert ch["significant"].to_dict() == {"mobile": True, "all": False, "desktop": False}  # at alpha = .2
    # lost completions at this period's traffic: (.45 - .60) · 100 = -15 (last step: no downstream factor)
    assert ch.loc["mobile", "completions_change"] == pytest.approx(-15.0)
    assert list(ch.index) == ["mobile", "all", "desktop"]  # significant first, then by |z|
    assert ch.loc["mobile", ["n_1", "x_1", "n_2", "x_2"]].tolist() == [100, 60, 100, 45]
    assert not funnel.compare_periods(t_now, t_before)["significant"].any()  # at the default alpha = .05

    sentences_en = funnel.change_sentences(funnel.compare_periods(t_now, t_before, alpha=0.2), msg=EN, steps=steps,
                                           alpha=0.2)
    assert sentences_en[0] == ("200 sessions entered the funnel at “Product view”; 47.5% of them reached “Checkout” "
                               "(95), against 55.0% in the comparison period (p = 0.267, not significant: at this "
                               "volume a change smaller than ±13.4 pp could not have been told apart).")
    # the minimum detectable effect at alpha .2 / 3 tests, 80 % power: (1.8339 + 0.8416) · .049984 = .1337
    assert sentences_en[1] == ("Mobile: Product view → Checkout conversion fell from 60.0% to 45.0% (p = 0.101) — "
                               "about 15 sessions reaching “Checkout” lost at this period's traffic.")
    assert sentences_en[2] == ("3 step conversions were tested across segments and 1 changed significantly; p-values "
                               "are adjusted for the number of comparisons (Holm, α = 20.0%).")
    sentences_zh = funnel.change_sentences(funnel.compare_periods(t_now, t_before, alpha=0.2), msg=ZH, steps=steps,
                                           alpha=0.2)
    assert sentences_zh[1] == ("移动端：浏览商品 → 开始结账 转化率从 60.0% 降至 45.0%（p = 0.101）——按本期流量估算，"
                               "约少 15 个会话到达“开始结账”。")
    no_sig = funnel.change_sentences(funnel.compare_periods(t_now, t_before), msg=EN, steps=steps)
    # next to "no significant change", what the all-sessions test could have detected: pooled .5125, se .049984,
    # at alpha .05 / 3 tests and 80 % power (z = 2.3940 + 0.8416 = 3.2356): 3.2356 · .049984 = .1617 → ±16.2 pp
    assert no_sig[1] == ("No step conversion changed significantly against the comparison period (α = 5.0% after "
                         "correction); at this period's volume the test for all sessions could detect a change of "
                         "±16.2 pp (80% power), so a smaller change is too small to tell.")
    assert funnel.change_sentences(funnel.compare_periods(t_now, t_before), msg=ZH, steps=steps)[1].startswith(
        "与对比周期相比，没有任何一步的转化率发生显著变化（校正后 α = 5.0%）；按本期流量，全部会话的检验只能发现 ±16.2个百分点")
    assert funnel.compare_periods(t_now, t_before).set_index("segment").loc["all", "mde"] == pytest.approx(0.1617, abs=2e-4)
    assert ch.loc["all", "mde"] == pytest.approx(0.1337, abs=2e-4)  # at alpha .2 / 3


def test_lost_completions_carry_through_to_the_last_step_and_whole_funnel_row():
    # Three steps. Before: 200 views, 120 checkouts, 72 purchases. Now: 200, 100, 45.
    before = sessions({3: 72, 2: 48, 1: 80}, device="mobile", day="2026-11-10", prefix="b")
    now = sessions({3: 45, 2: 55, 1: 100}, device="mobile", day="2026-11-17", prefix="n")
    steps = ["view_item", "begin_checkout", "purchase"]
    # checkout→purchase 72/120 → 45/100: pooled 117/220 = .5318, se = sqrt(.5318·.4682·(1/120 + 1/100)) = .06756,
    # z = -.15/.06756 = -2.220, p = .0264; view→checkout 120/200 → 100/200: pooled .55, se .04975, z -2.010,
    # p = .0444; whole 72/200 → 45/200: pooled .2925, se .04549, z -2.968, p = .0030.
    # Two families, each Holm-adjusted on its own: the whole funnel alone (.0030); the two steps: .0264·2 = .0528,
    # max(.0528, .0444·1) = .0528 → all significant at alpha = .1
    ch = funnel.compare_periods(funnel.step_conversion(now, steps=steps), funnel.step_conversion(before, steps=steps),
                                alpha=0.1)
    rows = ch.set_index(["kind", "from_step"])
    # view→checkout: (.50 - .60) · 200 views · (45/100 of checkouts purchase now) = -9
    assert rows.loc[("step", "view_item"), "completions_change"] == pytest.approx(-9.0)
    # checkout→purchase: (.45 - .60) · 100 = -15; whole funnel: (45/200 - 72/200) · 200 = -27
    assert rows.loc[("step", "begin_checkout"), "completions_change"] == pytest.approx(-15.0)
    assert rows.loc[("overall", "view_item"), "completions_change"] == pytest.approx(-27.0)
    assert rows.loc[("overall", "view_item"), ["rate_1", "rate_2"]].tolist() == pytest.approx([0.36, 0.225])
    assert ch["p_adjusted"].tolist() == pytest.approx([0.0030, 0.0528, 0.0528], abs=1e-3)
    assert ch["family_size"].tolist() == [1, 2, 2]
    assert ch["significant"].all()
    text = funnel.change_sentences(ch, msg=EN, steps=steps, alpha=0.1)
    assert text[0].startswith("200 sessions entered the funnel at “Product view”; 22.5% of them reached “Purchase” "
                              "(45), against 36.0% in the comparison period")
    # purchase is the last step of a session funnel: the lost completions are orders
    assert any("Checkout → Purchase conversion fell from 60.0% to 45.0%" in s and "about 15 orders lost" in s
               for s in text)


def dataset(events, orders=None, promotions=None, **tables) -> el.Dataset:
    """A Dataset of hand-made tables, as funnel.load returns it."""
    return el.Dataset(path=Path("."), store=el.Store(currency="CNY"), events=events, orders=orders,
                      promotions=promotions, **tables)


def test_headlines_computed_the_same_way_for_both_periods():
    w47 = parse_period("2026-W47")
    events = pd.concat([sessions({3: 45, 2: 55, 1: 100}, device="mobile", day="2026-11-17", prefix="n"),
                        sessions({3: 72, 2: 48, 1: 80}, device="mobile", day="2026-11-10", prefix="b")])
    events = pd.concat([events, ev([("2026-11-18 10:00", "x1", "session_start")])])  # a session outside the funnel
    orders = _orders().assign(order_time=pd.to_datetime(["2026-11-16", "2026-11-17", "2026-11-18"]),
                              status=["completed", "cancelled", "pending"])
    assert funnel.period_totals(events, period=w47) == {"units": 201}  # 200 funnel sessions + x1
    steps = ["view_item", "begin_checkout", "purchase"]
    ds = dataset(events, orders)
    now = funnel.compute(ds, w47, steps=steps, breakdowns=[])
    before = funnel.compute(ds, w47.previous(), steps=steps, breakdowns=[])
    heads = funnel.headlines(now, before, EN)
    got = {h.key: (h.value, h.previous) for h in heads}
    assert got["units"] == (201, 200)
    assert got["completions"] == (45, 72)
    assert got["conversion"] == pytest.approx((45 / 201, 72 / 200))
    # the events record 45 purchases, the orders table 3 orders: they do not reconcile, so no revenue per session
    assert "revenue_per_unit" not in got and "revenue_per_unit" in now.gaps
    # average order value from the orders alone: the completed 100 (the cancelled and the pending order are out);
    # the comparison week has no order
    assert got["average_order_value"] == (100.0, None)
    # whole funnel alone in its family: p = .0030; steps Holm over 2: .0528 and .0528 → at alpha = .05 no step
    # conversion fell significantly
    assert got["worst_change"] == (None, None)
    assert [h.label for h in heads][:3] == ["Sessions", "Sessions reaching “Purchase”", "Session → Purchase conversion"]
    assert all(h.source and h.source.startswith("ecomlib.funnel.") for h in heads)
    for h in heads:  # each source names a function of the module: one hop from the number to its code
        assert callable(getattr(funnel, h.source.rsplit(".", 1)[1]))
    assert [h.label for h in funnel.headlines(now, before, ZH)][:2] == ["会话数", "到达“购买”的会话数"]
    # the comparison reproduces: reviewing the comparison week itself gives the previous values
    again = {h.key: h.value for h in funnel.headlines(before, funnel.compute(ds, parse_period("2026-W45"),
                                                                                 steps=steps, breakdowns=[]), EN)}
    assert {k: again[k] for k in ("units", "completions", "conversion")} == {
        k: got[k][1] for k in ("units", "completions", "conversion")}


def test_for_display_translates_steps_segments_and_transitions():
    events = ev([("10:00", "s1", "view_item", "u1", "tablet", "paid_social"), ("10:01", "s1", "add_to_cart")])
    table = funnel.segment_conversion(events, breakdowns=["device", "channel"], steps=["view_item", "add_to_cart"])
    shown = funnel.for_display(table, ZH)
    assert shown["step"].tolist()[:2] == ["浏览商品", "加入购物车"]
    assert shown["segment"].tolist()[::2] == ["全部", "平板", "付费社交"]
    assert shown["dimension"].tolist()[::2] == ["全部", "设备", "渠道"]
    ch = funnel.for_display(funnel.compare_periods(table, table), ZH)
    assert ch["transition"].iloc[0] == "浏览商品 → 加入购物车"
    assert "from_step" not in ch and set(ch["significant"]) == {"否"}
    assert funnel.segment_label("region", "华东 East", EN) == "region = 华东 East"  # unknown column and value
    assert funnel.step_label("my_custom_step", ZH) == "my_custom_step"


# --------------------------------------------------------------------------------------------------------
# Errors: each says what is wrong and what would be right
# --------------------------------------------------------------------------------------------------------
def test_errors_name_the_problem_and_the_valid_choices():
    events = ev([("10:00", "s1", "view_item"), ("10:01", "s1", "add_to_cart")])
    # a bad option value: the one error type and wording of every review (errors.check_option)
    with pytest.raises(el.ParameterError, match=r"^unit must be one of 'session', 'user', not 'visit'$"):
        funnel.step_conversion(events, unit="visit")
    with pytest.raises(el.ParameterError, match=r"^mode must be one of 'closed', 'open', not 'half'$"):
        funnel.step_conversion(events, mode="half")
    with pytest.raises(el.ParameterError, match=r"^method must be one of 'holm', 'fdr_bh', 'bonferroni', not 'sidak'$"):
        funnel.compute(dataset(events), parse_period("2026-W47"), method="sidak")
    with pytest.raises(FunnelError, match=r"step\(s\) \['add_to_kart'\] never occur.*valid values: \['add_to_cart', "
                                          r"'view_item'\]"):
        funnel.step_conversion(events, steps=["view_item", "add_to_kart"])
    with pytest.raises(FunnelError, match=r"at least two steps, got \['view_item'\]"):
        funnel.step_conversion(events, steps=["view_item"])
    with pytest.raises(FunnelError, match=r"distinct; \['view_item'\] appear more than once"):
        funnel.step_conversion(events, steps=["view_item", "add_to_cart", "view_item"])
    with pytest.raises(FunnelError, match=r"no column \['country'\]; valid values: \['event_time'") as info:
        funnel.step_conversion(events, by="country")
    assert info.value.option == "by" and isinstance(info.value, el.ParameterError)
    two = ["view_item", "add_to_cart"]
    with pytest.raises(FunnelError, match=r"window must be a positive duration, not '-5min'"):
        funnel.step_conversion(events, window="-5min", steps=two)
    with pytest.raises(FunnelError, match=r"window must be a duration such as '30min'"):
        funnel.step_conversion(events, window="soon", steps=two)
    with pytest.raises(FunnelError, match=r"customer_type breakdown \(new vs returning\) needs the orders table"):
        funnel.segment_conversion(events, breakdowns=["customer_type"])
    with pytest.raises(FunnelError, match=r"unknown frequency 'M'; valid values: \['D', 'W'\]"):
        funnel.conversion_trend(events, freq="M")
    a = funnel.step_conversion(events, steps=["view_item", "add_to_cart"])
    b = funnel.step_conversion(events, steps=["view_item", "add_to_cart"], by="device")
    with pytest.raises(FunnelError, match=r"differ in steps or segment columns"):
        funnel.compare_periods(a, b)


# --------------------------------------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------------------------------------
def test_plots_return_axes_with_translated_text():
    events = pd.concat([sessions({3: 45, 2: 55, 1: 100}, device="mobile", day="2026-11-17", prefix="n"),
                        sessions({3: 72, 2: 48, 1: 80}, device="desktop", day="2026-11-10", prefix="b")])
    steps = ["view_item", "begin_checkout", "purchase"]
    table = funnel.segment_conversion(events, breakdowns=["device"], steps=steps)
    with matplotlib.rc_context():
        el.set_theme()  # the CJK font, as the notebook has it
        _draw_every_plot(events, table, steps)


def _draw_every_plot(events: pd.DataFrame, table: pd.DataFrame, steps: list[str]) -> None:
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    ax = funnel.plot_funnel(funnel.overall(table), previous=funnel.overall(table), ax=axes[0, 0], msg=ZH)
    assert ax is axes[0, 0] and ax.get_title() == "本期漏斗（虚线框：对比周期）"
    ticks = dict(zip(ax.get_yticks(), [t.get_text() for t in ax.get_yticklabels()]))
    assert ticks == {2: "浏览商品", 1: "开始结账", 0: "购买"}  # first step on top
    # views 200 + 200 = 400; checkouts (45 + 55) + (72 + 48) = 220 = 55.0 % of 400
    assert [t.get_text() for t in ax.texts][:2] == ["400", "220 (55.0%)"]
    ax = funnel.plot_heatmap(table, ax=axes[0, 1], msg=ZH)
    assert ax.get_title() == "各细分的分步转化率"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["浏览商品 → 开始结账", "开始结账 → 购买",
                                                           "整体漏斗（浏览商品 → 购买）"]
    trend = funnel.conversion_trend(events, steps=steps)
    promos = pd.DataFrame({"promo_id": ["P1"], "name": ["双11"], "start_date": [pd.Timestamp("2026-11-11")],
                           "end_date": [pd.Timestamp("2026-11-11")]})
    ax = funnel.plot_trend(trend, promotions=promos, highlight=parse_period("2026-W47"), ax=axes[1, 0], msg=EN)
    assert ax.get_ylabel() == "Conversion" and len(ax.get_lines()) == 3  # two steps + whole funnel
    assert "双11" in [t.get_text() for t in ax.texts]
    ch = funnel.compare_periods(table, table)
    ax = funnel.plot_changes(ch, ax=axes[1, 1], msg=EN)
    assert ax.get_xlabel().startswith("Change in conversion")
    plt.close(fig)


# --------------------------------------------------------------------------------------------------------
# The planted finding on the demo store
# --------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_review(demo_dir):
    """The demo store's funnel review for 2026-W47 against 2026-W46, computed once for this module."""
    ds = funnel.load(demo_dir)
    period, comparison = el.resolve(None, None, data_end=ds.events["event_time"].max())
    options = dict(breakdowns=["device", "channel", "customer_type"])
    return ds, funnel.compute(ds, period, **options), funnel.compute(ds, comparison, **options)


def test_demo_mobile_checkout_drop_is_the_top_significant_change(demo_review):
    ds, now, before = demo_review
    assert (now.period.label, before.period.label) == ("2026-W47", "2026-W46")
    changes = funnel.compare(now, before).changes
    top = funnel.significant_changes(changes).iloc[0]
    assert (top["dimension"], top["segment"], top["from_step"], top["to_step"]) == (
        "device", "mobile", "begin_checkout", "purchase")
    # planted: 62 % → 45 %, less the ~3 % of buyers who pay after the 30-minute window
    assert 0.55 < top["rate_1"] < 0.66 and 0.38 < top["rate_2"] < 0.50
    assert top["p_adjusted"] < 0.001 and top["completions_change"] < -100
    text = funnel.sentences(now, before, EN)
    assert text[1].startswith(f"Mobile: Checkout → Purchase conversion fell from {EN.pct(top['rate_1'])} to "
                              f"{EN.pct(top['rate_2'])}")
    assert "orders lost at this period's traffic" in text[1]
    zh = funnel.sentences(now, before, ZH)
    assert zh[1].startswith("移动端：开始结账 → 购买 转化率从")
    assert not [c for c in VOCAB_CODES if c in " ".join(zh)]  # no raw data code on a Chinese page
    assert not [c for c in VOCAB_CODES if c in " ".join(f.text for f in funnel.findings(now, before, ZH))]
    # desktop checkout → purchase did not change significantly
    desk = changes[(changes["segment"] == "desktop") & (changes["from_step"] == "begin_checkout")]
    assert not desk["significant"].item()
    found = funnel.findings(now, before, EN)
    planted = [f for f in found if f.key == "conversion_fell.device.mobile.begin_checkout.purchase"]
    assert planted and planted[0].severity == "high" and planted[0].confidence == "significant"
    # money at stake: the orders lost × the week's average order value (gross, no pending orders) × the gross
    # margin of its lines (the review loads order_items and products when the folder has them)
    assert 0.3 < now.values["margin"] < 0.7
    assert planted[0].money == pytest.approx(-top["completions_change"] * now.values["aov"] * now.values["margin"])
    assert planted[0].numbers["money_basis"] == "margin" and planted[0].anchor == "sec-changes"


def test_demo_singles_day_is_named_and_kept_out_of_the_tests(demo_review):
    """Issue 14: W46 held 双11; the desktop view → cart 'fall' (p < 0.001 with it) is not significant without it."""
    ds, now, before = demo_review
    assert before.promotion_days["date"].dt.strftime("%m-%d").tolist() == ["11-11"]
    tests = funnel.compare(now, before)
    desk = "dimension == 'device' and segment == 'desktop' and from_step == 'view_item' and kind == 'step'"
    assert tests.changes_other.query(desk)["significant"].item()  # with 11 Nov, as the old page said
    assert not tests.changes.query(desk)["significant"].item()  # without it: no evidence
    assert tests.values["significant"] < tests.values["significant_other"]
    text = " ".join(funnel.sentences(now, before, EN))
    assert "The comparison period includes promotion days (双11 Singles' Day (Nov 11, 2026))" in text
    heads = {h.key: h for h in funnel.headlines(now, before, EN)}
    assert "promotion days in the comparison period: 双11 Singles' Day" in heads["units"].label


def test_demo_headlines_do_not_contradict_each_other(demo_review):
    """Issue 17: 'purchases −48 %' sat above 'revenue per session +52 %' — order revenue over a sample's sessions.
    The events' purchases do not reconcile with the orders (the events are an analytics sample), so the page
    shows no revenue per session, says why, and prices money from the orders alone."""
    ds, now, before = demo_review
    heads = {h.key: h for h in funnel.headlines(now, before, EN)}
    assert "revenue_per_unit" not in heads
    assert not now.values["reconciled"] and now.values["purchases"] < 0.5 * now.values["orders_placed"]
    assert heads["average_order_value"].label == "Average order value (gross, excl. pending orders)"
    # one revenue definition: contract.order_revenue, gross, pending left out (W47 ends with pending orders)
    from ecomlib.contract import order_revenue
    week = ds.orders[now.period.contains(ds.orders["order_time"])]
    assert now.values["revenue"] == pytest.approx(order_revenue(week)["revenue"].sum())
    assert now.values["pending_orders"] > 0 and before.values["pending_orders"] == 0


@pytest.fixture(scope="module", params=SEEDS)
def seed_review(request, demo_seed_dir):
    ds = funnel.load(demo_seed_dir(request.param))
    period, comparison = el.resolve(None, None, data_end=ds.events["event_time"].max())
    return request.param, funnel.compute(ds, period), funnel.compute(ds, comparison)


def test_planted_checkout_drop_is_found_on_every_seed(seed_review):
    seed, now, before = seed_review
    found = {f.key: f for f in funnel.findings(now, before, EN)}
    planted = found.get("conversion_fell.device.mobile.begin_checkout.purchase")
    assert planted is not None, f"seed {seed}: {sorted(found)}"
    assert planted.severity in ("high", "medium") and planted.confidence == "significant"
    assert planted.money and planted.money > 0


# --------------------------------------------------------------------------------------------------------
# Claims (issue 14): promotions, the family corrected, one revenue, sources that reconcile, money at stake
# --------------------------------------------------------------------------------------------------------
def _promo_weeks() -> tuple[pd.DataFrame, pd.DataFrame]:
    """W46: 400 ordinary sessions converting 50 % on Tue 10 Nov and 600 on the promotion day Wed 11 Nov
    converting 80 %; W47: 400 sessions converting 50 %. Two steps, one device."""
    ordinary = sessions({2: 200, 1: 200}, device="mobile", day="2026-11-10", prefix="a")
    peak = sessions({2: 480, 1: 120}, device="mobile", day="2026-11-11", prefix="p")
    week = sessions({2: 200, 1: 200}, device="mobile", day="2026-11-17", prefix="n")
    promos = pd.DataFrame({"promo_id": ["P1"], "name": ["双11"], "start_date": [pd.Timestamp("2026-11-11")],
                           "end_date": [pd.Timestamp("2026-11-11")]})
    return pd.concat([ordinary, peak, week], ignore_index=True), promos


def test_promotion_days_are_kept_out_of_the_tests_by_default_and_shown_both_ways():
    events, promos = _promo_weeks()
    steps = ["view_item", "begin_checkout"]
    w47 = parse_period("2026-W47")
    ds = dataset(events, promotions=promos)
    now, before = (funnel.compute(ds, p, steps=steps, breakdowns=[]) for p in (w47, w47.previous()))
    assert before.promotion_days["name"].tolist() == ["双11"] and len(now.promotion_days) == 0
    tests = funnel.compare(now, before)
    row = tests.changes.iloc[0]
    # without 11 Nov: 200/400 before, 200/400 now → no change at all
    assert (row["n_1"], row["x_1"], row["n_2"], row["x_2"]) == (400, 200, 400, 200) and not row["significant"]
    # with it: 680/1000 before → 50 % now: z = −.18 / sqrt(.6286·.3714·(1/1000 + 1/400)) = −6.30, significant
    other = tests.changes_other.iloc[0]
    assert (other["n_1"], other["x_1"]) == (1000, 680) and other["significant"]
    assert tests.values["significant"] == 0 and tests.values["significant_other"] == 1
    text = funnel.sentences(now, before, EN)
    assert ("The comparison period includes promotion days (双11 (Nov 11, 2026)): conversion changes are tested "
            "without the units that entered on them (0 significant step changes; 1 with them).") in text
    assert "对比周期包含促销日（双11 (2026年11月11日)）" in " ".join(funnel.sentences(now, before, ZH))
    # the headline counts include every day and say so next to the number
    heads = {h.key: h for h in funnel.headlines(now, before, EN)}
    assert heads["units"].previous == 1000
    assert heads["units"].label == "Sessions — promotion days in the comparison period: 双11 (Nov 11, 2026)"
    # the parameter: with promotion days in the tests, the other table is the one without
    now_in, before_in = (funnel.compute(ds, p, steps=steps, breakdowns=[], exclude_promotions=False)
                         for p in (w47, w47.previous()))
    tests_in = funnel.compare(now_in, before_in)
    assert tests_in.changes.iloc[0]["significant"] and not tests_in.changes_other.iloc[0]["significant"]
    assert any(s.endswith("and the conversion tests include them (1 significant step changes; 0 without them).")
               for s in funnel.sentences(now_in, before_in, EN))


def test_promotion_days_of_a_promotion_spanning_the_period_edge():
    promos = pd.DataFrame({"name": ["Black Friday", "双12"], "start_date": pd.to_datetime(["2026-11-21", "2026-12-12"]),
                           "end_date": pd.to_datetime(["2026-11-24", "2026-12-12"])})
    days = funnel.promotion_days(promos, parse_period("2026-W47"))
    assert days["date"].dt.strftime("%m-%d").tolist() == ["11-21", "11-22"] and set(days["name"]) == {"Black Friday"}
    assert len(funnel.promotion_days(None, parse_period("2026-W47"))) == 0
    assert len(funnel.promotion_days(promos.iloc[:0], parse_period("2026-W47"))) == 0  # empty table: none


def test_the_family_corrected_is_the_family_the_sentence_names():
    """Issue 14: '36 step conversions were tested' while Holm ran over 48 rows (36 steps + 12 whole funnels)."""
    before = pd.concat([sessions({3: 72, 2: 48, 1: 80}, device=d, day="2026-11-10", prefix="b")
                        for d in ("mobile", "desktop")])
    now = pd.concat([sessions({3: 45, 2: 55, 1: 100}, device="mobile", day="2026-11-17", prefix="n"),
                     sessions({3: 70, 2: 50, 1: 80}, device="desktop", day="2026-11-17", prefix="n")])
    steps = ["view_item", "begin_checkout", "purchase"]
    t_now = funnel.segment_conversion(now, breakdowns=["device"], steps=steps)
    t_before = funnel.segment_conversion(before, breakdowns=["device"], steps=steps)
    ch = funnel.compare_periods(t_now, t_before)
    step = ch[ch["kind"] == "step"]
    whole = ch[ch["kind"] == "overall"]
    assert len(step) == 6 and len(whole) == 3
    assert step["family_size"].eq(6).all() and whole["family_size"].eq(3).all()
    from ecomlib.stats import adjust_pvalues
    assert step["p_adjusted"].tolist() == pytest.approx(adjust_pvalues(step["p_value"].to_numpy()).tolist())
    assert whole["p_adjusted"].tolist() == pytest.approx(adjust_pvalues(whole["p_value"].to_numpy()).tolist())
    note = funnel.change_sentences(ch, msg=EN, steps=steps)[-1]
    assert note.startswith("6 step conversions were tested across segments and ")
    assert "p-values are adjusted over these 6 comparisons (Holm, α = 5.0%), and the 3 whole-funnel conversions as " \
           "a family of their own." in note


def test_minimum_detectable_effect_by_hand():
    # pooled .5, se = sqrt(.25 · (1/100 + 1/100)) = .070711; (1.95996 + .84162) · .070711 = .19810
    assert funnel.minimum_detectable_effect([50], [100], [50], [100])[0] == pytest.approx(0.19810, abs=1e-4)
    # at alpha .05 / 10 (a family of ten): z = 2.80703 → (2.80703 + .84162) · .070711 = .25800
    assert funnel.minimum_detectable_effect([50], [100], [50], [100], alpha=0.005)[0] == pytest.approx(0.2580, abs=1e-4)
    assert np.isnan(funnel.minimum_detectable_effect([0], [0], [5], [10])).all()  # no units before
    assert np.isnan(funnel.minimum_detectable_effect([0], [10], [0], [10])).all()  # nobody converts


def test_revenue_is_the_contracts_gross_revenue_without_pending_orders():
    """Issue 14: funnel.py counted pending orders as revenue (its own status list)."""
    w47 = parse_period("2026-W47")
    orders = pd.DataFrame({"order_id": ["o1", "o2", "o3", "o4", "o5"],
                           "order_time": pd.to_datetime(["2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19",
                                                         "2026-11-20"]),
                           "status": ["completed", "partially_refunded", "pending", "cancelled", "refunded"],
                           "revenue": [100.0, 60.0, 80.0, 50.0, 40.0]})
    events = ev([("10:00", "s1", "purchase"), ("10:00", "s2", "purchase"), ("10:00", "s3", "purchase"),
                 ("10:00", "s4", "purchase"), ("10:00", "s5", "purchase"), ("10:00", "s6", "view_item")])
    got = funnel.revenue_summary(events, orders, period=w47)
    # counted: completed 100 + partially refunded 60 = 160 over 2 orders; the pending 80 is left out
    assert (got["revenue"], got["orders"], got["pending_orders"], got["aov"]) == (160.0, 2, 1, 80.0)
    # 5 purchase sessions, 5 orders placed (every status): they reconcile; revenue per session 160 / 6
    assert got["reconciled"] and got["difference"] == 0.0
    assert got["revenue_per_unit"] == pytest.approx(160 / 6)
    assert got["margin"] is None  # no order lines and products: no margin


def test_revenue_per_session_only_when_events_and_orders_reconcile():
    w47 = parse_period("2026-W47")
    orders = pd.DataFrame({"order_id": [f"o{i}" for i in range(20)],
                           "order_time": pd.Timestamp("2026-11-17 12:00"), "status": "completed",
                           "revenue": 50.0, "customer_id": None})
    purchases = [(f"10:{i:02d}", f"s{i}", "purchase") for i in range(19)]  # 19 of 20: 5 % apart
    events = ev(purchases + [("11:00", "v1", "view_item")])
    at_edge = funnel.revenue_summary(events, orders, period=w47, tolerance=0.05)
    assert at_edge["difference"] == pytest.approx(-0.05) and at_edge["reconciled"]
    assert at_edge["revenue_per_unit"] == pytest.approx(1000 / 20)
    below = funnel.revenue_summary(events, orders, period=w47, tolerance=0.049)
    assert not below["reconciled"] and below["revenue_per_unit"] is None
    ds = dataset(events, orders)
    now = funnel.compute(ds, w47, steps=["view_item", "purchase"], breakdowns=[], tolerance=0.01)
    assert now.gaps["revenue_per_unit"].text(EN).startswith(
        "Revenue per session is not shown: the events record 19 purchases and the orders table 20 orders in this "
        "period (5.0% apart, more than the 1.0% tolerance)")


def test_orders_lost_are_priced_at_the_periods_order_value_and_margin():
    before = sessions({3: 72, 2: 48, 1: 80}, device="mobile", day="2026-11-10", prefix="b")
    now = sessions({3: 45, 2: 55, 1: 100}, device="mobile", day="2026-11-17", prefix="n")
    orders = pd.DataFrame({"order_id": ["o1", "o2", "o3"], "customer_id": None,
                           "order_time": pd.to_datetime(["2026-11-17", "2026-11-18", "2026-11-19"]),
                           "status": ["completed", "completed", "pending"], "revenue": [120.0, 80.0, 500.0]})
    items = pd.DataFrame({"order_id": ["o1", "o2"], "sku": ["A", "B"], "quantity": [2, 1],
                          "unit_price": [60.0, 80.0]})
    products = pd.DataFrame({"sku": ["A", "B"], "unit_cost": [36.0, 48.0]})
    steps = ["view_item", "begin_checkout", "purchase"]
    w47 = parse_period("2026-W47")
    for extra, basis, money in (({}, "revenue", 15 * 100.0),
                                ({"order_items": items, "products": products}, "margin", 15 * 100.0 * 0.4)):
        ds = dataset(pd.concat([before, now]), orders, **extra)
        r_now, r_before = (funnel.compute(ds, p, steps=steps, breakdowns=[], alpha=0.1) for p in (w47, w47.previous()))
        # AOV: (120 + 80) / 2 = 100 (the pending order is out); margin: 1 − (2·36 + 48) / (2·60 + 80) = .4
        assert r_now.values["aov"] == 100.0
        fell = [f for f in funnel.findings(r_now, r_before, EN) if f.key.startswith("conversion_fell")]
        # checkout → purchase fell 60 % → 45 % at 100 checkouts: 15 orders lost (significant at alpha .1)
        checkout = [f for f in fell if f.key.endswith("begin_checkout.purchase")][0]
        assert checkout.numbers["money_basis"] == basis and checkout.money == pytest.approx(money)
        # 15 of 45 completions: at least 5 % → high
        assert checkout.severity == "high" and checkout.confidence == "significant"
    assert checkout.text.endswith("At the period's average order value (CN¥100.00) and gross margin (40.0%) that is "
                                  "about CN¥600.00 of margin.")


# --------------------------------------------------------------------------------------------------------
# Real-shaped data (issue 15): each section degrades alone, thresholds tested below, at and above
# --------------------------------------------------------------------------------------------------------
def _uniform(n_now: int, n_before: int, *, device="mobile", channel="organic") -> pd.DataFrame:
    """n sessions per week, half of them checking out: W46 (Tue 10 Nov) and W47 (Tue 17 Nov)."""
    parts = []
    for n, day, prefix in ((n_before, "2026-11-10", "b"), (n_now, "2026-11-17", "n")):
        if n:
            parts.append(sessions({2: n // 2, 1: n - n // 2}, device=device, day=day, prefix=prefix)
                         .assign(channel=channel))
    return pd.concat(parts, ignore_index=True)


@pytest.mark.parametrize("n, tested", [(99, False), (100, True), (101, True)])
def test_changes_need_min_units_in_both_periods(n, tested):
    w47 = parse_period("2026-W47")
    ds = dataset(_uniform(n, 500))
    now, before = (funnel.compute(ds, p, steps=["view_item", "begin_checkout"]) for p in (w47, w47.previous()))
    tests = funnel.compare(now, before)
    assert tests.has("changes") is tested
    heads = {h.key for h in funnel.headlines(now, before, EN)}
    assert {"units", "completions", "conversion", "worst_change"} <= heads  # every headline still computes
    if not tested:
        assert tests.gaps["changes"].text(EN) == (
            "Conversion changes are not tested: 99 units entered the funnel this period and 500 in the comparison "
            "period, fewer than the 100 each needs; a longer period (a month instead of a week) would make the "
            "test possible.")
        assert funnel.sentences(now, before, EN)[1] == tests.gaps["changes"].text(EN)
    # the same rule in the comparison period
    ds = dataset(_uniform(500, n))
    assert funnel.compare(*(funnel.compute(ds, p, steps=["view_item", "begin_checkout"])
                            for p in (w47, w47.previous()))).has("changes") is tested


def test_no_comparison_period_in_the_data():
    w47 = parse_period("2026-W47")
    ds = dataset(_uniform(300, 0))
    now, before = (funnel.compute(ds, p, steps=["view_item", "begin_checkout"]) for p in (w47, w47.previous()))
    tests = funnel.compare(now, before)
    assert tests.gaps["changes"].message == "funnel.gap.no_comparison"
    assert tests.gaps["changes"].text(EN).startswith(
        "The data has no units in the funnel in the comparison period (Nov 9, 2026 – Nov 15, 2026)")
    text = funnel.sentences(now, before, EN)
    assert text[0] == ("300 sessions entered the funnel at “Product view”; 50.0% of them reached “Checkout” (150). "
                       "The comparison period has no units in the funnel to compare with.")
    assert funnel.findings(now, before, EN) == []


@pytest.mark.parametrize("values, shown", [(["mobile"], False), (["mobile", "desktop"], True)])
def test_segments_need_a_breakdown_with_two_values(values, shown):
    w47 = parse_period("2026-W47")
    events = pd.concat([_uniform(200, 200, device=d, channel="web") for d in values], ignore_index=True)
    events["session_id"] += events["device"]
    now = funnel.compute(dataset(events), w47, steps=["view_item", "begin_checkout"])
    assert now.has("segments") is shown
    assert now.notes["single_valued"] == ({"device": "mobile", "channel": "web"} if not shown else {"channel": "web"})
    assert set(now.segments["dimension"]) == ({"all"} if not shown else {"all", "device"})
    if not shown:
        assert now.gaps["segments"].text(ZH).startswith("没有可展示的细分：各细分字段（device, channel）在本期最多只有一个取值")


def test_events_only_store_has_every_section_but_money():
    w47 = parse_period("2026-W47")
    ds = dataset(_uniform(300, 300))  # no orders, no promotions
    now, before = (funnel.compute(ds, p, steps=["view_item", "begin_checkout"]) for p in (w47, w47.previous()))
    assert set(now.gaps) == {"revenue", "revenue_per_unit", "segments"}  # one device and channel in this log
    assert now.gaps["revenue"].text(EN).startswith("No orders table, so there is no revenue or order value")
    assert {h.key for h in funnel.headlines(now, before, EN)} == {"units", "completions", "conversion", "worst_change"}
    assert funnel.compare(now, before).has("changes")
    # customer_type needs orders: left out, not an error
    assert funnel.compute(ds, w47, breakdowns=["device", "customer_type"],
                          steps=["view_item", "begin_checkout"]).notes["dropped"] == ["customer_type"]


def test_an_empty_orders_table_means_no_orders():
    w47 = parse_period("2026-W47")
    orders = _orders().iloc[:0]
    ds = dataset(_uniform(300, 300), orders)
    now, before = (funnel.compute(ds, p, steps=["view_item", "begin_checkout"]) for p in (w47, w47.previous()))
    assert now.has("revenue") and now.values["revenue"] == 0.0 and now.values["aov"] is None
    assert now.gaps["revenue_per_unit"].text(EN) == (
        "Revenue per session is not shown: the orders table has no order in this period (the events record 0 "
        "purchases); orders covering the period would make it possible.")
    heads = {h.key: (h.value, h.previous) for h in funnel.headlines(now, before, EN)}
    assert heads["average_order_value"] == (None, None)
    assert all("{" not in t for t in funnel.sentences(now, before, ZH))


def test_steps_absent_from_the_events_and_a_one_day_trend():
    w47 = parse_period("2026-W47")
    events = ev([("10:00", "s1", "session_start"), ("10:01", "s1", "view_item")])
    now = funnel.compute(dataset(events), w47)
    assert now.gaps["funnel"].text(EN).startswith("The events never record the step(s) add_to_cart, begin_checkout, "
                                                  "purchase")
    assert {"funnel", "segments", "trend"} <= set(now.gaps)
    assert funnel.headlines(now, funnel.compute(dataset(events), w47.previous()), EN)[0].value == 1
    # trend: 1 day is below the 2-day rule, 2 days meet it
    one = funnel.compute(dataset(_uniform(10, 0)), w47, steps=["view_item", "begin_checkout"])
    assert one.gaps["trend"].text(EN) == ("The daily trend needs events on at least 2 days; the data has 1. A longer "
                                          "events export would make it possible.")
    two = funnel.compute(dataset(_uniform(10, 10)), w47, steps=["view_item", "begin_checkout"])
    assert two.has("trend") and two.trend["date"].nunique() == 2


def test_minimum_data_rules_are_stated_for_every_section_in_both_languages():
    assert set(funnel.MINIMUM_DATA) == {"funnel", "segments", "trend", "changes", "revenue"}
    for lang in (EN, ZH):
        table = funnel.minimum_data(lang)
        assert len(table) == len(funnel.MINIMUM_DATA) and table["rule"].str.len().gt(10).all()
    assert "100" in funnel.minimum_data(EN).set_index("section").loc["What changed against the comparison period", "rule"]
    for rule in funnel.MINIMUM_DATA.values():
        assert rule.split(";")[0] in " ".join(funnel.__doc__.split())  # the module docstring states the same rules


# --------------------------------------------------------------------------------------------------------
# Safety (issue 13): long tails folded, codes translated, readable axes
# --------------------------------------------------------------------------------------------------------
def test_a_long_tail_of_channels_is_folded_and_conserves_counts():
    events = _uniform(600, 0)
    events["channel"] = events["session_id"].map(lambda s: f"ch{int(s[7:]) % 40:02d}" if s[7:].isdigit() else "x")
    events.loc[events["session_id"].str.endswith(("0", "1", "2")), "channel"] = "email"  # one big channel
    w47 = parse_period("2026-W47")
    table = funnel.segment_conversion(events, breakdowns=["channel"], steps=["view_item", "begin_checkout"],
                                      period=w47, top=5)
    channels = table.loc[table["dimension"] == "channel", "segment"].unique()
    assert len(channels) == 6 and "email" in channels and any(c.startswith("__other__") for c in channels)
    first = table[table["step"] == "view_item"]
    assert first.loc[first["dimension"] == "channel", "units"].sum() == first.loc[first["dimension"] == "all", "units"].item()
    other = [c for c in channels if c.startswith("__other__")][0]
    n_folded = events["channel"].nunique() - 5
    assert other == f"__other__{n_folded}"
    assert funnel.segment_label("channel", other, ZH) == f"其他（{n_folded} 个）"
    assert funnel.segment_label("channel", other, EN) == f"Other ({n_folded})"


def test_channel_and_device_codes_come_from_the_shared_vocabulary():
    assert funnel.segment_label("channel", "paid_search", ZH) == "付费搜索"
    assert funnel.segment_label("channel", "affiliate", ZH) == "联盟推广"
    assert funnel.segment_label("device", "mobile", ZH) == "移动端"
    assert funnel.segment_label("customer_type", "new", EN) == "New customers"
    assert funnel.segment_label("channel", "tiktok_cn", EN) == "Channel = tiktok_cn"  # a shop's own name: as it is
    from ecomlib.i18n import catalogue
    assert not [k for k in catalogue() if k.startswith("funnel.value.") and k not in ("funnel.value.all",
                                                                                       "funnel.value.missing")]


def test_change_chart_ticks_are_short_in_chinese():
    """Issue 17: '−25.0个百分点' on every tick overlapped on the Chinese change chart; the unit is in the label."""
    events = pd.concat([sessions({3: 45, 2: 55, 1: 100}, device="mobile", day="2026-11-17", prefix="n"),
                        sessions({3: 72, 2: 48, 1: 80}, device="mobile", day="2026-11-10", prefix="b")])
    steps = ["view_item", "begin_checkout", "purchase"]
    ch = funnel.compare_periods(funnel.step_conversion(events, steps=steps, period=parse_period("2026-W47")),
                                funnel.step_conversion(events, steps=steps, period=parse_period("2026-W46")))
    with matplotlib.rc_context():
        el.set_theme()
        fig, ax = plt.subplots(figsize=(10, 5))
        funnel.plot_changes(ch, ax=ax, msg=ZH)
        fig.canvas.draw()
        labels = [t for t in ax.get_xticklabels() if t.get_text()]
        assert all("百分点" not in t.get_text() and len(t.get_text()) <= 4 for t in labels)
        assert "百分点" in ax.get_xlabel()
        boxes = [t.get_window_extent() for t in labels]
        assert not any(a.overlaps(b) for a, b in zip(boxes, boxes[1:]))
        plt.close(fig)


# --------------------------------------------------------------------------------------------------------
# Property tests (issue 13): reach never increases, totals conserved across breakdowns, rates in [0, 1]
# --------------------------------------------------------------------------------------------------------
from hypothesis import given, settings, strategies as st  # noqa: E402

_event = st.tuples(st.integers(0, 40), st.integers(0, 11), st.sampled_from(list(funnel.STEPS) + ["session_start"]),
                   st.sampled_from(["mobile", "desktop", None]), st.sampled_from(["email", "organic", "ads"]))


def _log(rows) -> pd.DataFrame:
    return pd.DataFrame({"event_time": [pd.Timestamp("2026-11-17") + pd.Timedelta(minutes=m) for m, *_ in rows],
                         "session_id": [f"s{s}" for _, s, *_ in rows], "user_id": [f"u{s % 5}" for _, s, *_ in rows],
                         "event_name": [e for _, _, e, *_ in rows], "device": [d for *_, d, _ in rows],
                         "channel": [c for *_, c in rows]})


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(_event, min_size=1, max_size=60), unit=st.sampled_from(["session", "user"]),
       mode=st.sampled_from(["closed", "open"]))
def test_properties_of_the_funnel(rows, unit, mode):
    events = _log(rows)
    steps = [s for s in funnel.STEPS if (events["event_name"] == s).any()]
    if len(steps) < 2:
        return
    table = funnel.segment_conversion(events, breakdowns=["device", "channel"], steps=steps, unit=unit, mode=mode)
    assert (table["conversion_from_previous"].dropna().between(0, 1)).all()  # in an open funnel too
    whole = funnel.overall(table)
    if mode == "closed":  # reach never increases along the steps (an open funnel takes entrants at any step)
        assert (np.diff(whole["units"].to_numpy()) <= 0).all()
        assert table["conversion_from_first"].dropna().between(0, 1).all()
        assert (table["drop_off"].dropna() >= 0).all()
    for dim in ("device", "channel"):  # totals conserved across every breakdown, missing values included
        part = table[table["dimension"] == dim].groupby("step", observed=True)[["units", "entered"]].sum()
        assert part["units"].tolist() == whole["units"].tolist()
        assert part["entered"].tolist() == whole["entered"].tolist()


@settings(max_examples=60, deadline=None)
@given(x1=st.integers(0, 200), extra1=st.integers(0, 200), x2=st.integers(0, 200), extra2=st.integers(0, 200))
def test_properties_of_the_comparison(x1, extra1, x2, extra2):
    n1, n2 = x1 + extra1, x2 + extra2
    from ecomlib.stats import two_proportion_test
    test = two_proportion_test([x1], [n1], [x2], [n2])
    mde = funnel.minimum_detectable_effect([x1], [n1], [x2], [n2])[0]
    assert np.isnan(mde) or 0 < mde <= 3
    if n1 and n2:
        assert 0 <= test["rate_1"].item() <= 1 and 0 <= test["rate_2"].item() <= 1
        p = test["p_value"].item()
        assert np.isnan(p) or 0 <= p <= 1


# --------------------------------------------------------------------------------------------------------
# The ladder of small real-shaped stores; the notebook's shape
# --------------------------------------------------------------------------------------------------------
from .ladder import RUNGS  # noqa: E402

VOCAB_CODES = ("paid_search", "paid_social", "affiliate", "organic", "desktop", "mobile", "tablet")


@pytest.fixture(scope="module")
def ladder(ladder_dir):
    return {rung: ladder_dir(rung) for rung in RUNGS}


@pytest.mark.parametrize("rung", RUNGS)
def test_every_rung_computes_every_section_it_can(ladder, rung):
    ds = funnel.load(ladder[rung])
    period, comparison = el.resolve(None, None, data_end=ds.events["event_time"].max())
    now, before = funnel.compute(ds, period), funnel.compute(ds, comparison)
    tests = funnel.compare(now, before)
    for msg in (EN, ZH):
        heads = funnel.headlines(now, before, msg)
        assert [h.key for h in heads][:3] == ["units", "completions", "conversion"]
        assert all(h.value is None or np.isfinite(h.value) for h in heads)
        text = funnel.sentences(now, before, msg)
        assert text and all("{" not in s and "nan" not in s.lower() and "inf" not in s for s in text)
        for f in funnel.findings(now, before, msg):
            assert f.anchor in ANCHORS and f.text
        for result in (now, tests):
            for gap in result.gaps.values():
                assert "{" not in gap.text(msg)
        funnel.minimum_data(msg)
        for table in [now.steps, now.segments] + ([funnel.largest_changes(tests.changes)] if tests.has("changes") else []):
            shown = funnel.for_display(table, msg)
            el.styled(shown, msg, formats=funnel.formats(shown)).to_html()
        if now.has("revenue"):
            shown = funnel.for_display(funnel.revenue_table(now), msg)
            el.styled(shown, msg, formats=funnel.formats(shown)).to_html()
    zh = " ".join(funnel.sentences(now, before, ZH))
    assert not [c for c in VOCAB_CODES if c in zh]
    if rung == "one_row":
        assert {"funnel", "segments", "trend"} <= set(now.gaps) and not tests.has("changes")
    if rung == "three_days":
        assert tests.gaps["changes"].message == "funnel.gap.no_comparison"
    if rung == "one_channel":
        assert now.notes["single_valued"] == {"channel": "paid_search"} and now.has("segments")


def _notebook():
    import json
    return json.loads((Path(__file__).resolve().parents[1] / "notebooks" / "funnel.ipynb").read_text(encoding="utf-8"))


ANCHORS = {f"sec-{tag.split('.')[-1]}" for cell in _notebook()["cells"] for tag in cell["metadata"].get("tags", [])
           if tag.startswith("heading:funnel.sec.")}


def test_notebook_has_the_review_shape():
    cells = _notebook()["cells"]
    tags = [c["metadata"].get("tags", []) for c in cells]
    assert tags[0] == ["about"] and tags[1] == ["parameters"]
    sources = ["".join(c["source"]) for c in cells]
    first_heading = next(i for i, t in enumerate(tags) if any(x.startswith("heading:") for x in t))
    assert any("el.conclusions(funnel.sentences(now, before, msg), msg)" in s for s in sources[:first_heading])
    assert any("funnel.findings(now, before, msg)" in s for s in sources[:first_heading])
    headings = [(c["cell_type"], t) for c, t in zip(cells, tags) if any(x.startswith("heading:") for x in t)]
    assert all(kind == "markdown" for kind, _ in headings)
    assert ANCHORS == {"sec-funnel", "sec-segments", "sec-trend", "sec-changes", "sec-revenue", "sec-data"}
    from ecomlib.i18n import catalogue
    assert all(f"funnel.sec.{a[4:]}" in catalogue() for a in ANCHORS)
    code = "\n".join(s for c, s in zip(cells, sources) if c["cell_type"] == "code")
    import re
    assert not re.search(r"^\s*(def|class|for|while) ", code, re.M)  # no functions, no loops
    assert "formats={" not in code and "Markdown(" not in code  # units from funnel.UNITS; text through el.note
    assert all(c.get("execution_count") is None and not c.get("outputs") for c in cells if c["cell_type"] == "code")
