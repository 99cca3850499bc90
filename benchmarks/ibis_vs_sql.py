"""Benchmark (not a test): Ibis against hand-written DuckDB SQL transpiled to Spark with sqlglot (issue 18).

Run from the repository root, with the project's virtualenv (SQL part; the Ibis part is skipped with a message
when ibis is not importable) or with a separate one that has ibis::

    .venv/bin/python benchmarks/ibis_vs_sql.py                   # demo store, then its events/orders x10
    /tmp/ibis-venv/bin/python benchmarks/ibis_vs_sql.py          # the same, plus the Ibis variants
    .venv/bin/python benchmarks/ibis_vs_sql.py --scale 1 --no-spark   # a quick look (DuckDB only)

where ``/tmp/ibis-venv`` holds the newest stack on which both Ibis backends run::

    python3 -m venv /tmp/ibis-venv
    /tmp/ibis-venv/bin/pip install 'ibis-framework[duckdb,pyspark]==12.0.0' 'duckdb<2' 'pyspark<4.1' pandas pyarrow sqlglot

(With the kit's duckdb==2.0.0 and pyspark==4.3.0 pip resolves ibis-framework 10.5.0 and pandas 2.3.3; its duckdb
backend fails to load, which the script reports before running the other variants.)

Two reductions, each written twice — once as DuckDB SQL (run on DuckDB, and on a local Spark session after
``sqlglot.transpile(sql, read="duckdb", write="spark")``), once as an Ibis expression (run on Ibis's duckdb and
pyspark backends):

1. Closed session funnel view_item → add_to_cart → begin_checkout → purchase with a 30-minute window: a session
   enters at its first view_item at or after ``start`` (t0), counted when t0 < ``end``; it reaches step k at the
   earliest step-k event with t(k−1) <= t(k) <= t0 + 30 min (ties count as in order). Per step, overall and by
   device: units reaching it, median and p90 seconds from the previous step (linear interpolation, as pandas'
   ``quantile``) — the definition of ``ecomlib.funnel.step_conversion(..., by="device", period=...)``.
2. Customer summary as lifetimes' ``summary_data_from_transaction_data(freq="D")``: per customer, over counted
   orders (completed, partially_refunded) on or before the observation end's day: frequency = distinct order
   days − 1, recency = days first → last order day, T = days first order day → observation end, monetary_value
   = mean daily revenue over repeat days (0 when frequency is 0) — ``ecomlib.ltv.customer_summary(time_unit="D")``.

The inputs are written once to a temporary folder as Parquet by DuckDB (the demo's ``events.parquet`` and
``orders.csv``; with ``--scale N`` also a copy with every event N times under new session ids and every order N
times under new customer ids). All variants' answers are checked equal (counts exactly, seconds and money to
1e-9 relative) — and equal to the ecomlib pandas functions when ecomlib is importable — before any time is
reported. Times are wall clock, the median of ``--repeat`` runs after one warm-up run (Spark: the session is
started before; a run includes planning, execution and the conversion to pandas).
Also reported: lines of code of each definition, import time of each stack (fresh processes, median of 3) and
the installed size of ibis and of the packages it adds to a SQL + sqlglot stack. The figures in
``docs/decisions.md`` ("Ibis or hand-written SQL + sqlglot") come from this script.
"""

from __future__ import annotations

import argparse
import functools
import importlib.metadata
import importlib.util
import inspect
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import sqlglot
from sqlglot import exp

ROOT = Path(__file__).resolve().parents[1]
STEPS = ("view_item", "add_to_cart", "begin_checkout", "purchase")
COUNTED = ("completed", "partially_refunded")
ALL = "(all)"  # the device value of the rows over every device

