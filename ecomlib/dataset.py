"""Load a dataset folder (one CSV or Parquet file per contract table), check it against the contract, return typed tables.

A dataset folder holds ``<table>.csv`` or ``<table>.parquet`` per table and an optional ``store.yaml``
(``name``, ``currency``, ``timezone``, ``encoding``, ``lang``). Timestamps with a UTC offset are converted
to the store time zone; timestamps without one are taken as store-local. After loading every timestamp
is naive store-local time, stated once in ``Dataset.store.timezone``.

Problems that make a number wrong are errors (:class:`~ecomlib.errors.ContractError`, every one collected);
facts that are legitimate but change what a review shows (an over-delivered purchase-order line, an empty
optional table) load with a counted warning in ``Dataset.warnings``. :func:`unmatched_keys` lists values that
should match between tables but do not (ad channels without orders, and so on), with the money at stake.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import pandera.pandas as pa
import yaml

from .contract import TABLES, TableSpec
from .errors import ContractError, FileEncodingError, MissingTableError, Violation
from .keys import isin

N_EXAMPLES = 5
# An offset after a clock time: Z, +08:00, +0800 or the two-digit +08 (all valid ISO 8601).
_OFFSET = r"\d:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$"
#: A timestamp more than this after the time of the run is a violation (time-zone slack).
FUTURE_SLACK = pd.Timedelta(days=1)
#: A timestamp separated from every other value of its column by more than this (three years), at either end, is a
#: violation: typo years (0001, 2016 for 2026) are caught, a quiet year in a real history is not.
ISOLATION_GAP = pd.Timedelta(days=1096)
#: The time column ``load_dataset(since=…, until=…)`` and :func:`time_range` read per table: the moment the row
#: happened. Tables without one (order_items, products, suppliers, promotions, budgets, shipments) are read whole.
TIME_COLUMNS: dict[str, str] = {
    "orders": "order_time", "customers": "first_seen", "events": "event_time", "ad_spend": "date",
    "purchase_orders": "ordered_at", "returns": "returned_at", "inventory": "as_of", "price_observations": "date",
    "tickets": "opened_at", "product_reviews": "created_at", "experiments": "assigned_at",
}
_NON_FINITE = {"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity", "nan", "+nan", "-nan"}


@dataclass(frozen=True)
class Store:
    """Store-wide facts stated once: display name, currency (ISO 4217), time zone (IANA) and language."""

    name: str = "store"
    currency: str = "USD"
    timezone: str = "UTC"
    lang: str = "en"
    encoding: str = "utf-8"


@dataclass
class Dataset:
    """The contract tables of one store, validated; a table that was not present or not asked for is None.

    Example
    -------
    >>> ds = load_dataset("data/demo", tables=["orders", "events"])   # doctest: +SKIP
    >>> ds.orders.columns[:3].tolist()                                 # doctest: +SKIP
    ['order_id', 'customer_id', 'order_time']
    """

    path: Path
    store: Store
    files: dict[str, str] = field(default_factory=dict)
    orders: pd.DataFrame | None = None
    order_items: pd.DataFrame | None = None
    products: pd.DataFrame | None = None
    customers: pd.DataFrame | None = None
    events: pd.DataFrame | None = None
    ad_spend: pd.DataFrame | None = None
    purchase_orders: pd.DataFrame | None = None
    suppliers: pd.DataFrame | None = None
    returns: pd.DataFrame | None = None
    promotions: pd.DataFrame | None = None
    inventory: pd.DataFrame | None = None
    budgets: pd.DataFrame | None = None
    price_observations: pd.DataFrame | None = None
    shipments: pd.DataFrame | None = None
    tickets: pd.DataFrame | None = None
    product_reviews: pd.DataFrame | None = None
    experiments: pd.DataFrame | None = None
    #: legitimate but notable facts found while loading (over-delivered PO lines, empty optional tables), each a
    #: :class:`~ecomlib.errors.Violation` with its row count; ``ecomlib validate`` and the pages can show them.
    warnings: list[Violation] = field(default_factory=list)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The loaded tables by name."""
        return {name: getattr(self, name) for name in TABLES if getattr(self, name) is not None}

    def require(self, *names: str, needed_by: str | None = None) -> None:
        """Raise :class:`MissingTableError` unless every named table is loaded."""
        for name in names:
            if getattr(self, name) is None:
                raise MissingTableError(name, str(self.path), needed_by)

    def summary(self) -> pd.DataFrame:
        """One row per loaded table: rows, first and last timestamp, key columns (for ``ecomlib validate``)."""
        rows = []
        for name, df in self.tables().items():
            spec = TABLES[name]
            time_cols = [c for c in spec.timestamps + spec.dates if c in df]
            first = min((df[c].min() for c in time_cols), default=pd.NaT)
            last = max((df[c].max() for c in time_cols), default=pd.NaT)
            rows.append({"table": name, "file": Path(self.files[name]).name, "rows": len(df),
                         "first": first, "last": last, "key": ", ".join(spec.key) or "—"})
        return pd.DataFrame(rows)


