"""Benchmark: ecomlib.ltv.customer_summary against lifetimes' summary_data_from_transaction_data on ~1M orders.

Not a test: run it by hand when the summary code changes and copy the figures into docs/benchmarks.md
("Customer summary (LTV)").

    .venv/bin/python benchmarks/bench_ltv.py [--orders 1000000] [--repeat 5]
    .venv/bin/python benchmarks/bench_ltv.py --store /tmp/bench18/stores/s6_e10 [--end 2026-11-22]
    .venv/bin/python benchmarks/bench_ltv.py --baseline /tmp/ltv_before.py   # also time an earlier ltv.py

The synthetic log has customers acquired over two years who buy again at gamma-distributed rates, with a few
same-day repeat orders; ``--store`` takes a store's counted orders of known customers up to ``--end`` instead
(as ``benchmarks/run.py`` does; ids as the loader gives them, Arrow strings). Both functions get the same
definitions (daily purchases, weeks = days / 7, mean repeat-purchase value). Each repeat runs ecomlib, then
lifetimes (and the baseline, when given) one after the other in this process, so a busy shared machine slows
them alike; the best of ``--repeat`` runs each is reported, wall clock and CPU time (CPU time is steadier on a
shared machine). The outputs are checked to be equal (rtol 1e-9) before the times are reported, and
ecomlib's against the baseline's bit for bit.

``--baseline FILE`` loads another version of ``ecomlib/ltv.py`` (e.g. ``git show <rev>:ecomlib/ltv.py >
/tmp/ltv_before.py``) as a module of the installed package and times its ``customer_summary`` too: the
before/after of a change in one run.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import sys
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


def store_orders(store: str, end: str) -> pd.DataFrame:
    """A store's counted orders of known customers on or before ``end`` (customer_id, order_time, revenue)."""
    from ecomlib import cohorts, load_dataset

    orders = cohorts.completed_orders(load_dataset(store, tables=["orders"]).orders)
    orders = orders.loc[orders["customer_id"].notna() & (orders["order_time"].dt.normalize() <= end),
                        ["customer_id", "order_time", "revenue"]].reset_index(drop=True)
    if getattr(orders["order_time"].dt, "tz", None) is not None:
        orders = orders.assign(order_time=orders["order_time"].dt.tz_localize(None))
    return orders


def load_baseline(path: str):
    """Another version of ecomlib/ltv.py, imported as ``ecomlib._ltv_baseline`` (its relative imports resolve)."""
    spec = importlib.util.spec_from_file_location("ecomlib._ltv_baseline", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def best_of(fns: dict, repeat: int) -> tuple[dict, dict]:
    """Best wall-clock and CPU seconds of each function over ``repeat`` rounds (one call of each per round)."""
    best = {name: (float("inf"), float("inf")) for name in fns}
    out = {}
    for _ in range(repeat):
        for name, fn in fns.items():
            w, c = time.perf_counter(), time.process_time()
            out[name] = fn()
            wall, cpu = time.perf_counter() - w, time.process_time() - c
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000, help="synthetic orders (without --store)")
    parser.add_argument("--store", help="a store folder: use its counted orders instead of the synthetic log")
    parser.add_argument("--end", help="observation end (default 2026-03-31 synthetic, 2026-11-22 a store)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--baseline", help="another ecomlib/ltv.py to time as well (before/after)")
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lifetimes.utils import summary_data_from_transaction_data

    end = args.end or ("2026-11-22" if args.store else "2026-03-31")
    orders = store_orders(args.store, end) if args.store else synthetic_orders(args.orders)

    def theirs():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return summary_data_from_transaction_data(orders, "customer_id", "order_time", monetary_value_col="revenue",
                                                      observation_period_end=end, freq="D", freq_multiplier=7)

    fns = {"ecomlib": lambda: ltv.customer_summary(orders, end), "lifetimes": theirs}
    labels = {"ecomlib": "ecomlib.ltv.customer_summary", "lifetimes": "lifetimes summary_data_from_transaction_data",
              "baseline": f"customer_summary of {args.baseline}"}
    if args.baseline:
        baseline = load_baseline(args.baseline)
        fns["baseline"] = lambda: baseline.customer_summary(orders, end)
    best, out = best_of(fns, args.repeat)
    ours = out["ecomlib"]
    pd.testing.assert_frame_equal(ours, out["lifetimes"].sort_index(), check_index_type=False, check_names=False,
                                  rtol=1e-9)
    if args.baseline:
        pd.testing.assert_frame_equal(ours, out["baseline"], check_exact=True)
    source = f"store {args.store}" if args.store else "synthetic log"
    print(f"{source}, end {end}: orders {len(orders):,}; customers {len(ours):,}; best of {args.repeat} runs each")
    print(f"python {platform.python_version()} / pandas {pd.__version__} / numpy {np.__version__}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'':46s} {'wall':>7s} {'CPU':>7s}")
    for name, (wall, cpu) in best.items():
        print(f"{labels[name]:46s} {wall:6.3f}s {cpu:6.3f}s")
    theirs_wall, theirs_cpu = best["lifetimes"]
    for name in [n for n in fns if n != "lifetimes"]:
        wall, cpu = best[name]
        print(f"ratio lifetimes / {name}: {theirs_wall / wall:.1f}x wall, {theirs_cpu / cpu:.1f}x CPU")
    also = ", and to the baseline's bit for bit" if args.baseline else ""
    print(f"outputs identical to lifetimes' (rtol 1e-9){also}")


if __name__ == "__main__":
    main()
