"""The whole review on a ladder of small, real-shaped stores: no notebook fails, every page renders, and what cannot
be computed says so in one sentence in the page's language — never a traceback."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ecomlib import runner
from ecomlib.contract import TABLES
from ecomlib.i18n import catalogue

from .ladder import RUNGS

ROOT = Path(__file__).resolve().parents[1]
#: Half the rungs render in Chinese: every gap sentence exists in both languages (checked on the catalogue below).
LANG = {rung: ("zh" if i % 2 else "en") for i, rung in enumerate(RUNGS)}
#: The small rungs run every review; the larger ones (120–180 days) run the reviews their shape is about — every
#: review's own tests compute every rung without a kernel, so this keeps the suite's time for what only a real
#: run shows (the notebook and its page).
ONLY = {"one_channel": ["funnel", "cohort_ltv", "ad_roas"], "no_repeat": ["cohort_ltv", "segments"],
        "no_ad_spend": ["funnel", "ad_roas"], "no_inventory": ["supplier_performance", "inventory"],
        "no_returns": ["returns", "supplier_performance", "fulfilment", "service"]}


@pytest.fixture(scope="module", params=RUNGS)
def rung_run(request, ladder_dir, tmp_path_factory):
    rung = request.param
    data = ladder_dir(rung)
    out = tmp_path_factory.mktemp(f"ladder-{rung}-reports")
    result = runner.run_review(ROOT / "params" / "weekly.yaml", data_dir=data, out_dir=out, only=ONLY.get(rung),
                               overrides=[f"lang={LANG[rung]}"], echo=lambda line: None)
    run = Path(result["index"]).parent
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    summary["notebooks"] = [nb for nb in summary["notebooks"] if rung not in ONLY or nb["name"] in ONLY[rung]]
    return rung, run, summary


def test_no_notebook_fails_on_the_ladder(rung_run):
    rung, run, summary = rung_run
    failed = {nb["name"]: nb["error"] for nb in summary["notebooks"] if nb["status"] == "failed"}
    assert failed == {}, f"{rung}: {failed}"


def test_every_page_renders_without_a_traceback(rung_run):
    rung, run, summary = rung_run
    for nb in summary["notebooks"]:
        assert nb.get("html"), f"{rung}: {nb['name']} has no page"
        html = (run / nb["html"]).read_text(encoding="utf-8")
        assert "Traceback" not in html, f"{rung}: {nb['name']}"
        if LANG[rung] == "zh":
            assert re.search(r"[\u4e00-\u9fff]", html), f"{rung}: {nb['name']} is not in Chinese"


def test_skipped_reviews_name_the_missing_table_in_one_line(rung_run):
    rung, run, summary = rung_run
    for nb in summary["notebooks"]:
        if nb["status"] == "skipped":
            assert nb["error"] and "\n" not in nb["error"], f"{rung}: {nb['name']}"
            assert re.search(r"\b(" + "|".join(TABLES) + r")\b", nb["error"]), f"{rung}: {nb['name']}: {nb['error']}"


def test_rungs_with_the_tables_run_their_reviews(rung_run):
    rung, run, summary = rung_run
    status = {nb["name"]: nb["status"] for nb in summary["notebooks"]}
    # every rung has orders, so cohorts run wherever they are run; the no-table rungs keep the reviews that need
    # no such table
    assert status.get("cohort_ltv", "ok") == "ok", rung
    if rung in ("no_inventory", "no_returns", "two_weeks"):
        assert status["supplier_performance"] == "ok", rung
    if rung == "no_returns":  # an empty returns table means "no returns", not a missing table
        assert status["returns"] == "ok"
    if rung == "no_ad_spend":
        assert status["ad_roas"] == "skipped" and status["funnel"] == "ok"


def test_every_gap_sentence_exists_in_english_and_chinese():
    gaps = {key: texts for key, texts in catalogue().items() if ".gap." in key}
    assert len(gaps) >= 10, "the reviews declare their gap sentences as <module>.gap.<name>"
    assert {key for key, texts in gaps.items() if not (texts.get("en") and texts.get("zh"))} == set()