# The two reductions in DuckDB's dialect: paste into a DuckDB shell after `CREATE VIEW events AS FROM '….parquet'`.
FUNNEL_SQL = """
WITH ev AS (
    SELECT session_id, device, event_time,
           CASE event_name WHEN 'view_item' THEN 1 WHEN 'add_to_cart' THEN 2
                           WHEN 'begin_checkout' THEN 3 WHEN 'purchase' THEN 4 END AS step
    FROM events
    WHERE event_name IN ('view_item', 'add_to_cart', 'begin_checkout', 'purchase')
      AND event_time >= TIMESTAMP '{start}' AND event_time < TIMESTAMP '{end}' + INTERVAL 30 MINUTE
),
s1 AS (
    SELECT session_id, arg_min(device, event_time) AS device, min(event_time) AS t0
    FROM ev WHERE step = 1
    GROUP BY session_id
    HAVING min(event_time) < TIMESTAMP '{end}'
),
s2 AS (
    SELECT p.session_id, p.device, p.t0, p.t0 AS t_prev, min(e.event_time) AS t
    FROM s1 p JOIN ev e ON e.session_id = p.session_id AND e.step = 2
                       AND e.event_time >= p.t0 AND e.event_time <= p.t0 + INTERVAL 30 MINUTE
    GROUP BY p.session_id, p.device, p.t0
),
s3 AS (
    SELECT p.session_id, p.device, p.t0, p.t AS t_prev, min(e.event_time) AS t
    FROM s2 p JOIN ev e ON e.session_id = p.session_id AND e.step = 3
                       AND e.event_time >= p.t AND e.event_time <= p.t0 + INTERVAL 30 MINUTE
    GROUP BY p.session_id, p.device, p.t0, p.t
),
s4 AS (
    SELECT p.session_id, p.device, p.t0, p.t AS t_prev, min(e.event_time) AS t
    FROM s3 p JOIN ev e ON e.session_id = p.session_id AND e.step = 4
                       AND e.event_time >= p.t AND e.event_time <= p.t0 + INTERVAL 30 MINUTE
    GROUP BY p.session_id, p.device, p.t0, p.t
),
reached AS (
    SELECT 1 AS step, device, CAST(NULL AS DOUBLE) AS seconds FROM s1
    UNION ALL SELECT 2, device, date_diff('microsecond', t_prev, t) / 1e6 FROM s2
    UNION ALL SELECT 3, device, date_diff('microsecond', t_prev, t) / 1e6 FROM s3
    UNION ALL SELECT 4, device, date_diff('microsecond', t_prev, t) / 1e6 FROM s4
)
SELECT step, CASE WHEN GROUPING(device) = 1 THEN '(all)' ELSE device END AS device,
       count(*) AS units, median(seconds) AS median_seconds, quantile_cont(seconds, 0.9) AS p90_seconds
FROM reached
GROUP BY GROUPING SETS ((step, device), (step))
"""

SUMMARY_SQL = """
WITH days AS (
    SELECT customer_id, CAST(order_time AS DATE) AS day, sum(revenue) AS revenue
    FROM orders
    WHERE status IN ('completed', 'partially_refunded') AND customer_id IS NOT NULL
      AND CAST(order_time AS DATE) <= DATE '{end}'
    GROUP BY customer_id, CAST(order_time AS DATE)
),
numbered AS (
    SELECT *, row_number() OVER (PARTITION BY customer_id ORDER BY day) AS n FROM days
)
SELECT customer_id,
       CAST(count(*) - 1 AS DOUBLE) AS frequency,
       CAST(date_diff('day', min(day), max(day)) AS DOUBLE) AS recency,
       CAST(date_diff('day', min(day), DATE '{end}') AS DOUBLE) AS T,
       CASE WHEN count(*) > 1 THEN sum(CASE WHEN n > 1 THEN revenue ELSE 0 END) / (count(*) - 1)
            ELSE 0 END AS monetary_value
FROM numbered
GROUP BY customer_id
"""