def require_columns(df: pd.DataFrame, columns: Iterable[str], *, table: str, needed_by: str | None = None) -> None:
    """Raise ContractError naming every column of ``columns`` that ``df`` lacks (for public functions that take
    contract tables directly rather than through :func:`load_dataset`)."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        rule = f"the column is required by {needed_by}" if needed_by else "the column is required but missing"
        raise ContractError([Violation(table, c, rule, fix=f"add a '{c}' column (see data/README.md) or pass its "
                                                            f"name; the table has {list(df.columns)}")
                             for c in missing])


def _store_error(path: Path, rule: str, fix: str, column: str | None = None) -> ContractError:
    return ContractError([Violation("store", column, rule, fix=fix)], {"store": str(path)})


def read_store(folder: Path) -> Store:
    """Read ``store.yaml`` from a dataset folder; defaults when absent.

    Raises :class:`ContractError` (table ``store``) when the file is not YAML, not a mapping, has unknown keys,
    or names a time zone, encoding or currency that does not exist.
    """
    path = Path(folder) / "store.yaml"
    if not path.exists():
        return Store(name=Path(folder).name)
    try:
        meta = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise _store_error(path, f"not valid UTF-8 (byte {exc.start:,})", "save store.yaml as UTF-8") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise _store_error(path, f"not valid YAML{where} ({getattr(exc, 'problem', None) or exc})",
                           "write one `key: value` per line, e.g. `currency: CNY` (see data/README.md)") from None
    meta = {} if meta is None else meta
    known = list(Store.__dataclass_fields__)
    if not isinstance(meta, dict):
        raise _store_error(path, f"must be a mapping of keys to values, not a {type(meta).__name__}",
                           f"write one `key: value` per line with keys among {known}")
    unknown = [k for k in meta if k not in known]
    if unknown:
        raise _store_error(path, f"unknown keys {sorted(map(str, unknown))} in store.yaml", f"use only {known}")
    meta = {k: (str(v) if v is not None else None) for k, v in meta.items()}
    meta = {k: v for k, v in meta.items() if v is not None}
    if "timezone" in meta:
        try:
            ZoneInfo(meta["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise _store_error(path, f"unknown time zone {meta['timezone']!r}",
                               "use an IANA name such as Asia/Shanghai, Europe/Berlin or UTC", "timezone") from None
    if "encoding" in meta:
        try:
            codecs.lookup(meta["encoding"])
        except LookupError:
            raise _store_error(path, f"unknown encoding {meta['encoding']!r}",
                               "use utf-8 (with or without BOM) or gb18030 (GBK exports)", "encoding") from None
    if "currency" in meta and not pd.Series([meta["currency"]]).str.fullmatch(r"[A-Z]{3}").all():
        raise _store_error(path, f"currency {meta['currency']!r} is not a 3-letter ISO 4217 code",
                           "write the code in capitals, e.g. CNY, USD or EUR", "currency")
    return Store(**{"name": Path(folder).name, **meta})


def table_file(folder: Path, table: str) -> Path | None:
    """The file holding ``table`` in ``folder``, or None: ``<table>.parquet``, else a folder ``<table>/`` of
    Parquet part files (``part-00000.parquet``, …, read as one table), else ``<table>.csv``.

    A folder ``<table>/`` without any ``*.parquet`` file is returned only when there is no ``<table>.csv`` (reading
    it then says it holds no part). A name that is a dangling or looping symbolic link raises
    :class:`ContractError` instead of being skipped.
    """
    folder = Path(folder)
    parquet, parts, csv_ = folder / f"{table}.parquet", folder / table, folder / f"{table}.csv"
    if parquet.is_symlink() or parquet.exists():
        _resolve(parquet, table)
        return parquet
    if parts.is_symlink():
        _resolve(parts, table)
    if parts.is_dir() and _parts(parts):
        return parts
    if csv_.is_symlink() or csv_.exists():
        _resolve(csv_, table)
        return csv_
    return parts if parts.is_dir() else None


def _parts(folder: Path) -> list[Path]:
    """The Parquet part files of a table folder, in name order (hidden files skipped)."""
    return sorted(p for p in Path(folder).glob("*.parquet") if not p.name.startswith((".", "_")))


def _resolve(path: Path, table: str) -> Path:
    """``path`` resolved; a symbolic-link loop or a link to nothing is the kit's error, not an OSError."""
    try:
        return path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        loop = isinstance(exc, RuntimeError) or getattr(exc, "errno", None) == 40
        rule = "is a symbolic link that loops back on itself" if loop else "is a symbolic link to a file that does not exist"
        raise ContractError([Violation(table, None, f"{path.name} {rule}", fix="point the link at the real file, "
                                       "or copy the file into the folder")], {table: str(path)}) from None


def _check_encoding(path: Path, encoding: str) -> str:
    """The codec to read ``path`` with: UTF-8 (BOM or not) when the bytes are valid UTF-8, else the declared
    encoding; raise FileEncodingError naming a codec that works when neither decodes."""
    raw = path.read_bytes()
    tried = ["utf-8-sig"] + ([encoding] if codecs.lookup(encoding).name != "utf-8" else [])
    failures = []
    for codec in tried:
        try:
            raw.decode(codec)
            return codec
        except UnicodeDecodeError as exc:
            failures.append(exc)
    guess, sample = None, ""
    for candidate in ("gb18030", "utf-16"):
        try:
            text = raw.decode(candidate)
        except UnicodeDecodeError:
            continue
        guess, sample = candidate, text.splitlines()[0][:40] if text else ""
        break
    raise FileEncodingError(str(path), encoding if len(tried) > 1 else "utf-8", failures[-1].start, guess, sample)


class _FileProblem(Exception):
    """A file that cannot be read as a table at all; carries the Violation to report (internal)."""

    def __init__(self, violation: Violation):
        super().__init__(violation.rule)
        self.violation = violation


def _duplicate_headers(names: list[str], table: str) -> None:
    """Raise _FileProblem when two columns share a name (pandas would rename one and read the other as empty)."""
    seen: dict[str, list[int]] = {}
    for position, name in enumerate(names, start=1):
        seen.setdefault(str(name).strip(), []).append(position)
    twice = {name: where for name, where in seen.items() if len(where) > 1}
    if twice:
        listing = "; ".join(f"'{name}' at columns {', '.join(map(str, where))}" for name, where in twice.items())
        raise _FileProblem(Violation(table, ", ".join(twice), f"each column name once (duplicated header: {listing})",
                                     fix="delete or rename the extra column so each name appears once"))


def _read_raw(path: Path, spec: TableSpec, store: Store, *, columns: set[str] | None = None,
              since: pd.Timestamp | None = None, until: pd.Timestamp | None = None) -> tuple[pd.DataFrame, bool]:
    """The file (or folder of Parquet parts) as a DataFrame: CSV cells as text (only an empty cell is missing),
    Parquet with its own types.

    ``columns``: read only these (those present; None = all). ``since``/``until``: the rows of
    :data:`TIME_COLUMNS` ``[spec.name]`` in ``[since, until)`` (naive store-local). Returns the frame and whether
    the rows were filtered in the read — Parquet with a timestamp or date column is; a CSV file, or Parquet storing
    the times as text, is read whole and :func:`load_dataset` filters it once the times are parsed.

    Raises _FileProblem for a file that is empty, not Parquet, or has a duplicated column name, and for a folder
    without parts or whose parts do not agree on the column types.
    """
    if path.is_dir() or path.suffix == ".parquet":
        return _read_parquet(path, spec, store, columns=columns, since=since, until=until)
    if path.stat().st_size == 0:
        raise _FileProblem(Violation(spec.name, None, "the file is empty (0 bytes, not even a header row)",
                                     fix=f"export the table again; a table without data is the header row alone "
                                         f"({','.join(spec.columns)})"))
    codec = _check_encoding(path, store.encoding)
    with open(path, encoding=codec, newline="") as handle:
        header = next(csv.reader(io.StringIO(handle.readline())), [])
    _duplicate_headers(header, spec.name)
    # Every cell is read as text and only an empty cell is missing: numbers, dates and true/false are parsed
    # by the contract's rules below, so "NaN", "inf" or "NA" are never taken silently.
    usecols = None if columns is None else (lambda c: c in columns)
    try:
        df = pd.read_csv(path, dtype="str", encoding=codec, keep_default_na=False, na_values=[""], usecols=usecols)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise _FileProblem(Violation(spec.name, None, f"not a readable CSV file ({str(exc).strip()[:160]})",
                                     fix="check the quoting and that every row has as many fields as the header"))
    extras = [c for c in df.columns if c not in spec.columns]
    df = df.assign(**{c: _numbers_if_safe(df[c]) for c in extras}) if extras else df
    return df, since is None and until is None


