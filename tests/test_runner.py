"""The review runner on tiny notebooks: parameter checks, periods, failures, faults, atomic re-runs, index and history.

Most tests put a stub executor (``fake_execute``) in place of Papermill: it writes an executed notebook with
outputs (a title, a figure, headlines and findings) without starting a kernel, so the runner's logic — workers,
timeouts, locks, clean-up, rendering, summary and history — is tested in seconds. Two tests start real kernels:
one end-to-end run through the command line and one kernel that hangs and one that dies.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

from ecomlib import runner
from ecomlib.errors import ParameterError, PeriodError, ReviewError
from ecomlib.report import MIMETYPE

ROOT = Path(__file__).resolve().parents[1]
PARAMS_CELL = """data_dir = "../data"  # dataset folder
period_start = None  # first day
period_end = None  # last day
compare_start = None  # comparison first day
compare_end = None  # comparison last day
lang = None  # en or zh
threshold = 0.5  # a float parameter
segments = ["mobile"]  # a list parameter
unit = "session"  # counting unit
alpha = 0.05  # significance level
level = 0.9  # service level, in (0, 1)
window_minutes = None  # conversion window, in minutes; None: 30
rules_path = None  # rules file; None: the packaged rules
api_token = ""  # token of the shop's API
"""
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


# The stub executor ---------------------------------------------------------------------------------------------
def fake_execute(name: str, source: str, target: str, params: dict, cwd: str) -> dict:
    """Write ``target`` as if Papermill had run ``source`` with ``params``; behave as its metadata ``fake`` says.

    ``fake``: ``status`` ok | fail | skip | hang | die | child (start a tagged child process, then hang);
    ``headlines``: [{key, label, unit, values: {period_start: value} or value}]; ``findings``: Finding JSON.
    """
    nb = nbformat.read(source, as_version=4)
    fake = nb.metadata.get("fake", {})
    behaviour = fake.get("status", "ok")
    injected = nbformat.v4.new_code_cell("\n".join(f"{k} = {v!r}" for k, v in params.items()))
    injected.metadata["tags"] = ["injected-parameters"]
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])) + 1
    nb.cells.insert(at, injected)
    code = [c for c in nb.cells[at + 1:] if c.cell_type == "code"]
    title = f"# {fake.get('title', 'Tiny review 小报告')}\n\n**Store:** Tiny · data {params['data_dir']}"
    code[0].outputs = [nbformat.v4.new_output("display_data", data={"text/markdown": title})]
    code[0].outputs.append(nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"}))
    code[0].outputs.append(nbformat.v4.new_output("stream", name="stdout",
                                                  text=f"token is {params.get('api_token')}\nunit={params.get('unit')}\n"))
    for cell in code:
        if "details" in cell.metadata.get("tags", []):
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="detail table\n")]
    if behaviour in ("hang", "child"):
        nbformat.write(nb, target)  # papermill saves as it goes: the page shows the cells that finished
        if behaviour == "child":
            subprocess.Popen(["sleep", "300"], start_new_session=True)  # like a kernel: its own session
        time.sleep(300)
    if behaviour == "die":
        os._exit(3)
    if behaviour == "skip":
        nbformat.write(nb, target)
        return {"name": name, "status": "skipped", "cell": 2,
                "error": f"MissingTableError: {params['data_dir']}: no table 'events' (needed by {name}). Fix: add it"}
    if behaviour == "fail":
        code[-1].outputs = [nbformat.v4.new_output("error", ename="ValueError", evalue="planned failure for the test",
                                                   traceback=[f"File {cwd}/x.py:1", "ValueError: planned failure for the test"])]
        nbformat.write(nb, target)
        return {"name": name, "status": "failed", "cell": 3, "error": "ValueError: planned failure for the test"}
    headlines = []
    for h in fake.get("headlines", []):
        values = h["values"]
        value = values.get(params["period_start"]) if isinstance(values, dict) else values
        headlines.append({"key": h["key"], "label": h["label"], "value": value, "unit": h.get("unit", "count"),
                          "previous": None, "good": "up", "source": f"tests.fake.{h['key']}"})
    payload = {"headlines": headlines, "findings": fake.get("findings", []), "scan": fake.get("scan")}
    code[-1].outputs = [nbformat.v4.new_output("display_data", data={MIMETYPE: payload})]
    nbformat.write(nb, target)
    return {"name": name, "status": "ok", "cell": None, "error": None}


def write_notebook(path: Path, fake: dict | None = None, cells: list[str] | None = None) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["fake"] = fake or {}
    about = nbformat.v4.new_markdown_cell("# Tiny review\n\nAn English note for analysts.")
    about.metadata["tags"] = ["about"]
    params = nbformat.v4.new_code_cell(PARAMS_CELL)
    params.metadata["tags"] = ["parameters"]
    heading = nbformat.v4.new_markdown_cell("## Headline numbers (English in the notebook)")
    heading.metadata["tags"] = ["heading:common.headlines"]
    details = nbformat.v4.new_code_cell("print('detail table')")
    details.metadata["tags"] = ["details"]
    details.outputs = []
    body = [nbformat.v4.new_code_cell(c) for c in (cells or ["import ecomlib as el\nSECRET_CODE_MARKER = 1",
                                                             "el.record_headlines([], msg)"])]
    nb.cells = [about, params, body[0], heading, details] + body[1:]
    nbformat.write(nb, str(path))


ORDERS = ("order_id,customer_id,order_time,channel,status,revenue,discount,shipping_fee,currency\n"
          "O1,C1,2026-11-02 10:00:00,web,completed,10,0,0,CNY\nO2,C1,2026-11-22 10:00:00,web,completed,10,0,0,CNY\n")
GOOD = {"title": "Tiny review 小报告",
        "headlines": [{"key": "orders", "label": "Orders 订单", "unit": "count",
                       "values": {"2026-11-09": 100, "2026-11-16": 120, "2026-11-02": 90}}],
        "findings": [{"review": "good", "key": "k1", "text": "Returns of SKU <b>9</b> cost ¥500", "numbers": {"x": 1},
                      "money": 500.0, "severity": "high", "confidence": "significant", "anchor": "sec-headlines",
                      "source": "tests.fake"},
                     {"review": "good", "key": "k2", "text": "A small thing", "numbers": {}, "money": None,
                      "severity": "low", "confidence": "descriptive", "anchor": None, "source": "tests.fake"}]}


@pytest.fixture
def kit(tmp_path) -> Path:
    """A folder with notebooks/, params/ and a two-order dataset from Monday 2026-11-02 to Sunday 2026-11-22."""
    for folder in ("notebooks", "params", "data"):
        (tmp_path / folder).mkdir()
    write_notebook(tmp_path / "notebooks" / "good.ipynb", GOOD)
    write_notebook(tmp_path / "notebooks" / "boom.ipynb", {"status": "fail"})
    write_notebook(tmp_path / "notebooks" / "needs_events.ipynb", {"status": "skip"})
    (tmp_path / "data" / "orders.csv").write_text(ORDERS)
    (tmp_path / "data" / "store.yaml").write_text("name: Tiny 小店\ncurrency: CNY\ntimezone: Asia/Shanghai\n",
                                                  encoding="utf-8")
    write_set(tmp_path, ["good"])
    return tmp_path


@pytest.fixture
def stub(monkeypatch):
    monkeypatch.setattr(runner, "_execute", fake_execute)
    return fake_execute


def write_set(root: Path, notebooks: list[str], extra: str = "") -> Path:
    path = root / "params" / "set.yaml"
    path.write_text(f"period: week\ndata: {root / 'data'}\nnotebooks: {json.dumps(notebooks)}\n{extra}")
    return path


def run(kit: Path, **kwargs) -> dict:
    kwargs.setdefault("out_dir", kit / "reports")
    kwargs.setdefault("echo", lambda line: None)
    return runner.run_review(kit / "params" / "set.yaml", **kwargs)


def plan(kit: Path, overrides=(), extra: str = "", names=("good",)) -> dict:
    write_set(kit, list(names), extra)
    pset = runner.load_parameter_set(kit / "params" / "set.yaml")
    values = {"data_dir": "/d", "period_start": "2026-11-16", "period_end": "2026-11-22",
              "compare_start": "2026-11-09", "compare_end": "2026-11-15", "lang": "en"}
    return runner.plan_parameters(pset, list(names), list(overrides), values)


def ours(pid: int | None = None) -> list[int]:
    """Processes tagged by this test's own run of W47 (the runner's temp folder carries its PID): the other xdist
    worker may be running a real W47 review at the same moment, and its kernels must not count here."""
    return runner.tagged_processes(f".2026-W47.tmp-{os.getpid() if pid is None else pid}/")


def alive(pid: int) -> bool:
    """True when ``pid`` runs (a zombie waiting for a reaper does not: the container's init may not reap)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


# Parameters ----------------------------------------------------------------------------------------------------
def test_unknown_parameter_is_refused_before_anything_runs_and_lists_the_real_ones(kit, stub):
    write_set(kit, ["good"], "notebook_parameters:\n  good:\n    treshold: 0.7\n")
    with pytest.raises(ParameterError) as info:
        run(kit)
    text = str(info.value)
    assert "good: unknown parameter 'treshold'" in text and "did you mean 'threshold'" in text
    assert "threshold (float)" in text and "segments (list)" in text and "data_dir (str)" in text
    assert not (kit / "reports").exists() or not any((kit / "reports").iterdir())


def test_misspelt_shared_parameter_and_cli_override_are_refused(kit):
    with pytest.raises(ParameterError, match="shared parameter 'tresh' is not a parameter of any notebook"):
        plan(kit, extra="parameters:\n  tresh: 1\n")
    with pytest.raises(ParameterError, match="unknown parameter 'colour'"):
        plan(kit, ["good:colour=red"])


def test_wrong_type_is_refused_with_the_expected_type(kit):
    with pytest.raises(ParameterError, match=r"parameter 'threshold' must be float, got str 'high'"):
        plan(kit, extra="notebook_parameters:\n  good:\n    threshold: high\n")
    with pytest.raises(ParameterError, match=r"'segments' must be list"):
        plan(kit, extra="notebook_parameters:\n  good:\n    segments: mobile\n")


def test_command_line_wins_over_the_parameter_file(kit):
    extra = "parameters:\n  unit: session\nnotebook_parameters:\n  good:\n    unit: session\n    threshold: 0.7\n"
    assert plan(kit, ["unit=user"], extra)["good"]["unit"] == "user"
    assert plan(kit, ["unit=user", "good:unit=visit"], extra)["good"]["unit"] == "visit"
    assert plan(kit, [], extra)["good"]["threshold"] == 0.7


@pytest.mark.parametrize("override, where", [("period_start=2026-01-01", "-p period_start"),
                                             ("good:period_start=2026-01-01", "-p good:period_start"),
                                             ("good:data_dir=/elsewhere", "-p good:data_dir"),
                                             ("compare_end=2026-01-01", "-p compare_end")])
def test_runner_parameters_cannot_be_set_from_the_command_line(kit, override, where):
    with pytest.raises(ParameterError, match=f"{where}: '\\w+' is set by the runner.*--period"):
        plan(kit, [override])


def test_runner_parameters_cannot_be_set_in_a_parameter_set(kit):
    with pytest.raises(ParameterError, match="set by the runner; use --data / --period"):
        plan(kit, extra="parameters:\n  period_start: '2026-01-01'\n")
    with pytest.raises(ParameterError, match="notebook_parameters.good: 'data_dir' is set by the runner"):
        plan(kit, extra="notebook_parameters:\n  good:\n    data_dir: /elsewhere\n")


def test_numbers_in_scientific_notation_and_stated_ranges(kit):
    assert plan(kit, ["alpha=1e-3"])["good"]["alpha"] == 0.001
    for bad, words in (("alpha=-1", r"'alpha' must be in \(0, 1\), not -1"),
                       ("alpha=1", r"'alpha' must be in \(0, 1\)"),
                       ("level=1.5", r"'level' must be in \(0, 1\), not 1.5 \(service level, in \(0, 1\)\)"),
                       ("window_minutes=-5", r"'window_minutes' must be at least 0"),
                       ("threshold=.nan", "must be a finite number"),
                       ("threshold=inf", "must be a finite number")):
        with pytest.raises(ParameterError, match=words):
            plan(kit, [bad])


def test_parameters_whose_default_is_none_take_their_type_from_the_comment(kit):
    params = plan(kit, ["window_minutes=60", "rules_path=my rules.yaml"])["good"]
    assert params["window_minutes"] == 60.0 and params["rules_path"] == "my rules.yaml"
    with pytest.raises(ParameterError, match="'window_minutes' must be float, got str 'soon'"):
        plan(kit, ["window_minutes=soon"])
    assert plan(kit, ["rules_path=123"])["good"]["rules_path"] == "123"  # a path stays text
    assert plan(kit, ["window_minutes=None"])["good"]["window_minutes"] is None
    declared = runner.notebook_parameters(kit / "notebooks" / "good.ipynb")
    assert (declared["window_minutes"]["type"], declared["rules_path"]["type"]) == ("float", "str")


def test_parameter_ranges_are_read_from_comments_and_names():
    assert runner.parameter_range("x", "a share (0–1)") == (0.0, False, 1.0, False)
    assert runner.parameter_range("x", "penalty, 0 or more; 0.001-0.1 steadies a fit")[:2] == (0.0, False)
    assert runner.parameter_range("gross_margin", "gross margin as a fraction of revenue") == (0.0, False, 1.0, False)
    assert runner.parameter_range("holdout_weeks", "length of the holdout")[0] == 0.0
    assert runner.parameter_range("target_roas", "ROAS the business aims for (revenue ÷ spend, ×)") is None
    assert runner.parameter_range("x", "10080 (7 days) for users") is None


def test_secret_looking_parameters_are_redacted():
    assert runner.redact({"api_token": "abc", "password": "p", "unit": "user", "shop_key": None}) == \
        {"api_token": "[redacted]", "password": "[redacted]", "unit": "user", "shop_key": None}


def test_only_is_trimmed_and_deduplicated(kit, stub):
    write_set(kit, ["good", "boom"])
    lines = []
    result = runner.run_review(kit / "params" / "set.yaml", period="2026-W47", out_dir=kit / "reports",
                               only=[" good", "good", "good "], echo=lines.append)
    assert [line for line in lines if "started" in line] == ["  … good started"]
    assert result["notebooks"][1]["note"] == "Not run in this report (--only)."  # boom: not run this time, said so
    with pytest.raises(ParameterError, match="--only nope: not in"):
        run(kit, only=["nope"])


def test_only_keeps_the_other_notebooks_pages_from_the_last_run_and_says_so(kit, stub):
    write_set(kit, ["good", "boom"])
    run(kit, period="2026-W47")
    second = run(kit, period="2026-W47", only=["good"])
    status = {nb["name"]: (nb["status"], nb.get("carried_over", False)) for nb in second["notebooks"]}
    assert status == {"good": ("ok", False), "boom": ("failed", True)}
    assert (Path(second["index"]).parent / "boom.html").exists()
    assert "Kept from the previous run of this period" in (Path(second["index"]).parent / "index.html").read_text()


def test_missing_notebook_and_bad_set_are_review_errors(kit):
    write_set(kit, ["nothere"])
    with pytest.raises(ReviewError, match="notebook 'nothere' not found"):
        run(kit)
    with pytest.raises(ReviewError, match="parameter set not found"):
        runner.run_review(kit / "params" / "missing.yaml", out_dir=kit / "reports")


def test_a_parameter_line_papermill_cannot_read_is_named(kit):
    nb = nbformat.read(str(kit / "notebooks" / "good.ipynb"), as_version=4)
    nb.cells[1].source = nb.cells[1].source.replace("# a float parameter", "# None = use the default")
    nbformat.write(nb, str(kit / "notebooks" / "good.ipynb"))
    with pytest.raises(ParameterError, match=r"cannot read line 7 .*'threshold' could not be set.*comment containing '='"):
        run(kit)


# Periods -------------------------------------------------------------------------------------------------------
def test_period_options(kit, stub):
    assert run(kit, start="2026-11-09", end="2026-11-22")["period"] == "2026-11-09_2026-11-22"
    assert run(kit)["period"] == "2026-W47"  # the last complete week of the data
    with pytest.raises(ParameterError, match="--period or --start/--end, not both"):
        run(kit, period="2026-W47", start="2026-11-01")


@pytest.mark.parametrize("period", ["2026-W49", "last-week", "2025-W01"])
def test_a_period_without_data_is_refused_before_anything_runs_naming_the_range(kit, stub, period):
    with pytest.raises(PeriodError, match=r"has no data: .* runs from 2026-11-02 to 2026-11-22.*--period 2026-W47"):
        run(kit, period=period)
    assert not (kit / "reports").exists()


def test_a_partly_covered_period_runs_with_a_banner_on_every_page_and_the_index(kit, stub):
    (kit / "data" / "orders.csv").write_text(ORDERS.replace("2026-11-22 10:00:00", "2026-11-25 10:00:00")
                                             .replace("2026-11-02", "2026-11-18"))
    result = run(kit, period="2026-W48")
    assert result["coverage"]["days"] == 3 and result["coverage"]["of"] == 7
    run_dir = Path(result["index"]).parent
    for page in ("index.html", "good.html"):
        assert "the data covers 3 of its 7 days" in (run_dir / page).read_text(encoding="utf-8"), page


def test_default_period_of_data_starting_midweek_is_not_the_week_before(kit, stub):
    (kit / "data" / "orders.csv").write_text(ORDERS.replace("2026-11-02", "2026-11-18")
                                             .replace("2026-11-22 10:00:00", "2026-11-20 10:00:00"))
    result = run(kit)
    assert result["period"] == "2026-W47" and result["coverage"]["days"] == 3  # Wed–Fri of the only week


# Runs, pages, index, history -------------------------------------------------------------------------------------
def test_failures_and_skips_do_not_stop_the_others_and_say_what_happened(kit, stub):
    write_set(kit, ["good", "boom", "needs_events"])
    result = run(kit, period="2026-W47", overrides=["lang=zh"])
    run_dir = Path(result["index"]).parent
    status = {nb["name"]: nb["status"] for nb in result["notebooks"]}
    assert status == {"good": "ok", "boom": "failed", "needs_events": "skipped"}
    skipped = result["notebooks"][2]
    assert skipped["missing_table"] == "events" and "ecomlib import" in skipped["note"] and "「events」" in skipped["note"]
    page = (run_dir / "needs_events.html").read_text(encoding="utf-8")
    assert "ecomlib import" in page and "Traceback" not in page and "MissingTableError" not in page
    assert '<html lang="zh-CN">' in page and skipped["ipynb"] is None
    index = (run_dir / "index.html").read_text(encoding="utf-8")
    assert "「events」" in index and 'data-status="failed"' in index
    boom = (run_dir / "boom.html").read_text(encoding="utf-8")
    assert "planned failure for the test" in boom


def test_pages_are_self_contained_translated_anchored_and_titled_as_in_the_index(kit, stub):
    result = run(kit, period="2026-W47", overrides=["lang=zh"])
    run_dir = Path(result["index"]).parent
    html = (run_dir / "good.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in html
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["']https?://""", html)
    assert "SECRET_CODE_MARKER" not in html and "threshold = 0.5" not in html
    assert '<html lang="zh-CN">' in html
    assert '<h2 id="sec-headlines">关键指标</h2>' in html and "English in the notebook" not in html
    assert re.search(r'<details class="ecomlib-details"><summary>分析师明细', html)
    title = re.search(r"<title>(.*?)</title>", html)[1]
    index = (run_dir / "index.html").read_text(encoding="utf-8")
    assert title == "Tiny review 小报告" and f'<a href="good.html">{title}</a>' in index
    assert '<html lang="zh-CN">' in index


def test_show_code_keeps_the_code_cells(kit, stub):
    result = run(kit, period="2026-W47", show_code=True)
    html = (Path(result["index"]).parent / "good.html").read_text(encoding="utf-8")
    assert "SECRET_CODE_MARKER" in html and "threshold = 0.5" not in html  # parameter cells stay out


def test_index_opens_with_ranked_findings_linking_to_sections_and_escapes_data(kit, stub):
    result = run(kit, period="2026-W47")
    run_dir = Path(result["index"]).parent
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert [f["key"] for f in summary["findings"]] == ["k1", "k2"]
    assert summary["findings"][0]["link"] == "good.html#sec-headlines" and summary["findings"][0]["review"] == "good"
    index = (run_dir / "index.html").read_text(encoding="utf-8")
    assert index.index("This week") < index.index('id="good"')
    assert "SKU &lt;b&gt;9&lt;/b&gt;" in index and "<b>9</b>" not in index
    assert 'href="good.html#sec-headlines"' in index and "¥500" in index
    target = (run_dir / "good.html").read_text(encoding="utf-8")
    assert 'id="sec-headlines"' in target
    headline = summary["notebooks"][0]["headlines"][0]
    assert headline["source"] == "tests.fake.orders" and headline["history"] == [{"period": "2026-W47", "value": 120}]


def test_two_periods_into_one_folder_give_a_history_of_two_and_a_sparkline(kit, stub):
    run(kit, period="2026-W46")
    result = run(kit, period="2026-W47")
    headline = result["notebooks"][0]["headlines"][0]
    assert headline["history"] == [{"period": "2026-W46", "value": 100}, {"period": "2026-W47", "value": 120}]
    assert headline["previous"] == 100
    index = (Path(result["index"]).parent / "index.html").read_text(encoding="utf-8")
    assert re.search(r'data-points="2"><svg class="spark"[^>]*>.*<polyline points="[\d., ]+"/>', index)
    rows = runner.read_history(kit / "reports")
    assert [(r["period"], r["value"]) for r in rows] == [("2026-W46", 100), ("2026-W47", 120)]
    run(kit, period="2026-W46")  # re-running a period replaces its rows
    assert len(runner.read_history(kit / "reports")) == 2


def test_history_merge_replaces_the_rows_of_a_rerun_period():
    row = {"period": "2026-W46", "period_start": "2026-11-09", "review": "funnel", "key": "a", "value": 1, "kind": "week"}
    merged = runner.merge_history([row, {**row, "key": "gone"}], [{**row, "value": 2}], {("2026-W46", "funnel")})
    assert [(r["key"], r["value"]) for r in merged] == [("a", 2)]
    points = [{**row, "period": f"P{i:02d}", "period_start": f"2026-01-{i:02d}"} for i in range(1, 16)]
    assert [p["period"] for p in runner.headline_history(points, review="funnel", key="a", kind="week",
                                                        upto="2026-01-14")] == [f"P{i:02d}" for i in range(3, 15)]


def test_sparkline_is_numbers_only_with_gaps():
    svg = runner.sparkline([1.0, None, 2.0, 3.0])
    assert svg.count("<polyline") == 1 and "<circle" in svg and "script" not in svg
    assert runner.sparkline([5.0]) == "" and runner.sparkline([None, None]) == ""


def test_reports_carry_no_local_paths_and_no_secrets(kit, stub):
    write_set(kit, ["good", "boom", "needs_events"])
    result = run(kit, period="2026-W47", overrides=["api_token=s3cr3t-value"])
    run_dir = Path(result["index"]).parent
    for file in run_dir.rglob("*"):
        if file.is_file():
            text = file.read_text(encoding="utf-8", errors="replace")
            assert "s3cr3t-value" not in text, file.name
            assert str(kit / "notebooks") not in text and sys.prefix not in text, file.name
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["notebooks"][0]["parameters"]["api_token"] == "[redacted]"
    assert summary["data"] == str(kit / "data")  # what the user passed stays


def test_rerun_that_crashes_midway_leaves_the_last_report_intact(kit, stub, monkeypatch):
    first = run(kit, period="2026-W47")
    run_dir = Path(first["index"]).parent
    before = {p.relative_to(run_dir): p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}

    def crash(*args, **kwargs):
        raise RuntimeError("crash while rendering")

    monkeypatch.setattr(runner, "_render_all", crash)
    with pytest.raises(RuntimeError, match="crash while rendering"):
        run(kit, period="2026-W47")
    assert {p.relative_to(run_dir): p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in (kit / "reports").iterdir() if not p.name.startswith(".")) == \
        ["2026-W47", "history.jsonl"]
    assert not [p for p in (kit / "reports").iterdir() if ".tmp-" in p.name]


def test_disk_full_while_rendering_is_a_clear_error_and_the_last_report_survives(kit, stub, monkeypatch):
    first = run(kit, period="2026-W47")
    index = Path(first["index"]).read_bytes()

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(runner, "render_index", full)
    with pytest.raises(ReviewError, match="No space left on device; the previous report of 2026-W47 is unchanged"):
        run(kit, period="2026-W47")
    assert Path(first["index"]).read_bytes() == index


def test_unwritable_out_is_a_clear_error_before_anything_runs(kit, stub):
    blocker = kit / "afile"
    blocker.write_text("not a folder")
    with pytest.raises(ReviewError, match=r"cannot write reports to .*afile/sub.*give a writable --out"):
        run(kit, period="2026-W47", out_dir=blocker / "sub")


def test_a_second_run_of_the_same_period_is_refused_naming_the_lock(kit, stub):
    out = kit / "reports"
    out.mkdir()
    with runner.period_lock(out, "2026-W47"):
        with pytest.raises(ReviewError, match=r"another review is writing .*2026-W47 \(lock .*\.2026-W47\.lock, "
                                              r"held by pid \d+"):
            run(kit, period="2026-W47")
    assert run(kit, period="2026-W47")["period"] == "2026-W47"  # the lock goes with its holder


def test_many_concurrent_swaps_never_raise(tmp_path):
    final = tmp_path / "2026-W47"
    errors = []

    def swapper(n):
        for i in range(50):
            tmp = tmp_path / f".2026-W47.tmp-{n}-{i}"
            tmp.mkdir()
            (tmp / "index.html").write_text(f"{n}-{i}")
            try:
                runner._swap(tmp, final)
            except Exception as exc:  # noqa: BLE001 - the test counts every kind
                errors.append(exc)

    threads = [threading.Thread(target=swapper, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and [p.name for p in final.iterdir()] == ["index.html"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2026-W47"]  # 400 swaps, nothing left over


def test_stale_temporary_folders_of_killed_runs_are_removed_and_live_ones_reported(kit, stub):
    out = kit / "reports"
    out.mkdir()
    (out / ".2026-W47.tmp-999999").mkdir()
    (out / ".2026-W46.old-999998-ab12cd34").mkdir()
    (out / ".2026-W45.tmp-4242").mkdir()
    lines = []
    with runner.period_lock(out, "2026-W45"):  # a live run of W45
        runner.run_review(kit / "params" / "set.yaml", period="2026-W47", out_dir=out, echo=lines.append)
    names = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert names == [".2026-W45.tmp-4242", "2026-W47"]
    assert any("2026-W45.tmp-4242 belongs to a review of 2026-W45 still running" in line for line in lines)


def test_a_notebook_that_hangs_is_stopped_at_the_timeout_with_its_processes(kit, stub):
    write_notebook(kit / "notebooks" / "hangs.ipynb", {"status": "child"})
    write_notebook(kit / "notebooks" / "dies.ipynb", {"status": "die"})
    write_set(kit, ["hangs", "dies"])
    began = time.monotonic()
    result = run(kit, period="2026-W47", timeout=5)
    assert time.monotonic() - began < 60
    by_name = {nb["name"]: nb for nb in result["notebooks"]}
    assert by_name["hangs"]["status"] == "failed" and "timed out after 5 s" in by_name["hangs"]["error"]
    assert by_name["dies"]["status"] == "failed" and "worker process" in by_name["dies"]["error"]
    assert "timed out" in (Path(result["index"]).parent / "hangs.html").read_text(encoding="utf-8")
    assert ours() == []  # the hanging notebook's child is gone too


KILL_SCRIPT = """
import sys
from ecomlib import runner
import tests.test_runner as t
runner._execute = t.fake_execute
runner.run_review(sys.argv[1], period="2026-W47", out_dir=sys.argv[2], timeout=600)
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_run_killed_midway_leaves_the_last_report_and_nothing_behind(kit, stub, sig):
    first = run(kit, period="2026-W47")
    before = Path(first["index"]).read_bytes()
    write_notebook(kit / "notebooks" / "good.ipynb", {**GOOD, "status": "child"})
    out = kit / "reports"
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(kit / "params" / "set.yaml"), str(out)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not ours(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)  # wait until the notebook's child process runs
    assert ours(proc.pid), proc.stderr.read() if proc.poll() is not None else "no child"
    proc.send_signal(sig)
    proc.wait(timeout=60)
    assert Path(first["index"]).read_bytes() == before
    if sig == signal.SIGTERM:  # handled: everything ends and goes at once
        assert not [p for p in out.iterdir() if ".tmp-" in p.name]
        assert ours(proc.pid) == []
    write_notebook(kit / "notebooks" / "good.ipynb", GOOD)
    lines = []
    runner.run_review(kit / "params" / "set.yaml", period="2026-W47", out_dir=out, echo=lines.append)
    assert not [p for p in out.iterdir() if ".tmp-" in p.name or ".old-" in p.name]
    assert ours() == [] and ours(proc.pid) == []
    if sig == signal.SIGKILL:
        assert any("left by a run that was killed" in line for line in lines)


# Parameter sets ------------------------------------------------------------------------------------------------
REVIEWS = ("funnel", "cohort_ltv", "ad_roas", "supplier_performance", "returns", "inventory", "fulfilment", "service",
           "segments", "ab_test", "promotions")


@pytest.mark.parametrize("name", ["weekly", "monthly"])
def test_shipped_parameter_sets_fit_the_shipped_notebooks(name):
    pset = runner.load_parameter_set(ROOT / "params" / f"{name}.yaml")
    values = {"data_dir": "/data", "period_start": "2026-10-01", "period_end": "2026-10-31",
              "compare_start": "2026-09-01", "compare_end": "2026-09-30", "lang": "zh"}
    plans = runner.plan_parameters(pset, pset.notebooks, [], values)
    assert set(plans) == set(REVIEWS)  # every review the kit has, in both sets
    lang = pset.shared.get("lang", "zh")  # a shared lang in the set wins over the runner's default
    assert all(plan["lang"] == lang and plan["data_dir"] == "/data" for plan in plans.values())


@pytest.mark.parametrize("name", ["weekly", "monthly"])
def test_packaged_parameter_sets_equal_the_repository_copies_and_are_found_from_anywhere(name, tmp_path, monkeypatch):
    packaged = runner.packaged_parameter_sets()[name]
    assert packaged.read_bytes() == (ROOT / "params" / f"{name}.yaml").read_bytes()
    monkeypatch.chdir(tmp_path)  # outside the repository
    for spec in (name, f"{name}.yaml", f"params/{name}.yaml"):
        pset = runner.load_parameter_set(spec)
        assert pset.path == packaged and (pset.notebooks_dir / "funnel.ipynb").exists()
    with pytest.raises(ReviewError, match="the kit ships: monthly, weekly"):
        runner.load_parameter_set("elsewhere/weekly.yaml")


# Real kernels: the end-to-end run through the command line, a kernel that hangs and one that dies -----------------
REAL_GOOD = [
    "import ecomlib as el\nimport matplotlib.pyplot as plt\nel.set_theme()\n"
    "msg = el.Messages(lang or 'en', currency='CNY')\nSECRET_CODE_MARKER = threshold * 2",
    "fig, ax = plt.subplots()\nax.plot([1, 2, 3])\nax.set_title('转化 {}'.format(period_start));",
    "el.record_headlines([el.Headline('orders', 'Orders 订单', 120, 'count', previous=100),\n"
    "                     el.Headline('conversion', 'Conversion', threshold / 10, 'ratio', previous=0.034, good='up')], msg)",
]


def test_real_kernels_one_failing_notebook_does_not_stop_the_others(kit):
    write_notebook(kit / "notebooks" / "good.ipynb", cells=REAL_GOOD)
    write_notebook(kit / "notebooks" / "boom.ipynb", cells=["x = 1", "raise ValueError('planned failure for the test')"])
    write_notebook(kit / "notebooks" / "needs_events.ipynb",
                   cells=["import ecomlib as el\nel.load_dataset(data_dir, tables=['events'])", "1"])
    write_notebook(kit / "notebooks" / "dies.ipynb", cells=["import os\nos._exit(1)", "1"])
    write_set(kit, ["good", "boom", "needs_events", "dies"])
    cli = subprocess.Popen([sys.executable, "-m", "ecomlib.cli", "review", "--params", str(kit / "params" / "set.yaml"),
                            "--out", str(kit / "reports"), "-p", "good:threshold=0.3"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=kit)
    proc = subprocess.CompletedProcess(cli.args, None, *cli.communicate(timeout=600))
    proc.returncode = cli.returncode
    assert proc.returncode == 1, proc.stderr
    assert "FAILED boom: ValueError: planned failure for the test" in proc.stderr
    assert re.search(r"\[\d/4\] good ok", proc.stderr) and "elapsed" in proc.stderr
    run_dir = kit / "reports" / "2026-W47"
    summary = json.loads((run_dir / "summary.json").read_text())
    status = {nb["name"]: nb["status"] for nb in summary["notebooks"]}
    assert status == {"good": "ok", "boom": "failed", "needs_events": "skipped", "dies": "failed"}
    assert {nb["name"]: nb["error"] for nb in summary["notebooks"]}["dies"].startswith("kernel died")
    boom_html = (run_dir / "boom.html").read_text()
    assert "planned failure for the test" in boom_html and "raise" in boom_html  # the failing cell keeps its code
    good = summary["notebooks"][0]
    assert {h["key"]: h["value"] for h in good["headlines"]} == {"orders": 120, "conversion": pytest.approx(0.03)}
    assert "+20.0%" in (run_dir / "index.html").read_text()
    assert "data:image/png;base64," in (run_dir / "good.html").read_text()
    assert ours(cli.pid) == []  # no kernel left behind


def test_real_kernel_that_hangs_is_stopped_at_the_timeout(kit):
    write_notebook(kit / "notebooks" / "hangs.ipynb", cells=["import time\ntime.sleep(600)", "1"])
    write_set(kit, ["hangs"])
    done, seen = {}, set()
    thread = threading.Thread(target=lambda: done.update(run(kit, period="2026-W47", timeout=15)))
    began = time.monotonic()
    thread.start()
    while thread.is_alive():
        seen.update(ours())  # the kernel carries the run's tag
        time.sleep(0.5)
    assert time.monotonic() - began < 120 and seen
    assert done["notebooks"][0]["status"] == "failed" and "timed out after 15 s" in done["notebooks"][0]["error"]
    assert ours() == []  # the kernel is gone
    deadline = time.monotonic() + 10
    while [pid for pid in seen if alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.2)  # a killed process may take a moment to finish exiting
    assert not [pid for pid in seen if alive(pid)]


def test_reliability_doc_names_only_tests_that_exist():
    doc = (ROOT / "docs" / "reliability.md").read_text(encoding="utf-8")
    current, missing = None, []
    for m in re.finditer(r"`(tests/[\w/]+\.py)::(\w+)|`::(\w+)", doc):
        current = m[1] or current
        name = m[2] or m[3]
        if current != "tests/test_x.py" and not re.search(rf"def {name}\(", (ROOT / current).read_text(encoding="utf-8")):
            missing.append(f"{current}::{name}")
    assert missing == []


def test_a_swap_that_cannot_put_the_new_report_in_place_puts_the_old_one_back(tmp_path, monkeypatch):
    final, tmp = tmp_path / "2026-W47", tmp_path / ".2026-W47.tmp-1"
    for folder, text in ((final, "old"), (tmp, "new")):
        folder.mkdir()
        (folder / "index.html").write_text(text)
    rename = Path.rename

    def failing(self, target):
        if self == tmp:
            raise PermissionError(13, "Permission denied")
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", failing)
    with pytest.raises(PermissionError):
        runner._swap(tmp, final)
    assert (final / "index.html").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".2026-W47.tmp-1", "2026-W47"]


def test_a_review_whose_required_table_has_no_file_is_skipped_without_a_kernel(kit, stub):
    """contract.REVIEW_TABLES says which tables a review needs: an absent one skips it before any kernel starts."""
    for name in ("returns", "good"):
        write_notebook(kit / "notebooks" / f"{name}.ipynb", GOOD)
    write_set(kit, ["returns", "good"])
    said = []
    result = run(kit, period="2026-W47", echo=said.append)
    status = {nb["name"]: nb["status"] for nb in result["notebooks"]}
    assert status == {"returns": "skipped", "good": "ok"}
    assert "  … good started" in said and "  … returns started" not in said  # no worker, no kernel
    skipped = next(nb for nb in result["notebooks"] if nb["name"] == "returns")
    assert skipped["missing_table"] == "order_items" and "\n" not in skipped["error"]
    assert "ecomlib import" in skipped["note"]


def test_data_range_ignores_a_table_with_a_header_and_no_rows(kit):
    """A three-day export may have an events file with no rows: the range comes from the tables that have some."""
    (kit / "data" / "events.csv").write_text("event_time,user_id,session_id,event_name,sku,channel,device\n")
    store, first, last = runner.data_span(kit / "data")
    assert (str(first.date()), str(last.date())) == ("2026-11-02", "2026-11-22")


def test_the_editable_alert_rules_equal_the_shipped_ones():
    """params/alerts.yaml (what `ecomlib alerts --params` edits) starts as the packaged rules."""
    assert (ROOT / "params" / "alerts.yaml").read_bytes() == (ROOT / "ecomlib" / "rules" / "alerts.yaml").read_bytes()


def test_this_week_shows_every_high_finding_then_fills_up_to_ten():
    ranked = [{"severity": "high"}] * 12 + [{"severity": "medium"}] * 15
    assert len(runner.top_findings(ranked)) == 12
    assert len(runner.top_findings(ranked[9:])) == 10  # 3 high, then medium ones up to ten
    assert runner.top_findings([]) == []


def test_a_kernel_that_dies_while_starting_is_started_once_more(tmp_path, monkeypatch):
    """Two kernels starting together can draw the same TCP port; the loser dies before kernel_info: retried once."""
    import papermill

    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("Kernel died before replying to kernel_info")

    monkeypatch.setattr(papermill, "execute_notebook", flaky)
    result = runner._execute("x", "x.ipynb", str(tmp_path / "x.ipynb"), {}, str(tmp_path))
    assert result["status"] == "ok" and len(calls) == 2

    def dead(*args, **kwargs):
        calls.append(1)
        raise RuntimeError("Kernel died before replying to kernel_info")

    calls.clear()
    monkeypatch.setattr(papermill, "execute_notebook", dead)
    result = runner._execute("x", "x.ipynb", str(tmp_path / "x.ipynb"), {}, str(tmp_path))
    assert result["reason"] == "kernel_died" and len(calls) == 2  # once more, not forever


# Engines -------------------------------------------------------------------------------------------------------
def test_the_engine_goes_to_the_notebooks_that_declare_it_and_is_one_for_the_run(kit):
    write_notebook(kit / "notebooks" / "engined.ipynb", GOOD)
    path = kit / "notebooks" / "engined.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    nb.cells[1].source += 'engine = "auto"  # where the heavy reductions run\n'
    nbformat.write(nb, str(path))
    write_set(kit, ["good", "engined"])
    pset = runner.load_parameter_set(kit / "params" / "set.yaml")
    values = {"data_dir": "/d", "period_start": "2026-11-16", "period_end": "2026-11-22",
              "compare_start": "2026-11-09", "compare_end": "2026-11-15", "lang": "en", "engine": "duckdb"}
    plans = runner.plan_parameters(pset, ["good", "engined"], [], values)
    assert plans["engined"]["engine"] == "duckdb" and "engine" not in plans["good"]
    for override in ("engine=spark", "engined:engine=spark"):
        with pytest.raises(ParameterError, match="'engine' is one for the whole run; use --engine"):
            runner.plan_parameters(pset, ["good", "engined"], [override], values)
    with pytest.raises(ParameterError, match="'engine' is one for the whole run"):
        plan(kit, extra="parameters:\n  engine: duckdb\n", names=("good", "engined"))


def test_the_parameter_set_engine_is_checked_and_the_run_records_it(kit, stub):
    write_set(kit, ["good"], "engine: polars\n")
    with pytest.raises(ParameterError, match="`engine` must be one of auto, pandas, duckdb, spark, not 'polars'"):
        runner.load_parameter_set(kit / "params" / "set.yaml")
    write_set(kit, ["good"], "engine: duckdb\n")
    summary = run(kit)
    assert summary["engine"] == "duckdb"
    assert run(kit, engine="pandas", period="2026-W46")["engine"] == "pandas"  # --engine wins over the set


def test_the_page_footer_names_the_engine_and_the_rows_read_and_summary_has_them(kit, stub):
    write_notebook(kit / "notebooks" / "good.ipynb", {**GOOD, "scan": {"engine": "duckdb", "rows_scanned": 12345678}})
    summary = run(kit, overrides=["lang=zh"])
    page = (kit / "reports" / "2026-W47" / "good.html").read_text(encoding="utf-8")
    assert '<footer class="ecomlib-footer">计算引擎：duckdb · 读取 12,345,678 行</footer>' in page
    assert summary["notebooks"][0]["engine"] == "duckdb" and summary["notebooks"][0]["rows_scanned"] == 12345678
    saved = json.loads((kit / "reports" / "2026-W47" / "summary.json").read_text(encoding="utf-8"))
    assert saved["notebooks"][0]["rows_scanned"] == 12345678


def test_a_duckdb_database_file_is_accepted_as_data_with_the_duckdb_engine(kit, stub):
    import duckdb

    db = kit / "data" / "shop.duckdb"
    con = duckdb.connect(str(db))
    con.execute(f"CREATE TABLE orders AS SELECT * FROM read_csv('{kit / 'data' / 'orders.csv'}')")
    con.close()
    summary = run(kit, data_dir=db, engine="duckdb")
    assert summary["engine"] == "duckdb" and summary["period"] == "2026-W47"
    assert summary["store"] == "Tiny 小店"  # store.yaml beside the database file
    with pytest.raises(ReviewError, match="no such data folder"):
        run(kit, data_dir=db, engine="pandas")
