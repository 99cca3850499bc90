"""Benchmark (not a test): the scale figures of issue 18 — time and peak memory per store size and engine.

Run from the repository root (the full run took 44 minutes on the shared 2-core machine; stores are generated
once into ``--stores`` and reused; results in benchmarks/RESULTS.md)::

    .venv/bin/python benchmarks/run.py --out /tmp/bench            # the full run
    .venv/bin/python benchmarks/run.py --out /tmp/bench-q --quick  # a smoke run: the 1x store, DuckDB and pandas

It writes ``OUT/results.json`` (every case, appended as it finishes), ``OUT/tables.md`` (the tables of
``benchmarks/RESULTS.md``) and ``OUT/scale.png`` (time and peak memory against size, per engine).
``--report OUT`` rewrites the tables and the plot from an existing ``results.json``.

Stores (``ecomlib demo-data --scale N --events-scale M``): ``1x`` (the demo: ≈0.6 M events, ≈160 k orders),
``6x`` (orders ×6, events ×10), ``30x`` (orders ×30, events ×100); for the targets also ``6x-e17`` (≈1 M orders,
≈10 M events: the whole weekly review under 2 minutes) and ``1x-e170`` (≈100 M events: the funnel on DuckDB
under 8 GB). All cases review ISO week 2026-W47 (the demo's last week) against 2026-W46.

Cases, each in a fresh process (so one case's allocations, which Arrow and the JVM keep for reuse, do not hide
the next one's), per store and engine (pandas, duckdb, spark):

- ``load``: ``review.load_tables(store, review, engine=...)`` for the funnel and the cohort/LTV reviews;
- ``reduce``: each heavy reduction of the reviewed week — funnel step reach by device, customer summary, cohort
  matrix, return rates by category, supplier KPIs, ROAS by channel and day (180 days) — pandas: the review
  module's function on tables loaded first (the load is reported apart), duckdb/spark: the ``*_on`` function
  (Spark: session start reported apart). Every table is compared with the pandas one (or DuckDB's where pandas
  could not run): ``same`` means counts exactly and floats to rtol 1e-9;
- ``funnel vs SQL``: ecomlib's closed funnel against the plain DuckDB query of ``benchmarks/ibis_vs_sql.py``
  (self-joins; on Spark transpiled by sqlglot) on the same engine, called in turn, best of ``ratio_repeat``
  rounds each (30 at 1x, 10 at 6x, 3 at 30x, 2 at 100 M events), step counts checked equal;
- ``lifetimes``: ``ltv.customer_summary`` and ``ltv.customer_summary_on`` (DuckDB) against
  ``lifetimes.utils.summary_data_from_transaction_data`` on the store's counted orders, called in turn, best of
  7 rounds at 6x and 4 at 30x, outputs checked equal;
- ``review``: the whole weekly review, ``ecomlib review --engine E --jobs 2`` (``--jobs 1`` for the 30x store on
  DuckDB, whose target is its peak memory: see ``review_jobs``), with each notebook's duration from its
  ``summary.json``.

Measurements: wall time and CPU time (the machine is shared: CPU time is the steadier figure; a case's CPU is
``getrusage(RUSAGE_CHILDREN)`` of its whole process tree, an operation's the Python process's plus the Spark
JVM's) and peak resident memory: of one operation, the Python process's ``VmHWM`` after resetting it through
``/proc/self/clear_refs`` plus the JVM's RSS sampled every 0.2 s; of a case, the process tree's RSS sampled every
0.2 s by psutil (peak total and peak of the largest process). A case that passes ``--memory-cap-gb`` (total RSS
of its tree; the machine is shared) or ``--timeout`` is stopped and recorded with that reason, and the run goes
on. The 1-minute load average is sampled with the memory.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
ECOMLIB = str(Path(sys.executable).with_name("ecomlib"))
WEEK = "2026-W47"
ENGINES = ("pandas", "duckdb", "spark")
#: name -> (orders scale, events scale)
STORES = {"1x": (1, 1), "6x": (6, 10), "30x": (30, 100), "6x-e17": (6, 17), "1x-e170": (1, 170)}
REDUCTIONS = ("funnel steps by device", "customer summary", "cohort matrix", "return rates by category",
              "supplier KPIs", "ROAS by channel and day")
SAMPLE_SECONDS = 0.2


# ---------------------------------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------------------------------
# The process's own resident and peak sizes: the same Linux readings bench_funnel.py takes.
from bench_funnel import _reset_peak  # noqa: E402  (benchmarks/ is the script's folder, first on sys.path)
from bench_funnel import _rss_kib as _status_kib  # noqa: E402


class _Children:
    """Sample the RSS of this process's children (the Spark JVM) in a thread; their CPU time on demand."""

    def __init__(self):
        import psutil

        self.me = psutil.Process()
        self.gone = psutil.Error
        self.peak = 0
        self._stop = threading.Event()
        self._thread = None

    def rss(self) -> int:
        total = 0
        for child in self.me.children(recursive=True):
            with contextlib.suppress(self.gone):  # the child ended between the listing and the read
                total += child.memory_info().rss
        return total

    def cpu(self) -> float:
        total = 0.0
        for child in self.me.children(recursive=True):
            with contextlib.suppress(self.gone):
                t = child.cpu_times()
                total += t.user + t.system
        return total

    def __enter__(self):
        self.peak = self.rss()
        self._stop.clear()

        def loop():
            while not self._stop.wait(SAMPLE_SECONDS):
                self.peak = max(self.peak, self.rss())

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss())


def measure(label: str, fn, results: list, **extra):
    """Run ``fn()`` once; append wall/CPU seconds and peak memory (MiB) to ``results``; return fn's value."""
    children = _Children()
    before = _status_kib("VmRSS")
    reset = _reset_peak()
    with children:
        cpu0 = time.process_time() + children.cpu()
        began = time.perf_counter()
        value = fn()
        seconds = time.perf_counter() - began
        cpu = time.process_time() + children.cpu() - cpu0
    peak = _status_kib("VmHWM") if reset else None
    row = {"op": label, "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
           "peak_mib": round(((peak or 0) * 1024 + children.peak) / 2**20, 1) if peak is not None else None,
           "python_extra_mib": round((peak - before) / 1024, 1) if peak is not None and before else None,
           "jvm_peak_mib": round(children.peak / 2**20, 1) if children.peak else None, **extra}
    results.append(row)
    print(json.dumps(row), flush=True)
    return value


