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

Computation is vectorized: the events of the funnel steps are sorted once by (unit, time, step); each step
is then found for every unit at once with a binary search (``numpy.searchsorted``) on the positions of that
step's events — a loop over the handful of steps, none over units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from .contract import REVENUE_STATUSES as COUNTED_REVENUE
from .errors import EcomlibError
from .i18n import Messages, catalogue
from .periods import Period
from .report import Headline
from .stats import adjust_pvalues, two_proportion_test

if TYPE_CHECKING:
    from .dataset import Dataset

STEPS = ("view_item", "add_to_cart", "begin_checkout", "purchase")
UNITS = {"session": "session_id", "user": "user_id"}
MODES = ("closed", "open")
DEFAULT_WINDOWS = {"session": pd.Timedelta("30min"), "user": pd.Timedelta("7D")}
FREQS = ("D", "W")
CUSTOMER_TYPE = "customer_type"
ALL = "all"
METRICS = ("units", "entered", "conversion_from_previous", "conversion_from_first", "drop_off",
           "median_time_from_previous", "p90_time_from_previous")
COMPARISON_COLUMNS = ("kind", "from_step", "to_step", "n_1", "x_1", "n_2", "x_2", "rate_1", "rate_2", "diff",
                      "ci_low", "ci_high", "z", "p_value", "p_adjusted", "significant", "completions_change")
REVENUE_STATUSES = (*COUNTED_REVENUE, "pending")
METHOD_NAMES = {"holm": "Holm", "fdr_bh": "Benjamini–Hochberg", "bonferroni": "Bonferroni"}


