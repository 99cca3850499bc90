"""The one interface every review module exposes: load, compute a result per period, headlines, findings, sentences.

Every review module (``ecomlib.funnel``, ``ecomlib.cohorts``, ``ecomlib.ads``, ``ecomlib.suppliers``,
``ecomlib.returns``, and the ones added later) has the same public surface::

    NAME = "returns"                                   # the notebook's name, the contract's review name
    MINIMUM_DATA = {...}                               # section -> the rule, in words (module docstring too)
    def load(data_dir, **kwargs) -> Dataset            # the contract's tables for this review (review.load_tables)
    def compute(ds, period, **options) -> Result       # everything the page shows for one period, as known at its end
    def headlines(now, before, msg) -> list[Headline]  # the index cards: the same quantity for both periods
    def findings(now, before, msg) -> list[Finding]    # structured conclusions, ranked on the index
    def sentences(now, before, msg) -> list[str]       # the page's conclusions, read only from the results

``before`` is ``compute(ds, comparison, ...)`` with the same options, so a headline's previous value is the
same headline computed for the comparison period as of that period's end: running the review for the
comparison period itself reproduces it. A section that cannot be computed (too few days, one channel only, an
optional table absent) is not an exception: ``compute`` records a :class:`Gap` saying what is missing and what
would make it possible, and every other section still renders.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping

import numpy as np
import pandas as pd

from .periods import Period

SEVERITIES = ("high", "medium", "low", "info")
CONFIDENCES = ("significant", "not_significant", "descriptive")


@dataclass(frozen=True)
class Gap:
    """Why a section of a review could not be computed, as a message key of the catalogue and its fields.

    Example: ``Gap("ads.gap.too_few_days", {"days": 9, "needed": 28})`` renders as "Response curves need at
    least 28 days of spend with varying budgets; the data has 9."
    """

    message: str
    fields: Mapping[str, Any] = field(default_factory=dict)

    def text(self, msg) -> str:
        return msg(self.message, **dict(self.fields))


@dataclass
class Result:
    """What a review computed for one period, as known at the period's end.

    Attributes
    ----------
    review : the review's name (``"returns"``).
    period : the :class:`~ecomlib.periods.Period` computed.
    tables : the tables the page shows, by name (tidy DataFrames in the contract's vocabulary).
    values : scalar numbers by name (rates as fractions, money in the store currency).
    gaps : section name → :class:`Gap`, for the sections that could not be computed.
    notes : facts about the computation the page states (windows, thresholds, sources), by name.

    Tables and values are also attributes: ``result.culprits`` is ``result.tables["culprits"]``.
    """

    review: str
    period: Period
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    gaps: dict[str, Gap] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str):
        # only called when normal lookup fails: expose tables and values as attributes
        for store in ("tables", "values"):
            items = self.__dict__.get(store, {})
            if name in items:
                return items[name]
        raise AttributeError(f"{type(self).__name__} of {self.__dict__.get('review')!r} has no table or value "
                             f"{name!r}; tables: {sorted(self.__dict__.get('tables', {}))}, "
                             f"values: {sorted(self.__dict__.get('values', {}))}")

    def has(self, section: str) -> bool:
        """True unless ``section`` was recorded as a gap."""
        return section not in self.gaps

    def value(self, name: str, default=None):
        """A scalar value, or ``default`` when it was not computed."""
        return self.values.get(name, default)


@dataclass(frozen=True)
class Finding:
    """One conclusion of a review, structured so the index can rank it and link to where the page shows it.

    Attributes
    ----------
    review : the review's name (``"returns"``); with ``anchor`` it makes the link ``returns.html#<anchor>``.
    key : stable identifier within the review (``"culprit_sku"``).
    text : one sentence in the run's language, with its number and change (plain text, escaped when shown).
    numbers : the numbers it rests on (``{"ratio": 3.6, "p_adjusted": 0.0004}``), JSON-safe.
    money : money at stake in the period, store currency (orders lost × margin, spend below break-even,
        cost of returns, stock-out sales); None where it cannot be estimated.
    severity : ``high``, ``medium``, ``low`` or ``info``.
    confidence : ``significant`` (a test at the page's level, corrected over the family it names),
        ``not_significant`` or ``descriptive`` (no test applies: a count, a forecast, a ranking).
    anchor : id of the section on the page that shows it (``"sec-culprits"``).
    source : the function that computed the numbers (``"ecomlib.returns.excess_returns"``).
    """

    review: str
    key: str
    text: str
    numbers: Mapping[str, Any] = field(default_factory=dict)
    money: float | None = None
    severity: Literal["high", "medium", "low", "info"] = "medium"
    confidence: Literal["significant", "not_significant", "descriptive"] = "descriptive"
    anchor: str | None = None
    source: str | None = None

    def __post_init__(self):
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {list(SEVERITIES)}, not {self.severity!r}")
        if self.confidence not in CONFIDENCES:
            raise ValueError(f"confidence must be one of {list(CONFIDENCES)}, not {self.confidence!r}")

    def to_json(self) -> dict:
        out = asdict(self)
        out["numbers"] = {k: json_value(v) for k, v in dict(self.numbers).items()}
        out["money"] = json_value(self.money)
        return out


def json_value(v):
    """A JSON-safe scalar: numpy numbers to Python, NaN, infinities and NaT to None, timestamps to ISO text."""
    if isinstance(v, np.generic):
        v = v.item()
    if v is None or v is pd.NaT:
        return None
    if isinstance(v, float) and not np.isfinite(v):
        return None
    if isinstance(v, (pd.Timestamp,)):
        return v.isoformat()
    return v


def merged_options(review: str, given: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict:
    """A review's ``compute`` options: ``defaults`` updated with ``given``; an unknown name is a ParameterError
    listing the options (one wording in every review).

    >>> merged_options("returns", {"window_days": 30}, {"window_days": 90, "alpha": 0.05})
    {'window_days': 30, 'alpha': 0.05}
    """
    from .errors import ParameterError

    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ParameterError(f"unknown option {unknown[0]!r} of {review}.compute; options are {list(defaults)}",
                             name=unknown[0])
    return {**defaults, **given}


def number(value) -> float | None:
    """A value as a plain float for a headline or a JSON file; None where it is missing, not a number or not finite.

    >>> number(np.float64(2.5)), number(None), number(float("nan")), number("x")
    (2.5, None, None, None)
    """
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


def result_value(result: "Result | None", name: str) -> float | None:
    """:func:`number` of ``result.values[name]``; None when the result or the value is missing."""
    return None if result is None else number(result.values.get(name))


def rank_findings(findings: list[Finding] | list[Mapping], *, top: int | None = None) -> list:
    """Findings ordered for a reader: severity first; within a severity, what the data establishes (significant or
    descriptive) before what it does not (not significant), then the money at stake, largest first.

    Accepts :class:`Finding` objects or their JSON dicts; returns the same kind, at most ``top`` of them.
    """
    sev = {s: i for i, s in enumerate(SEVERITIES)}

    def get(f, name):
        return f.get(name) if isinstance(f, Mapping) else getattr(f, name)

    ordered = sorted(findings, key=lambda f: (sev[get(f, "severity")], get(f, "confidence") == "not_significant",
                                              -(get(f, "money") or 0.0)))
    return ordered[:top] if top is not None else ordered


#: Tables a review reads only through its query engine: on the duckdb and spark engines they never come into
#: pandas (a year of GA4 events does not fit); every other table of the review is loaded and validated as usual.
ENGINE_TABLES: dict[str, tuple[str, ...]] = {"funnel": ("events",)}

#: The dataset loaded last in this process (a notebook's kernel), for :func:`scan_report`: one slot, so
#: reloading in a long JupyterLab session does not keep every earlier dataset alive.
_LOADED: list = []


def load_tables(data_dir, review: str, *, engine: str = "pandas", may_be_empty: tuple[str, ...] = (),
                without: tuple[str, ...] = (), **kwargs):
    """Load the contract tables a review needs (required) and may use (optional), validated.

    ``review`` is the review's name; the table lists come from :data:`ecomlib.contract.REVIEW_TABLES`.
    A required table that is missing raises :class:`~ecomlib.errors.MissingTableError` (the runner marks the
    notebook skipped with that one line); optional tables that are absent stay None.

    ``engine`` (``auto``, ``pandas``, ``duckdb``, ``spark``; see :mod:`ecomlib.engine`): on duckdb and spark the
    dataset gets ``ds.engine``, the review's heavy reductions run there, and the tables of
    :data:`ENGINE_TABLES` stay there (their columns and empty keys are checked by SQL instead of row by row).
    ``data_dir`` may then also be a ``.duckdb`` file or, for Spark, a Parquet location or catalog prefix: the
    review's other tables are copied from it into a temporary folder and validated as usual.

    ``may_be_empty``: required tables whose file may hold a header and no rows (``returns``: none yet);
    ``without``: optional tables the review does not need this time (not read at all). Other ``kwargs`` go to
    :func:`~ecomlib.dataset.load_dataset` (``columns``, ``since``, ``until``, ``now``).

    Example
    -------
    >>> ds = load_tables("data/demo", "funnel", engine="duckdb")      # doctest: +SKIP
    >>> ds.events is None, ds.engine.name                             # doctest: +SKIP
    (True, 'duckdb')
    """
    from .contract import REVIEW_TABLES
    from .dataset import load_dataset
    from .engine import connect

    from .dataset import table_file
    from .errors import MissingTableError

    required, optional = REVIEW_TABLES[review]
    optional = tuple(t for t in optional if t not in without)
    eng = connect(engine, data_dir)
    lazy = ENGINE_TABLES.get(review, ()) if eng is not None else ()
    source = data_dir if eng is None else eng.folder(needed=[t for t in (*required, *optional) if t not in lazy])
    for table in may_be_empty:  # it must exist; with a header only it is read as an empty table
        if Path(source).is_dir() and table_file(Path(source), table) is None:
            raise MissingTableError(table, str(source), review)
    ds = load_dataset(source, tables=[t for t in required if t not in lazy and t not in may_be_empty],
                      optional=[*may_be_empty, *(t for t in optional if t not in lazy)], needed_by=review, **kwargs)
    if eng is not None:
        for table in lazy:
            eng.check_table(table, needed_by=review, required=table in required)
        for table, frame in ds.tables().items():  # validated here; the engine would otherwise read the CSV again
            if str(ds.files.get(table, "")).endswith(".csv"):
                eng.register(table, frame)
    ds.engine = eng
    _LOADED[:] = [ds]
    return ds


def scan_report() -> dict | None:
    """The engine and the rows the reviews of this process read: ``{"engine", "rows_scanned"}``, or None.

    Rows scanned are the rows of the tables loaded into pandas plus, on a query engine, the rows its queries
    read after their period filters. :func:`ecomlib.report.record_headlines` publishes it for the page footer
    and ``summary.json``.
    """
    if not _LOADED:
        return None
    ds = _LOADED[-1]
    loaded = sum(len(t) for t in ds.tables().values())
    eng = getattr(ds, "engine", None)
    return {"engine": eng.name if eng is not None else "pandas",
            "rows_scanned": int(loaded + (eng.rows_scanned if eng is not None else 0))}