def best_alternating(fns, repeat: int) -> list[tuple[float, float, object]]:
    """:func:`best_of` for several functions called in turn in each round (a burst of load from other jobs then
    slows every side alike, not the one that happened to run during it)."""
    children = _Children()
    walls, cpus, outs = [[] for _ in fns], [[] for _ in fns], [None] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            c, w = time.process_time() + children.cpu(), time.perf_counter()
            outs[i] = fn()
            walls[i].append(time.perf_counter() - w)
            cpus[i].append(time.process_time() + children.cpu() - c)
    return [(min(walls[i]), min(cpus[i]), outs[i]) for i in range(len(fns))]


def best_of(fn, repeat: int) -> tuple[float, float, object]:
    """Best wall and best CPU seconds (this process and its children) of ``repeat`` calls, and the last value."""
    children = _Children()
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        c, w = time.process_time() + children.cpu(), time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() + children.cpu() - c)
    return min(walls), min(cpus), out


def _sampled_tree(pid: int, state: dict) -> None:
    """Add one sample of process ``pid``'s tree to ``state``: RSS total and per process, load average."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return
    total = 0
    for p in procs:
        try:
            rss = p.memory_info().rss
            t = p.cpu_times()
            state["cpu"][p.pid] = t.user + t.system
            if state["names"].get(p.pid) in (None, "bash", "sh"):  # spark-class is a script that execs java
                state["names"][p.pid] = _short(p.cmdline())
        except psutil.Error:
            continue
        total += rss
        state["per_process"][p.pid] = max(state["per_process"].get(p.pid, 0), rss)
    state["peak_total"] = max(state["peak_total"], total)
    state["total_now"] = total
    state["load"].append(os.getloadavg()[0])


def _short(cmd: list[str]) -> str:
    text = " ".join(cmd)
    if cmd and ("java" in cmd[0] or "org.apache.spark" in text):
        return "spark JVM"
    if "ipykernel" in text:
        return "notebook kernel"
    if "--child" in text:
        return "case process"
    if "ecomlib" in text and "review" in text:
        return "review runner"
    return Path(cmd[0]).name if cmd else "?"


def run_tree(cmd: list[str], *, timeout: float, cap_bytes: float, log: Path) -> dict:
    """Run ``cmd`` in its own process group; sample its tree; stop it past the time or memory budget."""
    state = {"names": {}, "per_process": {}, "cpu": {}, "peak_total": 0, "total_now": 0, "load": []}
    usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True,
                                env={**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONUNBUFFERED": "1"})
        stopped = None
        while proc.poll() is None:
            _sampled_tree(proc.pid, state)
            elapsed = time.perf_counter() - began
            if state["total_now"] > cap_bytes:
                stopped = (f"stopped: its processes held {state['total_now'] / 2**30:.1f} GiB, past the "
                           f"{cap_bytes / 2**30:.0f} GiB cap of this run")
            elif elapsed > timeout:
                stopped = f"stopped: still running after {timeout / 60:.0f} min (the per-case time limit)"
            if stopped:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                break
            time.sleep(SAMPLE_SECONDS)
    seconds = time.perf_counter() - began
    usage1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # whatever the case left behind (a JVM that outlived its Python)
    except ProcessLookupError:
        pass
    biggest = max(state["per_process"].items(), key=lambda kv: kv[1], default=(None, 0))
    by_kind: dict[str, int] = {}
    for pid, rss in state["per_process"].items():
        name = state["names"].get(pid, "?")
        by_kind[name] = max(by_kind.get(name, 0), rss)
    # CPU of the tree: what the reaped processes report (getrusage) or, when larger, the sum of every process's
    # last sampled CPU time (kernels and JVMs are not always reaped by their parent; a process loses at most
    # its last 0.2 s) — a lower bound either way.
    reaped = usage1.ru_utime + usage1.ru_stime - usage0.ru_utime - usage0.ru_stime
    return {"wall_seconds": round(seconds, 2), "cpu_seconds": round(max(reaped, sum(state["cpu"].values())), 2),
            "peak_total_mib": round(state["peak_total"] / 2**20, 1),
            "peak_process_mib": round(biggest[1] / 2**20, 1),
            "peak_process": state["names"].get(biggest[0]),
            "peak_by_process_kind_mib": {k: round(v / 2**20, 1) for k, v in by_kind.items()},
            "processes": len(state["per_process"]),
            "load_mean": round(sum(state["load"]) / len(state["load"]), 2) if state["load"] else None,
            "load_max": round(max(state["load"]), 2) if state["load"] else None,
            "returncode": proc.returncode, "stopped": stopped}


# ---------------------------------------------------------------------------------------------------------------
# The cases (run in a child process: ``run.py --child JSON``)
# ---------------------------------------------------------------------------------------------------------------
def _period():
    from ecomlib.periods import parse_period

    return parse_period(WEEK)


def _connect(engine: str, store: str, results: list):
    from ecomlib.engine import connect

    label = "start Spark session + register tables" if engine == "spark" else "connect"
    return measure(label, lambda: connect(engine, store), results, kind="setup")


def _save(frames_dir: Path, key: str, frame) -> None:
    frames_dir.mkdir(parents=True, exist_ok=True)
    frame.to_pickle(frames_dir / f"{key}.pkl")


def child_load(spec: dict) -> list:
    from ecomlib import review

    results: list = []
    ds = measure(f"load_tables({spec['review']!r})",
                 lambda: review.load_tables(spec["store"], spec["review"], engine=spec["engine"]), results,
                 kind="load")
    tables = {name: len(t) for name, t in ds.tables().items()}
    results[-1]["pandas_rows"] = tables
    return results


def child_reduce(spec: dict) -> list:
    """The heavy reductions of one side (``events`` or ``orders``) on one engine."""
    import pandas as pd

    from ecomlib import ads, cohorts, funnel, load_dataset, ltv, returns, suppliers

    period, engine, store = _period(), spec["engine"], spec["store"]
    frames = Path(spec["frames"])
    results: list = []
    history = ads.history_window(period, 180)
    if engine == "pandas":
        if spec["side"] == "events":
            ds = measure("load events into pandas", lambda: load_dataset(store, tables=["events"]), results,
                         kind="setup")
            out = measure("funnel steps by device",
                          lambda: funnel.step_conversion(ds.events, by="device", period=period), results,
                          kind="reduction")
            _save(frames, "funnel steps by device", out)
            return results
        names = ["orders", "order_items", "products", "returns", "suppliers", "purchase_orders", "ad_spend"]
        ds = measure("load orders-side tables into pandas", lambda: load_dataset(store, tables=names), results,
                     kind="setup")

        def summary():
            counted = cohorts.completed_orders(ds.orders, returns=ds.returns)
            return ltv.customer_summary(counted.loc[counted["order_time"] < period.end], period.last_day,
                                        time_unit="W")

        def matrix():
            counted = cohorts.completed_orders(ds.orders, returns=ds.returns)
            return cohorts.cohort_table(counted.loc[counted["order_time"] < period.end], freq="M", end=period.end)

        def rates():
            sold = returns.sold_lines(ds.orders, ds.order_items, ds.products, suppliers=ds.suppliers)
            sold = sold[sold["order_time"] < period.end]
            ret = returns.return_lines(ds.returns, sold, as_of=period.end)
            return returns.return_rates(sold, ret, by="category", window=returns.sales_window(period))

        def kpis():
            lines = suppliers.delivery_lines(ds.purchase_orders, as_of=period.end)
            return suppliers.supplier_kpis(lines, window=suppliers.trailing_window(period))

        def roas():
            ad, _ = ads._clean_spend(ds.ad_spend)
            orders = ds.orders.assign(channel=ads._text(ds.orders["channel"]).to_numpy())
            return ads.performance(ad, orders, period=history, freq="D")

        ops = {"customer summary": summary, "cohort matrix": matrix, "return rates by category": rates,
               "supplier KPIs": kpis, "ROAS by channel and day": roas}
    else:
        eng = _connect(engine, store, results)
        if spec["side"] == "events":
            ops = {"funnel steps by device": lambda: funnel.step_conversion_on(eng, by="device", period=period)}
        else:
            ops = {"customer summary": lambda: ltv.customer_summary_on(eng, period.last_day, time_unit="W",
                                                                       basis="net", end=period.end),
                   "cohort matrix": lambda: cohorts.cohort_table_on(eng, freq="M", end=period.end, basis="net"),
                   "return rates by category": lambda: returns.return_rates_on(
                       eng, window=returns.sales_window(period), as_of=period.end, by="category"),
                   "supplier KPIs": lambda: suppliers.supplier_kpis_on(eng, as_of=period.end,
                                                                       window=suppliers.trailing_window(period)),
                   "ROAS by channel and day": lambda: ads.performance_on(eng, period=history, freq="D")}
    for label, fn in ops.items():
        try:
            out = measure(label, fn, results, kind="reduction", rows=None)
            results[-1]["rows"] = len(out)
            _save(frames, label, out if isinstance(out, pd.DataFrame) else pd.DataFrame(out))
        except Exception as err:  # noqa: BLE001 — one reduction failing does not hide the others
            results.append({"op": label, "kind": "reduction", "error": f"{type(err).__name__}: {err}"[:300]})
            traceback.print_exc()
    return results


def _events_source(store: str) -> str:
    folder = Path(store)
    return str(folder / "events.parquet") if (folder / "events.parquet").exists() else str(folder / "events" / "*.parquet")


def _plain_counts(frame) -> dict:
    steps = ("view_item", "add_to_cart", "begin_checkout", "purchase")
    return {f"{steps[int(r.step) - 1]}|{r.device}": int(r.units) for r in frame.itertuples()}


def _our_counts(frame) -> dict:
    out = {f"{r.step}|{r.device}": int(r.units) for r in frame.itertuples()}
    totals: dict = {}
    for r in frame.itertuples():
        totals[f"{r.step}|(all)"] = totals.get(f"{r.step}|(all)", 0) + int(r.units)
    return {**out, **totals}


def child_funnel_vs_sql(spec: dict) -> list:
    """ecomlib's closed funnel (by device, the reviewed week) against the plain DuckDB query, same engine."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from ibis_vs_sql import FUNNEL_SQL, to_spark

    from ecomlib import funnel
    from ecomlib.engine import connect

    period, engine, store, repeat = _period(), spec["engine"], spec["store"], spec["repeat"]
    plain_sql = FUNNEL_SQL.format(start=period.start.strftime("%Y-%m-%d %H:%M:%S"),
                                  end=period.end.strftime("%Y-%m-%d %H:%M:%S"))
    results: list = []
    if engine == "pandas":
        import duckdb

        from ecomlib import load_dataset

        began = time.perf_counter()
        events = load_dataset(store, tables=["events"]).events
        load_seconds = time.perf_counter() - began
        ours = lambda: funnel.step_conversion(events, by="device", period=period)
        con = duckdb.connect()
        con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet('{_events_source(store)}')")
        plain = lambda: con.execute(plain_sql).df()
        plain_engine = "duckdb"
    else:
        eng = connect(engine, store)
        load_seconds = None
        ours = lambda: funnel.step_conversion_on(eng, by="device", period=period)
        if engine == "spark":  # the plain query's quantile_cont(x, q), as ibis_vs_sql.py runs it on Spark
            spark_sql = to_spark(plain_sql)
            if not eng.spark.catalog.tableExists("events"):  # the engine's own views carry its prefix
                source = _events_source(store)
                eng.spark.read.parquet(source[:-len("/*.parquet")] if source.endswith("*.parquet") else source) \
                    .createOrReplaceTempView("events")
            plain = lambda: eng.spark.sql(spark_sql).toPandas()
        else:
            plain = lambda: eng.sql(plain_sql)
        plain_engine = engine
    (plain_wall, plain_cpu, plain_out), (ours_wall, ours_cpu, ours_out) = best_alternating([plain, ours], repeat)
    a, b = _plain_counts(plain_out), _our_counts(ours_out)
    results.append({"op": "funnel vs plain SQL", "kind": "ratio", "engine": engine, "plain_engine": plain_engine,
                    "ours_seconds": round(ours_wall, 3), "ours_cpu_seconds": round(ours_cpu, 3),
                    "plain_seconds": round(plain_wall, 3), "plain_cpu_seconds": round(plain_cpu, 3),
                    "pandas_load_seconds": round(load_seconds, 2) if load_seconds is not None else None,
                    "repeat": repeat, "same_counts": a == b,
                    "difference": None if a == b else {k: (a.get(k), b.get(k)) for k in set(a) | set(b)
                                                       if a.get(k) != b.get(k)}})
    print(json.dumps(results[-1]), flush=True)
    return results


