"""The review runner: check a parameter set against the notebooks, execute them with Papermill, render HTML and an index.

``run_review`` is what ``ecomlib review`` calls. What it guarantees (each with its test, docs/reliability.md):

- Everything that can be checked is checked before anything runs: the parameter set, every parameter's name,
  type and stated range, and the period, which must overlap the data (a partly covered period runs with a
  banner saying how much is covered).
- A run for one period writes into ``OUT/.<period>.tmp-<pid>/`` and replaces ``OUT/<period>/`` only when every
  notebook has been executed and rendered, so a crash, Ctrl-C, SIGTERM or SIGKILL midway leaves the last report
  as it was. One lock file per period (``OUT/.<period>.lock``) keeps a second run for the same period out.
- Each notebook runs in its own worker process (forked from a clean fork server) with a time limit; its kernel
  and any process it starts carry the run's tag in their environment, so a timeout, a signal or the next run
  ends them (stale temporary folders of runs that were killed are removed by the next run).
- A failing notebook does not stop the others: its page shows the failing cell and error, the index marks it
  failed, and the command exits non-zero. A notebook whose table is missing is ``skipped``, with one line
  saying which table and how to get it.
- Reports carry no absolute local path beyond what the user passed, and parameter values whose names look like
  secrets are redacted in the pages, the executed notebooks and ``summary.json``.
- Every run adds its headlines to ``OUT/history.jsonl`` (one row per period × review × headline; re-running a
  period replaces its rows); the index draws each headline's last 12 periods.
"""

from __future__ import annotations

import ast
import difflib
import errno
import json
import math
import multiprocessing
import multiprocessing.connection
import os
import re
import shutil
import signal
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterator

import yaml

from .engine import ENGINES
from .errors import MissingTableError, ParameterError, ReviewError
from .periods import Period, check_in_data, date_range, default_period, parse_period

RUNNER_PARAMETERS = ("data_dir", "period_start", "period_end", "compare_start", "compare_end", "lang")
#: Set by the runner for the whole run and given to the notebooks that declare them (a notebook that runs no
#: reduction on an engine need not): ``engine`` comes from --engine or the parameter set's ``engine``.
OPTIONAL_RUNNER_PARAMETERS = ("engine",)
SUMMARY_VERSION = 2
DEFAULT_TIMEOUT = 900.0  # seconds one notebook may run
HISTORY_FILE = "history.jsonl"
HISTORY_POINTS = 12
TOP_FINDINGS = 10  # "This week" shows every high-severity finding, and the next ones up to this many
RUN_TAG = "ECOMLIB_RUN"  # environment variable carried by every worker, kernel and their children
SECRET_NAME = re.compile(r"token|key|password|passwd|secret|credential", re.I)
REDACTED = "[redacted]"
_TYPES = {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "dict", type(None): "none"}
_TEMP_NAME = re.compile(r"^\.(?P<label>.+)\.(?P<kind>tmp|old)-(?P<pid>\d+)(?:-[0-9a-f]+)?$")

# A parameter whose default is None takes its type from its comment: text when the comment names a file, path,
# folder, column, name or code; a number when it names a unit; else text. An annotation (`x: int = None`) wins.
_TEXT_WORDS = re.compile(r"\b(file|path|folder|directory|column|name|code|reason|text|url)s?\b", re.I)
_NUMBER_WORDS = re.compile(r"\b(seconds?|minutes?|hours?|days?|weeks?|months?|currency|fraction|share|rate|count|"
                           r"number of|amount|percent)\b", re.I)
# Stated ranges: "in (0, 1)", "[0, 1]", "(0–1)", "0 or more", "a fraction"; and a few by name (docs/reliability.md).
_INTERVAL = re.compile(r"(?<![\w.])([(\[])\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?|inf)\s*([)\]])")
_DASH_RANGE = re.compile(r"\(\s*(-?\d+(?:\.\d+)?)\s*[–-]\s*(-?\d+(?:\.\d+)?)\s*\)")
KNOWN_RANGES = {"alpha": (0.0, True, 1.0, True), "service_level": (0.0, True, 1.0, True)}
_NON_NEGATIVE_NAME = re.compile(r"(_days|_weeks|_months|_minutes|_hours|_seconds)$|^min_")


@dataclass
class ParameterSet:
    """A recurring review: which notebooks, what kind of period, shared and per-notebook parameters.

    YAML keys: ``title``, ``period`` (``week`` or ``month``), ``data`` (dataset folder, relative to the
    working directory), ``engine`` (``auto``, ``pandas``, ``duckdb``, ``spark``), ``notebooks_dir`` (relative to the YAML file, default ``../notebooks``),
    ``notebooks`` (names), ``parameters`` (shared), ``notebook_parameters`` (name → overrides).
    """

    path: Path
    notebooks: list[str]
    kind: str = "week"
    title: str = ""
    data: str | None = None
    engine: str = "auto"
    notebooks_dir: Path = Path("notebooks")
    shared: dict[str, Any] = field(default_factory=dict)
    per_notebook: dict[str, dict[str, Any]] = field(default_factory=dict)


# Parameter sets ----------------------------------------------------------------------------------------------
def packaged_parameter_sets() -> dict[str, Path]:
    """The parameter sets shipped inside the package (``weekly``, ``monthly``): name → file."""
    folder = resources.files("ecomlib") / "params"
    return {Path(e.name).stem: Path(str(e)) for e in folder.iterdir() if e.name.endswith(".yaml")} \
        if folder.is_dir() else {}


def find_parameter_set(spec: str | Path) -> Path:
    """The parameter set file for ``spec``: a path that exists, else a shipped set by name.

    ``weekly`` (or ``weekly.yaml``, or the default ``params/weekly.yaml`` run outside the repository) finds
    ``./params/weekly.yaml`` when the working directory has one (the editable copy), else the packaged one.
    """
    path = Path(spec)
    if path.exists():
        return path
    shipped = packaged_parameter_sets()
    stem = path.name[: -len(".yaml")] if path.name.endswith(".yaml") else path.name
    if stem in shipped and (len(path.parts) == 1 or path.parent == Path("params")):
        local = Path("params") / f"{stem}.yaml"
        return local if local.exists() else shipped[stem]
    names = ", ".join(sorted(shipped)) or "none"
    raise ReviewError(f"{path}: parameter set not found (the kit ships: {names}; give --params weekly, "
                      f"--params monthly or the path of your own set)")


def _notebooks_dir(path: Path, raw: str | None) -> Path:
    """The notebooks folder of a set: relative to the YAML file; for a packaged set, the kit's own notebooks."""
    base = path.parent / (raw or "../notebooks")
    if base.is_dir() or raw is not None and raw != "../notebooks":
        return base
    package = Path(str(resources.files("ecomlib")))
    for candidate in (package / "notebooks", package.parent / "notebooks"):
        if candidate.is_dir():
            return candidate
    return base