# The same in Ibis ----------------------------------------------------------------------------------------------
def ibis_funnel(events, start: str, end: str):
    """The closed session funnel as an Ibis expression over the ``events`` table expression."""
    import ibis
    from ibis import _

    t_start, t_end = ibis.timestamp(start), ibis.timestamp(end)
    window = ibis.interval(minutes=30)
    step = _.event_name.cases(*((name, k) for k, name in enumerate(STEPS, 1)))
    ev = (events.filter(_.event_name.isin(STEPS), _.event_time >= t_start, _.event_time < t_end + window)
          .select("session_id", "device", "event_time", step=step))
    s1 = (ev.filter(_.step == 1).group_by("session_id")
          .aggregate(device=_.device.argmin(_.event_time), t0=_.event_time.min())
          .filter(_.t0 < t_end))
    reached = [s1.select("device", step=ibis.literal(1), seconds=ibis.null("float64"))]
    prev = s1.mutate(t=_.t0)
    for k in range(2, len(STEPS) + 1):
        e = ev.filter(_.step == k).select(sid="session_id", te="event_time")
        prev = (prev.join(e, [prev.session_id == e.sid, e.te >= prev.t, e.te <= prev.t0 + window])
                .group_by("session_id", "device", "t0", t_prev=_.t)
                .aggregate(t=_.te.min()))
        seconds = _.t.delta(_.t_prev, unit="microsecond").cast("float64") / 1e6
        reached.append(prev.select("device", step=ibis.literal(k), seconds=seconds))
    reached = ibis.union(*reached)
    stats = {"units": _.count(), "median_seconds": _.seconds.median(), "p90_seconds": _.seconds.quantile(0.9)}
    by_device = reached.group_by("step", "device").aggregate(**stats)
    overall = reached.group_by("step").aggregate(**stats).mutate(device=ibis.literal(ALL))
    return ibis.union(by_device, overall.select(by_device.columns))


def ibis_summary(orders, end: str):
    """The customer summary as an Ibis expression over the ``orders`` table expression."""
    import ibis
    from ibis import _

    last = ibis.date(end)
    days = (orders.filter(_.status.isin(COUNTED), _.customer_id.notnull(), _.order_time.date() <= last)
            .group_by("customer_id", day=_.order_time.date()).aggregate(revenue=_.revenue.sum()))
    days = days.mutate(n=ibis.row_number().over(group_by="customer_id", order_by="day"))
    out = days.group_by("customer_id").aggregate(
        days=_.count(), first=_.day.min(), last=_.day.max(),
        repeat=_.revenue.sum(where=_.n > 0))  # row_number() counts from 0 in Ibis
    return out.select(
        "customer_id", frequency=(_.days - 1).cast("float64"),
        recency=_.last.delta(_.first, unit="day").cast("float64"),
        T=last.delta(out.first, unit="day").cast("float64"),  # a deferred `_` is not resolved inside a literal's method
        monetary_value=ibis.ifelse(_.days > 1, _.repeat.fill_null(0) / (_.days - 1), 0.0))


# Data ----------------------------------------------------------------------------------------------------------
def prepare(data_dir: Path, out: Path, scale: int) -> dict[str, str]:
    """Write events and orders as Parquet (scaled ``scale`` times under new ids when scale > 1); their paths."""
    con = duckdb.connect()
    events, orders = data_dir / "events.parquet", data_dir / "orders.csv"
    copies = "" if scale == 1 else f", range({scale}) copies(k)"
    columns = "*" if scale == 1 else "* REPLACE (session_id || '-' || k AS session_id)"
    cid = "customer_id" if scale == 1 else "customer_id || '-' || k AS customer_id"
    paths = {"events": str(out / f"events_x{scale}.parquet"), "orders": str(out / f"orders_x{scale}.parquet")}
    con.execute(f"COPY (SELECT {columns} FROM read_parquet('{events}'){copies}) "
                f"TO '{paths['events']}' (FORMAT parquet)")
    con.execute(f"COPY (SELECT order_id, {cid}, order_time, status, revenue FROM read_csv('{orders}'){copies}) "
                f"TO '{paths['orders']}' (FORMAT parquet)")
    return paths


def one(sql: str) -> tuple:
    """The first row of a DuckDB query (DuckDB 2 relations have no ``fetchone``; a connection's result does)."""
    return duckdb.connect().execute(sql).fetchone()


