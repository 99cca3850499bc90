"""The review runner on tiny notebooks: parameter checks, failures, atomic re-runs, HTML, index and summary.json."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from ecomlib import runner
from ecomlib.errors import ParameterError, ReviewError

PARAMS_CELL = """data_dir = "../data"  # dataset folder
period_start = None  # first day
period_end = None  # last day
compare_start = None  # comparison first day
compare_end = None  # comparison last day
lang = None  # en or zh
threshold = 0.5  # a float parameter
segments = ["mobile"]  # a list parameter
"""
GOOD = [
    "import ecomlib as el\nimport matplotlib.pyplot as plt\nel.set_theme()\n"
    "msg = el.Messages(lang or 'en', currency='CNY')\nSECRET_CODE_MARKER = threshold * 2",
    "fig, ax = plt.subplots()\nax.plot([1, 2, 3])\nax.set_title('转化 {}'.format(period_start));",
    "el.record_headlines([el.Headline('orders', 'Orders 订单', 120, 'count', previous=100),\n"
    "                     el.Headline('conversion', 'Conversion', threshold / 10, 'ratio', previous=0.034, good='up')], msg)",
]
BOOM = ["x = 1", "raise ValueError('planned failure for the test')", "print('never reached')"]
NO_TABLE = ["import ecomlib as el\nel.load_dataset(data_dir, tables=['events'])"]


def write_notebook(path: Path, cells: list[str]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell(PARAMS_CELL)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Tiny review 小报告"), params] + [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, str(path))


@pytest.fixture
def kit(tmp_path) -> Path:
    """A folder with notebooks/, params/ and a two-order dataset ending Sunday 2026-11-22."""
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "params").mkdir()
    (tmp_path / "data").mkdir()
    write_notebook(tmp_path / "notebooks" / "good.ipynb", GOOD)
    write_notebook(tmp_path / "notebooks" / "boom.ipynb", BOOM)
    write_notebook(tmp_path / "notebooks" / "needs_events.ipynb", NO_TABLE)
    (tmp_path / "data" / "orders.csv").write_text(
        "order_id,customer_id,order_time,channel,status,revenue,discount,shipping_fee,currency\n"
        "O1,C1,2026-11-10 10:00:00,web,completed,10,0,0,CNY\nO2,C1,2026-11-22 10:00:00,web,completed,10,0,0,CNY\n")
    (tmp_path / "data" / "store.yaml").write_text("name: Tiny 小店\ncurrency: CNY\ntimezone: Asia/Shanghai\n",
                                                  encoding="utf-8")
    write_set(tmp_path, ["good"])
    return tmp_path


def write_set(root: Path, notebooks: list[str], extra: str = "") -> Path:
    path = root / "params" / "set.yaml"
    path.write_text(f"period: week\ndata: {root / 'data'}\nnotebooks: {json.dumps(notebooks)}\n{extra}")
    return path


def run(kit: Path, **kwargs) -> dict:
    kwargs.setdefault("out_dir", kit / "reports")
    return runner.run_review(kit / "params" / "set.yaml", echo=lambda line: None, **kwargs)


def test_unknown_parameter_is_refused_before_anything_runs_and_lists_the_real_ones(kit):
    write_set(kit, ["good"], "notebook_parameters:\n  good:\n    treshold: 0.7\n")
    with pytest.raises(ParameterError) as info:
        run(kit)
    text = str(info.value)
    assert "good: unknown parameter 'treshold'" in text and "did you mean 'threshold'" in text
    assert "threshold (float)" in text and "segments (list)" in text and "data_dir (str)" in text
    assert not (kit / "reports").exists() or not any((kit / "reports").iterdir())


def test_misspelt_shared_parameter_and_cli_override_are_refused(kit):
    write_set(kit, ["good"], "parameters:\n  tresh: 1\n")
    with pytest.raises(ParameterError, match="shared parameter 'tresh' is not a parameter of any notebook"):
        run(kit)
    write_set(kit, ["good"])
    with pytest.raises(ParameterError, match="unknown parameter 'colour'"):
        run(kit, overrides=["good:colour=red"])


def test_wrong_type_is_refused_with_the_expected_type(kit):
    write_set(kit, ["good"], "notebook_parameters:\n  good:\n    threshold: high\n")
    with pytest.raises(ParameterError, match=r"parameter 'threshold' must be float, got str 'high'"):
        run(kit)
    write_set(kit, ["good"], "notebook_parameters:\n  good:\n    segments: mobile\n")
    with pytest.raises(ParameterError, match=r"'segments' must be list"):
        run(kit)


def test_runner_parameters_cannot_be_set_in_a_parameter_set(kit):
    write_set(kit, ["good"], "parameters:\n  period_start: '2026-01-01'\n")
    with pytest.raises(ParameterError, match="set by the runner; use --data / --period"):
        run(kit)


def test_missing_notebook_and_bad_set_are_review_errors(kit):
    write_set(kit, ["nothere"])
    with pytest.raises(ReviewError, match="notebook 'nothere' not found"):
        run(kit)
    with pytest.raises(ReviewError, match="parameter set not found"):
        runner.run_review(kit / "params" / "missing.yaml", out_dir=kit / "reports")


def test_one_failing_notebook_does_not_stop_the_others(kit):
    write_set(kit, ["good", "boom", "needs_events"])
    proc = subprocess.run([sys.executable, "-m", "ecomlib.cli", "review", "--params", str(kit / "params" / "set.yaml"),
                           "--out", str(kit / "reports"), "-p", "good:threshold=0.3"],
                          capture_output=True, text=True, cwd=kit, timeout=600)
    assert proc.returncode == 1, proc.stderr
    assert "FAILED boom: ValueError: planned failure for the test" in proc.stderr
    assert re.search(r"\[\d/3\] good ok", proc.stderr) and "elapsed" in proc.stderr
    run_dir = kit / "reports" / "2026-W47"
    summary = json.loads((run_dir / "summary.json").read_text())
    status = {nb["name"]: nb["status"] for nb in summary["notebooks"]}
    assert status == {"good": "ok", "boom": "failed", "needs_events": "skipped"}
    assert [nb["name"] for nb in summary["notebooks"]] == ["good", "boom", "needs_events"]
    boom_html = (run_dir / "boom.html").read_text()
    assert "planned failure for the test" in boom_html and "raise" in boom_html  # the failing cell keeps its code
    index = (run_dir / "index.html").read_text()
    assert 'data-status="failed"' in index and 'data-status="skipped"' in index
    assert "MissingTableError" in summary["notebooks"][2]["error"]
    good = summary["notebooks"][0]
    assert {h["key"]: h["value"] for h in good["headlines"]} == {"orders": 120, "conversion": pytest.approx(0.03)}
    for key in ("period", "data", "started", "finished", "notebooks"):
        assert key in summary
    assert summary["period"] == "2026-W47" and summary["comparison"] == "2026-W46"


def test_html_is_self_contained_hides_code_and_index_matches_summary(kit):
    result = run(kit, period="2026-W47")
    run_dir = Path(result["index"]).parent
    html = (run_dir / "good.html").read_text()
    assert "data:image/png;base64," in html
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["']https?://""", html)
    assert "SECRET_CODE_MARKER" not in html and "threshold = 0.5" not in html
    assert "<title>Good — 2026-W47 — Tiny 小店</title>" in html
    summary = json.loads((run_dir / "summary.json").read_text())
    index = (run_dir / "index.html").read_text()
    shown = dict(re.findall(r'data-key="([^"]+)" data-value="([^"]+)"', index))
    assert {k: float(v) for k, v in shown.items()} == {h["key"]: h["value"] for h in summary["notebooks"][0]["headlines"]}
    assert "+20.0%" in index  # 120 orders against 100
    with_code = run(kit, period="2026-W47", show_code=True)
    assert "SECRET_CODE_MARKER" in (Path(with_code["index"]).parent / "good.html").read_text()