def _read_parquet(path: Path, spec: TableSpec, store: Store, *, columns: set[str] | None,
                  since: pd.Timestamp | None, until: pd.Timestamp | None) -> tuple[pd.DataFrame, bool]:
    """One Parquet file or a folder of part files read as one table, the projection and row filter inside the read
    (pyarrow.dataset), so neither the unread columns nor the rows outside the window are ever in memory."""
    import pyarrow as pa_
    import pyarrow.dataset as pads
    import pyarrow.parquet as pq

    folder = path.is_dir()
    files = _parts(path) if folder else [path]
    if not files:
        raise _FileProblem(Violation(spec.name, None, "the folder holds no Parquet part file (*.parquet)",
                                     fix=f"write the table's parts into it (part-00000.parquet, …), or remove the "
                                         f"folder and add {spec.name}.parquet or {spec.name}.csv"))

    def unreadable(exc: Exception, file: Path) -> _FileProblem:
        reason = str(exc).replace(str(file), file.name).split(". ")[0][:160]
        part = f"{file.name}: " if folder else ""
        return _FileProblem(Violation(spec.name, None, f"not a readable Parquet file ({part}{reason})",
                                      fix=f"export it again as Parquet, or save it as {spec.name}.csv"))

    schemas = []
    for file in files:
        if file.stat().st_size == 0:
            part = f"{file.name} " if folder else ""
            raise _FileProblem(Violation(spec.name, None, f"the file {part}is empty (0 bytes, not even a header row)",
                                         fix="export the table again" + (" or delete the empty part" if folder
                                                                         else "")))
        try:
            schemas.append(pq.read_schema(file))
        except (pa_.ArrowException, OSError, ValueError) as exc:
            raise unreadable(exc, file) from None
        _duplicate_headers(schemas[-1].names, spec.name)
    try:
        schema = pa_.unify_schemas(schemas, promote_options="permissive")
    except (pa_.ArrowException, ValueError) as exc:
        raise _FileProblem(Violation(spec.name, None, f"the part files disagree on column types "
                                                      f"({str(exc).split('. ')[0][:160]})",
                                     fix="write every part with the same column types")) from None
    keep = None if columns is None else [c for c in schema.names if c in columns]
    row_filter, in_read = _time_filter(schema, spec.name, store, since, until)
    try:
        table = pads.dataset([str(f) for f in files], schema=schema, format="parquet").to_table(
            columns=keep, filter=row_filter)
    except (pa_.ArrowException, OSError, ValueError) as exc:
        raise unreadable(exc, path) from None
    return table.to_pandas(), in_read


def _time_filter(schema, table: str, store: Store, since: pd.Timestamp | None, until: pd.Timestamp | None):
    """The pyarrow expression keeping the rows of ``table``'s time column in ``[since, until)`` and whether the
    column's storage allows it (timestamp or date). Bounds are naive store-local: a column stored with a time zone
    is compared in that zone; a date column keeps the days whose midnight lies in the window."""
    import pyarrow as pa_
    import pyarrow.dataset as pads

    if since is None and until is None:
        return None, True
    column = TIME_COLUMNS[table]
    if column not in schema.names:
        return None, False
    kind = schema.field(column).type

    def bound(value: pd.Timestamp):
        if pa_.types.is_date(kind):
            return pa_.scalar(value.ceil("D").date(), type=kind)
        if pa_.types.is_timestamp(kind):
            if kind.tz is not None:
                value = value.tz_localize(store.timezone, ambiguous=True, nonexistent="shift_forward")
                return pa_.scalar(value.tz_convert(kind.tz), type=pa_.timestamp("ns", tz=kind.tz))
            return pa_.scalar(value, type=pa_.timestamp("ns"))
        return None

    field_ = pads.field(column)
    parts = []
    for value, keep in ((since, lambda b: field_ >= b), (until, lambda b: field_ < b)):
        if value is not None:
            limit = bound(value)
            if limit is None:
                return None, False
            parts.append(keep(limit))
    return (parts[0] & parts[1] if len(parts) == 2 else parts[0]), True


def _numbers_if_safe(text: pd.Series) -> pd.Series:
    """An extra column as numbers when every value is a number that survives the conversion; else the text.

    Ids stay text: values with a leading zero (``007``) or integers too long for a float (Taobao order ids)
    would change if converted.
    """
    if text.isna().all():
        return text
    values = pd.to_numeric(text, errors="coerce")
    present = text.notna()
    if (values[present].isna()).any():
        return text
    stripped = text[present].str.strip().str.lstrip("+-")
    leading_zero = stripped.str.match(r"0\d")
    too_long = stripped.str.replace(r"\.\d*$", "", regex=True).str.len() > 15
    return text if (leading_zero | too_long).any() else values


def _shown(value) -> str:
    """A cell value as the user typed it: text quoted, numbers and timestamps plain."""
    if isinstance(value, str):
        return repr(value)
    return str(value.item() if hasattr(value, "item") else value)


def _examples(df: pd.DataFrame, mask: pd.Series, column: str | None, spec: TableSpec) -> list[str]:
    """The first offending rows as ``row 12 (order_id=O9): -1`` (rows count from 1, the first data row)."""
    out = []
    for i in df.index[mask][:N_EXAMPLES]:
        key = ", ".join(f"{k}={df.at[i, k]}" for k in spec.key if k in df and k != column)
        where = f"row {i + 1}" + (f" ({key})" if key else "")
        out.append(f"{where}: {_shown(df.at[i, column])}" if column and column in df else where)
    return out


