"""Customer segments: RFM scoring and naming on hand-made tables, the rules file's checks, value, movement, cohorts,
action lists, minimum-data edges, the ladder, properties, and the demo's planted cohort on every seed."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from ecomlib import Messages, segments
from ecomlib.dataset import Dataset, Store
from ecomlib.errors import ParameterError
from ecomlib.periods import parse_period
from ecomlib.returns import RulesError
from ecomlib.stats import two_proportion_test

EN, ZH = Messages("en", currency="CNY"), Messages("zh", currency="CNY")
W47 = parse_period("2026-W47")  # Nov 16 – Nov 22, 2026
AS_OF = W47.end                 # Nov 23: recency counts days to Nov 22


def _orders(rows) -> pd.DataFrame:
    """rows: (customer_id, order_time, revenue[, status]) → contract-shaped orders."""
    df = pd.DataFrame([r if len(r) == 4 else (*r, "completed") for r in rows],
                      columns=["customer_id", "order_time", "revenue", "status"])
    return df.assign(order_id=[f"O{i}" for i in range(len(df))], order_time=pd.to_datetime(df["order_time"]),
                     channel="email", currency="CNY", discount=0.0, shipping_fee=0.0)


def _ds(orders, returns=None) -> Dataset:
    return Dataset(path=".", store=Store(), orders=orders, returns=returns)


# Rules --------------------------------------------------------------------------------------------------------
def test_packaged_rules_load_and_every_segment_has_a_label_and_action_in_both_languages():
    rules = segments.load_rules()
    assert rules.names == ["champions", "loyal", "new", "promising", "cant_lose", "at_risk", "need_attention",
                           "hibernating", "lost"]
    assert rules.recency == (30, 90, 180, 365) and rules.frequency == (2, 3, 5, 8) and rules.monetary == "quantiles"
    for name in rules.names:
        for msg in (EN, ZH):
            assert segments.segment_label(name, msg, rules) and segments._action(name, msg, rules)
    assert segments.segment_label("cant_lose", ZH) == "不能失去的客户"


GOOD = """
recency: [30, 90, 180, 365]
frequency: [2, 3, 5, 8]
monetary: quantiles
segments:
  - {name: champions, r: [4, 5], f: [4, 5]}
  - {name: lost}
