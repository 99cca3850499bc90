"""Script from data never runs in a page: payloads planted in every text column of every table, the whole review
rendered, every page checked in its raw HTML and opened in headless chromium with dialog and console listeners."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ecomlib import runner
from ecomlib.contract import TABLES

from .browser import chromium_path
from .ladder import recent_store

ROOT = Path(__file__).resolve().parents[1]
PAYLOADS = [
    "<script>alert('xss-script')</script>",
    "<img src=x onerror=alert('xss-img')>",
    "<svg onload=alert('xss-svg')>",
    "javascript:alert('xss-js')",
    "[click](javascript:alert('xss-md'))",
    "\"><iframe src=javascript:alert('xss-iframe')></iframe>",
]
#: Columns whose values are a vocabulary the reviews match on (the funnel's steps; a promotion's scope): payloads
#: there are not page content. Columns the contract restricts (isin, a pattern) are found from the contract.
VOCABULARY = {"event_name", "scope"}
#: Columns holding another column's values (joined on them): they get that column's payload.
SAME_VALUES = {"acquisition_channel": "channel"}


def _payload(column: str) -> str:
    column = SAME_VALUES.get(column, column)
    return PAYLOADS[sum(map(ord, column)) % len(PAYLOADS)]


def _text_columns(table: str, df: pd.DataFrame) -> list[str]:
    """Text columns of the contract that hold free values (not a vocabulary the contract checks), and extra ones."""
    spec = TABLES.get(table)
    schema = spec.model.to_schema().columns if spec else {}
    typed = {c for c, col in schema.items() if not str(col.dtype).startswith(("str", "string"))}  # numbers, dates, bools
    vocabulary = {c for c, col in schema.items() if any(ch.name in ("isin", "str_matches") for ch in col.checks)}
    return [c for c in df.columns if c not in VOCABULARY | vocabulary and c not in typed
            and not pd.to_numeric(df[c].replace("", None).dropna(), errors="coerce").notna().all()]


def plant_payloads(folder: Path) -> dict[str, list[str]]:
    """Append a payload to every non-empty value of every text column, the same payload per column name so keys
    still join across tables; returns table → planted columns."""
    planted = {}
    for path in sorted(folder.glob("*.csv")):
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        columns = _text_columns(path.stem, df)
        for col in columns:
            df[col] = df[col].where(df[col] == "", df[col] + " " + _payload(col))
        df.to_csv(path, index=False)
        planted[path.stem] = columns
    for path in sorted(folder.glob("*.parquet")):
        df = pd.read_parquet(path)
        columns = [c for c in df.columns if c in ("sku", "channel", "session_id", "user_id")]
        for col in columns:
            df[col] = df[col].where(df[col].isna() | (df[col] == ""), df[col].astype(str) + " " + _payload(col))
        df.to_parquet(path, index=False)
        planted[path.stem] = columns
    store = yaml.safe_load((folder / "store.yaml").read_text(encoding="utf-8"))
    (folder / "store.yaml").write_text(yaml.safe_dump({**store, "name": store["name"] + " " + PAYLOADS[0]},
                                                      allow_unicode=True), encoding="utf-8")
    return planted


class _LiveMarkup(HTMLParser):
    """Collects what a browser would act on: script bodies, event-handler attributes, javascript: URLs, frames."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        if tag in ("iframe", "svg") and any("xss" in (v or "") for _, v in attrs):
            self.found.append(f"<{tag}> from data")
        for name, value in attrs:
            if name.startswith("on") and "xss" in (value or ""):
                self.found.append(f"<{tag} {name}=…> from data")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}=javascript:…>")
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script and "xss" in data:
            self.found.append("<script> from data")


@pytest.fixture(scope="module")
def payload_run(demo_dir, tmp_path_factory) -> Path:
    data = recent_store(tmp_path_factory.mktemp("xss-store"), source=demo_dir, days=120)
    planted = plant_payloads(data)
    assert sum(map(len, planted.values())) >= 20, planted  # the test means something only with many columns
    out = tmp_path_factory.mktemp("xss-reports")
    result = runner.run_review(ROOT / "params" / "weekly.yaml", data_dir=data, out_dir=out, echo=print)
    return Path(result["index"]).parent


def _pages(run: Path) -> list[Path]:
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    return [run / "index.html"] + [run / nb["html"] for nb in summary["notebooks"] if nb.get("html")]


def test_payloads_reach_the_pages_as_text(payload_run):
    summary = json.loads((payload_run / "summary.json").read_text(encoding="utf-8"))
    assert {nb["status"] for nb in summary["notebooks"]} <= {"ok", "skipped"}, \
        {nb["name"]: nb["error"] for nb in summary["notebooks"] if nb["status"] == "failed"}
    shown = "".join(page.read_text(encoding="utf-8") for page in _pages(payload_run))
    # the payloads are on the pages, escaped: the test exercised the escaping, not an empty page
    assert "&lt;script&gt;alert(" in shown
    assert "&lt;img src=x onerror=alert(" in shown


def test_no_data_born_markup_in_the_raw_html(payload_run):
    for page in _pages(payload_run):
        parser = _LiveMarkup()
        parser.feed(page.read_text(encoding="utf-8"))
        assert parser.found == [], f"{page.name}: {parser.found[:5]}"


@pytest.mark.browser
def test_nothing_executes_in_chromium(payload_run):
    from playwright.sync_api import sync_playwright

    from .browser import CHROMIUM_FLAGS

    dialogs, errors = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.route("http*://**", lambda route: route.abort())
        for html in _pages(payload_run):
            page.goto(html.resolve().as_uri(), wait_until="load")
            # follow every link a reader could click: a javascript: link would run here
            hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
            assert not [h for h in hrefs if h.strip().lower().startswith("javascript:")], html.name
        browser.close()
    assert dialogs == [], dialogs
    assert errors == [], errors