def _parse_times(df: pd.DataFrame, spec: TableSpec, store: Store) -> tuple[pd.DataFrame, list[Violation], dict]:
    """Parse timestamp and date columns to naive store-local datetimes; unparseable values become violations."""
    problems = []
    out = {}
    unparsed = {}
    for col in spec.timestamps + spec.dates:
        if col not in df:
            continue
        raw = df[col]
        if pd.api.types.is_datetime64_any_dtype(raw):
            parsed = raw.dt.tz_convert(store.timezone).dt.tz_localize(None) if raw.dt.tz is not None else raw
        else:
            text = raw.astype("str").where(raw.notna()).str.strip()
            has_offset = text.str.contains(_OFFSET, regex=True, na=False)
            parsed = pd.to_datetime(text.where(~has_offset), errors="coerce", format="ISO8601")
            if has_offset.any():
                aware = pd.to_datetime(text.where(has_offset), errors="coerce", format="ISO8601", utc=True)
                parsed = parsed.where(~has_offset, aware.dt.tz_convert(store.timezone).dt.tz_localize(None))
            bad = raw.notna() & parsed.isna()
            unparsed[col] = bad
            if bad.any():
                problems.append(Violation(
                    spec.name, col, "a date/time in ISO 8601 form (2026-03-01 or 2026-03-01 14:05:11+08:00)",
                    int(bad.sum()), _examples(df, bad, col, spec),
                    "re-export with ISO dates, or read the export with an ecomlib importer that knows its date format"))
        if col in spec.dates:
            parsed = parsed.dt.normalize()
        out[col] = parsed
    return df.assign(**out), problems, unparsed


_TRUE = {"true", "1", "yes", "y", "t", "是"}
_FALSE = {"false", "0", "no", "n", "f", "否"}


def _parse_bools(df: pd.DataFrame, spec: TableSpec) -> tuple[pd.DataFrame, list[Violation]]:
    """Read true/false columns strictly (true/false, 1/0, yes/no, 是/否); anything else is a violation, never True.

    An empty cell is a violation too: it is never read as False (a return of unknown resellability is not
    written off as unsellable).
    """
    problems, out = [], {}
    for col, field_ in spec.model.to_schema().columns.items():
        if str(field_.dtype) != "bool" or col not in df or df[col].dtype == bool:
            continue
        text = df[col].astype("str").str.strip().str.lower().where(df[col].notna())
        text = text.where(text != "")
        value = text.map(lambda v: True if v in _TRUE else False if v in _FALSE else None)
        bad = text.notna() & value.isna()
        if bad.any():
            problems.append(Violation(spec.name, col, "true or false (also 1/0, yes/no, 是/否)", int(bad.sum()),
                                      _examples(df, bad, col, spec), "write true or false in every row"))
        empty = text.isna()
        if empty.any() and not field_.nullable:
            problems.append(Violation(spec.name, col, "true or false in every row (an empty cell is not read as false)",
                                      int(empty.sum()), _examples(df, empty, None, spec),
                                      "fill the empty cells with true or false"))
        out[col] = value.where(~bad, None).astype("object")
    return df.assign(**out), problems


def _parse_numbers(df: pd.DataFrame, spec: TableSpec) -> tuple[pd.DataFrame, list[Violation], dict]:
    """Parse the contract's number columns: text that is no number, ``inf``/``NaN`` and fractional quantities are
    violations with their rows (never read as 0, ∞ or a truncated count). Returns the frame, the violations and
    column → rows already reported (so the schema check does not echo them)."""
    problems, out, reported = [], {}, {}
    for col, field_ in spec.model.to_schema().columns.items():
        kind = str(field_.dtype)
        if kind not in ("int64", "float64") or col not in df:
            continue
        raw = df[col]
        if pd.api.types.is_bool_dtype(raw) or not pd.api.types.is_numeric_dtype(raw):
            text = raw.astype("str").str.strip().where(raw.notna())
            text = text.where(text != "")
            values = pd.to_numeric(text, errors="coerce")
            word_non_finite = text.str.lower().isin(_NON_FINITE).fillna(False).astype(bool)
            not_number = text.notna() & values.isna() & ~word_non_finite
        else:
            values = raw.astype("float64")
            word_non_finite = pd.Series(False, index=df.index)
            not_number = pd.Series(False, index=df.index)
        non_finite = word_non_finite | pd.Series(np.isinf(values.to_numpy(dtype="float64")), index=df.index)
        finite = values.notna() & ~non_finite
        fractional = (finite & (values.where(finite, 0) % 1 != 0)) if (kind == "int64" or col in spec.whole) \
            else pd.Series(False, index=df.index)
        if not_number.any():
            problems.append(Violation(spec.name, col, f"values of type {kind}", int(not_number.sum()),
                                      _examples(df, not_number, col, spec), _fix_text("coerce_dtype")))
        if non_finite.any():
            problems.append(Violation(
                spec.name, col, "a finite number (inf, -inf and NaN are not amounts or quantities)",
                int(non_finite.sum()), _examples(df, non_finite, col, spec),
                "write the real value" + (", or leave the cell empty where it is unknown" if field_.nullable else "")))
        if fractional.any():
            problems.append(Violation(
                spec.name, col, "whole units (a fractional quantity is neither rounded nor truncated)",
                int(fractional.sum()), _examples(df, fractional, col, spec),
                "correct the quantities; units are counted whole (a weight or length belongs in an extra column)"))
        bad = not_number | non_finite | fractional
        empty = values.isna() & ~bad
        if empty.any() and not field_.nullable:
            problems.append(Violation(spec.name, col, _rule_text("not_nullable", spec, col), int(empty.sum()),
                                      _examples(df, empty, None, spec), _fix_text("not_nullable")))
            bad = bad | empty
        reported[col] = bad
        values = values.where(~bad)
        out[col] = values.astype("int64") if kind == "int64" and values.notna().all() else values
    return df.assign(**out), problems, reported


def _isolated(values: pd.Series) -> pd.Series:
    """Rows whose timestamp is cut off from the rest of its column: at either end, within the outer 1 % of the
    values (at least one), and more than ISOLATION_GAP away from the nearest other value (typo years)."""
    present = values.dropna().sort_values()
    flagged = pd.Series(False, index=values.index)
    if len(present) < 3:
        return flagged
    k = max(1, int(np.ceil(0.01 * len(present))))
    gaps = present.diff().iloc[1:]
    low_gaps = gaps.iloc[:k].to_numpy()
    low_cut = np.flatnonzero(low_gaps > ISOLATION_GAP)
    if low_cut.size:
        flagged |= values < present.iloc[low_cut[-1] + 1]
    high_gaps = gaps.iloc[-k:].to_numpy()
    high_cut = np.flatnonzero(high_gaps > ISOLATION_GAP)
    if high_cut.size:
        flagged |= values > present.iloc[len(present) - k - 1 + high_cut[0]]
    return flagged


