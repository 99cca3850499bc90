"""The review runner: check a parameter set against the notebooks, execute them with Papermill, render HTML and an index.

``run_review`` is what ``ecomlib review`` calls. A run for one period writes into a temporary folder and
replaces ``OUT/<period>/`` only when every notebook has been executed and rendered, so a crash or Ctrl-C
midway leaves the last report as it was. A failing notebook does not stop the others: its page shows the
failing cell and error, the index marks it failed, and the command exits non-zero.
"""

from __future__ import annotations

import ast
import difflib
import json
import multiprocessing
import os
import re
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import yaml

from .errors import EcomlibError, ParameterError, ReviewError
from .periods import Period, date_range, last_complete, parse_period

RUNNER_PARAMETERS = ("data_dir", "period_start", "period_end", "compare_start", "compare_end", "lang")
SUMMARY_VERSION = 1
_TYPES = {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "dict", type(None): "any"}


@dataclass
class ParameterSet:
    """A recurring review: which notebooks, what kind of period, shared and per-notebook parameters.

    YAML keys: ``title``, ``period`` (``week`` or ``month``), ``data`` (dataset folder, relative to the
    working directory), ``notebooks_dir`` (relative to the YAML file, default ``../notebooks``),
    ``notebooks`` (names), ``parameters`` (shared), ``notebook_parameters`` (name → overrides).
    """

    path: Path
    notebooks: list[str]
    kind: str = "week"
    title: str = ""
    data: str | None = None
    notebooks_dir: Path = Path("notebooks")
    shared: dict[str, Any] = field(default_factory=dict)
    per_notebook: dict[str, dict[str, Any]] = field(default_factory=dict)


