"""Conversion funnel: ordered-step conversion per session or user, breakdowns, trends and period comparison.

The metric
----------
A *unit* (a session, or a user) reaches step 1 at its first step-1 event. It reaches step k (k > 1) at
the first step-k event at or after the time it reached step k−1 — ties in timestamps count as in order —
provided that event is no later than ``window`` after the time it reached step 1 (the window runs from the
first step-1 event; a later step-1 event does not restart it). Repeated events of a step count once; events of other names are ignored; events after the window do not count. This is the
"closed" funnel (GA4's default): units must enter at step 1. In an ``"open"`` funnel a unit that did not
reach step k−1 may *enter* at step k (its first step-k event), and the window is measured from there.

With a ``period``, a unit belongs to the period when it enters (its first step-1 event, or in an open
funnel its first entry) on or after the period's start and before its end; its later events up to
``window`` after the end of the period still count, so sessions that straddle midnight are whole.

Comparisons use a two-sided two-proportion z-test per step and segment (:func:`ecomlib.stats.two_proportion_test`)
with p-values adjusted for the number of comparisons (Holm by default, :func:`ecomlib.stats.adjust_pvalues`).

Promotions: a comparison with a promotion day (the ``promotions`` table: 双11, Black Friday…) in either period
compares a peak with an ordinary week. By default (``exclude_promotions=True``) the conversion tests leave out
the units that entered on promotion days of either period, and the page also shows the tests with them; the
headline counts include every day and their labels name the promotion days.

Money comes from the orders table only (:func:`ecomlib.contract.order_revenue`: gross, completed and
partially refunded orders, pending orders left out of both periods). Revenue per session mixes two sources
and is shown only when the events' purchases reconcile with the orders placed within a tolerance (5 %).

Minimum data (``MINIMUM_DATA``; a section below its rule records a :class:`~ecomlib.review.Gap` and the rest
of the page still renders):

- funnel: at least one unit entering at the first step in the period, and every step name present in the events;
- segments: a breakdown column with at least two values among the units entering in the period;
- trend: events on at least 2 days up to the period's end;
- changes: at least 100 units entering the funnel in both this and the comparison period
  (without promotion days when they are excluded);
- revenue: the orders table; revenue per session also needs the events' purchases to reconcile with the orders.

Computation is vectorized: the events of the funnel steps are sorted once by (unit, time, step); each step
is then found for every unit at once with a binary search (``numpy.searchsorted``) on the positions of that
step's events — a loop over the handful of steps, none over units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from .errors import FunnelError, check_option
from .i18n import Messages, catalogue
from .keys import isin
from .periods import Period, parse_period  # noqa: F401  (parse_period: docstring examples)
from .report import Headline
from .review import Finding, Result
from .stats import adjust_pvalues, minimum_detectable_difference, two_proportion_test

if TYPE_CHECKING:
    from .dataset import Dataset

NAME = "funnel"
MIN_UNITS = 100  # units entering the funnel in each period before conversion changes are tested
MIN_TREND_DAYS = 2  # days with events before a daily trend is drawn
#: section → the minimum-data rule in words (the module docstring says the same; the page shows it translated)
MINIMUM_DATA = {
    "funnel": "at least one unit entering at the first step in the period; every step name present in the events",
    "segments": "a breakdown column with at least two values among the units entering in the period",
    "trend": f"events on at least {MIN_TREND_DAYS} days up to the period's end",
    "changes": f"at least {MIN_UNITS} units entering the funnel in both this and the comparison period "
               "(without promotion days when they are excluded)",
    "revenue": "the orders table; revenue per session also needs the events' purchases to reconcile with the orders",
}
#: display format of every column the review's tables show (``el.styled(df, msg, formats=funnel.formats(df))``)
UNITS = {
    "units": "int", "entered": "int", "conversion_from_previous": "pct", "conversion_from_first": "pct",
    "drop_off": "int", "median_time_from_previous": "num", "p90_time_from_previous": "num",
    "n_1": "int", "x_1": "int", "n_2": "int", "x_2": "int", "rate_1": "pct", "rate_2": "pct", "diff": "pp",
    "ci_low": "pp", "ci_high": "pp", "z": "num", "p_value": "p", "family_size": "int", "p_adjusted": "p",
    "mde": "pp", "completions_change": "int", "purchases": "int", "orders_placed": "int", "difference": "pct",
    "tolerance": "pct", "orders": "int", "pending_orders": "int", "revenue": "money", "aov": "money",
    "margin": "pct", "revenue_per_unit": "money", "date": "date",
}
_HEADLINE_UNIT = {c: {"int": "count", "pct": "ratio", "money": "money"}.get(k, "number") for c, k in UNITS.items()}
STEPS = ("view_item", "add_to_cart", "begin_checkout", "purchase")
UNIT_COLUMNS = {"session": "session_id", "user": "user_id"}
MODES = ("closed", "open")
DEFAULT_WINDOWS = {"session": pd.Timedelta("30min"), "user": pd.Timedelta("7D")}
FREQS = ("D", "W")
CUSTOMER_TYPE = "customer_type"
ALL = "all"
OTHER = "__other__"  # prefix of the folded long tail of a breakdown: "__other__2995"
METRICS = ("units", "entered", "conversion_from_previous", "conversion_from_first", "drop_off",
           "median_time_from_previous", "p90_time_from_previous")
COMPARISON_COLUMNS = ("kind", "from_step", "to_step", "n_1", "x_1", "n_2", "x_2", "rate_1", "rate_2", "diff",
                      "ci_low", "ci_high", "z", "p_value", "family_size", "p_adjusted", "significant", "mde",
                      "completions_change")
POWER = 0.8  # power at which the minimum detectable effect is stated
METHOD_NAMES = {"holm": "Holm", "fdr_bh": "Benjamini–Hochberg", "bonferroni": "Bonferroni"}





# ---------------------------------------------------------------------------------------------------------
# Core: per-unit paths, then aggregation
# ---------------------------------------------------------------------------------------------------------
@dataclass
class _Paths:
    """Per-unit results: which steps were reached, where the unit entered, at what time (ns) each step was reached."""

    reached: np.ndarray  # (n_units, n_steps) bool
    entered: np.ndarray  # (n_units, n_steps) bool: the unit started its path at this step
    times: np.ndarray  # (n_units, n_steps) int64 ns since epoch; meaningless where not reached
    entry_rows: np.ndarray  # (n_units,) positional index in ``events`` of each unit's entry event


def _window(unit: str, window) -> pd.Timedelta:
    if window is None:
        return DEFAULT_WINDOWS[unit]
    try:
        w = pd.Timedelta(window)
    except (TypeError, ValueError):
        raise FunnelError(f"window must be a duration such as '30min' or pd.Timedelta(days=7), not {window!r}",
                          option="window") from None
    if pd.isna(w) or w <= pd.Timedelta(0):
        raise FunnelError(f"window must be a positive duration, not {window!r}", option="window")
    return w


def _check(events: pd.DataFrame, steps: Sequence[str], unit: str, mode: str, by: list[str]) -> None:
    check_option("unit", unit, UNIT_COLUMNS)
    check_option("mode", mode, MODES)
    steps = list(steps)
    if len(steps) < 2:
        raise FunnelError(f"a funnel needs at least two steps, got {steps}", option="steps")
    repeated = sorted({s for s in steps if steps.count(s) > 1})
    if repeated:
        raise FunnelError(f"steps must be distinct; {repeated} appear more than once in {steps}", option="steps")
    needed = ["event_time", "event_name", UNIT_COLUMNS[unit], *by]
    missing = [c for c in needed if c not in events.columns]
    if missing:
        raise FunnelError(f"the events table has no column {missing}", option="by" if set(missing) <= set(by)
                          else "events", valid=list(events.columns))
    if len(events):
        present = set(pd.unique(events["event_name"].dropna()))
        absent = [s for s in steps if s not in present]
        if absent:
            raise FunnelError(f"step(s) {absent} never occur in the events' event_name", option="steps",
                              valid=sorted(map(str, present)))


def _step_codes(names: pd.Series, steps: Sequence[str]) -> np.ndarray:
    """Position (int8) of each event's name in ``steps``, −1 for other names (categoricals: one lookup per category)."""
    index = pd.Index(list(steps))
    if isinstance(names.dtype, pd.CategoricalDtype):
        lookup = np.append(index.get_indexer(names.cat.categories), -1).astype(np.int8)  # code −1 (missing) → −1
        return lookup[names.cat.codes.to_numpy()]
    return index.get_indexer(names).astype(np.int8)