def child_lifetimes(spec: dict) -> list:
    """ltv.customer_summary (pandas) and customer_summary_on (DuckDB) vs lifetimes on the counted orders."""
    import pandas as pd

    from ecomlib import cohorts, load_dataset, ltv
    from ecomlib.engine import connect

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lifetimes.utils import summary_data_from_transaction_data
    period, repeat = _period(), spec["repeat"]
    end = period.last_day
    orders = load_dataset(spec["store"], tables=["orders"]).orders
    counted = cohorts.completed_orders(orders)
    counted = counted.loc[counted["order_time"].dt.normalize() <= end,
                          ["customer_id", "order_time", "revenue"]].reset_index(drop=True)
    counted = counted[counted["customer_id"].notna()]
    if getattr(counted["order_time"].dt, "tz", None) is not None:
        counted = counted.assign(order_time=counted["order_time"].dt.tz_localize(None))
    eng = connect("duckdb", spec["store"])

    def theirs_fn():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return summary_data_from_transaction_data(counted, "customer_id", "order_time",
                                                      monetary_value_col="revenue", observation_period_end=end,
                                                      freq="D", freq_multiplier=7)

    (ours_wall, ours_cpu, ours), (duck_wall, duck_cpu, duck), (theirs_wall, theirs_cpu, theirs) = best_alternating(
        [lambda: ltv.customer_summary(counted, end, time_unit="W"),
         lambda: ltv.customer_summary_on(eng, end, time_unit="W", basis="gross"), theirs_fn], repeat)

    def same(a, b) -> str:
        try:
            pd.testing.assert_frame_equal(a.sort_index(), b.sort_index(), check_index_type=False, check_names=False,
                                          check_dtype=False, rtol=1e-9)
            return "same"
        except AssertionError as err:
            return "differs: " + " ".join(str(err).split())[:200]

    row = {"op": "customer summary vs lifetimes", "kind": "ratio", "orders": len(counted), "customers": len(ours),
           "repeat": repeat, "ecomlib_pandas_seconds": round(ours_wall, 3), "ecomlib_pandas_cpu": round(ours_cpu, 3),
           "ecomlib_duckdb_seconds": round(duck_wall, 3), "ecomlib_duckdb_cpu": round(duck_cpu, 3),
           "lifetimes_seconds": round(theirs_wall, 3), "lifetimes_cpu": round(theirs_cpu, 3),
           "pandas_vs_lifetimes": same(ours, theirs), "duckdb_vs_lifetimes": same(duck, theirs)}
    print(json.dumps(row), flush=True)
    return [row]