def default_range(paths: dict[str, str]) -> tuple[str, str, str]:
    """Funnel period [first event's day, last event's day + 1) and the summary's observation end (last order day)."""
    lo, hi = one(f"SELECT min(event_time)::DATE, max(event_time)::DATE + 1 "
                        f"FROM read_parquet('{paths['events']}')")
    last = one(f"SELECT max(order_time)::DATE FROM read_parquet('{paths['orders']}')")[0]
    return f"{lo} 00:00:00", f"{hi} 00:00:00", str(last)


# The four ways to run each reduction -----------------------------------------------------------------------------
def spark_session():
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[2]").appName("ibis_vs_sql")
            .config("spark.sql.session.timeZone", "UTC").config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "4").config("spark.driver.memory", "6g")
            .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def to_spark(sql: str, *, pretty: bool = False) -> str:
    """``sqlglot.transpile(sql, read="duckdb", write="spark")`` with the one fix these queries need.

    DuckDB's ``quantile_cont(x, q)`` (exact, interpolated) comes out as ``PERCENTILE_CONT(x, q)``, which Spark
    rejects (its ``percentile_cont`` only takes ``(q) WITHIN GROUP (ORDER BY x)``); Spark's exact interpolated
    quantile is ``percentile(x, q)``, which sqlglot writes for its ``Quantile`` node. (The ``WITHIN GROUP``
    spelling is no way out: sqlglot turns it into Spark's ``PERCENTILE_APPROX``, an approximation.)
    """
    def exact_quantile(node):
        if isinstance(node, exp.PercentileCont) and node.expression is not None:
            return exp.Quantile(this=node.this, quantile=node.expression)
        return node

    return sqlglot.parse_one(sql, read="duckdb").transform(exact_quantile).sql(dialect="spark", pretty=pretty)


class Runners:
    """Callables ``(reduction) -> pandas.DataFrame`` for each available variant on one pair of input files."""

    def __init__(self, paths: dict[str, str], start: str, end: str, obs_end: str, *, spark=None, ibis_ok=False):
        self.sql = {"funnel": FUNNEL_SQL.format(start=start, end=end), "summary": SUMMARY_SQL.format(end=obs_end)}
        self.duck = duckdb.connect()
        for name, path in paths.items():
            self.duck.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{path}')")
        self.variants = {"sql/duckdb": self.sql_duckdb}
        self.spark = spark
        if spark is not None:
            for name, path in paths.items():
                spark.read.parquet(path).createOrReplaceTempView(name)
            self.variants["sql->spark"] = self.sql_spark
        self.failures: dict[str, str] = {}
        if ibis_ok:
            backends = {"duckdb": lambda ibis: ibis.duckdb.connect()}
            if spark is not None:
                backends["pyspark"] = lambda ibis: ibis.pyspark.connect(spark)
            for backend, connect in backends.items():
                self._add_ibis(backend, connect, paths, start, end, obs_end)

    def _add_ibis(self, backend, connect, paths, start, end, obs_end) -> None:
        """The Ibis variant on one backend, or the reason it cannot run here (in ``failures``)."""
        import ibis

        try:
            exprs = self._exprs(connect(ibis), paths, start, end, obs_end)
        except Exception as error:  # noqa: BLE001  (an incompatible backend: record what broke, run the others)
            self.failures[f"ibis/{backend}"] = f"{type(error).__name__}: {error}".splitlines()[0][:300]
            return
        self.variants[f"ibis/{backend}"] = lambda reduction: exprs[reduction].to_pandas()

    @staticmethod
    def _exprs(con, paths, start, end, obs_end) -> dict:
        events = con.read_parquet(paths["events"], table_name="ibis_events")
        orders = con.read_parquet(paths["orders"], table_name="ibis_orders")
        return {"funnel": ibis_funnel(events, start, end), "summary": ibis_summary(orders, obs_end)}

    def sql_duckdb(self, reduction: str) -> pd.DataFrame:
        return self.duck.sql(self.sql[reduction]).df()

    def sql_spark(self, reduction: str) -> pd.DataFrame:
        return self.spark.sql(to_spark(self.sql[reduction])).toPandas()