def _check_times(df: pd.DataFrame, spec: TableSpec, now: pd.Timestamp) -> list[Violation]:
    """Timestamps after the time of the run, or isolated far from the rest of their column, with their rows."""
    problems = []
    for col in spec.timestamps + spec.dates:
        if col not in df or not pd.api.types.is_datetime64_any_dtype(df[col]):
            continue
        future = (df[col] > now + FUTURE_SLACK) if col not in spec.future_ok else pd.Series(False, index=df.index)
        if future.any():
            problems.append(Violation(
                spec.name, col, f"not after the time of the run ({now:%Y-%m-%d %H:%M} store time, 1 day's slack)",
                int(future.sum()), _examples(df, future, col, spec),
                "correct the year or the date (a typo such as 2062 for 2026?); future dates are allowed only in "
                + (", ".join(spec.future_ok) or "columns of planned events")))
        far = _isolated(df[col]) & ~future
        if far.any():
            problems.append(Violation(
                spec.name, col, f"within the range of the rest of the column (these lie more than "
                f"{ISOLATION_GAP.days} days from every other value)", int(far.sum()), _examples(df, far, col, spec),
                "correct the year (a typo such as 0001, 2300 or 2016 for 2026?) or drop the rows"))
    return problems


def _failure_violations(cases: pd.DataFrame, df: pd.DataFrame, spec: TableSpec,
                        unparsed: dict[str, pd.Series]) -> list[Violation]:
    """Turn pandera's lazy ``failure_cases`` into one Violation per (column, check).

    ``unparsed``: column → rows whose text could not be read as a date; they are reported once, as such,
    not again as missing values.
    """
    violations = []
    missing = cases[cases["check"] == "column_in_dataframe"]
    for col in missing["failure_case"]:
        violations.append(Violation(spec.name, str(col), "the column is required but missing", 0, [],
                                    f"add a '{col}' column (see data/README.md for its type and meaning)"))
    cases = cases[cases["check"] != "column_in_dataframe"]
    coerce_failed = set(cases.loc[cases["check"].astype(str).str.startswith("coerce_dtype"), "column"])
    for (column, check), group in cases.groupby(["column", "check"], sort=False):
        check = str(check)
        if column in coerce_failed and not check.startswith("coerce_dtype"):
            continue  # the type is wrong already; range checks on strings only echo it
        index = pd.to_numeric(group["index"], errors="coerce").dropna().astype(int).unique()
        mask = df.index.isin(index)
        if column in unparsed:
            mask = mask & ~unparsed[column].to_numpy()
        if not mask.any():
            continue
        violations.append(Violation(spec.name, str(column), _rule_text(check, spec, column), int(mask.sum()),
                                    _examples(df, pd.Series(mask, index=df.index), column, spec),
                                    _fix_text(check)))
    return violations


def _rule_text(check: str, spec: TableSpec, column: str) -> str:
    field_ = spec.model.to_schema().columns[column]
    words = {
        "not_nullable": "a value in every row",
        "greater_than_or_equal_to(0)": "≥ 0",
        "greater_than(0)": "> 0",
        "field_uniqueness": "unique values",
    }
    if check.startswith("coerce_dtype") or check.startswith("dtype"):
        return f"values of type {field_.dtype}"
    if check.startswith("isin"):
        return "one of " + check[len("isin("):-1]
    if check.startswith("str_matches"):
        return ("a 3-letter ISO 4217 currency code such as USD or CNY" if column == "currency"
                else "a calendar month written YYYY-MM, such as 2026-11" if column == "period" else check)
    return words.get(check, check)


def _fix_text(check: str) -> str:
    if check.startswith("coerce_dtype") or check.startswith("dtype"):
        return "remove text, units or thousands separators from the column, or convert it with an importer"
    if check == "not_nullable":
        return "fill the missing values or drop those rows"
    if check.startswith("greater_than"):
        return "correct the values; corrections such as refunds belong in their own table, not as negative numbers"
    if check.startswith("isin"):
        return "map these values to the allowed ones (an importer mapping file does this)"
    if check.startswith("str_matches"):
        return "write the values in the form the rule gives"
    return "correct the values"


def _empty_typed(spec: TableSpec, df: pd.DataFrame) -> pd.DataFrame:
    """A header-only table as an empty frame with the contract's types (extra columns kept as text)."""
    types = {"int64": "int64", "float64": "float64", "bool": "bool"}
    out = {}
    for col in df.columns:
        field_ = spec.model.to_schema().columns.get(col)
        kind = str(field_.dtype) if field_ is not None else "str"
        if col in spec.timestamps + spec.dates:
            out[col] = pd.Series([], dtype="datetime64[ns]")
        else:
            out[col] = pd.Series([], dtype=types.get(kind, "str"))
    return pd.DataFrame(out)


def _validate_table(df: pd.DataFrame, spec: TableSpec, store: Store,
                    now: pd.Timestamp | None = None) -> tuple[pd.DataFrame, list[Violation]]:
    absent = [c for c in spec.optional_columns if c not in df]
    if absent:  # columns a file may leave out are added empty, as text the parsers below type like any other
        df = df.assign(**{c: pd.Series(pd.NA, index=df.index, dtype="object") for c in absent})
    missing = [c for c in spec.columns if c not in df]
    if df.empty and not missing:
        return _empty_typed(spec, df), []
    if df.empty:
        return df, [Violation(spec.name, c, "the column is required but missing", 0, [],
                              f"add a '{c}' column (see data/README.md for its type and meaning)") for c in missing]
    df = df.reset_index(drop=True)
    df, problems, unparsed = _parse_times(df, spec, store)
    df, number_problems, unreadable = _parse_numbers(df, spec)
    problems += number_problems
    unparsed.update(unreadable)
    df, bool_problems = _parse_bools(df, spec)
    problems += bool_problems
    for col in {v.column for v in bool_problems}:
        unparsed[col] = df[col].isna()
    try:
        df = spec.model.validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        problems += _failure_violations(exc.failure_cases, df, spec, unparsed)
    if now is not None:
        problems += _check_times(df, spec, now)
    if spec.key and all(k in df for k in spec.key):
        dup = df.duplicated(list(spec.key), keep=False)
        if dup.any():
            problems.append(Violation(spec.name, ", ".join(spec.key), f"unique ({', '.join(spec.key)}) per row",
                                      int(dup.sum()), _examples(df, dup, None, spec),
                                      "remove the duplicate rows or aggregate them into one"))
    for rule in spec.row_rules:
        if all(c in df for c in rule.columns):
            ok = rule.ok(df)
            if not ok.all():
                problems.append(Violation(spec.name, rule.columns[0], rule.rule, int((~ok).sum()),
                                          _examples(df, ~ok, rule.columns[0], spec), rule.fix))
    return df, problems


