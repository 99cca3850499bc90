"""The full weekly review of the demo store, in Chinese: every notebook runs, the index opens with the week's findings
(the planted ones among them, each linking to its section), pages render in a real browser.

Screenshots of the index and every page go to ``reports/screenshots/``; with ``ECOMLIB_SCREENSHOTS=docs`` the test
also renders the review in English and writes both languages' screenshots to ``docs/img/`` (how the README's
pictures are made: ``ECOMLIB_SCREENSHOTS=docs .venv/bin/python -m pytest tests/test_review_demo.py``).
"""

from __future__ import annotations

import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ecomlib import runner

from .browser import inspect_page

ROOT = Path(__file__).resolve().parents[1]
DOCS_SHOTS = os.environ.get("ECOMLIB_SCREENSHOTS") == "docs"


def _review(demo_dir, out: Path, lang: str, engine: str | None = None) -> Path:
    result = runner.run_review(ROOT / "params" / "weekly.yaml", data_dir=demo_dir, out_dir=out, engine=engine,
                               overrides=[f"lang={lang}"], echo=print)
    return Path(result["index"]).parent


@pytest.fixture(scope="module")
def zh_run(demo_dir, tmp_path_factory) -> Path:
    """The whole weekly review of the demo store in Chinese, on the DuckDB engine: nbval runs every notebook on
    pandas (auto picks it for the demo), so the suite renders each notebook once per engine path, and the recorded
    headlines below hold the DuckDB run to the pandas numbers."""
    return _review(demo_dir, tmp_path_factory.mktemp("reports"), "zh", engine="duckdb")


def _summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text(encoding="utf-8"))


def test_every_notebook_runs_in_chinese_with_no_untranslated_key(zh_run):
    summary = _summary(zh_run)
    assert summary["period"] == "2026-W47" and summary["lang"] == "zh"
    failed = {nb["name"]: nb["error"] for nb in summary["notebooks"] if nb["status"] != "ok"}
    assert failed == {}
    for nb in summary["notebooks"]:
        executed = (zh_run / nb["ipynb"]).read_text(encoding="utf-8")
        assert "has no 'zh' text" not in executed, nb["name"]
        assert "is not in the catalogue" not in executed, nb["name"]
        assert nb["headlines"], f"{nb['name']} recorded no headline numbers"
        assert all(h["source"].startswith("ecomlib.") for h in nb["headlines"]), nb["name"]
        html = (zh_run / nb["html"]).read_text(encoding="utf-8")
        assert re.search(r"[\u4e00-\u9fff]", html) and '<html lang="zh-CN">' in html
        assert "data:image/png;base64," in html, f"{nb['name']} has no inlined figure"
        assert "el.load_dataset" not in html and "import ecomlib" not in html  # code hidden


def test_every_page_says_which_engine_ran_and_how_many_rows_it_read(zh_run, demo_dir):
    import pyarrow.parquet as pq

    summary = _summary(zh_run)
    assert summary["engine"] == "duckdb"
    for nb in summary["notebooks"]:
        assert nb["engine"] == "duckdb" and nb["rows_scanned"] > 0, nb["name"]
        html = (zh_run / nb["html"]).read_text(encoding="utf-8")
        assert f"计算引擎：duckdb · 读取 {nb['rows_scanned']:,} 行</footer>" in html, nb["name"]
    funnel = next(nb for nb in summary["notebooks"] if nb["name"] == "funnel")
    events = pq.ParquetFile(demo_dir / "events.parquet").metadata.num_rows
    assert funnel["rows_scanned"] > events  # the funnel's queries read the events (some more than once)


def test_index_headlines_equal_summary(zh_run):
    summary = _summary(zh_run)
    index = (zh_run / "index.html").read_text(encoding="utf-8")
    for nb in summary["notebooks"]:
        section = index[index.index(f'id="{nb["name"]}"'):]
        section = section[: section.index("</section>")]
        shown = dict(re.findall(r'data-key="([^"]+)" data-value="([^"]*)"', section))
        assert {k: (None if v == "None" else float(v)) for k, v in shown.items()} == \
               {h["key"]: h["value"] for h in nb["headlines"]}


class _Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.ids |= {v for k, v in attrs if k == "id" and v}


def test_index_opens_with_the_weeks_findings_linking_to_their_sections(zh_run):
    summary = _summary(zh_run)
    index = (zh_run / "index.html").read_text(encoding="utf-8")
    first = index.index("<section")
    assert index[first:].startswith('<section class="card findings"'), "the findings come before the cards"
    shown = index[first: index.index("</section>", first)]
    links = re.findall(r'href="([^"#]+\.html)#([^"]+)"', shown)
    assert len(links) >= 5
    ids = {}
    for page, anchor in links:
        if page not in ids:
            parser = _Ids()
            parser.feed((zh_run / page).read_text(encoding="utf-8"))
            ids[page] = parser.ids
        assert anchor in ids[page], f"{page}#{anchor} does not resolve"
    top = summary["findings"][:6]
    assert all(f["money"] is not None and f["money"] > 0 for f in top[:5])
    assert "¥" in shown  # money at stake is on the page, in the store currency