# Checking the answers ----------------------------------------------------------------------------------------------
KEYS = {"funnel": ["step", "device"], "summary": ["customer_id"]}
COUNTS = {"funnel": ["units"], "summary": ["frequency", "recency", "T"]}
FLOATS = {"funnel": ["median_seconds", "p90_seconds"], "summary": ["monetary_value"]}


def normalized(reduction: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Plain numpy dtypes, rows sorted by the keys (engines return any order and their own dtypes)."""
    out = pd.DataFrame({c: frame[c].astype(object if c in ("device", "customer_id") else
                                            "int64" if c in ("step", "units") else "float64").to_numpy()
                        for c in KEYS[reduction] + COUNTS[reduction] + FLOATS[reduction]})
    return out.sort_values(KEYS[reduction]).reset_index(drop=True)


def differences(reduction: str, a: pd.DataFrame, b: pd.DataFrame) -> list[str]:
    """What differs between two normalized answers (empty when equal: counts exactly, floats to 1e-9)."""
    if len(a) != len(b):
        return [f"{len(a)} rows against {len(b)}"]
    out = [c for c in KEYS[reduction] + COUNTS[reduction] if not (a[c].to_numpy() == b[c].to_numpy()).all()]
    for c in FLOATS[reduction]:
        x, y = a[c].to_numpy(float), b[c].to_numpy(float)
        if not np.allclose(x, y, rtol=1e-9, atol=1e-9, equal_nan=True):
            worst = np.nanmax(np.abs(x - y))
            out.append(f"{c} (largest difference {worst:g})")
    return out


def pandas_reference(reduction: str, paths: dict[str, str], start: str, end: str, obs_end: str):
    """The ecomlib pandas answer (None when ecomlib cannot be imported in this environment)."""
    sys.path.insert(0, str(ROOT))
    try:
        from ecomlib import funnel, ltv
        from ecomlib.periods import Period
    except ImportError:
        return None
    if reduction == "funnel":
        events = pd.read_parquet(paths["events"])
        period = Period(pd.Timestamp(start), pd.Timestamp(end))
        parts = [funnel.step_conversion(events, steps=STEPS, period=period).assign(device=ALL),
                 funnel.step_conversion(events, steps=STEPS, period=period, by="device")]
        table = pd.concat(parts, ignore_index=True)
        table = table[table["units"] > 0]  # SQL has no row for a (device, step) that no unit reached
        return pd.DataFrame({"step": table["step"].cat.codes + 1, "device": table["device"],
                             "units": table["units"], "median_seconds": table["median_time_from_previous"],
                             "p90_seconds": table["p90_time_from_previous"]})
    orders = pd.read_parquet(paths["orders"])
    return ltv.customer_summary(orders, obs_end, time_unit="D").reset_index()


# Measuring --------------------------------------------------------------------------------------------------------
def timed(fn, repeat: int) -> float:
    """Median wall time (s) of ``repeat`` calls after one warm-up call."""
    fn()
    walls = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - began)
    return statistics.median(walls)


def lines_of_code() -> dict[str, int]:
    """Non-blank, non-comment lines of each definition."""
    def count(text: str) -> int:
        return sum(1 for line in text.splitlines() if line.strip() and not line.strip().startswith(("#", "--")))

    body = lambda fn: "\n".join(inspect.getsource(fn).splitlines()[2:])  # without def line and docstring
    return {"funnel sql": count(FUNNEL_SQL), "summary sql": count(SUMMARY_SQL),
            "funnel ibis": count(body(ibis_funnel)), "summary ibis": count(body(ibis_summary))}


def import_seconds(module: str, repeat: int = 3) -> float:
    """Median time to import ``module`` in a fresh interpreter."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    return statistics.median(float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                                  check=True).stdout) for _ in range(repeat))


def _closure(requirements: list[str]) -> set[str]:
    """Installed distributions that ``requirements`` (such as ``"ibis-framework[duckdb]"``) pull in, markers honoured."""
    from packaging.requirements import Requirement

    seen, found, todo = set(), set(), [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        key = (req.name.lower().replace("_", "-"), frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            requires = importlib.metadata.requires(key[0]) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        found.add(key[0])
        for text in requires:
            sub = Requirement(text)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in {"", *req.extras}):
                todo.append(sub)
    return found


def _size_mib(dist: str) -> float:
    files = importlib.metadata.distribution(dist).files or []
    return sum(f.locate().stat().st_size for f in files if f.locate().exists()) / 2**20


def dependency_weight() -> dict | None:
    """Installed MiB: the SQL stack, ibis itself, and the packages ibis[duckdb,pyspark] adds to the SQL stack."""
    try:
        importlib.metadata.distribution("ibis-framework")
        import packaging  # noqa: F401
    except (importlib.metadata.PackageNotFoundError, ImportError):
        return None
    sql_stack = _closure(["duckdb", "sqlglot", "pyspark", "pandas", "pyarrow"])
    added = sorted(_closure(["ibis-framework[duckdb,pyspark]"]) - sql_stack)
    return {"sql stack MiB": sum(map(_size_mib, sorted(sql_stack))),
            "ibis-framework MiB": _size_mib("ibis-framework"),
            "ibis adds MiB": sum(map(_size_mib, added)), "ibis adds": ", ".join(added)}


# What sqlglot's DuckDB -> Spark transpilation keeps, changes or breaks ---------------------------------------------
# Each probe is a DuckDB expression over two tiny tables: nums(x DOUBLE: 0, 1, …, 10) for aggregates, and one row
# (a = 2026-03-07 23:00:00.25, b = 2026-03-08 01:00:00.75, d1 = 2026-01-31, d2 = 2026-02-01, n = 7, s = 'x').
PROBES = {
    "quantile_cont(x, 0.85)": "nums",
    "percentile_cont(0.85) WITHIN GROUP (ORDER BY x)": "nums",
    "quantile(x, 0.85)": "nums",
    "quantile_disc(x, 0.85)": "nums",
    "median(x)": "nums",
    "arg_min(x, -x)": "nums",
    "count(*) FILTER (WHERE x > 4)": "nums",
    "string_agg(CAST(x AS VARCHAR), ',' ORDER BY x DESC)": "nums",
    "a + INTERVAL 30 MINUTE": "one",
    "a + n * INTERVAL 1 MINUTE": "one",
    "a + to_minutes(n)": "one",
    "TIMESTAMP '2026-03-08 00:00:00' < b": "one",
    "date_diff('microsecond', a, b) / 1e6": "one",
    "epoch(b) - epoch(a)": "one",
    "epoch_us(b) - epoch_us(a)": "one",
    "date_diff('day', a, b)": "one",
    "date_diff('day', CAST(a AS DATE), CAST(b AS DATE))": "one",
    "date_diff('month', d1, d2)": "one",
    "d2 - d1": "one",
    "CAST(a AS DATE)": "one",
    "date_trunc('week', a)": "one",
    "dayofweek(b)": "one",
    "isodow(b)": "one",
    "strftime(a, '%Y-%m-%d %H:%M')": "one",
    "n // 2": "one",
    "n / 2": "one",
    "s || NULL": "one",
    # whole statements (value None): DuckDB-only syntax
    "SELECT sum(x) AS v FROM (SELECT * REPLACE (x + 1 AS x) FROM nums)": None,
    "SELECT count(*) AS v FROM (SELECT * EXCLUDE (s) FROM one)": None,
    "SELECT count(*) AS v FROM nums, range(3) t(k)": None,
    "SELECT x AS v FROM nums QUALIFY row_number() OVER (ORDER BY x DESC) = 1": None,
}


def transpile_check(spark) -> list[dict]:
    """Run each probe on DuckDB and, transpiled, on Spark; whether Spark gives the same value, another, or fails."""
    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect()
        tables = {"nums": "SELECT CAST(range AS DOUBLE) AS x FROM range(11)",
                  "one": "SELECT TIMESTAMP '2026-03-07 23:00:00.25' AS a, TIMESTAMP '2026-03-08 01:00:00.75' AS b, "
                         "DATE '2026-01-31' AS d1, DATE '2026-02-01' AS d2, 7 AS n, 'x' AS s"}
        for name, query in tables.items():
            path = f"{tmp}/{name}.parquet"
            con.execute(f"COPY ({query}) TO '{path}' (FORMAT parquet)")
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{path}')")
            spark.read.parquet(path).createOrReplaceTempView(name)
        rows = []
        for expression, table in PROBES.items():
            sql = expression if table is None else f"SELECT {expression} AS v FROM {table}"
            spark_sql = sqlglot.transpile(sql, read="duckdb", write="spark")[0]
            mine = con.execute(sql).fetchone()[0]
            try:
                theirs = spark.sql(spark_sql).collect()[0][0]
                same = _same(mine, theirs)
                verdict = "same" if same else f"DIFFERS: DuckDB {mine!r}, Spark {theirs!r}"
            except Exception as error:  # noqa: BLE001  (Spark's verdict on the transpiled SQL is the result)
                verdict = "FAILS on Spark: " + next(line for line in str(error).splitlines() if line.strip())[:120]
            spark_expr = spark_sql if table is None else spark_sql.removeprefix("SELECT ").rsplit(" AS v FROM", 1)[0]
            rows.append({"duckdb": expression, "spark": spark_expr, "verdict": verdict})
            print(f"  {expression:<52} -> {spark_expr:<58} {verdict}")
        return rows


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(a)))
    if hasattr(a, "total_seconds") or hasattr(b, "total_seconds"):  # an interval against a number of days
        return False
    return a == b