CHILDREN = {"load": child_load, "reduce": child_reduce, "funnel_vs_sql": child_funnel_vs_sql,
            "lifetimes": child_lifetimes}


def run_child(spec: dict) -> None:
    results = CHILDREN[spec["what"]](spec)
    Path(spec["result"]).write_text(json.dumps(results))


# ---------------------------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------------------------
class Run:
    def __init__(self, args):
        self.args = args
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.work = self.out / "work"
        self.work.mkdir(exist_ok=True)
        self.path = self.out / "results.json"
        self.data = {"machine": machine(), "command": " ".join(sys.argv), "stores": {}, "cases": [],
                     "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        self.n = 0

    def save(self) -> None:
        self.data["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.path.write_text(json.dumps(self.data, indent=1, default=str))

    def store(self, name: str) -> str:
        scale, events_scale = STORES[name]
        folder = Path(self.args.stores) / f"s{scale}_e{events_scale}"
        info = {"scale": scale, "events_scale": events_scale, "path": str(folder)}
        if not (folder / ".done").exists():
            print(f"[{_now()}] generating store {name} into {folder}", flush=True)
            shutil.rmtree(folder, ignore_errors=True)
            cmd = [ECOMLIB, "demo-data", "--out", str(folder), "--scale", str(scale), "--events-scale",
                   str(events_scale)]
            info["generate"] = run_tree(cmd, timeout=3600, cap_bytes=self.args.memory_cap_gb * 2**30,
                                        log=self.work / f"generate_{name}.log")
            (folder / ".done").touch()
        info.update(store_rows(folder))
        self.data["stores"][name] = info
        self.save()
        return str(folder)

    def case(self, what: str, store_name: str, engine: str | None, **spec) -> dict:
        self.n += 1
        key = f"{self.n:03d}_{what}_{store_name}_{engine}"
        result = self.work / f"{key}.json"
        spec = {"what": what, "store": self.data["stores"][store_name]["path"], "engine": engine,
                "result": str(result), "frames": str(self.work / "frames" / f"{store_name}_{engine}"), **spec}
        print(f"[{_now()}] {what} {store_name} {engine} {spec.get('review') or spec.get('side') or ''}", flush=True)
        tree = run_tree([PYTHON, __file__, "--child", json.dumps(spec)], timeout=self.args.timeout,
                        cap_bytes=self.args.memory_cap_gb * 2**30, log=self.work / f"{key}.log")
        row = {"what": what, "store": store_name, "engine": engine,
               **{k: v for k, v in spec.items() if k in ("review", "side", "repeat")}, "case": tree}
        if result.exists():
            row["ops"] = json.loads(result.read_text())
        elif not tree["stopped"]:
            tail = (self.work / f"{key}.log").read_text(errors="replace").strip().splitlines()[-3:]
            row["error"] = " | ".join(tail)[-400:]
        self.data["cases"].append(row)
        self.save()
        print(f"    -> {tree['wall_seconds']} s, peak {tree['peak_total_mib']:.0f} MiB"
              f"{', ' + tree['stopped'] if tree['stopped'] else ''}{', error' if row.get('error') else ''}",
              flush=True)
        return row

    def review(self, store_name: str, engine: str, timeout: float | None = None) -> dict:
        jobs = review_jobs(store_name, engine)
        self.n += 1
        key = f"{self.n:03d}_review_{store_name}_{engine}"
        out = self.work / key
        shutil.rmtree(out, ignore_errors=True)
        print(f"[{_now()}] review {store_name} {engine}", flush=True)
        cmd = [ECOMLIB, "review", "--data", self.data["stores"][store_name]["path"], "--engine", engine,
               "--period", WEEK, "--out", str(out), "--jobs", str(jobs), "--timeout", str(self.args.timeout)]
        tree = run_tree(cmd, timeout=timeout or self.args.timeout, cap_bytes=self.args.memory_cap_gb * 2**30,
                        log=self.work / f"{key}.log")
        row = {"what": "review", "store": store_name, "engine": engine, "jobs": jobs, "case": tree}
        summary = out / WEEK / "summary.json"
        if summary.exists():
            s = json.loads(summary.read_text())
            row["engine_used"] = s.get("engine")
            row["notebooks"] = [{"name": nb["name"], "status": nb["status"], "seconds": nb.get("duration_seconds"),
                                 "engine": nb.get("engine"), "rows_scanned": nb.get("rows_scanned"),
                                 "error": (nb.get("error") or nb.get("reason") or None)}
                                for nb in s["notebooks"]]
            row["runner_seconds"] = _span(s.get("started"), s.get("finished"))
        elif not tree["stopped"]:
            tail = (self.work / f"{key}.log").read_text(errors="replace").strip().splitlines()[-3:]
            row["error"] = " | ".join(tail)[-400:]
        self.data["cases"].append(row)
        self.save()
        print(f"    -> {tree['wall_seconds']} s, peak total {tree['peak_total_mib']:.0f} MiB, largest process "
              f"{tree['peak_process_mib']:.0f} MiB{', ' + tree['stopped'] if tree['stopped'] else ''}", flush=True)
        shutil.rmtree(out / WEEK, ignore_errors=True)  # the pages are not kept; summary figures are in the row
        return row

    def skip(self, what: str, store_name: str, engine: str, reason: str, **extra) -> None:
        self.data["cases"].append({"what": what, "store": store_name, "engine": engine, "skipped": reason, **extra})
        self.save()

    def compare(self) -> None:
        """Each reduction's table on every engine against pandas' (or DuckDB's where pandas has none)."""
        import pandas as pd

        checks = []
        frames = self.work / "frames"  # kept for --redo (OUT/work is not part of the reported results)
        for store_name in self.data["stores"]:
            for label in REDUCTIONS:
                found = {e: frames / f"{store_name}_{e}" / f"{label}.pkl" for e in ENGINES}
                found = {e: p for e, p in found.items() if p.exists()}
                if len(found) < 2:
                    continue
                ref_engine = "pandas" if "pandas" in found else "duckdb"
                ref = _plain(pd.read_pickle(found[ref_engine]))
                for e, p in found.items():
                    if e == ref_engine:
                        continue
                    try:
                        pd.testing.assert_frame_equal(ref, _plain(pd.read_pickle(p)), check_dtype=False,
                                                      check_categorical=False, check_index_type=False, rtol=1e-9)
                        verdict = "same"
                    except AssertionError as err:
                        verdict = "differs: " + " ".join(str(err).split())[:200]
                    checks.append({"store": store_name, "reduction": label, "engine": e, "against": ref_engine,
                                   "verdict": verdict})
        done = {(r["store"], r["reduction"], r["engine"]) for r in checks}
        kept = [r for r in self.data.get("equality", []) if (r["store"], r["reduction"], r["engine"]) not in done]
        self.data["equality"] = kept + checks  # a --redo keeps the comparisons it could not make again
        self.save()


def _plain(frame):
    """A reduction's table with its index as columns, categoricals as objects, in a stable row order."""
    import pandas as pd

    frame = frame.reset_index() if frame.index.name or isinstance(frame.index, pd.MultiIndex) else \
        frame.reset_index(drop=True)
    for col in frame.columns:
        if isinstance(frame[col].dtype, pd.CategoricalDtype) or frame[col].dtype == "string":
            frame[col] = frame[col].astype(object)
    return frame.reset_index(drop=True)


def _span(a, b):
    from datetime import datetime

    try:
        return round((datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds(), 1)
    except (TypeError, ValueError):
        return None


def _now() -> str:
    return time.strftime("%H:%M:%S", time.gmtime())


def store_rows(folder: Path) -> dict:
    """Rows of events and orders, bytes of the table files."""
    import duckdb

    from ecomlib.engine import source_bytes, table_path

    con = duckdb.connect()
    out = {"bytes": source_bytes(folder)}
    for table in ("events", "orders"):
        path = table_path(folder, table)
        if path is None:
            continue
        if path.suffix == ".csv":
            n = con.execute(f"SELECT count(*) FROM read_csv('{path}')").fetchone()[0]
        else:
            glob = str(path / "*.parquet") if path.is_dir() else str(path)
            n = con.execute(f"SELECT count(*) FROM read_parquet('{glob}')").fetchone()[0]
        out[f"{table}_rows"] = int(n)
    return out


def machine() -> dict:
    import duckdb
    import numpy
    import pandas
    import psutil

    versions = {"python": platform.python_version(), "pandas": pandas.__version__, "numpy": numpy.__version__,
                "duckdb": duckdb.__version__}
    for name in ("pyspark", "pyarrow", "sqlglot", "lifetimes", "ecomlib"):
        try:
            import importlib.metadata as md

            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            versions[name] = None
    try:
        java = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False).stderr.splitlines()[0]
    except (OSError, IndexError):
        java = None
    cpu = None
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as info:
        cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), None)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT,
                            check=False).stdout
    return {"cores": os.cpu_count(), "cpu": cpu, "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "available_gib_at_start": round(psutil.virtual_memory().available / 2**30, 1),
            "load_at_start": os.getloadavg(), "platform": platform.platform(), "java": java, "versions": versions,
            "commit": commit.strip()}


