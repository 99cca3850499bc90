"""Query engines for the kit's heavy reductions: pandas for small data, DuckDB embedded, Apache Spark beyond one machine.

Each heavy reduction (funnel step reach, the customer summary, cohort matrices, return and supplier rates, ROAS
by channel and day) is written once, as SQL in DuckDB's dialect, in ``ecomlib/sql/<name>.sql`` (a Jinja
template for its parameter lists). DuckDB runs it as written; Spark runs it transpiled by sqlglot
(``read="duckdb", write="spark"``). The pandas engine runs the review module's own function instead — the
reference the equality tests hold the SQL to (``tests/test_engines.py``). Whatever the engine, a review
receives small pandas tables.

Sources an engine reads:

- a dataset folder (``<table>.parquet``, a folder ``<table>/`` of Parquet parts, or ``<table>.csv``);
- a DuckDB database file (``*.duckdb``) whose tables carry the contract's names;
- for Spark also a folder or URL of Parquet files (``s3a://bucket/shop/``: ``<table>/`` or ``<table>.parquet``
  under it) or a catalog table prefix (``lake.shop.``: tables ``lake.shop.orders``, ...).

``auto`` picks DuckDB when the dataset's files hold more than :data:`AUTO_DUCKDB_BYTES`, or the source is a
database file, and pandas otherwise. Spark is never picked automatically: it is asked for (``--engine spark``)
with the cluster in ``ECOMLIB_SPARK_MASTER`` (``spark://host:7077``, ``yarn``, ``local[*]``, the default) or
``SPARK_REMOTE`` (Spark Connect, ``sc://host:15002``).

Example
-------
>>> eng = connect("duckdb", "data/demo")                                   # doctest: +SKIP
>>> eng.sql("SELECT count(*) AS n FROM events")["n"].iloc[0]               # doctest: +SKIP
612345
"""

from __future__ import annotations

import itertools
import os
import warnings
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from .contract import TABLES
from .errors import EngineError, check_option

ENGINES = ("auto", "pandas", "duckdb", "spark")
#: Above this many bytes of table files, ``auto`` runs the reductions on DuckDB instead of loading into pandas.
AUTO_DUCKDB_BYTES = 256 * 2**20
SQL_DIR = Path(__file__).parent / "sql"
_SPARK_VIEWS = itertools.count(1)


# ---------------------------------------------------------------------------------------------------------
# Where a table's data is, and which engine to use
# ---------------------------------------------------------------------------------------------------------
def table_path(folder: Path, table: str) -> Path | None:
    """The file or part folder holding ``table`` in a dataset folder (Parquet, parts, then CSV), or None."""
    for candidate in (folder / f"{table}.parquet", folder / table, folder / f"{table}.csv"):
        if candidate.is_file() or (candidate.is_dir() and any(candidate.glob("*.parquet"))):
            return candidate
    return None


def source_bytes(source: str | Path) -> int:
    """Bytes of the table files in a dataset folder (0 for anything else)."""
    folder = Path(source)
    if not folder.is_dir():
        return 0
    total = 0
    for table in TABLES:
        path = table_path(folder, table)
        if path is not None:
            total += sum(p.stat().st_size for p in path.glob("*.parquet")) if path.is_dir() else path.stat().st_size
    return total


def choose(engine: str, source: str | Path) -> str:
    """The engine ``engine`` stands for on ``source``: ``auto`` becomes ``duckdb`` or ``pandas`` (see the module doc).

    Example
    -------
    >>> choose("auto", "data/demo")                                        # doctest: +SKIP
    'pandas'
    """
    check_option("engine", engine, ENGINES)
    if engine != "auto":
        return engine
    if str(source).endswith(".duckdb"):
        return "duckdb"
    return "duckdb" if source_bytes(source) > AUTO_DUCKDB_BYTES else "pandas"