class FunnelError(EcomlibError, ValueError):
    """Raised when funnel options do not fit the data (unknown unit, mode, step, column or frequency; bad window).

    Attributes: ``option`` (the offending argument), ``valid`` (the accepted values, when there is a list).
    """

    def __init__(self, message: str, *, option: str, valid: Sequence | None = None):
        self.option, self.valid = option, list(valid) if valid is not None else None
        if valid is not None:
            message += f"; valid values: {self.valid}"
        super().__init__(message)


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
    if unit not in UNITS:
        raise FunnelError(f"unknown unit {unit!r}", option="unit", valid=list(UNITS))
    if mode not in MODES:
        raise FunnelError(f"unknown mode {mode!r}", option="mode", valid=MODES)
    steps = list(steps)
    if len(steps) < 2:
        raise FunnelError(f"a funnel needs at least two steps, got {steps}", option="steps")
    repeated = sorted({s for s in steps if steps.count(s) > 1})
    if repeated:
        raise FunnelError(f"steps must be distinct; {repeated} appear more than once in {steps}", option="steps")
    needed = ["event_time", "event_name", UNITS[unit], *by]
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
    n_groups = len(keys)
    units = units.astype(np.int64).reshape(n_groups, n_steps)
    ent = ent.astype(np.int64).reshape(n_groups, n_steps)
    cont = units - ent
    prev = np.full(units.shape, np.nan)
    prev[:, 1:] = units[:, :-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        from_prev = np.where(prev > 0, cont / prev, np.nan)
        from_first = np.where(units[:, [0]] > 0, units / units[:, [0]], np.nan)
    from_prev[:, 0] = np.nan
    out = keys.loc[np.repeat(np.arange(n_groups), n_steps)].reset_index(drop=True)
    out["step"] = pd.Categorical(np.tile(list(steps), n_groups), categories=list(steps), ordered=True)
    out["units"] = units.ravel()
    out["entered"] = ent.ravel()
    out["conversion_from_previous"] = from_prev.ravel()
    out["conversion_from_first"] = from_first.ravel()
    out["drop_off"] = (prev - cont).ravel()
    out["median_time_from_previous"] = np.asarray(med, float).reshape(n_groups, n_steps).ravel()
    out["p90_time_from_previous"] = np.asarray(p90, float).reshape(n_groups, n_steps).ravel()
    return out


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
    paths = _paths(events, steps=steps, unit_col=UNITS[unit], window=window, mode=mode, **_restrict(period))
    groups = events[by].iloc[paths.entry_rows].reset_index(drop=True) if by else None
    return _aggregate(paths, groups, steps)


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
    customers = pd.Index(done["customer_id"].dropna().unique())
    returning = customers.get_indexer(events["user_id"]) >= 0  # a hash lookup: faster than isin on strings
    kind = pd.Categorical(np.where(returning, "returning", "new"), categories=["new", "returning"])
    return events.assign(**{CUSTOMER_TYPE: kind})


def segment_conversion(events: pd.DataFrame, *, breakdowns: str | Sequence[str] = ("device", "channel"),
                       orders: pd.DataFrame | None = None, steps: Sequence[str] = STEPS, unit: str = "session",
                       window: pd.Timedelta | str | None = None, mode: str = "closed",
                       period: Period | None = None) -> pd.DataFrame:
    """The funnel for all units and broken down by each column in ``breakdowns``, in one long table.

    ``breakdowns`` are events columns (``device``, ``channel``, …) or ``"customer_type"`` (new vs returning,
    derived from ``orders`` as of the period start by :func:`add_customer_type`). Paths are computed once.

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
    breakdowns = _as_list(breakdowns)  # one column name or several
    if CUSTOMER_TYPE in breakdowns and CUSTOMER_TYPE not in events.columns:
        if orders is None:
            raise FunnelError("the customer_type breakdown (new vs returning) needs the orders table; "
                              "pass orders=, or drop 'customer_type' from breakdowns", option="breakdowns")
        before = period.start if period is not None else events["event_time"].min()
        events = add_customer_type(events, orders, before=before)
    _check(events, steps, unit, mode, breakdowns)
    window = _window(unit, window)
    paths = _paths(events, steps=steps, unit_col=UNITS[unit], window=window, mode=mode, **_restrict(period))
    values = events[breakdowns].iloc[paths.entry_rows].reset_index(drop=True)
    parts = [_aggregate(paths, None, steps).assign(dimension=ALL, segment=ALL)]
    for col in breakdowns:  # a handful of breakdown columns
        part = _aggregate(paths, values[[col]], steps)
        segment = part[col].astype(object).map(lambda v: v if pd.isna(v) else str(v))  # one value per segment
        parts.append(part.drop(columns=col).assign(dimension=col, segment=segment))
    out = pd.concat(parts, ignore_index=True)
    return out[["dimension", "segment", *[c for c in out.columns if c not in ("dimension", "segment")]]]


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
    ``p_value``, ``p_adjusted``, ``significant`` (p_adjusted < alpha) and ``completions_change``: the
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
    out["p_adjusted"] = adjust_pvalues(out["p_value"].to_numpy(), method=method)
    out["significant"] = out["p_adjusted"] < alpha
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
    """Display name of a segment: ``mobile`` → Mobile / 移动端; unknown values as ``Column = value``."""
    if dimension == ALL:
        return msg("funnel.value.all")
    if pd.isna(value):
        return msg("funnel.segment_generic", dimension=dimension_label(dimension, msg), value=msg("funnel.value.missing"))
    key = f"funnel.value.{value}"
    if _has(key):
        return msg(key)
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
    if "significant" in out:
        out["significant"] = [msg("funnel.yes") if s else msg("funnel.no") for s in table["significant"]]
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


def sentences(changes: pd.DataFrame, *, msg: Messages, steps: Sequence[str] = STEPS, unit: str = "session",
              top: int = 3, alpha: float = 0.05, method: str = "holm") -> list[str]:
    """Conclusions written from a :func:`compare_periods` table, in ``msg``'s language.

    1. The whole funnel for all units: how many entered, how many completed, against the comparison period
       (or an honest sentence when this period, or the comparison period, has no units). Closed funnels only.
    2. Up to ``top`` significant step changes, sharpest first (the table's order) and one per transition
       (its sharpest segment: the change in the other segments is mostly the same change seen less
       sharply), each with before/after rates, the adjusted p-value and the estimated completions lost or
       gained at this period's traffic.
    3. How many conversions were tested, how many are significant, and the correction used.

    ``steps``, ``unit``, ``alpha`` and ``method`` must be those the table was computed with.

    Example
    -------
    >>> sentences(compare_periods(now, before), msg=Messages("en"))[1]                 # doctest: +SKIP
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
        else:
            out.append(msg("funnel.s.overall", before=row["rate_1"], p=row["p_adjusted"], **fields))
    elif len(changes) == 0 or changes["n_2"].sum() == 0:
        return [msg("funnel.s.empty", units=msg(f"funnel.units_bare.{unit}"), first=step_label(first, msg))]
    sig = significant_changes(changes)
    for _, row in sig.drop_duplicates(["from_step", "to_step"]).head(top).iterrows():  # at most `top` sentences
        key = "funnel.s.change_fell" if row["diff"] < 0 else "funnel.s.change_rose"
        out.append(msg(key, where=_where(row, keys, msg), before=row["rate_1"], after=row["rate_2"],
                       p=row["p_adjusted"], n=abs(row["completions_change"]), outcome=_outcome(last, unit, msg)))
    if len(tested) and not len(sig):
        out.append(msg("funnel.s.no_significant", alpha=alpha))
    if len(tested):
        out.append(msg("funnel.s.tests_note", n=len(tested), m=len(sig), alpha=alpha,
                       method=METHOD_NAMES.get(method, method)))
    return out


def period_totals(events: pd.DataFrame, orders: pd.DataFrame | None = None, *, period: Period,
                  unit: str = "session") -> dict[str, float | None]:
    """Units with any event in ``period`` (sessions or users, every event name counts) and the period's revenue.

    Revenue is the sum of ``orders.revenue`` over orders placed in the period whose status is completed,
    partially refunded or pending (cancelled and refunded orders excluded), in the store currency; None
    without ``orders``. Returns ``{"units": int, "revenue": float | None}``.
    """
    if unit not in UNITS:
        raise FunnelError(f"unknown unit {unit!r}", option="unit", valid=list(UNITS))
    n = int(events.loc[period.contains(events["event_time"]), UNITS[unit]].nunique())
    revenue = None
    if orders is not None:
        keep = period.contains(orders["order_time"]) & orders["status"].isin(REVENUE_STATUSES)
        revenue = float(orders.loc[keep, "revenue"].sum())
    return {"units": n, "revenue": revenue}


def headlines(changes: pd.DataFrame, *, now: pd.DataFrame, before: pd.DataFrame, totals: dict,
              previous_totals: dict, msg: Messages, unit: str = "session") -> list[Headline]:
    """The review's headline numbers, each with its comparison-period value.

    ``units`` (sessions or users with any event, from :func:`period_totals`), ``completions`` (units reaching
    the last step, from the step tables ``now``/``before``), ``conversion`` (completions / units),
    ``revenue_per_unit`` (revenue / units, store currency; None without orders) and ``worst_change``: the
    rate after the sharpest significant fall of a step conversion in :func:`compare_periods` ``changes``
    (previous: its rate before; None when nothing fell significantly).
    """
    now, before = overall(now), overall(before)
    steps = list(now["step"].cat.categories)
    x_now, x_before = (float(t.loc[t["step"] == steps[-1], "units"].sum()) for t in (now, before))

    def ratio(a, b):
        return None if a is None or b is None or not b else a / b

    u_now, u_before = totals["units"], previous_totals["units"]
    unit_name, one = msg(f"funnel.unit.{unit}"), msg(f"funnel.unit_one.{unit}")
    last = step_label(steps[-1], msg)
    fell = significant_changes(changes)
    fell = fell[fell["diff"] < 0]
    worst = fell.iloc[0] if len(fell) else None
    worst_label = (msg("funnel.h.worst_change", where=_where(worst, _keys_of_changes(changes), msg))
                   if worst is not None else msg("funnel.h.worst_change_none"))
    return [
        Headline("units", unit_name, u_now, "count", previous=u_before, good="up"),
        Headline("completions", msg("funnel.h.completions", units=unit_name, step=last), x_now, "count",
                 previous=x_before, good="up"),
        Headline("conversion", msg("funnel.h.conversion", unit=msg(f"funnel.unit_cap.{unit}"), step=last),
                 ratio(x_now, u_now), "ratio", previous=ratio(x_before, u_before), good="up"),
        Headline("revenue_per_unit", msg("funnel.h.revenue_per_unit", unit=one),
                 ratio(totals.get("revenue"), u_now), "money",
                 previous=ratio(previous_totals.get("revenue"), u_before), good="up"),
        Headline("worst_change", worst_label, None if worst is None else float(worst["rate_2"]), "ratio",
                 previous=None if worst is None else float(worst["rate_1"]), good="up"),
    ]


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
    ax.xaxis.set_major_formatter(lambda v, _: msg.pp(v))
    ax.set_xlabel(msg("funnel.axis.diff"))
    ax.set_title(msg("funnel.plot.changes_title"))
    if len(rows):
        ax.legend(loc="lower left", bbox_to_anchor=(1.01, 0.0), frameon=False, fontsize=9)
    return ax


def load(data_dir: str) -> Dataset:
    """Load what the funnel review reads: ``events`` (required), ``orders`` and ``promotions`` when present."""
    from pathlib import Path

    from .dataset import load_dataset, table_file

    folder = Path(data_dir)
    tables = ["events"] + [t for t in ("orders", "promotions") if table_file(folder, t) is not None]
    return load_dataset(folder, tables=tables)


__all__ = [
    "FunnelError", "STEPS", "add_customer_type", "compare_periods", "conversion_trend", "dimension_label",
    "for_display", "headlines", "load", "overall", "period_totals", "plot_changes", "plot_funnel", "plot_heatmap",
    "plot_trend", "segment_conversion", "segment_label", "sentences", "significant_changes", "step_conversion",
    "step_label", "transition_label",
]