def review_jobs(store_name: str, engine: str) -> int:
    """Notebooks run at once in a whole-review case: one for the 30x store on DuckDB, whose target is the peak
    memory of the review (two kernels at once would add two notebooks' peaks), else two (the machine's cores)."""
    return 1 if (store_name, engine) == ("30x", "duckdb") else 2


def ratio_repeat(what: str, store_name: str) -> int:
    """Rounds of a side-by-side ratio case: many where a call takes milliseconds (the best of a few such calls on
    a shared machine is mostly noise), few where it takes seconds."""
    if what == "funnel_vs_sql":
        return {"1x": 30, "6x": 10, "30x": 3}.get(store_name, 2)
    return {"6x": 7}.get(store_name, 4)


def full(run: Run, args) -> None:
    """The cases in order of importance (the targets first at each size), so a run cut short keeps the most."""
    engines = [e for e in args.engines.split(",")] if args.engines else \
        (["pandas", "duckdb"] if args.quick else list(ENGINES))
    sizes = args.sizes.split(",") if args.sizes else (["1x"] if args.quick else ["1x", "6x", "30x"])
    for name in sizes:
        run.store(name)
        order = [e for e in ("duckdb", "spark", "pandas") if e in engines] if name == "30x" else engines
        for engine in order:
            for review_name in ("funnel", "cohort_ltv"):
                run.case("load", name, engine, review=review_name)
            for side in ("events", "orders"):
                run.case("reduce", name, engine, side=side)
            run.case("funnel_vs_sql", name, engine, repeat=1 if args.quick else ratio_repeat("funnel_vs_sql", name))
            if engine == "duckdb" and name == "30x":
                run.review(name, engine)  # a target: the weekly review of the 30x-orders store under 8 GB
                if not args.no_100m:  # a target: the funnel on ~100 M events under 8 GB
                    run.store("1x-e170")
                    run.case("load", "1x-e170", "duckdb", review="funnel")
                    run.case("reduce", "1x-e170", "duckdb", side="events")
                    run.case("funnel_vs_sql", "1x-e170", "duckdb", repeat=ratio_repeat("funnel_vs_sql", "1x-e170"))
        if name != "1x" or args.quick:
            run.case("lifetimes", name, None, repeat=1 if args.quick else ratio_repeat("lifetimes", name))
        if name == "6x":  # a target: ~1 M orders, ~10 M events, the whole weekly review under 2 minutes
            run.store("6x-e17")
            for engine in ("duckdb", "pandas"):
                if engine in engines:
                    run.review("6x-e17", engine)
        for engine in order:
            if engine == "duckdb" and name == "30x":
                continue  # done above
            if engine == "spark" and name != "1x":
                run.skip("review", name, engine, "not run: the whole review on Spark starts a local Spark "
                         "session in every notebook; its 1x time is the figure (the per-reduction Spark cases "
                         "cover this size)")
                continue
            run.review(name, engine, timeout=args.review_timeout)
    run.compare()