def load_parameter_set(path: str | Path) -> ParameterSet:
    """Read and structurally check a parameter set file (names and types are checked later, per notebook)."""
    path = find_parameter_set(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ReviewError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ReviewError(f"{path}: a parameter set is a YAML mapping (title, period, notebooks, …)")
    known = {"title", "period", "data", "engine", "notebooks_dir", "notebooks", "parameters", "notebook_parameters"}
    if unknown := sorted(set(raw) - known):
        raise ParameterError(f"{path}: unknown key(s) {unknown}; a parameter set has {sorted(known)}")
    notebooks = raw.get("notebooks") or []
    if not isinstance(notebooks, list) or not notebooks:
        raise ParameterError(f"{path}: `notebooks` must list at least one notebook name")
    notebooks = list(dict.fromkeys(str(n).strip() for n in notebooks))
    kind = raw.get("period", "week")
    if kind not in ("week", "month"):
        raise ParameterError(f"{path}: `period` must be week or month, not {kind!r}")
    per_notebook = raw.get("notebook_parameters") or {}
    if stray := sorted(set(per_notebook) - set(notebooks)):
        raise ParameterError(f"{path}: notebook_parameters names {stray}, which are not in `notebooks` {notebooks}")
    engine = raw.get("engine", "auto")
    if engine not in ENGINES:
        raise ParameterError(f"{path}: `engine` must be one of {', '.join(ENGINES)}, not {engine!r}")
    return ParameterSet(path=path, notebooks=notebooks, kind=kind, title=raw.get("title", ""),
                        data=raw.get("data"), engine=engine, notebooks_dir=_notebooks_dir(path, raw.get("notebooks_dir")),
                        shared=dict(raw.get("parameters") or {}), per_notebook={k: dict(v or {}) for k, v in per_notebook.items()})


# Parameters --------------------------------------------------------------------------------------------------
def _none_type(comment: str) -> str:
    """The type of a parameter whose default is None, from its comment (see ``_TEXT_WORDS``)."""
    text = comment.split("None:")[0] if "None:" in comment else comment
    if _TEXT_WORDS.search(text):
        return "str"
    if _NUMBER_WORDS.search(text):
        return "float"
    return "str"


def parameter_range(name: str, comment: str) -> tuple[float, bool, float, bool] | None:
    """The range a numeric parameter's comment states, as (low, low_open, high, high_open), or None.

    Read from the comment: ``in (0, 1)`` / ``[0, 1]`` (open or closed ends), ``(0–1)`` (closed), ``0 or more``,
    ``a fraction`` (0 to 1); else from the name: ``alpha`` and ``service_level`` in (0, 1); ``*_days``,
    ``*_weeks``, ``*_months``, ``*_minutes`` and ``min_*`` are 0 or more.

    >>> parameter_range("service_level", "cycle service level, in (0, 1)")
    (0.0, True, 1.0, True)
    >>> parameter_range("penalizer", "L2 penalty, 0 or more; 0.001-0.1 steadies a fit")
    (0.0, False, inf, False)
    """
    if m := _INTERVAL.search(comment):
        return float(m[2]), m[1] == "(", float(m[3]), m[4] == ")"
    if m := _DASH_RANGE.search(comment):
        return float(m[1]), False, float(m[2]), False
    if re.search(r"\b0 or more\b|\bnon-?negative\b|≥ ?0", comment):
        return 0.0, False, math.inf, False
    if re.search(r"\ba fraction\b", comment):
        return 0.0, False, 1.0, False
    if name in KNOWN_RANGES:
        return KNOWN_RANGES[name]
    if _NON_NEGATIVE_NAME.search(name):
        return 0.0, False, math.inf, False
    return None


def _range_text(bounds: tuple[float, bool, float, bool]) -> str:
    lo, lo_open, hi, hi_open = bounds
    if math.isinf(hi):
        return f"{'above' if lo_open else 'at least'} {lo:g}"
    return f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"


def notebook_parameters(path: str | Path) -> dict[str, dict[str, Any]]:
    """A notebook's declared parameters: name → ``{"type", "default", "help", "range"}``.

    The type comes from the default literal (``0.05`` → float); for a default of None from the annotation,
    else from the comment (:func:`_none_type`); ``range`` from the comment or the name (:func:`parameter_range`).
    """
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
        comment = info.get("help", "") or ""
        try:
            default = ast.literal_eval(info["default"])
            kind = _TYPES.get(type(default), "any")
        except (ValueError, SyntaxError):
            default, kind = info["default"], "any"
        annotated = info.get("inferred_type_name") not in (None, "None")
        if annotated:
            kind = re.sub(r"^Optional\[(.*)\]$", r"\1", info["inferred_type_name"]).split("|")[0].strip()
        nullable = default is None
        if kind == "none":
            kind = "str" if name in RUNNER_PARAMETERS + OPTIONAL_RUNNER_PARAMETERS else _none_type(comment)
        bounds = parameter_range(name, comment) if kind in ("int", "float") else None
        out[name] = {"type": kind, "default": default, "help": comment, "range": bounds, "nullable": nullable}
    return out


def _is_null_text(raw: str | None) -> bool:
    return raw is not None and raw.strip() in ("", "None", "none", "null", "~")


def _coerce(notebook: str, name: str, value: Any, declared: dict[str, dict[str, Any]], *, raw: str | None = None) -> Any:
    """``value`` checked against the declared type and range of ``name`` (ints widen to float; CLI text stays text).

    ``raw`` is the text given on the command line (None for values from a YAML file).
    """
    listing = {k: v["type"] for k, v in declared.items()}
    if name not in declared:
        close = difflib.get_close_matches(name, list(declared), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ParameterError(f"{notebook}: unknown parameter {name!r}{hint}", notebook=notebook, name=name, known=listing)
    spec = declared[name]
    kind = spec["type"]
    if spec.get("nullable") and (value is None or _is_null_text(raw)):
        return None
    if kind == "str" and raw is not None:
        return raw
    if kind in ("float", "int") and isinstance(value, str):  # YAML reads 1e-3 as text; Python does not
        try:
            value = int(value) if kind == "int" else float(value)
        except ValueError:
            pass
    ok = {
        "any": True,
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "str": isinstance(value, str),
        "list": isinstance(value, (list, tuple)),
        "dict": isinstance(value, dict),
    }.get(kind, True)
    if not ok:
        raise ParameterError(f"{notebook}: parameter {name!r} must be {kind}, got {type(value).__name__} {value!r}",
                             notebook=notebook, name=name, known=listing)
    if kind in ("int", "float"):
        if not math.isfinite(value):
            raise ParameterError(f"{notebook}: parameter {name!r} must be a finite number, not {value!r}",
                                 notebook=notebook, name=name)
        if bounds := spec.get("range"):
            lo, lo_open, hi, hi_open = bounds
            if value < lo or value > hi or (lo_open and value == lo) or (hi_open and value == hi):
                raise ParameterError(f"{notebook}: parameter {name!r} must be {_range_text(bounds)}, not {value!r} "
                                     f"({spec['help']})", notebook=notebook, name=name)
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
        out.append((notebook.strip() or None, name.strip(), value, raw))
    return out


def _refuse_runner_parameter(key: str, where: str) -> None:
    if key in OPTIONAL_RUNNER_PARAMETERS:
        raise ParameterError(f"{where}{key!r} is one for the whole run; use --engine or the parameter set's "
                             f"`{key}:` key", name=key)
    if key in RUNNER_PARAMETERS and key != "lang":
        raise ParameterError(f"{where}{key!r} is set by the runner; use --data / --period / --start / --end instead "
                             f"(the runner's value decides which data and period a page is filed under)", name=key)


def plan_parameters(pset: ParameterSet, names: list[str], overrides: list[str],
                    runner_values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Final parameters per notebook, every one checked against the notebook's parameters cell before anything runs.

    Precedence, later wins: the runner's values, the set's shared ``parameters``, the set's
    ``notebook_parameters``, ``-p NAME=VALUE``, ``-p NOTEBOOK:NAME=VALUE``. A shared name no notebook declares
    is an error (a misspelling), as is any per-notebook name the notebook does not declare, a wrong type or a
    value outside the parameter's stated range. The runner's own parameters (data_dir, period and comparison
    dates) cannot be set anywhere else; ``lang`` only for the whole run.
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
    for key in pset.shared:
        _refuse_runner_parameter(key, f"{pset.path}: parameters: ")
    for nb, per in pset.per_notebook.items():
        for key in per:
            _refuse_runner_parameter(key, f"{pset.path}: notebook_parameters.{nb}: ")
            if key == "lang":
                raise ParameterError(f"{pset.path}: notebook_parameters.{nb}: 'lang' is one for the whole run; "
                                     f"set it under `parameters` or with -p lang=zh", name="lang")
    for nb, key, _, _ in cli:
        _refuse_runner_parameter(key, f"-p {nb + ':' if nb else ''}{key}: ")
        if nb is not None and key == "lang":
            raise ParameterError(f"-p {nb}:lang: the language is one for the whole run; use -p lang=zh", name="lang")
        if nb is not None and nb not in names:
            raise ParameterError(f"-p {nb}:{key}: {nb!r} is not among the notebooks being run {names}")
    union = {k: v["type"] for d in declared.values() for k, v in d.items()}
    for key in list(pset.shared) + [n for nb, n, _, _ in cli if nb is None]:
        if not any(key in d for d in declared.values()):
            raise ParameterError(f"shared parameter {key!r} is not a parameter of any notebook in {names}",
                                 name=key, known=union)
    plans = {}
    for name in names:
        params = {k: _coerce(name, k, v, declared[name]) for k, v in runner_values.items()
                  if k not in OPTIONAL_RUNNER_PARAMETERS or k in declared[name]}
        for key, value in pset.shared.items():
            if key in declared[name]:
                params[key] = _coerce(name, key, value, declared[name])
        for key, value in pset.per_notebook.get(name, {}).items():
            params[key] = _coerce(name, key, value, declared[name])
        for nb, key, value, raw in cli:
            if nb is None and key in declared[name]:
                params[key] = _coerce(name, key, value, declared[name], raw=raw)
        for nb, key, value, raw in cli:
            if nb == name:
                params[key] = _coerce(name, key, value, declared[name], raw=raw)
        plans[name] = params
    return plans


def redact(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with the values of secret-looking names (token, key, password, secret) replaced by ``[redacted]``."""
    return {k: (REDACTED if SECRET_NAME.search(k) and v not in (None, "") else v) for k, v in params.items()}


# Data and period ---------------------------------------------------------------------------------------------
def data_span(data_dir: Path, engine=None) -> tuple[Any, Any, Any]:
    """(store, first, last timestamp) of the dataset over its orders, events, ad_spend and purchase_orders tables.

    Reads only the time columns (:func:`ecomlib.dataset.time_range`), or asks ``engine`` (an
    :class:`~ecomlib.engine.Engine`) when the data is not a folder of files: never a whole table.
    """
    import pandas as pd

    from .dataset import read_store, table_file, time_range

    firsts, lasts = [], []
    for table, column in SPAN_COLUMNS:
        if engine is not None and not Path(str(data_dir)).is_dir():
            if not engine.has(table):
                continue
            row = engine.sql(f"SELECT min({column}) AS first, max({column}) AS last FROM {table}").iloc[0]
            first, last = pd.Timestamp(row["first"]), pd.Timestamp(row["last"])
        elif table_file(data_dir, table):
            try:
                first, last = time_range(data_dir, table)
            except MissingTableError:  # a header without rows: no dates to take the range from
                continue
        else:
            continue
        if pd.notna(first):
            firsts.append(first)
            lasts.append(last)
    if not firsts:
        raise ReviewError(f"{data_dir}: no dated rows in orders, events, ad_spend or purchase_orders to take the data "
                          f"range from (check the folder, or make one with `ecomlib import` or `ecomlib demo-data`)")
    store_dir = Path(str(data_dir)) if Path(str(data_dir)).is_dir() else Path(str(data_dir)).parent
    return read_store(store_dir), min(firsts), max(lasts)


#: The time columns the data range is taken from.
SPAN_COLUMNS = (("orders", "order_time"), ("events", "event_time"), ("ad_spend", "date"),
                ("purchase_orders", "ordered_at"))


def choose_period(kind: str, *, period: str | None, start: str | None, end: str | None, data_end,
                  data_start=None) -> Period:
    """The review period from the options, else the last complete ``kind`` lying inside the data."""
    if period and (start or end):
        raise ParameterError("give --period or --start/--end, not both")
    if start or end:
        if not (start and end):
            raise ParameterError("--start and --end go together")
        return date_range(start, end)
    if period:
        return parse_period(period)
    return default_period(kind, data_start if data_start is not None else data_end, data_end)


# Workers, kernels and their clean-up -------------------------------------------------------------------------
def _die_with_parent() -> None:
    """Ask Linux to send this worker SIGTERM when its parent goes (even by SIGKILL)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover - no prctl: the next run cleans up instead
            pass


def tagged_processes(prefix: str) -> list[int]:
    """PIDs of processes whose environment carries a run tag starting with ``prefix`` (Linux ``/proc``; else [])."""
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    needle = f"{RUN_TAG}={prefix}".encode()
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if any(item.startswith(needle) for item in environ.split(b"\0")):
            found.append(int(entry.name))
    return found


def kill_tagged(prefix: str, *, grace: float = 2.0) -> list[int]:
    """End every process tagged with ``prefix`` (SIGTERM, then SIGKILL after ``grace`` seconds); return their PIDs."""
    pids = tagged_processes(prefix)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and tagged_processes(prefix):
            time.sleep(0.05)
        if not tagged_processes(prefix):
            break
    return pids


def _worker(execute: Callable, conn, tag: str, name: str, source: str, target: str, params: dict, cwd: str) -> None:
    """Body of one worker process: tag the environment (kernels inherit it), run the notebook, send the result."""
    _die_with_parent()
    os.environ[RUN_TAG] = tag
    began = time.monotonic()
    try:
        result = execute(name, source, target, params, cwd)
    except BaseException as exc:  # report any failure of the executor itself as the notebook's failure
        result = {"name": name, "status": "failed", "error": f"{type(exc).__name__}: {exc}", "cell": None}
    result.setdefault("duration_seconds", round(time.monotonic() - began, 1))
    conn.send(result)
    conn.close()


def _execute(name: str, source: str, target: str, params: dict, cwd: str) -> dict:
    """Run one notebook with Papermill (in a worker process); return status, error and timing.

    The kernel's own stderr (ipykernel start-up notices, warnings) goes to ``logs/<name>.log`` in the run
    folder instead of the terminal, so progress lines stay readable.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    log_dir = Path(target).parent / "logs"
    log_dir.mkdir(exist_ok=True)
    began = time.monotonic()
    result = {"name": name, "status": "ok", "error": None, "cell": None}
    saved_stderr = os.dup(2)
    with open(log_dir / f"{name}.log", "wb") as log:
        os.dup2(log.fileno(), 2)
        try:
            for attempt in range(2):
                try:
                    papermill.execute_notebook(source, target, parameters=params, cwd=cwd, kernel_name="python3",
                                               progress_bar=False, log_output=False)
                    break
                except Exception as exc:
                    # Two kernels started at once can pick the same free TCP port (jupyter_client chooses it
                    # before the kernel binds it): the kernel dies before it answers. Start once more.
                    if attempt or "died before replying to kernel_info" not in str(exc):
                        raise
        except PapermillExecutionError as exc:
            skipped = exc.ename == "MissingTableError"
            result.update(status="skipped" if skipped else "failed", cell=exc.exec_count,
                          error=f"{exc.ename}: {str(exc.evalue).splitlines()[0] if exc.evalue else ''}")
        except Exception as exc:  # the kernel died or could not start: report it, keep the other notebooks going
            died = type(exc).__name__ == "DeadKernelError" or "kernel died" in str(exc).lower()
            result.update(status="failed", reason="kernel_died" if died else "error",
                          error=(f"kernel died (the Python process running the notebook ended: out of memory, a crash "
                                 f"in native code, or it was killed); see logs/{name}.log") if died
                          else f"{type(exc).__name__}: {exc}")
        finally:
            os.dup2(saved_stderr, 2)
            os.close(saved_stderr)
    result["duration_seconds"] = round(time.monotonic() - began, 1)
    return result


def _context():
    """Workers fork from a clean fork server (started once, with the runner imported): fast, and no state of the
    calling process (threads, zmq, matplotlib) is copied into them."""
    if "forkserver" not in multiprocessing.get_all_start_methods():  # pragma: no cover - not Linux/macOS
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["ecomlib.runner", "ecomlib.report", "nbformat", "papermill"])
    return context


def _run_all(pset: ParameterSet, names: list[str], plans: dict, tmp: Path, jobs: int, timeout: float,
             echo: Callable[[str], None]) -> list[dict]:
    """Run the notebooks, ``jobs`` at a time, each in its own worker with ``timeout`` seconds; return their results."""
    context = _context()
    execute = _execute  # looked up at call time, so tests can put a stub executor in its place
    cwd = str(pset.notebooks_dir.resolve())
    results = [skip for name in names if (skip := _absent_table(name, plans[name]))]
    for skip in results:
        echo(f"[{results.index(skip) + 1}/{len(names)}] {skip['name']} skipped — {skip['error']}")
    waiting, running = [n for n in names if n not in {r["name"] for r in results}], {}
    began = time.monotonic()
    try:
        while waiting or running:
            while waiting and len(running) < jobs:
                name = waiting.pop(0)
                receive, send = context.Pipe(duplex=False)
                proc = context.Process(target=_worker, name=f"ecomlib-{name}",
                                       args=(execute, send, f"{tmp.name}/{name}", name,
                                             str(pset.notebooks_dir / f"{name}.ipynb"), str(tmp / f"{name}.ipynb"),
                                             plans[name], cwd))
                proc.start()
                send.close()
                running[name] = (proc, receive, time.monotonic())
                echo(f"  … {name} started")
            waitables = [r for _, r, _ in running.values()] + [p.sentinel for p, _, _ in running.values()]
            multiprocessing.connection.wait(waitables, timeout=0.5)
            for name, (proc, receive, started) in list(running.items()):
                result = None
                if receive.poll():
                    try:
                        result = receive.recv()
                    except EOFError:
                        result = {"name": name, "status": "failed", "reason": "worker_died", "cell": None,
                                  "error": f"the worker process running the notebook died (exit code {proc.exitcode})"}
                elif not proc.is_alive():
                    result = {"name": name, "status": "failed", "reason": "worker_died", "cell": None,
                              "error": f"the worker process running the notebook died (exit code {proc.exitcode})"}
                elif time.monotonic() - started > timeout:
                    result = {"name": name, "status": "failed", "reason": "timeout", "cell": None,
                              "error": f"timed out after {timeout:g} s (the limit is --timeout); the page shows "
                                       f"the cells that finished"}
                if result is None:
                    continue
                result.setdefault("duration_seconds", round(time.monotonic() - started, 1))
                _stop(proc, f"{tmp.name}/{name}")
                receive.close()
                del running[name]
                results.append(result)
                elapsed = int(time.monotonic() - began)
                note = f" — {result['error']}" if result.get("error") else ""
                echo(f"[{len(results)}/{len(names)}] {name} {result['status']} in {result['duration_seconds']:.0f}s "
                     f"(elapsed {elapsed // 60}:{elapsed % 60:02d}){note}")
    finally:
        for name, (proc, receive, _) in running.items():  # interrupted: end what still runs
            _stop(proc, f"{tmp.name}/{name}")
        kill_tagged(f"{tmp.name}/")
    return results


def _absent_table(name: str, params: dict) -> dict | None:
    """A skipped result, without starting a kernel, when a table the review requires has no file in the data
    folder (``contract.REVIEW_TABLES``); None when the notebook should run (it still skips itself on a table
    that is present but empty)."""
    from .contract import REVIEW_TABLES
    from .dataset import table_file

    data_dir = Path(params.get("data_dir", ""))
    if name not in REVIEW_TABLES or not data_dir.is_dir():
        return None
    absent = next((t for t in REVIEW_TABLES[name][0] if table_file(data_dir, t) is None), None)
    if absent is None:
        return None
    error = MissingTableError(absent, str(data_dir), name)
    return {"name": name, "status": "skipped", "error": f"MissingTableError: {str(error).splitlines()[0]}",
            "cell": None, "duration_seconds": 0.0}


def _stop(proc, tag: str) -> None:
    """End a worker and every process carrying its tag (its kernel and whatever the kernel started)."""
    proc.join(timeout=0.2 if proc.is_alive() else 5)
    if proc.is_alive():
        proc.terminate()
        proc.join(timeout=3)
    if proc.is_alive():
        proc.kill()
        proc.join(timeout=3)
    kill_tagged(tag)


class Interrupted(BaseException):
    """Raised inside a run when it receives SIGTERM, so its clean-up runs (like KeyboardInterrupt for Ctrl-C)."""


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Interrupted(f"stopped by signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# Locks, temporary folders and the swap ----------------------------------------------------------------------
def _try_lock(path: Path) -> int | None:
    """An open, exclusively locked file descriptor for ``path``, or None when another process holds the lock."""
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _unlock(fd: int) -> None:
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


@contextmanager
def period_lock(out_dir: Path, label: str) -> Iterator[Path]:
    """Hold ``OUT/.<label>.lock`` for the run; refuse, naming the lock and its holder, when another run holds it."""
    path = out_dir / f".{label}.lock"
    fd = _try_lock(path)
    if fd is None:
        try:
            holder = path.read_text(encoding="utf-8").strip() or "another process"
        except OSError:
            holder = "another process"
        raise ReviewError(f"another review is writing {out_dir / label} (lock {path}, held by {holder}); wait for it "
                          f"to finish and run again — the lock goes when that run ends, even if it is killed")
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} since {datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC\n".encode())
        yield path
    finally:
        _unlock(fd)


def clean_stale(out_dir: Path, label: str, *, keep: Path | None = None, echo: Callable[[str], None] = print) -> list[str]:
    """Remove temporary folders left by runs that were killed, ending any process still carrying their tag.

    Called with the lock of ``label`` held: its leftovers are stale by definition. A leftover of another period
    is stale when that period's lock is free; when it is held, the run is alive and its folder is reported and
    left alone. Returns the names removed.
    """
    removed = []
    for entry in sorted(out_dir.iterdir()):
        m = _TEMP_NAME.match(entry.name)
        if not m or entry == keep or not entry.is_dir():
            continue
        fd = None
        if m["label"] != label:
            fd = _try_lock(out_dir / f".{m['label']}.lock")
            if fd is None:
                echo(f"note: {entry.name} belongs to a review of {m['label']} still running (pid {m['pid']}); left alone")
                continue
        try:
            if m["kind"] == "tmp":
                ended = kill_tagged(f"{entry.name}/")
                if ended:
                    echo(f"note: ended {len(ended)} process(es) left by a killed run (pid {m['pid']})")
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
            echo(f"note: removed {entry.name}, left by a run that was killed (pid {m['pid']})")
        finally:
            if fd is not None:
                _unlock(fd)
    return removed


def _swap(tmp: Path, final: Path) -> None:
    """Put the finished run in place of the last one with two renames (the old one is removed after).

    Safe against other processes swapping the same folder: a rename that finds the place taken again retries.
    SIGTERM and SIGINT wait until the swap is over, and if the new folder cannot be put in place the old one is
    put back, so the period always has one complete report.
    """
    moved: list[Path] = []
    done = False
    signals = {signal.SIGTERM, signal.SIGINT}
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, signals) if hasattr(signal, "pthread_sigmask") else None
    try:
        for attempt in range(200):
            if final.exists():
                old = final.with_name(f".{final.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}")
                try:
                    final.rename(old)
                    moved.append(old)
                except FileNotFoundError:  # another process moved it first
                    pass
            try:
                tmp.rename(final)
                done = True
                return
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST) or attempt == 199:
                    raise
    finally:
        if not done and moved and not final.exists():
            try:
                moved.pop().rename(final)
            except OSError:
                pass
        for old in moved:
            shutil.rmtree(old, ignore_errors=True)
        if blocked is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


# Paths, secrets and skipped notebooks on the pages -------------------------------------------------------------
class _Scrubber:
    """Replaces absolute local paths the user did not pass (run folders, the Python prefix, home) in report text."""

    def __init__(self, mapping: dict[str, str]):
        pairs = {str(k).rstrip("/"): v for k, v in mapping.items() if k and str(k) not in ("/", ".")}
        self.pairs = [(re.compile(re.escape(old) + r"(?![\w.-])"), new)
                      for old, new in sorted(pairs.items(), key=lambda kv: -len(kv[0]))]

    def __call__(self, text):
        if not isinstance(text, str):
            return text
        for old, new in self.pairs:
            text = old.sub(lambda _m, new=new: new, text)
        return text


def _scrub_notebook(nb, scrub: _Scrubber, data_text: str, params: dict) -> None:
    """Scrub paths in every text of an executed notebook (not images) and redact secrets in its parameters."""
    secrets = {k for k, v in params.items() if SECRET_NAME.search(k) and v not in (None, "")}
    meta = nb.metadata.get("papermill", {})
    if "parameters" in meta:
        meta["parameters"] = redact({**meta["parameters"], "data_dir": data_text})
    for key in ("input_path", "output_path"):
        if key in meta:
            meta[key] = Path(meta[key]).name
    for cell in nb.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            lines = []
            for line in cell.source.splitlines():
                m = re.match(r"^(\w+) = ", line)
                if m and m[1] in secrets:
                    line = f"{m[1]} = {REDACTED!r}"
                elif m and m[1] == "data_dir":
                    line = f"data_dir = {data_text!r}"
                lines.append(line)
            cell.source = "\n".join(lines)
        cell.source = scrub(cell.source)
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = scrub(out["text"])
            if "traceback" in out:
                out["traceback"] = [scrub(t) for t in out["traceback"]]
            if "evalue" in out:
                out["evalue"] = scrub(out["evalue"])
            for mime, value in out.get("data", {}).items():
                if mime.startswith("text/") and isinstance(value, str):
                    out["data"][mime] = scrub(value)
                elif mime.startswith("text/") and isinstance(value, list):
                    out["data"][mime] = [scrub(v) for v in value]
    # secret values typed into a cell's output would be shown: replace them wherever they appear as text
    for value in (str(params[k]) for k in secrets if len(str(params[k])) >= 4):
        for cell in nb.cells:
            cell.source = cell.source.replace(value, REDACTED)
            for out in cell.get("outputs", []):
                if isinstance(out.get("text"), str):
                    out["text"] = out["text"].replace(value, REDACTED)
                for mime, v in out.get("data", {}).items():
                    if mime.startswith("text/") and isinstance(v, str):
                        out["data"][mime] = v.replace(value, REDACTED)


def missing_table(error: str | None) -> str | None:
    """The table named by a MissingTableError message (``no table 'events'``), or None."""
    m = re.search(r"no table '([^']+)'", error or "")
    return m[1] if m else None


def _review_title(name: str, msg) -> str:
    try:
        return msg(f"common.review.{name}")
    except KeyError:
        return name.replace("_", " ").capitalize()


def page_heading(nb) -> str | None:
    """The page's own title: the first ``# heading`` a notebook displayed (``el.title``), or None."""
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            text = out.get("data", {}).get("text/markdown")
            if isinstance(text, list):
                text = "".join(text)
            if isinstance(text, str) and text.startswith("# "):
                return text.splitlines()[0][2:].strip().replace("\\", "")
    return None


# History ------------------------------------------------------------------------------------------------------
@contextmanager
def _history_lock(out_dir: Path) -> Iterator[None]:
    import fcntl

    fd = os.open(out_dir / ".history.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def read_history(out_dir: Path) -> list[dict]:
    """Rows of ``OUT/history.jsonl`` (period, period_start, kind, review, key, label, unit, value, source, run)."""
    path = Path(out_dir) / HISTORY_FILE
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut by a crash of an older version: skip it, keep the rest
            continue
    return rows


def merge_history(rows: list[dict], new: list[dict], reviews: set[tuple[str, str]]) -> list[dict]:
    """``rows`` with every row of the (period, review) pairs in ``reviews`` replaced by ``new``, sorted."""
    kept = [r for r in rows if (r["period"], r["review"]) not in reviews]
    return sorted(kept + new, key=lambda r: (r["period_start"], r["period"], r["review"], r["key"]))


def write_history(out_dir: Path, new: list[dict], reviews: set[tuple[str, str]]) -> None:
    """Merge this run's rows into ``OUT/history.jsonl`` under a lock, written atomically."""
    with _history_lock(out_dir):
        for stale in out_dir.glob(f".{HISTORY_FILE}.tmp-*"):  # a writer killed midway (writers hold the lock)
            stale.unlink(missing_ok=True)
        rows = merge_history(read_history(out_dir), new, reviews)
        tmp = out_dir / f".{HISTORY_FILE}.tmp-{os.getpid()}"
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        os.replace(tmp, out_dir / HISTORY_FILE)


def headline_history(rows: list[dict], *, review: str, key: str, kind: str, upto: str, n: int = HISTORY_POINTS) -> list[dict]:
    """The last ``n`` periods (of ``kind``, starting on or before ``upto``) of one headline: ``[{period, value}]``."""
    points = [r for r in rows if r["review"] == review and r["key"] == key and r["kind"] == kind
              and r["period_start"] <= upto]
    return [{"period": r["period"], "value": r["value"]} for r in points[-n:]]


# The run ------------------------------------------------------------------------------------------------------
def run_review(params_path: str | Path = "params/weekly.yaml", *, data_dir: str | Path | None = None,
               engine: str | None = None, period: str | None = None, start: str | None = None, end: str | None = None,
               out_dir: str | Path = "reports", only: list[str] | None = None, overrides: list[str] | None = None,
               jobs: int = 2, show_code: bool = False, timeout: float = DEFAULT_TIMEOUT,
               echo: Callable[[str], None] = print) -> dict:
    """Execute a parameter set's notebooks for one period into ``OUT/<period>/`` with HTML pages and an index.

    ``engine`` (default: the set's ``engine``, else ``auto``) is resolved once for the whole run
    (:func:`ecomlib.engine.choose`) and given to every notebook as its ``engine`` parameter.

    Returns the run summary (also written to ``summary.json``) with ``index`` (path of index.html) added.
    Raises :class:`ParameterError` / :class:`PeriodError` / :class:`ReviewError` before anything runs when the
    set, a parameter or the period is wrong, or the output folder cannot be written.
    """
    from .i18n import Messages

    started = datetime.now(timezone.utc)
    pset = load_parameter_set(params_path)
    data_text = str(data_dir if data_dir is not None else pset.data or "data/demo")
    from .engine import choose, connect

    engine = choose(engine or pset.engine, data_text)
    remote = "://" in data_text or (engine == "spark" and not Path(data_text).exists())
    data_dir = Path(data_text) if remote else Path(data_text).resolve()
    if not remote and not data_dir.is_dir() and not (engine == "duckdb" and data_dir.suffix == ".duckdb"
                                                        and data_dir.is_file()):
        raise ReviewError(f"{data_text}: no such data folder (give --data DIR, or a .duckdb file with "
                          f"--engine duckdb)")
    names = list(pset.notebooks) if not only else list(dict.fromkeys(n.strip() for n in only if n.strip()))
    if stray := [n for n in names if n not in pset.notebooks]:
        raise ParameterError(f"--only {','.join(stray)}: not in {pset.path} (which has {', '.join(pset.notebooks)})")
    if not names:
        raise ParameterError(f"--only names no notebook; {pset.path} has {', '.join(pset.notebooks)}")
    if not timeout or timeout <= 0:
        raise ParameterError(f"--timeout must be a positive number of seconds, not {timeout!r}")
    store, data_first, data_last = data_span(data_dir, None if data_dir.is_dir() else connect(engine, data_text))
    review_period = choose_period(pset.kind, period=period, start=start, end=end, data_end=data_last,
                                  data_start=data_first)
    covered = check_in_data(review_period, data_first, data_last, kind=pset.kind)
    comparison = review_period.previous()
    cli_lang = [v for nb, n, v, _ in parse_overrides(overrides or []) if n == "lang" and nb is None]
    lang = cli_lang[-1] if cli_lang else pset.shared.get("lang") or store.lang
    if lang not in ("en", "zh"):
        raise ParameterError(f"lang must be 'en' or 'zh', not {lang!r}")
    runner_values = {"data_dir": data_text if remote else str(data_dir), **review_period.as_params("period"),
                     **comparison.as_params("compare"), "lang": lang, "engine": engine}
    plans = plan_parameters(pset, names, overrides or [], runner_values)
    msg = Messages(lang, currency=store.currency)

    out_text = str(out_dir)
    out_dir = Path(out_dir).resolve()
    final = out_dir / review_period.label
    tmp = out_dir / f".{review_period.label}.tmp-{os.getpid()}"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        lock = period_lock(out_dir, review_period.label)
        lock.__enter__()
    except OSError as exc:
        raise ReviewError(f"cannot write reports to {out_text}: {exc.strerror or exc}; give a writable --out") from None
    try:
        clean_stale(out_dir, review_period.label, keep=tmp, echo=echo)
        try:
            tmp.mkdir()
        except OSError as exc:
            raise ReviewError(f"cannot write reports to {out_text}: {exc.strerror or exc}; give a writable --out") from None
        echo(f"review {review_period.label} ({review_period.start.date()} – {review_period.last_day.date()}) of "
             f"{store.name} from {data_text}: {len(names)} notebook(s), {jobs} at a time → "
             f"{Path(out_text) / review_period.label}")
        if covered < review_period.days:
            echo(f"note: the data covers {covered} of the period's {review_period.days} days")
        scrub = _Scrubber({str(data_dir): data_text, str(tmp): ".", str(final): ".", str(out_dir): out_text,
                           str(pset.notebooks_dir.resolve()): "notebooks", sys.prefix: "<python>",
                           sys.base_prefix: "<python>", os.getcwd(): ".", str(Path.home()): "~"})
        facts = {"started": started, "data_text": data_text, "store": store, "first": data_first, "last": data_last,
                 "engine": engine,
                 "covered": covered, "period": review_period, "comparison": comparison, "kind": review_period.kind}
        try:
            with _terminate_as_interrupt():
                results = _run_all(pset, names, plans, tmp, jobs, timeout, echo)
                history = read_history(out_dir)
                notebooks = _render_all(results, tmp, msg, show_code, facts, plans, scrub, history, out_dir)
                notebooks += _carry_over(pset, names, final, tmp, msg)
                notebooks.sort(key=lambda nb: pset.notebooks.index(nb["name"]))
                summary = _summary(pset, facts, notebooks, msg, lang)
                new_rows, reviews = _history_rows(summary, facts, started)
                merged = merge_history(history, new_rows, reviews)
                for nb in summary["notebooks"]:
                    for h in nb["headlines"]:
                        h["history"] = headline_history(merged, review=nb["name"], key=h["key"], kind=review_period.kind,
                                                        upto=summary["period_start"])
                _write(tmp / "summary.json", json.dumps(summary, ensure_ascii=False, indent=2))
                _write(tmp / "index.html", render_index(summary, msg))
                for log in (tmp / "logs").glob("*.log") if (tmp / "logs").is_dir() else []:
                    log.write_text(scrub(log.read_text(encoding="utf-8", errors="replace")), encoding="utf-8")
                _swap(tmp, final)
                write_history(out_dir, new_rows, reviews)
        except OSError as exc:
            raise ReviewError(f"cannot write the report to {out_text}: {exc.strerror or exc}; the previous report of "
                              f"{review_period.label} is unchanged") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        lock.__exit__(None, None, None)
    return {**summary, "index": str(final / "index.html")}


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _coverage_text(facts: dict, msg) -> str | None:
    period = facts["period"]
    if facts["covered"] >= period.days:
        return None
    return msg("common.partial_coverage", covered=facts["covered"], days=period.days,
               first=msg.date(facts["first"]), last=msg.date(facts["last"]))


def _runbar(facts: dict, msg) -> str:
    from . import __version__

    period = facts["period"]
    bar = (f'<div class="ecomlib-runbar"><a href="index.html">← {escape(msg("common.index_title", period=period.label))}'
           f'</a> · {escape(msg("common.run_time"))}: {facts["started"]:%Y-%m-%d %H:%M} UTC · '
           f'{escape(msg("common.data_range"))}: {escape(Path(facts["data_text"]).name)} '
           f'({facts["first"]:%Y-%m-%d} – {facts["last"]:%Y-%m-%d}) · ecomlib {__version__}</div>')
    if banner := _coverage_text(facts, msg):
        bar += f'\n<div class="ecomlib-banner" role="note">{escape(banner)}</div>'
    return bar


def _render_all(results: list[dict], tmp: Path, msg, show_code: bool, facts: dict, plans: dict, scrub: _Scrubber,
                history: list[dict], out_dir: Path) -> list[dict]:
    import nbformat

    from .render import kit_page, notebook_html
    from .report import read_findings, read_headlines, read_scan

    previous = {(r["review"], r["key"]): r["value"] for r in history if r["period"] == facts["comparison"].label}
    previous.update({k: v for k, v in _previous_headlines(out_dir, facts["period"]).items() if k not in previous})
    runbar = _runbar(facts, msg)
    notebooks = []
    for result in results:
        name = result["name"]
        ipynb, html = tmp / f"{name}.ipynb", tmp / f"{name}.html"
        error = scrub(result.get("error"))
        table = missing_table(error) if result["status"] == "skipped" else None
        headlines, findings, title = [], [], _review_title(name, msg)
        note, scan = None, None
        if result["status"] == "skipped":
            note = (msg("common.skipped_missing_table", table=table) if table
                    else msg("common.skipped_other", error=error or ""))
            _write(html, kit_page(title=title, lang=msg.lang, runbar_html=runbar, body_html=f'<h1>{escape(title)}</h1>'
                                  f'<p class="ecomlib-skipped">{escape(note)}</p>'))
            if ipynb.exists():
                ipynb.unlink()  # its only content is the traceback the page replaces
        elif ipynb.exists():
            nb = nbformat.read(str(ipynb), as_version=4)
            _scrub_notebook(nb, scrub, facts["data_text"], plans[name])
            nbformat.write(nb, str(ipynb))
            title = page_heading(nb) or title
            extra = ""
            if result["status"] == "failed" and result.get("reason") in ("timeout", "kernel_died", "worker_died"):
                extra = f'<div class="ecomlib-banner ecomlib-error" role="alert">{escape(error or "")}</div>'
            scan = read_scan(nb)
            _write(html, notebook_html(nb, title=title, show_code=show_code, runbar_html=runbar + extra,
                                       lang=msg.lang, msg=msg, footer_html=_footer(scan, msg)))
            headlines, findings = read_headlines(nb), read_findings(nb)
        else:
            _write(html, kit_page(title=title, lang=msg.lang, runbar_html=runbar,
                                  body_html=f'<h1>{escape(title)}</h1><pre class="ecomlib-error">'
                                            f'{escape(error or "the notebook did not run")}</pre>'))
        for h in headlines:
            if h.get("previous") is None:
                h["previous"] = previous.get((name, h["key"]))
        for f in findings:
            f["notebook"] = name
            f["link"] = f"{html.name}#{f['anchor']}" if f.get("anchor") else html.name
        notebooks.append({"name": name, "title": title, "status": result["status"], "html": html.name,
                          "ipynb": ipynb.name if ipynb.exists() else None, "error": error, "note": note,
                          "missing_table": table, "reason": result.get("reason"),
                          "failed_cell": result.get("cell"), "duration_seconds": result.get("duration_seconds"),
                          "parameters": redact({**plans[name], "data_dir": facts["data_text"]}),
                          "engine": scan["engine"] if scan else None,
                          "rows_scanned": scan["rows_scanned"] if scan else None,
                          "headlines": headlines, "findings": findings})
    return notebooks


def _footer(scan: dict | None, msg) -> str:
    """The page footer: the engine the notebook's reductions ran on and the rows it read (escaped HTML)."""
    if not scan:
        return ""
    text = msg("common.engine_footer", engine=scan["engine"], rows=msg.int(scan["rows_scanned"]))
    return f'<footer class="ecomlib-footer">{escape(text)}</footer>'


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


def _summary(pset: ParameterSet, facts: dict, notebooks: list[dict], msg, lang: str) -> dict:
    from .review import rank_findings

    period, comparison = facts["period"], facts["comparison"]
    findings = rank_findings([f for nb in notebooks for f in nb.get("findings", [])])
    return {
        "version": SUMMARY_VERSION, "title": pset.title, "period": period.label, "kind": period.kind,
        "period_start": period.start.date().isoformat(), "period_end": period.last_day.date().isoformat(),
        "comparison": comparison.label, "data": facts["data_text"], "engine": facts["engine"],
        "store": facts["store"].name,
        "currency": facts["store"].currency, "lang": lang, "data_first": str(facts["first"]),
        "data_last": str(facts["last"]),
        "coverage": {"days": facts["covered"], "of": period.days, "text": _coverage_text(facts, msg)},
        "started": facts["started"].isoformat(timespec="seconds"),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "findings": findings, "notebooks": notebooks,
    }


def _history_rows(summary: dict, facts: dict, started: datetime) -> tuple[list[dict], set[tuple[str, str]]]:
    """This run's history rows (headlines of notebooks that ran, not carried over) and the (period, review) keys."""
    rows, reviews = [], set()
    for nb in summary["notebooks"]:
        if nb.get("carried_over") or nb["status"] != "ok":
            continue
        reviews.add((summary["period"], nb["name"]))
        for h in nb["headlines"]:
            rows.append({"period": summary["period"], "period_start": summary["period_start"],
                         "period_end": summary["period_end"], "kind": facts["kind"], "review": nb["name"],
                         "key": h["key"], "label": h.get("label"), "unit": h.get("unit"), "value": h.get("value"),
                         "source": h.get("source"), "run": started.isoformat(timespec="seconds")})
    return rows, reviews


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
            out.append({"findings": [], **old[name], "carried_over": True, "note": msg("common.carried_over")})
        else:
            out.append({"name": name, "title": _review_title(name, msg), "status": "skipped", "html": None, "ipynb": None,
                        "error": None, "note": msg("common.not_run"), "missing_table": None, "failed_cell": None,
                        "duration_seconds": 0, "headlines": [], "findings": []})
    return out


# The index ----------------------------------------------------------------------------------------------------
def sparkline(values: list[float | None], *, width: int = 96, height: int = 22) -> str:
    """A small inline SVG line of ``values`` (None leaves a gap); the last point is marked. Numbers only, no script.

    >>> sparkline([1, 2, None, 3]).startswith('<svg class="spark"')
    True
    """
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if len(values) < 2 or not finite:
        return ""
    lo, hi = min(finite), max(finite)
    span = (hi - lo) or 1.0
    step = (width - 4) / (len(values) - 1)

    def xy(i, v):
        return 2 + i * step, height - 3 - (v - lo) / span * (height - 6)

    segments, current = [], []
    for i, v in enumerate(values):
        if v is None or not math.isfinite(v):
            if current:
                segments.append(current)
            current = []
        else:
            current.append(xy(i, v))
    if current:
        segments.append(current)
    lines = "".join(f'<polyline points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in seg)}"/>' for seg in segments
                    if len(seg) > 1)
    last = [(i, v) for i, v in enumerate(values) if v is not None and math.isfinite(v)][-1]
    cx, cy = xy(*last)
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="1.2"/>' for seg in segments if len(seg) == 1 for x, y in seg)
    return (f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'xmlns="http://www.w3.org/2000/svg" aria-hidden="true">{lines}{dots}'
            f'<circle class="last" cx="{cx:.1f}" cy="{cy:.1f}" r="2"/></svg>')


def add_alerts(run_dir: str | Path, alerts: list[dict]) -> Path:
    """Put the alert feed (``Alert.to_json()`` dicts) at the top of a finished review's index page and into its
    ``summary.json`` (``alerts[]``); returns the index path. The files are replaced whole (temporary file, rename)."""
    from .i18n import Messages

    run_dir = Path(run_dir)
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    summary["alerts"] = list(alerts)
    msg = Messages(summary.get("lang", "en"), currency=summary.get("currency", "USD"))
    for name, text in (("summary.json", json.dumps(summary, ensure_ascii=False, indent=2)),
                       ("index.html", render_index(summary, msg))):
        tmp = run_dir / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, run_dir / name)
    return run_dir / "index.html"


def top_findings(findings: list[dict]) -> list[dict]:
    """What the index's "This week" shows of the ranked findings: every high-severity one, then the next ones up to
    :data:`TOP_FINDINGS`."""
    n_high = sum(f.get("severity") == "high" for f in findings)
    return findings[:max(TOP_FINDINGS, n_high)]


def render_index(summary: dict, msg) -> str:
    """The run's index page: "This week" (the top findings across reviews, linked to their sections), then each
    notebook's status, link and headline numbers with the change on the previous period and a sparkline."""
    from jinja2 import Environment, select_autoescape
    from markupsafe import Markup

    from .i18n import html_lang
    from .report import format_change, format_value

    env = Environment(autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
                      trim_blocks=True, lstrip_blocks=True)
    template = env.from_string((resources.files("ecomlib") / "templates" / "index.html.j2").read_text(encoding="utf-8"))

    def tone(h: dict) -> str:
        if h.get("value") is None or h.get("previous") is None or h.get("good") is None or h["value"] == h["previous"]:
            return "flat"
        up = h["value"] > h["previous"]
        return "good" if up == (h["good"] == "up") else "bad"

    def history_title(h: dict) -> str:
        return " · ".join(f"{p['period']}: {format_value(p['value'], h['unit'], msg)}" for p in h.get("history", []))

    titles = {nb["name"]: nb["title"] for nb in summary["notebooks"]}
    rows = []
    for nb in summary["notebooks"]:
        sources = sorted({h.get("source") for h in nb.get("headlines", []) if h.get("source")})
        rows.append({**nb, "status_text": msg(f"common.status_{nb['status']}"), "sources": sources,
                     "headlines": [{**h, "value_text": format_value(h.get("value"), h["unit"], msg),
                                    "previous_text": format_value(h.get("previous"), h["unit"], msg),
                                    "change_text": format_change(h.get("value"), h.get("previous"), h["unit"], msg),
                                    "tone": tone(h), "history_title": history_title(h),
                                    "spark": Markup(sparkline([p["value"] for p in h.get("history", [])]))}
                                   for h in nb.get("headlines", [])]})
    top = [{**f, "review_title": titles.get(f.get("notebook"), f.get("review")),
            "money_text": msg.money(f["money"]) if f.get("money") is not None else None,
            "severity_text": msg(f"common.severity_{f['severity']}"),
            "confidence_text": msg(f"common.confidence_{f['confidence']}")}
           for f in top_findings(summary.get("findings", []))]
    n_ok = sum(nb["status"] == "ok" for nb in rows)
    kind = summary.get("kind", "week")
    alerts = [{**a, "severity_text": msg(f"alerts.severity.{a['severity']}")} for a in summary.get("alerts", [])]
    return template.render(summary=summary, notebooks=rows, findings=top, alerts=alerts, lang=html_lang(msg.lang),
                           heading=msg("common.index_title", period=summary["period"]),
                           intro=msg("common.index_intro", n_ok=n_ok, n=len(rows)),
                           this_period=msg(f"common.this_{kind}" if kind in ("week", "month") else "common.this_period"),
                           no_findings=msg("common.no_findings"),
                           coverage=summary.get("coverage", {}).get("text"),
                           labels={k: msg(f"common.{k}") for k in ("metric", "value", "previous", "change", "status",
                                                                   "store", "period", "comparison", "data_range",
                                                                   "run_time", "headlines", "at_stake", "trend",
                                                                   "see_section", "sources", "alerts")})
