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
    if not (DEMO_DIR / "orders.csv").exists():
        from ecomlib.demo import write_demo
        write_demo(DEMO_DIR)
    return DEMO_DIR


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