# ---------------------------------------------------------------------------------------------------------------
# Tables and plot
# ---------------------------------------------------------------------------------------------------------------
def _fmt_s(x) -> str:
    return "–" if x is None else (f"{x:,.2f} s" if x < 10 else f"{x:,.1f} s" if x < 100 else f"{x:,.0f} s")


def _fmt_mib(x) -> str:
    return "–" if x is None else f"{x:,.0f} MiB" if x < 1024 else f"{x / 1024:,.2f} GiB"


def _why(case: dict) -> str:
    if case.get("skipped"):
        return case["skipped"]
    if case["case"].get("stopped"):
        return case["case"]["stopped"]
    return "failed: " + (case.get("error") or f"exit code {case['case'].get('returncode')}")


def report(out: Path) -> None:
    data = json.loads((out / "results.json").read_text())
    lines = []
    stores = data["stores"]
    lines += ["| store | orders ×, events × | orders | events | table files |", "| --- | --- | ---: | ---: | ---: |"]
    for name, s in stores.items():
        lines.append(f"| {name} | ×{s['scale']}, ×{s['events_scale']} | {s.get('orders_rows', 0):,} | "
                     f"{s.get('events_rows', 0):,} | {s.get('bytes', 0) / 2**20:,.0f} MiB |")
    cases = data["cases"]
    # Loads and reductions: one row per store × op, one column pair per engine.
    lines += ["", "### Load and reductions (time wall / CPU, peak memory of the process during the operation)", "",
              "| store | operation | " + " | ".join(ENGINES) + " |", "| --- | --- |" + " ---: |" * len(ENGINES)]
    table: dict = {}
    for c in cases:
        if c["what"] not in ("load", "reduce"):
            continue
        if "ops" not in c:
            label = f"load_tables({c['review']!r})" if c["what"] == "load" else \
                ("funnel steps by device" if c.get("side") == "events" else "orders-side reductions")
            table.setdefault((c["store"], label), {})[c["engine"]] = _why(c)
            continue
        for op in c["ops"]:
            cell = (f"error: {op['error']}" if "error" in op else
                    f"{_fmt_s(op['seconds'])} / {_fmt_s(op['cpu_seconds'])}, {_fmt_mib(op.get('peak_mib'))}")
            table.setdefault((c["store"], op["op"]), {})[c["engine"]] = cell
    order = ["load_tables('funnel')", "load_tables('cohort_ltv')", "connect", "start Spark session + register tables",
             "load events into pandas", "load orders-side tables into pandas", *REDUCTIONS]
    rank = {name: i for i, name in enumerate(stores)}
    for (store, op), cells in sorted(table.items(), key=lambda kv: (rank.get(kv[0][0], 99),
                                                                      order.index(kv[0][1]) if kv[0][1] in order
                                                                      else 99)):
        lines.append(f"| {store} | {op} | " + " | ".join(cells.get(e, "") for e in ENGINES) + " |")
    # Equality.
    eq = data.get("equality", [])
    if eq:
        lines += ["", "### Same tables on every engine", "", "| store | reduction | engine | against | verdict |",
                  "| --- | --- | --- | --- | --- |"]
        lines += [f"| {r['store']} | {r['reduction']} | {r['engine']} | {r['against']} | {r['verdict']} |" for r in eq]
    # Funnel vs plain SQL.
    lines += ["", "### ecomlib's funnel vs the plain DuckDB query (best of N, same engine; pandas: vs DuckDB)", "",
              ("| store | engine | ecomlib wall / CPU | plain query wall / CPU (engine) | plain / ecomlib (wall) | "
               "same step counts |"), "| --- | --- | ---: | ---: | ---: | --- |"]
    for c in cases:
        if c["what"] != "funnel_vs_sql":
            continue
        if "ops" not in c:
            lines.append(f"| {c['store']} | {c['engine']} | {_why(c)} | | | |")
            continue
        r = c["ops"][0]
        lines.append(f"| {c['store']} | {c['engine']} | {_fmt_s(r['ours_seconds'])} / {_fmt_s(r['ours_cpu_seconds'])}"
                     f" | {_fmt_s(r['plain_seconds'])} / {_fmt_s(r['plain_cpu_seconds'])} ({r['plain_engine']}) | "
                     f"{r['plain_seconds'] / r['ours_seconds']:.2f}× | {'yes' if r['same_counts'] else 'NO'} |")
    # Lifetimes.
    lines += ["", "### Customer summary vs lifetimes (best of N; outputs compared to rtol 1e-9)", "",
              ("| store | counted orders | customers | lifetimes wall / CPU | ecomlib pandas wall / CPU | ratio "
               "wall / CPU | ecomlib DuckDB wall / CPU | ratio wall / CPU | identical |"),
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for c in cases:
        if c["what"] != "lifetimes":
            continue
        if "ops" not in c:
            lines.append(f"| {c['store']} | {_why(c)} | | | | | | | |")
            continue
        r = c["ops"][0]
        lw, lc = r["lifetimes_seconds"], r["lifetimes_cpu"]
        lines.append(
            f"| {c['store']} | {r['orders']:,} | {r['customers']:,} | {_fmt_s(lw)} / {_fmt_s(lc)} | "
            f"{_fmt_s(r['ecomlib_pandas_seconds'])} / {_fmt_s(r['ecomlib_pandas_cpu'])} | "
            f"{lw / r['ecomlib_pandas_seconds']:.1f}× / {lc / max(r['ecomlib_pandas_cpu'], 1e-9):.1f}× | "
            f"{_fmt_s(r['ecomlib_duckdb_seconds'])} / {_fmt_s(r['ecomlib_duckdb_cpu'])} | "
            f"{lw / r['ecomlib_duckdb_seconds']:.1f}× / {lc / max(r['ecomlib_duckdb_cpu'], 1e-9):.1f}× | "
            f"pandas: {r['pandas_vs_lifetimes']}; DuckDB: {r['duckdb_vs_lifetimes']} |")
    # Whole review.
    lines += ["", "### The whole weekly review (`ecomlib review --jobs J`)", "",
              ("| store | engine | jobs | wall | CPU (all processes) | peak total RSS | largest process | notebooks ok | "
               "load avg (mean / max) |"), "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    reviews = [c for c in cases if c["what"] == "review"]
    for c in reviews:
        if c.get("skipped") or "notebooks" not in c:
            lines.append(f"| {c['store']} | {c['engine']} | {c.get('jobs', 2)} | {_why(c)} | | | | | |")
            continue
        t = c["case"]
        ok = sum(nb["status"] == "ok" for nb in c["notebooks"])
        lines.append(f"| {c['store']} | {c['engine']} | {c.get('jobs', 2)} | {_fmt_s(t['wall_seconds'])} | {_fmt_s(t['cpu_seconds'])} | "
                     f"{_fmt_mib(t['peak_total_mib'])} | {_fmt_mib(t['peak_process_mib'])} ({t['peak_process']}) | "
                     f"{ok}/{len(c['notebooks'])} | {t['load_mean']} / {t['load_max']} |")
    done = [c for c in reviews if "notebooks" in c]
    if done:
        names = [nb["name"] for nb in done[0]["notebooks"]]
        lines += ["", "Each notebook's duration in the runner's `summary.json` (seconds; `jobs` notebooks run at once):",
                  "", "| notebook | " + " | ".join(f"{c['store']} {c['engine']}" for c in done) + " |",
                  "| --- |" + " ---: |" * len(done)]
        for n in names:
            cells = []
            for c in done:
                nb = next((x for x in c["notebooks"] if x["name"] == n), None)
                cells.append("" if nb is None else f"{nb['seconds']:.1f}" if nb["status"] == "ok" else nb["status"])
            lines.append(f"| {n} | " + " | ".join(cells) + " |")
    (out / "tables.md").write_text("\n".join(lines) + "\n")
    plot(data, out / "scale.png")
    print(f"wrote {out / 'tables.md'} and {out / 'scale.png'}")


def plot(data: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    stores = data["stores"]
    series = {("load", "load_tables('funnel')"): "events", ("reduce", "funnel steps by device"): "events",
              ("load", "load_tables('cohort_ltv')"): "orders", ("reduce", "customer summary"): "orders",
              ("reduce", "cohort matrix"): "orders"}
    colors = {"pandas": "#1f77b4", "duckdb": "#ff7f0e", "spark": "#2ca02c"}
    styles = {"load_tables('funnel')": "o-", "funnel steps by device": "s--", "load_tables('cohort_ltv')": "o-",
              "customer summary": "s--", "cohort matrix": "^:", "whole review": "D-"}
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    points: dict = {}
    for c in data["cases"]:
        if c["what"] in ("load", "reduce") and "ops" in c:
            for op in c["ops"]:
                axis = series.get((c["what"], op["op"]))
                if c["store"] == "1x-e170" and op["op"] != "funnel steps by device":
                    continue  # its loads are the 1x orders side: only its funnel is a point of the events axis
                if axis and "seconds" in op and c["store"] in stores:
                    x = stores[c["store"]].get(f"{axis}_rows")
                    points.setdefault((axis, op["op"], c["engine"]), []).append((x, op["seconds"], op["peak_mib"]))
        if c["what"] == "review" and "notebooks" in c:
            x = stores[c["store"]].get("events_rows")
            points.setdefault(("review", "whole review", c["engine"]), []).append(
                (x, c["case"]["wall_seconds"], c["case"]["peak_total_mib"]))
    titles = {"events": "events in the store", "orders": "orders in the store",
              "review": "events (orders: 1x 0.16 M, 6x 0.95 M, 30x 4.8 M at --jobs 1)"}
    for col, axis in enumerate(("events", "orders", "review")):
        for (a, op, engine), pts in sorted(points.items()):
            if a != axis:
                continue
            pts = sorted(p for p in pts if p[0])
            xs = [p[0] for p in pts]
            label = f"{op}, {engine}"
            axes[0, col].plot(xs, [p[1] for p in pts], styles.get(op, "o-"), color=colors[engine], label=label)
            axes[1, col].plot(xs, [(p[2] or float("nan")) / 1024 for p in pts], styles.get(op, "o-"),
                              color=colors[engine], label=label)
        for row, ylabel in enumerate(("wall time (s)", "peak memory (GiB)")):
            ax = axes[row, col]
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            if axis == "review":  # within one decade: a linear scale from 0 reads better
                ax.set_ylim(bottom=0, top=max([1, *[y for line in ax.lines for y in line.get_ydata()]]) * 1.15)
            else:
                ax.set_yscale("log")
                ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
                ax.yaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(
                    lambda v, _: f"{v:g}" if f"{v:.0e}"[0] in "25" else ""))
            ax.set_xlabel(titles[axis])
            ax.set_ylabel(ylabel)
            ax.grid(True, which="both", alpha=0.3)
            if ax.lines:
                ax.legend(fontsize=7)
        axes[0, col].set_title({"events": "Funnel: load and step reach", "orders": "Orders: load and reductions",
                                "review": "Whole weekly review (memory: all processes)"}[axis],
                               fontsize=10)
    fig.suptitle("ecomlib at scale (issue 18): time and peak memory against store size, per engine "
                 "(cases a run stopped or skipped have no point; see RESULTS.md)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/bench", help="results folder (default /tmp/bench)")
    parser.add_argument("--stores", default="/tmp/bench18/stores", help="where the scaled stores are kept")
    parser.add_argument("--quick", action="store_true", help="smoke run: the 1x store, pandas and DuckDB")
    parser.add_argument("--timeout", type=float, default=900, help="seconds one case may run (default 900)")
    parser.add_argument("--memory-cap-gb", type=float, default=10, help="stop a case whose processes together pass this many GiB (default 10)")
    parser.add_argument("--engines", help="comma-separated engines (default: pandas,duckdb,spark)")
    parser.add_argument("--sizes", help="comma-separated stores of 1x,6x,30x (default: all three)")
    parser.add_argument("--review-timeout", type=float, default=600,
                        help="seconds a whole review may run on pandas or Spark (default 600)")
    parser.add_argument("--no-100m", action="store_true", help="skip the 100 M-event funnel store (1x-e170)")
    parser.add_argument("--report", action="store_true", help="only rewrite tables.md and scale.png from OUT")
    parser.add_argument("--redo", help="run cases again in an existing OUT, replacing their rows: "
                        "what:store:engine[,...] with what load, reduce, funnel_vs_sql, lifetimes or review "
                        "(engine - for lifetimes), e.g. funnel_vs_sql:1x:spark")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(json.loads(args.child))
        return
    if args.report:
        report(Path(args.out))
        return
    run = Run(args)
    if args.redo:  # run cases again in an existing OUT: each replaces its earlier row
        previous = json.loads(run.path.read_text())
        run.data.update({k: v for k, v in previous.items() if k != "machine"})
        run.data.setdefault("redone", []).append({"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                                  "cases": args.redo, "machine": run.data["machine"]})
        run.data["machine"] = previous["machine"]
        run.n = 100 + len(previous["cases"])
        for item in args.redo.split(","):
            what, store_name, engine = item.split(":")
            engine = None if engine == "-" else engine
            run.store(store_name)
            keep = [c for c in run.data["cases"]
                    if not (c["what"] == what and c["store"] == store_name and c["engine"] == engine)]
            run.data["cases"] = keep
            if what == "review":
                run.review(store_name, engine, timeout=args.review_timeout)
            else:
                extra = {"repeat": ratio_repeat(what, store_name)} if what in ("funnel_vs_sql", "lifetimes") else {}
                for sub in (("review", "funnel"), ("review", "cohort_ltv")) if what == "load" else \
                        (("side", "events"), ("side", "orders")) if what == "reduce" else ((None, None),):
                    run.case(what, store_name, engine, **({sub[0]: sub[1]} if sub[0] else {}), **extra)
        run.compare()
        report(run.out)
        return
    print(f"[{_now()}] machine: {json.dumps(run.data['machine'])}", flush=True)
    full(run, args)
    run.data["load_at_end"] = os.getloadavg()
    run.save()
    report(run.out)


if __name__ == "__main__":
    main()