def test_the_planted_findings_are_among_the_top_findings(zh_run):
    findings = _summary(zh_run)["findings"]
    top = " ".join(f["text"] for f in runner.top_findings(findings))  # what the index's "This week" shows
    assert "S07" in top                                    # worst supplier (OTIF, rejects, quality returns)
    assert "SKU-0251" in top                               # culprit SKU
    assert "展示广告" in top                                # display below break-even
    assert "移动端" in top and "开始结账" in top             # mobile checkout → purchase drop
    assert "中通 ZTO" in top and "西南" in top              # the slow carrier lane
    assert "周末" in top                                    # the weekend first-response gap
    assert "拼多多" in top and "缺货" in top                 # the undercut A item and the best seller's stock-out
    cohort = [f for f in findings if f["review"] == "cohort_ltv" and "2025-09" in f["text"]]
    assert cohort and cohort[0]["confidence"] == "significant"  # the planted cohort, on the index's list too


def _screenshots(run: Path, lang: str) -> list[dict]:
    shots = ROOT / "reports" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    seen = []
    for nb in [{"html": "index.html"}] + _summary(run)["notebooks"]:
        page = nb["html"]
        name = f"review-{page.replace('.html', '')}-{lang}.png"
        shot = (ROOT / "docs" / "img" / name) if DOCS_SHOTS else shots / name
        seen.append({"page": page, **inspect_page(run / page, shot, height=1800)})
    return seen


@pytest.mark.browser
def test_pages_load_in_chromium_with_their_images_and_no_console_errors(zh_run, demo_dir, tmp_path_factory):
    runs = [(zh_run, "zh")] + ([(_review(demo_dir, tmp_path_factory.mktemp("en"), "en"), "en")] if DOCS_SHOTS else [])
    for run, lang in runs:
        for seen in _screenshots(run, lang):
            page = seen["page"]
            assert seen["errors"] == [], page
            assert seen["external_requests"] == [] and seen["failed_requests"] == [], page
            assert all(img["complete"] and img["width"] > 0 for img in seen["images"]), page
            if page != "index.html":
                assert len(seen["images"]) >= 1, page
            if lang == "zh":
                assert re.search(r"[\u4e00-\u9fff]", seen["text"]), page


def test_docs_definitions_lists_every_headline_with_its_function(zh_run):
    doc = (ROOT / "docs" / "definitions.md").read_text(encoding="utf-8")
    for nb in _summary(zh_run)["notebooks"]:
        section = doc[doc.index(f"## {nb['name']} "):]
        section = section[: section.find("\n## ", 1) if "\n## " in section[1:] else len(section)]
        for h in nb["headlines"]:
            row = next((line for line in section.splitlines() if line.startswith(f"| `{h['key']}` |")), None)
            assert row is not None, f"docs/definitions.md: {nb['name']} lacks {h['key']}"
            assert f"`{h['source']}`" in row, f"docs/definitions.md: {h['key']} is computed by {h['source']}"


#: Codes of the data vocabulary (channels, devices, statuses, return reasons) that a Chinese reader must never see raw.
RAW_CODES = re.compile(r"\b(paid_search|paid_social|display|affiliate|organic|direct|email|video|referral|desktop|"
                       r"mobile|tablet|completed|pending|cancelled|refunded|partially_refunded|quality_defect|"
                       r"size_fit|damaged_in_transit|not_as_described|changed_mind)\b")


def test_no_raw_vocabulary_code_in_a_chinese_sentence_finding_or_headline(zh_run):
    import nbformat

    summary = _summary(zh_run)
    texts = [f["text"] for f in summary["findings"]]
    for nb in summary["notebooks"]:
        texts += [h["label"] for h in nb["headlines"]]
        executed = nbformat.read(str(zh_run / nb["ipynb"]), as_version=4)
        texts += ["".join(out.get("data", {}).get("text/markdown", "")) for cell in executed.cells
                  for out in cell.get("outputs", [])]
    raw = sorted({m for text in texts for m in RAW_CODES.findall(text)})
    assert raw == [], f"raw data codes on Chinese pages: {raw}"


RECORDED = ROOT / "tests" / "fixtures" / "demo_headlines.json"


def test_demo_headlines_are_the_recorded_ones(zh_run):
    """Every headline of the demo review (seed 42, W47) and its previous value, as recorded: a change of any number
    on the index is a decision, made by re-recording (ECOMLIB_RECORD_HEADLINES=1) in the commit that explains it."""
    now = {f"{nb['name']}.{h['key']}": [h["value"], h["previous"]]
           for nb in _summary(zh_run)["notebooks"] for h in nb["headlines"]}
    if os.environ.get("ECOMLIB_RECORD_HEADLINES") == "1":
        RECORDED.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    recorded = json.loads(RECORDED.read_text(encoding="utf-8"))
    assert sorted(now) == sorted(recorded), "headlines added or removed: re-record them"
    for key, expected in recorded.items():
        for got, want in zip(now[key], expected):  # value, previous; None where a number is unknown
            assert (got is None) == (want is None) and (want is None or got == pytest.approx(want, rel=1e-6)), key
