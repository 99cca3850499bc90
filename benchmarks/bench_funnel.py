"""Benchmark (not a test): time ``ecomlib.funnel.step_conversion`` on 10 million synthetic events.

Run from the repository root::

    .venv/bin/python benchmarks/bench_funnel.py                # 10 million events
    .venv/bin/python benchmarks/bench_funnel.py --events 1e6   # a quick look

The events are generated vectorized, shaped like a GA4 export as ``ecomlib.load_dataset`` returns it:
``session_id``/``user_id`` as pandas strings, ``event_name``/``device``/``channel`` categorical, timestamps
over 16 weeks, rows sorted by time. Sessions draw their events at random from the five names, later steps
tending to come later (so steps are mostly but not always in order, repeat, and some fall outside the
30-minute window); users have about two sessions each.

Each case runs in a fresh process that reads the events back from a temporary Parquet file (so one case's
allocations, which Arrow's allocator keeps for reuse, do not hide the next one's). It reports the wall time
and CPU time of one call (the machine is shared: CPU time is the steadier figure) and the memory the call
needs on top of the loaded events: the peak resident set size during the call minus the resident size
before it (Linux: the peak is reset through ``/proc/self/clear_refs`` before the call, so it counts Arrow's
allocations too, which ``tracemalloc`` does not see), and the process's high-water mark
(``resource.getrusage``: interpreter, libraries, events and the call).
The figures in docs/benchmarks.md come from this script.

``--vs-sql STORE`` instead times ``ecomlib.funnel.step_conversion_on`` (closed session funnel by device, ISO
week 2026-W47, as ``benchmarks/run.py``'s ``funnel vs SQL`` case) against the plain query of
``benchmarks/ibis_vs_sql.py`` on the same engine, **alternately** — plain, ours, ours, plain, … — ``--repeat``
times each, and reports the best wall and best CPU time of each (CPU of this process and its children: DuckDB's
threads, Spark's JVM) and whether the step counts are identical::

    .venv/bin/python benchmarks/bench_funnel.py --vs-sql /tmp/bench18/stores/s6_e10 --engine duckdb --repeat 7
    .venv/bin/python benchmarks/bench_funnel.py --vs-sql /tmp/bench18/stores/s1_e1 --engine spark --repeat 5

Each call of ours reads the events once: the rows-scanned count of the page footer comes from the same scan
(``engine.rows_scanned`` is checked against a separate count query after the timed calls).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ecomlib import funnel

NAMES = ["session_start", "view_item", "add_to_cart", "begin_checkout", "purchase"]
NAME_SHARES = [0.15, 0.45, 0.20, 0.12, 0.08]


def synthetic_events(n_events: int, *, seed: int = 0) -> pd.DataFrame:
    """``n_events`` events over 16 weeks, about five per session (vectorized)."""
    rng = np.random.default_rng(seed)
    n_sessions = max(1, n_events // 5)
    start = pd.Timestamp("2026-08-03").value + rng.integers(0, 112 * 86_400, n_sessions) * 1_000_000_000
    session = rng.integers(0, n_sessions, n_events)
    name = rng.choice(len(NAMES), n_events, p=NAME_SHARES)
    # Later steps tend to come later (mean 4, 8, 12, 16, 20 min after the session starts), not always.
    offset = (rng.exponential(240, n_events) * (1 + name) * 1e9).astype(np.int64)
    times = start[session] + offset
    order = np.argsort(times, kind="stable")
    session, times, name = session[order], times[order], name[order]
    session_ids = pd.Series(np.char.add("s", np.arange(n_sessions).astype(str))).astype("str")
    session_user = rng.integers(0, max(1, n_sessions // 2), n_sessions)
    user_ids = pd.Series(np.char.add("u", np.arange(max(1, n_sessions // 2)).astype(str))).astype("str")
    device = pd.Categorical.from_codes(rng.choice(3, n_sessions, p=[0.6, 0.33, 0.07])[session],
                                       ["mobile", "desktop", "tablet"])
    channel = pd.Categorical.from_codes(rng.integers(0, 8, n_sessions)[session],
                                        ["organic", "paid_search", "paid_social", "direct", "email", "display",
                                         "affiliate", "video"])
    return pd.DataFrame({
        "event_time": pd.to_datetime(times),
        "user_id": user_ids.take(session_user[session]).reset_index(drop=True),
        "session_id": session_ids.take(session).reset_index(drop=True),
        "event_name": pd.Categorical.from_codes(name, NAMES),
        "channel": channel,
        "device": device,
    })


def _rss_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current RSS (Linux ≥ 4.0)
        return True
    except OSError:
        return False


def measure(label: str, events: pd.DataFrame, **options) -> dict:
    """Wall time and peak extra memory of one ``step_conversion`` call."""
    before = _rss_kib("VmRSS")
    reset = _reset_peak()
    began, cpu = time.perf_counter(), time.process_time()
    table = funnel.step_conversion(events, **options)
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    peak = _rss_kib("VmHWM") if reset else None
    extra = (peak - before) / 1024 if peak is not None and before is not None else float("nan")
    units = int(table.loc[table["step"] == table["step"].cat.categories[0], "units"].sum())
    return {"case": label, "seconds": seconds, "cpu_seconds": cpu, "extra_mib": extra, "first_step_units": units,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "last_step_units": int(table.loc[table["step"] == table["step"].cat.categories[-1], "units"].sum())}


CASES = {
    "session": ("session, closed, 30 min (defaults)", {}),
    "device": ("session, closed, by device", {"by": "device"}),
    "open": ("session, open funnel", {"mode": "open"}),
    "user": ("user, closed, 7 days", {"unit": "user"}),
}


def run_case(case: str, path: str) -> None:
    """In a fresh process: read the events, time one call, print the result as JSON."""
    events = pd.read_parquet(path)
    label, options = CASES[case]
    print(json.dumps(measure(label, events, **options)))


def _tree_cpu() -> float:
    """CPU seconds of this process and its live children (Spark's JVM), user + system."""
    import psutil

    total = time.process_time()  # every thread of this process (DuckDB's), finer than psutil's clock ticks
    for child in psutil.Process().children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.Error:
            continue
    return total


def _step_counts(plain: pd.DataFrame, ours: pd.DataFrame) -> tuple[dict, dict]:
    """``{"step|device": units}`` of the plain query's rows (steps numbered from 1, device ``(all)`` for the total)
    and of ours (step names; the totals over devices added)."""
    a = {f"{funnel.STEPS[int(r.step) - 1]}|{r.device}": int(r.units) for r in plain.itertuples()}
    b = {f"{r.step}|{r.device}": int(r.units) for r in ours.itertuples()}
    for step, units in ours.groupby("step", observed=True)["units"].sum().items():
        b[f"{step}|(all)"] = int(units)
    return a, b


def vs_sql(store: str, engine_name: str, repeat: int) -> None:
    """ecomlib's funnel against the plain query of ibis_vs_sql.py on one engine, alternately, best of ``repeat``."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from ibis_vs_sql import FUNNEL_SQL
    from ibis_vs_sql import to_spark as plain_to_spark

    from ecomlib.engine import connect, literal
    from ecomlib.periods import parse_period

    period = parse_period("2026-W47")
    eng = connect(engine_name, store)
    plain_sql = FUNNEL_SQL.format(start=f"{period.start:%Y-%m-%d %H:%M:%S}", end=f"{period.end:%Y-%m-%d %H:%M:%S}")
    if engine_name == "spark":
        folder = Path(store) / "events"
        source = str(folder if folder.is_dir() else Path(store) / "events.parquet")
        eng.spark.read.parquet(source).createOrReplaceTempView("events")  # the engine's own views carry a prefix
        spark_sql = plain_to_spark(plain_sql)

        def plain():
            return eng.spark.sql(spark_sql).toPandas()
    else:
        def plain():
            return eng.sql(plain_sql)

    def ours():
        return funnel.step_conversion_on(eng, by="device", period=period)

    runs = {"plain": plain, "ours": ours}
    best = {name: [float("inf"), float("inf")] for name in runs}
    out = {}
    for i in range(repeat):
        for name in (("plain", "ours") if i % 2 == 0 else ("ours", "plain")):
            cpu, wall = _tree_cpu(), time.perf_counter()
            out[name] = runs[name]()
            wall, cpu = time.perf_counter() - wall, _tree_cpu() - cpu
            best[name] = [min(best[name][0], wall), min(best[name][1], cpu)]
    a, b = _step_counts(out["plain"], out["ours"])
    where = f"event_time >= {literal(period.start)} AND event_time < {literal(period.end + pd.Timedelta('30min'))}"
    scanned = eng.rows_scanned == repeat * eng.count("events", where)
    print(json.dumps({"store": Path(store).name, "engine": engine_name, "repeat": repeat,
                      "ours_wall": round(best["ours"][0], 3), "ours_cpu": round(best["ours"][1], 3),
                      "plain_wall": round(best["plain"][0], 3), "plain_cpu": round(best["plain"][1], 3),
                      "plain_over_ours_wall": round(best["plain"][0] / best["ours"][0], 3),
                      "plain_over_ours_cpu": round(best["plain"][1] / best["ours"][1], 3),
                      "same_counts": a == b, "rows_scanned_right": scanned,
                      "load_average": round(os.getloadavg()[0], 1)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=float, default=10_000_000, help="number of events (default 1e7)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--case", choices=list(CASES), help=argparse.SUPPRESS)  # internal: one case, one process
    parser.add_argument("--from", dest="path", help=argparse.SUPPRESS)
    parser.add_argument("--vs-sql", metavar="STORE", help="ours against the plain query on STORE (see above)")
    parser.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb", help="with --vs-sql")
    parser.add_argument("--repeat", type=int, default=5, help="with --vs-sql: calls of each (default 5)")
    args = parser.parse_args()
    if args.case:
        run_case(args.case, args.path)
        return
    if args.vs_sql:
        vs_sql(args.vs_sql, args.engine, args.repeat)
        return
    n = int(args.events)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
          f"Python {platform.python_version()}, pandas {pd.__version__}, numpy {np.__version__}")
    began = time.perf_counter()
    events = synthetic_events(n, seed=args.seed)
    print(f"generated {len(events):,} events, {events['session_id'].nunique():,} sessions, "
          f"{events['user_id'].nunique():,} users in {time.perf_counter() - began:.1f} s; "
          f"in memory {events.memory_usage(deep=True).sum() / 2**20:,.0f} MiB")
    print(f"{'case':<36} {'wall s':>7} {'CPU s':>6} {'extra MiB':>10} {'peak RSS MiB':>13} {'units @1':>10} "
          f"{'units @4':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "events.parquet")
        events.to_parquet(path)
        del events
        for case in CASES:  # each case in a fresh process, so one case's allocations do not hide another's
            out = subprocess.run([sys.executable, __file__, "--case", case, "--from", path], check=True,
                                 capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            print(f"{r['case']:<36} {r['seconds']:>7.1f} {r['cpu_seconds']:>6.1f} {r['extra_mib']:>10,.0f} "
                  f"{r['peak_rss_mib']:>13,.0f} {r['first_step_units']:>10,} {r['last_step_units']:>9,}")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
