"""Query engines: the funnel reduction gives the pandas answer on DuckDB and Spark; sources, SQL text and checks."""

from __future__ import annotations

import pandas as pd
import pytest

from ecomlib import engine, funnel
from ecomlib.errors import ContractError, EngineError, FunnelError, MissingTableError, ParameterError
from ecomlib.periods import Period, parse_period

WEEK = parse_period("2026-W47")


def _same(expected: pd.DataFrame, got: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(expected.reset_index(drop=True), got.reset_index(drop=True), check_dtype=False,
                                  check_categorical=False, rtol=1e-9)


# --- the funnel reduction on the demo store: pandas vs DuckDB vs Spark -------------------------------------------
def test_funnel_steps_equal_pandas_on_every_engine(sql_engine, demo_events):
    """All units, and by device: counts exact, median and p90 seconds between steps equal (both engines)."""
    events = demo_events.events
    _same(funnel.step_conversion(events, period=WEEK), funnel.step_conversion_on(sql_engine, period=WEEK))
    expected = funnel.step_conversion(events, by="device", period=WEEK)
    got = funnel.step_conversion_on(sql_engine, by="device", period=WEEK)
    got["device"] = got["device"].astype(object)
    _same(expected.assign(device=expected["device"].astype(object)), got)


def test_funnel_excluded_days_and_user_windows_equal_pandas_on_every_engine(sql_engine, demo_events):
    """Units entering on excluded days are left out (the entries filtered before the steps), and the 7-day user
    window is bounded on the event time as pandas bounds it."""
    events, days = demo_events.events, [pd.Timestamp("2026-11-17"), pd.Timestamp("2026-11-20")]
    expected = funnel.segment_conversion(events, breakdowns=["device"], period=WEEK, exclude_days=days)
    got = funnel._segment_tables(sql_engine, breakdowns=["device"], orders=None, steps=funnel.STEPS, unit="session",
                                 window=None, mode="closed", period=WEEK, exclude_days=(days,), top=None)[0]
    _same(expected, got)
    assert got["units"].iloc[0] < funnel.step_conversion(events, period=WEEK)["units"].iloc[0]
    _same(funnel.step_conversion(events, unit="user", period=WEEK),
          funnel.step_conversion_on(sql_engine, unit="user", period=WEEK))


def test_funnel_trend_and_customer_type_equal_pandas_on_duckdb(demo_events, demo_dir):
    eng = engine.DuckDBEngine(demo_dir)
    trend_period = Period(pd.Timestamp("2026-10-26"), WEEK.end)
    _same(funnel.conversion_trend(demo_events.events, period=trend_period),
          funnel.step_conversion_on(eng, by="date", period=trend_period))
    typed = funnel.add_customer_type(demo_events.events, demo_events.orders, before=WEEK.start)
    expected = funnel.step_conversion(typed, by="customer_type", period=WEEK)
    _same(expected.assign(customer_type=expected["customer_type"].astype(object)),
          funnel.step_conversion_on(eng, by="customer_type", period=WEEK))


def test_funnel_review_tables_equal_on_duckdb(demo_dir):
    """compute() with the events left in DuckDB gives every table and value of the pandas run."""
    options = dict(breakdowns=["device", "channel", "customer_type"])
    on_pandas = funnel.compute(funnel.load(demo_dir), WEEK, **options)
    ds = funnel.load(demo_dir, engine="duckdb")
    assert ds.events is None and ds.engine.name == "duckdb"
    on_duckdb = funnel.compute(ds, WEEK, **options)
    assert on_pandas.tables.keys() == on_duckdb.tables.keys()
    for name in on_pandas.tables:
        _same(on_pandas.tables[name], on_duckdb.tables[name])
    assert on_pandas.values == on_duckdb.values
    assert ds.engine.rows_scanned > 0 and ds.engine.queries >= 8


# --- the SQL's rules on hand-made events (DuckDB) ----------------------------------------------------------------
def _events_store(tmp_path, rows):
    frame = pd.DataFrame(rows, columns=["event_time", "event_name", "session_id", "device"]).assign(
        event_time=lambda d: pd.to_datetime(d["event_time"]), user_id=lambda d: "u" + d["session_id"])
    frame.to_parquet(tmp_path / "events.parquet", index=False)
    return frame


def test_funnel_sql_rules_match_pandas_on_edge_cases(tmp_path):
    """Ties at one instant count as 'after'; the window bound is inclusive; entry before the period is not an
    entry; a unit entering at the period's last second still counts; a missing device is its own group."""
    rows = [
        ("2026-11-16 10:00:00", "view_item", "s1", "mobile"), ("2026-11-16 10:00:00", "add_to_cart", "s1", "mobile"),
        ("2026-11-16 10:30:00", "begin_checkout", "s1", "mobile"),  # exactly 30 min after entry: inside
        ("2026-11-16 10:30:01", "purchase", "s1", "mobile"),        # one second late: outside
        ("2026-11-15 23:59:00", "view_item", "s2", "desktop"), ("2026-11-16 00:05:00", "add_to_cart", "s2", "desktop"),
        ("2026-11-22 23:59:59", "view_item", "s3", None), ("2026-11-23 00:10:00", "add_to_cart", "s3", None),
        ("2026-11-17 09:00:00", "add_to_cart", "s4", "mobile"), ("2026-11-17 09:01:00", "view_item", "s4", "mobile"),
        ("2026-11-17 09:02:00", "add_to_cart", "s4", "mobile"), ("2026-11-17 09:03:00", "add_to_cart", "s4", "mobile"),
    ]
    events = _events_store(tmp_path, rows)
    eng = engine.DuckDBEngine(tmp_path)
    for by in (None, "device"):
        expected = funnel.step_conversion(events, by=by, period=WEEK)
        got = funnel.step_conversion_on(eng, by=by, period=WEEK)
        if by:
            got = got.astype({"device": object})
        _same(expected, got)
    whole = funnel.step_conversion_on(eng, period=WEEK).set_index("step")
    # s1, s3 and s4 enter (s2 before the period); all three add to cart (s3 ten minutes after the period, inside
    # its window); s1 checks out at the window's last second; its purchase is a second late
    assert whole["units"].tolist() == [3, 3, 1, 0]
    assert whole.loc["add_to_cart", "median_time_from_previous"] == 60.0  # s1: 0 s (same instant), s4: 60, s3: 601


def test_fold_keeps_the_top_values_like_pandas(tmp_path):
    rows = [(f"2026-11-17 09:{i:02d}:00", "view_item", f"s{i}", f"d{i % 5 if i < 20 else i}") for i in range(30)]
    rows.append(("2026-11-17 09:05:30", "add_to_cart", "s5", "d0"))
    events = _events_store(tmp_path, rows)
    expected = funnel.segment_conversion(events, breakdowns=["device"], steps=["view_item", "add_to_cart"],
                                         period=WEEK, top=3)
    got = funnel._segment_tables(engine.DuckDBEngine(tmp_path), breakdowns=["device"], orders=None,
                                 steps=["view_item", "add_to_cart"], unit="session", window=None, mode="closed",
                                 period=WEEK, exclude_days=(None,), top=3)[0]
    _same(expected, got)
    assert any(str(s).startswith(funnel.OTHER) for s in got["segment"])


# --- SQL text, sources, engine choice and the checks on tables left in the engine --------------------------------
def test_literals_quote_data_and_spark_sql_keeps_exact_percentiles():
    assert engine.literal("o'brien; DROP TABLE x") == "'o''brien; DROP TABLE x'"
    assert engine.identifier('a"b') == '"a""b"'
    with pytest.raises(ValueError):
        engine.literal(float("nan"))
    spark = engine.to_spark("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) AS m, arg_min(d, t) AS f FROM t")
    assert "PERCENTILE(x, 0.5)" in spark and "APPROX" not in spark and "MIN_BY(d, t)" in spark
    assert engine.to_spark("SELECT quantile_cont(x, 0.9) AS p FROM t") == "SELECT PERCENTILE(x, 0.9) AS p FROM t"
    for discrete in ("quantile(x, 0.5)", "quantile_disc(x, 0.5)", "percentile_disc(0.5) WITHIN GROUP (ORDER BY x)",
                     "percentile_cont(0.5) WITHIN GROUP (ORDER BY x DESC)"):
        with pytest.raises(EngineError):
            engine.to_spark(f"SELECT {discrete} FROM t")
    assert "FROM returns" in engine.to_spark("WITH returns AS (SELECT 1 AS x) SELECT x FROM returns",
                                             prefix="lake.shop.", tables={"returns"})
    assert "lake.shop.events AS e" in engine.to_spark("SELECT 1 FROM events e", prefix="lake.shop.",
                                                       tables={"events"})


def test_auto_picks_duckdb_above_the_size_threshold(tmp_path, monkeypatch, demo_dir):
    assert engine.choose("auto", demo_dir) == "pandas"
    monkeypatch.setattr(engine, "AUTO_DUCKDB_BYTES", 1000)
    assert engine.choose("auto", demo_dir) == "duckdb"
    assert engine.choose("auto", tmp_path / "shop.duckdb") == "duckdb"
    assert engine.choose("spark", demo_dir) == "spark"
    with pytest.raises(ParameterError, match="engine"):
        engine.choose("polars", demo_dir)
    assert engine.connect("pandas", demo_dir) is None


def test_a_duckdb_database_file_is_a_source(tmp_path, demo_dir):
    import duckdb

    db = tmp_path / "shop.duckdb"
    con = duckdb.connect(str(db))
    con.execute(f"CREATE TABLE events AS SELECT * FROM read_parquet('{demo_dir / 'events.parquet'}')")
    con.execute(f"CREATE TABLE orders AS SELECT * FROM read_csv('{demo_dir / 'orders.csv'}')")
    con.close()
    (tmp_path / "store.yaml").write_text((demo_dir / "store.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    ds = funnel.load(db, engine="auto")
    assert ds.engine.name == "duckdb" and ds.events is None and len(ds.orders) > 0
    assert ds.store.currency == "CNY"
    _same(funnel.step_conversion_on(engine.DuckDBEngine(demo_dir), period=WEEK),
          funnel.step_conversion_on(ds.engine, period=WEEK))


def test_tables_left_in_the_engine_are_checked(tmp_path):
    events = pd.DataFrame({"event_time": pd.to_datetime(["2026-11-17 10:00", "2026-11-17 10:01"]),
                           "event_name": ["view_item", None], "session_id": ["s1", "s1"], "user_id": ["u", "u"],
                           "sku": None, "channel": "organic"})
    events.to_parquet(tmp_path / "events.parquet", index=False)
    with pytest.raises(ContractError, match=r"events.parquet: table 'events', column 'device': the column is required"):
        funnel.load(tmp_path, engine="duckdb")
    events.assign(device="mobile").to_parquet(tmp_path / "events.parquet", index=False)
    with pytest.raises(ContractError, match=r"column 'event_name': 1 row breaks the rule: must not be empty"):
        funnel.load(tmp_path, engine="duckdb")
    (tmp_path / "events.parquet").unlink()
    (tmp_path / "store.yaml").write_text("currency: CNY\n", encoding="utf-8")
    with pytest.raises(MissingTableError, match="no table 'events' \\(needed by funnel\\)"):
        funnel.load(tmp_path, engine="duckdb")
    with pytest.raises(EngineError, match="no such dataset folder"):
        engine.DuckDBEngine(tmp_path / "nowhere")


def test_open_funnel_is_refused_on_an_engine(demo_dir):
    ds = funnel.load(demo_dir, engine="duckdb")
    with pytest.raises(FunnelError, match="pandas engine"):
        funnel.compute(ds, WEEK, mode="open")


def test_rows_scanned_counts_what_the_queries_read(tmp_path):
    _events_store(tmp_path, [("2026-11-16 10:00:00", "view_item", "s1", "m"),
                             ("2026-11-01 10:00:00", "view_item", "s2", "m")])
    eng = engine.DuckDBEngine(tmp_path)
    funnel.step_conversion_on(eng, period=WEEK)
    assert eng.describe() == {"engine": "duckdb", "rows_scanned": 1, "queries": 1}  # s2 is outside the window


def test_funnel_counts_the_events_it_read_in_its_own_query(tmp_path):
    """On DuckDB the funnel's one query also counts the events of its window for the footer — every event name,
    with or without a unit — and a breakdown with no entering unit (no row to carry the count) still counts."""
    _events_store(tmp_path, [("2026-11-16 10:00:00", "session_start", "s1", "m"),
                             ("2026-11-16 10:01:00", "view_item", "s1", "m"),
                             ("2026-11-22 23:50:00", "add_to_cart", None, "m"),  # no session: read, never a unit
                             ("2026-11-23 00:20:00", "purchase", "s1", "m"),  # after the period, in the window
                             ("2026-11-23 00:40:00", "purchase", "s1", "m")])  # after the window: not read
    eng = engine.DuckDBEngine(tmp_path)
    funnel.step_conversion_on(eng, by="device", period=WEEK)
    assert eng.describe() == {"engine": "duckdb", "rows_scanned": 4, "queries": 1}
    empty = funnel.step_conversion_on(eng, by="device", period=parse_period("2026-W46"))
    assert empty.empty and eng.rows_scanned == 4  # W46 and its window hold no event
    whole = funnel.step_conversion_on(eng, period=parse_period("2026-W48"))
    assert whole["units"].tolist() == [0, 0, 0, 0] and eng.rows_scanned == 4 + 2  # W48 holds both purchases
    assert eng.queries == 3


def test_spark_reads_tables_of_a_catalog_prefix(spark_session, demo_events):
    """A catalog prefix (here Spark's global_temp database, as a lake's `lake.shop.` would be) names the tables."""
    times = demo_events.events["event_time"]
    week = demo_events.events.loc[(times >= WEEK.start) & (times < WEEK.end + pd.Timedelta(days=1))]  # + windows
    spark_session.createDataFrame(week.astype({c: object for c in ("event_name", "device", "channel")})) \
        .createOrReplaceGlobalTempView("shop_events")
    eng = engine.SparkEngine("global_temp.shop_", spark=spark_session)
    assert eng.has("events") and not eng.has("orders")
    _same(funnel.step_conversion(demo_events.events, period=WEEK), funnel.step_conversion_on(eng, period=WEEK))


def test_timestamps_stored_as_instants_are_read_as_store_local_times(tmp_path, demo_events, demo_dir):
    """Parquet written with UTC instants (a warehouse export) falls into the store's days on the engine, as the
    loader places it: the funnel of W47 is the same as from the naive store-local file."""
    times = demo_events.events["event_time"]
    week = demo_events.events.loc[(times >= WEEK.start - pd.Timedelta(days=1)) & (times < WEEK.end + pd.Timedelta(days=1))]
    week.assign(event_time=week["event_time"].dt.tz_localize("Asia/Shanghai").dt.tz_convert("UTC")).to_parquet(
        tmp_path / "events.parquet", index=False)
    (tmp_path / "store.yaml").write_text("timezone: Asia/Shanghai\n", encoding="utf-8")
    _same(funnel.step_conversion(demo_events.events, period=WEEK, by="device").astype({"device": object}),
          funnel.step_conversion_on(engine.DuckDBEngine(tmp_path), period=WEEK, by="device"))
    assert engine.store_timezone(tmp_path) == "Asia/Shanghai" and engine.store_timezone(demo_dir) == "Asia/Shanghai"


def test_spark_reads_instants_as_store_local_times_and_engines_keep_their_own_views(tmp_path, spark_session,
                                                                                    demo_events, demo_dir):
    whole = engine.SparkEngine(demo_dir, spark=spark_session)
    times = demo_events.events["event_time"]
    week = demo_events.events.loc[(times >= WEEK.start - pd.Timedelta(days=1)) & (times < WEEK.end + pd.Timedelta(days=1))]
    week.assign(event_time=week["event_time"].dt.tz_localize("Asia/Shanghai").dt.tz_convert("UTC")).to_parquet(
        tmp_path / "events.parquet", index=False, coerce_timestamps="us")
    (tmp_path / "store.yaml").write_text("timezone: Asia/Shanghai\n", encoding="utf-8")
    zoned = engine.SparkEngine(tmp_path, spark=spark_session)
    expected = funnel.step_conversion(demo_events.events, period=WEEK)
    _same(expected, funnel.step_conversion_on(zoned, period=WEEK))
    assert whole.count("events") == len(demo_events.events) != zoned.count("events")  # each engine its own views


def test_duckdb_memory_is_bounded_and_spills_into_a_folder_removed_with_the_engine(demo_dir, monkeypatch):
    import gc
    from pathlib import Path

    monkeypatch.delenv(engine.DUCKDB_MEMORY_ENV, raising=False)
    default = engine.duckdb_memory_limit()
    assert default.endswith("MiB") and 0 < int(default[:-3]) <= 4096  # a quarter of the machine, at most 4 GiB
    monkeypatch.setenv(engine.DUCKDB_MEMORY_ENV, "512MB")
    eng = engine.DuckDBEngine(demo_dir)
    limit, spill = eng.con.execute("SELECT current_setting('memory_limit'), current_setting('temp_directory')") \
        .fetchall()[0]
    assert eng.memory_limit == "512MB" and limit == "488.2 MiB"  # DuckDB reports 512 MB in MiB
    assert Path(spill).is_dir() and Path(spill).name.startswith("ecomlib-duckdb-") and Path(spill) != Path.cwd()
    assert engine.DuckDBEngine(demo_dir, memory_limit="1GB").memory_limit == "1GB"  # an explicit limit wins
    del eng
    gc.collect()
    assert not Path(spill).exists()


def test_add_scanned_takes_a_query_s_own_count_and_remembers_it(demo_dir):
    eng = engine.DuckDBEngine(demo_dir)
    where = "event_time >= TIMESTAMP '2026-11-16' AND event_time < TIMESTAMP '2026-11-23'"
    eng.add_scanned("events", where, 7)  # a count the query made itself: not counted again
    assert eng.rows_scanned == 7 and eng.count("events", where) == 7 and eng.queries == 0
    eng.add_scanned("events", where)  # the same filter again: the remembered count
    assert eng.rows_scanned == 14
    everything = int(eng.sql("SELECT count(*) AS n FROM events")["n"].iloc[0])
    eng.add_scanned("events")  # no count given: the engine counts
    assert eng.rows_scanned == 14 + everything > 14