def test_rerun_that_crashes_midway_leaves_the_last_report_intact(kit, monkeypatch):
    first = run(kit, period="2026-W47")
    run_dir = Path(first["index"]).parent
    before = {p.relative_to(run_dir): p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}

    def crash(*args, **kwargs):
        raise RuntimeError("disk full while rendering")

    monkeypatch.setattr(runner, "_render_all", crash)
    with pytest.raises(RuntimeError, match="disk full"):
        run(kit, period="2026-W47")
    assert {p.relative_to(run_dir): p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in (kit / "reports").iterdir()) == ["2026-W47"]  # no temporary folder left


def test_only_keeps_the_other_notebooks_pages_from_the_last_run(kit):
    write_set(kit, ["good", "boom"])
    run(kit, period="2026-W47")
    second = run(kit, period="2026-W47", only=["good"])
    status = {nb["name"]: (nb["status"], nb.get("carried_over", False)) for nb in second["notebooks"]}
    assert status == {"good": ("ok", False), "boom": ("failed", True)}
    assert (Path(second["index"]).parent / "boom.html").exists()
    with pytest.raises(ParameterError, match="--only nope: not in"):
        run(kit, only=["nope"])


def test_previous_period_headlines_fill_in_when_a_notebook_gives_none(kit):
    nb = nbformat.read(str(kit / "notebooks" / "good.ipynb"), as_version=4)
    nb.cells[-1].source = ("el.record_headlines([el.Headline('orders', 'Orders', 100 if period_start < '2026-11-16' "
                           "else 130, 'count')], msg)")
    nbformat.write(nb, str(kit / "notebooks" / "good.ipynb"))
    run(kit, period="2026-W46")
    result = run(kit, period="2026-W47")
    assert result["notebooks"][0]["headlines"][0] | {} == {"key": "orders", "label": "Orders", "value": 130,
                                                          "unit": "count", "previous": 100, "good": "up"}