# ---------------------------------------------------------------------------------------------------------
# SQL text: literals, identifiers and templates
# ---------------------------------------------------------------------------------------------------------
def literal(value) -> str:
    """``value`` as a SQL literal (strings quoted with ``'`` doubled, timestamps as ``TIMESTAMP '…'``).

    Example
    -------
    >>> literal("it's"), literal(3), literal(pd.Timestamp("2026-11-16"))
    ("'it''s'", '3', "TIMESTAMP '2026-11-16 00:00:00.000000'")
    """
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return f"TIMESTAMP '{pd.Timestamp(value):%Y-%m-%d %H:%M:%S.%f}'"
    if isinstance(value, (bool, np.bool_)):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            raise ValueError(f"no SQL literal for {value!r}")
        return repr(float(value))
    return "'" + str(value).replace("'", "''") + "'"


def identifier(name: str) -> str:
    """``name`` as a quoted SQL identifier (DuckDB's double quotes; sqlglot turns them into Spark's backticks)."""
    return '"' + str(name).replace('"', '""') + '"'


@lru_cache(maxsize=None)
def _template(name: str):
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(SQL_DIR), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, autoescape=False)
    env.filters["lit"] = literal
    env.filters["ident"] = identifier
    return env.get_template(f"{name}.sql")


def render(name: str, **params) -> str:
    """The DuckDB SQL of reduction ``name`` (``ecomlib/sql/<name>.sql``) with ``params`` filled in.

    Values go through the ``lit`` filter and names through ``ident`` inside the templates, so data never
    becomes SQL.
    """
    return _template(name).render(**params)


# ---------------------------------------------------------------------------------------------------------
# Engines
# ---------------------------------------------------------------------------------------------------------
class Engine:
    """A connection that runs the kit's SQL on the contract tables of one source and counts what it read.

    ``rows_scanned`` adds up, over the queries run, the rows of each table a query read after its period
    filter (each distinct table-and-filter is counted once per query).
    """

    name = "engine"

    def __init__(self, source):
        self.source = source
        self.rows_scanned = 0
        self.queries = 0
        self._counts: dict[tuple[str, str], int] = {}
        #: CSV tables of a dataset folder: read by the kit's loader (parsed and validated exactly as for pandas)
        #: and registered the first time a query names them; Parquet is read by the engine itself.
        self._csv: dict[str, Path] = {}

    # subclasses: _run(sql) -> DataFrame, _tables() -> set of table names, columns(table) -> list,
    # _register(table, DataFrame), _export(table, path)
    def has(self, table: str) -> bool:
        """Whether the source holds ``table``."""
        return table in self._tables() or table in self._csv

    def register(self, table: str, frame: pd.DataFrame) -> None:
        """Serve ``frame`` (a validated contract table) as ``table`` (replacing a CSV not yet read)."""
        frame = frame.astype({c: object for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)})
        self._register(table, frame)
        self._csv.pop(table, None)
        self._tables().add(table)

    def _ensure(self, text: str) -> None:
        """Read and register the CSV tables ``text`` names that are not registered yet."""
        pending = [t for t in self._csv if t in text]
        if not pending:
            return
        import sqlglot
        from sqlglot import exp

        named = {t.name for t in sqlglot.parse_one(text, read="duckdb").find_all(exp.Table)}
        wanted = [t for t in pending if t in named]
        if wanted:
            from .dataset import load_dataset

            ds = load_dataset(Path(str(self.source)), tables=wanted)
            for table in wanted:
                self.register(table, getattr(ds, table))

    def sql(self, text: str, *, scans: Mapping[str, str | None] | None = None) -> pd.DataFrame:
        """Run DuckDB-dialect SQL ``text``; ``scans`` maps each table it reads to its row filter (SQL, or None)."""
        self._ensure(text)
        out = self._run(text)
        self.queries += 1
        for table, where in (scans or {}).items():
            self.add_scanned(table, where)
        return out

    def add_scanned(self, table: str, where: str | None = None, rows: int | None = None) -> None:
        """Add the rows of ``table`` matching ``where`` to ``rows_scanned``, for a query just run that read them.

        ``rows``: the count when the query made it itself (the funnel counts its events in the same scan);
        remembered as :meth:`count` remembers its own. None: counted here by a query of its own.
        """
        if rows is not None:
            self._counts.setdefault((table, where or ""), int(rows))
        self.rows_scanned += self.count(table, where)

    def count(self, table: str, where: str | None = None) -> int:
        """Rows of ``table`` (matching ``where``); remembered, so reading a table twice counts the same rows."""
        key = (table, where or "")
        if key not in self._counts:
            clause = f" WHERE {where}" if where else ""
            self._counts[key] = int(self._run(f"SELECT count(*) AS n FROM {table}{clause}")["n"].iloc[0])
        return self._counts[key]

    def reduce(self, name: str, *, scans: Mapping[str, str | None] | None = None, **params) -> pd.DataFrame:
        """Render reduction ``name`` with ``params`` and run it."""
        return self.sql(render(name, **params), scans=scans)

    def folder(self, needed: Sequence[str]) -> Path:
        """A dataset folder holding the ``needed`` tables for pandas: the source itself when it is a folder, else a
        temporary folder the tables are copied into as Parquet (with the ``store.yaml`` beside the source),
        removed when the engine is."""
        local = Path(str(self.source))
        if local.is_dir():
            return local
        import shutil
        import tempfile
        import weakref

        tmp = Path(tempfile.mkdtemp(prefix="ecomlib-engine-"))
        weakref.finalize(self, shutil.rmtree, tmp, True)
        if (local.parent / "store.yaml").is_file():  # a database file's store.yaml lies beside it
            shutil.copyfile(local.parent / "store.yaml", tmp / "store.yaml")
        for table in needed:
            if self.has(table):
                self._export(table, tmp / f"{table}.parquet")
        return tmp

    def check_table(self, table: str, *, needed_by: str, required: bool = True) -> None:
        """Check a table that stays in the engine: present (when ``required``), the contract's columns there, and
        no empty value in its key, time and name columns — by SQL, not row by row in pandas."""
        from .errors import ContractError, MissingTableError, Violation

        where = str(self.source)
        if Path(where).is_dir():
            where = str(table_path(Path(where), table) or where)
        if not self.has(table):
            if required:
                raise MissingTableError(table, where, needed_by)
            return
        spec = TABLES[table]
        present = set(self.columns(table))
        missing = [c for c in spec.columns if c not in present and c not in spec.optional_columns]
        if missing:
            raise ContractError([Violation(table, c, "the column is required but missing", fix=f"add a '{c}' "
                                           f"column (see data/README.md for its type and meaning)")
                                 for c in missing], {table: where})
        must = [c for c in dict.fromkeys((*spec.key, *spec.timestamps[:1], "event_name")) if c in present]
        counts = self.sql("SELECT " + ", ".join(f"count(*) FILTER (WHERE {identifier(c)} IS NULL) AS {identifier(c)}"
                                                for c in must) + f" FROM {table}").iloc[0]
        empty = [Violation(table, c, "must not be empty", n_rows=int(counts[c]),
                           fix="fill the value or drop the rows in the export") for c in must if counts[c]]
        if empty:
            raise ContractError(empty, {table: where})

    def describe(self) -> dict:
        """``{"engine", "rows_scanned", "queries"}`` for the page footer and summary.json."""
        return {"engine": self.name, "rows_scanned": int(self.rows_scanned), "queries": int(self.queries)}


