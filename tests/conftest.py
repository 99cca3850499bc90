"""Shared fixtures: the demo store (generated once if missing) and small helpers for hand-made tables."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMO_DIR = ROOT / "data" / "demo"
REFERENCE = ROOT.parent / "shared" / "reference"


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    """The demo store folder, generated with the default seed when missing (as ./kit does)."""
    import fcntl

    from ecomlib.demo import is_current, write_demo

    DEMO_DIR.parent.mkdir(exist_ok=True)
    with open(DEMO_DIR.parent / ".demo.lock", "w") as lock:  # pytest-xdist workers: one of them writes it
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not is_current(DEMO_DIR):  # missing, or written by an older generator
            write_demo(DEMO_DIR)
    return DEMO_DIR


#: The seeds on which every planted demo finding must be found (issue: findings that depend on one draw).
SEEDS = (42, 7, 2026)


def _built_once(tmp_path_factory, name: str, build) -> Path:
    """A folder ``build(folder)`` fills once per test run, shared by the pytest-xdist workers: the first worker
    that needs it builds it under a file lock, the others wait and reuse it (read-only)."""
    import fcntl
    import shutil

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's base folder, common to the workers
    folder = root / name
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = root / f"{name}.built"  # beside the folder: the folder holds the store's files only
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def demo_seed_dir(demo_dir, tmp_path_factory):
    """Factory: ``demo_seed_dir(seed)`` → the demo store generated with ``seed``, written once per test run."""
    from ecomlib.demo import write_demo

    def make(seed: int) -> Path:
        if seed == 42:
            return demo_dir
        return _built_once(tmp_path_factory, f"demo-seed{seed}", lambda folder: write_demo(folder, seed=seed))

    return make


@pytest.fixture(scope="session")
def demo_no_plants_dir(tmp_path_factory) -> Path:
    """The demo store without planted findings (seed 42, ``plants=False``), written once per test run: a review
    run on it should raise none of the demo's planted findings (false-alarm checks)."""
    from ecomlib.demo import write_demo

    return _built_once(tmp_path_factory, "demo-no-plants", lambda folder: write_demo(folder, seed=42, plants=False))


@pytest.fixture(scope="session")
def ladder_dir(demo_dir, tmp_path_factory):
    """Factory: ``ladder_dir(rung)`` → the ``tests/ladder.py`` store of that rung, cut once per test run and
    shared by every review's tests (read-only: copy it before changing a file)."""
    from .ladder import make_store

    def make(rung: str) -> Path:
        return _built_once(tmp_path_factory, f"ladder-{rung}",
                           lambda folder: make_store(rung, folder, source=demo_dir))

    return make


@pytest.fixture(scope="session")
def demo(demo_dir):
    """The whole demo store, loaded and validated once per test session."""
    from ecomlib import load_dataset
    return load_dataset(demo_dir)


@pytest.fixture(scope="session")
def demo_tables(demo_dir):
    """The demo tables the cohort and LTV reviews read, loaded once (faster than the whole store)."""
    from ecomlib import load_dataset
    return load_dataset(demo_dir, tables=["orders", "customers", "ad_spend", "returns"])


@pytest.fixture(scope="session")
def reference() -> Path:
    """../shared/reference (real public data); tests using it skip when it is absent, except in CI."""
    if not REFERENCE.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{REFERENCE} is missing in CI")
        pytest.skip(f"{REFERENCE} not present")
    return REFERENCE


@pytest.fixture(scope="session")
def spark_session():
    """One local Spark session for the suite (``local[2]``); skipped outside CI when PySpark or Java is missing."""
    from ecomlib.engine import EngineError, spark_session

    try:
        return spark_session("local[2]")
    except EngineError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Spark is needed in CI: {exc}")
        pytest.skip(str(exc))


@pytest.fixture(scope="session", params=["duckdb", "spark"])
def sql_engine(request, demo_dir):
    """A query engine on the demo store: every test using it runs on DuckDB and on local Spark.

    The Spark engine is shared by the whole suite (views over the demo's Parquet files); its ``rows_scanned``
    keeps counting across tests, so tests that check it use their own engine.
    """
    from ecomlib.engine import DuckDBEngine, SparkEngine

    if request.param == "duckdb":
        return DuckDBEngine(demo_dir)
    return SparkEngine(demo_dir, spark=request.getfixturevalue("spark_session"))


@pytest.fixture(scope="session")
def demo_events(demo_dir):
    """The demo store's events, loaded and validated once (the pandas reference of the engine tests)."""
    from ecomlib import load_dataset
    return load_dataset(demo_dir, tables=["events", "orders"])