def _paths(events: pd.DataFrame, *, steps: Sequence[str], unit_col: str, window: pd.Timedelta, mode: str,
           start: pd.Timestamp | None = None, entry_end: pd.Timestamp | None = None) -> _Paths:
    """Every unit's path through the steps (see the module docstring for the rules).

    Memory: a few arrays of one number per funnel event (int8 steps, int32 units and positions where they
    fit, int64 times) and one row of ``len(steps)`` numbers per unit; temporaries are freed as soon as used.
    """
    n_steps = len(steps)
    step = _step_codes(events["event_name"], steps)
    times = events["event_time"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    keep = step >= 0
    if start is not None:
        keep &= times >= start.value
    if entry_end is not None:
        keep &= times < (entry_end + window).value
    rows = np.flatnonzero(keep)
    del keep
    step, times = step[rows], times[rows]
    small = np.int32 if len(rows) < np.iinfo(np.int32).max else np.int64
    codes, uniques = pd.factorize(events[unit_col].take(rows), use_na_sentinel=False)
    codes = codes.astype(small, copy=False)
    n_units = len(uniques)
    del uniques
    # Sort by (unit, time, step): one combined key for time and step where it fits in int64.
    if len(rows) and int(times.max() - times.min()) < np.iinfo(np.int64).max // (n_steps + 1):
        key = times - times.min()
        key *= n_steps
        key += step
        order = np.lexsort((key, codes)).astype(small, copy=False)
        del key
    else:
        order = np.lexsort((step, times, codes)).astype(small, copy=False)
    u_s = codes[order]
    del codes
    t_s = times[order]
    del times
    k_s = step[order]
    del step
    pos = np.full((n_units, n_steps), -1, small)  # position in the sorted arrays where the step was reached
    entered = np.zeros((n_units, n_steps), bool)
    anchor = np.zeros(n_units, np.int64)  # entry time of the unit's current path (ns)
    end_ns = entry_end.value if entry_end is not None else np.iinfo(np.int64).max
    for k in range(n_steps):
        pos_k = np.flatnonzero(k_s == k).astype(small, copy=False)  # increasing: sorted by unit, then time
        if k > 0 and len(pos_k):
            prev_units = np.flatnonzero(pos[:, k - 1] >= 0)
            j = np.searchsorted(pos_k, pos[prev_units, k - 1], side="right")  # first step-k event after it
            cand = pos_k[np.minimum(j, len(pos_k) - 1)]
            ok = (j < len(pos_k)) & (u_s[cand] == prev_units) & (t_s[cand] <= anchor[prev_units] + window.value)
            pos[prev_units[ok], k] = cand[ok]
            del prev_units, j, cand, ok
        if k == 0 or mode == "open":
            units_k = u_s[pos_k]
            first = np.ones(len(pos_k), bool)
            first[1:] = units_k[1:] != units_k[:-1]
            fu, fp = units_k[first], pos_k[first]
            can = t_s[fp] < end_ns
            if k > 0:
                can &= pos[fu, k - 1] < 0  # open funnel: enter here only when step k−1 was not reached
            fu, fp = fu[can], fp[can]
            pos[fu, k], entered[fu, k], anchor[fu] = fp, True, t_s[fp]
            del units_k, first, fu, fp, can
    del u_s, k_s, anchor
    reached = pos >= 0
    live = reached.any(axis=1)
    pos, reached, entered = pos[live], reached[live], entered[live]
    first_entry = pos[np.arange(len(pos)), entered.argmax(axis=1)] if len(pos) else np.zeros(0, np.int64)
    times_at = t_s[np.maximum(pos, 0)] if len(t_s) else np.zeros(pos.shape, np.int64)
    return _Paths(reached=reached, entered=entered, times=times_at, entry_rows=rows[order[first_entry]])


def _aggregate(paths: _Paths, groups: pd.DataFrame | None, steps: Sequence[str]) -> pd.DataFrame:
    """Step table from per-unit paths: one row per (group, step)."""
    n_steps = len(steps)
    reached, entered = paths.reached, paths.entered
    continued = reached & ~entered
    gap = np.full(reached.shape, np.nan)
    gap[:, 1:] = np.where(continued[:, 1:], (paths.times[:, 1:] - paths.times[:, :-1]) / 1e9, np.nan)
    r_cols, e_cols, g_cols = ([f"{p}{k}" for k in range(n_steps)] for p in "reg")
    frame = pd.DataFrame(np.hstack([reached, entered]).view(np.uint8), columns=r_cols + e_cols)  # sums are int64
    frame[g_cols] = gap
    del gap
    if groups is None or groups.shape[1] == 0:
        keys = pd.DataFrame(index=[0])
        units = frame[r_cols].sum().to_numpy()[None, :]
        ent = frame[e_cols].sum().to_numpy()[None, :]
        med = frame[g_cols].median().to_numpy()[None, :]
        p90 = frame[g_cols].quantile(0.9).to_numpy()[None, :]
    else:
        key_names = list(groups.columns)
        frame[key_names] = groups.reset_index(drop=True)
        grouped = frame.groupby(key_names, observed=True, dropna=False, sort=True)
        summed = grouped[r_cols + e_cols].sum()
        keys = summed.index.to_frame(index=False)
        units, ent = summed[r_cols].to_numpy(), summed[e_cols].to_numpy()
        med = grouped[g_cols].median().to_numpy()
        p90 = grouped[g_cols].quantile(0.9).to_numpy()
    return _finish(keys, units, ent, med, p90, steps)


def _finish(keys: pd.DataFrame, units, ent, med, p90, steps: Sequence[str]) -> pd.DataFrame:
    """The step table from per-group counts: ``units``/``ent``/``med``/``p90`` are (groups, steps) arrays."""
    n_groups, n_steps = len(keys), len(steps)
    units = np.asarray(units).astype(np.int64).reshape(n_groups, n_steps)
    ent = np.asarray(ent).astype(np.int64).reshape(n_groups, n_steps)
    cont = units - ent
    prev = np.full(units.shape, np.nan)
    prev[:, 1:] = units[:, :-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        from_prev = np.where(prev > 0, cont / prev, np.nan)
        from_first = np.where(units[:, [0]] > 0, units / units[:, [0]], np.nan)
    from_prev[:, 0] = np.nan
    steps_col = pd.Categorical(np.tile(list(steps), n_groups), categories=list(steps), ordered=True)
    measures = pd.DataFrame({  # built at once: inserting the columns one by one took 1.4x as long
        "step": steps_col, "units": units.ravel(), "entered": ent.ravel(),
        "conversion_from_previous": from_prev.ravel(), "conversion_from_first": from_first.ravel(),
        "drop_off": (prev - cont).ravel(),
        "median_time_from_previous": np.asarray(med, float).reshape(n_groups, n_steps).ravel(),
        "p90_time_from_previous": np.asarray(p90, float).reshape(n_groups, n_steps).ravel()})
    if keys.shape[1] == 0:
        return measures
    out = keys.iloc[np.repeat(np.arange(n_groups), n_steps)].reset_index(drop=True)
    return pd.concat([out, measures], axis=1)


def _as_list(by) -> list[str]:
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)


def _restrict(period: Period | None) -> dict:
    return {} if period is None else {"start": period.start, "entry_end": period.end}


def step_conversion(events: pd.DataFrame, *, steps: Sequence[str] = STEPS, unit: str = "session",
                    window: pd.Timedelta | str | None = None, mode: str = "closed",
                    by: str | Sequence[str] | None = None, period: Period | None = None) -> pd.DataFrame:
    """Units reaching each funnel step in order, within ``window`` of their first step.

    Parameters
    ----------
    events : contract ``events`` table (``event_time``, ``event_name``, ``session_id``/``user_id``, and the
        ``by`` columns). Events whose name is not a step are ignored.
    steps : event names in funnel order (default: the GA4 e-commerce steps).
    unit : ``"session"`` (counts ``session_id``) or ``"user"`` (counts ``user_id``, across sessions).
    window : how long after reaching the first step a unit may reach the later ones (inclusive); default
        30 minutes for sessions, 7 days for users.
    mode : ``"closed"`` (units enter at step 1 only) or ``"open"`` (a unit that did not reach step k−1 may
        enter at step k).
    by : events column(s) to break the funnel down by; a unit takes the value on its entry event.
        Missing values form their own group.
    period : count only units entering in this period (their events up to ``window`` after it still count).

    Returns
    -------
    DataFrame, one row per (``by`` value, step), steps in funnel order:
    ``*by, step`` (ordered categorical), ``units`` (reaching the step), ``entered`` (of which started their
    path here: all of step 1, none later in a closed funnel), ``conversion_from_previous`` (share of the
    previous step's units that went on to this step; NaN for step 1 or when the previous step has no units),
    ``conversion_from_first`` (units / units at step 1), ``drop_off`` (units at the previous step that did
    not go on; NaN for step 1), ``median_time_from_previous`` and ``p90_time_from_previous`` (seconds from
    reaching the previous step to reaching this one, over units that went on). Rates are fractions.
    No units (an empty period) gives zero counts and NaN rates; with ``by``, no rows.

    Example
    -------
    >>> ev = pd.DataFrame({"event_time": pd.to_datetime(["2026-11-16 10:00", "2026-11-16 10:05",
    ...                                                  "2026-11-16 11:00"]),
    ...                    "event_name": ["view_item", "add_to_cart", "view_item"],
    ...                    "session_id": ["s1", "s1", "s2"], "user_id": ["u1", "u1", "u2"]})
    >>> step_conversion(ev, steps=["view_item", "add_to_cart"])[["step", "units", "conversion_from_previous"]]
              step  units  conversion_from_previous
    0    view_item      2                       NaN
    1  add_to_cart      1                       0.5
    """
    by = _as_list(by)
    _check(events, steps, unit, mode, by)
    window = _window(unit, window)
    paths = _paths(events, steps=steps, unit_col=UNIT_COLUMNS[unit], window=window, mode=mode, **_restrict(period))
    groups = events[by].iloc[paths.entry_rows].reset_index(drop=True) if by else None
    return _aggregate(paths, groups, steps)


def step_conversion_on(engine, *, steps: Sequence[str] = STEPS, unit: str = "session",
                       window: pd.Timedelta | str | None = None, period: Period, by: str | Sequence[str] | None = None,
                       exclude_days: Sequence | None = None, fold: Mapping[str, tuple[Sequence[str], int]] | None = None,
                       as_text: bool = False) -> pd.DataFrame:
    """:func:`step_conversion` (closed mode) run on a query engine over the source's ``events`` table.

    The same table as ``step_conversion(events, ..., period=period)`` from ``ecomlib/sql/funnel_steps.sql``:
    events never come into pandas. ``by`` may name events columns, ``"date"`` (the day the unit entered, as
    :func:`conversion_trend` with ``freq="D"``) and ``"customer_type"`` (new vs returning as of the period
    start, :func:`add_customer_type`, from the source's ``orders``). ``exclude_days`` leaves out units entering
    on those days; ``fold`` maps a column to ``(values kept, n)``, the other values becoming one
    ``"__other__<n>"`` segment; ``as_text`` returns breakdown values as text (as :func:`segment_conversion` does).

    Example
    -------
    >>> eng = ecomlib.engine.connect("duckdb", "data/demo")                                 # doctest: +SKIP
    >>> step_conversion_on(eng, period=parse_period("2026-W47"), by="device")              # doctest: +SKIP
    """
    from .engine import identifier

    by = _as_list(by)
    check_option("unit", unit, UNIT_COLUMNS)
    window = _window(unit, window)
    columns = []
    for col in by:
        if col == "date":
            expr = "CAST(e.event_time AS DATE)"
        elif col == CUSTOMER_TYPE:
            expr = "CASE WHEN r.customer_id IS NOT NULL THEN 'returning' ELSE 'new' END"
        else:
            expr = f"e.{identifier(col)}"
            if as_text or (fold and col in fold):
                expr = f"CAST({expr} AS VARCHAR)"
            if fold and col in fold:
                kept, n_folded = fold[col]
                other = _lit(f"{OTHER}{int(n_folded)}")
                expr = f"CASE WHEN {expr} IS NULL OR {expr} IN {_in(kept)} THEN {expr} ELSE {other} END"
        columns.append((col, expr))
    days = sorted({pd.Timestamp(d).strftime("%Y-%m-%d") for d in exclude_days}) if exclude_days else []
    table = _funnel_steps(
        engine, steps=list(steps), unit=UNIT_COLUMNS[unit], columns=columns, start=period.start,
        end=period.end, stop=period.end + window, window_us=int(window / pd.Timedelta(microseconds=1)),
        exclude_days=days, returning_before=period.start if CUSTOMER_TYPE in by else None)
    if by:
        table = table.sort_values(by, na_position="last", kind="stable").reset_index(drop=True)
    n, nan = len(steps), np.full(len(table), np.nan)  # column by column: a few rows, pandas' overhead dominates
    units = np.column_stack([table[f"units_{k}"].to_numpy(np.int64) for k in range(n)])
    ent = np.zeros_like(units)
    ent[:, 0] = units[:, 0]
    med = np.column_stack([nan, *(table[f"median_{k}"].to_numpy(float, na_value=np.nan) for k in range(1, n))])
    p90 = np.column_stack([nan, *(table[f"p90_{k}"].to_numpy(float, na_value=np.nan) for k in range(1, n))])
    keys = table[by].reset_index(drop=True) if by else pd.DataFrame(index=[0])
    if "date" in by:
        keys["date"] = pd.to_datetime(keys["date"])
    return _finish(keys, units, ent, med, p90, steps)


def _funnel_steps(engine, **params) -> pd.DataFrame:
    """``funnel_steps.sql`` run on ``engine`` (one row per group; on DuckDB with a ``rows_scanned`` column), the
    events rows it read added to the engine's rows scanned (:meth:`~ecomlib.engine.Engine.add_scanned`).

    On DuckDB the query counts the events of its period filter itself, from the events it already holds for its
    steps (DuckDB materializes a CTE read several times), and that count goes to ``rows_scanned``: a separate
    count query reads every row of the period a second time (a third of the funnel's time on 60–100 M events).
    Without an entering unit the result carries no count (no row, or a NULL one) and the engine counts then.
    Spark inlines CTEs, so counting in the query scans the events once more on every call (0.6–0.8 s at 0.6–6 M
    events): there the engine's own count query runs once per period filter and is remembered.
    """
    from .engine import render

    where = f"event_time >= {_lit(params['start'])} AND event_time < {_lit(params['stop'])}"
    if engine.name != "duckdb":
        return engine.reduce("funnel_steps", count_events=False, scans={"events": where}, **params)
    table = engine.sql(render("funnel_steps", count_events=True, **params))  # every row carries the same count
    counted = table["rows_scanned"].iloc[0] if len(table) else None
    engine.add_scanned("events", where, int(counted) if pd.notna(counted) else None)
    return table


def _lit(value) -> str:
    from .engine import literal

    return literal(value)


def _in(values: Sequence) -> str:
    from .engine import in_list

    return in_list(values) if len(values) else "(NULL)"


def add_customer_type(events: pd.DataFrame, orders: pd.DataFrame, *, before: pd.Timestamp) -> pd.DataFrame:
    """Events with a ``customer_type`` column: ``"returning"`` or ``"new"`` as of ``before``.

    A visitor is *returning* when its ``user_id`` is the ``customer_id`` of a **completed** order placed
    before ``before`` (the start of the review period), and *new* otherwise — anonymous visitors, customers
    whose earlier orders were all cancelled, refunded or still pending, and customers whose first completed
    order falls in the period itself. Returns a new DataFrame (categorical column, categories new, returning).

    Example
    -------
    >>> ev = pd.DataFrame({"user_id": ["C1", "u9"]})
    >>> od = pd.DataFrame({"customer_id": ["C1"], "status": ["completed"],
    ...                    "order_time": pd.to_datetime(["2026-11-01"])})
    >>> add_customer_type(ev, od, before=pd.Timestamp("2026-11-16"))["customer_type"].tolist()
    ['returning', 'new']
    """
    done = orders[(orders["status"] == "completed") & (orders["order_time"] < pd.Timestamp(before))]
    returning = isin(events["user_id"], done["customer_id"].dropna()).to_numpy()
    kind = pd.Categorical(np.where(returning, "returning", "new"), categories=["new", "returning"])
    return events.assign(**{CUSTOMER_TYPE: kind})


def segment_conversion(events: pd.DataFrame, *, breakdowns: str | Sequence[str] = ("device", "channel"),
                       orders: pd.DataFrame | None = None, steps: Sequence[str] = STEPS, unit: str = "session",
                       window: pd.Timedelta | str | None = None, mode: str = "closed",
                       period: Period | None = None, exclude_days: Sequence | None = None,
                       top: int | None = None) -> pd.DataFrame:
    """The funnel for all units and broken down by each column in ``breakdowns``, in one long table.

    ``breakdowns`` are events columns (``device``, ``channel``, …) or ``"customer_type"`` (new vs returning,
    derived from ``orders`` as of the period start by :func:`add_customer_type`). Paths are computed once.
    ``exclude_days``: days (dates) whose entering units are left out (promotion days, see :func:`compute`).
    ``top``: keep the ``top`` values of each breakdown by units entering and fold the rest into one segment
    ``"__other__<n>"`` (shown as "Other (n)"): counts are conserved, 3,000 channel names make 13 rows.

    Returns
    -------
    DataFrame with ``dimension`` (``"all"`` or the column name), ``segment`` (``"all"`` or the column's
    value as text; NaN for a missing value) and the columns of :func:`step_conversion`, the ``"all"``
    rows first.

    Example
    -------
    >>> table = segment_conversion(ds.events, breakdowns=["device"], period=period)   # doctest: +SKIP
    >>> table.query("dimension == 'device' and segment == 'mobile'")                   # doctest: +SKIP
    """
    return _segment_tables(events, breakdowns=breakdowns, orders=orders, steps=steps, unit=unit, window=window,
                           mode=mode, period=period, exclude_days=(exclude_days,), top=top)[0]


def _segment_tables(events: pd.DataFrame, *, breakdowns, orders, steps, unit, window, mode, period,
                    exclude_days: Sequence, top: int | None) -> list[pd.DataFrame]:
    """One :func:`segment_conversion` table per entry of ``exclude_days`` (None: every day), from one path computation."""
    if not isinstance(events, pd.DataFrame):
        return _segment_tables_on(events, breakdowns=breakdowns, orders=orders, steps=steps, unit=unit,
                                  window=window, mode=mode, period=period, exclude_days=exclude_days, top=top)
    breakdowns = _as_list(breakdowns)  # one column name or several
    if CUSTOMER_TYPE in breakdowns and CUSTOMER_TYPE not in events.columns:
        if orders is None:
            raise FunnelError("the customer_type breakdown (new vs returning) needs the orders table; "
                              "pass orders=, or drop 'customer_type' from breakdowns", option="breakdowns")
        before = period.start if period is not None else events["event_time"].min()
        events = add_customer_type(events, orders, before=before)
    _check(events, steps, unit, mode, breakdowns)
    window = _window(unit, window)
    paths = _paths(events, steps=steps, unit_col=UNIT_COLUMNS[unit], window=window, mode=mode, **_restrict(period))
    values = events[breakdowns].iloc[paths.entry_rows].reset_index(drop=True)
    values = values.apply(lambda c: c.astype(object).map(lambda v: v if pd.isna(v) else str(v)))  # text segments
    if top is not None:
        values = values.apply(lambda c: _fold(c, top))  # a handful of breakdown columns
    entry_day = events["event_time"].iloc[paths.entry_rows].dt.normalize().to_numpy()
    out = []
    for days in exclude_days:  # one or two tables
        keep = np.ones(len(entry_day), bool) if not days else ~np.isin(entry_day, pd.to_datetime(list(days)).to_numpy())
        kept = _Paths(reached=paths.reached[keep], entered=paths.entered[keep], times=paths.times[keep],
                      entry_rows=paths.entry_rows[keep])
        vals = values[keep].reset_index(drop=True)
        parts = [_aggregate(kept, None, steps).assign(dimension=ALL, segment=ALL)]
        for col in breakdowns:  # a handful of breakdown columns
            part = _aggregate(kept, vals[[col]], steps)
            parts.append(part.rename(columns={col: "segment"}).assign(dimension=col))
        table = pd.concat(parts, ignore_index=True)
        table["segment"] = table["segment"].astype(object)
        out.append(table[["dimension", "segment", *[c for c in table.columns if c not in ("dimension", "segment")]]])
    return out


def _segment_tables_on(engine, *, breakdowns, orders, steps, unit, window, mode, period, exclude_days: Sequence,
                       top: int | None) -> list[pd.DataFrame]:
    """:func:`_segment_tables` on a query engine: one query per breakdown and table, and one more for each
    breakdown whose values are folded (its medians cannot be merged from the unfolded rows)."""
    breakdowns = _as_list(breakdowns)
    if CUSTOMER_TYPE in breakdowns and (orders is None or not engine.has("orders")):
        raise FunnelError("the customer_type breakdown (new vs returning) needs the orders table; "
                          "pass orders=, or drop 'customer_type' from breakdowns", option="breakdowns")
    if mode != "closed":
        raise FunnelError("the open funnel runs on the pandas engine only", option="mode", valid=["closed"])
    common = dict(steps=steps, unit=unit, window=window, period=period)
    out = []
    fold: dict[str, tuple[list, int]] = {}
    decided: set[str] = set()
    for days in exclude_days:  # one or two tables
        parts = [step_conversion_on(engine, exclude_days=days, **common).assign(dimension=ALL, segment=ALL)]
        for col in breakdowns:  # a handful of breakdown columns
            part = step_conversion_on(engine, by=col, as_text=True, exclude_days=days, fold=fold, **common)
            if top is not None and col not in decided:  # as _fold, on the values of every entering unit
                decided.add(col)
                every = part if not days else step_conversion_on(engine, by=col, as_text=True, **common)
                entering = every.loc[every["step"] == steps[0]].set_index(col)["units"]
                entering = entering[entering.index.notna()].sort_values(ascending=False, kind="stable")
                if len(entering) > top + 1:  # the top values stay, the rest become one segment
                    fold[col] = (list(entering.index[:top]), len(entering) - top)
                    part = step_conversion_on(engine, by=col, as_text=True, exclude_days=days, fold=fold, **common)
            parts.append(part.rename(columns={col: "segment"}).assign(dimension=col))
        table = pd.concat(parts, ignore_index=True)
        table["segment"] = table["segment"].astype(object)
        out.append(table[["dimension", "segment", *[c for c in table.columns if c not in ("dimension", "segment")]]])
    return out


def _event_names(events, steps: Sequence[str]) -> set[str]:
    """Which of ``steps`` occur among the events' names (events: a DataFrame or an engine)."""
    if isinstance(events, pd.DataFrame):
        return set(pd.unique(events.loc[events["event_name"].isin(list(steps)), "event_name"].astype(object)))
    found = events.sql(f"SELECT DISTINCT event_name FROM events WHERE event_name IN {_in(list(steps))}",
                       scans={"events": None})
    return set(found["event_name"])


def data_range(ds) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last event time of the dataset (from its engine when the events stay there); NaT without events.

    Example
    -------
    >>> first, last = data_range(load("data/demo"))                       # doctest: +SKIP
    """
    engine = getattr(ds, "engine", None)
    if engine is None:
        times = ds.events["event_time"]
        return (times.min(), times.max()) if len(times) else (pd.NaT, pd.NaT)
    row = engine.sql("SELECT min(event_time) AS first, max(event_time) AS last FROM events").iloc[0]
    return pd.Timestamp(row["first"]), pd.Timestamp(row["last"])


def _fold(values: pd.Series, top: int) -> pd.Series:
    """Values outside the ``top`` most frequent become ``"__other__<n>"`` (n: how many values were folded)."""
    counts = values.value_counts()
    if len(counts) <= top + 1:
        return values
    tail = counts.index[top:]
    return values.where(~values.isin(tail), f"{OTHER}{len(tail)}")


def conversion_trend(events: pd.DataFrame, *, freq: str = "D", steps: Sequence[str] = STEPS,
                     unit: str = "session", window: pd.Timedelta | str | None = None, mode: str = "closed",
                     period: Period | None = None) -> pd.DataFrame:
    """Funnel per day (``freq="D"``) or ISO week (``"W"``, weeks start on Monday), by the day units entered.

    Returns the columns of :func:`step_conversion` with a leading ``date`` (the day, or the Monday of the
    week). The whole funnel's conversion is ``conversion_from_first`` of the last step; each step's is
    ``conversion_from_previous``. Days near the end of the data may be short of their window.

    Example
    -------
    >>> trend = conversion_trend(ds.events, freq="D")                                   # doctest: +SKIP
    >>> trend[trend["step"] == "purchase"][["date", "conversion_from_first"]]           # doctest: +SKIP
    """
    if freq not in FREQS:
        raise FunnelError(f"unknown frequency {freq!r}", option="freq", valid=FREQS)
    if not isinstance(events, pd.DataFrame):
        if freq != "D" or mode != "closed" or period is None:
            raise FunnelError("on a query engine the trend is daily, closed and for a period", option="freq",
                              valid=["D"])
        return step_conversion_on(events, steps=steps, unit=unit, window=window, period=period, by="date")
    day = events["event_time"].dt.floor("D")
    date = day if freq == "D" else day - pd.to_timedelta(day.dt.day_of_week, unit="D")
    return step_conversion(events.assign(date=date), steps=steps, unit=unit, window=window, mode=mode,
                           by="date", period=period)


def overall(table: pd.DataFrame) -> pd.DataFrame:
    """The ``"all"`` rows of a :func:`segment_conversion` table, without ``dimension``/``segment`` (one row per step)."""
    if "dimension" not in table.columns:
        return table.reset_index(drop=True)
    return table[table["dimension"] == ALL].drop(columns=["dimension", "segment"]).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------------------
# Comparison between two periods
# ---------------------------------------------------------------------------------------------------------
def _keys(table: pd.DataFrame) -> list[str]:
    return [c for c in table.columns if c not in METRICS and c != "step"]


def _transitions(table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Successes and trials per (segment, transition): step k−1 → k, plus first → last in a closed funnel."""
    steps = list(table["step"].cat.categories)
    n_steps = len(steps)
    table = table.sort_values([*keys, "step"], kind="stable")
    if len(table) % n_steps:
        raise FunnelError("the step table must have every step for every segment, as step_conversion returns it",
                          option="table")
    units = table["units"].to_numpy().reshape(-1, n_steps).astype(float)
    entered = table["entered"].to_numpy().reshape(-1, n_steps).astype(float)
    key_rows = table[keys].iloc[::n_steps].reset_index(drop=True)
    n_groups = len(key_rows)
    with np.errstate(divide="ignore", invalid="ignore"):
        completes = np.where(units > 0, units[:, [-1]] / units, np.nan)  # share of step-k units that complete
    parts = []
    for k in range(1, n_steps):  # a handful of steps
        parts.append(key_rows.assign(kind="step", from_step=steps[k - 1], to_step=steps[k], n=units[:, k - 1],
                                     x=units[:, k] - entered[:, k], downstream=completes[:, k]))
    closed = n_groups == 0 or not entered[:, 1:].any()
    if closed and n_steps > 2:  # with two steps the only step row is the whole funnel already
        parts.append(key_rows.assign(kind="overall", from_step=steps[0], to_step=steps[-1], n=units[:, 0],
                                     x=units[:, -1], downstream=1.0))
    return pd.concat(parts, ignore_index=True)


def minimum_detectable_effect(x1, n1, x2, n2, *, alpha=0.05, power: float = POWER) -> np.ndarray:
    """Smallest absolute change of a rate a two-sided two-proportion test detects with ``power`` at these volumes.

    ``(z[1 − alpha/2] + z[power]) · sqrt(p̄ (1 − p̄) (1/n1 + 1/n2))`` with the pooled rate p̄ = (x1 + x2) /
    (n1 + n2); NaN where a period has no units or p̄ is 0 or 1. ``alpha`` may be an array (one level per row).
    A fraction: 0.02 means ±2 percentage points.

    Example
    -------
    >>> round(float(minimum_detectable_effect([50], [100], [50], [100])[0]), 4)   # 2.8016 · sqrt(.25 · .02)
    0.1981
    """
    x1, n1, x2, n2 = (np.asarray(a, dtype=float) for a in (x1, n1, x2, n2))
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (x1 + x2) / (n1 + n2)
    return minimum_detectable_difference(pooled, n1, n2, alpha=alpha, power=power)


def compare_periods(current: pd.DataFrame, previous: pd.DataFrame, *, alpha: float = 0.05,
                    method: str = "holm") -> pd.DataFrame:
    """Test every step conversion (per segment) of this period against the comparison period.

    Parameters
    ----------
    current, previous : step tables of the two periods from :func:`step_conversion` or
        :func:`segment_conversion`, with the same steps and options.
    alpha : significance level applied to the adjusted p-values.
    method : multiple-comparison adjustment for :func:`ecomlib.stats.adjust_pvalues` (``holm`` controls the
        family-wise error rate over every tested row; ``fdr_bh`` the false-discovery rate).

    Returns
    -------
    DataFrame, one row per segment and transition: the segment columns (``dimension``, ``segment``, or the
    ``by`` columns), ``kind`` (``"step"`` for step k−1 → k; ``"overall"`` for first → last step, closed
    funnels of three steps or more), ``from_step``, ``to_step``, ``n_1``/``x_1`` (units at ``from_step`` and of those at
    ``to_step``, comparison period), ``n_2``/``x_2`` (the same, this period), ``rate_1``, ``rate_2``,
    ``diff`` (rate_2 − rate_1), ``ci_low``/``ci_high`` (95 % interval of the difference), ``z``,
    ``p_value``, ``family_size`` (how many tests its p-value is adjusted over: the step rows form one family,
    the whole-funnel rows another), ``p_adjusted`` (within its family), ``significant`` (p_adjusted < alpha),
    ``mde`` (the smallest change of the rate the test had an 80 % chance to detect at these volumes, at the
    family's strictest level alpha / family_size; see :func:`minimum_detectable_effect`) and
    ``completions_change``: the
    estimated change in units completing the funnel at this period's traffic,
    ``diff × n_2 × (units at the last step / units at to_step, this period)`` — negative means lost
    completions (for sessions ending in ``purchase``: orders). Rows are sorted significant first, then by
    strength of evidence (|z|), so the sharpest change comes first.

    Example
    -------
    >>> now = step_conversion(ev_now, by="device")          # doctest: +SKIP
    >>> before = step_conversion(ev_before, by="device")    # doctest: +SKIP
    >>> compare_periods(now, before).head(3)                # doctest: +SKIP
    """
    keys = _keys(current)
    if _keys(previous) != keys or list(current["step"].cat.categories) != list(previous["step"].cat.categories):
        raise FunnelError("the two step tables differ in steps or segment columns; compute both with the same "
                          "options", option="previous")
    on = [*keys, "kind", "from_step", "to_step"]
    before = _transitions(previous, keys).drop(columns="downstream")
    now = _transitions(current, keys)
    merged = before.merge(now, on=on, how="outer", suffixes=("_1", "_2"), sort=False)
    # Keep the current table's row order (segments that only exist before go last).
    merged = merged.fillna({c: 0.0 for c in ("n_1", "x_1", "n_2", "x_2")})
    test = two_proportion_test(merged["x_1"], merged["n_1"], merged["x_2"], merged["n_2"])
    out = pd.concat([merged[on + ["n_1", "x_1", "n_2", "x_2"]], test], axis=1)
    # Two families, each corrected on its own and named so on the page: the step conversions (every segment ×
    # transition) and the whole-funnel conversions (one per segment).
    out["family_size"] = 0
    out["p_adjusted"] = np.nan
    for kind in ("step", "overall"):  # two families
        rows = (out["kind"] == kind).to_numpy()
        out.loc[rows, "p_adjusted"] = adjust_pvalues(out.loc[rows, "p_value"].to_numpy(), method=method)
        out.loc[rows, "family_size"] = int(out.loc[rows, "p_value"].notna().sum())
    out["significant"] = out["p_adjusted"] < alpha
    out["mde"] = minimum_detectable_effect(merged["x_1"], merged["n_1"], merged["x_2"], merged["n_2"],
                                           alpha=alpha / out["family_size"].clip(lower=1).to_numpy())
    out["completions_change"] = out["diff"] * out["n_2"] * merged["downstream"]
    for c in ("n_1", "x_1", "n_2", "x_2"):
        out[c] = out[c].astype(np.int64)
    order = np.lexsort((-out["z"].abs().fillna(-1).to_numpy(), ~out["significant"].to_numpy()))
    return out.iloc[order].reset_index(drop=True)[[*keys, *COMPARISON_COLUMNS]]


# ---------------------------------------------------------------------------------------------------------
# Labels, sentences and headlines
# ---------------------------------------------------------------------------------------------------------
def _has(key: str) -> bool:
    return key in catalogue()


def step_label(step: str, msg: Messages) -> str:
    """Display name of a step: the catalogue's (``funnel.step.purchase`` → Purchase / 购买) or the event name itself."""
    key = f"funnel.step.{step}"
    return msg(key) if _has(key) else str(step)


def transition_label(from_step: str, to_step: str, msg: Messages) -> str:
    """``Checkout → Purchase`` / ``开始结账 → 购买``."""
    return msg("funnel.transition", start=step_label(from_step, msg), end=step_label(to_step, msg))


def dimension_label(dimension: str, msg: Messages) -> str:
    """Display name of a breakdown column (``device`` → Device / 设备); unknown columns as they are."""
    key = f"funnel.dim.{dimension}"
    return msg(key) if _has(key) else str(dimension)


def segment_label(dimension: str, value, msg: Messages) -> str:
    """Display name of a segment: codes of the data vocabulary through :func:`ecomlib.report.vocab` (``mobile`` →
    Mobile / 移动端, ``paid_search`` → 付费搜索); the folded tail as "Other (n)"; unknown values as ``Column = value``."""
    from .report import VOCAB_COLUMNS, vocab

    if dimension == ALL:
        return msg("funnel.value.all")
    if pd.isna(value):
        return msg("funnel.segment_generic", dimension=dimension_label(dimension, msg), value=msg("funnel.value.missing"))
    if isinstance(value, str) and value.startswith(OTHER):
        return msg("vocab.other_n", n=int(value[len(OTHER):]))
    if dimension in VOCAB_COLUMNS and f"vocab.{VOCAB_COLUMNS[dimension]}.{value}" in catalogue():
        return vocab(VOCAB_COLUMNS[dimension], value, msg)
    if dimension == "date":
        return msg.date(value)
    return msg("funnel.segment_generic", dimension=dimension_label(dimension, msg), value=str(value))


def _where(row: pd.Series, keys: list[str], msg: Messages) -> str:
    """Segment and transition of a comparison row, as a sentence fragment."""
    transition = transition_label(row["from_step"], row["to_step"], msg)
    if "dimension" in keys:
        parts = [] if row["dimension"] == ALL else [segment_label(row["dimension"], row["segment"], msg)]
    else:
        parts = [segment_label(k, row[k], msg) for k in keys]
    if not parts:
        return transition
    return msg("funnel.where", segment=" · ".join(parts), transition=transition)


def for_display(table: pd.DataFrame, msg: Messages) -> pd.DataFrame:
    """A step or comparison table with translated values: steps, dimensions, segments; adds ``transition``.

    Returns a new DataFrame; numbers are left as they are (format them with ``el.styled``).
    """
    out = table.copy()
    if "step" in out:
        out["step"] = [step_label(s, msg) for s in out["step"]]
    if "from_step" in out:
        out.insert(out.columns.get_loc("from_step"), "transition",
                   [transition_label(a, b, msg) for a, b in zip(table["from_step"], table["to_step"])])
        out = out.drop(columns=["from_step", "to_step"])
    if "kind" in out:
        out["kind"] = [msg(f"funnel.kind.{k}") for k in out["kind"]]
    if "segment" in out and "dimension" in out:
        out["segment"] = [segment_label(d, v, msg) for d, v in zip(table["dimension"], table["segment"])]
        out["dimension"] = [msg("funnel.value.all") if d == ALL else dimension_label(d, msg) for d in table["dimension"]]
    if "mde" in out:  # a size, not a direction: ±1.2 pp
        out["mde"] = [_points(x, msg) if pd.notna(x) else "–" for x in table["mde"]]
    for flag in ("significant", "reconciled"):
        if flag in out:
            out[flag] = [msg("funnel.yes") if s else msg("funnel.no") for s in table[flag]]
    return out


def _units_word(unit: str, msg: Messages) -> str:
    return msg(f"funnel.units_word.{unit}")


def _outcome(last: str, unit: str, msg: Messages) -> str:
    if last == "purchase" and unit == "session":
        return msg("funnel.outcome.orders")
    return msg("funnel.outcome.generic", units=_units_word(unit, msg), step=step_label(last, msg))


def _whole(changes: pd.DataFrame, steps: Sequence[str]) -> pd.DataFrame:
    """The comparison rows of the whole funnel (first → last step) for all units (none in an open funnel)."""
    rows = changes[_all_rows(changes) & (changes["from_step"] == steps[0]) & (changes["to_step"] == steps[-1])]
    return rows[rows["kind"] == ("step" if len(steps) == 2 else "overall")]


def _all_rows(changes: pd.DataFrame) -> pd.Series:
    if "dimension" in changes.columns:
        return changes["dimension"] == ALL
    return pd.Series(not _keys_of_changes(changes), index=changes.index)


def _keys_of_changes(changes: pd.DataFrame) -> list[str]:
    return [c for c in changes.columns if c not in COMPARISON_COLUMNS]


def significant_changes(changes: pd.DataFrame) -> pd.DataFrame:
    """The significant step changes (``kind == "step"``) of :func:`compare_periods`, sharpest first."""
    return changes[(changes["kind"] == "step") & changes["significant"]].reset_index(drop=True)


def change_sentences(changes: pd.DataFrame, *, msg: Messages, steps: Sequence[str] = STEPS, unit: str = "session",
                     top: int = 3, alpha: float = 0.05, method: str = "holm") -> list[str]:
    """Conclusions written from a :func:`compare_periods` table, in ``msg``'s language.

    1. The whole funnel for all units: how many entered, how many completed, against the comparison period
       (or an honest sentence when this period, or the comparison period, has no units). Closed funnels only.
       When the change is not significant, the smallest change the test could have detected (``mde``).
    2. Up to ``top`` significant step changes, sharpest first (the table's order) and one per transition
       (its sharpest segment: the change in the other segments is mostly the same change seen less
       sharply), each with before/after rates, the adjusted p-value and the estimated completions lost or
       gained at this period's traffic.
    3. With no significant step change: the range of changes the all-units tests could have detected.
    4. How many step conversions were tested, how many are significant, and the family the correction is over
       (the step conversions; the whole-funnel conversions are a family of their own).

    ``steps``, ``unit``, ``alpha`` and ``method`` must be those the table was computed with.

    Example
    -------
    >>> change_sentences(compare_periods(now, before), msg=Messages("en"))[1]          # doctest: +SKIP
    'Mobile: Checkout → Purchase conversion fell from 60.1% to 43.8% (p < 0.001) — about 160 orders lost ...'
    """
    steps = list(steps)
    first, last = steps[0], steps[-1]
    keys = _keys_of_changes(changes)
    units = _units_word(unit, msg)
    out: list[str] = []
    whole = _whole(changes, steps)
    tested = changes[(changes["kind"] == "step") & changes["p_value"].notna()]
    if len(whole):
        row = whole.iloc[0]
        fields = dict(n=row["n_2"], units=units, first=step_label(first, msg), last=step_label(last, msg),
                      rate=row["rate_2"], x=row["x_2"])
        if row["n_2"] == 0:
            return [msg("funnel.s.empty", units=msg(f"funnel.units_bare.{unit}"), first=step_label(first, msg))]
        if row["n_1"] == 0:
            out.append(msg("funnel.s.overall_no_compare", **fields))
        elif row["significant"] or pd.isna(row["mde"]):
            out.append(msg("funnel.s.overall", before=row["rate_1"], p=row["p_adjusted"], **fields))
        else:
            out.append(msg("funnel.s.overall_not_significant", before=row["rate_1"], p=row["p_adjusted"],
                           mde=_points(row["mde"], msg), **fields))
    elif len(changes) == 0 or changes["n_2"].sum() == 0:
        return [msg("funnel.s.empty", units=msg(f"funnel.units_bare.{unit}"), first=step_label(first, msg))]
    sig = significant_changes(changes)
    for _, row in sig.drop_duplicates(["from_step", "to_step"]).head(top).iterrows():  # at most `top` sentences
        key = "funnel.s.change_fell" if row["diff"] < 0 else "funnel.s.change_rose"
        out.append(msg(key, where=_where(row, keys, msg), before=row["rate_1"], after=row["rate_2"],
                       p=row["p_adjusted"], n=abs(row["completions_change"]), outcome=_outcome(last, unit, msg)))
    if len(tested) and not len(sig):
        mde = tested.loc[_all_rows(tested), "mde"].dropna()
        if len(mde):
            lo, hi = _points(mde.min(), msg), _points(mde.max(), msg)
            out.append(msg("funnel.s.no_significant_mde" if lo != hi else "funnel.s.no_significant_mde_one",
                           alpha=alpha, lo=lo, hi=hi, units=msg(f"funnel.units_bare.{unit}")))
        else:
            out.append(msg("funnel.s.no_significant", alpha=alpha))
    if len(tested):
        n_whole = int(changes.loc[changes["kind"] == "overall", "p_value"].notna().sum())
        key = "funnel.s.tests_note_whole" if n_whole > 1 else "funnel.s.tests_note"
        out.append(msg(key, n=len(tested), m=len(sig), alpha=alpha, method=METHOD_NAMES.get(method, method),
                       k=n_whole))
    return out


def _points(x: float, msg: Messages) -> str:
    """An unsigned size of change in percentage points: ``±1.2 pp`` / ``±1.2个百分点``."""
    return f"±{msg.num(100 * abs(x), 1)}{msg.text('common.pp_unit')}"


def period_totals(events: pd.DataFrame, *, period: Period, unit: str = "session") -> dict[str, int]:
    """Units with any event in ``period`` (sessions or users, every event name counts): ``{"units": int}``."""
    check_option("unit", unit, UNIT_COLUMNS)
    return {"units": _event_totals(events, period=period, unit=unit)["units"]}


def _event_totals(events, *, period: Period, unit: str) -> dict[str, int]:
    """Units with any event in ``period`` and sessions with a purchase event in it (events: DataFrame or engine)."""
    if isinstance(events, pd.DataFrame):
        in_period = events.loc[period.contains(events["event_time"])]
        return {"units": int(in_period[UNIT_COLUMNS[unit]].nunique()),
                "purchases": int(in_period.loc[in_period["event_name"] == "purchase", "session_id"].nunique())}
    where = f"event_time >= {_lit(period.start)} AND event_time < {_lit(period.end)}"
    row = events.sql(f"SELECT count(DISTINCT {UNIT_COLUMNS[unit]}) AS units, count(DISTINCT CASE WHEN event_name = "
                     f"'purchase' THEN session_id END) AS purchases FROM events WHERE {where}",
                     scans={"events": where}).iloc[0]
    return {"units": int(row["units"]), "purchases": int(row["purchases"])}


def revenue_summary(events: pd.DataFrame, orders: pd.DataFrame, *, period: Period, unit: str = "session",
                    tolerance: float = 0.05, order_items: pd.DataFrame | None = None,
                    products: pd.DataFrame | None = None) -> dict[str, float | int | bool | None]:
    """The period's money from the orders table, and whether the events and the orders describe the same visits.

    Revenue is :func:`ecomlib.contract.order_revenue` on the gross basis without pending orders (orders
    still pending at the period's end may yet be cancelled; leaving them out of every period compares like
    with like). The events reconcile with the orders when the sessions with a ``purchase`` event in the
    period and the orders placed in it (every status: a cancelled order was a purchase too) differ by at most
    ``tolerance`` (a fraction of the orders). Only then is ``revenue_per_unit`` (order revenue / units with
    any event) computed; otherwise it is None: funnel counts come from the events, money from the orders.

    Returns a dict: ``units``, ``purchases`` (sessions with a purchase event), ``orders_placed``,
    ``difference`` (purchases / orders_placed − 1; None without orders), ``reconciled``, ``orders``
    (counted), ``pending_orders`` (left out), ``revenue``, ``aov`` (revenue / counted orders; None without
    any), ``margin`` (1 − cost / sales of the counted orders' lines when ``order_items`` and ``products`` are
    given, else None) and ``revenue_per_unit``. Money in the store currency.

    Example
    -------
    >>> ev = pd.DataFrame({"event_time": pd.to_datetime(["2026-11-17 10:00", "2026-11-17 10:05"]),
    ...                    "session_id": ["s1", "s2"], "event_name": ["purchase", "view_item"]})
    >>> od = pd.DataFrame({"order_id": ["o1"], "order_time": pd.to_datetime(["2026-11-17 10:00"]),
    ...                    "status": ["completed"], "revenue": [90.0]})
    >>> summary = revenue_summary(ev, od, period=parse_period("2026-W47"))
    >>> summary["reconciled"], summary["revenue_per_unit"]
    (True, 45.0)
    """
    from .contract import order_revenue

    check_option("unit", unit, UNIT_COLUMNS)
    totals = _event_totals(events, period=period, unit=unit)
    units, purchases = totals["units"], totals["purchases"]
    placed = orders.loc[period.contains(orders["order_time"])]
    counted = order_revenue(placed, basis="gross", pending=False)
    revenue = float(counted["revenue"].sum())
    difference = purchases / len(placed) - 1 if len(placed) else None
    reconciled = difference is not None and abs(difference) <= tolerance + 1e-12  # 19 of 20 is 5 % apart
    margin = None
    if order_items is not None and products is not None and len(counted):
        lines = order_items[isin(order_items["order_id"], counted["order_id"])]
        cost = lines["sku"].map(products.set_index("sku")["unit_cost"])
        sales = float((lines["quantity"] * lines["unit_price"]).sum())
        if sales > 0 and cost.notna().all():
            margin = 1 - float((lines["quantity"] * cost).sum()) / sales
    return {"units": units, "purchases": purchases, "orders_placed": int(len(placed)), "difference": difference,
            "reconciled": bool(reconciled), "orders": int(len(counted)),
            "pending_orders": int((placed["status"] == "pending").sum()), "revenue": revenue,
            "aov": revenue / len(counted) if len(counted) else None, "margin": margin,
            "revenue_per_unit": revenue / units if reconciled and units else None}


# ---------------------------------------------------------------------------------------------------------
# The review interface: load, compute, compare, headlines, findings, sentences
# ---------------------------------------------------------------------------------------------------------
def load(data_dir, **kwargs) -> Dataset:
    """The tables of the funnel review (:data:`ecomlib.contract.REVIEW_TABLES`): ``events``; ``orders`` and
    ``promotions`` when present (and ``order_items``/``products`` when the contract lists them, for margins).

    ``engine="duckdb"`` or ``"spark"`` (or ``"auto"`` on a large store) leaves the events in the engine: the
    funnel is computed there and only its step tables come into pandas (:func:`step_conversion_on`)."""
    from .review import load_tables

    return load_tables(data_dir, NAME, **kwargs)


def promotion_days(promotions: pd.DataFrame | None, period: Period) -> pd.DataFrame:
    """The promotion days that fall in ``period``: one row per day with ``date`` and ``name`` (the promotion's).

    ``promotions``: contract ``promotions`` (``name``, ``start_date``, ``end_date``, inclusive); None or empty
    means none.

    Example
    -------
    >>> promos = pd.DataFrame({"name": ["双11"], "start_date": pd.to_datetime(["2026-11-11"]),
    ...                        "end_date": pd.to_datetime(["2026-11-12"])})
    >>> promotion_days(promos, parse_period("2026-W46"))["date"].dt.day.tolist()
    [11, 12]
    """
    empty = pd.DataFrame({"date": pd.Series([], dtype="datetime64[ns]"), "name": pd.Series([], dtype=object)})
    if promotions is None or not len(promotions):
        return empty
    first = promotions["start_date"].dt.normalize().clip(lower=period.start)
    last = promotions["end_date"].dt.normalize().clip(upper=period.last_day)
    keep = first <= last
    if not keep.any():
        return empty
    n_days = ((last[keep] - first[keep]).dt.days + 1).to_numpy()
    days = np.repeat(first[keep].to_numpy(), n_days) + pd.to_timedelta(
        np.concatenate([np.arange(n) for n in n_days]), unit="D").to_numpy()
    names = np.repeat(promotions.loc[keep, "name"].astype(str).to_numpy(), n_days)
    out = pd.DataFrame({"date": days, "name": names}).groupby("date", as_index=False).agg(name=("name", " / ".join))
    return out


def compute(ds: Dataset, period: Period, *, steps: Sequence[str] = STEPS, unit: str = "session",
            window: pd.Timedelta | str | None = None, mode: str = "closed",
            breakdowns: str | Sequence[str] = ("device", "channel"), alpha: float = 0.05, method: str = "holm",
            exclude_promotions: bool = True, tolerance: float = 0.05, top: int = 12,
            trend_days: int = 112) -> Result:
    """Everything the funnel page shows for one period, as known at its end.

    Parameters
    ----------
    ds : a :class:`~ecomlib.dataset.Dataset` from :func:`load` (``events``; ``orders``, ``promotions``,
        ``order_items`` and ``products`` are used when present).
    period : the period; units count when they enter the funnel in it.
    steps, unit, window, mode : the funnel (see :func:`step_conversion`).
    breakdowns : events columns (and ``"customer_type"``, which needs orders) to break the funnel down by;
        a column with one value only in the period is left out (the page says so).
    alpha, method : significance level and multiple-comparison adjustment of :func:`compare`.
    exclude_promotions : test conversion changes without the units that entered on promotion days (the
        ``promotions`` table) of either period; :func:`compare` also shows the tests with them.
    tolerance : how far (a fraction) the events' purchases may be from the orders placed for the two to
        count as one source (revenue per session is shown only then).
    top : breakdown values beyond the ``top`` largest are folded into one "Other (n)" segment.
    trend_days : the daily trend covers the days up to the period's end, at most this many.

    Returns
    -------
    :class:`~ecomlib.review.Result` with tables ``segments`` (:func:`segment_conversion`, every unit entering
    in the period), ``segments_regular`` (the same without units entering on promotion days; the same table
    when there are none), ``steps`` (the all-units rows), ``trend`` (:func:`conversion_trend`, daily),
    ``promotion_days`` (:func:`promotion_days`) and ``revenue`` (one row of :func:`revenue_summary`); values
    ``units``, ``entered``, ``entered_regular``, ``completions``, ``conversion`` and those of
    :func:`revenue_summary`; ``gaps`` for the sections that cannot be computed (see :data:`MINIMUM_DATA`).
    """
    from .review import Gap

    check_option("unit", unit, UNIT_COLUMNS)
    check_option("mode", mode, MODES)
    check_option("method", method, METHOD_NAMES)
    window = _window(unit, window)
    steps = list(steps)
    engine = getattr(ds, "engine", None)
    events, orders = (ds.events if engine is None else engine), ds.orders
    has_orders = orders is not None
    if engine is not None and mode != "closed":
        raise FunnelError("the open funnel runs on the pandas engine only; use mode='closed' or engine='pandas'",
                          option="mode", valid=["closed"])
    promos = promotion_days(ds.promotions, period)
    res = Result(review=NAME, period=period, notes={
        "steps": steps, "unit": unit, "mode": mode, "window": window, "alpha": alpha, "method": method,
        "exclude_promotions": exclude_promotions, "tolerance": tolerance, "single_valued": {}, "dropped": []})
    res.tables["promotion_days"] = promos
    wanted = _as_list(breakdowns)
    event_columns = engine.columns("events") if engine is not None else events.columns
    usable = [c for c in wanted if c in event_columns or (c == CUSTOMER_TYPE and has_orders)]
    res.notes["dropped"] = [c for c in wanted if c not in usable]
    absent = [s for s in steps if s not in _event_names(events, steps)]
    totals = period_totals(events, period=period, unit=unit)
    if absent or len(steps) < 2:
        empty = _aggregate(_Paths(np.zeros((0, len(steps)), bool), np.zeros((0, len(steps)), bool),
                                  np.zeros((0, len(steps)), np.int64), np.zeros(0, np.int64)), None, steps)
        all_days = regular = empty.assign(dimension=ALL, segment=ALL)[["dimension", "segment", *empty.columns]]
    else:
        all_days, regular = _segment_tables(events, breakdowns=usable, orders=orders, steps=steps, unit=unit,
                                            window=window, mode=mode, period=period, top=top,
                                            exclude_days=(None, list(promos["date"]) if len(promos) else None))
    # a breakdown with one value only says nothing the "all" rows do not: leave it out, say so on the page
    first = all_days[(all_days["step"] == steps[0]) & (all_days["dimension"] != ALL)]
    n_values = first.groupby("dimension", sort=False)["segment"].agg(lambda v: list(v.dropna()))
    single = {d: v for d, v in n_values.items() if len(v) < 2}
    res.notes["single_valued"] = {d: ", ".join(map(str, v)) for d, v in single.items()}
    all_days = all_days[~all_days["dimension"].isin(list(single))].reset_index(drop=True)
    regular = regular[~regular["dimension"].isin(list(single))].reset_index(drop=True)
    res.tables.update(segments=all_days, segments_regular=regular, steps=overall(all_days))
    entered = int(overall(all_days)["units"].iloc[0]) if len(all_days) else 0
    completions = int(overall(all_days)["units"].iloc[-1]) if len(all_days) else 0
    res.values.update(units=totals["units"], entered=entered, completions=completions,
                      entered_regular=int(overall(regular)["units"].iloc[0]) if len(regular) else 0,
                      conversion=completions / totals["units"] if totals["units"] else None,
                      promotion_days=len(promos))
    if absent:
        res.gaps["funnel"] = Gap("funnel.gap.steps_absent", {"steps": ", ".join(absent)})
    elif entered == 0:
        res.gaps["funnel"] = Gap("funnel.gap.no_units", {})
    if "funnel" in res.gaps:
        res.gaps["segments"] = res.gaps["funnel"]
    elif not (all_days["dimension"] != ALL).any():
        res.gaps["segments"] = Gap("funnel.gap.one_segment", {
            "columns": ", ".join(wanted) or "–",
            "values": "; ".join(f"{d}: {v}" for d, v in res.notes["single_valued"].items()) or "–"})
    # daily trend, up to the period's end
    first, _ = data_range(ds)
    trend_start = max(period.end - pd.Timedelta(days=trend_days), first.normalize()) if pd.notna(first) \
        else period.start
    if absent or pd.isna(first) or trend_start >= period.end:
        trend = pd.DataFrame(columns=["date", "step"])
    else:
        trend = conversion_trend(events, freq="D", steps=steps, unit=unit, window=window, mode=mode,
                                 period=Period(trend_start, period.end))
    res.tables["trend"] = trend
    n_days = trend["date"].nunique() if len(trend) else 0
    if n_days < MIN_TREND_DAYS:
        res.gaps["trend"] = Gap("funnel.gap.short_trend", {"days": n_days, "needed": MIN_TREND_DAYS})
    # money, from the orders table only
    if not has_orders:
        res.gaps["revenue"] = Gap("funnel.gap.no_orders", {})
        res.gaps["revenue_per_unit"] = res.gaps["revenue"]
    else:
        summary = revenue_summary(events, orders, period=period, unit=unit, tolerance=tolerance,
                                  order_items=getattr(ds, "order_items", None), products=getattr(ds, "products", None))
        res.values.update({k: v for k, v in summary.items() if k != "units"})
        res.tables["revenue"] = pd.DataFrame([summary]).assign(tolerance=tolerance)
        if summary["difference"] is None:
            res.gaps["revenue_per_unit"] = Gap("funnel.gap.no_orders_in_period", {"purchases": summary["purchases"]})
        elif not summary["reconciled"]:
            res.gaps["revenue_per_unit"] = Gap("funnel.gap.not_reconciled", {
                "purchases": summary["purchases"], "orders": summary["orders_placed"],
                "difference": abs(summary["difference"]), "tolerance": tolerance})
    return res


def compare(now: Result, before: Result) -> Result:
    """Test every step conversion of ``now`` against ``before`` (two :func:`compute` results, same options).

    Without promotion days in either period the tests run on every unit. With them, and ``exclude_promotions``
    (the default), they run without the units that entered on promotion days (``changes``) and, for the page's
    second look, with them (``changes_other``); with ``exclude_promotions=False`` the other way round.
    Each is :func:`compare_periods`: the step conversions are one family, the whole-funnel conversions
    another, each corrected on its own.

    Returns a :class:`~ecomlib.review.Result` with tables ``changes`` (and ``changes_other`` when promotion
    days are involved), values ``tested`` (step conversions tested), ``significant``, ``significant_other``,
    and a gap ``changes`` when either period has fewer than :data:`MIN_UNITS` units entering the funnel
    (or none at all: no comparison period in the data).
    """
    cached = now.notes.get("_compared")  # headlines, findings and sentences each ask; compute once per pair
    if cached is not None and cached[0] is before:
        return cached[1]
    out = _compare(now, before)
    now.notes["_compared"] = (before, out)
    return out


def _compare(now: Result, before: Result) -> Result:
    from .review import Gap

    notes = {k: v for k, v in now.notes.items() if k != "_compared"}
    out = Result(review=NAME, period=now.period, notes={"comparison": before.period, **notes})
    exclude = notes["exclude_promotions"]
    promo = len(now.promotion_days) + len(before.promotion_days) > 0
    key, other = ("segments_regular", "segments") if exclude else ("segments", "segments_regular")
    n_now, n_before = (r.values["entered_regular" if exclude else "entered"] for r in (now, before))
    if before.values["entered"] == 0 and "funnel" not in now.gaps:
        out.gaps["changes"] = Gap("funnel.gap.no_comparison", {"start": before.period.start,
                                                               "end": before.period.last_day})
    elif min(n_now, n_before) < MIN_UNITS:
        out.gaps["changes"] = Gap("funnel.gap.too_few_units", {"now": n_now, "before": n_before, "needed": MIN_UNITS})
    if "changes" in out.gaps:
        return out
    options = dict(alpha=notes["alpha"], method=notes["method"])
    changes = compare_periods(getattr(now, key), getattr(before, key), **options)
    out.tables["changes"] = changes
    out.values.update(tested=int(changes.loc[changes["kind"] == "step", "p_value"].notna().sum()),
                      significant=int(len(significant_changes(changes))), promotions=promo)
    if promo:
        changes_other = compare_periods(getattr(now, other), getattr(before, other), **options)
        out.tables["changes_other"] = changes_other
        out.values["significant_other"] = int(len(significant_changes(changes_other)))
    else:
        out.gaps["changes_other"] = Gap("funnel.gap.no_promotions", {})
    return out


def largest_changes(changes: pd.DataFrame, *, top: int = 12) -> pd.DataFrame:
    """The ``top`` step rows of a :func:`compare_periods` table (significant first, then by |z|), the columns a
    reader needs: segment, transition, units now, rates, change, adjusted p, the minimum detectable change and
    the completions gained or lost (the intervals are on :func:`plot_changes`; all columns in ``changes``)."""
    columns = [*_keys_of_changes(changes), "from_step", "to_step", "n_2", "rate_1", "rate_2", "diff", "p_adjusted",
               "significant", "mde", "completions_change"]  # the intervals are on the chart above it
    return changes.loc[changes["kind"] == "step", columns].head(top).reset_index(drop=True)


def revenue_table(result: Result) -> pd.DataFrame:
    """One row: the events' purchases against the orders placed (difference, tolerance, reconciled) and the
    period's orders, pending orders left out, revenue, average order value, margin and revenue per unit."""
    columns = ["purchases", "orders_placed", "difference", "tolerance", "reconciled", "orders", "pending_orders",
               "revenue", "aov", "margin", "revenue_per_unit"]
    return result.tables["revenue"][columns]


def _promo_text(result: Result, msg: Messages) -> str:
    days = result.promotion_days
    return ", ".join(f"{name} ({msg.date(d)})" for d, name in zip(days["date"], days["name"]))


def _promo_note(now: Result, before: Result, msg: Messages) -> str | None:
    """"promotion day in the comparison period: 双11 (Nov 11, 2026)" — next to the numbers they affect."""
    parts = [msg(f"funnel.promo.{which}", days=_promo_text(r, msg))
             for which, r in (("now", now), ("before", before)) if len(r.promotion_days)]
    return "; ".join(parts) if parts else None


def headlines(now: Result, before: Result, msg: Messages) -> list[Headline]:
    """The review's headline numbers, each computed the same way for both periods.

    ``units`` (sessions or users with any event, :func:`period_totals`), ``completions`` (units reaching the
    last step, :func:`segment_conversion`), ``conversion`` (completions / units), ``revenue_per_unit`` (only
    when the events reconcile with the orders in both periods, :func:`revenue_summary`), ``average_order_value``
    (gross, without pending orders, from the orders alone) and ``worst_change``: the rate after the sharpest
    significant fall of a step conversion in :func:`compare` (previous: its rate before; None when nothing fell
    significantly). Counts of units include promotion days; the labels name them when either period has some.
    """
    unit, steps = now.notes["unit"], now.notes["steps"]
    unit_name = msg(f"funnel.unit.{unit}")
    promo = _promo_note(now, before, msg)

    def label(text: str) -> str:
        return text if promo is None else msg("funnel.h.with_promo", label=text, note=promo)

    cmp = compare(now, before)
    worst = None
    if cmp.has("changes"):
        fell = significant_changes(cmp.changes)
        fell = fell[fell["diff"] < 0]
        worst = fell.iloc[0] if len(fell) else None
    worst_label = (msg("funnel.h.worst_change", where=_where(worst, _keys_of_changes(cmp.changes), msg))
                   if worst is not None else msg("funnel.h.worst_change_none"))
    out = [
        Headline("units", label(unit_name), now.values["units"], _HEADLINE_UNIT["units"],
                 previous=before.values["units"], good="up", source="ecomlib.funnel.period_totals"),
        Headline("completions", label(msg("funnel.h.completions", units=unit_name, step=step_label(steps[-1], msg))),
                 now.values["completions"], _HEADLINE_UNIT["units"], previous=before.values["completions"],
                 good="up", source="ecomlib.funnel.segment_conversion"),
        Headline("conversion", label(msg("funnel.h.conversion", unit=msg(f"funnel.unit_cap.{unit}"),
                                         step=step_label(steps[-1], msg))),
                 now.values["conversion"], _HEADLINE_UNIT["conversion_from_first"],
                 previous=before.values["conversion"], good="up", source="ecomlib.funnel.segment_conversion"),
    ]
    if now.value("revenue_per_unit") is not None and before.value("revenue_per_unit") is not None:
        out.append(Headline("revenue_per_unit", msg("funnel.h.revenue_per_unit", unit=msg(f"funnel.unit_one.{unit}")),
                            now.values["revenue_per_unit"], _HEADLINE_UNIT["revenue_per_unit"],
                            previous=before.values["revenue_per_unit"], good="up",
                            source="ecomlib.funnel.revenue_summary"))
    if now.has("revenue"):
        out.append(Headline("average_order_value", msg("funnel.h.aov"), now.value("aov"), _HEADLINE_UNIT["aov"],
                            previous=before.value("aov"), good="up", source="ecomlib.funnel.revenue_summary"))
    out.append(Headline("worst_change", worst_label, None if worst is None else float(worst["rate_2"]),
                        _HEADLINE_UNIT["rate_2"], previous=None if worst is None else float(worst["rate_1"]),
                        good="up", source="ecomlib.funnel.compare_periods"))
    return out


def _money(now: Result, orders_lost: float) -> tuple[float | None, str]:
    """Orders lost as money: × the period's average order value, × its margin when known; and the basis said."""
    aov, margin = now.value("aov"), now.value("margin")
    if aov is None or not np.isfinite(orders_lost):
        return None, "none"
    if margin is not None:
        return float(orders_lost * aov * margin), "margin"
    return float(orders_lost * aov), "revenue"


def findings(now: Result, before: Result, msg: Messages) -> list[Finding]:
    """The review's conclusions as structured findings, for the index's "This week" list.

    - ``conversion_fell.<dimension>.<segment>.<from>.<to>``: a significant fall of a step conversion (one per
      transition, its sharpest segment, as :func:`sentences` says it), ``confidence="significant"``
      (Holm over the step family the sentence names). Money at stake: the orders lost at this period's traffic
      (``completions_change``, session funnels ending in ``purchase``) × the period's average order value
      (gross, without pending orders) × the gross margin of the period's order lines when ``order_items`` and
      ``products`` are loaded — else as revenue (``numbers["money_basis"]`` says which). When the events are a
      sample of the visits (they do not reconcile with the orders) this is a lower bound. Severity ``high``
      when the loss is at least 5 % of the period's completions, ``medium`` otherwise.
    - ``conversion_rose....``: a significant rise, severity ``low``.
    - ``whole_funnel``: the whole funnel's change for all units, with the minimum detectable effect when it
      is not significant (``not_significant``, severity ``info``).
    - ``not_reconciled``: the events and the orders disagree (``descriptive``, ``info``).
    """
    from .review import Finding

    out: list[Finding] = []
    unit, steps = now.notes["unit"], now.notes["steps"]
    cmp = compare(now, before)
    texts = sentences(now, before, msg)
    if cmp.has("changes"):
        changes = cmp.changes
        keys = _keys_of_changes(changes)
        orders_out = steps[-1] == "purchase" and unit == "session"
        completions = max(now.values["completions"], 1)
        sig = significant_changes(changes).drop_duplicates(["from_step", "to_step"]).head(3)
        for _, row in sig.iterrows():  # at most three
            lost = -float(row["completions_change"])
            fell = row["diff"] < 0
            money, basis = _money(now, lost) if (fell and orders_out) else (None, "none")
            key = "fell" if fell else "rose"
            text = msg(f"funnel.s.change_{key}", where=_where(row, keys, msg), before=row["rate_1"],
                       after=row["rate_2"], p=row["p_adjusted"], n=abs(row["completions_change"]),
                       outcome=_outcome(steps[-1], unit, msg))
            if money is not None:
                text += " " + msg(f"funnel.f.money_{basis}", money=money, aov=now.value("aov"),
                                  margin=now.value("margin"))
            out.append(Finding(
                review=NAME, key=f"conversion_{key}.{row.get('dimension', '')}.{row.get('segment', '')}."
                                 f"{row['from_step']}.{row['to_step']}",
                text=text, numbers={"rate_before": row["rate_1"], "rate_now": row["rate_2"], "diff": row["diff"],
                                    "p_adjusted": row["p_adjusted"], "family_size": row["family_size"],
                                    "completions_change": row["completions_change"], "aov": now.value("aov"),
                                    "margin": now.value("margin"), "money_basis": basis},
                money=money, severity=("high" if lost >= 0.05 * completions else "medium") if fell else "low",
                confidence="significant", anchor="sec-changes", source="ecomlib.funnel.compare_periods"))
        whole = _whole(changes, steps)
        if len(whole) and not whole["significant"].iloc[0]:
            out.append(Finding(review=NAME, key="whole_funnel", text=texts[0],
                               numbers={"rate_before": whole["rate_1"].iloc[0], "rate_now": whole["rate_2"].iloc[0],
                                        "p_adjusted": whole["p_adjusted"].iloc[0], "mde": whole["mde"].iloc[0]},
                               severity="info", confidence="not_significant", anchor="sec-changes",
                               source="ecomlib.funnel.compare_periods"))
    if now.has("revenue") and not now.has("revenue_per_unit"):
        out.append(Finding(review=NAME, key="not_reconciled", text=now.gaps["revenue_per_unit"].text(msg),
                           numbers={"purchases": now.value("purchases"), "orders_placed": now.value("orders_placed"),
                                    "difference": now.value("difference")},
                           severity="info", confidence="descriptive", anchor="sec-revenue",
                           source="ecomlib.funnel.revenue_summary"))
    return out


def sentences(now: Result, before: Result, msg: Messages) -> list[str]:
    """The page's conclusions, read from the two results and their :func:`compare` tables.

    The change sentences of :func:`change_sentences` (or the sentence saying why there is no comparison), the
    promotion days and how the tests treat them, and where the money comes from (revenue basis, pending
    orders, whether events and orders reconcile).
    """
    notes = now.notes
    unit, steps = notes["unit"], notes["steps"]
    if "funnel" in now.gaps:
        out = [now.gaps["funnel"].text(msg)]
    else:
        cmp = compare(now, before)
        if cmp.has("changes"):
            out = change_sentences(cmp.changes, msg=msg, steps=steps, unit=unit, alpha=notes["alpha"],
                                   method=notes["method"])
            if cmp.values["promotions"]:
                which = "both" if len(now.promotion_days) and len(before.promotion_days) else \
                    ("now" if len(now.promotion_days) else "before")
                days = "; ".join(t for t in (_promo_text(now, msg), _promo_text(before, msg)) if t)
                key = "excluded" if notes["exclude_promotions"] else "included"
                out.append(msg(f"funnel.s.promotions_{key}", where=msg(f"funnel.promo.where_{which}"), days=days,
                               m=cmp.values["significant"], m_other=cmp.values["significant_other"]))
        else:  # the period's funnel, then why there is no comparison (said once)
            fields = dict(n=now.values["entered"], units=_units_word(unit, msg), first=step_label(steps[0], msg),
                          last=step_label(steps[-1], msg), x=now.values["completions"],
                          rate=now.values["completions"] / now.values["entered"])
            if cmp.gaps["changes"].message == "funnel.gap.no_comparison":
                out = [msg("funnel.s.overall_no_compare", **fields)]
            else:
                out = [msg("funnel.s.overall_only", **fields), cmp.gaps["changes"].text(msg)]
    if now.has("revenue"):
        if now.value("aov") is not None:
            key = "funnel.s.aov" if before.value("aov") is not None else "funnel.s.aov_only"
            out.append(msg(key, aov=now.value("aov"), orders=now.value("orders"),
                           pending=now.value("pending_orders"), before=before.value("aov")))
        if not now.has("revenue_per_unit"):
            out.append(now.gaps["revenue_per_unit"].text(msg))
    return out


def formats(table: pd.DataFrame) -> dict[str, str]:
    """The display format of each column of ``table`` that :data:`UNITS` declares (for ``el.styled``)."""
    def numeric(col: pd.Series) -> bool:  # columns for_display turned into text keep their text
        return pd.api.types.is_numeric_dtype(col) or pd.api.types.is_datetime64_any_dtype(col)

    return {c: UNITS[c] for c in table.columns if c in UNITS and numeric(table[c])}


def minimum_data(msg: Messages) -> pd.DataFrame:
    """:data:`MINIMUM_DATA` in the page's language: one row per section (``section``, ``rule``)."""
    return pd.DataFrame({"section": [msg(f"funnel.sec.{s}") for s in MINIMUM_DATA],
                         "rule": [msg(f"funnel.min.{s}", units=MIN_UNITS, days=MIN_TREND_DAYS) for s in MINIMUM_DATA]})


# ---------------------------------------------------------------------------------------------------------
# Plots (seaborn style: data, column names, ax; return the Axes)
# ---------------------------------------------------------------------------------------------------------
def _msg(msg: Messages | None) -> Messages:
    return msg if msg is not None else Messages("en")


def plot_funnel(data: pd.DataFrame, *, x: str = "units", y: str = "step", previous: pd.DataFrame | None = None,
                ax: Axes | None = None, msg: Messages | None = None, **kwargs) -> Axes:
    """Centred horizontal bars of units per step, labelled with the count and the conversion from the previous step.

    ``data``: one row per step (:func:`step_conversion` without ``by``, or :func:`overall`). ``previous``: the
    same for the comparison period, drawn as outlines. ``kwargs`` go to ``Axes.barh``.
    """
    msg = _msg(msg)
    if ax is None:
        ax = plt.gca()
    labels = [step_label(s, msg) for s in data[y]]
    pos = np.arange(len(data))[::-1]
    values = data[x].to_numpy(dtype=float)
    width = np.nanmax(values) if len(values) and np.nanmax(values) > 0 else 1.0
    if previous is not None:
        pv = previous[x].to_numpy(dtype=float)
        width = max(width, np.nanmax(pv) if len(pv) else 0.0)
        ax.barh(pos, pv, left=(width - pv) / 2, height=0.7, fill=False, edgecolor="0.4", linestyle="--",
                label=msg("funnel.legend.previous"))
    ax.barh(pos, values, left=(width - values) / 2, height=0.7, color=kwargs.pop("color", "C0"),
            label=msg("funnel.legend.current"), **kwargs)
    rates = data["conversion_from_previous"].to_numpy() if "conversion_from_previous" in data else [np.nan] * len(data)
    for p, v, r in zip(pos, values, rates):
        text = msg.int(v) if np.isnan(r) else f"{msg.int(v)} ({msg.pct(r)})"
        ax.text(width / 2, p, text, ha="center", va="center", fontsize=10, color="black",
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.8})
    ax.set_yticks(pos, labels)
    ax.set_xticks([])
    ax.set_xlabel(msg("funnel.axis.units"))
    ax.set_title(msg("funnel.plot.funnel_title"))
    ax.grid(False)
    if previous is not None:
        ax.legend(loc="lower right", frameon=False)
    return ax


