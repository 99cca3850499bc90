"""The full weekly review of the demo store, in Chinese: every notebook runs, pages render in a real browser."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ecomlib import runner

from .browser import inspect_page

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def zh_run(demo_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reports")
    result = runner.run_review(ROOT / "params" / "weekly.yaml", data_dir=demo_dir, out_dir=out,
                               overrides=["lang=zh"], echo=print)
    return Path(result["index"]).parent


def test_every_notebook_runs_in_chinese_with_no_untranslated_key(zh_run):
    summary = json.loads((zh_run / "summary.json").read_text(encoding="utf-8"))
    assert summary["period"] == "2026-W47" and summary["lang"] == "zh"
    failed = {nb["name"]: nb["error"] for nb in summary["notebooks"] if nb["status"] != "ok"}
    assert failed == {}
    for nb in summary["notebooks"]:
        executed = (zh_run / nb["ipynb"]).read_text(encoding="utf-8")
        assert "has no 'zh' text" not in executed, nb["name"]
        assert "is not in the catalogue" not in executed, nb["name"]
        assert nb["headlines"], f"{nb['name']} recorded no headline numbers"
        html = (zh_run / nb["html"]).read_text(encoding="utf-8")
        assert re.search(r"[\u4e00-\u9fff]", html)
        assert "data:image/png;base64," in html, f"{nb['name']} has no inlined figure"
        assert "el.load_dataset" not in html and "import ecomlib" not in html  # code hidden


def test_index_headlines_equal_summary(zh_run):
    summary = json.loads((zh_run / "summary.json").read_text(encoding="utf-8"))
    index = (zh_run / "index.html").read_text(encoding="utf-8")
    for nb in summary["notebooks"]:
        section = index[index.index(f'id="{nb["name"]}"'):]
        section = section[: section.index("</section>")]
        shown = dict(re.findall(r'data-key="([^"]+)" data-value="([^"]*)"', section))
        assert {k: (None if v == "None" else float(v)) for k, v in shown.items()} == \
               {h["key"]: h["value"] for h in nb["headlines"]}


@pytest.mark.browser
def test_pages_load_in_chromium_with_their_images_and_no_console_errors(zh_run):
    shots = ROOT / "reports" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    for page in ["index.html", "funnel.html"]:
        seen = inspect_page(zh_run / page, shots / page.replace(".html", ".png"))
        assert seen["errors"] == [], page
        assert seen["external_requests"] == [] and seen["failed_requests"] == [], page
        assert all(img["complete"] and img["width"] > 0 for img in seen["images"]), page
        assert "运营复盘" in seen["text"] or "转化" in seen["text"]
    funnel = inspect_page(zh_run / "funnel.html")
    assert len(funnel["images"]) >= 2