def _check_references(tables: dict[str, pd.DataFrame], partial: Iterable[str] = ()) -> list[Violation]:
    """References among the loaded tables; a target read for a time window only (``partial``) is not checked
    against (an order_item of an order outside the window is not an error)."""
    partial = set(partial)
    problems = []
    for name, df in tables.items():
        spec = TABLES[name]
        for ref in spec.references:
            target = tables.get(ref.table)
            if ref.table in partial or target is None or ref.column not in df or ref.target_column not in target:
                continue
            bad = df[ref.column].notna() & ~isin(df[ref.column], target[ref.target_column])
            if bad.any():
                problems.append(Violation(
                    name, ref.column, f"every {ref.column} is a value present in {ref.table}.{ref.target_column}",
                    int(bad.sum()), _examples(df, bad, ref.column, spec),
                    f"add the missing rows to {ref.table}, or drop these {name} rows"))
    return problems


def _check_currency(tables: dict[str, pd.DataFrame], store: Store) -> list[Violation]:
    problems = []
    for name, df in tables.items():
        if "currency" in df:
            bad = df["currency"].notna() & (df["currency"] != store.currency)
            if bad.any():
                problems.append(Violation(
                    name, "currency", f"amounts in the store currency {store.currency}", int(bad.sum()),
                    _examples(df, bad, "currency", TABLES[name]),
                    "convert the amounts to the store currency, or set `currency:` in store.yaml"))
    return problems


def _check_returned_quantities(tables: dict[str, pd.DataFrame]) -> list[Violation]:
    """Returned units per (order_id, sku) must not exceed the units sold on that order line."""
    returns, items = tables.get("returns"), tables.get("order_items")
    if returns is None or items is None or returns.empty:
        return []
    sold = items.groupby(["order_id", "sku"], observed=True)["quantity"].sum()
    key = pd.MultiIndex.from_frame(returns[["order_id", "sku"]])
    returned = returns.groupby(["order_id", "sku"], observed=True)["quantity"].transform("sum")
    bought = pd.Series(sold.reindex(key).fillna(0).to_numpy(), index=returns.index)
    bad = returned > bought
    if not bad.any():
        return []
    examples = [f"row {i + 1} (return_id={returns.at[i, 'return_id']}): order {returns.at[i, 'order_id']}, sku "
                f"{returns.at[i, 'sku']}: {int(returned[i])} returned, {int(bought[i])} sold"
                for i in returns.index[bad][:N_EXAMPLES]]
    return [Violation("returns", "quantity", "returned units per (order_id, sku) ≤ units sold on that order line",
                      int(bad.sum()), examples,
                      "check the order_id and sku of these returns; a line returned in parts is several rows whose "
                      "quantities add up to at most the units sold")]


def _over_delivery(tables: dict[str, pd.DataFrame]) -> list[Violation]:
    """Purchase-order lines that received more than ordered: legitimate (suppliers over-ship), so a warning."""
    po = tables.get("purchase_orders")
    if po is None or po.empty:
        return []
    over = (po["qty_received"] > po["qty_ordered"]).fillna(False).astype(bool)
    if not over.any():
        return []
    extra = float((po["qty_received"] - po["qty_ordered"])[over].sum())
    return [Violation("purchase_orders", "qty_received",
                      f"qty_received ≤ qty_ordered (over-delivered lines, {extra:,.0f} units more than ordered; "
                      f"loaded as delivered)", int(over.sum()), _examples(po, over, "qty_received",
                                                                         TABLES["purchase_orders"]),
                      "nothing to do if the supplier really shipped more; otherwise correct qty_received. Fill "
                      "rates above 100 % come from these lines")]


def _empty_folder(folder: Path) -> ContractError:
    present = sorted(p.name for p in folder.iterdir())[:8] if folder.is_dir() else []
    found = f" (it holds: {', '.join(present)})" if present else " (it is empty)"
    return ContractError([Violation("dataset", None, f"no contract table in the folder{found}",
                                    fix=f"add files named <table>.csv or <table>.parquet with <table> one of "
                                        f"{', '.join(TABLES)} (data/README.md), or convert an export with "
                                        f"`ecomlib import`")], {"dataset": str(folder)})