DUCKDB_MEMORY_ENV = "ECOMLIB_DUCKDB_MEMORY"


def duckdb_memory_limit() -> str | None:
    """DuckDB's memory limit for a review's engine: ``$ECOMLIB_DUCKDB_MEMORY`` (e.g. ``"8GB"``), else a quarter
    of this machine's memory, at most 4 GiB (``"4096MiB"`` on a machine of 16 GiB or more); None where the
    machine's memory cannot be read (DuckDB's own default then).

    DuckDB's own default is 80 % of the machine, sized for a database that has it to itself; here it shares the
    machine with the notebook's pandas tables and, with ``--jobs 2``, with another review. Past the limit a query
    spills to disk: on the 30x demo store the 16-week daily funnel trend took 8.1 s and 6.0 GiB without a limit,
    14.7 s and 3.5 GiB at 3 GB.

    Example
    -------
    >>> duckdb_memory_limit()                     # doctest: +SKIP
    '4096MiB'
    """
    configured = os.environ.get(DUCKDB_MEMORY_ENV, "").strip()
    if configured:
        return configured
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX
        return None
    return f"{min(4 * 2**30, total // 4) // 2**20}MiB"


class DuckDBEngine(Engine):
    """DuckDB, embedded: views over the dataset's Parquet/CSV files, or the tables of a ``.duckdb`` file.

    Queries stream from the files (projection and filters pushed into the Parquet reader) and spill to a
    temporary folder (removed with the engine) when they outgrow ``memory_limit`` (default:
    :func:`duckdb_memory_limit`), so tables larger than memory work and a review's kernel stays bounded.
    """

    name = "duckdb"

    def __init__(self, source, *, memory_limit: str | None = None, threads: int | None = None):
        import duckdb

        super().__init__(source)
        path = Path(source)
        if path.suffix == ".duckdb":
            if not path.is_file():
                raise EngineError(f"{path}: no such DuckDB database file. Fix: pass the .duckdb file that holds "
                                  f"the contract tables, or the dataset folder")
            self.con = duckdb.connect(str(path), read_only=True)
            self._names = {r[0] for r in self.con.execute("SELECT table_name FROM information_schema.tables")
                           .fetchall()} & set(TABLES)
        else:
            if not path.is_dir():
                raise EngineError(f"{path}: no such dataset folder. Fix: pass the folder that holds the table "
                                  f"files, or a .duckdb database file")
            self.con = duckdb.connect()
            self._names = set()
            for table in TABLES:
                file = table_path(path, table)
                if file is None:
                    continue
                if file.suffix == ".csv":
                    self._csv[table] = file
                    continue
                reader = f"read_parquet({literal(str(file / '*.parquet') if file.is_dir() else str(file))})"
                zoned = [c for c, kind, *_ in self.con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()
                         if kind.startswith("TIMESTAMP") and ("TIME ZONE" in kind or "TZ" in kind)]  # also _NS
                local_times = ", ".join(f"timezone({literal(store_timezone(path))}, CAST({identifier(c)} AS "
                                        f"TIMESTAMPTZ)) AS {identifier(c)}" for c in zoned)
                self.con.execute(f"CREATE VIEW {table} AS SELECT * {f'REPLACE ({local_times}) ' if zoned else ''}"
                                 f"FROM {reader}")
                self._names.add(table)
        import shutil
        import tempfile
        import weakref

        spill = Path(tempfile.mkdtemp(prefix="ecomlib-duckdb-"))  # DuckDB's default is .tmp in the working folder
        weakref.finalize(self, shutil.rmtree, spill, True)
        self.memory_limit = memory_limit or duckdb_memory_limit()
        if self.memory_limit:
            self.con.execute(f"SET memory_limit = {literal(self.memory_limit)}")
        self.con.execute(f"SET temp_directory = {literal(str(spill))}")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")

    def _tables(self) -> set[str]:
        return self._names

    def columns(self, table: str) -> list[str]:
        """Column names of ``table``."""
        return [r[0] for r in self.con.execute(f"DESCRIBE {table}").fetchall()]

    def _run(self, text: str) -> pd.DataFrame:
        return self.con.sql(text).to_arrow_table().to_pandas()

    def _export(self, table: str, path: Path) -> None:
        self.con.execute(f"COPY (SELECT * FROM {table}) TO {literal(str(path))} (FORMAT parquet)")

    def _register(self, table: str, frame: pd.DataFrame) -> None:
        self.con.register(f"{table}_frame", frame)
        self.con.execute(f"CREATE OR REPLACE VIEW {table} AS SELECT * FROM {table}_frame")


