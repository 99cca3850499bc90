"""Demo store: the ``experiments`` table with a planted conversion lift and a planted sample-ratio mismatch.

Two A/B tests of existing customers (unit = ``customer_id``), read by :mod:`ecomlib.experiments` from ``orders``
and ``returns``:

- ``checkout_redesign`` — the last four weeks of the data (2026-10-26 to 2026-11-22), :data:`N_LIFT` customers
  known before it started, each first exposed at a uniform random time and assigned by a fair coin (50/50),
  independently of anything the customer does. With ``plants=True`` the effect is planted *causally*, on the
  outcomes of treatment units: of the treatment units with no counted order between their exposure and the data's
  end, ``round(PLANTED_LIFT × the treatment units that do order)`` chosen at random get one order each, at a
  uniform random time between their exposure and the data's end (``order_id`` ``OE…``, status completed). Each
  added order copies the lines, revenue, discount, shipping fee and channel of a counted order of the same day,
  chosen at random — that day's prices and stock, values like everyone else's, so the order value is untouched
  (no AOV effect) and revenue per visitor rises with conversion. Treatment's conversion is therefore exactly
  (1 + :data:`PLANTED_LIFT`) times what it would have been (up to the rounding of one order): the true relative
  lift of conversion is PLANTED_LIFT (25 %) by construction, and the readout against control estimates it with
  control's sampling error. The added orders get no parcels, tickets or returns, and the events table, whose
  anonymous users are not customers, is left as it is. With ``plants=False`` nothing is added (an A/A test).
- ``free_shipping_banner`` — six weeks ending 2026-11-15, :data:`N_SRM` customers on a fair coin; with
  ``plants=True`` :data:`SRM_LOSS` of the treatment units are lost from the log (a tracking bug), so treatment
  holds about 47.9 % of the units: a sample-ratio mismatch (χ² p far below 0.001 at this size) that stops the
  readout. Its outcomes are untouched.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .contract import REVENUE_STATUSES

N_LIFT = 24_000
N_SRM = 16_000
#: Relative lift of treatment's conversion in checkout_redesign, planted by adding converting orders.
PLANTED_LIFT = 0.25
SRM_LOSS = 0.08


def _units(rng: np.random.Generator, customers: pd.DataFrame, start: pd.Timestamp, days: int, n: int) -> pd.DataFrame:
    known = customers.loc[customers["first_seen"] < start, "customer_id"].to_numpy()
    unit = rng.choice(known, size=min(n, len(known)), replace=False)
    seconds = rng.integers(0, days * 86400, len(unit))
    return pd.DataFrame({"unit_id": unit, "assigned_at": start + pd.to_timedelta(seconds, unit="s")})


def converted(units: pd.DataFrame, orders: pd.DataFrame, end: pd.Timestamp) -> np.ndarray:
    """Whether each unit has a counted order between its exposure and ``end`` (inclusive)."""
    counted = orders.loc[orders["status"].isin(REVENUE_STATUSES), ["customer_id", "order_time"]]
    joined = units.reset_index(drop=True).reset_index().merge(counted, left_on="unit_id", right_on="customer_id")
    after = (joined["order_time"] >= joined["assigned_at"]) & (joined["order_time"] <= end)
    out = np.zeros(len(units), bool)
    out[joined.loc[after, "index"].unique()] = True
    return out


def added_conversions(units: pd.DataFrame, orders: pd.DataFrame, end: pd.Timestamp) -> int:
    """How many treatment units the plant converts: ``round(PLANTED_LIFT × treatment units that convert anyway)``."""
    treat = (units["variant"] == "treatment").to_numpy()
    return int(round(PLANTED_LIFT * converted(units.loc[treat], orders, end).sum()))


def _plant_lift(rng: np.random.Generator, units: pd.DataFrame, orders: pd.DataFrame, items: pd.DataFrame,
                end: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The orders and lines that convert a random :func:`added_conversions` of treatment's non-converting units."""
    treat = units.loc[units["variant"] == "treatment"].reset_index(drop=True)
    n_add = added_conversions(units, orders, end)
    idle = treat.loc[~converted(treat, orders, end)]
    chosen = idle.iloc[np.sort(rng.choice(len(idle), n_add, replace=False))]
    start = chosen["assigned_at"].to_numpy()
    span = (end - chosen["assigned_at"]).dt.total_seconds().to_numpy()
    when = start + pd.to_timedelta(np.floor(rng.random(n_add) * span), unit="s").to_numpy()
    # each added order copies a counted order of its own day: that day's prices, and no SKU that was out of stock
    pool = orders.loc[orders["status"].isin(REVENUE_STATUSES) & (orders["order_time"] <= end)]
    pool = pool.assign(day=pool["order_time"].dt.normalize()).sort_values("day", kind="stable")
    first = pool.groupby("day").cumcount().eq(0).to_numpy().nonzero()[0]
    days = pool["day"].to_numpy()[first]
    at = np.searchsorted(days, pd.DatetimeIndex(when).normalize().to_numpy())
    count = np.diff(np.r_[first, len(pool)])
    template = pool.iloc[first[at] + np.floor(rng.random(n_add) * count[at]).astype(int)].reset_index(drop=True)
    ids = [f"OE{i:06d}" for i in range(1, n_add + 1)]
    added = template.assign(order_id=ids, customer_id=chosen["unit_id"].to_numpy(), order_time=when,
                            status="completed")[orders.columns]
    lines = items.merge(pd.DataFrame({"order_id": template["order_id"], "new_id": ids}), on="order_id")
    added_items = lines.assign(order_id=lines["new_id"])[items.columns]
    return added, added_items


def generate(rng: np.random.Generator, tables: dict[str, pd.DataFrame], *, plants: bool) -> dict[str, pd.DataFrame]:
    """The ``experiments`` table (contract columns) of the two demo tests; with ``plants`` also the orders and
    order_items with the planted conversions of checkout_redesign's treatment (module docstring)."""
    from .demo import END

    customers, orders, items = tables["customers"], tables["orders"], tables["order_items"]
    last = END.normalize()
    lift_start, srm_start = last - pd.Timedelta(days=27), last - pd.Timedelta(days=48)
    lift = _units(rng, customers, lift_start, 28, N_LIFT)
    lift["variant"] = np.where(rng.random(len(lift)) < 0.5, "treatment", "control")
    srm = _units(rng, customers, srm_start, 42, N_SRM)
    srm["variant"] = np.where(rng.random(len(srm)) < 0.5, "treatment", "control")
    out = {}
    if plants:
        srm = srm[~((srm["variant"] == "treatment") & (rng.random(len(srm)) < SRM_LOSS))]
        added, added_items = _plant_lift(rng, lift, orders, items, END)
        out["orders"] = (pd.concat([orders, added], ignore_index=True)
                         .sort_values(["order_time", "order_id"], kind="stable").reset_index(drop=True))
        out["order_items"] = pd.concat([items, added_items], ignore_index=True)
    both = pd.concat([lift.assign(experiment="checkout_redesign"), srm.assign(experiment="free_shipping_banner")],
                     ignore_index=True)
    both = both.sort_values(["assigned_at", "experiment"], kind="stable").reset_index(drop=True)
    out["experiments"] = both[["experiment", "unit_id", "variant", "assigned_at"]]
    return out
