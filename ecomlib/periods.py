"""Review periods: parse ``2026-W47``, ``2026-11``, date ranges and ``last-week``/``last-month``; find comparisons.

A :class:`Period` is a half-open interval of store-local days ``[start, end)``; people see the inclusive
last day (``last_day``). The comparison period is by default the one just before, of the same kind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from .errors import PeriodError

KINDS = ("week", "month", "custom")


@dataclass(frozen=True)
class Period:
    """Days ``start`` (inclusive) to ``end`` (exclusive), with the kind that decides what "previous" means.

    Example
    -------
    >>> p = parse_period("2026-W47")
    >>> (p.start.date().isoformat(), p.last_day.date().isoformat(), p.previous().label)
    ('2026-11-16', '2026-11-22', '2026-W46')
    """

    start: pd.Timestamp
    end: pd.Timestamp
    kind: str = "custom"

    def __post_init__(self):
        if self.end <= self.start:
            raise PeriodError(f"the period ends ({self.end.date()}) before it starts ({self.start.date()})")

    @property
    def last_day(self) -> pd.Timestamp:
        return self.end - pd.Timedelta(days=1)

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def label(self) -> str:
        """``2026-W47``, ``2026-11`` or ``2026-11-01_2026-11-14``: usable as a folder name."""
        if self.kind == "week":
            iso = self.start.isocalendar()
            return f"{iso.year}-W{iso.week:02d}"
        if self.kind == "month":
            return self.start.strftime("%Y-%m")
        return f"{self.start.date().isoformat()}_{self.last_day.date().isoformat()}"

    def previous(self) -> "Period":
        """The period just before: previous week, previous month, or the same number of days before."""
        if self.kind == "month":
            start = self.start - pd.offsets.MonthBegin(1)
            return Period(start, self.start, "month")
        return Period(self.start - pd.Timedelta(days=self.days), self.start, self.kind)

    def contains(self, times: pd.Series) -> pd.Series:
        """Boolean mask of ``times`` inside the period (naive store-local timestamps)."""
        return (times >= self.start) & (times < self.end)

    def as_params(self, prefix: str = "period") -> dict[str, str]:
        """``{prefix}_start`` / ``{prefix}_end`` as inclusive ISO dates, as notebooks take them."""
        return {f"{prefix}_start": self.start.date().isoformat(), f"{prefix}_end": self.last_day.date().isoformat()}


def week_of(day: pd.Timestamp) -> Period:
    start = day.normalize() - pd.Timedelta(days=day.day_of_week)
    return Period(start, start + pd.Timedelta(days=7), "week")


def month_of(day: pd.Timestamp) -> Period:
    start = day.normalize().replace(day=1)
    return Period(start, start + pd.offsets.MonthBegin(1), "month")


def last_complete(kind: str, data_end: pd.Timestamp) -> Period:
    """The last week or month that ends on or before the day of ``data_end`` (the last timestamp in the data)."""
    boundary = data_end.normalize() + pd.Timedelta(days=1)  # data covers the days before this
    if kind == "week":
        return week_of(boundary).previous()
    if kind == "month":
        return month_of(boundary).previous()
    raise PeriodError(f"kind must be 'week' or 'month', not {kind!r}")


def covered_days(period: Period, data_first: pd.Timestamp, data_last: pd.Timestamp) -> int:
    """Days of ``period`` that lie within the data's days (from the day of ``data_first`` to the day of ``data_last``).

    >>> covered_days(parse_period("2026-W47"), pd.Timestamp("2026-11-18 09:00"), pd.Timestamp("2026-12-01"))
    5
    """
    first = pd.Timestamp(data_first).normalize()
    end = pd.Timestamp(data_last).normalize() + pd.Timedelta(days=1)
    return max(0, (min(period.end, end) - max(period.start, first)).days)


def default_period(kind: str, data_first: pd.Timestamp, data_last: pd.Timestamp) -> Period:
    """The period to review when none is given: the last complete ``kind`` that lies inside the data.

    When no whole week (month) lies inside the data — a three-day export, or data that starts mid-week and
    ends before the next week is over — the period with the most days of data is taken (the later one on a
    tie); :func:`covered_days` then says how much of it is covered. Never a period before the data begins.

    >>> default_period("week", pd.Timestamp("2026-11-18"), pd.Timestamp("2026-11-20 18:00")).label  # Wed–Fri
    '2026-W47'
    >>> default_period("week", pd.Timestamp("2026-11-18"), pd.Timestamp("2026-12-06 18:00")).label
    '2026-W49'
    """
    first, last = pd.Timestamp(data_first), pd.Timestamp(data_last)
    if last < first:
        raise PeriodError(f"the data ends ({last.date()}) before it starts ({first.date()})")
    candidate = last_complete(kind, last)
    if candidate.start >= first.normalize():
        return candidate
    of = week_of if kind == "week" else month_of
    candidates, period = [], of(first)
    while period.start <= last:
        candidates.append(period)
        period = of(period.end)
    return max(candidates, key=lambda p: (covered_days(p, first, last), p.start))


def check_in_data(period: Period, data_first: pd.Timestamp, data_last: pd.Timestamp, *, kind: str = "week") -> int:
    """Days of ``period`` covered by the data; raise :class:`PeriodError` naming the data's range when none are.

    >>> check_in_data(parse_period("2026-W47"), pd.Timestamp("2026-01-05"), pd.Timestamp("2026-11-22 23:00"))
    7
    """
    days = covered_days(period, data_first, data_last)
    if days == 0:
        first, last = pd.Timestamp(data_first), pd.Timestamp(data_last)
        where = "after" if period.start > last else "before"
        suggestion = default_period(kind, first, last)
        raise PeriodError(f"{period.label} ({period.start.date()} – {period.last_day.date()}) has no data: it lies "
                          f"{where} the data, which runs from {first.date()} to {last.date()}. Review a period inside "
                          f"it (e.g. --period {suggestion.label}), or leave --period out for the last complete "
                          f"{kind} of the data")
    return days


def parse_period(text: str, *, today: pd.Timestamp | None = None) -> Period:
    """Parse ``2026-W47``, ``2026-11``, ``2026-11-01..2026-11-14``, ``last-week`` or ``last-month``.

    ``last-week``/``last-month`` are relative to ``today`` (default: now): the last complete one.
    """
    text = text.strip()
    today = pd.Timestamp.now().normalize() if today is None else pd.Timestamp(today).normalize()
    if text in ("last-week", "last-month"):
        return last_complete(text.split("-")[1], today - pd.Timedelta(days=1))
    if m := re.fullmatch(r"(\d{4})-W(\d{1,2})", text):
        try:
            start = pd.Timestamp.fromisocalendar(int(m[1]), int(m[2]), 1)
        except ValueError:
            raise PeriodError(f"{text!r} is not an ISO week (weeks run 1–52 or 53)") from None
        return Period(start, start + pd.Timedelta(days=7), "week")
    if m := re.fullmatch(r"(\d{4})-(\d{2})", text):
        if not 1 <= int(m[2]) <= 12:
            raise PeriodError(f"{text!r} is not a month")
        return month_of(pd.Timestamp(int(m[1]), int(m[2]), 1))
    if m := re.fullmatch(r"(\d{4}-\d{2}-\d{2})(?:\.\.|_|/)(\d{4}-\d{2}-\d{2})", text):
        return date_range(m[1], m[2])
    raise PeriodError(f"cannot read the period {text!r}: use 2026-W47, 2026-11, 2026-11-01..2026-11-14, "
                      f"last-week or last-month")


def date_range(start: str, end: str) -> Period:
    """The days ``start`` to ``end``, both inclusive (ISO dates); a whole ISO week or month gets that kind."""
    try:
        s, e = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize() + pd.Timedelta(days=1)
    except ValueError:
        raise PeriodError(f"dates must be YYYY-MM-DD, not {start!r} / {end!r}") from None
    p = Period(s, e, "custom")
    for candidate in (week_of(s), month_of(s)):
        if (candidate.start, candidate.end) == (s, e):
            return candidate
    return p


def resolve(period_start: str | None, period_end: str | None, compare_start: str | None = None,
            compare_end: str | None = None, *, data_end: pd.Timestamp | None = None,
            kind: str = "week") -> tuple[Period, Period]:
    """The review period and its comparison from notebook parameters.

    Empty ``period_start``/``period_end`` mean the last complete ``kind`` in the data (needs ``data_end``);
    empty comparison dates mean the period just before.

    Example
    -------
    >>> p, c = resolve(None, None, data_end=pd.Timestamp("2026-11-22 23:59"))
    >>> p.label, c.label
    ('2026-W47', '2026-W46')
    """
    if period_start and period_end:
        period = date_range(period_start, period_end)
    elif period_start or period_end:
        raise PeriodError("give both period_start and period_end, or neither")
    elif data_end is None:
        raise PeriodError("no period given and no data to take the last complete period from")
    else:
        period = last_complete(kind, data_end)
    if compare_start and compare_end:
        comparison = date_range(compare_start, compare_end)
    elif compare_start or compare_end:
        raise PeriodError("give both compare_start and compare_end, or neither")
    else:
        comparison = period.previous()
    return period, comparison