def test_period_options(kit):
    assert run(kit, start="2026-11-09", end="2026-11-22")["period"] == "2026-11-09_2026-11-22"
    assert run(kit)["period"] == "2026-W47"  # the last complete week of the data
    with pytest.raises(ParameterError, match="--period or --start/--end, not both"):
        run(kit, period="2026-W47", start="2026-11-01")


def test_a_parameter_line_papermill_cannot_read_is_named(kit):
    nb = nbformat.read(str(kit / "notebooks" / "good.ipynb"), as_version=4)
    nb.cells[1].source = nb.cells[1].source.replace("# a float parameter", "# None = use the default")
    nbformat.write(nb, str(kit / "notebooks" / "good.ipynb"))
    with pytest.raises(ParameterError, match=r"cannot read line 7 .*'threshold' could not be set.*comment containing '='"):
        run(kit)


@pytest.mark.parametrize("name", ["weekly", "monthly"])
def test_shipped_parameter_sets_fit_the_shipped_notebooks(name):
    root = Path(__file__).resolve().parents[1]
    pset = runner.load_parameter_set(root / "params" / f"{name}.yaml")
    values = {"data_dir": "/data", "period_start": "2026-10-01", "period_end": "2026-10-31",
              "compare_start": "2026-09-01", "compare_end": "2026-09-30", "lang": "zh"}
    plans = runner.plan_parameters(pset, pset.notebooks, [], values)
    assert set(plans) == {"funnel", "cohort_ltv", "ad_roas", "supplier_performance", "returns"}
    lang = pset.shared.get("lang", "zh")  # a shared lang in the set wins over the runner's default
    assert all(plan["lang"] == lang and plan["data_dir"] == "/data" for plan in plans.values())
