"""Periods: ISO weeks, months, ranges, relative periods, and the last complete period of the data."""

from __future__ import annotations

import pandas as pd
import pytest

from ecomlib.errors import PeriodError
from ecomlib.periods import (Period, check_in_data, covered_days, date_range, default_period, last_complete,
                             parse_period, resolve)


def test_iso_week_and_its_previous():
    p = parse_period("2026-W47")
    assert (p.start, p.end, p.kind, p.label) == (pd.Timestamp("2026-11-16"), pd.Timestamp("2026-11-23"), "week", "2026-W47")
    assert p.previous().label == "2026-W46" and p.previous().start == pd.Timestamp("2026-11-09")
    assert parse_period("2027-W01").start == pd.Timestamp("2027-01-04")  # ISO week 1 holds the first Thursday


def test_month_and_previous_month_across_a_year():
    p = parse_period("2026-01")
    assert (p.start, p.end, p.label) == (pd.Timestamp("2026-01-01"), pd.Timestamp("2026-02-01"), "2026-01")
    assert p.previous().label == "2025-12" and p.previous().days == 31


def test_custom_range_is_inclusive_and_previous_has_the_same_length():
    p = parse_period("2026-11-01..2026-11-14")
    assert p.days == 14 and p.last_day == pd.Timestamp("2026-11-14") and p.kind == "custom"
    assert p.previous().start == pd.Timestamp("2026-10-18") and p.previous().days == 14
    assert date_range("2026-11-16", "2026-11-22").kind == "week"  # a whole ISO week is a week


def test_relative_periods_from_today():
    today = pd.Timestamp("2026-11-25")  # a Wednesday
    assert parse_period("last-week", today=today).label == "2026-W47"
    assert parse_period("last-month", today=today).label == "2026-10"


def test_last_complete_period_of_the_data():
    # data ending on Sunday 22 Nov: W47 is complete; data ending Saturday 21 Nov: W46 is the last complete week
    assert last_complete("week", pd.Timestamp("2026-11-22 23:59")).label == "2026-W47"
    assert last_complete("week", pd.Timestamp("2026-11-21 10:00")).label == "2026-W46"
    assert last_complete("month", pd.Timestamp("2026-11-22")).label == "2026-10"
    assert last_complete("month", pd.Timestamp("2026-10-31 18:00")).label == "2026-10"


def test_resolve_defaults_and_explicit_comparison():
    p, c = resolve(None, None, data_end=pd.Timestamp("2026-11-22 23:59"))
    assert (p.label, c.label) == ("2026-W47", "2026-W46")
    p, c = resolve("2026-11-16", "2026-11-22", "2025-11-17", "2025-11-23")
    assert c.label == "2025-W47"


def test_contains_is_half_open():
    p = parse_period("2026-W47")
    times = pd.Series(pd.to_datetime(["2026-11-15 23:59:59", "2026-11-16 00:00:00", "2026-11-22 23:59:59", "2026-11-23 00:00:00"]))
    assert p.contains(times).tolist() == [False, True, True, False]


@pytest.mark.parametrize("text, message", [("2026-W60", "not an ISO week"), ("2026-13", "not a month"),
                                           ("next week", "cannot read the period")])
def test_bad_periods_say_what_is_accepted(text, message):
    with pytest.raises(PeriodError, match=message):
        parse_period(text)


def test_half_given_periods_are_errors():
    with pytest.raises(PeriodError, match="both period_start and period_end"):
        resolve("2026-11-16", None)
    with pytest.raises(PeriodError, match="ends .* before it starts"):
        Period(pd.Timestamp("2026-11-16"), pd.Timestamp("2026-11-10"))


def test_covered_days_counts_the_days_of_the_period_inside_the_data():
    week = parse_period("2026-W47")  # Mon 16 – Sun 22 Nov
    assert covered_days(week, pd.Timestamp("2026-11-01"), pd.Timestamp("2026-11-30")) == 7
    assert covered_days(week, pd.Timestamp("2026-11-18 09:00"), pd.Timestamp("2026-11-30")) == 5
    assert covered_days(week, pd.Timestamp("2026-11-01"), pd.Timestamp("2026-11-16 00:05")) == 1
    assert covered_days(week, pd.Timestamp("2026-11-23"), pd.Timestamp("2026-11-30")) == 0


@pytest.mark.parametrize("first, last, kind, label", [
    ("2026-01-05", "2026-11-22 23:59", "week", "2026-W47"),   # long data: the last complete week
    ("2026-11-18", "2026-11-20 18:00", "week", "2026-W47"),   # three days from a Wednesday: that week, not W46
    ("2026-11-18", "2026-11-28 10:00", "week", "2026-W48"),   # no whole week inside: the most covered (6 days)
    ("2026-11-19", "2026-11-29 10:00", "week", "2026-W48"),   # W48 is complete and inside
    ("2026-10-10", "2026-11-22", "month", "2026-11"),          # October starts before the data: November (22 days)
    ("2026-09-01", "2026-11-22", "month", "2026-10"),
])
def test_default_period_is_the_last_complete_one_inside_the_data(first, last, kind, label):
    assert default_period(kind, pd.Timestamp(first), pd.Timestamp(last)).label == label


def test_a_period_without_data_is_refused_naming_the_range_and_a_period_to_use():
    first, last = pd.Timestamp("2026-05-01"), pd.Timestamp("2026-11-22 20:00")
    assert check_in_data(parse_period("2026-W47"), first, last) == 7
    with pytest.raises(PeriodError, match=r"2026-W48 \(2026-11-23 – 2026-11-29\) has no data: it lies after the data, "
                                          r"which runs from 2026-05-01 to 2026-11-22.*--period 2026-W47"):
        check_in_data(parse_period("2026-W48"), first, last)
    with pytest.raises(PeriodError, match="lies before the data"):
        check_in_data(parse_period("2025-12"), first, last, kind="month")
