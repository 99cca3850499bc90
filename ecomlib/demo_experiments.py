"""Demo store: the ``experiments`` table with a planted conversion lift and a planted sample-ratio mismatch.

Two A/B tests of existing customers (unit = ``customer_id``), read by :mod:`ecomlib.experiments` from the core
``orders`` and ``returns`` — which this module leaves untouched (it returns only ``experiments``):

- ``checkout_redesign`` — the last four weeks of the data (2026-10-26 to 2026-11-22), :data:`N_LIFT` customers
  known before it started, each first exposed at a uniform random time. With ``plants=True`` the effect is
  planted through the assignment: within each stratum of the unit's counted orders in the :data:`PRE_DAYS`
  days before its exposure (0, 1, 2+), a unit that orders between its exposure and the end of the data is put in
  ``treatment`` with probability :data:`Q_CONVERTED` and a unit that does not with the probability that keeps
  the expected split at 50/50 in that stratum. The conversion of treatment is then
  ``Q / (1 − Q)`` times that of control in every stratum, so the true relative lift of conversion and of revenue
  per visitor is ``Q / (1 − Q) − 1`` = :data:`PLANTED_LIFT` (22.2 %); order values are untouched (no AOV
  effect) and the pre-period strata are balanced (CUPED has nothing to undo). With ``plants=False`` the
  assignment is a fair coin (no effect).
- ``free_shipping_banner`` — six weeks ending 2026-11-15, :data:`N_SRM` customers on a fair coin; with
  ``plants=True`` :data:`SRM_LOSS` of the treatment units are lost from the log (a tracking bug), so treatment
  holds about 47.9 % of the units: a sample-ratio mismatch (χ² p far below 0.001 at this size) that stops the
  readout.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .contract import REVENUE_STATUSES

N_LIFT = 24_000
N_SRM = 16_000
PRE_DAYS = 28
Q_CONVERTED = 0.55
PLANTED_LIFT = Q_CONVERTED / (1 - Q_CONVERTED) - 1
SRM_LOSS = 0.08


def _units(rng: np.random.Generator, customers: pd.DataFrame, start: pd.Timestamp, days: int, n: int) -> pd.DataFrame:
    known = customers.loc[customers["first_seen"] < start, "customer_id"].to_numpy()
    unit = rng.choice(known, size=min(n, len(known)), replace=False)
    seconds = rng.integers(0, days * 86400, len(unit))
    return pd.DataFrame({"unit_id": unit, "assigned_at": start + pd.to_timedelta(seconds, unit="s")})


def _lift_variant(rng: np.random.Generator, units: pd.DataFrame, orders: pd.DataFrame, end: pd.Timestamp) -> np.ndarray:
    """Variants that plant a relative lift of ``PLANTED_LIFT`` on conversion, balanced within pre-period strata."""
    counted = orders.loc[orders["status"].isin(REVENUE_STATUSES), ["customer_id", "order_time"]]
    joined = units.reset_index().merge(counted, left_on="unit_id", right_on="customer_id")
    after = (joined["order_time"] >= joined["assigned_at"]) & (joined["order_time"] <= end)
    before = ((joined["order_time"] < joined["assigned_at"])
              & (joined["order_time"] >= joined["assigned_at"] - pd.Timedelta(days=PRE_DAYS)))
    converted = np.zeros(len(units), bool)
    converted[joined.loc[after, "index"].unique()] = True
    stratum = np.minimum(np.bincount(joined.loc[before, "index"], minlength=len(units)), 2)
    # Exact allocation within each (stratum, converted) cell: a share Q of the converted units and the share that
    # keeps the stratum at 50/50 of the others, chosen at random — the realised lift is the planted one.
    cell = pd.DataFrame({"stratum": stratum, "converted": converted, "key": rng.random(len(units))})
    p = cell.groupby("stratum")["converted"].transform("mean").to_numpy()
    share = np.where(converted, Q_CONVERTED, (0.5 - p * Q_CONVERTED) / (1 - p))
    group = cell.groupby(["stratum", "converted"])["key"]
    rank = group.rank(method="first").to_numpy() - 1
    treat = rank < np.round(share * group.transform("size").to_numpy())
    return np.where(treat, "treatment", "control")


def generate(rng: np.random.Generator, tables: dict[str, pd.DataFrame], *, plants: bool) -> dict[str, pd.DataFrame]:
    """The ``experiments`` table (contract columns) of the two demo tests; see the module docstring."""
    from .demo import END

    customers, orders = tables["customers"], tables["orders"]
    last = END.normalize()
    lift_start, srm_start = last - pd.Timedelta(days=27), last - pd.Timedelta(days=48)
    lift = _units(rng, customers, lift_start, 28, N_LIFT)
    coin = np.where(rng.random(len(lift)) < 0.5, "treatment", "control")
    lift["variant"] = _lift_variant(rng, lift, orders, END) if plants else coin
    srm = _units(rng, customers, srm_start, 42, N_SRM)
    srm["variant"] = np.where(rng.random(len(srm)) < 0.5, "treatment", "control")
    if plants:
        srm = srm[~((srm["variant"] == "treatment") & (rng.random(len(srm)) < SRM_LOSS))]
    out = pd.concat([lift.assign(experiment="checkout_redesign"), srm.assign(experiment="free_shipping_banner")],
                    ignore_index=True)
    out = out.sort_values(["assigned_at", "experiment"], kind="stable").reset_index(drop=True)
    return {"experiments": out[["experiment", "unit_id", "variant", "assigned_at"]]}