def load_dataset(path: str | Path, *, tables: Iterable[str] | None = None,
                 optional: Iterable[str] = (), needed_by: str | None = None,
                 now: pd.Timestamp | str | None = None, columns: Mapping[str, Sequence[str]] | None = None,
                 since: Mapping[str, pd.Timestamp | str] | None = None,
                 until: Mapping[str, pd.Timestamp | str] | None = None) -> Dataset:
    """Read, parse and validate a dataset folder against the contract.

    Parameters
    ----------
    path : folder holding ``<table>.csv|.parquet`` files and optionally ``store.yaml``.
    tables : the tables to load (default: every table present; a folder with none is an error). A listed table
        that is missing raises :class:`MissingTableError`, and so does one with a header but no rows (the
        review cannot run without it); references are checked among the loaded tables.
    optional : tables to load too when the folder has them (e.g. ``["inventory", "promotions"]``); absent ones
        stay None, a header-only file loads as an empty typed table (the store has none).
    needed_by : the review asking, named in a :class:`MissingTableError` (``"returns"``).
    now : the time of the run, store-local (default: the clock now, in the store time zone). Timestamps later
        than ``now`` plus one day are violations, except in columns of planned events (``promised_at``,
        promotion dates).
    columns : table → the columns to read of it (e.g. ``{"events": ["event_time", "session_id"]}``); the
        contract's required columns and key columns of that table are read too, since validation needs them.
        Contract columns a file may leave out (``optional_columns``) that are not asked for come back empty;
        asked columns the file lacks are not an error here (required ones are, as always). Tables not listed
        are read whole. Parquet reads only these columns; CSV parses only these.
    since, until : table → a store-local time; only the rows whose :data:`TIME_COLUMNS` column (``order_time``,
        ``event_time``, …) lies in ``[since, until)`` are kept (either bound may be left out). Parquet files and
        part folders filter inside the read, so the rows outside the window are never in memory (a time zone
        stored with the column is respected; a date column keeps the days whose midnight is in the window); a
        CSV file, or Parquet holding the times as text, is read and validated whole and filtered afterwards.
        Validation then sees only the rows read (Parquet), and references to a table read for a window only are
        not checked (its other rows were not read). Rows in error examples count from the first row read.

    Returns
    -------
    Dataset with one DataFrame per loaded table (contract columns typed, extra columns kept,
    timestamps naive store-local) and ``warnings`` (over-delivered PO lines, empty tables). Raises
    :class:`ContractError` listing every violation found.

    Example
    -------
    >>> ds = load_dataset("data/demo", tables=["orders"])   # doctest: +SKIP
    >>> ds.store.currency                                   # doctest: +SKIP
    'CNY'
    """
    folder = Path(path)
    if not folder.exists():
        if folder.is_symlink():
            _resolve(folder, "dataset")
        raise MissingTableError("(any)", str(folder), needed_by, message=(
            f"{folder}: no such folder. Fix: pass the folder that holds the table files (`ecomlib demo-data` "
            f"writes one; `ecomlib import` converts a platform export into one)."))
    if not folder.is_dir():
        raise ContractError([Violation("dataset", None, "is a file, not a folder",
                                       fix="pass the folder that holds the table files")], {"dataset": str(folder)})
    store = read_store(folder)
    required = list(tables) if tables is not None else None
    unknown = [t for t in (required or []) + list(optional) if t not in TABLES]
    if unknown:
        raise ContractError([Violation("dataset", None, f"unknown table name(s) {unknown}",
                                       fix=f"use table names of the contract: {', '.join(TABLES)}")],
                            {"dataset": str(folder)})
    wanted = list(required) if required is not None else [t for t in TABLES if table_file(folder, t)]
    if required is None and not wanted:
        raise _empty_folder(folder)
    wanted += [t for t in optional if t not in wanted and table_file(folder, t)]
    columns, since, until = _read_options(columns, since, until, store)
    when = pd.Timestamp.now(tz=store.timezone).tz_localize(None) if now is None else pd.Timestamp(now)
    loaded: dict[str, pd.DataFrame] = {}
    files: dict[str, str] = {}
    problems: list[Violation] = []
    warnings: list[Violation] = []
    for name in wanted:
        file = table_file(folder, name)
        if file is None:
            raise MissingTableError(name, str(folder), needed_by)
        files[name] = str(file)
        lo, hi = since.get(name), until.get(name)
        try:
            raw, filtered = _read_raw(file, TABLES[name], store, columns=_projection(TABLES[name], columns.get(name)),
                                      since=lo, until=hi)
        except _FileProblem as exc:
            problems.append(exc.violation)
            continue
        df, found = _validate_table(raw, TABLES[name], store, when)
        problems += found
        if not filtered and not found and not df.empty:
            kept = _in_window(df[TIME_COLUMNS[name]], lo, hi)
            df = df if kept.all() else df[kept].reset_index(drop=True)
        if df.empty and not found and (lo is not None or hi is not None):
            window = f"{lo or 'the start'} to {hi or 'the end'} (until excluded)"
            warnings.append(Violation(name, TIME_COLUMNS[name], f"no rows from {window}: read as 'none'",
                                      fix="nothing to do if nothing happened then; otherwise check the window"))
        elif df.empty and not found:
            if required is not None and name in required:
                who = f" (needed by {needed_by})" if needed_by else ""
                raise MissingTableError(name, str(folder), needed_by, message=(
                    f"{file}: table '{name}' has a header but no rows{who}. Fix: export a period with data, or "
                    f"run the reviews that do not need {name}."))
            warnings.append(Violation(name, None, "the table has no rows: read as 'none' (e.g. no returns)",
                                      fix="nothing to do if the store has none; otherwise export it again"))
        loaded[name] = df
    if not problems:
        problems += (_check_references(loaded, partial=set(since) | set(until)) + _check_currency(loaded, store)
                     + _check_returned_quantities(loaded))
    if problems:
        raise ContractError(problems, files)
    warnings += _over_delivery(loaded)
    for name, df in loaded.items():
        cats = [c for c in TABLES[name].categories if c in df]
        loaded[name] = df.astype({c: "category" for c in cats}) if cats else df
    return Dataset(path=folder, store=store, files=files, warnings=warnings, **loaded)


def _read_options(columns, since, until, store: Store) -> tuple[dict, dict, dict]:
    """``columns``, ``since`` and ``until`` of :func:`load_dataset` checked (known tables; a window only on a table
    with a time column) and normalised: column lists as lists, times as naive store-local Timestamps."""
    from .errors import ParameterError, check_option

    out_columns = {}
    for name, names in (columns or {}).items():
        check_option("a table of columns", name, TABLES)
        out_columns[name] = [names] if isinstance(names, str) else list(names)
    windows = []
    for option, bounds in (("since", since), ("until", until)):
        window = {}
        for name, value in (bounds or {}).items():
            check_option(f"a table of {option}", name, TIME_COLUMNS)
            try:
                stamp = pd.Timestamp(value)
            except (ValueError, TypeError):
                raise ParameterError(f"{option}[{name!r}] must be a date or time, not {value!r}", name=option) from None
            if stamp is pd.NaT:
                raise ParameterError(f"{option}[{name!r}] must be a date or time, not {value!r}", name=option)
            window[name] = stamp.tz_convert(store.timezone).tz_localize(None) if stamp.tzinfo else stamp
        windows.append(window)
    return out_columns, windows[0], windows[1]


def _projection(spec: TableSpec, asked: Sequence[str] | None) -> set[str] | None:
    """The columns to read of a table: those asked plus the required and key columns (None: all)."""
    if asked is None:
        return None
    required = [c for c in spec.columns if c not in spec.optional_columns]
    return {*required, *spec.key, *asked}


def _in_window(times: pd.Series, since: pd.Timestamp | None, until: pd.Timestamp | None) -> pd.Series:
    """Rows of ``times`` in ``[since, until)`` (a missing bound is open)."""
    kept = pd.Series(True, index=times.index)
    if since is not None:
        kept &= (times >= since).fillna(False).astype(bool)
    if until is not None:
        kept &= (times < until).fillna(False).astype(bool)
    return kept