def plot_heatmap(data: pd.DataFrame, *, value: str = "conversion_from_previous", ax: Axes | None = None,
                 msg: Messages | None = None, **kwargs) -> Axes:
    """Step conversion by segment: rows are segments, columns transitions (and the whole funnel).

    ``data``: a :func:`segment_conversion` table. Cells show the conversion; colours show it relative to all
    units (red: below, green: above), so a weak segment stands out whatever the step's usual level.
    ``kwargs`` go to ``seaborn.heatmap``.
    """
    import seaborn as sns

    msg = _msg(msg)
    if ax is None:
        ax = plt.gca()
    steps = list(data["step"].cat.categories)
    rows = data.drop_duplicates(["dimension", "segment"])[["dimension", "segment"]]
    row_labels = [segment_label(d, s, msg) if d == ALL else f"{dimension_label(d, msg)} · {segment_label(d, s, msg)}"
                  for d, s in zip(rows["dimension"], rows["segment"])]
    grid = data[value].to_numpy(dtype=float).reshape(len(rows), len(steps))[:, 1:]
    whole = data["conversion_from_first"].to_numpy(dtype=float).reshape(len(rows), len(steps))[:, [-1]]
    grid = np.hstack([grid, whole])
    cols = [transition_label(a, b, msg) for a, b in zip(steps[:-1], steps[1:])]
    cols.append(msg("funnel.whole_funnel", start=step_label(steps[0], msg), end=step_label(steps[-1], msg)))
    ref = grid[(rows["dimension"] == ALL).to_numpy()]
    base = ref[0] if len(ref) else np.nanmean(grid, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = grid / base - 1
    annot = np.vectorize(msg.pct, otypes=[object])(grid)
    lim = np.nanmax(np.abs(rel)) if np.isfinite(rel).any() else 0.1
    sns.heatmap(pd.DataFrame(rel, index=row_labels, columns=cols), annot=annot, fmt="", cmap=kwargs.pop("cmap", "RdYlGn"),
                center=0, vmin=-lim, vmax=lim, linewidths=0.5, ax=ax,
                cbar_kws={"label": msg("funnel.axis.relative"), "format": "{x:+.0%}"}, **kwargs)
    ax.set_title(msg("funnel.plot.heatmap_title"))
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.tick_params(axis="x", rotation=20)
    return ax


def plot_trend(data: pd.DataFrame, *, x: str = "date", promotions: pd.DataFrame | None = None,
               highlight: Period | None = None, ax: Axes | None = None, msg: Messages | None = None,
               **kwargs) -> Axes:
    """Conversion over time: each step's conversion from the previous step and the whole funnel (bold).

    ``data``: :func:`conversion_trend` output. ``promotions``: contract ``promotions`` table; its days within
    the plotted range are shaded and named. ``highlight``: a period (the review period) to shade.
    ``kwargs`` go to ``Axes.plot``.
    """
    msg = _msg(msg)
    if ax is None:
        ax = plt.gca()
    steps = list(data["step"].cat.categories)
    for k in range(1, len(steps)):  # a handful of steps
        part = data[data["step"] == steps[k]]
        ax.plot(part[x], part["conversion_from_previous"], lw=1.2,
                label=transition_label(steps[k - 1], steps[k], msg), **kwargs)
    last = data[data["step"] == steps[-1]]
    ax.plot(last[x], last["conversion_from_first"], color="black", lw=2.2,
            label=msg("funnel.whole_funnel", start=step_label(steps[0], msg), end=step_label(steps[-1], msg)))
    if len(data):
        lo, hi = data[x].min(), data[x].max()
        if promotions is not None and len(promotions):
            shown = promotions[(promotions["end_date"] >= lo) & (promotions["start_date"] <= hi)]
            for i, promo in enumerate(shown.itertuples()):  # a few promotions
                ax.axvspan(promo.start_date - pd.Timedelta(hours=12), promo.end_date + pd.Timedelta(hours=12),
                           color="orange", alpha=0.25, lw=0, label=msg("funnel.legend.promotion") if i == 0 else None)
                ax.annotate(str(promo.name), (promo.start_date, 1.0), xycoords=("data", "axes fraction"),
                            xytext=(2, -2), textcoords="offset points", ha="left", va="top", fontsize=8, color="0.3")
        if highlight is not None:
            ax.axvspan(highlight.start, highlight.end - pd.Timedelta(days=1), color="0.5", alpha=0.12, lw=0,
                       label=msg("funnel.legend.period"))
    ax.yaxis.set_major_formatter(lambda v, _: msg.pct(v, 0))
    ax.set_ylim(0, None)
    ax.set_xlabel(msg("funnel.axis.date"))
    ax.set_ylabel(msg("funnel.axis.conversion"))
    ax.set_title(msg("funnel.plot.trend_title"))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=9)
    return ax