"""


@pytest.mark.parametrize("text, key, problem", [
    ("[1, 2]", "(top level)", "not a mapping"),
    ("recency: [1, 2, 3, 4]\nfrequency: [1, 2, 3, 4]\nmonetary: quantiles", "segments", "missing"),
    (GOOD + "extra: 1\n", "extra", "unknown key"),
    (GOOD.replace("recency: [30, 90, 180, 365]", "recency: [30, 20, 180, 365]"), "recency", "holds"),
    (GOOD.replace("frequency: [2, 3, 5, 8]", "frequency: [2, 3]"), "frequency", "holds"),
    (GOOD.replace("monetary: quantiles", "monetary: deciles"), "monetary", "holds"),
    (GOOD.replace("r: [4, 5]", "r: [5, 4]"), "segments.champions.r", "holds"),
    (GOOD.replace("f: [4, 5]", "f: [0, 5]"), "segments.champions.f", "holds"),
    (GOOD.replace("{name: lost}", "{name: champions}"), "segments.champions", "named twice"),
    (GOOD.replace("{name: lost}", "{name: lost, colour: red}"), "segments.lost.colour", "unknown key"),
    (GOOD.replace("{name: lost}", "{name: vip}"), "segments.vip", "without label and action"),
    (GOOD.replace("{name: lost}", "{name: vip, label: {en: VIP}, action: {en: a, zh: b}}"),
     "segments.vip.label", "holds"),
    (GOOD.replace("{name: lost}", "{name: lost, r: [1, 3]}"), "segments", "covers no segment for the scores r=4"),
    ("recency: [1, 2\n", "line", "not valid YAML"),
])
def test_a_broken_rules_file_names_the_key_and_the_fix(tmp_path, text, key, problem):
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RulesError) as err:
        segments.load_rules(path)
    assert err.value.key.startswith(key) and problem in err.value.problem, str(err.value)
    assert str(path) in str(err.value) and "Fix:" in str(err.value)


def test_a_missing_rules_file_and_a_segment_of_ones_own(tmp_path):
    with pytest.raises(RulesError, match="no such file"):
        segments.load_rules(tmp_path / "nope.yaml")
    path = tmp_path / "own.yaml"
    path.write_text(GOOD.replace("{name: lost}", "{name: vip, label: {en: VIPs, zh: 贵宾}, "
                                 "action: {en: Call them., zh: 电话回访。}}"), encoding="utf-8")
    rules = segments.load_rules(path)
    assert rules.names == ["champions", "vip"] and rules.label == str(path)
    assert segments.segment_label("vip", ZH, rules) == "贵宾" and segments._action("vip", EN, rules) == "Call them."


# Scores and segments on a hand-made table ------------------------------------------------------------------------
def test_scores_at_the_limits_of_recency_frequency_and_monetary_quintiles():
    last = pd.Timestamp("2026-11-22")
    rows = []
    # recency: 30 days → 5, 31 → 4, 90 → 4, 91 → 3, 365 → 2, 366 → 1 (one order each, revenue 10..60)
    for i, days in enumerate((30, 31, 90, 91, 365, 366)):
        rows.append((f"r{days}", last - pd.Timedelta(days=days) + pd.Timedelta(hours=12), 10.0 * (i + 1)))
    # frequency: 1 → 1, 2 → 2, 4 → 3, 5 → 4, 7 → 4, 8 → 5 orders, all on different days of the last month
    for n in (1, 2, 4, 5, 7, 8):
        rows += [(f"f{n}", last - pd.Timedelta(days=d), 1.0) for d in range(n)]
    s = segments.rfm_scores(_orders(rows), as_of=AS_OF).set_index("customer_id")
    assert s.loc[[f"r{d}" for d in (30, 31, 90, 91, 365, 366)], "r"].tolist() == [5, 4, 4, 3, 2, 1]
    assert s.loc[[f"r{d}" for d in (30, 31, 90, 91, 365, 366)], "recency_days"].tolist() == [30, 31, 90, 91, 365, 366]
    assert s.loc[[f"f{n}" for n in (1, 2, 4, 5, 7, 8)], "f"].tolist() == [1, 2, 3, 4, 4, 5]
    assert s.loc["f8", "orders"] == 8 and s.loc["f8", "revenue"] == 8.0
    # monetary: quintiles of revenue among the 12 customers (average ranks: ties share a score)
    pct = s["revenue"].rank(pct=True)
    assert (s["m"] == np.ceil(pct * 5).clip(1, 5)).all()
    assert s.loc["r366", "m"] == 5 and s.loc["f1", "m"] == 1


def test_only_counted_orders_of_known_customers_before_the_end_count_and_refunds_come_off():
    orders = _orders([("a", "2026-11-01", 100.0), ("a", "2026-11-05", 50.0, "cancelled"),
                      ("a", "2026-11-06", 40.0, "pending"), ("a", "2026-11-23", 70.0),  # on the cut-off: left out
                      (None, "2026-11-02", 80.0), ("b", "2026-10-01", 30.0, "partially_refunded")])
    returns = pd.DataFrame({"order_id": ["O0"], "refund_amount": [25.0]})
    s = segments.rfm_scores(orders, as_of=AS_OF).set_index("customer_id")
    assert s.index.tolist() == ["a", "b"] and s.loc["a", "orders"] == 1 and s.loc["a", "revenue"] == 100.0
    net = segments.rfm_scores(orders, as_of=AS_OF, returns=returns).set_index("customer_id")
    assert net.loc["a", "revenue"] == 75.0 and net.loc["b", "revenue"] == 30.0


def test_segments_are_the_first_rule_that_holds():
    scores = pd.DataFrame({"customer_id": list("abcdefghi"), "r": [5, 5, 5, 4, 1, 2, 3, 2, 1],
                           "f": [5, 3, 1, 2, 5, 3, 2, 1, 1], "m": [5, 1, 1, 1, 5, 1, 1, 1, 1]})
    got = segments.assign_segments(scores)["segment"].tolist()
    assert got == ["champions", "loyal", "new", "promising", "cant_lose", "at_risk", "need_attention", "hibernating",
                   "lost"]
    # r 1, f 5 with a low m is not "can't lose" but "at risk"
    assert segments.assign_segments(scores.assign(m=1)).loc[4, "segment"] == "at_risk"


def _customers():
    return pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "segment": ["champions", "champions", "lost", "new"],
                         "orders": [6, 4, 1, 1], "revenue": [300.0, 200.0, 50.0, 10.0], "recency_days": [3, 9, 400, 2],
                         "last_order": pd.to_datetime(["2026-11-19"] * 4), "r": [5, 5, 1, 5], "f": [5, 4, 1, 1],
                         "m": [5, 4, 2, 1], "first_order": pd.to_datetime(["2025-01-05", "2025-02-01", "2025-01-20",
                                                                           "2026-11-20"])})


def test_segment_summary_by_hand():
    preds = pd.DataFrame({"p_alive": [0.9, 0.7, 0.2, 1.0], "clv": [100.0, 60.0, 5.0, 20.0]}, index=list("abcd"))
    window = pd.DataFrame({"customer_id": ["a", "b", "a", "d", "zz"], "revenue": [30.0, 10.0, 20.0, 40.0, 0.0]})
    t = segments.segment_summary(_customers(), period_orders=window, predictions=preds).set_index("segment")
    assert t.index.tolist() == segments.load_rules().names  # every segment, in the rules' order
    assert t.loc["champions", "customers"] == 2 and t.loc["champions", "share"] == 0.5
    assert t.loc["champions", "revenue"] == 60.0 and t.loc["champions", "revenue_share"] == 0.6
    assert t.loc["new", "revenue_share"] == 0.4 and t.loc["lost", "revenue"] == 0.0
    assert t.loc["champions", "p_alive"] == pytest.approx(0.8) and t.loc["champions", "clv_total"] == 160.0
    assert t.loc["champions", "clv_mean"] == 80.0 and t.loc["champions", "mean_orders"] == 5.0
    assert t.loc["loyal", "customers"] == 0 and np.isnan(t.loc["loyal", "clv_total"])
    bare = segments.segment_summary(_customers(), period_orders=window).set_index("segment")
    assert bare["clv_mean"].isna().all() and bare.loc["champions", "revenue"] == 60.0


def test_movement_counts_each_customer_once_from_their_earlier_segment():
    before = pd.DataFrame({"customer_id": ["a", "b", "c"], "segment": ["loyal", "champions", "new"]})
    now = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "segment": ["champions", "at_risk", "promising", "new"]})
    m = segments.movement(before, now).set_index(["from_segment", "to_segment"])["customers"].to_dict()
    assert m == {("loyal", "champions"): 1, ("champions", "at_risk"): 1, ("new", "promising"): 1,
                 (segments.NOT_YET, "new"): 1}


def test_champions_by_cohort_tests_mature_months_only_against_each_other():
    months = {"2025-01": (100, 10), "2025-02": (100, 12), "2025-03": (100, 40), "2026-10": (100, 0)}
    rows = []
    for month, (n, champs) in months.items():
        rows += [{"customer_id": f"{month}-{i}", "first_order": pd.Timestamp(f"{month}-10"),
                  "segment": "champions" if i < champs else "lost"} for i in range(n)]
    t = segments.champions_by_cohort(pd.DataFrame(rows), as_of=AS_OF, min_size=30).set_index("cohort")
    assert t["tested"].tolist() == [True, True, True, False]  # 2026-10 ended less than 180 days before the end
    assert t.loc["2025-03", "champion_share"] == 0.4 and t.loc["2025-03", "rest_share"] == 0.11
    expected = two_proportion_test([22], [200], [40], [100])["p_value"].iloc[0]
    assert t.loc["2025-03", "p_value"] == pytest.approx(expected)
    assert t.loc["2026-10", "rest_share"] == pytest.approx(62 / 300) and np.isnan(t.loc["2026-10", "p_value"])
    assert (t.loc[t["tested"], "p_adjusted"] >= t.loc[t["tested"], "p_value"]).all()


def test_action_lists_are_sorted_and_written_formula_safe(tmp_path):
    cust = _customers().assign(customer_id=["a", "=HYPERLINK(1)", "c", "d"])
    preds = pd.DataFrame({"p_alive": [0.9, 0.7, 0.2, 1.0], "clv": [100.0, 160.0, 5.0, 20.0]},
                         index=["a", "=HYPERLINK(1)", "c", "d"])
    lists = segments.action_lists(cust, predictions=preds)
    assert lists["customer_id"].tolist() == ["=HYPERLINK(1)", "a", "d", "c"]  # champions by CLV, then new, then lost
    res = segments.Result(review="segments", period=W47, tables={"actions": lists},
                          notes={"segment_names": segments.load_rules().names})
    assert segments.write_action_lists(res, None).empty and not list(tmp_path.iterdir())
    written = segments.write_action_lists(res, tmp_path / "lists").set_index("segment")
    assert written.loc["champions", "customers"] == 2 and written.loc["champions", "cells_neutralised"] == 1
    text = (tmp_path / "lists" / "champions.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK(1)" in text and text.splitlines()[0].startswith("segment,customer_id,recency_days")
    assert sorted(p.name for p in (tmp_path / "lists").iterdir()) == ["champions.csv", "lost.csv", "new.csv"]
    with pytest.raises(ParameterError, match="vip"):
        segments.write_action_lists(res, tmp_path, segments=["vip"])


# compute: options, minimum-data edges -------------------------------------------------------------------------------
def _store(n_customers: int, *, repeaters: int, start: str = "2026-06-01", spread: bool = True) -> pd.DataFrame:
    """n customers with a first order from ``start``; ``repeaters`` of them order again 3 and 7 weeks later, the
    repeat spend varying (lognormal, seeded) unless ``spread=False`` (the same spend for everyone)."""
    rng = np.random.default_rng(3)
    first = pd.Timestamp(start) + pd.to_timedelta(np.arange(n_customers) % 40, unit="D")
    spend = rng.lognormal(4.0, 0.8, size=(repeaters, 2)) if spread else np.full((repeaters, 2), 50.0)
    gaps = rng.integers(7, 60, size=(repeaters, 2))
    rows = [(f"c{i}", t, 50.0) for i, t in enumerate(first)]
    rows += [(f"c{i}", first[i] + pd.Timedelta(days=int(gaps[i, 0])), spend[i, 0]) for i in range(repeaters)]
    rows += [(f"c{i}", first[i] + pd.Timedelta(days=int(gaps[i].sum())), spend[i, 1]) for i in range(0, repeaters, 3)]
    return _orders(rows)


@pytest.mark.parametrize("option, value", [("revenue_days", 0), ("horizon_months", 1.5), ("gross_margin", 0.0),
                                           ("alpha", 1.5), ("top", -1), ("min_cohort_age_days", True)])
def test_bad_options_are_refused_by_name(option, value):
    with pytest.raises(ParameterError, match=option):
        segments.compute(_ds(_store(25, repeaters=12)), W47, **{option: value})


@pytest.mark.parametrize("n, repeaters, gap", [(19, 12, "segments.gap.value_customers"), (20, 12, None),
                                               (25, 9, "segments.gap.value_repeat"), (25, 10, None)])
def test_value_needs_the_models_minimum_of_customers_and_repeaters(n, repeaters, gap):
    now = segments.compute(_ds(_store(n, repeaters=repeaters)), W47)
    assert now.has("segments") and now.value("customers") == n
    if gap is None:  # at the minimum the model is tried: it fits, or says why it could not (tiny stores rarely fit)
        assert now.has("value") or now.gaps["value"].message == "segments.gap.value_failed"
    else:
        assert now.gaps["value"].message == gap and now.summary["clv_total"].isna().all()
        assert now.value("at_risk_clv") is None
        assert any("CLV" in s for s in segments.sentences(now, now, EN))
        assert [f.key for f in segments.findings(now, now, EN) if f.key == "at_risk_value"] in ([], ["at_risk_value"])


@pytest.fixture(scope="module")
def demo_sample(demo_dir):
    """The demo's orders of its first 3,000 customers (and guests), with the returns of those orders."""
    ds = segments.load(demo_dir)
    keep = ds.orders["customer_id"].isna() | ds.orders["customer_id"].isin(ds.orders["customer_id"].dropna()
                                                                          .drop_duplicates().iloc[:3000])
    orders = ds.orders.loc[keep].reset_index(drop=True)
    return _ds(orders, ds.returns.loc[ds.returns["order_id"].isin(orders["order_id"])].reset_index(drop=True))