class SparkEngine(Engine):
    """Apache Spark: temporary views over Parquet files (local or a lake URL), or catalog tables with a prefix.

    The SQL is transpiled from DuckDB's dialect by sqlglot. Timestamps are read as stored (the session time
    zone is UTC, so naive store-local times are never shifted).
    """

    name = "spark"

    def __init__(self, source, *, spark=None):
        super().__init__(source)
        self.spark = spark if spark is not None else spark_session()
        text = str(source)
        self._names = set()
        local = Path(text)
        if "://" in text or local.exists():
            # temporary views of this engine only: two engines in one Spark session must not replace each other's
            self._prefix = f"ecomlib{next(_SPARK_VIEWS)}_"
            for table in TABLES:
                location = self._locate(text, table)
                if location is None:
                    continue
                frame = self.spark.read.parquet(location)
                zoned = [f.name for f in frame.schema.fields if f.dataType.typeName() == "timestamp"]
                if zoned:  # instants (UTC in the file): as store-local wall-clock times, like the loader gives
                    from pyspark.sql import functions as F

                    tz = store_timezone(local if local.exists() else None)
                    frame = frame.withColumns({c: F.from_utc_timestamp(F.col(c), tz) for c in zoned})
                frame.createOrReplaceTempView(self._prefix + table)
                self._names.add(table)
        else:  # a catalog prefix such as "lake.shop." or "lake.shop.shop_"
            self._prefix = text
            for table in TABLES:
                if self.spark.catalog.tableExists(text + table):
                    self._names.add(table)
        if not self._names and not self._csv:
            raise EngineError(f"spark: {text} holds none of the contract's tables as Parquet (<table>/ or "
                              f"<table>.parquet) or catalog tables. Fix: convert CSV exports to Parquet "
                              f"(`ecomlib import`), or pass the catalog prefix the tables share")

    def _locate(self, base: str, table: str) -> str | None:
        local = Path(base)
        if local.exists():
            path = table_path(local, table)
            if path is not None and path.suffix == ".csv":
                self._csv[table] = path
                return None
            return None if path is None else str(path)
        for candidate in (f"{base.rstrip('/')}/{table}", f"{base.rstrip('/')}/{table}.parquet"):
            try:
                self.spark.read.parquet(candidate).schema
                return candidate
            except Exception:  # noqa: BLE001 — Spark raises AnalysisException subclasses per backend
                continue
        return None

    def _tables(self) -> set[str]:
        return self._names

    def columns(self, table: str) -> list[str]:
        """Column names of ``table``."""
        return list(self.spark.table(self._name(table)).columns)

    def _register(self, table: str, frame: pd.DataFrame) -> None:
        with warnings.catch_warnings():  # PySpark 4.3 on pandas 3: version and copy= deprecation notices
            warnings.simplefilter("ignore")
            self.spark.createDataFrame(frame).createOrReplaceTempView(self._name(table))

    def _export(self, table: str, path: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            self.spark.table(self._name(table)).toPandas().to_parquet(path, index=False)

    def _name(self, table: str) -> str:
        return self._prefix + table

    def _run(self, text: str) -> pd.DataFrame:
        frame = self.spark.sql(to_spark(text, prefix=self._prefix, tables=self._names | set(self._csv)))
        with warnings.catch_warnings():  # PySpark 4.3 on pandas 3: version and copy= deprecation notices
            warnings.simplefilter("ignore")
            return frame.toPandas()


def to_spark(text: str, *, prefix: str = "", tables=()) -> str:
    """DuckDB SQL ``text`` in Spark's dialect (sqlglot), with exact percentiles and catalog-prefixed tables.

    sqlglot writes DuckDB's exact ``percentile_cont(q) WITHIN GROUP (ORDER BY x)`` as Spark's
    ``PERCENTILE_APPROX``, which is not the same number, and ``quantile_cont(x, q)`` as a ``PERCENTILE_CONT``
    Spark refuses: both become Spark's exact, linearly interpolated ``PERCENTILE(x, q)`` — the quantile pandas
    computes. Discrete quantiles (``quantile``, ``quantile_disc``, ``percentile_disc``) and a descending order
    have no faithful Spark form here and raise :class:`EngineError` rather than run as something else.

    Example
    -------
    >>> to_spark("SELECT percentile_cont(0.9) WITHIN GROUP (ORDER BY x) AS p FROM t")
    'SELECT PERCENTILE(x, 0.9) AS p FROM t'
    """
    import sqlglot
    from sqlglot import exp

    def exact(node):
        if isinstance(node, (exp.Quantile, exp.PercentileDisc)):
            raise EngineError(f"no exact Spark form for the discrete quantile {node.sql('duckdb')}; write "
                              f"percentile_cont(q) WITHIN GROUP (ORDER BY x)")
        if isinstance(node, exp.WithinGroup) and isinstance(node.this, exp.PercentileCont):
            (ordered,) = node.expression.expressions
            if ordered.args.get("desc"):
                raise EngineError(f"{node.sql('duckdb')}: order the quantile ascending")
            return exp.Anonymous(this="PERCENTILE", expressions=[ordered.this, node.this.this])
        if isinstance(node, exp.PercentileCont) and node.expression is not None:  # quantile_cont(x, q)
            return exp.Anonymous(this="PERCENTILE", expressions=[node.this, node.expression])
        if (isinstance(node, exp.Table) and prefix and node.name in tables and not node.args.get("db")
                and node.name not in ctes):
            table = exp.to_table(prefix + node.name)
            table.set("alias", node.args.get("alias"))
            return table
        return node

    tree = sqlglot.parse_one(text, read="duckdb")
    ctes = {cte.alias for cte in tree.find_all(exp.CTE)}  # a CTE named like a table is not that table
    tree = tree.transform(exact)
    return tree.sql(dialect="spark")


@lru_cache(maxsize=1)
def spark_session(master: str | None = None):
    """The Spark session the kit uses: ``SPARK_REMOTE`` (Spark Connect) or ``ECOMLIB_SPARK_MASTER`` (default
    ``local[*]``), UTC session time zone, Arrow transfers, quiet logs."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise EngineError("spark: PySpark is not installed. Fix: pip install 'ecomlib[spark]' (needs Java 17+)") \
            from None
    remote = os.environ.get("SPARK_REMOTE")
    builder = SparkSession.builder.appName("ecomlib")
    if remote:
        builder = builder.remote(remote)
    else:
        master = master or os.environ.get("ECOMLIB_SPARK_MASTER", "local[*]")
        builder = builder.master(master).config("spark.ui.showConsoleProgress", "false")
        if master.startswith("local"):  # one machine: few shuffle partitions (Spark's 200 are for clusters)
            builder = (builder.config("spark.ui.enabled", "false")
                       .config("spark.sql.shuffle.partitions",
                               os.environ.get("ECOMLIB_SPARK_PARTITIONS", str(2 * (os.cpu_count() or 2)))))
    builder = (builder.config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true"))
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 — Java missing, cluster unreachable: py4j/RuntimeError variety
        raise EngineError(f"spark: could not start a session ({type(exc).__name__}: {str(exc)[:200]}). Fix: "
                          f"install Java 17+, or check SPARK_REMOTE / ECOMLIB_SPARK_MASTER") from None
    if not remote:
        spark.sparkContext.setLogLevel("ERROR")
    return spark


def store_timezone(folder: Path | None) -> str:
    """The store's time zone (``store.yaml`` of a dataset folder, or beside a database file; UTC without one, as the
    loader reads it): timestamps stored as instants are read as store-local times in it, as
    :func:`ecomlib.dataset.load_dataset` does.

    A source without a readable store.yaml (a lake URL, a catalog) takes ``ECOMLIB_STORE_TIMEZONE``; without it,
    instants cannot be placed in the store's days and :class:`EngineError` says so.
    """
    from .dataset import read_store

    if folder is not None:
        return read_store(folder if folder.is_dir() else folder.parent).timezone  # UTC without store.yaml
    zone = os.environ.get("ECOMLIB_STORE_TIMEZONE")
    if not zone:
        raise EngineError("timestamps stored with a time zone need the store's time zone to fall into the store's "
                          "days. Fix: put store.yaml beside the data, or set ECOMLIB_STORE_TIMEZONE=Asia/Shanghai")
    return zone


def connect(engine: str = "auto", source: str | Path = ".", **options) -> Engine | None:
    """An engine on ``source``; None for the pandas engine (the review loads its tables into pandas).

    Parameters
    ----------
    engine : ``auto``, ``pandas``, ``duckdb`` or ``spark`` (see the module docstring).
    source : dataset folder, ``.duckdb`` file, Parquet location or (Spark) catalog prefix.
    options : passed to the engine (``memory_limit``/``threads`` for DuckDB, ``spark=`` a session).

    Example
    -------
    >>> connect("pandas", "data/demo") is None
    True
    """
    chosen = choose(engine, source)
    if chosen == "pandas":
        return None
    if chosen == "duckdb":
        return DuckDBEngine(source, **options)
    return SparkEngine(source, **options)


def in_list(values: Sequence) -> str:
    """``(v1, v2, …)`` of SQL literals, for ``IN``."""
    return "(" + ", ".join(literal(v) for v in values) + ")"