def plot_changes(data: pd.DataFrame, *, top: int = 10, ax: Axes | None = None, msg: Messages | None = None,
                 **kwargs) -> Axes:
    """The ``top`` sharpest step changes of :func:`compare_periods` as differences with 95 % intervals.

    Filled markers are significant after the multiple-comparison correction. ``kwargs`` go to ``Axes.errorbar``.
    """
    msg = _msg(msg)
    if ax is None:
        ax = plt.gca()
    keys = _keys_of_changes(data)
    rows = data[(data["kind"] == "step") & data["p_value"].notna()].head(top).iloc[::-1]
    labels = [_where(r, keys, msg) for _, r in rows.iterrows()]  # at most `top` rows
    pos = np.arange(len(rows))
    err = np.vstack([rows["diff"] - rows["ci_low"], rows["ci_high"] - rows["diff"]])
    ax.errorbar(rows["diff"], pos, xerr=err, fmt="none", ecolor="0.5", capsize=3, **kwargs)
    sig = rows["significant"].to_numpy()
    colors = np.where(rows["diff"] < 0, "C3", "C2")
    if sig.any():
        ax.scatter(rows["diff"][sig], pos[sig], c=colors[sig], zorder=3, label=msg("funnel.legend.significant"))
    if (~sig).any():
        ax.scatter(rows["diff"][~sig], pos[~sig], facecolors="white", edgecolors=colors[~sig], zorder=3,
                   label=msg("funnel.legend.not_significant"))
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_yticks(pos, labels)
    # ticks as bare signed numbers, the unit once in the axis label: "−25.0个百分点" on every tick overlapped in zh
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(nbins=7))
    ax.xaxis.set_major_formatter(lambda v, _: f"{round(100 * v, 1) + 0.0:+g}" if round(100 * v, 1) else "0")
    ax.set_xlabel(msg("funnel.axis.diff"))
    ax.set_title(msg("funnel.plot.changes_title"))
    if len(rows):
        ax.legend(loc="lower left", bbox_to_anchor=(1.01, 0.0), frameon=False, fontsize=9)
    return ax


__all__ = [
    "FunnelError", "MINIMUM_DATA", "NAME", "STEPS", "UNITS", "add_customer_type", "change_sentences", "compare",
    "compare_periods", "compute", "conversion_trend", "dimension_label", "findings", "for_display", "formats",
    "headlines", "largest_changes", "load", "minimum_data", "minimum_detectable_effect", "overall", "period_totals", "plot_changes",
    "plot_funnel", "plot_heatmap", "plot_trend", "promotion_days", "revenue_summary", "revenue_table", "segment_conversion",
    "segment_label", "sentences", "significant_changes", "step_conversion", "step_label", "transition_label",
]