def test_value_per_segment_on_real_shaped_data(demo_sample):
    now = segments.compute(demo_sample, W47)
    assert now.has("value") and now.notes["revenue_basis"] == "net"
    s = now.summary.set_index("segment")
    # champions are the most valuable per customer; the model's P(alive) is lower for "at risk" than for champions
    assert s["clv_mean"].idxmax() == "champions" and s.loc["at_risk", "p_alive"] < s.loc["champions", "p_alive"]
    assert now.value("clv_total") == pytest.approx(s["clv_total"].sum())
    assert now.value("at_risk_clv") == pytest.approx(s.loc[["cant_lose", "at_risk"], "clv_total"].sum())
    heads = {h.key: h for h in segments.headlines(now, segments.compute(demo_sample, parse_period("2026-W46")), ZH)}
    assert heads["champions"].value == s.loc["champions", "customers"] and heads["champions"].previous is not None
    for name in ("summary", "cohorts", "movement"):
        assert segments.table(now, name, ZH) is not None
    assert segments.table(now, "actions", ZH, segment="champions", top=3).data.shape[0] == 3
    every = segments.table(now, "actions", EN).data  # the top 5 of every segment with customers
    assert len(every) == 5 * int((now.summary["customers"] > 0).sum())
    assert segments.page_note(now, "actions", EN, written=segments.write_action_lists(now, None)).startswith("No action")
    assert segments.table(segments.write_action_lists(now, None), "written", EN) is None