def time_range(path: str | Path, table: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last time of ``table`` in a dataset folder, reading only its time column (:data:`TIME_COLUMNS`).

    Parquet (a file or a folder of parts) reads just that column; CSV parses just that column. Times are naive
    store-local, as :func:`load_dataset` gives them; ``(NaT, NaT)`` for a table without rows.
    Raises :class:`MissingTableError` when the folder has no such table, :class:`ContractError` when the column
    is missing or holds a value that is not a time, ParameterError for a table without a time column.

    Example
    -------
    >>> time_range("data/demo", "events")     # doctest: +SKIP
    (Timestamp('2026-08-03 00:07:12'), Timestamp('2026-11-22 23:59:51'))
    """
    from .errors import check_option

    check_option("table", table, TIME_COLUMNS)
    folder = Path(path)
    store = read_store(folder)
    file = table_file(folder, table)
    if file is None:
        raise MissingTableError(table, str(folder))
    spec, column = TABLES[table], TIME_COLUMNS[table]
    if file.is_dir() or file.suffix == ".parquet":
        bounds = _parquet_time_range(file, column, store)
        if bounds is not None:
            return bounds
    try:
        raw, _ = _read_raw(file, spec, store, columns={column})
    except _FileProblem as exc:
        raise ContractError([exc.violation], {table: str(file)}) from None
    if column not in raw:
        raise ContractError([Violation(table, column, "the column is required but missing",
                                       fix=f"add a '{column}' column (see data/README.md)")], {table: str(file)})
    parsed, problems, _ = _parse_times(raw[[column]].reset_index(drop=True), spec, store)
    if problems:
        raise ContractError(problems, {table: str(file)})
    times = parsed[column]
    return times.min(), times.max()


def _parquet_time_range(path: Path, column: str, store: Store) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """First and last value of a timestamp or date column of Parquet, batch by batch in Arrow (never the whole
    column in pandas); None when the column is stored otherwise or the files need the full reader's diagnosis."""
    import pyarrow as pa_
    import pyarrow.compute as pc
    import pyarrow.dataset as pads

    files = _parts(path) if path.is_dir() else [path]
    try:
        data = pads.dataset([str(f) for f in files], format="parquet")
        kind = data.schema.field(column).type if column in data.schema.names else None
        if kind is None or not (pa_.types.is_timestamp(kind) or pa_.types.is_date(kind)):
            return None
        lows, highs = [], []
        for batch in data.to_batches(columns=[column]):
            bounds = pc.min_max(batch.column(0))
            if bounds["min"].is_valid:
                lows.append(bounds["min"].cast(pa_.int64()).as_py())
                highs.append(bounds["max"].cast(pa_.int64()).as_py())
    except (pa_.ArrowException, OSError, ValueError):
        return None
    if not lows:
        return pd.NaT, pd.NaT
    if pa_.types.is_date(kind):
        unit = "D" if pa_.types.is_date32(kind) else "ms"
        return pd.Timestamp(min(lows), unit=unit).normalize(), pd.Timestamp(max(highs), unit=unit).normalize()

    def local(value: int) -> pd.Timestamp:
        stamp = pd.Timestamp(value, unit=kind.unit)
        return stamp.tz_localize("UTC").tz_convert(store.timezone).tz_localize(None) if kind.tz else stamp

    return local(min(lows)), local(max(highs))


#: Pairs of columns whose values should match: (table, column, other table, other column, money column of table).
KEY_PAIRS: tuple[tuple[str, str, str, str, str | None], ...] = (
    ("ad_spend", "channel", "orders", "channel", "spend"),
    ("orders", "channel", "ad_spend", "channel", "revenue"),
    ("budgets", "channel", "ad_spend", "channel", "amount"),
    ("ad_spend", "channel", "budgets", "channel", "spend"),
    ("customers", "acquisition_channel", "orders", "channel", None),
    ("events", "channel", "orders", "channel", None),
    ("events", "sku", "products", "sku", None),
    ("inventory", "sku", "order_items", "sku", None),
)


def _near(value: str, candidates: pd.Index) -> str:
    """A candidate equal to ``value`` apart from case, spaces, hyphens and underscores, or ''."""
    norm = lambda v: "".join(ch for ch in str(v).lower() if ch.isalnum())  # noqa: E731
    target = norm(value)
    return next((str(c) for c in candidates if norm(c) == target), "")


def unmatched_keys(ds: Dataset) -> pd.DataFrame:
    """Values of one table that match no value of the table they should join to, with the money at stake.

    Checked pairs (:data:`KEY_PAIRS`, only when both tables are loaded and not empty): ad spend channels
    without any order (every ROAS of that channel would be 0), order channels without ad spend (unpaid
    channels such as organic are expected here), budget channels without spend and spend channels without a
    budget, customer acquisition channels and event channels without orders, event SKUs without a product,
    stocked SKUs that never sold.

    Returns
    -------
    DataFrame, one row per unmatched value: ``table``, ``column``, ``value``, ``other_table``,
    ``other_column``, ``rows`` (rows of ``table`` carrying the value), ``measure`` (what ``amount`` sums:
    ``spend``, ``revenue`` = gross revenue of counted orders, ``contract.order_revenue``, ``amount`` of budgets,
    or empty) and ``amount`` (store currency, NaN when no money column applies), ``near`` (a value of the
    other table equal apart from case, spaces and punctuation — usually the fix). Sorted by table, then
    amount descending. Empty (with these columns) when everything matches.

    Example
    -------
    >>> ds = load_dataset("data/demo")                     # doctest: +SKIP
    >>> unmatched_keys(ds).query("table == 'ad_spend'")    # doctest: +SKIP
    """
    from .contract import order_revenue

    columns = ["table", "column", "value", "other_table", "other_column", "rows", "measure", "amount", "near"]
    rows = []
    for table, column, other, other_column, money in KEY_PAIRS:
        df, target = getattr(ds, table, None), getattr(ds, other, None)
        if df is None or target is None or df.empty or target.empty or column not in df or other_column not in target:
            continue
        if table == "orders":
            df = order_revenue(df)
        values = df[column].astype("object")
        known = pd.Index(target[other_column].dropna().astype("object").unique())
        missing = values.notna() & ~values.isin(known)
        if not missing.any():
            continue
        grouped = df[missing].assign(_key=values[missing]).groupby("_key", sort=True)
        counts = grouped.size()
        amounts = grouped[money].sum() if money else pd.Series(np.nan, index=counts.index)
        for value, n in counts.items():
            rows.append({"table": table, "column": column, "value": str(value), "other_table": other,
                         "other_column": other_column, "rows": int(n), "measure": money or "",
                         "amount": float(amounts[value]), "near": _near(value, known)})
    out = pd.DataFrame(rows, columns=columns)
    if out.empty:
        return out.astype({"rows": "int64", "amount": "float64"})
    out["_order"] = out["table"].map({t: i for i, t in enumerate(dict.fromkeys(p[0] for p in KEY_PAIRS))})
    return (out.sort_values(["_order", "amount", "value"], ascending=[True, False, True], kind="stable")
            .drop(columns="_order").reset_index(drop=True))