# Main ----------------------------------------------------------------------------------------------------------------
def run(paths, start, end, obs_end, *, spark, ibis_ok, repeat, check_pandas) -> list[dict]:
    runners = Runners(paths, start, end, obs_end, spark=spark, ibis_ok=ibis_ok)
    rows = []
    for reduction in ("funnel", "summary"):
        answers = {}
        for name, fn in list(runners.variants.items()):
            try:
                answers[name] = normalized(reduction, fn(reduction))
            except Exception as error:  # recorded and reported; the other variants still run
                if not name.startswith("ibis/"):
                    raise
                runners.failures[f"{name} ({reduction})"] = f"{type(error).__name__}: {error}".splitlines()[0][:300]
        for name, why in runners.failures.items():
            print(f"  {name} cannot run here: {why}")
            rows.append({"reduction": reduction, "variant": name, "failed": why})
        runners.failures.clear()
        if check_pandas:
            ref = pandas_reference(reduction, paths, start, end, obs_end)
            if ref is not None:
                answers["ecomlib pandas"] = normalized(reduction, ref)
        first = next(iter(answers))
        for name, answer in answers.items():
            wrong = differences(reduction, answers[first], answer)
            if wrong:
                raise SystemExit(f"{reduction}: {name} differs from {first}: {'; '.join(wrong)}")
        print(f"  {reduction}: {len(answers[first]):,} rows, identical in {', '.join(answers)}")
        for name, fn in runners.variants.items():
            if name not in answers:
                continue
            seconds = timed(functools.partial(fn, reduction), repeat)
            load = os.getloadavg()[0]
            rows.append({"reduction": reduction, "variant": name, "seconds": seconds, "load": load})
            print(f"    {name:<14} {seconds:8.3f} s   (load average {load:.1f})")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "demo", help="dataset folder (demo store)")
    parser.add_argument("--scale", type=int, default=10, help="also run on events and orders copied N times")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per variant (median reported)")
    parser.add_argument("--no-spark", action="store_true", help="DuckDB only")
    parser.add_argument("--show-sql", action="store_true", help="print the DuckDB SQL, its Spark transpilation "
                        "and the SQL Ibis emits, then stop")
    parser.add_argument("--transpile-check", action="store_true", help="run small DuckDB expressions on DuckDB and, "
                        "transpiled by sqlglot, on Spark; show which keep their value, change it or fail; then stop")
    parser.add_argument("--json", type=Path, help="write the measurements here")
    args = parser.parse_args()
    ibis_ok = importlib.util.find_spec("ibis") is not None
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
          f"Python {platform.python_version()} ({sys.prefix})")
    versions = {d: _version(d) for d in ("duckdb", "sqlglot", "pyspark", "pandas", "pyarrow", "ibis-framework")}
    print("versions: " + ", ".join(f"{d} {v}" for d, v in versions.items()))
    if not ibis_ok:
        print("ibis is not importable in this environment: the Ibis variants are skipped "
              "(run with a virtualenv that has ibis-framework[duckdb,pyspark] to compare them)")
    report = {"versions": versions, "loc": lines_of_code(), "runs": []}
    if args.transpile_check:
        spark = spark_session()
        transpile_check(spark)
        spark.stop()
        return
    with tempfile.TemporaryDirectory() as tmp:
        if args.show_sql:
            show_sql(args.data, Path(tmp), ibis_ok)
            return
        spark = None if args.no_spark else spark_session()
        for scale in sorted({1, args.scale}):
            began = time.perf_counter()
            paths = prepare(args.data, Path(tmp), scale)
            start, end, obs_end = default_range(paths)
            n_events, n_orders = (one(f"SELECT count(*) FROM read_parquet('{paths[t]}')")[0]
                                  for t in ("events", "orders"))
            print(f"x{scale}: {n_events:,} events, {n_orders:,} orders (written in {time.perf_counter() - began:.1f} s);"
                  f" funnel period [{start}, {end}), summary observation end {obs_end}")
            rows = run(paths, start, end, obs_end, spark=spark, ibis_ok=ibis_ok, repeat=args.repeat,
                       check_pandas=scale == 1)
            report["runs"] += [dict(row, scale=scale, events=n_events, orders=n_orders) for row in rows]
        if spark is not None:
            spark.stop()
    report["import seconds"] = {m: import_seconds(m) for m in ("duckdb", "sqlglot", "pyspark.sql")
                                + (("ibis",) if ibis_ok else ())}
    report["weight"] = dependency_weight()
    print("lines of code:", report["loc"])
    print("import seconds:", {m: round(s, 3) for m, s in report["import seconds"].items()})
    if report["weight"]:
        print("installed size:", {k: round(v, 1) if isinstance(v, float) else v
                                  for k, v in report["weight"].items()})
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def show_sql(data_dir: Path, tmp: Path, ibis_ok: bool) -> None:
    paths = prepare(data_dir, tmp, 1)
    start, end, obs_end = default_range(paths)
    for name, sql in (("funnel", FUNNEL_SQL.format(start=start, end=end)),
                      ("summary", SUMMARY_SQL.format(end=obs_end))):
        print(f"-- {name}: DuckDB\n{sql.strip()}\n\n-- {name}: sqlglot -> Spark (with the quantile fix)\n"
              f"{to_spark(sql, pretty=True)}\n")
    if ibis_ok:
        import ibis

        ibis.pyspark  # noqa: B018  (loading the backend registers the options its SQL compiler reads)

        try:
            exprs = Runners._exprs(ibis.duckdb.connect(), paths, start, end, obs_end)
        except Exception as error:  # noqa: BLE001  (e.g. Ibis 10.5's duckdb backend on DuckDB 2.0)
            print(f"-- Ibis cannot build the expressions here: {type(error).__name__}: {error}")
            return
        for name, expr in exprs.items():
            for dialect in ("duckdb", "pyspark"):
                print(f"-- {name}: Ibis -> {dialect}\n{ibis.to_sql(expr, dialect=dialect)}\n")


if __name__ == "__main__":
    main()