def test_a_model_that_cannot_be_fitted_is_a_gap_with_its_reason():
    now = segments.compute(_ds(_store(40, repeaters=20, spread=False)), W47)  # one spend for all: the fit degenerates
    assert now.gaps["value"].message == "segments.gap.value_failed" and "degenerate fit" in now.gaps["value"].text(EN)
    assert now.has("segments") and now.summary["customers"].sum() == 40


def test_value_needs_eight_weeks_of_history():
    orders = _store(30, repeaters=15, start="2026-10-10")  # first orders from Oct 10: 44 days to Nov 22 (< 56)
    orders = orders.assign(order_time=orders["order_time"].where(orders["order_time"] < "2026-11-23",
                                                                 pd.Timestamp("2026-11-22")))
    now = segments.compute(_ds(orders), W47)
    assert now.gaps["value"].message == "segments.gap.value_short" and "56" in now.gaps["value"].text(EN)


def test_cohort_comparison_needs_three_mature_months():
    def store(months):
        return _orders([(f"{m}-{i}", f"{m}-05", 10.0) for m in months for i in range(30)])
    two = segments.compute(_ds(store(["2026-01", "2026-02", "2026-10"])), W47)
    assert two.gaps["cohorts"].message == "segments.gap.cohorts" and "180" in two.gaps["cohorts"].text(EN)
    three = segments.compute(_ds(store(["2026-01", "2026-02", "2026-03"])), W47)
    assert three.has("cohorts") and three.value("best_cohort")["cohort"] in ("2026-01", "2026-02", "2026-03")