def load_parameter_set(path: str | Path) -> ParameterSet:
    """Read and structurally check a parameter set file (names and types are checked later, per notebook)."""
    path = Path(path)
    if not path.exists():
        raise ReviewError(f"{path}: parameter set not found (the kit ships params/weekly.yaml and params/monthly.yaml)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ReviewError(f"{path}: not valid YAML: {exc}") from None
    known = {"title", "period", "data", "notebooks_dir", "notebooks", "parameters", "notebook_parameters"}
    if unknown := sorted(set(raw) - known):
        raise ParameterError(f"{path}: unknown key(s) {unknown}; a parameter set has {sorted(known)}")
    notebooks = raw.get("notebooks") or []
    if not isinstance(notebooks, list) or not notebooks:
        raise ParameterError(f"{path}: `notebooks` must list at least one notebook name")
    kind = raw.get("period", "week")
    if kind not in ("week", "month"):
        raise ParameterError(f"{path}: `period` must be week or month, not {kind!r}")
    per_notebook = raw.get("notebook_parameters") or {}
    if stray := sorted(set(per_notebook) - set(notebooks)):
        raise ParameterError(f"{path}: notebook_parameters names {stray}, which are not in `notebooks` {notebooks}")
    return ParameterSet(path=path, notebooks=list(notebooks), kind=kind, title=raw.get("title", ""),
                        data=raw.get("data"), notebooks_dir=(path.parent / raw.get("notebooks_dir", "../notebooks")),
                        shared=dict(raw.get("parameters") or {}), per_notebook={k: dict(v or {}) for k, v in per_notebook.items()})


def notebook_parameters(path: str | Path) -> dict[str, dict[str, Any]]:
    """A notebook's declared parameters: name → ``{"type", "default", "help"}`` (type from the default literal)."""
    import nbformat
    import papermill

    declared = papermill.inspect_notebook(str(path))
    cells = [c for c in nbformat.read(str(path), as_version=4).cells if "parameters" in c.metadata.get("tags", [])]
    for number, line in enumerate(cells[0].source.splitlines() if cells else [], 1):
        name = re.match(r"\s*([A-Za-z_]\w*)\s*(?::[^=]+)?=(?!=)", line)
        if name and name[1] not in declared:
            raise ParameterError(f"{path}: papermill cannot read line {number} of the parameters cell ({line.strip()!r}), "
                                 f"so {name[1]!r} could not be set; a comment containing '=' does this — rephrase it",
                                 notebook=Path(path).stem, name=name[1])
    out = {}
    for name, info in declared.items():
        try:
            default = ast.literal_eval(info["default"])
            kind = _TYPES.get(type(default), "any")
        except (ValueError, SyntaxError):
            default, kind = info["default"], "any"
        if info.get("inferred_type_name") not in (None, "None"):
            kind = info["inferred_type_name"]
        out[name] = {"type": kind, "default": default, "help": info.get("help", "")}
    return out


def _coerce(notebook: str, name: str, value: Any, declared: dict[str, dict[str, Any]], *, raw: str | None = None) -> Any:
    """``value`` checked against the declared type of ``name`` (ints widen to float; CLI text stays text for str)."""
    listing = {k: v["type"] for k, v in declared.items()}
    if name not in declared:
        close = difflib.get_close_matches(name, list(declared), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ParameterError(f"{notebook}: unknown parameter {name!r}{hint}", notebook=notebook, name=name, known=listing)
    kind = declared[name]["type"]
    if kind == "str" and raw is not None:
        return raw
    ok = {
        "any": True,
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "str": isinstance(value, str) or value is None,
        "list": isinstance(value, (list, tuple)),
        "dict": isinstance(value, dict),
    }.get(kind, True)
    if not ok:
        raise ParameterError(f"{notebook}: parameter {name!r} must be {kind}, got {type(value).__name__} {value!r}",
                             notebook=notebook, name=name, known=listing)
    return float(value) if kind == "float" else list(value) if kind == "list" else value


def parse_overrides(items: list[str]) -> list[tuple[str | None, str, Any, str]]:
    """``-p`` items as (notebook or None, name, parsed value, raw text); ``NOTEBOOK:NAME=VALUE`` targets one notebook."""
    out = []
    for item in items:
        if "=" not in item:
            raise ParameterError(f"-p {item!r}: write NAME=VALUE (or NOTEBOOK:NAME=VALUE)")
        target, raw = item.split("=", 1)
        notebook, _, name = target.rpartition(":")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        out.append((notebook or None, name.strip(), value, raw))
    return out


def plan_parameters(pset: ParameterSet, names: list[str], overrides: list[str],
                    runner_values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Final parameters per notebook, every one checked against the notebook's parameters cell before anything runs.

    Shared parameters go to every notebook that declares them; a shared name no notebook declares is an
    error (a misspelling), as is any per-notebook name the notebook does not declare, or a wrong type.
    """
    declared = {}
    for name in names:
        path = pset.notebooks_dir / f"{name}.ipynb"
        if not path.exists():
            raise ReviewError(f"{pset.path}: notebook {name!r} not found at {path}")
        declared[name] = notebook_parameters(path)
        missing = [p for p in RUNNER_PARAMETERS if p not in declared[name]]
        if missing:
            raise ParameterError(f"{path}: the parameters cell lacks the runner parameter(s) {missing}; "
                                 f"add e.g. `{missing[0]} = None` with a comment", notebook=name,
                                 known={k: v["type"] for k, v in declared[name].items()})
    cli = parse_overrides(overrides)
    shared = {k: (v, None) for k, v in pset.shared.items()}
    shared.update({n: (v, raw) for nb, n, v, raw in cli if nb is None})
    for key in shared:
        if key in RUNNER_PARAMETERS and key != "lang":
            raise ParameterError(f"{key!r} is set by the runner; use --data / --period / --start / --end instead")
        if not any(key in d for d in declared.values()):
            union = {k: v["type"] for d in declared.values() for k, v in d.items()}
            raise ParameterError(f"shared parameter {key!r} is not a parameter of any notebook in {names}",
                                 name=key, known=union)
    for nb, _, _, _ in cli:
        if nb is not None and nb not in names:
            raise ParameterError(f"-p {nb}:…: {nb!r} is not among the notebooks being run {names}")
    plans = {}
    for name in names:
        params = {k: _coerce(name, k, v, declared[name]) for k, v in runner_values.items()}
        for key, (value, raw) in shared.items():
            if key in declared[name]:
                params[key] = _coerce(name, key, value, declared[name], raw=raw)
        for key, value in pset.per_notebook.get(name, {}).items():
            params[key] = _coerce(name, key, value, declared[name])
        for nb, key, value, raw in cli:
            if nb == name:
                params[key] = _coerce(name, key, value, declared[name], raw=raw)
        plans[name] = params
    return plans


def data_span(data_dir: Path) -> tuple[Any, Any, Any]:
    """(store, first, last timestamp) of the dataset, from the first of orders/events/ad_spend/purchase_orders present."""
    from .dataset import load_dataset, read_store, table_file

    for table, column in (("orders", "order_time"), ("events", "event_time"), ("ad_spend", "date"),
                          ("purchase_orders", "ordered_at")):
        if table_file(data_dir, table):
            df = getattr(load_dataset(data_dir, tables=[table]), table)
            return read_store(data_dir), df[column].min(), df[column].max()
    raise ReviewError(f"{data_dir}: no orders, events, ad_spend or purchase_orders table to take the data range from")


def choose_period(kind: str, *, period: str | None, start: str | None, end: str | None, data_end) -> Period:
    """The review period from the options, else the last complete ``kind`` of the data."""
    if period and (start or end):
        raise ParameterError("give --period or --start/--end, not both")
    if start or end:
        if not (start and end):
            raise ParameterError("--start and --end go together")
        return date_range(start, end)
    if period:
        return parse_period(period)
    return last_complete(kind, data_end)


def _execute(name: str, source: str, target: str, params: dict, cwd: str) -> dict:
    """Run one notebook with Papermill (in a worker process); return status, error and timing.

    The kernel's own stderr (ipykernel start-up notices, warnings) goes to ``logs/<name>.log`` in the run
    folder instead of the terminal, so progress lines stay readable.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    print(f"  … {name} started", file=sys.stderr, flush=True)
    log_dir = Path(target).parent / "logs"
    log_dir.mkdir(exist_ok=True)
    began = time.monotonic()
    result = {"name": name, "status": "ok", "error": None, "cell": None}
    saved_stderr = os.dup(2)
    with open(log_dir / f"{name}.log", "wb") as log:
        os.dup2(log.fileno(), 2)
        try:
            papermill.execute_notebook(source, target, parameters=params, cwd=cwd, kernel_name="python3",
                                       progress_bar=False, log_output=False)
        except PapermillExecutionError as exc:
            skipped = exc.ename == "MissingTableError"
            result.update(status="skipped" if skipped else "failed", cell=exc.exec_count,
                          error=f"{exc.ename}: {str(exc.evalue).splitlines()[0] if exc.evalue else ''}")
        except Exception as exc:  # the kernel died or could not start: report it, keep the other notebooks going
            result.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            os.dup2(saved_stderr, 2)
            os.close(saved_stderr)
    result["duration_seconds"] = round(time.monotonic() - began, 1)
    return result


def _review_title(name: str, msg) -> str:
    try:
        return msg(f"common.review.{name}")
    except KeyError:
        return name.replace("_", " ").capitalize()


def _previous_headlines(out_dir: Path, period: Period) -> dict[tuple[str, str], Any]:
    """Headline values of the previous period's run, if there is one: (notebook, key) → value."""
    summary = out_dir / period.previous().label / "summary.json"
    if not summary.exists():
        return {}
    try:
        data = json.loads(summary.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return {(nb["name"], h["key"]): h.get("value") for nb in data.get("notebooks", []) for h in nb.get("headlines", [])}


def _render_failure_page(path: Path, title: str, error: str, lang: str) -> None:
    path.write_text(f"<!DOCTYPE html><html lang=\"{lang}\"><head><meta charset=\"utf-8\"><title>{escape(title)}</title>"
                    f"</head><body><h1>{escape(title)}</h1><pre>{escape(error)}</pre></body></html>", encoding="utf-8")


def run_review(params_path: str | Path = "params/weekly.yaml", *, data_dir: str | Path | None = None,
               period: str | None = None, start: str | None = None, end: str | None = None,
               out_dir: str | Path = "reports", only: list[str] | None = None, overrides: list[str] | None = None,
               jobs: int = 2, show_code: bool = False, echo: Callable[[str], None] = print) -> dict:
    """Execute a parameter set's notebooks for one period into ``OUT/<period>/`` with HTML pages and an index.

    Returns the run summary (also written to ``summary.json``) with ``index`` (path of index.html) added.
    Raises :class:`ParameterError` / :class:`ReviewError` before anything runs when the set, a parameter or
    the period is wrong.
    """
    from .i18n import Messages

    started = datetime.now(timezone.utc)
    pset = load_parameter_set(params_path)
    data_dir = Path(data_dir or pset.data or "data/demo").resolve()
    store, data_first, data_last = data_span(data_dir)
    review_period = choose_period(pset.kind, period=period, start=start, end=end, data_end=data_last)
    comparison = review_period.previous()
    names = pset.notebooks if not only else only
    if stray := [n for n in names if n not in pset.notebooks]:
        raise ParameterError(f"--only {','.join(stray)}: not in {pset.path} (which has {', '.join(pset.notebooks)})")
    cli_lang = [v for nb, n, v, _ in parse_overrides(overrides or []) if n == "lang" and nb is None]
    lang = cli_lang[-1] if cli_lang else pset.shared.get("lang") or store.lang
    if lang not in ("en", "zh"):
        raise ParameterError(f"lang must be 'en' or 'zh', not {lang!r}")
    runner_values = {"data_dir": str(data_dir), **review_period.as_params("period"),
                     **comparison.as_params("compare"), "lang": lang}
    plans = plan_parameters(pset, names, overrides or [], runner_values)
    msg = Messages(lang, currency=store.currency)

    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / review_period.label
    tmp = out_dir / f".{review_period.label}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    echo(f"review {review_period.label} ({review_period.start.date()} – {review_period.last_day.date()}) of "
         f"{store.name} from {data_dir}: {len(names)} notebook(s), {jobs} at a time → {final}")
    try:
        results = _run_all(pset, names, plans, tmp, jobs, echo)
        previous = _previous_headlines(out_dir, review_period)
        run_facts = {"started": started, "data_dir": data_dir, "store": store, "first": data_first, "last": data_last}
        notebooks = _render_all(results, tmp, review_period, msg, show_code, run_facts, previous)
        notebooks += _carry_over(pset, names, final, tmp, msg)
        summary = {
            "version": SUMMARY_VERSION, "title": pset.title, "period": review_period.label,
            "period_start": review_period.start.date().isoformat(), "period_end": review_period.last_day.date().isoformat(),
            "comparison": comparison.label, "data": str(data_dir), "store": store.name, "currency": store.currency,
            "lang": lang, "data_first": str(data_first), "data_last": str(data_last),
            "started": started.isoformat(timespec="seconds"),
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "notebooks": sorted(notebooks, key=lambda nb: pset.notebooks.index(nb["name"])),
        }
        (tmp / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
        (tmp / "index.html").write_text(render_index(summary, msg), encoding="utf-8")
        _swap(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {**summary, "index": str(final / "index.html")}


def _run_all(pset: ParameterSet, names: list[str], plans: dict, tmp: Path, jobs: int,
             echo: Callable[[str], None]) -> list[dict]:
    began = time.monotonic()
    results = []
    cwd = str(pset.notebooks_dir.resolve())
    context = multiprocessing.get_context("spawn")  # fresh interpreters: no forked zmq or matplotlib state
    with ProcessPoolExecutor(max_workers=min(jobs, len(names)), mp_context=context) as pool:
        futures = {pool.submit(_execute, name, str(pset.notebooks_dir / f"{name}.ipynb"), str(tmp / f"{name}.ipynb"),
                               plans[name], cwd): name for name in names}
        for done, future in enumerate(as_completed(futures), 1):
            result = future.result()
            results.append(result)
            elapsed = int(time.monotonic() - began)
            note = f" — {result['error']}" if result["error"] else ""
            echo(f"[{done}/{len(names)}] {result['name']} {result['status']} in {result['duration_seconds']:.0f}s "
                 f"(elapsed {elapsed // 60}:{elapsed % 60:02d}){note}")
    return results


def _render_all(results: list[dict], tmp: Path, period: Period, msg, show_code: bool, facts: dict,
                previous: dict) -> list[dict]:
    import nbformat

    from . import __version__
    from .render import notebook_html
    from .report import read_headlines

    notebooks = []
    for result in results:
        name = result["name"]
        title = f"{_review_title(name, msg)} — {period.label} — {facts['store'].name}"
        ipynb, html = tmp / f"{name}.ipynb", tmp / f"{name}.html"
        runbar = (f'<div class="ecomlib-runbar"><a href="index.html">← {escape(msg("common.index_title", period=period.label))}'
                  f'</a> · {escape(msg("common.run_time"))}: {facts["started"]:%Y-%m-%d %H:%M} UTC · '
                  f'{escape(msg("common.data_range"))}: {escape(str(facts["data_dir"].name))} '
                  f'({facts["first"]:%Y-%m-%d} – {facts["last"]:%Y-%m-%d}) · ecomlib {__version__}</div>')
        headlines = []
        if ipynb.exists():
            nb = nbformat.read(str(ipynb), as_version=4)
            html.write_text(notebook_html(nb, title=title, show_code=show_code, runbar_html=runbar, lang=msg.lang),
                            encoding="utf-8")
            headlines = read_headlines(nb)
        else:
            _render_failure_page(html, title, result["error"] or "the notebook did not run", msg.lang)
        for h in headlines:
            if h.get("previous") is None:
                h["previous"] = previous.get((name, h["key"]))
        notebooks.append({"name": name, "title": _review_title(name, msg), "status": result["status"],
                          "html": html.name, "ipynb": ipynb.name if ipynb.exists() else None,
                          "error": result["error"], "failed_cell": result["cell"],
                          "duration_seconds": result["duration_seconds"], "headlines": headlines})
    return notebooks


def _carry_over(pset: ParameterSet, ran: list[str], final: Path, tmp: Path, msg) -> list[dict]:
    """Notebooks of the set not run this time (``--only``): keep the last report's pages, else mark skipped."""
    old = {}
    if (final / "summary.json").exists():
        try:
            old = {nb["name"]: nb for nb in json.loads((final / "summary.json").read_text(encoding="utf-8"))["notebooks"]}
        except (OSError, json.JSONDecodeError, KeyError):
            old = {}
    out = []
    for name in pset.notebooks:
        if name in ran:
            continue
        if name in old and old[name].get("html") and (final / old[name]["html"]).exists():
            for file in (old[name].get("html"), old[name].get("ipynb")):
                if file and (final / file).exists():
                    shutil.copy2(final / file, tmp / file)
            out.append({**old[name], "carried_over": True})
        else:
            out.append({"name": name, "title": _review_title(name, msg), "status": "skipped", "html": None, "ipynb": None,
                        "error": None, "failed_cell": None, "duration_seconds": 0, "headlines": []})
    return out


def _swap(tmp: Path, final: Path) -> None:
    """Put the finished run in place of the last one with two renames (the old one is removed after)."""
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def render_index(summary: dict, msg) -> str:
    """The run's index page: each notebook's status, link and headline numbers with the change on the previous period."""
    from jinja2 import Environment, select_autoescape

    from .report import format_change, format_value

    env = Environment(autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
    template = env.from_string((resources.files("ecomlib") / "templates" / "index.html.j2").read_text(encoding="utf-8"))

    def tone(h: dict) -> str:
        if h.get("value") is None or h.get("previous") is None or h.get("good") is None or h["value"] == h["previous"]:
            return "flat"
        up = h["value"] > h["previous"]
        return "good" if up == (h["good"] == "up") else "bad"

    rows = [{**nb, "status_text": msg(f"common.status_{nb['status']}"),
             "headlines": [{**h, "value_text": format_value(h.get("value"), h["unit"], msg),
                            "previous_text": format_value(h.get("previous"), h["unit"], msg),
                            "change_text": format_change(h.get("value"), h.get("previous"), h["unit"], msg),
                            "tone": tone(h)} for h in nb.get("headlines", [])]}
            for nb in summary["notebooks"]]
    n_ok = sum(nb["status"] == "ok" for nb in rows)
    return template.render(summary=summary, notebooks=rows, lang=msg.lang,
                           heading=msg("common.index_title", period=summary["period"]),
                           intro=msg("common.index_intro", n_ok=n_ok, n=len(rows)),
                           labels={k: msg(f"common.{k}") for k in ("metric", "value", "previous", "change", "status",
                                                                   "store", "period", "comparison", "data_range",
                                                                   "run_time", "headlines")})
