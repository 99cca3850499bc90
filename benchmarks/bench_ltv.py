"""Benchmark: ecomlib.ltv.customer_summary against lifetimes' summary_data_from_transaction_data on ~1M orders.

Not a test: run it by hand when the summary code changes and copy the figures into docs/benchmarks.md
("Customer summary (LTV)").

    .venv/bin/python benchmarks/bench_ltv.py [--orders 1000000] [--repeat 3]

The synthetic log has customers acquired over two years who buy again at gamma-distributed rates, with a few
same-day repeat orders; both functions get the same definitions (daily purchases, weeks = days / 7, mean
repeat-purchase value). The outputs are checked to be equal before the times are reported: the best of
``--repeat`` runs each, wall clock and CPU time (CPU time is steadier on a shared machine).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings

import numpy as np
import pandas as pd

from ecomlib import ltv


def synthetic_orders(n_orders: int, *, seed: int = 0) -> pd.DataFrame:
    """About ``n_orders`` orders in time order: customer_id (str), order_time (seconds), revenue (CNY)."""
    rng = np.random.default_rng(seed)
    n_customers = n_orders // 5
    start = np.datetime64("2024-01-01T00:00:00", "s")
    first = rng.integers(0, 730 * 86400, n_customers)
    per_customer = 1 + rng.poisson(rng.gamma(0.8, 5.0, n_customers))
    owner = np.repeat(np.arange(n_customers), per_customer)
    offset = np.where(np.r_[True, owner[1:] != owner[:-1]], 0, rng.integers(0, 400 * 86400, len(owner)))
    times = start + (first[owner] + offset).astype("timedelta64[s]")
    ids = np.char.add("C", np.arange(n_customers).astype(str))
    orders = pd.DataFrame({"customer_id": ids[owner], "order_time": pd.to_datetime(times),
                           "revenue": np.round(rng.gamma(3.0, 80.0, len(owner)), 2)})
    return orders.sort_values("order_time", kind="stable").reset_index(drop=True)  # a log in time order


def best_of(fn, repeat: int) -> tuple[float, float, object]:
    """Best wall-clock and best CPU time (seconds) of ``repeat`` calls, and the last result."""
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lifetimes.utils import summary_data_from_transaction_data

    orders = synthetic_orders(args.orders)
    end = "2026-03-31"
    ours_wall, ours_cpu, ours = best_of(lambda: ltv.customer_summary(orders, end), args.repeat)

    def theirs_fn():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return summary_data_from_transaction_data(orders, "customer_id", "order_time", monetary_value_col="revenue",
                                                      observation_period_end=end, freq="D", freq_multiplier=7)

    theirs_wall, theirs_cpu, theirs = best_of(theirs_fn, args.repeat)
    pd.testing.assert_frame_equal(ours, theirs.sort_index(), check_index_type=False, check_names=False, rtol=1e-9)
    print(f"orders: {len(orders):,}; customers: {len(ours):,}; best of {args.repeat} runs each")
    print(f"python {platform.python_version()} / pandas {pd.__version__} / numpy {np.__version__}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'':46s} {'wall':>7s} {'CPU':>7s}")
    print(f"{'ecomlib.ltv.customer_summary':46s} {ours_wall:6.2f}s {ours_cpu:6.2f}s")
    print(f"{'lifetimes summary_data_from_transaction_data':46s} {theirs_wall:6.2f}s {theirs_cpu:6.2f}s")
    print(f"ratio lifetimes / ecomlib: {theirs_wall / ours_wall:.1f}x wall, {theirs_cpu / ours_cpu:.1f}x CPU; "
          f"outputs identical (rtol 1e-9)")


if __name__ == "__main__":
    main()