def test_a_period_before_any_order_is_a_gap_in_every_section_not_an_error():
    now = segments.compute(_ds(_store(25, repeaters=12)), parse_period("2026-W01"))
    assert set(now.gaps) == {"segments", "value", "movement", "cohorts"} and now.value("champions") is None
    assert segments.sentences(now, now, EN) == [] and segments.findings(now, now, EN) == []
    assert [h.value for h in segments.headlines(now, now, ZH)] == [None, None, None, None]
    assert all(g.text(ZH) for g in now.gaps.values())


def test_movement_is_a_gap_when_nobody_had_ordered_by_the_comparisons_end():
    orders = _store(25, repeaters=12, start="2026-11-16")
    now = segments.compute(_ds(orders), W47)
    assert now.gaps["movement"].message == "segments.gap.movement" and now.has("segments")


# The ladder of real-shaped stores ---------------------------------------------------------------------------------
from .ladder import RUNGS  # noqa: E402


@pytest.mark.parametrize("rung", RUNGS)
def test_every_rung_of_the_ladder_computes(rung, ladder_dir):
    from ecomlib.periods import resolve

    ds = segments.load(ladder_dir(rung))
    period, comparison = resolve(None, None, data_end=segments.data_range(ds)[1])
    now = segments.compute(ds, period, comparison=comparison)
    before = segments.compute(ds, comparison)
    for msg in (EN, ZH):
        assert [h.key for h in segments.headlines(now, before, msg)] == ["champions", "champions_revenue_share",
                                                                        "at_risk", "at_risk_clv"]
        segments.findings(now, before, msg)
        assert all(isinstance(s, str) and s for s in segments.sentences(now, before, msg))
        assert all(g.text(msg) for g in now.gaps.values())
        for name in ("summary", "cohorts", "movement"):
            if now.has("segments"):
                segments.table(now, name, msg)
    assert set(now.gaps) <= set(segments.MINIMUM_DATA)
    if rung == "one_row":
        assert now.value("customers") <= 1 and "value" in now.gaps  # its one order may fall after the period


# Properties ----------------------------------------------------------------------------------------------------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 500), st.floats(0, 1000, allow_nan=False)),
                min_size=1, max_size=60))
def test_every_customer_gets_one_segment_and_scores_stay_in_range(rows):
    orders = _orders([(f"c{c}", pd.Timestamp("2026-11-22") - pd.Timedelta(days=d), v) for c, d, v in rows])
    s = segments.assign_segments(segments.rfm_scores(orders, as_of=AS_OF))
    assert s["segment"].notna().all() and s["customer_id"].is_unique
    assert s[["r", "f", "m"]].isin([1, 2, 3, 4, 5]).all().all()
    assert s["orders"].sum() == len(rows)
    # a customer who ordered more recently never has the lower recency score
    ordered = s.sort_values("recency_days")
    assert (np.diff(ordered["r"].to_numpy()) <= 0).all()
    summary = segments.segment_summary(s, period_orders=orders.assign(customer_id=orders["customer_id"]))
    assert summary["customers"].sum() == len(s) and summary["share"].sum() == pytest.approx(1.0)
    moved = segments.movement(s.iloc[: len(s) // 2], s)
    assert moved["customers"].sum() == len(s)


# The demo's planted cohort on every seed --------------------------------------------------------------------------
from .conftest import SEEDS  # noqa: E402


@pytest.mark.parametrize("seed", SEEDS)
def test_the_planted_cohort_has_the_most_champions_on_every_seed(seed, demo_seed_dir):
    from ecomlib.demo import GOOD_COHORT

    ds = segments.load(demo_seed_dir(seed))
    now = segments.compute(ds, W47)
    found = {f.key: f for f in segments.findings(now, now, EN)}
    assert "best_cohort" in found, (seed, sorted(found))
    assert found["best_cohort"].numbers["cohort"] == GOOD_COHORT and found["best_cohort"].confidence == "significant"
    assert found["best_cohort"].numbers["champion_share"] > 2 * found["best_cohort"].numbers["rest_share"]
    assert now.has("value") and found["at_risk_value"].money > 0


def test_no_cohort_stands_out_without_the_plants(demo_no_plants_dir):
    now = segments.compute(segments.load(demo_no_plants_dir), W47)
    assert "best_cohort" not in {f.key for f in segments.findings(now, now, EN)}
    assert now.has("cohorts")


def test_cohort_plot_takes_rates_of_zero_and_one_whose_bounds_round_past_them():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = pd.DataFrame({"cohort": ["2025-01", "2025-02"], "cohort_size": [10, 10], "champions": [0, 10],
                         "champion_share": [0.0, 1.0], "ci_low": [1e-17, 0.7], "ci_high": [0.3, 1.0 - 1e-16]})
    fig, ax = plt.subplots()
    assert segments.plot_cohorts(data, ax=ax) is ax  # no "yerr must not contain negative values"
    plt.close(fig)


def test_the_customer_summary_on_duckdb_gives_the_pandas_segments_and_values(demo_dir):
    """With ds.engine the LTV model's summary comes from ltv.customer_summary_on: same tables, same values."""
    period = parse_period("2026-W47")
    on_pandas = segments.compute(segments.load(demo_dir), period)
    on_duckdb = segments.compute(segments.load(demo_dir, engine="duckdb"), period)
    for name, table in on_pandas.tables.items():
        pd.testing.assert_frame_equal(table, on_duckdb.tables[name], check_dtype=False, rtol=1e-9)
    assert on_pandas.values.keys() == on_duckdb.values.keys()
    for key, value in on_pandas.values.items():  # the model's sums differ by float addition order only
        assert on_duckdb.values[key] == (pytest.approx(value, rel=1e-12) if isinstance(value, float) else value), key
